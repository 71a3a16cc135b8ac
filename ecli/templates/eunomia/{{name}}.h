/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The events {{name}} sends, as eunomia-bpf exports them: `ecli build` turns each
 * struct the programs send into meta.export_types of build/package.json. */
#ifndef __EVENTS_H
#define __EVENTS_H

#define COMM_LEN 16
#define PATH_LEN 256

struct event {
	int pid;
	char comm[COMM_LEN];
	char filename[PATH_LEN];
};

#endif
