/*
 * check_ebops.c - exact EBOPs and the hgq-ebops report on small models
 * whose numbers are computed by hand, the uniform 8-bit identity
 * (EBOPs = 64 x non-zero weights), liveness and the printed forms.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "fixture.h"
#include "unit.h"

/*
 * a calibrated chain n[0] -> n[1] -> ... -> n[nl] with every quantizer
 * element at k = 0, f = 0, i = 8 and every weight and bias 0
 */
static struct hgq_model *
chain(const uint32_t *n, int nl)
{
	struct hgq_model *m = fx_chain(n, nl);

	for (uint32_t l = 0; l < m->n_layers; l += 2)
		memset(m->layers[l].i, 8, m->layers[l].n_out);
	return m;
}

/* element e of quantizer layer l gets the format (k, i, f) */
static void
set_fmt(struct hgq_model *m, uint32_t l, uint32_t e, int k, int i, int f)
{
	m->layers[l].k[e] = (int8_t)k;
	m->layers[l].i[e] = (int8_t)i;
	m->layers[l].f[e] = (int8_t)f;
}

static void
set_w(struct hgq_model *m, uint32_t l, uint32_t i, uint32_t j, int32_t w,
    int f)
{
	struct hgq_layer *d = &m->layers[l];

	d->w_m[(size_t)i * d->n_out + j] = w;
	d->w_f[(size_t)i * d->n_out + j] = (int8_t)f;
}

START_TEST(test_span)
{
	/* the paper's rule: bits enclosed by the extreme non-zero bits */
	ck_assert_int_eq(hgq_span(0), 0);
	ck_assert_int_eq(hgq_span(1), 1);
	ck_assert_int_eq(hgq_span(-2), 1);
	ck_assert_int_eq(hgq_span(5), 3);
	ck_assert_int_eq(hgq_span(-12), 2);
	ck_assert_int_eq(hgq_span(0x70), 3);
	ck_assert_int_eq(hgq_span(129), 8);
	ck_assert_int_eq(hgq_span(INT32_MIN), 1);
}
END_TEST

/*
 * quantizer(2) -> dense 2x2 -> quantizer(2)
 *   input 0: k=1 i=2 f=1 (4 bits), input 1: k=0 i=1 f=2 (3 bits)
 *   w = [[5, 0], [-12, 1]] (spans 3, 0, 2, 1)
 *   EBOPs = 4*3 + 4*0 + 3*2 + 3*1 = 21
 */
START_TEST(test_hand_one_layer)
{
	static const uint32_t n[] = { 2, 2 };
	struct hgq_model *m = chain(n, 1);
	struct hgq_ebops_report r;
	struct hgq_err err = HGQ_ERR_INIT;
	const struct hgq_ebops_stats *s;

	set_fmt(m, 0, 0, 1, 2, 1);
	set_fmt(m, 0, 1, 0, 1, 2);
	set_w(m, 1, 0, 0, 5, 3);
	set_w(m, 1, 0, 1, 0, 4);
	set_w(m, 1, 1, 0, -12, -2);	/* f moves the value, not the span */
	set_w(m, 1, 1, 1, 1, 0);
	ck_assert_uint_eq(hgq_ebops_layer(m, 1), 21);
	ck_assert_uint_eq(hgq_ebops_layer(m, 0), 0);
	ck_assert_uint_eq(hgq_ebops_layer(m, 2), 0);
	ck_assert_uint_eq(hgq_ebops_layer(m, 99), 0);
	ck_assert_uint_eq(hgq_ebops_total(m), 21);

	ck_assert_int_eq(hgq_ebops_report(m, &r, &err), HGQ_OK);
	ck_assert_uint_eq(r.n_dense, 1);
	s = &r.layer[0];
	ck_assert_uint_eq(s->index, 1);
	ck_assert_uint_eq(s->n_in, 2);
	ck_assert_uint_eq(s->n_out, 2);
	ck_assert_uint_eq(s->ebops, 21);
	ck_assert_uint_eq(s->weights, 4);
	ck_assert_uint_eq(s->nonzero, 3);
	ck_assert_uint_eq(s->pruned, 1);
	ck_assert_uint_eq(s->act_pruned, 0);
	ck_assert_uint_eq(s->inputs_pruned, 0);
	ck_assert_uint_eq(s->outputs_pruned, 0);
	ck_assert_uint_eq(s->span_hist[0], 1);
	ck_assert_uint_eq(s->span_hist[1], 1);
	ck_assert_uint_eq(s->span_hist[2], 1);
	ck_assert_uint_eq(s->span_hist[3], 1);
	ck_assert_uint_eq(s->span_hist[4], 0);
	ck_assert_uint_eq(s->width_hist[0], 0);
	ck_assert_uint_eq(s->width_hist[3], 1);
	ck_assert_uint_eq(s->width_hist[4], 1);
	ck_assert_uint_eq(s->uniform8, 3 * 64);
	ck_assert_uint_eq(s->lut_estimate, 18);		/* 18.42 */
	ck_assert_uint_eq(r.total, 21);
	ck_assert_uint_eq(r.lut_estimate, 18);
	ck_assert_uint_eq(r.uniform8, 192);
	hgq_ebops_report_release(&r);
	hgq_ebops_report_release(&r);	/* twice is fine */
	hgq_model_free(m);
}
END_TEST

