/*
 * train_step.c - the trainer: one optimizer step of HGQ training on a
 * batch, spread over a fixed pool of threads.
 *
 * The network is the model's layers in their (topological) order: a
 * chain Q0 D0 Q1 D1 ... D(n-1) Qn, or a graph of format 1.2.  Every op
 * (dense, convolution, pooling, flatten, add, subtract, concatenate,
 * lut; t->d) reads quantizers (t->q) and is read by exactly one, its
 * output quantizer; a quantizer reads a model input (its columns of a
 * data row) or one op, and may be read by several ops.  The forward
 * runs the layers in order, the backward in reverse: an op writes the
 * gradient of an input quantizer into that quantizer's buffer if it is
 * the first to (the loss is first for an output), else adds it, so a
 * quantizer read by several layers gets the sum, in a fixed order
 * (assign_slots; a chain uses two buffers in turn, as it always did).
 * A step is phase A on the calling thread, then one parallel job with
 * a barrier between B and E (the last thread to reach it does C and D
 * alone, as it would have to between two barriers):
 *
 *   A  quantize the weights and the biases; per-element scales 2^F of
 *      every activation quantizer (a few microseconds: cheaper alone
 *      than another meeting of the threads, which costs milliseconds
 *      when the machine has more work than cores)
 *   B  forward and backward on the thread's rows of the batch (a fixed
 *      partition); batchnorm layers meet at a barrier for the batch
 *      statistics in the forward and once more in the backward
 *   C  sum the threads' gradient buffers into thread 0's, always in
 *      thread order
 *   D  activation integer-bit states, EBOPs and its gradient, the
 *      gradient of every parameter
 *   E  the optimizer update, each thread a range of the parameters
 *
 * Everything is summed in a fixed order, so the same thread count gives
 * the same bits.  The maths (hgq-algorithm.md 0, 4, 5.2, 7.1):
 *
 *   forward    q = RND(x 2^F) 2^-F            F = round_half_even(f)
 *              z = q . Wq + bq, relu; the next quantizer; loss on the last
 *   backward   dq/dx = 1, dq/df = ln2 (x - q), summed over the elements
 *              sharing f; the weights' f likewise with (w - wq) dL/dwq
 *   EBOPs      sum_ij relu(i_a + F_a + k_a) * bitlen(mantissa of wq_ij),
 *              its gradient to F only
 *   batchnorm  z0 = q . K (float kernel); s = gamma / sqrt(var + eps);
 *              Wq = Q(K s), bq = Q(b - mean s); the gradient flows
 *              through the batch mean and variance as well
 *   graphs     add/sub/concat exact in float, their gradient to each
 *              input (negated for the second of a subtraction, split
 *              for a concatenation); lut z = func(q) in binary64,
 *              dz/dq = func'(q); masked weights 0, no gradient; EBOPs
 *              of a dense or convolution with its own input's bits,
 *              0 for the others; the loss on the joined outputs
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BN_MOMENTUM	0.99f
#define I_DECAY		0.01f		/* integer-bit state decay per step */

/* ------------------------------------------------------------------ */
/* A fixed pool of threads with a spinning barrier                     */
/* ------------------------------------------------------------------ */

typedef void (*job_fn)(void *arg, int tid);

struct pool {
	int		 n;		/* threads, the caller included */
	pthread_t	*th;
	int		 started;	/* workers running */
	atomic_uint	 gen;		/* job generation */
	atomic_uint	 bgen;		/* barrier generation */
	atomic_int	 arrived;
	int		 quit;
	job_fn		 fn;
	void		*arg;
	pthread_mutex_t	 mu;		/* job hand-over */
	pthread_cond_t	 cv;
	pthread_mutex_t	 bmu;		/* barrier sleepers */
	pthread_cond_t	 bcv;
};

struct worker_arg {
	struct pool	*p;
	int		 tid;
};

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * All n threads meet.  Spin first (a step takes about a millisecond and
 * its phases much less), then sleep, so that a machine with more threads
 * than cores (or other work) still makes progress.  The last to arrive
 * runs serial(arg) when given, alone (the others' work before the
 * barrier done and visible), then opens the barrier and wakes the
 * sleepers.
 */
static void
pool_barrier_serial(struct pool *p, void (*serial)(void *), void *arg)
{
	unsigned g;

	if (p->n <= 1) {
		if (serial != NULL)
			serial(arg);
		return;
	}
	g = atomic_load(&p->bgen);
	if (atomic_fetch_add(&p->arrived, 1) == p->n - 1) {
		if (serial != NULL)
			serial(arg);
		atomic_store(&p->arrived, 0);
		pthread_mutex_lock(&p->bmu);
		atomic_fetch_add(&p->bgen, 1);
		pthread_cond_broadcast(&p->bcv);
		pthread_mutex_unlock(&p->bmu);
		return;
	}
	for (unsigned spins = 0; spins < 3000; spins++) {
		if (atomic_load(&p->bgen) != g)
			return;
		cpu_relax();
	}
	pthread_mutex_lock(&p->bmu);
	while (atomic_load(&p->bgen) == g)
		pthread_cond_wait(&p->bcv, &p->bmu);
	pthread_mutex_unlock(&p->bmu);
}

static void
pool_barrier(struct pool *p)
{
	pool_barrier_serial(p, NULL, NULL);
}

static void *
worker_main(void *vp)
{
	struct worker_arg *wa = vp;
	struct pool *p = wa->p;
	int tid = wa->tid;
	unsigned seen = 0;

	free(wa);
	for (;;) {
		unsigned spins = 0;

		while (atomic_load(&p->gen) == seen) {
			if (++spins < 20000) {
				cpu_relax();
				continue;
			}
			/* idle for long (between epochs): sleep */
			pthread_mutex_lock(&p->mu);
			while (atomic_load(&p->gen) == seen)
				pthread_cond_wait(&p->cv, &p->mu);
			pthread_mutex_unlock(&p->mu);
		}
		seen = atomic_load(&p->gen);
		if (p->quit)
			break;
		p->fn(p->arg, tid);
		pool_barrier(p);
	}
	return NULL;
}

static int
pool_init(struct pool *p, int n)
{
	memset(p, 0, sizeof(*p));
	p->n = n;
	atomic_init(&p->gen, 0);
	atomic_init(&p->bgen, 0);
	atomic_init(&p->arrived, 0);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	pthread_mutex_init(&p->bmu, NULL);
	pthread_cond_init(&p->bcv, NULL);
	if (n <= 1)
		return HGQ_OK;
	p->th = calloc((size_t)n, sizeof(*p->th));
	if (p->th == NULL)
		return HGQ_ENOMEM;
	for (int t = 1; t < n; t++) {
		struct worker_arg *wa = malloc(sizeof(*wa));

		if (wa == NULL)
			return HGQ_ENOMEM;
		wa->p = p;
		wa->tid = t;
		if (pthread_create(&p->th[t], NULL, worker_main, wa) != 0) {
			free(wa);
			return HGQ_ENOMEM;
		}
		p->started = t;
	}
	return HGQ_OK;
}

/* run fn(arg, tid) on every thread; returns when all are done */
static void
pool_run(struct pool *p, job_fn fn, void *arg)
{
	p->fn = fn;
	p->arg = arg;
	if (p->n > 1) {
		pthread_mutex_lock(&p->mu);
		atomic_fetch_add(&p->gen, 1);
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	fn(arg, 0);
	pool_barrier(p);
}

static void
pool_release(struct pool *p)
{
	if (p->started > 0) {
		p->quit = 1;
		pthread_mutex_lock(&p->mu);
		atomic_fetch_add(&p->gen, 1);
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		for (int t = 1; t <= p->started; t++)
			pthread_join(p->th[t], NULL);
	}
	free(p->th);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->bmu);
	pthread_cond_destroy(&p->bcv);
}

/* ------------------------------------------------------------------ */
/* The trainer                                                         */
/* ------------------------------------------------------------------ */

struct tquant {
	struct hgq_layer *l;
	uint32_t	 j;		/* its model layer */
	uint32_t	 n;
	int		 trainable, round, gran;
	int		 src;		/* the op it reads, or -1: a model
					   input, columns in_off.. of a row */
	size_t		 in_off;
	int		 relu;		/* its op ends in a ReLU */
	int		 lut_cap;	/* a table reads it: F capped */
	int		 want;		/* its gradient is needed */
	int		 slot;		/* its gradient buffer (want) */
	int		 out;		/* model output: its first column in
					   the concatenated outputs, or -1 */
	int		 ident;		/* after flatten or max pool: q = x,
					   bits from the elements reaching it */
	int		 fused;		/* after dense: quantized in the
					   product's output pass */
	uint32_t	*src_e;		/* ident: n, the element of its op's
					   input whose bits it has */
	size_t		 off_f, n_f;	/* f parameters in P (trainable) */
	float		*ffixed;	/* n_f, when not trainable */
	float		*istate, *kstate;	/* n */
	float		*scale, *inv, *abits;	/* n, per step */
	float		*efa;		/* n: element gradient scratch */
	size_t		 acc_dfs;	/* sum dq (x - q), in acc */
	size_t		 mm;		/* offset of its qmin/qmax */
};

/*
 * An operation between two quantizers: dense, a convolution (a dense
 * layer of C = KH*KW*C_in inputs over the im2col rows of its npos
 * output positions), pooling or flatten.  Only dense and convolutions
 * have parameters (weighted).
 */
struct tdense {
	struct hgq_layer *l;
	uint32_t	 j;		/* its model layer */
	uint32_t	 kind;		/* enum hgq_layer_kind */
	int		 weighted;
	uint32_t	 n_in;		/* inputs: quantizers in[0..n_in) */
	uint32_t	 in[HGQ_MAX_LAYER_INPUTS];
	uint8_t		 first[HGQ_MAX_LAYER_INPUTS];	/* the backward's
					   first gradient into in[k]: write,
					   not add */
	uint32_t	 out;		/* the quantizer reading it */
	size_t		 outer;		/* concatenate: the output is outer
					   runs of seg[0], seg[1], ... */
	size_t		 seg[HGQ_MAX_LAYER_INPUTS];
	uint32_t	 func;		/* lut */
	float		*mask;		/* C*OC, 0 or 1 (masked), or NULL */
	uint32_t	 C, OC;		/* kernel matrix (C, OC) */
	size_t		 npos;		/* output positions (dense: 1) */
	size_t		 in_n, out_n;	/* elements of a sample */
	struct hgq_conv_geom g;		/* convolutions */
	struct hgq_pool_geom pg;	/* pooling */
	size_t		 col_len;	/* im2col floats of a sample */
	int		 direct;	/* convolution by hgq_conv_direct_*:
					   no im2col, no col buffer */
	int		 relu, bn, w_gran, b_gran;
	int		 nobias;	/* use_bias: false without bn: b = 0 */
	size_t		 off_w, off_b, off_fw, off_fb, off_g;
	size_t		 n_fw, n_fb;
	float		*wq, *wt, *wbits, *bq;	/* per step */
	float		*wf, *bf;	/* the float kernel/bias quantized:
					   W and b, or fused with BN */
	float		*efw;		/* C*OC element gradient scratch */
	/* batchnorm */
	float		*mmean, *mvar;	/* moving statistics (OC) */
	float		*kt;		/* float kernel transposed (OC,C) */
	float		*s, *dmu, *dvar, *dgamma;	/* OC */
	float		*dz;		/* 3 OC: a, c2, mu of
					   hgq_bn_backward_dz */
	double		*mu, *var;	/* batch statistics (OC) */
	float		*G, *gb;	/* batch gradient of Wq, bq (BN) */
	size_t		 acc_gw, acc_gb, acc_gk0;
	size_t		 bn_sum;	/* offset in a thread's bnsum */
};

