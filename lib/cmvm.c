/*
 * cmvm.c - constant matrix-vector multiplication as a shared adder graph.
 *
 * y_j = sum_i x_i * w_ij with W constant: every weight is written in
 * canonical signed digits (NAF), so that y_j is a sum of terms
 * +-x_i * 2^p.  Pairs of terms "x_a +- x_b * 2^s" that occur at least twice
 * (in one or several columns) are extracted greedily as new rows (common
 * sub-expressions), best score first; what is left of every column is
 * summed by a latency-balanced tree.  rtl-notes.md sections 1.3-1.6.
 *
 * Vocabulary:
 *   row     an operand: an input x_i or an extracted sub-expression; it
 *           carries its exact value interval (struct hgq_ival) and its
 *           adder depth.
 *   digit   (row, pos, sign) in a column: the term sign * row * 2^pos.
 *   key     a pair pattern (r0, r1, s, sub): row r0's digit at p and row
 *           r1's digit at p + s, with opposite signs when sub.  Extracting
 *           it creates the row r0 + (-1)^sub * r1 * 2^s, whose digit takes
 *           the place (p, sign of r0's digit) of both.
 *
 * Counting.  Digits of a row are created with the row and only ever
 * removed, so the count of a key between existing rows can only go down,
 * and a key involving a new row is largest when the row is created.  So:
 *   - rows keep their digits as bitsets over the columns, one per
 *     (position, sign); the count of any key is a few AND + popcount;
 *   - only keys with a count >= 2 at creation are stored; a new row's keys
 *     are counted over its own columns only (a local hash), never by
 *     rescanning the table;
 *   - nothing is decremented: a queued score is an upper bound, and a
 *     popped key is recounted (cheap) and its extractable occurrences
 *     found (the set bits of the ANDs) before it is taken; if it fell, it
 *     is queued again with its true score.  Since the best key's bound is
 *     exact when it is taken, this picks what a fully updated table would.
 * The queue holds one bucket per score (small integers); among equal
 * scores the newest key wins, which grows sub-expressions of recent rows
 * (measured: clearly better than any other order tried).
 *
 * Depth.  The remaining terms of a column with depths d_t can be summed by
 * a tree of depth ceil(log2(sum_t 2^d_t)) and no less (Kraft); the tree
 * stage reaches that bound.  Each column keeps that sum; an occurrence is
 * extracted only when the column stays within the allowed depth (the
 * minimal depth without sharing plus max_extra_depth).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hgq.h"

#define MAX_ROWS	((1u << 24) - 1)	/* rows fit a key's 24 bits */
#define MAX_POS		8000			/* |digit position| */
#define MAX_DEPTH	60			/* 2^depth fits the sums */
#define IVAL_LIMIT	((int64_t)1 << 62)

/* ------------------------------------------------------------------ */
/* Intervals                                                           */
/* ------------------------------------------------------------------ */

int
hgq_ival_width(int64_t lo, int64_t hi, int *sgn)
{
	int w = 0;

	if (sgn != NULL)
		*sgn = lo < 0;
	if (lo < 0) {
		/* smallest w with -2^(w-1) <= lo and hi < 2^(w-1) */
		w = 1;
		while (w < 64 && ((lo < -((int64_t)1 << (w - 1))) ||
		    (hi >= 0 && (hi >> (w - 1)) != 0)))
			w++;
		return w;
	}
	while (w < 63 && (hi >> w) != 0)
		w++;
	return w;
}

/* v * 2^s for 0 <= s, refusing results outside (-2^62, 2^62) */
static int
shl_checked(int64_t v, int s, __int128 *out)
{
	__int128 r = v;

	if (v == 0) {
		*out = 0;
		return 0;
	}
	if (s > 62)
		return -1;
	r *= (__int128)1 << s;
	if (r >= IVAL_LIMIT || r <= -IVAL_LIMIT)
		return -1;
	*out = r;
	return 0;
}

int
hgq_ival_add(struct hgq_ival *out, const struct hgq_ival *a,
    const struct hgq_ival *b, int shift, int sub)
{
	__int128 alo, ahi, blo, bhi, lo, hi;
	int64_t eb = (int64_t)b->e + shift;
	int64_t eo = a->e < eb ? a->e : eb;

	if (eb > INT32_MAX / 2 || eb < INT32_MIN / 2)
		return HGQ_ERANGE;
	if (shl_checked(a->lo, (int)(a->e - eo), &alo) != 0 ||
	    shl_checked(a->hi, (int)(a->e - eo), &ahi) != 0 ||
	    shl_checked(b->lo, (int)(eb - eo), &blo) != 0 ||
	    shl_checked(b->hi, (int)(eb - eo), &bhi) != 0)
		return HGQ_ERANGE;
	if (sub) {
		lo = alo - bhi;
		hi = ahi - blo;
	} else {
		lo = alo + blo;
		hi = ahi + bhi;
	}
	if (lo <= -IVAL_LIMIT || hi >= IVAL_LIMIT)
		return HGQ_ERANGE;
	out->lo = (int64_t)lo;
	out->hi = (int64_t)hi;
	out->e = (int32_t)eo;
	return HGQ_OK;
}

/*
 * The adder that computes out = a +- b * 2^shift spans the result's bits
 * from the first position where both operands may hold non-zero bits; the
 * low bits of the finer operand pass through as wires when that operand
 * is added (not subtracted).  When the coarse operand is added and the
 * fine one is unsigned and ends below it, the sum is a concatenation.
 * verilog.c emits this split (cut to the bits the consumers read, see
 * hgq_ir_add_split); ir.c counts its LUTs.
 */
