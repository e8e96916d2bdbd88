/*
 * mkfixture - write a small deterministic random model for the tests.
 *
 * usage: mkfixture [--compress] [--regress] [--train] [--uncalibrated]
 *            [--arch SPEC | --graph | --graph-all] [--fit]
 *            [--max-width N] [--meta N] [--norm none|scale|standard]
 *            [--raw-extra N] [--seed N] [--shape N,N,...] [-o FILE]
 *
 * --shape 4,3,2 gives quantizer(4) -> dense 4x3 -> quantizer(3) ->
 * dense 3x2 -> quantizer(2).  Every quantizer element gets a random
 * k in {0,1}, f in -2..6 and a width in -1..max-width (about one in six
 * forced to 0), hence negative i and pruned elements; modes, activations
 * and granularities are random.  --train adds a float tensor for every
 * role (the first dense layer gets batchnorm for that), training progress,
 * calibration ranges and metadata; --meta N adds N metadata entries
 * "key0".."keyN-1" (1024 is the format's limit).  The same options and
 * seed always give
 * the same bytes.  Output goes to stdout or, atomically, to FILE.
 *
 * --arch SPEC builds a shaped model (format 1.1) instead of --shape:
 * SPEC is the input shape and the operations, comma-separated, each
 * operation followed by a quantizer of its output shape:
 *   in:HxWxC | in:WxC | in:N        the input (first quantizer) shape
 *   conv2d:F:KHxKW[:SHxSW[:same]]   conv1d:F:K[:S[:same]]
 *   maxpool:PHxPW[:SHxSW]  avgpool:...  (1-D: maxpool:P[:S])
 *   flatten   dense:N
 * e.g. --arch in:4x4x1,conv2d:2:3x3,maxpool:2x2,flatten,dense:2
 *
 * --fit makes a shaped or dense model look trained and calibrated: small
 * weights (at most 4 bits, |w| <= 1), input formats of at most 4 integer
 * bits, and every later quantizer fitted to the exact range of the values
 * reaching it (f random, so that widths stay within --max-width; one
 * element in ten zero-width, one in six a bit short so that SAT and WRAP
 * fire), with the identity (the union of the formats reaching each
 * element) after max-pooling and flatten, as the trainer makes them.
 *
 * --graph builds the format 1.2 example of formats/hgqm.md 9.2 instead:
 * named inputs x_a [2] and x_b [1], a quantizer and a dense layer on
 * each, their sum, tanh of the sum, the sum and the tanh concatenated;
 * named outputs "sum" (the sum's quantizer) and "y"; a regression model.
 * --graph-all builds a graph of every kind on rank-2 tensors: inputs p
 * [4, 2] and q [4, 3] concatenated on axis 1, a per-row dense (conv1d
 * kernel 1), subtract, a 3-input add, sigmoid, average pooling over the
 * rows, flatten, dense; outputs "o" (the dense) and "s" (the sigmoid).
 * With --train the first (--graph) or last (--graph-all) dense layer also
 * carries a weight mask that fixes one weight at 0.
 *
 * formats/examples/ was produced once with (see formats/hgqm.md):
 *   mkfixture --seed 221 --shape 2,2,1 --max-width 6 -o tiny.hgqm
 *   mkfixture --seed 221 --shape 2,2,1 --max-width 6 --train -o tiny-train.hgqm
 *   mkfixture --seed 221 --shape 2,2,1 --max-width 6 --train --compress
 *       -o tiny-deflate.hgqm
 *   mkfixture --graph --seed 31 --max-width 6 -o graph.hgqm
 *   mkfixture --graph --seed 31 --max-width 6 --train -o graph-train.hgqm
 * and tests/fuzz/corpus-model/graph-*.hgqm with
 *   mkfixture --graph --seed 31 --max-width 6 --train --compress
 *       -o graph-deflate.hgqm
 *   mkfixture --graph-all --seed 3 --max-width 6 -o graph-all.hgqm
 *   mkfixture --graph-all --seed 4 --max-width 6 --train
 *       -o graph-all-train.hgqm
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define MAX_SHAPE	(HGQ_MAX_LAYERS / 2 + 1)

struct opts {
	uint64_t	 seed;
	uint32_t	 shape[MAX_SHAPE];
	int		 n_shape;
	int		 max_width;
	uint32_t	 raw_extra;
	uint32_t	 n_meta;
	int		 norm;
	bool		 regress, train, compress, uncal, fit;
	int		 graph;		/* 1 --graph, 2 --graph-all */
	const char	*out;
	const char	*arch;		/* --arch SPEC, or NULL */
};

static const char usage[] =
    "usage: mkfixture [--compress] [--regress] [--train] [--uncalibrated]\n"
    "           [--arch SPEC | --graph | --graph-all] [--fit] [--max-width N]\n"
    "           [--meta N]\n"
    "           [--norm none|scale|standard] [--raw-extra N] [--seed N]\n"
    "           [--shape N,N,...] [-o FILE]\n";

/*
 * Two random streams: one for the model itself, one for what --train
 * adds, so that a model with --train has the same fixed-point part as
 * the model without it.
 */
static uint64_t rng_model, rng_train;

