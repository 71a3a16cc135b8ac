// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// pagefaults: user-space page faults per process: how many, how many on writes, and how many
// on pages not present yet (first touch, swap-in, file read). Tracepoint
// exceptions:page_fault_user (x86; arm64 kernels have no such tracepoint).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define TASK_COMM_LEN 16
#define PF_PROT 0x1  /* the page was present: a protection fault (copy-on-write...) */
#define PF_WRITE 0x2

/* Options: ecli run pagefaults --pid N */
const volatile pid_t targ_pid = 0;

struct fault_key {
	pid_t pid;
	char comm[TASK_COMM_LEN];
};

struct faults {
	u64 faults;
	u64 writes;
	u64 not_present;
};

/* Printed at exit and every --interval: its name ends in _counts. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct fault_key);
	__type(value, struct faults);
} fault_counts SEC(".maps");

/* Linux 6.1 names the tracepoint's record after its class x86_exceptions (vmlinux.h, from
 * a newer kernel, calls it exceptions): the suffix after ___ is ignored by CO-RE. */
struct trace_event_raw_x86_exceptions___old {
	unsigned long error_code;
} __attribute__((preserve_access_index));

/* The fault's error code, from whichever record this kernel has (CO-RE picks one branch).
 * Read with BPF_CORE_READ: both fields sit at the same offset, and clang merges two direct
 * loads into one of a computed ctx offset, which the verifier refuses. */
static __always_inline u64 fault_error_code(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_exceptions))
		return BPF_CORE_READ((struct trace_event_raw_exceptions *)ctx, error_code);
	return BPF_CORE_READ((struct trace_event_raw_x86_exceptions___old *)ctx, error_code);
}

SEC("tracepoint/exceptions/page_fault_user")
int handle_fault(struct trace_event_raw_exceptions *ctx)
{
	struct fault_key key = {};
	struct faults *f, fresh = {};
	u64 error_code = fault_error_code(ctx); /* read once: not after calls */

	key.pid = bpf_get_current_pid_tgid() >> 32;
	if (targ_pid && targ_pid != key.pid)
		return 0;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	f = bpf_map_lookup_elem(&fault_counts, &key);
	if (!f) {
		bpf_map_update_elem(&fault_counts, &key, &fresh, BPF_NOEXIST);
		f = bpf_map_lookup_elem(&fault_counts, &key);
		if (!f)
			return 0;
	}
	__sync_fetch_and_add(&f->faults, 1);
	if (error_code & PF_WRITE)
		__sync_fetch_and_add(&f->writes, 1);
	if (!(error_code & PF_PROT))
		__sync_fetch_and_add(&f->not_present, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
