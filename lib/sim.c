/*
 * sim.c - bit-exact integer inference of a calibrated model (what the
 * FPGA computes), and the calibration that gives every activation element
 * its exact integer bits and sign.
 *
 * A dense layer computes y_j = sum_i a_i * w_ij + b_j exactly.  a_i is a
 * mantissa at f_a[i], w_ij at w_f[ij]; output j accumulates at the
 * position F_j of its finest term (or its quantizer's f when finer),
 * every weight is shifted once, at preparation, to W'_ij = w_ij *
 * 2^(F_j - f_a[i] - w_f[ij]), and the exact range of every output
 * (hgq_dense_range over the input ranges, carried from the first
 * quantizer's formats by hgq_ival_quant, as the IR has them) decides
 * whether int32 (fast path) or int64 (wide paths) holds the sums; an
 * output whose range reaches 2^62 is refused with HGQ_ERANGE.  The next
 * quantizer then maps the accumulator from F_j to its format through the
 * prepared hgq_qop (quant.c).
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CHUNK		256	/* samples per block of work */
#define MAX_THREADS	64	/* jobs of the engine and of calibration */

/*
 * How a layer accumulates: PATH_32 when every output's exact range fits
 * int32; PATH_MID when the inputs and the aligned weights fit int32 but
 * the sums need int64 (the products widen, which vectorises); PATH_64
 * otherwise.  The sums are taken modulo 2^32 or 2^64 (unsigned, so that
 * no C overflow occurs): a partial sum may leave the range on the way,
 * a weight may wrap when it is aligned, and the result is still exact,
 * because the true sum lies in the range that the type holds.
 */
enum { PATH_32, PATH_MID, PATH_64 };

/* one dense layer prepared for integer accumulation */
struct dense_prep {
	uint32_t	 n_in, n_out;
	int		 relu;
	int		 path;		/* PATH_32, PATH_MID or PATH_64 */
	size_t		 stride;	/* n_out rounded up to 8 */
	int32_t		*F;		/* n_out: fraction of each output's
					   accumulator */
	int32_t		*w32;		/* n_in*stride aligned weights, or */
	int32_t		*b32;		/* stride biases (int32 path) */
	int64_t		*w64;
	int64_t		*bias;		/* n_out aligned biases */
};

struct hgq_engine {
	uint32_t	 n_raw, n0;
	uint32_t	*index_map;	/* n0 */
	double		*off, *scale;	/* n0, per first-quantizer element */
	double		*scale2f;	/* n0: 2^f of each input element */
	double		*sc2f;		/* n0: scale * 2^f (exact product) */
	struct hgq_qop	*in_q;		/* n0: overflow of each input element */
	int8_t		*in_k, *in_i, *in_f;
	uint8_t		 in_round, in_ovf;
	uint32_t	 n_dense;
	struct dense_prep *d;		/* n_dense */
	struct hgq_qop	**qo;		/* n_dense arrays of n_out */
	uint32_t	 n_out;
	int8_t		*out_f;
	uint32_t	 max_n;		/* widest layer */
};

static void
dense_release(struct dense_prep *d)
{
	free(d->F);
	free(d->w32);
	free(d->b32);
	free(d->w64);
	free(d->bias);
	memset(d, 0, sizeof(*d));
}

/* the ranges of quantizer q's elements (hgq_fmt_range), at 2^-f */
static void
fmt_ivals(const struct hgq_layer *q, struct hgq_ival *x)
{
	for (uint32_t j = 0; j < q->n_out; j++) {
		hgq_fmt_range(q->k[j], q->i[j], q->f[j], q->overflow,
		    &x[j].lo, &x[j].hi);
		x[j].e = -q->f[j];
	}
}

/*
 * m * 2^s modulo 2^64 (s >= -ctz(m), so that it is an integer); *exact
 * tells whether the true value fits int32
 */
static int64_t
align(int64_t m, int64_t s, bool *fits32)
{
	int c;

	*fits32 = m == 0;
	if (m == 0)
		return 0;
	c = __builtin_ctzll((uint64_t)m);
	m /= (int64_t)1 << c;		/* odd */
	s += c;				/* >= 0 */
	if (s >= 64)
		return 0;		/* a multiple of 2^64 */
	*fits32 = s <= 31 && m >= (INT32_MIN >> s) && m <= (INT32_MAX >> s);
	return (int64_t)((uint64_t)m << s);
}

/*
 * dense_prepare - align dense layer dl (index li in the model) whose
 * input element i ranges over x[i] (hgq_ival, at 2^-f of its quantizer)
 * and whose outputs go to quantizer qo.  Output j accumulates at the
 * fraction F_j of its finest term (hgq_dense_range), or at qo's f when
 * that is finer, so that the quantizer only ever shifts right; a
 * zero-width output is not refined to its f (it gives 0 anyway, and its
 * rounded value is non-zero exactly when the sum is).  With calib, qo's
 * widths are not known yet and every output counts as live.  xnext, when
 * not NULL, gets the range of each output after ReLU and qo.
 */
static int
dense_prepare(struct dense_prep *d, const struct hgq_ival *x,
    const struct hgq_layer *dl, const struct hgq_layer *qo, int calib,
    struct hgq_ival *xnext, uint32_t li, struct hgq_err *err)
{
	uint32_t ni = dl->n_in, no = dl->n_out;
	size_t nw = (size_t)ni * no;
	bool fits32 = true, mid = true, f32;

