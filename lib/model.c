/*
 * model.c - the model object: lifecycle, layers, float tensors, metadata,
 * structural validation and deep copy.
 *
 * A model is plain data (hgq.h).  Every pointer in it is owned by the
 * model and released by hgq_model_free(); the array lengths are implied
 * by the shapes:
 *
 *   index_map                 hgq_model_n_in() (every input)
 *   norm_offset, norm_scale   n_raw
 *   quantizer k, i, f, cal_*  n_out (= n_in)
 *   dense w_m, w_f            n_in * n_out, element [i*n_out + j]
 *   dense b_m, b_f            n_out
 *   conv w_m, w_f             KH*KW*C_in*C_out, [((kh*KW + kw)*C_in +
 *                             c)*C_out + co] (Keras order)
 *   conv b_m, b_f             C_out
 *   pooling, flatten          no arrays
 *   tensor data               tensor n
 *
 * hgq_model_validate() is the single statement of the invariants; the
 * reader (format.c) relies on it after decoding, the writer before
 * encoding.
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* the IDs format.c gives its own chunks: an extra chunk may not use them */
static const char *const known_ids[] = {
	"INPT", "GRPH", "FIXP", "CALB", "TRNS", "META",
};

static void
layer_release(struct hgq_layer *l)
{
	free(l->k);
	free(l->i);
	free(l->f);
	free(l->cal_min);
	free(l->cal_max);
	free(l->w_m);
	free(l->w_f);
	free(l->b_m);
	free(l->b_f);
	for (uint32_t t = 0; t < l->n_tensors; t++)
		free(l->tensors[t].data);
	free(l->tensors);
	memset(l, 0, sizeof(*l));
}

struct hgq_model *
hgq_model_new(void)
{
	struct hgq_model *m;

	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->task = HGQ_TASK_CLASSIFY;
	m->norm = HGQ_NORM_NONE;
	m->train.lr_scale = 1.0;
	return m;
}

void
hgq_model_free(struct hgq_model *m)
{
	if (m == NULL)
		return;
	free(m->index_map);
	free(m->norm_offset);
	free(m->norm_scale);
	for (uint32_t j = 0; j < m->n_layers; j++)
		layer_release(&m->layers[j]);
	free(m->layers);
	for (uint32_t j = 0; j < m->n_meta; j++) {
		free(m->meta[j].key);
		free(m->meta[j].value);
	}
	free(m->meta);
	for (uint32_t j = 0; j < m->n_extra; j++)
		free(m->extra[j].data);
	free(m->extra);
	free(m);
}

struct hgq_layer *
hgq_model_add_layer(struct hgq_model *m, uint32_t kind, uint32_t n_in,
    uint32_t n_out)
{
	struct hgq_layer *layers, *l;

	if (m->n_layers == UINT32_MAX)
		return NULL;
	layers = hgq_reallocarray(m->layers, (size_t)m->n_layers + 1,
	    sizeof(*layers));
	if (layers == NULL)
		return NULL;
	m->layers = layers;
	l = &layers[m->n_layers++];
	memset(l, 0, sizeof(*l));
	l->kind = kind;
	l->n_in = n_in;
	l->n_out = n_out;
	return l;
}

/*
 * alloc_arrays - (re)allocate the fixed-point arrays of l zeroed: k, i, f
 * of nq elements (quantizer), or nw weights and nb biases; all or none.
 */
static int
alloc_arrays(struct hgq_layer *l, size_t nq, uint64_t nw, size_t nb,
    struct hgq_err *err)
{
	if (nw > SIZE_MAX)
		return hgq_errf(err, HGQ_EINVAL, "%s layer with %" PRIu64
		    " weights is too large", hgq_layer_kind_name(l->kind),
		    nw);
	free(l->k);
	free(l->i);
	free(l->f);
	free(l->w_m);
	free(l->w_f);
	free(l->b_m);
	free(l->b_f);
	l->k = l->i = l->f = l->w_f = l->b_f = NULL;
	l->w_m = l->b_m = NULL;
	if (nq > 0) {
		l->k = hgq_calloc(nq, 1);
		l->i = hgq_calloc(nq, 1);
		l->f = hgq_calloc(nq, 1);
		if (l->k == NULL || l->i == NULL || l->f == NULL)
			goto nomem;
		return HGQ_OK;
	}
	l->w_m = hgq_calloc((size_t)nw, sizeof(*l->w_m));
	l->w_f = hgq_calloc((size_t)nw, sizeof(*l->w_f));
	l->b_m = hgq_calloc(nb, sizeof(*l->b_m));
	l->b_f = hgq_calloc(nb, sizeof(*l->b_f));
	if (l->w_m == NULL || l->w_f == NULL || l->b_m == NULL ||
	    l->b_f == NULL)
		goto nomem;
	return HGQ_OK;
nomem:
	/* leave no half-allocated layer behind */
	free(l->k);
	free(l->i);
	free(l->f);
	free(l->w_m);
	free(l->w_f);
	free(l->b_m);
	free(l->b_f);
	l->k = l->i = l->f = l->w_f = l->b_f = NULL;
	l->w_m = l->b_m = NULL;
	return hgq_errf(err, HGQ_ENOMEM, "out of memory");
}

int
hgq_layer_alloc_fixed(struct hgq_layer *l, struct hgq_err *err)
{
	switch (l->kind) {
	case HGQ_LAYER_QUANT:
		return alloc_arrays(l, l->n_out, 0, 0, err);
	case HGQ_LAYER_DENSE:
		return alloc_arrays(l, 0, (uint64_t)l->n_in * l->n_out,
		    l->n_out, err);
	default:
		return hgq_errf(err, HGQ_EINVAL,
		    "layer kind %" PRIu32 " has no fixed-point arrays",
		    l->kind);
	}
}

int
hgq_model_alloc_fixed(struct hgq_model *m, uint32_t j, struct hgq_err *err)
{
	struct hgq_layer *l = &m->layers[j];

	switch (l->kind) {
	case HGQ_LAYER_QUANT:
		return alloc_arrays(l, l->n_out, 0, 0, err);
	case HGQ_LAYER_DENSE:
	case HGQ_LAYER_CONV1D:
	case HGQ_LAYER_CONV2D:
		return alloc_arrays(l, 0, hgq_layer_n_weights(m, j),
		    hgq_layer_n_bias(m, j), err);
	default:
		return HGQ_OK;		/* no arrays */
	}
}

