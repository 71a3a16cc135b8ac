// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// biopattern: per disk, how much block I/O is sequential (starts where the previous
// request ended) and how much is random, with the bytes moved. Raw tracepoint block_rq_complete.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define DISK_NAME_LEN 32

struct disk_key {
	char disk[DISK_NAME_LEN];
};

struct pattern {
	u64 sequential;
	u64 random;
	u64 bytes;
};

/* Where each disk's previous request ended: private state, not shown. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct disk_key);
	__type(value, u64);
} last_end SEC(".maps");

/* Printed at exit and every --interval: its name ends in _counts. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct disk_key);
	__type(value, struct pattern);
} disk_counts SEC(".maps");

SEC("raw_tp/block_rq_complete")
int handle_complete(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *rq = (struct request *)ctx->args[0];
	u32 bytes = (u32)ctx->args[2];
	struct disk_key key = {};
	struct pattern *p, fresh = {};
	u64 sector, end, *last;

	if (!bytes)
		return 0; /* flushes move no data */
	BPF_CORE_READ_STR_INTO(&key.disk, rq, q, disk, disk_name);
	sector = BPF_CORE_READ(rq, __sector);
	p = bpf_map_lookup_elem(&disk_counts, &key);
	if (!p) {
		bpf_map_update_elem(&disk_counts, &key, &fresh, BPF_NOEXIST);
		p = bpf_map_lookup_elem(&disk_counts, &key);
		if (!p)
			return 0;
	}
	last = bpf_map_lookup_elem(&last_end, &key);
	if (last && *last == sector)
		__sync_fetch_and_add(&p->sequential, 1);
	else
		__sync_fetch_and_add(&p->random, 1);
	__sync_fetch_and_add(&p->bytes, bytes);
	end = sector + bytes / 512;
	bpf_map_update_elem(&last_end, &key, &end, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
