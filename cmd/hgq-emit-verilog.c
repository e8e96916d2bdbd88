/*
 * hgq-emit-verilog - a calibrated model, chain or graph, as
 * multiplier-free Verilog: one shared adder graph per dense layer and
 * per convolution position (or group of positions), comparator trees for
 * max-pooling, adder trees for add and subtract, a case ROM per
 * lookup-table element, named ports for named model inputs and outputs;
 * combinational or pipelined, with an optional self-checking testbench
 * and a resource report.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hgq.h"

static const char usage_text[] =
    "usage: hgq-emit-verilog [-n N] [-o OUT] [--max-extra-depth D]\n"
    "                        [--modules[=N]] [--pipeline N]\n"
    "                        [--report text | json]\n"
    "                        [--report-file FILE]\n"
    "                        [--share none | widths | taps]\n"
    "                        [--style adders | behavioral]\n"
    "                        [--testbench TB --vectors INPUTS] [--top NAME]\n"
    "                        [MODEL | -]\n";

static const char help_text[] =
    "\n"
    "Write a calibrated hgq model as Verilog-2005 built from adders.\n"
    "\n"
    "  -o, --output FILE        the Verilog module [standard output]\n"
    "      --top NAME           module name [OUT's base name, or hgq_top]\n"
    "      --pipeline N         a register every N adder levels [0: none]\n"
    "      --modules[=N]        a top module and one submodule per group\n"
    "                           of about N ops of a layer [1024]\n"
    "      --max-extra-depth D  adder levels allowed above the minimal\n"
    "                           tree of each layer [2]; -1: no limit\n"
    "      --share MODE         convolutions: one adder graph per position\n"
    "                           (none), per pattern of input widths\n"
    "                           (widths) or of non-zero taps (taps) [taps]\n"
    "      --style STYLE        adders (shared adder graphs) or behavioral\n"
    "                           (the same network with * operators) [adders]\n"
    "      --testbench TB       a self-checking testbench; its vectors go\n"
    "                           to TB's name with _inp.mem and _exp.mem\n"
    "      --vectors INPUTS     raw inputs for the testbench (npy, CSV, IDX)\n"
    "  -n N                     at most N rows of INPUTS [all]\n"
    "      --report FORMAT      resource report, text or json, on standard\n"
    "                           output (then -o is needed)\n"
    "      --report-file FILE   the report to FILE [json]\n"
    "  -h, --help               this help\n"
    "  -V, --version            the version\n";

static const char *const report_names[] = { "text", "json", NULL };
static const char *const style_names[] = { "adders", "behavioral", NULL };
static const char *const share_names[] = { "none", "widths", "taps", NULL };

struct opts {
	const char	*model;
	const char	*out;
	const char	*top;
	const char	*tb;
	const char	*vectors;
	const char	*report_file;
	long		 n_max;
	long		 modules;	/* ops per submodule; 0: flat */
	int		 pipeline;
	int		 extra_depth;
	int		 behavioral;
	int		 share;		/* enum hgq_share */
	int		 report;	/* 0 none, 1 text, 2 json */
};

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "help",		no_argument,		NULL, 'h' },
		{ "max-extra-depth",	required_argument,	NULL, 'D' },
		{ "modules",		optional_argument,	NULL, 'm' },
		{ "output",		required_argument,	NULL, 'o' },
		{ "pipeline",		required_argument,	NULL, 'p' },
		{ "report",		required_argument,	NULL, 'r' },
		{ "report-file",	required_argument,	NULL, 'R' },
		{ "share",		required_argument,	NULL, 'S' },
		{ "style",		required_argument,	NULL, 's' },
		{ "testbench",		required_argument,	NULL, 'T' },
		{ "top",		required_argument,	NULL, 't' },
		{ "vectors",		required_argument,	NULL, 'v' },
		{ "version",		no_argument,		NULL, 'V' },
		{ NULL,			0,			NULL, 0 }
	};
	static char help[sizeof(usage_text) + sizeof(help_text)];
	int ch;

	memset(o, 0, sizeof(*o));
	o->extra_depth = 2;
	o->n_max = -1;
	o->share = HGQ_SHARE_TAPS;
	while ((ch = getopt_long(argc, argv, "hn:o:V", longopts, NULL)) != -1) {
		switch (ch) {
		case 'D':
			o->extra_depth = (int)cli_parse_long(optarg,
			    "--max-extra-depth", -1, 30);
			break;
		case 'h':
			snprintf(help, sizeof(help), "%s%s", usage_text,
			    help_text);
			cli_help(help);
			/* NOTREACHED */
		case 'm':
			o->modules = optarg == NULL ? 1024 :
			    cli_parse_long(optarg, "--modules", 1, 100000000);
			break;
		case 'n':
			o->n_max = cli_parse_long(optarg, "-n", 1, 100000000);
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'p':
			o->pipeline = (int)cli_parse_long(optarg, "--pipeline",
			    0, 1000);
			break;
		case 'R':
			o->report_file = optarg;
			break;
		case 'r':
			o->report = 1 + cli_parse_choice(usage_text, "--report",
			    optarg, report_names);
			break;
		case 'S':
			o->share = cli_parse_choice(usage_text, "--share",
			    optarg, share_names);
			break;
		case 's':
			o->behavioral = cli_parse_choice(usage_text, "--style",
			    optarg, style_names);
			break;
		case 'T':
			o->tb = optarg;
			break;
		case 't':
			o->top = optarg;
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
	o->model = argc == 1 ? argv[0] : "-";
	if ((o->tb == NULL) != (o->vectors == NULL))
		cli_usage_msg(usage_text, "--testbench and --vectors go "
		    "together");
	if (o->n_max > 0 && o->vectors == NULL)
		cli_usage_msg(usage_text, "-n needs --vectors");
	if (o->report != 0 && o->report_file == NULL &&
	    (o->out == NULL || strcmp(o->out, "-") == 0))
		cli_usage_msg(usage_text, "the report and the Verilog cannot "
		    "both go to standard output (use -o or --report-file)");
	if (o->report_file != NULL && o->report == 0)
		o->report = 2;
}

/* the module name: --top, else OUT's base name when it can be one */
static const char *
top_name(const struct opts *o, char *buf, size_t size)
{
	const char *base, *dot;
	size_t n;

	if (o->top != NULL)
		return o->top;
	if (o->out == NULL || strcmp(o->out, "-") == 0)
		return "hgq_top";
	base = strrchr(o->out, '/');
	base = base != NULL ? base + 1 : o->out;
	dot = strrchr(base, '.');
	n = dot != NULL ? (size_t)(dot - base) : strlen(base);
	if (n == 0 || n >= size)
		return "hgq_top";
	memcpy(buf, base, n);
	buf[n] = '\0';
	return hgq_verilog_ident_ok(buf) ? buf : "hgq_top";
}

/*
 * The vector files of testbench tb: tb without ".v", then "_inp.mem" and
 * "_exp.mem"; *name is what the testbench reads: the same path when tb
 * is absolute, else the base name (relative to the testbench's folder).
 */
static char *
vec_path(const char *tb, const char *suffix, const char **name)
{
	size_t n = strlen(tb);
	char *p;

	if (n > 2 && strcmp(tb + n - 2, ".v") == 0)
		n -= 2;
	if ((p = malloc(n + strlen(suffix) + 1)) == NULL)
		die("out of memory");
	memcpy(p, tb, n);
	strcpy(p + n, suffix);
	if (tb[0] == '/')
		*name = p;
	else
		*name = strrchr(p, '/') != NULL ? strrchr(p, '/') + 1 : p;
	return p;
}

/* the testbench and its vector files, open but not yet in place */
struct tb_out {
	char		*inp_path, *exp_path;
	const char	*inp_name, *exp_name;
	FILE		*tb, *inp, *exp;
};

static void
testbench_open(const struct opts *o, struct tb_out *t)
{
	t->inp_path = vec_path(o->tb, "_inp.mem", &t->inp_name);
	t->exp_path = vec_path(o->tb, "_exp.mem", &t->exp_name);
	t->tb = cli_open_out(o->tb, 0);
	t->inp = cli_open_out(t->inp_path, 0);
	t->exp = cli_open_out(t->exp_path, 0);
}

static void
testbench_write(const struct opts *o, const struct hgq_model *m,
    const struct hgq_ir *ir, const struct hgq_verilog_opts *vo,
    struct tb_out *t)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_data_opts dopt;
	struct hgq_table tab;
	struct hgq_engine *e;
	size_t n;

	hgq_data_opts_init(&dopt);
	if (hgq_table_load(o->vectors, &dopt, &tab, &err) != HGQ_OK)
		die("%s", err.msg);
	if (hgq_engine_new(&e, m, &err) != HGQ_OK)
		die("model '%s': %s", cli_name(o->model), err.msg);
	if (tab.n_cols != hgq_engine_n_in(e))
		die("%s: %zu columns, the model takes %u", o->vectors,
		    tab.n_cols, hgq_engine_n_in(e));
	n = tab.n_rows;
	if (o->n_max > 0 && (size_t)o->n_max < n)
		n = (size_t)o->n_max;
	if (n == 0)
		die("%s: no rows", o->vectors);
	if (hgq_verilog_vectors(t->inp, t->exp, m, e, tab.x, n, &err) !=
	    HGQ_OK)
		die("cannot write the vectors: %s", err.msg);
	if (hgq_verilog_testbench(t->tb, ir, vo, t->inp_name, t->exp_name, n,
	    &err) != HGQ_OK)
		die("cannot write '%s': %s", o->tb, err.msg);
	hgq_engine_free(e);
	hgq_table_release(&tab);
}

