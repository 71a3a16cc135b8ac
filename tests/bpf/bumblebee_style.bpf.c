// bumblebee style: print_ ring buffer with a value type, counter_ and hist_ maps.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"

const volatile int targ_pid = 0;

struct bee_event {
	u32 pid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
	__type(value, struct bee_event);
} print_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u64);
} counter_opens SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u64);
} hist_name_len SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	u64 one = 1, *count;
	struct bee_event *e;
	char name[64];
	long len;
	u32 slot;

	if (targ_pid && pid != targ_pid)
		return 0;
	count = bpf_map_lookup_elem(&counter_opens, &pid);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&counter_opens, &pid, &one, BPF_ANY);
	len = bpf_probe_read_user_str(name, sizeof(name), (const char *)ctx->args[1]);
	slot = ecli_log2(len > 0 ? len : 0);
	count = bpf_map_lookup_elem(&hist_name_len, &slot);
	if (count)
		__sync_fetch_and_add(count, 1);
	e = bpf_ringbuf_reserve(&print_events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = pid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
