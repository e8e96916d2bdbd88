/*
 * check_verilog.c - graphs of format 1.2 (add, subtract, concatenate,
 * lookup tables, masked dense, two inputs and two outputs) through the
 * IR and the Verilog: the IR's interpreter equals an independent
 * reference written here from the model semantics (graph-design.md),
 * and the emitted Verilog, combinational and pipelined, equals the same
 * reference under Icarus Verilog; Verilator's lint is clean; Yosys's LUT
 * count of a design with ROMs is near the estimate.  The tools are
 * optional: a test without them says so and passes.
 */
#include <check.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "fixture.h"
#include "unit.h"

/* ------------------------------------------------------------------ */
/* Random graphs                                                       */
/* ------------------------------------------------------------------ */

#define MAX_Q	64		/* quantizers of a random graph */

/* append a layer of kind reading refs, shape dims (rank r) */
static struct hgq_layer *
add_layer(struct hgq_model *m, uint32_t kind, uint32_t n_in, uint32_t r,
    const uint32_t *dims, uint32_t n_refs, const uint32_t *refs)
{
	struct hgq_err err = HGQ_ERR_INIT;
	uint32_t j = fx_add(m, kind, r, dims, n_refs, refs);
	struct hgq_layer *l = &m->layers[j];	/* after fx_add: it moves */

	ck_assert_uint_eq(l->n_in, n_in);
	if (kind == HGQ_LAYER_QUANT || kind == HGQ_LAYER_DENSE)
		ck_assert_msg(hgq_layer_alloc_fixed(l, &err) == HGQ_OK, "%s",
		    err.msg);
	return l;
}

/* a flat layer of n elements */
static uint32_t
add_flat(struct hgq_model *m, uint32_t kind, uint32_t n_in, uint32_t n,
    uint32_t n_refs, const uint32_t *refs)
{
	add_layer(m, kind, n_in, 1, &n, n_refs, refs);
	return m->n_layers - 1;
}

/* random formats: widths 0 and 1 often, negative i, k 0/1, any modes */
static void
random_quant(struct hgq_layer *q, int max_w)
{
	q->round = (uint8_t)fx_rnd_int(0, 1);
	q->overflow = (uint8_t)fx_rnd_int(0, 2);
	for (uint32_t j = 0; j < q->n_out; j++) {
		int k = fx_rnd_int(0, 1), f = fx_rnd_int(-2, 6), w;

		switch (fx_rnd_int(0, 6)) {
		case 0:
			w = fx_rnd_int(-1, 0);
			break;
		case 1:
			w = 1;
			break;
		default:
			w = fx_rnd_int(1, max_w);
		}
		if (w < k)
			k = w > 0 ? k : 0;
		q->k[j] = (int8_t)k;
		q->f[j] = (int8_t)f;
		q->i[j] = (int8_t)(w - k - f);
	}
}

/* the quantizer after a table: mostly a fraction of a few bits */
static void
table_quant(struct hgq_layer *q, int max_w)
{
	random_quant(q, max_w);
	for (uint32_t j = 0; j < q->n_out; j++) {
		if (fx_rnd_int(0, 3) == 0)
			continue;
		q->k[j] = (int8_t)fx_rnd_int(0, 1);
		q->i[j] = (int8_t)fx_rnd_int(0, 2);
		q->f[j] = (int8_t)fx_rnd_int(1, 5);
	}
}

/* random weights and biases; a mask (weights 0 where it is 0) or not */
static void
random_dense(struct hgq_layer *d)
{
	struct hgq_err err = HGQ_ERR_INIT;
	size_t nw = (size_t)d->n_in * d->n_out;
	int wbits = fx_rnd_int(1, 6), masked = fx_rnd_int(0, 2) == 0;
	struct hgq_tensor *t = NULL;

	d->act = (uint8_t)fx_rnd_int(0, 1);
	if (masked) {
		t = hgq_layer_add_tensor(d, HGQ_ROLE_MASK, nw, &err);
		ck_assert_msg(t != NULL, "%s", err.msg);
	}
	for (size_t e = 0; e < nw; e++) {
		int keep = fx_rnd_int(0, 3) != 0;

		if (t != NULL)
			t->data[e] = fx_rnd_int(0, 2) == 0 ? 0.0f : 1.0f;
		if (!keep || (t != NULL && t->data[e] == 0.0f))
			continue;
		d->w_m[e] = fx_rnd_int(-(1 << (wbits - 1)),
		    (1 << (wbits - 1)) - 1);
		d->w_f[e] = (int8_t)fx_rnd_int(-2, 6);
	}
	for (uint32_t j = 0; j < d->n_out; j++) {
		if (fx_rnd_int(0, 2) == 0)
			continue;
		d->b_m[j] = fx_rnd_int(-100, 100);
		d->b_f[j] = (int8_t)fx_rnd_int(-2, 7);
	}
}

struct rg {
	struct hgq_model *m;
	uint32_t	 q[MAX_Q];	/* the quantizer layers */
	uint8_t		 read[MAX_Q];	/* read by a layer */
	uint32_t	 nq;
	int		 max_w;
};

/* op (already added) and a quantizer after it; returns its index in q */
static uint32_t
rg_quant(struct rg *g, uint32_t op, int table)
{
	uint32_t n = g->m->layers[op].n_out;
	uint32_t l = add_flat(g->m, HGQ_LAYER_QUANT, n, n, 1, &op);

	if (table)
		table_quant(&g->m->layers[l], g->max_w);
	else
		random_quant(&g->m->layers[l], g->max_w);
	g->q[g->nq] = l;
	g->read[g->nq] = 0;
	return g->nq++;
}

static uint32_t
rg_dense(struct rg *g, uint32_t x, uint32_t n)
{
	uint32_t l = add_flat(g->m, HGQ_LAYER_DENSE, g->m->layers[g->q[x]].n_out,
	    n, 1, &g->q[x]);

	random_dense(&g->m->layers[l]);
	g->read[x] = 1;
	return rg_quant(g, l, 0);
}

/* a quantizer of n elements other than not: an existing one or new */
static uint32_t
rg_sized(struct rg *g, uint32_t n, uint32_t not)
{
	uint32_t c[MAX_Q], nc = 0;

	for (uint32_t t = 0; t < g->nq; t++)
		if (t != not && g->m->layers[g->q[t]].n_out == n)
			c[nc++] = t;
	if (nc > 0 && fx_rnd_int(0, 2) != 0)
		return c[fx_rnd_int(0, (int)nc - 1)];
	return rg_dense(g, (uint32_t)fx_rnd_int(0, (int)g->nq - 1), n);
}

