/*
 * check_ir.c - the IR of a model, interpreted in C, equals the bit-exact
 * engine (hgq-sim) on every input: random models with widths 0 and 1,
 * negative i, k 0/1, every rounding and overflow mode, ReLU or not, mixed
 * weight precisions, both styles (adder graphs and behavioral), and every
 * IR value stays inside its interval.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "fixture.h"
#include "unit.h"

static void
random_quant(struct hgq_layer *q, int max_w)
{
	q->round = (uint8_t)fx_rnd_int(0, 1);
	q->overflow = (uint8_t)fx_rnd_int(0, 2);
	for (uint32_t j = 0; j < q->n_out; j++) {
		int k = fx_rnd_int(0, 1), f = fx_rnd_int(-3, 6), w;

		switch (fx_rnd_int(0, 5)) {
		case 0:
			w = 0;
			break;
		case 1:
			w = 1;
			break;
		default:
			w = fx_rnd_int(0, max_w);
		}
		if (w == 0 && fx_rnd_int(0, 1))
			w = -fx_rnd_int(0, 2);		/* below zero: pruned too */
		if (w < k)
			k = w > 0 ? k : 0;
		q->k[j] = (int8_t)k;
		q->f[j] = (int8_t)f;
		q->i[j] = (int8_t)(w - k - f);
	}
}

/*
 * A random calibrated model: quantizer, dense, quantizer, ... with
 * n_dense dense layers of random sizes up to max_n.
 */
static struct hgq_model *
random_model(int n_dense, int max_n, int max_w)
{
	struct hgq_err err = HGQ_ERR_INIT;
	uint32_t n[HGQ_MAX_LAYERS / 2 + 1];
	struct hgq_model *m;
	struct hgq_layer *l;

	for (int d = 0; d <= n_dense; d++)
		n[d] = (uint32_t)fx_rnd_int(1, max_n);
	m = fx_chain(n, n_dense);
	random_quant(&m->layers[0], max_w);
	for (int d = 0; d < n_dense; d++) {
		int wbits = fx_rnd_int(1, 8);

		l = &m->layers[2 * d + 1];
		l->act = (uint8_t)fx_rnd_int(0, 1);
		for (size_t j = 0; j < (size_t)n[d] * n[d + 1]; j++) {
			if (fx_rnd_int(0, 3) == 0)
				continue;
			l->w_m[j] = fx_rnd_int(-(1 << (wbits - 1)),
			    (1 << (wbits - 1)) - 1);
			l->w_f[j] = (int8_t)fx_rnd_int(-2, 7);
		}
		for (uint32_t j = 0; j < n[d + 1]; j++) {
			if (fx_rnd_int(0, 2) == 0)
				continue;
			l->b_m[j] = fx_rnd_int(-200, 200);
			l->b_f[j] = (int8_t)fx_rnd_int(-2, 9);
		}
		random_quant(&m->layers[2 * d + 2], max_w);
	}
	ck_assert_msg(hgq_model_validate(m, &err) == HGQ_OK, "%s", err.msg);
	return m;
}

/* raw inputs that hit the formats' ranges and beyond */
static void
random_inputs(const struct hgq_model *m, double *x, size_t n)
{
	const struct hgq_layer *q = &m->layers[0];

	for (size_t s = 0; s < n; s++)
		for (uint32_t j = 0; j < q->n_in; j++) {
			int e = q->k[j] + q->i[j] + q->f[j] > 0 ?
			    q->i[j] : 0;
			double u = (double)(fx_rnd() % 2000001) / 1e6 - 1.0;

			x[s * q->n_in + j] = ldexp(u * 1.3, e);
		}
}