int
hgq_model_set_input(struct hgq_model *m, uint32_t n_raw, struct hgq_err *err)
{
	uint32_t n, *map;

	if (m->n_layers == 0)
		return hgq_errf(err, HGQ_EINVAL,
		    "set_input: the model has no layers yet");
	n = hgq_model_n_in(m);
	if (n_raw < n)
		return hgq_errf(err, HGQ_EINVAL, "set_input: %" PRIu32
		    " raw columns cannot feed %" PRIu32 " inputs", n_raw, n);
	map = hgq_calloc(n, sizeof(*map));
	if (map == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	for (uint32_t j = 0; j < n; j++)
		map[j] = j;
	free(m->index_map);
	free(m->norm_offset);
	free(m->norm_scale);
	m->index_map = map;
	m->norm_offset = m->norm_scale = NULL;
	m->n_raw = n_raw;
	m->norm = HGQ_NORM_NONE;
	return HGQ_OK;
}

struct hgq_tensor *
hgq_layer_tensor(const struct hgq_layer *l, uint32_t role)
{
	for (uint32_t t = 0; t < l->n_tensors; t++)
		if (l->tensors[t].role == role)
			return &l->tensors[t];
	return NULL;
}

struct hgq_tensor *
hgq_layer_add_tensor(struct hgq_layer *l, uint32_t role, uint32_t n,
    struct hgq_err *err)
{
	struct hgq_tensor *t, *ts;
	float *data;

	data = hgq_calloc(n, sizeof(*data));
	if (data == NULL) {
		hgq_errf(err, HGQ_ENOMEM, "out of memory");
		return NULL;
	}
	t = hgq_layer_tensor(l, role);
	if (t == NULL) {
		ts = hgq_reallocarray(l->tensors, (size_t)l->n_tensors + 1,
		    sizeof(*ts));
		if (ts == NULL) {
			free(data);
			hgq_errf(err, HGQ_ENOMEM, "out of memory");
			return NULL;
		}
		l->tensors = ts;
		t = &ts[l->n_tensors++];
		t->role = role;
		t->data = NULL;
	}
	free(t->data);
	t->data = data;
	t->n = n;
	return t;
}

/*
 * utf8_check - true if s[0..n) is well-formed UTF-8 (no overlong forms,
 * no surrogates, nothing above U+10FFFF) without NUL bytes.
 */
static bool
utf8_check(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t j = 0;

	while (j < n) {
		unsigned c = s[j];
		uint32_t cp;
		size_t len;

		if (c == 0)
			return false;
		if (c < 0x80) {
			j++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else
			return false;
		if (n - j < len)
			return false;
		for (size_t q = 1; q < len; q++) {
			if ((s[j + q] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[j + q] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		j += len;
	}
	return true;
}

/* checks shared by hgq_meta_set and validation; NULL when fine */
static const char *
meta_problem(const char *key, const char *value)
{
	size_t kl, vl;

	if (key == NULL || value == NULL)
		return "missing key or value";
	kl = strlen(key);
	vl = strlen(value);
	if (kl == 0)
		return "empty key";
	if (kl > HGQ_MAX_META_KEY)
		return "key longer than the limit";
	if (vl > HGQ_MAX_META_VALUE)
		return "value longer than the limit";
	if (!utf8_check(key, kl))
		return "key is not valid UTF-8";
	if (!utf8_check(value, vl))
		return "value is not valid UTF-8";
	return NULL;
}

static char *
dup_string(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

int
hgq_meta_set(struct hgq_model *m, const char *key, const char *value,
    struct hgq_err *err)
{
	const char *why;
	struct hgq_meta *mt;
	char *k, *v;

	if ((why = meta_problem(key, value)) != NULL)
		return hgq_errf(err, HGQ_EINVAL, "metadata: %s", why);
	v = dup_string(value);
	if (v == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	for (uint32_t j = 0; j < m->n_meta; j++) {
		if (strcmp(m->meta[j].key, key) == 0) {
			free(m->meta[j].value);
			m->meta[j].value = v;
			return HGQ_OK;
		}
	}
	if (m->n_meta >= HGQ_MAX_META) {
		free(v);
		return hgq_errf(err, HGQ_EINVAL,
		    "metadata: more than %d entries", HGQ_MAX_META);
	}
	k = dup_string(key);
	mt = hgq_reallocarray(m->meta, (size_t)m->n_meta + 1, sizeof(*mt));
	if (k == NULL || mt == NULL) {
		free(k);
		free(v);
		if (mt != NULL)
			m->meta = mt;
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	}
	m->meta = mt;
	mt[m->n_meta].key = k;
	mt[m->n_meta].value = v;
	m->n_meta++;
	return HGQ_OK;
}

const char *
hgq_meta_get(const struct hgq_model *m, const char *key)
{
	for (uint32_t j = 0; j < m->n_meta; j++)
		if (strcmp(m->meta[j].key, key) == 0)
			return m->meta[j].value;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Shapes, inputs and windows                                          */
/* ------------------------------------------------------------------ */

const char *
hgq_layer_kind_name(uint32_t kind)
{
	static const char *const name[] = {
		"invalid", "quantizer", "dense", "conv1d", "conv2d",
		"maxpool", "avgpool", "flatten", "add", "subtract",
		"concatenate", "lut",
	};

	return kind <= HGQ_LAYER_KIND_MAX ? name[kind] : "unknown";
}

uint32_t
hgq_layer_shape(const struct hgq_layer *l, uint32_t dims[HGQ_MAX_RANK])
{
	uint32_t r = l->rank;

	if (r == 0 || r > HGQ_MAX_RANK) {
		/* flat (an invalid rank is caught by validation) */
		dims[0] = l->n_out;
		dims[1] = dims[2] = 0;
		return 1;
	}
	for (uint32_t a = 0; a < HGQ_MAX_RANK; a++)
		dims[a] = a < r ? l->shape[a] : 0;
	return r;
}

uint32_t
hgq_layer_n_inputs(const struct hgq_layer *l)
{
	return l->n_inputs == 0 ? 1 : l->n_inputs;
}

uint32_t
hgq_layer_input(const struct hgq_model *m, uint32_t j, uint32_t q)
{
	const struct hgq_layer *l = &m->layers[j];

	if (l->n_inputs == 0)
		return j == 0 ? HGQ_REF_INPUT : j - 1;
	return q < l->n_inputs && q < HGQ_MAX_LAYER_INPUTS ? l->inputs[q] :
	    HGQ_REF_INPUT;
}

uint32_t
hgq_layer_in_shape(const struct hgq_model *m, uint32_t j,
    uint32_t dims[HGQ_MAX_RANK])
{
	uint32_t ref = hgq_layer_input(m, j, 0);

	/* a layer reading a model input is its quantizer, whose shape is
	   the input's */
	if ((ref & HGQ_REF_INPUT) != 0 || ref >= j)
		return hgq_layer_shape(&m->layers[j], dims);
	return hgq_layer_shape(&m->layers[ref], dims);
}

/*
 * hgq_layer_concat_runs - concatenate layer j of m as outer runs of its
 * inputs' segments: the output is, outer times, seg[0] elements of
 * input 0, then seg[1] of input 1, ... (row-major over the shape).
 */
void
hgq_layer_concat_runs(const struct hgq_model *m, uint32_t j, size_t *outer,
    size_t seg[HGQ_MAX_LAYER_INPUTS])
{
	const struct hgq_layer *l = &m->layers[j];
	uint32_t dims[HGQ_MAX_RANK], r = hgq_layer_shape(l, dims);
	size_t inner = 1;

	*outer = 1;
	for (uint32_t a = 0; a < r; a++) {
		if (a < l->axis)
			*outer *= dims[a];
		else if (a > l->axis)
			inner *= dims[a];
	}
	for (uint32_t k = 0; k < hgq_layer_n_inputs(l); k++) {
		uint32_t di[HGQ_MAX_RANK];

		(void)hgq_layer_shape(&m->layers[hgq_layer_input(m, j, k)],
		    di);
		seg[k] = (size_t)di[l->axis] * inner;
	}
}

/* ------------------------------------------------------------------ */
/* Model inputs and outputs (format 1.2)                               */
/* ------------------------------------------------------------------ */

uint32_t
hgq_model_n_inputs(const struct hgq_model *m)
{
	return m->n_in_ports == 0 ? 1 : m->n_in_ports;
}

uint32_t
hgq_model_input_layer(const struct hgq_model *m, uint32_t k)
{
	return m->n_in_ports == 0 || k >= m->n_in_ports ? 0 :
	    m->in_ports[k].layer;
}

uint32_t
hgq_model_input_offset(const struct hgq_model *m, uint32_t k)
{
	uint32_t off = 0;

	for (uint32_t u = 0; u < k && u < hgq_model_n_inputs(m); u++)
		off += m->layers[hgq_model_input_layer(m, u)].n_in;
	return off;
}

uint32_t
hgq_model_n_in(const struct hgq_model *m)
{
	if (m->n_layers == 0)
		return 0;
	return hgq_model_input_offset(m, hgq_model_n_inputs(m));
}

uint32_t
hgq_model_n_outputs(const struct hgq_model *m)
{
	return m->n_out_ports == 0 ? 1 : m->n_out_ports;
}

uint32_t
hgq_model_output_layer(const struct hgq_model *m, uint32_t k)
{
	if (m->n_out_ports == 0 || k >= m->n_out_ports)
		return m->n_layers == 0 ? 0 : m->n_layers - 1;
	return m->out_ports[k].layer;
}

int
hgq_model_is_chain(const struct hgq_model *m)
{
	if (m->n_in_ports > 1 || m->n_out_ports > 1)
		return false;
	for (uint32_t j = 0; j < m->n_layers; j++) {
		const struct hgq_layer *l = &m->layers[j];

		if (l->kind > HGQ_LAYER_FLATTEN ||
		    hgq_layer_n_inputs(l) != 1 || hgq_layer_input(m, j, 0) !=
		    (j == 0 ? HGQ_REF_INPUT : j - 1) ||
		    hgq_layer_tensor(l, HGQ_ROLE_MASK) != NULL)
			return false;
	}
	return m->n_out_ports == 0 ||
	    m->out_ports[0].layer + 1 == m->n_layers;
}

/* the last dimension of a shape: the channels */
static uint32_t
last_dim(const struct hgq_layer *l)
{
	uint32_t d[HGQ_MAX_RANK], r = hgq_layer_shape(l, d);

	return d[r - 1];
}

uint64_t
hgq_layer_n_weights(const struct hgq_model *m, uint32_t j)
{
	const struct hgq_layer *l = &m->layers[j];
	uint32_t d[HGQ_MAX_RANK], r;

	switch (l->kind) {
	case HGQ_LAYER_DENSE:
		return (uint64_t)l->n_in * l->n_out;
	case HGQ_LAYER_CONV1D:
	case HGQ_LAYER_CONV2D:
		r = hgq_layer_in_shape(m, j, d);
		/* KH*KW*C_in*C_out; on a model not yet validated the
		   factors may be anything: saturate instead of wrapping */
		if ((uint64_t)l->kernel[0] * l->kernel[1] > HGQ_MAX_N ||
		    (uint64_t)d[r - 1] * last_dim(l) > HGQ_MAX_N)
			return UINT64_MAX;
		return (uint64_t)l->kernel[0] * l->kernel[1] *
		    ((uint64_t)d[r - 1] * last_dim(l));
	default:
		return 0;
	}
}

uint32_t
hgq_layer_n_bias(const struct hgq_model *m, uint32_t j)
{
	const struct hgq_layer *l = &m->layers[j];

	switch (l->kind) {
	case HGQ_LAYER_DENSE:
		return l->n_out;
	case HGQ_LAYER_CONV1D:
	case HGQ_LAYER_CONV2D:
		return last_dim(l);
	default:
		return 0;
	}
}

/*
 * shape_product - the product of dims[0..rank) into *n; false when a
 * dimension is 0 or the product exceeds limit (checked before each
 * multiplication, so nothing wraps whatever the dims and the limit).
 */
static bool
shape_product(const uint32_t *dims, uint32_t rank, uint64_t limit,
    uint64_t *n)
{
	uint64_t p = 1;

	for (uint32_t a = 0; a < rank; a++) {
		if (dims[a] == 0 || p > limit / dims[a])
			return false;
		p *= dims[a];
	}
	*n = p;
	return true;
}

int
hgq_layer_set_shape(struct hgq_layer *l, uint32_t rank, const uint32_t *dims,
    struct hgq_err *err)
{
	uint64_t n;

	if (rank < 1 || rank > HGQ_MAX_RANK)
		return hgq_errf(err, HGQ_EINVAL, "rank %" PRIu32 " outside"
		    " 1..%d", rank, HGQ_MAX_RANK);
	if (!shape_product(dims, rank, HGQ_MAX_N, &n))
		return hgq_errf(err, HGQ_EINVAL, "shape with a zero dimension"
		    " or more than %u elements", HGQ_MAX_N);
	l->rank = (uint8_t)rank;
	for (uint32_t a = 0; a < HGQ_MAX_RANK; a++)
		l->shape[a] = a < rank ? dims[a] : 0;
	l->n_out = (uint32_t)n;
	return HGQ_OK;
}

int
hgq_layer_set_inputs(struct hgq_layer *l, uint32_t n, const uint32_t *refs,
    struct hgq_err *err)
{
	if (n < 1 || n > HGQ_MAX_LAYER_INPUTS)
		return hgq_errf(err, HGQ_EINVAL, "%" PRIu32 " inputs outside"
		    " 1..%d", n, HGQ_MAX_LAYER_INPUTS);
	memset(l->inputs, 0, sizeof(l->inputs));
	memcpy(l->inputs, refs, n * sizeof(*refs));
	l->n_inputs = n;
	return HGQ_OK;
}

struct hgq_layer *
hgq_model_add_shaped(struct hgq_model *m, uint32_t kind, uint32_t rank,
    const uint32_t *dims, struct hgq_err *err)
{
	struct hgq_layer tmp = { 0 }, *l;
	uint32_t ref;

	if (hgq_layer_set_shape(&tmp, rank, dims, err) != HGQ_OK)
		return NULL;
	ref = m->n_layers == 0 ? HGQ_REF_INPUT : m->n_layers - 1;
	l = hgq_model_add_layer(m, kind, m->n_layers == 0 ? tmp.n_out :
	    m->layers[m->n_layers - 1].n_out, tmp.n_out);
	if (l == NULL) {
		hgq_errf(err, HGQ_ENOMEM, "out of memory");
		return NULL;
	}
	l->rank = tmp.rank;
	memcpy(l->shape, tmp.shape, sizeof(l->shape));
	l->n_inputs = 1;
	l->inputs[0] = ref;
	return l;
}

int
hgq_layer_window(const struct hgq_model *m, uint32_t j, struct hgq_window *w,
    struct hgq_err *err)
{
	const struct hgq_layer *l = &m->layers[j];
	uint32_t di[HGQ_MAX_RANK], dout[HGQ_MAX_RANK], ri, ro;
	uint64_t need;

	if (l->kind < HGQ_LAYER_CONV1D || l->kind > HGQ_LAYER_AVGPOOL)
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 " (%s) has"
		    " no window", j, hgq_layer_kind_name(l->kind));
	ri = hgq_layer_in_shape(m, j, di);
	ro = hgq_layer_shape(l, dout);
	memset(w, 0, sizeof(*w));
	w->in_h = ri == 3 ? di[0] : 1;
	w->in_w = di[ri - 2 + (ri == 1)];
	w->in_c = di[ri - 1];
	w->out_h = ro == 3 ? dout[0] : 1;
	w->out_w = dout[ro - 2 + (ro == 1)];
	w->out_c = dout[ro - 1];
	w->k_h = l->kernel[0];
	w->k_w = l->kernel[1];
	w->s_h = l->stride[0];
	w->s_w = l->stride[1];
	if (l->padding == HGQ_PAD_SAME) {
		/* TensorFlow: pad_total = max((out-1)*s + k - in, 0), the
		   smaller half before */
		need = (uint64_t)(w->out_h - 1) * w->s_h + w->k_h;
		w->pad_top = need > w->in_h ? (uint32_t)(need - w->in_h) / 2 :
		    0;
		need = (uint64_t)(w->out_w - 1) * w->s_w + w->k_w;
		w->pad_left = need > w->in_w ? (uint32_t)(need - w->in_w) /
		    2 : 0;
	}
	w->n_pos = w->out_h * w->out_w;
	w->n_taps = w->k_h * w->k_w * w->in_c;
	return HGQ_OK;
}

void
hgq_window_taps(const struct hgq_window *w, uint32_t p, uint32_t *idx)
{
	uint32_t oh = p / w->out_w, ow = p % w->out_w, t = 0;

	for (uint32_t kh = 0; kh < w->k_h; kh++) {
		/* row and column in the padded input, then unpadded; a
		   wrap-around below 0 lands above in_h/in_w as unsigned */
		uint64_t h = (uint64_t)oh * w->s_h + kh - w->pad_top;

		for (uint32_t kw = 0; kw < w->k_w; kw++) {
			uint64_t c0 = (uint64_t)ow * w->s_w + kw - w->pad_left;
			bool pad = (uint64_t)oh * w->s_h + kh < w->pad_top ||
			    (uint64_t)ow * w->s_w + kw < w->pad_left ||
			    h >= w->in_h || c0 >= w->in_w;
			uint32_t base = pad ? 0 :
			    (uint32_t)((h * w->in_w + c0) * w->in_c);

			for (uint32_t c = 0; c < w->in_c; c++, t++)
				idx[t] = pad ? HGQ_TAP_PAD : base + c;
		}
	}
}

int
hgq_model_dense_only(const struct hgq_model *m, const char *what,
    struct hgq_err *err)
{
	/* name the first layer of another kind, else the first shaped one */
	for (uint32_t j = 0; j < m->n_layers; j++) {
		const struct hgq_layer *l = &m->layers[j];

		if (l->kind != HGQ_LAYER_QUANT && l->kind != HGQ_LAYER_DENSE)
			return hgq_errf(err, HGQ_EUNSUPP, "layer %" PRIu32
			    " (%s): not supported by %s yet", j,
			    hgq_layer_kind_name(l->kind), what);
	}
	for (uint32_t j = 0; j < m->n_layers; j++) {
		const struct hgq_layer *l = &m->layers[j];

		if (l->rank > 1)
			return hgq_errf(err, HGQ_EUNSUPP, "layer %" PRIu32
			    " (%s of rank %u): not supported by %s yet", j,
			    hgq_layer_kind_name(l->kind), l->rank, what);
	}
	return HGQ_OK;
}

/* ------------------------------------------------------------------ */
/* Validation                                                          */
/* ------------------------------------------------------------------ */

/* "[a, b, c]" into buf (at least 40 bytes) */
static const char *
shape_str(char *buf, const uint32_t *d, uint32_t rank)
{
	int n = sprintf(buf, "[");

	for (uint32_t a = 0; a < rank; a++)
		n += sprintf(buf + n, "%s%" PRIu32, a ? ", " : "", d[a]);
	sprintf(buf + n, "]");
	return buf;
}

/*
 * tensor_size - the number of floats a tensor of role base (without the
 * M1/M2 bits) must hold in layer j; 0 if the role does not belong to the
 * layer (bn roles only with batchnorm).  *moments tells whether Adam/SGD
 * moments of the role may exist.  Sizes are bounded by HGQ_MAX_WEIGHTS
 * once the shapes are valid, so they fit in uint32_t.  "channel" is the
 * last axis: a quantizer's C, a layer's filters (dense: n_out).
 */
static uint32_t
tensor_size(const struct hgq_model *m, uint32_t j, uint32_t base,
    bool *moments)
{
	const struct hgq_layer *l = &m->layers[j];
	uint32_t nw = (uint32_t)hgq_layer_n_weights(m, j);
	uint32_t nc = hgq_layer_n_bias(m, j);

	*moments = true;
	if (l->kind == HGQ_LAYER_QUANT) {
		switch (base) {
		case HGQ_ROLE_ACT_FBITS:
			return l->gran == HGQ_GRAN_LAYER ? 1 :
			    l->gran == HGQ_GRAN_CHANNEL ? last_dim(l) :
			    l->n_out;
		case HGQ_ROLE_ACT_ISTATE:
		case HGQ_ROLE_ACT_KSTATE:
			*moments = false;
			return l->n_out;
		}
		return 0;
	}
	if (nc == 0)
		return 0;		/* pooling, flatten: no tensors */
	switch (base) {
	case HGQ_ROLE_WEIGHT:
		return nw;
	case HGQ_ROLE_MASK:
		*moments = false;
		return nw;
	case HGQ_ROLE_BIAS:
		return nc;
	case HGQ_ROLE_WEIGHT_FBITS:
		if (l->w_gran == HGQ_GRAN_ELEMENT)
			return nw;
		return l->w_gran == HGQ_GRAN_CHANNEL ? nc : 1;
	case HGQ_ROLE_BIAS_FBITS:
		return l->b_gran == HGQ_GRAN_LAYER ? 1 : nc;
	case HGQ_ROLE_BN_MEAN:
	case HGQ_ROLE_BN_VAR:
		*moments = false;
		return l->bn ? nc : 0;
	case HGQ_ROLE_BN_GAMMA:
	case HGQ_ROLE_BN_BETA:
		return l->bn ? nc : 0;
	}
	return 0;
}

static bool
has_role(const struct hgq_layer *l, uint32_t role)
{
	for (uint32_t t = 0; t < l->n_tensors; t++)
		if (l->tensors[t].role == role)
			return true;
	return false;
}

static int
validate_tensors(const struct hgq_model *m, uint32_t j, struct hgq_err *err)
{
	const struct hgq_layer *l = &m->layers[j];

	if (l->n_tensors > HGQ_MAX_TENSORS)
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 ": %" PRIu32
		    " float tensors, more than %d", j, l->n_tensors,
		    HGQ_MAX_TENSORS);
	if (l->n_tensors > 0 && l->tensors == NULL)
		return hgq_errf(err, HGQ_EINVAL,
		    "layer %" PRIu32 ": tensor list missing", j);
	for (uint32_t t = 0; t < l->n_tensors; t++) {
		const struct hgq_tensor *ts = &l->tensors[t];
		uint32_t base = ts->role & 0xff;
		uint32_t mom = ts->role & ~(uint32_t)0xff;
		uint32_t want;
		bool moments;

		want = tensor_size(m, j, base, &moments);
		if (want == 0 || (mom != 0 && mom != HGQ_ROLE_M1 &&
		    mom != HGQ_ROLE_M2) || (mom != 0 && !moments))
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": tensor role 0x%" PRIx32 " does not belong to a"
			    " %s%s layer", j, ts->role,
			    hgq_layer_kind_name(l->kind),
			    l->kind == HGQ_LAYER_QUANT || l->bn ||
			    hgq_layer_n_bias(m, j) == 0 ? "" :
			    " (without batchnorm)");
		if (ts->n != want)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": tensor role 0x%" PRIx32 " has %" PRIu32
			    " floats, expected %" PRIu32, j, ts->role, ts->n,
			    want);
		if (ts->data == NULL)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": tensor role 0x%" PRIx32 " has no data", j,
			    ts->role);
		for (uint32_t u = 0; u < t; u++)
			if (l->tensors[u].role == ts->role)
				return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
				    ": tensor role 0x%" PRIx32
				    " appears twice", j, ts->role);
	}
	/* a moment belongs to its tensor; Adam's second to its first */
	for (uint32_t t = 0; t < l->n_tensors; t++) {
		uint32_t role = l->tensors[t].role, need = role & 0xff;

		if (role == need)
			continue;
		if (has_role(l, need) && (role & HGQ_ROLE_M2) != 0)
			need |= HGQ_ROLE_M1;
		if (has_role(l, need))
			continue;
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 ": tensor"
		    " role 0x%" PRIx32 " (an optimizer moment) without tensor"
		    " role 0x%" PRIx32 " (TRNS)", j, role, need);
	}
	return HGQ_OK;
}

/* the training progress (hgqm.md 4.6): meaningful only with has_train */
static int
validate_train(const struct hgq_model *m, struct hgq_err *err)
{
	const struct hgq_train_state *s = &m->train;

	if (!m->has_train) {
		if (s->epoch != 0 || s->step != 0 || s->rng[0] != 0 ||
		    s->rng[1] != 0 || s->rng[2] != 0 || s->rng[3] != 0 ||
		    s->lr_scale != 1.0)
			return hgq_errf(err, HGQ_EINVAL, "training progress"
			    " (epoch %" PRIu32 ", step %" PRIu64 ", rng,"
			    " lr_scale %.17g) without has_state (TRNS)",
			    s->epoch, s->step, s->lr_scale);
		return HGQ_OK;
	}
	if (!isfinite(s->lr_scale) || !(s->lr_scale > 0))
		return hgq_errf(err, HGQ_EINVAL, "training lr_scale %.17g is"
		    " not finite and positive (TRNS)", s->lr_scale);
	return HGQ_OK;
}

/*
 * validate_window - a convolution or pooling layer: its input's rank
 * (2 for the 1-D kinds, 3 for 2-D), kernel and stride, the output shape
 * they imply, and the sizes of weights and work.  di: the input shape.
 */
static int
validate_window(const struct hgq_layer *l, uint32_t j, const uint32_t *di,
    uint32_t ri, struct hgq_err *err)
{
	const char *name = hgq_layer_kind_name(l->kind);
	bool conv = l->kind == HGQ_LAYER_CONV1D || l->kind == HGQ_LAYER_CONV2D;
	uint32_t want_rank = l->kind == HGQ_LAYER_CONV1D ? 2 :
	    l->kind == HGQ_LAYER_CONV2D ? 3 : ri;
	uint32_t h, w, c, oh, ow, out[HGQ_MAX_RANK], dout[HGQ_MAX_RANK], ro;
	uint64_t work, wts = 0;
	char b1[48], b2[48];

	if (ri != want_rank || ri < 2)
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 ": %s needs"
		    " an input of rank %s, not %" PRIu32, j, name,
		    want_rank == 3 ? "3 ([H, W, C])" : want_rank == 2 ?
		    "2 ([W, C])" : "2 or 3", ri);
	h = ri == 3 ? di[0] : 1;
	w = di[ri - 2];
	c = di[ri - 1];
	if (l->kernel[0] == 0 || l->kernel[1] == 0 || l->stride[0] == 0 ||
	    l->stride[1] == 0 || l->stride[0] > HGQ_MAX_N ||
	    l->stride[1] > HGQ_MAX_N)
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 ": %s kernel"
		    " %" PRIu32 "x%" PRIu32 ", stride %" PRIu32 "x%" PRIu32
		    ": each must be in 1..%u", j, name, l->kernel[0],
		    l->kernel[1], l->stride[0], l->stride[1], HGQ_MAX_N);
	if (ri == 2 && (l->kernel[0] != 1 || l->stride[0] != 1))
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 ": 1-D %s"
		    " with kernel %" PRIu32 "x%" PRIu32 " and stride %" PRIu32
		    "x%" PRIu32 " (the first of each must be 1)", j, name,
		    l->kernel[0], l->kernel[1], l->stride[0], l->stride[1]);
	if (l->kernel[0] > h || l->kernel[1] > w)
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 ": %s kernel"
		    " %" PRIu32 "x%" PRIu32 " is larger than its input %"
		    PRIu32 "x%" PRIu32, j, name, l->kernel[0], l->kernel[1],
		    h, w);
	if (l->padding > HGQ_PAD_SAME || (!conv && l->padding != 0))
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 ": %s"
		    " padding %u out of range", j, name, l->padding);
	if (l->padding == HGQ_PAD_SAME) {
		oh = (uint32_t)(((uint64_t)h + l->stride[0] - 1) /
		    l->stride[0]);
		ow = (uint32_t)(((uint64_t)w + l->stride[1] - 1) /
		    l->stride[1]);
	} else {
		oh = (h - l->kernel[0]) / l->stride[0] + 1;
		ow = (w - l->kernel[1]) / l->stride[1] + 1;
	}
	ro = hgq_layer_shape(l, dout);
	out[0] = oh;
	out[ri - 2] = ow;
	out[ri - 1] = conv ? dout[ro - 1] : c;
	if (ro != ri || memcmp(out, dout, ri * sizeof(*out)) != 0)
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 ": %s output"
		    " shape %s where its input implies %s", j, name,
		    shape_str(b1, dout, ro), shape_str(b2, out, ri));
	/* work: out_h*out_w*out_c * taps; weights: taps * C_out.  The
	   factors are <= 2^24 and each partial product is checked */
	if (!shape_product((const uint32_t[]){ l->kernel[0], l->kernel[1],
	    c }, 3, HGQ_MAX_MACS, &work) ||
	    (conv && (work * out[ri - 1] > HGQ_MAX_WEIGHTS)) ||
	    work * oh > HGQ_MAX_MACS || work * oh * ow > HGQ_MAX_MACS ||
	    work * oh * ow * (conv ? out[ri - 1] : 1) > HGQ_MAX_MACS) {
		if (conv && shape_product((const uint32_t[]){ l->kernel[0],
		    l->kernel[1], c, out[ri - 1] }, 4, UINT64_MAX >> 8, &wts)
		    && wts > HGQ_MAX_WEIGHTS)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": %" PRIu64 " weights exceed the limit %u", j,
			    wts, HGQ_MAX_WEIGHTS);
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 ": %s of"
		    " %s -> %s with kernel %" PRIu32 "x%" PRIu32 " exceeds"
		    " the limit of %u multiplications", j, name,
		    shape_str(b1, di, ri), shape_str(b2, out, ri),
		    l->kernel[0], l->kernel[1], HGQ_MAX_MACS);
	}
	if (l->kind == HGQ_LAYER_AVGPOOL) {
		uint64_t area = (uint64_t)l->kernel[0] * l->kernel[1];

		if ((area & (area - 1)) != 0)
			return hgq_errf(err, HGQ_EUNSUPP, "layer %" PRIu32
			    ": average pooling over %" PRIu32 "x%" PRIu32
			    " = %" PRIu64 " elements: only areas that are"
			    " powers of two are exact", j, l->kernel[0],
			    l->kernel[1], area);
	}
	return HGQ_OK;
}

