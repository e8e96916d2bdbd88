/*
 * check_kernels.c - the training kernels: every optimized variant against
 * its _ref twin (random shapes with remainders), finite-difference checks
 * of every backward pass, the fake quantization against hgq_fq_f32, the
 * EBOPs term, optimizers and the random generator.
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

static float *
zeros(size_t n)
{
	float *a = calloc(n ? n : 1, sizeof(*a));

	ck_assert_ptr_nonnull(a);
	return a;
}

/* max |a-b| / (1 + |b|) */
static double
max_rel(const float *a, const float *b, size_t n)
{
	double e = 0;

	for (size_t j = 0; j < n; j++) {
		double d = fabs((double)a[j] - b[j]) / (1.0 + fabs(b[j]));

		if (d > e || isnan(d))
			e = isnan(d) ? INFINITY : d;
	}
	return e;
}

static const int isas[] = { HGQ_ISA_C, HGQ_ISA_AVX2 };
#define N_ISAS	(sizeof(isas) / sizeof(isas[0]))

/* shapes with every kind of remainder of the 4x16 and 8-wide tiles */
static const size_t shapes[][3] = {
	{ 1, 1, 1 }, { 3, 5, 7 }, { 4, 16, 16 }, { 5, 17, 33 },
	{ 9, 16, 64 }, { 13, 64, 32 }, { 32, 32, 5 }, { 7, 784, 10 },
	{ 64, 33, 47 }, { 2, 3, 24 },
};
#define N_SHAPES	(sizeof(shapes) / sizeof(shapes[0]))

START_TEST(test_matmul_vs_ref)
{
	fx_rng_state = 1;
	for (size_t v = 0; v < N_ISAS; v++) {
		if (hgq_kernel_isa(isas[v]) != isas[v])
			continue;	/* no AVX2 on this CPU */
		for (size_t s = 0; s < N_SHAPES; s++) {
			size_t B = shapes[s][0], C = shapes[s][1];
			size_t OC = shapes[s][2];
			float *inp = rand_array(B * C, -1, 1);
			float *w = rand_array(C * OC, -1, 1);
			float *bias = rand_array(OC, -1, 1);
			float *dout = rand_array(B * OC, -1, 1);
			float *wt = zeros(C * OC);
			float *o1 = zeros(B * OC), *o2 = zeros(B * OC);
			float *di1 = zeros(B * C), *di2 = zeros(B * C);
			float *dw1 = zeros(C * OC), *dw2 = zeros(C * OC);
			float *db1 = zeros(OC), *db2 = zeros(OC);

			hgq_wquant_transpose(wt, w, C, OC);
			hgq_matmul_forward(o1, inp, w, bias, B, C, OC, 0);
			hgq_matmul_forward_ref(o2, inp, w, bias, B, C, OC, 0);
			ck_assert_msg(max_rel(o1, o2, B * OC) < 1e-5,
			    "forward isa %d shape %zu", isas[v], s);
			hgq_matmul_forward(o1, inp, w, NULL, B, C, OC, 1);
			hgq_matmul_forward_ref(o2, inp, w, NULL, B, C, OC, 1);
			ck_assert(max_rel(o1, o2, B * OC) < 1e-5);
			for (size_t j = 0; j < B * OC; j++)
				ck_assert(o1[j] >= 0);
			/* dw and db accumulate: start both from 1 */
			for (size_t j = 0; j < C * OC; j++)
				dw1[j] = dw2[j] = 1;
			for (size_t j = 0; j < OC; j++)
				db1[j] = db2[j] = 1;
			hgq_matmul_backward(di1, dw1, db1, dout, inp, wt, B, C,
			    OC);
			hgq_matmul_backward_ref(di2, dw2, db2, dout, inp, wt,
			    B, C, OC);
			ck_assert_msg(max_rel(di1, di2, B * C) < 1e-5,
			    "dinp isa %d shape %zu", isas[v], s);
			ck_assert_msg(max_rel(dw1, dw2, C * OC) < 1e-5,
			    "dw isa %d shape %zu", isas[v], s);
			ck_assert(max_rel(db1, db2, OC) < 1e-5);
			/* NULL dinp and db are skipped; a second pass
			   adds the same again */
			hgq_matmul_backward(NULL, dw1, NULL, dout, inp, wt, B,
			    C, OC);
			hgq_matmul_backward_ref(di2, dw2, db2, dout, inp, wt,
			    B, C, OC);
			ck_assert(max_rel(dw1, dw2, C * OC) < 1e-5);
			free(inp); free(w); free(bias); free(dout); free(wt);
			free(o1); free(o2); free(di1); free(di2);
			free(dw1); free(dw2); free(db1); free(db2);
		}
	}
	hgq_kernel_isa(HGQ_ISA_AUTO);
}
END_TEST

