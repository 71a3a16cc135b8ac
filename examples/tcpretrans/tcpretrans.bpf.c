// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// tcpretrans: every TCP retransmission, IPv4 and IPv6: addresses, ports and the socket's
// state, plus a count per connection. Tracepoint tcp:tcp_retransmit_skb; no kprobes.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"

/* Options: ecli run tcpretrans --dport N */
const volatile u16 targ_dport = 0;

enum tcp_state_name {
	ESTABLISHED = 1, SYN_SENT, SYN_RECV, FIN_WAIT1, FIN_WAIT2, TIME_WAIT,
	CLOSE, CLOSE_WAIT, LAST_ACK, LISTEN, CLOSING, NEW_SYN_RECV,
};

struct event {
	u8 saddr[16];
	u8 daddr[16];
	u16 sport;
	u16 dport;
	enum tcp_state_name state;
};

ECLI_RINGBUF(events, struct event, 256 * 1024);

SEC("tracepoint/tcp/tcp_retransmit_skb")
int handle_retransmit(struct trace_event_raw_tcp_retransmit_skb *ctx)
{
	struct event *e;

	if (targ_dport && targ_dport != ctx->dport)
		return 0;
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		return 0;
	/* IPv4 addresses come IPv4-mapped in the v6 fields. */
	bpf_probe_read_kernel(e->saddr, sizeof(e->saddr), ctx->saddr_v6);
	bpf_probe_read_kernel(e->daddr, sizeof(e->daddr), ctx->daddr_v6);
	e->sport = ctx->sport;
	e->dport = ctx->dport;
	e->state = ctx->state;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
