/*
 * check_format.c - the HGQM format (formats/hgqm.md): golden files decode
 * to the expected values and re-encode byte for byte; random models
 * round-trip write -> read -> write identically; and one corrupt-file
 * case per reader obligation, each with its status and message.
 *
 * Corrupt files are crafted from the golden ones: craft_parse() splits a
 * file into header fields and chunk payloads, a test changes them, and
 * craft_build() lays the file out again with correct offsets and CRCs
 * (computed here by an independent bitwise CRC-32), so that each case
 * reaches the check it is meant for.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "fixture.h"
#include "unit.h"

#define EX	"../../formats/examples/"
#define TD	"../data/"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void
set32(uint8_t *p, uint32_t v)
{
	for (int b = 0; b < 4; b++)
		p[b] = (uint8_t)(v >> 8 * b);
}

static void
set64(uint8_t *p, uint64_t v)
{
	set32(p, (uint32_t)v);
	set32(p + 4, (uint32_t)(v >> 32));
}

/* CRC-32 (ISO-HDLC, reflected 0xEDB88320), bit by bit, as hgqm.md says */
static uint32_t
crc(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t j = 0; j < n; j++) {
		c ^= p[j];
		for (int b = 0; b < 8; b++)
			c = c & 1 ? c >> 1 ^ 0xedb88320u : c >> 1;
	}
	return c ^ 0xffffffffu;
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	p = malloc((size_t)n + 1);
	ck_assert_uint_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* a read-only stream over bytes (an empty one through a temporary file) */
static FILE *
open_bytes(const uint8_t *p, size_t n)
{
	FILE *f;

	if (n == 0) {
		f = tmpfile();
		ck_assert_ptr_nonnull(f);
		return f;
	}
	f = fmemopen((void *)(uintptr_t)p, n, "rb");
	ck_assert_ptr_nonnull(f);
	return f;
}

static int
read_bytes(const uint8_t *p, size_t n, struct hgq_model **m,
    struct hgq_err *err)
{
	FILE *f = open_bytes(p, n);
	int rc = hgq_model_read(f, m, err);

	fclose(f);
	return rc;
}

/* write a model to memory; the status is returned */
static int
write_mem(const struct hgq_model *m, unsigned flags, uint8_t **out,
    size_t *len, struct hgq_err *err)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	int rc;

	ck_assert_ptr_nonnull(f);
	rc = hgq_model_write(f, m, flags, err);
	ck_assert_int_eq(fclose(f), 0);
	*out = (uint8_t *)buf;
	*len = n;
	return rc;
}

/* read p, require success, write again, require the same bytes */
static struct hgq_model *
check_identity(const uint8_t *p, size_t n, unsigned flags)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m;
	uint8_t *q;
	size_t qn;

	ck_assert_msg(read_bytes(p, n, &m, &err) == HGQ_OK, "read: %s",
	    err.msg);
	ck_assert_int_eq(write_mem(m, flags, &q, &qn, &err), HGQ_OK);
	ck_assert_uint_eq(qn, n);
	ck_assert_mem_eq(q, p, n);
	free(q);
	return m;
}

/* the bytes read (the status must be HGQ_OK) */
static struct hgq_model *
check_read_ok(const uint8_t *p, size_t n)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m;

	ck_assert_msg(read_bytes(p, n, &m, &err) == HGQ_OK, "read: %s",
	    err.msg);
	return m;
}

/* ------------------------------------------------------------------ */
/* Crafting files                                                      */
/* ------------------------------------------------------------------ */

#define MAX_CC	16

struct craft {
	uint16_t	 major, minor;
	uint32_t	 hlen;			/* >= 16 */
	uint8_t		 hextra[64];		/* header bytes 16..hlen */
	uint32_t	 n;
	struct {
		char	 id[4];
		uint32_t flags;
		uint8_t	*data;
		size_t	 len;
	} c[MAX_CC];
};

static void
craft_parse(const uint8_t *p, size_t len, struct craft *cf)
{
	memset(cf, 0, sizeof(*cf));
	cf->major = (uint16_t)(p[4] | p[5] << 8);
	cf->minor = (uint16_t)(p[6] | p[7] << 8);
	cf->hlen = le32(p + 8);
	cf->n = le32(p + 12);
	ck_assert_uint_le(cf->n, MAX_CC);
	memcpy(cf->hextra, p + 16, cf->hlen - 16);
	for (uint32_t j = 0; j < cf->n; j++) {
		const uint8_t *e = p + cf->hlen + 32 * j;
		uint64_t off = le64(e + 8), n = le64(e + 16);

		ck_assert_uint_le(off + n, len);
		memcpy(cf->c[j].id, e, 4);
		cf->c[j].flags = le32(e + 4);
		cf->c[j].len = (size_t)n;
		cf->c[j].data = malloc(n + 64);
		memcpy(cf->c[j].data, p + off, n);
	}
}

static void
craft_free(struct craft *cf)
{
	for (uint32_t j = 0; j < cf->n; j++)
		free(cf->c[j].data);
}

static int
craft_find(const struct craft *cf, const char *id)
{
	for (uint32_t j = 0; j < cf->n; j++)
		if (memcmp(cf->c[j].id, id, 4) == 0)
			return (int)j;
	ck_abort_msg("no chunk %s", id);
	return -1;
}

/* the payload of a chunk, to patch */
static uint8_t *
craft_data(struct craft *cf, const char *id)
{
	return cf->c[craft_find(cf, id)].data;
}

static void
craft_remove(struct craft *cf, int j)
{
	free(cf->c[j].data);
	memmove(&cf->c[j], &cf->c[j + 1], (cf->n - j - 1) * sizeof(cf->c[0]));
	cf->n--;
}

/* insert a chunk before position at */
static void
craft_insert(struct craft *cf, int at, const char *id, uint32_t flags,
    const void *data, size_t len)
{
	ck_assert_uint_lt(cf->n, MAX_CC);
	memmove(&cf->c[at + 1], &cf->c[at], (cf->n - at) * sizeof(cf->c[0]));
	cf->n++;
	memcpy(cf->c[at].id, id, 4);
	cf->c[at].flags = flags;
	cf->c[at].len = len;
	cf->c[at].data = malloc(len + 64);
	memcpy(cf->c[at].data, data, len);
}

static size_t
align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* lay out the file: offsets contiguous and aligned, every CRC right */
static uint8_t *
craft_build(const struct craft *cf, size_t *len)
{
	size_t toc = cf->hlen, pos = align8(toc + 32 * cf->n + 4), total;
	uint8_t *p;

	total = pos;
	for (uint32_t j = 0; j < cf->n; j++)
		total = align8(total) + cf->c[j].len;
	p = calloc(1, total + 8);
	memcpy(p, "HGQM", 4);
	p[4] = (uint8_t)cf->major;
	p[5] = (uint8_t)(cf->major >> 8);
	p[6] = (uint8_t)cf->minor;
	p[7] = (uint8_t)(cf->minor >> 8);
	set32(p + 8, cf->hlen);
	set32(p + 12, cf->n);
	memcpy(p + 16, cf->hextra, cf->hlen - 16);
	for (uint32_t j = 0; j < cf->n; j++) {
		uint8_t *e = p + toc + 32 * j;

		pos = align8(pos);
		memcpy(e, cf->c[j].id, 4);
		set32(e + 4, cf->c[j].flags);
		set64(e + 8, pos);
		set64(e + 16, cf->c[j].len);
		set32(e + 24, crc(cf->c[j].data, cf->c[j].len));
		memcpy(p + pos, cf->c[j].data, cf->c[j].len);
		pos += cf->c[j].len;
	}
	set32(p + toc + 32 * cf->n, crc(p, toc + 32 * cf->n));
	*len = total;
	return p;
}

/* after patching a TOC entry or the header by hand */
static void
fix_header_crc(uint8_t *p)
{
	uint32_t t = le32(p + 8) + 32 * le32(p + 12);

	set32(p + t, crc(p, t));
}

/* expect a status and an exact message */
static void
expect(const uint8_t *p, size_t n, int code, const char *msg)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = (struct hgq_model *)&err;	/* poison */
	int rc = read_bytes(p, n, &m, &err);

	ck_assert_msg(rc == code, "status %d, expected %d (%s)", rc, code,
	    err.msg);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(err.code, code);
	ck_assert_str_eq(err.msg, msg);
}

static void
expect_craft(const struct craft *cf, int code, const char *msg)
{
	size_t n;
	uint8_t *p = craft_build(cf, &n);

	expect(p, n, code, msg);
	free(p);
}

/* ------------------------------------------------------------------ */
/* A small random model generator (the same idea as tests/mkfixture)   */
/* ------------------------------------------------------------------ */

/* a number in 0..n-1 */
static uint32_t
gen(uint32_t n)
{
	return (uint32_t)(fx_rnd() % n);
}

static void
gen_tensor(struct hgq_layer *l, uint32_t role, uint32_t n)
{
	struct hgq_tensor *t = hgq_layer_add_tensor(l, role, n, NULL);

	ck_assert_ptr_nonnull(t);
	for (uint32_t e = 0; e < n; e++)
		t->data[e] = (float)fx_rnd_int(-100000, 100000) / 977.0f;
}

