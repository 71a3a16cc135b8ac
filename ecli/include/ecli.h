/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Conventions that let ecli's built-in runtime present a kernel-only program.
 * `ecli build` puts this folder on the include path.
 *
 * Events: declare the ring buffer with ECLI_RINGBUF(name, struct event, bytes)
 * and reserve with ecli_ringbuf_reserve(name, size). The event struct then
 * stays in the object's BTF, tied to its ring buffer, and ecli prints each
 * sample decoded field by field; reservations that fail because the buffer is
 * full are counted in `name__lost`, which ecli reports. (The kernel wants
 * ring buffers to have no value size; ecli clears it before loading.)
 * Plain ring buffers and perf event arrays work too: ecli infers the event
 * struct from the size the program sends, or takes --event-type STRUCT.
 *
 * Options: every `const volatile` global becomes a command-line option typed by
 * its BTF; `ecli.toml` can give it a shorter flag and a description.
 *
 * Maps, printed at exit and every --interval: every map but event channels,
 * stack stores, program arrays and maps of maps, as a table decoded by its BTF
 * key and value types, sorted by the first numeric value field. Shown richer:
 *   - a log2 histogram: a map whose value struct has a `slots` array (one
 *     histogram per key), or a map named hist_* or *_hist whose key is the slot
 *     (use ecli_log2 to compute it);
 *   - counters: a map named counter_*, gauge_*, *_count or *_counts (a table,
 *     its stacks symbolised when its key has *stack_id fields).
 *
 * Uprobes: ecli_arg(ctx, n) reads argument n (0-5) of the probed function and
 * ecli_ret(ctx) its return value, for x86_64 and arm64 alike, without
 * bpf_tracing.h's PT_REGS macros: those need the target's own vmlinux.h
 * (struct user_pt_regs on arm64), which a cross-build from an x86 host lacks.
 */
#ifndef __ECLI_H
#define __ECLI_H

#define ECLI_RINGBUF(name, event_type, bytes)            \
	struct {                                         \
		__uint(type, BPF_MAP_TYPE_RINGBUF);      \
		__uint(max_entries, bytes);              \
		__type(value, event_type);               \
	} name SEC(".maps");                             \
	__u64 name##__lost = 0

/* bpf_ringbuf_reserve that counts what a full buffer drops. */
#define ecli_ringbuf_reserve(name, size)                                  \
	({                                                                \
		void *__ecli_sample = bpf_ringbuf_reserve(&(name), (size), 0); \
		if (!__ecli_sample)                                       \
			__sync_fetch_and_add(&name##__lost, 1);           \
		__ecli_sample;                                            \
	})

/* Index of the log2 bucket of v: 0 for 0 and 1, 1 for 2-3, 2 for 4-7, ... */
static __always_inline __u32 ecli_log2(__u64 v)
{
	__u32 slot = 0;

	while (v > 1 && slot < 63) {
		v >>= 1;
		slot++;
	}
	return slot;
}

/* The probed function's arguments and return value, from the uprobe's struct pt_regs. */
#if defined(__TARGET_ARCH_arm64)
struct ecli_arm64_regs { __u64 regs[31]; __u64 sp; __u64 pc; __u64 pstate; };
#define ecli_arg(ctx, n) (((const struct ecli_arm64_regs *)(ctx))->regs[n])
#define ecli_ret(ctx) ecli_arg(ctx, 0)
#else /* x86_64: the System V calling convention */
#define ecli_arg(ctx, n)                                                         \
	((n) == 0 ? (ctx)->di : (n) == 1 ? (ctx)->si : (n) == 2 ? (ctx)->dx :    \
	 (n) == 3 ? (ctx)->cx : (n) == 4 ? (ctx)->r8 : (ctx)->r9)
#define ecli_ret(ctx) ((ctx)->ax)
#endif

#endif /* __ECLI_H */
