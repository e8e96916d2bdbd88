/*
 * bench_train.c - training throughput (make bench).
 *
 *   1. HGQ training of a 16-64-32-32-5 MLP (the JSC shape) on synthetic
 *      16-feature data, batch 1024 and 4096; targets (issue 14) at batch
 *      1024 on 2 threads: >= 2,500,000 samples/s without batchnorm,
 *      >= 1,600,000 with it on every layer (jsc.yaml's network).  Also
 *      printed: the samples per CPU second, which a shared machine blurs
 *      least.  Batch 1024, one thread, samples per CPU second (medians
 *      of 3, load 4-5): without batchnorm 1.26 M before the AVX-512
 *      tiles, 1.95 M after; with it 0.54 M before its statistics moved
 *      into the GEMM's output pass, one barrier per layer and the
 *      AVX-512 tiles, 1.09 M after.  With the quantizer after a dense
 *      layer in the product's output pass, the data rows prefetched and
 *      one barrier a step instead of four (medians of 8 runs alternated
 *      with the code before, load 5.6-5.9 on 2 cores, batch 1024): one
 *      thread 1.85 M -> 2.05 M per CPU second without batchnorm, 1.05 M
 *      -> 1.12 M with it; two threads, wall time on that busy machine,
 *      0.42 M -> 0.66 M and 0.21 M -> 0.24 M (per CPU second 0.78 M ->
 *      1.28 M and 0.43 M -> 0.49 M; at load 2.5-3.8, medians of 6,
 *      0.76 M -> 1.26 M and 0.44 M -> 0.50 M wall): short of the
 *      targets there, where the threads wait at their barriers for a
 *      descheduled partner several times as long as they compute
 *      (yielding the CPU while waiting gained nothing).  In a quiet
 *      moment of the same machine, before the barriers went, 2 bn gave
 *      2.09-2.15 M samples/s wall (4 runs of 6; the other 2 about
 *      0.5 M).  Where the time goes (perf, one thread): the GEMM tiles
 *      69 % without batchnorm, 75 % with it (which doubles every
 *      product: the float kernel's for the statistics, the quantized
 *      one's for the output); then the softmax (4-5 %), the quantizers'
 *      backward, the bias sums and the optimizer, 1-4 % each.
 *   2. Fashion-MNIST 784-64-32-10 (real images when the Debian package is
 *      installed, random pixels otherwise): one epoch of 60,000 images at
 *      batch 256; target <= 0.8 s.  Training steps only: the per-epoch
 *      calibration and evaluation are timed separately.
 *
 *   3. The CNN of issue 12 on 28x28x1 images (random pixels): conv 8 3x3
 *      relu, maxpool 2, conv 16 3x3 relu, maxpool 2, flatten, dense 32
 *      relu, dense 10, batch 256; target >= 32,000 images/s on 2
 *      threads (PyTorch HGQ: 8,100).  Also printed: the images per CPU
 *      second times the threads, the figure a shared machine does not
 *      blur (33,400 on 2 threads, 25,800 before the work on im2col,
 *      col2im, pooling and blocks; medians of 7).  Then, 7 runs
 *      alternated with the code before, load 7-9 on 2 cores: 2 threads
 *      31,600 -> 58,700, 1 thread 16,800 -> 32,400 (medians), after the
 *      first convolution went direct (no im2col), the 16-filter GEMM
 *      strip to 12x16 AVX-512 tiles and max pooling's forward to AVX2.
 *
 *   4. The muon-tracking graph of issue 13 (three inputs, conv1d, tanh
 *      tables, masked dense and add, dense 28-14-8-1 with batchnorm),
 *      built by hand, batch 256, mean squared error: samples per CPU
 *      second (1 thread, load 4.5: 65,000 with tanh' from a second libm
 *      call, 91,000 from the forward's output).
 *
 * Usage: bench_train [threads [jsc|bn|fmnist|cnn|muon]]  (default: every
 * CPU, all)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "bench.h"

#define FMNIST_X "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
#define FMNIST_Y "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz"

/* CPU seconds of the whole process (every thread) */
static double
cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void
die(const char *what, const struct hgq_err *err)
{
	fprintf(stderr, "bench_train: %s: %s\n", what, err->msg);
	exit(1);
}

