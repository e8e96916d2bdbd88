/*
 * check_simgraph.c - the integer engine on graphs of format 1.2 against a
 * deliberately simple reference written from the spec (formats/hgqm.md):
 * every value a double (exact at the small widths used here), every
 * layer of a model evaluated in layer order, every quantizer from its
 * definition (round, then saturate or keep the low bits).  A table's
 * function value is hgq_func_f64, the definition of func (libm).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "fixture.h"
#include "unit.h"

/* ---------------------------------------------------------------- */
/* The reference                                                    */
/* ---------------------------------------------------------------- */

/* quantizer element (k, i, f, round, overflow) of the real number x */
static double
ref_quant(double x, int k, int i, int f, int round, int overflow)
{
	int w = k + i + f;
	double v = ldexp(x, f), r, p, lo, hi;

	if (w <= 0)
		return 0.0;
	/* an integer already when |v| >= 2^52 (v + 0.5 would round) */
	r = fabs(v) >= 0x1p52 ? v : floor(round == HGQ_RND ? v + 0.5 : v);
	if (overflow == HGQ_WRAP) {
		p = ldexp(1.0, w);
		r = isinf(r) ? 0.0 : fmod(r, p);
		if (r < 0)
			r += p;
		if (k == 1 && r >= p / 2)
			r -= p;
	} else {
		hi = ldexp(1.0, i + f) - 1;
		lo = k == 0 ? 0.0 : overflow == HGQ_SAT ? -hi - 1 : -hi;
		r = r < lo ? lo : r > hi ? hi : r;
	}
	return ldexp(r, -f) + 0.0;	/* no negative zero */
}

/* the dims of layer l as [H, W, C] (H = 1 for rank 2) */
static void
hwc(const struct hgq_layer *l, uint32_t *h, uint32_t *w, uint32_t *c)
{
	*h = l->rank == 3 ? l->shape[0] : 1;
	*w = l->shape[l->rank - 2];
	*c = l->shape[l->rank - 1];
}

/*
 * tap (kh, kw, c) of output position (oh, ow) of convolution L over a
 * [H, W, C] input with padding pt, pl: its value, 0 outside the input
 */
static double
ref_tap(const struct hgq_layer *L, const double *a, uint32_t H, uint32_t W,
    uint32_t C, int64_t pt, int64_t pl, uint32_t oh, uint32_t ow,
    uint32_t kh, uint32_t kw, uint32_t c)
{
	int64_t r = (int64_t)oh * L->stride[0] + kh - pt;
	int64_t q = (int64_t)ow * L->stride[1] + kw - pl;

	if (r < 0 || q < 0 || r >= H || q >= W)
		return 0.0;
	return a[((size_t)r * W + (size_t)q) * C + c];
}

/* convolution j of m, reading the values a, into v (before the quantizer) */
static void
ref_conv(const struct hgq_model *m, uint32_t j, const double *a, double *v)
{
	const struct hgq_layer *L = &m->layers[j];
	const struct hgq_layer *S = &m->layers[hgq_layer_input(m, j, 0)];
	uint32_t H, W, C, OH, OW, F, KH = L->kernel[0], KW = L->kernel[1];
	int64_t pt = 0, pl = 0;

	hwc(S, &H, &W, &C);
	hwc(L, &OH, &OW, &F);
	if (L->padding == HGQ_PAD_SAME) {
		int64_t th = (int64_t)(OH - 1) * L->stride[0] + KH - H;
		int64_t tw = (int64_t)(OW - 1) * L->stride[1] + KW - W;

		pt = th > 0 ? th / 2 : 0;
		pl = tw > 0 ? tw / 2 : 0;
	}
	for (uint32_t p = 0; p < OH * OW; p++)
		for (uint32_t co = 0; co < F; co++) {
			double s = ldexp(L->b_m[co], -L->b_f[co]);

			for (uint32_t t = 0; t < KH * KW * C; t++)
				s += ref_tap(L, a, H, W, C, pt, pl, p / OW,
				    p % OW, t / (KW * C), t / C % KW, t % C) *
				    ldexp(L->w_m[t * F + co], -L->w_f[t * F +
				    co]);
			v[(size_t)p * F + co] = L->act == HGQ_ACT_RELU &&
			    s < 0 ? 0 : s;
		}
}

/* 1-D max or average pooling j of m (valid windows) into v */
static void
ref_pool(const struct hgq_model *m, uint32_t j, const double *a, double *v)
{
	const struct hgq_layer *L = &m->layers[j];
	uint32_t W = L->shape[0], C = L->shape[1], K = L->kernel[1];

	for (uint32_t ow = 0; ow < W; ow++)
		for (uint32_t c = 0; c < C; c++) {
			double s = 0, mx = -INFINITY;

			for (uint32_t k = 0; k < K; k++) {
				size_t at = (size_t)ow * L->stride[1] + k;
				double t = a[at * C + c];

				s += t;
				mx = t > mx ? t : mx;
			}
			v[(size_t)ow * C + c] = L->kind == HGQ_LAYER_MAXPOOL ?
			    mx : s / K;
		}
}

/* concatenate j of m into v: row-major over the output shape */
static void
ref_concat(const struct hgq_model *m, uint32_t j, double *const *val,
    double *v)
{
	const struct hgq_layer *L = &m->layers[j];
	size_t outer = 1, inner = 1, at = 0;

	for (uint32_t a = 0; a < L->rank; a++) {
		if (a < L->axis)
			outer *= L->shape[a];
		if (a > L->axis)
			inner *= L->shape[a];
	}
	for (size_t o = 0; o < outer; o++)
		for (uint32_t q = 0; q < L->n_inputs; q++) {
			uint32_t s = hgq_layer_input(m, j, q);
			size_t len = m->layers[s].n_out / outer;

			for (size_t t = 0; t < len; t++)
				v[at++] = val[s][o * len + t];
		}
}

