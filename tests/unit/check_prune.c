/*
 * check_prune.c - hgq_prune keeps the function bit for bit (the engine's
 * outputs of the original and the pruned model are identical on
 * thousands of random inputs, inside and far outside the calibrated
 * range), keeps EBOPs, is idempotent to the byte, and refuses a model
 * that prunes to nothing without touching it.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "fixture.h"
#include "unit.h"

/* ------------------------------------------------------------------ */
/* Models                                                              */
/* ------------------------------------------------------------------ */

/* random quantizer formats: about a quarter of the elements pruned */
static void
random_quant(struct hgq_layer *q)
{
	q->round = (uint8_t)fx_rnd_int(0, 1);
	q->overflow = (uint8_t)fx_rnd_int(0, 2);
	for (uint32_t e = 0; e < q->n_out; e++) {
		int k = fx_rnd_int(0, 1), f = fx_rnd_int(-2, 5);
		int w = fx_rnd_int(0, 3) == 0 ? fx_rnd_int(-1, 0) : fx_rnd_int(1, 8);

		q->k[e] = (int8_t)k;
		q->f[e] = (int8_t)f;
		q->i[e] = (int8_t)(w - k - f);
	}
}

/* random weights: zeros, sometimes whole zero rows and columns */
static void
random_dense(struct hgq_layer *d, int last)
{
	uint32_t ni = d->n_in, no = d->n_out;
	int zr = fx_rnd_int(0, 2) == 0 ? fx_rnd_int(0, (int)ni - 1) : -1;
	int zc = fx_rnd_int(0, 2) == 0 ? fx_rnd_int(0, (int)no - 1) : -1;

	d->act = last ? HGQ_ACT_LINEAR : (uint8_t)fx_rnd_int(0, 1);
	for (uint32_t i = 0; i < ni; i++)
		for (uint32_t j = 0; j < no; j++) {
			size_t at = (size_t)i * no + j;

			d->w_m[at] = fx_rnd_int(0, 2) == 0 ? 0 : fx_rnd_int(-60, 60);
			if ((int)i == zr || (int)j == zc)
				d->w_m[at] = 0;
			d->w_f[at] = (int8_t)fx_rnd_int(-2, 6);
		}
	for (uint32_t j = 0; j < no; j++) {
		d->b_m[j] = fx_rnd_int(0, 3) == 0 ? 0 : fx_rnd_int(-40, 40);
		d->b_f[j] = (int8_t)fx_rnd_int(-1, 6);
	}
}

/*
 * a random calibrated model n[0] -> ... -> n[nl], with extra raw columns,
 * a random index map, normalisation, calibration ranges and a little
 * training state (which pruning drops)
 */
static struct hgq_model *
random_model(const uint32_t *n, int nl)
{
	struct hgq_model *m = fx_chain(n, nl);
	struct hgq_layer *l;
	uint32_t n0 = n[0], n_raw = n0 + (uint32_t)fx_rnd_int(0, 3), left = n0;

	for (int d = 0; d <= nl; d++) {
		if (d > 0)
			random_dense(&m->layers[2 * d - 1], d == nl);
		l = &m->layers[2 * d];
		random_quant(l);
		l->cal_min = calloc(n[d], sizeof(double));
		l->cal_max = calloc(n[d], sizeof(double));
		for (uint32_t e = 0; e < n[d]; e++) {
			l->cal_min[e] = -(double)e;
			l->cal_max[e] = (double)e + 0.5;
		}
		ck_assert_ptr_nonnull(hgq_layer_add_tensor(l,
		    HGQ_ROLE_ACT_ISTATE, n[d], NULL));
	}
	ck_assert_int_eq(hgq_model_set_input(m, n_raw, NULL), HGQ_OK);
	for (uint32_t c = 0, e = 0; c < n_raw && left > 0; c++)
		if ((uint32_t)fx_rnd_int(0, (int)(n_raw - c) - 1) < left) {
			m->index_map[e++] = c;
			left--;
		}
	if (fx_rnd_int(0, 1)) {
		m->norm = HGQ_NORM_STANDARD;
		m->norm_offset = calloc(n_raw, sizeof(double));
		m->norm_scale = calloc(n_raw, sizeof(double));
		for (uint32_t c = 0; c < n_raw; c++) {
			m->norm_offset[c] = fx_rnd_int(-20, 20) / 8.0;
			m->norm_scale[c] = fx_rnd_int(1, 300) / 64.0;
		}
	}
	m->has_train = 1;
	m->train.epoch = 3;
	m->calibrated = 1;
	ck_assert_int_eq(hgq_model_validate(m, NULL), HGQ_OK);
	return m;
}

/*
 * random inputs: within a few units, far outside (up to 2^40), exact
 * zeros, tiny values and points on a coarse grid (ties for RND)
 */
static double *
random_inputs(size_t n, uint32_t n_raw)
{
	double *x = malloc(n * n_raw * sizeof(double));

	ck_assert_ptr_nonnull(x);
	for (size_t a = 0; a < n * n_raw; a++) {
		switch (fx_rnd_int(0, 5)) {
		case 0:
			x[a] = 0;
			break;
		case 1:
			x[a] = ldexp(fx_rnd_unit() - 0.5, fx_rnd_int(6, 40));
			break;
		case 2:
			x[a] = ldexp(fx_rnd_int(-64, 64), -fx_rnd_int(0, 6));
			break;
		case 3:
			x[a] = ldexp(fx_rnd_unit() - 0.5, -fx_rnd_int(8, 30));
			break;
		default:
			x[a] = (fx_rnd_unit() - 0.5) * 8;
		}
	}
	return x;
}

