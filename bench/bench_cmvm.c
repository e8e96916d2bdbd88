/*
 * bench_cmvm.c - the CMVM solver and the emitted hardware against the
 * quality bars of DESIGN.md:
 *
 *   - random 64x64 8-bit weights with 8-bit signed inputs: <= 0.2 s and
 *     <= 4,800 adders; random 256x64 6-bit weights: <= 5 s.  Every
 *     solution is checked against x W on random inputs before its
 *     figures are printed.  The solver runs its variants on threads, so
 *     the time checked is the wall time, the median of TIMING_RUNS solves
 *     (the machines that run this are often shared); the CPU seconds of
 *     all threads are printed beside it.
 *   - a small trained model through Yosys synth_xilinx: the adder graphs
 *     need <= 0.6x the LUTs of the same network written with * operators
 *     (--style behavioral), and the LUT estimate is within 10 % of Yosys.
 *     This part runs the built programs (bin/ beside this bench's folder)
 *     and scripts/synth-yosys.sh from the current folder (as `make bench`
 *     runs it); it is skipped without yosys and takes a minute or two.
 *
 * usage: bench_cmvm [n_in n_out weight_bits [seed [extra_depth
 *            [variants [threads]]]]]
 * (with arguments: that one problem, no targets, no Yosys)
 */
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t
rng(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

static double
now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define TIMING_RUNS	3

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Solve one random problem (variants and threads < 0: the defaults);
 * returns 0 when exact and within the limits.
 */
static int
run(uint32_t n_in, uint32_t n_out, int wbits, uint64_t seed, int extra,
    int variants, int threads, double max_s, uint32_t max_adders)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_cmvm_params p;
	struct hgq_cmvm *s = NULL;
	struct hgq_ival *x = calloc(n_in, sizeof(*x));
	int32_t *w = calloc((size_t)n_in * n_out, sizeof(*w));
	int64_t *xm = calloc(n_in, sizeof(*xm));
	int64_t *y = calloc(n_out, sizeof(*y));
	int32_t *ye = calloc(n_out, sizeof(*ye));
	int64_t *buf;
	double wall[TIMING_RUNS], cpu[TIMING_RUNS];
	int bad = 0;

	if (x == NULL || w == NULL || xm == NULL || y == NULL || ye == NULL) {
		fprintf(stderr, "bench_cmvm: out of memory\n");
		return 1;
	}
	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
	for (uint32_t i = 0; i < n_in; i++) {
		x[i].lo = -128;
		x[i].hi = 127;
		x[i].e = 0;
	}
	for (size_t j = 0; j < (size_t)n_in * n_out; j++)
		w[j] = (int32_t)(rng() % (1u << wbits)) - (1 << (wbits - 1));
	hgq_cmvm_params_init(&p);
	p.max_extra_depth = extra;
	if (variants >= 0)
		p.variants = variants;
	if (threads >= 0)
		p.threads = threads;
	for (int t = 0; t < TIMING_RUNS; t++) {
		double t0 = now(CLOCK_MONOTONIC);
		double c0 = now(CLOCK_PROCESS_CPUTIME_ID);

		hgq_cmvm_free(s);
		if (hgq_cmvm_solve(&s, x, NULL, n_in, n_out, w, NULL, &p,
		    &err) != HGQ_OK) {
			fprintf(stderr, "bench_cmvm: %s\n", err.msg);
			return 1;
		}
		cpu[t] = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
		wall[t] = now(CLOCK_MONOTONIC) - t0;
	}
	qsort(wall, TIMING_RUNS, sizeof(*wall), cmp_double);
	qsort(cpu, TIMING_RUNS, sizeof(*cpu), cmp_double);
	buf = calloc(s->n_nodes, sizeof(*buf));
	for (int t = 0; t < 200 && buf != NULL; t++) {
		for (uint32_t i = 0; i < n_in; i++)
			xm[i] = (int64_t)(rng() % 256) - 128;
		hgq_cmvm_eval(s, xm, buf, y, ye);
		for (uint32_t j = 0; j < n_out; j++) {
			int64_t ref = 0;

			for (uint32_t i = 0; i < n_in; i++)
				ref += xm[i] * w[(size_t)i * n_out + j];
			if (ye[j] < 0 || ye[j] > 62 ||
			    y[j] * ((int64_t)1 << ye[j]) != ref)
				bad++;
		}
	}
	printf("cmvm %ux%u w%d seed %llu depth+%d: %.3f s (cpu %.3f s), "
	    "%u adders, adder bits %llu, depth %d (min %d)%s\n", n_in, n_out,
	    wbits, (unsigned long long)seed, extra, wall[TIMING_RUNS / 2],
	    cpu[TIMING_RUNS / 2], s->n_adders, (unsigned long long)s->cost,
	    s->depth, s->min_depth, bad ? " WRONG RESULTS" : "");
	if (max_s > 0 && wall[TIMING_RUNS / 2] > max_s)
		printf("  over the time target %.2f s\n", max_s), bad++;
	if (max_adders > 0 && s->n_adders > max_adders)
		printf("  over the adder target %u\n", max_adders), bad++;
	hgq_cmvm_free(s);
	free(buf);
	free(x);
	free(w);
	free(xm);
	free(y);
	free(ye);
	return bad != 0;
}

/* ------------------------------------------------------------------ */
/* The emitted design through Yosys                                    */
/* ------------------------------------------------------------------ */

static char tmp_dir[] = "/tmp/hgq-bench-XXXXXX";
static char bin_dir[PATH_MAX];

/* run a shell command; %1$s is the bin folder, %2$s the scratch folder */
static int
sh(const char *fmt)
{
	char cmd[3 * PATH_MAX + 1024];

	snprintf(cmd, sizeof(cmd), fmt, bin_dir, tmp_dir);
	return system(cmd);
}

