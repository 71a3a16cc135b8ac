// libbpf-tools style (biopattern's table): a hash of u32 -> struct counter and an
// LRU hash of struct values, with no naming convention: ecli shows them anyway.
// Keyed by the file descriptor a `targ_pid` process writes to, so a test knows
// every value: each write adds its size; a write as large as the one before is
// sequential, any other random (biopattern compares sectors).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct counter {
	__u64 last_sector;
	__u64 bytes;
	__u32 sequential;
	__u32 random;
};

struct last_write {
	__u64 size;
	char comm[16];
};

const volatile __u32 targ_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct counter);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct last_write);
} last SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_write")
int on_write(struct trace_event_raw_sys_enter *ctx)
{
	struct counter zero = {}, *counter;
	struct last_write seen = {};
	__u32 fd = ctx->args[0];
	__u64 size = ctx->args[2];

	if ((bpf_get_current_pid_tgid() >> 32) != targ_pid)
		return 0;
	counter = bpf_map_lookup_elem(&counters, &fd);
	if (!counter) {
		bpf_map_update_elem(&counters, &fd, &zero, BPF_NOEXIST);
		counter = bpf_map_lookup_elem(&counters, &fd);
		if (!counter)
			return 0;
	}
	if (counter->last_sector == size)
		__sync_fetch_and_add(&counter->sequential, 1);
	else
		__sync_fetch_and_add(&counter->random, 1);
	counter->last_sector = size;
	__sync_fetch_and_add(&counter->bytes, size);
	seen.size = size;
	bpf_get_current_comm(seen.comm, sizeof(seen.comm));
	bpf_map_update_elem(&last, &fd, &seen, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