/* one random operation on the quantizers so far */
static void
rg_step(struct rg *g)
{
	uint32_t x = (uint32_t)fx_rnd_int(0, (int)g->nq - 1), refs[3], l;
	uint32_t n = g->m->layers[g->q[x]].n_out, nr;
	int kind = fx_rnd_int(0, 5);

	switch (kind) {
	case 0:		/* add of 2 or 3, subtract */
	case 1:
		nr = kind == 0 ? (uint32_t)fx_rnd_int(2, 3) : 2;
		refs[0] = x;
		for (uint32_t t = 1; t < nr; t++)
			refs[t] = rg_sized(g, n, refs[t - 1]);
		for (uint32_t t = 0; t < nr; t++) {
			g->read[refs[t]] = 1;
			refs[t] = g->q[refs[t]];
		}
		l = add_flat(g->m, kind == 0 ? HGQ_LAYER_ADD : HGQ_LAYER_SUB, n,
		    n, nr, refs);
		rg_quant(g, l, 0);
		break;
	case 2:		/* concatenate */
		nr = (uint32_t)fx_rnd_int(2, 3);
		n = 0;
		for (uint32_t t = 0; t < nr; t++) {
			uint32_t y = (uint32_t)fx_rnd_int(0, (int)g->nq - 1);

			g->read[y] = 1;
			refs[t] = g->q[y];
			n += g->m->layers[refs[t]].n_out;
		}
		l = add_flat(g->m, HGQ_LAYER_CONCAT,
		    g->m->layers[refs[0]].n_out, n, nr, refs);
		rg_quant(g, l, 0);
		break;
	case 3:		/* a table, on a quantizer of its own half the time */
	case 4:
		if (kind == 4) {
			x = rg_dense(g, x, n);
			table_quant(&g->m->layers[g->q[x]], g->max_w);
		}
		g->read[x] = 1;
		l = add_flat(g->m, HGQ_LAYER_LUT, n, n, 1, &g->q[x]);
		g->m->layers[l].func = (uint8_t)fx_rnd_int(0, HGQ_FUNC_MAX);
		rg_quant(g, l, 1);
		break;
	default:
		rg_dense(g, x, (uint32_t)fx_rnd_int(1, 6));
	}
}

/*
 * A random calibrated graph: inputs "a" and "b" (1..6 elements each),
 * steps random operations, then outputs "y" (what nothing reads, joined
 * by a concatenation when there are several) and "z" (another quantizer,
 * read by some layer too).
 */
static struct hgq_model *
random_graph(int steps, int max_w)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct rg g;
	uint32_t na = (uint32_t)fx_rnd_int(1, 6), nb = (uint32_t)fx_rnd_int(1, 6);
	uint32_t ref, un[MAX_Q], nu = 0, y, z;

	memset(&g, 0, sizeof(g));
	g.m = hgq_model_new();
	g.max_w = max_w;
	ck_assert_ptr_nonnull(g.m);
	ref = HGQ_REF_INPUT | 0;
	g.q[0] = add_flat(g.m, HGQ_LAYER_QUANT, na, na, 1, &ref);
	ref = HGQ_REF_INPUT | 1;
	g.q[1] = add_flat(g.m, HGQ_LAYER_QUANT, nb, nb, 1, &ref);
	g.nq = 2;
	random_quant(&g.m->layers[0], max_w);
	random_quant(&g.m->layers[1], max_w);
	for (int s = 0; s < steps && g.nq + 8 < MAX_Q; s++)
		rg_step(&g);
	for (uint32_t t = 0; t < g.nq; t++)
		if (!g.read[t])
			un[nu++] = g.q[t];
	if (nu == 1) {
		y = un[0];
	} else {
		uint32_t n = 0, l;

		ck_assert_uint_le(nu, 8);
		for (uint32_t t = 0; t < nu; t++)
			n += g.m->layers[un[t]].n_out;
		l = add_flat(g.m, HGQ_LAYER_CONCAT, g.m->layers[un[0]].n_out,
		    n, nu, un);
		y = g.q[rg_quant(&g, l, 0)];
	}
	do {
		z = g.q[fx_rnd_int(0, (int)g.nq - 1)];
	} while (z == y);
	g.m->n_in_ports = 2;
	g.m->in_ports[0] = (struct hgq_port){ .name = "a", .layer = g.q[0] };
	g.m->in_ports[1] = (struct hgq_port){ .name = "b", .layer = g.q[1] };
	g.m->n_out_ports = 2;
	g.m->out_ports[0] = (struct hgq_port){ .name = "y", .layer = y };
	g.m->out_ports[1] = (struct hgq_port){ .name = "z", .layer = z };
	g.m->task = HGQ_TASK_REGRESS;
	ck_assert_msg(hgq_model_set_input(g.m, na + nb, &err) == HGQ_OK, "%s",
	    err.msg);
	g.m->calibrated = 1;
	ck_assert_msg(hgq_model_validate(g.m, &err) == HGQ_OK, "%s", err.msg);
	return g.m;
}

/* ------------------------------------------------------------------ */
/* The reference                                                       */
/* ------------------------------------------------------------------ */

/* an exact sum: S * 2^E */
struct xsum {
	__int128	 S;
	int32_t		 E;
};

static void
xs_add(struct xsum *x, __int128 m, int32_t e)
{
	if (m == 0)
		return;
	if (x->S == 0) {
		x->S = m;
		x->E = e;
		return;
	}
	if (e < x->E) {
		x->S *= (__int128)1 << (x->E - e);
		x->E = e;
	}
	x->S += m * ((__int128)1 << (e - x->E));
}

/* the value of quantizer element j of layer l (mantissas in v[l]) */
static void
xs_elem(struct xsum *x, const struct hgq_model *m, int64_t *const *v,
    uint32_t l, uint32_t j, int neg)
{
	xs_add(x, neg ? -(__int128)v[l][j] : v[l][j], -m->layers[l].f[j]);
}

/* the exact outputs of operation layer l (not a table) into y */
static void
ref_op(const struct hgq_model *m, int64_t *const *v, uint32_t l,
    struct xsum *y)
{
	const struct hgq_layer *d = &m->layers[l];
	uint32_t p = hgq_layer_input(m, l, 0), pos = 0;