/* the shape of input q of layer j (a model input: layer j's own) */
static uint32_t
input_shape(const struct hgq_model *m, uint32_t j, uint32_t q,
    uint32_t dims[HGQ_MAX_RANK])
{
	uint32_t ref = hgq_layer_input(m, j, q);

	if ((ref & HGQ_REF_INPUT) != 0 || ref >= j)
		return hgq_layer_shape(&m->layers[j], dims);
	return hgq_layer_shape(&m->layers[ref], dims);
}

/* add, subtract, lut: every input has the layer's own shape */
static int
validate_same_shapes(const struct hgq_model *m, uint32_t j,
    struct hgq_err *err)
{
	const struct hgq_layer *l = &m->layers[j];
	uint32_t d[HGQ_MAX_RANK], di[HGQ_MAX_RANK], r, ri;
	char b1[48], b2[48];

	r = hgq_layer_shape(l, d);
	for (uint32_t q = 0; q < hgq_layer_n_inputs(l); q++) {
		ri = input_shape(m, j, q, di);
		if (ri != r || memcmp(di, d, r * sizeof(*d)) != 0)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": %s of shape %s has input %" PRIu32 " of shape"
			    " %s (the shapes must be equal)", j,
			    hgq_layer_kind_name(l->kind), shape_str(b1, d, r),
			    q, shape_str(b2, di, ri));
	}
	return HGQ_OK;
}