/*
 * The batchnorm kernels give the bits of their _ref twins (==): the
 * statistics summed in the GEMM's output pass (4x16 and 12x8 tiles, every
 * remainder; s1, s2 start non-zero, as they accumulate) equal a second
 * pass over the same product, rows in order; the product itself equals
 * hgq_matmul_forward's; dz0 and the sum likewise.  Shape 37x16x64 gives
 * the 8x32 AVX-512 tiles a partial last tile.
 */
START_TEST(test_bn_kernels)
{
	fx_rng_state = 5;
	hgq_kernel_wide(_i);	/* AVX2: 4x16 tiles, then AVX-512 8x32 */
	for (size_t v = 0; v < N_ISAS; v++) {
		if (hgq_kernel_isa(isas[v]) != isas[v])
			continue;	/* no AVX2 on this CPU */
		for (size_t s = 0; s < N_SHAPES + 4; s++) {
			static const size_t more[4][3] = {
				{ 37, 16, 64 }, { 29, 64, 5 }, { 50, 9, 13 },
				{ 0, 4, 8 },
			};
			const size_t *sh = s < N_SHAPES ? shapes[s] :
			    more[s - N_SHAPES];
			size_t B = sh[0], C = sh[1], OC = sh[2];
			float *inp = rand_array(B * C, -1, 1);
			float *w = rand_array(C * OC, -1, 1);
			float *o1 = zeros(B * OC), *o2 = zeros(B * OC);
			float *o3 = zeros(B * OC);
			float *fa = rand_array(3 * OC, -1, 1);
			float *dz = zeros(B * OC);
			double *st = calloc(4 * OC, sizeof(double));

			ck_assert_ptr_nonnull(st);
			for (size_t j = 0; j < 4 * OC; j++)
				st[j] = 0.25 * (double)(j % (2 * OC) % 4 + 1);
			hgq_matmul_forward_stats(o1, st, st + OC, inp, w, B,
			    C, OC);
			hgq_matmul_forward_stats_ref(o2, st + 2 * OC,
			    st + 3 * OC, inp, w, B, C, OC);
			hgq_matmul_forward(o3, inp, w, NULL, B, C, OC, 0);
			for (size_t j = 0; j < B * OC; j++)
				ck_assert_msg(o1[j] == o2[j] && o1[j] == o3[j],
				    "product isa %d shape %zu", isas[v], s);
			for (size_t j = 0; j < 2 * OC; j++)
				ck_assert_msg(st[j] == st[2 * OC + j],
				    "statistics isa %d shape %zu", isas[v], s);
			/* s1 is not the start value: the rows were added */
			for (size_t j = 0; j < OC && B > 0; j++)
				ck_assert(st[OC + j] > 0.25 *
				    (double)((OC + j) % (2 * OC) % 4 + 1));
			memcpy(dz, o1, B * OC * sizeof(float));
			hgq_bn_backward_dz(o1, fa, fa + OC, fa + 2 * OC,
			    1.0f / 3, B, OC);
			hgq_bn_backward_dz_ref(o2, fa, fa + OC, fa + 2 * OC,
			    1.0f / 3, B, OC);
			for (size_t j = 0; j < B * OC; j++)
				ck_assert_msg(o1[j] == o2[j] && o1[j] ==
				    fa[j % OC] + fa[OC + j % OC] *
				    (dz[j] - fa[2 * OC + j % OC]) * (1.0f / 3),
				    "dz isa %d shape %zu", isas[v], s);
			memcpy(o3, o1, B * OC * sizeof(float));
			hgq_add(o1, dz, B * OC);
			for (size_t j = 0; j < B * OC; j++)
				ck_assert(o1[j] == o3[j] + dz[j]);
			free(inp); free(w); free(o1); free(o2); free(o3);
			free(fa); free(dz); free(st);
		}
	}
	hgq_kernel_isa(HGQ_ISA_AUTO);
	hgq_kernel_wide(1);
}
END_TEST

/*
 * The fake quantization in the product's output pass gives the bits of
 * the product and hgq_fq_forward after it (memcmp: out, q and the
 * extremes, which start from earlier values as they accumulate): every
 * variant, the AVX-512 8x32 tiles on and off, relu or not, both
 * roundings, on a grid of 1/8 so that ties occur; widths 64, 32, 16 and
 * 5 of the JSC network and every remainder of the tiles.
 */
