// eunomia-bpf style: a ring buffer with no value type; the event struct is known only
// through the size given to bpf_ringbuf_reserve.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile int targ_pid = 0;

struct plain_event {
	u32 pid;
	u64 flags;
	char fname[48];
};

struct plain_event *unused __attribute__((unused)); /* eunomia-bpf's way to keep it in BTF */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} rb SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct plain_event *e;

	if (targ_pid && pid != targ_pid)
		return 0;
	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = pid;
	e->flags = ctx->args[2];
	bpf_probe_read_user_str(e->fname, sizeof(e->fname), (const char *)ctx->args[1]);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
