// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// bashreadline: every command line typed into an interactive bash, from a uretprobe
// on bash's readline() (Debian's bash exports it).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "ecli.h"

#define MAX_LINE 256

struct event {
	pid_t pid;
	uid_t uid;
	char comm[16];
	char line[MAX_LINE];
};

ECLI_RINGBUF(events, struct event, 128 * 1024);

SEC("uretprobe//bin/bash:readline")
int BPF_KRETPROBE(printret, const void *ret)
{
	struct event *e;

	if (!ret)
		return 0;
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->uid = (u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->line, sizeof(e->line), ret);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
