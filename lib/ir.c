/*
 * ir.c - the network as flat SSA operations on exact fixed-point values,
 * and their interpreter.
 *
 * Every op yields one value with an exact interval (struct hgq_ival): a
 * mantissa range and the exponent of its LSB.  The ops are few and close
 * to hardware (rtl-notes.md 2.1): inputs, constants, add/sub with a shift
 * (the CMVM adder graphs, bias and rounding constants), ReLU, truncation
 * with wrap, and a saturating clip.  The model's semantics (DESIGN.md,
 * "Model semantics") are lowered as follows, for one output y of a dense
 * layer and the quantizer (k, i, f, round, overflow) after it:
 *
 *   y = acc + b                 acc: the CMVM column, b: the bias (plus
 *                               the constant inputs times their weights)
 *   RND: + 2^(-f-1)             only when y has bits below 2^-f; then
 *                               floor(x * 2^f + 1/2) = trunc(x + 2^(-f-1)),
 *                               and relu(y) + h truncates like relu(y + h)
 *                               because both are below 2^-f when y < 0
 *   relu                        max(., 0), when the layer has it
 *   truncate, wrap              keep the bits from 2^-f up (floor), then
 *                               the low k+i+f bits (WRAP)
 *   or truncate, clip           SAT / SAT_SYM: the mantissa clipped to
 *                               the format's range
 *
 * A graph (format 1.2) is built layer by layer in the model's order:
 * every quantizer's elements get an op (the inputs' are INPUT ops), and
 * an operation reads the ops of the quantizers it names.  Add and
 * subtract are adder trees on the exact values (the quantizer after them
 * rounds, as after a dense layer), concatenation is wiring, and a lookup
 * table with the quantizer after it is one LUT op per element: a ROM
 * over every value of the input op's bits, each entry hgq_lut_mant().
 *
 * Constants fold at build time through quant.c, so that the same code
 * defines every number.  Ops that no output needs are removed at the end.
 * hgq_ir_eval() runs the ops on int64 mantissas: QUANT and SAT call
 * hgq_quant_mant()/hgq_overflow_mant(), so the interpreter, hgq-sim and the
 * Verilog share one definition of rounding and overflow; check_ir.c proves
 * the lowering against the engine on random models.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_REL_DEPTH	24	/* input depths handed to the solver */

/* an exact dyadic constant m * 2^e, m odd or 0 */
struct dy {
	int64_t		 m;
	int32_t		 e;
};

struct builder {
	struct hgq_ir	*ir;
	uint32_t	 cap_ops, cap_terms, cap_tab;
	const struct hgq_cmvm_params *par;
	int		 behavioral;
	int32_t		 zero;		/* the CONST 0 op, or -1 */
	uint64_t	 n_solves;	/* CMVMs solved */
};

/* ------------------------------------------------------------------ */
/* Dyadic constants                                                    */
/* ------------------------------------------------------------------ */

static struct dy
dy_norm(int64_t m, int32_t e)
{
	struct dy d;

	if (m == 0) {
		d.m = 0;
		d.e = 0;
		return d;
	}
	while ((m & 1) == 0) {
		m /= 2;
		e++;
	}
	d.m = m;
	d.e = e;
	return d;
}

