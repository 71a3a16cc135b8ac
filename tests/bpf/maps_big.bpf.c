// A map of a million entries: ecli must print its top rows and how many there
// were without holding them all. One getppid() of `targ_pid` fills it. And a
// map past ecli's cap on entries read (2^20): a note must say it was cut.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define BIG 1000000

const volatile __u32 targ_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BIG);
	__type(key, __u32);
	__type(value, __u64);
} big SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, (1 << 20) + 16);
	__type(key, __u32);
	__type(value, __u32);
} huge SEC(".maps");

static long fill(__u32 i, void *ctx)
{
	__u64 value = i;

	bpf_map_update_elem(&big, &i, &value, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != targ_pid)
		return 0;
	bpf_loop(BIG, fill, 0, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
