/*
 * format.c - the HGQM binary model format: the only file that knows its
 * byte layout.  formats/hgqm.md is normative; section numbers below refer
 * to it.
 *
 * Writing: every chunk payload is built in memory (struct wbuf), its
 * CRC-32 updated by the one append function as bytes are added; with
 * HGQ_WRITE_COMPRESS the tensor chunks are deflated and the CRC covers the
 * stored (compressed) bytes.  Then header, chunk table and header CRC go
 * to the stream through a wrapper that checksums what it writes, followed
 * by the chunks with their zero padding.
 *
 * Reading: strictly sequential with fread of exact sizes, so the reader
 * stops at the last byte of the model (several models may follow each
 * other in one stream).  Every count is checked against the limits of
 * hgq.h and against the bytes left in its chunk before anything is
 * allocated; a chunk's stored bytes are read into a buffer that grows
 * with what actually arrives, so a lying length cannot make us allocate
 * more than twice the bytes really present.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"

#define HGQM_MAJOR		1
#define HGQM_MINOR		2	/* the minor this code implements */
#define PAR_10			8	/* parameters of a 1.0 record */
#define PAR_11			48	/* 1.1: before the references */
#define PORT_REC		40	/* a PORT record (1.2) */
#define HDR_FIXED		16	/* magic, major, minor, hlen, nchunks */
#define HDR_MAX			4096	/* largest header length accepted */
#define TOC_ENTRY		32
#define MAX_CHUNK_LEN		((uint64_t)1 << 31)	/* stored, inflated */
#define DEFLATE_RATIO		1032	/* deflate never expands more */

#define CHUNK_REQUIRED		0x1
#define CHUNK_DEFLATE		0x2

/* the known chunks, in canonical order (section 4) */
enum { C_INPT, C_PORT, C_GRPH, C_FIXP, C_CALB, C_TRNS, C_META, N_KNOWN };

static const struct {
	char	 id[5];
	bool	 required;
	bool	 deflatable;	/* deflated by HGQ_WRITE_COMPRESS */
} known[N_KNOWN] = {
	{ "INPT", true, false },
	{ "PORT", true, false },
	{ "GRPH", true, false },
	{ "FIXP", true, true },
	{ "CALB", false, true },
	{ "TRNS", false, true },
	{ "META", false, false },
};

/* ------------------------------------------------------------------ */
/* Little-endian helpers: all byte layout goes through these           */
/* ------------------------------------------------------------------ */