/* concatenate: same rank, equal dims but on the axis, which sums */
static int
validate_concat(const struct hgq_model *m, uint32_t j, struct hgq_err *err)
{
	const struct hgq_layer *l = &m->layers[j];
	uint32_t d[HGQ_MAX_RANK], di[HGQ_MAX_RANK], r, ri;
	uint64_t sum = 0;
	char b1[48], b2[48];

	r = hgq_layer_shape(l, d);
	if (l->axis >= r)
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
		    ": concatenate along axis %u of a rank-%" PRIu32
		    " tensor", j, l->axis, r);
	for (uint32_t q = 0; q < hgq_layer_n_inputs(l); q++) {
		ri = input_shape(m, j, q, di);
		sum += di[l->axis];
		di[l->axis] = d[l->axis];
		if (ri != r || memcmp(di, d, r * sizeof(*d)) != 0)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": concatenate of shape %s along axis %u has"
			    " input %" PRIu32 " of shape %s", j,
			    shape_str(b1, d, r), l->axis, q,
			    shape_str(b2, (input_shape(m, j, q, di), di), ri));
	}
	if (sum != d[l->axis])
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
		    ": concatenate inputs give %" PRIu64 " along axis %u,"
		    " the output has %" PRIu32, j, sum, l->axis,
		    d[l->axis]);
	return HGQ_OK;
}

