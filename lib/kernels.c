/*
 * kernels.c - float forward/backward kernels for training (llm.c style).
 *
 * Every kernel works on flat row-major arrays, takes its outputs first
 * and never allocates.  Three variants of the hot ones exist:
 *
 *   _ref     the formula written for clarity; the tests compare against it
 *   _c       portable C, blocked so that -O2 does a decent job
 *   _avx2    AVX2+FMA intrinsics, compiled with a target attribute and
 *            chosen at run time when the CPU has them
 *
 * The public name dispatches to _c or _avx2 (hgq_kernel_isa).  No kernel
 * uses fast-math: the fake quantization is hgq_fq_f32s() of hgq.h in every
 * variant, so the quantized values are identical; only the order and the
 * fusing of multiply-adds differ.
 *
 * Shapes: B batch rows, C inputs, OC outputs.  A dense layer's weights are
 * w (C,OC), element [i*OC + j], as in the model.
 */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_AVX2_VARIANT 1
#include <immintrin.h>
#endif

/*
 * The variant in use: detected once (pthread_once, so that the first
 * calls from several threads agree), overridden by hgq_kernel_isa().
 */
static int isa_best = HGQ_ISA_C;
static int isa_in_use;
static int wide_ok, wide_on = 1;	/* AVX-512F: 512-bit GEMM tiles */
static pthread_once_t isa_once = PTHREAD_ONCE_INIT;

static void
isa_detect(void)
{
#ifdef HAVE_AVX2_VARIANT
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		isa_best = HGQ_ISA_AVX2;
	wide_ok = isa_best == HGQ_ISA_AVX2 &&
	    __builtin_cpu_supports("avx512f");
#endif
	isa_in_use = isa_best;
}

int
hgq_kernel_isa(int isa)
{
	pthread_once(&isa_once, isa_detect);
	if (isa == HGQ_ISA_AUTO || isa > isa_best)
		isa = isa_best;
	isa_in_use = isa;
	return isa_in_use;
}

int
hgq_kernel_isa_current(void)
{
	pthread_once(&isa_once, isa_detect);
	return isa_in_use;
}

static int
use_avx2(void)
{
	pthread_once(&isa_once, isa_detect);
	return isa_in_use == HGQ_ISA_AVX2;
}

/*
 * The AVX2 variant's GEMM uses 8x32 tiles of AVX-512F registers where
 * the CPU has them: the same fused multiply-add per term in the same
 * order, so the same bits, at twice the width.  The tests turn them off
 * to compare.
 */
int
hgq_kernel_wide(int on)
{
	pthread_once(&isa_once, isa_detect);
	wide_on = on;
	return wide_ok && wide_on;
}

/* ------------------------------------------------------------------ */
/* Fake quantization                                                   */
/* ------------------------------------------------------------------ */

/*
 * x (B,C) -> q (B,C); per column c the scale 2^F and 2^-F.
 * q = floor(x*2^F + 1/2) * 2^-F (RND) or floor(x*2^F) * 2^-F (TRN), the
 * tie decided on v - floor(v) (see hgq_fq_f32s).
 */
void
hgq_fq_forward_ref(float *q, float *qmin, float *qmax, const float *x,
    const float *scale, const float *inv_scale, size_t B, size_t C,
    int round)
{
	for (size_t b = 0; b < B; b++)
		for (size_t c = 0; c < C; c++) {
			float v = hgq_fq_f32s(x[b * C + c], scale[c],
			    inv_scale[c], round);

			q[b * C + c] = v;
			if (v < qmin[c])
				qmin[c] = v;
			if (v > qmax[c])
				qmax[c] = v;
		}
}

/* rows of x and q ld floats apart (a tile of a product's output) */
static void
fq_forward_c(float *restrict q, float *restrict qmin, float *restrict qmax,
    const float *restrict x, const float *restrict scale,
    const float *restrict inv_scale, size_t B, size_t C, size_t ld,
    int round)
{
	for (size_t b = 0; b < B; b++) {
		const float *xb = x + b * ld;
		float *qb = q + b * ld;

		for (size_t c = 0; c < C; c++) {
			float v = hgq_fq_f32s(xb[c], scale[c], inv_scale[c],
			    round);

			qb[c] = v;
			qmin[c] = v < qmin[c] ? v : qmin[c];
			qmax[c] = v > qmax[c] ? v : qmax[c];
		}
	}
}

#ifdef HAVE_AVX2_VARIANT
/* lanes 0..cnt-1 of 8 (cnt <= 8) */
static const int32_t mask_table[16] = {
	-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0
};

__attribute__((target("avx2,fma")))
static inline __m256i
tail_mask(size_t cnt)
{
	return _mm256_loadu_si256((const __m256i *)(mask_table + 8 - cnt));
}

/*
 * 8 columns c.. (cnt of them, masked when fewer) of every row: the same
 * operations as hgq_fq_f32s, v = x*s, r = floor(v), r += 1 where v - r >=
 * 1/2 (RND), q = r * inv.  Every step is exact or identical to the
 * scalar one, so the values are the same.  The extremes stay in
 * registers down the rows, lowered and raised rows in order.
 */
__attribute__((target("avx2,fma")))
static inline void
fq_cols_avx2(float *restrict q, float *restrict qmin, float *restrict qmax,
    const float *restrict x, const float *restrict scale,
    const float *restrict inv_scale, size_t B, size_t ld, size_t cnt,
    int round)
{
	const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
	const __m256 rnd = round == HGQ_RND ? one : _mm256_setzero_ps();
	__m256i mask = tail_mask(cnt);
	__m256 s = _mm256_maskload_ps(scale, mask);
	__m256 iv = _mm256_maskload_ps(inv_scale, mask);
	__m256 lo = _mm256_maskload_ps(qmin, mask);
	__m256 hi = _mm256_maskload_ps(qmax, mask);

	for (size_t b = 0; b < B; b++) {
		__m256 v = _mm256_mul_ps(cnt == 8 ? _mm256_loadu_ps(x + b * ld) :
		    _mm256_maskload_ps(x + b * ld, mask), s);
		__m256 r = _mm256_floor_ps(v);
		__m256 ge = _mm256_cmp_ps(_mm256_sub_ps(v, r), half,
		    _CMP_GE_OQ);
		__m256 o;

		r = _mm256_add_ps(r, _mm256_and_ps(ge, rnd));
		o = _mm256_mul_ps(r, iv);
		if (cnt == 8)
			_mm256_storeu_ps(q + b * ld, o);
		else
			_mm256_maskstore_ps(q + b * ld, mask, o);
		lo = _mm256_min_ps(o, lo);
		hi = _mm256_max_ps(o, hi);
	}
	_mm256_maskstore_ps(qmin, mask, lo);
	_mm256_maskstore_ps(qmax, mask, hi);
}

__attribute__((target("avx2,fma")))
static void
fq_forward_avx2(float *restrict q, float *restrict qmin,
    float *restrict qmax, const float *restrict x,
    const float *restrict scale, const float *restrict inv_scale, size_t B,
    size_t C, size_t ld, int round)
{
	for (size_t c = 0; c < C; c += 8)
		fq_cols_avx2(q + c, qmin + c, qmax + c, x + c, scale + c,
		    inv_scale + c, B, ld, C - c < 8 ? C - c : 8, round);
}
#endif

