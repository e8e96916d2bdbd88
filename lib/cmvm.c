/*
 * cmvm.c - constant matrix-vector multiplication as a shared adder graph.
 *
 * y_j = sum_i x_i * w_ij with W constant: every weight is written in
 * canonical signed digits (NAF), so that y_j is a sum of terms
 * +-x_i * 2^p.  Pairs of terms "x_a +- x_b * 2^s" that occur at least twice
 * (in one or several columns) are extracted as new rows (common
 * sub-expressions); what is left of every column is summed by a
 * latency-balanced tree.  rtl-notes.md sections 1.3-1.6.  The extraction
 * has two stages:
 *   - the greedy loop takes pairs that occur three times or more, best
 *     score (the count, or count x overlapping bits) first;
 *   - the tail takes pairs that occur twice: each saves one adder, and
 *     which ones to take is a matching problem (a large independent set
 *     of the conflict graph, then the fewest conflicts first).
 * The whole is run a few times with different tie-breaking and the best
 * result kept (hgq_cmvm_solve).  On random 64x64 8-bit matrices with 8-bit
 * inputs (bench_cmvm), means of 20: 4,946 adders when every pair went to
 * the greedy loop with WMC's score, ~4,870 with MC's; 4,814 with the
 * tail's order for pairs of two, 4,783 with the independent set, 4,774
 * for the best of two runs.
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
 *   - the greedy loop stores only keys with a count >= 3 at creation; a
 *     new row's keys are counted over its own columns only (a local
 *     hash), never by rescanning the table;
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

#include "internal.h"

#define MAX_ROWS	((1u << 24) - 1)	/* rows fit a key's 24 bits */
#define MAX_POS		8000			/* |digit position| */
#define MAX_DEPTH	60			/* 2^depth fits the sums */
#define HEAD_MIN	3			/* least count, greedy loop */

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

/* a key unpacked */
struct key {
	int32_t		 r0, r1, shift;
	uint8_t		 sub;
};

/*
 * The priority queue: one bucket per score (count x weight, a small
 * integer, clamped to MAX_SCORE); ties go to the newest key.  An entry
 * holds the packed key itself (no table of keys to miss in the cache) and
 * its creation number.  New keys arrive in increasing number and are
 * stacked on `fresh`; a key queued again with a lower score goes to its
 * bucket's max-heap.
 */
#define MAX_SCORE	(1u << 20)

struct qent {
	uint64_t	 key;
	uint32_t	 seq;		/* creation number (newer: larger) */
};

struct bucket {
	struct qent	*fresh;		/* increasing seq */
	uint32_t	 n_fresh, cap_fresh;
	struct qent	*heap;		/* max-heap by seq */
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

	uint32_t		 n_keys;	/* keys created */
	struct htab		 adders;	/* (a, b, shift, sub) -> row */

	struct bucket		*bk;
	size_t			 n_bk;		/* buckets allocated */
	size_t			 top;		/* no key queued above */

	struct lslot		*loc;		/* local counter */
	size_t			 loc_mask;
	uint32_t		 loc_gen;
	uint64_t		*loc_keys;	/* keys counted often */
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

/*
 * Bits set in v.  Without -mpopcnt, __builtin_popcountll is a library call
 * that costs more than this (the hottest instruction of the solver).
 */
static inline int
popcount64(uint64_t v)
{
	v -= (v >> 1) & 0x5555555555555555ull;
	v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
	v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (int)((v * 0x0101010101010101ull) >> 56);
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
	size_t W = S->W, n2 = 2 * W;
	const uint64_t *x, *y;
	int32_t n = 0;

	if (lo >= hi)
		return 0;
	/* the bitsets of (p, +) and (p, -) follow each other, p rising */
	x = &a->bits[(size_t)(lo - a->pbase) * n2];
	y = &b->bits[(size_t)(lo + s - b->pbase) * n2];
	for (int32_t p = lo; p < hi; p++, x += n2, y += n2)
		for (size_t w = 0; w < W; w++) {
			n += popcount64(x[w] & y[sub ? W + w : w]);
			n += popcount64(x[W + w] & y[sub ? w : W + w]);
		}
	return n;
}

/* ------------------------------------------------------------------ */
/* Keys and the priority queue                                         */
/* ------------------------------------------------------------------ */

static inline void
unpack_key(uint64_t k, struct key *out)
{
	out->r0 = (int32_t)(k >> 40);
	out->r1 = (int32_t)((k >> 16) & 0xffffff);
	out->shift = (int32_t)((k >> 1) & 0x7fff) - (1 << 14);
	out->sub = (uint8_t)(k & 1);
}

static inline uint32_t
key_score(const struct solver *S, const struct key *k, int32_t count)
{
	uint64_t sc = (uint64_t)count * key_weight(S, (uint32_t)k->r0,
	    (uint32_t)k->r1, k->shift);

	return sc > MAX_SCORE ? MAX_SCORE : (uint32_t)sc;
}

/* queue a key with a score; fresh: it is the newest key queued */
static int
bk_push(struct solver *S, uint32_t score, struct qent e, bool fresh)
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
		b->fresh[b->n_fresh++] = e;
		return HGQ_OK;
	}
	if (grow32((void **)&b->heap, &b->cap_heap, (size_t)b->n_heap + 1,
	    sizeof(*b->heap)) != 0)
		return HGQ_ENOMEM;
	for (uint32_t j = b->n_heap++; ; ) {
		uint32_t p = (j - 1) / 2;

		if (j == 0 || b->heap[p].seq >= e.seq) {
			b->heap[j] = e;
			break;
		}
		b->heap[j] = b->heap[p];
		j = p;
	}
	return HGQ_OK;
}

/* queue a new key (the newest) */
static int
bk_push_new(struct solver *S, uint64_t key, int32_t count)
{
	struct qent e;
	struct key k;

	if (S->n_keys == UINT32_MAX)
		return HGQ_ERANGE;
	unpack_key(key, &k);
	e.key = key;
	e.seq = S->n_keys++;
	return bk_push(S, key_score(S, &k, count), e, true);
}

/* the best queued key and its score; false when the queue is empty */
static bool
bk_pop(struct solver *S, struct qent *e, uint32_t *score)
{
	struct bucket *b;
	struct qent x;
	uint32_t j, n;

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
	    b->fresh[b->n_fresh - 1].seq > b->heap[0].seq)) {
		*e = b->fresh[--b->n_fresh];
		return true;
	}
	*e = b->heap[0];
	n = --b->n_heap;
	x = b->heap[n];
	for (j = 0; ; ) {
		uint32_t c = 2 * j + 1;

		if (c >= n)
			break;
		if (c + 1 < n && b->heap[c + 1].seq > b->heap[c].seq)
			c++;
		if (b->heap[c].seq <= x.seq)
			break;
		b->heap[j] = b->heap[c];
		j = c;
	}
	if (n > 0)
		b->heap[j] = x;
	return true;
}

/* ------------------------------------------------------------------ */
/* Counting                                                            */
/* ------------------------------------------------------------------ */

/*
 * The initial keys: every pair of input rows, every shift and sign.  The
 * order in which keys are made breaks ties in the greedy loop; variant 0
 * visits the row pairs in order, variant v > 0 with the rows shuffled by
 * a generator seeded with v (see hgq_cmvm_solve).
 */
