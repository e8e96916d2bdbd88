/*
 * check_quant.c - the fixed-point semantics: the integer and float paths
 * agree on a dense sweep, and the worked table of hgq-algorithm.md 2.4.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "internal.h"
#include "unit.h"

static const int modes_r[] = { HGQ_RND, HGQ_TRN };
static const int modes_o[] = { HGQ_WRAP, HGQ_SAT, HGQ_SAT_SYM };

/* hgq-algorithm.md 2.4: k=1, i=1, f=2 (fixed<4,2>) */
START_TEST(test_worked_table)
{
	static const struct {
		double x, rnd_wrap, rnd_sat, rnd_satsym, trn_wrap;
	} t[] = {
		{ 0.4, 0.5, 0.5, 0.5, 0.25 },
		{ 2.3, -1.75, 1.75, 1.75, -1.75 },
		{ -2.6, 1.5, -2.0, -1.75, 1.25 },
		{ -0.125, 0.0, 0.0, 0.0, -0.25 },
	};

	for (size_t j = 0; j < sizeof(t) / sizeof(t[0]); j++) {
		ck_assert(hgq_fq_f64(t[j].x, 1, 1, 2, HGQ_RND, HGQ_WRAP) ==
		    t[j].rnd_wrap);
		ck_assert(hgq_fq_f64(t[j].x, 1, 1, 2, HGQ_RND, HGQ_SAT) ==
		    t[j].rnd_sat);
		ck_assert(hgq_fq_f64(t[j].x, 1, 1, 2, HGQ_RND, HGQ_SAT_SYM) ==
		    t[j].rnd_satsym);
		ck_assert(hgq_fq_f64(t[j].x, 1, 1, 2, HGQ_TRN, HGQ_WRAP) ==
		    t[j].trn_wrap);
		/* the same through the integer path (mantissa at f = 2) */
		ck_assert(ldexp(hgq_quant_f64(t[j].x, 1, 1, 2, HGQ_RND,
		    HGQ_WRAP), -2) == t[j].rnd_wrap);
		ck_assert(ldexp(hgq_quant_f64(t[j].x, 1, 1, 2, HGQ_RND,
		    HGQ_SAT), -2) == t[j].rnd_sat);
		ck_assert(ldexp(hgq_quant_f64(t[j].x, 1, 1, 2, HGQ_RND,
		    HGQ_SAT_SYM), -2) == t[j].rnd_satsym);
		ck_assert(ldexp(hgq_quant_f64(t[j].x, 1, 1, 2, HGQ_TRN,
		    HGQ_WRAP), -2) == t[j].trn_wrap);
	}
	/* 0.625 is a tie: RND goes up to 0.75 (RND_CONV would give 0.5) */
	ck_assert(hgq_fq_f64(0.625, 1, 1, 2, HGQ_RND, HGQ_WRAP) == 0.75);
	ck_assert(hgq_fq_f64(0.625, 1, 1, 2, HGQ_TRN, HGQ_WRAP) == 0.5);
	ck_assert_int_eq(hgq_quant_mant(5, 3, 1, 1, 2, HGQ_RND, HGQ_WRAP), 3);
	ck_assert_int_eq(hgq_quant_mant(5, 3, 1, 1, 2, HGQ_TRN, HGQ_WRAP), 2);
}
END_TEST

/*
 * The sweep: every format with k in {0,1}, i in [-5, 6], f in [-4, 9],
 * every mode, on values x = m * 2^-F0 for a dense range of m and several
 * source precisions F0.  Integer path, float64 path and (for rounding)
 * the float32 training path must agree exactly.
 */
