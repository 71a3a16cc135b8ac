// Counts the packets a tc (tcx) ingress hook sees, by protocol; passes them all.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define TC_ACT_OK 0

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u64);
} counter_protocols SEC(".maps");

SEC("tc")
int count_tc(struct __sk_buff *skb)
{
	u32 proto = skb->protocol;
	u64 one = 1, *count = bpf_map_lookup_elem(&counter_protocols, &proto);

	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&counter_protocols, &proto, &one, BPF_ANY);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