/* operation j of m (pooling 1-D only) into v, the real values */
static void
ref_op(const struct hgq_model *m, uint32_t j, double *const *val, double *v)
{
	const struct hgq_layer *L = &m->layers[j];
	const double *a = val[hgq_layer_input(m, j, 0)];

	switch (L->kind) {
	case HGQ_LAYER_DENSE:
		for (uint32_t o = 0; o < L->n_out; o++) {
			double s = ldexp(L->b_m[o], -L->b_f[o]);

			for (uint32_t i = 0; i < L->n_in; i++)
				s += a[i] * ldexp(L->w_m[i * L->n_out + o],
				    -L->w_f[i * L->n_out + o]);
			v[o] = L->act == HGQ_ACT_RELU && s < 0 ? 0 : s;
		}
		break;
	case HGQ_LAYER_CONV1D:
	case HGQ_LAYER_CONV2D:
		ref_conv(m, j, a, v);
		break;
	case HGQ_LAYER_ADD:
	case HGQ_LAYER_SUB:
		for (uint32_t e = 0; e < L->n_out; e++) {
			v[e] = 0;
			for (uint32_t q = 0; q < L->n_inputs; q++)
				v[e] += (L->kind == HGQ_LAYER_SUB && q == 1 ?
				    -1 : 1) * val[hgq_layer_input(m, j, q)][e];
		}
		break;
	case HGQ_LAYER_CONCAT:
		ref_concat(m, j, val, v);
		break;
	case HGQ_LAYER_MAXPOOL:
	case HGQ_LAYER_AVGPOOL:
		ref_pool(m, j, a, v);
		break;
	case HGQ_LAYER_LUT:
		for (uint32_t e = 0; e < L->n_out; e++) {
			double y = hgq_func_f64(L->func, a[e]);

			/* exp of a large input: the largest value */
			v[e] = isfinite(y) ? y : 0x1p1000;
		}
		break;
	default:	/* flatten */
		memcpy(v, a, L->n_out * sizeof(double));
	}
}

/* the model m on one raw row x: out gets the outputs in port order */
static void
ref_eval(const struct hgq_model *m, const double *x, double *out)
{
	double **val = calloc(m->n_layers, sizeof(double *));

	ck_assert_ptr_nonnull(val);
	for (uint32_t j = 0; j < m->n_layers; j++) {
		const struct hgq_layer *L = &m->layers[j];
		uint32_t s = hgq_layer_input(m, j, 0);

		val[j] = calloc(L->n_out, sizeof(double));
		ck_assert_ptr_nonnull(val[j]);
		if (L->kind != HGQ_LAYER_QUANT) {
			ref_op(m, j, val, val[j]);
			continue;
		}
		for (uint32_t e = 0; e < L->n_out; e++) {
			double r;

			if (s & HGQ_REF_INPUT) {
				uint32_t c = m->index_map[e +
				    hgq_model_input_offset(m, s &
				    ~HGQ_REF_INPUT)];
				double o = m->norm_offset ? m->norm_offset[c] :
				    0;

				r = (x[c] - o) * (m->norm_scale ?
				    m->norm_scale[c] : 1);
			} else {
				r = val[s][e];
			}
			val[j][e] = ref_quant(r, L->k[e], L->i[e], L->f[e],
			    L->round, L->overflow);
		}
	}
	for (uint32_t k = 0; k < hgq_model_n_outputs(m); k++) {
		uint32_t q = hgq_model_output_layer(m, k);

		memcpy(out, val[q], m->layers[q].n_out * sizeof(double));
		out += m->layers[q].n_out;
	}
	for (uint32_t j = 0; j < m->n_layers; j++)
		free(val[j]);
	free(val);
}

/* ---------------------------------------------------------------- */
/* Random formats, weights, inputs                                   */
/* ---------------------------------------------------------------- */

/* random_weights gives no dense layer a mask (a chain stays a chain) */
static int no_masks;

static void
random_quant(struct hgq_layer *q)
{
	q->round = (uint8_t)fx_rnd_int(0, 1);
	q->overflow = (uint8_t)fx_rnd_int(0, 2);
	for (uint32_t e = 0; e < q->n_out; e++) {
		q->f[e] = (int8_t)fx_rnd_int(-2, 5);
		q->k[e] = (int8_t)fx_rnd_int(0, 1);
		/* widths 0..8, sometimes below 0 */
		q->i[e] = (int8_t)(fx_rnd_int(-1, 8) - q->k[e] - q->f[e]);
	}
}

