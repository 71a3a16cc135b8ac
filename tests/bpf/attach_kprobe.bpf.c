// kprobe and kretprobe on do_sys_openat2: the file each open names (an event), and
// how many opens returned, by comm (a map). Needs kprobes: the guest kernels have them.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "attach_event.h"

SEC("kprobe/do_sys_openat2")
int BPF_KPROBE(open_entry, int dfd, const char *filename)
{
	send_user_name(filename);
	return 0;
}

SEC("kretprobe/do_sys_openat2")
int BPF_KRETPROBE(open_return, long ret)
{
	count_call();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
