/*
 * prune.c - remove from a calibrated model everything that computes
 * nothing, keeping its function bit for bit (hgq.h "Pruning").
 *
 * Which elements go is decided by the liveness analysis of ebops.c: an
 * element of a quantizer is live when its width is > 0, it is not always
 * 0 (find_zero below: a neuron or a filter whose bias is 0 and whose
 * non-zero weights meet only always-0 inputs, a pooling window or a
 * flattened element of always-0 inputs) and it reaches a
 * live element of the next quantizer through a non-zero weight (a dense
 * weight, a convolution's weight at some output position, any pooling
 * window, the same element of a flatten; every output element of width
 * > 0 is live).  Why removing the rest keeps the function, from the
 * outputs backwards: a live element j of quantizer l+1 sums b_j and
 * a_i * w_ij over its inputs i; an input of width <= 0 or always 0 has
 * a_i = 0 (and stays 0: it depends only on always-0 elements and on
 * zero weights), an input whose w_ij is 0 adds 0, and every other input
 * is live by
 * definition.  So live elements depend on live elements only, and a dead
 * output element (width <= 0) is 0 whatever its sum is.  The
 * accumulation itself is exact (sim.c), so dropping terms that are 0
 * changes no bit.  EBOPs count exactly the multiplications that stay:
 * the same as before, less those of removed always-0 elements (a
 * multiplication by an element that is always 0 was counted at the
 * element's width; an always-0 element inside a kept channel stays and
 * is still counted).
 *
 * Tensors keep their shapes, so what a quantizer can lose is a *unit*:
 * an element of a flat tensor, a whole channel (the last axis) of a
 * shaped one.  A unit goes when none of its elements is live.  A
 * channel that goes takes with it the filter that computes it (kernel
 * slice and bias of the convolution before), the kernel slice that reads
 * it (the next convolution's input channel), the same channel through
 * pooling (input and output channels go together) and, after a flatten,
 * the flat elements of that channel at every position (the dense rows
 * they feed).  Layers that tie units together (pooling, flatten) keep a
 * unit when either side has a live element in it, so a kept element is
 * never dead on one side only by the other's choice - the removed ones
 * are dead on both sides.  The
 * shaped input of a model keeps every element: a zero-width input pixel
 * already takes no port bits, and keeping the input shape keeps the
 * data's shape.  A flat input loses its dead elements through the index
 * map, as in an MLP.
 *
 * A pass rebuilds the arrays of every layer, all or nothing: new arrays
 * are staged first and replace the old ones only when all of them could
 * be allocated.  Since one backward sweep decides every element, the
 * second pass finds nothing left; the loop still runs until nothing
 * changes, as the contract says.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ------------------------------------------------------------------ */
/* Elements that are always 0                                          */
/* ------------------------------------------------------------------ */

/*
 * op_zero - out[j] = 1 when output element j of operation l is 0 for
 * every input, given zin, the always-0 elements of its input: a dense
 * neuron or a filter at one position whose bias is 0 and whose non-zero
 * weights meet only always-0 elements (or padding), a pooling window of
 * always-0 elements, a flattened always-0 element.  ReLU keeps 0, and
 * every quantizer maps 0 to 0 (quant.c).  HGQ_ENOMEM, HGQ_EINVAL.
 */
static int
op_zero(const struct hgq_model *m, uint32_t l, const uint8_t *zin,
    uint8_t *out)
{
	const struct hgq_layer *d = &m->layers[l];
	struct hgq_window w;
	uint32_t *idx;

	switch (d->kind) {
	case HGQ_LAYER_DENSE:
		for (uint32_t j = 0; j < d->n_out; j++) {
			bool z = d->b_m[j] == 0;

			for (uint32_t i = 0; i < d->n_in && z; i++)
				z = zin[i] || d->w_m[(size_t)i * d->n_out +
				    j] == 0;
			out[j] = z;
		}
		return HGQ_OK;
	case HGQ_LAYER_FLATTEN:
		memcpy(out, zin, d->n_out);
		return HGQ_OK;
	}
	if (hgq_layer_window(m, l, &w, NULL) != HGQ_OK)
		return HGQ_EINVAL;
	if ((idx = hgq_calloc(w.n_taps, sizeof(uint32_t))) == NULL)
		return HGQ_ENOMEM;
	for (uint32_t p = 0; p < w.n_pos; p++) {
		uint8_t *o = out + (size_t)p * w.out_c;

		hgq_window_taps(&w, p, idx);
		for (uint32_t c = 0; c < w.out_c; c++)
			o[c] = d->kind == HGQ_LAYER_MAXPOOL ||
			    d->kind == HGQ_LAYER_AVGPOOL || d->b_m[c] == 0;
		for (uint32_t t = 0; t < w.n_taps; t++) {
			if (idx[t] == HGQ_TAP_PAD || zin[idx[t]])
				continue;
			if (d->kind == HGQ_LAYER_MAXPOOL ||
			    d->kind == HGQ_LAYER_AVGPOOL) {
				o[t % w.in_c] = 0;
				continue;
			}
			for (uint32_t c = 0; c < w.out_c; c++)
				if (d->w_m[(size_t)t * w.out_c + c] != 0)
					o[c] = 0;
		}
	}
	free(idx);
	return HGQ_OK;
}

/*
 * find_zero - zero[l] (allocated; quantizers l only, NULL elsewhere) =
 * the elements of quantizer l that are 0 for every input: width <= 0, or
 * fed by an operation output that is always 0 (op_zero), from the input
 * forwards.  Release with hgq_model_live_release().
 */
static int
find_zero(const struct hgq_model *m, uint8_t **zero)
{
	uint32_t nl = m->n_layers;
	int rc;

	for (uint32_t l = 0; l < nl; l++)
		zero[l] = NULL;
	for (uint32_t l = 0; l < nl; l += 2) {
		const struct hgq_layer *q = &m->layers[l];

		if ((zero[l] = hgq_calloc(q->n_out, 1)) == NULL)
			return HGQ_ENOMEM;
		if (l > 0 && (rc = op_zero(m, l - 1, zero[l - 2], zero[l])) !=
		    HGQ_OK)
			return rc;
		for (uint32_t e = 0; e < q->n_out; e++)
			zero[l][e] |= hgq_fmt_width(q->k[e], q->i[e],
			    q->f[e]) <= 0;
	}
	return HGQ_OK;
}