/* splitmix64: tiny, good enough, identical everywhere */
static uint64_t
rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* uniform integer in [lo, hi] (the tiny bias of % does not matter) */
static int
rnd_in(uint64_t *state, int lo, int hi)
{
	return lo + (int)(rng_next(state) % (uint64_t)(hi - lo + 1));
}

static int
rnd(int lo, int hi)
{
	return rnd_in(&rng_model, lo, hi);
}

static int
rnd_t(int lo, int hi)
{
	return rnd_in(&rng_train, lo, hi);
}

/* a float with few significant bits, exact in binary and in %.17g */
static float
rnd_float(void)
{
	return (float)rnd_t(-512, 512) / 64.0f;
}

static void
fail(const char *what, const struct hgq_err *err)
{
	fprintf(stderr, "mkfixture: %s%s%s\n", what, err ? ": " : "",
	    err ? err->msg : "");
	exit(1);
}

static unsigned long long
parse_num(const char *s, const char *opt, unsigned long long max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || v > max) {
		fprintf(stderr, "mkfixture: %s: bad value '%s'\n", opt, s);
		exit(2);
	}
	return v;
}

static void
parse_shape(struct opts *o, const char *s)
{
	char buf[1024], *tok, *save = NULL;

	if (strlen(s) >= sizeof(buf)) {
		fprintf(stderr, "mkfixture: --shape: too long\n");
		exit(2);
	}
	strcpy(buf, s);
	o->n_shape = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (o->n_shape == MAX_SHAPE) {
			fprintf(stderr, "mkfixture: --shape: too many"
			    " layers\n");
			exit(2);
		}
		o->shape[o->n_shape] = (uint32_t)parse_num(tok, "--shape",
		    4096);
		if (o->shape[o->n_shape] == 0) {
			fprintf(stderr, "mkfixture: --shape: sizes start"
			    " at 1\n");
			exit(2);
		}
		o->n_shape++;
	}
	if (o->n_shape < 2) {
		fprintf(stderr, "mkfixture: --shape needs at least 2 sizes\n");
		exit(2);
	}
}

static void
parse_args(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "arch", required_argument, NULL, 'a' },
		{ "compress", no_argument, NULL, 'c' },
		{ "fit", no_argument, NULL, 'F' },
		{ "graph", no_argument, NULL, 'g' },
		{ "graph-all", no_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ "max-width", required_argument, NULL, 'w' },
		{ "meta", required_argument, NULL, 'm' },
		{ "norm", required_argument, NULL, 'n' },
		{ "raw-extra", required_argument, NULL, 'r' },
		{ "regress", no_argument, NULL, 'R' },
		{ "seed", required_argument, NULL, 's' },
		{ "shape", required_argument, NULL, 'S' },
		{ "train", no_argument, NULL, 't' },
		{ "uncalibrated", no_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->seed = 1;
	o->shape[0] = 4;
	o->shape[1] = 3;
	o->shape[2] = 2;
	o->n_shape = 3;
	o->max_width = 8;
	while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
		switch (c) {
		case 'a': o->arch = optarg; break;
		case 'c': o->compress = true; break;
		case 'F': o->fit = true; break;
		case 'g': o->graph = 1; break;
		case 'G': o->graph = 2; break;
		case 'h': fputs(usage, stdout); exit(0);
		case 'm':
			o->n_meta = (uint32_t)parse_num(optarg, "--meta",
			    HGQ_MAX_META);
			break;
		case 'n':
			if (strcmp(optarg, "none") == 0)
				o->norm = HGQ_NORM_NONE;
			else if (strcmp(optarg, "scale") == 0)
				o->norm = HGQ_NORM_SCALE;
			else if (strcmp(optarg, "standard") == 0)
				o->norm = HGQ_NORM_STANDARD;
			else {
				fprintf(stderr, "mkfixture: --norm: bad value"
				    " '%s'\n", optarg);
				exit(2);
			}
			break;
		case 'o': o->out = optarg; break;
		case 'r':
			o->raw_extra = (uint32_t)parse_num(optarg,
			    "--raw-extra", 4096);
			break;
		case 'R': o->regress = true; break;
		case 's': o->seed = parse_num(optarg, "--seed", UINT64_MAX);
			break;
		case 'S': parse_shape(o, optarg); break;
		case 't': o->train = true; break;
		case 'u': o->uncal = true; break;
		case 'w':
			o->max_width = (int)parse_num(optarg, "--max-width",
			    HGQ_MAX_WIDTH);
			break;
		default:
			fputs(usage, stderr);
			exit(2);
		}
	}
	if (optind != argc || (o->graph != 0 && (o->arch != NULL ||
	    o->fit))) {
		fputs(usage, stderr);
		exit(2);
	}
}

static void
add_tensor(struct hgq_layer *l, uint32_t role, uint32_t n)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_tensor *t = hgq_layer_add_tensor(l, role, n, &err);

	if (t == NULL)
		fail("cannot add a tensor", &err);
	for (uint32_t e = 0; e < n; e++)
		t->data[e] = rnd_float();
}

/* a tensor and, when it is trained, its two optimizer moments */
static void
add_trained(struct hgq_layer *l, uint32_t role, uint32_t n)
{
	add_tensor(l, role, n);
	add_tensor(l, role | HGQ_ROLE_M1, n);
	add_tensor(l, role | HGQ_ROLE_M2, n);
}

