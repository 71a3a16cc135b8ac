// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// tcpstates: every TCP state change (connect, accept, close...) with addresses, ports
// and how long the socket spent in its previous state. Tracepoint sock:inet_sock_set_state.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"

#define AF_INET 2
#define IPPROTO_TCP 6

/* Options: ecli run tcpstates --sport N --dport N */
const volatile __u16 targ_sport = 0;
const volatile __u16 targ_dport = 0;

enum tcp_state_name {
	ESTABLISHED = 1, SYN_SENT, SYN_RECV, FIN_WAIT1, FIN_WAIT2, TIME_WAIT,
	CLOSE, CLOSE_WAIT, LAST_ACK, LISTEN, CLOSING, NEW_SYN_RECV,
};

struct event {
	pid_t pid;
	char comm[16];
	u32 saddr;
	u32 daddr;
	u16 sport;
	u16 dport;
	enum tcp_state_name oldstate;
	enum tcp_state_name newstate;
	u64 delta_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u64);
	__type(value, u64);
} timestamps SEC(".maps");

ECLI_RINGBUF(events, struct event, 256 * 1024);

SEC("tracepoint/sock/inet_sock_set_state")
int handle_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	u64 sk = (u64)ctx->skaddr, now = bpf_ktime_get_ns(), *before;
	struct event *e;

	if (ctx->protocol != IPPROTO_TCP || ctx->family != AF_INET)
		return 0;
	if (targ_sport && ctx->sport != targ_sport)
		return 0;
	if (targ_dport && ctx->dport != targ_dport)
		return 0;
	before = bpf_map_lookup_elem(&timestamps, &sk);
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (e) {
		e->pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		__builtin_memcpy(&e->saddr, ctx->saddr, 4);
		__builtin_memcpy(&e->daddr, ctx->daddr, 4);
		e->sport = ctx->sport;
		e->dport = ctx->dport;
		e->oldstate = ctx->oldstate;
		e->newstate = ctx->newstate;
		e->delta_ns = before ? now - *before : 0;
		bpf_ringbuf_submit(e, 0);
	}
	if (ctx->newstate == CLOSE)
		bpf_map_delete_elem(&timestamps, &sk);
	else
		bpf_map_update_elem(&timestamps, &sk, &now, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
