// bumblebee style: a print_ ring buffer of open events with no filter in the
// kernel (ecli's --filter chooses), a counter_ map keyed by pid and comm.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct open_event {
	__u32 pid;
	__s32 dfd;
	char comm[16];
	char fname[64];
};

struct opener {
	__u32 pid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
	__type(value, struct open_event);
} print_opens SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct opener);
	__type(value, __u64);
} counter_openers SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	struct opener who = {};
	struct open_event *e;
	__u64 one = 1, *count;

	who.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(who.comm, sizeof(who.comm));
	count = bpf_map_lookup_elem(&counter_openers, &who);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&counter_openers, &who, &one, BPF_NOEXIST);
	e = bpf_ringbuf_reserve(&print_opens, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = who.pid;
	e->dfd = ctx->args[0];
	__builtin_memcpy(e->comm, who.comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->fname, sizeof(e->fname), (const char *)ctx->args[1]);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