/* the layer-local part: modes, and the shape against the input's */
static int
validate_kind(const struct hgq_model *m, uint32_t j, uint32_t src,
    struct hgq_err *err)
{
	const struct hgq_layer *l = &m->layers[j];
	uint32_t di[HGQ_MAX_RANK], d[HGQ_MAX_RANK], ri, r;
	char b1[48], b2[48];
	uint64_t nw;

	ri = hgq_layer_in_shape(m, j, di);
	r = hgq_layer_shape(l, d);
	switch (l->kind) {
	case HGQ_LAYER_QUANT:
		if ((src & HGQ_REF_INPUT) == 0 && (ri != r ||
		    memcmp(di, d, r * sizeof(*d)) != 0))
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": quantizer shape %s differs from the shape %s of"
			    " layer %" PRIu32, j, shape_str(b1, d, r),
			    shape_str(b2, di, ri), src);
		if (l->round > HGQ_TRN || l->overflow > HGQ_SAT_SYM ||
		    l->gran > HGQ_GRAN_LAYER || l->trainable > 1)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": quantizer mode out of range (round %u, overflow"
			    " %u, granularity %u, trainable %u)", j, l->round,
			    l->overflow, l->gran, l->trainable);
		break;
	case HGQ_LAYER_DENSE:
		if (ri != 1 || r != 1)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": dense on a tensor of rank %" PRIu32 " giving"
			    " rank %" PRIu32 " (dense needs flat tensors:"
			    " flatten first)", j, ri, r);
		nw = (uint64_t)l->n_in * l->n_out;
		if (nw > HGQ_MAX_WEIGHTS)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": %" PRIu64 " weights exceed the limit %u", j,
			    nw, HGQ_MAX_WEIGHTS);
		break;
	case HGQ_LAYER_CONV1D:
	case HGQ_LAYER_CONV2D:
	case HGQ_LAYER_MAXPOOL:
	case HGQ_LAYER_AVGPOOL:
		return validate_window(l, j, di, ri, err);
	case HGQ_LAYER_FLATTEN:
		if (r != 1)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": flatten gives rank %" PRIu32 ", not 1", j, r);
		break;
	case HGQ_LAYER_ADD:
	case HGQ_LAYER_SUB:
	case HGQ_LAYER_LUT:
		return validate_same_shapes(m, j, err);
	case HGQ_LAYER_CONCAT:
		return validate_concat(m, j, err);
	}
	return HGQ_OK;
}

/* "a" or "an" before a kind's name */
static const char *
article(uint32_t kind)
{
	return kind == HGQ_LAYER_ADD ? "an" : "a";
}

/* how many inputs a kind reads: [lo, hi] */
static void
kind_inputs(uint32_t kind, uint32_t *lo, uint32_t *hi)
{
	*lo = *hi = 1;
	if (kind == HGQ_LAYER_SUB)
		*lo = *hi = 2;
	else if (kind == HGQ_LAYER_ADD || kind == HGQ_LAYER_CONCAT) {
		*lo = 2;
		*hi = HGQ_MAX_LAYER_INPUTS;
	}
}

/*
 * validate_inputs - the references of layer j: their count for the kind,
 * each an earlier layer or a model input, alternation (a quantizer reads
 * a model input or an operation, an operation reads quantizers).
 */
static int
validate_inputs(const struct hgq_model *m, uint32_t j, struct hgq_err *err)
{
	const struct hgq_layer *l = &m->layers[j];
	bool quant = l->kind == HGQ_LAYER_QUANT;
	uint32_t n_src, lo, hi;

	if (l->n_inputs > HGQ_MAX_LAYER_INPUTS)
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 ": %" PRIu32
		    " inputs exceed the limit %d", j, l->n_inputs,
		    HGQ_MAX_LAYER_INPUTS);
	n_src = hgq_layer_n_inputs(l);
	kind_inputs(l->kind, &lo, &hi);
	if (n_src < lo || n_src > hi)
		return lo == hi ? hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
		    ": %s %s layer reads %s input%s, not %" PRIu32, j,
		    article(l->kind), hgq_layer_kind_name(l->kind), lo == 1 ?
		    "one" : "two", lo == 1 ? "" : "s", n_src) :
		    hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 ": %s %s layer"
		    " reads %" PRIu32 " to %" PRIu32 " inputs, not %" PRIu32,
		    j, article(l->kind), hgq_layer_kind_name(l->kind), lo, hi,
		    n_src);
	for (uint32_t q = l->n_inputs; q < HGQ_MAX_LAYER_INPUTS; q++)
		if (l->inputs[q] != 0)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": input reference %" PRIu32 " set beyond its %"
			    PRIu32 " inputs", j, q, n_src);
	for (uint32_t q = 0; q < n_src; q++) {
		uint32_t src = hgq_layer_input(m, j, q);
		const struct hgq_layer *s;

		if (src & HGQ_REF_INPUT) {
			uint32_t k = src & ~HGQ_REF_INPUT;

			if (!quant)
				return hgq_errf(err, HGQ_EINVAL, "layer %"
				    PRIu32 ": %s %s layer reads model input %"
				    PRIu32 " (only a quantizer does)", j,
				    article(l->kind),
				    hgq_layer_kind_name(l->kind), k);
			if (k >= hgq_model_n_inputs(m) ||
			    hgq_model_input_layer(m, k) != j)
				return hgq_errf(err, HGQ_EINVAL, "layer %"
				    PRIu32 ": reads model input %" PRIu32
				    " (%s)", j, k, m->n_in_ports == 0 ?
				    "only layer 0 reads the model's one input"
				    : k >= m->n_in_ports ? "no such input" :
				    "the input's port names another layer");
			continue;
		}
		if (src >= j)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": input reference %" PRIu32 " is not an earlier"
			    " layer", j, src);
		s = &m->layers[src];
		/* alternation: quantizers and operations take turns */
		if (quant && s->kind == HGQ_LAYER_QUANT)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": quantizer reads quantizer layer %" PRIu32
			    " (an operation layer must come between)", j,
			    src);
		if (!quant && s->kind != HGQ_LAYER_QUANT)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": kind %" PRIu32 " where a quantizer is"
			    " expected", src + 1 == j ? j : src, src + 1 == j ?
			    l->kind : s->kind);
	}
	if (j == 0 && !quant)
		return hgq_errf(err, HGQ_EINVAL, "layer 0: kind %" PRIu32
		    " where a quantizer is expected", l->kind);
	return HGQ_OK;
}

/*
 * validate_layer - one layer's structure: kind, shape and its limits,
 * inputs (in range, topological, alternating), n_in, modes.
 */
