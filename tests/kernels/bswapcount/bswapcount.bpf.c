// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// bswapcount: the kernel matrix's deliberately broken package. Each execve emits
// an event whose `swapped` field is bswap16(1) = 256, computed with the BPF_ALU64
// BPF_END instruction (cpu v4, kernel 6.6): Linux 6.1's verifier refuses it
// ("BPF_END uses reserved fields"), 6.6 and later run it. Written as raw bytes
// because Debian 12's clang (14) does not know -mcpu=v4.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"

struct event {
	char comm[16];
	__u64 swapped;
};

ECLI_RINGBUF(events, struct event, 64 * 1024);

SEC("tracepoint/syscalls/sys_enter_execve")
int handle_exec(void *ctx)
{
	__u64 value;
	struct event *e;

	/* r1 = 1; r1 = bswap16 r1 (opcode 0xd7, dst r1, imm 16); value = r1 */
	asm volatile("r1 = 1\n\t.quad 0x00000010000001d7\n\t%0 = r1" : "=r"(value) :: "r1");
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->swapped = value;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
