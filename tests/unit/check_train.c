/*
 * check_train.c - the trainer: finite differences of the whole network's
 * backward pass (with and without batchnorm, one and two threads),
 * schedules, Pareto bookkeeping, export and calibration against a
 * long-double evaluation of the quantized network, determinism, resume
 * equals an uninterrupted run (at an epoch boundary and mid-epoch), data
 * errors, and a short real Fashion-MNIST run.  Graphs of format 1.2
 * (built by hand: the config has no graphs yet): the forward against an
 * independent float evaluation, finite differences through every kind
 * (add, subtract, concatenate, tables, masked dense and convolution,
 * fan-out, two inputs and outputs), training, determinism and resume,
 * the training and exact EBOPs by hand.
 */
#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "internal.h"
#include "unit.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/"

/* a config with the given widths; data set by the caller */
static void
small_config(struct hgq_config *c, const uint32_t *units, uint32_t n, int bn)
{
	hgq_config_init(c);
	c->model.n_layers = n;
	for (uint32_t k = 0; k < n; k++) {
		c->model.layers[k].kind = HGQ_LAYER_DENSE;
		c->model.layers[k].units = units[k];
		c->model.layers[k].act = k + 1 < n ? HGQ_ACT_RELU :
		    HGQ_ACT_LINEAR;
		c->model.layers[k].bn = bn;
	}
	c->model.input.init_f = 6;
	c->q_weight.init_f = 3;
	c->q_bias.init_f = 6;
	c->q_act.init_f = 5;
	c->train.epochs = 3;
	c->train.batch_size = 64;
	c->train.lr = 0.01;
	c->train.beta[0].value = 1e-5;
	c->train.gamma = 1e-6;
	c->train.threads = 2;
}

/*
 * Synthetic classification: nf features uniform in [-1, 1] on a grid of
 * 1/64, the label the argmax of a fixed linear map (nc classes).
 */
static void
synth_data(struct hgq_train_data *d, size_t n_train, size_t n_val,
    uint32_t nf, uint32_t nc, uint64_t seed)
{
	uint64_t rng[4];
	size_t n = n_train + n_val;
	double *x = calloc(n * nf, sizeof(double));
	float *y = calloc(n, sizeof(float));

	ck_assert(x != NULL && y != NULL);
	memset(d, 0, sizeof(*d));
	hgq_rng_seed(rng, seed);
	for (size_t r = 0; r < n; r++) {
		double best = -1e9;

		for (uint32_t k = 0; k < nf; k++)
			x[r * nf + k] = floor((2 * hgq_rng_uniform(rng) - 1) *
			    64) / 64;
		for (uint32_t j = 0; j < nc; j++) {
			double s = 0;

			for (uint32_t k = 0; k < nf; k++)
				s += x[r * nf + k] * sin(1.0 + j * 7 + k * 3);
			if (s > best) {
				best = s;
				y[r] = (float)j;
			}
		}
	}
	d->n_raw = nf;
	d->n_out = nc;
	d->task = HGQ_TASK_CLASSIFY;
	d->n_train = n_train;
	d->n_val = n_val;
	d->x_train = x;
	d->y_train = y;
	d->x_val = calloc(n_val * nf, sizeof(double));
	d->y_val = calloc(n_val, sizeof(double));
	memcpy(d->x_val, x + n_train * nf, n_val * nf * sizeof(double));
	for (size_t r = 0; r < n_val; r++)
		d->y_val[r] = y[n_train + r];
}

/* the model's bytes, for comparisons */
static char *
model_bytes(const struct hgq_model *m, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	struct hgq_err err = HGQ_ERR_INIT;

	ck_assert_ptr_nonnull(f);
	ck_assert_msg(hgq_model_write(f, m, 0, &err) == HGQ_OK, "%s",
	    err.msg);
	fclose(f);
	return buf;
}

static struct hgq_model *
model_from_bytes(const char *buf, size_t len)
{
	FILE *f = fmemopen((void *)buf, len, "rb");
	struct hgq_model *m = NULL;
	struct hgq_err err = HGQ_ERR_INIT;

	ck_assert_ptr_nonnull(f);
	ck_assert_msg(hgq_model_read(f, &m, &err) == HGQ_OK, "%s", err.msg);
	fclose(f);
	return m;
}

/* ------------------------------------------------------------------ */
/* Finite differences through the whole network                       */
/* ------------------------------------------------------------------ */

/* set every f parameter and state to fine precision: q(x) ~ x */
static void
fine_bits(struct hgq_model *m)
{
	for (uint32_t j = 0; j < m->n_layers; j++) {
		struct hgq_layer *l = &m->layers[j];

		for (uint32_t t = 0; t < l->n_tensors; t++) {
			struct hgq_tensor *ts = &l->tensors[t];

			if (ts->role == HGQ_ROLE_ACT_FBITS ||
			    ts->role == HGQ_ROLE_WEIGHT_FBITS ||
			    ts->role == HGQ_ROLE_BIAS_FBITS)
				for (uint32_t k = 0; k < ts->n; k++)
					ts->data[k] = 18;
			if (ts->role == HGQ_ROLE_ACT_ISTATE)
				for (uint32_t k = 0; k < ts->n; k++)
					ts->data[k] = 1;
			if (ts->role == HGQ_ROLE_BIAS || ts->role ==
			    HGQ_ROLE_BN_GAMMA)
				for (uint32_t k = 0; k < ts->n; k++)
					ts->data[k] += 0.05f * (float)(k % 3);
		}
	}
}

/* which flat parameters are weights, biases or gammas (not f) */
static void
param_kinds(const struct hgq_model *m, char *smooth, size_t n)
{
	size_t off = 0;

	for (uint32_t j = 0; j < m->n_layers; j++) {
		const struct hgq_layer *l = &m->layers[j];

		if (l->kind == HGQ_LAYER_QUANT) {
			if (l->trainable) {
				size_t nf = hgq_layer_tensor(l,
				    HGQ_ROLE_ACT_FBITS)->n;

				memset(smooth + off, 0, nf);
				off += nf;
			}
			continue;
		}
		if (hgq_layer_n_bias(m, j) > 0) {
			size_t nw = hgq_layer_n_weights(m, j);
			size_t nb = hgq_layer_n_bias(m, j);
			size_t nfw = hgq_layer_tensor(l,
			    HGQ_ROLE_WEIGHT_FBITS)->n;
			size_t nfb = hgq_layer_tensor(l,
			    HGQ_ROLE_BIAS_FBITS)->n;

			memset(smooth + off, 1, nw + nb);
			off += nw + nb;
			memset(smooth + off, 0, nfw + nfb);
			off += nfw + nfb;
			if (l->bn) {
				memset(smooth + off, 1, nb);
				off += nb;
			}
		}
	}
	ck_assert_uint_eq(off, n);
}

static void
grad_fd(int bn, int threads, int mse)
{
	static const uint32_t units[] = { 7, 5, 3 };
	struct hgq_config c;
	struct hgq_train_data d;
	struct hgq_model *m;
	struct hgq_trainer *t;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_step_stats st;
	const size_t B = 24;
	float *x, *y, *g, *p;
	char *smooth;
	size_t np, n_bad = 0, n_checked = 0;
	const float h = 2e-3f;

	small_config(&c, units, 3, bn);
	if (mse)
		c.train.loss = HGQ_LOSS_MSE;
	synth_data(&d, B, 8, 6, 3, 11);
	if (mse)
		d.task = HGQ_TASK_REGRESS;
	ck_assert_msg(hgq_train_model_new(&m, &c, &d, &err) == HGQ_OK, "%s",
	    err.msg);
	fine_bits(m);
	ck_assert_msg(hgq_trainer_new(&t, m, &c, threads, &err) == HGQ_OK,
	    "%s", err.msg);
	x = calloc(B * 6, sizeof(float));
	y = calloc(B * 3, sizeof(float));
	for (size_t j = 0; j < B * 6; j++)
		x[j] = (float)d.x_train[j];
	for (size_t j = 0; j < B * 3; j++)
		y[j] = mse ? (float)sin((double)j) : d.y_train[j / 3];
	if (!mse)
		for (size_t j = 0; j < B; j++)
			y[j] = d.y_train[j];
	np = hgq_trainer_n_params(t);
	g = calloc(np, sizeof(float));
	smooth = calloc(np, 1);
	param_kinds(m, smooth, np);
	ck_assert(hgq_trainer_step(t, x, y, NULL, B, 0, 0, 0, g, &st, &err) ==
	    HGQ_OK);
	p = hgq_trainer_params(t);
	for (size_t j = 0; j < np; j++) {
		double lp, lm, fd;
		float save = p[j];

		if (!smooth[j])
			continue;
		p[j] = save + h;
		hgq_trainer_step(t, x, y, NULL, B, 0, 0, 0, NULL, &st, &err);
		lp = st.loss / B;
		p[j] = save - h;
		hgq_trainer_step(t, x, y, NULL, B, 0, 0, 0, NULL, &st, &err);
		lm = st.loss / B;
		p[j] = save;
		fd = (lp - lm) / (2.0 * h);
		n_checked++;
		/* a ReLU kink inside [-h, h] may spoil a few */
		if (fabs(fd - g[j]) > 2e-3 + 2e-2 * fabs(fd))
			n_bad++;
	}
	ck_assert_msg(n_checked > 50, "only %zu parameters", n_checked);
	ck_assert_msg(n_bad * 50 <= n_checked, "%zu of %zu gradients differ "
	    "from finite differences (bn %d threads %d mse %d)", n_bad,
	    n_checked, bn, threads, mse);
	free(x); free(y); free(g); free(smooth);
	hgq_trainer_free(t);
	hgq_model_free(m);
	hgq_train_data_release(&d);
}

START_TEST(test_grad_fd_plain)
{
	grad_fd(0, 1, 0);
	grad_fd(0, 2, 0);
	grad_fd(0, 1, 1);
	/* the portable kernels too */
	hgq_kernel_isa(HGQ_ISA_C);
	grad_fd(0, 2, 0);
	grad_fd(1, 2, 0);
	hgq_kernel_isa(HGQ_ISA_AUTO);
}
END_TEST

START_TEST(test_grad_fd_bn)
{
	grad_fd(1, 1, 0);
	grad_fd(1, 2, 0);
}
END_TEST

/*
 * Small convolutional networks: variant 0 on [6, 6, 2] images: conv2d 3
 * 3x3 valid relu, maxpool 2 (stride 1), conv2d 4 2x2 same (batchnorm
 * when bn), avgpool 2, flatten, dense 3; variant 1 on [9, 2] sequences:
 * conv1d 3 k3 s2 relu, maxpool1d 2, flatten, dense 4 relu, dense 3;
 * variant 2 on [7, 7, 1] images: conv2d 8 3x3 valid relu (the direct
 * kernels of a one-channel convolution), maxpool 2, flatten, dense 3.
 * Activation quantizers per channel when chan.
 */