/*
 * What the forward of a batchnorm layer derives from the batch
 * statistics: the fused kernel and bias and their quantization.  Thread
 * 0 writes the tdense's own arrays (which the backward's sync and phase D
 * read); the other threads compute the same numbers into their own copy
 * instead of waiting at a second barrier for thread 0's.
 */
struct bnview {
	float		*wq, *wt, *wbits, *bq;	/* C*OC, C*OC, C*OC, OC */
	float		*wf, *bf, *s;		/* C*OC, OC, OC */
	double		*mu, *var;		/* OC */
	/* the backward's: the batch's gradients of Wq and bq, those of
	   the statistics and gamma, the factors of hgq_bn_backward_dz */
	float		*G, *gb;		/* C*OC, OC */
	float		*dmu, *dvar, *dgamma, *dz;	/* OC, OC, OC, 3 OC */
};

struct tbuf {
	struct bnview	*bv;		/* per op (threads > 0, BN only) */
	float		**x, **q;	/* per quantizer: rows x n */
	float		**z0;		/* per op (BN only): rows x out_n */
	float		**col;		/* per convolution: rows x col_len */
	uint32_t	**arg;		/* per max pooling: rows x out_n, the
					   winners (hgq_maxpool_forward_arg) */
	float		*dcol;		/* rows x max_col */
	float		**gs;		/* n_slot gradient buffers of the
					   quantizers (slot), rows x max_w */
	float		*d3, *d4;	/* scratch, rows x max_w */
	float		*yb, *ob, *dob;	/* targets, outputs and their
					   gradient, rows x n_outcols */
	float		*acc;		/* reducible sums (n_acc) */
	float		*qmin, *qmax;	/* n_mm */
	double		*bnsum;		/* BN sum and sum of squares */
	int32_t		*labels;
	size_t		 r0, nr;	/* this step's rows */
	double		 loss;
	size_t		 correct;
};

struct region {
	size_t		 off, n;
	float		 lo, hi;
};

struct hgq_trainer {
	struct hgq_model	*m;
	const struct hgq_config	*c;
	int			 T;
	struct pool		 pool;
	int			 pool_ok;
	uint32_t		 nq, nd;
	uint32_t		*lidx;		/* model layer -> q or d index */
	struct tquant		*q;
	struct tdense		*d;
	size_t			 n_params;
	float			*P, *M1, *M2, *G;
	struct region		*reg;
	size_t			 n_reg;
	size_t			 n_acc, n_mm, n_bnsum, max_w, max_col;
	size_t			 n_cols;	/* columns of a data row */
	const uint32_t		*map;		/* the model's index map, or
						   NULL when the identity */
	size_t			 n_outcols;	/* of the outputs, joined */
	uint32_t		 n_outq;	/* output quantizers */
	uint32_t		 outq[HGQ_MAX_PORTS];
	int			 n_slot;	/* gradient buffers */
	int			 adds;		/* some gradient is added (d4) */
	struct tbuf		*tb;
	size_t			 cap;		/* rows per thread buffer */
	size_t			 blk;		/* rows per block (0: all) */
	uint64_t		 step;		/* optimizer steps taken */
	int			 task, loss_kind, optimizer;
	/* the step in progress */
	const float		*x, *y;
	const uint32_t		*idx;
	size_t			 n;
	double			 beta, lr;
	int			 update, adapt_bn, bad;
	double			 ebops, loss;
	size_t			 correct;
};

static size_t
fsize(int gran, size_t n_elem, size_t n_chan)
{
	return gran == HGQ_GRAN_ELEMENT ? n_elem :
	    gran == HGQ_GRAN_CHANNEL ? n_chan : 1;
}

static float *
falloc(size_t n)
{
	return hgq_calloc(n, sizeof(float));
}

static int
add_region(struct hgq_trainer *t, size_t off, size_t n, float lo, float hi)
{
	struct region *r = hgq_reallocarray(t->reg, t->n_reg + 1,
	    sizeof(*r));

	if (r == NULL)
		return HGQ_ENOMEM;
	t->reg = r;
	r[t->n_reg].off = off;
	r[t->n_reg].n = n;
	r[t->n_reg].lo = lo;
	r[t->n_reg].hi = hi;
	t->n_reg++;
	return HGQ_OK;
}

static void
tbuf_free(struct hgq_trainer *t, struct tbuf *b)
{
	if (b->x != NULL)
		for (uint32_t l = 0; l < t->nq; l++) {
			free(b->x[l]);
			free(b->q[l]);
		}
	if (b->z0 != NULL)
		for (uint32_t l = 0; l < t->nd; l++)
			free(b->z0[l]);
	if (b->col != NULL)
		for (uint32_t l = 0; l < t->nd; l++)
			free(b->col[l]);
	if (b->arg != NULL)
		for (uint32_t l = 0; l < t->nd; l++)
			free(b->arg[l]);
	if (b->bv != NULL)
		for (uint32_t l = 0; l < t->nd; l++) {
			struct bnview *v = &b->bv[l];

			free(v->wq);
			free(v->wt);
			free(v->wbits);
			free(v->bq);
			free(v->wf);
			free(v->bf);
			free(v->s);
			free(v->mu);
			free(v->var);
			free(v->G);
			free(v->gb);
			free(v->dmu);
			free(v->dvar);
			free(v->dgamma);
			free(v->dz);
		}
	free(b->bv);
	free(b->x);
	free(b->q);
	free(b->z0);
	free(b->col);
	free(b->arg);
	free(b->dcol);
	if (b->gs != NULL)
		for (int k = 0; k < t->n_slot; k++)
			free(b->gs[k]);
	free(b->gs);
	free(b->d3);
	free(b->d4);
	free(b->yb);
	free(b->ob);
	free(b->dob);
	free(b->acc);
	free(b->qmin);
	free(b->qmax);
	free(b->bnsum);
	free(b->labels);
	memset(b, 0, sizeof(*b));
}

/* per-thread buffers for up to rows rows each */
static int
tbuf_alloc(struct hgq_trainer *t, struct tbuf *b, size_t rows)
{
	size_t r = rows ? rows : 1;

	b->x = calloc(t->nq, sizeof(*b->x));
	b->q = calloc(t->nq, sizeof(*b->q));
	b->z0 = calloc(t->nd ? t->nd : 1, sizeof(*b->z0));
	b->col = calloc(t->nd ? t->nd : 1, sizeof(*b->col));
	b->arg = calloc(t->nd ? t->nd : 1, sizeof(*b->arg));
	if (b->x == NULL || b->q == NULL || b->z0 == NULL || b->col == NULL ||
	    b->arg == NULL)
		return HGQ_ENOMEM;
	for (uint32_t l = 0; l < t->nq; l++) {
		/* the input rows are gathered into x[0] */
		b->x[l] = falloc(r * t->q[l].n);
		b->q[l] = falloc(r * t->q[l].n);
		if (b->x[l] == NULL || b->q[l] == NULL)
			return HGQ_ENOMEM;
	}
	if ((b->bv = calloc(t->nd ? t->nd : 1, sizeof(*b->bv))) == NULL)
		return HGQ_ENOMEM;
	for (uint32_t l = 0; l < t->nd; l++) {
		struct bnview *v = &b->bv[l];
		size_t nw = (size_t)t->d[l].C * t->d[l].OC, OC = t->d[l].OC;

		if (t->d[l].bn && (b->z0[l] = falloc(r * t->d[l].out_n)) ==
		    NULL)
			return HGQ_ENOMEM;
		if (t->d[l].bn && b != &t->tb[0]) {
			v->wq = falloc(nw);
			v->wt = falloc(nw);
			v->wbits = falloc(nw);
			v->bq = falloc(OC);
			v->wf = falloc(nw);
			v->bf = falloc(OC);
			v->s = falloc(OC);
			v->mu = hgq_calloc(OC, sizeof(double));
			v->var = hgq_calloc(OC, sizeof(double));
			v->G = falloc(nw);
			v->gb = falloc(OC);
			v->dmu = falloc(OC);
			v->dvar = falloc(OC);
			v->dgamma = falloc(OC);
			v->dz = falloc(3 * OC);
			if (v->wq == NULL || v->wt == NULL ||
			    v->wbits == NULL || v->bq == NULL ||
			    v->wf == NULL || v->bf == NULL || v->s == NULL ||
			    v->mu == NULL || v->var == NULL || v->G == NULL ||
			    v->gb == NULL || v->dmu == NULL ||
			    v->dvar == NULL || v->dgamma == NULL ||
			    v->dz == NULL)
				return HGQ_ENOMEM;
		}
		if (t->d[l].col_len > 0 && !t->d[l].direct &&
		    (b->col[l] = falloc(r * t->d[l].col_len)) == NULL)
			return HGQ_ENOMEM;
		if (t->d[l].kind == HGQ_LAYER_MAXPOOL &&
		    (b->arg[l] = hgq_calloc(r * t->d[l].out_n,
		    sizeof(uint32_t))) == NULL)
			return HGQ_ENOMEM;
	}
	if (t->max_col > 0 && (b->dcol = falloc(r * t->max_col)) == NULL)
		return HGQ_ENOMEM;
	if ((b->gs = calloc((size_t)t->n_slot, sizeof(*b->gs))) == NULL)
		return HGQ_ENOMEM;
	for (int k = 0; k < t->n_slot; k++)
		if ((b->gs[k] = falloc(r * t->max_w)) == NULL)
			return HGQ_ENOMEM;
	/* the graphs' buffers only when the model needs them */
	if ((t->adds && (b->d4 = falloc(r * t->max_w)) == NULL) ||
	    (t->loss_kind == HGQ_LOSS_MSE &&
	    (b->yb = falloc(r * t->n_outcols)) == NULL) ||
	    (t->n_outq > 1 && ((b->ob = falloc(r * t->n_outcols)) == NULL ||
	    (b->dob = falloc(r * t->n_outcols)) == NULL)))
		return HGQ_ENOMEM;
	b->d3 = falloc(r * t->max_w);
	b->acc = falloc(t->n_acc);
	b->qmin = falloc(t->n_mm);
	b->qmax = falloc(t->n_mm);
	b->bnsum = hgq_calloc(t->n_bnsum ? t->n_bnsum : 1, sizeof(double));
	b->labels = hgq_calloc(r, sizeof(int32_t));
	if (b->d3 == NULL || b->acc == NULL || b->qmin == NULL ||
	    b->qmax == NULL || b->bnsum == NULL || b->labels == NULL)
		return HGQ_ENOMEM;
	return HGQ_OK;
}

