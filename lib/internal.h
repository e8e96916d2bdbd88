/*
 * internal.h - what only libhgq itself, its unit tests and its benchmarks
 * use: error and log helpers, checked allocation, the training kernels
 * and their reference twins, the trainer, the random generator, the
 * prepared quantizer ops, the interval helpers and the constants that
 * more than one source file needs.  The programs in cmd/ include hgq.h
 * only (the Makefile builds them with HGQ_NO_INTERNAL, which makes
 * including this header an error), so that everything they need is a
 * documented public interface.  Nothing here is a stable API.
 */
#ifndef HGQ_INTERNAL_H
#define HGQ_INTERNAL_H

#ifdef HGQ_NO_INTERNAL
#error "lib/internal.h is libhgq's own header: programs include hgq.h only"
#endif

#include "hgq.h"

/*
 * Training constants shared by train.c and train_step.c
 * (hgq-algorithm.md 3).
 */
#define FBITS_LO	-23.0f		/* the f parameter clip (3.1) */
#define FBITS_HI	23.0f
#define BN_EPS		1e-3f		/* batchnorm variance epsilon */
#define I_UNSET		-32.0f		/* integer-bit state before any data */

/* bound of every interval mantissa: |lo|, |hi| < 2^62 (struct hgq_ival) */
#define HGQ_IVAL_LIMIT	((int64_t)1 << 62)

/* ------------------------------------------------------------------ */
/* Errors, logging and allocation (util.c)                            */
/* ------------------------------------------------------------------ */

/*
 * hgq_errf - fill err with code and a printf-style message; returns code,
 * so that "return hgq_errf(err, HGQ_EFORMAT, ...);" reads naturally.
 * err may be NULL.
 */
