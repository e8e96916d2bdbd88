/*
 * check_dump.c - the JSON dump: the golden models dump to the committed
 * texts exactly (formats/examples/tiny.json, tiny-train.json), strings
 * are escaped, doubles round-trip, an uncalibrated model dumps nulls,
 * and errors are reported.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "internal.h"
#include "unit.h"

#define EX	"../../formats/examples/"

static char *
slurp_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	p = malloc((size_t)n + 1);
	ck_assert_uint_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	return p;
}

/* the dump of m as a string (the status must be HGQ_OK) */
static char *
dump(const struct hgq_model *m)
{
	struct hgq_err err = HGQ_ERR_INIT;
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	ck_assert_ptr_nonnull(f);
	ck_assert_msg(hgq_model_dump_json(f, m, &err) == HGQ_OK, "%s",
	    err.msg);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

static struct hgq_model *
load(const char *path)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m;

	ck_assert_msg(hgq_model_read_file(path, &m, &err) == HGQ_OK, "%s: %s",
	    path, err.msg);
	return m;
}

static size_t
count(const char *s, const char *what)
{
	size_t n = 0;

	for (s = strstr(s, what); s != NULL; s = strstr(s + 1, what))
		n++;
	return n;
}

START_TEST(test_golden)
{
	static const char *const names[][2] = {
		{ EX "tiny.hgqm", EX "tiny.json" },
		{ EX "tiny-train.hgqm", EX "tiny-train.json" },
		{ EX "tiny-deflate.hgqm", EX "tiny-train.json" },
		{ EX "conv2d.hgqm", EX "conv2d.json" },
		{ EX "conv1d.hgqm", EX "conv1d.json" },
		{ EX "graph.hgqm", EX "graph.json" },
		{ EX "graph-train.hgqm", EX "graph-train.json" },
	};

	for (size_t j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
		struct hgq_model *m = load(names[j][0]);
		char *want = slurp_text(names[j][1]), *got = dump(m);

		ck_assert_str_eq(got, want);
		free(got);
		free(want);
		hgq_model_free(m);
	}
}
END_TEST

/* the fixed fields of DESIGN.md, spelled out for tiny.hgqm */
START_TEST(test_shape)
{
	struct hgq_model *m = load(EX "tiny.hgqm");
	char *got = dump(m);

	ck_assert(strncmp(got, "{\n  \"format_version\": [1, 0],\n", 30) == 0);
	ck_assert_ptr_nonnull(strstr(got, "\"index_map\": [0, 1],\n"));
	ck_assert_ptr_nonnull(strstr(got, "      \"kind\": \"none\",\n"
	    "      \"offset\": [0, 0],\n      \"scale\": [1, 1]\n"));
	ck_assert_ptr_nonnull(strstr(got, "      \"weight_mantissa\": [\n"
	    "        [0, -57],\n        [-4, 16]\n      ],\n"
	    "      \"weight_f\": [\n        [5, 0],\n        [-2, 0]\n"
	    "      ],\n      \"bias_mantissa\": [-28, 0],\n"
	    "      \"bias_f\": [4, 1]\n"));
	ck_assert_ptr_nonnull(strstr(got, "      \"round\": \"TRN\",\n"
	    "      \"overflow\": \"WRAP\",\n"));
	ck_assert_ptr_nonnull(strstr(got,
	    "      \"overflow\": \"SAT_SYM\",\n"));
	ck_assert_uint_eq(count(got, "\"kind\": \"quantizer\""), 3);
	ck_assert_uint_eq(count(got, "\"kind\": \"dense\""), 2);
	ck_assert_ptr_null(strstr(got, "\"meta\""));
	ck_assert_ptr_null(strstr(got, "\"train\""));
	free(got);
	hgq_model_free(m);
}
END_TEST

