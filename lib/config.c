/*
 * config.c - the YAML training config (DESIGN.md "Training config").
 *
 * The whole file is read into memory (it is kept in c->text as model
 * metadata), loaded into a libyaml document - a tree of nodes, each with
 * its position - and walked with a declarative schema.  Every key is
 * declared once, in a table, with its type, its destination (an offset
 * into struct hgq_config, or into the item of a sequence) and its range;
 * the walker does all checking.  Every problem is reported as
 * "PATH:LINE:COL: message" at the node it is about: the key for unknown
 * and duplicate keys, the value for wrong types and ranges, the mapping
 * for missing keys.  libyaml's marks are 0-based; messages are 1-based.
 *
 * This is the only file that includes yaml.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "internal.h"

#define MAX_TEXT	(16u << 20)	/* a config is small; refuse more */
#define SHOW_MAX	40		/* bytes of a value shown in messages */
#define MAX_DEPTH	32		/* nesting of collections (we use 4) */
#define WHERE_MAX	96		/* "model.layers[12]" and the like */

/* Kinds of schema entries. */
enum ktype {
	K_MAP,		/* nested mapping of sub keys; base moves by off */
	K_SEQ,		/* sequence of mappings (struct seq) */
	K_SCHED,	/* a schedule: one number, or a K_SEQ of points */
	K_STR,		/* char *, owned by the config */
	K_U64,		/* uint64_t, any non-negative integer */
	K_U32,		/* uint32_t in [lo, hi] */
	K_INT,		/* int in [lo, hi] */
	K_DBL,		/* finite double in lo..hi (see the flags) */
	K_BOOL,		/* int, 0 or 1 */
	K_ENUM,		/* int: the index of the name in names[] */
	K_KIND,		/* uint32_t kind, then uint32_t ndim (layer_kinds) */
	K_DIMS,		/* struct hgq_conf_dims: an integer or a list of
			   1..maxn integers in [lo, hi] */
	K_NAME,		/* char[HGQ_MAX_PORT_NAME + 1]: an identifier */
	K_NAMES,	/* uint32_t count of a list of 1..maxn identifiers
			   (or one); graph_resolve() reads the names */
	K_FUNC,		/* uint32_t: a function of hgq_func_by_name() */
	K_MASK,		/* a layer's mask: { band: B } or an npy path */
};

#define F_REQ		0x1	/* the key must be present */
#define F_LO_OPEN	0x2	/* lo itself is out of range */
#define F_HI_OPEN	0x4	/* hi itself is out of range */
#define F_NONZERO	0x8	/* 0 is out of range */
#define F_NOT		0x10	/* K_BOOL: store the negation (a key whose
				   default is true in a zeroed item) */

struct seq;

struct walk {
	yaml_document_t		*doc;
	const char		*path;
	struct hgq_err		*err;
};

struct key {
	const char		*name;
	enum ktype		 type;
	size_t			 off;	/* of the destination from the base */
	unsigned		 flags;
	double			 lo, hi;
	const char *const	*names;	/* K_ENUM: NULL-terminated */
	const struct key	*sub;	/* K_MAP: NULL-terminated */
	const struct seq	*seq;	/* K_SEQ, K_SCHED */
	unsigned		 maxn;	/* K_DIMS: at most this many */
};

/* A sequence of mappings stored as a counted array of structs. */
struct seq {
	size_t			 n_off;		/* uint32_t count */
	size_t			 item_off;	/* the first item */
	size_t			 item_size;
	uint32_t		 max;		/* items (and at least one) */
	const struct key	*item;		/* keys of an item */
	/* checks an item as a whole once its keys are stored (or NULL) */
	int			(*check)(const struct walk *w,
				    const yaml_node_t *item, char *dst,
				    const char *where);
};

/*
 * The schema.  Enum names are listed in the order of the enum values
 * (checked below), so the value of a name is its index.
 */
static const char *const gran_names[] = { "element", "channel", "layer",
	NULL };
static const char *const round_names[] = { "RND", "TRN", NULL };
static const char *const ovf_names[] = { "WRAP", "SAT", "SAT_SYM", NULL };
static const char *const norm_names[] = { "none", "scale", "standard",
	NULL };
static const char *const act_names[] = { "linear", "relu", NULL };
static const char *const loss_names[] = { "cross_entropy", "mse", NULL };
static const char *const optim_names[] = { "adam", "sgd", NULL };
static const char *const lrs_names[] = { "constant", "cosine",
	"cosine_restarts", NULL };
static const char *const interp_names[] = { "constant", "linear", "log",
	NULL };
static const char *const pad_names[] = { "valid", "same", NULL };

/*
 * the layer types of model.layers[].type: name, kind, ndim (0 for the
 * global pools, whose window is the whole input)
 */
static const struct {
	const char	*name;
	uint32_t	 kind, ndim;
} layer_kinds[] = {
	{ "dense",	HGQ_LAYER_DENSE,	0 },
	{ "conv1d",	HGQ_LAYER_CONV1D,	1 },
	{ "conv2d",	HGQ_LAYER_CONV2D,	2 },
	{ "maxpool1d",	HGQ_LAYER_MAXPOOL,	1 },
	{ "maxpool2d",	HGQ_LAYER_MAXPOOL,	2 },
	{ "avgpool1d",	HGQ_LAYER_AVGPOOL,	1 },
	{ "avgpool2d",	HGQ_LAYER_AVGPOOL,	2 },
	{ "flatten",	HGQ_LAYER_FLATTEN,	0 },
	{ "add",	HGQ_LAYER_ADD,		0 },
	{ "subtract",	HGQ_LAYER_SUB,		0 },
	{ "concatenate", HGQ_LAYER_CONCAT,	0 },
	{ "lut",	HGQ_LAYER_LUT,		0 },
	{ "global_maxpool", HGQ_LAYER_MAXPOOL,	0 },
	{ "global_avgpool", HGQ_LAYER_AVGPOOL,	0 },
};
#define N_LAYER_KINDS	(sizeof(layer_kinds) / sizeof(layer_kinds[0]))

_Static_assert(offsetof(struct hgq_layer_conf, ndim) ==
    offsetof(struct hgq_layer_conf, kind) + sizeof(uint32_t),
    "K_KIND stores kind and ndim side by side");

_Static_assert(HGQ_PAD_SAME == 1 &&
    HGQ_GRAN_LAYER == 2 && HGQ_TRN == 1 && HGQ_SAT_SYM == 2 &&
    HGQ_NORM_STANDARD == 2 && HGQ_ACT_RELU == 1 && HGQ_LOSS_MSE == 1 &&
    HGQ_OPT_SGD == 1 && HGQ_LR_COSINE_RESTARTS == 2 &&
    HGQ_INTERP_LOG == 2, "enum order differs from the name tables");

#define KEY(n, t, o)	.name = (n), .type = (t), .off = (o)
#define CF(m)		offsetof(struct hgq_config, m)
#define QF(m)		offsetof(struct hgq_qconf, m)
#define LF(m)		offsetof(struct hgq_layer_conf, m)
#define SF(m)		offsetof(struct hgq_sched_point, m)
#define IF(m)		offsetof(struct hgq_conf_input, m)
#define ANY		.lo = -INFINITY, .hi = INFINITY
#define NONNEG		.lo = 0, .hi = INFINITY
#define POSITIVE	.lo = 0, .hi = INFINITY, .flags = F_LO_OPEN
#define UNIT_OPEN	.lo = 0, .hi = 1, .flags = F_HI_OPEN

static const struct key qconf_keys[] = {
	{ KEY("init_f", K_DBL, QF(init_f)), .lo = -24, .hi = 24 },
	{ KEY("granularity", K_ENUM, QF(gran)), .names = gran_names },
	{ KEY("trainable", K_BOOL, QF(trainable)) },
	{ KEY("round", K_ENUM, QF(round)), .names = round_names },
	{ KEY("overflow", K_ENUM, QF(overflow)), .names = ovf_names },
	{ NULL }
};

