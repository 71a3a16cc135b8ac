// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// profile: a sampling CPU profiler. A perf event on the software CPU clock fires on
// every CPU --freq times a second; each sample counts the running task's kernel and
// user stacks. ecli symbolises the stacks (kernel from /proc/kallsyms, user from the
// process's ELF symbols) and prints the hottest.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define MAX_STACK_DEPTH 127

/* Options: ecli run profile --pid N --no-kernel / --no-user */
const volatile pid_t targ_pid = 0;
const volatile bool kernel_stacks = true;
const volatile bool user_stacks = true;

struct key_t {
	u32 pid;
	s32 user_stack_id;
	s32 kern_stack_id;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(u32));
	__uint(value_size, MAX_STACK_DEPTH * sizeof(u64));
} stack_traces SEC(".maps");

/* Printed at exit: its key has *_stack_id fields, which ecli turns into frames. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct key_t);
	__type(value, u64);
} sample_counts SEC(".maps");

SEC("perf_event")
int do_sample(struct bpf_perf_event_data *ctx)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct key_t key = {};
	u64 one = 1, *count;

	if (targ_pid && pid != targ_pid)
		return 0;
	key.pid = pid;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	key.kern_stack_id = kernel_stacks ? bpf_get_stackid(ctx, &stack_traces, 0) : -1;
	key.user_stack_id = user_stacks ?
		bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK) : -1;
	count = bpf_map_lookup_elem(&sample_counts, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&sample_counts, &key, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
