/*
 * ebops.c - exact EBOPs of a calibrated model (DESIGN.md "EBOPs"): for
 * every multiplication a_i * w_ij of a dense layer, or of a convolution
 * at every output position and kernel tap that meets a real (not padding)
 * input element, the bits of the input element (k+i+f of the layer's own
 * input quantizer, hgq_layer_input()) times the span of the non-zero bits
 * of the weight mantissa - counted only when the product can reach an
 * output (the liveness analysis below), so that pruning, which removes
 * exactly what cannot, leaves EBOPs unchanged.  Add, subtract,
 * concatenate and lookup tables (format 1.2) count 0: EBOPs count
 * multiplications (a table's cost is its ROM, in the emitter's report).
 *
 * Also the per-layer report of hgq-ebops (counts, histograms, a LUT
 * estimate) and its three printed forms: text table, TSV and JSON.
 */
#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * The fit is in double precision: ebops < 2^53 converts exactly, pow is
 * within an ulp or so in every libm we know, and llround rounds halves
 * away from zero.  A result within an ulp of a tie could differ between
 * libms; the values the tests compare are not (check_ebops.c).  Beyond
 * 2^62 (no real network) the estimate saturates at UINT64_MAX.
 */
uint64_t
hgq_ebops_lut_estimate(uint64_t ebops)
{
	double v;

	if (ebops == 0)
		return 0;
	v = HGQ_LUT_FIT_A * pow((double)ebops, HGQ_LUT_FIT_B);
	return v < 0x1p62 ? (uint64_t)llround(v) : UINT64_MAX;
}

/* ------------------------------------------------------------------ */
/* Liveness                                                            */
/* ------------------------------------------------------------------ */

void
hgq_model_live_release(uint8_t **live, uint32_t n_layers)
{
	if (live == NULL)
		return;
	for (uint32_t l = 0; l < n_layers; l++) {
		free(live[l]);
		live[l] = NULL;
	}
}

/* the quantizer layer that reads operation l (its output) */
static uint32_t
op_reader(const struct hgq_model *m, uint32_t l)
{
	for (uint32_t j = l + 1; j < m->n_layers; j++)
		if (m->layers[j].kind == HGQ_LAYER_QUANT &&
		    hgq_layer_input(m, j, 0) == l)
			return j;
	return l;	/* not in a valid model */
}

/* flags of input k of concatenate l |= next of its part of the output */
static void
live_concat(const struct hgq_model *m, uint32_t l, uint32_t k, uint8_t *flags,
    const uint8_t *next)
{
	size_t outer, seg[HGQ_MAX_LAYER_INPUTS], off = 0, total = 0;
	uint32_t n = hgq_layer_n_inputs(&m->layers[l]);

	hgq_layer_concat_runs(m, l, &outer, seg);
	for (uint32_t u = 0; u < n; u++) {
		off += u < k ? seg[u] : 0;
		total += seg[u];
	}
	for (size_t o = 0; o < outer; o++)
		for (size_t e = 0; e < seg[k]; e++)
			flags[o * seg[k] + e] |= next[o * total + off + e];
}

/* flags of the input of windowed op d (layer l) |= those reaching next */
static int
live_window(const struct hgq_model *m, uint32_t l, uint8_t *flags,
    const uint8_t *next)
{
	const struct hgq_layer *d = &m->layers[l];
	struct hgq_window w;
	uint32_t *idx;

	if (hgq_layer_window(m, l, &w, NULL) != HGQ_OK)
		return HGQ_EINVAL;
	if ((idx = hgq_calloc(w.n_taps, sizeof(uint32_t))) == NULL)
		return HGQ_ENOMEM;
	for (uint32_t p = 0; p < w.n_pos; p++) {
		hgq_window_taps(&w, p, idx);
		for (uint32_t t = 0; t < w.n_taps; t++) {
			uint32_t i = idx[t];

			if (i == HGQ_TAP_PAD || flags[i])
				continue;
			if (d->kind == HGQ_LAYER_MAXPOOL ||
			    d->kind == HGQ_LAYER_AVGPOOL) {
				flags[i] = next[(size_t)p * w.out_c +
				    t % w.in_c];
				continue;
			}
			for (uint32_t co = 0; co < w.out_c && !flags[i]; co++)
				flags[i] = d->w_m[(size_t)t * w.out_c + co] !=
				    0 && next[(size_t)p * w.out_c + co];
		}
	}
	free(idx);
	return HGQ_OK;
}