/* interpret ir on n samples and compare with the engine */
static void
check_model(const struct hgq_model *m, const struct hgq_ir *ir,
    const struct hgq_engine *e, const double *x, size_t n)
{
	uint32_t n0 = m->layers[0].n_out, no = ir->n_out;
	const struct hgq_layer *ql = &m->layers[m->n_layers - 1];
	int64_t *q = calloc(n * n0 + 1, sizeof(*q));
	int64_t *ref = calloc(n * no + 1, sizeof(*ref));
	int64_t *buf = calloc(ir->n_ops + 1, sizeof(*buf));
	int64_t *got = calloc(no + 1, sizeof(*got));

	ck_assert_uint_eq(ir->n_in, n0);
	ck_assert_uint_eq(no, hgq_engine_n_out(e));
	for (uint32_t j = 0; j < no; j++)
		if (hgq_fmt_width(ql->k[j], ql->i[j], ql->f[j]) > 0)
			ck_assert_int_eq(hgq_engine_out_f(e, j), ql->f[j]);
	hgq_engine_quant_input(e, x, n, q);
	ck_assert_int_eq(hgq_engine_run(e, x, n, ref, NULL, 1), HGQ_OK);
	for (size_t s = 0; s < n; s++) {
		hgq_ir_eval(ir, &q[s * n0], buf, got);
		for (uint32_t j = 0; j < ir->n_ops; j++)
			ck_assert_msg(buf[j] >= ir->ops[j].v.lo &&
			    buf[j] <= ir->ops[j].v.hi, "op %u (kind %d) = %lld "
			    "outside [%lld, %lld]", j, ir->ops[j].kind,
			    (long long)buf[j], (long long)ir->ops[j].v.lo,
			    (long long)ir->ops[j].v.hi);
		for (uint32_t j = 0; j < no; j++)
			ck_assert_msg(got[j] == ref[s * no + j], "sample %zu "
			    "output %u: IR %lld, engine %lld", s, j,
			    (long long)got[j], (long long)ref[s * no + j]);
	}
	/* the ports: outputs at their formats, inputs as given */
	for (uint32_t j = 0; j < no; j++) {
		int32_t op = ir->out_op[j];

		ck_assert_int_eq(ir->out_w[j], hgq_fmt_width(ql->k[j],
		    ql->i[j], ql->f[j]));
		if (op < 0)
			continue;
		ck_assert_int_eq(ir->ops[op].v.e, -ql->f[j]);
		ck_assert_int_le(hgq_ival_width(ir->ops[op].v.lo,
		    ir->ops[op].v.hi, NULL), ir->out_w[j]);
	}
	free(q);
	free(ref);
	free(buf);
	free(got);
}

START_TEST(test_random_models)
{
	fx_rng_state = 0x9e3779b97f4a7c15ull ^ (uint64_t)(_i + 1) * 1000003u;
	for (int round = 0; round < 30; round++) {
		struct hgq_err err = HGQ_ERR_INIT;
		struct hgq_model *m = random_model(fx_rnd_int(1, 3), 8, fx_rnd_int(1, 10));
		struct hgq_engine *e = NULL;
		struct hgq_ir *ir = NULL, *irb = NULL;
		struct hgq_cmvm_params par;
		size_t n = 300;
		double *x = calloc(n * m->layers[0].n_in, sizeof(*x));

		hgq_cmvm_params_init(&par);
		par.max_extra_depth = fx_rnd_int(-1, 2);
		par.method = fx_rnd_int(0, 2);
		ck_assert_msg(hgq_engine_new(&e, m, &err) == HGQ_OK, "%s",
		    err.msg);
		ck_assert_msg(hgq_ir_build(&ir, m, &par, 0, &err) == HGQ_OK,
		    "%s", err.msg);
		ck_assert_msg(hgq_ir_build(&irb, m, NULL, 1, &err) == HGQ_OK,
		    "%s", err.msg);
		random_inputs(m, x, n);
		check_model(m, ir, e, x, n);
		check_model(m, irb, e, x, n);
		hgq_ir_free(ir);
		hgq_ir_free(irb);
		hgq_engine_free(e);
		hgq_model_free(m);
		free(x);
	}
}
END_TEST

/* wide layers, so that CSE has something to share */
START_TEST(test_wider_models)
{
	fx_rng_state = 77;
	for (int round = 0; round < 4; round++) {
		struct hgq_err err = HGQ_ERR_INIT;
		struct hgq_model *m = random_model(2, 24, 8);
		struct hgq_engine *e = NULL;
		struct hgq_ir *ir = NULL;
		size_t n = 200;
		double *x = calloc(n * m->layers[0].n_in, sizeof(*x));

		ck_assert_int_eq(hgq_engine_new(&e, m, &err), HGQ_OK);
		ck_assert_msg(hgq_ir_build(&ir, m, NULL, 0, &err) == HGQ_OK,
		    "%s", err.msg);
		random_inputs(m, x, n);
		check_model(m, ir, e, x, n);
		hgq_ir_free(ir);
		hgq_engine_free(e);
		hgq_model_free(m);
		free(x);
	}
}
END_TEST

