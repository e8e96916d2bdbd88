/*
 * check_conv.c - the convolution and pooling kernels (lib/conv.c):
 * geometry (Keras 'valid'/'same' sizes and padding), hand-computed
 * forward results compared with ==, the im2col-GEMM path against the
 * direct loops on integer-valued data (exact), finite-difference checks
 * of every backward against a double-precision twin written here, the
 * pooling kernels, hgq_wquant on a kernel tensor, and the convolution
 * EBOPs against a brute-force count and its own finite differences.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "fixture.h"
#include "unit.h"

static float
urand(float lo, float hi)
{
	return lo + (hi - lo) * (float)fx_rnd_unit();
}

static float *
rand_array(size_t n, float lo, float hi)
{
	float *a = malloc((n ? n : 1) * sizeof(*a));

	ck_assert_ptr_nonnull(a);
	for (size_t j = 0; j < n; j++)
		a[j] = urand(lo, hi);
	return a;
}

/* integers in [lo, hi] */
static float *
int_array(size_t n, int lo, int hi)
{
	float *a = malloc((n ? n : 1) * sizeof(*a));

	ck_assert_ptr_nonnull(a);
	for (size_t j = 0; j < n; j++)
		a[j] = (float)fx_rnd_int(lo, hi);
	return a;
}

static float *
zeros(size_t n)
{
	float *a = calloc(n ? n : 1, sizeof(*a));

	ck_assert_ptr_nonnull(a);
	return a;
}

static const int isas[] = { HGQ_ISA_C, HGQ_ISA_AVX2 };
#define N_ISAS	(sizeof(isas) / sizeof(isas[0]))

static void
geom(struct hgq_conv_geom *g, size_t H, size_t W, size_t C, size_t KH,
    size_t KW, size_t OC, size_t SH, size_t SW, int pad)
{
	struct hgq_err err = HGQ_ERR_INIT;

	ck_assert_msg(hgq_conv_geom_init(g, H, W, C, KH, KW, OC, SH, SW, pad,
	    &err) == HGQ_OK, "%s", err.msg);
}

/* ------------------------------------------------------------------ */
/* Geometry                                                            */
/* ------------------------------------------------------------------ */

/*
 * Output size and padding before, per axis, as TensorFlow computes them
 * (worked by hand from out = ceil(n/s), pad_total = max((out-1)s + k - n,
 * 0), before = floor(total/2); valid: floor((n-k)/s) + 1).
 */
static const struct {
	size_t	n, k, s;
	int	pad;
	size_t	out, before;
} axes[] = {
	{ 5, 3, 1, HGQ_PAD_SAME, 5, 1 },	/* odd, total 2 */
	{ 6, 3, 1, HGQ_PAD_SAME, 6, 1 },
	{ 6, 2, 1, HGQ_PAD_SAME, 6, 0 },	/* total 1: all after */
	{ 5, 3, 2, HGQ_PAD_SAME, 3, 1 },	/* total 2 */
	{ 6, 3, 2, HGQ_PAD_SAME, 3, 0 },	/* total 1 */
	{ 7, 4, 3, HGQ_PAD_SAME, 3, 1 },	/* total 3 */
	{ 4, 1, 3, HGQ_PAD_SAME, 2, 0 },	/* total 0 */
	{ 8, 3, 3, HGQ_PAD_SAME, 3, 0 },	/* total 1 */
	{ 9, 3, 3, HGQ_PAD_SAME, 3, 0 },	/* total 0 */
	{ 2, 5, 1, HGQ_PAD_SAME, 2, 2 },	/* kernel > input: total 4 */
	{ 1, 3, 2, HGQ_PAD_SAME, 1, 1 },
	{ 7, 7, 2, HGQ_PAD_SAME, 4, 3 },	/* total 6 */
	{ 28, 3, 1, HGQ_PAD_VALID, 26, 0 },
	{ 7, 3, 2, HGQ_PAD_VALID, 3, 0 },
	{ 8, 3, 2, HGQ_PAD_VALID, 3, 0 },	/* remainder dropped */
	{ 8, 3, 3, HGQ_PAD_VALID, 2, 0 },
	{ 3, 3, 3, HGQ_PAD_VALID, 1, 0 },
};

START_TEST(test_geom)
{
	struct hgq_conv_geom g;
	struct hgq_pool_geom p;
	struct hgq_err err = HGQ_ERR_INIT;

	for (size_t t = 0; t < sizeof(axes) / sizeof(axes[0]); t++) {
		/* the axis as H, then as W, then as a 1-D W */
		geom(&g, axes[t].n, 4, 2, axes[t].k, 1, 3, axes[t].s, 1,
		    axes[t].pad);
		ck_assert_uint_eq(g.OH, axes[t].out);
		ck_assert_uint_eq(g.PT, axes[t].before);
		ck_assert_uint_eq(g.OW, 4);
		ck_assert_uint_eq(g.PL, 0);
		geom(&g, 3, axes[t].n, 2, 1, axes[t].k, 3, 1, axes[t].s,
		    axes[t].pad);
		ck_assert_uint_eq(g.OW, axes[t].out);
		ck_assert_uint_eq(g.PL, axes[t].before);
		ck_assert_int_eq(hgq_conv1d_geom_init(&g, axes[t].n, 2,
		    axes[t].k, 3, axes[t].s, axes[t].pad, &err), HGQ_OK);
		ck_assert_uint_eq(g.H, 1);
		ck_assert_uint_eq(g.OH, 1);
		ck_assert_uint_eq(g.PT, 0);
		ck_assert_uint_eq(g.OW, axes[t].out);
		ck_assert_uint_eq(g.PL, axes[t].before);
	}
	geom(&g, 28, 28, 1, 3, 3, 8, 1, 1, HGQ_PAD_VALID);
	ck_assert_uint_eq(hgq_conv_col_len(&g), 26 * 26 * 9);

	/* refused shapes */
	ck_assert_int_eq(hgq_conv_geom_init(&g, 2, 5, 1, 3, 3, 1, 1, 1,
	    HGQ_PAD_VALID, &err), HGQ_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "larger than its input"));
	ck_assert_int_eq(hgq_conv_geom_init(&g, 5, 5, 0, 3, 3, 1, 1, 1,
	    HGQ_PAD_VALID, &err), HGQ_EINVAL);
	ck_assert_int_eq(hgq_conv_geom_init(&g, 5, 5, 1, 3, 3, 1, 0, 1,
	    HGQ_PAD_SAME, &err), HGQ_EINVAL);
	ck_assert_int_eq(hgq_conv_geom_init(&g, 5, 5, 1, 3, 3, 1, 1, 1, 7,
	    &err), HGQ_EINVAL);
	ck_assert_int_eq(hgq_conv_geom_init(&g, (size_t)1 << 20,
	    (size_t)1 << 20, 4, 1, 1, 1, 1, 1, HGQ_PAD_VALID, &err),
	    HGQ_EINVAL);
	ck_assert_int_eq(hgq_conv_geom_init(&g, SIZE_MAX, SIZE_MAX, SIZE_MAX,
	    1, 1, 1, 1, 1, HGQ_PAD_SAME, &err), HGQ_EINVAL);
	/* im2col rows too large although input and output fit */
	ck_assert_int_eq(hgq_conv_geom_init(&g, 4096, 4096, 64, 64, 64, 1, 1,
	    1, HGQ_PAD_SAME, &err), HGQ_EINVAL);
	ck_assert_int_eq(hgq_conv_geom_init(&g, 4, 4, 1, 3, 3,
	    (size_t)1 << 30, 1, 1, HGQ_PAD_SAME, &err), HGQ_EINVAL);

	/* pooling: remainders dropped, stride 0 = the pool */
	ck_assert_int_eq(hgq_pool_geom_init(&p, 26, 26, 8, 2, 2, 0, 0, &err),
	    HGQ_OK);
	ck_assert_uint_eq(p.OH, 13);
	ck_assert_uint_eq(p.SH, 2);
	ck_assert_int_eq(hgq_pool_geom_init(&p, 11, 11, 16, 2, 2, 0, 0,
	    &err), HGQ_OK);
	ck_assert_uint_eq(p.OH, 5);
	ck_assert_uint_eq(p.OW, 5);
	ck_assert_int_eq(hgq_pool_geom_init(&p, 7, 8, 1, 3, 2, 2, 1, &err),
	    HGQ_OK);
	ck_assert_uint_eq(p.OH, 3);
	ck_assert_uint_eq(p.OW, 7);
	ck_assert_int_eq(hgq_pool1d_geom_init(&p, 50, 3, 4, 0, &err), HGQ_OK);
	ck_assert_uint_eq(p.H, 1);
	ck_assert_uint_eq(p.OH, 1);
	ck_assert_uint_eq(p.OW, 12);
	ck_assert_int_eq(hgq_pool_geom_init(&p, 3, 3, 1, 4, 2, 0, 0, &err),
	    HGQ_EINVAL);
	ck_assert_int_eq(hgq_pool_geom_init(&p, 3, 3, 0, 2, 2, 0, 0, &err),
	    HGQ_EINVAL);
	ck_assert_int_eq(hgq_pool_geom_init(&p, 3, 3, 1, 0, 2, 0, 0, &err),
	    HGQ_EINVAL);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Forward, exact                                                      */
