// Two ring buffers and a perf event array for ecli's readers: "kept" discards every
// odd record, "sized" is one page and takes samples of 8 to 71 bytes, so its records
// wrap its end; "seen" (perf) takes samples of 12 to 523 bytes.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"

const volatile int targ_pid = 0;

struct kept_event {
	u64 kept_seq;
};

struct sized_event {
	u32 sized_seq;
	u32 len;
	char text[64];
};

ECLI_RINGBUF(kept, struct kept_event, 256 * 1024);
ECLI_RINGBUF(sized, struct sized_event, 4096);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct sized_event);
} scratch SEC(".maps");

struct perf_sample {
	u64 perf_seq;
	u32 perf_len;
	char blob[1012];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__type(value, struct perf_sample); /* bumblebee's way to name the event type */
} seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct perf_sample);
} perf_scratch SEC(".maps");

u64 seq_counter = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct kept_event *k;
	struct sized_event *s;
	struct perf_sample *p;
	u32 zero = 0;
	u64 seq, size;

	if (targ_pid && pid != targ_pid)
		return 0;
	seq = __sync_fetch_and_add(&seq_counter, 1);
	k = ecli_ringbuf_reserve(kept, sizeof(*k));
	if (k) {
		k->kept_seq = seq;
		if (seq & 1)
			bpf_ringbuf_discard(k, 0);
		else
			bpf_ringbuf_submit(k, 0);
	}
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return 0;
	/* a sample of 8 + len bytes: len letters of text, the rest cut */
	size = 8 + (seq & 63);
	s->sized_seq = seq;
	s->len = size - 8;
	for (int i = 0; i < 64; i++)
		s->text[i] = 'a' + seq % 26;
	if (bpf_ringbuf_output(&sized, s, size, 0))
		__sync_fetch_and_add(&sized__lost, 1);

	p = bpf_map_lookup_elem(&perf_scratch, &zero);
	if (!p)
		return 0;
	/* a sample of 12 + perf_len bytes: perf_len letters of blob, the rest cut */
	size = 12 + (seq & 511);
	p->perf_seq = seq;
	p->perf_len = size - 12;
	for (int i = 0; i < 512; i++)
		p->blob[i] = 'A' + seq % 26;
	bpf_perf_event_output(ctx, &seen, BPF_F_CURRENT_CPU, p, size);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