/* y = relu(3x - 1.25) with x s3.2 and an output u4.1, RND, SAT */
START_TEST(test_small_by_hand)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	struct hgq_layer *q0, *d, *q1;
	struct hgq_ir *ir = NULL;
	int64_t buf[64], out[1];

	q0 = hgq_model_add_layer(m, HGQ_LAYER_QUANT, 1, 1);
	ck_assert_int_eq(hgq_layer_alloc_fixed(q0, &err), HGQ_OK);
	q0->k[0] = 1;
	q0->i[0] = 3;
	q0->f[0] = 2;
	d = hgq_model_add_layer(m, HGQ_LAYER_DENSE, 1, 1);
	ck_assert_int_eq(hgq_layer_alloc_fixed(d, &err), HGQ_OK);
	d->act = HGQ_ACT_RELU;
	d->w_m[0] = 3;
	d->b_m[0] = -5;
	d->b_f[0] = 2;
	q1 = hgq_model_add_layer(m, HGQ_LAYER_QUANT, 1, 1);
	ck_assert_int_eq(hgq_layer_alloc_fixed(q1, &err), HGQ_OK);
	q1->k[0] = 0;
	q1->i[0] = 3;
	q1->f[0] = 1;
	q1->round = HGQ_RND;
	q1->overflow = HGQ_SAT;
	ck_assert_int_eq(hgq_model_set_input(m, 1, &err), HGQ_OK);
	m->calibrated = 1;
	ck_assert_int_eq(hgq_ir_build(&ir, m, NULL, 0, &err), HGQ_OK);
	for (int64_t x = -32; x < 32; x++) {
		double y = 3.0 * ldexp((double)x, -2) - 1.25;
		int64_t want;

		y = y < 0 ? 0 : y;
		want = (int64_t)floor(y * 2 + 0.5);
		want = want > 15 ? 15 : want;
		hgq_ir_eval(ir, &x, buf, out);
		ck_assert_int_eq(out[0], want);
	}
	/* one adder for 3x, one constant add, a ReLU, a clip */
	ck_assert_uint_eq(ir->n_adders, 2);
	hgq_ir_free(ir);
	hgq_model_free(m);
}
END_TEST