/* ------------------------------------------------------------------ */
/* The plan: which units of every quantizer stay                       */
/* ------------------------------------------------------------------ */

/* one quantizer (layer l, l even) */
struct qplan {
	uint32_t	 c;		/* channels (rank >= 2), 0: flat */
	uint32_t	 n_units;	/* c, or n_out when flat */
	uint8_t		*ulive;		/* n_units: a live element in it */
	uint8_t		*ukeep;		/* n_units: the unit stays */
	uint32_t	*keep;		/* kept elements, ascending */
	uint32_t	 n_keep;
	uint32_t	*ukept;		/* kept units, ascending */
	uint32_t	 n_ukept;
};

static uint32_t
unit_of(const struct qplan *p, uint32_t e)
{
	return p->c != 0 ? e % p->c : e;
}

static void
plan_free(struct qplan *p, uint32_t nl)
{
	if (p == NULL)
		return;
	for (uint32_t l = 0; l < nl; l += 2) {
		free(p[l].ulive);
		free(p[l].ukeep);
		free(p[l].keep);
		free(p[l].ukept);
	}
	free(p);
}

/* the two sides of a pooling or flatten layer l agree; true if changed */
static bool
tie(const struct hgq_model *m, struct qplan *p, uint32_t l)
{
	struct qplan *in = &p[l - 1], *out = &p[l + 1];
	bool changed = false;

	if (m->layers[l].kind == HGQ_LAYER_FLATTEN) {
		for (uint32_t e = 0; e < out->n_units; e++) {
			uint32_t u = unit_of(in, e);

			if (out->ukeep[e] && !in->ukeep[u])
				in->ukeep[u] = 1, changed = true;
		}
		for (uint32_t e = 0; e < out->n_units; e++)
			if (in->ukeep[unit_of(in, e)] && !out->ukeep[e])
				out->ukeep[e] = 1, changed = true;
		return changed;
	}
	for (uint32_t u = 0; u < in->n_units; u++)
		if (in->ukeep[u] != out->ukeep[u])
			in->ukeep[u] = out->ukeep[u] = 1, changed = true;
	return changed;
}

/*
 * plan_new - the units that stay, from the liveness flags live; NULL on
 * ENOMEM.
 */
static struct qplan *
plan_new(const struct hgq_model *m, uint8_t **live)
{
	uint32_t nl = m->n_layers, last = nl - 1;
	struct qplan *p = hgq_calloc(nl, sizeof(*p));
	bool changed;

	if (p == NULL)
		return NULL;
	for (uint32_t l = 0; l < nl; l += 2) {
		const struct hgq_layer *q = &m->layers[l];
		struct qplan *P = &p[l];
		uint32_t d[HGQ_MAX_RANK], r = hgq_layer_shape(q, d);

		P->c = r >= 2 ? d[r - 1] : 0;
		P->n_units = P->c != 0 ? P->c : q->n_out;
		P->ulive = hgq_calloc(P->n_units, 1);
		P->ukeep = hgq_calloc(P->n_units, 1);
		P->keep = hgq_calloc(q->n_out, sizeof(uint32_t));
		P->ukept = hgq_calloc(P->n_units, sizeof(uint32_t));
		if (P->ulive == NULL || P->ukeep == NULL || P->keep == NULL ||
		    P->ukept == NULL) {
			plan_free(p, nl);
			return NULL;
		}
		for (uint32_t e = 0; e < q->n_out; e++)
			if (live[l][e])
				P->ulive[unit_of(P, e)] = 1;
		for (uint32_t u = 0; u < P->n_units; u++)
			P->ukeep[u] = l == last || (l == 0 && P->c != 0) ||
			    P->ulive[u];
	}
	do {
		changed = false;
		for (uint32_t l = 1; l < nl; l += 2) {
			uint32_t k = m->layers[l].kind;

			if (k == HGQ_LAYER_MAXPOOL || k == HGQ_LAYER_AVGPOOL ||
			    k == HGQ_LAYER_FLATTEN)
				changed |= tie(m, p, l);
		}
	} while (changed);
	for (uint32_t l = 0; l < nl; l += 2) {
		struct qplan *P = &p[l];

		for (uint32_t e = 0; e < m->layers[l].n_out; e++)
			if (P->ukeep[unit_of(P, e)])
				P->keep[P->n_keep++] = e;
		for (uint32_t u = 0; u < P->n_units; u++)
			if (P->ukeep[u])
				P->ukept[P->n_ukept++] = u;
	}
	return p;
}

/*
 * The weights of a dense layer or a convolution as a matrix of rows
 * (dense: input elements; convolution: kernel taps (kh*KW + kw)*C_in +
 * c) by columns (output elements; filters): w[r*cols + c].
 */
struct wmat {
	uint32_t	 rows, cols;
	uint32_t	*keep_r;	/* kept rows */
	uint32_t	 n_r;
	const uint32_t	*keep_c;	/* kept columns (a plan's list) */
	uint32_t	 n_c;
	const uint8_t	*clear;		/* last layer: column c stays
					   only if clear[c]; else NULL */
};

/* is any weight of column j of d, or its bias, non-zero? */
static bool
column_nonzero(const struct hgq_layer *d, uint32_t rows, uint32_t cols,
    uint32_t j)
{
	if (d->b_m[j] != 0)
		return true;
	for (uint32_t r = 0; r < rows; r++)
		if (d->w_m[(size_t)r * cols + j] != 0)
			return true;
	return false;
}