static uint32_t
by_gran(int gran, uint32_t element, uint32_t channel)
{
	return gran == HGQ_GRAN_ELEMENT ? element :
	    gran == HGQ_GRAN_CHANNEL ? channel : 1;
}

static void
fill_quant(struct hgq_layer *l, const struct opts *o)
{
	struct hgq_err err = HGQ_ERR_INIT;

	l->round = (uint8_t)rnd(0, 1);
	l->overflow = (uint8_t)rnd(0, 2);
	l->gran = (uint8_t)rnd(0, 2);
	l->trainable = (uint8_t)rnd(0, 1);
	/* the values are drawn even when not stored, so that the modes of
	   later layers do not depend on --uncalibrated */
	if (hgq_layer_alloc_fixed(l, &err) != HGQ_OK)
		fail("cannot allocate a quantizer", &err);
	for (uint32_t e = 0; e < l->n_out; e++) {
		int w = rnd(0, 5) == 0 ? 0 : rnd(-1, o->max_width);
		int k = rnd(0, 1), f = rnd(-2, 6);

		l->k[e] = (int8_t)k;
		l->f[e] = (int8_t)f;
		l->i[e] = (int8_t)(w - k - f);
	}
	if (o->uncal) {
		free(l->k);
		free(l->i);
		free(l->f);
		l->k = l->i = l->f = NULL;
	}
	if (!o->train)
		return;
	l->cal_min = calloc(l->n_out, sizeof(double));
	l->cal_max = calloc(l->n_out, sizeof(double));
	if (l->cal_min == NULL || l->cal_max == NULL)
		fail("out of memory", NULL);
	for (uint32_t e = 0; e < l->n_out; e++) {
		l->cal_min[e] = rnd_t(-64, 0) / 8.0;
		l->cal_max[e] = rnd_t(0, 64) / 8.0;
	}
	add_trained(l, HGQ_ROLE_ACT_FBITS, by_gran(l->gran, l->n_out,
	    l->rank > 0 ? l->shape[l->rank - 1] : l->n_out));
	add_tensor(l, HGQ_ROLE_ACT_ISTATE, l->n_out);
	add_tensor(l, HGQ_ROLE_ACT_KSTATE, l->n_out);
}

/* a dense or conv layer j: nw weights, nc = n_out or filters */
static void
fill_dense(struct hgq_model *m, uint32_t j, const struct opts *o, bool last,
    bool first)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_layer *l = &m->layers[j];
	uint32_t nw = (uint32_t)hgq_layer_n_weights(m, j);
	uint32_t nc = hgq_layer_n_bias(m, j);

	l->act = last ? HGQ_ACT_LINEAR : (uint8_t)(rnd(0, 3) != 0);
	l->bn = o->train && first;
	l->w_gran = (uint8_t)rnd(0, 2);
	l->b_gran = (uint8_t)rnd(0, 2);
	if (hgq_model_alloc_fixed(m, j, &err) != HGQ_OK)
		fail("cannot allocate a dense layer", &err);
	for (uint32_t e = 0; e < nw; e++) {
		int b = rnd(0, 6);

		l->w_m[e] = rnd(0, 4) == 0 ? 0 : rnd(-(1 << b), 1 << b);
		l->w_f[e] = (int8_t)rnd(-2, 6);
	}
	for (uint32_t e = 0; e < nc; e++) {
		l->b_m[e] = rnd(0, 3) == 0 ? 0 : rnd(-40, 40);
		l->b_f[e] = (int8_t)rnd(-1, 5);
	}
	if (o->uncal) {
		free(l->w_m);
		free(l->w_f);
		free(l->b_m);
		free(l->b_f);
		l->w_m = l->b_m = NULL;
		l->w_f = l->b_f = NULL;
	}
	if (!o->train)
		return;
	add_trained(l, HGQ_ROLE_WEIGHT, nw);
	add_trained(l, HGQ_ROLE_BIAS, nc);
	add_trained(l, HGQ_ROLE_WEIGHT_FBITS, by_gran(l->w_gran, nw, nc));
	add_trained(l, HGQ_ROLE_BIAS_FBITS, by_gran(l->b_gran, nc, nc));
	if (!l->bn)
		return;
	add_tensor(l, HGQ_ROLE_BN_MEAN, nc);
	add_tensor(l, HGQ_ROLE_BN_VAR, nc);
	add_trained(l, HGQ_ROLE_BN_GAMMA, nc);
	add_trained(l, HGQ_ROLE_BN_BETA, nc);
}

static void
fill_input(struct hgq_model *m, const struct opts *o)
{
	uint32_t n = hgq_model_n_in(m), n_raw = n + o->raw_extra, left = n;

	free(m->index_map);
	m->index_map = calloc(n, sizeof(*m->index_map));
	if (m->index_map == NULL)
		fail("out of memory", NULL);
	m->n_raw = n_raw;
	/* choose n of the n_raw columns, in order */
	for (uint32_t c = 0, e = 0; c < n_raw && left > 0; c++) {
		if ((uint64_t)rnd(0, (int)(n_raw - c) - 1) < left) {
			m->index_map[e++] = c;
			left--;
		}
	}
	m->norm = (uint32_t)o->norm;
	if (o->norm == HGQ_NORM_NONE)
		return;
	m->norm_offset = calloc(n_raw, sizeof(double));
	m->norm_scale = calloc(n_raw, sizeof(double));
	if (m->norm_offset == NULL || m->norm_scale == NULL)
		fail("out of memory", NULL);
	for (uint32_t c = 0; c < n_raw; c++) {
		m->norm_offset[c] = o->norm == HGQ_NORM_SCALE ? 0.0 :
		    rnd(-100, 100) / 10.0;
		m->norm_scale[c] = rnd(1, 255) / 256.0;
	}
}

