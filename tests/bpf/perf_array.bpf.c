// libbpf-tools style: a perf event array whose BTF does not name the event type.
// ecli must infer `struct perf_event_t` from the size passed to bpf_perf_event_output
// (the unused pointer below only keeps the struct in BTF).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile int targ_pid = 0;

struct perf_event_t {
	u32 pid;
	s32 dfd;
	char fname[64];
};

/* Keeps the struct in BTF, as eunomia-bpf programs do; not an option (a pointer). */
const volatile struct perf_event_t *unused_perf_event = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	struct perf_event_t e = {};

	e.pid = bpf_get_current_pid_tgid() >> 32;
	if (targ_pid && e.pid != targ_pid)
		return 0;
	e.dfd = (s32)ctx->args[0];
	bpf_probe_read_user_str(e.fname, sizeof(e.fname), (const char *)ctx->args[1]);
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
