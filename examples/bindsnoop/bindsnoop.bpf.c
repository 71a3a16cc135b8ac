// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// bindsnoop: every bind(2) of an IPv4 or IPv6 socket: the process, address, port and result
// (who is about to listen where, and who failed with EADDRINUSE).
// Tracepoints syscalls:sys_enter_bind and sys_exit_bind; no kprobes.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ecli.h"

#define TASK_COMM_LEN 16
#define AF_INET 2
#define AF_INET6 10

/* Options: ecli run bindsnoop --pid N --port N --failed */
const volatile pid_t targ_pid = 0;
const volatile u16 targ_port = 0;
const volatile bool targ_failed = false;

struct event {
	pid_t pid;
	char comm[TASK_COMM_LEN];
	int fd;
	u8 addr[16];
	u16 port;
	int ret;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct event);
} binds SEC(".maps");

ECLI_RINGBUF(events, struct event, 256 * 1024);

SEC("tracepoint/syscalls/sys_enter_bind")
int handle_enter(struct trace_event_raw_sys_enter *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id;
	struct sockaddr_in6 sa = {};
	struct event e = {};

	e.pid = id >> 32;
	if (targ_pid && targ_pid != e.pid)
		return 0;
	if (bpf_probe_read_user(&sa, sizeof(sa), (void *)ctx->args[1]) &&
	    bpf_probe_read_user(&sa, sizeof(struct sockaddr_in), (void *)ctx->args[1]))
		return 0;
	if (sa.sin6_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&sa;

		e.addr[10] = e.addr[11] = 0xff; /* IPv4-mapped, ::ffff:a.b.c.d */
		__builtin_memcpy(&e.addr[12], &in->sin_addr, 4);
	} else if (sa.sin6_family == AF_INET6) {
		__builtin_memcpy(e.addr, &sa.sin6_addr, 16);
	} else {
		return 0;
	}
	e.port = bpf_ntohs(sa.sin6_port);
	if (targ_port && targ_port != e.port)
		return 0;
	e.fd = (int)ctx->args[0];
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	bpf_map_update_elem(&binds, &tid, &e, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int handle_exit(struct trace_event_raw_sys_exit *ctx)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct event *pending, *e;

	pending = bpf_map_lookup_elem(&binds, &tid);
	if (!pending)
		return 0;
	if (targ_failed && ctx->ret >= 0)
		goto cleanup;
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		goto cleanup;
	__builtin_memcpy(e, pending, sizeof(*e));
	e->ret = ctx->ret;
	bpf_ringbuf_submit(e, 0);
cleanup:
	bpf_map_delete_elem(&binds, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