/* a config with the layer widths given, per-element everything */
static void
config(struct hgq_config *c, const uint32_t *units, uint32_t n, int bn,
    uint32_t batch)
{
	hgq_config_init(c);
	c->model.n_layers = n;
	for (uint32_t k = 0; k < n; k++) {
		c->model.layers[k].kind = HGQ_LAYER_DENSE;
		c->model.layers[k].units = units[k];
		c->model.layers[k].act = k + 1 < n ? HGQ_ACT_RELU :
		    HGQ_ACT_LINEAR;
		c->model.layers[k].bn = bn;
	}
	c->model.input.init_f = 6;
	c->q_weight.init_f = 2;
	c->q_bias.init_f = 6;
	c->q_act.init_f = 4;
	c->train.batch_size = batch;
	c->train.beta[0].value = 1e-6;
	c->train.gamma = 2e-6;
}

/*
 * Train steps over x for epochs passes; returns samples per second of
 * wall time.  *secs is the wall time, *cpus the CPU time of every thread:
 * on a busy machine wall time overstates the cost, CPU time / threads is
 * what an idle machine would take.
 */
static double
run(struct hgq_trainer *t, const float *x, const float *y, size_t n,
    size_t batch, int epochs, double *secs, double *cpus)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_step_stats st;
	uint32_t *perm = malloc(n * sizeof(*perm));
	uint64_t rng[4];
	size_t seen = 0;
	double t0, c0;

	hgq_rng_seed(rng, 7);
	for (size_t r = 0; r < n; r++)
		perm[r] = (uint32_t)r;
	t0 = now();
	c0 = cpu();
	for (int e = 0; e < epochs; e++) {
		for (size_t r = n - 1; r > 0; r--) {
			size_t k = (size_t)hgq_rng_below(rng, r + 1);
			uint32_t tmp = perm[r];

			perm[r] = perm[k];
			perm[k] = tmp;
		}
		for (size_t r0 = 0; r0 < n; r0 += batch) {
			size_t b = n - r0 < batch ? n - r0 : batch;

			if (hgq_trainer_step(t, x, y, perm + r0, b, 1e-6,
			    1e-3, 1, NULL, &st, &err) != HGQ_OK)
				die("step", &err);
			seen += b;
		}
	}
	*secs = now() - t0;
	*cpus = cpu() - c0;
	free(perm);
	return (double)seen / *secs;
}

static void
bench_jsc(int threads, int bn)
{
	static const uint32_t units[] = { 64, 32, 32, 5 };
	static const size_t batches[] = { 1024, 4096 };
	const size_t n = 65536, nf = 16;
	struct hgq_train_data d;
	struct hgq_config c;
	struct hgq_err err = HGQ_ERR_INIT;
	uint64_t rng[4];
	float *x, *y;
	double target = bn ? 1.6e6 : 2.5e6;

	memset(&d, 0, sizeof(d));
	d.n_raw = nf;
	d.n_out = 5;
	d.task = HGQ_TASK_CLASSIFY;
	d.n_train = n;
	d.x_train = malloc(n * nf * sizeof(double));
	x = malloc(n * nf * sizeof(float));
	y = malloc(n * sizeof(float));
	hgq_rng_seed(rng, 1);
	for (size_t r = 0; r < n; r++) {
		double s = 0;

		for (size_t k = 0; k < nf; k++) {
			double v = 2 * hgq_rng_uniform(rng) - 1;

			d.x_train[r * nf + k] = v;
			x[r * nf + k] = (float)v;
			s += v * (double)(k % 5);
		}
		y[r] = (float)((unsigned)(s * 3 + 40) % 5);
	}
	for (size_t bi = 0; bi < 2; bi++) {
		struct hgq_model *m;
		struct hgq_trainer *t;
		double secs, cpus, sps, cps;
		int T;

		config(&c, units, 4, bn, (uint32_t)batches[bi]);
		if (hgq_train_model_new(&m, &c, &d, &err) != HGQ_OK)
			die("model", &err);
		if (hgq_trainer_new(&t, m, &c, threads, &err) != HGQ_OK)
			die("trainer", &err);
		T = hgq_trainer_threads(t);
		run(t, x, y, n, batches[bi], 1, &secs, &cpus);	/* warm up */
		sps = run(t, x, y, n, batches[bi], 8, &secs, &cpus);
		cps = 8.0 * (double)n / (cpus / T);
		printf("train 16-64-32-32-5%s batch %zu threads %d: %.0f "
		    "samples/s wall, %.0f by CPU time / threads, %.0f per "
		    "CPU second", bn ? " +bn" : "", batches[bi], T, sps, cps,
		    cps / T);
		if (batches[bi] == 1024 && T == 2)
			printf("  [target >= %.1e: %s]", target,
			    sps >= target ? "ok" : cps >= target ?
			    "ok by CPU time, MISSED on wall time" : "MISSED");
		printf("\n");
		hgq_trainer_free(t);
		hgq_model_free(m);
	}
	free(x);
	free(y);
	free(d.x_train);
}

