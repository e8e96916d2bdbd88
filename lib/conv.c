/*
 * conv.c - float training kernels of the convolutional layers: Conv2D and
 * Conv1D forward and backward, max and average pooling, and the
 * differentiable EBOPs of a convolution (llm.c style, as kernels.c).
 *
 * Layout (channels last, batch first, as Keras/HGQ2):
 *
 *   input    inp [B, H, W, C]       element ((b*H + h)*W + w)*C + c
 *   kernel   w   [KH, KW, C, OC]    element ((kh*KW + kw)*C + c)*OC + o
 *   output   out [B, OH, OW, OC]
 *
 * Conv1D is the same layer with H = KH = SH = 1 (hgq_conv1d_geom_init):
 * its [W, C] sample is a [1, W, C] one, memory unchanged.  Flatten needs
 * no kernel: a channels-last sample is already the flat vector of
 * ((h*W + w)*C + c).
 *
 * The convolution is im2col followed by the GEMM of kernels.c: each output
 * position's receptive field, KH*KW*C values in kernel order, becomes a
 * row of col (B*OH*OW, KH*KW*C), and the kernel read as a (KH*KW*C, OC)
 * matrix is exactly a dense layer's weights, so
 *
 *   forward   out  = col . w + bias                 hgq_matmul_forward
 *   backward  dcol = dout . w^T, dw += col^T . dout  hgq_matmul_backward
 *             dinp = col2im(dcol)    (the adjoint of im2col: a scatter-add)
 *
 * The direct loops (_ref) sum in the same tap order; bench/bench_conv.c
 * measures both (the GEMM path is the faster; see the figures there).
 * The one exception is the first convolution of an image network (one
 * input channel, stride 1, no padding): hgq_conv_direct_* read the image
 * itself instead of im2col rows of 9 floats, with the same bits.
 *
 * Padding (Keras/TensorFlow semantics, per axis, input n, kernel k,
 * stride s):
 *
 *   valid   out = floor((n - k) / s) + 1, no padding; needs k <= n
 *   same    out = ceil(n / s); pad_total = max((out - 1)*s + k - n, 0),
 *           pad_before = floor(pad_total / 2), the rest after; the
 *           padded positions read zeros, which are not multiplications
 *           (EBOPs count none of them)
 *
 * Pooling uses valid windows only: a remainder row or column that does
 * not fill a window is dropped, as Keras' 'valid'.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_AVX2_VARIANT 1
#include <immintrin.h>
#endif

/* n = a * b, false on overflow or above the per-sample limit */
static int
mul_ok(size_t *n, size_t a, size_t b)
{
	if (a != 0 && b > HGQ_CONV_MAX_ELEMS / a)
		return 0;
	*n = a * b;
	return *n <= HGQ_CONV_MAX_ELEMS;
}

/* product of four sizes within HGQ_CONV_MAX_ELEMS */
static int
prod4_ok(size_t a, size_t b, size_t c, size_t d)
{
	size_t n;

	return mul_ok(&n, a, b) && mul_ok(&n, n, c) && mul_ok(&n, n, d);
}

/* output size and padding before of one axis (see the top comment) */
static void
axis_out(size_t n, size_t k, size_t s, int padding, size_t *out,
    size_t *before)
{
	if (padding == HGQ_PAD_SAME) {
		size_t o = (n + s - 1) / s;
		size_t need = (o - 1) * s + k;
		size_t total = need > n ? need - n : 0;

		*out = o;
		*before = total / 2;
	} else {
		*out = (n - k) / s + 1;
		*before = 0;
	}
}

int
hgq_conv_geom_init(struct hgq_conv_geom *g, size_t H, size_t W, size_t C,
    size_t KH, size_t KW, size_t OC, size_t SH, size_t SW, int padding,
    struct hgq_err *err)
{
	memset(g, 0, sizeof(*g));
	if (padding != HGQ_PAD_VALID && padding != HGQ_PAD_SAME)
		return hgq_errf(err, HGQ_EINVAL, "unknown padding %d",
		    padding);
	if (H == 0 || W == 0 || C == 0 || KH == 0 || KW == 0 || OC == 0 ||
	    SH == 0 || SW == 0)
		return hgq_errf(err, HGQ_EINVAL, "convolution: zero size "
		    "(input %zux%zux%zu, kernel %zux%zu, %zu filters, "
		    "stride %zux%zu)", H, W, C, KH, KW, OC, SH, SW);
	if (H > HGQ_CONV_MAX_ELEMS || W > HGQ_CONV_MAX_ELEMS ||
	    KH > HGQ_CONV_MAX_ELEMS || KW > HGQ_CONV_MAX_ELEMS ||
	    SH > HGQ_CONV_MAX_ELEMS || SW > HGQ_CONV_MAX_ELEMS ||
	    !prod4_ok(H, W, C, 1))
		return hgq_errf(err, HGQ_EINVAL, "convolution: input "
		    "%zux%zux%zu too large", H, W, C);
	if (padding == HGQ_PAD_VALID && (KH > H || KW > W))
		return hgq_errf(err, HGQ_EINVAL, "convolution: kernel "
		    "%zux%zu larger than its input %zux%zu", KH, KW, H, W);
	axis_out(H, KH, SH, padding, &g->OH, &g->PT);
	axis_out(W, KW, SW, padding, &g->OW, &g->PL);
	if (!prod4_ok(KH, KW, C, OC) || !prod4_ok(g->OH, g->OW, OC, 1) ||
	    !prod4_ok(g->OH, g->OW, KH * KW, C))
		return hgq_errf(err, HGQ_EINVAL, "convolution: sizes too "
		    "large (input %zux%zux%zu, kernel %zux%zu, %zu filters)",
		    H, W, C, KH, KW, OC);
	g->H = H;
	g->W = W;
	g->C = C;
	g->KH = KH;
	g->KW = KW;
	g->OC = OC;
	g->SH = SH;
	g->SW = SW;
	return HGQ_OK;
}

int
hgq_conv1d_geom_init(struct hgq_conv_geom *g, size_t W, size_t C, size_t K,
    size_t OC, size_t S, int padding, struct hgq_err *err)
{
	return hgq_conv_geom_init(g, 1, W, C, 1, K, OC, 1, S, padding, err);
}

size_t
hgq_conv_col_len(const struct hgq_conv_geom *g)
{
	return g->OH * g->OW * g->KH * g->KW * g->C;
}

/*
 * The output positions o in [*lo, *hi) whose tap k reads a real input
 * element: 0 <= o*s + k - pad < n.  This is the per-axis factor of "which
 * output positions meet this (input, weight) pair".
 */
static void
tap_range(size_t n, size_t n_out, size_t s, size_t pad, size_t k,
    size_t *lo, size_t *hi)
{
	size_t a = pad > k ? (pad - k + s - 1) / s : 0, b;

	if (n - 1 + pad < k) {
		*lo = *hi = 0;
		return;
	}
	b = (n - 1 + pad - k) / s + 1;
	if (b > n_out)
		b = n_out;
	*lo = a;
	*hi = a < b ? b : a;
}

/* ------------------------------------------------------------------ */
/* im2col and col2im                                                   */
/* ------------------------------------------------------------------ */

/* does any tap of any output position fall into the padding? */
static int
has_padding(const struct hgq_conv_geom *g)
{
	return g->PT > 0 || g->PL > 0 ||
	    (g->OH - 1) * g->SH + g->KH > g->PT + g->H ||
	    (g->OW - 1) * g->SW + g->KW > g->PL + g->W;
}