static uint16_t
get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void
put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void
put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t
f64_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static double
bits_f64(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

static uint32_t
f32_bits(float x)
{
	uint32_t u;

	memcpy(&u, &x, sizeof(u));
	return u;
}

static float
bits_f32(uint32_t u)
{
	float x;

	memcpy(&x, &u, sizeof(x));
	return x;
}

static uint64_t
align8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

/* zlib's crc32 takes uInt lengths: feed big buffers in pieces */
static uint32_t
crc_update(uint32_t crc, const uint8_t *p, size_t n)
{
	while (n > 0) {
		uInt piece = n > 0x40000000 ? 0x40000000 : (uInt)n;

		crc = (uint32_t)crc32(crc, p, piece);
		p += piece;
		n -= piece;
	}
	return crc;
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

/* a chunk payload under construction; crc covers every appended byte */
struct wbuf {
	uint8_t		*p;
	size_t		 len, cap;
	uint32_t	 crc;
	bool		 fail;		/* allocation failed */
	bool		 big;		/* beyond MAX_CHUNK_LEN (+ 8) */
};

static void
wb_append(struct wbuf *b, const void *src, size_t n)
{
	if (b->fail || b->big || n == 0)
		return;
	if (n > MAX_CHUNK_LEN + 8 - b->len) {
		/* the caller reports the size; stop growing here */
		b->big = true;
		return;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap < 256 ? 256 : b->cap;
		uint8_t *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->fail = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, src, n);
	b->crc = crc_update(b->crc, b->p + b->len, n);
	b->len += n;
}

static void
wb_u32(struct wbuf *b, uint32_t v)
{
	uint8_t t[4];

	put_le32(t, v);
	wb_append(b, t, 4);
}

static void
wb_u64(struct wbuf *b, uint64_t v)
{
	uint8_t t[8];

	put_le64(t, v);
	wb_append(b, t, 8);
}

/* zero bytes up to the next multiple of 8 of the payload (section 2) */
static void
wb_pad8(struct wbuf *b)
{
	static const uint8_t zero[8];

	wb_append(b, zero, (size_t)(align8(b->len) - b->len));
}

enum { A_I8, A_I32, A_U32, A_F32, A_F64 };

/*
 * wb_array - n elements of src as the given type, little-endian, then
 * zero padding to 8.  Elements are staged through a small buffer so that
 * the CRC runs over the bytes as they are appended.
 */
static void
wb_array(struct wbuf *b, const void *src, size_t n, int type)
{
	uint8_t stage[1024];
	size_t used = 0;

	for (size_t e = 0; e < n; e++) {
		if (used + 8 > sizeof(stage)) {
			wb_append(b, stage, used);
			used = 0;
		}
		switch (type) {
		case A_I8:
			stage[used++] = (uint8_t)((const int8_t *)src)[e];
			break;
		case A_I32:
			put_le32(stage + used,
			    (uint32_t)((const int32_t *)src)[e]);
			used += 4;
			break;
		case A_U32:
			put_le32(stage + used, ((const uint32_t *)src)[e]);
			used += 4;
			break;
		case A_F32:
			put_le32(stage + used,
			    f32_bits(((const float *)src)[e]));
			used += 4;
			break;
		default:
			put_le64(stage + used,
			    f64_bits(((const double *)src)[e]));
			used += 8;
			break;
		}
	}
	wb_append(b, stage, used);
	wb_pad8(b);
}

/* INPT (section 4.2) */
static void
build_inpt(struct wbuf *b, const struct hgq_model *m)
{
	uint32_t n = hgq_model_n_in(m);

	wb_u32(b, m->task);
	wb_u32(b, m->n_raw);
	wb_u32(b, m->norm);
	wb_u32(b, n);
	wb_array(b, m->index_map, n, A_U32);
	if (m->norm != HGQ_NORM_NONE) {
		wb_array(b, m->norm_offset, m->n_raw, A_F64);
		wb_array(b, m->norm_scale, m->n_raw, A_F64);
	}
}

/*
 * fits_10 - can format 1.0 describe m?  A chain of quantizer and dense
 * layers on flat tensors, each reading the one before (section 8: the
 * writer then writes minor 0, so that such files stay as they were).
 */
static bool
fits_10(const struct hgq_model *m)
{
	for (uint32_t j = 0; j < m->n_layers; j++) {
		const struct hgq_layer *l = &m->layers[j];
		uint32_t d[HGQ_MAX_RANK];

		if ((l->kind != HGQ_LAYER_QUANT &&
		    l->kind != HGQ_LAYER_DENSE) ||
		    hgq_layer_shape(l, d) != 1 || hgq_layer_n_inputs(l) != 1 ||
		    hgq_layer_input(m, j, 0) != (j == 0 ? HGQ_REF_INPUT :
		    j - 1))
			return false;
	}
	return true;
}

/*
 * needs_12 - does m use something of format 1.2: a kind of 1.2, named
 * inputs or outputs, or (when TRNS is written) a mask tensor?
 */
static bool
needs_12(const struct hgq_model *m, bool trns)
{
	if (m->n_in_ports > 0 || m->n_out_ports > 0)
		return true;
	for (uint32_t j = 0; j < m->n_layers; j++) {
		const struct hgq_layer *l = &m->layers[j];

		if (l->kind >= HGQ_LAYER_ADD)
			return true;
		for (uint32_t t = 0; trns && t < l->n_tensors; t++)
			if ((l->tensors[t].role & ~(uint32_t)(HGQ_ROLE_M1 |
			    HGQ_ROLE_M2)) == HGQ_ROLE_MASK)
				return true;
	}
	return false;
}

/* the minor a writer gives m (section 6): the lowest that describes it */
static unsigned
minor_for(const struct hgq_model *m, bool trns)
{
	if (needs_12(m, trns))
		return 2;
	return fits_10(m) ? 0 : 1;
}

unsigned
hgq_model_format_minor(const struct hgq_model *m)
{
	return minor_for(m, true);
}

/*
 * GRPH (section 4.3): records of 16 bytes + parameters: 8 bytes in 1.0;
 * in 1.1 the 8 bytes, shape, input count, window and the input
 * references (section 4.3.1)
 */
static void
build_grph(struct wbuf *b, const struct hgq_model *m, unsigned minor)
{
	wb_u32(b, m->n_layers);
	wb_u32(b, 0);
	for (uint32_t j = 0; j < m->n_layers; j++) {
		const struct hgq_layer *l = &m->layers[j];
		uint8_t par[PAR_10] = { 0 };
		uint32_t d[HGQ_MAX_RANK], r, n_in = hgq_layer_n_inputs(l);
		uint32_t refs[HGQ_MAX_LAYER_INPUTS];

		wb_u32(b, l->kind);
		wb_u32(b, l->n_in);
		wb_u32(b, l->n_out);
		wb_u32(b, minor == 0 ? PAR_10 :
		    PAR_11 + (uint32_t)align8(4 * n_in));
		switch (l->kind) {
		case HGQ_LAYER_QUANT:
			par[0] = l->round;
			par[1] = l->overflow;
			par[2] = l->gran;
			par[3] = l->trainable;
			break;
		case HGQ_LAYER_DENSE:
		case HGQ_LAYER_CONV1D:
		case HGQ_LAYER_CONV2D:
			par[0] = l->act;
			par[1] = l->bn;
			par[2] = l->w_gran;
			par[3] = l->b_gran;
			par[4] = l->padding;	/* 0 for dense */
			break;
		case HGQ_LAYER_CONCAT:
			par[0] = l->axis;
			break;
		case HGQ_LAYER_LUT:
			par[0] = l->func;
			break;
		}
		wb_append(b, par, sizeof(par));
		if (minor == 0)
			continue;
		r = hgq_layer_shape(l, d);
		wb_u32(b, r);
		for (uint32_t a = 0; a < HGQ_MAX_RANK; a++)
			wb_u32(b, d[a]);
		wb_u32(b, n_in);
		wb_u32(b, 0);
		wb_u32(b, l->kernel[0]);
		wb_u32(b, l->kernel[1]);
		wb_u32(b, l->stride[0]);
		wb_u32(b, l->stride[1]);
		for (uint32_t q = 0; q < n_in; q++)
			refs[q] = hgq_layer_input(m, j, q);
		wb_array(b, refs, n_in, A_U32);
	}
}

/*
 * PORT (section 4.8): the counts, then a record per input and per
 * output: u32 layer, u8 name length, 3 reserved bytes, the name padded
 * with zeros to 32 bytes
 */
static void
build_port(struct wbuf *b, const struct hgq_model *m)
{
	wb_u32(b, m->n_in_ports);
	wb_u32(b, m->n_out_ports);
	for (uint32_t k = 0; k < m->n_in_ports + m->n_out_ports; k++) {
		const struct hgq_port *p = k < m->n_in_ports ?
		    &m->in_ports[k] : &m->out_ports[k - m->n_in_ports];
		size_t len = strnlen(p->name, HGQ_MAX_PORT_NAME);
		uint8_t rec[PORT_REC] = { 0 };

		put_le32(rec, p->layer);
		rec[4] = (uint8_t)len;
		memcpy(rec + 8, p->name, len);
		wb_append(b, rec, sizeof(rec));
	}
}

/* FIXP (section 4.4) */
static void
build_fixp(struct wbuf *b, const struct hgq_model *m)
{
	wb_u32(b, m->n_layers);
	wb_u32(b, 0);
	for (uint32_t j = 0; j < m->n_layers; j++) {
		const struct hgq_layer *l = &m->layers[j];
		/* <= 2^26: the model is valid */
		size_t nw = (size_t)hgq_layer_n_weights(m, j);
		size_t nb = hgq_layer_n_bias(m, j);

		if (l->kind == HGQ_LAYER_QUANT) {
			wb_array(b, l->k, l->n_out, A_I8);
			wb_array(b, l->i, l->n_out, A_I8);
			wb_array(b, l->f, l->n_out, A_I8);
		} else if (nb > 0) {
			/* dense and conv; pooling and flatten have none */
			wb_array(b, l->w_m, nw, A_I32);
			wb_array(b, l->w_f, nw, A_I8);
			wb_array(b, l->b_m, nb, A_I32);
			wb_array(b, l->b_f, nb, A_I8);
		}
	}
}

/* CALB (section 4.5) */
static void
build_calb(struct wbuf *b, const struct hgq_model *m)
{
	uint32_t n = 0;

	for (uint32_t j = 0; j < m->n_layers; j++)
		n += m->layers[j].kind == HGQ_LAYER_QUANT &&
		    m->layers[j].cal_min != NULL;
	wb_u32(b, n);
	wb_u32(b, 0);
	for (uint32_t j = 0; j < m->n_layers; j++) {
		const struct hgq_layer *l = &m->layers[j];

		if (l->kind != HGQ_LAYER_QUANT || l->cal_min == NULL)
			continue;
		wb_u32(b, j);
		wb_u32(b, l->n_out);
		wb_array(b, l->cal_min, l->n_out, A_F64);
		wb_array(b, l->cal_max, l->n_out, A_F64);
	}
}

/* TRNS (section 4.6) */
static void
build_trns(struct wbuf *b, const struct hgq_model *m)
{
	uint32_t n = 0;

	for (uint32_t j = 0; j < m->n_layers; j++)
		n += m->layers[j].n_tensors;
	wb_u32(b, m->has_train ? 1 : 0);
	wb_u32(b, m->train.epoch);
	wb_u64(b, m->train.step);
	for (int r = 0; r < 4; r++)
		wb_u64(b, m->train.rng[r]);
	wb_u64(b, f64_bits(m->train.lr_scale));
	wb_u32(b, n);
	wb_u32(b, 0);
	for (uint32_t j = 0; j < m->n_layers; j++) {
		const struct hgq_layer *l = &m->layers[j];

		for (uint32_t t = 0; t < l->n_tensors; t++) {
			wb_u32(b, j);
			wb_u32(b, l->tensors[t].role);
			wb_u32(b, l->tensors[t].n);
			wb_u32(b, 0);
			wb_array(b, l->tensors[t].data, l->tensors[t].n,
			    A_F32);
		}
	}
}

/* META (section 4.7) */
static void
build_meta(struct wbuf *b, const struct hgq_model *m)
{
	wb_u32(b, m->n_meta);
	wb_u32(b, 0);
	for (uint32_t j = 0; j < m->n_meta; j++) {
		size_t kl = strlen(m->meta[j].key);
		size_t vl = strlen(m->meta[j].value);

		wb_u32(b, (uint32_t)kl);
		wb_u32(b, (uint32_t)vl);
		wb_append(b, m->meta[j].key, kl);
		wb_append(b, m->meta[j].value, vl);
		wb_pad8(b);
	}
}

static int
too_big(const char *id, struct hgq_err *err)
{
	return hgq_errf(err, HGQ_EINVAL, "chunk %s: larger than the format's"
	    " limit of 2^31 bytes", id);
}

/*
 * deflate_chunk - replace the payload in *b by its stored DEFLATE form:
 * u64 uncompressed length, then one zlib stream (level 9, window 15,
 * memLevel 8, default strategy: deterministic for a given zlib).
 */
static int
deflate_chunk(struct wbuf *b, const char *id, struct hgq_err *err)
{
	struct wbuf out = { 0 };
	z_stream zs;
	uint8_t *tmp;
	uLong bound;
	int zr;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 9, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return hgq_errf(err, HGQ_ENOMEM, "chunk %s: cannot start"
		    " deflate", id);
	bound = deflateBound(&zs, (uLong)b->len);
	tmp = malloc(bound == 0 ? 1 : bound);
	if (tmp == NULL) {
		deflateEnd(&zs);
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	}
	zs.next_in = b->p;
	zs.avail_in = (uInt)b->len;
	zs.next_out = tmp;
	zs.avail_out = (uInt)bound;
	zr = deflate(&zs, Z_FINISH);
	deflateEnd(&zs);
	if (zr != Z_STREAM_END) {
		free(tmp);
		return hgq_errf(err, HGQ_ENOMEM, "chunk %s: deflate failed"
		    " (zlib %d)", id, zr);
	}
	wb_u64(&out, b->len);
	wb_append(&out, tmp, zs.total_out);
	free(tmp);
	if (out.fail || out.big) {
		free(out.p);
		return out.fail ? hgq_errf(err, HGQ_ENOMEM, "out of memory") :
		    too_big(id, err);
	}
	free(b->p);
	*b = out;
	return HGQ_OK;
}

/* the stream, with a running CRC over what goes through fo_write */
struct fout {
	FILE		*f;
	uint32_t	 crc;
};

static int
fo_write(struct fout *o, const void *p, size_t n, struct hgq_err *err)
{
	if (n > 0 && fwrite(p, 1, n, o->f) != n)
		return hgq_errf(err, HGQ_EIO, "write error: %s",
		    strerror(errno));
	o->crc = crc_update(o->crc, p, n);
	return HGQ_OK;
}

/* a chunk ready to be written */
struct wchunk {
	char		 id[5];
	uint32_t	 flags;
	const uint8_t	*data;
	uint64_t	 len;
	uint32_t	 crc;
};

static int
write_file(FILE *f, const struct wchunk *c, uint32_t n, unsigned minor,
    struct hgq_err *err)
{
	static const uint8_t zero[8];
	struct fout o = { f, 0 };
	uint8_t hdr[HDR_FIXED], ent[TOC_ENTRY], crc[4];
	uint64_t off, pos;
	int rc;

	memcpy(hdr, "HGQM", 4);
	put_le16(hdr + 4, HGQM_MAJOR);
	put_le16(hdr + 6, (uint16_t)minor);
	put_le32(hdr + 8, HDR_FIXED);
	put_le32(hdr + 12, n);
	if ((rc = fo_write(&o, hdr, sizeof(hdr), err)) != HGQ_OK)
		return rc;
	pos = HDR_FIXED + (uint64_t)TOC_ENTRY * n + 4;
	off = align8(pos);
	for (uint32_t j = 0; j < n; j++) {
		memcpy(ent, c[j].id, 4);
		put_le32(ent + 4, c[j].flags);
		put_le64(ent + 8, off);
		put_le64(ent + 16, c[j].len);
		put_le32(ent + 24, c[j].crc);
		put_le32(ent + 28, 0);
		if ((rc = fo_write(&o, ent, sizeof(ent), err)) != HGQ_OK)
			return rc;
		off = align8(off + c[j].len);
	}
	put_le32(crc, o.crc);
	if ((rc = fo_write(&o, crc, 4, err)) != HGQ_OK)
		return rc;
	for (uint32_t j = 0; j < n; j++) {
		if ((rc = fo_write(&o, zero, (size_t)(align8(pos) - pos),
		    err)) != HGQ_OK)
			return rc;
		pos = align8(pos);
		if ((rc = fo_write(&o, c[j].data, (size_t)c[j].len, err)) !=
		    HGQ_OK)
			return rc;
		pos += c[j].len;
	}
	if (fflush(f) != 0 || ferror(f))
		return hgq_errf(err, HGQ_EIO, "write error: %s",
		    strerror(errno));
	return HGQ_OK;
}

static bool
has_calb(const struct hgq_model *m)
{
	for (uint32_t j = 0; j < m->n_layers; j++)
		if (m->layers[j].kind == HGQ_LAYER_QUANT &&
		    m->layers[j].cal_min != NULL)
			return true;
	return false;
}

static bool
has_tensors(const struct hgq_model *m)
{
	for (uint32_t j = 0; j < m->n_layers; j++)
		if (m->layers[j].n_tensors > 0)
			return true;
	return false;
}

int
hgq_model_write(FILE *f, const struct hgq_model *m, unsigned flags,
    struct hgq_err *err)
{
	struct wbuf bufs[N_KNOWN];
	struct wchunk c[HGQ_MAX_CHUNKS];
	bool want[N_KNOWN];
	uint32_t n = 0;
	unsigned minor;
	int rc;

	if ((rc = hgq_model_validate(m, err)) != HGQ_OK)
		return rc;
	flags |= m->write_flags;
	memset(bufs, 0, sizeof(bufs));
	want[C_INPT] = want[C_GRPH] = true;
	want[C_PORT] = m->n_in_ports + m->n_out_ports > 0;
	want[C_FIXP] = m->calibrated != 0;
	want[C_CALB] = has_calb(m);
	want[C_TRNS] = (flags & HGQ_WRITE_NO_TRAIN) == 0 &&
	    (m->has_train || has_tensors(m));
	want[C_META] = m->n_meta > 0;
	minor = minor_for(m, want[C_TRNS]);
	for (int k = 0; k < N_KNOWN; k++)
		n += want[k];
	if (n + m->n_extra > HGQ_MAX_CHUNKS)
		return hgq_errf(err, HGQ_EINVAL, "%" PRIu32 " chunks exceed"
		    " the limit %d", n + m->n_extra, HGQ_MAX_CHUNKS);

	n = 0;
	for (int k = 0; k < N_KNOWN; k++) {
		struct wbuf *b = &bufs[k];

		if (!want[k])
			continue;
		switch (k) {
		case C_INPT: build_inpt(b, m); break;
		case C_PORT: build_port(b, m); break;
		case C_GRPH: build_grph(b, m, minor); break;
		case C_FIXP: build_fixp(b, m); break;
		case C_CALB: build_calb(b, m); break;
		case C_TRNS: build_trns(b, m); break;
		default: build_meta(b, m); break;
		}
		if (b->fail) {
			rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
			goto out;
		}
		if (b->big || b->len > MAX_CHUNK_LEN) {
			rc = too_big(known[k].id, err);
			goto out;
		}
		memcpy(c[n].id, known[k].id, 5);
		c[n].flags = known[k].required ? CHUNK_REQUIRED : 0;
		if ((flags & HGQ_WRITE_COMPRESS) && known[k].deflatable) {
			if ((rc = deflate_chunk(b, known[k].id, err)) != HGQ_OK)
				goto out;
			c[n].flags |= CHUNK_DEFLATE;
			if (b->len > MAX_CHUNK_LEN) {
				rc = too_big(known[k].id, err);
				goto out;
			}
		}
		c[n].data = b->p;
		c[n].len = b->len;
		c[n].crc = b->crc;
		n++;
	}
	for (uint32_t j = 0; j < m->n_extra; j++) {
		const struct hgq_chunk *x = &m->extra[j];

		memcpy(c[n].id, x->id, 4);
		c[n].id[4] = '\0';
		if (x->len > MAX_CHUNK_LEN) {
			rc = too_big(c[n].id, err);
			goto out;
		}
		c[n].flags = x->flags;
		c[n].data = x->data;
		c[n].len = x->len;
		c[n].crc = crc_update(0, x->data, (size_t)x->len);
		n++;
	}
	rc = write_file(f, c, n, minor, err);
out:
	for (int k = 0; k < N_KNOWN; k++)
		free(bufs[k].p);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

/*
 * read_exact - read n bytes; *got tells how many arrived.  HGQ_OK when
 * all did, 1 on a short read at end of file, HGQ_EIO on a read error.
 */
static int
read_exact(FILE *f, void *p, size_t n, size_t *got, struct hgq_err *err)
{
	*got = n == 0 ? 0 : fread(p, 1, n, f);
	if (*got == n)
		return HGQ_OK;
	if (ferror(f))
		return hgq_errf(err, HGQ_EIO, "read error: %s",
		    strerror(errno));
	return 1;
}

/* read n bytes of a named part, mapping a short read to EFORMAT */
static int
read_part(FILE *f, void *p, size_t n, const char *what, struct hgq_err *err)
{
	size_t got;
	int rc = read_exact(f, p, n, &got, err);

	if (rc == 1)
		return hgq_errf(err, HGQ_EFORMAT, "truncated in %s (at byte"
		    " %zu of %zu)", what, got, n);
	return rc;
}

/*
 * read_stored - read the len stored bytes of a chunk into a new buffer
 * that grows with the data actually read (a corrupt length cannot make
 * us allocate far more than the stream holds).
 */
static int
read_stored(FILE *f, const char *id, uint64_t len, uint8_t **out,
    struct hgq_err *err)
{
	size_t have = 0, cap = 0, n = (size_t)len, got;
	uint8_t *p = NULL, *q;
	int rc;

	*out = NULL;
	while (have < n || p == NULL) {
		size_t want = n - have, step;

		step = have < (1u << 20) ? (1u << 20) : have;
		if (want > step)
			want = step;
		if (cap < have + want || p == NULL) {
			cap = have + want;
			q = realloc(p, cap == 0 ? 1 : cap);
			if (q == NULL) {
				free(p);
				return hgq_errf(err, HGQ_ENOMEM,
				    "out of memory");
			}
			p = q;
		}
		rc = read_exact(f, p + have, want, &got, err);
		have += got;
		if (rc != HGQ_OK) {
			free(p);
			if (rc == 1)
				return hgq_errf(err, HGQ_EFORMAT, "truncated in"
				    " chunk %s (at byte %zu of %zu)", id, have,
				    n);
			return rc;
		}
	}
	*out = p;
	return HGQ_OK;
}

/* a decoded chunk payload with a read position */
struct cur {
	const uint8_t	*p;
	size_t		 len, pos;
	const char	*id;
	struct hgq_err	*err;
};

/* HGQ_OK if n more bytes are there; EFORMAT naming what otherwise */
static int
need(struct cur *c, uint64_t n, const char *what)
{
	if (n <= c->len - c->pos)
		return HGQ_OK;
	return hgq_errf(c->err, HGQ_EFORMAT, "chunk %s: %s needs %" PRIu64
	    " bytes at byte %zu, only %zu left", c->id, what, n, c->pos,
	    c->len - c->pos);
}

static uint32_t
cur_u32(struct cur *c)
{
	uint32_t v = get_le32(c->p + c->pos);

	c->pos += 4;
	return v;
}

static uint64_t
cur_u64(struct cur *c)
{
	uint64_t v = get_le64(c->p + c->pos);

	c->pos += 8;
	return v;
}

/* a u32 field that must be zero (reserved) */
static int
cur_reserved(struct cur *c)
{
	size_t at = c->pos;

	if (cur_u32(c) != 0)
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk %s: reserved field"
		    " at byte %zu is not zero", c->id, at);
	return HGQ_OK;
}

/* skip zero padding to the next multiple of 8 of the payload */
static int
cur_pad8(struct cur *c)
{
	size_t to = (size_t)align8(c->pos);

	if (to > c->len)
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk %s: padding at"
		    " byte %zu runs past the end (%zu)", c->id, c->pos,
		    c->len);
	for (; c->pos < to; c->pos++)
		if (c->p[c->pos] != 0)
			return hgq_errf(c->err, HGQ_EFORMAT, "chunk %s:"
			    " non-zero padding at byte %zu", c->id, c->pos);
	return HGQ_OK;
}

/*
 * cur_array - allocate and decode n elements of a type (after checking
 * that they and their padding are present), then skip the padding.
 */
static int
cur_array(struct cur *c, void *dstp, size_t n, int type, const char *what)
{
	static const size_t size[] = { 1, 4, 4, 4, 8 };
	void **dst = dstp;
	uint64_t bytes = (uint64_t)n * size[type];
	const uint8_t *s;
	int rc;

	if ((rc = need(c, align8(bytes), what)) != HGQ_OK)
		return rc;
	*dst = hgq_calloc(n, size[type]);
	if (*dst == NULL)
		return hgq_errf(c->err, HGQ_ENOMEM, "out of memory");
	s = c->p + c->pos;
	for (size_t e = 0; e < n; e++) {
		switch (type) {
		case A_I8:
			((int8_t *)*dst)[e] = (int8_t)s[e];
			break;
		case A_I32:
			((int32_t *)*dst)[e] = (int32_t)get_le32(s + 4 * e);
			break;
		case A_U32:
			((uint32_t *)*dst)[e] = get_le32(s + 4 * e);
			break;
		case A_F32:
			((float *)*dst)[e] = bits_f32(get_le32(s + 4 * e));
			break;
		default:
			((double *)*dst)[e] = bits_f64(get_le64(s + 8 * e));
			break;
		}
	}
	c->pos += (size_t)bytes;
	return cur_pad8(c);
}

/*
 * cur_end - a known chunk must end after its last field, except that a
 * file of a later minor version may append fields we skip (section 8).
 */
static int
cur_end(struct cur *c, unsigned minor)
{
	if (c->pos == c->len || minor > HGQM_MINOR)
		return HGQ_OK;
	return hgq_errf(c->err, HGQ_EFORMAT, "chunk %s: %zu unexpected bytes"
	    " after the last field", c->id, c->len - c->pos);
}

/* the state of one read: the model being built and what was seen */
struct rstate {
	struct hgq_model *m;
	uint32_t	 n_map;		/* index map length in INPT */
	unsigned	 minor;
};

static int
parse_inpt(struct cur *c, struct rstate *st)
{
	struct hgq_model *m = st->m;
	int rc;

	if ((rc = need(c, 16, "the input header")) != HGQ_OK)
		return rc;
	m->task = cur_u32(c);
	m->n_raw = cur_u32(c);
	m->norm = cur_u32(c);
	st->n_map = cur_u32(c);
	if (m->n_raw > HGQ_MAX_N || st->n_map > HGQ_MAX_N)
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk INPT: %" PRIu32
		    " raw columns, %" PRIu32 " mapped inputs: beyond the"
		    " limit %u", m->n_raw, st->n_map, HGQ_MAX_N);
	if (m->norm > HGQ_NORM_STANDARD)
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk INPT: unknown"
		    " normalisation kind %" PRIu32, m->norm);
	if ((rc = cur_array(c, &m->index_map, st->n_map, A_U32,
	    "the index map")) != HGQ_OK)
		return rc;
	if (m->norm != HGQ_NORM_NONE) {
		if ((rc = need(c, (uint64_t)m->n_raw * 16,
		    "the normalisation")) != HGQ_OK ||
		    (rc = cur_array(c, &m->norm_offset, m->n_raw, A_F64,
		    "the offsets")) != HGQ_OK ||
		    (rc = cur_array(c, &m->norm_scale, m->n_raw, A_F64,
		    "the scales")) != HGQ_OK)
			return rc;
	}
	return cur_end(c, st->minor);
}

