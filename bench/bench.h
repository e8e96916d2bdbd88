/*
 * bench.h - what the benchmarks share: one deterministic generator, the
 * clock, and the comparison qsort needs for medians.  A header of static
 * functions: every bench/NAME.c is a program of its own (Makefile).
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <time.h>

/* splitmix64 from 42: the same data on every run and host */
static uint64_t state = 42;

static inline double
uniform(void)
{
	uint64_t z = (state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (double)((z ^ (z >> 31)) >> 11) * 0x1p-53;
}

/* wall-clock seconds */
static inline double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#endif
