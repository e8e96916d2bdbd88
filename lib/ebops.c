/*
 * ebops.c - exact EBOPs of a calibrated model (DESIGN.md "EBOPs"):
 * for every multiplication a_i * w_ij of a dense layer, the bits of the
 * input element (k+i+f of the quantizer before the layer) times the span
 * of the non-zero bits of the weight mantissa.
 */
#include "hgq.h"

uint64_t
hgq_ebops_layer(const struct hgq_model *m, uint32_t l)
{
	const struct hgq_layer *d, *q;
	uint64_t sum = 0;

	if (l == 0 || l >= m->n_layers || !m->calibrated)
		return 0;
	d = &m->layers[l];
	q = &m->layers[l - 1];
	if (d->kind != HGQ_LAYER_DENSE || q->kind != HGQ_LAYER_QUANT)
		return 0;
	for (uint32_t i = 0; i < d->n_in; i++) {
		const int32_t *w = d->w_m + (size_t)i * d->n_out;
		uint64_t bits = hgq_fmt_width(q->k[i], q->i[i], q->f[i]);
		uint64_t spans = 0;

		if (bits == 0)
			continue;
		for (uint32_t j = 0; j < d->n_out; j++)
			spans += hgq_span(w[j]);
		sum += bits * spans;
	}
	return sum;
}

uint64_t
hgq_ebops_total(const struct hgq_model *m)
{
	uint64_t sum = 0;

	for (uint32_t l = 0; l < m->n_layers; l++)
		sum += hgq_ebops_layer(m, l);
	return sum;
}
