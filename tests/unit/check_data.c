/*
 * check_data.c - the data loaders (lib/data.c): npy of every dtype and
 * header version, CSV variants, IDX plain and gzip, streaming, the npy
 * writer, label checks, and one corrupt file per rule.  Fixtures are
 * written by the tests themselves into a fresh mkdtemp directory.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "internal.h"
#include "fixture.h"

Suite *data_suite(void);

static char tmpdir[64];

static void
setup(void)
{
	strcpy(tmpdir, "/tmp/hgq-data-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(tmpdir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(tmpdir);
}

/* path of a fixture inside the temp directory (static, 4 slots) */
static const char *
fx(const char *name)
{
	static char slots[4][512];
	static int next;
	char *p = slots[next++ & 3];

	snprintf(p, 512, "%s/%s", tmpdir, name);
	return p;
}

static void
write_bytes(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

static void
write_text(const char *path, const char *text)
{
	write_bytes(path, text, strlen(text));
}

static void
write_gz(const char *path, const void *data, size_t n)
{
	gzFile g = gzopen(path, "wb");

	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(gzwrite(g, data, (unsigned)n), (int)n);
	ck_assert_int_eq(gzclose(g), Z_OK);
}

/*
 * An npy file: magic, version, header length (2 bytes for v1, 4 for
 * v2/v3), the dict padded with spaces and '\n' to a multiple of 64, data.
 */
static void
write_npy(const char *path, int version, const char *dict, const void *data,
    size_t n)
{
	unsigned char *buf;
	size_t pre = version == 1 ? 10 : 12, hlen, total;

	hlen = strlen(dict) + 1;
	hlen += (64 - (pre + hlen) % 64) % 64;
	total = pre + hlen + n;
	buf = malloc(total);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, "\x93NUMPY", 6);
	buf[6] = (unsigned char)version;
	buf[7] = 0;
	buf[8] = hlen & 0xff;
	buf[9] = (hlen >> 8) & 0xff;
	if (version != 1) {
		buf[10] = (hlen >> 16) & 0xff;
		buf[11] = (hlen >> 24) & 0xff;
	}
	memset(buf + pre, ' ', hlen);
	memcpy(buf + pre, dict, strlen(dict));
	buf[pre + hlen - 1] = '\n';
	if (n > 0)
		memcpy(buf + pre + hlen, data, n);
	write_bytes(path, buf, total);
	free(buf);
}

/* load expecting failure; returns the message */
static const char *
load_fail(const char *path, const struct hgq_data_opts *o, int code)
{
	static struct hgq_err err;
	struct hgq_table t;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = hgq_table_load(path, o, &t, &err);
	ck_assert_msg(rc == code, "%s: rc %d, want %d (%s)", path, rc, code,
	    err.msg);
	ck_assert_ptr_null(t.x);
	ck_assert_ptr_null(t.y);
	ck_assert_uint_eq(t.n_rows, 0);
	return err.msg;
}

static void
load_ok(const char *path, const struct hgq_data_opts *o, struct hgq_table *t)
{
	struct hgq_err err = HGQ_ERR_INIT;
	int rc;

	rc = hgq_table_load(path, o, t, &err);
	ck_assert_msg(rc == HGQ_OK, "%s: rc %d: %s", path, rc, err.msg);
}

/* the message must be exactly "<fixture path><rest>" */
static void
assert_msg(const char *msg, const char *path, const char *rest)
{
	char want[512];

	snprintf(want, sizeof(want), "%s%s", path, rest);
	ck_assert_str_eq(msg, want);
}

/* ------------------------------------------------------------------ */
/* npy                                                                 */
/* ------------------------------------------------------------------ */

/* little-endian byte images of the values, built by hand */
START_TEST(npy_every_dtype)
{
	static const struct {
		const char	*descr;
		unsigned char	 bytes[24];
		size_t		 n_bytes;
		double		 want[3];
	} cases[] = {
		{ "|u1", { 0, 128, 255 }, 3, { 0, 128, 255 } },
		{ "|i1", { 0x80, 0xff, 0x7f }, 3, { -128, -1, 127 } },
		{ "|b1", { 1, 0, 1 }, 3, { 1, 0, 1 } },
		{ "<u2", { 0xff, 0xff, 0x01, 0x00, 0x00, 0x01 }, 6,
		    { 65535, 1, 256 } },
		{ "<i2", { 0x00, 0x80, 0xff, 0xff, 0xff, 0x7f }, 6,
		    { -32768, -1, 32767 } },
		{ "<u4", { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x78, 0x56,
		    0x34, 0x12 }, 12, { 4294967295.0, 0, 0x12345678 } },
		{ "<i4", { 0, 0, 0, 0x80, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0xff, 0x7f }, 12, { -2147483648.0, -2, 2147483647.0 } },
		{ "<u8", { 0, 0, 0, 0, 0, 0, 0x20, 0, 1, 0, 0, 0, 0, 0, 0, 0,
		    0, 0, 0, 0, 0, 0, 0, 0x80 }, 24,
		    { 9007199254740992.0, 1, 9223372036854775808.0 } },
		{ "<i8", { 0, 0, 0, 0, 0, 0, 0xe0, 0xff, 0xff, 0xff, 0xff,
		    0xff, 0xff, 0xff, 0xff, 0xff, 7, 0, 0, 0, 0, 0, 0, 0 }, 24,
		    { -9007199254740992.0, -1, 7 } },
		{ "<f2", { 0x00, 0x3c, 0x00, 0xc1, 0x01, 0x00 }, 6,
		    { 1.0, -2.5, 5.9604644775390625e-08 } },
		{ "<f4", { 0, 0, 0xc0, 0x3f, 0, 0, 0x80, 0xbe, 0x01, 0, 0,
		    0 }, 12, { 1.5, -0.25, 1.401298464324817e-45 } },
		{ "<f8", { 0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f,
		    0, 0, 0, 0, 0, 0, 0xf0, 0xbf, 0, 0, 0, 0, 0, 0, 0x30,
		    0x40 }, 24, { 0.1, -1.0, 16.0 } },
	};
	char dict[128];

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct hgq_table t;

		snprintf(dict, sizeof(dict), "{'descr': '%s', "
		    "'fortran_order': False, 'shape': (3,), }", cases[c].descr);
		write_npy(fx("data-dt.npy"), 1, dict, cases[c].bytes,
		    cases[c].n_bytes);
		load_ok(fx("data-dt.npy"), NULL, &t);
		ck_assert_uint_eq(t.n_rows, 3);
		ck_assert_uint_eq(t.n_cols, 1);
		ck_assert_ptr_null(t.y);
		for (int j = 0; j < 3; j++)
			ck_assert_msg(t.x[j] == cases[c].want[j],
			    "%s[%d]: %.17g != %.17g", cases[c].descr, j,
			    t.x[j], cases[c].want[j]);
		hgq_table_release(&t);
	}
}
END_TEST

