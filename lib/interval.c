/*
 * interval.c - exact value ranges of fixed-point values, shared by the
 * CMVM solver (cmvm.c), the IR (ir.c), the Verilog emitter (verilog.c)
 * and the simulator (sim.c).
 *
 * An interval (struct hgq_ival) is a mantissa range [lo, hi] at an
 * exponent e: the value is m * 2^e with lo <= m <= hi and |lo|, |hi| <
 * 2^62 (HGQ_IVAL_LIMIT).  Two kinds of ranges live here:
 *
 *   propagated  hgq_ival_add(): the range of a +- b * 2^shift from the
 *               ranges of a and b, as an adder graph computes it; exact
 *               for one adder, but a graph that reuses a sub-expression
 *               (a CMVM) can widen it, since the operands are not
 *               independent;
 *   exact       hgq_dense_range(): the range of one output of a dense
 *               layer, b + sum_i x_i * w_i, over independent inputs x_i:
 *               sum_i min(w_i lo_i, w_i hi_i) + b .. sum_i max(...) + b,
 *               both ends attained, computed in exact dyadic integers.
 *               The IR narrows the adder that yields an output to it, so
 *               that widths, clips and LUT estimates follow the sum and
 *               not the shape of its graph; the simulator picks its
 *               accumulators from it.  hgq_ival_quant() carries such a
 *               range through ReLU and a quantizer to the next layer.
 */
#include <stdint.h>

#include "internal.h"


int
hgq_ival_width(int64_t lo, int64_t hi, int *sgn)
{
	int w = 0;

	if (sgn != NULL)
		*sgn = lo < 0;
	if (lo < 0) {
		/* smallest w with -2^(w-1) <= lo and hi < 2^(w-1) */
		w = 1;
		while (w < 64 && ((lo < -((int64_t)1 << (w - 1))) ||
		    (hi >= 0 && (hi >> (w - 1)) != 0)))
			w++;
		return w;
	}
	while (w < 63 && (hi >> w) != 0)
		w++;
	return w;
}

/* v * 2^s for 0 <= s, refusing results outside (-2^62, 2^62) */
static int
shl_checked(int64_t v, int s, __int128 *out)
{
	__int128 r = v;

	if (v == 0) {
		*out = 0;
		return 0;
	}
	if (s > 62)
		return -1;
	r *= (__int128)1 << s;
	if (r >= HGQ_IVAL_LIMIT || r <= -HGQ_IVAL_LIMIT)
		return -1;
	*out = r;
	return 0;
}

int
hgq_ival_add(struct hgq_ival *out, const struct hgq_ival *a,
    const struct hgq_ival *b, int shift, int sub)
{
	__int128 alo, ahi, blo, bhi, lo, hi;
	int64_t eb = (int64_t)b->e + shift;
	int64_t eo = a->e < eb ? a->e : eb;

	if (eb > INT32_MAX / 2 || eb < INT32_MIN / 2)
		return HGQ_ERANGE;
	if (shl_checked(a->lo, (int)(a->e - eo), &alo) != 0 ||
	    shl_checked(a->hi, (int)(a->e - eo), &ahi) != 0 ||
	    shl_checked(b->lo, (int)(eb - eo), &blo) != 0 ||
	    shl_checked(b->hi, (int)(eb - eo), &bhi) != 0)
		return HGQ_ERANGE;
	if (sub) {
		lo = alo - bhi;
		hi = ahi - blo;
	} else {
		lo = alo + blo;
		hi = ahi + bhi;
	}
	if (lo <= -HGQ_IVAL_LIMIT || hi >= HGQ_IVAL_LIMIT)
		return HGQ_ERANGE;
	out->lo = (int64_t)lo;
	out->hi = (int64_t)hi;
	out->e = (int32_t)eo;
	return HGQ_OK;
}

/*
 * The adder that computes out = a +- b * 2^shift spans the result's bits
 * from the first position where both operands may hold non-zero bits; the
 * low bits of the finer operand pass through as wires when that operand
 * is added (not subtracted).  When the coarse operand is added and the
 * fine one is unsigned and ends below it, the sum is a concatenation.
 * verilog.c emits this split (cut to the bits the consumers read, see
 * hgq_ir_add_split); ir.c counts its LUTs.
 */
int
hgq_add_span(const struct hgq_ival *a, const struct hgq_ival *b, int shift,
    int sub, const struct hgq_ival *out, int *low)
{
	int wo = hgq_ival_width(out->lo, out->hi, NULL);
	int64_t pa = (int64_t)a->e - out->e;
	int64_t pb = (int64_t)b->e + shift - out->e;
	const struct hgq_ival *fine;
	int fine_sgn, wf;
	int64_t l;

	*low = 0;
	if (pa == pb)
		return wo;
	if (pa < pb) {
		fine = a;
		l = pb;
	} else {
		if (sub)
			return wo;	/* -b's low bits need the carry chain */
		fine = b;
		l = pa;
	}
	if (l >= wo) {
		*low = wo;
		return 0;
	}
	*low = (int)l;
	wf = hgq_ival_width(fine->lo, fine->hi, &fine_sgn);
	/* coarse operand added, fine one unsigned below it: concatenation */
	if (!fine_sgn && wf <= l && !(sub && fine == a))
		return 0;
	return wo - (int)l;
}

/* the exponent of the lowest set bit of m * 2^e (m != 0) */
static int64_t
lsb_exp(int64_t m, int64_t e)
{
	return e + __builtin_ctzll((uint64_t)m);
}