	memset(y, 0, d->n_out * sizeof(*y));
	switch (d->kind) {
	case HGQ_LAYER_DENSE:
		for (uint32_t j = 0; j < d->n_out; j++) {
			for (uint32_t i = 0; i < d->n_in; i++) {
				size_t at = (size_t)i * d->n_out + j;

				xs_add(&y[j], (__int128)v[p][i] * d->w_m[at],
				    -m->layers[p].f[i] - d->w_f[at]);
			}
			xs_add(&y[j], d->b_m[j], -d->b_f[j]);
			if (d->act == HGQ_ACT_RELU && y[j].S < 0)
				y[j].S = 0;
		}
		break;
	case HGQ_LAYER_ADD:
	case HGQ_LAYER_SUB:
		for (uint32_t q = 0; q < hgq_layer_n_inputs(d); q++)
			for (uint32_t j = 0; j < d->n_out; j++)
				xs_elem(&y[j], m, v, hgq_layer_input(m, l, q),
				    j, d->kind == HGQ_LAYER_SUB && q == 1);
		break;
	case HGQ_LAYER_CONCAT: {
		/* forward: input q's element (outer, c, rest) goes to
		   (outer, offset_q + c, rest) */
		uint32_t od[HGQ_MAX_RANK], r = hgq_layer_shape(d, od);
		uint32_t ax = d->axis, inner = 1;

		for (uint32_t t = ax + 1; t < r; t++)
			inner *= od[t];
		for (uint32_t q = 0; q < hgq_layer_n_inputs(d); q++) {
			uint32_t s = hgq_layer_input(m, l, q), id[HGQ_MAX_RANK];
			const struct hgq_layer *x = &m->layers[s];

			hgq_layer_shape(x, id);
			for (uint32_t e = 0; e < x->n_out; e++) {
				uint32_t outer = e / (id[ax] * inner);
				uint32_t c = e / inner % id[ax];
				uint32_t o = (outer * od[ax] + pos + c) *
				    inner + e % inner;

				xs_elem(&y[o], m, v, s, e, 0);
			}
			pos += id[ax];
		}
		break;
	}
	case HGQ_LAYER_CONV1D: {
		struct hgq_window w;
		uint32_t idx[64];

		ck_assert_int_eq(hgq_layer_window(m, l, &w, NULL), HGQ_OK);
		ck_assert_uint_le(w.n_taps, 64);
		for (uint32_t pp = 0; pp < w.n_pos; pp++) {
			hgq_window_taps(&w, pp, idx);
			for (uint32_t co = 0; co < w.out_c; co++) {
				struct xsum *o = &y[pp * w.out_c + co];

				for (uint32_t t = 0; t < w.n_taps; t++) {
					size_t at = (size_t)t * w.out_c + co;

					if (idx[t] != HGQ_TAP_PAD)
						xs_add(o, (__int128)v[p][idx[t]] *
						    d->w_m[at],
						    -m->layers[p].f[idx[t]] -
						    d->w_f[at]);
				}
				xs_add(o, d->b_m[co], -d->b_f[co]);
				if (d->act == HGQ_ACT_RELU && o->S < 0)
					o->S = 0;
			}
		}
		break;
	}
	case HGQ_LAYER_FLATTEN:
		for (uint32_t j = 0; j < d->n_out; j++)
			xs_elem(&y[j], m, v, p, j, 0);
		break;
	default:
		ck_abort_msg("layer %u: kind %u", l, d->kind);
	}
}

/*
 * The reference: the layers in order; in: the inputs' mantissas (input
 * 0's elements, then input 1's), out: the outputs' (in port order).
 */
static void
ref_eval(const struct hgq_model *m, const int64_t *in, int64_t *out)
{
	int64_t **v = calloc(m->n_layers, sizeof(*v));
	uint32_t pos = 0, max_n = 1;
	struct xsum *y;

	for (uint32_t l = 0; l < m->n_layers; l++)
		if (m->layers[l].n_out > max_n)
			max_n = m->layers[l].n_out;
	y = calloc(max_n, sizeof(*y));

	for (uint32_t l = 0; l < m->n_layers; l++) {
		const struct hgq_layer *q = &m->layers[l];
		uint32_t src = hgq_layer_input(m, l, 0);
		const struct hgq_layer *d;

		if (q->kind != HGQ_LAYER_QUANT)
			continue;
		v[l] = calloc(q->n_out, sizeof(**v));
		if (src & HGQ_REF_INPUT) {
			memcpy(v[l], &in[hgq_model_input_offset(m,
			    src & ~HGQ_REF_INPUT)], q->n_out * sizeof(**v));
			continue;
		}
		d = &m->layers[src];
		if (d->kind == HGQ_LAYER_LUT) {
			uint32_t x = hgq_layer_input(m, src, 0);

			for (uint32_t j = 0; j < q->n_out; j++)
				v[l][j] = hgq_lut_mant(d->func, v[x][j],
				    m->layers[x].f[j], q->k[j], q->i[j],
				    q->f[j], q->round, q->overflow);
			continue;
		}
		ref_op(m, v, src, y);
		for (uint32_t j = 0; j < q->n_out; j++) {
			ck_assert(y[j].S < ((__int128)1 << 61) &&
			    y[j].S > -((__int128)1 << 61));
			v[l][j] = hgq_quant_mant((int64_t)y[j].S, -y[j].E,
			    q->k[j], q->i[j], q->f[j], q->round, q->overflow);
		}
	}
	for (uint32_t k = 0; k < hgq_model_n_outputs(m); k++) {
		uint32_t l = hgq_model_output_layer(m, k);

		memcpy(&out[pos], v[l], m->layers[l].n_out * sizeof(*out));
		pos += m->layers[l].n_out;
	}
	for (uint32_t l = 0; l < m->n_layers; l++)
		free(v[l]);
	free(v);
	free(y);
}

/* random input mantissas: every input quantizer's range, ends often */
static void
random_mants(const struct hgq_model *m, int64_t *x)
{
	for (uint32_t k = 0; k < hgq_model_n_inputs(m); k++) {
		const struct hgq_layer *q =
		    &m->layers[hgq_model_input_layer(m, k)];
		int64_t *xk = &x[hgq_model_input_offset(m, k)];

		for (uint32_t j = 0; j < q->n_out; j++) {
			int64_t lo, hi;

			hgq_fmt_range(q->k[j], q->i[j], q->f[j], q->overflow,
			    &lo, &hi);
			switch (fx_rnd_int(0, 3)) {
			case 0:
				xk[j] = lo;
				break;
			case 1:
				xk[j] = hi;
				break;
			default:
				xk[j] = fx_rnd_i64(lo, hi);
			}
		}
	}
}

