// fentry and fexit on do_unlinkat, through BPF trampolines: the name unlinked (an event
// at entry) and the return value (an event at exit, with the same name).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "attach_event.h"

SEC("fentry/do_unlinkat")
int BPF_PROG(unlink_entry, int dfd, struct filename *name)
{
	send_kernel_name(BPF_CORE_READ(name, name), 0);
	return 0;
}

SEC("fexit/do_unlinkat")
int BPF_PROG(unlink_exit, int dfd, struct filename *name, long ret)
{
	send_kernel_name(BPF_CORE_READ(name, name), ret);
	count_call();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
