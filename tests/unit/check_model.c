/*
 * check_model.c - the model object: lifecycle, tensors, metadata, deep
 * copy, and hgq_model_validate() accepting good models and rejecting
 * each broken invariant with its own message.
 */
#include "unit.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "internal.h"

/*
 * good_model - quantizer(3) -> dense 3x2 -> quantizer(2) -> dense 2x1 ->
 * quantizer(1), 5 raw columns, calibrated, with tensors and metadata.
 */
static struct hgq_model *
good_model(void)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	static const uint32_t sizes[] = { 3, 2, 1 };

	ck_assert_ptr_nonnull(m);
	for (int s = 0; s < 3; s++) {
		if (s > 0)
			ck_assert_ptr_nonnull(hgq_model_add_layer(m,
			    HGQ_LAYER_DENSE, sizes[s - 1], sizes[s]));
		ck_assert_ptr_nonnull(hgq_model_add_layer(m, HGQ_LAYER_QUANT,
		    sizes[s], sizes[s]));
	}
	ck_assert_int_eq(hgq_model_set_input(m, 5, &err), HGQ_OK);
	m->index_map[0] = 0;
	m->index_map[1] = 2;
	m->index_map[2] = 4;
	for (uint32_t j = 0; j < m->n_layers; j++) {
		struct hgq_layer *l = &m->layers[j];

		ck_assert_int_eq(hgq_layer_alloc_fixed(l, &err), HGQ_OK);
		if (l->kind == HGQ_LAYER_QUANT) {
			for (uint32_t e = 0; e < l->n_out; e++) {
				l->k[e] = (int8_t)(e % 2);
				l->i[e] = (int8_t)(2 - (int)e);
				l->f[e] = 3;
			}
			ck_assert_ptr_nonnull(hgq_layer_add_tensor(l,
			    HGQ_ROLE_ACT_FBITS, l->n_out, &err));
			ck_assert_ptr_nonnull(hgq_layer_add_tensor(l,
			    HGQ_ROLE_ACT_ISTATE, l->n_out, &err));
		} else {
			for (uint32_t e = 0; e < l->n_in * l->n_out; e++) {
				l->w_m[e] = (int32_t)e - 2;
				l->w_f[e] = 2;
			}
			l->act = HGQ_ACT_RELU;
			ck_assert_ptr_nonnull(hgq_layer_add_tensor(l,
			    HGQ_ROLE_WEIGHT, l->n_in * l->n_out, &err));
			ck_assert_ptr_nonnull(hgq_layer_add_tensor(l,
			    HGQ_ROLE_WEIGHT | HGQ_ROLE_M1, l->n_in * l->n_out,
			    &err));
			ck_assert_ptr_nonnull(hgq_layer_add_tensor(l,
			    HGQ_ROLE_BIAS_FBITS, l->n_out, &err));
		}
	}
	m->calibrated = 1;
	ck_assert_int_eq(hgq_meta_set(m, "tool", "check", &err), HGQ_OK);
	ck_assert_int_eq(hgq_model_validate(m, &err), HGQ_OK);
	return m;
}

START_TEST(test_lifecycle)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	struct hgq_layer *l;
	struct hgq_tensor *t, *t2;

	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->n_layers, 0);
	ck_assert_uint_eq(m->norm, HGQ_NORM_NONE);
	ck_assert_uint_eq(m->write_flags, 0);
	ck_assert(m->train.lr_scale == 1.0);
	ck_assert_uint_eq(hgq_model_n_out(m), 0);
	ck_assert_int_eq(hgq_model_set_input(m, 3, &err), HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "set_input: the model has no layers yet");

	l = hgq_model_add_layer(m, HGQ_LAYER_QUANT, 4, 4);
	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_null(l->k);
	ck_assert_int_eq(hgq_model_set_input(m, 3, &err), HGQ_EINVAL);
	ck_assert_int_eq(hgq_model_set_input(m, 6, &err), HGQ_OK);
	ck_assert_uint_eq(m->n_raw, 6);
	for (uint32_t j = 0; j < 4; j++)
		ck_assert_uint_eq(m->index_map[j], j);
	ck_assert_int_eq(hgq_layer_alloc_fixed(l, &err), HGQ_OK);
	ck_assert_ptr_nonnull(l->k);
	ck_assert_int_eq(l->k[3], 0);

	/* add, find, replace tensors */
	t = hgq_layer_add_tensor(l, HGQ_ROLE_ACT_FBITS, 4, &err);
	ck_assert_ptr_nonnull(t);
	ck_assert(t->data[3] == 0.0f);
	t->data[0] = 1.5f;
	ck_assert_ptr_eq(hgq_layer_tensor(l, HGQ_ROLE_ACT_FBITS), t);
	ck_assert_ptr_null(hgq_layer_tensor(l, HGQ_ROLE_ACT_ISTATE));
	t2 = hgq_layer_add_tensor(l, HGQ_ROLE_ACT_FBITS, 1, &err);
	ck_assert_ptr_nonnull(t2);
	ck_assert_uint_eq(l->n_tensors, 1);
	ck_assert_uint_eq(t2->n, 1);
	ck_assert(t2->data[0] == 0.0f);

	l = hgq_model_add_layer(m, HGQ_LAYER_DENSE, 4, 7);
	ck_assert_int_eq(hgq_layer_alloc_fixed(l, &err), HGQ_OK);
	ck_assert_ptr_nonnull(l->w_m);
	ck_assert_int_eq(l->w_m[27], 0);
	ck_assert_int_eq(l->b_f[6], 0);
	ck_assert_ptr_nonnull(hgq_model_add_layer(m, HGQ_LAYER_QUANT, 7, 7));
	ck_assert_uint_eq(hgq_model_n_out(m), 7);
	l = hgq_model_add_layer(m, 5, 1, 1);
	ck_assert_int_eq(hgq_layer_alloc_fixed(l, &err), HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "layer kind 5 has no fixed-point arrays");
	hgq_model_free(m);
	hgq_model_free(NULL);
}
END_TEST

