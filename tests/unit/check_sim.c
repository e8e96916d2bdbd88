/*
 * check_sim.c - the integer engine against an independent reference (the
 * float path of quant.c in double arithmetic, exact for the small widths
 * used here), and calibration.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "fixture.h"
#include "unit.h"

static void
random_quant(struct hgq_layer *q, int calibrated)
{
	q->round = (uint8_t)fx_rnd_int(0, 1);
	q->overflow = (uint8_t)fx_rnd_int(0, 2);
	for (uint32_t j = 0; j < q->n_out; j++) {
		q->f[j] = (int8_t)fx_rnd_int(-2, 5);
		q->k[j] = (int8_t)fx_rnd_int(0, 1);
		/* widths 0..8, sometimes below 0 */
		q->i[j] = (int8_t)(fx_rnd_int(-1, 8) - q->k[j] - q->f[j]);
	}
	(void)calibrated;
}

/* a random calibrated model: shape n[0] -> n[1] -> ... -> n[nl] */
static struct hgq_model *
random_model(const uint32_t *n, int nl)
{
	struct hgq_model *m = fx_chain(n, nl);
	struct hgq_layer *l;

	random_quant(&m->layers[0], 1);
	for (int d = 0; d < nl; d++) {
		l = &m->layers[2 * d + 1];
		l->act = d + 1 < nl ? (uint8_t)fx_rnd_int(0, 1) : HGQ_ACT_LINEAR;
		for (size_t a = 0; a < (size_t)n[d] * n[d + 1]; a++) {
			l->w_m[a] = fx_rnd_int(0, 3) == 0 ? 0 : fx_rnd_int(-60, 60);
			l->w_f[a] = (int8_t)fx_rnd_int(-2, 6);
		}
		for (uint32_t j = 0; j < n[d + 1]; j++) {
			l->b_m[j] = fx_rnd_int(-40, 40);
			l->b_f[j] = (int8_t)fx_rnd_int(-1, 6);
		}
		random_quant(&m->layers[2 * d + 2], 1);
	}
	return m;
}

/* the reference: doubles (exact at these sizes) and the float path */
static void
reference(const struct hgq_model *m, const double *x, double *y)
{
	double a[64], t[64];
	const struct hgq_layer *q = &m->layers[0];

	for (uint32_t j = 0; j < q->n_out; j++) {
		uint32_t c = m->index_map[j];
		double xn = (x[c] - (m->norm_offset ? m->norm_offset[c] : 0))
		    * (m->norm_scale ? m->norm_scale[c] : 1);

		a[j] = hgq_fq_f64(xn, q->k[j], q->i[j], q->f[j], q->round,
		    q->overflow);
	}
	for (uint32_t l = 1; l < m->n_layers; l += 2) {
		const struct hgq_layer *d = &m->layers[l];

		q = &m->layers[l + 1];
		for (uint32_t j = 0; j < d->n_out; j++) {
			double s = ldexp(d->b_m[j], -d->b_f[j]);

			for (uint32_t i = 0; i < d->n_in; i++)
				s += a[i] * ldexp(d->w_m[i * d->n_out + j],
				    -d->w_f[i * d->n_out + j]);
			if (d->act == HGQ_ACT_RELU && s < 0)
				s = 0;
			t[j] = hgq_fq_f64(s, q->k[j], q->i[j], q->f[j],
			    q->round, q->overflow);
		}
		memcpy(a, t, sizeof(double) * d->n_out);
	}
	memcpy(y, a, sizeof(double) * q->n_out);
}

