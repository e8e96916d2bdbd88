/*
 * bench_conv.c - the convolution kernels alone (make bench).
 *
 * The convolutional part of the benchmark network, 28x28x1 ->
 * conv 8 3x3 valid, relu -> maxpool 2 -> conv 16 3x3 valid, relu ->
 * maxpool 2 (-> flatten 400 -> dense 32 -> dense 10, not timed here):
 * forward and backward of every layer on a batch of 256, as the trainer
 * will run them (rows split over threads, each thread its own scratch and
 * gradient sums, blocks of rows so that the activations stay in cache).
 *
 *   1. per layer, one thread: microseconds per image, forward and
 *      backward, the im2col-GEMM path and the direct loops (_ref)
 *   2. the whole conv part, 1 and 2 threads (the batch split in two):
 *      microseconds per image, GEMM and direct
 *
 * The budget: HGQ training >= 32,000 images/s on 2 threads is 31 us per
 * image for everything (dense layers, quantizers, EBOPs and the update
 * included); the convolutions should stay well under 20 us of it.
 *
 * Times are the minimum over repetitions of wall time (the machine is
 * shared: the minimum is the least disturbed run).
 *
 * Usage: bench_conv [reps [block]]   (default 30 repetitions, 16 rows)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "bench.h"

#define BATCH	256
static size_t BLOCK = 16;	/* rows per block, as the trainer's blk */

/* CPU time of the calling thread */
static double
tcpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *
xcalloc(size_t n)
{
	float *p = calloc(n ? n : 1, sizeof(float));

	if (p == NULL) {
		fprintf(stderr, "bench_conv: out of memory\n");
		exit(1);
	}
	return p;
}

/* the network's geometry and weights, shared by the threads */
struct net {
	struct hgq_conv_geom	c1, c2;
	struct hgq_pool_geom	p1, p2;
	float			*w1, *b1, *wt1, *w2, *b2, *wt2;
	float			*x;		/* BATCH x 784 */
};

/* one thread's buffers (BLOCK rows) and gradient sums */
struct work {
	const struct net	*n;
	size_t			 r0, nr;	/* rows of the batch */
	int			 direct;	/* the _ref loops */
	int			 dinp1;		/* conv 1 input gradient */
	float	*col1, *a1, *m1, *col2, *a2, *m2;
	float	*dm2, *da2, *dcol2, *dm1, *da1, *dcol1, *dx;
	float	*dw1, *db1, *dw2, *db2;
	double	 t[10];		/* seconds per step, summed (see names) */
	double	 cpu;		/* CPU seconds of the whole pass */
};

static const char *const step_name[10] = {
	"conv1 fwd", "pool1 fwd", "conv2 fwd", "pool2 fwd",
	"pool2 bwd", "(unused)", "conv2 bwd", "pool1 bwd", "(unused)",
	"conv1 bwd",
};

static void
net_init(struct net *n)
{
	uint64_t rng[4];
	struct hgq_err err = HGQ_ERR_INIT;
	size_t n1, n2;

	if (hgq_conv_geom_init(&n->c1, 28, 28, 1, 3, 3, 8, 1, 1,
	    HGQ_PAD_VALID, &err) != HGQ_OK ||
	    hgq_pool_geom_init(&n->p1, 26, 26, 8, 2, 2, 0, 0, &err) !=
	    HGQ_OK ||
	    hgq_conv_geom_init(&n->c2, 13, 13, 8, 3, 3, 16, 1, 1,
	    HGQ_PAD_VALID, &err) != HGQ_OK ||
	    hgq_pool_geom_init(&n->p2, 11, 11, 16, 2, 2, 0, 0, &err) !=
	    HGQ_OK) {
		fprintf(stderr, "bench_conv: %s\n", err.msg);
		exit(1);
	}
	n1 = 9 * 8;
	n2 = 72 * 16;
	n->w1 = xcalloc(n1);
	n->wt1 = xcalloc(n1);
	n->b1 = xcalloc(8);
	n->w2 = xcalloc(n2);
	n->wt2 = xcalloc(n2);
	n->b2 = xcalloc(16);
	n->x = xcalloc(BATCH * 784);
	hgq_rng_seed(rng, 1);
	for (size_t j = 0; j < n1; j++)
		n->w1[j] = (float)(hgq_rng_uniform(rng) - 0.5);
	for (size_t j = 0; j < n2; j++)
		n->w2[j] = (float)(hgq_rng_uniform(rng) - 0.5) * 0.3f;
	for (size_t j = 0; j < 8; j++)
		n->b1[j] = 0.05f;
	for (size_t j = 0; j < BATCH * 784; j++)
		n->x[j] = (float)hgq_rng_uniform(rng);
	hgq_wquant_transpose(n->wt1, n->w1, 9, 8);
	hgq_wquant_transpose(n->wt2, n->w2, 72, 16);
}

