/*
 * prune.c - remove from a calibrated model everything that computes
 * nothing, keeping its function bit for bit (hgq.h "Pruning").
 *
 * Which elements go is decided by the liveness analysis of ebops.c: an
 * element of a quantizer is live when its width is > 0 and it reaches a
 * live element of the next quantizer through a non-zero weight (every
 * output element of width > 0 is live).  Why removing the rest keeps the
 * function, from the outputs backwards: a live element j of quantizer
 * l+1 sums b_j and a_i * w_ij over its inputs i; an input of width <= 0
 * has a_i = 0, an input whose w_ij is 0 adds 0, and every other input is
 * live by definition.  So live elements depend on live elements only,
 * and a dead output element (width <= 0) is 0 whatever its sum is.  The
 * accumulation itself is exact (sim.c), so dropping terms that are 0
 * changes no bit.  EBOPs count exactly the multiplications that stay.
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

/* the new arrays of one layer, before they replace the old ones */
struct stage {
	uint32_t	 n;		/* quantizer: kept elements */
	int8_t		*k, *i, *f;
	double		*cal_min, *cal_max;
	int32_t		*w_m, *b_m;	/* dense */
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

/* is any of column j of dense d, or its bias, non-zero? */
static bool
column_nonzero(const struct hgq_layer *d, uint32_t j)
{
	if (d->b_m[j] != 0)
		return true;
	for (uint32_t i = 0; i < d->n_in; i++)
		if (d->w_m[(size_t)i * d->n_out + j] != 0)
			return true;
	return false;
}

/*
 * work_left - does the liveness in live call for a pass: a dead element
 * in a quantizer before the last, or a dead output element whose weights
 * or bias are not yet cleared?
 */
static bool
work_left(const struct hgq_model *m, uint8_t **live)
{
	uint32_t last = m->n_layers - 1;

	for (uint32_t l = 0; l < last; l += 2)
		for (uint32_t e = 0; e < m->layers[l].n_out; e++)
			if (!live[l][e])
				return true;
	for (uint32_t j = 0; j < m->layers[last].n_out; j++)
		if (!live[last][j] && column_nonzero(&m->layers[last - 1], j))
			return true;
	return false;
}

/* stage quantizer q, keeping the n elements listed in keep */
static bool
stage_quant(struct stage *s, const struct hgq_layer *q, const uint32_t *keep,
    uint32_t n)
{
	s->n = n;
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
 * stage_dense - stage dense d keeping rows (nr) and columns (nc); when
 * clear is not NULL (the last layer, every column kept), the columns
 * with clear[j] = 0 get zero weights and bias.
 */
static bool
stage_dense(struct stage *s, const struct hgq_layer *d, const uint32_t *rows,
    uint32_t nr, const uint32_t *cols, uint32_t nc, const uint8_t *clear)
{
	size_t nw = (size_t)nr * nc;

	s->w_m = hgq_calloc(nw, sizeof(int32_t));
	s->w_f = hgq_calloc(nw, 1);
	s->b_m = hgq_calloc(nc, sizeof(int32_t));
	s->b_f = hgq_calloc(nc, 1);
	if (s->w_m == NULL || s->w_f == NULL || s->b_m == NULL ||
	    s->b_f == NULL)
		return false;
	for (uint32_t r = 0; r < nr; r++) {
		const int32_t *wm = d->w_m + (size_t)rows[r] * d->n_out;
		const int8_t *wf = d->w_f + (size_t)rows[r] * d->n_out;

		for (uint32_t c = 0; c < nc; c++) {
			bool dead = clear != NULL && !clear[cols[c]];

			s->w_m[(size_t)r * nc + c] = dead ? 0 : wm[cols[c]];
			s->w_f[(size_t)r * nc + c] = wf[cols[c]];
		}
	}
	for (uint32_t c = 0; c < nc; c++) {
		bool dead = clear != NULL && !clear[cols[c]];

		s->b_m[c] = dead ? 0 : d->b_m[cols[c]];
		s->b_f[c] = d->b_f[cols[c]];
	}
	return true;
}

/* replace the arrays of layer l by its stage (which is emptied) */
static void
commit_layer(struct hgq_layer *l, struct stage *s, uint32_t n_in,
    uint32_t n_out)
{
	struct stage old = { 0 };

	old.k = l->k;
	old.i = l->i;
	old.f = l->f;
	old.cal_min = l->cal_min;
	old.cal_max = l->cal_max;
	old.w_m = l->w_m;
	old.w_f = l->w_f;
	old.b_m = l->b_m;
	old.b_f = l->b_f;
	if (l->kind == HGQ_LAYER_QUANT) {
		l->k = s->k;
		l->i = s->i;
		l->f = s->f;
		l->cal_min = s->cal_min;
		l->cal_max = s->cal_max;
	} else {
		l->w_m = s->w_m;
		l->w_f = s->w_f;
		l->b_m = s->b_m;
		l->b_f = s->b_f;
	}
	l->n_in = n_in;
	l->n_out = n_out;
	memset(s, 0, sizeof(*s));
	stage_free(&old);
}

/*
 * prune_pass - one pass with the liveness flags live: every layer is
 * staged, then committed.  *cleared is raised by the output elements
 * whose weights or bias were cleared.  HGQ_ENOMEM leaves m as it was.
 */
static int
prune_pass(struct hgq_model *m, uint8_t **live, uint32_t *cleared,
    struct hgq_err *err)
{
	uint32_t nl = m->n_layers, last = nl - 1, n_clear = 0;
	struct stage *st = hgq_calloc(nl, sizeof(*st));
	uint32_t **keep = hgq_calloc(nl, sizeof(*keep));
	uint32_t *n_keep = hgq_calloc(nl, sizeof(*n_keep));
	uint32_t *map = NULL;
	int rc = HGQ_ENOMEM;

	if (st == NULL || keep == NULL || n_keep == NULL)
		goto out;
	for (uint32_t l = 0; l < nl; l += 2) {
		const struct hgq_layer *q = &m->layers[l];

		if ((keep[l] = hgq_calloc(q->n_out, sizeof(uint32_t))) == NULL)
			goto out;
		for (uint32_t e = 0; e < q->n_out; e++)
			if (l == last || live[l][e])
				keep[l][n_keep[l]++] = e;
		if (!stage_quant(&st[l], q, keep[l], n_keep[l]))
			goto out;
	}
	for (uint32_t l = 1; l < nl; l += 2)
		if (!stage_dense(&st[l], &m->layers[l], keep[l - 1],
		    n_keep[l - 1], keep[l + 1], n_keep[l + 1],
		    l + 1 == last ? live[last] : NULL))
			goto out;
	if ((map = hgq_calloc(n_keep[0], sizeof(*map))) == NULL)
		goto out;
	for (uint32_t e = 0; e < n_keep[0]; e++)
		map[e] = m->index_map[keep[0][e]];
	for (uint32_t j = 0; j < m->layers[last].n_out; j++)
		if (!live[last][j] && column_nonzero(&m->layers[last - 1], j))
			n_clear++;

	/* nothing below can fail */
	for (uint32_t l = 0; l < nl; l++) {
		if (l % 2 == 0)
			commit_layer(&m->layers[l], &st[l], n_keep[l],
			    n_keep[l]);
		else
			commit_layer(&m->layers[l], &st[l], n_keep[l - 1],
			    n_keep[l + 1]);
	}
	free(m->index_map);
	m->index_map = map;
	map = NULL;
	*cleared += n_clear;
	rc = HGQ_OK;
out:
	if (st != NULL)
		for (uint32_t l = 0; l < nl; l++)
			stage_free(&st[l]);
	if (keep != NULL)
		for (uint32_t l = 0; l < nl; l++)
			free(keep[l]);
	free(st);
	free(keep);
	free(n_keep);
	free(map);
	if (rc != HGQ_OK)
		return hgq_errf(err, rc, "out of memory");
	return HGQ_OK;
}

/* drop the float training state: it describes the old shapes */
static void
drop_training(struct hgq_model *m)
{
	for (uint32_t l = 0; l < m->n_layers; l++) {
		struct hgq_layer *L = &m->layers[l];

		for (uint32_t t = 0; t < L->n_tensors; t++)
			free(L->tensors[t].data);
		free(L->tensors);
		L->tensors = NULL;
		L->n_tensors = 0;
	}
	m->has_train = 0;
	memset(&m->train, 0, sizeof(m->train));
	m->train.lr_scale = 1.0;
}

/* "a-b-c" of the model's quantizer sizes, appended at s (room checked) */
static char *
put_shape(char *s, const uint32_t *n, uint32_t count)
{
	for (uint32_t q = 0; q < count; q++)
		s += sprintf(s, "%s%" PRIu32, q > 0 ? "-" : "", n[q]);
	return s;
}

/* the metadata entry "pruned": "<old shapes> -> <new shapes>" */
static int
set_meta(struct hgq_model *m, const uint32_t *old_n, struct hgq_err *err)
{
	uint32_t nq = m->n_layers / 2 + 1;
	uint32_t *new_n = hgq_calloc(nq, sizeof(*new_n));
	char *buf = hgq_calloc(nq, 2 * 12 + 8), *s;
	int rc;

	if (new_n == NULL || buf == NULL) {
		free(new_n);
		free(buf);
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	}
	for (uint32_t q = 0; q < nq; q++)
		new_n[q] = m->layers[2 * q].n_out;
	s = put_shape(buf, old_n, nq);
	s += sprintf(s, " -> ");
	put_shape(s, new_n, nq);
	rc = hgq_meta_set(m, "pruned", buf, err);
	free(new_n);
	free(buf);
	return rc;
}

static void
fill_report(struct hgq_prune_report *r, const struct hgq_model *m,
    const uint32_t *old_n, uint32_t cleared, uint32_t passes)
{
	for (uint32_t n = 0; n < r->n_dense; n++) {
		struct hgq_prune_stats *s = &r->layer[n];
		const struct hgq_layer *d = &m->layers[2 * n + 1];
		size_t nw = (size_t)d->n_in * d->n_out;

		s->index = 2 * n + 1;
		s->n_in = old_n[n];
		s->n_out = old_n[n + 1];
		s->new_in = d->n_in;
		s->new_out = d->n_out;
		s->inputs_removed = s->n_in - s->new_in;
		s->neurons_removed = s->n_out - s->new_out;
		s->outputs_cleared = n + 1 == r->n_dense ? cleared : 0;
		s->zero_weights = 0;
		for (size_t e = 0; e < nw; e++)
			s->zero_weights += d->w_m[e] == 0;
		if (s->inputs_removed > 0 || s->neurons_removed > 0 ||
		    s->outputs_cleared > 0)
			r->changed = 1;
	}
	r->passes = passes;
}

int
hgq_prune(struct hgq_model *m, struct hgq_prune_report *r,
    struct hgq_err *err)
{
	uint8_t **live = NULL;
	uint32_t *old_n = NULL;
	uint32_t nl, nq, passes = 0, cleared = 0;
	int rc;

	if (r != NULL)
		memset(r, 0, sizeof(*r));
	if ((rc = hgq_model_validate(m, err)) != HGQ_OK ||
	    (rc = hgq_model_dense_only(m, "pruning", err)) != HGQ_OK)
		return rc;
	if (!m->calibrated)
		return hgq_errf(err, HGQ_EINVAL, "model was never calibrated");
	/* the entry "pruned" replaces an earlier one or needs room: say so
	   before any work rather than fail after it */
	if (hgq_meta_get(m, "pruned") == NULL && m->n_meta >= HGQ_MAX_META)
		return hgq_errf(err, HGQ_EINVAL, "no room for the metadata "
		    "entry 'pruned': the model has %" PRIu32 " entries, the "
		    "limit", m->n_meta);
	nl = m->n_layers;
	nq = nl / 2 + 1;
	live = hgq_calloc(nl, sizeof(*live));
	old_n = hgq_calloc(nq, sizeof(*old_n));
	if (live == NULL || old_n == NULL)
		goto nomem;
	if (r != NULL) {
		r->n_dense = nl / 2;
		r->layer = hgq_calloc(r->n_dense, sizeof(*r->layer));
		if (r->layer == NULL)
			goto nomem;
	}
	for (uint32_t q = 0; q < nq; q++)
		old_n[q] = m->layers[2 * q].n_out;

	for (;;) {
		if ((rc = hgq_model_live(m, live, err)) != HGQ_OK)
			goto fail;
		if (passes == 0) {
			/*
			 * A quantizer without live elements cannot be kept
			 * (a layer needs at least one element), and then the
			 * first one has none either: the outputs do not
			 * depend on the inputs.  Say so before changing m.
			 */
			for (uint32_t l = 0; l + 1 < nl; l += 2) {
				bool any = false;

				for (uint32_t e = 0; e < m->layers[l].n_out &&
				    !any; e++)
					any = live[l][e] != 0;
				if (!any) {
					rc = hgq_errf(err, HGQ_EINVAL, "model "
					    "prunes to nothing: every input is "
					    "unused");
					goto fail;
				}
			}
			drop_training(m);
		}
		if (!work_left(m, live))
			break;
		if (passes == nl) {
			/* one sweep decides everything: never reached */
			rc = hgq_errf(err, HGQ_EINVAL, "internal error: "
			    "pruning does not converge");
			goto fail;
		}
		if ((rc = prune_pass(m, live, &cleared, err)) != HGQ_OK)
			goto fail;
		hgq_model_live_release(live, nl);
		passes++;
	}
	if (passes > 0 || hgq_meta_get(m, "pruned") == NULL)
		if ((rc = set_meta(m, old_n, err)) != HGQ_OK)
			goto fail;
	if (r != NULL)
		fill_report(r, m, old_n, cleared, passes);
	hgq_model_live_release(live, nl);
	free(live);
	free(old_n);
	return HGQ_OK;
nomem:
	rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
fail:
	if (live != NULL)
		hgq_model_live_release(live, nl);
	free(live);
	free(old_n);
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
