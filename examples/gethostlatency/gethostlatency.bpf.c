// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// gethostlatency: every host name lookup through libc (getaddrinfo, gethostbyname,
// gethostbyname2): the process, the name, how long the resolver took (DNS included) and
// whether it answered. Uprobes and uretprobes on libc.so.6.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"

#define TASK_COMM_LEN 16
#define HOST_LEN 128

/* Options: ecli run gethostlatency --pid N --min-us N */
const volatile pid_t targ_pid = 0;
const volatile u64 min_us = 0;

struct event {
	pid_t pid;
	char comm[TASK_COMM_LEN];
	int ret;  /* getaddrinfo: 0 or an EAI_* code; gethostbyname: 0 found, -1 not */
	u64 latency_ns;
	char host[HOST_LEN];
};

struct lookup {
	u64 ts;
	char host[HOST_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct lookup);
} lookups SEC(".maps");

ECLI_RINGBUF(events, struct event, 256 * 1024);

static __always_inline int enter(struct pt_regs *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id;
	struct lookup l = {};

	if (targ_pid && targ_pid != id >> 32)
		return 0;
	bpf_probe_read_user_str(l.host, sizeof(l.host), (const char *)ecli_arg(ctx, 0));
	l.ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&lookups, &tid, &l, BPF_ANY);
	return 0;
}

/* getaddrinfo returns its code; the gethostbyname family a pointer (NULL: not found). */
static __always_inline int leave(struct pt_regs *ctx, bool returns_pointer)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct lookup *l = bpf_map_lookup_elem(&lookups, &tid);
	u64 delta;
	struct event *e;

	if (!l)
		return 0;
	delta = bpf_ktime_get_ns() - l->ts;
	if (delta < min_us * 1000)
		goto cleanup;
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		goto cleanup;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->ret = returns_pointer ? (ecli_ret(ctx) ? 0 : -1) : (int)ecli_ret(ctx);
	e->latency_ns = delta;
	__builtin_memcpy(e->host, l->host, sizeof(e->host));
	bpf_ringbuf_submit(e, 0);
cleanup:
	bpf_map_delete_elem(&lookups, &tid);
	return 0;
}

SEC("uprobe/libc.so.6:getaddrinfo")
int getaddrinfo_enter(struct pt_regs *ctx) { return enter(ctx); }
SEC("uretprobe/libc.so.6:getaddrinfo")
int getaddrinfo_return(struct pt_regs *ctx) { return leave(ctx, false); }
SEC("uprobe/libc.so.6:gethostbyname")
int gethostbyname_enter(struct pt_regs *ctx) { return enter(ctx); }
SEC("uretprobe/libc.so.6:gethostbyname")
int gethostbyname_return(struct pt_regs *ctx) { return leave(ctx, true); }
SEC("uprobe/libc.so.6:gethostbyname2")
int gethostbyname2_enter(struct pt_regs *ctx) { return enter(ctx); }
SEC("uretprobe/libc.so.6:gethostbyname2")
int gethostbyname2_return(struct pt_regs *ctx) { return leave(ctx, true); }

char LICENSE[] SEC("license") = "GPL";
