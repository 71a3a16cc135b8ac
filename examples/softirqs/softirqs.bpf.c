// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// softirqs: time spent in each kind of soft interrupt (network receive and transmit, timers,
// block completions, RCU...), as a count and total time, and as a latency histogram per
// kind with --hist. Tracepoints irq:softirq_entry and irq:softirq_exit.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"

#define MAX_SLOTS 20
#define NR_SOFTIRQS 10

/* Options: ecli run softirqs --hist */
const volatile bool targ_hist = false;

/* The softirq vectors, in the kernel's order (HI_SOFTIRQ ... RCU_SOFTIRQ). */
enum softirq_vec {
	hi = 0, timer, net_tx, net_rx, block, irq_poll, tasklet, sched, hrtimer, rcu,
};

struct vec_key {
	enum softirq_vec vec;
};

struct vec_stats {
	u64 count;
	u64 total_ns;
};

struct hist {
	u32 slots[MAX_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} start SEC(".maps");

/* Printed at exit and every --interval: a counter table, and histograms (usecs). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, NR_SOFTIRQS);
	__type(key, struct vec_key);
	__type(value, struct vec_stats);
} softirq_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, NR_SOFTIRQS);
	__type(key, struct vec_key);
	__type(value, struct hist);
} softirq_latency SEC(".maps");

SEC("tracepoint/irq/softirq_entry")
int handle_entry(struct trace_event_raw_softirq *ctx)
{
	u32 zero = 0;
	u64 now = bpf_ktime_get_ns();

	bpf_map_update_elem(&start, &zero, &now, BPF_ANY);
	return 0;
}

SEC("tracepoint/irq/softirq_exit")
int handle_exit(struct trace_event_raw_softirq *ctx)
{
	struct vec_key key = { .vec = ctx->vec };
	struct vec_stats *s, fresh_stats = {};
	static const struct hist fresh_hist;
	struct hist *h;
	u32 zero = 0, slot;
	u64 *started, delta;

	if (ctx->vec >= NR_SOFTIRQS)
		return 0;
	started = bpf_map_lookup_elem(&start, &zero);
	if (!started || !*started)
		return 0;
	delta = bpf_ktime_get_ns() - *started;
	*started = 0;
	s = bpf_map_lookup_elem(&softirq_counts, &key);
	if (!s) {
		bpf_map_update_elem(&softirq_counts, &key, &fresh_stats, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&softirq_counts, &key);
		if (!s)
			return 0;
	}
	s->count++;
	s->total_ns += delta;
	if (!targ_hist)
		return 0;
	h = bpf_map_lookup_elem(&softirq_latency, &key);
	if (!h) {
		bpf_map_update_elem(&softirq_latency, &key, &fresh_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&softirq_latency, &key);
		if (!h)
			return 0;
	}
	slot = ecli_log2(delta / 1000);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	h->slots[slot]++;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