/* ------------------------------------------------------------------ */

/* both paths on every ISA give exactly want (n values) */
static void
check_forward(const struct hgq_conv_geom *g, const float *x, const float *w,
    const float *bias, int relu, const float *want, size_t n)
{
	float out[64], col[256];

	ck_assert(n <= 64 && hgq_conv_col_len(g) <= 256);
	hgq_conv_forward_ref(out, x, w, bias, g, 1, relu);
	for (size_t j = 0; j < n; j++)
		ck_assert_msg(out[j] == want[j], "ref [%zu] %g != %g", j,
		    (double)out[j], (double)want[j]);
	for (size_t v = 0; v < N_ISAS; v++) {
		if (hgq_kernel_isa(isas[v]) != isas[v])
			continue;
		memset(out, 0, sizeof(out));
		hgq_conv_forward(out, col, x, w, bias, g, 1, relu);
		for (size_t j = 0; j < n; j++)
			ck_assert_msg(out[j] == want[j], "isa %d [%zu] %g != "
			    "%g", isas[v], j, (double)out[j],
			    (double)want[j]);
	}
	hgq_kernel_isa(HGQ_ISA_AUTO);
}

START_TEST(test_forward_exact)
{
	/* 3x3 input, 2x2 kernel [[1, 0], [-1, 2]], one channel */
	static const float x[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	static const float w[4] = { 1, 0, -1, 2 };
	static const float bias[1] = { 1 };
	static const float valid[4] = { 7, 9, 13, 15 };
	static const float valid_b[4] = { 8, 10, 14, 16 };
	/* same: total 1 per axis, all of it after (bottom, right) */
	static const float same[9] = { 7, 9, -3, 13, 15, -3, 7, 8, 9 };
	static const float same_relu[9] = { 8, 10, 0, 14, 16, 0, 8, 9, 10 };
	/* same, stride 2: out 2x2, total 1, before 0 */
	static const float same_s2[4] = { 7, -3, 7, 9 };
	/*
	 * Two channels in, two filters: x[h,w,c] = the 3x3 above for c = 0,
	 * its negation for c = 1; w[kh,kw,c,o] = kernel above for (c,o) =
	 * (0,0) and (1,1), 1 for (1,0), 0 for (0,1).  Filter 0 = valid +
	 * sum of -x over the window; filter 1 = the conv of -x = -valid.
	 */
	float x2[18], w2[16];
	static const float valid2[8] = {
		7 - 12, -7, 9 - 16, -9, 13 - 24, -13, 15 - 28, -15,
	};
	/* conv1d: [5, 1] input, kernel 3 [1 2 3], stride 2 */
	static const float x1[5] = { 1, 2, 3, 4, 5 };
	static const float w1[3] = { 1, 2, 3 };
	static const float c1d[2] = { 14, 26 };
	/* conv1d same stride 2: out 3, total 2, before 1 */
	static const float c1d_same[3] = { 8, 20, 14 };
	struct hgq_conv_geom g;

	geom(&g, 3, 3, 1, 2, 2, 1, 1, 1, HGQ_PAD_VALID);
	check_forward(&g, x, w, NULL, 0, valid, 4);
	check_forward(&g, x, w, bias, 0, valid_b, 4);
	geom(&g, 3, 3, 1, 2, 2, 1, 1, 1, HGQ_PAD_SAME);
	ck_assert_uint_eq(g.OH, 3);
	check_forward(&g, x, w, NULL, 0, same, 9);
	check_forward(&g, x, w, bias, 1, same_relu, 9);
	geom(&g, 3, 3, 1, 2, 2, 1, 2, 2, HGQ_PAD_SAME);
	ck_assert_uint_eq(g.OH, 2);
	check_forward(&g, x, w, NULL, 0, same_s2, 4);

	for (size_t e = 0; e < 9; e++) {
		x2[2 * e] = x[e];
		x2[2 * e + 1] = -x[e];
	}
	for (size_t t = 0; t < 4; t++) {
		w2[t * 4 + 0] = w[t];	/* c 0 -> o 0 */
		w2[t * 4 + 1] = 0;	/* c 0 -> o 1 */
		w2[t * 4 + 2] = 1;	/* c 1 -> o 0 */
		w2[t * 4 + 3] = w[t];	/* c 1 -> o 1 */
	}
	geom(&g, 3, 3, 2, 2, 2, 2, 1, 1, HGQ_PAD_VALID);
	check_forward(&g, x2, w2, NULL, 0, valid2, 8);

	ck_assert_int_eq(hgq_conv1d_geom_init(&g, 5, 1, 3, 1, 2,
	    HGQ_PAD_VALID, NULL), HGQ_OK);
	check_forward(&g, x1, w1, NULL, 0, c1d, 2);
	ck_assert_int_eq(hgq_conv1d_geom_init(&g, 5, 1, 3, 1, 2,
	    HGQ_PAD_SAME, NULL), HGQ_OK);
	ck_assert_uint_eq(g.OW, 3);
	check_forward(&g, x1, w1, NULL, 0, c1d_same, 3);
}
END_TEST

/* ------------------------------------------------------------------ */
/* im2col-GEMM against the direct loops, exact on integers             */
/* ------------------------------------------------------------------ */

/* 5x12: rows wide enough for col2im's four-wide gather at C = 1 */
static const size_t sweep_hw[][2] = {
	{ 1, 1 }, { 1, 7 }, { 4, 5 }, { 6, 6 }, { 7, 3 }, { 5, 12 },
};
static const size_t sweep_k[][2] = {
	{ 1, 1 }, { 2, 2 }, { 3, 3 }, { 1, 3 }, { 3, 2 },
};
static const size_t sweep_c[][2] = {	/* C, OC: tile remainders */
	{ 1, 1 }, { 3, 8 }, { 2, 17 }, { 8, 16 },
};

START_TEST(test_gemm_vs_direct)
{
	size_t n_cases = 0;

	fx_rng_state = 3;
	for (size_t v = 0; v < N_ISAS; v++) {
		if (hgq_kernel_isa(isas[v]) != isas[v])
			continue;
	for (size_t a = 0; a < sizeof(sweep_hw) / sizeof(sweep_hw[0]); a++)
	for (size_t k = 0; k < sizeof(sweep_k) / sizeof(sweep_k[0]); k++)
	for (size_t c = 0; c < sizeof(sweep_c) / sizeof(sweep_c[0]); c++)
	for (size_t s = 1; s <= 3; s++)
	for (int pad = HGQ_PAD_VALID; pad <= HGQ_PAD_SAME; pad++) {
		struct hgq_conv_geom g;
		size_t H = sweep_hw[a][0], W = sweep_hw[a][1];
		size_t C = sweep_c[c][0], OC = sweep_c[c][1], B = 3;
		size_t ni, no, nw, K;
		float *x, *w, *wt, *bias, *dout, *col, *dcol;
		float *o1, *o2, *di1, *di2, *dw1, *dw2, *db1, *db2;

		if (hgq_conv_geom_init(&g, H, W, C, sweep_k[k][0],
		    sweep_k[k][1], OC, s, s == 3 ? 2 : s, pad, NULL) !=
		    HGQ_OK) {
			ck_assert(pad == HGQ_PAD_VALID);
			continue;
		}
		n_cases++;
		K = g.KH * g.KW * C;
		ni = B * H * W * C;
		no = B * g.OH * g.OW * OC;
		nw = K * OC;
		x = int_array(ni, -4, 4);
		w = int_array(nw, -3, 3);
		bias = int_array(OC, -5, 5);
		dout = int_array(no, -3, 3);
		wt = zeros(nw);
		col = zeros(B * hgq_conv_col_len(&g));
		dcol = zeros(B * hgq_conv_col_len(&g));
		o1 = zeros(no);
		o2 = zeros(no);
		di1 = zeros(ni);
		di2 = zeros(ni);
		dw1 = int_array(nw, -2, 2);	/* accumulated into */
		dw2 = malloc(nw * sizeof(float));
		db1 = int_array(OC, -2, 2);
		db2 = malloc(OC * sizeof(float));
		memcpy(dw2, dw1, nw * sizeof(float));
		memcpy(db2, db1, OC * sizeof(float));

		hgq_conv_forward(o1, col, x, w, bias, &g, B, 0);
		hgq_conv_forward_ref(o2, x, w, bias, &g, B, 0);
		ck_assert_mem_eq(o1, o2, no * sizeof(float));
		hgq_conv_forward(o1, col, x, w, NULL, &g, B, 1);
		hgq_conv_forward_ref(o2, x, w, NULL, &g, B, 1);
		ck_assert_mem_eq(o1, o2, no * sizeof(float));

		hgq_wquant_transpose(wt, w, K, OC);
		hgq_conv_backward(di1, dw1, db1, dcol, dout, col, wt, &g, B);
		hgq_conv_backward_ref(di2, dw2, db2, dout, x, w, &g, B);
		for (size_t j = 0; j < ni; j++)
			ck_assert_msg(di1[j] == di2[j], "dinp isa %d case "
			    "%zu [%zu]: %g != %g", isas[v], n_cases, j,
			    (double)di1[j], (double)di2[j]);
		for (size_t j = 0; j < nw; j++)
			ck_assert_msg(dw1[j] == dw2[j], "dw isa %d case %zu "
			    "[%zu]", isas[v], n_cases, j);
		for (size_t j = 0; j < OC; j++)
			ck_assert(db1[j] == db2[j]);
		/* without dinp and db: dw alone, again accumulated */
		hgq_conv_backward(NULL, dw1, NULL, NULL, dout, col, NULL, &g,
		    B);
		hgq_conv_backward_ref(NULL, dw2, NULL, dout, x, w, &g, B);
		for (size_t j = 0; j < nw; j++)
			ck_assert(dw1[j] == dw2[j]);

		free(x); free(w); free(wt); free(bias); free(dout);
		free(col); free(dcol); free(o1); free(o2); free(di1);
		free(di2); free(dw1); free(dw2); free(db1); free(db2);
	}
	}
	hgq_kernel_isa(HGQ_ISA_AUTO);
	ck_assert_uint_gt(n_cases, 500);
}
END_TEST

/*
 * The direct kernels of a one-channel convolution give the same bits as
 * the im2col path under each kernel variant, on random floats (every
 * rounding counts): rows shorter and longer than a 12-position tile,
 * fewer than 8 positions, 1 to 12 taps, 8 to 24 filters.
 */
static const size_t direct_cases[][5] = {	/* H, W, KH, KW, OC */
	{ 28, 28, 3, 3, 8 }, { 5, 12, 3, 3, 16 }, { 4, 20, 2, 3, 8 },
	{ 3, 3, 2, 2, 8 }, { 9, 30, 1, 1, 24 }, { 6, 17, 3, 4, 8 },
	{ 7, 9, 3, 1, 16 },
};

static void
check_direct(const struct hgq_conv_geom *g, size_t B, int isa)
{
	size_t K = g->KH * g->KW, no = B * g->OH * g->OW * g->OC;
	size_t ni = B * g->H * g->W, nw = K * g->OC, ncol = hgq_conv_col_len(g);
	float *x = rand_array(ni, -1, 1), *w = rand_array(nw, -1, 1);
	float *bias = rand_array(g->OC, -1, 1), *dout = rand_array(no, -1, 1);
	float *wt = zeros(nw), *col = zeros(B * ncol), *dcol = zeros(B * ncol);
	float *o1 = zeros(no), *o2 = zeros(no), *di1 = zeros(ni);
	float *di2 = zeros(ni), *dw1 = rand_array(nw, -1, 1);
	float *dw2 = malloc(nw * sizeof(float)), *db1 = rand_array(g->OC, -1, 1);
	float *db2 = malloc(g->OC * sizeof(float));

	ck_assert(hgq_conv_direct(g));
	memcpy(dw2, dw1, nw * sizeof(float));
	memcpy(db2, db1, g->OC * sizeof(float));
	for (int relu = 0; relu <= 1; relu++) {
		hgq_conv_forward(o1, col, x, w, relu ? NULL : bias, g, B,
		    relu);
		hgq_conv_direct_forward(o2, x, w, relu ? NULL : bias, g, B,
		    relu);
		for (size_t j = 0; j < no; j++)
			ck_assert_msg(o1[j] == o2[j], "isa %d %zux%zu "
			    "out[%zu]: %a != %a", isa, g->H, g->W, j,
			    (double)o1[j], (double)o2[j]);
	}
	hgq_wquant_transpose(wt, w, K, g->OC);
	hgq_conv_backward(di1, dw1, db1, dcol, dout, col, wt, g, B);
	hgq_conv_direct_backward(di2, dw2, db2, dcol, dout, x, wt, g, B);
	for (size_t j = 0; j < ni; j++)
		ck_assert_msg(di1[j] == di2[j], "isa %d %zux%zu dinp[%zu]: "
		    "%a != %a", isa, g->H, g->W, j, (double)di1[j],
		    (double)di2[j]);
	/* without dinp and db: dw alone, accumulated again */
	hgq_conv_backward(NULL, dw1, NULL, NULL, dout, col, NULL, g, B);
	hgq_conv_direct_backward(NULL, dw2, NULL, NULL, dout, x, NULL, g, B);
	for (size_t j = 0; j < nw; j++)
		ck_assert_msg(dw1[j] == dw2[j], "isa %d dw[%zu]", isa, j);
	for (size_t j = 0; j < g->OC; j++)
		ck_assert_msg(db1[j] == db2[j], "isa %d db[%zu]", isa, j);
	free(x); free(w); free(bias); free(dout); free(wt); free(col);
	free(dcol); free(o1); free(o2); free(di1); free(di2); free(dw1);
	free(dw2); free(db1); free(db2);
}

START_TEST(test_direct_same_bits)
{
	struct hgq_conv_geom g;

	fx_rng_state = 11;
	for (size_t v = 0; v < N_ISAS; v++) {
		if (hgq_kernel_isa(isas[v]) != isas[v])
			continue;
		for (size_t c = 0; c < sizeof(direct_cases) /
		    sizeof(direct_cases[0]); c++) {
			const size_t *d = direct_cases[c];

			geom(&g, d[0], d[1], 1, d[2], d[3], d[4], 1, 1,
			    HGQ_PAD_VALID);
			check_direct(&g, 3, isas[v]);
		}
	}
	hgq_kernel_isa(HGQ_ISA_AUTO);
	/* what the direct kernels leave to im2col */
	geom(&g, 28, 28, 2, 3, 3, 8, 1, 1, HGQ_PAD_VALID);
	ck_assert(!hgq_conv_direct(&g));
	geom(&g, 28, 28, 1, 3, 3, 8, 2, 2, HGQ_PAD_VALID);
	ck_assert(!hgq_conv_direct(&g));
	geom(&g, 28, 28, 1, 3, 3, 8, 1, 1, HGQ_PAD_SAME);
	ck_assert(!hgq_conv_direct(&g));
	geom(&g, 28, 28, 1, 3, 3, 12, 1, 1, HGQ_PAD_VALID);
	ck_assert(!hgq_conv_direct(&g));
	geom(&g, 28, 28, 1, 5, 5, 8, 1, 1, HGQ_PAD_VALID);
	ck_assert(!hgq_conv_direct(&g));
	/* 'same' with a 1x1 kernel pads nothing */
	geom(&g, 28, 28, 1, 1, 1, 8, 1, 1, HGQ_PAD_SAME);
	ck_assert(hgq_conv_direct(&g));
}
END_TEST

/*
 * col2im is the adjoint of im2col: <im2col(x), y> = <x, col2im(y)>,
 * exactly on integers; and the batch split over row ranges (as the
 * trainer's threads do) gives the same outputs and summed gradients.
 */
START_TEST(test_col2im_and_split)
{
	struct hgq_conv_geom g;
	const size_t B = 5;
	size_t ni, nc, no, nw, K;
	float *x, *y, *col, *dx, *w, *wt, *dout, *o1, *o2, *dcol;
	float *di1, *di2, *dw1, *dw2, *db1, *db2;
	double s1 = 0, s2 = 0;

	fx_rng_state = 4;
	geom(&g, 7, 6, 3, 3, 2, 5, 2, 1, HGQ_PAD_SAME);
	K = g.KH * g.KW * g.C;
	ni = B * 7 * 6 * 3;
	nc = B * hgq_conv_col_len(&g);
	no = B * g.OH * g.OW * g.OC;
	nw = K * g.OC;
	x = int_array(ni, -5, 5);
	y = int_array(nc, -5, 5);
	col = zeros(nc);
	dcol = zeros(nc);
	dx = zeros(ni);
	hgq_conv_im2col(col, x, &g, B);
	hgq_conv_col2im(dx, y, &g, B);
	for (size_t j = 0; j < nc; j++)
		s1 += (double)col[j] * y[j];
	for (size_t j = 0; j < ni; j++)
		s2 += (double)x[j] * dx[j];
	ck_assert(s1 == s2);

	w = int_array(nw, -3, 3);
	wt = zeros(nw);
	dout = int_array(no, -3, 3);
	o1 = zeros(no);
	o2 = zeros(no);
	di1 = zeros(ni);
	di2 = zeros(ni);
	dw1 = zeros(nw);
	dw2 = zeros(nw);
	db1 = zeros(g.OC);
	db2 = zeros(g.OC);
	hgq_wquant_transpose(wt, w, K, g.OC);
	hgq_conv_forward(o1, col, x, w, NULL, &g, B, 0);
	hgq_conv_backward(di1, dw1, db1, dcol, dout, col, wt, &g, B);
	/* rows [0, 2) and [2, 5), as two threads or two blocks */
	{
		size_t cut = 2, xs = 7 * 6 * 3, os = g.OH * g.OW * g.OC;
		size_t cs = hgq_conv_col_len(&g);

		hgq_conv_forward(o2, col, x, w, NULL, &g, cut, 0);
		hgq_conv_backward(di2, dw2, db2, dcol, dout, col, wt, &g, cut);
		hgq_conv_forward(o2 + cut * os, col + cut * cs, x + cut * xs,
		    w, NULL, &g, B - cut, 0);
		hgq_conv_backward(di2 + cut * xs, dw2, db2, dcol + cut * cs,
		    dout + cut * os, col + cut * cs, wt, &g, B - cut);
	}
	ck_assert_mem_eq(o1, o2, no * sizeof(float));
	ck_assert_mem_eq(di1, di2, ni * sizeof(float));
	for (size_t j = 0; j < nw; j++)
		ck_assert(dw1[j] == dw2[j]);
	for (size_t j = 0; j < g.OC; j++)
		ck_assert(db1[j] == db2[j]);
	free(x); free(y); free(col); free(dcol); free(dx); free(w); free(wt);
	free(dout); free(o1); free(o2); free(di1); free(di2); free(dw1);
	free(dw2); free(db1); free(db2);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Finite differences against a double twin                            */
/* ------------------------------------------------------------------ */

/*
 * L = sum over outputs of r*o + o^2/2, o = conv(x, w) + bias computed in
 * double straight from the definition (signed input coordinates, zero
 * outside), independently of conv.c's loops.  dL/do = r + o.
 */
static double
conv_loss(const struct hgq_conv_geom *g, size_t B, const float *x,
    const float *w, const float *bias, const float *r)
{
	double L = 0;

	for (size_t b = 0; b < B; b++)
	for (size_t oh = 0; oh < g->OH; oh++)
	for (size_t ow = 0; ow < g->OW; ow++)
	for (size_t o = 0; o < g->OC; o++) {
		double v = bias[o];

		for (size_t kh = 0; kh < g->KH; kh++)
		for (size_t kw = 0; kw < g->KW; kw++)
		for (size_t c = 0; c < g->C; c++) {
			long ih = (long)(oh * g->SH + kh) - (long)g->PT;
			long iw = (long)(ow * g->SW + kw) - (long)g->PL;

			if (ih < 0 || iw < 0 || ih >= (long)g->H ||
			    iw >= (long)g->W)
				continue;
			v += (double)x[((b * g->H + (size_t)ih) * g->W +
			    (size_t)iw) * g->C + c] *
			    w[((kh * g->KW + kw) * g->C + c) * g->OC + o];
		}
		L += r[((b * g->OH + oh) * g->OW + ow) * g->OC + o] * v +
		    0.5 * v * v;
	}
	return L;
}

static void
fd_conv(const struct hgq_conv_geom *g, size_t B)
{
	size_t K = g->KH * g->KW * g->C, nw = K * g->OC;
	size_t ni = B * g->H * g->W * g->C, no = B * g->OH * g->OW * g->OC;
	float *x = rand_array(ni, -1, 1), *w = rand_array(nw, -1, 1);
	float *bias = rand_array(g->OC, -1, 1), *r = rand_array(no, -1, 1);
	float *out = zeros(no), *dout = zeros(no), *wt = zeros(nw);
	float *col = zeros(B * hgq_conv_col_len(g));
	float *dcol = zeros(B * hgq_conv_col_len(g));
	float *di = zeros(ni), *dw = zeros(nw), *db = zeros(g->OC);
	float *di2 = zeros(ni), *dw2 = zeros(nw), *db2 = zeros(g->OC);
	const float h = 1e-2f;

	hgq_conv_forward(out, col, x, w, bias, g, B, 0);
	for (size_t j = 0; j < no; j++)
		dout[j] = r[j] + out[j];
	hgq_wquant_transpose(wt, w, K, g->OC);
	hgq_conv_backward(di, dw, db, dcol, dout, col, wt, g, B);
	hgq_conv_backward_ref(di2, dw2, db2, dout, x, w, g, B);
#define FD(arr, n, grad, grad2) \
	for (size_t j = 0; j < (n); j++) { \
		float save = arr[j]; \
		double lp, lm, fd; \
		arr[j] = save + h; \
		lp = conv_loss(g, B, x, w, bias, r); \
		arr[j] = save - h; \
		lm = conv_loss(g, B, x, w, bias, r); \
		arr[j] = save; \
		fd = (lp - lm) / (2.0 * h); \
		ck_assert_msg(fabs(fd - grad[j]) < 2e-3 * (1 + fabs(fd)), \
		    #arr "[%zu]: fd %g analytic %g", j, fd, (double)grad[j]); \
		ck_assert_msg(fabs(fd - grad2[j]) < 2e-3 * (1 + fabs(fd)), \
		    #arr "[%zu]: fd %g direct %g", j, fd, (double)grad2[j]); \
	}
	FD(x, ni, di, di2);
	FD(w, nw, dw, dw2);
	FD(bias, g->OC, db, db2);
#undef FD
	free(x); free(w); free(bias); free(r); free(out); free(dout);
	free(wt); free(col); free(dcol); free(di); free(dw); free(db);
	free(di2); free(dw2); free(db2);
}

START_TEST(test_conv_fd)
{
	struct hgq_conv_geom g;

	fx_rng_state = 5;
	geom(&g, 5, 4, 2, 3, 3, 3, 1, 1, HGQ_PAD_VALID);
	fd_conv(&g, 2);
	geom(&g, 5, 6, 3, 3, 2, 4, 2, 3, HGQ_PAD_SAME);
	fd_conv(&g, 2);
	geom(&g, 4, 4, 1, 2, 2, 9, 2, 2, HGQ_PAD_SAME);
	fd_conv(&g, 1);
	ck_assert_int_eq(hgq_conv1d_geom_init(&g, 9, 3, 4, 5, 2,
	    HGQ_PAD_SAME, NULL), HGQ_OK);
	fd_conv(&g, 2);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Pooling                                                             */
/* ------------------------------------------------------------------ */

START_TEST(test_pool_exact)
{
	/* 4x5, one channel; pool 2: the last column is dropped */
	static const float x[20] = {
		1, 5, 2, 0, 9,
		3, 4, 8, 8, 9,
		-1, -2, 6, 7, 9,
		-4, -3, 7, 6, 9,
	};
	static const float maxp[4] = { 5, 8, -1, 7 };
	static const float avgp[4] = { 3.25f, 4.5f, -2.5f, 6.5f };
	static const float dout[4] = { 1, 2, 3, 4 };
	/* ties go to the first of the window: 8 at (1,2), 7 at (2,3)/(3,2) */
	static const float dmax[20] = {
		0, 1, 0, 0, 0,
		0, 0, 2, 0, 0,
		3, 0, 0, 4, 0,
		0, 0, 0, 0, 0,
	};
	static const float davg[20] = {
		0.25f, 0.25f, 0.5f, 0.5f, 0,
		0.25f, 0.25f, 0.5f, 0.5f, 0,
		0.75f, 0.75f, 1, 1, 0,
		0.75f, 0.75f, 1, 1, 0,
	};
	/* 1-D, two channels, pool 3 stride 2 (overlapping), W 6: 2 outputs */
	static const float x1[12] = { 1, -1, 3, -2, 2, -3, 0, 5, 4, 5, 1, 0 };
	static const float max1[4] = { 3, -1, 4, 5 };
	static const float d1[4] = { 1, 2, 3, 4 };
	static const float dmax1[12] = { 0, 2, 1, 0, 0, 0, 0, 4, 3, 0, 0, 0 };
	static const float davg1[12] = {
		1.f / 3, 2.f / 3, 1.f / 3, 2.f / 3, 4.f / 3, 2, 1, 4.f / 3,
		1, 4.f / 3, 0, 0,
	};
	struct hgq_pool_geom p;
	float out[4], dx[20];

	ck_assert_int_eq(hgq_pool_geom_init(&p, 4, 5, 1, 2, 2, 0, 0, NULL),
	    HGQ_OK);
	hgq_maxpool_forward(out, x, &p, 1);
	ck_assert_mem_eq(out, maxp, sizeof(maxp));
	hgq_maxpool_backward(dx, dout, x, &p, 1, 0);
	ck_assert_mem_eq(dx, dmax, sizeof(dmax));
	hgq_avgpool_forward(out, x, &p, 1);
	ck_assert_mem_eq(out, avgp, sizeof(avgp));
	hgq_avgpool_backward(dx, dout, &p, 1);
	ck_assert_mem_eq(dx, davg, sizeof(davg));

	ck_assert_int_eq(hgq_pool1d_geom_init(&p, 6, 2, 3, 2, NULL), HGQ_OK);
	ck_assert_uint_eq(p.OW, 2);
	hgq_maxpool_forward(out, x1, &p, 1);
	ck_assert_mem_eq(out, max1, sizeof(max1));
	hgq_maxpool_backward(dx, d1, x1, &p, 1, 0);
	ck_assert_mem_eq(dx, dmax1, sizeof(dmax1));
	hgq_avgpool_backward(dx, d1, &p, 1);
	for (size_t j = 0; j < 12; j++)
		ck_assert_float_eq_tol(dx[j], davg1[j], 1e-6);
}
END_TEST

/* L = sum r*out + out^2/2 of a pooling, in double from the definition */
static double
pool_loss(const struct hgq_pool_geom *p, size_t B, const float *x,
    const float *r, int avg)
{
	double L = 0;

	for (size_t b = 0; b < B; b++)
	for (size_t oh = 0; oh < p->OH; oh++)
	for (size_t ow = 0; ow < p->OW; ow++)
	for (size_t c = 0; c < p->C; c++) {
		double v = avg ? 0 : -INFINITY;

		for (size_t ph = 0; ph < p->PH; ph++)
		for (size_t pw = 0; pw < p->PW; pw++) {
			double e = x[((b * p->H + oh * p->SH + ph) * p->W +
			    ow * p->SW + pw) * p->C + c];

			v = avg ? v + e : (e > v ? e : v);
		}
		if (avg)
			v /= (double)(p->PH * p->PW);
		L += r[((b * p->OH + oh) * p->OW + ow) * p->C + c] * v +
		    0.5 * v * v;
	}
	return L;
}

START_TEST(test_pool_fd)
{
	static const size_t cases[][6] = {	/* H W C P S(h,w) */
		{ 6, 7, 3, 2, 2, 2 }, { 5, 5, 2, 3, 2, 1 },
		{ 1, 9, 4, 3, 3, 0 },
	};
	const float h = 1e-3f;

	fx_rng_state = 6;
	for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++)
	for (int avg = 0; avg <= 1; avg++) {
		struct hgq_pool_geom p;
		const size_t B = 2;
		size_t ni, no;
		float *x, *r, *out, *dout, *dx;

		ck_assert_int_eq(hgq_pool_geom_init(&p, cases[t][0],
		    cases[t][1], cases[t][2], cases[t][0] == 1 ? 1 :
		    cases[t][3], cases[t][3], cases[t][0] == 1 ? 1 :
		    cases[t][4], cases[t][5], NULL), HGQ_OK);
		ni = B * p.H * p.W * p.C;
		no = B * p.OH * p.OW * p.C;
		/* distinct values 0.01 apart: a step of h never reorders */
		x = zeros(ni);
		for (size_t j = 0; j < ni; j++)
			x[j] = 0.01f * (float)j - 1.0f;
		for (size_t j = ni; j-- > 1;) {
			size_t k = (size_t)(fx_rnd() % (j + 1));
			float tmp = x[j];

			x[j] = x[k];
			x[k] = tmp;
		}
		r = rand_array(no, -1, 1);
		out = zeros(no);
		dout = zeros(no);
		dx = zeros(ni);
		if (avg)
			hgq_avgpool_forward(out, x, &p, B);
		else
			hgq_maxpool_forward(out, x, &p, B);
		for (size_t j = 0; j < no; j++)
			dout[j] = r[j] + out[j];
		if (avg)
			hgq_avgpool_backward(dx, dout, &p, B);
		else
			hgq_maxpool_backward(dx, dout, x, &p, B, 0);
		for (size_t j = 0; j < ni; j++) {
			float save = x[j];
			double lp, lm, fd;

			x[j] = save + h;
			lp = pool_loss(&p, B, x, r, avg);
			x[j] = save - h;
			lm = pool_loss(&p, B, x, r, avg);
			x[j] = save;
			fd = (lp - lm) / (2.0 * h);
			ck_assert_msg(fabs(fd - dx[j]) < 2e-3 * (1 + fabs(fd)),
			    "case %zu avg %d x[%zu]: fd %g analytic %g", t,
			    avg, j, fd, (double)dx[j]);
		}
		free(x); free(r); free(out); free(dout); free(dx);
	}
}
END_TEST

/*
 * The fused ReLU mask of hgq_maxpool_backward equals hgq_relu_backward
 * after the plain one, on ReLU outputs full of ties (zeros and repeated
 * small integers); dinp is overwritten everywhere, the dropped remainder
 * rows and columns included, for tiled and overlapping windows.
 */
START_TEST(test_maxpool_relu)
{
	static const size_t cases[][7] = {	/* H W C PH PW SH SW */
		{ 7, 9, 3, 2, 2, 2, 2 }, { 6, 5, 70, 3, 2, 3, 2 },
		{ 7, 7, 2, 3, 3, 2, 1 }, { 1, 11, 5, 1, 3, 1, 3 },
	};

	fx_rng_state = 10;
	for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++) {
		struct hgq_pool_geom p;
		const size_t B = 3;
		size_t ni, no;
		float *x, *dout, *d1, *d2;

		ck_assert_int_eq(hgq_pool_geom_init(&p, cases[t][0],
		    cases[t][1], cases[t][2], cases[t][3], cases[t][4],
		    cases[t][5], cases[t][6], NULL), HGQ_OK);
		ni = B * p.H * p.W * p.C;
		no = B * p.OH * p.OW * p.C;
		x = int_array(ni, -3, 2);
		for (size_t j = 0; j < ni; j++)
			x[j] = x[j] < 0 ? 0 : x[j];
		dout = int_array(no, -9, 9);
		d1 = int_array(ni, 500, 600);	/* garbage to overwrite */
		d2 = int_array(ni, 500, 600);
		hgq_maxpool_backward(d1, dout, x, &p, B, 0);
		hgq_relu_backward(d1, x, ni);
		hgq_maxpool_backward(d2, dout, x, &p, B, 1);
		ck_assert_mem_eq(d1, d2, ni * sizeof(float));
		for (size_t j = 0; j < ni; j++)
			ck_assert(fabsf(d2[j]) <= 9 * 9);
		free(x); free(dout); free(d1); free(d2);
	}
}
END_TEST

/*
 * The trainer's pair with the winners kept equals the plain pair on
 * inputs full of ties (small integers, negative too): the same outputs,
 * the same gradient, bit for bit; tiled and overlapping windows, channel
 * counts with and without a remainder of the block of 8.
 */
START_TEST(test_maxpool_arg)
{
	static const size_t cases[][7] = {	/* H W C PH PW SH SW */
		{ 7, 9, 3, 2, 2, 2, 2 }, { 6, 5, 70, 3, 2, 3, 2 },
		{ 7, 7, 2, 3, 3, 2, 1 }, { 1, 11, 5, 1, 3, 1, 3 },
		{ 26, 26, 8, 2, 2, 2, 2 }, { 11, 11, 16, 2, 2, 2, 2 },
	};

	fx_rng_state = 11;
	for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++) {
		struct hgq_pool_geom p;
		const size_t B = 3;
		size_t ni, no;
		float *x, *dout, *o1, *o2, *d1, *d2;
		uint32_t *arg, *arg0;

		ck_assert_int_eq(hgq_pool_geom_init(&p, cases[t][0],
		    cases[t][1], cases[t][2], cases[t][3], cases[t][4],
		    cases[t][5], cases[t][6], NULL), HGQ_OK);
		ni = B * p.H * p.W * p.C;
		no = B * p.OH * p.OW * p.C;
		x = int_array(ni, -3, 2);
		dout = int_array(no, -9, 9);
		o1 = zeros(no);
		o2 = int_array(no, 500, 600);	/* garbage to overwrite */
		d1 = zeros(ni);
		d2 = int_array(ni, 500, 600);
		arg = calloc(no, sizeof(*arg));
		arg0 = calloc(no, sizeof(*arg0));
		ck_assert_ptr_nonnull(arg);
		ck_assert_ptr_nonnull(arg0);
		hgq_maxpool_forward(o1, x, &p, B);
		hgq_maxpool_backward(d1, dout, x, &p, B, 0);
		/* each kernel variant: the same winners */
		for (size_t v = 0; v < N_ISAS; v++) {
			if (hgq_kernel_isa(isas[v]) != isas[v])
				continue;
			hgq_maxpool_forward_arg(o2, arg, x, &p, B);
			ck_assert_mem_eq(o1, o2, no * sizeof(float));
			hgq_maxpool_backward_arg(d2, dout, arg, &p, B);
			ck_assert_mem_eq(d1, d2, ni * sizeof(float));
			if (v == 0)
				memcpy(arg0, arg, no * sizeof(*arg));
			ck_assert_mem_eq(arg0, arg, no * sizeof(*arg));
		}
		hgq_kernel_isa(HGQ_ISA_AUTO);
		free(x); free(dout); free(o1); free(o2); free(d1); free(d2);
		free(arg); free(arg0);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* Weight quantization of a kernel tensor                              */
/* ------------------------------------------------------------------ */

/*
 * hgq_wquant on [KH, KW, C, OC] read as (KH*KW*C, OC): element
 * granularity quantizes each kernel weight with its own f, channel
 * granularity each filter o (the last axis) with f[o]; both equal
 * hgq_fq_f32 weight by weight.
 */
START_TEST(test_wquant_kernel)
{
	const size_t KH = 3, KW = 2, C = 3, OC = 5, R = KH * KW * C;
	float *w, *fe, *fc, *wq, *bits;

	fx_rng_state = 7;
	w = rand_array(R * OC, -2, 2);
	fe = rand_array(R * OC, -2, 8);
	fc = rand_array(OC, -2, 8);
	wq = zeros(R * OC);
	bits = zeros(R * OC);
	for (size_t v = 0; v < N_ISAS; v++) {
		if (hgq_kernel_isa(isas[v]) != isas[v])
			continue;
		hgq_wquant(wq, bits, w, fe, R, OC, HGQ_GRAN_ELEMENT);
		for (size_t kh = 0; kh < KH; kh++)
		for (size_t kw = 0; kw < KW; kw++)
		for (size_t c = 0; c < C; c++)
		for (size_t o = 0; o < OC; o++) {
			size_t e = ((kh * KW + kw) * C + c) * OC + o;

			ck_assert(wq[e] == hgq_fq_f32(w[e],
			    hgq_round_bits(fe[e]), HGQ_RND));
		}
		hgq_wquant(wq, bits, w, fc, R, OC, HGQ_GRAN_CHANNEL);
		for (size_t kh = 0; kh < KH; kh++)
		for (size_t kw = 0; kw < KW; kw++)
		for (size_t c = 0; c < C; c++)
		for (size_t o = 0; o < OC; o++) {
			size_t e = ((kh * KW + kw) * C + c) * OC + o;
			float q = hgq_fq_f32(w[e], hgq_round_bits(fc[o]),
			    HGQ_RND);

			ck_assert(wq[e] == q);
			ck_assert(bits[e] == (q == 0 ? 0 : floorf(log2f(
			    fabsf(q))) + 1 + (float)hgq_round_bits(fc[o])));
		}
	}
	hgq_kernel_isa(HGQ_ISA_AUTO);
	free(w); free(fe); free(fc); free(wq); free(bits);
}
END_TEST

/* ------------------------------------------------------------------ */
/* EBOPs                                                               */
/* ------------------------------------------------------------------ */

/* every output position, real tap and filter, from the definition */
static double
ebops_brute(const struct hgq_conv_geom *g, const float *ab, const float *wb)
{
	double s = 0;

	for (size_t oh = 0; oh < g->OH; oh++)
	for (size_t ow = 0; ow < g->OW; ow++)
	for (size_t kh = 0; kh < g->KH; kh++)
	for (size_t kw = 0; kw < g->KW; kw++)
	for (size_t c = 0; c < g->C; c++)
	for (size_t o = 0; o < g->OC; o++) {
		long ih = (long)(oh * g->SH + kh) - (long)g->PT;
		long iw = (long)(ow * g->SW + kw) - (long)g->PL;

		if (ih < 0 || iw < 0 || ih >= (long)g->H || iw >= (long)g->W)
			continue;
		s += (double)ab[((size_t)ih * g->W + (size_t)iw) * g->C + c] *
		    wb[((kh * g->KW + kw) * g->C + c) * g->OC + o];
	}
	return s;
}

START_TEST(test_ebops_exact)
{
	float ab[9], wb[4];
	struct hgq_conv_geom g;

	for (size_t j = 0; j < 9; j++)
		ab[j] = 2;
	for (size_t j = 0; j < 4; j++)
		wb[j] = 3;
	/* 3x3 input, 2x2 kernel: 4 positions x 4 taps x 2*3 */
	geom(&g, 3, 3, 1, 2, 2, 1, 1, 1, HGQ_PAD_VALID);
	ck_assert(hgq_ebops_conv(NULL, NULL, ab, wb, &g, 1) == 96);
	/* same: 5 real (position, tap) pairs per axis, 25 products */
	geom(&g, 3, 3, 1, 2, 2, 1, 1, 1, HGQ_PAD_SAME);
	ck_assert(hgq_ebops_conv(NULL, NULL, ab, wb, &g, 1) == 150);
	/* same, stride 2: per axis position 0 both taps, 1 one: 3 x 3 */
	geom(&g, 3, 3, 1, 2, 2, 1, 2, 2, HGQ_PAD_SAME);
	ck_assert(hgq_ebops_conv(NULL, NULL, ab, wb, &g, 1) == 54);
	/* a zero-bit input element costs nothing: the centre is met 4x */
	ab[4] = 0;
	geom(&g, 3, 3, 1, 2, 2, 1, 1, 1, HGQ_PAD_VALID);
	ck_assert(hgq_ebops_conv(NULL, NULL, ab, wb, &g, 1) == 96 - 4 * 6);
}
END_TEST

/*
 * Random integer bit maps with zeros: the value equals the brute-force
 * count; the gradients are the finite differences of that count with a
 * bit map step of +1 (bilinear, so exact) where the bits are > 0, and 0
 * where they are 0 (relu'), scaled by beta.
 */
START_TEST(test_ebops_grad)
{
	static const size_t cases[][9] = {	/* H W C KH KW OC SH SW pad */
		{ 5, 6, 2, 3, 3, 3, 1, 1, HGQ_PAD_VALID },
		{ 5, 6, 2, 3, 2, 3, 2, 3, HGQ_PAD_SAME },
		{ 4, 4, 3, 3, 3, 2, 1, 1, HGQ_PAD_SAME },
		{ 1, 9, 3, 1, 4, 2, 1, 2, HGQ_PAD_SAME },
		{ 2, 7, 1, 5, 2, 4, 3, 2, HGQ_PAD_SAME },
	};
	const float beta = 0.5f;

	fx_rng_state = 8;
	for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++) {
		struct hgq_conv_geom g;
		size_t na, nw;
		float *ab, *wb, *dfa, *dfw;
		double e0, e1;

		geom(&g, cases[t][0], cases[t][1], cases[t][2], cases[t][3],
		    cases[t][4], cases[t][5], cases[t][6], cases[t][7],
		    (int)cases[t][8]);
		na = g.H * g.W * g.C;
		nw = g.KH * g.KW * g.C * g.OC;
		ab = int_array(na, -2, 6);	/* about 1/4 zeros */
		wb = int_array(nw, -2, 5);
		for (size_t j = 0; j < na; j++)
			ab[j] = ab[j] < 0 ? 0 : ab[j];
		for (size_t j = 0; j < nw; j++)
			wb[j] = wb[j] < 0 ? 0 : wb[j];
		dfa = int_array(na, -1, 1);	/* accumulated into */
		dfw = int_array(nw, -1, 1);
		{
			float *a0 = malloc(na * sizeof(float));
			float *w0 = malloc(nw * sizeof(float));

			memcpy(a0, dfa, na * sizeof(float));
			memcpy(w0, dfw, nw * sizeof(float));
			e0 = hgq_ebops_conv(dfa, dfw, ab, wb, &g, beta);
			ck_assert_msg(e0 == ebops_brute(&g, ab, wb),
			    "case %zu: %g != %g", t, e0,
			    ebops_brute(&g, ab, wb));
			for (size_t j = 0; j < na; j++) {
				double want = 0;

				if (ab[j] > 0) {
					ab[j] += 1;
					e1 = ebops_brute(&g, ab, wb);
					ab[j] -= 1;
					want = e1 - e0;
				}
				ck_assert_msg(dfa[j] - a0[j] ==
				    (float)(beta * want), "case %zu dfa[%zu]"
				    ": %g want %g", t, j,
				    (double)(dfa[j] - a0[j]), beta * want);
			}
			for (size_t j = 0; j < nw; j++) {
				double want = 0;

				if (wb[j] > 0) {
					wb[j] += 1;
					e1 = ebops_brute(&g, ab, wb);
					wb[j] -= 1;
					want = e1 - e0;
				}
				ck_assert_msg(dfw[j] - w0[j] ==
				    (float)(beta * want), "case %zu dfw[%zu]",
				    t, j);
			}
			free(a0);
			free(w0);
		}
		/* NULL gradients: the value alone */
		ck_assert(hgq_ebops_conv(NULL, NULL, ab, wb, &g, beta) == e0);
		free(ab); free(wb); free(dfa); free(dfw);
	}
}
END_TEST

/*
 * A dense layer is a 1x1 convolution on a 1x1 map: hgq_ebops_conv then
 * gives exactly hgq_ebops_dense's value and gradients.
 */
START_TEST(test_ebops_dense_agree)
{
	const size_t C = 7, OC = 5;
	struct hgq_conv_geom g;
	float *ab, *wb, *a1, *a2, *w1, *w2;

	fx_rng_state = 9;
	ab = int_array(C, 0, 6);
	wb = int_array(C * OC, 0, 5);
	a1 = zeros(C);
	a2 = zeros(C);
	w1 = zeros(C * OC);
	w2 = zeros(C * OC);
	geom(&g, 1, 1, C, 1, 1, OC, 1, 1, HGQ_PAD_VALID);
	ck_assert(hgq_ebops_conv(a1, w1, ab, wb, &g, 0.25f) ==
	    hgq_ebops_dense(a2, w2, ab, wb, C, OC, 0.25f));
	ck_assert_mem_eq(a1, a2, C * sizeof(float));
	ck_assert_mem_eq(w1, w2, C * OC * sizeof(float));
	free(ab); free(wb); free(a1); free(a2); free(w1); free(w2);
}
END_TEST

Suite *
conv_suite(void)
{
	Suite *s = suite_create("conv");
	TCase *tc = tcase_create("conv");

	tcase_add_test(tc, test_geom);
	tcase_add_test(tc, test_forward_exact);
	tcase_add_test(tc, test_gemm_vs_direct);
	tcase_add_test(tc, test_direct_same_bits);
	tcase_add_test(tc, test_col2im_and_split);
	tcase_add_test(tc, test_conv_fd);
	tcase_add_test(tc, test_pool_exact);
	tcase_add_test(tc, test_pool_fd);
	tcase_add_test(tc, test_maxpool_relu);
	tcase_add_test(tc, test_maxpool_arg);
	tcase_add_test(tc, test_wquant_kernel);
	tcase_add_test(tc, test_ebops_exact);
	tcase_add_test(tc, test_ebops_grad);
	tcase_add_test(tc, test_ebops_dense_agree);
	suite_add_tcase(s, tc);
	return s;
}
