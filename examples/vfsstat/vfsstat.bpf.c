// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// vfsstat: file system operations per second, by kind: reads, writes, opens, fsyncs,
// creates, unlinks, mkdirs and renames, system-wide or for one process. Counted at the
// system call tracepoints that start them (syscalls:sys_enter_*); no kprobes.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/* Options: ecli run vfsstat --pid N --interval 1 */
const volatile pid_t targ_pid = 0;

enum vfs_op { READ = 0, WRITE, OPEN, FSYNC, UNLINK, MKDIR, RENAME };

struct op_key {
	enum vfs_op op;
};

/* Printed at exit and every --interval: its name ends in _counts. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, struct op_key);
	__type(value, u64);
} vfs_counts SEC(".maps");

static __always_inline int count(enum vfs_op op)
{
	struct op_key key = { .op = op };
	u64 one = 1, *n;

	if (targ_pid && targ_pid != bpf_get_current_pid_tgid() >> 32)
		return 0;
	n = bpf_map_lookup_elem(&vfs_counts, &key);
	if (n)
		(*n)++;
	else
		bpf_map_update_elem(&vfs_counts, &key, &one, BPF_NOEXIST);
	return 0;
}

/* The system calls every architecture has... */
SEC("tracepoint/syscalls/sys_enter_read")
int sys_read(void *ctx) { return count(READ); }
SEC("tracepoint/syscalls/sys_enter_pread64")
int sys_pread64(void *ctx) { return count(READ); }
SEC("tracepoint/syscalls/sys_enter_readv")
int sys_readv(void *ctx) { return count(READ); }
SEC("tracepoint/syscalls/sys_enter_write")
int sys_write(void *ctx) { return count(WRITE); }
SEC("tracepoint/syscalls/sys_enter_pwrite64")
int sys_pwrite64(void *ctx) { return count(WRITE); }
SEC("tracepoint/syscalls/sys_enter_writev")
int sys_writev(void *ctx) { return count(WRITE); }
SEC("tracepoint/syscalls/sys_enter_openat")
int sys_openat(void *ctx) { return count(OPEN); }
SEC("tracepoint/syscalls/sys_enter_openat2")
int sys_openat2(void *ctx) { return count(OPEN); }
SEC("tracepoint/syscalls/sys_enter_fsync")
int sys_fsync(void *ctx) { return count(FSYNC); }
SEC("tracepoint/syscalls/sys_enter_fdatasync")
int sys_fdatasync(void *ctx) { return count(FSYNC); }
SEC("tracepoint/syscalls/sys_enter_unlinkat")
int sys_unlinkat(void *ctx) { return count(UNLINK); }
SEC("tracepoint/syscalls/sys_enter_mkdirat")
int sys_mkdirat(void *ctx) { return count(MKDIR); }
SEC("tracepoint/syscalls/sys_enter_renameat2")
int sys_renameat2(void *ctx) { return count(RENAME); }

/* ...and the older ones x86_64 keeps, which its C library still uses (glibc's unlink()
 * is the unlink system call there). arm64 has only the *at forms above. */
#if defined(__TARGET_ARCH_x86)
SEC("tracepoint/syscalls/sys_enter_open")
int sys_open(void *ctx) { return count(OPEN); }
SEC("tracepoint/syscalls/sys_enter_creat")
int sys_creat(void *ctx) { return count(OPEN); }
SEC("tracepoint/syscalls/sys_enter_unlink")
int sys_unlink(void *ctx) { return count(UNLINK); }
SEC("tracepoint/syscalls/sys_enter_rmdir")
int sys_rmdir(void *ctx) { return count(UNLINK); }
SEC("tracepoint/syscalls/sys_enter_mkdir")
int sys_mkdir(void *ctx) { return count(MKDIR); }
SEC("tracepoint/syscalls/sys_enter_rename")
int sys_rename(void *ctx) { return count(RENAME); }
SEC("tracepoint/syscalls/sys_enter_renameat")
int sys_renameat(void *ctx) { return count(RENAME); }
#endif

char LICENSE[] SEC("license") = "Dual BSD/GPL";
