/*
 * check_simconv.c - the integer engine and calibration on convolutional
 * models (conv1d/conv2d, max/avg pooling, flatten, dense) against an
 * independent reference: a plain double re-implementation of
 * formats/hgqm.md 4.3.2 (its own window and padding arithmetic, its own
 * quantizer), exact at the sizes used here.  Random shapes, strides,
 * padding, per-element formats (zero width, negative i and f), every
 * rounding and overflow mode; inputs inside and far outside the
 * calibrated ranges; 0 mismatches, compared with ==.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "fixture.h"
#include "unit.h"

/* ------------------------------------------------------------------ */
/* The reference                                                       */
/* ------------------------------------------------------------------ */

/* the quantizer of hgq.h, in doubles (|x * 2^f| < 2^53 here) */
static double
ref_quant(double x, int k, int i, int f, int round, int overflow)
{
	int w = k + i + f;
	double v = ldexp(x, f), r, lo, hi, p;

	if (w <= 0)
		return 0;
	r = round == HGQ_RND ? floor(v + 0.5) : floor(v);
	p = ldexp(1.0, i + f);
	hi = p - 1;
	lo = k ? (overflow == HGQ_SAT_SYM ? -(p - 1) : -p) : 0;
	if (overflow == HGQ_WRAP) {
		double m = ldexp(1.0, w);

		r -= floor(r / m) * m;		/* 0 <= r < 2^w */
		if (k && r >= m / 2)
			r -= m;
	} else {
		r = r < lo ? lo : r > hi ? hi : r;
	}
	return ldexp(r, -f);
}

/* the shape of layer l as [H, W, C] (a flat [n] as [1, 1, n]) */
static void
ref_dims(const struct hgq_layer *l, uint32_t *h, uint32_t *w, uint32_t *c)
{
	if (l->rank == 3) {
		*h = l->shape[0], *w = l->shape[1], *c = l->shape[2];
	} else if (l->rank == 2) {
		*h = 1, *w = l->shape[0], *c = l->shape[1];
	} else {
		*h = 1, *w = 1, *c = l->n_out;
	}
}

/* TensorFlow's padding before, for "same" */
static long
ref_pad(long in, long k, long s, int same)
{
	long out = (in + s - 1) / s, tot = (out - 1) * s + k - in;

	return same && tot > 0 ? tot / 2 : 0;
}

/*
 * the model on one raw row: y gets the output values; with rnd_only
 * every quantizer but the first only rounds (no overflow), and vals, when
 * not NULL, gets quantizer l's values at vals + l*stride
 */