/* weights of dense or conv layer j; a dense one may get a mask */
static void
random_weights(struct hgq_model *m, uint32_t j)
{
	struct hgq_layer *l = &m->layers[j];
	uint64_t nw = hgq_layer_n_weights(m, j);
	struct hgq_tensor *t = NULL;
	struct hgq_err err = HGQ_ERR_INIT;

	if (l->kind == HGQ_LAYER_DENSE && !no_masks && fx_rnd_int(0, 2) == 0) {
		t = hgq_layer_add_tensor(l, HGQ_ROLE_MASK, (uint32_t)nw, &err);
		ck_assert_msg(t != NULL, "%s", err.msg);
	}
	l->act = (uint8_t)fx_rnd_int(0, 1);
	for (uint64_t a = 0; a < nw; a++) {
		l->w_m[a] = fx_rnd_int(0, 3) == 0 ? 0 : fx_rnd_int(-60, 60);
		l->w_f[a] = (int8_t)fx_rnd_int(-2, 6);
		if (t != NULL) {
			t->data[a] = (float)fx_rnd_int(0, 1);
			if (t->data[a] == 0.0f)
				l->w_m[a] = 0;
		}
	}
	for (uint64_t c = 0; c < hgq_layer_n_bias(m, j); c++) {
		l->b_m[c] = fx_rnd_int(0, 3) == 0 ? 0 : fx_rnd_int(-40, 40);
		l->b_f[c] = (int8_t)fx_rnd_int(-1, 6);
	}
}

/* formats and weights of every layer of m, at random */
static void
randomize(struct hgq_model *m)
{
	for (uint32_t j = 0; j < m->n_layers; j++) {
		uint32_t kind = m->layers[j].kind;

		if (kind == HGQ_LAYER_QUANT)
			random_quant(&m->layers[j]);
		else if (kind == HGQ_LAYER_DENSE || kind == HGQ_LAYER_CONV1D ||
		    kind == HGQ_LAYER_CONV2D)
			random_weights(m, j);
	}
}

/* n rows: in range (|x| < 4), and with far, a third far out (to 2^20) */
static double *
random_rows(uint32_t n_raw, size_t n, int far)
{
	double *x = malloc(n * n_raw * sizeof(double) + 1);

	ck_assert_ptr_nonnull(x);
	for (size_t a = 0; a < n * n_raw; a++)
		x[a] = (fx_rnd_unit() - 0.4) * ldexp(1.0, far && a % 3 == 0 ?
		    fx_rnd_int(-3, 20) : fx_rnd_int(-3, 2));
	return x;
}

/*
 * compare - run the engine on n rows x and compare every output with the
 * reference: the number of mismatches (0 is the only pass)
 */
static size_t
compare(const struct hgq_model *m, const double *x, size_t n, int threads)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_engine *e;
	uint32_t no = hgq_model_n_out(m);
	int64_t *out = malloc(n * no * sizeof(int64_t) + 1);
	double *val = malloc(n * no * sizeof(double) + 1);
	double *ref = malloc(no * sizeof(double) + 1);
	size_t bad = 0;

	ck_assert(out != NULL && val != NULL && ref != NULL);
	ck_assert_msg(hgq_engine_new(&e, m, &err) == HGQ_OK, "%s", err.msg);
	ck_assert_uint_eq(hgq_engine_n_out(e), no);
	ck_assert_uint_eq(hgq_engine_n_in(e), m->n_raw);
	ck_assert_int_eq(hgq_engine_run(e, x, n, out, NULL, threads), HGQ_OK);
	hgq_engine_out_values(e, out, n, val);
	for (size_t r = 0; r < n; r++) {
		ref_eval(m, x + r * m->n_raw, ref);
		for (uint32_t j = 0; j < no; j++)
			if (val[r * no + j] != ref[j] && bad++ < 5)
				fprintf(stderr, "row %zu output %u: engine "
				    "%.17g, reference %.17g\n", r, j,
				    val[r * no + j], ref[j]);
	}
	hgq_engine_free(e);
	free(out);
	free(val);
	free(ref);
	return bad;
}

/* ---------------------------------------------------------------- */
/* Random graphs                                                     */
/* ---------------------------------------------------------------- */

/* append a layer of kind reading refs with shape dims, arrays allocated */
static uint32_t
add_layer(struct hgq_model *m, uint32_t kind, uint32_t rank,
    const uint32_t *dims, uint32_t n_refs, const uint32_t *refs)
{
	struct hgq_err err = HGQ_ERR_INIT;
	uint32_t j = fx_add(m, kind, rank, dims, n_refs, refs);

	ck_assert_msg(hgq_model_alloc_fixed(m, j, &err) == HGQ_OK, "%s",
	    err.msg);
	return j;
}

/* the quantizers built so far, and how often each is read */
struct pool {
	uint32_t	 n;
	uint32_t	 layer[64];
	uint32_t	 reads[64];
};

/* a quantizer of the pool, preferably one nobody reads yet */
static uint32_t
pick(const struct pool *p)
{
	for (int t = 0; t < 4; t++) {
		uint32_t u = (uint32_t)fx_rnd_int(0, (int)p->n - 1);

		if (p->reads[u] == 0)
			return u;
	}
	return (uint32_t)fx_rnd_int(0, (int)p->n - 1);
}

/* another quantizer of the pool with the shape of u (u itself at worst) */
static uint32_t
pick_same(const struct hgq_model *m, const struct pool *p, uint32_t u)
{
	const struct hgq_layer *a = &m->layers[p->layer[u]];

	for (int t = 0; t < 8; t++) {
		uint32_t v = (uint32_t)fx_rnd_int(0, (int)p->n - 1);
		const struct hgq_layer *b = &m->layers[p->layer[v]];

		if (b->rank == a->rank && memcmp(a->shape, b->shape,
		    sizeof(a->shape)) == 0)
			return v;
	}
	return u;
}