/* which keys a layer type takes is checked by layer_check() */
static const struct key layer_keys[] = {
	{ KEY("type", K_KIND, LF(kind)), .flags = F_REQ },
	{ KEY("units", K_U32, LF(units)), .lo = 1, .hi = 65535 },
	{ KEY("filters", K_U32, LF(filters)), .lo = 1, .hi = 65535 },
	{ KEY("kernel", K_DIMS, LF(kernel_in)), .lo = 1, .hi = 65535,
	  .maxn = 2 },
	{ KEY("stride", K_DIMS, LF(stride_in)), .lo = 1, .hi = 65535,
	  .maxn = 2 },
	{ KEY("pool", K_DIMS, LF(pool_in)), .lo = 1, .hi = 65535,
	  .maxn = 2 },
	{ KEY("padding", K_ENUM, LF(padding)), .names = pad_names },
	{ KEY("activation", K_ENUM, LF(act)), .names = act_names },
	{ KEY("batchnorm", K_BOOL, LF(bn)) },
	{ KEY("use_bias", K_BOOL, LF(no_bias)), .flags = F_NOT },
	{ KEY("name", K_NAME, LF(name)) },
	{ KEY("inputs", K_NAMES, LF(n_refs)), .maxn = HGQ_MAX_LAYER_INPUTS },
	{ KEY("axis", K_INT, LF(axis)), .lo = -HGQ_MAX_RANK,
	  .hi = HGQ_MAX_RANK - 1 },
	{ KEY("function", K_FUNC, LF(func)) },
	{ KEY("mask", K_MASK, 0) },
	{ NULL }
};

static const struct key band_keys[] = {
	{ KEY("band", K_U32, LF(band)), .lo = 0, .hi = 65535,
	  .flags = F_REQ },
	{ NULL }
};

static const struct key input_keys[] = {
	{ KEY("name", K_NAME, IF(name)), .flags = F_REQ },
	{ KEY("shape", K_DIMS, IF(shape)), .lo = 1, .hi = HGQ_MAX_N,
	  .maxn = HGQ_MAX_RANK, .flags = F_REQ },
	{ NULL }
};

static const struct key point_keys[] = {
	{ KEY("epoch", K_DBL, SF(epoch)), NONNEG, .flags = F_REQ },
	{ KEY("value", K_DBL, SF(value)), NONNEG, .flags = F_REQ },
	{ KEY("interp", K_ENUM, SF(interp)), .names = interp_names },
	{ NULL }
};

static int layer_check(const struct walk *w, const yaml_node_t *item,
    char *dst, const char *where);

static int input_check(const struct walk *w, const yaml_node_t *item,
    char *dst, const char *where);

static const struct seq inputs_seq = {
	CF(model.n_inputs), CF(model.inputs), sizeof(struct hgq_conf_input),
	HGQ_MAX_PORTS, input_keys, input_check
};

static const struct seq layers_seq = {
	CF(model.n_layers), CF(model.layers), sizeof(struct hgq_layer_conf),
	HGQ_MAX_CONF_LAYERS, layer_keys, layer_check
};

static const struct seq beta_seq = {
	CF(train.n_beta), CF(train.beta), sizeof(struct hgq_sched_point),
	HGQ_MAX_SCHED, point_keys, NULL
};

static const struct key data_keys[] = {
	{ KEY("train_x", K_STR, CF(data.train_x)), .flags = F_REQ },
	{ KEY("train_y", K_STR, CF(data.train_y)) },
	{ KEY("test_x", K_STR, CF(data.test_x)) },
	{ KEY("test_y", K_STR, CF(data.test_y)) },
	{ KEY("val_split", K_DBL, CF(data.val_split)), UNIT_OPEN },
	{ KEY("normalize", K_ENUM, CF(data.normalize)), .names = norm_names },
	{ KEY("scale", K_DBL, CF(data.scale)), ANY, .flags = F_NONZERO },
	{ KEY("label_col", K_INT, CF(data.label_col)), .lo = -1,
	  .hi = INT_MAX },
	{ KEY("input_shape", K_DIMS, CF(data.input_shape)), .lo = 1,
	  .hi = HGQ_MAX_N, .maxn = 3 },
	{ NULL }
};

static const struct key model_keys[] = {
	{ KEY("input", K_MAP, CF(model.input)), .sub = qconf_keys },
	{ KEY("layers", K_SEQ, 0), .seq = &layers_seq },
	{ KEY("inputs", K_SEQ, 0), .seq = &inputs_seq },
	{ KEY("outputs", K_NAMES, CF(model.n_outputs)),
	  .maxn = HGQ_MAX_PORTS },
	{ NULL }
};

static const struct key quant_keys[] = {
	{ KEY("weight", K_MAP, CF(q_weight)), .sub = qconf_keys },
	{ KEY("bias", K_MAP, CF(q_bias)), .sub = qconf_keys },
	{ KEY("activation", K_MAP, CF(q_act)), .sub = qconf_keys },
	{ NULL }
};

static const struct key optim_keys[] = {
	{ KEY("name", K_ENUM, CF(train.optimizer)), .names = optim_names },
	{ KEY("lr", K_DBL, CF(train.lr)), POSITIVE },
	{ KEY("momentum", K_DBL, CF(train.momentum)), UNIT_OPEN },
	{ KEY("beta1", K_DBL, CF(train.beta1)), UNIT_OPEN },
	{ KEY("beta2", K_DBL, CF(train.beta2)), UNIT_OPEN },
	{ KEY("eps", K_DBL, CF(train.eps)), POSITIVE },
	{ NULL }
};

static const struct key lrs_keys[] = {
	{ KEY("type", K_ENUM, CF(train.lr_sched)), .names = lrs_names },
	{ KEY("period", K_DBL, CF(train.lr_period)), POSITIVE },
	{ KEY("decay", K_DBL, CF(train.lr_decay)), .lo = 0, .hi = 1,
	  .flags = F_LO_OPEN },
	{ KEY("min_lr", K_DBL, CF(train.min_lr)), NONNEG },
	{ NULL }
};

static const struct key train_keys[] = {
	{ KEY("epochs", K_U32, CF(train.epochs)), .lo = 1, .hi = 1e7 },
	{ KEY("batch_size", K_U32, CF(train.batch_size)), .lo = 1,
	  .hi = 1e7 },
	{ KEY("loss", K_ENUM, CF(train.loss)), .names = loss_names },
	{ KEY("optimizer", K_MAP, 0), .sub = optim_keys },
	{ KEY("lr_schedule", K_MAP, 0), .sub = lrs_keys },
	{ KEY("beta", K_SCHED, 0), NONNEG, .seq = &beta_seq },
	{ KEY("gamma", K_DBL, CF(train.gamma)), NONNEG },
	{ KEY("target_ebops", K_DBL, CF(train.target_ebops)), .lo = 0,
	  .hi = 1e15 },
	{ KEY("threads", K_U32, CF(train.threads)), .lo = 0, .hi = 256 },
	{ NULL }
};

static const struct key output_keys[] = {
	{ KEY("pareto_dir", K_STR, CF(output.pareto_dir)) },
	{ KEY("log", K_STR, CF(output.log)) },
	{ NULL }
};

static const struct key top_keys[] = {
	{ KEY("seed", K_U64, CF(seed)) },
	{ KEY("data", K_MAP, 0), .sub = data_keys, .flags = F_REQ },
	{ KEY("model", K_MAP, 0), .sub = model_keys },
	{ KEY("quantizers", K_MAP, 0), .sub = quant_keys },
	{ KEY("train", K_MAP, 0), .sub = train_keys },
	{ KEY("output", K_MAP, 0), .sub = output_keys },
	{ NULL }
};

static void
qconf_init(struct hgq_qconf *q)
{
	q->init_f = 2;
	q->gran = HGQ_GRAN_ELEMENT;
	q->trainable = 1;
	q->round = HGQ_RND;
	q->overflow = HGQ_WRAP;
}

void
hgq_config_init(struct hgq_config *c)
{
	/* zero padding too, so that two configs compare with memcmp */
	memset(c, 0, sizeof(*c));
	c->seed = 42;
	c->data.val_split = 0.1;
	c->data.normalize = HGQ_NORM_NONE;
	c->data.scale = 1.0;
	c->data.label_col = -1;
	qconf_init(&c->model.input);
	qconf_init(&c->q_weight);
	qconf_init(&c->q_bias);
	qconf_init(&c->q_act);
	c->train.epochs = 30;
	c->train.batch_size = 256;
	c->train.loss = HGQ_LOSS_XENT;
	c->train.optimizer = HGQ_OPT_ADAM;
	c->train.lr = 0.003;
	c->train.momentum = 0.9;
	c->train.beta1 = 0.9;
	c->train.beta2 = 0.999;
	c->train.eps = 1e-7;
	c->train.lr_sched = HGQ_LR_CONST;
	c->train.lr_period = 10;
	c->train.lr_decay = 1.0;
	c->train.min_lr = 0;
	/* beta: one constant point, 0 */
	c->train.n_beta = 1;
	c->train.beta[0].epoch = 0;
	c->train.beta[0].value = 0;
	c->train.beta[0].interp = HGQ_INTERP_CONST;
	c->train.gamma = 0;
	c->train.threads = 0;
}

