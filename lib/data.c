/*
 * data.c - data files: npy, CSV and IDX (plain or gzip), read whole or
 * streamed in chunks of rows, and a small npy writer.
 *
 * Every input goes through one zlib gzFile: gzread() decompresses a gzip
 * stream (detected by its magic 1f 8b) and copies anything else through
 * unchanged, so "x.npy", "x.npy.gz", "train-images-idx3-ubyte.gz" and a
 * pipe on stdin are all read the same way, sequentially and without
 * seeking.  STYLE.md says only format.c includes zlib.h; data.c is the
 * second, deliberate exception (it needs gzread, not deflate).
 *
 * On top of the gzFile sits one byte buffer of our own.  It serves three
 * purposes: peeking at the magic bytes before choosing a parser, holding
 * CSV lines in place (a line is parsed where it lies, NUL-terminated, with
 * no copy and no allocation per field), and absorbing the bytes that the
 * header parsers read ahead.  Bulk binary data bypasses it: once the
 * buffer is drained, blocks of rows are gzread() straight into a raw
 * block and converted to double in a tight loop per dtype.
 *
 * Row numbers in messages: CSV messages name the physical line, counted
 * from 1 at the top of the file (header and comments included), as
 * "file:LINE: ...".  Binary formats (npy, IDX) name the 0-based row index,
 * as numpy would index it: "file: row 17: NaN".
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <zlib.h>

#include "internal.h"

#define READER_MAGIC	0x68677244u	/* "hgrD" */

#define SRC_BUF_SIZE	(256u * 1024)	/* our buffer over gzFile */
#define GZ_BUF_SIZE	(256u * 1024)	/* zlib's own input buffer */
#define RAW_BLOCK	(256u * 1024)	/* binary bytes per gzread */
#define MAX_LINE	(64u << 20)	/* longest CSV line we accept */
#define MAX_FIELDS	HGQ_DATA_MAX_COLS	/* most CSV columns */
#define NPY_MAX_HEADER	65536u		/* numpy's limit: 10000 */
#define NPY_MAX_RANK	32
#define IDX_MAX_RANK	32
#define LOAD_FIRST	((size_t)1 << 27)	/* first binary allocation
						   without a file size,
						   in elements */
#define CSV_FIRST_BYTES	((size_t)4 << 20)	/* first CSV buffer */
#define GZ_CHUNK	(1u << 30)	/* gzread takes an unsigned int */

enum reader_state { ST_OPEN = 0, ST_DONE = 1, ST_FAILED = 2 };

/* element types of the binary formats */
enum dtype {
	DT_U8, DT_I8, DT_U16, DT_I16, DT_U32, DT_I32, DT_U64, DT_I64,
	DT_F16, DT_F32, DT_F64, DT_BOOL,
};

struct hgq_reader {
	uint32_t	 magic;
	int		 state;		/* enum reader_state */
	struct hgq_err	 saved;		/* what poisoned it */
	char		*name;		/* path or "standard input" */
	int		 kind;		/* enum hgq_data_kind, known */

	/* input: gzFile plus our buffer; buf[buf_pos, buf_len) is unread */
	gzFile		 gz;
	unsigned char	*buf;
	size_t		 buf_cap;	/* allocated: buf_cap + 1 */
	size_t		 buf_pos, buf_len;
	bool		 eof;		/* gzread returned 0 */
	bool		 gz_trunc;	/* the gzip stream ended early */
	uint64_t	 file_size;	/* of a regular file; 0: unknown */

	int		 label_col;	/* -1: none */
	size_t		 n_file_cols;	/* columns in the file */
	size_t		 n_cols;	/* feature columns delivered */
	size_t		 row;		/* rows delivered so far */
	uint32_t	 s_rank;	/* sample shape (struct hgq_table) */
	uint32_t	 s_shape[3];

	/* npy and IDX: n_rows x n_file_cols elements of one dtype */
	size_t		 n_rows;
	int		 dtype;
	size_t		 item_size;
	bool		 swap;		/* file order != host order */
	unsigned char	*raw;		/* raw_items elements */
	size_t		 raw_items;	/* items per raw block */
	double		*dbuf;		/* raw_items, for labels */

	/* CSV */
	char		 delim;
	size_t		 line_no;	/* physical lines consumed */
	size_t		 blank_line;	/* first blank line, or 0 */
	char		**fields;	/* starts of the fields */
	size_t		 fields_cap;
	double		*pend_x;	/* first data row, read by open */
	double		 pend_y;
	bool		 has_pend;
};

static bool
host_is_le(void)
{
	const uint16_t one = 1;
	unsigned char b;

	memcpy(&b, &one, 1);
	return b == 1;
}

/* multiply with overflow check: false if a*b does not fit in size_t */
static bool
mul_ok(size_t a, size_t b, size_t *out)
{
	if (b != 0 && a > SIZE_MAX / b)
		return false;
	*out = a * b;
	return true;
}