static void
reference(const struct hgq_model *m, const double *x, double *y,
    int rnd_only, double *vals, size_t vstride)
{
	static double a[4096], t[4096];
	const struct hgq_layer *q = &m->layers[0];

	for (uint32_t j = 0; j < q->n_out; j++) {
		uint32_t c = m->index_map[j];
		double xn = (x[c] - (m->norm_offset ? m->norm_offset[c] : 0))
		    * (m->norm_scale ? m->norm_scale[c] : 1);

		a[j] = ref_quant(xn, q->k[j], q->i[j], q->f[j], q->round,
		    q->overflow);
	}
	if (vals != NULL)
		memcpy(vals, a, q->n_out * sizeof(double));
	for (uint32_t l = 1; l < m->n_layers; l += 2) {
		const struct hgq_layer *L = &m->layers[l];
		const struct hgq_layer *P = &m->layers[l - 1];
		uint32_t H, W, C, OH, OW, OC;

		ref_dims(P, &H, &W, &C);
		ref_dims(L, &OH, &OW, &OC);
		q = &m->layers[l + 1];
		if (L->kind == HGQ_LAYER_DENSE) {
			for (uint32_t j = 0; j < L->n_out; j++) {
				double s = ldexp(L->b_m[j], -L->b_f[j]);

				for (uint32_t i = 0; i < L->n_in; i++)
					s += a[i] * ldexp(L->w_m[i * L->n_out +
					    j], -L->w_f[i * L->n_out + j]);
				t[j] = L->act == HGQ_ACT_RELU && s < 0 ? 0 : s;
			}
		} else if (L->kind == HGQ_LAYER_CONV1D ||
		    L->kind == HGQ_LAYER_CONV2D) {
			long KH = L->kernel[0], KW = L->kernel[1];
			long pt = ref_pad(H, KH, L->stride[0], L->padding);
			long pl = ref_pad(W, KW, L->stride[1], L->padding);

			for (long oh = 0; oh < OH; oh++)
			for (long ow = 0; ow < OW; ow++)
			for (long co = 0; co < OC; co++) {
				double s = ldexp(L->b_m[co], -L->b_f[co]);

				for (long kh = 0; kh < KH; kh++)
				for (long kw = 0; kw < KW; kw++)
				for (long c = 0; c < C; c++) {
					long ih = oh * L->stride[0] + kh - pt;
					long iw = ow * L->stride[1] + kw - pl;
					long wi = ((kh * KW + kw) * C + c) * OC +
					    co;

					if (ih < 0 || iw < 0 || ih >= H ||
					    iw >= W)
						continue;
					s += a[(ih * W + iw) * C + c] *
					    ldexp(L->w_m[wi], -L->w_f[wi]);
				}
				t[(oh * OW + ow) * OC + co] = L->act ==
				    HGQ_ACT_RELU && s < 0 ? 0 : s;
			}
		} else if (L->kind == HGQ_LAYER_MAXPOOL ||
		    L->kind == HGQ_LAYER_AVGPOOL) {
			long PH = L->kernel[0], PW = L->kernel[1];

			for (long oh = 0; oh < OH; oh++)
			for (long ow = 0; ow < OW; ow++)
			for (long c = 0; c < C; c++) {
				double s = 0, mx = -INFINITY;

				for (long kh = 0; kh < PH; kh++)
				for (long kw = 0; kw < PW; kw++) {
					double v = a[((oh * L->stride[0] + kh) *
					    W + ow * L->stride[1] + kw) * C + c];

					s += v;
					mx = v > mx ? v : mx;
				}
				t[(oh * OW + ow) * C + c] = L->kind ==
				    HGQ_LAYER_MAXPOOL ? mx : s / (PH * PW);
			}
		} else {
			memcpy(t, a, L->n_in * sizeof(double));
		}
		for (uint32_t j = 0; j < q->n_out; j++)
			a[j] = rnd_only ? ref_quant(t[j], 1, 52 - q->f[j],
			    q->f[j], q->round, HGQ_SAT) : ref_quant(t[j],
			    q->k[j], q->i[j], q->f[j], q->round, q->overflow);
		if (vals != NULL)
			memcpy(vals + (l + 1) * vstride, a, q->n_out *
			    sizeof(double));
	}
	memcpy(y, a, q->n_out * sizeof(double));
}

/* ------------------------------------------------------------------ */
/* Random convolutional models                                         */
/* ------------------------------------------------------------------ */

static void
random_quant(struct hgq_model *m, uint32_t j, int wide)
{
	struct hgq_layer *q = &m->layers[j];

	ck_assert_int_eq(hgq_model_alloc_fixed(m, j, NULL), HGQ_OK);
	q->round = (uint8_t)fx_rnd_int(0, 1);
	q->overflow = (uint8_t)fx_rnd_int(0, 2);
	q->trainable = 1;
	for (uint32_t e = 0; e < q->n_out; e++) {
		q->f[e] = (int8_t)fx_rnd_int(-2, 6);
		q->k[e] = (int8_t)fx_rnd_int(0, 1);
		/* widths -1..8 (wide: up to 16), negative i included */
		q->i[e] = (int8_t)(fx_rnd_int(-1, wide ? 16 : 8) - q->k[e] -
		    q->f[e]);
	}
}

static void
random_weights(struct hgq_model *m, uint32_t j, int wide)
{
	struct hgq_layer *l = &m->layers[j];
	uint64_t nw = hgq_layer_n_weights(m, j);
	uint32_t nb = hgq_layer_n_bias(m, j);

	ck_assert_int_eq(hgq_model_alloc_fixed(m, j, NULL), HGQ_OK);
	l->act = (uint8_t)fx_rnd_int(0, 1);
	for (uint64_t e = 0; e < nw; e++) {
		int b = fx_rnd_int(0, wide ? 18 : 6);

		l->w_m[e] = fx_rnd_int(0, 4) == 0 ? 0 : fx_rnd_int(-(1 << b),
		    1 << b);
		l->w_f[e] = (int8_t)fx_rnd_int(-2, 6);
	}
	for (uint32_t e = 0; e < nb; e++) {
		l->b_m[e] = fx_rnd_int(0, 3) == 0 ? 0 : fx_rnd_int(-40, 40);
		l->b_f[e] = (int8_t)fx_rnd_int(-1, 5);
	}
}

