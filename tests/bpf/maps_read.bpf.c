// Maps that ecli reads both ways, in batches and key by key: a hash of structs,
// a per-CPU hash, an array and a per-CPU array of 4-byte values (padded to 8 per
// CPU). One getppid() of `targ_pid` fills them; the test then changes some entries
// from user space.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define ENTRIES 5000  // more than one batch (ecli.runtime.mapread.BATCH is 4096)

const volatile __u32 targ_pid = 0;

struct row {
	__u64 count;
	__u32 key;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct row);
} rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u64);
} per_cpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} squares SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} calls SEC(".maps");

static long fill(__u32 i, void *ctx)
{
	struct row row = { .count = (__u64)i * 3, .key = i };
	__u64 next = i + 1, square = (__u64)i * i;

	bpf_get_current_comm(row.comm, sizeof(row.comm));
	bpf_map_update_elem(&rows, &i, &row, BPF_ANY);
	bpf_map_update_elem(&per_cpu, &i, &next, BPF_ANY);
	bpf_map_update_elem(&squares, &i, &square, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	__u32 zero = 0, *count;

	if ((bpf_get_current_pid_tgid() >> 32) != targ_pid)
		return 0;
	bpf_loop(ENTRIES, fill, 0, 0);
	count = bpf_map_lookup_elem(&calls, &zero);
	if (count)
		*count += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
