/*
 * check_cmvm.c - the CMVM solver: on random matrices (mixed fractional
 * bits, zeros, signed and unsigned inputs of any width) the adder graph
 * evaluated in C equals x W exactly, every node stays inside its interval
 * (so no width can overflow), outputs respect the depth limit, sharing
 * never costs adders, and the result does not depend on the threads.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "fixture.h"
#include "unit.h"

struct prob {
	uint32_t	 n_in, n_out;
	struct hgq_ival	*x;
	int32_t		*depth;
	int32_t		*w_m;
	int8_t		*w_f;
};

static void
prob_random(struct prob *p, uint32_t n_in, uint32_t n_out, int wbits)
{
	p->n_in = n_in;
	p->n_out = n_out;
	p->x = calloc(n_in + 1, sizeof(*p->x));
	p->depth = calloc(n_in + 1, sizeof(*p->depth));
	p->w_m = calloc((size_t)n_in * n_out + 1, sizeof(*p->w_m));
	p->w_f = calloc((size_t)n_in * n_out + 1, sizeof(*p->w_f));
	for (uint32_t i = 0; i < n_in; i++) {
		int k = (int)(fx_rnd() % 2), b = (int)fx_rnd_i64(0, 10);

		if (fx_rnd() % 8 == 0) {
			p->x[i].lo = p->x[i].hi = 0;	/* pruned input */
		} else if (k) {
			p->x[i].lo = -((int64_t)1 << b);
			p->x[i].hi = ((int64_t)1 << b) - 1;
		} else {
			p->x[i].lo = 0;
			p->x[i].hi = ((int64_t)1 << (b + 1)) - 1;
		}
		if (fx_rnd() % 4 == 0)	/* an odd interval, not a format */
			p->x[i].hi -= fx_rnd_i64(0, p->x[i].hi - p->x[i].lo);
		p->x[i].e = (int32_t)fx_rnd_i64(-4, 4);
		p->depth[i] = (int32_t)fx_rnd_i64(0, 2);
	}
	for (size_t j = 0; j < (size_t)n_in * n_out; j++) {
		if (fx_rnd() % 4 == 0)
			continue;
		p->w_m[j] = (int32_t)fx_rnd_i64(-(1 << (wbits - 1)),
		    (1 << (wbits - 1)) - 1);
		p->w_f[j] = (int8_t)fx_rnd_i64(-3, 6);
	}
}

static void
prob_free(struct prob *p)
{
	free(p->x);
	free(p->depth);
	free(p->w_m);
	free(p->w_f);
}

static int
ceil_log2(uint64_t v)
{
	int d = 0;

	while (((uint64_t)1 << d) < v)
		d++;
	return d;
}

/*
 * Check solution s of p on n_vec random inputs (and the extreme corners):
 * exact results, nodes within their intervals, depths and the adder
 * count of the graph's own bookkeeping.
 */