/*
 * parse_shape - the 1.1 part of a layer record (section 4.3.1) at par,
 * plen bytes: rank, shape, inputs, window.  Counts are checked before
 * anything is read from them; the meaning (shapes implied by kinds and
 * inputs, limits) is hgq_model_validate_graph()'s, after the chunk.
 */
static int
parse_shape(struct cur *c, struct hgq_layer *l, uint32_t j,
    const uint8_t *par, uint32_t plen, unsigned minor)
{
	uint32_t rank = get_le32(par + 8), n_in = get_le32(par + 24);
	uint64_t want;

	if (rank < 1 || rank > HGQ_MAX_RANK)
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk GRPH: layer %"
		    PRIu32 ": rank %" PRIu32 " outside 1..%d", j, rank,
		    HGQ_MAX_RANK);
	if (n_in < 1 || n_in > HGQ_MAX_LAYER_INPUTS)
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk GRPH: layer %"
		    PRIu32 ": %" PRIu32 " inputs outside 1..%d", j, n_in,
		    HGQ_MAX_LAYER_INPUTS);
	want = PAR_11 + align8(4 * (uint64_t)n_in);
	if (plen < want || (minor <= HGQM_MINOR && plen != want))
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk GRPH: layer %"
		    PRIu32 ": parameter length %" PRIu32 " (expected %"
		    PRIu64 ")", j, plen, want);
	if (get_le32(par + 28) != 0)
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk GRPH: layer %"
		    PRIu32 ": reserved field is not zero", j);
	for (uint32_t a = 0; a < HGQ_MAX_RANK; a++) {
		l->shape[a] = get_le32(par + 12 + 4 * a);
		if (a >= rank && l->shape[a] != 0)
			return hgq_errf(c->err, HGQ_EFORMAT, "chunk GRPH: layer"
			    " %" PRIu32 ": dimension %" PRIu32 " set beyond"
			    " rank %" PRIu32, j, a, rank);
	}
	l->rank = (uint8_t)rank;
	l->n_inputs = n_in;
	l->kernel[0] = get_le32(par + 32);
	l->kernel[1] = get_le32(par + 36);
	l->stride[0] = get_le32(par + 40);
	l->stride[1] = get_le32(par + 44);
	for (uint32_t q = 0; q < n_in; q++)
		l->inputs[q] = get_le32(par + PAR_11 + 4 * q);
	for (uint64_t at = PAR_11 + 4 * (uint64_t)n_in; at < want; at++)
		if (par[at] != 0)
			return hgq_errf(c->err, HGQ_EFORMAT, "chunk GRPH: layer"
			    " %" PRIu32 ": non-zero padding after the inputs",
			    j);
	return HGQ_OK;
}