START_TEST(test_meta)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	char *big;

	ck_assert_ptr_null(hgq_meta_get(m, "a"));
	ck_assert_int_eq(hgq_meta_set(m, "a", "1", &err), HGQ_OK);
	ck_assert_int_eq(hgq_meta_set(m, "b", "two\nlines", &err), HGQ_OK);
	ck_assert_int_eq(hgq_meta_set(m, "a", "one", &err), HGQ_OK);
	ck_assert_uint_eq(m->n_meta, 2);
	ck_assert_str_eq(hgq_meta_get(m, "a"), "one");
	ck_assert_str_eq(hgq_meta_get(m, "b"), "two\nlines");
	ck_assert_str_eq(m->meta[0].key, "a");

	ck_assert_int_eq(hgq_meta_set(m, "", "x", &err), HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "metadata: empty key");
	ck_assert_int_eq(hgq_meta_set(m, "k", "bad \xc3\x28", &err),
	    HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "metadata: value is not valid UTF-8");
	/* overlong encoding, surrogate, beyond U+10FFFF, cut short */
	ck_assert_int_eq(hgq_meta_set(m, "k", "\xc0\xaf", &err), HGQ_EINVAL);
	ck_assert_int_eq(hgq_meta_set(m, "k", "\xed\xa0\x80", &err),
	    HGQ_EINVAL);
	ck_assert_int_eq(hgq_meta_set(m, "k", "\xf4\x90\x80\x80", &err),
	    HGQ_EINVAL);
	ck_assert_int_eq(hgq_meta_set(m, "k", "\xe2\x89", &err), HGQ_EINVAL);
	ck_assert_int_eq(hgq_meta_set(m, "\xff", "v", &err), HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "metadata: key is not valid UTF-8");
	ck_assert_int_eq(hgq_meta_set(m, "k", "\xf0\x9f\x98\x80 ok", &err),
	    HGQ_OK);

	big = malloc(HGQ_MAX_META_KEY + 2);
	memset(big, 'x', HGQ_MAX_META_KEY + 1);
	big[HGQ_MAX_META_KEY + 1] = '\0';
	ck_assert_int_eq(hgq_meta_set(m, big, "v", &err), HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "metadata: key longer than the limit");
	big[HGQ_MAX_META_KEY] = '\0';
	ck_assert_int_eq(hgq_meta_set(m, big, "v", &err), HGQ_OK);
	free(big);
	ck_assert_uint_eq(m->n_meta, 4);
	hgq_model_free(m);
}
END_TEST

START_TEST(test_copy)
{
	struct hgq_model *m = good_model(), *c;
	struct hgq_err err = HGQ_ERR_INIT;

	m->norm = HGQ_NORM_STANDARD;
	m->norm_offset = calloc(5, sizeof(double));
	m->norm_scale = calloc(5, sizeof(double));
	for (int j = 0; j < 5; j++) {
		m->norm_offset[j] = j * 0.5;
		m->norm_scale[j] = 1.0 / (j + 1);
	}
	m->layers[2].cal_min = calloc(2, sizeof(double));
	m->layers[2].cal_max = calloc(2, sizeof(double));
	m->layers[2].cal_max[1] = 7.25;
	m->n_extra = 1;
	m->extra = calloc(1, sizeof(*m->extra));
	memcpy(m->extra[0].id, "XTRA", 4);
	m->extra[0].len = 3;
	m->extra[0].data = malloc(3);
	memcpy(m->extra[0].data, "abc", 3);
	m->has_train = 1;
	m->train.step = 99;
	m->write_flags = HGQ_WRITE_COMPRESS;
	ck_assert_int_eq(hgq_model_validate(m, &err), HGQ_OK);

	c = hgq_model_copy(m);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(hgq_model_validate(c, &err), HGQ_OK);
	/* every pointer is new, every value the same */
	ck_assert_ptr_ne(c->layers, m->layers);
	ck_assert_ptr_ne(c->index_map, m->index_map);
	ck_assert_mem_eq(c->index_map, m->index_map, 3 * sizeof(uint32_t));
	ck_assert_ptr_ne(c->norm_scale, m->norm_scale);
	ck_assert(c->norm_scale[3] == 0.25);
	ck_assert(c->layers[2].cal_max[1] == 7.25);
	ck_assert_ptr_ne(c->layers[1].w_m, m->layers[1].w_m);
	ck_assert_mem_eq(c->layers[1].w_m, m->layers[1].w_m,
	    6 * sizeof(int32_t));
	ck_assert_ptr_ne(c->layers[1].tensors, m->layers[1].tensors);
	ck_assert_ptr_ne(c->layers[1].tensors[0].data,
	    m->layers[1].tensors[0].data);
	ck_assert_uint_eq(c->layers[1].n_tensors, 3);
	ck_assert_ptr_ne(c->meta[0].key, m->meta[0].key);
	ck_assert_str_eq(c->meta[0].value, "check");
	ck_assert_ptr_ne(c->extra[0].data, m->extra[0].data);
	ck_assert_mem_eq(c->extra[0].data, "abc", 3);
	ck_assert_uint_eq(c->train.step, 99);
	ck_assert_uint_eq(c->write_flags, HGQ_WRITE_COMPRESS);
	/* independent */
	c->layers[0].k[0] = 1;
	ck_assert_int_eq(m->layers[0].k[0], 0);
	hgq_model_free(m);
	ck_assert_uint_eq(hgq_model_n_out(c), 1);
	hgq_model_free(c);
}
END_TEST

START_TEST(test_validate_good)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = good_model();
	struct hgq_layer *q = &m->layers[0], *d = &m->layers[1];

	/* the extremes of the limits are accepted */
	q->k[0] = 1;
	q->i[0] = 62;
	q->f[0] = -31;			/* width 32 */
	q->i[1] = -62;
	q->f[1] = 62;
	q->i[2] = 0;
	q->f[2] = -62;			/* width -62: pruned */
	d->w_f[0] = 62;
	d->w_f[1] = -62;
	d->b_f[1] = -62;
	m->task = HGQ_TASK_REGRESS;
	m->norm = HGQ_NORM_SCALE;
	m->norm_offset = calloc(5, sizeof(double));
	m->norm_scale = malloc(5 * sizeof(double));
	for (int c = 0; c < 5; c++)
		m->norm_scale[c] = -0.5;
	ck_assert_int_eq(hgq_model_validate(m, &err), HGQ_OK);
	ck_assert_int_eq(err.code, 0);	/* untouched on success */

	/* an uncalibrated model needs no fixed-point arrays */
	m->calibrated = 0;
	for (uint32_t j = 0; j < m->n_layers; j++) {
		free(m->layers[j].k);
		m->layers[j].k = NULL;
		free(m->layers[j].w_m);
		m->layers[j].w_m = NULL;
	}
	ck_assert_int_eq(hgq_model_validate(m, &err), HGQ_OK);
	hgq_model_free(m);
}
END_TEST

/* one broken invariant: a mutation of good_model() and the message */
struct breaker {
	void		 (*fn)(struct hgq_model *);
	const char	*msg;
};