/* n samples of inputs and their reference outputs */
static void
samples(const struct hgq_model *m, size_t n, int64_t **x, int64_t **y)
{
	uint32_t ni = hgq_model_n_in(m), no = hgq_model_n_out(m);

	*x = calloc(n * ni + 1, sizeof(**x));
	*y = calloc(n * no + 1, sizeof(**y));
	for (size_t s = 0; s < n; s++) {
		random_mants(m, &(*x)[s * ni]);
		ref_eval(m, &(*x)[s * ni], &(*y)[s * no]);
	}
}

/* the IR on the samples equals the reference; values in their intervals */
static void
check_ir(const struct hgq_model *m, const struct hgq_ir *ir,
    const int64_t *x, const int64_t *y, size_t n)
{
	uint32_t ni = hgq_model_n_in(m), no = hgq_model_n_out(m);
	int64_t *buf = calloc(ir->n_ops + 1, sizeof(*buf));
	int64_t *got = calloc(no + 1, sizeof(*got));

	ck_assert_uint_eq(ir->n_in, ni);
	ck_assert_uint_eq(ir->n_out, no);
	for (size_t s = 0; s < n; s++) {
		hgq_ir_eval(ir, &x[s * ni], buf, got);
		for (uint32_t j = 0; j < ir->n_ops; j++)
			ck_assert_msg(buf[j] >= ir->ops[j].v.lo &&
			    buf[j] <= ir->ops[j].v.hi, "op %u (kind %d) = %lld "
			    "outside [%lld, %lld]", j, ir->ops[j].kind,
			    (long long)buf[j], (long long)ir->ops[j].v.lo,
			    (long long)ir->ops[j].v.hi);
		for (uint32_t j = 0; j < no; j++)
			ck_assert_msg(got[j] == y[s * no + j], "sample %zu "
			    "output %u: IR %lld, reference %lld", s, j,
			    (long long)got[j], (long long)y[s * no + j]);
	}
	free(buf);
	free(got);
}

START_TEST(test_random_graphs)
{
	uint32_t kinds = 0, roms = 0;

	fx_rng_state = 0x2545f4914f6cdd1dull ^ (uint64_t)(_i + 1) * 7919u;
	for (int round = 0; round < 40; round++) {
		struct hgq_err err = HGQ_ERR_INIT;
		struct hgq_model *m = random_graph(fx_rnd_int(2, 8),
		    fx_rnd_int(1, 10));
		struct hgq_ir *ir = NULL, *irb = NULL;
		struct hgq_cmvm_params par;
		int64_t *x, *y;
		size_t n = 200;

		for (uint32_t l = 0; l < m->n_layers; l++)
			kinds |= 1u << m->layers[l].kind;
		hgq_cmvm_params_init(&par);
		par.max_extra_depth = fx_rnd_int(-1, 2);
		ck_assert_msg(hgq_ir_build(&ir, m, &par, 0, &err) == HGQ_OK,
		    "%s", err.msg);
		ck_assert_msg(hgq_ir_build(&irb, m, NULL, 1, &err) == HGQ_OK,
		    "%s", err.msg);
		roms += ir->n_rom;
		samples(m, n, &x, &y);
		check_ir(m, ir, x, y, n);
		check_ir(m, irb, x, y, n);
		hgq_ir_free(ir);
		hgq_ir_free(irb);
		hgq_model_free(m);
		free(x);
		free(y);
	}
	/* every kind of a graph came up, and tables became ROMs */
	ck_assert_uint_eq(kinds, 1u << HGQ_LAYER_QUANT | 1u << HGQ_LAYER_DENSE |
	    1u << HGQ_LAYER_ADD | 1u << HGQ_LAYER_SUB |
	    1u << HGQ_LAYER_CONCAT | 1u << HGQ_LAYER_LUT);
	ck_assert_uint_gt(roms, 10);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Icarus Verilog, Verilator, Yosys                                    */
/* ------------------------------------------------------------------ */

static int
have(const char *tool)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	if (system(cmd) == 0)
		return 1;
	printf("check_verilog: %s is not installed: skipped\n", tool);
	return 0;
}

/*
 * One vector line: the mantissas v of every input (out = 0) or output
 * element of m, each at its width, element 0 at the LSBs, in hex.
 */
static void
hex_line(FILE *f, const struct hgq_model *m, int out, const int64_t *v)
{
	uint32_t np = out ? hgq_model_n_outputs(m) : hgq_model_n_inputs(m);
	uint8_t bits[4096];
	uint32_t nb = 0, e = 0;

	memset(bits, 0, sizeof(bits));
	for (uint32_t k = 0; k < np; k++) {
		const struct hgq_layer *q = &m->layers[out ?
		    hgq_model_output_layer(m, k) : hgq_model_input_layer(m, k)];

		for (uint32_t j = 0; j < q->n_out; j++, e++)
			for (int b = 0; b < hgq_fmt_width(q->k[j], q->i[j],
			    q->f[j]); b++)
				bits[nb++] = (uint8_t)(((uint64_t)v[e] >> b) &
				    1);
	}
	if (nb == 0)
		nb = 1;
	for (uint32_t d = (nb + 3) / 4; d-- > 0;)
		fprintf(f, "%x", bits[4 * d] | bits[4 * d + 1] << 1 |
		    bits[4 * d + 2] << 2 | bits[4 * d + 3] << 3);
	fprintf(f, "\n");
}

/* a scratch folder and the paths in it */
struct tmp {
	char	 dir[64];
	char	 path[4][128];
};

static void
tmp_open(struct tmp *t)
{
	static const char *const name[4] = { "net.v", "tb.v", "inp.mem",
	    "exp.mem" };

	snprintf(t->dir, sizeof(t->dir), "/tmp/hgq-verilog-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	for (int j = 0; j < 4; j++)
		snprintf(t->path[j], sizeof(t->path[j]), "%s/%s", t->dir,
		    name[j]);
}

static void
tmp_close(const struct tmp *t)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* the module of ir into t's net.v */
static void
write_module(const struct tmp *t, const struct hgq_ir *ir, int pipeline)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_verilog_opts vo;
	FILE *f = fopen(t->path[0], "w");

	ck_assert_ptr_nonnull(f);
	hgq_verilog_opts_init(&vo);
	vo.top = "g";
	vo.pipeline = pipeline;
	ck_assert_msg(hgq_verilog_write(f, ir, &vo, &err) == HGQ_OK, "%s",
	    err.msg);
	ck_assert_int_eq(fclose(f), 0);
}