static int
grow(struct hgq_trainer *t, size_t n)
{
	size_t rows = (n + (size_t)t->T - 1) / (size_t)t->T;

	if (t->blk > 0 && rows > t->blk)
		rows = t->blk;

	if (rows <= t->cap)
		return HGQ_OK;
	for (int k = 0; k < t->T; k++) {
		tbuf_free(t, &t->tb[k]);
		if (tbuf_alloc(t, &t->tb[k], rows) != HGQ_OK)
			return HGQ_ENOMEM;
	}
	t->cap = rows;
	return HGQ_OK;
}

void
hgq_trainer_free(struct hgq_trainer *t)
{
	if (t == NULL)
		return;
	if (t->pool_ok)
		pool_release(&t->pool);
	if (t->tb != NULL)
		for (int k = 0; k < t->T; k++)
			tbuf_free(t, &t->tb[k]);
	free(t->tb);
	for (uint32_t l = 0; t->q != NULL && l < t->nq; l++) {
		struct tquant *q = &t->q[l];

		free(q->ffixed);
		free(q->istate);
		free(q->kstate);
		free(q->scale);
		free(q->inv);
		free(q->abits);
		free(q->efa);
		free(q->src_e);
	}
	for (uint32_t l = 0; t->d != NULL && l < t->nd; l++) {
		struct tdense *d = &t->d[l];

		free(d->wq);
		free(d->wt);
		free(d->wbits);
		free(d->bq);
		free(d->wf);
		free(d->bf);
		free(d->efw);
		free(d->mmean);
		free(d->mvar);
		free(d->kt);
		free(d->s);
		free(d->dmu);
		free(d->dvar);
		free(d->dgamma);
		free(d->dz);
		free(d->mu);
		free(d->var);
		free(d->G);
		free(d->gb);
		free(d->mask);
	}
	free(t->q);
	free(t->d);
	free(t->lidx);
	free(t->P);
	free(t->M1);
	free(t->M2);
	free(t->G);
	free(t->reg);
	free(t);
}

/* copy a model tensor of role into dst (n floats); missing: fill */
static int
load_tensor(const struct hgq_layer *l, uint32_t role, float *dst, size_t n,
    int required, float fill, uint32_t li, struct hgq_err *err)
{
	const struct hgq_tensor *ts = hgq_layer_tensor(l, role);

	if (ts == NULL) {
		if (required)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": training tensor 0x%" PRIx32 " missing", li,
			    role);
		for (size_t j = 0; j < n; j++)
			dst[j] = fill;
		return HGQ_OK;
	}
	if (ts->n != n)
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
		    ": training tensor 0x%" PRIx32 " has %" PRIu32
		    " floats, expected %zu", li, role, ts->n, n);
	memcpy(dst, ts->data, n * sizeof(float));
	return HGQ_OK;
}

/*
 * op_init - the geometry of op d (model layer j) from the model; the
 * model is valid, so the geometry is too.  idx maps a model layer to
 * its index among the quantizers (or the ops).
 */
/*
 * conf_item - the config item that made operation op (the op-th
 * non-quantizer layer) of a model built from the config: one each, but
 * a global pool makes two (the pool and its flatten).
 */
static uint32_t
conf_item(const struct hgq_config *c, uint32_t op)
{
	for (uint32_t k = 0; k < c->model.n_layers; k++) {
		const struct hgq_layer_conf *lc = &c->model.layers[k];
		uint32_t n = lc->ndim == 0 && (lc->kind == HGQ_LAYER_MAXPOOL ||
		    lc->kind == HGQ_LAYER_AVGPOOL) ? 2 : 1;

		if (op < n)
			return k;
		op -= n;
	}
	return c->model.n_layers;
}

static int
op_init(struct hgq_trainer *t, struct tdense *d, uint32_t j,
    const uint32_t *idx, struct hgq_err *err)
{
	struct hgq_model *m = t->m;
	struct hgq_layer *l = &m->layers[j];
	struct hgq_window w;
	int rc;

	d->l = l;
	d->j = j;
	d->kind = l->kind;
	d->in_n = l->n_in;
	d->out_n = l->n_out;
	d->npos = 1;
	d->n_in = hgq_layer_n_inputs(l);
	for (uint32_t k = 0; k < d->n_in; k++)
		d->in[k] = idx[hgq_layer_input(m, j, k)];
	switch (l->kind) {
	case HGQ_LAYER_DENSE:
		d->weighted = 1;
		d->C = l->n_in;
		d->OC = l->n_out;
		break;
	case HGQ_LAYER_CONV1D:
	case HGQ_LAYER_CONV2D:
		if ((rc = hgq_layer_window(m, j, &w, err)) != HGQ_OK ||
		    (rc = hgq_conv_geom_init(&d->g, w.in_h, w.in_w, w.in_c,
		    w.k_h, w.k_w, w.out_c, w.s_h, w.s_w, l->padding, err)) !=
		    HGQ_OK)
			return rc;
		d->weighted = 1;
		d->C = w.n_taps;
		d->OC = w.out_c;
		d->npos = w.n_pos;
		d->col_len = hgq_conv_col_len(&d->g);
		break;
	case HGQ_LAYER_MAXPOOL:
	case HGQ_LAYER_AVGPOOL:
		if ((rc = hgq_layer_window(m, j, &w, err)) != HGQ_OK ||
		    (rc = hgq_pool_geom_init(&d->pg, w.in_h, w.in_w, w.in_c,
		    w.k_h, w.k_w, w.s_h, w.s_w, err)) != HGQ_OK)
			return rc;
		break;
	case HGQ_LAYER_CONCAT:
		hgq_layer_concat_runs(m, j, &d->outer, d->seg);
		break;
	case HGQ_LAYER_LUT:
		d->func = l->func;
		break;
	case HGQ_LAYER_FLATTEN:
	case HGQ_LAYER_ADD:
	case HGQ_LAYER_SUB:
		break;
	default:
		return hgq_errf(err, HGQ_EUNSUPP, "layer %" PRIu32 " (%s): "
		    "not supported by the trainer", j,
		    hgq_layer_kind_name(l->kind));
	}
	if (d->weighted) {
		uint32_t ci = conf_item(t->c, idx[j]);

		d->relu = l->act == HGQ_ACT_RELU;
		d->bn = l->bn;
		d->direct = d->kind != HGQ_LAYER_DENSE && !d->bn &&
		    hgq_conv_direct(&d->g);
		/* a model built without a config's layers has biases */
		d->nobias = !l->bn && ci < t->c->model.n_layers &&
		    t->c->model.layers[ci].no_bias;
		d->w_gran = l->w_gran;
		d->b_gran = l->b_gran;
	}
	return HGQ_OK;
}

/*
 * ident_src - the source element of every element of the identity
 * quantizer after op d: itself after flatten, the first element of the
 * window (a placeholder: the step picks the one with the most bits).
 */
static int
ident_src(struct tquant *q, const struct tdense *d)
{
	if ((q->src_e = hgq_calloc(q->n, sizeof(*q->src_e))) == NULL)
		return HGQ_ENOMEM;
	for (uint32_t e = 0; e < q->n; e++)
		q->src_e[e] = d->kind == HGQ_LAYER_FLATTEN ? e : 0;
	return HGQ_OK;
}

/*
 * quant_init - quantizer q (model layer j) and what it reads: a model
 * input (its columns of a data row) or op idx[ref].  Its ops are set
 * up already (layer order: the op before it has a lower index).
 */
static int
quant_init(struct hgq_trainer *t, struct tquant *q, uint32_t j,
    const uint32_t *idx)
{
	struct hgq_model *m = t->m;
	struct hgq_layer *l = &m->layers[j];
	uint32_t dims[HGQ_MAX_RANK], r = hgq_layer_shape(l, dims);
	uint32_t ref = hgq_layer_input(m, j, 0);
	const struct tdense *d;

	q->l = l;
	q->j = j;
	q->n = l->n_out;
	q->round = l->round;
	q->gran = l->gran;
	q->slot = -1;
	q->out = -1;
	q->lut_cap = hgq_quant_feeds_lut(m, j);
	q->n_f = l->gran == HGQ_GRAN_LAYER ? 1 :
	    l->gran == HGQ_GRAN_CHANNEL ? dims[r - 1] : q->n;
	if ((ref & HGQ_REF_INPUT) != 0) {
		q->src = -1;
		q->in_off = hgq_model_input_offset(m, ref & ~HGQ_REF_INPUT);
		q->trainable = l->trainable;
		q->want = q->trainable;
		return HGQ_OK;
	}
	q->src = (int)idx[ref];
	d = &t->d[q->src];
	q->relu = d->weighted && d->relu;
	q->ident = !l->trainable && (d->kind == HGQ_LAYER_FLATTEN ||
	    d->kind == HGQ_LAYER_MAXPOOL);
	q->trainable = l->trainable && !q->ident;
	q->fused = d->kind == HGQ_LAYER_DENSE;
	q->want = 1;
	return q->ident ? ident_src(q, d) : HGQ_OK;
}

/* the lowest free gradient buffer, marked busy; -1: none left */
static int
slot_take(uint64_t *busy, int *n)
{
	for (int s = 0; s < 64; s++)
		if ((*busy & ((uint64_t)1 << s)) == 0) {
			*busy |= (uint64_t)1 << s;
			if (s + 1 > *n)
				*n = s + 1;
			return s;
		}
	return -1;
}

/*
 * assign_slots - a gradient buffer for every quantizer whose gradient
 * is wanted, from its first writer in the backward (the loss for an
 * output, else the last layer reading it) to its own op, which reads it
 * and frees it; d->first[k] says which reader writes (the others add).
 * A chain gets the two buffers it always had, in turn.
 */
static int
assign_slots(struct hgq_trainer *t, struct hgq_err *err)
{
	uint64_t busy = 0;
	int n = 0;

	for (uint32_t k = 0; k < t->n_outq; k++)
		if (t->q[t->outq[k]].slot < 0 &&
		    (t->q[t->outq[k]].slot = slot_take(&busy, &n)) < 0)
			goto full;
	for (uint32_t j = t->m->n_layers; j-- > 0;) {
		struct tdense *d;

		if (t->m->layers[j].kind == HGQ_LAYER_QUANT)
			continue;
		d = &t->d[t->lidx[j]];
		for (uint32_t k = 0; k < d->n_in; k++) {
			struct tquant *q = &t->q[d->in[k]];

			d->first[k] = q->want && q->slot < 0;
			t->adds |= q->want && !d->first[k];
			if (d->first[k] && (q->slot = slot_take(&busy, &n)) <
			    0)
				goto full;
		}
		busy &= ~((uint64_t)1 << t->q[d->out].slot);
	}
	t->n_slot = n;
	return HGQ_OK;
full:
	return hgq_errf(err, HGQ_EUNSUPP, "the graph needs more than 64 "
	    "gradients at once");
}