/* add a window layer (conv or pool) reading [H, W, C] of the given rank */
static void
add_window(struct hgq_model *m, uint32_t kind, uint32_t rank, uint32_t *d,
    int wide)
{
	uint32_t H = rank == 3 ? d[0] : 1, W = d[rank - 2], C = d[rank - 1];
	uint32_t kh, kw, sh, sw, od[3], oh, ow, oc = C;
	int conv = kind == HGQ_LAYER_CONV1D || kind == HGQ_LAYER_CONV2D;
	int same = conv && fx_rnd_int(0, 1);
	struct hgq_layer *l;

	if (conv) {
		kh = rank == 3 ? (uint32_t)fx_rnd_int(1, H < 3 ? H : 3) : 1;
		kw = (uint32_t)fx_rnd_int(1, W < 3 ? W : 3);
		oc = (uint32_t)fx_rnd_int(1, 10);
	} else {
		kh = rank == 3 && H >= 2 ? (uint32_t)fx_rnd_int(1, 2) : 1;
		kw = W >= 4 && fx_rnd_int(0, 3) == 0 ? 4 : W >= 2 ?
		    (uint32_t)fx_rnd_int(1, 2) : 1;
	}
	sh = rank == 3 ? (uint32_t)fx_rnd_int(1, 2) : 1;
	sw = (uint32_t)fx_rnd_int(1, 2);
	oh = same ? (H + sh - 1) / sh : (H - kh) / sh + 1;
	ow = same ? (W + sw - 1) / sw : (W - kw) / sw + 1;
	if (rank == 3) {
		od[0] = oh, od[1] = ow, od[2] = oc;
	} else {
		od[0] = ow, od[1] = oc;
	}
	l = hgq_model_add_shaped(m, kind, rank, od, NULL);
	ck_assert_ptr_nonnull(l);
	l->kernel[0] = kh;
	l->kernel[1] = kw;
	l->stride[0] = sh;
	l->stride[1] = sw;
	l->padding = same ? HGQ_PAD_SAME : HGQ_PAD_VALID;
	if (conv)
		random_weights(m, m->n_layers - 1, wide);
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT, rank,
	    od, NULL));
	random_quant(m, m->n_layers - 1, wide);
	m->layers[m->n_layers - 1].trainable = (uint8_t)(kind !=
	    HGQ_LAYER_MAXPOOL || fx_rnd_int(0, 1));
	memcpy(d, od, sizeof(od));
}

/*
 * a random calibrated model: [W, C] or [H, W, C] input, conv, maybe a
 * pooling and a second conv, maybe flatten and dense
 */
static struct hgq_model *
random_conv_model(int wide)
{
	struct hgq_model *m = hgq_model_new();
	uint32_t rank = (uint32_t)fx_rnd_int(2, 3), d[3], conv;
	struct hgq_layer *l;

	ck_assert_ptr_nonnull(m);
	if (rank == 3) {
		d[0] = (uint32_t)fx_rnd_int(1, 7);
		d[1] = (uint32_t)fx_rnd_int(1, 7);
		d[2] = (uint32_t)fx_rnd_int(1, 3);
	} else {
		d[0] = (uint32_t)fx_rnd_int(1, 12);
		d[1] = (uint32_t)fx_rnd_int(1, 3);
		d[2] = 0;
	}
	conv = rank == 3 ? HGQ_LAYER_CONV2D : HGQ_LAYER_CONV1D;
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT, rank, d,
	    NULL));
	random_quant(m, 0, wide);
	add_window(m, conv, rank, d, wide);
	if (fx_rnd_int(0, 2) != 0)
		add_window(m, fx_rnd_int(0, 1) ? HGQ_LAYER_MAXPOOL :
		    HGQ_LAYER_AVGPOOL, rank, d, wide);
	if (fx_rnd_int(0, 2) == 0)
		add_window(m, conv, rank, d, wide);
	if (fx_rnd_int(0, 2) != 0) {
		uint32_t n = m->layers[m->n_layers - 1].n_out, o;

		l = hgq_model_add_shaped(m, HGQ_LAYER_FLATTEN, 1, &n, NULL);
		ck_assert_ptr_nonnull(l);
		ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT,
		    1, &n, NULL));
		random_quant(m, m->n_layers - 1, wide);
		m->layers[m->n_layers - 1].trainable = (uint8_t)fx_rnd_int(0, 1);
		o = (uint32_t)fx_rnd_int(1, 5);
		ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_DENSE,
		    1, &o, NULL));
		random_weights(m, m->n_layers - 1, wide);
		ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT,
		    1, &o, NULL));
		random_quant(m, m->n_layers - 1, wide);
	}
	ck_assert_int_eq(hgq_model_set_input(m, m->layers[0].n_out, NULL),
	    HGQ_OK);
	m->calibrated = 1;
	return m;
}

