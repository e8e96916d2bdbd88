/*
 * sim.c - bit-exact integer inference of a calibrated model (what the
 * FPGA computes), and the calibration that gives every activation element
 * its exact integer bits and sign.
 *
 * A dense layer computes y_j = sum_i a_i * w_ij + b_j exactly.  a_i is a
 * mantissa at f_a[i], w_ij at w_f[ij]; output j accumulates at the
 * position F_j of its finest term (or its quantizer's f when finer),
 * every weight is shifted once, at preparation, to W'_ij = w_ij *
 * 2^(F_j - f_a[i] - w_f[ij]), and the exact range of every output
 * (hgq_dense_range over the input ranges, carried from the first
 * quantizer's formats by hgq_ival_quant, as the IR has them) decides
 * whether int32 (fast path) or int64 (wide paths) holds the sums; an
 * output whose range reaches 2^62 is refused with HGQ_ERANGE.  The next
 * quantizer then maps the accumulator from F_j to its format through the
 * prepared hgq_qop (quant.c).
 *
 * Convolutions, pooling and flatten (formats/hgqm.md 4.3.2) are the
 * other operations between two quantizers: a convolution is the dense
 * layer of each output position over its receptive field, computed as a
 * GEMV per position against weights aligned once per filter (see "Convo-
 * lutions" below); pooling aligns each window to its finest exponent;
 * flatten is the identity on the element order.
 *
 * A graph of format 1.2 (several inputs and outputs, add, subtract,
 * concatenate, lookup tables) runs the same operations step by step,
 * every quantizer's values kept until the sample ends; sums align their
 * inputs to a common fraction and tables are computed once per element
 * (see "Graphs" below).  Chains keep their own path, unchanged.
 *
 * Where the exact ranges prove that a PATH_32 layer's inputs and aligned
 * weights are int16 numbers, its sums are taken over pairs of 16-bit
 * products (struct mac16, "16-bit products" below): vpdpwssd with
 * AVX-512 VNNI or vpmaddwd with AVX2, chosen at preparation
 * (hgq_kernel_isa, hgq_sim_paths), a plain-C twin otherwise.  A chain of
 * such dense layers whose quantizers are exact in int32 runs a tile of
 * samples per layer step (see "The tiled path" below).
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#define CHUNK		256	/* samples per block of work */
#define TILE		4	/* samples per step of the tiled path */
#define MAX_THREADS	64	/* jobs of the engine and of calibration */

/*
 * How a layer accumulates: PATH_32 when every output's exact range fits
 * int32; PATH_MID when the inputs and the aligned weights fit int32 but
 * the sums need int64 (the products widen, which vectorises); PATH_64
 * otherwise.  The sums are taken modulo 2^32 or 2^64 (unsigned, so that
 * no C overflow occurs): a partial sum may leave the range on the way,
 * a weight may wrap when it is aligned, and the result is still exact,
 * because the true sum lies in the range that the type holds.
 */
enum { PATH_32, PATH_MID, PATH_64 };

/*
 * The fast paths that the engines created from now on may take (where
 * the ranges and the CPU allow); the tests turn them off to compare with
 * the per-sample, AVX2 or plain-C paths.
 */
static int sim_paths = HGQ_SIM_TILES | HGQ_SIM_AVX512;

int
hgq_sim_paths(int paths)
{
	int old = sim_paths;

	sim_paths = paths;
	return old;
}

/*
 * Sums of 16-bit products (see "16-bit products" below): n_pair pairs of
 * int16 inputs against w16[((k * n_blk + b) * 8 + jj) * 2 + h], the
 * weight of input half h of pair k for output b * 8 + jj, the outputs in
 * n_blk blocks of 8, started at the biases b32 (stride = n_blk * 8).
 */
struct mac16 {
	uint32_t	 n_pair, n_blk;
	size_t		 stride;
	int16_t		*w16;
	const int32_t	*b32;		/* the layer's (not owned) */
	uint32_t	*pid;		/* n_pair: 0, 2, 4, ... (inputs in a
					   row) */
	int		 avx2;		/* the AVX2 variant */
	int		 avx512;	/* with AVX-512 VNNI */
};

static void mac16_tile_c(const struct mac16 *g, const int16_t *const *src,
    const uint32_t *off, uint32_t np, uint32_t *restrict ob);
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) static void mac16_tile_avx2(
    const struct mac16 *g, const int16_t *const *src, const uint32_t *off,
    uint32_t np, uint32_t *restrict ob);
__attribute__((target("avx2,avx512f,avx512vnni"))) static void
    mac16_tile_avx512(const struct mac16 *g, const int16_t *const *src,
    const uint32_t *off, uint32_t np, uint32_t *restrict ob);
#endif

/* mac16_init - room for g's weights (zero) and pair offsets */
static int
mac16_init(struct mac16 *g, uint32_t n_pair, size_t stride,
    const int32_t *b32)
{
	g->n_pair = n_pair;
	g->n_blk = (uint32_t)(stride / 8);
	g->stride = stride;
	g->b32 = b32;
	if ((g->w16 = hgq_calloc((size_t)n_pair * g->n_blk * 16,
	    sizeof(int16_t))) == NULL || (g->pid = hgq_calloc(n_pair,
	    sizeof(uint32_t))) == NULL)
		return HGQ_ENOMEM;
	for (uint32_t k = 0; k < n_pair; k++)
		g->pid[k] = 2 * k;
	g->avx2 = g->avx512 = 0;
#if defined(__x86_64__) && defined(__GNUC__)
	g->avx2 = hgq_kernel_isa_current() == HGQ_ISA_AVX2;
	__builtin_cpu_init();
	g->avx512 = g->avx2 && (sim_paths & HGQ_SIM_AVX512) &&
	    __builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512vnni");
#endif
	return HGQ_OK;
}

/* the weight of half h of pair k for output co */
static int16_t *
mac16_at(struct mac16 *g, uint32_t k, uint32_t h, uint32_t co)
{
	return &g->w16[(((size_t)k * g->n_blk + co / 8) * 8 + co % 8) * 2 + h];
}

static void
mac16_release(struct mac16 *g)
{
	free(g->w16);
	free(g->pid);
	memset(g, 0, sizeof(*g));
}

/*
 * mac16_run - the sums of np positions (1 or 4) of g: position q reads
 * its pairs at src[q] + off[k]; ob[q * stride + co] gets the sum of
 * output co modulo 2^32
 */
static inline __attribute__((always_inline)) void
mac16_run(const struct mac16 *g, const int16_t *const *src,
    const uint32_t *off, uint32_t np, uint32_t *restrict ob)
{
#if defined(__x86_64__) && defined(__GNUC__)
	if (g->avx512) {
		mac16_tile_avx512(g, src, off, np, ob);
		return;
	}
	if (g->avx2) {
		mac16_tile_avx2(g, src, off, np, ob);
		return;
	}
#endif
	mac16_tile_c(g, src, off, np, ob);
}

/* one dense layer prepared for integer accumulation */
struct dense_prep {
	uint32_t	 n_in, n_out;
	int		 relu;
	int		 path;		/* PATH_32, PATH_MID or PATH_64 */
	size_t		 stride;	/* n_out rounded up to 8 */
	int32_t		*F;		/* n_out: fraction of each output's
					   accumulator */
	int32_t		*w32;		/* n_in*stride aligned weights, or */
	int32_t		*b32;		/* stride biases (int32 path) */
	int64_t		*w64;
	int64_t		*bias;		/* n_out aligned biases */
	int		 k16;		/* PATH_32 with 16-bit products */
	struct mac16	 g;		/* their weights, inputs in pairs */
};

static void
dense_release(struct dense_prep *d)
{
	free(d->F);
	free(d->w32);
	free(d->b32);
	free(d->w64);
	free(d->bias);
	mac16_release(&d->g);
	memset(d, 0, sizeof(*d));
}

/* the ranges of quantizer q's elements (hgq_fmt_range), at 2^-f */
static void
fmt_ivals(const struct hgq_layer *q, struct hgq_ival *x)
{
	for (uint32_t j = 0; j < q->n_out; j++) {
		hgq_fmt_range(q->k[j], q->i[j], q->f[j], q->overflow,
		    &x[j].lo, &x[j].hi);
		x[j].e = -q->f[j];
	}
}

/*
 * m * 2^s modulo 2^64 (s >= -ctz(m), so that it is an integer); *exact
 * tells whether the true value fits int32
 */
static int64_t
align(int64_t m, int64_t s, bool *fits32)
{
	int c;

	*fits32 = m == 0;
	if (m == 0)
		return 0;
	c = __builtin_ctzll((uint64_t)m);
	m /= (int64_t)1 << c;		/* odd */
	s += c;				/* >= 0 */
	if (s >= 64)
		return 0;		/* a multiple of 2^64 */
	*fits32 = s <= 31 && m >= (INT32_MIN >> s) && m <= (INT32_MAX >> s);
	return (int64_t)((uint64_t)m << s);
}

/*
 * dense_prepare - align dense layer dl (index li in the model) whose
 * input element i ranges over x[i] (hgq_ival, at 2^-f of its quantizer)
 * and whose outputs go to quantizer qo.  Output j accumulates at the
 * fraction F_j of its finest term (hgq_dense_range), or at qo's f when
 * that is finer, so that the quantizer only ever shifts right; a
 * zero-width output is not refined to its f (it gives 0 anyway, and its
 * rounded value is non-zero exactly when the sum is).  With calib, qo's
 * widths are not known yet and every output counts as live.  xnext, when
 * not NULL, gets the range of each output after ReLU and qo.
 */
static int
dense_prepare(struct dense_prep *d, const struct hgq_ival *x,
    const struct hgq_layer *dl, const struct hgq_layer *qo, int calib,
    struct hgq_ival *xnext, uint32_t li, struct hgq_err *err)
{
	uint32_t ni = dl->n_in, no = dl->n_out;
	size_t nw = (size_t)ni * no;
	bool fits32 = true, mid = true, f32, in16 = true, w16 = true;

	memset(d, 0, sizeof(*d));
	d->n_in = ni;
	d->n_out = no;
	d->relu = dl->act == HGQ_ACT_RELU;
	if ((d->F = calloc((size_t)no + 1, sizeof(int32_t))) == NULL ||
	    (d->bias = calloc((size_t)no + 8, sizeof(int64_t))) == NULL ||
	    (d->w64 = calloc(nw ? nw : 1, sizeof(int64_t))) == NULL)
		goto nomem;
	for (uint32_t i = 0; i < ni; i++) {
		mid &= x[i].lo >= INT32_MIN && x[i].hi <= INT32_MAX;
		in16 &= x[i].lo >= INT16_MIN && x[i].hi <= INT16_MAX;
	}
	for (uint32_t j = 0; j < no; j++) {
		bool live = calib || hgq_fmt_width(qo->k[j], qo->i[j],
		    qo->f[j]) > 0;
		struct hgq_ival y;
		int F;

		if (hgq_dense_range(&y, dl, j, x, 1) != HGQ_OK) {
			if (live)
				goto range;
			/* a dead output whose sum is out of reach: its
			   column stays 0, its quantizer gives 0 */
			d->F[j] = qo->f[j];
			if (xnext != NULL)
				memset(&xnext[j], 0, sizeof(xnext[j]));
			continue;
		}
		F = -y.e;
		if (live && qo->f[j] > F) {
			F = qo->f[j];
			if (hgq_ival_rescale(&y, -F) != HGQ_OK)
				goto range;
		}
		y.e = -F;
		d->F[j] = F;
		fits32 &= y.lo >= INT32_MIN && y.hi <= INT32_MAX;
		for (uint32_t i = 0; i < ni; i++) {
			size_t at = (size_t)i * no + j;

			if (x[i].lo == 0 && x[i].hi == 0)
				continue;	/* a pruned input adds 0 */
			d->w64[at] = align(dl->w_m[at], (int64_t)x[i].e -
			    dl->w_f[at] + F, &f32);
			mid &= f32;
			w16 &= f32 && d->w64[at] >= INT16_MIN &&
			    d->w64[at] <= INT16_MAX;
		}
		d->bias[j] = align(dl->b_m[j], (int64_t)F - dl->b_f[j], &f32);
		mid &= f32;
		if (xnext != NULL)
			hgq_ival_quant(&xnext[j], &y, d->relu, qo->k[j],
			    qo->i[j], qo->f[j], qo->round, qo->overflow);
	}
	d->path = fits32 ? PATH_32 : mid ? PATH_MID : PATH_64;
	if (d->path != PATH_64) {
		/* weights as int32 (PATH_32: modulo 2^32): padded rows
		   for the blocked kernels */
		d->stride = ((size_t)no + 7) & ~(size_t)7;
		if ((d->w32 = calloc(ni * d->stride + 8, sizeof(int32_t)))
		    == NULL || (d->b32 = calloc(d->stride, sizeof(int32_t)))
		    == NULL)
			goto nomem;
		for (uint32_t i = 0; i < ni; i++)
			for (uint32_t j = 0; j < no; j++)
				d->w32[i * d->stride + j] = (int32_t)(uint32_t)
				    d->w64[(size_t)i * no + j];
		for (uint32_t j = 0; j < no; j++)
			d->b32[j] = (int32_t)(uint32_t)d->bias[j];
		if (d->path == PATH_32 && in16 && w16) {
			/* inputs and weights are int16 numbers: pairs of
			   inputs 2k, 2k + 1 (the last one alone) */
			if (mac16_init(&d->g, (ni + 1) / 2, d->stride, d->b32)
			    != HGQ_OK)
				goto nomem;
			for (uint32_t i = 0; i < ni; i++)
				for (uint32_t j = 0; j < no; j++)
					*mac16_at(&d->g, i / 2, i % 2, j) =
					    (int16_t)d->w64[(size_t)i * no + j];
			d->k16 = 1;
		}
		free(d->w64);
		d->w64 = NULL;
	}
	return HGQ_OK;
range:
	dense_release(d);
	return hgq_errf(err, HGQ_ERANGE, "layer %u: the accumulator would "
	    "need more than 62 bits (weights or activations too wide)", li);
nomem:
	dense_release(d);
	return hgq_errf(err, HGQ_ENOMEM, "out of memory");
}

/*
 * dense_acc32 - one sample, int32 path: acc (n_out, padded to a multiple
 * of 8) = bias + sum_i a_i * W'_i.  The outputs go in blocks of 8 whose
 * accumulators stay in registers across the whole sum (the weight rows
 * are padded to the block, so the inner loop has a constant trip count
 * and becomes one vector multiply-add); no branch on the data.
 * It is inlined into the per-sample loops (run_range, cal_job_main),
 * which target_clones compiles twice, with AVX2 and without, the version
 * chosen when the program loads: the whole sample's work then runs in
 * one function, without calls between the layers and the quantizers.
 */
static inline __attribute__((always_inline)) void
dense_acc32(const struct dense_prep *d, const int64_t *restrict a,
    int32_t *restrict acc)
{
	size_t stride = d->stride;

	for (size_t j0 = 0; j0 < stride; j0 += 8) {
		uint32_t blk[8];

		for (int jj = 0; jj < 8; jj++)
			blk[jj] = (uint32_t)d->b32[j0 + jj];
		for (uint32_t i = 0; i < d->n_in; i++) {
			const int32_t *restrict row = d->w32 + i * stride + j0;
			uint32_t ai = (uint32_t)a[i];

			for (int jj = 0; jj < 8; jj++)
				blk[jj] += ai * (uint32_t)row[jj];
		}
		for (int jj = 0; jj < 8; jj++)
			acc[j0 + jj] = (int32_t)blk[jj];
	}
}

/*
 * dense_accmid - one sample, PATH_MID: as dense_acc32, but the products
 * of int32 inputs and weights are widened and summed in int64.
 */
static inline __attribute__((always_inline)) void
dense_accmid(const struct dense_prep *d, const int64_t *restrict a,
    int64_t *restrict acc)
{
	size_t stride = d->stride;

	for (size_t j0 = 0; j0 < stride; j0 += 8) {
		uint64_t blk[8];

		for (int jj = 0; jj < 8; jj++)
			blk[jj] = (uint64_t)d->bias[j0 + jj];
		for (uint32_t i = 0; i < d->n_in; i++) {
			const int32_t *restrict row = d->w32 + i * stride + j0;
			int64_t ai = (int32_t)a[i];

			/* |ai * row| < 2^62: exact in int64 */
			for (int jj = 0; jj < 8; jj++)
				blk[jj] += (uint64_t)(ai * row[jj]);
		}
		for (int jj = 0; jj < 8; jj++)
			acc[j0 + jj] = (int64_t)blk[jj];
	}
}

/* one sample, int64 path: acc (n_out) = bias + sum_i a_i * W'_i */
static void
dense_acc64(const struct dense_prep *d, const int64_t *restrict a,
    int64_t *restrict acc)
{
	uint32_t no = d->n_out;
	uint64_t *restrict u = (uint64_t *)acc;

	for (uint32_t j = 0; j < no; j++)
		u[j] = (uint64_t)d->bias[j];
	for (uint32_t i = 0; i < d->n_in; i++) {
		const int64_t *restrict row = d->w64 + (size_t)i * no;
		uint64_t ai = (uint64_t)a[i];

		if (ai == 0)
			continue;
		for (uint32_t j = 0; j < no; j++)
			u[j] += ai * (uint64_t)row[j];
	}
}

/*
 * dense_quant - one sample through dense layer d and the quantizer ops
 * qo that follow it: dst (n_out) gets the output mantissas; overflows
 * are added to *count.  acc and tmp32 are scratch of n_out (padded).
 * The ReLU-and-quantize loop is written out for the int32 and the int64
 * accumulators: fused with the read of the accumulator it runs the whole
 * simulation twice as fast as going through dense_forward's int64 copy
 * (bench_sim, 16-64-32-32-5: 1.0 vs 2.0 million samples/s per thread).
 */
static inline __attribute__((always_inline)) void
dense_quant(const struct dense_prep *d, const struct hgq_qop *qo,
    const int64_t *a, int64_t *dst, int64_t *acc, int32_t *tmp32,
    int16_t *al16, uint64_t *count)
{
	uint64_t c = 0;

	if (d->path == PATH_32) {
		if (d->k16) {
			const int16_t *src = al16;

			/* the inputs are int16 numbers (their ranges) */
			for (uint32_t i = 0; i < d->n_in; i++)
				al16[i] = (int16_t)a[i];
			al16[d->n_in] = 0;	/* the odd one's partner */
			mac16_run(&d->g, &src, d->g.pid, 1,
			    (uint32_t *)tmp32);
		} else {
			dense_acc32(d, a, tmp32);
		}
		for (uint32_t j = 0; j < d->n_out; j++) {
			int64_t v = tmp32[j], r, q;

			if (d->relu && v < 0)
				v = 0;
			r = hgq_qop_round(&qo[j], v);
			q = hgq_qop_overflow(&qo[j], r);
			c += q != r;
			dst[j] = q;
		}
	} else {
		if (d->path == PATH_MID)
			dense_accmid(d, a, acc);
		else
			dense_acc64(d, a, acc);
		for (uint32_t j = 0; j < d->n_out; j++) {
			int64_t v = acc[j], r, q;

			if (d->relu && v < 0)
				v = 0;
			r = hgq_qop_round(&qo[j], v);
			q = hgq_qop_overflow(&qo[j], r);
			c += q != r;
			dst[j] = q;
		}
	}
	*count += c;
}


/* ---------------------------------------------------------------- */
/* Convolutions                                                      */
/* ---------------------------------------------------------------- */