/* the operation of kind on pool entries src (n), then its quantizer */
static void
add_op(struct hgq_model *m, struct pool *p, uint32_t kind, uint32_t rank,
    const uint32_t *dims, uint32_t n, const uint32_t *src)
{
	uint32_t refs[HGQ_MAX_LAYER_INPUTS], op, q;

	for (uint32_t s = 0; s < n; s++) {
		refs[s] = p->layer[src[s]];
		p->reads[src[s]]++;
	}
	op = add_layer(m, kind, rank, dims, n, refs);
	q = add_layer(m, HGQ_LAYER_QUANT, rank, dims, 1, &op);
	p->layer[p->n] = q;
	p->reads[p->n++] = 0;
}

/* one random operation reading the pool */
static void
random_op(struct hgq_model *m, struct pool *p)
{
	uint32_t u = pick(p), src[4] = { u, 0, 0, 0 }, d[3];
	const struct hgq_layer *a = &m->layers[p->layer[u]];
	uint32_t rank = a->rank, kind = (uint32_t)fx_rnd_int(0, 6), n = 1;
	struct hgq_layer *l;

	memcpy(d, a->shape, sizeof(d));
	if (kind == 0 && rank == 1) {		/* dense */
		d[0] = (uint32_t)fx_rnd_int(1, 6);
		add_op(m, p, HGQ_LAYER_DENSE, 1, d, 1, src);
	} else if (kind == 0 && rank == 2) {	/* conv1d */
		uint32_t kw = (uint32_t)fx_rnd_int(1, d[0] < 3 ? d[0] : 3);
		uint32_t sw = (uint32_t)fx_rnd_int(1, 2);
		int same = fx_rnd_int(0, 1);

		d[0] = same ? (d[0] + sw - 1) / sw : (d[0] - kw) / sw + 1;
		d[1] = (uint32_t)fx_rnd_int(1, 3);
		add_op(m, p, HGQ_LAYER_CONV1D, 2, d, 1, src);
		l = &m->layers[m->n_layers - 2];
		l->kernel[0] = 1;
		l->kernel[1] = kw;
		l->stride[0] = 1;
		l->stride[1] = sw;
		l->padding = same ? HGQ_PAD_SAME : HGQ_PAD_VALID;
		ck_assert_int_eq(hgq_model_alloc_fixed(m, m->n_layers - 2,
		    NULL), HGQ_OK);
	} else if (kind <= 2) {			/* add, subtract */
		n = kind == 2 ? 2 : (uint32_t)fx_rnd_int(2, 4);
		for (uint32_t s = 1; s < n; s++)
			src[s] = pick_same(m, p, u);
		add_op(m, p, kind == 2 ? HGQ_LAYER_SUB : HGQ_LAYER_ADD, rank,
		    d, n, src);
	} else if (kind == 3) {			/* concatenate */
		uint32_t ax = rank == 1 ? 0 : (uint32_t)fx_rnd_int(0, 1);

		src[1] = pick_same(m, p, u);
		d[ax] *= 2;
		add_op(m, p, HGQ_LAYER_CONCAT, rank, d, 2, src);
		m->layers[m->n_layers - 2].axis = (uint8_t)ax;
	} else if (kind == 5 && rank == 2) {	/* pooling, 1-D */
		uint32_t kw = d[0] >= 4 && fx_rnd_int(0, 1) ? 4 : d[0] >= 2 ?
		    (uint32_t)fx_rnd_int(1, 2) : 1;
		uint32_t sw = (uint32_t)fx_rnd_int(1, 2);

		d[0] = (d[0] - kw) / sw + 1;
		add_op(m, p, fx_rnd_int(0, 1) ? HGQ_LAYER_MAXPOOL :
		    HGQ_LAYER_AVGPOOL, 2, d, 1, src);
		l = &m->layers[m->n_layers - 2];
		l->kernel[0] = l->stride[0] = 1;
		l->kernel[1] = kw;
		l->stride[1] = sw;
	} else if (kind == 4) {			/* lut */
		add_op(m, p, HGQ_LAYER_LUT, rank, d, 1, src);
		m->layers[m->n_layers - 2].func = (uint8_t)fx_rnd_int(0,
		    HGQ_FUNC_MAX);
	} else {				/* flatten */
		d[0] = a->n_out;
		add_op(m, p, HGQ_LAYER_FLATTEN, 1, d, 1, src);
	}
}

/*
 * random_graph - 1..3 inputs of rank 1 or 2, 2..9 operations, every
 * quantizer nobody reads an output (NULL when that makes more than
 * HGQ_MAX_PORTS), random formats and weights, a permuted index map over
 * more raw columns than the inputs take
 */