static void
fill_train(struct hgq_model *m, const struct opts *o)
{
	struct hgq_err err = HGQ_ERR_INIT;
	char config[256];

	m->has_train = 1;
	m->train.epoch = (uint32_t)rnd_t(1, 50);
	m->train.step = (uint64_t)m->train.epoch * 211;
	for (int r = 0; r < 4; r++)
		m->train.rng[r] = rng_next(&rng_train);
	m->train.lr_scale = 1.0;
	snprintf(config, sizeof(config), "seed: %llu\nmodel:\n"
	    "  name: \"fixture\"\t# quoted, tabbed\n",
	    (unsigned long long)o->seed);
	if (hgq_meta_set(m, "tool", "mkfixture", &err) != HGQ_OK ||
	    hgq_meta_set(m, "config", config, &err) != HGQ_OK ||
	    hgq_meta_set(m, "metrics", "epoch\tloss\tebops\n0\t1.5\t310\n"
	    "1\t0.75\t204\n", &err) != HGQ_OK ||
	    hgq_meta_set(m, "note", "\xce\xb2 \xe2\x89\xa5 0, back\\slash,"
	    " bell \x07.", &err) != HGQ_OK)
		fail("cannot set metadata", &err);
}

/* "AxBxC" into d; returns the count (0: malformed) */
static uint32_t
parse_dims(const char *s, uint32_t *d, uint32_t max)
{
	uint32_t n = 0;
	char *end;

	for (;;) {
		unsigned long v;

		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno != 0 || end == s || v == 0 || v > HGQ_MAX_N ||
		    n == max)
			return 0;
		d[n++] = (uint32_t)v;
		if (*end != 'x')
			return *end == '\0' ? n : 0;
		s = end + 1;
	}
}

static void
bad_arch(const char *tok)
{
	fprintf(stderr, "mkfixture: --arch: bad item '%s'\n", tok);
	exit(2);
}

/* the layers of an --arch SPEC (see the top of the file) */
static void
build_arch(struct hgq_model *m, const char *spec)
{
	struct hgq_err err = HGQ_ERR_INIT;
	char buf[1024], *tok, *save = NULL;
	uint32_t d[HGQ_MAX_RANK], rank = 0;

	if (strlen(spec) >= sizeof(buf))
		bad_arch(spec);
	strcpy(buf, spec);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		char *f[5] = { NULL }, *s2 = NULL, *p;
		uint32_t nf = 0, k[2] = { 1, 1 }, st[2] = { 0, 0 }, kind;
		uint32_t od[HGQ_MAX_RANK], orank, t[2];
		struct hgq_layer *l;
		bool conv, same = false;

		for (p = strtok_r(tok, ":", &s2); p != NULL && nf < 5;
		    p = strtok_r(NULL, ":", &s2))
			f[nf++] = p;
		if (nf == 0)
			bad_arch(tok);
		if (strcmp(f[0], "in") == 0) {
			if (nf != 2 || m->n_layers != 0 ||
			    (rank = parse_dims(f[1], d, 3)) == 0)
				bad_arch(tok);
			if (hgq_model_add_shaped(m, HGQ_LAYER_QUANT, rank, d,
			    &err) == NULL)
				fail("--arch", &err);
			continue;
		}
		if (rank == 0)
			bad_arch(tok);
		kind = strcmp(f[0], "conv1d") == 0 ? HGQ_LAYER_CONV1D :
		    strcmp(f[0], "conv2d") == 0 ? HGQ_LAYER_CONV2D :
		    strcmp(f[0], "maxpool") == 0 ? HGQ_LAYER_MAXPOOL :
		    strcmp(f[0], "avgpool") == 0 ? HGQ_LAYER_AVGPOOL :
		    strcmp(f[0], "flatten") == 0 ? HGQ_LAYER_FLATTEN :
		    strcmp(f[0], "dense") == 0 ? HGQ_LAYER_DENSE : 0;
		conv = kind == HGQ_LAYER_CONV1D || kind == HGQ_LAYER_CONV2D;
		memcpy(od, d, sizeof(od));
		orank = rank;
		if (kind == HGQ_LAYER_DENSE) {
			if (nf != 2 || parse_dims(f[1], od, 1) != 1)
				bad_arch(tok);
			orank = 1;
		} else if (kind == HGQ_LAYER_FLATTEN) {
			od[0] = m->layers[m->n_layers - 1].n_out;
			od[1] = od[2] = 0;
			orank = 1;
		} else if (kind != 0) {
			uint32_t at = conv ? 2 : 1, nd = rank - 1;

			if (rank < 2 || nf <= at || nf > at + 3)
				bad_arch(tok);
			/* 1-D windows: the first of kernel/stride is 1 */
			if (parse_dims(f[at], t, 2) != nd)
				bad_arch(tok);
			k[0] = nd == 2 ? t[0] : 1;
			k[1] = t[nd - 1];
			if (nf > at + 1) {
				if (parse_dims(f[at + 1], t, 2) != nd)
					bad_arch(tok);
				st[0] = nd == 2 ? t[0] : 1;
				st[1] = t[nd - 1];
			} else if (conv)
				st[0] = st[1] = 1;
			else
				memcpy(st, k, sizeof(st));	/* = pool */
			if (nf > at + 2) {
				if (!conv || strcmp(f[at + 2], "same") != 0)
					bad_arch(tok);
				same = true;
			}
			if (k[0] > (rank == 3 ? d[0] : 1) ||
			    k[1] > d[rank - 2])
				bad_arch(tok);
			for (uint32_t a = 0; a < 2; a++) {
				uint32_t in = a == 0 ? (rank == 3 ? d[0] : 1) :
				    d[rank - 2];
				uint32_t o = same ? (in + st[a] - 1) / st[a] :
				    (in - k[a]) / st[a] + 1;

				if (a == 1)
					od[rank - 2] = o;
				else if (rank == 3)
					od[0] = o;
			}
			if (conv && (parse_dims(f[1], t, 1) != 1 ||
			    (kind == HGQ_LAYER_CONV1D) != (rank == 2)))
				bad_arch(tok);
			if (conv)
				od[rank - 1] = t[0];
		} else
			bad_arch(tok);
		if ((l = hgq_model_add_shaped(m, kind, orank, od, &err)) ==
		    NULL)
			fail("--arch", &err);
		if (kind != HGQ_LAYER_DENSE && kind != HGQ_LAYER_FLATTEN) {
			l->kernel[0] = k[0];
			l->kernel[1] = k[1];
			l->stride[0] = st[0];
			l->stride[1] = st[1];
			l->padding = same ? HGQ_PAD_SAME : HGQ_PAD_VALID;
		}
		if (hgq_model_add_shaped(m, HGQ_LAYER_QUANT, orank, od, &err)
		    == NULL)
			fail("--arch", &err);
		memcpy(d, od, sizeof(d));
		rank = orank;
	}
	if (m->n_layers < 3)
		bad_arch(spec);
}

