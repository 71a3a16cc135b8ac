// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// hardirqs: time spent in hardware interrupt handlers, per interrupt (irq number and the
// handler's name, such as virtio0-input.0 or nvme0q1): count and total time.
// Tracepoints irq:irq_handler_entry and irq:irq_handler_exit.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define IRQ_NAME_LEN 32

struct irq_key {
	int irq;
	char name[IRQ_NAME_LEN];
};

struct irq_stats {
	u64 count;
	u64 total_ns;
};

struct entered {
	u64 ts;
	struct irq_key key;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct entered);
} start SEC(".maps");

/* Printed at exit and every --interval: its name ends in _counts. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct irq_key);
	__type(value, struct irq_stats);
} irq_counts SEC(".maps");

SEC("tracepoint/irq/irq_handler_entry")
int handle_entry(struct trace_event_raw_irq_handler_entry *ctx)
{
	u32 zero = 0, name_at = ctx->__data_loc_name & 0xffff; /* __data_loc: low half */
	struct entered *in = bpf_map_lookup_elem(&start, &zero);

	if (!in)
		return 0;
	in->ts = bpf_ktime_get_ns();
	in->key.irq = ctx->irq;
	__builtin_memset(in->key.name, 0, sizeof(in->key.name)); /* a shorter name leaves no tail */
	bpf_probe_read_kernel_str(in->key.name, sizeof(in->key.name), (void *)ctx + name_at);
	return 0;
}

SEC("tracepoint/irq/irq_handler_exit")
int handle_exit(struct trace_event_raw_irq_handler_exit *ctx)
{
	u32 zero = 0;
	struct entered *in = bpf_map_lookup_elem(&start, &zero);
	struct irq_stats *s, fresh = {};
	u64 delta;

	if (!in || !in->ts || in->key.irq != ctx->irq)
		return 0;
	delta = bpf_ktime_get_ns() - in->ts;
	in->ts = 0;
	s = bpf_map_lookup_elem(&irq_counts, &in->key);
	if (!s) {
		bpf_map_update_elem(&irq_counts, &in->key, &fresh, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&irq_counts, &in->key);
		if (!s)
			return 0;
	}
	s->count++;
	s->total_ns += delta;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