START_TEST(test_refuses)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m;
	struct hgq_ir *ir = NULL;

	fx_rng_state = 5;
	m = random_model(1, 4, 6);
	m->calibrated = 0;
	ck_assert_int_eq(hgq_ir_build(&ir, m, NULL, 0, &err), HGQ_EINVAL);
	ck_assert_ptr_null(ir);
	ck_assert(strstr(err.msg, "calibrated") != NULL);
	hgq_model_free(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Shaped models: convolutions, pooling, flatten                       */
/* ------------------------------------------------------------------ */

/*
 * Shaped models are checked three ways: the IR, the engine and an
 * independent reference written here from formats/hgqm.md.
 *
 * A random chain on a small [H, W, C] or [W, C] input: convolutions
 * (valid or same, strides), max and average pooling (areas 1, 2, 4),
 * flatten, dense; random quantizers, or with identity after max-pooling
 * and flatten the identity: the union of the formats reaching each
 * element, as the trainer makes it.
 */
static void
union_quant(const struct hgq_model *m, uint32_t j)
{
	struct hgq_layer *q = &m->layers[j];
	const struct hgq_layer *op = &m->layers[j - 1];
	const struct hgq_layer *p = &m->layers[j - 2];
	struct hgq_window w;
	uint32_t idx[64];

	q->overflow = (uint8_t)fx_rnd_int(0, 1);	/* WRAP, SAT: not SAT_SYM */
	for (uint32_t e = 0; e < q->n_out; e++) {
		int k = 0, i = -100, f = -100;
		uint32_t t0 = e, n = 1, step = 1;

		if (op->kind == HGQ_LAYER_MAXPOOL) {
			ck_assert_int_eq(hgq_layer_window(m, j - 1, &w, NULL),
			    HGQ_OK);
			ck_assert_uint_le(w.n_taps, 64);
			hgq_window_taps(&w, e / w.in_c, idx);
			t0 = e % w.in_c;
			n = w.n_taps;
			step = w.in_c;
		}
		for (uint32_t t = t0; t < n; t += step) {
			uint32_t x = op->kind == HGQ_LAYER_MAXPOOL ? idx[t] : e;

			if (hgq_fmt_width(p->k[x], p->i[x], p->f[x]) == 0)
				continue;
			k = p->k[x] > k ? p->k[x] : k;
			i = p->i[x] > i ? p->i[x] : i;
			f = p->f[x] > f ? p->f[x] : f;
		}
		if (i == -100)
			i = f = 0;
		q->k[e] = (int8_t)k;
		q->i[e] = (int8_t)i;
		q->f[e] = (int8_t)f;
	}
}

static void
fill_weights(struct hgq_model *m, uint32_t j)
{
	struct hgq_layer *l = &m->layers[j];
	uint64_t nw = hgq_layer_n_weights(m, j);
	uint32_t nb = hgq_layer_n_bias(m, j);
	int wbits = fx_rnd_int(1, 6);

	l->act = (uint8_t)fx_rnd_int(0, 1);
	for (uint64_t e = 0; e < nw; e++) {
		if (fx_rnd_int(0, 3) == 0)
			continue;
		l->w_m[e] = fx_rnd_int(-(1 << (wbits - 1)), (1 << (wbits - 1)) - 1);
		l->w_f[e] = (int8_t)fx_rnd_int(-2, 6);
	}
	for (uint32_t e = 0; e < nb; e++) {
		if (fx_rnd_int(0, 2) == 0)
			continue;
		l->b_m[e] = fx_rnd_int(-100, 100);
		l->b_f[e] = (int8_t)fx_rnd_int(-2, 8);
	}
}

static struct hgq_model *
random_shaped(int max_w, int identity)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	uint32_t d[3], rank = (uint32_t)fx_rnd_int(2, 3), n_ops = (uint32_t)fx_rnd_int(1, 4);

	ck_assert_ptr_nonnull(m);
	d[0] = (uint32_t)fx_rnd_int(2, 6);
	d[1] = (uint32_t)fx_rnd_int(2, 6);
	d[2] = (uint32_t)fx_rnd_int(1, 3);
	if (rank == 2) {
		d[0] = (uint32_t)fx_rnd_int(3, 9);
		d[1] = (uint32_t)fx_rnd_int(1, 3);
		d[2] = 0;
	}
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT, rank, d,
	    &err));
	for (uint32_t o = 0; o < n_ops; o++) {
		uint32_t od[3], H = rank == 3 ? d[0] : 1;
		uint32_t W = rank >= 2 ? d[rank - 2] : 1;
		uint32_t kind, kh, kw, sh, sw, oh, ow;
		int same = 0, c = fx_rnd_int(0, 5);
		struct hgq_layer *l;

		memcpy(od, d, sizeof(od));
		if (rank == 1 || c == 5) {
			if (rank > 1) {
				kind = HGQ_LAYER_FLATTEN;
				od[0] = m->layers[m->n_layers - 1].n_out;
			} else {
				kind = HGQ_LAYER_DENSE;
				od[0] = (uint32_t)fx_rnd_int(1, 6);
			}
			od[1] = od[2] = 0;
			l = hgq_model_add_shaped(m, kind, 1, od, &err);
			ck_assert_ptr_nonnull(l);
			rank = 1;
		} else {
			kind = c <= 2 ? (rank == 3 ? HGQ_LAYER_CONV2D :
			    HGQ_LAYER_CONV1D) : c == 3 ? HGQ_LAYER_MAXPOOL :
			    HGQ_LAYER_AVGPOOL;
			if (c <= 2) {
				kh = rank == 3 ? (uint32_t)fx_rnd_int(1, H < 3 ? H : 3) :
				    1;
				kw = (uint32_t)fx_rnd_int(1, W < 3 ? W : 3);
				sh = rank == 3 ? (uint32_t)fx_rnd_int(1, 2) : 1;
				sw = (uint32_t)fx_rnd_int(1, 2);
				same = fx_rnd_int(0, 1);
			} else {
				kh = rank == 3 && H >= 2 ? (uint32_t)fx_rnd_int(1, 2) : 1;
				kw = W >= 2 ? (uint32_t)fx_rnd_int(1, 2) : 1;
				sh = rank == 3 ? (uint32_t)fx_rnd_int(1, 2) : 1;
				sw = (uint32_t)fx_rnd_int(1, 2);
			}
			oh = same ? (H + sh - 1) / sh : (H - kh) / sh + 1;
			ow = same ? (W + sw - 1) / sw : (W - kw) / sw + 1;
			if (rank == 3)
				od[0] = oh;
			od[rank - 2] = ow;
			if (c <= 2)
				od[rank - 1] = (uint32_t)fx_rnd_int(1, 3);
			l = hgq_model_add_shaped(m, kind, rank, od, &err);
			ck_assert_ptr_nonnull(l);
			l->kernel[0] = kh;
			l->kernel[1] = kw;
			l->stride[0] = sh;
			l->stride[1] = sw;
			l->padding = (uint8_t)same;
		}
		ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT,
		    rank, od, &err));
		memcpy(d, od, sizeof(d));
	}
	ck_assert_int_eq(hgq_model_set_input(m, m->layers[0].n_in, &err),
	    HGQ_OK);
	ck_assert_msg(hgq_model_validate_graph(m, &err) == HGQ_OK, "%s",
	    err.msg);
	for (uint32_t j = 0; j < m->n_layers; j++) {
		struct hgq_layer *l = &m->layers[j];

		ck_assert_int_eq(hgq_model_alloc_fixed(m, j, &err), HGQ_OK);
		if (l->kind == HGQ_LAYER_QUANT) {
			random_quant(l, max_w);
			if (j > 0 && identity &&
			    (m->layers[j - 1].kind == HGQ_LAYER_MAXPOOL ||
			    m->layers[j - 1].kind == HGQ_LAYER_FLATTEN))
				union_quant(m, j);
		} else if (hgq_layer_n_bias(m, j) > 0) {
			fill_weights(m, j);
		}
	}
	m->calibrated = 1;
	ck_assert_msg(hgq_model_validate(m, &err) == HGQ_OK, "%s", err.msg);
	return m;
}