static struct hgq_model *
gen_model(uint64_t seed)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	uint32_t sizes[5], n_sizes;
	bool train, cal;

	fx_rng_state = seed;
	n_sizes = 2 + gen(3);
	train = gen(2);
	cal = gen(4) != 0;
	for (uint32_t s = 0; s < n_sizes; s++) {
		sizes[s] = 1 + gen(7);
		if (s > 0)
			hgq_model_add_layer(m, HGQ_LAYER_DENSE, sizes[s - 1],
			    sizes[s]);
		hgq_model_add_layer(m, HGQ_LAYER_QUANT, sizes[s], sizes[s]);
	}
	ck_assert_int_eq(hgq_model_set_input(m, sizes[0] + gen(3), &err),
	    HGQ_OK);
	for (uint32_t e = 0; e < sizes[0]; e++)	/* still increasing */
		m->index_map[e] += e < sizes[0] / 2 ? 0 : m->n_raw - sizes[0];
	m->task = gen(2);
	m->norm = gen(3);
	if (m->norm != HGQ_NORM_NONE) {
		m->norm_offset = calloc(m->n_raw, sizeof(double));
		m->norm_scale = calloc(m->n_raw, sizeof(double));
		for (uint32_t c = 0; c < m->n_raw; c++) {
			/* "scale" stores offsets of 0 (hgqm.md 4.2) */
			m->norm_offset[c] = fx_rnd_int(-1000, 1000) / 7.0 *
			    (m->norm == HGQ_NORM_STANDARD);
			m->norm_scale[c] = fx_rnd_int(1, 1000) / 3.0;
		}
	}
	m->calibrated = cal;
	for (uint32_t j = 0; j < m->n_layers; j++) {
		struct hgq_layer *l = &m->layers[j];
		uint32_t nw = l->n_in * l->n_out;

		if (cal)
			ck_assert_int_eq(hgq_layer_alloc_fixed(l, &err),
			    HGQ_OK);
		if (l->kind == HGQ_LAYER_QUANT) {
			l->round = gen(2);
			l->overflow = gen(3);
			l->gran = gen(3);
			l->trainable = gen(2);
			for (uint32_t e = 0; cal && e < l->n_out; e++) {
				l->k[e] = (int8_t)gen(2);
				l->f[e] = (int8_t)fx_rnd_int(-62, 62);
				l->i[e] = (int8_t)fx_rnd_int(-62, 32 - l->k[e] -
				    l->f[e] < 62 ? 32 - l->k[e] - l->f[e] : 62);
			}
			if (train && gen(2)) {
				l->cal_min = calloc(l->n_out, sizeof(double));
				l->cal_max = calloc(l->n_out, sizeof(double));
				for (uint32_t e = 0; e < l->n_out; e++)
					l->cal_max[e] = fx_rnd_int(0, 99) / 3.0;
			}
			if (train) {
				gen_tensor(l, HGQ_ROLE_ACT_FBITS,
				    l->gran == HGQ_GRAN_LAYER ? 1 : l->n_out);
				gen_tensor(l, HGQ_ROLE_ACT_KSTATE, l->n_out);
			}
			continue;
		}
		l->act = gen(2);
		l->bn = gen(2);
		l->w_gran = gen(3);
		l->b_gran = gen(3);
		for (uint32_t e = 0; cal && e < nw; e++) {
			l->w_m[e] = (int32_t)(gen(0xffffffffu) - 0x7fffffff);
			l->w_f[e] = (int8_t)fx_rnd_int(-62, 62);
		}
		for (uint32_t e = 0; cal && e < l->n_out; e++) {
			l->b_m[e] = fx_rnd_int(-1000, 1000);
			l->b_f[e] = (int8_t)fx_rnd_int(-62, 62);
		}
		if (train) {
			/* any order; a moment needs its tensor, M2 also M1 */
			gen_tensor(l, HGQ_ROLE_WEIGHT | HGQ_ROLE_M2, nw);
			gen_tensor(l, HGQ_ROLE_WEIGHT, nw);
			gen_tensor(l, HGQ_ROLE_WEIGHT | HGQ_ROLE_M1, nw);
			gen_tensor(l, HGQ_ROLE_BIAS, l->n_out);
			if (l->bn)
				gen_tensor(l, HGQ_ROLE_BN_VAR, l->n_out);
		}
	}
	if (train) {
		/* progress only with has_train (hgqm.md 4.6) */
		m->has_train = gen(2);
		m->train.epoch = m->has_train ? gen(1000) : 0;
		m->train.step = m->has_train ?
		    (uint64_t)gen(0xffffffffu) << 20 : 0;
		for (int r = 0; m->has_train && r < 4; r++)
			m->train.rng[r] = (uint64_t)gen(0xffffffffu) << 32 |
			    gen(0xffffffffu);
		if (m->has_train)
			m->train.lr_scale = fx_rnd_int(1, 8) / 4.0;
		ck_assert_int_eq(hgq_meta_set(m, "config", "a: 1\n\"b\"\t\x01",
		    &err), HGQ_OK);
		ck_assert_int_eq(hgq_meta_set(m, "k\xc3\xa9y", "", &err),
		    HGQ_OK);
	}
	if (gen(3) == 0) {
		m->extra = calloc(2, sizeof(*m->extra));
		m->n_extra = 1 + gen(2);
		for (uint32_t x = 0; x < m->n_extra; x++) {
			memcpy(m->extra[x].id, x ? "zz01" : "ABCD", 4);
			m->extra[x].flags = gen(2) * 2;
			m->extra[x].len = gen(20);
			m->extra[x].data = malloc(m->extra[x].len + 1);
			for (uint64_t b = 0; b < m->extra[x].len; b++)
				m->extra[x].data[b] = (uint8_t)gen(256);
		}
	}
	ck_assert_msg(hgq_model_validate(m, &err) == HGQ_OK, "%s", err.msg);
	return m;
}

/* ------------------------------------------------------------------ */
/* Golden files                                                        */
/* ------------------------------------------------------------------ */

/*
 * What a layer of a golden model holds: a quantizer's modes and k, i, f,
 * or a dense layer's activation, granularities, mantissas and fractional
 * bits (bn -1: the caller checks it, it differs between the files).
 */
struct want_layer {
	uint32_t	 kind, n_in, n_out;
	uint8_t		 round, overflow, gran, trainable;
	int8_t		 k[2], i[2], f[2];
	uint8_t		 act, w_gran, b_gran;
	int		 bn;
	int32_t		 w_m[4], b_m[2];
	int8_t		 w_f[4], b_f[2];
};

static void
check_layer(const struct hgq_layer *l, const struct want_layer *w)
{
	size_t nw = (size_t)w->n_in * w->n_out;

	ck_assert_uint_eq(l->kind, w->kind);
	ck_assert_uint_eq(l->n_in, w->n_in);
	ck_assert_uint_eq(l->n_out, w->n_out);
	if (w->kind == HGQ_LAYER_QUANT) {
		ck_assert_uint_eq(l->round, w->round);
		ck_assert_uint_eq(l->overflow, w->overflow);
		ck_assert_uint_eq(l->gran, w->gran);
		ck_assert_uint_eq(l->trainable, w->trainable);
		ck_assert_mem_eq(l->k, w->k, w->n_out);
		ck_assert_mem_eq(l->i, w->i, w->n_out);
		ck_assert_mem_eq(l->f, w->f, w->n_out);
		return;
	}
	ck_assert_uint_eq(l->act, w->act);
	ck_assert_uint_eq(l->w_gran, w->w_gran);
	ck_assert_uint_eq(l->b_gran, w->b_gran);
	if (w->bn >= 0)
		ck_assert_uint_eq(l->bn, (unsigned)w->bn);
	ck_assert_mem_eq(l->w_m, w->w_m, nw * sizeof(*l->w_m));
	ck_assert_mem_eq(l->w_f, w->w_f, nw);
	ck_assert_mem_eq(l->b_m, w->b_m, w->n_out * sizeof(*l->b_m));
	ck_assert_mem_eq(l->b_f, w->b_f, w->n_out);
}

/* the fixed-point part of tiny.hgqm (also that of tiny-train.hgqm) */
static void
check_tiny_fixed(const struct hgq_model *m)
{
	static const struct want_layer want[5] = {
		{ .kind = HGQ_LAYER_QUANT, .n_in = 2, .n_out = 2,
		  .round = HGQ_RND, .overflow = HGQ_SAT_SYM,
		  .gran = HGQ_GRAN_LAYER, .trainable = 0,
		  .k = { 0, 1 }, .i = { 6, 5 }, .f = { 0, -1 } },
		{ .kind = HGQ_LAYER_DENSE, .n_in = 2, .n_out = 2,
		  .act = HGQ_ACT_RELU, .w_gran = HGQ_GRAN_ELEMENT,
		  .b_gran = HGQ_GRAN_CHANNEL, .bn = -1,
		  .w_m = { 0, -57, -4, 16 }, .w_f = { 5, 0, -2, 0 },
		  .b_m = { -28, 0 }, .b_f = { 4, 1 } },
		{ .kind = HGQ_LAYER_QUANT, .n_in = 2, .n_out = 2,
		  .round = HGQ_RND, .overflow = HGQ_SAT_SYM,
		  .gran = HGQ_GRAN_LAYER, .trainable = 1,
		  .k = { 0, 1 }, .i = { 3, -1 }, .f = { -1, 0 } },
		{ .kind = HGQ_LAYER_DENSE, .n_in = 2, .n_out = 1,
		  .act = HGQ_ACT_LINEAR, .w_gran = HGQ_GRAN_ELEMENT,
		  .b_gran = HGQ_GRAN_LAYER, .bn = 0,
		  .w_m = { 0, 7 }, .w_f = { 5, 1 },
		  .b_m = { 0 }, .b_f = { -1 } },
		{ .kind = HGQ_LAYER_QUANT, .n_in = 1, .n_out = 1,
		  .round = HGQ_TRN, .overflow = HGQ_WRAP,
		  .gran = HGQ_GRAN_LAYER, .trainable = 0,
		  .k = { 1 }, .i = { 1 }, .f = { 3 } },
	};

	ck_assert_uint_eq(m->task, HGQ_TASK_CLASSIFY);
	ck_assert_uint_eq(m->n_raw, 2);
	ck_assert_uint_eq(m->index_map[0], 0);
	ck_assert_uint_eq(m->index_map[1], 1);
	ck_assert_uint_eq(m->norm, HGQ_NORM_NONE);
	ck_assert_ptr_null(m->norm_offset);
	ck_assert_int_eq(m->calibrated, 1);
	ck_assert_uint_eq(m->n_layers, 5);
	ck_assert_uint_eq(hgq_model_n_out(m), 1);
	for (uint32_t j = 0; j < 5; j++)
		check_layer(&m->layers[j], &want[j]);
}

START_TEST(test_golden_tiny)
{
	size_t n;
	uint8_t *p = slurp(EX "tiny.hgqm", &n);
	struct hgq_model *m;

	ck_assert_uint_eq(n, 424);
	m = check_identity(p, n, 0);
	check_tiny_fixed(m);
	ck_assert_uint_eq(m->layers[1].bn, 0);
	ck_assert_int_eq(m->has_train, 0);
	ck_assert_uint_eq(m->n_meta, 0);
	ck_assert_uint_eq(m->n_extra, 0);
	ck_assert_uint_eq(m->write_flags, 0);
	for (uint32_t j = 0; j < 5; j++) {
		ck_assert_uint_eq(m->layers[j].n_tensors, 0);
		ck_assert_ptr_null(m->layers[j].cal_min);
	}
	hgq_model_free(m);
	free(p);
}
END_TEST

/* the role list of each layer of tiny-train.hgqm, in file order */
static const uint32_t train_roles[5][21] = {
	{ 0x5, 0x105, 0x205, 0x6, 0x7 },
	{ 0x1, 0x101, 0x201, 0x2, 0x102, 0x202, 0x3, 0x103, 0x203, 0x4, 0x104,
	  0x204, 0x8, 0x9, 0xa, 0x10a, 0x20a, 0xb, 0x10b, 0x20b },
	{ 0x5, 0x105, 0x205, 0x6, 0x7 },
	{ 0x1, 0x101, 0x201, 0x2, 0x102, 0x202, 0x3, 0x103, 0x203, 0x4, 0x104,
	  0x204 },
	{ 0x5, 0x105, 0x205, 0x6, 0x7 },
};