/* the matrix of weighted layer l under plan p; false on ENOMEM */
static bool
wmat_init(struct wmat *w, const struct hgq_model *m, uint32_t l,
    const struct qplan *p)
{
	const struct hgq_layer *d = &m->layers[l];
	const struct qplan *in = &p[l - 1], *out = &p[l + 1];
	struct hgq_window win;

	memset(w, 0, sizeof(*w));
	if (d->kind == HGQ_LAYER_DENSE) {
		w->rows = d->n_in;
		w->cols = d->n_out;
	} else {
		if (hgq_layer_window(m, l, &win, NULL) != HGQ_OK)
			return false;	/* never: the model was validated */
		w->rows = win.n_taps;
		w->cols = win.out_c;
	}
	if ((w->keep_r = hgq_calloc(w->rows, sizeof(uint32_t))) == NULL)
		return false;
	for (uint32_t r = 0; r < w->rows; r++)
		if (d->kind == HGQ_LAYER_DENSE ? in->ukeep[unit_of(in, r)] :
		    in->ukeep[r % in->c])
			w->keep_r[w->n_r++] = r;
	/* dense writes flat elements, a convolution channels */
	w->keep_c = out->ukept;
	w->n_c = out->n_ukept;
	if (l + 1 == m->n_layers - 1)
		w->clear = out->ulive;
	return true;
}

static bool
is_weighted(uint32_t kind)
{
	return kind == HGQ_LAYER_DENSE || kind == HGQ_LAYER_CONV1D ||
	    kind == HGQ_LAYER_CONV2D;
}

/*
 * work_left - does plan p call for a pass: a unit that goes, or a dead
 * output column whose weights or bias are not yet cleared?  *n_clear
 * gets the number of such columns.  false on ENOMEM too (*nomem).
 */
static bool
work_left(const struct hgq_model *m, const struct qplan *p,
    uint32_t *n_clear, bool *nomem)
{
	uint32_t last = m->n_layers - 1;
	const struct hgq_layer *d = &m->layers[last - 1];
	struct wmat w;
	bool work = false;

	*n_clear = 0;
	*nomem = false;
	for (uint32_t l = 0; l < last; l += 2)
		if (p[l].n_keep < m->layers[l].n_out)
			work = true;
	if (!is_weighted(d->kind))
		return work;
	if (!wmat_init(&w, m, last - 1, p)) {
		*nomem = true;
		return false;
	}
	for (uint32_t c = 0; c < w.cols; c++)
		if (!w.clear[c] && column_nonzero(d, w.rows, w.cols, c))
			(*n_clear)++;
	free(w.keep_r);
	return work || *n_clear > 0;
}

/* ------------------------------------------------------------------ */
/* A pass                                                              */
/* ------------------------------------------------------------------ */

/* the new arrays of one layer, before they replace the old ones */
struct stage {
	int8_t		*k, *i, *f;
	double		*cal_min, *cal_max;
	int32_t		*w_m, *b_m;	/* dense, convolution */
	int8_t		*w_f, *b_f;
};

static void
stage_free(struct stage *s)
{
	free(s->k);
	free(s->i);
	free(s->f);
	free(s->cal_min);
	free(s->cal_max);
	free(s->w_m);
	free(s->w_f);
	free(s->b_m);
	free(s->b_f);
	memset(s, 0, sizeof(*s));
}

/* stage quantizer q, keeping the n elements listed in keep */
static bool
stage_quant(struct stage *s, const struct hgq_layer *q, const uint32_t *keep,
    uint32_t n)
{
	s->k = hgq_calloc(n, 1);
	s->i = hgq_calloc(n, 1);
	s->f = hgq_calloc(n, 1);
	if (s->k == NULL || s->i == NULL || s->f == NULL)
		return false;
	if (q->cal_min != NULL) {
		s->cal_min = hgq_calloc(n, sizeof(double));
		s->cal_max = hgq_calloc(n, sizeof(double));
		if (s->cal_min == NULL || s->cal_max == NULL)
			return false;
	}
	for (uint32_t e = 0; e < n; e++) {
		s->k[e] = q->k[keep[e]];
		s->i[e] = q->i[keep[e]];
		s->f[e] = q->f[keep[e]];
		if (q->cal_min != NULL) {
			s->cal_min[e] = q->cal_min[keep[e]];
			s->cal_max[e] = q->cal_max[keep[e]];
		}
	}
	return true;
}

/*
 * stage_weights - stage the kept rows and columns of matrix w of layer
 * d; columns that w->clear marks dead get zero weights and bias.
 */
static bool
stage_weights(struct stage *s, const struct hgq_layer *d,
    const struct wmat *w)
{
	size_t nw = (size_t)w->n_r * w->n_c;

	s->w_m = hgq_calloc(nw, sizeof(int32_t));
	s->w_f = hgq_calloc(nw, 1);
	s->b_m = hgq_calloc(w->n_c, sizeof(int32_t));
	s->b_f = hgq_calloc(w->n_c, 1);
	if (s->w_m == NULL || s->w_f == NULL || s->b_m == NULL ||
	    s->b_f == NULL)
		return false;
	for (uint32_t r = 0; r < w->n_r; r++) {
		size_t row = (size_t)w->keep_r[r] * w->cols;

		for (uint32_t c = 0; c < w->n_c; c++) {
			uint32_t j = w->keep_c[c];
			bool dead = w->clear != NULL && !w->clear[j];

			s->w_m[(size_t)r * w->n_c + c] = dead ? 0 :
			    d->w_m[row + j];
			s->w_f[(size_t)r * w->n_c + c] = d->w_f[row + j];
		}
	}
	for (uint32_t c = 0; c < w->n_c; c++) {
		uint32_t j = w->keep_c[c];
		bool dead = w->clear != NULL && !w->clear[j];

		s->b_m[c] = dead ? 0 : d->b_m[j];
		s->b_f[c] = d->b_f[j];
	}
	return true;
}

/* the new last dimension and size of layer L, from the plan of its output */
static void
reshape(struct hgq_layer *L, const struct qplan *P)
{
	if (L->rank >= 1)
		L->shape[L->rank - 1] = P->c != 0 ? P->n_ukept : P->n_keep;
	L->n_out = P->n_keep;
}

