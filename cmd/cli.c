/*
 * cli.c - shared command-line glue (see cli.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char *progname = "hgq";
static int verbosity;
static int fail_code = 1;

/* the outputs opened by cli_open_out, written through the library's
   atomic files (whose temporary files die() and fatal signals remove) */
#define MAX_PENDING 8
static struct pending {
	FILE		 *f;
	struct hgq_afile *a;
} pending[MAX_PENDING];

static void
log_to_stderr(int level, const char *msg, void *arg)
{
	(void)arg;
	if (level == 0 && verbosity < 0)
		return;
	fprintf(stderr, "%s: %s%s\n", progname, level > 0 ? "warning: " : "",
	    msg);
}

static void
on_fatal_signal(int sig)
{
	hgq_afile_cleanup();		/* async-signal-safe */
	signal(sig, SIG_DFL);
	raise(sig);
}

void
cli_cleanup_on_signals(void)
{
	static const int sigs[] = { SIGHUP, SIGINT, SIGTERM };
	struct sigaction sa;

	for (size_t j = 0; j < sizeof(sigs) / sizeof(sigs[0]); j++)
		if (sigaction(sigs[j], NULL, &sa) == 0 &&
		    sa.sa_handler == SIG_DFL)
			signal(sigs[j], on_fatal_signal);
}

/*
 * keep_std_fds - started with standard input, output or error closed
 * (prog >&-), the next open() would take that descriptor, and what we
 * print would go into a file we opened: a model being written, say.  Fill
 * a closed 0, 1 or 2 with /dev/null opened the other way round, so that
 * reading standard input or writing standard output still fails (EBADF)
 * and is reported, as it is with the descriptor closed.
 */
static void
keep_std_fds(void)
{
	/* in order, so that open() returns fd itself; without /dev/null
	   there is nothing better to do than carry on */
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF)
			(void)open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
}

void
cli_setprogname(const char *argv0)
{
	const char *s = strrchr(argv0, '/');

	keep_std_fds();
	progname = s != NULL ? s + 1 : argv0;
	hgq_set_log(log_to_stderr, NULL);
}

const char *
cli_progname(void)
{
	return progname;
}

void
cli_setverbosity(int v)
{
	verbosity = v;
	hgq_set_log(log_to_stderr, NULL);
}

int
cli_verbosity(void)
{
	return verbosity;
}

static void
vmsg(const char *fmt, va_list ap)
{
	int saved = errno;
	size_t len = strlen(fmt);

	fprintf(stderr, "%s: ", progname);
	vfprintf(stderr, fmt, ap);
	if (len > 0 && fmt[len - 1] == ':')
		fprintf(stderr, " %s", strerror(saved));
	fputc('\n', stderr);
}

void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	hgq_afile_cleanup();
	exit(fail_code);
}

void
cli_set_fail_code(int code)
{
	fail_code = code;
}

void
warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void
cli_usage(const char *usage)
{
	fputs(usage, stderr);
	fprintf(stderr, "Try '%s --help' for more information.\n", progname);
	exit(2);
}

void
cli_usage_msg(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cli_usage(usage);
}

void
cli_help(const char *text)
{
	fputs(text, stdout);
	cli_commit_out(stdout, "-");
	exit(0);
}

void
cli_version(void)
{
	printf("%s %s\n", progname, HGQ_VERSION);
	cli_commit_out(stdout, "-");
	exit(0);
}

long
cli_parse_long(const char *s, const char *opt, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "%s: %s: bad value '%s' (want an integer in "
		    "[%ld, %ld])\n", progname, opt, s, min, max);
		exit(2);
	}
	return v;
}

int
cli_parse_choice(const char *usage, const char *opt, const char *arg,
    const char *const *names)
{
	char want[128] = "";

	for (int k = 0; names[k] != NULL; k++) {
		if (strcmp(arg, names[k]) == 0)
			return k;
		snprintf(want + strlen(want), sizeof(want) - strlen(want),
		    "%s'%s'", k == 0 ? "" : names[k + 1] == NULL ? " or " :
		    ", ", names[k]);
	}
	cli_usage_msg(usage, "%s: want %s, not '%s'", opt, want, arg);
}