/* a layer of a --graph model: kind, shape, inputs, axis or function,
   window */
struct glayer {
	uint32_t	 kind, rank, dims[HGQ_MAX_RANK], n_refs, refs[3];
	uint8_t		 arg;		/* CONCAT axis, LUT function */
	uint32_t	 win[2];	/* kernel [1, K] = stride (1-D) */
};

#define IN(k)	(HGQ_REF_INPUT | (k))
#define Q(r, a, b, c, ref)	{ HGQ_LAYER_QUANT, r, { a, b, c }, 1, \
				  { ref }, 0, { 0, 0 } }

/* --graph: the example of hgqm.md 9.2 */
static const struct glayer graph_example[] = {
	Q(1, 2, 0, 0, IN(0)),					/* 0: x_a */
	Q(1, 1, 0, 0, IN(1)),					/* 1: x_b */
	{ HGQ_LAYER_DENSE, 1, { 2 }, 1, { 0 }, 0, { 0, 0 } },	/* 2 */
	Q(1, 2, 0, 0, 2),					/* 3 */
	{ HGQ_LAYER_DENSE, 1, { 2 }, 1, { 1 }, 0, { 0, 0 } },	/* 4 */
	Q(1, 2, 0, 0, 4),					/* 5 */
	{ HGQ_LAYER_ADD, 1, { 2 }, 2, { 3, 5 }, 0, { 0, 0 } },	/* 6 */
	Q(1, 2, 0, 0, 6),					/* 7: sum */
	{ HGQ_LAYER_LUT, 1, { 2 }, 1, { 7 }, HGQ_FUNC_TANH,
	    { 0, 0 } },						/* 8 */
	Q(1, 2, 0, 0, 8),					/* 9 */
	{ HGQ_LAYER_CONCAT, 1, { 4 }, 2, { 7, 9 }, 0, { 0, 0 } }, /* 10 */
	Q(1, 4, 0, 0, 10),					/* 11: y */
};

/* --graph-all: every kind of 1.2 beside those of 1.1, on rank 2 */
static const struct glayer graph_all[] = {
	Q(2, 4, 2, 0, IN(0)),					/* 0: p */
	Q(2, 4, 3, 0, IN(1)),					/* 1: q */
	{ HGQ_LAYER_CONCAT, 2, { 4, 5 }, 2, { 0, 1 }, 1,
	    { 0, 0 } },						/* 2 */
	Q(2, 4, 5, 0, 2),					/* 3 */
	{ HGQ_LAYER_CONV1D, 2, { 4, 3 }, 1, { 3 }, 0, { 1, 1 } }, /* 4 */
	Q(2, 4, 3, 0, 4),					/* 5 */
	{ HGQ_LAYER_SUB, 2, { 4, 3 }, 2, { 5, 1 }, 0, { 0, 0 } }, /* 6 */
	Q(2, 4, 3, 0, 6),					/* 7 */
	{ HGQ_LAYER_ADD, 2, { 4, 3 }, 3, { 5, 7, 1 }, 0,
	    { 0, 0 } },						/* 8 */
	Q(2, 4, 3, 0, 8),					/* 9 */
	{ HGQ_LAYER_LUT, 2, { 4, 3 }, 1, { 9 }, HGQ_FUNC_SIGMOID,
	    { 0, 0 } },						/* 10 */
	Q(2, 4, 3, 0, 10),					/* 11: s */
	{ HGQ_LAYER_AVGPOOL, 2, { 1, 3 }, 1, { 11 }, 0, { 4, 4 } }, /* 12 */
	Q(2, 1, 3, 0, 12),					/* 13 */
	{ HGQ_LAYER_FLATTEN, 1, { 3 }, 1, { 13 }, 0, { 0, 0 } },  /* 14 */
	Q(1, 3, 0, 0, 14),					/* 15 */
	{ HGQ_LAYER_DENSE, 1, { 2 }, 1, { 15 }, 0, { 0, 0 } },	/* 16 */
	Q(1, 2, 0, 0, 16),					/* 17: o */
};

