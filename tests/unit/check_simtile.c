/*
 * check_simtile.c - the engine's fast paths (hgq_sim_paths: a tile of
 * samples per layer step, AVX-512) against its per-sample path, the
 * reference that check_sim compares with an independent model: the same
 * outputs and the same overflow counts, exactly, on random chains that
 * take the fast paths and on chains that cannot.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "fixture.h"
#include "unit.h"

/*
 * quantizer q: f around f0, widths 0..9 (so that the next layer's inputs
 * are int16 numbers), the modes random
 */
static void
tile_quant(struct hgq_layer *q, int f0)
{
	q->round = (uint8_t)fx_rnd_int(0, 1);
	q->overflow = (uint8_t)fx_rnd_int(0, 1) ? HGQ_SAT : HGQ_WRAP;
	for (uint32_t j = 0; j < q->n_out; j++) {
		q->f[j] = (int8_t)(f0 + fx_rnd_int(-1, 1));
		q->k[j] = (int8_t)fx_rnd_int(0, 1);
		q->i[j] = (int8_t)(fx_rnd_int(0, 9) - q->k[j] - q->f[j]);
	}
}

/*
 * a chain n[0] -> ... -> n[nl] like a trained HGQ model (small weights
 * near one fraction); wide: some weights too wide for 16-bit products
 */
static struct hgq_model *
tile_model(const uint32_t *n, int nl, int wide)
{
	struct hgq_model *m = fx_chain(n, nl);
	int f0 = fx_rnd_int(1, 4);

	tile_quant(&m->layers[0], f0);
	for (int d = 0; d < nl; d++) {
		struct hgq_layer *l = &m->layers[2 * d + 1];

		l->act = fx_rnd_int(0, 1) ? HGQ_ACT_RELU : HGQ_ACT_LINEAR;
		for (size_t a = 0; a < (size_t)n[d] * n[d + 1]; a++) {
			l->w_m[a] = fx_rnd_int(0, 2) == 0 ? 0 :
			    fx_rnd_int(-15, 15);
			l->w_f[a] = (int8_t)(f0 + fx_rnd_int(-1, 1));
			if (wide && fx_rnd_int(0, 40) == 0)
				l->w_m[a] = fx_rnd_int(-(1 << 20), 1 << 20);
		}
		for (uint32_t j = 0; j < n[d + 1]; j++) {
			l->b_m[j] = fx_rnd_int(-9, 9);
			l->b_f[j] = (int8_t)(f0 + fx_rnd_int(-1, 1));
		}
		tile_quant(&m->layers[2 * d + 2], f0);
	}
	return m;
}

/* run m on x (n rows) with the fast paths `paths`; the paths it took */
static int
tile_run_paths(const struct hgq_model *m, const double *x, size_t n,
    int threads, int paths, int64_t *out, uint64_t *cnt)
{
	struct hgq_ovf_stats st = { (uint32_t)(m->n_layers / 2 + 1), cnt };
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_engine *e;
	int old = hgq_sim_paths(paths), took;

	memset(cnt, 0, st.n_quant * sizeof(uint64_t));
	ck_assert_msg(hgq_engine_new(&e, m, &err) == HGQ_OK, "%s", err.msg);
	hgq_sim_paths(old);
	ck_assert_int_eq(hgq_engine_run(e, x, n, out, &st, threads), HGQ_OK);
	took = hgq_engine_paths(e);
	ck_assert_int_eq(took & ~paths, 0);
	hgq_engine_free(e);
	return took;
}

/*
 * every model: the per-sample path (no fast path, and with each kernel
 * variant) against the tiles, with and without AVX-512; n runs over
 * tails that are not a multiple of the tile, on 1 and 2 threads
 */
START_TEST(test_tiles_equal_per_sample)
{
	static const uint32_t shapes[][5] = {
		{ 16, 64, 32, 32, 5 }, { 7, 9, 3, 0, 0 }, { 1, 1, 0, 0, 0 },
		{ 12, 16, 8, 4, 0 }, { 5, 17, 0, 0, 0 }, { 33, 24, 11, 0, 0 },
	};
	static const int nls[] = { 4, 2, 1, 3, 1, 2 };
	static const int isas[] = { HGQ_ISA_C, HGQ_ISA_AVX2 };
	int tiled = 0, wide_seen = 0, ovf_seen = 0, avx512 = 0;

	fx_rng_state = 1414;
	for (int rep = 0; rep < 48; rep++) {
		int si = rep % 6, wide = rep % 8 == 7;
		struct hgq_model *m = tile_model(shapes[si], nls[si], wide);
		uint32_t n_raw = m->n_raw, n_out = hgq_model_n_out(m);
		size_t n = 600 + (size_t)rep % 7, nq = (size_t)nls[si] + 1;
		double *x = malloc(n * n_raw * sizeof(double));
		int64_t *ref = malloc(n * n_out * sizeof(int64_t));
		int64_t *out = malloc(n * n_out * sizeof(int64_t));
		uint64_t cref[8], cnt[8];

		for (size_t a = 0; a < n * n_raw; a++)
			x[a] = (fx_rnd_unit() - 0.4) * ldexp(1.0,
			    fx_rnd_int(-2, 6));
		tile_run_paths(m, x, n, 1, 0, ref, cref);
		for (size_t q = 0; q < nq; q++)
			ovf_seen += cref[q] > 0;
		for (int v = 0; v < 2; v++) {
			if (hgq_kernel_isa(isas[v]) != isas[v])
				continue;
			for (int p = 0; p < 4; p++) {
				int threads = 1 + (p + rep) % 2;
				int took = tile_run_paths(m, x, n, threads, p,
				    out, cnt);

				tiled += (took & HGQ_SIM_TILES) != 0;
				avx512 += (took & HGQ_SIM_AVX512) != 0;
				wide_seen += wide && !(took & HGQ_SIM_TILES);
				ck_assert_msg(memcmp(out, ref, n * n_out *
				    sizeof(int64_t)) == 0, "model %d isa %d "
				    "paths %d: outputs differ", rep, v, p);
				ck_assert_msg(memcmp(cnt, cref, nq *
				    sizeof(uint64_t)) == 0, "model %d isa %d "
				    "paths %d: overflow counts differ", rep, v,
				    p);
			}
		}
		hgq_kernel_isa(HGQ_ISA_AUTO);
		hgq_model_free(m);
		free(x);
		free(ref);
		free(out);
	}
	/* the models drive the fast paths (AVX-512 where the CPU has it),
	   the wide ones the others */
	ck_assert_int_gt(tiled, 48);
#if defined(__x86_64__) && defined(__GNUC__)
	if (hgq_kernel_isa(HGQ_ISA_AVX2) == HGQ_ISA_AVX2 &&
	    __builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512vnni"))
		ck_assert_int_gt(avx512, 24);
	hgq_kernel_isa(HGQ_ISA_AUTO);
#endif
	ck_assert_int_gt(wide_seen, 0);
	ck_assert_int_gt(ovf_seen, 20);
}
END_TEST

Suite *
simtile_suite(void)
{
	Suite *s = suite_create("simtile");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_tiles_equal_per_sample);
	suite_add_tcase(s, tc);
	return s;
}