/* a reader that failed keeps returning the same error */
static int
fail(struct hgq_reader *r, struct hgq_err *err, int code, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static int
fail(struct hgq_reader *r, struct hgq_err *err, int code, const char *fmt,
    ...)
{
	va_list ap;

	r->saved.code = code;
	va_start(ap, fmt);
	vsnprintf(r->saved.msg, sizeof(r->saved.msg), fmt, ap);
	va_end(ap);
	r->state = ST_FAILED;
	if (err != NULL)
		*err = r->saved;
	return code;
}

static void
check_magic(const struct hgq_reader *r)
{
	/* not our handle: a programming error, never bad input */
	if (r == NULL || r->magic != READER_MAGIC)
		abort();
}

/*
 * Quote a piece of untrusted text for a message: at most 24 bytes,
 * non-printable bytes shown as '?', an ellipsis when cut.
 */
static const char *
quote_text(char *dst, size_t dst_size, const char *s)
{
	size_t n = 0, i;

	for (i = 0; s[i] != '\0' && n + 4 < dst_size && i < 24; i++)
		dst[n++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (s[i] != '\0' && n + 4 <= dst_size) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n] = '\0';
	return dst;
}

/* ------------------------------------------------------------------ */
/* The byte source                                                     */
/* ------------------------------------------------------------------ */

/*
 * After gzread() returned less than asked: tell a clean end of input
 * (HGQ_OK, r->eof set) from a read error or corrupt gzip data.  A gzip
 * stream cut short is not an error here; r->gz_trunc records it and the
 * parsers report it where they can name the row.
 */
static int
gz_status(struct hgq_reader *r, struct hgq_err *err, int saved_errno)
{
	const char *msg;
	int errnum;

	msg = gzerror(r->gz, &errnum);
	switch (errnum) {
	case Z_OK:
		r->eof = true;
		return HGQ_OK;
	case Z_BUF_ERROR:
		r->eof = true;
		r->gz_trunc = true;
		return HGQ_OK;
	case Z_ERRNO:
		return fail(r, err, HGQ_EIO, "%s: read error: %s", r->name,
		    strerror(saved_errno));
	case Z_MEM_ERROR:
		return fail(r, err, HGQ_ENOMEM, "%s: out of memory", r->name);
	default:
		return fail(r, err, HGQ_EFORMAT, "%s: corrupt gzip data: %s",
		    r->name, msg);
	}
}

/* append what gzread gives to buf (there must be room); sets r->eof */
static int
src_more(struct hgq_reader *r, struct hgq_err *err)
{
	size_t room = r->buf_cap - r->buf_len;
	int n;

	if (r->eof)
		return HGQ_OK;
	if (room > GZ_CHUNK)
		room = GZ_CHUNK;
	errno = 0;
	n = gzread(r->gz, r->buf + r->buf_len, (unsigned)room);
	if (n > 0) {
		r->buf_len += (size_t)n;
		return HGQ_OK;
	}
	return gz_status(r, err, errno);
}

/*
 * src_read - read up to n bytes into dst: first what is buffered, then
 * straight from the gzFile.  *got < n only at the end of the input.
 */
static int
src_read(struct hgq_reader *r, void *dst, size_t n, size_t *got,
    struct hgq_err *err)
{
	unsigned char *p = dst;
	size_t have = r->buf_len - r->buf_pos, done;
	int rc, k;

	done = have < n ? have : n;
	memcpy(p, r->buf + r->buf_pos, done);
	r->buf_pos += done;
	while (done < n && !r->eof) {
		size_t want = n - done;

		if (want > GZ_CHUNK)
			want = GZ_CHUNK;
		errno = 0;
		k = gzread(r->gz, p + done, (unsigned)want);
		if (k > 0) {
			done += (size_t)k;
			continue;
		}
		if ((rc = gz_status(r, err, errno)) != HGQ_OK)
			return rc;
	}
	*got = done;
	return HGQ_OK;
}

/* make at least n bytes available in buf (fewer only at end of input) */
static int
src_peek(struct hgq_reader *r, size_t n, struct hgq_err *err)
{
	int rc;

	while (r->buf_len - r->buf_pos < n && !r->eof) {
		if (r->buf_len == r->buf_cap) {
			memmove(r->buf, r->buf + r->buf_pos,
			    r->buf_len - r->buf_pos);
			r->buf_len -= r->buf_pos;
			r->buf_pos = 0;
		}
		if ((rc = src_more(r, err)) != HGQ_OK)
			return rc;
	}
	return HGQ_OK;
}

/*
 * next_line - the next line, NUL-terminated in place, without its "\n"
 * or "\r\n".  Returns 1 with a line, 0 at the end of the input, or a
 * negative status.  The line stays valid until the next call.
 */
static int
next_line(struct hgq_reader *r, char **line, size_t *len,
    struct hgq_err *err)
{
	size_t scan = r->buf_pos;
	unsigned char *nl, *p;
	int rc;

	for (;;) {
		nl = memchr(r->buf + scan, '\n', r->buf_len - scan);
		if (nl != NULL || (r->eof && r->buf_pos < r->buf_len)) {
			p = r->buf + r->buf_pos;
			if (nl == NULL)
				nl = r->buf + r->buf_len; /* last line, no \n */
			*nl = '\0';
			*len = (size_t)(nl - p);
			r->buf_pos = (size_t)(nl - r->buf) +
			    (nl < r->buf + r->buf_len);
			if (*len > 0 && p[*len - 1] == '\r')
				p[--*len] = '\0';
			r->line_no++;
			*line = (char *)p;
			return 1;
		}
		if (r->eof)
			return 0;
		/* no complete line: keep the partial one, read more */
		scan = r->buf_len - r->buf_pos;
		memmove(r->buf, r->buf + r->buf_pos, scan);
		r->buf_len = scan;
		r->buf_pos = 0;
		if (r->buf_len == r->buf_cap) {
			unsigned char *nb;

			if (r->buf_cap >= MAX_LINE)
				return fail(r, err, HGQ_EFORMAT,
				    "%s:%zu: line longer than %u bytes",
				    r->name, r->line_no + 1, MAX_LINE);
			nb = realloc(r->buf, 2 * r->buf_cap + 1);
			if (nb == NULL)
				return fail(r, err, HGQ_ENOMEM,
				    "%s: out of memory", r->name);
			r->buf = nb;
			r->buf_cap *= 2;
		}
		if ((rc = src_more(r, err)) != HGQ_OK)
			return rc;
	}
}

/* ------------------------------------------------------------------ */
/* Binary element conversion                                           */
/* ------------------------------------------------------------------ */

static double
half_to_double(uint16_t h)
{
	int e = (h >> 10) & 0x1f;
	double v, m = h & 0x3ff;

	if (e == 0)
		v = ldexp(m, -24);		/* subnormal or zero */
	else if (e == 31)
		v = m == 0 ? INFINITY : NAN;
	else
		v = ldexp(m + 1024, e - 25);
	return (h & 0x8000) ? -v : v;
}

/* reverse the bytes of each of n items of size sz, in place */
static void
swap_items(unsigned char *p, size_t n, size_t sz)
{
	for (size_t j = 0; j < n; j++, p += sz)
		for (size_t a = 0, b = sz - 1; a < b; a++, b--) {
			unsigned char t = p[a];

			p[a] = p[b];
			p[b] = t;
		}
}

/* the plain loops below are worth vectorizing (-O2 leaves them scalar) */
#if defined(__GNUC__) && !defined(__clang__)
#define VECTORIZED	__attribute__((optimize("O3")))
#else
#define VECTORIZED
#endif

/*
 * decode - n items of one dtype, already in host byte order, to double.
 * One plain loop per type so that the compiler can vectorize it; memcpy
 * of a fixed small size compiles to a single (unaligned) load.
 */
VECTORIZED static void
decode(double *restrict out, const unsigned char *restrict in, size_t n,
    int dtype)
{
	switch (dtype) {
	case DT_U8:
	case DT_BOOL:
		for (size_t j = 0; j < n; j++)
			out[j] = in[j];
		break;
	case DT_I8:
		for (size_t j = 0; j < n; j++)
			out[j] = (int8_t)in[j];
		break;
	case DT_U16:
		for (size_t j = 0; j < n; j++) {
			uint16_t v;

			memcpy(&v, in + 2 * j, 2);
			out[j] = v;
		}
		break;
	case DT_I16:
		for (size_t j = 0; j < n; j++) {
			int16_t v;

			memcpy(&v, in + 2 * j, 2);
			out[j] = v;
		}
		break;
	case DT_U32:
		for (size_t j = 0; j < n; j++) {
			uint32_t v;

			memcpy(&v, in + 4 * j, 4);
			out[j] = v;
		}
		break;
	case DT_I32:
		for (size_t j = 0; j < n; j++) {
			int32_t v;

			memcpy(&v, in + 4 * j, 4);
			out[j] = v;
		}
		break;
	case DT_U64:
		for (size_t j = 0; j < n; j++) {
			uint64_t v;

			memcpy(&v, in + 8 * j, 8);
			out[j] = (double)v;
		}
		break;
	case DT_I64:
		for (size_t j = 0; j < n; j++) {
			int64_t v;

			memcpy(&v, in + 8 * j, 8);
			out[j] = (double)v;
		}
		break;
	case DT_F16:
		for (size_t j = 0; j < n; j++) {
			uint16_t v;

			memcpy(&v, in + 2 * j, 2);
			out[j] = half_to_double(v);
		}
		break;
	case DT_F32:
		for (size_t j = 0; j < n; j++) {
			float v;

			memcpy(&v, in + 4 * j, 4);
			out[j] = v;
		}
		break;
	case DT_F64:
		memcpy(out, in, n * 8);
		break;
	}
}

/*
 * all_finite - no NaN nor Inf in v[0, n): an exponent field of all ones
 * plus one carries into the sign bit, and nothing else does; one pass of
 * integer operations that vectorizes, the search for the culprit only
 * when there is one
 */
VECTORIZED static bool
all_finite(const double *v, size_t n)
{
	const uint64_t exp = 0x7ffULL << 52;
	uint64_t acc = 0;

	for (size_t j = 0; j < n; j++) {
		uint64_t b;

		memcpy(&b, v + j, 8);
		acc |= (b & exp) + (1ULL << 52);
	}
	return acc >> 63 == 0;
}

/*
 * check_block - values the dtype may hold but we refuse: NaN and Inf in
 * float types, bytes other than 0 and 1 in a bool array.  first is the
 * global index of v[0], to name the row.
 */
static int
check_block(struct hgq_reader *r, const double *v, size_t n, size_t first,
    struct hgq_err *err)
{
	if (r->dtype == DT_BOOL) {
		for (size_t j = 0; j < n; j++)
			if (v[j] > 1)
				return fail(r, err, HGQ_EFORMAT,
				    "%s: row %zu: bool value %g is not 0 or 1",
				    r->name, (first + j) / r->n_file_cols,
				    v[j]);
		return HGQ_OK;
	}
	if ((r->dtype != DT_F16 && r->dtype != DT_F32 && r->dtype != DT_F64)
	    || all_finite(v, n))
		return HGQ_OK;
	for (size_t j = 0; j < n; j++)
		if (!isfinite(v[j]))
			return fail(r, err, HGQ_EINVAL, "%s: row %zu: %s",
			    r->name, (first + j) / r->n_file_cols,
			    isnan(v[j]) ? "NaN" : "Inf");
	return HGQ_OK;
}

/* after the last row: the input must end here, and end cleanly */
static int
bin_check_end(struct hgq_reader *r, struct hgq_err *err)
{
	unsigned char extra;
	size_t got;
	int rc;

	if ((rc = src_read(r, &extra, 1, &got, err)) != HGQ_OK)
		return rc;
	if (got != 0)
		return fail(r, err, HGQ_EFORMAT,
		    "%s: unexpected data after the last row (%zu rows)",
		    r->name, r->n_rows);
	if (r->gz_trunc)
		return fail(r, err, HGQ_EFORMAT,
		    "%s: gzip stream truncated after the last row", r->name);
	r->state = ST_DONE;
	return HGQ_OK;
}

/*
 * bin_fill - elements [from, to) of an npy or IDX file (counted over the
 * whole file, row-major), into x and y whose first row is file row row0.
 * Blocks of at most RAW_BLOCK bytes are read whole elements at a time,
 * regardless of row boundaries, and decoded straight into x (or, with a
 * label column, into dbuf and then scattered to x and y).  The caller
 * keeps from == r->next_elem.
 */
static int
bin_fill(struct hgq_reader *r, double *x, double *y, size_t row0,
    size_t from, size_t to, struct hgq_err *err)
{
	size_t cols = r->n_file_cols, got, k;
	int rc;

	while (from < to) {
		size_t want = to - from;
		double *out;

		if (want > r->raw_items)
			want = r->raw_items;
		rc = src_read(r, r->raw, want * r->item_size, &got, err);
		if (rc != HGQ_OK)
			return rc;
		k = got / r->item_size;
		if (k < want) {
			const char *what = r->kind == HGQ_DATA_IDX ? "item" :
			    "row";

			return fail(r, err, HGQ_EFORMAT,
			    "%s: truncated in %s %zu (header says %zu %ss%s)",
			    r->name, what, (from + k) / cols, r->n_rows, what,
			    r->gz_trunc ? "; gzip stream cut short" : "");
		}
		if (r->swap)
			swap_items(r->raw, k, r->item_size);
		out = r->label_col < 0 ? x + (from - row0 * cols) : r->dbuf;
		decode(out, r->raw, k, r->dtype);
		if ((rc = check_block(r, out, k, from, err)) != HGQ_OK)
			return rc;
		if (r->label_col >= 0) {
			/* element g is row g / cols, column g % cols */
			size_t lc = (size_t)r->label_col;
			size_t row = from / cols - row0, c = from % cols;

			for (size_t j = 0; j < k; j++) {
				if (c == lc)
					y[row] = r->dbuf[j];
				else
					x[row * r->n_cols +
					    (c < lc ? c : c - 1)] = r->dbuf[j];
				if (++c == cols) {
					c = 0;
					row++;
				}
			}
		}
		from += k;
	}
	return HGQ_OK;
}

/* bin_read - up to max_rows whole rows of an npy or IDX file */
static int
bin_read(struct hgq_reader *r, double *x, double *y, size_t max_rows,
    size_t *n_read, struct hgq_err *err)
{
	size_t rows, cols = r->n_file_cols;
	int rc;

	rows = r->n_rows - r->row;
	if (rows > max_rows)
		rows = max_rows;
	/* (row + rows) * cols <= n_rows * cols, checked by bin_setup */
	rc = bin_fill(r, x, y, r->row, r->row * cols, (r->row + rows) * cols,
	    err);
	if (rc != HGQ_OK)
		return rc;
	r->row += rows;
	*n_read = rows;
	if (r->row == r->n_rows)
		return bin_check_end(r, err);
	return HGQ_OK;
}

/*
 * bin_setup - shared by npy and IDX once the header is parsed: check the
 * shape against overflow (rows*cols*itemsize and rows*cols*8 must fit),
 * allocate the raw block.
 */
static int
bin_setup(struct hgq_reader *r, uint64_t rows, uint64_t cols,
    struct hgq_err *err)
{
	size_t total, bytes;

	if (cols == 0)
		return fail(r, err, HGQ_EFORMAT, "%s: zero columns", r->name);
	if (cols > HGQ_DATA_MAX_COLS)
		return fail(r, err, HGQ_EFORMAT, "%s: too many columns (%llu, "
		    "limit %u)", r->name, (unsigned long long)cols,
		    HGQ_DATA_MAX_COLS);
	if (rows > SIZE_MAX || cols > SIZE_MAX ||
	    !mul_ok((size_t)rows, (size_t)cols, &total) ||
	    !mul_ok(total, sizeof(double), &bytes) ||
	    !mul_ok(total, r->item_size, &bytes))
		return fail(r, err, HGQ_EFORMAT,
		    "%s: absurd shape (%llu rows x %llu columns)", r->name,
		    (unsigned long long)rows, (unsigned long long)cols);
	r->n_rows = (size_t)rows;
	r->n_file_cols = (size_t)cols;
	r->swap = r->swap && r->item_size > 1;
	r->raw_items = RAW_BLOCK / r->item_size;
	if (r->raw_items > total)
		r->raw_items = total > 0 ? total : 1;	/* small files */
	r->raw = malloc(r->raw_items * r->item_size);
	if (r->raw == NULL)
		return fail(r, err, HGQ_ENOMEM, "%s: out of memory", r->name);
	return HGQ_OK;
}

/* ------------------------------------------------------------------ */
/* npy                                                                 */
/* ------------------------------------------------------------------ */

/*
 * The header is a Python dict literal, e.g.
 *   {'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }
 * We accept exactly the three keys numpy writes, each once, in any order,
 * with either quote character and any spacing; descr must be a plain
 * string (no structured dtypes) and shape a tuple of non-negative ints.
 */
struct npy_hdr {
	const char	*p, *end;
	char		 descr[16];
	int		 fortran;
	int		 rank;
	uint64_t	 dims[NPY_MAX_RANK];
	const char	*missing;	/* a key not given, or NULL */
	char		 unknown[32];	/* the unknown key met */
};

static void
hdr_ws(struct npy_hdr *h)
{
	while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' ||
	    *h->p == '\n' || *h->p == '\r'))
		h->p++;
}