static int
count_initial(struct solver *S, uint32_t variant)
{
	uint32_t *perm = hgq_calloc((size_t)S->n_in + 1, sizeof(*perm));
	uint64_t st = variant * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
	int rc = HGQ_OK;

	if (perm == NULL)
		return HGQ_ENOMEM;
	for (uint32_t i = 0; i < S->n_in; i++)
		perm[i] = i;
	for (uint32_t i = S->n_in; variant > 0 && i > 1; i--) {
		uint32_t j, t;

		st ^= st << 13;
		st ^= st >> 7;
		st ^= st << 17;
		j = (uint32_t)(st % i);
		t = perm[i - 1];
		perm[i - 1] = perm[j];
		perm[j] = t;
	}
	for (uint32_t q0 = 0; q0 < S->n_in; q0++)
	for (uint32_t q1 = q0; q1 < S->n_in; q1++) {
		uint32_t r0 = perm[q0] < perm[q1] ? perm[q0] : perm[q1];
		uint32_t r1 = perm[q0] < perm[q1] ? perm[q1] : perm[q0];
		const struct row *a = &S->rows[r0], *b = &S->rows[r1];
		int32_t smin, smax;

		if (a->npos == 0 || b->npos == 0)
			continue;
		smin = r0 == r1 ? 1 : b->pbase - (a->pbase + a->npos - 1);
		smax = b->pbase + b->npos - 1 - a->pbase;
		for (int32_t sh = smin; sh <= smax; sh++)
		for (int sub = 0; sub < 2; sub++) {
			int32_t n = key_count(S, r0, r1, sh, sub);

			if (n >= HEAD_MIN && (rc = bk_push_new(S,
			    pack_key(r0, r1, sh, sub), n)) != HGQ_OK)
				goto out;
		}
	}
out:
	free(perm);
	return rc;
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
 * digits at lower positions included.  S->loc_keys gets the keys counted
 * min times or more (their counts stay in the local counter).
 */
static int
count_row_keys(struct solver *S, uint32_t n, int32_t min)
{
	size_t n_pairs = 0;

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
			if (++s->count == min) {
				if (grow((void **)&S->loc_keys, &S->cap_loc,
				    S->n_loc + 1, sizeof(*S->loc_keys)) != 0)
					return HGQ_ENOMEM;
				S->loc_keys[S->n_loc++] = s->key;
			}
		}
	}
	return HGQ_OK;
}

/* store and queue the keys of the new row n that the greedy loop takes */
static int
count_new(struct solver *S, uint32_t n)
{
	int rc;

	if ((rc = count_row_keys(S, n, HEAD_MIN)) != HGQ_OK)
		return rc;
	for (size_t j = 0; j < S->n_loc; j++) {
		struct lslot *s = loc_slot(S, S->loc_keys[j]);

		if ((rc = bk_push_new(S, s->key, s->count)) != HGQ_OK)
			return rc;
	}
	return HGQ_OK;
}

/* the row of key k, with room for its digits at the occurrences in S->occ */
static int
new_key_row(struct solver *S, const struct key *k, uint32_t *n)
{
	uint32_t n0 = S->n_rows;
	int32_t lo = INT32_MAX, hi = INT32_MIN;
	int rc;

	if ((rc = adder_row(S, (uint32_t)k->r0, (uint32_t)k->r1, k->shift,
	    k->sub, n)) != HGQ_OK)
		return rc;
	if (*n != n0)
		return HGQ_EINVAL;	/* a key is extracted only once */
	for (size_t o = 0; o < S->n_occ; o++) {
		if (S->occ[o].pos < lo)
			lo = S->occ[o].pos;
		if (S->occ[o].pos > hi)
			hi = S->occ[o].pos;
	}
	if (row_alloc_bits(S, *n, lo, hi) != 0)
		return HGQ_ENOMEM;
	return HGQ_OK;
}

/* extract key k at the occurrences in S->occ, creating a new row */
static int
extract(struct solver *S, const struct key *kk)
{
	struct key k = *kk;
	uint32_t n;
	int rc;

	if ((rc = new_key_row(S, &k, &n)) != HGQ_OK)
		return rc;
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
	struct qent e;
	uint32_t score;
	int rc;

	while (bk_pop(S, &e, &score)) {
		struct key k;
		uint32_t cur;
		int d0, d1, nd, v;

		unpack_key(e.key, &k);
		d0 = S->nodes[k.r0].depth;
		d1 = S->nodes[k.r1].depth;
		nd = (d0 > d1 ? d0 : d1) + 1;
		if (nd > S->allowed || nd > MAX_DEPTH)
			continue;
		v = key_count(S, (uint32_t)k.r0, (uint32_t)k.r1, k.shift,
		    k.sub);
		if (v < HEAD_MIN)
			continue;
		if ((cur = key_score(S, &k, v)) < score) {
			if ((rc = bk_push(S, cur, e, false)) != HGQ_OK)
				return rc;
			continue;
		}
		if ((v = find_occ(S, &k, nd)) < 0)
			return HGQ_ENOMEM;
		if (v < HEAD_MIN)
			continue;
		if ((cur = key_score(S, &k, v)) < score) {
			if ((rc = bk_push(S, cur, e, false)) != HGQ_OK)
				return rc;
			continue;
		}
		if ((rc = extract(S, &k)) != HGQ_OK)
			return rc;
	}
	return HGQ_OK;
}

/* ------------------------------------------------------------------ */
/* The tail: keys that occur twice                                     */
/* ------------------------------------------------------------------ */

/*
 * Once no key occurs three times, every extraction saves one adder and
 * the only question is which pairs of occurrences to take.  A digit joins
 * one pair only, so taking a key destroys the other pairs of its four
 * digits: a matching problem.  The tail takes keys in the order of the
 * minimum-degree heuristic for matchings.  The degree of a digit is the
 * number of pairs of live keys (two pairs or more, not blocked) it is
 * part of; the penalty of a key is the sum of (degree - 1) over the
 * digits of its pairs, i.e. the pairs of other keys its extraction
 * destroys.  The key of least penalty goes first; among equal penalties,
 * the key of the newest rows.  Measured on random 64x64 8-bit matrices:
 * 50 to 60 adders fewer than taking the newest key of count two, as the
 * greedy loop does.  A large independent set of the conflicts, found
 * first (tail_choose), does better still; this order then takes what it
 * leaves, and the keys of the rows it makes.
 *
 * The tail keeps, for every digit, the list of live keys through it (its
 * degree is the length), and for every live key its exact pair count and
 * penalty.  Keys of older rows only lose pairs, so a key that is not live
 * never comes back and needs no bookkeeping; the keys of a new row are
 * counted when it is made.  After each extraction the penalties of the
 * keys through every digit whose degree changed move by that change, and
 * keys whose pairs changed are recounted.
 */
struct tkey {
	uint64_t	 key;
	int32_t		 count;		/* digit pairs now */
	int32_t		 pen;		/* penalty (while live) */
	uint32_t	 seen;		/* == T->round: listed */
	uint32_t	 queued;	/* == T->flush: to be queued */
	uint8_t		 blocked;	/* not extractable (depth) */
	uint8_t		 fresh;		/* pairs changed: recount */
};