static void b_no_layers(struct hgq_model *m) { m->n_layers = 0; }
static void b_even(struct hgq_model *m) { m->n_layers = 4; }
static void b_too_many(struct hgq_model *m) { m->n_layers = 257; }
static void b_kind(struct hgq_model *m) { m->layers[2].kind = HGQ_LAYER_DENSE; }
static void b_kind_dense(struct hgq_model *m) { m->layers[1].kind = 4; }
static void b_zero(struct hgq_model *m) { m->layers[3].n_out = 0; }
static void b_big_n(struct hgq_model *m) { m->layers[1].n_out = HGQ_MAX_N + 1; }
static void b_quant_shape(struct hgq_model *m) { m->layers[4].n_in = 2; }
static void b_dense_in(struct hgq_model *m) { m->layers[3].n_in = 3; }
static void b_next_quant(struct hgq_model *m)
{
	m->layers[2].n_in = m->layers[2].n_out = 1;
}
static void b_weights(struct hgq_model *m)
{
	/* shapes only: drop what would be indexed by the new sizes */
	m->calibrated = 0;
	for (uint32_t t = 0; t < m->layers[0].n_tensors; t++)
		free(m->layers[0].tensors[t].data);
	m->layers[0].n_tensors = 0;
	m->layers[0].n_in = m->layers[0].n_out = 8193;
	m->layers[1].n_in = 8193;
	m->layers[1].n_out = 8193;
	m->layers[2].n_in = m->layers[2].n_out = 8193;
}
static void b_round(struct hgq_model *m) { m->layers[0].round = 2; }
static void b_overflow(struct hgq_model *m) { m->layers[2].overflow = 3; }
static void b_gran(struct hgq_model *m) { m->layers[4].gran = 3; }
static void b_trainable(struct hgq_model *m) { m->layers[4].trainable = 2; }
static void b_act(struct hgq_model *m) { m->layers[1].act = 2; }
static void b_bn(struct hgq_model *m) { m->layers[1].bn = 2; }
static void b_wgran(struct hgq_model *m) { m->layers[3].w_gran = 3; }
static void b_k(struct hgq_model *m) { m->layers[2].k[1] = 2; }
static void b_kneg(struct hgq_model *m) { m->layers[2].k[1] = -1; }
static void b_i(struct hgq_model *m) { m->layers[0].i[2] = 63; }
static void b_f(struct hgq_model *m) { m->layers[0].f[0] = -63; }
static void b_width(struct hgq_model *m)
{
	m->layers[4].k[0] = 1;
	m->layers[4].i[0] = 16;
	m->layers[4].f[0] = 16;
}
static void b_no_k(struct hgq_model *m)
{
	free(m->layers[2].f);
	m->layers[2].f = NULL;
}
static void b_no_wm(struct hgq_model *m)
{
	free(m->layers[3].b_m);
	m->layers[3].b_m = NULL;
}
static void b_wf(struct hgq_model *m) { m->layers[1].w_f[5] = 63; }
static void b_bf(struct hgq_model *m) { m->layers[3].b_f[0] = -63; }
static void b_cal(struct hgq_model *m)
{
	m->layers[2].cal_min = calloc(2, sizeof(double));
}
static void b_task(struct hgq_model *m) { m->task = 2; }
static void b_norm_kind(struct hgq_model *m) { m->norm = 3; }
static void b_norm_missing(struct hgq_model *m) { m->norm = HGQ_NORM_STANDARD; }
static void
set_norm(struct hgq_model *m, double offset, double scale)
{
	m->norm = HGQ_NORM_STANDARD;
	m->norm_offset = calloc(5, sizeof(double));
	m->norm_scale = calloc(5, sizeof(double));
	for (int c = 0; c < 5; c++)
		m->norm_scale[c] = 1.0;
	m->norm_offset[3] = offset;
	m->norm_scale[3] = scale;
}
static void b_norm_nan(struct hgq_model *m) { set_norm(m, NAN, 1.0); }
static void b_norm_inf(struct hgq_model *m) { set_norm(m, 0.0, INFINITY); }
static void b_norm_zero(struct hgq_model *m) { set_norm(m, 0.0, 0.0); }
static void b_norm_half(struct hgq_model *m)
{
	set_norm(m, 0.0, 1.0);
	m->norm = HGQ_NORM_NONE;
	free(m->norm_scale);
	m->norm_scale = NULL;
}
static void
b_norm_none(struct hgq_model *m)
{
	set_norm(m, 0.0, 1.0);
	m->norm = HGQ_NORM_NONE;
	m->norm_scale[4] = 0.5;
}
static void b_raw(struct hgq_model *m) { m->n_raw = 2; }
static void b_raw_big(struct hgq_model *m) { m->n_raw = HGQ_MAX_N + 1; }
static void b_map_order(struct hgq_model *m) { m->index_map[2] = 2; }
static void b_map_range(struct hgq_model *m) { m->index_map[2] = 5; }
static void
b_map_missing(struct hgq_model *m)
{
	free(m->index_map);
	m->index_map = NULL;
}
static void
b_tensor_size(struct hgq_model *m)
{
	m->layers[1].tensors[0].n = 5;
}
static void b_tensor_role(struct hgq_model *m)
{
	m->layers[0].tensors[0].role = HGQ_ROLE_WEIGHT;
}
static void b_tensor_bn(struct hgq_model *m)
{
	m->layers[1].tensors[2].role = HGQ_ROLE_BN_GAMMA;
}
static void b_tensor_mom(struct hgq_model *m)
{
	m->layers[0].tensors[1].role = HGQ_ROLE_ACT_ISTATE | HGQ_ROLE_M2;
}
static void b_tensor_both(struct hgq_model *m)
{
	m->layers[1].tensors[1].role = HGQ_ROLE_WEIGHT | HGQ_ROLE_M1 |
	    HGQ_ROLE_M2;
}
static void b_tensor_dup(struct hgq_model *m)
{
	m->layers[1].tensors[1].role = HGQ_ROLE_WEIGHT;
}
static void b_tensor_gran(struct hgq_model *m)
{
	m->layers[1].b_gran = HGQ_GRAN_LAYER;	/* fbits must become 1 */
}
static void b_tensor_many(struct hgq_model *m)
{
	m->layers[4].n_tensors = HGQ_MAX_TENSORS + 1;
}
static void
b_meta_dup(struct hgq_model *m)
{
	hgq_meta_set(m, "x", "1", NULL);
	free(m->meta[1].key);
	m->meta[1].key = strdup("tool");
}
static void
b_meta_utf8(struct hgq_model *m)
{
	free(m->meta[0].value);
	m->meta[0].value = strdup("a\x80");
}
static void
b_meta_empty(struct hgq_model *m)
{
	free(m->meta[0].key);
	m->meta[0].key = strdup("");
}
static void b_meta_many(struct hgq_model *m) { m->n_meta = HGQ_MAX_META + 1; }
static void
add_extra(struct hgq_model *m, const char *id, uint32_t flags)
{
	struct hgq_chunk *x;

	x = realloc(m->extra, (m->n_extra + 1) * sizeof(*x));
	m->extra = x;
	x += m->n_extra++;
	memcpy(x->id, id, 4);
	x->flags = flags;
	x->len = 0;
	x->data = NULL;
}
static void b_extra_known(struct hgq_model *m) { add_extra(m, "TRNS", 0); }
static void b_extra_req(struct hgq_model *m) { add_extra(m, "ABCD", 1); }
static void b_extra_flags(struct hgq_model *m) { add_extra(m, "ABCD", 4); }
static void b_extra_id(struct hgq_model *m) { add_extra(m, "AB D", 0); }
static void
b_extra_dup(struct hgq_model *m)
{
	add_extra(m, "ABCD", 0);
	add_extra(m, "ABCD", 2);
}