/* the version is the file's: tiny.hgqm as a 1.1 file, else the same */
START_TEST(test_version)
{
	static const char v0[] = "{\n  \"format_version\": [1, 0],\n";
	static const char v1[] = "{\n  \"format_version\": [1, 1],\n";
	struct hgq_model *m = load("../data/minor1.hgqm");
	char *got = dump(m), *want = slurp_text(EX "tiny.json");

	ck_assert(strncmp(want, v0, strlen(v0)) == 0);
	ck_assert(strncmp(got, v1, strlen(v1)) == 0);
	ck_assert_str_eq(got + strlen(v1), want + strlen(v0));
	free(got);
	free(want);
	hgq_model_free(m);
}
END_TEST

START_TEST(test_uncalibrated)
{
	struct hgq_model *m = load(EX "tiny.hgqm");
	char *got;

	m->calibrated = 0;
	got = dump(m);
	ck_assert_ptr_nonnull(strstr(got, "  \"calibrated\": false,\n"));
	ck_assert_ptr_nonnull(strstr(got, "      \"k\": null,\n"
	    "      \"i\": null,\n      \"f\": null\n"));
	ck_assert_ptr_nonnull(strstr(got, "      \"weight_mantissa\": null,\n"
	    "      \"weight_f\": null,\n      \"bias_mantissa\": null,\n"
	    "      \"bias_f\": null\n"));
	ck_assert_uint_eq(count(got, "null"), 3 * 3 + 2 * 4);
	free(got);
	hgq_model_free(m);
}
END_TEST

START_TEST(test_escape_and_doubles)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = load(EX "tiny.hgqm");
	char ctl[40], *got;

	for (int c = 1; c < 32; c++)
		ctl[c - 1] = (char)c;
	ctl[31] = 0x7f;
	ctl[32] = '\0';
	ck_assert_int_eq(hgq_meta_set(m, "q\"b\\s/", ctl, &err), HGQ_OK);
	ck_assert_int_eq(hgq_meta_set(m, "\xce\xb2", "\xf0\x9f\x98\x80", &err),
	    HGQ_OK);
	m->norm = HGQ_NORM_STANDARD;
	m->norm_offset = malloc(2 * sizeof(double));
	m->norm_scale = malloc(2 * sizeof(double));
	m->norm_offset[0] = 0.1;
	m->norm_offset[1] = -0.0;
	m->norm_scale[0] = 1e-300;
	m->norm_scale[1] = 1.0 / 3.0;
	m->task = HGQ_TASK_REGRESS;
	m->has_train = 1;
	m->train.epoch = 7;
	m->train.step = 12345678901ULL;
	got = dump(m);
	ck_assert_ptr_nonnull(strstr(got, "  \"task\": \"regress\",\n"));
	ck_assert_ptr_nonnull(strstr(got, "      \"kind\": \"standard\",\n"
	    "      \"offset\": [0.10000000000000001, -0],\n"
	    "      \"scale\": [1e-300,"
	    " 0.33333333333333331]\n"));
	ck_assert_ptr_nonnull(strstr(got, "  ],\n  \"train\": {\"epoch\": 7,"
	    " \"step\": 12345678901},\n  \"meta\": {\n"
	    "    \"q\\\"b\\\\s/\": \"\\u0001\\u0002\\u0003\\u0004\\u0005"
	    "\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f\\u0010"
	    "\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018"
	    "\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\u007f\",\n"
	    "    \"\xce\xb2\": \"\xf0\x9f\x98\x80\"\n  }\n}\n"));
	free(got);
	hgq_model_free(m);
}
END_TEST

/*
 * A graph (format 1.2, tests/unit/fixture.c fx_graph): the ports with
 * their shapes and index-map offsets, the inputs of every layer, the
 * shapes of several inputs, the function, the axis and the mask
 */