/*
 * live_sweep - mark (or) the elements of input k of operation l that
 * reach a live element next of its output quantizer: through a
 * non-zero weight of a dense layer or of a convolution's tap at some
 * output position (padding taps read no element), any window of a
 * pooling layer, the same element of a flatten, add, subtract or
 * lookup table, its place in a concatenation.
 */
static int
live_sweep(const struct hgq_model *m, uint32_t l, uint32_t k, uint8_t *flags,
    const uint8_t *next)
{
	const struct hgq_layer *d = &m->layers[l];
	uint32_t n = m->layers[hgq_layer_input(m, l, k)].n_out;

	switch (d->kind) {
	case HGQ_LAYER_DENSE:
		for (uint32_t i = 0; i < n; i++) {
			const int32_t *row = d->w_m + (size_t)i * d->n_out;

			for (uint32_t j = 0; j < d->n_out && !flags[i]; j++)
				flags[i] = row[j] != 0 && next[j];
		}
		return HGQ_OK;
	case HGQ_LAYER_FLATTEN:
	case HGQ_LAYER_ADD:
	case HGQ_LAYER_SUB:
	case HGQ_LAYER_LUT:
		for (uint32_t i = 0; i < n; i++)
			flags[i] |= next[i];
		return HGQ_OK;
	case HGQ_LAYER_CONCAT:
		live_concat(m, l, k, flags, next);
		return HGQ_OK;
	default:
		return live_window(m, l, flags, next);
	}
}

int
hgq_model_live(const struct hgq_model *m, uint8_t **live, struct hgq_err *err)
{
	return hgq_model_live_zero(m, live, NULL, err);
}

/* is quantizer j a model output? */
static int
is_output(const struct hgq_model *m, uint32_t j)
{
	for (uint32_t k = 0; k < hgq_model_n_outputs(m); k++)
		if (hgq_model_output_layer(m, k) == j)
			return 1;
	return 0;
}

/*
 * live_final - quantizer j's elements, reached (flags) from the layers
 * reading it, are live when their width is > 0 and they are not known
 * to be 0 (zero, or NULL); an output's are live with any width > 0.
 */
static void
live_final(const struct hgq_model *m, uint32_t j, uint8_t *flags,
    const uint8_t *zero)
{
	const struct hgq_layer *q = &m->layers[j];
	int out = is_output(m, j);

	for (uint32_t i = 0; i < q->n_out; i++) {
		int w = hgq_fmt_width(q->k[i], q->i[i], q->f[i]) > 0;

		flags[i] = (out && w) || (flags[i] && w &&
		    (zero == NULL || !zero[i]));
	}
}

int
hgq_model_live_zero(const struct hgq_model *m, uint8_t **live,
    uint8_t *const *zero, struct hgq_err *err)
{
	uint32_t nl = m->n_layers;
	int rc = HGQ_OK;

	for (uint32_t l = 0; l < nl; l++)
		live[l] = NULL;
	if ((rc = hgq_model_validate(m, err)) != HGQ_OK)
		return rc;
	if (!m->calibrated)
		return hgq_errf(err, HGQ_EINVAL, "model was never calibrated");
	for (uint32_t l = 0; l < nl; l++) {
		if (m->layers[l].kind != HGQ_LAYER_QUANT)
			continue;
		live[l] = hgq_calloc(m->layers[l].n_out, 1);
		if (live[l] == NULL) {
			hgq_model_live_release(live, nl);
			return hgq_errf(err, HGQ_ENOMEM, "out of memory");
		}
	}
	/*
	 * Backwards in layer order: every reader of a quantizer comes
	 * after it, so its flags are complete when the sweep reaches it.
	 */
	for (uint32_t l = nl; l-- > 0 && rc == HGQ_OK;) {
		const struct hgq_layer *d = &m->layers[l];
		const uint8_t *next;

		if (d->kind == HGQ_LAYER_QUANT) {
			live_final(m, l, live[l], zero != NULL ? zero[l] :
			    NULL);
			continue;
		}
		next = live[op_reader(m, l)];
		for (uint32_t k = 0; k < hgq_layer_n_inputs(d) &&
		    rc == HGQ_OK; k++)
			rc = live_sweep(m, l, k, live[hgq_layer_input(m, l,
			    k)], next);
	}
	if (rc != HGQ_OK) {
		hgq_model_live_release(live, nl);
		return hgq_errf(err, rc, rc == HGQ_ENOMEM ? "out of memory" :
		    "a layer has no window");
	}
	return HGQ_OK;
}

