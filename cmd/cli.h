/*
 * cli.h - glue shared by the five programs: program name, messages and
 * exit codes, checked number parsing, "-" = stdin, atomic -o files and
 * close-and-check of stdout.
 *
 * Exit codes: 0 success, 1 failure, 2 usage.  Messages go to stderr as
 * "program: message"; a format ending in ':' gets strerror(errno).
 */
#ifndef CLI_H
#define CLI_H

#include <stdio.h>

#include "hgq.h"

void	cli_setprogname(const char *argv0);
const char *cli_progname(void);
/* -q sets -1, each -v adds 1; installs the library's log callback */
void	cli_setverbosity(int v);
int	cli_verbosity(void);

/* the exit status of die() [1]; a yes/no tool sets 2, as cmp(1) does */
void	cli_set_fail_code(int code);
void	die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void	warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* usage line(s) to stderr, exit 2 */
void	cli_usage(const char *usage) __attribute__((noreturn));
/* "progname: message" and the usage lines to stderr, exit 2 */
void	cli_usage_msg(const char *usage, const char *fmt, ...)
	    __attribute__((noreturn, format(printf, 2, 3)));
/* usage and options to stdout, exit 0 */
void	cli_help(const char *text) __attribute__((noreturn));
void	cli_version(void) __attribute__((noreturn));

/* checked parsing: exit 2 with "option: bad value" when out of range */
long	cli_parse_long(const char *s, const char *opt, long min, long max);
double	cli_parse_double(const char *s, const char *opt, double min, double max);
/*
 * cli_parse_choice - the index of arg in the NULL-terminated names; any
 * other word is a usage error ("--report: want 'text' or 'json', not 'x'")
 */
int	cli_parse_choice(const char *usage, const char *opt, const char *arg,
	    const char *const *names);

/* realloc of n * size bytes; NULL (p untouched) on overflow or failure */
void	*cli_reallocarray(void *p, size_t n, size_t size);

/* a file operand's name for messages ("-" is "standard input") */
const char *cli_name(const char *path);

/* open an input ("-" or NULL = stdin); dies with a message on failure */
FILE	*cli_open_in(const char *path);
void	cli_close_in(FILE *f, const char *path);

/* read a model operand; dies with "cannot read model 'x': ..." */
struct hgq_model *cli_read_model(const char *path);

/*
 * cli_require_dense - die with "layer N (KIND): not supported by PROG
 * yet" unless m is a chain of quantizer and dense layers (format 1.0
 * models), the only models the program computes so far.
 */
void	cli_require_dense(const struct hgq_model *m);

/*
 * cli_open_out - path NULL or "-": stdout (refused with exit 2 when binary
 * and stdout is a terminal).  Otherwise a temporary file beside path,
 * renamed into place by cli_commit_out() and removed by die() or by a
 * fatal signal, so a failed run never leaves a partial file.
 */
FILE	*cli_open_out(const char *path, int binary);
/*
 * cli_cleanup_on_signals - make SIGHUP, SIGINT and SIGTERM remove the
 * temporary files of every atomic output still open (hgq_afile_cleanup)
 * and then end the program as the signal would; a signal that is ignored
 * or has a handler of the program's own is left alone.  cli_open_out
 * calls it.
 */
void	cli_cleanup_on_signals(void);
void	cli_commit_out(FILE *f, const char *path);
/* drop an output opened by cli_open_out (removes the temporary file) */
void	cli_abort_out(FILE *f);

/* write a model to path (or stdout) atomically; dies on failure */
void	cli_write_model(const char *path, const struct hgq_model *m,
	    unsigned flags);

#endif /* CLI_H */