/*
 * dst[0..n) = src[0..n) inline: blocks of 8 (vectorized, a constant trip
 * count), then the rest; the runs of im2col are short (KW*C floats, 24
 * for 3 taps of 8 channels), where a call to memcpy costs more than the
 * copy.
 */
static inline void
copy_run(float *restrict dst, const float *restrict src, size_t n)
{
	size_t j = 0;

	for (; j + 8 <= n; j += 8)
		for (size_t c = 0; c < 8; c++)
			dst[j + c] = src[j + c];
	for (; j < n; j++)
		dst[j] = src[j];
}

/*
 * inp [B,H,W,C] -> col (B*OH*OW, KH*KW*C): row ((b*OH + oh)*OW + ow),
 * column (kh*KW + kw)*C + c holds inp[b, oh*SH + kh - PT, ow*SW + kw - PL,
 * c], 0 in the padding.
 *
 * Loop order: per output row (b, oh) and tap (kh, kw), the positions ow
 * whose tap is real form one range (tap_range), along which source and
 * destination both advance by a fixed stride: a tight copy of C floats
 * per position, with no test inside (one float when C = 1, the first
 * layer of an image network).  Padding is cleared once per output row.
 */
void
hgq_conv_im2col(float *restrict col, const float *restrict inp,
    const struct hgq_conv_geom *g, size_t B)
{
	size_t C = g->C, KW = g->KW, K = g->KH * KW * C;
	size_t plane = g->H * g->W * C, rowk = g->OW * K, sstep = g->SW * C;
	int padded = has_padding(g);

	for (size_t b = 0; b < B; b++) {
		const float *x = inp + b * plane;

		for (size_t oh = 0; oh < g->OH; oh++) {
			float *r = col + (b * g->OH + oh) * rowk;

			if (padded)
				memset(r, 0, rowk * sizeof(*r));
			for (size_t kh = 0; kh < g->KH; kh++) {
				size_t ih = oh * g->SH + kh, a0, a1, z0, z1;

				if (ih < g->PT || ih - g->PT >= g->H)
					continue;
				ih -= g->PT;
				/*
				 * Positions [a0, z1) whose KW taps are all
				 * real: one run of KW*C floats each (the
				 * ranges shrink from the left as kw falls
				 * and from the right as kw grows).
				 */
				tap_range(g->W, g->OW, g->SW, g->PL, 0, &a0,
				    &a1);
				tap_range(g->W, g->OW, g->SW, g->PL, KW - 1,
				    &z0, &z1);
				if (C >= 4 && a0 < z1)
					for (size_t o = a0; o < z1; o++)
						copy_run(r + o * K + kh * KW * C,
						    x + (ih * g->W + o * g->SW -
						    g->PL) * C, KW * C);
				else
					a0 = z1 = 0;
				for (size_t kw = 0; kw < KW; kw++) {
					size_t w0, w1;
					const float *src;
					float *dst;

					tap_range(g->W, g->OW, g->SW, g->PL, kw,
					    &w0, &w1);
					if (w0 >= w1)
						continue;
					src = x + (ih * g->W + w0 * g->SW + kw -
					    g->PL) * C;
					dst = r + w0 * K + (kh * KW + kw) * C;
					if (C == 1) {
						for (size_t o = 0; o < w1 - w0;
						    o++)
							dst[o * K] =
							    src[o * sstep];
						continue;
					}
					for (size_t o = w0; o < w1; o++) {
						if (o == a0 && a0 < z1) {
							/* copied above */
							dst += (z1 - a0) * K;
							src += (z1 - a0) *
							    sstep;
							o = z1 - 1;
							continue;
						}
						for (size_t c = 0; c < C; c++)
							dst[c] = src[c];
						dst += K;
						src += sstep;
					}
				}
			}
		}
	}
}

/*
 * dst[0..n) += src[0..n): blocks of 8, a constant trip count that the
 * compiler vectorizes at -O2, then the rest one by one.
 */
static inline void
add_run(float *restrict dst, const float *restrict src, size_t n)
{
	size_t j = 0;

	for (; j + 8 <= n; j += 8)
		for (size_t c = 0; c < 8; c++)
			dst[j + c] += src[j + c];
	for (; j < n; j++)
		dst[j] += src[j];
}

/*
 * col2im of one input channel at stride 1 (the first convolution of an
 * image network): each input element is the sum of the dcol entries of
 * its taps, gathered in the order (kh, kw) and stored once.  Adding runs
 * of KW floats instead would chain every element's KW*KH additions
 * through memory (store, then reload), the runs of neighbouring output
 * positions overlapping.  Four neighbours whose taps are all real are
 * summed side by side (gather4): four independent chains of additions,
 * each in the same order as alone.
 */
static inline void
gather4(float *restrict x, const float *restrict r,
    const struct hgq_conv_geom *g, size_t h0, size_t h1, size_t p)
{
	size_t KW = g->KW, K = g->KH * KW;
	float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;

	for (size_t kh = h0; kh < h1; kh++) {
		const float *t = r + (p - kh) * g->OW * K + kh * KW;

		for (size_t kw = 0; kw < KW; kw++) {
			const float *u = t - kw * (K - 1);

			s0 += u[0];
			s1 += u[K];
			s2 += u[2 * K];
			s3 += u[3 * K];
		}
	}
	x[0] = s0;
	x[1] = s1;
	x[2] = s2;
	x[3] = s3;
}

static void
col2im_gather(float *restrict dinp, const float *restrict dcol,
    const struct hgq_conv_geom *g, size_t B)
{
	size_t KH = g->KH, KW = g->KW, K = KH * KW;

	for (size_t b = 0; b < B; b++) {
		const float *r = dcol + b * g->OH * g->OW * K;
		float *x = dinp + b * g->H * g->W;

		for (size_t ih = 0; ih < g->H; ih++) {
			/* kernel rows kh with 0 <= ih + PT - kh < OH */
			size_t p = ih + g->PT;
			size_t h0 = p >= g->OH ? p - g->OH + 1 : 0;
			size_t h1 = p + 1 < KH ? p + 1 : KH;

			for (size_t iw = 0; iw < g->W; iw++) {
				size_t q = iw + g->PL;
				size_t w0 = q >= g->OW ? q - g->OW + 1 : 0;
				size_t w1 = q + 1 < KW ? q + 1 : KW;
				float s = 0.0f;

				if (q + 1 >= KW && q + 4 <= g->OW &&
				    iw + 4 <= g->W) {
					gather4(x + ih * g->W + iw, r + q * K,
					    g, h0, h1, p);
					iw += 3;
					continue;
				}

				for (size_t kh = h0; kh < h1; kh++) {
					const float *t = r + ((p - kh) *
					    g->OW + q) * K + kh * KW;

					for (size_t kw = w0; kw < w1; kw++)
						s += *(t - kw * (K - 1));
				}
				x[ih * g->W + iw] = s;
			}
		}
	}
}

/*
 * The adjoint of im2col: dinp [B,H,W,C] = 0, then every element of dcol
 * that im2col took from an input element is added back to it (padding
 * columns are dropped).  The loop order is im2col's: per output row (b,
 * oh) and kernel row kh, the positions [a0, z1) whose KW taps are all
 * real read one run of KW*C contiguous floats of dcol and add it to one
 * run of the input row (add_run, vectorized); only the positions at a
 * padded edge go tap by tap.  Every input element receives its terms in
 * the order (oh, kh, ow, kw), for every shape.
 */
