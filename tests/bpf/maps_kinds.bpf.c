// Map kinds beyond hash and array: an LPM trie (read key by key: no batch
// lookups), a map declared by sizes only (no BTF types: shown in hex), a queue
// and a bloom filter (the kernel cannot list them: a note), and the kinds ecli
// never shows: a program array, an array of maps, a stack trace store.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct route {
	__u32 prefixlen;
	__u32 addr;
};

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = { .values = { &inner } };

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} jumps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 127 * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct route);
	__type(value, __u64);
} routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__uint(key_size, 4);
	__uint(value_size, 8);
} sized SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u32);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 16);
	__type(value, __u32);
} seen SEC(".maps");

const volatile __u32 targ_pid = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	struct route route = { .prefixlen = 24, .addr = 0x0002000a };
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 value = 77;

	if (pid != targ_pid)
		return 0;
	bpf_map_update_elem(&routes, &route, &value, BPF_ANY);
	bpf_map_update_elem(&sized, &pid, &value, BPF_ANY);
	bpf_map_push_elem(&pending, &pid, 0);
	bpf_map_push_elem(&seen, &pid, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
