/*
 * hgq-pareto - the (accuracy, EBOPs) Pareto front of many models, merged
 * across the jobs of a sweep, and the best model under a budget.
 * Reads models and fronts (file operands, a list, or stdin), writes one
 * front (TSV or JSON) to stdout or -o.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hgq.h"

static const char usage_text[] =
    "usage: hgq-pareto [-ab] [--json] [-i INPUTS -l LABELS | -m KEY]\n"
    "                  [--max-ebops N] [--max-luts N] [-o OUT] [-t THREADS]\n"
    "                  [-T LIST] [FILE ...]\n";

static const char help_text[] =
    "\n"
    "The (accuracy, EBOPs) Pareto front of models and fronts, merged.\n"
    "\n"
    "  -a, --all            every model, the column 'front' says which\n"
    "                       are on the front [the front only]\n"
    "  -b, --best           only the most accurate model (within the\n"
    "                       budget)\n"
    "  -i, --input FILE     inputs to count the accuracy on, bit-exactly\n"
    "  -l, --labels FILE    their labels (class indices)\n"
    "  -m, --meta KEY       the accuracy from the models' metadata entry\n"
    "                       KEY (val_accuracy, test_accuracy) instead\n"
    "      --json           JSON instead of TSV\n"
    "      --max-ebops N    budget: at most N EBOPs (implies --best)\n"
    "      --max-luts N     budget: a LUT estimate of at most N (implies\n"
    "                       --best)\n"
    "  -o, --output FILE    write there (atomically) [standard output]\n"
    "  -t, --threads N      worker threads [number of CPUs]\n"
    "  -T, --files-from F   more operands, one per line ('-': stdin)\n"
    "  -h, --help           this help\n"
    "  -V, --version        the version\n"
    "\n"
    "A FILE is a model (.hgqm) or a front written by hgq-pareto (TSV);\n"
    "'-' or no FILE and no -T reads one from standard input.\n";

struct opts {
	const char	*input;
	const char	*labels;
	const char	*meta;
	const char	*output;
	const char	*list;
	bool		 all;
	bool		 best;
	bool		 json;
	uint64_t	 max_ebops;	/* UINT64_MAX: no budget */
	uint64_t	 max_luts;
	int		 threads;
	int		 n_files;
	char		**files;
};

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "all",	no_argument,		NULL, 'a' },
		{ "best",	no_argument,		NULL, 'b' },
		{ "files-from",	required_argument,	NULL, 'T' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "input",	required_argument,	NULL, 'i' },
		{ "json",	no_argument,		NULL, 'J' },
		{ "labels",	required_argument,	NULL, 'l' },
		{ "max-ebops",	required_argument,	NULL, 'E' },
		{ "max-luts",	required_argument,	NULL, 'L' },
		{ "meta",	required_argument,	NULL, 'm' },
		{ "output",	required_argument,	NULL, 'o' },
		{ "threads",	required_argument,	NULL, 't' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	static char help[sizeof(usage_text) + sizeof(help_text)];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int ch;

	memset(o, 0, sizeof(*o));
	o->max_ebops = o->max_luts = UINT64_MAX;
	o->threads = ncpu > 0 ? (int)ncpu : 1;
	while ((ch = getopt_long(argc, argv, "abhi:l:m:o:T:t:V", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'a':
			o->all = true;
			break;
		case 'b':
			o->best = true;
			break;
		case 'E':
			o->max_ebops = (uint64_t)cli_parse_long(optarg,
			    "--max-ebops", 0, INT64_MAX);
			o->best = true;
			break;
		case 'h':
			snprintf(help, sizeof(help), "%s%s", usage_text,
			    help_text);
			cli_help(help);
			/* NOTREACHED */
		case 'i':
			o->input = optarg;
			break;
		case 'J':
			o->json = true;
			break;
		case 'L':
			o->max_luts = (uint64_t)cli_parse_long(optarg,
			    "--max-luts", 0, INT64_MAX);
			o->best = true;
			break;
		case 'l':
			o->labels = optarg;
			break;
		case 'm':
			o->meta = optarg;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'T':
			o->list = optarg;
			break;
		case 't':
			o->threads = (int)cli_parse_long(optarg, "--threads", 1,
			    64);
			break;
		case 'V':
			cli_version();
			/* NOTREACHED */
		default:
			cli_usage(usage_text);
			/* NOTREACHED */
		}
	}
	if ((o->input == NULL) != (o->labels == NULL))
		cli_usage_msg(usage_text, "-i and -l go together");
	if (o->input != NULL && o->meta != NULL)
		cli_usage_msg(usage_text, "-i/-l and -m exclude each other");
	if (o->meta != NULL && (o->meta[0] == '\0' ||
	    strpbrk(o->meta, "\t\n\r") != NULL))
		cli_usage_msg(usage_text, "-m: not a metadata key");
	if (o->all && o->best)
		cli_usage_msg(usage_text, "-a and --best or a budget exclude "
		    "each other");
	o->n_files = argc - optind;
	o->files = argv + optind;
}

/* the data that exact accuracies are counted on */
struct data {
	struct hgq_table x, y;
};

static void
data_load(struct data *d, const struct opts *o)
{
	struct hgq_err err = HGQ_ERR_INIT;

	memset(d, 0, sizeof(*d));
	if (o->input == NULL)
		return;
	if (hgq_table_load(o->input, NULL, &d->x, &err) != HGQ_OK)
		die("cannot read inputs '%s': %s", cli_name(o->input),
		    err.msg);
	if (hgq_table_load(o->labels, NULL, &d->y, &err) != HGQ_OK)
		die("cannot read labels '%s': %s", cli_name(o->labels),
		    err.msg);
	if (d->y.n_cols != 1)
		die("labels '%s': %zu columns, want 1", cli_name(o->labels),
		    d->y.n_cols);
	if (d->y.n_rows != d->x.n_rows)
		die("'%s' has %zu rows, '%s' %zu", cli_name(o->input),
		    d->x.n_rows, cli_name(o->labels), d->y.n_rows);
}

/* one operand: a model (measured now) or a front (read back) */
static void
add_file(struct hgq_front *f, const char *path, const struct opts *o,
    const struct data *d)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_front_point p;
	struct hgq_model *m = NULL;
	FILE *in = cli_open_in(path);
	char src[300];
	int c = getc(in);

	if (c == EOF)
		die("'%s' is empty: neither a model nor a front",
		    cli_name(path));
	ungetc(c, in);
	if (c == '#') {
		if (hgq_front_read_tsv(f, in, cli_name(path), &err) != HGQ_OK)
			die("cannot read front '%s': %s", cli_name(path),
			    err.msg);
		cli_close_in(in, path);
		return;
	}
	if (c != 'H')
		die("'%s' is neither a model nor a front of hgq-pareto",
		    cli_name(path));
	if (hgq_model_read(in, &m, &err) != HGQ_OK)
		die("cannot read model '%s': %s", cli_name(path), err.msg);
	cli_close_in(in, path);
	if (o->input == NULL && o->meta == NULL)
		cli_usage_msg(usage_text, "model '%s': say how to measure its "
		    "accuracy: -i and -l, or -m KEY", cli_name(path));
	if (hgq_front_measure(&p, m, o->meta, d->x.x, d->x.n_cols, d->y.x,
	    d->x.n_rows, o->threads, &err) != HGQ_OK)
		die("cannot measure model '%s': %s", cli_name(path), err.msg);
	hgq_model_free(m);
	p.name = (char *)path;
	if (o->meta != NULL)
		snprintf(src, sizeof(src), "meta:%s", o->meta);
	else
		snprintf(src, sizeof(src), "exact");
	if (hgq_front_add(f, &p, src, &err) != HGQ_OK)
		die("%s", err.msg);
}

