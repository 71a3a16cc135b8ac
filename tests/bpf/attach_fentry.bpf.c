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
	struct event *e = start_event();

	if (!e)
		return 0;
	bpf_probe_read_kernel_str(e->name, sizeof(e->name), BPF_CORE_READ(name, name));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("fexit/do_unlinkat")
int BPF_PROG(unlink_exit, int dfd, struct filename *name, long ret)
{
	struct event *e = start_event();

	if (!e)
		return 0;
	e->ret = ret;
	bpf_probe_read_kernel_str(e->name, sizeof(e->name), BPF_CORE_READ(name, name));
	bpf_ringbuf_submit(e, 0);
	count_call();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