void
hgq_fq_forward(float *restrict q, float *restrict qmin,
    float *restrict qmax, const float *restrict x,
    const float *restrict scale, const float *restrict inv_scale, size_t B,
    size_t C, int round)
{
#ifdef HAVE_AVX2_VARIANT
	if (use_avx2()) {
		fq_forward_avx2(q, qmin, qmax, x, scale, inv_scale, B, C, C,
		    round);
		return;
	}
#endif
	fq_forward_c(q, qmin, qmax, x, scale, inv_scale, B, C, C, round);
}

/*
 * dfs (C) += sum_b dq * (x - q): the surrogate dq/df = ln2 (x - q)
 * (hgq-algorithm 4.1) without the ln2, which the caller applies once.
 * Column sums run down the rows in order in every variant.
 */
void
hgq_fq_backward_ref(float *dfs, const float *dq, const float *x,
    const float *q, size_t B, size_t C)
{
	for (size_t c = 0; c < C; c++)
		for (size_t b = 0; b < B; b++)
			dfs[c] += dq[b * C + c] * (x[b * C + c] - q[b * C + c]);
}

static void
fq_backward_c(float *restrict dfs, const float *restrict dq,
    const float *restrict x, const float *restrict q, size_t B, size_t C)
{
	for (size_t b = 0; b < B; b++) {
		const float *d = dq + b * C, *xb = x + b * C, *qb = q + b * C;

		for (size_t c = 0; c < C; c++)
			dfs[c] += d[c] * (xb[c] - qb[c]);
	}
}

#ifdef HAVE_AVX2_VARIANT
__attribute__((target("avx2,fma")))
static void
fq_backward_avx2(float *restrict dfs, const float *restrict dq,
    const float *restrict x, const float *restrict q, size_t B, size_t C)
{
	size_t c8 = C & ~(size_t)7;

	for (size_t b = 0; b < B; b++) {
		const float *d = dq + b * C, *xb = x + b * C, *qb = q + b * C;
		size_t c;

		for (c = 0; c < c8; c += 8) {
			__m256 e = _mm256_sub_ps(_mm256_loadu_ps(xb + c),
			    _mm256_loadu_ps(qb + c));
			__m256 s = _mm256_mul_ps(_mm256_loadu_ps(d + c), e);

			_mm256_storeu_ps(dfs + c, _mm256_add_ps(
			    _mm256_loadu_ps(dfs + c), s));
		}
		for (; c < C; c++)
			dfs[c] += d[c] * (xb[c] - qb[c]);
	}
}
#endif

void
hgq_fq_backward(float *restrict dfs, const float *restrict dq,
    const float *restrict x, const float *restrict q, size_t B, size_t C)
{
#ifdef HAVE_AVX2_VARIANT
	if (use_avx2()) {
		fq_backward_avx2(dfs, dq, x, q, B, C);
		return;
	}
#endif
	fq_backward_c(dfs, dq, x, q, B, C);
}

/* ------------------------------------------------------------------ */
/* Matrix products                                                     */
/* ------------------------------------------------------------------ */

/*
 * The fake quantization of a product's output in its output pass (the
 * next layer's quantizer): Q (ldd as D) = hgq_fq_forward of D as stored,
 * qmin, qmax (N) lowered and raised rows in order, while the tile is in
 * registers or L1 instead of a second pass over D.
 */
struct fq_out {
	float		*Q;
	const float	*scale, *inv;	/* (N) */
	float		*qmin, *qmax;	/* (N) */
	int		 round;
};

/*
 * All three products of a dense layer are one shape of GEMM,
 *
 *	D[m,n] = init[m,n] + sum_k A(m,k) * Bm[k*ldb + n]
 *
 * where A is addressed with two strides, A(m,k) = A[m*sa + k*ka], so that
 * A can be read as it is or transposed without copying:
 *
 *	forward   out = inp . w      A = inp (sa C, ka 1),  Bm = w
 *	dinp      dinp = dout . wt   A = dout (sa OC, ka 1), Bm = wt
 *	dw        dw = inp^T . dout  A = inp (sa 1, ka C),  Bm = dout
 *
 * init is D itself (accumulate), the bias (broadcast down the rows) or
 * zero; relu clamps the result at zero.  Bm and D rows are
 * contiguous, so the inner loop runs along n (vectorisable) and each
 * element of A is broadcast.
 */
struct gemm {
	float		*D;
	size_t		 ldd;
	const float	*A;
	size_t		 sa, ka;
	const float	*Bm;
	size_t		 ldb;
	const float	*bias;		/* (N) or NULL */
	size_t		 M, N, K;
	int		 accum;		/* init is D itself (D +=) */
	int		 relu;		/* D = max(D, 0) at the end */
	double		*s1, *s2;	/* (N) or NULL: += the column sums
					   and sums of squares of D as
					   stored, in double, rows in order */
	const struct fq_out *fq;	/* or NULL */
};

/*
 * s1 (N) += the column sums of D (M rows, stride ldd), s2 (N) += the
 * sums of squares, in double, rows in order: what the fused tiles add in
 * their output pass, so that every variant gives the same bits.
 */
static void
colstats_c(double *restrict s1, double *restrict s2, const float *D,
    size_t ldd, size_t M, size_t N)
{
	for (size_t m = 0; m < M; m++) {
		const float *d = D + m * ldd;

		for (size_t n = 0; n < N; n++) {
			double v = d[n];

			s1[n] += v;
			s2[n] += v * v;
		}
	}
}

/*
 * Plain C: 4 rows of D at a time, so that each row of Bm read from cache
 * serves four rows; the n loop is the inner one.
 */
static void
gemm_c(const struct gemm *g)
{
	size_t m = 0;

	for (; m + 4 <= g->M; m += 4) {
		float *d0 = g->D + m * g->ldd, *d1 = d0 + g->ldd;
		float *d2 = d1 + g->ldd, *d3 = d2 + g->ldd;
		const float *a = g->A + m * g->sa;

		if (!g->accum)
			for (size_t n = 0; n < g->N; n++) {
				float v = g->bias != NULL ? g->bias[n] : 0.0f;

				d0[n] = d1[n] = d2[n] = d3[n] = v;
			}
		for (size_t k = 0; k < g->K; k++) {
			const float *bk = g->Bm + k * g->ldb;
			const float *ak = a + k * g->ka;
			float a0 = ak[0], a1 = ak[g->sa];
			float a2 = ak[2 * g->sa], a3 = ak[3 * g->sa];

			for (size_t n = 0; n < g->N; n++) {
				float bv = bk[n];

				d0[n] += a0 * bv;
				d1[n] += a1 * bv;
				d2[n] += a2 * bv;
				d3[n] += a3 * bv;
			}
		}
		if (g->relu)
			for (size_t n = 0; n < g->N; n++) {
				d0[n] = d0[n] > 0.0f ? d0[n] : 0.0f;
				d1[n] = d1[n] > 0.0f ? d1[n] : 0.0f;
				d2[n] = d2[n] > 0.0f ? d2[n] : 0.0f;
				d3[n] = d3[n] > 0.0f ? d3[n] : 0.0f;
			}
	}
	for (; m < g->M; m++) {
		float *d = g->D + m * g->ldd;
		const float *a = g->A + m * g->sa;

		if (!g->accum)
			for (size_t n = 0; n < g->N; n++)
				d[n] = g->bias != NULL ? g->bias[n] : 0.0f;
		for (size_t k = 0; k < g->K; k++) {
			const float *bk = g->Bm + k * g->ldb;
			float av = a[k * g->ka];

			for (size_t n = 0; n < g->N; n++)
				d[n] += av * bk[n];
		}
		if (g->relu)
			for (size_t n = 0; n < g->N; n++)
				d[n] = d[n] > 0.0f ? d[n] : 0.0f;
	}
}