static void
check_solution(const struct prob *p, const struct hgq_cmvm *s, int extra,
    int n_vec)
{
	int64_t *xm = calloc(p->n_in + 1, sizeof(*xm));
	int64_t *buf = calloc(s->n_nodes + 1, sizeof(*buf));
	int64_t *y = calloc(p->n_out + 1, sizeof(*y));
	int32_t *ye = calloc(p->n_out + 1, sizeof(*ye));
	int32_t emin = INT32_MAX;

	ck_assert_uint_eq(s->n_adders, s->n_nodes - p->n_in);
	for (uint32_t j = p->n_in; j < s->n_nodes; j++) {
		const struct hgq_cmvm_node *nd = &s->nodes[j];

		/* topological, depth = max + 1 */
		ck_assert_int_lt(nd->a, (int32_t)j);
		ck_assert_int_lt(nd->b, (int32_t)j);
		ck_assert_int_ge(nd->a, 0);
		ck_assert_int_ge(nd->b, 0);
		ck_assert_int_eq(nd->depth, 1 + (s->nodes[nd->a].depth >
		    s->nodes[nd->b].depth ? s->nodes[nd->a].depth :
		    s->nodes[nd->b].depth));
	}
	/* the minimal depth and the limit */
	for (uint32_t c = 0; c < p->n_out; c++) {
		uint64_t sum2 = 0;
		int md;

		for (uint32_t i = 0; i < p->n_in; i++) {
			int64_t m = p->w_m[(size_t)i * p->n_out + c];

			if (p->x[i].lo == 0 && p->x[i].hi == 0)
				continue;
			while (m != 0) {	/* NAF weight */
				if (m & 1) {
					sum2 += (uint64_t)1 << p->depth[i];
					m -= (m & 3) == 1 ? 1 : -1;
				}
				m /= 2;
			}
		}
		md = sum2 == 0 ? 0 : ceil_log2(sum2);
		ck_assert_int_le(md, s->min_depth);
		if (extra >= 0 && s->out[c].node >= 0)
			ck_assert_int_le(s->nodes[s->out[c].node].depth,
			    s->min_depth + extra);
	}
	for (uint32_t i = 0; i < p->n_in; i++)
		for (uint32_t j = 0; j < p->n_out; j++) {
			int32_t e = p->x[i].e - p->w_f[(size_t)i * p->n_out + j];

			emin = e < emin ? e : emin;
		}
	for (int t = 0; t < n_vec; t++) {
		for (uint32_t i = 0; i < p->n_in; i++) {
			if (t == 0)
				xm[i] = p->x[i].lo;
			else if (t == 1)
				xm[i] = p->x[i].hi;
			else
				xm[i] = fx_rnd_i64(p->x[i].lo, p->x[i].hi);
		}
		hgq_cmvm_eval(s, xm, buf, y, ye);
		for (uint32_t j = 0; j < s->n_nodes; j++) {
			ck_assert_int_ge(buf[j], s->nodes[j].v.lo);
			ck_assert_int_le(buf[j], s->nodes[j].v.hi);
		}
		for (uint32_t j = 0; j < p->n_out; j++) {
			__int128 ref = 0, got;

			for (uint32_t i = 0; i < p->n_in; i++) {
				size_t at = (size_t)i * p->n_out + j;
				int32_t e = p->x[i].e - p->w_f[at];

				ref += (__int128)xm[i] * p->w_m[at] *
				    ((__int128)1 << (e - emin));
			}
			if (y[j] == 0) {
				ck_assert_msg(ref == 0, "output %u: 0 instead "
				    "of a value", j);
				continue;
			}
			ck_assert_int_ge(ye[j], emin);
			got = (__int128)y[j] * ((__int128)1 << (ye[j] - emin));
			ck_assert_msg(got == ref, "output %u wrong on vector "
			    "%d", j, t);
		}
	}
	free(xm);
	free(buf);
	free(y);
	free(ye);
}

START_TEST(test_random_exact)
{
	fx_rng_state = 0x1234567ull + (uint64_t)_i * 7919;
	for (int round = 0; round < 40; round++) {
		struct hgq_err err = HGQ_ERR_INIT;
		struct hgq_cmvm_params par;
		struct hgq_cmvm *s = NULL;
		struct prob p;
		uint32_t n_in = (uint32_t)fx_rnd_i64(1, 14);
		uint32_t n_out = (uint32_t)fx_rnd_i64(1, 14);
		int extra = (int)fx_rnd_i64(-1, 3);

		prob_random(&p, n_in, n_out, (int)fx_rnd_i64(1, 9));
		hgq_cmvm_params_init(&par);
		par.max_extra_depth = extra;
		par.method = (int)fx_rnd_i64(0, 2);
		par.variants = (int)fx_rnd_i64(0, 3);
		par.threads = (int)fx_rnd_i64(0, 3);
		ck_assert_int_eq(hgq_cmvm_solve(&s, p.x, p.depth, n_in, n_out,
		    p.w_m, p.w_f, &par, &err), HGQ_OK);
		check_solution(&p, s, extra, 50);
		hgq_cmvm_free(s);
		prob_free(&p);
	}
}
END_TEST

/* a wider matrix than the columns of one bitset word */
START_TEST(test_wide)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_cmvm *s = NULL;
	struct prob p;

	fx_rng_state = 99;
	prob_random(&p, 20, 150, 8);
	ck_assert_int_eq(hgq_cmvm_solve(&s, p.x, p.depth, p.n_in, p.n_out,
	    p.w_m, p.w_f, NULL, &err), HGQ_OK);
	check_solution(&p, s, 2, 30);
	hgq_cmvm_free(s);
	prob_free(&p);
}
END_TEST

/*
 * The runs of several variants give the same graph whatever the number of
 * threads, and the best of them is never worse than the first alone.
 */
