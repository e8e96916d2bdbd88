/*
 * check_interval.c - fixed-point ranges: the range of a format
 * (hgq_fmt_range) against the overflow it defines, the exact range of a
 * dense output (hgq_dense_range) and of a quantizer's output
 * (hgq_ival_quant) on layers computed by hand, and what the IR and the
 * Verilog make of them: a clip only on a side that a value can pass.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "unit.h"

START_TEST(test_fmt_range)
{
	static const struct {
		int k, i, f, ovf;
		int64_t lo, hi;
	} t[] = {
		{ 1, 1, 2, HGQ_SAT, -8, 7 },
		{ 1, 1, 2, HGQ_WRAP, -8, 7 },
		{ 1, 1, 2, HGQ_SAT_SYM, -7, 7 },
		{ 0, 3, 0, HGQ_SAT, 0, 7 },
		{ 0, 3, 0, HGQ_SAT_SYM, 0, 7 },
		{ 0, -2, 5, HGQ_WRAP, 0, 7 },
		{ 1, -1, 1, HGQ_SAT, -1, 0 },		/* width 1, k = 1 */
		{ 1, -1, 1, HGQ_SAT_SYM, 0, 0 },
		{ 1, -3, 2, HGQ_SAT, 0, 0 },		/* width 0 */
		{ 0, -4, 2, HGQ_WRAP, 0, 0 },		/* width < 0 */
		{ 1, 61, 0, HGQ_SAT, -((int64_t)1 << 61),
		    ((int64_t)1 << 61) - 1 },
		{ 1, 62, -30, HGQ_SAT, -((int64_t)1 << 32),
		    ((int64_t)1 << 32) - 1 },
		{ 1, 62, 0, HGQ_SAT, INT64_MIN, INT64_MAX },
		{ 0, 70, 0, HGQ_SAT_SYM, 0, INT64_MAX },
	};

	for (size_t j = 0; j < sizeof(t) / sizeof(t[0]); j++) {
		int64_t lo, hi;
		struct hgq_qop q;

		hgq_fmt_range(t[j].k, t[j].i, t[j].f, t[j].ovf, &lo, &hi);
		ck_assert_msg(lo == t[j].lo && hi == t[j].hi, "row %zu: [%lld,"
		    " %lld]", j, (long long)lo, (long long)hi);
		hgq_qop_init(&q, t[j].f, t[j].k, t[j].i, t[j].f, HGQ_TRN,
		    t[j].ovf);
		ck_assert(q.lo == lo && q.hi == hi);
	}
	/* the range is what overflow leaves unchanged, and SAT clips to it */
	for (int k = 0; k <= 1; k++)
		for (int w = 0; w <= 6; w++)
			for (int o = 0; o < 3; o++) {
				int64_t lo, hi;

				hgq_fmt_range(k, w - k - 1, 1, o, &lo, &hi);
				for (int64_t m = -80; m <= 80; m++) {
					int64_t r = hgq_overflow_mant(m, k,
					    w - k - 1, 1, o);

					ck_assert((r == m) == (w > 0 &&
					    m >= lo && m <= hi) || (m == 0));
					ck_assert(r >= lo && r <= hi);
					if (o != HGQ_WRAP && w > 0)
						ck_assert_int_eq(r, m < lo ?
						    lo : m > hi ? hi : m);
				}
			}
	/* negative mantissas of an unsigned wide format saturate to 0 */
	ck_assert_int_eq(hgq_overflow_mant(-5, 0, 70, 0, HGQ_SAT), 0);
}
END_TEST

/*
 * x0 u4.0 in [0, 15], x1 at 2^-2 in [-8, 7], x2 pruned ([0, 0]);
 * y0 = 7 x0 - 3/2 x1 + 5 x2 + 3/4, y1 = 4 x0 + 2 x2
 */
static struct hgq_layer *
hand_layer(struct hgq_model **mp, struct hgq_ival *x)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	struct hgq_layer *d;
	static const int32_t w_m[6] = { 7, 4, -3, 0, 5, 2 };
	static const int8_t w_f[6] = { 0, 0, 1, 0, 0, 0 };

	ck_assert_ptr_nonnull(m);
	d = hgq_model_add_layer(m, HGQ_LAYER_DENSE, 3, 2);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(hgq_layer_alloc_fixed(d, &err), HGQ_OK);
	memcpy(d->w_m, w_m, sizeof(w_m));
	memcpy(d->w_f, w_f, sizeof(w_f));
	d->b_m[0] = 3;
	d->b_f[0] = 2;
	x[0] = (struct hgq_ival){ 0, 15, 0 };
	x[1] = (struct hgq_ival){ -8, 7, -2 };
	x[2] = (struct hgq_ival){ 0, 0, 0 };
	*mp = m;
	return d;
}

