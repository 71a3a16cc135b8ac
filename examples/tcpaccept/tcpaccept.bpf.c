// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// tcpaccept: incoming TCP connections as the server accepts them (accept(2), accept4(2)),
// IPv4 and IPv6: the accepting process, its local address and port, and the peer's.
// Tracepoints syscalls:sys_exit_accept and sys_exit_accept4; the new socket is found
// through the process's file table (the returned descriptor) with CO-RE.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "ecli.h"

#define TASK_COMM_LEN 16
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

/* Options: ecli run tcpaccept --pid N --port N */
const volatile pid_t targ_pid = 0;
const volatile u16 targ_port = 0;

struct event {
	pid_t pid;
	char comm[TASK_COMM_LEN];
	u8 laddr[16];
	u16 lport;
	u8 raddr[16];
	u16 rport;
};

ECLI_RINGBUF(events, struct event, 256 * 1024);

/* IPv4 addresses are shown IPv4-mapped (::ffff:a.b.c.d), as IPv6 sockets see them. */
static __always_inline void mapped(u8 *out, u32 ipv4)
{
	out[10] = out[11] = 0xff;
	__builtin_memcpy(&out[12], &ipv4, 4);
}

static __always_inline int accepted(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds, *file = NULL;
	struct socket *sock;
	struct sock *sk;
	struct event *e;
	u16 family, lport;
	pid_t pid = bpf_get_current_pid_tgid() >> 32;

	if (fd < 0 || (targ_pid && targ_pid != pid))
		return 0;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	if ((family != AF_INET && family != AF_INET6) || (targ_port && targ_port != lport))
		return 0;
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->pid = pid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->lport = lport;
	e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		mapped(e->laddr, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		mapped(e->raddr, BPF_CORE_READ(sk, __sk_common.skc_daddr));
	} else {
		BPF_CORE_READ_INTO(&e->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	return accepted(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
	return accepted(ctx->ret);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