int
hgq_add_span(const struct hgq_ival *a, const struct hgq_ival *b, int shift,
    int sub, const struct hgq_ival *out, int *low)
{
	int wo = hgq_ival_width(out->lo, out->hi, NULL);
	int64_t pa = (int64_t)a->e - out->e;
	int64_t pb = (int64_t)b->e + shift - out->e;
	const struct hgq_ival *fine;
	int fine_sgn, wf;
	int64_t l;

	*low = 0;
	if (pa == pb)
		return wo;
	if (pa < pb) {
		fine = a;
		l = pb;
	} else {
		if (sub)
			return wo;	/* -b's low bits need the carry chain */
		fine = b;
		l = pa;
	}
	if (l >= wo) {
		*low = wo;
		return 0;
	}
	*low = (int)l;
	wf = hgq_ival_width(fine->lo, fine->hi, &fine_sgn);
	/* coarse operand added, fine one unsigned below it: concatenation */
	if (!fine_sgn && wf <= l && !(sub && fine == a))
		return 0;
	return wo - (int)l;
}

/* ------------------------------------------------------------------ */
/* Hash table of packed 64-bit keys -> uint32 values                   */
/* ------------------------------------------------------------------ */

struct hslot {
	uint64_t	key;	/* 0 = empty (no valid key packs to 0) */
	uint32_t	val;
};

struct htab {
	struct hslot	*s;
	size_t		 mask, n;
};

static inline size_t
hash64(uint64_t k)
{
	k ^= k >> 31;
	k *= 0x9e3779b97f4a7c15ull;
	k ^= k >> 29;
	return (size_t)k;
}

static int
htab_init(struct htab *h, size_t want)
{
	size_t cap = 64;

	while (cap < want * 2)
		cap <<= 1;
	h->s = hgq_calloc(cap, sizeof(*h->s));
	h->mask = cap - 1;
	h->n = 0;
	return h->s == NULL ? -1 : 0;
}

static inline struct hslot *
htab_find(const struct htab *h, uint64_t key)
{
	size_t j = hash64(key) & h->mask;

	for (;;) {
		struct hslot *s = &h->s[j];

		if (s->key == key)
			return s;
		if (s->key == 0)
			return NULL;
		j = (j + 1) & h->mask;
	}
}

static int
htab_grow(struct htab *h)
{
	struct hslot *old = h->s;
	size_t ocap = h->mask + 1, cap = ocap * 2;

	if ((h->s = hgq_calloc(cap, sizeof(*h->s))) == NULL) {
		h->s = old;
		return -1;
	}
	h->mask = cap - 1;
	for (size_t j = 0; j < ocap; j++) {
		size_t t;

		if (old[j].key == 0)
			continue;
		t = hash64(old[j].key) & h->mask;
		while (h->s[t].key != 0)
			t = (t + 1) & h->mask;
		h->s[t] = old[j];
	}
	free(old);
	return 0;
}

/* insert a key known to be absent */
static int
htab_put(struct htab *h, uint64_t key, uint32_t val)
{
	size_t j;

	if ((h->n + 1) * 2 > h->mask + 1 && htab_grow(h) != 0)
		return -1;
	j = hash64(key) & h->mask;
	while (h->s[j].key != 0)
		j = (j + 1) & h->mask;
	h->s[j].key = key;
	h->s[j].val = val;
	h->n++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Solver state                                                        */
/* ------------------------------------------------------------------ */

/*
 * A row keeps its digits as bitsets over the columns, one per (position,
 * sign): bit c of bits[((p - pbase) * 2 + neg) * W + c / 64] says "the row
 * has the digit (-1)^neg * 2^p in column c".  A pair count is then a few
 * AND + popcount, and the occurrences of a key are the set bits of
 * the ANDs.  Columns list their live digits too, for pairing a new row
 * with everything beside it and for the final trees.
 */
struct row {
	uint64_t	*bits;
	int32_t		 pbase, npos;	/* positions [pbase, pbase+npos) */
	int32_t		 lsb, msb;	/* bit positions of the value */
};

struct cdig {
	int32_t		 row;
	int16_t		 pos;
	int8_t		 sign;		/* +1 or -1 */
};

struct column {
	struct cdig	*d;
	uint32_t	 n, cap;
	uint64_t	 sum2;	/* sum over live digits of 2^depth(row) */
};

/* a stored key; count is an upper bound of its occurrences */
struct key {
	int32_t		 r0, r1, shift;
	int32_t		 count;
	uint32_t	 weight;
	uint8_t		 sub;
};

/*
 * The priority queue: one bucket per score (count x weight, a small
 * integer, clamped to MAX_SCORE); ties go to the newest key.  New keys
 * arrive in increasing index order and are stacked on `fresh`; a key
 * queued again with a lower score goes to its bucket's max-heap.
 */
#define MAX_SCORE	(1u << 20)

struct bucket {
	uint32_t	*fresh;		/* increasing key index */
	uint32_t	 n_fresh, cap_fresh;
	uint32_t	*heap;		/* max-heap of key index */
	uint32_t	 n_heap, cap_heap;
};

/* a local counter for the keys of one new row */
struct lslot {
	uint64_t	 key;
	uint32_t	 gen;
	int32_t		 count;
};

/* an occurrence found for extraction: r0's digit (col, pos, sign) */
struct occ {
	uint32_t	 col;
	int32_t		 pos;
	int8_t		 sign;
};

struct solver {
	uint32_t		 n_in, n_out;
	uint32_t		 W;		/* words per column bitset */
	int			 method;
	int			 allowed;	/* max depth; INT32_MAX: none */
	struct column		*cols;

	struct hgq_cmvm_node	*nodes;		/* one per row */
	struct row		*rows;
	uint32_t		 n_rows, cap_rows;

	struct key		*keys;
	uint32_t		 n_keys, cap_keys;
	struct htab		 adders;	/* (a, b, shift, sub) -> row */

	struct bucket		*bk;
	size_t			 n_bk;		/* buckets allocated */
	size_t			 top;		/* no key queued above */

	struct lslot		*loc;		/* local counter */
	size_t			 loc_mask;
	uint32_t		 loc_gen;
	uint64_t		*loc_keys;	/* keys counted twice or more */
	size_t			 n_loc, cap_loc;

	struct occ		*occ;
	size_t			 n_occ, cap_occ;
	uint64_t		*tsum;		/* n_out: trial depth sums */
	uint64_t		*used;		/* same-row pairing scratch */
	size_t			 cap_used;
};

static inline uint64_t
pack_key(uint32_t r0, uint32_t r1, int32_t s, int sub)
{
	return ((uint64_t)r0 << 40) | ((uint64_t)r1 << 16) |
	    ((uint64_t)(s + (1 << 14)) << 1) | (uint64_t)(sub != 0);
}

/* the key of two distinct digits of one column */
static inline uint64_t
pair_key(int32_t ru, int32_t pu, int su, int32_t rt, int32_t pt, int st)
{
	if (ru > rt || (ru == rt && pu > pt))
		return pack_key((uint32_t)rt, (uint32_t)ru, pu - pt, su != st);
	return pack_key((uint32_t)ru, (uint32_t)rt, pt - pu, su != st);
}

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap == 0 ? 16 : *cap;
	void *q;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	if ((q = hgq_reallocarray(*p, c, size)) == NULL)
		return -1;
	*p = q;
	*cap = c;
	return 0;
}