/*
 * A chain with dead elements (hgq_prune's hand example):
 *   q0 widths 3, 0, 4, 2
 *   dense 1 (4x3): [[1, 0, 2], [5, 5, 5], [0, 0, 3], [0, 7, 0]]
 *   q2 widths 4, 5, 0
 *   dense 3 (3x2): [[1, 3], [0, 0], [3, 3]]
 *   q4 widths 3, 3
 * Live: q4 {0, 1}; q2 {0} (1 has a zero row, 2 width 0); q0 {0} (1 is
 * width 0, 2 and 3 reach only dead neurons).  EBOPs: dense 1 counts
 * 3*span(1) = 3; dense 3 counts 4*(span(1) + span(3)) = 12; total 15.
 * (Counting every multiplication would give 20 + 12.)
 */
static struct hgq_model *
hand_dead(void)
{
	static const uint32_t n[] = { 4, 3, 2 };
	static const int w0[] = { 3, 0, 4, 2 }, w2[] = { 4, 5, 0 };
	static const int32_t d1[4][3] = {
		{ 1, 0, 2 }, { 5, 5, 5 }, { 0, 0, 3 }, { 0, 7, 0 },
	};
	static const int32_t d3[3][2] = { { 1, 3 }, { 0, 0 }, { 3, 3 } };
	struct hgq_model *m = chain(n, 2);

	for (uint32_t e = 0; e < 4; e++)
		set_fmt(m, 0, e, 0, w0[e], 0);
	for (uint32_t e = 0; e < 3; e++)
		set_fmt(m, 2, e, 0, w2[e], 0);
	for (uint32_t e = 0; e < 2; e++)
		set_fmt(m, 4, e, 0, 3, 0);
	for (uint32_t i = 0; i < 4; i++)
		for (uint32_t j = 0; j < 3; j++)
			set_w(m, 1, i, j, d1[i][j], 0);
	for (uint32_t i = 0; i < 3; i++)
		for (uint32_t j = 0; j < 2; j++)
			set_w(m, 3, i, j, d3[i][j], 0);
	return m;
}