void
hgq_conv_col2im(float *restrict dinp, const float *restrict dcol,
    const struct hgq_conv_geom *g, size_t B)
{
	size_t C = g->C, KW = g->KW, K = g->KH * KW * C, run = KW * C;
	size_t plane = g->H * g->W * C, rowk = g->OW * K;

	if (C == 1 && g->SH == 1 && g->SW == 1) {
		col2im_gather(dinp, dcol, g, B);
		return;
	}
	memset(dinp, 0, B * plane * sizeof(*dinp));
	for (size_t b = 0; b < B; b++) {
		float *x = dinp + b * plane;

		for (size_t oh = 0; oh < g->OH; oh++) {
			const float *r = dcol + (b * g->OH + oh) * rowk;

			for (size_t kh = 0; kh < g->KH; kh++) {
				size_t ih = oh * g->SH + kh, a0, a1, z0, z1;

				if (ih < g->PT || ih - g->PT >= g->H)
					continue;
				ih -= g->PT;
				tap_range(g->W, g->OW, g->SW, g->PL, 0, &a0,
				    &a1);
				tap_range(g->W, g->OW, g->SW, g->PL, KW - 1,
				    &z0, &z1);
				if (a0 >= z1)
					a0 = z1 = 0;
				for (size_t o = 0; o < g->OW; o++) {
					const float *src = r + o * K + kh * run;

					if (o >= a0 && o < z1) {
						add_run(x + (ih * g->W + o *
						    g->SW - g->PL) * C, src,
						    run);
						continue;
					}
					/* an edge position: its real taps */
					for (size_t kw = 0; kw < KW; kw++) {
						size_t iw = o * g->SW + kw;

						if (iw < g->PL ||
						    iw - g->PL >= g->W)
							continue;
						add_run(x + (ih * g->W + iw -
						    g->PL) * C, src + kw * C,
						    C);
					}
				}
			}
		}
	}
}

/* ------------------------------------------------------------------ */
/* Convolution                                                         */
/* ------------------------------------------------------------------ */

void
hgq_conv_forward(float *restrict out, float *restrict col,
    const float *restrict inp, const float *restrict w,
    const float *restrict bias, const struct hgq_conv_geom *g, size_t B,
    int relu)
{
	size_t K = g->KH * g->KW * g->C;

	hgq_conv_im2col(col, inp, g, B);
	hgq_matmul_forward(out, col, w, bias, B * g->OH * g->OW, K, g->OC,
	    relu);
}

void
hgq_conv_backward(float *restrict dinp, float *restrict dw,
    float *restrict db, float *restrict dcol, const float *restrict dout,
    const float *restrict col, const float *restrict wt,
    const struct hgq_conv_geom *g, size_t B)
{
	size_t K = g->KH * g->KW * g->C;

	hgq_matmul_backward(dinp != NULL ? dcol : NULL, dw, db, dout, col, wt,
	    B * g->OH * g->OW, K, g->OC);
	if (dinp != NULL)
		hgq_conv_col2im(dinp, dcol, g, B);
}

/* ------------------------------------------------------------------ */
/* The first convolution of an image network, without im2col           */
/* ------------------------------------------------------------------ */

/*
 * One input channel at stride 1 without padding (conv 8 3x3 on a 28x28
 * image): im2col would copy every pixel KH*KW times into rows of 9
 * floats, and the GEMM over 9 taps and 8 filters runs narrow tiles with
 * masked stores.  These kernels read the image itself, and compute every
 * float the im2col path does in the same order from the same start
 * (bias or 0, taps k = kh*KW + kw ascending, one multiply-add per term:
 * a fused one in the AVX2 variant as in the GEMM tiles, a multiply then
 * an add in the C one as in gemm_c), so the results are the same bits.
 * OC % 8 == 0: the AVX2 variant keeps 8 filters in a register; KH*KW <=
 * 12: the kernel gradient keeps a register per tap.
 */
int
hgq_conv_direct(const struct hgq_conv_geom *g)
{
	return g->C == 1 && g->SH == 1 && g->SW == 1 && !has_padding(g) &&
	    g->OC % 8 == 0 && g->KH * g->KW <= 12;
}

static void
direct_forward_c(float *restrict out, const float *restrict inp,
    const float *restrict w, const float *restrict bias,
    const struct hgq_conv_geom *g, size_t B, int relu)
{
	size_t OC = g->OC, npos = g->OH * g->OW;

	for (size_t b = 0; b < B; b++)
		for (size_t oh = 0; oh < g->OH; oh++)
			for (size_t ow = 0; ow < g->OW; ow++) {
				const float *x = inp + b * g->H * g->W +
				    oh * g->W + ow;
				float *o = out + (b * npos + oh * g->OW + ow) *
				    OC;

				for (size_t j = 0; j < OC; j++)
					o[j] = bias != NULL ? bias[j] : 0.0f;
				for (size_t kh = 0; kh < g->KH; kh++)
					for (size_t kw = 0; kw < g->KW; kw++) {
						float a = x[kh * g->W + kw];
						const float *wk = w + (kh *
						    g->KW + kw) * OC;

						for (size_t j = 0; j < OC; j++)
							o[j] += a * wk[j];
					}
				if (relu)
					for (size_t j = 0; j < OC; j++)
						o[j] = o[j] > 0.0f ? o[j] :
						    0.0f;
			}
}

/*
 * dw (K, OC) += the taps' pixels times dout, db (OC) += dout, positions
 * in order (b, oh, ow): gemm_c's order for dw = col^T . dout.
 */
static void
direct_dw_c(float *restrict dw, float *restrict db, const float *restrict dout,
    const float *restrict inp, const struct hgq_conv_geom *g, size_t B)
{
	size_t OC = g->OC;

	for (size_t b = 0; b < B; b++)
		for (size_t oh = 0; oh < g->OH; oh++)
			for (size_t ow = 0; ow < g->OW; ow++) {
				const float *x = inp + b * g->H * g->W +
				    oh * g->W + ow;
				const float *d = dout + ((b * g->OH + oh) *
				    g->OW + ow) * OC;

				for (size_t kh = 0; kh < g->KH; kh++)
					for (size_t kw = 0; kw < g->KW; kw++) {
						float a = x[kh * g->W + kw];
						float *dk = dw + (kh * g->KW +
						    kw) * OC;

						for (size_t j = 0; j < OC; j++)
							dk[j] += a * d[j];
					}
				if (db != NULL)
					for (size_t j = 0; j < OC; j++)
						db[j] += d[j];
			}
}

/*
 * dcolt (K, OH*OW) of one image: tap k's gradient at position p is the
 * sum over the filters o, in order from 0, of dout[p,o] wt[o,k] (the
 * GEMM's dcol, transposed: a row per tap, so that the gather below reads
 * neighbouring positions side by side).
 */
static void
direct_dcol_c(float *restrict dcolt, const float *restrict d,
    const float *restrict wt, const struct hgq_conv_geom *g)
{
	size_t K = g->KH * g->KW, npos = g->OH * g->OW, OC = g->OC;

	for (size_t p = 0; p < npos; p++)
		for (size_t k = 0; k < K; k++) {
			float s = 0.0f;

			for (size_t o = 0; o < OC; o++)
				s += d[p * OC + o] * wt[o * K + k];
			dcolt[k * npos + p] = s;
		}
}