static void
check_tiny_train(const struct hgq_model *m)
{
	static const uint32_t n_tensors[5] = { 5, 20, 5, 12, 5 };
	/* calibration ranges: layer, element, min, max */
	static const struct {
		uint32_t	 layer, e;
		double		 min, max;
	} cal[] = {
		{ 0, 0, -4.375, 3.5 }, { 0, 1, -2.375, 4.25 },
		{ 2, 0, -4.875, 4.875 }, { 2, 1, -2.375, 0.375 },
		{ 4, 0, -3.375, 5.5 },
	};
	/* float tensors: layer, role, length, element, value */
	static const struct {
		uint32_t	 layer, role, n, e;
		float		 v;
	} val[] = {
		{ 1, HGQ_ROLE_WEIGHT, 4, 0, 6.765625f },
		{ 1, HGQ_ROLE_WEIGHT, 4, 1, 1.390625f },
		{ 1, HGQ_ROLE_WEIGHT, 4, 2, -3.109375f },
		{ 1, HGQ_ROLE_WEIGHT, 4, 3, -1.5625f },
		{ 0, HGQ_ROLE_ACT_FBITS, 1, 0, -3.53125f },
		{ 3, HGQ_ROLE_BIAS_FBITS, 1, 0, 7.0f },
		{ 4, HGQ_ROLE_ACT_KSTATE, 1, 0, -1.375f },
		{ 1, HGQ_ROLE_BN_BETA | HGQ_ROLE_M2, 2, 0, 3.734375f },
		{ 1, HGQ_ROLE_BN_BETA | HGQ_ROLE_M2, 2, 1, -7.171875f },
	};
	const struct hgq_tensor *t;

	check_tiny_fixed(m);
	ck_assert_uint_eq(m->layers[1].bn, 1);
	ck_assert_int_eq(m->has_train, 1);
	ck_assert_uint_eq(m->train.epoch, 14);
	ck_assert_uint_eq(m->train.step, 2954);
	ck_assert_uint_eq(m->train.rng[0], 0x274f656a0b179aacULL);
	ck_assert_uint_eq(m->train.rng[1], 0x634a50c9ac45a17eULL);
	ck_assert_uint_eq(m->train.rng[2], 0x589425ad9abea91fULL);
	ck_assert_uint_eq(m->train.rng[3], 0x489469e4fb3670cdULL);
	ck_assert(m->train.lr_scale == 1.0);

	ck_assert_uint_eq(m->n_meta, 4);
	ck_assert_str_eq(m->meta[0].key, "tool");
	ck_assert_str_eq(m->meta[0].value, "mkfixture");
	ck_assert_str_eq(m->meta[1].key, "config");
	ck_assert_str_eq(m->meta[1].value, "seed: 221\nmodel:\n"
	    "  name: \"fixture\"\t# quoted, tabbed\n");
	ck_assert_str_eq(m->meta[2].key, "metrics");
	ck_assert_str_eq(m->meta[2].value, "epoch\tloss\tebops\n0\t1.5\t310\n"
	    "1\t0.75\t204\n");
	ck_assert_str_eq(m->meta[3].key, "note");
	ck_assert_str_eq(m->meta[3].value, "\xce\xb2 \xe2\x89\xa5 0,"
	    " back\\slash, bell \x07.");

	for (size_t c = 0; c < sizeof(cal) / sizeof(cal[0]); c++) {
		const struct hgq_layer *l = &m->layers[cal[c].layer];

		ck_assert(l->cal_min[cal[c].e] == cal[c].min);
		ck_assert(l->cal_max[cal[c].e] == cal[c].max);
	}
	ck_assert_ptr_null(m->layers[1].cal_min);

	for (uint32_t j = 0; j < 5; j++) {
		ck_assert_uint_eq(m->layers[j].n_tensors, n_tensors[j]);
		for (uint32_t r = 0; r < n_tensors[j]; r++)
			ck_assert_uint_eq(m->layers[j].tensors[r].role,
			    train_roles[j][r]);
	}
	for (size_t c = 0; c < sizeof(val) / sizeof(val[0]); c++) {
		t = hgq_layer_tensor(&m->layers[val[c].layer], val[c].role);
		ck_assert_ptr_nonnull(t);
		ck_assert_uint_eq(t->n, val[c].n);
		ck_assert(t->data[val[c].e] == val[c].v);
	}
}

START_TEST(test_golden_train)
{
	size_t n;
	uint8_t *p = slurp(EX "tiny-train.hgqm", &n);
	struct hgq_model *m;

	ck_assert_uint_eq(n, 2080);
	m = check_identity(p, n, 0);
	check_tiny_train(m);
	ck_assert_uint_eq(m->write_flags, 0);
	hgq_model_free(m);
	free(p);
}
END_TEST

START_TEST(test_golden_deflate)
{
	struct hgq_err err = HGQ_ERR_INIT;
	size_t n, nt, nq;
	uint8_t *p = slurp(EX "tiny-deflate.hgqm", &n);
	uint8_t *pt = slurp(EX "tiny-train.hgqm", &nt), *q;
	struct hgq_model *m, *mt;
	struct craft cf;

	ck_assert_uint_eq(n, 1216);
	m = check_identity(p, n, 0);
	check_tiny_train(m);
	ck_assert_uint_eq(m->write_flags, HGQ_WRITE_COMPRESS);
	/* the chunks deflated are exactly FIXP, CALB and TRNS */
	craft_parse(p, n, &cf);
	for (uint32_t j = 0; j < cf.n; j++) {
		bool z = memcmp(cf.c[j].id, "FIXP", 4) == 0 ||
		    memcmp(cf.c[j].id, "CALB", 4) == 0 ||
		    memcmp(cf.c[j].id, "TRNS", 4) == 0;

		ck_assert_uint_eq(cf.c[j].flags & 2, z ? 2 : 0);
	}
	craft_free(&cf);
	/* uncompressed, it is tiny-train.hgqm */
	m->write_flags = 0;
	ck_assert_int_eq(write_mem(m, 0, &q, &nq, &err), HGQ_OK);
	ck_assert_uint_eq(nq, nt);
	ck_assert_mem_eq(q, pt, nt);
	free(q);
	/* and tiny-train.hgqm written compressed is tiny-deflate.hgqm */
	ck_assert_int_eq(read_bytes(pt, nt, &mt, &err), HGQ_OK);
	ck_assert_int_eq(write_mem(mt, HGQ_WRITE_COMPRESS, &q, &nq, &err),
	    HGQ_OK);
	ck_assert_uint_eq(nq, n);
	ck_assert_mem_eq(q, p, n);
	free(q);
	hgq_model_free(mt);
	hgq_model_free(m);
	free(p);
	free(pt);
}
END_TEST

/*
 * The format 1.1 golden files (hgqm.md 9.1): minor 1, the shapes, inputs
 * and windows as the spec's worked example annotates them, read -> write
 * byte-identical, and the FIXP arrays of the sizes the shapes imply.
 */
START_TEST(test_golden_conv)
{
	static const uint32_t kinds2[] = { 1, 4, 1, 5, 1, 7, 1, 2, 1 };
	static const uint32_t shapes2[][4] = {	/* rank, dims */
		{ 3, 4, 4, 1 }, { 3, 2, 2, 2 }, { 3, 2, 2, 2 }, { 3, 1, 1, 2 },
		{ 3, 1, 1, 2 }, { 1, 2, 0, 0 }, { 1, 2, 0, 0 }, { 1, 2, 0, 0 },
		{ 1, 2, 0, 0 },
	};
	static const uint32_t kinds1[] = { 1, 3, 1, 6, 1, 7, 1, 2, 1 };
	static const uint32_t shapes1[][4] = {
		{ 2, 6, 2, 0 }, { 2, 3, 2, 0 }, { 2, 3, 2, 0 }, { 2, 2, 2, 0 },
		{ 2, 2, 2, 0 }, { 1, 4, 0, 0 }, { 1, 4, 0, 0 }, { 1, 1, 0, 0 },
		{ 1, 1, 0, 0 },
	};
	size_t n;
	uint8_t *p = slurp(EX "conv2d.hgqm", &n);
	struct hgq_model *m;
	const struct hgq_layer *l;

	ck_assert_uint_eq(n, 1160);
	ck_assert_uint_eq(p[6], 1);		/* minor 1 */
	m = check_identity(p, n, 0);
	ck_assert_uint_eq(m->n_layers, 9);
	for (uint32_t j = 0; j < 9; j++) {
		l = &m->layers[j];
		ck_assert_uint_eq(l->kind, kinds2[j]);
		ck_assert_uint_eq(l->rank, shapes2[j][0]);
		ck_assert_mem_eq(l->shape, &shapes2[j][1], 12);
		ck_assert_uint_eq(l->n_inputs, 1);
		ck_assert_uint_eq(l->inputs[0], j == 0 ? HGQ_REF_INPUT :
		    j - 1);
	}
	l = &m->layers[1];
	ck_assert_uint_eq(l->kernel[0], 3);
	ck_assert_uint_eq(l->kernel[1], 3);
	ck_assert_uint_eq(l->stride[0], 1);
	ck_assert_uint_eq(l->stride[1], 1);
	ck_assert_uint_eq(l->padding, HGQ_PAD_VALID);
	ck_assert_uint_eq(hgq_layer_n_weights(m, 1), 18);
	ck_assert_uint_eq(hgq_layer_n_bias(m, 1), 2);
	ck_assert_int_eq(l->w_m[16], 58);	/* tap 8, filter 0 */
	ck_assert_int_eq(l->w_m[5], -21);	/* tap 2, filter 1 */
	l = &m->layers[3];
	ck_assert_uint_eq(l->kernel[0], 2);
	ck_assert_uint_eq(l->stride[1], 2);
	ck_assert_ptr_null(l->w_m);
	ck_assert_uint_eq(hgq_model_format_minor(m), 1);
	hgq_model_free(m);
	free(p);

	p = slurp(EX "conv1d.hgqm", &n);
	ck_assert_uint_eq(n, 1112);
	ck_assert_uint_eq(p[6], 1);
	m = check_identity(p, n, 0);
	for (uint32_t j = 0; j < 9; j++) {
		l = &m->layers[j];
		ck_assert_uint_eq(l->kind, kinds1[j]);
		ck_assert_uint_eq(l->rank, shapes1[j][0]);
		ck_assert_mem_eq(l->shape, &shapes1[j][1], 12);
	}
	l = &m->layers[1];
	ck_assert_uint_eq(l->kernel[0], 1);
	ck_assert_uint_eq(l->kernel[1], 3);
	ck_assert_uint_eq(l->stride[0], 1);
	ck_assert_uint_eq(l->stride[1], 2);
	ck_assert_uint_eq(l->padding, HGQ_PAD_SAME);
	ck_assert_uint_eq(hgq_layer_n_weights(m, 1), 12);
	ck_assert_uint_eq(m->layers[3].kernel[1], 2);
	ck_assert_uint_eq(m->layers[3].stride[1], 1);
	hgq_model_free(m);
	free(p);
}
END_TEST

/*
 * The format 1.2 golden files (hgqm.md 9.2): minor 2, PORT between INPT
 * and GRPH, the inputs, kinds, axis and function as annotated there,
 * read -> write byte-identical; with training state the mask of layer 2.
 */
