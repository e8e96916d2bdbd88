/*
 * fixture.c - the shared unit-test fixtures of fixture.h.
 */
#include <check.h>

#include "fixture.h"

uint64_t fx_rng_state;

uint64_t
fx_rnd(void)
{
	uint64_t z = (fx_rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

int
fx_rnd_int(int lo, int hi)
{
	return lo + (int)(fx_rnd() % (uint64_t)(hi - lo + 1));
}

int64_t
fx_rnd_i64(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(fx_rnd() % (uint64_t)(hi - lo + 1));
}

double
fx_rnd_unit(void)
{
	return (double)(fx_rnd() >> 11) * 0x1p-53;
}

struct hgq_model *
fx_chain(const uint32_t *n, int nl)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	struct hgq_layer *l;

	ck_assert_ptr_nonnull(m);
	for (int d = 0; d <= nl; d++) {
		if (d > 0) {
			l = hgq_model_add_layer(m, HGQ_LAYER_DENSE, n[d - 1],
			    n[d]);
			ck_assert_ptr_nonnull(l);
			ck_assert_msg(hgq_layer_alloc_fixed(l, &err) ==
			    HGQ_OK, "%s", err.msg);
		}
		l = hgq_model_add_layer(m, HGQ_LAYER_QUANT, n[d], n[d]);
		ck_assert_ptr_nonnull(l);
		ck_assert_msg(hgq_layer_alloc_fixed(l, &err) == HGQ_OK, "%s",
		    err.msg);
	}
	ck_assert_msg(hgq_model_set_input(m, n[0], &err) == HGQ_OK, "%s",
	    err.msg);
	m->calibrated = 1;
	return m;
}

uint32_t
fx_add(struct hgq_model *m, uint32_t kind, uint32_t rank,
    const uint32_t *dims, uint32_t n_refs, const uint32_t *refs)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_layer *l;
	uint32_t n = 1;

	for (uint32_t a = 0; a < rank; a++)
		n *= dims[a];
	l = hgq_model_add_layer(m, kind, (refs[0] & HGQ_REF_INPUT) != 0 ? n :
	    m->layers[refs[0]].n_out, n);
	ck_assert_ptr_nonnull(l);
	ck_assert_msg(hgq_layer_set_shape(l, rank, dims, &err) == HGQ_OK,
	    "%s", err.msg);
	ck_assert_msg(hgq_layer_set_inputs(l, n_refs, refs, &err) == HGQ_OK,
	    "%s", err.msg);
	return m->n_layers - 1;
}

/* append a flat layer of kind reading refs, shape [n], arrays allocated */
static struct hgq_layer *
graph_add(struct hgq_model *m, uint32_t kind, uint32_t n, uint32_t n_refs,
    const uint32_t *refs)
{
	struct hgq_err err = HGQ_ERR_INIT;
	uint32_t j = fx_add(m, kind, 1, &n, n_refs, refs);
	struct hgq_layer *l = &m->layers[j];	/* after fx_add: it moves */

	if (kind == HGQ_LAYER_QUANT || kind == HGQ_LAYER_DENSE)
		ck_assert_msg(hgq_layer_alloc_fixed(l, &err) == HGQ_OK, "%s",
		    err.msg);
	return l;
}

#define R(...)	(uint32_t)(sizeof((uint32_t[]){ __VA_ARGS__ }) / \
		    sizeof(uint32_t)), (const uint32_t[]){ __VA_ARGS__ }

struct hgq_model *
fx_graph(void)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	struct hgq_tensor *t;

	ck_assert_ptr_nonnull(m);
	graph_add(m, HGQ_LAYER_QUANT, 4, R(HGQ_REF_INPUT | 0));
	graph_add(m, HGQ_LAYER_QUANT, 4, R(HGQ_REF_INPUT | 1));
	graph_add(m, HGQ_LAYER_DENSE, 3, R(0));
	graph_add(m, HGQ_LAYER_QUANT, 3, R(2));
	graph_add(m, HGQ_LAYER_DENSE, 3, R(1));
	graph_add(m, HGQ_LAYER_QUANT, 3, R(4));
	graph_add(m, HGQ_LAYER_ADD, 3, R(3, 5));
	graph_add(m, HGQ_LAYER_QUANT, 3, R(6));
	graph_add(m, HGQ_LAYER_SUB, 3, R(7, 3));
	graph_add(m, HGQ_LAYER_QUANT, 3, R(8));
	graph_add(m, HGQ_LAYER_LUT, 3, R(9))->func = HGQ_FUNC_TANH;
	graph_add(m, HGQ_LAYER_QUANT, 3, R(10));
	graph_add(m, HGQ_LAYER_CONCAT, 6, R(7, 11))->axis = 0;
	graph_add(m, HGQ_LAYER_QUANT, 6, R(12));
	graph_add(m, HGQ_LAYER_DENSE, 2, R(13));
	graph_add(m, HGQ_LAYER_QUANT, 2, R(14));
	t = hgq_layer_add_tensor(&m->layers[14], HGQ_ROLE_MASK, 12, &err);
	ck_assert_msg(t != NULL, "%s", err.msg);
	for (uint32_t e = 0; e < 12; e++)
		t->data[e] = e == 0 || e == 7 ? 0.0f : 1.0f;
	m->n_in_ports = 2;
	m->in_ports[0] = (struct hgq_port){ .name = "a", .layer = 0 };
	m->in_ports[1] = (struct hgq_port){ .name = "b", .layer = 1 };
	m->n_out_ports = 2;
	m->out_ports[0] = (struct hgq_port){ .name = "y", .layer = 15 };
	m->out_ports[1] = (struct hgq_port){ .name = "z", .layer = 11 };
	m->task = HGQ_TASK_REGRESS;
	ck_assert_msg(hgq_model_set_input(m, 8, &err) == HGQ_OK, "%s",
	    err.msg);
	m->calibrated = 1;
	return m;
}