/*
 * dinp of one image from its dcolt: each pixel the sum of the taps that
 * read it, (kh, kw) ascending from 0, as col2im_gather.  Columns [c0,
 * c1) are left to the caller (the vectorized interior); c0 = c1 = 0:
 * every column here.
 */
static void
direct_gather_c(float *restrict x, const float *restrict dcolt,
    const struct hgq_conv_geom *g, size_t c0, size_t c1)
{
	size_t KW = g->KW, npos = g->OH * g->OW;

	for (size_t ih = 0; ih < g->H; ih++) {
		size_t h0 = ih >= g->OH ? ih - g->OH + 1 : 0;
		size_t h1 = ih + 1 < g->KH ? ih + 1 : g->KH;

		for (size_t iw = 0; iw < g->W; iw++) {
			size_t w0 = iw >= g->OW ? iw - g->OW + 1 : 0;
			size_t w1 = iw + 1 < KW ? iw + 1 : KW;
			float s = 0.0f;

			if (iw >= c0 && iw < c1)
				continue;
			for (size_t kh = h0; kh < h1; kh++)
				for (size_t kw = w0; kw < w1; kw++)
					s += dcolt[(kh * KW + kw) * npos +
					    (ih - kh) * g->OW + iw - kw];
			x[ih * g->W + iw] = s;
		}
	}
}

#ifdef HAVE_AVX2_VARIANT
/*
 * R (<= FWD_TILE) neighbouring positions of one output row, 8 filters: R
 * accumulators, per tap one load of the filters' weights and R
 * broadcasts of pixels.  Inlined with R = FWD_TILE, the accumulators
 * live in registers: 13 of them, the filters' weights and a pixel fill
 * the 16 AVX2 registers, and a row of 26 positions (a 28-pixel image
 * under a 3x3 kernel) is two tiles.
 */
#define FWD_TILE 13
__attribute__((target("avx2,fma"), always_inline))
static inline void
fwd_tile_avx2(float *o, const float *x, const float *w, __m256 bv,
    const struct hgq_conv_geom *g, size_t R, int relu)
{
	__m256 acc[FWD_TILE];

#pragma GCC unroll 13
	for (size_t r = 0; r < FWD_TILE; r++)
		acc[r] = bv;
	for (size_t kh = 0; kh < g->KH; kh++)
		for (size_t kw = 0; kw < g->KW; kw++) {
			__m256 wv = _mm256_loadu_ps(w + (kh * g->KW + kw) *
			    g->OC);
			const float *xk = x + kh * g->W + kw;

#pragma GCC unroll 13
			for (size_t r = 0; r < R; r++)
				acc[r] = _mm256_fmadd_ps(
				    _mm256_broadcast_ss(xk + r), wv, acc[r]);
		}
#pragma GCC unroll 13
	for (size_t r = 0; r < R; r++) {
		if (relu)
			acc[r] = _mm256_max_ps(acc[r], _mm256_setzero_ps());
		_mm256_storeu_ps(o + r * g->OC, acc[r]);
	}
}

/*
 * Per output row, tiles of FWD_TILE positions; the last one ends at the
 * row's end, overlapping the one before (its positions computed again
 * the same way, stored with the same values).
 */
__attribute__((target("avx2,fma")))
static void
direct_forward_avx2(float *restrict out, const float *restrict inp,
    const float *restrict w, const float *restrict bias,
    const struct hgq_conv_geom *g, size_t B, int relu)
{
	size_t OC = g->OC, OW = g->OW;

	for (size_t b = 0; b < B; b++)
		for (size_t oh = 0; oh < g->OH; oh++) {
			const float *x = inp + (b * g->H + oh) * g->W;
			float *o = out + (b * g->OH + oh) * OW * OC;

			for (size_t j = 0; j < OC; j += 8) {
				__m256 bv = bias != NULL ?
				    _mm256_loadu_ps(bias + j) :
				    _mm256_setzero_ps();

				if (OW < FWD_TILE) {
					fwd_tile_avx2(o + j, x, w + j, bv, g,
					    OW, relu);
					continue;
				}
				for (size_t ow = 0; ow < OW; ow += FWD_TILE) {
					size_t a = ow + FWD_TILE <= OW ? ow :
					    OW - FWD_TILE;

					fwd_tile_avx2(o + a * OC + j, x + a,
					    w + j, bv, g, FWD_TILE, relu);
				}
			}
		}
}

/*
 * Filters j..j+7 of the kernel gradient: one accumulator per tap (K <=
 * 12), per position one load of dout and K broadcasts of pixels.
 * Inlined with KH = KW = 3, the loops unroll and the accumulators live
 * in registers.
 */
__attribute__((target("avx2,fma"), always_inline))
static inline void
dw_group_avx2(float *dw, float *db, const float *dout, const float *inp,
    const struct hgq_conv_geom *g, size_t B, size_t j, size_t KH,
    size_t KW)
{
	__m256 acc[12], sb = _mm256_setzero_ps();
	size_t OC = g->OC, W = g->W;
	const float *d = dout + j;

#pragma GCC unroll 12
	for (size_t k = 0; k < 12; k++)
		acc[k] = k < KH * KW ? _mm256_loadu_ps(dw + k * OC + j) :
		    _mm256_setzero_ps();
	if (db != NULL)
		sb = _mm256_loadu_ps(db + j);
	for (size_t b = 0; b < B; b++)
		for (size_t oh = 0; oh < g->OH; oh++) {
			const float *x = inp + (b * g->H + oh) * W;

			for (size_t ow = 0; ow < g->OW; ow++, d += OC) {
				__m256 dv = _mm256_loadu_ps(d);

#pragma GCC unroll 12
				for (size_t kh = 0; kh < KH; kh++)
#pragma GCC unroll 12
					for (size_t kw = 0; kw < KW; kw++)
						acc[kh * KW + kw] =
						    _mm256_fmadd_ps(
						    _mm256_broadcast_ss(x + ow +
						    kh * W + kw), dv,
						    acc[kh * KW + kw]);
				sb = _mm256_add_ps(sb, dv);
			}
		}
#pragma GCC unroll 12
	for (size_t k = 0; k < KH * KW; k++)
		_mm256_storeu_ps(dw + k * OC + j, acc[k]);
	if (db != NULL)
		_mm256_storeu_ps(db + j, sb);
}

__attribute__((target("avx2,fma")))
static void
direct_dw_avx2(float *restrict dw, float *restrict db,
    const float *restrict dout, const float *restrict inp,
    const struct hgq_conv_geom *g, size_t B)
{
	for (size_t j = 0; j < g->OC; j += 8)
		if (g->KH == 3 && g->KW == 3)
			dw_group_avx2(dw, db, dout, inp, g, B, j, 3, 3);
		else
			dw_group_avx2(dw, db, dout, inp, g, B, j, g->KH,
			    g->KW);
}

