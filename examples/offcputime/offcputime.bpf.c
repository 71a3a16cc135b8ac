// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// offcputime: where tasks block. At each switch-out the task's kernel and user stacks are
// taken; at its next switch-in the time it spent off the CPU is added to those stacks.
// ecli prints the stacks symbolised, most blocked first. Raw tracepoint sched_switch.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define MAX_STACK_DEPTH 127
#define TASK_COMM_LEN 16
#define TASK_RUNNING 0

/* Options: ecli run offcputime --pid N --min-us N --no-kernel / --no-user */
const volatile pid_t targ_tgid = 0;
const volatile u64 min_block_us = 1;
const volatile bool kernel_stacks = true;
const volatile bool user_stacks = true;

struct key_t {
	u32 pid;
	s32 user_stack_id;
	s32 kern_stack_id;
	char comm[TASK_COMM_LEN];
};

struct blocked {
	u64 ts;
	struct key_t key;
};

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(u32));
	__uint(value_size, MAX_STACK_DEPTH * sizeof(u64));
} stack_traces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct blocked);
} start SEC(".maps");

/* Printed at exit: microseconds off the CPU per stack (the "count" column). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct key_t);
	__type(value, u64);
} offcpu_counts SEC(".maps");

SEC("raw_tp/sched_switch")
int handle_switch(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *prev = (struct task_struct *)ctx->args[1];
	struct task_struct *next = (struct task_struct *)ctx->args[2];
	u32 pid = BPF_CORE_READ(prev, pid);
	struct blocked b = {}, *was;
	u64 delta, *total;

	/* prev is still current here: its stacks are the ones it blocked in. Tasks preempted
	 * while runnable are waiting for a CPU, not blocked: runqlat's business. */
	if (pid && BPF_CORE_READ(prev, __state) != TASK_RUNNING &&
	    (!targ_tgid || BPF_CORE_READ(prev, tgid) == targ_tgid)) {
		b.ts = bpf_ktime_get_ns();
		b.key.pid = BPF_CORE_READ(prev, tgid);
		bpf_get_current_comm(b.key.comm, sizeof(b.key.comm));
		b.key.kern_stack_id = kernel_stacks ? bpf_get_stackid(ctx, &stack_traces, 0) : -1;
		b.key.user_stack_id = user_stacks ?
			bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK) : -1;
		bpf_map_update_elem(&start, &pid, &b, BPF_ANY);
	}
	pid = BPF_CORE_READ(next, pid);
	was = bpf_map_lookup_elem(&start, &pid);
	if (!was)
		return 0;
	delta = (bpf_ktime_get_ns() - was->ts) / 1000;
	if (delta >= min_block_us) {
		total = bpf_map_lookup_elem(&offcpu_counts, &was->key);
		if (total)
			__sync_fetch_and_add(total, delta);
		else
			bpf_map_update_elem(&offcpu_counts, &was->key, &delta, BPF_NOEXIST);
	}
	bpf_map_delete_elem(&start, &pid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