/* the engine's outputs (n * n_out mantissas) of m on x */
static int64_t *
run(const struct hgq_model *m, const double *x, size_t n)
{
	struct hgq_engine *e;
	struct hgq_err err = HGQ_ERR_INIT;
	int64_t *out;

	ck_assert_msg(hgq_engine_new(&e, m, &err) == HGQ_OK, "%s", err.msg);
	out = malloc(n * hgq_engine_n_out(e) * sizeof(int64_t));
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(hgq_engine_run(e, x, n, out, NULL, 2), HGQ_OK);
	hgq_engine_free(e);
	return out;
}

/* the model's bytes as written */
static char *
bytes(const struct hgq_model *m, size_t *len)
{
	struct hgq_err err = HGQ_ERR_INIT;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	ck_assert_ptr_nonnull(f);
	ck_assert_msg(hgq_model_write(f, m, 0, &err) == HGQ_OK, "%s", err.msg);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

/* a and b write the same bytes */
static void
assert_same_bytes(const struct hgq_model *a, const struct hgq_model *b)
{
	size_t la, lb;
	char *ba = bytes(a, &la), *bb = bytes(b, &lb);

	ck_assert_uint_eq(la, lb);
	ck_assert_mem_eq(ba, bb, la);
	free(ba);
	free(bb);
}

/*
 * ebops_zeroed - the EBOPs of dense chain m once every element of a
 * hidden quantizer that is 0 for every input (a neuron whose bias is 0
 * and whose non-zero weights meet only such elements or width 0) gets
 * width 0: what pruning removes besides dead elements, so the EBOPs of
 * the pruned model.  Never more than hgq_ebops_total(m).
 */
static uint64_t
ebops_zeroed(const struct hgq_model *m)
{
	struct hgq_model *z = hgq_model_copy(m);
	uint64_t e;

	ck_assert_ptr_nonnull(z);
	for (uint32_t l = 1; l + 2 < z->n_layers; l += 2) {
		const struct hgq_layer *qi = &z->layers[l - 1];
		const struct hgq_layer *d = &z->layers[l];
		struct hgq_layer *qo = &z->layers[l + 1];

		for (uint32_t j = 0; j < d->n_out; j++) {
			bool zero = d->b_m[j] == 0;

			for (uint32_t i = 0; i < d->n_in && zero; i++)
				zero = qi->k[i] + qi->i[i] + qi->f[i] <= 0 ||
				    d->w_m[(size_t)i * d->n_out + j] == 0;
			if (zero)
				qo->k[j] = qo->i[j] = qo->f[j] = 0;
		}
	}
	e = hgq_ebops_total(z);
	ck_assert_uint_le(e, hgq_ebops_total(m));
	hgq_model_free(z);
	return e;
}

/*
 * check_pruning - prune a copy of m and check everything the contract
 * promises against m; returns 1 if the model pruned, 0 if it prunes to
 * nothing (then the copy must be unchanged).
 */
static int
check_pruning(const struct hgq_model *m, size_t n_rows)
{
	struct hgq_model *p = hgq_model_copy(m), *p2;
	struct hgq_prune_report r, r2;
	struct hgq_err err = HGQ_ERR_INIT;
	uint64_t ebops = ebops_zeroed(m);
	double *x;
	int64_t *y0, *y1;
	int rc;

	ck_assert_ptr_nonnull(p);
	rc = hgq_prune(p, &r, &err);
	if (rc != HGQ_OK) {
		ck_assert_int_eq(rc, HGQ_EINVAL);
		ck_assert_str_eq(err.msg, "model prunes to nothing: every "
		    "input is unused");
		ck_assert_ptr_null(r.layer);
		assert_same_bytes(m, p);
		hgq_model_free(p);
		return 0;
	}
	ck_assert_int_eq(hgq_model_validate(p, NULL), HGQ_OK);

	/* the same function on inputs of every kind */
	x = random_inputs(n_rows, m->n_raw);
	y0 = run(m, x, n_rows);
	y1 = run(p, x, n_rows);
	ck_assert_uint_eq(hgq_model_n_out(p), hgq_model_n_out(m));
	ck_assert_int_eq(p->n_raw, m->n_raw);
	ck_assert_mem_eq(y0, y1, n_rows * hgq_model_n_out(m) *
	    sizeof(int64_t));
	free(x);
	free(y0);
	free(y1);

	/* EBOPs are those of m with its always-0 elements at width 0;
	   nothing dead is left */
	ck_assert_uint_eq(hgq_ebops_total(p), ebops);
	{
		struct hgq_ebops_report er;

		ck_assert_int_eq(hgq_ebops_report(p, &er, &err), HGQ_OK);
		for (uint32_t d = 0; d < er.n_dense; d++) {
			ck_assert_uint_eq(er.layer[d].inputs_pruned, 0);
			if (d + 1 < er.n_dense)
				ck_assert_uint_eq(er.layer[d].outputs_pruned,
				    0);
		}
		hgq_ebops_report_release(&er);
	}

	/* the report matches the shapes */
	ck_assert_uint_eq(r.n_dense, m->n_layers / 2);
	for (uint32_t d = 0; d < r.n_dense; d++) {
		const struct hgq_prune_stats *s = &r.layer[d];
		const struct hgq_layer *dl = &p->layers[2 * d + 1];

		ck_assert_uint_eq(s->n_in, m->layers[2 * d + 1].n_in);
		ck_assert_uint_eq(s->n_out, m->layers[2 * d + 1].n_out);
		ck_assert_uint_eq(s->new_in, dl->n_in);
		ck_assert_uint_eq(s->new_out, dl->n_out);
		ck_assert_uint_eq(s->inputs_removed, s->n_in - s->new_in);
		ck_assert_uint_eq(s->neurons_removed, s->n_out - s->new_out);
	}
	ck_assert_int_eq(r.passes, r.changed ? 1 : 0);

	/* the training state is gone, the metadata says what happened */
	ck_assert_int_eq(p->has_train, 0);
	for (uint32_t l = 0; l < p->n_layers; l++)
		ck_assert_uint_eq(p->layers[l].n_tensors, 0);
	ck_assert_ptr_nonnull(hgq_meta_get(p, "pruned"));

	/* pruning again changes nothing, to the byte */
	p2 = hgq_model_copy(p);
	ck_assert_ptr_nonnull(p2);
	ck_assert_int_eq(hgq_prune(p2, &r2, &err), HGQ_OK);
	ck_assert_int_eq(r2.changed, 0);
	ck_assert_int_eq(r2.passes, 0);
	assert_same_bytes(p, p2);
	hgq_prune_report_release(&r2);
	hgq_prune_report_release(&r);
	hgq_model_free(p2);
	hgq_model_free(p);
	return 1;
}

START_TEST(test_random_models)
{
	int pruned = 0, nothing = 0, changed = 0;

	fx_rng_state = 4242;
	for (int rep = 0; rep < 150; rep++) {
		uint32_t n[6];
		int nl = fx_rnd_int(1, 4);
		struct hgq_model *m;

		for (int d = 0; d <= nl; d++)
			n[d] = (uint32_t)fx_rnd_int(1, 14);
		m = random_model(n, nl);
		if (check_pruning(m, 2000)) {
			struct hgq_model *p = hgq_model_copy(m);
			struct hgq_prune_report r;

			pruned++;
			ck_assert_int_eq(hgq_prune(p, &r, NULL), HGQ_OK);
			changed += r.changed;
			hgq_prune_report_release(&r);
			hgq_model_free(p);
		} else
			nothing++;
		hgq_model_free(m);
	}
	/* the generator exercises both outcomes */
	ck_assert_int_gt(nothing, 0);
	ck_assert_int_gt(changed, 0);
	ck_assert_int_gt(pruned, 75);
}
END_TEST

/*
 * "Trained" models: random weights, quantizer k and i calibrated on
 * data (so that neurons ReLU keeps at 0 get width 0), then inputs from
 * inside and far outside the calibrated range.
 */
START_TEST(test_calibrated_models)
{
	int changed = 0;

	fx_rng_state = 99;
	for (int rep = 0; rep < 40; rep++) {
		uint32_t n[5];
		int nl = fx_rnd_int(2, 4);
		struct hgq_model *m;
		struct hgq_err err = HGQ_ERR_INIT;
		struct hgq_prune_report r;
		struct hgq_model *p;
		size_t n_cal = 500;
		double *x;

		for (int d = 0; d <= nl; d++)
			n[d] = (uint32_t)fx_rnd_int(2, 16);
		m = random_model(n, nl);
		/* small weights, so that the ranges stay within 32 bits */
		for (uint32_t l = 1; l < m->n_layers; l += 2)
			for (uint32_t a = 0; a < m->layers[l].n_in *
			    m->layers[l].n_out; a++)
				m->layers[l].w_f[a] = (int8_t)fx_rnd_int(4, 8);
		x = malloc(n_cal * m->n_raw * sizeof(double));
		for (size_t a = 0; a < n_cal * m->n_raw; a++)
			x[a] = (fx_rnd_unit() - 0.5) * 4;
		ck_assert_msg(hgq_calibrate(m, x, n_cal, 1, &err) == HGQ_OK,
		    "%s", err.msg);
		free(x);
		check_pruning(m, 3000);
		p = hgq_model_copy(m);
		if (hgq_prune(p, &r, NULL) == HGQ_OK)
			changed += r.changed;
		hgq_prune_report_release(&r);
		hgq_model_free(p);
		hgq_model_free(m);
	}
	ck_assert_int_gt(changed, 0);
}
END_TEST

/* the hand example of check_ebops.c, pruned: shapes, maps, values */
START_TEST(test_hand)
{
	static const uint32_t n[] = { 4, 3, 2 };
	static const int w0[] = { 3, 0, 4, 2 }, w2[] = { 4, 5, 0 };
	static const int32_t d1[4][3] = {
		{ 1, 0, 2 }, { 5, 5, 5 }, { 0, 0, 3 }, { 0, 7, 0 },
	};
	static const int32_t d3[3][2] = { { 1, 3 }, { 0, 0 }, { 3, 3 } };
	static const uint32_t map[] = { 1, 2, 4, 5 };
	struct hgq_model *m = hgq_model_new();
	struct hgq_prune_report r;
	struct hgq_err err = HGQ_ERR_INIT;
	const struct hgq_layer *l;

	for (int d = 0; d <= 2; d++) {
		struct hgq_layer *q;

		if (d > 0) {
			struct hgq_layer *dl = hgq_model_add_layer(m,
			    HGQ_LAYER_DENSE, n[d - 1], n[d]);

			ck_assert_int_eq(hgq_layer_alloc_fixed(dl, NULL),
			    HGQ_OK);
			dl->act = HGQ_ACT_RELU;
			for (uint32_t j = 0; j < n[d]; j++) {
				dl->b_m[j] = (int32_t)(10 * d + j);
				dl->b_f[j] = 1;
			}
		}
		q = hgq_model_add_layer(m, HGQ_LAYER_QUANT, n[d], n[d]);
		ck_assert_int_eq(hgq_layer_alloc_fixed(q, NULL), HGQ_OK);
		q->cal_min = calloc(n[d], sizeof(double));
		q->cal_max = calloc(n[d], sizeof(double));
		for (uint32_t e = 0; e < n[d]; e++) {
			q->i[e] = (int8_t)(d == 0 ? w0[e] : d == 1 ? w2[e] : 3);
			q->cal_max[e] = 100 * d + e;
		}
	}
	for (uint32_t i = 0; i < 4; i++)
		for (uint32_t j = 0; j < 3; j++)
			m->layers[1].w_m[i * 3 + j] = d1[i][j];
	for (uint32_t i = 0; i < 3; i++)
		for (uint32_t j = 0; j < 2; j++)
			m->layers[3].w_m[i * 2 + j] = d3[i][j];
	ck_assert_int_eq(hgq_model_set_input(m, 7, NULL), HGQ_OK);
	memcpy(m->index_map, map, sizeof(map));
	m->calibrated = 1;
	ck_assert_int_eq(hgq_meta_set(m, "tool", "test", NULL), HGQ_OK);

	ck_assert_int_eq(hgq_prune(m, &r, &err), HGQ_OK);
	ck_assert_int_eq(m->n_layers, 5);
	ck_assert_int_eq(m->n_raw, 7);
	ck_assert_int_eq(m->index_map[0], 1);
	l = &m->layers[0];
	ck_assert_int_eq(l->n_out, 1);
	ck_assert_int_eq(l->i[0], 3);
	l = &m->layers[1];
	ck_assert_int_eq(l->n_in, 1);
	ck_assert_int_eq(l->n_out, 1);
	ck_assert_int_eq(l->w_m[0], 1);
	ck_assert_int_eq(l->b_m[0], 10);
	l = &m->layers[2];
	ck_assert_int_eq(l->n_out, 1);
	ck_assert_int_eq(l->i[0], 4);
	ck_assert(l->cal_max[0] == 100);
	l = &m->layers[3];
	ck_assert_int_eq(l->n_in, 1);
	ck_assert_int_eq(l->n_out, 2);
	ck_assert_int_eq(l->w_m[0], 1);
	ck_assert_int_eq(l->w_m[1], 3);
	ck_assert_int_eq(l->b_m[0], 20);
	ck_assert_int_eq(l->b_m[1], 21);
	ck_assert_int_eq(m->layers[4].n_out, 2);
	ck_assert(m->layers[4].cal_max[1] == 201);
	ck_assert_str_eq(hgq_meta_get(m, "pruned"), "4-3-2 -> 1-1-2");
	ck_assert_str_eq(hgq_meta_get(m, "tool"), "test");
	ck_assert_uint_eq(hgq_ebops_total(m), 15);

	ck_assert_int_eq(r.n_dense, 2);
	ck_assert_int_eq(r.changed, 1);
	ck_assert_int_eq(r.layer[0].inputs_removed, 3);
	ck_assert_int_eq(r.layer[0].neurons_removed, 2);
	ck_assert_int_eq(r.layer[0].zero_weights, 0);
	ck_assert_int_eq(r.layer[1].index, 3);
	ck_assert_int_eq(r.layer[1].inputs_removed, 2);
	ck_assert_int_eq(r.layer[1].neurons_removed, 0);
	ck_assert_int_eq(r.layer[1].outputs_cleared, 0);
	hgq_prune_report_release(&r);

	/* a zero-width output keeps its place; its weights are cleared */
	m->layers[4].i[1] = 0;
	ck_assert_int_eq(hgq_prune(m, &r, &err), HGQ_OK);
	ck_assert_int_eq(r.changed, 1);
	ck_assert_int_eq(r.layer[1].outputs_cleared, 1);
	ck_assert_int_eq(r.layer[1].zero_weights, 1);
	ck_assert_int_eq(m->layers[3].n_out, 2);
	ck_assert_int_eq(m->layers[3].w_m[1], 0);
	ck_assert_int_eq(m->layers[3].b_m[1], 0);
	ck_assert_int_eq(m->layers[3].b_m[0], 20);
	ck_assert_str_eq(hgq_meta_get(m, "pruned"), "1-1-2 -> 1-1-2");
	hgq_prune_report_release(&r);
	hgq_model_free(m);
}
END_TEST

/* every input unused: refused with a clear message, m unchanged */
START_TEST(test_nothing)
{
	static const uint32_t n[] = { 3, 4, 2 };
	struct hgq_model *m, *p;
	struct hgq_prune_report r;
	struct hgq_err err = HGQ_ERR_INIT;

	fx_rng_state = 5;
	m = random_model(n, 2);
	for (uint32_t e = 0; e < 3; e++)
		m->layers[0].i[e] = (int8_t)(-m->layers[0].k[e] -
		    m->layers[0].f[e]);
	p = hgq_model_copy(m);
	ck_assert_int_eq(hgq_prune(p, &r, &err), HGQ_EINVAL);
	ck_assert_str_eq(err.msg,
	    "model prunes to nothing: every input is unused");
	assert_same_bytes(m, p);
	hgq_model_free(p);

	/* the same when the weights of the first layer are all zero */
	fx_rng_state = 6;
	p = random_model(n, 2);
	memset(p->layers[1].w_m, 0, 12 * sizeof(int32_t));
	ck_assert_int_eq(hgq_prune(p, NULL, &err), HGQ_EINVAL);
	hgq_model_free(p);
	hgq_model_free(m);
}
END_TEST

START_TEST(test_refusals)
{
	static const uint32_t n[] = { 3, 2 };
	struct hgq_model *m;
	struct hgq_prune_report r;
	struct hgq_err err = HGQ_ERR_INIT;

	fx_rng_state = 8;
	m = random_model(n, 1);
	m->calibrated = 0;
	ck_assert_int_eq(hgq_prune(m, &r, &err), HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "model was never calibrated");
	m->calibrated = 1;
	m->layers[1].n_in = 2;		/* shapes that do not join */
	ck_assert_int_eq(hgq_prune(m, &r, &err), HGQ_EINVAL);
	m->layers[1].n_in = 3;
	hgq_prune_report_release(&r);
	hgq_model_free(m);
}
END_TEST

/*
 * A model with the most metadata entries allowed: an earlier "pruned"
 * is replaced; without one there is no room, and hgq_prune refuses
 * before it changes anything.
 */
START_TEST(test_full_meta)
{
	static const uint32_t n[] = { 3, 2 };
	struct hgq_model *m, *p;
	struct hgq_err err = HGQ_ERR_INIT;
	char key[16];

	fx_rng_state = 11;
	m = random_model(n, 1);
	for (uint32_t e = 0; e < 3; e++) {	/* input 2 is dead */
		m->layers[0].k[e] = 0;
		m->layers[0].f[e] = 1;
		m->layers[0].i[e] = e == 2 ? -1 : 3;
	}
	for (int j = 0; j < HGQ_MAX_META; j++) {
		snprintf(key, sizeof(key), "k%d", j);
		ck_assert_int_eq(hgq_meta_set(m, key, "v", NULL), HGQ_OK);
	}
	ck_assert_int_eq(hgq_meta_set(m, "one-more", "v", NULL), HGQ_EINVAL);
	p = hgq_model_copy(m);
	ck_assert_int_eq(hgq_prune(p, NULL, &err), HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "no room for the metadata entry 'pruned': "
	    "the model has 1024 entries, the limit");
	assert_same_bytes(m, p);
	hgq_model_free(p);

	/* with an entry "pruned" among them, it is replaced */
	free(m->meta[7].key);
	m->meta[7].key = strdup("pruned");
	ck_assert_int_eq(hgq_prune(m, NULL, &err), HGQ_OK);
	ck_assert_uint_eq(m->n_meta, HGQ_MAX_META);
	ck_assert_str_eq(m->meta[7].key, "pruned");
	ck_assert_str_eq(m->meta[7].value, "3-2 -> 2-2");
	hgq_model_free(m);
}
END_TEST

/* a model with nothing dead: only the training state goes */
START_TEST(test_nothing_to_do)
{
	static const uint32_t n[] = { 3, 2 };
	struct hgq_model *m;
	struct hgq_prune_report r;

	fx_rng_state = 11;
	m = random_model(n, 1);
	for (uint32_t e = 0; e < 3; e++) {
		m->layers[0].k[e] = 0;
		m->layers[0].f[e] = 1;
		m->layers[0].i[e] = 3;
	}
	for (uint32_t e = 0; e < 2; e++) {
		m->layers[2].k[e] = 1;
		m->layers[2].f[e] = 0;
		m->layers[2].i[e] = 4;
	}
	for (uint32_t a = 0; a < 6; a++)
		m->layers[1].w_m[a] = (int32_t)a - 2;
	ck_assert_int_eq(hgq_prune(m, &r, NULL), HGQ_OK);
	ck_assert_int_eq(r.changed, 0);
	ck_assert_int_eq(r.passes, 0);
	ck_assert_int_eq(r.layer[0].zero_weights, 1);
	ck_assert_int_eq(m->has_train, 0);
	ck_assert_str_eq(hgq_meta_get(m, "pruned"), "3-2 -> 3-2");
	hgq_prune_report_release(&r);
	hgq_model_free(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Convolutional models                                                */
/* ------------------------------------------------------------------ */

/* append operation kind of output shape od, then its quantizer */
static struct hgq_layer *
add_op(struct hgq_model *m, uint32_t kind, uint32_t rank, const uint32_t *od,
    uint32_t kh, uint32_t kw, uint32_t sh, uint32_t sw, int same)
{
	struct hgq_layer *l = hgq_model_add_shaped(m, kind, rank, od, NULL);
	uint32_t j;

	ck_assert_ptr_nonnull(l);
	l->kernel[0] = kh;
	l->kernel[1] = kw;
	l->stride[0] = sh;
	l->stride[1] = sw;
	l->padding = same ? HGQ_PAD_SAME : HGQ_PAD_VALID;
	j = m->n_layers - 1;
	ck_assert_int_eq(hgq_model_alloc_fixed(m, j, NULL), HGQ_OK);
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT, rank, od,
	    NULL));
	ck_assert_int_eq(hgq_model_alloc_fixed(m, j + 1, NULL), HGQ_OK);
	return &m->layers[j];
}

/*
 * random_cq - random formats for quantizer j; one channel in four (of
 * c, 0: flat) gets width <= 0 throughout
 */
static void
random_cq(struct hgq_model *m, uint32_t j, uint32_t c)
{
	struct hgq_layer *q = &m->layers[j];
	uint32_t dead = c > 1 && fx_rnd_int(0, 3) == 0 ?
	    (uint32_t)fx_rnd_int(0, (int)c - 1) : UINT32_MAX;

	q->round = (uint8_t)fx_rnd_int(0, 1);
	q->overflow = (uint8_t)fx_rnd_int(0, 2);
	q->trainable = 1;
	for (uint32_t e = 0; e < q->n_out; e++) {
		int k = fx_rnd_int(0, 1), f = fx_rnd_int(-2, 5);
		int w = fx_rnd_int(0, 5) == 0 ? fx_rnd_int(-1, 0) :
		    fx_rnd_int(1, 8);

		if (c > 0 && e % c == dead)
			w = fx_rnd_int(-1, 0);
		q->k[e] = (int8_t)k;
		q->f[e] = (int8_t)f;
		q->i[e] = (int8_t)(w - k - f);
	}
}

/*
 * random_cw - random weights of layer j (rows x cols, cols = filters or
 * neurons); sometimes a whole filter is 0 with its bias (it computes
 * nothing) and sometimes a whole input channel of in_c is 0 (rows r
 * with r % in_c == it)
 */
static void
random_cw(struct hgq_model *m, uint32_t j, uint32_t in_c)
{
	struct hgq_layer *l = &m->layers[j];
	uint32_t cols = hgq_layer_n_bias(m, j);
	uint32_t rows = (uint32_t)(hgq_layer_n_weights(m, j) / cols);
	int zc = fx_rnd_int(0, 1) ? fx_rnd_int(0, (int)cols - 1) : -1;
	int zr = in_c > 1 && fx_rnd_int(0, 2) == 0 ?
	    fx_rnd_int(0, (int)in_c - 1) : -1;

	l->act = (uint8_t)fx_rnd_int(0, 1);
	for (uint32_t r = 0; r < rows; r++)
		for (uint32_t c = 0; c < cols; c++) {
			size_t at = (size_t)r * cols + c;

			l->w_m[at] = fx_rnd_int(0, 3) == 0 ? 0 :
			    fx_rnd_int(-60, 60);
			if ((int)c == zc || (zr >= 0 && (int)(r % in_c) == zr))
				l->w_m[at] = 0;
			l->w_f[at] = (int8_t)fx_rnd_int(-2, 6);
		}
	for (uint32_t c = 0; c < cols; c++) {
		l->b_m[c] = (int)c == zc || fx_rnd_int(0, 3) == 0 ? 0 :
		    fx_rnd_int(-40, 40);
		l->b_f[c] = (int8_t)fx_rnd_int(-1, 5);
	}
}

/* a window layer on [H, W, C] (rank 2: [W, C]) with a random geometry */
static void
random_window(struct hgq_model *m, uint32_t kind, uint32_t rank, uint32_t *d)
{
	uint32_t H = rank == 3 ? d[0] : 1, W = d[rank - 2], C = d[rank - 1];
	bool conv = kind == HGQ_LAYER_CONV1D || kind == HGQ_LAYER_CONV2D;
	int same = conv && fx_rnd_int(0, 1);
	uint32_t kh = 1, kw, sh, sw, oh, ow, oc = C, od[3];

	if (conv) {
		if (rank == 3)
			kh = (uint32_t)fx_rnd_int(1, H < 3 ? (int)H : 3);
		kw = (uint32_t)fx_rnd_int(1, W < 3 ? (int)W : 3);
		oc = (uint32_t)fx_rnd_int(1, 6);
	} else {
		if (rank == 3)
			kh = H >= 2 ? 2 : 1;
		kw = W >= 2 ? 2 : 1;
	}
	sh = rank == 3 ? (uint32_t)fx_rnd_int(1, 2) : 1;
	sw = (uint32_t)fx_rnd_int(1, 2);
	if (!conv)
		sh = kh, sw = kw;
	oh = same ? (H + sh - 1) / sh : (H - kh) / sh + 1;
	ow = same ? (W + sw - 1) / sw : (W - kw) / sw + 1;
	if (rank == 3)
		od[0] = oh, od[1] = ow, od[2] = oc;
	else
		od[0] = ow, od[1] = oc;
	add_op(m, kind, rank, od, kh, kw, sh, sw, same);
	if (conv)
		random_cw(m, m->n_layers - 2, C);
	random_cq(m, m->n_layers - 1, oc);
	memcpy(d, od, sizeof(od));
}

/*
 * a random calibrated conv model: [W, C] or [H, W, C] input, conv, maybe
 * pooling, maybe a second conv, maybe flatten and dense; dead channels
 * and filters on purpose
 */
static struct hgq_model *
random_conv_model(void)
{
	struct hgq_model *m = hgq_model_new();
	uint32_t rank = (uint32_t)fx_rnd_int(2, 3), d[3] = { 0 }, conv;

	ck_assert_ptr_nonnull(m);
	if (rank == 3) {
		d[0] = (uint32_t)fx_rnd_int(2, 6);
		d[1] = (uint32_t)fx_rnd_int(2, 6);
		d[2] = (uint32_t)fx_rnd_int(1, 3);
	} else {
		d[0] = (uint32_t)fx_rnd_int(2, 10);
		d[1] = (uint32_t)fx_rnd_int(1, 3);
	}
	conv = rank == 3 ? HGQ_LAYER_CONV2D : HGQ_LAYER_CONV1D;
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT, rank, d,
	    NULL));
	ck_assert_int_eq(hgq_model_alloc_fixed(m, 0, NULL), HGQ_OK);
	random_cq(m, 0, d[rank - 1]);
	random_window(m, conv, rank, d);
	if (fx_rnd_int(0, 2) != 0)
		random_window(m, fx_rnd_int(0, 1) ? HGQ_LAYER_MAXPOOL :
		    HGQ_LAYER_AVGPOOL, rank, d);
	if (fx_rnd_int(0, 1))
		random_window(m, conv, rank, d);
	if (fx_rnd_int(0, 2) != 0) {
		uint32_t c = d[rank - 1];
		uint32_t n = m->layers[m->n_layers - 1].n_out;
		uint32_t o = (uint32_t)fx_rnd_int(1, 4);

		add_op(m, HGQ_LAYER_FLATTEN, 1, &n, 0, 0, 0, 0, 0);
		random_cq(m, m->n_layers - 1, 0);
		add_op(m, HGQ_LAYER_DENSE, 1, &o, 0, 0, 0, 0, 0);
		random_cw(m, m->n_layers - 2, c);
		random_cq(m, m->n_layers - 1, 0);
	}
	ck_assert_int_eq(hgq_model_set_input(m, m->layers[0].n_out, NULL),
	    HGQ_OK);
	m->calibrated = 1;
	ck_assert_int_eq(hgq_model_validate(m, NULL), HGQ_OK);
	return m;
}