START_TEST(test_hand_dead)
{
	struct hgq_model *m = hand_dead();
	struct hgq_ebops_report r;
	struct hgq_err err = HGQ_ERR_INIT;
	uint8_t *live[5];
	const struct hgq_ebops_stats *s;

	ck_assert_int_eq(hgq_model_live(m, live, &err), HGQ_OK);
	ck_assert_ptr_null(live[1]);
	ck_assert_ptr_null(live[3]);
	ck_assert_int_eq(live[0][0], 1);
	ck_assert_int_eq(live[0][1], 0);
	ck_assert_int_eq(live[0][2], 0);
	ck_assert_int_eq(live[0][3], 0);
	ck_assert_int_eq(live[2][0], 1);
	ck_assert_int_eq(live[2][1], 0);
	ck_assert_int_eq(live[2][2], 0);
	ck_assert_int_eq(live[4][0], 1);
	ck_assert_int_eq(live[4][1], 1);
	hgq_model_live_release(live, 5);

	ck_assert_uint_eq(hgq_ebops_layer(m, 1), 3);
	ck_assert_uint_eq(hgq_ebops_layer(m, 3), 12);
	ck_assert_uint_eq(hgq_ebops_total(m), 15);
	ck_assert_int_eq(hgq_ebops_report(m, &r, &err), HGQ_OK);
	ck_assert_uint_eq(r.n_dense, 2);
	s = &r.layer[0];
	ck_assert_uint_eq(s->weights, 12);
	ck_assert_uint_eq(s->nonzero, 1);
	ck_assert_uint_eq(s->pruned, 11);
	ck_assert_uint_eq(s->act_pruned, 1);
	ck_assert_uint_eq(s->inputs_pruned, 3);
	ck_assert_uint_eq(s->outputs_pruned, 2);
	ck_assert_uint_eq(s->span_hist[0], 11);
	ck_assert_uint_eq(s->span_hist[1], 1);
	ck_assert_uint_eq(s->width_hist[0], 3);
	ck_assert_uint_eq(s->width_hist[3], 1);
	s = &r.layer[1];
	ck_assert_uint_eq(s->index, 3);
	ck_assert_uint_eq(s->ebops, 12);
	ck_assert_uint_eq(s->weights, 6);
	ck_assert_uint_eq(s->nonzero, 2);
	ck_assert_uint_eq(s->pruned, 4);
	ck_assert_uint_eq(s->act_pruned, 1);
	ck_assert_uint_eq(s->inputs_pruned, 2);
	ck_assert_uint_eq(s->outputs_pruned, 0);
	ck_assert_uint_eq(s->span_hist[1], 1);
	ck_assert_uint_eq(s->span_hist[2], 1);
	ck_assert_uint_eq(r.total, 15);
	ck_assert_uint_eq(r.weights, 18);
	ck_assert_uint_eq(r.nonzero, 3);
	ck_assert_uint_eq(r.pruned, 15);
	hgq_ebops_report_release(&r);

	/* a zero-width output is dead: its column is not counted */
	set_fmt(m, 4, 1, 0, 0, 0);
	ck_assert_uint_eq(hgq_ebops_layer(m, 3), 4);
	ck_assert_int_eq(hgq_ebops_report(m, &r, &err), HGQ_OK);
	ck_assert_uint_eq(r.layer[1].outputs_pruned, 1);
	hgq_ebops_report_release(&r);
	hgq_model_free(m);
}
END_TEST

/* every activation 8 bits, every weight span 8: EBOPs = 64 x non-zero */
START_TEST(test_uniform8)
{
	fx_rng_state = 77;
	for (int rep = 0; rep < 20; rep++) {
		uint32_t n[5];
		int nl = fx_rnd_int(1, 4);
		struct hgq_model *m;
		struct hgq_ebops_report r;
		struct hgq_err err = HGQ_ERR_INIT;
		uint64_t nonzero = 0;

		for (int d = 0; d <= nl; d++)
			n[d] = (uint32_t)fx_rnd_int(1, 20);
		m = chain(n, nl);
		for (uint32_t l = 0; l < m->n_layers; l += 2)
			for (uint32_t e = 0; e < m->layers[l].n_out; e++) {
				int k = fx_rnd_int(0, 1), f = fx_rnd_int(-3, 6);

				set_fmt(m, l, e, k, 8 - k - f, f);
			}
		for (uint32_t l = 1; l < m->n_layers; l += 2) {
			struct hgq_layer *d = &m->layers[l];

			for (uint32_t i = 0; i < d->n_in; i++)
				for (uint32_t j = 0; j < d->n_out; j++) {
					/* odd in [129, 255]: span 8; column
					   0 never zero, so no element dies */
					int32_t w = 129 + 2 * fx_rnd_int(0, 63);

					if (j > 0 && fx_rnd_int(0, 2) == 0)
						w = 0;
					w <<= fx_rnd_int(0, 10);
					if (fx_rnd_int(0, 1))
						w = -w;
					set_w(m, l, i, j, w, fx_rnd_int(-5, 12));
					nonzero += w != 0;
				}
		}
		ck_assert_int_eq(hgq_ebops_report(m, &r, &err), HGQ_OK);
		ck_assert_uint_eq(r.nonzero, nonzero);
		ck_assert_uint_eq(r.total, 64 * nonzero);
		ck_assert_uint_eq(r.uniform8, r.total);
		ck_assert_uint_eq(hgq_ebops_total(m), 64 * nonzero);
		for (uint32_t d = 0; d < r.n_dense; d++) {
			uint64_t sum = 0;

			ck_assert_uint_eq(r.layer[d].ebops,
			    hgq_ebops_layer(m, 2 * d + 1));
			ck_assert_uint_eq(r.layer[d].span_hist[8],
			    r.layer[d].nonzero);
			ck_assert_uint_eq(r.layer[d].width_hist[8],
			    r.layer[d].n_in);
			for (int b = 0; b < HGQ_EBOPS_NBINS; b++)
				sum += r.layer[d].span_hist[b];
			ck_assert_uint_eq(sum, r.layer[d].weights);
		}
		hgq_ebops_report_release(&r);
		hgq_model_free(m);
	}
}
END_TEST