static bool
hdr_char(struct npy_hdr *h, char c)
{
	hdr_ws(h);
	if (h->p < h->end && *h->p == c) {
		h->p++;
		return true;
	}
	return false;
}

/* a quoted string without escapes; false if malformed or too long */
static bool
hdr_string(struct npy_hdr *h, char *out, size_t out_size)
{
	char q;
	size_t n = 0;

	hdr_ws(h);
	if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
		return false;
	q = *h->p++;
	while (h->p < h->end && *h->p != q) {
		if (*h->p == '\\' || n + 1 >= out_size)
			return false;
		out[n++] = *h->p++;
	}
	if (h->p >= h->end)
		return false;
	h->p++;
	out[n] = '\0';
	return true;
}

static bool
hdr_word(struct npy_hdr *h, const char *w)
{
	size_t n = strlen(w);

	hdr_ws(h);
	if ((size_t)(h->end - h->p) >= n && memcmp(h->p, w, n) == 0) {
		h->p += n;
		return true;
	}
	return false;
}

static bool
hdr_shape(struct npy_hdr *h)
{
	h->rank = 0;
	if (!hdr_char(h, '('))
		return false;
	for (;;) {
		uint64_t v = 0;
		const char *start;

		if (hdr_char(h, ')'))
			break;
		if (h->rank == NPY_MAX_RANK)
			return false;
		hdr_ws(h);
		start = h->p;
		while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
			unsigned d = (unsigned)(*h->p++ - '0');

			if (v > (UINT64_MAX - d) / 10) {
				h->p = start;	/* point at the number */
				return false;
			}
			v = v * 10 + d;
		}
		if (h->p == start)
			return false;
		if (h->p < h->end && *h->p == 'L')	/* Python 2 long */
			h->p++;
		h->dims[h->rank++] = v;
		if (hdr_char(h, ','))
			continue;
		if (!hdr_char(h, ')'))
			return false;
		break;
	}
	/* "(3)" is an int, not a tuple: a 1-tuple needs its comma */
	return true;
}

/*
 * parse the dict; returns NULL or a static description of a syntax error
 * at h->p.  A key that is missing is left in h->missing.
 */
static const char *
npy_parse_header(struct npy_hdr *h)
{
	bool seen_descr = false, seen_fortran = false, seen_shape = false;
	char key[32];

	if (!hdr_char(h, '{'))
		return "expected '{'";
	for (;;) {
		if (hdr_char(h, '}'))
			break;
		if (!hdr_string(h, key, sizeof(key)))
			return "expected a quoted key";
		if (!hdr_char(h, ':'))
			return "expected ':' after a key";
		if (strcmp(key, "descr") == 0) {
			if (seen_descr)
				return "duplicate key 'descr'";
			seen_descr = true;
			hdr_ws(h);
			if (h->p < h->end && *h->p == '[')
				return "structured dtype";
			if (!hdr_string(h, h->descr, sizeof(h->descr)))
				return "bad 'descr' value";
		} else if (strcmp(key, "fortran_order") == 0) {
			if (seen_fortran)
				return "duplicate key 'fortran_order'";
			seen_fortran = true;
			if (hdr_word(h, "True"))
				h->fortran = 1;
			else if (hdr_word(h, "False"))
				h->fortran = 0;
			else
				return "bad 'fortran_order' value";
		} else if (strcmp(key, "shape") == 0) {
			if (seen_shape)
				return "duplicate key 'shape'";
			seen_shape = true;
			if (!hdr_shape(h))
				return "bad 'shape' value";
		} else {
			snprintf(h->unknown, sizeof(h->unknown), "%s", key);
			return "unknown key";
		}
		if (hdr_char(h, ','))
			continue;
		if (!hdr_char(h, '}'))
			return "expected ',' or '}'";
		break;
	}
	hdr_ws(h);
	if (h->p != h->end)
		return "text after the dict";
	if (!seen_descr)
		h->missing = "descr";
	else if (!seen_fortran)
		h->missing = "fortran_order";
	else if (!seen_shape)
		h->missing = "shape";
	return NULL;
}