START_TEST(test_threads)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_cmvm_params par;
	struct hgq_cmvm *s[4] = { NULL, NULL, NULL, NULL };
	struct prob p;

	fx_rng_state = 777;
	prob_random(&p, 24, 40, 8);
	hgq_cmvm_params_init(&par);
	par.variants = 3;
	for (int t = 0; t < 3; t++) {
		par.threads = t + 1;
		ck_assert_int_eq(hgq_cmvm_solve(&s[t], p.x, p.depth, p.n_in,
		    p.n_out, p.w_m, p.w_f, &par, &err), HGQ_OK);
		check_solution(&p, s[t], par.max_extra_depth, 20);
	}
	for (int t = 1; t < 3; t++) {
		ck_assert_uint_eq(s[t]->n_nodes, s[0]->n_nodes);
		ck_assert_uint_eq(s[t]->cost, s[0]->cost);
		for (uint32_t j = 0; j < s[0]->n_nodes; j++) {
			const struct hgq_cmvm_node *a = &s[t]->nodes[j];
			const struct hgq_cmvm_node *b = &s[0]->nodes[j];

			ck_assert(a->a == b->a && a->b == b->b &&
			    a->shift == b->shift && a->sub == b->sub);
		}
		for (uint32_t j = 0; j < p.n_out; j++)
			ck_assert(s[t]->out[j].node == s[0]->out[j].node &&
			    s[t]->out[j].shift == s[0]->out[j].shift &&
			    s[t]->out[j].neg == s[0]->out[j].neg);
	}
	par.variants = 1;
	ck_assert_int_eq(hgq_cmvm_solve(&s[3], p.x, p.depth, p.n_in, p.n_out,
	    p.w_m, p.w_f, &par, &err), HGQ_OK);
	ck_assert_uint_le(s[0]->n_adders, s[3]->n_adders);
	for (int t = 0; t < 4; t++)
		hgq_cmvm_free(s[t]);
	prob_free(&p);
}
END_TEST

/* sharing never needs more adders than one tree per column */
START_TEST(test_sharing_helps)
{
	fx_rng_state = 4242;
	for (int round = 0; round < 10; round++) {
		struct hgq_err err = HGQ_ERR_INIT;
		struct hgq_cmvm_params par;
		struct hgq_cmvm *s0 = NULL, *s1 = NULL, *s2 = NULL;
		struct prob p;

		prob_random(&p, 16, 16, 8);
		hgq_cmvm_params_init(&par);
		par.method = HGQ_CMVM_NONE;
		ck_assert_int_eq(hgq_cmvm_solve(&s0, p.x, NULL, 16, 16, p.w_m,
		    p.w_f, &par, &err), HGQ_OK);
		par.method = HGQ_CMVM_WMC;
		ck_assert_int_eq(hgq_cmvm_solve(&s1, p.x, NULL, 16, 16, p.w_m,
		    p.w_f, &par, &err), HGQ_OK);
		par.method = HGQ_CMVM_MC;
		ck_assert_int_eq(hgq_cmvm_solve(&s2, p.x, NULL, 16, 16, p.w_m,
		    p.w_f, &par, &err), HGQ_OK);
		ck_assert_uint_lt(s1->n_adders, s0->n_adders);
		ck_assert_uint_lt(s2->n_adders, s0->n_adders);
		ck_assert_int_eq(s0->depth, s0->min_depth);
		hgq_cmvm_free(s0);
		hgq_cmvm_free(s1);
		hgq_cmvm_free(s2);
		prob_free(&p);
	}
}
END_TEST

/* identical columns: the second costs nothing */
START_TEST(test_identical_columns)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_ival x[4];
	int32_t w[8] = { 3, 3, -5, -5, 7, 7, 1, 1 };
	struct hgq_cmvm *s = NULL;

	for (int i = 0; i < 4; i++) {
		x[i].lo = -8;
		x[i].hi = 7;
		x[i].e = 0;
	}
	ck_assert_int_eq(hgq_cmvm_solve(&s, x, NULL, 4, 2, w, NULL, NULL,
	    &err), HGQ_OK);
	ck_assert_int_eq(s->out[0].node, s->out[1].node);
	ck_assert_int_eq(s->out[0].shift, s->out[1].shift);
	/* 3x0 - 5x1 + 7x2 + x3: NAF has 2+2+2+1 = 7 digits, 6 adders */
	ck_assert_uint_le(s->n_adders, 6);
	hgq_cmvm_free(s);
}
END_TEST