/* is m's index map the identity over its raw columns? */
static int
identity_map(const struct hgq_model *m)
{
	if (m->index_map == NULL || m->n_raw != hgq_model_n_in(m))
		return m->index_map == NULL;
	for (uint32_t e = 0; e < m->n_raw; e++)
		if (m->index_map[e] != e)
			return 0;
	return 1;
}

/*
 * The model's quantizers and ops, in layer order, what each reads, the
 * outputs, the gradient buffers.
 */
static int
trainer_graph(struct hgq_trainer *t, struct hgq_err *err)
{
	struct hgq_model *m = t->m;
	int rc;

	if ((rc = hgq_model_validate_graph(m, err)) != HGQ_OK)
		return rc;
	if ((t->lidx = calloc(m->n_layers, sizeof(*t->lidx))) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	for (uint32_t j = 0; j < m->n_layers; j++)
		t->lidx[j] = m->layers[j].kind == HGQ_LAYER_QUANT ? t->nq++ :
		    t->nd++;
	t->q = calloc(t->nq, sizeof(*t->q));
	t->d = calloc(t->nd ? t->nd : 1, sizeof(*t->d));
	if (t->q == NULL || t->d == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	for (uint32_t j = 0; j < m->n_layers; j++) {
		uint32_t x = t->lidx[j];

		if (m->layers[j].kind != HGQ_LAYER_QUANT)
			rc = op_init(t, &t->d[x], j, t->lidx, err);
		else if (quant_init(t, &t->q[x], j, t->lidx) != HGQ_OK)
			rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		else if (t->q[x].src >= 0)
			t->d[t->q[x].src].out = x;
		if (rc != HGQ_OK)
			return rc;
	}
	if (hgq_model_is_chain(m) && t->d[t->nd - 1].kind != HGQ_LAYER_DENSE)
		return hgq_errf(err, HGQ_EINVAL, "the last operation must be "
		    "dense");
	t->n_outq = hgq_model_n_outputs(m);
	if (t->task == HGQ_TASK_CLASSIFY && t->n_outq != 1)
		return hgq_errf(err, HGQ_EINVAL, "a classifier has one output"
		    " (the model has %" PRIu32 ")", t->n_outq);
	for (uint32_t k = 0; k < t->n_outq; k++) {
		struct tquant *q;

		t->outq[k] = t->lidx[hgq_model_output_layer(m, k)];
		q = &t->q[t->outq[k]];
		q->out = (int)t->n_outcols;
		t->n_outcols += q->n;
	}
	/* a data row: the raw columns; the index map picks the inputs' */
	t->n_cols = m->n_raw;
	t->map = identity_map(m) ? NULL : m->index_map;
	return assign_slots(t, err);
}

/*
 * Lay out the flat parameter vector and every buffer from the model's
 * layers, then copy the training tensors in.
 */
static int
trainer_layout(struct hgq_trainer *t, struct hgq_err *err)
{
	struct hgq_model *m = t->m;
	size_t off = 0, acc = 0, mm = 0, bns = 0;
	int rc;

	if ((rc = trainer_graph(t, err)) != HGQ_OK)
		return rc;
	/* parameters: weighted op W b FW FB (gamma); trainable quantizer FA */
	for (uint32_t j = 0; j < m->n_layers; j++) {
		if (m->layers[j].kind == HGQ_LAYER_QUANT) {
			struct tquant *q = &t->q[t->lidx[j]];

			if (q->trainable) {
				q->off_f = off;
				if ((rc = add_region(t, off, q->n_f, FBITS_LO,
				    FBITS_HI)) != HGQ_OK)
					goto nomem;
				off += q->n_f;
			}
			q->acc_dfs = acc;
			acc += q->n;
			q->mm = mm;
			mm += q->n;
			if (q->n > t->max_w)
				t->max_w = q->n;
		} else if (t->d[t->lidx[j]].weighted) {
			struct tdense *d = &t->d[t->lidx[j]];
			size_t nw = (size_t)d->C * d->OC;

			d->n_fw = fsize(d->w_gran, nw, d->OC);
			d->n_fb = fsize(d->b_gran, d->OC, d->OC);
			d->off_w = off;
			if ((rc = add_region(t, off, nw + d->OC, -INFINITY,
			    INFINITY)) != HGQ_OK)
				goto nomem;
			off += nw;
			d->off_b = off;
			off += d->OC;
			d->off_fw = off;
			off += d->n_fw;
			d->off_fb = off;
			off += d->n_fb;
			if ((rc = add_region(t, d->off_fw, d->n_fw + d->n_fb,
			    FBITS_LO, FBITS_HI)) != HGQ_OK)
				goto nomem;
			if (d->bn) {
				d->off_g = off;
				if ((rc = add_region(t, off, d->OC, -INFINITY,
				    INFINITY)) != HGQ_OK)
					goto nomem;
				off += d->OC;
			}
			d->acc_gw = acc;
			acc += nw;
			d->acc_gb = acc;
			acc += d->OC;
			if (d->bn) {
				d->acc_gk0 = acc;
				acc += nw;
				d->bn_sum = bns;
				bns += 2 * (size_t)d->OC;
			}
		}
	}
	t->n_params = off;
	t->n_acc = acc;
	t->n_mm = mm;
	t->n_bnsum = bns;
	t->P = falloc(off);
	t->M1 = falloc(off);
	t->M2 = falloc(off);
	t->G = falloc(off);
	if (t->P == NULL || t->M1 == NULL || t->M2 == NULL || t->G == NULL)
		goto nomem;
	for (uint32_t l = 0; l < t->nq; l++) {
		struct tquant *q = &t->q[l];

		q->istate = falloc(q->n);
		q->kstate = falloc(q->n);
		q->scale = falloc(q->n);
		q->inv = falloc(q->n);
		q->abits = falloc(q->n);
		q->efa = falloc(q->n);
		if (!q->trainable)
			q->ffixed = falloc(q->n_f);
		if (q->istate == NULL || q->kstate == NULL ||
		    q->scale == NULL || q->inv == NULL || q->abits == NULL ||
		    q->efa == NULL || (!q->trainable && q->ffixed == NULL))
			goto nomem;
	}
	for (uint32_t l = 0; l < t->nd; l++) {
		struct tdense *d = &t->d[l];
		size_t nw = (size_t)d->C * d->OC;

		if (d->col_len > t->max_col)
			t->max_col = d->col_len;
		if (!d->weighted)
			continue;
		d->wq = falloc(nw);
		d->wt = falloc(nw);
		d->wbits = falloc(nw);
		d->bq = falloc(d->OC);
		d->wf = falloc(nw);
		d->bf = falloc(d->OC);
		d->efw = falloc(nw > d->OC ? nw : d->OC);
		if (d->wq == NULL || d->wt == NULL || d->wbits == NULL ||
		    d->bq == NULL || d->wf == NULL || d->bf == NULL ||
		    d->efw == NULL)
			goto nomem;
		if (d->bn) {
			d->mmean = falloc(d->OC);
			d->mvar = falloc(d->OC);
			d->kt = falloc(nw);
			d->s = falloc(d->OC);
			d->dmu = falloc(d->OC);
			d->dvar = falloc(d->OC);
			d->dgamma = falloc(d->OC);
			d->dz = falloc(3 * (size_t)d->OC);
			d->mu = hgq_calloc(d->OC, sizeof(double));
			d->var = hgq_calloc(d->OC, sizeof(double));
			d->G = falloc(nw);
			d->gb = falloc(d->OC);
			if (d->mmean == NULL || d->mvar == NULL ||
			    d->kt == NULL || d->s == NULL || d->dmu == NULL ||
			    d->dvar == NULL || d->dgamma == NULL ||
			    d->dz == NULL ||
			    d->mu == NULL || d->var == NULL || d->G == NULL ||
			    d->gb == NULL)
				goto nomem;
		}
		if (d->kind != HGQ_LAYER_DENSE)
			continue;
		if (d->OC > t->max_w)
			t->max_w = d->OC;
		if (d->C > t->max_w)
			t->max_w = d->C;
	}
	return HGQ_OK;
nomem:
	return hgq_errf(err, HGQ_ENOMEM, "out of memory");
}

/* read (dir 0) or write (dir 1) the float state from/to the model */
static int
trainer_io(struct hgq_trainer *t, int dir, struct hgq_err *err)
{
	int adam = t->optimizer == HGQ_OPT_ADAM;
	int rc = HGQ_OK;

#define IO(layer, role, ptr, n, req, fill, li) do { \
		if (dir == 0) { \
			rc = load_tensor(layer, role, ptr, n, req, fill, li, \
			    err); \
			if (rc != HGQ_OK) \
				return rc; \
		} else { \
			struct hgq_tensor *ts_ = hgq_layer_tensor(layer, \
			    role); \
			if (ts_ == NULL) \
				ts_ = hgq_layer_add_tensor(layer, role, \
				    (uint32_t)(n), err); \
			if (ts_ == NULL) \
				return HGQ_ENOMEM; \
			memcpy(ts_->data, ptr, (n) * sizeof(float)); \
		} \
	} while (0)
#define IO_PARAM(layer, role, off, n, li) do { \
		IO(layer, role, t->P + (off), n, 1, 0.0f, li); \
		IO(layer, (role) | HGQ_ROLE_M1, t->M1 + (off), n, 0, 0.0f, \
		    li); \
		if (adam) \
			IO(layer, (role) | HGQ_ROLE_M2, t->M2 + (off), n, 0, \
			    0.0f, li); \
	} while (0)

	for (uint32_t l = 0; l < t->nq; l++) {
		struct tquant *q = &t->q[l];
		uint32_t li = q->j;

		if (q->trainable)
			IO_PARAM(q->l, HGQ_ROLE_ACT_FBITS, q->off_f, q->n_f,
			    li);
		else
			IO(q->l, HGQ_ROLE_ACT_FBITS, q->ffixed, q->n_f, 1, 0,
			    li);
		IO(q->l, HGQ_ROLE_ACT_ISTATE, q->istate, q->n, 0, I_UNSET,
		    li);
		IO(q->l, HGQ_ROLE_ACT_KSTATE, q->kstate, q->n, 0, 0.0f, li);
	}
	for (uint32_t l = 0; l < t->nd; l++) {
		struct tdense *d = &t->d[l];
		uint32_t li = d->j;
		size_t nw = (size_t)d->C * d->OC;

		if (!d->weighted)
			continue;
		IO_PARAM(d->l, HGQ_ROLE_WEIGHT, d->off_w, nw, li);
		IO_PARAM(d->l, HGQ_ROLE_BIAS, d->off_b, d->OC, li);
		IO_PARAM(d->l, HGQ_ROLE_WEIGHT_FBITS, d->off_fw, d->n_fw, li);
		IO_PARAM(d->l, HGQ_ROLE_BIAS_FBITS, d->off_fb, d->n_fb, li);
		if (d->bn) {
			IO_PARAM(d->l, HGQ_ROLE_BN_GAMMA, d->off_g, d->OC, li);
			IO(d->l, HGQ_ROLE_BN_MEAN, d->mmean, d->OC, 0, 0.0f,
			    li);
			IO(d->l, HGQ_ROLE_BN_VAR, d->mvar, d->OC, 0, 1.0f, li);
		}
	}
#undef IO_PARAM
#undef IO
	return rc;
}

