/* Waits for a line on stdin, then calls getppid(2) N times: as fast as it can,
 * or at RATE calls per second when a rate is given (checked every RATE/2000 + 1
 * calls: bursts of at most half a millisecond). With TAIL, pauses 200 ms after
 * them and makes TAIL more calls: a perf buffer reports the samples it dropped
 * with the next sample it takes, so a burst that ends full is counted then.
 *
 *     loadgen [N [RATE [TAIL]]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	double rate = argc > 2 ? atof(argv[2]) : 0;
	char line[8];
	long tail = argc > 3 ? atol(argv[3]) : 0;
	long every = (long)(rate / 2000) + 1;
	double start;

	if (!fgets(line, sizeof(line), stdin))
		return 1;
	start = now();
	for (long i = 0; i < n; i++) {
		if (rate > 0 && i % every == 0) {
			double ahead = start + i / rate - now();

			if (ahead > 0) {
				struct timespec pause = {(time_t)ahead, (long)((ahead - (time_t)ahead) * 1e9)};

				nanosleep(&pause, NULL);
			}
		}
		syscall(SYS_getppid);
	}
	if (tail > 0) {
		struct timespec pause = {0, 200 * 1000 * 1000};

		nanosleep(&pause, NULL);
		for (long i = 0; i < tail; i++)
			syscall(SYS_getppid);
	}
	return 0;
}
