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
	uint32_t	 cap_ops, cap_terms;
	const struct hgq_cmvm_params *par;
	int		 behavioral;
	int32_t		 zero;		/* the CONST 0 op, or -1 */
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
		if (cur[i] >= 0 && ir->ops[cur[i]].kind != HGQ_IR_CONST) {
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
		if (cur[i] < 0 || ir->ops[cur[i]].kind == HGQ_IR_CONST)
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
	if ((rc = hgq_cmvm_solve(&s, x, dep, n, d->n_out, wm, wf, B->par,
	    err)) != HGQ_OK) {
		if (err != NULL) {
			char why[sizeof(err->msg)];

			memcpy(why, err->msg, sizeof(why));
			hgq_errf(err, rc, "layer %u: %s", li, why);
		}
		goto out;
	}
	rc = HGQ_ENOMEM;
	if ((node_op = hgq_calloc(s->n_nodes, sizeof(*node_op))) == NULL)
		goto fail;
	for (uint32_t j = 0; j < n; j++)
		node_op[j] = map[j];
	for (uint32_t j = n; j < s->n_nodes; j++) {
		const struct hgq_cmvm_node *nd = &s->nodes[j];

		rc = add_op(B, node_op[nd->a], node_op[nd->b], nd->shift,
		    nd->sub, layer, &node_op[j]);
		if (rc != HGQ_OK) {
			hgq_errf(err, rc, "layer %u: an adder exceeds 62 bits",
			    li);
			goto out;
		}
	}
	for (uint32_t j = 0; j < d->n_out; j++) {
		acc[j] = s->out[j].node < 0 ? -1 : node_op[s->out[j].node];
		acc_shift[j] = s->out[j].shift;
		acc_neg[j] = s->out[j].neg;
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
	default:
		return 0;
	}
}

static void
stats(struct hgq_ir *ir)
{
	ir->n_adders = 0;
	ir->lut = 0;
	ir->depth = 0;
	for (uint32_t l = 0; l < ir->n_layers; l++)
		memset(&ir->layers[l], 0, sizeof(ir->layers[l]));
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
	free(ir->in_op);
	free(ir->in_w);
	free(ir->out_op);
	free(ir->out_w);
	free(ir->out_k);
	free(ir->layers);
	free(ir);
}