#ifdef HAVE_AVX2_VARIANT
/*
 * AVX2 micro-kernels.  A tile of MR = 4 rows by 16 columns keeps its 8
 * accumulators in registers for the whole k loop: per k, two loads of Bm,
 * four broadcasts of A, eight FMAs.  Columns left over (N not a multiple
 * of 16) go through an 8-wide tile with masked loads and stores.
 */
/*
 * The statistics of a 4x16 tile in its output pass: s1 (16) += the
 * column sums of rows 0..R-1 of acc, s2 (16) += their squares, in double
 * (a multiply, then an add: no FMA, as colstats_c), rows in order.
 */
__attribute__((target("avx2,fma")))
static inline void
tile_stats_avx2(double *s1, double *s2, __m256 acc[4][2], size_t R)
{
	for (size_t h = 0; h < 4; h++) {
		__m256d a1 = _mm256_loadu_pd(s1 + 4 * h);
		__m256d a2 = _mm256_loadu_pd(s2 + 4 * h);

		for (size_t r = 0; r < R; r++) {
			__m256 v = acc[r][h / 2];
			__m128 x = h % 2 == 0 ? _mm256_castps256_ps128(v) :
			    _mm256_extractf128_ps(v, 1);
			__m256d d = _mm256_cvtps_pd(x);

			a1 = _mm256_add_pd(a1, d);
			a2 = _mm256_add_pd(a2, _mm256_mul_pd(d, d));
		}
		_mm256_storeu_pd(s1 + 4 * h, a1);
		_mm256_storeu_pd(s2 + 4 * h, a2);
	}
}

/* the fake quantization of rows m..m+R-1, columns n..n+cnt-1, from L1 */
__attribute__((target("avx2,fma")))
static void
tile_fq_avx2(const struct gemm *g, size_t m, size_t n, size_t R, size_t cnt)
{
	const struct fq_out *f = g->fq;
	size_t o = m * g->ldd + n;

	fq_forward_avx2(f->Q + o, f->qmin + n, f->qmax + n, g->D + o,
	    f->scale + n, f->inv + n, R, cnt, g->ldd, f->round);
}

/* rows m..m+R-1 (R <= 4), columns n..n+15 */
__attribute__((target("avx2,fma")))
static void
tile16_avx2(const struct gemm *g, size_t m, size_t n, size_t R)
{
	__m256 acc[4][2];
	const float *a[4];
	__m256 i0, i1;

	if (g->bias != NULL) {
		i0 = _mm256_loadu_ps(g->bias + n);
		i1 = _mm256_loadu_ps(g->bias + n + 8);
	} else {
		i0 = i1 = _mm256_setzero_ps();
	}
	for (size_t r = 0; r < 4; r++) {
		acc[r][0] = i0;
		acc[r][1] = i1;
		a[r] = g->A + (m + (r < R ? r : 0)) * g->sa;
	}
	if (g->accum)
		for (size_t r = 0; r < R; r++) {
			const float *d = g->D + (m + r) * g->ldd + n;

			acc[r][0] = _mm256_loadu_ps(d);
			acc[r][1] = _mm256_loadu_ps(d + 8);
		}
	if (R == 4) {
		const float *bk = g->Bm + n;

		for (size_t k = 0, ak = 0; k < g->K; k++, ak += g->ka,
		    bk += g->ldb) {
			__m256 b0 = _mm256_loadu_ps(bk);
			__m256 b1 = _mm256_loadu_ps(bk + 8);
			__m256 x;

			x = _mm256_broadcast_ss(a[0] + ak);
			acc[0][0] = _mm256_fmadd_ps(x, b0, acc[0][0]);
			acc[0][1] = _mm256_fmadd_ps(x, b1, acc[0][1]);
			x = _mm256_broadcast_ss(a[1] + ak);
			acc[1][0] = _mm256_fmadd_ps(x, b0, acc[1][0]);
			acc[1][1] = _mm256_fmadd_ps(x, b1, acc[1][1]);
			x = _mm256_broadcast_ss(a[2] + ak);
			acc[2][0] = _mm256_fmadd_ps(x, b0, acc[2][0]);
			acc[2][1] = _mm256_fmadd_ps(x, b1, acc[2][1]);
			x = _mm256_broadcast_ss(a[3] + ak);
			acc[3][0] = _mm256_fmadd_ps(x, b0, acc[3][0]);
			acc[3][1] = _mm256_fmadd_ps(x, b1, acc[3][1]);
		}
	} else {
		const float *bk = g->Bm + n;

		for (size_t k = 0, ak = 0; k < g->K; k++, ak += g->ka,
		    bk += g->ldb) {
			__m256 b0 = _mm256_loadu_ps(bk);
			__m256 b1 = _mm256_loadu_ps(bk + 8);

			for (size_t r = 0; r < R; r++) {
				__m256 x = _mm256_broadcast_ss(a[r] + ak);

				acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
				acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
			}
		}
	}
	if (g->relu) {
		__m256 z = _mm256_setzero_ps();

		for (size_t r = 0; r < R; r++) {
			acc[r][0] = _mm256_max_ps(acc[r][0], z);
			acc[r][1] = _mm256_max_ps(acc[r][1], z);
		}
	}
	for (size_t r = 0; r < R; r++) {
		float *d = g->D + (m + r) * g->ldd + n;

		_mm256_storeu_ps(d, acc[r][0]);
		_mm256_storeu_ps(d + 8, acc[r][1]);
	}
	if (g->s1 != NULL)
		tile_stats_avx2(g->s1 + n, g->s2 + n, acc, R);
	if (g->fq != NULL)
		tile_fq_avx2(g, m, n, R, 16);
}

/*
 * The fake quantization of an 8x32 tile in registers: the operations of
 * fq_forward_avx2 at twice the width (the rounding's 0 or 1 added in
 * every lane, as there), qmin and qmax lowered and raised rows in order.
 */