	memset(d, 0, sizeof(*d));
	d->n_in = ni;
	d->n_out = no;
	d->relu = dl->act == HGQ_ACT_RELU;
	if ((d->F = calloc((size_t)no + 1, sizeof(int32_t))) == NULL ||
	    (d->bias = calloc((size_t)no + 8, sizeof(int64_t))) == NULL ||
	    (d->w64 = calloc(nw ? nw : 1, sizeof(int64_t))) == NULL)
		goto nomem;
	for (uint32_t i = 0; i < ni; i++)
		mid &= x[i].lo >= INT32_MIN && x[i].hi <= INT32_MAX;
	for (uint32_t j = 0; j < no; j++) {
		bool live = calib || hgq_fmt_width(qo->k[j], qo->i[j],
		    qo->f[j]) > 0;
		struct hgq_ival y;
		int F;

		if (hgq_dense_range(&y, dl, j, x, 1) != HGQ_OK) {
			if (live)
				goto range;
			/* a dead output whose sum is out of reach: its
			   column stays 0, its quantizer gives 0 */
			d->F[j] = qo->f[j];
			if (xnext != NULL)
				memset(&xnext[j], 0, sizeof(xnext[j]));
			continue;
		}
		F = -y.e;
		if (live && qo->f[j] > F) {
			F = qo->f[j];
			if (hgq_ival_rescale(&y, -F) != HGQ_OK)
				goto range;
		}
		y.e = -F;
		d->F[j] = F;
		fits32 &= y.lo >= INT32_MIN && y.hi <= INT32_MAX;
		for (uint32_t i = 0; i < ni; i++) {
			size_t at = (size_t)i * no + j;

			if (x[i].lo == 0 && x[i].hi == 0)
				continue;	/* a pruned input adds 0 */
			d->w64[at] = align(dl->w_m[at], (int64_t)x[i].e -
			    dl->w_f[at] + F, &f32);
			mid &= f32;
		}
		d->bias[j] = align(dl->b_m[j], (int64_t)F - dl->b_f[j], &f32);
		mid &= f32;
		if (xnext != NULL)
			hgq_ival_quant(&xnext[j], &y, d->relu, qo->k[j],
			    qo->i[j], qo->f[j], qo->round, qo->overflow);
	}
	d->path = fits32 ? PATH_32 : mid ? PATH_MID : PATH_64;
	if (d->path != PATH_64) {
		/* weights as int32 (PATH_32: modulo 2^32): padded rows
		   for the blocked kernels */
		d->stride = ((size_t)no + 7) & ~(size_t)7;
		if ((d->w32 = calloc(ni * d->stride + 8, sizeof(int32_t)))
		    == NULL || (d->b32 = calloc(d->stride, sizeof(int32_t)))
		    == NULL)
			goto nomem;
		for (uint32_t i = 0; i < ni; i++)
			for (uint32_t j = 0; j < no; j++)
				d->w32[i * d->stride + j] = (int32_t)(uint32_t)
				    d->w64[(size_t)i * no + j];
		for (uint32_t j = 0; j < no; j++)
			d->b32[j] = (int32_t)(uint32_t)d->bias[j];
		free(d->w64);
		d->w64 = NULL;
	}
	return HGQ_OK;
range:
	dense_release(d);
	return hgq_errf(err, HGQ_ERANGE, "layer %u: the accumulator would "
	    "need more than 62 bits (weights or activations too wide)", li);
nomem:
	dense_release(d);
	return hgq_errf(err, HGQ_ENOMEM, "out of memory");
}

/*
 * dense_acc32 - one sample, int32 path: acc (n_out, padded to a multiple
 * of 8) = bias + sum_i a_i * W'_i.  The outputs go in blocks of 8 whose
 * accumulators stay in registers across the whole sum (the weight rows
 * are padded to the block, so the inner loop has a constant trip count
 * and becomes one vector multiply-add); no branch on the data.
 * It is inlined into the per-sample loops (run_range, cal_job_main),
 * which target_clones compiles twice, with AVX2 and without, the version
 * chosen when the program loads: the whole sample's work then runs in
 * one function, without calls between the layers and the quantizers.
 */
static inline __attribute__((always_inline)) void
dense_acc32(const struct dense_prep *d, const int64_t *restrict a,
    int32_t *restrict acc)
{
	size_t stride = d->stride;

	for (size_t j0 = 0; j0 < stride; j0 += 8) {
		uint32_t blk[8];

		for (int jj = 0; jj < 8; jj++)
			blk[jj] = (uint32_t)d->b32[j0 + jj];
		for (uint32_t i = 0; i < d->n_in; i++) {
			const int32_t *restrict row = d->w32 + i * stride + j0;
			uint32_t ai = (uint32_t)a[i];

			for (int jj = 0; jj < 8; jj++)
				blk[jj] += ai * (uint32_t)row[jj];
		}
		for (int jj = 0; jj < 8; jj++)
			acc[j0 + jj] = (int32_t)blk[jj];
	}
}

/*
 * dense_accmid - one sample, PATH_MID: as dense_acc32, but the products
 * of int32 inputs and weights are widened and summed in int64.
 */
