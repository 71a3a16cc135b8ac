// Two ring buffers for ecli's ring reader: "kept" discards every odd record, "sized"
// is one page and takes samples of 8 to 71 bytes, so its records wrap its end.
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

u64 seq_counter = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct kept_event *k;
	struct sized_event *s;
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
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