START_TEST(test_engine_matches_reference)
{
	static const uint32_t shapes[][4] = {
		{ 3, 4, 2, 0 }, { 7, 5, 3, 2 }, { 16, 9, 0, 0 },
		{ 1, 1, 0, 0 }, { 12, 16, 8, 4 },
	};
	static const int nls[] = { 2, 3, 1, 1, 3 };

	fx_rng_state = 1234;
	for (int rep = 0; rep < 40; rep++) {
		int si = rep % 5;
		struct hgq_model *m = random_model(shapes[si], nls[si]);
		struct hgq_err err = HGQ_ERR_INIT;
		struct hgq_engine *e;
		uint32_t n_raw = m->n_raw, n_out = hgq_model_n_out(m);
		size_t n = 700;
		double *x = malloc(n * n_raw * sizeof(double));
		int64_t *out = malloc(n * n_out * sizeof(int64_t));
		double y[64];

		if (rep % 3 == 0) {
			/* normalisation is part of the model */
			m->norm = HGQ_NORM_STANDARD;
			m->norm_offset = calloc(n_raw, sizeof(double));
			m->norm_scale = calloc(n_raw, sizeof(double));
			for (uint32_t c = 0; c < n_raw; c++) {
				m->norm_offset[c] = fx_rnd_int(-8, 8) * 0.25;
				m->norm_scale[c] = fx_rnd_int(1, 8) * 0.5;
			}
		}
		for (size_t a = 0; a < n * n_raw; a++)
			x[a] = (fx_rnd_unit() - 0.4) * ldexp(1.0, fx_rnd_int(-3, 5));
		ck_assert_int_eq(hgq_engine_new(&e, m, &err), HGQ_OK);
		ck_assert_int_eq(hgq_engine_run(e, x, n, out, NULL,
		    rep % 2 + 1), HGQ_OK);
		for (size_t s = 0; s < n; s++) {
			reference(m, x + s * n_raw, y);
			for (uint32_t j = 0; j < n_out; j++)
				if (ldexp((double)out[s * n_out + j],
				    -hgq_engine_out_f(e, j)) != y[j])
					ck_abort_msg("model %d sample %zu out "
					    "%u: engine %g reference %g", rep,
					    s, j, ldexp((double)out[s * n_out +
					    j], -hgq_engine_out_f(e, j)), y[j]);
		}
		hgq_engine_free(e);
		hgq_model_free(m);
		free(x);
		free(out);
	}
}
END_TEST

START_TEST(test_engine_threads_agree)
{
	static const uint32_t shape[] = { 16, 32, 8 };
	struct hgq_model *m;
	struct hgq_engine *e;
	size_t n = 5000;
	double *x;
	int64_t *o1, *o2;
	uint64_t c1[3] = { 0 }, c2[3] = { 0 };
	struct hgq_ovf_stats s1 = { 3, c1 }, s2 = { 3, c2 };

	fx_rng_state = 99;
	m = random_model(shape, 2);
	x = malloc(n * 16 * sizeof(double));
	o1 = malloc(n * 8 * sizeof(int64_t));
	o2 = malloc(n * 8 * sizeof(int64_t));
	for (size_t a = 0; a < n * 16; a++)
		x[a] = (fx_rnd_unit() - 0.5) * 40;
	ck_assert_int_eq(hgq_engine_new(&e, m, NULL), HGQ_OK);
	ck_assert_int_eq(hgq_engine_run(e, x, n, o1, &s1, 1), HGQ_OK);
	ck_assert_int_eq(hgq_engine_run(e, x, n, o2, &s2, 2), HGQ_OK);
	ck_assert_mem_eq(o1, o2, n * 8 * sizeof(int64_t));
	ck_assert_mem_eq(c1, c2, sizeof(c1));
	ck_assert(c1[0] > 0);	/* inputs of +-20 overflow narrow formats */
	hgq_engine_free(e);
	hgq_model_free(m);
	free(x);
	free(o1);
	free(o2);
}
END_TEST

/* fx_chain quantizer(n_in) -> dense -> quantizer(n_out); q0, d, q1 are
   its layers */
static struct hgq_model *
one_dense(uint32_t n_in, uint32_t n_out, struct hgq_layer **q0,
    struct hgq_layer **d, struct hgq_layer **q1)
{
	const uint32_t n[2] = { n_in, n_out };
	struct hgq_model *m = fx_chain(n, 1);