static inline __attribute__((always_inline)) void
dense_accmid(const struct dense_prep *d, const int64_t *restrict a,
    int64_t *restrict acc)
{
	size_t stride = d->stride;

	for (size_t j0 = 0; j0 < stride; j0 += 8) {
		uint64_t blk[8];

		for (int jj = 0; jj < 8; jj++)
			blk[jj] = (uint64_t)d->bias[j0 + jj];
		for (uint32_t i = 0; i < d->n_in; i++) {
			const int32_t *restrict row = d->w32 + i * stride + j0;
			int64_t ai = (int32_t)a[i];

			/* |ai * row| < 2^62: exact in int64 */
			for (int jj = 0; jj < 8; jj++)
				blk[jj] += (uint64_t)(ai * row[jj]);
		}
		for (int jj = 0; jj < 8; jj++)
			acc[j0 + jj] = (int64_t)blk[jj];
	}
}

/* one sample, int64 path: acc (n_out) = bias + sum_i a_i * W'_i */
static void
dense_acc64(const struct dense_prep *d, const int64_t *restrict a,
    int64_t *restrict acc)
{
	uint32_t no = d->n_out;
	uint64_t *restrict u = (uint64_t *)acc;

	for (uint32_t j = 0; j < no; j++)
		u[j] = (uint64_t)d->bias[j];
	for (uint32_t i = 0; i < d->n_in; i++) {
		const int64_t *restrict row = d->w64 + (size_t)i * no;
		uint64_t ai = (uint64_t)a[i];

		if (ai == 0)
			continue;
		for (uint32_t j = 0; j < no; j++)
			u[j] += ai * (uint64_t)row[j];
	}
}

/*
 * dense_quant - one sample through dense layer d and the quantizer ops
 * qo that follow it: dst (n_out) gets the output mantissas; overflows
 * are added to *count.  acc and tmp32 are scratch of n_out (padded).
 * The ReLU-and-quantize loop is written out for the int32 and the int64
 * accumulators: fused with the read of the accumulator it runs the whole
 * simulation twice as fast as going through dense_forward's int64 copy
 * (bench_sim, 16-64-32-32-5: 1.0 vs 2.0 million samples/s per thread).
 */
static inline __attribute__((always_inline)) void
dense_quant(const struct dense_prep *d, const struct hgq_qop *qo,
    const int64_t *a, int64_t *dst, int64_t *acc, int32_t *tmp32,
    uint64_t *count)
{
	uint64_t c = 0;

	if (d->path == PATH_32) {
		dense_acc32(d, a, tmp32);
		for (uint32_t j = 0; j < d->n_out; j++) {
			int64_t v = tmp32[j], r, q;

			if (d->relu && v < 0)
				v = 0;
			r = hgq_qop_round(&qo[j], v);
			q = hgq_qop_overflow(&qo[j], r);
			c += q != r;
			dst[j] = q;
		}
	} else {
		if (d->path == PATH_MID)
			dense_accmid(d, a, acc);
		else
			dense_acc64(d, a, acc);
		for (uint32_t j = 0; j < d->n_out; j++) {
			int64_t v = acc[j], r, q;

			if (d->relu && v < 0)
				v = 0;
			r = hgq_qop_round(&qo[j], v);
			q = hgq_qop_overflow(&qo[j], r);
			c += q != r;
			dst[j] = q;
		}
	}
	*count += c;
}

/* accumulate one sample into acc (n_out), whichever path, then ReLU */
static inline __attribute__((always_inline)) void
dense_forward(const struct dense_prep *d, const int64_t *a, int64_t *acc,
    int32_t *tmp32)
{
	if (d->path == PATH_64) {
		dense_acc64(d, a, acc);
	} else if (d->path == PATH_MID) {
		dense_accmid(d, a, acc);
	} else {
		dense_acc32(d, a, tmp32);
		for (uint32_t j = 0; j < d->n_out; j++)
			acc[j] = tmp32[j];
	}
	if (d->relu)
		for (uint32_t j = 0; j < d->n_out; j++)
			if (acc[j] < 0)
				acc[j] = 0;
}

/* ---------------------------------------------------------------- */

static int
check_calibrated(const struct hgq_model *m, struct hgq_err *err)
{
	int rc;

	if ((rc = hgq_model_validate(m, err)) != HGQ_OK)
		return rc;
	if ((rc = hgq_model_dense_only(m, "the engine", err)) != HGQ_OK)
		return rc;
	if (!m->calibrated)
		return hgq_errf(err, HGQ_EINVAL, "the model was never "
		    "calibrated (it has no exact fixed-point part)");
	return HGQ_OK;
}

void
hgq_engine_free(struct hgq_engine *e)
{
	if (e == NULL)
		return;
	for (uint32_t l = 0; l < e->n_dense; l++) {
		dense_release(&e->d[l]);
		free(e->qo[l]);
	}
	free(e->d);
	free(e->qo);
	free(e->index_map);
	free(e->off);
	free(e->scale);
	free(e->scale2f);
	free(e->sc2f);
	free(e->in_q);
	free(e->in_k);
	free(e->in_i);
	free(e->in_f);
	free(e->out_f);
	free(e);
}