static void
work_init(struct work *w, const struct net *n, size_t r0, size_t nr,
    int direct, int dinp1)
{
	memset(w, 0, sizeof(*w));
	w->n = n;
	w->r0 = r0;
	w->nr = nr;
	w->direct = direct;
	w->dinp1 = dinp1;
	w->col1 = xcalloc(BLOCK * hgq_conv_col_len(&n->c1));
	w->dcol1 = xcalloc(BLOCK * hgq_conv_col_len(&n->c1));
	w->col2 = xcalloc(BLOCK * hgq_conv_col_len(&n->c2));
	w->dcol2 = xcalloc(BLOCK * hgq_conv_col_len(&n->c2));
	w->a1 = xcalloc(BLOCK * 26 * 26 * 8);
	w->da1 = xcalloc(BLOCK * 26 * 26 * 8);
	w->m1 = xcalloc(BLOCK * 13 * 13 * 8);
	w->dm1 = xcalloc(BLOCK * 13 * 13 * 8);
	w->a2 = xcalloc(BLOCK * 11 * 11 * 16);
	w->da2 = xcalloc(BLOCK * 11 * 11 * 16);
	w->m2 = xcalloc(BLOCK * 5 * 5 * 16);
	w->dm2 = xcalloc(BLOCK * 5 * 5 * 16);
	w->dx = xcalloc(BLOCK * 784);
	w->dw1 = xcalloc(72);
	w->db1 = xcalloc(8);
	w->dw2 = xcalloc(72 * 16);
	w->db2 = xcalloc(16);
}

static void
work_free(struct work *w)
{
	free(w->col1); free(w->dcol1); free(w->col2); free(w->dcol2);
	free(w->a1); free(w->da1); free(w->m1); free(w->dm1);
	free(w->a2); free(w->da2); free(w->m2); free(w->dm2); free(w->dx);
	free(w->dw1); free(w->db1); free(w->dw2); free(w->db2);
}

#define STEP(k, call) do { double t0_ = tcpu(); call; w->t[k] += tcpu() - t0_; \
	} while (0)

/* forward and backward of rows [r0, r0 + nr) in blocks of BLOCK */
static void
fwd_bwd(struct work *w)
{
	const struct net *n = w->n;

	for (size_t r = 0; r < w->nr; r += BLOCK) {
		size_t B = w->nr - r < BLOCK ? w->nr - r : BLOCK;
		const float *x = n->x + (w->r0 + r) * 784;

		if (w->direct) {
			STEP(0, hgq_conv_forward_ref(w->a1, x, n->w1, n->b1,
			    &n->c1, B, 1));
		} else {
			STEP(0, hgq_conv_forward(w->a1, w->col1, x, n->w1,
			    n->b1, &n->c1, B, 1));
		}
		STEP(1, hgq_maxpool_forward(w->m1, w->a1, &n->p1, B));
		if (w->direct) {
			STEP(2, hgq_conv_forward_ref(w->a2, w->m1, n->w2,
			    n->b2, &n->c2, B, 1));
		} else {
			STEP(2, hgq_conv_forward(w->a2, w->col2, w->m1, n->w2,
			    n->b2, &n->c2, B, 1));
		}
		STEP(3, hgq_maxpool_forward(w->m2, w->a2, &n->p2, B));
		/* the gradient from the dense layers: here the output */
		for (size_t j = 0; j < B * 400; j++)
			w->dm2[j] = w->m2[j] - 0.1f;
		STEP(4, hgq_maxpool_backward(w->da2, w->dm2, w->a2, &n->p2,
		    B, 1));
		if (w->direct) {
			STEP(6, hgq_conv_backward_ref(w->dm1, w->dw2, w->db2,
			    w->da2, w->m1, n->w2, &n->c2, B));
		} else {
			STEP(6, hgq_conv_backward(w->dm1, w->dw2, w->db2,
			    w->dcol2, w->da2, w->col2, n->wt2, &n->c2, B));
		}
		STEP(7, hgq_maxpool_backward(w->da1, w->dm1, w->a1, &n->p1,
		    B, 1));
		if (w->direct) {
			STEP(9, hgq_conv_backward_ref(w->dinp1 ? w->dx : NULL,
			    w->dw1, w->db1, w->da1, x, n->w1, &n->c1, B));
		} else {
			STEP(9, hgq_conv_backward(w->dinp1 ? w->dx : NULL,
			    w->dw1, w->db1, w->dcol1, w->da1, w->col1,
			    n->wt1, &n->c1, B));
		}
	}
}

static void *
thread_main(void *arg)
{
	struct work *w = arg;
	double c0 = tcpu();

	fwd_bwd(w);
	w->cpu = tcpu() - c0;
	return NULL;
}