double
cli_parse_double(const char *s, const char *opt, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) ||
	    v < min || v > max) {
		fprintf(stderr, "%s: %s: bad value '%s' (want a number in "
		    "[%g, %g])\n", progname, opt, s, min, max);
		exit(2);
	}
	return v;
}

void *
cli_reallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	return realloc(p, n * size == 0 ? 1 : n * size);
}

const char *
cli_name(const char *path)
{
	return path == NULL || strcmp(path, "-") == 0 ? "standard input" : path;
}

FILE *
cli_open_in(const char *path)
{
	FILE *f;

	if (path == NULL || strcmp(path, "-") == 0)
		return stdin;
	if ((f = fopen(path, "rb")) == NULL)
		die("cannot open '%s':", path);
	return f;
}

void
cli_close_in(FILE *f, const char *path)
{
	if (f == stdin)
		return;
	if (fclose(f) != 0)
		die("cannot close '%s':", path);
}

struct hgq_model *
cli_read_model(const char *path)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = NULL;
	int rc;

	rc = hgq_model_read_file(path, &m, &err);
	if (rc == HGQ_EOF)
		die("cannot read model '%s': empty input", cli_name(path));
	if (rc != HGQ_OK)
		die("cannot read model '%s': %s", cli_name(path), err.msg);
	return m;
}

void
cli_require_dense(const struct hgq_model *m)
{
	struct hgq_err err = HGQ_ERR_INIT;

	if (hgq_model_dense_only(m, progname, &err) != HGQ_OK)
		die("%s", err.msg);
}

FILE *
cli_open_out(const char *path, int binary)
{
	struct hgq_err err = HGQ_ERR_INIT;
	int slot;

	if (path == NULL || strcmp(path, "-") == 0) {
		if (binary && isatty(STDOUT_FILENO)) {
			fprintf(stderr, "%s: refusing to write a binary model "
			    "to a terminal (use -o or redirect)\n", progname);
			exit(2);
		}
		return stdout;
	}
	for (slot = 0; slot < MAX_PENDING; slot++)
		if (pending[slot].a == NULL)
			break;
	if (slot == MAX_PENDING)
		die("too many open outputs");
	cli_cleanup_on_signals();
	if (hgq_afile_open(&pending[slot].a, path, &err) != HGQ_OK)
		die("%s", err.msg);
	pending[slot].f = hgq_afile_stream(pending[slot].a);
	return pending[slot].f;
}

static int
find_pending(FILE *f)
{
	for (int j = 0; j < MAX_PENDING; j++)
		if (pending[j].a != NULL && pending[j].f == f)
			return j;
	return -1;
}

void
cli_commit_out(FILE *f, const char *path)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_afile *a;
	int slot;

	if (f == stdout) {
		if (fflush(stdout) != 0 || ferror(stdout))
			die("cannot write standard output:");
		if (fclose(stdout) != 0)
			die("cannot close standard output:");
		return;
	}
	if ((slot = find_pending(f)) < 0)
		die("internal error: output '%s' is not open", path);
	a = pending[slot].a;
	pending[slot].a = NULL;
	pending[slot].f = NULL;
	if (hgq_afile_commit(a, &err) != HGQ_OK)
		die("%s", err.msg);
}

void
cli_abort_out(FILE *f)
{
	int slot;

	if (f == stdout || (slot = find_pending(f)) < 0)
		return;
	hgq_afile_abort(pending[slot].a);
	pending[slot].a = NULL;
	pending[slot].f = NULL;
}

void
cli_write_model(const char *path, const struct hgq_model *m, unsigned flags)
{
	struct hgq_err err = HGQ_ERR_INIT;
	FILE *f = cli_open_out(path, 1);

	if (hgq_model_write(f, m, flags, &err) != HGQ_OK) {
		if (f == stdout)
			die("cannot write model to standard output: %s",
			    err.msg);
		die("cannot write model to '%s': %s", path, err.msg);
	}
	cli_commit_out(f, path == NULL ? "-" : path);
}
