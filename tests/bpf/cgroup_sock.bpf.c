// Counts the sockets created by processes of one cgroup, by address family.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u64);
} counter_families SEC(".maps");

SEC("cgroup/sock_create")
int count_sockets(struct bpf_sock *sk)
{
	u32 family = sk->family;
	u64 one = 1, *count = bpf_map_lookup_elem(&counter_families, &family);

	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&counter_families, &family, &one, BPF_ANY);
	return 1; /* allow */
}

char LICENSE[] SEC("license") = "GPL";
