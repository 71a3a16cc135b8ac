// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * {{name}}: one event per openat() call, written the eunomia-bpf way: only the kernel
 * side. `ecli build` packs it into build/package.json with its options (ecli.toml's
 * [options]) and its events (the struct of {{name}}.h), and `ecli run` (or eunomia-bpf's
 * own runner) prints each event of the ring buffer decoded from that description.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "{{name}}.h"

/* Set from the command line before loading (0: every process). */
const volatile int target_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} rb SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int handle_openat(struct trace_event_raw_sys_enter *ctx)
{
	int pid = bpf_get_current_pid_tgid() >> 32;
	struct event *e;

	if (target_pid && pid != target_pid)
		return 0;
	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = pid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), (const char *)ctx->args[1]);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
