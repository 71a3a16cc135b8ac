// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// sigsnoop: every signal the kernel generates, whoever raised it (kill(2), the kernel on a
// fault, a timer, the OOM killer...): sender, target, signal and result.
// Tracepoint signal:signal_generate; no kprobes.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"

#define TASK_COMM_LEN 16

/* Options: ecli run sigsnoop --pid N --target N --signal N --failed */
const volatile pid_t targ_pid = 0;
const volatile pid_t targ_target = 0;
const volatile int targ_sig = 0;
const volatile bool targ_failed = false;

/* What became of the signal (enum trace_signal_deliver in the kernel). */
enum signal_result {
	DELIVERED = 0, IGNORED, ALREADY_PENDING, OVERFLOW_FAIL, LOSE_INFO,
};

struct event {
	pid_t pid;
	char comm[TASK_COMM_LEN];
	pid_t tpid;
	char tcomm[TASK_COMM_LEN];
	int sig;
	enum signal_result result;
};

ECLI_RINGBUF(events, struct event, 256 * 1024);

SEC("tracepoint/signal/signal_generate")
int handle_generate(struct trace_event_raw_signal_generate *ctx)
{
	pid_t pid = bpf_get_current_pid_tgid() >> 32;
	struct event *e;

	if (targ_pid && targ_pid != pid)
		return 0;
	if (targ_target && targ_target != ctx->pid)
		return 0;
	if (targ_sig && targ_sig != ctx->sig)
		return 0;
	if (targ_failed && ctx->result == DELIVERED)
		return 0;
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		return 0;
	e->pid = pid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->tpid = ctx->pid;
	bpf_probe_read_kernel(e->tcomm, sizeof(e->tcomm), ctx->comm); /* ctx fields: no memcpy */
	e->sig = ctx->sig;
	e->result = ctx->result;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