START_TEST(test_sweep_paths_agree)
{
	static const int src_f[] = { -3, 0, 2, 5, 11 };
	long n_checked = 0;

	for (int k = 0; k <= 1; k++)
	for (int i = -5; i <= 6; i++)
	for (int f = -4; f <= 9; f++)
	for (size_t r = 0; r < 2; r++)
	for (size_t o = 0; o < 3; o++)
	for (size_t s = 0; s < sizeof(src_f) / sizeof(src_f[0]); s++)
	for (int64_t m = -700; m <= 700; m += 7) {
		int F0 = src_f[s], rm = modes_r[r], om = modes_o[o];
		double x = ldexp((double)m, -F0);
		int64_t qi = hgq_quant_mant(m, F0, k, i, f, rm, om);
		double qf = hgq_fq_f64(x, k, i, f, rm, om);
		int64_t qx = hgq_quant_f64(x, k, i, f, rm, om);

		if (qf != ldexp((double)qi, -f) || qx != qi) {
			ck_abort_msg("k=%d i=%d f=%d r=%d o=%d x=%g: int %lld "
			    "f64 %g from-double %lld", k, i, f, rm, om, x,
			    (long long)qi, qf, (long long)qx);
		}
		{
			struct hgq_qop qop;

			hgq_qop_init(&qop, F0, k, i, f, rm, om);
			if (hgq_qop_apply(&qop, m) != qi)
				ck_abort_msg("qop k=%d i=%d f=%d r=%d o=%d "
				    "m=%lld F0=%d: %lld vs %lld", k, i, f, rm,
				    om, (long long)m, F0,
				    (long long)hgq_qop_apply(&qop, m),
				    (long long)qi);
		}
		if (o == 0) {
			/* training: rounding only, no overflow */
			int64_t qr = hgq_round_mant(m, F0, f, rm);
			float q32 = hgq_fq_f32((float)x, f, rm);

			if ((double)q32 != ldexp((double)qr, -f))
				ck_abort_msg("f32 f=%d r=%d x=%g: %g vs %lld",
				    f, rm, x, (double)q32, (long long)qr);
		}
		/* the result is on the grid and inside the format */
		/* (plain ifs: ck_assert in a hot loop costs a syscall) */
		if (k + i + f > 0) {
			int b = i + f;

			if (qi > ((int64_t)1 << (b > 0 ? b : 0)) - 1 ||
			    qi < (k ? -((int64_t)1 << b) : 0))
				ck_abort_msg("out of format: %lld",
				    (long long)qi);
		} else if (qi != 0 || qf != 0.0) {
			ck_abort_msg("width 0 gave %lld", (long long)qi);
		}
		n_checked++;
	}
	ck_assert(n_checked > 400000);
}
END_TEST

/* zero and one bit: the smallest formats */
START_TEST(test_tiny_widths)
{
	/* width 0 (k=0, i=-f): always 0, every mode */
	for (size_t r = 0; r < 2; r++)
		for (size_t o = 0; o < 3; o++) {
			ck_assert(hgq_fq_f64(0.75, 0, -3, 3, modes_r[r],
			    modes_o[o]) == 0.0);
			ck_assert_int_eq(hgq_quant_mant(123, 0, 0, -3, 3,
			    modes_r[r], modes_o[o]), 0);
			/* k=1, i+f = -1: width 0 as well */
			ck_assert_int_eq(hgq_quant_mant(-7, 0, 1, -4, 3,
			    modes_r[r], modes_o[o]), 0);
		}
	/* unsigned 1 bit at f=0: {0, 1}; WRAP keeps the LSB */
	ck_assert_int_eq(hgq_quant_mant(1, 0, 0, 1, 0, HGQ_RND, HGQ_WRAP), 1);
	ck_assert_int_eq(hgq_quant_mant(2, 0, 0, 1, 0, HGQ_RND, HGQ_WRAP), 0);
	ck_assert_int_eq(hgq_quant_mant(3, 0, 0, 1, 0, HGQ_RND, HGQ_SAT), 1);
	ck_assert_int_eq(hgq_quant_mant(-3, 0, 0, 1, 0, HGQ_RND, HGQ_SAT), 0);
	/* signed 1 bit (k=1, i+f=0): {-1, 0} as mantissas */
	ck_assert_int_eq(hgq_quant_mant(1, 0, 1, 0, 0, HGQ_RND, HGQ_WRAP), -1);
	ck_assert_int_eq(hgq_quant_mant(1, 0, 1, 0, 0, HGQ_RND, HGQ_SAT), 0);
	ck_assert_int_eq(hgq_quant_mant(-5, 0, 1, 0, 0, HGQ_RND, HGQ_SAT), -1);
	ck_assert_int_eq(hgq_quant_mant(-5, 0, 1, 0, 0, HGQ_RND, HGQ_SAT_SYM),
	    0);
	ck_assert(hgq_fq_f64(0.25, 1, -2, 2, HGQ_RND, HGQ_WRAP) == -0.25);
	ck_assert(hgq_fq_f64(0.5, 1, -2, 2, HGQ_RND, HGQ_WRAP) == 0.0);
}
END_TEST

