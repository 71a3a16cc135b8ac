// Rejected by the verifier on purpose: the map value is used without a NULL check.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int count_open(void *ctx)
{
	u32 key = 0;
	u64 *value = bpf_map_lookup_elem(&counts, &key);

	*value += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