/* *out = a + b * c (c a product term m*2^e too); -1 on overflow */
static int
dy_add(struct dy *out, struct dy a, int64_t bm, int32_t be)
{
	__int128 am, x, y;
	int32_t e;

	if (bm == 0) {
		*out = a;
		return 0;
	}
	if (a.m == 0) {
		if (bm >= HGQ_IVAL_LIMIT || bm <= -HGQ_IVAL_LIMIT)
			return -1;
		*out = dy_norm(bm, be);
		return 0;
	}
	e = a.e < be ? a.e : be;
	if (a.e - e > 62 || be - e > 62)
		return -1;
	am = (__int128)a.m * ((__int128)1 << (a.e - e));
	x = (__int128)bm * ((__int128)1 << (be - e));
	if (am >= HGQ_IVAL_LIMIT || am <= -HGQ_IVAL_LIMIT || x >= HGQ_IVAL_LIMIT ||
	    x <= -HGQ_IVAL_LIMIT)
		return -1;
	y = am + x;
	if (y >= HGQ_IVAL_LIMIT || y <= -HGQ_IVAL_LIMIT)
		return -1;
	*out = dy_norm((int64_t)y, e);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Ops                                                                 */
/* ------------------------------------------------------------------ */

static int
grow(void **p, uint32_t *cap, size_t need, size_t size)
{
	size_t c = *cap == 0 ? 64 : *cap;
	void *q;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	if (c > UINT32_MAX / 2 || (q = hgq_reallocarray(*p, c, size)) == NULL)
		return -1;
	*p = q;
	*cap = (uint32_t)c;
	return 0;
}

static int
new_op(struct builder *B, const struct hgq_ir_op *op, int32_t *id)
{
	struct hgq_ir *ir = B->ir;

	if (ir->n_ops >= INT32_MAX / 2 ||
	    grow((void **)&ir->ops, &B->cap_ops, (size_t)ir->n_ops + 1,
	    sizeof(*ir->ops)) != 0)
		return HGQ_ENOMEM;
	ir->ops[ir->n_ops] = *op;
	*id = (int32_t)ir->n_ops++;
	return HGQ_OK;
}

static void
op_init(struct hgq_ir_op *op, int kind, int32_t layer)
{
	memset(op, 0, sizeof(*op));
	op->kind = (uint8_t)kind;
	op->a = -1;
	op->b = -1;
	op->layer = layer;
}

static int
const_op(struct builder *B, struct dy c, int32_t layer, int32_t *id)
{
	struct hgq_ir_op op;

	if (c.m == 0 && B->zero >= 0) {
		*id = B->zero;
		return HGQ_OK;
	}
	op_init(&op, HGQ_IR_CONST, layer);
	op.v.lo = op.v.hi = c.m;
	op.v.e = c.e;
	if (new_op(B, &op, id) != HGQ_OK)
		return HGQ_ENOMEM;
	if (c.m == 0)
		B->zero = *id;
	return HGQ_OK;
}

/* a constant mantissa at exponent -f: CONST op, or -1 for zero */
static int
const_mant(struct builder *B, int64_t m, int f, int32_t layer, int32_t *id)
{
	struct hgq_ir_op op;

	if (m == 0) {
		*id = -1;
		return HGQ_OK;
	}
	op_init(&op, HGQ_IR_CONST, layer);
	op.v.lo = op.v.hi = m;
	op.v.e = -f;
	return new_op(B, &op, id);
}

static int
add_op(struct builder *B, int32_t a, int32_t b, int32_t shift, int sub,
    int32_t layer, int32_t *id)
{
	const struct hgq_ir_op *oa = &B->ir->ops[a], *ob = &B->ir->ops[b];
	struct hgq_ir_op op;

	op_init(&op, HGQ_IR_ADD, layer);
	op.a = a;
	op.b = b;
	op.shift = shift;
	op.sub = (uint8_t)(sub != 0);
	op.depth = (oa->depth > ob->depth ? oa->depth : ob->depth) + 1;
	if (hgq_ival_add(&op.v, &oa->v, &ob->v, shift, sub) != HGQ_OK)
		return HGQ_ERANGE;
	return new_op(B, &op, id);
}

/* *r = floor(m * 2^s) for any s (|m| < 2^62); -1 when |*r| >= 2^62 */
static int
scale_floor(int64_t m, int s, int64_t *r)
{
	if (s >= 0) {
		if (m != 0 && (s > 62 || m >= HGQ_IVAL_LIMIT >> s ||
		    m <= -(HGQ_IVAL_LIMIT >> s)))
			return -1;
		*r = (int64_t)((uint64_t)m << s);
		return 0;
	}
	*r = hgq_round_mant(m, -s, 0, HGQ_TRN);
	return 0;
}

/*
 * Narrow op x's interval to what z, the exact range of (-1)^neg * x *
 * 2^shift, allows: z's ends brought to x's grid (rounded inwards).  The
 * value of x is unchanged; only what is proven about it grows.  An adder
 * graph that shares sub-expressions propagates a wider interval than the
 * sum it computes can reach (interval.c); this is where widths, clips
 * and LUT estimates are brought back to the sum.
 */
static void
narrow(struct hgq_ir_op *x, const struct hgq_ival *z, int32_t shift,
    int neg)
{
	int64_t s = (int64_t)z->e - ((int64_t)x->v.e + shift);
	int64_t lo, hi, t;

	if (s < -126)
		s = -126;	/* |z| < 2^62: as far as 0 or -1 already */
	if (scale_floor(z->hi, (int)s, &hi) != 0 ||
	    scale_floor(-z->lo, (int)s, &lo) != 0)
		return;		/* beyond 62 bits: x's interval is tighter */
	lo = -lo;		/* ceil(z.lo * 2^s) */
	if (neg) {
		t = lo;
		lo = -hi;
		hi = -t;
	}
	if (lo > x->v.lo)
		x->v.lo = lo;
	if (hi < x->v.hi)
		x->v.hi = hi;
}

/* ------------------------------------------------------------------ */
/* One output: constant, relu, quantizer                               */
/* ------------------------------------------------------------------ */

/*
 * The value C + (-1)^neg * src * 2^shift (src -1: no variable part) goes
 * through relu (when relu) and the quantizer element (k, i, f, round,
 * ovf); *id gets the op of the result, at exponent -f, or -1 for zero.
 * V is the exact range of (-1)^neg * src * 2^shift (hgq_dense_range):
 * src is narrowed to it first, so that every interval after it is the
 * exact one.
 */
static int
lower_output(struct builder *B, int32_t src, int32_t shift, int neg,
    const struct hgq_ival *V, struct dy C, int relu, int k, int i, int f,
    int round, int ovf, int32_t layer, int32_t *id)
{
	struct hgq_ir *ir = B->ir;
	struct hgq_ir_op op;
	int64_t fmt_lo, fmt_hi, tlo, thi;
	int32_t t, e_src;
	int rc;

	*id = -1;
	if (k + i + f <= 0)
		return HGQ_OK;
	if (src < 0) {
		/* a constant: fold it with the very same semantics */
		int64_t m = C.m;

		if (relu && m < 0)
			m = 0;
		return const_mant(B, hgq_quant_mant(m, -C.e, k, i, f, round,
		    ovf), f, layer, id);
	}
	narrow(&ir->ops[src], V, shift, neg);
	/* rounding: + 2^(-f-1) when there are bits below 2^-f */
	e_src = ir->ops[src].v.e + shift;
	if (round == HGQ_RND && ((C.m != 0 && C.e < -f) || e_src < -f) &&
	    dy_add(&C, C, 1, -f - 1) != 0)
		return HGQ_ERANGE;
	t = src;
	if (C.m != 0 || neg) {
		int32_t c;

		if ((rc = const_op(B, C, layer, &c)) != HGQ_OK ||
		    (rc = add_op(B, c, src, shift, neg, layer, &t)) != HGQ_OK)
			return rc;
		shift = 0;
	}
	if (relu && ir->ops[t].v.lo < 0) {
		if (ir->ops[t].v.hi <= 0)
			return HGQ_OK;			/* always 0 */
		op_init(&op, HGQ_IR_RELU, layer);
		op.a = t;
		op.depth = ir->ops[t].depth;
		op.v = ir->ops[t].v;
		op.v.lo = 0;
		if ((rc = new_op(B, &op, &t)) != HGQ_OK)
			return rc;
	}
	/* truncate to 2^-f: the interval of floor(x * 2^f) */
	e_src = ir->ops[t].v.e + shift;
	if (scale_floor(ir->ops[t].v.lo, e_src + f, &tlo) != 0 ||
	    scale_floor(ir->ops[t].v.hi, e_src + f, &thi) != 0)
		return HGQ_ERANGE;
	hgq_fmt_range(k, i, f, ovf, &fmt_lo, &fmt_hi);
	if (tlo == thi) {
		/* one value only (e.g. a variable below the LSB): fold */
		return const_mant(B, hgq_quant_mant(tlo, f, k, i, f, HGQ_TRN,
		    ovf), f, layer, id);
	}
	if (ovf == HGQ_WRAP && (int64_t)e_src + f >= k + i + f) {
		/* every kept bit is below the value's LSB: always 0 */
		return HGQ_OK;
	}
	if (ovf == HGQ_WRAP) {
		op_init(&op, HGQ_IR_QUANT, layer);
		op.a = t;
		op.shift = shift;
		op.wrap = 1;
		op.k = (int8_t)k;
		op.i = (int8_t)i;
		op.f = (int8_t)f;
		op.depth = ir->ops[t].depth;
		op.v.e = -f;
		if (tlo >= fmt_lo && thi <= fmt_hi) {
			op.v.lo = tlo;
			op.v.hi = thi;
			if (e_src == -f && shift == 0) {
				*id = t;	/* already there */
				return HGQ_OK;
			}
		} else {
			op.v.lo = fmt_lo;
			op.v.hi = fmt_hi;
		}
		return new_op(B, &op, id);
	}
	/* SAT, SAT_SYM: truncate without wrap, then clip */
	if (e_src != -f || shift != 0) {
		op_init(&op, HGQ_IR_QUANT, layer);
		op.a = t;
		op.shift = shift;
		op.wrap = 0;
		op.f = (int8_t)f;
		op.depth = ir->ops[t].depth;
		op.v.lo = tlo;
		op.v.hi = thi;
		op.v.e = -f;
		if ((rc = new_op(B, &op, &t)) != HGQ_OK)
			return rc;
	}
	if (tlo >= fmt_lo && thi <= fmt_hi) {
		*id = t;
		return HGQ_OK;
	}
	if (thi <= fmt_lo || tlo >= fmt_hi || fmt_lo == fmt_hi) {
		/* clipped to one bound whatever the value */
		return const_mant(B, thi <= fmt_lo ? fmt_lo : fmt_hi, f, layer,
		    id);
	}
	op_init(&op, HGQ_IR_SAT, layer);
	op.a = t;
	op.mode = (uint8_t)ovf;
	op.k = (int8_t)k;
	op.i = (int8_t)i;
	op.f = (int8_t)f;
	op.depth = ir->ops[t].depth;
	op.v.lo = tlo < fmt_lo ? fmt_lo : tlo;
	op.v.hi = thi > fmt_hi ? fmt_hi : thi;
	op.v.e = -f;
	return new_op(B, &op, id);
}

/* ------------------------------------------------------------------ */
/* Layers                                                              */
/* ------------------------------------------------------------------ */

/*
 * The constant part of every output of dense layer d: the bias plus the
 * constant inputs times their weights.
 */
static int
layer_consts(const struct builder *B, const struct hgq_layer *d,
    const int32_t *cur, struct dy *C, uint32_t li, struct hgq_err *err)
{
	for (uint32_t j = 0; j < d->n_out; j++) {
		C[j] = dy_norm(d->b_m[j], -d->b_f[j]);
		for (uint32_t i = 0; i < d->n_in; i++) {
			const struct hgq_ir_op *x;
			size_t at = (size_t)i * d->n_out + j;
			__int128 pm;

			if (cur[i] < 0 || d->w_m[at] == 0)
				continue;
			x = &B->ir->ops[cur[i]];
			if (x->kind != HGQ_IR_CONST)
				continue;
			pm = (__int128)x->v.lo * d->w_m[at];
			if (pm >= HGQ_IVAL_LIMIT || pm <= -HGQ_IVAL_LIMIT ||
			    dy_add(&C[j], C[j], (int64_t)pm,
			    x->v.e - d->w_f[at]) != 0)
				return hgq_errf(err, HGQ_ERANGE, "layer %u "
				    "output %u: a constant exceeds 62 bits",
				    li, j);
		}
	}
	return HGQ_OK;
}

/*
 * Replay solution s: its input k is op map[k]; the outputs go to acc,
 * acc_shift, acc_neg (s->n_out each).  A solution of one convolution is
 * replayed at every position of its group (conv_cmvm), each time on that
 * position's own inputs, so that every interval is the position's own.
 */
static int
cmvm_replay(struct builder *B, const struct hgq_cmvm *s, const int32_t *map,
    int32_t layer, int32_t *acc, int32_t *acc_shift, uint8_t *acc_neg,
    int32_t *node_op, uint32_t li, struct hgq_err *err)
{
	int rc;

	for (uint32_t j = 0; j < s->n_in; j++)
		node_op[j] = map[j];
	for (uint32_t j = s->n_in; j < s->n_nodes; j++) {
		const struct hgq_cmvm_node *nd = &s->nodes[j];

		rc = add_op(B, node_op[nd->a], node_op[nd->b], nd->shift,
		    nd->sub, layer, &node_op[j]);
		if (rc == HGQ_ENOMEM)
			return hgq_errf(err, rc, "out of memory");
		if (rc != HGQ_OK)
			return hgq_errf(err, rc, "layer %u: an adder exceeds "
			    "62 bits", li);
	}
	for (uint32_t j = 0; j < s->n_out; j++) {
		acc[j] = s->out[j].node < 0 ? -1 : node_op[s->out[j].node];
		acc_shift[j] = s->out[j].shift;
		acc_neg[j] = s->out[j].neg;
	}
	return HGQ_OK;
}

static int
cmvm_solve(struct builder *B, struct hgq_cmvm **s, const struct hgq_ival *x,
    const int32_t *dep, uint32_t n, uint32_t n_out, const int32_t *wm,
    const int8_t *wf, uint32_t li, struct hgq_err *err)
{
	int rc;

	B->n_solves++;
	if ((rc = hgq_cmvm_solve(s, x, dep, n, n_out, wm, wf, B->par,
	    err)) != HGQ_OK && err != NULL) {
		char why[sizeof(err->msg)];

		memcpy(why, err->msg, sizeof(why));
		hgq_errf(err, rc, "layer %u: %s", li, why);
	}
	return rc;
}

static bool
is_var(const struct builder *B, int32_t id)
{
	return id >= 0 && B->ir->ops[id].kind != HGQ_IR_CONST;
}

/* the CMVM of dense layer d over the variable inputs cur[] */
static int
layer_cmvm(struct builder *B, const struct hgq_layer *d, const int32_t *cur,
    int32_t layer, int32_t *acc, int32_t *acc_shift, uint8_t *acc_neg,
    uint32_t li, struct hgq_err *err)
{
	struct hgq_ir *ir = B->ir;
	struct hgq_cmvm *s = NULL;
	struct hgq_ival *x = NULL;
	int32_t *dep = NULL, *map = NULL, *node_op = NULL, *wm = NULL;
	int8_t *wf = NULL;
	uint32_t n = 0;
	int32_t dmin = INT32_MAX;
	int rc = HGQ_ENOMEM;

	if ((x = hgq_calloc(d->n_in, sizeof(*x))) == NULL ||
	    (dep = hgq_calloc(d->n_in, sizeof(*dep))) == NULL ||
	    (map = hgq_calloc(d->n_in, sizeof(*map))) == NULL)
		goto fail;
	for (uint32_t i = 0; i < d->n_in; i++)
		if (is_var(B, cur[i])) {
			map[n] = cur[i];
			x[n] = ir->ops[cur[i]].v;
			if (ir->ops[cur[i]].depth < dmin)
				dmin = ir->ops[cur[i]].depth;
			n++;
		}
	if ((wm = hgq_calloc((size_t)n * d->n_out, sizeof(*wm))) == NULL ||
	    (wf = hgq_calloc((size_t)n * d->n_out, sizeof(*wf))) == NULL)
		goto fail;
	n = 0;
	for (uint32_t i = 0; i < d->n_in; i++) {
		if (!is_var(B, cur[i]))
			continue;
		dep[n] = ir->ops[cur[i]].depth - dmin;
		if (dep[n] > MAX_REL_DEPTH)
			dep[n] = MAX_REL_DEPTH;
		memcpy(&wm[(size_t)n * d->n_out], &d->w_m[(size_t)i * d->n_out],
		    d->n_out * sizeof(*wm));
		memcpy(&wf[(size_t)n * d->n_out], &d->w_f[(size_t)i * d->n_out],
		    d->n_out * sizeof(*wf));
		n++;
	}
	if ((rc = cmvm_solve(B, &s, x, dep, n, d->n_out, wm, wf, li,
	    err)) != HGQ_OK)
		goto out;
	rc = HGQ_ENOMEM;
	if ((node_op = hgq_calloc(s->n_nodes, sizeof(*node_op))) == NULL)
		goto fail;
	rc = cmvm_replay(B, s, map, layer, acc, acc_shift, acc_neg, node_op,
	    li, err);
	goto out;
fail:
	hgq_errf(err, rc, "out of memory");
out:
	hgq_cmvm_free(s);
	free(x);
	free(dep);
	free(map);
	free(node_op);
	free(wm);
	free(wf);
	return rc;
}

/*
 * behavioral style: one DOT op per output (products written with *); V
 * the exact ranges of the sums (hgq_dense_range over the variable inputs)
 */
static int
layer_dot(struct builder *B, const struct hgq_layer *d, const int32_t *cur,
    const struct hgq_ival *V, int32_t layer, int32_t *acc, uint32_t li,
    struct hgq_err *err)
{
	struct hgq_ir *ir = B->ir;

	for (uint32_t j = 0; j < d->n_out; j++) {
		struct hgq_ir_op op;
		int32_t emin = INT32_MAX, dmax = 0;
		uint32_t t0 = ir->n_terms;

		op_init(&op, HGQ_IR_DOT, layer);
		for (uint32_t i = 0; i < d->n_in; i++) {
			size_t at = (size_t)i * d->n_out + j;
			struct hgq_ir_term *t;

			if (cur[i] < 0 || d->w_m[at] == 0 ||
			    ir->ops[cur[i]].kind == HGQ_IR_CONST)
				continue;
			if (grow((void **)&ir->terms, &B->cap_terms,
			    (size_t)ir->n_terms + 1, sizeof(*ir->terms)) != 0)
				return hgq_errf(err, HGQ_ENOMEM,
				    "out of memory");
			t = &ir->terms[ir->n_terms++];
			t->src = cur[i];
			t->w_m = d->w_m[at];
			t->w_e = ir->ops[cur[i]].v.e - d->w_f[at];
			if (t->w_e < emin)
				emin = t->w_e;
			if (ir->ops[cur[i]].depth > dmax)
				dmax = ir->ops[cur[i]].depth;
		}
		if (ir->n_terms == t0) {
			acc[j] = -1;
			continue;
		}
		/* every product's weight, aligned to emin, is a constant */
		for (uint32_t t = t0; t < ir->n_terms; t++) {
			const struct hgq_ir_term *tm = &ir->terms[t];
			__int128 sc;

			if (tm->w_e - emin > 62)
				goto range;
			sc = (__int128)tm->w_m * ((__int128)1 << (tm->w_e -
			    emin));
			if (sc >= HGQ_IVAL_LIMIT || sc <= -HGQ_IVAL_LIMIT)
				goto range;
		}
		op.a = (int32_t)t0;
		op.b = (int32_t)(ir->n_terms - t0);
		op.v = V[j];
		if (hgq_ival_rescale(&op.v, emin) != HGQ_OK)
			goto range;
		op.depth = dmax + 1;
		if (new_op(B, &op, &acc[j]) != HGQ_OK)
			return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	}
	return HGQ_OK;
range:
	return hgq_errf(err, HGQ_ERANGE, "layer %u: an accumulator exceeds "
	    "62 bits", li);
}

/* ------------------------------------------------------------------ */
/* Convolutions, pooling, flatten                                      */
/* ------------------------------------------------------------------ */

/* the parts of every output of a layer, before relu and its quantizer */
struct outs {
	int32_t		*acc;		/* variable part: op, or -1 */
	int32_t		*sh;		/* (-1)^neg * acc * 2^sh */
	uint8_t		*neg;
	struct dy	*C;		/* constant part */
	struct hgq_ival	*V;		/* exact range of the variable part */
};

/*
 * Output j is op id (or 0 for -1) times 2^sh: a constant folds into C,
 * a variable is the variable part with its own (exact) interval.
 */
static void
out_plain(const struct builder *B, int32_t id, int32_t sh,
    const struct outs *O, uint32_t j)
{
	O->acc[j] = -1;
	O->sh[j] = 0;
	O->neg[j] = 0;
	memset(&O->V[j], 0, sizeof(O->V[j]));
	O->C[j] = dy_norm(0, 0);
	if (id < 0)
		return;
	if (B->ir->ops[id].kind == HGQ_IR_CONST) {
		O->C[j] = dy_norm(B->ir->ops[id].v.lo, B->ir->ops[id].v.e +
		    sh);
		return;
	}
	O->acc[j] = id;
	O->sh[j] = sh;
	O->V[j] = B->ir->ops[id].v;
	O->V[j].e += sh;
}

/* out_plain(B, id, 0, O, j), negated when neg */
static void
out_var(const struct builder *B, int32_t id, int neg, const struct outs *O,
    uint32_t j)
{
	int64_t t;

	out_plain(B, id, 0, O, j);
	if (!neg)
		return;
	O->C[j].m = -O->C[j].m;
	if (O->acc[j] < 0)
		return;
	O->neg[j] = 1;
	t = O->V[j].lo;
	O->V[j].lo = -O->V[j].hi;
	O->V[j].hi = -t;
}

/* the exact ranges and constants of the outputs of dense view d */
static int
view_ranges(struct builder *B, const struct hgq_layer *d, const int32_t *cur,
    struct hgq_ival *xv, struct dy *C, struct hgq_ival *V, uint32_t li,
    struct hgq_err *err)
{
	int rc;

	if ((rc = layer_consts(B, d, cur, C, li, err)) != HGQ_OK)
		return rc;
	for (uint32_t i = 0; i < d->n_in; i++) {
		memset(&xv[i], 0, sizeof(xv[i]));
		if (is_var(B, cur[i]))
			xv[i] = B->ir->ops[cur[i]].v;
	}
	for (uint32_t j = 0; j < d->n_out; j++)
		if (hgq_dense_range(&V[j], d, j, xv, 0) != HGQ_OK)
			return hgq_errf(err, HGQ_ERANGE, "layer %u output %u: "
			    "a sum exceeds 62 bits", li, j);
	return HGQ_OK;
}

/* a position of a convolution and its grouping key */
struct posk {
	const int64_t	*key;
	uint32_t	 len;
	uint32_t	 p;
};

static int
key_cmp(const struct posk *x, const struct posk *y)
{
	for (uint32_t t = 0; t < x->len; t++)
		if (x->key[t] != y->key[t])
			return x->key[t] < y->key[t] ? -1 : 1;
	return 0;
}

static int
posk_cmp(const void *a, const void *b)
{
	const struct posk *x = a, *y = b;
	int c = key_cmp(x, y);

	if (c != 0)
		return c;
	return x->p < y->p ? -1 : x->p > y->p;
}

/*
 * One CMVM for the positions pos[0..np) of convolution view d, whose
 * inputs loc[p*T ..] have the same variable taps: the solver sees, per
 * tap, the hull of the positions' intervals and their deepest relative
 * depth, and its graph is replayed at every position on the position's
 * own inputs (add_op recomputes each interval).  The graph computes
 * sum_t x_t w_t for any inputs, so every replay is exact.  When a hull
 * needs more than 62 bits, each position is solved alone.
 */
static int
group_cmvm(struct builder *B, const struct hgq_layer *d, const int32_t *loc,
    uint32_t T, const uint32_t *pos, uint32_t np, int32_t layer,
    const struct outs *O, uint32_t li, struct hgq_err *err)
{
	struct hgq_ir *ir = B->ir;
	struct hgq_cmvm *s = NULL;
	struct hgq_ival *x = NULL;
	int32_t *dep = NULL, *map = NULL, *node_op = NULL, *wm = NULL;
	uint32_t *tap = NULL, n = 0, oc = d->n_out;
	int8_t *wf = NULL;
	int rc = HGQ_ENOMEM;

	if ((x = hgq_calloc(T, sizeof(*x))) == NULL ||
	    (dep = hgq_calloc(T, sizeof(*dep))) == NULL ||
	    (map = hgq_calloc(T, sizeof(*map))) == NULL ||
	    (tap = hgq_calloc(T, sizeof(*tap))) == NULL)
		goto fail;
	for (uint32_t t = 0; t < T; t++)
		if (is_var(B, loc[(size_t)pos[0] * T + t]))
			tap[n++] = t;
	for (uint32_t q = 0; q < np; q++) {
		const int32_t *l = &loc[(size_t)pos[q] * T];
		int32_t dmin = INT32_MAX;

		for (uint32_t k = 0; k < n; k++)
			if (ir->ops[l[tap[k]]].depth < dmin)
				dmin = ir->ops[l[tap[k]]].depth;
		for (uint32_t k = 0; k < n; k++) {
			struct hgq_ival a = ir->ops[l[tap[k]]].v, b = x[k];
			int32_t r = ir->ops[l[tap[k]]].depth - dmin;

			if (r > MAX_REL_DEPTH)
				r = MAX_REL_DEPTH;
			if (q == 0 || r > dep[k])
				dep[k] = r;
			if (q == 0) {
				x[k] = a;
				continue;
			}
			if (b.e < a.e ? hgq_ival_rescale(&a, b.e) != HGQ_OK :
			    hgq_ival_rescale(&b, a.e) != HGQ_OK) {
				rc = HGQ_OK;
				for (uint32_t u = 0; rc == HGQ_OK && u < np;
				    u++)
					rc = group_cmvm(B, d, loc, T, &pos[u],
					    1, layer, O, li, err);
				goto out;
			}
			x[k].e = a.e;
			x[k].lo = a.lo < b.lo ? a.lo : b.lo;
			x[k].hi = a.hi > b.hi ? a.hi : b.hi;
		}
	}
	if ((wm = hgq_calloc((size_t)n * oc + 1, sizeof(*wm))) == NULL ||
	    (wf = hgq_calloc((size_t)n * oc + 1, sizeof(*wf))) == NULL)
		goto fail;
	for (uint32_t k = 0; k < n; k++) {
		memcpy(&wm[(size_t)k * oc], &d->w_m[(size_t)tap[k] * oc],
		    oc * sizeof(*wm));
		memcpy(&wf[(size_t)k * oc], &d->w_f[(size_t)tap[k] * oc],
		    oc * sizeof(*wf));
	}
	if ((rc = cmvm_solve(B, &s, x, dep, n, oc, wm, wf, li, err)) !=
	    HGQ_OK)
		goto out;
	rc = HGQ_ENOMEM;
	if ((node_op = hgq_calloc(s->n_nodes, sizeof(*node_op))) == NULL)
		goto fail;
	for (uint32_t q = 0; q < np; q++) {
		size_t p = pos[q];

		for (uint32_t k = 0; k < n; k++)
			map[k] = loc[p * T + tap[k]];
		if ((rc = cmvm_replay(B, s, map, layer, &O->acc[p * oc],
		    &O->sh[p * oc], &O->neg[p * oc], node_op, li, err)) !=
		    HGQ_OK)
			goto out;
	}
	rc = HGQ_OK;
	goto out;
fail:
	hgq_errf(err, rc, "out of memory");
out:
	hgq_cmvm_free(s);
	free(x);
	free(dep);
	free(map);
	free(tap);
	free(node_op);
	free(wm);
	free(wf);
	return rc;
}

/* the words of a position's key per tap, by sharing mode */
static uint32_t
key_words(int share)
{
	return share == HGQ_SHARE_WIDTHS ? 5 : share == HGQ_SHARE_TAPS ? 1 :
	    0;
}

/*
 * The CMVMs of a convolution: positions grouped by the sharing mode
 * (none: one solve per position; widths: per distinct pattern of the
 * taps' intervals and depths, where the solves would be identical; taps:
 * per pattern of variable taps, over the hulls), one solve per group.
 */
static int
conv_cmvm(struct builder *B, const struct hgq_layer *d, const int32_t *loc,
    uint32_t T, uint32_t n_pos, int32_t layer, const struct outs *O,
    uint32_t li, struct hgq_err *err)
{
	int share = B->par != NULL ? B->par->conv_share : HGQ_SHARE_TAPS;
	uint32_t kw = key_words(share);
	struct posk *pk = NULL;
	int64_t *key = NULL;
	uint32_t *pos = NULL;
	int rc = HGQ_ENOMEM;

	if ((pk = hgq_calloc(n_pos, sizeof(*pk))) == NULL ||
	    (pos = hgq_calloc(n_pos, sizeof(*pos))) == NULL ||
	    (key = hgq_calloc((size_t)n_pos * T * kw + 1, sizeof(*key))) ==
	    NULL) {
		rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t p = 0; p < n_pos; p++) {
		const int32_t *l = &loc[(size_t)p * T];
		int64_t *k = &key[(size_t)p * T * kw];
		int32_t dmin = INT32_MAX;

		pk[p].key = k;
		pk[p].len = T * kw;
		pk[p].p = p;
		for (uint32_t t = 0; t < T; t++)
			if (is_var(B, l[t]) && B->ir->ops[l[t]].depth < dmin)
				dmin = B->ir->ops[l[t]].depth;
		for (uint32_t t = 0; t < T && kw > 0; t++) {
			const struct hgq_ir_op *op = is_var(B, l[t]) ?
			    &B->ir->ops[l[t]] : NULL;

			k[t * kw] = op != NULL;
			if (kw == 1 || op == NULL)
				continue;
			k[t * kw + 1] = op->v.lo;
			k[t * kw + 2] = op->v.hi;
			k[t * kw + 3] = op->v.e;
			k[t * kw + 4] = op->depth - dmin > MAX_REL_DEPTH ?
			    MAX_REL_DEPTH : op->depth - dmin;
		}
	}
	if (kw > 0)
		qsort(pk, n_pos, sizeof(*pk), posk_cmp);
	for (uint32_t g0 = 0, g1; g0 < n_pos; g0 = g1) {
		for (g1 = g0 + 1; kw > 0 && g1 < n_pos &&
		    key_cmp(&pk[g0], &pk[g1]) == 0; g1++)
			;
		for (uint32_t q = g0; q < g1; q++)
			pos[q - g0] = pk[q].p;
		if ((rc = group_cmvm(B, d, loc, T, pos, g1 - g0, layer, O, li,
		    err)) != HGQ_OK)
			goto out;
	}
	rc = HGQ_OK;
out:
	free(pk);
	free(pos);
	free(key);
	return rc;
}

/*
 * A convolution: at every position, the dense layer over its taps (the
 * padding and the zero-width inputs are 0, constants fold into C).
 */
static int
layer_conv(struct builder *B, const struct hgq_model *m, uint32_t li,
    const int32_t *cur, int32_t layer, const struct outs *O,
    struct hgq_err *err)
{
	const struct hgq_layer *d = &m->layers[li];
	struct hgq_window w;
	struct hgq_layer v;
	struct hgq_ival *xv = NULL;
	uint32_t *idx = NULL;
	int32_t *loc = NULL;
	uint32_t T, oc;
	int rc;

	if ((rc = hgq_layer_window(m, li, &w, err)) != HGQ_OK)
		return rc;
	T = w.n_taps;
	oc = w.out_c;
	v = *d;
	v.kind = HGQ_LAYER_DENSE;
	v.rank = 0;
	v.n_in = T;
	v.n_out = oc;
	rc = HGQ_ENOMEM;
	if ((idx = hgq_calloc(T, sizeof(*idx))) == NULL ||
	    (xv = hgq_calloc(T, sizeof(*xv))) == NULL ||
	    (loc = hgq_calloc((size_t)w.n_pos * T, sizeof(*loc))) == NULL)
		goto nomem;
	for (uint32_t p = 0; p < w.n_pos; p++) {
		int32_t *l = &loc[(size_t)p * T];
		size_t o = (size_t)p * oc;

		hgq_window_taps(&w, p, idx);
		for (uint32_t t = 0; t < T; t++)
			l[t] = idx[t] == HGQ_TAP_PAD ? -1 : cur[idx[t]];
		if ((rc = view_ranges(B, &v, l, xv, &O->C[o], &O->V[o], li,
		    err)) != HGQ_OK)
			goto out;
		if (!B->behavioral)
			continue;
		if ((rc = layer_dot(B, &v, l, &O->V[o], layer, &O->acc[o], li,
		    err)) != HGQ_OK)
			goto out;
		memset(&O->sh[o], 0, oc * sizeof(*O->sh));
		memset(&O->neg[o], 0, oc);
	}
	rc = B->behavioral ? HGQ_OK : conv_cmvm(B, &v, loc, T, w.n_pos,
	    layer, O, li, err);
	goto out;
nomem:
	rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
out:
	free(idx);
	free(xv);
	free(loc);
	return rc;
}

/* sign of a * 2^ea - b * 2^eb (|a|, |b| < 2^62) */
static int
dy_cmp(int64_t a, int32_t ea, int64_t b, int32_t eb)
{
	int64_t d = (int64_t)ea - eb;
	__int128 x = a, y = b;

	if (d > 64)
		return a != 0 ? (a > 0 ? 1 : -1) : (b > 0 ? -1 : b < 0);
	if (d < -64)
		return b != 0 ? (b > 0 ? -1 : 1) : (a > 0 ? 1 : -(a < 0));
	if (d > 0)
		x *= (__int128)1 << d;
	else
		y *= (__int128)1 << -d;
	return x < y ? -1 : x > y;
}

/* the op of the smallest depth among ids[0..n), removed from the list */
static int32_t
pop_shallow(const struct builder *B, int32_t *ids, uint32_t *n)
{
	uint32_t best = 0;
	int32_t id;

	for (uint32_t q = 1; q < *n; q++) {
		const struct hgq_ir_op *a = &B->ir->ops[ids[q]];
		const struct hgq_ir_op *b = &B->ir->ops[ids[best]];

		if (a->depth < b->depth)
			best = q;
	}
	id = ids[best];
	ids[best] = ids[--*n];
	return id;
}

/*
 * The exponent at which op x is exact and coarsest: a variable's own, a
 * constant's lowest set bit (a zero's: none, INT32_MAX).
 */
static int32_t
natural_e(const struct hgq_ir_op *x)
{
	if (x->kind != HGQ_IR_CONST)
		return x->v.e;
	if (x->v.lo == 0)
		return INT32_MAX;
	return x->v.e + __builtin_ctzll((uint64_t)x->v.lo);
}

/*
 * The interval of op x's values as mantissas at exponent e: exact when e
 * is at most natural_e(x); -1 when it exceeds 62 bits.
 */
static int
ival_at(const struct hgq_ir_op *x, int32_t e, int64_t *lo, int64_t *hi)
{
	struct hgq_ival v = x->v;

	if (v.lo == 0 && v.hi == 0) {
		*lo = *hi = 0;
		return 0;
	}
	if (e > v.e) {		/* a constant, exactly divisible */
		v.lo = v.hi = v.lo >> (e - v.e);
		v.e = e;
	}
	if (hgq_ival_rescale(&v, e) != HGQ_OK)
		return -1;
	*lo = v.lo;
	*hi = v.hi;
	return 0;
}

/* *id = max(a, b): one of them when the intervals decide, else a MAX op */
static int
max_op(struct builder *B, int32_t a, int32_t b, int32_t layer, int32_t *id)
{
	const struct hgq_ir_op *oa = &B->ir->ops[a], *ob = &B->ir->ops[b];
	struct hgq_ir_op op;
	int32_t ea = natural_e(oa), eb = natural_e(ob);
	int64_t alo, ahi, blo, bhi;

	if (dy_cmp(oa->v.lo, oa->v.e, ob->v.hi, ob->v.e) >= 0) {
		*id = a;
		return HGQ_OK;
	}
	if (dy_cmp(ob->v.lo, ob->v.e, oa->v.hi, oa->v.e) >= 0) {
		*id = b;
		return HGQ_OK;
	}
	op_init(&op, HGQ_IR_MAX, layer);
	op.a = a;
	op.b = b;
	op.depth = (oa->depth > ob->depth ? oa->depth : ob->depth) + 1;
	/* the coarsest LSB of both (so that max-pooling after a quantizer
	   stays on its grid, e.g. with a zero-width element in the window) */
	op.v.e = ea < eb ? ea : eb;
	if (ival_at(oa, op.v.e, &alo, &ahi) != 0 ||
	    ival_at(ob, op.v.e, &blo, &bhi) != 0)
		return HGQ_ERANGE;
	op.v.lo = alo > blo ? alo : blo;
	op.v.hi = ahi > bhi ? ahi : bhi;
	return new_op(B, &op, id);
}

/*
 * Pooling: for every output position and channel, the window's values
 * (the zero-width ones are 0): max-pool a comparator tree, shallowest
 * operands first; avg-pool an adder tree then the exact shift by
 * log2(area), left to the quantizer after it.  Constants fold: the
 * largest one (dropped when a variable always beats it), or their sum.
 */
static int
layer_pool(struct builder *B, const struct hgq_model *m, uint32_t li,
    const int32_t *cur, int32_t layer, const struct outs *O,
    struct hgq_err *err)
{
	const struct hgq_layer *d = &m->layers[li];
	int mx = d->kind == HGQ_LAYER_MAXPOOL;
	struct hgq_window w;
	uint32_t *idx = NULL, area, C;
	int32_t *ids = NULL, sh = 0;
	int rc;

	if ((rc = hgq_layer_window(m, li, &w, err)) != HGQ_OK)
		return rc;
	C = w.in_c;
	area = w.k_h * w.k_w;
	while (!mx && ((uint32_t)1 << sh) < area)
		sh++;
	if ((idx = hgq_calloc(w.n_taps, sizeof(*idx))) == NULL ||
	    (ids = hgq_calloc(area, sizeof(*ids))) == NULL) {
		rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t p = 0; p < w.n_pos; p++) {
		hgq_window_taps(&w, p, idx);
		for (uint32_t c = 0; c < C; c++) {
			struct dy k = dy_norm(0, 0);
			bool any_c = false;
			uint32_t n = 0, j = p * C + c;
			int32_t r, cid;

			for (uint32_t t = c; t < w.n_taps; t += C) {
				int32_t id = cur[idx[t]];
				const struct hgq_ir_op *op = id >= 0 ?
				    &B->ir->ops[id] : NULL;
				struct dy v = op == NULL ? dy_norm(0, 0) :
				    dy_norm(op->v.lo, op->v.e);

				if (is_var(B, id)) {
					ids[n++] = id;
				} else if (!mx) {
					if (dy_add(&k, k, v.m, v.e) != 0)
						goto range;
				} else if (!any_c ||
				    dy_cmp(v.m, v.e, k.m, k.e) > 0) {
					k = v;
					any_c = true;
				}
			}
			if (mx && any_c) {
				bool beaten = false;

				for (uint32_t q = 0; q < n; q++)
					if (dy_cmp(B->ir->ops[ids[q]].v.lo,
					    B->ir->ops[ids[q]].v.e, k.m,
					    k.e) >= 0)
						beaten = true;
				if (!beaten) {
					if (n == 0) {
						O->acc[j] = -1;
						out_plain(B, -1, 0, O, j);
						O->C[j] = k;
						continue;
					}
					if (const_op(B, k, layer, &cid) !=
					    HGQ_OK)
						goto nomem;
					ids[n++] = cid;
				}
			}
			while (n > 1) {
				int32_t a = pop_shallow(B, ids, &n);
				int32_t b = pop_shallow(B, ids, &n);

				rc = mx ? max_op(B, a, b, layer, &r) :
				    add_op(B, a, b, 0, 0, layer, &r);
				if (rc == HGQ_ENOMEM)
					goto nomem;
				if (rc != HGQ_OK)
					goto range;
				ids[n++] = r;
			}
			out_plain(B, n > 0 ? ids[0] : -1, -sh, O, j);
			if (!mx && k.m != 0 && dy_add(&O->C[j], O->C[j], k.m,
			    k.e - sh) != 0)
				goto range;
		}
	}
	rc = HGQ_OK;
	goto out;
nomem:
	rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
	goto out;
range:
	rc = hgq_errf(err, HGQ_ERANGE, "layer %u: a window exceeds 62 bits",
	    li);
out:
	free(idx);
	free(ids);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Graphs: add, subtract, concatenate, lookup tables                   */
/* ------------------------------------------------------------------ */

/*
 * Add or subtract (format 1.2): output j is the exact sum of element j
 * of every input (input 1 negated by a subtraction).  The constants
 * fold into C, the variables become a tree of adders, shallowest
 * operands first; a lone variable is the variable part itself (negated
 * when it is the subtrahend).
 */
static int
layer_addsub(struct builder *B, const struct hgq_model *m, uint32_t li,
    int32_t *const *val, int32_t layer, const struct outs *O,
    struct hgq_err *err)
{
	const struct hgq_layer *d = &m->layers[li];
	uint32_t n_in = hgq_layer_n_inputs(d);
	int sub = d->kind == HGQ_LAYER_SUB;
	int32_t ids[8];
	int rc;

	for (uint32_t j = 0; j < d->n_out; j++) {
		struct dy C = dy_norm(0, 0);
		int32_t neg_id = -1;
		uint32_t n = 0;

		for (uint32_t q = 0; q < n_in && q < 8; q++) {
			int32_t id = val[hgq_layer_input(m, li, q)][j];
			const struct hgq_ir_op *op;
			int neg = sub && q == 1;

			if (id < 0)
				continue;
			op = &B->ir->ops[id];
			if (op->kind == HGQ_IR_CONST) {
				if (dy_add(&C, C, neg ? -op->v.lo : op->v.lo,
				    op->v.e) != 0)
					goto range;
			} else if (neg) {
				neg_id = id;
			} else {
				ids[n++] = id;
			}
		}
		while (n > 1) {
			int32_t a = pop_shallow(B, ids, &n);
			int32_t b = pop_shallow(B, ids, &n);

			if ((rc = add_op(B, a, b, 0, 0, layer, &ids[n++])) !=
			    HGQ_OK)
				goto fail;
		}
		if (neg_id >= 0 && n == 1) {
			if ((rc = add_op(B, ids[0], neg_id, 0, 1, layer,
			    &ids[0])) != HGQ_OK)
				goto fail;
			neg_id = -1;
		}
		if (neg_id >= 0)
			out_var(B, neg_id, 1, O, j);
		else
			out_var(B, n > 0 ? ids[0] : -1, 0, O, j);
		if (dy_add(&O->C[j], O->C[j], C.m, C.e) != 0)
			goto range;
	}
	return HGQ_OK;
fail:
	if (rc == HGQ_ENOMEM)
		return hgq_errf(err, rc, "out of memory");
range:
	return hgq_errf(err, HGQ_ERANGE, "layer %u: a sum exceeds 62 bits",
	    li);
}

/*
 * Concatenation: wiring.  The output, row-major over its shape, is outer
 * runs of seg[q] elements of each input q in turn
 * (hgq_layer_concat_runs()).
 */
static void
layer_concat(struct builder *B, const struct hgq_model *m, uint32_t li,
    int32_t *const *val, const struct outs *O)
{
	const struct hgq_layer *d = &m->layers[li];
	size_t outer, seg[HGQ_MAX_LAYER_INPUTS];
	uint32_t e = 0;

	hgq_layer_concat_runs(m, li, &outer, seg);
	for (size_t o = 0; o < outer; o++)
		for (uint32_t q = 0; q < hgq_layer_n_inputs(d); q++) {
			uint32_t src = hgq_layer_input(m, li, q);

			for (size_t t = 0; t < seg[q]; t++, e++)
				out_var(B, val[src][o * seg[q] + t], 0, O, e);
		}
}

/* the bits of a mantissa in [lo, hi] as the index of a table */
static int64_t
index_mant(uint32_t p, int n_idx, int sgn, int64_t lo, int64_t hi)
{
	int64_t x = p;

	if (sgn && n_idx > 0 && (p >> (n_idx - 1)) != 0)
		x -= (int64_t)1 << n_idx;
	return x < lo ? lo : x > hi ? hi : x;
}

/*
 * Lookup table element j: the ROM of the LUT layer li and its output
 * quantizer q, over the values x of input op src (every index of its
 * bits; the indexes outside x's interval repeat the nearest entry, so
 * the ROM holds no value x never gives).  Every entry is hgq_lut_mant of
 * the input mantissa: the one definition.  A constant or zero-width input,
 * or a table of one value, folds to a constant.
 */
static int
lut_elem(struct builder *B, const struct hgq_layer *d,
    const struct hgq_layer *q, uint32_t j, int32_t src, int32_t layer,
    int32_t *id)
{
	struct hgq_ir *ir = B->ir;
	struct hgq_ir_op op;
	const struct hgq_ir_op *x = src >= 0 ? &ir->ops[src] : NULL;
	int k = q->k[j], i = q->i[j], f = q->f[j], n_idx, sgn;
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	uint32_t n;

	if (k + i + f <= 0) {
		*id = -1;
		return HGQ_OK;
	}
	if (x == NULL || x->kind == HGQ_IR_CONST)
		return const_mant(B, hgq_lut_mant(d->func, x == NULL ? 0 :
		    x->v.lo, x == NULL ? 0 : -x->v.e, k, i, f, q->round,
		    q->overflow), f, layer, id);
	n_idx = hgq_ival_width(x->v.lo, x->v.hi, &sgn);
	if (n_idx > HGQ_MAX_LUT_BITS)
		return HGQ_EUNSUPP;
	n = (uint32_t)1 << n_idx;
	if (grow((void **)&ir->tab, &B->cap_tab, (size_t)ir->n_tab + n,
	    sizeof(*ir->tab)) != 0)
		return HGQ_ENOMEM;
	for (uint32_t p = 0; p < n; p++) {
		int64_t t = hgq_lut_mant(d->func, index_mant(p, n_idx, sgn,
		    x->v.lo, x->v.hi), -x->v.e, k, i, f, q->round,
		    q->overflow);

		ir->tab[ir->n_tab + p] = t;
		lo = t < lo ? t : lo;
		hi = t > hi ? t : hi;
	}
	if (lo == hi)
		return const_mant(B, lo, f, layer, id);
	op_init(&op, HGQ_IR_LUT, layer);
	op.a = src;
	op.depth = x->depth + 1;
	op.tab = ir->n_tab;
	op.n_idx = (uint8_t)n_idx;
	op.v.lo = lo;
	op.v.hi = hi;
	op.v.e = -f;
	ir->n_tab += n;
	return new_op(B, &op, id);
}

/* a lookup-table layer li with its output quantizer qi: out (n_out) */
static int
layer_lut(struct builder *B, const struct hgq_model *m, uint32_t li,
    uint32_t qi, int32_t *const *val, int32_t layer, int32_t *out,
    struct hgq_err *err)
{
	const struct hgq_layer *d = &m->layers[li];
	const int32_t *in = val[hgq_layer_input(m, li, 0)];
	int rc;

	for (uint32_t j = 0; j < d->n_out; j++) {
		rc = lut_elem(B, d, &m->layers[qi], j, in[j], layer, &out[j]);
		if (rc == HGQ_EUNSUPP)
			return hgq_errf(err, rc, "layer %u element %u: a "
			    "table of more than %d index bits", li, j,
			    HGQ_MAX_LUT_BITS);
		if (rc != HGQ_OK)
			return hgq_errf(err, rc, "out of memory");
	}
	return HGQ_OK;
}

/* ------------------------------------------------------------------ */
/* Dead code and statistics                                            */
/* ------------------------------------------------------------------ */

/* drop the ops no output needs; renumber (order kept) */
static int
prune(struct hgq_ir *ir)
{
	uint8_t *live = hgq_calloc(ir->n_ops, 1);
	int32_t *nid = hgq_calloc(ir->n_ops, sizeof(*nid));
	uint32_t n = 0;

	if (live == NULL || nid == NULL) {
		free(live);
		free(nid);
		return HGQ_ENOMEM;
	}
	for (uint32_t j = 0; j < ir->n_out; j++)
		if (ir->out_op[j] >= 0)
			live[ir->out_op[j]] = 1;
	for (uint32_t j = ir->n_ops; j-- > 0;) {
		const struct hgq_ir_op *op = &ir->ops[j];

		if (!live[j])
			continue;
		if (op->kind == HGQ_IR_DOT) {
			for (int32_t t = 0; t < op->b; t++)
				live[ir->terms[op->a + t].src] = 1;
			continue;
		}
		if (op->kind == HGQ_IR_INPUT)
			continue;
		if (op->a >= 0)
			live[op->a] = 1;
		if (op->b >= 0)
			live[op->b] = 1;
	}
	for (uint32_t j = 0; j < ir->n_ops; j++) {
		struct hgq_ir_op *op = &ir->ops[j];

		nid[j] = live[j] ? (int32_t)n : -1;
		if (!live[j])
			continue;
		if (op->kind == HGQ_IR_DOT) {
			for (int32_t t = 0; t < op->b; t++)
				ir->terms[op->a + t].src =
				    nid[ir->terms[op->a + t].src];
		} else if (op->kind != HGQ_IR_INPUT) {
			if (op->a >= 0)
				op->a = nid[op->a];
			if (op->b >= 0)
				op->b = nid[op->b];
		}
		ir->ops[n++] = *op;
	}
	ir->n_ops = n;
	for (uint32_t j = 0; j < ir->n_out; j++)
		if (ir->out_op[j] >= 0)
			ir->out_op[j] = nid[ir->out_op[j]];
	for (uint32_t j = 0; j < ir->n_in; j++)
		if (ir->in_op[j] >= 0)
			ir->in_op[j] = nid[ir->in_op[j]];
	free(live);
	free(nid);
	return HGQ_OK;
}

/* consumers read bits [0, bits) of op j's mantissa (beyond: extension) */
static void
need_bits(struct hgq_ir *ir, int32_t j, int64_t bits)
{
	struct hgq_ir_op *op = &ir->ops[j];
	int full = hgq_ival_width(op->v.lo, op->v.hi, NULL);
	int n = bits >= full ? full : bits <= 0 ? 0 : (int)bits;

	if (n > op->w)
		op->w = n;
}

/*
 * The bits each op must keep: what its consumers read, back from the
 * outputs.  The low bits of a sum depend only on the low bits of its
 * operands, so an adder whose result a WRAP quantizer cuts short is cut
 * short too; ReLU and clips read the sign and every bit.
 */
static void
demand(struct hgq_ir *ir)
{
	for (uint32_t j = 0; j < ir->n_ops; j++)
		ir->ops[j].w = 0;
	for (uint32_t j = 0; j < ir->n_out; j++)
		if (ir->out_op[j] >= 0)
			need_bits(ir, ir->out_op[j], ir->out_w[j]);
	for (uint32_t j = ir->n_ops; j-- > 0;) {
		const struct hgq_ir_op *op = &ir->ops[j];
		int64_t w = op->w;

		switch (op->kind) {
		case HGQ_IR_ADD:
			need_bits(ir, op->a, w -
			    ((int64_t)ir->ops[op->a].v.e - op->v.e));
			need_bits(ir, op->b, w - ((int64_t)ir->ops[op->b].v.e +
			    op->shift - op->v.e));
			break;
		case HGQ_IR_QUANT:
			need_bits(ir, op->a, w - ((int64_t)ir->ops[op->a].v.e +
			    op->shift + op->f));
			break;
		case HGQ_IR_RELU:
		case HGQ_IR_SAT:
			if (w > 0)
				need_bits(ir, op->a, INT32_MAX);
			break;
		case HGQ_IR_MAX:
			/* the comparison reads both operands whole */
			if (w > 0) {
				need_bits(ir, op->a, INT32_MAX);
				need_bits(ir, op->b, INT32_MAX);
			}
			break;
		case HGQ_IR_LUT:
			/* the ROM reads every bit of its index */
			if (w > 0)
				need_bits(ir, op->a, INT32_MAX);
			break;
		case HGQ_IR_DOT:
			/* behavioral: the sum keeps its whole width */
			if (w > 0)
				need_bits(ir, (int32_t)j, INT32_MAX);
			for (int32_t t = 0; w > 0 && t < op->b; t++)
				need_bits(ir, ir->terms[op->a + t].src,
				    INT32_MAX);
			break;
		default:
			break;
		}
	}
}

int
hgq_ir_add_split(const struct hgq_ir *ir, uint32_t j, int *low)
{
	const struct hgq_ir_op *op = &ir->ops[j];
	int span = hgq_add_span(&ir->ops[op->a].v, &ir->ops[op->b].v,
	    op->shift, op->sub, &op->v, low);

	if (*low >= op->w) {
		*low = op->w;
		return 0;
	}
	return span == 0 ? 0 : op->w - *low;
}

/* does operand x (at offset p in the sum) hold a variable bit at t? */
static bool
var_bit(const struct hgq_ir_op *x, int64_t p, int t)
{
	int sgn;

	if (x->kind == HGQ_IR_CONST || x->w == 0 || t < p)
		return false;
	hgq_ival_width(x->v.lo, x->v.hi, &sgn);
	return t < p + x->w || sgn;
}

/* does the table t of 2^n bits depend on its index bit v? */
static bool
tt_depends(const uint8_t *t, int n, int v)
{
	uint32_t s = (uint32_t)1 << v;

	for (uint32_t p = 0; p < ((uint32_t)1 << n); p++)
		if ((p & s) == 0 && t[p] != t[p | s])
			return true;
	return false;
}

/*
 * The LUT6s of one output bit of a ROM, t (2^n entries, one bit each):
 * none for a constant or a copy of an index bit, one for a function of
 * at most 6 index bits, else the two halves on its highest index bit and
 * a LUT that chooses between them (Shannon).  buf holds 2^n more bytes
 * for the halves (and theirs, down the recursion).
 */
static uint32_t
lut6_cover(const uint8_t *t, int n, uint8_t *buf)
{
	uint32_t h, s, c;
	int sup = 0, top = 0;

	for (int v = 0; v < n; v++)
		if (tt_depends(t, n, v)) {
			sup++;
			top = v;
		}
	if (sup <= 1)
		return 0;
	if (sup <= 6)
		return 1;
	h = (uint32_t)1 << (n - 1);
	s = (uint32_t)1 << top;
	for (uint32_t p = 0; p < 2 * h; p++)
		if ((p & s) == 0) {
			uint32_t q = (p & (s - 1)) | (p >> (top + 1)) << top;

			buf[q] = t[p];
			buf[h + q] = t[p | s];
		}
	c = lut6_cover(buf, n - 1, buf + 2 * h);
	return c + lut6_cover(buf + h, n - 1, buf + 2 * h) + 1;
}

/*
 * The LUT estimate of a ROM: lut6_cover of each kept output bit.  Exact
 * against Yosys synth_xilinx up to 6 index bits; for wider tables of
 * smooth functions Yosys finds shared logic and counts 20-50 % fewer
 * (man/hgq-emit-verilog.1 gives the figures).
 */
static int
rom_cost(const struct hgq_ir *ir, const struct hgq_ir_op *op)
{
	const int64_t *tab = &ir->tab[op->tab];
	uint32_t n = (uint32_t)1 << op->n_idx;
	uint8_t *t = malloc(3 * (size_t)n);
	uint64_t c = 0;

	if (t == NULL)		/* the plain count: a LUT6 per 64 bits */
		return (int)((n + 63) / 64) * op->w;
	for (int b = 0; b < op->w; b++) {
		for (uint32_t p = 0; p < n; p++)
			t[p] = (uint8_t)(((uint64_t)tab[p] >> b) & 1);
		c += lut6_cover(t, op->n_idx, t + n);
	}
	free(t);
	return (int)c;
}

int
hgq_ir_op_cost(const struct hgq_ir *ir, uint32_t j)
{
	const struct hgq_ir_op *op = &ir->ops[j];
	const struct hgq_ir_op *a, *b;
	int low, n = 0;
	int64_t pa, pb;

	switch (op->kind) {
	case HGQ_IR_ADD:
		if (hgq_ir_add_split(ir, j, &low) == 0)
			return 0;
		a = &ir->ops[op->a];
		b = &ir->ops[op->b];
		pa = (int64_t)a->v.e - op->v.e;
		pb = (int64_t)b->v.e + op->shift - op->v.e;
		for (int t = low; t < op->w; t++)
			if (var_bit(a, pa, t) && var_bit(b, pb, t))
				n++;
		return n;
	case HGQ_IR_SAT:
		return op->w;		/* a 3-way choice per bit */
	case HGQ_IR_LUT:
		return rom_cost(ir, op);
	case HGQ_IR_MAX:
		/* the comparison (Yosys: about two bits per LUT), then a
		   2-way choice per kept bit; fitted on 107 comparators:
		   estimate 1011, synth_xilinx 1005 */
		return op->w == 0 ? 0 : (hgq_ir_max_width(ir, j) + 1) / 2 +
		    op->w;
	default:
		return 0;
	}
}

int
hgq_ir_max_width(const struct hgq_ir *ir, uint32_t j)
{
	const struct hgq_ir_op *op = &ir->ops[j];
	int64_t alo = 0, ahi = 0, blo = 0, bhi = 0;

	/* both at op's LSB (exact: MAX ops are built so) */
	ival_at(&ir->ops[op->a], op->v.e, &alo, &ahi);
	ival_at(&ir->ops[op->b], op->v.e, &blo, &bhi);
	return hgq_ival_width(alo < blo ? alo : blo, ahi > bhi ? ahi : bhi,
	    NULL);
}

static void
stats(struct hgq_ir *ir)
{
	ir->n_adders = 0;
	ir->n_cmp = 0;
	ir->n_rom = 0;
	ir->rom_bits = 0;
	ir->lut = 0;
	ir->depth = 0;
	for (uint32_t l = 0; l < ir->n_layers; l++) {
		ir->layers[l].n_adders = 0;
		ir->layers[l].n_cmp = 0;
		ir->layers[l].n_rom = 0;
		ir->layers[l].rom_bits = 0;
		ir->layers[l].lut = 0;
		ir->layers[l].depth = 0;
	}
	for (uint32_t j = 0; j < ir->n_ops; j++) {
		const struct hgq_ir_op *op = &ir->ops[j];
		struct hgq_ir_layer *L = op->layer >= 0 &&
		    (uint32_t)op->layer < ir->n_layers ?
		    &ir->layers[op->layer] : NULL;
		uint64_t c = (uint64_t)hgq_ir_op_cost(ir, j);

		ir->lut += c;
		if (op->depth > ir->depth)
			ir->depth = op->depth;
		if (L == NULL)
			continue;
		L->lut += c;
		if (op->kind == HGQ_IR_ADD) {
			L->n_adders++;
			ir->n_adders++;
		}
		if (op->kind == HGQ_IR_MAX) {
			L->n_cmp++;
			ir->n_cmp++;
		}
		if (op->kind == HGQ_IR_LUT) {
			uint64_t bits = ((uint64_t)1 << op->n_idx) *
			    (uint64_t)op->w;

			L->n_rom++;
			L->rom_bits += bits;
			ir->n_rom++;
			ir->rom_bits += bits;
		}
		if (op->depth > L->depth)
			L->depth = op->depth;
	}
}

/* ------------------------------------------------------------------ */
/* Build                                                               */
/* ------------------------------------------------------------------ */

void
hgq_ir_free(struct hgq_ir *ir)
{
	if (ir == NULL)
		return;
	free(ir->ops);
	free(ir->terms);
	free(ir->tab);
	free(ir->in_op);
	free(ir->in_w);
	free(ir->out_op);
	free(ir->out_w);
	free(ir->out_k);
	free(ir->layers);
	free(ir);
}

/* the model's ports; a model without ports has one unnamed of each */
static void
ir_ports(struct hgq_ir *ir, const struct hgq_model *m)
{
	uint32_t pos = 0;

	ir->n_in_ports = hgq_model_n_inputs(m);
	for (uint32_t k = 0; k < ir->n_in_ports; k++) {
		struct hgq_ir_port *p = &ir->in_ports[k];

		if (m->n_in_ports > 0)
			memcpy(p->name, m->in_ports[k].name, sizeof(p->name));
		p->start = hgq_model_input_offset(m, k);
		p->n = m->layers[hgq_model_input_layer(m, k)].n_out;
	}
	ir->n_out_ports = hgq_model_n_outputs(m);
	for (uint32_t k = 0; k < ir->n_out_ports; k++) {
		struct hgq_ir_port *p = &ir->out_ports[k];

		if (m->n_out_ports > 0)
			memcpy(p->name, m->out_ports[k].name, sizeof(p->name));
		p->start = pos;
		p->n = m->layers[hgq_model_output_layer(m, k)].n_out;
		pos += p->n;
	}
}

/*
 * What hgq_ir_build takes: a calibrated model whose inputs and outputs
 * are quantizers; *n_ops gets the operation layers, *max_n the largest
 * layer.
 */
static int
ir_check(const struct hgq_model *m, uint32_t *n_ops, uint32_t *max_n,
    struct hgq_err *err)
{
	int rc;

	if ((rc = hgq_model_validate(m, err)) != HGQ_OK)
		return rc;
	if (!m->calibrated)
		return hgq_errf(err, HGQ_EINVAL, "the model was never "
		    "calibrated (no exact formats)");
	if (m->n_layers < 1)
		return hgq_errf(err, HGQ_EINVAL, "the model has no layers");
	for (uint32_t k = 0; k < hgq_model_n_inputs(m); k++)
		if (m->layers[hgq_model_input_layer(m, k)].kind !=
		    HGQ_LAYER_QUANT)
			return hgq_errf(err, HGQ_EUNSUPP, "input %u: not read "
			    "by a quantizer", k);
	for (uint32_t k = 0; k < hgq_model_n_outputs(m); k++)
		if (m->layers[hgq_model_output_layer(m, k)].kind !=
		    HGQ_LAYER_QUANT)
			return hgq_errf(err, HGQ_EUNSUPP, "output %u: not a "
			    "quantizer", k);
	*n_ops = 0;
	*max_n = 1;
	for (uint32_t l = 0; l < m->n_layers; l++) {
		const struct hgq_layer *d = &m->layers[l];

		if (d->kind != HGQ_LAYER_QUANT)
			(*n_ops)++;
		*max_n = d->n_out > *max_n ? d->n_out : *max_n;
		*max_n = d->n_in > *max_n ? d->n_in : *max_n;
	}
	return HGQ_OK;
}

static int
ir_alloc(struct hgq_ir *ir, const struct hgq_model *m, uint32_t n_ops)
{
	ir_ports(ir, m);
	ir->n_in = hgq_model_n_in(m);
	ir->n_out = hgq_model_n_out(m);
	ir->n_layers = n_ops;
	if ((ir->in_op = hgq_calloc(ir->n_in, sizeof(*ir->in_op))) == NULL ||
	    (ir->in_w = hgq_calloc(ir->n_in, sizeof(*ir->in_w))) == NULL ||
	    (ir->out_op = hgq_calloc(ir->n_out, sizeof(*ir->out_op))) ==
	    NULL ||
	    (ir->out_w = hgq_calloc(ir->n_out, sizeof(*ir->out_w))) == NULL ||
	    (ir->out_k = hgq_calloc(ir->n_out, sizeof(*ir->out_k))) == NULL ||
	    (ir->layers = hgq_calloc(ir->n_layers + 1,
	    sizeof(*ir->layers))) == NULL)
		return HGQ_ENOMEM;
	return HGQ_OK;
}

/* model input k: the mantissas of its quantizer q, as given, into val */
static int
make_inputs(struct builder *B, const struct hgq_layer *q, uint32_t start,
    int32_t *val)
{
	struct hgq_ir *ir = B->ir;

	for (uint32_t j = 0; j < q->n_out; j++) {
		int k = q->k[j], i = q->i[j], f = q->f[j];
		int w = hgq_fmt_width(k, i, f);
		struct hgq_ir_op op;

		ir->in_w[start + j] = (uint8_t)w;
		if (w == 0) {
			ir->in_op[start + j] = val[j] = -1;
			continue;
		}
		op_init(&op, HGQ_IR_INPUT, -1);
		op.a = (int32_t)(start + j);
		op.k = (int8_t)k;
		op.i = (int8_t)i;
		op.f = (int8_t)f;
		hgq_fmt_range(k, i, f, q->overflow, &op.v.lo, &op.v.hi);
		op.v.e = -f;
		if (new_op(B, &op, &val[j]) != HGQ_OK)
			return HGQ_ENOMEM;
		ir->in_op[start + j] = val[j];
	}
	return HGQ_OK;
}

/* the parts of the outputs of operation layer li (before its quantizer) */
static int
layer_parts(struct builder *B, const struct hgq_model *m, uint32_t li,
    int32_t *const *val, int32_t layer, const struct outs *O,
    struct hgq_ival *xv, struct hgq_err *err)
{
	const struct hgq_layer *d = &m->layers[li];
	const int32_t *cur = val[hgq_layer_input(m, li, 0)];
	int rc;

	switch (d->kind) {
	case HGQ_LAYER_DENSE:
		if ((rc = view_ranges(B, d, cur, xv, O->C, O->V, li, err)) !=
		    HGQ_OK)
			return rc;
		if (!B->behavioral)
			return layer_cmvm(B, d, cur, layer, O->acc, O->sh,
			    O->neg, li, err);
		memset(O->sh, 0, d->n_out * sizeof(*O->sh));
		memset(O->neg, 0, d->n_out);
		return layer_dot(B, d, cur, O->V, layer, O->acc, li, err);
	case HGQ_LAYER_CONV1D:
	case HGQ_LAYER_CONV2D:
		return layer_conv(B, m, li, cur, layer, O, err);
	case HGQ_LAYER_MAXPOOL:
	case HGQ_LAYER_AVGPOOL:
		return layer_pool(B, m, li, cur, layer, O, err);
	case HGQ_LAYER_ADD:
	case HGQ_LAYER_SUB:
		return layer_addsub(B, m, li, val, layer, O, err);
	case HGQ_LAYER_CONCAT:
		layer_concat(B, m, li, val, O);
		return HGQ_OK;
	default:		/* flatten: the same elements */
		for (uint32_t j = 0; j < d->n_out; j++)
			out_plain(B, cur[j], 0, O, j);
		return HGQ_OK;
	}
}

/*
 * Operation layer li and the quantizer qi that reads it: the ops of
 * qi's values into val[qi].  (A lookup table and its quantizer are one
 * ROM per element.)
 */
static int
lower_layer(struct builder *B, const struct hgq_model *m, uint32_t li,
    uint32_t qi, int32_t *const *val, int32_t layer, const struct outs *O,
    struct hgq_ival *xv, struct hgq_err *err)
{
	const struct hgq_layer *d = &m->layers[li];
	const struct hgq_layer *q = &m->layers[qi];
	int relu = d->act == HGQ_ACT_RELU && (d->kind == HGQ_LAYER_DENSE ||
	    d->kind == HGQ_LAYER_CONV1D || d->kind == HGQ_LAYER_CONV2D);
	uint64_t solves = B->n_solves;
	int rc;

	B->zero = -1;
	B->ir->layers[layer].kind = d->kind;
	B->ir->layers[layer].model_layer = li;
	if (d->kind == HGQ_LAYER_LUT)
		return layer_lut(B, m, li, qi, val, layer, val[qi], err);
	if ((rc = layer_parts(B, m, li, val, layer, O, xv, err)) != HGQ_OK)
		return rc;
	B->ir->layers[layer].n_solves = (uint32_t)(B->n_solves - solves);
	for (uint32_t j = 0; j < d->n_out; j++) {
		rc = lower_output(B, O->acc[j], O->sh[j], O->neg[j], &O->V[j],
		    O->C[j], relu, q->k[j], q->i[j], q->f[j], q->round,
		    q->overflow, layer, &val[qi][j]);
		if (rc == HGQ_ERANGE)
			return hgq_errf(err, rc, "layer %u output %u: a "
			    "value exceeds 62 bits", li, j);
		if (rc != HGQ_OK)
			return hgq_errf(err, rc, "out of memory");
	}
	return HGQ_OK;
}

/* the values of every quantizer, layer by layer (topological order) */
static int
build_layers(struct builder *B, const struct hgq_model *m, int32_t **val,
    const struct outs *O, struct hgq_ival *xv, struct hgq_err *err)
{
	int32_t layer = 0;
	uint32_t in_k = 0;
	int rc;

	for (uint32_t l = 0; l < m->n_layers; l++) {
		uint32_t src = hgq_layer_input(m, l, 0);

		if (m->layers[l].kind != HGQ_LAYER_QUANT)
			continue;
		if ((src & HGQ_REF_INPUT) != 0) {
			in_k = src & ~HGQ_REF_INPUT;
			if (make_inputs(B, &m->layers[l],
			    hgq_model_input_offset(m, in_k), val[l]) != HGQ_OK)
				return hgq_errf(err, HGQ_ENOMEM,
				    "out of memory");
			continue;
		}
		/* the operation layers are counted in model order */
		layer = 0;
		for (uint32_t t = 0; t < src; t++)
			layer += m->layers[t].kind != HGQ_LAYER_QUANT;
		if ((rc = lower_layer(B, m, src, l, val, layer, O, xv,
		    err)) != HGQ_OK)
			return rc;
	}
	return HGQ_OK;
}

/* the outputs: every output quantizer's values, in port order */
static void
set_outputs(struct hgq_ir *ir, const struct hgq_model *m,
    int32_t *const *val)
{
	for (uint32_t k = 0; k < ir->n_out_ports; k++) {
		uint32_t l = hgq_model_output_layer(m, k);
		const struct hgq_layer *q = &m->layers[l];
		uint32_t s = ir->out_ports[k].start;

		for (uint32_t j = 0; j < q->n_out; j++) {
			ir->out_op[s + j] = val[l][j];
			ir->out_k[s + j] = (uint8_t)q->k[j];
			ir->out_w[s + j] = (uint8_t)hgq_fmt_width(q->k[j],
			    q->i[j], q->f[j]);
		}
	}
}

/* scratch of the build: per quantizer its values; a layer's parts */
struct scratch {
	int32_t		**val;
	int32_t		*acc, *sh;
	uint8_t		*neg;
	struct dy	*C;
	struct hgq_ival	*xv, *V;
	uint32_t	 n_layers;
};

static void
scratch_free(struct scratch *S)
{
	for (uint32_t l = 0; S->val != NULL && l < S->n_layers; l++)
		free(S->val[l]);
	free(S->val);
	free(S->acc);
	free(S->sh);
	free(S->neg);
	free(S->C);
	free(S->xv);
	free(S->V);
}

static int
scratch_alloc(struct scratch *S, const struct hgq_model *m, uint32_t max_n)
{
	memset(S, 0, sizeof(*S));
	S->n_layers = m->n_layers;
	if ((S->val = hgq_calloc(m->n_layers, sizeof(*S->val))) == NULL)
		return HGQ_ENOMEM;
	for (uint32_t l = 0; l < m->n_layers; l++)
		if (m->layers[l].kind == HGQ_LAYER_QUANT &&
		    (S->val[l] = hgq_calloc(m->layers[l].n_out,
		    sizeof(**S->val))) == NULL)
			return HGQ_ENOMEM;
	if ((S->acc = hgq_calloc(max_n, sizeof(*S->acc))) == NULL ||
	    (S->sh = hgq_calloc(max_n, sizeof(*S->sh))) == NULL ||
	    (S->neg = hgq_calloc(max_n, 1)) == NULL ||
	    (S->C = hgq_calloc(max_n, sizeof(*S->C))) == NULL ||
	    (S->xv = hgq_calloc(max_n, sizeof(*S->xv))) == NULL ||
	    (S->V = hgq_calloc(max_n, sizeof(*S->V))) == NULL)
		return HGQ_ENOMEM;
	return HGQ_OK;
}

int
hgq_ir_build(struct hgq_ir **out, const struct hgq_model *m,
    const struct hgq_cmvm_params *par, int behavioral, struct hgq_err *err)
{
	struct builder B;
	struct scratch S;
	struct hgq_ir *ir;
	struct outs O;
	uint32_t n_ops = 0, max_n = 1;
	int rc;

	*out = NULL;
	if ((rc = ir_check(m, &n_ops, &max_n, err)) != HGQ_OK)
		return rc;
	memset(&B, 0, sizeof(B));
	B.par = par;
	B.behavioral = behavioral;
	B.zero = -1;
	if ((ir = calloc(1, sizeof(*ir))) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	B.ir = ir;
	ir->behavioral = behavioral;
	if (scratch_alloc(&S, m, max_n) != HGQ_OK ||
	    ir_alloc(ir, m, n_ops) != HGQ_OK)
		goto nomem;
	O.acc = S.acc;
	O.sh = S.sh;
	O.neg = S.neg;
	O.C = S.C;
	O.V = S.V;
	if ((rc = build_layers(&B, m, S.val, &O, S.xv, err)) != HGQ_OK)
		goto fail;
	set_outputs(ir, m, S.val);
	if (prune(ir) != HGQ_OK)
		goto nomem;
	demand(ir);
	stats(ir);
	scratch_free(&S);
	*out = ir;
	return HGQ_OK;

nomem:
	rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
fail:
	scratch_free(&S);
	hgq_ir_free(ir);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The interpreter                                                     */
/* ------------------------------------------------------------------ */

static inline int64_t
lsh(int64_t m, int s)
{
	return (int64_t)((uint64_t)m << s);
}

/* m * 2^s, exact (s < 0 only for constants that divide) */
static inline int64_t
sh_any(int64_t m, int s)
{
	return s >= 0 ? lsh(m, s) : m >> -s;
}

void
hgq_ir_eval(const struct hgq_ir *ir, const int64_t *inp, int64_t *buf,
    int64_t *out)
{
	for (uint32_t j = 0; j < ir->n_ops; j++) {
		const struct hgq_ir_op *op = &ir->ops[j];
		const struct hgq_ir_op *a = op->a >= 0 &&
		    op->kind != HGQ_IR_INPUT && op->kind != HGQ_IR_DOT ?
		    &ir->ops[op->a] : NULL;
		int64_t v = 0;

		switch (op->kind) {
		case HGQ_IR_INPUT:
			v = inp[op->a];
			break;
		case HGQ_IR_CONST:
			v = op->v.lo;
			break;
		case HGQ_IR_ADD: {
			const struct hgq_ir_op *b = &ir->ops[op->b];
			int64_t va = lsh(buf[op->a], a->v.e - op->v.e);
			int64_t vb = lsh(buf[op->b], b->v.e + op->shift -
			    op->v.e);

			v = op->sub ? va - vb : va + vb;
			break;
		}
		case HGQ_IR_RELU:
			v = buf[op->a] < 0 ? 0 : buf[op->a];
			break;
		case HGQ_IR_MAX: {
			const struct hgq_ir_op *b = &ir->ops[op->b];
			int64_t va = sh_any(buf[op->a], a->v.e - op->v.e);
			int64_t vb = sh_any(buf[op->b], b->v.e - op->v.e);

			v = va > vb ? va : vb;
			break;
		}
		case HGQ_IR_QUANT:
			if (op->wrap)
				v = hgq_quant_mant(buf[op->a],
				    -(a->v.e + op->shift), op->k, op->i,
				    op->f, HGQ_TRN, HGQ_WRAP);
			else
				v = hgq_round_mant(buf[op->a],
				    -(a->v.e + op->shift), op->f, HGQ_TRN);
			break;
		case HGQ_IR_SAT:
			v = hgq_overflow_mant(buf[op->a], op->k, op->i, op->f,
			    op->mode);
			break;
		case HGQ_IR_LUT:
			v = ir->tab[op->tab + ((uint64_t)buf[op->a] &
			    (((uint64_t)1 << op->n_idx) - 1))];
			break;
		case HGQ_IR_DOT:
			for (int32_t t = 0; t < op->b; t++) {
				const struct hgq_ir_term *tm =
				    &ir->terms[op->a + t];

				v += lsh(buf[tm->src] * tm->w_m,
				    tm->w_e - op->v.e);
			}
			break;
		}
		buf[j] = v;
	}
	for (uint32_t j = 0; j < ir->n_out; j++)
		out[j] = ir->out_op[j] < 0 ? 0 : buf[ir->out_op[j]];
}
