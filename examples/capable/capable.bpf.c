// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// capable: every capability check the kernel makes (CAP_SYS_ADMIN, CAP_NET_ADMIN...):
// which process asked for which capability, and whether it was granted. Use it to find the
// capabilities a container or service really needs. Tracepoint capability:cap_capable.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"

#define TASK_COMM_LEN 16

/* Options: ecli run capable --pid N --denied */
const volatile pid_t targ_pid = 0;
const volatile bool targ_denied = false;

/* Capability numbers, as in linux/capability.h. */
enum capability_name {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_KILL,
	CAP_SETGID, CAP_SETUID, CAP_SETPCAP, CAP_LINUX_IMMUTABLE, CAP_NET_BIND_SERVICE,
	CAP_NET_BROADCAST, CAP_NET_ADMIN, CAP_NET_RAW, CAP_IPC_LOCK, CAP_IPC_OWNER,
	CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_CHROOT, CAP_SYS_PTRACE, CAP_SYS_PACCT,
	CAP_SYS_ADMIN, CAP_SYS_BOOT, CAP_SYS_NICE, CAP_SYS_RESOURCE, CAP_SYS_TIME,
	CAP_SYS_TTY_CONFIG, CAP_MKNOD, CAP_LEASE, CAP_AUDIT_WRITE, CAP_AUDIT_CONTROL,
	CAP_SETFCAP, CAP_MAC_OVERRIDE, CAP_MAC_ADMIN, CAP_SYSLOG, CAP_WAKE_ALARM,
	CAP_BLOCK_SUSPEND, CAP_AUDIT_READ, CAP_PERFMON, CAP_BPF, CAP_CHECKPOINT_RESTORE,
};

enum verdict { GRANTED = 0, DENIED = 1 };

struct event {
	pid_t pid;
	uid_t uid;
	char comm[TASK_COMM_LEN];
	enum capability_name cap;
	enum verdict verdict;
};

ECLI_RINGBUF(events, struct event, 256 * 1024);

SEC("tracepoint/capability/cap_capable")
int handle_capable(struct trace_event_raw_cap_capable *ctx)
{
	pid_t pid = bpf_get_current_pid_tgid() >> 32;
	struct event *e;

	if (targ_pid && targ_pid != pid)
		return 0;
	if (targ_denied && ctx->ret == 0)
		return 0;
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		return 0;
	e->pid = pid;
	e->uid = (u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->cap = ctx->cap;
	e->verdict = ctx->ret == 0 ? GRANTED : DENIED;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
