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