static struct hgq_model *
random_graph(void)
{
	struct hgq_model *m = hgq_model_new();
	struct pool p = { 0 };
	struct hgq_err err = HGQ_ERR_INIT;
	uint32_t n_in = (uint32_t)fx_rnd_int(1, 3), n_ops, n_raw;

	ck_assert_ptr_nonnull(m);
	for (uint32_t k = 0; k < n_in; k++) {
		uint32_t rank = (uint32_t)fx_rnd_int(1, 2), d[3] = { 0 };
		uint32_t ref = HGQ_REF_INPUT | k;

		d[0] = (uint32_t)fx_rnd_int(1, 6);
		d[1] = rank == 2 ? (uint32_t)fx_rnd_int(1, 3) : 0;
		p.layer[p.n] = add_layer(m, HGQ_LAYER_QUANT, rank, d, 1, &ref);
		p.reads[p.n++] = 0;
		m->in_ports[k].layer = m->n_layers - 1;
		snprintf(m->in_ports[k].name, sizeof(m->in_ports[k].name),
		    "in%u", k);
	}
	m->n_in_ports = n_in;
	n_ops = (uint32_t)fx_rnd_int(2, 9);
	for (uint32_t o = 0; o < n_ops; o++)
		random_op(m, &p);
	for (uint32_t u = 0; u < p.n; u++) {
		/* the unread ones, and now and then one that is read */
		if (p.reads[u] != 0 && fx_rnd_int(0, 5) != 0)
			continue;
		if (m->n_out_ports == HGQ_MAX_PORTS) {
			hgq_model_free(m);
			return NULL;
		}
		m->out_ports[m->n_out_ports].layer = p.layer[u];
		snprintf(m->out_ports[m->n_out_ports].name,
		    sizeof(m->out_ports[0].name), "out%u", m->n_out_ports);
		m->n_out_ports++;
	}
	m->task = HGQ_TASK_REGRESS;
	n_raw = hgq_model_n_in(m);
	ck_assert_msg(hgq_model_set_input(m, n_raw + 3, &err) == HGQ_OK, "%s",
	    err.msg);
	/* n_raw of the n_raw + 3 columns, in order */
	for (uint32_t c = 0, p0 = 0, skip = 3; p0 < n_raw; c++) {
		if (skip > 0 && fx_rnd_int(0, 1) == 0) {
			skip--;
			continue;
		}
		m->index_map[p0++] = c;
	}
	randomize(m);
	m->calibrated = 1;
	ck_assert_msg(hgq_model_validate(m, &err) == HGQ_OK, "%s", err.msg);
	return m;
}

/* ---------------------------------------------------------------- */
/* Tests                                                             */
/* ---------------------------------------------------------------- */

/* fx_graph with random formats and weights, 1 and 2 threads */
START_TEST(test_fx_graph)
{
	fx_rng_state = 1301;
	for (int t = 0; t < 40; t++) {
		struct hgq_model *m = fx_graph();
		double *x;

		randomize(m);
		/* keep the fixture's mask: its weights are 0 */
		m->layers[14].w_m[0] = m->layers[14].w_m[7] = 0;
		x = random_rows(m->n_raw, 600, 1);
		ck_assert_uint_eq(compare(m, x, 600, 1 + t % 2), 0);
		free(x);
		hgq_model_free(m);
	}
}
END_TEST

/* >= 100 random graphs, in and out of range, 0 mismatches */
START_TEST(test_random_graphs)
{
	int done = 0;

	fx_rng_state = 1302;
	while (done < 150) {
		struct hgq_model *m = random_graph();
		double *x;

		if (m == NULL)
			continue;
		x = random_rows(m->n_raw, 300, 1);
		ck_assert_uint_eq(compare(m, x, 300, 1 + done % 2), 0);
		free(x);
		hgq_model_free(m);
		done++;
	}
}
END_TEST

/*
 * every mantissa of a table's input, and the inputs beyond both ends
 * (the quantizer before the table saturates or wraps them): a table of
 * each function after an input quantizer of every width up to the limit
 */
START_TEST(test_lut_extremes)
{
	fx_rng_state = 1303;
	for (uint32_t func = 0; func <= HGQ_FUNC_MAX; func++)
		for (int w = 0; w <= HGQ_MAX_LUT_BITS; w++) {
			struct hgq_model *m = hgq_model_new();
			uint32_t d = 3, ref = HGQ_REF_INPUT, l;
			size_t n = ((size_t)1 << w) + 8;
			double *x = malloc(3 * n * sizeof(double));
			struct hgq_layer *q;

			ck_assert(m != NULL && x != NULL);
			l = add_layer(m, HGQ_LAYER_QUANT, 1, &d, 1, &ref);
			l = add_layer(m, HGQ_LAYER_LUT, 1, &d, 1, &l);
			m->layers[l].func = (uint8_t)func;
			add_layer(m, HGQ_LAYER_QUANT, 1, &d, 1, &l);
			ck_assert_int_eq(hgq_model_set_input(m, 3, NULL),
			    HGQ_OK);
			randomize(m);
			q = &m->layers[0];
			for (uint32_t e = 0; e < 3; e++) {
				q->k[e] = (int8_t)(w > 0 && e != 1);
				q->f[e] = (int8_t)fx_rnd_int(-2, 6);
				q->i[e] = (int8_t)(w - q->k[e] - q->f[e]);
			}
			q->overflow = (uint8_t)fx_rnd_int(0, 2);
			for (uint32_t e = 0; e < 3 && w % 2 == 1; e++) {
				/* outputs beyond int16: the wide tables */
				m->layers[2].k[e] = 1;
				m->layers[2].i[e] = 8;
				m->layers[2].f[e] = 15;
			}
			for (size_t r = 0; r < n; r++)
				for (uint32_t e = 0; e < 3; e++) {
					int64_t lo = q->k[e] ? -((int64_t)1 <<
					    (w - 1)) : 0;

					/* 4 below the range, every mantissa,
					   4 above */
					x[r * 3 + e] = ldexp((double)(lo - 4 +
					    (int64_t)r), -q->f[e]);
				}
			m->calibrated = 1;
			ck_assert_uint_eq(compare(m, x, n, 1), 0);
			free(x);
			hgq_model_free(m);
		}
}
END_TEST