	*q0 = &m->layers[0];
	*d = &m->layers[1];
	*q1 = &m->layers[2];
	return m;
}

/* a hand-made case: 8-bit signed inputs, one output, known numbers */
START_TEST(test_engine_hand)
{
	struct hgq_model *m;
	struct hgq_layer *q0, *d, *q1;
	struct hgq_engine *e;
	struct hgq_err err = HGQ_ERR_INIT;
	double x[2] = { 1.3, -0.6 };
	int64_t out, in[2];

	m = one_dense(2, 1, &q0, &d, &q1);
	/* inputs: k=1 i=3 f=4 RND SAT: 1.3 -> 21/16, -0.6 -> -10/16 */
	for (int j = 0; j < 2; j++) {
		q0->k[j] = 1;
		q0->i[j] = 3;
		q0->f[j] = 4;
	}
	q0->round = HGQ_RND;
	q0->overflow = HGQ_SAT;
	/* w = [0.75, -2], b = 0.125 */
	d->w_m[0] = 3;
	d->w_f[0] = 2;
	d->w_m[1] = -1;
	d->w_f[1] = -1;
	d->b_m[0] = 1;
	d->b_f[0] = 3;
	d->act = HGQ_ACT_RELU;
	/* y = 21/16*3/4 + 10/16*2 + 1/8 = 63/64 + 80/64 + 8/64 = 151/64;
	   output k=0 i=1 f=2 TRN WRAP: floor(151/16) = 9 -> 9 & 7 = 1 */
	q1->k[0] = 0;
	q1->i[0] = 1;
	q1->f[0] = 2;
	q1->round = HGQ_TRN;
	q1->overflow = HGQ_WRAP;
	ck_assert_int_eq(hgq_engine_new(&e, m, &err), HGQ_OK);
	hgq_engine_quant_input(e, x, 1, in);
	ck_assert_int_eq(in[0], 21);
	ck_assert_int_eq(in[1], -10);
	ck_assert_int_eq(hgq_engine_run(e, x, 1, &out, NULL, 1), HGQ_OK);
	ck_assert_int_eq(out, 1);
	hgq_engine_free(e);
	/* SAT instead: 9 clips to 7 */
	q1->overflow = HGQ_SAT;
	ck_assert_int_eq(hgq_engine_new(&e, m, &err), HGQ_OK);
	ck_assert_int_eq(hgq_engine_run(e, x, 1, &out, NULL, 1), HGQ_OK);
	ck_assert_int_eq(out, 7);
	hgq_engine_free(e);
	/* never calibrated: refused with a message */
	m->calibrated = 0;
	ck_assert_int_eq(hgq_engine_new(&e, m, &err), HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "the model was never calibrated (it has no "
	    "exact fixed-point part)");
	hgq_model_free(m);
}
END_TEST

/* mantissas to values: exactly ldexp's doubles, per output's f */
START_TEST(test_engine_out_values)
{
	static const int8_t f[4] = { -12, 0, 5, 20 };
	static const int64_t mant[3][4] = {
		{ 1, -1, 3, -7 },
		{ 0, INT64_MAX, INT64_MIN, ((int64_t)1 << 53) + 1 },
		{ -((int64_t)1 << 62), 123456789, -987654321, 5 },
	};
	struct hgq_model *m;
	struct hgq_layer *q0, *d, *q1;
	struct hgq_engine *e;
	struct hgq_err err = HGQ_ERR_INIT;
	double val[3][4];

	m = one_dense(2, 4, &q0, &d, &q1);
	for (int j = 0; j < 4; j++) {
		q1->k[j] = 1;
		q1->i[j] = 2;
		q1->f[j] = f[j];
	}
	ck_assert_int_eq(hgq_engine_new(&e, m, &err), HGQ_OK);
	hgq_engine_out_values(e, &mant[0][0], 3, &val[0][0]);
	for (int r = 0; r < 3; r++)
		for (int j = 0; j < 4; j++)
			ck_assert(val[r][j] == ldexp((double)mant[r][j],
			    -f[j]));
	ck_assert(val[0][0] == 4096.0);
	ck_assert(val[0][3] == -7.0 / 1048576);
	ck_assert(val[1][2] == -0x1p63 / 32);
	hgq_engine_free(e);
	hgq_model_free(m);
}
END_TEST

