/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Conventions that let ecli's built-in runtime present a kernel-only program.
 * `ecli build` puts this folder on the include path.
 *
 * Events: declare the ring buffer with ECLI_RINGBUF(name, struct event, bytes).
 * The event struct then stays in the object's BTF, tied to its ring buffer, and
 * ecli prints each sample decoded field by field. (The kernel wants ring
 * buffers to have no value size; ecli clears it before loading.)
 *
 * Options: every `const volatile` global becomes a command-line option typed by
 * its BTF; `ecli.toml` can give it a shorter flag and a description.
 */
#ifndef __ECLI_H
#define __ECLI_H

#define ECLI_RINGBUF(name, event_type, bytes)            \
	struct {                                         \
		__uint(type, BPF_MAP_TYPE_RINGBUF);      \
		__uint(max_entries, bytes);              \
		__type(value, event_type);               \
	} name SEC(".maps")

#endif /* __ECLI_H */
