/* SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause */
/* The event both halves share: only fixed-size fields, so eBPF and wasm32 lay it out alike. */
#ifndef WASM_EXECSNOOP_H
#define WASM_EXECSNOOP_H

struct event {
	unsigned int pid;
	unsigned int uid;
	char comm[16];
	char filename[128];
};

#endif