static void
set_port(struct hgq_port *p, const char *name, uint32_t layer)
{
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->layer = layer;
}

/* the layers and ports of --graph, --graph-all (see the top of file) */
static void
build_graph(struct hgq_model *m, int which)
{
	struct hgq_err err = HGQ_ERR_INIT;
	const struct glayer *gl = which == 1 ? graph_example : graph_all;
	size_t n = which == 1 ? sizeof(graph_example) / sizeof(*gl) :
	    sizeof(graph_all) / sizeof(*gl);

	for (size_t j = 0; j < n; j++) {
		const struct glayer *g = &gl[j];
		uint32_t r0 = g->refs[0];
		struct hgq_layer *l = hgq_model_add_layer(m, g->kind, 1, 1);

		if (l == NULL)
			fail("out of memory", NULL);
		if (hgq_layer_set_shape(l, g->rank, g->dims, &err) != HGQ_OK ||
		    hgq_layer_set_inputs(l, g->n_refs, g->refs, &err) !=
		    HGQ_OK)
			fail("--graph", &err);
		l->n_in = (r0 & HGQ_REF_INPUT) ? l->n_out :
		    m->layers[r0].n_out;
		l->axis = g->kind == HGQ_LAYER_CONCAT ? g->arg : 0;
		l->func = g->kind == HGQ_LAYER_LUT ? g->arg : 0;
		if (g->win[0] != 0) {
			l->kernel[0] = l->stride[0] = 1;
			l->kernel[1] = g->win[0];
			l->stride[1] = g->win[1];
		}
	}
	m->n_in_ports = m->n_out_ports = 2;
	set_port(&m->in_ports[0], which == 1 ? "x_a" : "p", 0);
	set_port(&m->in_ports[1], which == 1 ? "x_b" : "q", 1);
	set_port(&m->out_ports[0], which == 1 ? "sum" : "o",
	    which == 1 ? 7 : 17);
	set_port(&m->out_ports[1], which == 1 ? "y" : "s", which == 1 ? 11 :
	    11);
}

/* --train: a mask on dense layer j that fixes its weight e at 0 */
static void
add_mask(struct hgq_model *m, uint32_t j, uint32_t e)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_layer *l = &m->layers[j];
	uint32_t nw = (uint32_t)hgq_layer_n_weights(m, j);
	struct hgq_tensor *t = hgq_layer_add_tensor(l, HGQ_ROLE_MASK, nw,
	    &err), *w = hgq_layer_tensor(l, HGQ_ROLE_WEIGHT);

	if (t == NULL)
		fail("cannot add the mask", &err);
	for (uint32_t u = 0; u < nw; u++)
		t->data[u] = u == e ? 0.0f : 1.0f;
	if (l->w_m != NULL)
		l->w_m[e] = 0;
	if (w != NULL)
		w->data[e] = 0.0f;
}

/* --fit: value ranges [lo, hi] per element, layer by layer */
static uint64_t rng_fit;

static int
rnd_f(int lo, int hi)
{
	return rnd_in(&rng_fit, lo, hi);
}

/* a format for values in [lo, hi]: *lo, *hi become the format's range */
static void
fit_elem(struct hgq_layer *q, uint32_t e, double *lo, double *hi,
    const struct opts *o)
{
	double a = fabs(*lo) > fabs(*hi) ? fabs(*lo) : fabs(*hi);
	int k = *lo < 0, i = 0, f;
	int64_t mlo, mhi;

	while (ldexp(1.0, i) <= a && i < 40)
		i++;
	while (i > -8 && ldexp(1.0, i - 1) > a)
		i--;
	if (rnd_f(0, 5) == 0)
		i--;			/* overflow fires */
	f = rnd_f(0, 4);
	if (k + i + f > o->max_width)
		f = o->max_width - k - i;
	if (rnd_f(0, 9) == 0 || a == 0) {
		k = 0;
		f = 0;
		i = 0;			/* zero width */
	}
	q->k[e] = (int8_t)k;
	q->i[e] = (int8_t)i;
	q->f[e] = (int8_t)f;
	hgq_fmt_range(k, i, f, q->overflow, &mlo, &mhi);
	*lo = ldexp((double)mlo, -f);
	*hi = ldexp((double)mhi, -f);
}

