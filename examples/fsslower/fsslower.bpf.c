// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// fsslower: file reads, writes, opens and fsyncs slower than a threshold, one line each:
// the process, the operation, the bytes and offset, how long it took, the file system and
// the file. Timed from the system call tracepoints (syscalls:sys_enter_* to sys_exit_*), so
// it runs where kprobes and fentry do not; the file is found from the descriptor through
// the task's file table (CO-RE) and only regular files count: pipes and sockets, which
// block by design, do not.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "ecli.h"

#define TASK_COMM_LEN 16
#define FILE_LEN 64
#define FS_LEN 16
#define S_IFMT 00170000
#define S_IFREG 0100000

/* Options: ecli run fsslower --min-us N --pid N --fs ext4 */
const volatile u64 targ_min_us = 10000;
const volatile pid_t targ_pid = 0;
const volatile char targ_fs[FS_LEN] = "";

enum fs_op { READ = 0, WRITE, OPEN, FSYNC };

struct event {
	pid_t pid;
	char comm[TASK_COMM_LEN];
	enum fs_op op;
	s64 bytes;
	u64 offset;
	u64 latency_ns;
	char fs[FS_LEN];
	char file[FILE_LEN];
};

/* The call in progress on a regular file, by thread. */
struct call {
	u64 ts;
	u64 offset; /* pread/pwrite: the argument; other reads and writes: from f_pos at exit */
	struct file *file; /* NULL for an open: its descriptor is its return value */
	enum fs_op op;
	bool positional;
};

/* LRU: a call that never returns (its thread exits inside it) must not keep its slot. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct call);
} calls SEC(".maps");

ECLI_RINGBUF(events, struct event, 256 * 1024);

/* The open file behind descriptor `fd` of the current process, or NULL. */
static __always_inline struct file *fd_file(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *f = NULL;

	if (fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline bool is_regular_file(struct file *f)
{
	return f && (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) == S_IFREG;
}

/* Pipes, sockets and terminals are left out here, before they take a slot in `calls`:
 * a reader blocked on one would hold its slot as long as it waits. */
static __always_inline int enter(struct trace_event_raw_sys_enter *ctx, enum fs_op op,
				 bool positional)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id;
	struct call c = { .op = op, .positional = positional };

	if (targ_pid && targ_pid != id >> 32)
		return 0;
	if (op != OPEN) {
		c.file = fd_file((int)ctx->args[0]);
		if (!is_regular_file(c.file))
			return 0;
	}
	c.offset = positional ? ctx->args[3] : 0;
	c.ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&calls, &tid, &c, BPF_ANY);
	return 0;
}

static __always_inline bool fs_wanted(const char *fs)
{
	for (int i = 0; i < FS_LEN; i++) {
		if (targ_fs[i] != fs[i])
			return false;
		if (!fs[i])
			break;
	}
	return true;
}

static __always_inline int leave(struct trace_event_raw_sys_exit *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id;
	struct call *found = bpf_map_lookup_elem(&calls, &tid), c;
	char fs[FS_LEN] = {};
	struct file *f;
	struct event *e;
	u64 delta;
	long ret = ctx->ret;

	if (!found)
		return 0;
	c = *found;
	bpf_map_delete_elem(&calls, &tid);
	delta = bpf_ktime_get_ns() - c.ts;
	if (ret < 0 || delta < targ_min_us * 1000)
		return 0;
	f = c.op == OPEN ? fd_file((int)ret) : c.file;
	if (!is_regular_file(f))
		return 0;
	bpf_probe_read_kernel_str(fs, sizeof(fs), BPF_CORE_READ(f, f_inode, i_sb, s_type, name));
	if (targ_fs[0] && !fs_wanted(fs))
		return 0;
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		return 0;
	e->pid = id >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->op = c.op;
	e->bytes = c.op == READ || c.op == WRITE ? ret : 0;
	e->offset = c.positional ? c.offset
		    : c.op == READ || c.op == WRITE ? BPF_CORE_READ(f, f_pos) - ret : 0;
	e->latency_ns = delta;
	__builtin_memcpy(e->fs, fs, sizeof(fs));
	bpf_probe_read_kernel_str(e->file, sizeof(e->file),
				  BPF_CORE_READ(f, f_path.dentry, d_name.name));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int read_enter(struct trace_event_raw_sys_enter *ctx) { return enter(ctx, READ, false); }
SEC("tracepoint/syscalls/sys_exit_read")
int read_exit(struct trace_event_raw_sys_exit *ctx) { return leave(ctx); }
SEC("tracepoint/syscalls/sys_enter_pread64")
int pread_enter(struct trace_event_raw_sys_enter *ctx) { return enter(ctx, READ, true); }
SEC("tracepoint/syscalls/sys_exit_pread64")
int pread_exit(struct trace_event_raw_sys_exit *ctx) { return leave(ctx); }
SEC("tracepoint/syscalls/sys_enter_readv")
int readv_enter(struct trace_event_raw_sys_enter *ctx) { return enter(ctx, READ, false); }
SEC("tracepoint/syscalls/sys_exit_readv")
int readv_exit(struct trace_event_raw_sys_exit *ctx) { return leave(ctx); }
SEC("tracepoint/syscalls/sys_enter_write")
int write_enter(struct trace_event_raw_sys_enter *ctx) { return enter(ctx, WRITE, false); }
SEC("tracepoint/syscalls/sys_exit_write")
int write_exit(struct trace_event_raw_sys_exit *ctx) { return leave(ctx); }
SEC("tracepoint/syscalls/sys_enter_pwrite64")
int pwrite_enter(struct trace_event_raw_sys_enter *ctx) { return enter(ctx, WRITE, true); }
SEC("tracepoint/syscalls/sys_exit_pwrite64")
int pwrite_exit(struct trace_event_raw_sys_exit *ctx) { return leave(ctx); }
SEC("tracepoint/syscalls/sys_enter_writev")
int writev_enter(struct trace_event_raw_sys_enter *ctx) { return enter(ctx, WRITE, false); }
SEC("tracepoint/syscalls/sys_exit_writev")
int writev_exit(struct trace_event_raw_sys_exit *ctx) { return leave(ctx); }
SEC("tracepoint/syscalls/sys_enter_openat")
int openat_enter(struct trace_event_raw_sys_enter *ctx) { return enter(ctx, OPEN, false); }
SEC("tracepoint/syscalls/sys_exit_openat")
int openat_exit(struct trace_event_raw_sys_exit *ctx) { return leave(ctx); }
SEC("tracepoint/syscalls/sys_enter_fsync")
int fsync_enter(struct trace_event_raw_sys_enter *ctx) { return enter(ctx, FSYNC, false); }
SEC("tracepoint/syscalls/sys_exit_fsync")
int fsync_exit(struct trace_event_raw_sys_exit *ctx) { return leave(ctx); }
SEC("tracepoint/syscalls/sys_enter_fdatasync")
int fdatasync_enter(struct trace_event_raw_sys_enter *ctx) { return enter(ctx, FSYNC, false); }
SEC("tracepoint/syscalls/sys_exit_fdatasync")
int fdatasync_exit(struct trace_event_raw_sys_exit *ctx) { return leave(ctx); }

char LICENSE[] SEC("license") = "Dual BSD/GPL";