/* n rows of raw inputs: in range (|x| < 4) or far out (|x| up to 2^20) */
static double *
random_inputs(uint32_t n_raw, size_t n, int far)
{
	double *x = malloc(n * n_raw * sizeof(double));

	ck_assert_ptr_nonnull(x);
	for (size_t a = 0; a < n * n_raw; a++)
		x[a] = (fx_rnd_unit() - 0.4) * ldexp(1.0, far ? fx_rnd_int(-3, 20) :
		    fx_rnd_int(-3, 2));
	return x;
}

/*
 * how many operations compare() ran with each kernel, so that a test can
 * require that its models drive them all
 */
static const char *const conv_kernels[] = {
	"conv16-avx2", "conv16", "conv32", "conv64",
	"dense16-avx2", "dense16", "dense32"
};
static unsigned conv_seen[7];

static void
count_kernels(const struct hgq_engine *e, const struct hgq_model *m)
{
	for (uint32_t op = 0; 2 * op + 1 < m->n_layers; op++)
		for (int k = 0; k < 7; k++)
			if (strcmp(hgq_engine_op_kernel(e, op),
			    conv_kernels[k]) == 0)
				conv_seen[k]++;
}

/*
 * engine == reference on every output of every row, with each kernel
 * variant the machine has (plain C, AVX2, AVX2 with the AVX-512 sums)
 */
static void
compare(const struct hgq_model *m, const double *x, size_t n, int threads,
    const char *what, int rep)
{
	static const int isas[] = { HGQ_ISA_C, HGQ_ISA_AVX2, HGQ_ISA_AVX2 };
	const struct hgq_layer *q0 = &m->layers[0];
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_engine *e;
	uint32_t n_out = hgq_model_n_out(m);
	int64_t *out = malloc(n * n_out * sizeof(int64_t));
	double y[4096], yr[4096];
	uint64_t cnt[HGQ_MAX_LAYERS], want0 = 0, want1 = 0;

	ck_assert_ptr_nonnull(out);
	/* the overflows of the input quantizer and, in a model of one
	   operation, of its output quantizer, by the reference */
	for (size_t s = 0; s < n; s++) {
		for (uint32_t j = 0; j < q0->n_out; j++) {
			uint32_t c = m->index_map[j];
			double xn = (x[s * m->n_raw + c] - (m->norm_offset ?
			    m->norm_offset[c] : 0)) * (m->norm_scale ?
			    m->norm_scale[c] : 1);

			want0 += ref_quant(xn, q0->k[j], q0->i[j], q0->f[j],
			    q0->round, q0->overflow) != ref_quant(xn, 1,
			    52 - q0->f[j], q0->f[j], q0->round, HGQ_SAT);
		}
		if (m->n_layers != 3)
			continue;
		reference(m, x + s * m->n_raw, y, 0, NULL, 0);
		reference(m, x + s * m->n_raw, yr, 1, NULL, 0);
		for (uint32_t j = 0; j < n_out; j++)
			want1 += y[j] != yr[j];
	}
	for (int v = 0; v < 3; v++) {
		struct hgq_ovf_stats st = { m->n_layers / 2 + 1, cnt };
		int paths;

		if (hgq_kernel_isa(isas[v]) != isas[v])
			continue;	/* no AVX2 here */
		/* AVX2 first without AVX-512, where the CPU has it */
		paths = hgq_sim_paths(v == 1 ? HGQ_SIM_TILES : HGQ_SIM_TILES |
		    HGQ_SIM_AVX512);
		ck_assert_msg(hgq_engine_new(&e, m, &err) == HGQ_OK, "%s",
		    err.msg);
		hgq_sim_paths(paths);
		count_kernels(e, m);
		memset(cnt, 0, sizeof(cnt));
		ck_assert_int_eq(hgq_engine_run(e, x, n, out, &st, threads),
		    HGQ_OK);
		ck_assert_msg(cnt[0] == want0, "%s model %d: %llu input "
		    "overflows, reference %llu", what, rep,
		    (unsigned long long)cnt[0], (unsigned long long)want0);
		ck_assert_msg(m->n_layers != 3 || cnt[1] == want1, "%s model "
		    "%d: %llu overflows, reference %llu", what, rep,
		    (unsigned long long)cnt[1], (unsigned long long)want1);
		for (size_t s = 0; s < n; s++) {
			reference(m, x + s * m->n_raw, y, 0, NULL, 0);
			for (uint32_t j = 0; j < n_out; j++) {
				double u = ldexp((double)out[s * n_out + j],
				    -hgq_engine_out_f(e, j));

				if (u != y[j])
					ck_abort_msg("%s model %d row %zu out "
					    "%u (isa %d): engine %.17g "
					    "reference %.17g", what, rep, s, j,
					    isas[v], u, y[j]);
			}
		}
		hgq_engine_free(e);
	}
	hgq_kernel_isa(HGQ_ISA_AUTO);
	free(out);
}