static void
bench_fmnist(int threads)
{
	static const uint32_t units[] = { 64, 32, 10 };
	struct hgq_data_opts o;
	struct hgq_table tx, ty;
	struct hgq_train_data d;
	struct hgq_config c;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m;
	struct hgq_trainer *t;
	size_t n = 60000, nf = 784;
	float *x, *y;
	double secs, cpus, t0;
	int real, T;

	memset(&d, 0, sizeof(d));
	memset(&tx, 0, sizeof(tx));
	memset(&ty, 0, sizeof(ty));
	hgq_data_opts_init(&o);
	real = hgq_table_load(FMNIST_X, &o, &tx, &err) == HGQ_OK &&
	    hgq_table_load(FMNIST_Y, &o, &ty, &err) == HGQ_OK &&
	    tx.n_rows == n && tx.n_cols == nf;
	x = malloc(n * nf * sizeof(float));
	y = malloc(n * sizeof(float));
	d.x_train = malloc(n * nf * sizeof(double));
	for (size_t r = 0; r < n; r++) {
		for (size_t k = 0; k < nf; k++) {
			double v = real ? tx.x[r * nf + k] :
			    (double)((r * 7 + k * 13) % 256);

			d.x_train[r * nf + k] = v;
			x[r * nf + k] = (float)(v / 256);
		}
		y[r] = real ? (float)ty.x[r] : (float)(r % 10);
	}
	hgq_table_release(&tx);
	hgq_table_release(&ty);
	d.n_raw = (uint32_t)nf;
	d.n_out = 10;
	d.task = HGQ_TASK_CLASSIFY;
	d.n_train = n;
	config(&c, units, 3, 0, 256);
	c.model.input.init_f = 8;
	c.model.input.trainable = 0;	/* pixels: a fixed 8-bit input */
	c.data.normalize = HGQ_NORM_SCALE;
	c.data.scale = 1.0 / 256;
	if (hgq_train_model_new(&m, &c, &d, &err) != HGQ_OK ||
	    hgq_trainer_new(&t, m, &c, threads, &err) != HGQ_OK)
		die("fmnist model", &err);
	T = hgq_trainer_threads(t);
	run(t, x, y, 10240, 256, 1, &secs, &cpus);	/* warm up */
	run(t, x, y, n, 256, 1, &secs, &cpus);
	printf("train fmnist 784-64-32-10 (%s) batch 256 threads %d: one "
	    "epoch of %zu in %.3f s wall, %.3f s by CPU time / threads%s\n",
	    real ? "real images" : "synthetic", T, n, secs, cpus / T,
	    secs <= 0.8 ? "  [target <= 0.8 s: ok]" :
	    "  [target <= 0.8 s: MISSED on wall time]");
	/* what an epoch adds: export + calibration and the evaluation */
	hgq_trainer_sync(t);
	t0 = now();
	cpus = cpu();
	if (hgq_train_export(m, d.x_train, 54000, T, &err) != HGQ_OK)
		die("export", &err);
	printf("  export + calibration on 54000 rows: %.3f s wall, %.3f s "
	    "CPU\n", now() - t0, cpu() - cpus);
	{
		double acc, *yd = malloc(6000 * sizeof(double));

		for (size_t r = 0; r < 6000; r++)
			yd[r] = y[54000 + r];
		t0 = now();
		if (hgq_eval_exact(m, d.x_train + 54000 * nf, yd, 6000, T,
		    &acc, &err) != HGQ_OK)
			die("eval", &err);
		free(yd);
		printf("  exact evaluation of 6000 rows: %.3f s (accuracy "
		    "%.4f)\n", now() - t0, acc);
	}
	hgq_trainer_free(t);
	hgq_model_free(m);
	free(x);
	free(y);
	free(d.x_train);
}

