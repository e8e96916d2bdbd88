/*
 * check_betactl.c - the beta controller of train.target_ebops: one step
 * computed by hand (exact), the clamps and bounds, the reference's
 * descent and its rescaling with the ratio, the saved state's round trip
 * and rejects, and the closed loop on a model plant.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "hgq.h"
#include "betactl.h"

/* past the ramp, so that the reference is the target */
#define LATE	100.0

START_TEST(test_init)
{
	struct hgq_betactl b;

	hgq_betactl_init(&b, 5000, 2e-6, 10);
	ck_assert(b.target == 5000);
	ck_assert(b.ramp == HGQ_BETACTL_RAMP * 10);
	ck_assert(b.start == 0);
	ck_assert(b.ratio == 1);
	ck_assert(b.beta == 2e-6);
	ck_assert(b.integ == log(2e-6));
	/* a schedule of 0 starts at the default, an absurd one is clamped */
	hgq_betactl_init(&b, 5000, 0, 10);
	ck_assert(b.beta == HGQ_BETACTL_BETA0);
	hgq_betactl_init(&b, 5000, 7, 10);
	ck_assert(b.beta == HGQ_BETACTL_BETA_MAX);
}
END_TEST

START_TEST(test_step_exact)
{
	struct hgq_betactl b;
	double e, integ, beta;

	/* on target: nothing moves (the first step sets the start) */
	hgq_betactl_init(&b, 1000, 1e-6, 10);
	beta = hgq_betactl_step(&b, 1000, LATE, 50);
	ck_assert(b.start == 1000);
	ck_assert(beta == exp(log(1e-6)));
	ck_assert(b.integ == log(1e-6));
	/* 25 % above, ratio 0.5 (so the estimate is 2.5 x the target) */
	hgq_betactl_init(&b, 1000, 1e-6, 10);
	b.ratio = 0.5;
	beta = hgq_betactl_step(&b, 2500, LATE, 50);
	e = log(0.5 * 2500 / 1000.0);
	integ = log(1e-6) + HGQ_BETACTL_KI * e * (1.0 / 50);
	ck_assert(b.integ == integ);
	ck_assert(beta == exp(integ + HGQ_BETACTL_KP * e));
	ck_assert(b.beta == beta);
	ck_assert(beta > 1e-6);
	/* below: beta falls */
	hgq_betactl_init(&b, 1000, 1e-6, 10);
	beta = hgq_betactl_step(&b, 800, LATE, 50);
	ck_assert(beta < 1e-6);
	e = log(800 / 1000.0);
	integ = log(1e-6) + HGQ_BETACTL_KI_LOW * e * (1.0 / 50);
	ck_assert(beta == exp(integ + HGQ_BETACTL_KP * e));
}
END_TEST

START_TEST(test_clamps)
{
	struct hgq_betactl b;
	double integ;

	/* an error beyond a factor e counts as e (or 1/e) */
	hgq_betactl_init(&b, 1000, 1e-6, 10);
	hgq_betactl_step(&b, 1e9, LATE, 4);
	integ = log(1e-6) + HGQ_BETACTL_KI * 1.0 * (1.0 / 4);
	ck_assert(b.integ == integ);
	ck_assert(b.beta == exp(integ + HGQ_BETACTL_KP));
	/* 0 EBOPs (an empty network) is far below */
	hgq_betactl_init(&b, 1000, 1e-6, 10);
	hgq_betactl_step(&b, 0, LATE, 4);
	ck_assert(b.start == 0);
	integ = log(1e-6) - HGQ_BETACTL_KI_LOW * (1.0 / 4);
	ck_assert(b.integ == integ);
	ck_assert(b.beta == exp(integ - HGQ_BETACTL_KP));
	/* held far above or below for long: beta stops at its bounds */
	hgq_betactl_init(&b, 1000, 1e-6, 10);
	for (int k = 0; k < 1000; k++)
		hgq_betactl_step(&b, 1e9, LATE, 10);
	ck_assert(b.integ == log(HGQ_BETACTL_BETA_MAX));
	ck_assert(b.beta == exp(log(HGQ_BETACTL_BETA_MAX)));
	for (int k = 0; k < 1000; k++)
		hgq_betactl_step(&b, 1, LATE, 10);
	ck_assert(b.integ == log(HGQ_BETACTL_BETA_MIN));
	ck_assert(b.beta == exp(log(HGQ_BETACTL_BETA_MIN)));
}
END_TEST