void
hgq_config_release(struct hgq_config *c)
{
	char **s[] = {
		&c->data.train_x, &c->data.train_y, &c->data.test_x,
		&c->data.test_y, &c->output.pareto_dir, &c->output.log,
		&c->path, &c->text,
	};

	for (size_t j = 0; j < sizeof(s) / sizeof(s[0]); j++) {
		free(*s[j]);
		*s[j] = NULL;
	}
	for (size_t j = 0; j < HGQ_MAX_CONF_LAYERS; j++) {
		free(c->model.layers[j].mask_path);
		c->model.layers[j].mask_path = NULL;
	}
}

/*
 * Messages.
 */

/* copy a value for a one-line message: control bytes become '?' */
static void
text_show(const unsigned char *s, size_t len, char *buf, size_t size)
{
	size_t n = len, j;

	if (n > SHOW_MAX) {
		n = SHOW_MAX;
		/* do not cut a UTF-8 sequence in two */
		while (n > 0 && (s[n] & 0xc0) == 0x80)
			n--;
	}
	if (n + 4 > size)
		n = size > 4 ? size - 4 : 0;
	for (j = 0; j < n; j++)
		buf[j] = s[j] < 0x20 || s[j] == 0x7f ? '?' : (char)s[j];
	if (n < len) {
		memcpy(buf + j, "...", 3);
		j += 3;
	}
	buf[j] = '\0';
}

/* what a node is, for "expected X, got Y" */
static const char *
node_show(const yaml_node_t *n, char *buf, size_t size)
{
	char tmp[SHOW_MAX + 4];

	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	case YAML_SCALAR_NODE:
		if (n->data.scalar.length == 0)
			return "an empty value";
		text_show(n->data.scalar.value, n->data.scalar.length, tmp,
		    sizeof(tmp));
		snprintf(buf, size, "'%s'", tmp);
		return buf;
	default:
		return "nothing";
	}
}