START_TEST(test_uncalibrated)
{
	static const uint32_t n[] = { 3, 2 };
	struct hgq_model *m = chain(n, 1);
	struct hgq_ebops_report r;
	struct hgq_err err = HGQ_ERR_INIT;
	uint8_t *live[3];

	m->calibrated = 0;
	ck_assert_int_eq(hgq_ebops_report(m, &r, &err), HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "model was never calibrated");
	ck_assert_ptr_null(r.layer);
	hgq_ebops_report_release(&r);
	ck_assert_int_eq(hgq_model_live(m, live, NULL), HGQ_EINVAL);
	ck_assert_uint_eq(hgq_ebops_total(m), 0);
	ck_assert_uint_eq(hgq_ebops_layer(m, 1), 0);
	hgq_model_free(m);
}
END_TEST

/* print a report to memory */
static char *
print(const struct hgq_ebops_report *r, int style)
{
	struct hgq_err err = HGQ_ERR_INIT;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(hgq_ebops_write(f, r, style, &err), HGQ_OK);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

START_TEST(test_write)
{
	struct hgq_model *m = hand_dead();
	struct hgq_ebops_report r;
	struct hgq_err err = HGQ_ERR_INIT;
	char *s;

	ck_assert_int_eq(hgq_ebops_report(m, &r, &err), HGQ_OK);

	s = print(&r, HGQ_EBOPS_JSON);
	ck_assert_ptr_nonnull(strstr(s, "{\n  \"total_ebops\": 15,\n"));
	ck_assert_ptr_nonnull(strstr(s, "\"lut_estimate\": 13,\n"
	    "  \"lut_estimate_from\": \"ebops\",\n"));	/* 12.77 */
	ck_assert_ptr_nonnull(strstr(s, "{\"name\": \"dense_1\", "
	    "\"index\": 1, \"n_in\": 4, \"n_out\": 3, \"ebops\": 3, "
	    "\"weights\": 12, \"nonzero_weights\": 1, \"pruned\": 11, "
	    "\"act_pruned\": 1, \"inputs_pruned\": 3, \"outputs_pruned\": 2, "
	    "\"span_hist\": [11, 1], \"width_hist\": [3, 0, 0, 1], "
	    "\"uniform8_ebops\": 64, \"lut_estimate\": 2}"));	/* 2.21 */
	ck_assert_ptr_nonnull(strstr(s, "\"name\": \"dense_2\", "
	    "\"index\": 3,"));
	ck_assert_ptr_nonnull(strstr(s, "}\n  ]\n}\n"));
	free(s);

	s = print(&r, HGQ_EBOPS_TSV);
	ck_assert_str_eq(s,
	    "#layer\tindex\tn_in\tn_out\tebops\tweights\tnonzero\tpruned"
	    "\tact_pruned\tinputs_pruned\toutputs_pruned\tuniform8"
	    "\tlut_estimate\tspan_hist\twidth_hist\n"
	    "dense_1\t1\t4\t3\t3\t12\t1\t11\t1\t3\t2\t64\t2\t11,1\t3,0,0,1\n"
	    "dense_2\t3\t3\t2\t12\t6\t2\t4\t1\t2\t0\t128\t10\t4,1,1"
	    "\t2,0,0,0,1\n");
	free(s);

	s = print(&r, HGQ_EBOPS_TEXT);
	ck_assert_ptr_nonnull(strstr(s, "layer    shape  ebops"));
	ck_assert_ptr_nonnull(strstr(s, "\ndense_1    4x3      3"));
	ck_assert_ptr_nonnull(strstr(s, "\ntotal              15"));
	ck_assert_ptr_nonnull(strstr(s, "\nlut_est = round(0.667 * ebops^1.09), "
	    "fitted to Yosys LUTs of adder graphs\n(see hgq-ebops(1)); "
	    "hgq-emit-verilog counts its own estimate from its adders\n"));
	free(s);

	ck_assert_int_eq(hgq_ebops_write(stdout, &r, 42, &err), HGQ_EINVAL);
	hgq_ebops_report_release(&r);
	hgq_model_free(m);
}
END_TEST

/*
 * The LUT estimate, round(0.667 * ebops^1.09), at exact values.  Each
 * expected number is the rounding of a real value at least 0.01 away
 * from a tie (computed to 50 digits: 0.667 -> 0.667, 2 -> 1.4199,
 * 12 -> 10.0100, 1000 -> 1242.0121, 10^9 -> 4306513707.6612, 2^40 ->
 * 8892700070856.2294), so a pow() within a few ulps gives the same
 * integers on every machine.
 */
START_TEST(test_lut_estimate)
{
	static const uint64_t tab[][2] = {
		{ 0, 0 }, { 1, 1 }, { 2, 1 }, { 3, 2 }, { 12, 10 },
		{ 15, 13 }, { 21, 18 }, { 522, 611 }, { 1000, 1242 },
		{ 7607, 11341 }, { 10644, 16356 }, { 102996, 194133 },
		{ 1000000, 2312735 }, { 1000000000, 4306513708 },
		{ (uint64_t)1 << 40, 8892700070856 },
		{ UINT64_MAX, UINT64_MAX },	/* saturates past 2^62 */
	};

	ck_assert(HGQ_LUT_FIT_A == 0.667 && HGQ_LUT_FIT_B == 1.090);
	for (size_t k = 0; k < sizeof(tab) / sizeof(tab[0]); k++)
		ck_assert_uint_eq(hgq_ebops_lut_estimate(tab[k][0]), tab[k][1]);
}
END_TEST

/*
 * A convolution by hand: input [4, 1] of widths 1, 2, 3, 4 (k = 0,
 * f = 0), conv1d kernel 3, padding same (pad_left 1), one filter with
 * weights 1, 3, 0 (spans 1, 2, 0).  Position p reads inputs p - 1, p,
 * p + 1 (none past the ends):
 *   p = 0: pad,  1*2 = 2
 *   p = 1: 1*1 + 2*2 = 5
 *   p = 2: 2*1 + 3*2 = 8
 *   p = 3: 3*1 + 4*2 = 11        total 26, 7 multiplications
 * With output 3 of width 0, p = 3 counts nothing and input 3 (read only
 * by p = 3 with a non-zero weight) is dead: 15.  Then a maxpool 2, a
 * flatten and a dense layer: 0 EBOPs for the first two.
 */
static struct hgq_model *
hand_conv(int dead3)
{
	static const uint32_t in[] = { 4, 1 }, two[] = { 2, 1 }, fl[] = { 2 };
	struct hgq_model *m = hgq_model_new();
	struct hgq_layer *l;

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT, 2, in,
	    NULL));
	l = hgq_model_add_shaped(m, HGQ_LAYER_CONV1D, 2, in, NULL);
	ck_assert_ptr_nonnull(l);
	l->kernel[0] = 1, l->kernel[1] = 3;
	l->stride[0] = l->stride[1] = 1;
	l->padding = HGQ_PAD_SAME;
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT, 2, in,
	    NULL));
	l = hgq_model_add_shaped(m, HGQ_LAYER_MAXPOOL, 2, two, NULL);
	ck_assert_ptr_nonnull(l);
	l->kernel[0] = l->stride[0] = 1;
	l->kernel[1] = l->stride[1] = 2;
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT, 2, two,
	    NULL));
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_FLATTEN, 1, fl,
	    NULL));
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT, 1, fl,
	    NULL));
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_DENSE, 1, fl,
	    NULL));
	ck_assert_ptr_nonnull(hgq_model_add_shaped(m, HGQ_LAYER_QUANT, 1, fl,
	    NULL));
	for (uint32_t j = 0; j < m->n_layers; j++)
		ck_assert_int_eq(hgq_model_alloc_fixed(m, j, NULL), HGQ_OK);
	for (uint32_t e = 0; e < 4; e++) {
		set_fmt(m, 0, e, 0, (int)e + 1, 0);
		set_fmt(m, 2, e, 1, 3, 2);
	}
	if (dead3)
		set_fmt(m, 2, 3, 0, -2, 2);
	m->layers[1].w_m[0] = 1;
	m->layers[1].w_m[1] = 3;
	for (uint32_t e = 0; e < 2; e++) {
		set_fmt(m, 4, e, 1, 3, 2);	/* width 6 */
		set_fmt(m, 6, e, 1, 3, 2);
		set_fmt(m, 8, e, 1, 3, 2);
	}
	m->layers[7].w_m[0] = 5;		/* span 3: input 0 -> 0 */
	m->layers[7].w_m[3] = 2;		/* span 1: input 1 -> 1 */
	ck_assert_int_eq(hgq_model_set_input(m, 4, NULL), HGQ_OK);
	m->calibrated = 1;
	return m;
}