START_TEST(test_conv_engine_matches_reference)
{
	fx_rng_state = 4242;
	memset(conv_seen, 0, sizeof(conv_seen));
	for (int rep = 0; rep < 150; rep++) {
		struct hgq_model *m = random_conv_model(rep % 4 == 3);
		size_t n = 300;
		double *x;

		if (rep % 5 == 0) {
			m->norm = HGQ_NORM_STANDARD;
			m->norm_offset = calloc(m->n_raw, sizeof(double));
			m->norm_scale = calloc(m->n_raw, sizeof(double));
			for (uint32_t c = 0; c < m->n_raw; c++) {
				m->norm_offset[c] = fx_rnd_int(-8, 8) * 0.25;
				m->norm_scale[c] = fx_rnd_int(1, 8) * 0.5;
			}
		}
		x = random_inputs(m->n_raw, n, rep % 2);
		compare(m, x, n, rep % 3 == 0 ? 2 : 1, "random", rep);
		free(x);
		hgq_model_free(m);
	}
	/* the random models reach every convolution kernel */
	ck_assert_uint_ge(conv_seen[1], 100);
	ck_assert_uint_ge(conv_seen[2], 30);
	ck_assert_uint_ge(conv_seen[3], 30);
	ck_assert_uint_ge(conv_seen[5], 50);
	ck_assert_uint_ge(conv_seen[6], 25);
	if (hgq_kernel_isa(HGQ_ISA_AVX2) == HGQ_ISA_AVX2) {
		/* compare() runs AVX2 twice: without AVX-512 and with */
		ck_assert_uint_eq(conv_seen[0], 2 * conv_seen[1]);
		ck_assert_uint_eq(conv_seen[4], 2 * conv_seen[5]);
	}
	hgq_kernel_isa(HGQ_ISA_AUTO);
}
END_TEST

/*
 * A conv2d model at the edges of the 16-bit products: input [H, W, C]
 * with k=1 and i+f = in_bits-1 per element (f in 0..fspread, so that the
 * inputs are aligned by up to fspread bits), kernel kh x kw, stride s,
 * oc filters, weight mantissas drawn from [-2^(wbits-1), 2^(wbits-1))
 * at w_f = wbits - 1 with both ends and an odd one present, the input's
 * and the output's overflow modes ovf.
 */
