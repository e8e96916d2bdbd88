/*
 * hgq-train - quantization-aware training with learned per-element
 * bit-widths (HGQ).  Reads a YAML config and its data, writes the trained,
 * calibrated model to stdout or -o, the Pareto front of (validation
 * accuracy, EBOPs) to a folder and a per-epoch TSV log.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hgq.h"
#include "cli.h"

static const char usage_text[] =
    "usage: hgq-train [-q] -c config.yaml [-o out.hgqm] [--beta-max X]\n"
    "                 [--epochs N] [--limit-train N] [--log FILE]\n"
    "                 [--pareto-dir DIR] [--resume model.hgqm] [--seed N]\n"
    "                 [--threads N]\n";

struct opts {
	const char	*config;
	const char	*out;
	const char	*resume;
	const char	*pareto_dir;
	const char	*log;
	long		 epochs;	/* 0: from the config */
	unsigned long long seed;
	bool		 seed_set;
	double		 beta_max;	/* < 0: from the config */
	long		 threads;	/* -1: from the config */
	long		 limit;		/* 0: all rows */
	int		 verbose;
};

struct run {
	const struct opts	*o;
	const struct hgq_config	*c;
	struct hgq_pareto	 front;
	int			 classify;
	int			 bar;		/* progress bar on stderr */
	double			 last_bar;	/* 0: no bar on screen */
	double			 ep_start;
	uint32_t		 epoch;		/* in progress, 1-based */
};

static volatile sig_atomic_t stop_requested;

static void
on_sigint(int sig)
{
	(void)sig;
	if (stop_requested) {
		/* a second Ctrl-C: give up at once, leaving no temporary
		   file of a log or Pareto model being written */
		hgq_afile_cleanup();
		_exit(130);
	}
	stop_requested = 1;
}

static void help(void) __attribute__((noreturn));

static void
help(void)
{
	struct hgq_config c;

	hgq_config_init(&c);
	printf("%s\n"
	    "Train a network with learned per-element fixed-point bit-widths.\n"
	    "\n"
	    "  -c, --config FILE     training config (YAML), required\n"
	    "  -o, --output FILE     the final model [standard output]\n"
	    "  -q, --quiet           no progress on standard error\n"
	    "      --beta-max X      scale the beta schedule to peak at X "
	    "[config]\n"
	    "      --epochs N        epochs in all [config; default %" PRIu32
	    "]\n"
	    "      --limit-train N   use only the first N rows of train_x "
	    "[all]\n"
	    "      --log FILE        per-epoch TSV log [config output.log]\n"
	    "      --pareto-dir DIR  Pareto-front models [config "
	    "output.pareto_dir]\n"
	    "      --resume MODEL    continue the run that wrote MODEL\n"
	    "      --seed N          random seed [config; default %" PRIu64
	    "]\n"
	    "      --threads N       threads, 0 = every CPU [config; default "
	    "%" PRIu32 "]\n"
	    "  -h, --help            this text\n"
	    "  -V, --version         the version\n",
	    usage_text, c.train.epochs, c.seed, c.train.threads);
	cli_help("");
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_BETA = 256, O_EPOCHS, O_LIMIT, O_LOG, O_PARETO, O_RESUME,
	    O_SEED, O_THREADS };
	static const struct option longopts[] = {
		{ "beta-max",	required_argument,	NULL, O_BETA },
		{ "config",	required_argument,	NULL, 'c' },
		{ "epochs",	required_argument,	NULL, O_EPOCHS },
		{ "help",	no_argument,		NULL, 'h' },
		{ "limit-train", required_argument,	NULL, O_LIMIT },
		{ "log",	required_argument,	NULL, O_LOG },
		{ "output",	required_argument,	NULL, 'o' },
		{ "pareto-dir",	required_argument,	NULL, O_PARETO },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "resume",	required_argument,	NULL, O_RESUME },
		{ "seed",	required_argument,	NULL, O_SEED },
		{ "threads",	required_argument,	NULL, O_THREADS },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->beta_max = -1;
	o->threads = -1;
	while ((ch = getopt_long(argc, argv, "c:ho:qV", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'h':
			help();
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
		case O_BETA:
			o->beta_max = cli_parse_double(optarg, "--beta-max", 0,
			    1e6);
			break;
		case O_EPOCHS:
			o->epochs = cli_parse_long(optarg, "--epochs", 1,
			    10000000);
			break;
		case O_LIMIT:
			o->limit = cli_parse_long(optarg, "--limit-train", 1,
			    (long)1 << 40);
			break;
		case O_LOG:
			o->log = optarg;
			break;
		case O_PARETO:
			o->pareto_dir = optarg;
			break;
		case O_RESUME:
			o->resume = optarg;
			break;
		case O_SEED:
			o->seed = (unsigned long long)cli_parse_long(optarg,
			    "--seed", 0, (long)(~0UL >> 1));
			o->seed_set = true;
			break;
		case O_THREADS:
			o->threads = cli_parse_long(optarg, "--threads", 0,
			    256);
			break;
		default:
			cli_usage(usage_text);
			/* NOTREACHED */
		}
	}
	if (optind != argc) {
		warnx("unexpected operand '%s'", argv[optind]);
		cli_usage(usage_text);
	}
	if (o->config == NULL) {
		warnx("a config is required (-c config.yaml)");
		cli_usage(usage_text);
	}
}

