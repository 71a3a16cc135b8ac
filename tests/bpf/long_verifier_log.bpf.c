// A verifier failure after a long walk: the log is well over 4 KiB, and its last line
// (the reason) is what ecli must show.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tracepoint/syscalls/sys_enter_openat")
int long_walk(void *ctx)
{
	__u64 sum = bpf_get_prandom_u32();

#pragma unroll
	for (int i = 0; i < 300; i++)
		sum += bpf_get_prandom_u32();
	return *(int *)(long)sum;  // a scalar used as a pointer
}

char LICENSE[] SEC("license") = "GPL";