/* the tail's side of digit j of a column (parallel to column.d[j]) */
struct tdig {
	uint32_t	*adj;		/* live keys, one entry per pair */
	uint32_t	 n_adj, cap_adj;	/* n_adj is the degree */
	int32_t		 pend;		/* degree change since flush */
	uint8_t		 listed;	/* in T->dd */
};

struct tcol {
	struct tdig	*d;
	uint32_t	 cap;
};

/* a queued key: one max-heap (by tk_order) per penalty */
struct tent {
	uint64_t	 order;
	uint32_t	 idx;
};

struct theap {
	struct tent	*h;
	uint32_t	 n, cap;
};

/* a digit whose degree changed since the last flush */
struct dref {
	uint32_t	 col;
	int32_t		 row, pos;
};

struct tail {
	struct htab	 map;		/* key -> index in tk */
	struct tkey	*tk;
	uint32_t	 n_tk, cap_tk;
	struct tcol	*tc;		/* n_out */
	struct theap	*bk;		/* by penalty */
	size_t		 n_bk, lo;	/* no key queued below lo */
	uint32_t	 round, flush;
	uint32_t	*list;		/* keys through one digit */
	size_t		 n_list, cap_list;
	uint32_t	*fresh;		/* keys to recount at flush */
	size_t		 n_fresh, cap_fresh;
	uint32_t	*queue;		/* keys to queue at the flush */
	size_t		 n_queue, cap_queue;
	struct dref	*dd;		/* digits whose degree changed */
	size_t		 n_dd, cap_dd;
	struct occ	*pairs;		/* the pairs of one key */
	size_t		 n_pairs, cap_pairs;
};

static inline bool
tk_live(const struct tkey *t)
{
	return t->count >= 2 && !t->blocked;
}

/* ties: the key of the newest rows (r1, then r0) first */
static inline uint64_t
tk_order(uint64_t k)
{
	return ((k >> 16 & 0xffffff) << 40) | ((k >> 40) << 16) |
	    (k & 0xffff);
}

/* the index of key k in the table, added (with no pairs) when absent */
static int
tk_get(struct tail *T, uint64_t k, uint32_t *idx)
{
	struct hslot *s = htab_find(&T->map, k);
	struct tkey *t;

	if (s != NULL) {
		*idx = s->val;
		return HGQ_OK;
	}
	if (grow32((void **)&T->tk, &T->cap_tk, (size_t)T->n_tk + 1,
	    sizeof(*T->tk)) != 0 || htab_put(&T->map, k, T->n_tk) != 0)
		return HGQ_ENOMEM;
	t = &T->tk[T->n_tk];
	memset(t, 0, sizeof(*t));
	t->key = k;
	*idx = T->n_tk++;
	return HGQ_OK;
}

static int
tk_push(struct tail *T, uint32_t idx)
{
	uint32_t pen = (uint32_t)T->tk[idx].pen;
	struct tent e;
	struct theap *b;

	if (pen >= T->n_bk) {
		size_t n = T->n_bk == 0 ? 64 : T->n_bk;
		struct theap *nb;

		while (n <= pen)
			n *= 2;
		if ((nb = hgq_reallocarray(T->bk, n, sizeof(*nb))) == NULL)
			return HGQ_ENOMEM;
		memset(nb + T->n_bk, 0, (n - T->n_bk) * sizeof(*nb));
		T->bk = nb;
		T->n_bk = n;
	}
	b = &T->bk[pen];
	if (grow32((void **)&b->h, &b->cap, (size_t)b->n + 1,
	    sizeof(*b->h)) != 0)
		return HGQ_ENOMEM;
	e.order = tk_order(T->tk[idx].key);
	e.idx = idx;
	for (uint32_t j = b->n++; ; ) {
		uint32_t p = (j - 1) / 2;

		if (j == 0 || b->h[p].order >= e.order) {
			b->h[j] = e;
			break;
		}
		b->h[j] = b->h[p];
		j = p;
	}
	if (pen < T->lo)
		T->lo = pen;
	return HGQ_OK;
}

/* the live key of least penalty (an entry is stale if the penalty moved) */
static bool
tk_pop(struct tail *T, uint32_t *idx)
{
	for (; T->lo < T->n_bk; T->lo++) {
		struct theap *b = &T->bk[T->lo];

		while (b->n > 0) {
			struct tent top = b->h[0], x = b->h[--b->n];
			const struct tkey *t = &T->tk[top.idx];
			uint32_t j = 0;

			for (;;) {
				uint32_t c = 2 * j + 1;

				if (c >= b->n)
					break;
				if (c + 1 < b->n &&
				    b->h[c + 1].order > b->h[c].order)
					c++;
				if (b->h[c].order <= x.order)
					break;
				b->h[j] = b->h[c];
				j = c;
			}
			if (b->n > 0)
				b->h[j] = x;
			if (tk_live(t) && (size_t)t->pen == T->lo) {
				*idx = top.idx;
				return true;
			}
		}
	}
	return false;
}

static inline int32_t
col_find(const struct column *c, int32_t row, int32_t pos)
{
	for (uint32_t j = 0; j < c->n; j++)
		if (c->d[j].row == row && c->d[j].pos == pos)
			return (int32_t)j;
	return -1;
}

/* every digit pair of key k now (r0's digit of each), into T->pairs */
static int
tk_pairs(const struct solver *S, struct tail *T, uint64_t key)
{
	struct key k;
	const struct row *a, *b;
	int32_t lo, hi;

	unpack_key(key, &k);
	a = &S->rows[k.r0];
	b = &S->rows[k.r1];
	lo = a->pbase > b->pbase - k.shift ? a->pbase : b->pbase - k.shift;
	hi = a->pbase + a->npos < b->pbase + b->npos - k.shift ?
	    a->pbase + a->npos : b->pbase + b->npos - k.shift;
	T->n_pairs = 0;
	for (int32_t p = lo; p < hi; p++)
	for (int neg = 0; neg < 2; neg++) {
		const uint64_t *x = row_set(S, a, p, neg);
		const uint64_t *y = row_set(S, b, p + k.shift, neg ^ k.sub);

		for (uint32_t w = 0; w < S->W; w++) {
			uint64_t m = x[w] & y[w];

			while (m != 0) {
				if (grow((void **)&T->pairs, &T->cap_pairs,
				    T->n_pairs + 1, sizeof(*T->pairs)) != 0)
					return HGQ_ENOMEM;
				T->pairs[T->n_pairs].col = w * 64 +
				    (uint32_t)__builtin_ctzll(m);
				T->pairs[T->n_pairs].pos = p;
				T->pairs[T->n_pairs].sign =
				    (int8_t)(neg ? -1 : 1);
				T->n_pairs++;
				m &= m - 1;
			}
		}
	}
	return HGQ_OK;
}

static int
list_add(uint32_t **l, size_t *n, size_t *cap, uint32_t v)
{
	if (grow((void **)l, cap, *n + 1, sizeof(**l)) != 0)
		return HGQ_ENOMEM;
	(*l)[(*n)++] = v;
	return HGQ_OK;
}

