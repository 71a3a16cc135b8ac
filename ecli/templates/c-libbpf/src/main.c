// SPDX-License-Identifier: BSD-3-Clause
/* User space: open, load and attach the skeleton, print each ring-buffer event. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "probe.skel.h"

#define COMM_LEN 16
#define PATH_LEN 256

/* Must match struct event in probe.bpf.c. */
struct event {
	unsigned int pid;
	char comm[COMM_LEN];
	char filename[PATH_LEN];
};

static volatile sig_atomic_t stopping;

static void on_signal(int signo)
{
	(void)signo;
	stopping = 1;
}

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct event *e = data;

	(void)ctx;
	if (size < sizeof(*e))
		return 0;
	printf("%-8u %-16.*s %.*s\n", e->pid, COMM_LEN, e->comm, PATH_LEN, e->filename);
	return 0;
}

int main(int argc, char **argv)
{
	struct ring_buffer *ring = NULL;
	struct probe *skel;
	unsigned long pid = 0;
	int err;

	if (argc == 3 && strcmp(argv[1], "--pid") == 0) {
		pid = strtoul(argv[2], NULL, 10);
	} else if (argc != 1) {
		fprintf(stderr, "usage: %s [--pid PID]\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	skel = probe__open();
	if (!skel) {
		fprintf(stderr, "{{name}}: cannot open the eBPF object: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->target_pid = pid;
	err = probe__load(skel);
	if (!err)
		err = probe__attach(skel);
	if (err) {
		fprintf(stderr, "{{name}}: cannot load or attach: %s\n", strerror(-err));
		goto out;
	}
	ring = ring_buffer__new(bpf_map__fd(skel->maps.events), handle_event, NULL, NULL);
	if (!ring) {
		err = -errno;
		fprintf(stderr, "{{name}}: cannot open the ring buffer: %s\n", strerror(errno));
		goto out;
	}
	fprintf(stderr, "attached: tracing openat() calls, Ctrl-C to stop\n");
	while (!stopping) {
		err = ring_buffer__poll(ring, 100);
		if (err == -EINTR) {
			err = 0;
			break;
		}
		if (err < 0) {
			fprintf(stderr, "{{name}}: polling: %s\n", strerror(-err));
			break;
		}
		err = 0;
	}
out:
	ring_buffer__free(ring);
	probe__destroy(skel);
	return err ? 1 : 0;
}