static const struct breaker breakers[] = {
	{ b_no_layers, "the model needs at least quantizer, dense, quantizer"
	    " (has 0 layers)" },
	{ b_even, "the chain must end with a quantizer (has 4 layers)" },
	{ b_too_many, "257 layers exceed the limit 256" },
	{ b_kind, "layer 2: kind 2 where a quantizer is expected" },
	{ b_kind_dense, "layer 1: conv2d needs an input of rank 3 ([H, W, C]),"
	    " not 1" },
	{ b_zero, "layer 3: shape 2x0 outside 1..16777216" },
	{ b_big_n, "layer 1: shape 3x16777217 outside 1..16777216" },
	{ b_quant_shape, "layer 4: quantizer has n_in 2 != n_out 1" },
	{ b_dense_in, "layer 3: dense n_in 3 does not match the quantizer n 2"
	    " before it" },
	{ b_next_quant, "layer 2: quantizer n 1 does not match the 2 outputs"
	    " of layer 1" },
	{ b_weights, "layer 1: 67125249 weights exceed the limit 67108864" },
	{ b_round, "layer 0: quantizer mode out of range (round 2, overflow 0,"
	    " granularity 0, trainable 0)" },
	{ b_overflow, "layer 2: quantizer mode out of range (round 0,"
	    " overflow 3, granularity 0, trainable 0)" },
	{ b_gran, "layer 4: quantizer mode out of range (round 0, overflow 0,"
	    " granularity 3, trainable 0)" },
	{ b_trainable, "layer 4: quantizer mode out of range (round 0,"
	    " overflow 0, granularity 0, trainable 2)" },
	{ b_act, "layer 1: dense mode out of range (activation 2, batchnorm 0,"
	    " weight granularity 0, bias granularity 0)" },
	{ b_bn, "layer 1: dense mode out of range (activation 1, batchnorm 2,"
	    " weight granularity 0, bias granularity 0)" },
	{ b_wgran, "layer 3: dense mode out of range (activation 1,"
	    " batchnorm 0, weight granularity 3, bias granularity 0)" },
	{ b_k, "layer 2 element 1: k = 2 is not 0 or 1" },
	{ b_kneg, "layer 2 element 1: k = -1 is not 0 or 1" },
	{ b_i, "layer 0 element 2: i = 63, f = 3 beyond +-62" },
	{ b_f, "layer 0 element 0: i = 2, f = -63 beyond +-62" },
	{ b_width, "layer 4 element 0: width 33 exceeds 32" },
	{ b_no_k, "layer 2: calibrated model without quantizer k/i/f" },
	{ b_no_wm, "layer 3: calibrated model without dense mantissas" },
	{ b_wf, "layer 1 weight 5: f = 63 beyond +-62" },
	{ b_bf, "layer 3 bias 0: f = -63 beyond +-62" },
	{ b_cal, "layer 2: calibration minimum without maximum or vice"
	    " versa" },
	{ b_task, "task 2 out of range" },
	{ b_norm_kind, "normalisation kind 3 out of range" },
	{ b_norm_missing, "normalisation without offsets and scales" },
	{ b_norm_half, "normalisation offsets without scales or vice versa" },
	{ b_norm_nan, "normalisation offset of column 3 is not finite" },
	{ b_norm_inf, "normalisation scale of column 3 is not finite and"
	    " non-zero" },
	{ b_norm_zero, "normalisation scale of column 3 is not finite and"
	    " non-zero" },
	{ b_norm_none, "normalisation none with offset or scale of column 4"
	    " other than 0 and 1" },
	{ b_raw, "2 raw columns cannot feed 3 inputs" },
	{ b_raw_big, "16777217 raw columns exceed the limit 16777216" },
	{ b_map_order, "index map entry 2 = 2 is not above the one before" },
	{ b_map_range, "index map entry 2 = 5 is not below n_raw 5" },
	{ b_map_missing, "input index map missing" },
	{ b_tensor_size, "layer 1: tensor role 0x1 has 5 floats, expected 6" },
	{ b_tensor_role, "layer 0: tensor role 0x1 does not belong to a"
	    " quantizer layer" },
	{ b_tensor_bn, "layer 1: tensor role 0xa does not belong to a dense"
	    " (without batchnorm) layer" },
	{ b_tensor_mom, "layer 0: tensor role 0x206 does not belong to a"
	    " quantizer layer" },
	{ b_tensor_both, "layer 1: tensor role 0x301 does not belong to a"
	    " dense (without batchnorm) layer" },
	{ b_tensor_dup, "layer 1: tensor role 0x1 appears twice" },
	{ b_tensor_gran, "layer 1: tensor role 0x4 has 2 floats, expected 1" },
	{ b_tensor_many, "layer 4: 65 float tensors, more than 64" },
	{ b_meta_dup, "metadata key 'tool' appears twice" },
	{ b_meta_utf8, "metadata entry 0: value is not valid UTF-8" },
	{ b_meta_empty, "metadata entry 0: empty key" },
	{ b_meta_many, "1025 metadata entries exceed the limit 1024" },
	{ b_extra_known, "extra chunk TRNS: the id of a known chunk" },
	{ b_extra_req, "extra chunk ABCD: flags 0x1 (only an optional chunk"
	    " can be carried)" },
	{ b_extra_flags, "extra chunk ABCD: flags 0x4 (only an optional chunk"
	    " can be carried)" },
	{ b_extra_id, "extra chunk 0: id is not printable ASCII" },
	{ b_extra_dup, "extra chunk ABCD appears twice" },
};

START_TEST(test_validate_broken)
{
	for (size_t b = 0; b < sizeof(breakers) / sizeof(breakers[0]); b++) {
		struct hgq_err err = HGQ_ERR_INIT;
		struct hgq_model *m = good_model();
		uint32_t n_layers = m->n_layers, n_meta = m->n_meta;
		uint32_t n_tensors = m->layers[4].n_tensors;

		breakers[b].fn(m);
		ck_assert_int_eq(hgq_model_validate(m, &err), HGQ_EINVAL);
		ck_assert_int_eq(err.code, HGQ_EINVAL);
		ck_assert_str_eq(err.msg, breakers[b].msg);
		/* undo the counts that would make hgq_model_free overrun */
		m->n_layers = n_layers;
		if (breakers[b].fn == b_meta_many)
			m->n_meta = n_meta;
		if (breakers[b].fn == b_tensor_many)
			m->layers[4].n_tensors = n_tensors;
		hgq_model_free(m);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* Shaped models (format 1.1)                                          */
/* ------------------------------------------------------------------ */

/*
 * a valid shaped model: q [in] -> kind (kernel k, stride s, padding pad)
 * -> q [out] -> flatten -> q -> dense 1 -> q, calibrated with zeroed
 * arrays
 */
static struct hgq_model *
shaped_model(uint32_t kind, uint32_t rank, const uint32_t *in,
    const uint32_t *out, uint32_t kh, uint32_t kw, uint32_t sh, uint32_t sw,
    uint8_t pad)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	struct hgq_layer *l;
	uint32_t one = 1, n;

	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT, rank,
	    in, &err));
	l = hgq_model_add_shaped(m, kind, rank, out, &err);
	ck_assert_ptr_nonnull(l);
	l->kernel[0] = kh;
	l->kernel[1] = kw;
	l->stride[0] = sh;
	l->stride[1] = sw;
	l->padding = pad;
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT, rank,
	    out, &err));
	n = m->layers[2].n_out;
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_FLATTEN, 1,
	    &n, &err));
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT, 1, &n,
	    &err));
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_DENSE, 1,
	    &one, &err));
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT, 1,
	    &one, &err));
	ck_assert_int_eq(hgq_model_set_input(m, m->layers[0].n_out, &err),
	    HGQ_OK);
	m->calibrated = 1;
	for (uint32_t j = 0; j < m->n_layers; j++)
		ck_assert_int_eq(hgq_model_alloc_fixed(m, j, &err), HGQ_OK);
	return m;
}