START_TEST(test_golden_graph)
{
	static const uint32_t kinds[] = { 1, 1, 2, 1, 2, 1, 8, 1, 11, 1, 10,
	    1 };
	static const uint32_t refs[][2] = {
		{ HGQ_REF_INPUT, 0 }, { HGQ_REF_INPUT | 1, 0 }, { 0, 0 },
		{ 2, 0 }, { 1, 0 }, { 4, 0 }, { 3, 5 }, { 6, 0 }, { 7, 0 },
		{ 8, 0 }, { 7, 9 }, { 10, 0 },
	};
	struct hgq_err err = HGQ_ERR_INIT;
	size_t n, nq;
	uint8_t *p = slurp(EX "graph.hgqm", &n), *q;
	struct hgq_model *m;
	const struct hgq_tensor *t;

	ck_assert_uint_eq(n, 1472);
	ck_assert_uint_eq(p[6], 2);			/* minor 2 */
	ck_assert_mem_eq(p + 16 + 32, "PORT", 4);	/* TOC[1] */
	ck_assert_uint_eq(le32(p + 16 + 32 + 4), 1);	/* REQUIRED */
	m = check_identity(p, n, 0);
	ck_assert_uint_eq(m->format_minor, 2);
	ck_assert_uint_eq(m->n_layers, 12);
	for (uint32_t j = 0; j < 12; j++) {
		const struct hgq_layer *l = &m->layers[j];

		ck_assert_uint_eq(l->kind, kinds[j]);
		ck_assert_uint_eq(l->n_inputs, kinds[j] == 8 ||
		    kinds[j] == 10 ? 2 : 1);
		for (uint32_t u = 0; u < l->n_inputs; u++)
			ck_assert_uint_eq(l->inputs[u], refs[j][u]);
	}
	ck_assert_uint_eq(m->layers[8].func, HGQ_FUNC_TANH);
	ck_assert_uint_eq(m->layers[10].axis, 0);
	ck_assert_uint_eq(m->layers[10].shape[0], 4);
	ck_assert_uint_eq(m->n_in_ports, 2);
	ck_assert_uint_eq(m->n_out_ports, 2);
	ck_assert_str_eq(m->in_ports[0].name, "x_a");
	ck_assert_str_eq(m->in_ports[1].name, "x_b");
	ck_assert_uint_eq(m->in_ports[1].layer, 1);
	ck_assert_str_eq(m->out_ports[0].name, "sum");
	ck_assert_uint_eq(m->out_ports[0].layer, 7);
	ck_assert_str_eq(m->out_ports[1].name, "y");
	ck_assert_uint_eq(m->out_ports[1].layer, 11);
	ck_assert_uint_eq(hgq_model_n_in(m), 3);
	ck_assert_uint_eq(hgq_model_n_out(m), 6);
	ck_assert_uint_eq(m->task, HGQ_TASK_REGRESS);
	/* hgqm.md 9.2: layer 7 element 1 (0, 3, 1), mantissa 3 -> tanh
	   1.5 into layer 9 element 1 (0, -1, 3) TRN SAT_SYM: 7 -> 3 */
	ck_assert_int_eq(m->layers[7].i[1], 3);
	ck_assert_int_eq(m->layers[9].i[1], -1);
	ck_assert_int_eq(hgq_lut_mant(m->layers[8].func, 3,
	    m->layers[7].f[1], m->layers[9].k[1], m->layers[9].i[1],
	    m->layers[9].f[1], m->layers[9].round, m->layers[9].overflow), 3);
	hgq_model_free(m);
	free(p);

	p = slurp(EX "graph-train.hgqm", &n);
	ck_assert_uint_eq(p[6], 2);
	m = check_identity(p, n, 0);
	t = hgq_layer_tensor(&m->layers[2], HGQ_ROLE_MASK);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->n, 4);
	ck_assert(t->data[0] == 1.0f && t->data[1] == 0.0f &&
	    t->data[2] == 1.0f && t->data[3] == 1.0f);
	ck_assert_int_eq(m->layers[2].w_m[1], 0);
	ck_assert_int_eq(write_mem(m, HGQ_WRITE_COMPRESS, &q, &nq, &err),
	    HGQ_OK);
	hgq_model_free(check_identity(q, nq, 0));
	free(q);
	/* without training state: no mask, still 1.2 (the ports) */
	ck_assert_int_eq(write_mem(m, HGQ_WRITE_NO_TRAIN, &q, &nq, &err),
	    HGQ_OK);
	ck_assert_uint_eq(q[6], 2);
	free(q);
	hgq_model_free(m);
	free(p);
}
END_TEST

/*
 * A model is written as 1.2 only when it needs to be: a mask alone makes
 * tiny-train.hgqm a 1.2 file, which reads back and writes the same
 * bytes; without its training state it is 1.0 again.
 */
START_TEST(test_minor2_mask)
{
	struct hgq_err err = HGQ_ERR_INIT;
	size_t n, nq, nr;
	uint8_t *p = slurp(EX "tiny-train.hgqm", &n), *q, *r;
	struct hgq_model *m;
	struct hgq_tensor *t;

	ck_assert_int_eq(read_bytes(p, n, &m, &err), HGQ_OK);
	ck_assert_uint_eq(hgq_model_format_minor(m), 0);
	t = hgq_layer_add_tensor(&m->layers[3], HGQ_ROLE_MASK, 2, &err);
	ck_assert_ptr_nonnull(t);
	t->data[0] = 0.0f;			/* weight mantissa 0 there */
	t->data[1] = 1.0f;
	ck_assert_uint_eq(hgq_model_format_minor(m), 2);
	ck_assert_int_eq(write_mem(m, 0, &q, &nq, &err), HGQ_OK);
	ck_assert_uint_eq(q[6], 2);
	hgq_model_free(check_identity(q, nq, 0));
	ck_assert_int_eq(write_mem(m, HGQ_WRITE_NO_TRAIN, &r, &nr, &err),
	    HGQ_OK);
	ck_assert_uint_eq(r[6], 0);
	free(r);
	/* the same bytes saying 1.1: a mask is refused there */
	q[6] = 1;
	set32(q + 16 + 32 * le32(q + 12), crc(q, 16 + 32 * le32(q + 12)));
	expect(q, nq, HGQ_EFORMAT, "chunk TRNS: tensor 42: a mask (role 12)"
	    " in a version 1.1 file (masks are format 1.2)");
	free(q);
	hgq_model_free(m);
	free(p);
}
END_TEST

/*
 * What a 1.2 reader refuses in graph.hgqm: PORT or a kind of 1.2 in a
 * file that says 1.1, and every malformed PORT record (the graph rules
 * on the ports, and the rest, are model.c's: tests/data/hostile-g-*)
 */
START_TEST(test_graph_reader)
{
	static const struct {
		size_t		 at;	/* in PORT */
		int		 width;
		uint32_t	 value;
		const char	*msg;
	} cases[] = {
		{ 0, 4, 9, "chunk PORT: 9 inputs and 2 outputs (each 0..8,"
		    " not both 0)" },
		{ 4, 4, 0xffffffffu, "chunk PORT: 2 inputs and 4294967295"
		    " outputs (each 0..8, not both 0)" },
		{ 4, 4, 3, "chunk PORT: the port records needs 200 bytes at"
		    " byte 8, only 160 left" },
		{ 8 + 4, 1, 0, "chunk PORT: input 0: name of 0 bytes"
		    " (1..32)" },
		{ 8 + 40 + 4, 1, 33, "chunk PORT: input 1: name of 33 bytes"
		    " (1..32)" },
		{ 8 + 6, 1, 1, "chunk PORT: input 0: reserved bytes are not"
		    " zero" },
		{ 8 + 80 + 8 + 1, 1, 0, "chunk PORT: output 0: name contains"
		    " a NUL byte" },
		{ 8 + 120 + 8 + 5, 1, 'x', "chunk PORT: output 1: non-zero"
		    " padding after the name" },
	};
	size_t n, nq;
	uint8_t *p = slurp(EX "graph.hgqm", &n), *q, *d;
	struct craft cf;
	uint32_t zero[2] = { 0, 0 };

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		craft_parse(p, n, &cf);
		d = craft_data(&cf, "PORT");
		if (cases[c].width == 4)
			set32(d + cases[c].at, cases[c].value);
		else
			d[cases[c].at] = (uint8_t)cases[c].value;
		expect_craft(&cf, HGQ_EFORMAT, cases[c].msg);
		craft_free(&cf);
	}
	/* no ports at all: a PORT chunk is never empty */
	craft_parse(p, n, &cf);
	craft_remove(&cf, craft_find(&cf, "PORT"));
	craft_insert(&cf, 1, "PORT", 1, zero, 8);
	expect_craft(&cf, HGQ_EFORMAT, "chunk PORT: 0 inputs and 0 outputs"
	    " (each 0..8, not both 0)");
	craft_free(&cf);
	/* a record past the counts: bytes after the last field */
	craft_parse(p, n, &cf);
	cf.c[craft_find(&cf, "PORT")].len += 8;
	expect_craft(&cf, HGQ_EFORMAT, "chunk PORT: 8 unexpected bytes after"
	    " the last field");
	craft_free(&cf);
	/* version 1.1: PORT refused first; without it the kind of 1.2 */
	craft_parse(p, n, &cf);
	cf.minor = 1;
	expect_craft(&cf, HGQ_EFORMAT, "chunk PORT in a version 1.1 file"
	    " (named inputs and outputs are format 1.2)");
	craft_remove(&cf, craft_find(&cf, "PORT"));
	expect_craft(&cf, HGQ_EUNSUPP, "chunk GRPH: layer 6 has unsupported"
	    " kind 8 in a version 1.1 file (add is format 1.2)");
	craft_free(&cf);
	/* in a later minor the appended bytes are skipped */
	craft_parse(p, n, &cf);
	cf.minor = 3;
	cf.c[craft_find(&cf, "PORT")].len += 8;
	q = craft_build(&cf, &nq);
	hgq_model_free(check_read_ok(q, nq));
	free(q);
	craft_free(&cf);
	free(p);
}
END_TEST

/*
 * A trained conv model in memory (every tensor role at its conv size,
 * channel granularity of a quantizer = its last axis) writes as 1.1,
 * reads back and writes the same bytes; the same model as a flat chain
 * of explicit rank-1 shapes writes as 1.0.
 */
START_TEST(test_conv_train_roundtrip)
{
	static const uint32_t in[3] = { 3, 3, 2 }, co[3] = { 2, 2, 4 };
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	struct hgq_layer *l;
	uint8_t *p, *q;
	size_t n, nq;

	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT, 3, in,
	    &err));
	l = hgq_model_add_shaped(m, HGQ_LAYER_CONV2D, 3, co, &err);
	ck_assert_ptr_nonnull(l);
	l->kernel[0] = l->kernel[1] = 2;
	l->stride[0] = l->stride[1] = 1;
	l->bn = 1;
	l->w_gran = HGQ_GRAN_CHANNEL;
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT, 3, co,
	    &err));
	m->layers[2].gran = HGQ_GRAN_CHANNEL;
	ck_assert_int_eq(hgq_model_set_input(m, 18, &err), HGQ_OK);
	ck_assert_ptr_nonnull(hgq_layer_add_tensor(&m->layers[1],
	    HGQ_ROLE_WEIGHT, 2 * 2 * 2 * 4, &err));
	ck_assert_ptr_nonnull(hgq_layer_add_tensor(&m->layers[1],
	    HGQ_ROLE_WEIGHT_FBITS, 4, &err));
	ck_assert_ptr_nonnull(hgq_layer_add_tensor(&m->layers[1],
	    HGQ_ROLE_WEIGHT_FBITS | HGQ_ROLE_M1, 4, &err));
	ck_assert_ptr_nonnull(hgq_layer_add_tensor(&m->layers[1],
	    HGQ_ROLE_BN_VAR, 4, &err));
	ck_assert_ptr_nonnull(hgq_layer_add_tensor(&m->layers[2],
	    HGQ_ROLE_ACT_FBITS, 4, &err));
	m->layers[1].tensors[0].data[31] = 0.5f;
	ck_assert_int_eq(write_mem(m, 0, &p, &n, &err), HGQ_OK);
	ck_assert_uint_eq(p[6], 1);
	hgq_model_free(check_identity(p, n, 0));
	ck_assert_int_eq(write_mem(m, HGQ_WRITE_COMPRESS, &q, &nq, &err),
	    HGQ_OK);
	hgq_model_free(check_identity(q, nq, 0));
	free(q);
	/* a wrong size for a conv role is refused */
	m->layers[1].tensors[1].n = 3;
	ck_assert_int_eq(write_mem(m, 0, &q, &nq, &err), HGQ_EINVAL);
	free(q);
	ck_assert_str_eq(err.msg, "layer 1: tensor role 0x3 has 3 floats,"
	    " expected 4");
	hgq_model_free(m);
	free(p);
}
END_TEST

/*
 * A 1.1 file of a flat dense chain (which the writer never makes: it
 * writes 1.0 then) reads as the 1.0 model, flat with implied inputs,
 * and is rewritten as tiny.hgqm.
 */
