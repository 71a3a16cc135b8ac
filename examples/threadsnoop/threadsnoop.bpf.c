// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// threadsnoop: every new thread (pthread_create, clone with CLONE_THREAD), and with --all
// every new process (fork): creator, new task id and name. Tracepoint task:task_newtask.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"

#define TASK_COMM_LEN 16
#define CLONE_THREAD 0x00010000

/* Options: ecli run threadsnoop --pid N --all */
const volatile pid_t targ_pid = 0;
const volatile bool trace_processes = false;

enum task_kind { PROCESS = 0, THREAD = 1 };

struct event {
	pid_t pid;
	pid_t tid;
	char comm[TASK_COMM_LEN];
	pid_t new_tid;
	enum task_kind kind;
	u64 clone_flags;
};

ECLI_RINGBUF(events, struct event, 256 * 1024);

SEC("tracepoint/task/task_newtask")
int handle_newtask(struct trace_event_raw_task_newtask *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	bool thread = ctx->clone_flags & CLONE_THREAD;
	struct event *e;

	if (!thread && !trace_processes)
		return 0;
	if (targ_pid && targ_pid != id >> 32)
		return 0;
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		return 0;
	e->pid = id >> 32;
	e->tid = (u32)id;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->new_tid = ctx->pid;
	e->kind = thread ? THREAD : PROCESS;
	e->clone_flags = ctx->clone_flags;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