/* record that the degree of digit j of column col changed by delta */
static int
deg_changed(struct solver *S, struct tail *T, uint32_t col, int32_t j,
    int delta)
{
	struct tdig *t = &T->tc[col].d[j];

	t->pend += delta;
	if (t->listed)
		return HGQ_OK;
	t->listed = 1;
	if (grow((void **)&T->dd, &T->cap_dd, T->n_dd + 1,
	    sizeof(*T->dd)) != 0)
		return HGQ_ENOMEM;
	T->dd[T->n_dd].col = col;
	T->dd[T->n_dd].row = S->cols[col].d[j].row;
	T->dd[T->n_dd].pos = S->cols[col].d[j].pos;
	T->n_dd++;
	return HGQ_OK;
}

/* key idx gains (add) or loses a pair through digit j of column col */
static int
adj_update(struct solver *S, struct tail *T, uint32_t col, int32_t j,
    uint32_t idx, bool add)
{
	struct tdig *t = &T->tc[col].d[j];

	if (add) {
		if (grow32((void **)&t->adj, &t->cap_adj,
		    (size_t)t->n_adj + 1, sizeof(*t->adj)) != 0)
			return HGQ_ENOMEM;
		t->adj[t->n_adj++] = idx;
	} else {
		for (uint32_t e = 0; e < t->n_adj; e++)
			if (t->adj[e] == idx) {
				t->adj[e] = t->adj[--t->n_adj];
				break;
			}
	}
	return deg_changed(S, T, col, j, add ? 1 : -1);
}

/* every pair of key idx enters (add) or leaves its digits' lists */
static int
tk_spread(struct solver *S, struct tail *T, uint32_t idx, bool add)
{
	struct key k;
	int rc;

	unpack_key(T->tk[idx].key, &k);
	if ((rc = tk_pairs(S, T, T->tk[idx].key)) != HGQ_OK)
		return rc;
	for (size_t o = 0; o < T->n_pairs; o++) {
		const struct occ *oc = &T->pairs[o];
		const struct column *c = &S->cols[oc->col];

		if ((rc = adj_update(S, T, oc->col, col_find(c, k.r0,
		    oc->pos), idx, add)) != HGQ_OK ||
		    (rc = adj_update(S, T, oc->col, col_find(c, k.r1,
		    oc->pos + k.shift), idx, add)) != HGQ_OK)
			return rc;
	}
	return HGQ_OK;
}

static int
tk_mark_fresh(struct tail *T, uint32_t idx)
{
	if (T->tk[idx].fresh)
		return HGQ_OK;
	T->tk[idx].fresh = 1;
	return list_add(&T->fresh, &T->n_fresh, &T->cap_fresh, idx);
}

static int
tk_mark_queued(struct tail *T, uint32_t idx)
{
	if (T->tk[idx].queued == T->flush)
		return HGQ_OK;
	T->tk[idx].queued = T->flush;
	return list_add(&T->queue, &T->n_queue, &T->cap_queue, idx);
}

/*
 * The partner of digit d (row, pos, sign) in a pair of key k in column c,
 * as d's first (r0) or second (r1) digit; -1 when there is none.
 */
static int32_t
partner(const struct column *c, const struct key *k, const struct cdig *d,
    bool first)
{
	int32_t row = first ? k->r1 : k->r0;
	int32_t pos = first ? d->pos + k->shift : d->pos - k->shift;
	int sign = k->sub ? -d->sign : d->sign;
	int32_t j;

	if (d->row != (first ? k->r0 : k->r1))
		return -1;
	j = col_find(c, row, pos);
	return j >= 0 && c->d[j].sign == sign ? j : -1;
}

/* column.d[j] and its tail side leave column col (a swap with the last) */
static void
tail_drop(struct solver *S, struct tail *T, uint32_t col, int32_t j)
{
	struct column *c = &S->cols[col];
	struct tdig *t = T->tc[col].d;
	const struct cdig *d = &c->d[j];

	free(t[j].adj);
	remove_digit(S, (uint32_t)d->row, col, d->pos, d->sign);
	t[j] = t[c->n];
	memset(&t[c->n], 0, sizeof(t[c->n]));
}

/* remove a digit, keeping the counts, lists and penalties of live keys */
static int
tail_remove(struct solver *S, struct tail *T, uint32_t col, int32_t j)
{
	struct column *c = &S->cols[col];
	const struct tdig *td = &T->tc[col].d[j];
	struct cdig d = c->d[j];
	int rc;

	/* the live keys through the digit, once each */
	T->round++;
	T->n_list = 0;
	for (uint32_t e = 0; e < td->n_adj; e++) {
		struct tkey *t = &T->tk[td->adj[e]];

		if (t->seen == T->round)
			continue;
		t->seen = T->round;
		if ((rc = list_add(&T->list, &T->n_list, &T->cap_list,
		    td->adj[e])) != HGQ_OK)
			return rc;
	}
	/* each pair through the digit goes, from its partner's list too */
	for (size_t l = 0; l < T->n_list; l++) {
		uint32_t idx = T->list[l];
		struct key k;

		unpack_key(T->tk[idx].key, &k);
		for (int first = 0; first < 2; first++) {
			int32_t u = partner(c, &k, &d, first);

			if (u < 0)
				continue;
			T->tk[idx].count--;
			if ((rc = adj_update(S, T, col, u, idx, false)) !=
			    HGQ_OK)
				return rc;
		}
	}
	tail_drop(S, T, col, j);
	/* a key left with one pair leaves the lists of its digits */
	for (size_t l = 0; l < T->n_list; l++) {
		uint32_t idx = T->list[l];

		if (tk_live(&T->tk[idx]))
			rc = tk_mark_fresh(T, idx);
		else
			rc = tk_spread(S, T, idx, false);
		if (rc != HGQ_OK)
			return rc;
	}
	return HGQ_OK;
}

/* add a digit of a new row (with an empty list) */
static int
tail_add(struct solver *S, struct tail *T, uint32_t r, uint32_t col,
    int32_t pos, int sign)
{
	struct tcol *tc = &T->tc[col];

	if (add_digit(S, r, col, pos, sign) != 0 ||
	    grow32((void **)&tc->d, &tc->cap, S->cols[col].n,
	    sizeof(*tc->d)) != 0)
		return HGQ_ENOMEM;
	memset(&tc->d[S->cols[col].n - 1], 0, sizeof(*tc->d));
	return HGQ_OK;
}

/* the keys of the new row n with two pairs or more become live */
static int
tail_new_row(struct solver *S, struct tail *T, uint32_t n)
{
	int rc;

	if ((rc = count_row_keys(S, n, 2)) != HGQ_OK)
		return rc;
	for (size_t j = 0; j < S->n_loc; j++) {
		struct lslot *s = loc_slot(S, S->loc_keys[j]);
		uint32_t idx;

		if ((rc = tk_get(T, s->key, &idx)) != HGQ_OK)
			return rc;
		T->tk[idx].count = s->count;
		if ((rc = tk_spread(S, T, idx, true)) != HGQ_OK ||
		    (rc = tk_mark_fresh(T, idx)) != HGQ_OK)
			return rc;
	}
	return HGQ_OK;
}