/* replace a config string (owned by the config) */
static void
set_str(char **dst, const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		die("out of memory");
	free(*dst);
	*dst = d;
}

static void
apply_overrides(struct hgq_config *c, const struct opts *o)
{
	if (o->epochs > 0)
		c->train.epochs = (uint32_t)o->epochs;
	if (o->seed_set)
		c->seed = o->seed;
	if (o->threads >= 0)
		c->train.threads = (uint32_t)o->threads;
	if (o->pareto_dir != NULL)
		set_str(&c->output.pareto_dir, o->pareto_dir);
	if (o->log != NULL)
		set_str(&c->output.log, o->log);
	if (o->beta_max >= 0) {
		double mx = 0;

		for (uint32_t k = 0; k < c->train.n_beta; k++)
			if (c->train.beta[k].value > mx)
				mx = c->train.beta[k].value;
		for (uint32_t k = 0; k < c->train.n_beta; k++)
			c->train.beta[k].value = mx > 0 ?
			    c->train.beta[k].value * (o->beta_max / mx) :
			    o->beta_max;
	}
}

/* mkdir -p */
static void
make_dirs(const char *path)
{
	char *p = strdup(path);

	if (p == NULL)
		die("out of memory");
	for (char *s = p + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char save = *s;

			*s = '\0';
			if (mkdir(p, 0777) != 0 && errno != EEXIST)
				die("cannot create folder '%s':", p);
			*s = save;
			if (save == '\0')
				break;
		}
	}
	free(p);
}

static void
make_parent(const char *path)
{
	char *p = strdup(path), *s;

	if (p == NULL)
		die("out of memory");
	if ((s = strrchr(p, '/')) != NULL && s != p) {
		*s = '\0';
		make_dirs(p);
	}
	free(p);
}

/*
 * Fail at once, not after the last epoch, when an output cannot be made:
 * open and abort the atomic writer's temporary file where the output will
 * go (same folder, so the same permissions and file system).
 */
static void
probe_out(const char *path)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_afile *a;
	struct stat st;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		die("cannot create '%s': it is a folder", path);
	if (hgq_afile_open(&a, path, &err) != HGQ_OK)
		die("%s", err.msg);
	hgq_afile_abort(a);
}

/*
 * write_log - the log is rewritten after every epoch through the atomic
 * writer: a reader always finds a complete log of the epochs so far, and
 * an interrupted run leaves no temporary file.
 */
static void
write_log(const char *path, const char *text)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_afile *a;

	if (hgq_afile_open(&a, path, &err) != HGQ_OK)
		die("%s", err.msg);
	if (fputs(text, hgq_afile_stream(a)) < 0) {
		hgq_afile_abort(a);
		die("cannot write '%s':", path);
	}
	if (hgq_afile_commit(a, &err) != HGQ_OK)
		die("%s", err.msg);
}

static char *
join(const char *dir, const char *name)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);

	if (p == NULL)
		die("out of memory");
	sprintf(p, "%s/%s", dir, name);
	return p;
}

/* the file name of a front member: epoch, metric and EBOPs */
static void
front_name(char *buf, size_t size, int classify, uint32_t epoch,
    double metric, uint64_t ebops)
{
	if (classify)
		snprintf(buf, size, "epoch%04" PRIu32 "-acc%.4f-ebops%"
		    PRIu64 ".hgqm", epoch, metric, ebops);
	else
		snprintf(buf, size, "epoch%04" PRIu32 "-mse%.6g-ebops%"
		    PRIu64 ".hgqm", epoch, metric, ebops);
}