/* a graph's dense layers run the chains' kernels (16-bit products) */
START_TEST(test_graph_kernels)
{
	static const char *const want[8] = { "dense16", "dense16", "sum",
	    "sum", "lut", "concatenate", "dense16", "none" };
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = fx_graph();
	struct hgq_engine *e;

	for (uint32_t j = 0; j < m->n_layers; j++)
		if (m->layers[j].kind == HGQ_LAYER_QUANT)
			for (uint32_t a = 0; a < m->layers[j].n_out; a++) {
				m->layers[j].k[a] = 1;
				m->layers[j].i[a] = 3;
				m->layers[j].f[a] = 2;
			}
	ck_assert_msg(hgq_engine_new(&e, m, &err) == HGQ_OK, "%s", err.msg);
	for (uint32_t op = 0; op < 8; op++)
		ck_assert_msg(strncmp(hgq_engine_op_kernel(e, op), want[op],
		    strlen(want[op])) == 0, "op %u: %s", op,
		    hgq_engine_op_kernel(e, op));
	hgq_engine_free(e);
	hgq_model_free(m);
}
END_TEST

/*
 * a sum whose inputs' fractions lie too far apart for 62 bits is refused
 * when the engine is made, with the layer and element
 */
START_TEST(test_graph_range)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	struct hgq_engine *e;
	uint32_t d = 1, refs[2] = { HGQ_REF_INPUT, HGQ_REF_INPUT | 1 }, l;

	ck_assert_ptr_nonnull(m);
	add_layer(m, HGQ_LAYER_QUANT, 1, &d, 1, &refs[0]);
	add_layer(m, HGQ_LAYER_QUANT, 1, &d, 1, &refs[1]);
	refs[0] = 0;
	refs[1] = 1;
	l = add_layer(m, HGQ_LAYER_ADD, 1, &d, 2, refs);
	add_layer(m, HGQ_LAYER_QUANT, 1, &d, 1, &l);
	m->n_in_ports = 2;
	m->in_ports[0] = (struct hgq_port){ .name = "a", .layer = 0 };
	m->in_ports[1] = (struct hgq_port){ .name = "b", .layer = 1 };
	ck_assert_int_eq(hgq_model_set_input(m, 2, NULL), HGQ_OK);
	/* 2^-62 steps and values up to 2^61: 123 bits apart */
	m->layers[0].k[0] = m->layers[1].k[0] = m->layers[3].k[0] = 1;
	m->layers[0].f[0] = 62;
	m->layers[0].i[0] = -31;
	m->layers[1].f[0] = -30;
	m->layers[1].i[0] = 61;
	m->layers[3].f[0] = 0;
	m->layers[3].i[0] = 8;
	m->calibrated = 1;
	ck_assert_msg(hgq_model_validate(m, &err) == HGQ_OK, "%s", err.msg);
	ck_assert_int_eq(hgq_engine_new(&e, m, &err), HGQ_ERANGE);
	ck_assert_ptr_null(e);
	ck_assert_str_eq(err.msg, "layer 2 element 0: the exact sum would "
	    "need more than 62 bits (weights or activations too wide)");
	/* a zero-width result needs no sum */
	m->layers[3].i[0] = -1;
	ck_assert_msg(hgq_engine_new(&e, m, &err) == HGQ_OK, "%s", err.msg);
	hgq_engine_free(e);
	hgq_model_free(m);
}
END_TEST

/*
 * training's exact evaluation (hgq_eval_exact) of a graph: the mean
 * squared error over the concatenated outputs, from the reference's
 * outputs in the same order (row by row, output by output)
 */
START_TEST(test_eval_exact_graph)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m;
	double *x, *y, ref[5], sq = 0, metric;
	size_t n = 700;

	fx_rng_state = 1309;
	m = fx_graph();
	randomize(m);
	m->layers[14].w_m[0] = m->layers[14].w_m[7] = 0;
	x = random_rows(m->n_raw, n, 1);
	y = malloc(n * 5 * sizeof(double));
	ck_assert_ptr_nonnull(y);
	for (size_t a = 0; a < n * 5; a++)
		y[a] = fx_rnd_int(-40, 40) / 8.0;
	for (size_t r = 0; r < n; r++) {
		ref_eval(m, x + r * m->n_raw, ref);
		for (uint32_t j = 0; j < 5; j++)
			sq += (ref[j] - y[r * 5 + j]) * (ref[j] - y[r * 5 + j]);
	}
	ck_assert_msg(hgq_eval_exact(m, x, y, n, 2, &metric, &err) == HGQ_OK,
	    "%s", err.msg);
	ck_assert(metric == sq / (double)n / 5);
	free(x);
	free(y);
	hgq_model_free(m);
}
END_TEST

/* the overflow counters: one per quantizer, in layer order */
START_TEST(test_graph_overflows)
{
	struct hgq_model *m;
	struct hgq_engine *e;
	struct hgq_err err = HGQ_ERR_INIT;
	uint64_t count[9] = { 0 };
	struct hgq_ovf_stats st = { 9, count };
	double x[8] = { 100, 0, 0, 0, 0, 0, 0, 0 };
	int64_t out[5];

	fx_rng_state = 1304;
	m = fx_graph();
	for (uint32_t j = 0; j < m->n_layers; j++) {
		if (m->layers[j].kind != HGQ_LAYER_QUANT)
			continue;
		m->layers[j].overflow = HGQ_SAT;
		for (uint32_t a = 0; a < m->layers[j].n_out; a++)
			m->layers[j].i[a] = 2;	/* [0, 4) at f = 0 */
	}
	ck_assert_msg(hgq_engine_new(&e, m, &err) == HGQ_OK, "%s", err.msg);
	ck_assert_uint_eq(hgq_engine_n_quant(e), 9);
	ck_assert_int_eq(hgq_engine_run(e, x, 1, out, &st, 1), HGQ_OK);
	/* 100 saturates to 3 in the first input quantizer only: the
	   weights are 0, every later value is 0 */
	ck_assert_uint_eq(count[0], 1);
	for (int q = 1; q < 9; q++)
		ck_assert_uint_eq(count[q], 0);
	for (int j = 0; j < 5; j++)
		ck_assert_int_eq(out[j], 0);
	hgq_engine_free(e);
	hgq_model_free(m);
}
END_TEST

