// Load for bench/throughput.py: the events of getppid_events.bpf.c through a perf
// event array (64 pages per CPU as ecli maps it) instead of a ring buffer.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "getppid_event.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__type(value, struct event);
} events SEC(".maps");

u64 counter = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct event e = {};

	if (targ_pid && pid != targ_pid)
		return 0;
	e.pid = pid;
	e.cpu = bpf_get_smp_processor_id();
	e.seq = __sync_fetch_and_add(&counter, 1);
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
