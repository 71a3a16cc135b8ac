// For the hub's inspection tests: a program that calls the helpers the hub must flag
// (bpf_probe_write_user is dangerous, bpf_send_signal too), an XDP program (network
// hook) and a ring buffer (5.8). It is only compiled and read, never loaded.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int on_open(struct trace_event_raw_sys_enter *ctx)
{
	char zero[4] = {};
	long *slot = bpf_ringbuf_reserve(&events, sizeof(long), 0);
	if (slot) {
		*slot = bpf_get_current_pid_tgid();
		bpf_ringbuf_submit(slot, 0);
	}
	bpf_probe_write_user((void *)ctx->args[1], zero, sizeof(zero));
	if (ctx->args[2] == 12345)
		bpf_send_signal(9);
	return 0;
}

SEC("xdp")
int drop_all(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
