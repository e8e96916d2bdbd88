/*
 * hgq-sim - bit-exact integer inference of a calibrated model: what the
 * FPGA computes, bit for bit.  Reads inputs in chunks, so memory does not
 * grow with the number of rows, and overlaps the stages of a chunk: a
 * reader thread reads and decodes chunk k + 2 while a compute thread runs
 * the engine on chunk k + 1 (one compute worker per engine thread, each
 * on chunks of its own) and this thread scores and writes chunk k.  The chunks go through every stage in
 * order, and a failure is reported at the chunk where the sequential
 * program would meet it, so the outputs and the messages do not depend
 * on the overlap.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "hgq.h"

#define CHUNK_ROWS	8192
#define BUFFER_BYTES	((size_t)256 << 20)	/* the chunks' buffers */

static const char usage_text[] =
    "usage: hgq-sim [--raw] -i INPUTS [-l LABELS] [-o OUT] [-t THREADS]\n"
    "               [--compare REF] [--report text | json] [--vectors FILE]\n"
    "               [MODEL | -]\n";

static const char help_text[] =
    "\n"
    "Bit-exact integer inference of a calibrated hgq model.\n"
    "\n"
    "  -i, --input FILE      raw inputs: .npy, CSV or IDX (.gz too)\n"
    "  -l, --labels FILE     labels (class indices; regression targets)\n"
    "  -o, --output FILE     outputs: .npy (float64 values, or int64\n"
    "                        mantissas with --raw), TSV otherwise\n"
    "      --raw             integer mantissas instead of values\n"
    "      --compare REF     compare the outputs with REF (same layout as\n"
    "                        -o); exit 1 if any row differs, 2 on trouble\n"
    "      --report FORMAT   text or json summary on standard output\n"
    "      --vectors FILE    packed RTL test vectors: one line per row,\n"
    "                        input and output ports in hex\n"
    "  -t, --threads N       worker threads, 0 = one per CPU [0]\n"
    "  -h, --help            this help\n"
    "  -V, --version         the version\n"
    "\n"
    "Without -o, --compare or --report the outputs go to standard output\n"
    "as TSV.\n";

static const char *const report_names[] = { "text", "json", NULL };

