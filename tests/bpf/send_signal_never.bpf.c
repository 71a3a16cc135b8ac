// A "dangerous" program that is safe to run: it calls bpf_send_signal (so the analysis
// flags it and `ecli run` asks first), but only when a .bss variable that nothing ever
// writes holds a value it never holds. Each openat is sent as an event.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct signal_event {
	u32 pid;
	char fname[48];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
	__type(value, struct signal_event);
} events SEC(".maps");

volatile u32 never_written; /* .bss: zero, and no one writes it */

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct signal_event *e;

	if (never_written == 0x5eadbeef && pid == never_written)
		bpf_send_signal(9);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = pid;
	bpf_probe_read_user_str(e->fname, sizeof(e->fname), (const char *)ctx->args[1]);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