static void
fit_formats(struct hgq_model *m, const struct opts *o)
{
	uint32_t max_n = 0, idx[4096];
	double *lo, *hi, *nlo, *nhi;

	rng_fit = o->seed ^ 0x464954ULL;	/* "FIT" */
	for (uint32_t j = 0; j < m->n_layers; j++)
		if (m->layers[j].n_out > max_n)
			max_n = m->layers[j].n_out;
	lo = calloc(max_n, sizeof(*lo));
	hi = calloc(max_n, sizeof(*hi));
	nlo = calloc(max_n, sizeof(*nlo));
	nhi = calloc(max_n, sizeof(*nhi));
	if (lo == NULL || hi == NULL || nlo == NULL || nhi == NULL)
		fail("out of memory", NULL);
	for (uint32_t e = 0; e < m->layers[0].n_out; e++) {
		lo[e] = -ldexp(1.0, rnd_f(0, 3));
		hi[e] = -lo[e];
		fit_elem(&m->layers[0], e, &lo[e], &hi[e], o);
	}
	for (uint32_t j = 1; j + 1 < m->n_layers; j += 2) {
		struct hgq_layer *d = &m->layers[j], *q = &m->layers[j + 1];
		const struct hgq_layer *p = &m->layers[j - 1];
		struct hgq_window w;
		bool id = d->kind == HGQ_LAYER_MAXPOOL ||
		    d->kind == HGQ_LAYER_FLATTEN;

		if (hgq_layer_n_bias(m, j) > 0) {
			uint64_t nw = hgq_layer_n_weights(m, j);

			for (uint64_t e = 0; e < nw; e++) {
				int b = rnd_f(1, 4);

				d->w_m[e] = rnd_f(0, 3) == 0 ? 0 :
				    rnd_f(-(1 << (b - 1)), 1 << (b - 1));
				d->w_f[e] = (int8_t)rnd_f(b - 1, b + 1);
			}
			for (uint32_t e = 0; e < hgq_layer_n_bias(m, j); e++) {
				d->b_m[e] = rnd_f(-8, 8);
				d->b_f[e] = (int8_t)rnd_f(2, 4);
			}
		}
		if (d->kind != HGQ_LAYER_DENSE && d->kind !=
		    HGQ_LAYER_FLATTEN && hgq_layer_window(m, j, &w, NULL) !=
		    HGQ_OK)
			fail("--fit: no window", NULL);
		for (uint32_t e = 0; e < d->n_out; e++) {
			double a = 0, b = 0;
			uint32_t n = 1, t0 = 0, step = 1, co = 0;

			if (d->kind == HGQ_LAYER_DENSE) {
				n = d->n_in;
				for (uint32_t t = 0; t < n; t++)
					idx[t] = t;
				co = e;
			} else if (d->kind == HGQ_LAYER_FLATTEN) {
				idx[0] = e;
			} else {
				if (w.n_taps > 4096)
					fail("--fit: a window too large", NULL);
				hgq_window_taps(&w, e / w.out_c, idx);
				n = w.n_taps;
				co = e % w.out_c;
				if (d->kind == HGQ_LAYER_MAXPOOL ||
				    d->kind == HGQ_LAYER_AVGPOOL) {
					t0 = co;
					step = w.in_c;
				}
			}
			if (d->kind == HGQ_LAYER_MAXPOOL)
				a = b = -1e300;
			for (uint32_t t = t0; t < n; t += step) {
				double l = idx[t] == HGQ_TAP_PAD ? 0 :
				    lo[idx[t]];
				double h = idx[t] == HGQ_TAP_PAD ? 0 :
				    hi[idx[t]];

				if (d->kind == HGQ_LAYER_MAXPOOL) {
					a = l > a ? l : a;
					b = h > b ? h : b;
				} else if (hgq_layer_n_bias(m, j) > 0) {
					size_t at = (size_t)t *
					    hgq_layer_n_bias(m, j) + co;
					double wv = ldexp(d->w_m[at],
					    -d->w_f[at]);

					a += wv * (wv < 0 ? h : l);
					b += wv * (wv < 0 ? l : h);
				} else {
					a += l;
					b += h;
				}
			}
			if (d->kind == HGQ_LAYER_AVGPOOL) {
				a /= w.k_h * w.k_w;
				b /= w.k_h * w.k_w;
			}
			if (hgq_layer_n_bias(m, j) > 0) {
				a += ldexp(d->b_m[co], -d->b_f[co]);
				b += ldexp(d->b_m[co], -d->b_f[co]);
				if (d->act == HGQ_ACT_RELU) {
					a = a < 0 ? 0 : a;
					b = b < 0 ? 0 : b;
				}
			}
			nlo[e] = a;
			nhi[e] = b;
		}
		q->overflow = (uint8_t)(id ? HGQ_SAT : rnd_f(0, 1));
		for (uint32_t e = 0; e < q->n_out; e++) {
			if (!id) {
				fit_elem(q, e, &nlo[e], &nhi[e], o);
				continue;
			}
			/* the identity: the union of the formats reaching e */
			q->k[e] = 0;
			q->i[e] = q->f[e] = -127;
			for (uint32_t t = 0; t < (d->kind == HGQ_LAYER_FLATTEN ?
			    1 : w.n_taps); t++) {
				uint32_t x;

				if (d->kind == HGQ_LAYER_FLATTEN)
					x = e;
				else if (t % w.in_c != e % w.in_c)
					continue;
				else {
					hgq_window_taps(&w, e / w.in_c, idx);
					x = idx[t];
				}
				if (hgq_fmt_width(p->k[x], p->i[x], p->f[x]) ==
				    0)
					continue;
				q->k[e] = p->k[x] > q->k[e] ? p->k[x] : q->k[e];
				q->i[e] = p->i[x] > q->i[e] ? p->i[x] : q->i[e];
				q->f[e] = p->f[x] > q->f[e] ? p->f[x] : q->f[e];
			}
			if (q->i[e] == -127)
				q->i[e] = q->f[e] = 0;
		}
		memcpy(lo, nlo, d->n_out * sizeof(*lo));
		memcpy(hi, nhi, d->n_out * sizeof(*hi));
	}
	free(lo);
	free(hi);
	free(nlo);
	free(nhi);
}

