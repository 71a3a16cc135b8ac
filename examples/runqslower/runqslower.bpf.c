// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// runqslower: one line for each time a task waited in the run queue longer than --min-us
// before getting a CPU: the task, the CPU, how long it waited, and the task that held the CPU
// until then. Raw tracepoints sched_wakeup, sched_wakeup_new and sched_switch.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "ecli.h"

#define TASK_COMM_LEN 16
#define TASK_RUNNING 0

/* Options: ecli run runqslower --min-us N --pid N */
const volatile u64 min_us = 10000;
const volatile pid_t targ_tgid = 0;

struct event {
	pid_t pid;
	pid_t tid;
	char comm[TASK_COMM_LEN];
	u32 cpu;
	u64 delay_ns;
	pid_t prev_tid;
	char prev_comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} start SEC(".maps");

ECLI_RINGBUF(events, struct event, 256 * 1024);

static __always_inline void enqueue(struct task_struct *p)
{
	u32 tid = BPF_CORE_READ(p, pid);
	u64 now;

	if (!tid || (targ_tgid && BPF_CORE_READ(p, tgid) != targ_tgid))
		return;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &now, BPF_ANY);
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
	u32 tid = BPF_CORE_READ(next, pid);
	u64 *queued, delta;
	struct event *e;

	/* A task preempted while runnable waits in the queue again. */
	if (BPF_CORE_READ(prev, __state) == TASK_RUNNING)
		enqueue(prev);
	queued = bpf_map_lookup_elem(&start, &tid);
	if (!queued)
		return 0;
	delta = bpf_ktime_get_ns() - *queued;
	bpf_map_delete_elem(&start, &tid);
	if (delta < min_us * 1000)
		return 0;
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		return 0;
	e->pid = BPF_CORE_READ(next, tgid);
	e->tid = tid;
	BPF_CORE_READ_STR_INTO(&e->comm, next, comm);
	e->cpu = bpf_get_smp_processor_id();
	e->delay_ns = delta;
	e->prev_tid = BPF_CORE_READ(prev, pid);
	BPF_CORE_READ_STR_INTO(&e->prev_comm, prev, comm);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