START_TEST(test_hand_conv)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_ebops_report r;
	const struct hgq_ebops_stats *s;
	struct hgq_model *m = hand_conv(0);

	ck_assert_msg(hgq_ebops_report(m, &r, &err) == HGQ_OK, "%s", err.msg);
	ck_assert_uint_eq(r.n_dense, 4);
	s = &r.layer[0];
	ck_assert_uint_eq(s->kind, HGQ_LAYER_CONV1D);
	ck_assert_uint_eq(s->ebops, 26);
	ck_assert_uint_eq(s->mults, 7);
	ck_assert_uint_eq(s->uniform8, 7 * 64);
	ck_assert_uint_eq(s->weights, 3);
	ck_assert_uint_eq(s->nonzero, 2);
	ck_assert_uint_eq(s->pruned, 1);
	ck_assert_uint_eq(s->span_hist[0], 1);
	ck_assert_uint_eq(s->span_hist[1], 1);
	ck_assert_uint_eq(s->span_hist[2], 1);
	for (int b = 1; b <= 4; b++)
		ck_assert_uint_eq(s->width_hist[b], 1);
	ck_assert_uint_eq(s->inputs_pruned, 0);
	ck_assert_uint_eq(s->outputs_pruned, 0);
	/* maxpool and flatten: no weights, 0 EBOPs, widths 6 */
	for (int n = 1; n <= 2; n++) {
		ck_assert_uint_eq(r.layer[n].ebops, 0);
		ck_assert_uint_eq(r.layer[n].weights, 0);
		ck_assert_uint_eq(r.layer[n].width_hist[6], r.layer[n].n_in);
	}
	/* dense 2x2: 6*3 + 6*1 */
	ck_assert_uint_eq(r.layer[3].ebops, 24);
	ck_assert_uint_eq(r.total, 50);
	ck_assert_uint_eq(hgq_ebops_total(m), 50);
	ck_assert_uint_eq(hgq_ebops_layer(m, 1), 26);
	ck_assert_uint_eq(hgq_ebops_layer(m, 3), 0);
	hgq_ebops_report_release(&r);
	hgq_model_free(m);

	m = hand_conv(1);
	ck_assert_int_eq(hgq_ebops_report(m, &r, &err), HGQ_OK);
	s = &r.layer[0];
	ck_assert_uint_eq(s->ebops, 15);
	ck_assert_uint_eq(s->mults, 5);
	ck_assert_uint_eq(s->inputs_pruned, 1);
	ck_assert_uint_eq(s->outputs_pruned, 1);
	ck_assert_uint_eq(s->width_hist[4], 0);
	ck_assert_uint_eq(s->width_hist[0], 1);
	/* the maxpool reads output 3 (width 0): one input not counted */
	ck_assert_uint_eq(r.layer[1].act_pruned, 1);
	ck_assert_uint_eq(r.total, 15 + 24);
	hgq_ebops_report_release(&r);
	hgq_model_free(m);
}
END_TEST