/* descr "<f8" and friends to dtype, item size and byte order */
static int
npy_dtype(struct hgq_reader *r, const char *descr, struct hgq_err *err)
{
	static const struct {
		char	 kind;
		size_t	 size;
		int	 dtype;
	} types[] = {
		{ 'u', 1, DT_U8 }, { 'u', 2, DT_U16 }, { 'u', 4, DT_U32 },
		{ 'u', 8, DT_U64 }, { 'i', 1, DT_I8 }, { 'i', 2, DT_I16 },
		{ 'i', 4, DT_I32 }, { 'i', 8, DT_I64 }, { 'f', 2, DT_F16 },
		{ 'f', 4, DT_F32 }, { 'f', 8, DT_F64 }, { 'b', 1, DT_BOOL },
	};
	char order = descr[0];
	bool file_le;

	if (strlen(descr) == 3 && descr[2] >= '1' && descr[2] <= '8') {
		for (size_t j = 0; j < sizeof(types) / sizeof(types[0]); j++) {
			if (types[j].kind != descr[1] ||
			    types[j].size != (size_t)(descr[2] - '0'))
				continue;
			r->dtype = types[j].dtype;
			r->item_size = types[j].size;
			goto found;
		}
	}
	return fail(r, err, HGQ_EUNSUPP, "%s: unsupported dtype '%s'",
	    r->name, descr);
found:
	if (order == '<')
		file_le = true;
	else if (order == '>')
		file_le = false;
	else if (order == '=')
		file_le = host_is_le();
	else if (order == '|' && r->item_size == 1)
		file_le = true;			/* no byte order */
	else
		return fail(r, err, HGQ_EUNSUPP,
		    "%s: unsupported byte order in dtype '%s'", r->name, descr);
	r->swap = file_le != host_is_le();
	return HGQ_OK;
}

static int
npy_open(struct hgq_reader *r, struct hgq_err *err)
{
	unsigned char pre[12];
	struct npy_hdr h;
	const char *why;
	char *text = NULL;
	size_t got, len_size, hlen;
	uint64_t cols;
	int rc;

	if ((rc = src_read(r, pre, 8, &got, err)) != HGQ_OK)
		return rc;
	if (got < 8 || memcmp(pre, "\x93NUMPY", 6) != 0)
		return fail(r, err, HGQ_EFORMAT,
		    "%s: not an npy file (bad magic)", r->name);
	if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0)
		return fail(r, err, HGQ_EVERSION,
		    "%s: unsupported npy version %u.%u", r->name, pre[6],
		    pre[7]);
	len_size = pre[6] == 1 ? 2 : 4;
	if ((rc = src_read(r, pre + 8, len_size, &got, err)) != HGQ_OK)
		return rc;
	if (got < len_size)
		return fail(r, err, HGQ_EFORMAT, "%s: truncated npy header",
		    r->name);
	hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
	if (len_size == 4)
		hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
	if (hlen > NPY_MAX_HEADER)
		return fail(r, err, HGQ_EFORMAT,
		    "%s: npy header too long (%zu bytes, limit %u)", r->name,
		    hlen, NPY_MAX_HEADER);
	if ((text = malloc(hlen + 1)) == NULL)
		return fail(r, err, HGQ_ENOMEM, "%s: out of memory", r->name);
	if ((rc = src_read(r, text, hlen, &got, err)) != HGQ_OK)
		goto out;
	if (got < hlen) {
		rc = fail(r, err, HGQ_EFORMAT, "%s: truncated npy header",
		    r->name);
		goto out;
	}
	text[hlen] = '\0';
	if (memchr(text, '\0', hlen) != NULL) {
		rc = fail(r, err, HGQ_EFORMAT, "%s: npy header: NUL byte",
		    r->name);
		goto out;
	}
	memset(&h, 0, sizeof(h));
	h.p = text;
	h.end = text + hlen;
	if ((why = npy_parse_header(&h)) != NULL && h.unknown[0] != '\0') {
		rc = fail(r, err, HGQ_EFORMAT, "%s: npy header: unknown key "
		    "'%s'", r->name, h.unknown);
		goto out;
	}
	if (why != NULL) {
		rc = fail(r, err, HGQ_EFORMAT, "%s: npy header: %s near "
		    "offset %zu", r->name, why, (size_t)(h.p - text));
		goto out;
	}
	if (h.missing != NULL) {
		rc = fail(r, err, HGQ_EFORMAT, "%s: npy header: missing key "
		    "'%s'", r->name, h.missing);
		goto out;
	}
	if ((rc = npy_dtype(r, h.descr, err)) != HGQ_OK)
		goto out;
	if (h.fortran) {
		rc = fail(r, err, HGQ_EUNSUPP, "%s: Fortran order not "
		    "supported", r->name);
		goto out;
	}
	if (h.rank < 1 || h.rank > 4) {
		rc = fail(r, err, HGQ_EUNSUPP, "%s: npy array of rank %d "
		    "(only ranks 1 to 4 are supported)", r->name, h.rank);
		goto out;
	}
	/* rank r > 2: a sample has shape dims[1..r), flattened row-major */
	cols = 1;
	for (int j = 1; j < h.rank; j++)
		cols = h.dims[j] != 0 && cols > UINT64_MAX / h.dims[j] ?
		    UINT64_MAX : cols * h.dims[j];
	if (h.rank > 2) {
		r->s_rank = (uint32_t)h.rank - 1;
		for (int j = 1; j < h.rank && cols <= HGQ_DATA_MAX_COLS; j++)
			r->s_shape[j - 1] = (uint32_t)h.dims[j];
	}
	rc = bin_setup(r, h.dims[0], cols, err);
out:
	free(text);
	return rc;
}

/* ------------------------------------------------------------------ */
/* IDX                                                                 */
/* ------------------------------------------------------------------ */

/*
 * IDX (LeCun's MNIST format): bytes 00 00, a type code, the rank, then
 * rank big-endian u32 dimensions, then the items, big-endian.  Item i is
 * row i; the other dimensions are flattened into columns.
 */