/* the testbench and its vectors: inputs x, expected outputs y */
static void
write_tb(const struct tmp *t, const struct hgq_model *m,
    const struct hgq_ir *ir, int pipeline, const int64_t *x,
    const int64_t *y, size_t n)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_verilog_opts vo;
	FILE *f = fopen(t->path[1], "w"), *fi = fopen(t->path[2], "w");
	FILE *fe = fopen(t->path[3], "w");

	ck_assert(f != NULL && fi != NULL && fe != NULL);
	hgq_verilog_opts_init(&vo);
	vo.top = "g";
	vo.pipeline = pipeline;
	ck_assert_msg(hgq_verilog_testbench(f, ir, &vo, t->path[2],
	    t->path[3], n, &err) == HGQ_OK, "%s", err.msg);
	for (size_t s = 0; s < n; s++) {
		hex_line(fi, m, 0, &x[s * hgq_model_n_in(m)]);
		hex_line(fe, m, 1, &y[s * hgq_model_n_out(m)]);
	}
	ck_assert(fclose(f) == 0 && fclose(fi) == 0 && fclose(fe) == 0);
}

/* iverilog and vvp in t: the simulator's exit status, *line its first */
static int
run_icarus(const struct tmp *t, char *line, size_t size)
{
	char cmd[512];
	FILE *f;
	int rc;

	snprintf(cmd, sizeof(cmd), "cd '%s' && iverilog -g2005 -o sim tb.v "
	    "net.v > out.txt 2>&1 && vvp -n sim > out.txt 2>&1", t->dir);
	rc = system(cmd);
	snprintf(cmd, sizeof(cmd), "%s/out.txt", t->dir);
	f = fopen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	if (fgets(line, (int)size, f) == NULL)
		line[0] = '\0';
	line[strcspn(line, "\n")] = '\0';
	fclose(f);
	return rc;
}

/*
 * Random graphs under Icarus Verilog, combinational and pipelined (and
 * some behavioral): the Verilog of each equals the reference on 300
 * vectors.
 */
START_TEST(test_icarus)
{
	uint32_t roms = 0, adders = 0;

	if (!have("iverilog") || !have("vvp"))
		return;
	fx_rng_state = 0x51ed270b27a5c5a3ull ^ (uint64_t)(_i + 1) * 104729u;
	for (int round = 0; round < 6; round++) {
		struct hgq_err err = HGQ_ERR_INIT;
		struct hgq_model *m = random_graph(fx_rnd_int(5, 10),
		    fx_rnd_int(4, 9));
		int behavioral = round == 5;
		struct hgq_ir *ir = NULL;
		int64_t *x, *y;
		size_t n = 300;
		char line[256], want[64];

		ck_assert_msg(hgq_ir_build(&ir, m, NULL, behavioral, &err) ==
		    HGQ_OK, "%s", err.msg);
		roms += ir->n_rom;
		adders += ir->n_adders;
		samples(m, n, &x, &y);
		snprintf(want, sizeof(want), "PASS %zu", n);
		for (int pipeline = 0; pipeline <= 2; pipeline += 2) {
			struct tmp t;
			int p = pipeline == 0 ? 0 : fx_rnd_int(1, 3);

			tmp_open(&t);
			write_module(&t, ir, p);
			write_tb(&t, m, ir, p, x, y, n);
			ck_assert_msg(run_icarus(&t, line, sizeof(line)) ==
			    0 && strcmp(line, want) == 0, "round %d, pipeline "
			    "%d: %s", round, p, line);
			tmp_close(&t);
		}
		hgq_ir_free(ir);
		hgq_model_free(m);
		free(x);
		free(y);
	}
	ck_assert_uint_gt(roms, 4);
	ck_assert_uint_gt(adders, 20);
}
END_TEST

/* a wrong expectation fails the testbench, naming the vector */
START_TEST(test_icarus_mismatch)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m;
	struct hgq_ir *ir = NULL;
	int64_t *x, *y;
	char line[256];
	struct tmp t;

	if (!have("iverilog") || !have("vvp"))
		return;
	fx_rng_state = 31;
	m = random_graph(4, 6);
	ck_assert_msg(hgq_ir_build(&ir, m, NULL, 0, &err) == HGQ_OK, "%s",
	    err.msg);
	samples(m, 5, &x, &y);
	tmp_open(&t);
	write_module(&t, ir, 1);
	write_tb(&t, m, ir, 1, x, y, 5);
	/* the last hex digit of vector 2's expectation, changed */
	snprintf(line, sizeof(line), "cd '%s' && awk 'NR == 3 { c = "
	    "substr($0, length($0), 1); $0 = substr($0, 1, length($0) - 1) "
	    "(c == \"0\" ? \"1\" : \"0\") } { print }' exp.mem > e && "
	    "mv e exp.mem", t.dir);
	ck_assert_int_eq(system(line), 0);
	ck_assert_int_ne(run_icarus(&t, line, sizeof(line)), 0);
	ck_assert_msg(strncmp(line, "FAIL vector 2: ", 15) == 0, "%s", line);
	tmp_close(&t);
	hgq_ir_free(ir);
	hgq_model_free(m);
	free(x);
	free(y);
}
END_TEST

/* verilator --lint-only -Wall has nothing to say */
START_TEST(test_verilator_lint)
{
	if (!have("verilator"))
		return;
	fx_rng_state = 4242;
	for (int round = 0; round < 3; round++) {
		struct hgq_err err = HGQ_ERR_INIT;
		struct hgq_model *m = random_graph(6, 8);

		for (int v = 0; v < 3; v++) {
			struct hgq_ir *ir = NULL;
			char cmd[512];
			struct tmp t;

			ck_assert_msg(hgq_ir_build(&ir, m, NULL, v == 2,
			    &err) == HGQ_OK, "%s", err.msg);
			tmp_open(&t);
			write_module(&t, ir, v == 1 ? 2 : 0);
			snprintf(cmd, sizeof(cmd), "cd '%s' && verilator "
			    "--lint-only -Wall net.v > lint.txt 2>&1 && "
			    "test ! -s lint.txt", t.dir);
			ck_assert_msg(system(cmd) == 0, "round %d, variant %d: "
			    "lint in %s", round, v, t.dir);
			tmp_close(&t);
			hgq_ir_free(ir);
		}
		hgq_model_free(m);
	}
}
END_TEST

