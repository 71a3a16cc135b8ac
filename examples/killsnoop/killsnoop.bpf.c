// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// killsnoop: who sends signals with kill(2), tkill(2) and tgkill(2): sender, target,
// signal and result. Tracepoints syscalls:sys_enter_* and sys_exit_*; no kprobes.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"

#define TASK_COMM_LEN 16

/* Options: ecli run killsnoop --pid N --failed */
const volatile pid_t targ_pid = 0;
const volatile bool targ_failed = false;

struct call {
	pid_t tpid;
	int sig;
};

struct event {
	pid_t pid;
	char comm[TASK_COMM_LEN];
	pid_t tpid;
	int sig;
	int ret;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct call);
} calls SEC(".maps");

ECLI_RINGBUF(events, struct event, 256 * 1024);

static __always_inline int enter(pid_t tpid, int sig)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id;
	struct call c = { .tpid = tpid, .sig = sig };

	if (targ_pid && targ_pid != id >> 32)
		return 0;
	bpf_map_update_elem(&calls, &tid, &c, BPF_ANY);
	return 0;
}

static __always_inline int leave(long ret)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id;
	struct call *c;
	struct event *e;

	c = bpf_map_lookup_elem(&calls, &tid);
	if (!c)
		return 0;
	if (targ_failed && ret >= 0)
		goto cleanup;
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		goto cleanup;
	e->pid = id >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->tpid = c->tpid;
	e->sig = c->sig;
	e->ret = ret;
	bpf_ringbuf_submit(e, 0);
cleanup:
	bpf_map_delete_elem(&calls, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_kill")
int kill_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter((pid_t)ctx->args[0], (int)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_kill")
int kill_exit(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_tkill")
int tkill_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter((pid_t)ctx->args[0], (int)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_tkill")
int tkill_exit(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_tgkill")
int tgkill_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter((pid_t)ctx->args[1], (int)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_tgkill")
int tgkill_exit(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
