// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// tcplife: one line per TCP connection when it closes: addresses, ports, bytes received
// and sent, and how long it lived. Tracepoint sock:inet_sock_set_state; the byte counts
// are read from the socket (struct tcp_sock) with CO-RE.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "ecli.h"

#define TASK_COMM_LEN 16
#define IPPROTO_TCP 6
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_FIN_WAIT1 4
#define TCP_CLOSE 7
#define TCP_LAST_ACK 9

/* Options: ecli run tcplife --pid N --sport N --dport N */
const volatile pid_t targ_pid = 0;
const volatile u16 targ_sport = 0;
const volatile u16 targ_dport = 0;

struct life {
	u64 ts;
	pid_t pid;
	char comm[TASK_COMM_LEN];
};

struct event {
	pid_t pid;
	char comm[TASK_COMM_LEN];
	u8 saddr[16];
	u8 daddr[16];
	u16 sport;
	u16 dport;
	u64 rx_bytes;
	u64 tx_bytes;
	u64 duration_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u64);
	__type(value, struct life);
} lives SEC(".maps");

ECLI_RINGBUF(events, struct event, 256 * 1024);

/* connect() and close() run in the owner's context: the pid seen there is the owner's. */
static __always_inline bool in_owner_context(int newstate)
{
	return newstate == TCP_SYN_SENT || newstate == TCP_FIN_WAIT1 || newstate == TCP_LAST_ACK;
}

SEC("tracepoint/sock/inet_sock_set_state")
int handle_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	u64 sk = (u64)ctx->skaddr;
	struct tcp_sock *tp = (struct tcp_sock *)ctx->skaddr;
	struct life *l, fresh = {};
	struct event *e;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	if (targ_sport && targ_sport != ctx->sport)
		return 0;
	if (targ_dport && targ_dport != ctx->dport)
		return 0;
	l = bpf_map_lookup_elem(&lives, &sk);
	if (ctx->newstate != TCP_CLOSE) {
		if (!l && (ctx->newstate == TCP_SYN_SENT || ctx->newstate == TCP_SYN_RECV ||
			   ctx->oldstate == TCP_SYN_RECV)) {
			fresh.ts = bpf_ktime_get_ns();
			bpf_map_update_elem(&lives, &sk, &fresh, BPF_ANY);
			l = bpf_map_lookup_elem(&lives, &sk);
		}
		if (l && in_owner_context(ctx->newstate)) {
			l->pid = bpf_get_current_pid_tgid() >> 32;
			bpf_get_current_comm(l->comm, sizeof(l->comm));
		}
		return 0;
	}
	if (!l)
		return 0;
	if (targ_pid && targ_pid != l->pid)
		goto cleanup;
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		goto cleanup;
	e->pid = l->pid;
	__builtin_memcpy(e->comm, l->comm, sizeof(e->comm));
	bpf_probe_read_kernel(e->saddr, sizeof(e->saddr), ctx->saddr_v6);
	bpf_probe_read_kernel(e->daddr, sizeof(e->daddr), ctx->daddr_v6);
	e->sport = ctx->sport;
	e->dport = ctx->dport;
	e->rx_bytes = BPF_CORE_READ(tp, bytes_received);
	e->tx_bytes = BPF_CORE_READ(tp, bytes_acked);
	e->duration_ns = bpf_ktime_get_ns() - l->ts;
	bpf_ringbuf_submit(e, 0);
cleanup:
	bpf_map_delete_elem(&lives, &sk);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