START_TEST(test_flat_11)
{
	struct hgq_err err = HGQ_ERR_INIT;
	size_t n, nq, at = 8;
	uint8_t *p = slurp(EX "tiny.hgqm", &n), *q, *d;
	struct hgq_model *m;
	struct craft cf;
	int g;

	craft_parse(p, n, &cf);
	cf.minor = 1;
	g = craft_find(&cf, "GRPH");
	free(cf.c[g].data);
	cf.c[g].data = d = calloc(1, 8 + 5 * 72);
	memcpy(d, p + 144, 8);		/* n_layers 5, reserved */
	for (uint32_t j = 0; j < 5; j++) {
		const uint8_t *r = p + 144 + 8 + 24 * j;

		memcpy(d + at, r, 16 + 8);	/* kind, n_in, n_out, params */
		set32(d + at + 12, 56);
		set32(d + at + 24, 1);		/* rank 1 */
		memcpy(d + at + 28, r + 8, 4);	/* shape [n_out] */
		set32(d + at + 40, 1);		/* one input */
		set32(d + at + 64, j == 0 ? HGQ_REF_INPUT : j - 1);
		at += 72;
	}
	cf.c[g].len = at;
	q = craft_build(&cf, &nq);
	ck_assert_int_eq(read_bytes(q, nq, &m, &err), HGQ_OK);
	check_tiny_fixed(m);
	for (uint32_t j = 0; j < 5; j++) {
		ck_assert_uint_eq(m->layers[j].rank, 0);
		ck_assert_uint_eq(m->layers[j].n_inputs, 0);
	}
	free(q);
	ck_assert_int_eq(write_mem(m, 0, &q, &nq, &err), HGQ_OK);
	ck_assert_uint_eq(nq, n);
	ck_assert_mem_eq(q, p, n);
	free(q);
	hgq_model_free(m);
	/* 1.1 records in a file that says 1.0 are refused */
	cf.minor = 0;
	expect_craft(&cf, HGQ_EFORMAT, "chunk GRPH: layer 0: parameter length"
	    " 56 (expected 8)");
	craft_free(&cf);
	free(p);
}
END_TEST

START_TEST(test_no_train)
{
	struct hgq_err err = HGQ_ERR_INIT;
	size_t n, nq;
	uint8_t *p = slurp(EX "tiny-train.hgqm", &n), *q;
	struct hgq_model *m, *m2;

	ck_assert_int_eq(read_bytes(p, n, &m, &err), HGQ_OK);
	ck_assert_int_eq(write_mem(m, HGQ_WRITE_NO_TRAIN, &q, &nq, &err),
	    HGQ_OK);
	ck_assert_int_eq(read_bytes(q, nq, &m2, &err), HGQ_OK);
	ck_assert_int_eq(m2->has_train, 0);
	for (uint32_t j = 0; j < 5; j++)
		ck_assert_uint_eq(m2->layers[j].n_tensors, 0);
	ck_assert_uint_eq(m2->n_meta, 4);
	ck_assert(m2->layers[2].cal_max[0] == 4.875);
	check_tiny_fixed(m2);
	hgq_model_free(m2);
	hgq_model_free(m);
	free(q);
	free(p);
}
END_TEST

/* whether the model has a chunk that HGQ_WRITE_COMPRESS deflates */
static bool
deflatable(const struct hgq_model *m)
{
	bool any = m->calibrated || m->has_train;

	for (uint32_t j = 0; j < m->n_layers; j++)
		any |= m->layers[j].n_tensors > 0 ||
		    m->layers[j].cal_min != NULL;
	return any;
}

START_TEST(test_roundtrip_random)
{
	for (uint64_t seed = 1; seed <= 60; seed++) {
		struct hgq_err err = HGQ_ERR_INIT;
		struct hgq_model *m = gen_model(seed), *m2, *c;
		unsigned flags = seed % 3 == 0 ? HGQ_WRITE_COMPRESS : 0;
		uint8_t *p, *q;
		size_t n, nq;

		ck_assert_int_eq(write_mem(m, flags, &p, &n, &err), HGQ_OK);
		m2 = check_identity(p, n, 0);
		/* compression is remembered when a chunk was deflated */
		ck_assert_uint_eq(m2->write_flags, deflatable(m) ? flags : 0);
		ck_assert_uint_eq(m2->n_extra, m->n_extra);
		ck_assert_int_eq(m2->calibrated, m->calibrated);
		/* a copy writes the same bytes */
		c = hgq_model_copy(m2);
		ck_assert_int_eq(write_mem(c, 0, &q, &nq, &err), HGQ_OK);
		ck_assert_uint_eq(nq, n);
		ck_assert_mem_eq(q, p, n);
		free(q);
		/* and the other compression setting reads back the same */
		ck_assert_int_eq(write_mem(m, flags ^ HGQ_WRITE_COMPRESS, &q,
		    &nq, &err), HGQ_OK);
		hgq_model_free(c);
		ck_assert_int_eq(read_bytes(q, nq, &c, &err), HGQ_OK);
		c->write_flags = flags;
		free(q);
		ck_assert_int_eq(write_mem(c, 0, &q, &nq, &err), HGQ_OK);
		ck_assert_uint_eq(nq, n);
		ck_assert_mem_eq(q, p, n);
		free(q);
		hgq_model_free(c);
		hgq_model_free(m2);
		hgq_model_free(m);
		free(p);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* Streams                                                             */
/* ------------------------------------------------------------------ */

START_TEST(test_empty)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = NULL;

	ck_assert_int_eq(read_bytes(NULL, 0, &m, &err), HGQ_EOF);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(err.code, 0);
}
END_TEST

START_TEST(test_concat)
{
	static const char *const names[] = {
		EX "tiny.hgqm", EX "tiny-deflate.hgqm", EX "tiny-train.hgqm",
	};
	struct hgq_err err = HGQ_ERR_INIT;
	uint8_t *all = NULL, *p;
	size_t total = 0, n, ends[3];
	struct hgq_model *m;
	FILE *f;

	for (int j = 0; j < 3; j++) {
		p = slurp(names[j], &n);
		all = realloc(all, total + n);
		memcpy(all + total, p, n);
		total += n;
		ends[j] = total;
		free(p);
	}
	f = open_bytes(all, total);
	for (int j = 0; j < 3; j++) {
		ck_assert_int_eq(hgq_model_read(f, &m, &err), HGQ_OK);
		/* the reader stopped exactly at the end of the model */
		ck_assert_int_eq(ftell(f), (long)ends[j]);
		ck_assert_uint_eq(m->n_layers, 5);
		ck_assert_int_eq(m->has_train, j > 0);
		hgq_model_free(m);
	}
	ck_assert_int_eq(hgq_model_read(f, &m, &err), HGQ_EOF);
	fclose(f);
	free(all);
}
END_TEST

START_TEST(test_read_file)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m;

	ck_assert_int_eq(hgq_model_read_file(EX "tiny.hgqm", &m, &err),
	    HGQ_OK);
	check_tiny_fixed(m);
	hgq_model_free(m);
	ck_assert_int_eq(hgq_model_read_file("no/such/file.hgqm", &m, &err),
	    HGQ_EIO);
	ck_assert_ptr_null(m);
	ck_assert_str_eq(err.msg, "No such file or directory");
	/* a model file holds one model: nothing after its last chunk */
	ck_assert_int_eq(hgq_model_read_file(TD "hostile-after-last.hgqm", &m,
	    &err), HGQ_EFORMAT);
	ck_assert_ptr_null(m);
	ck_assert_str_eq(err.msg, "unexpected bytes after the last chunk (a"
	    " model file holds one model)");
}
END_TEST

/*
 * The choices of hgqm.md where the text was open (tests/data/good-*):
 * each of these files reads as its example and is written back as it.
 */
START_TEST(test_spec_choices)
{
	static const struct {
		const char	*file, *as;
	} good[] = {
		/* empty CALB, TRNS and META, and an empty unknown chunk */
		{ TD "good-empty-chunks.hgqm", EX "tiny.hgqm" },
		/* DEFLATE on INPT, GRPH and META too */
		{ TD "good-deflate-all.hgqm", EX "tiny-deflate.hgqm" },
		/* an unknown optional chunk before INPT */
		{ TD "good-unknown-first.hgqm", EX "tiny.hgqm" },
		/* minor 3 with a header of 24 bytes */
		{ TD "good-hlen24-minor3.hgqm", EX "conv2d.hgqm" },
		/* "scale" normalisation with offsets -0 */
		{ TD "good-scale-negzero.hgqm", TD "good-scale-negzero.hgqm" },
	};
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m;

	for (size_t j = 0; j < sizeof(good) / sizeof(good[0]); j++) {
		size_t n, nw, nq;
		uint8_t *p = slurp(good[j].as, &n), *q;

		ck_assert_msg(hgq_model_read_file(good[j].file, &m, &err) ==
		    HGQ_OK, "%s: %s", good[j].file, err.msg);
		if (m->n_extra > 0) {	/* carried through, after the rest */
			ck_assert_uint_eq(m->n_extra, 1);
			free(m->extra[0].data);
			free(m->extra);
			m->extra = NULL;
			m->n_extra = 0;
		}
		ck_assert_int_eq(write_mem(m, 0, &q, &nq, &err), HGQ_OK);
		nw = nq;
		ck_assert_msg(nw == n && memcmp(q, p, n) == 0, "%s is not"
		    " written as %s", good[j].file, good[j].as);
		free(q);
		free(p);
		hgq_model_free(m);
	}
}
END_TEST

/* optimizer moments need their tensor, and Adam's second its first */
START_TEST(test_moments)
{
	static const struct {
		uint32_t	 drop;		/* role removed from layer 3 */
		const char	*msg;
	} cases[] = {
		{ 0x1, "layer 3: tensor role 0x101 (an optimizer moment)"
		    " without tensor role 0x1 (TRNS)" },
		{ 0x104, "layer 3: tensor role 0x204 (an optimizer moment)"
		    " without tensor role 0x104 (TRNS)" },
	};
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m;

	for (size_t j = 0; j < sizeof(cases) / sizeof(cases[0]); j++) {
		struct hgq_layer *l;
		uint32_t t;

		ck_assert_int_eq(hgq_model_read_file(EX "tiny-train.hgqm", &m,
		    &err), HGQ_OK);
		l = &m->layers[3];
		for (t = 0; l->tensors[t].role != cases[j].drop; t++)
			;
		free(l->tensors[t].data);
		l->tensors[t] = l->tensors[--l->n_tensors];
		ck_assert_int_eq(hgq_model_validate(m, &err), HGQ_EINVAL);
		ck_assert_str_eq(err.msg, cases[j].msg);
		hgq_model_free(m);
	}
	/* SGD momentum alone is fine */
	ck_assert_int_eq(hgq_model_read_file(EX "tiny-train.hgqm", &m, &err),
	    HGQ_OK);
	for (uint32_t j = 0; j < m->n_layers; j++) {
		struct hgq_layer *l = &m->layers[j];

		for (uint32_t t = 0; t < l->n_tensors; t++)
			if (l->tensors[t].role & HGQ_ROLE_M2) {
				free(l->tensors[t].data);
				l->tensors[t--] = l->tensors[--l->n_tensors];
			}
	}
	ck_assert_msg(hgq_model_validate(m, &err) == HGQ_OK, "%s", err.msg);
	hgq_model_free(m);
}
END_TEST

