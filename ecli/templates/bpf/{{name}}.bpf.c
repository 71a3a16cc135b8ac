// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * {{name}}: one event per openat() call. Kernel side only: `ecli run` loads it,
 * turns `const volatile` globals into options (--pid) and prints each event
 * of the ring buffer decoded from `struct event` (see ecli.h).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <ecli.h>

#define COMM_LEN 16
#define PATH_LEN 256

struct event {
	__u32 pid;
	char comm[COMM_LEN];
	char filename[PATH_LEN];
};

const volatile __u32 target_pid = 0;

ECLI_RINGBUF(events, struct event, 256 * 1024);

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
