/*
 * fuzz_config - libFuzzer harness for the YAML config loader (through a
 * temporary file).  Besides not crashing: a failed load leaves a message
 * of the form "path:line:col: ..." or names the path.  A config that
 * loads and is small (sizes bounded so that no run needs much memory)
 * is built into a model on data of its input shapes: the builder either
 * refuses it with a one-line message naming the file or gives a model
 * hgq_model_validate() accepts (graphs, issue 13).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hgq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SMALL	16	/* units, filters, pools and kernels at most this */

/* the product of n dimensions, or 0 beyond limit */
static uint64_t
dims_product(const uint32_t *v, uint32_t n, uint64_t limit)
{
	uint64_t p = 1;

	for (uint32_t a = 0; a < n; a++) {
		p *= v[a];
		if (p > limit)
			return 0;
	}
	return p;
}

/* is every size of the config small (or else not built)? */
static int
config_small(const struct hgq_config *c, uint64_t n_raw)
{
	uint32_t n_concat = 0;

	if (n_raw == 0 || n_raw > 256)
		return 0;
	for (uint32_t j = 0; j < c->model.n_layers; j++) {
		const struct hgq_layer_conf *l = &c->model.layers[j];

		if (l->units > SMALL || l->filters > SMALL ||
		    l->kernel[0] > SMALL || l->kernel[1] > SMALL ||
		    l->pool[0] > SMALL || l->pool[1] > SMALL ||
		    l->mask == HGQ_MASK_FILE)
			return 0;
		n_concat += l->kind == HGQ_LAYER_CONCAT;
	}
	return n_concat <= 2;
}

static void
build(const struct hgq_config *c, const char *path)
{
	struct hgq_train_data d;
	struct hgq_model *m = NULL;
	static double rows[2 * 256];	/* two rows of zeros */
	struct hgq_err err = HGQ_ERR_INIT;
	const struct hgq_conf_dims *is = &c->data.input_shape;
	uint64_t n_raw = 0;

	memset(&d, 0, sizeof(d));
	for (uint32_t k = 0; k < c->model.n_inputs; k++)
		n_raw += dims_product(c->model.inputs[k].shape.v,
		    c->model.inputs[k].shape.n, 1u << 20);
	if (c->model.n_inputs == 0 && is->n > 0) {
		n_raw = dims_product(is->v, is->n, 1u << 20);
		d.in_rank = is->n;
		memcpy(d.in_shape, is->v, is->n * sizeof(uint32_t));
	} else if (c->model.n_inputs == 0) {
		n_raw = 12;
		d.in_rank = 1;
		d.in_shape[0] = 12;
	}
	if (!config_small(c, n_raw))
		return;
	d.n_raw = (uint32_t)n_raw;
	d.n_train = 2;
	d.x_train = rows;		/* for normalize: standard */
	d.task = c->train.loss == HGQ_LOSS_MSE ? HGQ_TASK_REGRESS :
	    HGQ_TASK_CLASSIFY;
	if (hgq_train_model_new(&m, c, &d, &err) != HGQ_OK) {
		if ((strncmp(err.msg, path, strlen(path)) != 0 &&
		    strncmp(err.msg, "out of memory", 13) != 0) ||
		    strchr(err.msg, '\n') != NULL)
			abort();
		return;
	}
	if (hgq_model_validate(m, &err) != HGQ_OK) {
		fprintf(stderr, "built an invalid model: %s\n", err.msg);
		abort();
	}
	hgq_model_free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct hgq_config c;
	struct hgq_err err = HGQ_ERR_INIT;
	FILE *f;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/hgq-fuzz-cfg.%ld",
		    (long)getpid());
	if ((f = fopen(path, "wb")) == NULL)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	hgq_config_init(&c);
	if (hgq_config_load(&c, path, &err) != HGQ_OK) {
		if (strncmp(err.msg, path, strlen(path)) != 0 ||
		    strchr(err.msg, '\n') != NULL)
			abort();	/* every message names the file */
	} else if (c.model.n_layers > 0) {
		build(&c, path);
	}
	hgq_config_release(&c);
	unlink(path);
	return 0;
}