static void
conv_config(struct hgq_config *c, int variant, int bn, int chan)
{
	struct hgq_layer_conf *l = c->model.layers;
	static const uint32_t three[] = { 3 };

	small_config(c, three, 1, 0);
	memset(l, 0, 8 * sizeof(*l));
	if (variant == 0) {
		c->model.n_layers = 6;
		l[0] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_CONV2D,
		    .ndim = 2, .filters = 3, .kernel = { 3, 3 },
		    .stride = { 1, 1 }, .act = HGQ_ACT_RELU };
		l[1] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_MAXPOOL,
		    .ndim = 2, .pool = { 2, 2 }, .stride = { 1, 1 } };
		l[2] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_CONV2D,
		    .ndim = 2, .filters = 4, .kernel = { 2, 2 },
		    .stride = { 1, 1 }, .padding = HGQ_PAD_SAME, .bn = bn };
		l[3] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_AVGPOOL,
		    .ndim = 2, .pool = { 2, 2 }, .stride = { 1, 1 } };
		l[4] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_FLATTEN };
		l[5] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_DENSE,
		    .units = 3 };
	} else if (variant == 2) {
		c->model.n_layers = 4;
		l[0] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_CONV2D,
		    .ndim = 2, .filters = 8, .kernel = { 3, 3 },
		    .stride = { 1, 1 }, .act = HGQ_ACT_RELU, .bn = bn };
		l[1] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_MAXPOOL,
		    .ndim = 2, .pool = { 2, 2 }, .stride = { 2, 2 } };
		l[2] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_FLATTEN };
		l[3] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_DENSE,
		    .units = 3 };
	} else {
		c->model.n_layers = 5;
		l[0] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_CONV1D,
		    .ndim = 1, .filters = 3, .kernel = { 1, 3 },
		    .stride = { 1, 2 }, .act = HGQ_ACT_RELU, .bn = bn };
		l[1] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_MAXPOOL,
		    .ndim = 1, .pool = { 1, 2 }, .stride = { 1, 2 } };
		l[2] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_FLATTEN };
		l[3] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_DENSE,
		    .units = 4, .act = HGQ_ACT_RELU };
		l[4] = (struct hgq_layer_conf){ .kind = HGQ_LAYER_DENSE,
		    .units = 3 };
	}
	if (chan)
		c->q_act.gran = HGQ_GRAN_CHANNEL;
}

static void
conv_data(struct hgq_train_data *d, int variant, size_t n_train,
    size_t n_val)
{
	if (variant == 0) {
		synth_data(d, n_train, n_val, 72, 3, 5);
		d->in_rank = 3;
		d->in_shape[0] = 6;
		d->in_shape[1] = 6;
		d->in_shape[2] = 2;
	} else if (variant == 2) {
		synth_data(d, n_train, n_val, 49, 3, 5);
		d->in_rank = 3;
		d->in_shape[0] = 7;
		d->in_shape[1] = 7;
		d->in_shape[2] = 1;
	} else {
		synth_data(d, n_train, n_val, 18, 3, 5);
		d->in_rank = 2;
		d->in_shape[0] = 9;
		d->in_shape[1] = 2;
	}
}

/*
 * The loss of a step against central differences of every weight, bias
 * and gamma of a convolutional network; with beta > 0 the EBOPs term
 * (which depends on f only) leaves them unchanged.
 */
static void
conv_grad_fd(int variant, int bn, int threads, int chan)
{
	struct hgq_config c;
	struct hgq_train_data d;
	struct hgq_model *m;
	struct hgq_trainer *t;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_step_stats st;
	const size_t B = 20;
	float *x, *g, *p;
	char *smooth;
	size_t np, nf, n_bad = 0, n_checked = 0, n_kink = 0;
	double l0;
	const float h = 1e-3f;

	conv_config(&c, variant, bn, chan);
	conv_data(&d, variant, B, 8);
	nf = d.n_raw;
	ck_assert_msg(hgq_train_model_new(&m, &c, &d, &err) == HGQ_OK, "%s",
	    err.msg);
	fine_bits(m);
	ck_assert_msg(hgq_trainer_new(&t, m, &c, threads, &err) == HGQ_OK,
	    "%s", err.msg);
	x = calloc(B * nf, sizeof(float));
	for (size_t j = 0; j < B * nf; j++)
		x[j] = (float)d.x_train[j];
	np = hgq_trainer_n_params(t);
	g = calloc(np, sizeof(float));
	smooth = calloc(np, 1);
	param_kinds(m, smooth, np);
	ck_assert(hgq_trainer_step(t, x, d.y_train, NULL, B, 1e-4, 0, 0, g,
	    &st, &err) == HGQ_OK);
	ck_assert(st.ebops > 0);
	p = hgq_trainer_params(t);
	hgq_trainer_step(t, x, d.y_train, NULL, B, 0, 0, 0, NULL, &st, &err);
	l0 = st.loss / B;
	for (size_t j = 0; j < np; j++) {
		double lp, lm, fd;
		float save = p[j];

		if (!smooth[j])
			continue;
		p[j] = save + h;
		hgq_trainer_step(t, x, d.y_train, NULL, B, 0, 0, 0, NULL, &st,
		    &err);
		lp = st.loss / B;
		p[j] = save - h;
		hgq_trainer_step(t, x, d.y_train, NULL, B, 0, 0, 0, NULL, &st,
		    &err);
		lm = st.loss / B;
		p[j] = save;
		/*
		 * A ReLU kink or a max switching inside [-h, h] shows as
		 * one-sided differences that disagree: skip those.
		 */
		if (fabs((lp - l0) - (l0 - lm)) / h > 2e-3 + 5e-2 *
		    fabs(lp - lm) / (2.0 * h)) {
			n_kink++;
			continue;
		}
		fd = (lp - lm) / (2.0 * h);
		n_checked++;
		/* the activations' rounding at 2^-18 leaves some noise */
		if (fabs(fd - g[j]) > 2e-3 + 2e-2 * fabs(fd))
			n_bad++;
	}
	ck_assert_msg(n_checked > 40 && n_kink * 4 < n_checked, "only %zu "
	    "parameters (%zu at a kink)", n_checked, n_kink);
	ck_assert_msg(n_bad * 50 <= n_checked, "%zu of %zu gradients differ "
	    "from finite "
	    "differences (variant %d bn %d threads %d)", n_bad, n_checked,
	    variant, bn, threads);
	free(x); free(g); free(smooth);
	hgq_trainer_free(t);
	hgq_model_free(m);
	hgq_train_data_release(&d);
}

START_TEST(test_grad_fd_conv)
{
	conv_grad_fd(0, 0, 1, 0);
	conv_grad_fd(0, 0, 2, 1);
	conv_grad_fd(0, 1, 1, 0);
	conv_grad_fd(0, 1, 2, 0);
	conv_grad_fd(1, 0, 1, 1);
	conv_grad_fd(1, 1, 2, 0);
	conv_grad_fd(2, 0, 1, 0);
	conv_grad_fd(2, 0, 2, 1);
}
END_TEST

