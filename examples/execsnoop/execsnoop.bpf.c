// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// execsnoop: every execve(2) on the machine, with its arguments and result.
// Tracepoints only (syscalls:sys_enter_execve / sys_exit_execve): no kprobes needed.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "ecli.h"

#define TASK_COMM_LEN 16
#define MAX_ARGS 16
#define ARG_LEN 64
#define ARGS_SIZE 512

/* Options: ecli run execsnoop --uid N --failed */
const volatile uid_t targ_uid = -1;
const volatile bool targ_failed = false;

struct event {
	pid_t pid;
	pid_t ppid;
	uid_t uid;
	int ret;
	int args_count;
	char comm[TASK_COMM_LEN];
	char args[ARGS_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, pid_t);
	__type(value, struct event);
} execs SEC(".maps");

ECLI_RINGBUF(events, struct event, 256 * 1024);

static const struct event empty_event = {};

SEC("tracepoint/syscalls/sys_enter_execve")
int handle_enter(struct trace_event_raw_sys_enter *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	pid_t tid = (pid_t)id;
	uid_t uid = (u32)bpf_get_current_uid_gid();
	const char **argv = (const char **)ctx->args[1];
	struct task_struct *task;
	struct event *e;
	u32 offset = 0;

	if (targ_uid != (uid_t)-1 && targ_uid != uid)
		return 0;
	if (bpf_map_update_elem(&execs, &tid, &empty_event, BPF_NOEXIST))
		return 0;
	e = bpf_map_lookup_elem(&execs, &tid);
	if (!e)
		return 0;
	e->pid = id >> 32;
	e->uid = uid;
	task = (struct task_struct *)bpf_get_current_task();
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	for (int i = 0; i < MAX_ARGS; i++) {
		const char *arg = NULL;
		long n;

		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			break;
		if (offset > ARGS_SIZE - ARG_LEN)
			break;
		n = bpf_probe_read_user_str(&e->args[offset], ARG_LEN, arg);
		if (n <= 0)
			break;
		offset += n;
		e->args[(offset - 1) & (ARGS_SIZE - 1)] = ' '; /* join with spaces */
		e->args_count++;
	}
	if (offset)
		e->args[(offset - 1) & (ARGS_SIZE - 1)] = '\0';
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int handle_exit(struct trace_event_raw_sys_exit *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	pid_t tid = (pid_t)id;
	struct event *e, *out;
	int ret = (int)ctx->ret;

	e = bpf_map_lookup_elem(&execs, &tid);
	if (!e)
		return 0;
	if (targ_failed && ret >= 0)
		goto cleanup;
	out = ecli_ringbuf_reserve(events, sizeof(*out));
	if (!out)
		goto cleanup;
	__builtin_memcpy(out, e, sizeof(*out));
	out->ret = ret;
	bpf_get_current_comm(out->comm, sizeof(out->comm)); /* the new program's name */
	bpf_ringbuf_submit(out, 0);
cleanup:
	bpf_map_delete_elem(&execs, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
