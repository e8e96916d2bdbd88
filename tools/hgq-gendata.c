/*
 * hgq-gendata - synthetic data sets for the graph examples (issue 13),
 * written as npy float32: X (rows x columns) and Y.  Deterministic: the
 * same options give the same bytes (one xoshiro256** generator and IEEE
 * double arithmetic; libm's log, cos, sin, pow and atan may differ in
 * the last bit between C libraries, which float32 rounding rarely shows).
 *
 *   hgq-gendata [-n rows] [-s seed] muon X.npy Y.npy
 *   hgq-gendata [-n rows] [-s seed] jets X.npy Y.npy
 *
 * muon (examples/muon.yaml): a straight-ish track of angle theta crosses
 * three detector stations of 50 strips at heights 0, 10 and 20 (strip
 * pitches), entering station 1 at a uniform position in [15, 35) with
 * tan(theta) uniform in [-0.6, 0.6]; multiple scattering moves the
 * crossing by a normal of sigma 0.3 (station 2) and 0.5 (station 3)
 * strips.  The crossing at x shares its charge q ~ U(0.6, 1.4) between
 * strips floor(x) and floor(x) + 1 in proportion to the distance; a
 * strip with charge above 0.2 is hit.  Each station also has noise hits
 * (0, 1 or 2, uniform) on random strips.  Channels per strip: station 1
 * (hit, time, charge), stations 2 and 3 (hit, time); a track hit's time
 * is 0.5 + N(0, 0.05), a noise hit's U(0, 1), no hit 0.  A row is
 * [station 1 50x3 | station 2 50x2 | station 3 50x2], each flattened
 * channels last (350 columns); Y is theta in radians (one column).
 *
 * jets (examples/deepsets.yaml): 16 particles x 3 features (pT
 * fraction, eta and phi relative to the jet axis), sorted by pT,
 * zero-padded; 5 classes of multiplicity and momentum sharing:
 *   0 quark-like: 3-6 particles, one hard prong, steep sharing, narrow
 *   1 gluon-like: 10-16 particles, one prong, flat sharing, wide
 *   2 two-prong (W-like): 6-10 particles, prongs 0.3-0.6 apart, even
 *   3 three-prong (top-like): 10-16 particles, three prongs
 *   4 isolated (photon-like): 1-3 particles, one carries ~ 90 %
 * A row is 48 columns (particle-major); Y is the class (0..4, one
 * column), classes in turn (row r has class r mod 5).
 *
 * Built by make under build/tools/, not installed.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hgq.h"		/* HGQ_VERSION only: the tool links no library */

#define STRIPS		50
#define PARTICLES	16
#define FEATURES	3
#define MAX_ROWS	100000000L

static const char usage_text[] =
    "usage: hgq-gendata [-hV] [-n rows] [-s seed] muon|jets X.npy Y.npy\n";

static const char *progname = "hgq-gendata";

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", progname);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

/* ------------------------------------------------------------------ */
/* The generator: xoshiro256** seeded by splitmix64                    */
/* ------------------------------------------------------------------ */

