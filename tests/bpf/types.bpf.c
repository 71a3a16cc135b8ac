// Every kind of field and option the decoder and the option parser handle.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecli.h"

enum test_color { TC_RED = 1, TC_GREEN = 2, TC_BLUE = -3 };

struct test_inner {
	u16 a;
	s8 b;
};

struct test_sample {
	u8 u8v;
	s16 s16v;
	u32 u32v;
	s64 s64v;
	bool flag;
	enum test_color color;
	char name[8];
	u32 list[3];
	unsigned char raw[4];
	struct test_inner inner;
	__int128 wide;
};

const volatile u8 opt_u8 = 7;
const volatile s32 opt_s32 = -5;
const volatile u64 opt_u64 = 0;
const volatile bool opt_flag = true;
const volatile enum test_color opt_color = TC_GREEN;
const volatile char opt_name[8] = "abc";

ECLI_RINGBUF(samples, struct test_sample, 4096);

SEC("tracepoint/syscalls/sys_enter_getpid")
int emit(void *ctx)
{
	struct test_sample *s = bpf_ringbuf_reserve(&samples, sizeof(*s), 0);

	if (!s)
		return 0;
	__builtin_memset(s, 0, sizeof(*s));
	s->u8v = opt_u8;
	s->s16v = -2;
	s->u32v = 4000000000u;
	s->s64v = opt_s32;
	s->flag = opt_flag;
	s->color = opt_color;
	s->name[0] = opt_name[0];
	s->name[1] = opt_name[1];
	s->list[0] = 1;
	s->list[2] = 3;
	s->raw[0] = 0xab;
	s->inner.a = 513;
	s->inner.b = -1;
	s->wide = ((__int128)1 << 100);
	bpf_ringbuf_submit(s, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