static struct hgq_model *
conv_model(void)
{
	static const uint32_t in[3] = { 4, 4, 2 }, out[3] = { 2, 2, 3 };

	return shaped_model(HGQ_LAYER_CONV2D, 3, in, out, 3, 3, 1, 1, 0);
}

START_TEST(test_shaped_good)
{
	static const uint32_t in1[2] = { 6, 2 }, out1[2] = { 3, 2 };
	static const uint32_t in3[3] = { 5, 7, 2 }, out3[3] = { 3, 4, 4 };
	static const uint32_t pin[3] = { 5, 5, 3 }, pout[3] = { 2, 2, 3 };
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = conv_model(), *c;
	uint32_t d[HGQ_MAX_RANK];

	ck_assert_int_eq(hgq_model_validate(m, &err), HGQ_OK);
	ck_assert_uint_eq(hgq_layer_n_weights(m, 1), 3 * 3 * 2 * 3);
	ck_assert_uint_eq(hgq_layer_n_bias(m, 1), 3);
	ck_assert_uint_eq(hgq_layer_in_shape(m, 1, d), 3);
	ck_assert_uint_eq(d[0], 4);
	ck_assert_uint_eq(d[2], 2);
	ck_assert_uint_eq(hgq_layer_n_weights(m, 3), 0);
	ck_assert_uint_eq(hgq_layer_n_weights(m, 5), 12);
	ck_assert_uint_eq(hgq_layer_input(m, 0, 0), HGQ_REF_INPUT);
	ck_assert_uint_eq(hgq_layer_input(m, 4, 0), 3);
	ck_assert_str_eq(hgq_layer_kind_name(HGQ_LAYER_AVGPOOL), "avgpool");
	ck_assert_str_eq(hgq_layer_kind_name(99), "unknown");
	c = hgq_model_copy(m);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(hgq_model_validate(c, &err), HGQ_OK);
	ck_assert_ptr_nonnull(c->layers[1].w_m);
	c->layers[1].w_m[53] = 7;	/* the copy has all 54 weights */
	hgq_model_free(c);
	ck_assert_int_eq(hgq_model_dense_only(m, "x", &err), HGQ_EUNSUPP);
	ck_assert_str_eq(err.msg, "layer 1 (conv2d): not supported by x"
	    " yet");
	hgq_model_free(m);
	/* 1-D, same padding, stride 2: ceil(6/2) = 3 */
	m = shaped_model(HGQ_LAYER_CONV1D, 2, in1, out1, 1, 3, 1, 2, 1);
	ck_assert_int_eq(hgq_model_validate(m, &err), HGQ_OK);
	hgq_model_free(m);
	/* 2-D same with strides 2 and 2: ceil(5/2) = 3, ceil(7/2) = 4 */
	m = shaped_model(HGQ_LAYER_CONV2D, 3, in3, out3, 2, 3, 2, 2, 1);
	ck_assert_int_eq(hgq_model_validate(m, &err), HGQ_OK);
	hgq_model_free(m);
	/* pooling drops the remainder: (5 - 2)/2 + 1 = 2 */
	m = shaped_model(HGQ_LAYER_AVGPOOL, 3, pin, pout, 2, 2, 2, 2, 0);
	ck_assert_int_eq(hgq_model_validate(m, &err), HGQ_OK);
	m->layers[1].kind = HGQ_LAYER_MAXPOOL;
	ck_assert_int_eq(hgq_model_validate(m, &err), HGQ_OK);
	ck_assert_int_eq(hgq_model_dense_only(m, "y", &err), HGQ_EUNSUPP);
	ck_assert_str_eq(err.msg, "layer 1 (maxpool): not supported by y"
	    " yet");
	hgq_model_free(m);
}
END_TEST

static void s_kernel_big(struct hgq_model *m) { m->layers[1].kernel[0] = 5; }
static void s_kernel_zero(struct hgq_model *m) { m->layers[1].kernel[1] = 0; }
static void s_stride_zero(struct hgq_model *m) { m->layers[1].stride[0] = 0; }
static void s_padding(struct hgq_model *m) { m->layers[1].padding = 2; }
static void
s_out_shape(struct hgq_model *m)
{
	m->layers[1].shape[0] = 1;
	m->layers[1].n_out = 6;
}
static void s_zero_dim(struct hgq_model *m) { m->layers[1].shape[1] = 0; }
static void
s_huge_dims(struct hgq_model *m)
{
	/* 2^24 * 2^24 * 3 wraps to 0 in 32 bits, to 2^48*3 in 64 */
	m->layers[1].shape[0] = m->layers[1].shape[1] = 1u << 24;
}
static void s_n_out(struct hgq_model *m) { m->layers[1].n_out = 11; }
static void s_rank(struct hgq_model *m) { m->layers[1].rank = 4; }
static void s_dim_past(struct hgq_model *m) { m->layers[5].shape[2] = 1; }
static void s_ref_dangling(struct hgq_model *m) { m->layers[1].inputs[0] = 7; }
static void s_ref_self(struct hgq_model *m) { m->layers[2].inputs[0] = 2; }
static void
s_ref_input(struct hgq_model *m)
{
	m->layers[2].inputs[0] = HGQ_REF_INPUT;
}
static void
s_ref_input1(struct hgq_model *m)
{
	m->layers[0].inputs[0] = HGQ_REF_INPUT | 1;
}
static void s_alternate(struct hgq_model *m) { m->layers[2].inputs[0] = 0; }
static void s_two_inputs(struct hgq_model *m) { m->layers[3].n_inputs = 2; }
static void s_inputs_many(struct hgq_model *m) { m->layers[3].n_inputs = 9; }
static void
s_skip(struct hgq_model *m)
{
	/* q0 conv1 q2 flatten3 | q4 flatten5 q6 with q4 reading conv 1 as
	   well: each layer is fine, but the conv has two readers and
	   flatten 3 none */
	static const uint32_t d[3] = { 2, 2, 3 }, n = 12;

	hgq_layer_set_shape(&m->layers[4], 3, d, NULL);
	m->layers[4].inputs[0] = 1;
	m->layers[4].n_in = 12;
	m->layers[5].kind = HGQ_LAYER_FLATTEN;
	hgq_layer_set_shape(&m->layers[5], 1, &n, NULL);
	hgq_layer_set_shape(&m->layers[6], 1, &n, NULL);
	m->layers[6].n_in = 12;
}
static void
s_unused(struct hgq_model *m)
{
	/* layer 5 becomes a second flatten of quantizer 2 (a quantizer may
	   feed several layers): quantizer 4 is left unread */
	static const uint32_t n = 12;

	m->layers[5].kind = HGQ_LAYER_FLATTEN;
	hgq_layer_set_shape(&m->layers[5], 1, &n, NULL);
	m->layers[5].inputs[0] = 2;
	hgq_layer_set_shape(&m->layers[6], 1, &n, NULL);
	m->layers[6].n_in = 12;
}
static void
s_quant_shape(struct hgq_model *m)
{
	m->layers[2].shape[0] = 4;
	m->layers[2].shape[1] = 1;
}
static void s_dense_rank(struct hgq_model *m) { m->layers[4].kind = 0; }
static void
s_dense_3d(struct hgq_model *m)
{
	/* flatten becomes a dense layer reading [2, 2, 3] */
	m->layers[3].kind = HGQ_LAYER_DENSE;
}
static void
s_flatten_rank(struct hgq_model *m)
{
	m->layers[3].rank = 2;
	m->layers[3].shape[0] = 4;
	m->layers[3].shape[1] = 3;
}
static void s_window_dense(struct hgq_model *m) { m->layers[5].stride[1] = 1; }
static void s_wf(struct hgq_model *m) { m->layers[1].w_f[53] = 63; }
static void
s_no_w(struct hgq_model *m)
{
	free(m->layers[1].b_f);
	m->layers[1].b_f = NULL;
}
static void
s_tensor(struct hgq_model *m)
{
	hgq_layer_add_tensor(&m->layers[1], HGQ_ROLE_BIAS, 4, NULL);
}
static void
s_tensor_pool(struct hgq_model *m)
{
	hgq_layer_add_tensor(&m->layers[3], HGQ_ROLE_WEIGHT, 12, NULL);
}
static void
s_tensor_chan(struct hgq_model *m)
{
	m->layers[2].gran = HGQ_GRAN_CHANNEL;
	hgq_layer_add_tensor(&m->layers[2], HGQ_ROLE_ACT_FBITS, 12, NULL);
}