/* an accumulator beyond 62 bits is refused, not wrapped */
START_TEST(test_engine_range)
{
	struct hgq_model *m;
	struct hgq_layer *q0, *d, *q1;
	struct hgq_engine *e;
	struct hgq_err err = HGQ_ERR_INIT;

	m = one_dense(1, 1, &q0, &d, &q1);
	q0->k[0] = 1;
	q0->i[0] = 31;
	q0->f[0] = -62 + 62;
	d->w_m[0] = 0x7fffffff;
	d->w_f[0] = -40;
	d->b_f[0] = 0;
	q1->k[0] = 1;
	q1->i[0] = 10;
	q1->f[0] = 0;
	ck_assert_int_eq(hgq_engine_new(&e, m, &err), HGQ_ERANGE);
	ck_assert_str_eq(err.msg, "layer 1: the accumulator would need more "
	    "than 62 bits (weights or activations too wide)");
	hgq_model_free(m);
}
END_TEST

/* calibration: minimal formats, no overflow on the calibration data */
START_TEST(test_calibrate)
{
	static const uint32_t shape[] = { 6, 10, 4 };
	struct hgq_model *m;
	struct hgq_engine *e;
	struct hgq_err err = HGQ_ERR_INIT;
	size_t n = 2000;
	double *x;
	int64_t *out;
	uint64_t cnt[3] = { 0 };
	struct hgq_ovf_stats st = { 3, cnt };

	fx_rng_state = 7;
	m = random_model(shape, 2);
	m->calibrated = 0;
	/* column 5 is always 0: its element must end with width 0 */
	x = malloc(n * 6 * sizeof(double));
	out = malloc(n * 4 * sizeof(int64_t));
	for (size_t s = 0; s < n; s++)
		for (int c = 0; c < 6; c++)
			x[s * 6 + c] = c == 5 ? 0.0 : (fx_rnd_unit() - 0.3) * 10;
	for (uint32_t j = 0; j < 6; j++)
		m->layers[0].f[j] = 3;
	ck_assert_int_eq(hgq_calibrate(m, x, n, 1, &err), HGQ_OK);
	ck_assert_int_eq(m->calibrated, 1);
	ck_assert_int_eq(m->layers[0].k[5] + m->layers[0].i[5] +
	    m->layers[0].f[5], 0);
	/* x in [-3, 7): k = 1, 7 * 8 = 56 < 64 -> i + f = 6 -> i = 3 */
	for (int j = 0; j < 5; j++) {
		ck_assert_int_eq(m->layers[0].k[j], 1);
		ck_assert_int_eq(m->layers[0].i[j], 3);
	}
	ck_assert_int_eq(hgq_engine_new(&e, m, &err), HGQ_OK);
	ck_assert_int_eq(hgq_engine_run(e, x, n, out, &st, 2), HGQ_OK);
	ck_assert_int_eq(cnt[0], 0);
	ck_assert_int_eq(cnt[1], 0);
	ck_assert_int_eq(cnt[2], 0);
	/* and the ranges are tight: one bit less would overflow somewhere */
	for (uint32_t l = 0; l < m->n_layers; l += 2) {
		struct hgq_layer *q = &m->layers[l];

		for (uint32_t j = 0; j < q->n_out; j++) {
			double lo = q->cal_min[j], hi = q->cal_max[j];
			int b = q->i[j] + q->f[j];

			if (q->k[j] + b <= 0) {
				ck_assert(lo == 0 && hi == 0);
				continue;
			}
			ck_assert(q->k[j] == (lo < 0));
			ck_assert(ldexp(hi, q->f[j]) < ldexp(1, b));
			ck_assert(-ldexp(lo, q->f[j]) <= ldexp(1, b));
			ck_assert(ldexp(hi, q->f[j]) >= ldexp(1, b - 1) ||
			    -ldexp(lo, q->f[j]) > ldexp(1, b - 1));
		}
	}
	hgq_engine_free(e);
	hgq_model_free(m);
	free(x);
	free(out);
}
END_TEST


