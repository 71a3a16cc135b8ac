// eunomia-bpf style: maps whose keys and values use every kind of type
// (nested structs, unions, enums, __int128, bitfields, arrays of structs,
// char[] inside structs), and a per-CPU hash counting execs by name.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

enum proc_kind { PK_NONE = 0, PK_SHELL = 1, PK_DAEMON = 7 };

struct pair {
	__u16 a;
	__u16 b;
};

struct proc_key {
	__u32 pid;
	enum proc_kind kind;
};

struct proc_info {
	__u64 calls;
	struct {
		__u32 tgid;
		char comm[16];
	} task;
	union {
		__u32 v4;
		__u8 v6[16];
	} addr;
	__int128 wide;
	__u32 level : 5;
	__u32 flags : 3;
	__u32 rest : 24;
	__s32 delta : 6;
	enum proc_kind pkind : 3;
	struct pair pairs[2];
	char names[2][8];
};

struct exec_key {
	char comm[16];
};

const volatile __u32 targ_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct proc_key);
	__type(value, struct proc_info);
} procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct exec_key);
	__type(value, __u64);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} exec_total SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	struct proc_key key = { .kind = PK_SHELL };
	struct proc_info zero = {}, *info;
	__u64 id = bpf_get_current_pid_tgid();

	if ((id >> 32) != targ_pid)
		return 0;
	key.pid = id >> 32;
	info = bpf_map_lookup_elem(&procs, &key);
	if (!info) {
		bpf_map_update_elem(&procs, &key, &zero, BPF_NOEXIST);
		info = bpf_map_lookup_elem(&procs, &key);
		if (!info)
			return 0;
	}
	info->calls += 1;
	info->task.tgid = id >> 32;
	bpf_get_current_comm(info->task.comm, sizeof(info->task.comm));
	info->addr.v4 = 0x0100007f;
	info->wide = ((__int128)1 << 100) + 5;
	info->level = 17;
	info->flags = 5;
	info->rest = 0xabcdef;
	info->delta = -3;
	info->pkind = PK_DAEMON;
	info->pairs[0].a = 1;
	info->pairs[0].b = 2;
	info->pairs[1].a = 3;
	info->pairs[1].b = 4;
	info->names[0][0] = 'h';
	info->names[0][1] = 'i';
	info->names[1][0] = 'x';
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int on_exec(void *ctx)
{
	struct exec_key key = {};
	__u64 one = 1, *count;
	__u32 zero = 0;

	bpf_get_current_comm(key.comm, sizeof(key.comm));
	count = bpf_map_lookup_elem(&execs, &key);
	if (count)
		*count += 1;
	else
		bpf_map_update_elem(&execs, &key, &one, BPF_NOEXIST);
	count = bpf_map_lookup_elem(&exec_total, &zero);
	if (count)
		*count += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