/* replace the arrays of layer L by its stage (which is emptied) */
static void
commit_layer(struct hgq_layer *L, struct stage *s)
{
	struct stage old = { 0 };

	old.k = L->k;
	old.i = L->i;
	old.f = L->f;
	old.cal_min = L->cal_min;
	old.cal_max = L->cal_max;
	old.w_m = L->w_m;
	old.w_f = L->w_f;
	old.b_m = L->b_m;
	old.b_f = L->b_f;
	if (L->kind == HGQ_LAYER_QUANT) {
		L->k = s->k;
		L->i = s->i;
		L->f = s->f;
		L->cal_min = s->cal_min;
		L->cal_max = s->cal_max;
	} else if (is_weighted(L->kind)) {
		L->w_m = s->w_m;
		L->w_f = s->w_f;
		L->b_m = s->b_m;
		L->b_f = s->b_f;
	} else {
		memset(&old, 0, sizeof(old));
	}
	memset(s, 0, sizeof(*s));
	stage_free(&old);
}

/*
 * prune_pass - one pass with the plan p: every layer is staged, then
 * committed.  HGQ_ENOMEM leaves m as it was.
 */
static int
prune_pass(struct hgq_model *m, const struct qplan *p, struct hgq_err *err)
{
	uint32_t nl = m->n_layers;
	struct stage *st = hgq_calloc(nl, sizeof(*st));
	struct wmat *wm = hgq_calloc(nl, sizeof(*wm));
	uint32_t *map = NULL;
	int rc = HGQ_ENOMEM;

	if (st == NULL || wm == NULL)
		goto out;
	for (uint32_t l = 0; l < nl; l++) {
		const struct hgq_layer *L = &m->layers[l];

		if (L->kind == HGQ_LAYER_QUANT) {
			if (!stage_quant(&st[l], L, p[l].keep, p[l].n_keep))
				goto out;
		} else if (is_weighted(L->kind)) {
			if (!wmat_init(&wm[l], m, l, p) ||
			    !stage_weights(&st[l], L, &wm[l]))
				goto out;
		}
	}
	if ((map = hgq_calloc(p[0].n_keep, sizeof(*map))) == NULL)
		goto out;
	for (uint32_t e = 0; e < p[0].n_keep; e++)
		map[e] = m->index_map[p[0].keep[e]];

	/* nothing below can fail */
	for (uint32_t l = 0; l < nl; l++) {
		struct hgq_layer *L = &m->layers[l];

		commit_layer(L, &st[l]);
		reshape(L, &p[l % 2 == 0 ? l : l + 1]);
		L->n_in = l % 2 == 0 ? L->n_out : p[l - 1].n_keep;
	}
	free(m->index_map);
	m->index_map = map;
	map = NULL;
	rc = HGQ_OK;
out:
	for (uint32_t l = 0; l < nl; l++) {
		if (st != NULL)
			stage_free(&st[l]);
		if (wm != NULL)
			free(wm[l].keep_r);
	}
	free(st);
	free(wm);
	free(map);
	if (rc != HGQ_OK)
		return hgq_errf(err, rc, "out of memory");
	return HGQ_OK;
}

/*
 * drop the float training state: it describes the old shapes; masks,
 * part of the function, stay (pruned with their weights; a chain has
 * none)
 */
static void
drop_training(struct hgq_model *m)
{
	for (uint32_t l = 0; l < m->n_layers; l++) {
		struct hgq_layer *L = &m->layers[l];
		uint32_t n = 0;

		for (uint32_t t = 0; t < L->n_tensors; t++) {
			if (L->tensors[t].role == HGQ_ROLE_MASK)
				L->tensors[n++] = L->tensors[t];
			else
				free(L->tensors[t].data);
		}
		L->n_tensors = n;
		if (n == 0) {
			free(L->tensors);
			L->tensors = NULL;
		}
	}
	m->has_train = 0;
	memset(&m->train, 0, sizeof(m->train));
	m->train.lr_scale = 1.0;
}

/* ------------------------------------------------------------------ */
/* Report and metadata                                                 */
/* ------------------------------------------------------------------ */

/* the shape of every quantizer, "HxWxC" or "n" */
struct qshape {
	uint32_t	 rank;
	uint32_t	 d[HGQ_MAX_RANK];
	uint32_t	 n;
};

static void
get_shapes(const struct hgq_model *m, struct qshape *s)
{
	for (uint32_t l = 0; l < m->n_layers; l++) {
		if (m->layers[l].kind != HGQ_LAYER_QUANT)
			continue;
		s->rank = hgq_layer_shape(&m->layers[l], s->d);
		s->n = m->layers[l].n_out;
		s++;
	}
}

/* the number of quantizers of m */
static uint32_t
n_quant(const struct hgq_model *m)
{
	uint32_t n = 0;

	for (uint32_t l = 0; l < m->n_layers; l++)
		n += m->layers[l].kind == HGQ_LAYER_QUANT;
	return n;
}

/* "a-b-c" of the model's quantizer shapes, appended at s (room checked) */
static char *
put_shape(char *s, const struct qshape *q, uint32_t count)
{
	for (uint32_t a = 0; a < count; a++) {
		if (a > 0)
			*s++ = '-';
		for (uint32_t r = 0; r < q[a].rank; r++)
			s += sprintf(s, "%s%" PRIu32, r > 0 ? "x" : "",
			    q[a].d[r]);
	}
	*s = '\0';
	return s;
}

/* the metadata entry "pruned": "<old shapes> -> <new shapes>" */
static int
set_meta(struct hgq_model *m, const struct qshape *old, struct hgq_err *err)
{
	uint32_t nq = n_quant(m);
	struct qshape *now = hgq_calloc(nq, sizeof(*now));
	char *buf = hgq_calloc(nq, 2 * 3 * 12 + 8), *s;
	int rc;

	if (now == NULL || buf == NULL) {
		free(now);
		free(buf);
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	}
	get_shapes(m, now);
	s = put_shape(buf, old, nq);
	s += sprintf(s, " -> ");
	put_shape(s, now, nq);
	rc = hgq_meta_set(m, "pruned", buf, err);
	free(now);
	free(buf);
	return rc;
}

