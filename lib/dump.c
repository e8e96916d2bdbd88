/*
 * dump.c - the model as JSON (DESIGN.md "The JSON dump"): the fixed
 * fields other languages build on, plus a few extra ones (task,
 * calibrated, granularities, training progress, metadata).
 *
 * The text is deterministic: two-space indentation, one layer field per
 * line, one weight row per line, integers in decimal and doubles with
 * %.17g so that they read back to the same IEEE value.  A model without
 * calibration dumps its structure with k/i/f and mantissas as null.
 *
 * Shapes (format 1.1): every layer also lists its inputs, input shape
 * and output shape; arrays over a tensor are flat, row-major in its shape
 * (channels last); a convolution's weights are one row per kernel tap,
 * [KH][KW][C_in] row-major, of C_out columns (Keras order flattened to
 * rows x filters, like a dense layer's n_in x n_out).
 *
 * Graphs (format 1.2): a layer of several inputs adds the shape of each
 * ("input_shapes"), a concatenation its axis, a lookup table its
 * function, a masked dense or convolution layer the number of weights
 * its mask fixes at 0; a model with named inputs and outputs lists them
 * ("inputs", "outputs": name, layer, shape, and where each input's
 * elements start in the index map).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* the output stream and whether any write failed */
struct jw {
	FILE	*f;
	bool	 bad;
};

