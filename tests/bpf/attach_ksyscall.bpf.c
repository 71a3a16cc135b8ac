// ksyscall and kretsyscall on unlinkat(2) (Python's os.unlink with dir_fd; arm64 has no
// unlink(2)): libbpf finds the syscall's kernel symbol (__x64_sys_unlinkat,
// __arm64_sys_unlinkat) and reads the arguments through its pt_regs.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "attach_event.h"

SEC("ksyscall/unlinkat")
int BPF_KSYSCALL(unlink_entry, int dfd, const char *pathname)
{
	send_user_name(pathname);
	return 0;
}

SEC("kretsyscall/unlinkat")
int BPF_KRETPROBE(unlink_return, long ret)
{
	count_call();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