static uint32_t
last_of(const struct qshape *q)
{
	return q->d[q->rank - 1];
}

static void
fill_report(struct hgq_prune_report *r, const struct hgq_model *m,
    const struct qshape *old, uint32_t cleared, uint32_t passes)
{
	for (uint32_t n = 0; n < r->n_dense; n++) {
		struct hgq_prune_stats *s = &r->layer[n];
		uint32_t l = 2 * n + 1;
		const struct hgq_layer *d = &m->layers[l];
		uint32_t din[HGQ_MAX_RANK], dout[HGQ_MAX_RANK];
		uint32_t rin = hgq_layer_shape(&m->layers[l - 1], din);
		uint32_t rout = hgq_layer_shape(&m->layers[l + 1], dout);
		uint64_t nw = hgq_layer_n_weights(m, l);

		s->index = l;
		s->kind = d->kind;
		s->n_in = old[n].n;
		s->n_out = old[n + 1].n;
		s->new_in = d->n_in;
		s->new_out = d->n_out;
		s->in_c = last_of(&old[n]);
		s->out_c = last_of(&old[n + 1]);
		s->new_in_c = din[rin - 1];
		s->new_out_c = dout[rout - 1];
		s->k_h = d->kernel[0];
		s->k_w = d->kernel[1];
		s->inputs_removed = s->n_in - s->new_in;
		s->neurons_removed = s->n_out - s->new_out;
		s->outputs_cleared = n + 1 == r->n_dense ? cleared : 0;
		s->zero_weights = 0;
		for (uint64_t e = 0; e < nw; e++)
			s->zero_weights += d->w_m[e] == 0;
		if (s->inputs_removed > 0 || s->neurons_removed > 0 ||
		    s->outputs_cleared > 0)
			r->changed = 1;
	}
	r->passes = passes;
}

/* ------------------------------------------------------------------ */
/* Graphs (format 1.2)                                                 */
/* ------------------------------------------------------------------ */

/*
 * A graph (every model hgq_model_is_chain() refuses) is pruned with a
 * narrower rule, in one pass on a copy that replaces the model when it
 * is complete.  A quantizer loses elements only when it is flat, is not
 * a model output, is computed by a dense layer or is a model input, and
 * is read by dense layers only: a dead element then goes with the
 * producer's column (weights, bias, mask), the readers' rows (weights,
 * mask) and, for an input, its index-map entry (the input's slice of
 * the map shrinks with its quantizer).  Every other quantizer - read by
 * add, subtract, concatenate, a table, a convolution, pooling or
 * flatten, or a model output - keeps every element and counts as
 * needed whole.  An element is dead when it is always 0 (width <= 0, a
 * dense or convolution output whose non-zero weights meet only always-0
 * inputs and whose bias is 0, a window or sum of always-0 elements) or
 * no reader needs it: every non-zero weight of its row leads to a dead
 * element.  Removing it removes terms that are 0 or that only dead
 * elements read; a quantizer keeps one element even when none is live.
 * A dense column feeding an element of width <= 0 that stays gets zero
 * weights and bias (the element is 0 whatever its sum).  The float
 * training state is dropped but the masks, which are part of the
 * function, are pruned with their weights.
 */

/* the operation layer that reads layer q first after it, from j on */
static uint32_t
next_reader(const struct hgq_model *m, uint32_t q, uint32_t j)
{
	for (; j < m->n_layers; j++)
		for (uint32_t s = 0; s < hgq_layer_n_inputs(&m->layers[j]);
		    s++)
			if (hgq_layer_input(m, j, s) == q)
				return j;
	return m->n_layers;
}

static bool
is_output(const struct hgq_model *m, uint32_t q)
{
	for (uint32_t k = 0; k < hgq_model_n_outputs(m); k++)
		if (hgq_model_output_layer(m, k) == q)
			return true;
	return false;
}

/* may quantizer q lose elements (see above)? */
static bool
g_prunable(const struct hgq_model *m, uint32_t q)
{
	uint32_t p = hgq_layer_input(m, q, 0);
	uint32_t j = next_reader(m, q, q + 1);

	if (m->layers[q].rank > 1 || is_output(m, q) || j == m->n_layers ||
	    ((p & HGQ_REF_INPUT) == 0 && m->layers[p].kind !=
	    HGQ_LAYER_DENSE))
		return false;
	for (; j < m->n_layers; j = next_reader(m, q, j + 1))
		if (m->layers[j].kind != HGQ_LAYER_DENSE)
			return false;
	return true;
}

/*
 * g_zero - zero[q] for every quantizer q of graph m (allocated, NULL
 * for other layers): the elements that are always 0, forwards
 */
static int
g_zero(const struct hgq_model *m, uint8_t **zero)
{
	for (uint32_t q = 0; q < m->n_layers; q++) {
		const struct hgq_layer *Q = &m->layers[q];
		uint32_t p = hgq_layer_input(m, q, 0);

		if (Q->kind != HGQ_LAYER_QUANT)
			continue;
		if ((zero[q] = hgq_calloc(Q->n_out, 1)) == NULL)
			return HGQ_ENOMEM;
		if ((p & HGQ_REF_INPUT) == 0 && (m->layers[p].kind ==
		    HGQ_LAYER_ADD || m->layers[p].kind == HGQ_LAYER_SUB)) {
			for (uint32_t e = 0; e < Q->n_out; e++) {
				zero[q][e] = 1;
				for (uint32_t s = 0; s < hgq_layer_n_inputs(
				    &m->layers[p]); s++)
					zero[q][e] &= zero[hgq_layer_input(m,
					    p, s)][e];
			}
		} else if ((p & HGQ_REF_INPUT) == 0 &&
		    m->layers[p].kind <= HGQ_LAYER_FLATTEN) {
			int rc = op_zero(m, p, zero[hgq_layer_input(m, p, 0)],
			    zero[q]);

			if (rc != HGQ_OK)
				return rc;
		}
		for (uint32_t e = 0; e < Q->n_out; e++)
			zero[q][e] |= hgq_fmt_width(Q->k[e], Q->i[e],
			    Q->f[e]) <= 0;
	}
	return HGQ_OK;
}