/*
 * Models already in the folder (an earlier or interrupted run) are part
 * of the front: read their metrics back from their names.
 */
static void
front_load(struct run *r, const char *dir)
{
	struct hgq_err err = HGQ_ERR_INIT;
	DIR *dp = opendir(dir);
	struct dirent *de;

	if (dp == NULL)
		die("cannot open folder '%s':", dir);
	while ((de = readdir(dp)) != NULL) {
		char *removed[1024];
		unsigned ep;
		double metric;
		unsigned long long eb;
		size_t n_rm;
		char check[256];

		if (r->classify ? sscanf(de->d_name,
		    "epoch%u-acc%lf-ebops%llu.hgqm", &ep, &metric, &eb) != 3 :
		    sscanf(de->d_name, "epoch%u-mse%lf-ebops%llu.hgqm", &ep,
		    &metric, &eb) != 3)
			continue;
		front_name(check, sizeof(check), r->classify, ep, metric, eb);
		if (strcmp(check, de->d_name) != 0 || r->front.n >= 1024)
			continue;
		if (hgq_pareto_add(&r->front, r->classify ? metric : -metric,
		    eb, ep, de->d_name, removed, &n_rm, &err) < 0)
			die("%s", err.msg);
		for (size_t k = 0; k < n_rm; k++) {
			char *path = join(dir, removed[k]);

			unlink(path);
			free(path);
			free(removed[k]);
		}
	}
	closedir(dp);
}

static void
front_update(struct run *r, const struct hgq_train_epoch *ep)
{
	struct hgq_err err = HGQ_ERR_INIT;
	const char *dir = r->c->output.pareto_dir;
	char name[256], **removed;
	size_t n_rm;
	int rc;

	front_name(name, sizeof(name), r->classify, ep->epoch, ep->val_metric,
	    ep->ebops);
	removed = calloc(r->front.n + 1, sizeof(*removed));
	if (removed == NULL)
		die("out of memory");
	rc = hgq_pareto_add(&r->front, r->classify ? ep->val_metric :
	    -ep->val_metric, ep->ebops, ep->epoch, name, removed, &n_rm,
	    &err);
	if (rc < 0)
		die("%s", err.msg);
	if (rc == 1) {
		char *path = join(dir, name);

		if (hgq_model_save(path, ep->model, 0, &err) != HGQ_OK)
			die("cannot write '%s': %s", path, err.msg);
		free(path);
		/* the new member is in place: now drop those it beats */
		for (size_t k = 0; k < n_rm; k++) {
			if (strcmp(removed[k], name) != 0) {
				path = join(dir, removed[k]);
				if (unlink(path) != 0 && errno != ENOENT)
					warnx("cannot remove '%s':", path);
				free(path);
			}
			free(removed[k]);
		}
	}
	free(removed);
}

static void
bar_clear(struct run *r)
{
	if (r->bar && r->last_bar > 0) {
		fputs("\r\033[K", stderr);
		r->last_bar = 0;
	}
}

static double
wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void
on_step(uint64_t done, uint64_t n_steps, void *arg)
{
	struct run *r = arg;
	double t = wall();
	int w = 30, k;

	if (done == 1)
		r->ep_start = t;
	/* only for long epochs, at most four times a second */
	if (!r->bar || t - r->ep_start < 0.5 || t - r->last_bar < 0.25 ||
	    done == n_steps)
		return;
	r->last_bar = t;
	k = (int)((double)done / (double)n_steps * w);
	fprintf(stderr, "\r%s: epoch %" PRIu32 " [%-*.*s] %3d%%",
	    cli_progname(), r->epoch, w, k,
	    "##############################", (int)(100 * done / n_steps));
}

static int
on_epoch(const struct hgq_train_epoch *ep, void *arg, struct hgq_err *err)
{
	struct run *r = arg;
	const char *metrics = hgq_meta_get(ep->model, "metrics");

	(void)err;
	bar_clear(r);
	if (r->o->verbose >= 0) {
		if (r->classify)
			fprintf(stderr, "%s: epoch %" PRIu32 "/%" PRIu32
			    " loss %.4f acc %.4f val %.4f ebops %" PRIu64
			    " beta %.3g lr %.3g %.0f samples/s\n",
			    cli_progname(), ep->epoch, ep->epochs, ep->loss,
			    ep->train_acc, ep->val_metric, ep->ebops,
			    ep->beta, ep->lr, ep->samples_per_s);
		else
			fprintf(stderr, "%s: epoch %" PRIu32 "/%" PRIu32
			    " loss %.4g val_mse %.4g ebops %" PRIu64
			    " beta %.3g lr %.3g %.0f samples/s\n",
			    cli_progname(), ep->epoch, ep->epochs, ep->loss,
			    ep->val_metric, ep->ebops, ep->beta, ep->lr,
			    ep->samples_per_s);
	}
	if (r->c->output.log != NULL && metrics != NULL)
		write_log(r->c->output.log, metrics);
	if (r->c->output.pareto_dir != NULL)
		front_update(r, ep);
	r->epoch = ep->epoch + 1;
	return HGQ_OK;
}

