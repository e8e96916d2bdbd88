/*
 * eval.c - scoring the exact outputs of a model against labels or
 * targets: argmax accuracy and the confusion matrix (classification), the
 * mean squared error (regression), the label checks, and hgq-sim's text
 * and JSON reports.  hgq-sim and hgq-train's exact evaluation both go
 * through here, so that the same data gives the same numbers and the same
 * messages in both.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int
hgq_labels_check_from(const double *y, size_t n, size_t row0,
    uint32_t n_classes, const char *name, struct hgq_err *err)
{
	if (n_classes == 0)
		return hgq_errf(err, HGQ_EINVAL, "%s: no classes", name);
	for (size_t j = 0; j < n; j++) {
		double v = y[j];

		if (!isfinite(v) || v != floor(v))
			return hgq_errf(err, HGQ_EINVAL, "%s: row %zu: label"
			    " %.17g not an integer", name, row0 + j, v);
		if (v < 0 || v >= n_classes)
			return hgq_errf(err, HGQ_EINVAL, "%s: row %zu: label"
			    " %.17g out of range [0, %" PRIu32 ")", name,
			    row0 + j, v, n_classes);
	}
	return HGQ_OK;
}

int
hgq_labels_check(const double *y, size_t n, uint32_t n_classes,
    const char *name, struct hgq_err *err)
{
	return hgq_labels_check_from(y, n, 0, n_classes, name, err);
}

uint32_t
hgq_argmax(const double *v, uint32_t n)
{
	uint32_t best = 0;

	for (uint32_t j = 1; j < n; j++)
		if (v[j] > v[best])
			best = j;
	return best;
}

int
hgq_eval_init(struct hgq_eval *ev, uint32_t n_out, int task, int labelled,
    struct hgq_err *err)
{
	memset(ev, 0, sizeof(*ev));
	ev->n_out = n_out;
	ev->classify = task == HGQ_TASK_CLASSIFY;
	ev->labelled = labelled != 0;
	/* n_out^2 counters: only when there is something to count */
	if (ev->classify && ev->labelled && (ev->confusion =
	    hgq_calloc((size_t)n_out * n_out, sizeof(uint64_t))) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory for a %" PRIu32
		    " x %" PRIu32 " confusion matrix", n_out, n_out);
	return HGQ_OK;
}

void
hgq_eval_release(struct hgq_eval *ev)
{
	free(ev->confusion);
	ev->confusion = NULL;
}

int
hgq_eval_add(struct hgq_eval *ev, const double *val, const double *y,
    size_t n, const char *name, struct hgq_err *err)
{
	uint32_t no = ev->n_out;
	int rc;

	if (ev->labelled && ev->classify) {
		if ((rc = hgq_labels_check_from(y, n, ev->n, no, name, err)) !=
		    HGQ_OK)
			return rc;
		for (size_t r = 0; r < n; r++)
			ev->confusion[(size_t)y[r] * no +
			    hgq_argmax(val + r * no, no)]++;
	} else if (ev->labelled) {
		/* one order: row by row, output by output */
		for (size_t r = 0; r < n; r++)
			for (uint32_t j = 0; j < no; j++) {
				double d = val[r * no + j] - y[r * no + j];

				ev->sq_err += d * d;
			}
	}
	ev->n += n;
	return HGQ_OK;
}

double
hgq_eval_accuracy(const struct hgq_eval *ev)
{
	uint64_t right = 0;

	if (ev->confusion == NULL || ev->n == 0)
		return 0.0;
	for (uint32_t c = 0; c < ev->n_out; c++)
		right += ev->confusion[(size_t)c * ev->n_out + c];
	return (double)right / (double)ev->n;
}

double
hgq_eval_mse(const struct hgq_eval *ev)
{
	return ev->n ? ev->sq_err / (double)ev->n / ev->n_out : 0.0;
}

double
hgq_eval_metric(const struct hgq_eval *ev)
{
	return ev->classify ? hgq_eval_accuracy(ev) : hgq_eval_mse(ev);
}