/* a 2-D int16 array in every header version, keys in any order */
START_TEST(npy_2d_versions)
{
	static const char *dicts[] = {
		"{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3), }",
		"{\"shape\":(2,3),\"fortran_order\":False,\"descr\":\"<i2\"}",
		"{'fortran_order': False, 'descr': '<i2', 'shape': (2L, 3L)}",
	};
	const unsigned char data[12] = { 1, 0, 2, 0, 3, 0, 0xfc, 0xff, 5, 0,
	    0, 0x80 };
	const double want[6] = { 1, 2, 3, -4, 5, -32768 };

	for (int v = 1; v <= 3; v++)
		for (int d = 0; d < 3; d++) {
			struct hgq_table t;

			write_npy(fx("data-2d.npy"), v, dicts[d], data, 12);
			load_ok(fx("data-2d.npy"), NULL, &t);
			ck_assert_uint_eq(t.n_rows, 2);
			ck_assert_uint_eq(t.n_cols, 3);
			for (int j = 0; j < 6; j++)
				ck_assert(t.x[j] == want[j]);
			hgq_table_release(&t);
		}
}
END_TEST

START_TEST(npy_big_endian)
{
	const unsigned char i4[8] = { 0xff, 0xff, 0xff, 0xfe, 0, 1, 0, 0 };
	const unsigned char f8[16] = { 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44,
	    0x2d, 0x18, 0xc0, 0, 0, 0, 0, 0, 0, 0 };
	struct hgq_table t;

	write_npy(fx("data-be.npy"), 1, "{'descr': '>i4', 'fortran_order': "
	    "False, 'shape': (1, 2), }", i4, 8);
	load_ok(fx("data-be.npy"), NULL, &t);
	ck_assert_uint_eq(t.n_rows, 1);
	ck_assert_uint_eq(t.n_cols, 2);
	ck_assert(t.x[0] == -2);
	ck_assert(t.x[1] == 65536);
	hgq_table_release(&t);

	write_npy(fx("data-be.npy"), 1, "{'descr': '>f8', 'fortran_order': "
	    "False, 'shape': (2,), }", f8, 16);
	load_ok(fx("data-be.npy"), NULL, &t);
	ck_assert(t.x[0] == 3.141592653589793);
	ck_assert(t.x[1] == -2.0);
	hgq_table_release(&t);
}
END_TEST

START_TEST(npy_refused)
{
	static const struct {
		const char	*dict;
		int		 code;
		const char	*rest;
	} cases[] = {
		{ "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }",
		    HGQ_EUNSUPP, ": Fortran order not supported" },
		{ "{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }",
		    HGQ_EUNSUPP, ": unsupported dtype '<c16'" },
		{ "{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }",
		    HGQ_EUNSUPP, ": unsupported dtype '<U3'" },
		{ "{'descr': '|f8', 'fortran_order': False, 'shape': (2,), }",
		    HGQ_EUNSUPP, ": unsupported byte order in dtype '|f8'" },
		{ "{'descr': [('a', '<f8')], 'fortran_order': False, "
		    "'shape': (2,), }", HGQ_EFORMAT,
		    ": npy header: structured dtype near offset 10" },
		{ "{'descr': '<f8', 'fortran_order': False, "
		    "'shape': (2, 1, 1, 2, 2), }", HGQ_EUNSUPP,
		    ": npy array of rank 5 (only ranks 1 to 4 are supported)" },
		{ "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
		    HGQ_EUNSUPP,
		    ": npy array of rank 0 (only ranks 1 to 4 are supported)" },
		{ "{'descr': '<f8', 'shape': (2,), }", HGQ_EFORMAT,
		    ": npy header: missing key 'fortran_order'" },
		{ "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), "
		    "'x': 1}", HGQ_EFORMAT,
		    ": npy header: unknown key 'x'" },
		{ "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, "
		    "'shape': (2,), }", HGQ_EFORMAT,
		    ": npy header: duplicate key 'descr' near offset 25" },
		{ "{'descr': '<f8', 'fortran_order': False, "
		    "'shape': (2, -1), }",
		    HGQ_EFORMAT, ": npy header: bad 'shape' value near "
		    "offset 54" },
		{ "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 0), }",
		    HGQ_EFORMAT, ": zero columns" },
		{ "{'descr': '<f8', 'fortran_order': False, "
		    "'shape': (1099511627776, 1099511627776), }", HGQ_EFORMAT,
		    ": too many columns (1099511627776, limit 16777216)" },
		{ "{'descr': '<f8', 'fortran_order': False, "
		    "'shape': (4611686018427387904, 1048576), }", HGQ_EFORMAT,
		    ": absurd shape (4611686018427387904 rows x 1048576 "
		    "columns)" },
		{ "{'descr': '<f8', 'fortran_order': False, "
		    "'shape': (99999999999999999999, 1), }", HGQ_EFORMAT,
		    ": npy header: bad 'shape' value near offset 51" },
	};
	const double zero[4] = { 0 };

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const char *msg;

		write_npy(fx("data-bad.npy"), 1, cases[c].dict, zero,
		    sizeof(zero));
		msg = load_fail(fx("data-bad.npy"), NULL, cases[c].code);
		assert_msg(msg, fx("data-bad.npy"), cases[c].rest);
	}
}
END_TEST

START_TEST(npy_truncated)
{
	double data[10 * 3];
	const char *msg;

	for (int j = 0; j < 30; j++)
		data[j] = j;
	/* 5 whole rows and half of the sixth */
	write_npy(fx("data-trunc.npy"), 1, "{'descr': '<f8', 'fortran_order': "
	    "False, 'shape': (10, 3), }", data, 5 * 24 + 12);
	msg = load_fail(fx("data-trunc.npy"), NULL, HGQ_EFORMAT);
	assert_msg(msg, fx("data-trunc.npy"),
	    ": truncated in row 5 (header says 10 rows)");

	/* header cut short */
	write_bytes(fx("data-trunc.npy"), "\x93NUMPY\x01\x00\x76\x00{'de", 15);
	msg = load_fail(fx("data-trunc.npy"), NULL, HGQ_EFORMAT);
	assert_msg(msg, fx("data-trunc.npy"), ": truncated npy header");

	/* too much data is refused too: nothing is silently dropped */
	write_npy(fx("data-trunc.npy"), 1, "{'descr': '<f8', 'fortran_order': "
	    "False, 'shape': (3, 3), }", data, 10 * 8);
	msg = load_fail(fx("data-trunc.npy"), NULL, HGQ_EFORMAT);
	assert_msg(msg, fx("data-trunc.npy"),
	    ": unexpected data after the last row (3 rows)");
}
END_TEST