/* the overflows of every quantizer of m on the n rows x, summed */
static uint64_t
overflows(const struct hgq_model *m, const double *x, size_t n)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_engine *e;
	uint64_t count[64] = { 0 }, sum = 0;
	struct hgq_ovf_stats st = { 64, count };
	int64_t *out = malloc(n * hgq_model_n_out(m) * sizeof(int64_t));

	ck_assert_ptr_nonnull(out);
	ck_assert_msg(hgq_engine_new(&e, m, &err) == HGQ_OK, "%s", err.msg);
	ck_assert_uint_le(hgq_engine_n_quant(e), 64);
	ck_assert_int_eq(hgq_engine_run(e, x, n, out, &st, 2), HGQ_OK);
	for (int q = 0; q < 64; q++)
		sum += count[q];
	hgq_engine_free(e);
	free(out);
	return sum;
}

/*
 * a chain calibrated as a graph (a mask of ones makes it one) gets the
 * formats and ranges that the chain's own calibration gives
 */
START_TEST(test_calibrate_chain_as_graph)
{
	static const uint32_t n[4] = { 6, 9, 5, 3 };
	struct hgq_err err = HGQ_ERR_INIT;

	fx_rng_state = 1305;
	for (int t = 0; t < 20; t++) {
		struct hgq_model *a = fx_chain(n, 3), *b;
		struct hgq_tensor *mask;
		double *x;

		no_masks = 1;
		randomize(a);
		no_masks = 0;
		b = hgq_model_copy(a);
		ck_assert_ptr_nonnull(b);
		mask = hgq_layer_add_tensor(&b->layers[3], HGQ_ROLE_MASK,
		    n[1] * n[2], &err);
		ck_assert_msg(mask != NULL, "%s", err.msg);
		for (uint32_t w = 0; w < n[1] * n[2]; w++)
			mask->data[w] = 1.0f;
		ck_assert(hgq_model_is_chain(a) && !hgq_model_is_chain(b));
		x = random_rows(a->n_raw, 700, 0);
		ck_assert_msg(hgq_calibrate(a, x, 700, 1 + t % 2, &err) ==
		    HGQ_OK, "%s", err.msg);
		ck_assert_msg(hgq_calibrate(b, x, 700, 2 - t % 2, &err) ==
		    HGQ_OK, "%s", err.msg);
		for (uint32_t j = 0; j < a->n_layers; j += 2) {
			size_t nb = a->layers[j].n_out;

			ck_assert_mem_eq(a->layers[j].k, b->layers[j].k, nb);
			ck_assert_mem_eq(a->layers[j].i, b->layers[j].i, nb);
			ck_assert_mem_eq(a->layers[j].cal_min,
			    b->layers[j].cal_min, nb * sizeof(double));
			ck_assert_mem_eq(a->layers[j].cal_max,
			    b->layers[j].cal_max, nb * sizeof(double));
		}
		free(x);
		hgq_model_free(a);
		hgq_model_free(b);
	}
}
END_TEST

/*
 * random graphs calibrated on data: every quantizer then holds every
 * value of that data (no overflow anywhere), and the engine still
 * agrees with the reference
 */
START_TEST(test_calibrate_graphs)
{
	struct hgq_err err = HGQ_ERR_INIT;
	int done = 0, wide = 0;

	fx_rng_state = 1306;
	while (done < 60) {
		struct hgq_model *m = random_graph();
		double *x;
		int rc;

		if (m == NULL)
			continue;
		/* exp grows beyond any format: tables of the others */
		for (uint32_t j = 0; j < m->n_layers; j++)
			if (m->layers[j].kind == HGQ_LAYER_LUT &&
			    m->layers[j].func == HGQ_FUNC_EXP)
				m->layers[j].func = HGQ_FUNC_SIGMOID;
		x = random_rows(m->n_raw, 400, 0);
		rc = hgq_calibrate(m, x, 400, 1 + done % 2, &err);
		if (rc == HGQ_ERANGE && strstr(err.msg, "table") != NULL) {
			wide++;		/* a table's input grew too wide */
		} else {
			ck_assert_msg(rc == HGQ_OK, "%s", err.msg);
			ck_assert_uint_eq(overflows(m, x, 400), 0);
			ck_assert_uint_eq(compare(m, x, 400, 2), 0);
			done++;
		}
		free(x);
		hgq_model_free(m);
	}
	ck_assert_int_lt(wide, 30);
}
END_TEST

/* the output mantissas of m on n rows x (n * hgq_model_n_out, malloc'ed) */
static int64_t *
run(const struct hgq_model *m, const double *x, size_t n)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_engine *e;
	int64_t *out = malloc(n * hgq_model_n_out(m) * sizeof(int64_t) + 1);

	ck_assert_ptr_nonnull(out);
	ck_assert_msg(hgq_engine_new(&e, m, &err) == HGQ_OK, "%s", err.msg);
	ck_assert_int_eq(hgq_engine_run(e, x, n, out, NULL, 1), HGQ_OK);
	hgq_engine_free(e);
	return out;
}

/*
 * pruning keeps the function of random graphs for every input, in and
 * far out of range, and a second pruning changes nothing
 */