/* c[o] = column o of the 8x8 block of rows src + r*ld, r < 8 */
__attribute__((target("avx2,fma"), always_inline))
static inline void
transpose8_avx2(__m256 c[8], const float *src, size_t ld)
{
	__m256 t[8], u[8];

#pragma GCC unroll 4
	for (size_t r = 0; r < 8; r += 2) {
		__m256 a = _mm256_loadu_ps(src + r * ld);
		__m256 b = _mm256_loadu_ps(src + (r + 1) * ld);

		t[r] = _mm256_unpacklo_ps(a, b);
		t[r + 1] = _mm256_unpackhi_ps(a, b);
	}
#pragma GCC unroll 2
	for (size_t q = 0; q < 8; q += 4) {
		u[q] = _mm256_shuffle_ps(t[q], t[q + 2], 0x44);
		u[q + 1] = _mm256_shuffle_ps(t[q], t[q + 2], 0xee);
		u[q + 2] = _mm256_shuffle_ps(t[q + 1], t[q + 3], 0x44);
		u[q + 3] = _mm256_shuffle_ps(t[q + 1], t[q + 3], 0xee);
	}
#pragma GCC unroll 4
	for (size_t o = 0; o < 4; o++) {
		c[o] = _mm256_permute2f128_ps(u[o], u[o + 4], 0x20);
		c[o + 4] = _mm256_permute2f128_ps(u[o], u[o + 4], 0x31);
	}
}

/*
 * dcolt of one image at positions p..p+7: their dout rows, 8 filters at
 * a time, transposed in registers so that a register holds
 * one filter's gradient at 8 positions; K accumulators (one per tap)
 * take the filters in order.  Inlined with K = 9, the accumulators live
 * in registers.
 */
__attribute__((target("avx2,fma"), always_inline))
static inline void
dcol8_avx2(float *dcolt, const float *d, const float *wt,
    const struct hgq_conv_geom *g, size_t p, size_t K)
{
	size_t npos = g->OH * g->OW, OC = g->OC;
	__m256 acc[12], c[8];

#pragma GCC unroll 12
	for (size_t k = 0; k < 12; k++)
		acc[k] = _mm256_setzero_ps();
	for (size_t j = 0; j < OC; j += 8) {
		transpose8_avx2(c, d + p * OC + j, OC);
#pragma GCC unroll 8
		for (size_t o = 0; o < 8; o++) {
			__m256 t = c[o];
			const float *wo = wt + (j + o) * K;

#pragma GCC unroll 12
			for (size_t k = 0; k < K; k++)
				acc[k] = _mm256_fmadd_ps(t,
				    _mm256_broadcast_ss(wo + k), acc[k]);
		}
	}
#pragma GCC unroll 12
	for (size_t k = 0; k < K; k++)
		_mm256_storeu_ps(dcolt + k * npos + p, acc[k]);
}

/*
 * dcolt of one image, 8 positions at a time; the last 8 overlap the ones
 * before when npos is not a multiple of 8 (the same values again); fewer
 * than 8 go one by one.
 */
__attribute__((target("avx2,fma")))
static void
direct_dcol_avx2(float *restrict dcolt, const float *restrict d,
    const float *restrict wt, const struct hgq_conv_geom *g)
{
	size_t K = g->KH * g->KW, npos = g->OH * g->OW, OC = g->OC;

	if (npos < 8) {		/* one at a time, fused as the tiles */
		for (size_t p = 0; p < npos; p++)
			for (size_t k = 0; k < K; k++) {
				__m128 s = _mm_setzero_ps();

				for (size_t o = 0; o < OC; o++)
					s = _mm_fmadd_ss(_mm_set_ss(d[p * OC +
					    o]), _mm_set_ss(wt[o * K + k]), s);
				dcolt[k * npos + p] = _mm_cvtss_f32(s);
			}
		return;
	}
	for (size_t p8 = 0; p8 < npos; p8 += 8) {
		size_t p = p8 + 8 <= npos ? p8 : npos - 8;

		if (K == 9)
			dcol8_avx2(dcolt, d, wt, g, p, 9);
		else
			dcol8_avx2(dcolt, d, wt, g, p, K);
	}
}

/*
 * The gather, 8 neighbouring pixels of a row at a time where all KW taps
 * of each are real (columns KW-1 .. OW-1), the same additions in the
 * same order per pixel; the other columns by direct_gather_c.
 */
__attribute__((target("avx2,fma")))
static void
direct_gather_avx2(float *restrict x, const float *restrict dcolt,
    const struct hgq_conv_geom *g)
{
	size_t KW = g->KW, npos = g->OH * g->OW;
	size_t c0 = KW - 1, c1 = c0 + (g->OW + 1 - KW) / 8 * 8;

	for (size_t ih = 0; ih < g->H; ih++) {
		size_t h0 = ih >= g->OH ? ih - g->OH + 1 : 0;
		size_t h1 = ih + 1 < g->KH ? ih + 1 : g->KH;

		for (size_t iw = c0; iw < c1; iw += 8) {
			__m256 s = _mm256_setzero_ps();

			for (size_t kh = h0; kh < h1; kh++)
				for (size_t kw = 0; kw < KW; kw++)
					s = _mm256_add_ps(s, _mm256_loadu_ps(
					    dcolt + (kh * KW + kw) * npos +
					    (ih - kh) * g->OW + iw - kw));
			_mm256_storeu_ps(x + ih * g->W + iw, s);
		}
	}
	direct_gather_c(x, dcolt, g, c0, c1);
}
#endif

void
hgq_conv_direct_forward(float *restrict out, const float *restrict inp,
    const float *restrict w, const float *restrict bias,
    const struct hgq_conv_geom *g, size_t B, int relu)
{
#ifdef HAVE_AVX2_VARIANT
	if (hgq_kernel_isa_current() == HGQ_ISA_AVX2) {
		direct_forward_avx2(out, inp, w, bias, g, B, relu);
		return;
	}
#endif
	direct_forward_c(out, inp, w, bias, g, B, relu);
}

void
hgq_conv_direct_backward(float *restrict dinp, float *restrict dw,
    float *restrict db, float *restrict dcolt, const float *restrict dout,
    const float *restrict inp, const float *restrict wt,
    const struct hgq_conv_geom *g, size_t B)
{
	size_t npos = g->OH * g->OW, plane = g->H * g->W;
#ifdef HAVE_AVX2_VARIANT
	int avx2 = hgq_kernel_isa_current() == HGQ_ISA_AVX2;

	if (avx2)
		direct_dw_avx2(dw, db, dout, inp, g, B);
	else
#endif
		direct_dw_c(dw, db, dout, inp, g, B);
	for (size_t b = 0; dinp != NULL && b < B; b++) {
		const float *d = dout + b * npos * g->OC;
		float *x = dinp + b * plane;

#ifdef HAVE_AVX2_VARIANT
		if (avx2) {
			direct_dcol_avx2(dcolt, d, wt, g);
			direct_gather_avx2(x, dcolt, g);
			continue;
		}
#endif
		direct_dcol_c(dcolt, d, wt, g);
		direct_gather_c(x, dcolt, g, 0, 0);
	}
}

/*
 * The direct loops: out[b,oh,ow,:] = bias + sum over the taps (kh, kw)
 * inside the input, then c, of inp[b,ih,iw,c] * w[kh,kw,c,:].  The tap
 * order is im2col's, the inner loop runs along the OC outputs.
 */
