/*
 * hgq-prune - remove what computes nothing (dead neurons, filters and
 * channels, unused inputs) from a calibrated model without changing its
 * function.
 * Reads one model (file or stdin), writes one model (stdout or -o) and
 * reports per operation what went on stderr.
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
    "Remove dead neurons, filters, channels and unused inputs from a\n"
    "calibrated model; the pruned model computes exactly the same outputs.\n"
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

/* s + n from a count, pluralised: "1 filter", "2 filters" */
static const char *
plural(uint32_t n)
{
	return n == 1 ? "" : "s";
}

/*
 * One line per operation, named by kind as hgq-ebops names its rows:
 *   dense_1: 784x64 -> 412x57 (372 inputs, 7 neurons removed; 1201 zero
 *     weights left)
 *   conv2d_1: 3x3x1x8 -> 3x3x1x6 (0 input channels, 2 filters removed;
 *     10 zero weights left)
 *   conv1d_1: 3x4x8 -> 3x2x8 (2 input channels, 0 filters removed; ...)
 *   maxpool_1: 8 -> 6 channels (2 removed)
 *   flatten_1: 1352 -> 1014 elements (338 removed)
 *   add_1: 16 -> 16 elements (0 removed)    (and subtract, concatenate,
 *     lut: their output elements)
 */
static void
report(const struct hgq_prune_report *r)
{
	for (uint32_t n = 0; n < r->n_dense; n++) {
		const struct hgq_prune_stats *s = &r->layer[n];
		const char *kind = hgq_layer_kind_name(s->kind);
		char cleared[64] = "", kh[16] = "";
		uint32_t c = 0;

		for (uint32_t a = 0; a <= n; a++)
			c += r->layer[a].kind == s->kind;
		if (s->outputs_cleared > 0)
			snprintf(cleared, sizeof(cleared), ", %" PRIu32
			    " zero-width output%s cleared", s->outputs_cleared,
			    plural(s->outputs_cleared));
		switch (s->kind) {
		case HGQ_LAYER_DENSE:
			warnx("%s_%" PRIu32 ": %" PRIu32 "x%" PRIu32 " -> %"
			    PRIu32 "x%" PRIu32 " (%" PRIu32 " input%s, %"
			    PRIu32 " neuron%s removed%s; %" PRIu64 " zero "
			    "weight%s left)", kind, c, s->n_in, s->n_out,
			    s->new_in, s->new_out, s->inputs_removed,
			    plural(s->inputs_removed), s->neurons_removed,
			    plural(s->neurons_removed), cleared,
			    s->zero_weights, s->zero_weights == 1 ? "" : "s");
			break;
		case HGQ_LAYER_CONV1D:
		case HGQ_LAYER_CONV2D:
			/* the kernel shape: [KH, KW, C_in, C_out] (conv2d),
			   [K, C_in, C_out] (conv1d) */
			if (s->kind == HGQ_LAYER_CONV2D)
				snprintf(kh, sizeof(kh), "%" PRIu32 "x", s->k_h);
			warnx("%s_%" PRIu32 ": %s%" PRIu32 "x%" PRIu32 "x%"
			    PRIu32 " -> %s%" PRIu32 "x%" PRIu32 "x%" PRIu32
			    " (%" PRIu32 " input channel%s, %"
			    PRIu32 " filter%s removed%s; %" PRIu64 " zero "
			    "weight%s left)", kind, c, kh, s->k_w,
			    s->in_c, s->out_c, kh, s->k_w, s->new_in_c,
			    s->new_out_c, s->in_c - s->new_in_c,
			    plural(s->in_c - s->new_in_c),
			    s->out_c - s->new_out_c,
			    plural(s->out_c - s->new_out_c), cleared,
			    s->zero_weights, s->zero_weights == 1 ? "" : "s");
			break;
		case HGQ_LAYER_FLATTEN:
		case HGQ_LAYER_ADD:
		case HGQ_LAYER_SUB:
		case HGQ_LAYER_CONCAT:
		case HGQ_LAYER_LUT:
			warnx("%s_%" PRIu32 ": %" PRIu32 " -> %" PRIu32
			    " elements (%" PRIu32 " removed)", kind, c,
			    s->n_out, s->new_out, s->neurons_removed);
			break;
		default:
			warnx("%s_%" PRIu32 ": %" PRIu32 " -> %" PRIu32
			    " channels (%" PRIu32 " removed)", kind, c,
			    s->out_c, s->new_out_c, s->out_c - s->new_out_c);
		}
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
	if (hgq_prune(m, &r, &err) != HGQ_OK)
		die("cannot prune model '%s': %s", cli_name(o.in), err.msg);
	cli_write_model(o.out, m, 0);
	if (o.verbose >= 0)
		report(&r);

	hgq_prune_report_release(&r);
	hgq_model_free(m);
	return 0;
}