static int
grow32(void **p, uint32_t *cap, size_t need, size_t size)
{
	size_t c = *cap;

	if (need > UINT32_MAX / 2 || grow(p, &c, need, size) != 0)
		return -1;
	*cap = (uint32_t)c;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Rows and digits                                                     */
/* ------------------------------------------------------------------ */

static int
new_row(struct solver *S, const struct hgq_cmvm_node *nd, uint32_t *id)
{
	struct row *r;
	int w;

	if (S->n_rows >= MAX_ROWS)
		return HGQ_ERANGE;
	if (S->n_rows == S->cap_rows) {
		uint32_t c = S->cap_rows;

		if (grow32((void **)&S->nodes, &c, S->n_rows + 1,
		    sizeof(*S->nodes)) != 0)
			return HGQ_ENOMEM;
		c = S->cap_rows;
		if (grow32((void **)&S->rows, &c, S->n_rows + 1,
		    sizeof(*S->rows)) != 0)
			return HGQ_ENOMEM;
		S->cap_rows = c;
	}
	S->nodes[S->n_rows] = *nd;
	r = &S->rows[S->n_rows];
	memset(r, 0, sizeof(*r));
	w = hgq_ival_width(nd->v.lo, nd->v.hi, NULL);
	r->lsb = nd->v.e;
	r->msb = nd->v.e + (w > 0 ? w : 1) - 1;
	*id = S->n_rows++;
	return HGQ_OK;
}

/* room for digits at positions [lo, hi] in row r (no digits yet) */
static int
row_alloc_bits(struct solver *S, uint32_t r, int32_t lo, int32_t hi)
{
	struct row *rw = &S->rows[r];
	size_t n = (size_t)(hi - lo + 1) * 2 * S->W;

	free(rw->bits);
	rw->pbase = lo;
	rw->npos = hi - lo + 1;
	rw->bits = hgq_calloc(n, sizeof(*rw->bits));
	return rw->bits == NULL ? -1 : 0;
}

/* the bitset of row r's digits (pos, sign), or NULL when out of range */
static inline uint64_t *
row_set(const struct solver *S, const struct row *rw, int32_t pos, int neg)
{
	int32_t p = pos - rw->pbase;

	if (p < 0 || p >= rw->npos)
		return NULL;
	return &rw->bits[((size_t)p * 2 + (size_t)neg) * S->W];
}

/* the row r0 + (-1)^sub * r1 * 2^shift, shared when it exists already */
static int
adder_row(struct solver *S, uint32_t r0, uint32_t r1, int32_t shift,
    int sub, uint32_t *id)
{
	struct hgq_cmvm_node nd;
	uint64_t k = pack_key(r0, r1, shift, sub);
	struct hslot *s = htab_find(&S->adders, k);
	int rc;

	if (s != NULL) {
		*id = s->val;
		return HGQ_OK;
	}
	memset(&nd, 0, sizeof(nd));
	nd.a = (int32_t)r0;
	nd.b = (int32_t)r1;
	nd.shift = shift;
	nd.sub = (uint8_t)(sub != 0);
	nd.depth = (S->nodes[r0].depth > S->nodes[r1].depth ?
	    S->nodes[r0].depth : S->nodes[r1].depth) + 1;
	if ((rc = hgq_ival_add(&nd.v, &S->nodes[r0].v, &S->nodes[r1].v, shift,
	    sub)) != HGQ_OK)
		return rc;
	if ((rc = new_row(S, &nd, id)) != HGQ_OK)
		return rc;
	if (htab_put(&S->adders, k, *id) != 0)
		return HGQ_ENOMEM;
	return HGQ_OK;
}

/* give row r the digit sign * 2^pos in column col (within its range) */
static int
add_digit(struct solver *S, uint32_t r, uint32_t col, int32_t pos, int sign)
{
	struct column *c = &S->cols[col];
	uint64_t *b = row_set(S, &S->rows[r], pos, sign < 0);

	if (grow32((void **)&c->d, &c->cap, (size_t)c->n + 1,
	    sizeof(*c->d)) != 0)
		return -1;
	b[col / 64] |= (uint64_t)1 << (col % 64);
	c->d[c->n].row = (int32_t)r;
	c->d[c->n].pos = (int16_t)pos;
	c->d[c->n].sign = (int8_t)sign;
	c->n++;
	c->sum2 += (uint64_t)1 << S->nodes[r].depth;
	return 0;
}

static void
remove_digit(struct solver *S, uint32_t r, uint32_t col, int32_t pos,
    int sign)
{
	struct column *c = &S->cols[col];
	uint64_t *b = row_set(S, &S->rows[r], pos, sign < 0);

	b[col / 64] &= ~((uint64_t)1 << (col % 64));
	c->sum2 -= (uint64_t)1 << S->nodes[r].depth;
	for (uint32_t j = 0; j < c->n; j++)
		if (c->d[j].row == (int32_t)r && c->d[j].pos == pos) {
			c->d[j] = c->d[--c->n];
			break;
		}
}

/*
 * The score factor of a key: the number of bit positions both operands of
 * the adder occupy (rtl-notes 1.4, "wmc"), plus one so that pairs whose
 * adder is a concatenation still count.
 */
static uint32_t
key_weight(const struct solver *S, uint32_t r0, uint32_t r1, int32_t s)
{
	const struct row *a = &S->rows[r0], *b = &S->rows[r1];
	int32_t lo, hi;

	if (S->method == HGQ_CMVM_MC)
		return 1;
	lo = a->lsb > b->lsb + s ? a->lsb : b->lsb + s;
	hi = a->msb < b->msb + s ? a->msb : b->msb + s;
	return hi >= lo ? (uint32_t)(hi - lo + 1) + 1 : 1;
}

/*
 * The number of digit pairs of key (r0, r1, s, sub) now: exact when
 * r0 != r1; for r0 == r1, chains p, p+s, p+2s are counted twice (an upper
 * bound, resolved by find_occ).
 */
static int32_t
key_count(const struct solver *S, uint32_t r0, uint32_t r1, int32_t s,
    int sub)
{
	const struct row *a = &S->rows[r0], *b = &S->rows[r1];
	int32_t lo = a->pbase > b->pbase - s ? a->pbase : b->pbase - s;
	int32_t hi = a->pbase + a->npos < b->pbase + b->npos - s ?
	    a->pbase + a->npos : b->pbase + b->npos - s;
	int32_t n = 0;

	for (int32_t p = lo; p < hi; p++)
		for (int neg = 0; neg < 2; neg++) {
			const uint64_t *x = row_set(S, a, p, neg);
			const uint64_t *y = row_set(S, b, p + s, neg ^ sub);

			for (uint32_t w = 0; w < S->W; w++)
				n += __builtin_popcountll(x[w] & y[w]);
		}
	return n;
}

/* ------------------------------------------------------------------ */
/* Keys and the priority queue                                         */
/* ------------------------------------------------------------------ */

static inline uint32_t
key_score(const struct key *k, int32_t count)
{
	uint64_t sc = (uint64_t)count * k->weight;

	return sc > MAX_SCORE ? MAX_SCORE : (uint32_t)sc;
}

/* queue key idx with a score; fresh: idx is the newest key queued */
static int
bk_push(struct solver *S, uint32_t score, uint32_t idx, bool fresh)
{
	struct bucket *b;

	if (score >= S->n_bk) {
		size_t n = S->n_bk == 0 ? 64 : S->n_bk;
		struct bucket *nb;

		while (n <= score)
			n *= 2;
		if ((nb = hgq_reallocarray(S->bk, n, sizeof(*nb))) == NULL)
			return HGQ_ENOMEM;
		memset(nb + S->n_bk, 0, (n - S->n_bk) * sizeof(*nb));
		S->bk = nb;
		S->n_bk = n;
	}
	b = &S->bk[score];
	if (score > S->top)
		S->top = score;
	if (fresh) {
		if (grow32((void **)&b->fresh, &b->cap_fresh,
		    (size_t)b->n_fresh + 1, sizeof(*b->fresh)) != 0)
			return HGQ_ENOMEM;
		b->fresh[b->n_fresh++] = idx;
		return HGQ_OK;
	}
	if (grow32((void **)&b->heap, &b->cap_heap, (size_t)b->n_heap + 1,
	    sizeof(*b->heap)) != 0)
		return HGQ_ENOMEM;
	for (uint32_t j = b->n_heap++; ; ) {
		uint32_t p = (j - 1) / 2;

		if (j == 0 || b->heap[p] >= idx) {
			b->heap[j] = idx;
			break;
		}
		b->heap[j] = b->heap[p];
		j = p;
	}
	return HGQ_OK;
}

/* the best queued key and its score; false when the queue is empty */
static bool
bk_pop(struct solver *S, uint32_t *idx, uint32_t *score)
{
	struct bucket *b;
	uint32_t x, j, n;

	for (;;) {
		if (S->top >= S->n_bk)
			return false;
		b = &S->bk[S->top];
		if (b->n_fresh > 0 || b->n_heap > 0)
			break;
		if (S->top == 0)
			return false;
		S->top--;
	}
	*score = (uint32_t)S->top;
	if (b->n_heap == 0 || (b->n_fresh > 0 &&
	    b->fresh[b->n_fresh - 1] > b->heap[0])) {
		*idx = b->fresh[--b->n_fresh];
		return true;
	}
	*idx = b->heap[0];
	n = --b->n_heap;
	x = b->heap[n];
	for (j = 0; ; ) {
		uint32_t c = 2 * j + 1;

		if (c >= n)
			break;
		if (c + 1 < n && b->heap[c + 1] > b->heap[c])
			c++;
		if (b->heap[c] <= x)
			break;
		b->heap[j] = b->heap[c];
		j = c;
	}
	if (n > 0)
		b->heap[j] = x;
	return true;
}

static int
add_key(struct solver *S, uint64_t packed, int32_t count)
{
	struct key *k;

	if (S->n_keys >= UINT32_MAX / 2)
		return HGQ_ERANGE;
	if (grow32((void **)&S->keys, &S->cap_keys, (size_t)S->n_keys + 1,
	    sizeof(*S->keys)) != 0)
		return HGQ_ENOMEM;
	k = &S->keys[S->n_keys++];
	k->r0 = (int32_t)(packed >> 40);
	k->r1 = (int32_t)((packed >> 16) & 0xffffff);
	k->shift = (int32_t)((packed >> 1) & 0x7fff) - (1 << 14);
	k->sub = (uint8_t)(packed & 1);
	k->count = count;
	k->weight = key_weight(S, (uint32_t)k->r0, (uint32_t)k->r1, k->shift);
	return HGQ_OK;
}

/* ------------------------------------------------------------------ */
/* Counting                                                            */
/* ------------------------------------------------------------------ */

/* the initial keys: every pair of input rows, every shift and sign */
static int
count_initial(struct solver *S)
{
	for (uint32_t r0 = 0; r0 < S->n_in; r0++) {
		const struct row *a = &S->rows[r0];

		if (a->npos == 0)
			continue;
		for (uint32_t r1 = r0; r1 < S->n_in; r1++) {
			const struct row *b = &S->rows[r1];
			int32_t smin, smax;

			if (b->npos == 0)
				continue;
			smin = b->pbase - (a->pbase + a->npos - 1);
			smax = b->pbase + b->npos - 1 - a->pbase;
			if (r0 == r1)
				smin = 1;
			for (int32_t sh = smin; sh <= smax; sh++)
				for (int sub = 0; sub < 2; sub++) {
					int32_t n = key_count(S, r0, r1, sh,
					    sub);
					int rc;

					if (n >= 2 && (rc = add_key(S,
					    pack_key(r0, r1, sh, sub), n)) !=
					    HGQ_OK)
						return rc;
				}
		}
	}
	return HGQ_OK;
}

static struct lslot *
loc_slot(struct solver *S, uint64_t key)
{
	size_t j = hash64(key) & S->loc_mask;

	for (;;) {
		struct lslot *s = &S->loc[j];

		if (s->gen != S->loc_gen) {
			s->gen = S->loc_gen;
			s->key = key;
			s->count = 0;
			return s;
		}
		if (s->key == key)
			return s;
		j = (j + 1) & S->loc_mask;
	}
}

/* a fresh local counter with room for n distinct keys */
static int
loc_start(struct solver *S, size_t n)
{
	size_t cap = S->loc_mask + 1;

	if (S->loc == NULL || n * 2 > cap) {
		while (cap < n * 2 || cap < 1024)
			cap *= 2;
		free(S->loc);
		if ((S->loc = hgq_calloc(cap, sizeof(*S->loc))) == NULL)
			return -1;
		S->loc_mask = cap - 1;
		S->loc_gen = 0;
	}
	if (++S->loc_gen == 0) {
		memset(S->loc, 0, (S->loc_mask + 1) * sizeof(*S->loc));
		S->loc_gen = 1;
	}
	S->n_loc = 0;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Extraction                                                          */
/* ------------------------------------------------------------------ */

/*
 * Find the occurrences of key k that can be extracted now: the set bits of
 * the ANDed bitsets, in increasing position; within one row each digit is
 * used once (greedy from the lowest position), and each occurrence must
 * keep its column within the allowed depth.  Fills S->occ and returns the
 * count, or -1 when out of memory.
 */
static int
find_occ(struct solver *S, const struct key *k, int new_depth)
{
	const struct row *a = &S->rows[k->r0], *b = &S->rows[k->r1];
	uint64_t dsum = ((uint64_t)1 << new_depth) -
	    ((uint64_t)1 << S->nodes[k->r0].depth) -
	    ((uint64_t)1 << S->nodes[k->r1].depth);
	uint64_t room = S->allowed == INT32_MAX ? UINT64_MAX :
	    (uint64_t)1 << S->allowed;
	int32_t lo = a->pbase > b->pbase - k->shift ? a->pbase :
	    b->pbase - k->shift;
	int32_t hi = a->pbase + a->npos < b->pbase + b->npos - k->shift ?
	    a->pbase + a->npos : b->pbase + b->npos - k->shift;
	bool same = k->r0 == k->r1;
	size_t n_used = (size_t)a->npos * 2 * S->W;

	S->n_occ = 0;
	if (same) {
		if (grow((void **)&S->used, &S->cap_used, n_used,
		    sizeof(*S->used)) != 0)
			return -1;
		memset(S->used, 0, n_used * sizeof(*S->used));
	}
	for (int32_t p = lo; p < hi; p++)
	for (int neg = 0; neg < 2; neg++) {
		const uint64_t *x = row_set(S, a, p, neg);
		const uint64_t *y = row_set(S, b, p + k->shift, neg ^ k->sub);
		uint64_t *ux = NULL, *uy = NULL;

		if (same) {
			ux = &S->used[((size_t)(p - a->pbase) * 2 + neg) *
			    S->W];
			uy = &S->used[((size_t)(p + k->shift - a->pbase) * 2 +
			    (neg ^ k->sub)) * S->W];
		}
		for (uint32_t w = 0; w < S->W; w++) {
			uint64_t m = x[w] & y[w];

			if (same)
				m &= ~ux[w];
			while (m != 0) {
				uint32_t col = w * 64 +
				    (uint32_t)__builtin_ctzll(m);
				uint64_t bit = m & -m;
				uint64_t *ts = &S->tsum[col];

				m &= m - 1;
				if (*ts == 0)
					*ts = S->cols[col].sum2;
				if (*ts + dsum > room)
					continue;
				if (grow((void **)&S->occ, &S->cap_occ,
				    S->n_occ + 1, sizeof(*S->occ)) != 0)
					return -1;
				*ts += dsum;
				S->occ[S->n_occ].col = col;
				S->occ[S->n_occ].pos = p;
				S->occ[S->n_occ].sign = (int8_t)(neg ? -1 : 1);
				S->n_occ++;
				if (same)
					uy[w] |= bit;
			}
		}
	}
	for (size_t o = 0; o < S->n_occ; o++)
		S->tsum[S->occ[o].col] = 0;
	return (int)S->n_occ;
}

/*
 * Count the keys of the new row n from its digits (the occurrences just
 * extracted): each pairs with every live digit of its column, its own
 * digits at lower positions included.  Keys seen twice or more are
 * stored and queued.
 */
static int
count_new(struct solver *S, uint32_t n)
{
	size_t n_pairs = 0;
	int rc;

	for (size_t o = 0; o < S->n_occ; o++)
		n_pairs += S->cols[S->occ[o].col].n;
	if (loc_start(S, n_pairs + 16) != 0)
		return HGQ_ENOMEM;
	for (size_t o = 0; o < S->n_occ; o++) {
		const struct column *c = &S->cols[S->occ[o].col];
		int32_t pos = S->occ[o].pos;
		int sign = S->occ[o].sign;

		for (uint32_t t = 0; t < c->n; t++) {
			const struct cdig *u = &c->d[t];
			struct lslot *s;

			if (u->row == (int32_t)n && u->pos >= pos)
				continue;
			s = loc_slot(S, pair_key((int32_t)n, pos, sign,
			    u->row, u->pos, u->sign));
			if (s->count++ == 1) {
				if (grow((void **)&S->loc_keys, &S->cap_loc,
				    S->n_loc + 1, sizeof(*S->loc_keys)) != 0)
					return HGQ_ENOMEM;
				S->loc_keys[S->n_loc++] = s->key;
			}
		}
	}
	for (size_t j = 0; j < S->n_loc; j++) {
		struct lslot *s = loc_slot(S, S->loc_keys[j]);

		if ((rc = add_key(S, s->key, s->count)) != HGQ_OK ||
		    (rc = bk_push(S, key_score(&S->keys[S->n_keys - 1],
		    s->count), S->n_keys - 1, true)) != HGQ_OK)
			return rc;
	}
	return HGQ_OK;
}

/* extract key k at the occurrences in S->occ, creating a new row */
static int
extract(struct solver *S, const struct key *kk)
{
	struct key k = *kk;
	uint32_t n, n0 = S->n_rows;
	int32_t lo = INT32_MAX, hi = INT32_MIN;
	int rc;

	if ((rc = adder_row(S, (uint32_t)k.r0, (uint32_t)k.r1, k.shift, k.sub,
	    &n)) != HGQ_OK)
		return rc;
	if (n != n0)
		return HGQ_EINVAL;	/* a key is extracted only once */
	for (size_t o = 0; o < S->n_occ; o++) {
		if (S->occ[o].pos < lo)
			lo = S->occ[o].pos;
		if (S->occ[o].pos > hi)
			hi = S->occ[o].pos;
	}
	if (row_alloc_bits(S, n, lo, hi) != 0)
		return HGQ_ENOMEM;
	for (size_t o = 0; o < S->n_occ; o++) {
		const struct occ *oc = &S->occ[o];
		int sb = k.sub ? -oc->sign : oc->sign;

		remove_digit(S, (uint32_t)k.r0, oc->col, oc->pos, oc->sign);
		remove_digit(S, (uint32_t)k.r1, oc->col, oc->pos + k.shift, sb);
		if (add_digit(S, n, oc->col, oc->pos, oc->sign) != 0)
			return HGQ_ENOMEM;
	}
	return count_new(S, n);
}

/*
 * The greedy loop.  A queued priority bounds the key's score.  A popped
 * key is recounted (key_count, cheap), then its extractable occurrences
 * are found (find_occ); it is extracted only when that score still equals
 * its queued priority, i.e. is the best of all; otherwise it goes back
 * with the lower score.  Counts and depth room only shrink, so a key with
 * fewer than two occurrences is dropped for good, and so is what is left
 * of an extracted key.
 */
static int
cse(struct solver *S)
{
	uint32_t idx, score;
	int rc;

	for (uint32_t j = 0; j < S->n_keys; j++)
		if ((rc = bk_push(S, key_score(&S->keys[j], S->keys[j].count),
		    j, true)) != HGQ_OK)
			return rc;
	while (bk_pop(S, &idx, &score)) {
		struct key *k = &S->keys[idx];
		uint32_t cur;
		int d0, d1, nd, v;

		d0 = S->nodes[k->r0].depth;
		d1 = S->nodes[k->r1].depth;
		nd = (d0 > d1 ? d0 : d1) + 1;
		if (nd > S->allowed || nd > MAX_DEPTH)
			continue;
		v = key_count(S, (uint32_t)k->r0, (uint32_t)k->r1, k->shift,
		    k->sub);
		if (v < 2)
			continue;
		if ((cur = key_score(k, v)) < score) {
			if ((rc = bk_push(S, cur, idx, false)) != HGQ_OK)
				return rc;
			continue;
		}
		if ((v = find_occ(S, k, nd)) < 0)
			return HGQ_ENOMEM;
		if (v < 2)
			continue;
		if ((cur = key_score(k, v)) < score) {
			if ((rc = bk_push(S, cur, idx, false)) != HGQ_OK)
				return rc;
			continue;
		}
		if ((rc = extract(S, k)) != HGQ_OK)
			return rc;
	}
	return HGQ_OK;
}

/* ------------------------------------------------------------------ */
/* The remaining terms of each column: latency-balanced trees          */
/* ------------------------------------------------------------------ */

struct term {
	uint32_t	 row;
	int32_t		 pos;
	int8_t		 sign;
	int32_t		 depth;
	int32_t		 msb;	/* top bit position of row * 2^pos */
};

/* order: shallower first, then positive first, then narrower */
static bool
term_less(const struct term *x, const struct term *y)
{
	if (x->depth != y->depth)
		return x->depth < y->depth;
	if (x->sign != y->sign)
		return x->sign > y->sign;
	if (x->msb != y->msb)
		return x->msb < y->msb;
	if (x->row != y->row)
		return x->row < y->row;
	return x->pos < y->pos;
}

static void
term_push(struct term *h, size_t *n, struct term t)
{
	size_t j = (*n)++;

	while (j > 0) {
		size_t p = (j - 1) / 2;

		if (!term_less(&t, &h[p]))
			break;
		h[j] = h[p];
		j = p;
	}
	h[j] = t;
}

static struct term
term_pop(struct term *h, size_t *n)
{
	struct term top = h[0], x = h[--(*n)];
	size_t j = 0;

	for (;;) {
		size_t c = 2 * j + 1;

		if (c >= *n)
			break;
		if (c + 1 < *n && term_less(&h[c + 1], &h[c]))
			c++;
		if (!term_less(&h[c], &x))
			break;
		h[j] = h[c];
		j = c;
	}
	if (*n > 0)
		h[j] = x;
	return top;
}

static struct term
make_term(const struct solver *S, uint32_t row, int32_t pos, int8_t sign)
{
	struct term t;

	t.row = row;
	t.pos = pos;
	t.sign = sign;
	t.depth = S->nodes[row].depth;
	t.msb = S->rows[row].msb + pos;
	return t;
}

static int
combine(struct solver *S, const struct term *x, const struct term *y,
    struct term *out)
{
	const struct term *p = x, *q = y;
	uint32_t id;
	int sub, rc;
	int8_t sign;

	if (x->sign == y->sign) {
		/* canonical order so that equal sums are shared */
		if (y->row < x->row || (y->row == x->row && y->pos < x->pos)) {
			p = y;
			q = x;
		}
		sub = 0;
		sign = x->sign;
	} else {
		if (x->sign < 0) {
			p = y;
			q = x;
		}
		sub = 1;
		sign = 1;
	}
	if ((rc = adder_row(S, p->row, q->row, q->pos - p->pos, sub, &id)) !=
	    HGQ_OK)
		return rc;
	*out = make_term(S, id, p->pos, sign);
	return HGQ_OK;
}

static int
trees(struct solver *S, struct hgq_cmvm_out *outs)
{
	struct term *h = NULL;
	size_t cap = 0;
	int rc = HGQ_OK;

	for (uint32_t col = 0; col < S->n_out; col++) {
		const struct column *c = &S->cols[col];
		size_t n = 0;

		if (grow((void **)&h, &cap, c->n + 1, sizeof(*h)) != 0) {
			rc = HGQ_ENOMEM;
			break;
		}
		for (uint32_t j = 0; j < c->n; j++)
			term_push(h, &n, make_term(S, (uint32_t)c->d[j].row,
			    c->d[j].pos, c->d[j].sign));
		while (n > 1) {
			struct term x = term_pop(h, &n);
			struct term y = term_pop(h, &n);
			struct term z;

			if ((rc = combine(S, &x, &y, &z)) != HGQ_OK)
				goto out;
			term_push(h, &n, z);
		}
		if (n == 0) {
			outs[col].node = -1;
			outs[col].shift = 0;
			outs[col].neg = 0;
		} else {
			outs[col].node = (int32_t)h[0].row;
			outs[col].shift = h[0].pos;
			outs[col].neg = h[0].sign < 0;
		}
	}
out:
	free(h);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Driver                                                              */
/* ------------------------------------------------------------------ */

void
hgq_cmvm_params_init(struct hgq_cmvm_params *p)
{
	memset(p, 0, sizeof(*p));
	p->max_extra_depth = 2;
	p->method = HGQ_CMVM_WMC;
}

static int
ceil_log2_u64(uint64_t v)
{
	int d = 0;

	while (d < 64 && ((uint64_t)1 << d) < v)
		d++;
	return d;
}

static void
solver_release(struct solver *S)
{
	if (S->cols != NULL)
		for (uint32_t j = 0; j < S->n_out; j++)
			free(S->cols[j].d);
	if (S->rows != NULL)
		for (uint32_t j = 0; j < S->n_rows; j++)
			free(S->rows[j].bits);
	free(S->cols);
	free(S->rows);
	free(S->nodes);
	free(S->keys);
	free(S->adders.s);
	if (S->bk != NULL)
		for (size_t j = 0; j < S->n_bk; j++) {
			free(S->bk[j].fresh);
			free(S->bk[j].heap);
		}
	free(S->bk);
	free(S->loc);
	free(S->loc_keys);
	free(S->occ);
	free(S->tsum);
	free(S->used);
}

/* NAF digits of m, least significant first: returns the count */
static int
naf(int64_t m, int8_t *dig, int *bit)
{
	int n = 0, b = 0;

	while (m != 0) {
		if (m & 1) {
			int d = (m & 3) == 1 ? 1 : -1;

			dig[n] = (int8_t)d;
			bit[n] = b;
			n++;
			m -= d;
		}
		m /= 2;
		b++;
	}
	return n;
}

static int
load(struct solver *S, const struct hgq_ival *x, const int32_t *x_depth,
    const int32_t *w_m, const int8_t *w_f, struct hgq_err *err)
{
	int8_t dig[40];
	int bit[40];

	for (uint32_t i = 0; i < S->n_in; i++) {
		struct hgq_cmvm_node nd;
		bool zero = x[i].lo == 0 && x[i].hi == 0;
		int32_t lo = INT32_MAX, hi = INT32_MIN;
		uint32_t id;

		memset(&nd, 0, sizeof(nd));
		nd.a = -1;
		nd.b = -1;
		nd.v = x[i];
		nd.depth = x_depth != NULL ? x_depth[i] : 0;
		if (x[i].lo > x[i].hi || x[i].lo <= -IVAL_LIMIT ||
		    x[i].hi >= IVAL_LIMIT || nd.depth < 0 ||
		    nd.depth > MAX_DEPTH / 2 || x[i].e > MAX_POS ||
		    x[i].e < -MAX_POS)
			return hgq_errf(err, HGQ_EINVAL, "cmvm: input %u has "
			    "a bad interval or depth", i);
		if (new_row(S, &nd, &id) != HGQ_OK)
			return hgq_errf(err, HGQ_ENOMEM, "out of memory");
		/* two passes over the row's weights: range, then digits */
		for (int pass = 0; pass < 2 && !zero; pass++) {
			for (uint32_t j = 0; j < S->n_out; j++) {
				size_t at = (size_t)i * S->n_out + j;
				int wf = w_f != NULL ? w_f[at] : 0;
				int nd_ = naf(w_m[at], dig, bit);

				for (int t = 0; t < nd_; t++) {
					int32_t pos = bit[t] - wf;

					if (pass == 1) {
						if (add_digit(S, i, j, pos,
						    dig[t]) != 0)
							return hgq_errf(err,
							    HGQ_ENOMEM,
							    "out of memory");
						continue;
					}
					if (pos > MAX_POS / 4 ||
					    pos < -MAX_POS / 4)
						return hgq_errf(err,
						    HGQ_ERANGE, "cmvm: weight "
						    "(%u, %u) out of range",
						    i, j);
					lo = pos < lo ? pos : lo;
					hi = pos > hi ? pos : hi;
				}
			}
			if (lo > hi)
				break;		/* all weights zero */
			if (pass == 0 && row_alloc_bits(S, i, lo, hi) != 0)
				return hgq_errf(err, HGQ_ENOMEM,
				    "out of memory");
		}
	}
	return HGQ_OK;
}

int
hgq_cmvm_solve(struct hgq_cmvm **out, const struct hgq_ival *x,
    const int32_t *x_depth, uint32_t n_in, uint32_t n_out,
    const int32_t *w_m, const int8_t *w_f, const struct hgq_cmvm_params *p,
    struct hgq_err *err)
{
	struct solver S;
	struct hgq_cmvm *res = NULL;
	struct hgq_cmvm_params def;
	int rc, min_depth = 0;

	*out = NULL;
	if (p == NULL) {
		hgq_cmvm_params_init(&def);
		p = &def;
	}
	if (n_in >= MAX_ROWS / 2 || n_out > HGQ_MAX_N)
		return hgq_errf(err, HGQ_ERANGE, "cmvm: %u x %u is too large",
		    n_in, n_out);
	memset(&S, 0, sizeof(S));
	S.n_in = n_in;
	S.n_out = n_out;
	S.method = p->method;
	S.W = (n_out + 63) / 64;
	if ((S.cols = hgq_calloc(n_out, sizeof(*S.cols))) == NULL ||
	    (S.tsum = hgq_calloc(n_out, sizeof(*S.tsum))) == NULL ||
	    htab_init(&S.adders, 1024) != 0) {
		rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = load(&S, x, x_depth, w_m, w_f, err)) != HGQ_OK)
		goto fail;
	for (uint32_t j = 0; j < n_out; j++) {
		int d = ceil_log2_u64(S.cols[j].sum2);

		if (d > min_depth)
			min_depth = d;
	}
	S.allowed = p->max_extra_depth < 0 ? INT32_MAX :
	    min_depth + p->max_extra_depth;
	if (S.allowed != INT32_MAX && S.allowed > MAX_DEPTH)
		S.allowed = MAX_DEPTH;
	if (p->method != HGQ_CMVM_NONE) {
		if ((rc = count_initial(&S)) != HGQ_OK ||
		    (rc = cse(&S)) != HGQ_OK)
			goto fail_rc;
	}
	if ((res = calloc(1, sizeof(*res))) == NULL ||
	    (res->out = hgq_calloc(n_out, sizeof(*res->out))) == NULL) {
		rc = HGQ_ENOMEM;
		goto fail_rc;
	}
	if ((rc = trees(&S, res->out)) != HGQ_OK)
		goto fail_rc;
	res->n_in = n_in;
	res->n_out = n_out;
	res->n_nodes = S.n_rows;
	res->n_adders = S.n_rows - n_in;
	res->nodes = S.nodes;
	S.nodes = NULL;
	res->min_depth = min_depth;
	for (uint32_t j = 0; j < n_out; j++)
		if (res->out[j].node >= 0 &&
		    res->nodes[res->out[j].node].depth > res->depth)
			res->depth = res->nodes[res->out[j].node].depth;
	for (uint32_t j = n_in; j < res->n_nodes; j++) {
		const struct hgq_cmvm_node *nd = &res->nodes[j];
		int low;

		res->cost += (uint64_t)hgq_add_span(&res->nodes[nd->a].v,
		    &res->nodes[nd->b].v, nd->shift, nd->sub, &nd->v, &low);
	}
	solver_release(&S);
	*out = res;
	return HGQ_OK;

fail_rc:
	if (rc == HGQ_ENOMEM)
		hgq_errf(err, rc, "out of memory");
	else if (rc == HGQ_ERANGE)
		hgq_errf(err, rc, "cmvm: an intermediate sum exceeds 62 bits "
		    "or the graph is too large");
	else
		hgq_errf(err, rc, "cmvm: internal error");
fail:
	if (res != NULL) {
		free(res->out);
		free(res);
	}
	solver_release(&S);
	return rc;
}

void
hgq_cmvm_free(struct hgq_cmvm *s)
{
	if (s == NULL)
		return;
	free(s->nodes);
	free(s->out);
	free(s);
}

/* m * 2^s for s >= 0, in int64 (the intervals prove it fits) */
static inline int64_t
lsh(int64_t m, int s)
{
	return (int64_t)((uint64_t)m << s);
}

void
hgq_cmvm_eval(const struct hgq_cmvm *s, const int64_t *x, int64_t *buf,
    int64_t *y, int32_t *y_e)
{
	for (uint32_t j = 0; j < s->n_in; j++)
		buf[j] = x[j];
	for (uint32_t j = s->n_in; j < s->n_nodes; j++) {
		const struct hgq_cmvm_node *nd = &s->nodes[j];
		const struct hgq_cmvm_node *a = &s->nodes[nd->a];
		const struct hgq_cmvm_node *b = &s->nodes[nd->b];
		int64_t va = lsh(buf[nd->a], a->v.e - nd->v.e);
		int64_t vb = lsh(buf[nd->b], b->v.e + nd->shift - nd->v.e);

		buf[j] = nd->sub ? va - vb : va + vb;
	}
	for (uint32_t j = 0; j < s->n_out; j++) {
		const struct hgq_cmvm_out *o = &s->out[j];

		if (o->node < 0) {
			y[j] = 0;
			y_e[j] = 0;
			continue;
		}
		y[j] = o->neg ? -buf[o->node] : buf[o->node];
		y_e[j] = s->nodes[o->node].v.e + o->shift;
	}
}
