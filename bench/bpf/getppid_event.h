/* The event of bench/throughput.py's loads, one per getppid(2) of targ_pid. */
#ifndef __GETPPID_EVENT_H
#define __GETPPID_EVENT_H

const volatile int targ_pid = 0;

struct event {
	u32 pid;
	u32 cpu;
	u64 seq;
	char comm[16];
};

#endif