START_TEST(test_write_errors)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = gen_model(5), *t;
	FILE *f;
	uint8_t *p;
	size_t n;

	/* an invalid model is refused before anything is written */
	m->layers[0].round = 7;
	ck_assert_int_eq(write_mem(m, 0, &p, &n, &err), HGQ_EINVAL);
	ck_assert_uint_eq(n, 0);
	free(p);
	m->layers[0].round = 0;

	f = fopen("/dev/full", "wb");
	if (f != NULL) {
		ck_assert_int_eq(hgq_model_write(f, m, 0, &err), HGQ_EIO);
		ck_assert_str_eq(err.msg, "write error: No space left on"
		    " device");
		fclose(f);
	}
	hgq_model_free(m);

	/* 3 known chunks and 62 carried ones: 65 > 64 */
	ck_assert_int_eq(hgq_model_read_file(EX "tiny.hgqm", &t, &err),
	    HGQ_OK);
	t->extra = calloc(62, sizeof(*t->extra));
	t->n_extra = 62;
	for (uint32_t x = 0; x < 62; x++) {
		t->extra[x].id[0] = 'X';
		t->extra[x].id[1] = 'X';
		t->extra[x].id[2] = (char)('A' + x / 26);
		t->extra[x].id[3] = (char)('A' + x % 26);
	}
	ck_assert_int_eq(write_mem(t, 0, &p, &n, &err), HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "65 chunks exceed the limit 64");
	free(p);
	t->n_extra = 61;
	ck_assert_int_eq(write_mem(t, 0, &p, &n, &err), HGQ_OK);
	t->n_extra = 62;
	hgq_model_free(t);
	t = check_identity(p, n, 0);
	ck_assert_uint_eq(t->n_extra, 61);
	hgq_model_free(t);
	free(p);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Corrupt files: one case per reader obligation (hgqm.md section 5)   */
/* ------------------------------------------------------------------ */

/* 1: magic */
START_TEST(test_bad_magic)
{
	size_t n;
	uint8_t *p = slurp(EX "tiny.hgqm", &n);

	expect((const uint8_t *)"x", 1, HGQ_EFORMAT,
	    "not an hgq model (bad magic)");
	expect((const uint8_t *)"HG", 2, HGQ_EFORMAT,
	    "truncated in header (at byte 2 of 16)");
	expect((const uint8_t *)"\x89PNG\r\n\x1a\n", 8, HGQ_EFORMAT,
	    "not an hgq model (bad magic)");
	p[3] = 'X';
	expect(p, n, HGQ_EFORMAT, "not an hgq model (bad magic)");
	free(p);
}
END_TEST

/* 2: version */
START_TEST(test_version)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m;
	struct craft cf;
	size_t n, nq;
	uint8_t *p = slurp(EX "tiny.hgqm", &n), *q;

	p[4] = 2;
	expect(p, n, HGQ_EVERSION,
	    "unsupported major version 2 (this reader knows 1)");
	p[4] = 0;
	expect(p, n, HGQ_EVERSION,
	    "unsupported major version 0 (this reader knows 1)");
	p[4] = 1;
	p[5] = 1;
	expect(p, n, HGQ_EVERSION,
	    "unsupported major version 257 (this reader knows 1)");
	p[5] = 0;

	/*
	 * A later minor version is read: a longer header, fields appended
	 * to a chunk and to a layer's parameters are skipped.  (Minor >= 1
	 * records carry the shape fields of 1.1: the conv2d golden file.)
	 */
	{
		size_t nc;
		uint8_t *pc = slurp(EX "conv2d.hgqm", &nc);
		int g, in;
		uint8_t *d;

		craft_parse(pc, nc, &cf);
		cf.minor = 3;
		cf.hlen = 24;
		memset(cf.hextra, 0xa5, 8);
		g = craft_find(&cf, "GRPH");
		in = craft_find(&cf, "INPT");
		d = cf.c[g].data;
		/* layer 0's parameters grow from 56 to 64 bytes */
		ck_assert_uint_eq(le32(d + 8 + 12), 56);
		memmove(d + 8 + 16 + 64, d + 8 + 16 + 56,
		    cf.c[g].len - (8 + 16 + 56));
		memset(d + 8 + 16 + 56, 0x77, 8);
		set32(d + 8 + 12, 64);
		cf.c[g].len += 8;
		memset(cf.c[in].data + cf.c[in].len, 0x5a, 12);
		cf.c[in].len += 12;
		q = craft_build(&cf, &nq);
		ck_assert_int_eq(read_bytes(q, nq, &m, &err), HGQ_OK);
		free(q);
		/* and is written back as 1.1 */
		ck_assert_int_eq(write_mem(m, 0, &q, &nq, &err), HGQ_OK);
		ck_assert_uint_eq(nq, nc);
		ck_assert_mem_eq(q, pc, nc);
		free(q);
		hgq_model_free(m);

		/* the same additions in a 1.1 file are errors, the header too */
		cf.minor = 1;
		expect_craft(&cf, HGQ_EFORMAT, "header length 24 in a version"
		    " 1.1 file (expected 16)");
		cf.hlen = 16;
		expect_craft(&cf, HGQ_EFORMAT, "chunk INPT: 12 unexpected"
		    " bytes after the last field");
		cf.c[in].len -= 12;
		expect_craft(&cf, HGQ_EFORMAT, "chunk GRPH: layer 0: parameter"
		    " length 64 (expected 56)");
		craft_free(&cf);
		free(pc);
	}

	/* in a 1.0 file, 1.0 records only and a 16-byte header */
	craft_parse(p, n, &cf);
	cf.hlen = 24;
	memset(cf.hextra, 0xa5, 8);
	expect_craft(&cf, HGQ_EFORMAT, "header length 24 in a version 1.0"
	    " file (expected 16)");
	cf.hlen = 16;
	{
		int g = craft_find(&cf, "GRPH");
		uint8_t *d = cf.c[g].data;

		/* layer 0's parameters grow from 8 to 16 bytes */
		memmove(d + 8 + 24 + 8, d + 8 + 24, cf.c[g].len - 32);
		memset(d + 8 + 24, 0, 8);
		set32(d + 8 + 12, 16);
		cf.c[g].len += 8;
	}
	expect_craft(&cf, HGQ_EFORMAT, "chunk GRPH: layer 0: parameter length"
	    " 16 (expected 8)");
	/* and a 1.1 reader needs the 1.1 fields in a 1.1 file */
	cf.minor = 1;
	expect_craft(&cf, HGQ_EFORMAT, "chunk GRPH: layer 0: parameter length"
	    " 16 (expected 48)");
	craft_free(&cf);

	/* header length: a multiple of 8 within 16..4096 */
	for (int bad = 0; bad < 3; bad++) {
		static const uint32_t hl[] = { 8, 20, 4104 };

		memcpy(q = malloc(n), p, n);
		set32(q + 8, hl[bad]);
		expect(q, n, HGQ_EFORMAT, bad == 0 ? "header length 8 is not a"
		    " multiple of 8 in 16..4096" : bad == 1 ? "header length"
		    " 20 is not a multiple of 8 in 16..4096" : "header length"
		    " 4104 is not a multiple of 8 in 16..4096");
		free(q);
	}
	free(p);
}
END_TEST

/* 3: header checksum */
START_TEST(test_header_crc)
{
	size_t n;
	uint8_t *p = slurp(EX "tiny.hgqm", &n);
	uint32_t good = le32(p + 16 + 3 * 32);
	char msg[128];

	ck_assert_uint_eq(good, crc(p, 16 + 3 * 32));
	p[16 + 3 * 32] ^= 0x01;		/* the stored CRC itself */
	snprintf(msg, sizeof(msg), "header checksum mismatch (stored 0x%08"
	    PRIx32 ", computed 0x%08" PRIx32 ")", good ^ 1, good);
	expect(p, n, HGQ_ECHECKSUM, msg);
	p[16 + 3 * 32] ^= 0x01;
	/* any byte of the header or the chunk table */
	for (size_t b = 6; b < 16 + 3 * 32; b++) {
		struct hgq_err err = HGQ_ERR_INIT;
		struct hgq_model *m;
		int rc;

		if (b >= 8 && b < 16)	/* lengths: checked before the CRC */
			continue;
		p[b] ^= 0x10;
		rc = read_bytes(p, n, &m, &err);
		ck_assert_msg(rc == HGQ_ECHECKSUM, "byte %zu: %d %s", b, rc,
		    err.msg);
		ck_assert(strncmp(err.msg, "header checksum mismatch", 24) ==
		    0);
		p[b] ^= 0x10;
	}
	free(p);
}
END_TEST

/* 4: truncation anywhere */
START_TEST(test_truncation)
{
	static const char *const names[] = {
		EX "tiny.hgqm", EX "tiny-deflate.hgqm", EX "tiny-train.hgqm",
	};

	for (int j = 0; j < 3; j++) {
		size_t n;
		uint8_t *p = slurp(names[j], &n);

		for (size_t cut = 1; cut < n; cut++) {
			struct hgq_err err = HGQ_ERR_INIT;
			struct hgq_model *m;
			int rc = read_bytes(p, cut, &m, &err);

			ck_assert_msg(rc == HGQ_EFORMAT, "%s cut at %zu: %d",
			    names[j], cut, rc);
			ck_assert_ptr_null(m);
			ck_assert_msg(strstr(err.msg, "truncated in ") ==
			    err.msg, "cut at %zu: %s", cut, err.msg);
		}
		free(p);
	}
}
END_TEST

/* the exact messages at a few places of tiny.hgqm */
START_TEST(test_truncation_messages)
{
	size_t n;
	uint8_t *p = slurp(EX "tiny.hgqm", &n);

	expect(p, 10, HGQ_EFORMAT, "truncated in header (at byte 10 of 16)");
	expect(p, 16 + 40, HGQ_EFORMAT,
	    "truncated in chunk table (at byte 40 of 96)");
	expect(p, 113, HGQ_EFORMAT,
	    "truncated in header checksum (at byte 1 of 4)");
	expect(p, 118, HGQ_EFORMAT, "truncated in padding (at byte 2 of 4)");
	expect(p, 120 + 7, HGQ_EFORMAT,
	    "truncated in chunk INPT (at byte 7 of 24)");
	expect(p, 144 + 100, HGQ_EFORMAT,
	    "truncated in chunk GRPH (at byte 100 of 128)");
	expect(p, n - 1, HGQ_EFORMAT,
	    "truncated in chunk FIXP (at byte 151 of 152)");
	free(p);
}
END_TEST

/* 5: chunk checksums */
START_TEST(test_chunk_crc)
{
	static const char *const names[] = {
		EX "tiny-train.hgqm", EX "tiny-deflate.hgqm",
	};

	for (int j = 0; j < 2; j++) {
		size_t n;
		uint8_t *p = slurp(names[j], &n);
		uint32_t nc = le32(p + 12);

		ck_assert_uint_eq(nc, 6);
		for (uint32_t c = 0; c < nc; c++) {
			const uint8_t *e = p + 16 + 32 * c;
			size_t off = (size_t)le64(e + 8);
			size_t len = (size_t)le64(e + 16);
			char msg[128];

			ck_assert_uint_eq(le32(e + 24), crc(p + off, len));
			p[off + len / 2] ^= 0x80;
			snprintf(msg, sizeof(msg), "chunk %.4s: checksum"
			    " mismatch (stored 0x%08" PRIx32 ", computed 0x%08"
			    PRIx32 ")", (const char *)e, le32(e + 24),
			    crc(p + off, len));
			expect(p, n, HGQ_ECHECKSUM, msg);
			p[off + len / 2] ^= 0x80;
		}
		free(p);
	}
}
END_TEST