START_TEST(test_prune_graphs)
{
	struct hgq_err err = HGQ_ERR_INIT;
	uint32_t removed = 0, cleared = 0;
	int done = 0;

	fx_rng_state = 1307;
	while (done < 150) {
		struct hgq_model *m = random_graph(), *p;
		struct hgq_prune_report r;
		int64_t *a, *b;
		double *x;

		if (m == NULL)
			continue;
		p = hgq_model_copy(m);
		ck_assert_ptr_nonnull(p);
		ck_assert_msg(hgq_prune(p, &r, &err) == HGQ_OK, "%s", err.msg);
		for (uint32_t l = 0; l < r.n_dense; l++) {
			removed += r.layer[l].inputs_removed +
			    r.layer[l].neurons_removed;
			cleared += r.layer[l].outputs_cleared;
		}
		hgq_prune_report_release(&r);
		ck_assert_uint_eq(p->n_raw, m->n_raw);
		ck_assert_uint_eq(hgq_model_n_out(p), hgq_model_n_out(m));
		x = random_rows(m->n_raw, 400, 1);
		a = run(m, x, 400);
		b = run(p, x, 400);
		ck_assert_mem_eq(a, b, 400 * hgq_model_n_out(m) *
		    sizeof(int64_t));
		ck_assert_msg(hgq_prune(p, &r, &err) == HGQ_OK, "%s", err.msg);
		ck_assert_int_eq(r.changed, 0);
		hgq_prune_report_release(&r);
		free(a);
		free(b);
		free(x);
		hgq_model_free(p);
		hgq_model_free(m);
		done++;
	}
	/* the graphs had something to prune */
	ck_assert_uint_gt(removed, 20);
	ck_assert_uint_gt(cleared, 10);
}
END_TEST

/*
 * fx_graph: a zero-width element of input "a" leaves the index map and
 * the dense row it feeds; quantizers read by add, subtract, concatenate
 * and the table keep every element; the mask stays with its weights
 */
START_TEST(test_prune_fx_graph)
{
	static const uint32_t map[7] = { 0, 1, 3, 4, 5, 6, 7 };
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m, *p;
	struct hgq_tensor *t;
	int64_t *a, *b;
	double *x;

	fx_rng_state = 1308;
	m = fx_graph();
	no_masks = 1;
	randomize(m);
	no_masks = 0;
	for (uint32_t j = 0; j < m->n_layers; j++)
		if (m->layers[j].kind == HGQ_LAYER_QUANT)
			for (uint32_t e = 0; e < m->layers[j].n_out; e++) {
				m->layers[j].k[e] = 1;
				m->layers[j].i[e] = 3;
				m->layers[j].f[e] = 2;
			}
	for (uint32_t w = 0; w < 12; w++)	/* every element is read */
		m->layers[2].w_m[w] = m->layers[4].w_m[w] = 5;
	m->layers[0].i[2] = -3;		/* width 0 */
	m->layers[3].i[1] = -3;		/* read by add: stays */
	m->layers[14].w_m[0] = m->layers[14].w_m[7] = 0;
	p = hgq_model_copy(m);
	ck_assert_ptr_nonnull(p);
	ck_assert_msg(hgq_prune(p, NULL, &err) == HGQ_OK, "%s", err.msg);
	ck_assert_uint_eq(p->layers[0].n_out, 3);
	ck_assert_uint_eq(p->layers[2].n_in, 3);
	ck_assert_mem_eq(p->index_map, map, sizeof(map));
	ck_assert_uint_eq(hgq_model_n_in(p), 7);
	ck_assert_uint_eq(hgq_model_input_offset(p, 1), 3);
	for (uint32_t j = 1; j < m->n_layers; j++)
		ck_assert_uint_eq(p->layers[j].n_out, m->layers[j].n_out);
	/* the zero-width element of layer 3 keeps its column, cleared */
	for (uint32_t r = 0; r < 3; r++)
		ck_assert_int_eq(p->layers[2].w_m[r * 3 + 1], 0);
	ck_assert_int_eq(p->layers[2].b_m[1], 0);
	t = hgq_layer_tensor(&p->layers[14], HGQ_ROLE_MASK);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->n, 12);
	ck_assert(t->data[0] == 0.0f && t->data[7] == 0.0f &&
	    t->data[1] == 1.0f);
	ck_assert_str_eq(hgq_meta_get(p, "pruned"),
	    "4-4-3-3-3-3-3-6-2 -> 3-4-3-3-3-3-3-6-2");
	x = random_rows(m->n_raw, 500, 1);
	a = run(m, x, 500);
	b = run(p, x, 500);
	ck_assert_mem_eq(a, b, 500 * 5 * sizeof(int64_t));
	free(a);
	free(b);
	free(x);
	hgq_model_free(p);
	hgq_model_free(m);
}
END_TEST

Suite *
simgraph_suite(void)
{
	Suite *s = suite_create("simgraph");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_fx_graph);
	tcase_add_test(tc, test_random_graphs);
	tcase_add_test(tc, test_lut_extremes);
	tcase_add_test(tc, test_graph_overflows);
	tcase_add_test(tc, test_graph_kernels);
	tcase_add_test(tc, test_graph_range);
	tcase_add_test(tc, test_eval_exact_graph);
	tcase_add_test(tc, test_calibrate_chain_as_graph);
	tcase_add_test(tc, test_calibrate_graphs);
	tcase_add_test(tc, test_prune_graphs);
	tcase_add_test(tc, test_prune_fx_graph);
	suite_add_tcase(s, tc);
	return s;
}
