// Events of no known type: sizes vary at run time, so ecli prints a hex-and-strings dump.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile int targ_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} raw SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	char buf[32] = {};
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	long n;
	u32 size;

	if (targ_pid && pid != targ_pid)
		return 0;
	n = bpf_probe_read_user_str(buf, sizeof(buf), (const char *)ctx->args[1]);
	if (n <= 0)
		return 0;
	size = n > 31 ? 31 : n; /* a size known only at run time */
	bpf_ringbuf_output(&raw, buf, size, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
