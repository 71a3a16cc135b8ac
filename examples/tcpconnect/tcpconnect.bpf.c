// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// tcpconnect: outgoing TCP connections (connect()), IPv4 and IPv6: the process, addresses
// and ports, whether the connection was established or failed, and how long the handshake
// took. Tracepoint sock:inet_sock_set_state (SYN_SENT, then ESTABLISHED or CLOSE).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"

#define TASK_COMM_LEN 16
#define IPPROTO_TCP 6
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7

/* Options: ecli run tcpconnect --pid N --dport N --failed */
const volatile pid_t targ_pid = 0;
const volatile u16 targ_dport = 0;
const volatile bool targ_failed = false;

enum connect_result { CONNECTED = 0, FAILED = 1 };

struct connector {
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
	enum connect_result result;
	u64 latency_ns;
};

/* Sockets in SYN_SENT, by address: who called connect() and when. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u64);
	__type(value, struct connector);
} connecting SEC(".maps");

ECLI_RINGBUF(events, struct event, 256 * 1024);

SEC("tracepoint/sock/inet_sock_set_state")
int handle_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	u64 sk = (u64)ctx->skaddr;
	struct connector *c, fresh = {};
	struct event *e;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	if (ctx->newstate == TCP_SYN_SENT) {
		/* connect() runs in the caller's context: this is who connects. */
		fresh.pid = bpf_get_current_pid_tgid() >> 32;
		if (targ_pid && targ_pid != fresh.pid)
			return 0;
		if (targ_dport && targ_dport != ctx->dport)
			return 0;
		fresh.ts = bpf_ktime_get_ns();
		bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
		bpf_map_update_elem(&connecting, &sk, &fresh, BPF_ANY);
		return 0;
	}
	if (ctx->oldstate != TCP_SYN_SENT)
		return 0;
	c = bpf_map_lookup_elem(&connecting, &sk);
	if (!c)
		return 0;
	if (targ_failed && ctx->newstate == TCP_ESTABLISHED)
		goto cleanup;
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		goto cleanup;
	e->pid = c->pid;
	__builtin_memcpy(e->comm, c->comm, sizeof(e->comm));
	/* The tracepoint gives IPv4 addresses IPv4-mapped in its v6 fields too. */
	bpf_probe_read_kernel(e->saddr, sizeof(e->saddr), ctx->saddr_v6);
	bpf_probe_read_kernel(e->daddr, sizeof(e->daddr), ctx->daddr_v6);
	e->sport = ctx->sport;
	e->dport = ctx->dport;
	e->result = ctx->newstate == TCP_ESTABLISHED ? CONNECTED : FAILED;
	e->latency_ns = bpf_ktime_get_ns() - c->ts;
	bpf_ringbuf_submit(e, 0);
cleanup:
	bpf_map_delete_elem(&connecting, &sk);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
