// A map of a type no kernel has (99): loading must fail naming the map and its type.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, 99);
	__uint(max_entries, 16);
	__type(key, u32);
	__type(value, u64);
} from_the_future SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int touch(void *ctx)
{
	u32 key = 0;

	bpf_map_lookup_elem(&from_the_future, &key);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
