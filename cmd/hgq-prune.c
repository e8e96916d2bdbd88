/*
 * hgq-prune - remove what computes nothing (dead neurons, unused inputs)
 * from a calibrated model without changing its function.
 * Reads one model (file or stdin), writes one model (stdout or -o) and
 * reports per dense layer what went on stderr.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hgq.h"
#include "cli.h"

static const char usage_text[] =
    "usage: hgq-prune [-q] [-o OUT] [MODEL | -]\n";

static const char help_text[] =
    "usage: hgq-prune [-q] [-o OUT] [MODEL | -]\n"
    "\n"
    "Remove dead neurons and unused inputs from a calibrated model; the\n"
    "pruned model computes exactly the same outputs.\n"
    "\n"
    "  -h, --help          print this help and exit\n"
    "  -o, --output OUT    write the model to OUT atomically [stdout]\n"
    "  -q, --quiet         do not report what was removed\n"
    "  -V, --version       print the version and exit\n"
    "\n"
    "The model is read from the operand, or stdin when it is absent or -.\n";

struct opts {
	const char	*in;		/* "-" = stdin */
	const char	*out;		/* NULL = stdout */
	int		 verbose;	/* -q sets -1 */
};

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "help",	no_argument,		NULL, 'h' },
		{ "output",	required_argument,	NULL, 'o' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	int ch;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long(argc, argv, "ho:qV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			cli_help(help_text);
			/* NOTREACHED */
		case 'o':
			o->out = optarg;
			break;
		case 'q':
			o->verbose = -1;
			break;
		case 'V':
			cli_version();
			/* NOTREACHED */
		default:
			cli_usage(usage_text);
			/* NOTREACHED */
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1) {
		warnx("one model at a time (%d operands given)", argc);
		cli_usage(usage_text);
	}
	o->in = argc == 1 ? argv[0] : "-";
}

/* "dense_1: 784x64 -> 412x57 (372 inputs, 7 neurons removed)" */
static void
report(const struct hgq_prune_report *r)
{
	for (uint32_t n = 0; n < r->n_dense; n++) {
		const struct hgq_prune_stats *s = &r->layer[n];
		char cleared[64] = "";

		if (s->outputs_cleared > 0)
			snprintf(cleared, sizeof(cleared), ", %" PRIu32
			    " zero-width output%s cleared", s->outputs_cleared,
			    s->outputs_cleared == 1 ? "" : "s");
		warnx("dense_%" PRIu32 ": %" PRIu32 "x%" PRIu32 " -> %" PRIu32
		    "x%" PRIu32 " (%" PRIu32 " input%s, %" PRIu32 " neuron%s"
		    " removed%s; %" PRIu64 " zero weight%s left)", n + 1,
		    s->n_in, s->n_out, s->new_in, s->new_out,
		    s->inputs_removed, s->inputs_removed == 1 ? "" : "s",
		    s->neurons_removed, s->neurons_removed == 1 ? "" : "s",
		    cleared, s->zero_weights, s->zero_weights == 1 ? "" : "s");
	}
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_prune_report r;
	struct hgq_model *m;

	cli_setprogname(argv[0]);
	parse_args(argc, argv, &o);
	cli_setverbosity(o.verbose);

	m = cli_read_model(o.in);
	cli_require_dense(m);
	if (hgq_prune(m, &r, &err) != HGQ_OK)
		die("cannot prune model '%s': %s", cli_name(o.in), err.msg);
	cli_write_model(o.out, m, 0);
	if (o.verbose >= 0)
		report(&r);

	hgq_prune_report_release(&r);
	hgq_model_free(m);
	return 0;
}