int
hgq_engine_new(struct hgq_engine **out, const struct hgq_model *m,
    struct hgq_err *err)
{
	const struct hgq_layer *q0;
	struct hgq_engine *e;
	struct hgq_ival *x = NULL, *xnext = NULL;
	int rc;

	*out = NULL;
	if ((rc = check_calibrated(m, err)) != HGQ_OK)
		return rc;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	q0 = &m->layers[0];
	e->n_raw = m->n_raw;
	e->n0 = q0->n_out;
	e->n_dense = m->n_layers / 2;
	e->in_round = q0->round;
	e->in_ovf = q0->overflow;
	e->max_n = e->n0;
	if ((e->index_map = hgq_calloc(e->n0, sizeof(uint32_t))) == NULL ||
	    (e->off = hgq_calloc(e->n0, sizeof(double))) == NULL ||
	    (e->scale = hgq_calloc(e->n0, sizeof(double))) == NULL ||
	    (e->scale2f = hgq_calloc(e->n0, sizeof(double))) == NULL ||
	    (e->sc2f = hgq_calloc(e->n0, sizeof(double))) == NULL ||
	    (e->in_q = hgq_calloc(e->n0, sizeof(struct hgq_qop))) == NULL ||
	    (e->in_k = hgq_calloc(e->n0, 1)) == NULL ||
	    (e->in_i = hgq_calloc(e->n0, 1)) == NULL ||
	    (e->in_f = hgq_calloc(e->n0, 1)) == NULL ||
	    (e->d = hgq_calloc(e->n_dense, sizeof(*e->d))) == NULL ||
	    (e->qo = hgq_calloc(e->n_dense, sizeof(*e->qo))) == NULL)
		goto nomem;
	for (uint32_t j = 0; j < e->n0; j++) {
		uint32_t c = m->index_map[j];

		e->index_map[j] = c;
		e->off[j] = m->norm_offset != NULL ? m->norm_offset[c] : 0.0;
		e->scale[j] = m->norm_scale != NULL ? m->norm_scale[c] : 1.0;
		e->in_k[j] = q0->k[j];
		e->in_i[j] = q0->i[j];
		e->in_f[j] = q0->f[j];
		e->scale2f[j] = ldexp(1.0, q0->f[j]);
		e->sc2f[j] = ldexp(e->scale[j], q0->f[j]);
		hgq_qop_init(&e->in_q[j], q0->f[j], q0->k[j], q0->i[j],
		    q0->f[j], q0->round, q0->overflow);
	}
	/* the ranges of every layer's inputs, from the first quantizer's
	   formats through the exact sums (as the IR has them) */
	for (uint32_t l = 0; l < m->n_layers; l++)
		if (m->layers[l].n_out > e->max_n)
			e->max_n = m->layers[l].n_out;
	if ((x = hgq_calloc(e->max_n, sizeof(*x))) == NULL ||
	    (xnext = hgq_calloc(e->max_n, sizeof(*xnext))) == NULL)
		goto nomem;
	fmt_ivals(q0, x);
	for (uint32_t l = 0; l < e->n_dense; l++) {
		const struct hgq_layer *dl = &m->layers[2 * l + 1];
		const struct hgq_layer *qo = &m->layers[2 * l + 2];
		struct hgq_ival *t;

		rc = dense_prepare(&e->d[l], x, dl, qo, 0, xnext, 2 * l + 1,
		    err);
		if (rc != HGQ_OK) {
			e->n_dense = l;
			free(x);
			free(xnext);
			hgq_engine_free(e);
			return rc;
		}
		t = x;
		x = xnext;
		xnext = t;
		if ((e->qo[l] = hgq_calloc(qo->n_out, sizeof(struct hgq_qop)))
		    == NULL) {
			e->n_dense = l + 1;
			goto nomem;
		}
		for (uint32_t j = 0; j < qo->n_out; j++) {
			int F = e->d[l].F[j], f = qo->f[j];

			/* a zero-width output left coarser than its f (see
			   dense_prepare) rounds to F only: 0 all the same,
			   and non-zero before overflow when the sum is */
			if (hgq_fmt_width(qo->k[j], qo->i[j], f) == 0 && f > F)
				f = F;
			hgq_qop_init(&e->qo[l][j], F, qo->k[j], qo->i[j], f,
			    qo->round, qo->overflow);
		}
	}
	free(x);
	free(xnext);
	x = xnext = NULL;
	e->n_out = hgq_model_n_out(m);
	if ((e->out_f = hgq_calloc(e->n_out, 1)) == NULL)
		goto nomem;
	memcpy(e->out_f, m->layers[m->n_layers - 1].f, e->n_out);
	*out = e;
	return HGQ_OK;
nomem:
	free(x);
	free(xnext);
	hgq_engine_free(e);
	return hgq_errf(err, HGQ_ENOMEM, "out of memory");
}

uint32_t
hgq_engine_n_in(const struct hgq_engine *e)
{
	return e->n_raw;
}

uint32_t
hgq_engine_n_out(const struct hgq_engine *e)
{
	return e->n_out;
}

int
hgq_engine_out_f(const struct hgq_engine *e, uint32_t j)
{
	return e->out_f[j];
}

