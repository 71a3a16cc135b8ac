// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// biosnoop: one line per block device I/O: who issued it, the disk, read or write,
// sector, size and latency. Raw tracepoints block_rq_issue and block_rq_complete.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "ecli.h"

#define TASK_COMM_LEN 16
#define DISK_NAME_LEN 32
#define REQ_OP_MASK 0xff

/* Options: ecli run biosnoop --pid N --min-us N */
const volatile pid_t targ_pid = 0;
const volatile u64 targ_min_us = 0;

/* The request's operation (REQ_OP_* in the kernel). */
enum block_op {
	READ = 0, WRITE = 1, FLUSH = 2, DISCARD = 3, SECURE_ERASE = 5,
	ZONE_APPEND = 7, WRITE_ZEROES = 9,
};

struct issuer {
	u64 ts;
	pid_t pid;
	char comm[TASK_COMM_LEN];
};

struct event {
	pid_t pid;
	char comm[TASK_COMM_LEN];
	char disk[DISK_NAME_LEN];
	enum block_op op;
	u32 bytes;
	u64 sector;
	u64 latency_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u64);
	__type(value, struct issuer);
} start SEC(".maps");

ECLI_RINGBUF(events, struct event, 256 * 1024);

SEC("raw_tp/block_rq_issue")
int handle_issue(struct bpf_raw_tracepoint_args *ctx)
{
	u64 rq = ctx->args[0];
	struct issuer who = {};

	who.pid = bpf_get_current_pid_tgid() >> 32;
	if (targ_pid && targ_pid != who.pid)
		return 0;
	who.ts = bpf_ktime_get_ns();
	bpf_get_current_comm(who.comm, sizeof(who.comm));
	bpf_map_update_elem(&start, &rq, &who, BPF_ANY);
	return 0;
}

SEC("raw_tp/block_rq_complete")
int handle_complete(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *rq = (struct request *)ctx->args[0];
	u64 key = ctx->args[0], delta;
	struct issuer *who;
	struct event *e;

	who = bpf_map_lookup_elem(&start, &key);
	if (!who)
		return 0;
	delta = bpf_ktime_get_ns() - who->ts;
	if (delta < targ_min_us * 1000)
		goto cleanup;
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		goto cleanup;
	e->pid = who->pid;
	__builtin_memcpy(e->comm, who->comm, sizeof(e->comm));
	BPF_CORE_READ_STR_INTO(&e->disk, rq, q, disk, disk_name);
	e->op = BPF_CORE_READ(rq, cmd_flags) & REQ_OP_MASK;
	e->bytes = (u32)ctx->args[2];
	e->sector = BPF_CORE_READ(rq, __sector);
	e->latency_ns = delta;
	bpf_ringbuf_submit(e, 0);
cleanup:
	bpf_map_delete_elem(&start, &key);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