/* the engine's fast input path equals hgq_quant_f64 on awkward values */
START_TEST(test_input_edges)
{
	static const double xs[] = { 0.0, -0.0, 0.5, -0.5, 0.75, -0.75,
	    1e-310, -1e-310, 0x1p-1000, -0x1p-1000, 1e300, -1e300,
	    0x1p52, -0x1p52, 0x1p53 + 2, 4503599627370495.5, 3.0, -3.0,
	    0.1, -0.1, 123.456, -987.654, 0x1p-898, -0x1p-899 };
	static const double scales[] = { 1.0, 0.00390625, 3.0, 1e-300 };
	struct hgq_model *m;
	struct hgq_layer *q0, *d, *q1;
	struct hgq_engine *e;
	struct hgq_err err = HGQ_ERR_INIT;
	int64_t got;

	m = one_dense(1, 1, &q0, &d, &q1);
	m->norm = HGQ_NORM_STANDARD;
	m->norm_offset = calloc(1, sizeof(double));
	m->norm_scale = calloc(1, sizeof(double));
	for (int k = 0; k <= 1; k++)
	for (int f = -3; f <= 12; f += 5)
	for (int w = 0; w <= 20; w += 4)
	for (int r = 0; r < 2; r++)
	for (int o = 0; o < 3; o++)
	for (size_t sc = 0; sc < 4; sc++) {
		q0->k[0] = (int8_t)k;
		q0->f[0] = (int8_t)f;
		q0->i[0] = (int8_t)(w - k - f);
		q0->round = (uint8_t)r;
		q0->overflow = (uint8_t)o;
		m->norm_offset[0] = sc == 2 ? 0.25 : 0.0;
		m->norm_scale[0] = scales[sc];
		ck_assert_int_eq(hgq_engine_new(&e, m, &err), HGQ_OK);
		for (size_t a = 0; a < sizeof(xs) / sizeof(xs[0]); a++) {
			double xn = (xs[a] - m->norm_offset[0]) * scales[sc];
			int64_t want = hgq_quant_f64(xn, k, w - k - f, f, r, o);

			hgq_engine_quant_input(e, &xs[a], 1, &got);
			if (got != want)
				ck_abort_msg("x=%a k=%d f=%d w=%d r=%d o=%d "
				    "scale=%g: %lld vs %lld", xs[a], k, f, w, r,
				    o, scales[sc], (long long)got,
				    (long long)want);
		}
		hgq_engine_free(e);
	}
	hgq_model_free(m);
}
END_TEST

/* calibration on shapes that widen (16 -> 64 -> 3 -> 40) and on one or
   two threads gives the same formats, and no overflow on its data */