int
hgq_ir_build(struct hgq_ir **out, const struct hgq_model *m,
    const struct hgq_cmvm_params *par, int behavioral, struct hgq_err *err)
{
	struct builder B;
	struct hgq_ir *ir;
	const struct hgq_layer *q0, *ql;
	int32_t *cur = NULL, *nxt = NULL, *acc = NULL, *acc_sh = NULL;
	uint8_t *acc_neg = NULL;
	struct dy *C = NULL;
	struct hgq_ival *xv = NULL, *V = NULL;
	uint32_t max_n = 0;
	int rc;

	*out = NULL;
	if ((rc = hgq_model_validate(m, err)) != HGQ_OK ||
	    (rc = hgq_model_dense_only(m, "the emitter", err)) != HGQ_OK)
		return rc;
	if (!m->calibrated)
		return hgq_errf(err, HGQ_EINVAL, "the model was never "
		    "calibrated (no exact formats)");
	if (m->n_layers < 1 || m->layers[0].kind != HGQ_LAYER_QUANT ||
	    m->layers[m->n_layers - 1].kind != HGQ_LAYER_QUANT)
		return hgq_errf(err, HGQ_EINVAL, "the model must start and "
		    "end with a quantizer");
	for (uint32_t l = 0; l < m->n_layers; l++) {
		if (m->layers[l].kind != ((l % 2) == 0 ? HGQ_LAYER_QUANT :
		    HGQ_LAYER_DENSE))
			return hgq_errf(err, HGQ_EUNSUPP, "layer %u: only "
			    "quantizer and dense layers, alternating, can be "
			    "emitted", l);
		if (m->layers[l].n_out > max_n)
			max_n = m->layers[l].n_out;
		if (m->layers[l].n_in > max_n)
			max_n = m->layers[l].n_in;
	}
	memset(&B, 0, sizeof(B));
	B.par = par;
	B.behavioral = behavioral;
	B.zero = -1;
	if ((ir = calloc(1, sizeof(*ir))) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	B.ir = ir;
	q0 = &m->layers[0];
	ql = &m->layers[m->n_layers - 1];
	ir->behavioral = behavioral;
	ir->n_in = q0->n_out;
	ir->n_out = ql->n_out;
	ir->n_layers = (m->n_layers - 1) / 2;
	rc = HGQ_ENOMEM;
	if ((ir->in_op = hgq_calloc(ir->n_in, sizeof(*ir->in_op))) == NULL ||
	    (ir->in_w = hgq_calloc(ir->n_in, sizeof(*ir->in_w))) == NULL ||
	    (ir->out_op = hgq_calloc(ir->n_out, sizeof(*ir->out_op))) ==
	    NULL ||
	    (ir->out_w = hgq_calloc(ir->n_out, sizeof(*ir->out_w))) == NULL ||
	    (ir->out_k = hgq_calloc(ir->n_out, sizeof(*ir->out_k))) == NULL ||
	    (ir->layers = hgq_calloc(ir->n_layers + 1,
	    sizeof(*ir->layers))) == NULL ||
	    (cur = hgq_calloc(max_n, sizeof(*cur))) == NULL ||
	    (nxt = hgq_calloc(max_n, sizeof(*nxt))) == NULL ||
	    (acc = hgq_calloc(max_n, sizeof(*acc))) == NULL ||
	    (acc_sh = hgq_calloc(max_n, sizeof(*acc_sh))) == NULL ||
	    (acc_neg = hgq_calloc(max_n, 1)) == NULL ||
	    (C = hgq_calloc(max_n, sizeof(*C))) == NULL ||
	    (xv = hgq_calloc(max_n, sizeof(*xv))) == NULL ||
	    (V = hgq_calloc(max_n, sizeof(*V))) == NULL)
		goto nomem;

	/* the inputs: the first quantizer's mantissas, as given */
	for (uint32_t j = 0; j < q0->n_out; j++) {
		int k = q0->k[j], i = q0->i[j], f = q0->f[j];
		int w = hgq_fmt_width(k, i, f);
		struct hgq_ir_op op;

		ir->in_w[j] = (uint8_t)w;
		if (w == 0) {
			ir->in_op[j] = cur[j] = -1;
			continue;
		}
		op_init(&op, HGQ_IR_INPUT, -1);
		op.a = (int32_t)j;
		op.k = (int8_t)k;
		op.i = (int8_t)i;
		op.f = (int8_t)f;
		hgq_fmt_range(k, i, f, q0->overflow, &op.v.lo, &op.v.hi);
		op.v.e = -f;
		if (new_op(&B, &op, &cur[j]) != HGQ_OK)
			goto nomem;
		ir->in_op[j] = cur[j];
	}

	for (uint32_t l = 1; l + 1 < m->n_layers; l += 2) {
		const struct hgq_layer *d = &m->layers[l];
		const struct hgq_layer *q = &m->layers[l + 1];
		int32_t layer = (int32_t)(l / 2);

		B.zero = -1;
		if ((rc = layer_consts(&B, d, cur, C, l, err)) != HGQ_OK)
			goto fail;
		/* the exact range of every output's variable part */
		for (uint32_t i = 0; i < d->n_in; i++) {
			memset(&xv[i], 0, sizeof(xv[i]));
			if (cur[i] >= 0 && ir->ops[cur[i]].kind != HGQ_IR_CONST)
				xv[i] = ir->ops[cur[i]].v;
		}
		for (uint32_t j = 0; j < d->n_out; j++)
			if (hgq_dense_range(&V[j], d, j, xv, 0) != HGQ_OK) {
				rc = hgq_errf(err, HGQ_ERANGE, "layer %u output "
				    "%u: a sum exceeds 62 bits", l, j);
				goto fail;
			}
		if (behavioral) {
			rc = layer_dot(&B, d, cur, V, layer, acc, l, err);
			memset(acc_sh, 0, d->n_out * sizeof(*acc_sh));
			memset(acc_neg, 0, d->n_out);
		} else {
			rc = layer_cmvm(&B, d, cur, layer, acc, acc_sh,
			    acc_neg, l, err);
		}
		if (rc != HGQ_OK)
			goto fail;
		for (uint32_t j = 0; j < d->n_out; j++) {
			rc = lower_output(&B, acc[j], acc_sh[j], acc_neg[j],
			    &V[j], C[j], d->act == HGQ_ACT_RELU, q->k[j], q->i[j],
			    q->f[j], q->round, q->overflow, layer, &nxt[j]);
			if (rc == HGQ_ERANGE) {
				hgq_errf(err, rc, "layer %u output %u: a "
				    "value exceeds 62 bits", l, j);
				goto fail;
			}
			if (rc != HGQ_OK)
				goto nomem;
		}
		memcpy(cur, nxt, d->n_out * sizeof(*cur));
	}
	for (uint32_t j = 0; j < ql->n_out; j++) {
		ir->out_op[j] = cur[j];
		ir->out_k[j] = (uint8_t)ql->k[j];
		ir->out_w[j] = (uint8_t)hgq_fmt_width(ql->k[j], ql->i[j],
		    ql->f[j]);
	}
	if (m->n_layers == 1) {
		/* a lone quantizer: outputs are the inputs */
		for (uint32_t j = 0; j < ql->n_out; j++)
			ir->out_op[j] = ir->in_op[j];
	}
	if (prune(ir) != HGQ_OK)
		goto nomem;
	demand(ir);
	stats(ir);
	free(cur);
	free(nxt);
	free(acc);
	free(acc_sh);
	free(acc_neg);
	free(C);
	free(xv);
	free(V);
	*out = ir;
	return HGQ_OK;

nomem:
	rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
fail:
	free(cur);
	free(nxt);
	free(acc);
	free(acc_sh);
	free(acc_neg);
	free(C);
	free(xv);
	free(V);
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