/* 6: the chunk table */
START_TEST(test_toc)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m;
	struct craft cf, cf2;
	size_t n, nq, nr;
	uint8_t *p = slurp(EX "tiny-train.hgqm", &n), *q, *r;

	craft_parse(p, n, &cf);
	q = craft_build(&cf, &nq);	/* the crafting is faithful */
	ck_assert_uint_eq(nq, n);
	ck_assert_mem_eq(q, p, n);
	free(q);

	/* offsets: misaligned, overlapping, beyond */
	memcpy(q = malloc(n), p, n);
	set64(q + 16 + 32 + 8, le64(q + 16 + 32 + 8) + 1);
	fix_header_crc(q);
	expect(q, n, HGQ_EFORMAT, "chunk GRPH: offset 241 where 240 is"
	    " expected (chunks are contiguous, 8-byte aligned)");
	set64(q + 16 + 32 + 8, le64(q + 16 + 8));
	fix_header_crc(q);
	expect(q, n, HGQ_EFORMAT, "chunk GRPH: offset 216 where 240 is"
	    " expected (chunks are contiguous, 8-byte aligned)");
	set64(q + 16 + 32 + 8, 256);
	fix_header_crc(q);
	expect(q, n, HGQ_EFORMAT, "chunk GRPH: offset 256 where 240 is"
	    " expected (chunks are contiguous, 8-byte aligned)");
	memcpy(q, p, n);
	/* length beyond the limit */
	set64(q + 16 + 32 + 16, (uint64_t)1 << 40);
	fix_header_crc(q);
	expect(q, n, HGQ_EFORMAT, "chunk GRPH: length 1099511627776 exceeds"
	    " the limit 2^31");
	memcpy(q, p, n);
	/* flags and reserved */
	q[16 + 32 + 4] |= 4;
	fix_header_crc(q);
	expect(q, n, HGQ_EFORMAT, "chunk GRPH: unknown flags 0x5");
	memcpy(q, p, n);
	q[16 + 32 + 28] = 1;
	fix_header_crc(q);
	expect(q, n, HGQ_EFORMAT, "chunk GRPH: reserved field of its table"
	    " entry is not zero");
	memcpy(q, p, n);
	q[16 + 32 * 5 + 2] = 0x7f;
	fix_header_crc(q);
	expect(q, n, HGQ_EFORMAT, "chunk table entry 5: id is not printable"
	    " ASCII");
	memcpy(q, p, n);
	/* the chunk count, checked before the table is read */
	set32(q + 12, 0x80000000u);
	expect(q, n, HGQ_EFORMAT, "2147483648 chunks exceed the limit 64");
	memcpy(q, p, n);
	/* padding is zero: after the header CRC and between chunks */
	q[16 + 6 * 32 + 4] = 1;
	expect(q, n, HGQ_EFORMAT, "non-zero padding before chunk INPT");
	free(q);
	/* in tiny-deflate.hgqm CALB ends at 498, TRNS starts at 504 */
	q = slurp(EX "tiny-deflate.hgqm", &nq);
	ck_assert_uint_eq(le64(q + 16 + 8 + 32 * 3) +
	    le64(q + 16 + 16 + 32 * 3), 498);
	ck_assert_uint_eq(le64(q + 16 + 8 + 32 * 4), 504);
	q[501] = 1;
	expect(q, nq, HGQ_EFORMAT, "non-zero padding before chunk TRNS");
	free(q);

	/* required flag of a known chunk */
	cf.c[craft_find(&cf, "CALB")].flags = 1;
	expect_craft(&cf, HGQ_EFORMAT, "chunk CALB: required flag is wrong");
	cf.c[craft_find(&cf, "CALB")].flags = 0;
	cf.c[craft_find(&cf, "GRPH")].flags = 0;
	expect_craft(&cf, HGQ_EFORMAT, "chunk GRPH: required flag is wrong");
	cf.c[craft_find(&cf, "GRPH")].flags = 1;

	/* unknown required chunk */
	craft_insert(&cf, 2, "ZZZZ", 1, "hello", 5);
	expect_craft(&cf, HGQ_EUNSUPP, "unknown required chunk ZZZZ");
	craft_remove(&cf, 2);

	/* unknown optional chunks: skipped, kept, written back at the end */
	craft_insert(&cf, (int)cf.n, "ZZZZ", 0, "hello", 5);
	craft_insert(&cf, (int)cf.n, "zip!", 2, "\x01\x02\x03", 3);
	q = craft_build(&cf, &nq);
	m = check_identity(q, nq, 0);
	ck_assert_uint_eq(m->n_extra, 2);
	ck_assert_mem_eq(m->extra[0].id, "ZZZZ", 4);
	ck_assert_uint_eq(m->extra[0].flags, 0);
	ck_assert_uint_eq(m->extra[0].len, 5);
	ck_assert_mem_eq(m->extra[0].data, "hello", 5);
	ck_assert_mem_eq(m->extra[1].id, "zip!", 4);
	ck_assert_uint_eq(m->extra[1].flags, 2);
	check_tiny_train(m);
	hgq_model_free(m);
	/* anywhere in the file */
	craft_parse(q, nq, &cf2);
	craft_remove(&cf2, 6);
	craft_insert(&cf2, 1, "ZZZZ", 0, "hello", 5);
	r = craft_build(&cf2, &nr);
	ck_assert_int_eq(read_bytes(r, nr, &m, &err), HGQ_OK);
	free(r);
	ck_assert_int_eq(write_mem(m, 0, &r, &nr, &err), HGQ_OK);
	ck_assert_uint_eq(nr, nq);
	ck_assert_mem_eq(r, q, nq);
	free(r);
	free(q);
	hgq_model_free(m);
	craft_free(&cf2);

	/* duplicates, known or not */
	craft_insert(&cf, 0, "zip!", 0, "", 0);
	expect_craft(&cf, HGQ_EFORMAT, "chunk zip! appears twice");
	craft_remove(&cf, 0);
	craft_insert(&cf, (int)cf.n, "META", 0, "", 0);
	expect_craft(&cf, HGQ_EFORMAT, "chunk META appears twice");
	craft_remove(&cf, (int)cf.n - 1);
	craft_remove(&cf, (int)cf.n - 1);
	craft_remove(&cf, (int)cf.n - 1);

	/* known chunks out of order */
	{
		int a = craft_find(&cf, "TRNS"), b = craft_find(&cf, "CALB");
		uint8_t tmp[sizeof(cf.c[0])];

		memcpy(tmp, &cf.c[a], sizeof(tmp));
		memcpy(&cf.c[a], &cf.c[b], sizeof(tmp));
		memcpy(&cf.c[b], tmp, sizeof(tmp));
		expect_craft(&cf, HGQ_EFORMAT, "chunk CALB: out of order");
		memcpy(tmp, &cf.c[a], sizeof(tmp));
		memcpy(&cf.c[a], &cf.c[b], sizeof(tmp));
		memcpy(&cf.c[b], tmp, sizeof(tmp));
	}

	/* missing chunks: INPT and GRPH are required, FIXP is not */
	craft_remove(&cf, craft_find(&cf, "GRPH"));
	expect_craft(&cf, HGQ_EFORMAT, "required chunk GRPH is missing");
	craft_free(&cf);
	craft_parse(p, n, &cf);
	craft_remove(&cf, craft_find(&cf, "INPT"));
	expect_craft(&cf, HGQ_EFORMAT, "required chunk INPT is missing");
	craft_free(&cf);
	craft_parse(p, n, &cf);
	craft_remove(&cf, craft_find(&cf, "FIXP"));
	q = craft_build(&cf, &nq);
	m = check_identity(q, nq, 0);
	ck_assert_int_eq(m->calibrated, 0);
	ck_assert_ptr_null(m->layers[0].k);
	ck_assert_uint_eq(m->layers[1].n_tensors, 20);
	hgq_model_free(m);
	free(q);
	craft_free(&cf);
	free(p);
}
END_TEST

/* a payload mutation of tiny-train.hgqm and what the reader says */
struct payload_case {
	const char	*id;
	size_t		 at;		/* byte in the payload */
	int		 width;		/* 1, 4 or 8 */
	uint64_t	 value;
	int		 code;
	const char	*msg;
};