/* the parameter bytes a kind uses (section 4.3); the rest are reserved */
static int
kind_param_bytes(uint32_t kind)
{
	switch (kind) {
	case HGQ_LAYER_QUANT:
	case HGQ_LAYER_DENSE:
		return 4;
	case HGQ_LAYER_CONV1D:
	case HGQ_LAYER_CONV2D:
		return 5;
	case HGQ_LAYER_CONCAT:		/* axis */
	case HGQ_LAYER_LUT:		/* function */
		return 1;
	default:
		return 0;
	}
}

/* a kind of 0, beyond the file's minor, or unknown (section 5, step 9) */
static int
bad_kind(struct cur *c, uint32_t j, uint32_t kind, unsigned minor)
{
	if (kind == 0)
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk GRPH: layer %"
		    PRIu32 " has invalid kind 0", j);
	if (kind <= HGQ_LAYER_LUT)
		return hgq_errf(c->err, HGQ_EUNSUPP, "chunk GRPH: layer %"
		    PRIu32 " has unsupported kind %" PRIu32 " in a version"
		    " 1.%u file (%s is format 1.%d)", j, kind, minor,
		    hgq_layer_kind_name(kind), kind >= HGQ_LAYER_ADD ? 2 : 1);
	return hgq_errf(c->err, HGQ_EUNSUPP, "chunk GRPH: layer %" PRIu32
	    " has unsupported kind %" PRIu32, j, kind);
}

