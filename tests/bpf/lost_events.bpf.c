// A ring buffer far too small for a burst: ecli must count what it drops.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"

const volatile int targ_pid = 0;

struct burst_event {
	u32 seq;
	char pad[1020];
};

ECLI_RINGBUF(burst, struct burst_event, 4096);

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32;

	if (targ_pid && pid != targ_pid)
		return 0;
	for (u32 i = 0; i < 16; i++) {
		struct burst_event *e = ecli_ringbuf_reserve(burst, sizeof(*e));

		if (!e)
			continue;
		e->seq = i;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