/* ------------------------------------------------------------------ */
/* EBOPs                                                               */
/* ------------------------------------------------------------------ */

/*
 * layer_stats - every count of operation l (its first input quantizer,
 * hgq_layer_input(), and the liveness flags of that input and of its
 * output quantizer).  A
 * dense layer counts each weight once (one multiplication); a
 * convolution each (output position, tap on a real input element,
 * filter) - every multiplication of the fully parallel design -, and its
 * weight counts and span histogram are of the kernel's weights that take
 * part in at least one counted multiplication.  Pooling, flatten, add,
 * subtract, concatenate and lookup tables have no weights and 0 EBOPs
 * (the adders of add and subtract are not multiplications - those
 * inside a dense layer are not counted either -, and a table's cost is
 * its ROM, in the emitter's report); the counts of the inputs are those
 * of the first input.
 */
static int
layer_stats(struct hgq_ebops_stats *s, const struct hgq_model *m,
    uint32_t l, const uint8_t *live_in, const uint8_t *live_out)
{
	const struct hgq_layer *q = &m->layers[hgq_layer_input(m, l, 0)];
	const struct hgq_layer *d = &m->layers[l];
	struct hgq_window w;
	uint32_t *idx = NULL;
	uint8_t *used = NULL;

	memset(s, 0, sizeof(*s));
	s->index = l;
	s->kind = d->kind;
	s->n_in = d->n_in;
	s->n_out = d->n_out;
	s->weights = hgq_layer_n_weights(m, l);
	for (uint32_t i = 0; i < d->n_in; i++) {
		int bits = hgq_fmt_width(q->k[i], q->i[i], q->f[i]);

		if (bits == 0)
			s->act_pruned++;
		if (!live_in[i]) {
			s->inputs_pruned++;
			continue;
		}
		/* validation keeps widths <= HGQ_MAX_WIDTH < NBINS */
		s->width_hist[bits < HGQ_EBOPS_NBINS ? bits :
		    HGQ_EBOPS_NBINS - 1]++;
	}
	for (uint32_t j = 0; j < d->n_out; j++)
		s->outputs_pruned += !live_out[j];
	if (d->kind == HGQ_LAYER_DENSE) {
		for (uint32_t i = 0; i < d->n_in; i++) {
			const int32_t *row = d->w_m + (size_t)i * d->n_out;
			int bits = hgq_fmt_width(q->k[i], q->i[i], q->f[i]);

			if (!live_in[i])
				continue;
			for (uint32_t j = 0; j < d->n_out; j++) {
				int span;

				if (row[j] == 0 || !live_out[j])
					continue;
				span = hgq_span(row[j]);  /* <= 32, int32 */
				s->nonzero++;
				s->span_hist[span]++;
				s->ebops += (uint64_t)bits * (uint64_t)span;
			}
		}
		s->mults = s->nonzero;
		s->dense8 = 64 * (uint64_t)d->n_in * d->n_out;
	} else if (d->kind == HGQ_LAYER_CONV1D ||
	    d->kind == HGQ_LAYER_CONV2D) {
		if (hgq_layer_window(m, l, &w, NULL) != HGQ_OK)
			return HGQ_EINVAL;
		if ((idx = hgq_calloc(w.n_taps, sizeof(uint32_t))) == NULL ||
		    (used = hgq_calloc(s->weights, 1)) == NULL) {
			free(idx);
			return HGQ_ENOMEM;
		}
		for (uint32_t p = 0; p < w.n_pos; p++) {
			hgq_window_taps(&w, p, idx);
			for (uint32_t t = 0; t < w.n_taps; t++) {
				uint32_t i = idx[t];
				int bits;

				if (i != HGQ_TAP_PAD)
					s->dense8 += 64 * (uint64_t)w.out_c;
				if (i == HGQ_TAP_PAD || !live_in[i])
					continue;
				bits = hgq_fmt_width(q->k[i], q->i[i],
				    q->f[i]);
				for (uint32_t co = 0; co < w.out_c; co++) {
					size_t wi = (size_t)t * w.out_c + co;

					if (d->w_m[wi] == 0 || !live_out[
					    (size_t)p * w.out_c + co])
						continue;
					s->mults++;
					s->ebops += (uint64_t)bits *
					    (uint64_t)hgq_span(d->w_m[wi]);
					used[wi] = 1;
				}
			}
		}
		for (uint64_t wi = 0; wi < s->weights; wi++) {
			if (!used[wi])
				continue;
			s->nonzero++;
			s->span_hist[hgq_span(d->w_m[wi])]++;
		}
		free(idx);
		free(used);
	}
	s->pruned = s->weights - s->nonzero;
	s->span_hist[0] = s->pruned;
	s->width_hist[0] = s->inputs_pruned;
	s->uniform8 = 64 * s->mults;
	s->lut_estimate = hgq_ebops_lut_estimate(s->ebops);
	return HGQ_OK;
}