static int
parse_grph(struct cur *c, struct rstate *st)
{
	struct hgq_model *m = st->m;
	struct hgq_err verr = HGQ_ERR_INIT;
	uint32_t n, max_kind;
	int rc;

	if ((rc = need(c, 8, "the layer count")) != HGQ_OK)
		return rc;
	n = cur_u32(c);
	if ((rc = cur_reserved(c)) != HGQ_OK)
		return rc;
	if (n > HGQ_MAX_LAYERS)
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk GRPH: %" PRIu32
		    " layers exceed the limit %d", n, HGQ_MAX_LAYERS);
	if ((rc = need(c, (uint64_t)n * 24, "the layer records")) != HGQ_OK)
		return rc;
	m->layers = hgq_calloc(n, sizeof(*m->layers));
	if (m->layers == NULL)
		return hgq_errf(c->err, HGQ_ENOMEM, "out of memory");
	/* 1.0 knows quantizer and dense; 1.1 the shaped kinds too; 1.2
	   add, subtract, concatenate and lookup tables */
	max_kind = st->minor == 0 ? HGQ_LAYER_DENSE : st->minor == 1 ?
	    HGQ_LAYER_FLATTEN : HGQ_LAYER_LUT;
	for (uint32_t j = 0; j < n; j++) {
		struct hgq_layer *l = &m->layers[j];
		uint32_t plen;
		const uint8_t *par;
		int res;

		if ((rc = need(c, 16, "a layer record")) != HGQ_OK)
			return rc;
		l->kind = cur_u32(c);
		l->n_in = cur_u32(c);
		l->n_out = cur_u32(c);
		plen = cur_u32(c);
		m->n_layers = j + 1;
		if (l->kind == 0 || l->kind > max_kind)
			return bad_kind(c, j, l->kind, st->minor);
		if (l->n_in > HGQ_MAX_N || l->n_out > HGQ_MAX_N ||
		    (l->kind == HGQ_LAYER_DENSE &&
		    (uint64_t)l->n_in * l->n_out > HGQ_MAX_WEIGHTS))
			return hgq_errf(c->err, HGQ_EFORMAT, "chunk GRPH: layer"
			    " %" PRIu32 ": shape %" PRIu32 "x%" PRIu32
			    " exceeds the limits", j, l->n_in, l->n_out);
		if (plen % 8 != 0 || plen < PAR_10 ||
		    (st->minor == 0 && plen != PAR_10) ||
		    (st->minor > 0 && plen < PAR_11))
			return hgq_errf(c->err, HGQ_EFORMAT, "chunk GRPH: layer"
			    " %" PRIu32 ": parameter length %" PRIu32
			    " (expected %d)", j, plen, st->minor == 0 ?
			    PAR_10 : PAR_11);
		if ((rc = need(c, plen, "layer parameters")) != HGQ_OK)
			return rc;
		par = c->p + c->pos;
		/* the bytes a kind does not use are reserved (zero) */
		res = kind_param_bytes(l->kind);
		for (int b = res; b < PAR_10; b++)
			if (par[b] != 0)
				return hgq_errf(c->err, HGQ_EFORMAT, "chunk"
				    " GRPH: layer %" PRIu32 ": reserved"
				    " parameter byte %d is not zero", j, b);
		if (l->kind == HGQ_LAYER_QUANT) {
			l->round = par[0];
			l->overflow = par[1];
			l->gran = par[2];
			l->trainable = par[3];
		} else if (l->kind == HGQ_LAYER_CONCAT) {
			l->axis = par[0];
		} else if (l->kind == HGQ_LAYER_LUT) {
			l->func = par[0];
		} else if (res > 0) {
			l->act = par[0];
			l->bn = par[1];
			l->w_gran = par[2];
			l->b_gran = par[3];
			l->padding = res == 5 ? par[4] : 0;
		}
		if (st->minor > 0 && (rc = parse_shape(c, l, j, par, plen,
		    st->minor)) != HGQ_OK)
			return rc;
		c->pos += plen;
	}
	if ((rc = cur_end(c, st->minor)) != HGQ_OK)
		return rc;
	/*
	 * obligation 9: the structure (kinds, shapes, inputs, the sizes they
	 * imply) before FIXP, CALB or TRNS allocate anything from it
	 */
	if ((rc = hgq_model_validate_graph(m, &verr)) != HGQ_OK)
		return hgq_errf(c->err, rc == HGQ_EUNSUPP ? HGQ_EUNSUPP :
		    HGQ_EFORMAT, "chunk GRPH: %s", verr.msg);
	/*
	 * a 1.1 file of what 1.0 describes (which our writer never makes)
	 * is held as a 1.0 model: flat, implied inputs, so that code that
	 * edits dense chains by n_in/n_out (pruning) keeps it valid
	 */
	if (st->minor > 0 && fits_10(m))
		for (uint32_t j = 0; j < n; j++) {
			m->layers[j].rank = 0;
			m->layers[j].n_inputs = 0;
			memset(m->layers[j].shape, 0,
			    sizeof(m->layers[j].shape));
			memset(m->layers[j].inputs, 0,
			    sizeof(m->layers[j].inputs));
		}
	return HGQ_OK;
}

/* one PORT record into *p (section 4.8); the meaning is validation's */
static int
parse_port_rec(struct cur *c, struct hgq_port *p, const char *what,
    uint32_t k)
{
	const uint8_t *r = c->p + c->pos;
	uint8_t len = r[4];

	if (len < 1 || len > HGQ_MAX_PORT_NAME)
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk PORT: %s %" PRIu32
		    ": name of %u bytes (1..%d)", what, k, len,
		    HGQ_MAX_PORT_NAME);
	if (r[5] != 0 || r[6] != 0 || r[7] != 0)
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk PORT: %s %" PRIu32
		    ": reserved bytes are not zero", what, k);
	if (memchr(r + 8, 0, len) != NULL)
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk PORT: %s %" PRIu32
		    ": name contains a NUL byte", what, k);
	for (int b = 8 + len; b < PORT_REC; b++)
		if (r[b] != 0)
			return hgq_errf(c->err, HGQ_EFORMAT, "chunk PORT: %s %"
			    PRIu32 ": non-zero padding after the name", what,
			    k);
	p->layer = get_le32(r);
	memcpy(p->name, r + 8, len);
	p->name[len] = '\0';
	c->pos += PORT_REC;
	return HGQ_OK;
}

/* PORT (section 4.8): before GRPH, whose graph rules use the ports */
static int
parse_port(struct cur *c, struct rstate *st)
{
	struct hgq_model *m = st->m;
	uint32_t n_in, n_out;
	int rc;

	if ((rc = need(c, 8, "the port counts")) != HGQ_OK)
		return rc;
	n_in = cur_u32(c);
	n_out = cur_u32(c);
	if (n_in > HGQ_MAX_PORTS || n_out > HGQ_MAX_PORTS ||
	    n_in + n_out == 0)
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk PORT: %" PRIu32
		    " inputs and %" PRIu32 " outputs (each 0..%d, not both"
		    " 0)", n_in, n_out, HGQ_MAX_PORTS);
	if ((rc = need(c, (uint64_t)(n_in + n_out) * PORT_REC,
	    "the port records")) != HGQ_OK)
		return rc;
	for (uint32_t k = 0; k < n_in; k++)
		if ((rc = parse_port_rec(c, &m->in_ports[k], "input", k)) !=
		    HGQ_OK)
			return rc;
	for (uint32_t k = 0; k < n_out; k++)
		if ((rc = parse_port_rec(c, &m->out_ports[k], "output", k)) !=
		    HGQ_OK)
			return rc;
	m->n_in_ports = n_in;
	m->n_out_ports = n_out;
	return cur_end(c, st->minor);
}