static struct hgq_model *
edge_model(uint32_t H, uint32_t W, uint32_t C, uint32_t kh, uint32_t kw,
    uint32_t s, int same, uint32_t oc, int in_bits, int fspread, int wbits,
    int ovf)
{
	struct hgq_model *m = hgq_model_new();
	uint32_t d[3] = { H, W, C }, od[3];
	struct hgq_layer *l, *q;
	uint64_t nw;

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT, 3, d,
	    NULL));
	ck_assert_int_eq(hgq_model_alloc_fixed(m, 0, NULL), HGQ_OK);
	q = &m->layers[0];
	q->round = HGQ_RND;
	q->overflow = (uint8_t)ovf;
	for (uint32_t e = 0; e < q->n_out; e++) {
		q->k[e] = 1;
		q->f[e] = (int8_t)fx_rnd_int(0, fspread);
		q->i[e] = (int8_t)(in_bits - 1 - q->f[e]);
	}
	od[0] = same ? (H + s - 1) / s : (H - kh) / s + 1;
	od[1] = same ? (W + s - 1) / s : (W - kw) / s + 1;
	od[2] = oc;
	l = hgq_model_add_shaped(m, HGQ_LAYER_CONV2D, 3, od, NULL);
	ck_assert_ptr_nonnull(l);
	l->kernel[0] = kh;
	l->kernel[1] = kw;
	l->stride[0] = l->stride[1] = s;
	l->padding = same ? HGQ_PAD_SAME : HGQ_PAD_VALID;
	ck_assert_int_eq(hgq_model_alloc_fixed(m, 1, NULL), HGQ_OK);
	l = &m->layers[1];
	l->act = (uint8_t)fx_rnd_int(0, 1);
	nw = hgq_layer_n_weights(m, 1);
	for (uint64_t e = 0; e < nw; e++) {
		int32_t top = (int32_t)1 << (wbits - 1);

		l->w_m[e] = e == 0 ? -top : e == 1 ? top - 1 : e == 2 ? 1 :
		    fx_rnd_int(-top, top - 1);
		l->w_f[e] = (int8_t)(wbits - 1);
	}
	for (uint32_t e = 0; e < oc; e++) {
		l->b_m[e] = fx_rnd_int(-1000, 1000);
		l->b_f[e] = (int8_t)fx_rnd_int(0, 4);
	}
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT, 3, od,
	    NULL));
	ck_assert_int_eq(hgq_model_alloc_fixed(m, 2, NULL), HGQ_OK);
	q = &m->layers[2];
	q->round = (uint8_t)fx_rnd_int(0, 1);
	q->overflow = (uint8_t)ovf;
	for (uint32_t e = 0; e < q->n_out; e++) {
		q->k[e] = 1;
		q->f[e] = (int8_t)fx_rnd_int(0, 12);
		q->i[e] = (int8_t)(fx_rnd_int(4, 24) - q->f[e]);
	}
	ck_assert_int_eq(hgq_model_set_input(m, m->layers[0].n_out, NULL),
	    HGQ_OK);
	m->calibrated = 1;
	return m;
}

/* rows at the ends of the input formats, far beyond them, and inside */
static double *
edge_inputs(const struct hgq_model *m, size_t n)
{
	const struct hgq_layer *q = &m->layers[0];
	double *x = malloc(n * m->n_raw * sizeof(double));

	ck_assert_ptr_nonnull(x);
	for (size_t r = 0; r < n; r++)
		for (uint32_t j = 0; j < m->n_raw; j++) {
			double top = ldexp(1.0, q->i[j]);
			int pick = r < 4 ? (int)r : fx_rnd_int(0, 5);

			x[r * m->n_raw + j] = pick == 0 ? -top : pick == 1 ?
			    top - ldexp(1.0, -q->f[j]) : pick == 2 ? -1e9 :
			    pick == 3 ? 1e9 : (fx_rnd_unit() * 2 - 1) * top;
		}
	return x;
}

/*
 * the 16-bit products at their edges: inputs and aligned weights that
 * reach -2^15 and 2^15 - 1 (SAT and WRAP, aligned inputs, odd rows of
 * taps, "same" padding, strides, filter counts around the blocks of 8
 * and 16), and the first cases that no longer fit 16 bits, which must
 * go the 32-bit way; all equal to the reference
 */