uint64_t
hgq_ebops_layer(const struct hgq_model *m, uint32_t l)
{
	struct hgq_ebops_stats *s;
	uint8_t **live;
	uint64_t e;
	int rc;

	if (l == 0 || l >= m->n_layers || !m->calibrated ||
	    m->layers[l].kind == HGQ_LAYER_QUANT)
		return 0;
	live = hgq_calloc(m->n_layers, sizeof(*live));
	s = malloc(sizeof(*s));
	if (live == NULL || s == NULL) {
		free(live);
		free(s);
		return HGQ_EBOPS_ENOMEM;
	}
	rc = hgq_model_live(m, live, NULL);
	if (rc == HGQ_OK)
		rc = layer_stats(s, m, l, live[hgq_layer_input(m, l, 0)],
		    live[op_reader(m, l)]);
	if (rc == HGQ_OK)
		e = s->ebops;
	else
		e = rc == HGQ_ENOMEM ? HGQ_EBOPS_ENOMEM : 0;
	hgq_model_live_release(live, m->n_layers);
	free(live);
	free(s);
	return e;
}

uint64_t
hgq_ebops_total(const struct hgq_model *m)
{
	struct hgq_ebops_report r;
	struct hgq_err err = HGQ_ERR_INIT;
	uint64_t e;
	int rc;

	if (!m->calibrated)
		return 0;
	rc = hgq_ebops_report(m, &r, &err);
	if (rc != HGQ_OK)
		return rc == HGQ_ENOMEM ? HGQ_EBOPS_ENOMEM : 0;
	e = r.total;
	hgq_ebops_report_release(&r);
	return e;
}

int
hgq_ebops_report(const struct hgq_model *m, struct hgq_ebops_report *r,
    struct hgq_err *err)
{
	uint8_t **live;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = hgq_model_validate(m, err)) != HGQ_OK)
		return rc;
	if (!m->calibrated)
		return hgq_errf(err, HGQ_EINVAL, "model was never calibrated");
	for (uint32_t l = 0; l < m->n_layers; l++)
		r->n_dense += m->layers[l].kind != HGQ_LAYER_QUANT;
	r->layer = hgq_calloc(r->n_dense, sizeof(*r->layer));
	live = hgq_calloc(m->n_layers, sizeof(*live));
	if (r->layer == NULL || live == NULL) {
		free(live);
		hgq_ebops_report_release(r);
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	}
	if ((rc = hgq_model_live(m, live, err)) != HGQ_OK) {
		free(live);
		hgq_ebops_report_release(r);
		return rc;
	}
	for (uint32_t n = 0, l = 0; n < r->n_dense; n++, l++) {
		struct hgq_ebops_stats *s = &r->layer[n];

		while (m->layers[l].kind == HGQ_LAYER_QUANT)
			l++;
		if ((rc = layer_stats(s, m, l, live[hgq_layer_input(m, l, 0)],
		    live[op_reader(m, l)])) != HGQ_OK) {
			hgq_model_live_release(live, m->n_layers);
			free(live);
			hgq_ebops_report_release(r);
			return hgq_errf(err, rc, rc == HGQ_ENOMEM ?
			    "out of memory" : "layer %u: no window", l);
		}
		r->total += s->ebops;
		r->weights += s->weights;
		r->nonzero += s->nonzero;
		r->pruned += s->pruned;
		r->uniform8 += s->uniform8;
		r->dense8 += s->dense8;
	}
	r->lut_estimate = hgq_ebops_lut_estimate(r->total);
	hgq_model_live_release(live, m->n_layers);
	free(live);
	return HGQ_OK;
}

