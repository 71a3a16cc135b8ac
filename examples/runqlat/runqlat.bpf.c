// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// runqlat: how long runnable tasks wait for a CPU, as a log2 histogram of microseconds.
// Raw tracepoints on the scheduler (sched_wakeup, sched_wakeup_new, sched_switch).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "ecli.h"

#define MAX_SLOTS 26
#define TASK_RUNNING 0

/* Options: ecli run runqlat --pid N */
const volatile pid_t targ_tgid = 0;

struct hist {
	u32 slots[MAX_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} start SEC(".maps");

/* One histogram (key 0); ecli prints maps whose value has a `slots` array. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct hist);
} runq_latency SEC(".maps");

static __always_inline void enqueue(struct task_struct *p)
{
	u32 pid = BPF_CORE_READ(p, pid);
	u64 now;

	if (!pid)
		return;
	if (targ_tgid && BPF_CORE_READ(p, tgid) != targ_tgid)
		return;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &pid, &now, BPF_ANY);
}

SEC("raw_tp/sched_wakeup")
int handle_wakeup(struct bpf_raw_tracepoint_args *ctx)
{
	enqueue((struct task_struct *)ctx->args[0]);
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int handle_wakeup_new(struct bpf_raw_tracepoint_args *ctx)
{
	enqueue((struct task_struct *)ctx->args[0]);
	return 0;
}

SEC("raw_tp/sched_switch")
int handle_switch(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *prev = (struct task_struct *)ctx->args[1];
	struct task_struct *next = (struct task_struct *)ctx->args[2];
	u32 key = 0, pid;
	u64 *started, delta;
	struct hist *h;

	/* A task preempted while runnable waits in the queue again. */
	if (BPF_CORE_READ(prev, __state) == TASK_RUNNING)
		enqueue(prev);
	pid = BPF_CORE_READ(next, pid);
	started = bpf_map_lookup_elem(&start, &pid);
	if (!started)
		return 0;
	delta = (bpf_ktime_get_ns() - *started) / 1000;
	bpf_map_delete_elem(&start, &pid);
	h = bpf_map_lookup_elem(&runq_latency, &key);
	if (h) {
		u32 slot = ecli_log2(delta);

		if (slot >= MAX_SLOTS)
			slot = MAX_SLOTS - 1;
		__sync_fetch_and_add(&h->slots[slot], 1);
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