static const struct payload_case payload_cases[] = {
	/* INPT: task, n_raw, norm, n, map[2] */
	{ "INPT", 4, 4, 0x80000000u, HGQ_EFORMAT, "chunk INPT: 2147483648 raw"
	    " columns, 2 mapped inputs: beyond the limit 16777216" },
	{ "INPT", 12, 4, 0x80000000u, HGQ_EFORMAT, "chunk INPT: 2 raw"
	    " columns, 2147483648 mapped inputs: beyond the limit 16777216" },
	{ "INPT", 12, 4, 1000, HGQ_EFORMAT, "chunk INPT: the index map needs"
	    " 4000 bytes at byte 16, only 8 left" },
	{ "INPT", 8, 4, 3, HGQ_EFORMAT, "chunk INPT: unknown normalisation"
	    " kind 3" },
	{ "INPT", 8, 4, 1, HGQ_EFORMAT, "chunk INPT: the normalisation needs"
	    " 32 bytes at byte 24, only 0 left" },
	{ "INPT", 0, 4, 2, HGQ_EFORMAT, "invalid model: task 2 out of range" },
	{ "INPT", 20, 4, 0, HGQ_EFORMAT, "invalid model: index map entry 1 ="
	    " 0 is not above the one before" },
	{ "INPT", 4, 4, 1, HGQ_EFORMAT, "invalid model: 1 raw columns cannot"
	    " feed 2 inputs" },
	/* GRPH: count, reserved, records of 24 bytes from byte 8 */
	{ "GRPH", 0, 4, 0x80000000u, HGQ_EFORMAT, "chunk GRPH: 2147483648"
	    " layers exceed the limit 256" },
	{ "GRPH", 0, 4, 255, HGQ_EFORMAT, "chunk GRPH: the layer records"
	    " needs 6120 bytes at byte 8, only 120 left" },
	{ "GRPH", 0, 4, 4, HGQ_EFORMAT, "chunk GRPH: 24 unexpected bytes"
	    " after the last field" },
	{ "GRPH", 4, 4, 1, HGQ_EFORMAT, "chunk GRPH: reserved field at byte 4"
	    " is not zero" },
	{ "GRPH", 32, 4, 4, HGQ_EUNSUPP, "chunk GRPH: layer 1 has unsupported"
	    " kind 4 in a version 1.0 file (conv2d is format 1.1)" },
	{ "GRPH", 32, 4, 12, HGQ_EUNSUPP, "chunk GRPH: layer 1 has"
	    " unsupported kind 12" },
	{ "GRPH", 32, 4, 0, HGQ_EFORMAT, "chunk GRPH: layer 1 has invalid"
	    " kind 0" },
	{ "GRPH", 36, 4, 0x80000000u, HGQ_EFORMAT, "chunk GRPH: layer 1:"
	    " shape 2147483648x2 exceeds the limits" },
	{ "GRPH", 36, 4, 0x1000001, HGQ_EFORMAT, "chunk GRPH: layer 1: shape"
	    " 16777217x2 exceeds the limits" },
	{ "GRPH", 44, 4, 12, HGQ_EFORMAT, "chunk GRPH: layer 1: parameter"
	    " length 12 (expected 8)" },
	{ "GRPH", 44, 4, 0x7ffffff8u, HGQ_EFORMAT, "chunk GRPH: layer 1:"
	    " parameter length 2147483640 (expected 8)" },
	{ "GRPH", 52, 1, 1, HGQ_EFORMAT, "chunk GRPH: layer 1: reserved"
	    " parameter byte 4 is not zero" },
	{ "GRPH", 49, 1, 2, HGQ_EFORMAT, "chunk GRPH: layer 1: dense mode"
	    " out of range (activation 1, batchnorm 2, weight granularity 0,"
	    " bias granularity 1)" },
	{ "GRPH", 25, 1, 9, HGQ_EFORMAT, "chunk GRPH: layer 0: quantizer"
	    " mode out of range (round 0, overflow 9, granularity 2,"
	    " trainable 0)" },
	/* layer 0 as a dense 2x2: the structure fails before FIXP */
	{ "GRPH", 8, 4, 2, HGQ_EFORMAT, "chunk GRPH: layer 0: dense mode out"
	    " of range (activation 0, batchnorm 2, weight granularity 2,"
	    " bias granularity 0)" },
	/* FIXP: count, reserved, then k0 i0 f0 (8 each), w_m (16), ... */
	{ "FIXP", 0, 4, 4, HGQ_EFORMAT, "chunk FIXP: layer count differs from"
	    " GRPH (5)" },
	{ "FIXP", 8, 1, 2, HGQ_EFORMAT, "invalid model: layer 0 element 0:"
	    " k = 2 is not 0 or 1" },
	{ "FIXP", 16, 1, 40, HGQ_EFORMAT, "invalid model: layer 0 element 0:"
	    " width 40 exceeds 32" },
	{ "FIXP", 10, 1, 1, HGQ_EFORMAT, "chunk FIXP: non-zero padding at"
	    " byte 10" },
	{ "FIXP", 48, 1, 0x80, HGQ_EFORMAT, "invalid model: layer 1 weight 0:"
	    " f = -128 beyond +-62" },
	/* CALB: count, reserved, entries (layer, n, min[n], max[n]) */
	{ "CALB", 0, 4, 6, HGQ_EFORMAT, "chunk CALB: 6 entries for 5 layers" },
	{ "CALB", 0, 4, 4, HGQ_EFORMAT, "chunk CALB: an entry header needs 8"
	    " bytes at byte 112, only 0 left" },
	{ "CALB", 8, 4, 1, HGQ_EFORMAT, "chunk CALB: entry 0 (layer 1, 2"
	    " values) does not match a quantizer in order" },
	{ "CALB", 48, 4, 0, HGQ_EFORMAT, "chunk CALB: entry 1 (layer 0, 2"
	    " values) does not match a quantizer in order" },
	{ "CALB", 12, 4, 3, HGQ_EFORMAT, "chunk CALB: entry 0 (layer 0, 3"
	    " values) does not match a quantizer in order" },
	/* CALB ranges: finite, min <= max (min[2] at 16, max[2] at 32) */
	{ "CALB", 16, 8, 0x7ff8000000000000u, HGQ_EFORMAT, "invalid model:"
	    " layer 0 element 0: calibration range [nan, 3.5] is not finite"
	    " and ordered (CALB)" },
	{ "CALB", 40, 8, 0xfff0000000000000u, HGQ_EFORMAT, "invalid model:"
	    " layer 0 element 1: calibration range [-2.375, -inf] is not"
	    " finite and ordered (CALB)" },
	{ "CALB", 24, 8, 0x4014000000000000u, HGQ_EFORMAT, "invalid model:"
	    " layer 0 element 1: calibration range [5, 4.25] is not finite"
	    " and ordered (CALB)" },
	/* TRNS: has, epoch, step, rng[4], lr, n, reserved, then tensors */
	{ "TRNS", 0, 4, 0, HGQ_EFORMAT, "invalid model: training progress"
	    " (epoch 14, step 2954, rng, lr_scale 1) without has_state"
	    " (TRNS)" },
	{ "TRNS", 48, 8, 0x7ff8000000000000u, HGQ_EFORMAT, "invalid model:"
	    " training lr_scale nan is not finite and positive (TRNS)" },
	{ "TRNS", 48, 8, 0, HGQ_EFORMAT, "invalid model: training lr_scale 0"
	    " is not finite and positive (TRNS)" },
	{ "TRNS", 48, 8, 0xbff0000000000000u, HGQ_EFORMAT, "invalid model:"
	    " training lr_scale -1 is not finite and positive (TRNS)" },
	{ "TRNS", 0, 4, 2, HGQ_EFORMAT, "chunk TRNS: state flag 2 is not 0"
	    " or 1" },
	{ "TRNS", 56, 4, 0x80000000u, HGQ_EFORMAT, "chunk TRNS: 2147483648"
	    " tensors exceed the limit of 64 per layer" },
	{ "TRNS", 56, 4, 320, HGQ_EFORMAT, "chunk TRNS: the tensor records"
	    " needs 5120 bytes at byte 64, only 1176 left" },
	{ "TRNS", 60, 4, 1, HGQ_EFORMAT, "chunk TRNS: reserved field at byte"
	    " 60 is not zero" },
	{ "TRNS", 72, 4, 0x80000000u, HGQ_EFORMAT, "chunk TRNS: tensor 0:"
	    " 2147483648 floats exceed the limit 67108864" },
	{ "TRNS", 72, 4, 400, HGQ_EFORMAT, "chunk TRNS: tensor data needs 1600"
	    " bytes at byte 80, only 1160 left" },
	{ "TRNS", 64, 4, 7, HGQ_EFORMAT, "chunk TRNS: tensor 0: layer 7 out of"
	    " range or out of order" },
	{ "TRNS", 76, 4, 9, HGQ_EFORMAT, "chunk TRNS: reserved field at byte"
	    " 76 is not zero" },
	{ "TRNS", 68, 4, 0x1, HGQ_EFORMAT, "invalid model: layer 0: tensor"
	    " role 0x1 does not belong to a quantizer layer" },
	{ "TRNS", 84, 1, 1, HGQ_EFORMAT, "chunk TRNS: non-zero padding at"
	    " byte 84" },
	/* META: count, reserved, entries (klen, vlen, key, value, pad) */
	{ "META", 0, 4, 0x80000000u, HGQ_EFORMAT, "chunk META: 2147483648"
	    " entries exceed the limit 1024" },
	{ "META", 0, 4, 1000, HGQ_EFORMAT, "chunk META: the entries needs 8000"
	    " bytes at byte 8, only 200 left" },
	{ "META", 8, 4, 0x80000000u, HGQ_EFORMAT, "chunk META: entry 0: key"
	    " of 2147483648 bytes, value of 9 bytes: outside the limits" },
	{ "META", 8, 4, 0, HGQ_EFORMAT, "chunk META: entry 0: key of 0 bytes,"
	    " value of 9 bytes: outside the limits" },
	{ "META", 12, 4, 1000, HGQ_EFORMAT, "chunk META: a value needs 1000"
	    " bytes at byte 20, only 188 left" },
	{ "META", 22, 1, 0, HGQ_EFORMAT, "chunk META: a value at byte 20"
	    " contains a NUL byte" },
	{ "META", 16, 1, 0xff, HGQ_EFORMAT, "invalid model: metadata entry 0:"
	    " key is not valid UTF-8" },
	/* "tool" renamed "note": the last entry's key */
	{ "META", 16, 4, 0x65746f6e, HGQ_EFORMAT, "invalid model: metadata key"
	    " 'note' appears twice" },
};

START_TEST(test_payload)
{
	size_t n;
	uint8_t *p = slurp(EX "tiny-train.hgqm", &n);

	for (size_t j = 0; j < sizeof(payload_cases) /
	    sizeof(payload_cases[0]); j++) {
		const struct payload_case *pc = &payload_cases[j];
		struct craft cf;
		uint8_t *d;

		craft_parse(p, n, &cf);
		d = craft_data(&cf, pc->id);
		if (pc->width == 1)
			d[pc->at] = (uint8_t)pc->value;
		else if (pc->width == 4)
			set32(d + pc->at, (uint32_t)pc->value);
		else
			set64(d + pc->at, pc->value);
		expect_craft(&cf, pc->code, pc->msg);
		craft_free(&cf);
	}
	free(p);
}
END_TEST

/* deflated chunks: length field, stream damage (with a right CRC) */
START_TEST(test_deflate_damage)
{
	size_t n;
	uint8_t *p = slurp(EX "tiny-deflate.hgqm", &n), *d;
	struct craft cf;
	int j;

	craft_parse(p, n, &cf);
	j = craft_find(&cf, "FIXP");
	d = cf.c[j].data;
	ck_assert_uint_eq(le64(d), 152);
	set64(d, (uint64_t)1 << 40);
	expect_craft(&cf, HGQ_EFORMAT, "chunk FIXP: uncompressed length"
	    " 1099511627776 exceeds the limit");
	/* more than deflate can give from so few bytes */
	set64(d, 1032 * (cf.c[j].len - 8) + 1);
	expect_craft(&cf, HGQ_EFORMAT, "chunk FIXP: uncompressed length 66049"
	    " exceeds the limit");
	set64(d, 151);
	expect_craft(&cf, HGQ_EFORMAT, "chunk FIXP: bad deflate stream (zlib"
	    " 1, 152 of 151 bytes, 0 stored bytes left)");
	set64(d, 153);
	expect_craft(&cf, HGQ_EFORMAT, "chunk FIXP: bad deflate stream (zlib"
	    " 1, 152 of 153 bytes, 0 stored bytes left)");
	set64(d, 152);
	d[cf.c[j].len] = 0;		/* one stored byte too many */
	cf.c[j].len++;
	expect_craft(&cf, HGQ_EFORMAT, "chunk FIXP: bad deflate stream (zlib"
	    " 1, 152 of 152 bytes, 1 stored bytes left)");
	cf.c[j].len -= 2;		/* the Adler-32 cut short */
	expect_craft(&cf, HGQ_EFORMAT, "chunk FIXP: bad deflate stream (zlib"
	    " -5, 152 of 152 bytes, 0 stored bytes left)");
	cf.c[j].len = 5;
	expect_craft(&cf, HGQ_EFORMAT, "chunk FIXP: deflated chunk shorter"
	    " than its length field");
	craft_free(&cf);
	craft_parse(p, n, &cf);
	d = craft_data(&cf, "TRNS");
	d[8] ^= 0xff;			/* the zlib header */
	expect_craft(&cf, HGQ_EFORMAT, "chunk TRNS: bad deflate stream (zlib"
	    " -3, 0 of 1240 bytes, 490 stored bytes left)");
	craft_free(&cf);
	free(p);
}
END_TEST

Suite *
format_suite(void)
{
	Suite *s = suite_create("format");
	TCase *tc = tcase_create("golden");
	TCase *tr = tcase_create("reader");

	tcase_add_test(tc, test_golden_tiny);
	tcase_add_test(tc, test_golden_train);
	tcase_add_test(tc, test_golden_deflate);
	tcase_add_test(tc, test_golden_conv);
	tcase_add_test(tc, test_conv_train_roundtrip);
	tcase_add_test(tc, test_golden_graph);
	tcase_add_test(tc, test_minor2_mask);
	tcase_add_test(tc, test_graph_reader);
	tcase_add_test(tc, test_flat_11);
	tcase_add_test(tc, test_no_train);
	tcase_add_test(tc, test_roundtrip_random);
	tcase_add_test(tc, test_write_errors);
	suite_add_tcase(s, tc);
	tcase_add_test(tr, test_empty);
	tcase_add_test(tr, test_concat);
	tcase_add_test(tr, test_read_file);
	tcase_add_test(tr, test_spec_choices);
	tcase_add_test(tr, test_moments);
	tcase_add_test(tr, test_bad_magic);
	tcase_add_test(tr, test_version);
	tcase_add_test(tr, test_header_crc);
	tcase_add_test(tr, test_truncation);
	tcase_add_test(tr, test_truncation_messages);
	tcase_add_test(tr, test_chunk_crc);
	tcase_add_test(tr, test_toc);
	tcase_add_test(tr, test_payload);
	tcase_add_test(tr, test_deflate_damage);
	suite_add_tcase(s, tr);
	return s;
}
