// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// oomkill: every process the out-of-memory killer picks: the victim, its memory at the
// time, and the process whose allocation triggered it. Tracepoint oom:mark_victim.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"

#define TASK_COMM_LEN 16

struct event {
	pid_t pid;
	char comm[TASK_COMM_LEN];
	pid_t victim_pid;
	char victim_comm[TASK_COMM_LEN];
	uid_t victim_uid;
	u64 total_vm_kb;
	u64 anon_rss_kb;
	u64 file_rss_kb;
	short oom_score_adj;
};

ECLI_RINGBUF(events, struct event, 64 * 1024);

SEC("tracepoint/oom/mark_victim")
int handle_mark_victim(struct trace_event_raw_mark_victim *ctx)
{
	u32 comm_at = ctx->__data_loc_comm & 0xffff; /* __data_loc: offset in the low half */
	struct event *e;

	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		return 0;
	/* The allocating task runs the OOM killer: current is who triggered it. */
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->victim_pid = ctx->pid;
	bpf_probe_read_kernel_str(e->victim_comm, sizeof(e->victim_comm), (void *)ctx + comm_at);
	e->victim_uid = ctx->uid;
	e->total_vm_kb = ctx->total_vm;
	e->anon_rss_kb = ctx->anon_rss;
	e->file_rss_kb = ctx->file_rss;
	e->oom_score_adj = ctx->oom_score_adj;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
