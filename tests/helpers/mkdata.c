/*
 * mkdata - deterministic random data files for the tests and benchmarks.
 *
 *   mkdata [--seed N] [--int] [--lo X] [--hi X] ROWS COLS FILE.npy
 *
 * Writes ROWS x COLS float64 values uniform in [lo, hi) (COLS = 0 gives a
 * 1-D array); with --int, integers in [lo, hi) (labels).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hgq.h"

static uint64_t state;

static double
uniform(void)
{
	uint64_t z = (state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1p-53;
}

int
main(int argc, char **argv)
{
	struct hgq_err err = HGQ_ERR_INIT;
	double lo = -1, hi = 1, *x;
	size_t rows, cols, n;
	int as_int = 0, a = 1;
	FILE *f;

	state = 1;
	for (; a < argc && argv[a][0] == '-' && argv[a][1] == '-'; a++) {
		if (strcmp(argv[a], "--int") == 0)
			as_int = 1;
		else if (strcmp(argv[a], "--seed") == 0 && a + 1 < argc)
			state = strtoull(argv[++a], NULL, 10);
		else if (strcmp(argv[a], "--lo") == 0 && a + 1 < argc)
			lo = strtod(argv[++a], NULL);
		else if (strcmp(argv[a], "--hi") == 0 && a + 1 < argc)
			hi = strtod(argv[++a], NULL);
		else
			break;
	}
	if (argc - a != 3) {
		fprintf(stderr, "usage: mkdata [--seed N] [--int] [--lo X] "
		    "[--hi X] ROWS COLS FILE.npy\n");
		return 2;
	}
	rows = strtoul(argv[a], NULL, 10);
	cols = strtoul(argv[a + 1], NULL, 10);
	n = rows * (cols ? cols : 1);
	if ((x = calloc(n ? n : 1, sizeof(double))) == NULL)
		return 1;
	for (size_t j = 0; j < n; j++) {
		x[j] = lo + (hi - lo) * uniform();
		if (as_int)
			x[j] = (double)(int64_t)(x[j] < 0 ? x[j] - 1 + 1e-300 :
			    x[j]);
	}
	if ((f = fopen(argv[a + 2], "wb")) == NULL) {
		perror(argv[a + 2]);
		return 1;
	}
	if (hgq_npy_write_f64(f, x, rows, cols, &err) != HGQ_OK ||
	    fclose(f) != 0) {
		fprintf(stderr, "mkdata: %s\n", err.msg);
		return 1;
	}
	free(x);
	return 0;
}
