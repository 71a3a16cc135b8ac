/* SPDX-License-Identifier: MIT
 * wasm-bpf.h: the host functions a wasm-bpf module imports, for C modules built
 * with clang --target=wasm32-wasi. The names and signatures are those of
 * eunomia-bpf's wasm-bpf runtimes (import module "wasm_bpf"), so a module built
 * against this header runs under ecli and under wasm-bpf alike.
 * Link with -Wl,--export-table: the sample callback is called through the
 * module's function table.
 */
#ifndef ECLI_WASM_BPF_H
#define ECLI_WASM_BPF_H

#include <stdint.h>

#define WASM_BPF_IMPORT(name) \
	__attribute__((import_module("wasm_bpf"), import_name(#name)))

/* Load an eBPF object held in the module's memory; 0 on failure, else a handle. */
WASM_BPF_IMPORT(wasm_load_bpf_object)
uint64_t wasm_load_bpf_object(const void *obj_buf, int obj_buf_size);
/* Attach the program of that name; target: an interface (xdp) or cgroup path, or 0. */
WASM_BPF_IMPORT(wasm_attach_bpf_program)
int wasm_attach_bpf_program(uint64_t obj, const char *name, const char *attach_target);
/* The file descriptor of the object's map of that name, or -1. */
WASM_BPF_IMPORT(wasm_bpf_map_fd_by_name)
int wasm_bpf_map_fd_by_name(uint64_t obj, const char *name);
/* bpf(2) on one of the module's maps: cmd 1 lookup, 2 update, 3 delete, 4 next key. */
WASM_BPF_IMPORT(wasm_bpf_map_operate)
int wasm_bpf_map_operate(int fd, int cmd, void *key, void *value, void *next_key,
			 uint64_t flags);
/* Wait up to timeout_ms for samples of a ring buffer or perf event array; each is
 * copied to data (at most max_size bytes) and passed to sample_cb. */
typedef int (*bpf_buffer_sample_fn)(void *ctx, void *data, unsigned int size);
WASM_BPF_IMPORT(wasm_bpf_buffer_poll)
int wasm_bpf_buffer_poll(uint64_t obj, int fd, int32_t sample_cb, uint32_t ctx, char *data,
			 int max_size, int timeout_ms);
/* Detach and unload the object. */
WASM_BPF_IMPORT(wasm_close_bpf_object)
int wasm_close_bpf_object(uint64_t obj);

#define WASM_BPF_MAP_LOOKUP_ELEM 1
#define WASM_BPF_MAP_UPDATE_ELEM 2
#define WASM_BPF_MAP_DELETE_ELEM 3
#define WASM_BPF_MAP_GET_NEXT_KEY 4

/* A function pointer is its index in the module's table, which the host calls. */
static inline int wasm_bpf_poll(uint64_t obj, int fd, bpf_buffer_sample_fn cb, void *ctx,
				char *data, int max_size, int timeout_ms)
{
	return wasm_bpf_buffer_poll(obj, fd, (int32_t)(uintptr_t)cb, (uint32_t)(uintptr_t)ctx,
				    data, max_size, timeout_ms);
}

#endif