static void
bench_cnn(int threads)
{
	struct hgq_config c;
	struct hgq_train_data d;
	struct hgq_model *m;
	struct hgq_trainer *t;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_layer_conf *l;
	const size_t n = 8192, nf = 784;
	static const uint32_t ten[] = { 10 };
	float *x = malloc(n * nf * sizeof(float));
	float *y = malloc(n * sizeof(float));
	uint64_t rng[4];
	double secs, cpus, sps;

	config(&c, ten, 1, 0, 256);
	l = c.model.layers;
	memset(l, 0, 7 * sizeof(*l));
	l[0] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_CONV2D, .ndim = 2,
	    .filters = 8, .kernel = { 3, 3 }, .stride = { 1, 1 },
	    .act = HGQ_ACT_RELU };
	l[1] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_MAXPOOL, .ndim = 2,
	    .pool = { 2, 2 }, .stride = { 2, 2 } };
	l[2] = l[0];
	l[2].filters = 16;
	l[3] = l[1];
	l[4] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_FLATTEN };
	l[5] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_DENSE, .units = 32,
	    .act = HGQ_ACT_RELU };
	l[6] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_DENSE, .units = 10 };
	c.model.n_layers = 7;
	memset(&d, 0, sizeof(d));
	d.n_raw = (uint32_t)nf;
	d.in_rank = 3;
	d.in_shape[0] = 28;
	d.in_shape[1] = 28;
	d.in_shape[2] = 1;
	d.n_out = 10;
	d.task = HGQ_TASK_CLASSIFY;
	d.n_train = n;
	d.x_train = malloc(n * nf * sizeof(double));
	hgq_rng_seed(rng, 3);
	for (size_t j = 0; j < n * nf; j++)
		x[j] = (float)(d.x_train[j] = hgq_rng_uniform(rng));
	for (size_t r = 0; r < n; r++)
		y[r] = (float)hgq_rng_below(rng, 10);
	if (hgq_train_model_new(&m, &c, &d, &err) != HGQ_OK)
		die("model", &err);
	if (hgq_trainer_new(&t, m, &c, threads, &err) != HGQ_OK)
		die("trainer", &err);
	run(t, x, y, 1024, 256, 1, &secs, &cpus);	/* warm up */
	sps = run(t, x, y, n, 256, 2, &secs, &cpus);
	printf("train cnn conv8-pool-conv16-pool-32-10 28x28x1 batch 256 "
	    "threads %d: %.0f images/s (%.2f s wall, %.2f s cpu: %.0f "
	    "images/s at %d CPUs' worth; target >= 32000 on 2 threads)\n",
	    hgq_trainer_threads(t), sps, secs, cpus, cpus > 0 ?
	    (double)n * 2 * hgq_trainer_threads(t) / cpus : 0.0,
	    hgq_trainer_threads(t));
	hgq_trainer_free(t);
	hgq_model_free(m);
	free(x);
	free(y);
	free(d.x_train);
}