/*
 * input_quant - normalise and quantise raw column value x for input
 * element j: xn = (x - offset) * scale, then xn * 2^f is rounded and
 * overflowed.  Because scaling by 2^f is exact, (x - offset) * (scale *
 * 2^f) is the same number, so the common case takes one multiply and an
 * integer floor (|v| < 2^52: the conversion is exact).  Values that are
 * huge, or so tiny that the product could be subnormal, go through
 * hgq_quant_f64, the definition.  *ovf tells whether overflow changed the
 * rounded value.
 */
static inline __attribute__((always_inline)) int64_t
input_quant(const struct hgq_engine *e, uint32_t j, double x, int *ovf)
{
	double d = x - e->off[j];
	double v = d * e->sc2f[j];
	int64_t r, q;

	if (!(fabs(v) < 0x1p52) || (fabs(v) < 0x1p-898 && d != 0)) {
		double xn = d * e->scale[j];
		int k = e->in_k[j], i = e->in_i[j], f = e->in_f[j];

		q = hgq_quant_f64(xn, k, i, f, e->in_round, e->in_ovf);
		*ovf = q != hgq_quant_f64(xn, 1, 61 - f, f, e->in_round,
		    HGQ_SAT);
		return q;
	}
	r = (int64_t)v;			/* towards zero ... */
	if ((double)r > v)
		r--;			/* ... now floor(v) */
	if (e->in_round == HGQ_RND && v - (double)r >= 0.5)
		r++;
	q = hgq_qop_overflow(&e->in_q[j], r);
	*ovf = q != r;
	return q;
}

void
hgq_engine_quant_input(const struct hgq_engine *e, const double *x,
    size_t n, int64_t *q)
{
	int ovf;

	for (size_t s = 0; s < n; s++)
		for (uint32_t j = 0; j < e->n0; j++)
			q[s * e->n0 + j] = input_quant(e, j,
			    x[s * e->n_raw + e->index_map[j]], &ovf);
}

/* run samples [s0, s1) */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx2", "default"), optimize("O3")))
#endif
static void
run_range(const struct hgq_engine *e, const double *x, size_t s0, size_t s1,
    int64_t *out, uint64_t *counts, int64_t *buf)
{
	int64_t *a = buf, *acc = buf + e->max_n;
	int32_t *tmp32 = (int32_t *)(buf + 2 * (size_t)e->max_n);

	for (size_t s = s0; s < s1; s++) {
		const double *xs = x + s * e->n_raw;

		for (uint32_t j = 0; j < e->n0; j++) {
			int ovf;

			a[j] = input_quant(e, j, xs[e->index_map[j]], &ovf);
			counts[0] += ovf;
		}
		for (uint32_t l = 0; l < e->n_dense; l++)
			dense_quant(&e->d[l], e->qo[l], a, l + 1 == e->n_dense ?
			    out + s * e->n_out : a, acc, tmp32,
			    &counts[l + 1]);
	}
}

struct run_job {
	const struct hgq_engine *e;
	const double	*x;
	size_t		 s0, s1;
	int64_t		*out;
	uint64_t	*counts;
	int64_t		*buf;
};

static void *
run_job_main(void *arg)
{
	struct run_job *j = arg;

	run_range(j->e, j->x, j->s0, j->s1, j->out, j->counts, j->buf);
	return NULL;
}

int
hgq_engine_run(const struct hgq_engine *e, const double *x, size_t n,
    int64_t *out, struct hgq_ovf_stats *st, int threads)
{
	struct run_job jobs[MAX_THREADS];
	size_t per_buf = 3 * (size_t)e->max_n + 16;
	uint32_t nq = e->n_dense + 1;
	int64_t *bufs;
	uint64_t *counts;
	int t, nt;

	threads = hgq_n_threads(threads, MAX_THREADS);
	/* a thread only pays for itself on a few chunks of work */
	nt = n / CHUNK < (size_t)threads ? (int)(n / CHUNK) : threads;
	if (nt < 1)
		nt = 1;
	bufs = calloc((size_t)nt * per_buf, sizeof(int64_t));
	counts = calloc((size_t)nt * nq, sizeof(uint64_t));
	if (bufs == NULL || counts == NULL) {
		free(bufs);
		free(counts);
		return HGQ_ENOMEM;
	}
	for (t = 0; t < nt; t++) {
		jobs[t].e = e;
		jobs[t].x = x;
		jobs[t].s0 = n * t / nt;
		jobs[t].s1 = n * (t + 1) / nt;
		jobs[t].out = out;
		jobs[t].counts = counts + (size_t)t * nq;
		jobs[t].buf = bufs + (size_t)t * per_buf;
	}
	hgq_fan_out(run_job_main, jobs, sizeof(jobs[0]), nt);
	if (st != NULL)
		for (t = 0; t < nt; t++)
			for (uint32_t q = 0; q < nq && q < st->n_quant; q++)
				st->count[q] += counts[(size_t)t * nq + q];
	free(bufs);
	free(counts);
	return HGQ_OK;
}

/* ---------------------------------------------------------------- */
/* Calibration                                                       */
/* ---------------------------------------------------------------- */

/*
 * Calibration goes layer by layer over all n rows: the input quantizer
 * first (from the raw data), then each dense layer from the activations
 * of the one before, whose formats are known by then.  Rows are split
 * over threads, each with its own range arrays, merged in a fixed order.
 * Only hidden activations are kept (n x widest hidden layer); the first
 * quantizer's values are recomputed from x when the first dense layer
 * needs them, which costs less than storing n x inputs of them.
 */
