// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// exitsnoop: every process exit, with its exit code or the signal that ended it, and its age.
// Tracepoint sched:sched_process_exit, reading the exiting task with CO-RE.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "ecli.h"

#define TASK_COMM_LEN 16

/* Options: ecli run exitsnoop --pid N --failed --threads */
const volatile pid_t targ_pid = 0;
const volatile bool targ_failed = false;
const volatile bool trace_threads = false;

struct event {
	pid_t pid;
	pid_t tid;
	pid_t ppid;
	char comm[TASK_COMM_LEN];
	int exit_code;
	int sig;
	bool core_dumped;
	u64 age_ns;
};

ECLI_RINGBUF(events, struct event, 256 * 1024);

SEC("tracepoint/sched/sched_process_exit")
int handle_exit(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	u64 id = bpf_get_current_pid_tgid();
	u32 pid = id >> 32, tid = (u32)id;
	int code = BPF_CORE_READ(task, exit_code);
	struct event *e;

	if (!trace_threads && pid != tid)
		return 0; /* a thread, not the whole process */
	if (targ_pid && targ_pid != pid)
		return 0;
	if (targ_failed && code == 0)
		return 0;
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		return 0;
	e->pid = pid;
	e->tid = tid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->exit_code = (code >> 8) & 0xff;
	e->sig = code & 0x7f;
	e->core_dumped = code & 0x80;
	e->age_ns = bpf_ktime_get_ns() - BPF_CORE_READ(task, start_time);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
