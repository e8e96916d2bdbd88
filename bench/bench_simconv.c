/*
 * bench_simconv - bit-exact simulation throughput of the issue-12 CNN:
 * 28x28x1 -> conv 8 3x3 (relu) -> maxpool 2 -> conv 16 3x3 (relu) ->
 * maxpool 2 -> flatten -> dense 32 (relu) -> dense 10, all valid (target:
 * >= 72,000 images/s on two cores).  The model looks like a trained HGQ
 * one: 8-bit pixels in [0, 1) at f = 6, weights of 1-4 significant bits
 * at f = 3 with a third of them zero, activations at f = 3 calibrated
 * from the data, identity (union) quantizers after the pooling and the
 * flatten.  Prints the median of 5 runs for one thread and for two.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"
#include "bench.h"

/* CPU time of the process: the figure a busy machine does not blur */
static double
cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* append op (kind, shape) and its quantizer; windows k x k, stride s */
static int
add(struct hgq_model *m, uint32_t kind, uint32_t rank, const uint32_t *d,
    uint32_t k, uint32_t s, int act, struct hgq_err *err)
{
	struct hgq_layer *l;
	uint32_t j;

	if ((l = hgq_model_add_shaped(m, kind, rank, d, err)) == NULL)
		return -1;
	if (kind != HGQ_LAYER_DENSE && kind != HGQ_LAYER_FLATTEN) {
		l->kernel[0] = l->kernel[1] = k;
		l->stride[0] = l->stride[1] = s;
	}
	l->act = (uint8_t)act;
	if (hgq_model_add_shaped(m, HGQ_LAYER_QUANT, rank, d, err) == NULL)
		return -1;
	m->layers[m->n_layers - 1].trainable = kind != HGQ_LAYER_MAXPOOL &&
	    kind != HGQ_LAYER_FLATTEN;
	j = m->n_layers - 2;
	if (hgq_model_validate_graph(m, err) != HGQ_OK ||
	    hgq_model_alloc_fixed(m, j, err) != HGQ_OK ||
	    hgq_model_alloc_fixed(m, j + 1, err) != HGQ_OK)
		return -1;
	l = &m->layers[j];
	for (uint64_t a = 0; a < hgq_layer_n_weights(m, j); a++) {
		l->w_m[a] = uniform() < 0.33 ? 0 :
		    (int32_t)(uniform() * 15) - 7;
		l->w_f[a] = 3;
	}
	for (uint32_t c = 0; c < hgq_layer_n_bias(m, j); c++) {
		l->b_m[c] = (int32_t)(uniform() * 9) - 4;
		l->b_f[c] = 3;
	}
	for (uint32_t e = 0; e < m->layers[j + 1].n_out; e++)
		m->layers[j + 1].f[e] = 3;
	return 0;
}

int
main(void)
{
	static const uint32_t in[] = { 28, 28, 1 }, c1[] = { 26, 26, 8 },
	    p1[] = { 13, 13, 8 }, c2[] = { 11, 11, 16 }, p2[] = { 5, 5, 16 },
	    fl[] = { 400 }, d1[] = { 32 }, d2[] = { 10 };
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	struct hgq_engine *e;
	size_t n = 20000;
	double *x = malloc(n * 784 * sizeof(double)), t[5], c[5];
	int64_t *out = malloc(n * 10 * sizeof(int64_t));

	if (m == NULL || x == NULL || out == NULL)
		return 1;
	if (hgq_model_add_shaped(m, HGQ_LAYER_QUANT, 3, in, &err) == NULL ||
	    hgq_model_alloc_fixed(m, 0, &err) != HGQ_OK)
		goto fail;
	for (uint32_t j = 0; j < 784; j++)
		m->layers[0].f[j] = 6;
	if (add(m, HGQ_LAYER_CONV2D, 3, c1, 3, 1, 1, &err) != 0 ||
	    add(m, HGQ_LAYER_MAXPOOL, 3, p1, 2, 2, 0, &err) != 0 ||
	    add(m, HGQ_LAYER_CONV2D, 3, c2, 3, 1, 1, &err) != 0 ||
	    add(m, HGQ_LAYER_MAXPOOL, 3, p2, 2, 2, 0, &err) != 0 ||
	    add(m, HGQ_LAYER_FLATTEN, 1, fl, 0, 0, 0, &err) != 0 ||
	    add(m, HGQ_LAYER_DENSE, 1, d1, 0, 0, 1, &err) != 0 ||
	    add(m, HGQ_LAYER_DENSE, 1, d2, 0, 0, 0, &err) != 0 ||
	    hgq_model_set_input(m, 784, &err) != HGQ_OK)
		goto fail;
	for (size_t a = 0; a < n * 784; a++)
		x[a] = (double)(int)(uniform() * 256) / 256;
	t[0] = now();
	if (hgq_calibrate(m, x, 5000, 2, &err) != HGQ_OK)
		goto fail;
	printf("bench_simconv: calibration of 5000 images on 2 threads: "
	    "%.2f s\n", now() - t[0]);
	if (hgq_engine_new(&e, m, &err) != HGQ_OK)
		goto fail;
	printf("bench_simconv: 28x28x1-c8-p-c16-p-32-10, %zu images; "
	    "kernels", n);
	for (uint32_t op = 0; op < m->n_layers / 2; op++)
		printf(" %s", hgq_engine_op_kernel(e, op));
	printf("\n");
	for (int threads = 1; threads <= 2; threads++) {
		for (int r = 0; r < 5; r++) {
			double t0 = now(), c0 = cpu();

			hgq_engine_run(e, x, n, out, NULL, threads);
			t[r] = now() - t0;
			c[r] = cpu() - c0;
		}
		qsort(t, 5, sizeof(double), cmp_double);
		qsort(c, 5, sizeof(double), cmp_double);
		printf("bench_simconv: %d thread%s: %.0f images/s (median of "
		    "5; %.0f images per CPU second)\n", threads, threads > 1 ?
		    "s" : "", n / t[2], n / c[2]);
	}
	hgq_engine_free(e);
	hgq_model_free(m);
	free(x);
	free(out);
	return 0;
fail:
	fprintf(stderr, "bench_simconv: %s\n", err.msg);
	return 1;
}