static int
node_err(const struct walk *w, const yaml_node_t *at, int code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* fill w->err with "PATH:LINE:COL: message" at the node; returns code */
static int
node_err(const struct walk *w, const yaml_node_t *at, int code,
    const char *fmt, ...)
{
	char msg[224];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return hgq_errf(w->err, code, "%s:%zu:%zu: %s", w->path,
	    at->start_mark.line + 1, at->start_mark.column + 1, msg);
}

/* "in data", "in model.layers[0]", or "at top level" */
static const char *
where_show(const char *where, char *buf, size_t size)
{
	if (where[0] == '\0')
		return "at top level";
	snprintf(buf, size, "in %s", where);
	return buf;
}

/*
 * Values.
 */

static yaml_node_t *
node_get(const struct walk *w, int index)
{
	return yaml_document_get_node(w->doc, index);
}

/* the text of a scalar node, or an error naming what is wanted instead */
static int
scalar_get(const struct walk *w, const struct key *k, const yaml_node_t *n,
    const char *want, const char **text)
{
	char shown[SHOW_MAX + 8];

	if (n->type != YAML_SCALAR_NODE)
		return node_err(w, n, HGQ_EINVAL, "expected %s for '%s', "
		    "got %s", want, k->name,
		    node_show(n, shown, sizeof(shown)));
	*text = (const char *)n->data.scalar.value;
	if (strlen(*text) != n->data.scalar.length)
		return node_err(w, n, HGQ_EINVAL, "NUL byte in the value of "
		    "'%s'", k->name);
	return HGQ_OK;
}

/* a whole decimal integer: 0, ERANGE, or -1 if s is not one */
static int
text_ll(const char *s, long long *v)
{
	char *end;

	if (*s != '-' && *s != '+' && (*s < '0' || *s > '9'))
		return -1;
	errno = 0;
	*v = strtoll(s, &end, 10);
	if (end == s || *end != '\0')
		return -1;
	return errno == ERANGE ? ERANGE : 0;
}

/* a whole number (maybe infinite): 0, or -1 if s is not one */
static int
text_dbl(const char *s, double *v)
{
	char *end;

	/* strtod would skip leading white space */
	if (*s == '\0' || *s == ' ' || (*s >= '\t' && *s <= '\r'))
		return -1;
	*v = strtod(s, &end);
	return end == s || *end != '\0' ? -1 : 0;
}

/* v against the key's range; the message shows the text as written */
static int
range_check(const struct walk *w, const struct key *k, const yaml_node_t *n,
    const char *text, double v)
{
	char shown[SHOW_MAX + 8];
	int lo_ok, hi_ok;

	text_show((const unsigned char *)text, strlen(text), shown,
	    sizeof(shown));
	if ((k->flags & F_NONZERO) && v == 0)
		return node_err(w, n, HGQ_EINVAL, "%s: %s must be non-zero",
		    k->name, shown);
	lo_ok = k->flags & F_LO_OPEN ? v > k->lo : v >= k->lo;
	hi_ok = k->flags & F_HI_OPEN ? v < k->hi : v <= k->hi;
	if (lo_ok && hi_ok)
		return HGQ_OK;
	if (isinf(k->hi))
		return node_err(w, n, HGQ_EINVAL, "%s: %s must be %s %.15g",
		    k->name, shown, k->flags & F_LO_OPEN ? ">" : ">=", k->lo);
	return node_err(w, n, HGQ_EINVAL, "%s: %s out of range "
	    "%c%.15g, %.15g%c", k->name, shown,
	    k->flags & F_LO_OPEN ? '(' : '[', k->lo, k->hi,
	    k->flags & F_HI_OPEN ? ')' : ']');
}

/* K_U32 and K_INT: an integer in [lo, hi] */
static int
int_get(const struct walk *w, const struct key *k, const yaml_node_t *n,
    long long *v)
{
	char shown[SHOW_MAX + 8];
	const char *text;
	double d;
	int rc;

	if ((rc = scalar_get(w, k, n, "an integer", &text)) != HGQ_OK)
		return rc;
	rc = text_ll(text, v);
	if (rc == -1) {
		node_show(n, shown, sizeof(shown));
		if (text_dbl(text, &d) == 0)
			return node_err(w, n, HGQ_EINVAL, "expected an integer "
			    "for '%s', got %s", k->name, shown);
		return node_err(w, n, HGQ_EINVAL, "expected a number for '%s', "
		    "got %s", k->name, shown);
	}
	/* out of long long: report it against the range like any other */
	d = rc == ERANGE ? (*v < 0 ? -INFINITY : INFINITY) : (double)*v;
	return range_check(w, k, n, text, d);
}

static int
u64_get(const struct walk *w, const struct key *k, const yaml_node_t *n,
    uint64_t *v)
{
	char shown[SHOW_MAX + 8];
	const char *text;
	char *end;
	double d;
	int rc;

	if ((rc = scalar_get(w, k, n, "an integer", &text)) != HGQ_OK)
		return rc;
	node_show(n, shown, sizeof(shown));
	if (*text >= '0' && *text <= '9') {
		errno = 0;
		*v = strtoull(text, &end, 10);
		if (*end == '\0' && errno != ERANGE)
			return HGQ_OK;
		if (*end == '\0') {
			text_show((const unsigned char *)text, strlen(text),
			    shown, sizeof(shown));
			return node_err(w, n, HGQ_EINVAL, "%s: %s out of range "
			    "[0, %llu]", k->name, shown,
			    (unsigned long long)UINT64_MAX);
		}
	}
	if (text_dbl(text, &d) == 0)
		return node_err(w, n, HGQ_EINVAL, "expected a non-negative "
		    "integer for '%s', got %s", k->name, shown);
	return node_err(w, n, HGQ_EINVAL, "expected a number for '%s', got %s",
	    k->name, shown);
}

static int
dbl_get(const struct walk *w, const struct key *k, const yaml_node_t *n,
    double *v)
{
	char shown[SHOW_MAX + 8];
	const char *text;
	int rc;

	if ((rc = scalar_get(w, k, n, "a number", &text)) != HGQ_OK)
		return rc;
	if (text_dbl(text, v) != 0)
		return node_err(w, n, HGQ_EINVAL, "expected a number for '%s', "
		    "got %s", k->name, node_show(n, shown, sizeof(shown)));
	if (!isfinite(*v))
		return node_err(w, n, HGQ_EINVAL, "expected a finite number "
		    "for '%s', got %s", k->name,
		    node_show(n, shown, sizeof(shown)));
	return range_check(w, k, n, text, *v);
}

static int
bool_get(const struct walk *w, const struct key *k, const yaml_node_t *n,
    int *v)
{
	char shown[SHOW_MAX + 8];
	const char *text;
	int rc;

	if ((rc = scalar_get(w, k, n, "true or false", &text)) != HGQ_OK)
		return rc;
	if (strcmp(text, "true") == 0 || strcmp(text, "yes") == 0)
		*v = 1;
	else if (strcmp(text, "false") == 0 || strcmp(text, "no") == 0)
		*v = 0;
	else
		return node_err(w, n, HGQ_EINVAL, "expected true or false for "
		    "'%s', got %s", k->name,
		    node_show(n, shown, sizeof(shown)));
	return HGQ_OK;
}

static int
enum_get(const struct walk *w, const struct key *k, const yaml_node_t *n,
    int *v)
{
	char want[128], shown[SHOW_MAX + 8];
	const char *text;
	size_t len;
	int rc, j;

	/* "one of a|b|c" */
	len = (size_t)snprintf(want, sizeof(want), "one of");
	for (j = 0; k->names[j] != NULL && len < sizeof(want); j++)
		len += (size_t)snprintf(want + len, sizeof(want) - len, "%c%s",
		    j == 0 ? ' ' : '|', k->names[j]);
	if ((rc = scalar_get(w, k, n, want, &text)) != HGQ_OK)
		return rc;
	for (j = 0; k->names[j] != NULL; j++) {
		if (strcmp(text, k->names[j]) == 0) {
			*v = j;
			return HGQ_OK;
		}
	}
	return node_err(w, n, HGQ_EINVAL, "expected %s for '%s', got %s", want,
	    k->name, node_show(n, shown, sizeof(shown)));
}

static int
str_get(const struct walk *w, const struct key *k, const yaml_node_t *n,
    char **v)
{
	char shown[SHOW_MAX + 8];
	const char *text;
	char *s;
	int rc;

	if ((rc = scalar_get(w, k, n, "a string", &text)) != HGQ_OK)
		return rc;
	/* an empty or null value is not a path; quote "~" to mean a file */
	if (text[0] == '\0' || (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
	    && (strcmp(text, "~") == 0 || strcmp(text, "null") == 0 ||
	    strcmp(text, "Null") == 0 || strcmp(text, "NULL") == 0)))
		return node_err(w, n, HGQ_EINVAL, "expected a string for '%s', "
		    "got %s", k->name, node_show(n, shown, sizeof(shown)));
	if ((s = strdup(text)) == NULL)
		return node_err(w, n, HGQ_ENOMEM, "out of memory");
	free(*v);
	*v = s;
	return HGQ_OK;
}

static int
kind_get(const struct walk *w, const struct key *k, const yaml_node_t *n,
    uint32_t *v)
{
	char want[200], shown[SHOW_MAX + 8];
	const char *text;
	size_t len;
	int rc;

	len = (size_t)snprintf(want, sizeof(want), "one of");
	for (size_t j = 0; j < N_LAYER_KINDS && len < sizeof(want); j++)
		len += (size_t)snprintf(want + len, sizeof(want) - len, "%c%s",
		    j == 0 ? ' ' : '|', layer_kinds[j].name);
	if ((rc = scalar_get(w, k, n, "a layer type", &text)) != HGQ_OK)
		return rc;
	for (size_t j = 0; j < N_LAYER_KINDS; j++)
		if (strcmp(text, layer_kinds[j].name) == 0) {
			v[0] = layer_kinds[j].kind;
			v[1] = layer_kinds[j].ndim;
			return HGQ_OK;
		}
	return node_err(w, n, HGQ_EINVAL, "expected %s for '%s', got %s", want,
	    k->name, node_show(n, shown, sizeof(shown)));
}

/* K_DIMS: an integer, or a sequence of 1..maxn integers */
static int
dims_get(const struct walk *w, const struct key *k, const yaml_node_t *n,
    struct hgq_conf_dims *v)
{
	const yaml_node_item_t *items;
	size_t n_items;
	long long ll;
	int rc;

	memset(v, 0, sizeof(*v));
	v->line = (uint32_t)n->start_mark.line + 1;
	v->col = (uint32_t)n->start_mark.column + 1;
	if (n->type != YAML_SEQUENCE_NODE) {
		if ((rc = int_get(w, k, n, &ll)) != HGQ_OK)
			return rc;
		v->n = 1;
		v->v[0] = (uint32_t)ll;
		return HGQ_OK;
	}
	items = n->data.sequence.items.start;
	n_items = (size_t)(n->data.sequence.items.top - items);
	if (n_items == 0 || n_items > k->maxn)
		return node_err(w, n, HGQ_EINVAL, "expected 1 to %u integers "
		    "in '%s', got %zu", k->maxn, k->name, n_items);
	for (size_t j = 0; j < n_items; j++) {
		if ((rc = int_get(w, k, node_get(w, items[j]), &ll)) != HGQ_OK)
			return rc;
		v->v[j] = (uint32_t)ll;
	}
	v->n = (uint32_t)n_items;
	return HGQ_OK;
}

/* is the scalar text an identifier [A-Za-z_][A-Za-z0-9_]* of 1..32? */
static int
ident_ok(const char *s, size_t len)
{
	if (len == 0 || len > HGQ_MAX_PORT_NAME || strlen(s) != len ||
	    !(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') ||
	    (s[0] >= 'a' && s[0] <= 'z')))
		return 0;
	for (size_t j = 1; j < len; j++)
		if (!(s[j] == '_' || (s[j] >= 'A' && s[j] <= 'Z') ||
		    (s[j] >= 'a' && s[j] <= 'z') || (s[j] >= '0' &&
		    s[j] <= '9')))
			return 0;
	return 1;
}

/* K_NAME: an identifier into a char[HGQ_MAX_PORT_NAME + 1] */
static int
name_get(const struct walk *w, const struct key *k, const yaml_node_t *n,
    char *v)
{
	char shown[SHOW_MAX + 8];
	const char *text;
	int rc;

	if ((rc = scalar_get(w, k, n, "a name", &text)) != HGQ_OK)
		return rc;
	if (!ident_ok(text, n->data.scalar.length))
		return node_err(w, n, HGQ_EINVAL, "expected a name of 1 to %d "
		    "letters, digits and '_' (not a digit first) for '%s', "
		    "got %s", HGQ_MAX_PORT_NAME, k->name,
		    node_show(n, shown, sizeof(shown)));
	memcpy(v, text, n->data.scalar.length + 1);
	return HGQ_OK;
}

/* K_NAMES: one name or a list of 1..maxn; stores the count */
static int
names_get(const struct walk *w, const struct key *k, const yaml_node_t *n,
    uint32_t *count)
{
	char name[HGQ_MAX_PORT_NAME + 1];
	const yaml_node_item_t *items;
	size_t n_items;
	int rc;

	if (n->type != YAML_SEQUENCE_NODE) {
		if ((rc = name_get(w, k, n, name)) == HGQ_OK)
			*count = 1;
		return rc;
	}
	items = n->data.sequence.items.start;
	n_items = (size_t)(n->data.sequence.items.top - items);
	if (n_items == 0 || n_items > k->maxn)
		return node_err(w, n, HGQ_EINVAL, "expected 1 to %u names in "
		    "'%s', got %zu", k->maxn, k->name, n_items);
	for (size_t j = 0; j < n_items; j++)
		if ((rc = name_get(w, k, node_get(w, items[j]), name)) !=
		    HGQ_OK)
			return rc;
	*count = (uint32_t)n_items;
	return HGQ_OK;
}

/* K_FUNC: the name of a lookup-table function */
static int
func_get(const struct walk *w, const struct key *k, const yaml_node_t *n,
    uint32_t *v)
{
	char want[128], shown[SHOW_MAX + 8];
	const char *text;
	size_t len;
	int rc, f;

	len = (size_t)snprintf(want, sizeof(want), "one of");
	for (uint32_t j = 0; j <= HGQ_FUNC_MAX && len < sizeof(want); j++)
		len += (size_t)snprintf(want + len, sizeof(want) - len, "%c%s",
		    j == 0 ? ' ' : '|', hgq_func_name(j));
	if ((rc = scalar_get(w, k, n, want, &text)) != HGQ_OK)
		return rc;
	if ((f = hgq_func_by_name(text)) < 0)
		return node_err(w, n, HGQ_EINVAL, "expected %s for '%s', got "
		    "%s", want, k->name, node_show(n, shown, sizeof(shown)));
	*v = (uint32_t)f;
	return HGQ_OK;
}

static int walk_map(const struct walk *w, const yaml_node_t *map,
    const struct key *keys, char *base, const char *where);

/* K_MASK: "{ band: B }" or the path of an npy file, into a layer item */
static int
mask_get(const struct walk *w, const struct key *k, const yaml_node_t *n,
    char *base, const char *where)
{
	struct hgq_layer_conf *lc = (struct hgq_layer_conf *)(void *)base;
	char shown[SHOW_MAX + 8];
	int rc;

	if (n->type == YAML_MAPPING_NODE) {
		if ((rc = walk_map(w, n, band_keys, base, where)) == HGQ_OK)
			lc->mask = HGQ_MASK_BAND;
		return rc;
	}
	if (n->type != YAML_SCALAR_NODE)
		return node_err(w, n, HGQ_EINVAL, "expected '{ band: B }' or "
		    "the path of an npy file for '%s', got %s", k->name,
		    node_show(n, shown, sizeof(shown)));
	if ((rc = str_get(w, k, n, &lc->mask_path)) == HGQ_OK)
		lc->mask = HGQ_MASK_FILE;
	return rc;
}

/*
 * Structure.
 */

/* the value node of key name in a mapping, or NULL */
static yaml_node_t *
map_lookup(const struct walk *w, const yaml_node_t *map, const char *name)
{
	const yaml_node_pair_t *p;
	yaml_node_t *kn;

	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		kn = node_get(w, p->key);
		if (kn->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)kn->data.scalar.value, name) == 0)
			return node_get(w, p->value);
	}
	return NULL;
}

