// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// sslsniff: the plaintext that programs write into and read out of OpenSSL 3 (libssl.so.3),
// before encryption and after decryption: curl, Python, nginx, most TLS clients and servers.
// Uprobes on SSL_write/SSL_write_ex (the buffer at entry) and SSL_read/SSL_read_ex (the
// buffer at return, once filled).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"

#define TASK_COMM_LEN 16
#define MAX_DATA 1024

/* Options: ecli run sslsniff --pid N (also limits the probes to that process) */
const volatile pid_t targ_pid = 0;

enum ssl_op { READ = 0, WRITE = 1 };

struct event {
	pid_t pid;
	char comm[TASK_COMM_LEN];
	enum ssl_op op;
	u32 len;  /* bytes in the call; at most MAX_DATA of them are in data */
	char data[MAX_DATA];
};

/* A read in progress: where the data will land, and (SSL_read_ex) where its size will. */
struct pending_read {
	u64 buf;
	u64 readbytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct pending_read);
} reads SEC(".maps");

ECLI_RINGBUF(events, struct event, 1024 * 1024);

static __always_inline bool wanted(void)
{
	return !targ_pid || targ_pid == bpf_get_current_pid_tgid() >> 32;
}

static __always_inline void emit(enum ssl_op op, const void *buf, s64 len)
{
	struct event *e;
	u32 copy;

	if (len <= 0)
		return;
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		return;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->op = op;
	e->len = len;
	copy = len < MAX_DATA - 1 ? len : MAX_DATA - 1;
	if (bpf_probe_read_user(e->data, copy & (MAX_DATA - 1), buf))
		e->data[0] = 0;
	e->data[copy & (MAX_DATA - 1)] = 0;
	bpf_ringbuf_submit(e, 0);
}

SEC("uprobe/libssl.so.3:SSL_write")
int ssl_write(struct pt_regs *ctx)
{
	if (wanted())
		emit(WRITE, (const void *)ecli_arg(ctx, 1), (int)ecli_arg(ctx, 2));
	return 0;
}

SEC("uprobe/libssl.so.3:SSL_write_ex")
int ssl_write_ex(struct pt_regs *ctx)
{
	if (wanted())
		emit(WRITE, (const void *)ecli_arg(ctx, 1), (s64)ecli_arg(ctx, 2));
	return 0;
}

static __always_inline int read_enter(struct pt_regs *ctx, u64 readbytes)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct pending_read r = { .buf = ecli_arg(ctx, 1), .readbytes = readbytes };

	if (wanted())
		bpf_map_update_elem(&reads, &tid, &r, BPF_ANY);
	return 0;
}

SEC("uprobe/libssl.so.3:SSL_read")
int ssl_read(struct pt_regs *ctx)
{
	return read_enter(ctx, 0);
}

SEC("uprobe/libssl.so.3:SSL_read_ex")
int ssl_read_ex(struct pt_regs *ctx)
{
	return read_enter(ctx, ecli_arg(ctx, 3));
}

/* SSL_read returns the byte count; SSL_read_ex returns 1 and stores it in *readbytes. */
static __always_inline int read_return(struct pt_regs *ctx)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct pending_read *r = bpf_map_lookup_elem(&reads, &tid);
	s64 len = (int)ecli_ret(ctx);
	u64 got = 0;

	if (!r)
		return 0;
	if (r->readbytes) {
		if (len == 1 && !bpf_probe_read_user(&got, sizeof(got), (void *)r->readbytes))
			len = got;
		else
			len = 0;
	}
	emit(READ, (const void *)r->buf, len);
	bpf_map_delete_elem(&reads, &tid);
	return 0;
}

SEC("uretprobe/libssl.so.3:SSL_read")
int ssl_read_return(struct pt_regs *ctx)
{
	return read_return(ctx);
}

SEC("uretprobe/libssl.so.3:SSL_read_ex")
int ssl_read_ex_return(struct pt_regs *ctx)
{
	return read_return(ctx);
}

char LICENSE[] SEC("license") = "GPL"; /* bpf_probe_read_user */