/* the channels (last dimension) of quantizer l */
static uint32_t
channels(const struct hgq_model *m, uint32_t l)
{
	uint32_t d[HGQ_MAX_RANK], r = hgq_layer_shape(&m->layers[l], d);

	return d[r - 1];
}

/*
 * Random conv models with dead filters and channels: the engine gives
 * the same outputs before and after, inside and far outside the range;
 * EBOPs never grow; every quantizer keeps its rank; pruning again
 * changes nothing; and channels do go.
 */
START_TEST(test_conv_models)
{
	int pruned = 0, removed = 0, nothing = 0;

	fx_rng_state = 1212;
	for (int rep = 0; rep < 200; rep++) {
		struct hgq_model *m = random_conv_model(), *p, *p2;
		struct hgq_prune_report r, r2;
		struct hgq_err err = HGQ_ERR_INIT;
		size_t n_rows = 300;
		double *x;
		int64_t *y0, *y1;

		p = hgq_model_copy(m);
		ck_assert_ptr_nonnull(p);
		if (hgq_prune(p, &r, &err) != HGQ_OK) {
			ck_assert_str_eq(err.msg, "model prunes to nothing: "
			    "every input is unused");
			assert_same_bytes(m, p);
			nothing++;
			hgq_model_free(p);
			hgq_model_free(m);
			continue;
		}
		pruned++;
		ck_assert_msg(hgq_model_validate(p, &err) == HGQ_OK, "%s",
		    err.msg);
		x = random_inputs(n_rows, m->n_raw);
		y0 = run(m, x, n_rows);
		y1 = run(p, x, n_rows);
		ck_assert_uint_eq(hgq_model_n_out(p), hgq_model_n_out(m));
		ck_assert_mem_eq(y0, y1, n_rows * hgq_model_n_out(m) *
		    sizeof(int64_t));
		free(x);
		free(y0);
		free(y1);
		ck_assert_uint_le(hgq_ebops_total(p), hgq_ebops_total(m));
		ck_assert_uint_eq(p->n_layers, m->n_layers);
		ck_assert_uint_eq(p->layers[0].n_out, m->layers[0].n_out);
		for (uint32_t l = 0; l < p->n_layers; l++) {
			ck_assert_uint_eq(p->layers[l].rank,
			    m->layers[l].rank);
			if (l % 2 == 0 && l > 0 && p->layers[l].rank >= 2 &&
			    channels(p, l) < channels(m, l))
				removed++;
		}
		for (uint32_t n = 0; n < r.n_dense; n++) {
			const struct hgq_prune_stats *s = &r.layer[n];

			ck_assert_uint_eq(s->kind, m->layers[2 * n + 1].kind);
			ck_assert_uint_eq(s->out_c, channels(m, 2 * n + 2));
			ck_assert_uint_eq(s->new_out_c, channels(p, 2 * n + 2));
			ck_assert_uint_eq(s->in_c, channels(m, 2 * n));
			ck_assert_uint_eq(s->new_in_c, channels(p, 2 * n));
		}
		p2 = hgq_model_copy(p);
		ck_assert_ptr_nonnull(p2);
		ck_assert_int_eq(hgq_prune(p2, &r2, &err), HGQ_OK);
		ck_assert_int_eq(r2.changed, 0);
		assert_same_bytes(p, p2);
		hgq_prune_report_release(&r2);
		hgq_prune_report_release(&r);
		hgq_model_free(p2);
		hgq_model_free(p);
		hgq_model_free(m);
	}
	ck_assert_int_gt(pruned, 100);
	ck_assert_int_gt(removed, 30);
	ck_assert_int_gt(nothing, 0);
}
END_TEST