/* append a layer of kind and shape (rank 1 or 2) reading refs */
static struct hgq_layer *
gadd(struct hgq_model *m, uint32_t kind, uint32_t d0, uint32_t d1,
    uint32_t r0, uint32_t r1)
{
	struct hgq_err err = HGQ_ERR_INIT;
	uint32_t dims[2] = { d0, d1 }, refs[2] = { r0, r1 };
	uint32_t n_in = (r0 & HGQ_REF_INPUT) != 0 ? d0 * (d1 ? d1 : 1) :
	    m->layers[r0].n_out;
	struct hgq_layer *l = hgq_model_add_layer(m, kind, n_in,
	    d0 * (d1 ? d1 : 1));

	if (l == NULL || hgq_layer_set_shape(l, d1 ? 2 : 1, dims, &err) !=
	    HGQ_OK || hgq_layer_set_inputs(l, r1 != UINT32_MAX ? 2 : 1,
	    refs, &err) != HGQ_OK)
		die("graph", &err);
	l->trainable = kind == HGQ_LAYER_QUANT;
	return l;
}

#define ONE	UINT32_MAX

/* station s [50, C]: conv1d 1 filter kernel 3 same, flatten, tanh */
static uint32_t
muon_station(struct hgq_model *m, uint32_t q, uint32_t c)
{
	struct hgq_layer *l;
	uint32_t j = m->n_layers;

	l = gadd(m, HGQ_LAYER_CONV1D, 50, 1, q, ONE);
	l->kernel[0] = 1;
	l->kernel[1] = 3;
	l->stride[0] = l->stride[1] = 1;
	l->padding = HGQ_PAD_SAME;
	gadd(m, HGQ_LAYER_QUANT, 50, 1, j, ONE);
	gadd(m, HGQ_LAYER_FLATTEN, 50, 0, j + 1, ONE);
	gadd(m, HGQ_LAYER_QUANT, 50, 0, j + 2, ONE)->trainable = 0;
	gadd(m, HGQ_LAYER_LUT, 50, 0, j + 3, ONE)->func = HGQ_FUNC_TANH;
	gadd(m, HGQ_LAYER_QUANT, 50, 0, j + 4, ONE);
	(void)c;
	return j + 5;
}

/* a dense 50 -> 50 masked to the band |i - j| <= 2, added to t, tanh */
static uint32_t
muon_join(struct hgq_model *m, uint32_t u, uint32_t t)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_tensor *mask;
	uint32_t j = m->n_layers;

	gadd(m, HGQ_LAYER_DENSE, 50, 0, u, ONE);
	if ((mask = hgq_layer_add_tensor(&m->layers[j], HGQ_ROLE_MASK, 2500,
	    &err)) == NULL)
		die("mask", &err);
	for (uint32_t e = 0; e < 2500; e++)
		mask->data[e] = abs((int)(e / 50) - (int)(e % 50)) <= 2;
	gadd(m, HGQ_LAYER_QUANT, 50, 0, j, ONE);
	gadd(m, HGQ_LAYER_ADD, 50, 0, j + 1, t);
	gadd(m, HGQ_LAYER_QUANT, 50, 0, j + 2, ONE);
	gadd(m, HGQ_LAYER_LUT, 50, 0, j + 3, ONE)->func = HGQ_FUNC_TANH;
	gadd(m, HGQ_LAYER_QUANT, 50, 0, j + 4, ONE);
	return j + 5;
}

/*
 * The muon-tracking graph of issue 13 (three stations [50, 3], [50, 2],
 * [50, 2]; per station conv1d, tanh; masked dense 50 and add between
 * them, tanh; dense 28, 14, 8 (batchnorm), 1), built by hand.
 */