/* an exact sum: S * 2^E */
struct xsum {
	__int128	 S;
	int32_t		 E;
};

static void
xs_add(struct xsum *x, __int128 m, int32_t e)
{
	if (m == 0)
		return;
	if (x->S == 0) {
		x->S = m;
		x->E = e;
		return;
	}
	/* multiplications, not shifts: S and m may be negative */
	if (e < x->E) {
		x->S *= (__int128)1 << (x->E - e);
		x->E = e;
	}
	x->S += m * ((__int128)1 << (e - x->E));
}

/*
 * The reference: every layer straight from formats/hgqm.md 4.3.2, in
 * exact integers, each quantizer through hgq_quant_mant.  in: the first
 * quantizer's mantissas; out: the last's.
 */
static void
ref_eval(const struct hgq_model *m, const int64_t *in, int64_t *out)
{
	uint32_t max_n = 0;
	int64_t *cur, *nxt;
	struct xsum *y;

	for (uint32_t j = 0; j < m->n_layers; j++)
		if (m->layers[j].n_out > max_n)
			max_n = m->layers[j].n_out;
	cur = calloc(max_n, sizeof(*cur));
	nxt = calloc(max_n, sizeof(*nxt));
	y = calloc(max_n, sizeof(*y));
	memcpy(cur, in, m->layers[0].n_out * sizeof(*cur));
	for (uint32_t l = 1; l + 1 < m->n_layers; l += 2) {
		const struct hgq_layer *d = &m->layers[l];
		const struct hgq_layer *p = &m->layers[l - 1];
		const struct hgq_layer *q = &m->layers[l + 1];
		struct hgq_window w;
		uint32_t idx[512];
		int relu = 0;

		memset(y, 0, max_n * sizeof(*y));
		switch (d->kind) {
		case HGQ_LAYER_DENSE:
			relu = d->act;
			for (uint32_t j = 0; j < d->n_out; j++) {
				for (uint32_t i = 0; i < d->n_in; i++) {
					size_t at = (size_t)i * d->n_out + j;

					xs_add(&y[j], (__int128)cur[i] *
					    d->w_m[at], -p->f[i] - d->w_f[at]);
				}
				xs_add(&y[j], d->b_m[j], -d->b_f[j]);
			}
			break;
		case HGQ_LAYER_CONV1D:
		case HGQ_LAYER_CONV2D:
			relu = d->act;
			ck_assert_int_eq(hgq_layer_window(m, l, &w, NULL),
			    HGQ_OK);
			ck_assert_uint_le(w.n_taps, 512);
			for (uint32_t pp = 0; pp < w.n_pos; pp++) {
				hgq_window_taps(&w, pp, idx);
				for (uint32_t co = 0; co < w.out_c; co++) {
					struct xsum *s = &y[pp * w.out_c + co];

					for (uint32_t t = 0; t < w.n_taps; t++) {
						size_t at = (size_t)t * w.out_c +
						    co;

						if (idx[t] == HGQ_TAP_PAD)
							continue;
						xs_add(s, (__int128)cur[idx[t]] *
						    d->w_m[at], -p->f[idx[t]] -
						    d->w_f[at]);
					}
					xs_add(s, d->b_m[co], -d->b_f[co]);
				}
			}
			break;
		case HGQ_LAYER_MAXPOOL:
		case HGQ_LAYER_AVGPOOL:
			ck_assert_int_eq(hgq_layer_window(m, l, &w, NULL),
			    HGQ_OK);
			for (uint32_t pp = 0; pp < w.n_pos; pp++) {
				hgq_window_taps(&w, pp, idx);
				for (uint32_t c = 0; c < w.in_c; c++) {
					struct xsum *s = &y[pp * w.in_c + c];
					int first = 1;

					for (uint32_t t = c; t < w.n_taps;
					    t += w.in_c) {
						struct xsum v = { 0, 0 }, a;
						__int128 x1, x2;
						int32_t e;

						xs_add(&v, cur[idx[t]],
						    -p->f[idx[t]]);
						if (d->kind ==
						    HGQ_LAYER_AVGPOOL) {
							xs_add(s, v.S, v.E);
							continue;
						}
						if (first) {
							*s = v;
							first = 0;
							continue;
						}
						/* max at the finer exponent */
						a = *s;
						e = a.E < v.E ? a.E : v.E;
						if (a.S == 0)
							e = v.E;
						if (v.S == 0)
							e = a.E;
						x1 = a.S * ((__int128)1 <<
						    (a.E - e < 0 ? 0 : a.E - e));
						x2 = v.S * ((__int128)1 <<
						    (v.E - e < 0 ? 0 : v.E - e));
						if (a.S == 0)
							x1 = 0;
						if (v.S == 0)
							x2 = 0;
						s->S = x1 > x2 ? x1 : x2;
						s->E = e;
					}
					if (d->kind == HGQ_LAYER_AVGPOOL)
						s->E -= (int32_t)(w.k_h == 1 ?
						    0 : 1) + (int32_t)(w.k_w ==
						    1 ? 0 : 1);
				}
			}
			break;
		default:
			for (uint32_t j = 0; j < d->n_out; j++)
				xs_add(&y[j], cur[j], -p->f[j]);
		}
		for (uint32_t j = 0; j < d->n_out; j++) {
			__int128 S = y[j].S;

			if (relu && S < 0)
				S = 0;
			ck_assert(S < ((__int128)1 << 61) &&
			    S > -((__int128)1 << 61));
			nxt[j] = hgq_quant_mant((int64_t)S, -y[j].E, q->k[j],
			    q->i[j], q->f[j], q->round, q->overflow);
		}
		memcpy(cur, nxt, d->n_out * sizeof(*cur));
	}
	memcpy(out, cur, m->layers[m->n_layers - 1].n_out * sizeof(*out));
	free(cur);
	free(nxt);
	free(y);
}

