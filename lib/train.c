/*
 * train.c - HGQ training: data for a config, a fresh model, the epoch
 * loop around the trainer (train_step.c), export of the exact fixed-point
 * part with calibration, bit-exact evaluation, schedules and the Pareto
 * front bookkeeping.
 *
 * The model is the single store of the training state: after every epoch
 * the trainer writes its float state back into the model's tensors, the
 * fixed part is rebuilt from them and calibrated, and the callback sees
 * that model.  A run that diverges therefore still holds the last good
 * epoch, and a model written at any epoch resumes exactly: m->train has
 * the completed epochs, the optimizer steps and the generator state at
 * the start of the epoch in progress (whose shuffle it replays).
 */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "betactl.h"

#define EVAL_CHUNK	4096		/* rows per engine call */

/* ------------------------------------------------------------------ */
/* Schedules                                                           */
/* ------------------------------------------------------------------ */

/*
 * Learning rate at epoch e (changes per epoch, hgq-algorithm 9.9):
 *   constant         lr
 *   cosine           min + (lr - min) (1 + cos(pi e / epochs)) / 2
 *   cosine_restarts  cycle n = floor(e / period), t = its phase in [0,1):
 *                    min + (lr - min) (1 + cos(pi t)) / 2 * decay^n
 */
double
hgq_lr_value(const struct hgq_config *c, uint32_t epoch)
{
	double lr = c->train.lr, lo = c->train.min_lr, t, n;

	switch (c->train.lr_sched) {
	case HGQ_LR_COSINE:
		t = (double)epoch / (double)(c->train.epochs ? c->train.epochs :
		    1);
		if (t > 1)
			t = 1;
		return lo + (lr - lo) * 0.5 * (1 + cos(M_PI * t));
	case HGQ_LR_COSINE_RESTARTS:
		n = floor((double)epoch / c->train.lr_period);
		t = ((double)epoch - n * c->train.lr_period) /
		    c->train.lr_period;
		return lo + (lr - lo) * 0.5 * (1 + cos(M_PI * t)) *
		    pow(c->train.lr_decay, n);
	default:
		return lr;
	}
}

/* ------------------------------------------------------------------ */
/* Data                                                                */
/* ------------------------------------------------------------------ */

void
hgq_train_data_release(struct hgq_train_data *d)
{
	free(d->x_train);
	free(d->x_val);
	free(d->x_test);
	free(d->y_train);
	free(d->y_val);
	free(d->y_test);
	memset(d, 0, sizeof(*d));
}

/*
 * Labels or targets of a table: from a separate file (key ykey) or from
 * x's label column.  Returns a copy of n rows (ycols each), as read.
 */