/*
 * One batch on T threads (the caller's thread is thread 0), repeated;
 * returns the minimum over the repetitions of the busiest thread's CPU
 * time, in microseconds per image: what an idle machine would take, as
 * the machine running the benchmark is shared.  *wall gets the minimum
 * wall time per image; per[] (may be NULL) the minimum per step of
 * thread 0's CPU time per image.
 */
static double
batch_time(const struct net *n, int T, int direct, int dinp1, int reps,
    double per[10], double *wall)
{
	struct work w[2];
	double best = 1e30, bwall = 1e30;

	if (per != NULL)
		for (int s = 0; s < 10; s++)
			per[s] = 1e30;
	for (int t = 0; t < T; t++)
		work_init(&w[t], n, BATCH * (size_t)t / (size_t)T,
		    BATCH / (size_t)T, direct, dinp1);
	for (int k = 0; k < reps + 2; k++) {	/* 2 warm-up runs */
		pthread_t th;
		double t0, dt, c;

		for (int t = 0; t < T; t++) {
			memset(w[t].t, 0, sizeof(w[t].t));
			w[t].cpu = 0;
		}
		t0 = now();
		if (T > 1 && pthread_create(&th, NULL, thread_main, &w[1]) !=
		    0) {
			fprintf(stderr, "bench_conv: cannot start a thread\n");
			exit(1);
		}
		thread_main(&w[0]);
		if (T > 1)
			pthread_join(th, NULL);
		dt = now() - t0;
		if (k < 2)
			continue;
		c = w[0].cpu;
		if (T > 1 && w[1].cpu > c)
			c = w[1].cpu;
		best = c < best ? c : best;
		bwall = dt < bwall ? dt : bwall;
		if (per != NULL)
			for (int s = 0; s < 10; s++)
				if (w[0].t[s] * 1e6 / BATCH < per[s])
					per[s] = w[0].t[s] * 1e6 / BATCH;
	}
	for (int t = 0; t < T; t++)
		work_free(&w[t]);
	*wall = bwall * 1e6 / BATCH;
	return best * 1e6 / BATCH;
}

int
main(int argc, char **argv)
{
	struct net n;
	int reps = argc > 1 ? atoi(argv[1]) : 30;
	double pg[10], pd[10], g1, d1, g2, d2, gx, w;
	double wg1, wd1, wg2, wd2, sg = 0, sd = 0;

	if (reps < 1)
		reps = 1;
	if (argc > 2 && atoi(argv[2]) > 0)
		BLOCK = (size_t)atoi(argv[2]);
	net_init(&n);
	printf("conv 8 -> maxpool -> conv 16 -> maxpool (28x28x1, 3x3 valid)"
	    ", batch %d, blocks of %zu rows, isa %s\n", BATCH, BLOCK,
	    hgq_kernel_isa(HGQ_ISA_AUTO) == HGQ_ISA_AVX2 ? "avx2" : "c");
	printf("times: minimum over %d repetitions of CPU time (per thread)"
	    "; wall time in brackets\n", reps);
	g1 = batch_time(&n, 1, 0, 0, reps, pg, &wg1);
	d1 = batch_time(&n, 1, 1, 0, reps, pd, &wd1);
	printf("%-10s %12s %12s   (us per image, 1 thread)\n", "step",
	    "im2col-gemm", "direct");
	for (int s = 0; s < 10; s++) {
		if (s == 5 || s == 8)
			continue;	/* the ReLUs, fused into the pools */
		printf("%-10s %12.2f %12.2f\n", step_name[s], pg[s], pd[s]);
		sg += pg[s];
		sd += pd[s];
	}
	printf("%-10s %12.2f %12.2f\n", "sum", sg, sd);
	gx = batch_time(&n, 1, 0, 1, reps, NULL, &w);
	g2 = batch_time(&n, 2, 0, 0, reps, NULL, &wg2);
	d2 = batch_time(&n, 2, 1, 0, reps, NULL, &wd2);
	printf("conv part fwd+bwd, im2col-gemm: %.2f us/image on 1 thread "
	    "[%.2f], %.2f on 2 threads [%.2f]\n", g1, wg1, g2, wg2);
	printf("conv part fwd+bwd, direct:      %.2f us/image on 1 thread "
	    "[%.2f], %.2f on 2 threads [%.2f]\n", d1, wd1, d2, wd2);
	printf("with conv1's input gradient (trainable input quantizer): "
	    "%.2f us/image on 1 thread [%.2f]\n", gx, w);
	printf("budget: %.2f us of the 31.25 us per image at 32,000 "
	    "images/s on 2 threads%s\n", g2, g2 < 20 ?
	    "  [convs < 20 us: ok]" : "  [convs < 20 us: MISSED]");
	free(n.w1); free(n.wt1); free(n.b1); free(n.w2); free(n.wt2);
	free(n.b2); free(n.x);
	return 0;
}