static int
idx_open(struct hgq_reader *r, struct hgq_err *err)
{
	unsigned char hdr[4 + 4 * IDX_MAX_RANK];
	uint64_t cols = 1, d;
	size_t got, rank;
	int rc;

	if ((rc = src_read(r, hdr, 4, &got, err)) != HGQ_OK)
		return rc;
	if (got < 4 || hdr[0] != 0 || hdr[1] != 0)
		return fail(r, err, HGQ_EFORMAT,
		    "%s: not an IDX file (bad magic)", r->name);
	switch (hdr[2]) {
	case 0x08: r->dtype = DT_U8;  r->item_size = 1; break;
	case 0x09: r->dtype = DT_I8;  r->item_size = 1; break;
	case 0x0B: r->dtype = DT_I16; r->item_size = 2; break;
	case 0x0C: r->dtype = DT_I32; r->item_size = 4; break;
	case 0x0D: r->dtype = DT_F32; r->item_size = 4; break;
	case 0x0E: r->dtype = DT_F64; r->item_size = 8; break;
	default:
		return fail(r, err, HGQ_EUNSUPP,
		    "%s: unsupported IDX type 0x%02X", r->name, hdr[2]);
	}
	rank = hdr[3];
	if (rank == 0 || rank > IDX_MAX_RANK)
		return fail(r, err, HGQ_EFORMAT, "%s: bad IDX rank %zu",
		    r->name, rank);
	if ((rc = src_read(r, hdr + 4, 4 * rank, &got, err)) != HGQ_OK)
		return rc;
	if (got < 4 * rank)
		return fail(r, err, HGQ_EFORMAT, "%s: truncated IDX header",
		    r->name);
	for (size_t j = 1; j < rank; j++) {
		const unsigned char *b = hdr + 4 + 4 * j;

		d = (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 |
		    (uint64_t)b[2] << 8 | b[3];
		if (d != 0 && cols > UINT64_MAX / d)
			return fail(r, err, HGQ_EFORMAT,
			    "%s: absurd IDX dimensions", r->name);
		cols *= d;
		/* items of rank 2 are images [H, W] of one channel */
		if (rank == 3 && d > 0 && d <= HGQ_DATA_MAX_COLS)
			r->s_shape[j - 1] = (uint32_t)d;
	}
	if (rank == 3 && r->s_shape[0] > 0 && r->s_shape[1] > 0) {
		r->s_rank = 3;
		r->s_shape[2] = 1;
	} else {
		memset(r->s_shape, 0, sizeof(r->s_shape));
	}
	d = (uint64_t)hdr[4] << 24 | (uint64_t)hdr[5] << 16 |
	    (uint64_t)hdr[6] << 8 | hdr[7];
	r->swap = host_is_le();			/* IDX is big-endian */
	return bin_setup(r, d, cols, err);
}

/* ------------------------------------------------------------------ */
/* CSV                                                                 */
/* ------------------------------------------------------------------ */

enum num_status { NUM_OK, NUM_EMPTY, NUM_TEXT, NUM_NONFINITE, NUM_RANGE };

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * fast_decimal - Clinger's fast path: a plain decimal [+-]digits[.digits]
 * [e[+-]digits] whose digits form an integer m <= 2^53 and whose power
 * of ten p has |p| <= 22 is m * 10^p or m / 10^-p, one correctly rounded
 * IEEE operation on two exact operands, hence bit-identical to strtod.
 * Anything else (more digits, hex, inf, nan, a stray character after the
 * number) returns false and goes to strtod.  Four times faster than
 * strtod on typical CSV fields.
 */
static bool
fast_decimal(const char *s, const char **end, double *v)
{
	static const double pow10[23] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
		1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21,
		1e22,
	};
	const uint64_t max_m = (uint64_t)1 << 53;
	uint64_t m = 0;
	int p = 0, e = 0, n_digits = 0;
	bool neg = false, eneg = false;
	double d;

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
	return false;		/* x87 excess precision: no shortcut */
#endif
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	for (; *s >= '0' && *s <= '9'; s++, n_digits++) {
		m = m * 10 + (uint64_t)(*s - '0');
		if (m > max_m)
			return false;
	}
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++, n_digits++, p--) {
			m = m * 10 + (uint64_t)(*s - '0');
			if (m > max_m)
				return false;
		}
	if (n_digits == 0)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			eneg = *s++ == '-';
		if (*s < '0' || *s > '9')
			return false;
		for (; *s >= '0' && *s <= '9'; s++) {
			e = e * 10 + (*s - '0');
			if (e > 100)
				return false;
		}
		p += eneg ? -e : e;
	}
	if (*s != '\0' && *s != '"' && !is_blank(*s))
		return false;
	if (p < -22 || p > 22)
		return false;
	d = (double)m;			/* exact: m <= 2^53 */
	d = p < 0 ? d / pow10[-p] : d * pow10[p];
	*v = neg ? -d : d;
	*end = s;
	return true;
}

/*
 * parse_number - a whole field as a double.  Surrounding blanks and one
 * pair of double quotes are allowed; the rest must be what strtod takes.
 * The field is not modified, so it can be parsed twice (header guess).
 */
static int
parse_number(const char *s, double *v)
{
	bool quoted = false;
	const char *end;

	while (is_blank(*s))
		s++;
	if (*s == '"') {
		quoted = true;
		s++;
	}
	if (*s == '\0' || (quoted && *s == '"')) {
		s += *s != '\0';
		while (is_blank(*s))
			s++;
		return *s == '\0' ? NUM_EMPTY : NUM_TEXT;
	}
	if (!fast_decimal(s, &end, v)) {
		char *e;

		errno = 0;
		*v = strtod(s, &e);
		if (e == s)
			return NUM_TEXT;
		end = e;
	}
	if (quoted && *end++ != '"')
		return NUM_TEXT;
	while (is_blank(*end))
		end++;
	if (*end != '\0')
		return NUM_TEXT;
	if (isnan(*v))
		return NUM_NONFINITE;
	if (isinf(*v))
		return errno == ERANGE ? NUM_RANGE : NUM_NONFINITE;
	return NUM_OK;
}

/*
 * split_fields - cut line at the delimiters into NUL-terminated fields,
 * their starts stored in r->fields.  A field opened by a double quote
 * runs to the closing quote ("" inside is a literal quote), so a header
 * like "a,b",c has two fields.  At most max_store starts are stored (the
 * array grows up to that); *n counts all fields.
 */
static int
split_fields(struct hgq_reader *r, char *line, size_t max_store, size_t *n,
    struct hgq_err *err)
{
	char *p = line;
	size_t k = 0;

	for (;;) {
		char *start = p;

		while (*p == ' ' || (*p == '\t' && r->delim != '\t'))
			p++;
		if (*p == '"') {
			bool closed = false;

			for (p++; *p != '\0'; p++)
				if (*p == '"' && *++p != '"') {
					closed = true;
					break;
				}
			if (!closed)
				return fail(r, err, HGQ_EFORMAT,
				    "%s:%zu: field %zu: unterminated quote",
				    r->name, r->line_no, k + 1);
			while (*p != '\0' && *p != r->delim && is_blank(*p))
				p++;
			if (*p != '\0' && *p != r->delim)
				return fail(r, err, HGQ_EFORMAT,
				    "%s:%zu: field %zu: text after the "
				    "closing quote", r->name, r->line_no,
				    k + 1);
		} else {
			while (*p != '\0' && *p != r->delim)
				p++;
		}
		if (k < max_store) {
			if (k == r->fields_cap) {
				size_t cap = r->fields_cap ? 2 * r->fields_cap
				    : 64;
				char **nf;

				nf = hgq_reallocarray(r->fields, cap,
				    sizeof(*nf));
				if (nf == NULL)
					return fail(r, err, HGQ_ENOMEM,
					    "%s: out of memory", r->name);
				r->fields = nf;
				r->fields_cap = cap;
			}
			r->fields[k] = start;
		}
		k++;
		if (*p == '\0')
			break;
		*p++ = '\0';
	}
	*n = k;
	return HGQ_OK;
}

/* the line is blank (only spaces, tabs) or a comment ("# ...") */
static bool
skip_line(const char *s, bool *blank)
{
	while (*s == ' ' || *s == '\t')
		s++;
	*blank = *s == '\0';
	return *s == '\0' || *s == '#';
}

/* parse the fields of a split data row into xrow (and *yv) */
static int
csv_row(struct hgq_reader *r, size_t n_fields, double *xrow, double *yv,
    struct hgq_err *err)
{
	char q[40];
	double v;
	size_t c = 0;

	if (n_fields != r->n_file_cols)
		return fail(r, err, HGQ_EFORMAT,
		    "%s:%zu: ragged row (%zu fields, expected %zu)",
		    r->name, r->line_no, n_fields, r->n_file_cols);
	for (size_t k = 0; k < n_fields; k++) {
		switch (parse_number(r->fields[k], &v)) {
		case NUM_OK:
			break;
		case NUM_EMPTY:
			return fail(r, err, HGQ_EFORMAT,
			    "%s:%zu: field %zu: empty field", r->name,
			    r->line_no, k + 1);
		case NUM_TEXT:
			return fail(r, err, HGQ_EFORMAT,
			    "%s:%zu: field %zu: not a number '%s'", r->name,
			    r->line_no, k + 1,
			    quote_text(q, sizeof(q), r->fields[k]));
		case NUM_NONFINITE:
			return fail(r, err, HGQ_EINVAL,
			    "%s:%zu: field %zu: NaN/Inf not allowed",
			    r->name, r->line_no, k + 1);
		default:
			return fail(r, err, HGQ_EINVAL,
			    "%s:%zu: field %zu: number out of range '%s'",
			    r->name, r->line_no, k + 1,
			    quote_text(q, sizeof(q), r->fields[k]));
		}
		if ((int)k == r->label_col)
			*yv = v;
		else
			xrow[c++] = v;
	}
	return HGQ_OK;
}

/*
 * csv_next - the next data line, split: 1 with a line, 0 at the end.
 * Blank lines may only trail; "# ..." comment lines are skipped.
 */