START_TEST(test_graph)
{
	struct hgq_model *m = fx_graph();
	char *got = dump(m);

	ck_assert(strncmp(got, "{\n  \"format_version\": [1, 2],\n", 30) == 0);
	ck_assert_ptr_nonnull(strstr(got, "  \"input\": {\n    \"n\": 8,\n"
	    "    \"n_raw\": 8,\n"));
	ck_assert_ptr_nonnull(strstr(got, "  \"inputs\": [\n"
	    "    {\"name\": \"a\", \"layer\": 0, \"shape\": [4], \"n\": 4,"
	    " \"index_map_offset\": 0},\n"
	    "    {\"name\": \"b\", \"layer\": 1, \"shape\": [4], \"n\": 4,"
	    " \"index_map_offset\": 4}\n  ],\n"
	    "  \"outputs\": [\n"
	    "    {\"name\": \"y\", \"layer\": 15, \"shape\": [2], \"n\": 2},\n"
	    "    {\"name\": \"z\", \"layer\": 11, \"shape\": [3], \"n\": 3}\n"
	    "  ],\n  \"layers\": [\n"));
	ck_assert_ptr_nonnull(strstr(got, "      \"inputs\": [{\"input\":"
	    " 1}],\n"));
	ck_assert_ptr_nonnull(strstr(got, "      \"kind\": \"subtract\",\n"
	    "      \"n_in\": 3,\n      \"n_out\": 3,\n"
	    "      \"inputs\": [{\"layer\": 7}, {\"layer\": 3}],\n"
	    "      \"input_shape\": [3],\n"
	    "      \"input_shapes\": [[3], [3]],\n      \"shape\": [3]\n"));
	ck_assert_ptr_nonnull(strstr(got, "      \"kind\": \"lut\",\n"
	    "      \"n_in\": 3,\n      \"n_out\": 3,\n"
	    "      \"function\": \"tanh\",\n"
	    "      \"inputs\": [{\"layer\": 9}],\n"));
	ck_assert_ptr_nonnull(strstr(got, "      \"kind\": \"concatenate\",\n"
	    "      \"n_in\": 3,\n      \"n_out\": 6,\n      \"axis\": 0,\n"
	    "      \"inputs\": [{\"layer\": 7}, {\"layer\": 11}],\n"
	    "      \"input_shape\": [3],\n"
	    "      \"input_shapes\": [[3], [3]],\n      \"shape\": [6]\n"));
	ck_assert_ptr_nonnull(strstr(got, "      \"kind\": \"add\",\n"));
	ck_assert_uint_eq(count(got, "\"mask\": true"), 1);
	ck_assert_ptr_nonnull(strstr(got, "      \"mask\": true,\n"
	    "      \"masked_weights\": 2,\n"));
	free(got);
	hgq_model_free(m);
}
END_TEST

START_TEST(test_errors)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = load(EX "tiny-train.hgqm");
	FILE *f;

	f = fopen("/dev/full", "w");
	if (f != NULL) {
		ck_assert_int_eq(hgq_model_dump_json(f, m, &err), HGQ_EIO);
		ck_assert_str_eq(err.msg, "write error: No space left on"
		    " device");
		fclose(f);
	}
	m->layers[3].n_in = 3;
	f = fopen("/dev/null", "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(hgq_model_dump_json(f, m, &err), HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "layer 3: dense n_in 3 does not match the"
	    " quantizer n 2 before it");
	fclose(f);
	m->layers[3].n_in = 2;
	hgq_model_free(m);
}
END_TEST

Suite *
dump_suite(void)
{
	Suite *s = suite_create("dump");
	TCase *tc = tcase_create("dump");

	tcase_add_test(tc, test_golden);
	tcase_add_test(tc, test_shape);
	tcase_add_test(tc, test_version);
	tcase_add_test(tc, test_uncalibrated);
	tcase_add_test(tc, test_escape_and_doubles);
	tcase_add_test(tc, test_graph);
	tcase_add_test(tc, test_errors);
	suite_add_tcase(s, tc);
	return s;
}
