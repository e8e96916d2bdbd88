/*
 * fuzz_model - libFuzzer harness for the HGQM reader.  Properties: no
 * crash, hang or unbounded allocation; a model that reads back writes
 * back to bytes that read and write again identically (canonical form);
 * the JSON dump, the engine, the EBOPs report and pruning cope with
 * whatever the reader accepted; pruning keeps the outputs and the EBOPs
 * of the model on a few inputs taken from the fuzz data; the receptive
 * fields of convolution and pooling layers stay inside their inputs; a
 * graph's references, ports and written version agree (format 1.2); a
 * copy writes the same bytes.  Each input is
 * tried as it is and, so that mutations get past the checksums into the
 * chunk decoders, once more with its header and chunk CRCs recomputed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "hgq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
write_mem(const struct hgq_model *m, char **buf, size_t *len)
{
	FILE *f = open_memstream(buf, len);
	int rc;

	if (f == NULL)
		return -1;
	rc = hgq_model_write(f, m, 0, NULL);
	fclose(f);
	return rc;
}

#define N_SAMPLES	4

/*
 * a few input rows from the fuzz bytes: small integers and halves (NULL
 * for a model of more than 2^16 raw columns: filling the rows would take
 * longer than the check is worth)
 */
static double *
make_inputs(const struct hgq_model *m, const uint8_t *data, size_t size)
{
	size_t n = (size_t)N_SAMPLES * (m->n_raw ? m->n_raw : 1);
	double *x = m->n_raw > 65536 ? NULL : calloc(n, sizeof(double));

	for (size_t j = 0; x != NULL && j < n; j++)
		x[j] = ((int)data[j % size] - 128) / 2.0;
	return x;
}

/*
 * check_engine - run the engine; then the EBOPs report and pruning, which
 * must keep the outputs bit for bit and the total EBOPs.
 */
static void
check_engine(const struct hgq_model *m, struct hgq_engine *e,
    const uint8_t *data, size_t size)
{
	struct hgq_ebops_report r;
	struct hgq_model *p;
	struct hgq_engine *pe = NULL;
	uint32_t n_out = hgq_model_n_out(m);
	double *x = make_inputs(m, data, size);
	int64_t *y = calloc((size_t)N_SAMPLES * n_out + 1, sizeof(int64_t));
	int64_t *y2 = calloc((size_t)N_SAMPLES * n_out + 1, sizeof(int64_t));
	FILE *null;
	uint64_t eb = hgq_ebops_total(m);

	if (x == NULL || y == NULL || y2 == NULL)
		goto out;
	if (hgq_engine_run(e, x, N_SAMPLES, y, NULL, 1) != HGQ_OK)
		goto out;
	if (hgq_ebops_report(m, &r, NULL) == HGQ_OK) {
		if (r.total != eb)
			abort();	/* report and total disagree */
		if ((null = fopen("/dev/null", "w")) != NULL) {
			for (int style = 0; style < 3; style++)
				hgq_ebops_write(null, &r, style, NULL);
			fclose(null);
		}
		hgq_ebops_report_release(&r);
	}
	if ((p = hgq_model_copy(m)) == NULL)
		goto out;
	if (hgq_prune(p, NULL, NULL) == HGQ_OK) {
		if (hgq_engine_new(&pe, p, NULL) != HGQ_OK)
			abort();	/* a pruned model must still run */
		if (hgq_engine_run(pe, x, N_SAMPLES, y2, NULL, 1) == HGQ_OK &&
		    memcmp(y, y2, (size_t)N_SAMPLES * n_out *
		    sizeof(int64_t)) != 0)
			abort();	/* pruning changed the function */
		/* lower only when an always-0 element of non-zero width went
		   (hgq-prune(1)) */
		if (eb != HGQ_EBOPS_ENOMEM && hgq_ebops_total(p) > eb)
			abort();	/* pruning raised the EBOPs */
		hgq_engine_free(pe);
	}
	hgq_model_free(p);
out:
	free(x);
	free(y);
	free(y2);
	hgq_engine_free(e);
}

/* (check_format.c has these two as well: the harnesses are built by
   clang on their own, without the unit tests' objects) */
static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void
put32(uint8_t *p, uint32_t v)
{
	for (int b = 0; b < 4; b++)
		p[b] = (uint8_t)(v >> 8 * b);
}

/*
 * fix_crcs - a copy of data with every chunk CRC whose bytes lie inside
 * the input, and then the header CRC, recomputed; NULL when the input
 * has no plausible header or the copy would equal the input.
 */
static uint8_t *
fix_crcs(const uint8_t *data, size_t size)
{
	uint32_t hlen, n;
	uint64_t t;
	uint8_t *d;

	if (size < 16 || memcmp(data, "HGQM", 4) != 0)
		return NULL;
	hlen = le32(data + 8);
	n = le32(data + 12);
	if (hlen < 16 || hlen > 4096 || n > 64)
		return NULL;
	t = (uint64_t)hlen + 32 * (uint64_t)n;
	if (t + 4 > size || (d = malloc(size)) == NULL)
		return NULL;
	memcpy(d, data, size);
	for (uint32_t j = 0; j < n; j++) {
		uint8_t *e = d + hlen + 32 * (size_t)j;
		uint64_t off = le64(e + 8), len = le64(e + 16);

		if (off <= size && len <= size - off)
			put32(e + 24, (uint32_t)crc32(0, d + off, (uInt)len));
	}
	put32(d + t, (uint32_t)crc32(0, d, (uInt)t));
	if (memcmp(d, data, size) == 0) {
		free(d);
		return NULL;
	}
	return d;
}