static struct hgq_model *
build(const struct opts *o)
{
	struct hgq_model *m = hgq_model_new();

	if (m == NULL)
		fail("out of memory", NULL);
	rng_model = o->seed;
	rng_train = o->seed ^ 0x5452414e53ULL;	/* "TRANS" */
	if (o->arch != NULL)
		build_arch(m, o->arch);
	if (o->graph != 0)
		build_graph(m, o->graph);
	for (int s = 0; o->arch == NULL && o->graph == 0 && s < o->n_shape;
	    s++) {
		struct hgq_layer *l;
		uint32_t n = o->shape[s];

		if (s > 0 && hgq_model_add_layer(m, HGQ_LAYER_DENSE,
		    o->shape[s - 1], n) == NULL)
			fail("out of memory", NULL);
		if ((l = hgq_model_add_layer(m, HGQ_LAYER_QUANT, n, n)) == NULL)
			fail("out of memory", NULL);
	}
	/* two outputs: regression (a classifier has one output tensor) */
	m->task = o->regress || o->graph != 0 ? HGQ_TASK_REGRESS :
	    HGQ_TASK_CLASSIFY;
	m->calibrated = !o->uncal;
	fill_input(m, o);
	for (uint32_t j = 0; j < m->n_layers; j++) {
		if (m->layers[j].kind == HGQ_LAYER_QUANT)
			fill_quant(&m->layers[j], o);
		else if (hgq_layer_n_bias(m, j) > 0)
			fill_dense(m, j, o, j + 2 == m->n_layers, j == 1);
		/* after max-pooling and flatten: a fixed quantizer (the
		   trainer's identity quantizer there) */
		if (j > 0 && m->layers[j].kind == HGQ_LAYER_QUANT &&
		    (m->layers[j - 1].kind == HGQ_LAYER_MAXPOOL ||
		    m->layers[j - 1].kind == HGQ_LAYER_FLATTEN))
			m->layers[j].trainable = 0;
	}
	if (o->graph != 0 && o->train)
		add_mask(m, o->graph == 1 ? 2 : 16, o->graph == 1 ? 1 : 2);
	if (o->fit && !o->uncal)
		fit_formats(m, o);
	if (o->train)
		fill_train(m, o);
	for (uint32_t j = 0; j < o->n_meta; j++) {
		struct hgq_err err = HGQ_ERR_INIT;
		char key[32];

		snprintf(key, sizeof(key), "key%" PRIu32, j);
		if (hgq_meta_set(m, key, "value", &err) != HGQ_OK)
			fail("cannot set metadata", &err);
	}
	return m;
}

int
main(int argc, char **argv)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m;
	struct opts o;
	char *tmp = NULL;
	FILE *f = stdout;
	int rc;

	parse_args(&o, argc, argv);
	m = build(&o);
	if (hgq_model_validate(m, &err) != HGQ_OK)
		fail("generated an invalid model", &err);
	if (o.out != NULL && strcmp(o.out, "-") != 0) {
		size_t len = strlen(o.out) + 32;

		if ((tmp = malloc(len)) == NULL)
			fail("out of memory", NULL);
		snprintf(tmp, len, "%s.tmp.%ld", o.out, (long)getpid());
		if ((f = fopen(tmp, "wb")) == NULL) {
			fprintf(stderr, "mkfixture: cannot create '%s': %s\n",
			    tmp, strerror(errno));
			return 1;
		}
	}
	rc = hgq_model_write(f, m, o.compress ? HGQ_WRITE_COMPRESS : 0, &err);
	if (rc == HGQ_OK && f != stdout && fclose(f) != 0)
		rc = hgq_errf(&err, HGQ_EIO, "%s", strerror(errno));
	if (rc == HGQ_OK && f == stdout && fflush(stdout) != 0)
		rc = hgq_errf(&err, HGQ_EIO, "%s", strerror(errno));
	if (rc == HGQ_OK && tmp != NULL && rename(tmp, o.out) != 0)
		rc = hgq_errf(&err, HGQ_EIO, "cannot rename: %s",
		    strerror(errno));
	if (rc != HGQ_OK) {
		if (tmp != NULL)
			unlink(tmp);
		fail("cannot write the model", &err);
	}
	free(tmp);
	hgq_model_free(m);
	return 0;
}