/*
 * trainer_masks - the mask of every masked dense or convolution: its
 * masked weights are exactly 0 and so are their optimizer moments, so
 * that with no gradient (phase_grads) no step ever moves them.
 */
static int
trainer_masks(struct hgq_trainer *t, struct hgq_err *err)
{
	for (uint32_t l = 0; l < t->nd; l++) {
		struct tdense *d = &t->d[l];
		const struct hgq_tensor *ts = hgq_layer_tensor(d->l,
		    HGQ_ROLE_MASK);
		size_t nw = (size_t)d->C * d->OC;

		if (ts == NULL || !d->weighted)
			continue;
		if (ts->n != nw)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": the mask has %" PRIu32 " floats, expected %zu",
			    d->j, ts->n, nw);
		if ((d->mask = falloc(nw)) == NULL)
			return hgq_errf(err, HGQ_ENOMEM, "out of memory");
		for (size_t e = 0; e < nw; e++) {
			d->mask[e] = ts->data[e] != 0.0f ? 1.0f : 0.0f;
			if (d->mask[e] != 0.0f)
				continue;
			t->P[d->off_w + e] = 0;
			t->M1[d->off_w + e] = 0;
			t->M2[d->off_w + e] = 0;
		}
	}
	return HGQ_OK;
}

/*
 * Rows per block: the activations of a block (x and q of every quantizer
 * and three gradient buffers) fill about 512 KiB, the size of a core's
 * L2 cache on current x86.  0 (one block) with batchnorm.  A row of an
 * image network is larger than that (240 KiB for the conv 8 -> conv 16
 * CNN of bench_train): 4 rows then, not 16, which bench_train cnn
 * measured about 4 % faster (the GEMM tiles do not need more rows:
 * every image brings hundreds of output positions).
 */
static size_t
block_rows(const struct hgq_trainer *t)
{
	size_t per_row = 3 * t->max_w + t->max_col, rows;

	for (uint32_t l = 0; l < t->nd; l++) {
		if (t->d[l].bn)
			return 0;
		per_row += t->d[l].col_len;
	}
	for (uint32_t l = 0; l < t->nq; l++)
		per_row += 2 * (size_t)t->q[l].n;
	rows = (128 * 1024) / per_row;
	if (rows < 16)
		return rows < 4 ? 4 : rows & ~(size_t)3;
	rows = rows > 1024 ? 1024 : rows;
	return rows & ~(size_t)7;
}

int
hgq_trainer_new(struct hgq_trainer **out, struct hgq_model *m,
    const struct hgq_config *c, int threads, struct hgq_err *err)
{
	struct hgq_trainer *t;
	int rc;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	threads = hgq_n_threads(threads, 256);
	t->m = m;
	t->c = c;
	t->T = threads;
	t->task = c->train.loss == HGQ_LOSS_MSE ? HGQ_TASK_REGRESS :
	    HGQ_TASK_CLASSIFY;
	t->loss_kind = c->train.loss;
	t->optimizer = c->train.optimizer;
	t->step = m->has_train ? m->train.step : 0;
	if ((rc = trainer_layout(t, err)) != HGQ_OK ||
	    (rc = trainer_io(t, 0, err)) != HGQ_OK ||
	    (rc = trainer_masks(t, err)) != HGQ_OK)
		goto fail;
	t->blk = block_rows(t);
	t->tb = calloc((size_t)threads, sizeof(*t->tb));
	if (t->tb == NULL) {
		rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		goto fail;
	}
	t->cap = 0;
	for (int k = 0; k < threads; k++)
		if (tbuf_alloc(t, &t->tb[k], 1) != HGQ_OK) {
			rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
			goto fail;
		}
	t->cap = 1;
	if (pool_init(&t->pool, threads) != HGQ_OK) {
		t->pool_ok = 1;
		rc = hgq_errf(err, HGQ_ENOMEM, "cannot start %d threads",
		    threads);
		goto fail;
	}
	t->pool_ok = 1;
	*out = t;
	return HGQ_OK;
fail:
	hgq_trainer_free(t);
	return rc;
}

size_t
hgq_trainer_n_params(const struct hgq_trainer *t)
{
	return t->n_params;
}

float *
hgq_trainer_params(struct hgq_trainer *t)
{
	return t->P;
}

int
hgq_trainer_threads(const struct hgq_trainer *t)
{
	return t->T;
}

void
hgq_trainer_sync(struct hgq_trainer *t)
{
	/* the tensors exist (trainer_io read them), so this cannot fail */
	(void)trainer_io(t, 1, NULL);
	t->m->has_train = 1;
	t->m->train.step = t->step;
}

/* ------------------------------------------------------------------ */
/* The step                                                            */
/* ------------------------------------------------------------------ */

static inline float
pow2f(int e)
{
	union { uint32_t u; float f; } v;

	v.u = (uint32_t)(e + 127) << 23;
	return v.f;
}

static inline const float *
qf_param(const struct hgq_trainer *t, const struct tquant *q)
{
	return q->trainable ? t->P + q->off_f : q->ffixed;
}

/* element e's F of quantizer q: round(f), within a table's width */
static inline int
act_F(const struct tquant *q, const float *f, size_t e)
{
	int F = hgq_round_bits(f[e % q->n_f]), cap;

	if (!q->lut_cap)
		return F;
	cap = hgq_lut_fcap(q->istate[e], q->kstate[e]);
	return F < cap ? F : cap;
}

/* [lo, hi) of n items for thread tid */
static void
split(size_t n, int T, int tid, size_t *lo, size_t *hi)
{
	*lo = n * (size_t)tid / (size_t)T;
	*hi = n * (size_t)(tid + 1) / (size_t)T;
}

/* quantize rows [r0, r1) of a float kernel kf into wq, wbits, wt */
static void
quant_rows(const struct tdense *d, float *wq, float *wbits, float *wt,
    const float *kf, const float *fw, size_t r0, size_t r1)
{
	size_t OC = d->OC;
	const float *f = d->w_gran == HGQ_GRAN_ELEMENT ? fw + r0 * OC : fw;

	if (r1 <= r0)
		return;
	hgq_wquant(wq + r0 * OC, wbits + r0 * OC, kf + r0 * OC, f, r1 - r0,
	    OC, d->w_gran);
	for (size_t i = r0; i < r1; i++)
		for (size_t j = 0; j < OC; j++)
			wt[j * d->C + i] = wq[i * OC + j];
}

static void
quant_bias(const struct tdense *d, float *bq, const float *bf,
    const float *fb)
{
	for (size_t j = 0; j < d->OC; j++) {
		int F = hgq_round_bits(fb[d->b_gran == HGQ_GRAN_LAYER ? 0 :
		    j]);

		bq[j] = hgq_fq_f32s(bf[j], pow2f(F), pow2f(-F), HGQ_RND);
	}
}

/* the fused arrays of batchnorm op d as thread tid uses them */
static struct bnview
bn_view(const struct hgq_trainer *t, struct tdense *d, uint32_t l, int tid)
{
	struct bnview v = {
		.wq = d->wq, .wt = d->wt, .wbits = d->wbits, .bq = d->bq,
		.wf = d->wf, .bf = d->bf, .s = d->s, .mu = d->mu,
		.var = d->var, .G = d->G, .gb = d->gb, .dmu = d->dmu,
		.dvar = d->dvar, .dgamma = d->dgamma, .dz = d->dz,
	};

	return tid == 0 || !d->bn ? v : t->tb[tid].bv[l];
}

/* phase A (the calling thread, before the job) */
static void
phase_quantize(struct hgq_trainer *t)
{
	for (uint32_t l = 0; l < t->nd; l++) {
		struct tdense *d = &t->d[l];

		if (!d->weighted || d->bn)
			continue;	/* BN: done in the forward (statistics) */
		quant_rows(d, d->wq, d->wbits, d->wt, t->P + d->off_w,
		    t->P + d->off_fw, 0, d->C);
		memcpy(d->bf, t->P + d->off_b, d->OC * sizeof(float));
		quant_bias(d, d->bq, d->bf, t->P + d->off_fb);
	}
	for (uint32_t l = 0; l < t->nq; l++) {
		struct tquant *q = &t->q[l];
		const float *f = qf_param(t, q);

		if (q->ident)
			continue;
		for (size_t e = 0; e < q->n; e++) {
			int F = act_F(q, f, e);

			q->scale[e] = pow2f(F);
			q->inv[e] = pow2f(-F);
		}
	}
}

/*
 * Batchnorm, forward, every thread after every thread has summed z0: the
 * batch statistics, the fused kernel and bias, their quantization, into
 * v (bn_view).  Every thread sums the threads' sums in thread order, so
 * they all get the same numbers.  main (thread 0 only) also keeps K^T
 * for the backward, adapts f at the first step (before the others read
 * it: a barrier follows then) and updates the moving statistics.
 */
