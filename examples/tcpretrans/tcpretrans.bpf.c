// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// tcpretrans: every TCP retransmission, IPv4 and IPv6: addresses, ports and the socket's
// state, plus a count per connection. Tracepoint tcp:tcp_retransmit_skb; no kprobes.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
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

/* Before Linux 6.10 or so, tcp_retransmit_skb was an event of the class tcp_event_sk_skb
 * (same fields, no err); vmlinux.h, from a newer kernel, lacks that record. CO-RE ignores
 * the suffix after ___ and checks which of the two this kernel has. */
struct trace_event_raw_tcp_event_sk_skb___old {
	int state;
	__u16 sport;
	__u16 dport;
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
} __attribute__((preserve_access_index));

/* The same reads from either record: IPv4 addresses come IPv4-mapped in the v6 fields. */
#define RETRANSMIT(tp)                                                                  \
	({                                                                              \
		struct event *e = NULL;                                                 \
		if (!targ_dport || targ_dport == (tp)->dport)                           \
			e = ecli_ringbuf_reserve(events, sizeof(*e));                   \
		if (e) {                                                                \
			bpf_probe_read_kernel(e->saddr, sizeof(e->saddr), (tp)->saddr_v6); \
			bpf_probe_read_kernel(e->daddr, sizeof(e->daddr), (tp)->daddr_v6); \
			e->sport = (tp)->sport;                                         \
			e->dport = (tp)->dport;                                         \
			e->state = (tp)->state;                                         \
			bpf_ringbuf_submit(e, 0);                                       \
		}                                                                       \
		0;                                                                      \
	})

SEC("tracepoint/tcp/tcp_retransmit_skb")
int handle_retransmit(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb))
		return RETRANSMIT((struct trace_event_raw_tcp_retransmit_skb *)ctx);
	return RETRANSMIT((struct trace_event_raw_tcp_event_sk_skb___old *)ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
