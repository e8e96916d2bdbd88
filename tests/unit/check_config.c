/*
 * check_config.c - the YAML training config: the example, the defaults,
 * every class of error with its exact message and position, flow and
 * block styles, and the schedule interpolation.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define EXAMPLE	"../data/config-design.yaml"	/* DESIGN.md's */
#define FM	"/usr/share/datasets/fashion-mnist/"

/* write text to a new temporary file; path receives its name */
static void
cfg_write(const char *text, char *path, size_t size)
{
	size_t len = strlen(text);
	int fd;

	snprintf(path, size, "/tmp/check-config-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

/* load text as a config file; path receives the name used */
static int
cfg_load_text(struct hgq_config *c, const char *text, char *path,
    size_t size, struct hgq_err *err)
{
	int rc;

	cfg_write(text, path, size);
	rc = hgq_config_load(c, path, err);
	unlink(path);
	return rc;
}

static void
qconf_check(const struct hgq_qconf *q, double init_f, int gran,
    int trainable, int round, int overflow)
{
	ck_assert_double_eq(q->init_f, init_f);
	ck_assert_int_eq(q->gran, gran);
	ck_assert_int_eq(q->trainable, trainable);
	ck_assert_int_eq(q->round, round);
	ck_assert_int_eq(q->overflow, overflow);
}

/* everything but the data paths, output, layers, path and text */
static void
defaults_check(const struct hgq_config *c)
{
	ck_assert_uint_eq(c->seed, 42);
	ck_assert_double_eq(c->data.val_split, 0.1);
	ck_assert_int_eq(c->data.normalize, HGQ_NORM_NONE);
	ck_assert_double_eq(c->data.scale, 1.0);
	ck_assert_int_eq(c->data.label_col, -1);
	qconf_check(&c->model.input, 2, HGQ_GRAN_ELEMENT, 1, HGQ_RND,
	    HGQ_WRAP);
	qconf_check(&c->q_weight, 2, HGQ_GRAN_ELEMENT, 1, HGQ_RND, HGQ_WRAP);
	qconf_check(&c->q_bias, 2, HGQ_GRAN_ELEMENT, 1, HGQ_RND, HGQ_WRAP);
	qconf_check(&c->q_act, 2, HGQ_GRAN_ELEMENT, 1, HGQ_RND, HGQ_WRAP);
	ck_assert_uint_eq(c->train.epochs, 30);
	ck_assert_uint_eq(c->train.batch_size, 256);
	ck_assert_int_eq(c->train.loss, HGQ_LOSS_XENT);
	ck_assert_int_eq(c->train.optimizer, HGQ_OPT_ADAM);
	ck_assert_double_eq(c->train.lr, 0.003);
	ck_assert_double_eq(c->train.momentum, 0.9);
	ck_assert_double_eq(c->train.beta1, 0.9);
	ck_assert_double_eq(c->train.beta2, 0.999);
	ck_assert_double_eq(c->train.eps, 1e-7);
	ck_assert_int_eq(c->train.lr_sched, HGQ_LR_CONST);
	ck_assert_double_eq(c->train.lr_period, 10);
	ck_assert_double_eq(c->train.lr_decay, 1.0);
	ck_assert_double_eq(c->train.min_lr, 0);
	ck_assert_uint_eq(c->train.n_beta, 1);
	ck_assert_double_eq(c->train.beta[0].epoch, 0);
	ck_assert_double_eq(c->train.beta[0].value, 0);
	ck_assert_int_eq(c->train.beta[0].interp, HGQ_INTERP_CONST);
	ck_assert_double_eq(c->train.gamma, 0);
	ck_assert_uint_eq(c->train.threads, 0);
}

START_TEST(test_example)
{
	struct hgq_config c;
	struct hgq_err err = HGQ_ERR_INIT;
	const struct hgq_layer_conf *l = c.model.layers;

	ck_assert_int_eq(hgq_config_load(&c, EXAMPLE, &err), HGQ_OK);
	ck_assert_uint_eq(c.seed, 42);
	ck_assert_str_eq(c.data.train_x, FM "train-images-idx3-ubyte.gz");
	ck_assert_str_eq(c.data.train_y, FM "train-labels-idx1-ubyte.gz");
	ck_assert_str_eq(c.data.test_x, FM "t10k-images-idx3-ubyte.gz");
	ck_assert_str_eq(c.data.test_y, FM "t10k-labels-idx1-ubyte.gz");
	ck_assert_double_eq(c.data.val_split, 0.1);
	ck_assert_int_eq(c.data.normalize, HGQ_NORM_SCALE);
	ck_assert_double_eq(c.data.scale, 0.00390625);
	ck_assert_int_eq(c.data.label_col, -1);
	qconf_check(&c.model.input, 4, HGQ_GRAN_ELEMENT, 1, HGQ_RND,
	    HGQ_WRAP);
	ck_assert_uint_eq(c.model.n_layers, 3);
	ck_assert_uint_eq(l[0].kind, HGQ_LAYER_DENSE);
	ck_assert_uint_eq(l[0].units, 64);
	ck_assert_int_eq(l[0].act, HGQ_ACT_RELU);
	ck_assert_int_eq(l[0].bn, 0);
	ck_assert_uint_eq(l[1].kind, HGQ_LAYER_DENSE);
	ck_assert_uint_eq(l[1].units, 32);
	ck_assert_int_eq(l[1].act, HGQ_ACT_RELU);
	ck_assert_int_eq(l[1].bn, 0);
	ck_assert_uint_eq(l[2].kind, HGQ_LAYER_DENSE);
	ck_assert_uint_eq(l[2].units, 10);
	ck_assert_int_eq(l[2].act, HGQ_ACT_LINEAR);
	ck_assert_int_eq(l[2].bn, 0);
	qconf_check(&c.q_weight, 2, HGQ_GRAN_ELEMENT, 1, HGQ_RND, HGQ_WRAP);
	qconf_check(&c.q_bias, 2, HGQ_GRAN_ELEMENT, 1, HGQ_RND, HGQ_WRAP);
	qconf_check(&c.q_act, 2, HGQ_GRAN_ELEMENT, 1, HGQ_RND, HGQ_WRAP);
	ck_assert_uint_eq(c.train.epochs, 30);
	ck_assert_uint_eq(c.train.batch_size, 256);
	ck_assert_int_eq(c.train.loss, HGQ_LOSS_XENT);
	ck_assert_int_eq(c.train.optimizer, HGQ_OPT_ADAM);
	ck_assert_double_eq(c.train.lr, 0.003);
	ck_assert_int_eq(c.train.lr_sched, HGQ_LR_COSINE_RESTARTS);
	ck_assert_double_eq(c.train.lr_period, 10);
	ck_assert_double_eq(c.train.lr_decay, 0.98);
	ck_assert_double_eq(c.train.min_lr, 1e-6);
	ck_assert_uint_eq(c.train.n_beta, 2);
	ck_assert_double_eq(c.train.beta[0].epoch, 0);
	ck_assert_double_eq(c.train.beta[0].value, 1e-7);
	ck_assert_int_eq(c.train.beta[0].interp, HGQ_INTERP_LOG);
	ck_assert_double_eq(c.train.beta[1].epoch, 30);
	ck_assert_double_eq(c.train.beta[1].value, 1e-5);
	ck_assert_int_eq(c.train.beta[1].interp, HGQ_INTERP_CONST);
	ck_assert_double_eq(c.train.gamma, 2e-6);
	ck_assert_uint_eq(c.train.threads, 0);
	ck_assert_str_eq(c.output.pareto_dir, "runs/fmnist/pareto");
	ck_assert_str_eq(c.output.log, "runs/fmnist/train.tsv");
	ck_assert_str_eq(c.path, EXAMPLE);
	ck_assert_ptr_nonnull(c.text);
	ck_assert_ptr_nonnull(strstr(c.text, "\nseed: 42\n"));
	ck_assert_int_eq(c.text[strlen(c.text) - 1], '\n');
	ck_assert_int_eq(err.code, 0);
	hgq_config_release(&c);
	ck_assert_ptr_null(c.data.train_x);
	ck_assert_ptr_null(c.text);
	ck_assert_ptr_null(c.path);
	hgq_config_release(&c);		/* twice is fine */
}
END_TEST

/* the shipped examples load (their values are the trainer's recipes) */
START_TEST(test_shipped_examples)
{
	static const char *const paths[] = { "../../examples/fmnist.yaml",
	    "../../examples/fig3.yaml", "../../examples/jsc.yaml",
	    "../../examples/fmnist-cnn.yaml", "../../examples/muon.yaml",
	    "../../examples/deepsets.yaml" };
	struct hgq_config c;
	struct hgq_err err = HGQ_ERR_INIT;

	for (size_t k = 0; k < sizeof(paths) / sizeof(paths[0]); k++) {
		if (hgq_config_load(&c, paths[k], &err) != HGQ_OK)
			ck_abort_msg("%s", err.msg);
		ck_assert_uint_ge(c.model.n_layers, 1);
		hgq_config_release(&c);
	}
}
END_TEST

START_TEST(test_defaults)
{
	struct hgq_config c;
	struct hgq_err err = HGQ_ERR_INIT;
	char path[64];
	const char *text = "data: { train_x: x.npy }\n";

	hgq_config_init(&c);
	defaults_check(&c);
	ck_assert_ptr_null(c.data.train_x);
	ck_assert_ptr_null(c.output.log);
	ck_assert_uint_eq(c.model.n_layers, 0);

	ck_assert_int_eq(cfg_load_text(&c, text, path, sizeof(path), &err),
	    HGQ_OK);
	defaults_check(&c);
	ck_assert_str_eq(c.data.train_x, "x.npy");
	ck_assert_ptr_null(c.data.train_y);
	ck_assert_ptr_null(c.data.test_x);
	ck_assert_ptr_null(c.data.test_y);
	ck_assert_ptr_null(c.output.pareto_dir);
	ck_assert_ptr_null(c.output.log);
	ck_assert_uint_eq(c.model.n_layers, 0);
	ck_assert_str_eq(c.path, path);
	ck_assert_str_eq(c.text, text);
	hgq_config_release(&c);
}
END_TEST

/* keys the example leaves out, and the other enum values */
START_TEST(test_values)
{
	struct hgq_config c;
	struct hgq_err err = HGQ_ERR_INIT;
	char path[64];
	const char *text =
	    "seed: 18446744073709551615\n"
	    "data:\n"
	    "  train_x: \"t.csv\"\n"
	    "  label_col: 7\n"
	    "  normalize: standard\n"
	    "  scale: -2.5\n"
	    "  val_split: 0\n"
	    "model:\n"
	    "  input: { init_f: -24, granularity: layer, trainable: no,\n"
	    "           round: TRN, overflow: SAT_SYM }\n"
	    "  layers:\n"
	    "    - type: dense\n"
	    "      units: 65535\n"
	    "      activation: linear\n"
	    "      batchnorm: yes\n"
	    "quantizers:\n"
	    "  weight: { granularity: channel, trainable: false }\n"
	    "  activation: { overflow: SAT, init_f: 24 }\n"
	    "train:\n"
	    "  epochs: 10000000\n"
	    "  batch_size: 1\n"
	    "  loss: mse\n"
	    "  optimizer: { name: sgd, lr: 1e-2, momentum: 0, beta1: 0.5,\n"
	    "               beta2: 0.25, eps: 1.0e-8 }\n"
	    "  lr_schedule: { type: cosine, period: 2.5, decay: 1, "
	    "min_lr: 0 }\n"
	    "  beta: 3.0e-6\n"
	    "  gamma: 0\n"
	    "  threads: 256\n";

	ck_assert_int_eq(cfg_load_text(&c, text, path, sizeof(path), &err),
	    HGQ_OK);
	ck_assert_uint_eq(c.seed, UINT64_MAX);
	ck_assert_str_eq(c.data.train_x, "t.csv");
	ck_assert_int_eq(c.data.label_col, 7);
	ck_assert_int_eq(c.data.normalize, HGQ_NORM_STANDARD);
	ck_assert_double_eq(c.data.scale, -2.5);
	ck_assert_double_eq(c.data.val_split, 0);
	qconf_check(&c.model.input, -24, HGQ_GRAN_LAYER, 0, HGQ_TRN,
	    HGQ_SAT_SYM);
	ck_assert_uint_eq(c.model.n_layers, 1);
	ck_assert_uint_eq(c.model.layers[0].kind, HGQ_LAYER_DENSE);
	ck_assert_uint_eq(c.model.layers[0].units, 65535);
	ck_assert_int_eq(c.model.layers[0].act, HGQ_ACT_LINEAR);
	ck_assert_int_eq(c.model.layers[0].bn, 1);
	qconf_check(&c.q_weight, 2, HGQ_GRAN_CHANNEL, 0, HGQ_RND, HGQ_WRAP);
	qconf_check(&c.q_bias, 2, HGQ_GRAN_ELEMENT, 1, HGQ_RND, HGQ_WRAP);
	qconf_check(&c.q_act, 24, HGQ_GRAN_ELEMENT, 1, HGQ_RND, HGQ_SAT);
	ck_assert_uint_eq(c.train.epochs, 10000000);
	ck_assert_uint_eq(c.train.batch_size, 1);
	ck_assert_int_eq(c.train.loss, HGQ_LOSS_MSE);
	ck_assert_int_eq(c.train.optimizer, HGQ_OPT_SGD);
	ck_assert_double_eq(c.train.lr, 1e-2);
	ck_assert_double_eq(c.train.momentum, 0);
	ck_assert_double_eq(c.train.beta1, 0.5);
	ck_assert_double_eq(c.train.beta2, 0.25);
	ck_assert_double_eq(c.train.eps, 1e-8);
	ck_assert_int_eq(c.train.lr_sched, HGQ_LR_COSINE);
	ck_assert_double_eq(c.train.lr_period, 2.5);
	ck_assert_double_eq(c.train.lr_decay, 1);
	ck_assert_double_eq(c.train.min_lr, 0);
	/* a single number is a constant schedule */
	ck_assert_uint_eq(c.train.n_beta, 1);
	ck_assert_double_eq(c.train.beta[0].epoch, 0);
	ck_assert_double_eq(c.train.beta[0].value, 3e-6);
	ck_assert_int_eq(c.train.beta[0].interp, HGQ_INTERP_CONST);
	ck_assert_double_eq(c.train.gamma, 0);
	ck_assert_uint_eq(c.train.threads, 256);
	hgq_config_release(&c);
}
END_TEST

/* the same config in flow and in block style gives the same struct */
START_TEST(test_flow_block)
{
	static const char *const flow =
	    "{ seed: 7, data: { train_x: a, test_x: b, normalize: scale },\n"
	    "  model: { input: { init_f: 3 }, layers: [ { type: dense,\n"
	    "    units: 5, activation: relu, batchnorm: true },\n"
	    "    { type: dense, units: 2 } ] },\n"
	    "  quantizers: { bias: { init_f: 1, granularity: layer } },\n"
	    "  train: { epochs: 4, optimizer: { lr: 0.5 },\n"
	    "    beta: [ { epoch: 0, value: 1, interp: linear },\n"
	    "            { epoch: 2.5, value: 3 } ] },\n"
	    "  output: { log: l.tsv } }\n";
	static const char *const block =
	    "seed: 7\n"
	    "data:\n"
	    "  train_x: a\n"
	    "  test_x: b\n"
	    "  normalize: scale\n"
	    "model:\n"
	    "  input:\n"
	    "    init_f: 3\n"
	    "  layers:\n"
	    "  - type: dense\n"
	    "    units: 5\n"
	    "    activation: relu\n"
	    "    batchnorm: true\n"
	    "  - type: dense\n"
	    "    units: 2\n"
	    "quantizers:\n"
	    "  bias:\n"
	    "    init_f: 1\n"
	    "    granularity: layer\n"
	    "train:\n"
	    "  epochs: 4\n"
	    "  optimizer:\n"
	    "    lr: 0.5\n"
	    "  beta:\n"
	    "  - epoch: 0\n"
	    "    value: 1\n"
	    "    interp: linear\n"
	    "  - epoch: 2.5\n"
	    "    value: 3\n"
	    "output:\n"
	    "  log: l.tsv\n";
	struct hgq_config a, b;
	struct hgq_err err = HGQ_ERR_INIT;
	char path[64];

	ck_assert_int_eq(cfg_load_text(&a, flow, path, sizeof(path), &err),
	    HGQ_OK);
	ck_assert_int_eq(cfg_load_text(&b, block, path, sizeof(path), &err),
	    HGQ_OK);
	ck_assert_str_eq(a.data.train_x, "a");
	ck_assert_str_eq(b.data.train_x, "a");
	ck_assert_str_eq(a.data.test_x, "b");
	ck_assert_str_eq(b.data.test_x, "b");
	ck_assert_str_eq(a.output.log, "l.tsv");
	ck_assert_str_eq(b.output.log, "l.tsv");
	ck_assert_uint_eq(a.model.n_layers, 2);
	ck_assert_int_eq(a.model.layers[0].bn, 1);
	ck_assert_uint_eq(a.train.n_beta, 2);
	ck_assert_double_eq(a.train.beta[1].epoch, 2.5);
	ck_assert_int_eq(a.q_bias.gran, HGQ_GRAN_LAYER);
	/* release clears the pointers; everything else must be equal but
	   the positions of the layers, which differ by style */
	hgq_config_release(&a);
	hgq_config_release(&b);
	ck_assert_uint_eq(a.model.layers[1].line, 4);
	ck_assert_uint_eq(b.model.layers[1].line, 14);
	for (uint32_t k = 0; k < a.model.n_layers; k++) {
		a.model.layers[k].line = a.model.layers[k].col = 0;
		b.model.layers[k].line = b.model.layers[k].col = 0;
	}
	ck_assert_mem_eq(&a, &b, sizeof(a));
}
END_TEST

/* the layer types of convolutional networks, normalized */
START_TEST(test_conv_layers)
{
	static const char *const text =
	    "data: {train_x: a, input_shape: [32, 32, 3]}\n"
	    "model:\n"
	    "  layers:\n"
	    "  - {type: conv2d, filters: 8, kernel: 3, stride: 1, "
	    "padding: valid, activation: relu, batchnorm: false}\n"
	    "  - {type: maxpool2d, pool: 2}\n"
	    "  - {type: conv2d, filters: 4, kernel: [3, 1], stride: [2, 1], "
	    "padding: same}\n"
	    "  - {type: avgpool2d, pool: [2, 4], stride: 1}\n"
	    "  - {type: conv1d, filters: 2, kernel: 5, stride: 2}\n"
	    "  - {type: maxpool1d, pool: 3}\n"
	    "  - {type: avgpool1d, pool: 4, stride: 2}\n"
	    "  - {type: flatten}\n"
	    "  - {type: dense, units: 10}\n";
	struct hgq_config c;
	struct hgq_err err = HGQ_ERR_INIT;
	const struct hgq_layer_conf *l = c.model.layers;
	char path[64];

	ck_assert_int_eq(cfg_load_text(&c, text, path, sizeof(path), &err),
	    HGQ_OK);
	ck_assert_uint_eq(c.data.input_shape.n, 3);
	ck_assert_uint_eq(c.data.input_shape.v[0], 32);
	ck_assert_uint_eq(c.data.input_shape.v[2], 3);
	ck_assert_uint_eq(c.data.input_shape.line, 1);
	ck_assert_uint_eq(c.data.input_shape.col, 33);
	ck_assert_uint_eq(c.model.n_layers, 9);
	ck_assert_uint_eq(l[0].kind, HGQ_LAYER_CONV2D);
	ck_assert_uint_eq(l[0].ndim, 2);
	ck_assert_uint_eq(l[0].filters, 8);
	ck_assert_uint_eq(l[0].kernel[0], 3);
	ck_assert_uint_eq(l[0].kernel[1], 3);
	ck_assert_uint_eq(l[0].stride[0], 1);
	ck_assert_uint_eq(l[0].stride[1], 1);
	ck_assert_int_eq(l[0].padding, HGQ_PAD_VALID);
	ck_assert_int_eq(l[0].act, HGQ_ACT_RELU);
	ck_assert_uint_eq(l[0].line, 4);
	ck_assert_uint_eq(l[0].col, 5);
	ck_assert_uint_eq(l[1].kind, HGQ_LAYER_MAXPOOL);
	ck_assert_uint_eq(l[1].pool[0], 2);
	ck_assert_uint_eq(l[1].pool[1], 2);
	ck_assert_uint_eq(l[1].stride[0], 2);	/* defaults to pool */
	ck_assert_uint_eq(l[1].stride[1], 2);
	ck_assert_uint_eq(l[2].kernel[0], 3);
	ck_assert_uint_eq(l[2].kernel[1], 1);
	ck_assert_uint_eq(l[2].stride[0], 2);
	ck_assert_uint_eq(l[2].stride[1], 1);
	ck_assert_int_eq(l[2].padding, HGQ_PAD_SAME);
	ck_assert_uint_eq(l[3].kind, HGQ_LAYER_AVGPOOL);
	ck_assert_uint_eq(l[3].pool[0], 2);
	ck_assert_uint_eq(l[3].pool[1], 4);
	ck_assert_uint_eq(l[3].stride[0], 1);
	ck_assert_uint_eq(l[4].kind, HGQ_LAYER_CONV1D);
	ck_assert_uint_eq(l[4].ndim, 1);
	ck_assert_uint_eq(l[4].kernel[0], 1);	/* [1, K] */
	ck_assert_uint_eq(l[4].kernel[1], 5);
	ck_assert_uint_eq(l[4].stride[0], 1);
	ck_assert_uint_eq(l[4].stride[1], 2);
	ck_assert_uint_eq(l[5].kind, HGQ_LAYER_MAXPOOL);
	ck_assert_uint_eq(l[5].ndim, 1);
	ck_assert_uint_eq(l[5].pool[0], 1);
	ck_assert_uint_eq(l[5].pool[1], 3);
	ck_assert_uint_eq(l[5].stride[1], 3);
	ck_assert_uint_eq(l[6].kind, HGQ_LAYER_AVGPOOL);
	ck_assert_uint_eq(l[6].stride[1], 2);
	ck_assert_uint_eq(l[7].kind, HGQ_LAYER_FLATTEN);
	ck_assert_uint_eq(l[8].kind, HGQ_LAYER_DENSE);
	ck_assert_uint_eq(l[8].units, 10);
	hgq_config_release(&c);
}
END_TEST

/*
 * Errors: the text of a file and the message after "PATH:".  D is a
 * valid first line, so the case can focus on one key.
 */
#define D	"data: {train_x: a}\n"

static const struct {
	const char	*text;
	int		 code;
	const char	*msg;
} bad[] = {
	/* unknown keys, at every level */
	{ D "train:\n  epochs: 3\n  treshold: 1\n", HGQ_EINVAL,
	  "4:3: unknown key 'treshold' in train" },
	{ D "tain: {}\n", HGQ_EINVAL, "2:1: unknown key 'tain' at top level" },
	{ D "train: {optimizer: {name: adam, lrr: 1}}\n", HGQ_EINVAL,
	  "2:33: unknown key 'lrr' in train.optimizer" },
	{ D "model:\n  layers:\n  - {type: dense, units: 2, act: relu}\n",
	  HGQ_EINVAL, "4:29: unknown key 'act' in model.layers[0]" },
	{ D "train: {beta: [{epoch: 0, value: 1}, {epoch: 1, valu: 2}]}\n",
	  HGQ_EINVAL, "2:49: unknown key 'valu' in train.beta[1]" },
	/* duplicates */
	{ D "train: {epochs: 3, epochs: 4}\n", HGQ_EINVAL,
	  "2:20: duplicate key 'epochs' in train" },
	{ D "seed: 1\nseed: 2\n", HGQ_EINVAL,
	  "3:1: duplicate key 'seed' at top level" },
	/* missing keys */
	{ "seed: 1\n", HGQ_EINVAL,
	  "1:1: missing required key 'data' at top level" },
	{ "data: {train_y: b}\n", HGQ_EINVAL,
	  "1:7: missing required key 'train_x' in data" },
	{ D "model:\n  layers:\n    - {type: dense}\n", HGQ_EINVAL,
	  "4:7: missing required key 'units' in model.layers[0]" },
	{ D "model:\n  layers:\n    - units: 3\n", HGQ_EINVAL,
	  "4:7: missing required key 'type' in model.layers[0]" },
	{ D "train: {beta: [{value: 1}]}\n", HGQ_EINVAL,
	  "2:16: missing required key 'epoch' in train.beta[0]" },
	/* wrong types */
	{ D "train:\n  epochs: ten\n", HGQ_EINVAL,
	  "3:11: expected a number for 'epochs', got 'ten'" },
	{ D "train:\n  epochs: 2.5\n", HGQ_EINVAL,
	  "3:11: expected an integer for 'epochs', got '2.5'" },
	{ D "train:\n  epochs: 1e3\n", HGQ_EINVAL,
	  "3:11: expected an integer for 'epochs', got '1e3'" },
	{ D "train: {epochs: {a: 1}}\n", HGQ_EINVAL,
	  "2:17: expected an integer for 'epochs', got a mapping" },
	{ "data: [a, b]\n", HGQ_EINVAL,
	  "1:7: expected a mapping for 'data', got a sequence" },
	{ "data:\n", HGQ_EINVAL,
	  "1:6: expected a mapping for 'data', got an empty value" },
	{ D "train: {lr: 0.1}\n", HGQ_EINVAL,
	  "2:9: unknown key 'lr' in train" },
	{ D "train: {optimizer: {lr: 0.1x}}\n", HGQ_EINVAL,
	  "2:25: expected a number for 'lr', got '0.1x'" },
	{ D "train: {optimizer: {lr: ' 0.1'}}\n", HGQ_EINVAL,
	  "2:25: expected a number for 'lr', got ' 0.1'" },
	{ D "train: {optimizer: {lr: inf}}\n", HGQ_EINVAL,
	  "2:25: expected a finite number for 'lr', got 'inf'" },
	{ D "train: {optimizer: {lr: nan}}\n", HGQ_EINVAL,
	  "2:25: expected a finite number for 'lr', got 'nan'" },
	{ D "train: {optimizer: {lr: [1]}}\n", HGQ_EINVAL,
	  "2:25: expected a number for 'lr', got a sequence" },
	{ D "train: {optimizer: {lr: \"1\\0\"}}\n", HGQ_EINVAL,
	  "2:25: NUL byte in the value of 'lr'" },
	{ D "output: {log: [a]}\n", HGQ_EINVAL,
	  "2:15: expected a string for 'log', got a sequence" },
	{ D "output: {log: ~}\n", HGQ_EINVAL,
	  "2:15: expected a string for 'log', got '~'" },
	{ "data: {train_x: }\n", HGQ_EINVAL,
	  "1:17: expected a string for 'train_x', got an empty value" },
	{ D "data2: 1\n", HGQ_EINVAL,
	  "2:1: unknown key 'data2' at top level" },
	{ D "quantizers: {weight: {trainable: maybe}}\n", HGQ_EINVAL,
	  "2:34: expected true or false for 'trainable', got 'maybe'" },
	{ D "quantizers: {bias: {granularity: row}}\n", HGQ_EINVAL,
	  "2:34: expected one of element|channel|layer for 'granularity', "
	  "got 'row'" },
	{ D "quantizers: {activation: {round: rnd}}\n", HGQ_EINVAL,
	  "2:34: expected one of RND|TRN for 'round', got 'rnd'" },
	{ D "quantizers: {activation: {overflow: CLIP}}\n", HGQ_EINVAL,
	  "2:37: expected one of WRAP|SAT|SAT_SYM for 'overflow', got 'CLIP'" },
	{ "data: {train_x: a, normalize: scaled}\n", HGQ_EINVAL,
	  "1:31: expected one of none|scale|standard for 'normalize', "
	  "got 'scaled'" },
	{ D "train: {loss: hinge}\n", HGQ_EINVAL,
	  "2:15: expected one of cross_entropy|mse for 'loss', got 'hinge'" },
	{ D "train: {optimizer: {name: rmsprop}}\n", HGQ_EINVAL,
	  "2:27: expected one of adam|sgd for 'name', got 'rmsprop'" },
	{ D "train: {lr_schedule: {type: step}}\n", HGQ_EINVAL,
	  "2:29: expected one of constant|cosine|cosine_restarts for 'type', "
	  "got 'step'" },
	{ D "train: {beta: {epoch: 0}}\n", HGQ_EINVAL,
	  "2:15: expected a number or a sequence for 'beta', got a mapping" },
	{ D "train: {beta: [{epoch: 0, value: 1, interp: cubic}]}\n",
	  HGQ_EINVAL, "2:45: expected one of constant|linear|log for "
	  "'interp', got 'cubic'" },
	{ D "model: {layers: [3]}\n", HGQ_EINVAL,
	  "2:18: expected a mapping for 'layers[0]', got '3'" },
	{ D "model: {layers: {type: dense}}\n", HGQ_EINVAL,
	  "2:17: expected a sequence for 'layers', got a mapping" },
	{ D "model:\n  layers:\n    - {type: conv3d, units: 3}\n",
	  HGQ_EINVAL, "4:14: expected one of dense|conv1d|conv2d|maxpool1d|"
	  "maxpool2d|avgpool1d|avgpool2d|flatten|add|subtract|concatenate|lut|"
	  "global_maxpool|global_avgpool for 'type', got 'conv3d'" },
	/* the keys of each layer type (a contract) */
	{ D "model:\n  layers:\n    - {type: conv2d, units: 3}\n",
	  HGQ_EINVAL, "4:22: key 'units' does not apply to a conv2d layer in "
	  "model.layers[0]" },
	{ D "model:\n  layers:\n    - {type: conv2d, kernel: 3}\n",
	  HGQ_EINVAL, "4:7: missing required key 'filters' in "
	  "model.layers[0]" },
	{ D "model:\n  layers:\n    - {type: conv1d, filters: 3}\n",
	  HGQ_EINVAL, "4:7: missing required key 'kernel' in "
	  "model.layers[0]" },
	{ D "model:\n  layers:\n    - {type: conv1d, filters: 3, "
	  "kernel: [3, 3]}\n", HGQ_EINVAL, "4:42: expected one integer for "
	  "'kernel' of a conv1d layer, got 2" },
	{ D "model:\n  layers:\n    - {type: conv2d, filters: 3, "
	  "kernel: [3, 3, 3]}\n", HGQ_EINVAL, "4:42: expected 1 to 2 "
	  "integers in 'kernel', got 3" },
	{ D "model:\n  layers:\n    - {type: conv2d, filters: 3, "
	  "kernel: 0}\n", HGQ_EINVAL, "4:42: kernel: 0 out of range "
	  "[1, 65535]" },
	{ D "model:\n  layers:\n    - {type: conv2d, filters: 3, "
	  "kernel: [3, x]}\n", HGQ_EINVAL, "4:46: expected a number for "
	  "'kernel', got 'x'" },
	{ D "model:\n  layers:\n    - {type: conv2d, filters: 3, "
	  "kernel: 3, padding: full}\n", HGQ_EINVAL, "4:54: expected one of "
	  "valid|same for 'padding', got 'full'" },
	{ D "model:\n  layers:\n    - {type: maxpool2d}\n", HGQ_EINVAL,
	  "4:7: missing required key 'pool' in model.layers[0]" },
	{ D "model:\n  layers:\n    - {type: maxpool2d, pool: 2, "
	  "activation: relu}\n", HGQ_EINVAL, "4:34: key 'activation' does "
	  "not apply to a maxpool2d layer in model.layers[0]" },
	{ D "model:\n  layers:\n    - {type: avgpool2d, pool: 3}\n",
	  HGQ_EINVAL, "4:31: avgpool2d: pool area 3x3 = 9 is not a power of "
	  "two (average pooling divides by an exact shift)" },
	{ D "model:\n  layers:\n    - {type: avgpool1d, pool: 6}\n",
	  HGQ_EINVAL, "4:31: avgpool1d: pool area 1x6 = 6 is not a power of "
	  "two (average pooling divides by an exact shift)" },
	{ D "model:\n  layers:\n    - {type: flatten, units: 3}\n",
	  HGQ_EINVAL, "4:23: key 'units' does not apply to a flatten layer "
	  "in model.layers[0]" },
	{ "data: {train_x: a, input_shape: [28, 28, 1, 1]}\n", HGQ_EINVAL,
	  "1:33: expected 1 to 3 integers in 'input_shape', got 4" },
	{ "data: {train_x: a, input_shape: [28, 0]}\n", HGQ_EINVAL,
	  "1:38: input_shape: 0 out of range [1, 16777216]" },
	{ D "model: {layers: [{type: [dense], units: 3}]}\n", HGQ_EINVAL,
	  "2:25: expected a layer type for 'type', got a sequence" },
	{ D "seed: -1\n", HGQ_EINVAL,
	  "2:7: expected a non-negative integer for 'seed', got '-1'" },
	{ D "seed: 4.5\n", HGQ_EINVAL,
	  "2:7: expected a non-negative integer for 'seed', got '4.5'" },
	{ D "seed: 12ab\n", HGQ_EINVAL,
	  "2:7: expected a number for 'seed', got '12ab'" },
	{ D "? [a]\n: 1\n", HGQ_EINVAL,
	  "2:3: expected a key at top level, got a sequence" },
	{ "- a\n", HGQ_EINVAL,
	  "1:1: expected a mapping at top level, got a sequence" },
	{ "", HGQ_EINVAL,
	  "1:1: expected a mapping at top level, got an empty document" },
	{ "# only a comment\n", HGQ_EINVAL,
	  "1:1: expected a mapping at top level, got an empty document" },
	{ D "---\nseed: 1\n", HGQ_EINVAL, "3:1: more than one YAML document" },
	/* out of range */
	{ "data:\n  train_x: a\n  val_split: 1.5\n", HGQ_EINVAL,
	  "3:14: val_split: 1.5 out of range [0, 1)" },
	{ "data: {train_x: a, val_split: 1}\n", HGQ_EINVAL,
	  "1:31: val_split: 1 out of range [0, 1)" },
	{ "data: {train_x: a, val_split: -0.01}\n", HGQ_EINVAL,
	  "1:31: val_split: -0.01 out of range [0, 1)" },
	{ "data: {train_x: a, scale: 0.0}\n", HGQ_EINVAL,
	  "1:27: scale: 0.0 must be non-zero" },
	{ "data: {train_x: a, label_col: -2}\n", HGQ_EINVAL,
	  "1:31: label_col: -2 out of range [-1, 2147483647]" },
	{ "data: {train_x: a, label_col: 99999999999999999999}\n",
	  HGQ_EINVAL, "1:31: label_col: 99999999999999999999 out of range "
	  "[-1, 2147483647]" },
	{ D "seed: 18446744073709551616\n", HGQ_EINVAL,
	  "2:7: seed: 18446744073709551616 out of range "
	  "[0, 18446744073709551615]" },
	{ D "model: {input: {init_f: 24.5}}\n", HGQ_EINVAL,
	  "2:25: init_f: 24.5 out of range [-24, 24]" },
	{ D "model: {layers: [{type: dense, units: 0}]}\n", HGQ_EINVAL,
	  "2:39: units: 0 out of range [1, 65535]" },
	{ D "model: {layers: [{type: dense, units: 65536}]}\n", HGQ_EINVAL,
	  "2:39: units: 65536 out of range [1, 65535]" },
	{ D "model: {layers: []}\n", HGQ_EINVAL,
	  "2:17: expected 1 to 64 items in 'layers', got 0" },
	{ D "train: {epochs: 0}\n", HGQ_EINVAL,
	  "2:17: epochs: 0 out of range [1, 10000000]" },
	{ D "train: {batch_size: 10000001}\n", HGQ_EINVAL,
	  "2:21: batch_size: 10000001 out of range [1, 10000000]" },
	{ D "train: {threads: 257}\n", HGQ_EINVAL,
	  "2:18: threads: 257 out of range [0, 256]" },
	{ D "train: {threads: -1}\n", HGQ_EINVAL,
	  "2:18: threads: -1 out of range [0, 256]" },
	{ D "train: {gamma: -1e-9}\n", HGQ_EINVAL,
	  "2:16: gamma: -1e-9 must be >= 0" },
	{ D "train: {optimizer: {lr: 0}}\n", HGQ_EINVAL,
	  "2:25: lr: 0 must be > 0" },
	{ D "train: {optimizer: {eps: -1}}\n", HGQ_EINVAL,
	  "2:26: eps: -1 must be > 0" },
	{ D "train: {optimizer: {momentum: 1}}\n", HGQ_EINVAL,
	  "2:31: momentum: 1 out of range [0, 1)" },
	{ D "train: {optimizer: {beta1: 1.0}}\n", HGQ_EINVAL,
	  "2:28: beta1: 1.0 out of range [0, 1)" },
	{ D "train: {optimizer: {beta2: -0.5}}\n", HGQ_EINVAL,
	  "2:28: beta2: -0.5 out of range [0, 1)" },
	{ D "train: {lr_schedule: {period: 0}}\n", HGQ_EINVAL,
	  "2:31: period: 0 must be > 0" },
	{ D "train: {lr_schedule: {decay: 0}}\n", HGQ_EINVAL,
	  "2:30: decay: 0 out of range (0, 1]" },
	{ D "train: {lr_schedule: {decay: 1.01}}\n", HGQ_EINVAL,
	  "2:30: decay: 1.01 out of range (0, 1]" },
	{ D "train: {lr_schedule: {min_lr: -1}}\n", HGQ_EINVAL,
	  "2:31: min_lr: -1 must be >= 0" },
	{ D "train: {beta: -1}\n", HGQ_EINVAL, "2:15: beta: -1 must be >= 0" },
	{ D "train: {beta: []}\n", HGQ_EINVAL,
	  "2:15: expected 1 to 64 items in 'beta', got 0" },
	{ D "train: {beta: [{epoch: -1, value: 1}]}\n", HGQ_EINVAL,
	  "2:24: epoch: -1 must be >= 0" },
	{ D "train: {beta: [{epoch: 5, value: 1}, {epoch: 5, value: 2}]}\n",
	  HGQ_EINVAL, "2:46: epochs of 'beta' must increase: 5 after 5" },
	{ D "train: {beta: [{epoch: 0, value: 0, interp: log},\n"
	  "  {epoch: 10, value: 1}]}\n", HGQ_EINVAL,
	  "2:34: log interpolation in 'beta' needs values > 0, got 0" },
	{ D "train: {beta: [{epoch: 0, value: 1, interp: log},\n"
	  "  {epoch: 10, value: 0}]}\n", HGQ_EINVAL,
	  "3:22: log interpolation in 'beta' needs values > 0, got 0" },
	/* graphs (issue 13): names, references, counts, outputs */
	{ D "model:\n  layers:\n    - {type: dense, units: 2, name: 1a}\n",
	  HGQ_EINVAL, "4:37: expected a name of 1 to 32 letters, digits and "
	  "'_' (not a digit first) for 'name', got '1a'" },
	{ D "model:\n  layers:\n    - {type: dense, units: 2, name: "
	  "abcdefghijabcdefghijabcdefghijabc}\n", HGQ_EINVAL, "4:37: "
	  "expected a name of 1 to 32 letters, digits and '_' (not a digit "
	  "first) for 'name', got 'abcdefghijabcdefghijabcdefghijabc'" },
	{ D "model:\n  layers:\n    - {type: dense, units: 2, name: a}\n"
	  "    - {type: dense, units: 2, name: a}\n", HGQ_EINVAL,
	  "5:37: duplicate name 'a': model.layers[0] has it" },
	{ D "model:\n  inputs: [{name: a, shape: 4}]\n  layers:\n"
	  "    - {type: dense, units: 2, name: a}\n", HGQ_EINVAL,
	  "5:37: name 'a' of model.layers[0] is the name of a model input" },
	{ D "model:\n  inputs: [{name: a, shape: 4}, {name: a, shape: 4}]\n"
	  "  layers:\n    - {type: dense, units: 2}\n", HGQ_EINVAL,
	  "3:40: duplicate input name 'a' in model.inputs" },
	{ D "model:\n  inputs: [{name: a, shape: [4096, 4096, 2]}]\n"
	  "  layers:\n    - {type: dense, units: 2}\n", HGQ_EINVAL,
	  "3:29: shape of more than 16777216 elements" },
	{ D "model:\n  inputs: [{name: a}]\n  layers:\n"
	  "    - {type: dense, units: 2}\n", HGQ_EINVAL,
	  "3:12: missing required key 'shape' in model.inputs[0]" },
	{ D "model:\n  inputs: [{name: a, shape: [1, 2, 3, 4]}]\n"
	  "  layers:\n    - {type: dense, units: 2}\n", HGQ_EINVAL,
	  "3:29: expected 1 to 3 integers in 'shape', got 4" },
	{ D "model:\n  layers:\n    - {type: dense, units: 2}\n"
	  "    - {type: dense, units: 2, inputs: [b]}\n", HGQ_EINVAL,
	  "5:40: unknown name 'b' in the inputs of model.layers[1]" },
	{ D "model:\n  layers:\n    - {type: dense, units: 2, inputs: [c]}\n"
	  "    - {type: dense, units: 2, name: c}\n", HGQ_EINVAL,
	  "4:40: 'c' is model.layers[1], a later item (an item reads "
	  "earlier items and model inputs)" },
	{ D "model:\n  layers:\n    - {type: dense, units: 2, name: c, "
	  "inputs: c}\n", HGQ_EINVAL,
	  "4:48: model.layers[0] cannot read itself ('c')" },
	{ D "model:\n  layers:\n    - {type: dense, units: 2, name: a}\n"
	  "    - {type: dense, units: 2, inputs: [a, a]}\n", HGQ_EINVAL,
	  "5:39: a dense layer takes 1 input, got 2" },
	{ D "model:\n  layers:\n    - {type: dense, units: 2, name: a}\n"
	  "    - {type: add}\n", HGQ_EINVAL,
	  "5:7: an add layer takes 2 to 8 inputs, got 1" },
	{ D "model:\n  layers:\n    - {type: dense, units: 2, name: a}\n"
	  "    - {type: subtract, inputs: [a, a, a]}\n", HGQ_EINVAL,
	  "5:32: a subtract layer takes 2 inputs, got 3" },
	{ D "model:\n  layers:\n    - {type: dense, units: 2, name: a}\n"
	  "    - {type: concatenate, inputs: [a, a, a, a, a, a, a, a, a]}\n",
	  HGQ_EINVAL, "5:35: expected 1 to 8 names in 'inputs', got 9" },
	{ D "model:\n  layers:\n    - {type: dense, units: 2, inputs: []}\n",
	  HGQ_EINVAL, "4:39: expected 1 to 8 names in 'inputs', got 0" },
	{ D "model:\n  layers:\n    - {type: dense, units: 2, inputs: "
	  "[{a: 1}]}\n", HGQ_EINVAL,
	  "4:40: expected a name for 'inputs', got a mapping" },
	{ D "model:\n  layers:\n    - {type: dense, units: 2, name: a}\n"
	  "    - {type: dense, units: 2, inputs: a}\n"
	  "    - {type: dense, units: 2, inputs: a}\n", HGQ_EINVAL,
	  "5:7: the output of model.layers[1] is not used (name it in "
	  "model.outputs or in the inputs of a later item)" },
	{ D "model:\n  inputs: [{name: a, shape: 4}, {name: b, shape: 2}]\n"
	  "  layers:\n    - {type: dense, units: 2}\n", HGQ_EINVAL,
	  "3:33: model input 'b' is not used" },
	{ D "model:\n  layers:\n    - {type: dense, units: 2, name: a}\n"
	  "  outputs: [b]\n", HGQ_EINVAL,
	  "5:13: unknown name 'b' in model.outputs" },
	{ D "model:\n  inputs: [{name: i, shape: 4}]\n  layers:\n"
	  "    - {type: dense, units: 2, name: a}\n  outputs: [a, i]\n",
	  HGQ_EINVAL, "6:16: 'i' is a model input (model.outputs names "
	  "items)" },
	{ D "model:\n  layers:\n    - {type: dense, units: 2, name: a}\n"
	  "  outputs: [a, a]\n", HGQ_EINVAL,
	  "5:16: 'a' appears twice in model.outputs" },
	{ D "model:\n  layers:\n    - {type: dense, units: 2, name: a}\n"
	  "    - {type: dense, units: 2, name: b, inputs: a}\n"
	  "  outputs: [a, b]\n", HGQ_EINVAL,
	  "6:12: cross_entropy needs one output, model.outputs names 2 "
	  "(regression: train.loss: mse)" },
	{ "data: {train_x: a, input_shape: 4}\nmodel:\n  inputs: [{name: i, "
	  "shape: 4}]\n  layers:\n    - {type: dense, units: 2}\n",
	  HGQ_EINVAL, "1:33: data.input_shape does not apply with "
	  "model.inputs (each input has its shape)" },
	{ D "model:\n  layers:\n    - {type: lut}\n", HGQ_EINVAL,
	  "4:7: missing required key 'function' in model.layers[0]" },
	{ D "model:\n  layers:\n    - {type: lut, function: cosh}\n",
	  HGQ_EINVAL, "4:29: expected one of tanh|sigmoid|softplus|silu|exp "
	  "for 'function', got 'cosh'" },
	{ D "model:\n  layers:\n    - {type: add, function: tanh}\n",
	  HGQ_EINVAL, "4:19: key 'function' does not apply to an add layer "
	  "in model.layers[0]" },
	{ D "model:\n  layers:\n    - {type: concatenate, axis: 3}\n",
	  HGQ_EINVAL, "4:33: axis: 3 out of range [-3, 2]" },
	{ D "model:\n  layers:\n    - {type: global_avgpool, pool: 2}\n",
	  HGQ_EINVAL, "4:30: key 'pool' does not apply to a global_avgpool "
	  "layer in model.layers[0]" },
	{ D "model:\n  layers:\n    - {type: maxpool2d, pool: 2, mask: "
	  "m.npy}\n", HGQ_EINVAL, "4:34: key 'mask' does not apply to a "
	  "maxpool2d layer in model.layers[0]" },
	{ D "model:\n  layers:\n    - {type: dense, units: 2, mask: "
	  "{band: -1}}\n", HGQ_EINVAL, "4:44: band: -1 out of range "
	  "[0, 65535]" },
	{ D "model:\n  layers:\n    - {type: dense, units: 2, mask: "
	  "{bnd: 1}}\n", HGQ_EINVAL, "4:38: unknown key 'bnd' in "
	  "model.layers[0].mask" },
	{ D "model:\n  layers:\n    - {type: dense, units: 2, mask: "
	  "[1]}\n", HGQ_EINVAL, "4:37: expected '{ band: B }' or the path "
	  "of an npy file for 'mask', got a sequence" },
	/* YAML syntax */
	{ "data: {train_x: a\n", HGQ_EFORMAT,
	  "2:1: did not find expected ',' or '}' while parsing a flow "
	  "mapping" },
	{ "data:\n\ttrain_x: a\n", HGQ_EFORMAT,
	  "2:1: found character that cannot start any token while "
	  "scanning for the next token" },
	{ "data: *x\n", HGQ_EFORMAT, "1:7: found undefined alias" },
	{ "data: {train_x: \xff}\n", HGQ_EFORMAT,
	  "1:17: invalid leading UTF-8 octet" },
	{ "a: 1\n b: 2\n", HGQ_EFORMAT,
	  "2:3: mapping values are not allowed in this context" },
};

START_TEST(test_errors)
{
	struct hgq_config c;
	struct hgq_err err = HGQ_ERR_INIT;
	char path[64], want[512];

	ck_assert_int_eq(cfg_load_text(&c, bad[_i].text, path, sizeof(path),
	    &err), bad[_i].code);
	ck_assert_int_eq(err.code, bad[_i].code);
	snprintf(want, sizeof(want), "%s:%s", path, bad[_i].msg);
	ck_assert_str_eq(err.msg, want);
	/* a failed load leaves the defaults and owns nothing */
	defaults_check(&c);
	ck_assert_ptr_null(c.text);
	ck_assert_ptr_null(c.path);
	ck_assert_ptr_null(c.data.train_x);
	ck_assert_uint_eq(c.model.n_layers, 0);
}
END_TEST

/*
 * Graphs built from configs (issue 13): the examples give valid models
 * with the layers, references, ports and masks their items describe.
 */

/* data of n_raw columns and a row shape, without rows */
static void
graph_data(struct hgq_train_data *d, uint32_t n_raw, uint32_t rank,
    const uint32_t *shape, int task)
{
	memset(d, 0, sizeof(*d));
	d->n_raw = n_raw;
	d->in_rank = rank;
	memcpy(d->in_shape, shape, rank * sizeof(*shape));
	d->task = task;
}

static void
layer_is(const struct hgq_model *m, uint32_t j, uint32_t kind,
    uint32_t n_inputs, const uint32_t *inputs, uint32_t n_out)
{
	const struct hgq_layer *l = &m->layers[j];

	ck_assert_msg(l->kind == kind, "layer %u: kind %u, want %u", j,
	    l->kind, kind);
	ck_assert_uint_eq(hgq_layer_n_inputs(l), n_inputs);
	for (uint32_t q = 0; q < n_inputs; q++)
		ck_assert_uint_eq(hgq_layer_input(m, j, q), inputs[q]);
	ck_assert_uint_eq(l->n_out, n_out);
}

/* write m, read it back, write again: the same bytes */
static void
roundtrip(const struct hgq_model *m)
{
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *back;
	char *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;
	FILE *f;

	ck_assert_ptr_nonnull(f = open_memstream(&a, &na));
	ck_assert_msg(hgq_model_write(f, m, 0, &err) == HGQ_OK, "%s",
	    err.msg);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_ptr_nonnull(f = fmemopen(a, na, "rb"));
	ck_assert_msg(hgq_model_read(f, &back, &err) == HGQ_OK, "%s",
	    err.msg);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_ptr_nonnull(f = open_memstream(&b, &nb));
	ck_assert_int_eq(hgq_model_write(f, back, 0, &err), HGQ_OK);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_uint_eq(na, nb);
	ck_assert_mem_eq(a, b, na);
	ck_assert_uint_eq(back->n_in_ports, m->n_in_ports);
	ck_assert_uint_eq(back->n_out_ports, m->n_out_ports);
	hgq_model_free(back);
	free(a);
	free(b);
}

START_TEST(test_muon_example)
{
	static const uint32_t flat[1] = { 350 };
	struct hgq_config c;
	struct hgq_train_data d;
	struct hgq_err err = HGQ_ERR_INIT;
	const struct hgq_layer_conf *l = c.model.layers;
	const struct hgq_tensor *mask, *w;
	struct hgq_model *m;
	uint32_t ones = 0;

	ck_assert_msg(hgq_config_load(&c, "../../examples/muon.yaml", &err) ==
	    HGQ_OK, "%s", err.msg);
	ck_assert_uint_eq(c.model.n_inputs, 3);
	ck_assert_str_eq(c.model.inputs[1].name, "s2");
	ck_assert_uint_eq(c.model.inputs[0].shape.n, 2);
	ck_assert_uint_eq(c.model.inputs[0].shape.v[0], 50);
	ck_assert_uint_eq(c.model.inputs[0].shape.v[1], 3);
	ck_assert_uint_eq(c.model.n_layers, 19);
	ck_assert_uint_eq(c.model.n_outputs, 1);
	ck_assert_uint_eq(c.model.outputs[0], 18);
	ck_assert_str_eq(l[3].name, "c2");
	ck_assert_uint_eq(l[3].n_refs, 1);
	ck_assert_uint_eq(l[3].refs[0], HGQ_REF_INPUT | 1);
	ck_assert_uint_eq(l[4].refs[0], 3);		/* the item before */
	ck_assert_uint_eq(l[2].kind, HGQ_LAYER_LUT);
	ck_assert_uint_eq(l[2].func, HGQ_FUNC_TANH);
	ck_assert_uint_eq(l[10].kind, HGQ_LAYER_ADD);
	ck_assert_uint_eq(l[10].n_refs, 2);
	ck_assert_uint_eq(l[10].refs[0], 9);
	ck_assert_uint_eq(l[10].refs[1], 5);
	ck_assert_int_eq(l[9].mask, HGQ_MASK_BAND);
	ck_assert_uint_eq(l[9].band, 2);
	ck_assert_int_eq(l[9].no_bias, 1);

	graph_data(&d, 350, 1, flat, HGQ_TASK_REGRESS);
	ck_assert_msg(hgq_train_model_new(&m, &c, &d, &err) == HGQ_OK, "%s",
	    err.msg);
	ck_assert_msg(hgq_model_validate(m, &err) == HGQ_OK, "%s", err.msg);
	/* three input quantizers, then two layers per item */
	ck_assert_uint_eq(m->n_layers, 3 + 2 * 19);
	ck_assert_uint_eq(m->n_in_ports, 3);
	ck_assert_str_eq(m->in_ports[2].name, "s3");
	ck_assert_uint_eq(m->in_ports[2].layer, 2);
	ck_assert_uint_eq(m->n_out_ports, 1);
	ck_assert_str_eq(m->out_ports[0].name, "theta");
	ck_assert_uint_eq(m->out_ports[0].layer, 40);
	ck_assert_uint_eq(hgq_model_n_in(m), 350);
	ck_assert_uint_eq(m->n_raw, 350);
	ck_assert_uint_eq(hgq_model_n_out(m), 1);
	layer_is(m, 1, HGQ_LAYER_QUANT, 1, (uint32_t[]){ HGQ_REF_INPUT | 1 },
	    100);
	layer_is(m, 9, HGQ_LAYER_CONV1D, 1, (uint32_t[]){ 1 }, 50);
	ck_assert_uint_eq(m->layers[9].kernel[1], 3);
	ck_assert_uint_eq(m->layers[9].padding, HGQ_PAD_SAME);
	layer_is(m, 7, HGQ_LAYER_LUT, 1, (uint32_t[]){ 6 }, 50);
	ck_assert_uint_eq(m->layers[7].func, HGQ_FUNC_TANH);
	layer_is(m, 21, HGQ_LAYER_DENSE, 1, (uint32_t[]){ 8 }, 50);
	layer_is(m, 23, HGQ_LAYER_ADD, 2, (uint32_t[]){ 22, 14 }, 50);
	layer_is(m, 39, HGQ_LAYER_DENSE, 1, (uint32_t[]){ 38 }, 1);
	/* the band mask: |i - j| <= 2 of 50 x 50, masked weights 0 */
	mask = hgq_layer_tensor(&m->layers[21], HGQ_ROLE_MASK);
	w = hgq_layer_tensor(&m->layers[21], HGQ_ROLE_WEIGHT);
	ck_assert_ptr_nonnull(mask);
	ck_assert_uint_eq(mask->n, 2500);
	for (uint32_t e = 0; e < mask->n; e++) {
		uint32_t i = e / 50, j = e % 50;

		ck_assert(mask->data[e] == ((i > j ? i - j : j - i) <= 2));
		if (mask->data[e] == 0)
			ck_assert(w->data[e] == 0);
		ones += mask->data[e] == 1;
	}
	ck_assert_uint_eq(ones, 244);
	ck_assert_ptr_null(hgq_layer_tensor(&m->layers[39], HGQ_ROLE_MASK));
	ck_assert_int_eq(hgq_model_is_chain(m), 0);
	/* a file of format 1.2 that reads back to the same bytes */
	ck_assert_uint_eq(hgq_model_format_minor(m), 2);
	roundtrip(m);
	hgq_model_free(m);
	hgq_config_release(&c);
}
END_TEST

START_TEST(test_deepsets_example)
{
	static const uint32_t rows[2] = { 16, 3 };
	struct hgq_config c;
	struct hgq_train_data d;
	struct hgq_err err = HGQ_ERR_INIT;
	struct hgq_model *m;
	uint32_t dims[HGQ_MAX_RANK];

	ck_assert_msg(hgq_config_load(&c, "../../examples/deepsets.yaml",
	    &err) == HGQ_OK, "%s", err.msg);
	ck_assert_uint_eq(c.model.n_layers, 5);
	ck_assert_uint_eq(c.model.layers[2].kind, HGQ_LAYER_AVGPOOL);
	ck_assert_uint_eq(c.model.layers[2].ndim, 0);
	graph_data(&d, 48, 2, rows, HGQ_TASK_CLASSIFY);
	ck_assert_msg(hgq_train_model_new(&m, &c, &d, &err) == HGQ_OK, "%s",
	    err.msg);
	ck_assert_msg(hgq_model_validate(m, &err) == HGQ_OK, "%s", err.msg);
	ck_assert_uint_eq(m->n_layers, 13);
	/* per-particle dense: a 1x1 conv1d on [16, 3] giving [16, 16] */
	layer_is(m, 1, HGQ_LAYER_CONV1D, 1, (uint32_t[]){ 0 }, 256);
	ck_assert_uint_eq(m->layers[1].kernel[0], 1);
	ck_assert_uint_eq(m->layers[1].kernel[1], 1);
	ck_assert_uint_eq(m->layers[1].stride[1], 1);
	ck_assert_uint_eq(hgq_layer_n_weights(m, 1), 48);
	ck_assert_int_eq(m->layers[1].act, HGQ_ACT_RELU);
	/* global average pooling: the 16 rows, then flatten */
	layer_is(m, 5, HGQ_LAYER_AVGPOOL, 1, (uint32_t[]){ 4 }, 16);
	ck_assert_uint_eq(m->layers[5].kernel[1], 16);
	ck_assert_uint_eq(m->layers[5].stride[1], 16);
	ck_assert_uint_eq(hgq_layer_shape(&m->layers[6], dims), 2);
	ck_assert_uint_eq(dims[0], 1);
	ck_assert_uint_eq(dims[1], 16);
	layer_is(m, 7, HGQ_LAYER_FLATTEN, 1, (uint32_t[]){ 6 }, 16);
	ck_assert_int_eq(m->layers[8].trainable, 0);
	layer_is(m, 11, HGQ_LAYER_DENSE, 1, (uint32_t[]){ 10 }, 5);
	ck_assert_int_eq(hgq_model_is_chain(m), 1);
	ck_assert_uint_eq(m->n_in_ports, 0);
	ck_assert_uint_eq(m->n_out_ports, 0);
	ck_assert_uint_eq(hgq_model_format_minor(m), 1);
	roundtrip(m);
	hgq_model_free(m);
	hgq_config_release(&c);
}
END_TEST

/* build text as a model on n_raw flat columns: rc, err */
static int
graph_build(const char *text, uint32_t n_raw, struct hgq_err *err,
    char *path, size_t size)
{
	struct hgq_config c;
	struct hgq_train_data d;
	struct hgq_model *m = NULL;
	int rc;

	cfg_write(text, path, size);
	rc = hgq_config_load(&c, path, err);
	if (rc == HGQ_OK) {
		graph_data(&d, n_raw, 1, &n_raw, c.train.loss ==
		    HGQ_LOSS_MSE ? HGQ_TASK_REGRESS : HGQ_TASK_CLASSIFY);
		rc = hgq_train_model_new(&m, &c, &d, err);
		if (rc == HGQ_OK)
			ck_assert_msg(hgq_model_validate(m, err) == HGQ_OK,
			    "%s", err->msg);
		hgq_model_free(m);
	}
	hgq_config_release(&c);
	unlink(path);
	return rc;
}

#define G	"data: {train_x: a}\ntrain: {loss: mse}\nmodel:\n" \
		"  inputs: [{name: a, shape: [4, 2]}, {name: b, shape: [3]}]\n" \
		"  layers:\n"

/* shapes that do not fit and masks that do not apply, at the item */
static const struct {
	const char	*text;
	const char	*msg;
} bad_graph[] = {
	{ G "  - {name: x, type: dense, units: 65535}\n"
	  "  - {name: y, type: concatenate, axis: 0, inputs: [x, x, x, x, x, "
	  "x, x, x]}\n  - {name: w, type: dense, units: 1, inputs: [b]}\n"
	  "  - {name: z, type: concatenate, axis: 0, inputs: [y, y, y, y, y, "
	  "y, y, y]}\n  - {name: v, type: concatenate, axis: 0, inputs: "
	  "[z, x]}\n  outputs: [w, v]\n",
	  "10:5: model.layers[4]: output shape [260, 65535] has more than "
	  "16777216 elements" },
	{ G "  - {name: x, type: flatten}\n"
	  "  - {type: add, inputs: [x, b]}\n",
	  "7:5: model.layers[1]: input 1 has shape [3], input 0 has [8] "
	  "(add needs equal shapes)" },
	{ G "  - {name: x, type: flatten}\n"
	  "  - {type: subtract, inputs: [b, x]}\n",
	  "7:5: model.layers[1]: input 1 has shape [8], input 0 has [3] "
	  "(subtract needs equal shapes)" },
	{ G "  - {name: x, type: dense, units: 3}\n"
	  "  - {type: concatenate, inputs: [x, b], axis: 0}\n",
	  "7:5: model.layers[1]: input 1 has shape [3], input 0 has "
	  "[4, 3] (concatenate on axis 0 needs equal other dimensions)" },
	{ G "  - {name: x, type: flatten}\n"
	  "  - {type: concatenate, inputs: [x, b], axis: -2}\n",
	  "7:5: model.layers[1]: axis -2 outside the 1 axes of its inputs "
	  "(-1..0)" },
	{ G "  - {name: p, type: global_maxpool, inputs: [b]}\n"
	  "  - {name: q, type: add, inputs: [a, a]}\n  outputs: [p, q]\n",
	  "6:5: model.layers[0]: global pooling needs an input of rank 2 "
	  "([W, C]) or 3 ([H, W, C]), got shape [3]" },
	{ G "  - {name: p, type: dense, units: 3, inputs: [b], mask: "
	  "{band: 1}}\n  - {name: q, type: add, inputs: [a, a]}\n"
	  "  outputs: [p, q]\n", NULL },
	{ G "  - {name: p, type: dense, units: 5, inputs: [b], mask: "
	  "{band: 1}}\n  - {name: q, type: add, inputs: [a, a]}\n"
	  "  outputs: [p, q]\n",
	  "6:5: model.layers[0]: mask band: the weights are [3, 5], not "
	  "square (use an npy mask)" },
	{ G "  - {name: p, type: dense, units: 3, inputs: [b], mask: "
	  "/nonexistent.npy}\n  - {name: q, type: add, inputs: [a, a]}\n"
	  "  outputs: [p, q]\n",
	  "6:5: model.layers[0]: mask: /nonexistent.npy: cannot open: No "
	  "such file or directory" },
};

START_TEST(test_graph_errors)
{
	struct hgq_err err = HGQ_ERR_INIT;
	char path[64], want[512];
	int rc;

	rc = graph_build(bad_graph[_i].text, 11, &err, path, sizeof(path));
	if (bad_graph[_i].msg == NULL) {
		ck_assert_msg(rc == HGQ_OK, "%s", err.msg);
		return;
	}
	ck_assert_int_eq(rc, HGQ_EINVAL);
	snprintf(want, sizeof(want), "%s:%s", path, bad_graph[_i].msg);
	ck_assert_str_eq(err.msg, want);
}
END_TEST

/* the Keras functional model of hgq(7), as its config there */
START_TEST(test_man_example)
{
	static const char *const text = "data: {train_x: a}\n"
	    "model:\n"
	    "  inputs:\n"
	    "    - { name: parts, shape: [16, 3] }\n"
	    "    - { name: event, shape: [8] }\n"
	    "  layers:\n"
	    "    - { type: dense, units: 16, activation: relu, "
	    "inputs: [parts] }\n"
	    "    - { type: dense, units: 16, activation: relu }\n"
	    "    - { name: x, type: global_avgpool }\n"
	    "    - { name: y, type: dense, units: 16, activation: relu,\n"
	    "        inputs: [event] }\n"
	    "    - { type: add, inputs: [x, y] }\n"
	    "    - { name: t, type: lut, function: tanh }\n"
	    "    - { type: concatenate, inputs: [t, event] }\n"
	    "    - { name: logits, type: dense, units: 5 }\n"
	    "  outputs: [logits]\n";
	struct hgq_err err = HGQ_ERR_INIT;
	char path[64];

	ck_assert_msg(graph_build(text, 56, &err, path, sizeof(path)) ==
	    HGQ_OK, "%s", err.msg);
}
END_TEST

/* masks from npy files: the shape and the values are checked */
START_TEST(test_mask_file)
{
	static const double good[6] = { 1, 0, 1, 0, 1, 1 };
	static const double half[6] = { 1, 0, 0.5, 0, 1, 1 };
	char mpath[64], cpath[64], text[512], want[512];
	struct hgq_err err = HGQ_ERR_INIT;
	FILE *f;
	int fd;

	snprintf(mpath, sizeof(mpath), "/tmp/check-mask-XXXXXX");
	ck_assert_int_ge(fd = mkstemp(mpath), 0);
	ck_assert_ptr_nonnull(f = fdopen(fd, "wb"));
	ck_assert_int_eq(hgq_npy_write_f64(f, good, 3, 2, &err), HGQ_OK);
	ck_assert_int_eq(fclose(f), 0);
	snprintf(text, sizeof(text), "data: {train_x: a}\nmodel:\n"
	    "  layers:\n  - {type: dense, units: 2, mask: '%s'}\n", mpath);
	ck_assert_msg(graph_build(text, 3, &err, cpath, sizeof(cpath)) ==
	    HGQ_OK, "%s", err.msg);
	ck_assert_int_eq(graph_build(text, 2, &err, cpath, sizeof(cpath)),
	    HGQ_EINVAL);
	snprintf(want, sizeof(want), "%s:4:5: model.layers[0]: mask '%s' is "
	    "[3, 2], the weights are [2, 2]", cpath, mpath);
	ck_assert_str_eq(err.msg, want);
	ck_assert_ptr_nonnull(f = fopen(mpath, "wb"));
	ck_assert_int_eq(hgq_npy_write_f64(f, half, 3, 2, &err), HGQ_OK);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(graph_build(text, 3, &err, cpath, sizeof(cpath)),
	    HGQ_EINVAL);
	snprintf(want, sizeof(want), "%s:4:5: model.layers[0]: mask '%s': "
	    "row 1 column 0 is 0.5, not 0 or 1", cpath, mpath);
	ck_assert_str_eq(err.msg, want);
	unlink(mpath);
}
END_TEST

/* one data file for several inputs: its columns are theirs, in order */
START_TEST(test_graph_data)
{
	static const double x[2 * 11] = { 0 };
	static const double y[2 * 11] = { 0 };
	char xpath[64], ypath[64], cpath[64], text[512], want[512];
	struct hgq_config c;
	struct hgq_train_data d;
	struct hgq_err err = HGQ_ERR_INIT;
	FILE *f;
	int fd;

	snprintf(xpath, sizeof(xpath), "/tmp/check-gx-XXXXXX");
	snprintf(ypath, sizeof(ypath), "/tmp/check-gy-XXXXXX");
	ck_assert_int_ge(fd = mkstemp(xpath), 0);
	ck_assert_ptr_nonnull(f = fdopen(fd, "wb"));
	ck_assert_int_eq(hgq_npy_write_f64(f, x, 2, 11, &err), HGQ_OK);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_ge(fd = mkstemp(ypath), 0);
	ck_assert_ptr_nonnull(f = fdopen(fd, "wb"));
	ck_assert_int_eq(hgq_npy_write_f64(f, y, 2, 11, &err), HGQ_OK);
	ck_assert_int_eq(fclose(f), 0);
	/* 8 + 3 columns; the outputs: [4, 3] and [3], 15 targets */
	snprintf(text, sizeof(text), "data: {train_x: '%s', train_y: '%s', "
	    "val_split: 0.5}\ntrain: {loss: mse}\nmodel:\n"
	    "  inputs: [{name: a, shape: [4, 2]}, {name: b, shape: [3]}]\n"
	    "  layers:\n  - {name: x, type: dense, units: 3}\n"
	    "  - {name: z, type: dense, units: 3, inputs: [b]}\n"
	    "  outputs: [x, z]\n", xpath, ypath);
	cfg_write(text, cpath, sizeof(cpath));
	ck_assert_msg(hgq_config_load(&c, cpath, &err) == HGQ_OK, "%s",
	    err.msg);
	ck_assert_int_eq(hgq_train_data_load(&d, &c, 0, &err), HGQ_EINVAL);
	snprintf(want, sizeof(want), "%s: data.train_y: 11 target columns, "
	    "but the model has 15 outputs", cpath);
	ck_assert_str_eq(err.msg, want);
	hgq_config_release(&c);
	/* the same without z: 12 outputs against 11 columns of x */
	snprintf(text, sizeof(text), "data: {train_x: '%s', train_y: '%s', "
	    "val_split: 0.5}\ntrain: {loss: mse}\nmodel:\n"
	    "  inputs: [{name: a, shape: [4, 2]}, {name: b, shape: [4]}]\n"
	    "  layers:\n  - {name: x, type: dense, units: 3}\n"
	    "  - {name: z, type: dense, units: 3, inputs: [b]}\n"
	    "  outputs: [x, z]\n", xpath, ypath);
	cfg_write(text, cpath, sizeof(cpath));
	ck_assert_msg(hgq_config_load(&c, cpath, &err) == HGQ_OK, "%s",
	    err.msg);
	ck_assert_int_eq(hgq_train_data_load(&d, &c, 0, &err), HGQ_EINVAL);
	snprintf(want, sizeof(want), "%s: data.train_x: '%s' has 11 columns, "
	    "but model.inputs take 12", cpath, xpath);
	ck_assert_str_eq(err.msg, want);
	hgq_config_release(&c);
	unlink(cpath);
	unlink(xpath);
	unlink(ypath);
}
END_TEST

START_TEST(test_too_many)
{
	struct hgq_config c;
	struct hgq_err err = HGQ_ERR_INIT;
	char path[64], want[256], *text;
	size_t len = 0, size = 64 * 1024;

	text = malloc(size);
	ck_assert_ptr_nonnull(text);
	len += (size_t)snprintf(text + len, size - len, D "model:\n"
	    "  layers:\n");
	for (int j = 0; j < HGQ_MAX_CONF_LAYERS; j++)
		len += (size_t)snprintf(text + len, size - len,
		    "  - {type: dense, units: %d}\n", j + 1);
	ck_assert_int_eq(cfg_load_text(&c, text, path, sizeof(path), &err),
	    HGQ_OK);
	ck_assert_uint_eq(c.model.n_layers, HGQ_MAX_CONF_LAYERS);
	ck_assert_uint_eq(c.model.layers[HGQ_MAX_CONF_LAYERS - 1].units,
	    HGQ_MAX_CONF_LAYERS);
	hgq_config_release(&c);

	snprintf(text + len, size - len, "  - {type: dense, units: 1}\n");
	ck_assert_int_eq(cfg_load_text(&c, text, path, sizeof(path), &err),
	    HGQ_EINVAL);
	snprintf(want, sizeof(want), "%s:4:3: expected 1 to 64 items in "
	    "'layers', got 65", path);
	ck_assert_str_eq(err.msg, want);
	free(text);
}
END_TEST

START_TEST(test_io)
{
	struct hgq_config c;
	struct hgq_err err = HGQ_ERR_INIT;

	ck_assert_int_eq(hgq_config_load(&c, "/nonexistent/c.yaml", &err),
	    HGQ_EIO);
	ck_assert_str_eq(err.msg, "cannot open '/nonexistent/c.yaml': "
	    "No such file or directory");
	ck_assert_int_eq(hgq_config_load(&c, "/", &err), HGQ_EIO);
	ck_assert_str_eq(err.msg, "cannot read '/': Is a directory");
	ck_assert_ptr_null(c.text);
	ck_assert_int_eq(hgq_config_load(&c, "/nonexistent", NULL), HGQ_EIO);
}
END_TEST

/* "-" reads stdin (this test runs in its own process) */
START_TEST(test_stdin)
{
	struct hgq_config c;
	struct hgq_err err = HGQ_ERR_INIT;
	char path[64];

	cfg_write(D "train: {epochs: 7}\n", path, sizeof(path));
	ck_assert_ptr_nonnull(freopen(path, "r", stdin));
	unlink(path);
	ck_assert_int_eq(hgq_config_load(&c, "-", &err), HGQ_OK);
	ck_assert_uint_eq(c.train.epochs, 7);
	ck_assert_str_eq(c.path, "-");
	hgq_config_release(&c);

	cfg_write(D "train: {epochs: x}\n", path, sizeof(path));
	ck_assert_ptr_nonnull(freopen(path, "r", stdin));
	unlink(path);
	ck_assert_int_eq(hgq_config_load(&c, "-", &err), HGQ_EINVAL);
	ck_assert_str_eq(err.msg, "-:2:17: expected a number for 'epochs', "
	    "got 'x'");
}
END_TEST

START_TEST(test_long_value)
{
	struct hgq_config c;
	struct hgq_err err = HGQ_ERR_INIT;
	char path[64], want[256];

	/* long values are cut, control characters hidden */
	ck_assert_int_eq(cfg_load_text(&c, D "train: {loss: \"0123456789"
	    "0123456789012345678901234567890123456789\"}\n", path,
	    sizeof(path), &err), HGQ_EINVAL);
	snprintf(want, sizeof(want), "%s:2:15: expected one of "
	    "cross_entropy|mse for 'loss', got '012345678901234567890123456"
	    "7890123456789...'", path);
	ck_assert_str_eq(err.msg, want);
	ck_assert_int_eq(cfg_load_text(&c, D "train: {loss: \"a\\tb\\nc\"}\n",
	    path, sizeof(path), &err), HGQ_EINVAL);
	snprintf(want, sizeof(want), "%s:2:15: expected one of "
	    "cross_entropy|mse for 'loss', got 'a?b?c'", path);
	ck_assert_str_eq(err.msg, want);
}
END_TEST

/*
 * deep nesting is refused where it gets too deep, fast: libyaml alone
 * takes time quadratic in the depth (hours for a 16 MiB file of '[')
 */
START_TEST(test_deep)
{
	struct hgq_config c;
	struct hgq_err err = HGQ_ERR_INIT;
	size_t depth = 200000;
	char *text = malloc(depth * 2 + 16), path[64], want[128];

	ck_assert_ptr_nonnull(text);
	strcpy(text, "seed: ");
	memset(text + 6, '[', depth);
	memset(text + 6 + depth, ']', depth);
	strcpy(text + 6 + 2 * depth, "\n");
	ck_assert_int_eq(cfg_load_text(&c, text, path, sizeof(path), &err),
	    HGQ_EFORMAT);
	snprintf(want, sizeof(want), "%s:1:38: nested deeper than 32 levels",
	    path);
	ck_assert_str_eq(err.msg, want);
	/* 32 levels are fine for the parser (the schema has 4) */
	strcpy(text, "seed: ");
	memset(text + 6, '[', 31);
	memset(text + 37, ']', 31);
	strcpy(text + 68, "\n");
	ck_assert_int_eq(cfg_load_text(&c, text, path, sizeof(path), &err),
	    HGQ_EINVAL);
	snprintf(want, sizeof(want), "%s:1:7: expected an integer for "
	    "'seed', got a sequence", path);
	ck_assert_str_eq(err.msg, want);
	free(text);
}
END_TEST

START_TEST(test_sched)
{
	static const struct hgq_sched_point p[] = {
		{ 0, 1, HGQ_INTERP_CONST },
		{ 10, 2, HGQ_INTERP_LINEAR },
		{ 20, 4, HGQ_INTERP_LOG },
		{ 30, 16, HGQ_INTERP_CONST },
	};
	static const struct hgq_sched_point ramp[] = {
		{ 0, 1e-7, HGQ_INTERP_LOG },
		{ 30, 1e-5, HGQ_INTERP_CONST },
	};
	static const struct hgq_sched_point one = { 5, 0.25,
	    HGQ_INTERP_LINEAR };

	ck_assert_double_eq(hgq_sched_value(p, 0, 3), 0);
	ck_assert_double_eq(hgq_sched_value(&one, 1, -1), 0.25);
	ck_assert_double_eq(hgq_sched_value(&one, 1, 5), 0.25);
	ck_assert_double_eq(hgq_sched_value(&one, 1, 50), 0.25);

	/* before the first point, and on it */
	ck_assert_double_eq(hgq_sched_value(p, 4, -3), 1);
	ck_assert_double_eq(hgq_sched_value(p, 4, 0), 1);
	/* constant segment */
	ck_assert_double_eq(hgq_sched_value(p, 4, 5), 1);
	ck_assert_double_eq(hgq_sched_value(p, 4, 9.999), 1);
	/* linear segment */
	ck_assert_double_eq(hgq_sched_value(p, 4, 10), 2);
	ck_assert_double_eq(hgq_sched_value(p, 4, 12.5), 2.5);
	ck_assert_double_eq(hgq_sched_value(p, 4, 15), 3);
	/* log segment: geometric between 4 and 16 */
	ck_assert_double_eq(hgq_sched_value(p, 4, 20), 4);
	ck_assert_double_eq_tol(hgq_sched_value(p, 4, 25), 8, 1e-12);
	ck_assert_double_eq_tol(hgq_sched_value(p, 4, 22.5), sqrt(32),
	    1e-12);
	/* at and after the last point */
	ck_assert_double_eq(hgq_sched_value(p, 4, 30), 16);
	ck_assert_double_eq(hgq_sched_value(p, 4, 1e9), 16);
	ck_assert_double_eq(hgq_sched_value(p, 4, NAN), 1);

	/* the example's beta ramp */
	ck_assert_double_eq(hgq_sched_value(ramp, 2, 0), 1e-7);
	ck_assert_double_eq_tol(hgq_sched_value(ramp, 2, 15), 1e-6, 1e-18);
	ck_assert_double_eq_tol(hgq_sched_value(ramp, 2, 7.5), 1e-6 /
	    sqrt(10), 1e-18);
	ck_assert_double_eq(hgq_sched_value(ramp, 2, 30), 1e-5);
	ck_assert_double_eq(hgq_sched_value(ramp, 2, 31), 1e-5);
}
END_TEST

Suite	*config_suite(void);

Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_test(tc, test_example);
	tcase_add_test(tc, test_shipped_examples);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_flow_block);
	tcase_add_test(tc, test_conv_layers);
	tcase_add_loop_test(tc, test_errors, 0,
	    (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, test_muon_example);
	tcase_add_test(tc, test_deepsets_example);
	tcase_add_loop_test(tc, test_graph_errors, 0,
	    sizeof(bad_graph) / sizeof(bad_graph[0]));
	tcase_add_test(tc, test_man_example);
	tcase_add_test(tc, test_mask_file);
	tcase_add_test(tc, test_graph_data);
	tcase_add_test(tc, test_too_many);
	tcase_add_test(tc, test_io);
	tcase_add_test(tc, test_stdin);
	tcase_add_test(tc, test_long_value);
	tcase_add_test(tc, test_deep);
	tcase_add_test(tc, test_sched);
	suite_add_tcase(s, tc);
	return s;
}