struct cal_job {
	const struct hgq_model *m;
	const double	*x;
	const int64_t	*cur;		/* activations in (n x n_in) */
	int64_t		*next;		/* rounded outputs (n x n_out) */
	const struct dense_prep *d;	/* NULL: the input quantizer */
	const struct hgq_qop *ops;	/* rounding to the next quantizer */
	const struct hgq_qop *in_q;	/* calibrated input quantizer ops */
	const double	*in_sc2f;	/* scale * 2^f per input element */
	size_t		 s0, s1;
	int64_t		*mn, *mx;	/* this thread's ranges */
	int64_t		*scratch;	/* 3 * max_n + 64 */
	size_t		 row_off;	/* first-layer inputs in scratch */
	int		 rc;		/* HGQ_ERANGE: a value out of reach */
	uint32_t	 bad_j;
	double		 bad_x;
};

/*
 * R(x' * 2^f) of raw column value x for input element j, no overflow;
 * sc2f is scale * 2^f of the element (see input_quant for the method)
 */
static int
cal_input_round(const struct hgq_model *m, uint32_t j, double x,
    double sc2f, int64_t *r)
{
	const struct hgq_layer *q0 = &m->layers[0];
	uint32_t c = m->index_map[j];
	double off = m->norm_offset != NULL ? m->norm_offset[c] : 0.0;
	double sc = m->norm_scale != NULL ? m->norm_scale[c] : 1.0;
	int f = q0->f[j];
	double d = x - off, v = d * sc2f;

	if (fabs(v) < 0x1p52 && !(fabs(v) < 0x1p-898 && d != 0)) {
		int64_t t = (int64_t)v;

		if ((double)t > v)
			t--;
		if (q0->round == HGQ_RND && v - (double)t >= 0.5)
			t++;
		*r = t;
		return HGQ_OK;
	}
	*r = hgq_quant_f64(d * sc, 1, 61 - f, f, q0->round, HGQ_SAT);
	if (*r >= ((int64_t)1 << 61) - 1 || *r <= -((int64_t)1 << 61))
		return HGQ_ERANGE;
	return HGQ_OK;
}

