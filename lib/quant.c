/*
 * quant.c - the fixed-point semantics of hgq, in one place.
 *
 * A format is (k, i, f); a value is a mantissa m meaning m * 2^-f; the
 * width is w = k+i+f and w <= 0 means "always 0" (see hgq.h).  Two paths
 * implement the same meaning:
 *
 *   integer   hgq_quant_mant() and friends: mantissas in int64_t, used by
 *             the simulator, the calibration and the Verilog emitter;
 *   float     hgq_fq_f64() / hgq_fq_f32(): the reference formulas of
 *             hgq-algorithm.md section 2 evaluated in floating point, used
 *             by training (fake quantization).
 *
 * tests/unit/check_quant.c sweeps values and formats and requires both
 * paths to give the same numbers.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

_Static_assert((-5 >> 1) == -3, "hgq needs an arithmetic >> on signed types");

/* floor(m / 2^s) for 0 <= s <= 62, without relying on >> of negatives */
static int64_t
floor_shift(int64_t m, int s)
{
	if (m >= 0)
		return m >> s;
	return -(((-(m + 1)) >> s)) - 1;
}

int64_t
hgq_round_mant(int64_t m, int from_f, int f, int round)
{
	int s = from_f - f;

	if (m == 0)
		return 0;
	if (s <= 0)
		return s <= -63 ? 0 : (int64_t)((uint64_t)m << -s);
	if (s >= 63) {
		/* |m| < 2^62 so |m / 2^s| < 1/2: TRN gives -1 or 0; RND gives
		   0 (the tie -1/2 goes to +inf) */
		return round == HGQ_TRN && m < 0 ? -1 : 0;
	}
	if (round == HGQ_RND)
		return floor_shift(m + ((int64_t)1 << (s - 1)), s);
	return floor_shift(m, s);
}

void
hgq_fmt_range(int k, int i, int f, int overflow, int64_t *lo, int64_t *hi)
{
	int b = i + f;			/* magnitude bits; b >= -k when w > 0 */

	if (k + i + f <= 0) {
		*lo = *hi = 0;
		return;
	}
	if (b >= 62) {
		/* every mantissa the library handles (|m| < 2^62) fits */
		*hi = INT64_MAX;
		*lo = k ? INT64_MIN : 0;
		return;
	}
	*hi = ((int64_t)1 << b) - 1;
	if (!k)
		*lo = 0;
	else if (overflow == HGQ_SAT_SYM)
		*lo = -*hi;
	else
		*lo = -((int64_t)1 << b);
}

int64_t
hgq_overflow_mant(int64_t m, int k, int i, int f, int overflow)
{
	int w = k + i + f;
	int64_t hi, lo;

	if (w <= 0)
		return 0;
	hgq_fmt_range(k, i, f, overflow, &lo, &hi);
	if (overflow == HGQ_WRAP) {
		uint64_t u;

		if (w >= 63)
			return m;	/* |m| < 2^62 already fits */
		/* the low w bits; above hi they stand for u - 2^w */
		u = (uint64_t)m & (((uint64_t)1 << w) - 1);
		if (u > (uint64_t)hi)
			return (int64_t)u - ((int64_t)1 << w);
		return (int64_t)u;
	}
	return m < lo ? lo : m > hi ? hi : m;
}

int64_t
hgq_quant_mant(int64_t m, int from_f, int k, int i, int f, int round,
    int overflow)
{
	if (k + i + f <= 0)
		return 0;
	return hgq_overflow_mant(hgq_round_mant(m, from_f, f, round), k, i, f,
	    overflow);
}

/* R(v) on a double: exact, see hgq_fq_f32s for why not floor(v + 0.5) */
static double
round_f64(double v, int round)
{
	double r = floor(v);

	if (round == HGQ_RND && v - r >= 0.5)
		r += 1.0;
	return r;
}

int64_t
hgq_quant_f64(double x, int k, int i, int f, int round, int overflow)
{
	int w = k + i + f;
	double v, r;

	if (w <= 0)
		return 0;
	if (x != 0 && fabs(x) < 0x1p-960) {
		/* x * 2^f would be subnormal (|f| <= 62) and might round;
		   the exact result is known: |x * 2^f| < 1/2 */
		r = round == HGQ_TRN && x < 0 ? -1.0 : 0.0;
	} else {
		v = ldexp(x, f);	/* exact: a power-of-two scaling */
		r = isinf(v) ? v : round_f64(v, round);
	}
	/* r is an integer-valued double (or +-inf far beyond any width) */
	if (overflow == HGQ_WRAP && w <= 62) {
		double p = ldexp(1.0, w);
		int64_t t;

		if (isinf(r))
			return 0;	/* a multiple of 2^w: low bits 0 */
		t = (int64_t)fmod(r, p);	/* exact, |t| < 2^w */
		if (t < 0)
			t += (int64_t)1 << w;
		return hgq_overflow_mant(t, k, i, f, HGQ_WRAP);
	}
	if (r >= 0x1p62)
		return hgq_overflow_mant(((int64_t)1 << 62) - 1, k, i, f,
		    overflow);
	if (r <= -0x1p62)
		return hgq_overflow_mant(-((int64_t)1 << 62) + 1, k, i, f,
		    overflow);
	return hgq_overflow_mant((int64_t)r, k, i, f, overflow);
}