static const struct breaker shaped_breakers[] = {
	{ s_kernel_big, "layer 1: conv2d kernel 5x3 is larger than its input"
	    " 4x4" },
	{ s_kernel_zero, "layer 1: conv2d kernel 3x0, stride 1x1: each must be"
	    " in 1..16777216" },
	{ s_stride_zero, "layer 1: conv2d kernel 3x3, stride 0x1: each must be"
	    " in 1..16777216" },
	{ s_padding, "layer 1: conv2d padding 2 out of range" },
	{ s_out_shape, "layer 1: conv2d output shape [1, 2, 3] where its input"
	    " implies [2, 2, 3]" },
	{ s_zero_dim, "layer 1: shape [2, 0, 3] has a zero dimension or more"
	    " than 16777216 elements" },
	{ s_huge_dims, "layer 1: shape [16777216, 16777216, 3] has a zero"
	    " dimension or more than 16777216 elements" },
	{ s_n_out, "layer 1: shape [2, 2, 3] has 12 elements, n_out is 11" },
	{ s_rank, "layer 1: rank 4 outside 1..3" },
	{ s_dim_past, "layer 5: dimension 2 set beyond rank 1" },
	{ s_ref_dangling, "layer 1: input reference 7 is not an earlier"
	    " layer" },
	{ s_ref_self, "layer 2: input reference 2 is not an earlier layer" },
	{ s_ref_input, "layer 2: reads model input 0 (only layer 0 reads the"
	    " model's one input)" },
	{ s_ref_input1, "layer 0: reads model input 1 (only layer 0 reads the"
	    " model's one input)" },
	{ s_alternate, "layer 2: quantizer reads quantizer layer 0 (an"
	    " operation layer must come between)" },
	{ s_two_inputs, "layer 3: a flatten layer reads one input, not 2" },
	{ s_inputs_many, "layer 3: 9 inputs exceed the limit 8" },
	{ s_skip, "layer 1: conv2d output read by 2 layers (an operation feeds"
	    " one quantizer)" },
	{ s_unused, "layer 4: its output is not used" },
	{ s_quant_shape, "layer 2: quantizer shape [4, 1, 3] differs from the"
	    " shape [2, 2, 3] of layer 1" },
	{ s_dense_rank, "layer 4: unknown kind 0" },
	{ s_dense_3d, "layer 3: dense on a tensor of rank 3 giving rank 1"
	    " (dense needs flat tensors: flatten first)" },
	{ s_flatten_rank, "layer 3: flatten gives rank 2, not 1" },
	{ s_window_dense, "layer 5: kernel, stride or padding set on a dense"
	    " layer" },
	{ s_wf, "layer 1 weight 53: f = 63 beyond +-62" },
	{ s_no_w, "layer 1: calibrated model without conv2d mantissas" },
	{ s_tensor, "layer 1: tensor role 0x2 has 4 floats, expected 3" },
	{ s_tensor_pool, "layer 3: tensor role 0x1 does not belong to a"
	    " flatten layer" },
	{ s_tensor_chan, "layer 2: tensor role 0x5 has 12 floats, expected 3" },
};