static int
validate_layer(const struct hgq_model *m, uint32_t j, struct hgq_err *err)
{
	const struct hgq_layer *l = &m->layers[j];
	const struct hgq_layer *s;
	uint32_t d[HGQ_MAX_RANK], r, src;
	uint64_t n;
	int rc;
	bool quant = l->kind == HGQ_LAYER_QUANT;
	bool weights = l->kind == HGQ_LAYER_DENSE ||
	    l->kind == HGQ_LAYER_CONV1D || l->kind == HGQ_LAYER_CONV2D;
	bool window = l->kind >= HGQ_LAYER_CONV1D &&
	    l->kind <= HGQ_LAYER_AVGPOOL;
	char b1[48];

	if (l->kind == 0 || l->kind > HGQ_LAYER_KIND_MAX)
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 ": unknown"
		    " kind %" PRIu32, j, l->kind);
	if (l->n_in == 0 || l->n_out == 0 || l->n_in > HGQ_MAX_N ||
	    l->n_out > HGQ_MAX_N)
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
		    ": shape %" PRIu32 "x%" PRIu32 " outside 1..%u",
		    j, l->n_in, l->n_out, HGQ_MAX_N);
	if (l->rank > HGQ_MAX_RANK)
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 ": rank %u"
		    " outside 1..%d", j, l->rank, HGQ_MAX_RANK);
	r = hgq_layer_shape(l, d);
	if (!shape_product(d, r, HGQ_MAX_N, &n))
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 ": shape %s"
		    " has a zero dimension or more than %u elements", j,
		    shape_str(b1, d, r), HGQ_MAX_N);
	if (n != l->n_out)
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 ": shape %s"
		    " has %" PRIu64 " elements, n_out is %" PRIu32, j,
		    shape_str(b1, d, r), n, l->n_out);
	for (uint32_t a = r; l->rank != 0 && a < HGQ_MAX_RANK; a++)
		if (l->shape[a] != 0)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": dimension %" PRIu32 " set beyond rank %" PRIu32,
			    j, a, r);
	if (quant && l->n_in != l->n_out)
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
		    ": quantizer has n_in %" PRIu32 " != n_out %" PRIu32, j,
		    l->n_in, l->n_out);
	/* the modes of the kinds that have them (all zero otherwise, so
	   that what is written is what is held) */
	if (weights && (l->act > HGQ_ACT_RELU || l->bn > 1 ||
	    l->w_gran > HGQ_GRAN_LAYER || l->b_gran > HGQ_GRAN_LAYER))
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
		    ": %s mode out of range (activation %u, batchnorm %u,"
		    " weight granularity %u, bias granularity %u)", j,
		    hgq_layer_kind_name(l->kind), l->act, l->bn, l->w_gran,
		    l->b_gran);
	if (!window && (l->kernel[0] | l->kernel[1] | l->stride[0] |
	    l->stride[1] | l->padding) != 0)
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 ": kernel,"
		    " stride or padding set on a %s layer", j,
		    hgq_layer_kind_name(l->kind));

	if (l->kind == HGQ_LAYER_LUT && l->func > HGQ_FUNC_MAX)
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 ": unknown"
		    " lookup-table function %u (0..%d: tanh, sigmoid,"
		    " softplus, silu, exp)", j, l->func, HGQ_FUNC_MAX);
	if ((l->kind == HGQ_LAYER_CONCAT ? 0 : l->axis) != 0 ||
	    (l->kind == HGQ_LAYER_LUT ? 0 : l->func) != 0)
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32 ": axis %u"
		    " or function %u set on %s %s layer", j, l->axis, l->func,
		    article(l->kind), hgq_layer_kind_name(l->kind));
	if ((rc = validate_inputs(m, j, err)) != HGQ_OK)
		return rc;
	src = hgq_layer_input(m, j, 0);
	if ((src & HGQ_REF_INPUT) == 0) {
		s = &m->layers[src];
		if (l->n_in != s->n_out)
			return l->kind == HGQ_LAYER_DENSE ?
			    hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": dense n_in %" PRIu32 " does not match the"
			    " quantizer n %" PRIu32 " before it", j, l->n_in,
			    s->n_out) :
			    hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": %s n %" PRIu32 " does not match the %" PRIu32
			    " outputs of layer %" PRIu32, j,
			    hgq_layer_kind_name(l->kind), l->n_in, s->n_out,
			    src);
	}
	return validate_kind(m, j, src, err);
}

/* a port name: [A-Za-z_][A-Za-z0-9_]*, 1..HGQ_MAX_PORT_NAME bytes */
static bool
port_name_ok(const char *name)
{
	size_t n = strnlen(name, HGQ_MAX_PORT_NAME + 1);

	if (n == 0 || n > HGQ_MAX_PORT_NAME || isdigit((unsigned char)name[0]))
		return false;
	for (size_t u = 0; u < n; u++)
		if (!isalnum((unsigned char)name[u]) && name[u] != '_')
			return false;
	return true;
}

/* the ports of one direction: count, names, unique names and layers */
static int
validate_ports(const struct hgq_model *m, const struct hgq_port *p,
    uint32_t n, const char *dir, struct hgq_err *err)
{
	if (n > HGQ_MAX_PORTS)
		return hgq_errf(err, HGQ_EINVAL, "%" PRIu32 " model %ss exceed"
		    " the limit %d", n, dir, HGQ_MAX_PORTS);
	for (uint32_t k = 0; k < n; k++) {
		if (!port_name_ok(p[k].name))
			return hgq_errf(err, HGQ_EINVAL, "model %s %" PRIu32
			    ": name \"%.*s\" is not [A-Za-z_][A-Za-z0-9_]* of"
			    " 1..%d bytes", dir, k, HGQ_MAX_PORT_NAME,
			    p[k].name, HGQ_MAX_PORT_NAME);
		if (p[k].layer >= m->n_layers)
			return hgq_errf(err, HGQ_EINVAL, "model %s %s: layer %"
			    PRIu32 " does not exist (%" PRIu32 " layers)", dir,
			    p[k].name, p[k].layer, m->n_layers);
		if (m->layers[p[k].layer].kind != HGQ_LAYER_QUANT)
			return hgq_errf(err, HGQ_EINVAL, "model %s %s: layer %"
			    PRIu32 " is a %s, not a quantizer", dir, p[k].name,
			    p[k].layer,
			    hgq_layer_kind_name(m->layers[p[k].layer].kind));
		for (uint32_t u = 0; u < k; u++) {
			if (strcmp(p[u].name, p[k].name) == 0)
				return hgq_errf(err, HGQ_EINVAL, "model %ss %"
				    PRIu32 " and %" PRIu32 " are both named"
				    " %s", dir, u, k, p[k].name);
			if (p[u].layer == p[k].layer)
				return hgq_errf(err, HGQ_EINVAL, "model %ss %s"
				    " and %s are both layer %" PRIu32, dir,
				    p[u].name, p[k].name, p[k].layer);
		}
	}
	return HGQ_OK;
}

/* every layer is read or is an output; an operation by one quantizer */
static int
validate_readers(const struct hgq_model *m, struct hgq_err *err)
{
	uint16_t readers[HGQ_MAX_LAYERS];
	bool output[HGQ_MAX_LAYERS];

	memset(readers, 0, sizeof(readers));
	memset(output, 0, sizeof(output));
	for (uint32_t k = 0; k < hgq_model_n_outputs(m); k++)
		output[hgq_model_output_layer(m, k)] = true;
	for (uint32_t j = 0; j < m->n_layers; j++)
		for (uint32_t q = 0; q < hgq_layer_n_inputs(&m->layers[j]);
		    q++) {
			uint32_t src = hgq_layer_input(m, j, q);

			if ((src & HGQ_REF_INPUT) == 0)
				readers[src]++;
		}
	for (uint32_t j = 0; j < m->n_layers; j++) {
		const struct hgq_layer *l = &m->layers[j];

		if (readers[j] == 0 && !output[j])
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": its output is not used", j);
		if (l->kind != HGQ_LAYER_QUANT && (readers[j] != 1 ||
		    output[j]))
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": %s output read by %u layers (an operation feeds"
			    " one quantizer)", j,
			    hgq_layer_kind_name(l->kind), readers[j]);
	}
	return HGQ_OK;
}