void
hgq_conv_forward_ref(float *out, const float *inp, const float *w,
    const float *bias, const struct hgq_conv_geom *g, size_t B, int relu)
{
	size_t C = g->C, OC = g->OC, plane = g->H * g->W * C;

	for (size_t b = 0; b < B; b++) {
		const float *x = inp + b * plane;

		for (size_t oh = 0; oh < g->OH; oh++)
			for (size_t ow = 0; ow < g->OW; ow++) {
				float *o = out + ((b * g->OH + oh) * g->OW +
				    ow) * OC;

				for (size_t j = 0; j < OC; j++)
					o[j] = bias != NULL ? bias[j] : 0.0f;
				for (size_t kh = 0; kh < g->KH; kh++) {
					size_t ih = oh * g->SH + kh;

					if (ih < g->PT || ih - g->PT >= g->H)
						continue;
					ih -= g->PT;
					for (size_t kw = 0; kw < g->KW; kw++) {
						size_t iw = ow * g->SW + kw;
						const float *xi, *wk;

						if (iw < g->PL ||
						    iw - g->PL >= g->W)
							continue;
						iw -= g->PL;
						xi = x + (ih * g->W + iw) * C;
						wk = w + (kh * g->KW + kw) * C *
						    OC;
						for (size_t c = 0; c < C; c++) {
							float a = xi[c];
							const float *wc =
							    wk + c * OC;

							for (size_t j = 0;
							    j < OC; j++)
								o[j] += a *
								    wc[j];
						}
					}
				}
				if (relu)
					for (size_t j = 0; j < OC; j++)
						o[j] = o[j] > 0.0f ? o[j] :
						    0.0f;
			}
	}
}

/*
 * Backward, direct: dinp = 0, then per output position and real tap
 * dinp[b,ih,iw,c] += sum_o dout[b,oh,ow,o] * w[kh,kw,c,o] and
 * dw[kh,kw,c,o] += inp[b,ih,iw,c] * dout[b,oh,ow,o]; db[o] += dout.
 */
void
hgq_conv_backward_ref(float *dinp, float *dw, float *db, const float *dout,
    const float *inp, const float *w, const struct hgq_conv_geom *g,
    size_t B)
{
	size_t C = g->C, OC = g->OC, plane = g->H * g->W * C;

	if (dinp != NULL)
		memset(dinp, 0, B * plane * sizeof(*dinp));
	for (size_t b = 0; b < B; b++) {
		const float *x = inp + b * plane;
		float *dx = dinp != NULL ? dinp + b * plane : NULL;

		for (size_t oh = 0; oh < g->OH; oh++)
			for (size_t ow = 0; ow < g->OW; ow++) {
				const float *d = dout + ((b * g->OH + oh) *
				    g->OW + ow) * OC;

				if (db != NULL)
					for (size_t j = 0; j < OC; j++)
						db[j] += d[j];
				for (size_t kh = 0; kh < g->KH; kh++) {
					size_t ih = oh * g->SH + kh;

					if (ih < g->PT || ih - g->PT >= g->H)
						continue;
					ih -= g->PT;
					for (size_t kw = 0; kw < g->KW; kw++) {
						size_t iw = ow * g->SW + kw;
						size_t e, t;

						if (iw < g->PL ||
						    iw - g->PL >= g->W)
							continue;
						iw -= g->PL;
						e = (ih * g->W + iw) * C;
						t = (kh * g->KW + kw) * C;
						for (size_t c = 0; c < C; c++) {
							const float *wc = w +
							    (t + c) * OC;
							float *dwc = dw +
							    (t + c) * OC;
							float s = 0.0f;

							for (size_t j = 0;
							    j < OC; j++) {
								s += d[j] *
								    wc[j];
								dwc[j] += x[e +
								    c] * d[j];
							}
							if (dx != NULL)
								dx[e + c] += s;
						}
					}
				}
			}
	}
}

/* ------------------------------------------------------------------ */
/* Pooling                                                             */
/* ------------------------------------------------------------------ */

int
hgq_pool_geom_init(struct hgq_pool_geom *g, size_t H, size_t W, size_t C,
    size_t PH, size_t PW, size_t SH, size_t SW, struct hgq_err *err)
{
	memset(g, 0, sizeof(*g));
	if (SH == 0)
		SH = PH;
	if (SW == 0)
		SW = PW;
	if (H == 0 || W == 0 || C == 0 || PH == 0 || PW == 0)
		return hgq_errf(err, HGQ_EINVAL, "pooling: zero size (input "
		    "%zux%zux%zu, pool %zux%zu)", H, W, C, PH, PW);
	if (H > HGQ_CONV_MAX_ELEMS || W > HGQ_CONV_MAX_ELEMS ||
	    SH > HGQ_CONV_MAX_ELEMS || SW > HGQ_CONV_MAX_ELEMS ||
	    !prod4_ok(H, W, C, 1))
		return hgq_errf(err, HGQ_EINVAL, "pooling: input %zux%zux%zu "
		    "too large", H, W, C);
	if (PH > H || PW > W)
		return hgq_errf(err, HGQ_EINVAL, "pooling: pool %zux%zu "
		    "larger than its input %zux%zu", PH, PW, H, W);
	g->H = H;
	g->W = W;
	g->C = C;
	g->PH = PH;
	g->PW = PW;
	g->SH = SH;
	g->SW = SW;
	g->OH = (H - PH) / SH + 1;
	g->OW = (W - PW) / SW + 1;
	return HGQ_OK;
}

int
hgq_pool1d_geom_init(struct hgq_pool_geom *g, size_t W, size_t C, size_t P,
    size_t S, struct hgq_err *err)
{
	return hgq_pool_geom_init(g, 1, W, C, 1, P, 1, S, err);
}

/*
 * out[b,oh,ow,c] = max over the window of inp[b, oh*SH + ph, ow*SW + pw,
 * c]; the window is scanned row by row, channels innermost so that the
 * inner loop is contiguous.
 */
void
hgq_maxpool_forward(float *restrict out, const float *restrict inp,
    const struct hgq_pool_geom *g, size_t B)
{
	size_t C = g->C, plane = g->H * g->W * C;

	for (size_t b = 0; b < B; b++) {
		const float *x = inp + b * plane;

		for (size_t oh = 0; oh < g->OH; oh++)
			for (size_t ow = 0; ow < g->OW; ow++) {
				float *o = out + ((b * g->OH + oh) * g->OW +
				    ow) * C;
				const float *x0 = x + (oh * g->SH * g->W +
				    ow * g->SW) * C;

				for (size_t c = 0; c < C; c++)
					o[c] = x0[c];
				for (size_t ph = 0; ph < g->PH; ph++)
					for (size_t pw = 0; pw < g->PW; pw++) {
						const float *xi = x0 + (ph *
						    g->W + pw) * C;

						for (size_t c = 0; c < C; c++)
							o[c] = xi[c] > o[c] ?
							    xi[c] : o[c];
					}
			}
	}
}

/*
 * Each dout goes to the element that won the max: the first one in the
 * window's row-major order among the equal largest (found again from
 * inp, so no index buffer is kept); with relu, nothing where that max is
 * <= 0 (inp is a ReLU's output and its backward is fused here).
 *
 * Channels are innermost, 8 at a time with the running best in small
 * arrays; the block of 8 is a constant trip count (pool_window_bwd
 * inlined with nc = 8), so that the compiler vectorizes it, and the
 * selects are masks, not branches (the outcome is data, unpredictable).
 * With stride == pool the windows tile the input, so each element is
 * written once (the gradient or 0) and only the dropped remainder rows
 * and columns are cleared; overlapping windows (stride < pool) clear
 * dinp first and add.
 */