static struct hgq_model *
muon_model(const struct hgq_config *c)
{
	static const uint32_t units[] = { 28, 14, 8, 1 };
	struct hgq_model *m = hgq_model_new();
	struct hgq_err err = HGQ_ERR_INIT;
	uint32_t t1, t2, t3, u;
	uint64_t rng[4];

	if (m == NULL)
		exit(1);
	gadd(m, HGQ_LAYER_QUANT, 50, 3, HGQ_REF_INPUT | 0, ONE);
	gadd(m, HGQ_LAYER_QUANT, 50, 2, HGQ_REF_INPUT | 1, ONE);
	gadd(m, HGQ_LAYER_QUANT, 50, 2, HGQ_REF_INPUT | 2, ONE);
	m->n_in_ports = 3;
	for (uint32_t k = 0; k < 3; k++) {
		snprintf(m->in_ports[k].name, sizeof(m->in_ports[k].name),
		    "s%u", k + 1);
		m->in_ports[k].layer = k;
	}
	t1 = muon_station(m, 0, 3);
	t2 = muon_station(m, 1, 2);
	t3 = muon_station(m, 2, 2);
	u = muon_join(m, muon_join(m, t1, t2), t3);
	for (uint32_t k = 0; k < 4; k++) {
		struct hgq_layer *l = gadd(m, HGQ_LAYER_DENSE, units[k], 0, u,
		    ONE);

		l->act = k < 3 ? HGQ_ACT_RELU : HGQ_ACT_LINEAR;
		l->bn = k == 2;
		gadd(m, HGQ_LAYER_QUANT, units[k], 0, m->n_layers - 1, ONE);
		u = m->n_layers - 1;
	}
	m->task = HGQ_TASK_REGRESS;
	hgq_rng_seed(rng, 5);
	if (hgq_model_set_input(m, 350, &err) != HGQ_OK ||
	    hgq_model_validate_graph(m, &err) != HGQ_OK ||
	    hgq_train_init_tensors(m, c, rng, &err) != HGQ_OK)
		die("muon", &err);
	return m;
}

static void
bench_muon(int threads)
{
	struct hgq_config c;
	struct hgq_model *m;
	struct hgq_trainer *t;
	struct hgq_err err = HGQ_ERR_INIT;
	const size_t n = 16384, nf = 350;
	float *x = malloc(n * nf * sizeof(float));
	float *y = malloc(n * sizeof(float));
	uint64_t rng[4];
	double secs, cpus, sps;

	config(&c, NULL, 0, 0, 256);
	c.train.loss = HGQ_LOSS_MSE;
	m = muon_model(&c);
	hgq_rng_seed(rng, 4);
	for (size_t j = 0; j < n * nf; j++)
		x[j] = (float)hgq_rng_uniform(rng);
	for (size_t r = 0; r < n; r++)
		y[r] = x[r * nf] - x[r * nf + 151];
	if (hgq_trainer_new(&t, m, &c, threads, &err) != HGQ_OK)
		die("trainer", &err);
	run(t, x, y, 1024, 256, 1, &secs, &cpus);	/* warm up */
	sps = run(t, x, y, n, 256, 2, &secs, &cpus);
	printf("train muon graph (%u layers) batch 256 threads %d: %.0f "
	    "samples/s (%.2f s wall, %.2f s cpu: %.0f samples/s at %d "
	    "CPUs' worth)\n", m->n_layers, hgq_trainer_threads(t), sps, secs,
	    cpus, cpus > 0 ? (double)n * 2 * hgq_trainer_threads(t) / cpus :
	    0.0, hgq_trainer_threads(t));
	hgq_trainer_free(t);
	hgq_model_free(m);
	free(x);
	free(y);
}

int
main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 0;
	const char *which = argc > 2 ? argv[2] : "all";

	{
		double la[3];

		printf("kernels: %s; load average %.2f\n",
		    hgq_kernel_isa(HGQ_ISA_AUTO) != HGQ_ISA_AVX2 ? "plain C" :
		    hgq_kernel_wide(1) ? "avx2+fma, avx-512 GEMM tiles" :
		    "avx2+fma", getloadavg(la, 1) == 1 ? la[0] : -1.0);
	}
	if (strcmp(which, "all") == 0 || strcmp(which, "jsc") == 0)
		bench_jsc(threads, 0);
	if (strcmp(which, "all") == 0 || strcmp(which, "bn") == 0)
		bench_jsc(threads, 1);
	if (strcmp(which, "all") == 0 || strcmp(which, "fmnist") == 0)
		bench_fmnist(threads);
	if (strcmp(which, "all") == 0 || strcmp(which, "cnn") == 0)
		bench_cnn(threads);
	if (strcmp(which, "all") == 0 || strcmp(which, "muon") == 0)
		bench_muon(threads);
	return 0;
}