struct rng {
	uint64_t s[4];
};

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static void
rng_seed(struct rng *r, uint64_t seed)
{
	for (int j = 0; j < 4; j++) {
		uint64_t z = (seed += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		r->s[j] = z ^ (z >> 31);
	}
}

static uint64_t
rng_next(struct rng *r)
{
	uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* uniform in [0, 1), 53 bits */
static double
uniform(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1p-53;
}

static double
uniform_in(struct rng *r, double lo, double hi)
{
	return lo + (hi - lo) * uniform(r);
}

/* an integer in [lo, hi] */
static int
int_in(struct rng *r, int lo, int hi)
{
	return lo + (int)(uniform(r) * (double)(hi - lo + 1));
}

/* a standard normal (Box-Muller, one of the pair) */
static double
normal(struct rng *r)
{
	double u = 1.0 - uniform(r), v = uniform(r);

	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* ------------------------------------------------------------------ */
/* Muon tracks                                                         */
/* ------------------------------------------------------------------ */

/* station s of a row: its strips' channels, channels last */
static void
station_hit(float *st, int nch, double x, struct rng *r)
{
	double q = uniform_in(r, 0.6, 1.4), frac;
	int s0 = (int)floor(x);

	frac = x - s0;
	for (int k = 0; k < 2; k++) {
		int s = s0 + k;
		double share = (k == 0 ? 1.0 - frac : frac) * q;

		if (s < 0 || s >= STRIPS || share <= 0.2)
			continue;
		st[s * nch] = 1.0f;
		st[s * nch + 1] = (float)(0.5 + 0.05 * normal(r));
		if (nch == 3)
			st[s * nch + 2] = (float)share;
	}
}

static void
station_noise(float *st, int nch, struct rng *r)
{
	int n = int_in(r, 0, 2);

	for (int k = 0; k < n; k++) {
		int s = int_in(r, 0, STRIPS - 1);

		st[s * nch] = 1.0f;
		st[s * nch + 1] = (float)uniform(r);
		if (nch == 3)
			st[s * nch + 2] = (float)uniform_in(r, 0.1, 0.6);
	}
}

/* one row: x (350 columns), *y theta */
static void
muon_row(float *x, float *y, struct rng *r)
{
	static const double height[3] = { 0, 10, 20 };
	static const double sigma[3] = { 0, 0.3, 0.5 };
	static const int nch[3] = { 3, 2, 2 };
	double x0 = uniform_in(r, 15, 35), slope = uniform_in(r, -0.6, 0.6);
	float *st = x;

	memset(x, 0, (size_t)STRIPS * 7 * sizeof(*x));
	for (int s = 0; s < 3; s++) {
		double pos = x0 + height[s] * slope + sigma[s] * normal(r);

		station_hit(st, nch[s], pos, r);
		station_noise(st, nch[s], r);
		st += STRIPS * nch[s];
	}
	*y = (float)atan(slope);
}

/* ------------------------------------------------------------------ */
/* Jets                                                                */
/* ------------------------------------------------------------------ */

struct jet_class {
	int	 n_lo, n_hi;	/* multiplicity */
	int	 prongs;
	double	 steep;		/* sharing: fraction ~ U^steep */
	double	 width;		/* spread of a prong */
	double	 sep_lo, sep_hi;	/* prong distance from the axis */
	double	 lead;		/* > 0: the leading particle's fraction */
};

static const struct jet_class jet_classes[5] = {
	{ 3, 6, 1, 3.0, 0.05, 0, 0, 0 },
	{ 10, 16, 1, 1.0, 0.15, 0, 0, 0 },
	{ 6, 10, 2, 1.5, 0.05, 0.15, 0.30, 0 },
	{ 10, 16, 3, 1.5, 0.05, 0.20, 0.40, 0 },
	{ 1, 3, 1, 1.0, 0.02, 0, 0, 0.9 },
};

/* particle p: (fraction, eta, phi) = (w, position around its prong) */
static void
jet_row(float *x, float *y, int cls, struct rng *r)
{
	const struct jet_class *jc = &jet_classes[cls];
	double w[PARTICLES], eta[PARTICLES], phi[PARTICLES];
	double ce[3], cp[3], sum = 0;
	int n = int_in(r, jc->n_lo, jc->n_hi), order[PARTICLES];

	for (int k = 0; k < jc->prongs; k++) {
		double a = 2.0 * M_PI * (k + uniform(r)) / jc->prongs;
		double d = uniform_in(r, jc->sep_lo, jc->sep_hi);

		ce[k] = d * cos(a);
		cp[k] = d * sin(a);
	}
	for (int p = 0; p < n; p++) {
		int k = p % jc->prongs;

		w[p] = pow(uniform_in(r, 1e-3, 1.0), jc->steep);
		if (jc->lead > 0)
			w[p] = p == 0 ? jc->lead : (1 - jc->lead) * w[p];
		eta[p] = ce[k] + jc->width * normal(r);
		phi[p] = cp[k] + jc->width * normal(r);
		sum += w[p];
		order[p] = p;
	}
	/* by fraction, largest first (insertion sort: n <= 16) */
	for (int a = 1; a < n; a++)
		for (int b = a; b > 0 && w[order[b]] > w[order[b - 1]]; b--) {
			int t = order[b];

			order[b] = order[b - 1];
			order[b - 1] = t;
		}
	memset(x, 0, (size_t)PARTICLES * FEATURES * sizeof(*x));
	for (int p = 0; p < n; p++) {
		x[p * FEATURES] = (float)(w[order[p]] / sum);
		x[p * FEATURES + 1] = (float)eta[order[p]];
		x[p * FEATURES + 2] = (float)phi[order[p]];
	}
	*y = (float)cls;
}

/* ------------------------------------------------------------------ */
/* npy float32                                                         */
/* ------------------------------------------------------------------ */

static void
put_le32(unsigned char *b, uint32_t v)
{
	for (int k = 0; k < 4; k++)
		b[k] = (unsigned char)(v >> (8 * k));
}

/*
 * An npy 1.0 header for '<f4' of shape (rows, cols), or (rows,) when
 * cols is 0, padded with spaces and '\n' to a multiple of 64 bytes.
 */
static void
npy_header(FILE *f, const char *path, long rows, long cols)
{
	char dict[128];
	unsigned char pre[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0 };
	int len, total;

	if (cols > 0)
		len = snprintf(dict, sizeof(dict), "{'descr': '<f4', "
		    "'fortran_order': False, 'shape': (%ld, %ld), }", rows,
		    cols);
	else
		len = snprintf(dict, sizeof(dict), "{'descr': '<f4', "
		    "'fortran_order': False, 'shape': (%ld,), }", rows);
	total = (10 + len + 1 + 63) / 64 * 64;
	pre[8] = (unsigned char)((total - 10) & 0xff);
	pre[9] = (unsigned char)((total - 10) >> 8);
	if (fwrite(pre, 1, 10, f) != 10 || fputs(dict, f) == EOF ||
	    fprintf(f, "%*s\n", total - 10 - len - 1, "") < 0)
		die("cannot write '%s'", path);
}

static void
npy_row(FILE *f, const char *path, const float *v, int n)
{
	unsigned char b[4];

	for (int k = 0; k < n; k++) {
		uint32_t u;

		memcpy(&u, &v[k], sizeof(u));
		put_le32(b, u);
		if (fwrite(b, 1, 4, f) != 4)
			die("cannot write '%s'", path);
	}
}

static FILE *
open_out(const char *path)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL) {
		fprintf(stderr, "%s: cannot create '%s': %s\n", progname, path,
		    strerror(errno));
		exit(1);
	}
	return f;
}

static void
close_out(FILE *f, const char *path)
{
	if (fclose(f) != 0)
		die("cannot write '%s'", path);
}

/* ------------------------------------------------------------------ */

static long
parse_long(const char *s, const char *opt, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < lo || v > hi) {
		fprintf(stderr, "%s: %s: '%s' is not an integer in [%ld, %ld]"
		    "\n", progname, opt, s, lo, hi);
		exit(2);
	}
	return v;
}