START_TEST(npy_bad_magic)
{
	struct hgq_data_opts o;
	unsigned char big[12] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
	    0x01, 0x00, 0x01, 0x00 };
	const char *msg;

	write_bytes(fx("data-magic.npy"),
	    "\x93NUMPX\x01\x00\x10\x00{}    \n", 17);
	msg = load_fail(fx("data-magic.npy"), NULL, HGQ_EFORMAT);
	assert_msg(msg, fx("data-magic.npy"), ": not an npy file (bad magic)");

	/* an explicit kind wins over the magic */
	hgq_data_opts_init(&o);
	o.kind = HGQ_DATA_NPY;
	write_text(fx("data-magic.txt"), "1,2\n3,4\n");
	msg = load_fail(fx("data-magic.txt"), &o, HGQ_EFORMAT);
	assert_msg(msg, fx("data-magic.txt"), ": not an npy file (bad magic)");

	write_bytes(fx("data-magic.npy"), "\x93NUMPY\x04\x00\x10\x00", 10);
	msg = load_fail(fx("data-magic.npy"), NULL, HGQ_EVERSION);
	assert_msg(msg, fx("data-magic.npy"), ": unsupported npy version 4.0");

	/* header_len of v2 beyond 64 KiB: refused before reading it */
	big[6] = 2;
	write_bytes(fx("data-magic.npy"), big, sizeof(big));
	msg = load_fail(fx("data-magic.npy"), NULL, HGQ_EFORMAT);
	assert_msg(msg, fx("data-magic.npy"),
	    ": npy header too long (65537 bytes, limit 65536)");
}
END_TEST

START_TEST(npy_nonfinite)
{
	float f4[4] = { 1, 2, 3, INFINITY };
	double f8[6] = { 0, 1, 2, 3, NAN, 5 };
	unsigned char b1[2] = { 1, 2 };
	const char *msg;

	write_npy(fx("data-nan.npy"), 1, "{'descr': '<f8', 'fortran_order': "
	    "False, 'shape': (3, 2), }", f8, sizeof(f8));
	msg = load_fail(fx("data-nan.npy"), NULL, HGQ_EINVAL);
	assert_msg(msg, fx("data-nan.npy"), ": row 2: NaN");

	write_npy(fx("data-inf.npy"), 1, "{'descr': '<f4', 'fortran_order': "
	    "False, 'shape': (4,), }", f4, sizeof(f4));
	msg = load_fail(fx("data-inf.npy"), NULL, HGQ_EINVAL);
	assert_msg(msg, fx("data-inf.npy"), ": row 3: Inf");

	write_npy(fx("data-bool.npy"), 1, "{'descr': '|b1', 'fortran_order': "
	    "False, 'shape': (2,), }", b1, sizeof(b1));
	msg = load_fail(fx("data-bool.npy"), NULL, HGQ_EFORMAT);
	assert_msg(msg, fx("data-bool.npy"), ": row 1: bool value 2 is not "
	    "0 or 1");
}
END_TEST

/* an empty array loads as 0 rows */
START_TEST(npy_empty)
{
	struct hgq_table t;

	write_npy(fx("data-empty.npy"), 1, "{'descr': '<f8', 'fortran_order': "
	    "False, 'shape': (0, 4), }", NULL, 0);
	load_ok(fx("data-empty.npy"), NULL, &t);
	ck_assert_uint_eq(t.n_rows, 0);
	ck_assert_uint_eq(t.n_cols, 4);
	hgq_table_release(&t);
}
END_TEST

/* ------------------------------------------------------------------ */
/* CSV                                                                 */
/* ------------------------------------------------------------------ */

static void
assert_table(const struct hgq_table *t, size_t rows, size_t cols,
    const double *x, const double *y)
{
	ck_assert_uint_eq(t->n_rows, rows);
	ck_assert_uint_eq(t->n_cols, cols);
	for (size_t j = 0; j < rows * cols; j++)
		ck_assert_msg(t->x[j] == x[j], "x[%zu] = %.17g, want %.17g",
		    j, t->x[j], x[j]);
	if (y == NULL) {
		ck_assert_ptr_null(t->y);
		return;
	}
	ck_assert_ptr_nonnull(t->y);
	for (size_t j = 0; j < rows; j++)
		ck_assert_msg(t->y[j] == y[j], "y[%zu] = %.17g, want %.17g",
		    j, t->y[j], y[j]);
}

START_TEST(csv_header_auto)
{
	const double x[6] = { 1, 2.5, 3, -4, 5e-3, 0x10 };
	struct hgq_data_opts o;
	struct hgq_table t;

	/* a header is recognised by its text; CRLF and a blank last line */
	write_text(fx("data-h.csv"), "a,b,c\r\n1,2.5,3\r\n-4, 5e-3 ,0x10\r\n"
	    "\r\n");
	load_ok(fx("data-h.csv"), NULL, &t);
	assert_table(&t, 2, 3, x, NULL);
	hgq_table_release(&t);

	/* without a header */
	write_text(fx("data-noh.csv"), "1,2.5,3\n-4,5e-3,16");
	load_ok(fx("data-noh.csv"), NULL, &t);
	assert_table(&t, 2, 3, x, NULL);
	hgq_table_release(&t);

	/* header = 1 skips line 1 even when it looks numeric */
	hgq_data_opts_init(&o);
	o.header = 1;
	write_text(fx("data-skip.csv"), "7,8,9\n1,2.5,3\n-4,5e-3,16\n");
	load_ok(fx("data-skip.csv"), &o, &t);
	assert_table(&t, 2, 3, x, NULL);
	hgq_table_release(&t);

	/* header = 0: a text first row is an error */
	o.header = 0;
	assert_msg(load_fail(fx("data-h.csv"), &o, HGQ_EFORMAT),
	    fx("data-h.csv"), ":1: field 1: not a number 'a'");
}
END_TEST

START_TEST(csv_label_col)
{
	const double x[6] = { 1, 3, 4, 6, 7, 9 };
	const double y[3] = { 2, 5, 8 };
	struct hgq_data_opts o;
	struct hgq_table t;

	hgq_data_opts_init(&o);
	o.label_col = 1;
	write_text(fx("data-lab.csv"), "# made by hand\nf0,label,f1\n1,2,3\n"
	    "4,5,6\n7,8,9\n");
	load_ok(fx("data-lab.csv"), &o, &t);
	assert_table(&t, 3, 2, x, y);
	hgq_table_release(&t);

	o.label_col = 3;
	assert_msg(load_fail(fx("data-lab.csv"), &o, HGQ_EINVAL),
	    fx("data-lab.csv"), ": label column index 3 out of range "
	    "(3 columns)");

	o.label_col = 0;
	write_text(fx("data-lab1.csv"), "1\n2\n");
	assert_msg(load_fail(fx("data-lab1.csv"), &o, HGQ_EINVAL),
	    fx("data-lab1.csv"), ": no feature columns besides the label");
}
END_TEST

