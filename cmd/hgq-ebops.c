/*
 * hgq-ebops - exact EBOPs of a calibrated model per dense layer and in
 * total, with weight and bit-width counts, histograms and a LUT estimate;
 * or, with --dump, the whole model as JSON.
 * Reads one model (file or stdin), writes a report to stdout.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "hgq.h"
#include "cli.h"

static const char usage_text[] =
    "usage: hgq-ebops [--dump | --json | --tsv] [MODEL | -]\n";

static const char help_text[] =
    "usage: hgq-ebops [--dump | --json | --tsv] [MODEL | -]\n"
    "\n"
    "Exact EBOPs of a calibrated model, per dense layer and in total.\n"
    "\n"
    "      --dump      print the whole model as JSON instead\n"
    "  -h, --help      print this help and exit\n"
    "      --json      the report as JSON\n"
    "      --tsv       the report as TSV ('#' header, one row per layer)\n"
    "  -V, --version   print the version and exit\n"
    "\n"
    "Without --json or --tsv the report is an aligned text table.\n"
    "The model is read from the operand, or stdin when it is absent or -.\n";

enum mode { MODE_TEXT, MODE_TSV, MODE_JSON, MODE_DUMP };

struct opts {
	const char	*in;		/* "-" = stdin */
	enum mode	 mode;
	int		 n_modes;	/* --dump/--json/--tsv given */
};

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "dump",	no_argument,	NULL, 'd' },
		{ "help",	no_argument,	NULL, 'h' },
		{ "json",	no_argument,	NULL, 'j' },
		{ "tsv",	no_argument,	NULL, 't' },
		{ "version",	no_argument,	NULL, 'V' },
		{ NULL,		0,		NULL, 0 }
	};
	int ch;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			o->mode = MODE_DUMP;
			o->n_modes++;
			break;
		case 'h':
			cli_help(help_text);
			/* NOTREACHED */
		case 'j':
			o->mode = MODE_JSON;
			o->n_modes++;
			break;
		case 't':
			o->mode = MODE_TSV;
			o->n_modes++;
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
	if (o->n_modes > 1) {
		warnx("--dump, --json and --tsv exclude each other");
		cli_usage(usage_text);
	}
	if (argc > 1) {
		warnx("one model at a time (%d operands given)", argc);
		cli_usage(usage_text);
	}
	o->in = argc == 1 ? argv[0] : "-";
}

int
main(int argc, char **argv)
{
	static const int style[] = {
		[MODE_TEXT] = HGQ_EBOPS_TEXT,
		[MODE_TSV] = HGQ_EBOPS_TSV,
		[MODE_JSON] = HGQ_EBOPS_JSON,
	};
	struct opts o;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_ebops_report r;
	struct hgq_model *m;
	FILE *out;

	cli_setprogname(argv[0]);
	parse_args(argc, argv, &o);

	m = cli_read_model(o.in);
	out = cli_open_out(NULL, 0);
	if (o.mode == MODE_DUMP) {
		if (hgq_model_dump_json(out, m, &err) == HGQ_EIO)
			die("cannot write standard output: %s", err.msg);
		else if (err.code != 0)
			die("cannot dump model '%s': %s", cli_name(o.in),
			    err.msg);
	} else {
		if (hgq_ebops_report(m, &r, &err) != HGQ_OK)
			die("cannot compute the EBOPs of '%s': %s",
			    cli_name(o.in), err.msg);
		if (hgq_ebops_write(out, &r, style[o.mode], &err) != HGQ_OK)
			die("cannot write standard output: %s", err.msg);
		hgq_ebops_report_release(&r);
	}
	cli_commit_out(out, "-");

	hgq_model_free(m);
	return 0;
}
