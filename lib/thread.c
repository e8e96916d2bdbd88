/*
 * thread.c - what a `threads` argument means, and the one fan-out of
 * work over short-lived threads that the engine, calibration and the
 * CMVM solver share.  (The trainer keeps a pool of its own: its threads
 * meet at a barrier several times per step and live for the whole run.)
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

int
hgq_n_threads(int threads, int max)
{
	long ncpu;

	if (threads <= 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		threads = ncpu <= 0 ? 1 : ncpu > max ? max : (int)ncpu;
	}
	return threads > max ? max : threads;
}

void
hgq_fan_out(void *(*fn)(void *), void *jobs, size_t job_size, int n)
{
	char *job = jobs;
	pthread_t *tid = NULL;
	int started = 1;

	/* jobs 1..started-1 run on their own threads, job 0 on ours */
	if (n > 1 && (tid = calloc((size_t)n, sizeof(*tid))) != NULL)
		for (; started < n; started++)
			if (pthread_create(&tid[started], NULL, fn,
			    job + (size_t)started * job_size) != 0)
				break;
	fn(job);
	/* the jobs whose thread could not start run here, in order */
	for (int t = 1; t < n; t++) {
		if (t < started)
			pthread_join(tid[t], NULL);
		else
			fn(job + (size_t)t * job_size);
	}
	free(tid);
}