/* the penalty of key idx from the degrees now */
static int
tk_penalty(struct solver *S, struct tail *T, uint32_t idx)
{
	struct key k;
	int32_t pen = 0;
	int rc;

	unpack_key(T->tk[idx].key, &k);
	if ((rc = tk_pairs(S, T, T->tk[idx].key)) != HGQ_OK)
		return rc;
	for (size_t o = 0; o < T->n_pairs; o++) {
		const struct occ *oc = &T->pairs[o];
		const struct column *c = &S->cols[oc->col];
		const struct tdig *t = T->tc[oc->col].d;

		pen += (int32_t)t[col_find(c, k.r0, oc->pos)].n_adj - 1;
		pen += (int32_t)t[col_find(c, k.r1, oc->pos + k.shift)].n_adj -
		    1;
	}
	T->tk[idx].pen = pen;
	return HGQ_OK;
}

/*
 * Bring the penalties up to date and queue what changed: a key through a
 * digit whose degree changed moves by that change (twice through it, by
 * twice), a key whose pairs changed is recounted.
 */
static int
tail_flush(struct solver *S, struct tail *T)
{
	int rc;

	T->flush++;
	for (size_t e = 0; e < T->n_dd; e++) {
		const struct dref *r = &T->dd[e];
		int32_t j = col_find(&S->cols[r->col], r->row, r->pos);
		struct tdig *t;
		int32_t delta;

		if (j < 0)
			continue;	/* removed since */
		t = &T->tc[r->col].d[j];
		delta = t->pend;
		t->pend = 0;
		t->listed = 0;
		if (delta == 0)
			continue;
		for (uint32_t a = 0; a < t->n_adj; a++) {
			struct tkey *k = &T->tk[t->adj[a]];

			if (k->fresh)
				continue;
			k->pen += delta;
			if ((rc = tk_mark_queued(T, t->adj[a])) != HGQ_OK)
				return rc;
		}
	}
	T->n_dd = 0;
	for (size_t e = 0; e < T->n_fresh; e++) {
		uint32_t idx = T->fresh[e];

		T->tk[idx].fresh = 0;
		if (tk_live(&T->tk[idx]) &&
		    ((rc = tk_penalty(S, T, idx)) != HGQ_OK ||
		    (rc = tk_mark_queued(T, idx)) != HGQ_OK))
			return rc;
	}
	T->n_fresh = 0;
	for (size_t e = 0; e < T->n_queue; e++)
		if (tk_live(&T->tk[T->queue[e]]) &&
		    (rc = tk_push(T, T->queue[e])) != HGQ_OK)
			return rc;
	T->n_queue = 0;
	return HGQ_OK;
}

/* the occurrences of key idx that can be extracted now, in S->occ */
static int
tail_occ(struct solver *S, const struct tail *T, uint32_t idx)
{
	struct key k;
	int d0, d1, nd;

	unpack_key(T->tk[idx].key, &k);
	d0 = S->nodes[k.r0].depth;
	d1 = S->nodes[k.r1].depth;
	nd = (d0 > d1 ? d0 : d1) + 1;
	if (nd > S->allowed || nd > MAX_DEPTH)
		return 0;
	return find_occ(S, &k, nd);
}

/* extract key idx at the occurrences in S->occ */
static int
tail_extract(struct solver *S, struct tail *T, uint32_t idx)
{
	struct key k;
	uint32_t n;
	int rc;

	unpack_key(T->tk[idx].key, &k);
	if ((rc = new_key_row(S, &k, &n)) != HGQ_OK)
		return rc;
	for (size_t o = 0; o < S->n_occ; o++) {
		const struct occ *oc = &S->occ[o];
		const struct column *c = &S->cols[oc->col];

		if ((rc = tail_remove(S, T, oc->col, col_find(c, k.r0,
		    oc->pos))) != HGQ_OK ||
		    (rc = tail_remove(S, T, oc->col, col_find(c, k.r1,
		    oc->pos + k.shift))) != HGQ_OK ||
		    (rc = tail_add(S, T, n, oc->col, oc->pos, oc->sign)) !=
		    HGQ_OK)
			return rc;
	}
	if ((rc = tail_new_row(S, T, n)) != HGQ_OK)
		return rc;
	return tail_flush(S, T);
}