static void
bn_forward_fuse(struct hgq_trainer *t, struct tdense *d,
    const struct bnview *v, int main)
{
	size_t C = d->C, OC = d->OC, nw = C * OC;
	const float *K = t->P + d->off_w, *b = t->P + d->off_b;
	const float *gamma = t->P + d->off_g;
	double B = (double)t->n * (double)d->npos;

	for (size_t j = 0; j < OC; j++) {
		double s1 = 0, s2 = 0, mu, var;

		for (int k = 0; k < t->T; k++) {
			s1 += t->tb[k].bnsum[d->bn_sum + j];
			s2 += t->tb[k].bnsum[d->bn_sum + OC + j];
		}
		mu = s1 / B;
		var = s2 / B - mu * mu;
		if (var < 0)
			var = 0;
		v->mu[j] = mu;
		v->var[j] = var;
		v->s[j] = gamma[j] / sqrtf((float)var + BN_EPS);
	}
	for (size_t i = 0; i < C; i++)
		for (size_t j = 0; j < OC; j++)
			v->wf[i * OC + j] = K[i * OC + j] * v->s[j];
	if (main)
		for (size_t i = 0; i < C; i++)
			for (size_t j = 0; j < OC; j++)
				d->kt[j * C + i] = K[i * OC + j];
	for (size_t j = 0; j < OC; j++)
		v->bf[j] = b[j] - (float)v->mu[j] * v->s[j];
	if (main && t->adapt_bn) {
		/*
		 * v1 adapts the fused kernel's f at the first batch:
		 * f = init_f - log2|w|, the minimum over shared elements.
		 */
		float *fw = t->P + d->off_fw;
		float init = (float)t->c->q_weight.init_f;

		for (size_t g = 0; g < d->n_fw; g++)
			fw[g] = FBITS_HI;
		for (size_t e = 0; e < nw; e++) {
			size_t g = d->w_gran == HGQ_GRAN_ELEMENT ? e :
			    d->w_gran == HGQ_GRAN_CHANNEL ? e % OC : 0;
			float a = fabsf(v->wf[e]);
			float nf = a > 0 ? init - log2f(a) : FBITS_HI;

			if (nf < fw[g])
				fw[g] = nf < FBITS_LO ? FBITS_LO : nf;
		}
	}
	quant_rows(d, v->wq, v->wbits, v->wt, v->wf, t->P + d->off_fw, 0, C);
	quant_bias(d, v->bq, v->bf, t->P + d->off_fb);
	if (main && t->update)
		for (size_t j = 0; j < OC; j++) {
			d->mmean[j] = BN_MOMENTUM * d->mmean[j] +
			    (1 - BN_MOMENTUM) * (float)d->mu[j];
			d->mvar[j] = BN_MOMENTUM * d->mvar[j] +
			    (1 - BN_MOMENTUM) * (float)d->var[j];
		}
}

/*
 * Batchnorm, backward, every thread into its v (bn_view; thread 0's is
 * what phase D reads), the threads' sums added in thread order: with G =
 * dL/dWq and gb = dL/dbq summed over the batch, the gradients of s and
 * of the statistics:
 *   ds_j = sum_i G_ij K_ij - gb_j mu_j
 *   dgamma_j = ds_j / sqrt(var_j + eps)
 *   dvar_j = -1/2 ds_j s_j / (var_j + eps)
 *   dmu_j = -gb_j s_j
 */
static void
bn_backward_fuse(struct hgq_trainer *t, struct tdense *d,
    const struct bnview *v)
{
	size_t C = d->C, OC = d->OC, nw = C * OC;
	const float *K = t->P + d->off_w;
	float invB = 1.0f / ((float)t->n * (float)d->npos);

	memcpy(v->G, t->tb[0].acc + d->acc_gw, nw * sizeof(float));
	memcpy(v->gb, t->tb[0].acc + d->acc_gb, OC * sizeof(float));
	for (int k = 1; k < t->T; k++) {
		const float *g = t->tb[k].acc + d->acc_gw;
		const float *gb = t->tb[k].acc + d->acc_gb;

		for (size_t e = 0; e < nw; e++)
			v->G[e] += g[e];
		for (size_t j = 0; j < OC; j++)
			v->gb[j] += gb[j];
	}
	for (size_t j = 0; j < OC; j++) {
		float ds = 0, ve = (float)v->var[j] + BN_EPS;

		for (size_t i = 0; i < C; i++)
			ds += v->G[i * OC + j] * K[i * OC + j];
		ds -= v->gb[j] * (float)v->mu[j];
		v->dgamma[j] = ds / sqrtf(ve);
		v->dvar[j] = -0.5f * ds * v->s[j] / ve;
		v->dmu[j] = -v->gb[j] * v->s[j];
		/* the per-column factors of dz0, as hgq_bn_backward_dz
		   wants them */
		v->dz[j] = v->dmu[j] * invB;
		v->dz[OC + j] = v->dvar[j] * 2.0f;
		v->dz[2 * OC + j] = (float)v->mu[j];
	}
}

/*
 * quantizer l's forward on nr rows: fake quantization, or a copy;
 * nothing when its dense op's product did it (weighted_forward)
 */
static void
quant_forward(struct hgq_trainer *t, struct tbuf *b, uint32_t l, size_t nr)
{
	struct tquant *q = &t->q[l];

	if (q->fused)
		return;
	if (q->ident)
		memcpy(b->q[l], b->x[l], nr * q->n * sizeof(float));
	else
		hgq_fq_forward(b->q[l], b->qmin + q->mm, b->qmax + q->mm,
		    b->x[l], q->scale, q->inv, nr, q->n, q->round);
}

/*
 * The forward of weighted op l on nr rows: the input A is the quantized
 * activations (dense) or their im2col rows (convolution), rows of C;
 * with batchnorm the statistics of the float kernel's output first
 * (every thread meets at the barriers).  A dense op also quantizes its
 * output for the quantizer after it, in the product's output pass.
 */
static void
weighted_forward(struct hgq_trainer *t, struct tbuf *b, int tid, uint32_t l,
    size_t nr)
{
	struct tdense *d = &t->d[l];
	const struct tquant *oq = &t->q[d->out];
	struct bnview v = bn_view(t, d, l, tid);
	const float *A = b->q[d->in[0]];
	size_t rows = nr * d->npos;

	if (d->direct) {
		hgq_conv_direct_forward(b->x[d->out], A, v.wq, v.bq, &d->g, nr,
		    d->relu);
		return;
	}
	if (d->kind != HGQ_LAYER_DENSE) {
		hgq_conv_im2col(b->col[l], A, &d->g, nr);
		A = b->col[l];
	}
	if (d->bn) {
		double *s1 = b->bnsum + d->bn_sum, *s2 = s1 + d->OC;
		float *z0 = b->z0[l];

		/* the statistics in the product's output pass */
		for (size_t j = 0; j < d->OC; j++)
			s1[j] = s2[j] = 0;
		hgq_matmul_forward_stats(z0, s1, s2, A, t->P + d->off_w, rows,
		    d->C, d->OC);
		/*
		 * One barrier: then every thread derives the fused kernel
		 * itself (thread 0 into d, the others into their copy)
		 * instead of waiting for thread 0's; a second one only at
		 * the first step, when thread 0 adapts f first.
		 */
		pool_barrier(&t->pool);
		if (tid == 0)
			bn_forward_fuse(t, d, &v, 1);
		if (t->adapt_bn)
			pool_barrier(&t->pool);
		if (tid != 0)
			bn_forward_fuse(t, d, &v, 0);
	}
	if (oq->fused)
		hgq_matmul_forward_fq(b->x[d->out], b->q[d->out],
		    b->qmin + oq->mm, b->qmax + oq->mm, A, v.wq, v.bq, rows,
		    d->C, d->OC, d->relu, oq->scale, oq->inv, oq->round);
	else
		hgq_matmul_forward(b->x[d->out], A, v.wq, v.bq, rows, d->C,
		    d->OC, d->relu);
}

/*
 * The backward of weighted op l: dcur (nr rows of out_n) the gradient of
 * its output after the ReLU's mask; dnext (nr rows of in_n) gets the
 * gradient of its input when want_dq.  With batchnorm, the gradient
 * through the batch statistics adds a second product with the float
 * kernel (threads meet at the barriers).
 */
static void
weighted_backward(struct hgq_trainer *t, struct tbuf *b, int tid, uint32_t l,
    size_t nr, const float *dcur, float *dnext, int want_dq)
{
	struct tdense *d = &t->d[l];
	int conv = d->kind != HGQ_LAYER_DENSE;
	const float *A = conv ? b->col[l] : b->q[d->in[0]];
	float *dA = !want_dq ? NULL : conv ? b->dcol : dnext;
	size_t rows = nr * d->npos;

	if (d->direct) {
		hgq_conv_direct_backward(want_dq ? dnext : NULL,
		    b->acc + d->acc_gw, b->acc + d->acc_gb, b->dcol, dcur,
		    b->q[d->in[0]], d->wt, &d->g, nr);
		return;
	}
	hgq_matmul_backward(dA, b->acc + d->acc_gw, b->acc + d->acc_gb, dcur,
	    A, bn_view(t, d, l, tid).wt, rows, d->C, d->OC);
	if (conv && want_dq)
		hgq_conv_col2im(dnext, b->dcol, &d->g, nr);
	if (d->bn) {
		float *z0 = b->z0[l];
		float invB = 1.0f / ((float)t->n * (float)d->npos);

		struct bnview v = bn_view(t, d, l, tid);

		/* one barrier: then every thread sums the gradients */
		pool_barrier(&t->pool);
		bn_backward_fuse(t, d, &v);
		/* dz0 = dmu / B + dvar 2 (z0 - mu) / B, in place */
		hgq_bn_backward_dz(z0, v.dz, v.dz + d->OC, v.dz + 2 * d->OC,
		    invB, rows, d->OC);
		dA = !want_dq ? NULL : conv ? b->dcol : b->d3;
		hgq_matmul_backward(dA, b->acc + d->acc_gk0, NULL, z0, A,
		    d->kt, rows, d->C, d->OC);
		if (want_dq) {
			if (conv)
				hgq_conv_col2im(b->d3, b->dcol, &d->g, nr);
			hgq_add(dnext, b->d3, nr * d->in_n);
		}
	}
}

/*
 * The forward of a merge op d (add, subtract, concatenate) on nr rows:
 * the sum or difference of its inputs' values, or their segments side
 * by side, exact in float as the values are (the quantizer after it
 * rounds).
 */
static void
merge_forward(struct tbuf *b, const struct tdense *d, size_t nr)
{
	float *out = b->x[d->out];
	size_t n = nr * d->out_n;

	if (d->kind == HGQ_LAYER_CONCAT) {
		size_t o = 0;

		for (size_t r = 0; r < nr * d->outer; r++)
			for (uint32_t k = 0; k < d->n_in; k++) {
				memcpy(out + o, b->q[d->in[k]] + r * d->seg[k],
				    d->seg[k] * sizeof(float));
				o += d->seg[k];
			}
		return;
	}
	memcpy(out, b->q[d->in[0]], n * sizeof(float));
	for (uint32_t k = 1; k < d->n_in; k++) {
		const float *in = b->q[d->in[k]];

		if (d->kind == HGQ_LAYER_SUB)
			for (size_t e = 0; e < n; e++)
				out[e] -= in[e];
		else
			hgq_add(out, in, n);
	}
}