static int
csv_next(struct hgq_reader *r, size_t *n_fields, struct hgq_err *err)
{
	char *line;
	size_t len;
	bool blank;
	int rc;

	for (;;) {
		if ((rc = next_line(r, &line, &len, err)) < 0)
			return rc;
		if (rc == 0) {
			if (r->gz_trunc)
				return fail(r, err, HGQ_EFORMAT,
				    "%s:%zu: gzip stream truncated", r->name,
				    r->line_no);
			return 0;
		}
		if (memchr(line, '\0', len) != NULL)
			return fail(r, err, HGQ_EFORMAT, "%s:%zu: NUL byte",
			    r->name, r->line_no);
		if (skip_line(line, &blank)) {
			if (blank && r->blank_line == 0)
				r->blank_line = r->line_no;
			continue;
		}
		if (r->blank_line != 0)
			return fail(r, err, HGQ_EFORMAT,
			    "%s:%zu: blank line inside the data", r->name,
			    r->blank_line);
		rc = split_fields(r, line, r->n_file_cols, n_fields, err);
		return rc != HGQ_OK ? rc : 1;
	}
}

/* pick the delimiter from the first line: tab, then ';', then ',' */
static char
csv_delim(const char *line)
{
	if (strchr(line, '\t') != NULL)
		return '\t';
	if (strchr(line, ';') != NULL)
		return ';';
	return ',';
}

static int
csv_set_cols(struct hgq_reader *r, size_t n, struct hgq_err *err)
{
	r->n_file_cols = n;
	if (r->label_col >= 0 && (size_t)r->label_col >= n)
		return fail(r, err, HGQ_EINVAL, "%s: label column index %d out "
		    "of range (%zu columns)", r->name, r->label_col, n);
	r->n_cols = r->label_col >= 0 ? n - 1 : n;
	if (r->n_cols == 0)
		return fail(r, err, HGQ_EINVAL,
		    "%s: no feature columns besides the label", r->name);
	r->pend_x = hgq_reallocarray(NULL, r->n_cols, sizeof(double));
	if (r->pend_x == NULL)
		return fail(r, err, HGQ_ENOMEM, "%s: out of memory", r->name);
	return HGQ_OK;
}

/*
 * csv_open - read up to the first data row, so that the column count is
 * known: the optional header (skipped: header = 1; recognised by a field
 * that is text: header = -1), then the first data row, parsed into
 * pend_x/pend_y and handed out by the first read.
 */
static int
csv_open(struct hgq_reader *r, int header, struct hgq_err *err)
{
	char *line = NULL;
	size_t len, n = 0;
	bool blank, is_header = header == 1;
	double v;
	int rc;

	/* the first line that is not blank or a comment (or line 1) */
	for (;;) {
		if ((rc = next_line(r, &line, &len, err)) < 0)
			return rc;
		if (rc == 0)
			break;
		if (r->line_no == 1 && len >= 3 &&
		    memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
			line += 3;			/* UTF-8 BOM */
			len -= 3;
		}
		if (memchr(line, '\0', len) != NULL)
			return fail(r, err, HGQ_EFORMAT, "%s:%zu: NUL byte",
			    r->name, r->line_no);
		if (header == 1 || !skip_line(line, &blank))
			break;
	}
	if (rc == 0) {
		if (r->gz_trunc)
			return fail(r, err, HGQ_EFORMAT,
			    "%s: gzip stream truncated", r->name);
		return fail(r, err, HGQ_EFORMAT, "%s: no data", r->name);
	}
	if (header == 1 && skip_line(line, &blank) && blank)
		return fail(r, err, HGQ_EFORMAT, "%s:1: blank header line",
		    r->name);
	r->delim = csv_delim(line);
	if ((rc = split_fields(r, line, MAX_FIELDS, &n, err)) != HGQ_OK)
		return rc;
	if (n > MAX_FIELDS)
		return fail(r, err, HGQ_EFORMAT, "%s:%zu: too many columns "
		    "(%zu, limit %u)", r->name, r->line_no, n, MAX_FIELDS);
	/*
	 * auto: a header iff some field is text and none is a number, so
	 * that a typo in the first data row ("1,2,3x") is reported as an
	 * error rather than taken for a header and silently dropped
	 */
	if (header == -1) {
		bool text = false, number = false;

		for (size_t k = 0; k < n; k++) {
			int kind = parse_number(r->fields[k], &v);

			text |= kind == NUM_TEXT;
			number |= kind == NUM_OK;
		}
		is_header = text && !number;
	}
	if ((rc = csv_set_cols(r, n, err)) != HGQ_OK)
		return rc;
	if (is_header) {
		if ((rc = csv_next(r, &n, err)) < 0)
			return rc;
		if (rc == 0)
			return HGQ_OK;		/* a header and no rows */
	}
	if ((rc = csv_row(r, n, r->pend_x, &r->pend_y, err)) != HGQ_OK)
		return rc;
	r->has_pend = true;
	return HGQ_OK;
}

static int
csv_read(struct hgq_reader *r, double *x, double *y, size_t max_rows,
    size_t *n_read, struct hgq_err *err)
{
	size_t rows = 0, n;
	double dummy;
	int rc;

	if (r->has_pend) {
		memcpy(x, r->pend_x, r->n_cols * sizeof(double));
		if (r->label_col >= 0)
			y[0] = r->pend_y;
		r->has_pend = false;
		rows = 1;
	}
	while (rows < max_rows) {
		if ((rc = csv_next(r, &n, err)) < 0)
			return rc;
		if (rc == 0) {
			r->state = ST_DONE;
			break;
		}
		rc = csv_row(r, n, x + rows * r->n_cols,
		    r->label_col >= 0 ? y + rows : &dummy, err);
		if (rc != HGQ_OK)
			return rc;
		rows++;
	}
	r->row += rows;
	*n_read = rows;
	return HGQ_OK;
}

/* ------------------------------------------------------------------ */
/* The reader                                                          */
/* ------------------------------------------------------------------ */

void
hgq_data_opts_init(struct hgq_data_opts *o)
{
	o->kind = HGQ_DATA_AUTO;
	o->label_col = -1;
	o->header = -1;
}

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * The kind of the input: by its first (decompressed) bytes, then by its
 * name.  An input starting 00 00 can only be IDX (a text file has no NUL
 * at its start); a name ending in .npy makes a bad magic an npy error.
 */
static int
guess_kind(const struct hgq_reader *r, const char *path)
{
	const unsigned char *b = r->buf + r->buf_pos;
	size_t n = r->buf_len - r->buf_pos;
	const char *base = strrchr(path, '/');

	if (n >= 6 && memcmp(b, "\x93NUMPY", 6) == 0)
		return HGQ_DATA_NPY;
	if (n >= 2 && b[0] == 0 && b[1] == 0)
		return HGQ_DATA_IDX;
	base = base ? base + 1 : path;
	if (has_suffix(base, ".npy") || has_suffix(base, ".npy.gz"))
		return HGQ_DATA_NPY;
	if (strstr(base, "-idx") != NULL || has_suffix(base, ".idx") ||
	    has_suffix(base, ".idx.gz"))
		return HGQ_DATA_IDX;
	return HGQ_DATA_CSV;
}

