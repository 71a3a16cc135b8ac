// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// filelife: short-lived files on ext4: each file that is created and then deleted while this
// runs, with its name, who deleted it and how long it lived. Temporary files that could be
// kept in memory, or a program recreating the same file over and over, show here.
// Raw tracepoints ext4_allocate_inode (birth) and ext4_unlink_enter (death), read with CO-RE.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "ecli.h"

#define TASK_COMM_LEN 16
#define NAME_LEN 64

/* Options: ecli run filelife --pid N --max-ms N */
const volatile pid_t targ_pid = 0;
const volatile u64 max_age_ms = 0;

struct event {
	pid_t pid;
	char comm[TASK_COMM_LEN];
	u64 age_ns;
	char name[NAME_LEN];
};

/* Inodes born while we watch: (device, inode number) -> when. */
struct inode_key {
	u32 dev;
	u64 ino;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct inode_key);
	__type(value, u64);
} births SEC(".maps");

ECLI_RINGBUF(events, struct event, 256 * 1024);

static __always_inline struct inode_key key_of(struct inode *inode)
{
	struct inode_key key;

	__builtin_memset(&key, 0, sizeof(key)); /* the padding too: it is part of the key */
	key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	key.ino = BPF_CORE_READ(inode, i_ino);
	return key;
}

SEC("raw_tp/ext4_allocate_inode")
int handle_allocate(struct bpf_raw_tracepoint_args *ctx)
{
	struct inode_key key = key_of((struct inode *)ctx->args[0]);
	u64 now = bpf_ktime_get_ns();

	bpf_map_update_elem(&births, &key, &now, BPF_ANY);
	return 0;
}

SEC("raw_tp/ext4_unlink_enter")
int handle_unlink(struct bpf_raw_tracepoint_args *ctx)
{
	struct dentry *dentry = (struct dentry *)ctx->args[1];
	struct inode_key key = key_of(BPF_CORE_READ(dentry, d_inode));
	pid_t pid = bpf_get_current_pid_tgid() >> 32;
	u64 *born, age;
	struct event *e;

	born = bpf_map_lookup_elem(&births, &key);
	if (!born)
		return 0; /* born before we started */
	age = bpf_ktime_get_ns() - *born;
	bpf_map_delete_elem(&births, &key);
	if ((targ_pid && targ_pid != pid) || (max_age_ms && age > max_age_ms * 1000000))
		return 0;
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		return 0;
	e->pid = pid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->age_ns = age;
	bpf_probe_read_kernel_str(e->name, sizeof(e->name), BPF_CORE_READ(dentry, d_name.name));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