/* the threads split the batch but the gradient is the same function */
START_TEST(test_threads_same_gradient)
{
	static const uint32_t units[] = { 9, 4 };
	struct hgq_config c;
	struct hgq_train_data d;
	struct hgq_model *m;
	struct hgq_trainer *t1, *t2;
	struct hgq_err err = HGQ_ERR_INIT;
	float *x, *g1, *g2;
	size_t np;

	small_config(&c, units, 2, 0);
	synth_data(&d, 100, 10, 5, 4, 3);
	ck_assert(hgq_train_model_new(&m, &c, &d, &err) == HGQ_OK);
	ck_assert(hgq_trainer_new(&t1, m, &c, 1, &err) == HGQ_OK);
	ck_assert(hgq_trainer_new(&t2, m, &c, 3, &err) == HGQ_OK);
	x = calloc(100 * 5, sizeof(float));
	for (size_t j = 0; j < 500; j++)
		x[j] = (float)d.x_train[j];
	np = hgq_trainer_n_params(t1);
	g1 = calloc(np, sizeof(float));
	g2 = calloc(np, sizeof(float));
	ck_assert(hgq_trainer_step(t1, x, d.y_train, NULL, 100, 1e-5, 0, 0,
	    g1, NULL, &err) == HGQ_OK);
	ck_assert(hgq_trainer_step(t2, x, d.y_train, NULL, 100, 1e-5, 0, 0,
	    g2, NULL, &err) == HGQ_OK);
	for (size_t j = 0; j < np; j++)
		ck_assert_msg(fabsf(g1[j] - g2[j]) <= 1e-5f * (1 +
		    fabsf(g1[j])), "param %zu: %g vs %g", j, g1[j], g2[j]);
	free(x); free(g1); free(g2);
	hgq_trainer_free(t1);
	hgq_trainer_free(t2);
	hgq_model_free(m);
	hgq_train_data_release(&d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Schedules and the Pareto front                                      */
/* ------------------------------------------------------------------ */

START_TEST(test_schedules)
{
	struct hgq_config c;
	struct hgq_sched_point b[2] = {
		{ 0, 1e-7, HGQ_INTERP_LOG }, { 10, 1e-5, HGQ_INTERP_CONST },
	};

	hgq_config_init(&c);
	c.train.lr = 0.01;
	c.train.min_lr = 0.001;
	c.train.epochs = 10;
	ck_assert(hgq_lr_value(&c, 7) == 0.01);
	c.train.lr_sched = HGQ_LR_COSINE;
	ck_assert_double_eq_tol(hgq_lr_value(&c, 0), 0.01, 1e-12);
	ck_assert_double_eq_tol(hgq_lr_value(&c, 5), 0.0055, 1e-12);
	ck_assert_double_eq_tol(hgq_lr_value(&c, 10), 0.001, 1e-12);
	ck_assert_double_eq_tol(hgq_lr_value(&c, 20), 0.001, 1e-12);
	c.train.lr_sched = HGQ_LR_COSINE_RESTARTS;
	c.train.lr_period = 4;
	c.train.lr_decay = 0.5;
	ck_assert_double_eq_tol(hgq_lr_value(&c, 0), 0.01, 1e-12);
	ck_assert_double_eq_tol(hgq_lr_value(&c, 2), 0.0055, 1e-12);
	/* a restart at epoch 4 with the amplitude halved */
	ck_assert_double_eq_tol(hgq_lr_value(&c, 4), 0.001 + 0.009 * 0.5,
	    1e-12);
	ck_assert_double_eq_tol(hgq_lr_value(&c, 8), 0.001 + 0.009 * 0.25,
	    1e-12);
	/* beta: log ramp then constant */
	ck_assert_double_eq_tol(hgq_sched_value(b, 2, 5), 1e-6, 1e-18);
	ck_assert_double_eq_tol(hgq_sched_value(b, 2, 0), 1e-7, 1e-20);
	ck_assert_double_eq_tol(hgq_sched_value(b, 2, 30), 1e-5, 1e-18);
}
END_TEST

START_TEST(test_pareto)
{
	struct hgq_pareto p = { 0, NULL };
	struct hgq_err err = HGQ_ERR_INIT;
	char *rm[8];
	size_t n_rm;

	ck_assert_int_eq(hgq_pareto_add(&p, 0.80, 1000, 1, "a", rm, &n_rm,
	    &err), 1);
	ck_assert_uint_eq(n_rm, 0);
	/* worse on both: dominated */
	ck_assert_int_eq(hgq_pareto_add(&p, 0.79, 1200, 2, "b", rm, &n_rm,
	    &err), 0);
	/* equal: not kept */
	ck_assert_int_eq(hgq_pareto_add(&p, 0.80, 1000, 3, "c", rm, &n_rm,
	    &err), 0);
	/* a trade-off: both kept */
	ck_assert_int_eq(hgq_pareto_add(&p, 0.85, 2000, 4, "d", rm, &n_rm,
	    &err), 1);
	ck_assert_int_eq(hgq_pareto_add(&p, 0.70, 500, 5, "e", rm, &n_rm,
	    &err), 1);
	ck_assert_uint_eq(p.n, 3);
	/* better than a and e at once, not than d */
	ck_assert_int_eq(hgq_pareto_add(&p, 0.81, 400, 6, "f", rm, &n_rm,
	    &err), 1);
	ck_assert_uint_eq(n_rm, 2);
	ck_assert(strcmp(rm[0], "a") == 0 && strcmp(rm[1], "e") == 0);
	free(rm[0]);
	free(rm[1]);
	ck_assert_uint_eq(p.n, 2);
	/* same accuracy, fewer EBOPs: replaces */
	ck_assert_int_eq(hgq_pareto_add(&p, 0.85, 1999, 7, "g", rm, &n_rm,
	    &err), 1);
	ck_assert_uint_eq(n_rm, 1);
	ck_assert(strcmp(rm[0], "d") == 0);
	free(rm[0]);
	for (size_t j = 0; j < p.n; j++)
		for (size_t k = 0; k < p.n; k++)
			ck_assert(j == k || !(p.pts[j].metric >=
			    p.pts[k].metric && p.pts[j].ebops <=
			    p.pts[k].ebops));
	hgq_pareto_release(&p);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Training, export, calibration, exactness                            */
/* ------------------------------------------------------------------ */

struct stopper {
	int	 after;		/* stop once this many steps ran */
	int	 steps;
	int	 epochs;	/* epoch callbacks seen */
};

static void
count_step(uint64_t done, uint64_t n, void *arg)
{
	struct stopper *s = arg;

	(void)done;
	(void)n;
	s->steps++;
}

static int
stop_now(void *arg)
{
	struct stopper *s = arg;

	return s->after > 0 && s->steps >= s->after;
}

static int
count_epoch(const struct hgq_train_epoch *ep, void *arg, struct hgq_err *err)
{
	struct stopper *s = arg;

	(void)err;
	ck_assert(ep->model->calibrated);
	ck_assert(ep->ebops == hgq_ebops_total(ep->model));
	s->epochs++;
	return HGQ_OK;
}

static struct hgq_model *
train_small(const struct hgq_config *c, const struct hgq_train_data *d,
    struct hgq_model *resume, struct stopper *s, struct hgq_train_result *res)
{
	struct hgq_model *m = resume;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_train_params p;
	int rc;

	if (m == NULL)
		ck_assert_msg(hgq_train_model_new(&m, c, d, &err) == HGQ_OK,
		    "%s", err.msg);
	hgq_train_params_init(&p);
	p.threads = 2;
	p.on_step = count_step;
	p.should_stop = stop_now;
	p.on_epoch = count_epoch;
	p.arg = s;
	rc = hgq_train(m, c, d, &p, res, &err);
	ck_assert_msg(rc == HGQ_OK, "%s", err.msg);
	return m;
}

START_TEST(test_determinism_and_resume)
{
	static const uint32_t units[] = { 12, 8, 4 };
	struct hgq_config c;
	struct hgq_train_data d;
	struct hgq_train_result res;
	struct stopper s = { 0, 0, 0 };
	struct hgq_model *a, *b, *r;
	char *ba, *bb, *br;
	size_t la, lb, lr;

	small_config(&c, units, 3, 0);
	c.train.epochs = 4;
	c.train.lr_sched = HGQ_LR_COSINE_RESTARTS;	/* not tied to epochs */
	c.train.lr_period = 3;
	c.train.lr_decay = 0.9;
	synth_data(&d, 300, 60, 6, 4, 5);
	/* twice the same run: the same bytes */
	a = train_small(&c, &d, NULL, &s, &res);
	ck_assert_int_eq(s.epochs, 4);
	ck_assert(!res.interrupted && res.epochs_done == 4);
	b = train_small(&c, &d, NULL, &s, &res);
	ba = model_bytes(a, &la);
	bb = model_bytes(b, &lb);
	ck_assert(la == lb && memcmp(ba, bb, la) == 0);
	free(bb);
	hgq_model_free(b);
	/* two epochs, written and read back, then two more */
	c.train.epochs = 2;
	b = train_small(&c, &d, NULL, &s, &res);
	bb = model_bytes(b, &lb);
	hgq_model_free(b);
	r = model_from_bytes(bb, lb);
	free(bb);
	c.train.epochs = 4;
	r = train_small(&c, &d, r, &s, &res);
	br = model_bytes(r, &lr);
	ck_assert_msg(la == lr && memcmp(ba, br, la) == 0,
	    "resumed at an epoch boundary differs");
	free(br);
	hgq_model_free(r);
	/* interrupted in the middle of epoch 2 (5 steps an epoch) */
	s.steps = 0;
	s.after = 7;
	b = train_small(&c, &d, NULL, &s, &res);
	ck_assert(res.interrupted);
	ck_assert(b->calibrated);
	ck_assert_uint_eq(b->train.epoch, 1);
	ck_assert_uint_eq(b->train.step, 7);
	bb = model_bytes(b, &lb);
	hgq_model_free(b);
	r = model_from_bytes(bb, lb);
	free(bb);
	s.after = 0;
	r = train_small(&c, &d, r, &s, &res);
	ck_assert(!res.interrupted);
	br = model_bytes(r, &lr);
	ck_assert_msg(la == lr && memcmp(ba, br, la) == 0,
	    "resumed mid-epoch differs");
	free(br);
	free(ba);
	hgq_model_free(r);
	hgq_model_free(a);
	hgq_train_data_release(&d);
}
END_TEST

/*
 * The exported model, evaluated in long double straight from its
 * definition (DESIGN.md "JSON dump"), equals the engine on every row;
 * calibration left no value outside its format on the calibration data;
 * EBOPs by hand; the float training forward agrees with the exact one.
 */
static long double
ld_quant(long double x, int k, int i, int f, int round)
{
	long double v = ldexpl(x, f), r = floorl(v);

	if (round == HGQ_RND && v - r >= 0.5L)
		r += 1;
	if (k + i + f <= 0)
		return 0;
	/* calibration data never overflow: no WRAP needed, but check */
	ck_assert_msg(r <= ldexpl(1, i + f) - 1 && r >= (k ?
	    -ldexpl(1, i + f) : 0), "value %Lg outside k=%d i=%d f=%d", x,
	    k, i, f);
	return ldexpl(r, -f);
}

START_TEST(test_export_exact)
{
	static const uint32_t units[] = { 10, 6, 3 };
	struct hgq_config c;
	struct hgq_train_data d;
	struct hgq_train_result res;
	struct stopper s = { 0, 0, 0 };
	struct hgq_model *m;
	struct hgq_engine *e;
	struct hgq_err err = HGQ_ERR_INIT;
	int64_t *out;
	uint64_t ebops = 0;
	size_t n = 240, agree = 0, zero_elems = 0;
	long double *a, *z;
	double acc_exact;

	small_config(&c, units, 3, 0);
	c.data.normalize = HGQ_NORM_STANDARD;
	c.train.epochs = 3;
	c.train.beta[0].value = 3e-4;	/* prune something */
	synth_data(&d, n, 60, 5, 3, 8);
	/* a constant feature: its element must calibrate to width 0 */
	for (size_t r = 0; r < n + 60; r++)
		d.x_train[r * 5 + 4] = 0;
	m = train_small(&c, &d, NULL, &s, &res);
	ck_assert(m->calibrated);
	ck_assert(hgq_engine_new(&e, m, &err) == HGQ_OK);
	out = calloc(n * 3, sizeof(*out));
	ck_assert(hgq_engine_run(e, d.x_train, n, out, NULL, 1) == HGQ_OK);
	a = calloc(64, sizeof(*a));
	z = calloc(64, sizeof(*z));
	for (size_t r = 0; r < n; r++) {
		uint32_t width = 5;

		for (uint32_t k = 0; k < 5; k++) {
			const struct hgq_layer *q = &m->layers[0];
			long double v = ((long double)d.x_train[r * 5 + k] -
			    m->norm_offset[k]) * m->norm_scale[k];

			a[k] = ld_quant(v, q->k[k], q->i[k], q->f[k],
			    q->round);
		}
		for (uint32_t l = 1; l < m->n_layers; l += 2) {
			const struct hgq_layer *dl = &m->layers[l];
			const struct hgq_layer *q = &m->layers[l + 1];

			for (uint32_t j = 0; j < dl->n_out; j++) {
				long double sum = ldexpl(dl->b_m[j],
				    -dl->b_f[j]);

				for (uint32_t i = 0; i < width; i++) {
					size_t w = (size_t)i * dl->n_out + j;

					sum += a[i] * ldexpl(dl->w_m[w],
					    -dl->w_f[w]);
				}
				if (dl->act == HGQ_ACT_RELU && sum < 0)
					sum = 0;
				z[j] = ld_quant(sum, q->k[j], q->i[j], q->f[j],
				    q->round);
			}
			width = dl->n_out;
			memcpy(a, z, width * sizeof(*a));
		}
		for (uint32_t j = 0; j < 3; j++)
			ck_assert_msg(a[j] == ldexpl(out[r * 3 + j],
			    -hgq_engine_out_f(e, j)), "row %zu output %u", r,
			    j);
	}
	/* the constant input is pruned by calibration */
	ck_assert_int_eq(hgq_fmt_width(m->layers[0].k[4], m->layers[0].i[4],
	    m->layers[0].f[4]), 0);
	/* EBOPs by hand */
	for (uint32_t l = 1; l < m->n_layers; l += 2) {
		const struct hgq_layer *q = &m->layers[l - 1];
		const struct hgq_layer *dl = &m->layers[l];

		for (uint32_t i = 0; i < dl->n_in; i++) {
			int bits = hgq_fmt_width(q->k[i], q->i[i], q->f[i]);

			zero_elems += bits == 0;
			for (uint32_t j = 0; j < dl->n_out; j++)
				ebops += (uint64_t)bits * hgq_span(
				    dl->w_m[(size_t)i * dl->n_out + j]);
		}
	}
	ck_assert(ebops == hgq_ebops_total(m) && ebops == res.ebops);
	ck_assert(zero_elems >= 1);
	/* the float forward of training against the exact accuracy */
	{
		struct hgq_trainer *t;
		struct hgq_step_stats st;
		float *x = calloc(n * 5, sizeof(float));
		double *y = calloc(n, sizeof(double));

		for (size_t r = 0; r < n; r++)
			y[r] = d.y_train[r];
		ck_assert(hgq_eval_exact(m, d.x_train, y, n, 2, &acc_exact,
		    &err) == HGQ_OK);
		free(y);
		for (size_t r = 0; r < n; r++)
			for (uint32_t k = 0; k < 5; k++)
				x[r * 5 + k] = (float)((d.x_train[r * 5 + k] -
				    m->norm_offset[k]) * m->norm_scale[k]);
		ck_assert(hgq_trainer_new(&t, m, &c, 2, &err) == HGQ_OK);
		ck_assert(hgq_trainer_step(t, x, d.y_train, NULL, n, 0, 0, 0,
		    NULL, &st, &err) == HGQ_OK);
		agree = st.n_correct;
		ck_assert_msg(fabs((double)agree / n - acc_exact) <= 0.02,
		    "float %g exact %g", (double)agree / n, acc_exact);
		hgq_trainer_free(t);
		free(x);
	}
	free(a);
	free(z);
	free(out);
	hgq_engine_free(e);
	hgq_model_free(m);
	hgq_train_data_release(&d);
}
END_TEST

/* batchnorm: trains, exports (fused with moving statistics), calibrates */
START_TEST(test_batchnorm_train)
{
	static const uint32_t units[] = { 16, 8, 4 };
	struct hgq_config c;
	struct hgq_train_data d;
	struct hgq_train_result res;
	struct stopper s = { 0, 0, 0 };
	struct hgq_model *m;

	small_config(&c, units, 3, 1);
	c.train.epochs = 6;
	c.train.batch_size = 50;
	synth_data(&d, 500, 100, 6, 4, 21);
	m = train_small(&c, &d, NULL, &s, &res);
	ck_assert(m->calibrated);
	{
		double acc = atof(hgq_meta_get(m, "val_accuracy"));

		ck_assert_msg(acc > 0.6, "batchnorm accuracy %g", acc);
	}
	hgq_model_free(m);
	hgq_train_data_release(&d);
}
END_TEST

/* shared f parameters: per channel weights, per layer activations/bias */
START_TEST(test_granularities)
{
	static const uint32_t units[] = { 10, 4 };
	struct hgq_config c;
	struct hgq_train_data d;
	struct hgq_train_result res;
	struct stopper s = { 0, 0, 0 };
	struct hgq_model *m;
	const struct hgq_layer *l;

	small_config(&c, units, 2, 0);
	c.q_weight.gran = HGQ_GRAN_CHANNEL;
	c.q_bias.gran = HGQ_GRAN_LAYER;
	c.q_act.gran = HGQ_GRAN_LAYER;
	c.model.input.gran = HGQ_GRAN_LAYER;
	c.train.optimizer = HGQ_OPT_SGD;
	c.train.lr = 0.05;
	c.train.epochs = 4;
	synth_data(&d, 400, 100, 5, 4, 6);
	m = train_small(&c, &d, NULL, &s, &res);
	ck_assert(atof(hgq_meta_get(m, "val_accuracy")) > 0.5);
	l = &m->layers[1];
	ck_assert_uint_eq(hgq_layer_tensor(l, HGQ_ROLE_WEIGHT_FBITS)->n, 10);
	ck_assert_uint_eq(hgq_layer_tensor(l, HGQ_ROLE_BIAS_FBITS)->n, 1);
	ck_assert_ptr_null(hgq_layer_tensor(l, HGQ_ROLE_WEIGHT_FBITS |
	    HGQ_ROLE_M2));			/* SGD: one moment */
	ck_assert_ptr_nonnull(hgq_layer_tensor(l, HGQ_ROLE_WEIGHT_FBITS |
	    HGQ_ROLE_M1));
	for (uint32_t i = 1; i < l->n_in; i++)
		for (uint32_t j = 0; j < l->n_out; j++)
			ck_assert_int_eq(l->w_f[i * l->n_out + j], l->w_f[j]);
	for (uint32_t j = 1; j < l->n_out; j++)
		ck_assert_int_eq(l->b_f[j], l->b_f[0]);
	l = &m->layers[2];
	ck_assert_uint_eq(hgq_layer_tensor(l, HGQ_ROLE_ACT_FBITS)->n, 1);
	for (uint32_t j = 1; j < l->n_out; j++)
		ck_assert_int_eq(l->f[j], l->f[0]);
	hgq_model_free(m);
	hgq_train_data_release(&d);
}
END_TEST

/* regression: MSE loss, exact MSE on the validation split */
START_TEST(test_regression)
{
	static const uint32_t units[] = { 16, 2 };
	struct hgq_config c;
	struct hgq_train_data d;
	struct hgq_train_result res;
	struct stopper s = { 0, 0, 0 };
	struct hgq_model *m;
	double mse, var = 0;

	small_config(&c, units, 2, 0);
	c.train.loss = HGQ_LOSS_MSE;
	c.train.epochs = 8;
	c.train.beta[0].value = 1e-7;
	synth_data(&d, 600, 150, 4, 2, 13);
	d.task = HGQ_TASK_REGRESS;
	free(d.y_train);
	free(d.y_val);
	d.y_train = calloc(750 * 2, sizeof(float));
	for (size_t r = 0; r < 750; r++) {
		const double *x = d.x_train + r * 4;

		d.y_train[2 * r] = (float)(x[0] - 0.5 * x[1]);
		d.y_train[2 * r + 1] = (float)fabs(x[2] + x[3]);
	}
	d.y_val = calloc(150 * 2, sizeof(double));
	for (size_t j = 0; j < 150 * 2; j++)
		d.y_val[j] = d.y_train[600 * 2 + j];
	for (size_t j = 0; j < 300; j++)
		var += (double)d.y_val[j] * d.y_val[j] / 300;
	m = train_small(&c, &d, NULL, &s, &res);
	ck_assert_uint_eq(m->task, HGQ_TASK_REGRESS);
	ck_assert_ptr_null(hgq_meta_get(m, "val_accuracy"));
	mse = atof(hgq_meta_get(m, "val_mse"));
	ck_assert_msg(mse < 0.2 * var, "val mse %g, mean square %g", mse, var);
	ck_assert(strstr(hgq_meta_get(m, "metrics"), "val_mse") != NULL);
	hgq_model_free(m);
	hgq_train_data_release(&d);
}
END_TEST

/* a NaN in the data path: the run stops, keeping the last good model */
START_TEST(test_divergence)
{
	static const uint32_t units[] = { 6, 3 };
	struct hgq_config c;
	struct hgq_train_data d;
	struct hgq_train_params p;
	struct hgq_train_result res;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m;

	small_config(&c, units, 2, 0);
	c.train.lr = 1e30;	/* explodes at once */
	c.train.optimizer = HGQ_OPT_SGD;
	c.train.epochs = 3;
	synth_data(&d, 200, 40, 4, 3, 2);
	ck_assert(hgq_train_model_new(&m, &c, &d, &err) == HGQ_OK);
	hgq_train_params_init(&p);
	p.threads = 1;
	ck_assert_int_eq(hgq_train(m, &c, &d, &p, &res, &err), HGQ_ERANGE);
	ck_assert(res.diverged);
	ck_assert_msg(strstr(err.msg, "diverged") != NULL, "%s", err.msg);
	ck_assert(m->calibrated);		/* the initial model */
	ck_assert_uint_eq(m->train.epoch, 0);
	hgq_model_free(m);
	hgq_train_data_release(&d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Config and data errors                                              */
/* ------------------------------------------------------------------ */

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_data_errors)
{
	char dir[] = "/tmp/hgq-check-train-XXXXXX", p[256];
	struct hgq_config c;
	struct hgq_train_data d;
	struct hgq_err err = HGQ_ERR_INIT;
	static const uint32_t units[] = { 4, 3 };

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/x.csv", dir);
	write_file(p, "1,2,0\n3,4,1\n5,6,2\n7,8,1\n9,1,0\n2,2,1\n3,3,5\n");
	small_config(&c, units, 2, 0);
	c.path = strdup("cfg.yaml");
	c.data.train_x = strdup(p);
	c.data.label_col = 2;
	c.data.val_split = 0.5;
	/* label 5 with 3 classes */
	ck_assert(hgq_train_data_load(&d, &c, 0, &err) != HGQ_OK);
	ck_assert_msg(strstr(err.msg, "cfg.yaml") && strstr(err.msg,
	    "data.label_col") && strstr(err.msg, "x.csv") &&
	    strstr(err.msg, "row"), "%s", err.msg);
	/* fine once the bad row is cut off */
	ck_assert_msg(hgq_train_data_load(&d, &c, 6, &err) == HGQ_OK, "%s",
	    err.msg);
	ck_assert_uint_eq(d.n_raw, 2);
	ck_assert_uint_eq(d.n_train, 3);
	ck_assert_uint_eq(d.n_val, 3);
	hgq_train_data_release(&d);
	/* an empty validation split */
	c.data.val_split = 0.1;
	ck_assert(hgq_train_data_load(&d, &c, 6, &err) != HGQ_OK);
	ck_assert_msg(strstr(err.msg, "data.val_split") && strstr(err.msg,
	    "empty validation"), "%s", err.msg);
	/* test features that do not match */
	c.data.val_split = 0.5;
	snprintf(p, sizeof(p), "%s/t.csv", dir);
	write_file(p, "1,2,3,0\n");
	c.data.test_x = strdup(p);
	ck_assert(hgq_train_data_load(&d, &c, 6, &err) != HGQ_OK);
	ck_assert_msg(strstr(err.msg, "data.test_x") && strstr(err.msg,
	    "features"), "%s", err.msg);
	hgq_config_release(&c);
	snprintf(p, sizeof(p), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(p), 0);
}
END_TEST

/* a few thousand Fashion-MNIST images, a few epochs: > 75 % exact */
START_TEST(test_fmnist_short)
{
	struct hgq_config c;
	struct hgq_train_data d;
	struct hgq_train_result res;
	struct stopper s = { 0, 0, 0 };
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m;
	static const uint32_t units[] = { 32, 10 };
	double acc;

	if (access(FMNIST "train-images-idx3-ubyte.gz", R_OK) != 0)
		return;		/* the data package is not installed */
	small_config(&c, units, 2, 0);
	c.data.train_x = strdup(FMNIST "train-images-idx3-ubyte.gz");
	c.data.train_y = strdup(FMNIST "train-labels-idx1-ubyte.gz");
	c.data.normalize = HGQ_NORM_SCALE;
	c.data.scale = 1.0 / 256;
	c.data.val_split = 0.25;
	c.model.input.init_f = 8;
	c.model.input.trainable = 0;
	c.train.epochs = 4;
	c.train.batch_size = 64;
	c.train.lr = 0.003;
	c.train.beta[0].value = 1e-7;
	ck_assert_msg(hgq_train_data_load(&d, &c, 4000, &err) == HGQ_OK, "%s",
	    err.msg);
	ck_assert_uint_eq(d.n_raw, 784);
	m = train_small(&c, &d, NULL, &s, &res);
	acc = atof(hgq_meta_get(m, "val_accuracy"));
	ck_assert_msg(acc > 0.75, "validation accuracy %g", acc);
	hgq_model_free(m);
	hgq_train_data_release(&d);
	hgq_config_release(&c);
}
END_TEST

/* hgq_train refuses data that do not fit the model, with a message */
START_TEST(test_train_data_mismatch)
{
	static const uint32_t units[] = { 5, 3 };
	struct hgq_config c;
	struct hgq_train_data d;
	struct hgq_train_params p;
	struct hgq_train_result res;
	struct hgq_model *m;
	struct hgq_err err = HGQ_ERR_INIT;

	small_config(&c, units, 2, 0);
	c.train.loss = HGQ_LOSS_MSE;
	synth_data(&d, 40, 8, 6, 3, 2);
	d.task = HGQ_TASK_REGRESS;
	ck_assert_msg(hgq_train_model_new(&m, &c, &d, &err) == HGQ_OK, "%s",
	    err.msg);
	hgq_train_params_init(&p);
	d.n_raw = 5;
	ck_assert(hgq_train(m, &c, &d, &p, &res, &err) == HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "the model takes 6 columns, the data have "
	    "5");
	d.n_raw = 6;
	d.n_out = 4;
	ck_assert(hgq_train(m, &c, &d, &p, &res, &err) == HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "the model has 3 outputs, the targets 4 "
	    "columns");
	hgq_model_free(m);
	hgq_train_data_release(&d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Graphs of format 1.2                                                */
/* ------------------------------------------------------------------ */

/* a config for hand-built graphs: regression, small steps */
static void
graph_config(struct hgq_config *c, int threads)
{
	hgq_config_init(c);
	c->model.input.init_f = 6;
	c->q_weight.init_f = 3;
	c->q_bias.init_f = 6;
	c->q_act.init_f = 5;
	c->train.loss = HGQ_LOSS_MSE;
	c->train.lr = 0.01;
	c->train.beta[0].value = 1e-5;
	c->train.gamma = 1e-6;
	c->train.threads = threads;
}

/* append a layer of kind and shape reading refs */
static struct hgq_layer *
gadd(struct hgq_model *m, uint32_t kind, uint32_t rank, const uint32_t *dims,
    uint32_t n_refs, const uint32_t *refs)
{
	uint32_t j = fx_add(m, kind, rank, dims, n_refs, refs);
	struct hgq_layer *l = &m->layers[j];	/* after fx_add: it moves */

	if (kind == HGQ_LAYER_QUANT) {
		l->trainable = 1;
		l->round = HGQ_RND;
	}
	return l;
}

#define D(...)	(uint32_t)(sizeof((uint32_t[]){ __VA_ARGS__ }) / \
		    sizeof(uint32_t)), (const uint32_t[]){ __VA_ARGS__ }
#define IN0	(HGQ_REF_INPUT | 0)

/* a conv1d of kernel 1 (per-row dense) on [W, C] */
static void
gconv1(struct hgq_model *m, uint32_t w, uint32_t filters, uint32_t ref)
{
	struct hgq_layer *l = gadd(m, HGQ_LAYER_CONV1D, D(w, filters),
	    D(ref));

	l->kernel[0] = l->kernel[1] = 1;
	l->stride[0] = l->stride[1] = 1;
}

/*
 * A small graph around one kind, one input of 4 columns (6 for
 * concatenate), read by two branches that kind joins (lut: one
 * branch), then a dense layer to 2 outputs:
 *
 *   add, sub   q0[4] -> dense 3 -> q2, dense 3 -> q4; kind(q2, q4) -> q6
 *   concat     q0[3,2] -> conv1d k1 1 -> q2[3,1], conv1d 2 -> q4[3,2]
 *              (weight 1 masked); concatenate axis 1 -> q6[3,3] ->
 *              flatten -> q8[9]
 *   lut        q0[4] -> dense 3 -> q2 -> tanh -> q4
 *   dense      q0[4] -> dense 4 -> q2, read by dense 3 with batchnorm
 *              -> q4 and dense 3 -> q6 (so the batchnorm layer adds its
 *              gradient to q2's); add(q4, q6) -> q8
 */
static struct hgq_model *
kind_graph(uint32_t kind, uint32_t func)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m = hgq_model_new();
	struct hgq_tensor *mask;
	uint32_t last;

	ck_assert_ptr_nonnull(m);
	if (kind == HGQ_LAYER_CONCAT) {
		gadd(m, HGQ_LAYER_QUANT, D(3, 2), D(IN0));
		gconv1(m, 3, 1, 0);
		gadd(m, HGQ_LAYER_QUANT, D(3, 1), D(1));
		gconv1(m, 3, 2, 0);
		mask = hgq_layer_add_tensor(&m->layers[3], HGQ_ROLE_MASK, 4,
		    &err);
		ck_assert_ptr_nonnull(mask);
		for (uint32_t e = 0; e < 4; e++)
			mask->data[e] = e == 1 ? 0.0f : 1.0f;
		gadd(m, HGQ_LAYER_QUANT, D(3, 2), D(3));
		gadd(m, HGQ_LAYER_CONCAT, D(3, 3), D(2, 4))->axis = 1;
		gadd(m, HGQ_LAYER_QUANT, D(3, 3), D(5));
		gadd(m, HGQ_LAYER_FLATTEN, D(9), D(6));
		gadd(m, HGQ_LAYER_QUANT, D(9), D(7))->trainable = 0;
		last = 8;
	} else if (kind == HGQ_LAYER_LUT) {
		gadd(m, HGQ_LAYER_QUANT, D(4), D(IN0));
		gadd(m, HGQ_LAYER_DENSE, D(3), D(0));
		gadd(m, HGQ_LAYER_QUANT, D(3), D(1));
		gadd(m, HGQ_LAYER_LUT, D(3), D(2))->func = (uint8_t)func;
		gadd(m, HGQ_LAYER_QUANT, D(3), D(3));
		last = 4;
	} else if (kind == HGQ_LAYER_DENSE) {
		gadd(m, HGQ_LAYER_QUANT, D(4), D(IN0));
		gadd(m, HGQ_LAYER_DENSE, D(4), D(0));
		gadd(m, HGQ_LAYER_QUANT, D(4), D(1));
		gadd(m, HGQ_LAYER_DENSE, D(3), D(2))->bn = 1;
		gadd(m, HGQ_LAYER_QUANT, D(3), D(3));
		gadd(m, HGQ_LAYER_DENSE, D(3), D(2));
		gadd(m, HGQ_LAYER_QUANT, D(3), D(5));
		gadd(m, HGQ_LAYER_ADD, D(3), D(4, 6));
		gadd(m, HGQ_LAYER_QUANT, D(3), D(7));
		last = 8;
	} else {
		gadd(m, HGQ_LAYER_QUANT, D(4), D(IN0));
		gadd(m, HGQ_LAYER_DENSE, D(3), D(0));
		gadd(m, HGQ_LAYER_QUANT, D(3), D(1));
		gadd(m, HGQ_LAYER_DENSE, D(3), D(0));
		gadd(m, HGQ_LAYER_QUANT, D(3), D(3));
		gadd(m, kind, D(3), D(2, 4));
		gadd(m, HGQ_LAYER_QUANT, D(3), D(5));
		last = 6;
	}
	gadd(m, HGQ_LAYER_DENSE, D(2), D(last));
	gadd(m, HGQ_LAYER_QUANT, D(2), D(last + 1));
	m->task = HGQ_TASK_REGRESS;
	ck_assert_msg(hgq_model_set_input(m, m->layers[0].n_out, &err) ==
	    HGQ_OK, "%s", err.msg);
	ck_assert_msg(hgq_model_validate_graph(m, &err) == HGQ_OK, "%s",
	    err.msg);
	return m;
}

/* the training tensors of a hand-built graph, seeded */
static void
graph_init(struct hgq_model *m, const struct hgq_config *c, uint64_t seed)
{
	struct hgq_err err = HGQ_ERR_INIT;
	uint64_t rng[4];

	hgq_rng_seed(rng, seed);
	ck_assert_msg(hgq_train_init_tensors(m, c, rng, &err) == HGQ_OK, "%s",
	    err.msg);
}

/* rows of inputs on a 1/64 grid in [-1, 1) and targets sin(k) */
static void
graph_rows(float *x, float *y, size_t B, size_t nx, size_t ny, uint64_t seed)
{
	uint64_t rng[4];

	hgq_rng_seed(rng, seed);
	for (size_t j = 0; j < B * nx; j++)
		x[j] = (float)(floor((2 * hgq_rng_uniform(rng) - 1) * 64) / 64);
	for (size_t j = 0; j < B * ny; j++)
		y[j] = (float)sin((double)j);
}

/* as param_kinds, masked weights marked 2: their gradient must be 0 */
static void
graph_kinds(const struct hgq_model *m, char *smooth, size_t n)
{
	size_t off = 0;

	param_kinds(m, smooth, n);
	for (uint32_t j = 0; j < m->n_layers; j++) {
		const struct hgq_layer *l = &m->layers[j];
		const struct hgq_tensor *mask = hgq_layer_tensor(l,
		    HGQ_ROLE_MASK);

		if (l->kind == HGQ_LAYER_QUANT) {
			if (l->trainable)
				off += hgq_layer_tensor(l,
				    HGQ_ROLE_ACT_FBITS)->n;
			continue;
		}
		if (hgq_layer_n_bias(m, j) == 0)
			continue;
		for (uint32_t e = 0; mask != NULL && e < mask->n; e++)
			if (mask->data[e] == 0)
				smooth[off + e] = 2;
		off += hgq_layer_n_weights(m, j) + hgq_layer_n_bias(m, j) *
		    (l->bn ? 2 : 1) +
		    hgq_layer_tensor(l, HGQ_ROLE_WEIGHT_FBITS)->n +
		    hgq_layer_tensor(l, HGQ_ROLE_BIAS_FBITS)->n;
	}
}

/*
 * Finite differences of the loss against the gradient of every weight
 * and bias of m (its tensors fine: q(x) ~ x); masked weights get
 * exactly 0.  Takes m.
 */
static void
graph_fd(struct hgq_model *m, int threads, const char *what)
{
	struct hgq_config c;
	struct hgq_trainer *t;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_step_stats st;
	const size_t B = 24;
	size_t nx = hgq_model_n_in(m), ny = hgq_model_n_out(m);
	size_t np, n_bad = 0, n_checked = 0, n_masked = 0;
	float *x, *y, *g, *p;
	char *smooth;
	const float h = 2e-3f;

	graph_config(&c, threads);
	graph_init(m, &c, 9);
	fine_bits(m);
	/* a table's input: no integer bits tracked yet, so 18 bits too */
	for (uint32_t j = 0; j < m->n_layers; j++) {
		struct hgq_tensor *is = hgq_layer_tensor(&m->layers[j],
		    HGQ_ROLE_ACT_ISTATE);

		for (uint32_t e = 0; hgq_quant_feeds_lut(m, j) && e < is->n;
		    e++)
			is->data[e] = I_UNSET;
	}
	ck_assert_msg(hgq_trainer_new(&t, m, &c, threads, &err) == HGQ_OK,
	    "%s: %s", what, err.msg);
	x = calloc(B * nx, sizeof(float));
	y = calloc(B * ny, sizeof(float));
	ck_assert(x != NULL && y != NULL);
	graph_rows(x, y, B, nx, ny, 4);
	np = hgq_trainer_n_params(t);
	g = calloc(np, sizeof(float));
	smooth = calloc(np, 1);
	graph_kinds(m, smooth, np);
	ck_assert(hgq_trainer_step(t, x, y, NULL, B, 0, 0, 0, g, &st, &err) ==
	    HGQ_OK);
	p = hgq_trainer_params(t);
	for (size_t j = 0; j < np; j++) {
		double lp, lm, fd;
		float save = p[j];

		if (smooth[j] == 2) {
			ck_assert_msg(g[j] == 0.0f && p[j] == 0.0f, "%s: "
			    "masked parameter %zu: %g, gradient %g", what, j,
			    (double)p[j], (double)g[j]);
			n_masked++;
			continue;
		}
		if (!smooth[j])
			continue;
		p[j] = save + h;
		hgq_trainer_step(t, x, y, NULL, B, 0, 0, 0, NULL, &st, &err);
		lp = st.loss / B;
		p[j] = save - h;
		hgq_trainer_step(t, x, y, NULL, B, 0, 0, 0, NULL, &st, &err);
		lm = st.loss / B;
		p[j] = save;
		fd = (lp - lm) / (2.0 * h);
		n_checked++;
		if (fabs(fd - g[j]) > 2e-3 + 2e-2 * fabs(fd))
			n_bad++;
	}
	ck_assert_msg(n_checked >= 10, "%s: only %zu parameters", what,
	    n_checked);
	ck_assert_msg(n_bad * 50 <= n_checked, "%s: %zu of %zu gradients "
	    "differ from finite differences (threads %d)", what, n_bad,
	    n_checked, threads);
	for (uint32_t j = 0; j < m->n_layers; j++) {
		const struct hgq_tensor *mk = hgq_layer_tensor(&m->layers[j],
		    HGQ_ROLE_MASK);

		for (uint32_t e = 0; mk != NULL && e < mk->n; e++)
			n_masked -= mk->data[e] == 0;
	}
	ck_assert_uint_eq(n_masked, 0);
	free(x); free(y); free(g); free(smooth);
	hgq_trainer_free(t);
	hgq_model_free(m);
}

/* a dense layer or a conv1d of kernel 1 (per row) of the reference */
static void
ref_linear(const struct hgq_model *m, uint32_t j, const double *a, double *v)
{
	const struct hgq_layer *l = &m->layers[j];
	const float *w = hgq_layer_tensor(l, HGQ_ROLE_WEIGHT)->data;
	const float *b = hgq_layer_tensor(l, HGQ_ROLE_BIAS)->data;
	uint32_t nb = hgq_layer_n_bias(m, j), ci = l->n_in / (l->n_out / nb);

	for (uint32_t e = 0; e < l->n_out; e++) {
		uint32_t p = e / nb, o = e % nb;
		double s = b[o];

		for (uint32_t i = 0; i < ci; i++)
			s += a[p * ci + i] * w[i * nb + o];
		v[e] = l->act == HGQ_ACT_RELU && s < 0 ? 0 : s;
	}
}

/* concatenate of the reference: rank 1 on axis 0, rank 2 on axis 1 */
static void
ref_concat(const struct hgq_model *m, uint32_t j, double **vals)
{
	const struct hgq_layer *l = &m->layers[j];
	uint32_t d[HGQ_MAX_RANK], rk = hgq_layer_shape(l, d);
	uint32_t rows = rk == 1 ? 1 : d[0], e = 0;

	for (uint32_t p = 0; p < rows; p++)
		for (uint32_t k = 0; k < l->n_inputs; k++) {
			const double *in = vals[l->inputs[k]];
			uint32_t nk = m->layers[l->inputs[k]].n_out / rows;

			for (uint32_t c = 0; c < nk; c++)
				vals[j][e++] = in[p * nk + c];
		}
}

/*
 * An independent float evaluation of a hand-built graph (quantizers as
 * the identity: the tests give them 18 fractional bits) from its
 * training tensors, for one row x; v[j] gets layer j's values.
 */
static void
ref_eval(const struct hgq_model *m, const float *x, double **v)
{
	for (uint32_t j = 0; j < m->n_layers; j++) {
		const struct hgq_layer *l = &m->layers[j];
		uint32_t r0 = hgq_layer_input(m, j, 0), n = l->n_out;
		const double *a = (r0 & HGQ_REF_INPUT) != 0 ? NULL : v[r0];
		const float *xi = x + hgq_model_input_offset(m,
		    r0 & ~HGQ_REF_INPUT);
		double sign = l->kind == HGQ_LAYER_SUB ? -1 : 1;

		switch (l->kind) {
		case HGQ_LAYER_QUANT:
			for (uint32_t e = 0; e < n; e++)
				v[j][e] = a != NULL ? a[e] : xi[e];
			break;
		case HGQ_LAYER_DENSE:
		case HGQ_LAYER_CONV1D:
			ref_linear(m, j, a, v[j]);
			break;
		case HGQ_LAYER_ADD:
		case HGQ_LAYER_SUB:
			for (uint32_t e = 0; e < n; e++)
				v[j][e] = a[e] + sign * v[l->inputs[1]][e];
			break;
		case HGQ_LAYER_CONCAT:
			ref_concat(m, j, v);
			break;
		case HGQ_LAYER_LUT:
			for (uint32_t e = 0; e < n; e++)
				v[j][e] = l->func == HGQ_FUNC_TANH ?
				    tanh(a[e]) : 1 / (1 + exp(-a[e]));
			break;
		default:	/* flatten */
			memcpy(v[j], a, n * sizeof(double));
		}
	}
}

/* the reference's squared error of row r, outputs in port order */
static double
ref_loss(const struct hgq_model *m, double **v, const float *y)
{
	size_t o = 0, ny = hgq_model_n_out(m);
	double sum = 0;

	for (uint32_t k = 0; k < hgq_model_n_outputs(m); k++) {
		uint32_t ol = hgq_model_output_layer(m, k);

		for (uint32_t e = 0; e < m->layers[ol].n_out; e++, o++)
			sum += (v[ol][e] - y[o]) * (v[ol][e] - y[o]) /
			    (double)ny;
	}
	return sum;
}

/*
 * The trainer's forward (its loss, with 18 fractional bits everywhere)
 * equals the reference evaluation of the same graph, outputs joined in
 * port order.
 */
static void
graph_forward(struct hgq_model *m, const char *what)
{
	enum { B = 8 };
	struct hgq_config c;
	struct hgq_trainer *t;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_step_stats st;
	size_t nx = hgq_model_n_in(m), ny = hgq_model_n_out(m);
	float *x = calloc(B * nx, sizeof(float));
	float *y = calloc(B * ny, sizeof(float));
	double *v[32], want = 0;

	ck_assert(x != NULL && y != NULL && m->n_layers <= 32);
	graph_config(&c, 1);
	graph_init(m, &c, 12);
	fine_bits(m);
	graph_rows(x, y, B, nx, ny, 6);
	for (uint32_t j = 0; j < m->n_layers; j++)
		ck_assert_ptr_nonnull(v[j] = calloc(m->layers[j].n_out,
		    sizeof(double)));
	for (size_t r = 0; r < B; r++) {
		ref_eval(m, x + r * nx, v);
		want += ref_loss(m, v, y + r * ny);
	}
	ck_assert_msg(hgq_trainer_new(&t, m, &c, 1, &err) == HGQ_OK, "%s",
	    err.msg);
	ck_assert(hgq_trainer_step(t, x, y, NULL, B, 0, 0, 0, NULL, &st,
	    &err) == HGQ_OK);
	ck_assert_msg(fabs(st.loss - want) <= 1e-4 * want, "%s: loss %.9g, "
	    "the reference %.9g", what, st.loss, want);
	for (uint32_t j = 0; j < m->n_layers; j++)
		free(v[j]);
	free(x);
	free(y);
	hgq_trainer_free(t);
	hgq_model_free(m);
}

START_TEST(test_graph_forward)
{
	graph_forward(fx_graph(), "fx_graph");
	graph_forward(kind_graph(HGQ_LAYER_CONCAT, 0), "concatenate");
	graph_forward(kind_graph(HGQ_LAYER_SUB, 0), "subtract");
	graph_forward(kind_graph(HGQ_LAYER_LUT, HGQ_FUNC_SIGMOID), "sigmoid");
}
END_TEST

/*
 * The tables' training kernels: the forward is hgq_func_f64 rounded to
 * float; the backward, which takes tanh', sigmoid' and exp' from the
 * forward's output, is within 2^-22 (relative above 1) of the
 * definition in binary64 on a grid of inputs; the others are it.
 */
START_TEST(test_lut_kernels)
{
	enum { N = 1025 };
	static float x[N], y[N], dy[N], a[N], b[N];

	for (uint32_t func = 0; func <= HGQ_FUNC_MAX; func++) {
		for (size_t j = 0; j < N; j++) {
			x[j] = (float)((double)j / 64.0 - 8.0);
			dy[j] = j % 3 == 0 ? 1.0f : -0.5f;
		}
		hgq_lut_forward(y, x, N, func);
		for (size_t j = 0; j < N; j++)
			ck_assert(y[j] == (float)hgq_func_f64(func,
			    (double)x[j]));
		hgq_lut_backward(a, dy, x, y, N, func);
		hgq_lut_backward_ref(b, dy, x, y, N, func);
		for (size_t j = 0; j < N; j++) {
			double tol = ldexp(fabs(b[j]) > 1 ? fabs(b[j]) : 1,
			    -22);

			ck_assert_msg(fabs((double)a[j] - b[j]) <= tol, "%s "
			    "at %g: %.9g, the definition %.9g",
			    hgq_func_name(func), (double)x[j], (double)a[j],
			    (double)b[j]);
			if (func == HGQ_FUNC_SOFTPLUS || func == HGQ_FUNC_SILU)
				ck_assert(a[j] == b[j]);
		}
	}
}
END_TEST

START_TEST(test_graph_fd_kinds)
{
	graph_fd(kind_graph(HGQ_LAYER_ADD, 0), 1, "add");
	graph_fd(kind_graph(HGQ_LAYER_SUB, 0), 1, "subtract");
	graph_fd(kind_graph(HGQ_LAYER_DENSE, 0), 1, "batchnorm fan-out");
	graph_fd(kind_graph(HGQ_LAYER_DENSE, 0), 2, "batchnorm fan-out");
	graph_fd(kind_graph(HGQ_LAYER_CONCAT, 0), 1, "concatenate");
	graph_fd(kind_graph(HGQ_LAYER_CONCAT, 0), 2, "concatenate");
	graph_fd(kind_graph(HGQ_LAYER_LUT, HGQ_FUNC_TANH), 1, "tanh");
	graph_fd(kind_graph(HGQ_LAYER_LUT, HGQ_FUNC_SIGMOID), 2, "sigmoid");
	graph_fd(kind_graph(HGQ_LAYER_LUT, HGQ_FUNC_SILU), 1, "silu");
}
END_TEST

/* every kind, two inputs, two outputs, fan-out and a mask (fx_graph) */
START_TEST(test_graph_fd_fixture)
{
	graph_fd(fx_graph(), 1, "fx_graph");
	graph_fd(fx_graph(), 2, "fx_graph");
}
END_TEST

/*
 * fx_graph trained for n steps from step s0 (batches of 32 of a fixed
 * set of 256 rows, learnable targets: y = (a0 - b1, a2 b3) / 2 and
 * z = tanh of a sum), 2 threads; returns the mean loss of the last
 * step, the first's in *first.
 */
static double
graph_steps(struct hgq_model *m, const struct hgq_config *c, int n, int s0,
    double *first)
{
	enum { N = 256, B = 32, NX = 8, NY = 5 };
	struct hgq_trainer *t;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_step_stats st;
	float *x = calloc(N * NX, sizeof(float));
	float *y = calloc(N * NY, sizeof(float));
	uint32_t idx[B];
	double loss = 0;

	ck_assert(x != NULL && y != NULL);
	graph_rows(x, y, N, NX, 0, 21);
	for (size_t r = 0; r < N; r++) {
		const float *a = x + r * NX, *b = a + 4;
		float *o = y + r * NY;

		o[0] = (a[0] - b[1]) / 2;
		o[1] = a[2] * b[3] / 2;
		for (int k = 0; k < 3; k++)
			o[2 + k] = (float)tanh(a[k] + b[k + 1]);
	}
	ck_assert_msg(hgq_trainer_new(&t, m, c, 2, &err) == HGQ_OK, "%s",
	    err.msg);
	for (int s = s0; s < s0 + n; s++) {
		for (uint32_t r = 0; r < B; r++)
			idx[r] = (uint32_t)((s * 37 + r * 11) % N);
		ck_assert_msg(hgq_trainer_step(t, x, y, idx, B, 1e-6, 0.02, 1,
		    NULL, &st, &err) == HGQ_OK, "%s", err.msg);
		loss = st.loss / B;
		if (s == s0 && first != NULL)
			*first = loss;
	}
	hgq_trainer_sync(t);
	hgq_trainer_free(t);
	free(x);
	free(y);
	return loss;
}

/* every training tensor of a and b, bit for bit */
static void
same_tensors(const struct hgq_model *a, const struct hgq_model *b,
    const char *what)
{
	ck_assert_uint_eq(a->n_layers, b->n_layers);
	ck_assert_msg(a->train.step == b->train.step, "%s: steps", what);
	for (uint32_t j = 0; j < a->n_layers; j++) {
		const struct hgq_layer *la = &a->layers[j], *lb = &b->layers[j];

		ck_assert_uint_eq(la->n_tensors, lb->n_tensors);
		for (uint32_t k = 0; k < la->n_tensors; k++) {
			const struct hgq_tensor *ta = &la->tensors[k];
			const struct hgq_tensor *tb = hgq_layer_tensor(lb,
			    ta->role);

			ck_assert_ptr_nonnull(tb);
			ck_assert_msg(ta->n == tb->n && memcmp(ta->data,
			    tb->data, ta->n * sizeof(float)) == 0, "%s: "
			    "layer %u tensor 0x%x differs", what, j,
			    ta->role);
		}
	}
}

/* fx_graph with every quantizer's f trainable */
static struct hgq_model *
fx_graph_trainable(void)
{
	struct hgq_model *m = fx_graph();

	for (uint32_t j = 0; j < m->n_layers; j++)
		m->layers[j].trainable = m->layers[j].kind == HGQ_LAYER_QUANT;
	return m;
}

START_TEST(test_graph_train)
{
	struct hgq_config c;
	struct hgq_model *a = fx_graph_trainable();
	struct hgq_model *b = fx_graph_trainable(), *r;
	const struct hgq_tensor *w, *m1, *m2;
	double first, last;

	graph_config(&c, 2);
	c.train.optimizer = HGQ_OPT_ADAM;
	graph_init(a, &c, 3);
	graph_init(b, &c, 3);
	/* the loss falls */
	last = graph_steps(a, &c, 300, 0, &first);
	ck_assert_msg(last < 0.5 * first, "loss %g -> %g", first, last);
	ck_assert_uint_eq(a->train.step, 300);
	/* the masked weights (0 and 7 of layer 14) never moved from 0 */
	w = hgq_layer_tensor(&a->layers[14], HGQ_ROLE_WEIGHT);
	m1 = hgq_layer_tensor(&a->layers[14], HGQ_ROLE_WEIGHT | HGQ_ROLE_M1);
	m2 = hgq_layer_tensor(&a->layers[14], HGQ_ROLE_WEIGHT | HGQ_ROLE_M2);
	ck_assert(w->data[0] == 0.0f && w->data[7] == 0.0f);
	ck_assert(m1->data[0] == 0.0f && m1->data[7] == 0.0f);
	ck_assert(m2->data[0] == 0.0f && m2->data[7] == 0.0f);
	ck_assert(w->data[1] != 0.0f && w->data[6] != 0.0f);
	/* the f of the table's output quantizer learned, as any other */
	for (uint32_t e = 0; e < 3; e++)
		ck_assert(hgq_layer_tensor(&a->layers[11],
		    HGQ_ROLE_ACT_FBITS)->data[e] != 5.0f);
	/* the same seed, the same bits */
	(void)graph_steps(b, &c, 300, 0, NULL);
	same_tensors(a, b, "a second run");
	hgq_model_free(b);
	/* 120 steps, a copy, a new trainer, 180 more: the same */
	b = fx_graph_trainable();
	graph_init(b, &c, 3);
	(void)graph_steps(b, &c, 120, 0, NULL);
	r = hgq_model_copy(b);
	ck_assert_ptr_nonnull(r);
	hgq_model_free(b);
	(void)graph_steps(r, &c, 180, 120, NULL);
	same_tensors(a, r, "resumed");
	hgq_model_free(r);
	hgq_model_free(a);
}
END_TEST


/* set every float of role in layer l to v */
static void
fill_role(struct hgq_layer *l, uint32_t role, float v)
{
	struct hgq_tensor *ts = hgq_layer_tensor(l, role);

	ck_assert_ptr_nonnull(ts);
	for (uint32_t e = 0; e < ts->n; e++)
		ts->data[e] = v;
}

/* the step loss of fx_graph with q9's f at f9 (istate 3, kstate 1) */
static double
cap_loss(double f9)
{
	enum { B = 8 };
	struct hgq_config c;
	struct hgq_model *m = fx_graph();
	struct hgq_trainer *t;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_step_stats st;
	float x[B * 8], y[B * 5];

	graph_config(&c, 1);
	c.q_act.init_f = 12;	/* values on a grid finer than q9's */
	graph_init(m, &c, 2);
	fill_role(&m->layers[9], HGQ_ROLE_ACT_FBITS, (float)f9);
	fill_role(&m->layers[9], HGQ_ROLE_ACT_ISTATE, 3);
	fill_role(&m->layers[9], HGQ_ROLE_ACT_KSTATE, 1);
	graph_rows(x, y, B, 8, 5, 1);
	ck_assert_msg(hgq_trainer_new(&t, m, &c, 1, &err) == HGQ_OK, "%s",
	    err.msg);
	ck_assert(hgq_trainer_step(t, x, y, NULL, B, 0, 0, 0, NULL, &st,
	    &err) == HGQ_OK);
	hgq_trainer_free(t);
	hgq_model_free(m);
	return st.loss;
}

/*
 * A table's input keeps k + i + f within 12 bits: its f is capped at
 * 12 - k - ceil(i) of the tracked states, in training (the loss with f
 * 10 is the loss with f 8, not with 7) and in export (f 8 written); a
 * quantizer a table reads through a flatten's identity is capped, the
 * identity itself and the others are not.
 */
START_TEST(test_lut_cap)
{
	struct hgq_config c;
	struct hgq_model *m = fx_graph(), *k = hgq_model_new();
	struct hgq_err err = HGQ_ERR_INIT;

	ck_assert_int_eq(hgq_lut_fcap(I_UNSET, 0), INT_MAX);
	ck_assert_int_eq(hgq_lut_fcap(3.0f, 1.0f), 8);
	ck_assert_int_eq(hgq_lut_fcap(2.5f, 0.0f), 9);
	ck_assert_int_eq(hgq_lut_fcap(-1.0f, 0.3f), 12);
	for (uint32_t j = 0; j < m->n_layers; j++)
		ck_assert_int_eq(hgq_quant_feeds_lut(m, j), j == 9);
	ck_assert(cap_loss(10) == cap_loss(8));
	ck_assert(cap_loss(8) != cap_loss(7));
	graph_config(&c, 1);
	graph_init(m, &c, 2);
	fill_role(&m->layers[9], HGQ_ROLE_ACT_FBITS, 10);
	fill_role(&m->layers[9], HGQ_ROLE_ACT_ISTATE, 3);
	fill_role(&m->layers[9], HGQ_ROLE_ACT_KSTATE, 1);
	ck_assert_msg(hgq_train_export_fixed(m, &err) == HGQ_OK, "%s",
	    err.msg);
	for (uint32_t e = 0; e < 3; e++) {
		ck_assert_int_eq(m->layers[9].f[e], 8);
		ck_assert_int_eq(m->layers[7].f[e], 5);
	}
	hgq_model_free(m);
	/* q0 [3, 2] -> flatten -> q2 (identity) -> tanh -> q4 */
	ck_assert_ptr_nonnull(k);
	gadd(k, HGQ_LAYER_QUANT, D(3, 2), D(IN0));
	gadd(k, HGQ_LAYER_FLATTEN, D(6), D(0));
	gadd(k, HGQ_LAYER_QUANT, D(6), D(1))->trainable = 0;
	gadd(k, HGQ_LAYER_LUT, D(6), D(2))->func = HGQ_FUNC_TANH;
	gadd(k, HGQ_LAYER_QUANT, D(6), D(3));
	ck_assert(hgq_quant_feeds_lut(k, 0) && !hgq_quant_feeds_lut(k, 2) &&
	    !hgq_quant_feeds_lut(k, 4));
	hgq_model_free(k);
}
END_TEST

/*
 * The training EBOPs of a graph: every dense layer counts the bits of
 * its own input quantizer.  fx_graph with f = 2, i = 1, k = 0 (3 bits)
 * everywhere but input "b" (i = 2: 4 bits), weights 0.75 at f = 2
 * (mantissa 3: 2 bits) but the masked ones: 3 x 12 x 2 + 4 x 12 x 2 +
 * 3 x 10 x 2 = 228; add, subtract, concatenate and the table add 0.
 */
START_TEST(test_graph_train_ebops)
{
	struct hgq_config c;
	struct hgq_model *m = fx_graph();
	struct hgq_trainer *t;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_step_stats st;
	float x[2 * 8] = { 0 }, y[2 * 5] = { 0 };

	graph_config(&c, 1);
	graph_init(m, &c, 5);
	for (uint32_t j = 0; j < m->n_layers; j++) {
		struct hgq_layer *l = &m->layers[j];
		const struct hgq_tensor *mask = hgq_layer_tensor(l,
		    HGQ_ROLE_MASK);

		if (l->kind == HGQ_LAYER_QUANT) {
			fill_role(l, HGQ_ROLE_ACT_FBITS, 2);
			fill_role(l, HGQ_ROLE_ACT_ISTATE, j == 1 ? 2 : 1);
			fill_role(l, HGQ_ROLE_ACT_KSTATE, 0);
		} else if (l->kind == HGQ_LAYER_DENSE) {
			fill_role(l, HGQ_ROLE_WEIGHT, 0.75f);
			fill_role(l, HGQ_ROLE_WEIGHT_FBITS, 2);
			for (uint32_t e = 0; mask != NULL && e < mask->n; e++)
				if (mask->data[e] == 0)
					hgq_layer_tensor(l, HGQ_ROLE_WEIGHT)->
					    data[e] = 0;
		}
	}
	ck_assert_msg(hgq_trainer_new(&t, m, &c, 1, &err) == HGQ_OK, "%s",
	    err.msg);
	ck_assert(hgq_trainer_step(t, x, y, NULL, 2, 1e-5, 0, 0, NULL, &st,
	    &err) == HGQ_OK);
	ck_assert(st.ebops == 228.0);
	hgq_trainer_free(t);
	hgq_model_free(m);
}
END_TEST

/* bits from the most to the least significant 1 of |m| (0 for 0) */
static int
span_of(int64_t m)
{
	uint64_t a = m < 0 ? (uint64_t)(-m) : (uint64_t)m;
	int lo = 0, hi = 0;

	if (a == 0)
		return 0;
	while (((a >> lo) & 1) == 0)
		lo++;
	for (hi = lo; (a >> hi) > 1; hi++)
		;
	return hi - lo + 1;
}

/*
 * The exact fixed part of a trained graph (fx_graph, 100 steps): every
 * quantizer element gets k = 1 and i = 3 (2 for the table's input, which
 * must stay within 12 bits) in place of calibration; its exact EBOPs are
 * those of every dense layer's multiplications with its own input's
 * widths (every element is live: each reaches output "z"), the masked
 * weights' mantissas are 0.
 */
START_TEST(test_graph_export_ebops)
{
	struct hgq_config c;
	struct hgq_model *m = fx_graph();
	struct hgq_err err = HGQ_ERR_INIT;
	uint64_t want = 0;

	graph_config(&c, 2);
	graph_init(m, &c, 8);
	(void)graph_steps(m, &c, 100, 0, NULL);
	ck_assert_msg(hgq_train_export_fixed(m, &err) == HGQ_OK, "%s",
	    err.msg);
	for (uint32_t j = 0; j < m->n_layers; j++) {
		struct hgq_layer *l = &m->layers[j];

		for (uint32_t e = 0; l->kind == HGQ_LAYER_QUANT &&
		    e < l->n_out; e++) {
			ck_assert(l->k[e] == 0 && l->i[e] == 0);
			ck_assert(l->f[e] > -2 && l->f[e] < 9);
			l->k[e] = 1;
			l->i[e] = j == 9 ? 2 : 3;
		}
	}
	m->calibrated = 1;
	ck_assert_msg(hgq_model_validate(m, &err) == HGQ_OK, "%s", err.msg);
	ck_assert(m->layers[14].w_m[0] == 0 && m->layers[14].w_m[7] == 0);
	for (uint32_t j = 0; j < m->n_layers; j++) {
		const struct hgq_layer *d = &m->layers[j];
		const struct hgq_layer *q;

		if (d->kind != HGQ_LAYER_DENSE)
			continue;
		q = &m->layers[hgq_layer_input(m, j, 0)];
		for (uint32_t i = 0; i < d->n_in; i++)
			for (uint32_t o = 0; o < d->n_out; o++)
				want += (uint64_t)(1 + q->i[i] + q->f[i]) *
				    (uint64_t)span_of(d->w_m[(size_t)i *
				    d->n_out + o]);
	}
	ck_assert(want > 0);
	ck_assert_uint_eq(hgq_ebops_total(m), want);
	hgq_model_free(m);
}
END_TEST

/*
 * The trainer takes each input's elements from a data row through the
 * model's index map: fx_graph over 11 raw columns, its 8 elements from
 * columns 10, 0, 9, 3 (input "a") and 1, 8, 2, 7 (input "b"), has the
 * loss and gradient of fx_graph on the same values in identity order.
 */
START_TEST(test_graph_index_map)
{
	static const uint32_t map[8] = { 10, 0, 9, 3, 1, 8, 2, 7 };
	enum { B = 6 };
	struct hgq_config c;
	struct hgq_model *a = fx_graph(), *b = fx_graph();
	struct hgq_trainer *ta, *tb;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_step_stats sa, sb;
	float xa[B * 8], xb[B * 11], y[B * 5], *ga, *gb;

	graph_config(&c, 1);
	graph_init(a, &c, 4);
	graph_init(b, &c, 4);
	ck_assert(hgq_model_set_input(b, 11, &err) == HGQ_OK);
	memcpy(b->index_map, map, sizeof(map));
	graph_rows(xa, y, B, 8, 5, 3);
	for (size_t r = 0; r < B; r++) {
		for (uint32_t k = 0; k < 11; k++)
			xb[r * 11 + k] = -7.0f;
		for (uint32_t e = 0; e < 8; e++)
			xb[r * 11 + map[e]] = xa[r * 8 + e];
	}
	ck_assert(hgq_trainer_new(&ta, a, &c, 1, &err) == HGQ_OK);
	ck_assert(hgq_trainer_new(&tb, b, &c, 1, &err) == HGQ_OK);
	ga = calloc(hgq_trainer_n_params(ta), sizeof(float));
	gb = calloc(hgq_trainer_n_params(tb), sizeof(float));
	ck_assert(ga != NULL && gb != NULL);
	ck_assert(hgq_trainer_step(ta, xa, y, NULL, B, 1e-5, 0, 0, ga, &sa,
	    &err) == HGQ_OK);
	ck_assert(hgq_trainer_step(tb, xb, y, NULL, B, 1e-5, 0, 0, gb, &sb,
	    &err) == HGQ_OK);
	ck_assert(sa.loss == sb.loss && sa.ebops == sb.ebops);
	ck_assert(memcmp(ga, gb, hgq_trainer_n_params(ta) *
	    sizeof(float)) == 0);
	free(ga);
	free(gb);
	hgq_trainer_free(ta);
	hgq_trainer_free(tb);
	hgq_model_free(a);
	hgq_model_free(b);
}
END_TEST

/* models the trainer refuses on graphs, with their messages */
START_TEST(test_graph_refused)
{
	struct hgq_config c;
	struct hgq_model *m = fx_graph();
	struct hgq_trainer *t;
	struct hgq_err err = HGQ_ERR_INIT;

	graph_config(&c, 1);
	graph_init(m, &c, 1);
	c.train.loss = HGQ_LOSS_XENT;
	ck_assert(hgq_trainer_new(&t, m, &c, 1, &err) == HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "a classifier has one output (the model "
	    "has 2)");
	c.train.loss = HGQ_LOSS_MSE;
	hgq_layer_tensor(&m->layers[14], HGQ_ROLE_MASK)->n = 11;
	ck_assert(hgq_trainer_new(&t, m, &c, 1, &err) == HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "layer 14: the mask has 11 floats, "
	    "expected 12");
	hgq_layer_tensor(&m->layers[14], HGQ_ROLE_MASK)->n = 12;
	m->layers[6].inputs[1] = 6;	/* a layer reading itself */
	ck_assert(hgq_trainer_new(&t, m, &c, 1, &err) == HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "layer 6: input reference 6 is not an "
	    "earlier layer");
	hgq_model_free(m);
}
END_TEST

Suite *
train_suite(void)
{
	Suite *s = suite_create("train");
	TCase *tc = tcase_create("train");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_grad_fd_plain);
	tcase_add_test(tc, test_grad_fd_bn);
	tcase_add_test(tc, test_grad_fd_conv);
	tcase_add_test(tc, test_threads_same_gradient);
	tcase_add_test(tc, test_schedules);
	tcase_add_test(tc, test_pareto);
	tcase_add_test(tc, test_determinism_and_resume);
	tcase_add_test(tc, test_export_exact);
	tcase_add_test(tc, test_batchnorm_train);
	tcase_add_test(tc, test_granularities);
	tcase_add_test(tc, test_regression);
	tcase_add_test(tc, test_divergence);
	tcase_add_test(tc, test_data_errors);
	tcase_add_test(tc, test_train_data_mismatch);
	tcase_add_test(tc, test_fmnist_short);
	suite_add_tcase(s, tc);
	tc = tcase_create("graph");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_lut_kernels);
	tcase_add_test(tc, test_graph_forward);
	tcase_add_test(tc, test_graph_fd_kinds);
	tcase_add_test(tc, test_graph_fd_fixture);
	tcase_add_test(tc, test_graph_train);
	tcase_add_test(tc, test_lut_cap);
	tcase_add_test(tc, test_graph_train_ebops);
	tcase_add_test(tc, test_graph_export_ebops);
	tcase_add_test(tc, test_graph_index_map);
	tcase_add_test(tc, test_graph_refused);
	suite_add_tcase(s, tc);
	return s;
}