static int
parse_fixp(struct cur *c, struct rstate *st)
{
	struct hgq_model *m = st->m;
	int rc;

	if ((rc = need(c, 8, "the layer count")) != HGQ_OK)
		return rc;
	if (cur_u32(c) != m->n_layers)
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk FIXP: layer count"
		    " differs from GRPH (%" PRIu32 ")", m->n_layers);
	if ((rc = cur_reserved(c)) != HGQ_OK)
		return rc;
	for (uint32_t j = 0; j < m->n_layers; j++) {
		struct hgq_layer *l = &m->layers[j];
		/* the shapes passed hgq_model_validate_graph(): <= 2^26 */
		size_t nw = (size_t)hgq_layer_n_weights(m, j);
		size_t nb = hgq_layer_n_bias(m, j);

		if (l->kind == HGQ_LAYER_QUANT) {
			if ((rc = cur_array(c, &l->k, l->n_out, A_I8,
			    "quantizer k")) != HGQ_OK ||
			    (rc = cur_array(c, &l->i, l->n_out, A_I8,
			    "quantizer i")) != HGQ_OK ||
			    (rc = cur_array(c, &l->f, l->n_out, A_I8,
			    "quantizer f")) != HGQ_OK)
				return rc;
		} else if (nb > 0) {
			if ((rc = cur_array(c, &l->w_m, nw, A_I32,
			    "weight mantissas")) != HGQ_OK ||
			    (rc = cur_array(c, &l->w_f, nw, A_I8,
			    "weight f")) != HGQ_OK ||
			    (rc = cur_array(c, &l->b_m, nb, A_I32,
			    "bias mantissas")) != HGQ_OK ||
			    (rc = cur_array(c, &l->b_f, nb, A_I8,
			    "bias f")) != HGQ_OK)
				return rc;
		}
	}
	m->calibrated = 1;
	return cur_end(c, st->minor);
}

static int
parse_calb(struct cur *c, struct rstate *st)
{
	struct hgq_model *m = st->m;
	uint32_t n, layer, cnt;
	int64_t last = -1;
	int rc;

	if ((rc = need(c, 8, "the entry count")) != HGQ_OK)
		return rc;
	n = cur_u32(c);
	if ((rc = cur_reserved(c)) != HGQ_OK)
		return rc;
	if (n > m->n_layers)
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk CALB: %" PRIu32
		    " entries for %" PRIu32 " layers", n, m->n_layers);
	for (uint32_t e = 0; e < n; e++) {
		struct hgq_layer *l;

		if ((rc = need(c, 8, "an entry header")) != HGQ_OK)
			return rc;
		layer = cur_u32(c);
		cnt = cur_u32(c);
		if (layer >= m->n_layers || (int64_t)layer <= last ||
		    m->layers[layer].kind != HGQ_LAYER_QUANT ||
		    cnt != m->layers[layer].n_out)
			return hgq_errf(c->err, HGQ_EFORMAT, "chunk CALB: entry"
			    " %" PRIu32 " (layer %" PRIu32 ", %" PRIu32
			    " values) does not match a quantizer in order",
			    e, layer, cnt);
		last = layer;
		l = &m->layers[layer];
		if ((rc = need(c, (uint64_t)cnt * 16,
		    "the calibration ranges")) != HGQ_OK ||
		    (rc = cur_array(c, &l->cal_min, cnt, A_F64,
		    "the minima")) != HGQ_OK ||
		    (rc = cur_array(c, &l->cal_max, cnt, A_F64,
		    "the maxima")) != HGQ_OK)
			return rc;
	}
	return cur_end(c, st->minor);
}

static int
parse_trns(struct cur *c, struct rstate *st)
{
	struct hgq_model *m = st->m;
	uint32_t n, has, last = 0;
	int rc;

	if ((rc = need(c, 64, "the training state")) != HGQ_OK)
		return rc;
	has = cur_u32(c);
	if (has > 1)
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk TRNS: state flag"
		    " %" PRIu32 " is not 0 or 1", has);
	m->has_train = (int)has;
	m->train.epoch = cur_u32(c);
	m->train.step = cur_u64(c);
	for (int r = 0; r < 4; r++)
		m->train.rng[r] = cur_u64(c);
	m->train.lr_scale = bits_f64(cur_u64(c));
	n = cur_u32(c);
	if ((rc = cur_reserved(c)) != HGQ_OK)
		return rc;
	if ((uint64_t)n > (uint64_t)m->n_layers * HGQ_MAX_TENSORS)
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk TRNS: %" PRIu32
		    " tensors exceed the limit of %d per layer", n,
		    HGQ_MAX_TENSORS);
	if ((rc = need(c, (uint64_t)n * 16, "the tensor records")) != HGQ_OK)
		return rc;
	for (uint32_t t = 0; t < n; t++) {
		struct hgq_layer *l;
		struct hgq_tensor *ts;
		uint32_t layer, role, cnt;

		if ((rc = need(c, 16, "a tensor header")) != HGQ_OK)
			return rc;
		layer = cur_u32(c);
		role = cur_u32(c);
		cnt = cur_u32(c);
		if ((rc = cur_reserved(c)) != HGQ_OK)
			return rc;
		if ((role & ~(uint32_t)(HGQ_ROLE_M1 | HGQ_ROLE_M2)) ==
		    HGQ_ROLE_MASK && st->minor < 2)
			return hgq_errf(c->err, HGQ_EFORMAT, "chunk TRNS:"
			    " tensor %" PRIu32 ": a mask (role %d) in a version"
			    " 1.%u file (masks are format 1.2)", t,
			    HGQ_ROLE_MASK, st->minor);
		if (layer >= m->n_layers || layer < last)
			return hgq_errf(c->err, HGQ_EFORMAT, "chunk TRNS:"
			    " tensor %" PRIu32 ": layer %" PRIu32
			    " out of range or out of order", t, layer);
		last = layer;
		l = &m->layers[layer];
		if (l->n_tensors >= HGQ_MAX_TENSORS)
			return hgq_errf(c->err, HGQ_EFORMAT, "chunk TRNS: layer"
			    " %" PRIu32 " has more than %d tensors", layer,
			    HGQ_MAX_TENSORS);
		if (cnt > HGQ_MAX_WEIGHTS)
			return hgq_errf(c->err, HGQ_EFORMAT, "chunk TRNS:"
			    " tensor %" PRIu32 ": %" PRIu32 " floats exceed the"
			    " limit %u", t, cnt, HGQ_MAX_WEIGHTS);
		if ((rc = need(c, (uint64_t)cnt * 4, "tensor data")) != HGQ_OK)
			return rc;
		ts = hgq_reallocarray(l->tensors, (size_t)l->n_tensors + 1,
		    sizeof(*ts));
		if (ts == NULL)
			return hgq_errf(c->err, HGQ_ENOMEM, "out of memory");
		l->tensors = ts;
		ts += l->n_tensors++;
		ts->role = role;
		ts->n = cnt;
		ts->data = NULL;
		if ((rc = cur_array(c, &ts->data, cnt, A_F32, "tensor data"))
		    != HGQ_OK)
			return rc;
	}
	return cur_end(c, st->minor);
}

/* a length-counted string of the META chunk, NUL-terminated on return */
static int
cur_string(struct cur *c, uint32_t len, char **out, const char *what)
{
	int rc;

	if ((rc = need(c, len, what)) != HGQ_OK)
		return rc;
	if (memchr(c->p + c->pos, 0, len) != NULL)
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk META: %s at byte"
		    " %zu contains a NUL byte", what, c->pos);
	*out = malloc((size_t)len + 1);
	if (*out == NULL)
		return hgq_errf(c->err, HGQ_ENOMEM, "out of memory");
	memcpy(*out, c->p + c->pos, len);
	(*out)[len] = '\0';
	c->pos += len;
	return HGQ_OK;
}

