// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// syscount: count system calls by name, with how many failed and the time spent in them.
// Tracepoints raw_syscalls:sys_enter and sys_exit; no kprobes.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"
#include "syscall_names.h"

/* Options: ecli run syscount --pid N --failed */
const volatile pid_t targ_pid = 0;
const volatile bool targ_failed = false;

struct syscall_key {
	enum syscall_name syscall;
};

struct syscall_stats {
	u64 calls;
	u64 errors;
	u64 total_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} start SEC(".maps");

/* Printed at exit and every --interval: its name ends in _counts. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct syscall_key);
	__type(value, struct syscall_stats);
} syscall_counts SEC(".maps");

SEC("tracepoint/raw_syscalls/sys_enter")
int handle_enter(struct trace_event_raw_sys_enter *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id;
	u64 now;

	if (targ_pid && targ_pid != id >> 32)
		return 0;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &now, BPF_ANY);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int handle_exit(struct trace_event_raw_sys_exit *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id;
	struct syscall_key key = {};
	struct syscall_stats *s, fresh = {};
	u64 *started, delta;
	bool failed = ctx->ret < 0;

	started = bpf_map_lookup_elem(&start, &tid);
	if (!started)
		return 0;
	delta = bpf_ktime_get_ns() - *started;
	bpf_map_delete_elem(&start, &tid);
	if (ctx->id < 0 || (targ_failed && !failed))
		return 0;
	key.syscall = ctx->id;
	s = bpf_map_lookup_elem(&syscall_counts, &key);
	if (!s) {
		bpf_map_update_elem(&syscall_counts, &key, &fresh, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&syscall_counts, &key);
		if (!s)
			return 0;
	}
	__sync_fetch_and_add(&s->calls, 1);
	if (failed)
		__sync_fetch_and_add(&s->errors, 1);
	__sync_fetch_and_add(&s->total_ns, delta);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