/* the number after "key": in the first line of the scratch file */
static long
json_num(const char *file, const char *key)
{
	char path[PATH_MAX + 64], line[4096], pat[64];
	const char *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp_dir, file);
	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	if (p == NULL || (p = strstr(line, pat)) == NULL)
		return -1;
	return strtol(p + strlen(pat), NULL, 10);
}

static const char train_cmds[] =
    /* 1,500 rows of 12 features, 3 classes; a 12-16-8-3 MLP */
    "cd %2$s && awk 'BEGIN { srand(7); for (r = 0; r < 1500; r++) { "
    "l = \"\"; b = 0; bv = -9; for (c = 0; c < 12; c++) { "
    "v = int((rand() * 4 - 2) * 64) / 64; if (c < 3 && v > bv) { bv = v; "
    "b = c } l = l (c ? \",\" : \"\") v } print l > \"x.csv\"; "
    "print b > \"y.csv\" } }' && "
    "printf '%%s\\n' 'seed: 3' 'data:' '  train_x: x.csv' "
    "'  train_y: y.csv' '  val_split: 0.2' 'model:' "
    "'  input: { init_f: 3 }' '  layers:' "
    "'    - { type: dense, units: 16, activation: relu }' "
    "'    - { type: dense, units: 8, activation: relu }' "
    "'    - { type: dense, units: 3 }' 'train:' '  epochs: 6' "
    "'  batch_size: 64' '  beta: [ { epoch: 0, value: 1.0e-4 } ]' "
    "> c.yaml && %1$s/hgq-train -q -c c.yaml -o t.hgqm && "
    "%1$s/hgq-emit-verilog -o a.v --report-file a.json t.hgqm && "
    "%1$s/hgq-emit-verilog --style behavioral -o b.v t.hgqm";

static int
bench_yosys(const char *argv0)
{
	char *a0 = strdup(argv0), rel[PATH_MAX];
	long est, lut_a, lut_b, lut_bd, dsp_bd;
	int bad = 0;

	if (system("command -v yosys >/dev/null 2>&1") != 0) {
		printf("yosys: not installed, skipped\n");
		free(a0);
		return 0;
	}
	if (a0 == NULL || snprintf(rel, sizeof(rel), "%s/../bin",
	    dirname(a0)) >= (int)sizeof(rel) ||
	    realpath(rel, bin_dir) == NULL || mkdtemp(tmp_dir) == NULL) {
		perror("bench_cmvm: the programs' folder or a scratch folder");
		free(a0);
		return 1;
	}
	free(a0);
	if (sh(train_cmds) != 0) {
		fprintf(stderr, "bench_cmvm: training or emission failed\n");
		return 1;
	}
	if (sh("sh scripts/synth-yosys.sh %2$s/a.v > %2$s/ya.json") != 0 ||
	    sh("sh scripts/synth-yosys.sh --nodsp %2$s/b.v > %2$s/yb.json") !=
	    0 || sh("sh scripts/synth-yosys.sh %2$s/b.v > %2$s/ybd.json") != 0) {
		fprintf(stderr, "bench_cmvm: yosys failed\n");
		return 1;
	}
	est = json_num("a.json", "lut_estimate");
	lut_a = json_num("ya.json", "lut");
	lut_b = json_num("yb.json", "lut");
	lut_bd = json_num("ybd.json", "lut");
	dsp_bd = json_num("ybd.json", "dsp");
	printf("yosys: trained 12-16-8-3 MLP, %ld adders\n",
	    json_num("a.json", "adders"));
	printf("  adder graphs: %ld LUTs (estimate %ld, %+.1f %%)\n", lut_a,
	    est, lut_a > 0 ? 100.0 * (double)(est - lut_a) / lut_a : 0.0);
	printf("  behavioral:   %ld LUTs without DSPs (ratio %.2f), %ld LUTs "
	    "+ %ld DSPs with them (ratio %.2f)\n", lut_b, lut_b > 0 ?
	    (double)lut_a / lut_b : 0.0, lut_bd, dsp_bd, lut_bd > 0 ?
	    (double)lut_a / lut_bd : 0.0);
	if (lut_a <= 0 || lut_b <= 0 || lut_a * 10 > lut_b * 6) {
		printf("  over the target: adder graphs <= 0.6x behavioral\n");
		bad = 1;
	}
	if (lut_a <= 0 || est * 10 > lut_a * 11 || est * 10 < lut_a * 9) {
		printf("  the estimate is not within 10 %% of Yosys\n");
		bad = 1;
	}
	sh("rm -rf %2$s");
	return bad;
}

int
main(int argc, char **argv)
{
	int bad = 0;

	if (argc >= 4) {
		uint64_t seed = argc >= 5 ? strtoull(argv[4], NULL, 10) : 1;
		int extra = argc >= 6 ? atoi(argv[5]) : 2;
		int variants = argc >= 7 ? atoi(argv[6]) : -1;
		int threads = argc >= 8 ? atoi(argv[7]) : -1;

		return run((uint32_t)atoi(argv[1]), (uint32_t)atoi(argv[2]),
		    atoi(argv[3]), seed, extra, variants, threads, 0, 0);
	}
	bad |= run(64, 64, 8, 1, 2, -1, -1, 0.2, 4800);
	bad |= run(64, 64, 8, 2, 2, -1, -1, 0.2, 4800);
	bad |= run(64, 64, 8, 1, -1, -1, -1, 0, 0);
	bad |= run(256, 64, 6, 1, 2, -1, -1, 5.0, 0);
	bad |= bench_yosys(argv[0]);
	return bad;
}