/*
 * check_windows - every tap of the first and last output positions of
 * every window layer is an element of its input, of the tap's channel,
 * or (convolutions with padding only) padding; and the geometry gives
 * the layer's sizes
 */
static void
check_windows(const struct hgq_model *m)
{
	for (uint32_t j = 0; j < m->n_layers; j++) {
		const struct hgq_layer *l = &m->layers[j];
		struct hgq_window w;
		uint32_t *idx;

		if (l->kind < HGQ_LAYER_CONV1D || l->kind > HGQ_LAYER_AVGPOOL)
			continue;
		if (hgq_layer_window(m, j, &w, NULL) != HGQ_OK)
			abort();
		if ((uint64_t)w.n_pos * w.out_c != l->n_out ||
		    (uint64_t)w.in_h * w.in_w * w.in_c != l->n_in)
			abort();	/* geometry and shapes disagree */
		if ((idx = calloc(w.n_taps, sizeof(*idx))) == NULL)
			continue;
		for (uint32_t p = 0; p < w.n_pos; p += w.n_pos - 1) {
			hgq_window_taps(&w, p, idx);
			for (uint32_t t = 0; t < w.n_taps; t++)
				if (idx[t] == HGQ_TAP_PAD ? l->padding == 0 :
				    idx[t] >= l->n_in || idx[t] % w.in_c !=
				    t % w.in_c)
					abort();
			if (w.n_pos == 1)
				break;
		}
		free(idx);
	}
}

/*
 * check_graph - what a valid model promises the programs (format 1.2):
 * every reference an earlier layer or a model input read by its port's
 * quantizer only, outputs naming quantizers, and the writer's minor 2
 * exactly when the model has ports, a kind of 1.2 or a mask
 */
static void
check_graph(const struct hgq_model *m)
{
	int v12 = m->n_in_ports + m->n_out_ports > 0;

	for (uint32_t j = 0; j < m->n_layers; j++) {
		const struct hgq_layer *l = &m->layers[j];

		for (uint32_t q = 0; q < hgq_layer_n_inputs(l); q++) {
			uint32_t ref = hgq_layer_input(m, j, q);
			uint32_t k = ref & ~HGQ_REF_INPUT;

			if (ref & HGQ_REF_INPUT) {
				if (k >= hgq_model_n_inputs(m) ||
				    hgq_model_input_layer(m, k) != j ||
				    l->kind != HGQ_LAYER_QUANT)
					abort();
			} else if (ref >= j)
				abort();	/* not topological */
		}
		if (l->kind >= HGQ_LAYER_ADD ||
		    hgq_layer_tensor(l, HGQ_ROLE_MASK) != NULL)
			v12 = 1;
	}
	for (uint32_t k = 0; k < hgq_model_n_outputs(m); k++)
		if (hgq_model_output_layer(m, k) >= m->n_layers ||
		    m->layers[hgq_model_output_layer(m, k)].kind !=
		    HGQ_LAYER_QUANT)
			abort();
	if ((hgq_model_format_minor(m) == 2) != v12)
		abort();	/* 1.2 only when needed, always then */
}

static void one(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed;

	if (size == 0)
		return 0;
	one(data, size);
	if ((fixed = fix_crcs(data, size)) != NULL) {
		one(fixed, size);
		free(fixed);
	}
	return 0;
}

static void
one(const uint8_t *data, size_t size)
{
	struct hgq_model *m = NULL, *m2 = NULL;
	struct hgq_engine *e = NULL;
	char *b1 = NULL, *b2 = NULL;
	size_t l1 = 0, l2 = 0;
	FILE *f, *null;

	if ((f = fmemopen((void *)data, size, "rb")) == NULL)
		return;
	if (hgq_model_read(f, &m, NULL) != HGQ_OK) {
		fclose(f);
		return;
	}
	fclose(f);
	/* the dump lists n_raw offsets and scales: up to 2^24 of each from
	   a file of a few hundred bytes, which is correct but slow here */
	if (m->n_raw <= 65536 && (null = fopen("/dev/null", "w")) != NULL) {
		hgq_model_dump_json(null, m, NULL);
		fclose(null);
	}
	check_windows(m);
	check_graph(m);
	if (m->calibrated && hgq_engine_new(&e, m, NULL) == HGQ_OK)
		check_engine(m, e, data, size);
	/* canonical: write, read, write gives the same bytes */
	if (write_mem(m, &b1, &l1) == HGQ_OK) {
		if ((f = fmemopen(b1, l1, "rb")) == NULL)
			abort();
		if (hgq_model_read(f, &m2, NULL) != HGQ_OK)
			abort();	/* what we wrote must read back */
		fclose(f);
		if (write_mem(m2, &b2, &l2) != HGQ_OK || l1 != l2 ||
		    memcmp(b1, b2, l1) != 0)
			abort();
		/* a copy writes the same bytes */
		hgq_model_free(m2);
		free(b2);
		b2 = NULL;
		if ((m2 = hgq_model_copy(m)) != NULL &&
		    (write_mem(m2, &b2, &l2) != HGQ_OK || l1 != l2 ||
		    memcmp(b1, b2, l1) != 0))
			abort();
	}
	free(b1);
	free(b2);
	hgq_model_free(m2);
	hgq_model_free(m);
}