/* *out = v * 2^s, s >= 0, refusing |result| >= 2^62 */
static int
scale_up(__int128 v, int64_t s, __int128 *out)
{
	if (v == 0) {
		*out = 0;
		return 0;
	}
	if (s < 0 || s > 62)
		return -1;
	v *= (__int128)1 << s;
	if (v >= HGQ_IVAL_LIMIT || v <= -HGQ_IVAL_LIMIT)
		return -1;
	*out = v;
	return 0;
}

int
hgq_dense_range(struct hgq_ival *y, const struct hgq_layer *d, uint32_t j,
    const struct hgq_ival *x, int with_bias)
{
	uint32_t no = d->n_out;
	int64_t e = INT64_MAX;
	__int128 lo = 0, hi = 0, t;

	y->lo = y->hi = 0;
	y->e = 0;
	/* the finest LSB among the terms that can be non-zero: the sum is
	   a multiple of 2^e, and no finer exponent is needed */
	for (uint32_t i = 0; i < d->n_in; i++) {
		int32_t w = d->w_m[(size_t)i * no + j];

		if (w != 0 && (x[i].lo != 0 || x[i].hi != 0) &&
		    lsb_exp(w, (int64_t)x[i].e - d->w_f[(size_t)i * no + j]) <
		    e)
			e = lsb_exp(w, (int64_t)x[i].e -
			    d->w_f[(size_t)i * no + j]);
	}
	if (with_bias && d->b_m[j] != 0 && lsb_exp(d->b_m[j], -d->b_f[j]) < e)
		e = lsb_exp(d->b_m[j], -d->b_f[j]);
	if (e == INT64_MAX)
		return HGQ_OK;			/* always 0 */
	if (e < INT32_MIN / 2 || e > INT32_MAX / 2)
		return HGQ_ERANGE;
	for (uint32_t i = 0; i < d->n_in; i++) {
		size_t at = (size_t)i * no + j;
		int64_t w = d->w_m[at], ew;
		__int128 a, b;

		if (w == 0 || (x[i].lo == 0 && x[i].hi == 0))
			continue;
		/* w * x with w odd, at exponent ew >= e: the smaller and the
		   larger end */
		ew = lsb_exp(w, (int64_t)x[i].e - d->w_f[at]);
		w /= (int64_t)1 << __builtin_ctzll((uint64_t)w);
		a = (__int128)w * x[i].lo;
		b = (__int128)w * x[i].hi;
		if (scale_up(a < b ? a : b, ew - e, &t) != 0)
			return HGQ_ERANGE;
		lo += t;
		if (scale_up(a < b ? b : a, ew - e, &t) != 0)
			return HGQ_ERANGE;
		hi += t;
	}
	if (with_bias && d->b_m[j] != 0) {
		int c = __builtin_ctzll((uint64_t)d->b_m[j]);

		if (scale_up(d->b_m[j] / ((int64_t)1 << c),
		    lsb_exp(d->b_m[j], -d->b_f[j]) - e, &t) != 0)
			return HGQ_ERANGE;
		lo += t;
		hi += t;
	}
	/* n_in <= 2^24 terms below 2^62 each: no __int128 overflow */
	if (lo <= -HGQ_IVAL_LIMIT || hi >= HGQ_IVAL_LIMIT)
		return HGQ_ERANGE;
	y->lo = (int64_t)lo;
	y->hi = (int64_t)hi;
	y->e = (int32_t)e;
	return HGQ_OK;
}

int
hgq_ival_rescale(struct hgq_ival *v, int32_t e)
{
	__int128 lo, hi;

	if (v->lo == 0 && v->hi == 0) {
		v->e = e;
		return HGQ_OK;
	}
	if (e > v->e)
		return HGQ_EINVAL;
	if (scale_up(v->lo, (int64_t)v->e - e, &lo) != 0 ||
	    scale_up(v->hi, (int64_t)v->e - e, &hi) != 0)
		return HGQ_ERANGE;
	v->lo = (int64_t)lo;
	v->hi = (int64_t)hi;
	v->e = e;
	return HGQ_OK;
}

/* the mantissa m at exponent e rounded to 2^-f, beyond 2^62: clamped */
static int64_t
round_to(int64_t m, int32_t e, int f, int round)
{
	__int128 t;

	if ((int64_t)e + f <= 0)
		return hgq_round_mant(m, -e, f, round);
	if (scale_up(m, (int64_t)e + f, &t) == 0)
		return (int64_t)t;
	return m < 0 ? -HGQ_IVAL_LIMIT + 1 : HGQ_IVAL_LIMIT - 1;
}

void
hgq_ival_quant(struct hgq_ival *out, const struct hgq_ival *y, int relu,
    int k, int i, int f, int round, int overflow)
{
	int64_t lo = y->lo, hi = y->hi, flo, fhi;

	hgq_fmt_range(k, i, f, overflow, &flo, &fhi);
	out->e = -f;
	if (k + i + f <= 0) {
		out->lo = out->hi = 0;
		return;
	}
	if (relu) {
		lo = lo < 0 ? 0 : lo;
		hi = hi < 0 ? 0 : hi;
	}
	/* rounding and saturation are monotone: the ends map to the ends;
	   a wrap is the identity inside the format, anything beyond */
	lo = round_to(lo, y->e, f, round);
	hi = round_to(hi, y->e, f, round);
	if (overflow == HGQ_WRAP && (lo < flo || hi > fhi)) {
		lo = flo;
		hi = fhi;
	}
	out->lo = lo < flo ? flo : lo > fhi ? fhi : lo;
	out->hi = hi < flo ? flo : hi > fhi ? fhi : hi;
}
