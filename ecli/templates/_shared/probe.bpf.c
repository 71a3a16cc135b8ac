// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel side: one event per openat() call, sent through a ring buffer.
 * CO-RE: compiled once against vmlinux.h, relocated by libbpf on each kernel.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define COMM_LEN 16
#define PATH_LEN 256

/* The layout user space decodes: keep the two sides in step. */
struct event {
	__u32 pid;
	char comm[COMM_LEN];
	char filename[PATH_LEN];
};

/* Set by user space before loading (0: every process). */
const volatile __u32 target_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Keeps `struct event` in the object's BTF for tools that read it. */
const struct event *unused_event __attribute__((unused));

SEC("tracepoint/syscalls/sys_enter_openat")
int handle_openat(struct trace_event_raw_sys_enter *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct event *e;

	if (target_pid && pid != target_pid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = pid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), (const char *)ctx->args[1]);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