/* op l's forward on nr rows: its output quantizer's input */
static void
op_forward(struct hgq_trainer *t, struct tbuf *b, int tid, uint32_t l,
    size_t nr)
{
	struct tdense *d = &t->d[l];
	const float *in = b->q[d->in[0]];

	switch (d->kind) {
	case HGQ_LAYER_MAXPOOL:
		hgq_maxpool_forward_arg(b->x[d->out], b->arg[l], in, &d->pg,
		    nr);
		break;
	case HGQ_LAYER_AVGPOOL:
		hgq_avgpool_forward(b->x[d->out], in, &d->pg, nr);
		break;
	case HGQ_LAYER_FLATTEN:
		memcpy(b->x[d->out], in, nr * d->in_n * sizeof(float));
		break;
	case HGQ_LAYER_ADD:
	case HGQ_LAYER_SUB:
	case HGQ_LAYER_CONCAT:
		merge_forward(b, d, nr);
		break;
	case HGQ_LAYER_LUT:
		hgq_lut_forward(b->x[d->out], in, nr * d->out_n, d->func);
		break;
	default:
		weighted_forward(t, b, tid, l, nr);
		break;
	}
}

/*
 * Where op d's backward puts the gradient of its input k (n floats):
 * the quantizer's buffer when it is the first to (d->first), else
 * scratch that grad_done adds to the buffer.
 */
static float *
grad_dst(const struct hgq_trainer *t, struct tbuf *b, const struct tdense *d,
    uint32_t k)
{
	return d->first[k] ? b->gs[t->q[d->in[k]].slot] : b->d4;
}

static void
grad_done(const struct hgq_trainer *t, struct tbuf *b, const struct tdense *d,
    uint32_t k, size_t nr)
{
	const struct tquant *q = &t->q[d->in[k]];

	if (!d->first[k])
		hgq_add(b->gs[q->slot], b->d4, nr * q->n);
}

/*
 * The backward of a merge op: each input gets the output's gradient
 * (negated for the second of a subtraction), concatenate its segment.
 */
static void
merge_backward(const struct hgq_trainer *t, struct tbuf *b,
    const struct tdense *d, const float *dcur, size_t nr)
{
	size_t off = 0;

	for (uint32_t k = 0; k < d->n_in; k++) {
		const struct tquant *q = &t->q[d->in[k]];
		float *dst;

		if (!q->want) {
			off += d->seg[k];
			continue;
		}
		dst = grad_dst(t, b, d, k);
		if (d->kind == HGQ_LAYER_CONCAT) {
			size_t stride = d->out_n / d->outer;

			for (size_t r = 0; r < nr * d->outer; r++)
				memcpy(dst + r * d->seg[k], dcur + r * stride +
				    off, d->seg[k] * sizeof(float));
			off += d->seg[k];
		} else if (d->kind == HGQ_LAYER_SUB && k == 1) {
			for (size_t e = 0; e < nr * q->n; e++)
				dst[e] = -dcur[e];
		} else {
			memcpy(dst, dcur, nr * q->n * sizeof(float));
		}
		grad_done(t, b, d, k, nr);
	}
}

/* op l's backward: dcur, the gradient of its output, to its inputs */
static void
op_backward(struct hgq_trainer *t, struct tbuf *b, int tid, uint32_t l,
    size_t nr)
{
	struct tdense *d = &t->d[l];
	const float *dcur = b->gs[t->q[d->out].slot];
	const struct tquant *q = &t->q[d->in[0]];
	float *dn = q->want ? grad_dst(t, b, d, 0) : NULL;

	switch (d->kind) {
	case HGQ_LAYER_MAXPOOL:
		if (dn != NULL)
			hgq_maxpool_backward_arg(dn, dcur, b->arg[l], &d->pg,
			    nr);
		break;
	case HGQ_LAYER_AVGPOOL:
		if (dn != NULL)
			hgq_avgpool_backward(dn, dcur, &d->pg, nr);
		break;
	case HGQ_LAYER_FLATTEN:
		if (dn != NULL)
			memcpy(dn, dcur, nr * d->in_n * sizeof(float));
		break;
	case HGQ_LAYER_LUT:
		/* func'(x) at the input's value x (its output y is what
		   the quantizer after it read); straight through the
		   quantizers on either side */
		if (dn != NULL)
			hgq_lut_backward(dn, dcur, b->q[d->in[0]],
			    b->x[d->out], nr * d->in_n, d->func);
		break;
	case HGQ_LAYER_ADD:
	case HGQ_LAYER_SUB:
	case HGQ_LAYER_CONCAT:
		merge_backward(t, b, d, dcur, nr);
		return;
	default:
		weighted_backward(t, b, tid, l, nr, dcur, dn, dn != NULL);
		break;
	}
	if (dn != NULL)
		grad_done(t, b, d, 0, nr);
}

/* quantizer l's backward: its gradient, in place, to its input's */
static void
quant_backward(struct hgq_trainer *t, struct tbuf *b, uint32_t l, size_t nr)
{
	struct tquant *q = &t->q[l];
	float *g = b->gs[q->slot];

	/* an identity quantizer passes the gradient as it is */
	if (q->ident)
		return;
	if (q->relu)
		hgq_fq_relu_backward(b->acc + q->acc_dfs, g, b->x[l], b->q[l],
		    nr, q->n);
	else
		hgq_fq_backward(b->acc + q->acc_dfs, g, b->x[l], b->q[l], nr,
		    q->n);
}

/*
 * The data rows of a shuffled batch are scattered over the data set:
 * ask for the row PREFETCH_AHEAD rows on while copying one (its first
 * and last byte: a row of JSC's 16 floats may straddle two lines).
 */
#define PREFETCH_AHEAD	8

/* the model inputs of rows [r0, r0 + nr): each its columns of a row */
static void
gather_inputs(struct hgq_trainer *t, struct tbuf *b, size_t r0, size_t nr)
{
	const uint32_t *idx = t->idx;

	for (uint32_t l = 0; l < t->nq; l++) {
		const struct tquant *q = &t->q[l];

		if (q->src >= 0)
			continue;
		for (size_t r = 0; r < nr; r++) {
			size_t src = idx != NULL ? idx[r0 + r] : r0 + r;
			const float *row = t->x + src * t->n_cols;
			float *x = b->x[l] + r * q->n;

			if (idx != NULL && r + PREFETCH_AHEAD < nr) {
				const float *p = t->x + (size_t)idx[r0 + r +
				    PREFETCH_AHEAD] * t->n_cols;

				__builtin_prefetch(p);
				__builtin_prefetch(p + t->n_cols - 1);
			}

			if (t->map == NULL)
				memcpy(x, row + q->in_off, q->n * sizeof(float));
			else
				for (size_t e = 0; e < q->n; e++)
					x[e] = row[t->map[q->in_off + e]];
		}
	}
}

/*
 * The loss of rows [r0, r0 + nr) and its gradient, written into the
 * output quantizers' buffers; several outputs are joined first (the
 * mean squared error over all their columns).
 */
static void
loss_rows(struct hgq_trainer *t, struct tbuf *b, size_t r0, size_t nr)
{
	float dscale = 1.0f / (float)t->n;
	const uint32_t *idx = t->idx;
	size_t no = t->n_outcols;
	const struct tquant *q0 = &t->q[t->outq[0]];
	const float *out = b->q[t->outq[0]];
	float *dq = b->gs[q0->slot];

	if (t->n_outq > 1) {
		for (uint32_t k = 0; k < t->n_outq; k++) {
			const struct tquant *q = &t->q[t->outq[k]];
			const float *v = b->q[t->outq[k]];

			for (size_t r = 0; r < nr; r++)
				memcpy(b->ob + r * no + q->out, v + r * q->n,
				    q->n * sizeof(float));
		}
		out = b->ob;
		dq = b->dob;
	}
	if (t->loss_kind == HGQ_LOSS_MSE) {
		for (size_t r = 0; r < nr; r++) {
			size_t src = idx != NULL ? idx[r0 + r] : r0 + r;

			memcpy(b->yb + r * no, t->y + src * no,
			    no * sizeof(float));
		}
		b->loss += hgq_mse_forward_backward(dq, out, b->yb, nr, no,
		    dscale);
	} else {
		for (size_t r = 0; r < nr; r++) {
			size_t src = idx != NULL ? idx[r0 + r] : r0 + r;

			b->labels[r] = (int32_t)t->y[src];
		}
		b->loss += hgq_xent_forward_backward(dq, out, b->labels, nr,
		    no, dscale, &b->correct);
	}
	for (uint32_t k = 0; t->n_outq > 1 && k < t->n_outq; k++) {
		const struct tquant *q = &t->q[t->outq[k]];

		for (size_t r = 0; r < nr; r++)
			memcpy(b->gs[q->slot] + r * q->n, b->dob + r * no +
			    q->out, q->n * sizeof(float));
	}
}

/*
 * Forward and backward of rows [r0, r0 + nr) of the batch, adding to the
 * thread's sums: the layers in model order, then the loss, then back in
 * reverse order.  With batchnorm, every thread calls this exactly once
 * (possibly with nr = 0): the statistics need every row, and the threads
 * meet at barriers inside.
 */
static void
fwd_bwd_rows(struct hgq_trainer *t, struct tbuf *b, int tid, size_t r0,
    size_t nr)
{
	const struct hgq_model *m = t->m;

	gather_inputs(t, b, r0, nr);
	for (uint32_t j = 0; j < m->n_layers; j++)
		if (m->layers[j].kind == HGQ_LAYER_QUANT)
			quant_forward(t, b, t->lidx[j], nr);
		else
			op_forward(t, b, tid, t->lidx[j], nr);
	loss_rows(t, b, r0, nr);
	for (uint32_t j = m->n_layers; j-- > 0;) {
		uint32_t x = t->lidx[j];

		if (m->layers[j].kind != HGQ_LAYER_QUANT)
			op_backward(t, b, tid, x, nr);
		else if (t->q[x].want)
			quant_backward(t, b, x, nr);
	}
}

/*
 * Phase B: this thread's rows, in blocks of t->blk rows so that the
 * activations of a block stay in cache (weight gradients accumulate over
 * the blocks); with batchnorm in one piece.
 */
static void
phase_fwd_bwd(struct hgq_trainer *t, int tid)
{
	struct tbuf *b = &t->tb[tid];

	memset(b->acc, 0, t->n_acc * sizeof(float));
	for (size_t e = 0; e < t->n_mm; e++) {
		b->qmin[e] = INFINITY;
		b->qmax[e] = -INFINITY;
	}
	b->loss = 0;
	b->correct = 0;
	if (t->blk == 0) {
		fwd_bwd_rows(t, b, tid, b->r0, b->nr);
		return;
	}
	for (size_t r = 0; r < b->nr; r += t->blk)
		fwd_bwd_rows(t, b, tid, b->r0 + r, b->nr - r < t->blk ?
		    b->nr - r : t->blk);
}

/* phase C: acc of thread 0 += the others', in thread order */
static void
phase_reduce(struct hgq_trainer *t)
{
	float *a0 = t->tb[0].acc;

	for (int k = 1; k < t->T; k++) {
		const float *ak = t->tb[k].acc;

		for (size_t e = 0; e < t->n_acc; e++)
			a0[e] += ak[e];
	}
}