START_TEST(csv_delimiters)
{
	const double x[4] = { 1.5, 2, 3, -4 };
	struct hgq_table t;

	write_text(fx("data-semi.csv"), "x;y\n1.5;2\n3;-4\n");
	load_ok(fx("data-semi.csv"), NULL, &t);
	assert_table(&t, 2, 2, x, NULL);
	hgq_table_release(&t);

	write_text(fx("data-tab.tsv"), "\"x,1\"\t\"y\"\n1.5\t2\n3\t\"-4\"\n");
	load_ok(fx("data-tab.tsv"), NULL, &t);
	assert_table(&t, 2, 2, x, NULL);
	hgq_table_release(&t);

	/* a quoted header name may hold the delimiter */
	write_text(fx("data-q.csv"), "\xEF\xBB\xBF\"a,b\",\"c\"\"d\"\n1.5,2\n"
	    "3,-4\n");
	load_ok(fx("data-q.csv"), NULL, &t);
	assert_table(&t, 2, 2, x, NULL);
	hgq_table_release(&t);
}
END_TEST

START_TEST(csv_errors)
{
	static const struct {
		const char	*text;
		int		 code;
		const char	*rest;
	} cases[] = {
		{ "a,b,c\n1,2,3\n4,5\n", HGQ_EFORMAT,
		    ":3: ragged row (2 fields, expected 3)" },
		{ "a,b,c\n1,2,3\n4,5,6,7\n", HGQ_EFORMAT,
		    ":3: ragged row (4 fields, expected 3)" },
		{ "1,2\n3,abc\n", HGQ_EFORMAT,
		    ":2: field 2: not a number 'abc'" },
		{ "1,2\n3,4x\n", HGQ_EFORMAT,
		    ":2: field 2: not a number '4x'" },
		{ "1,2\n3,\n", HGQ_EFORMAT, ":2: field 2: empty field" },
		{ "h1,h2\n1,2\nnan,4\n", HGQ_EINVAL,
		    ":3: field 1: NaN/Inf not allowed" },
		{ "1,-inf\n", HGQ_EINVAL, ":1: field 2: NaN/Inf not allowed" },
		{ "1,1e999\n", HGQ_EINVAL,
		    ":1: field 2: number out of range '1e999'" },
		{ "1,2\n\n3,4\n", HGQ_EFORMAT,
		    ":2: blank line inside the data" },
		{ "1,\"2\n", HGQ_EFORMAT, ":1: field 2: unterminated quote" },
		{ "\n\n# nothing\n", HGQ_EFORMAT, ": no data" },
		{ "", HGQ_EFORMAT, ": no data" },
		{ "1,2\n3,\x01\x02zz\n", HGQ_EFORMAT,
		    ":2: field 2: not a number '??zz'" },
		/* a typo in the first row is not taken for a header */
		{ "1,2,3x\n4,5,6\n", HGQ_EFORMAT,
		    ":1: field 3: not a number '3x'" },
		{ "1,2,3x\n", HGQ_EFORMAT, ":1: field 3: not a number '3x'" },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		write_text(fx("data-bad.csv"), cases[c].text);
		assert_msg(load_fail(fx("data-bad.csv"), NULL, cases[c].code),
		    fx("data-bad.csv"), cases[c].rest);
	}
	/* a NUL byte inside a line */
	write_bytes(fx("data-bad.csv"), "1,2\n3,\0004\n", 9);
	assert_msg(load_fail(fx("data-bad.csv"), NULL, HGQ_EFORMAT),
	    fx("data-bad.csv"), ":2: NUL byte");
}
END_TEST

/*
 * Numbers must come out bit-identical to strtod, whichever way the loader
 * parses them: a deterministic mix of integers, decimals of every length,
 * exponents near the fast path's limits, signs and signed zeros.
 */
START_TEST(csv_numbers_exact)
{
	enum { N = 3000 };
	char (*strs)[48] = malloc(N * sizeof(*strs));
	char *text = malloc(N * 50);
	static const char *special[11] = { "-0", "+0.", ".5", "-.25e1",
	    "9007199254740993", "1e22", "1e23", "123456789012345678",
	    "0.000000000000000000001", "4.9e-324",
	    "1.7976931348623157e308" };
	struct hgq_table t;
	size_t n = 0;

	ck_assert_ptr_nonnull(strs);
	ck_assert_ptr_nonnull(text);
	fx_rng_state = 1;
	for (int j = 0; j < N; j++) {
		uint64_t st = fx_rnd();
		double v;
		int prec;

		v = (double)(st >> 11) / 9007199254740992.0 - 0.5;
		v *= pow(10, (double)(int)(st % 40) - 20);
		prec = (int)(st >> 5 & 31) % 20;
		switch (j % 6) {
		case 0:
			snprintf(strs[j], 48, "%.*f", prec, v * 1e6);
			break;
		case 1:
			snprintf(strs[j], 48, "%.*e", prec, v);
			break;
		case 2:
			snprintf(strs[j], 48, "%lld", (long long)(st >> 10) -
			    (1LL << 53));
			break;
		case 3:
			snprintf(strs[j], 48, "%.17g", v);
			break;
		case 4:
			snprintf(strs[j], 48, "%de%d",
			    (int)(st % 100000) - 50000,
			    (int)(st >> 20 & 63) - 31);
			break;
		default:
			snprintf(strs[j], 48, "%s", special[st % 11]);
			break;
		}
		n += (size_t)snprintf(text + n, 50, "%s\n", strs[j]);
	}
	write_text(fx("data-num.csv"), text);
	load_ok(fx("data-num.csv"), NULL, &t);
	ck_assert_uint_eq(t.n_rows, N);
	for (int j = 0; j < N; j++) {
		double want = strtod(strs[j], NULL);

		ck_assert_msg(memcmp(&t.x[j], &want, sizeof(want)) == 0,
		    "'%s': %.17g, strtod %.17g", strs[j], t.x[j], want);
	}
	hgq_table_release(&t);
	free(strs);
	free(text);
}
END_TEST

