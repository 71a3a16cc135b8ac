/* libbpf-tools style: the event struct lives only in the project's header, and the
 * program uses it through a local pointer, so plain clang leaves it out of the BTF. */
#ifndef __HEADER_EVENTS_H
#define __HEADER_EVENTS_H

#define TASK_COMM_LEN 16
#define NAME_LEN 48

enum open_kind {
	OPEN_PLAIN = 1,
	OPEN_CREATE = 2,
};

struct ids {
	__u32 pid;
	__u32 uid;
};

struct event {
	struct ids who;
	unsigned __int128 tag;
	enum open_kind kind;
	__u16 dfd_low;
	char comm[TASK_COMM_LEN];
	char fname[NAME_LEN];
};

#endif /* __HEADER_EVENTS_H */