START_TEST(test_dense_range)
{
	struct hgq_model *m;
	struct hgq_ival x[3], y;
	struct hgq_layer *d = hand_layer(&m, x);

	/* 7 x0 in [0, 105], -3/2 x1 in [-21/8, 3], 3/4: at 2^-3 */
	ck_assert_int_eq(hgq_dense_range(&y, d, 0, x, 1), HGQ_OK);
	ck_assert(y.lo == -15 && y.hi == 870 && y.e == -3);
	ck_assert_int_eq(hgq_dense_range(&y, d, 0, x, 0), HGQ_OK);
	ck_assert(y.lo == -21 && y.hi == 864 && y.e == -3);
	/* 4 x0: a multiple of 4, so at 2^2; the pruned x2 adds nothing */
	ck_assert_int_eq(hgq_dense_range(&y, d, 1, x, 1), HGQ_OK);
	ck_assert(y.lo == 0 && y.hi == 15 && y.e == 2);
	/* a constant input is a range of one value */
	x[2] = (struct hgq_ival){ -3, -3, 1 };
	ck_assert_int_eq(hgq_dense_range(&y, d, 1, x, 1), HGQ_OK);
	ck_assert(y.lo == -3 && y.hi == 12 && y.e == 2);
	/* nothing can be non-zero: [0, 0] */
	x[0].hi = 0;
	x[2].lo = x[2].hi = 0;
	ck_assert_int_eq(hgq_dense_range(&y, d, 1, x, 1), HGQ_OK);
	ck_assert(y.lo == 0 && y.hi == 0 && y.e == 0);
	/* (2^22 - 1) * 0x10000040001 reaches 2^62, one less stays below */
	x[0].hi = 0x10000040001;
	d->w_m[1] = (1 << 22) - 1;
	ck_assert_int_eq(hgq_dense_range(&y, d, 1, x, 1), HGQ_ERANGE);
	x[0].hi = 0x10000040000;
	ck_assert_int_eq(hgq_dense_range(&y, d, 1, x, 1), HGQ_OK);
	ck_assert(y.lo == 0 && y.hi == ((int64_t)1 << 62) - 262144 &&
	    y.e == 0);
	/* a power of two is placed by its exponent: 2^22 * 2^40 at 2^22 */
	x[0].hi = (int64_t)1 << 40;
	d->w_m[1] = 1 << 22;
	ck_assert_int_eq(hgq_dense_range(&y, d, 1, x, 1), HGQ_OK);
	ck_assert(y.lo == 0 && y.hi == (int64_t)1 << 40 && y.e == 22);
	/* terms 2^124 apart: no common exponent within 62 bits */
	x[0].hi = 1;
	d->w_f[1] = -62;
	d->b_m[1] = 1;
	d->b_f[1] = 62;
	ck_assert_int_eq(hgq_dense_range(&y, d, 1, x, 1), HGQ_ERANGE);
	hgq_model_free(m);
}
END_TEST

START_TEST(test_ival_quant)
{
	struct hgq_ival y = { -15, 870, -3 }, q;

	/* ReLU, then RND to 2^0: 870/8 = 108.75 -> 109 */
	hgq_ival_quant(&q, &y, 1, 0, 7, 0, HGQ_RND, HGQ_SAT);
	ck_assert(q.lo == 0 && q.hi == 109 && q.e == 0);
	/* saturation clips the ends; a wrap that can leave the format
	   covers all of it */
	hgq_ival_quant(&q, &y, 1, 0, 5, 0, HGQ_TRN, HGQ_SAT);
	ck_assert(q.lo == 0 && q.hi == 31);
	hgq_ival_quant(&q, &y, 0, 0, 5, 0, HGQ_TRN, HGQ_WRAP);
	ck_assert(q.lo == 0 && q.hi == 31);
	hgq_ival_quant(&q, &y, 0, 1, 7, 0, HGQ_TRN, HGQ_WRAP);
	ck_assert(q.lo == -2 && q.hi == 108);
	/* TRN to 2^-1: floor(-15/4) = -4; SAT_SYM clips 217 to 7 */
	hgq_ival_quant(&q, &y, 0, 1, 2, 1, HGQ_TRN, HGQ_SAT_SYM);
	ck_assert(q.lo == -4 && q.hi == 7 && q.e == -1);
	/* to a finer grid: exact */
	y = (struct hgq_ival){ 1, 3, 2 };
	hgq_ival_quant(&q, &y, 0, 0, 4, 1, HGQ_RND, HGQ_SAT);
	ck_assert(q.lo == 8 && q.hi == 24 && q.e == -1);
	/* width 0 */
	hgq_ival_quant(&q, &y, 0, 1, -2, 1, HGQ_RND, HGQ_SAT);
	ck_assert(q.lo == 0 && q.hi == 0);
	/* rescaling to a finer exponent */
	y = (struct hgq_ival){ -3, 5, 4 };
	ck_assert_int_eq(hgq_ival_rescale(&y, 1), HGQ_OK);
	ck_assert(y.lo == -24 && y.hi == 40 && y.e == 1);
	ck_assert_int_eq(hgq_ival_rescale(&y, 2), HGQ_EINVAL);
	ck_assert_int_eq(hgq_ival_rescale(&y, -60), HGQ_ERANGE);
}
END_TEST