/*
 * A graph (fx_graph): every quantizer 4 bits (k 1, i 2, f 1) but the
 * input "b", 3 bits; dense 2 weights 3 (span 2), dense 4 weights 5
 * (span 3), dense 14 weights 1 but the masked 0 and 7.  Each dense
 * layer counts the bits of its own input: 4 x 12 x 2 + 3 x 12 x 3 +
 * 4 x 10 x 1; add, subtract, the table and concatenate count 0.  Then
 * q9[0] gets width 0 and row 0 of dense 14 is zeroed: q7[0] reaches
 * nothing live, nor do q3[0] and q5[0], so column 0 of dense 2 and 4
 * no longer counts, while q11[0], an output, stays live.
 */
static struct hgq_model *
graph_hand(void)
{
	struct hgq_model *m = fx_graph();

	for (uint32_t l = 0; l < m->n_layers; l++)
		for (uint32_t e = 0; m->layers[l].kind == HGQ_LAYER_QUANT &&
		    e < m->layers[l].n_out; e++)
			set_fmt(m, l, e, 1, 2, 1);
	for (uint32_t e = 0; e < 4; e++)
		set_fmt(m, 1, e, 0, 1, 2);
	for (uint32_t e = 0; e < 12; e++) {
		m->layers[2].w_m[e] = 3;
		m->layers[4].w_m[e] = 5;
		m->layers[14].w_m[e] = e == 0 || e == 7 ? 0 : 1;
	}
	return m;
}

