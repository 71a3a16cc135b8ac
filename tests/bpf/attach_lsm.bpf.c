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
	int verdict = 0;

	// `ret` is what the LSMs before this one decided: always 0 here, as the kernel stops
	// at the first refusal. Returning it would fail newer verifiers, which check that an
	// LSM program returns 0 or an errno (the range of `ret` is unknown to them).
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(dentry, d_name.name));
	verdict = -EPERM;
	for (int i = 0; i < sizeof(keep); i++)
		if (name[i] != keep[i])
			verdict = 0;
	e = start_event();
	if (e) {
		e->ret = verdict;
		__builtin_memcpy(e->name, name, sizeof(name));
		bpf_ringbuf_submit(e, 0);
	}
	count_call();
	return verdict;
}

char LICENSE[] SEC("license") = "GPL";