START_TEST(test_matmul_fq)
{
	static const size_t fq_shapes[][3] = {
		{ 37, 16, 64 }, { 29, 64, 32 }, { 8, 32, 5 }, { 13, 7, 16 },
		{ 3, 5, 47 }, { 1, 3, 8 }, { 50, 9, 13 }, { 17, 33, 96 },
	};

	fx_rng_state = 9;
	hgq_kernel_wide(_i);
	for (size_t v = 0; v < N_ISAS; v++) {
		if (hgq_kernel_isa(isas[v]) != isas[v])
			continue;	/* no AVX2 on this CPU */
		for (size_t s = 0; s < 2 * sizeof(fq_shapes) /
		    sizeof(fq_shapes[0]); s++) {
			size_t B = fq_shapes[s / 2][0], C = fq_shapes[s / 2][1];
			size_t OC = fq_shapes[s / 2][2];
			int relu = s & 1, round = (s >> 1) & 1;
			float *inp = rand_array(B * C, -2, 2);
			float *w = rand_array(C * OC, -1, 1);
			float *bias = rand_array(OC, -1, 1);
			float *o1 = zeros(B * OC), *o2 = zeros(B * OC);
			float *q1 = zeros(B * OC), *q2 = zeros(B * OC);
			float *sc = zeros(OC), *inv = zeros(OC);
			float *mm = zeros(4 * OC);

			for (size_t j = 0; j < B * C; j++)
				inp[j] = floorf(inp[j] * 8) / 8;
			for (size_t j = 0; j < C * OC; j++)
				w[j] = floorf(w[j] * 8) / 8;
			for (size_t j = 0; j < OC; j++) {
				int F = (int)(j % 7) - 2;

				sc[j] = ldexpf(1, F);
				inv[j] = ldexpf(1, -F);
				mm[j] = mm[2 * OC + j] = j % 3 ? INFINITY :
				    -0.75f;
				mm[OC + j] = mm[3 * OC + j] = j % 3 ?
				    -INFINITY : 0.75f;
			}
			hgq_matmul_forward_fq(o1, q1, mm, mm + OC, inp, w,
			    bias, B, C, OC, relu, sc, inv, round);
			hgq_matmul_forward(o2, inp, w, bias, B, C, OC, relu);
			hgq_fq_forward(q2, mm + 2 * OC, mm + 3 * OC, o2, sc,
			    inv, B, OC, round);
			ck_assert_msg(memcmp(o1, o2, B * OC * sizeof(float))
			    == 0, "product isa %d shape %zu", isas[v], s);
			ck_assert_msg(memcmp(q1, q2, B * OC * sizeof(float))
			    == 0, "q isa %d shape %zu", isas[v], s);
			ck_assert_msg(memcmp(mm, mm + 2 * OC, 2 * OC *
			    sizeof(float)) == 0, "extremes isa %d shape %zu",
			    isas[v], s);
			free(inp); free(w); free(bias); free(o1); free(o2);
			free(q1); free(q2); free(sc); free(inv); free(mm);
		}
	}
	hgq_kernel_isa(HGQ_ISA_AUTO);
	hgq_kernel_wide(1);
}
END_TEST

/*
 * The AVX2 products accumulate every element over k in order with one
 * fused multiply-add per term, whatever the tile (4x16, or 12x8 for the
 * narrow columns): equal (==) to fmaf in a loop.  Shapes of the first
 * convolution of an image network (9 taps, 8 filters: the 9-row weight
 * gradient) and every remainder of the 12-row tile.
 */
static const size_t order_shapes[][3] = {
	{ 300, 9, 8 }, { 37, 9, 16 }, { 25, 72, 16 }, { 13, 8, 9 },
	{ 5, 3, 7 }, { 2, 9, 8 }, { 12, 12, 24 }, { 7, 5, 11 },
	{ 1, 13, 3 }, { 27, 6, 40 }, { 19, 16, 64 }, { 8, 33, 48 },
	{ 3, 64, 32 }, { 17, 5, 96 },
};

/*
 * With the AVX-512 tiles of the AVX2 variant (when the CPU has them:
 * hgq_kernel_wide) and without: the same fmaf order either way.
 */