__attribute__((target("avx512f,avx2,fma")))
static inline void
tile32_fq(const struct gemm *g, __m512 acc[8][2], size_t m, size_t n,
    size_t R)
{
	const struct fq_out *f = g->fq;
	const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
	__mmask16 rnd = f->round == HGQ_RND ? 0xffff : 0;

	for (size_t h = 0; h < 2; h++) {
		size_t c = n + 16 * h;
		__m512 s = _mm512_loadu_ps(f->scale + c);
		__m512 iv = _mm512_loadu_ps(f->inv + c);
		__m512 lo = _mm512_loadu_ps(f->qmin + c);
		__m512 hi = _mm512_loadu_ps(f->qmax + c);

		for (size_t r = 0; r < R; r++) {
			__m512 v = _mm512_mul_ps(acc[r][h], s);
			__m512 fl = _mm512_roundscale_ps(v,
			    _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
			__mmask16 ge = _mm512_cmp_ps_mask(_mm512_sub_ps(v, fl),
			    half, _CMP_GE_OQ);
			__m512 o;

			fl = _mm512_add_ps(fl, _mm512_maskz_mov_ps(ge & rnd,
			    one));
			o = _mm512_mul_ps(fl, iv);
			_mm512_storeu_ps(f->Q + (m + r) * g->ldd + c, o);
			lo = _mm512_min_ps(o, lo);
			hi = _mm512_max_ps(o, hi);
		}
		_mm512_storeu_ps(f->qmin + c, lo);
		_mm512_storeu_ps(f->qmax + c, hi);
	}
}

/*
 * AVX-512F: rows m..m+R-1 (R <= 8), columns n..n+31, two 16-wide
 * registers a row, 16 accumulators: per k two loads of Bm, eight
 * broadcasts of A, sixteen FMAs.  Each element is accumulated over k in
 * order with one FMA per term from the same start (bias, D or zero) as
 * tile16_avx2: the same bits.  The statistics go through the 16-column
 * helper on the registers' halves.
 */
__attribute__((target("avx512f,avx2,fma")))
static void
tile32_avx512(const struct gemm *g, size_t m, size_t n, size_t R)
{
	__m512 acc[8][2];
	const float *a[8];
	__m512 i0, i1;
	const float *bk = g->Bm + n;

	if (g->bias != NULL) {
		i0 = _mm512_loadu_ps(g->bias + n);
		i1 = _mm512_loadu_ps(g->bias + n + 16);
	} else {
		i0 = i1 = _mm512_setzero_ps();
	}
	for (size_t r = 0; r < 8; r++) {
		acc[r][0] = i0;
		acc[r][1] = i1;
		a[r] = g->A + (m + (r < R ? r : 0)) * g->sa;
	}
	if (g->accum)
		for (size_t r = 0; r < R; r++) {
			const float *d = g->D + (m + r) * g->ldd + n;

			acc[r][0] = _mm512_loadu_ps(d);
			acc[r][1] = _mm512_loadu_ps(d + 16);
		}
	if (R == 8) {
		for (size_t k = 0, ak = 0; k < g->K; k++, ak += g->ka,
		    bk += g->ldb) {
			__m512 b0 = _mm512_loadu_ps(bk);
			__m512 b1 = _mm512_loadu_ps(bk + 16);
			__m512 x;

#define FMA2(r) do {							\
			x = _mm512_set1_ps(a[r][ak]);				\
			acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);		\
			acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);		\
		} while (0)
			FMA2(0); FMA2(1); FMA2(2); FMA2(3);
			FMA2(4); FMA2(5); FMA2(6); FMA2(7);
#undef FMA2
		}
	} else {
		for (size_t k = 0, ak = 0; k < g->K; k++, ak += g->ka,
		    bk += g->ldb) {
			__m512 b0 = _mm512_loadu_ps(bk);
			__m512 b1 = _mm512_loadu_ps(bk + 16);

			for (size_t r = 0; r < R; r++) {
				__m512 x = _mm512_set1_ps(a[r][ak]);

				acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
				acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
			}
		}
	}
	if (g->relu) {
		__m512 z = _mm512_setzero_ps();

		for (size_t r = 0; r < R; r++) {
			acc[r][0] = _mm512_max_ps(acc[r][0], z);
			acc[r][1] = _mm512_max_ps(acc[r][1], z);
		}
	}
	for (size_t r = 0; r < R; r++) {
		float *d = g->D + (m + r) * g->ldd + n;

		_mm512_storeu_ps(d, acc[r][0]);
		_mm512_storeu_ps(d + 16, acc[r][1]);
	}
	if (g->s1 != NULL)
		for (size_t r0 = 0; r0 < R; r0 += 4) {
			size_t rr = R - r0 < 4 ? R - r0 : 4;

			for (size_t h = 0; h < 2; h++) {
				__m256 q[4][2];

				for (size_t r = 0; r < rr; r++) {
					q[r][0] = _mm512_castps512_ps256(
					    acc[r0 + r][h]);
					q[r][1] = _mm256_castpd_ps(
					    _mm512_extractf64x4_pd(
					    _mm512_castps_pd(acc[r0 + r][h]),
					    1));
				}
				tile_stats_avx2(g->s1 + n + 16 * h,
				    g->s2 + n + 16 * h, q, rr);
			}
		}
	if (g->fq != NULL)
		tile32_fq(g, acc, m, n, R);
}

/*
 * AVX-512F: rows m..m+R-1 (R <= 12), columns n..n+15, one register a
 * row: where N % 32 leaves 16 columns (the convolutions' 16 filters),
 * twelve independent FMA chains per k instead of tile16_avx2's eight on
 * four rows, one load of Bm for twelve rows.  The same start and one FMA
 * per term in k order: the same bits.  No statistics (the caller keeps
 * tile16_avx2 for them); the fused quantizer (g->fq) as the other tiles.
 */
__attribute__((target("avx512f,avx2,fma")))
static void
tile16x12_avx512(const struct gemm *g, size_t m, size_t n, size_t R)
{
	__m512 acc[12], i0;
	const float *a[12];
	const float *bk = g->Bm + n;

	i0 = g->bias != NULL ? _mm512_loadu_ps(g->bias + n) :
	    _mm512_setzero_ps();
#pragma GCC unroll 12
	for (size_t r = 0; r < 12; r++) {
		acc[r] = i0;
		a[r] = g->A + (m + (r < R ? r : 0)) * g->sa;
	}
	if (g->accum)
		for (size_t r = 0; r < R; r++)
			acc[r] = _mm512_loadu_ps(g->D + (m + r) * g->ldd + n);
	if (R == 12) {
		for (size_t k = 0, ak = 0; k < g->K; k++, ak += g->ka,
		    bk += g->ldb) {
			__m512 b0 = _mm512_loadu_ps(bk);

#pragma GCC unroll 12
			for (size_t r = 0; r < 12; r++)
				acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(
				    a[r][ak]), b0, acc[r]);
		}
	} else {
		for (size_t k = 0, ak = 0; k < g->K; k++, ak += g->ka,
		    bk += g->ldb) {
			__m512 b0 = _mm512_loadu_ps(bk);

			for (size_t r = 0; r < R; r++)
				acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(
				    a[r][ak]), b0, acc[r]);
		}
	}
	for (size_t r = 0; r < R; r++) {
		if (g->relu)
			acc[r] = _mm512_max_ps(acc[r], _mm512_setzero_ps());
		_mm512_storeu_ps(g->D + (m + r) * g->ldd + n, acc[r]);
	}
	if (g->fq != NULL)
		tile_fq_avx2(g, m, n, R, 16);
}

/*
 * Rows m..m+R-1 (R <= 12), columns n..n+cnt-1 (cnt <= 8): the narrow
 * columns of N % 16, and the whole product when N <= 8 (the first
 * convolution of an image network: 8 filters over 9 taps, or the weight
 * gradient with its 9 rows).  One vector of Bm per k serves twelve rows,
 * so twelve FMA chains keep both FMA units busy where a 4-row tile waits
 * on the FMA's latency.  The rows are three groups of four, each read
 * through one pointer and the offsets sa, 2 sa, 3 sa: a group that would
 * run past R starts at row R - 4 instead (its rows are computed twice,
 * the same way, and stored twice with the same values), a group past R
 * reads row m and is not stored; with R < 4 every group reads rows m..
 * through offsets clamped to the last row.  Each element of D is
 * accumulated over k in order, as in the other tiles and gemm_c.
 */