START_TEST(test_reference)
{
	struct hgq_betactl b;

	hgq_betactl_init(&b, 1000, 1e-6, 10);
	hgq_betactl_step(&b, 16000, 0, 100);
	ck_assert(b.start == 16000);
	ck_assert(hgq_betactl_ref(&b, 0) == 16000);
	ck_assert(hgq_betactl_ref(&b, b.ramp / 2) == 16000 *
	    pow(1000 / 16000.0, 0.5));
	ck_assert(fabs(hgq_betactl_ref(&b, b.ramp / 2) - 4000) < 1e-9);
	ck_assert(hgq_betactl_ref(&b, b.ramp) == 1000);
	ck_assert(hgq_betactl_ref(&b, 10) == 1000);
	/* on the reference mid-ramp, nothing moves */
	hgq_betactl_step(&b, hgq_betactl_ref(&b, 1), 1, 100);
	ck_assert(b.integ == log(1e-6));
	/* a new ratio rescales the start: the reference does not jump */
	hgq_betactl_epoch(&b, 3000, 12000);
	ck_assert(b.ratio == 0.25);
	ck_assert(b.start == 4000);
	ck_assert(hgq_betactl_ref(&b, b.ramp) == 1000);
	/* 0 on either side keeps the ratio */
	hgq_betactl_epoch(&b, 0, 12000);
	hgq_betactl_epoch(&b, 3000, 0);
	ck_assert(b.ratio == 0.25);
	/* a start below the target: the target from the beginning */
	hgq_betactl_init(&b, 1000, 1e-6, 10);
	hgq_betactl_step(&b, 500, 0, 100);
	ck_assert(hgq_betactl_ref(&b, 0) == 1000);
}
END_TEST

START_TEST(test_text)
{
	struct hgq_betactl b, c;
	char buf[HGQ_BETACTL_TEXT];
	static const char *const bad[] = {
		"", "1 2 3", "0x1p+0 0x1p+0 0x1p+0 0x1p+0 0x1p+0",
		"0x1p+0 0x1p+0 0x1p+0 -0x1p+4 0x1p+0 0x1p-20 x",
		"0 0x1p+0 0x1p+0 -0x1p+4 0x1p+0 0x1p-20",	/* target 0 */
		"nan 0x1p+0 0x1p+0 -0x1p+4 0x1p+0 0x1p-20",
		"inf 0x1p+0 0x1p+0 -0x1p+4 0x1p+0 0x1p-20",
		"0x1p+0 -1 0x1p+0 -0x1p+4 0x1p+0 0x1p-20",	/* ramp */
		"0x1p+0 0x1p+0 -1 -0x1p+4 0x1p+0 0x1p-20",	/* start */
		"0x1p+0 0x1p+0 0x1p+0 0x1p+4 0x1p+0 0x1p-20",	/* integ */
		"0x1p+0 0x1p+0 0x1p+0 -0x1p+4 0 0x1p-20",	/* ratio */
		"0x1p+0 0x1p+0 0x1p+0 -0x1p+4 0x1p+0 1",	/* beta */
		"0x1p+0 0x1p+0 0x1p+0 -0x1p+4 0x1p+0 0x1p-60",
	};

	hgq_betactl_init(&b, 30000, 1e-7, 24);
	hgq_betactl_step(&b, 512345.5, 0.25, 211);
	hgq_betactl_epoch(&b, 300543, 504083.1);
	hgq_betactl_format(&b, buf);
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(hgq_betactl_parse(&c, buf), 1);
	ck_assert_mem_eq(&c, &b, sizeof(b));
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		memcpy(&c, &b, sizeof(b));
		ck_assert_msg(hgq_betactl_parse(&c, bad[k]) == 0, "%s", bad[k]);
		ck_assert_mem_eq(&c, &b, sizeof(b));
	}
}
END_TEST

/*
 * The closed loop on a model of what training does: the exact EBOPs X
 * drift at a rate set by how far ln(beta) is from an equilibrium, with a
 * lag (X follows a state that follows beta), and the estimate the
 * trainer reports is X / 0.6.  Over 24 epochs of 200 steps the loop
 * must descend from 500,000 without falling more than 20 % below the
 * target and end within 1 % of it.
 */
static double
plant_run(double target, double *lowest)
{
	const double ln_eq = log(3e-6), gain = 0.004, lag = 0.05;
	struct hgq_betactl b;
	double lnx = log(500000), drift = 0, est;

	hgq_betactl_init(&b, target, 1e-7, 24);
	*lowest = INFINITY;
	for (int ep = 0; ep < 24; ep++) {
		for (int s = 0; s < 200; s++) {
			drift += lag * (gain * (log(b.beta) - ln_eq) - drift);
			lnx -= drift;
			est = exp(lnx) / 0.6;
			hgq_betactl_step(&b, est, ep + (s + 1) / 200.0, 200);
		}
		hgq_betactl_epoch(&b, (uint64_t)exp(lnx), est);
		if (exp(lnx) < *lowest)
			*lowest = exp(lnx);
	}
	return exp(lnx);
}

START_TEST(test_closed_loop)
{
	static const double targets[] = { 30000, 100000 };

	for (size_t k = 0; k < 2; k++) {
		double low, x = plant_run(targets[k], &low);

		ck_assert_msg(fabs(x / targets[k] - 1) < 0.01,
		    "target %.0f: ended at %.0f", targets[k], x);
		ck_assert_msg(low > 0.8 * targets[k],
		    "target %.0f: fell to %.0f", targets[k], low);
	}
}
END_TEST

Suite	*betactl_suite(void);

Suite *
betactl_suite(void)
{
	Suite *s = suite_create("betactl");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_init);
	tcase_add_test(tc, test_step_exact);
	tcase_add_test(tc, test_clamps);
	tcase_add_test(tc, test_reference);
	tcase_add_test(tc, test_text);
	tcase_add_test(tc, test_closed_loop);
	suite_add_tcase(s, tc);
	return s;
}
