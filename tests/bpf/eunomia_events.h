/* eunomia-bpf style: the event struct lives in the header only and the program reaches it
 * through a local pointer, so plain clang leaves it out of the object's BTF; an eunomia
 * package declares it in meta.export_types instead. */
#ifndef __EUNOMIA_EVENTS_H
#define __EUNOMIA_EVENTS_H

struct event {
	int pid;
	unsigned int uid;
	unsigned long long flags;
	char comm[16];
	char fname[48];
};

#endif /* __EUNOMIA_EVENTS_H */
