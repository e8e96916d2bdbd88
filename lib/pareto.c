/*
 * pareto.c - Pareto fronts of (accuracy, EBOPs) across many models: the
 * points of a sweep's models, measured or read back from fronts written
 * earlier, merged into one front, and the best model under a budget
 * (hgq.h "Pareto fronts across models"; hgq-pareto(1)).
 *
 * Two things make a merge exact and reproducible.  Accuracy is a count:
 * with source "exact" every point carries (correct, n) and accuracy is
 * the double correct / n, computed the same way whether the point was
 * measured now or read back from a TSV, so equal counts compare equal.
 * With a metadata source the value is rounded to the 6 decimals the TSV
 * keeps, for the same reason.  And the result is a function of the set
 * of points: they are sorted on every field before anything is decided,
 * so the order of the inputs (which runner finished first, the order of
 * a shell glob) never shows in the output.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char tsv_header[] =
    "#model\tebops\taccuracy\tcorrect\tn\tlut_estimate\tsource\tfront";
#define N_FIELDS	8

void
hgq_front_init(struct hgq_front *f)
{
	memset(f, 0, sizeof(*f));
}

void
hgq_front_release(struct hgq_front *f)
{
	for (size_t j = 0; j < f->n; j++)
		free(f->pts[j].name);
	free(f->pts);
	free(f->source);
	memset(f, 0, sizeof(*f));
}

/* a double as the TSV writes it, read back: the value every merge uses */
static double
round6(double v)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.6f", v);
	return strtod(buf, NULL);
}

/* "meta:KEY" with a non-empty KEY, or "exact" */
static int
source_ok(const char *s)
{
	if (strcmp(s, "exact") == 0)
		return 1;
	return strncmp(s, "meta:", 5) == 0 && s[5] != '\0' &&
	    strpbrk(s, "\t\n\r") == NULL;
}

int
hgq_front_measure(struct hgq_front_point *p, const struct hgq_model *m,
    const char *meta_key, const double *x, size_t n_cols, const double *y,
    size_t n, int threads, struct hgq_err *err)
{
	struct hgq_ebops_report r;
	double metric;
	int rc;

	memset(p, 0, sizeof(*p));
	if (m->task != HGQ_TASK_CLASSIFY)
		return hgq_errf(err, HGQ_EINVAL, "a regression model: fronts "
		    "rank classifiers by accuracy");
	if ((rc = hgq_ebops_report(m, &r, err)) != HGQ_OK)
		return rc;
	p->ebops = r.total;
	p->lut_estimate = r.lut_estimate;
	hgq_ebops_report_release(&r);

	if (meta_key != NULL) {
		const char *v = hgq_meta_get(m, meta_key);
		char *end;

		if (v == NULL)
			return hgq_errf(err, HGQ_EINVAL, "no metadata entry "
			    "'%s'", meta_key);
		errno = 0;
		metric = strtod(v, &end);
		if (end == v || *end != '\0' || errno != 0 ||
		    !isfinite(metric) || metric < 0 || metric > 1)
			return hgq_errf(err, HGQ_EINVAL, "metadata entry '%s' "
			    "is not an accuracy in [0, 1]: '%.40s'", meta_key,
			    v);
		p->accuracy = round6(metric);
		return HGQ_OK;
	}

	if (n == 0)
		return hgq_errf(err, HGQ_EINVAL, "no data rows");
	if (n_cols != m->n_raw)
		return hgq_errf(err, HGQ_EINVAL, "the model reads %" PRIu32
		    " input columns, the data has %zu", m->n_raw, n_cols);
	if ((rc = hgq_labels_check(y, n, hgq_model_n_out(m), "labels", err))
	    != HGQ_OK)
		return rc;
	rc = hgq_eval_exact(m, x, y, n, threads, &metric, err);
	if (rc != HGQ_OK)
		return rc;
	/* metric = correct / n; the count back, exactly (n < 2^52) */
	p->correct = (uint64_t)llround(metric * (double)n);
	p->n = n;
	p->accuracy = (double)p->correct / (double)p->n;
	return HGQ_OK;
}

