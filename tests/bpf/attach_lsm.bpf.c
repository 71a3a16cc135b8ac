// lsm/path_unlink: a BPF LSM hook that refuses to unlink files named
// "ecli-lsm-keep" (-EPERM) and reports every unlink it sees with its verdict.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "attach_event.h"

#define EPERM 1

SEC("lsm/path_unlink")
int BPF_PROG(refuse_unlink, const struct path *dir, struct dentry *dentry, int ret)
{
	const char keep[] = "ecli-lsm-keep";
	struct event *e;
	char name[16] = {};
	__u8 differ = 0;

	// `ret` is what the LSMs before this one decided: always 0 here, as the kernel stops
	// at the first refusal. Newer verifiers (Debian's 6.12) check that an LSM program
	// returns 0 or an errno, so each return below is a constant on its own path.
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(dentry, d_name.name));
	for (int i = 0; i < sizeof(keep); i++)  // no branch per byte: 6.1's verifier would
		differ |= name[i] ^ keep[i];     // walk every combination of them
	e = start_event();
	if (e) {
		e->ret = differ ? 0 : -EPERM;
		__builtin_memcpy(e->name, name, sizeof(name));
		bpf_ringbuf_submit(e, 0);
	}
	count_call();
	if (!differ) {
		asm volatile("" ::: "memory");  // a branch, not arithmetic on `differ`
		return -EPERM;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