static void
usage(int status)
{
	fputs(usage_text, status == 0 ? stdout : stderr);
	if (status == 0)
		fputs("\nSynthetic data for the graph examples, npy float32.\n\n"
		    "  -n rows   rows to write [10000]\n"
		    "  -s seed   generator seed [1]\n", stdout);
	exit(status);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help",	no_argument,		NULL, 'h' },
		{ "rows",	required_argument,	NULL, 'n' },
		{ "seed",	required_argument,	NULL, 's' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	long rows = 10000, seed = 1;
	int ch, muon, cols;
	float x[STRIPS * 7], y;
	struct rng r;
	FILE *fx, *fy;

	while ((ch = getopt_long(argc, argv, "hn:s:V", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(0);
			break;
		case 'n':
			rows = parse_long(optarg, "-n", 1, MAX_ROWS);
			break;
		case 's':
			seed = parse_long(optarg, "-s", 0, 0x7fffffffL);
			break;
		case 'V':
			printf("hgq-gendata %s\n", HGQ_VERSION);
			return 0;
		default:
			usage(2);
		}
	}
	if (argc - optind != 3 || (strcmp(argv[optind], "muon") != 0 &&
	    strcmp(argv[optind], "jets") != 0))
		usage(2);
	muon = strcmp(argv[optind], "muon") == 0;
	cols = muon ? STRIPS * 7 : PARTICLES * FEATURES;
	rng_seed(&r, (uint64_t)seed);
	fx = open_out(argv[optind + 1]);
	fy = open_out(argv[optind + 2]);
	npy_header(fx, argv[optind + 1], rows, cols);
	npy_header(fy, argv[optind + 2], rows, 0);
	for (long j = 0; j < rows; j++) {
		if (muon)
			muon_row(x, &y, &r);
		else
			jet_row(x, &y, (int)(j % 5), &r);
		npy_row(fx, argv[optind + 1], x, cols);
		npy_row(fy, argv[optind + 2], &y, 1);
	}
	close_out(fx, argv[optind + 1]);
	close_out(fy, argv[optind + 2]);
	return 0;
}
