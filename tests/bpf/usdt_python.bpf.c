// Counts CPython's garbage collections through its USDT probe python:gc__start.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u64);
} counter_collections SEC(".maps");

SEC("usdt//usr/bin/python3.11:python:gc__start")
int BPF_USDT(gc_start, int generation)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	u64 one = 1, *count = bpf_map_lookup_elem(&counter_collections, &pid);

	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&counter_collections, &pid, &one, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