static void
cal_track(int64_t *mn, int64_t *mx, uint32_t j, int64_t r)
{
	if (r < mn[j])
		mn[j] = r;
	if (r > mx[j])
		mx[j] = r;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx2", "default"), optimize("O3")))
#endif
static void *
cal_job_main(void *arg)
{
	struct cal_job *jb = arg;
	const struct hgq_model *m = jb->m;
	const struct hgq_layer *q0 = &m->layers[0];
	uint32_t n0 = q0->n_out;

	for (size_t s = jb->s0; s < jb->s1 && jb->rc == HGQ_OK; s++) {
		const double *xs = jb->x + s * m->n_raw;
		const int64_t *a;

		if (jb->d == NULL) {
			/* the input quantizer: ranges of the rounded values */
			for (uint32_t j = 0; j < n0; j++) {
				int64_t r;

				if (cal_input_round(m, j, xs[m->index_map[j]],
				    jb->in_sc2f[j], &r) != HGQ_OK) {
					jb->rc = HGQ_ERANGE;
					jb->bad_j = j;
					jb->bad_x = xs[m->index_map[j]];
					break;
				}
				cal_track(jb->mn, jb->mx, j, r);
			}
			continue;
		}
		if (jb->cur == NULL) {
			/* first dense layer: its inputs from the raw row */
			int64_t *row = jb->scratch + jb->row_off;

			for (uint32_t j = 0; j < n0; j++) {
				int64_t r;

				/* calibrated: in range, so no error here */
				cal_input_round(m, j, xs[m->index_map[j]],
				    jb->in_sc2f[j], &r);
				row[j] = hgq_qop_overflow(&jb->in_q[j], r);
			}
			a = row;
		} else {
			a = jb->cur + s * jb->d->n_in;
		}
		{
			const struct dense_prep *d = jb->d;
			int64_t *acc = jb->scratch;
			int32_t *tmp32 = (int32_t *)(jb->scratch + d->n_out + 8);
			int64_t *dst = jb->next + s * d->n_out;

			dense_forward(d, a, acc, tmp32);
			for (uint32_t j = 0; j < d->n_out; j++) {
				dst[j] = hgq_qop_round(&jb->ops[j], acc[j]);
				cal_track(jb->mn, jb->mx, j, dst[j]);
			}
		}
	}
	return NULL;
}

/*
 * cal_run - run one calibration stage over all rows on nt threads and
 * merge the ranges into mn/mx (width entries).  Returns the first job's
 * error, if any.
 */
static int
cal_run(struct cal_job *proto, size_t n, int nt, uint32_t width,
    int64_t *mn, int64_t *mx, int64_t *mem, size_t per_thread,
    struct cal_job **bad)
{
	struct cal_job jobs[MAX_THREADS];
	int t;

	for (t = 0; t < nt; t++) {
		int64_t *base = mem + (size_t)t * per_thread;

		jobs[t] = *proto;
		jobs[t].s0 = n * t / nt;
		jobs[t].s1 = n * (t + 1) / nt;
		jobs[t].mn = base;
		jobs[t].mx = base + width;
		jobs[t].scratch = base + 2 * (size_t)width;
		for (uint32_t j = 0; j < width; j++)
			jobs[t].mn[j] = jobs[t].mx[j] = 0;
	}
	hgq_fan_out(cal_job_main, jobs, sizeof(jobs[0]), nt);
	for (uint32_t j = 0; j < width; j++)
		mn[j] = mx[j] = 0;
	for (t = 0; t < nt; t++) {
		if (jobs[t].rc != HGQ_OK) {
			**bad = jobs[t];
			return jobs[t].rc;
		}
		for (uint32_t j = 0; j < width; j++) {
			cal_track(mn, mx, j, jobs[t].mn[j]);
			cal_track(mn, mx, j, jobs[t].mx[j]);
		}
	}
	return HGQ_OK;
}

/* set k, i of quantizer q from the mantissa ranges mn/mx (n elements) */
static int
calib_set(struct hgq_layer *q, uint32_t li, const int64_t *mn,
    const int64_t *mx, struct hgq_err *err)
{
	for (uint32_t j = 0; j < q->n_out; j++) {
		int k, i;

		hgq_fmt_from_range(mn[j], mx[j], q->f[j], &k, &i);
		if (i < -HGQ_MAX_IF || i > HGQ_MAX_IF ||
		    k + i + q->f[j] > HGQ_MAX_WIDTH)
			return hgq_errf(err, HGQ_ERANGE, "layer %u element %u: "
			    "calibrated format k=%d i=%d f=%d exceeds the "
			    "limits (width <= %d, |i| <= %d)", li, j, k, i,
			    q->f[j], HGQ_MAX_WIDTH, HGQ_MAX_IF);
		q->k[j] = (int8_t)k;
		q->i[j] = (int8_t)i;
		q->cal_min[j] = ldexp((double)mn[j], -q->f[j]);
		q->cal_max[j] = ldexp((double)mx[j], -q->f[j]);
	}
	return HGQ_OK;
}

/*
 * cal_prepare - check the parts calibration needs and give every
 * quantizer a provisional zero-width format so that the model validates.
 * *max_n gets the widest layer, *max_hidden the widest quantizer after
 * the first (the activations kept between layers).
 */
static int
cal_prepare(struct hgq_model *m, uint32_t *max_n, uint32_t *max_hidden,
    struct hgq_err *err)
{
	*max_n = *max_hidden = 0;
	for (uint32_t l = 0; l < m->n_layers; l++) {
		struct hgq_layer *L = &m->layers[l];

		if (L->kind == HGQ_LAYER_QUANT && (L->k == NULL ||
		    L->i == NULL || L->f == NULL))
			return hgq_errf(err, HGQ_EINVAL, "layer %u: quantizer "
			    "without a fixed-point part", l);
		if (L->kind == HGQ_LAYER_DENSE && (L->w_m == NULL ||
		    L->b_m == NULL))
			return hgq_errf(err, HGQ_EINVAL, "layer %u: dense "
			    "layer without quantized weights", l);
		if (L->kind == HGQ_LAYER_QUANT) {
			for (uint32_t j = 0; j < L->n_out; j++) {
				L->k[j] = 0;
				L->i[j] = (int8_t)-L->f[j];
			}
			if (L->cal_min == NULL)
				L->cal_min = hgq_calloc(L->n_out,
				    sizeof(double));
			if (L->cal_max == NULL)
				L->cal_max = hgq_calloc(L->n_out,
				    sizeof(double));
			if (L->cal_min == NULL || L->cal_max == NULL)
				return hgq_errf(err, HGQ_ENOMEM,
				    "out of memory");
			if (l > 0 && L->n_out > *max_hidden)
				*max_hidden = L->n_out;
		}
		if (L->n_out > *max_n)
			*max_n = L->n_out;
		if (L->n_in > *max_n)
			*max_n = L->n_in;
	}
	return HGQ_OK;
}

int
hgq_calibrate(struct hgq_model *m, const double *x, size_t n, int threads,
    struct hgq_err *err)
{
	struct hgq_qop *in_q = NULL, *ops = NULL;
	double *sc2f = NULL;
	int64_t *cur = NULL, *next = NULL, *mn = NULL, *mx = NULL;
	int64_t *mem = NULL;
	struct hgq_ival *xin = NULL;
	struct cal_job proto, badjob, *bad = &badjob;
	uint32_t max_n, max_hidden, n0;
	size_t per_thread;
	int nt, rc;

	m->calibrated = 0;
	if ((rc = cal_prepare(m, &max_n, &max_hidden, err)) != HGQ_OK)
		return rc;
	m->calibrated = 1;
	if ((rc = hgq_model_validate(m, err)) != HGQ_OK)
		goto out;
	n0 = m->layers[0].n_out;
	nt = hgq_n_threads(threads, MAX_THREADS);
	if ((size_t)nt > n / 64 + 1)
		nt = (int)(n / 64 + 1);
	/* per thread: ranges (2 x max_n) and scratch (3 x max_n + 64):
	   acc (n_out), tmp32 (n_out + 8 int32) and the first-layer inputs
	   from 2 x max_n + 32 on */
	per_thread = 5 * (size_t)max_n + 64;
	if ((mem = hgq_calloc((size_t)nt * per_thread, sizeof(int64_t)))
	    == NULL || (mn = hgq_calloc(max_n, sizeof(int64_t))) == NULL ||
	    (mx = hgq_calloc(max_n, sizeof(int64_t))) == NULL ||
	    (in_q = hgq_calloc(n0, sizeof(*in_q))) == NULL ||
	    (sc2f = hgq_calloc(n0, sizeof(double))) == NULL ||
	    (ops = hgq_calloc(max_n, sizeof(*ops))) == NULL ||
	    (xin = hgq_calloc(max_n, sizeof(*xin))) == NULL ||
	    (cur = hgq_calloc(n * max_hidden, sizeof(int64_t))) == NULL ||
	    (next = hgq_calloc(n * max_hidden, sizeof(int64_t))) == NULL) {
		rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		goto out;
	}

	/* the input quantizer */
	for (uint32_t j = 0; j < n0; j++) {
		uint32_t c = m->index_map[j];

		sc2f[j] = ldexp(m->norm_scale != NULL ? m->norm_scale[c] : 1.0,
		    m->layers[0].f[j]);
	}
	memset(&proto, 0, sizeof(proto));
	proto.in_sc2f = sc2f;
	proto.row_off = 2 * (size_t)max_n + 32;
	proto.m = m;
	proto.x = x;
	rc = cal_run(&proto, n, nt, n0, mn, mx, mem, per_thread, &bad);
	if (rc != HGQ_OK) {
		rc = hgq_errf(err, HGQ_ERANGE, "layer 0 element %u: input "
		    "value %g is out of range at f=%d", badjob.bad_j,
		    badjob.bad_x, m->layers[0].f[badjob.bad_j]);
		goto out;
	}
	if ((rc = calib_set(&m->layers[0], 0, mn, mx, err)) != HGQ_OK)
		goto out;
	for (uint32_t j = 0; j < n0; j++) {
		const struct hgq_layer *q0 = &m->layers[0];

		hgq_qop_init(&in_q[j], q0->f[j], q0->k[j], q0->i[j], q0->f[j],
		    q0->round, q0->overflow);
	}

	/* every dense layer, then its output quantizer */
	for (uint32_t l = 1; l + 1 < m->n_layers; l += 2) {
		struct hgq_layer *qin = &m->layers[l - 1];
		struct hgq_layer *dl = &m->layers[l];
		struct hgq_layer *qo = &m->layers[l + 1];
		struct dense_prep d;
		uint32_t no = dl->n_out;
		int64_t *swap;

		fmt_ivals(qin, xin);
		if ((rc = dense_prepare(&d, xin, dl, qo, 1, NULL, l, err)) !=
		    HGQ_OK)
			goto out;
		for (uint32_t j = 0; j < no; j++)
			hgq_qop_init(&ops[j], d.F[j], 1, 61 - qo->f[j],
			    qo->f[j], qo->round, HGQ_SAT);
		proto.d = &d;
		proto.ops = ops;
		proto.in_q = in_q;
		proto.cur = l == 1 ? NULL : cur;
		proto.next = next;
		rc = cal_run(&proto, n, nt, no, mn, mx, mem, per_thread, &bad);
		dense_release(&d);
		if (rc == HGQ_OK)
			rc = calib_set(qo, l + 1, mn, mx, err);
		if (rc != HGQ_OK)
			goto out;
		/* the calibrated format holds every rounded value, so the
		   quantizer is the identity except on zero-width elements */
		for (uint32_t j = 0; j < no; j++) {
			if (qo->k[j] + qo->i[j] + qo->f[j] > 0)
				continue;
			for (size_t s = 0; s < n; s++)
				next[s * no + j] = 0;
		}
		swap = cur;
		cur = next;
		next = swap;
	}
out:
	if (rc != HGQ_OK)
		m->calibrated = 0;
	free(mem);
	free(mn);
	free(mx);
	free(in_q);
	free(sc2f);
	free(ops);
	free(xin);
	free(cur);
	free(next);
	return rc;
}

/* ---------------------------------------------------------------- */
/* The packed port layout                                            */
/* ---------------------------------------------------------------- */

uint64_t
hgq_packed_width(const struct hgq_layer *q)
{
	uint64_t w = 0;

	for (uint32_t j = 0; j < q->n_out; j++)
		w += hgq_fmt_width(q->k[j], q->i[j], q->f[j]);
	return w;
}

void
hgq_pack_hex(const struct hgq_layer *q, const int64_t *mant, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t width = hgq_packed_width(q), pos = 0;
	size_t nd = (size_t)((width + 3) / 4);

	memset(buf, '0', nd);
	buf[nd] = '\0';
	for (uint32_t j = 0; j < q->n_out; j++) {
		int w = hgq_fmt_width(q->k[j], q->i[j], q->f[j]);
		uint64_t u = (uint64_t)mant[j];

		for (int b = 0; b < w; b++, pos++) {
			if ((u >> b) & 1) {
				size_t d = nd - 1 - (size_t)(pos / 4);
				int v = (buf[d] <= '9' ? buf[d] - '0' :
				    buf[d] - 'a' + 10) | 1 << (pos % 4);

				buf[d] = hex[v];
			}
		}
	}
}