int	hgq_errf(struct hgq_err *err, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* log a message through the callback of hgq_set_log (if any) */
void	hgq_log(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* checked allocation helpers: NULL on overflow or failure */
void	*hgq_calloc(size_t n, size_t size);
void	*hgq_reallocarray(void *p, size_t n, size_t size);

/* ------------------------------------------------------------------ */
/* Threads (thread.c)                                                  */
/* ------------------------------------------------------------------ */

/*
 * hgq_n_threads - the thread count a `threads` argument of the public
 * interface means (hgq.h, "Threads"): threads > 0 is that many, 0 (or
 * less) one per online CPU (1 when unknown); never more than max (>= 1).
 */
int	hgq_n_threads(int threads, int max);

/*
 * hgq_fan_out - run fn on each of the n jobs (an array of n objects of
 * job_size bytes) at once and wait for all: job 0 on the calling thread,
 * the others each on a new thread.  A job whose thread cannot be created
 * runs on the calling thread afterwards, so every job always runs once;
 * callers never depend on how many threads started.  fn's return value
 * is ignored (jobs report through their own object).
 */
void	hgq_fan_out(void *(*fn)(void *), void *jobs, size_t job_size, int n);

/* ------------------------------------------------------------------ */
/* Fixed-point helpers (quant.c)                                      */
/* ------------------------------------------------------------------ */

/*
 * hgq_fq_f32 - the training form of hgq_fq_f64 (hgq.h): rounding only, no
 * overflow (WRAP never applies in training), f an integer, exact whenever
 * the result is representable as a float.
 */
float	hgq_fq_f32(float x, int f, int round);

/*
 * hgq_fq_f32s - the training kernel's inline form of hgq_fq_f32 with the
 * scale 2^f and its inverse precomputed (both exact powers of two).  Ties
 * are decided on v - floor(v), which is exact, instead of floor(v + 0.5),
 * which rounds wrongly once |v| >= 2^23.
 */
static inline float
hgq_fq_f32s(float x, float scale, float inv_scale, int round)
{
	float v = x * scale;
	float r = __builtin_floorf(v);

	if (round == HGQ_RND && v - r >= 0.5f)
		r += 1.0f;
	return r * inv_scale;
}

/*
 * A prepared requantization from a fixed source position from_f to one
 * format: what hgq_quant_mant(m, from_f, k, i, f, round, overflow) does,
 * with every shift, constant and bound computed once by hgq_qop_init(),
 * for the simulator's inner loops.  hgq_qop_apply() equals
 * hgq_quant_mant() for every |m| < 2^62 (tested over the whole sweep).
 * lo and hi are the format's mantissa range; "raw" below is the rounded
 * value before overflow, so that callers can count overflows.
 */
struct hgq_qop {
	int64_t	 add;		/* rounding constant added before >> */
	int64_t	 lo, hi;	/* mantissa range of the format */
	uint64_t mask;		/* WRAP: the low width bits (0: width 0) */
	uint64_t sbit;		/* WRAP and k = 1: the sign bit, else 0 */
	uint8_t	 rshift;	/* right shift, 0..63 */
	uint8_t	 lshift;	/* left shift, 0..62 (from_f < f) */
	uint8_t	 wrap;		/* WRAP (else saturate to [lo, hi]) */
};

void	hgq_qop_init(struct hgq_qop *q, int from_f, int k, int i, int f,
	    int round, int overflow);

/* the rounded mantissa before overflow */
static inline int64_t
hgq_qop_round(const struct hgq_qop *q, int64_t m)
{
	/* >> of a negative int64_t is an arithmetic shift with GCC and
	   Clang (documented); quant.c checks it at compile time */
	return (int64_t)((uint64_t)((m + q->add) >> q->rshift) << q->lshift);
}

/*
 * overflow of a rounded mantissa r: WRAP keeps the low bits and extends
 * the sign with (low ^ sbit) - sbit; SAT clips.  A zero-width format has
 * mask 0 (WRAP) or lo = hi = 0 (SAT), so it gives 0 without a branch.
 */
static inline int64_t
hgq_qop_overflow(const struct hgq_qop *q, int64_t r)
{
	if (q->wrap)
		return (int64_t)((((uint64_t)r & q->mask) ^ q->sbit) -
		    q->sbit);
	return r < q->lo ? q->lo : r > q->hi ? q->hi : r;
}

static inline int64_t
hgq_qop_apply(const struct hgq_qop *q, int64_t m)
{
	return hgq_qop_overflow(q, hgq_qop_round(q, m));
}

/* round half to even of a float bit-width parameter (how f is taken) */
int	hgq_round_bits(float fparam);

/*
 * hgq_span - number of bits from the most to the least significant
 * non-zero bit of |m| (0 for m = 0).  The weight "bits" of exact EBOPs.
 */
int	hgq_span(int64_t m);

/*
 * hgq_fmt_from_range - the minimal (k, i) at fractional bits f that holds
 * every mantissa in [mn, mx] (calibration): k = (mn < 0); i the smallest
 * integer with mx < 2^(i+f) and -k*2^(i+f) <= mn.  A range of [0, 0] gives
 * k = 0, i = -f: width 0.
 */
void	hgq_fmt_from_range(int64_t mn, int64_t mx, int f, int *k, int *i);

/* ------------------------------------------------------------------ */
/* Schedules (config.c)                                               */
/* ------------------------------------------------------------------ */

/*
 * hgq_sched_value - value of a schedule at a (fractional) epoch: the first
 * value before the first point, the last at or after the last point, and
 * between p[k] and p[k+1] as p[k].interp says: constant p[k].value,
 * linear, or log (geometric; linear if an end is not > 0).  n == 0 gives 0.
 * Points must be in increasing epoch order (hgq_config_load checks).
 */
double	hgq_sched_value(const struct hgq_sched_point *p, uint32_t n,
	    double epoch);

/* ------------------------------------------------------------------ */
/* Training internals (kernels.c, train.c, train_step.c)              */
/* ------------------------------------------------------------------ */

/*
 * Float training kernels (kernels.c), llm.c style: flat row-major arrays,
 * outputs first, no allocation, no errors; shapes are the caller's job.
 * B is the batch, C the inputs, OC the outputs of a layer.  Each kernel
 * has a plain-C reference twin (_ref) used by the tests; the optimized
 * ones may run an AVX2/FMA variant chosen at run time (hgq_kernel_isa).
 * Results of the AVX2 variant differ from the plain C ones in the last
 * bits (fused multiply-add), never in the quantization semantics.
 */
enum hgq_isa	{ HGQ_ISA_AUTO = 0, HGQ_ISA_C = 1, HGQ_ISA_AVX2 = 2 };
/*
 * hgq_kernel_isa - select the kernel variants (HGQ_ISA_AUTO: the best the
 * CPU has); returns the variant now in use.  For tests and benchmarks;
 * call it before training starts, never during.
 */
int	hgq_kernel_isa(int isa);
/*
 * hgq_kernel_wide - allow (1, the default) or forbid (0) the AVX-512F
 * tiles of the AVX2 variant's matrix products (the same bits); returns
 * whether they are in use (the CPU has AVX-512F and they are allowed)
 */
int	hgq_kernel_wide(int on);
/* hgq_kernel_isa_current - the variant in use (HGQ_ISA_C or _AVX2) */
int	hgq_kernel_isa_current(void);

/*
 * hgq_engine_op_kernel - how engine e computes its operation op (the
 * layer 2*op + 1 of a chain, the op-th operation in layer order of a
 * graph), for tests and benchmarks: "conv16-avx2" / "conv16"
 * and "dense16-avx2" / "dense16" (16-bit products, sim.c), "conv32",
 * "conv64", "dense32", "dense-mid", "dense64", "sum" (add, subtract),
 * "concatenate", "lut", else the layer kind's name; "none" past the last
 * one ("-avx2" also when the sums take AVX-512: hgq_engine_paths).  The
 * engine reads the kernel variant (hgq_kernel_isa) when it is created.
 */
const char *hgq_engine_op_kernel(const struct hgq_engine *e, uint32_t op);

/*
 * hgq_sim_paths - the engine's fast paths that engines created after the
 * call may take, where the exact ranges and the CPU allow: TILES, a chain
 * of 16-bit dense layers a tile of samples at a time; AVX512, its sums
 * with AVX-512 VNNI.  Both by default; the same results with or without.
 * Returns the previous set.  For tests and benchmarks.
 */
enum { HGQ_SIM_TILES = 1, HGQ_SIM_AVX512 = 2 };
int	hgq_sim_paths(int paths);
/* hgq_engine_paths - the fast paths that engine e takes */
int	hgq_engine_paths(const struct hgq_engine *e);

/*
 * hgq_fq_forward - fake quantization of x (B,C) with per-column scale
 * 2^F[c] and inv_scale 2^-F[c] (hgq_fq_f32s semantics, rounding only)
 * into q (B,C); qmin/qmax (C) are lowered/raised to the extremes of q.
 */
void	hgq_fq_forward(float *restrict q, float *restrict qmin,
	    float *restrict qmax, const float *restrict x,
	    const float *restrict scale, const float *restrict inv_scale,
	    size_t B, size_t C, int round);
void	hgq_fq_forward_ref(float *q, float *qmin, float *qmax,
	    const float *x, const float *scale, const float *inv_scale,
	    size_t B, size_t C, int round);

/*
 * hgq_fq_backward - the f surrogate without its ln2 factor: dfs[c] +=
 * sum_b dq[b,c] * (x[b,c] - q[b,c]).  (dq/dx = 1 needs no kernel.)
 */
void	hgq_fq_backward(float *restrict dfs, const float *restrict dq,
	    const float *restrict x, const float *restrict q, size_t B,
	    size_t C);
void	hgq_fq_backward_ref(float *dfs, const float *dq, const float *x,
	    const float *q, size_t B, size_t C);

/*
 * hgq_matmul_forward - out (B,OC) = inp (B,C) . w (C,OC) + bias (OC),
 * then max(., 0) when relu; bias may be NULL.
 */
void	hgq_matmul_forward(float *restrict out, const float *restrict inp,
	    const float *restrict w, const float *restrict bias, size_t B,
	    size_t C, size_t OC, int relu);
void	hgq_matmul_forward_ref(float *out, const float *inp, const float *w,
	    const float *bias, size_t B, size_t C, size_t OC, int relu);

/*
 * hgq_matmul_forward_fq - hgq_matmul_forward, then hgq_fq_forward of out
 * into q, qmin and qmax, to the same bits, in the product's output pass
 * (the tile in registers or L1) instead of a second pass over out.
 */
void	hgq_matmul_forward_fq(float *restrict out, float *restrict q,
	    float *restrict qmin, float *restrict qmax,
	    const float *restrict inp, const float *restrict w,
	    const float *restrict bias, size_t B, size_t C, size_t OC,
	    int relu, const float *restrict scale,
	    const float *restrict inv_scale, int round);

/*
 * hgq_matmul_forward_stats - out (B,OC) = inp (B,C) . w (C,OC) as
 * hgq_matmul_forward without bias or relu, and, in the same pass, s1
 * (OC) += the column sums of out, s2 (OC) += their squares, in double,
 * rows in order (the batchnorm statistics); _ref sums in a second pass,
 * to the same bits.
 */
void	hgq_matmul_forward_stats(float *restrict out, double *restrict s1,
	    double *restrict s2, const float *restrict inp,
	    const float *restrict w, size_t B, size_t C, size_t OC);
void	hgq_matmul_forward_stats_ref(float *out, double *s1, double *s2,
	    const float *inp, const float *w, size_t B, size_t C, size_t OC);

/*
 * hgq_bn_backward_dz - batchnorm backward through the batch statistics,
 * in place on z (B,OC): z = a[j] + c2[j] (z - mu[j]) invB, in that
 * order, the same bits in every variant.
 */
void	hgq_bn_backward_dz(float *restrict z, const float *restrict a,
	    const float *restrict c2, const float *restrict mu, float invB,
	    size_t B, size_t OC);
void	hgq_bn_backward_dz_ref(float *z, const float *a, const float *c2,
	    const float *mu, float invB, size_t B, size_t OC);

/* hgq_add - d (n) += s (n) */
void	hgq_add(float *restrict d, const float *restrict s, size_t n);

/*
 * hgq_matmul_backward - given dout (B,OC): dinp (B,C) = dout . w^T, with
 * the weights passed transposed as wt (OC,C) (overwritten); dw (C,OC) +=
 * inp^T . dout and db (OC) += sum over b of dout (accumulated, so that
 * blocks of rows add up).  dinp and db may be NULL (not wanted).
 */
void	hgq_matmul_backward(float *restrict dinp, float *restrict dw,
	    float *restrict db, const float *restrict dout,
	    const float *restrict inp, const float *restrict wt, size_t B,
	    size_t C, size_t OC);
void	hgq_matmul_backward_ref(float *dinp, float *dw, float *db,
	    const float *dout, const float *inp, const float *wt, size_t B,
	    size_t C, size_t OC);

/* relu in place (n values); backward: d[j] = 0 where act[j] <= 0 */
void	hgq_relu_forward(float *x, size_t n);
void	hgq_relu_backward(float *restrict d, const float *restrict act,
	    size_t n);
/*
 * hgq_lut_forward - y (n) = func(x) of a lookup-table layer in training:
 * hgq_func_f64 rounded to float.  hgq_lut_backward - dx = dy func'(x),
 * given y = hgq_lut_forward(x) (tanh, sigmoid and exp take func' from y,
 * within 2^-22 of hgq_func_grad_f64; the others, and _ref, call it).
 */
void	hgq_lut_forward(float *restrict y, const float *restrict x, size_t n,
	    uint32_t func);
void	hgq_lut_backward(float *restrict dx, const float *restrict dy,
	    const float *restrict x, const float *restrict y, size_t n,
	    uint32_t func);
void	hgq_lut_backward_ref(float *dx, const float *dy, const float *x,
	    const float *y, size_t n, uint32_t func);

/*
 * hgq_fq_relu_backward - hgq_fq_backward for a quantizer whose input x is
 * a ReLU output, fused with the ReLU's backward: dfs[c] += sum_b d (x - q),
 * then d[b,c] = 0 where x[b,c] <= 0.
 */
void	hgq_fq_relu_backward(float *restrict dfs, float *restrict d,
	    const float *restrict x, const float *restrict q, size_t B,
	    size_t C);
void	hgq_fq_relu_backward_ref(float *dfs, float *d, const float *x,
	    const float *q, size_t B, size_t C);

/*
 * hgq_xent_forward_backward - softmax cross-entropy of logits (B,OC)
 * against labels (B); writes dlogits = (softmax - onehot) * dscale;
 * returns the sum over the batch of the loss (natural log) and adds to
 * *n_correct the rows whose argmax (lowest index on ties) is the label.
 */
double	hgq_xent_forward_backward(float *restrict dlogits,
	    const float *restrict logits, const int32_t *restrict labels,
	    size_t B, size_t OC, float dscale, size_t *n_correct);
/*
 * hgq_mse_forward_backward - mean over the OC outputs of (q - y)^2 per
 * row, summed over the rows; dq = 2 (q - y) / OC * dscale.
 */
double	hgq_mse_forward_backward(float *restrict dq, const float *restrict q,
	    const float *restrict y, size_t B, size_t OC, float dscale);

/*
 * hgq_wquant - quantize weights: wq[e] = RND(w[e] * 2^F) * 2^-F with
 * F = hgq_round_bits(f[g(e)]), where g maps an element of the (R,OC)
 * array to its parameter by granularity (element e, channel e % OC,
 * layer 0); bits[e] = the bit length of |mantissa| (v1 training bits:
 * floor(log2|wq|) + 1 + F, 0 for wq = 0).  hgq_wquant_transpose also
 * writes wt (OC,R) = wq^T.
 */
void	hgq_wquant(float *restrict wq, float *restrict bits,
	    const float *restrict w, const float *restrict f, size_t R,
	    size_t OC, int gran);
void	hgq_wquant_transpose(float *restrict wt, const float *restrict wq,
	    size_t R, size_t OC);

/*
 * hgq_ebops_dense - differentiable EBOPs of a dense layer (hgq-algorithm
 * 0): returns sum_ij abits[i] * wbits[i,j]; adds beta * d/dF to dfa (C)
 * and dfw (C,OC): dfa[i] += beta * sum_j wbits[i,j] when abits[i] > 0,
 * dfw[i,j] += beta * abits[i] when wbits[i,j] > 0.  Either may be NULL.
 */
double	hgq_ebops_dense(float *restrict dfa, float *restrict dfw,
	    const float *restrict abits, const float *restrict wbits,
	    size_t C, size_t OC, float beta);

/*
 * Optimizer steps over n parameters with gradient g, then clip to
 * [lo, hi].  Adam (t = 1-based step): m, v moments; lr_t = lr *
 * sqrt(1 - b2^t) / (1 - b1^t); p -= lr_t * m / (sqrt(v) + eps).  SGD with
 * momentum: v = mom * v - lr * g; p += v.
 */
void	hgq_adam_update(float *restrict p, float *restrict m,
	    float *restrict v, const float *restrict g, size_t n, double lr,
	    double b1, double b2, double eps, uint64_t t, float lo, float hi);
void	hgq_sgd_update(float *restrict p, float *restrict v,
	    const float *restrict g, size_t n, double lr, double mom,
	    float lo, float hi);

/* schedules: learning rate at a (0-based) epoch */
double	hgq_lr_value(const struct hgq_config *c, uint32_t epoch);

/*
 * Random numbers: xoshiro256** seeded through splitmix64.  state[4] is
 * what a model stores in train.rng.
 */
void	hgq_rng_seed(uint64_t state[4], uint64_t seed);
uint64_t hgq_rng_next(uint64_t state[4]);
/* uniform double in [0, 1) (53 bits) and an unbiased integer in [0, n) */
double	hgq_rng_uniform(uint64_t state[4]);
uint64_t hgq_rng_below(uint64_t state[4], uint64_t n);

/*
 * hgq_train_init_tensors - add the initial training tensors of every
 * layer of m (a chain or a graph of format 1.2), in layer order, as
 * hgq_train_model_new does: quantizer f (a model input's quantizer from
 * c->model.input, the others from c->q_act) and states, Glorot-uniform
 * weights drawn from rng (masked ones 0), zero biases, weight f from the
 * weights, batchnorm's gamma and statistics.  HGQ_ENOMEM.
 */
int	hgq_train_init_tensors(struct hgq_model *m, const struct hgq_config *c,
	    uint64_t rng[4], struct hgq_err *err);

/*
 * The trainer: a model's float state unpacked into flat arrays, worker
 * threads and their buffers.  hgq_trainer_new reads m's training tensors
 * (m must come from hgq_train_model_new or a model file with them) and
 * keeps a pointer to m and c, which must outlive it.  m is a chain or a
 * valid graph of format 1.2 (several inputs, each its columns of a data
 * row, in input order; several outputs, their columns joined for the
 * mean squared error; a classifier has one output).  Parameters are one
 * flat vector in model order: per dense layer or convolution W, b,
 * W fbits, b fbits (and batchnorm gamma), per trainable quantizer its
 * fbits.  A masked weight (HGQ_ROLE_MASK 0) stays exactly 0: no
 * gradient, no optimizer move.
 */
struct hgq_trainer;
int	hgq_trainer_new(struct hgq_trainer **out, struct hgq_model *m,
	    const struct hgq_config *c, int threads, struct hgq_err *err);
void	hgq_trainer_free(struct hgq_trainer *t);
size_t	hgq_trainer_n_params(const struct hgq_trainer *t);
/* the flat parameter vector: borrowed, valid until hgq_trainer_free */
float	*hgq_trainer_params(struct hgq_trainer *t);
int	hgq_trainer_threads(const struct hgq_trainer *t);

/* what one step saw */
struct hgq_step_stats {
	double		 loss;		/* task loss, summed over the rows */
	size_t		 n_correct;	/* classification */
	double		 ebops;		/* differentiable EBOPs (per sample) */
};

/*
 * hgq_trainer_step - one step on n rows: rows idx[0..n) of x (normalised
 * raw inputs, m->n_raw floats a row, from which the index map takes
 * every model input's elements) and of y (labels, or n_out targets a
 * row: the outputs' columns joined);
 * idx NULL means rows 0..n-1.  The loss is the batch mean of the task
 * loss + beta * EBOPs + gamma * sum of the bit parameters.  grad (may be
 * NULL) receives its gradient in parameter order; with update the
 * optimizer then takes a step at learning rate lr (and the activation
 * i/k states and batchnorm moving statistics advance).  HGQ_EINVAL for
 * n = 0 or more rows than the trainer was sized for (it grows).
 */
int	hgq_trainer_step(struct hgq_trainer *t, const float *x, const float *y,
	    const uint32_t *idx, size_t n, double beta, double lr, int update,
	    float *grad, struct hgq_step_stats *st, struct hgq_err *err);

/* hgq_trainer_sync - write the float state back into the model tensors */
void	hgq_trainer_sync(struct hgq_trainer *t);

/*
 * hgq_train_export - from m's float state, build its exact fixed part
 * (quantizer f, round, overflow; dense mantissas, batchnorm fused with the
 * moving statistics) and calibrate it on x (n raw rows).
 * hgq_train_export_fixed builds the fixed part only (k = i = 0 for every
 * quantizer element; m->calibrated 0): what calibration starts from.
 */
int	hgq_train_export(struct hgq_model *m, const double *x, size_t n,
	    int threads, struct hgq_err *err);

/*
 * Lookup-table inputs: the quantizers a table reads (or, through the
 * identity quantizer of a flatten or max pool, the one before it:
 * hgq_quant_feeds_lut) keep k + i + f within HGQ_MAX_LUT_BITS, so that
 * the exported model's tables are valid: training quantizes element e
 * with F = min(round(f), hgq_lut_fcap(istate, kstate)) and export writes
 * that F (calibration's i can still exceed the tracked one, rarely: the
 * model is then refused as too wide).  hgq_lut_fcap gives
 * HGQ_MAX_LUT_BITS - (kstate > 0) - ceil(istate), INT_MAX before any
 * data (istate I_UNSET).
 */
int	hgq_lut_fcap(float istate, float kstate);
int	hgq_quant_feeds_lut(const struct hgq_model *m, uint32_t j);
int	hgq_train_export_fixed(struct hgq_model *m, struct hgq_err *err);

/* ------------------------------------------------------------------ */
/* Intervals (cmvm.c)                                                 */
/* ------------------------------------------------------------------ */

/*
 * hgq_ival_width - bits that hold every integer of [lo, hi]: two's
 * complement when lo < 0 (*sgn = 1; sgn may be NULL), unsigned otherwise;
 * [0, 0] needs 0 bits.
 */
int	hgq_ival_width(int64_t lo, int64_t hi, int *sgn);

/*
 * hgq_ival_add - *out = the interval of a + (-1)^sub * b * 2^shift, at
 * the finer of the two LSBs.  HGQ_ERANGE when a bound reaches 2^62.
 */
int	hgq_ival_add(struct hgq_ival *out, const struct hgq_ival *a,
	    const struct hgq_ival *b, int shift, int sub);

/*
 * hgq_add_span - the width of the carry chain that computes
 * out = a +- b * 2^shift (out from hgq_ival_add): the result's bits from
 * the lowest position where both operands can hold bits; the *low bits
 * below pass through as wires (0 when there is no such split).  0 means
 * a pure concatenation.  (hgq_ir_op_cost refines this into LUTs.)
 */
int	hgq_add_span(const struct hgq_ival *a, const struct hgq_ival *b,
	    int shift, int sub, const struct hgq_ival *out, int *low);

/* ------------------------------------------------------------------ */
/* IR internals (ir.c)                                                */
/* ------------------------------------------------------------------ */

/*
 * hgq_ir_op_cost - the LUT estimate of op j: for an adder, the bits of its
 * carry chain where both operands hold variable bits (one LUT each for
 * the XOR; a constant or zero operand bit needs none), for a clip one LUT
 * per bit, for a MAX half a LUT per compared bit and one per kept bit;
 * 0 for wires, constants, and ReLU masks (merged into the LUTs
 * of their consumers).  Calibrated against Yosys synth_xilinx.
 */
int	hgq_ir_op_cost(const struct hgq_ir *ir, uint32_t j);

/*
 * hgq_ir_add_split - how verilog.c builds ADD op j: bits [0, *low) pass
 * through from the finer operand; bits [*low, op.w) are the carry chain,
 * or a concatenation when the result is 0 (returns the chain's width).
 */
int	hgq_ir_add_split(const struct hgq_ir *ir, uint32_t j, int *low);

/*
 * hgq_ir_max_width - the width at which MAX op j compares: both operands
 * at its LSB, sign- or zero-extended to a common width that holds both
 * (two's complement when either can be negative).
 */
int	hgq_ir_max_width(const struct hgq_ir *ir, uint32_t j);

/*
 * Float training kernels of the convolutional layers (conv.c), in the
 * style of kernels.c: flat arrays, outputs first, no allocation, shapes
 * validated once by the *_geom_init functions.  Channels last, batch
 * first:
 *
 *   input   [B, H, W, C]       element ((b*H + h)*W + w)*C + c
 *   kernel  [KH, KW, C, OC]    (Keras order) element ((kh*KW + kw)*C + c)*OC
 *                              + o; read as a (KH*KW*C, OC) matrix it is a
 *                              dense layer's weights, so hgq_wquant applies
 *                              as it is with R = KH*KW*C: element
 *                              granularity = each kernel weight, channel
 *                              granularity = per filter o (the last axis)
 *   output  [B, OH, OW, OC]
 *
 * Conv1D and the 1-D pools are the 2-D ones with H = KH = SH = 1: a [W, C]
 * sample is a [1, W, C] one, memory unchanged.  Flatten is no kernel: a
 * channels-last sample already is the vector ((h*W + w)*C + c).  A
 * feature-map quantizer's "channel" granularity is per c, the last axis:
 * element e of a sample has channel e % C.
 *
 * Threads: every kernel works on B consecutive samples given by the
 * pointers, so the trainer splits the batch's rows as for dense layers;
 * dw and db accumulate (+=), so blocks of rows and threads add up.
 */

/* per-sample element counts of every tensor are at most this */
#define HGQ_CONV_MAX_ELEMS	((size_t)1 << 31)

/*
 * The geometry of one convolution.  Per axis (input n, kernel k, stride
 * s), Keras/TensorFlow semantics:
 *   valid  out = floor((n - k) / s) + 1, no padding (k <= n required)
 *   same   out = ceil(n / s), pad_total = max((out - 1)*s + k - n, 0),
 *          pad_before = floor(pad_total / 2) (PT, PL), the rest after;
 *          padding reads zeros
 */
struct hgq_conv_geom {
	size_t	H, W, C;	/* input sample [H, W, C] */
	size_t	KH, KW, OC;	/* kernel [KH, KW, C, OC] */
	size_t	SH, SW;		/* strides */
	size_t	OH, OW;		/* output sample [OH, OW, OC] */
	size_t	PT, PL;		/* zero rows above, zero columns left */
};

/*
 * hgq_conv_geom_init - fill g for an input [H, W, C], a kernel KHxKW with
 * OC filters, strides SH, SW and padding (enum hgq_pad).  Returns HGQ_OK,
 * or HGQ_EINVAL with a message: a zero size, a kernel larger than its
 * input under 'valid', or any per-sample tensor (input, output, kernel,
 * im2col rows) above HGQ_CONV_MAX_ELEMS elements.  hgq_conv1d_geom_init:
 * input [W, C], kernel K, stride S (H = KH = SH = 1).
 */
int	hgq_conv_geom_init(struct hgq_conv_geom *g, size_t H, size_t W,
	    size_t C, size_t KH, size_t KW, size_t OC, size_t SH, size_t SW,
	    int padding, struct hgq_err *err);
int	hgq_conv1d_geom_init(struct hgq_conv_geom *g, size_t W, size_t C,
	    size_t K, size_t OC, size_t S, int padding, struct hgq_err *err);
/* floats of im2col scratch per sample: OH*OW*KH*KW*C */
size_t	hgq_conv_col_len(const struct hgq_conv_geom *g);

/*
 * hgq_conv_im2col - col (B*OH*OW, KH*KW*C): row (b*OH + oh)*OW + ow holds
 * the receptive field of that output position in kernel order, column
 * (kh*KW + kw)*C + c = inp[b, oh*SH + kh - PT, ow*SW + kw - PL, c], 0 in
 * the padding.  hgq_conv_col2im is its adjoint: dinp [B,H,W,C] is
 * overwritten with the sum of the dcol elements taken from each input
 * element.
 */
void	hgq_conv_im2col(float *restrict col, const float *restrict inp,
	    const struct hgq_conv_geom *g, size_t B);
void	hgq_conv_col2im(float *restrict dinp, const float *restrict dcol,
	    const struct hgq_conv_geom *g, size_t B);

/*
 * hgq_conv_forward - out [B,OH,OW,OC] = conv(inp [B,H,W,C], w
 * [KH,KW,C,OC]) + bias (OC, may be NULL), then max(., 0) when relu; by
 * im2col into col (B * hgq_conv_col_len floats, left holding the im2col
 * of inp for the backward) and hgq_matmul_forward.
 * hgq_conv_forward_ref is the direct loop, same tap order.
 */
void	hgq_conv_forward(float *restrict out, float *restrict col,
	    const float *restrict inp, const float *restrict w,
	    const float *restrict bias, const struct hgq_conv_geom *g,
	    size_t B, int relu);
void	hgq_conv_forward_ref(float *out, const float *inp, const float *w,
	    const float *bias, const struct hgq_conv_geom *g, size_t B,
	    int relu);

/*
 * hgq_conv_direct - whether the direct kernels below take convolution g:
 * one input channel, stride 1, no padding, OC a multiple of 8, at most
 * 12 taps (the first convolution of an image network).
 * hgq_conv_direct_forward is hgq_conv_forward without im2col (no col);
 * hgq_conv_direct_backward is hgq_conv_backward reading the input inp
 * instead of col, with dcolt scratch of hgq_conv_col_len floats (one
 * sample's).  Both give the same bits as the im2col path under the same
 * kernel variant (hgq_kernel_isa).
 */
int	hgq_conv_direct(const struct hgq_conv_geom *g);
void	hgq_conv_direct_forward(float *restrict out,
	    const float *restrict inp, const float *restrict w,
	    const float *restrict bias, const struct hgq_conv_geom *g,
	    size_t B, int relu);
void	hgq_conv_direct_backward(float *restrict dinp, float *restrict dw,
	    float *restrict db, float *restrict dcolt,
	    const float *restrict dout, const float *restrict inp,
	    const float *restrict wt, const struct hgq_conv_geom *g,
	    size_t B);

/*
 * hgq_conv_backward - given dout [B,OH,OW,OC] (after the ReLU's mask):
 * dw [KH,KW,C,OC] += the kernel gradient, db (OC) += sum of dout over the
 * batch and positions, dinp [B,H,W,C] = the input gradient (overwritten).
 * col is the im2col of the input (as hgq_conv_forward leaves it), wt
 * (OC, KH*KW*C) the kernel transposed (hgq_wquant_transpose with R =
 * KH*KW*C), dcol scratch of B * hgq_conv_col_len floats.  dinp may be
 * NULL (not wanted: then dcol and wt are unused), db may be NULL.
 * hgq_conv_backward_ref is the direct loop, taking the kernel w as it is.
 */
void	hgq_conv_backward(float *restrict dinp, float *restrict dw,
	    float *restrict db, float *restrict dcol,
	    const float *restrict dout, const float *restrict col,
	    const float *restrict wt, const struct hgq_conv_geom *g,
	    size_t B);
void	hgq_conv_backward_ref(float *dinp, float *dw, float *db,
	    const float *dout, const float *inp, const float *w,
	    const struct hgq_conv_geom *g, size_t B);

/*
 * Pooling, valid windows only: OH = floor((H - PH) / SH) + 1, so a
 * remainder row or column that does not fill a window is dropped (Keras
 * 'valid').  hgq_pool_geom_init: a stride 0 means the pool size; returns
 * HGQ_EINVAL for a zero size, a pool larger than its input or an input
 * above HGQ_CONV_MAX_ELEMS.  hgq_pool1d_geom_init: [W, C], pool P,
 * stride S.
 */
struct hgq_pool_geom {
	size_t	H, W, C;	/* input sample [H, W, C] */
	size_t	PH, PW;		/* window */
	size_t	SH, SW;		/* strides */
	size_t	OH, OW;		/* output sample [OH, OW, C] */
};
int	hgq_pool_geom_init(struct hgq_pool_geom *g, size_t H, size_t W,
	    size_t C, size_t PH, size_t PW, size_t SH, size_t SW,
	    struct hgq_err *err);
int	hgq_pool1d_geom_init(struct hgq_pool_geom *g, size_t W, size_t C,
	    size_t P, size_t S, struct hgq_err *err);

/*
 * Max pooling: out [B,OH,OW,C] = the window's max per channel.  Backward:
 * dinp [B,H,W,C] overwritten; each dout goes to the first largest element
 * of its window in row-major order (found again from inp); with relu
 * (inp is a ReLU's output), nothing passes where that max is 0: the same
 * as hgq_relu_backward(dinp, inp) afterwards, fused.  Average
 * pooling: the window's sum times 1/(PH*PW); backward spreads dout/(PH*PW)
 * over the window.  Overlapping windows (stride < pool) add up.
 */
void	hgq_maxpool_forward(float *restrict out, const float *restrict inp,
	    const struct hgq_pool_geom *g, size_t B);
void	hgq_maxpool_backward(float *restrict dinp, const float *restrict dout,
	    const float *restrict inp, const struct hgq_pool_geom *g,
	    size_t B, int relu);
/*
 * The same with the winners kept: arg [B,OH,OW,C] gets, per output
 * element, the offset in its sample of the input element that won, and
 * the backward adds each dout there (dinp cleared first): equal to
 * hgq_maxpool_forward and hgq_maxpool_backward(relu = 0) for every input.
 */
void	hgq_maxpool_forward_arg(float *restrict out, uint32_t *restrict arg,
	    const float *restrict inp, const struct hgq_pool_geom *g,
	    size_t B);
void	hgq_maxpool_backward_arg(float *restrict dinp,
	    const float *restrict dout, const uint32_t *restrict arg,
	    const struct hgq_pool_geom *g, size_t B);
void	hgq_avgpool_forward(float *restrict out, const float *restrict inp,
	    const struct hgq_pool_geom *g, size_t B);
void	hgq_avgpool_backward(float *restrict dinp, const float *restrict dout,
	    const struct hgq_pool_geom *g, size_t B);

/*
 * hgq_ebops_conv - differentiable EBOPs of a convolution, fully parallel
 * (hgq-algorithm 0, 5.2 HConv with parallel_factor = the output
 * positions): returns the sum over every output position, real tap
 * (kh,kw,c) (padding is no multiplication) and filter o of
 * abits[ih,iw,c] * wbits[kh,kw,c,o], abits the input map's bits [H,W,C]
 * (per element; expand shared ones first), wbits [KH,KW,C,OC] as
 * hgq_wquant gives them.  Adds the gradients of hgq_ebops_dense pair by
 * pair: dfw[kh,kw,c,o] += beta * (sum of abits over the input elements
 * that tap meets) where wbits > 0; dfa[ih,iw,c] += beta * sum_o
 * wbits[kh,kw,c,o] for every tap meeting it, where abits > 0.  Either
 * may be NULL.
 */
double	hgq_ebops_conv(float *restrict dfa, float *restrict dfw,
	    const float *restrict abits, const float *restrict wbits,
	    const struct hgq_conv_geom *g, float beta);

/* ------------------------------------------------------------------ */
/* Exact ranges of formats and layers (quant.c, interval.c)            */
/* ------------------------------------------------------------------ */

/*
 * hgq_fmt_range - the mantissas that format (k, i, f) holds under the
 * overflow mode: [-k*2^(i+f), 2^(i+f) - 1] for WRAP and SAT, the lower
 * end raised to -(2^(i+f) - 1) for SAT_SYM when k = 1, [0, 0] for width
 * k+i+f <= 0.  With i+f >= 62 every mantissa the library handles fits:
 * [INT64_MIN or 0, INT64_MAX].  The one definition of a format's range:
 * hgq_overflow_mant, the prepared ops, the IR and the Verilog use it.
 */
void	hgq_fmt_range(int k, int i, int f, int overflow, int64_t *lo,
	    int64_t *hi);

/*
 * hgq_dense_range - the exact range of output j of dense layer d over
 * independent inputs: input i's mantissa ranges over [x[i].lo, x[i].hi]
 * at exponent x[i].e (an input of [0, 0] adds nothing).  *y gets
 * [sum_i min(w_ij lo_i, w_ij hi_i), sum_i max(...)], plus b_j when
 * with_bias, at the exponent of the finest lowest set bit among the
 * terms that can be non-zero ([0, 0] at 2^0 when none can); both ends
 * are attained.  HGQ_OK, or HGQ_ERANGE when a term or a bound reaches
 * 2^62 at that exponent.
 */
int	hgq_dense_range(struct hgq_ival *y, const struct hgq_layer *d,
	    uint32_t j, const struct hgq_ival *x, int with_bias);

/*
 * hgq_ival_rescale - *v at the finer exponent e (<= v->e), exactly.
 * HGQ_EINVAL when e is coarser, HGQ_ERANGE when a bound reaches 2^62.
 */
int	hgq_ival_rescale(struct hgq_ival *v, int32_t e);

/*
 * hgq_ival_quant - *out = the range of the quantizer element (k, i, f,
 * round, overflow) applied to values in *y, after ReLU when relu: the
 * images of the ends (rounding and saturation are monotone), or for WRAP
 * the whole format once the rounded range leaves it.  out->e = -f.
 */
void	hgq_ival_quant(struct hgq_ival *out, const struct hgq_ival *y,
	    int relu, int k, int i, int f, int round, int overflow);

/*
 * hgq_layer_concat_runs - concatenate layer j of m as runs: its output
 * is, *outer times, seg[0] elements of input 0, seg[1] of input 1, ...
 * (row-major over the channels-last shape; model.c).
 */
void	hgq_layer_concat_runs(const struct hgq_model *m, uint32_t j,
	    size_t *outer, size_t seg[HGQ_MAX_LAYER_INPUTS]);

/*
 * hgq_model_live_zero - hgq_model_live() where zero[l] (for quantizers
 * l before the last; zero itself may be NULL) marks elements known to be
 * always 0: they count as dead like elements of width 0.  (prune.c finds
 * them; ebops.c)
 */
int	hgq_model_live_zero(const struct hgq_model *m, uint8_t **live,
	    uint8_t *const *zero, struct hgq_err *err);

#endif /* HGQ_INTERNAL_H */