/* n must be a mapping or a sequence (type); label names it */
static int
type_check(const struct walk *w, const yaml_node_t *n, yaml_node_type_t type,
    const char *label)
{
	char shown[SHOW_MAX + 8];

	if (n->type == type)
		return HGQ_OK;
	return node_err(w, n, HGQ_EINVAL, "expected %s for '%s', got %s",
	    type == YAML_MAPPING_NODE ? "a mapping" : "a sequence", label,
	    node_show(n, shown, sizeof(shown)));
}

/* the name of a layer type (layer_kinds) */
static const char *
kind_name(uint32_t kind, uint32_t ndim)
{
	for (size_t j = 0; j < N_LAYER_KINDS; j++)
		if (layer_kinds[j].kind == kind && layer_kinds[j].ndim == ndim)
			return layer_kinds[j].name;
	return "unknown";
}

/*
 * dims_norm - a layer's kernel, stride or pool as [rows, columns]: a 1-D
 * layer takes one integer ([1, K]); a 2-D layer an integer k ([k, k]) or
 * two.  An absent key gives def (both).
 */
static int
dims_norm(const struct walk *w, const yaml_node_t *item, const char *name,
    const struct hgq_conf_dims *d, uint32_t ndim, const char *type,
    const uint32_t *def, uint32_t *out)
{
	if (d->n == 0) {
		out[0] = def[0];
		out[1] = def[1];
		return HGQ_OK;
	}
	if (ndim == 1 && d->n != 1)
		return node_err(w, map_lookup(w, item, name), HGQ_EINVAL,
		    "expected one integer for '%s' of a %s layer, got %u",
		    name, type, (unsigned)d->n);
	out[0] = ndim == 1 ? 1 : d->v[0];
	out[1] = d->n == 1 ? d->v[0] : d->v[1];
	return HGQ_OK;
}

/*
 * type_keys - the keys a layer type takes and the one it requires
 * (NULL: none); *window is 1 for convolutions, 2 for pooling with a
 * window (the global pools have none), else 0.
 */
static const char *const *
type_keys(const struct hgq_layer_conf *lc, const char **req, int *window)
{
	static const char *const dense_keys[] = { "type", "name", "inputs",
		"units", "activation", "batchnorm", "use_bias", "mask", NULL };
	static const char *const conv_keys[] = { "type", "name", "inputs",
		"filters", "kernel", "stride", "padding", "activation",
		"batchnorm", "use_bias", "mask", NULL };
	static const char *const pool_keys[] = { "type", "name", "inputs",
		"pool", "stride", NULL };
	static const char *const concat_keys[] = { "type", "name", "inputs",
		"axis", NULL };
	static const char *const lut_keys[] = { "type", "name", "inputs",
		"function", NULL };
	static const char *const plain_keys[] = { "type", "name", "inputs",
		NULL };

	*req = NULL;
	*window = 0;
	switch (lc->kind) {
	case HGQ_LAYER_DENSE:
		*req = "units";
		return dense_keys;
	case HGQ_LAYER_CONV1D:
	case HGQ_LAYER_CONV2D:
		*window = 1;
		return conv_keys;
	case HGQ_LAYER_MAXPOOL:
	case HGQ_LAYER_AVGPOOL:
		if (lc->ndim == 0)
			return plain_keys;
		*req = "pool";
		*window = 2;
		return pool_keys;
	case HGQ_LAYER_CONCAT:
		return concat_keys;
	case HGQ_LAYER_LUT:
		*req = "function";
		return lut_keys;
	default:
		return plain_keys;
	}
}

/* every key of the item is one its type takes */
static int
keys_apply(const struct walk *w, const yaml_node_t *item,
    const char *const *keys, const char *type, const char *where)
{
	char in[WHERE_MAX + 8], shown[SHOW_MAX + 8];
	const yaml_node_t *kn;

	for (const yaml_node_pair_t *p = item->data.mapping.pairs.start;
	    p < item->data.mapping.pairs.top; p++) {
		size_t j;

		kn = node_get(w, p->key);
		for (j = 0; keys[j] != NULL; j++)
			if (strcmp((const char *)kn->data.scalar.value,
			    keys[j]) == 0)
				break;
		if (keys[j] != NULL)
			continue;
		text_show(kn->data.scalar.value, kn->data.scalar.length,
		    shown, sizeof(shown));
		return node_err(w, kn, HGQ_EINVAL, "key '%s' does not apply "
		    "to a%s %s layer %s", shown, type[0] == 'a' ? "n" : "",
		    type, where_show(where, in, sizeof(in)));
	}
	return HGQ_OK;
}

/*
 * layer_check - an item of model.layers as a whole: only the keys its
 * type takes, the required ones present, windows normalized, and an
 * average pool's area a power of two (its division is an exact shift,
 * formats/hgqm.md 4.3.2).  Names and inputs are resolved by
 * graph_resolve() once every item is read; shapes are checked once the
 * data are known (hgq_train_model_new).
 */
static int
layer_check(const struct walk *w, const yaml_node_t *item, char *dst,
    const char *where)
{
	static const uint32_t one[2] = { 1, 1 };
	struct hgq_layer_conf *lc = (struct hgq_layer_conf *)(void *)dst;
	const char *const *keys, *req, *type;
	char in[WHERE_MAX + 8];
	int window, rc;
	uint64_t area;

	type = kind_name(lc->kind, lc->ndim);
	keys = type_keys(lc, &req, &window);
	if ((rc = keys_apply(w, item, keys, type, where)) != HGQ_OK)
		return rc;
	if (window == 1 && (lc->filters == 0 || lc->kernel_in.n == 0))
		req = lc->filters == 0 ? "filters" : "kernel";
	else if (req != NULL && map_lookup(w, item, req) != NULL)
		req = NULL;
	if (req != NULL)
		return node_err(w, item, HGQ_EINVAL, "missing required key "
		    "'%s' %s", req, where_show(where, in, sizeof(in)));
	if (window == 1 && ((rc = dims_norm(w, item, "kernel", &lc->kernel_in,
	    lc->ndim, type, one, lc->kernel)) != HGQ_OK ||
	    (rc = dims_norm(w, item, "stride", &lc->stride_in, lc->ndim, type,
	    one, lc->stride)) != HGQ_OK))
		return rc;
	if (window == 2 && ((rc = dims_norm(w, item, "pool", &lc->pool_in,
	    lc->ndim, type, one, lc->pool)) != HGQ_OK ||
	    (rc = dims_norm(w, item, "stride", &lc->stride_in, lc->ndim, type,
	    lc->pool, lc->stride)) != HGQ_OK))
		return rc;
	if (window == 2 && lc->kind == HGQ_LAYER_AVGPOOL) {
		area = (uint64_t)lc->pool[0] * lc->pool[1];
		if ((area & (area - 1)) != 0)
			return node_err(w, map_lookup(w, item, "pool"),
			    HGQ_EINVAL, "%s: pool area %" PRIu32 "x%" PRIu32
			    " = %" PRIu64 " is not a power of two (average "
			    "pooling divides by an exact shift)", type,
			    lc->pool[0], lc->pool[1], area);
	}
	if (lc->kind == HGQ_LAYER_CONCAT && map_lookup(w, item, "axis") ==
	    NULL)
		lc->axis = -1;
	lc->line = (uint32_t)item->start_mark.line + 1;
	lc->col = (uint32_t)item->start_mark.column + 1;
	return HGQ_OK;
}

/* an item of model.inputs: its position, for later messages */
static int
input_check(const struct walk *w, const yaml_node_t *item, char *dst,
    const char *where)
{
	struct hgq_conf_input *ci = (struct hgq_conf_input *)(void *)dst;
	uint64_t n = 1;

	(void)where;
	for (uint32_t a = 0; a < ci->shape.n; a++) {
		n *= ci->shape.v[a];	/* each <= 2^24: no overflow */
		if (n > HGQ_MAX_N)
			return node_err(w, map_lookup(w, item, "shape"),
			    HGQ_EINVAL, "shape of more than %u elements",
			    HGQ_MAX_N);
	}
	ci->line = (uint32_t)item->start_mark.line + 1;
	ci->col = (uint32_t)item->start_mark.column + 1;
	return HGQ_OK;
}

