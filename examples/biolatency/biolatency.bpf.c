// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// biolatency: block device I/O latency, from the request's issue to the device until its
// completion, as a log2 histogram of microseconds (one per disk with --disks).
// Raw tracepoints block_rq_issue and block_rq_complete; no kprobes.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "ecli.h"

#define MAX_SLOTS 27
#define DISK_NAME_LEN 32

/* Options: ecli run biolatency --disks */
const volatile bool targ_per_disk = false;

struct disk_key {
	char disk[DISK_NAME_LEN];
};

struct hist {
	u32 slots[MAX_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u64);
	__type(value, u64);
} start SEC(".maps");

/* ecli prints maps whose value has a `slots` array: one histogram for all disks, or
 * (--disks) one per disk. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct hist);
} io_latency SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct disk_key);
	__type(value, struct hist);
} disk_latency SEC(".maps");

SEC("raw_tp/block_rq_issue")
int handle_issue(struct bpf_raw_tracepoint_args *ctx)
{
	u64 rq = ctx->args[0], now = bpf_ktime_get_ns();

	bpf_map_update_elem(&start, &rq, &now, BPF_ANY);
	return 0;
}

SEC("raw_tp/block_rq_complete")
int handle_complete(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *rq = (struct request *)ctx->args[0];
	u64 key_rq = ctx->args[0], *issued, delta;
	struct disk_key key = {};
	static const struct hist zero;
	struct hist *h;
	u32 slot, all = 0;

	issued = bpf_map_lookup_elem(&start, &key_rq);
	if (!issued)
		return 0;
	delta = (bpf_ktime_get_ns() - *issued) / 1000;
	bpf_map_delete_elem(&start, &key_rq);
	if (targ_per_disk) {
		BPF_CORE_READ_STR_INTO(&key.disk, rq, q, disk, disk_name);
		h = bpf_map_lookup_elem(&disk_latency, &key);
		if (!h) {
			bpf_map_update_elem(&disk_latency, &key, &zero, BPF_NOEXIST);
			h = bpf_map_lookup_elem(&disk_latency, &key);
		}
	} else {
		h = bpf_map_lookup_elem(&io_latency, &all);
	}
	if (!h)
		return 0;
	slot = ecli_log2(delta);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
