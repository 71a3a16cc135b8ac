// For `ecli run --metrics`: openat counted by result (an errno and a flag, decoded by the
// package's [metrics] labels), file name lengths as a linear histogram keyed by slot, and
// a counter map whose key has no BTF (exported with hex labels, counted).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u32 target_pid = 0;

struct result {
	__u32 err;
	__u32 failed;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct result);
	__type(value, __u64);
} open_results SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} name_lengths SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__uint(key_size, sizeof(__u32));
	__type(value, __u64);
} counter_raw SEC(".maps");

static __always_inline void bump(void *map, const void *key)
{
	__u64 one = 1, *n = bpf_map_lookup_elem(map, key);

	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(map, key, &one, BPF_NOEXIST);
}

static __always_inline int ours(void)
{
	return !target_pid || (bpf_get_current_pid_tgid() >> 32) == target_pid;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int on_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32, slot;
	char name[64];
	long len;

	if (!ours())
		return 0;
	len = bpf_probe_read_user_str(name, sizeof(name), (const char *)ctx->args[1]);
	slot = len > 0 ? (__u32)len / 8 : 0;
	bump(&name_lengths, &slot);
	bump(&counter_raw, &pid);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int on_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct result r = {};

	if (!ours())
		return 0;
	if (ctx->ret < 0) {
		r.err = -ctx->ret;
		r.failed = 1;
	}
	bump(&open_results, &r);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