START_TEST(test_calibrate_shapes_threads)
{
	static const uint32_t shape[] = { 16, 64, 3, 40 };
	struct hgq_model *m1, *m2;
	struct hgq_engine *e;
	struct hgq_err err = HGQ_ERR_INIT;
	size_t n = 3000;
	double *x;
	int64_t *out;
	uint64_t cnt[4] = { 0 };
	struct hgq_ovf_stats st = { 4, cnt };

	fx_rng_state = 11;
	m1 = random_model(shape, 3);
	m1->calibrated = 0;
	m2 = hgq_model_copy(m1);
	ck_assert_ptr_nonnull(m2);
	x = malloc(n * 16 * sizeof(double));
	out = malloc(n * 40 * sizeof(int64_t));
	for (size_t a = 0; a < n * 16; a++)
		x[a] = (fx_rnd_unit() - 0.5) * 6;
	ck_assert_int_eq(hgq_calibrate(m1, x, n, 1, &err), HGQ_OK);
	ck_assert_int_eq(hgq_calibrate(m2, x, n, 2, &err), HGQ_OK);
	for (uint32_t l = 0; l < m1->n_layers; l += 2) {
		ck_assert_mem_eq(m1->layers[l].k, m2->layers[l].k,
		    m1->layers[l].n_out);
		ck_assert_mem_eq(m1->layers[l].i, m2->layers[l].i,
		    m1->layers[l].n_out);
	}
	ck_assert_int_eq(hgq_engine_new(&e, m1, &err), HGQ_OK);
	ck_assert_int_eq(hgq_engine_run(e, x, n, out, &st, 2), HGQ_OK);
	for (int q = 0; q < 4; q++)
		ck_assert_int_eq(cnt[q], 0);
	hgq_engine_free(e);
	hgq_model_free(m1);
	hgq_model_free(m2);
	free(x);
	free(out);
}
END_TEST

/*
 * Big weights push the accumulators past int32: with equal weight
 * fractions the aligned weights still fit int32 (the widening path),
 * with spread fractions they do not (the int64 path).  Both must match
 * the reference (exact in double: every sum stays below 2^53).
 */
START_TEST(test_engine_wide_paths)
{
	static const uint32_t shape[] = { 12, 9, 5 };

	fx_rng_state = 4321;
	for (int rep = 0; rep < 12; rep++) {
		struct hgq_model *m = random_model(shape, 2);
		struct hgq_engine *e;
		struct hgq_err err = HGQ_ERR_INIT;
		size_t n = 400;
		double x[400 * 12], y[8];
		int64_t out[400 * 5];

		for (uint32_t l = 1; l < m->n_layers; l += 2) {
			struct hgq_layer *d = &m->layers[l];

			for (size_t a = 0; a < (size_t)d->n_in * d->n_out;
			    a++) {
				d->w_m[a] = fx_rnd_int(-(1 << 22), 1 << 22);
				d->w_f[a] = (int8_t)(rep % 2 ? fx_rnd_int(-2, 9) :
				    4);
			}
		}
		for (size_t a = 0; a < n * 12; a++)
			x[a] = (fx_rnd_unit() - 0.4) * 64;
		ck_assert_int_eq(hgq_engine_new(&e, m, &err), HGQ_OK);
		ck_assert_int_eq(hgq_engine_run(e, x, n, out, NULL, 1),
		    HGQ_OK);
		for (size_t r = 0; r < n; r++) {
			reference(m, x + r * 12, y);
			for (uint32_t j = 0; j < 5; j++)
				if (ldexp((double)out[r * 5 + j],
				    -hgq_engine_out_f(e, j)) != y[j])
					ck_abort_msg("model %d row %zu out %u",
					    rep, r, j);
		}
		hgq_engine_free(e);
		hgq_model_free(m);
	}
}
END_TEST

Suite *
sim_suite(void)
{
	Suite *s = suite_create("sim");
	TCase *tc = tcase_create("engine");

	tcase_add_test(tc, test_engine_matches_reference);
	tcase_add_test(tc, test_engine_threads_agree);
	tcase_add_test(tc, test_engine_hand);
	tcase_add_test(tc, test_engine_out_values);
	tcase_add_test(tc, test_engine_range);
	tcase_add_test(tc, test_calibrate);
	tcase_add_test(tc, test_input_edges);
	tcase_add_test(tc, test_calibrate_shapes_threads);
	tcase_add_test(tc, test_engine_wide_paths);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
