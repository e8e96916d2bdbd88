/*
 * check_save.c - the atomic writer (save.c): the target changes only at
 * the commit, a failure or an abort leaves nothing behind, the signal
 * clean-up removes open temporary files, and nothing already under a
 * temporary name - a planted symlink above all - is written through.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "unit.h"

static char dir[64];
static char target[128], victim[128], tmp0[192];

static void
setup(void)
{
	strcpy(dir, "/tmp/hgq-save-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(target, sizeof(target), "%s/out", dir);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(tmp0, sizeof(tmp0), "%s.tmp.%ld", target, (long)getpid());
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* the bytes of path, NUL-terminated, *n of them (0 if absent; the
   caller frees); the files here are small */
static char *
get(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *buf = calloc(1, 4096);

	ck_assert_ptr_nonnull(buf);
	*n = 0;
	if (f != NULL) {
		*n = fread(buf, 1, 4095, f);
		fclose(f);
	}
	return buf;
}

/* number of entries in dir besides . and .. */
static int
n_entries(void)
{
	char cmd[160];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

static void
assert_text(const char *path, const char *want)
{
	size_t n;
	char *got = get(path, &n);

	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(test_commit_replaces)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_afile *a;

	put(target, "old\n");
	ck_assert_int_eq(hgq_afile_open(&a, target, &err), HGQ_OK);
	ck_assert_int_ge(fputs("new\n", hgq_afile_stream(a)), 0);
	ck_assert_int_eq(fflush(hgq_afile_stream(a)), 0);
	assert_text(target, "old\n");		/* until the commit */
	assert_text(tmp0, "new\n");
	ck_assert_int_eq(hgq_afile_commit(a, &err), HGQ_OK);
	assert_text(target, "new\n");
	ck_assert_int_eq(access(tmp0, F_OK), -1);
	ck_assert_int_eq(n_entries(), 1);
}
END_TEST

START_TEST(test_abort_and_cleanup)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_afile *a, *b;

	put(target, "old\n");
	ck_assert_int_eq(hgq_afile_open(&a, target, &err), HGQ_OK);
	ck_assert_int_ge(fputs("half", hgq_afile_stream(a)), 0);
	hgq_afile_abort(a);
	assert_text(target, "old\n");
	ck_assert_int_eq(n_entries(), 1);

	/* what a fatal-signal handler does: every open temporary goes */
	ck_assert_int_eq(hgq_afile_open(&a, target, &err), HGQ_OK);
	ck_assert_int_eq(hgq_afile_open(&b, victim, &err), HGQ_OK);
	ck_assert_int_eq(n_entries(), 3);
	hgq_afile_cleanup();
	ck_assert_int_eq(n_entries(), 1);
	assert_text(target, "old\n");
	hgq_afile_abort(a);
	hgq_afile_abort(b);
	hgq_afile_abort(NULL);
	ck_assert_int_eq(n_entries(), 1);
}
END_TEST

START_TEST(test_open_errors)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_afile *a = (struct hgq_afile *)&err;
	char path[160];

	snprintf(path, sizeof(path), "%s/nodir/out", dir);
	ck_assert_int_eq(hgq_afile_open(&a, path, &err), HGQ_EIO);
	ck_assert_ptr_null(a);
	ck_assert(strstr(err.msg, "cannot create '") == err.msg);
	ck_assert(strstr(err.msg, "/nodir/out': No such file or directory")
	    != NULL);
	ck_assert_int_eq(n_entries(), 0);
}
END_TEST

/*
 * A symlink planted under the temporary name must not be followed: the
 * old writer opened path.tmp.<pid> with O_TRUNC, overwrote the link's
 * target and renamed the link over path.
 */
START_TEST(test_planted_symlink)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m;
	struct stat st;
	char *want, *got;
	size_t n_want, n_got;

	put(victim, "precious\n");
	ck_assert_int_eq(symlink(victim, tmp0), 0);
	ck_assert_int_eq(hgq_model_read_file("../../formats/examples/"
	    "tiny.hgqm", &m, &err), HGQ_OK);
	ck_assert_msg(hgq_model_save(target, m, 0, &err) == HGQ_OK, "%s",
	    err.msg);
	assert_text(victim, "precious\n");
	ck_assert_int_eq(lstat(target, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(lstat(tmp0, &st), 0);	/* not ours: left alone */
	ck_assert(S_ISLNK(st.st_mode));

	/* and the file is the model, byte for byte */
	want = get("../../formats/examples/tiny.hgqm", &n_want);
	got = get(target, &n_got);
	ck_assert_uint_gt(n_want, 0);
	ck_assert_uint_eq(n_got, n_want);
	ck_assert_mem_eq(got, want, n_want);
	free(want);
	free(got);
	hgq_model_free(m);
	ck_assert_int_eq(n_entries(), 3);	/* victim, link, target */
}
END_TEST

Suite *
save_suite(void)
{
	Suite *s = suite_create("save");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_commit_replaces);
	tcase_add_test(tc, test_abort_and_cleanup);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_planted_symlink);
	suite_add_tcase(s, tc);
	return s;
}