/* a sequence of mappings into a counted array (struct seq) */
static int
walk_seq(const struct walk *w, const struct key *k, const yaml_node_t *n,
    char *base, const char *where)
{
	const struct seq *sq = k->seq;
	const yaml_node_item_t *items = n->data.sequence.items.start;
	size_t n_items = (size_t)(n->data.sequence.items.top - items);
	char label[WHERE_MAX], sub[WHERE_MAX];
	const yaml_node_t *item;
	char *dst;
	int rc;

	if (n_items == 0 || n_items > sq->max)
		return node_err(w, n, HGQ_EINVAL, "expected 1 to %u items in "
		    "'%s', got %zu", (unsigned)sq->max, k->name, n_items);
	for (size_t j = 0; j < n_items; j++) {
		item = node_get(w, items[j]);
		snprintf(label, sizeof(label), "%s[%zu]", k->name, j);
		snprintf(sub, sizeof(sub), "%s[%zu]", where, j);
		if ((rc = type_check(w, item, YAML_MAPPING_NODE, label))
		    != HGQ_OK)
			return rc;
		/* an item's defaults are all zero */
		dst = base + sq->item_off + j * sq->item_size;
		memset(dst, 0, sq->item_size);
		if ((rc = walk_map(w, item, sq->item, dst, sub)) != HGQ_OK)
			return rc;
		if (sq->check != NULL &&
		    (rc = sq->check(w, item, dst, sub)) != HGQ_OK)
			return rc;
	}
	*(uint32_t *)(base + sq->n_off) = (uint32_t)n_items;
	return HGQ_OK;
}

/*
 * A schedule: one number (a constant) or a sequence of points whose
 * epochs increase strictly; log interpolation needs positive values at
 * both ends of its segment.
 */
static int
walk_sched(const struct walk *w, const struct key *k, const yaml_node_t *n,
    char *base, const char *where)
{
	const struct seq *sq = k->seq;
	struct hgq_sched_point *p = (struct hgq_sched_point *)(base +
	    sq->item_off);
	const yaml_node_item_t *items;
	const yaml_node_t *at;
	char shown[SHOW_MAX + 8];
	uint32_t n_points;
	double v;
	int rc;

	if (n->type == YAML_SCALAR_NODE) {
		if ((rc = dbl_get(w, k, n, &v)) != HGQ_OK)
			return rc;
		memset(p, 0, sizeof(*p));
		p->value = v;
		*(uint32_t *)(base + sq->n_off) = 1;
		return HGQ_OK;
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return node_err(w, n, HGQ_EINVAL, "expected a number or a "
		    "sequence for '%s', got %s", k->name,
		    node_show(n, shown, sizeof(shown)));
	if ((rc = walk_seq(w, k, n, base, where)) != HGQ_OK)
		return rc;
	n_points = *(uint32_t *)(base + sq->n_off);
	items = n->data.sequence.items.start;
	for (uint32_t j = 1; j < n_points; j++) {
		if (p[j].epoch > p[j - 1].epoch)
			continue;
		at = map_lookup(w, node_get(w, items[j]), "epoch");
		return node_err(w, at, HGQ_EINVAL, "epochs of '%s' must "
		    "increase: %.15g after %.15g", k->name, p[j].epoch,
		    p[j - 1].epoch);
	}
	for (uint32_t j = 0; j + 1 < n_points; j++) {
		if (p[j].interp != HGQ_INTERP_LOG)
			continue;
		for (uint32_t e = j; e <= j + 1; e++) {
			if (p[e].value > 0)
				continue;
			at = map_lookup(w, node_get(w, items[e]), "value");
			return node_err(w, at, HGQ_EINVAL, "log interpolation "
			    "in '%s' needs values > 0, got %.15g", k->name,
			    p[e].value);
		}
	}
	return HGQ_OK;
}

static int
walk_value(const struct walk *w, const struct key *k, const yaml_node_t *n,
    char *base, const char *where)
{
	char *dst = base + k->off;
	long long ll;
	int rc;

	switch (k->type) {
	case K_MAP:
		if ((rc = type_check(w, n, YAML_MAPPING_NODE, k->name))
		    != HGQ_OK)
			return rc;
		return walk_map(w, n, k->sub, dst, where);
	case K_SEQ:
		if ((rc = type_check(w, n, YAML_SEQUENCE_NODE, k->name))
		    != HGQ_OK)
			return rc;
		return walk_seq(w, k, n, dst, where);
	case K_SCHED:
		return walk_sched(w, k, n, dst, where);
	case K_STR:
		return str_get(w, k, n, (char **)(void *)dst);
	case K_U64:
		return u64_get(w, k, n, (uint64_t *)(void *)dst);
	case K_U32:
		if ((rc = int_get(w, k, n, &ll)) == HGQ_OK)
			*(uint32_t *)(void *)dst = (uint32_t)ll;
		return rc;
	case K_INT:
		if ((rc = int_get(w, k, n, &ll)) == HGQ_OK)
			*(int *)(void *)dst = (int)ll;
		return rc;
	case K_DBL:
		return dbl_get(w, k, n, (double *)(void *)dst);
	case K_BOOL:
		if ((rc = bool_get(w, k, n, (int *)(void *)dst)) == HGQ_OK &&
		    (k->flags & F_NOT))
			*(int *)(void *)dst ^= 1;
		return rc;
	case K_ENUM:
		return enum_get(w, k, n, (int *)(void *)dst);
	case K_KIND:
		return kind_get(w, k, n, (uint32_t *)(void *)dst);
	case K_DIMS:
		return dims_get(w, k, n, (struct hgq_conf_dims *)(void *)dst);
	case K_NAME:
		return name_get(w, k, n, dst);
	case K_NAMES:
		return names_get(w, k, n, (uint32_t *)(void *)dst);
	case K_FUNC:
		return func_get(w, k, n, (uint32_t *)(void *)dst);
	case K_MASK:
		return mask_get(w, k, n, base, where);
	}
	return node_err(w, n, HGQ_EINVAL, "internal: bad schema for '%s'",
	    k->name);
}

/*
 * walk_map - check and store every pair of a mapping against keys.
 * base is where the keys' offsets start; where names the mapping in
 * messages ("" at top level, "train.optimizer", "model.layers[2]").
 */
static int
walk_map(const struct walk *w, const yaml_node_t *map, const struct key *keys,
    char *base, const char *where)
{
	const yaml_node_pair_t *start = map->data.mapping.pairs.start;
	const yaml_node_pair_t *top = map->data.mapping.pairs.top;
	char shown[SHOW_MAX + 8], in[WHERE_MAX + 8], sub[WHERE_MAX];
	const yaml_node_t *kn, *prev;
	const struct key *k;
	const char *name;
	uint64_t seen = 0;
	int rc;

	for (const yaml_node_pair_t *p = start; p < top; p++) {
		kn = node_get(w, p->key);
		if (kn->type != YAML_SCALAR_NODE)
			return node_err(w, kn, HGQ_EINVAL, "expected a key %s, "
			    "got %s", where_show(where, in, sizeof(in)),
			    node_show(kn, shown, sizeof(shown)));
		name = (const char *)kn->data.scalar.value;
		text_show(kn->data.scalar.value, kn->data.scalar.length,
		    shown, sizeof(shown));
		for (const yaml_node_pair_t *q = start; q < p; q++) {
			prev = node_get(w, q->key);
			if (prev->data.scalar.length == kn->data.scalar.length
			    && memcmp(prev->data.scalar.value,
			    kn->data.scalar.value, kn->data.scalar.length) == 0)
				return node_err(w, kn, HGQ_EINVAL, "duplicate "
				    "key '%s' %s", shown,
				    where_show(where, in, sizeof(in)));
		}
		for (k = keys; k->name != NULL; k++)
			if (strlen(name) == kn->data.scalar.length &&
			    strcmp(name, k->name) == 0)
				break;
		if (k->name == NULL)
			return node_err(w, kn, HGQ_EINVAL, "unknown key "
			    "'%s' %s", shown,
			    where_show(where, in, sizeof(in)));
		seen |= (uint64_t)1 << (k - keys);
		snprintf(sub, sizeof(sub), "%s%s%s", where,
		    where[0] == '\0' ? "" : ".", k->name);
		rc = walk_value(w, k, node_get(w, p->value), base, sub);
		if (rc != HGQ_OK)
			return rc;
	}
	for (k = keys; k->name != NULL; k++)
		if ((k->flags & F_REQ) && !(seen & (uint64_t)1 << (k - keys)))
			return node_err(w, map, HGQ_EINVAL, "missing required "
			    "key '%s' %s", k->name,
			    where_show(where, in, sizeof(in)));
	return HGQ_OK;
}

/*
 * Graphs: names, references and outputs, resolved once every key is
 * stored (a reference may only name an earlier item, so cycles cannot
 * be written).
 */

/* the item or input called name: its reference, or UINT32_MAX */
static uint32_t
name_find(const struct hgq_config *c, const char *name)
{
	for (uint32_t k = 0; k < c->model.n_inputs; k++)
		if (strcmp(c->model.inputs[k].name, name) == 0)
			return HGQ_REF_INPUT | k;
	for (uint32_t j = 0; j < c->model.n_layers; j++)
		if (strcmp(c->model.layers[j].name, name) == 0)
			return j;
	return UINT32_MAX;
}

/* the idx-th item of a sequence node, or the node itself (a scalar) */
static const yaml_node_t *
seq_item(const struct walk *w, const yaml_node_t *n, size_t idx)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return n;
	return node_get(w, n->data.sequence.items.start[idx]);
}