static void jw_printf(struct jw *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
jw_printf(struct jw *w, const char *fmt, ...)
{
	va_list ap;

	if (w->bad)
		return;
	va_start(ap, fmt);
	if (vfprintf(w->f, fmt, ap) < 0)
		w->bad = true;
	va_end(ap);
}

/* a JSON string: quotes, backslash and control characters escaped */
static void
jw_string(struct jw *w, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	jw_printf(w, "\"");
	for (; *p != '\0' && !w->bad; p++) {
		switch (*p) {
		case '"':  jw_printf(w, "\\\""); break;
		case '\\': jw_printf(w, "\\\\"); break;
		case '\b': jw_printf(w, "\\b"); break;
		case '\f': jw_printf(w, "\\f"); break;
		case '\n': jw_printf(w, "\\n"); break;
		case '\r': jw_printf(w, "\\r"); break;
		case '\t': jw_printf(w, "\\t"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				jw_printf(w, "\\u%04x", *p);
			else if (putc(*p, w->f) == EOF)
				w->bad = true;
		}
	}
	jw_printf(w, "\"");
}

static void
jw_i8s(struct jw *w, const int8_t *v, size_t n)
{
	jw_printf(w, "[");
	for (size_t e = 0; e < n; e++)
		jw_printf(w, "%s%d", e ? ", " : "", v[e]);
	jw_printf(w, "]");
}

static void
jw_i32s(struct jw *w, const int32_t *v, size_t n)
{
	jw_printf(w, "[");
	for (size_t e = 0; e < n; e++)
		jw_printf(w, "%s%" PRId32, e ? ", " : "", v[e]);
	jw_printf(w, "]");
}

/* a quantizer field: the array, or null before calibration */
static void
jw_field_i8(struct jw *w, const char *name, const int8_t *v, size_t n,
    bool last)
{
	jw_printf(w, "      \"%s\": ", name);
	if (v == NULL)
		jw_printf(w, "null");
	else
		jw_i8s(w, v, n);
	jw_printf(w, "%s\n", last ? "" : ",");
}

/* an n_in x n_out matrix as n_in rows, one per line */
static void
jw_matrix(struct jw *w, const char *name, const void *v, bool wide,
    uint32_t rows, uint32_t cols)
{
	jw_printf(w, "      \"%s\": ", name);
	if (v == NULL) {
		jw_printf(w, "null,\n");
		return;
	}
	jw_printf(w, "[\n");
	for (uint32_t r = 0; r < rows; r++) {
		size_t at = (size_t)r * cols;

		jw_printf(w, "        ");
		if (wide)
			jw_i32s(w, (const int32_t *)v + at, cols);
		else
			jw_i8s(w, (const int8_t *)v + at, cols);
		jw_printf(w, "%s\n", r + 1 < rows ? "," : "");
	}
	jw_printf(w, "      ],\n");
}

static void
jw_u32s(struct jw *w, const uint32_t *v, size_t n)
{
	jw_printf(w, "[");
	for (size_t e = 0; e < n; e++)
		jw_printf(w, "%s%" PRIu32, e ? ", " : "", v[e]);
	jw_printf(w, "]");
}

/* the shape of layer ref, or of the model input it names */
static uint32_t
ref_shape(const struct hgq_model *m, uint32_t ref, uint32_t d[HGQ_MAX_RANK])
{
	uint32_t k = ref & ~HGQ_REF_INPUT;

	if ((ref & HGQ_REF_INPUT) == 0)
		return hgq_layer_shape(&m->layers[ref], d);
	/* model input k: the shape of the quantizer that reads it */
	return hgq_layer_shape(&m->layers[hgq_model_input_layer(m, k)], d);
}

/* "input_shapes": every input's shape, for a layer of several */
static void
dump_in_shapes(struct jw *w, const struct hgq_model *m, uint32_t j)
{
	uint32_t d[HGQ_MAX_RANK], r;

	jw_printf(w, "      \"input_shapes\": [");
	for (uint32_t q = 0; q < hgq_layer_n_inputs(&m->layers[j]); q++) {
		r = ref_shape(m, hgq_layer_input(m, j, q), d);
		jw_printf(w, "%s", q ? ", " : "");
		jw_u32s(w, d, r);
	}
	jw_printf(w, "],\n");
}

/* "inputs", "input_shape" and "shape" of layer j (every kind) */
static void
dump_shapes(struct jw *w, const struct hgq_model *m, uint32_t j, bool last)
{
	uint32_t d[HGQ_MAX_RANK], r;

	jw_printf(w, "      \"inputs\": [");
	for (uint32_t q = 0; q < hgq_layer_n_inputs(&m->layers[j]); q++) {
		uint32_t ref = hgq_layer_input(m, j, q);

		if (ref & HGQ_REF_INPUT)
			jw_printf(w, "%s{\"input\": %" PRIu32 "}",
			    q ? ", " : "", ref & ~HGQ_REF_INPUT);
		else
			jw_printf(w, "%s{\"layer\": %" PRIu32 "}",
			    q ? ", " : "", ref);
	}
	jw_printf(w, "],\n");
	r = hgq_layer_in_shape(m, j, d);
	jw_printf(w, "      \"input_shape\": ");
	jw_u32s(w, d, r);
	jw_printf(w, ",\n");
	if (hgq_layer_n_inputs(&m->layers[j]) > 1)
		dump_in_shapes(w, m, j);
	r = hgq_layer_shape(&m->layers[j], d);
	jw_printf(w, "      \"shape\": ");
	jw_u32s(w, d, r);
	jw_printf(w, "%s\n", last ? "" : ",");
}

/* a window's two numbers, or the second alone for a 1-D layer */
static void
jw_window(struct jw *w, const char *name, const uint32_t *v, bool one_d)
{
	jw_printf(w, "      \"%s\": ", name);
	jw_u32s(w, one_d ? v + 1 : v, one_d ? 1 : 2);
	jw_printf(w, ",\n");
}

static const char *
gran_name(int g)
{
	return g == HGQ_GRAN_ELEMENT ? "element" :
	    g == HGQ_GRAN_CHANNEL ? "channel" : "layer";
}

/*
 * "inputs" and "outputs" of a model with named ones: name, layer, shape,
 * elements, and for an input where its elements start in the index map
 */
static void
dump_ports(struct jw *w, const struct hgq_model *m, bool out)
{
	const struct hgq_port *p = out ? m->out_ports : m->in_ports;
	uint32_t n = out ? m->n_out_ports : m->n_in_ports;
	uint32_t d[HGQ_MAX_RANK], r;

	jw_printf(w, "  \"%s\": [\n", out ? "outputs" : "inputs");
	for (uint32_t k = 0; k < n; k++) {
		const struct hgq_layer *l = &m->layers[p[k].layer];

		r = hgq_layer_shape(l, d);
		jw_printf(w, "    {\"name\": ");
		jw_string(w, p[k].name);
		jw_printf(w, ", \"layer\": %" PRIu32 ", \"shape\": ",
		    p[k].layer);
		jw_u32s(w, d, r);
		jw_printf(w, ", \"n\": %" PRIu32, l->n_out);
		if (!out)
			jw_printf(w, ", \"index_map_offset\": %" PRIu32,
			    hgq_model_input_offset(m, k));
		jw_printf(w, "}%s\n", k + 1 < n ? "," : "");
	}
	jw_printf(w, "  ],\n");
}

static void
dump_input(struct jw *w, const struct hgq_model *m)
{
	static const char *const norm[] = { "none", "scale", "standard" };
	bool none = m->norm == HGQ_NORM_NONE;
	uint32_t n = hgq_model_n_in(m), d[HGQ_MAX_RANK], r;

	jw_printf(w, "  \"input\": {\n");
	jw_printf(w, "    \"n\": %" PRIu32 ",\n", n);
	if (m->n_in_ports == 0) {
		/* one input: its shape (several: "inputs" below) */
		r = hgq_layer_shape(&m->layers[0], d);
		jw_printf(w, "    \"shape\": ");
		jw_u32s(w, d, r);
		jw_printf(w, ",\n");
	}
	jw_printf(w, "    \"n_raw\": %" PRIu32 ",\n", m->n_raw);
	jw_printf(w, "    \"index_map\": [");
	for (uint32_t e = 0; e < n; e++)
		jw_printf(w, "%s%" PRIu32, e ? ", " : "", m->index_map[e]);
	jw_printf(w, "],\n");
	jw_printf(w, "    \"normalize\": {\n");
	jw_printf(w, "      \"kind\": \"%s\",\n", norm[m->norm]);
	jw_printf(w, "      \"offset\": [");
	for (uint32_t c = 0; c < m->n_raw; c++)
		jw_printf(w, "%s%.17g", c ? ", " : "",
		    none ? 0.0 : m->norm_offset[c]);
	jw_printf(w, "],\n");
	jw_printf(w, "      \"scale\": [");
	for (uint32_t c = 0; c < m->n_raw; c++)
		jw_printf(w, "%s%.17g", c ? ", " : "",
		    none ? 1.0 : m->norm_scale[c]);
	jw_printf(w, "]\n");
	jw_printf(w, "    }\n");
	jw_printf(w, "  },\n");
	if (m->n_in_ports > 0)
		dump_ports(w, m, false);
	if (m->n_out_ports > 0)
		dump_ports(w, m, true);
}

static void
dump_quant(struct jw *w, const struct hgq_model *m, uint32_t j, bool cal)
{
	static const char *const ovf[] = { "WRAP", "SAT", "SAT_SYM" };
	const struct hgq_layer *l = &m->layers[j];

	jw_printf(w, "      \"kind\": \"quantizer\",\n");
	jw_printf(w, "      \"n\": %" PRIu32 ",\n", l->n_out);
	dump_shapes(w, m, j, false);
	jw_printf(w, "      \"round\": \"%s\",\n",
	    l->round == HGQ_RND ? "RND" : "TRN");
	jw_printf(w, "      \"overflow\": \"%s\",\n", ovf[l->overflow]);
	jw_printf(w, "      \"granularity\": \"%s\",\n", gran_name(l->gran));
	jw_printf(w, "      \"trainable\": %s,\n",
	    l->trainable ? "true" : "false");
	jw_field_i8(w, "k", cal ? l->k : NULL, l->n_out, false);
	jw_field_i8(w, "i", cal ? l->i : NULL, l->n_out, false);
	jw_field_i8(w, "f", cal ? l->f : NULL, l->n_out, true);
}

/* a weight mask: "mask": true and the weights it fixes at 0 */
static void
dump_mask(struct jw *w, const struct hgq_layer *l)
{
	const struct hgq_tensor *t = hgq_layer_tensor(l, HGQ_ROLE_MASK);
	uint32_t zeros = 0;

	if (t == NULL)
		return;
	for (uint32_t e = 0; e < t->n; e++)
		zeros += t->data[e] == 0.0f;
	jw_printf(w, "      \"mask\": true,\n");
	jw_printf(w, "      \"masked_weights\": %" PRIu32 ",\n", zeros);
}

/*
 * a dense or convolution layer; a convolution's weight matrix has one
 * row per kernel tap (KH*KW*C_in) and C_out columns
 */
static void
dump_dense(struct jw *w, const struct hgq_model *m, uint32_t j, bool cal)
{
	const struct hgq_layer *l = &m->layers[j];
	bool conv = l->kind != HGQ_LAYER_DENSE;
	bool one_d = l->kind == HGQ_LAYER_CONV1D;
	uint32_t nc = hgq_layer_n_bias(m, j);
	uint32_t rows = (uint32_t)(hgq_layer_n_weights(m, j) / nc);
	uint32_t di[HGQ_MAX_RANK], ri;

	jw_printf(w, "      \"kind\": \"%s\",\n",
	    hgq_layer_kind_name(l->kind));
	jw_printf(w, "      \"n_in\": %" PRIu32 ",\n", l->n_in);
	jw_printf(w, "      \"n_out\": %" PRIu32 ",\n", l->n_out);
	dump_shapes(w, m, j, false);
	if (conv) {
		ri = hgq_layer_in_shape(m, j, di);
		jw_printf(w, "      \"filters\": %" PRIu32 ",\n", nc);
		jw_window(w, "kernel", l->kernel, one_d);
		jw_window(w, "stride", l->stride, one_d);
		jw_printf(w, "      \"padding\": \"%s\",\n",
		    l->padding == HGQ_PAD_SAME ? "same" : "valid");
		jw_printf(w, "      \"weight_shape\": [");
		if (!one_d)
			jw_printf(w, "%" PRIu32 ", ", l->kernel[0]);
		jw_printf(w, "%" PRIu32 ", %" PRIu32 ", %" PRIu32 "],\n",
		    l->kernel[1], di[ri - 1], nc);
	}
	jw_printf(w, "      \"activation\": \"%s\",\n",
	    l->act == HGQ_ACT_RELU ? "relu" : "linear");
	jw_printf(w, "      \"batchnorm\": %s,\n", l->bn ? "true" : "false");
	jw_printf(w, "      \"weight_granularity\": \"%s\",\n",
	    gran_name(l->w_gran));
	jw_printf(w, "      \"bias_granularity\": \"%s\",\n",
	    gran_name(l->b_gran));
	dump_mask(w, l);
	jw_matrix(w, "weight_mantissa", cal ? l->w_m : NULL, true, rows,
	    nc);
	jw_matrix(w, "weight_f", cal ? l->w_f : NULL, false, rows, nc);
	jw_printf(w, "      \"bias_mantissa\": ");
	if (cal)
		jw_i32s(w, l->b_m, nc);
	else
		jw_printf(w, "null");
	jw_printf(w, ",\n");
	jw_field_i8(w, "bias_f", cal ? l->b_f : NULL, nc, true);
}

/* max/avg pooling and flatten: shapes and the window */
static void
dump_reshape(struct jw *w, const struct hgq_model *m, uint32_t j)
{
	const struct hgq_layer *l = &m->layers[j];
	uint32_t d[HGQ_MAX_RANK], r = hgq_layer_in_shape(m, j, d);

	jw_printf(w, "      \"kind\": \"%s\",\n",
	    hgq_layer_kind_name(l->kind));
	jw_printf(w, "      \"n_in\": %" PRIu32 ",\n", l->n_in);
	jw_printf(w, "      \"n_out\": %" PRIu32 ",\n", l->n_out);
	if (l->kind != HGQ_LAYER_FLATTEN) {
		jw_window(w, "pool", l->kernel, r == 2);
		jw_window(w, "stride", l->stride, r == 2);
	}
	if (l->kind == HGQ_LAYER_AVGPOOL) {
		/* the window sum is divided by 2^shift (hgqm.md 4.3.2) */
		int shift = 0;

		while (((uint64_t)1 << shift) <
		    (uint64_t)l->kernel[0] * l->kernel[1])
			shift++;
		jw_printf(w, "      \"shift\": %d,\n", shift);
	}
	dump_shapes(w, m, j, true);
}

/* add, subtract, concatenate (its axis), lookup table (its function) */
static void
dump_combine(struct jw *w, const struct hgq_model *m, uint32_t j)
{
	const struct hgq_layer *l = &m->layers[j];
	const char *fn = hgq_func_name(l->func);

	jw_printf(w, "      \"kind\": \"%s\",\n",
	    hgq_layer_kind_name(l->kind));
	jw_printf(w, "      \"n_in\": %" PRIu32 ",\n", l->n_in);
	jw_printf(w, "      \"n_out\": %" PRIu32 ",\n", l->n_out);
	if (l->kind == HGQ_LAYER_CONCAT)
		jw_printf(w, "      \"axis\": %u,\n", l->axis);
	if (l->kind == HGQ_LAYER_LUT)
		jw_printf(w, "      \"function\": \"%s\",\n",
		    fn != NULL ? fn : "unknown");
	dump_shapes(w, m, j, true);
}

int
hgq_model_dump_json(FILE *out, const struct hgq_model *m,
    struct hgq_err *err)
{
	struct jw w = { out, false };
	bool cal = m->calibrated != 0;
	unsigned minor;
	int rc;

	/* the dump indexes every array by the shapes: they must hold */
	if ((rc = hgq_model_validate(m, err)) != HGQ_OK)
		return rc;
	jw_printf(&w, "{\n");
	/* the file's version; a model made in memory: what the writer gives */
	minor = hgq_model_format_minor(m);
	if (m->format_minor > minor)
		minor = m->format_minor;
	jw_printf(&w, "  \"format_version\": [1, %u],\n", minor);
	jw_printf(&w, "  \"task\": \"%s\",\n",
	    m->task == HGQ_TASK_CLASSIFY ? "classify" : "regress");
	jw_printf(&w, "  \"calibrated\": %s,\n", cal ? "true" : "false");
	dump_input(&w, m);
	jw_printf(&w, "  \"layers\": [\n");
	for (uint32_t j = 0; j < m->n_layers; j++) {
		jw_printf(&w, "    {\n");
		if (m->layers[j].kind == HGQ_LAYER_QUANT)
			dump_quant(&w, m, j, cal);
		else if (hgq_layer_n_bias(m, j) > 0)
			dump_dense(&w, m, j, cal);
		else if (m->layers[j].kind >= HGQ_LAYER_ADD)
			dump_combine(&w, m, j);
		else
			dump_reshape(&w, m, j);
		jw_printf(&w, "    }%s\n", j + 1 < m->n_layers ? "," : "");
	}
	jw_printf(&w, "  ]");
	if (m->has_train)
		jw_printf(&w, ",\n  \"train\": {\"epoch\": %" PRIu32
		    ", \"step\": %" PRIu64 "}", m->train.epoch,
		    m->train.step);
	if (m->n_meta > 0) {
		jw_printf(&w, ",\n  \"meta\": {\n");
		for (uint32_t e = 0; e < m->n_meta; e++) {
			jw_printf(&w, "    ");
			jw_string(&w, m->meta[e].key);
			jw_printf(&w, ": ");
			jw_string(&w, m->meta[e].value);
			jw_printf(&w, "%s\n", e + 1 < m->n_meta ? "," : "");
		}
		jw_printf(&w, "  }");
	}
	jw_printf(&w, "\n}\n");
	if (fflush(out) != 0)
		w.bad = true;
	if (w.bad || ferror(out))
		return hgq_errf(err, HGQ_EIO, "write error: %s",
		    strerror(errno));
	return HGQ_OK;
}