START_TEST(test_shaped_broken)
{
	for (size_t b = 0; b < sizeof(shaped_breakers) /
	    sizeof(shaped_breakers[0]); b++) {
		struct hgq_err err = HGQ_ERR_INIT;
		struct hgq_model *m = conv_model();

		shaped_breakers[b].fn(m);
		ck_assert_int_eq(hgq_model_validate(m, &err), HGQ_EINVAL);
		ck_assert_str_eq(err.msg, shaped_breakers[b].msg);
		hgq_model_free(m);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* Graphs of format 1.2                                                */
/* ------------------------------------------------------------------ */

START_TEST(test_graph_valid)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = fx_graph(), *c;

	ck_assert_msg(hgq_model_validate(m, &err) == HGQ_OK, "%s", err.msg);
	ck_assert_uint_eq(hgq_model_n_inputs(m), 2);
	ck_assert_uint_eq(hgq_model_input_layer(m, 1), 1);
	ck_assert_uint_eq(hgq_model_input_offset(m, 1), 4);
	ck_assert_uint_eq(hgq_model_n_in(m), 8);
	ck_assert_uint_eq(hgq_model_n_outputs(m), 2);
	ck_assert_uint_eq(hgq_model_output_layer(m, 1), 11);
	ck_assert_uint_eq(hgq_model_n_out(m), 5);
	ck_assert_int_eq(hgq_model_is_chain(m), 0);
	c = hgq_model_copy(m);
	ck_assert_ptr_nonnull(c);
	ck_assert_msg(hgq_model_validate(c, &err) == HGQ_OK, "%s", err.msg);
	ck_assert_str_eq(c->out_ports[1].name, "z");
	ck_assert_uint_eq(c->index_map[7], 7);
	hgq_model_free(c);
	hgq_model_free(m);
	/* a plain chain is one; without ports the accessors describe it */
	m = fx_chain((const uint32_t[]){ 3, 2 }, 1);
	ck_assert_int_eq(hgq_model_is_chain(m), 1);
	ck_assert_uint_eq(hgq_model_n_in(m), 3);
	ck_assert_uint_eq(hgq_model_output_layer(m, 0), 2);
	ck_assert_uint_eq(hgq_model_n_out(m), 2);
	hgq_model_free(m);
}
END_TEST

static void g_add_one(struct hgq_model *m) { m->layers[6].n_inputs = 1; }
static void
g_sub_three(struct hgq_model *m)
{
	m->layers[8].n_inputs = 3;
	m->layers[8].inputs[2] = 5;
}
static void g_add_shape(struct hgq_model *m) { m->layers[6].inputs[1] = 1; }
static void g_concat_axis(struct hgq_model *m) { m->layers[12].axis = 1; }
static void
g_concat_sum(struct hgq_model *m)
{
	/* concatenate of 3 + 3 declared as 5 wide */
	static const uint32_t n = 5;

	hgq_layer_set_shape(&m->layers[12], 1, &n, NULL);
}
static void g_func(struct hgq_model *m) { m->layers[10].func = 9; }
static void g_axis_add(struct hgq_model *m) { m->layers[6].axis = 1; }
static void g_lut_wide(struct hgq_model *m) { m->layers[9].f[2] = 13; }
static void
g_mask_value(struct hgq_model *m)
{
	hgq_layer_tensor(&m->layers[14], HGQ_ROLE_MASK)->data[3] = 0.5f;
}
static void g_mask_weight(struct hgq_model *m) { m->layers[14].w_m[7] = 3; }
static void
g_input_op(struct hgq_model *m)
{
	/* the dense layer 2 reads input "a" itself */
	m->layers[2].inputs[0] = HGQ_REF_INPUT | 0;
}
static void
g_input_missing(struct hgq_model *m)
{
	m->layers[1].inputs[0] = HGQ_REF_INPUT | 2;
}
static void
g_input_other(struct hgq_model *m)
{
	/* quantizer 1 reads input 0, whose port names layer 0 */
	m->layers[1].inputs[0] = HGQ_REF_INPUT | 0;
}
static void g_port_dup(struct hgq_model *m) { strcpy(m->out_ports[1].name, "y"); }
static void g_port_name(struct hgq_model *m) { strcpy(m->in_ports[0].name, "1a"); }
static void g_port_layer(struct hgq_model *m) { m->out_ports[0].layer = 16; }
static void g_port_kind(struct hgq_model *m) { m->out_ports[0].layer = 14; }
static void g_port_many(struct hgq_model *m) { m->n_out_ports = 9; }
static void
g_port_reader(struct hgq_model *m)
{
	/* input b's port names quantizer 3, which reads a dense layer */
	m->in_ports[1].layer = 3;
}
static void g_classify(struct hgq_model *m) { m->task = HGQ_TASK_CLASSIFY; }
static void
g_unread(struct hgq_model *m)
{
	/* output z is not an output any more and nobody else reads
	   quantizer 15 */
	m->n_out_ports = 1;
	m->out_ports[0].layer = 11;
}
static void
g_op_output(struct hgq_model *m)
{
	m->out_ports[1].layer = 12;
}

static const struct breaker graph_breakers[] = {
	{ g_add_one, "layer 6: an add layer reads 2 to 8 inputs, not 1" },
	{ g_sub_three, "layer 8: a subtract layer reads two inputs, not 3" },
	{ g_add_shape, "layer 6: add of shape [3] has input 1 of shape [4]"
	    " (the shapes must be equal)" },
	{ g_concat_axis, "layer 12: concatenate along axis 1 of a rank-1"
	    " tensor" },
	{ g_concat_sum, "layer 12: concatenate inputs give 6 along axis 0,"
	    " the output has 5" },
	{ g_func, "layer 10: unknown lookup-table function 9 (0..4: tanh,"
	    " sigmoid, softplus, silu, exp)" },
	{ g_axis_add, "layer 6: axis 1 or function 0 set on an add layer" },
	{ g_lut_wide, "layer 10: tanh table over element 2 of 13 bits (the"
	    " limit is 12 bits, 4096 entries)" },
	{ g_mask_value, "layer 14: mask element 3 is 0.5, not 0 or 1" },
	{ g_mask_weight, "layer 14: weight 7 is masked but its mantissa is"
	    " 3" },
	{ g_input_op, "layer 2: a dense layer reads model input 0 (only a"
	    " quantizer does)" },
	{ g_input_missing, "layer 1: reads model input 2 (no such input)" },
	{ g_input_other, "layer 1: reads model input 0 (the input's port"
	    " names another layer)" },
	{ g_port_dup, "model outputs 0 and 1 are both named y" },
	{ g_port_name, "model input 0: name \"1a\" is not"
	    " [A-Za-z_][A-Za-z0-9_]* of 1..32 bytes" },
	{ g_port_layer, "model output y: layer 16 does not exist (16"
	    " layers)" },
	{ g_port_kind, "model output y: layer 14 is a dense, not a"
	    " quantizer" },
	{ g_port_many, "9 model outputs exceed the limit 8" },
	{ g_port_reader, "layer 1: reads model input 1 (the input's port"
	    " names another layer)" },
	{ g_classify, "a classifier has one output, not 2" },
	{ g_unread, "layer 15: its output is not used" },
	{ g_op_output, "model output z: layer 12 is a concatenate, not a"
	    " quantizer" },
};

START_TEST(test_graph_broken)
{
	for (size_t b = 0; b < sizeof(graph_breakers) /
	    sizeof(graph_breakers[0]); b++) {
		struct hgq_err err = HGQ_ERR_INIT;
		struct hgq_model *m = fx_graph();

		graph_breakers[b].fn(m);
		ck_assert_int_eq(hgq_model_validate(m, &err), HGQ_EINVAL);
		ck_assert_str_eq(err.msg, graph_breakers[b].msg);
		hgq_model_free(m);
	}
}
END_TEST

/* the limits on sizes, and average pooling over other areas */
START_TEST(test_shaped_limits)
{
	static const uint32_t in[3] = { 1, 64, 4096 }, out[3] = { 1, 1, 4096 };
	static const uint32_t in2[3] = { 1, 16384, 64 };
	static const uint32_t out2[3] = { 1, 16384, 512 };
	static const uint32_t pin[3] = { 3, 3, 1 }, pout[3] = { 1, 1, 1 };
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m;

	/* 64 * 4096 * 4096 = 2^30 weights */
	m = shaped_model(HGQ_LAYER_CONV2D, 3, in, out, 1, 64, 1, 1, 0);
	ck_assert_int_eq(hgq_model_validate_graph(m, &err), HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "layer 1: 1073741824 weights exceed the"
	    " limit 67108864");
	hgq_model_free(m);
	/* 2^14 positions * 64 * 512 = 2^29 multiplications */
	m = shaped_model(HGQ_LAYER_CONV2D, 3, in2, out2, 1, 1, 1, 1, 0);
	ck_assert_int_eq(hgq_model_validate_graph(m, &err), HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "layer 1: conv2d of [1, 16384, 64] ->"
	    " [1, 16384, 512] with kernel 1x1 exceeds the limit of 67108864"
	    " multiplications");
	hgq_model_free(m);
	/* an area of 9 is no power of two */
	m = shaped_model(HGQ_LAYER_AVGPOOL, 3, pin, pout, 3, 3, 3, 3, 0);
	ck_assert_int_eq(hgq_model_validate(m, &err), HGQ_EUNSUPP);
	ck_assert_str_eq(err.msg, "layer 1: average pooling over 3x3 = 9"
	    " elements: only areas that are powers of two are exact");
	m->layers[1].kind = HGQ_LAYER_MAXPOOL;
	ck_assert_int_eq(hgq_model_validate(m, &err), HGQ_OK);
	m->layers[1].padding = HGQ_PAD_SAME;
	ck_assert_int_eq(hgq_model_validate(m, &err), HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "layer 1: maxpool padding 1 out of range");
	hgq_model_free(m);
}
END_TEST

/*
 * independent reference for the taps: signed coordinates in the padded
 * input, TensorFlow's same padding computed from the output size
 */
static uint32_t
ref_tap(const struct hgq_window *w, uint32_t p, uint32_t t, int same)
{
	long oh = p / w->out_w, ow = p % w->out_w;
	long c = t % w->in_c, kw = t / w->in_c % w->k_w;
	long kh = t / w->in_c / w->k_w;
	long ph = 0, pw = 0, h, x;

	if (same) {
		long th = (long)(w->out_h - 1) * w->s_h + w->k_h - w->in_h;
		long tw = (long)(w->out_w - 1) * w->s_w + w->k_w - w->in_w;

		ph = th > 0 ? th / 2 : 0;
		pw = tw > 0 ? tw / 2 : 0;
	}
	h = oh * w->s_h + kh - ph;
	x = ow * w->s_w + kw - pw;
	if (h < 0 || x < 0 || h >= (long)w->in_h || x >= (long)w->in_w)
		return HGQ_TAP_PAD;
	return (uint32_t)((h * w->in_w + x) * w->in_c + c);
}

START_TEST(test_window)
{
	static const uint32_t in1[2] = { 6, 2 }, out1[2] = { 3, 2 };
	static const uint32_t in2[3] = { 3, 3, 1 }, out2[3] = { 3, 3, 1 };
	/* conv1d k3 s2 same on [6, 2]: pad_total 1, nothing before; the
	   last position reads columns 4, 5 and the padding column 6 */
	static const uint32_t want1[6] = { 8, 9, 10, 11, HGQ_TAP_PAD,
	    HGQ_TAP_PAD };
	/* conv2d 3x3 same on [3, 3, 1]: one pixel of padding around */
	static const uint32_t want2[9] = { HGQ_TAP_PAD, HGQ_TAP_PAD,
	    HGQ_TAP_PAD, HGQ_TAP_PAD, 0, 1, HGQ_TAP_PAD, 3, 4 };
	static const uint32_t want2c[9] = { 0, 1, 2, 3, 4, 5, 6, 7, 8 };
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_window w;
	struct hgq_model *m;
	uint32_t idx[64];
	uint64_t rng = 12345;

	m = shaped_model(HGQ_LAYER_CONV1D, 2, in1, out1, 1, 3, 1, 2, 1);
	ck_assert_int_eq(hgq_layer_window(m, 1, &w, &err), HGQ_OK);
	ck_assert_uint_eq(w.in_h, 1);
	ck_assert_uint_eq(w.in_w, 6);
	ck_assert_uint_eq(w.out_w, 3);
	ck_assert_uint_eq(w.pad_left, 0);
	ck_assert_uint_eq(w.n_pos, 3);
	ck_assert_uint_eq(w.n_taps, 6);
	hgq_window_taps(&w, 2, idx);
	ck_assert_mem_eq(idx, want1, sizeof(want1));
	ck_assert_int_eq(hgq_layer_window(m, 3, &w, &err), HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "layer 3 (flatten) has no window");
	hgq_model_free(m);

	m = shaped_model(HGQ_LAYER_CONV2D, 3, in2, out2, 3, 3, 1, 1, 1);
	ck_assert_int_eq(hgq_layer_window(m, 1, &w, &err), HGQ_OK);
	ck_assert_uint_eq(w.pad_top, 1);
	ck_assert_uint_eq(w.pad_left, 1);
	hgq_window_taps(&w, 0, idx);
	ck_assert_mem_eq(idx, want2, sizeof(want2));
	hgq_window_taps(&w, 4, idx);		/* the centre: no padding */
	ck_assert_mem_eq(idx, want2c, sizeof(want2c));
	hgq_model_free(m);

	/* random geometries against the reference */
	for (int r = 0; r < 300; r++) {
		uint32_t in[3], out[3], k[2], s[2], pad;

		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		in[0] = 1 + (uint32_t)(rng >> 33) % 6;
		in[1] = 1 + (uint32_t)(rng >> 40) % 7;
		in[2] = 1 + (uint32_t)(rng >> 50) % 2;
		k[0] = 1 + (uint32_t)(rng >> 20) % in[0];
		k[1] = 1 + (uint32_t)(rng >> 25) % in[1];
		s[0] = 1 + (uint32_t)(rng >> 12) % 3;
		s[1] = 1 + (uint32_t)(rng >> 15) % 3;
		pad = (uint32_t)(rng >> 60) & 1;
		out[0] = pad ? (in[0] + s[0] - 1) / s[0] :
		    (in[0] - k[0]) / s[0] + 1;
		out[1] = pad ? (in[1] + s[1] - 1) / s[1] :
		    (in[1] - k[1]) / s[1] + 1;
		out[2] = 2;
		m = shaped_model(HGQ_LAYER_CONV2D, 3, in, out, k[0], k[1],
		    s[0], s[1], (uint8_t)pad);
		ck_assert_int_eq(hgq_model_validate(m, &err), HGQ_OK);
		ck_assert_int_eq(hgq_layer_window(m, 1, &w, &err), HGQ_OK);
		ck_assert_uint_lt(w.n_taps, 64);
		for (uint32_t p = 0; p < w.n_pos; p++) {
			hgq_window_taps(&w, p, idx);
			for (uint32_t t = 0; t < w.n_taps; t++)
				ck_assert_uint_eq(idx[t],
				    ref_tap(&w, p, t, (int)pad));
		}
		hgq_model_free(m);
	}
}
END_TEST

Suite *
model_suite(void)
{
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("model");

	tcase_add_test(tc, test_lifecycle);
	tcase_add_test(tc, test_meta);
	tcase_add_test(tc, test_copy);
	tcase_add_test(tc, test_validate_good);
	tcase_add_test(tc, test_validate_broken);
	tcase_add_test(tc, test_shaped_good);
	tcase_add_test(tc, test_shaped_broken);
	tcase_add_test(tc, test_graph_valid);
	tcase_add_test(tc, test_graph_broken);
	tcase_add_test(tc, test_shaped_limits);
	tcase_add_test(tc, test_window);
	suite_add_tcase(s, tc);
	return s;
}