/* v where keep, else +0, without a branch */
static inline float
keepf(float v, int keep)
{
	uint32_t u;

	memcpy(&u, &v, sizeof(u));
	u &= -(uint32_t)(keep != 0);
	memcpy(&v, &u, sizeof(v));
	return v;
}

/* one window, channels [0, nc) (nc <= 8) from element e0 of the sample */
static inline __attribute__((always_inline)) void
pool_window_bwd(float *restrict dx, const float *restrict d,
    const float *restrict x, uint32_t e0, const struct hgq_pool_geom *g,
    size_t nc, int relu, int tiled)
{
	float bv[8];
	uint32_t be[8];
	uint32_t W = (uint32_t)g->W, C = (uint32_t)g->C;

	for (size_t c = 0; c < nc; c++) {
		bv[c] = x[e0 + c];
		be[c] = e0 + (uint32_t)c;
	}
	for (uint32_t ph = 0; ph < g->PH; ph++)
		for (uint32_t pw = 0; pw < g->PW; pw++) {
			uint32_t e = e0 + (ph * W + pw) * C;

			for (size_t c = 0; c < nc; c++) {
				float v = x[e + c];
				uint32_t m = -(uint32_t)(v > bv[c]);

				be[c] ^= (be[c] ^ (e + (uint32_t)c)) & m;
				bv[c] = v > bv[c] ? v : bv[c];
			}
			if (tiled)
				for (size_t c = 0; c < nc; c++)
					dx[e + c] = 0.0f;
		}
	for (size_t c = 0; c < nc; c++) {
		float v = keepf(d[c], !relu || bv[c] > 0.0f);

		if (tiled)
			dx[be[c]] = v;
		else
			dx[be[c]] += v;
	}
}

void
hgq_maxpool_backward(float *restrict dinp, const float *restrict dout,
    const float *restrict inp, const struct hgq_pool_geom *g, size_t B,
    int relu)
{
	size_t C = g->C, W = g->W, plane = g->H * W * C;
	int tiled = g->SH == g->PH && g->SW == g->PW;

	if (!tiled)
		memset(dinp, 0, B * plane * sizeof(*dinp));
	for (size_t b = 0; b < B; b++) {
		const float *x = inp + b * plane;
		float *dx = dinp + b * plane;

		if (tiled) {
			/* the rows below the last window, then the columns
			   right of it */
			size_t h1 = g->OH * g->PH, w1 = g->OW * g->PW;

			memset(dx + h1 * W * C, 0, (g->H - h1) * W * C *
			    sizeof(*dx));
			if (w1 < W)
				for (size_t h = 0; h < h1; h++)
					memset(dx + (h * W + w1) * C, 0,
					    (W - w1) * C * sizeof(*dx));
		}
		for (size_t oh = 0; oh < g->OH; oh++)
		for (size_t ow = 0; ow < g->OW; ow++) {
			const float *d = dout + ((b * g->OH + oh) * g->OW +
			    ow) * C;
			/* < HGQ_CONV_MAX_ELEMS: fits 32 bits */
			uint32_t e0 = (uint32_t)((oh * g->SH * W + ow *
			    g->SW) * C);
			size_t c = 0;

			for (; c + 8 <= C; c += 8)
				pool_window_bwd(dx, d + c, x, e0 + (uint32_t)c,
				    g, 8, relu, tiled);
			if (c < C)
				pool_window_bwd(dx, d + c, x, e0 + (uint32_t)c,
				    g, C - c, relu, tiled);
		}
	}
}

/*
 * The trainer's pair: the forward keeps, per output element, the offset
 * in its sample of the element that won (the first largest in the
 * window's row-major order, as hgq_maxpool_backward finds it again), and
 * the backward only scatters dout there, after clearing dinp.  The
 * forward runs 8 channels at a time with the running best in small
 * arrays (a constant trip count, vectorized; the selects are masks).
 */
static inline __attribute__((always_inline)) void
pool_window_arg(float *restrict o, uint32_t *restrict arg,
    const float *restrict x, uint32_t e0, const struct hgq_pool_geom *g,
    size_t nc)
{
	float bv[8];
	uint32_t be[8];
	uint32_t W = (uint32_t)g->W, C = (uint32_t)g->C;

	for (size_t c = 0; c < nc; c++) {
		bv[c] = x[e0 + c];
		be[c] = e0 + (uint32_t)c;
	}
	for (uint32_t ph = 0; ph < g->PH; ph++)
		for (uint32_t pw = 0; pw < g->PW; pw++) {
			uint32_t e = e0 + (ph * W + pw) * C;

			for (size_t c = 0; c < nc; c++) {
				float v = x[e + c];
				uint32_t m = -(uint32_t)(v > bv[c]);

				be[c] ^= (be[c] ^ (e + (uint32_t)c)) & m;
				bv[c] = v > bv[c] ? v : bv[c];
			}
		}
	for (size_t c = 0; c < nc; c++) {
		o[c] = bv[c];
		arg[c] = be[c];
	}
}

#ifdef HAVE_AVX2_VARIANT
/*
 * Channels c..c+7 of the window at element e0, the running best and its
 * element in two registers: v > best (false for a NaN) takes v and its
 * element, as pool_window_arg's selects do, so the same winners.
 */
__attribute__((target("avx2,fma")))
static inline void
pool_window_arg_avx2(float *o, uint32_t *arg, const float *x, uint32_t e0,
    const struct hgq_pool_geom *g)
{
	const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	__m256 bv = _mm256_loadu_ps(x + e0);
	__m256 be = _mm256_castsi256_ps(_mm256_add_epi32(
	    _mm256_set1_epi32((int)e0), iota));
	uint32_t W = (uint32_t)g->W, C = (uint32_t)g->C;

	for (uint32_t ph = 0; ph < g->PH; ph++)
		for (uint32_t pw = 0; pw < g->PW; pw++) {
			uint32_t e = e0 + (ph * W + pw) * C;
			__m256 v = _mm256_loadu_ps(x + e);
			__m256 m = _mm256_cmp_ps(v, bv, _CMP_GT_OQ);
			__m256 ev = _mm256_castsi256_ps(_mm256_add_epi32(
			    _mm256_set1_epi32((int)e), iota));

			be = _mm256_blendv_ps(be, ev, m);
			bv = _mm256_blendv_ps(bv, v, m);
		}
	_mm256_storeu_ps(o, bv);
	_mm256_storeu_si256((__m256i *)arg, _mm256_castps_si256(be));
}

#endif

/*
 * The windows of hgq_maxpool_forward_arg in order, 8 channels at a time
 * (with AVX2 when avx2, a constant where this is inlined), the rest of
 * the channels one by one.
 */
static inline __attribute__((always_inline)) void
maxpool_walk(float *restrict out, uint32_t *restrict arg,
    const float *restrict inp, const struct hgq_pool_geom *g, size_t B,
    int avx2)
{
	size_t C = g->C, W = g->W, plane = g->H * W * C;

	for (size_t b = 0; b < B; b++) {
		const float *x = inp + b * plane;

		for (size_t oh = 0; oh < g->OH; oh++)
		for (size_t ow = 0; ow < g->OW; ow++) {
			size_t p = ((b * g->OH + oh) * g->OW + ow) * C, c = 0;
			/* < HGQ_CONV_MAX_ELEMS: fits 32 bits */
			uint32_t e0 = (uint32_t)((oh * g->SH * W + ow *
			    g->SW) * C);

			for (; c + 8 <= C; c += 8) {
#ifdef HAVE_AVX2_VARIANT
				if (avx2) {
					pool_window_arg_avx2(out + p + c,
					    arg + p + c, x, e0 + (uint32_t)c,
					    g);
					continue;
				}
#endif
				pool_window_arg(out + p + c, arg + p + c, x,
				    e0 + (uint32_t)c, g, 8);
			}
			if (c < C)
				pool_window_arg(out + p + c, arg + p + c, x,
				    e0 + (uint32_t)c, g, C - c);
		}
	}
	(void)avx2;
}