/* random mantissas of the first quantizer: its whole range, ends often */
static void
random_mants(const struct hgq_layer *q, int64_t *x)
{
	for (uint32_t j = 0; j < q->n_out; j++) {
		int64_t lo, hi;

		hgq_fmt_range(q->k[j], q->i[j], q->f[j], q->overflow, &lo, &hi);
		switch (fx_rnd_int(0, 3)) {
		case 0:
			x[j] = lo;
			break;
		case 1:
			x[j] = hi;
			break;
		default:
			x[j] = lo + (int64_t)(fx_rnd() % (uint64_t)(hi - lo + 1));
		}
	}
}

static void
check_shaped(const struct hgq_model *m, const struct hgq_ir *ir, size_t n)
{
	uint32_t n0 = m->layers[0].n_out, no = ir->n_out;
	int64_t *x = calloc(n0, sizeof(*x)), *want = calloc(no, sizeof(*x));
	int64_t *got = calloc(no, sizeof(*x)), *eng = calloc(no, sizeof(*x));
	int64_t *buf = calloc(ir->n_ops + 1, sizeof(*buf));
	double *raw = calloc(n0, sizeof(*raw));
	struct hgq_engine *e = NULL;
	struct hgq_err err = HGQ_ERR_INIT;

	ck_assert_msg(hgq_engine_new(&e, m, &err) == HGQ_OK, "%s", err.msg);
	for (size_t s = 0; s < n; s++) {
		random_mants(&m->layers[0], x);
		ref_eval(m, x, want);
		hgq_ir_eval(ir, x, buf, got);
		/* the engine from the raw values (identity index map) */
		for (uint32_t j = 0; j < n0; j++)
			raw[j] = ldexp((double)x[j], -m->layers[0].f[j]);
		ck_assert_int_eq(hgq_engine_run(e, raw, 1, eng, NULL, 1),
		    HGQ_OK);
		for (uint32_t j = 0; j < no; j++)
			ck_assert_msg(eng[j] == want[j], "sample %zu output "
			    "%u: engine %lld, reference %lld", s, j,
			    (long long)eng[j], (long long)want[j]);
		for (uint32_t j = 0; j < ir->n_ops; j++)
			ck_assert_msg(buf[j] >= ir->ops[j].v.lo &&
			    buf[j] <= ir->ops[j].v.hi, "op %u (kind %d) = %lld "
			    "outside [%lld, %lld]", j, ir->ops[j].kind,
			    (long long)buf[j], (long long)ir->ops[j].v.lo,
			    (long long)ir->ops[j].v.hi);
		for (uint32_t j = 0; j < no; j++)
			ck_assert_msg(got[j] == want[j], "sample %zu output "
			    "%u: IR %lld, reference %lld", s, j,
			    (long long)got[j], (long long)want[j]);
	}
	hgq_engine_free(e);
	free(x);
	free(want);
	free(got);
	free(eng);
	free(raw);
	free(buf);
}