static void
testbench_commit(const struct opts *o, struct tb_out *t)
{
	cli_commit_out(t->inp, t->inp_path);
	cli_commit_out(t->exp, t->exp_path);
	cli_commit_out(t->tb, o->tb);
	free(t->inp_path);
	free(t->exp_path);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_cmvm_params par;
	struct hgq_verilog_opts vo;
	struct hgq_model *m;
	struct hgq_ir *ir;
	struct tb_out tb;
	char topbuf[256];
	FILE *f, *rf = NULL;

	cli_setprogname(argv[0]);
	parse_args(argc, argv, &o);

	m = cli_read_model(o.model);
	hgq_cmvm_params_init(&par);
	par.max_extra_depth = o.extra_depth;
	par.conv_share = o.share;
	if (hgq_ir_build(&ir, m, &par, o.behavioral, &err) != HGQ_OK)
		die("model '%s': %s", cli_name(o.model), err.msg);
	hgq_verilog_opts_init(&vo);
	vo.top = top_name(&o, topbuf, sizeof(topbuf));
	vo.pipeline = o.pipeline;
	vo.modules = (uint32_t)o.modules;

	/*
	 * Every file is opened first and put in place only when all are
	 * written, so a failure leaves none of them behind; a report on
	 * standard output comes last.
	 */
	f = cli_open_out(o.out, 0);
	if (o.report_file != NULL)
		rf = cli_open_out(o.report_file, 0);
	if (o.tb != NULL)
		testbench_open(&o, &tb);
	if (hgq_verilog_write(f, ir, &vo, &err) != HGQ_OK)
		die("cannot write %s%s%s: %s", f == stdout ? "" : "'",
		    f == stdout ? "standard output" : o.out,
		    f == stdout ? "" : "'", err.msg);
	if (o.tb != NULL)
		testbench_write(&o, m, ir, &vo, &tb);
	if (rf != NULL && hgq_verilog_report(rf, ir, o.pipeline,
	    o.report == 2, &err) != HGQ_OK)
		die("cannot write '%s': %s", o.report_file, err.msg);
	if (o.tb != NULL)
		testbench_commit(&o, &tb);
	if (rf != NULL)
		cli_commit_out(rf, o.report_file);
	if (f != stdout)
		cli_commit_out(f, o.out);
	if (o.report != 0 && rf == NULL && hgq_verilog_report(stdout, ir,
	    o.pipeline, o.report == 2, &err) != HGQ_OK)
		die("cannot write the report to standard output: %s",
		    err.msg);
	if (f == stdout || (o.report != 0 && rf == NULL))
		cli_commit_out(stdout, "-");
	hgq_ir_free(ir);
	hgq_model_free(m);
	return 0;
}