/* the layer of m's quantizer q (the q-th quantizer in layer order) */
static uint32_t
quant_layer(const struct hgq_model *m, uint32_t q)
{
	for (uint32_t j = 0; j < m->n_layers; j++)
		if (m->layers[j].kind == HGQ_LAYER_QUANT && q-- == 0)
			return j;
	return m->n_layers;
}

static void
report_text(FILE *f, const struct hgq_eval *ev, const struct hgq_model *m,
    const uint64_t *ovf, uint32_t n_quant, double seconds)
{
	uint32_t no = ev->n_out;

	fprintf(f, "samples\t%zu\n", ev->n);
	if (ev->labelled && ev->classify) {
		fprintf(f, "accuracy\t%.6f\n", hgq_eval_accuracy(ev));
		fprintf(f, "\n# class\tn\taccuracy\n");
		for (uint32_t c = 0; c < no; c++) {
			uint64_t nc = 0;

			for (uint32_t p = 0; p < no; p++)
				nc += ev->confusion[(size_t)c * no + p];
			fprintf(f, "%" PRIu32 "\t%" PRIu64 "\t%.6f\n", c, nc,
			    nc ? (double)ev->confusion[(size_t)c * no + c] /
			    nc : 0.0);
		}
		fprintf(f, "\n# confusion (rows: label, columns: prediction)"
		    "\n");
		for (uint32_t c = 0; c < no; c++) {
			for (uint32_t p = 0; p < no; p++)
				fprintf(f, "%s%" PRIu64, p ? "\t" : "",
				    ev->confusion[(size_t)c * no + p]);
			fputc('\n', f);
		}
		fputc('\n', f);
	} else if (ev->labelled) {
		fprintf(f, "mse\t%.9g\n", hgq_eval_mse(ev));
	}
	fprintf(f, "# layer\toverflows\n");
	for (uint32_t q = 0; q < n_quant; q++)
		fprintf(f, "quantizer_%" PRIu32 "\t%" PRIu64 "\n",
		    quant_layer(m, q), ovf[q]);
	fprintf(f, "samples_per_s\t%.0f\n", seconds > 0 ? ev->n / seconds :
	    0.0);
}

static void
report_json(FILE *f, const struct hgq_eval *ev, const struct hgq_model *m,
    const uint64_t *ovf, uint32_t n_quant, double seconds)
{
	uint32_t no = ev->n_out;
	uint64_t total = 0;

	fprintf(f, "{\"n\": %zu", ev->n);
	if (ev->labelled && ev->classify) {
		fprintf(f, ", \"accuracy\": %.17g", hgq_eval_accuracy(ev));
		fprintf(f, ", \"confusion\": [");
		for (uint32_t c = 0; c < no; c++) {
			fprintf(f, "%s[", c ? ", " : "");
			for (uint32_t p = 0; p < no; p++)
				fprintf(f, "%s%" PRIu64, p ? ", " : "",
				    ev->confusion[(size_t)c * no + p]);
			fputc(']', f);
		}
		fputc(']', f);
	} else if (ev->labelled) {
		fprintf(f, ", \"mse\": %.17g", hgq_eval_mse(ev));
	}
	for (uint32_t q = 0; q < n_quant; q++)
		total += ovf[q];
	fprintf(f, ", \"overflows\": {\"total\": %" PRIu64 ", \"layers\": [",
	    total);
	for (uint32_t q = 0; q < n_quant; q++)
		fprintf(f, "%s{\"layer\": %" PRIu32 ", \"count\": %" PRIu64 "}",
		    q ? ", " : "", quant_layer(m, q), ovf[q]);
	fprintf(f, "]}, \"samples_per_s\": %.0f}\n", seconds > 0 ?
	    ev->n / seconds : 0.0);
}

void
hgq_eval_report(FILE *f, const struct hgq_eval *ev,
    const struct hgq_model *m, const uint64_t *ovf, uint32_t n_quant,
    double seconds, int json)
{
	if (json)
		report_json(f, ev, m, ovf, n_quant, seconds);
	else
		report_text(f, ev, m, ovf, n_quant, seconds);
}