/*
 * A convolution is a dense layer per output position over the taps of
 * its receptive field (hgq_layer_window), with weights shared between
 * the positions.  To share the aligned weights as well, every input
 * element is aligned once per sample to the finest exponent E of the
 * layer's inputs (a'_i = a_i * 2^(e_i - E)), and filter co accumulates
 * at one fraction F_co for all positions: F_co is the finest position
 * any of its terms (weight lowest set bit, times an input at E) or its
 * bias can reach, so every term is an integer there, and the weights are
 * aligned once to W'_t,co = w * 2^(E - w_f + F_co).  The sums are taken
 * modulo 2^32 (PATH_32, when the exact range of every output element,
 * hgq_dense_range over the intervals of its taps, fits int32 at F_co) or
 * modulo 2^64 (PATH_64): the aligned inputs and weights may wrap, the
 * sums are exact all the same because the true sum lies in the range
 * that the type holds.  Each position is then a GEMV of its taps (read
 * in place through tap offsets when the window lies inside the input,
 * gathered with zeros otherwise) against the weight rows, vectorised over
 * the filters in blocks of 8.
 */
struct conv_prep {
	struct hgq_window w;
	int		 relu;
	int		 path;		/* PATH_32 or PATH_64 */
	size_t		 stride;	/* out_c rounded up to 8 */
	uint64_t	*amul;		/* n_in: 2^(e_i - E) modulo 2^64 */
	uint32_t	*toff;		/* n_taps: tap offsets, window inside */
	uint32_t	*tid;		/* n_taps: 0, 1, ... (gathered taps) */
	uint8_t		*inner;		/* n_pos: 1 when the window is inside */
	int32_t		*F;		/* out_c: accumulator fraction */
	int32_t		*w32, *b32;	/* n_taps*stride, stride (PATH_32) */
	int64_t		*w64, *b64;	/* n_taps*stride, stride (PATH_64) */
	uint8_t		*inner4;	/* n_pos: windows p..p+3 inside */
	uint32_t	*base;		/* n_pos: where a window inside starts
					   (no division per position) */
	int		 amul01;	/* every amul is 0 or 1 */
	/* the 16-bit form of PATH_32 (see "16-bit products" below) */
	int		 k16;		/* in use */
	struct mac16	 g;		/* the tap pairs' weights */
	uint32_t	*poff;		/* n_pair: offsets, window inside */
};

/*
 * The quantizer ops of a PATH_32 convolution in int32, as arrays over
 * [n_pos][stride] (the padding lanes give q == r), when every output's
 * exact range proves that the int32 arithmetic below is exact: the
 * rounding add cannot overflow, the shifted value and the format's range
 * fit int32.  Then a block of 8 outputs is quantized in 8 lanes.
 */
struct q32 {
	int32_t		*add, *lo, *hi, *wrapm;
	uint32_t	*rsh, *lsh, *mask, *sbit;
	/*
	 * Each array's step from one position to the next: stride, or 0
	 * when the array is the same at every position (then only its
	 * first row is read).  The parts a lane does not use are made
	 * equal first (a saturating lane's mask and sign bit, a wrapping
	 * lane's bounds), so that in a layer of one overflow mode whose
	 * shifts depend on the filter only, the bounds (SAT) or the masks
	 * (WRAP) are all that is read per position: the whole table of a
	 * 26x26x8 layer was 173 kB per sample, beyond the first-level
	 * cache, and its reads cost more than the products.
	 */
	size_t		 s_add, s_lo, s_hi, s_wrapm;
	size_t		 s_rsh, s_lsh, s_mask, s_sbit;
	int		 mode;		/* Q32_MIXED, Q32_SAT or Q32_WRAP:
					   every lane saturates or wraps */
};

enum { Q32_MIXED, Q32_SAT, Q32_WRAP };

/*
 * Pooling: output element j = p*C + c reads the taps of channel c of
 * window p.  Each output aligns its taps to the finest exponent E_j of
 * its window (sh, one left shift per output and tap; the ranges prove
 * that the aligned values stay below 2^62), then takes the largest or
 * the sum; an average's sum is at E_j - log2(area).
 */
struct pool_prep {
	struct hgq_window w;
	int		 avg;
	uint32_t	 n_win;		/* k_h*k_w */
	uint32_t	*toff;		/* n_win: offset of each window tap */
	uint8_t		*sh;		/* n_out*n_win left shifts */
	int		 shifted;	/* some shift is not 0 */
};

/*
 * 8 lanes of uint32 (GCC and Clang vector extension): the convolution's
 * GEMV writes its blocks of 8 filters with it, so that the compiler keeps
 * the accumulators in registers (one AVX2 register, or two SSE ones)
 * instead of vectorising the tap loop the wrong way round
 */
typedef uint32_t u32x8 __attribute__((vector_size(32)));
typedef int64_t i64x4 __attribute__((vector_size(32)));	/* max-pool */
typedef int32_t i32x8 __attribute__((vector_size(32)));	/* q32_block */
typedef int32_t i32x4 __attribute__((vector_size(16)));
typedef uint64_t u64x4 __attribute__((vector_size(32)));
typedef double f64x4 __attribute__((vector_size(32)));	/* input_quant4 */
typedef int16_t i16x4 __attribute__((vector_size(8)));	/* tile_run */

/* one operation, the layer between two quantizers, prepared */
struct op_prep {
	uint32_t	 kind;		/* enum hgq_layer_kind */
	uint32_t	 n_in, n_out;
	int32_t		*from;		/* n_out: fraction of each output
					   before its quantizer */
	struct dense_prep d;
	struct conv_prep c;
	struct pool_prep p;
	struct q32	*fq;		/* conv: int32 quantizer ops, or NULL */
	int		 ident;		/* pooling, flatten: the quantizer is
					   the identity on every value that
					   reaches it */
};

static void
op_release(struct op_prep *o)
{
	dense_release(&o->d);
	free(o->from);
	free(o->c.amul);
	free(o->c.toff);
	free(o->c.tid);
	free(o->c.inner);
	free(o->c.F);
	free(o->c.w32);
	free(o->c.b32);
	free(o->c.w64);
	free(o->c.b64);
	free(o->p.toff);
	free(o->p.sh);
	free(o->c.inner4);
	free(o->c.base);
	mac16_release(&o->c.g);
	free(o->c.poff);
	if (o->fq != NULL)
		free(o->fq->add);
	free(o->fq);
	memset(o, 0, sizeof(*o));
}

/* the lowest set bit of m * 2^e (m != 0) as an exponent */
static int64_t
lsb_exp(int64_t m, int64_t e)
{
	return e + __builtin_ctzll((uint64_t)m);
}

/*
 * 16-bit products.  When every aligned input a'_i = a_i * 2^(e_i - E)
 * (over its exact range x[i]) and every aligned weight of a PATH_32
 * convolution are int16 numbers - their true values, not their residues
 * -, each product is exact in int32, and two of them are summed modulo
 * 2^32 by one multiply-add of 16-bit pairs (pmaddwd with AVX2: 16
 * products per instruction against 8 for the 32-bit multiply, which
 * also costs two micro-operations; its one overflow, 2 * (-2^15)^2,
 * wraps to the right residue).  The sums stay modulo 2^32 and exact, as
 * in PATH_32.  The taps are taken in pairs along the rows of the window:
 * row kh holds the k_w * in_c taps (kw, ch) side by side in the input,
 * so the row is cut into pairs of neighbours, an odd row gets one more
 * tap of weight 0 (it reads the element after the row, which the
 * scratch always holds, and adds 0).  Weights are laid out pair by pair,
 * then per block of 8 filters, the two taps of a filter side by side
 * (struct mac16).  A dense layer pairs its inputs 2k and 2k + 1.
 */

/* do the aligned inputs of convolution c (ranges x, exponent E) fit int16? */
static bool
inputs16(const struct conv_prep *c, const struct hgq_ival *x, int64_t E,
    uint32_t n_in)
{
	for (uint32_t i = 0; i < n_in; i++) {
		int64_t s = x[i].e - E;

		if (c->amul[i] == 0)
			continue;	/* always 0 */
		if (s > 15 || x[i].lo < (INT16_MIN >> s) ||
		    x[i].hi > (INT16_MAX >> s))
			return false;
	}
	return true;
}