/* a CSV much larger than the reader's buffers, and a gzipped one */
START_TEST(csv_large)
{
	size_t rows = 20000, cap = rows * 40, n = 0;
	char *text = malloc(cap);
	struct hgq_table t;

	ck_assert_ptr_nonnull(text);
	for (size_t r = 0; r < rows; r++)
		n += (size_t)snprintf(text + n, cap - n, "%zu,%zu.25,-%zu\n", r,
		    r * 3, r % 7);
	write_bytes(fx("data-big.csv"), text, n);
	write_gz(fx("data-big.csv.gz"), text, n);
	free(text);
	for (int k = 0; k < 2; k++) {
		load_ok(fx(k == 0 ? "data-big.csv" : "data-big.csv.gz"), NULL,
		    &t);
		ck_assert_uint_eq(t.n_rows, rows);
		ck_assert_uint_eq(t.n_cols, 3);
		for (size_t r = 0; r < rows; r++) {
			ck_assert(t.x[3 * r] == (double)r);
			ck_assert(t.x[3 * r + 1] == (double)(r * 3) + 0.25);
			ck_assert(t.x[3 * r + 2] == -(double)(r % 7));
		}
		hgq_table_release(&t);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* IDX                                                                 */
/* ------------------------------------------------------------------ */

START_TEST(idx_plain_and_gzip)
{
	/* ubyte, 3 items of 2x2 */
	const unsigned char u8[4 + 12 + 12] = { 0, 0, 0x08, 3, 0, 0, 0, 3,
	    0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 250, 255 };
	const double want8[12] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 250, 255 };
	/* sbyte labels, 1-D */
	const unsigned char i8[8 + 3] = { 0, 0, 0x09, 1, 0, 0, 0, 3, 0xff,
	    0, 0x7f };
	const double want_i8[3] = { -1, 0, 127 };
	/* short, int, float, double: 2 items of 1 */
	const unsigned char i16[12 + 4] = { 0, 0, 0x0B, 2, 0, 0, 0, 2, 0, 0,
	    0, 1, 0x80, 0x00, 0x01, 0x02 };
	const double want16[2] = { -32768, 258 };
	const unsigned char i32[8 + 8] = { 0, 0, 0x0C, 1, 0, 0, 0, 2, 0xff,
	    0xff, 0xff, 0xfe, 0x01, 0x00, 0x00, 0x00 };
	const double want32[2] = { -2, 16777216 };
	const unsigned char f32[8 + 8] = { 0, 0, 0x0D, 1, 0, 0, 0, 2, 0x3f,
	    0xc0, 0, 0, 0xc1, 0x20, 0, 0 };
	const double wantf32[2] = { 1.5, -10 };
	const unsigned char f64[8 + 16] = { 0, 0, 0x0E, 1, 0, 0, 0, 2, 0x3f,
	    0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a, 0xc0, 0x24, 0, 0, 0,
	    0, 0, 0 };
	const double wantf64[2] = { 0.1, -10 };
	const struct {
		const unsigned char	*bytes;
		size_t			 n;
		size_t			 rows, cols;
		const double		*want;
	} cases[] = {
		{ u8, sizeof(u8), 3, 4, want8 },
		{ i8, sizeof(i8), 3, 1, want_i8 },
		{ i16, sizeof(i16), 2, 1, want16 },
		{ i32, sizeof(i32), 2, 1, want32 },
		{ f32, sizeof(f32), 2, 1, wantf32 },
		{ f64, sizeof(f64), 2, 1, wantf64 },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (int gz = 0; gz < 2; gz++) {
			const char *p = fx(gz ? "data-x-idx.gz" : "data-x-idx");
			struct hgq_table t;

			if (gz)
				write_gz(p, cases[c].bytes, cases[c].n);
			else
				write_bytes(p, cases[c].bytes, cases[c].n);
			load_ok(p, NULL, &t);
			assert_table(&t, cases[c].rows, cases[c].cols,
			    cases[c].want, NULL);
			hgq_table_release(&t);
		}
	}
}
END_TEST

START_TEST(idx_refused)
{
	/* 4 items of 3 bytes, the data ends inside item 2 */
	static const unsigned char trunc[12 + 8] = { 0, 0, 0x08, 2, 0, 0, 0,
	    4, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8 };
	static const unsigned char badtype[8] = { 0, 0, 0x0A, 1, 0, 0, 0, 1 };
	static const unsigned char rank0[4] = { 0, 0, 0x08, 0 };
	static const unsigned char shorthdr[10] = { 0, 0, 0x08, 3, 0, 0, 0,
	    1, 0, 0 };
	static const unsigned char nan[8 + 8] = { 0, 0, 0x0D, 1, 0, 0, 0, 2,
	    0x3f, 0x80, 0, 0, 0x7f, 0xc0, 0, 0 };
	/* 2^32-1 items of (2^32-1)^2 bytes */
	static const unsigned char huge[16] = { 0, 0, 0x08, 3, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	/* each file, plain or gzipped, and the status and message it gets */
	static const struct {
		const unsigned char	*data;
		size_t			 len;
		bool			 gz;
		int			 code;
		const char		*msg;
	} cases[] = {
		{ trunc, sizeof(trunc), false, HGQ_EFORMAT,
		  ": truncated in item 2 (header says 4 items)" },
		{ trunc, sizeof(trunc), true, HGQ_EFORMAT,
		  ": truncated in item 2 (header says 4 items)" },
		{ badtype, sizeof(badtype), false, HGQ_EUNSUPP,
		  ": unsupported IDX type 0x0A" },
		{ rank0, sizeof(rank0), false, HGQ_EFORMAT,
		  ": bad IDX rank 0" },
		{ shorthdr, sizeof(shorthdr), false, HGQ_EFORMAT,
		  ": truncated IDX header" },
		{ nan, sizeof(nan), false, HGQ_EINVAL, ": row 1: NaN" },
		{ huge, sizeof(huge), false, HGQ_EFORMAT,
		  ": too many columns (18446744065119617025, limit 16777216)" },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const char *path = fx(cases[c].gz ? "data-t-idx.gz" :
		    "data-t-idx");

		if (cases[c].gz)
			write_gz(path, cases[c].data, cases[c].len);
		else
			write_bytes(path, cases[c].data, cases[c].len);
		assert_msg(load_fail(path, NULL, cases[c].code), path,
		    cases[c].msg);
	}
}
END_TEST

/* a gzip stream cut in the middle: still a truncation in a named item */
START_TEST(idx_gzip_cut)
{
	unsigned char *data, *gzdata;
	size_t n = 8 + 5000, got;
	FILE *f;

	data = malloc(n);
	ck_assert_ptr_nonnull(data);
	memcpy(data, "\0\0\x08\x01\0\0\x13\x88", 8);	/* 5000 items */
	for (size_t j = 8; j < n; j++)
		data[j] = (unsigned char)(j * 2654435761u >> 13);
	write_gz(fx("data-cut-idx.gz"), data, n);
	free(data);
	f = fopen(fx("data-cut-idx.gz"), "rb");
	ck_assert_ptr_nonnull(f);
	gzdata = malloc(n + 1024);
	got = fread(gzdata, 1, n + 1024, f);
	fclose(f);
	ck_assert_uint_gt(got, 200);
	write_bytes(fx("data-cut-idx.gz"), gzdata, got / 2);
	free(gzdata);
	{
		const char *msg = load_fail(fx("data-cut-idx.gz"), NULL,
		    HGQ_EFORMAT);
		char want[64];

		ck_assert_msg(strstr(msg, ": truncated in item ") != NULL, "%s",
		    msg);
		snprintf(want, sizeof(want), "(header says 5000 items; gzip "
		    "stream cut short)");
		ck_assert_msg(strstr(msg, want) != NULL, "%s", msg);
	}
}
END_TEST

START_TEST(fashion_mnist_labels)
{
	const char *p =
	    "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_table t;
	size_t count[10] = { 0 };

	if (access(p, R_OK) != 0)
		return;		/* dataset-fashion-mnist not installed */
	load_ok(p, NULL, &t);
	ck_assert_uint_eq(t.n_rows, 10000);
	ck_assert_uint_eq(t.n_cols, 1);
	ck_assert_int_eq(hgq_labels_check(t.x, t.n_rows, 10, "labels", &err),
	    HGQ_OK);
	for (size_t j = 0; j < t.n_rows; j++)
		count[(size_t)t.x[j]]++;
	for (int c = 0; c < 10; c++)
		ck_assert_uint_eq(count[c], 1000);	/* a balanced set */
	hgq_table_release(&t);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Streaming, stdin, auto-detection                                    */
/* ------------------------------------------------------------------ */

/* read path in chunks of 7 rows and compare with the whole load */
static void
assert_stream_same(const char *path, const struct hgq_data_opts *o)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_reader *r;
	struct hgq_table t;
	size_t cols, n = 0, got, calls = 0;
	double *x, *y;

	load_ok(path, o, &t);
	ck_assert_int_eq(hgq_reader_open(&r, path, o, &err), HGQ_OK);
	cols = hgq_reader_cols(r);
	ck_assert_uint_eq(cols, t.n_cols);
	x = malloc(7 * cols * sizeof(double));
	y = malloc(7 * sizeof(double));
	for (;;) {
		ck_assert_int_eq(hgq_reader_read(r, x, y, 7, &got, &err),
		    HGQ_OK);
		if (got == 0)
			break;
		calls++;
		ck_assert_uint_le(got, 7);
		ck_assert_uint_le(n + got, t.n_rows);
		ck_assert_mem_eq(x, t.x + n * cols,
		    got * cols * sizeof(double));
		if (t.y != NULL)
			ck_assert_mem_eq(y, t.y + n, got * sizeof(double));
		n += got;
		ck_assert_uint_eq(hgq_reader_row(r), n);
	}
	ck_assert_uint_eq(n, t.n_rows);
	ck_assert_uint_eq(calls, (t.n_rows + 6) / 7);
	/* the end stays the end */
	ck_assert_int_eq(hgq_reader_read(r, x, y, 7, &got, &err), HGQ_OK);
	ck_assert_uint_eq(got, 0);
	hgq_reader_close(r);
	free(x);
	free(y);
	hgq_table_release(&t);
}

START_TEST(stream_chunks)
{
	struct hgq_data_opts o;
	double v[50 * 3];
	char *text = malloc(50 * 64);
	size_t n = 0;

	ck_assert_ptr_nonnull(text);
	for (int j = 0; j < 150; j++)
		v[j] = j * 0.5 - 20;
	write_npy(fx("data-s.npy"), 1, "{'descr': '<f8', 'fortran_order': "
	    "False, 'shape': (50, 3), }", v, sizeof(v));
	n += (size_t)snprintf(text, 64, "a,b,c\n");
	for (int r = 0; r < 50; r++)
		n += (size_t)snprintf(text + n, 64, "%g,%g,%g\n", v[3 * r],
		    v[3 * r + 1], v[3 * r + 2]);
	write_text(fx("data-s.csv"), text);
	free(text);

	hgq_data_opts_init(&o);
	assert_stream_same(fx("data-s.npy"), &o);
	assert_stream_same(fx("data-s.csv"), &o);
	o.label_col = 2;
	assert_stream_same(fx("data-s.npy"), &o);
	assert_stream_same(fx("data-s.csv"), &o);
	o.label_col = 0;
	assert_stream_same(fx("data-s.npy"), &o);
	{
		/* and the label split is right */
		struct hgq_table t;

		load_ok(fx("data-s.npy"), &o, &t);
		ck_assert_uint_eq(t.n_cols, 2);
		for (int r = 0; r < 50; r++) {
			ck_assert(t.y[r] == v[3 * r]);
			ck_assert(t.x[2 * r] == v[3 * r + 1]);
			ck_assert(t.x[2 * r + 1] == v[3 * r + 2]);
		}
		hgq_table_release(&t);
	}
}
END_TEST

/* the reader keeps failing the same way after an error */
START_TEST(stream_poisoned)
{
	struct hgq_err err = HGQ_ERR_INIT, err2 = HGQ_ERR_INIT;
	struct hgq_reader *r;
	double x[40];
	size_t got;

	write_text(fx("data-p.csv"), "1\n2\n3\nx\n5\n");
	ck_assert_int_eq(hgq_reader_open(&r, fx("data-p.csv"), NULL, &err),
	    HGQ_OK);
	ck_assert_int_eq(hgq_reader_read(r, x, NULL, 2, &got, &err), HGQ_OK);
	ck_assert_uint_eq(got, 2);
	ck_assert_int_eq(hgq_reader_read(r, x, NULL, 10, &got, &err),
	    HGQ_EFORMAT);
	ck_assert_uint_eq(got, 0);
	ck_assert_int_eq(hgq_reader_read(r, x, NULL, 10, &got, &err2),
	    HGQ_EFORMAT);
	ck_assert_str_eq(err.msg, err2.msg);
	assert_msg(err.msg, fx("data-p.csv"), ":4: field 1: not a number 'x'");
	hgq_reader_close(r);
}
END_TEST

/* "-" reads stdin and detects the kind from the (decompressed) magic */
START_TEST(stdin_autodetect)
{
	const unsigned char idx[8 + 3] = { 0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8,
	    9 };
	const double want[3] = { 7, 8, 9 };
	const double w2[4] = { 1, 2, 3, 4 };
	struct hgq_table t;

	write_gz(fx("data-in.bin"), idx, sizeof(idx));
	ck_assert_ptr_nonnull(freopen(fx("data-in.bin"), "rb", stdin));
	load_ok("-", NULL, &t);
	assert_table(&t, 3, 1, want, NULL);
	hgq_table_release(&t);

	write_npy(fx("data-in.bin"), 2, "{'descr': '<f8', 'fortran_order': "
	    "False, 'shape': (2, 2), }", w2, sizeof(w2));
	ck_assert_ptr_nonnull(freopen(fx("data-in.bin"), "rb", stdin));
	load_ok("-", NULL, &t);
	assert_table(&t, 2, 2, w2, NULL);
	hgq_table_release(&t);

	write_text(fx("data-in.bin"), "1,2\n3,x\n");
	ck_assert_ptr_nonnull(freopen(fx("data-in.bin"), "rb", stdin));
	ck_assert_str_eq(load_fail("-", NULL, HGQ_EFORMAT),
	    "standard input:2: field 2: not a number 'x'");
}
END_TEST

START_TEST(open_missing)
{
	const char *msg = load_fail(fx("data-none.npy"), NULL, HGQ_EIO);

	assert_msg(msg, fx("data-none.npy"), ": cannot open: No such file or "
	    "directory");
}
END_TEST

/* ------------------------------------------------------------------ */
/* npy writer, labels                                                  */
/* ------------------------------------------------------------------ */

static unsigned char *
slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = malloc(1 << 16);

	ck_assert_ptr_nonnull(f);
	*n = fread(buf, 1, 1 << 16, f);
	fclose(f);
	return buf;
}

START_TEST(npy_write_round_trip)
{
	const double x[6] = { 0.1, -2, 3.5e300, 4, -0.0, 6 };
	const int64_t k[3] = { INT64_MIN, -1, INT64_MAX };
	const char *want = "{'descr': '<f8', 'fortran_order': False, "
	    "'shape': (3, 2), }";
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_table t;
	unsigned char *b;
	size_t n, hl;
	FILE *f;

	f = fopen(fx("data-w.npy"), "wb");
	ck_assert_int_eq(hgq_npy_write_f64(f, x, 3, 2, &err), HGQ_OK);
	ck_assert_int_eq(fclose(f), 0);
	b = slurp(fx("data-w.npy"), &n);
	ck_assert_mem_eq(b, "\x93NUMPY\x01\x00", 8);
	hl = (size_t)b[8] | (size_t)b[9] << 8;
	ck_assert_uint_eq((10 + hl) % 64, 0);
	ck_assert_uint_eq(n, 10 + hl + 48);
	ck_assert_mem_eq(b + 10, want, strlen(want));
	for (size_t j = 10 + strlen(want); j < 10 + hl - 1; j++)
		ck_assert_int_eq(b[j], ' ');
	ck_assert_int_eq(b[10 + hl - 1], '\n');
	/* 0.1 and -2.0, little-endian whatever the host */
	ck_assert_mem_eq(b + 10 + hl, "\x9a\x99\x99\x99\x99\x99\xb9\x3f"
	    "\0\0\0\0\0\0\0\xc0", 16);
	free(b);
	load_ok(fx("data-w.npy"), NULL, &t);
	assert_table(&t, 3, 2, x, NULL);
	ck_assert(signbit(t.x[4]));
	hgq_table_release(&t);

	/* 1-D int64 */
	f = fopen(fx("data-w.npy"), "wb");
	ck_assert_int_eq(hgq_npy_write_i64(f, k, 3, 0, &err), HGQ_OK);
	ck_assert_int_eq(fclose(f), 0);
	b = slurp(fx("data-w.npy"), &n);
	want = "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }";
	hl = (size_t)b[8] | (size_t)b[9] << 8;
	ck_assert_uint_eq((10 + hl) % 64, 0);
	ck_assert_mem_eq(b + 10, want, strlen(want));
	ck_assert_int_eq(b[10 + hl - 1], '\n');
	ck_assert_uint_eq(n, 10 + hl + 24);
	free(b);
	load_ok(fx("data-w.npy"), NULL, &t);
	ck_assert_uint_eq(t.n_rows, 3);
	ck_assert_uint_eq(t.n_cols, 1);
	ck_assert(t.x[0] == -9223372036854775808.0);
	ck_assert(t.x[1] == -1);
	ck_assert(t.x[2] == 9223372036854775808.0);	/* nearest double */
	hgq_table_release(&t);

	/* a failing stream is reported */
	f = fopen("/dev/full", "wb");
	if (f != NULL) {
		double big[4096] = { 0 };

		setvbuf(f, NULL, _IONBF, 0);
		ck_assert_int_eq(hgq_npy_write_f64(f, big, 4096, 0, &err),
		    HGQ_EIO);
		ck_assert_str_eq(err.msg,
		    "cannot write npy: No space left on device");
		fclose(f);
	}
}
END_TEST

/* the streaming writer: the same bytes as the one-shot writer */
START_TEST(npy_writer_same_bytes)
{
	static const size_t cols_of[3] = { 3, 1, 0 };
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_npy_writer *w;
	double x[3000];
	int64_t k[3000];
	unsigned char *a, *b;
	size_t na, nb;
	FILE *f;

	for (int j = 0; j < 3000; j++) {
		x[j] = (j - 1500) * 0.375;
		k[j] = (int64_t)j * 7919 - 123456789;
	}
	for (int c = 0; c < 3; c++)
		for (int i64 = 0; i64 < 2; i64++) {
			size_t cols = cols_of[c], width = cols ? cols : 1;
			size_t rows = 3000 / width, done = 0, step = 1;
			const void *v = i64 ? (const void *)k : (const void *)x;

			f = fopen(fx("data-w1.npy"), "wb");
			ck_assert_int_eq(i64 ? hgq_npy_write_i64(f, k, rows,
			    cols, &err) : hgq_npy_write_f64(f, x, rows, cols,
			    &err), HGQ_OK);
			ck_assert_int_eq(fclose(f), 0);
			/* a leading byte: the header is where open found f */
			f = fopen(fx("data-w2.npy"), "wb");
			ck_assert_int_eq(fputc('#', f), '#');
			ck_assert_int_eq(hgq_npy_writer_open(&w, f, i64, cols,
			    &err), HGQ_OK);
			/* blocks of 1, 2, 3 ... rows, and an empty one */
			ck_assert_int_eq(hgq_npy_writer_add(w, v, 0, &err),
			    HGQ_OK);
			while (done < rows) {
				size_t n = step < rows - done ? step : rows -
				    done;

				ck_assert_int_eq(hgq_npy_writer_add(w,
				    (const char *)v + done * width * 8, n,
				    &err), HGQ_OK);
				done += n;
				step++;
			}
			ck_assert_int_eq(hgq_npy_writer_close(w, &err), HGQ_OK);
			ck_assert_int_eq(fclose(f), 0);
			a = slurp(fx("data-w1.npy"), &na);
			b = slurp(fx("data-w2.npy"), &nb);
			ck_assert_uint_eq(nb, na + 1);
			ck_assert_mem_eq(a, b + 1, na);
			free(a);
			free(b);
		}
	/* no rows at all: the header of a (0, 4) array */
	f = fopen(fx("data-w2.npy"), "wb");
	ck_assert_int_eq(hgq_npy_writer_open(&w, f, 0, 4, &err), HGQ_OK);
	ck_assert_int_eq(hgq_npy_writer_close(w, &err), HGQ_OK);
	ck_assert_int_eq(fclose(f), 0);
	f = fopen(fx("data-w1.npy"), "wb");
	ck_assert_int_eq(hgq_npy_write_f64(f, x, 0, 4, &err), HGQ_OK);
	ck_assert_int_eq(fclose(f), 0);
	a = slurp(fx("data-w1.npy"), &na);
	b = slurp(fx("data-w2.npy"), &nb);
	ck_assert_uint_eq(na, nb);
	ck_assert_mem_eq(a, b, na);
	free(a);
	free(b);
	/* a pipe cannot take the count back: refused at open */
	{
		int fd[2];

		ck_assert_int_eq(pipe(fd), 0);
		f = fdopen(fd[1], "wb");
		ck_assert_int_eq(hgq_npy_writer_open(&w, f, 0, 4, &err),
		    HGQ_EIO);
		ck_assert_ptr_null(w);
		ck_assert_str_eq(err.msg, "cannot write npy: the output is "
		    "not seekable: Illegal seek");
		fclose(f);
		close(fd[0]);
	}
}
END_TEST

START_TEST(labels)
{
	const double good[4] = { 0, 9, 3, 0 };
	const double big[3] = { 1, 12, 0 };
	const double neg[2] = { 1, -1 };
	const double frac[3] = { 1, 2, 2.5 };
	const double nan[2] = { NAN, 1 };
	struct hgq_err err = HGQ_ERR_INIT;

	ck_assert_int_eq(hgq_labels_check(good, 4, 10, "y.npy", &err), HGQ_OK);
	ck_assert_int_eq(hgq_labels_check(big, 3, 10, "y.npy", &err),
	    HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "y.npy: row 1: label 12 out of range "
	    "[0, 10)");
	ck_assert_int_eq(hgq_labels_check(neg, 2, 10, "y.npy", &err),
	    HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "y.npy: row 1: label -1 out of range "
	    "[0, 10)");
	ck_assert_int_eq(hgq_labels_check(frac, 3, 10, "y.npy", &err),
	    HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "y.npy: row 2: label 2.5 not an integer");
	ck_assert_int_eq(hgq_labels_check(nan, 2, 10, "y.npy", &err),
	    HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "y.npy: row 0: label nan not an integer");
	ck_assert_int_eq(hgq_labels_check(good, 4, 0, "y.npy", &err),
	    HGQ_EINVAL);
}
END_TEST

/* the evaluator of hgq-sim and hgq-train (eval.c), rows added in chunks */
START_TEST(evaluator)
{
	const double val[4 * 3] = {
		0.5, 0.5, -1,		/* a tie: class 0 */
		0, 0.25, 0.125,
		-2, -3, -1.5,
		1, 2, 2,
	};
	const double lab[4] = { 0, 1, 0, 2 };
	const double bad[1] = { 3 };
	const double tgt[4 * 3] = {
		0.5, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 1.5,
	};
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_eval ev;

	ck_assert_uint_eq(hgq_argmax(val, 3), 0);
	ck_assert_int_eq(hgq_eval_init(&ev, 3, HGQ_TASK_CLASSIFY, 1, &err),
	    HGQ_OK);
	ck_assert_int_eq(hgq_eval_add(&ev, val, lab, 2, "y", &err), HGQ_OK);
	ck_assert_int_eq(hgq_eval_add(&ev, val + 6, lab + 2, 2, "y", &err),
	    HGQ_OK);
	/* predictions 0, 1, 2, 1: right for rows 0 and 1 */
	ck_assert(hgq_eval_accuracy(&ev) == 0.5);
	ck_assert_uint_eq(ev.confusion[0 * 3 + 2], 1);
	ck_assert_uint_eq(ev.confusion[2 * 3 + 1], 1);
	/* the row of a bad label counts the rows added before it */
	ck_assert_int_eq(hgq_eval_add(&ev, val, bad, 1, "y.npy", &err),
	    HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "y.npy: row 4: label 3 out of range [0, 3)");
	ck_assert_uint_eq(ev.n, 4);
	hgq_eval_release(&ev);

	/* MSE: squares summed by row, then output; / rows / outputs */
	ck_assert_int_eq(hgq_eval_init(&ev, 3, HGQ_TASK_REGRESS, 1, &err),
	    HGQ_OK);
	ck_assert_int_eq(hgq_eval_add(&ev, val, tgt, 4, "y", &err), HGQ_OK);
	ck_assert(ev.sq_err == 0.25 + 1 + 0.0625 + 0.015625 + 4 + 9 + 2.25 +
	    0.25);
	ck_assert(hgq_eval_mse(&ev) == ev.sq_err / 4 / 3);
	hgq_eval_release(&ev);
}
END_TEST

Suite *
data_suite(void)
{
	Suite *s = suite_create("data");
	TCase *tc = tcase_create("data");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, npy_every_dtype);
	tcase_add_test(tc, npy_writer_same_bytes);
	tcase_add_test(tc, npy_2d_versions);
	tcase_add_test(tc, npy_big_endian);
	tcase_add_test(tc, npy_refused);
	tcase_add_test(tc, npy_truncated);
	tcase_add_test(tc, npy_bad_magic);
	tcase_add_test(tc, npy_nonfinite);
	tcase_add_test(tc, npy_empty);
	tcase_add_test(tc, csv_header_auto);
	tcase_add_test(tc, csv_label_col);
	tcase_add_test(tc, csv_delimiters);
	tcase_add_test(tc, csv_errors);
	tcase_add_test(tc, csv_numbers_exact);
	tcase_add_test(tc, csv_large);
	tcase_add_test(tc, idx_plain_and_gzip);
	tcase_add_test(tc, idx_refused);
	tcase_add_test(tc, idx_gzip_cut);
	tcase_add_test(tc, fashion_mnist_labels);
	tcase_add_test(tc, stream_chunks);
	tcase_add_test(tc, stream_poisoned);
	tcase_add_test(tc, stdin_autodetect);
	tcase_add_test(tc, open_missing);
	tcase_add_test(tc, npy_write_round_trip);
	tcase_add_test(tc, labels);
	tcase_add_test(tc, evaluator);
	suite_add_tcase(s, tc);
	return s;
}
