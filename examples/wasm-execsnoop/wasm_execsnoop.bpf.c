// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// The kernel half of wasm-execsnoop: each exec as an event, and a count of them.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "execsnoop.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} execs SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int wasm_execsnoop(struct trace_event_raw_sched_process_exec *ctx)
{
	unsigned int offset = ctx->__data_loc_filename & 0xFFFF;
	__u32 zero = 0;
	__u64 *count;
	struct event *e;

	count = bpf_map_lookup_elem(&execs, &zero);
	if (count)
		__sync_fetch_and_add(count, 1);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + offset);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
