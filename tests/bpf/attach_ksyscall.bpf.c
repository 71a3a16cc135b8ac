// ksyscall and kretsyscall on unlink(2) (what Python's os.unlink calls): libbpf finds
// the syscall's kernel symbol (__x64_sys_unlink) and reads the arguments through its pt_regs.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "attach_event.h"

SEC("ksyscall/unlink")
int BPF_KSYSCALL(unlink_entry, const char *pathname)
{
	send_user_name(pathname);
	return 0;
}

SEC("kretsyscall/unlink")
int BPF_KRETPROBE(unlink_return, long ret)
{
	count_call();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
