// The event every attach_*.bpf.c object sends: who did it and what it touched.
#ifndef ATTACH_EVENT_H
#define ATTACH_EVENT_H

struct event {
	__u32 pid;
	__s32 ret;
	char comm[16];
	char name[64];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
	__type(value, struct event);
} events SEC(".maps");

// Counted by comm: a map whose values the tests read as well as the events.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, char[16]);
	__type(value, __u64);
} calls SEC(".maps");

static __always_inline struct event *start_event(void)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ret = 0;
	e->name[0] = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

// An event naming a string of user memory (a system call's path argument).
static __always_inline void send_user_name(const char *name)
{
	struct event *e = start_event();

	if (!e)
		return;
	bpf_probe_read_user_str(e->name, sizeof(e->name), name);
	bpf_ringbuf_submit(e, 0);
}

// An event naming a string of kernel memory, with a return value.
static __always_inline void send_kernel_name(const char *name, int ret)
{
	struct event *e = start_event();

	if (!e)
		return;
	e->ret = ret;
	bpf_probe_read_kernel_str(e->name, sizeof(e->name), name);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void count_call(void)
{
	char comm[16] = {};
	__u64 one = 1, *n;

	bpf_get_current_comm(comm, sizeof(comm));
	n = bpf_map_lookup_elem(&calls, comm);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&calls, comm, &one, BPF_NOEXIST);
}

#endif