START_TEST(test_matmul_avx2_order)
{
	if (hgq_kernel_isa(HGQ_ISA_AVX2) != HGQ_ISA_AVX2)
		return;		/* no AVX2 on this CPU */
	fx_rng_state = 2;
	hgq_kernel_wide(_i);
	for (size_t s = 0; s < sizeof(order_shapes) /
	    sizeof(order_shapes[0]); s++) {
		size_t B = order_shapes[s][0], C = order_shapes[s][1];
		size_t OC = order_shapes[s][2];
		float *inp = rand_array(B * C, -1, 1);
		float *w = rand_array(C * OC, -1, 1);
		float *bias = rand_array(OC, -1, 1);
		float *dout = rand_array(B * OC, -1, 1);
		float *wt = zeros(C * OC), *o = zeros(B * OC);
		float *di = zeros(B * C), *dw = zeros(C * OC);

		hgq_wquant_transpose(wt, w, C, OC);
		for (size_t j = 0; j < C * OC; j++)
			dw[j] = 0.5f;
		hgq_matmul_forward(o, inp, w, bias, B, C, OC, s & 1);
		hgq_matmul_backward(di, dw, NULL, dout, inp, wt, B, C, OC);
		for (size_t b = 0; b < B; b++)
			for (size_t j = 0; j < OC; j++) {
				float v = bias[j];

				for (size_t i = 0; i < C; i++)
					v = fmaf(inp[b * C + i], w[i * OC + j],
					    v);
				if ((s & 1) && v < 0.0f)
					v = 0.0f;
				ck_assert_msg(o[b * OC + j] == v,
				    "forward shape %zu", s);
			}
		for (size_t b = 0; b < B; b++)
			for (size_t i = 0; i < C; i++) {
				float v = 0.0f;

				for (size_t j = 0; j < OC; j++)
					v = fmaf(dout[b * OC + j],
					    wt[j * C + i], v);
				ck_assert_msg(di[b * C + i] == v,
				    "dinp shape %zu", s);
			}
		for (size_t i = 0; i < C; i++)
			for (size_t j = 0; j < OC; j++) {
				float v = 0.5f;

				for (size_t b = 0; b < B; b++)
					v = fmaf(inp[b * C + i],
					    dout[b * OC + j], v);
				ck_assert_msg(dw[i * OC + j] == v,
				    "dw shape %zu", s);
			}
		free(inp); free(w); free(bias); free(dout); free(wt);
		free(o); free(di); free(dw);
	}
	hgq_kernel_isa(HGQ_ISA_AUTO);
	hgq_kernel_wide(1);
}
END_TEST

/*
 * Finite differences of L = sum(r . out) with out = inp . w + bias: the
 * analytic gradients are dout = r pushed through hgq_matmul_backward.
 * Central differences in double on a float forward, so the tolerance is
 * loose but far below any real mistake.
 */
static double
lin_loss(const float *r, const float *inp, const float *w, const float *bias,
    size_t B, size_t C, size_t OC)
{
	double s = 0;

	for (size_t b = 0; b < B; b++)
		for (size_t j = 0; j < OC; j++) {
			double o = bias[j];

			for (size_t i = 0; i < C; i++)
				o += (double)inp[b * C + i] * w[i * OC + j];
			/* a non-linear function of out, so that the
			   gradient is not constant */
			s += r[b * OC + j] * o + 0.5 * o * o;
		}
	return s;
}

