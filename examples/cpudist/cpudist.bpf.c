// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// cpudist: how long tasks run on a CPU each time they get one (or, with --offcpu, how long
// they stay off it), as a log2 histogram of microseconds. Raw tracepoint sched_switch.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "ecli.h"

#define MAX_SLOTS 27

/* Options: ecli run cpudist --pid N --offcpu */
const volatile pid_t targ_tgid = 0;
const volatile bool targ_offcpu = false;

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
} cpu_time SEC(".maps");

static __always_inline bool wanted(struct task_struct *t)
{
	return BPF_CORE_READ(t, pid) && (!targ_tgid || BPF_CORE_READ(t, tgid) == targ_tgid);
}

/* Start the clock for one task, stop it for the other: on-CPU time runs from switch-in to
 * switch-out, off-CPU time from switch-out to switch-in. */
SEC("raw_tp/sched_switch")
int handle_switch(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *prev = (struct task_struct *)ctx->args[1];
	struct task_struct *next = (struct task_struct *)ctx->args[2];
	struct task_struct *starting = targ_offcpu ? prev : next;
	struct task_struct *stopping = targ_offcpu ? next : prev;
	u64 now = bpf_ktime_get_ns(), *started, delta;
	u32 pid, key = 0, slot;
	struct hist *h;

	if (wanted(starting)) {
		pid = BPF_CORE_READ(starting, pid);
		bpf_map_update_elem(&start, &pid, &now, BPF_ANY);
	}
	if (!wanted(stopping))
		return 0;
	pid = BPF_CORE_READ(stopping, pid);
	started = bpf_map_lookup_elem(&start, &pid);
	if (!started)
		return 0;
	delta = (now - *started) / 1000;
	bpf_map_delete_elem(&start, &pid);
	h = bpf_map_lookup_elem(&cpu_time, &key);
	if (!h)
		return 0;
	slot = ecli_log2(delta);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