/*
 * y = 7x for x u4.0, into u(i).0 with SAT: the adder graph is 8x - x,
 * whose propagated interval [-15, 120] goes below 0; the exact range
 * [0, 105] does not.  With i = 7 no clip at all; with i = 6 only the
 * upper side.
 */
static void
seven_x(int i_out, uint32_t want_sat, const char *want_v,
    const char *not_v)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	struct hgq_layer *q0, *d, *q1;
	struct hgq_ir *ir = NULL;
	struct hgq_engine *e = NULL;
	struct hgq_verilog_opts vo;
	uint32_t n_sat = 0;
	int64_t buf[64], out[1], ref[16];
	double xs[16];
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	q0 = hgq_model_add_layer(m, HGQ_LAYER_QUANT, 1, 1);
	ck_assert_int_eq(hgq_layer_alloc_fixed(q0, &err), HGQ_OK);
	q0->k[0] = 0;
	q0->i[0] = 4;
	q0->overflow = HGQ_SAT;
	d = hgq_model_add_layer(m, HGQ_LAYER_DENSE, 1, 1);
	ck_assert_int_eq(hgq_layer_alloc_fixed(d, &err), HGQ_OK);
	d->w_m[0] = 7;
	q1 = hgq_model_add_layer(m, HGQ_LAYER_QUANT, 1, 1);
	ck_assert_int_eq(hgq_layer_alloc_fixed(q1, &err), HGQ_OK);
	q1->k[0] = 0;
	q1->i[0] = (int8_t)i_out;
	q1->round = HGQ_TRN;
	q1->overflow = HGQ_SAT;
	ck_assert_int_eq(hgq_model_set_input(m, 1, &err), HGQ_OK);
	m->calibrated = 1;
	ck_assert_msg(hgq_ir_build(&ir, m, NULL, 0, &err) == HGQ_OK, "%s",
	    err.msg);
	for (uint32_t j = 0; j < ir->n_ops; j++)
		n_sat += ir->ops[j].kind == HGQ_IR_SAT;
	ck_assert_uint_eq(n_sat, want_sat);
	ck_assert_int_eq(ir->ops[ir->out_op[0]].v.lo, 0);
	ck_assert_int_eq(ir->ops[ir->out_op[0]].v.hi,
	    105 < (1 << i_out) - 1 ? 105 : (1 << i_out) - 1);
	ck_assert_int_eq(hgq_engine_new(&e, m, &err), HGQ_OK);
	for (int x = 0; x < 16; x++)
		xs[x] = x;
	ck_assert_int_eq(hgq_engine_run(e, xs, 16, ref, NULL, 1), HGQ_OK);
	for (int64_t x = 0; x < 16; x++) {
		int64_t want = 7 * x < (1 << i_out) - 1 ? 7 * x :
		    (1 << i_out) - 1;

		hgq_ir_eval(ir, &x, buf, out);
		ck_assert_int_eq(out[0], want);
		ck_assert_int_eq(ref[x], want);
	}
	hgq_verilog_opts_init(&vo);
	ck_assert_ptr_nonnull(f = open_memstream(&text, &len));
	ck_assert_int_eq(hgq_verilog_write(f, ir, &vo, &err), HGQ_OK);
	ck_assert_int_eq(fclose(f), 0);
	if (want_v != NULL)
		ck_assert_ptr_nonnull(strstr(text, want_v));
	ck_assert_ptr_null(strstr(text, not_v));
	free(text);
	hgq_engine_free(e);
	hgq_ir_free(ir);
	hgq_model_free(m);
}

START_TEST(test_no_dead_clips)
{
	seven_x(7, 0, NULL, "_lo");
	seven_x(7, 0, NULL, "_hi");
	seven_x(6, 1, "_hi = ", "_lo");
}
END_TEST

Suite *
interval_suite(void)
{
	Suite *s = suite_create("interval");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_fmt_range);
	tcase_add_test(tc, test_dense_range);
	tcase_add_test(tc, test_ival_quant);
	tcase_add_test(tc, test_no_dead_clips);
	suite_add_tcase(s, tc);
	return s;
}
