// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// tcptop: TCP throughput by process and connection: bytes sent and received through each
// socket, IPv4 and IPv6, largest first (running totals, at exit and every --interval).
// Tracepoints sock:sock_send_length and sock:sock_recv_length (Linux 6.3+); the addresses
// are read from the socket with CO-RE.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#define TASK_COMM_LEN 16
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define ADDR_LEN 48

/* Options: ecli run tcptop --pid N --interval 1 */
const volatile pid_t targ_pid = 0;

struct conn_key {
	pid_t pid;
	char comm[TASK_COMM_LEN];
	char laddr[ADDR_LEN];
	u16 lport;
	char raddr[ADDR_LEN];
	u16 rport;
};

struct traffic {
	u64 tx_bytes;
	u64 rx_bytes;
};

/* Printed at exit and every --interval: its name ends in _counts. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct conn_key);
	__type(value, struct traffic);
} traffic_counts SEC(".maps");

/* Map keys are shown as they are: the addresses are written out here, as text. */
static __always_inline void ipv4_text(char *out, u32 ipv4)
{
	u64 args[] = { (u64)&ipv4 };

	bpf_snprintf(out, ADDR_LEN, "%pI4", args, sizeof(args));
}

/* An IPv4-mapped address (::ffff:a.b.c.d, an IPv4 peer of an IPv6 socket) as IPv4. */
static __always_inline void ipv6_text(char *out, struct in6_addr ipv6)
{
	u32 *words = ipv6.in6_u.u6_addr32;
	u64 args[] = { (u64)&ipv6 };

	if (!words[0] && !words[1] && words[2] == bpf_htonl(0xffff))
		ipv4_text(out, words[3]);
	else
		bpf_snprintf(out, ADDR_LEN, "%pI6", args, sizeof(args));
}

static __always_inline int account(struct trace_event_raw_sock_msg_length *ctx, bool sent)
{
	struct sock *sk = (struct sock *)ctx->sk;
	u16 family = ctx->family;
	int bytes = ctx->ret;
	struct conn_key key = {};
	struct traffic *t, fresh = {};

	if (ctx->protocol != IPPROTO_TCP || bytes <= 0 || (family != AF_INET && family != AF_INET6))
		return 0;
	key.pid = bpf_get_current_pid_tgid() >> 32;
	if (targ_pid && targ_pid != key.pid)
		return 0;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	key.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	key.rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		ipv4_text(key.laddr, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		ipv4_text(key.raddr, BPF_CORE_READ(sk, __sk_common.skc_daddr));
	} else {
		ipv6_text(key.laddr, BPF_CORE_READ(sk, __sk_common.skc_v6_rcv_saddr));
		ipv6_text(key.raddr, BPF_CORE_READ(sk, __sk_common.skc_v6_daddr));
	}
	t = bpf_map_lookup_elem(&traffic_counts, &key);
	if (!t) {
		bpf_map_update_elem(&traffic_counts, &key, &fresh, BPF_NOEXIST);
		t = bpf_map_lookup_elem(&traffic_counts, &key);
		if (!t)
			return 0;
	}
	if (sent)
		__sync_fetch_and_add(&t->tx_bytes, bytes);
	else
		__sync_fetch_and_add(&t->rx_bytes, bytes);
	return 0;
}

SEC("tracepoint/sock/sock_send_length")
int handle_send(struct trace_event_raw_sock_msg_length *ctx)
{
	return account(ctx, true);
}

SEC("tracepoint/sock/sock_recv_length")
int handle_recv(struct trace_event_raw_sock_msg_length *ctx)
{
	return account(ctx, false);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