double
hgq_fq_f64(double x, int k, int i, int f, int round, int overflow)
{
	double q, step = ldexp(1.0, -f);

	if (k + i + f <= 0)
		return 0.0;
	/* saturate first: the bounds lie on the grid (hgq-algorithm 2.4) */
	if (overflow == HGQ_SAT || overflow == HGQ_SAT_SYM) {
		double hi = ldexp(1.0, i) - step;
		double lo = !k ? 0.0 : overflow == HGQ_SAT ? -ldexp(1.0, i) :
		    -hi;

		x = x < lo ? lo : x > hi ? hi : x;
	}
	q = ldexp(round_f64(ldexp(x, f), round), -f);
	if (overflow == HGQ_WRAP) {
		/* y = ((q + bias) mod 2^(i+k)) - bias, a floor-mod */
		double span = ldexp(1.0, i + k);
		double bias = k ? ldexp(1.0, i) : 0.0;
		double t = fmod(q + bias, span);

		if (t < 0)
			t += span;
		q = t - bias;
	}
	return q == 0.0 ? 0.0 : q;	/* no negative zero */
}

float
hgq_fq_f32(float x, int f, int round)
{
	return hgq_fq_f32s(x, ldexpf(1.0f, f), ldexpf(1.0f, -f), round);
}

int
hgq_round_bits(float fparam)
{
	return (int)nearbyintf(fparam);	/* default mode: half to even */
}

int
hgq_span(int64_t m)
{
	uint64_t a;

	if (m == 0)
		return 0;
	a = m < 0 ? -(uint64_t)m : (uint64_t)m;
	return 64 - __builtin_clzll(a) - __builtin_ctzll(a);
}

void
hgq_fmt_from_range(int64_t mn, int64_t mx, int f, int *k, int *i)
{
	int b = 0;

	*k = mn < 0;
	/* smallest b >= 0 with mx < 2^b and -mn <= 2^b (the latter only
	   matters when k = 1) */
	while (b < 62 && ((mx > 0 && (mx >> b) != 0) ||
	    (mn < 0 && (-(mn + 1) >> b) != 0)))
		b++;
	if (mn == 0 && mx == 0)
		b = 0;
	*i = b - f;
}

void
hgq_qop_init(struct hgq_qop *q, int from_f, int k, int i, int f, int round,
    int overflow)
{
	int s = from_f - f, w = k + i + f;

	q->wrap = overflow == HGQ_WRAP;
	q->rshift = 0;
	q->lshift = 0;
	q->add = 0;
	if (s > 0) {
		/* past 63 bits every |m| < 2^62 gives what 63 gives */
		q->rshift = s > 63 ? 63 : s;
		if (round == HGQ_RND)
			q->add = (int64_t)1 << (q->rshift - 1);
	} else if (s < 0) {
		q->lshift = -s > 62 ? 62 : -s;
	}
	q->mask = 0;
	q->sbit = 0;
	if (w > 0)
		q->mask = w >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << w) - 1;
	if (w > 0 && k && w <= 63)
		q->sbit = (uint64_t)1 << (w - 1);
	hgq_fmt_range(k, i, f, overflow, &q->lo, &q->hi);
}

/* ------------------------------------------------------------------ */
/* Lookup-table functions (format 1.2)                                 */
/* ------------------------------------------------------------------ */

static const char *const func_names[HGQ_FUNC_MAX + 1] = {
	[HGQ_FUNC_TANH] = "tanh", [HGQ_FUNC_SIGMOID] = "sigmoid",
	[HGQ_FUNC_SOFTPLUS] = "softplus", [HGQ_FUNC_SILU] = "silu",
	[HGQ_FUNC_EXP] = "exp",
};

const char *
hgq_func_name(uint32_t func)
{
	return func <= HGQ_FUNC_MAX ? func_names[func] : NULL;
}

int
hgq_func_by_name(const char *name)
{
	for (int u = 0; u <= HGQ_FUNC_MAX; u++)
		if (strcmp(name, func_names[u]) == 0)
			return u;
	return -1;
}

static double
sigmoid_f64(double x)
{
	/* never exp of a large positive argument */
	if (x >= 0)
		return 1.0 / (1.0 + exp(-x));
	return exp(x) / (1.0 + exp(x));
}

double
hgq_func_f64(uint32_t func, double x)
{
	switch (func) {
	case HGQ_FUNC_TANH:
		return tanh(x);
	case HGQ_FUNC_SIGMOID:
		return sigmoid_f64(x);
	case HGQ_FUNC_SOFTPLUS:
		return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
	case HGQ_FUNC_SILU:
		return x * sigmoid_f64(x);
	case HGQ_FUNC_EXP:
		return exp(x);
	}
	return 0.0;
}

double
hgq_func_grad_f64(uint32_t func, double x)
{
	double s, t;

	switch (func) {
	case HGQ_FUNC_TANH:
		t = tanh(x);
		return 1.0 - t * t;
	case HGQ_FUNC_SIGMOID:
		s = sigmoid_f64(x);
		return s * (1.0 - s);
	case HGQ_FUNC_SOFTPLUS:
		return sigmoid_f64(x);
	case HGQ_FUNC_SILU:
		s = sigmoid_f64(x);
		return s * (1.0 + x * (1.0 - s));
	case HGQ_FUNC_EXP:
		return exp(x);
	}
	return 0.0;
}

int64_t
hgq_lut_mant(uint32_t func, int64_t m_in, int f_in, int k_o, int i_o,
    int f_o, int round, int overflow)
{
	/* m_in has at most HGQ_MAX_LUT_BITS bits: the value is exact */
	double x = ldexp((double)m_in, -f_in);
	double y = hgq_func_f64(func, x);

	if (!isfinite(y))	/* exp of a large input: saturate or wrap
				   the largest mantissa */
		y = y > 0 ? 0x1p1000 : -0x1p1000;
	return hgq_quant_f64(y, k_o, i_o, f_o, round, overflow);
}
