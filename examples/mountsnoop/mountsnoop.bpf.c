// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// mountsnoop: every mount(2) and umount2(2): the process, source, mount point, file system
// type, flags and result. Tracepoints syscalls:sys_enter_/sys_exit_mount and umount.
// (The new mount API, fsmount(2) and move_mount(2), is not traced.)
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"

#define TASK_COMM_LEN 16
#define PATH_LEN 128
#define FSTYPE_LEN 16

/* Options: ecli run mountsnoop --pid N --failed */
const volatile pid_t targ_pid = 0;
const volatile bool targ_failed = false;

enum mount_op { MOUNT = 0, UMOUNT = 1 };

struct event {
	pid_t pid;
	char comm[TASK_COMM_LEN];
	enum mount_op op;
	int ret;
	u64 flags;
	char fstype[FSTYPE_LEN];
	char source[PATH_LEN];
	char target[PATH_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, struct event);
} calls SEC(".maps");

/* One event's worth of zeroes: struct event is too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct event);
} scratch SEC(".maps");

ECLI_RINGBUF(events, struct event, 256 * 1024);

static __always_inline struct event *begin(enum mount_op op)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 zero = 0;
	struct event *e;

	if (targ_pid && targ_pid != id >> 32)
		return NULL;
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return NULL;
	__builtin_memset(e, 0, sizeof(*e));
	e->pid = id >> 32;
	e->op = op;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

static __always_inline void remember(struct event *e)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();

	bpf_map_update_elem(&calls, &tid, e, BPF_ANY);
}

SEC("tracepoint/syscalls/sys_enter_mount")
int mount_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct event *e = begin(MOUNT);

	if (!e)
		return 0;
	bpf_probe_read_user_str(e->source, sizeof(e->source), (void *)ctx->args[0]);
	bpf_probe_read_user_str(e->target, sizeof(e->target), (void *)ctx->args[1]);
	bpf_probe_read_user_str(e->fstype, sizeof(e->fstype), (void *)ctx->args[2]);
	e->flags = ctx->args[3];
	remember(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_umount")
int umount_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct event *e = begin(UMOUNT);

	if (!e)
		return 0;
	bpf_probe_read_user_str(e->target, sizeof(e->target), (void *)ctx->args[0]);
	e->flags = ctx->args[1];
	remember(e);
	return 0;
}

static __always_inline int finish(long ret)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct event *call, *e;

	call = bpf_map_lookup_elem(&calls, &tid);
	if (!call)
		return 0;
	if (targ_failed && ret >= 0)
		goto cleanup;
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		goto cleanup;
	__builtin_memcpy(e, call, sizeof(*e));
	e->ret = ret;
	bpf_ringbuf_submit(e, 0);
cleanup:
	bpf_map_delete_elem(&calls, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_mount")
int mount_exit(struct trace_event_raw_sys_exit *ctx)
{
	return finish(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_umount")
int umount_exit(struct trace_event_raw_sys_exit *ctx)
{
	return finish(ctx->ret);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