int
hgq_front_add(struct hgq_front *f, const struct hgq_front_point *p,
    const char *source, struct hgq_err *err)
{
	struct hgq_front_point *pts, *q;

	if (!source_ok(source))
		return hgq_errf(err, HGQ_EINVAL, "unknown accuracy source "
		    "'%.60s' (want 'exact' or 'meta:KEY')", source);
	if (p->name == NULL || p->name[0] == '\0' ||
	    strpbrk(p->name, "\t\n\r") != NULL)
		return hgq_errf(err, HGQ_EINVAL, "a model name must not be "
		    "empty or hold a tab or a line break");
	if (f->source != NULL && strcmp(f->source, source) != 0)
		return hgq_errf(err, HGQ_EINVAL, "'%.100s': accuracy from "
		    "%.60s, the others from %.60s", p->name, source,
		    f->source);
	if (strcmp(source, "exact") == 0 && (p->n == 0 ||
	    p->correct > p->n))
		return hgq_errf(err, HGQ_EINVAL, "'%.100s': %" PRIu64
		    " right of %" PRIu64 " rows", p->name, p->correct, p->n);
	if (strcmp(source, "exact") == 0 && f->n > 0 && f->pts[0].n != p->n)
		return hgq_errf(err, HGQ_EINVAL, "'%.100s' was measured on %"
		    PRIu64 " rows, '%.100s' on %" PRIu64 ": not the same "
		    "data", p->name, p->n, f->pts[0].name, f->pts[0].n);
	if (f->n >= HGQ_FRONT_MAX_POINTS)
		return hgq_errf(err, HGQ_EINVAL, "more than %u models",
		    HGQ_FRONT_MAX_POINTS);
	if (f->source == NULL && (f->source = strdup(source)) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	if ((pts = hgq_reallocarray(f->pts, f->n + 1, sizeof(*pts))) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	f->pts = pts;
	q = &pts[f->n];
	*q = *p;
	q->on_front = 0;
	if ((q->name = strdup(p->name)) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	f->n++;
	return HGQ_OK;
}

/* ------------------------------------------------------------------ */
/* Reading a TSV front back                                            */
/* ------------------------------------------------------------------ */

/* a decimal uint64: digits only, no sign, no overflow */
static int
parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*v = x;
	return 0;
}

/* one data row, split into fields (modified in place) */
static int
read_row(struct hgq_front *f, char *line, const char *name, size_t lineno,
    struct hgq_err *err)
{
	struct hgq_front_point p;
	char *fld[N_FIELDS], *s = line, *end;
	char want[64];
	int nf = 0, rc;
	uint64_t on;

	for (;;) {
		char *tab = strchr(s, '\t');

		if (nf == N_FIELDS)
			return hgq_errf(err, HGQ_EFORMAT, "%s:%zu: more than %d "
			    "fields", name, lineno, N_FIELDS);
		fld[nf++] = s;
		if (tab == NULL)
			break;
		*tab = '\0';
		s = tab + 1;
	}
	if (nf != N_FIELDS)
		return hgq_errf(err, HGQ_EFORMAT, "%s:%zu: %d fields, want %d",
		    name, lineno, nf, N_FIELDS);
	memset(&p, 0, sizeof(p));
	p.name = fld[0];
	if (parse_u64(fld[1], &p.ebops) != 0)
		return hgq_errf(err, HGQ_EFORMAT, "%s:%zu: ebops: not a "
		    "count: '%.40s'", name, lineno, fld[1]);
	if (parse_u64(fld[3], &p.correct) != 0 ||
	    parse_u64(fld[4], &p.n) != 0)
		return hgq_errf(err, HGQ_EFORMAT, "%s:%zu: correct, n: not "
		    "counts", name, lineno);
	if (parse_u64(fld[5], &p.lut_estimate) != 0)
		return hgq_errf(err, HGQ_EFORMAT, "%s:%zu: lut_estimate: not "
		    "a count: '%.40s'", name, lineno, fld[5]);
	if (parse_u64(fld[7], &on) != 0 || on > 1)
		return hgq_errf(err, HGQ_EFORMAT, "%s:%zu: front: want 0 or 1",
		    name, lineno);
	if (!source_ok(fld[6]))
		return hgq_errf(err, HGQ_EFORMAT, "%s:%zu: unknown accuracy "
		    "source '%.60s'", name, lineno, fld[6]);
	if (strcmp(fld[6], "exact") == 0) {
		if (p.n == 0 || p.n > (UINT64_C(1) << 52) || p.correct > p.n)
			return hgq_errf(err, HGQ_EFORMAT, "%s:%zu: %" PRIu64
			    " right of %" PRIu64 " rows", name, lineno,
			    p.correct, p.n);
		p.accuracy = (double)p.correct / (double)p.n;
		snprintf(want, sizeof(want), "%.6f", p.accuracy);
		if (strcmp(want, fld[2]) != 0)
			return hgq_errf(err, HGQ_EFORMAT, "%s:%zu: accuracy "
			    "'%.40s' is not %" PRIu64 "/%" PRIu64, name,
			    lineno, fld[2], p.correct, p.n);
	} else {
		if (p.n != 0 || p.correct != 0)
			return hgq_errf(err, HGQ_EFORMAT, "%s:%zu: correct and n "
			    "are 0 for an accuracy from metadata", name,
			    lineno);
		errno = 0;
		p.accuracy = strtod(fld[2], &end);
		if (end == fld[2] || *end != '\0' || errno != 0 ||
		    !isfinite(p.accuracy) || p.accuracy < 0 ||
		    p.accuracy > 1)
			return hgq_errf(err, HGQ_EFORMAT, "%s:%zu: accuracy: "
			    "not a number in [0, 1]: '%.40s'", name, lineno,
			    fld[2]);
		p.accuracy = round6(p.accuracy);
	}
	if ((rc = hgq_front_add(f, &p, fld[6], err)) != HGQ_OK) {
		char msg[sizeof(err->msg)];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		return hgq_errf(err, rc, "%s:%zu: %s", name, lineno, msg);
	}
	return HGQ_OK;
}

int
hgq_front_read_tsv(struct hgq_front *f, FILE *in, const char *name,
    struct hgq_err *err)
{
	char *line;
	size_t lineno = 0, len;
	int rc = HGQ_OK;

	if ((line = malloc(HGQ_FRONT_MAX_LINE + 2)) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	while (fgets(line, HGQ_FRONT_MAX_LINE + 2, in) != NULL) {
		lineno++;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(in)) {
			rc = hgq_errf(err, HGQ_EFORMAT, "%s:%zu: line longer "
			    "than %d bytes", name, lineno, HGQ_FRONT_MAX_LINE);
			goto out;
		}
		if (strlen(line) != len) {
			rc = hgq_errf(err, HGQ_EFORMAT, "%s:%zu: a NUL byte",
			    name, lineno);
			goto out;
		}
		if (lineno == 1) {
			if (strcmp(line, tsv_header) != 0) {
				rc = hgq_errf(err, HGQ_EFORMAT, "%s:1: not a "
				    "front of hgq-pareto (header '%.40s')",
				    name, line);
				goto out;
			}
			continue;
		}
		if ((rc = read_row(f, line, name, lineno, err)) != HGQ_OK)
			goto out;
	}
	if (ferror(in))
		rc = hgq_errf(err, HGQ_EIO, "%s: %s", name, strerror(errno));
	else if (lineno == 0)
		rc = hgq_errf(err, HGQ_EFORMAT, "%s: empty file (a front has "
		    "a header line)", name);
out:
	free(line);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Merging                                                             */
/* ------------------------------------------------------------------ */

static int
cmp_figures(const struct hgq_front_point *a, const struct hgq_front_point *b)
{
	if (a->ebops != b->ebops)
		return a->ebops < b->ebops ? -1 : 1;
	if (a->accuracy != b->accuracy)
		return a->accuracy > b->accuracy ? -1 : 1;
	if (a->correct != b->correct)
		return a->correct < b->correct ? -1 : 1;
	if (a->lut_estimate != b->lut_estimate)
		return a->lut_estimate < b->lut_estimate ? -1 : 1;
	return 0;
}

/* by name, then figures: repeats of one model side by side */
static int
cmp_name(const void *pa, const void *pb)
{
	const struct hgq_front_point *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);

	return c != 0 ? c : cmp_figures(a, b);
}

/* the front's order: EBOPs up, accuracy down, then name */
static int
cmp_front(const void *pa, const void *pb)
{
	const struct hgq_front_point *a = pa, *b = pb;
	int c = cmp_figures(a, b);

	return c != 0 ? c : strcmp(a->name, b->name);
}

int
hgq_front_merge(struct hgq_front *f, struct hgq_err *err)
{
	size_t k = 0, j, g;
	double best_cheaper = -1;

	if (f->n == 0)
		return HGQ_OK;
	qsort(f->pts, f->n, sizeof(*f->pts), cmp_name);
	for (j = 0; j < f->n; j++) {
		if (k > 0 && strcmp(f->pts[k - 1].name, f->pts[j].name) == 0) {
			if (cmp_figures(&f->pts[k - 1], &f->pts[j]) != 0)
				return hgq_errf(err, HGQ_EINVAL, "'%.100s' "
				    "appears with two different measurements",
				    f->pts[j].name);
			free(f->pts[j].name);
			continue;
		}
		f->pts[k++] = f->pts[j];
	}
	f->n = k;
	qsort(f->pts, f->n, sizeof(*f->pts), cmp_front);

	/*
	 * One pass over the groups of equal EBOPs: a point is on the front
	 * when it is the most accurate of its group (equal EBOPs, lower
	 * accuracy: dominated) and strictly more accurate than every
	 * cheaper point (equal accuracy at fewer EBOPs dominates it).
	 */
	for (j = 0; j < f->n; j = g) {
		double top = f->pts[j].accuracy;

		for (g = j; g < f->n && f->pts[g].ebops == f->pts[j].ebops;
		    g++)
			f->pts[g].on_front = f->pts[g].accuracy == top &&
			    top > best_cheaper;
		if (top > best_cheaper)
			best_cheaper = top;
	}
	return HGQ_OK;
}

long
hgq_front_pick(const struct hgq_front *f, uint64_t max_ebops,
    uint64_t max_luts)
{
	long best = -1;

	/* in the merged order the first of the most accurate is the
	   cheapest of them, then the first by name */
	for (size_t j = 0; j < f->n; j++) {
		const struct hgq_front_point *p = &f->pts[j];

		if (p->ebops > max_ebops || p->lut_estimate > max_luts)
			continue;
		if (best < 0 || p->accuracy > f->pts[best].accuracy)
			best = (long)j;
	}
	return best;
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

static void
json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void
write_point_json(FILE *out, const struct hgq_front *f,
    const struct hgq_front_point *p)
{
	fputs("{\"model\": ", out);
	json_string(out, p->name);
	fprintf(out, ", \"ebops\": %" PRIu64 ", \"accuracy\": %.6f",
	    p->ebops, p->accuracy);
	if (strcmp(f->source, "exact") == 0)
		fprintf(out, ", \"correct\": %" PRIu64 ", \"n\": %" PRIu64,
		    p->correct, p->n);
	fprintf(out, ", \"lut_estimate\": %" PRIu64 ", \"front\": %s}",
	    p->lut_estimate, p->on_front ? "true" : "false");
}

int
hgq_front_write(FILE *out, const struct hgq_front *f, int json, int all,
    long pick, struct hgq_err *err)
{
	const char *src = f->source != NULL ? f->source : "";
	size_t n_out = 0;
	int first = 1;

	if (json) {
		fputs("{\"source\": ", out);
		json_string(out, src);
		fprintf(out, ", \"n_models\": %zu, \"points\": [", f->n);
	} else
		fprintf(out, "%s\n", tsv_header);
	for (size_t j = 0; j < f->n; j++) {
		const struct hgq_front_point *p = &f->pts[j];

		if (pick >= 0 ? (long)j != pick : !all && !p->on_front)
			continue;
		n_out++;
		if (json) {
			fputs(first ? "\n  " : ",\n  ", out);
			write_point_json(out, f, p);
		} else
			fprintf(out, "%s\t%" PRIu64 "\t%.6f\t%" PRIu64 "\t%"
			    PRIu64 "\t%" PRIu64 "\t%s\t%d\n", p->name,
			    p->ebops, p->accuracy, p->correct, p->n,
			    p->lut_estimate, src, p->on_front);
		first = 0;
	}
	if (json)
		fputs(n_out > 0 ? "\n]}\n" : "]}\n", out);
	if (fflush(out) != 0 || ferror(out))
		return hgq_errf(err, HGQ_EIO, "%s", strerror(errno));
	return HGQ_OK;
}