START_TEST(test_hand_graph)
{
	static const uint64_t want[7] = { 96, 108, 0, 0, 0, 0, 40 };
	static const uint64_t dead[7] = { 64, 72, 0, 0, 0, 0, 36 };
	struct hgq_model *m = graph_hand();
	struct hgq_ebops_report r;
	struct hgq_err err = HGQ_ERR_INIT;
	uint8_t *live[16];

	ck_assert_msg(hgq_ebops_report(m, &r, &err) == HGQ_OK, "%s", err.msg);
	ck_assert_uint_eq(r.n_dense, 7);
	for (uint32_t n = 0; n < 7; n++)
		ck_assert_uint_eq(r.layer[n].ebops, want[n]);
	ck_assert_uint_eq(r.layer[2].index, 6);
	ck_assert_uint_eq(r.layer[2].kind, HGQ_LAYER_ADD);
	ck_assert_uint_eq(r.layer[5].kind, HGQ_LAYER_CONCAT);
	ck_assert_uint_eq(r.total, 244);
	ck_assert_uint_eq(hgq_ebops_total(m), 244);
	ck_assert_uint_eq(hgq_ebops_layer(m, 4), 108);
	hgq_ebops_report_release(&r);

	set_fmt(m, 9, 0, 0, 0, 0);
	for (uint32_t j = 0; j < 2; j++)
		m->layers[14].w_m[j] = 0;
	ck_assert_msg(hgq_model_live(m, live, &err) == HGQ_OK, "%s", err.msg);
	ck_assert(live[2] == NULL && live[6] == NULL);
	ck_assert_uint_eq(live[13][0], 0);
	ck_assert_uint_eq(live[9][0], 0);
	ck_assert_uint_eq(live[7][0], 0);
	ck_assert_uint_eq(live[7][1], 1);
	ck_assert_uint_eq(live[3][0], 0);
	ck_assert_uint_eq(live[5][0], 0);
	ck_assert_uint_eq(live[11][0], 1);
	ck_assert_uint_eq(live[0][0], 1);
	hgq_model_live_release(live, m->n_layers);
	ck_assert_msg(hgq_ebops_report(m, &r, &err) == HGQ_OK, "%s", err.msg);
	for (uint32_t n = 0; n < 7; n++)
		ck_assert_uint_eq(r.layer[n].ebops, dead[n]);
	ck_assert_uint_eq(r.total, 172);
	hgq_ebops_report_release(&r);
	hgq_model_free(m);
}
END_TEST

Suite *
ebops_suite(void)
{
	Suite *s = suite_create("ebops");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_span);
	tcase_add_test(tc, test_hand_one_layer);
	tcase_add_test(tc, test_hand_dead);
	tcase_add_test(tc, test_uniform8);
	tcase_add_test(tc, test_uncalibrated);
	tcase_add_test(tc, test_write);
	tcase_add_test(tc, test_lut_estimate);
	tcase_add_test(tc, test_hand_conv);
	tcase_add_test(tc, test_hand_graph);
	suite_add_tcase(s, tc);
	return s;
}