#define TILE8_ROWS 12
__attribute__((target("avx2,fma")))
static void
tile8_avx2(const struct gemm *g, size_t m, size_t n, size_t R, size_t cnt)
{
	__m256i mask = tail_mask(cnt);
	__m256 acc[TILE8_ROWS], i0;
	const float *p[3];
	size_t base[3], ng = 0;
	size_t s1 = g->sa, s2 = 2 * g->sa, s3 = 3 * g->sa;
	const float *bk = g->Bm + n;

	if (R < 4) {
		s1 = R > 1 ? s1 : 0;
		s2 = R > 2 ? s2 : s1;
		s3 = R > 3 ? s3 : s2;
	}
	for (size_t q = 0; q < 3; q++) {
		base[q] = 4 * q + 4 <= R ? 4 * q : 4 * q < R && R >= 4 ?
		    R - 4 : 0;
		if (4 * q < R)
			ng = q + 1;
		p[q] = g->A + (m + base[q]) * g->sa;
	}
	i0 = g->bias != NULL ? _mm256_maskload_ps(g->bias + n, mask) :
	    _mm256_setzero_ps();
	for (size_t r = 0; r < TILE8_ROWS; r++)
		acc[r] = i0;
	if (g->accum)
		for (size_t q = 0; q < ng; q++)
			for (size_t j = 0; j < 4 && base[q] + j < R; j++)
				acc[4 * q + j] = _mm256_maskload_ps(g->D +
				    (m + base[q] + j) * g->ldd + n, mask);
	for (size_t k = 0; k < g->K; k++, bk += g->ldb) {
		__m256 b0 = cnt == 8 ? _mm256_loadu_ps(bk) :
		    _mm256_maskload_ps(bk, mask);

#define FMA4(q) do {							\
		const float *pq = p[q];						\
		acc[4 * q] = _mm256_fmadd_ps(_mm256_broadcast_ss(pq), b0,	\
		    acc[4 * q]);						\
		acc[4 * q + 1] = _mm256_fmadd_ps(_mm256_broadcast_ss(pq +	\
		    s1), b0, acc[4 * q + 1]);					\
		acc[4 * q + 2] = _mm256_fmadd_ps(_mm256_broadcast_ss(pq +	\
		    s2), b0, acc[4 * q + 2]);					\
		acc[4 * q + 3] = _mm256_fmadd_ps(_mm256_broadcast_ss(pq +	\
		    s3), b0, acc[4 * q + 3]);					\
		p[q] = pq + g->ka;						\
	} while (0)
		FMA4(0);
		FMA4(1);
		FMA4(2);
#undef FMA4
	}
	for (size_t q = 0; q < ng; q++)
		for (size_t j = 0; j < 4 && base[q] + j < R; j++) {
			__m256 v = acc[4 * q + j];

			if (g->relu)
				v = _mm256_max_ps(v, _mm256_setzero_ps());
			_mm256_maskstore_ps(g->D + (m + base[q] + j) * g->ldd +
			    n, mask, v);
		}
	if (g->s1 != NULL)	/* rows in order, read back from L1 */
		colstats_c(g->s1 + n, g->s2 + n, g->D + m * g->ldd + n,
		    g->ldd, R, cnt);
	if (g->fq != NULL)
		tile_fq_avx2(g, m, n, R, cnt);
}

__attribute__((target("avx2,fma")))
static void
gemm_avx2(const struct gemm *g)
{
	size_t n16 = g->N / 16 * 16, n32 = 0;

	if (wide_ok && wide_on) {
		n32 = g->N / 32 * 32;
		for (size_t m = 0; m < g->M && n32 > 0; m += 8) {
			size_t R = g->M - m < 8 ? g->M - m : 8;

			for (size_t n = 0; n < n32; n += 32)
				tile32_avx512(g, m, n, R);
		}
		/* the one strip of 16 columns left, twelve rows a tile */
		for (size_t m = 0; m < g->M && n32 < n16 && g->s1 == NULL;
		    m += 12)
			tile16x12_avx512(g, m, n32, g->M - m < 12 ? g->M - m :
			    12);
		if (g->s1 == NULL)
			n32 = n16;
	}
	for (size_t m = 0; m < g->M && n32 < n16; m += 4) {
		size_t R = g->M - m < 4 ? g->M - m : 4;

		for (size_t n = n32; n < n16; n += 16)
			tile16_avx2(g, m, n, R);
	}
	for (size_t m = 0; m < g->M; m += TILE8_ROWS) {
		size_t R = g->M - m < TILE8_ROWS ? g->M - m : TILE8_ROWS;

		for (size_t n = n16; n < g->N; n += 8)
			tile8_avx2(g, m, n, R, g->N - n < 8 ? g->N - n : 8);
	}
}

/* db (N) += column sums of d (B,N), rows in order as the C loop */
__attribute__((target("avx2,fma")))
static void
colsum_avx2(float *restrict db, const float *restrict d, size_t B, size_t N)
{
	size_t n = 0;

	for (; n + 8 <= N; n += 8) {
		__m256 s = _mm256_loadu_ps(db + n);

		for (size_t b = 0; b < B; b++)
			s = _mm256_add_ps(s, _mm256_loadu_ps(d + b * N + n));
		_mm256_storeu_ps(db + n, s);
	}
	for (; n < N; n++) {
		float s = db[n];

		for (size_t b = 0; b < B; b++)
			s += d[b * N + n];
		db[n] = s;
	}
}
#endif

static void
gemm(const struct gemm *g)
{
	if (g->M == 0 || g->N == 0)
		return;
#ifdef HAVE_AVX2_VARIANT
	if (use_avx2()) {
		gemm_avx2(g);
		return;
	}
#endif
	gemm_c(g);
	if (g->s1 != NULL)
		colstats_c(g->s1, g->s2, g->D, g->ldd, g->M, g->N);
	if (g->fq != NULL)
		fq_forward_c(g->fq->Q, g->fq->qmin, g->fq->qmax, g->D,
		    g->fq->scale, g->fq->inv, g->M, g->N, g->ldd,
		    g->fq->round);
}

/* out (B,OC) = inp (B,C) . w (C,OC) + bias, then relu if asked */
void
hgq_matmul_forward_ref(float *out, const float *inp, const float *w,
    const float *bias, size_t B, size_t C, size_t OC, int relu)
{
	for (size_t b = 0; b < B; b++)
		for (size_t j = 0; j < OC; j++) {
			float s = bias != NULL ? bias[j] : 0.0f;

			for (size_t i = 0; i < C; i++)
				s += inp[b * C + i] * w[i * OC + j];
			out[b * OC + j] = relu && s < 0.0f ? 0.0f : s;
		}
}

void
hgq_matmul_forward(float *restrict out, const float *restrict inp,
    const float *restrict w, const float *restrict bias, size_t B, size_t C,
    size_t OC, int relu)
{
	struct gemm g = {
		.D = out, .ldd = OC, .A = inp, .sa = C, .ka = 1,
		.Bm = w, .ldb = OC, .bias = bias, .M = B, .N = OC, .K = C,
		.relu = relu,
	};

	gemm(&g);
}