/* conv_prepare16 - the pair layout of PATH_32 convolution c (w64 set) */
static int
conv_prepare16(struct conv_prep *c, struct hgq_err *err)
{
	const struct hgq_window *w = &c->w;
	uint32_t R = w->k_w * w->in_c, R2 = R + (R & 1);

	if (mac16_init(&c->g, w->k_h * R2 / 2, c->stride, c->b32) != HGQ_OK ||
	    (c->poff = hgq_calloc(c->g.n_pair, sizeof(uint32_t))) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	for (uint32_t k = 0; k < c->g.n_pair; k++) {
		uint32_t row = 2 * k / R2, m0 = 2 * k % R2;

		c->poff[k] = row * w->in_w * w->in_c + m0;
		for (uint32_t h = 0; h < 2; h++) {
			uint32_t t = row * R + m0 + h;

			if (m0 + h >= R)
				continue;	/* the tap of weight 0 */
			for (uint32_t co = 0; co < w->out_c; co++)
				*mac16_at(&c->g, k, h, co) = (int16_t)
				    c->w64[(size_t)t * c->stride + co];
		}
	}
	c->k16 = 1;
	return HGQ_OK;
}

/*
 * conv_prepare - the convolution at layer li (window w) whose input
 * element i ranges over x[i]; y (n_out) gets the exact range of every
 * output element before ReLU, at exponent -from[j], and reach[j] = 0
 * where that range reaches 2^62.  The caller decides what to refuse.
 */
static int
conv_prepare(struct op_prep *o, const struct hgq_model *m, uint32_t li,
    const struct hgq_ival *x, struct hgq_ival *y, uint8_t *reach,
    struct hgq_err *err)
{
	const struct hgq_layer *cl = &m->layers[li];
	struct conv_prep *c = &o->c;
	struct hgq_window *w = &c->w;
	struct hgq_layer lowered;
	struct hgq_ival *xt = NULL;
	uint32_t *idx = NULL, nt, oc, n_in = o->n_in;
	int64_t E = INT64_MAX;
	bool fits32 = true, f32, w16 = true;
	int rc;

	if ((rc = hgq_layer_window(m, li, w, err)) != HGQ_OK)
		return rc;
	nt = w->n_taps;
	oc = w->out_c;
	c->relu = cl->act == HGQ_ACT_RELU;
	c->stride = ((size_t)oc + 7) & ~(size_t)7;
	if ((c->amul = hgq_calloc(n_in, sizeof(uint64_t))) == NULL ||
	    (c->toff = hgq_calloc(nt, sizeof(uint32_t))) == NULL ||
	    (c->tid = hgq_calloc(nt, sizeof(uint32_t))) == NULL ||
	    (c->inner = hgq_calloc(w->n_pos, 1)) == NULL ||
	    (c->F = hgq_calloc(oc, sizeof(int32_t))) == NULL ||
	    (c->w64 = hgq_calloc(nt * c->stride, sizeof(int64_t))) == NULL ||
	    (c->b64 = hgq_calloc(c->stride, sizeof(int64_t))) == NULL ||
	    (xt = hgq_calloc(nt, sizeof(*xt))) == NULL ||
	    (idx = hgq_calloc(nt, sizeof(uint32_t))) == NULL)
		goto nomem;

	/* one exponent for every input that can be non-zero */
	for (uint32_t i = 0; i < n_in; i++)
		if ((x[i].lo != 0 || x[i].hi != 0) && x[i].e < E)
			E = x[i].e;
	if (E == INT64_MAX)
		E = 0;
	for (uint32_t i = 0; i < n_in; i++) {
		int64_t s = x[i].e - E;

		c->amul[i] = (x[i].lo == 0 && x[i].hi == 0) || s >= 64 ? 0 :
		    (uint64_t)1 << s;
	}
	/* the taps of a window inside the input, and which windows are */
	for (uint32_t kh = 0, t = 0; kh < w->k_h; kh++)
		for (uint32_t kw = 0; kw < w->k_w; kw++)
			for (uint32_t ch = 0; ch < w->in_c; ch++, t++) {
				c->toff[t] = (kh * w->in_w + kw) * w->in_c + ch;
				c->tid[t] = t;
			}
	for (uint32_t p = 0; p < w->n_pos; p++) {
		uint64_t oh = p / w->out_w, ow = p % w->out_w;

		c->inner[p] = oh * w->s_h >= w->pad_top &&
		    ow * w->s_w >= w->pad_left &&
		    oh * w->s_h + w->k_h - w->pad_top <= w->in_h &&
		    ow * w->s_w + w->k_w - w->pad_left <= w->in_w;
	}
	if ((c->inner4 = hgq_calloc(w->n_pos, 1)) == NULL ||
	    (c->base = hgq_calloc(w->n_pos, sizeof(uint32_t))) == NULL)
		goto nomem;
	for (uint32_t p = 0; p < w->n_pos; p++) {
		uint32_t oh = p / w->out_w, ow = p % w->out_w;

		if (c->inner[p])
			c->base[p] = ((oh * w->s_h - w->pad_top) * w->in_w +
			    ow * w->s_w - w->pad_left) * w->in_c;
	}
	for (uint32_t p = 0; p + 3 < w->n_pos; p++)
		c->inner4[p] = c->inner[p] && c->inner[p + 1] &&
		    c->inner[p + 2] && c->inner[p + 3];
	c->amul01 = 1;
	for (uint32_t i = 0; i < n_in; i++)
		c->amul01 &= c->amul[i] <= 1;

	/* each filter's accumulator fraction */
	for (uint32_t co = 0; co < oc; co++) {
		int64_t F = INT64_MIN;

		for (uint32_t t = 0; t < nt; t++) {
			int32_t wm = cl->w_m[(size_t)t * oc + co];

			if (wm != 0 && -lsb_exp(wm, E - cl->w_f[(size_t)t *
			    oc + co]) > F)
				F = -lsb_exp(wm, E - cl->w_f[(size_t)t * oc +
				    co]);
		}
		if (cl->b_m[co] != 0 && -lsb_exp(cl->b_m[co], -cl->b_f[co]) > F)
			F = -lsb_exp(cl->b_m[co], -cl->b_f[co]);
		if (F == INT64_MIN)
			F = 0;
		if (F > 4 * HGQ_MAX_IF || F < -4 * HGQ_MAX_IF)
			goto range;
		c->F[co] = (int32_t)F;
	}

	/* the exact range of every output element (the lowering) */
	lowered = *cl;
	lowered.n_in = nt;
	lowered.n_out = oc;
	for (uint32_t p = 0; p < w->n_pos; p++) {
		hgq_window_taps(w, p, idx);
		for (uint32_t t = 0; t < nt; t++) {
			if (idx[t] == HGQ_TAP_PAD)
				memset(&xt[t], 0, sizeof(xt[t]));
			else
				xt[t] = x[idx[t]];
		}
		for (uint32_t co = 0; co < oc; co++) {
			size_t j = (size_t)p * oc + co;

			o->from[j] = c->F[co];
			reach[j] = hgq_dense_range(&y[j], &lowered, co, xt, 1)
			    == HGQ_OK && hgq_ival_rescale(&y[j], -c->F[co]) ==
			    HGQ_OK;
			if (!reach[j]) {
				memset(&y[j], 0, sizeof(y[j]));
				y[j].e = -c->F[co];
				continue;
			}
			fits32 &= y[j].lo >= INT32_MIN && y[j].hi <= INT32_MAX;
		}
	}
	c->path = fits32 ? PATH_32 : PATH_64;

	/* the aligned weights and biases, modulo 2^64 (the int32 path
	   keeps their low halves: the same numbers modulo 2^32) */
	for (uint32_t t = 0; t < nt; t++)
		for (uint32_t co = 0; co < oc; co++) {
			size_t at = (size_t)t * oc + co;
			int64_t v = align(cl->w_m[at], E - cl->w_f[at] +
			    c->F[co], &f32);

			c->w64[t * c->stride + co] = v;
			w16 &= f32 && v >= INT16_MIN && v <= INT16_MAX;
		}
	for (uint32_t co = 0; co < oc; co++)
		c->b64[co] = align(cl->b_m[co], (int64_t)c->F[co] -
		    cl->b_f[co], &f32);
	if (c->path == PATH_32) {
		if ((c->w32 = hgq_calloc(nt * c->stride + 8, sizeof(int32_t)))
		    == NULL || (c->b32 = hgq_calloc(c->stride,
		    sizeof(int32_t))) == NULL)
			goto nomem;
		for (size_t a = 0; a < nt * c->stride; a++)
			c->w32[a] = (int32_t)(uint32_t)c->w64[a];
		for (size_t co = 0; co < c->stride; co++)
			c->b32[co] = (int32_t)(uint32_t)c->b64[co];
		if (w16 && inputs16(c, x, E, n_in) &&
		    (rc = conv_prepare16(c, err)) != HGQ_OK)
			goto fail;
		free(c->w64);
		free(c->b64);
		c->w64 = c->b64 = NULL;
	}
	free(xt);
	free(idx);
	return HGQ_OK;
fail:
	free(xt);
	free(idx);
	return rc;
range:
	free(xt);
	free(idx);
	return hgq_errf(err, HGQ_ERANGE, "layer %u: the weights' and the "
	    "inputs' fractional bits are too far apart", li);
nomem:
	free(xt);
	free(idx);
	return hgq_errf(err, HGQ_ENOMEM, "out of memory");
}

/* pool_prepare - as conv_prepare, for max-pool and avg-pool layer li */
static int
pool_prepare(struct op_prep *o, const struct hgq_model *m, uint32_t li,
    const struct hgq_ival *x, struct hgq_ival *y, uint8_t *reach,
    struct hgq_err *err)
{
	struct pool_prep *pp = &o->p;
	struct hgq_window *w = &pp->w;
	uint32_t *idx = NULL, s = 0;
	int rc;

	if ((rc = hgq_layer_window(m, li, w, err)) != HGQ_OK)
		return rc;
	pp->avg = m->layers[li].kind == HGQ_LAYER_AVGPOOL;
	pp->n_win = w->k_h * w->k_w;
	while (((uint32_t)1 << s) < pp->n_win)
		s++;
	if ((pp->toff = hgq_calloc(pp->n_win, sizeof(uint32_t))) == NULL ||
	    (pp->sh = hgq_calloc((size_t)o->n_out * pp->n_win, 1)) == NULL ||
	    (idx = hgq_calloc(w->n_taps, sizeof(uint32_t))) == NULL) {
		free(idx);
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	}
	for (uint32_t kh = 0, t = 0; kh < w->k_h; kh++)
		for (uint32_t kw = 0; kw < w->k_w; kw++, t++)
			pp->toff[t] = (kh * w->in_w + kw) * w->in_c;
	for (uint32_t p = 0; p < w->n_pos; p++) {
		hgq_window_taps(w, p, idx);
		for (uint32_t ch = 0; ch < w->in_c; ch++) {
			size_t j = (size_t)p * w->in_c + ch;
			int64_t E = INT64_MAX;
			__int128 lo = 0, hi = 0;
			bool first = true;

			/* tap t of channel ch is idx[t * in_c + ch] */
			for (uint32_t t = 0; t < pp->n_win; t++) {
				const struct hgq_ival *v = &x[idx[t * w->in_c +
				    ch]];

				if ((v->lo != 0 || v->hi != 0) && v->e < E)
					E = v->e;
			}
			if (E == INT64_MAX)
				E = 0;
			reach[j] = 1;
			for (uint32_t t = 0; t < pp->n_win; t++) {
				struct hgq_ival v = x[idx[t * w->in_c + ch]];

				if (v.lo == 0 && v.hi == 0) {
					v.e = (int32_t)E;
				} else if (hgq_ival_rescale(&v, (int32_t)E) !=
				    HGQ_OK) {
					reach[j] = 0;
					break;
				}
				pp->sh[j * pp->n_win + t] = (uint8_t)(v.lo == 0
				    && v.hi == 0 ? 0 : x[idx[t * w->in_c +
				    ch]].e - E);
				pp->shifted |= pp->sh[j * pp->n_win + t] != 0;
				if (pp->avg) {
					lo += v.lo;
					hi += v.hi;
				} else {
					lo = first || v.lo > lo ? v.lo : lo;
					hi = first || v.hi > hi ? v.hi : hi;
				}
				first = false;
			}
			/* n_win <= 2^26 terms below 2^62 each */
			if (lo <= -HGQ_IVAL_LIMIT || hi >= HGQ_IVAL_LIMIT)
				reach[j] = 0;
			if (!reach[j]) {
				memset(&y[j], 0, sizeof(y[j]));
				memset(&pp->sh[j * pp->n_win], 0, pp->n_win);
				lo = hi = 0;
			}
			y[j].lo = (int64_t)lo;
			y[j].hi = (int64_t)hi;
			y[j].e = (int32_t)(E - (pp->avg ? s : 0));
			o->from[j] = -y[j].e;
		}
	}
	free(idx);
	return HGQ_OK;
}

/* the step of q32 array v (n, rows of stride): 0 when all rows agree */
static size_t
q32_step(const int32_t *v, size_t n, size_t stride)
{
	for (size_t a = stride; a < n; a++)
		if (v[a] != v[a % stride])
			return stride;
	return 0;
}

/*
 * op_fast - the fast forms of operation o's quantizer ops qops, where the
 * exact ranges y (before ReLU; reach as op_prepare) prove them exact:
 * struct q32 for a PATH_32 convolution or dense layer (the tiled path
 * reads it), ident for pooling and flatten.  Either may stay off; the
 * general path is exact.
 */
static int
op_fast(struct op_prep *o, const struct hgq_qop *qops,
    const struct hgq_ival *y, const uint8_t *reach, int relu,
    struct hgq_err *err)
{
	struct q32 *fq;
	size_t n, stride;
	int32_t *mem;
	uint32_t oc;
	bool dense = o->kind == HGQ_LAYER_DENSE;

	if (o->kind == HGQ_LAYER_MAXPOOL || o->kind == HGQ_LAYER_AVGPOOL ||
	    o->kind == HGQ_LAYER_FLATTEN) {
		o->ident = 1;
		for (uint32_t j = 0; j < o->n_out && o->ident; j++)
			o->ident = reach[j] && qops[j].rshift == 0 &&
			    qops[j].lshift == 0 && y[j].lo >= qops[j].lo &&
			    y[j].hi <= qops[j].hi;
		return HGQ_OK;
	}
	if (dense ? o->d.path != PATH_32 : (o->kind != HGQ_LAYER_CONV1D &&
	    o->kind != HGQ_LAYER_CONV2D) || o->c.path != PATH_32)
		return HGQ_OK;
	for (uint32_t j = 0; j < o->n_out; j++) {
		const struct hgq_qop *q = &qops[j];
		struct hgq_ival t = y[j];
		int64_t lo, hi, rlo, rhi;

		/* a dense layer's y is at its own exponent, the
		   accumulator may be finer (dense_prepare) */
		if (!reach[j] || hgq_ival_rescale(&t, -o->from[j]) != HGQ_OK)
			return HGQ_OK;
		lo = t.lo;
		hi = t.hi;
		if (relu) {
			lo = lo < 0 ? 0 : lo;
			hi = hi < 0 ? 0 : hi;
		}
		if (q->rshift > 31 || q->lshift > 31 ||
		    q->lo < INT32_MIN || q->hi > INT32_MAX ||
		    lo + q->add < INT32_MIN || hi + q->add > INT32_MAX)
			return HGQ_OK;
		rlo = (lo + q->add) >> q->rshift;
		rhi = (hi + q->add) >> q->rshift;
		if (rlo < (INT32_MIN >> q->lshift) ||
		    rhi > (INT32_MAX >> q->lshift))
			return HGQ_OK;
	}
	/* a dense layer is a convolution of one position */
	oc = dense ? o->n_out : o->c.w.out_c;
	stride = dense ? o->d.stride : o->c.stride;
	n = dense ? stride : (size_t)o->c.w.n_pos * stride;
	if ((fq = calloc(1, sizeof(*fq))) == NULL ||
	    (mem = hgq_calloc(8 * n, sizeof(int32_t))) == NULL) {
		free(fq);
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	}
	fq->add = mem;
	fq->lo = mem + n;
	fq->hi = mem + 2 * n;
	fq->wrapm = mem + 3 * n;
	fq->rsh = (uint32_t *)(mem + 4 * n);
	fq->lsh = (uint32_t *)(mem + 5 * n);
	fq->mask = (uint32_t *)(mem + 6 * n);
	fq->sbit = (uint32_t *)(mem + 7 * n);
	for (size_t a = 0; a < n; a++) {
		size_t p = a / stride, co = a % stride;
		const struct hgq_qop *q = &qops[p * oc + co];

		if (co >= oc) {
			/* a padding lane: q == r, saturating or wrapping */
			fq->lo[a] = INT32_MIN;
			fq->hi[a] = INT32_MAX;
			fq->mask[a] = UINT32_MAX;
			continue;
		}
		fq->add[a] = (int32_t)q->add;
		fq->lo[a] = q->wrap ? INT32_MIN : (int32_t)q->lo;
		fq->hi[a] = q->wrap ? INT32_MAX : (int32_t)q->hi;
		fq->wrapm[a] = q->wrap ? -1 : 0;
		fq->rsh[a] = q->rshift;
		fq->lsh[a] = q->lshift;
		fq->mask[a] = q->wrap ? (uint32_t)q->mask : 0;
		fq->sbit[a] = q->wrap ? (uint32_t)q->sbit : 0;
	}
	fq->mode = Q32_MIXED;
	if (q32_step(fq->wrapm, n, stride) == 0) {
		bool sat = true, wrap = true;

		for (size_t a = 0; a < stride; a++) {
			sat &= fq->wrapm[a] == 0;
			wrap &= fq->wrapm[a] == -1 || a % stride >= oc;
		}
		fq->mode = sat ? Q32_SAT : wrap ? Q32_WRAP : Q32_MIXED;
	}
	fq->s_add = q32_step(fq->add, n, stride);
	fq->s_lo = q32_step(fq->lo, n, stride);
	fq->s_hi = q32_step(fq->hi, n, stride);
	fq->s_wrapm = q32_step(fq->wrapm, n, stride);
	fq->s_rsh = q32_step((int32_t *)fq->rsh, n, stride);
	fq->s_lsh = q32_step((int32_t *)fq->lsh, n, stride);
	fq->s_mask = q32_step((int32_t *)fq->mask, n, stride);
	fq->s_sbit = q32_step((int32_t *)fq->sbit, n, stride);
	o->fq = fq;
	return HGQ_OK;
}

/*
 * qops_set - the quantizer ops qops (n) of quantizer qo after operation
 * li whose output j is at fraction from[j] with exact range y[j] (before
 * ReLU when relu; reach[j] = 0 where it reaches 2^62).  With calib, qo's
 * widths are not known yet: every output counts as live and the ops only
 * round (to f, saturating at 2^61).  xnext, when not NULL, gets the range
 * of every output after ReLU and qo.  HGQ_ERANGE when a live output is
 * out of reach (at from or at qo's f).
 */
static int
qops_set(const struct hgq_layer *qo, uint32_t n, const int32_t *from,
    const struct hgq_ival *y, const uint8_t *reach, int relu, int calib,
    struct hgq_qop *qops, struct hgq_ival *xnext, uint32_t li,
    struct hgq_err *err)
{
	for (uint32_t j = 0; j < n; j++) {
		int f = qo->f[j];
		bool live = calib || hgq_fmt_width(qo->k[j], qo->i[j], f) > 0;
		struct hgq_ival t = y[j];

		if (live && (!reach[j] || (f > from[j] &&
		    hgq_ival_rescale(&t, -f) != HGQ_OK)))
			return hgq_errf(err, HGQ_ERANGE, "layer %u element %u:"
			    " the exact sum would need more than 62 bits "
			    "(weights or activations too wide)", li, j);
		if (calib) {
			hgq_qop_init(&qops[j], from[j], 1, 61 - f, f,
			    qo->round, HGQ_SAT);
			continue;
		}
		/* a zero-width output left coarser than its f rounds to
		   its own fraction only: 0 all the same, and non-zero
		   before overflow exactly when the sum is */
		if (!live && f > from[j])
			f = from[j];
		hgq_qop_init(&qops[j], from[j], qo->k[j], qo->i[j], f,
		    qo->round, qo->overflow);
		if (xnext == NULL)
			continue;
		if (reach[j])
			hgq_ival_quant(&xnext[j], &y[j], relu, qo->k[j],
			    qo->i[j], qo->f[j], qo->round, qo->overflow);
		else
			xnext[j] = (struct hgq_ival){ 0, 0, -qo->f[j] };
	}
	return HGQ_OK;
}

/*
 * op_prepare - prepare layer li (an operation) of m whose input element
 * i ranges over x[i], followed by quantizer qo, and give the quantizer
 * ops qops (n_out).  With calib, qo's widths are not known yet: every
 * output counts as live and qops only round (to f, saturating at 2^61:
 * calibration's view).  xnext, when not NULL, gets the range of every
 * output after ReLU and qo.  HGQ_ERANGE when a live output's exact
 * range reaches 2^62 (at its accumulator or at qo's f).
 */
static int
op_prepare(struct op_prep *o, const struct hgq_model *m, uint32_t li,
    const struct hgq_ival *x, const struct hgq_layer *qo, int calib,
    struct hgq_qop *qops, struct hgq_ival *xnext, struct hgq_err *err)
{
	const struct hgq_layer *L = &m->layers[li];
	struct hgq_ival *y = NULL;
	uint8_t *reach = NULL;
	int relu = 0, rc = HGQ_OK;

	memset(o, 0, sizeof(*o));
	o->kind = L->kind;
	o->n_in = L->n_in;
	o->n_out = L->n_out;
	if ((o->from = hgq_calloc(o->n_out, sizeof(int32_t))) == NULL ||
	    (y = hgq_calloc(o->n_out, sizeof(*y))) == NULL ||
	    (reach = hgq_calloc(o->n_out, 1)) == NULL) {
		rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		goto out;
	}
	switch (L->kind) {
	case HGQ_LAYER_DENSE:
		/* dense_prepare proves and refines its own ranges */
		rc = dense_prepare(&o->d, x, L, qo, calib, NULL, li, err);
		if (rc != HGQ_OK)
			goto out;
		relu = o->d.relu;
		for (uint32_t j = 0; j < o->n_out; j++) {
			o->from[j] = o->d.F[j];
			reach[j] = hgq_dense_range(&y[j], L, j, x, 1) ==
			    HGQ_OK;
		}
		break;
	case HGQ_LAYER_CONV1D:
	case HGQ_LAYER_CONV2D:
		rc = conv_prepare(o, m, li, x, y, reach, err);
		relu = o->c.relu;
		break;
	case HGQ_LAYER_MAXPOOL:
	case HGQ_LAYER_AVGPOOL:
		rc = pool_prepare(o, m, li, x, y, reach, err);
		break;
	case HGQ_LAYER_FLATTEN:
		for (uint32_t j = 0; j < o->n_out; j++) {
			y[j] = x[j];
			o->from[j] = -x[j].e;
			reach[j] = 1;
		}
		break;
	default:
		rc = hgq_errf(err, HGQ_EUNSUPP, "layer %u (%s): not supported "
		    "by the engine", li, hgq_layer_kind_name(L->kind));
	}
	if (rc == HGQ_OK)
		rc = qops_set(qo, o->n_out, o->from, y, reach, relu, calib,
		    qops, xnext, li, err);
	if (rc == HGQ_OK)
		rc = op_fast(o, qops, y, reach, relu, err);
out:
	if (rc != HGQ_OK)
		op_release(o);
	free(y);
	free(reach);
	return rc;
}

/* ---------------------------------------------------------------- */
/* Running the operations                                            */
/* ---------------------------------------------------------------- */

/* ReLU (when asked), quantizer op q, overflow count: one element */
static inline __attribute__((always_inline)) int64_t
quant_one(const struct hgq_qop *q, int64_t v, int relu, uint64_t *c)
{
	int64_t r, s;

	if (relu && v < 0)
		v = 0;
	r = hgq_qop_round(q, v);
	s = hgq_qop_overflow(q, r);
	*c += s != r;
	return s;
}

/* the quantizer ops of 8 lanes of a struct q32, in registers */
struct q32v {
	i32x8		 add, lo, hi, wrapm;
	u32x8		 rsh, lsh, mask, sbit;
};

/* q32_load - lanes j0..j0+7 of fq at position p (what mode reads) */
static inline __attribute__((always_inline)) void
q32_load(const struct q32 *restrict fq, size_t p, size_t j0, const int mode,
    struct q32v *k)
{
	memcpy(&k->add, fq->add + p * fq->s_add + j0, sizeof(k->add));
	memcpy(&k->rsh, fq->rsh + p * fq->s_rsh + j0, sizeof(k->rsh));
	memcpy(&k->lsh, fq->lsh + p * fq->s_lsh + j0, sizeof(k->lsh));
	if (mode != Q32_WRAP) {
		memcpy(&k->lo, fq->lo + p * fq->s_lo + j0, sizeof(k->lo));
		memcpy(&k->hi, fq->hi + p * fq->s_hi + j0, sizeof(k->hi));
	}
	if (mode != Q32_SAT) {
		memcpy(&k->mask, fq->mask + p * fq->s_mask + j0,
		    sizeof(k->mask));
		memcpy(&k->sbit, fq->sbit + p * fq->s_sbit + j0,
		    sizeof(k->sbit));
	}
	if (mode == Q32_MIXED)
		memcpy(&k->wrapm, fq->wrapm + p * fq->s_wrapm + j0,
		    sizeof(k->wrapm));
}

/*
 * q32_apply - the quantizer ops k on the 8 int32 accumulators *vp, in
 * place (ReLU first when relu), counting overflows per lane in *cnt: the
 * ops of hgq_qop in int32, branch-free, written with vector types (the
 * compiler's own vectorisation of the lane loop failed in some copies)
 */
static inline __attribute__((always_inline)) void
q32_apply(const struct q32v *k, i32x8 *vp, int relu, const int mode,
    u32x8 *cnt)
{
	i32x8 v = *vp, r, t, w, q, m;

	if (relu)
		v &= v > 0;
	/* v + add cannot overflow and the shifts are below 32 (op_fast);
	   >> of a negative is arithmetic (see hgq_qop_round) */
	r = (i32x8)((u32x8)((v + k->add) >> (i32x8)k->rsh) << k->lsh);
	t = w = r;
	if (mode != Q32_WRAP) {
		m = r < k->lo;
		t = (k->lo & m) | (r & ~m);
		m = t > k->hi;
		t = (k->hi & m) | (t & ~m);
	}
	if (mode != Q32_SAT)
		w = (i32x8)((((u32x8)r & k->mask) ^ k->sbit) - k->sbit);
	/* mode is a constant where this is inlined: a layer of one
	   overflow mode does only its half */
	if (mode == Q32_SAT)
		q = t;
	else if (mode == Q32_WRAP)
		q = w;
	else
		q = (w & k->wrapm) | (t & ~k->wrapm);
	*cnt -= (u32x8)(q != r);	/* -1 where they differ */
	*vp = q;
}

/*
 * q32_block - quantize the 8 int32 accumulators blk of position p, lanes
 * j0..j0+7 of fq (ReLU first when relu) into *out, counting overflows
 * per lane in lc (summed once per layer: a sum across the lanes for
 * every block cost more than the quantization)
 */
static inline __attribute__((always_inline)) void
q32_block(const struct q32 *restrict fq, size_t p, size_t j0,
    const uint32_t *blk, int relu, const int mode, i32x8 *out,
    uint32_t *restrict lc)
{
	struct q32v k;
	i32x8 v;
	u32x8 cnt;

	q32_load(fq, p, j0, mode, &k);
	memcpy(&v, blk, sizeof(v));
	memcpy(&cnt, lc, sizeof(cnt));
	q32_apply(&k, &v, relu, mode, &cnt);
	*out = v;
	memcpy(lc, &cnt, sizeof(cnt));
}

/* the output block (position p, filters j0..j0+7) of a PATH_32 conv */
static inline __attribute__((always_inline)) void
conv_emit32(const struct conv_prep *c, const struct q32 *fq,
    const struct hgq_qop *qo, uint32_t p, size_t j0, const uint32_t *blk,
    int64_t *restrict dst, uint64_t *cnt, uint32_t *lc)
{
	uint32_t oc = c->w.out_c, n = oc - j0 < 8 ? oc - (uint32_t)j0 : 8;
	int64_t *d = dst + (size_t)p * oc + j0;

	if (fq != NULL) {
		i32x8 q;
		i32x4 h[2];
		i64x4 q64[2];

		if (fq->mode == Q32_SAT)
			q32_block(fq, p, j0, blk, c->relu, Q32_SAT, &q, lc);
		else if (fq->mode == Q32_WRAP)
			q32_block(fq, p, j0, blk, c->relu, Q32_WRAP, &q, lc);
		else
			q32_block(fq, p, j0, blk, c->relu, Q32_MIXED, &q, lc);
		/* widened half by half (a 64-byte vector went through the
		   stack) */
		memcpy(h, &q, sizeof(q));
		q64[0] = __builtin_convertvector(h[0], i64x4);
		q64[1] = __builtin_convertvector(h[1], i64x4);
		if (n == 8) {
			memcpy(d, &q64, sizeof(q64));
		} else {
			int64_t t[8];

			memcpy(t, &q64, sizeof(q64));
			for (uint32_t jj = 0; jj < n; jj++)
				d[jj] = t[jj];
		}
		return;
	}
	for (uint32_t jj = 0; jj < n; jj++)
		d[jj] = quant_one(&qo[(size_t)p * oc + j0 + jj],
		    (int32_t)blk[jj], c->relu, cnt);
}

/* mac16_tile_c - mac16_run in plain C, the twin of mac16_tile_avx2 */
static void
mac16_tile_c(const struct mac16 *g, const int16_t *const *src,
    const uint32_t *off, uint32_t np, uint32_t *restrict ob)
{
	uint32_t nb = g->n_blk;

	for (uint32_t q = 0; q < np; q++)
		for (uint32_t b = 0; b < nb; b++) {
			uint32_t blk[8];

			for (int jj = 0; jj < 8; jj++)
				blk[jj] = (uint32_t)g->b32[b * 8 + jj];
			for (uint32_t k = 0; k < g->n_pair; k++) {
				const int16_t *x = src[q] + off[k];
				const int16_t *wk = g->w16 + ((size_t)k * nb +
				    b) * 16;

				/* each product |.| <= 2^30: exact in int */
				for (int jj = 0; jj < 8; jj++)
					blk[jj] += (uint32_t)(x[0] *
					    wk[2 * jj]) + (uint32_t)(x[1] *
					    wk[2 * jj + 1]);
			}
			memcpy(ob + q * g->stride + b * 8, blk, sizeof(blk));
		}
}

#if defined(__x86_64__) && defined(__GNUC__)
/*
 * tile16_avx2 - NP positions by NB blocks of 8 outputs from block b: the
 * NP * NB accumulators stay in registers over all pairs; per pair, NB
 * weight loads serve NP broadcast input pairs (vpmaddwd, vpaddd)
 */
static inline __attribute__((always_inline, target("avx2"))) void
tile16_avx2(const struct mac16 *g, const int16_t *const *src,
    const uint32_t *off, uint32_t b, const int NP, const int NB,
    uint32_t *restrict ob)
{
	__m256i acc[4][2], wv[2];
	const int16_t *wp = g->w16 + (size_t)b * 16;
	size_t wstep = (size_t)g->n_blk * 16;

#pragma GCC unroll 4
	for (int q = 0; q < NP; q++)
#pragma GCC unroll 2
		for (int h = 0; h < NB; h++)
			acc[q][h] = _mm256_loadu_si256((const __m256i *)
			    (g->b32 + (b + h) * 8));
	for (uint32_t k = 0; k < g->n_pair; k++, wp += wstep) {
#pragma GCC unroll 2
		for (int h = 0; h < NB; h++)
			wv[h] = _mm256_loadu_si256((const __m256i *)(wp +
			    16 * h));
#pragma GCC unroll 4
		for (int q = 0; q < NP; q++) {
			int32_t v;
			__m256i x;

			memcpy(&v, src[q] + off[k], sizeof(v));
			x = _mm256_set1_epi32(v);
#pragma GCC unroll 2
			for (int h = 0; h < NB; h++)
				acc[q][h] = _mm256_add_epi32(acc[q][h],
				    _mm256_madd_epi16(x, wv[h]));
		}
	}
#pragma GCC unroll 4
	for (int q = 0; q < NP; q++)
#pragma GCC unroll 2
		for (int h = 0; h < NB; h++)
			_mm256_storeu_si256((__m256i *)(ob + q * g->stride +
			    (b + h) * 8), acc[q][h]);
}

/* mac16_tile_avx2 - mac16_run with AVX2 (chosen at preparation) */
__attribute__((target("avx2"))) static void
mac16_tile_avx2(const struct mac16 *g, const int16_t *const *src,
    const uint32_t *off, uint32_t np, uint32_t *restrict ob)
{
	uint32_t b = 0, nb = g->n_blk;

	if (np == 4) {
		for (; b + 1 < nb; b += 2)
			tile16_avx2(g, src, off, b, 4, 2, ob);
		if (b < nb)
			tile16_avx2(g, src, off, b, 4, 1, ob);
	} else {
		for (; b + 1 < nb; b += 2)
			tile16_avx2(g, src, off, b, 1, 2, ob);
		if (b < nb)
			tile16_avx2(g, src, off, b, 1, 1, ob);
	}
}

/*
 * tile16_avx512 - tile16_avx2 with NB registers of 16 outputs (blocks b,
 * b + 1, ... side by side in w16) and vpdpwssd, which adds the pair of
 * products to the sum in one instruction, modulo 2^32 as vpmaddwd and
 * vpaddd (it does not saturate; vpdpwssds would)
 */
static inline __attribute__((always_inline,
    target("avx2,avx512f,avx512vnni"))) void
tile16_avx512(const struct mac16 *g, const int16_t *const *src,
    const uint32_t *off, uint32_t b, const int NP, const int NB,
    uint32_t *restrict ob)
{
	__m512i acc[4][4], wv[4];
	const int16_t *wp = g->w16 + (size_t)b * 16;
	size_t wstep = (size_t)g->n_blk * 16;

#pragma GCC unroll 4
	for (int q = 0; q < NP; q++)
#pragma GCC unroll 4
		for (int h = 0; h < NB; h++)
			acc[q][h] = _mm512_loadu_si512(g->b32 + (b + 2 * h) *
			    8);
	for (uint32_t k = 0; k < g->n_pair; k++, wp += wstep) {
#pragma GCC unroll 4
		for (int h = 0; h < NB; h++)
			wv[h] = _mm512_loadu_si512(wp + 32 * h);
#pragma GCC unroll 4
		for (int q = 0; q < NP; q++) {
			int32_t v;
			__m512i x;

			memcpy(&v, src[q] + off[k], sizeof(v));
			x = _mm512_set1_epi32(v);
#pragma GCC unroll 4
			for (int h = 0; h < NB; h++)
				acc[q][h] = _mm512_dpwssd_epi32(acc[q][h], x,
				    wv[h]);
		}
	}
#pragma GCC unroll 4
	for (int q = 0; q < NP; q++)
#pragma GCC unroll 4
		for (int h = 0; h < NB; h++)
			_mm512_storeu_si512(ob + q * g->stride + (b + 2 * h) *
			    8, acc[q][h]);
}

/*
 * mac16_tile_avx512 - mac16_run with AVX-512 VNNI: 64 outputs at a time,
 * then 16, then the last block of 8 with AVX2
 */
__attribute__((target("avx2,avx512f,avx512vnni"))) static void
mac16_tile_avx512(const struct mac16 *g, const int16_t *const *src,
    const uint32_t *off, uint32_t np, uint32_t *restrict ob)
{
	uint32_t b = 0, nb = g->n_blk;

	if (np == 4) {
		for (; b + 8 <= nb; b += 8)
			tile16_avx512(g, src, off, b, 4, 4, ob);
		for (; b + 2 <= nb; b += 2)
			tile16_avx512(g, src, off, b, 4, 1, ob);
		if (b < nb)
			tile16_avx2(g, src, off, b, 4, 1, ob);
	} else {
		for (; b + 8 <= nb; b += 8)
			tile16_avx512(g, src, off, b, 1, 4, ob);
		for (; b + 2 <= nb; b += 2)
			tile16_avx512(g, src, off, b, 1, 1, ob);
		if (b < nb)
			tile16_avx2(g, src, off, b, 1, 1, ob);
	}
}
#endif

/*
 * conv16_quant - one sample through 16-bit convolution c and its
 * quantizer ops (as conv_quant).  al (n_in + 8 int16), col (2 * n_pair
 * int16) and ob (4 * stride uint32) are scratch.  Four positions at once
 * where their windows lie inside the input; the others gather their
 * pairs, with zeros for the padding.
 */
static inline __attribute__((always_inline)) void
conv16_quant(const struct conv_prep *c, const struct q32 *fq,
    const struct hgq_qop *qo, const int64_t *restrict a,
    int64_t *restrict dst, int16_t *restrict al, int16_t *restrict col,
    uint32_t *restrict ob, uint64_t *count)
{
	const struct hgq_window *w = &c->w;
	uint32_t n_in = w->in_h * w->in_w * w->in_c, C = w->in_c;
	uint32_t R = w->k_w * C, R2 = R + (R & 1), lc[8] = { 0 };
	uint64_t cnt = 0;

	/* the true values fit int16 (inputs16): the casts are exact */
	if (c->amul01)
		for (uint32_t i = 0; i < n_in; i++)
			al[i] = (int16_t)a[i];
	else
		for (uint32_t i = 0; i < n_in; i++)
			al[i] = (int16_t)(int64_t)((uint64_t)a[i] *
			    c->amul[i]);
	for (uint32_t i = n_in; i < n_in + 8; i++)
		al[i] = 0;	/* read by the weight-0 tap of the last row */
	for (uint32_t p = 0; p < w->n_pos; ) {
		const int16_t *src[4];
		const uint32_t *off = c->poff;
		uint32_t np = c->inner4[p] ? 4 : 1;

		if (c->inner[p]) {
			for (uint32_t q = 0; q < np; q++)
				src[q] = al + c->base[p + q];
		} else {
			uint32_t oh = p / w->out_w, ow = p % w->out_w;

			for (uint32_t t = 0; t < 2 * c->g.n_pair; t++) {
				uint32_t row = t / R2, m = t % R2;
				uint64_t y = (uint64_t)oh * w->s_h + row;
				uint64_t v = (uint64_t)ow * w->s_w + m / C;

				col[t] = m >= R || y < w->pad_top ||
				    v < w->pad_left || y - w->pad_top >=
				    w->in_h || v - w->pad_left >= w->in_w ? 0 :
				    al[((y - w->pad_top) * w->in_w + v -
				    w->pad_left) * C + m % C];
			}
			src[0] = col;
			off = c->g.pid;
		}
		mac16_run(&c->g, src, off, np, ob);
		for (uint32_t q = 0; q < np; q++)
			for (size_t j0 = 0; j0 < c->stride; j0 += 8)
				conv_emit32(c, fq, qo, p + q, j0, ob + q *
				    c->stride + j0, dst, &cnt, lc);
		p += np;
	}
	for (int jj = 0; jj < 8; jj++)
		cnt += lc[jj];
	*count += cnt;
}

/*
 * conv_quant - one sample through convolution c and the quantizer ops
 * qo (or their int32 form fq): a (n_in) the input mantissas, dst (n_out)
 * the output mantissas.  al (n_in + 8) and col (n_taps + 8) are scratch,
 * of int64 (PATH_64) or uint32 (PATH_32) elements.
 * PATH_32 takes four positions at once where their windows lie inside the
 * input: each weight row (8 filters) is loaded once for the four, and the
 * four accumulators are independent (bench_simconv: about 2x).
 */
static inline __attribute__((always_inline)) void
conv_quant(const struct conv_prep *c, const struct q32 *fq,
    const struct hgq_qop *qo, const int64_t *restrict a,
    int64_t *restrict dst, void *al_, void *col_, uint64_t *count)
{
	const struct hgq_window *w = &c->w;
	uint32_t n_in = w->in_h * w->in_w * w->in_c, nt = w->n_taps;
	uint32_t oc = w->out_c, run = w->in_c;
	size_t stride = c->stride;
	uint64_t cnt = 0;
	uint32_t lc[8] = { 0 };

	if (c->path == PATH_32) {
		uint32_t *restrict al = al_, *restrict col = col_;

		if (c->amul01)
			for (uint32_t i = 0; i < n_in; i++)
				al[i] = (uint32_t)a[i];
		else
			for (uint32_t i = 0; i < n_in; i++)
				al[i] = (uint32_t)((uint64_t)a[i] *
				    c->amul[i]);
		for (uint32_t p = 0; p < w->n_pos; ) {
			const uint32_t *src[4], *off = c->toff;
			uint32_t np = c->inner4[p] ? 4 : 1;

			for (uint32_t q = 0; q < np && c->inner[p]; q++)
				src[q] = al + c->base[p + q];
			if (np == 1 && !c->inner[p]) {
				uint32_t oh = p / w->out_w, ow = p % w->out_w;
				uint32_t t = 0;

				for (uint32_t kh = 0; kh < w->k_h; kh++) {
					uint64_t h = (uint64_t)oh * w->s_h + kh;

					for (uint32_t kw = 0; kw < w->k_w; kw++) {
						uint64_t v = (uint64_t)ow *
						    w->s_w + kw;
						bool pad = h < w->pad_top ||
						    v < w->pad_left ||
						    h - w->pad_top >= w->in_h ||
						    v - w->pad_left >= w->in_w;
						const uint32_t *s = al +
						    (pad ? 0 : ((h - w->pad_top)
						    * w->in_w + v -
						    w->pad_left) * run);

						for (uint32_t ch = 0; ch < run;
						    ch++, t++)
							col[t] = pad ? 0 :
							    s[ch];
					}
				}
				src[0] = col;
				off = c->tid;
			}
			for (size_t j0 = 0; j0 < stride; j0 += 8) {
				const int32_t *restrict wb = c->w32 + j0;

				if (np == 4) {
					u32x8 b0, b1, b2, b3;
					const uint32_t *s0 = src[0], *s1 =
					    src[1], *s2 = src[2], *s3 = src[3];
					uint32_t o[4][8];

					memcpy(&b0, c->b32 + j0, sizeof(b0));
					b1 = b2 = b3 = b0;
					for (uint32_t t = 0; t < nt; t++) {
						u32x8 r;
						uint32_t q = off[t];

						memcpy(&r, wb + t * stride,
						    sizeof(r));
						b0 += s0[q] * r;
						b1 += s1[q] * r;
						b2 += s2[q] * r;
						b3 += s3[q] * r;
					}
					memcpy(o[0], &b0, sizeof(b0));
					memcpy(o[1], &b1, sizeof(b1));
					memcpy(o[2], &b2, sizeof(b2));
					memcpy(o[3], &b3, sizeof(b3));
					for (uint32_t q = 0; q < 4; q++)
						conv_emit32(c, fq, qo, p + q, j0,
						    o[q], dst, &cnt, lc);
				} else {
					u32x8 b0, r;
					const uint32_t *s0 = src[0];
					uint32_t o[8];

					memcpy(&b0, c->b32 + j0, sizeof(b0));
					for (uint32_t t = 0; t < nt; t++) {
						memcpy(&r, wb + t * stride,
						    sizeof(r));
						b0 += s0[off[t]] * r;
					}
					memcpy(o, &b0, sizeof(b0));
					conv_emit32(c, fq, qo, p, j0, o, dst,
					    &cnt, lc);
				}
			}
			p += np;
		}
	} else {
		uint64_t *restrict al = al_, *restrict col = col_;

		for (uint32_t i = 0; i < n_in; i++)
			al[i] = (uint64_t)a[i] * c->amul[i];
		for (uint32_t p = 0; p < w->n_pos; p++) {
			int64_t *d = dst + (size_t)p * oc;

			hgq_window_taps(w, p, (uint32_t *)(col + nt));
			for (uint32_t t = 0; t < nt; t++) {
				uint32_t i = ((uint32_t *)(col + nt))[t];

				col[t] = i == HGQ_TAP_PAD ? 0 : al[i];
			}
			for (uint32_t co = 0; co < oc; co++) {
				uint64_t s = (uint64_t)c->b64[co];

				for (uint32_t t = 0; t < nt; t++)
					s += col[t] * (uint64_t)c->w64[t *
					    stride + co];
				d[co] = quant_one(&qo[(size_t)p * oc + co],
				    (int64_t)s, c->relu, &cnt);
			}
		}
	}
	for (int jj = 0; jj < 8; jj++)
		cnt += lc[jj];
	*count += cnt;
}

/* pool_quant - one sample through max-pool or avg-pool pp and qo */
static inline __attribute__((always_inline)) void
pool_quant(const struct pool_prep *pp, const struct hgq_qop *qo, int ident,
    const int64_t *restrict a, int64_t *restrict dst, uint64_t *count)
{
	const struct hgq_window *w = &pp->w;
	uint32_t C = w->in_c, nw = pp->n_win;
	uint64_t cnt = 0;

	if (!pp->shifted) {
		/* aligned windows: the channels of a position side by
		   side, in place in dst, then requantized unless the
		   quantizer is the identity there */
		for (uint32_t p = 0; p < w->n_pos; p++) {
			uint32_t oh = p / w->out_w, ow = p % w->out_w;
			const int64_t *base = a + ((size_t)oh * w->s_h *
			    w->in_w + (size_t)ow * w->s_w) * C;
			int64_t *restrict d = dst + (size_t)p * C;
			uint32_t c0 = 0;

			/* max: 4 channels at a time, the maximum kept in a
			   register over the window (select by mask) */
			for (; !pp->avg && c0 + 4 <= C; c0 += 4) {
				i64x4 mx, v, gt;

				memcpy(&mx, base + pp->toff[0] + c0,
				    sizeof(mx));
				for (uint32_t t = 1; t < nw; t++) {
					memcpy(&v, base + pp->toff[t] + c0,
					    sizeof(v));
					gt = v > mx;
					mx = (v & gt) | (mx & ~gt);
				}
				memcpy(d + c0, &mx, sizeof(mx));
			}
			for (uint32_t ch = c0; ch < C; ch++)
				d[ch] = base[pp->toff[0] + ch];
			for (uint32_t t = 1; t < nw && c0 < C; t++) {
				const int64_t *restrict s = base +
				    pp->toff[t];

				if (pp->avg)
					for (uint32_t ch = c0; ch < C; ch++)
						d[ch] = (int64_t)((uint64_t)
						    d[ch] + (uint64_t)s[ch]);
				else
					for (uint32_t ch = c0; ch < C; ch++)
						d[ch] = s[ch] > d[ch] ? s[ch] :
						    d[ch];
			}
			if (!ident)
				for (uint32_t ch = 0; ch < C; ch++)
					d[ch] = quant_one(&qo[(size_t)p * C +
					    ch], d[ch], 0, &cnt);
		}
		*count += cnt;
		return;
	}
	for (uint32_t p = 0; p < w->n_pos; p++) {
		uint32_t oh = p / w->out_w, ow = p % w->out_w;
		const int64_t *base = a + ((size_t)oh * w->s_h * w->in_w +
		    (size_t)ow * w->s_w) * C;

		for (uint32_t ch = 0; ch < C; ch++) {
			size_t j = (size_t)p * C + ch;
			const uint8_t *sh = pp->sh + j * nw;
			int64_t v = pp->avg ? 0 : INT64_MIN;

			for (uint32_t t = 0; t < nw; t++) {
				int64_t u = (int64_t)((uint64_t)base[
				    pp->toff[t] + ch] << sh[t]);

				if (pp->avg)
					v = (int64_t)((uint64_t)v +
					    (uint64_t)u);
				else if (u > v)
					v = u;
			}
			dst[j] = quant_one(&qo[j], v, 0, &cnt);
		}
	}
	*count += cnt;
}

/* op_quant - one sample through operation o and its quantizer ops qo */
static inline __attribute__((always_inline)) void
op_quant(const struct op_prep *o, const struct hgq_qop *qo,
    const int64_t *a, int64_t *dst, int64_t *scr, uint64_t *count)
{
	switch (o->kind) {
	case HGQ_LAYER_DENSE:
		dense_quant(&o->d, qo, a, dst, scr, (int32_t *)(scr +
		    o->n_out + 8), (int16_t *)(scr + 2 * (size_t)o->n_out +
		    16), count);
		break;
	case HGQ_LAYER_CONV1D:
	case HGQ_LAYER_CONV2D:
		if (o->c.k16)
			conv16_quant(&o->c, o->fq, qo, a, dst, (int16_t *)scr,
			    (int16_t *)(scr + o->n_in + 8), (uint32_t *)(scr +
			    o->n_in + 8 + o->c.g.n_pair + 8), count);
		else
			conv_quant(&o->c, o->fq, qo, a, dst, scr, scr +
			    o->n_in + 8, count);
		break;
	case HGQ_LAYER_MAXPOOL:
	case HGQ_LAYER_AVGPOOL:
		pool_quant(&o->p, qo, o->ident, a, dst, count);
		break;
	default: {	/* flatten: the same elements, requantized */
		uint64_t cnt = 0;

		if (o->ident) {
			memcpy(dst, a, o->n_out * sizeof(int64_t));
			break;
		}

		for (uint32_t j = 0; j < o->n_out; j++)
			dst[j] = quant_one(&qo[j], a[j], 0, &cnt);
		*count += cnt;
	}
	}
}

/* ---------------------------------------------------------------- */
/* The engine                                                        */
/* ---------------------------------------------------------------- */

/*
 * Graphs (format 1.2; every model that hgq_model_is_chain() refuses) run
 * step by step, one step per quantizer in layer order: an input step
 * quantizes the raw columns of its model input, an operation step runs
 * the operation that the quantizer reads (its inputs are earlier
 * quantizers, already computed) and quantizes.  Every quantizer's values
 * stay in the sample's scratch (at val[voff]) until the sample ends, and
 * the output row is the concatenation of the output quantizers' values.
 * Dense, convolution, pooling and flatten steps are prepared and run as
 * in a chain (struct op_prep); the kinds of 1.2 have their own parts:
 * - add and subtract: element e is sum_q a_q[e] * mul[q][e] modulo 2^64,
 *   mul = +-2^(F_e - f_q[e]) aligning every input to the finest fraction
 *   F_e among the inputs that can be non-zero (0 for the others); the
 *   exact range proves the true sum below 2^62;
 * - concatenate: element e is the value at val[cat[e]], requantized
 *   from its own fraction;
 * - lut: element e's table holds the output mantissa (hgq_lut_mant) of
 *   every input mantissa m in [tlo[e], tlo[e] + size), at tab[toff[e] +
 *   m - tlo[e]], and tov flags the entries that overflowed: the
 *   quantizer after the table does not quantize again.
 */
enum { STEP_INPUT, STEP_OP, STEP_SUM, STEP_CAT, STEP_LUT };

struct gstep {
	int		 kind;		/* STEP_* */
	uint32_t	 layer;		/* the quantizer it computes */
	uint32_t	 qi;		/* its number among the quantizers */
	uint32_t	 n;		/* its elements */
	uint32_t	 p0;		/* input: its first index-map entry */
	size_t		 dst;		/* val offset of its values */
	uint32_t	 n_src;		/* operation: inputs */
	size_t		 src[HGQ_MAX_LAYER_INPUTS];	/* their val offsets */
	struct op_prep	 o;		/* STEP_OP */
	struct hgq_qop	*qo;		/* n: the quantizer's ops */
	uint64_t	*mul;		/* STEP_SUM: n_src * n */
	size_t		*cat;		/* STEP_CAT: n val offsets */
	int64_t		*tab;		/* STEP_LUT: the tables, or */
	int16_t		*tab16;		/* when every entry fits int16, */
	uint8_t		*tov;		/* their overflow flags (NULL:
					   none overflows), */
	size_t		*toff;		/* n: where each starts, */
	int64_t		*tlo;		/* n: and its lowest input */
};

struct graph {
	uint32_t	 n_steps;	/* prepared */
	uint32_t	 n_alloc;	/* the quantizers */
	struct gstep	*steps;
	size_t		*voff;		/* n_layers: val offset (quantizers) */
	size_t		 n_val;
	uint32_t	 n_outputs;	/* the model's, in port order: */
	size_t		 out_off[HGQ_MAX_PORTS];	/* val offsets */
	uint32_t	 out_n[HGQ_MAX_PORTS];		/* and lengths */
	struct hgq_ival	*xr;		/* preparation only: every
					   quantizer's ranges, at voff */
	uint8_t		*in_rm, *in_om;	/* n0: round, overflow per
					   index-map entry */
};

/*
 * The fields are packed so that the struct keeps the size it had before
 * graphs (184 bytes): the image network's benchmark loses 3 to 8 % when
 * the engine's allocation grows by 8 to 32 bytes and shifts every later
 * allocation on the heap, with the same machine code.
 */
struct hgq_engine {
	uint32_t	 n_raw, n0;
	uint32_t	*index_map;	/* n0 */
	double		*off, *scale;	/* n0, per first-quantizer element */
	double		*scale2f;	/* n0: 2^f of each input element */
	double		*sc2f;		/* n0: scale * 2^f (exact product) */
	struct hgq_qop	*in_q;		/* n0: overflow of each input element */
	int64_t		*in_lo, *in_hi;	/* n0: in_q's bounds (input_quant4) */
	uint64_t	*in_mask, *in_sbit;	/* n0: in_q's wrap masks */
	int8_t		*in_k, *in_i, *in_f;
	int		 in_ident;	/* index_map is the identity */
	uint8_t		 in_round, in_ovf;
	uint8_t		 tiled;		/* run_range takes TILE samples at
					   a time (tile_run) */
	uint32_t	 n_ops;		/* operations prepared (run) */
	uint32_t	 n_alloc;	/* room in ops and qo */
	uint32_t	 n_out;
	struct op_prep	*ops;		/* n_ops */
	struct hgq_qop	**qo;		/* n_ops arrays of n_out */
	int8_t		*out_f;
	size_t		 per_buf;	/* int64 scratch per thread */
	uint32_t	 max_n;		/* widest layer */
	uint32_t	 n_quant;	/* quantizers: overflow counters */
	struct graph	*g;		/* not a chain: its steps */
};

/*
 * per-thread scratch: two activation buffers (max_n each) and the
 * operations' own (dense: acc n_out + 8 and tmp32; conv: the aligned
 * inputs n_in + 8 and the gathered taps with their indices)
 */
static size_t
scratch_len(const struct hgq_model *m)
{
	size_t need = 0, max_n = 0;

	for (uint32_t l = 0; l < m->n_layers; l++) {
		const struct hgq_layer *L = &m->layers[l];
		/* dense: acc, tmp32, the int16 inputs */
		size_t s = 2 * (size_t)L->n_out + 16 + L->n_in / 4 + 8;

		if (L->n_out > max_n)
			max_n = L->n_out;
		if (L->kind == HGQ_LAYER_CONV1D ||
		    L->kind == HGQ_LAYER_CONV2D) {
			struct hgq_window w;

			/* conv16_quant: al, col (n_pair <= n_taps + k_h
			   int16) and ob (4 * stride uint32) fit too */
			if (hgq_layer_window(m, l, &w, NULL) == HGQ_OK)
				s = (size_t)L->n_in + 8 + 2 *
				    (size_t)w.n_taps + 16 + w.k_h + 8 +
				    2 * (((size_t)w.out_c + 7) & ~(size_t)7);
		}
		if (s > need)
			need = s;
	}
	/* tile_run: two tiles of int16 rows and a tile of sums */
	if (need < TILE * (max_n + 16))
		need = TILE * (max_n + 16);
	return 2 * max_n + need + 16;
}

static int	graph_alloc(struct hgq_engine *e, const struct hgq_model *m);
static void	graph_free(struct graph *g);
static int	graph_new(struct hgq_engine *e, const struct hgq_model *m,
		    struct hgq_err *err);

static int
check_calibrated(const struct hgq_model *m, struct hgq_err *err)
{
	int rc;

	if ((rc = hgq_model_validate(m, err)) != HGQ_OK)
		return rc;
	if (!m->calibrated)
		return hgq_errf(err, HGQ_EINVAL, "the model was never "
		    "calibrated (it has no exact fixed-point part)");
	return HGQ_OK;
}

void
hgq_engine_free(struct hgq_engine *e)
{
	if (e == NULL)
		return;
	for (uint32_t l = 0; l < e->n_alloc; l++) {
		op_release(&e->ops[l]);
		free(e->qo[l]);
	}
	free(e->ops);
	free(e->qo);
	free(e->index_map);
	free(e->off);
	free(e->scale);
	free(e->scale2f);
	free(e->sc2f);
	free(e->in_q);
	free(e->in_lo);
	free(e->in_hi);
	free(e->in_mask);
	free(e->in_sbit);
	free(e->in_k);
	free(e->in_i);
	free(e->in_f);
	graph_free(e->g);
	free(e->out_f);
	free(e);
}

/* the quantizer that reads the model input of index-map entry p */
static const struct hgq_layer *
input_quantizer(const struct hgq_model *m, uint32_t p, uint32_t *j)
{
	uint32_t k = 0;

	while (k + 1 < hgq_model_n_inputs(m) &&
	    hgq_model_input_offset(m, k + 1) <= p)
		k++;
	*j = p - hgq_model_input_offset(m, k);
	return &m->layers[hgq_model_input_layer(m, k)];
}

/* engine_input - the input part of e: normalisation and the formats of
   the input quantizers (which must have theirs), per index-map entry */
static void
engine_input(struct hgq_engine *e, const struct hgq_model *m)
{
	for (uint32_t p = 0; p < e->n0; p++) {
		uint32_t c = m->index_map[p], j;
		const struct hgq_layer *q = input_quantizer(m, p, &j);

		e->index_map[p] = c;
		e->off[p] = m->norm_offset != NULL ? m->norm_offset[c] : 0.0;
		e->scale[p] = m->norm_scale != NULL ? m->norm_scale[c] : 1.0;
		e->in_k[p] = q->k[j];
		e->in_i[p] = q->i[j];
		e->in_f[p] = q->f[j];
		if (e->g != NULL) {
			e->g->in_rm[p] = q->round;
			e->g->in_om[p] = q->overflow;
		}
		e->scale2f[p] = ldexp(1.0, q->f[j]);
		e->sc2f[p] = ldexp(e->scale[p], q->f[j]);
		hgq_qop_init(&e->in_q[p], q->f[j], q->k[j], q->i[j], q->f[j],
		    q->round, q->overflow);
		e->in_lo[p] = e->in_q[p].lo;
		e->in_hi[p] = e->in_q[p].hi;
		e->in_mask[p] = e->in_q[p].mask;
		e->in_sbit[p] = e->in_q[p].sbit;
	}
	e->in_ident = 1;
	for (uint32_t p = 0; p < e->n0; p++)
		e->in_ident &= e->index_map[p] == p;
}

/*
 * engine_alloc - an engine for m with its input part (normalisation and
 * the input quantizers, which must have their formats) and room for
 * every operation of a chain, none prepared yet (a graph: graph_alloc)
 */
static int
engine_alloc(struct hgq_engine **out, const struct hgq_model *m,
    struct hgq_err *err)
{
	const struct hgq_layer *q0 = &m->layers[0];
	bool chain = hgq_model_is_chain(m);
	struct hgq_engine *e;

	*out = NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	e->n_raw = m->n_raw;
	e->n0 = hgq_model_n_in(m);
	e->n_alloc = chain ? m->n_layers / 2 : 0;
	e->in_round = q0->round;
	e->in_ovf = q0->overflow;
	e->max_n = 0;
	for (uint32_t l = 0; l < m->n_layers; l++)
		if (m->layers[l].n_out > e->max_n)
			e->max_n = m->layers[l].n_out;
	e->per_buf = scratch_len(m);
	if ((e->index_map = hgq_calloc(e->n0, sizeof(uint32_t))) == NULL ||
	    (e->off = hgq_calloc(e->n0, sizeof(double))) == NULL ||
	    (e->scale = hgq_calloc(e->n0, sizeof(double))) == NULL ||
	    (e->scale2f = hgq_calloc(e->n0, sizeof(double))) == NULL ||
	    (e->sc2f = hgq_calloc(e->n0, sizeof(double))) == NULL ||
	    (e->in_q = hgq_calloc(e->n0, sizeof(struct hgq_qop))) == NULL ||
	    (e->in_lo = hgq_calloc(e->n0, sizeof(int64_t))) == NULL ||
	    (e->in_hi = hgq_calloc(e->n0, sizeof(int64_t))) == NULL ||
	    (e->in_mask = hgq_calloc(e->n0, sizeof(uint64_t))) == NULL ||
	    (e->in_sbit = hgq_calloc(e->n0, sizeof(uint64_t))) == NULL ||
	    (e->in_k = hgq_calloc(e->n0, 1)) == NULL ||
	    (e->in_i = hgq_calloc(e->n0, 1)) == NULL ||
	    (e->in_f = hgq_calloc(e->n0, 1)) == NULL ||
	    (e->ops = hgq_calloc(e->n_alloc, sizeof(*e->ops))) == NULL ||
	    (e->qo = hgq_calloc(e->n_alloc, sizeof(*e->qo))) == NULL ||
	    (!chain && graph_alloc(e, m) != HGQ_OK)) {
		hgq_engine_free(e);
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	}
	for (uint32_t l = 0; l < e->n_alloc; l++) {
		uint32_t no = m->layers[2 * l + 2].n_out;

		if ((e->qo[l] = hgq_calloc(no, sizeof(struct hgq_qop))) ==
		    NULL) {
			hgq_engine_free(e);
			return hgq_errf(err, HGQ_ENOMEM, "out of memory");
		}
	}
	engine_input(e, m);
	*out = e;
	return HGQ_OK;
}

/* can chain e take the tiled path (every op dense, 16-bit, int32 ops)? */
static bool
tile_ok(const struct hgq_engine *e)
{
	if (e->g != NULL || e->n_ops == 0)
		return false;
	for (uint32_t l = 0; l < e->n_ops; l++)
		if (e->ops[l].kind != HGQ_LAYER_DENSE || !e->ops[l].d.k16 ||
		    e->ops[l].fq == NULL)
			return false;
	return true;
}

int
hgq_engine_new(struct hgq_engine **out, const struct hgq_model *m,
    struct hgq_err *err)
{
	struct hgq_engine *e;
	struct hgq_ival *x = NULL, *xnext = NULL, *t;
	int rc;

	*out = NULL;
	if ((rc = check_calibrated(m, err)) != HGQ_OK)
		return rc;
	if ((rc = engine_alloc(&e, m, err)) != HGQ_OK)
		return rc;
	e->n_out = hgq_model_n_out(m);
	if (e->g != NULL) {
		if ((e->out_f = hgq_calloc(e->n_out, 1)) == NULL)
			rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		else
			rc = graph_new(e, m, err);
		if (rc != HGQ_OK)
			goto fail;
		*out = e;
		return HGQ_OK;
	}
	/* the ranges of every layer's inputs, from the first quantizer's
	   formats through the exact sums (as the IR has them) */
	if ((x = hgq_calloc(e->max_n, sizeof(*x))) == NULL ||
	    (xnext = hgq_calloc(e->max_n, sizeof(*xnext))) == NULL) {
		rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		goto fail;
	}
	fmt_ivals(&m->layers[0], x);
	for (uint32_t l = 0; l < e->n_alloc; l++) {
		rc = op_prepare(&e->ops[l], m, 2 * l + 1, x, &m->layers[2 * l +
		    2], 0, e->qo[l], xnext, err);
		if (rc != HGQ_OK)
			goto fail;
		e->n_ops = l + 1;
		t = x;
		x = xnext;
		xnext = t;
	}
	free(x);
	free(xnext);
	e->n_quant = e->n_ops + 1;
	e->tiled = (sim_paths & HGQ_SIM_TILES) && tile_ok(e);
	/* allocated last, as before graphs (see struct hgq_engine) */
	if ((e->out_f = hgq_calloc(e->n_out, 1)) == NULL) {
		hgq_engine_free(e);
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	}
	memcpy(e->out_f, m->layers[m->n_layers - 1].f, e->n_out);
	*out = e;
	return HGQ_OK;
fail:
	free(x);
	free(xnext);
	hgq_engine_free(e);
	return rc;
}

/* the kernel of prepared operation o (hgq_engine_op_kernel) */
static const char *
op_kernel(const struct op_prep *o)
{
	switch (o->kind) {
	case HGQ_LAYER_DENSE:
		if (o->d.k16)
			return o->d.g.avx2 ? "dense16-avx2" : "dense16";
		return o->d.path == PATH_32 ? "dense32" : o->d.path ==
		    PATH_MID ? "dense-mid" : "dense64";
	case HGQ_LAYER_CONV1D:
	case HGQ_LAYER_CONV2D:
		if (o->c.k16)
			return o->c.g.avx2 ? "conv16-avx2" : "conv16";
		return o->c.path == PATH_32 ? "conv32" : "conv64";
	default:
		return hgq_layer_kind_name(o->kind);
	}
}

const char *
hgq_engine_op_kernel(const struct hgq_engine *e, uint32_t op)
{
	static const char *const step_name[] = {
		[STEP_SUM] = "sum", [STEP_CAT] = "concatenate",
		[STEP_LUT] = "lut",
	};

	if (e->g == NULL)
		return op < e->n_ops ? op_kernel(&e->ops[op]) : "none";
	for (uint32_t s = 0; s < e->g->n_steps; s++) {
		const struct gstep *st = &e->g->steps[s];

		if (st->kind == STEP_INPUT || op-- > 0)
			continue;
		return st->kind == STEP_OP ? op_kernel(&st->o) :
		    step_name[st->kind];
	}
	return "none";
}

int
hgq_engine_paths(const struct hgq_engine *e)
{
	int paths = e->tiled ? HGQ_SIM_TILES : 0;

	for (uint32_t l = 0; l < e->n_ops; l++)
		if (e->ops[l].d.g.avx512 || e->ops[l].c.g.avx512)
			paths |= HGQ_SIM_AVX512;
	return paths;
}

uint32_t
hgq_engine_n_in(const struct hgq_engine *e)
{
	return e->n_raw;
}

uint32_t
hgq_engine_n_out(const struct hgq_engine *e)
{
	return e->n_out;
}

uint32_t
hgq_engine_n_quant(const struct hgq_engine *e)
{
	return e->n_quant;
}

int
hgq_engine_out_f(const struct hgq_engine *e, uint32_t j)
{
	return e->out_f[j];
}

/*
 * (double)m * 2^-f with f in [-128, 127]: 2^-f is a normal double and
 * the product of a double by it is exact short of overflow or underflow,
 * which |m| < 2^63 cannot reach, so this is ldexp((double)m, -f) bit for
 * bit, without a call per value.
 */
void
hgq_engine_out_values(const struct hgq_engine *e, const int64_t *out,
    size_t n, double *val)
{
	uint32_t no = e->n_out;

	for (uint32_t j = 0; j < no; j++) {
		double s = ldexp(1.0, -e->out_f[j]);

		for (size_t r = 0; r < n; r++)
			val[r * no + j] = (double)out[r * no + j] * s;
	}
}

/*
 * input_quant_m - normalise and quantise raw column value x for index-map
 * entry j, whose quantizer rounds with round and overflows with overflow
 * (its in_q has the same mode): xn = (x - offset) * scale, then xn * 2^f
 * is rounded and overflowed.  Because scaling by 2^f is exact,
 * (x - offset) * (scale * 2^f) is the same number, so the common case
 * takes one multiply and an integer floor (|v| < 2^52: the conversion
 * is exact).  Values that are huge, or so tiny that the product could be
 * subnormal, go through hgq_quant_f64, the definition.  *ovf tells
 * whether overflow changed the rounded value.
 */
static inline __attribute__((always_inline)) int64_t
input_quant_m(const struct hgq_engine *e, uint32_t j, double x, int round,
    int overflow, int *ovf)
{
	double d = x - e->off[j];
	double v = d * e->sc2f[j];
	int64_t r, q;

	if (!(fabs(v) < 0x1p52) || (fabs(v) < 0x1p-898 && d != 0)) {
		double xn = d * e->scale[j];
		int k = e->in_k[j], i = e->in_i[j], f = e->in_f[j];

		q = hgq_quant_f64(xn, k, i, f, round, overflow);
		*ovf = q != hgq_quant_f64(xn, 1, 61 - f, f, round, HGQ_SAT);
		return q;
	}
	r = (int64_t)v;			/* towards zero ... */
	if ((double)r > v)
		r--;			/* ... now floor(v) */
	if (round == HGQ_RND && v - (double)r >= 0.5)
		r++;
	q = hgq_qop_overflow(&e->in_q[j], r);
	*ovf = q != r;
	return q;
}

/*
 * input_quant - input_quant_m in the modes of a chain's input quantizer,
 * written out again: through a call of input_quant_m the chain's
 * per-sample loop (run_range) compiled to other registers and ran about
 * 1 % slower; this way it is the same machine code as before graphs
 */
static inline __attribute__((always_inline)) int64_t
input_quant(const struct hgq_engine *e, uint32_t j, double x, int *ovf)
{
	double d = x - e->off[j];
	double v = d * e->sc2f[j];
	int64_t r, q;

	if (!(fabs(v) < 0x1p52) || (fabs(v) < 0x1p-898 && d != 0)) {
		double xn = d * e->scale[j];
		int k = e->in_k[j], i = e->in_i[j], f = e->in_f[j];

		q = hgq_quant_f64(xn, k, i, f, e->in_round, e->in_ovf);
		*ovf = q != hgq_quant_f64(xn, 1, 61 - f, f, e->in_round,
		    HGQ_SAT);
		return q;
	}
	r = (int64_t)v;			/* towards zero ... */
	if ((double)r > v)
		r--;			/* ... now floor(v) */
	if (e->in_round == HGQ_RND && v - (double)r >= 0.5)
		r++;
	q = hgq_qop_overflow(&e->in_q[j], r);
	*ovf = q != r;
	return q;
}

/*
 * input_lanes4 - input_quant of elements j..j+3 (the index map is the
 * identity) in 4 lanes: *qp gets the mantissas, *ne -1 in the lanes that
 * overflowed; false, with nothing written, when a lane needs the general
 * path (huge, tiny or not a number).  input_quant4 writes them to
 * a[j..j+3] and adds the overflows to *ovf.  The same operations as input_quant, in the
 * same order, on |v| < 2^50, where floor and the conversion to int64 are
 * exact with the constant M = 1.5 * 2^52: (v + M) - M is v rounded to
 * the nearest integer (the default rounding mode; no fast-math reorders
 * it), one less when that is above v; x + M then holds the integer x in
 * its low mantissa bits, so the bit patterns' difference is x.
 */
static inline __attribute__((always_inline)) bool
input_lanes4(const struct hgq_engine *e, uint32_t j, const double *xs,
    i64x4 *qp, i64x4 *ne)
{
	const f64x4 M = { 0x1.8p52, 0x1.8p52, 0x1.8p52, 0x1.8p52 };
	const f64x4 one = { 1.0, 1.0, 1.0, 1.0 };
	const f64x4 half = { 0.5, 0.5, 0.5, 0.5 };
	const f64x4 zero = { 0.0, 0.0, 0.0, 0.0 };
	const f64x4 big = { 0x1p50, 0x1p50, 0x1p50, 0x1p50 };
	const f64x4 tiny = { 0x1p-898, 0x1p-898, 0x1p-898, 0x1p-898 };
	const i64x4 nosign = { INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX };
	f64x4 x, off, sc, d, v, av, n, fl;
	i64x4 ok, r, q, lo, hi;

	memcpy(&x, xs + j, sizeof(x));
	memcpy(&off, e->off + j, sizeof(off));
	memcpy(&sc, e->sc2f + j, sizeof(sc));
	d = x - off;
	v = d * sc;
	av = (f64x4)((i64x4)v & nosign);
	ok = (av < big) & ~((av < tiny) & (d != zero));
	if (!(ok[0] & ok[1] & ok[2] & ok[3]))
		return false;
	n = (v + M) - M;
	fl = n - (f64x4)((i64x4)one & (n > v));		/* floor(v) */
	if (e->in_round == HGQ_RND)
		fl = fl + (f64x4)((i64x4)one & (v - fl >= half));
	r = (i64x4)(fl + M) - (i64x4)M;
	if (e->in_ovf == HGQ_WRAP) {
		u64x4 mask, sbit;

		memcpy(&mask, e->in_mask + j, sizeof(mask));
		memcpy(&sbit, e->in_sbit + j, sizeof(sbit));
		q = (i64x4)((((u64x4)r & mask) ^ sbit) - sbit);
	} else {
		memcpy(&lo, e->in_lo + j, sizeof(lo));
		memcpy(&hi, e->in_hi + j, sizeof(hi));
		q = r;
		q = (q & ~(q < lo)) | (lo & (q < lo));
		q = (q & ~(q > hi)) | (hi & (q > hi));
	}
	*ne = q != r;
	*qp = q;
	return true;
}

static inline __attribute__((always_inline)) bool
input_quant4(const struct hgq_engine *e, uint32_t j, const double *xs,
    int64_t *restrict a, uint64_t *ovf)
{
	i64x4 q, ne;

	if (!input_lanes4(e, j, xs, &q, &ne))
		return false;
	*ovf -= (uint64_t)(ne[0] + ne[1] + ne[2] + ne[3]);
	memcpy(a + j, &q, sizeof(q));
	return true;
}

void
hgq_engine_quant_input(const struct hgq_engine *e, const double *x,
    size_t n, int64_t *q)
{
	int ovf;

	for (size_t s = 0; s < n; s++)
		for (uint32_t j = 0; j < e->n0; j++)
			q[s * e->n0 + j] = input_quant_m(e, j,
			    x[s * e->n_raw + e->index_map[j]], e->g != NULL ?
			    e->g->in_rm[j] : e->in_round, e->g != NULL ?
			    e->g->in_om[j] : e->in_ovf, &ovf);
}

/* ---------------------------------------------------------------- */
/* Graphs                                                            */
/* ---------------------------------------------------------------- */

/* gstep_release - what step st prepared (it can be prepared again) */
static void
gstep_release(struct gstep *st)
{
	op_release(&st->o);
	free(st->mul);
	free(st->cat);
	free(st->tab);
	free(st->tab16);
	free(st->tov);
	free(st->toff);
	free(st->tlo);
	st->mul = NULL;
	st->cat = NULL;
	st->tab = NULL;
	st->tab16 = NULL;
	st->tov = NULL;
	st->toff = NULL;
	st->tlo = NULL;
}

static void
graph_free(struct graph *g)
{
	if (g == NULL)
		return;
	for (uint32_t s = 0; g->steps != NULL && s < g->n_alloc; s++) {
		gstep_release(&g->steps[s]);
		free(g->steps[s].qo);
	}
	free(g->steps);
	free(g->voff);
	free(g->xr);
	free(g->in_rm);
	free(g->in_om);
	free(g);
}

/*
 * graph_alloc - the steps of graph m in e->g, one per quantizer, none
 * prepared: where each quantizer's values go, what each step reads.
 * HGQ_OK or HGQ_ENOMEM.
 */
static int
graph_alloc(struct hgq_engine *e, const struct hgq_model *m)
{
	struct graph *g;
	uint32_t s = 0;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return HGQ_ENOMEM;
	e->g = g;
	if ((g->voff = hgq_calloc(m->n_layers, sizeof(size_t))) == NULL ||
	    (g->in_rm = hgq_calloc(e->n0, 1)) == NULL ||
	    (g->in_om = hgq_calloc(e->n0, 1)) == NULL)
		return HGQ_ENOMEM;
	for (uint32_t l = 0; l < m->n_layers; l++)
		if (m->layers[l].kind == HGQ_LAYER_QUANT) {
			g->voff[l] = g->n_val;
			g->n_val += m->layers[l].n_out;
			g->n_alloc++;
		}
	e->n_quant = g->n_alloc;
	g->n_outputs = hgq_model_n_outputs(m);
	for (uint32_t k = 0; k < g->n_outputs; k++) {
		g->out_off[k] = g->voff[hgq_model_output_layer(m, k)];
		g->out_n[k] = m->layers[hgq_model_output_layer(m, k)].n_out;
	}
	e->per_buf += g->n_val;
	if ((g->steps = hgq_calloc(g->n_alloc, sizeof(*g->steps))) == NULL ||
	    (g->xr = hgq_calloc(g->n_val, sizeof(*g->xr))) == NULL)
		return HGQ_ENOMEM;
	for (uint32_t l = 0; l < m->n_layers; l++) {
		struct gstep *st = &g->steps[s];
		uint32_t ref = hgq_layer_input(m, l, 0);

		if (m->layers[l].kind != HGQ_LAYER_QUANT)
			continue;
		st->layer = l;
		st->qi = s++;
		st->n = m->layers[l].n_out;
		st->dst = g->voff[l];
		if ((st->qo = hgq_calloc(st->n, sizeof(*st->qo))) == NULL)
			return HGQ_ENOMEM;
		if (ref & HGQ_REF_INPUT) {
			st->kind = STEP_INPUT;
			st->p0 = hgq_model_input_offset(m, ref &
			    ~HGQ_REF_INPUT);
			continue;
		}
		st->kind = STEP_OP;
		st->n_src = hgq_layer_n_inputs(&m->layers[ref]);
		for (uint32_t q = 0; q < st->n_src; q++)
			st->src[q] = g->voff[hgq_layer_input(m, ref, q)];
	}
	return HGQ_OK;
}

/*
 * sum_prepare - add or subtract li (step st, quantizer qo): each element
 * at the finest fraction of its inputs that can be non-zero, the exact
 * range of the sum, then qops_set
 */
static int
sum_prepare(struct gstep *st, const struct graph *g,
    const struct hgq_model *m, uint32_t li, const struct hgq_layer *qo,
    int calib, struct hgq_err *err)
{
	bool sub = m->layers[li].kind == HGQ_LAYER_SUB;
	struct hgq_ival *y = NULL;
	int32_t *from = NULL;
	uint8_t *reach = NULL;
	int rc = HGQ_OK;

	st->kind = STEP_SUM;
	if ((st->mul = hgq_calloc((size_t)st->n_src * st->n,
	    sizeof(uint64_t))) == NULL || (y = hgq_calloc(st->n,
	    sizeof(*y))) == NULL || (from = hgq_calloc(st->n,
	    sizeof(int32_t))) == NULL || (reach = hgq_calloc(st->n, 1)) ==
	    NULL) {
		rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t j = 0; j < st->n; j++) {
		__int128 lo = 0, hi = 0;
		int32_t F = INT32_MIN;

		for (uint32_t q = 0; q < st->n_src; q++) {
			const struct hgq_ival *x = &g->xr[st->src[q] + j];

			if ((x->lo != 0 || x->hi != 0) && -x->e > F)
				F = -x->e;
		}
		if (F == INT32_MIN)
			F = qo->f[j];
		reach[j] = 1;
		for (uint32_t q = 0; q < st->n_src; q++) {
			const struct hgq_ival *x = &g->xr[st->src[q] + j];
			int64_t sh = (int64_t)F + x->e, p2;
			bool neg = sub && q == 1;

			if (x->lo == 0 && x->hi == 0)
				continue;	/* always 0: mul 0 */
			if (sh > 61) {
				reach[j] = 0;
				continue;
			}
			p2 = (int64_t)1 << sh;
			st->mul[(size_t)q * st->n + j] = neg ? -(uint64_t)p2 :
			    (uint64_t)p2;
			lo += (__int128)(neg ? -x->hi : x->lo) * p2;
			hi += (__int128)(neg ? -x->lo : x->hi) * p2;
		}
		if (lo <= -HGQ_IVAL_LIMIT || hi >= HGQ_IVAL_LIMIT)
			reach[j] = 0;
		if (!reach[j])
			lo = hi = 0;
		y[j] = (struct hgq_ival){ (int64_t)lo, (int64_t)hi, -F };
		from[j] = F;
	}
	rc = qops_set(qo, st->n, from, y, reach, 0, calib, st->qo,
	    &g->xr[st->dst], li, err);
out:
	free(y);
	free(from);
	free(reach);
	return rc;
}

/*
 * cat_prepare - concatenate li (step st, quantizer qo): the source of
 * every output element, in row-major order of the output shape
 */
static int
cat_prepare(struct gstep *st, const struct graph *g,
    const struct hgq_model *m, uint32_t li, const struct hgq_layer *qo,
    int calib, struct hgq_err *err)
{
	size_t outer, seg[HGQ_MAX_LAYER_INPUTS];
	struct hgq_ival *y = NULL;
	int32_t *from = NULL;
	uint8_t *reach = NULL;
	int rc;

	st->kind = STEP_CAT;
	hgq_layer_concat_runs(m, li, &outer, seg);
	if ((st->cat = hgq_calloc(st->n, sizeof(size_t))) == NULL ||
	    (y = hgq_calloc(st->n, sizeof(*y))) == NULL ||
	    (from = hgq_calloc(st->n, sizeof(int32_t))) == NULL ||
	    (reach = hgq_calloc(st->n, 1)) == NULL) {
		rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t o = 0, j = 0; o < outer; o++)
		for (uint32_t q = 0; q < st->n_src; q++) {
			for (size_t t = 0; t < seg[q]; t++, j++) {
				size_t at = st->src[q] + o * seg[q] + t;

				st->cat[j] = at;
				y[j] = g->xr[at];
				from[j] = -y[j].e;
				reach[j] = 1;
			}
		}
	rc = qops_set(qo, st->n, from, y, reach, 0, calib, st->qo,
	    &g->xr[st->dst], li, err);
out:
	free(y);
	free(from);
	free(reach);
	return rc;
}

/*
 * lut_narrow - the n_tab entries of st's tables as int16 when they all
 * fit (the common case: a quarter of the cache), and no overflow flags
 * when none is set
 */
static int
lut_narrow(struct gstep *st, size_t n_tab, struct hgq_err *err)
{
	bool narrow = true, ov = false;

	for (size_t t = 0; t < n_tab; t++) {
		narrow &= st->tab[t] >= INT16_MIN && st->tab[t] <= INT16_MAX;
		ov |= st->tov[t] != 0;
	}
	if (!ov) {
		free(st->tov);
		st->tov = NULL;
	}
	if (!narrow)
		return HGQ_OK;
	if ((st->tab16 = hgq_calloc(n_tab, sizeof(int16_t))) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	for (size_t t = 0; t < n_tab; t++)
		st->tab16[t] = (int16_t)st->tab[t];
	free(st->tab);
	st->tab = NULL;
	return HGQ_OK;
}

/*
 * lut_prepare - the tables of lookup-table layer li (step st, quantizer
 * qo; with calib, entries only rounded to qo's f, saturating at 2^61)
 * over every mantissa of its input quantizer's elements
 */
static int
lut_prepare(struct gstep *st, struct graph *g, const struct hgq_model *m,
    uint32_t li, const struct hgq_layer *qo, int calib,
    struct hgq_err *err)
{
	uint32_t ref = hgq_layer_input(m, li, 0), func = m->layers[li].func;
	const struct hgq_layer *qi = &m->layers[ref];
	size_t n_tab = 0;

	st->kind = STEP_LUT;
	if ((st->toff = hgq_calloc(st->n, sizeof(size_t))) == NULL ||
	    (st->tlo = hgq_calloc(st->n, sizeof(int64_t))) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	for (uint32_t j = 0; j < st->n; j++) {
		int w = hgq_fmt_width(qi->k[j], qi->i[j], qi->f[j]);
		int64_t hi;

		if (w > HGQ_MAX_LUT_BITS)
			return hgq_errf(err, HGQ_ERANGE, "layer %u element %u:"
			    " the table's input is %d bits wide (the limit is"
			    " %d)", li, j, w, HGQ_MAX_LUT_BITS);
		hgq_fmt_range(qi->k[j], qi->i[j], qi->f[j], qi->overflow,
		    &st->tlo[j], &hi);
		st->toff[j] = n_tab;
		n_tab += (size_t)(hi - st->tlo[j]) + 1;
	}
	if ((st->tab = hgq_calloc(n_tab, sizeof(int64_t))) == NULL ||
	    (st->tov = hgq_calloc(n_tab, 1)) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	for (uint32_t j = 0; j < st->n; j++) {
		size_t t0 = st->toff[j];
		size_t t1 = j + 1 < st->n ? st->toff[j + 1] : n_tab;
		int k = calib ? 1 : qo->k[j], f = qo->f[j];
		int i = calib ? 61 - f : qo->i[j];
		int ovf = calib ? HGQ_SAT : qo->overflow;
		struct hgq_ival *x = &g->xr[st->dst + j];

		for (size_t t = t0; t < t1; t++) {
			int64_t mi = st->tlo[j] + (int64_t)(t - t0);
			int64_t v = hgq_lut_mant(func, mi, qi->f[j], k, i, f,
			    qo->round, ovf);

			st->tab[t] = v;
			st->tov[t] = v != hgq_lut_mant(func, mi, qi->f[j], 1,
			    61 - f, f, qo->round, HGQ_SAT);
			x->lo = t == t0 || v < x->lo ? v : x->lo;
			x->hi = t == t0 || v > x->hi ? v : x->hi;
		}
		x->e = -f;
	}
	return lut_narrow(st, n_tab, err);
}

/*
 * graph_prepare - prepare step s of e's graph (after steps 0..s-1, whose
 * ranges it reads); calib as op_prepare
 */
static int
graph_prepare(struct hgq_engine *e, const struct hgq_model *m, uint32_t s,
    int calib, struct hgq_err *err)
{
	struct graph *g = e->g;
	struct gstep *st = &g->steps[s];
	const struct hgq_layer *qo = &m->layers[st->layer];
	uint32_t li = hgq_layer_input(m, st->layer, 0);

	if (st->kind == STEP_INPUT) {
		fmt_ivals(qo, &g->xr[st->dst]);
		return HGQ_OK;
	}
	switch (m->layers[li].kind) {
	case HGQ_LAYER_ADD:
	case HGQ_LAYER_SUB:
		return sum_prepare(st, g, m, li, qo, calib, err);
	case HGQ_LAYER_CONCAT:
		return cat_prepare(st, g, m, li, qo, calib, err);
	case HGQ_LAYER_LUT:
		return lut_prepare(st, g, m, li, qo, calib, err);
	}
	st->kind = STEP_OP;
	return op_prepare(&st->o, m, li, &g->xr[st->src[0]], qo, calib,
	    st->qo, &g->xr[st->dst], err);
}

/* graph_new - prepare every step of e's graph (calibrated model m) */
static int
graph_new(struct hgq_engine *e, const struct hgq_model *m,
    struct hgq_err *err)
{
	struct graph *g = e->g;
	uint32_t o = 0;
	int rc;

	for (uint32_t s = 0; s < g->n_alloc; s++) {
		if ((rc = graph_prepare(e, m, s, 0, err)) != HGQ_OK)
			return rc;
		g->n_steps = s + 1;
	}
	for (uint32_t k = 0; k < hgq_model_n_outputs(m); k++) {
		const struct hgq_layer *q = &m->layers[
		    hgq_model_output_layer(m, k)];

		memcpy(e->out_f + o, q->f, q->n_out);
		o += q->n_out;
	}
	free(g->xr);
	g->xr = NULL;
	return HGQ_OK;
}

/* the values of lookup-table step st into dst */
static inline __attribute__((always_inline)) void
step_lut(const struct gstep *st, const int64_t *val, int64_t *dst,
    uint64_t *count)
{
	const int64_t *a = val + st->src[0];

	for (uint32_t j = 0; j < st->n; j++) {
		size_t t = st->toff[j] + (size_t)(a[j] - st->tlo[j]);

		dst[j] = st->tab16 != NULL ? st->tab16[t] : st->tab[t];
		if (st->tov != NULL)
			*count += st->tov[t];
	}
}

/* the values of add or subtract step st into dst */
static void
step_sum(const struct gstep *st, const int64_t *val, int64_t *dst,
    uint64_t *count)
{
	uint64_t c = 0;

	for (uint32_t j = 0; j < st->n; j++) {
		uint64_t acc = 0;

		for (uint32_t q = 0; q < st->n_src; q++)
			acc += (uint64_t)val[st->src[q] + j] *
			    st->mul[(size_t)q * st->n + j];
		dst[j] = quant_one(&st->qo[j], (int64_t)acc, 0, &c);
	}
	*count += c;
}

/*
 * graph_sample - one sample of raw inputs xs through steps [0, n_steps)
 * of e's graph, those that run marks (NULL: all): val (the first n_val
 * int64 of buf) gets their quantizers' values, counts[q] the overflows of
 * quantizer q; the rest of buf is the operations' scratch
 */
static inline __attribute__((always_inline)) void
graph_sample(const struct hgq_engine *e, uint32_t n_steps,
    const uint8_t *run, const double *xs, uint64_t *counts, int64_t *buf)
{
	const struct graph *g = e->g;
	int64_t *val = buf, *scr = buf + g->n_val;

	for (uint32_t s = 0; s < n_steps; s++) {
		const struct gstep *st = &g->steps[s];
		int64_t *dst = val + st->dst;
		uint64_t *c = &counts[st->qi];
		int ovf;

		if (run != NULL && !run[s])
			continue;
		switch (st->kind) {
		case STEP_INPUT:
			for (uint32_t j = 0, p = st->p0; j < st->n; j++, p++) {
				dst[j] = input_quant_m(e, p,
				    xs[e->index_map[p]], g->in_rm[p],
				    g->in_om[p], &ovf);
				*c += (uint64_t)ovf;
			}
			break;
		case STEP_SUM:
			step_sum(st, val, dst, c);
			break;
		case STEP_CAT:
			for (uint32_t j = 0; j < st->n; j++)
				dst[j] = quant_one(&st->qo[j], val[st->cat[j]],
				    0, c);
			break;
		case STEP_LUT:
			step_lut(st, val, dst, c);
			break;
		default:
			op_quant(&st->o, st->qo, val + st->src[0], dst, scr,
			    c);
		}
	}
}

/* graph_range - samples [s0, s1) of a graph (run_range's twin) */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx2", "default"), optimize("O3")))
#endif
static void
graph_range(const struct hgq_engine *e, const double *x, size_t s0,
    size_t s1, int64_t *out, uint64_t *counts, int64_t *buf)
{
	const struct graph *g = e->g;

	for (size_t s = s0; s < s1; s++) {
		int64_t *o = out + s * e->n_out;

		graph_sample(e, g->n_steps, NULL, x + s * e->n_raw, counts,
		    buf);
		for (uint32_t k = 0; k < g->n_outputs; k++) {
			memcpy(o, buf + g->out_off[k], g->out_n[k] *
			    sizeof(int64_t));
			o += g->out_n[k];
		}
	}
}

/*
 * sample_run - one sample of raw inputs xs through the input quantizer
 * and operations [0, n_ops) of e: out (the last quantizer's n_out) gets
 * its mantissas, counts[q] the overflows of quantizer q.  buf is the
 * thread's scratch (e->per_buf int64).
 */
static inline __attribute__((always_inline)) void
sample_run(const struct hgq_engine *e, uint32_t n_ops, const double *xs,
    int64_t *out, uint64_t *counts, int64_t *buf)
{
	int64_t *a = buf, *b = buf + e->max_n, *scr = buf + 2 *
	    (size_t)e->max_n, *t;

	for (uint32_t j = 0; j < e->n0; ) {
		int ovf;

		if (e->in_ident && j + 4 <= e->n0 &&
		    input_quant4(e, j, xs, a, &counts[0])) {
			j += 4;
			continue;
		}
		a[j] = input_quant(e, j, xs[e->index_map[j]], &ovf);
		counts[0] += ovf;
		j++;
	}
	for (uint32_t l = 0; l < n_ops; l++) {
		int64_t *dst = l + 1 == n_ops ? out : b;

		op_quant(&e->ops[l], e->qo[l], a, dst, scr, &counts[l + 1]);
		t = a;
		a = b;
		b = t;
	}
}

/*
 * Where sample_run left the output of op n_ops - 2 (n_ops >= 2): the
 * buffers swap after every op, and the last op writes to out, so that
 * output is in the second buffer after an even number of ops.
 */
static const int64_t *
sample_mid(const struct hgq_engine *e, uint32_t n_ops, const int64_t *buf)
{
	return n_ops % 2 == 0 ? buf + e->max_n : buf;
}

/*
 * The tiled path: a chain of dense layers that all take 16-bit
 * products and quantize in int32 (op_fast): TILE samples go through each
 * layer together, so that every weight the sums load serves TILE samples
 * (the layer is a convolution of TILE positions: mac16_run), and the
 * activations stay int16 numbers between the layers - the next layer's
 * 16-bit form proves that they fit.  The same sums modulo 2^32 and the
 * same int32 quantizer ops as the per-sample path, so the same results;
 * run_range takes the samples past the last whole tile one at a time.
 */

/* the row of int16 activations of one sample in a tile (buf's layout) */
static size_t
tile_row(const struct hgq_engine *e)
{
	return ((size_t)e->max_n + 15) & ~(size_t)7;
}

/*
 * tile_emit - quantize the TILE rows of sums ob (rows of d->stride) of
 * dense layer d through fq: to the int16 rows of nxt (row w; the padding
 * lanes give 0, the partner of an odd last input) or, for the last
 * layer, to out (rows of n_out int64).  Each block's ops are loaded once
 * for the TILE samples; cnt counts overflows per lane.
 */
static inline __attribute__((always_inline)) void
tile_emit(const struct dense_prep *d, const struct q32 *fq, const int mode,
    const uint32_t *ob, int16_t *restrict nxt, size_t w,
    int64_t *restrict out, u32x8 *cnt)
{
	typedef int16_t i16x8 __attribute__((vector_size(16)));

	for (size_t j0 = 0; j0 < d->stride; j0 += 8) {
		struct q32v k;

		q32_load(fq, 0, j0, mode, &k);
		for (uint32_t q = 0; q < TILE; q++) {
			i32x8 v;

			memcpy(&v, ob + q * d->stride + j0, sizeof(v));
			q32_apply(&k, &v, d->relu, mode, cnt);
			if (nxt != NULL) {
				i16x8 h = __builtin_convertvector(v, i16x8);

				memcpy(nxt + q * w + j0, &h, sizeof(h));
			} else {
				uint32_t n = d->n_out - (uint32_t)j0 < 8 ?
				    d->n_out - (uint32_t)j0 : 8;
				int64_t *o = out + (size_t)q * d->n_out + j0;

				for (uint32_t jj = 0; jj < n; jj++)
					o[jj] = v[jj];
			}
		}
	}
}

/*
 * tile_run - samples xs (TILE rows of n_raw) through a tiled chain (as
 * sample_run): out gets TILE rows of n_out
 */
static inline __attribute__((always_inline)) void
tile_run(const struct hgq_engine *e, const double *xs, int64_t *out,
    uint64_t *counts, int64_t *buf)
{
	size_t w = tile_row(e);
	int16_t *act = (int16_t *)(buf + 2 * (size_t)e->max_n);
	int16_t *nxt = act + TILE * w, *t;
	uint32_t *ob = (uint32_t *)(nxt + TILE * w);
	const int16_t *src[TILE];

	i64x4 nacc = { 0, 0, 0, 0 };

	/* the first layer's 16-bit form proves the inputs int16 */
	for (uint32_t q = 0; q < TILE; q++) {
		const double *x = xs + (size_t)q * e->n_raw;
		int16_t *row = act + q * w;

		for (uint32_t j = 0; j < e->n0; ) {
			i64x4 v, ne;
			int ovf;

			if (e->in_ident && j + 4 <= e->n0 &&
			    input_lanes4(e, j, x, &v, &ne)) {
				i16x4 h = __builtin_convertvector(v, i16x4);

				memcpy(row + j, &h, sizeof(h));
				nacc += ne;
				j += 4;
				continue;
			}
			row[j] = (int16_t)input_quant(e, j, x[e->index_map[j]],
			    &ovf);
			counts[0] += ovf;
			j++;
		}
		row[e->n0] = 0;		/* the odd one's partner */
		src[q] = row;
	}
	counts[0] -= (uint64_t)(nacc[0] + nacc[1] + nacc[2] + nacc[3]);
	for (uint32_t l = 0; l < e->n_ops; l++) {
		const struct op_prep *o = &e->ops[l];
		bool last = l + 1 == e->n_ops;
		u32x8 lc = { 0 };
		uint64_t c = 0;

		mac16_run(&o->d.g, src, o->d.g.pid, TILE, ob);
		if (o->fq->mode == Q32_SAT)
			tile_emit(&o->d, o->fq, Q32_SAT, ob, last ? NULL : nxt,
			    w, out, &lc);
		else if (o->fq->mode == Q32_WRAP)
			tile_emit(&o->d, o->fq, Q32_WRAP, ob, last ? NULL :
			    nxt, w, out, &lc);
		else
			tile_emit(&o->d, o->fq, Q32_MIXED, ob, last ? NULL :
			    nxt, w, out, &lc);
		for (int jj = 0; jj < 8; jj++)
			c += lc[jj];
		counts[l + 1] += c;
		t = act;
		act = nxt;
		nxt = t;
		for (uint32_t q = 0; q < TILE; q++)
			src[q] = act + q * w;
	}
}

/* run samples [s0, s1) */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx2", "default"), optimize("O3")))
#endif
static void
run_range(const struct hgq_engine *e, const double *x, size_t s0, size_t s1,
    int64_t *out, uint64_t *counts, int64_t *buf)
{
	size_t s = s0;

	if (e->tiled)
		for (; s + TILE <= s1; s += TILE)
			tile_run(e, x + s * e->n_raw, out + s * e->n_out,
			    counts, buf);
	for (; s < s1; s++)
		sample_run(e, e->n_ops, x + s * e->n_raw, out + s * e->n_out,
		    counts, buf);
}

struct run_job {
	const struct hgq_engine *e;
	const double	*x;
	size_t		 s0, s1;
	int64_t		*out;
	uint64_t	*counts;
	int64_t		*buf;
};

static void *
run_job_main(void *arg)
{
	struct run_job *j = arg;

	if (j->e->g != NULL)
		graph_range(j->e, j->x, j->s0, j->s1, j->out, j->counts,
		    j->buf);
	else
		run_range(j->e, j->x, j->s0, j->s1, j->out, j->counts,
		    j->buf);
	return NULL;
}

int
hgq_engine_run(const struct hgq_engine *e, const double *x, size_t n,
    int64_t *out, struct hgq_ovf_stats *st, int threads)
{
	struct run_job jobs[MAX_THREADS];
	uint32_t nq = e->n_quant;
	int64_t *bufs;
	uint64_t *counts;
	int t, nt;

	threads = hgq_n_threads(threads, MAX_THREADS);
	/* a thread only pays for itself on a few chunks of work */
	nt = n / CHUNK < (size_t)threads ? (int)(n / CHUNK) : threads;
	if (nt < 1)
		nt = 1;
	bufs = calloc((size_t)nt * e->per_buf, sizeof(int64_t));
	counts = calloc((size_t)nt * nq, sizeof(uint64_t));
	if (bufs == NULL || counts == NULL) {
		free(bufs);
		free(counts);
		return HGQ_ENOMEM;
	}
	for (t = 0; t < nt; t++) {
		jobs[t].e = e;
		jobs[t].x = x;
		jobs[t].s0 = n * t / nt;
		jobs[t].s1 = n * (t + 1) / nt;
		jobs[t].out = out;
		jobs[t].counts = counts + (size_t)t * nq;
		jobs[t].buf = bufs + (size_t)t * e->per_buf;
	}
	hgq_fan_out(run_job_main, jobs, sizeof(jobs[0]), nt);
	if (st != NULL)
		for (t = 0; t < nt; t++)
			for (uint32_t q = 0; q < nq && q < st->n_quant; q++)
				st->count[q] += counts[(size_t)t * nq + q];
	free(bufs);
	free(counts);
	return HGQ_OK;
}

/* ---------------------------------------------------------------- */
/* Calibration                                                       */
/* ---------------------------------------------------------------- */

/*
 * Calibration goes quantizer by quantizer over all n rows: the input
 * quantizer first (from the raw data), then the quantizer after each
 * operation, whose accumulators are chosen from the formats calibrated
 * before it.  On the calibration data a calibrated quantizer is the
 * identity (its format holds every rounded value; a zero-width element
 * only ever saw 0), so stage s runs the rows through operations 0..s
 * with the quantizers that only round, and tracks the range of the
 * rounded outputs of operation s.  Nothing is kept between the stages
 * but the engine, so memory stays per thread and per layer, whatever n;
 * the stages cost 1 + 2 + ... operation passes.  A stage whose format is
 * known before the data (the union quantizer below) is not a pass of its
 * own: the next stage's pass also tracks the output of the operation
 * before its last (sample_mid), which is that quantizer's input.  In the
 * image network conv, pool, conv, pool, flatten, dense, dense that saves
 * three of the seven passes, the longest ones.
 *
 * A non-trainable quantizer after a flatten or a max-pool gets the union
 * of the formats that reach each element (k, i, f the largest of the
 * window's elements of width > 0): it never rounds or clips, so it is
 * the identity for every input, not only the calibration data.
 */
struct cal_job {
	const struct hgq_model *m;
	const struct hgq_engine *e;	/* NULL: the input quantizer */
	const double	*x;
	const double	*in_sc2f;	/* scale * 2^f per input element */
	size_t		 s0, s1;
	uint32_t	 width;		/* elements tracked */
	uint32_t	 mid_width;	/* and of the op before the last */
	int64_t		*mn, *mx;	/* this thread's ranges: width, then
					   mid_width */
	int64_t		*out;		/* width: one sample's outputs */
	int64_t		*buf;		/* the engine's scratch */
	uint64_t	*counts;	/* n_ops + 1, ignored */
	int		 rc;		/* HGQ_ERANGE: a value out of reach */
	uint32_t	 bad_j;
	double		 bad_x;
};

/*
 * R(x' * 2^f) of raw column value x for input element j, no overflow;
 * sc2f is scale * 2^f of the element (see input_quant for the method)
 */
static int
cal_input_round(const struct hgq_model *m, uint32_t j, double x,
    double sc2f, int64_t *r)
{
	const struct hgq_layer *q0 = &m->layers[0];
	uint32_t c = m->index_map[j];
	double off = m->norm_offset != NULL ? m->norm_offset[c] : 0.0;
	double sc = m->norm_scale != NULL ? m->norm_scale[c] : 1.0;
	int f = q0->f[j];
	double d = x - off, v = d * sc2f;

	if (fabs(v) < 0x1p52 && !(fabs(v) < 0x1p-898 && d != 0)) {
		int64_t t = (int64_t)v;

		if ((double)t > v)
			t--;
		if (q0->round == HGQ_RND && v - (double)t >= 0.5)
			t++;
		*r = t;
		return HGQ_OK;
	}
	*r = hgq_quant_f64(d * sc, 1, 61 - f, f, q0->round, HGQ_SAT);
	if (*r >= ((int64_t)1 << 61) - 1 || *r <= -((int64_t)1 << 61))
		return HGQ_ERANGE;
	return HGQ_OK;
}

static void
cal_track(int64_t *mn, int64_t *mx, uint32_t j, int64_t r)
{
	if (r < mn[j])
		mn[j] = r;
	if (r > mx[j])
		mx[j] = r;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx2", "default"), optimize("O3")))
#endif
static void *
cal_job_main(void *arg)
{
	struct cal_job *jb = arg;
	const struct hgq_model *m = jb->m;
	const struct hgq_engine *e = jb->e;
	uint32_t n0 = m->layers[0].n_out;

	for (size_t s = jb->s0; s < jb->s1 && jb->rc == HGQ_OK; s++) {
		const double *xs = jb->x + s * m->n_raw;

		if (e == NULL) {
			/* the input quantizer: ranges of the rounded values */
			for (uint32_t j = 0; j < n0; j++) {
				int64_t r;

				if (cal_input_round(m, j, xs[m->index_map[j]],
				    jb->in_sc2f[j], &r) != HGQ_OK) {
					jb->rc = HGQ_ERANGE;
					jb->bad_j = j;
					jb->bad_x = xs[m->index_map[j]];
					break;
				}
				cal_track(jb->mn, jb->mx, j, r);
			}
			continue;
		}
		sample_run(e, e->n_ops, xs, jb->out, jb->counts, jb->buf);
		for (uint32_t j = 0; j < jb->width; j++)
			cal_track(jb->mn, jb->mx, j, jb->out[j]);
		if (jb->mid_width > 0) {
			const int64_t *mid = sample_mid(e, e->n_ops, jb->buf);

			for (uint32_t j = 0; j < jb->mid_width; j++)
				cal_track(jb->mn, jb->mx, jb->width + j,
				    mid[j]);
		}
	}
	return NULL;
}

/*
 * cal_run - run one calibration stage over all rows on nt threads and
 * merge the ranges into mn/mx (width entries).  Returns the first job's
 * error, if any, with the job in *bad.
 */
static int
cal_run(const struct cal_job *proto, size_t n, int nt, int64_t *mn,
    int64_t *mx, int64_t *mem, size_t per_thread, struct cal_job *bad)
{
	struct cal_job jobs[MAX_THREADS];
	uint32_t width = proto->width + proto->mid_width;
	int t;

	for (t = 0; t < nt; t++) {
		int64_t *base = mem + (size_t)t * per_thread;

		jobs[t] = *proto;
		jobs[t].s0 = n * t / nt;
		jobs[t].s1 = n * (t + 1) / nt;
		jobs[t].mn = base;
		jobs[t].mx = base + width;
		jobs[t].out = base + 2 * (size_t)width;
		jobs[t].counts = (uint64_t *)(base + 3 * (size_t)width);
		jobs[t].buf = base + 3 * (size_t)width + HGQ_MAX_LAYERS + 8;
		for (uint32_t j = 0; j < width; j++)
			jobs[t].mn[j] = jobs[t].mx[j] = 0;
	}
	hgq_fan_out(cal_job_main, jobs, sizeof(jobs[0]), nt);
	for (uint32_t j = 0; j < width; j++)
		mn[j] = mx[j] = 0;
	for (t = 0; t < nt; t++) {
		if (jobs[t].rc != HGQ_OK) {
			*bad = jobs[t];
			return jobs[t].rc;
		}
		for (uint32_t j = 0; j < width; j++) {
			cal_track(mn, mx, j, jobs[t].mn[j]);
			cal_track(mn, mx, j, jobs[t].mx[j]);
		}
	}
	return HGQ_OK;
}

/* the range seen of quantizer q: mantissas mn/mx at its f, as values */
static void
cal_seen(struct hgq_layer *q, const int64_t *mn, const int64_t *mx)
{
	for (uint32_t j = 0; j < q->n_out; j++) {
		q->cal_min[j] = ldexp((double)mn[j], -q->f[j]);
		q->cal_max[j] = ldexp((double)mx[j], -q->f[j]);
	}
}

/* set k, i of quantizer q from the mantissa ranges mn/mx (n elements) */
static int
calib_set(struct hgq_layer *q, uint32_t li, const int64_t *mn,
    const int64_t *mx, struct hgq_err *err)
{
	for (uint32_t j = 0; j < q->n_out; j++) {
		int k, i;

		hgq_fmt_from_range(mn[j], mx[j], q->f[j], &k, &i);
		/* SAT_SYM holds -(2^(i+f) - 1) at the most: one more
		   integer bit when the range reaches -2^(i+f) */
		if (q->overflow == HGQ_SAT_SYM && k == 1 && i + q->f[j] >= 0
		    && i + q->f[j] < 62 &&
		    mn[j] == -((int64_t)1 << (i + q->f[j])))
			i++;
		if (i < -HGQ_MAX_IF || i > HGQ_MAX_IF ||
		    k + i + q->f[j] > HGQ_MAX_WIDTH)
			return hgq_errf(err, HGQ_ERANGE, "layer %u element %u: "
			    "calibrated format k=%d i=%d f=%d exceeds the "
			    "limits (width <= %d, |i| <= %d)", li, j, k, i,
			    q->f[j], HGQ_MAX_WIDTH, HGQ_MAX_IF);
		q->k[j] = (int8_t)k;
		q->i[j] = (int8_t)i;
	}
	cal_seen(q, mn, mx);
	return HGQ_OK;
}

/*
 * union_set - quantizer q (layer li + 1) after the flatten or max-pool
 * li, whose input is quantizer qin: each element gets the union of the
 * formats of the elements that reach it, those of width > 0 (k, i, f
 * the largest; width 0, at its own f, when none has a width).
 */
static int
union_set(const struct hgq_model *m, uint32_t li, struct hgq_layer *q,
    struct hgq_err *err)
{
	const struct hgq_layer *qin = &m->layers[hgq_layer_input(m, li, 0)];
	struct hgq_window w;
	uint32_t *idx = NULL, n_win = 1;
	int rc;

	if (m->layers[li].kind == HGQ_LAYER_MAXPOOL) {
		if ((rc = hgq_layer_window(m, li, &w, err)) != HGQ_OK)
			return rc;
		n_win = w.k_h * w.k_w;
		if ((idx = hgq_calloc(w.n_taps, sizeof(uint32_t))) == NULL)
			return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	}
	for (uint32_t j = 0; j < q->n_out; j++) {
		int k = 0, i = INT32_MIN, f = INT32_MIN;

		if (idx != NULL && j % w.in_c == 0)
			hgq_window_taps(&w, j / w.in_c, idx);
		for (uint32_t t = 0; t < n_win; t++) {
			uint32_t s = idx == NULL ? j :
			    idx[t * w.in_c + j % w.in_c];

			if (hgq_fmt_width(qin->k[s], qin->i[s], qin->f[s]) ==
			    0)
				continue;
			k = qin->k[s] > k ? qin->k[s] : k;
			i = qin->i[s] > i ? qin->i[s] : i;
			f = qin->f[s] > f ? qin->f[s] : f;
		}
		if (f == INT32_MIN) {
			k = 0;
			f = q->f[j];
			i = -f;
		}
		/* q's own overflow mode may hold less (SAT_SYM drops
		   -2^(i+f)): one more integer bit until every source range
		   fits */
		for (uint32_t t = 0; t < n_win && k + i + f <= HGQ_MAX_WIDTH;
		    t++) {
			uint32_t s = idx == NULL ? j :
			    idx[t * w.in_c + j % w.in_c];
			struct hgq_ival r;
			int64_t lo, hi;

			if (hgq_fmt_width(qin->k[s], qin->i[s], qin->f[s]) ==
			    0)
				continue;
			hgq_fmt_range(qin->k[s], qin->i[s], qin->f[s],
			    qin->overflow, &r.lo, &r.hi);
			r.e = -qin->f[s];
			hgq_fmt_range(k, i, f, q->overflow, &lo, &hi);
			if (hgq_ival_rescale(&r, -f) != HGQ_OK ||
			    r.lo < lo || r.hi > hi) {
				i++;
				t = UINT32_MAX;	/* again, from the first */
			}
		}
		if (k + i + f > HGQ_MAX_WIDTH) {
			free(idx);
			return hgq_errf(err, HGQ_ERANGE, "layer %u element %u:"
			    " the union format k=%d i=%d f=%d is wider than "
			    "%d bits", li + 1, j, k, i, f, HGQ_MAX_WIDTH);
		}
		q->k[j] = (int8_t)k;
		q->i[j] = (int8_t)i;
		q->f[j] = (int8_t)f;
	}
	free(idx);
	return HGQ_OK;
}


/*
 * From now on quantizer 2 s + 2 as calibrated: on the data the same
 * numbers as rounding alone
 */
static void
qo_set_calibrated(struct hgq_engine *e, const struct hgq_model *m,
    uint32_t s)
{
	const struct hgq_layer *qo = &m->layers[2 * s + 2];

	for (uint32_t j = 0; j < qo->n_out; j++) {
		int f = qo->f[j], from = e->ops[s].from[j];

		if (hgq_fmt_width(qo->k[j], qo->i[j], f) == 0 && f > from)
			f = from;
		hgq_qop_init(&e->qo[s][j], from, qo->k[j], qo->i[j], f,
		    qo->round, qo->overflow);
	}
}

/*
 * cal_prepare - check the parts calibration needs and give every
 * quantizer a provisional zero-width format so that the model validates.
 */
static int
cal_prepare(struct hgq_model *m, struct hgq_err *err)
{
	for (uint32_t l = 0; l < m->n_layers; l++) {
		struct hgq_layer *L = &m->layers[l];

		if (L->kind == HGQ_LAYER_QUANT && (L->k == NULL ||
		    L->i == NULL || L->f == NULL))
			return hgq_errf(err, HGQ_EINVAL, "layer %u: quantizer "
			    "without a fixed-point part", l);
		if ((L->kind == HGQ_LAYER_DENSE ||
		    L->kind == HGQ_LAYER_CONV1D ||
		    L->kind == HGQ_LAYER_CONV2D) && (L->w_m == NULL ||
		    L->w_f == NULL || L->b_m == NULL || L->b_f == NULL))
			return hgq_errf(err, HGQ_EINVAL, "layer %u: %s layer "
			    "without quantized weights", l,
			    hgq_layer_kind_name(L->kind));
		if (L->kind == HGQ_LAYER_QUANT) {
			for (uint32_t j = 0; j < L->n_out; j++) {
				L->k[j] = 0;
				L->i[j] = (int8_t)-L->f[j];
			}
			if (L->cal_min == NULL)
				L->cal_min = hgq_calloc(L->n_out,
				    sizeof(double));
			if (L->cal_max == NULL)
				L->cal_max = hgq_calloc(L->n_out,
				    sizeof(double));
			if (L->cal_min == NULL || L->cal_max == NULL)
				return hgq_errf(err, HGQ_ENOMEM,
				    "out of memory");
		}
	}
	return HGQ_OK;
}

/* ---------------------------------------------------------------- */
/* Calibration of graphs                                             */
/* ---------------------------------------------------------------- */

/*
 * A graph is calibrated in waves: a wave is every step not calibrated
 * yet whose operation reads calibrated quantizers only (at first the
 * input steps).  One pass runs all rows through the wave's steps in
 * their calibration form (an input step rounds only, saturating at
 * 2^61; an operation's quantizer rounds to f, a table holds the rounded
 * values) and through the calibrated steps they depend on, nothing else,
 * and tracks the range of every wave step's values; each wave quantizer
 * then gets its format (calib_set) and its step is prepared again,
 * calibrated: on the data it is the identity.  A step's format depends
 * on its ancestors and the data only, so the order of the waves does not
 * matter; their number is the depth of the graph (parallel branches
 * share their passes).  A union quantizer (union_set) has its format
 * before its pass, which only records the range seen.
 */
struct gcal_wave {
	uint32_t	 n;		/* steps in the wave */
	uint32_t	*step;		/* n: their indices, ascending */
	uint32_t	*at;		/* n: where their ranges start in mn */
	uint32_t	 width;		/* their elements */
	uint8_t		*run;		/* n_alloc: the steps a pass runs */
	uint32_t	 end;		/* the last wave step + 1 */
};

struct gcal_job {
	const struct hgq_engine *e;
	const struct gcal_wave *w;
	const double	*x;
	size_t		 s0, s1;
	int64_t		*mn, *mx;	/* the wave's ranges (width) */
	uint64_t	*counts;	/* n_quant, ignored */
	int64_t		*buf;		/* the engine's scratch */
};

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx2", "default"), optimize("O3")))
#endif
static void *
gcal_job_main(void *arg)
{
	struct gcal_job *jb = arg;
	const struct hgq_engine *e = jb->e;
	const struct gcal_wave *w = jb->w;

	for (size_t s = jb->s0; s < jb->s1; s++) {
		graph_sample(e, w->end, w->run, jb->x + s * e->n_raw,
		    jb->counts, jb->buf);
		for (uint32_t k = 0; k < w->n; k++) {
			const struct gstep *st = &e->g->steps[w->step[k]];

			for (uint32_t j = 0; j < st->n; j++)
				cal_track(jb->mn, jb->mx, w->at[k] + j,
				    jb->buf[st->dst + j]);
		}
	}
	return NULL;
}

/* gcal_run - wave w over the n rows x on nt threads into mn/mx */
static void
gcal_run(const struct hgq_engine *e, const struct gcal_wave *w,
    const double *x, size_t n, int nt, int64_t *mem, size_t per_thread,
    int64_t *mn, int64_t *mx)
{
	struct gcal_job jobs[MAX_THREADS];
	uint32_t wd = w->width;

	for (int t = 0; t < nt; t++) {
		int64_t *base = mem + (size_t)t * per_thread;

		jobs[t] = (struct gcal_job){ e, w, x, n * t / nt,
		    n * (t + 1) / nt, base, base + wd,
		    (uint64_t *)(base + 2 * (size_t)wd),
		    base + 2 * (size_t)wd + e->n_quant };
		for (uint32_t j = 0; j < wd; j++)
			jobs[t].mn[j] = jobs[t].mx[j] = 0;
	}
	hgq_fan_out(gcal_job_main, jobs, sizeof(jobs[0]), nt);
	for (uint32_t j = 0; j < wd; j++)
		mn[j] = mx[j] = 0;
	for (int t = 0; t < nt; t++)
		for (uint32_t j = 0; j < wd; j++) {
			cal_track(mn, mx, j, jobs[t].mn[j]);
			cal_track(mn, mx, j, jobs[t].mx[j]);
		}
}

/* input step st rounds only (saturating at 2^61): calibration's view */
static void
gcal_input(struct hgq_engine *e, const struct gstep *st)
{
	for (uint32_t p = st->p0; p < st->p0 + st->n; p++) {
		int f = e->in_f[p];

		e->in_k[p] = 1;
		e->in_i[p] = (int8_t)(61 - f);
		e->g->in_om[p] = HGQ_SAT;
		hgq_qop_init(&e->in_q[p], f, 1, 61 - f, f, e->g->in_rm[p],
		    HGQ_SAT);
	}
}

/* is step s a union quantizer (its format known before its pass)? */
static bool
gcal_union(const struct hgq_engine *e, const struct hgq_model *m,
    uint32_t s)
{
	const struct gstep *st = &e->g->steps[s];
	uint32_t li = hgq_layer_input(m, st->layer, 0);

	return st->kind != STEP_INPUT && !m->layers[st->layer].trainable &&
	    (m->layers[li].kind == HGQ_LAYER_FLATTEN ||
	    m->layers[li].kind == HGQ_LAYER_MAXPOOL);
}

/*
 * gcal_wave - the next wave after the steps done marks (w->n = 0 when
 * every step is done): its steps, where their ranges go, and the steps
 * a pass runs (the wave and its ancestors)
 */
static void
gcal_wave(const struct hgq_engine *e, const struct hgq_model *m,
    const uint8_t *done, const uint32_t *sidx, struct gcal_wave *w)
{
	const struct graph *g = e->g;

	w->n = w->width = w->end = 0;
	memset(w->run, 0, g->n_alloc);
	for (uint32_t s = 0; s < g->n_alloc; s++) {
		const struct gstep *st = &g->steps[s];
		uint32_t li = hgq_layer_input(m, st->layer, 0);
		bool ready = !done[s];

		for (uint32_t q = 0; ready && st->kind != STEP_INPUT &&
		    q < st->n_src; q++)
			ready = done[sidx[hgq_layer_input(m, li, q)]];
		if (!ready)
			continue;
		w->run[s] = 1;
		w->step[w->n] = s;
		w->at[w->n++] = w->width;
		w->width += st->n;
		w->end = s + 1;
	}
	for (uint32_t s = w->end; s-- > 0; ) {
		const struct gstep *st = &g->steps[s];
		uint32_t li = hgq_layer_input(m, st->layer, 0);

		for (uint32_t q = 0; w->run[s] && st->kind != STEP_INPUT &&
		    q < st->n_src; q++)
			w->run[sidx[hgq_layer_input(m, li, q)]] = 1;
	}
}

/* gcal_begin - step s in its calibration form (or its union format) */
static int
gcal_begin(struct hgq_engine *e, struct hgq_model *m, uint32_t s,
    struct hgq_err *err)
{
	struct gstep *st = &e->g->steps[s];
	bool uni = gcal_union(e, m, s);
	int rc;

	if (uni && (rc = union_set(m, hgq_layer_input(m, st->layer, 0),
	    &m->layers[st->layer], err)) != HGQ_OK)
		return rc;
	if (st->kind == STEP_INPUT) {
		gcal_input(e, st);
		return HGQ_OK;
	}
	return graph_prepare(e, m, s, !uni, err);
}

/* gcal_end - step s calibrated from the ranges mn/mx of its values */
static int
gcal_end(struct hgq_engine *e, struct hgq_model *m, uint32_t s,
    const int64_t *mn, const int64_t *mx, struct hgq_err *err)
{
	struct gstep *st = &e->g->steps[s];
	struct hgq_layer *q = &m->layers[st->layer];
	int rc;

	if (gcal_union(e, m, s)) {
		cal_seen(q, mn, mx);
		return HGQ_OK;
	}
	if ((rc = calib_set(q, st->layer, mn, mx, err)) != HGQ_OK)
		return rc;
	if (st->kind == STEP_INPUT)
		engine_input(e, m);
	else
		gstep_release(st);
	return graph_prepare(e, m, s, 0, err);
}

/* gcal_waves - calibrate e's graph wave by wave; the buffers allocated */
static int
gcal_waves(struct hgq_engine *e, struct hgq_model *m, const double *x,
    size_t n, int nt, int64_t *mem, size_t per_thread, int64_t *mn,
    int64_t *mx, uint8_t *done, uint32_t *sidx, struct gcal_wave *w,
    struct hgq_err *err)
{
	int rc;

	for (uint32_t s = 0; s < e->g->n_alloc; s++)
		sidx[e->g->steps[s].layer] = s;
	e->g->n_steps = e->g->n_alloc;
	for (gcal_wave(e, m, done, sidx, w); w->n > 0;
	    gcal_wave(e, m, done, sidx, w)) {
		for (uint32_t k = 0; k < w->n; k++)
			if ((rc = gcal_begin(e, m, w->step[k], err)) != HGQ_OK)
				return rc;
		gcal_run(e, w, x, n, nt, mem, per_thread, mn, mx);
		for (uint32_t k = 0; k < w->n; k++) {
			if ((rc = gcal_end(e, m, w->step[k], mn + w->at[k],
			    mx + w->at[k], err)) != HGQ_OK)
				return rc;
			done[w->step[k]] = 1;
		}
	}
	return HGQ_OK;
}

/* graph_calibrate - hgq_calibrate of a graph (validated, provisional) */
static int
graph_calibrate(struct hgq_model *m, const double *x, size_t n, int nt,
    struct hgq_err *err)
{
	struct hgq_engine *e = NULL;
	struct gcal_wave w = { 0 };
	int64_t *mem = NULL, *mn = NULL, *mx = NULL;
	uint8_t *done = NULL;
	uint32_t *sidx = NULL, ns;
	size_t per_thread;
	int rc;

	if ((rc = engine_alloc(&e, m, err)) != HGQ_OK)
		return rc;
	ns = e->g->n_alloc;
	per_thread = 2 * e->g->n_val + e->n_quant + e->per_buf;
	if ((mem = hgq_calloc((size_t)nt * per_thread, sizeof(int64_t))) ==
	    NULL || (mn = hgq_calloc(e->g->n_val, sizeof(int64_t))) == NULL ||
	    (mx = hgq_calloc(e->g->n_val, sizeof(int64_t))) == NULL ||
	    (done = hgq_calloc(ns, 1)) == NULL ||
	    (sidx = hgq_calloc(m->n_layers, sizeof(uint32_t))) == NULL ||
	    (w.step = hgq_calloc(ns, sizeof(uint32_t))) == NULL ||
	    (w.at = hgq_calloc(ns, sizeof(uint32_t))) == NULL ||
	    (w.run = hgq_calloc(ns, 1)) == NULL)
		rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
	else
		rc = gcal_waves(e, m, x, n, nt, mem, per_thread, mn, mx, done,
		    sidx, &w, err);
	hgq_engine_free(e);
	free(mem);
	free(mn);
	free(mx);
	free(done);
	free(sidx);
	free(w.step);
	free(w.at);
	free(w.run);
	return rc;
}

int
hgq_calibrate(struct hgq_model *m, const double *x, size_t n, int threads,
    struct hgq_err *err)
{
	struct hgq_engine *e = NULL;
	double *sc2f = NULL;
	int64_t *mn = NULL, *mx = NULL, *mem = NULL;
	struct hgq_ival *xin = NULL;
	struct cal_job proto, bad;
	uint32_t max_n = 0, n0;
	size_t per_thread;
	int nt, rc;

	m->calibrated = 0;
	if ((rc = cal_prepare(m, err)) != HGQ_OK)
		return rc;
	m->calibrated = 1;
	if ((rc = hgq_model_validate(m, err)) != HGQ_OK)
		goto out;
	nt = hgq_n_threads(threads, MAX_THREADS);
	if ((size_t)nt > n / 64 + 1)
		nt = (int)(n / 64 + 1);
	if (!hgq_model_is_chain(m)) {
		rc = graph_calibrate(m, x, n, nt, err);
		goto out;
	}
	for (uint32_t l = 0; l < m->n_layers; l++)
		if (m->layers[l].n_out > max_n)
			max_n = m->layers[l].n_out;
	n0 = m->layers[0].n_out;
	/* mn, mx: the ranges of two stages at most (2 x max_n each) */
	/* per thread: ranges (of two stages at most: 2 x 2 x max_n) and
	   one sample's outputs (up to 2 x max_n before the counters), the
	   overflow counters, the engine's scratch */
	per_thread = 6 * (size_t)max_n + HGQ_MAX_LAYERS + 8 +
	    scratch_len(m);
	if ((mem = hgq_calloc((size_t)nt * per_thread, sizeof(int64_t)))
	    == NULL || (mn = hgq_calloc(2 * (size_t)max_n,
	    sizeof(int64_t))) == NULL || (mx = hgq_calloc(2 * (size_t)max_n,
	    sizeof(int64_t))) == NULL ||
	    (sc2f = hgq_calloc(n0, sizeof(double))) == NULL ||
	    (xin = hgq_calloc(max_n, sizeof(*xin))) == NULL) {
		rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		goto out;
	}

	/* the input quantizer */
	for (uint32_t j = 0; j < n0; j++) {
		uint32_t c = m->index_map[j];

		sc2f[j] = ldexp(m->norm_scale != NULL ? m->norm_scale[c] : 1.0,
		    m->layers[0].f[j]);
	}
	memset(&proto, 0, sizeof(proto));
	proto.in_sc2f = sc2f;
	proto.m = m;
	proto.x = x;
	proto.width = n0;
	rc = cal_run(&proto, n, nt, mn, mx, mem, per_thread, &bad);
	if (rc != HGQ_OK) {
		rc = hgq_errf(err, HGQ_ERANGE, "layer 0 element %u: input "
		    "value %g is out of range at f=%d", bad.bad_j,
		    bad.bad_x, m->layers[0].f[bad.bad_j]);
		goto out;
	}
	if ((rc = calib_set(&m->layers[0], 0, mn, mx, err)) != HGQ_OK)
		goto out;
	if ((rc = engine_alloc(&e, m, err)) != HGQ_OK)
		goto out;

	/*
	 * Every operation, then its output quantizer.  The quantizer after
	 * a max pooling or a flatten has its (union) format before the data,
	 * so its data pass, which only records the range seen, is deferred
	 * to the next operation's pass: that pass leaves its output in the
	 * engine's buffer too (sample_mid).  A flatten after a deferred
	 * stage is deferred as well: it passes the values as they are, in
	 * the same format, so both quantizers saw the same range.
	 */
	for (uint32_t s = 0, n_pend = 0; s < e->n_alloc; s++) {
		uint32_t l = 2 * s + 1;
		struct hgq_layer *qo = &m->layers[l + 1];
		struct op_prep *o = &e->ops[s];

		bool uni = !qo->trainable && (m->layers[l].kind ==
		    HGQ_LAYER_FLATTEN || m->layers[l].kind ==
		    HGQ_LAYER_MAXPOOL);

		/* a union format is known before the data: the data pass
		   then only records the range seen, at its f */
		if (uni && (rc = union_set(m, l, qo, err)) != HGQ_OK)
			goto out;
		fmt_ivals(&m->layers[l - 1], xin);
		if ((rc = op_prepare(o, m, l, xin, qo, 1, e->qo[s], NULL,
		    err)) != HGQ_OK)
			goto out;
		e->n_ops = s + 1;
		if (uni && s + 1 < e->n_alloc && (n_pend == 0 ||
		    m->layers[l].kind == HGQ_LAYER_FLATTEN)) {
			qo_set_calibrated(e, m, s);
			n_pend++;
			continue;
		}
		proto.e = e;
		proto.width = qo->n_out;
		proto.mid_width = n_pend > 0 ? m->layers[l - 1].n_out : 0;
		rc = cal_run(&proto, n, nt, mn, mx, mem, per_thread, &bad);
		for (uint32_t p = 1; rc == HGQ_OK && p <= n_pend; p++)
			cal_seen(&m->layers[l + 1 - 2 * p], mn + qo->n_out,
			    mx + qo->n_out);
		n_pend = 0;
		if (rc == HGQ_OK && uni)
			cal_seen(qo, mn, mx);
		else if (rc == HGQ_OK)
			rc = calib_set(qo, l + 1, mn, mx, err);
		if (rc != HGQ_OK)
			goto out;
		qo_set_calibrated(e, m, s);
	}
out:
	if (rc != HGQ_OK)
		m->calibrated = 0;
	hgq_engine_free(e);
	free(mem);
	free(mn);
	free(mx);
	free(sc2f);
	free(xin);
	return rc;
}
/* ---------------------------------------------------------------- */
/* The packed port layout                                            */
/* ---------------------------------------------------------------- */

uint64_t
hgq_packed_width(const struct hgq_layer *q)
{
	uint64_t w = 0;

	for (uint32_t j = 0; j < q->n_out; j++)
		w += hgq_fmt_width(q->k[j], q->i[j], q->f[j]);
	return w;
}

void
hgq_pack_hex(const struct hgq_layer *q, const int64_t *mant, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t width = hgq_packed_width(q), pos = 0;
	size_t nd = (size_t)((width + 3) / 4);

	memset(buf, '0', nd);
	buf[nd] = '\0';
	for (uint32_t j = 0; j < q->n_out; j++) {
		int w = hgq_fmt_width(q->k[j], q->i[j], q->f[j]);
		uint64_t u = (uint64_t)mant[j];

		for (int b = 0; b < w; b++, pos++) {
			if ((u >> b) & 1) {
				size_t d = nd - 1 - (size_t)(pos / 4);
				int v = (buf[d] <= '9' ? buf[d] - '0' :
				    buf[d] - 'a' + 10) | 1 << (pos % 4);

				buf[d] = hex[v];
			}
		}
	}
}