/* every element of quantizer l: format (k, i, f), WRAP, mode round */
static void
set_fmt(struct hgq_model *m, uint32_t l, int k, int i, int f, int round)
{
	struct hgq_layer *q = &m->layers[l];

	q->round = (uint8_t)round;
	q->overflow = HGQ_WRAP;
	for (uint32_t j = 0; j < q->n_out; j++) {
		q->k[j] = (int8_t)k;
		q->i[j] = (int8_t)i;
		q->f[j] = (int8_t)f;
	}
}

/* a dense layer n_in -> n reading ref, 4-bit weights at 2^-3 */
static uint32_t
dense_4bit(struct hgq_model *m, uint32_t ref, uint32_t n_in, uint32_t n)
{
	uint32_t l = add_flat(m, HGQ_LAYER_DENSE, n_in, n, 1, &ref);
	struct hgq_layer *d = &m->layers[l];

	for (size_t e = 0; e < (size_t)n_in * n; e++) {
		d->w_m[e] = fx_rnd_int(-8, 7);
		d->w_f[e] = 3;
	}
	return l;
}

/*
 * A graph with the widths of a trained model: inputs a, b [8] of 6
 * bits; a dense 8x8 on each (7-bit outputs), their sum, tanh of it in a
 * 6-bit ROM per element (5-bit outputs), the sum and the tanh
 * concatenated, a dense 16x4 (output y); z the tanh.  WRAP quantizers
 * with room for every value, as calibration makes them.
 */
static struct hgq_model *
trained_like_graph(void)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	uint32_t r[2], qa, qb, qs, qt, qc, qy, l;

	r[0] = HGQ_REF_INPUT | 0;
	qa = add_flat(m, HGQ_LAYER_QUANT, 8, 8, 1, r);
	r[0] = HGQ_REF_INPUT | 1;
	qb = add_flat(m, HGQ_LAYER_QUANT, 8, 8, 1, r);
	set_fmt(m, qa, 1, 2, 3, HGQ_TRN);
	set_fmt(m, qb, 1, 2, 3, HGQ_TRN);
	r[0] = add_flat(m, HGQ_LAYER_QUANT, 8, 8, 1,
	    (uint32_t[]){ dense_4bit(m, qa, 8, 8) });
	set_fmt(m, r[0], 1, 5, 1, HGQ_RND);
	r[1] = add_flat(m, HGQ_LAYER_QUANT, 8, 8, 1,
	    (uint32_t[]){ dense_4bit(m, qb, 8, 8) });
	set_fmt(m, r[1], 1, 5, 1, HGQ_RND);
	l = add_flat(m, HGQ_LAYER_ADD, 8, 8, 2, r);
	qs = add_flat(m, HGQ_LAYER_QUANT, 8, 8, 1, &l);
	set_fmt(m, qs, 1, 3, 2, HGQ_RND);
	l = add_flat(m, HGQ_LAYER_LUT, 8, 8, 1, &qs);
	m->layers[l].func = HGQ_FUNC_TANH;
	qt = add_flat(m, HGQ_LAYER_QUANT, 8, 8, 1, &l);
	set_fmt(m, qt, 1, 0, 4, HGQ_RND);
	r[0] = qs;
	r[1] = qt;
	l = add_flat(m, HGQ_LAYER_CONCAT, 8, 16, 2, r);
	qc = add_flat(m, HGQ_LAYER_QUANT, 16, 16, 1, &l);
	set_fmt(m, qc, 1, 3, 4, HGQ_TRN);
	qy = add_flat(m, HGQ_LAYER_QUANT, 4, 4, 1,
	    (uint32_t[]){ dense_4bit(m, qc, 16, 4) });
	set_fmt(m, qy, 1, 6, 2, HGQ_RND);
	m->n_in_ports = 2;
	m->in_ports[0] = (struct hgq_port){ .name = "a", .layer = qa };
	m->in_ports[1] = (struct hgq_port){ .name = "b", .layer = qb };
	m->n_out_ports = 2;
	m->out_ports[0] = (struct hgq_port){ .name = "y", .layer = qy };
	m->out_ports[1] = (struct hgq_port){ .name = "z", .layer = qt };
	m->task = HGQ_TASK_REGRESS;
	ck_assert_msg(hgq_model_set_input(m, 16, &err) == HGQ_OK, "%s",
	    err.msg);
	m->calibrated = 1;
	ck_assert_msg(hgq_model_validate(m, &err) == HGQ_OK, "%s", err.msg);
	return m;
}

/*
 * Concatenation of rank-2 tensors on either axis, by hand (row-major
 * element order): a [2, 3] | b [2, 2] on axis 1 is [2, 5], c [1, 3] over
 * e [2, 3] on axis 0 is [3, 3]; wiring only.
 */
START_TEST(test_concat_axes)
{
	static const int want[19] = { 0, 1, 2, 6, 7, 3, 4, 5, 8, 9,
	    10, 11, 12, 13, 14, 15, 16, 17, 18 };
	static const uint32_t shape[4][2] = { { 2, 3 }, { 2, 2 }, { 1, 3 },
	    { 2, 3 } };
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	struct hgq_ir *ir = NULL;
	int64_t x[19], y[19], buf[64];
	uint32_t r;

	for (uint32_t k = 0; k < 4; k++) {
		r = HGQ_REF_INPUT | k;
		add_layer(m, HGQ_LAYER_QUANT, shape[k][0] * shape[k][1], 2,
		    shape[k], 1, &r);
		m->in_ports[k].layer = k;
		snprintf(m->in_ports[k].name, sizeof(m->in_ports[k].name),
		    "x%u", k);
	}
	add_layer(m, HGQ_LAYER_CONCAT, 6, 2, (const uint32_t[]){ 2, 5 }, 2,
	    (const uint32_t[]){ 0, 1 })->axis = 1;
	add_layer(m, HGQ_LAYER_QUANT, 10, 2, (const uint32_t[]){ 2, 5 }, 1,
	    (const uint32_t[]){ 4 });
	add_layer(m, HGQ_LAYER_CONCAT, 3, 2, (const uint32_t[]){ 3, 3 }, 2,
	    (const uint32_t[]){ 2, 3 })->axis = 0;
	add_layer(m, HGQ_LAYER_QUANT, 9, 2, (const uint32_t[]){ 3, 3 }, 1,
	    (const uint32_t[]){ 6 });
	for (uint32_t l = 0; l < m->n_layers; l++)
		if (m->layers[l].kind == HGQ_LAYER_QUANT)
			set_fmt(m, l, 1, 4, 0, HGQ_TRN);
	m->n_in_ports = 4;
	m->n_out_ports = 2;
	m->out_ports[0] = (struct hgq_port){ .name = "ab", .layer = 5 };
	m->out_ports[1] = (struct hgq_port){ .name = "ce", .layer = 7 };
	m->task = HGQ_TASK_REGRESS;
	ck_assert_msg(hgq_model_set_input(m, 19, &err) == HGQ_OK, "%s",
	    err.msg);
	m->calibrated = 1;
	ck_assert_msg(hgq_model_validate(m, &err) == HGQ_OK, "%s", err.msg);
	ck_assert_msg(hgq_ir_build(&ir, m, NULL, 0, &err) == HGQ_OK, "%s",
	    err.msg);
	ck_assert_uint_eq(ir->n_out, 19);
	for (int t = 0; t < 19; t++)
		x[t] = t - 9;
	hgq_ir_eval(ir, x, buf, y);
	for (int e = 0; e < 19; e++)
		ck_assert_int_eq(y[e], x[want[e]]);
	ck_assert_uint_eq(ir->n_adders, 0);
	ck_assert_uint_eq(ir->lut, 0);
	hgq_ir_free(ir);
	hgq_model_free(m);
}
END_TEST