/* extremes: shifts past 63 bits, huge and tiny doubles */
START_TEST(test_extremes)
{
	int64_t big = ((int64_t)1 << 62) - 1;

	ck_assert_int_eq(hgq_round_mant(big, 70, 0, HGQ_RND), 0);
	ck_assert_int_eq(hgq_round_mant(-big, 70, 0, HGQ_TRN), -1);
	ck_assert_int_eq(hgq_round_mant(-1, 62, 0, HGQ_RND), 0);
	ck_assert_int_eq(hgq_round_mant(-((int64_t)1 << 61), 62, 0, HGQ_RND),
	    0);				/* -1/2: the tie goes up */
	ck_assert_int_eq(hgq_round_mant(-((int64_t)1 << 61) - 1, 62, 0,
	    HGQ_RND), -1);
	ck_assert_int_eq(hgq_quant_f64(1e300, 0, 8, 0, HGQ_RND, HGQ_WRAP), 0);
	ck_assert_int_eq(hgq_quant_f64(1e300, 1, 7, 0, HGQ_RND, HGQ_SAT), 127);
	ck_assert_int_eq(hgq_quant_f64(-1e300, 1, 7, 0, HGQ_RND, HGQ_SAT),
	    -128);
	ck_assert_int_eq(hgq_quant_f64(-1e300, 1, 7, 0, HGQ_RND, HGQ_SAT_SYM),
	    -127);
	ck_assert_int_eq(hgq_quant_f64(-1e-310, 1, 3, 4, HGQ_TRN, HGQ_WRAP),
	    -1);
	ck_assert_int_eq(hgq_quant_f64(-1e-310, 1, 3, 4, HGQ_RND, HGQ_WRAP), 0);
	ck_assert_int_eq(hgq_quant_f64(0x1p53 + 2, 1, 3, 0, HGQ_RND, HGQ_WRAP),
	    2);
	ck_assert_int_eq(hgq_quant_f64(-0x1p60 - 0x1p10, 1, 15, 0,
	    HGQ_RND, HGQ_WRAP), -0x400);
	ck_assert_int_eq(hgq_quant_f64(0x1p60 + 0x1p14 + 0x1p8, 1, 15, 0,
	    HGQ_RND, HGQ_WRAP), 0x4000 + 0x100);
	ck_assert_int_eq(hgq_quant_f64(0x1p60 + 0x1p15 + 0x1p8, 1, 15, 0,
	    HGQ_RND, HGQ_WRAP), -0x8000 + 0x100);
	/* prepared requantization at extreme shifts equals the plain one */
	{
		static const int64_t ms[] = { 0, 1, -1, 12345, -12345,
		    ((int64_t)1 << 61), -((int64_t)1 << 61),
		    -((int64_t)1 << 61) - 1, ((int64_t)1 << 62) - 1,
		    -((int64_t)1 << 62) + 1 };
		static const int shifts[] = { 0, 1, 30, 61, 62, 63, 64, 90 };
		struct hgq_qop q;

		for (size_t a = 0; a < sizeof(ms) / sizeof(ms[0]); a++)
		for (size_t b = 0; b < sizeof(shifts) / sizeof(shifts[0]); b++)
		for (int rm = 0; rm < 2; rm++)
		for (int om = 0; om < 3; om++) {
			hgq_qop_init(&q, shifts[b], 1, 20, 0, rm, om);
			ck_assert_int_eq(hgq_qop_apply(&q, ms[a]),
			    hgq_quant_mant(ms[a], shifts[b], 1, 20, 0, rm,
			    om));
			hgq_qop_init(&q, shifts[b], 0, 40, 10, rm, om);
			ck_assert_int_eq(hgq_qop_apply(&q, ms[a]),
			    hgq_quant_mant(ms[a], shifts[b], 0, 40, 10, rm,
			    om));
		}
	}
	/* float32 beyond 2^23: floor(v + 0.5f) would give 8388610 */
	ck_assert(hgq_fq_f32(8388609.0f, 0, HGQ_RND) == 8388609.0f);
	ck_assert(hgq_fq_f32(-8388609.0f, 0, HGQ_RND) == -8388609.0f);
	ck_assert(hgq_fq_f32(0.4999999701976776f, 0, HGQ_RND) == 0.0f);
	ck_assert(hgq_fq_f32(-2.5f, 0, HGQ_RND) == -2.0f);
	ck_assert(hgq_fq_f32(2.5f, 0, HGQ_RND) == 3.0f);
}
END_TEST

