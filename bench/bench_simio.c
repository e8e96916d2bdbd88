/*
 * bench_simio - hgq-sim as a user runs it: the whole process on
 * 2,000,000 rows of 16 float32 features through the 16-64-32-32-5 model
 * of bench_sim (issue 14 target: >= 2,500,000 samples/s on two threads),
 * beside the engine alone on the same rows.  The model and the input
 * file are made once in HGQ_BENCH_DIR [build/bench] (the input is
 * reused when its size is right); the program is HGQ_BIN/hgq-sim
 * [build/bin].  Prints the median of 5 runs (after one warm-up) for one
 * thread and for two: wall time of `hgq-sim -t N -i x.npy -o out.npy
 * model.hgqm`, output to the same folder.  On 2026-12-07 at load 6-8:
 * 4.5-4.7 M samples/s on two threads (0.36-0.43 s), the program before
 * the tiled engine 1.75 M (1.14 s).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "internal.h"
#include "bench.h"

#define ROWS	2000000
#define COLS	16
#define RUNS	5

/* bench_sim's model: 8-bit inputs, sparse 1-4 bit weights, f = 3 */
static struct hgq_model *
make_model(const double *x, size_t n, struct hgq_err *err)
{
	static const uint32_t shape[] = { COLS, 64, 32, 32, 5 };
	struct hgq_model *m = hgq_model_new();
	struct hgq_layer *l;

	if (m == NULL)
		return NULL;
	for (int d = 0; d <= 4; d++) {
		l = hgq_model_add_layer(m, HGQ_LAYER_QUANT, shape[d], shape[d]);
		if (l == NULL || hgq_layer_alloc_fixed(l, err) != HGQ_OK)
			goto fail;
		for (uint32_t j = 0; j < shape[d]; j++)
			l->f[j] = d == 0 ? 4 : 3;
		l->overflow = d == 0 ? HGQ_SAT : HGQ_WRAP;
		if (d == 4)
			break;
		l = hgq_model_add_layer(m, HGQ_LAYER_DENSE, shape[d],
		    shape[d + 1]);
		if (l == NULL || hgq_layer_alloc_fixed(l, err) != HGQ_OK)
			goto fail;
		l->act = d < 3 ? HGQ_ACT_RELU : HGQ_ACT_LINEAR;
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
	if (hgq_model_set_input(m, COLS, err) != HGQ_OK ||
	    hgq_calibrate(m, x, n < 20000 ? n : 20000, 1, err) != HGQ_OK)
		goto fail;
	return m;
fail:
	hgq_model_free(m);
	return NULL;
}

/* x as an npy '<f4' file (this host is little-endian: checked by main) */
static int
write_f32(const char *path, const double *x, size_t rows, size_t cols)
{
	char hdr[128];
	float *v;
	FILE *f;
	size_t n = rows * cols;
	int len, ok;

	len = snprintf(hdr + 10, sizeof(hdr) - 10, "{'descr': '<f4', "
	    "'fortran_order': False, 'shape': (%zu, %zu), }", rows, cols);
	while ((10 + len + 1) % 64 != 0)
		hdr[10 + len++] = ' ';
	hdr[10 + len++] = '\n';
	memcpy(hdr, "\x93NUMPY\x01\x00", 8);
	hdr[8] = (char)(len & 0xff);
	hdr[9] = (char)(len >> 8);
	if ((v = malloc(n * sizeof(float))) == NULL)
		return -1;
	for (size_t a = 0; a < n; a++)
		v[a] = (float)x[a];
	if ((f = fopen(path, "wb")) == NULL) {
		free(v);
		return -1;
	}
	ok = fwrite(hdr, 1, (size_t)(10 + len), f) == (size_t)(10 + len) &&
	    fwrite(v, sizeof(float), n, f) == n;
	free(v);
	return fclose(f) == 0 && ok ? 0 : -1;
}

static double
median(double *t, int n)
{
	qsort(t, (size_t)n, sizeof(double), cmp_double);
	return t[n / 2];
}

int
main(void)
{
	struct hgq_err err = HGQ_ERR_INIT;
	const char *dir = getenv("HGQ_BENCH_DIR"), *bin = getenv("HGQ_BIN");
	char model[512], input[512], output[512], cmd[2048];
	struct hgq_model *m;
	struct hgq_engine *e;
	struct stat sb;
	size_t n = ROWS, want_size = 128 + (size_t)ROWS * COLS * 4;
	double *x = malloc(n * COLS * sizeof(double)), t[RUNS];
	int64_t *out = malloc(n * 5 * sizeof(int64_t));
	uint16_t one = 1;

	if (x == NULL || out == NULL) {
		fprintf(stderr, "bench_simio: out of memory\n");
		return 1;
	}
	if (*(unsigned char *)&one != 1) {
		fprintf(stderr, "bench_simio: needs a little-endian host\n");
		return 1;
	}
	dir = dir ? dir : "build/bench";
	bin = bin ? bin : "build/bin";
	snprintf(model, sizeof(model), "%s/simio.hgqm", dir);
	snprintf(input, sizeof(input), "%s/simio-x.npy", dir);
	snprintf(output, sizeof(output), "%s/simio-out.npy", dir);
	/* the float32 values, as the engine sees them after reading */
	for (size_t a = 0; a < n * COLS; a++)
		x[a] = (double)(float)(uniform() * 6 - 3);
	if ((m = make_model(x, n, &err)) == NULL ||
	    hgq_model_save(model, m, 0, &err) != HGQ_OK ||
	    hgq_engine_new(&e, m, &err) != HGQ_OK) {
		fprintf(stderr, "bench_simio: %s\n", err.msg);
		return 1;
	}
	if ((stat(input, &sb) != 0 || (size_t)sb.st_size != want_size) &&
	    write_f32(input, x, n, COLS) != 0) {
		fprintf(stderr, "bench_simio: cannot write '%s'\n", input);
		return 1;
	}
	printf("bench_simio: 16-64-32-32-5, %zu rows of %d float32\n", n, COLS);
	for (int threads = 1; threads <= 2; threads++) {
		for (int r = 0; r < RUNS; r++) {
			double t0 = now();

			hgq_engine_run(e, x, n, out, NULL, threads);
			t[r] = now() - t0;
		}
		printf("bench_simio: engine alone, %d thread%s: %.0f "
		    "samples/s (median of %d)\n", threads, threads > 1 ? "s" :
		    "", n / median(t, RUNS), RUNS);
		snprintf(cmd, sizeof(cmd), "%s/hgq-sim -t %d -i %s -o %s %s",
		    bin, threads, input, output, model);
		for (int r = -1; r < RUNS; r++) {
			double t0 = now();
			int st = system(cmd);

			if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				fprintf(stderr, "bench_simio: '%s' failed\n",
				    cmd);
				return 1;
			}
			if (r >= 0)
				t[r] = now() - t0;
		}
		printf("bench_simio: hgq-sim whole process, %d thread%s: %.0f "
		    "samples/s (median of %d, %.3f s)\n", threads,
		    threads > 1 ? "s" : "", n / median(t, RUNS), RUNS,
		    t[RUNS / 2]);
	}
	hgq_engine_free(e);
	hgq_model_free(m);
	free(x);
	free(out);
	return 0;
}