/*
 * g_live - live[q] for every quantizer q (allocated, NULL for other
 * layers), backwards: a prunable quantizer's element is live when it is
 * not always 0 and a non-zero weight leads from it to a live element;
 * every element of any other quantizer is needed
 */
static int
g_live(const struct hgq_model *m, uint8_t **zero, uint8_t **live)
{
	for (uint32_t q = m->n_layers; q-- > 0; ) {
		const struct hgq_layer *Q = &m->layers[q];
		bool all = !g_prunable(m, q);

		if (Q->kind != HGQ_LAYER_QUANT)
			continue;
		if ((live[q] = hgq_calloc(Q->n_out, 1)) == NULL)
			return HGQ_ENOMEM;
		for (uint32_t j = next_reader(m, q, q + 1); !all &&
		    j < m->n_layers; j = next_reader(m, q, j + 1)) {
			const struct hgq_layer *D = &m->layers[j];
			const uint8_t *lo = live[next_reader(m, j, j + 1)];

			for (uint32_t e = 0; e < Q->n_out; e++) {
				const int32_t *row = D->w_m + (size_t)e *
				    D->n_out;

				for (uint32_t c = 0; c < D->n_out; c++)
					live[q][e] |= lo[c] && row[c] != 0;
			}
		}
		for (uint32_t e = 0; e < Q->n_out; e++)
			live[q][e] = (all || live[q][e]) && !zero[q][e];
	}
	return HGQ_OK;
}

/*
 * sub_matrix - a new array of the rows kr[0..nr) and columns kc[0..nc)
 * of the rows x cols array a of elements of size bytes (kr NULL: every
 * row, nr = rows); NULL on ENOMEM
 */
static void *
sub_matrix(const void *a, size_t size, uint32_t cols, const uint32_t *kr,
    uint32_t nr, const uint32_t *kc, uint32_t nc)
{
	char *b = hgq_calloc((size_t)nr * nc, size);

	if (b == NULL)
		return NULL;
	for (uint32_t r = 0; r < nr; r++) {
		const char *row = (const char *)a + (size_t)(kr != NULL ?
		    kr[r] : r) * cols * size;

		for (uint32_t c = 0; c < nc; c++)
			memcpy(b + ((size_t)r * nc + c) * size, row +
			    (size_t)kc[c] * size, size);
	}
	return b;
}

/* the identity list 0..n-1 (for sub_matrix) */
static uint32_t *
iota(uint32_t n)
{
	uint32_t *v = hgq_calloc(n, sizeof(uint32_t));

	for (uint32_t a = 0; v != NULL && a < n; a++)
		v[a] = a;
	return v;
}

/* replace *p by q (freeing *p) when q is not NULL; false when it is */
static bool
swap_in(void *p, void *q)
{
	void **pp = p;

	if (q == NULL)
		return false;
	free(*pp);
	*pp = q;
	return true;
}

/*
 * dense_select - keep rows kr (nr; NULL: all) and columns kc (nc) of
 * dense layer D's weights and mask, columns kc of its bias.  false on
 * ENOMEM (D then has some arrays replaced: only on the copy)
 */
static bool
dense_select(struct hgq_layer *D, const uint32_t *kr, uint32_t nr,
    const uint32_t *kc, uint32_t nc)
{
	struct hgq_tensor *t = hgq_layer_tensor(D, HGQ_ROLE_MASK);
	uint32_t no = D->n_out;

	if (!swap_in(&D->w_m, sub_matrix(D->w_m, sizeof(*D->w_m), no, kr, nr,
	    kc, nc)) || !swap_in(&D->w_f, sub_matrix(D->w_f, 1, no, kr, nr,
	    kc, nc)) || !swap_in(&D->b_m, sub_matrix(D->b_m, sizeof(*D->b_m),
	    no, NULL, 1, kc, nc)) || !swap_in(&D->b_f, sub_matrix(D->b_f, 1,
	    no, NULL, 1, kc, nc)))
		return false;
	if (t != NULL) {
		if (!swap_in(&t->data, sub_matrix(t->data, sizeof(float), no,
		    kr, nr, kc, nc)))
			return false;
		t->n = nr * nc;
	}
	D->n_in = nr;
	D->n_out = nc;
	if (D->rank >= 1)
		D->shape[D->rank - 1] = nc;
	return true;
}

/* g_cut - quantizer q of the copy c keeps the nk elements keep */
static bool
g_cut(struct hgq_model *c, uint32_t q, const uint32_t *keep, uint32_t nk)
{
	struct hgq_layer *Q = &c->layers[q];
	uint32_t p = hgq_layer_input(c, q, 0), *all;
	bool ok = true;

	if ((p & HGQ_REF_INPUT) != 0) {
		uint32_t *map = c->index_map + hgq_model_input_offset(c,
		    p & ~HGQ_REF_INPUT);

		for (uint32_t e = 0; e < nk; e++)
			map[e] = map[keep[e]];
		memmove(map + nk, map + Q->n_out, (hgq_model_n_in(c) -
		    hgq_model_input_offset(c, p & ~HGQ_REF_INPUT) -
		    Q->n_out) * sizeof(uint32_t));
	} else {
		ok = dense_select(&c->layers[p], NULL, c->layers[p].n_in,
		    keep, nk);
	}
	for (uint32_t j = next_reader(c, q, q + 1); ok && j < c->n_layers;
	    j = next_reader(c, q, j + 1)) {
		ok = (all = iota(c->layers[j].n_out)) != NULL &&
		    dense_select(&c->layers[j], keep, nk, all,
		    c->layers[j].n_out);
		free(all);
	}
	ok = ok && swap_in(&Q->k, sub_matrix(Q->k, 1, Q->n_out, NULL, 1, keep,
	    nk)) && swap_in(&Q->i, sub_matrix(Q->i, 1, Q->n_out, NULL, 1,
	    keep, nk)) && swap_in(&Q->f, sub_matrix(Q->f, 1, Q->n_out, NULL,
	    1, keep, nk));
	if (ok && Q->cal_min != NULL)
		ok = swap_in(&Q->cal_min, sub_matrix(Q->cal_min, sizeof(double),
		    Q->n_out, NULL, 1, keep, nk)) && swap_in(&Q->cal_max,
		    sub_matrix(Q->cal_max, sizeof(double), Q->n_out, NULL, 1,
		    keep, nk));
	if (ok) {
		Q->n_in = Q->n_out = nk;
		if (Q->rank >= 1)
			Q->shape[Q->rank - 1] = nk;
	}
	return ok;
}