/* no logic behind an identity quantizer after flatten or max-pooling */
static void
check_identity_free(const struct hgq_model *m, const struct hgq_ir *ir)
{
	for (uint32_t l = 1; l + 1 < m->n_layers; l += 2) {
		const struct hgq_layer *d = &m->layers[l];
		int flat = d->kind == HGQ_LAYER_FLATTEN;

		if (!flat && d->kind != HGQ_LAYER_MAXPOOL)
			continue;
		for (uint32_t j = 0; j < ir->n_ops; j++) {
			const struct hgq_ir_op *op = &ir->ops[j];

			if (op->layer != (int32_t)(l / 2))
				continue;
			ck_assert_msg(op->kind == HGQ_IR_MAX ||
			    op->kind == HGQ_IR_CONST ||
			    (op->kind == HGQ_IR_QUANT &&
			    hgq_ir_op_cost(ir, j) == 0), "layer %u: op %u of "
			    "kind %d", l, j, op->kind);
			ck_assert(!flat || op->kind != HGQ_IR_MAX);
		}
	}
}

START_TEST(test_shaped_models)
{
	fx_rng_state = 0x5eed0000ull + (uint64_t)_i * 7919u;
	for (int round = 0; round < 25; round++) {
		struct hgq_err err = HGQ_ERR_INIT;
		int identity = fx_rnd_int(0, 1);
		struct hgq_model *m = random_shaped(fx_rnd_int(1, 8), identity);
		struct hgq_cmvm_params par;
		struct hgq_ir *ir = NULL;

		for (int v = 0; v < 4; v++) {
			hgq_cmvm_params_init(&par);
			par.conv_share = v < 3 ? v : HGQ_SHARE_TAPS;
			par.max_extra_depth = fx_rnd_int(-1, 2);
			ck_assert_msg(hgq_ir_build(&ir, m, &par, v == 3,
			    &err) == HGQ_OK, "%s", err.msg);
			check_shaped(m, ir, 60);
			if (identity)
				check_identity_free(m, ir);
			hgq_ir_free(ir);
		}
		hgq_model_free(m);
	}
}
END_TEST