struct opts {
	const char	*model;
	const char	*input;
	const char	*labels;
	const char	*output;
	const char	*compare;
	const char	*vectors;
	int		 report;	/* 0 none, 1 text, 2 json */
	bool		 raw;
	int		 threads;
};

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "compare",	required_argument,	NULL, 'C' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "input",	required_argument,	NULL, 'i' },
		{ "labels",	required_argument,	NULL, 'l' },
		{ "output",	required_argument,	NULL, 'o' },
		{ "raw",	no_argument,		NULL, 'R' },
		{ "report",	required_argument,	NULL, 'r' },
		{ "threads",	required_argument,	NULL, 't' },
		{ "vectors",	required_argument,	NULL, 'v' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	static char help[sizeof(usage_text) + sizeof(help_text)];
	int ch;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long(argc, argv, "hi:l:o:t:V", longopts, NULL))
	    != -1) {
		switch (ch) {
		case 'C':
			o->compare = optarg;
			break;
		case 'h':
			snprintf(help, sizeof(help), "%s%s", usage_text,
			    help_text);
			cli_help(help);
			/* NOTREACHED */
		case 'i':
			o->input = optarg;
			break;
		case 'l':
			o->labels = optarg;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'R':
			o->raw = true;
			break;
		case 'r':
			o->report = 1 + cli_parse_choice(usage_text, "--report",
			    optarg, report_names);
			break;
		case 't':
			o->threads = (int)cli_parse_long(optarg, "--threads", 0,
			    64);
			break;
		case 'V':
			cli_version();
			/* NOTREACHED */
		case 'v':
			o->vectors = optarg;
			break;
		default:
			cli_usage(usage_text);
			/* NOTREACHED */
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		cli_usage_msg(usage_text, "one model at most");
	if (o->input == NULL)
		cli_usage_msg(usage_text, "the inputs (-i FILE) are required");
	o->model = argc == 1 ? argv[0] : "-";
}

static bool
is_npy(const char *path)
{
	size_t n = strlen(path);

	return n >= 4 && strcmp(path + n - 4, ".npy") == 0;
}

/* an output stream of rows: npy (streamed, the count set at the end) or TSV */
struct sink {
	FILE			*f;
	const char		*path;
	bool			 raw;
	uint32_t		 cols;
	struct hgq_npy_writer	*npy;	/* NULL: TSV */
};

static void
sink_rows(struct sink *s, const int64_t *out, const double *val, size_t n)
{
	struct hgq_err err = HGQ_ERR_INIT;

	if (s->npy != NULL) {
		if (hgq_npy_writer_add(s->npy, s->raw ? (const void *)out :
		    (const void *)val, n, &err) != HGQ_OK)
			die("cannot write '%s': %s", s->path, err.msg);
		return;
	}
	for (size_t r = 0; r < n; r++) {
		for (uint32_t j = 0; j < s->cols; j++) {
			if (s->raw)
				fprintf(s->f, "%s%lld", j ? "\t" : "",
				    (long long)out[r * s->cols + j]);
			else
				fprintf(s->f, "%s%.17g", j ? "\t" : "",
				    val[r * s->cols + j]);
		}
		fputc('\n', s->f);
	}
	if (ferror(s->f))
		die("cannot write %s%s%s:", s->path ? "'" : "",
		    s->path ? s->path : "standard output", s->path ? "'" : "");
}

static void
sink_open(struct sink *s, const char *path, bool raw, uint32_t cols)
{
	struct hgq_err err = HGQ_ERR_INIT;
	bool npy = path != NULL && is_npy(path);

	memset(s, 0, sizeof(*s));
	s->path = path;
	s->raw = raw;
	s->cols = cols;
	s->f = cli_open_out(path, npy);
	if (npy) {
		if (hgq_npy_writer_open(&s->npy, s->f, raw, cols, &err) !=
		    HGQ_OK)
			die("cannot write '%s': %s", path, err.msg);
		return;
	}
	fputc('#', s->f);
	for (uint32_t j = 0; j < cols; j++)
		fprintf(s->f, "%sy%u", j ? "\t" : "", j);
	fputc('\n', s->f);
}

/* the npy's header gets its row count (still in the temporary file) */
static void
sink_finish(struct sink *s)
{
	struct hgq_err err = HGQ_ERR_INIT;

	if (s->npy != NULL && hgq_npy_writer_close(s->npy, &err) != HGQ_OK)
		die("cannot write '%s': %s", s->path, err.msg);
	s->npy = NULL;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static struct hgq_reader *
open_reader(const char *path)
{
	struct hgq_data_opts dopt;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_reader *r;

	hgq_data_opts_init(&dopt);
	if (hgq_reader_open(&r, path, &dopt, &err) != HGQ_OK)
		die("%s", err.msg);
	return r;
}

/*
 * rows per chunk: CHUNK_ROWS, or fewer when rows are so wide (the format
 * allows 2^24 inputs or outputs) that the buffers of n_slots chunks would
 * pass BUFFER_BYTES
 */
static size_t
chunk_rows(uint32_t n_raw, uint32_t n_out, size_t n_slots)
{
	size_t width = (size_t)n_raw + n_out;
	size_t rows = BUFFER_BYTES / (n_slots + 1) / sizeof(double) /
	    (width ? width : 1);
	size_t most = CHUNK_ROWS;
	const char *env = getenv("HGQ_SIM_CHUNK_ROWS");

	/* the tests' knob: chunks of another size give the same bytes */
	if (env != NULL && *env != '\0')
		most = (size_t)cli_parse_long(env, "HGQ_SIM_CHUNK_ROWS", 1,
		    1L << 24);
	return rows < 1 ? 1 : rows > most ? most : rows;
}

/* read exactly want rows (fewer only at the end) from r */
static int
read_rows_err(struct hgq_reader *r, double *x, size_t want, size_t *got,
    struct hgq_err *err)
{
	size_t n;
	int rc;

	*got = 0;
	while (*got < want) {
		if ((rc = hgq_reader_read(r, x + *got * hgq_reader_cols(r), NULL,
		    want - *got, &n, err)) != HGQ_OK)
			return rc;
		if (n == 0)
			break;
		*got += n;
	}
	return HGQ_OK;
}

static size_t
read_rows(struct hgq_reader *r, double *x, size_t want)
{
	struct hgq_err err = HGQ_ERR_INIT;
	size_t got;

	if (read_rows_err(r, x, want, &got, &err) != HGQ_OK)
		die("%s", err.msg);
	return got;
}

/*
 * The pipeline: slot k % n_slots holds chunk k from its reading to its
 * writing.  A slot goes FREE -> READ (the reader filled it) -> DONE (a
 * compute worker ran the engine) -> FREE (this thread wrote it).  Worker
 * w of W takes chunks w, w + W, w + 2W, ..., each on one thread, so that
 * the engine's threads never wait for each other within a chunk.  A
 * chunk of 0 rows or one that failed (reading or the engine) ends the
 * stream there; the workers never print nor exit: this thread reports,
 * in order.
 */
enum { SLOT_FREE, SLOT_READ, SLOT_DONE };

struct slot {
	int		 state;
	size_t		 seq;		/* the chunk it holds */
	size_t		 n;		/* rows; 0: the end of the input */
	int		 rc;		/* HGQ_OK, or what failed here */
	struct hgq_err	 err;
	double		*x;		/* rows * n_raw */
	int64_t		*out;		/* rows * n_out */
};

struct pipeline;

struct worker {
	struct pipeline		*p;
	int			 index;
	pthread_t		 tid;
	uint64_t		*counts;	/* its overflow counts */
	double			 seconds;	/* in the engine */
};

struct pipeline {
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct slot		*slot;
	size_t			 n_slots;
	bool			 stop;		/* the consumer quits early */
	bool			 reading;	/* the reader is in a read */
	bool			 regular;	/* the input is a regular file */
	size_t			 rows;		/* per chunk */
	struct hgq_reader	*rx;
	const struct hgq_engine	*e;
	uint32_t		 n_quant;
	int			 n_workers;
	struct worker		*workers;
	pthread_t		 reader;
};

/* wait until chunk k is in its slot in state (FREE: the slot is free for
   it) or stop; false on stop */
static bool
slot_wait(struct pipeline *p, size_t k, int state)
{
	struct slot *s = &p->slot[k % p->n_slots];
	bool ok;

	pthread_mutex_lock(&p->mu);
	while (!(s->state == state && (state == SLOT_FREE || s->seq == k)) &&
	    !p->stop)
		pthread_cond_wait(&p->cv, &p->mu);
	ok = !p->stop;
	pthread_mutex_unlock(&p->mu);
	return ok;
}

static void
slot_set(struct pipeline *p, size_t k, int state)
{
	pthread_mutex_lock(&p->mu);
	p->slot[k % p->n_slots].seq = k;
	p->slot[k % p->n_slots].state = state;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static void *
reader_main(void *arg)
{
	struct pipeline *p = arg;

	for (size_t k = 0; slot_wait(p, k, SLOT_FREE); k++) {
		struct slot *s = &p->slot[k % p->n_slots];
		bool last;

		pthread_mutex_lock(&p->mu);
		p->reading = true;
		pthread_mutex_unlock(&p->mu);
		s->rc = read_rows_err(p->rx, s->x, p->rows, &s->n, &s->err);
		pthread_mutex_lock(&p->mu);
		p->reading = false;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		last = s->n == 0 || s->rc != HGQ_OK;
		slot_set(p, k, SLOT_READ);	/* s is no longer ours */
		if (last)
			break;
	}
	return NULL;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct pipeline *p = w->p;
	struct hgq_ovf_stats st = { p->n_quant, w->counts };

	for (size_t k = (size_t)w->index; slot_wait(p, k, SLOT_READ);
	    k += (size_t)p->n_workers) {
		struct slot *s = &p->slot[k % p->n_slots];
		bool last = s->n == 0 || s->rc != HGQ_OK;

		if (!last) {
			double t0 = now();

			if ((s->rc = hgq_engine_run(p->e, s->x, s->n, s->out,
			    &st, 1)) != HGQ_OK) {
				s->err.code = s->rc;
				snprintf(s->err.msg, sizeof(s->err.msg),
				    "out of memory");
				last = true;
			}
			w->seconds += now() - t0;
		}
		slot_set(p, k, SLOT_DONE);
		if (last)
			break;
	}
	return NULL;
}

/*
 * threads engine workers (0: one per online CPU), n_quant overflow
 * counters; the chunk's rows as chunk_rows gives them for n_slots
 */
static void
pipeline_start(struct pipeline *p, struct hgq_reader *rx,
    const struct hgq_engine *e, uint32_t n_quant, int threads)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	memset(p, 0, sizeof(*p));
	p->rx = rx;
	p->e = e;
	p->n_quant = n_quant;
	p->n_workers = threads > 0 ? threads : cpus < 1 ? 1 : cpus > 64 ? 64 :
	    (int)cpus;
	/* one being read, one being written, one waiting each way */
	p->n_slots = (size_t)p->n_workers + 3;
	p->rows = chunk_rows(hgq_engine_n_in(e), hgq_engine_n_out(e),
	    p->n_slots);
	p->slot = calloc(p->n_slots, sizeof(*p->slot));
	p->workers = calloc((size_t)p->n_workers, sizeof(*p->workers));
	if (p->slot == NULL || p->workers == NULL)
		die("out of memory");
	for (size_t j = 0; j < p->n_slots; j++) {
		p->slot[j].x = calloc(p->rows * hgq_engine_n_in(e),
		    sizeof(double));
		p->slot[j].out = calloc(p->rows * hgq_engine_n_out(e),
		    sizeof(int64_t));
		if (p->slot[j].x == NULL || p->slot[j].out == NULL)
			die("out of memory");
	}
	if (pthread_mutex_init(&p->mu, NULL) != 0 ||
	    pthread_cond_init(&p->cv, NULL) != 0 ||
	    pthread_create(&p->reader, NULL, reader_main, p) != 0)
		die("cannot start the pipeline's threads");
	for (int w = 0; w < p->n_workers; w++) {
		struct worker *wk = &p->workers[w];

		wk->p = p;
		wk->index = w;
		if ((wk->counts = calloc(n_quant, sizeof(uint64_t))) == NULL)
			die("out of memory");
		if (pthread_create(&wk->tid, NULL, worker_main, wk) != 0)
			die("cannot start the pipeline's threads");
	}
}

/*
 * stop and join the threads; the overflow counts are added to ovf, and
 * the engine's time per worker (the workers run side by side) is
 * returned
 */
static double
pipeline_end(struct pipeline *p, uint64_t *ovf)
{
	double seconds = 0;

	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->reader, NULL);
	for (int w = 0; w < p->n_workers; w++) {
		pthread_join(p->workers[w].tid, NULL);
		for (uint32_t q = 0; q < p->n_quant; q++)
			ovf[q] += p->workers[w].counts[q];
		seconds += p->workers[w].seconds;
		free(p->workers[w].counts);
	}
	for (size_t j = 0; j < p->n_slots; j++) {
		free(p->slot[j].x);
		free(p->slot[j].out);
	}
	free(p->slot);
	free(p->workers);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	return seconds / p->n_workers;
}

/* the pipeline whose threads run, for pdie */
static struct pipeline *live;

/*
 * pdie - die() once the pipeline's threads are stopped and joined, so
 * that no thread runs while exit() tears the process down (memcheck saw
 * their stacks as lost).  The workers only wait or compute; the reader
 * is waited for when it reads a regular file, not when it is blocked on
 * a pipe or a terminal, which could take for ever: it is left running.
 */
static void
pdie(const char *fmt, ...)
{
	struct pipeline *p = live;
	int saved = errno;
	size_t len = strlen(fmt);
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	live = NULL;
	if (p != NULL) {
		pthread_mutex_lock(&p->mu);
		p->stop = true;
		pthread_cond_broadcast(&p->cv);
		while (p->reading && p->regular)
			pthread_cond_wait(&p->cv, &p->mu);
		pthread_mutex_unlock(&p->mu);
		for (int w = 0; w < p->n_workers; w++)
			pthread_join(p->workers[w].tid, NULL);
		if (!p->reading)
			pthread_join(p->reader, NULL);
	}
	if (len > 0 && fmt[len - 1] == ':')
		die("%s %s", msg, strerror(saved));
	die("%s", msg);
}

/* the widest packed port of m: its inputs' and outputs' quantizers */
static uint64_t
port_width(const struct hgq_model *m)
{
	uint64_t w = 0, t;

	for (uint32_t k = 0; k < hgq_model_n_inputs(m); k++)
		if ((t = hgq_packed_width(&m->layers[hgq_model_input_layer(m,
		    k)])) > w)
			w = t;
	for (uint32_t k = 0; k < hgq_model_n_outputs(m); k++)
		if ((t = hgq_packed_width(&m->layers[hgq_model_output_layer(m,
		    k)])) > w)
			w = t;
	return w;
}

/*
 * vector_line - one row of test vectors: the packed input ports (the
 * input quantizers' mantissas q, in input order), then the packed output
 * ports (out, in port order), in hex, separated by spaces
 */
static void
vector_line(FILE *vec, const struct hgq_model *m, const int64_t *q,
    const int64_t *out, char *hex)
{
	for (uint32_t k = 0; k < hgq_model_n_inputs(m); k++) {
		const struct hgq_layer *l = &m->layers[
		    hgq_model_input_layer(m, k)];

		hgq_pack_hex(l, q, hex);
		fprintf(vec, "%s ", hex);
		q += l->n_out;
	}
	for (uint32_t k = 0; k < hgq_model_n_outputs(m); k++) {
		const struct hgq_layer *l = &m->layers[
		    hgq_model_output_layer(m, k)];

		hgq_pack_hex(l, out, hex);
		fprintf(vec, k + 1 < hgq_model_n_outputs(m) ? "%s " : "%s\n",
		    hex);
		out += l->n_out;
	}
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m;
	struct hgq_engine *e;
	struct hgq_reader *rx, *ry = NULL, *rc = NULL;
	struct sink sink;
	struct pipeline pipe;
	struct hgq_eval ev;
	FILE *vec = NULL;
	double *y = NULL, *ref = NULL, *val;
	int64_t *qx = NULL;
	char *hex = NULL;
	uint32_t n_raw, n_out, n_quant, label_cols = 0;
	uint64_t *ovf;
	size_t rows, n_diff = 0;
	double seconds;
	bool want_outputs;

	cli_setprogname(argv[0]);
	parse_args(argc, argv, &o);
	if (o.compare != NULL)
		cli_set_fail_code(2);	/* cmp(1): 1 means "different" */

	m = cli_read_model(o.model);
	if (hgq_engine_new(&e, m, &err) != HGQ_OK)
		die("model '%s': %s", cli_name(o.model), err.msg);
	n_raw = hgq_engine_n_in(e);
	n_out = hgq_engine_n_out(e);

	rx = open_reader(o.input);
	if (hgq_reader_cols(rx) != n_raw)
		die("%s: %zu columns, the model takes %u", o.input,
		    hgq_reader_cols(rx), n_raw);
	n_quant = hgq_engine_n_quant(e);
	if ((ovf = calloc(n_quant, sizeof(uint64_t))) == NULL)
		die("out of memory");
	if (o.labels != NULL) {
		ry = open_reader(o.labels);
		label_cols = m->task == HGQ_TASK_CLASSIFY ? 1 : n_out;
		if (hgq_reader_cols(ry) != label_cols)
			die("%s: %zu columns, expected %u", o.labels,
			    hgq_reader_cols(ry), label_cols);
	}
	if (hgq_eval_init(&ev, n_out, (int)m->task, ry != NULL, &err) !=
	    HGQ_OK)
		die("%s", err.msg);
	if (o.compare != NULL) {
		rc = open_reader(o.compare);
		if (hgq_reader_cols(rc) != n_out)
			die("%s: %zu columns, the model has %u outputs",
			    o.compare, hgq_reader_cols(rc), n_out);
	}
	/* the reader starts: its messages wait for their turn */
	pipeline_start(&pipe, rx, e, n_quant, o.threads);
	{
		struct stat st;

		pipe.regular = strcmp(o.input, "-") == 0 ?
		    fstat(0, &st) == 0 && S_ISREG(st.st_mode) :
		    stat(o.input, &st) == 0 && S_ISREG(st.st_mode);
	}
	live = &pipe;
	rows = pipe.rows;
	val = calloc(rows * n_out, sizeof(double));
	if (ry != NULL)
		y = calloc(rows * label_cols, sizeof(double));
	if (rc != NULL)
		ref = calloc(rows * n_out, sizeof(double));
	if (val == NULL ||
	    (ry != NULL && y == NULL) || (rc != NULL && ref == NULL))
		pdie("out of memory");
	if (o.vectors != NULL) {
		vec = cli_open_out(o.vectors, 0);
		qx = calloc(rows * hgq_model_n_in(m) + 1, sizeof(int64_t));
		hex = malloc(port_width(m) / 4 + 2);
		if (qx == NULL || hex == NULL)
			pdie("out of memory");
	}

	want_outputs = o.output != NULL ||
	    (o.compare == NULL && o.report == 0);
	if (want_outputs)
		sink_open(&sink, o.output, o.raw, n_out);

	for (size_t k = 0; slot_wait(&pipe, k, SLOT_DONE); k++) {
		const struct slot *s = &pipe.slot[k % pipe.n_slots];
		const double *x = s->x;
		const int64_t *out = s->out;
		size_t n = s->n;

		if (s->rc != HGQ_OK)
			pdie("%s", s->err.msg);
		if (n == 0)
			break;
		hgq_engine_out_values(e, out, n, val);
		if (ry != NULL && read_rows(ry, y, n) != n)
			pdie("%s: %zu labels for more input rows", o.labels,
			    hgq_reader_row(ry));
		if (hgq_eval_add(&ev, val, y, n, o.labels, &err) != HGQ_OK)
			pdie("%s", err.msg);
		if (rc != NULL) {
			if (read_rows(rc, ref, n) != n)
				pdie("%s: fewer rows than the input",
				    o.compare);
			for (size_t r = 0; r < n; r++) {
				bool diff = false;

				for (uint32_t j = 0; j < n_out; j++) {
					double got = o.raw ?
					    (double)out[r * n_out + j] :
					    val[r * n_out + j];

					diff |= got != ref[r * n_out + j];
				}
				if (diff && n_diff++ < 5) {
					fprintf(stderr, "%s: row %zu differs:",
					    cli_progname(), ev.n - n + r);
					for (uint32_t j = 0; j < n_out; j++)
						fprintf(stderr, " %.17g/%.17g",
						    o.raw ? (double)out[r *
						    n_out + j] : val[r * n_out +
						    j], ref[r * n_out + j]);
					fputc('\n', stderr);
				}
			}
		}
		if (want_outputs)
			sink_rows(&sink, out, val, n);
		if (vec != NULL) {
			hgq_engine_quant_input(e, x, n, qx);
			for (size_t r = 0; r < n; r++)
				vector_line(vec, m, qx + r * hgq_model_n_in(m),
				    out + r * n_out, hex);
			if (ferror(vec))
				pdie("cannot write '%s':", o.vectors);
		}
		slot_set(&pipe, k, SLOT_FREE);
	}
	live = NULL;
	seconds = pipeline_end(&pipe, ovf);
	if (ry != NULL && read_rows(ry, y, 1) != 0)
		die("%s: more labels than input rows (%zu)", o.labels, ev.n);
	if (rc != NULL && read_rows(rc, ref, 1) != 0)
		die("%s: more rows than the input (%zu)", o.compare, ev.n);
	/* the report first: if standard output fails, die() removes the
	   temporary files, and a failed run leaves no output file */
	if (want_outputs)
		sink_finish(&sink);
	if (o.report != 0)
		hgq_eval_report(stdout, &ev, m, ovf, n_quant, seconds,
		    o.report == 2);
	if (o.report != 0 && o.output == NULL)
		cli_commit_out(stdout, "-");
	else if (o.report != 0 && (fflush(stdout) != 0 || ferror(stdout)))
		die("cannot write standard output:");
	if (want_outputs)
		cli_commit_out(sink.f, sink.path == NULL ? "-" : sink.path);
	if (vec != NULL)
		cli_commit_out(vec, o.vectors);
	if (n_diff > 0)
		fprintf(stderr, "%s: %zu of %zu rows differ\n", cli_progname(),
		    n_diff, ev.n);
	hgq_reader_close(rx);
	if (ry != NULL)
		hgq_reader_close(ry);
	if (rc != NULL)
		hgq_reader_close(rc);
	hgq_engine_free(e);
	hgq_model_free(m);
	free(y);
	free(ref);
	free(val);
	free(qx);
	free(hex);
	free(ovf);
	hgq_eval_release(&ev);
	return n_diff > 0;	/* cmp(1): 1 when any row differs */
}