/* the named ports: clk first, the inputs, the outputs, each packed */
START_TEST(test_ports)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_verilog_opts vo;
	struct hgq_model *m;
	struct hgq_ir *ir = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	fx_rng_state = 99;
	m = trained_like_graph();
	ck_assert_msg(hgq_ir_build(&ir, m, NULL, 0, &err) == HGQ_OK, "%s",
	    err.msg);
	hgq_verilog_opts_init(&vo);
	vo.top = "g";
	vo.pipeline = 1;
	ck_assert_ptr_nonnull(f = open_memstream(&text, &len));
	ck_assert_int_eq(hgq_verilog_write(f, ir, &vo, &err), HGQ_OK);
	ck_assert_int_eq(hgq_verilog_testbench(f, ir, &vo, "i.mem", "e.mem",
	    3, &err), HGQ_OK);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_msg(strstr(text, "module g (\n\tinput clk,\n"
	    "\tinput [47:0] inp_a,\n\tinput [47:0] inp_b,\n"
	    "\toutput [35:0] out_y,\n\toutput [39:0] out_z\n);\n") != NULL,
	    "%s", text);
	ck_assert(strstr(text, "// inp_a: 8 elements in 48 bits;\n") != NULL);
	ck_assert(strstr(text, "// out_z: 8 elements in 40 bits;\n") != NULL);
	ck_assert(strstr(text, "\tcase (") != NULL);
	ck_assert(strstr(text, "wire [75:0] tb_got = {out_z, out_y};\n") !=
	    NULL);
	ck_assert(strstr(text, "\t\t\t{inp_b, inp_a} = tb_inp[t];\n") != NULL);
	ck_assert(strstr(text, "g dut (.clk(clk), .inp_a(inp_a), "
	    ".inp_b(inp_b), .out_y(out_y), .out_z(out_z));\n") != NULL);
	ck_assert(strstr(text, "model_inp") == NULL);
	free(text);
	hgq_ir_free(ir);
	hgq_model_free(m);
}
END_TEST

/* layer j of kind conv1d: 1 filter, kernel 3, same padding, no bias */
static uint32_t
conv_station(struct hgq_model *m, uint32_t ref, uint32_t n, uint32_t c)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_layer *l = add_layer(m, HGQ_LAYER_CONV1D, n * c, 2,
	    (const uint32_t[]){ n, 1 }, 1, &ref);
	uint32_t j = m->n_layers - 1;

	l->kernel[0] = 1;
	l->kernel[1] = 3;
	l->stride[0] = l->stride[1] = 1;
	l->padding = HGQ_PAD_SAME;
	ck_assert_msg(hgq_model_alloc_fixed(m, j, &err) == HGQ_OK, "%s",
	    err.msg);
	for (uint32_t e = 0; e < 3 * c; e++) {
		l->w_m[e] = fx_rnd_int(-8, 7);
		l->w_f[e] = (int8_t)fx_rnd_int(1, 3);
	}
	return j;
}

/*
 * The muon network's shape, small: stations a [6, 3] and b [6, 2], a
 * convolution each (1 filter, kernel 3, same) flattened to 6, tanh
 * tables, a masked dense 6x6 on b's, the sum, tanh, a dense 6x2 (output
 * y); z is a's tanh.  The IR (both styles) against the reference, and
 * the Verilog under Icarus, combinational and pipelined.
 */