START_TEST(test_conv16_edges)
{
	static const struct {
		uint32_t H, W, C, kh, kw, s, oc;
		int same, in_bits, fspread, wbits;
		const char *kernel;
	} cases[] = {
		/* 16-bit inputs, a 1x2 window: one pair, -2^15 * -2^15 */
		{ 5, 9, 1, 1, 2, 1, 3, 0, 16, 0, 16, "conv16" },
		{ 6, 7, 1, 1, 2, 1, 17, 1, 16, 0, 16, "conv16" },
		/* 8-bit inputs aligned by up to 3 bits (11 bits), 3x3 */
		{ 9, 9, 3, 3, 3, 1, 8, 0, 8, 3, 16, "conv16" },
		{ 8, 11, 1, 3, 3, 2, 24, 1, 8, 3, 16, "conv16" },
		{ 7, 7, 2, 2, 3, 1, 16, 1, 9, 0, 16, "conv16" },
		/* one bit more: inputs or weights beyond int16 */
		{ 5, 9, 1, 1, 2, 1, 3, 0, 17, 0, 12, "conv32" },
		{ 6, 6, 2, 2, 2, 1, 9, 0, 8, 0, 17, "conv32" },
		{ 6, 6, 1, 3, 3, 1, 5, 1, 12, 5, 8, "conv32" },
		/* and past int32: the 64-bit sums */
		{ 5, 9, 1, 1, 2, 1, 3, 0, 17, 0, 17, "conv64" },
	};

	fx_rng_state = 1616;
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		for (int ovf = HGQ_WRAP; ovf <= HGQ_SAT; ovf++) {
			struct hgq_err err = HGQ_ERR_INIT;
			struct hgq_engine *e;
			struct hgq_model *m = edge_model(cases[c].H,
			    cases[c].W, cases[c].C, cases[c].kh, cases[c].kw,
			    cases[c].s, cases[c].same, cases[c].oc,
			    cases[c].in_bits, cases[c].fspread,
			    cases[c].wbits, ovf);
			double *x = edge_inputs(m, 200);

			hgq_kernel_isa(HGQ_ISA_C);
			ck_assert_msg(hgq_engine_new(&e, m, &err) == HGQ_OK,
			    "%s", err.msg);
			ck_assert_msg(strcmp(hgq_engine_op_kernel(e, 0),
			    cases[c].kernel) == 0, "case %u: %s", c,
			    hgq_engine_op_kernel(e, 0));
			hgq_engine_free(e);
			hgq_kernel_isa(HGQ_ISA_AUTO);
			compare(m, x, 200, 1 + (int)(c % 2), "edge", (int)c);
			free(x);
			hgq_model_free(m);
		}
}
END_TEST

/* the union format of the quantizer after flatten/max-pool layer l */
static void
expect_union(const struct hgq_model *m, uint32_t l, uint32_t j, int *k,
    int *i, int *f)
{
	const struct hgq_layer *L = &m->layers[l], *P = &m->layers[l - 1];
	uint32_t H, W, C, OH, OW, OC, taps[64], nt = 0;

	if (L->kind == HGQ_LAYER_FLATTEN) {
		taps[nt++] = j;
	} else {
		ref_dims(P, &H, &W, &C);
		ref_dims(L, &OH, &OW, &OC);
		for (uint32_t kh = 0; kh < L->kernel[0]; kh++)
			for (uint32_t kw = 0; kw < L->kernel[1]; kw++)
				taps[nt++] = (((j / C) / OW * L->stride[0] +
				    kh) * W + (j / C) % OW * L->stride[1] +
				    kw) * C + j % C;
	}
	*k = 0, *i = -1000, *f = -1000;
	for (uint32_t t = 0; t < nt; t++) {
		uint32_t s = taps[t];

		if (P->k[s] + P->i[s] + P->f[s] <= 0)
			continue;
		*k = P->k[s] > *k ? P->k[s] : *k;
		*i = P->i[s] > *i ? P->i[s] : *i;
		*f = P->f[s] > *f ? P->f[s] : *f;
	}
	/* the quantizer's own mode must hold the sources' least values */
	for (uint32_t t = 0; t < nt && *f != -1000; t++) {
		uint32_t s = taps[t];
		double lo = -ldexp(1.0, P->i[s]), qlo;

		if (P->k[s] + P->i[s] + P->f[s] <= 0 || P->k[s] == 0)
			continue;
		if (P->overflow == HGQ_SAT_SYM)
			lo += ldexp(1.0, -P->f[s]);
		qlo = -ldexp(1.0, *i);
		if (m->layers[l + 1].overflow == HGQ_SAT_SYM)
			qlo += ldexp(1.0, -*f);
		if (lo < qlo) {
			(*i)++;
			t = UINT32_MAX;
		}
	}
}

