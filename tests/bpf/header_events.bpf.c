// Plain clang, libbpf-tools style: `struct event` comes from header_events.h and is only
// reached through a local pointer, so the object's BTF lacks it (ecli run --event-header).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "header_events.h"

#define O_CREAT 0100

const volatile int targ_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct event *e;

	if (targ_pid && pid != targ_pid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->who.pid = pid;
	e->who.uid = (u32)bpf_get_current_uid_gid();
	e->tag = ((unsigned __int128)pid << 64) | 42;
	e->kind = (ctx->args[2] & O_CREAT) ? OPEN_CREATE : OPEN_PLAIN;
	e->dfd_low = (__u16)ctx->args[0];
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->fname, sizeof(e->fname), (const char *)ctx->args[1]);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