START_TEST(test_round_bits_and_span)
{
	ck_assert_int_eq(hgq_round_bits(2.5f), 2);
	ck_assert_int_eq(hgq_round_bits(3.5f), 4);
	ck_assert_int_eq(hgq_round_bits(-0.5f), 0);
	ck_assert_int_eq(hgq_round_bits(-1.5f), -2);
	ck_assert_int_eq(hgq_round_bits(2.49f), 2);
	ck_assert_int_eq(hgq_span(0), 0);
	ck_assert_int_eq(hgq_span(1), 1);
	ck_assert_int_eq(hgq_span(-1), 1);
	ck_assert_int_eq(hgq_span(12), 2);	/* 1100 */
	ck_assert_int_eq(hgq_span(-13), 4);	/* 1101 */
	ck_assert_int_eq(hgq_span(255), 8);
	ck_assert_int_eq(hgq_span(256), 1);
	ck_assert_int_eq(hgq_span(INT64_MIN + 1), 63);
}
END_TEST

START_TEST(test_fmt_from_range)
{
	int k, i;

	hgq_fmt_from_range(0, 0, 3, &k, &i);
	ck_assert(k == 0 && i == -3);		/* width 0 */
	hgq_fmt_from_range(0, 1, 3, &k, &i);
	ck_assert(k == 0 && i == -2);		/* 1 bit */
	hgq_fmt_from_range(0, 255, 0, &k, &i);
	ck_assert(k == 0 && i == 8);
	hgq_fmt_from_range(0, 256, 0, &k, &i);
	ck_assert(k == 0 && i == 9);
	hgq_fmt_from_range(-128, 127, 0, &k, &i);
	ck_assert(k == 1 && i == 7);
	hgq_fmt_from_range(-129, 0, 0, &k, &i);
	ck_assert(k == 1 && i == 8);
	hgq_fmt_from_range(-1, -1, 2, &k, &i);
	ck_assert(k == 1 && i == -2);		/* {-1, 0}: width 1 */
	hgq_fmt_from_range(-4, 3, 5, &k, &i);
	ck_assert(k == 1 && i == -3);
	/* the found format holds both ends and no smaller one does */
	for (int64_t mn = -40; mn <= 0; mn++)
		for (int64_t mx = mn < 0 ? mn : 0; mx <= 40; mx++) {
			hgq_fmt_from_range(mn, mx, 0, &k, &i);
			ck_assert(hgq_quant_mant(mn, 0, k, i, 0, HGQ_TRN,
			    HGQ_SAT) == mn);
			ck_assert(hgq_quant_mant(mx, 0, k, i, 0, HGQ_TRN,
			    HGQ_SAT) == mx);
			if (i > 0 || (i == 0 && k == 1 && (mn != 0 ||
			    mx != 0)))
				ck_assert(hgq_quant_mant(mn, 0, k, i - 1, 0,
				    HGQ_TRN, HGQ_SAT) != mn ||
				    hgq_quant_mant(mx, 0, k, i - 1, 0,
				    HGQ_TRN, HGQ_SAT) != mx);
		}
}
END_TEST

Suite *
quant_suite(void)
{
	Suite *s = suite_create("quant");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_worked_table);
	tcase_add_test(tc, test_sweep_paths_agree);
	tcase_add_test(tc, test_tiny_widths);
	tcase_add_test(tc, test_extremes);
	tcase_add_test(tc, test_round_bits_and_span);
	tcase_add_test(tc, test_fmt_from_range);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