void
hgq_matmul_forward_fq(float *restrict out, float *restrict q,
    float *restrict qmin, float *restrict qmax, const float *restrict inp,
    const float *restrict w, const float *restrict bias, size_t B, size_t C,
    size_t OC, int relu, const float *restrict scale,
    const float *restrict inv_scale, int round)
{
	struct fq_out f = {
		.Q = q, .scale = scale, .inv = inv_scale, .qmin = qmin,
		.qmax = qmax, .round = round,
	};
	struct gemm g = {
		.D = out, .ldd = OC, .A = inp, .sa = C, .ka = 1,
		.Bm = w, .ldb = OC, .bias = bias, .M = B, .N = OC, .K = C,
		.relu = relu, .fq = &f,
	};

	gemm(&g);
}

/*
 * out (B,OC) = inp (B,C) . w (C,OC), no bias; s1 (OC) += the column sums
 * of out and s2 (OC) += their squares, in double, rows in order: the
 * batchnorm statistics of the product, summed in the GEMM's output pass
 * while the tile is in registers instead of a second pass over out.
 */
void
hgq_matmul_forward_stats_ref(float *out, double *s1, double *s2,
    const float *inp, const float *w, size_t B, size_t C, size_t OC)
{
	hgq_matmul_forward(out, inp, w, NULL, B, C, OC, 0);
	for (size_t b = 0; b < B; b++)
		for (size_t j = 0; j < OC; j++) {
			double v = out[b * OC + j];

			s1[j] += v;
			s2[j] += v * v;
		}
}

void
hgq_matmul_forward_stats(float *restrict out, double *restrict s1,
    double *restrict s2, const float *restrict inp,
    const float *restrict w, size_t B, size_t C, size_t OC)
{
	struct gemm g = {
		.D = out, .ldd = OC, .A = inp, .sa = C, .ka = 1,
		.Bm = w, .ldb = OC, .M = B, .N = OC, .K = C,
		.s1 = s1, .s2 = s2,
	};

	gemm(&g);
}

/*
 * dout (B,OC); wt (OC,C) = w^T.  dinp (B,C) = dout . wt; dw (C,OC) +=
 * inp^T . dout; db (OC) += column sums of dout.
 */
void
hgq_matmul_backward_ref(float *dinp, float *dw, float *db, const float *dout,
    const float *inp, const float *wt, size_t B, size_t C, size_t OC)
{
	if (dinp != NULL)
		for (size_t b = 0; b < B; b++)
			for (size_t i = 0; i < C; i++) {
				float s = 0.0f;

				for (size_t j = 0; j < OC; j++)
					s += dout[b * OC + j] * wt[j * C + i];
				dinp[b * C + i] = s;
			}
	for (size_t i = 0; i < C; i++)
		for (size_t j = 0; j < OC; j++) {
			float s = dw[i * OC + j];

			for (size_t b = 0; b < B; b++)
				s += inp[b * C + i] * dout[b * OC + j];
			dw[i * OC + j] = s;
		}
	if (db != NULL)
		for (size_t j = 0; j < OC; j++) {
			float s = db[j];

			for (size_t b = 0; b < B; b++)
				s += dout[b * OC + j];
			db[j] = s;
		}
}

void
hgq_matmul_backward(float *restrict dinp, float *restrict dw,
    float *restrict db, const float *restrict dout,
    const float *restrict inp, const float *restrict wt, size_t B, size_t C,
    size_t OC)
{
	struct gemm gd = {
		.D = dinp, .ldd = C, .A = dout, .sa = OC, .ka = 1,
		.Bm = wt, .ldb = C, .bias = NULL, .M = B, .N = C, .K = OC,
	};
	struct gemm gw = {
		.D = dw, .ldd = OC, .A = inp, .sa = 1, .ka = C,
		.Bm = dout, .ldb = OC, .bias = NULL, .M = C, .N = OC, .K = B,
		.accum = 1,
	};

	if (dinp != NULL)
		gemm(&gd);
	gemm(&gw);
#ifdef HAVE_AVX2_VARIANT
	if (db != NULL && use_avx2()) {
		colsum_avx2(db, dout, B, OC);
		return;
	}
#endif
	if (db != NULL) {
		for (size_t b = 0; b < B; b++) {
			const float *d = dout + b * OC;

			for (size_t j = 0; j < OC; j++)
				db[j] += d[j];
		}
	}
}

/* ------------------------------------------------------------------ */
/* Batchnorm backward                                                  */
/* ------------------------------------------------------------------ */

/*
 * z (B,OC), the float kernel's product z0 of the forward, becomes in
 * place the gradient reaching it through the batch mean and variance:
 *
 *	dz0[b,j] = a[j] + c2[j] (z0[b,j] - mu[j]) invB
 *
 * with a = dmu / B, c2 = 2 dvar, invB = 1 / B, evaluated in this order
 * (a subtract, two multiplies, an add; no FMA) in every variant.
 */
void
hgq_bn_backward_dz_ref(float *z, const float *a, const float *c2,
    const float *mu, float invB, size_t B, size_t OC)
{
	for (size_t b = 0; b < B; b++)
		for (size_t j = 0; j < OC; j++)
			z[b * OC + j] = a[j] + c2[j] * (z[b * OC + j] -
			    mu[j]) * invB;
}

#ifdef HAVE_AVX2_VARIANT
__attribute__((target("avx2,fma")))
static void
bn_backward_dz_avx2(float *restrict z, const float *restrict a,
    const float *restrict c2, const float *restrict mu, float invB,
    size_t B, size_t OC)
{
	__m256 ib = _mm256_set1_ps(invB);
	size_t o8 = OC / 8 * 8;

	for (size_t b = 0; b < B; b++) {
		float *zb = z + b * OC;
		size_t j = 0;

		for (; j < o8; j += 8) {
			__m256 v = _mm256_sub_ps(_mm256_loadu_ps(zb + j),
			    _mm256_loadu_ps(mu + j));

			v = _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(c2 + j),
			    v), ib);
			_mm256_storeu_ps(zb + j, _mm256_add_ps(
			    _mm256_loadu_ps(a + j), v));
		}
		for (; j < OC; j++)
			zb[j] = a[j] + c2[j] * (zb[j] - mu[j]) * invB;
	}
}
#endif

void
hgq_bn_backward_dz(float *restrict z, const float *restrict a,
    const float *restrict c2, const float *restrict mu, float invB,
    size_t B, size_t OC)
{
#ifdef HAVE_AVX2_VARIANT
	if (use_avx2()) {
		bn_backward_dz_avx2(z, a, c2, mu, invB, B, OC);
		return;
	}
#endif
	hgq_bn_backward_dz_ref(z, a, c2, mu, invB, B, OC);
}

/* d (n) += s (n), elementwise: the same bits in every variant */
#ifdef HAVE_AVX2_VARIANT
__attribute__((target("avx2,fma")))
static void
add_avx2(float *restrict d, const float *restrict s, size_t n)
{
	size_t e = 0;

	for (; e + 8 <= n; e += 8)
		_mm256_storeu_ps(d + e, _mm256_add_ps(_mm256_loadu_ps(d + e),
		    _mm256_loadu_ps(s + e)));
	for (; e < n; e++)
		d[e] += s[e];
}
#endif

void
hgq_add(float *restrict d, const float *restrict s, size_t n)
{
#ifdef HAVE_AVX2_VARIANT
	if (use_avx2()) {
		add_avx2(d, s, n);
		return;
	}
#endif
	for (size_t e = 0; e < n; e++)
		d[e] += s[e];
}