/* -T: one operand a line; empty lines are skipped */
static void
add_list(struct hgq_front *f, const struct opts *o, const struct data *d)
{
	FILE *in = cli_open_in(o->list);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	while ((len = getline(&line, &cap, in)) != -1) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0)
			continue;
		if ((size_t)len != strlen(line))
			die("list '%s': a NUL byte in a name",
			    cli_name(o->list));
		add_file(f, line, o, d);
	}
	if (ferror(in))
		die("cannot read list '%s':", cli_name(o->list));
	free(line);
	cli_close_in(in, o->list);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_front f;
	struct data d;
	long pick = -1;
	FILE *out;

	cli_setprogname(argv[0]);
	parse_args(argc, argv, &o);
	data_load(&d, &o);

	hgq_front_init(&f);
	for (int j = 0; j < o.n_files; j++)
		add_file(&f, o.files[j], &o, &d);
	if (o.list != NULL)
		add_list(&f, &o, &d);
	if (o.n_files == 0 && o.list == NULL)
		add_file(&f, "-", &o, &d);
	if (hgq_front_merge(&f, &err) != HGQ_OK)
		die("cannot merge: %s", err.msg);
	if (o.best && (pick = hgq_front_pick(&f, o.max_ebops, o.max_luts)) < 0) {
		if (f.n == 0)
			die("no models to choose from");
		die("no model within the budget: the cheapest of %zu has %"
		    PRIu64 " EBOPs and a LUT estimate of %" PRIu64, f.n,
		    f.pts[0].ebops, f.pts[0].lut_estimate);
	}

	out = cli_open_out(o.output, 0);
	if (hgq_front_write(out, &f, o.json, o.all, pick, &err) != HGQ_OK)
		die("cannot write %s: %s", o.output != NULL ? o.output :
		    "standard output", err.msg);
	cli_commit_out(out, o.output != NULL ? o.output : "-");

	hgq_front_release(&f);
	hgq_table_release(&d.x);
	hgq_table_release(&d.y);
	return 0;
}
