// Load for bench/metrics.py: each getppid(2) of the target process adds one key to a
// counter map, so N calls make N series for `ecli run --metrics` to export.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile int targ_pid = 0;

struct series {
	u32 id;
	u32 group;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct series);
	__type(value, u64);
} counter_calls SEC(".maps");

u32 next_id = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct series key = {};
	u64 one = 1;

	if (targ_pid && pid != targ_pid)
		return 0;
	key.id = next_id++;  /* one thread calls: no atomics needed */
	key.group = key.id % 16;
	bpf_map_update_elem(&counter_calls, &key, &one, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