/* ------------------------------------------------------------------ */
/* Activations and losses                                              */
/* ------------------------------------------------------------------ */

/* written with fmaxf-like selects so that the compiler emits no branch */
void
hgq_relu_forward(float *x, size_t n)
{
	for (size_t j = 0; j < n; j++) {
		float v = x[j];

		x[j] = v > 0.0f ? v : 0.0f;
	}
}

void
hgq_relu_backward(float *restrict d, const float *restrict act, size_t n)
{
	for (size_t j = 0; j < n; j++)
		d[j] = act[j] > 0.0f ? d[j] : 0.0f;
}

/*
 * Lookup-table activations (format 1.2): y = func(x) in binary64, as
 * hgq_lut_mant() computes the exact table, rounded to float; the
 * backward's derivative at x, from y where func' is a function of func
 * (tanh 1 - y^2, sigmoid y (1 - y), exp y: no second libm call; the
 * float rounding of y moves it by less than 2^-22), else from x.
 */
void
hgq_lut_forward(float *restrict y, const float *restrict x, size_t n,
    uint32_t func)
{
	for (size_t j = 0; j < n; j++)
		y[j] = (float)hgq_func_f64(func, (double)x[j]);
}

void
hgq_lut_backward(float *restrict dx, const float *restrict dy,
    const float *restrict x, const float *restrict y, size_t n,
    uint32_t func)
{
	size_t j;

	switch (func) {
	case HGQ_FUNC_TANH:
		for (j = 0; j < n; j++)
			dx[j] = dy[j] * (1.0f - y[j] * y[j]);
		break;
	case HGQ_FUNC_SIGMOID:
		for (j = 0; j < n; j++)
			dx[j] = dy[j] * (y[j] * (1.0f - y[j]));
		break;
	case HGQ_FUNC_EXP:
		for (j = 0; j < n; j++)
			dx[j] = dy[j] * y[j];
		break;
	default:
		hgq_lut_backward_ref(dx, dy, x, y, n, func);
	}
}

/* the definition: dx = dy func'(x), func' in binary64 */
void
hgq_lut_backward_ref(float *dx, const float *dy, const float *x,
    const float *y, size_t n, uint32_t func)
{
	(void)y;
	for (size_t j = 0; j < n; j++)
		dx[j] = dy[j] * (float)hgq_func_grad_f64(func, (double)x[j]);
}

/*
 * The quantizer after a ReLU, backward: dfs += d (x - q) as
 * hgq_fq_backward, then d becomes the gradient before the ReLU (0 where
 * x <= 0; x is the ReLU's output).
 */
void
hgq_fq_relu_backward_ref(float *dfs, float *d, const float *x, const float *q,
    size_t B, size_t C)
{
	hgq_fq_backward_ref(dfs, d, x, q, B, C);
	hgq_relu_backward(d, x, B * C);
}

#ifdef HAVE_AVX2_VARIANT
__attribute__((target("avx2,fma")))
static void
fq_relu_backward_avx2(float *restrict dfs, float *restrict d,
    const float *restrict x, const float *restrict q, size_t B, size_t C)
{
	size_t c8 = C & ~(size_t)7;
	const __m256 z = _mm256_setzero_ps();

	for (size_t b = 0; b < B; b++) {
		float *db = d + b * C;
		const float *xb = x + b * C, *qb = q + b * C;
		size_t c;

		for (c = 0; c < c8; c += 8) {
			__m256 xv = _mm256_loadu_ps(xb + c);
			__m256 dv = _mm256_loadu_ps(db + c);
			__m256 e = _mm256_sub_ps(xv, _mm256_loadu_ps(qb + c));

			_mm256_storeu_ps(dfs + c, _mm256_add_ps(
			    _mm256_loadu_ps(dfs + c), _mm256_mul_ps(dv, e)));
			_mm256_storeu_ps(db + c, _mm256_and_ps(dv,
			    _mm256_cmp_ps(xv, z, _CMP_GT_OQ)));
		}
		for (; c < C; c++) {
			dfs[c] += db[c] * (xb[c] - qb[c]);
			db[c] = xb[c] > 0.0f ? db[c] : 0.0f;
		}
	}
}
#endif

void
hgq_fq_relu_backward(float *restrict dfs, float *restrict d,
    const float *restrict x, const float *restrict q, size_t B, size_t C)
{
#ifdef HAVE_AVX2_VARIANT
	if (use_avx2()) {
		fq_relu_backward_avx2(dfs, d, x, q, B, C);
		return;
	}
#endif
	fq_backward_c(dfs, d, x, q, B, C);
	hgq_relu_backward(d, x, B * C);
}

/*
 * Softmax cross-entropy on logits, per row: p = softmax(z), loss =
 * -log p[y] = logsumexp(z) - z[y], dz = (p - onehot(y)) * dscale.
 * The sum of exponentials is taken in double after subtracting the max.
 */
double
hgq_xent_forward_backward(float *restrict dlogits,
    const float *restrict logits, const int32_t *restrict labels, size_t B,
    size_t OC, float dscale, size_t *n_correct)
{
	double loss = 0.0;

	for (size_t b = 0; b < B; b++) {
		const float *z = logits + b * OC;
		float *dz = dlogits + b * OC;
		size_t arg = 0;
		double sum = 0.0;
		float mx = z[0];

		for (size_t j = 1; j < OC; j++)
			if (z[j] > mx) {
				mx = z[j];
				arg = j;
			}
		for (size_t j = 0; j < OC; j++) {
			float e = expf(z[j] - mx);

			dz[j] = e;
			sum += e;
		}
		for (size_t j = 0; j < OC; j++)
			dz[j] = (float)(dz[j] / sum) * dscale;
		dz[labels[b]] -= dscale;
		loss += log(sum) - ((double)z[labels[b]] - mx);
		if ((int32_t)arg == labels[b])
			(*n_correct)++;
	}
	return loss;
}

double
hgq_mse_forward_backward(float *restrict dq, const float *restrict q,
    const float *restrict y, size_t B, size_t OC, float dscale)
{
	double loss = 0.0;
	float k = 2.0f / (float)OC * dscale;

	for (size_t b = 0; b < B; b++) {
		double s = 0.0;

		for (size_t j = 0; j < OC; j++) {
			float e = q[b * OC + j] - y[b * OC + j];

			s += (double)e * e;
			dq[b * OC + j] = k * e;
		}
		loss += s / (double)OC;
	}
	return loss;
}

/* ------------------------------------------------------------------ */
/* Weight quantization and EBOPs                                       */
/* ------------------------------------------------------------------ */

/* 2^e as a float, exact, for |e| <= 126 */
static inline float
pow2f(int e)
{
	union { uint32_t u; float f; } v;

	v.u = (uint32_t)(e + 127) << 23;
	return v.f;
}

/* bit length of a non-negative integer-valued float below 2^24 */
static inline float
bitlen(float a)
{
	union { float f; uint32_t u; } v;

	if (a == 0.0f)
		return 0.0f;
	v.f = a;
	return (float)((int)((v.u >> 23) & 0xff) - 126);
}

