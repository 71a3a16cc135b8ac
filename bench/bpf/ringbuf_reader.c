/* The ceiling for bench/throughput.py: libbpf's ring_buffer__poll with a callback
 * that only counts. Loads OBJECT with targ_pid = PID (the first .rodata variable),
 * attaches, says "attached" on stderr, polls until SIGINT, then prints
 * "<samples> <lost> <CLOCK_MONOTONIC seconds of the last sample>" on stdout, where
 * lost is the ring's ECLI_RINGBUF counter, <map>__lost in .bss.
 *
 *     ringbuf_reader OBJECT PID
 */
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop;
static long samples;
static struct timespec last;

static void on_signal(int signum)
{
	stop = signum;
}

static int on_sample(void *ctx, void *data, size_t size)
{
	samples++;
	clock_gettime(CLOCK_MONOTONIC, &last);
	return 0;
}

static int ends_with(const char *name, const char *suffix)
{
	size_t n = strlen(name), m = strlen(suffix);

	return n >= m && !strcmp(name + n - m, suffix);
}

/* The value of the u64 global NAME in .bss (mapped: live after the load). */
static unsigned long long bss_u64(struct bpf_object *obj, struct bpf_map *bss, const char *name)
{
	struct btf *btf = bpf_object__btf(obj);
	int id = btf__find_by_name_kind(btf, ".bss", BTF_KIND_DATASEC);
	const struct btf_type *sec = btf__type_by_id(btf, id);
	const struct btf_var_secinfo *var = btf_var_secinfos(sec);
	size_t size;
	const char *data = bpf_map__initial_value(bss, &size);

	for (int i = 0; i < btf_vlen(sec); i++, var++) {
		const char *var_name = btf__name_by_offset(btf, btf__type_by_id(btf, var->type)->name_off);

		if (!strcmp(var_name, name))
			return *(const unsigned long long *)(data + var->offset);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_map *map, *ring = NULL, *bss = NULL;
	struct bpf_program *prog;
	struct ring_buffer *rb;
	char lost_name[256];

	if (argc != 3)
		return 2;
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj)
		return 1;
	bpf_object__for_each_map(map, obj) {
		size_t size;

		if (ends_with(bpf_map__name(map), ".rodata"))
			*(int *)bpf_map__initial_value(map, &size) = atoi(argv[2]);
		else if (ends_with(bpf_map__name(map), ".bss"))
			bss = map;
		else if (bpf_map__type(map) == BPF_MAP_TYPE_RINGBUF) {
			ring = map;
			/* declared with __type(value, ...): the kernel wants size 0 */
			bpf_map__set_value_size(map, 0);
		}
	}
	if (!ring || !bss || bpf_object__load(obj))
		return 1;
	bpf_object__for_each_program(prog, obj)
		if (!bpf_program__attach(prog))
			return 1;
	rb = ring_buffer__new(bpf_map__fd(ring), on_sample, NULL, NULL);
	if (!rb)
		return 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fprintf(stderr, "attached\n");
	while (!stop)
		ring_buffer__poll(rb, 100);
	ring_buffer__consume(rb);
	snprintf(lost_name, sizeof(lost_name), "%s__lost", bpf_map__name(ring));
	printf("%ld %llu %ld.%09ld\n", samples, bss_u64(obj, bss, lost_name),
	       (long)last.tv_sec, last.tv_nsec);
	return 0;
}