/*
 * Sharing: with every input of one format, the positions of a valid
 * convolution all have the same taps and widths: one solve, the same
 * adders as a solve per position.
 */
START_TEST(test_conv_sharing)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	uint32_t d[3] = { 6, 6, 2 }, o[3] = { 4, 4, 3 };
	struct hgq_layer *l;
	struct hgq_ir *ir[3];
	struct hgq_cmvm_params par;

	fx_rng_state = 99;
	hgq_model_add_shaped(m, HGQ_LAYER_QUANT, 3, d, &err);
	l = hgq_model_add_shaped(m, HGQ_LAYER_CONV2D, 3, o, &err);
	l->kernel[0] = l->kernel[1] = 3;
	l->stride[0] = l->stride[1] = 1;
	hgq_model_add_shaped(m, HGQ_LAYER_QUANT, 3, o, &err);
	ck_assert_int_eq(hgq_model_set_input(m, 72, &err), HGQ_OK);
	for (uint32_t j = 0; j < 3; j++)
		ck_assert_int_eq(hgq_model_alloc_fixed(m, j, &err), HGQ_OK);
	for (uint32_t j = 0; j < 72; j++) {
		m->layers[0].k[j] = 1;
		m->layers[0].i[j] = 2;
		m->layers[0].f[j] = 2;
	}
	fill_weights(m, 1);
	for (uint32_t j = 0; j < 48; j++) {
		m->layers[2].k[j] = 1;
		m->layers[2].i[j] = 6;
		m->layers[2].f[j] = 3;
	}
	m->calibrated = 1;
	ck_assert_msg(hgq_model_validate(m, &err) == HGQ_OK, "%s", err.msg);
	for (int v = 0; v < 3; v++) {
		hgq_cmvm_params_init(&par);
		par.conv_share = v;
		ck_assert_int_eq(hgq_ir_build(&ir[v], m, &par, 0, &err),
		    HGQ_OK);
		check_shaped(m, ir[v], 50);
	}
	ck_assert_uint_eq(ir[0]->layers[0].n_solves, 16);
	ck_assert_uint_eq(ir[1]->layers[0].n_solves, 1);
	ck_assert_uint_eq(ir[2]->layers[0].n_solves, 1);
	ck_assert_uint_gt(ir[0]->n_adders, 16);
	ck_assert_uint_eq(ir[0]->n_adders, ir[1]->n_adders);
	ck_assert_uint_eq(ir[0]->n_adders, ir[2]->n_adders);
	ck_assert_uint_eq(ir[0]->lut, ir[2]->lut);
	for (int v = 0; v < 3; v++)
		hgq_ir_free(ir[v]);
	hgq_model_free(m);
}
END_TEST

Suite *
ir_suite(void)
{
	Suite *s = suite_create("ir");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_random_models, 0, 4);
	tcase_add_test(tc, test_wider_models);
	tcase_add_test(tc, test_small_by_hand);
	tcase_add_test(tc, test_refuses);
	tcase_add_loop_test(tc, test_shaped_models, 0, 4);
	tcase_add_test(tc, test_conv_sharing);
	suite_add_tcase(s, tc);
	return s;
}