/* names are unique among inputs and items, and no item has an input's */
static int
names_check(const struct walk *w, const struct hgq_config *c,
    const yaml_node_t *ins, const yaml_node_t *layers)
{
	const struct hgq_conf_input *in = c->model.inputs;
	const struct hgq_layer_conf *lc = c->model.layers;
	const yaml_node_t *at;

	for (uint32_t k = 0; k < c->model.n_inputs; k++)
		for (uint32_t u = 0; u < k; u++) {
			if (strcmp(in[u].name, in[k].name) != 0)
				continue;
			at = map_lookup(w, seq_item(w, ins, k), "name");
			return node_err(w, at, HGQ_EINVAL, "duplicate input "
			    "name '%s' in model.inputs", in[k].name);
		}
	for (uint32_t j = 0; j < c->model.n_layers; j++) {
		if (lc[j].name[0] == '\0')
			continue;
		at = map_lookup(w, seq_item(w, layers, j), "name");
		for (uint32_t k = 0; k < c->model.n_inputs; k++)
			if (strcmp(in[k].name, lc[j].name) == 0)
				return node_err(w, at, HGQ_EINVAL, "name '%s' "
				    "of model.layers[%" PRIu32 "] is the name "
				    "of a model input", lc[j].name, j);
		for (uint32_t u = 0; u < j; u++)
			if (strcmp(lc[u].name, lc[j].name) == 0)
				return node_err(w, at, HGQ_EINVAL, "duplicate "
				    "name '%s': model.layers[%" PRIu32 "] has "
				    "it", lc[j].name, u);
	}
	return HGQ_OK;
}

/* the number of inputs an item's type takes: [*lo, *hi] */
static void
refs_range(uint32_t kind, uint32_t *lo, uint32_t *hi)
{
	*lo = *hi = 1;
	if (kind == HGQ_LAYER_ADD || kind == HGQ_LAYER_CONCAT) {
		*lo = 2;
		*hi = HGQ_MAX_LAYER_INPUTS;
	} else if (kind == HGQ_LAYER_SUB) {
		*lo = *hi = 2;
	}
}

/* the inputs of item j: names to references, and their count */
static int
refs_resolve(const struct walk *w, struct hgq_config *c,
    const yaml_node_t *item, uint32_t j)
{
	struct hgq_layer_conf *lc = &c->model.layers[j];
	const yaml_node_t *ins = map_lookup(w, item, "inputs"), *at;
	const char *type = kind_name(lc->kind, lc->ndim), *name;
	uint32_t lo, hi, r;

	if (ins == NULL) {
		lc->n_refs = 1;
		lc->refs[0] = j == 0 ? HGQ_REF_INPUT : j - 1;
	}
	for (uint32_t q = 0; ins != NULL && q < lc->n_refs; q++) {
		at = seq_item(w, ins, q);
		name = (const char *)at->data.scalar.value;
		r = name_find(c, name);
		if (r == UINT32_MAX)
			return node_err(w, at, HGQ_EINVAL, "unknown name '%s' "
			    "in the inputs of model.layers[%" PRIu32 "]",
			    name, j);
		if (r == j)
			return node_err(w, at, HGQ_EINVAL, "model.layers[%"
			    PRIu32 "] cannot read itself ('%s')", j, name);
		if ((r & HGQ_REF_INPUT) == 0 && r > j)
			return node_err(w, at, HGQ_EINVAL, "'%s' is model."
			    "layers[%" PRIu32 "], a later item (an item reads "
			    "earlier items and model inputs)", name, r);
		lc->refs[q] = r;
	}
	refs_range(lc->kind, &lo, &hi);
	if (lc->n_refs >= lo && lc->n_refs <= hi)
		return HGQ_OK;
	at = ins != NULL ? ins : item;
	if (lo == hi)
		return node_err(w, at, HGQ_EINVAL, "a%s %s layer takes %"
		    PRIu32 " input%s, got %" PRIu32, type[0] == 'a' ? "n" : "",
		    type, lo, lo == 1 ? "" : "s", lc->n_refs);
	return node_err(w, at, HGQ_EINVAL, "a%s %s layer takes %" PRIu32
	    " to %" PRIu32 " inputs, got %" PRIu32, type[0] == 'a' ? "n" : "",
	    type, lo, hi, lc->n_refs);
}

/* model.outputs: names of items, each once; one with cross_entropy */
static int
outputs_resolve(const struct walk *w, struct hgq_config *c,
    const yaml_node_t *outs)
{
	const yaml_node_t *at;
	const char *name;
	uint32_t r;

	c->model.outputs_line = (uint32_t)outs->start_mark.line + 1;
	c->model.outputs_col = (uint32_t)outs->start_mark.column + 1;
	for (uint32_t q = 0; q < c->model.n_outputs; q++) {
		at = seq_item(w, outs, q);
		name = (const char *)at->data.scalar.value;
		r = name_find(c, name);
		if (r == UINT32_MAX)
			return node_err(w, at, HGQ_EINVAL, "unknown name '%s' "
			    "in model.outputs", name);
		if (r & HGQ_REF_INPUT)
			return node_err(w, at, HGQ_EINVAL, "'%s' is a model "
			    "input (model.outputs names items)", name);
		for (uint32_t u = 0; u < q; u++)
			if (c->model.outputs[u] == r)
				return node_err(w, at, HGQ_EINVAL, "'%s' appears "
				    "twice in model.outputs", name);
		c->model.outputs[q] = r;
	}
	if (c->model.n_outputs > 1 && c->train.loss == HGQ_LOSS_XENT)
		return node_err(w, outs, HGQ_EINVAL, "cross_entropy needs one "
		    "output, model.outputs names %" PRIu32 " (regression: "
		    "train.loss: mse)", c->model.n_outputs);
	return HGQ_OK;
}

/* every item and every input feeds something */
static int
usage_check(const struct walk *w, const struct hgq_config *c,
    const yaml_node_t *ins, const yaml_node_t *layers)
{
	const struct hgq_layer_conf *lc = c->model.layers;
	uint8_t used[HGQ_MAX_CONF_LAYERS], in_used[HGQ_MAX_PORTS];

	memset(used, 0, sizeof(used));
	memset(in_used, 0, sizeof(in_used));
	for (uint32_t j = 0; j < c->model.n_layers; j++)
		for (uint32_t q = 0; q < lc[j].n_refs; q++) {
			uint32_t r = lc[j].refs[q] & ~HGQ_REF_INPUT;

			if ((lc[j].refs[q] & HGQ_REF_INPUT) != 0 &&
			    r < HGQ_MAX_PORTS)
				in_used[r] = 1;
			else if (r < HGQ_MAX_CONF_LAYERS)
				used[r] = 1;
		}
	for (uint32_t q = 0; q < c->model.n_outputs; q++)
		if (c->model.outputs[q] < HGQ_MAX_CONF_LAYERS)
			used[c->model.outputs[q]] = 1;
	if (c->model.n_outputs == 0 && c->model.n_layers > 0 &&
	    c->model.n_layers <= HGQ_MAX_CONF_LAYERS)
		used[c->model.n_layers - 1] = 1;
	for (uint32_t j = 0; j < c->model.n_layers; j++)
		if (!used[j])
			return node_err(w, seq_item(w, layers, j), HGQ_EINVAL,
			    "the output of model.layers[%" PRIu32 "] is not "
			    "used (name it in model.outputs or in the inputs "
			    "of a later item)", j);
	for (uint32_t k = 0; k < c->model.n_inputs; k++)
		if (!in_used[k])
			return node_err(w, seq_item(w, ins, k), HGQ_EINVAL,
			    "model input '%s' is not used",
			    c->model.inputs[k].name);
	return HGQ_OK;
}

