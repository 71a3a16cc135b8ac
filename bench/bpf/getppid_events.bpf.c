// Load for bench/throughput.py: one event per getppid(2) of the target process.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "getppid_event.h"
#include "ecli.h"

ECLI_RINGBUF(events, struct event, 16 * 1024 * 1024);

u64 counter = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct event *e;

	if (targ_pid && pid != targ_pid)
		return 0;
	e = ecli_ringbuf_reserve(events, sizeof(*e));
	if (!e)
		return 0;
	e->pid = pid;
	e->cpu = bpf_get_smp_processor_id();
	e->seq = __sync_fetch_and_add(&counter, 1);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
