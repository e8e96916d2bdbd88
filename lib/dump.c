/*
 * dump.c - the model as JSON (DESIGN.md "The JSON dump"): the fixed
 * fields other languages build on, plus a few extra ones (task,
 * calibrated, granularities, training progress, metadata).
 *
 * The text is deterministic: two-space indentation, one layer field per
 * line, one weight row per line, integers in decimal and doubles with
 * %.17g so that they read back to the same IEEE value.  A model without
 * calibration dumps its structure with k/i/f and mantissas as null.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hgq.h"

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

static const char *
gran_name(int g)
{
	return g == HGQ_GRAN_ELEMENT ? "element" :
	    g == HGQ_GRAN_CHANNEL ? "channel" : "layer";
}

static void
dump_input(struct jw *w, const struct hgq_model *m)
{
	static const char *const norm[] = { "none", "scale", "standard" };
	bool none = m->norm == HGQ_NORM_NONE;
	uint32_t n = m->layers[0].n_in;

	jw_printf(w, "  \"input\": {\n");
	jw_printf(w, "    \"n\": %" PRIu32 ",\n", n);
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
}

static void
dump_quant(struct jw *w, const struct hgq_layer *l, bool cal)
{
	static const char *const ovf[] = { "WRAP", "SAT", "SAT_SYM" };

	jw_printf(w, "      \"kind\": \"quantizer\",\n");
	jw_printf(w, "      \"n\": %" PRIu32 ",\n", l->n_out);
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

static void
dump_dense(struct jw *w, const struct hgq_layer *l, bool cal)
{
	jw_printf(w, "      \"kind\": \"dense\",\n");
	jw_printf(w, "      \"n_in\": %" PRIu32 ",\n", l->n_in);
	jw_printf(w, "      \"n_out\": %" PRIu32 ",\n", l->n_out);
	jw_printf(w, "      \"activation\": \"%s\",\n",
	    l->act == HGQ_ACT_RELU ? "relu" : "linear");
	jw_printf(w, "      \"batchnorm\": %s,\n", l->bn ? "true" : "false");
	jw_printf(w, "      \"weight_granularity\": \"%s\",\n",
	    gran_name(l->w_gran));
	jw_printf(w, "      \"bias_granularity\": \"%s\",\n",
	    gran_name(l->b_gran));
	jw_matrix(w, "weight_mantissa", cal ? l->w_m : NULL, true, l->n_in,
	    l->n_out);
	jw_matrix(w, "weight_f", cal ? l->w_f : NULL, false, l->n_in,
	    l->n_out);
	jw_printf(w, "      \"bias_mantissa\": ");
	if (cal)
		jw_i32s(w, l->b_m, l->n_out);
	else
		jw_printf(w, "null");
	jw_printf(w, ",\n");
	jw_field_i8(w, "bias_f", cal ? l->b_f : NULL, l->n_out, true);
}

int
hgq_model_dump_json(FILE *out, const struct hgq_model *m,
    struct hgq_err *err)
{
	struct jw w = { out, false };
	bool cal = m->calibrated != 0;
	int rc;

	/* the dump indexes every array by the shapes: they must hold */
	if ((rc = hgq_model_validate(m, err)) != HGQ_OK)
		return rc;
	jw_printf(&w, "{\n");
	jw_printf(&w, "  \"format_version\": [1, %u],\n", m->format_minor);
	jw_printf(&w, "  \"task\": \"%s\",\n",
	    m->task == HGQ_TASK_CLASSIFY ? "classify" : "regress");
	jw_printf(&w, "  \"calibrated\": %s,\n", cal ? "true" : "false");
	dump_input(&w, m);
	jw_printf(&w, "  \"layers\": [\n");
	for (uint32_t j = 0; j < m->n_layers; j++) {
		jw_printf(&w, "    {\n");
		if (m->layers[j].kind == HGQ_LAYER_QUANT)
			dump_quant(&w, &m->layers[j], cal);
		else
			dump_dense(&w, &m->layers[j], cal);
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