static int
load_targets(const char *cfg, const char *ypath, const char *ykey,
    const char *xkey, const char *xpath, const struct hgq_table *tx,
    size_t n, uint32_t n_out, int task, double **out, struct hgq_err *err)
{
	struct hgq_data_opts o;
	struct hgq_table ty;
	struct hgq_err e2 = HGQ_ERR_INIT;
	const double *y;
	size_t ycols;
	double *f;
	int rc = HGQ_OK;

	memset(&ty, 0, sizeof(ty));
	if (ypath != NULL) {
		hgq_data_opts_init(&o);
		if ((rc = hgq_table_load(ypath, &o, &ty, &e2)) != HGQ_OK)
			return hgq_errf(err, rc, "%s: %s: %s", cfg, ykey,
			    e2.msg);
		if (ty.n_rows != tx->n_rows) {
			rc = hgq_errf(err, HGQ_EINVAL, "%s: %s: '%s' has %zu "
			    "rows, but %s has %zu", cfg, ykey, ypath,
			    ty.n_rows, xkey, tx->n_rows);
			goto out;
		}
		y = ty.x;
		ycols = ty.n_cols;
	} else if (tx->y != NULL) {
		y = tx->y;
		ycols = 1;
		ykey = "data.label_col";
		ypath = xpath;
	} else {
		return hgq_errf(err, HGQ_EINVAL, "%s: %s: no labels (set %s "
		    "or data.label_col)", cfg, ykey, ykey);
	}
	if (task == HGQ_TASK_CLASSIFY) {
		if (ycols != 1) {
			rc = hgq_errf(err, HGQ_EINVAL, "%s: %s: labels must "
			    "be one column, '%s' has %zu", cfg, ykey, ypath,
			    ycols);
			goto out;
		}
		if ((rc = hgq_labels_check(y, n, n_out, ypath, &e2)) !=
		    HGQ_OK) {
			rc = hgq_errf(err, rc, "%s: %s: %s (the model has %"
			    PRIu32 " classes)", cfg, ykey, e2.msg, n_out);
			goto out;
		}
	} else if (ycols != n_out) {
		rc = hgq_errf(err, HGQ_EINVAL, "%s: %s: %zu target columns, "
		    "but the model has %" PRIu32 " outputs", cfg, ykey, ycols,
		    n_out);
		goto out;
	}
	if ((f = hgq_calloc(n * ycols, sizeof(*f))) == NULL) {
		rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(f, y, n * ycols * sizeof(*f));
	*out = f;
out:
	hgq_table_release(&ty);
	return rc;
}

/* a tensor shape of the config's graph (channels last) */
struct conf_shape {
	uint32_t	 rank;
	uint32_t	 d[HGQ_MAX_RANK];	/* 0 past rank */
};

static int conf_shapes(const struct hgq_config *c,
    const struct hgq_train_data *d, struct conf_shape *out,
    struct hgq_err *err);
static uint32_t conf_n_out(const struct hgq_config *c,
    const struct conf_shape *sh);
static int conf_shaped(const struct hgq_config *c);

/*
 * data_outputs - with model.inputs, the data's columns are the inputs'
 * elements in order (input k takes the product of its shape); then the
 * outputs of the model on those shapes give d->n_out.
 */
static int
data_outputs(struct hgq_train_data *d, const struct hgq_config *c,
    const char *cfg, struct hgq_err *err)
{
	struct conf_shape sh[HGQ_MAX_CONF_LAYERS];
	uint64_t want = 0;
	int rc;

	for (uint32_t k = 0; k < c->model.n_inputs; k++) {
		const struct hgq_conf_dims *s = &c->model.inputs[k].shape;
		uint64_t p = 1;

		for (uint32_t a = 0; a < s->n; a++)
			p *= s->v[a];
		want += p;
	}
	if (c->model.n_inputs > 0 && want != d->n_raw)
		return hgq_errf(err, HGQ_EINVAL, "%s: data.train_x: '%s' has %"
		    PRIu32 " columns, but model.inputs take %" PRIu64, cfg,
		    c->data.train_x, d->n_raw, want);
	if (!conf_shaped(c)) {
		d->n_out = c->model.layers[c->model.n_layers - 1].units;
		return HGQ_OK;
	}
	if ((rc = conf_shapes(c, d, sh, err)) != HGQ_OK)
		return rc;
	d->n_out = conf_n_out(c, sh);
	if (d->n_out > HGQ_MAX_N)
		return hgq_errf(err, HGQ_EINVAL, "%s: model.outputs: more "
		    "than %u outputs", cfg, HGQ_MAX_N);
	return HGQ_OK;
}

int
hgq_train_data_load(struct hgq_train_data *d, const struct hgq_config *c,
    size_t limit, struct hgq_err *err)
{
	const char *cfg = c->path != NULL ? c->path : "config";
	struct hgq_data_opts o;
	struct hgq_table tx, tt;
	struct hgq_err e2 = HGQ_ERR_INIT;
	double *y = NULL;
	size_t n, ycols, nr;
	int rc;

	memset(d, 0, sizeof(*d));
	memset(&tx, 0, sizeof(tx));
	memset(&tt, 0, sizeof(tt));
	if (c->model.n_layers == 0)
		return hgq_errf(err, HGQ_EINVAL, "%s: model.layers: no layers",
		    cfg);
	if (c->data.train_x == NULL)
		return hgq_errf(err, HGQ_EINVAL, "%s: data.train_x: missing",
		    cfg);
	if (c->model.n_outputs == 0 &&
	    c->model.layers[c->model.n_layers - 1].kind != HGQ_LAYER_DENSE) {
		const struct hgq_layer_conf *lc = &c->model.layers[
		    c->model.n_layers - 1];

		return hgq_errf(err, HGQ_EINVAL, "%s:%" PRIu32 ":%" PRIu32
		    ": the last layer of model.layers must be dense (it "
		    "gives the outputs)", cfg, lc->line, lc->col);
	}
	d->task = c->train.loss == HGQ_LOSS_MSE ? HGQ_TASK_REGRESS :
	    HGQ_TASK_CLASSIFY;
	hgq_data_opts_init(&o);
	o.label_col = c->data.train_y == NULL ? c->data.label_col : -1;
	if ((rc = hgq_table_load(c->data.train_x, &o, &tx, &e2)) != HGQ_OK)
		return hgq_errf(err, rc, "%s: data.train_x: %s", cfg, e2.msg);
	if (tx.n_cols == 0 || tx.n_cols > HGQ_MAX_N) {
		rc = hgq_errf(err, HGQ_EINVAL, "%s: data.train_x: '%s' has %zu "
		    "features", cfg, c->data.train_x, tx.n_cols);
		goto fail;
	}
	d->n_raw = (uint32_t)tx.n_cols;
	d->in_rank = tx.rank;
	memcpy(d->in_shape, tx.shape, sizeof(d->in_shape));
	if (c->data.input_shape.n > 0) {
		const struct hgq_conf_dims *is = &c->data.input_shape;
		uint64_t prod = 1;

		for (uint32_t k = 0; k < is->n; k++)
			prod *= is->v[k];
		if (prod != d->n_raw) {
			rc = hgq_errf(err, HGQ_EINVAL, "%s:%" PRIu32 ":%" PRIu32
			    ": data.input_shape: %" PRIu64 " elements, but "
			    "the rows of '%s' have %" PRIu32, cfg, is->line,
			    is->col, prod, c->data.train_x, d->n_raw);
			goto fail;
		}
		d->in_rank = is->n;
		memset(d->in_shape, 0, sizeof(d->in_shape));
		memcpy(d->in_shape, is->v, is->n * sizeof(uint32_t));
	}
	if ((rc = data_outputs(d, c, cfg, err)) != HGQ_OK)
		goto fail;
	ycols = d->task == HGQ_TASK_CLASSIFY ? 1 : d->n_out;
	n = tx.n_rows;
	if (limit > 0 && limit < n)
		n = limit;
	if ((rc = load_targets(cfg, c->data.train_y, "data.train_y",
	    "data.train_x", c->data.train_x, &tx, n, d->n_out, d->task, &y,
	    err)) != HGQ_OK)
		goto fail;
	d->n_val = (size_t)floor((double)n * c->data.val_split);
	if (d->n_val == 0) {
		rc = hgq_errf(err, HGQ_EINVAL, "%s: data.val_split: %g of %zu "
		    "rows of '%s' is an empty validation split", cfg,
		    c->data.val_split, n, c->data.train_x);
		goto fail;
	}
	d->n_train = n - d->n_val;
	if (d->n_train == 0) {
		rc = hgq_errf(err, HGQ_EINVAL, "%s: data.val_split: %g of %zu "
		    "rows of '%s' leaves no training rows", cfg,
		    c->data.val_split, n, c->data.train_x);
		goto fail;
	}
	nr = d->n_raw;
	d->x_val = hgq_calloc(d->n_val * nr, sizeof(double));
	d->y_val = hgq_calloc(d->n_val * ycols, sizeof(double));
	/* the trainer works in float; the exact evaluation on the file's */
	d->y_train = hgq_calloc(d->n_train * ycols, sizeof(float));
	if (d->x_val == NULL || d->y_val == NULL || d->y_train == NULL)
		goto nomem;
	memcpy(d->x_val, tx.x + d->n_train * nr, d->n_val * nr *
	    sizeof(double));
	memcpy(d->y_val, y + d->n_train * ycols, d->n_val * ycols *
	    sizeof(double));
	for (size_t j = 0; j < d->n_train * ycols; j++)
		d->y_train[j] = (float)y[j];
	d->x_train = tx.x;		/* rows past n_train are ignored */
	tx.x = NULL;
	free(y);
	y = NULL;
	if (c->data.test_x != NULL) {
		o.label_col = c->data.test_y == NULL ? c->data.label_col : -1;
		if ((rc = hgq_table_load(c->data.test_x, &o, &tt, &e2)) !=
		    HGQ_OK) {
			rc = hgq_errf(err, rc, "%s: data.test_x: %s", cfg,
			    e2.msg);
			goto fail;
		}
		if (tt.n_cols != nr) {
			rc = hgq_errf(err, HGQ_EINVAL, "%s: data.test_x: '%s' "
			    "has %zu features, but data.train_x has %zu", cfg,
			    c->data.test_x, tt.n_cols, (size_t)nr);
			goto fail;
		}
		if ((rc = load_targets(cfg, c->data.test_y, "data.test_y",
		    "data.test_x", c->data.test_x, &tt, tt.n_rows, d->n_out,
		    d->task, &d->y_test, err)) != HGQ_OK)
			goto fail;
		d->n_test = tt.n_rows;
		d->x_test = tt.x;
		tt.x = NULL;
	}
	hgq_table_release(&tx);
	hgq_table_release(&tt);
	return HGQ_OK;
nomem:
	rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
fail:
	free(y);
	hgq_table_release(&tx);
	hgq_table_release(&tt);
	hgq_train_data_release(d);
	return rc;
}

/* ------------------------------------------------------------------ */
/* A fresh model                                                       */
/* ------------------------------------------------------------------ */

static struct hgq_tensor *
add_filled(struct hgq_layer *l, uint32_t role, size_t n, float v,
    struct hgq_err *err)
{
	struct hgq_tensor *t = hgq_layer_add_tensor(l, role, (uint32_t)n, err);

	if (t != NULL)
		for (size_t j = 0; j < n; j++)
			t->data[j] = v;
	return t;
}

/* a parameter tensor and its optimizer moments */
static struct hgq_tensor *
add_param(struct hgq_layer *l, uint32_t role, size_t n, float v, int optim,
    struct hgq_err *err)
{
	struct hgq_tensor *t = add_filled(l, role, n, v, err);

	if (t == NULL || add_filled(l, role | HGQ_ROLE_M1, n, 0, err) == NULL ||
	    (optim == HGQ_OPT_ADAM && add_filled(l, role | HGQ_ROLE_M2, n, 0,
	    err) == NULL))
		return NULL;
	/* the moments may have moved the array: look it up again */
	return hgq_layer_tensor(l, role);
}

/*
 * A quantizer's modes.  In a flat chain (format 1.0) "channel" means
 * "element", as it always did; on shaped tensors it is the last axis.
 */
static void
set_quant(struct hgq_layer *l, const struct hgq_qconf *q, int shaped)
{
	l->round = (uint8_t)q->round;
	l->overflow = (uint8_t)q->overflow;
	l->gran = (uint8_t)(q->gran == HGQ_GRAN_LAYER ? HGQ_GRAN_LAYER :
	    q->gran == HGQ_GRAN_CHANNEL && shaped ? HGQ_GRAN_CHANNEL :
	    HGQ_GRAN_ELEMENT);
	l->trainable = q->trainable ? 1 : 0;
}

/* the f parameters of a quantizer: per element, channel or layer */
static size_t
quant_nf(const struct hgq_layer *l)
{
	uint32_t d[HGQ_MAX_RANK], r;

	if (l->gran == HGQ_GRAN_LAYER)
		return 1;
	if (l->gran == HGQ_GRAN_CHANNEL) {
		r = hgq_layer_shape(l, d);
		return d[r - 1];
	}
	return l->n_out;
}

/*
 * item_refs - the inputs of item j: its refs, or without them (a config
 * made in memory) the item before it, or model input 0 for item 0.
 */
static uint32_t
item_refs(const struct hgq_config *c, uint32_t j, uint32_t *refs)
{
	const struct hgq_layer_conf *lc = &c->model.layers[j];

	if (lc->n_refs == 0 || lc->n_refs > HGQ_MAX_LAYER_INPUTS) {
		refs[0] = j == 0 ? HGQ_REF_INPUT : j - 1;
		return 1;
	}
	memcpy(refs, lc->refs, lc->n_refs * sizeof(*refs));
	return lc->n_refs;
}

/* a config of one input whose items each read the one before */
static int
conf_chain(const struct hgq_config *c)
{
	uint32_t refs[HGQ_MAX_LAYER_INPUTS];

	if (c->model.n_inputs > 0 || c->model.n_outputs > 0)
		return 0;
	for (uint32_t j = 0; j < c->model.n_layers; j++)
		if (item_refs(c, j, refs) != 1 ||
		    refs[0] != (j == 0 ? HGQ_REF_INPUT : j - 1))
			return 0;
	return 1;
}

/* does the config need shaped tensors (else the flat chain of 1.0)? */
static int
conf_shaped(const struct hgq_config *c)
{
	if (c->data.input_shape.n > 0 || c->model.n_inputs > 0 ||
	    c->model.n_outputs > 0)
		return 1;
	for (uint32_t k = 0; k < c->model.n_layers; k++)
		if (c->model.layers[k].kind != HGQ_LAYER_DENSE)
			return 1;
	return !conf_chain(c);
}

static int
conf_err(struct hgq_err *err, const struct hgq_config *c,
    const struct hgq_layer_conf *lc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "PATH:LINE:COL: model.layers[k] (type): message" */
static int
conf_err(struct hgq_err *err, const struct hgq_config *c,
    const struct hgq_layer_conf *lc, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return hgq_errf(err, HGQ_EINVAL, "%s:%" PRIu32 ":%" PRIu32 ": "
	    "model.layers[%td]: %s", c->path != NULL ? c->path : "config",
	    lc->line, lc->col, lc - c->model.layers, msg);
}

static const char *
shape_text(char *buf, size_t size, uint32_t rank, const uint32_t *d)
{
	if (rank == 1)
		snprintf(buf, size, "[%" PRIu32 "]", d[0]);
	else if (rank == 2)
		snprintf(buf, size, "[%" PRIu32 ", %" PRIu32 "]", d[0], d[1]);
	else
		snprintf(buf, size, "[%" PRIu32 ", %" PRIu32 ", %" PRIu32 "]",
		    d[0], d[1], d[2]);
	return buf;
}

/* the shape of model input k: model.inputs, else the data's */
static void
conf_input_shape(const struct hgq_config *c, const struct hgq_train_data *d,
    uint32_t k, struct conf_shape *s)
{
	memset(s, 0, sizeof(*s));
	if (c->model.n_inputs == 0) {
		s->rank = d->in_rank;
		memcpy(s->d, d->in_shape, sizeof(s->d));
		return;
	}
	s->rank = c->model.inputs[k].shape.n;
	memcpy(s->d, c->model.inputs[k].shape.v, s->rank * sizeof(uint32_t));
}

/* the elements of a shape (each dimension is at most 2^32 - 1) */
static uint64_t
shape_size(const struct conf_shape *s)
{
	uint64_t n = 1;

	for (uint32_t a = 0; a < s->rank; a++) {
		if (s->d[a] != 0 && n > (UINT64_MAX >> 1) / s->d[a])
			return UINT64_MAX;
		n *= s->d[a];
	}
	return n;
}

/*
 * The output shape of a windowed item (conv, pooling) on an input of
 * shape (rank, dims), written over them.
 */
static int
window_shape(const struct hgq_config *c, const struct hgq_layer_conf *lc,
    uint32_t *rank, uint32_t *dims, struct hgq_err *err)
{
	struct hgq_err e2 = HGQ_ERR_INIT;
	struct hgq_conv_geom g;
	struct hgq_pool_geom pg;
	uint32_t want = lc->ndim + 1, H, W, C;
	char sh[64];
	const char *name = lc->kind == HGQ_LAYER_CONV1D ||
	    lc->kind == HGQ_LAYER_CONV2D ? "conv" :
	    lc->kind == HGQ_LAYER_MAXPOOL ? "maxpool" : "avgpool";

	shape_text(sh, sizeof(sh), *rank, dims);
	if (*rank != want)
		return conf_err(err, c, lc, "%s%" PRIu32 "d needs an input of "
		    "rank %" PRIu32 " (%s), got shape %s", name, lc->ndim, want,
		    want == 3 ? "[H, W, C]" : "[W, C]", sh);
	H = want == 3 ? dims[0] : 1;
	W = dims[want - 2];
	C = dims[want - 1];
	if (lc->kind == HGQ_LAYER_CONV1D || lc->kind == HGQ_LAYER_CONV2D) {
		if (lc->kernel[0] > H || lc->kernel[1] > W)
			return conf_err(err, c, lc, "kernel %" PRIu32 "x%" PRIu32
			    " larger than its input %s", lc->kernel[0],
			    lc->kernel[1], sh);
		if (hgq_conv_geom_init(&g, H, W, C, lc->kernel[0],
		    lc->kernel[1], lc->filters, lc->stride[0], lc->stride[1],
		    lc->padding, &e2) != HGQ_OK)
			return conf_err(err, c, lc, "%s", e2.msg);
		dims[0] = (uint32_t)g.OH;
		dims[1] = (uint32_t)g.OW;
		dims[2] = lc->filters;
	} else {
		if (lc->pool[0] > H || lc->pool[1] > W)
			return conf_err(err, c, lc, "pool %" PRIu32 "x%" PRIu32
			    " larger than its input %s", lc->pool[0],
			    lc->pool[1], sh);
		if (hgq_pool_geom_init(&pg, H, W, C, lc->pool[0], lc->pool[1],
		    lc->stride[0], lc->stride[1], &e2) != HGQ_OK)
			return conf_err(err, c, lc, "%s", e2.msg);
		dims[0] = (uint32_t)pg.OH;
		dims[1] = (uint32_t)pg.OW;
		dims[2] = C;
	}
	if (want == 2) {
		dims[0] = dims[1];
		dims[1] = dims[2];
		dims[2] = 0;
	}
	return HGQ_OK;
}

/* add and subtract: every input has the first one's shape */
static int
same_shapes(const struct hgq_config *c, const struct hgq_layer_conf *lc,
    uint32_t n, const struct conf_shape *in, struct hgq_err *err)
{
	char s0[64], sq[64];

	for (uint32_t q = 1; q < n; q++)
		if (in[q].rank != in[0].rank ||
		    memcmp(in[q].d, in[0].d, sizeof(in[0].d)) != 0)
			return conf_err(err, c, lc, "input %" PRIu32 " has shape "
			    "%s, input 0 has %s (%s needs equal shapes)", q,
			    shape_text(sq, sizeof(sq), in[q].rank, in[q].d),
			    shape_text(s0, sizeof(s0), in[0].rank, in[0].d),
			    lc->kind == HGQ_LAYER_ADD ? "add" : "subtract");
	return HGQ_OK;
}

/* concatenate along the item's axis: equal ranks, equal other dims */
static int
concat_shape(const struct hgq_config *c, const struct hgq_layer_conf *lc,
    uint32_t n, const struct conf_shape *in, struct conf_shape *out,
    struct hgq_err *err)
{
	uint32_t r = in[0].rank;
	int axis = lc->axis < 0 ? lc->axis + (int)r : lc->axis;
	uint64_t sum = 0;
	char s0[64], sq[64];

	if (axis < 0 || axis >= (int)r)
		return conf_err(err, c, lc, "axis %d outside the %" PRIu32
		    " axes of its inputs (-%" PRIu32 "..%" PRIu32 ")", lc->axis,
		    r, r, r - 1);
	for (uint32_t q = 0; q < n; q++) {
		for (uint32_t a = 0; a < HGQ_MAX_RANK; a++)
			if (in[q].rank != r || (a != (uint32_t)axis &&
			    in[q].d[a] != in[0].d[a]))
				return conf_err(err, c, lc, "input %" PRIu32
				    " has shape %s, input 0 has %s (concatenate"
				    " on axis %d needs equal other dimensions)",
				    q, shape_text(sq, sizeof(sq), in[q].rank,
				    in[q].d), shape_text(s0, sizeof(s0), r,
				    in[0].d), axis);
		sum += in[q].d[axis];
	}
	if (sum > HGQ_MAX_N)
		return conf_err(err, c, lc, "concatenation of %" PRIu64
		    " elements on axis %d is too large", sum, axis);
	*out = in[0];
	out->d[axis] = (uint32_t)sum;
	return HGQ_OK;
}

/*
 * item_shape - the output shape of item lc on inputs of shapes in[]; a
 * shape that does not fit is a config error at the item.  A dense item
 * on rank 2 or 3 is per-row (a 1x1 convolution); the global pools give
 * the channels (after their flatten).
 */
static int
item_shape(const struct hgq_config *c, const struct hgq_layer_conf *lc,
    uint32_t n_in, const struct conf_shape *in, struct conf_shape *out,
    struct hgq_err *err)
{
	uint64_t n = 1;
	char sh[64];

	*out = in[0];
	shape_text(sh, sizeof(sh), in[0].rank, in[0].d);
	switch (lc->kind) {
	case HGQ_LAYER_DENSE:
		out->d[out->rank - 1] = lc->units;
		return HGQ_OK;
	case HGQ_LAYER_FLATTEN:
		n = shape_size(&in[0]);
		memset(out, 0, sizeof(*out));
		out->rank = 1;
		out->d[0] = n > HGQ_MAX_N ? HGQ_MAX_N + 1 : (uint32_t)n;
		return HGQ_OK;
	case HGQ_LAYER_LUT:
		return HGQ_OK;
	case HGQ_LAYER_ADD:
	case HGQ_LAYER_SUB:
		return same_shapes(c, lc, n_in, in, err);
	case HGQ_LAYER_CONCAT:
		return concat_shape(c, lc, n_in, in, out, err);
	}
	if (lc->ndim != 0)
		return window_shape(c, lc, &out->rank, out->d, err);
	/* a global pool */
	if (in[0].rank < 2)
		return conf_err(err, c, lc, "global pooling needs an input of "
		    "rank 2 ([W, C]) or 3 ([H, W, C]), got shape %s", sh);
	n = in[0].rank == 3 ? (uint64_t)in[0].d[0] * in[0].d[1] : in[0].d[0];
	if (lc->kind == HGQ_LAYER_AVGPOOL && (n & (n - 1)) != 0)
		return conf_err(err, c, lc, "global average pooling over %"
		    PRIu64 " positions of %s: not a power of two (average "
		    "pooling divides by an exact shift)", n, sh);
	memset(out, 0, sizeof(*out));
	out->rank = 1;
	out->d[0] = in[0].d[in[0].rank - 1];
	return HGQ_OK;
}

/*
 * conf_shapes - the output shape of every item of the config on the
 * input shapes (model.inputs, or the data's for one input): out[j] for
 * item j.
 */
static int
conf_shapes(const struct hgq_config *c, const struct hgq_train_data *d,
    struct conf_shape *out, struct hgq_err *err)
{
	struct conf_shape in[HGQ_MAX_LAYER_INPUTS];
	uint32_t refs[HGQ_MAX_LAYER_INPUTS], n;
	int rc;

	for (uint32_t j = 0; j < c->model.n_layers; j++) {
		n = item_refs(c, j, refs);
		for (uint32_t q = 0; q < n; q++) {
			uint32_t r = refs[q];

			if (r & HGQ_REF_INPUT)
				conf_input_shape(c, d, r & ~HGQ_REF_INPUT,
				    &in[q]);
			else
				in[q] = out[r];
		}
		if ((rc = item_shape(c, &c->model.layers[j], n, in, &out[j],
		    err)) != HGQ_OK)
			return rc;
		if (shape_size(&out[j]) > HGQ_MAX_N) {
			char sh[64];

			return conf_err(err, c, &c->model.layers[j], "output "
			    "shape %s has more than %u elements", shape_text(sh,
			    sizeof(sh), out[j].rank, out[j].d), HGQ_MAX_N);
		}
	}
	return HGQ_OK;
}

/* the elements of the model outputs (hgq_train_data.n_out) */
static uint32_t
conf_n_out(const struct hgq_config *c, const struct conf_shape *sh)
{
	uint64_t n = 0;
	uint32_t n_outs = c->model.n_outputs;

	for (uint32_t q = 0; q < (n_outs == 0 ? 1 : n_outs); q++)
		n += shape_size(&sh[n_outs == 0 ? c->model.n_layers - 1 :
		    c->model.outputs[q]]);
	return n > HGQ_MAX_N ? HGQ_MAX_N + 1 : (uint32_t)n;
}

/* a quantizer reading layer src, or model input k (src HGQ_REF_INPUT|k) */
static struct hgq_layer *
add_quant(struct hgq_model *m, const struct conf_shape *s, uint32_t src,
    const struct hgq_qconf *q, struct hgq_err *err)
{
	struct hgq_layer *l;

	if ((l = hgq_model_add_shaped(m, HGQ_LAYER_QUANT, s->rank, s->d,
	    err)) == NULL)
		return NULL;
	if (src & HGQ_REF_INPUT) {
		l->n_in = l->n_out;
		l->inputs[0] = src;
	}
	set_quant(l, q, 1);
	return l;
}

/*
 * add_op - the operation layer of item lc reading the quantizer layers
 * src[0..n), of output shape *s, kernel/pool window win (the
 * global pools' whole input), or for a dense item on rank 2 or 3 a
 * convolution with a 1x1 kernel.
 */
static struct hgq_layer *
add_op(struct hgq_model *m, const struct hgq_config *c,
    const struct hgq_layer_conf *lc, uint32_t kind, uint32_t n,
    const uint32_t *src, const struct conf_shape *s, const uint32_t *win,
    struct hgq_err *err)
{
	struct hgq_err e2 = HGQ_ERR_INIT;
	struct hgq_layer *l;

	if ((l = hgq_model_add_shaped(m, kind, s->rank, s->d, &e2)) == NULL ||
	    hgq_layer_set_inputs(l, n, src, &e2) != HGQ_OK) {
		conf_err(err, c, lc, "%s", e2.msg);
		return NULL;
	}
	l->n_in = m->layers[src[0]].n_out;
	if (kind == HGQ_LAYER_CONV1D || kind == HGQ_LAYER_CONV2D ||
	    kind == HGQ_LAYER_MAXPOOL || kind == HGQ_LAYER_AVGPOOL) {
		memcpy(l->kernel, win, sizeof(l->kernel));
		memcpy(l->stride, lc->ndim != 0 ? lc->stride : win,
		    sizeof(l->stride));
	}
	if (kind == HGQ_LAYER_DENSE || kind == HGQ_LAYER_CONV1D ||
	    kind == HGQ_LAYER_CONV2D) {
		l->padding = (uint8_t)lc->padding;
		l->act = (uint8_t)lc->act;
		l->bn = lc->bn ? 1 : 0;
		l->w_gran = (uint8_t)c->q_weight.gran;
		l->b_gran = (uint8_t)(c->q_bias.gran == HGQ_GRAN_LAYER ?
		    HGQ_GRAN_LAYER : HGQ_GRAN_ELEMENT);
	}
	return l;
}

/*
 * add_item - the layers of item lc on the quantizers src[0..n) (shapes
 * in[]): its operation and its output quantizer; a global pool is the
 * pooling over the whole input, its quantizer, a flatten and its
 * quantizer.  The quantizer after flatten and max pooling is not
 * trainable: its exact format is the union of the formats that reach it
 * (an identity).  *op receives the operation layer's index.
 */
static int
add_item(struct hgq_model *m, const struct hgq_config *c,
    const struct hgq_layer_conf *lc, uint32_t n, const uint32_t *src,
    const struct conf_shape *in, const struct conf_shape *out,
    uint32_t *op, struct hgq_err *err)
{
	struct hgq_err e2 = HGQ_ERR_INIT;
	struct conf_shape ps = in[0];
	uint32_t kind = lc->kind, win[2], q;
	const uint32_t *wp = lc->kind == HGQ_LAYER_MAXPOOL ||
	    lc->kind == HGQ_LAYER_AVGPOOL ? lc->pool : lc->kernel;
	struct hgq_layer *l;

	if (kind == HGQ_LAYER_DENSE && in[0].rank > 1) {
		kind = in[0].rank == 2 ? HGQ_LAYER_CONV1D : HGQ_LAYER_CONV2D;
		win[0] = win[1] = 1;
		wp = win;
	}
	if (lc->ndim == 0 && (kind == HGQ_LAYER_MAXPOOL ||
	    kind == HGQ_LAYER_AVGPOOL)) {
		win[0] = in[0].rank == 3 ? in[0].d[0] : 1;
		win[1] = in[0].d[in[0].rank - 2];
		ps.d[0] = 1;
		ps.d[in[0].rank - 2] = 1;
		wp = win;
	} else {
		ps = *out;
	}
	*op = m->n_layers;
	if ((l = add_op(m, c, lc, kind, n, src, &ps, wp, err)) == NULL)
		return HGQ_EINVAL;
	if (kind == HGQ_LAYER_CONCAT)
		l->axis = (uint8_t)(lc->axis < 0 ? lc->axis + (int)in[0].rank :
		    lc->axis);
	if (kind == HGQ_LAYER_LUT)
		l->func = (uint8_t)lc->func;
	if ((l = add_quant(m, &ps, m->n_layers - 1, &c->q_act, &e2)) == NULL)
		return conf_err(err, c, lc, "%s", e2.msg);
	if (kind == HGQ_LAYER_FLATTEN || kind == HGQ_LAYER_MAXPOOL)
		l->trainable = 0;
	if (lc->ndim != 0 || (kind != HGQ_LAYER_MAXPOOL &&
	    kind != HGQ_LAYER_AVGPOOL))
		return HGQ_OK;
	q = m->n_layers - 1;
	if (add_op(m, c, lc, HGQ_LAYER_FLATTEN, 1, &q, out, wp, err) == NULL)
		return HGQ_EINVAL;
	if ((l = add_quant(m, out, m->n_layers - 1, &c->q_act, &e2)) == NULL)
		return conf_err(err, c, lc, "%s", e2.msg);
	l->trainable = 0;
	return HGQ_OK;
}

/* the flat chain of format 1.0: quantizer, then dense and quantizer */
static int
build_flat(struct hgq_model *m, const struct hgq_config *c,
    const struct hgq_train_data *d, uint32_t *ops, struct hgq_err *err)
{
	struct hgq_layer *l;
	uint32_t n_prev = d->n_raw;

	if ((l = hgq_model_add_layer(m, HGQ_LAYER_QUANT, n_prev, n_prev)) ==
	    NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	set_quant(l, &c->model.input, 0);
	for (uint32_t k = 0; k < c->model.n_layers; k++) {
		const struct hgq_layer_conf *lc = &c->model.layers[k];

		ops[k] = m->n_layers;
		if ((l = hgq_model_add_layer(m, HGQ_LAYER_DENSE, n_prev,
		    lc->units)) == NULL)
			return hgq_errf(err, HGQ_ENOMEM, "out of memory");
		l->act = (uint8_t)lc->act;
		l->bn = lc->bn ? 1 : 0;
		l->w_gran = (uint8_t)c->q_weight.gran;
		l->b_gran = (uint8_t)(c->q_bias.gran == HGQ_GRAN_LAYER ?
		    HGQ_GRAN_LAYER : HGQ_GRAN_ELEMENT);
		n_prev = lc->units;
		if ((l = hgq_model_add_layer(m, HGQ_LAYER_QUANT, n_prev,
		    n_prev)) == NULL)
			return hgq_errf(err, HGQ_ENOMEM, "out of memory");
		set_quant(l, &c->q_act, 0);
	}
	return HGQ_OK;
}

/* the named inputs and outputs of the config (format 1.2 ports) */
static void
set_ports(struct hgq_model *m, const struct hgq_config *c,
    const uint32_t *inq, const uint32_t *outq)
{
	m->n_in_ports = c->model.n_inputs;
	for (uint32_t k = 0; k < c->model.n_inputs; k++) {
		memcpy(m->in_ports[k].name, c->model.inputs[k].name,
		    sizeof(m->in_ports[k].name));
		m->in_ports[k].layer = inq[k];
	}
	m->n_out_ports = c->model.n_outputs;
	for (uint32_t q = 0; q < c->model.n_outputs; q++) {
		memcpy(m->out_ports[q].name,
		    c->model.layers[c->model.outputs[q]].name,
		    sizeof(m->out_ports[q].name));
		m->out_ports[q].layer = outq[c->model.outputs[q]];
	}
}

/*
 * build_layers - the layers of the config on the input shapes (the
 * data's for one input), without tensors: a quantizer per model input
 * (all first, in order), then per item its layers and its output
 * quantizer (add_item); a reference to an item reads that item's output
 * quantizer.  ops[j] receives the index of item j's operation layer.
 * A config of dense layers only (no data.input_shape, no graph) gives
 * the flat chain of format 1.0, as always; a chain of one input the
 * layers of format 1.1, each item checked as it is added.  Shapes that
 * do not fit are config errors at the item.
 */
static int
build_layers(struct hgq_model *m, const struct hgq_config *c,
    const struct hgq_train_data *d, uint32_t *ops, struct hgq_err *err)
{
	struct hgq_err e2 = HGQ_ERR_INIT;
	struct conf_shape sh[HGQ_MAX_CONF_LAYERS], in[HGQ_MAX_LAYER_INPUTS];
	uint32_t inq[HGQ_MAX_PORTS], outq[HGQ_MAX_CONF_LAYERS];
	uint32_t src[HGQ_MAX_LAYER_INPUTS], refs[HGQ_MAX_LAYER_INPUTS], n;
	uint32_t n_in = c->model.n_inputs == 0 ? 1 : c->model.n_inputs;
	int chain = conf_chain(c), rc;

	if (!conf_shaped(c))
		return build_flat(m, c, d, ops, err);
	if ((rc = conf_shapes(c, d, sh, err)) != HGQ_OK)
		return rc;
	for (uint32_t k = 0; k < n_in; k++) {
		conf_input_shape(c, d, k, &in[0]);
		inq[k] = m->n_layers;
		if (add_quant(m, &in[0], HGQ_REF_INPUT | k, &c->model.input,
		    err) == NULL)
			return err->code;
	}
	for (uint32_t j = 0; j < c->model.n_layers; j++) {
		const struct hgq_layer_conf *lc = &c->model.layers[j];

		n = item_refs(c, j, refs);
		for (uint32_t q = 0; q < n; q++) {
			uint32_t r = refs[q];

			src[q] = r & HGQ_REF_INPUT ? inq[r & ~HGQ_REF_INPUT] :
			    outq[r];
			memset(&in[q], 0, sizeof(in[q]));
			in[q].rank = hgq_layer_shape(&m->layers[src[q]],
			    in[q].d);
		}
		if ((rc = add_item(m, c, lc, n, src, in, &sh[j], &ops[j],
		    err)) != HGQ_OK)
			return rc;
		outq[j] = m->n_layers - 1;
		if (chain && hgq_model_validate_graph(m, &e2) != HGQ_OK)
			return conf_err(err, c, lc, "%s", e2.msg);
	}
	set_ports(m, c, inq, outq);
	if (hgq_model_validate_graph(m, &e2) != HGQ_OK)
		return hgq_errf(err, HGQ_EINVAL, "%s: model: %s",
		    c->path != NULL ? c->path : "config", e2.msg);
	return HGQ_OK;
}
/* f = init - log2|w|, the minimum over the elements sharing it */
static void
init_wfbits(float *f, size_t nf, const float *w, size_t nw, size_t OC,
    int gran, double init)
{
	for (size_t g = 0; g < nf; g++)
		f[g] = FBITS_HI;
	for (size_t e = 0; e < nw; e++) {
		size_t g = gran == HGQ_GRAN_ELEMENT ? e :
		    gran == HGQ_GRAN_CHANNEL ? e % OC : 0;
		float a = fabsf(w[e]);
		float v = a > 0 ? (float)init - log2f(a) : FBITS_HI;

		if (v < f[g])
			f[g] = v < FBITS_LO ? FBITS_LO : v;
	}
}

static int
quant_tensors(struct hgq_layer *l, const struct hgq_qconf *q, int optim,
    struct hgq_err *err)
{
	size_t nf = quant_nf(l);
	float f0 = (float)q->init_f;

	if (l->trainable) {
		if (add_param(l, HGQ_ROLE_ACT_FBITS, nf, f0, optim, err) ==
		    NULL)
			return HGQ_ENOMEM;
	} else if (add_filled(l, HGQ_ROLE_ACT_FBITS, nf, f0, err) == NULL) {
		return HGQ_ENOMEM;
	}
	if (add_filled(l, HGQ_ROLE_ACT_ISTATE, l->n_out, I_UNSET, err) ==
	    NULL || add_filled(l, HGQ_ROLE_ACT_KSTATE, l->n_out, 0, err) ==
	    NULL)
		return HGQ_ENOMEM;
	return HGQ_OK;
}

/*
 * mask_fill - the 0/1 mask of item lc over a [rows, units] weight matrix
 * (row-major, the layout of the weights): a band |i - j| <= B of a
 * square matrix, or an npy file of that shape holding only 0 and 1.
 */
static int
mask_fill(float *mask, const struct hgq_config *c,
    const struct hgq_layer_conf *lc, uint32_t rows, uint32_t units,
    struct hgq_err *err)
{
	struct hgq_err e2 = HGQ_ERR_INIT;
	struct hgq_table t;
	int rc = HGQ_OK;

	if (lc->mask == HGQ_MASK_BAND) {
		if (rows != units)
			return conf_err(err, c, lc, "mask band: the weights "
			    "are [%" PRIu32 ", %" PRIu32 "], not square (use "
			    "an npy mask)", rows, units);
		for (uint32_t i = 0; i < rows; i++)
			for (uint32_t j = 0; j < units; j++)
				mask[(size_t)i * units + j] = (i > j ? i - j :
				    j - i) <= lc->band ? 1.0f : 0.0f;
		return HGQ_OK;
	}
	if (hgq_table_load(lc->mask_path, NULL, &t, &e2) != HGQ_OK)
		return conf_err(err, c, lc, "mask: %s", e2.msg);
	if (t.n_rows != rows || t.n_cols != units) {
		rc = conf_err(err, c, lc, "mask '%s' is [%zu, %zu], the "
		    "weights are [%" PRIu32 ", %" PRIu32 "]", lc->mask_path,
		    t.n_rows, t.n_cols, rows, units);
		goto out;
	}
	for (size_t e = 0; e < t.n_rows * t.n_cols; e++) {
		if (t.x[e] != 0 && t.x[e] != 1) {
			rc = conf_err(err, c, lc, "mask '%s': row %zu column "
			    "%zu is %.17g, not 0 or 1", lc->mask_path,
			    e / units, e % units, t.x[e]);
			goto out;
		}
		mask[e] = (float)t.x[e];
	}
out:
	hgq_table_release(&t);
	return rc;
}

/*
 * add_masks - the HGQ_ROLE_MASK tensor of every item with a mask, in its
 * operation layer ops[j], before the weights exist (they are drawn 0
 * where the mask is 0, and the trainer keeps them there).
 */
static int
add_masks(struct hgq_model *m, const struct hgq_config *c,
    const uint32_t *ops, struct hgq_err *err)
{
	int rc;

	for (uint32_t j = 0; j < c->model.n_layers; j++) {
		const struct hgq_layer_conf *lc = &c->model.layers[j];
		struct hgq_layer *l = &m->layers[ops[j]];
		uint32_t units = hgq_layer_n_bias(m, ops[j]);
		uint32_t nw = (uint32_t)hgq_layer_n_weights(m, ops[j]);
		struct hgq_tensor *mt;

		if (lc->mask == HGQ_MASK_NONE)
			continue;
		if ((mt = hgq_layer_add_tensor(l, HGQ_ROLE_MASK, nw, err)) ==
		    NULL)
			return HGQ_ENOMEM;
		if ((rc = mask_fill(mt->data, c, lc, nw / units, units, err))
		    != HGQ_OK)
			return rc;
	}
	return HGQ_OK;
}

/*
 * hgq_train_init_tensors - the training tensors of every layer of m, in
 * layer order: f, integer-bit and sign states of the quantizers (a
 * model input's from model.input, the others' from quantizers.activation),
 * Glorot-uniform weights drawn from rng, zero biases, f of the weights
 * from their values, batchnorm's; masked weights are 0.
 */
int
hgq_train_init_tensors(struct hgq_model *m, const struct hgq_config *c,
    uint64_t rng[4], struct hgq_err *err)
{
	struct hgq_layer *l;
	int optim = c->train.optimizer;
	int rc;

	for (uint32_t j = 0; j < m->n_layers; j++) {
		struct hgq_tensor *w, *fw;
		const struct hgq_tensor *mask;
		size_t nw, nfw, OC;
		double lim;

		l = &m->layers[j];
		if (l->kind == HGQ_LAYER_QUANT) {
			if ((rc = quant_tensors(l, (hgq_layer_input(m, j, 0) &
			    HGQ_REF_INPUT) != 0 ? &c->model.input : &c->q_act,
			    optim, err)) != HGQ_OK)
				return rc;
			continue;
		}
		OC = hgq_layer_n_bias(m, j);
		if (OC == 0)
			continue;	/* pooling, flatten, add, ... */
		nw = (size_t)hgq_layer_n_weights(m, j);
		nfw = l->w_gran == HGQ_GRAN_ELEMENT ? nw :
		    l->w_gran == HGQ_GRAN_CHANNEL ? OC : 1;
		/*
		 * Glorot uniform, as Keras: fan in + fan out is n_in + n_out
		 * for Dense, KH*KW*(C_in + C_out) for a convolution.
		 */
		if (l->kind == HGQ_LAYER_DENSE)
			lim = sqrt(6.0 / (double)(l->n_in + l->n_out));
		else
			lim = sqrt(6.0 / ((double)nw / (double)OC +
			    (double)l->kernel[0] * l->kernel[1] *
			    (double)OC));
		if ((w = add_param(l, HGQ_ROLE_WEIGHT, nw, 0, optim, err)) ==
		    NULL)
			goto nomem;
		for (size_t e = 0; e < nw; e++)
			w->data[e] = (float)((2 * hgq_rng_uniform(rng) - 1) *
			    lim);
		if ((mask = hgq_layer_tensor(l, HGQ_ROLE_MASK)) != NULL &&
		    mask->n == nw)
			for (size_t e = 0; e < nw; e++)
				w->data[e] = mask->data[e] != 0.0f ?
				    w->data[e] : 0.0f;
		if (add_param(l, HGQ_ROLE_BIAS, OC, 0, optim, err) == NULL ||
		    (fw = add_param(l, HGQ_ROLE_WEIGHT_FBITS, nfw, 0, optim,
		    err)) == NULL ||
		    add_param(l, HGQ_ROLE_BIAS_FBITS, l->b_gran ==
		    HGQ_GRAN_LAYER ? 1 : OC, (float)c->q_bias.init_f, optim,
		    err) == NULL)
			goto nomem;
		w = hgq_layer_tensor(l, HGQ_ROLE_WEIGHT);
		fw = hgq_layer_tensor(l, HGQ_ROLE_WEIGHT_FBITS);
		init_wfbits(fw->data, nfw, w->data, nw, OC, l->w_gran,
		    c->q_weight.init_f);
		if (l->bn && (add_param(l, HGQ_ROLE_BN_GAMMA, OC, 1, optim,
		    err) == NULL || add_filled(l, HGQ_ROLE_BN_MEAN, OC, 0,
		    err) == NULL || add_filled(l, HGQ_ROLE_BN_VAR, OC, 1,
		    err) == NULL))
			goto nomem;
	}
	return HGQ_OK;
nomem:
	return hgq_errf(err, HGQ_ENOMEM, "out of memory");
}

int
hgq_train_model_new(struct hgq_model **out, const struct hgq_config *c,
    const struct hgq_train_data *d, struct hgq_err *err)
{
	struct hgq_model *m;
	uint64_t rng[4];
	uint32_t ops[HGQ_MAX_CONF_LAYERS];
	int rc = HGQ_ENOMEM;

	*out = NULL;
	if ((m = hgq_model_new()) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	m->task = d->task;
	hgq_rng_seed(rng, c->seed);
	if ((rc = build_layers(m, c, d, ops, err)) != HGQ_OK)
		goto fail;
	if ((rc = hgq_model_set_input(m, d->n_raw, err)) != HGQ_OK)
		goto fail;
	if ((rc = add_masks(m, c, ops, err)) != HGQ_OK)
		goto fail;
	if ((rc = hgq_train_init_tensors(m, c, rng, err)) != HGQ_OK)
		goto fail;
	/* normalisation, fitted on the training split */
	m->norm = (uint32_t)c->data.normalize;
	m->norm_offset = hgq_calloc(d->n_raw, sizeof(double));
	m->norm_scale = hgq_calloc(d->n_raw, sizeof(double));
	if (m->norm_offset == NULL || m->norm_scale == NULL)
		goto nomem;
	for (uint32_t k = 0; k < d->n_raw; k++) {
		m->norm_offset[k] = 0;
		m->norm_scale[k] = c->data.normalize == HGQ_NORM_SCALE ?
		    c->data.scale : 1.0;
	}
	if (c->data.normalize == HGQ_NORM_STANDARD) {
		for (uint32_t k = 0; k < d->n_raw; k++) {
			double s = 0, ss = 0, mu, sd;

			for (size_t r = 0; r < d->n_train; r++)
				s += d->x_train[r * d->n_raw + k];
			mu = s / (double)d->n_train;
			for (size_t r = 0; r < d->n_train; r++) {
				double v = d->x_train[r * d->n_raw + k] - mu;

				ss += v * v;
			}
			sd = sqrt(ss / (double)d->n_train);
			m->norm_offset[k] = mu;
			m->norm_scale[k] = sd > 0 ? 1.0 / sd : 1.0;
		}
	}
	m->has_train = 1;
	m->train.epoch = 0;
	m->train.step = 0;
	memcpy(m->train.rng, rng, sizeof(rng));
	if ((rc = hgq_meta_set(m, "tool", "hgq-train " HGQ_VERSION, err)) !=
	    HGQ_OK || (c->text != NULL && (rc = hgq_meta_set(m, "config",
	    c->text, err)) != HGQ_OK))
		goto fail;
	*out = m;
	return HGQ_OK;
nomem:
	rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
fail:
	hgq_model_free(m);
	return rc;
}

/* do layers j of a and b (built from a config) agree on the structure? */
static int
layer_same(const struct hgq_model *a, const struct hgq_model *b, uint32_t j)
{
	const struct hgq_layer *la = &a->layers[j], *lb = &b->layers[j];
	uint32_t da[HGQ_MAX_RANK], db[HGQ_MAX_RANK];
	uint32_t ra = hgq_layer_shape(la, da), rb = hgq_layer_shape(lb, db);

	if (la->kind != lb->kind || la->n_in != lb->n_in ||
	    la->n_out != lb->n_out || ra != rb ||
	    memcmp(da, db, sizeof(da)) != 0 ||
	    memcmp(la->kernel, lb->kernel, sizeof(la->kernel)) != 0 ||
	    memcmp(la->stride, lb->stride, sizeof(la->stride)) != 0 ||
	    la->padding != lb->padding || la->axis != lb->axis ||
	    la->func != lb->func || (la->kind != HGQ_LAYER_QUANT &&
	    (la->act != lb->act || la->bn != lb->bn)) ||
	    (la->kind == HGQ_LAYER_QUANT && la->trainable != lb->trainable) ||
	    hgq_layer_n_inputs(la) != hgq_layer_n_inputs(lb))
		return 0;
	for (uint32_t q = 0; q < hgq_layer_n_inputs(la); q++)
		if (hgq_layer_input(a, j, q) != hgq_layer_input(b, j, q))
			return 0;
	return 1;
}

static int
ports_same(const struct hgq_model *a, const struct hgq_model *b)
{
	if (a->n_in_ports != b->n_in_ports ||
	    a->n_out_ports != b->n_out_ports)
		return 0;
	for (uint32_t k = 0; k < a->n_in_ports && k < HGQ_MAX_PORTS; k++)
		if (a->in_ports[k].layer != b->in_ports[k].layer ||
		    strcmp(a->in_ports[k].name, b->in_ports[k].name) != 0)
			return 0;
	for (uint32_t k = 0; k < a->n_out_ports && k < HGQ_MAX_PORTS; k++)
		if (a->out_ports[k].layer != b->out_ports[k].layer ||
		    strcmp(a->out_ports[k].name, b->out_ports[k].name) != 0)
			return 0;
	return 1;
}

int
hgq_train_model_check(const struct hgq_model *m, const struct hgq_config *c,
    const struct hgq_train_data *d, struct hgq_err *err)
{
	struct hgq_model *want;
	uint32_t ops[HGQ_MAX_CONF_LAYERS];
	int rc = HGQ_OK;

	if (!m->has_train)
		return hgq_errf(err, HGQ_EINVAL, "the model has no training "
		    "state");
	if (m->n_raw != d->n_raw || hgq_model_n_in(m) != d->n_raw)
		return hgq_errf(err, HGQ_EINVAL, "the model takes %" PRIu32
		    " features, data.train_x of %s has %" PRIu32, m->n_raw,
		    c->path != NULL ? c->path : "the config", d->n_raw);
	if (m->task != (uint32_t)d->task)
		return hgq_errf(err, HGQ_EINVAL, "the model's task does not "
		    "match train.loss");
	/* the layers the config gives, compared field by field */
	if ((want = hgq_model_new()) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	if ((rc = build_layers(want, c, d, ops, err)) != HGQ_OK)
		goto out;
	if (!ports_same(m, want)) {
		rc = hgq_errf(err, HGQ_EINVAL, "the model's inputs or outputs "
		    "differ from the config's");
		goto out;
	}
	if (m->n_layers != want->n_layers) {
		rc = hgq_errf(err, HGQ_EINVAL, "the model has %" PRIu32
		    " layers, the config describes %" PRIu32, m->n_layers,
		    want->n_layers);
		goto out;
	}
	for (uint32_t j = 0; j < m->n_layers; j++) {
		if (!layer_same(m, want, j)) {
			rc = hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 " (%s) "
			    "of the model differs from the config's", j,
			    hgq_layer_kind_name(m->layers[j].kind));
			goto out;
		}
	}
out:
	hgq_model_free(want);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The exact fixed-point part                                          */
/* ------------------------------------------------------------------ */

static const float *
tensor_data(const struct hgq_layer *l, uint32_t role, size_t n)
{
	const struct hgq_tensor *t = hgq_layer_tensor(l, role);

	return t != NULL && t->n == n ? t->data : NULL;
}

/*
 * ident_op - the flatten or max pool that quantizer j, an identity
 * quantizer (not trainable), reads; 0 when it is not one.
 */
static uint32_t
ident_op(const struct hgq_model *m, uint32_t j)
{
	const struct hgq_layer *l = &m->layers[j];
	uint32_t op = hgq_layer_input(m, j, 0);

	if (l->kind != HGQ_LAYER_QUANT || l->trainable ||
	    (op & HGQ_REF_INPUT) != 0 || op >= j)
		return 0;
	return m->layers[op].kind == HGQ_LAYER_FLATTEN ||
	    m->layers[op].kind == HGQ_LAYER_MAXPOOL ? op : 0;
}

int
hgq_lut_fcap(float istate, float kstate)
{
	if (istate <= I_UNSET)
		return INT_MAX;
	return HGQ_MAX_LUT_BITS - (kstate > 0) - (int)ceilf(istate);
}

int
hgq_quant_feeds_lut(const struct hgq_model *m, uint32_t j)
{
	for (uint32_t l = j + 1; l < m->n_layers; l++) {
		uint32_t q, op;

		if (m->layers[l].kind != HGQ_LAYER_LUT)
			continue;
		q = hgq_layer_input(m, l, 0);
		op = ident_op(m, q);
		if ((op != 0 ? hgq_layer_input(m, op, 0) : q) == j)
			return 1;
	}
	return 0;
}

/*
 * lut_cap - quantizer j's f, as training used it: within the table
 * width for the quantizers a lookup table reads (hgq_lut_fcap, from the
 * tracked integer bits and sign of each element).
 */
static void
lut_cap(struct hgq_model *m, uint32_t j)
{
	struct hgq_layer *l = &m->layers[j];
	const float *is = tensor_data(l, HGQ_ROLE_ACT_ISTATE, l->n_out);
	const float *ks = tensor_data(l, HGQ_ROLE_ACT_KSTATE, l->n_out);

	if (is == NULL || ks == NULL || !hgq_quant_feeds_lut(m, j))
		return;
	for (uint32_t e = 0; e < l->n_out; e++) {
		int cap = hgq_lut_fcap(is[e], ks[e]);

		if (l->f[e] > cap)
			l->f[e] = (int8_t)cap;
	}
}

/*
 * ident_f - the f of the identity quantizer j after a flatten or max
 * pool (layer op): the largest f of the elements that reach each
 * element (the union of their formats; calibration sets k and i).
 */
static int
ident_f(struct hgq_model *m, uint32_t j, uint32_t op, struct hgq_err *err)
{
	struct hgq_layer *l = &m->layers[j];
	const struct hgq_layer *src = &m->layers[hgq_layer_input(m, op, 0)];
	struct hgq_window w;
	uint32_t *idx;
	int rc;

	for (uint32_t e = 0; e < l->n_out; e++) {
		l->k[e] = 0;
		l->i[e] = 0;
	}
	if (m->layers[op].kind == HGQ_LAYER_FLATTEN) {
		memcpy(l->f, src->f, l->n_out);
		return HGQ_OK;
	}
	if ((rc = hgq_layer_window(m, op, &w, err)) != HGQ_OK)
		return rc;
	if ((idx = hgq_calloc(w.n_taps, sizeof(*idx))) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	for (uint32_t p = 0; p < w.n_pos; p++) {
		hgq_window_taps(&w, p, idx);
		for (uint32_t c = 0; c < w.out_c; c++) {
			int f = INT8_MIN;

			for (uint32_t t = c; t < w.n_taps; t += w.in_c)
				if (idx[t] != HGQ_TAP_PAD &&
				    src->f[idx[t]] > f)
					f = src->f[idx[t]];
			l->f[p * w.out_c + c] = (int8_t)f;
		}
	}
	free(idx);
	return HGQ_OK;
}

/* RND(v 2^F) as an int32 mantissa; 0 on overflow with *ok cleared */
static int32_t
mantissa(float v, int F, int *ok)
{
	double x = ldexp((double)v, F), r = floor(x);

	if (x - r >= 0.5)
		r += 1;
	if (!(fabs(r) <= 2147483647.0)) {
		*ok = 0;
		return 0;
	}
	return (int32_t)r;
}

int
hgq_train_export_fixed(struct hgq_model *m, struct hgq_err *err)
{
	int rc;

	m->calibrated = 0;
	for (uint32_t j = 0; j < m->n_layers; j++) {
		struct hgq_layer *l = &m->layers[j];
		size_t OC = hgq_layer_n_bias(m, j);
		size_t nw = (size_t)hgq_layer_n_weights(m, j);

		if ((l->kind == HGQ_LAYER_QUANT && l->k == NULL) ||
		    (OC > 0 && l->w_m == NULL))
			if ((rc = hgq_model_alloc_fixed(m, j, err)) != HGQ_OK)
				return rc;
		if (ident_op(m, j) != 0) {
			if ((rc = ident_f(m, j, ident_op(m, j), err)) !=
			    HGQ_OK)
				return rc;
		} else if (l->kind == HGQ_LAYER_QUANT) {
			size_t nf = quant_nf(l), C = nf;
			const float *f = tensor_data(l, HGQ_ROLE_ACT_FBITS,
			    nf);

			if (f == NULL)
				return hgq_errf(err, HGQ_EINVAL, "layer %"
				    PRIu32 ": no f parameters", j);
			for (size_t e = 0; e < l->n_out; e++) {
				l->f[e] = (int8_t)hgq_round_bits(f[nf == 1 ?
				    0 : e % C]);
				l->k[e] = 0;
				l->i[e] = 0;
			}
			lut_cap(m, j);
		} else if (OC > 0) {
			size_t nfw = l->w_gran == HGQ_GRAN_ELEMENT ? nw :
			    l->w_gran == HGQ_GRAN_CHANNEL ? OC : 1;
			size_t nfb = l->b_gran == HGQ_GRAN_LAYER ? 1 : OC;
			const float *w = tensor_data(l, HGQ_ROLE_WEIGHT, nw);
			const float *b = tensor_data(l, HGQ_ROLE_BIAS, OC);
			const float *fw = tensor_data(l,
			    HGQ_ROLE_WEIGHT_FBITS, nfw);
			const float *fb = tensor_data(l, HGQ_ROLE_BIAS_FBITS,
			    nfb);
			const float *g = NULL, *mm = NULL, *mv = NULL;
			int ok = 1;

			if (w == NULL || b == NULL || fw == NULL || fb == NULL)
				return hgq_errf(err, HGQ_EINVAL, "layer %"
				    PRIu32 ": training tensors missing", j);
			if (l->bn) {
				g = tensor_data(l, HGQ_ROLE_BN_GAMMA, OC);
				mm = tensor_data(l, HGQ_ROLE_BN_MEAN, OC);
				mv = tensor_data(l, HGQ_ROLE_BN_VAR, OC);
				if (g == NULL || mm == NULL || mv == NULL)
					return hgq_errf(err, HGQ_EINVAL,
					    "layer %" PRIu32 ": batchnorm "
					    "tensors missing", j);
			}
			/* eval-mode fusion (7.1): K s and b - mean s */
			for (size_t e = 0; e < nw; e++) {
				size_t jj = e % OC;
				size_t gi = l->w_gran == HGQ_GRAN_ELEMENT ? e :
				    l->w_gran == HGQ_GRAN_CHANNEL ? jj : 0;
				int F = hgq_round_bits(fw[gi]);
				float v = w[e];

				if (l->bn)
					v *= g[jj] / sqrtf(mv[jj] + BN_EPS);
				l->w_m[e] = mantissa(v, F, &ok);
				l->w_f[e] = (int8_t)F;
			}
			for (size_t e = 0; e < OC; e++) {
				int F = hgq_round_bits(fb[nfb == 1 ? 0 : e]);
				float v = b[e];

				if (l->bn)
					v -= mm[e] * (g[e] / sqrtf(mv[e] +
					    BN_EPS));
				l->b_m[e] = mantissa(v, F, &ok);
				l->b_f[e] = (int8_t)F;
			}
			if (!ok)
				return hgq_errf(err, HGQ_ERANGE, "layer %"
				    PRIu32 ": a weight or bias does not fit "
				    "32 bits (the training diverged)", j);
		}
	}
	return HGQ_OK;
}

int
hgq_train_export(struct hgq_model *m, const double *x, size_t n, int threads,
    struct hgq_err *err)
{
	int rc;

	if ((rc = hgq_train_export_fixed(m, err)) != HGQ_OK)
		return rc;
	return hgq_calibrate(m, x, n, threads, err);
}

/* the model's exact outputs on x, scored by the evaluator of hgq-sim */
int
hgq_eval_exact(const struct hgq_model *m, const double *x, const double *y,
    size_t n, int threads, double *metric, struct hgq_err *err)
{
	struct hgq_engine *e = NULL;
	struct hgq_eval ev;
	int64_t *out = NULL;
	double *val = NULL;
	uint32_t no, nr;
	int rc;

	memset(&ev, 0, sizeof(ev));
	if ((rc = hgq_engine_new(&e, m, err)) != HGQ_OK)
		return rc;
	no = hgq_engine_n_out(e);
	nr = hgq_engine_n_in(e);
	if ((rc = hgq_eval_init(&ev, no, (int)m->task, 1, err)) != HGQ_OK)
		goto out;
	out = hgq_calloc((size_t)EVAL_CHUNK * no, sizeof(*out));
	val = hgq_calloc((size_t)EVAL_CHUNK * no, sizeof(*val));
	if (out == NULL || val == NULL) {
		rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t r0 = 0; r0 < n; r0 += EVAL_CHUNK) {
		size_t k = n - r0 < EVAL_CHUNK ? n - r0 : EVAL_CHUNK;

		if ((rc = hgq_engine_run(e, x + r0 * nr, k, out, NULL,
		    threads)) != HGQ_OK) {
			hgq_errf(err, rc, "out of memory");
			goto out;
		}
		for (size_t r = 0; r < k; r++)
			for (uint32_t j = 0; j < no; j++)
				val[r * no + j] = ldexp((double)out[r * no +
				    j], -hgq_engine_out_f(e, j));
		if ((rc = hgq_eval_add(&ev, val, y + r0 * (ev.classify ? 1 :
		    no), k, "labels", err)) != HGQ_OK)
			goto out;
	}
	*metric = hgq_eval_metric(&ev);
out:
	hgq_eval_release(&ev);
	free(out);
	free(val);
	hgq_engine_free(e);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Pareto front                                                        */
/* ------------------------------------------------------------------ */

int
hgq_pareto_add(struct hgq_pareto *p, double metric, uint64_t ebops,
    uint32_t epoch, const char *tag, char **removed, size_t *n_removed,
    struct hgq_err *err)
{
	struct hgq_pareto_point *pts;
	size_t k = 0;
	char *dup;

	*n_removed = 0;
	for (size_t j = 0; j < p->n; j++)
		if (p->pts[j].metric >= metric && p->pts[j].ebops <= ebops)
			return 0;	/* dominated or equal */
	if ((dup = strdup(tag)) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	pts = hgq_reallocarray(p->pts, p->n + 1, sizeof(*pts));
	if (pts == NULL) {
		free(dup);
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	}
	p->pts = pts;
	for (size_t j = 0; j < p->n; j++) {
		if (metric >= pts[j].metric && ebops <= pts[j].ebops)
			removed[(*n_removed)++] = pts[j].tag;
		else
			pts[k++] = pts[j];
	}
	pts[k].metric = metric;
	pts[k].ebops = ebops;
	pts[k].epoch = epoch;
	pts[k].tag = dup;
	p->n = k + 1;
	return 1;
}

void
hgq_pareto_release(struct hgq_pareto *p)
{
	for (size_t j = 0; j < p->n; j++)
		free(p->pts[j].tag);
	free(p->pts);
	p->pts = NULL;
	p->n = 0;
}

/* ------------------------------------------------------------------ */
/* The loop                                                            */
/* ------------------------------------------------------------------ */

void
hgq_train_params_init(struct hgq_train_params *p)
{
	memset(p, 0, sizeof(*p));
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* the normalised float copy of the raw training rows */
static float *
normalise(const struct hgq_model *m, const double *x, size_t n)
{
	size_t nr = m->n_raw;
	float *f = hgq_calloc(n * nr, sizeof(*f));

	if (f == NULL)
		return NULL;
	for (size_t r = 0; r < n; r++)
		for (size_t k = 0; k < nr; k++) {
			double v = x[r * nr + k];

			if (m->norm_offset != NULL)
				v = (v - m->norm_offset[k]) * m->norm_scale[k];
			f[r * nr + k] = (float)v;
		}
	return f;
}

/* append a formatted row to a growing string */
static int
appendf(char **s, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
appendf(char **s, size_t *len, const char *fmt, ...)
{
	char buf[512], *t;
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= sizeof(buf))
		return HGQ_EINVAL;
	if ((t = realloc(*s, *len + (size_t)k + 1)) == NULL)
		return HGQ_ENOMEM;
	memcpy(t + *len, buf, (size_t)k + 1);
	*s = t;
	*len += (size_t)k;
	return HGQ_OK;
}

static int
set_num(struct hgq_model *m, const char *key, const char *fmt, double v,
    struct hgq_err *err)
{
	char buf[64];

	snprintf(buf, sizeof(buf), fmt, v);
	return hgq_meta_set(m, key, buf, err);
}

/* drop a metadata entry (the model is plain data) */
static void
meta_remove(struct hgq_model *m, const char *key)
{
	for (uint32_t j = 0; j < m->n_meta; j++)
		if (strcmp(m->meta[j].key, key) == 0) {
			free(m->meta[j].key);
			free(m->meta[j].value);
			memmove(&m->meta[j], &m->meta[j + 1],
			    (m->n_meta - j - 1) * sizeof(m->meta[0]));
			m->n_meta--;
			return;
		}
}

static int
params_finite(struct hgq_trainer *t)
{
	const float *p = hgq_trainer_params(t);
	size_t n = hgq_trainer_n_params(t);

	for (size_t j = 0; j < n; j++)
		if (!isfinite(p[j]))
			return 0;
	return 1;
}

int
hgq_train(struct hgq_model *m, const struct hgq_config *c,
    const struct hgq_train_data *d, const struct hgq_train_params *p,
    struct hgq_train_result *res, struct hgq_err *err)
{
	struct hgq_trainer *t = NULL;
	float *xf = NULL;
	uint32_t *perm = NULL;
	char *metrics = NULL;
	size_t mlen = 0, bs = c->train.batch_size, spe, done;
	uint64_t rng[4], rng_start[4];
	uint32_t e, e0 = m->train.epoch;
	double p_loss = 0, p_ebt = 0;
	size_t p_correct = 0, p_seen = 0;
	int classify = d->task == HGQ_TASK_CLASSIFY;
	int threads, rc, good_epoch = m->calibrated;
	const char *old;
	struct hgq_betactl bc;
	int steer = c->train.target_ebops > 0;
	char bcbuf[HGQ_BETACTL_TEXT];

	memset(res, 0, sizeof(*res));
	res->test_metric = NAN;
	if (d->n_train == 0 || bs == 0)
		return hgq_errf(err, HGQ_EINVAL, "no training rows");
	/* rows of n_raw columns; targets: every output's columns */
	if (d->n_raw != m->n_raw)
		return hgq_errf(err, HGQ_EINVAL, "the model takes %" PRIu32
		    " columns, the data have %" PRIu32, m->n_raw, d->n_raw);
	if (!classify && d->n_out != hgq_model_n_out(m))
		return hgq_errf(err, HGQ_EINVAL, "the model has %" PRIu32
		    " outputs, the targets %" PRIu32 " columns",
		    hgq_model_n_out(m), d->n_out);
	if ((rc = hgq_trainer_new(&t, m, c, p->threads, err)) != HGQ_OK)
		return rc;
	threads = hgq_trainer_threads(t);
	spe = (d->n_train + bs - 1) / bs;
	if (m->train.step < (uint64_t)e0 * spe ||
	    m->train.step - (uint64_t)e0 * spe >= spe) {
		rc = hgq_errf(err, HGQ_EINVAL, "the model stopped at step %"
		    PRIu64 " of epoch %" PRIu32 ", which does not fit %zu "
		    "steps an epoch (a different batch size or data?)",
		    m->train.step, e0 + 1, spe);
		goto out;
	}
	done = (size_t)(m->train.step - (uint64_t)e0 * spe);
	memcpy(rng, m->train.rng, sizeof(rng));
	/* the config in force (a resumed run may extend the epochs) */
	if (c->text != NULL && (rc = hgq_meta_set(m, "config", c->text,
	    err)) != HGQ_OK)
		goto out;
	xf = normalise(m, d->x_train, d->n_train);
	perm = hgq_calloc(d->n_train, sizeof(*perm));
	if (xf == NULL || perm == NULL) {
		rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		goto out;
	}
	if ((old = hgq_meta_get(m, "metrics")) != NULL) {
		metrics = strdup(old);
		mlen = metrics != NULL ? strlen(metrics) : 0;
		rc = HGQ_OK;
	} else {
		rc = appendf(&metrics, &mlen, "# epoch\tloss\t%s\tebops\t"
		    "ebops_train\tbeta\tlr\n", classify ?
		    "train_acc\tval_acc" : "val_mse");
	}
	if (rc != HGQ_OK || metrics == NULL) {
		rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		goto out;
	}
	res->epochs_done = e0;
	/*
	 * An interrupted epoch left its running sums in the model, so that
	 * its metrics row comes out as in an uninterrupted run.
	 */
	if ((old = hgq_meta_get(m, "partial_epoch")) != NULL) {
		if (done > 0 && sscanf(old, "%la %zu %zu %la", &p_loss,
		    &p_correct, &p_seen, &p_ebt) != 4)
			p_loss = p_ebt = 0, p_correct = p_seen = 0;
		meta_remove(m, "partial_epoch");
	}
	/* beta steered to train.target_ebops: the controller's state is kept
	   in the model, so that a resumed run continues it exactly */
	if (steer) {
		hgq_betactl_init(&bc, c->train.target_ebops, hgq_sched_value(
		    c->train.beta, c->train.n_beta, e0), c->train.epochs);
		if ((old = hgq_meta_get(m, "beta_control")) != NULL &&
		    !hgq_betactl_parse(&bc, old)) {
			rc = hgq_errf(err, HGQ_EFORMAT, "the model's "
			    "beta_control metadata is not a controller state");
			goto out;
		}
		bc.target = c->train.target_ebops;
	} else {
		meta_remove(m, "beta_control");
	}
	for (e = e0; e < c->train.epochs; e++) {
		struct hgq_train_epoch ep;
		struct hgq_step_stats st;
		double loss = p_loss, ebt = p_ebt, t0 = now(), metric;
		size_t correct = p_correct, seen = p_seen;
		double beta = steer ? bc.beta :
		    hgq_sched_value(c->train.beta, c->train.n_beta, e);
		double lr = hgq_lr_value(c, e);

		/* this epoch's shuffle; the state before it is kept so that
		   an interrupted epoch can be replayed */
		memcpy(rng_start, rng, sizeof(rng));
		for (size_t r = 0; r < d->n_train; r++)
			perm[r] = (uint32_t)r;
		for (size_t r = d->n_train - 1; r > 0; r--) {
			size_t k = (size_t)hgq_rng_below(rng, r + 1);
			uint32_t tmp = perm[r];

			perm[r] = perm[k];
			perm[k] = tmp;
		}
		for (size_t s = done; s < spe; s++) {
			size_t r0 = s * bs;
			size_t n = d->n_train - r0 < bs ? d->n_train - r0 : bs;
			struct hgq_err e2 = HGQ_ERR_INIT;

			rc = hgq_trainer_step(t, xf, d->y_train, perm + r0, n,
			    beta, lr, 1, NULL, &st, &e2);
			if (rc == HGQ_ERANGE)
				goto diverged;
			if (rc != HGQ_OK) {
				rc = hgq_errf(err, rc, "%s", e2.msg);
				goto out;
			}
			loss += st.loss;
			correct += st.n_correct;
			seen += n;
			ebt = st.ebops;
			if (steer)
				beta = hgq_betactl_step(&bc, st.ebops,
				    e + (double)(s + 1) / (double)spe, spe);
			if (p->on_step != NULL)
				p->on_step(s + 1, spe, p->arg);
			if (p->should_stop != NULL && p->should_stop(p->arg) &&
			    s + 1 < spe) {
				char buf[256];

				snprintf(buf, sizeof(buf), "%a %zu %zu %a",
				    loss, correct, seen, ebt);
				if ((rc = hgq_meta_set(m, "partial_epoch",
				    buf, err)) != HGQ_OK)
					goto out;
				if (steer) {
					hgq_betactl_format(&bc, bcbuf);
					if ((rc = hgq_meta_set(m,
					    "beta_control", bcbuf, err)) !=
					    HGQ_OK)
						goto out;
				}
				hgq_trainer_sync(t);
				m->train.epoch = e;
				memcpy(m->train.rng, rng_start, sizeof(rng));
				res->interrupted = 1;
				rc = hgq_train_export(m, d->x_train,
				    d->n_train, threads, err);
				goto out;
			}
		}
		done = 0;
		p_loss = p_ebt = 0;
		p_correct = p_seen = 0;
		if (!params_finite(t))
			goto diverged;
		memset(&ep, 0, sizeof(ep));
		ep.seconds = now() - t0;
		hgq_trainer_sync(t);
		m->train.epoch = e + 1;
		memcpy(m->train.rng, rng, sizeof(rng));
		if ((rc = hgq_train_export(m, d->x_train, d->n_train, threads,
		    err)) != HGQ_OK)
			goto out;
		good_epoch = 1;
		if ((rc = hgq_eval_exact(m, d->x_val, d->y_val, d->n_val,
		    threads, &metric, err)) != HGQ_OK)
			goto out;
		ep.epoch = e + 1;
		ep.epochs = c->train.epochs;
		ep.loss = seen > 0 ? loss / (double)seen : NAN;
		ep.train_acc = classify && seen > 0 ? (double)correct /
		    (double)seen : NAN;
		ep.val_metric = metric;
		ep.ebops = hgq_ebops_total(m);
		ep.ebops_train = ebt;
		if (steer) {
			hgq_betactl_epoch(&bc, ep.ebops, ebt);
			hgq_betactl_format(&bc, bcbuf);
			if ((rc = hgq_meta_set(m, "beta_control", bcbuf,
			    err)) != HGQ_OK)
				goto out;
		}
		ep.beta = beta;
		ep.lr = lr;
		ep.samples_per_s = ep.seconds > 0 ? (double)seen /
		    ep.seconds : 0;
		ep.model = m;
		if (classify)
			rc = appendf(&metrics, &mlen, "%" PRIu32 "\t%.6f\t"
			    "%.6f\t%.6f\t%" PRIu64 "\t%.1f\t%.6g\t%.6g\n",
			    e + 1, ep.loss, ep.train_acc, metric, ep.ebops,
			    ebt, beta, lr);
		else
			rc = appendf(&metrics, &mlen, "%" PRIu32 "\t%.6g\t"
			    "%.6g\t%" PRIu64 "\t%.1f\t%.6g\t%.6g\n", e + 1,
			    ep.loss, metric, ep.ebops, ebt, beta, lr);
		if (rc != HGQ_OK || (rc = hgq_meta_set(m, "metrics", metrics,
		    err)) != HGQ_OK || (rc = set_num(m, "epoch", "%.0f",
		    e + 1, err)) != HGQ_OK || (rc = set_num(m, classify ?
		    "val_accuracy" : "val_mse", "%.17g", metric, err)) !=
		    HGQ_OK || (rc = set_num(m, "ebops", "%.0f",
		    (double)ep.ebops, err)) != HGQ_OK) {
			rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
			goto out;
		}
		res->epochs_done = e + 1;
		if (p->on_epoch != NULL && (rc = p->on_epoch(&ep, p->arg,
		    err)) != HGQ_OK)
			goto out;
		if (p->should_stop != NULL && p->should_stop(p->arg) &&
		    e + 1 < c->train.epochs) {
			res->interrupted = 1;
			goto out;
		}
	}
	if (!m->calibrated && (rc = hgq_train_export(m, d->x_train,
	    d->n_train, threads, err)) != HGQ_OK)
		goto out;
	if (d->x_test != NULL) {
		if ((rc = hgq_eval_exact(m, d->x_test, d->y_test, d->n_test,
		    threads, &res->test_metric, err)) != HGQ_OK ||
		    (rc = set_num(m, classify ? "test_accuracy" : "test_mse",
		    "%.17g", res->test_metric, err)) != HGQ_OK)
			goto out;
	}
	res->ebops = hgq_ebops_total(m);
	rc = HGQ_OK;
	goto out;
diverged:
	res->diverged = 1;
	{
		/* m still holds the last good state: make it whole */
		uint32_t last = m->train.epoch;

		if (!good_epoch && hgq_train_export(m, d->x_train, d->n_train,
		    threads, NULL) != HGQ_OK)
			m->calibrated = 0;
		rc = hgq_errf(err, HGQ_ERANGE, "training diverged in epoch %"
		    PRIu32 " (the loss is not finite); keeping the model of "
		    "epoch %" PRIu32, e + 1, last);
	}
out:
	free(metrics);
	free(perm);
	free(xf);
	hgq_trainer_free(t);
	return rc;
}