void
hgq_ebops_report_release(struct hgq_ebops_report *r)
{
	if (r == NULL)
		return;
	free(r->layer);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------------ */
/* Printing                                                            */
/* ------------------------------------------------------------------ */

/* the name of row n: its kind and its number among that kind's rows */
static void
row_name(const struct hgq_ebops_report *r, uint32_t n, char *buf,
    size_t len)
{
	uint32_t c = 0;

	for (uint32_t a = 0; a <= n; a++)
		c += r->layer[a].kind == r->layer[n].kind;
	snprintf(buf, len, "%s_%" PRIu32, hgq_layer_kind_name(
	    r->layer[n].kind), c);
}

/* bins 0..n-1 hold every non-zero count (at least one bin) */
static int
hist_len(const uint64_t *h)
{
	int n = HGQ_EBOPS_NBINS;

	while (n > 1 && h[n - 1] == 0)
		n--;
	return n;
}

/* h[0..n) as "a<sep>b<sep>c" */
static void
put_hist(FILE *f, const uint64_t *h, int n, const char *sep)
{
	for (int b = 0; b < n; b++)
		fprintf(f, "%s%" PRIu64, b > 0 ? sep : "", h[b]);
}

static void
write_json(FILE *f, const struct hgq_ebops_report *r)
{
	fprintf(f, "{\n");
	fprintf(f, "  \"total_ebops\": %" PRIu64 ",\n", r->total);
	fprintf(f, "  \"lut_estimate\": %" PRIu64 ",\n", r->lut_estimate);
	fprintf(f, "  \"lut_estimate_from\": \"ebops\",\n");
	fprintf(f, "  \"uniform8_ebops\": %" PRIu64 ",\n", r->uniform8);
	fprintf(f, "  \"dense8_ebops\": %" PRIu64 ",\n", r->dense8);
	fprintf(f, "  \"weights\": %" PRIu64 ",\n", r->weights);
	fprintf(f, "  \"nonzero_weights\": %" PRIu64 ",\n", r->nonzero);
	fprintf(f, "  \"pruned\": %" PRIu64 ",\n", r->pruned);
	fprintf(f, "  \"layers\": [");
	for (uint32_t n = 0; n < r->n_dense; n++) {
		const struct hgq_ebops_stats *s = &r->layer[n];
		char name[32];

		row_name(r, n, name, sizeof(name));
		fprintf(f, "%s\n    {\"name\": \"%s\", "
		    "\"index\": %" PRIu32 ", \"n_in\": %" PRIu32 ", "
		    "\"n_out\": %" PRIu32 ", \"ebops\": %" PRIu64 ", "
		    "\"weights\": %" PRIu64 ", \"nonzero_weights\": %" PRIu64
		    ", \"pruned\": %" PRIu64 ", \"act_pruned\": %" PRIu32 ", "
		    "\"inputs_pruned\": %" PRIu32 ", \"outputs_pruned\": %"
		    PRIu32 ", \"span_hist\": [", n > 0 ? "," : "", name,
		    s->index, s->n_in, s->n_out, s->ebops, s->weights,
		    s->nonzero, s->pruned, s->act_pruned, s->inputs_pruned,
		    s->outputs_pruned);
		put_hist(f, s->span_hist, hist_len(s->span_hist), ", ");
		fprintf(f, "], \"width_hist\": [");
		put_hist(f, s->width_hist, hist_len(s->width_hist), ", ");
		fprintf(f, "], \"uniform8_ebops\": %" PRIu64 ", "
		    "\"lut_estimate\": %" PRIu64, s->uniform8,
		    s->lut_estimate);
		/* the dense rows keep the fields of format 1.0's reports */
		if (s->kind != HGQ_LAYER_DENSE)
			fprintf(f, ", \"kind\": \"%s\", \"multiplications\": "
			    "%" PRIu64, hgq_layer_kind_name(s->kind),
			    s->mults);
		fputc('}', f);
	}
	fprintf(f, "\n  ]\n}\n");
}

static void
write_tsv(FILE *f, const struct hgq_ebops_report *r)
{
	fprintf(f, "#layer\tindex\tn_in\tn_out\tebops\tweights\tnonzero"
	    "\tpruned\tact_pruned\tinputs_pruned\toutputs_pruned\tuniform8"
	    "\tlut_estimate\tspan_hist\twidth_hist\n");
	for (uint32_t n = 0; n < r->n_dense; n++) {
		const struct hgq_ebops_stats *s = &r->layer[n];
		char name[32];

		row_name(r, n, name, sizeof(name));
		fprintf(f, "%s\t%" PRIu32 "\t%" PRIu32 "\t%"
		    PRIu32 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
		    "\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu64 "\t%"
		    PRIu64 "\t", name, s->index, s->n_in, s->n_out,
		    s->ebops, s->weights, s->nonzero, s->pruned,
		    s->act_pruned, s->inputs_pruned, s->outputs_pruned,
		    s->uniform8, s->lut_estimate);
		put_hist(f, s->span_hist, hist_len(s->span_hist), ",");
		fputc('\t', f);
		put_hist(f, s->width_hist, hist_len(s->width_hist), ",");
		fputc('\n', f);
	}
}

/*
 * The text table: every cell is formatted first so that the columns can
 * be as wide as their widest cell (the name left-aligned, numbers right).
 */
#define TXT_COLS	11
#define TXT_CELL	32

static const char *const txt_head[TXT_COLS] = {
	"layer", "shape", "ebops", "weights", "nonzero", "pruned",
	"act_pruned", "in_pruned", "out_pruned", "uniform8", "lut_est",
};

static void
txt_row(char (*row)[TXT_CELL], const char *name, const char *shape,
    const uint64_t *v)
{
	snprintf(row[0], TXT_CELL, "%s", name);
	snprintf(row[1], TXT_CELL, "%s", shape);
	for (int c = 2; c < TXT_COLS; c++)
		snprintf(row[c], TXT_CELL, "%" PRIu64, v[c - 2]);
}

static void
txt_print(FILE *f, char (*cells)[TXT_COLS][TXT_CELL], uint32_t n_rows,
    const int *wd)
{
	for (uint32_t r = 0; r < n_rows; r++) {
		for (int c = 0; c < TXT_COLS; c++) {
			if (c == 0)
				fprintf(f, "%-*s", wd[c], cells[r][c]);
			else
				fprintf(f, "  %*s", wd[c], cells[r][c]);
		}
		fputc('\n', f);
	}
}

/* one histogram per layer, aligned under the bin numbers */
static void
txt_hist(FILE *f, const struct hgq_ebops_report *r, int which,
    int name_wd)
{
	int n_bins = 1, wd = 1;

	for (uint32_t n = 0; n < r->n_dense; n++) {
		const uint64_t *h = which ? r->layer[n].width_hist :
		    r->layer[n].span_hist;
		int len = hist_len(h);

		if (len > n_bins)
			n_bins = len;
		for (int b = 0; b < len; b++) {
			int d = snprintf(NULL, 0, "%" PRIu64, h[b]);

			if (d > wd)
				wd = d;
		}
	}
	if (wd < 2)
		wd = 2;
	fprintf(f, "\n%s\n", which ?
	    "activation widths (live inputs by k+i+f; 0 = pruned inputs):" :
	    "weight spans (counted weights by bit span; 0 = pruned weights):");
	fprintf(f, "%-*s", name_wd, "bits");
	for (int b = 0; b < n_bins; b++)
		fprintf(f, " %*d", wd, b);
	fputc('\n', f);
	for (uint32_t n = 0; n < r->n_dense; n++) {
		const uint64_t *h = which ? r->layer[n].width_hist :
		    r->layer[n].span_hist;
		char name[TXT_CELL];

		row_name(r, n, name, sizeof(name));
		fprintf(f, "%-*s", name_wd, name);
		for (int b = 0; b < n_bins; b++)
			fprintf(f, " %*" PRIu64, wd, h[b]);
		fputc('\n', f);
	}
}

static int
write_text(FILE *f, const struct hgq_ebops_report *r, struct hgq_err *err)
{
	char (*cells)[TXT_COLS][TXT_CELL];
	uint32_t n_rows = r->n_dense + 2;
	int wd[TXT_COLS] = { 0 };
	char name[TXT_CELL], shape[TXT_CELL];
	uint64_t v[TXT_COLS - 2];

	cells = hgq_calloc(n_rows, sizeof(*cells));
	if (cells == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	for (int c = 0; c < TXT_COLS; c++)
		snprintf(cells[0][c], TXT_CELL, "%s", txt_head[c]);
	for (uint32_t n = 0; n < r->n_dense; n++) {
		const struct hgq_ebops_stats *s = &r->layer[n];

		row_name(r, n, name, sizeof(name));
		snprintf(shape, sizeof(shape), "%" PRIu32 "x%" PRIu32,
		    s->n_in, s->n_out);
		v[0] = s->ebops;
		v[1] = s->weights;
		v[2] = s->nonzero;
		v[3] = s->pruned;
		v[4] = s->act_pruned;
		v[5] = s->inputs_pruned;
		v[6] = s->outputs_pruned;
		v[7] = s->uniform8;
		v[8] = s->lut_estimate;
		txt_row(cells[n + 1], name, shape, v);
	}
	memset(v, 0, sizeof(v));
	for (uint32_t n = 0; n < r->n_dense; n++) {
		v[4] += r->layer[n].act_pruned;
		v[5] += r->layer[n].inputs_pruned;
		v[6] += r->layer[n].outputs_pruned;
	}
	v[0] = r->total;
	v[1] = r->weights;
	v[2] = r->nonzero;
	v[3] = r->pruned;
	v[7] = r->uniform8;
	v[8] = r->lut_estimate;
	txt_row(cells[n_rows - 1], "total", "", v);
	for (uint32_t row = 0; row < n_rows; row++)
		for (int c = 0; c < TXT_COLS; c++) {
			int len = (int)strlen(cells[row][c]);

			if (len > wd[c])
				wd[c] = len;
		}
	txt_print(f, cells, n_rows, wd);
	txt_hist(f, r, 0, wd[0]);
	txt_hist(f, r, 1, wd[0]);
	fprintf(f, "\nlut_est = round(%.4g * ebops^%.4g), fitted to Yosys LUTs "
	    "of adder graphs\n(see hgq-ebops(1)); hgq-emit-verilog counts "
	    "its own estimate from its adders\n", HGQ_LUT_FIT_A,
	    HGQ_LUT_FIT_B);
	free(cells);
	return HGQ_OK;
}

int
hgq_ebops_write(FILE *f, const struct hgq_ebops_report *r, int style,
    struct hgq_err *err)
{
	int rc = HGQ_OK;

	switch (style) {
	case HGQ_EBOPS_TEXT:
		rc = write_text(f, r, err);
		break;
	case HGQ_EBOPS_TSV:
		write_tsv(f, r);
		break;
	case HGQ_EBOPS_JSON:
		write_json(f, r);
		break;
	default:
		return hgq_errf(err, HGQ_EINVAL, "unknown report style %d",
		    style);
	}
	if (rc == HGQ_OK && ferror(f))
		return hgq_errf(err, HGQ_EIO, "write error: %s",
		    strerror(errno));
	return rc;
}