/* sum element gradients e (n_elem) into parameters g by granularity */
static void
gran_reduce(float *g, const float *e, size_t n_elem, size_t OC, int gran)
{
	if (gran == HGQ_GRAN_ELEMENT) {
		for (size_t k = 0; k < n_elem; k++)
			g[k] = e[k];
		return;
	}
	if (gran == HGQ_GRAN_CHANNEL) {
		for (size_t j = 0; j < OC; j++)
			g[j] = 0;
		for (size_t k = 0; k < n_elem; k++)
			g[k % OC] += e[k];
		return;
	}
	g[0] = 0;
	for (size_t k = 0; k < n_elem; k++)
		g[0] += e[k];
}

/*
 * ident_bits - the bits of identity quantizer q (after op d) are those of
 * the element reaching it: the same element after flatten, the one with
 * the most bits of the window after max pooling (the first on ties),
 * whose f the EBOPs gradient of q's elements goes to (q->src_e).
 */
static void
ident_bits(struct tquant *q, const struct tquant *from, const struct tdense *d)
{
	const struct hgq_pool_geom *g = &d->pg;

	if (d->kind == HGQ_LAYER_FLATTEN) {
		memcpy(q->abits, from->abits, q->n * sizeof(float));
		return;
	}
	for (size_t oh = 0; oh < g->OH; oh++)
		for (size_t ow = 0; ow < g->OW; ow++)
			for (size_t c = 0; c < g->C; c++) {
				size_t o = (oh * g->OW + ow) * g->C + c;
				size_t best = ((oh * g->SH) * g->W + ow *
				    g->SW) * g->C + c;

				for (size_t ph = 0; ph < g->PH; ph++)
					for (size_t pw = 0; pw < g->PW; pw++) {
						size_t e = ((oh * g->SH + ph) *
						    g->W + ow * g->SW + pw) *
						    g->C + c;

						if (from->abits[e] >
						    from->abits[best])
							best = e;
					}
				q->src_e[o] = (uint32_t)best;
				q->abits[o] = from->abits[best];
			}
}

/* phase D (one thread): states, EBOPs, the gradient vector */
static void
phase_grads(struct hgq_trainer *t)
{
	const float ln2 = (float)M_LN2;
	float gamma = (float)t->c->train.gamma;
	float beta = (float)t->beta;
	const float *acc = t->tb[0].acc;
	double loss = 0, ebops = 0;
	size_t correct = 0;

	for (int k = 0; k < t->T; k++) {
		loss += t->tb[k].loss;
		correct += t->tb[k].correct;
	}
	t->loss = loss;
	t->correct = correct;
	t->bad = !isfinite(loss);
	/* integer bits and sign of every activation element */
	for (uint32_t l = 0; l < t->nq; l++) {
		struct tquant *q = &t->q[l];
		const float *f = qf_param(t, q);

		if (q->ident) {
			const struct tdense *d = &t->d[q->src];

			ident_bits(q, &t->q[d->in[0]], d);
			memset(q->efa, 0, q->n * sizeof(float));
			continue;
		}
		for (size_t e = 0; e < q->n; e++) {
			float mn = t->tb[0].qmin[q->mm + e];
			float mx = t->tb[0].qmax[q->mm + e];
			int F = act_F(q, f, e);
			float a, inew, k;

			for (int th = 1; th < t->T; th++) {
				float mn2 = t->tb[th].qmin[q->mm + e];
				float mx2 = t->tb[th].qmax[q->mm + e];

				mn = mn2 < mn ? mn2 : mn;
				mx = mx2 > mx ? mx2 : mx;
			}
			if (t->update && t->n > 0) {
				/* i = ceil(log2(max|q| + 2^-F)), decaying */
				a = fabsf(mn) > fabsf(mx) ? fabsf(mn) :
				    fabsf(mx);
				inew = ceilf(log2f(a + pow2f(-F)));
				q->istate[e] = q->istate[e] - I_DECAY > inew ?
				    q->istate[e] - I_DECAY : inew;
				k = q->kstate[e] - I_DECAY;
				q->kstate[e] = mn < 0 ? 1.0f : k > 0 ? k : 0;
			}
			a = q->istate[e] + (float)F + (q->kstate[e] > 0);
			q->abits[e] = a > 0 ? a : 0;
			/* F held at a table's width does not follow f */
			q->efa[e] = F < hgq_round_bits(f[e % q->n_f]) ? 0 :
			    ln2 * acc[q->acc_dfs + e];
		}
	}
	/* weighted ops: weights, biases, their f; EBOPs */
	for (uint32_t l = 0; l < t->nd; l++) {
		struct tdense *d = &t->d[l];
		struct tquant *q = &t->q[d->in[0]];
		size_t C = d->C, OC = d->OC, nw = C * OC;
		const float *G = acc + d->acc_gw, *gb = acc + d->acc_gb;
		const float *wf, *gk0;
		float *gw = t->G + d->off_w, *gbias = t->G + d->off_b;
		float *dfa = q->trainable || q->ident ? q->efa : NULL;

		if (!d->weighted)
			continue;
		wf = d->bn ? d->wf : t->P + d->off_w;
		for (size_t e = 0; e < nw; e++)
			d->efw[e] = ln2 * (wf[e] - d->wq[e]) * G[e];
		if (d->bn) {
			gk0 = acc + d->acc_gk0;
			for (size_t e = 0; e < nw; e++)
				gw[e] = G[e] * d->s[e % OC] + gk0[e];
			memcpy(t->G + d->off_g, d->dgamma, OC * sizeof(float));
		} else {
			memcpy(gw, G, nw * sizeof(float));
		}
		/* masked weights: no gradient, they stay 0 */
		for (size_t e = 0; d->mask != NULL && e < nw; e++)
			gw[e] *= d->mask[e];
		memcpy(gbias, gb, OC * sizeof(float));
		if (d->kind == HGQ_LAYER_DENSE)
			ebops += hgq_ebops_dense(dfa, d->efw, q->abits,
			    d->wbits, C, OC, beta);
		else
			ebops += hgq_ebops_conv(dfa, d->efw, q->abits,
			    d->wbits, &d->g, beta);
		gran_reduce(t->G + d->off_fw, d->efw, nw, OC, d->w_gran);
		for (size_t j = 0; j < OC; j++)
			d->efw[j] = ln2 * (d->bf[j] - d->bq[j]) * gb[j];
		gran_reduce(t->G + d->off_fb, d->efw, OC, OC,
		    d->b_gran == HGQ_GRAN_LAYER ? HGQ_GRAN_LAYER :
		    HGQ_GRAN_ELEMENT);
		/* fixed weight or bias precision: no gradient, no move */
		for (size_t g = 0; g < d->n_fw; g++)
			t->G[d->off_fw + g] = t->c->q_weight.trainable ?
			    t->G[d->off_fw + g] + gamma : 0;
		for (size_t g = 0; g < d->n_fb; g++)
			t->G[d->off_fb + g] = t->c->q_bias.trainable ?
			    t->G[d->off_fb + g] + gamma : 0;
		/* no bias: it stays at its initial 0, its f does not move */
		if (d->nobias) {
			memset(gbias, 0, OC * sizeof(float));
			memset(t->G + d->off_fb, 0, d->n_fb * sizeof(float));
		}
	}
	/* the EBOPs gradient of identity quantizers goes to their sources */
	for (uint32_t l = t->nq; l-- > 1;) {
		struct tquant *q = &t->q[l], *from;

		if (!q->ident)
			continue;
		from = &t->q[t->d[q->src].in[0]];
		for (size_t e = 0; e < q->n; e++)
			from->efa[q->src_e[e]] += q->efa[e];
	}
	for (uint32_t l = 0; l < t->nq; l++) {
		struct tquant *q = &t->q[l];

		if (!q->trainable)
			continue;
		gran_reduce(t->G + q->off_f, q->efa, q->n, q->n_f,
		    q->n_f == 1 ? HGQ_GRAN_LAYER : q->n_f == q->n ?
		    HGQ_GRAN_ELEMENT : HGQ_GRAN_CHANNEL);
		for (size_t g = 0; g < q->n_f; g++)
			t->G[q->off_f + g] += gamma;
	}
	t->ebops = ebops;
}

/* phase E: the optimizer, a range of the parameters per thread */
static void
phase_update(struct hgq_trainer *t, int tid)
{
	const struct hgq_config *c = t->c;
	size_t lo, hi;

	split(t->n_params, t->T, tid, &lo, &hi);
	for (size_t r = 0; r < t->n_reg; r++) {
		const struct region *g = &t->reg[r];
		size_t a = g->off > lo ? g->off : lo;
		size_t z = g->off + g->n < hi ? g->off + g->n : hi;

		if (a >= z)
			continue;
		if (t->optimizer == HGQ_OPT_ADAM)
			hgq_adam_update(t->P + a, t->M1 + a, t->M2 + a,
			    t->G + a, z - a, t->lr, c->train.beta1,
			    c->train.beta2, c->train.eps, t->step, g->lo,
			    g->hi);
		else
			hgq_sgd_update(t->P + a, t->M1 + a, t->G + a, z - a,
			    t->lr, c->train.momentum, g->lo, g->hi);
	}
}

/* phases C and D, by the last thread to finish B */
static void
step_serial(void *arg)
{
	struct hgq_trainer *t = arg;

	phase_reduce(t);
	phase_grads(t);
	if (t->update && !t->bad)
		t->step++;
}

static void
step_job(void *arg, int tid)
{
	struct hgq_trainer *t = arg;

	phase_fwd_bwd(t, tid);
	pool_barrier_serial(&t->pool, step_serial, t);
	if (t->update && !t->bad)
		phase_update(t, tid);
}

int
hgq_trainer_step(struct hgq_trainer *t, const float *x, const float *y,
    const uint32_t *idx, size_t n, double beta, double lr, int update,
    float *grad, struct hgq_step_stats *st, struct hgq_err *err)
{
	if (n == 0)
		return hgq_errf(err, HGQ_EINVAL, "a step needs rows");
	if (grow(t, n) != HGQ_OK)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	t->x = x;
	t->y = y;
	t->idx = idx;
	t->n = n;
	t->beta = beta;
	t->lr = lr;
	t->update = update;
	t->adapt_bn = update && t->step == 0;
	for (int k = 0; k < t->T; k++) {
		size_t lo, hi;

		split(n, t->T, k, &lo, &hi);
		t->tb[k].r0 = lo;
		t->tb[k].nr = hi - lo;
	}
	phase_quantize(t);
	pool_run(&t->pool, step_job, t);
	if (grad != NULL)
		memcpy(grad, t->G, t->n_params * sizeof(float));
	if (st != NULL) {
		st->loss = t->loss;
		st->n_correct = t->correct;
		st->ebops = t->ebops;
	}
	if (t->bad)
		return hgq_errf(err, HGQ_ERANGE, "the loss is not finite "
		    "(%g)", t->loss);
	return HGQ_OK;
}
