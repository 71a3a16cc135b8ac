// tp_btf on sched_process_exec: a BTF-typed raw tracepoint, whose arguments are
// kernel pointers read directly (the file that was executed).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "attach_event.h"

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	send_kernel_name(BPF_CORE_READ(bprm, filename), 0);
	count_call();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
