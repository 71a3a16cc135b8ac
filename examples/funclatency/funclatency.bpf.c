// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// funclatency: how long one function of any program or library takes, from its entry to its
// return, as a log2 histogram of nanoseconds; with --calls, one line per call too. The
// function is the user's: `ecli run funclatency --binary PATH --symbol NAME` (a uprobe and
// a uretprobe whose sections name no target, so ecli attaches them where the options say).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"

#define MAX_SLOTS 40 /* 2^39 ns: about 9 minutes */
#define TASK_COMM_LEN 16

/* Options: ecli run funclatency --binary PATH --symbol NAME --calls --min-us N */
const volatile bool targ_calls = false;
const volatile u64 targ_min_us = 0;

struct hist {
	u64 slots[MAX_SLOTS];
};

struct event {
	pid_t pid;
	pid_t tid;
	char comm[TASK_COMM_LEN];
	u64 latency_ns;
	s64 ret;
};

/* Entry time of the call in progress, by thread (a recursive call restarts it). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} start SEC(".maps");

/* ecli prints a map whose value has a `slots` array as a histogram. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct hist);
} latency SEC(".maps");

ECLI_RINGBUF(calls, struct event, 256 * 1024);

SEC("uprobe")
int function_entry(struct pt_regs *ctx)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	u64 now = bpf_ktime_get_ns();

	bpf_map_update_elem(&start, &tid, &now, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int function_return(struct pt_regs *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id, all = 0, slot;
	u64 *entered = bpf_map_lookup_elem(&start, &tid), delta;
	struct hist *h;
	struct event *e;

	if (!entered)
		return 0;
	delta = bpf_ktime_get_ns() - *entered;
	bpf_map_delete_elem(&start, &tid);
	h = bpf_map_lookup_elem(&latency, &all);
	if (h) {
		slot = ecli_log2(delta);
		if (slot >= MAX_SLOTS)
			slot = MAX_SLOTS - 1;
		__sync_fetch_and_add(&h->slots[slot], 1);
	}
	if (!targ_calls || delta < targ_min_us * 1000)
		return 0;
	e = ecli_ringbuf_reserve(calls, sizeof(*e));
	if (!e)
		return 0;
	e->pid = id >> 32;
	e->tid = tid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->latency_ns = delta;
	e->ret = (s64)ecli_ret(ctx);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