/* clear the dense columns that feed zero-width elements; their count */
static uint32_t
g_clear(struct hgq_model *c, uint32_t q)
{
	const struct hgq_layer *Q = &c->layers[q];
	uint32_t p = hgq_layer_input(c, q, 0), n = 0;
	struct hgq_layer *D;

	if ((p & HGQ_REF_INPUT) != 0 || c->layers[p].kind != HGQ_LAYER_DENSE)
		return 0;
	D = &c->layers[p];
	for (uint32_t j = 0; j < Q->n_out; j++) {
		if (hgq_fmt_width(Q->k[j], Q->i[j], Q->f[j]) > 0 ||
		    !column_nonzero(D, D->n_in, D->n_out, j))
			continue;
		for (uint32_t r = 0; r < D->n_in; r++)
			D->w_m[(size_t)r * D->n_out + j] = 0;
		D->b_m[j] = 0;
		n++;
	}
	return n;
}

/* the report of a graph: one row per operation, m before, c after */
static int
g_report(struct hgq_prune_report *r, const struct hgq_model *m,
    const struct hgq_model *c, const uint32_t *cleared, bool changed)
{
	uint32_t n = 0;

	for (uint32_t l = 0; l < m->n_layers; l++)
		n += m->layers[l].kind != HGQ_LAYER_QUANT;
	if ((r->layer = hgq_calloc(n, sizeof(*r->layer))) == NULL)
		return HGQ_ENOMEM;
	r->n_dense = n;
	for (uint32_t l = 0, a = 0; l < m->n_layers; l++) {
		struct hgq_prune_stats *s = &r->layer[a];
		uint32_t qi = hgq_layer_input(m, l, 0);
		uint32_t qo = next_reader(m, l, l + 1), d[HGQ_MAX_RANK];

		if (m->layers[l].kind == HGQ_LAYER_QUANT)
			continue;
		a++;
		s->index = l;
		s->kind = m->layers[l].kind;
		s->n_in = m->layers[qi].n_out;
		s->n_out = m->layers[qo].n_out;
		s->new_in = c->layers[qi].n_out;
		s->new_out = c->layers[qo].n_out;
		s->in_c = d[hgq_layer_shape(&m->layers[qi], d) - 1];
		s->out_c = d[hgq_layer_shape(&m->layers[qo], d) - 1];
		s->new_in_c = d[hgq_layer_shape(&c->layers[qi], d) - 1];
		s->new_out_c = d[hgq_layer_shape(&c->layers[qo], d) - 1];
		s->k_h = m->layers[l].kernel[0];
		s->k_w = m->layers[l].kernel[1];
		s->inputs_removed = s->n_in - s->new_in;
		s->neurons_removed = s->n_out - s->new_out;
		s->outputs_cleared = cleared[l];
		if (is_weighted(s->kind))
			for (uint64_t e = 0; e < hgq_layer_n_weights(c, l);
			    e++)
				s->zero_weights += c->layers[l].w_m[e] == 0;
	}
	r->passes = changed;
	r->changed = changed;
	return HGQ_OK;
}

/*
 * g_apply - prune the copy c of m by the liveness live; cleared[l] gets
 * the columns cleared in layer l, *changed whether anything changed
 */
static int
g_apply(struct hgq_model *c, const struct hgq_model *m, uint8_t **live,
    uint32_t *cleared, bool *changed)
{
	uint32_t *keep = NULL;

	*changed = false;
	for (uint32_t q = 0; q < m->n_layers; q++) {
		uint32_t n = m->layers[q].n_out, nk = 0;

		if (m->layers[q].kind != HGQ_LAYER_QUANT || !g_prunable(m, q))
			continue;
		if ((keep = hgq_calloc(n, sizeof(uint32_t))) == NULL)
			return HGQ_ENOMEM;
		for (uint32_t e = 0; e < n; e++)
			if (live[q][e])
				keep[nk++] = e;
		nk = nk == 0 ? 1 : nk;	/* keep[0] = 0: one stays */
		if (nk < n && !g_cut(c, q, keep, nk)) {
			free(keep);
			return HGQ_ENOMEM;
		}
		*changed |= nk < n;
		free(keep);
	}
	for (uint32_t q = 0; q < c->n_layers; q++) {
		uint32_t p = hgq_layer_input(c, q, 0);

		if (c->layers[q].kind == HGQ_LAYER_QUANT &&
		    (p & HGQ_REF_INPUT) == 0)
			*changed |= (cleared[p] = g_clear(c, q)) > 0;
	}
	return HGQ_OK;
}

/* hgq_prune of a graph m (validated, calibrated) */
static int
prune_graph(struct hgq_model *m, struct hgq_prune_report *r,
    struct hgq_err *err)
{
	uint32_t nl = m->n_layers, nq = 0, *cleared = NULL;
	uint8_t **zero = hgq_calloc(nl, sizeof(*zero));
	uint8_t **live = hgq_calloc(nl, sizeof(*live));
	struct hgq_model *c = NULL, t;
	struct qshape *old = NULL;
	bool changed;
	int rc = HGQ_ENOMEM;