static void
wquant_c(float *restrict wq, float *restrict bits, const float *restrict w,
    const float *restrict f, size_t R, size_t OC, int gran)
{
	for (size_t i = 0; i < R; i++)
		for (size_t j = 0; j < OC; j++) {
			size_t e = i * OC + j;
			size_t g = gran == HGQ_GRAN_ELEMENT ? e :
			    gran == HGQ_GRAN_CHANNEL ? j : 0;
			int F = hgq_round_bits(f[g]);
			float s = pow2f(F), r, v, b;

			/* |F| <= 23 (the parameter clip), so both exact */
			v = w[e] * s;
			r = floorf(v);
			if (v - r >= 0.5f)
				r += 1.0f;
			wq[e] = r * pow2f(-F);
			/* a diverged weight saturates at 25 bits */
			b = bitlen(fabsf(r));
			bits[e] = b < 25.0f ? b : 25.0f;
		}
}

#ifdef HAVE_AVX2_VARIANT
/*
 * Per-element f, 8 weights at a time: F = round half even (the default
 * rounding of vroundps, as nearbyintf), 2^F built in the exponent field,
 * the RND of hgq_fq_f32s, the bit length from the exponent of |r|.
 */
__attribute__((target("avx2,fma")))
static void
wquant_avx2(float *restrict wq, float *restrict bits, const float *restrict w,
    const float *restrict f, size_t n)
{
	const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
	const __m256 zero = _mm256_setzero_ps(), cap = _mm256_set1_ps(25.0f);
	const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(
	    0x7fffffff));
	const __m256i b127 = _mm256_set1_epi32(127);
	const __m256i b126 = _mm256_set1_epi32(126);
	size_t e = 0;

	for (; e + 8 <= n; e += 8) {
		__m256i F = _mm256_cvtps_epi32(_mm256_round_ps(
		    _mm256_loadu_ps(f + e), _MM_FROUND_TO_NEAREST_INT |
		    _MM_FROUND_NO_EXC));
		__m256 s = _mm256_castsi256_ps(_mm256_slli_epi32(
		    _mm256_add_epi32(F, b127), 23));
		__m256 inv = _mm256_castsi256_ps(_mm256_slli_epi32(
		    _mm256_sub_epi32(b127, F), 23));
		__m256 v = _mm256_mul_ps(_mm256_loadu_ps(w + e), s);
		__m256 r = _mm256_floor_ps(v);
		__m256 a, bl;
		__m256i ex;

		r = _mm256_add_ps(r, _mm256_and_ps(_mm256_cmp_ps(
		    _mm256_sub_ps(v, r), half, _CMP_GE_OQ), one));
		_mm256_storeu_ps(wq + e, _mm256_mul_ps(r, inv));
		a = _mm256_and_ps(r, absmask);
		ex = _mm256_sub_epi32(_mm256_srli_epi32(_mm256_castps_si256(a),
		    23), b126);
		bl = _mm256_min_ps(_mm256_cvtepi32_ps(ex), cap);
		bl = _mm256_and_ps(bl, _mm256_cmp_ps(a, zero, _CMP_NEQ_OQ));
		_mm256_storeu_ps(bits + e, bl);
	}
	if (e < n)
		wquant_c(wq + e, bits + e, w + e, f + e, 1, n - e,
		    HGQ_GRAN_ELEMENT);
}
#endif

void
hgq_wquant(float *restrict wq, float *restrict bits, const float *restrict w,
    const float *restrict f, size_t R, size_t OC, int gran)
{
#ifdef HAVE_AVX2_VARIANT
	if (gran == HGQ_GRAN_ELEMENT && use_avx2()) {
		wquant_avx2(wq, bits, w, f, R * OC);
		return;
	}
#endif
	wquant_c(wq, bits, w, f, R, OC, gran);
}

void
hgq_wquant_transpose(float *restrict wt, const float *restrict wq, size_t R,
    size_t OC)
{
	for (size_t i = 0; i < R; i++)
		for (size_t j = 0; j < OC; j++)
			wt[j * R + i] = wq[i * OC + j];
}

/*
 * EBOPs of a dense layer in training (hgq-algorithm 0, 5.2): sum_ij
 * abits_i * wbits_ij; d/dF_a[i] = sum_j wbits_ij where abits_i > 0 (relu'
 * with the straight-through round), d/dF_w[ij] = abits_i where wbits_ij > 0.
 */
double
hgq_ebops_dense(float *restrict dfa, float *restrict dfw,
    const float *restrict abits, const float *restrict wbits, size_t C,
    size_t OC, float beta)
{
	double total = 0.0;

	for (size_t i = 0; i < C; i++) {
		const float *wb = wbits + i * OC;
		float a = abits[i], rs = 0.0f;

		for (size_t j = 0; j < OC; j++)
			rs += wb[j];
		total += (double)a * rs;
		if (dfa != NULL && a > 0.0f)
			dfa[i] += beta * rs;
		if (dfw != NULL && a > 0.0f) {
			float *d = dfw + i * OC;
			float ba = beta * a;

			for (size_t j = 0; j < OC; j++)
				if (wb[j] > 0.0f)
					d[j] += ba;
		}
	}
	return total;
}

/* ------------------------------------------------------------------ */
/* Optimizers                                                          */
/* ------------------------------------------------------------------ */

void
hgq_adam_update(float *restrict p, float *restrict m, float *restrict v,
    const float *restrict g, size_t n, double lr, double b1, double b2,
    double eps, uint64_t t, float lo, float hi)
{
	double lr_t = lr * sqrt(1.0 - pow(b2, (double)t)) /
	    (1.0 - pow(b1, (double)t));
	float fb1 = (float)b1, fb2 = (float)b2, flr = (float)lr_t;
	float feps = (float)eps;

	for (size_t j = 0; j < n; j++) {
		float mj = fb1 * m[j] + (1.0f - fb1) * g[j];
		float vj = fb2 * v[j] + (1.0f - fb2) * g[j] * g[j];
		float pj = p[j] - flr * mj / (sqrtf(vj) + feps);

		m[j] = mj;
		v[j] = vj;
		p[j] = pj < lo ? lo : pj > hi ? hi : pj;
	}
}

void
hgq_sgd_update(float *restrict p, float *restrict v, const float *restrict g,
    size_t n, double lr, double mom, float lo, float hi)
{
	float flr = (float)lr, fm = (float)mom;

	for (size_t j = 0; j < n; j++) {
		float vj = fm * v[j] - flr * g[j];
		float pj = p[j] + vj;

		v[j] = vj;
		p[j] = pj < lo ? lo : pj > hi ? hi : pj;
	}
}

/* ------------------------------------------------------------------ */
/* Random numbers: splitmix64 seeding, xoshiro256**                    */
/* ------------------------------------------------------------------ */

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
hgq_rng_seed(uint64_t state[4], uint64_t seed)
{
	uint64_t x = seed;

	for (int j = 0; j < 4; j++)
		state[j] = splitmix64(&x);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t
hgq_rng_next(uint64_t s[4])
{
	uint64_t r = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

double
hgq_rng_uniform(uint64_t s[4])
{
	return (double)(hgq_rng_next(s) >> 11) * 0x1p-53;
}

/* rejection below 2^64 mod n: unbiased */
uint64_t
hgq_rng_below(uint64_t s[4], uint64_t n)
{
	uint64_t x, lim;

	if (n <= 1)
		return 0;
	lim = -n % n;		/* 2^64 mod n */
	do {
		x = hgq_rng_next(s);
	} while (x < lim);
	return x % n;
}
