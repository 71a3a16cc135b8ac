// iter/task: one line per task, "pid comm", written to the iterator's seq_file;
// `ecli run` reads it from a bpf_iter link, prints it and exits.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("iter/task")
int list_tasks(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	if (task->pid == task->tgid)  // processes, not each thread
		BPF_SEQ_PRINTF(seq, "%d %s\n", task->tgid, task->comm);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