int
hgq_model_validate_graph(const struct hgq_model *m, struct hgq_err *err)
{
	int rc;

	if (m->n_layers < 3 || m->layers == NULL)
		return hgq_errf(err, HGQ_EINVAL, "the model needs at least"
		    " quantizer, dense, quantizer (has %" PRIu32 " layers)",
		    m->n_layers);
	if (m->n_layers > HGQ_MAX_LAYERS)
		return hgq_errf(err, HGQ_EINVAL, "%" PRIu32 " layers exceed"
		    " the limit %d", m->n_layers, HGQ_MAX_LAYERS);
	if ((rc = validate_ports(m, m->in_ports, m->n_in_ports, "input",
	    err)) != HGQ_OK || (rc = validate_ports(m, m->out_ports,
	    m->n_out_ports, "output", err)) != HGQ_OK)
		return rc;
	if (m->n_out_ports == 0 &&
	    m->layers[m->n_layers - 1].kind != HGQ_LAYER_QUANT)
		return hgq_errf(err, HGQ_EINVAL, "the chain must end with a"
		    " quantizer (has %" PRIu32 " layers)", m->n_layers);
	for (uint32_t j = 0; j < m->n_layers; j++)
		if ((rc = validate_layer(m, j, err)) != HGQ_OK)
			return rc;
	/* an input port's layer reads that input (its references were
	   checked against the ports above) */
	for (uint32_t k = 0; k < m->n_in_ports; k++) {
		uint32_t j = m->in_ports[k].layer;

		if (hgq_layer_input(m, j, 0) != (HGQ_REF_INPUT | k))
			return hgq_errf(err, HGQ_EINVAL, "model input %s:"
			    " layer %" PRIu32 " does not read it",
			    m->in_ports[k].name, j);
	}
	if (m->task == HGQ_TASK_CLASSIFY && hgq_model_n_outputs(m) > 1)
		return hgq_errf(err, HGQ_EINVAL, "a classifier has one"
		    " output, not %" PRIu32, hgq_model_n_outputs(m));
	return validate_readers(m, err);
}

/* a lookup table's input elements: at most HGQ_MAX_LUT_BITS wide */
static int
validate_lut(const struct hgq_model *m, uint32_t j, struct hgq_err *err)
{
	const struct hgq_layer *q = &m->layers[hgq_layer_input(m, j, 0)];

	for (uint32_t e = 0; m->calibrated && e < q->n_out; e++) {
		int w = q->k[e] + q->i[e] + q->f[e];

		if (w > HGQ_MAX_LUT_BITS)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": %s table over element %" PRIu32 " of %d bits"
			    " (the limit is %d bits, %d entries)", j,
			    hgq_func_name(m->layers[j].func), e, w,
			    HGQ_MAX_LUT_BITS, 1 << HGQ_MAX_LUT_BITS);
	}
	return HGQ_OK;
}

/* a mask holds 0 and 1; a masked weight is exactly 0 */
static int
validate_mask(const struct hgq_model *m, uint32_t j, struct hgq_err *err)
{
	const struct hgq_layer *l = &m->layers[j];
	const struct hgq_tensor *t = hgq_layer_tensor(l, HGQ_ROLE_MASK);

	for (uint32_t e = 0; t != NULL && e < t->n; e++) {
		if (t->data[e] != 0.0f && t->data[e] != 1.0f)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": mask element %" PRIu32 " is %.9g, not 0 or 1",
			    j, e, (double)t->data[e]);
		if (t->data[e] == 0.0f && m->calibrated && l->w_m[e] != 0)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    ": weight %" PRIu32 " is masked but its mantissa"
			    " is %" PRId32, j, e, l->w_m[e]);
	}
	return HGQ_OK;
}

static int
validate_quant(const struct hgq_model *m, const struct hgq_layer *l,
    uint32_t j, struct hgq_err *err)
{
	if ((l->cal_min == NULL) != (l->cal_max == NULL))
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
		    ": calibration minimum without maximum or vice versa", j);
	for (uint32_t e = 0; l->cal_min != NULL && e < l->n_out; e++)
		if (!isfinite(l->cal_min[e]) || !isfinite(l->cal_max[e]) ||
		    l->cal_min[e] > l->cal_max[e])
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    " element %" PRIu32 ": calibration range [%.17g,"
			    " %.17g] is not finite and ordered (CALB)", j, e,
			    l->cal_min[e], l->cal_max[e]);
	if (!m->calibrated)
		return HGQ_OK;
	if (l->k == NULL || l->i == NULL || l->f == NULL)
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
		    ": calibrated model without quantizer k/i/f", j);
	for (uint32_t e = 0; e < l->n_out; e++) {
		int k = l->k[e], i = l->i[e], f = l->f[e];

		if (k != 0 && k != 1)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    " element %" PRIu32 ": k = %d is not 0 or 1", j,
			    e, k);
		if (i < -HGQ_MAX_IF || i > HGQ_MAX_IF || f < -HGQ_MAX_IF ||
		    f > HGQ_MAX_IF)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    " element %" PRIu32 ": i = %d, f = %d beyond"
			    " +-%d", j, e, i, f, HGQ_MAX_IF);
		if (k + i + f > HGQ_MAX_WIDTH)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    " element %" PRIu32 ": width %d exceeds %d", j,
			    e, k + i + f, HGQ_MAX_WIDTH);
	}
	return HGQ_OK;
}

/* the arrays of a layer with weights (dense, conv) */
static int
validate_weights(const struct hgq_model *m, uint32_t j, struct hgq_err *err)
{
	const struct hgq_layer *l = &m->layers[j];
	uint64_t nw = hgq_layer_n_weights(m, j);
	uint32_t nb = hgq_layer_n_bias(m, j);

	if (!m->calibrated)
		return HGQ_OK;
	if (l->w_m == NULL || l->w_f == NULL || l->b_m == NULL ||
	    l->b_f == NULL)
		return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
		    ": calibrated model without %s mantissas", j,
		    hgq_layer_kind_name(l->kind));
	for (uint64_t e = 0; e < nw; e++)
		if (l->w_f[e] < -HGQ_MAX_WF || l->w_f[e] > HGQ_MAX_WF)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    " weight %" PRIu64 ": f = %d beyond +-%d", j, e,
			    l->w_f[e], HGQ_MAX_WF);
	for (uint32_t e = 0; e < nb; e++)
		if (l->b_f[e] < -HGQ_MAX_WF || l->b_f[e] > HGQ_MAX_WF)
			return hgq_errf(err, HGQ_EINVAL, "layer %" PRIu32
			    " bias %" PRIu32 ": f = %d beyond +-%d", j, e,
			    l->b_f[e], HGQ_MAX_WF);
	return HGQ_OK;
}

static int
validate_input(const struct hgq_model *m, struct hgq_err *err)
{
	uint32_t n = hgq_model_n_in(m);

	if (m->task > HGQ_TASK_REGRESS)
		return hgq_errf(err, HGQ_EINVAL, "task %" PRIu32
		    " out of range", m->task);
	if (m->norm > HGQ_NORM_STANDARD)
		return hgq_errf(err, HGQ_EINVAL, "normalisation kind %" PRIu32
		    " out of range", m->norm);
	if (m->n_raw > HGQ_MAX_N)
		return hgq_errf(err, HGQ_EINVAL, "%" PRIu32 " raw columns"
		    " exceed the limit %u", m->n_raw, HGQ_MAX_N);
	if (m->n_raw < n)
		return hgq_errf(err, HGQ_EINVAL, "%" PRIu32 " raw columns"
		    " cannot feed %" PRIu32 " inputs", m->n_raw, n);
	if (m->index_map == NULL)
		return hgq_errf(err, HGQ_EINVAL, "input index map missing");
	for (uint32_t e = 0; e < n; e++) {
		if (m->index_map[e] >= m->n_raw)
			return hgq_errf(err, HGQ_EINVAL, "index map entry %"
			    PRIu32 " = %" PRIu32 " is not below n_raw %"
			    PRIu32, e, m->index_map[e], m->n_raw);
		if (e > 0 && m->index_map[e] <= m->index_map[e - 1])
			return hgq_errf(err, HGQ_EINVAL, "index map entry %"
			    PRIu32 " = %" PRIu32 " is not above the one"
			    " before", e, m->index_map[e]);
	}
	if (m->norm != HGQ_NORM_NONE &&
	    (m->norm_offset == NULL || m->norm_scale == NULL))
		return hgq_errf(err, HGQ_EINVAL,
		    "normalisation without offsets and scales");
	if ((m->norm_offset == NULL) != (m->norm_scale == NULL))
		return hgq_errf(err, HGQ_EINVAL,
		    "normalisation offsets without scales or vice versa");
	if (m->norm_offset == NULL)
		return HGQ_OK;
	for (uint32_t c = 0; c < m->n_raw; c++) {
		if (!isfinite(m->norm_offset[c]))
			return hgq_errf(err, HGQ_EINVAL, "normalisation offset"
			    " of column %" PRIu32 " is not finite", c);
		if (!isfinite(m->norm_scale[c]) || m->norm_scale[c] == 0)
			return hgq_errf(err, HGQ_EINVAL, "normalisation scale"
			    " of column %" PRIu32 " is not finite and"
			    " non-zero", c);
		/* "scale" multiplies only: its offsets are 0 (hgqm.md 4.2) */
		if (m->norm == HGQ_NORM_SCALE && m->norm_offset[c] != 0)
			return hgq_errf(err, HGQ_EINVAL, "normalisation scale"
			    " with offset %.17g in column %" PRIu32 " (INPT:"
			    " its offsets are 0)", m->norm_offset[c], c);
		/* the file has no arrays for "none": they must not matter */
		if (m->norm == HGQ_NORM_NONE && (m->norm_offset[c] != 0 ||
		    m->norm_scale[c] != 1))
			return hgq_errf(err, HGQ_EINVAL, "normalisation none"
			    " with offset or scale of column %" PRIu32
			    " other than 0 and 1", c);
	}
	return HGQ_OK;
}