#ifdef HAVE_AVX2_VARIANT
__attribute__((target("avx2,fma")))
static void
maxpool_forward_arg_avx2(float *restrict out, uint32_t *restrict arg,
    const float *restrict inp, const struct hgq_pool_geom *g, size_t B)
{
	maxpool_walk(out, arg, inp, g, B, 1);
}
#endif

void
hgq_maxpool_forward_arg(float *restrict out, uint32_t *restrict arg,
    const float *restrict inp, const struct hgq_pool_geom *g, size_t B)
{
#ifdef HAVE_AVX2_VARIANT
	if (hgq_kernel_isa_current() == HGQ_ISA_AVX2) {
		maxpool_forward_arg_avx2(out, arg, inp, g, B);
		return;
	}
#endif
	maxpool_walk(out, arg, inp, g, B, 0);
}

void
hgq_maxpool_backward_arg(float *restrict dinp, const float *restrict dout,
    const uint32_t *restrict arg, const struct hgq_pool_geom *g, size_t B)
{
	size_t plane = g->H * g->W * g->C, no = g->OH * g->OW * g->C;

	memset(dinp, 0, B * plane * sizeof(*dinp));
	for (size_t b = 0; b < B; b++) {
		float *dx = dinp + b * plane;
		const float *d = dout + b * no;
		const uint32_t *a = arg + b * no;

		for (size_t j = 0; j < no; j++)
			dx[a[j]] += d[j];
	}
}

/* out = the mean of the window: its sum (row-major) times 1/(PH*PW) */
void
hgq_avgpool_forward(float *restrict out, const float *restrict inp,
    const struct hgq_pool_geom *g, size_t B)
{
	size_t C = g->C, plane = g->H * g->W * C;
	float inv = 1.0f / (float)(g->PH * g->PW);

	for (size_t b = 0; b < B; b++) {
		const float *x = inp + b * plane;

		for (size_t oh = 0; oh < g->OH; oh++)
			for (size_t ow = 0; ow < g->OW; ow++) {
				float *o = out + ((b * g->OH + oh) * g->OW +
				    ow) * C;
				const float *x0 = x + (oh * g->SH * g->W +
				    ow * g->SW) * C;

				for (size_t c = 0; c < C; c++)
					o[c] = 0.0f;
				for (size_t ph = 0; ph < g->PH; ph++)
					for (size_t pw = 0; pw < g->PW; pw++) {
						const float *xi = x0 + (ph *
						    g->W + pw) * C;

						for (size_t c = 0; c < C; c++)
							o[c] += xi[c];
					}
				for (size_t c = 0; c < C; c++)
					o[c] *= inv;
			}
	}
}

/* dinp = 0, then every element of a window += dout / (PH*PW) */
void
hgq_avgpool_backward(float *restrict dinp, const float *restrict dout,
    const struct hgq_pool_geom *g, size_t B)
{
	size_t C = g->C, plane = g->H * g->W * C;
	float inv = 1.0f / (float)(g->PH * g->PW);

	memset(dinp, 0, B * plane * sizeof(*dinp));
	for (size_t b = 0; b < B; b++) {
		float *dx = dinp + b * plane;

		for (size_t oh = 0; oh < g->OH; oh++)
			for (size_t ow = 0; ow < g->OW; ow++) {
				const float *d = dout + ((b * g->OH + oh) *
				    g->OW + ow) * C;
				float *d0 = dx + (oh * g->SH * g->W +
				    ow * g->SW) * C;

				for (size_t ph = 0; ph < g->PH; ph++)
					for (size_t pw = 0; pw < g->PW; pw++) {
						float *di = d0 + (ph * g->W +
						    pw) * C;

						for (size_t c = 0; c < C; c++)
							di[c] += d[c] * inv;
					}
			}
	}
}

/* ------------------------------------------------------------------ */
/* EBOPs                                                               */
/* ------------------------------------------------------------------ */

/*
 * Differentiable EBOPs of a convolution, fully parallel: every output
 * position (oh, ow) and every real tap (kh, kw, c) is one multiplication
 * per filter o, costing abits[ih,iw,c] * wbits[kh,kw,c,o]:
 *
 *   EBOPs = sum_{kh,kw,c} A[kh,kw,c] * S[kh,kw,c]
 *   S[kh,kw,c] = sum_o wbits[kh,kw,c,o]
 *   A[kh,kw,c] = sum_{oh in R_h(kh)} sum_{ow in R_w(kw)}
 *                    abits[oh*SH + kh - PT, ow*SW + kw - PL, c]
 *
 * An (input element, weight) pair meets n_h(ih,kh) * n_w(iw,kw) output
 * positions (0 or 1 each): the count factorizes per axis, so the output
 * positions where a tap reads real input (not padding) are a product of
 * two ranges R_h(kh) x R_w(kw) (tap_range), and A is a sum over that
 * rectangle.  The gradients are those of hgq_ebops_dense pair by pair:
 *
 *   dfw[kh,kw,c,o] += beta * A[kh,kw,c]          where wbits > 0
 *   dfa[ih,iw,c]   += beta * S[kh,kw,c]  per tap meeting it, where
 *                                                 abits[ih,iw,c] > 0
 *
 * A and S are summed in double (exact for integer bit maps).
 */
double
hgq_ebops_conv(float *restrict dfa, float *restrict dfw,
    const float *restrict abits, const float *restrict wbits,
    const struct hgq_conv_geom *g, float beta)
{
	size_t C = g->C, OC = g->OC;
	double total = 0.0;

	for (size_t kh = 0; kh < g->KH; kh++) {
		size_t h0, h1;

		tap_range(g->H, g->OH, g->SH, g->PT, kh, &h0, &h1);
		for (size_t kw = 0; kw < g->KW; kw++) {
			size_t w0, w1;

			tap_range(g->W, g->OW, g->SW, g->PL, kw, &w0, &w1);
			for (size_t c = 0; c < C; c++) {
				size_t t = ((kh * g->KW + kw) * C + c) * OC;
				const float *wb = wbits + t;
				double A = 0.0, S = 0.0;

				for (size_t o = 0; o < OC; o++)
					S += wb[o];
				for (size_t oh = h0; oh < h1; oh++) {
					size_t ih = oh * g->SH + kh - g->PT;

					for (size_t ow = w0; ow < w1; ow++) {
						size_t iw = ow * g->SW + kw -
						    g->PL;
						size_t e = (ih * g->W + iw) *
						    C + c;

						A += abits[e];
						if (dfa != NULL &&
						    abits[e] > 0.0f)
							dfa[e] += beta *
							    (float)S;
					}
				}
				total += A * S;
				if (dfw != NULL)
					for (size_t o = 0; o < OC; o++)
						if (wb[o] > 0.0f)
							dfw[t + o] += beta *
							    (float)A;
			}
		}
	}
	return total;
}
