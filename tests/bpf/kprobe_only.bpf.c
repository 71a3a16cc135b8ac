// Needs kprobes, which the test kernel lacks: ecli must say so.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("kprobe/do_sys_openat2")
int probe(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