static int
parse_meta(struct cur *c, struct rstate *st)
{
	struct hgq_model *m = st->m;
	uint32_t n;
	int rc;

	if ((rc = need(c, 8, "the entry count")) != HGQ_OK)
		return rc;
	n = cur_u32(c);
	if ((rc = cur_reserved(c)) != HGQ_OK)
		return rc;
	if (n > HGQ_MAX_META)
		return hgq_errf(c->err, HGQ_EFORMAT, "chunk META: %" PRIu32
		    " entries exceed the limit %d", n, HGQ_MAX_META);
	if ((rc = need(c, (uint64_t)n * 8, "the entries")) != HGQ_OK)
		return rc;
	m->meta = hgq_calloc(n, sizeof(*m->meta));
	if (m->meta == NULL)
		return hgq_errf(c->err, HGQ_ENOMEM, "out of memory");
	for (uint32_t e = 0; e < n; e++) {
		uint32_t kl, vl;

		if ((rc = need(c, 8, "an entry header")) != HGQ_OK)
			return rc;
		kl = cur_u32(c);
		vl = cur_u32(c);
		if (kl == 0 || kl > HGQ_MAX_META_KEY || vl > HGQ_MAX_META_VALUE)
			return hgq_errf(c->err, HGQ_EFORMAT, "chunk META: entry"
			    " %" PRIu32 ": key of %" PRIu32 " bytes, value of %"
			    PRIu32 " bytes: outside the limits", e, kl, vl);
		m->n_meta = e + 1;
		if ((rc = cur_string(c, kl, &m->meta[e].key, "a key")) !=
		    HGQ_OK || (rc = cur_string(c, vl, &m->meta[e].value,
		    "a value")) != HGQ_OK || (rc = cur_pad8(c)) != HGQ_OK)
			return rc;
	}
	return cur_end(c, st->minor);
}

/*
 * inflate_chunk - the payload of a DEFLATE chunk: u64 length, then one
 * zlib stream that must end exactly at the end of the stored bytes and
 * give exactly that many bytes.
 */
static int
inflate_chunk(const char *id, const uint8_t *s, uint64_t slen, uint8_t **out,
    size_t *olen, struct hgq_err *err)
{
	z_stream zs;
	uint64_t ulen;
	uint8_t *p;
	int zr;

	if (slen < 8)
		return hgq_errf(err, HGQ_EFORMAT, "chunk %s: deflated chunk"
		    " shorter than its length field", id);
	ulen = get_le64(s);
	if (ulen > MAX_CHUNK_LEN || ulen > DEFLATE_RATIO * (slen - 8))
		return hgq_errf(err, HGQ_EFORMAT, "chunk %s: uncompressed"
		    " length %" PRIu64 " exceeds the limit", id, ulen);
	p = malloc((size_t)ulen + 1);
	if (p == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	memset(&zs, 0, sizeof(zs));
	if (inflateInit(&zs) != Z_OK) {
		free(p);
		return hgq_errf(err, HGQ_ENOMEM, "chunk %s: cannot start"
		    " inflate", id);
	}
	/* both sizes are below 2^31 + 1, so they fit uInt */
	zs.next_in = (Bytef *)(uintptr_t)(s + 8);
	zs.avail_in = (uInt)(slen - 8);
	zs.next_out = p;
	zs.avail_out = (uInt)ulen + 1;
	zr = inflate(&zs, Z_FINISH);
	inflateEnd(&zs);
	if (zr != Z_STREAM_END || zs.total_out != ulen || zs.avail_in != 0) {
		free(p);
		return hgq_errf(err, HGQ_EFORMAT, "chunk %s: bad deflate"
		    " stream (zlib %d, %lu of %" PRIu64 " bytes, %u stored"
		    " bytes left)", id, zr, zs.total_out, ulen, zs.avail_in);
	}
	*out = p;
	*olen = (size_t)ulen;
	return HGQ_OK;
}

/* a TOC entry as read */
struct rchunk {
	char		 id[5];
	uint32_t	 flags;
	uint64_t	 off, len;
	uint32_t	 crc;
	int		 kind;		/* C_* or -1 when unknown */
};

/*
 * read_header - reader obligations 1-5 (section 5): magic, version,
 * header length and chunk count, header CRC, chunk table.  On success
 * *toc holds n entries and *pos is the offset after the header CRC.
 */
static int
read_header(FILE *f, struct rchunk **toc, uint32_t *n_out, unsigned *minor,
    uint64_t *pos, struct hgq_err *err)
{
	uint8_t fix[HDR_FIXED], crcb[4];
	uint8_t *rest = NULL;
	struct rchunk *c = NULL;
	uint32_t hlen, n, crc, stored;
	uint64_t off;
	size_t got, rlen;
	int rc, last_known = -1;

	*toc = NULL;
	rc = read_exact(f, fix, 4, &got, err);
	if (rc < 0)
		return rc;
	if (got == 0)
		return HGQ_EOF;
	if (memcmp(fix, "HGQM", got) != 0)
		return hgq_errf(err, HGQ_EFORMAT, "not an hgq model (bad"
		    " magic)");
	if (got < 4)
		return hgq_errf(err, HGQ_EFORMAT, "truncated in header (at"
		    " byte %zu of %d)", got, HDR_FIXED);
	rc = read_exact(f, fix + 4, HDR_FIXED - 4, &got, err);
	if (rc == 1)
		return hgq_errf(err, HGQ_EFORMAT, "truncated in header (at"
		    " byte %zu of %d)", 4 + got, HDR_FIXED);
	if (rc != HGQ_OK)
		return rc;
	if (get_le16(fix + 4) != HGQM_MAJOR)
		return hgq_errf(err, HGQ_EVERSION, "unsupported major version"
		    " %u (this reader knows %d)", get_le16(fix + 4),
		    HGQM_MAJOR);
	*minor = get_le16(fix + 6);
	hlen = get_le32(fix + 8);
	n = get_le32(fix + 12);
	if (hlen < HDR_FIXED || hlen > HDR_MAX || hlen % 8 != 0)
		return hgq_errf(err, HGQ_EFORMAT, "header length %" PRIu32
		    " is not a multiple of 8 in %d..%d", hlen, HDR_FIXED,
		    HDR_MAX);
	if (hlen != HDR_FIXED && *minor <= HGQM_MINOR)
		return hgq_errf(err, HGQ_EFORMAT, "header length %" PRIu32
		    " in a version 1.%u file (expected %d)", hlen, *minor,
		    HDR_FIXED);
	if (n > HGQ_MAX_CHUNKS)
		return hgq_errf(err, HGQ_EFORMAT, "%" PRIu32 " chunks exceed"
		    " the limit %d", n, HGQ_MAX_CHUNKS);

	/* the rest of the header and the TOC, both under the header CRC */
	rlen = (size_t)(hlen - HDR_FIXED) + (size_t)n * TOC_ENTRY;
	rest = malloc(rlen == 0 ? 1 : rlen);
	c = hgq_calloc(n, sizeof(*c));
	if (rest == NULL || c == NULL) {
		rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = read_part(f, rest, rlen, "chunk table", err)) != HGQ_OK ||
	    (rc = read_part(f, crcb, 4, "header checksum", err)) != HGQ_OK)
		goto fail;
	crc = crc_update(crc_update(0, fix, HDR_FIXED), rest, rlen);
	stored = get_le32(crcb);
	if (crc != stored) {
		rc = hgq_errf(err, HGQ_ECHECKSUM, "header checksum mismatch"
		    " (stored 0x%08" PRIx32 ", computed 0x%08" PRIx32 ")",
		    stored, crc);
		goto fail;
	}

	/* obligation 5: the chunk table */
	off = align8((uint64_t)hlen + (uint64_t)n * TOC_ENTRY + 4);
	for (uint32_t j = 0; j < n; j++) {
		const uint8_t *e = rest + (hlen - HDR_FIXED) + j * TOC_ENTRY;

		memcpy(c[j].id, e, 4);
		c[j].id[4] = '\0';
		c[j].flags = get_le32(e + 4);
		c[j].off = get_le64(e + 8);
		c[j].len = get_le64(e + 16);
		c[j].crc = get_le32(e + 24);
		c[j].kind = -1;
		for (int b = 0; b < 4; b++)
			if (e[b] < 0x21 || e[b] > 0x7e) {
				rc = hgq_errf(err, HGQ_EFORMAT, "chunk table"
				    " entry %" PRIu32 ": id is not printable"
				    " ASCII", j);
				goto fail;
			}
		if ((c[j].flags & ~(uint32_t)(CHUNK_REQUIRED | CHUNK_DEFLATE))
		    != 0) {
			rc = hgq_errf(err, HGQ_EFORMAT, "chunk %s: unknown"
			    " flags 0x%" PRIx32, c[j].id, c[j].flags);
			goto fail;
		}
		if (get_le32(e + 28) != 0) {
			rc = hgq_errf(err, HGQ_EFORMAT, "chunk %s: reserved"
			    " field of its table entry is not zero", c[j].id);
			goto fail;
		}
		if (c[j].off != off) {
			rc = hgq_errf(err, HGQ_EFORMAT, "chunk %s: offset %"
			    PRIu64 " where %" PRIu64 " is expected (chunks are"
			    " contiguous, 8-byte aligned)", c[j].id, c[j].off,
			    off);
			goto fail;
		}
		if (c[j].len > MAX_CHUNK_LEN) {
			rc = hgq_errf(err, HGQ_EFORMAT, "chunk %s: length %"
			    PRIu64 " exceeds the limit 2^31", c[j].id,
			    c[j].len);
			goto fail;
		}
		off = align8(off + c[j].len);
		for (uint32_t u = 0; u < j; u++)
			if (memcmp(c[u].id, c[j].id, 4) == 0) {
				rc = hgq_errf(err, HGQ_EFORMAT, "chunk %s"
				    " appears twice", c[j].id);
				goto fail;
			}
		for (int k = 0; k < N_KNOWN; k++)
			if (memcmp(c[j].id, known[k].id, 4) == 0)
				c[j].kind = k;
		if (c[j].kind < 0) {
			if (c[j].flags & CHUNK_REQUIRED) {
				rc = hgq_errf(err, HGQ_EUNSUPP, "unknown"
				    " required chunk %s", c[j].id);
				goto fail;
			}
			continue;
		}
		if (c[j].kind == C_PORT && *minor < 2) {
			rc = hgq_errf(err, HGQ_EFORMAT, "chunk PORT in a"
			    " version 1.%u file (named inputs and outputs are"
			    " format 1.2)", *minor);
			goto fail;
		}
		if (((c[j].flags & CHUNK_REQUIRED) != 0) !=
		    known[c[j].kind].required) {
			rc = hgq_errf(err, HGQ_EFORMAT, "chunk %s: required"
			    " flag is wrong", c[j].id);
			goto fail;
		}
		if (c[j].kind < last_known) {
			rc = hgq_errf(err, HGQ_EFORMAT, "chunk %s: out of"
			    " order", c[j].id);
			goto fail;
		}
		last_known = c[j].kind;
	}
	for (int k = C_INPT; k <= C_GRPH; k++) {
		bool seen = false;

		if (k == C_PORT)	/* only with ports */
			continue;
		for (uint32_t j = 0; j < n; j++)
			seen |= c[j].kind == k;
		if (!seen) {
			rc = hgq_errf(err, HGQ_EFORMAT, "required chunk %s is"
			    " missing", known[k].id);
			goto fail;
		}
	}
	free(rest);
	*toc = c;
	*n_out = n;
	*pos = (uint64_t)hlen + (uint64_t)n * TOC_ENTRY + 4;
	return HGQ_OK;
fail:
	free(rest);
	free(c);
	return rc;
}