/*
 * A hand-made conv model [6, 6, 1] -> conv2d 4 3x3 -> [4, 4, 4] ->
 * conv2d 3 1x1 -> [4, 4, 3] -> maxpool 2x2 -> [2, 2, 3] -> flatten [12]
 * -> dense 2.  Filter 1 of the first conv is all zero (kernel and bias),
 * filter 3 has width 0 throughout: the second conv loses those 2 input
 * channels.  Its filter 0 is all zero: the pooling loses channel 0, the
 * flatten its elements 0, 3, 6, 9 and the dense layer those rows.  Every
 * kept weight is a power of two (span 1), every width 6, so EBOPs are
 * 16*9*2*6 + 16*3*2*6 + 12*2*6 = 2448 before (the all-zero channel 1
 * still costs its multiplications in the second conv and, through the
 * pooling, in the dense layer) and 16*9*2*6 + 16*2*2*6 + 8*2*6 = 2208
 * after.
 */
START_TEST(test_conv_hand)
{
	static const uint32_t d0[] = { 6, 6, 1 }, d1[] = { 4, 4, 4 },
	    d2[] = { 4, 4, 3 }, d3[] = { 2, 2, 3 }, n4 = 12, n5 = 2;
	static const uint32_t rows[] = { 1, 2, 4, 5, 7, 8, 10, 11 };
	struct hgq_model *m = hgq_model_new(), *o;
	struct hgq_prune_report r;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_layer *l;
	double *x;
	int64_t *y0, *y1;

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT, 3, d0,
	    NULL));
	ck_assert_int_eq(hgq_model_alloc_fixed(m, 0, NULL), HGQ_OK);
	add_op(m, HGQ_LAYER_CONV2D, 3, d1, 3, 3, 1, 1, 0);
	add_op(m, HGQ_LAYER_CONV2D, 3, d2, 1, 1, 1, 1, 0);
	add_op(m, HGQ_LAYER_MAXPOOL, 3, d3, 2, 2, 2, 2, 0);
	add_op(m, HGQ_LAYER_FLATTEN, 1, &n4, 0, 0, 0, 0, 0);
	add_op(m, HGQ_LAYER_DENSE, 1, &n5, 0, 0, 0, 0, 0);
	for (uint32_t q = 0; q < m->n_layers; q += 2) {
		l = &m->layers[q];
		l->overflow = HGQ_SAT;
		for (uint32_t e = 0; e < l->n_out; e++) {
			l->k[e] = 1;
			l->i[e] = 3;
			l->f[e] = 2;
			if (q == 2 && e % 4 == 3)
				l->i[e] = -3;	/* width 0 */
		}
	}
	l = &m->layers[1];
	for (uint32_t t = 0; t < 9; t++) {
		l->w_m[t * 4 + 0] = 1 << (t % 3);
		l->w_m[t * 4 + 2] = -(1 << (t % 3));
		l->w_m[t * 4 + 3] = 8;
	}
	l->b_m[0] = l->b_m[2] = 1;
	l->b_m[3] = 5;
	l = &m->layers[3];
	for (uint32_t c = 0; c < 4; c++) {
		l->w_m[c * 3 + 1] = 1;
		l->w_m[c * 3 + 2] = 2;
	}
	l->b_m[1] = l->b_m[2] = 1;
	l = &m->layers[9];
	for (uint32_t e = 0; e < 12; e++) {
		l->w_m[e * 2 + 0] = 1 << (e % 8);
		l->w_m[e * 2 + 1] = -(1 << (e % 8));
	}
	ck_assert_int_eq(hgq_model_set_input(m, 36, NULL), HGQ_OK);
	m->calibrated = 1;
	ck_assert_int_eq(hgq_model_validate(m, NULL), HGQ_OK);
	ck_assert_uint_eq(hgq_ebops_total(m), 2448);
	o = hgq_model_copy(m);
	ck_assert_ptr_nonnull(o);

	ck_assert_msg(hgq_prune(m, &r, &err) == HGQ_OK, "%s", err.msg);
	ck_assert_int_eq(hgq_model_validate(m, NULL), HGQ_OK);
	ck_assert_str_eq(hgq_meta_get(m, "pruned"), "6x6x1-4x4x4-4x4x3-2x2x3-"
	    "12-2 -> 6x6x1-4x4x2-4x4x2-2x2x2-8-2");
	ck_assert_uint_eq(hgq_ebops_total(m), 2208);
	/* first conv: filters 0 and 2 */
	l = &m->layers[1];
	ck_assert_uint_eq(hgq_layer_n_weights(m, 1), 9 * 2);
	for (uint32_t t = 0; t < 9; t++) {
		ck_assert_int_eq(l->w_m[t * 2 + 0], 1 << (t % 3));
		ck_assert_int_eq(l->w_m[t * 2 + 1], -(1 << (t % 3)));
	}
	ck_assert_int_eq(l->b_m[0], 1);
	ck_assert_int_eq(l->b_m[1], 1);
	ck_assert_uint_eq(m->layers[2].n_out, 32);
	/* second conv: input channels 0 and 2, filters 1 and 2 */
	l = &m->layers[3];
	ck_assert_uint_eq(l->n_in, 32);
	ck_assert_uint_eq(hgq_layer_n_weights(m, 3), 2 * 2);
	for (uint32_t a = 0; a < 4; a++)
		ck_assert_int_eq(l->w_m[a], a % 2 == 0 ? 1 : 2);
	ck_assert_uint_eq(m->layers[5].n_out, 8);
	ck_assert_uint_eq(m->layers[7].n_out, 8);
	/* dense: the rows of channels 1 and 2 */
	l = &m->layers[9];
	ck_assert_uint_eq(l->n_in, 8);
	ck_assert_uint_eq(l->n_out, 2);
	for (uint32_t a = 0; a < 8; a++) {
		ck_assert_int_eq(l->w_m[a * 2], 1 << (rows[a] % 8));
		ck_assert_int_eq(l->w_m[a * 2 + 1], -(1 << (rows[a] % 8)));
	}
	/* the report */
	ck_assert_uint_eq(r.n_dense, 5);
	ck_assert_uint_eq(r.layer[0].out_c - r.layer[0].new_out_c, 2);
	ck_assert_uint_eq(r.layer[1].in_c - r.layer[1].new_in_c, 2);
	ck_assert_uint_eq(r.layer[1].out_c - r.layer[1].new_out_c, 1);
	ck_assert_uint_eq(r.layer[2].new_out_c, 2);
	ck_assert_uint_eq(r.layer[3].neurons_removed, 4);
	ck_assert_uint_eq(r.layer[4].inputs_removed, 4);
	ck_assert_uint_eq(r.passes, 1);
	hgq_prune_report_release(&r);

	/* the same function */
	fx_rng_state = 77;
	x = random_inputs(500, 36);
	y0 = run(o, x, 500);
	y1 = run(m, x, 500);
	ck_assert_mem_eq(y0, y1, 500 * 2 * sizeof(int64_t));
	free(x);
	free(y0);
	free(y1);
	hgq_model_free(o);
	hgq_model_free(m);
}
END_TEST

Suite *
prune_suite(void)
{
	Suite *s = suite_create("prune");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_hand);
	tcase_add_test(tc, test_random_models);
	tcase_add_test(tc, test_calibrated_models);
	tcase_add_test(tc, test_nothing);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_full_meta);
	tcase_add_test(tc, test_nothing_to_do);
	tcase_add_test(tc, test_conv_models);
	tcase_add_test(tc, test_conv_hand);
	suite_add_tcase(s, tc);
	return s;
}