	for (uint32_t l = 0; l < nl; l++)
		nq += m->layers[l].kind == HGQ_LAYER_QUANT;
	if (zero == NULL || live == NULL || (old = hgq_calloc(nq,
	    sizeof(*old))) == NULL || (cleared = hgq_calloc(nl,
	    sizeof(*cleared))) == NULL || g_zero(m, zero) != HGQ_OK ||
	    g_live(m, zero, live) != HGQ_OK || (c = hgq_model_copy(m)) ==
	    NULL)
		goto out;
	get_shapes(m, old);
	drop_training(c);
	if ((rc = g_apply(c, m, live, cleared, &changed)) != HGQ_OK)
		goto out;
	if ((rc = hgq_model_validate(c, err)) != HGQ_OK) {
		rc = hgq_errf(err, HGQ_EINVAL, "internal error: the pruned "
		    "graph is invalid: %s", err->msg);
		goto out;
	}
	if ((changed || hgq_meta_get(c, "pruned") == NULL) &&
	    (rc = set_meta(c, old, err)) != HGQ_OK)
		goto out;
	if (r != NULL && (rc = g_report(r, m, c, cleared, changed)) !=
	    HGQ_OK)
		goto out;
	t = *m;
	*m = *c;
	*c = t;
out:
	if (rc == HGQ_ENOMEM)
		hgq_errf(err, rc, "out of memory");
	if (rc != HGQ_OK)
		hgq_prune_report_release(r);
	hgq_model_free(c);
	if (zero != NULL)
		hgq_model_live_release(zero, nl);
	if (live != NULL)
		hgq_model_live_release(live, nl);
	free(zero);
	free(live);
	free(old);
	free(cleared);
	return rc;
}

/* ------------------------------------------------------------------ */
/* hgq_prune                                                           */
/* ------------------------------------------------------------------ */

/*
 * A quantizer without live elements cannot be kept (a layer needs at
 * least one element), and then the first one has none either: the
 * outputs do not depend on the inputs.
 */
static bool
prunes_to_nothing(const struct hgq_model *m, uint8_t **live)
{
	for (uint32_t l = 0; l + 1 < m->n_layers; l += 2) {
		bool any = false;

		for (uint32_t e = 0; e < m->layers[l].n_out && !any; e++)
			any = live[l][e] != 0;
		if (!any)
			return true;
	}
	return false;
}

int
hgq_prune(struct hgq_model *m, struct hgq_prune_report *r,
    struct hgq_err *err)
{
	uint8_t **live = NULL, **zero = NULL;
	struct qplan *plan = NULL;
	struct qshape *old = NULL;
	uint32_t nl, nq, passes = 0, cleared = 0, n_clear;
	bool nomem;
	int rc;

	if (r != NULL)
		memset(r, 0, sizeof(*r));
	if ((rc = hgq_model_validate(m, err)) != HGQ_OK)
		return rc;
	if (!m->calibrated)
		return hgq_errf(err, HGQ_EINVAL, "model was never calibrated");
	/* the entry "pruned" replaces an earlier one or needs room: say so
	   before any work rather than fail after it */
	if (hgq_meta_get(m, "pruned") == NULL && m->n_meta >= HGQ_MAX_META)
		return hgq_errf(err, HGQ_EINVAL, "no room for the metadata "
		    "entry 'pruned': the model has %" PRIu32 " entries, the "
		    "limit", m->n_meta);
	if (!hgq_model_is_chain(m))
		return prune_graph(m, r, err);
	nl = m->n_layers;
	nq = nl / 2 + 1;
	live = hgq_calloc(nl, sizeof(*live));
	zero = hgq_calloc(nl, sizeof(*zero));
	old = hgq_calloc(nq, sizeof(*old));
	if (live == NULL || zero == NULL || old == NULL)
		goto nomem;
	if (r != NULL) {
		r->n_dense = nl / 2;
		r->layer = hgq_calloc(r->n_dense, sizeof(*r->layer));
		if (r->layer == NULL)
			goto nomem;
	}
	get_shapes(m, old);

	for (;;) {
		if ((rc = find_zero(m, zero)) != HGQ_OK) {
			rc = hgq_errf(err, rc, rc == HGQ_ENOMEM ? "out of "
			    "memory" : "internal error: no window");
			goto fail;
		}
		if ((rc = hgq_model_live_zero(m, live, zero, err)) != HGQ_OK)
			goto fail;
		if (passes == 0) {
			if (prunes_to_nothing(m, live)) {
				rc = hgq_errf(err, HGQ_EINVAL, "model prunes "
				    "to nothing: every input is unused");
				goto fail;
			}
			drop_training(m);
		}
		if ((plan = plan_new(m, live)) == NULL)
			goto nomem;
		if (!work_left(m, plan, &n_clear, &nomem)) {
			if (nomem)
				goto nomem;
			break;
		}
		if (passes == nl) {
			/* one sweep decides everything: never reached */
			rc = hgq_errf(err, HGQ_EINVAL, "internal error: "
			    "pruning does not converge");
			goto fail;
		}
		if ((rc = prune_pass(m, plan, err)) != HGQ_OK)
			goto fail;
		cleared += n_clear;
		plan_free(plan, nl);
		plan = NULL;
		hgq_model_live_release(live, nl);
		hgq_model_live_release(zero, nl);
		passes++;
	}
	if (passes > 0 || hgq_meta_get(m, "pruned") == NULL)
		if ((rc = set_meta(m, old, err)) != HGQ_OK)
			goto fail;
	if (r != NULL)
		fill_report(r, m, old, cleared, passes);
	plan_free(plan, nl);
	hgq_model_live_release(live, nl);
	hgq_model_live_release(zero, nl);
	free(live);
	free(zero);
	free(old);
	return HGQ_OK;
nomem:
	rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
fail:
	plan_free(plan, nl);
	if (live != NULL)
		hgq_model_live_release(live, nl);
	if (zero != NULL)
		hgq_model_live_release(zero, nl);
	free(live);
	free(zero);
	free(old);
	hgq_prune_report_release(r);
	return rc;
}

void
hgq_prune_report_release(struct hgq_prune_report *r)
{
	if (r == NULL)
		return;
	free(r->layer);
	memset(r, 0, sizeof(*r));
}