/* obligations 6-8 for one chunk: padding, bytes, CRC, inflate, parse */
static int
read_chunk(FILE *f, const struct rchunk *c, struct rstate *st,
    uint64_t *pos, struct hgq_err *err)
{
	static int (*const parse[N_KNOWN])(struct cur *, struct rstate *) = {
		parse_inpt, parse_port, parse_grph, parse_fixp, parse_calb,
		parse_trns, parse_meta,
	};
	uint8_t pad[8], *stored = NULL, *plain = NULL;
	struct cur cu;
	struct hgq_chunk *x;
	size_t plen = 0, gap = (size_t)(c->off - *pos);
	uint32_t crc;
	int rc;

	if ((rc = read_part(f, pad, gap, "padding", err)) != HGQ_OK)
		return rc;
	for (size_t b = 0; b < gap; b++)
		if (pad[b] != 0)
			return hgq_errf(err, HGQ_EFORMAT, "non-zero padding"
			    " before chunk %s", c->id);
	if ((rc = read_stored(f, c->id, c->len, &stored, err)) != HGQ_OK)
		return rc;
	*pos = c->off + c->len;
	crc = crc_update(0, stored, (size_t)c->len);
	if (crc != c->crc) {
		rc = hgq_errf(err, HGQ_ECHECKSUM, "chunk %s: checksum mismatch"
		    " (stored 0x%08" PRIx32 ", computed 0x%08" PRIx32 ")",
		    c->id, c->crc, crc);
		goto out;
	}
	if (c->kind < 0) {
		/* unknown optional chunk: carried through unchanged */
		x = hgq_reallocarray(st->m->extra, (size_t)st->m->n_extra + 1,
		    sizeof(*x));
		if (x == NULL) {
			rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
			goto out;
		}
		st->m->extra = x;
		x += st->m->n_extra++;
		memcpy(x->id, c->id, 4);
		x->flags = c->flags;
		x->len = c->len;
		x->data = stored;
		return HGQ_OK;
	}
	if (c->flags & CHUNK_DEFLATE) {
		if ((rc = inflate_chunk(c->id, stored, c->len, &plain, &plen,
		    err)) != HGQ_OK)
			goto out;
		st->m->write_flags |= HGQ_WRITE_COMPRESS;
		cu.p = plain;
		cu.len = plen;
	} else {
		cu.p = stored;
		cu.len = (size_t)c->len;
	}
	cu.pos = 0;
	cu.id = c->id;
	cu.err = err;
	rc = parse[c->kind](&cu, st);
out:
	free(stored);
	free(plain);
	return rc;
}

int
hgq_model_read(FILE *f, struct hgq_model **out, struct hgq_err *err)
{
	struct rstate st = { 0 };
	struct rchunk *toc = NULL;
	struct hgq_err verr = HGQ_ERR_INIT;
	uint32_t n = 0;
	uint64_t pos = 0;
	int rc;

	*out = NULL;
	rc = read_header(f, &toc, &n, &st.minor, &pos, err);
	if (rc != HGQ_OK)
		return rc;
	st.m = hgq_model_new();
	if (st.m == NULL) {
		rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		goto fail;
	}
	st.m->format_minor = st.minor;
	for (uint32_t j = 0; j < n; j++)
		if ((rc = read_chunk(f, &toc[j], &st, &pos, err)) != HGQ_OK)
			goto fail;

	/* obligation 9: the model as a whole */
	if (st.m->n_layers > 0 && st.n_map != hgq_model_n_in(st.m)) {
		rc = st.m->n_in_ports == 0 ? hgq_errf(err, HGQ_EFORMAT,
		    "chunk INPT: index map of %" PRIu32 " entries for a first"
		    " layer of %" PRIu32 " inputs", st.n_map,
		    st.m->layers[0].n_in) : hgq_errf(err, HGQ_EFORMAT,
		    "chunk INPT: index map of %" PRIu32 " entries for model"
		    " inputs of %" PRIu32 " elements", st.n_map,
		    hgq_model_n_in(st.m));
		goto fail;
	}
	if (hgq_model_validate(st.m, &verr) != HGQ_OK) {
		rc = hgq_errf(err, HGQ_EFORMAT, "invalid model: %s", verr.msg);
		goto fail;
	}
	free(toc);
	*out = st.m;
	return HGQ_OK;
fail:
	free(toc);
	hgq_model_free(st.m);
	return rc;
}

/*
 * read_whole - a model file holds one model (section 5, step 10): a byte
 * after its last chunk is an error, not the start of another model
 */
static int
read_whole(FILE *f, struct hgq_model **out, struct hgq_err *err)
{
	int rc = hgq_model_read(f, out, err);

	if (rc != HGQ_OK)
		return rc;
	if (getc(f) != EOF)
		rc = hgq_errf(err, HGQ_EFORMAT, "unexpected bytes after the"
		    " last chunk (a model file holds one model)");
	else if (ferror(f))
		rc = hgq_errf(err, HGQ_EIO, "read error: %s",
		    strerror(errno));
	if (rc != HGQ_OK) {
		hgq_model_free(*out);
		*out = NULL;
	}
	return rc;
}

int
hgq_model_read_file(const char *path, struct hgq_model **out,
    struct hgq_err *err)
{
	FILE *f;
	int rc;

	*out = NULL;
	if (strcmp(path, "-") == 0)
		return read_whole(stdin, out, err);
	f = fopen(path, "rb");
	if (f == NULL)
		return hgq_errf(err, HGQ_EIO, "%s", strerror(errno));
	rc = read_whole(f, out, err);
	if (fclose(f) != 0 && rc == HGQ_OK) {
		rc = hgq_errf(err, HGQ_EIO, "%s", strerror(errno));
		hgq_model_free(*out);
		*out = NULL;
	}
	return rc;
}
