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
	suite_add_tcase(s, tc);
	return s;
}