static int
graph_resolve(const struct walk *w, struct hgq_config *c,
    const yaml_node_t *root)
{
	const yaml_node_t *model = map_lookup(w, root, "model");
	const yaml_node_t *layers, *ins, *outs;
	const struct hgq_conf_dims *is = &c->data.input_shape;
	int rc;

	if (model == NULL || c->model.n_layers == 0)
		return HGQ_OK;
	layers = map_lookup(w, model, "layers");
	ins = map_lookup(w, model, "inputs");
	outs = map_lookup(w, model, "outputs");
	if (c->model.n_inputs > 0 && is->n > 0)
		return hgq_errf(w->err, HGQ_EINVAL, "%s:%" PRIu32 ":%" PRIu32
		    ": data.input_shape does not apply with model.inputs "
		    "(each input has its shape)", w->path, is->line, is->col);
	if ((rc = names_check(w, c, ins, layers)) != HGQ_OK)
		return rc;
	for (uint32_t j = 0; j < c->model.n_layers; j++)
		if ((rc = refs_resolve(w, c, seq_item(w, layers, j), j)) !=
		    HGQ_OK)
			return rc;
	if (outs != NULL && (rc = outputs_resolve(w, c, outs)) != HGQ_OK)
		return rc;
	return usage_check(w, c, ins, layers);
}

/*
 * Files and the parser.
 */

/* the whole file, NUL-terminated; path "-" is stdin */
static int
text_read(const char *path, char **out, size_t *out_len, struct hgq_err *err)
{
	FILE *f;
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0, got;
	int rc = HGQ_OK, saved;

	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL)
		return hgq_errf(err, HGQ_EIO, "cannot open '%s': %s", path,
		    strerror(errno));
	for (;;) {
		if (cap - len < 2) {
			cap = cap == 0 ? 8192 : cap * 2;
			if ((nb = realloc(buf, cap)) == NULL) {
				rc = hgq_errf(err, HGQ_ENOMEM, "%s: out of "
				    "memory", path);
				goto out;
			}
			buf = nb;
		}
		got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (len > MAX_TEXT) {
			rc = hgq_errf(err, HGQ_EINVAL, "%s: config larger than "
			    "%u bytes", path, MAX_TEXT);
			goto out;
		}
		if (got == 0) {
			if (ferror(f)) {
				saved = errno;
				rc = hgq_errf(err, HGQ_EIO, "cannot read '%s': "
				    "%s", path, strerror(saved));
				goto out;
			}
			break;
		}
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
out:
	free(buf);
	if (f != stdin)
		fclose(f);
	return rc;
}

/* a libyaml failure as "PATH:LINE:COL: problem context" */
static int
yaml_fail(const yaml_parser_t *p, const char *path, const char *text,
    size_t len, struct hgq_err *err)
{
	size_t line, col;

	if (p->error == YAML_MEMORY_ERROR)
		return hgq_errf(err, HGQ_ENOMEM, "%s: out of memory", path);
	if (p->error == YAML_READER_ERROR) {
		/* reader errors carry a byte offset, not a mark */
		line = 1;
		col = 1;
		for (size_t j = 0; j < p->problem_offset && j < len; j++) {
			if (text[j] == '\n') {
				line++;
				col = 1;
			} else
				col++;
		}
	} else {
		line = p->problem_mark.line + 1;
		col = p->problem_mark.column + 1;
	}
	return hgq_errf(err, HGQ_EFORMAT, "%s:%zu:%zu: %s%s%s", path, line, col,
	    p->problem != NULL ? p->problem : "invalid YAML",
	    p->context != NULL ? " " : "",
	    p->context != NULL ? p->context : "");
}

/*
 * depth_check - refuse collections nested deeper than MAX_DEPTH, from the
 * parser's events, before the document is built.  libyaml's scanner looks
 * at every open flow level for each token, so a file of a million '['
 * would take hours to load; the events stop at the first level too deep.
 * A syntax error found on the way is reported as yaml_parser_load would.
 */
static int
depth_check(const char *path, const char *text, size_t len,
    struct hgq_err *err)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, rc = HGQ_OK, done = 0;

	if (!yaml_parser_initialize(&p))
		return hgq_errf(err, HGQ_ENOMEM, "%s: out of memory", path);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = yaml_fail(&p, path, text, len, err);
			break;
		}
		if ((ev.type == YAML_SEQUENCE_START_EVENT ||
		    ev.type == YAML_MAPPING_START_EVENT) &&
		    ++depth > MAX_DEPTH)
			rc = hgq_errf(err, HGQ_EFORMAT, "%s:%zu:%zu: nested "
			    "deeper than %d levels", path,
			    (size_t)ev.start_mark.line + 1,
			    (size_t)ev.start_mark.column + 1, MAX_DEPTH);
		if (ev.type == YAML_SEQUENCE_END_EVENT ||
		    ev.type == YAML_MAPPING_END_EVENT)
			depth--;
		done = rc != HGQ_OK || ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return rc;
}

int
hgq_config_load(struct hgq_config *c, const char *path, struct hgq_err *err)
{
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	const yaml_node_t *root;
	struct walk w;
	size_t len = 0;
	int have_parser = 0, have_doc = 0, rc;

	hgq_config_init(c);
	if ((rc = text_read(path, &c->text, &len, err)) != HGQ_OK ||
	    (rc = depth_check(path, c->text, len, err)) != HGQ_OK)
		goto out;
	if ((c->path = strdup(path)) == NULL ||
	    !yaml_parser_initialize(&parser)) {
		rc = hgq_errf(err, HGQ_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	have_parser = 1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)c->text,
	    len);
	/* on failure, yaml_parser_load leaves no document to delete */
	if (!yaml_parser_load(&parser, &doc)) {
		rc = yaml_fail(&parser, path, c->text, len, err);
		goto out;
	}
	have_doc = 1;
	w.doc = &doc;
	w.path = path;
	w.err = err;
	root = yaml_document_get_root_node(&doc);
	if (root == NULL) {
		rc = hgq_errf(err, HGQ_EINVAL, "%s:1:1: expected a mapping at "
		    "top level, got an empty document", path);
		goto out;
	}
	if (root->type != YAML_MAPPING_NODE) {
		char shown[SHOW_MAX + 8];

		rc = node_err(&w, root, HGQ_EINVAL, "expected a mapping at top "
		    "level, got %s", node_show(root, shown, sizeof(shown)));
		goto out;
	}
	if ((rc = walk_map(&w, root, top_keys, (char *)c, "")) != HGQ_OK ||
	    (rc = graph_resolve(&w, c, root)) != HGQ_OK)
		goto out;
	if (!yaml_parser_load(&parser, &extra)) {
		rc = yaml_fail(&parser, path, c->text, len, err);
		goto out;
	}
	root = yaml_document_get_root_node(&extra);
	if (root != NULL)
		rc = node_err(&w, root, HGQ_EINVAL, "more than one YAML "
		    "document");
	yaml_document_delete(&extra);
out:
	if (have_doc)
		yaml_document_delete(&doc);
	if (have_parser)
		yaml_parser_delete(&parser);
	if (rc != HGQ_OK) {
		hgq_config_release(c);
		hgq_config_init(c);
	}
	return rc;
}

/*
 * hgq_sched_value - piecewise schedule.  Before the first point: its
 * value; at or after the last: the last value.  Inside [p[k], p[k+1]):
 * constant p[k].value, or linear in the epoch, or geometric (linear in
 * the log of the value) - which falls back to linear if an end is not
 * positive, as only hand-made schedules can have.
 */
double
hgq_sched_value(const struct hgq_sched_point *p, uint32_t n, double epoch)
{
	double t, v0, v1;
	uint32_t k;

	if (n == 0)
		return 0;
	if (!(epoch > p[0].epoch))	/* NaN too */
		return p[0].value;
	if (epoch >= p[n - 1].epoch)
		return p[n - 1].value;
	/* here p[0].epoch < epoch < p[n-1].epoch */
	for (k = 0; k + 2 < n && epoch >= p[k + 1].epoch; k++)
		;
	v0 = p[k].value;
	v1 = p[k + 1].value;
	t = (epoch - p[k].epoch) / (p[k + 1].epoch - p[k].epoch);
	switch (p[k].interp) {
	case HGQ_INTERP_LINEAR:
		return v0 + t * (v1 - v0);
	case HGQ_INTERP_LOG:
		if (v0 > 0 && v1 > 0)
			return exp(log(v0) + t * (log(v1) - log(v0)));
		return v0 + t * (v1 - v0);
	default:
		return v0;
	}
}