START_TEST(test_degenerate)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_ival x[2] = { { -4, 3, 0 }, { 0, 0, 0 } };
	int32_t w[4] = { 0, -4, 5, 6 };
	int64_t xm[2] = { -3, 0 }, buf[8], y[2];
	int32_t ye[2];
	struct hgq_cmvm *s = NULL;

	/* column 0: all zero or zero input; column 1: -x0 * 4 */
	ck_assert_int_eq(hgq_cmvm_solve(&s, x, NULL, 2, 2, w, NULL, NULL,
	    &err), HGQ_OK);
	ck_assert_int_eq(s->out[0].node, -1);
	ck_assert_int_eq(s->out[1].node, 0);
	ck_assert_int_eq(s->out[1].neg, 1);
	ck_assert_int_eq(s->out[1].shift, 2);
	ck_assert_uint_eq(s->n_adders, 0);
	hgq_cmvm_eval(s, xm, buf, y, ye);
	ck_assert_int_eq(y[0], 0);
	ck_assert_int_eq(y[1] * (1 << ye[1]), 12);
	hgq_cmvm_free(s);

	/* no inputs at all */
	ck_assert_int_eq(hgq_cmvm_solve(&s, x, NULL, 0, 3, w, NULL, NULL,
	    &err), HGQ_OK);
	for (int j = 0; j < 3; j++)
		ck_assert_int_eq(s->out[j].node, -1);
	hgq_cmvm_free(s);
}
END_TEST

START_TEST(test_errors)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_ival x[2] = { { 3, 2, 0 }, { 0, 1, 0 } };
	struct hgq_ival big[2] = {
		{ -((int64_t)1 << 60), ((int64_t)1 << 60) - 1, 0 },
		{ -((int64_t)1 << 60), ((int64_t)1 << 60) - 1, 0 },
	};
	int32_t w[2] = { 1, 1 }, wbig[2] = { 7, 7 };
	struct hgq_cmvm *s = NULL;

	ck_assert_int_eq(hgq_cmvm_solve(&s, x, NULL, 2, 1, w, NULL, NULL,
	    &err), HGQ_EINVAL);
	ck_assert_ptr_null(s);
	ck_assert(strlen(err.msg) > 0);
	/* 7 x0 + 7 x1 with |x| up to 2^60 needs more than 62 bits */
	ck_assert_int_eq(hgq_cmvm_solve(&s, big, NULL, 2, 1, wbig, NULL,
	    NULL, &err), HGQ_ERANGE);
	ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_ival)
{
	struct hgq_ival a = { -8, 7, 0 }, b = { 0, 3, -1 }, o;
	int sg, low;

	ck_assert_int_eq(hgq_ival_width(0, 0, &sg), 0);
	ck_assert_int_eq(sg, 0);
	ck_assert_int_eq(hgq_ival_width(0, 1, &sg), 1);
	ck_assert_int_eq(hgq_ival_width(-1, 0, &sg), 1);
	ck_assert_int_eq(sg, 1);
	ck_assert_int_eq(hgq_ival_width(-8, 7, NULL), 4);
	ck_assert_int_eq(hgq_ival_width(-9, 7, NULL), 5);
	ck_assert_int_eq(hgq_ival_width(-8, 8, NULL), 5);
	ck_assert_int_eq(hgq_ival_width(5, 255, NULL), 8);
	/* a - b*2^1: b*2 at exponent 0, finer than nothing */
	ck_assert_int_eq(hgq_ival_add(&o, &a, &b, 1, 1), HGQ_OK);
	ck_assert_int_eq(o.e, 0);
	ck_assert_int_eq(o.lo, -11);
	ck_assert_int_eq(o.hi, 7);
	/* a + b: exponent -1, a's mantissas doubled */
	ck_assert_int_eq(hgq_ival_add(&o, &a, &b, 0, 0), HGQ_OK);
	ck_assert_int_eq(o.e, -1);
	ck_assert_int_eq(o.lo, -16);
	ck_assert_int_eq(o.hi, 17);
	/* the low bit of b passes through, the adder is 6 - 1 bits */
	ck_assert_int_eq(hgq_add_span(&a, &b, 0, 0, &o, &low), 5);
	ck_assert_int_eq(low, 1);
	/* subtracting the finer operand needs the whole width */
	ck_assert_int_eq(hgq_ival_add(&o, &a, &b, 0, 1), HGQ_OK);
	ck_assert_int_eq(hgq_add_span(&a, &b, 0, 1, &o, &low), 6);
	ck_assert_int_eq(low, 0);
}
END_TEST

Suite *
cmvm_suite(void)
{
	Suite *s = suite_create("cmvm");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_random_exact, 0, 5);
	tcase_add_test(tc, test_wide);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_sharing_helps);
	tcase_add_test(tc, test_identical_columns);
	tcase_add_test(tc, test_degenerate);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_ival);
	suite_add_tcase(s, tc);
	return s;
}