int
hgq_reader_open(struct hgq_reader **rp, const char *path,
    const struct hgq_data_opts *o, struct hgq_err *err)
{
	struct hgq_data_opts def;
	struct hgq_reader *r;
	struct stat st;
	bool is_stdin;
	int fd, rc;

	*rp = NULL;
	if (path == NULL)
		path = "-";
	is_stdin = strcmp(path, "-") == 0;
	if (o == NULL) {
		hgq_data_opts_init(&def);
		o = &def;
	}
	if (o->kind < HGQ_DATA_AUTO || o->kind > HGQ_DATA_IDX ||
	    o->header < -1 || o->header > 1 || o->label_col < -1)
		return hgq_errf(err, HGQ_EINVAL, "%s: bad data options",
		    is_stdin ? "standard input" : path);
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->name = strdup(is_stdin ? "standard input" : path)) == NULL ||
	    (r->buf = malloc(SRC_BUF_SIZE + 1)) == NULL) {
		if (r != NULL)
			free(r->name);
		free(r);
		return hgq_errf(err, HGQ_ENOMEM, "%s: out of memory", path);
	}
	r->magic = READER_MAGIC;
	r->buf_cap = SRC_BUF_SIZE;
	r->label_col = o->label_col;

	/* dup stdin so that gzclose does not close the caller's fd 0 */
	fd = is_stdin ? dup(STDIN_FILENO) : open(path, O_RDONLY);
	if (fd < 0) {
		rc = fail(r, err, HGQ_EIO, "%s: cannot open: %s", r->name,
		    strerror(errno));
		goto bad;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		r->file_size = (uint64_t)st.st_size;
	if ((r->gz = gzdopen(fd, "rb")) == NULL) {
		close(fd);
		rc = fail(r, err, HGQ_ENOMEM, "%s: out of memory", r->name);
		goto bad;
	}
	gzbuffer(r->gz, GZ_BUF_SIZE);

	if ((rc = src_peek(r, 8, err)) != HGQ_OK)
		goto bad;
	r->kind = o->kind != HGQ_DATA_AUTO ? o->kind : guess_kind(r, path);
	switch (r->kind) {
	case HGQ_DATA_NPY:
		rc = npy_open(r, err);
		break;
	case HGQ_DATA_IDX:
		rc = idx_open(r, err);
		break;
	default:
		rc = csv_open(r, o->header, err);
		break;
	}
	if (rc != HGQ_OK)
		goto bad;
	if (r->kind != HGQ_DATA_CSV) {
		/* the shared column bookkeeping of the binary kinds */
		if (r->label_col >= 0 &&
		    (size_t)r->label_col >= r->n_file_cols) {
			rc = fail(r, err, HGQ_EINVAL, "%s: label column index "
			    "%d out of range (%zu columns)", r->name,
			    r->label_col, r->n_file_cols);
			goto bad;
		}
		r->n_cols = r->n_file_cols - (r->label_col >= 0);
		if (r->n_cols == 0) {
			rc = fail(r, err, HGQ_EINVAL, "%s: no feature columns "
			    "besides the label", r->name);
			goto bad;
		}
		if (r->label_col >= 0 &&
		    (r->dbuf = hgq_reallocarray(NULL, r->raw_items,
		    sizeof(double))) == NULL) {
			rc = fail(r, err, HGQ_ENOMEM, "%s: out of memory",
			    r->name);
			goto bad;
		}
		/* an empty array: check the end right away */
		if (r->n_rows == 0 && (rc = bin_check_end(r, err)) != HGQ_OK)
			goto bad;
	}
	*rp = r;
	return HGQ_OK;
bad:
	hgq_reader_close(r);
	return rc;
}

size_t
hgq_reader_cols(const struct hgq_reader *r)
{
	check_magic(r);
	return r->n_cols;
}

size_t
hgq_reader_row(const struct hgq_reader *r)
{
	check_magic(r);
	return r->row;
}

int
hgq_reader_read(struct hgq_reader *r, double *x, double *y,
    size_t max_rows, size_t *n_read, struct hgq_err *err)
{
	check_magic(r);
	*n_read = 0;
	if (r->state == ST_FAILED) {
		if (err != NULL)
			*err = r->saved;
		return r->saved.code;
	}
	if (max_rows == 0 || x == NULL || (r->label_col >= 0 && y == NULL))
		return hgq_errf(err, HGQ_EINVAL, "%s: bad read arguments",
		    r->name);
	if (r->state == ST_DONE)
		return HGQ_OK;
	if (r->kind == HGQ_DATA_CSV)
		return csv_read(r, x, y, max_rows, n_read, err);
	return bin_read(r, x, y, max_rows, n_read, err);
}

void
hgq_reader_close(struct hgq_reader *r)
{
	if (r == NULL)
		return;
	check_magic(r);
	if (r->gz != NULL)
		gzclose(r->gz);
	free(r->name);
	free(r->buf);
	free(r->raw);
	free(r->dbuf);
	free(r->fields);
	free(r->pend_x);
	r->magic = 0;
	free(r);
}

/* ------------------------------------------------------------------ */
/* Whole tables                                                        */
/* ------------------------------------------------------------------ */

/*
 * A big table is written once, front to back, into fresh memory.  In a
 * virtual machine the first touch of each 4 KiB page can cost more than
 * decompressing and converting the data (Fashion-MNIST's 376 MB of
 * doubles: about 1 s of page faults, against 0.2 s for our work).  Asking
 * for transparent huge pages cuts the faults 512-fold.  Only advice: on
 * failure, or where MADV_HUGEPAGE does not exist, nothing changes.
 */
static void
advise_huge(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
	uintptr_t start, end;
	long page = sysconf(_SC_PAGESIZE);

	if (bytes < ((size_t)8 << 20) || page <= 0)
		return;
	start = ((uintptr_t)p + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
	end = ((uintptr_t)p + bytes) & ~((uintptr_t)page - 1);
	if (end > start)
		(void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
	(void)p;
	(void)bytes;
#endif
}

/* resize x to nx doubles and, when with_y, y to ny doubles */
static int
table_resize(struct hgq_table *t, size_t nx, size_t ny, bool with_y,
    const char *name, struct hgq_err *err)
{
	double *p;

	if ((p = hgq_reallocarray(t->x, nx, sizeof(double))) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "%s: out of memory for %zu "
		    "values", name, nx);
	t->x = p;
	advise_huge(p, nx * sizeof(double));
	if (with_y) {
		if ((p = hgq_reallocarray(t->y, ny, sizeof(double))) == NULL)
			return hgq_errf(err, HGQ_ENOMEM, "%s: out of memory",
			    name);
		t->y = p;
	}
	return HGQ_OK;
}

/*
 * An npy or IDX file whole.  The header's shape sizes the first
 * allocation, but no larger than the data the file can hold: a regular
 * file of S bytes holds at most S bytes of raw data, or 1032 S if it is
 * gzip (deflate's largest ratio).  On a pipe the first allocation is
 * capped at LOAD_FIRST elements (1 GiB of address space, which costs
 * nothing until touched).  Then the buffer doubles as data actually
 * arrives - which only happens with a lying header or a huge pipe, since
 * growing copies and faults in fresh pages, which is slow.
 */
static int
table_load_bin(struct hgq_reader *r, struct hgq_table *t, bool with_y,
    struct hgq_err *err)
{
	size_t cols = r->n_file_cols, total = r->n_rows * cols;
	size_t cap = total < LOAD_FIRST ? total : LOAD_FIRST, done = 0;
	uint64_t limit = r->file_size;
	int rc;

	if (limit > 0) {
		if (gzdirect(r->gz) == 0)
			limit = limit > UINT64_MAX / 1032 ? UINT64_MAX :
			    limit * 1032;
		limit = limit / r->item_size + 1;	/* elements */
		cap = (uint64_t)total <= limit ? total : (size_t)limit;
	}

	/* x never needs more than cap doubles, y one per row begun */
	if (cap == 0)
		cap = 1;
	if ((rc = table_resize(t, cap, cap / cols + 1, with_y, r->name,
	    err)) != HGQ_OK)
		return rc;
	while (done < total) {
		if (done == cap) {
			cap = cap > total / 2 ? total : 2 * cap;
			rc = table_resize(t, cap, cap / cols + 1, with_y,
			    r->name, err);
			if (rc != HGQ_OK)
				return rc;
		}
		if ((rc = bin_fill(r, t->x, t->y, 0, done, cap, err)) != HGQ_OK)
			return rc;
		done = cap;
	}
	r->row = r->n_rows;
	t->n_rows = r->n_rows;
	if (r->state == ST_OPEN && (rc = bin_check_end(r, err)) != HGQ_OK)
		return rc;
	if (with_y && r->n_rows > 0)	/* give back the label column */
		(void)table_resize(t, r->n_rows * r->n_cols, r->n_rows, true,
		    r->name, NULL);
	return HGQ_OK;
}

/*
 * A CSV whole: rows of n_cols doubles.  A row of c fields takes at least
 * 2c bytes ("1,2\n"), so an uncompressed regular file of S bytes has at
 * most S / 2c + 1 rows: that many are allocated at once (untouched pages
 * cost nothing), and what is left over is given back at the end.  Other
 * inputs start at CSV_FIRST_BYTES and double.
 */
static int
table_load_csv(struct hgq_reader *r, struct hgq_table *t, bool with_y,
    struct hgq_err *err)
{
	size_t cap, n = 0, got, cols = r->n_cols;
	int rc;

	/* cols <= MAX_FIELDS: no overflow in cap * cols below */
	cap = CSV_FIRST_BYTES / (cols * sizeof(double));
	if (r->file_size > 0 && gzdirect(r->gz) == 1 &&
	    r->file_size / 2 / r->n_file_cols < SIZE_MAX / 8 / cols)
		cap = (size_t)(r->file_size / 2 / r->n_file_cols) + 1;
	if (cap == 0)
		cap = 1;
	if ((rc = table_resize(t, cap * cols, cap, with_y, r->name, err))
	    != HGQ_OK)
		return rc;
	for (;;) {
		if (n == cap) {
			if (cap > SIZE_MAX / 2 / cols / sizeof(double))
				return hgq_errf(err, HGQ_ENOMEM, "%s: out of "
				    "memory", r->name);
			cap *= 2;
			rc = table_resize(t, cap * cols, cap, with_y, r->name,
			    err);
			if (rc != HGQ_OK)
				return rc;
		}
		rc = hgq_reader_read(r, t->x + n * cols, with_y ? t->y + n :
		    NULL, cap - n, &got, err);
		if (rc != HGQ_OK)
			return rc;
		if (got == 0)
			break;
		n += got;
	}
	t->n_rows = n;
	if (n > 0 && n < cap)	/* give back what was over-allocated */
		(void)table_resize(t, n * cols, n, with_y, r->name, NULL);
	return HGQ_OK;
}

int
hgq_table_load(const char *path, const struct hgq_data_opts *o,
    struct hgq_table *t, struct hgq_err *err)
{
	struct hgq_reader *r;
	bool with_y;
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = hgq_reader_open(&r, path, o, err)) != HGQ_OK)
		return rc;
	t->n_cols = r->n_cols;
	with_y = r->label_col >= 0;
	/* a label column takes an element away: the rows are flat then */
	t->rank = 1;
	t->shape[0] = (uint32_t)r->n_cols;
	if (r->s_rank > 1 && !with_y) {
		t->rank = r->s_rank;
		memcpy(t->shape, r->s_shape, sizeof(t->shape));
	}
	if (r->kind == HGQ_DATA_CSV)
		rc = table_load_csv(r, t, with_y, err);
	else
		rc = table_load_bin(r, t, with_y, err);
	hgq_reader_close(r);
	if (rc != HGQ_OK)
		hgq_table_release(t);
	return rc;
}