/* sort v[0, n) with scratch tmp of n; bytes equal in every v are skipped */
static void
radix_sort(uint64_t *v, uint64_t *tmp, size_t n)
{
	uint64_t *src = v, *dst = tmp, *t;
	size_t cnt[256];

	for (int sh = 0; sh < 64 && n > 0; sh += 8) {
		size_t sum = 0;

		memset(cnt, 0, sizeof(cnt));
		for (size_t j = 0; j < n; j++)
			cnt[src[j] >> sh & 255]++;
		if (cnt[src[0] >> sh & 255] == n)
			continue;
		for (int b = 0; b < 256; b++) {
			size_t c = cnt[b];

			cnt[b] = sum;
			sum += c;
		}
		for (size_t j = 0; j < n; j++)
			dst[cnt[src[j] >> sh & 255]++] = src[j];
		t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
}

/* the keys with two pairs or more in the columns now, with their counts */
static int
tail_count(struct solver *S, struct tail *T)
{
	uint64_t *all, *tmp;
	size_t n = 0, m = 0;
	int rc = HGQ_OK;

	for (uint32_t col = 0; col < S->n_out; col++)
		n += (size_t)S->cols[col].n * (S->cols[col].n - 1) / 2;
	all = hgq_calloc(n + 1, sizeof(*all));
	tmp = hgq_calloc(n + 1, sizeof(*tmp));
	if (all == NULL || tmp == NULL) {
		rc = HGQ_ENOMEM;
		goto out;
	}
	for (uint32_t col = 0; col < S->n_out; col++) {
		const struct column *c = &S->cols[col];

		for (uint32_t a = 0; a < c->n; a++)
		for (uint32_t b = a + 1; b < c->n; b++)
			all[m++] = pair_key(c->d[a].row, c->d[a].pos,
			    c->d[a].sign, c->d[b].row, c->d[b].pos,
			    c->d[b].sign);
	}
	radix_sort(all, tmp, n);
	for (size_t j = 0, e; j < n; j = e) {
		uint32_t idx;

		for (e = j + 1; e < n && all[e] == all[j]; e++)
			;
		if (e - j < 2)
			continue;
		if ((rc = tk_get(T, all[j], &idx)) != HGQ_OK)
			goto out;
		T->tk[idx].count = (int32_t)(e - j);
	}
out:
	free(all);
	free(tmp);
	return rc;
}

static void
tail_release(struct solver *S, struct tail *T)
{
	free(T->map.s);
	free(T->tk);
	if (T->tc != NULL)
		for (uint32_t col = 0; col < S->n_out; col++) {
			for (uint32_t j = 0; T->tc[col].d != NULL &&
			    j < S->cols[col].n; j++)
				free(T->tc[col].d[j].adj);
			free(T->tc[col].d);
		}
	free(T->tc);
	if (T->bk != NULL)
		for (size_t j = 0; j < T->n_bk; j++)
			free(T->bk[j].h);
	free(T->bk);
	free(T->list);
	free(T->fresh);
	free(T->queue);
	free(T->dd);
	free(T->pairs);
}

/* ------------------------------------------------------------------ */
/* The tail's choice as an independent set                             */
/* ------------------------------------------------------------------ */

/*
 * The keys of the tail and their conflicts form a graph: two keys are
 * neighbours when they share a digit, so the keys extracted are an
 * independent set of it and each one saves an adder.  Before the greedy
 * order takes over, the tail looks for a large independent set with the
 * iterated local search of Andrade, Resende and Werneck ("Fast local
 * search for the maximum independent set problem", J. Heuristics 2012):
 * from a greedy start, (1,2)-swaps (one key out, two in) until none is
 * left, then, many times over, one random key forced in (its neighbours
 * out) followed by swaps, kept when the set did not shrink.  Those keys
 * are extracted first; the greedy order then takes what they leave and
 * the keys of the new rows.  Measured on random 64x64 8-bit matrices:
 * some 30 adders fewer than the greedy order alone with 16 perturbations
 * per key (MIS_ROUNDS; 4: 28 fewer, 64: 32 fewer), which cost about as
 * much as the rest of the tail.
 */
struct mis {
	uint32_t	 n;		/* vertices */
	uint32_t	*off, *nb;	/* v's: nb[off[v], off[v+1]) */
	uint8_t		*in;		/* in the set */
	uint8_t		*best;		/* the largest set seen */
	uint32_t	*tight;		/* neighbours in the set */
	uint32_t	*mark;		/* == stamp: marked */
	uint32_t	 stamp;
	uint32_t	 size, best_size;
	uint32_t	*queue;		/* set vertices to try */
	size_t		 n_queue, cap_queue;
	uint32_t	*undo;		/* v | IN_FLAG if inserted */
	size_t		 n_undo, cap_undo;
	uint64_t	 rng;
};

#define IN_FLAG	0x80000000u
#define MIS_ROUNDS	16		/* perturbations per vertex */

static inline uint64_t
mis_rand(struct mis *M)
{
	M->rng ^= M->rng << 13;
	M->rng ^= M->rng >> 7;
	M->rng ^= M->rng << 17;
	return M->rng;
}

static int
mis_log(struct mis *M, uint32_t e)
{
	if (grow((void **)&M->undo, &M->cap_undo, M->n_undo + 1,
	    sizeof(*M->undo)) != 0)
		return HGQ_ENOMEM;
	M->undo[M->n_undo++] = e;
	return HGQ_OK;
}

static void
mis_set(struct mis *M, uint32_t v, bool in)
{
	M->in[v] = in;
	if (in)
		M->size++;
	else
		M->size--;
	for (uint32_t e = M->off[v]; e < M->off[v + 1]; e++)
		if (in)
			M->tight[M->nb[e]]++;
		else
			M->tight[M->nb[e]]--;
}

static int
mis_insert(struct mis *M, uint32_t v)
{
	mis_set(M, v, true);
	return mis_log(M, v | IN_FLAG);
}

static int
mis_remove(struct mis *M, uint32_t v)
{
	mis_set(M, v, false);
	return mis_log(M, v);
}

static int
mis_push(struct mis *M, uint32_t v)
{
	if (grow((void **)&M->queue, &M->cap_queue, M->n_queue + 1,
	    sizeof(*M->queue)) != 0)
		return HGQ_ENOMEM;
	M->queue[M->n_queue++] = v;
	return HGQ_OK;
}

/*
 * After v left the set: its free neighbours join it, and a neighbour now
 * 1-tight may allow a swap at its one neighbour in the set: queue that.
 */
static int
mis_settle(struct mis *M, uint32_t v)
{
	int rc;

	for (uint32_t e = M->off[v]; e < M->off[v + 1]; e++) {
		uint32_t u = M->nb[e];

		if (M->in[u] || M->tight[u] > 1)
			continue;
		if (M->tight[u] == 0) {
			if ((rc = mis_insert(M, u)) != HGQ_OK ||
			    (rc = mis_push(M, u)) != HGQ_OK)
				return rc;
			continue;
		}
		for (uint32_t f = M->off[u]; f < M->off[u + 1]; f++)
			if (M->in[M->nb[f]]) {
				if ((rc = mis_push(M, M->nb[f])) != HGQ_OK)
					return rc;
				break;
			}
	}
	return HGQ_OK;
}

/* a (1,2)-swap at set vertex v: two non-adjacent 1-tight neighbours */
static int
mis_swap(struct mis *M, uint32_t v, bool *done)
{
	int rc;

	*done = false;
	for (uint32_t e = M->off[v]; e < M->off[v + 1]; e++) {
		uint32_t u = M->nb[e];

		if (M->in[u] || M->tight[u] != 1)
			continue;
		M->stamp++;
		for (uint32_t f = M->off[u]; f < M->off[u + 1]; f++)
			M->mark[M->nb[f]] = M->stamp;
		for (uint32_t g = e + 1; g < M->off[v + 1]; g++) {
			uint32_t w = M->nb[g];

			if (M->in[w] || M->tight[w] != 1 ||
			    M->mark[w] == M->stamp)
				continue;
			if ((rc = mis_remove(M, v)) != HGQ_OK ||
			    (rc = mis_insert(M, u)) != HGQ_OK ||
			    (rc = mis_insert(M, w)) != HGQ_OK ||
			    (rc = mis_push(M, u)) != HGQ_OK ||
			    (rc = mis_push(M, w)) != HGQ_OK)
				return rc;
			*done = true;
			return mis_settle(M, v);
		}
	}
	return HGQ_OK;
}

/* swaps until the queue is empty */
static int
mis_local(struct mis *M)
{
	int rc;

	while (M->n_queue > 0) {
		uint32_t v = M->queue[--M->n_queue];
		bool done;

		if (M->in[v] && (rc = mis_swap(M, v, &done)) != HGQ_OK)
			return rc;
	}
	return HGQ_OK;
}

/* force v into the set, its neighbours out, and settle around them */
static int
mis_force(struct mis *M, uint32_t v)
{
	size_t first = M->n_undo;
	int rc;

	for (uint32_t e = M->off[v]; e < M->off[v + 1]; e++)
		if (M->in[M->nb[e]] &&
		    (rc = mis_remove(M, M->nb[e])) != HGQ_OK)
			return rc;
	if ((rc = mis_insert(M, v)) != HGQ_OK || (rc = mis_push(M, v)) !=
	    HGQ_OK)
		return rc;
	for (size_t e = first; e < M->n_undo; e++)
		if (!(M->undo[e] & IN_FLAG) &&
		    (rc = mis_settle(M, M->undo[e])) != HGQ_OK)
			return rc;
	return HGQ_OK;
}

/*
 * The search: start from the vertices in the given order (each taken when
 * free), then MIS_ROUNDS * n perturbations.  M->best gets the result.
 */
static int
mis_search(struct mis *M, const uint32_t *order)
{
	int rc;

	for (uint32_t j = 0; j < M->n; j++)
		if (M->tight[order[j]] == 0 && !M->in[order[j]]) {
			mis_set(M, order[j], true);
			if ((rc = mis_push(M, order[j])) != HGQ_OK)
				return rc;
		}
	if ((rc = mis_local(M)) != HGQ_OK)
		return rc;
	memcpy(M->best, M->in, M->n);
	M->best_size = M->size;
	for (uint64_t it = 0; it < (uint64_t)M->n * MIS_ROUNDS; it++) {
		uint32_t v = (uint32_t)(mis_rand(M) % M->n), size0 = M->size;

		if (M->in[v])
			continue;
		M->n_undo = 0;
		if ((rc = mis_force(M, v)) != HGQ_OK ||
		    (rc = mis_local(M)) != HGQ_OK)
			return rc;
		if (M->size < size0) {		/* worse: undo */
			while (M->n_undo > 0) {
				uint32_t e = M->undo[--M->n_undo];

				mis_set(M, e & ~IN_FLAG, !(e & IN_FLAG));
			}
			continue;
		}
		if (M->size > M->best_size) {
			memcpy(M->best, M->in, M->n);
			M->best_size = M->size;
		}
	}
	return HGQ_OK;
}

static void
mis_release(struct mis *M)
{
	free(M->off);
	free(M->nb);
	free(M->in);
	free(M->best);
	free(M->tight);
	free(M->mark);
	free(M->queue);
	free(M->undo);
}

/* tail order of two vertices: least penalty, then newest rows */
struct vord {
	int32_t		 pen;
	uint64_t	 order;
	uint32_t	 v;
};

static int
vord_cmp(const void *x, const void *y)
{
	const struct vord *a = x, *b = y;

	if (a->pen != b->pen)
		return a->pen < b->pen ? -1 : 1;
	return a->order > b->order ? -1 : a->order < b->order;
}

/*
 * The live keys of the tail as a graph and a large independent set of
 * it: *keys gets its keys (tail indices), in the tail's order.
 */
static int
tail_choose(struct solver *S, struct tail *T, uint32_t variant,
    uint32_t **keys, size_t *n_keys)
{
	struct mis M;
	uint32_t *vid = NULL, *key = NULL, *order = NULL;
	struct vord *vo = NULL;
	size_t n_nb = 0, cap_nb = 0;
	int rc = HGQ_ENOMEM;

	memset(&M, 0, sizeof(M));
	*keys = NULL;
	*n_keys = 0;
	if ((vid = hgq_calloc((size_t)T->n_tk + 1, sizeof(*vid))) == NULL ||
	    (key = hgq_calloc((size_t)T->n_tk + 1, sizeof(*key))) == NULL)
		goto out;
	for (uint32_t idx = 0; idx < T->n_tk; idx++) {
		vid[idx] = UINT32_MAX;
		if (tk_live(&T->tk[idx])) {
			key[M.n] = idx;
			vid[idx] = M.n++;
		}
	}
	if ((M.off = hgq_calloc((size_t)M.n + 1, sizeof(*M.off))) == NULL ||
	    (M.in = hgq_calloc((size_t)M.n + 1, 1)) == NULL ||
	    (M.best = hgq_calloc((size_t)M.n + 1, 1)) == NULL ||
	    (M.tight = hgq_calloc((size_t)M.n + 1, sizeof(*M.tight))) ==
	    NULL ||
	    (M.mark = hgq_calloc((size_t)M.n + 1, sizeof(*M.mark))) == NULL ||
	    (order = hgq_calloc((size_t)M.n + 1, sizeof(*order))) == NULL ||
	    (vo = hgq_calloc((size_t)M.n + 1, sizeof(*vo))) == NULL)
		goto out;
	/* neighbours: the other live keys through the digits of each key */
	for (uint32_t v = 0; v < M.n; v++) {
		struct key k;

		M.off[v] = (uint32_t)n_nb;
		M.stamp++;
		M.mark[v] = M.stamp;
		unpack_key(T->tk[key[v]].key, &k);
		if ((rc = tk_pairs(S, T, T->tk[key[v]].key)) != HGQ_OK)
			goto out;
		rc = HGQ_ENOMEM;
		for (size_t o = 0; o < T->n_pairs; o++)
		for (int side = 0; side < 2; side++) {
			const struct occ *oc = &T->pairs[o];
			int32_t j = col_find(&S->cols[oc->col], side ? k.r1 :
			    k.r0, side ? oc->pos + k.shift : oc->pos);
			const struct tdig *t = &T->tc[oc->col].d[j];

			for (uint32_t a = 0; a < t->n_adj; a++) {
				uint32_t u = vid[t->adj[a]];

				if (u == UINT32_MAX || M.mark[u] == M.stamp)
					continue;
				M.mark[u] = M.stamp;
				if (grow((void **)&M.nb, &cap_nb, n_nb + 1,
				    sizeof(*M.nb)) != 0)
					goto out;
				M.nb[n_nb++] = u;
			}
		}
		vo[v].pen = T->tk[key[v]].pen;
		vo[v].order = tk_order(T->tk[key[v]].key);
		vo[v].v = v;
	}
	M.off[M.n] = (uint32_t)n_nb;
	qsort(vo, M.n, sizeof(*vo), vord_cmp);
	for (uint32_t j = 0; j < M.n; j++)
		order[j] = vo[j].v;
	M.rng = ((variant + 1) * 0x9e3779b97f4a7c15ull + M.n) | 1;
	if ((rc = mis_search(&M, order)) != HGQ_OK)
		goto out;
	rc = HGQ_ENOMEM;
	if ((*keys = hgq_calloc((size_t)M.best_size + 1, sizeof(**keys))) ==
	    NULL)
		goto out;
	for (uint32_t j = 0; j < M.n; j++)
		if (M.best[order[j]])
			(*keys)[(*n_keys)++] = key[order[j]];
	rc = HGQ_OK;
out:
	mis_release(&M);
	free(vid);
	free(key);
	free(order);
	free(vo);
	return rc;
}

/*
 * Count the pairs of every column; extract a large independent set of the
 * live keys, then the rest by least penalty.
 */
/* extract live key idx, or block it when it cannot be any more */
static int
tail_take(struct solver *S, struct tail *T, uint32_t idx)
{
	int v, rc;

	if ((v = tail_occ(S, T, idx)) < 0)
		return HGQ_ENOMEM;
	if (v >= 2)
		return tail_extract(S, T, idx);
	/* depth room only shrinks: blocked for good */
	T->tk[idx].blocked = 1;
	if ((rc = tk_spread(S, T, idx, false)) != HGQ_OK)
		return rc;
	return tail_flush(S, T);
}

static int
tail(struct solver *S, uint32_t variant)
{
	struct tail T;
	uint32_t idx, *chosen = NULL;
	size_t n_chosen = 0;
	int rc, v;

	memset(&T, 0, sizeof(T));
	if (htab_init(&T.map, 4096) != 0 ||
	    (T.tc = hgq_calloc(S->n_out, sizeof(*T.tc))) == NULL) {
		rc = HGQ_ENOMEM;
		goto out;
	}
	for (uint32_t col = 0; col < S->n_out; col++) {
		T.tc[col].cap = S->cols[col].n + 1;
		if ((T.tc[col].d = hgq_calloc(T.tc[col].cap,
		    sizeof(*T.tc[col].d))) == NULL) {
			rc = HGQ_ENOMEM;
			goto out;
		}
	}
	if ((rc = tail_count(S, &T)) != HGQ_OK)
		goto out;
	/* keys that cannot be extracted are not live */
	for (idx = 0; idx < T.n_tk; idx++) {
		if ((v = tail_occ(S, &T, idx)) < 0) {
			rc = HGQ_ENOMEM;
			goto out;
		}
		T.tk[idx].blocked = v < 2;
		if (tk_live(&T.tk[idx]) &&
		    (rc = tk_spread(S, &T, idx, true)) != HGQ_OK)
			goto out;
	}
	for (idx = 0; idx < T.n_tk; idx++)
		if (tk_live(&T.tk[idx]) &&
		    ((rc = tk_penalty(S, &T, idx)) != HGQ_OK ||
		    (rc = tk_push(&T, idx)) != HGQ_OK))
			goto out;
	for (size_t e = 0; e < T.n_dd; e++) {
		struct tdig *t = &T.tc[T.dd[e].col].d[col_find(
		    &S->cols[T.dd[e].col], T.dd[e].row, T.dd[e].pos)];

		t->pend = 0;
		t->listed = 0;
	}
	T.n_dd = 0;
	/* a large independent set first, then the greedy order */
	if ((rc = tail_choose(S, &T, variant, &chosen, &n_chosen)) != HGQ_OK)
		goto out;
	for (size_t c = 0; c < n_chosen; c++)
		if (tk_live(&T.tk[chosen[c]]) &&
		    (rc = tail_take(S, &T, chosen[c])) != HGQ_OK)
			goto out;
	while (tk_pop(&T, &idx))
		if ((rc = tail_take(S, &T, idx)) != HGQ_OK)
			goto out;
	rc = HGQ_OK;
out:
	free(chosen);
	tail_release(S, &T);
	return rc;
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
	p->method = HGQ_CMVM_MC;
	p->variants = 2;
	p->conv_share = HGQ_SHARE_TAPS;
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
		if (x[i].lo > x[i].hi || x[i].lo <= -HGQ_IVAL_LIMIT ||
		    x[i].hi >= HGQ_IVAL_LIMIT || nd.depth < 0 ||
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

/* one greedy run: the problem, its variant, and what it gave */
struct run {
	const struct hgq_ival	*x;
	const int32_t		*x_depth;
	uint32_t		 n_in, n_out;
	const int32_t		*w_m;
	const int8_t		*w_f;
	const struct hgq_cmvm_params *p;
	uint32_t		 variant;
	struct hgq_cmvm		*res;
	int			 rc;
	struct hgq_err		 err;
};

static int
solve_one(struct run *R)
{
	struct solver S;
	struct hgq_cmvm *res = NULL;
	struct hgq_err *err = &R->err;
	uint32_t n_in = R->n_in, n_out = R->n_out;
	int rc, min_depth = 0;

	memset(&S, 0, sizeof(S));
	S.n_in = n_in;
	S.n_out = n_out;
	S.method = R->p->method;
	S.W = (n_out + 63) / 64;
	if ((S.cols = hgq_calloc(n_out, sizeof(*S.cols))) == NULL ||
	    (S.tsum = hgq_calloc(n_out, sizeof(*S.tsum))) == NULL ||
	    htab_init(&S.adders, 1024) != 0) {
		rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = load(&S, R->x, R->x_depth, R->w_m, R->w_f, err)) != HGQ_OK)
		goto fail;
	for (uint32_t j = 0; j < n_out; j++) {
		int d = ceil_log2_u64(S.cols[j].sum2);

		if (d > min_depth)
			min_depth = d;
	}
	S.allowed = R->p->max_extra_depth < 0 ? INT32_MAX :
	    min_depth + R->p->max_extra_depth;
	if (S.allowed != INT32_MAX && S.allowed > MAX_DEPTH)
		S.allowed = MAX_DEPTH;
	if (S.method != HGQ_CMVM_NONE &&
	    ((rc = count_initial(&S, R->variant)) != HGQ_OK ||
	    (rc = cse(&S)) != HGQ_OK || (rc = tail(&S, R->variant)) != HGQ_OK))
		goto fail_rc;
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
	R->res = res;
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

/* a thread's share of the runs: first, first + step, ... */
struct worker {
	struct run	*runs;
	uint32_t	 n_runs, first, step;
};

static void *
worker_main(void *arg)
{
	const struct worker *w = arg;

	for (uint32_t v = w->first; v < w->n_runs; v += w->step)
		w->runs[v].rc = solve_one(&w->runs[v]);
	return NULL;
}

/* a is a better solution than b: fewer adders, then fewer adder bits */
static bool
better(const struct hgq_cmvm *a, const struct hgq_cmvm *b)
{
	if (a->n_adders != b->n_adders)
		return a->n_adders < b->n_adders;
	return a->cost < b->cost;
}

#define MAX_THREADS	16

/*
 * Variants.  Ties in the greedy loop are broken by the order in which the
 * keys were made, and on random matrices a different order moves the
 * result by some +-25 adders either way.  So p->variants runs differ in
 * the order of the initial keys (count_initial) and the seed of the
 * tail's search (tail_choose), and the solution with the fewest adders,
 * then the fewest adder bits, then the lowest variant is kept: on random
 * 64x64 8-bit matrices the best of 2 is ~8 adders below one run, the best
 * of 4 ~15 (for twice the time).  The runs are spread over p->threads
 * threads; each is sequential and the choice is made after all ended, so
 * the result does not depend on the threads.
 */
int
hgq_cmvm_solve(struct hgq_cmvm **out, const struct hgq_ival *x,
    const int32_t *x_depth, uint32_t n_in, uint32_t n_out,
    const int32_t *w_m, const int8_t *w_f, const struct hgq_cmvm_params *p,
    struct hgq_err *err)
{
	struct hgq_cmvm_params def;
	struct worker w[MAX_THREADS];
	struct run *runs;
	uint32_t n_runs, n_thr, best = 0;
	int rc = HGQ_OK;

	*out = NULL;
	if (p == NULL) {
		hgq_cmvm_params_init(&def);
		p = &def;
	}
	if (n_in >= MAX_ROWS / 2 || n_out > HGQ_MAX_N)
		return hgq_errf(err, HGQ_ERANGE, "cmvm: %u x %u is too large",
		    n_in, n_out);
	n_runs = p->method == HGQ_CMVM_NONE || p->variants < 1 ? 1 :
	    (uint32_t)p->variants;
	if ((runs = hgq_calloc(n_runs, sizeof(*runs))) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	for (uint32_t v = 0; v < n_runs; v++) {
		runs[v].x = x;
		runs[v].x_depth = x_depth;
		runs[v].n_in = n_in;
		runs[v].n_out = n_out;
		runs[v].w_m = w_m;
		runs[v].w_f = w_f;
		runs[v].p = p;
		runs[v].variant = v;
	}
	n_thr = (uint32_t)hgq_n_threads(p->threads, MAX_THREADS);
	if (n_thr > n_runs)
		n_thr = n_runs;
	for (uint32_t t = 0; t < n_thr; t++) {
		w[t].runs = runs;
		w[t].n_runs = n_runs;
		w[t].first = t;
		w[t].step = n_thr;
	}
	hgq_fan_out(worker_main, w, sizeof(w[0]), (int)n_thr);
	for (uint32_t v = 0; v < n_runs && rc == HGQ_OK; v++)
		if ((rc = runs[v].rc) != HGQ_OK && err != NULL)
			*err = runs[v].err;
	for (uint32_t v = 1; v < n_runs && rc == HGQ_OK; v++)
		if (better(runs[v].res, runs[best].res))
			best = v;
	for (uint32_t v = 0; v < n_runs; v++)
		if (rc != HGQ_OK || v != best)
			hgq_cmvm_free(runs[v].res);
	if (rc == HGQ_OK)
		*out = runs[best].res;
	free(runs);
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