static int
should_stop(void *arg)
{
	(void)arg;
	return stop_requested != 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct hgq_config c;
	struct hgq_train_data d;
	struct hgq_train_params p;
	struct hgq_train_result res;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = NULL;
	struct run r;
	int rc;

	cli_setprogname(argv[0]);
	parse_args(argc, argv, &o);
	cli_setverbosity(o.verbose);
	if ((o.out == NULL || strcmp(o.out, "-") == 0) && isatty(1)) {
		fprintf(stderr, "%s: refusing to write a binary model to a "
		    "terminal (use -o or redirect)\n", cli_progname());
		return 2;
	}
	hgq_config_init(&c);
	if (hgq_config_load(&c, o.config, &err) != HGQ_OK)
		die("%s", err.msg);
	apply_overrides(&c, &o);
	/* every output is checked before the data are read */
	if (o.out != NULL && strcmp(o.out, "-") != 0)
		probe_out(o.out);
	if (c.output.pareto_dir != NULL) {
		char *probe = join(c.output.pareto_dir, "probe");

		make_dirs(c.output.pareto_dir);
		probe_out(probe);
		free(probe);
	}
	if (c.output.log != NULL) {
		make_parent(c.output.log);
		probe_out(c.output.log);
	}
	if (hgq_train_data_load(&d, &c, (size_t)o.limit, &err) != HGQ_OK)
		die("%s", err.msg);
	if (o.resume != NULL) {
		m = cli_read_model(o.resume);
		if (hgq_train_model_check(m, &c, &d, &err) != HGQ_OK)
			die("cannot resume from '%s': %s", o.resume, err.msg);
	} else if (hgq_train_model_new(&m, &c, &d, &err) != HGQ_OK) {
		/* a shape that does not fit is the config's "FILE:L:C: ..." */
		if (err.code == HGQ_EINVAL)
			die("%s", err.msg);
		die("cannot build the model: %s", err.msg);
	}
	memset(&r, 0, sizeof(r));
	r.o = &o;
	r.c = &c;
	r.classify = d.task == HGQ_TASK_CLASSIFY;
	r.bar = o.verbose >= 0 && isatty(2);
	r.epoch = m->train.epoch + 1;
	if (c.output.pareto_dir != NULL)
		front_load(&r, c.output.pareto_dir);
	hgq_train_params_init(&p);
	p.threads = (int)c.train.threads;
	p.on_epoch = on_epoch;
	p.on_step = on_step;
	p.should_stop = should_stop;
	p.arg = &r;
	/* Ctrl-C (unless ignored, as in a background job) and SIGTERM (a
	   batch system's warning) finish the step and write the model;
	   SIGHUP removes the temporary file of an output being written */
	cli_cleanup_on_signals();
	if (signal(SIGINT, on_sigint) == SIG_IGN)
		signal(SIGINT, SIG_IGN);
	signal(SIGTERM, on_sigint);
	rc = hgq_train(m, &c, &d, &p, &res, &err);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	bar_clear(&r);
	if (rc != HGQ_OK && !res.diverged)
		die("%s", err.msg);
	if (m->calibrated)
		cli_write_model(o.out, m, 0);
	if (res.diverged)
		die("%s", err.msg);
	if (res.interrupted)
		warnx("interrupted in epoch %" PRIu32 " after step %" PRIu64
		    "; the model so far was written (--resume continues)",
		    m->train.epoch + 1, m->train.step);
	else if (o.verbose >= 0 && !isnan(res.test_metric))
		fprintf(stderr, "%s: test %s %.4f (exact) at %" PRIu64
		    " ebops\n", cli_progname(), r.classify ? "accuracy" :
		    "mse", res.test_metric, res.ebops);
	hgq_pareto_release(&r.front);
	hgq_model_free(m);
	hgq_train_data_release(&d);
	hgq_config_release(&c);
	return res.interrupted ? 1 : 0;
}