START_TEST(test_muon_like)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	uint32_t r, qa, qb, t[2], s, l;
	struct hgq_ir *ir = NULL, *irb = NULL;
	int64_t *x, *y;
	size_t n = 300;

	fx_rng_state = 2026;
	r = HGQ_REF_INPUT | 0;
	qa = m->n_layers;
	add_layer(m, HGQ_LAYER_QUANT, 18, 2, (const uint32_t[]){ 6, 3 }, 1, &r);
	r = HGQ_REF_INPUT | 1;
	qb = m->n_layers;
	add_layer(m, HGQ_LAYER_QUANT, 12, 2, (const uint32_t[]){ 6, 2 }, 1, &r);
	for (int k = 0; k < 2; k++) {
		r = conv_station(m, k == 0 ? qa : qb, 6, k == 0 ? 3 : 2);
		r = m->n_layers;
		add_layer(m, HGQ_LAYER_QUANT, 6, 2, (const uint32_t[]){ 6, 1 },
		    1, (const uint32_t[]){ r - 1 });
		r = add_flat(m, HGQ_LAYER_FLATTEN, 6, 6, 1, &r);
		r = add_flat(m, HGQ_LAYER_QUANT, 6, 6, 1, &r);
		set_fmt(m, r, 1, 2, 3, HGQ_RND);
		r = add_flat(m, HGQ_LAYER_LUT, 6, 6, 1, &r);
		m->layers[r].func = HGQ_FUNC_TANH;
		t[k] = add_flat(m, HGQ_LAYER_QUANT, 6, 6, 1, &r);
		set_fmt(m, t[k], 1, 0, 5, HGQ_RND);
	}
	l = add_flat(m, HGQ_LAYER_DENSE, 6, 6, 1, &t[1]);
	random_dense(&m->layers[l]);
	m->layers[l].act = HGQ_ACT_LINEAR;
	r = add_flat(m, HGQ_LAYER_QUANT, 6, 6, 1, &l);
	set_fmt(m, r, 1, 1, 5, HGQ_RND);
	s = add_flat(m, HGQ_LAYER_ADD, 6, 6, 2, (const uint32_t[]){ t[0], r });
	s = add_flat(m, HGQ_LAYER_QUANT, 6, 6, 1, &s);
	set_fmt(m, s, 1, 2, 3, HGQ_RND);
	s = add_flat(m, HGQ_LAYER_LUT, 6, 6, 1, &s);
	m->layers[s].func = HGQ_FUNC_TANH;
	s = add_flat(m, HGQ_LAYER_QUANT, 6, 6, 1, &s);
	set_fmt(m, s, 1, 0, 5, HGQ_RND);
	l = add_flat(m, HGQ_LAYER_DENSE, 6, 2, 1, &s);
	random_dense(&m->layers[l]);
	r = add_flat(m, HGQ_LAYER_QUANT, 2, 2, 1, &l);
	set_fmt(m, r, 1, 4, 4, HGQ_RND);
	for (uint32_t j = 0; j < m->n_layers; j++)
		if (j == qa || j == qb || (m->layers[j].kind == HGQ_LAYER_QUANT &&
		    m->layers[j - 1].kind == HGQ_LAYER_CONV1D))
			set_fmt(m, j, 1, 2, 3, HGQ_RND);
	m->n_in_ports = 2;
	m->in_ports[0] = (struct hgq_port){ .name = "s1", .layer = qa };
	m->in_ports[1] = (struct hgq_port){ .name = "s2", .layer = qb };
	m->n_out_ports = 2;
	m->out_ports[0] = (struct hgq_port){ .name = "y", .layer = r };
	m->out_ports[1] = (struct hgq_port){ .name = "z", .layer = t[0] };
	m->task = HGQ_TASK_REGRESS;
	ck_assert_msg(hgq_model_set_input(m, 30, &err) == HGQ_OK, "%s",
	    err.msg);
	m->calibrated = 1;
	ck_assert_msg(hgq_model_validate(m, &err) == HGQ_OK, "%s", err.msg);
	ck_assert_msg(hgq_ir_build(&ir, m, NULL, 0, &err) == HGQ_OK, "%s",
	    err.msg);
	ck_assert_msg(hgq_ir_build(&irb, m, NULL, 1, &err) == HGQ_OK, "%s",
	    err.msg);
	ck_assert_uint_ge(ir->n_rom, 12);	/* 18 tables, a few constant */
	samples(m, n, &x, &y);
	check_ir(m, ir, x, y, n);
	check_ir(m, irb, x, y, n);
	if (have("iverilog") && have("vvp"))
		for (int p = 0; p <= 1; p++) {
			char line[256];
			struct tmp tt;

			tmp_open(&tt);
			write_module(&tt, ir, p);
			write_tb(&tt, m, ir, p, x, y, n);
			ck_assert_msg(run_icarus(&tt, line, sizeof(line)) == 0 &&
			    strcmp(line, "PASS 300") == 0, "pipeline %d: %s", p,
			    line);
			tmp_close(&tt);
		}
	hgq_ir_free(ir);
	hgq_ir_free(irb);
	hgq_model_free(m);
	free(x);
	free(y);
}
END_TEST

/*
 * Yosys synth_xilinx on two graphs of trained_like_graph (random
 * weights): the LUTs it counts are within 12 % of the estimate (the
 * adders' as for chains, each ROM bit a LUT6 of its 6-bit index).
 * Measured: estimate 1538, Yosys 1401; 1580, 1480.
 */
START_TEST(test_yosys)
{
	uint64_t est = 0, got = 0;
	uint32_t roms = 0;

	if (!have("yosys") || access("../../scripts/synth-yosys.sh", R_OK) != 0)
		return;
	fx_rng_state = 1234567;
	for (int round = 0; round < 2; round++) {
		struct hgq_err err = HGQ_ERR_INIT;
		struct hgq_model *m = trained_like_graph();
		struct hgq_ir *ir = NULL;
		char cmd[512], line[256];
		unsigned long lut = 0;
		struct tmp t;
		FILE *f;

		ck_assert_msg(hgq_ir_build(&ir, m, NULL, 0, &err) == HGQ_OK,
		    "%s", err.msg);
		tmp_open(&t);
		write_module(&t, ir, 0);
		snprintf(cmd, sizeof(cmd), "sh ../../scripts/synth-yosys.sh "
		    "'%s' > '%s/y.json'", t.path[0], t.dir);
		ck_assert_int_eq(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "%s/y.json", t.dir);
		ck_assert_ptr_nonnull(f = fopen(cmd, "r"));
		ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
		fclose(f);
		ck_assert_int_eq(sscanf(line, "{\"lut\": %lu,", &lut), 1);
		printf("check_verilog: graph %d: %u adders, %u ROMs (%llu "
		    "bits): LUT estimate %llu, Yosys %lu\n", round,
		    ir->n_adders, ir->n_rom, (unsigned long long)ir->rom_bits,
		    (unsigned long long)ir->lut, lut);
		est += ir->lut;
		got += lut;
		roms += ir->n_rom;
		tmp_close(&t);
		hgq_ir_free(ir);
		hgq_model_free(m);
	}
	printf("check_verilog: LUT estimate %llu, Yosys %llu\n",
	    (unsigned long long)est, (unsigned long long)got);
	ck_assert_uint_gt(roms, 0);
	ck_assert_uint_ge(got, 100);
	ck_assert(est * 100 <= got * 112 && est * 100 >= got * 88);
}
END_TEST

Suite *
verilog_suite(void)
{
	Suite *s = suite_create("verilog");
	TCase *tc = tcase_create("graphs");

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_random_graphs, 0, 3);
	tcase_add_test(tc, test_concat_axes);
	tcase_add_test(tc, test_ports);
	tcase_add_test(tc, test_muon_like);
	tcase_add_loop_test(tc, test_icarus, 0, 2);
	tcase_add_test(tc, test_icarus_mismatch);
	tcase_add_test(tc, test_verilator_lint);
	tcase_add_test(tc, test_yosys);
	suite_add_tcase(s, tc);
	return s;
}
