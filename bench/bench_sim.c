/*
 * bench_sim - bit-exact simulation throughput of a calibrated
 * 16-64-32-32-5 model (DESIGN.md target: >= 2,000,000 samples/s on two
 * cores).  The model looks like a trained HGQ one: 8-bit inputs, weights
 * of 1-4 significant bits with a third of them zero, activations
 * calibrated from the data at f = 3.  Prints the median of 7 runs for one
 * thread and for two, in samples per second of wall-clock time and per
 * CPU second (the figure that holds on a shared machine).  On 2026-12-07,
 * load 6 on the 2 cores, 6 runs alternated with the engine before the
 * tiles: medians 9.8 M samples per CPU second on one thread and 9.3 M on
 * two (the tiled path with AVX-512 VNNI), against 2.8 M and 2.8 M, so
 * about 18 M samples/s on two idle cores; wall-clock under that load
 * 4.0-4.9 M against 1.2-1.5 M.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"
#include "bench.h"

/* the process's CPU seconds (all threads): work per CPU second holds on
   a machine shared with other jobs, where wall-clock figures do not */
static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int
main(void)
{
	static const uint32_t shape[] = { 16, 64, 32, 32, 5 };
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	struct hgq_engine *e;
	size_t n = 400000;
	double *x = malloc(n * 16 * sizeof(double)), t[7], c[7];
	int64_t *out = malloc(n * 5 * sizeof(int64_t));
	struct hgq_layer *l;

	for (int d = 0; d <= 4; d++) {
		l = hgq_model_add_layer(m, HGQ_LAYER_QUANT, shape[d], shape[d]);
		hgq_layer_alloc_fixed(l, &err);
		for (uint32_t j = 0; j < shape[d]; j++)
			l->f[j] = d == 0 ? 4 : 3;
		l->overflow = d == 0 ? HGQ_SAT : HGQ_WRAP;
		if (d == 4)
			break;
		l = hgq_model_add_layer(m, HGQ_LAYER_DENSE, shape[d],
		    shape[d + 1]);
		l->act = d < 3 ? HGQ_ACT_RELU : HGQ_ACT_LINEAR;
		hgq_layer_alloc_fixed(l, &err);
		for (size_t a = 0; a < (size_t)shape[d] * shape[d + 1]; a++) {
			l->w_m[a] = uniform() < 0.33 ? 0 :
			    (int32_t)(uniform() * 15) - 7;
			l->w_f[a] = 3;
		}
		for (uint32_t j = 0; j < shape[d + 1]; j++) {
			l->b_m[j] = (int32_t)(uniform() * 9) - 4;
			l->b_f[j] = 3;
		}
	}
	if (hgq_model_set_input(m, 16, &err) != HGQ_OK)
		goto fail;
	for (size_t a = 0; a < n * 16; a++)
		x[a] = uniform() * 6 - 3;
	if (hgq_calibrate(m, x, 20000, 1, &err) != HGQ_OK ||
	    hgq_engine_new(&e, m, &err) != HGQ_OK)
		goto fail;
	printf("bench_sim: 16-64-32-32-5, %zu samples, exact EBOPs %llu\n", n,
	    (unsigned long long)hgq_ebops_total(m));
	for (int threads = 1; threads <= 2; threads++) {
		for (int r = 0; r < 7; r++) {
			double t0 = now(), c0 = cpu_now();

			hgq_engine_run(e, x, n, out, NULL, threads);
			t[r] = now() - t0;
			c[r] = cpu_now() - c0;
		}
		qsort(t, 7, sizeof(double), cmp_double);
		qsort(c, 7, sizeof(double), cmp_double);
		printf("bench_sim: %d thread%s: %.0f samples/s, %.0f per CPU "
		    "second (medians of 7)\n", threads, threads > 1 ? "s" : "",
		    n / t[3], n / c[3]);
	}
	hgq_engine_free(e);
	hgq_model_free(m);
	free(x);
	free(out);
	return 0;
fail:
	fprintf(stderr, "bench_sim: %s\n", err.msg);
	return 1;
}