void
hgq_table_release(struct hgq_table *t)
{
	if (t == NULL)
		return;
	free(t->x);
	free(t->y);
	memset(t, 0, sizeof(*t));
}

/* ------------------------------------------------------------------ */
/* npy writer                                                          */
/* ------------------------------------------------------------------ */

/*
 * The header as numpy >= 1.24 writes it: the dict with sorted keys and a
 * trailing ", ", then spaces so that the row count can grow to 21 digits
 * in place, then spaces and a final '\n' so that the whole preamble
 * (magic, version, length, header) is a multiple of 64 bytes.  Like
 * numpy, a header that would already end on a boundary gets a full 64
 * more bytes of padding.
 */
static int
npy_write_header(FILE *f, const char *descr, size_t rows, size_t cols,
    struct hgq_err *err)
{
	char text[256], pre[10], digits[32];
	int n, nd;
	size_t hlen, pad;

	if (cols == 0)
		n = snprintf(text, sizeof(text), "{'descr': '%s', "
		    "'fortran_order': False, 'shape': (%zu,), }", descr, rows);
	else
		n = snprintf(text, sizeof(text), "{'descr': '%s', "
		    "'fortran_order': False, 'shape': (%zu, %zu), }", descr,
		    rows, cols);
	if (n < 0 || (size_t)n >= sizeof(text) - 32)
		return hgq_errf(err, HGQ_EINVAL, "npy header too long");
	/* growth room: 21 digits minus those of the row count */
	nd = snprintf(digits, sizeof(digits), "%zu", rows);
	while (nd++ < 21)
		text[n++] = ' ';
	hlen = (size_t)n + 1;				/* + '\n' */
	pad = 64 - (10 + hlen) % 64;
	memcpy(pre, "\x93NUMPY\x01\x00", 8);
	pre[8] = (char)((hlen + pad) & 0xff);
	pre[9] = (char)((hlen + pad) >> 8);
	if (fwrite(pre, 1, 10, f) != 10 ||
	    fwrite(text, 1, (size_t)n, f) != (size_t)n)
		goto ioerr;
	for (size_t j = 0; j < pad; j++)
		if (putc(' ', f) == EOF)
			goto ioerr;
	if (putc('\n', f) == EOF)
		goto ioerr;
	return HGQ_OK;
ioerr:
	return hgq_errf(err, HGQ_EIO, "cannot write npy: %s", strerror(errno));
}

/* n 8-byte values to little-endian bytes, in blocks through a buffer */
static int
npy_write_data(FILE *f, const void *data, size_t n, struct hgq_err *err)
{
	unsigned char block[8192];
	const unsigned char *p = data;
	bool le = host_is_le();

	while (n > 0) {
		size_t k = n < sizeof(block) / 8 ? n : sizeof(block) / 8;

		memcpy(block, p, k * 8);
		if (!le)
			swap_items(block, k, 8);
		if (fwrite(block, 8, k, f) != k)
			return hgq_errf(err, HGQ_EIO, "cannot write npy: %s",
			    strerror(errno));
		p += k * 8;
		n -= k;
	}
	return HGQ_OK;
}

static int
npy_write(FILE *f, const char *descr, const void *x, size_t rows,
    size_t cols, struct hgq_err *err)
{
	size_t n, bytes;
	int rc;

	if (!mul_ok(rows, cols == 0 ? 1 : cols, &n) || !mul_ok(n, 8, &bytes))
		return hgq_errf(err, HGQ_EINVAL, "npy shape too large");
	if ((rc = npy_write_header(f, descr, rows, cols, err)) != HGQ_OK)
		return rc;
	return npy_write_data(f, x, n, err);
}

/*
 * Streaming npy writer: the header goes out first with 0 rows and, since
 * its length does not depend on the count (npy_write_header pads the
 * count to 21 digits), is written again in place with the real count by
 * hgq_npy_writer_close; the rows go out as they come, straight from the
 * caller's array on a little-endian host.
 */
struct hgq_npy_writer {
	FILE		*f;
	const char	*descr;
	size_t		 cols;		/* 0: a 1-D array */
	size_t		 rows;
	off_t		 start;		/* of the header in f */
};

int
hgq_npy_writer_open(struct hgq_npy_writer **wp, FILE *f, int i64,
    size_t cols, struct hgq_err *err)
{
	struct hgq_npy_writer *w;
	int rc;

	*wp = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	w->f = f;
	w->descr = i64 ? "<i8" : "<f8";
	w->cols = cols;
	if ((w->start = ftello(f)) < 0) {
		free(w);
		return hgq_errf(err, HGQ_EIO, "cannot write npy: the output "
		    "is not seekable: %s", strerror(errno));
	}
	if ((rc = npy_write_header(f, w->descr, 0, cols, err)) != HGQ_OK) {
		free(w);
		return rc;
	}
	*wp = w;
	return HGQ_OK;
}

int
hgq_npy_writer_add(struct hgq_npy_writer *w, const void *x, size_t rows,
    struct hgq_err *err)
{
	size_t n, bytes, total;
	int rc;

	if (!mul_ok(rows, w->cols == 0 ? 1 : w->cols, &n) ||
	    !mul_ok(n, 8, &bytes) || !mul_ok(w->rows + rows, w->cols == 0 ?
	    1 : w->cols, &total) || !mul_ok(total, 8, &bytes))
		return hgq_errf(err, HGQ_EINVAL, "npy shape too large");
	if (host_is_le()) {
		if (n > 0 && fwrite(x, 8, n, w->f) != n)
			return hgq_errf(err, HGQ_EIO, "cannot write npy: %s",
			    strerror(errno));
	} else if ((rc = npy_write_data(w->f, x, n, err)) != HGQ_OK) {
		return rc;
	}
	w->rows += rows;
	return HGQ_OK;
}

int
hgq_npy_writer_close(struct hgq_npy_writer *w, struct hgq_err *err)
{
	int rc = HGQ_OK;

	if (w == NULL)
		return HGQ_OK;
	if (fflush(w->f) != 0 || fseeko(w->f, w->start, SEEK_SET) != 0)
		rc = hgq_errf(err, HGQ_EIO, "cannot write npy: %s",
		    strerror(errno));
	else if ((rc = npy_write_header(w->f, w->descr, w->rows, w->cols,
	    err)) == HGQ_OK && fseeko(w->f, 0, SEEK_END) != 0)
		rc = hgq_errf(err, HGQ_EIO, "cannot write npy: %s",
		    strerror(errno));
	free(w);
	return rc;
}

int
hgq_npy_write_f64(FILE *f, const double *x, size_t rows, size_t cols,
    struct hgq_err *err)
{
	return npy_write(f, "<f8", x, rows, cols, err);
}

int
hgq_npy_write_i64(FILE *f, const int64_t *x, size_t rows, size_t cols,
    struct hgq_err *err)
{
	return npy_write(f, "<i8", x, rows, cols, err);
}
