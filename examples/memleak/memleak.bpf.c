// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// memleak: memory allocated through libc (malloc, calloc, realloc) and not freed yet, summed
// by the user stack that allocated it. Run it on one process (--pid) for a while: stacks whose
// outstanding bytes keep growing are the leak. Uprobes and uretprobes on libc.so.6.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"

#define MAX_STACK_DEPTH 127
#define TASK_COMM_LEN 16

/* Options: ecli run memleak --pid N --min-size N */
const volatile u64 min_size = 0;

struct key_t {
	u32 pid;
	s32 user_stack_id;
	char comm[TASK_COMM_LEN];
};

struct allocation {
	u64 size;
	struct key_t key;
};

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(u32));
	__uint(value_size, MAX_STACK_DEPTH * sizeof(u64));
} stack_traces SEC(".maps");

/* Between an allocator's entry and its return: the size asked, by thread. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct allocation);
} pending SEC(".maps");

/* Every live allocation, by address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1000000);
	__type(key, u64);
	__type(value, struct allocation);
} allocs SEC(".maps");

/* Printed at exit: bytes still allocated per stack (the "count" column). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct key_t);
	__type(value, s64);
} outstanding_counts SEC(".maps");

static __always_inline int alloc_enter(struct pt_regs *ctx, u64 size)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id;
	struct allocation a = { .size = size };

	if (size < min_size)
		return 0;
	a.key.pid = id >> 32;
	a.key.user_stack_id = bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK);
	bpf_get_current_comm(a.key.comm, sizeof(a.key.comm));
	bpf_map_update_elem(&pending, &tid, &a, BPF_ANY);
	return 0;
}

static __always_inline void forget(u64 address)
{
	struct allocation *a = bpf_map_lookup_elem(&allocs, &address);
	s64 *total;

	if (!a)
		return;
	total = bpf_map_lookup_elem(&outstanding_counts, &a->key);
	if (total)
		__sync_fetch_and_add(total, -(s64)a->size);
	bpf_map_delete_elem(&allocs, &address);
}

static __always_inline int alloc_return(struct pt_regs *ctx)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct allocation *a = bpf_map_lookup_elem(&pending, &tid);
	u64 address = ecli_ret(ctx);
	s64 size, *total;

	if (!a)
		return 0;
	if (address) {
		size = a->size;
		bpf_map_update_elem(&allocs, &address, a, BPF_ANY);
		total = bpf_map_lookup_elem(&outstanding_counts, &a->key);
		if (total)
			__sync_fetch_and_add(total, size);
		else
			bpf_map_update_elem(&outstanding_counts, &a->key, &size, BPF_NOEXIST);
	}
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

SEC("uprobe/libc.so.6:malloc")
int malloc_enter(struct pt_regs *ctx)
{
	return alloc_enter(ctx, ecli_arg(ctx, 0));
}

SEC("uretprobe/libc.so.6:malloc")
int malloc_return(struct pt_regs *ctx)
{
	return alloc_return(ctx);
}

SEC("uprobe/libc.so.6:calloc")
int calloc_enter(struct pt_regs *ctx)
{
	return alloc_enter(ctx, ecli_arg(ctx, 0) * ecli_arg(ctx, 1));
}

SEC("uretprobe/libc.so.6:calloc")
int calloc_return(struct pt_regs *ctx)
{
	return alloc_return(ctx);
}

/* realloc frees the old block (when it returns a new one, the old is gone either way). */
SEC("uprobe/libc.so.6:realloc")
int realloc_enter(struct pt_regs *ctx)
{
	forget(ecli_arg(ctx, 0));
	return alloc_enter(ctx, ecli_arg(ctx, 1));
}

SEC("uretprobe/libc.so.6:realloc")
int realloc_return(struct pt_regs *ctx)
{
	return alloc_return(ctx);
}

SEC("uprobe/libc.so.6:free")
int free_enter(struct pt_regs *ctx)
{
	forget(ecli_arg(ctx, 0));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