START_TEST(test_conv_calibration)
{
	fx_rng_state = 777;
	for (int rep = 0; rep < 60; rep++) {
		struct hgq_model *m = random_conv_model(0);
		struct hgq_err err = HGQ_ERR_INIT;
		struct hgq_engine *e;
		size_t n = 200, vstride = 4096;
		double *x = random_inputs(m->n_raw, n, 0), y[4096];
		double *v = malloc(m->n_layers * vstride * sizeof(double));
		uint64_t cnt[HGQ_MAX_LAYERS] = { 0 };
		struct hgq_ovf_stats st = { m->n_layers / 2 + 1, cnt };
		int64_t *out = malloc(n * hgq_model_n_out(m) *
		    sizeof(int64_t));

		ck_assert_msg(hgq_calibrate(m, x, n, rep % 2 + 1, &err) ==
		    HGQ_OK, "model %d: %s", rep, err.msg);
		ck_assert(m->calibrated);
		/* union formats after flatten and max-pool */
		for (uint32_t l = 1; l < m->n_layers; l += 2) {
			const struct hgq_layer *q = &m->layers[l + 1];

			if (q->trainable || (m->layers[l].kind !=
			    HGQ_LAYER_FLATTEN && m->layers[l].kind !=
			    HGQ_LAYER_MAXPOOL))
				continue;
			for (uint32_t j = 0; j < q->n_out; j++) {
				int k, i, f;

				expect_union(m, l, j, &k, &i, &f);
				if (f == -1000) {
					ck_assert_int_le(q->k[j] + q->i[j] +
					    q->f[j], 0);
					continue;
				}
				ck_assert_int_eq(q->k[j], k);
				ck_assert_int_eq(q->i[j], i);
				ck_assert_int_eq(q->f[j], f);
			}
		}
		/* on the data every quantizer is the identity: the values
		   with the calibrated formats are those rounded only, and
		   the ranges seen are the calibration ranges */
		for (size_t s = 0; s < n; s++) {
			double *r = malloc(m->n_layers * vstride *
			    sizeof(double));

			reference(m, x + s * m->n_raw, y, 0, v, vstride);
			reference(m, x + s * m->n_raw, y, 1, r, vstride);
			for (uint32_t l = 0; l < m->n_layers; l += 2) {
				const struct hgq_layer *q = &m->layers[l];

				for (uint32_t j = 0; j < q->n_out; j++) {
					double a = v[l * vstride + j];

					ck_assert_msg(a == r[l * vstride + j] ||
					    l == 0, "model %d layer %u (after "
					    "%s) element %u: %g, rounded %g "
					    "(k %d i %d f %d)", rep, l,
					    hgq_layer_kind_name(m->layers[l -
					    (l > 0)].kind), j, a, r[l * vstride
					    + j], q->k[j], q->i[j], q->f[j]);
					ck_assert(a >= q->cal_min[j] &&
					    a <= q->cal_max[j]);
				}
			}
			free(r);
		}
		ck_assert_int_eq(hgq_engine_new(&e, m, &err), HGQ_OK);
		ck_assert_int_eq(hgq_engine_run(e, x, n, out, &st, 2), HGQ_OK);
		for (uint32_t q = 0; q < st.n_quant; q++)
			ck_assert_msg(cnt[q] == 0, "model %d quantizer %u: %llu overflows", rep, q, (unsigned long long)cnt[q]);
		hgq_engine_free(e);
		/* and the calibrated model against the reference, inside
		   and far outside the calibrated ranges */
		compare(m, x, n, 1, "calibrated", rep);
		free(x);
		x = random_inputs(m->n_raw, n, 1);
		compare(m, x, n, 2, "calibrated, far", rep);
		free(x);
		free(v);
		free(out);
		hgq_model_free(m);
	}
}
END_TEST

/* the golden conv models: known outputs, computed by hand from the dumps */
START_TEST(test_conv_golden)
{
	/* formats/examples/conv1d: input [6, 2] all 1.0 ... checked by the
	   reference; here the engine must accept both files */
	static const char *const files[] = {
		"../../formats/examples/conv2d.hgqm",
		"../../formats/examples/conv1d.hgqm",
	};

	fx_rng_state = 99;
	for (int fi = 0; fi < 2; fi++) {
		struct hgq_err err = HGQ_ERR_INIT;
		struct hgq_model *m;
		double *x;

		ck_assert_msg(hgq_model_read_file(files[fi], &m, &err) ==
		    HGQ_OK, "%s", err.msg);
		x = random_inputs(m->n_raw, 500, fi);
		compare(m, x, 500, 1, files[fi], fi);
		free(x);
		hgq_model_free(m);
	}
}
END_TEST

Suite *
simconv_suite(void)
{
	Suite *s = suite_create("simconv");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_conv_engine_matches_reference);
	tcase_add_test(tc, test_conv_calibration);
	tcase_add_test(tc, test_conv_golden);
	tcase_add_test(tc, test_conv16_edges);
	suite_add_tcase(s, tc);
	return s;
}