START_TEST(test_matmul_fd)
{
	const size_t B = 5, C = 7, OC = 6;
	float *inp, *w, *bias, *r, *out, *dout, *wt, *di, *dw, *db;
	const float h = 1e-2f;

	fx_rng_state = 2;
	inp = rand_array(B * C, -1, 1);
	w = rand_array(C * OC, -1, 1);
	bias = rand_array(OC, -1, 1);
	r = rand_array(B * OC, -1, 1);
	out = zeros(B * OC);
	dout = zeros(B * OC);
	wt = zeros(C * OC);
	di = zeros(B * C);
	dw = zeros(C * OC);
	db = zeros(OC);
	hgq_matmul_forward(out, inp, w, bias, B, C, OC, 0);
	for (size_t j = 0; j < B * OC; j++)
		dout[j] = r[j] + out[j];
	hgq_wquant_transpose(wt, w, C, OC);
	hgq_matmul_backward(di, dw, db, dout, inp, wt, B, C, OC);
#define FD(arr, n, grad) \
	for (size_t j = 0; j < (n); j++) { \
		float save = arr[j]; \
		double lp, lm, fd; \
		arr[j] = save + h; \
		lp = lin_loss(r, inp, w, bias, B, C, OC); \
		arr[j] = save - h; \
		lm = lin_loss(r, inp, w, bias, B, C, OC); \
		arr[j] = save; \
		fd = (lp - lm) / (2.0 * h); \
		ck_assert_msg(fabs(fd - grad[j]) < 2e-3 * (1 + fabs(fd)), \
		    #arr "[%zu]: fd %g analytic %g", j, fd, (double)grad[j]); \
	}
	FD(inp, B * C, di);
	FD(w, C * OC, dw);
	FD(bias, OC, db);
#undef FD
	free(inp); free(w); free(bias); free(r); free(out); free(dout);
	free(wt); free(di); free(dw); free(db);
}
END_TEST

START_TEST(test_fq_forward)
{
	const size_t B = 37, C = 29;
	float *x, *q1, *q2, *sc, *inv, mn1[29], mx1[29], mn2[29], mx2[29];
	int F[29];

	fx_rng_state = 3;
	x = rand_array(B * C, -40, 40);
	/* ties and grid points on purpose */
	for (size_t j = 0; j < B * C; j += 3)
		x[j] = ldexpf(floorf(x[j] * 8) + 0.5f, -3);
	q1 = zeros(B * C);
	q2 = zeros(B * C);
	sc = zeros(C);
	inv = zeros(C);
	for (size_t c = 0; c < C; c++) {
		F[c] = (int)c - 12;
		sc[c] = ldexpf(1, F[c]);
		inv[c] = ldexpf(1, -F[c]);
	}
	for (int round = 0; round < 2; round++)
		for (size_t v = 0; v < N_ISAS; v++) {
			if (hgq_kernel_isa(isas[v]) != isas[v])
				continue;
			for (size_t c = 0; c < C; c++) {
				mn1[c] = mn2[c] = INFINITY;
				mx1[c] = mx2[c] = -INFINITY;
			}
			hgq_fq_forward(q1, mn1, mx1, x, sc, inv, B, C, round);
			hgq_fq_forward_ref(q2, mn2, mx2, x, sc, inv, B, C,
			    round);
			ck_assert(memcmp(q1, q2, B * C * sizeof(float)) == 0);
			ck_assert(memcmp(mn1, mn2, sizeof(mn1)) == 0);
			ck_assert(memcmp(mx1, mx2, sizeof(mx1)) == 0);
			/* the library's one semantics, element by element */
			for (size_t j = 0; j < B * C; j++)
				ck_assert(q1[j] == hgq_fq_f32(x[j],
				    F[j % C], round));
		}
	hgq_kernel_isa(HGQ_ISA_AUTO);
	/* RND ties go up, also for negatives: -0.5 -> 0, -1.5 -> -1 */
	ck_assert(hgq_fq_f32(-0.5f, 0, HGQ_RND) == 0.0f);
	ck_assert(hgq_fq_f32(-1.5f, 0, HGQ_RND) == -1.0f);
	ck_assert(hgq_fq_f32(-1.5f, 0, HGQ_TRN) == -2.0f);
	free(x); free(q1); free(q2); free(sc); free(inv);
}
END_TEST

/*
 * The f surrogate (hgq-algorithm 4.1): with the rounding error taken as
 * d(f) = (q0 - x) 2^-(f - f0), q = x + d, dq/df = -ln2 d = ln2 (x - q).
 * The kernel returns sum dq (x - q); check it against finite differences
 * of that relaxation, and against the reference.
 */
START_TEST(test_fq_backward)
{
	const size_t B = 11, C = 13;
	float *x, *q, *dq, *sc, *inv, mn[13], mx[13], d1[13], d2[13];
	const double h = 1e-4;

	fx_rng_state = 4;
	x = rand_array(B * C, -3, 3);
	dq = rand_array(B * C, -1, 1);
	q = zeros(B * C);
	sc = zeros(C);
	inv = zeros(C);
	for (size_t c = 0; c < C; c++) {
		sc[c] = ldexpf(1, (int)c % 5);
		inv[c] = 1 / sc[c];
		mn[c] = INFINITY;
		mx[c] = -INFINITY;
	}
	hgq_fq_forward(q, mn, mx, x, sc, inv, B, C, HGQ_RND);
	for (size_t v = 0; v < N_ISAS; v++) {
		if (hgq_kernel_isa(isas[v]) != isas[v])
			continue;
		memset(d1, 0, sizeof(d1));
		memset(d2, 0, sizeof(d2));
		hgq_fq_backward(d1, dq, x, q, B, C);
		hgq_fq_backward_ref(d2, dq, x, q, B, C);
		ck_assert(max_rel(d1, d2, C) < 1e-5);
	}
	/* fused with the ReLU mask: the same sums, then d masked */
	for (size_t v = 0; v < N_ISAS; v++) {
		float *da = zeros(B * C), *db = zeros(B * C);
		float e1[13] = { 0 }, e2[13] = { 0 };

		if (hgq_kernel_isa(isas[v]) != isas[v])
			continue;
		memcpy(da, dq, B * C * sizeof(float));
		memcpy(db, dq, B * C * sizeof(float));
		hgq_fq_relu_backward(e1, da, x, q, B, C);
		hgq_fq_relu_backward_ref(e2, db, x, q, B, C);
		ck_assert(max_rel(e1, e2, C) < 1e-5);
		ck_assert(max_rel(e1, d2, C) < 1e-5);
		ck_assert(memcmp(da, db, B * C * sizeof(float)) == 0);
		for (size_t j = 0; j < B * C; j++)
			ck_assert(da[j] == (x[j] > 0 ? dq[j] : 0));
		free(da);
		free(db);
	}
	hgq_kernel_isa(HGQ_ISA_AUTO);
	for (size_t c = 0; c < C; c++) {
		double lp = 0, lm = 0, fd;

		for (size_t b = 0; b < B; b++) {
			size_t e = b * C + c;
			double d0 = (double)q[e] - x[e];

			lp += dq[e] * (x[e] + d0 * pow(2, -h));
			lm += dq[e] * (x[e] + d0 * pow(2, h));
		}
		fd = (lp - lm) / (2 * h);
		ck_assert_msg(fabs(fd - M_LN2 * d1[c]) < 1e-5 * (1 + fabs(fd)),
		    "column %zu: fd %g analytic %g", c, fd, M_LN2 * d1[c]);
	}
	free(x); free(q); free(dq); free(sc); free(inv);
}
END_TEST

/* loss kernels: finite differences of the loss in the logits */
START_TEST(test_losses_fd)
{
	const size_t B = 4, OC = 5;
	float *z, *dz, *y, *dz2;
	int32_t lab[4] = { 0, 4, 2, 2 };
	size_t nc = 0;
	const float h = 1e-3f;

	fx_rng_state = 5;
	z = rand_array(B * OC, -4, 4);
	y = rand_array(B * OC, -1, 1);
	dz = zeros(B * OC);
	dz2 = zeros(B * OC);
	hgq_xent_forward_backward(dz, z, lab, B, OC, 0.5f, &nc);
	hgq_mse_forward_backward(dz2, z, y, B, OC, 0.5f);
	for (size_t j = 0; j < B * OC; j++) {
		float save = z[j], scratch[20];
		double lp, lm;
		size_t dummy = 0;

		z[j] = save + h;
		lp = hgq_xent_forward_backward(scratch, z, lab, B, OC, 1,
		    &dummy);
		z[j] = save - h;
		lm = hgq_xent_forward_backward(scratch, z, lab, B, OC, 1,
		    &dummy);
		ck_assert(fabs(0.5 * (lp - lm) / (2 * h) - dz[j]) < 1e-3);
		z[j] = save + h;
		lp = hgq_mse_forward_backward(scratch, z, y, B, OC, 1);
		z[j] = save - h;
		lm = hgq_mse_forward_backward(scratch, z, y, B, OC, 1);
		z[j] = save;
		ck_assert(fabs(0.5 * (lp - lm) / (2 * h) - dz2[j]) < 1e-3);
	}
	/* argmax: the count matches a direct computation */
	{
		size_t want = 0;

		for (size_t b = 0; b < B; b++) {
			size_t a = 0;

			for (size_t j = 1; j < OC; j++)
				if (z[b * OC + j] > z[b * OC + a])
					a = j;
			want += (int32_t)a == lab[b];
		}
		ck_assert_uint_eq(nc, want);
	}
	free(z); free(dz); free(y); free(dz2);
}
END_TEST

START_TEST(test_relu)
{
	float x[6] = { -1, 0, 2, -0.5f, 3, 0 }, d[6] = { 1, 1, 1, 1, 1, 1 };

	hgq_relu_forward(x, 6);
	ck_assert(x[0] == 0 && x[2] == 2 && x[3] == 0 && x[4] == 3);
	hgq_relu_backward(d, x, 6);
	ck_assert(d[0] == 0 && d[1] == 0 && d[2] == 1 && d[4] == 1);
}
END_TEST

/* weight quantization: values, bit counts, granularities, transpose */
START_TEST(test_wquant)
{
	float w[6] = { 0.3f, -0.75f, 0.0f, 5.0f, -0.125f, 0.5f };
	float f[6] = { 2, 2, 2, 0.5f, 1.5f, -1 };	/* round half even */
	float wq[6], bits[6], wt[6];

	hgq_wquant(wq, bits, w, f, 2, 3, HGQ_GRAN_ELEMENT);
	/* F = 2 2 2 0 2 -1 */
	ck_assert(wq[0] == 0.25f && bits[0] == 1);	/* m 1 */
	ck_assert(wq[1] == -0.75f && bits[1] == 2);	/* m -3 */
	ck_assert(wq[2] == 0 && bits[2] == 0);
	ck_assert(wq[3] == 5 && bits[3] == 3);		/* m 5 */
	ck_assert(wq[4] == 0 && bits[4] == 0);		/* -0.5 -> 0 (tie up) */
	ck_assert(wq[5] == 0 && bits[5] == 0);		/* 0.25 -> 0 */
	/* training bits = floor(log2|wq|) + 1 + F */
	ck_assert(bits[3] == floorf(log2f(5)) + 1 + 0);
	hgq_wquant(wq, bits, w, f, 2, 3, HGQ_GRAN_CHANNEL);	/* F 2 2 2 */
	ck_assert(wq[3] == 5 && wq[4] == -0.0f && wq[5] == 0.5f);
	hgq_wquant(wq, bits, w, f, 2, 3, HGQ_GRAN_LAYER);
	for (int j = 0; j < 6; j++)
		ck_assert(wq[j] == hgq_fq_f32(w[j], 2, HGQ_RND));
	hgq_wquant_transpose(wt, wq, 2, 3);
	ck_assert(wt[0] == wq[0] && wt[1] == wq[3] && wt[2] == wq[1] &&
	    wt[5] == wq[5]);
	/* every variant gives the same bits on a long random array */
	{
		const size_t n = 203;
		float *ww = rand_array(n, -3, 3), *ff = rand_array(n, -4, 12);
		float *q1 = zeros(n), *q2 = zeros(n), *b1 = zeros(n);
		float *b2 = zeros(n);

		fx_rng_state = 9;
		for (size_t j = 0; j < n; j += 7)
			ff[j] = floorf(ff[j]) + 0.5f;	/* f ties */
		ww[0] = 0;
		ww[1] = 1e6f;				/* saturating bits */
		ff[1] = 23;
		for (size_t v = 0; v < N_ISAS; v++) {
			if (hgq_kernel_isa(isas[v]) != isas[v])
				continue;
			hgq_wquant(v == 0 ? q1 : q2, v == 0 ? b1 : b2, ww, ff,
			    1, n, HGQ_GRAN_ELEMENT);
		}
		hgq_kernel_isa(HGQ_ISA_AUTO);
		if (hgq_kernel_isa(HGQ_ISA_AVX2) == HGQ_ISA_AVX2) {
			ck_assert(memcmp(q1, q2, n * sizeof(float)) == 0);
			ck_assert(memcmp(b1, b2, n * sizeof(float)) == 0);
		}
		hgq_kernel_isa(HGQ_ISA_AUTO);
		for (size_t j = 0; j < n; j++) {
			int F = hgq_round_bits(ff[j]);

			ck_assert(q1[j] == hgq_fq_f32(ww[j], F, HGQ_RND));
		}
		ck_assert(b1[0] == 0 && b1[1] == 25);
		free(ww); free(ff); free(q1); free(q2); free(b1); free(b2);
	}
}
END_TEST

/*
 * The gradient grad[0..n) of the EBOPs of a (3) and w (3x2) in v, which
 * is a or w, against central differences of step 0.25 in v
 */
static void
ebops_fd(float *v, const float *grad, int n, const float *a,
    const float *w)
{
	for (int j = 0; j < n; j++) {
		float s = v[j];
		double p, m;

		v[j] = s + 0.25f;
		p = hgq_ebops_dense(NULL, NULL, a, w, 3, 2, 1);
		v[j] = s - 0.25f;
		m = hgq_ebops_dense(NULL, NULL, a, w, 3, 2, 1);
		v[j] = s;
		ck_assert(fabs((p - m) / 0.5 - grad[j]) < 1e-6);
	}
}

/* EBOPs: a hand example and the gradient by finite differences */
START_TEST(test_ebops)
{
	float ab[2] = { 3, 0 }, wb[6] = { 1, 2, 0, 4, 5, 6 };
	float dfa[2] = { 0, 0 }, dfw[6] = { 0 };
	double e;

	e = hgq_ebops_dense(dfa, dfw, ab, wb, 2, 3, 0.5f);
	ck_assert(e == 3 * (1 + 2 + 0));
	ck_assert(dfa[0] == 0.5f * 3 && dfa[1] == 0);
	ck_assert(dfw[0] == 1.5f && dfw[1] == 1.5f && dfw[2] == 0);
	ck_assert(dfw[3] == 0 && dfw[4] == 0);
	/* finite differences in the bits where they are positive */
	{
		float a2[3] = { 2.5f, 1.25f, 4 }, w2[6], da[3] = { 0 };
		float dw[6] = { 0 };

		for (int j = 0; j < 6; j++)
			w2[j] = 1.0f + j;
		hgq_ebops_dense(da, dw, a2, w2, 3, 2, 1);
		ebops_fd(a2, da, 3, a2, w2);
		ebops_fd(w2, dw, 6, a2, w2);
	}
}
END_TEST

/* Adam on a quadratic converges; SGD too; clipping holds */
START_TEST(test_optimizers)
{
	float p[3] = { 5, -3, 20 }, m[3] = { 0 }, v[3] = { 0 }, g[3];
	float q[3] = { 5, -3, 20 }, vq[3] = { 0 };

	for (uint64_t t = 1; t <= 3000; t++) {
		for (int j = 0; j < 3; j++)
			g[j] = 2 * (p[j] - 1);
		hgq_adam_update(p, m, v, g, 3, 0.05, 0.9, 0.999, 1e-7, t,
		    -100, 10);
		for (int j = 0; j < 3; j++)
			g[j] = 2 * (q[j] - 1);
		hgq_sgd_update(q, vq, g, 3, 0.01, 0.9, -100, 100);
	}
	for (int j = 0; j < 3; j++) {
		ck_assert_float_eq_tol(p[j], 1, 1e-3);
		ck_assert_float_eq_tol(q[j], 1, 1e-3);
	}
	/* the first Adam step moves by lr (bias-corrected) */
	{
		float a = 0, am = 0, av = 0, ga = 3;

		hgq_adam_update(&a, &am, &av, &ga, 1, 0.1, 0.9, 0.999, 1e-7,
		    1, -1, 1);
		ck_assert_float_eq_tol(a, -0.1, 1e-6);
		ga = 1e6f;
		hgq_adam_update(&a, &am, &av, &ga, 1, 10, 0.9, 0.999, 1e-7,
		    2, -1, 1);
		ck_assert(a == -1);	/* clipped */
	}
}
END_TEST

START_TEST(test_rng)
{
	uint64_t a[4], b[4];
	int hist[10] = { 0 };

	hgq_rng_seed(a, 42);
	hgq_rng_seed(b, 42);
	for (int j = 0; j < 100; j++)
		ck_assert(hgq_rng_next(a) == hgq_rng_next(b));
	hgq_rng_seed(b, 43);
	ck_assert(hgq_rng_next(a) != hgq_rng_next(b));
	for (int j = 0; j < 100000; j++) {
		uint64_t k = hgq_rng_below(a, 10);
		double u = hgq_rng_uniform(a);

		ck_assert(k < 10 && u >= 0 && u < 1);
		hist[k]++;
	}
	for (int j = 0; j < 10; j++)
		ck_assert(hist[j] > 9500 && hist[j] < 10500);
}
END_TEST

Suite *
kernels_suite(void)
{
	Suite *s = suite_create("kernels");
	TCase *tc = tcase_create("kernels");

	tcase_add_test(tc, test_matmul_vs_ref);
	tcase_add_loop_test(tc, test_matmul_avx2_order, 0, 2);
	tcase_add_loop_test(tc, test_bn_kernels, 0, 2);
	tcase_add_loop_test(tc, test_matmul_fq, 0, 2);
	tcase_add_test(tc, test_matmul_fd);
	tcase_add_test(tc, test_fq_forward);
	tcase_add_test(tc, test_fq_backward);
	tcase_add_test(tc, test_losses_fd);
	tcase_add_test(tc, test_relu);
	tcase_add_test(tc, test_wquant);
	tcase_add_test(tc, test_ebops);
	tcase_add_test(tc, test_optimizers);
	tcase_add_test(tc, test_rng);
	suite_add_tcase(s, tc);
	return s;
}