static int
validate_meta(const struct hgq_model *m, struct hgq_err *err)
{
	const char *why;

	if (m->n_meta > HGQ_MAX_META)
		return hgq_errf(err, HGQ_EINVAL, "%" PRIu32 " metadata"
		    " entries exceed the limit %d", m->n_meta, HGQ_MAX_META);
	if (m->n_meta > 0 && m->meta == NULL)
		return hgq_errf(err, HGQ_EINVAL, "metadata list missing");
	for (uint32_t j = 0; j < m->n_meta; j++) {
		if ((why = meta_problem(m->meta[j].key, m->meta[j].value))
		    != NULL)
			return hgq_errf(err, HGQ_EINVAL, "metadata entry %"
			    PRIu32 ": %s", j, why);
		for (uint32_t u = 0; u < j; u++)
			if (strcmp(m->meta[u].key, m->meta[j].key) == 0)
				return hgq_errf(err, HGQ_EINVAL, "metadata"
				    " key '%.64s' appears twice",
				    m->meta[j].key);
	}
	return HGQ_OK;
}

static int
validate_extra(const struct hgq_model *m, struct hgq_err *err)
{
	if (m->n_extra > HGQ_MAX_CHUNKS - 2)
		return hgq_errf(err, HGQ_EINVAL, "%" PRIu32 " extra chunks"
		    " exceed the limit %d", m->n_extra, HGQ_MAX_CHUNKS - 2);
	if (m->n_extra > 0 && m->extra == NULL)
		return hgq_errf(err, HGQ_EINVAL, "extra chunk list missing");
	for (uint32_t j = 0; j < m->n_extra; j++) {
		const struct hgq_chunk *c = &m->extra[j];

		for (int b = 0; b < 4; b++)
			if (c->id[b] < 0x21 || c->id[b] > 0x7e)
				return hgq_errf(err, HGQ_EINVAL, "extra chunk %"
				    PRIu32 ": id is not printable ASCII", j);
		for (size_t q = 0; q < sizeof(known_ids) / sizeof(*known_ids);
		    q++)
			if (memcmp(c->id, known_ids[q], 4) == 0)
				return hgq_errf(err, HGQ_EINVAL, "extra chunk"
				    " %.4s: the id of a known chunk", c->id);
		for (uint32_t u = 0; u < j; u++)
			if (memcmp(m->extra[u].id, c->id, 4) == 0)
				return hgq_errf(err, HGQ_EINVAL, "extra chunk"
				    " %.4s appears twice", c->id);
		/* bit 0 REQUIRED, bit 1 DEFLATE (hgqm.md) */
		if ((c->flags & ~(uint32_t)2) != 0)
			return hgq_errf(err, HGQ_EINVAL, "extra chunk %.4s:"
			    " flags 0x%" PRIx32 " (only an optional chunk"
			    " can be carried)", c->id, c->flags);
		if (c->len > 0 && c->data == NULL)
			return hgq_errf(err, HGQ_EINVAL, "extra chunk %.4s:"
			    " no data", c->id);
	}
	return HGQ_OK;
}

int
hgq_model_validate(const struct hgq_model *m, struct hgq_err *err)
{
	int rc;

	if ((rc = hgq_model_validate_graph(m, err)) != HGQ_OK)
		return rc;
	for (uint32_t j = 0; j < m->n_layers; j++) {
		const struct hgq_layer *l = &m->layers[j];

		if (l->kind == HGQ_LAYER_QUANT)
			rc = validate_quant(m, l, j, err);
		else if (hgq_layer_n_bias(m, j) > 0)
			rc = validate_weights(m, j, err);
		else if (l->kind == HGQ_LAYER_LUT)
			rc = validate_lut(m, j, err);
		if (rc != HGQ_OK)
			return rc;
		if ((rc = validate_tensors(m, j, err)) != HGQ_OK ||
		    (rc = validate_mask(m, j, err)) != HGQ_OK)
			return rc;
	}
	if ((rc = validate_train(m, err)) != HGQ_OK)
		return rc;
	if ((rc = validate_input(m, err)) != HGQ_OK)
		return rc;
	if ((rc = validate_meta(m, err)) != HGQ_OK)
		return rc;
	return validate_extra(m, err);
}

/* ------------------------------------------------------------------ */
/* Copy                                                                */
/* ------------------------------------------------------------------ */

/* copy n elements of size sz (NULL stays NULL); false on failure */
static bool
dup_array(void *dstp, const void *src, size_t n, size_t sz)
{
	void **dst = dstp;

	*dst = NULL;
	if (src == NULL)
		return true;
	if (sz != 0 && n > SIZE_MAX / sz)
		return false;
	*dst = hgq_calloc(n, sz);
	if (*dst == NULL)
		return false;
	if (n > 0)
		memcpy(*dst, src, n * sz);
	return true;
}

static bool
copy_layer(struct hgq_layer *d, const struct hgq_model *m, uint32_t j)
{
	const struct hgq_layer *s = &m->layers[j];
	uint64_t nw = hgq_layer_n_weights(m, j);
	size_t nb = hgq_layer_n_bias(m, j);
	bool ok = true;

	*d = *s;
	d->k = d->i = d->f = d->w_f = d->b_f = NULL;
	d->w_m = d->b_m = NULL;
	d->cal_min = d->cal_max = NULL;
	d->tensors = NULL;
	d->n_tensors = 0;
	if (s->kind == HGQ_LAYER_QUANT) {
		ok = dup_array(&d->k, s->k, s->n_out, 1) &&
		    dup_array(&d->i, s->i, s->n_out, 1) &&
		    dup_array(&d->f, s->f, s->n_out, 1) &&
		    dup_array(&d->cal_min, s->cal_min, s->n_out,
		    sizeof(double)) &&
		    dup_array(&d->cal_max, s->cal_max, s->n_out,
		    sizeof(double));
	} else if (nb > 0) {
		if (nw > SIZE_MAX)
			return false;
		ok = dup_array(&d->w_m, s->w_m, (size_t)nw,
		    sizeof(int32_t)) &&
		    dup_array(&d->w_f, s->w_f, (size_t)nw, 1) &&
		    dup_array(&d->b_m, s->b_m, nb, sizeof(int32_t)) &&
		    dup_array(&d->b_f, s->b_f, nb, 1);
	}
	if (!ok || s->n_tensors == 0 || s->tensors == NULL)
		return ok;
	d->tensors = hgq_calloc(s->n_tensors, sizeof(*d->tensors));
	if (d->tensors == NULL)
		return false;
	d->n_tensors = s->n_tensors;
	for (uint32_t t = 0; t < s->n_tensors; t++) {
		d->tensors[t].role = s->tensors[t].role;
		d->tensors[t].n = s->tensors[t].n;
		if (!dup_array(&d->tensors[t].data, s->tensors[t].data,
		    s->tensors[t].n, sizeof(float)))
			return false;
	}
	return true;
}

struct hgq_model *
hgq_model_copy(const struct hgq_model *s)
{
	struct hgq_model *d;

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	*d = *s;
	d->index_map = NULL;
	d->norm_offset = d->norm_scale = NULL;
	d->layers = NULL;
	d->n_layers = 0;
	d->meta = NULL;
	d->n_meta = 0;
	d->extra = NULL;
	d->n_extra = 0;
	if (s->n_layers > 0 && !dup_array(&d->index_map, s->index_map,
	    hgq_model_n_in(s), sizeof(uint32_t)))
		goto fail;
	if (!dup_array(&d->norm_offset, s->norm_offset, s->n_raw,
	    sizeof(double)) || !dup_array(&d->norm_scale, s->norm_scale,
	    s->n_raw, sizeof(double)))
		goto fail;
	if (s->n_layers > 0) {
		d->layers = hgq_calloc(s->n_layers, sizeof(*d->layers));
		if (d->layers == NULL)
			goto fail;
		d->n_layers = s->n_layers;
		for (uint32_t j = 0; j < s->n_layers; j++)
			if (!copy_layer(&d->layers[j], s, j))
				goto fail;
	}
	if (s->n_meta > 0) {
		d->meta = hgq_calloc(s->n_meta, sizeof(*d->meta));
		if (d->meta == NULL)
			goto fail;
		d->n_meta = s->n_meta;
		for (uint32_t j = 0; j < s->n_meta; j++) {
			d->meta[j].key = dup_string(s->meta[j].key);
			d->meta[j].value = dup_string(s->meta[j].value);
			if (d->meta[j].key == NULL || d->meta[j].value == NULL)
				goto fail;
		}
	}
	if (s->n_extra > 0) {
		d->extra = hgq_calloc(s->n_extra, sizeof(*d->extra));
		if (d->extra == NULL)
			goto fail;
		d->n_extra = s->n_extra;
		for (uint32_t j = 0; j < s->n_extra; j++) {
			d->extra[j] = s->extra[j];
			d->extra[j].data = NULL;
			if (s->extra[j].len > SIZE_MAX ||
			    !dup_array(&d->extra[j].data, s->extra[j].data,
			    (size_t)s->extra[j].len, 1))
				goto fail;
		}
	}
	return d;
fail:
	hgq_model_free(d);
	return NULL;
}

uint32_t
hgq_model_n_out(const struct hgq_model *m)
{
	uint32_t n = 0;

	if (m->n_layers == 0)
		return 0;
	for (uint32_t k = 0; k < hgq_model_n_outputs(m); k++)
		n += m->layers[hgq_model_output_layer(m, k)].n_out;
	return n;
}
