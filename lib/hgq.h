/*
 * hgq.h - the public interface of libhgq: everything the programs in cmd/
 * use.  What only the library and its tests use is in lib/internal.h.
 *
 * How to use this library:
 *
 *  1. Every fallible call returns HGQ_OK (0) or a negative enum hgq_status
 *     and, on failure, fills a caller-owned struct hgq_err with a one-line
 *     message (no program name, no newline).  On success err is untouched.
 *  2. A model (struct hgq_model) is plain data: layers that alternate
 *     quantizer, operation (dense, conv, pooling, flatten), quantizer, ...,
 *     quantizer, on tensors with shapes (hgq_layer_shape()).  It is
 *     created by hgq_model_new(), filled by hgq_model_read() or by the
 *     trainer, and released by hgq_model_free().
 *  3. The fixed-point semantics (rounding, overflow, zero width) live in
 *     quant.c only: hgq_quant_mant() (integers) and hgq_fq_f64() (floats)
 *     give identical numbers.  Everything bit-exact calls them.
 *  4. hgq_model_read() reads exactly one model from a stream without
 *     seeking; hgq_model_write() writes it canonically (formats/hgqm.md).
 *  5. Data files (npy, CSV, IDX) are read by hgq_table_load() or streamed
 *     with hgq_reader_open()/hgq_reader_read().
 *  6. The library never exits and never prints; diagnostics go through
 *     the optional log callback (hgq_set_log).
 *  7. Every `threads` argument or field means the same: n > 0 is n
 *     threads (each function caps it: 64 for the engine and calibration,
 *     16 for the CMVM solver, 256 for training), 0 is one per online CPU.
 *     Only training's result depends on the count (hgq_train).
 */
#ifndef HGQ_H
#define HGQ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HGQ_VERSION "0.1.0"

/* ------------------------------------------------------------------ */
/* Status and errors                                                   */
/* ------------------------------------------------------------------ */

enum hgq_status {
	HGQ_OK		=  0,
	HGQ_EOF		=  1,	/* clean end of stream (readers only) */
	HGQ_ENOMEM	= -1,
	HGQ_EIO		= -2,	/* errno is meaningful */
	HGQ_EFORMAT	= -3,	/* not an hgq model / data file, or malformed */
	HGQ_EVERSION	= -4,	/* major version we do not read */
	HGQ_ECHECKSUM	= -5,
	HGQ_EINVAL	= -6,	/* bad arguments, shapes or values */
	HGQ_EUNSUPP	= -7,	/* required chunk or feature we do not know */
	HGQ_ERANGE	= -8,	/* a value or an accumulator exceeds a limit */
};

struct hgq_err {
	int	code;
	char	msg[256];
};
#define HGQ_ERR_INIT { 0, "" }

/*
 * Log callback: level 0 = progress/info, 1 = warning.  The default is no
 * logging.  The programs install a callback that prints to stderr.
 */
typedef void (*hgq_log_fn)(int level, const char *msg, void *arg);
void	hgq_set_log(hgq_log_fn fn, void *arg);

/* ------------------------------------------------------------------ */
/* Fixed-point semantics (quant.c) - the only place they are defined   */
/* ------------------------------------------------------------------ */

/*
 * A fixed-point format is (k, i, f): k in {0,1} the sign bit, i the integer
 * bits without the sign, f the fractional bits; i and f may be negative.
 * The width is w = k+i+f; w <= 0 means the element is pruned and always 0.
 * A value is represented by its integer mantissa m: value = m * 2^-f.
 *
 * Rounding of v = x*2^f:  RND floor(v + 1/2) (ties towards +inf),
 *                         TRN floor(v).
 * Overflow of the mantissa m (after rounding), with w = k+i+f > 0:
 *   WRAP     keep the low w bits; two's complement if k = 1, else unsigned
 *   SAT      clip to [-k*2^(i+f), 2^(i+f) - 1]
 *   SAT_SYM  clip to [-k*(2^(i+f) - 1), 2^(i+f) - 1]
 * (Saturating before rounding, as the reference does, gives the same
 * numbers because the bounds lie on the grid.)
 */
enum hgq_round		{ HGQ_RND = 0, HGQ_TRN = 1 };
enum hgq_overflow	{ HGQ_WRAP = 0, HGQ_SAT = 1, HGQ_SAT_SYM = 2 };

/* Limits on formats, shared by the model format and every reader. */
#define HGQ_MAX_IF	62	/* |i| <= 62 and |f| <= 62 */
#define HGQ_MAX_WIDTH	32	/* k+i+f <= 32 for activation elements */
#define HGQ_MAX_WF	62	/* |weight f| <= 62 */

struct hgq_fmt {
	int8_t	k, i, f;
};

static inline int
hgq_fmt_width(int k, int i, int f)
{
	int w = k + i + f;

	return w > 0 ? w : 0;
}

/*
 * hgq_quant_mant - requantize the mantissa m (value m*2^-from_f) to the
 * format (k, i, f) with the given rounding and overflow modes; returns the
 * new mantissa (value result*2^-f).  Exact for every input: shifts of 63 or
 * more bits are handled.  |m| < 2^62 is required (callers check bounds).
 */
int64_t	hgq_quant_mant(int64_t m, int from_f, int k, int i, int f,
	    int round, int overflow);

/* hgq_round_mant - the rounding step alone (no overflow), from from_f to f */
int64_t	hgq_round_mant(int64_t m, int from_f, int f, int round);

/* hgq_overflow_mant - the overflow step alone, on a mantissa already at f */
int64_t	hgq_overflow_mant(int64_t m, int k, int i, int f, int overflow);

/*
 * hgq_quant_f64 - quantize a finite double to a mantissa, with the same
 * semantics as hgq_quant_mant() applied to the exact value of x.  This is
 * how raw inputs enter the bit-exact world.  Exact for every finite x.
 */
int64_t	hgq_quant_f64(double x, int k, int i, int f, int round, int overflow);

/*
 * Float path (fake quantization).  hgq_fq_f64 returns the value (not the
 * mantissa) of quantizing x, identical to hgq_quant_f64(...)*2^-f.
 */
double	hgq_fq_f64(double x, int k, int i, int f, int round, int overflow);
/* ------------------------------------------------------------------ */
/* The model (model.c)                                                 */
/* ------------------------------------------------------------------ */

/*
 * Limits of a model, enforced by hgq_model_validate() and by the reader
 * before it allocates anything (formats/hgqm.md, "Limits").
 */
#define HGQ_MAX_LAYERS		256		/* layers in the chain */
#define HGQ_MAX_N		(1u << 24)	/* n_raw, n_in, n_out */
#define HGQ_MAX_WEIGHTS		(1u << 26)	/* n_in*n_out of a dense */
#define HGQ_MAX_TENSORS		64		/* float tensors per layer */
#define HGQ_MAX_META		1024		/* metadata entries */
#define HGQ_MAX_META_KEY	256		/* bytes of a metadata key */
#define HGQ_MAX_META_VALUE	(1u << 24)	/* bytes of a metadata value */
#define HGQ_MAX_CHUNKS		64		/* chunks in a file */

/* Layer kinds: stable numeric IDs, also used in the file format. */
enum hgq_layer_kind {
	HGQ_LAYER_QUANT		= 1,
	HGQ_LAYER_DENSE		= 2,
	HGQ_LAYER_CONV1D	= 3,	/* format 1.1 */
	HGQ_LAYER_CONV2D	= 4,	/* format 1.1 */
	HGQ_LAYER_MAXPOOL	= 5,	/* 1.1: 1-D or 2-D by rank */
	HGQ_LAYER_AVGPOOL	= 6,	/* 1.1: 1-D or 2-D by rank */
	HGQ_LAYER_FLATTEN	= 7,	/* format 1.1 */
	HGQ_LAYER_ADD		= 8,	/* 1.2: sum of 2..8 inputs, one shape */
	HGQ_LAYER_SUB		= 9,	/* 1.2: input 0 minus input 1 */
	HGQ_LAYER_CONCAT	= 10,	/* 1.2: inputs joined along l->axis */
	HGQ_LAYER_LUT		= 11,	/* 1.2: l->func of each element, a table */
};
#define HGQ_LAYER_KIND_MAX	HGQ_LAYER_LUT

/*
 * Shapes and graphs (format 1.1, formats/hgqm.md 4.3.1-4.3.3).  Every
 * layer has an output shape of rank 1..3, channels last: [n], [W, C],
 * [H, W, C].
 * Layers name their inputs by reference: a layer index below their own
 * (so a model is topologically ordered and acyclic by construction), or
 * HGQ_REF_INPUT | k for model input k (1.1 has one, k = 0).
 */
#define HGQ_MAX_RANK		3
#define HGQ_MAX_LAYER_INPUTS	8
#define HGQ_REF_INPUT		0x80000000u
/* multiplications (pooling: window reads) per sample in one layer */
#define HGQ_MAX_MACS		(1u << 26)

enum hgq_pad	{ HGQ_PAD_VALID = 0, HGQ_PAD_SAME = 1 };

enum hgq_act	{ HGQ_ACT_LINEAR = 0, HGQ_ACT_RELU = 1 };
enum hgq_gran	{ HGQ_GRAN_ELEMENT = 0, HGQ_GRAN_CHANNEL = 1, HGQ_GRAN_LAYER = 2 };
enum hgq_norm	{ HGQ_NORM_NONE = 0, HGQ_NORM_SCALE = 1, HGQ_NORM_STANDARD = 2 };
enum hgq_task	{ HGQ_TASK_CLASSIFY = 0, HGQ_TASK_REGRESS = 1 };

/*
 * The unary functions of a lookup-table layer (HGQ_LAYER_LUT, format
 * 1.2): stable numeric IDs.  The layer's output element e is
 * func(x_e) for the value x_e of its input quantizer's element e; the
 * quantizer after the layer quantizes that real number (hgq_lut_mant()
 * is the one definition).  An input wider than HGQ_MAX_LUT_BITS
 * (k + i + f) is refused: its table would have more than 2^12 entries.
 */
enum hgq_func {
	HGQ_FUNC_TANH		= 0,
	HGQ_FUNC_SIGMOID	= 1,	/* 1 / (1 + e^-x) */
	HGQ_FUNC_SOFTPLUS	= 2,	/* log(1 + e^x) */
	HGQ_FUNC_SILU		= 3,	/* x * sigmoid(x) */
	HGQ_FUNC_EXP		= 4,
};
#define HGQ_FUNC_MAX		HGQ_FUNC_EXP
#define HGQ_MAX_LUT_BITS	12

/* the name of a function ("tanh", ...; NULL if unknown), its number by
   name (-1 if unknown) */
const char *hgq_func_name(uint32_t func);
int	hgq_func_by_name(const char *name);
/* func(x) in binary64 (libm); the derivative for training */
double	hgq_func_f64(uint32_t func, double x);
double	hgq_func_grad_f64(uint32_t func, double x);
/*
 * hgq_lut_mant - the exact output of a lookup-table layer: the mantissa
 * (format k_o, i_o, f_o, round, overflow of the quantizer after it) of
 * func(m_in * 2^-f_in), for an input mantissa of the input quantizer.
 * Simulation, training's exact evaluation and the emitted ROM all call
 * this, so they agree bit for bit.
 */
int64_t	hgq_lut_mant(uint32_t func, int64_t m_in, int f_in, int k_o, int i_o,
	    int f_o, int round, int overflow);

/*
 * Roles of float training tensors: stable numeric IDs (format too).
 * Adam moments of a tensor with role R have roles R | HGQ_ROLE_M1 and
 * R | HGQ_ROLE_M2 (SGD momentum uses M1).
 */
enum hgq_role {
	HGQ_ROLE_WEIGHT		= 1,	/* dense: n_in*n_out, [i*n_out + j] */
	HGQ_ROLE_BIAS		= 2,	/* dense: n_out */
	HGQ_ROLE_WEIGHT_FBITS	= 3,	/* dense: by weight granularity */
	HGQ_ROLE_BIAS_FBITS	= 4,	/* dense: by bias granularity */
	HGQ_ROLE_ACT_FBITS	= 5,	/* quantizer: by granularity */
	HGQ_ROLE_ACT_ISTATE	= 6,	/* quantizer: n, tracked integer bits */
	HGQ_ROLE_ACT_KSTATE	= 7,	/* quantizer: n, 1 if negative seen */
	HGQ_ROLE_BN_MEAN	= 8,	/* dense with batchnorm: n_out */
	HGQ_ROLE_BN_VAR		= 9,
	HGQ_ROLE_BN_GAMMA	= 10,
	HGQ_ROLE_BN_BETA	= 11,
	HGQ_ROLE_MASK		= 12,	/* dense/conv: n_weights, 0 or 1: a
					   0 fixes that weight at exactly 0 */
	HGQ_ROLE_M1		= 0x100,
	HGQ_ROLE_M2		= 0x200,
};

struct hgq_tensor {
	uint32_t	 role;		/* enum hgq_role, possibly | M1/M2 */
	uint32_t	 n;		/* number of floats */
	float		*data;
};

struct hgq_layer {
	uint32_t	 kind;		/* enum hgq_layer_kind */
	uint32_t	 n_in, n_out;	/* a quantizer has n_in == n_out */

	/* HGQ_LAYER_QUANT */
	uint8_t		 round;		/* enum hgq_round */
	uint8_t		 overflow;	/* enum hgq_overflow */
	uint8_t		 gran;		/* granularity of the f parameter */
	uint8_t		 trainable;	/* f is trained (else fixed) */
	int8_t		*k, *i, *f;	/* n_out each: the exact format;
					   NULL until calibrated */
	double		*cal_min, *cal_max;	/* n_out: calibration range
					   seen (values), or NULL */

	/* HGQ_LAYER_DENSE: y_j = act(sum_i x_i*w_ij + b_j) */
	uint8_t		 act;		/* enum hgq_act */
	uint8_t		 bn;		/* batchnorm fused in training */
	uint8_t		 w_gran, b_gran;
	int32_t		*w_m;		/* n_in*n_out mantissas, [i*n_out+j] */
	int8_t		*w_f;		/* n_in*n_out fractional bits */
	int32_t		*b_m;		/* n_out */
	int8_t		*b_f;		/* n_out */

	/*
	 * Shape and inputs (format 1.1).  rank 0 means "flat": the output
	 * shape is [n_out], as in every model of format 1.0, so that code
	 * that builds or edits chains of dense layers by n_in/n_out keeps
	 * working; n_inputs 0 means "the implied input": layer j - 1, or
	 * model input 0 for layer 0.  Read them through hgq_layer_shape()
	 * and hgq_layer_input().  n_out is always the product of the
	 * shape and n_in that of the (first) input's shape.
	 */
	uint8_t		 rank;		/* 0 (flat) or 1..3 */
	uint32_t	 shape[HGQ_MAX_RANK];	/* output; 0 past rank */
	uint32_t	 n_inputs;	/* 0 (implied) or 1..8 */
	uint32_t	 inputs[HGQ_MAX_LAYER_INPUTS];	/* references */

	/*
	 * HGQ_LAYER_CONV1D/CONV2D: out[p][co] = act(sum over the taps t of
	 * the receptive field of position p of in[t] * w[t][co] + b[co]),
	 * with the layer's act, bn, w_gran, b_gran and the dense arrays:
	 * w_m, w_f hold KH*KW*C_in*C_out weights in Keras order
	 * [KH][KW][C_in][C_out], row-major; b_m, b_f C_out.  Conv1D is
	 * Conv2D on [1, W, C] (kernel[0] = stride[0] = 1).
	 * HGQ_LAYER_MAXPOOL/AVGPOOL: window kernel, stride, valid only.
	 * See hgq_layer_window() for the exact geometry.
	 */
	/*
	 * Format 1.2: HGQ_LAYER_ADD (2..8 inputs) and SUB (2) of inputs of
	 * the layer's own shape, exact; CONCAT joins its inputs (same rank,
	 * equal dims but on axis) along axis 0..rank-1; LUT (one input, its
	 * shape) applies func (enum hgq_func) to each element.
	 */
	uint8_t		 axis;		/* CONCAT */
	uint8_t		 func;		/* LUT */

	uint32_t	 kernel[2];	/* [KH, KW] or pool [PH, PW] */
	uint32_t	 stride[2];	/* [SH, SW] */
	uint8_t		 padding;	/* enum hgq_pad (conv only) */

	/* float training state (any layer); n_tensors = 0 when absent */
	uint32_t	 n_tensors;
	struct hgq_tensor *tensors;
};

/*
 * A named model input or output (format 1.2).  Model input k is read by
 * exactly one layer, a quantizer, through the reference
 * HGQ_REF_INPUT | k; its elements are the next n_in of that layer of the
 * index map (input 0 first).  An output names a quantizer layer whose
 * values are part of the model output (outputs concatenated in order).
 */
#define HGQ_MAX_PORTS		8
#define HGQ_MAX_PORT_NAME	32	/* [A-Za-z_][A-Za-z0-9_]*, bytes */
struct hgq_port {
	char		 name[HGQ_MAX_PORT_NAME + 1];
	uint32_t	 layer;		/* output: the quantizer; input: the
					   layer that reads it */
};

/* free-form metadata: UTF-8 key and value, no NUL inside */
struct hgq_meta {
	char	*key;
	char	*value;
};

/* an optional chunk this library does not know, copied through */
struct hgq_chunk {
	char		 id[4];
	uint32_t	 flags;
	uint64_t	 len;
	uint8_t		*data;		/* stored bytes, as read */
};

/* training progress, so that a run can resume (optional) */
struct hgq_train_state {
	uint32_t	 epoch;		/* epochs completed */
	uint64_t	 step;		/* optimizer steps taken */
	uint64_t	 rng[4];	/* random generator state */
	double		 lr_scale;	/* reserved; 1.0 */
};

struct hgq_model {
	uint32_t	 task;		/* enum hgq_task */
	uint32_t	 n_raw;		/* columns of the raw input */
	uint32_t	*index_map;	/* layers[0].n_in: raw column of each
					   element of the first quantizer */
	uint32_t	 norm;		/* enum hgq_norm */
	double		*norm_offset;	/* n_raw: x' = (x - offset) * scale */
	double		*norm_scale;	/* n_raw */

	uint32_t	 n_layers;
	struct hgq_layer *layers;

	/*
	 * Named inputs and outputs (format 1.2).  n_in_ports = 0 means one
	 * unnamed input read by layer 0, n_out_ports = 0 one unnamed output,
	 * the last layer: every model of format 1.0 and 1.1.
	 */
	uint32_t	 n_in_ports, n_out_ports;
	struct hgq_port	 in_ports[HGQ_MAX_PORTS];
	struct hgq_port	 out_ports[HGQ_MAX_PORTS];

	int		 calibrated;	/* every quantizer has k, i, f and
					   every dense layer w_m/b_m */
	int		 has_train;	/* train is meaningful */
	struct hgq_train_state train;

	uint32_t	 n_meta;
	struct hgq_meta	*meta;

	uint32_t	 n_extra;
	struct hgq_chunk *extra;

	/*
	 * Flags hgq_model_write() ORs into its own: hgq_model_read() sets
	 * HGQ_WRITE_COMPRESS when the file's known chunks were deflated, so
	 * that read -> write reproduces the file byte for byte.  Set it to
	 * 0 to write a read model uncompressed.  hgq_model_new() sets 0.
	 */
	unsigned	 write_flags;
	/* the minor version of the file hgq_model_read() read (0 for a
	   model made in memory; hgq_model_write() writes its own) */
	unsigned	 format_minor;
};

/*
 * hgq_model_new - an empty model (no layers, n_raw = 0) with calloc'ed
 * fields; NULL on allocation failure.  hgq_model_free releases the model
 * and everything it points to (NULL is fine).
 */
struct hgq_model *hgq_model_new(void);
void	hgq_model_free(struct hgq_model *m);

/*
 * hgq_model_add_layer - append a zeroed layer of the given kind and shape;
 * returns it or NULL (ENOMEM).  The layer is flat (rank 0: shape
 * [n_out]) and reads the layer before it (n_inputs 0), as in format 1.0;
 * hgq_model_add_shaped() makes shaped layers.  Arrays are not allocated: use
 * hgq_layer_alloc_fixed() for k/i/f (quantizer) or w_m/w_f/b_m/b_f (dense).
 * m->layers may move: pointers to earlier layers become stale.
 * hgq_layer_alloc_fixed (re)allocates those arrays zeroed (EINVAL for
 * other kinds, ENOMEM).
 */
struct hgq_layer *hgq_model_add_layer(struct hgq_model *m, uint32_t kind,
	    uint32_t n_in, uint32_t n_out);
int	hgq_layer_alloc_fixed(struct hgq_layer *l, struct hgq_err *err);

/*
 * hgq_model_set_input - set n_raw, an identity index_map (the first layer
 * must exist) and normalisation "none".
 */
int	hgq_model_set_input(struct hgq_model *m, uint32_t n_raw,
	    struct hgq_err *err);

/* hgq_layer_tensor - the tensor with a role, or NULL */
struct hgq_tensor *hgq_layer_tensor(const struct hgq_layer *l, uint32_t role);
/*
 * hgq_layer_add_tensor - add (or replace the data of) the tensor of a role:
 * n zeroed floats, owned by the model.  NULL on ENOMEM (err may be NULL).
 * l->tensors may move: earlier tensor pointers of the layer become stale.
 */
struct hgq_tensor *hgq_layer_add_tensor(struct hgq_layer *l, uint32_t role,
	    uint32_t n, struct hgq_err *err);

/* metadata: set replaces a key's value; get returns NULL if absent */
int	hgq_meta_set(struct hgq_model *m, const char *key, const char *value,
	    struct hgq_err *err);
const char *hgq_meta_get(const struct hgq_model *m, const char *key);

/*
 * hgq_model_validate - check the structural invariants of the model
 * (hgq_model_validate_graph(): alternating layers, shapes implied by
 * the kinds and inputs, references, limits; then index_map within n_raw,
 * k/i/f and mantissas within the limits of hgq.h when calibrated; arrays
 * of the sizes hgq_layer_n_weights() and hgq_layer_n_bias() give, tensor
 * roles by kind).  Every reader
 * calls it; so should anything that builds a model by hand.  The full
 * list is formats/hgqm.md section 4 and the HGQ_MAX_* limits above; in
 * short: sizes 1..HGQ_MAX_N; calibrated => every quantizer has k/i/f and
 * every dense w_m/w_f/b_m/b_f; cal_min and cal_max both or neither;
 * norm != NONE => finite offsets and finite non-zero scales; tensors:
 * known role for the layer kind (bn roles only when bn; M1/M2 only of
 * trained roles), the size the role implies, each role once; unique
 * UTF-8 metadata keys; extra chunks optional, with unknown unique ids.
 * Returns HGQ_OK, HGQ_EINVAL with a message naming the layer/element,
 * or HGQ_EUNSUPP (see hgq_model_validate_graph()).
 */
int	hgq_model_validate(const struct hgq_model *m, struct hgq_err *err);

/*
 * hgq_model_validate_graph - the part of hgq_model_validate() that needs
 * no array: layer count, kinds, modes, shapes, inputs (references,
 * alternation, readers), the input and output ports, and the limits on
 * the sizes they imply (every product checked without overflow).  The
 * reader calls it after GRPH, before it allocates anything from the
 * shapes.  HGQ_OK, HGQ_EINVAL, or HGQ_EUNSUPP for a layer the format
 * defines but libhgq cannot compute exactly (average pooling over an
 * area that is not a power of two).
 */
int	hgq_model_validate_graph(const struct hgq_model *m,
	    struct hgq_err *err);

/* hgq_model_copy - deep copy; NULL on allocation failure */
struct hgq_model *hgq_model_copy(const struct hgq_model *m);

/* the model output's length: the sum of the output quantizers' n (one
   output, the last layer, without ports); 0 without layers */
uint32_t hgq_model_n_out(const struct hgq_model *m);

/* ------------------------------------------------------------------ */
/* Shapes, inputs and windows of layers (model.c; format 1.1)          */
/* ------------------------------------------------------------------ */

/* the name of a layer kind ("quantizer", "conv2d", ...; "unknown") */
const char *hgq_layer_kind_name(uint32_t kind);

/*
 * hgq_layer_shape - the output shape of l into dims[0..rank) (0 past
 * it); returns the rank, 1..HGQ_MAX_RANK (a flat layer, rank 0 in the
 * struct, gives 1 and [n_out]).
 */
uint32_t hgq_layer_shape(const struct hgq_layer *l,
	    uint32_t dims[HGQ_MAX_RANK]);

/*
 * hgq_layer_n_inputs, hgq_layer_input - how many inputs layer j of m
 * reads and its q-th reference (a layer index < j, or HGQ_REF_INPUT | k);
 * a layer with n_inputs 0 reads j - 1, or model input 0 when j = 0.
 */
uint32_t hgq_layer_n_inputs(const struct hgq_layer *l);
uint32_t hgq_layer_input(const struct hgq_model *m, uint32_t j, uint32_t q);

/*
 * Model inputs and outputs (format 1.2; a model without ports has one
 * input, read by layer 0, and one output, the last layer).
 * hgq_model_n_inputs - the number of model inputs (>= 1).
 * hgq_model_input_layer - the quantizer that reads input k.
 * hgq_model_input_offset - the index-map position of input k's element 0
 *   (the inputs' elements follow each other in input order).
 * hgq_model_n_in - the index map's length: every input's elements.
 * hgq_model_n_outputs, hgq_model_output_layer - the outputs and the
 *   quantizer of output k; hgq_model_n_out (below) sums their lengths.
 * hgq_model_is_chain - true when the model is a chain of format 1.1:
 *   one input and output, every layer reading the one before it, no
 *   kind of 1.2 and no mask (what programs without graph support take).
 * Meaningful once hgq_model_validate_graph() accepted m; set the ports
 * before hgq_model_set_input().
 */
uint32_t hgq_model_n_inputs(const struct hgq_model *m);
uint32_t hgq_model_input_layer(const struct hgq_model *m, uint32_t k);
uint32_t hgq_model_input_offset(const struct hgq_model *m, uint32_t k);
uint32_t hgq_model_n_in(const struct hgq_model *m);
uint32_t hgq_model_n_outputs(const struct hgq_model *m);
uint32_t hgq_model_output_layer(const struct hgq_model *m, uint32_t k);
int	hgq_model_is_chain(const struct hgq_model *m);

/*
 * hgq_layer_in_shape - the shape of the first input of layer j: the
 * shape of the layer it references, or for the model input layer 0's
 * own shape (a quantizer, which keeps the shape).  Returns the rank.
 * Meaningful once hgq_model_validate() accepted m.
 */
uint32_t hgq_layer_in_shape(const struct hgq_model *m, uint32_t j,
	    uint32_t dims[HGQ_MAX_RANK]);

/*
 * hgq_layer_n_weights, hgq_layer_n_bias - the lengths of w_m/w_f and
 * b_m/b_f of layer j: n_in*n_out and n_out for dense, KH*KW*C_in*C_out
 * and C_out for a convolution, 0 for other kinds.  Meaningful once the
 * shapes are valid (then n_weights <= HGQ_MAX_WEIGHTS).
 */
uint64_t hgq_layer_n_weights(const struct hgq_model *m, uint32_t j);
uint32_t hgq_layer_n_bias(const struct hgq_model *m, uint32_t j);

/*
 * hgq_layer_set_shape - set the output shape (rank 1..3, each dim >= 1)
 * and n_out = its product; HGQ_EINVAL when the product exceeds
 * HGQ_MAX_N.  hgq_layer_set_inputs - set the input references (1..
 * HGQ_MAX_LAYER_INPUTS; checked by hgq_model_validate()).
 */
int	hgq_layer_set_shape(struct hgq_layer *l, uint32_t rank,
	    const uint32_t *dims, struct hgq_err *err);
int	hgq_layer_set_inputs(struct hgq_layer *l, uint32_t n,
	    const uint32_t *refs, struct hgq_err *err);

/*
 * hgq_model_add_shaped - append a layer of a kind that reads the last
 * layer (or model input 0 when it is the first), with output shape
 * dims (rank 1..3); n_in is the last layer's n_out (for the first layer
 * the product of dims).  Conv/pool parameters are set by the caller
 * (kernel, stride, padding).  NULL on ENOMEM or a shape beyond the
 * limits (err filled; err may be NULL).  m->layers may move.
 */
struct hgq_layer *hgq_model_add_shaped(struct hgq_model *m, uint32_t kind,
	    uint32_t rank, const uint32_t *dims, struct hgq_err *err);

/*
 * hgq_model_alloc_fixed - hgq_layer_alloc_fixed() for layer j of any
 * kind: k/i/f (quantizer), w_m/w_f/b_m/b_f of hgq_layer_n_weights() and
 * hgq_layer_n_bias() (dense, conv), nothing (pooling, flatten).  The
 * shapes must be valid (hgq_model_validate_graph()).
 */
int	hgq_model_alloc_fixed(struct hgq_model *m, uint32_t j,
	    struct hgq_err *err);

/*
 * The window geometry of a convolution or pooling layer: the lowering of
 * formats/hgqm.md 4.3.2 "each output position is a dense layer".  Input
 * [in_h, in_w, in_c] (rank-2 tensors [W, C] as [1, W, C]); output
 * [out_h, out_w, out_c] in n_pos = out_h*out_w positions p = oh*out_w +
 * ow.  Tap t = (kh*k_w + kw)*in_c + c, t < n_taps = k_h*k_w*in_c, reads
 * input element ((oh*s_h + kh - pad_top)*in_w + ow*s_w + kw -
 * pad_left)*in_c + c, or zero padding when that row or column lies
 * outside the input.  A convolution's output element p*out_c + co is
 * then sum_t in[tap t] * w[t*out_c + co] + b[co]: exactly a dense layer
 * of n_taps inputs and out_c outputs with the layer's arrays.  A
 * pooling output element p*out_c + c takes the taps with t % in_c == c
 * (out_c = in_c; no padding).
 */
#define HGQ_TAP_PAD	UINT32_MAX	/* a tap in the zero padding */

struct hgq_window {
	uint32_t	 in_h, in_w, in_c;
	uint32_t	 out_h, out_w, out_c;
	uint32_t	 k_h, k_w, s_h, s_w;
	uint32_t	 pad_top, pad_left;	/* zeros before ("same") */
	uint32_t	 n_pos;		/* out_h*out_w */
	uint32_t	 n_taps;	/* k_h*k_w*in_c */
};

/*
 * hgq_layer_window - the geometry of layer j (conv1d/conv2d/maxpool/
 * avgpool) of a model hgq_model_validate() accepted.  HGQ_EINVAL for
 * another kind.
 */
int	hgq_layer_window(const struct hgq_model *m, uint32_t j,
	    struct hgq_window *w, struct hgq_err *err);

/*
 * hgq_window_taps - idx[0..n_taps) = the input element of each tap of
 * output position p (< n_pos), or HGQ_TAP_PAD.  No allocation.
 */
void	hgq_window_taps(const struct hgq_window *w, uint32_t p,
	    uint32_t *idx);

/*
 * hgq_model_dense_only - HGQ_OK when every layer of m is a quantizer or
 * a dense layer on flat tensors, the chain of format 1.0 that the
 * engine, EBOPs, pruning, the emitter and the trainer process today;
 * otherwise HGQ_EUNSUPP "layer N (KIND): not supported by WHAT yet".
 */
int	hgq_model_dense_only(const struct hgq_model *m, const char *what,
	    struct hgq_err *err);

/* ------------------------------------------------------------------ */
/* The HGQM file format (format.c) - spec in formats/hgqm.md           */
/* ------------------------------------------------------------------ */

/*
 * hgq_model_read - read exactly one model from f, never reading past its
 * last byte and never seeking.  On success *out owns a new model.
 * Returns HGQ_OK, HGQ_EOF (stream empty before the first byte), or
 * EFORMAT / EVERSION / ECHECKSUM / EUNSUPP / EIO / ENOMEM.  *out is NULL
 * unless HGQ_OK.  Sets m->write_flags to HGQ_WRITE_COMPRESS when the
 * file's chunks were deflated.  Unknown optional chunks go to m->extra.
 */
int	hgq_model_read(FILE *f, struct hgq_model **out, struct hgq_err *err);

/*
 * hgq_model_read_file - the same from a path ("-" = stdin) that holds
 * exactly one model: a byte after its last chunk is HGQ_EFORMAT
 */
int	hgq_model_read_file(const char *path, struct hgq_model **out,
	    struct hgq_err *err);

/*
 * hgq_model_write - write m canonically (deterministic bytes; a model read
 * and written again is byte-identical).  Validates first.  flags, ORed
 * with m->write_flags: HGQ_WRITE_COMPRESS deflates the FIXP, CALB and
 * TRNS chunks; HGQ_WRITE_NO_TRAIN omits the float training state (TRNS).
 * Flushes f but does not close it.  Returns HGQ_OK, HGQ_EINVAL (invalid
 * model, or a chunk beyond the format's limits), HGQ_EIO or HGQ_ENOMEM;
 * on failure part of the model may have been written.
 */
/*
 * hgq_model_format_minor - the minor version hgq_model_write() gives m
 * (with its training state): 2 when m uses something of format 1.2 (a
 * kind >= HGQ_LAYER_ADD, ports, a mask tensor; without TRNS a mask is not
 * written and does not count), else 0 when format 1.0 describes it (a
 * chain of quantizer and dense layers on flat tensors), else 1.  m must
 * be valid.
 */
unsigned hgq_model_format_minor(const struct hgq_model *m);

#define HGQ_WRITE_COMPRESS	0x1
#define HGQ_WRITE_NO_TRAIN	0x2
int	hgq_model_write(FILE *f, const struct hgq_model *m, unsigned flags,
	    struct hgq_err *err);

/*
 * hgq_model_save - write m to path atomically (hgq_afile_open below): a
 * temporary file in the same folder, fsync, rename.  On failure nothing
 * is left under path or under the temporary name.  The previous file at
 * path stays intact until the rename.
 */
int	hgq_model_save(const char *path, const struct hgq_model *m,
	    unsigned flags, struct hgq_err *err);

/*
 * Atomic output files: every file the library and the programs write
 * under a name goes through these (hgq_model_save included).
 * hgq_afile_open creates a new temporary file beside path, named
 * "path.tmp.<pid>" (or "path.tmp.<pid>.<n>" when that name is taken: an
 * existing file or symlink is never written through), and *a owns it.
 * Write to hgq_afile_stream(*a).  hgq_afile_commit flushes, fsyncs and
 * closes it, then renames it over path: until then a previous file at
 * path is intact, and on failure the temporary file is removed.
 * hgq_afile_abort closes and removes it (NULL is fine).  Both release a.
 * hgq_afile_cleanup removes every temporary file still open; it is
 * async-signal-safe, meant for a program's fatal-signal handler and exit
 * paths (the library installs no handler).  Errors: HGQ_EIO ("cannot
 * create 'path': ...", "cannot write 'path': ...", "cannot rename to
 * 'path': ..."), HGQ_EINVAL (more than 32 open at once), HGQ_ENOMEM.
 */
struct hgq_afile;
int	hgq_afile_open(struct hgq_afile **a, const char *path,
	    struct hgq_err *err);
FILE	*hgq_afile_stream(const struct hgq_afile *a);
int	hgq_afile_commit(struct hgq_afile *a, struct hgq_err *err);
void	hgq_afile_abort(struct hgq_afile *a);
void	hgq_afile_cleanup(void);

/* ------------------------------------------------------------------ */
/* Model inspection (dump.c)                                           */
/* ------------------------------------------------------------------ */

/* hgq_model_dump_json - the whole model as JSON (DESIGN.md "JSON dump") */
int	hgq_model_dump_json(FILE *out, const struct hgq_model *m,
	    struct hgq_err *err);

/* ------------------------------------------------------------------ */
/* Data files (data.c): npy, CSV, IDX (optionally gzip)               */
/* ------------------------------------------------------------------ */

/*
 * Formats.  npy: versions 1.0-3.0; dtypes u1..u8, i1..i8, f2, f4, f8 and
 * b1, little- or big-endian; C order only; shape (n,) is n x 1, (n, c) is
 * n x c, (n, d1, .., dk) for k = 2, 3 is n rows of d1*..*dk columns with
 * the row shape [d1, .., dk] (struct hgq_table), ranks above 4 are
 * HGQ_EUNSUPP.  IDX: types 08 09 0B 0C 0D 0E; item i is row i, the other
 * dimensions flattened; items of rank 2 are images of shape [H, W, 1].  CSV: numbers separated by
 * ',' ';' or tab (chosen from the first line: tab, else ';', else ','),
 * fields may be double-quoted, "\r\n" is fine, "# ..." lines are skipped,
 * blank lines only at the end.  Any of them may be gzip-compressed (found
 * by the magic 1f 8b).  Path "-" reads stdin.
 * Nothing is silently dropped: NaN or Inf (in float data or a CSV field),
 * truncated data and data after the last row are errors.
 * Messages: CSV names the physical line (from 1, header and comments
 * counted), "x.csv:7: field 3: not a number 'abc'"; npy and IDX name the
 * 0-based row (numpy's index), "x.npy: row 17: NaN".
 */
/* at most this many columns in any data file (a row is then 128 MiB) */
#define HGQ_DATA_MAX_COLS	(1u << 24)

enum hgq_data_kind {
	HGQ_DATA_AUTO = 0,	/* by magic bytes, then by file name */
	HGQ_DATA_NPY, HGQ_DATA_CSV, HGQ_DATA_IDX,
};

struct hgq_data_opts {
	int	kind;		/* enum hgq_data_kind */
	int	label_col;	/* 0-based column holding the label (any
				   kind; the other columns are x); -1: none */
	int	header;		/* CSV: -1 auto (the first row that is not a
				   comment is a header if a field is text),
				   0 none, 1 line 1 is a header, skip it */
};
/* defaults: kind AUTO, label_col -1, header -1 */
void	hgq_data_opts_init(struct hgq_data_opts *o);

/*
 * A whole table in memory: n_rows x n_cols doubles, row-major.  x and y
 * are owned by the table and freed by hgq_table_release().
 */
struct hgq_table {
	size_t	 n_rows, n_cols;
	uint32_t rank;		/* shape of a row: 1..3, product n_cols */
	uint32_t shape[3];	/* channels last; [n_cols] when flat */
	double	*x;
	double	*y;		/* with label_col: n_rows labels, or NULL */
};

/*
 * hgq_table_load - load a whole data file (o NULL: defaults).  A 1-D npy
 * or an IDX with one dimension gives n_cols = 1; an IDX of rank > 2 is
 * flattened per item.  On failure t is zeroed.  Returns HGQ_OK, HGQ_EIO
 * (open/read), HGQ_EFORMAT (malformed, truncated, ragged, not a number),
 * HGQ_EVERSION (npy version), HGQ_EUNSUPP (dtype, byte order, Fortran
 * order, rank), HGQ_EINVAL (NaN/Inf, bad label_col) or HGQ_ENOMEM.
 * hgq_table_release frees x and y and zeroes t (twice is fine).
 */
int	hgq_table_load(const char *path, const struct hgq_data_opts *o,
	    struct hgq_table *t, struct hgq_err *err);
void	hgq_table_release(struct hgq_table *t);

/*
 * Streaming: for bounded-memory processing of big inputs.  The reader
 * reads sequentially (pipes are fine) and holds a few hundred KiB
 * whatever the file size.  hgq_reader_open reads the header (for CSV: up
 * to the first data row) and returns the same codes as hgq_table_load;
 * on success *r is a handle the caller closes with hgq_reader_close.
 * Any error from hgq_reader_read poisons the reader: later calls return
 * the same code and message.
 */
struct hgq_reader;
int	hgq_reader_open(struct hgq_reader **r, const char *path,
	    const struct hgq_data_opts *o, struct hgq_err *err);
/* columns of x (the file's columns minus the label column) */
size_t	hgq_reader_cols(const struct hgq_reader *r);
/* rows read so far (for messages) */
size_t	hgq_reader_row(const struct hgq_reader *r);
/*
 * hgq_reader_read - read up to max_rows (> 0) rows into x (max_rows*cols)
 * and, when the reader has a label column, y (max_rows; may be NULL
 * otherwise).  Fewer rows than max_rows only at the end; *n_read = 0 and
 * HGQ_OK at the end of the data (and on every call after it).
 */
int	hgq_reader_read(struct hgq_reader *r, double *x, double *y,
	    size_t max_rows, size_t *n_read, struct hgq_err *err);
void	hgq_reader_close(struct hgq_reader *r);	/* NULL is fine */

/*
 * hgq_labels_check - labels must be integers in [0, n_classes); the
 * message names the file and the first bad 0-based row:
 * "NAME: row 3: label 12 out of range [0, 10)", "... not an integer".
 * HGQ_OK or HGQ_EINVAL (also for n_classes == 0).
 */
int	hgq_labels_check(const double *y, size_t n, uint32_t n_classes,
	    const char *name, struct hgq_err *err);

/*
 * hgq_npy_write_f64/_i64 - write rows x cols values as an npy v1.0 file
 * ('<f8' / '<i8', C order), shape (rows, cols), or (rows,) when cols == 0;
 * the header is numpy's, padded with spaces and '\n' so that the data
 * starts at a multiple of 64 bytes.  Every write is checked: HGQ_EIO
 * (message "cannot write npy: <strerror>"); HGQ_EINVAL if too large.
 * The caller flushes and closes f.
 */
int	hgq_npy_write_f64(FILE *f, const double *x, size_t rows, size_t cols,
	    struct hgq_err *err);
int	hgq_npy_write_i64(FILE *f, const int64_t *x, size_t rows, size_t cols,
	    struct hgq_err *err);

/*
 * Streaming npy writing, for rows whose count is known only at the end:
 * hgq_npy_writer_open writes a header of 0 rows ('<i8' when i64, '<f8'
 * otherwise; cols == 0: a 1-D array) at the current position of f, which
 * must be seekable (a regular file: HGQ_EIO otherwise); each
 * hgq_npy_writer_add appends rows x cols values (little-endian); and
 * hgq_npy_writer_close writes the header again in place with the count
 * (the same length whatever the count) and frees w (NULL is fine).  The
 * file is byte for byte what hgq_npy_write_f64/_i64 write.  The caller
 * flushes and closes f.  HGQ_EIO, HGQ_ENOMEM or HGQ_EINVAL (too large).
 */
struct hgq_npy_writer;
int	hgq_npy_writer_open(struct hgq_npy_writer **w, FILE *f, int i64,
	    size_t cols, struct hgq_err *err);
int	hgq_npy_writer_add(struct hgq_npy_writer *w, const void *x,
	    size_t rows, struct hgq_err *err);
int	hgq_npy_writer_close(struct hgq_npy_writer *w, struct hgq_err *err);

/* ------------------------------------------------------------------ */
/* Training configuration (config.c; the only file that includes yaml.h) */
/* ------------------------------------------------------------------ */

#define HGQ_MAX_CONF_LAYERS	64
#define HGQ_MAX_SCHED		64

enum hgq_interp		{ HGQ_INTERP_CONST = 0, HGQ_INTERP_LINEAR = 1,
			  HGQ_INTERP_LOG = 2 };
enum hgq_loss		{ HGQ_LOSS_XENT = 0, HGQ_LOSS_MSE = 1 };
enum hgq_optim		{ HGQ_OPT_ADAM = 0, HGQ_OPT_SGD = 1 };
enum hgq_lr_sched	{ HGQ_LR_CONST = 0, HGQ_LR_COSINE = 1,
			  HGQ_LR_COSINE_RESTARTS = 2 };

struct hgq_qconf {
	double	 init_f;	/* initial fractional bits */
	int	 gran;		/* enum hgq_gran */
	int	 trainable;	/* 1: f is trained */
	int	 round;		/* enum hgq_round */
	int	 overflow;	/* enum hgq_overflow */
};

/*
 * Dimensions given in a config as an integer or a list of integers
 * ("kernel: 3", "pool: [2, 2]", "input_shape: [28, 28, 1]"): n is how
 * many were given (0: the key is absent), v[0..n) the values; line and
 * col (1-based) locate the value for later messages.
 */
struct hgq_conf_dims {
	uint32_t n;
	uint32_t v[3];
	uint32_t line, col;
};

/*
 * One item of model.layers.  type is the kind and ndim: dense (ndim 0),
 * conv1d/conv2d (HGQ_LAYER_CONV1D/2D, ndim 1/2), maxpool1d/2d and
 * avgpool1d/2d (HGQ_LAYER_MAXPOOL/AVGPOOL, ndim 1/2), flatten (ndim 0);
 * format 1.2: add, subtract, concatenate, lut (HGQ_LAYER_ADD/SUB/
 * CONCAT/LUT, ndim 0), global_maxpool and global_avgpool
 * (HGQ_LAYER_MAXPOOL/AVGPOOL with ndim 0: the window is the whole
 * spatial extent, and a flatten follows).  A dense item on a tensor of
 * rank 2 or 3 becomes a convolution with a 1x1 kernel (per-row dense).
 * kernel, stride and pool are normalized to [rows, columns]: a 1-D
 * layer has [1, K]; an integer for a 2-D layer means [k, k]; stride
 * defaults to 1 (convolutions) or to pool (pooling).  line/col locate
 * the item (for shape errors found once the data are known).
 */
struct hgq_layer_conf {
	uint32_t kind;		/* enum hgq_layer_kind ("type") */
	uint32_t ndim;		/* 1 or 2 for windowed kinds, else 0 */
	uint32_t units;		/* dense */
	uint32_t filters;	/* conv */
	uint32_t kernel[2];	/* conv [KH, KW] */
	uint32_t stride[2];	/* conv, pooling [SH, SW] */
	uint32_t pool[2];	/* pooling [PH, PW] */
	int	 padding;	/* enum hgq_pad [valid] */
	int	 act;		/* enum hgq_act [linear] */
	int	 bn;		/* batchnorm fused [false] */
	int	 no_bias;	/* "use_bias: false": the bias stays 0
				   (with bn, its shift remains) [0] */
	struct hgq_conf_dims kernel_in, stride_in, pool_in;	/* as given */
	uint32_t line, col;	/* of the item */

	/*
	 * Graphs (format 1.2).  name: "" when not given.  refs[0..n_refs)
	 * are the item's inputs, resolved by hgq_config_load(): an earlier
	 * item's index, or HGQ_REF_INPUT | k for model input k; without
	 * "inputs:" the previous item (item 0: input 0).  n_refs is never
	 * 0 in a loaded config (0 in one made in memory: the previous item,
	 * or input 0).  add: 2..8 refs, subtract: 2, concatenate:
	 * 2..8, every other type 1.
	 */
	char	 name[HGQ_MAX_PORT_NAME + 1];
	uint32_t n_refs;
	uint32_t refs[HGQ_MAX_LAYER_INPUTS];
	int	 axis;		/* concatenate: as given, -3..2 [-1] */
	uint32_t func;		/* lut: enum hgq_func */
	int	 mask;		/* dense, conv: enum hgq_conf_mask */
	uint32_t band;		/* mask HGQ_MASK_BAND: |i - j| <= band */
	char	*mask_path;	/* mask HGQ_MASK_FILE: a 0/1 npy, owned */
};

/*
 * The mask of a dense or convolution item ("mask:"): none, a band
 * ("{ band: B }", the weights (i, j) with |i - j| <= B of a square
 * [rows, units] matrix) or a file (a path to an npy of 0 and 1 of shape
 * [rows, units]); rows = n_in for dense, KH*KW*C_in for a convolution.
 */
enum hgq_conf_mask	{ HGQ_MASK_NONE = 0, HGQ_MASK_BAND = 1,
			  HGQ_MASK_FILE = 2 };

/* an item of model.inputs: a named input of a shape */
struct hgq_conf_input {
	char	 name[HGQ_MAX_PORT_NAME + 1];
	struct hgq_conf_dims shape;	/* [n], [W, C] or [H, W, C] */
	uint32_t line, col;
};

struct hgq_sched_point {
	double	 epoch;
	double	 value;
	int	 interp;	/* how to go from this point to the next */
};

struct hgq_config {
	uint64_t seed;			/* [42] */
	struct {
		char	*train_x, *train_y, *test_x, *test_y;	/* paths */
		double	 val_split;	/* [0.1], in [0, 1) */
		int	 normalize;	/* enum hgq_norm [none] */
		double	 scale;		/* [1.0] */
		int	 label_col;	/* CSV label column [-1] */
		struct hgq_conf_dims input_shape;	/* [H, W, C], [W, C],
					   [n] or n = 0: from the data */
	} data;
	struct {
		struct hgq_qconf input;	/* input quantizers */
		uint32_t n_layers;
		struct hgq_layer_conf layers[HGQ_MAX_CONF_LAYERS];
		/* model.inputs (0: one unnamed input, the data's columns)
		   and model.outputs (0: the last item): item indices */
		uint32_t n_inputs, n_outputs;
		struct hgq_conf_input inputs[HGQ_MAX_PORTS];
		uint32_t outputs[HGQ_MAX_PORTS];
		uint32_t outputs_line, outputs_col;
	} model;
	struct hgq_qconf q_weight, q_bias, q_act;
	struct {
		uint32_t epochs;	/* [30] */
		uint32_t batch_size;	/* [256] */
		int	 loss;		/* [cross_entropy] */
		int	 optimizer;	/* [adam] */
		double	 lr;		/* [0.003] */
		double	 momentum;	/* SGD [0.9] */
		double	 beta1, beta2, eps;	/* Adam [0.9 0.999 1e-7] */
		int	 lr_sched;	/* [const] */
		double	 lr_period;	/* epochs [10] */
		double	 lr_decay;	/* [1.0] */
		double	 min_lr;	/* [0] */
		uint32_t n_beta;
		struct hgq_sched_point beta[HGQ_MAX_SCHED];
		double	 gamma;		/* [0] */
		double	 target_ebops;	/* [0 = off: beta from the schedule] */
		uint32_t threads;	/* [0 = one per online CPU] */
	} train;
	struct {
		char	*pareto_dir;	/* NULL: none */
		char	*log;		/* NULL: none */
	} output;
	char	*path;			/* the file read */
	char	*text;			/* its whole text (for metadata) */
};

/*
 * hgq_config_init - the defaults documented above (no allocation; beta is
 * one constant point of value 0; model.n_layers = 0, i.e. not given).
 */
void	hgq_config_init(struct hgq_config *c);
/*
 * hgq_config_load - initialize c (hgq_config_init) and fill it from the
 * YAML file path ("-" is stdin); keys absent from the file keep their
 * defaults, so command-line flags are applied afterwards.  c must not own
 * strings (release a loaded config first).  On success c owns copies of
 * the strings, path and the whole text; free them with
 * hgq_config_release.  On failure c holds the defaults and owns nothing.
 * Schema errors (unknown or duplicate key, wrong type, out of range,
 * missing data.train_x; in graphs an unknown, duplicate or later name,
 * a wrong number of inputs, an item or input nothing reads, several
 * outputs with cross_entropy) are HGQ_EINVAL and YAML syntax errors
 * HGQ_EFORMAT, both as "PATH:LINE:COL: message" (1-based, at the key for
 * unknown/duplicate keys, at the value otherwise); an unreadable file is
 * HGQ_EIO; also HGQ_ENOMEM.
 */
int	hgq_config_load(struct hgq_config *c, const char *path,
	    struct hgq_err *err);
/* hgq_config_release - free c's strings and set them to NULL (twice ok) */
void	hgq_config_release(struct hgq_config *c);

/* ------------------------------------------------------------------ */
/* Bit-exact integer inference (sim.c)                                 */
/* ------------------------------------------------------------------ */

/*
 * An engine is a calibrated model prepared for integer inference (every
 * layer kind of formats 1.1 and 1.2; convolutions as a dense layer per
 * output position, with weights aligned once per filter): every
 * dense layer's weights are aligned to one fractional position per output
 * and the exact range of every output (hgq_dense_range, over the input
 * ranges carried from the input quantizers) is proven to fit (int32 when
 * it can, int64 otherwise; HGQ_ERANGE when a range reaches 2^62); sums
 * and differences align their inputs likewise; a lookup table is computed
 * once per element (hgq_lut_mant).  A graph's input row has n_raw columns
 * (each input takes its slice of the index map) and its output row is
 * the output quantizers' values in port order (hgq_model_n_out).
 */
struct hgq_engine;

/* per-quantizer counts of values outside the calibrated range */
struct hgq_ovf_stats {
	uint32_t	 n_quant;	/* number of quantizer layers */
	uint64_t	*count;		/* n_quant counters, caller-zeroed */
};

int	hgq_engine_new(struct hgq_engine **e, const struct hgq_model *m,
	    struct hgq_err *err);
void	hgq_engine_free(struct hgq_engine *e);
uint32_t hgq_engine_n_in(const struct hgq_engine *e);	/* = model n_raw */
uint32_t hgq_engine_n_out(const struct hgq_engine *e);
/* the number of quantizer layers: the counters of struct hgq_ovf_stats,
   quantizer q the q-th in layer order */
uint32_t hgq_engine_n_quant(const struct hgq_engine *e);
/* fractional bits of output element j: value = mantissa * 2^-f */
int	hgq_engine_out_f(const struct hgq_engine *e, uint32_t j);
/*
 * hgq_engine_out_values - the values of n rows of output mantissas out
 * (n*n_out) into val (n*n_out): mantissa * 2^-f, exactly (the same doubles
 * as ldexp((double)mantissa, -hgq_engine_out_f(e, j))).
 */
void	hgq_engine_out_values(const struct hgq_engine *e, const int64_t *out,
	    size_t n, double *val);

/*
 * hgq_engine_run - n samples of raw inputs x (n*n_raw, row-major) to the
 * output mantissas out (n*n_out).  Inputs must be finite (the callers'
 * readers check).  st may be NULL.  threads: 0 one per online CPU, 1 the
 * calling thread only (outline item 7); the outputs do not depend on it.
 * Returns HGQ_OK or HGQ_ENOMEM.
 */
int	hgq_engine_run(const struct hgq_engine *e, const double *x, size_t n,
	    int64_t *out, struct hgq_ovf_stats *st, int threads);

/*
 * hgq_engine_quant_input - the input quantizers' mantissas (n*n0, n0 =
 * hgq_model_n_in: input 0's quantizer, then input 1's, ...) of raw
 * inputs: normalisation then quantization (the packed input of the RTL).
 */
void	hgq_engine_quant_input(const struct hgq_engine *e, const double *x,
	    size_t n, int64_t *q);

/*
 * The packed bit layout of the RTL ports (DESIGN.md "The RTL ports"):
 * element j of quantizer q with width w_j = k+i+f > 0 occupies w_j bits
 * starting at sum_{j'<j} w_j', element 0 at the least significant bits,
 * holding its mantissa in two's complement (k = 1) or unsigned (k = 0);
 * zero-width elements take no bits.  hgq_packed_width is the total width;
 * hgq_pack_hex writes it as (width+3)/4 hex digits, most significant first,
 * and a NUL (buf needs (width+3)/4 + 1 bytes; width 0 gives "").
 */
uint64_t hgq_packed_width(const struct hgq_layer *q);
void	hgq_pack_hex(const struct hgq_layer *q, const int64_t *mant,
	    char *buf);

/*
 * hgq_calibrate - set the exact k and i of every quantizer element from
 * data (hgq-algorithm.md 8.2): the model must carry its fixed part except
 * the quantizers' k and i (f, round, overflow, weight and bias mantissas
 * set; k and i arrays allocated, contents ignored).  Layer by layer, the
 * n samples x (n*n_raw raw inputs) are propagated exactly with rounding
 * only (no overflow) and each element gets the smallest (k, i) that holds
 * every value it took: k = 1 iff a value was negative (and one more
 * integer bit under SAT_SYM when the least value is -2^i, which SAT_SYM
 * does not hold); an element that was always 0 gets width 0 (k = 0,
 * i = -f).  A non-trainable quantizer right after a flatten or max-pool
 * layer gets instead the union of the formats that reach each element
 * (k, i, f the largest over the elements of width > 0 of its window or
 * its single source, i raised while its own overflow mode does not hold
 * every source's range; width 0 when no source has a width): it is the
 * identity for every input.  Convolutional models are calibrated stage
 * by stage with memory per thread and layer only; a graph (format 1.2)
 * in waves, each quantizer once every quantizer it depends on has its
 * format (the same formats in any order: a chain calibrated as a graph
 * gets those of the chain).  Sets cal_min/cal_max and
 * m->calibrated.  Rows are split over threads (0: one per online CPU);
 * the result does not depend on their number.  HGQ_ERANGE when a value
 * or accumulator exceeds the limits of hgq.h (the message names the
 * layer and element).
 */
int	hgq_calibrate(struct hgq_model *m, const double *x, size_t n,
	    int threads, struct hgq_err *err);

/* ------------------------------------------------------------------ */
/* Exact EBOPs (ebops.c)                                               */
/* ------------------------------------------------------------------ */

/*
 * Liveness.  An element of a quantizer is *live* when it can change an
 * output: its width k+i+f is > 0 and either it belongs to a model output
 * or it reaches a live element of a quantizer after a layer reading it
 * (a non-zero weight of a dense layer or convolution, a pooling window,
 * the same element of flatten, add, subtract or a table, its place in a
 * concatenation).  Everything else computes nothing: a dead element of an
 * earlier quantizer is what hgq_prune() removes, a dead output element
 * (width <= 0) always outputs 0.  One sweep from the outputs back to the
 * inputs decides every element.
 *
 * hgq_model_live - live[l] gets, for every quantizer layer l, n_out flags
 * (1 live, 0 dead); live[l] is NULL for dense layers.  live must have
 * room for m->n_layers pointers; the flag arrays are allocated and
 * released by hgq_model_live_release(live, m->n_layers).  The model must
 * be valid and calibrated (HGQ_EINVAL otherwise); HGQ_ENOMEM.
 */
int	hgq_model_live(const struct hgq_model *m, uint8_t **live,
	    struct hgq_err *err);
void	hgq_model_live_release(uint8_t **live, uint32_t n_layers);

/*
 * hgq_ebops_layer - exact EBOPs of dense layer l of a calibrated model
 * (a convolution: every output position and tap that meets a real input
 * element is a multiplication of its own):
 * the sum of bits(a_i) * span(w_ij) over the multiplications of the layer
 * that can reach an output, i.e. whose output element j is live (above),
 * with bits(a_i) = k+i+f (0 when <= 0) of element i of the layer's
 * input quantizer (hgq_layer_input(m, l, 0)) and span() as hgq_span().  A multiplication into a
 * dead element is not counted: the hardware does not contain it and
 * hgq_prune() removes it, so EBOPs are the same before and after pruning.
 * In a model without dead elements this is the plain sum over every i, j.
 * Convolutions count every output position (hgq-ebops(1)); pooling,
 * flatten, add, subtract, concatenate and lookup tables, quantizers,
 * invalid models and models that are not calibrated give 0; HGQ_EBOPS_ENOMEM when the liveness analysis cannot allocate.
 * hgq_ebops_total sums every dense layer (HGQ_EBOPS_ENOMEM likewise).
 */
#define HGQ_EBOPS_ENOMEM	UINT64_MAX
uint64_t hgq_ebops_layer(const struct hgq_model *m, uint32_t l);
uint64_t hgq_ebops_total(const struct hgq_model *m);

/*
 * hgq_ebops_lut_estimate - the LUTs of the adder-graph design of a network
 * (or layer) of this many EBOPs: round(HGQ_LUT_FIT_A *
 * ebops^HGQ_LUT_FIT_B), 0 for 0 EBOPs.  The relation is the least-squares
 * fit on logarithms of Yosys synth_xilinx LUTs against EBOPs that `make
 * fig3` measures on hgq-emit-verilog designs (the figures and the error
 * are in hgq-ebops(1)).  An estimate, outside the bit-exact world: it is
 * computed with pow() in double precision (the results that the tests
 * compare are far from a tie at .5, so every libm gives them).
 */
uint64_t hgq_ebops_lut_estimate(uint64_t ebops);

/*
 * The report of hgq-ebops.  Per operation (layer index l in the chain,
 * named "<kind>_<n>" with n counting the layers of that kind from 1:
 * "dense_1", "conv2d_1", "maxpool_1", "flatten_1"; for a convolution the
 * weights are the kernel's, nonzero those that take part in at least one
 * counted multiplication, span_hist over them, and mults counts every
 * multiplication (output position x tap on a real input x filter) that
 * EBOPs count; pooling and flatten have no weights and 0 EBOPs):
 *
 *   weights         n_in * n_out
 *   nonzero         weights that compute: w_ij != 0, input i of width
 *                   > 0, output j live (the multiplications EBOPs count)
 *   pruned          weights - nonzero
 *   act_pruned      input elements of width <= 0
 *   inputs_pruned   input elements that are dead (hgq_prune removes them)
 *   outputs_pruned  output elements that are dead (removed by hgq_prune;
 *                   for the last layer: width 0, weights cleared)
 *   span_hist[s]    counted weights whose span is s (1..32); [0] = pruned
 *   width_hist[w]   live input elements of width w (1..32);
 *                   [0] = inputs_pruned
 *   uniform8        64 * mults: the EBOPs of the same multiplications
 *                   with 8-bit activations and 8-bit weight spans
 *   lut_estimate    hgq_ebops_lut_estimate(ebops): LUTs predicted from
 *                   the EBOPs by the fit that `make fig3` measures (see
 *                   hgq-ebops(1)); hgq-emit-verilog reports its own
 *                   estimate, counted from its adders
 */
#define HGQ_EBOPS_NBINS		33	/* histogram bins 0..32 */
#define HGQ_LUT_FIT_A		0.667	/* LUT estimate = A * EBOPs^B */
#define HGQ_LUT_FIT_B		1.090

struct hgq_ebops_stats {
	uint32_t	 index;		/* its layer index in the model */
	uint32_t	 kind;		/* enum hgq_layer_kind of the layer */
	uint64_t	 mults;		/* multiplications counted (dense:
					   nonzero) */
	uint32_t	 n_in, n_out;
	uint64_t	 ebops;
	uint64_t	 weights, nonzero, pruned;
	uint32_t	 act_pruned, inputs_pruned, outputs_pruned;
	uint64_t	 span_hist[HGQ_EBOPS_NBINS];
	uint64_t	 width_hist[HGQ_EBOPS_NBINS];
	uint64_t	 uniform8;
	uint64_t	 dense8;	/* 64 x every multiplication of the
					   layer, zero weights and pruned
					   elements included (padding taps
					   not) */
	uint64_t	 lut_estimate;
};

struct hgq_ebops_report {
	uint64_t	 total;		/* sum of the layers' ebops */
	uint64_t	 weights, nonzero, pruned;	/* sums */
	uint64_t	 uniform8;	/* sum */
	uint64_t	 dense8;	/* sum */
	uint64_t	 lut_estimate;	/* of total (not the sum of the
					   rounded per-layer estimates) */
	uint32_t	 n_dense;	/* rows: every operation, in layer
					   order (a chain's layer 2n+1) */
	struct hgq_ebops_stats *layer;	/* n_dense, owned by the report */
};

/*
 * hgq_ebops_report - fill r for a valid model.  HGQ_EINVAL with the
 * message "model was never calibrated" when it is not calibrated (exact
 * EBOPs need the calibrated k, i, f); HGQ_EINVAL also for an invalid
 * model; HGQ_ENOMEM.  On failure r is left empty; on success release it
 * with hgq_ebops_report_release (also fine on an empty report).
 */
int	hgq_ebops_report(const struct hgq_model *m, struct hgq_ebops_report *r,
	    struct hgq_err *err);
void	hgq_ebops_report_release(struct hgq_ebops_report *r);

/*
 * hgq_ebops_write - print a report: HGQ_EBOPS_TEXT an aligned table with
 * a total line and the two histograms; HGQ_EBOPS_TSV one row per layer
 * under a '#' header, histograms as comma-separated counts; HGQ_EBOPS_JSON
 * {"total_ebops": N, "layers": [{"name": ..., "index": ..., ...}], ...}
 * (DESIGN.md "Reports").  HGQ_EIO on a write error.
 */
enum hgq_ebops_style	{ HGQ_EBOPS_TEXT = 0, HGQ_EBOPS_TSV = 1,
			  HGQ_EBOPS_JSON = 2 };
int	hgq_ebops_write(FILE *f, const struct hgq_ebops_report *r, int style,
	    struct hgq_err *err);

/* ------------------------------------------------------------------ */
/* Pruning (prune.c)                                                   */
/* ------------------------------------------------------------------ */

/*
 * What hgq_prune did to one operation (layer index, kind):
 * n_in/n_out the elements of its input and output tensors before,
 * new_in/new_out after; inputs_removed = n_in - new_in and
 * neurons_removed = n_out - new_out; in_c/out_c the last dimensions of
 * those tensors (channels; a flat tensor's size) before, new_in_c/
 * new_out_c after (a convolution loses new_out_c - out_c filters and
 * in_c - new_in_c kernel slices); k_h/k_w the kernel or pool size (0
 * for dense and flatten); outputs_cleared counts output columns of the
 * last layer (dense: elements, convolution: filters; a graph: of any
 * dense layer) with no live element whose weights and bias were set to
 * 0 (they are kept);
 * zero_weights is the number of zero mantissas left in the pruned layer.
 */
struct hgq_prune_stats {
	uint32_t	 index;
	uint32_t	 kind;		/* enum hgq_layer_kind */
	uint32_t	 n_in, n_out;
	uint32_t	 new_in, new_out;
	uint32_t	 in_c, out_c, new_in_c, new_out_c;
	uint32_t	 k_h, k_w;
	uint32_t	 inputs_removed, neurons_removed, outputs_cleared;
	uint64_t	 zero_weights;
};

struct hgq_prune_report {
	uint32_t	 n_dense;	/* rows: every operation in layer order
					   (a chain's row n is layer 2n+1) */
	struct hgq_prune_stats *layer;	/* n_dense, owned by the report */
	uint32_t	 passes;	/* passes that changed something */
	int		 changed;	/* anything removed or cleared */
};

/*
 * hgq_prune - remove from a calibrated model everything that computes
 * nothing, keeping the function exactly (for every input, in or out of
 * the calibrated range, the engine gives the same outputs).  Tensors
 * keep their rank, so a quantizer loses *units*: elements of a flat
 * tensor, whole channels (last axis) of a shaped one; a unit goes when
 * none of its elements is live (see hgq_model_live; here an element that
 * is 0 for every input also counts as dead: a neuron or filter whose
 * bias is 0 and whose non-zero weights meet only such elements, a
 * pooling window or a flattened element of such elements):
 *   - a dead element of a flat quantizer but the last goes with the
 *     dense column that feeds it (weights and bias), the dense row it
 *     feeds and its calibration range; a removed element of a flat first
 *     quantizer leaves m->index_map, while n_raw and the normalisation
 *     stay, so the model still reads full-width raw inputs;
 *   - a dead channel of a shaped quantizer goes with the filter that
 *     computes it (kernel slice and bias), the next convolution's
 *     kernel slice that reads it, the same channel on both sides of a
 *     pooling layer (kept when either side has a live element in it),
 *     and after a flatten its elements at every position with the dense
 *     rows they feed (kept when the flatten's input or output has a
 *     live element in it);
 *   - a shaped first quantizer (the model input) keeps every element: a
 *     zero-width input element already costs nothing (no port bits);
 *   - the weights and bias of an output column without live elements
 *     are cleared (output elements are never removed).
 * A graph (a model that hgq_model_is_chain() refuses: several inputs or
 * outputs, add, subtract, concatenate, tables, masks) is pruned more
 * narrowly, in one pass: only a flat quantizer that is not a model
 * output, is computed by a dense layer or is a model input, and is read
 * by dense layers only loses its dead elements (with the producer's
 * column, the readers' rows and the masks' entries, or its index-map
 * entries: the input's slice shrinks with its quantizer); every other
 * quantizer keeps its elements; a dense column that feeds a zero-width
 * element is cleared.  Masks are pruned with their weights and stay;
 * the report has one row per operation (index: its layer).
 * Passes repeat until nothing changes.  Exact EBOPs never grow: they
 * stay unless removed always-0 elements had live multiplications, which
 * EBOPs count at the element's width (an always-0 element in a kept
 * channel stays and keeps its cost).  Pruning a pruned model changes
 * nothing (the written bytes are equal).
 * The float training state (every layer tensor and m->has_train) is
 * dropped since it no longer matches; the metadata entry "pruned" gets
 * "<old shapes> -> <new shapes>" (quantizer shapes, e.g. "784-64-10 ->
 * 412-57-10", "8x8x1-6x6x4-3x3x4-36-3 -> 8x8x1-6x6x2-3x3x2-18-3")
 * unless the model already has one and nothing changed.  Zero weights
 * inside a kept layer stay (a layer stores every weight; a zero costs
 * nothing) and are counted in the report.
 *
 * r may be NULL; otherwise it is filled on success and left empty on
 * failure (release with hgq_prune_report_release, fine on either).
 * Returns HGQ_OK; HGQ_EINVAL when the model is invalid, was never
 * calibrated, or prunes to nothing ("model prunes to nothing: every
 * input is unused": its outputs do not depend on its inputs, and a
 * quantizer without elements is not a valid model) - m is unchanged
 * then; HGQ_ENOMEM, after which m is valid and still computes the same
 * function but may be only partly pruned.
 */
int	hgq_prune(struct hgq_model *m, struct hgq_prune_report *r,
	    struct hgq_err *err);
void	hgq_prune_report_release(struct hgq_prune_report *r);

/* ------------------------------------------------------------------ */
/* Training (train.c)                                                  */
/* ------------------------------------------------------------------ */

/*
 * Training data (train.c): the configured files, loaded, checked and
 * split.  Raw values stay in double (for calibration and the bit-exact
 * evaluation); the training copy is normalised and converted to float.
 * Errors name the file and the config key: labels out of range, feature
 * counts that differ, an empty training or validation split.
 */
struct hgq_train_data {
	uint32_t	 n_raw;		/* features */
	uint32_t	 in_rank;	/* sample shape: 1..3 */
	uint32_t	 in_shape[3];	/* channels last, product n_raw */
	uint32_t	 n_out;		/* classes or regression targets */
	int		 task;		/* enum hgq_task */
	size_t		 n_train, n_val, n_test;
	double		*x_train;	/* n_train*n_raw, raw */
	double		*x_val;		/* n_val*n_raw, raw */
	double		*x_test;	/* n_test*n_raw or NULL */
	float		*y_train;	/* n_train*(classify: 1, else n_out) */
	double		*y_val;		/* as read, for the exact evaluation */
	double		*y_test;	/* or NULL */
};

/*
 * hgq_train_data_load - load data.train_x/train_y (and test_x/test_y when
 * set) per the config: the last val_split of the training rows become the
 * validation split; limit (0 = none) keeps only the first limit rows of
 * the training file.  Release with hgq_train_data_release.
 */
int	hgq_train_data_load(struct hgq_train_data *d,
	    const struct hgq_config *c, size_t limit, struct hgq_err *err);
void	hgq_train_data_release(struct hgq_train_data *d);

/*
 * hgq_train_model_new - a fresh, seeded, untrained model for the config
 * and data: layers, normalisation fitted on the training split, float
 * training state (weights, bit parameters, optimizer moments), metadata
 * "tool" and "config".  *out is owned by the caller (hgq_model_free).
 * A config of dense layers only (and no data.input_shape) gives the flat
 * chain of format 1.0; any other layer type gives shaped tensors on the
 * data's sample shape (d->in_shape), each layer followed by a quantizer,
 * the one after flatten and max pooling not trainable (the identity,
 * formats/hgqm.md 4.3.2).  A shape that does not fit (a kernel or pool
 * larger than its input, a layer on a tensor of the wrong rank, dense on
 * a tensor of rank > 1) is HGQ_EINVAL "PATH:LINE:COL: model.layers[k]:
 * ..." at the config item.
 */
int	hgq_train_model_new(struct hgq_model **out,
	    const struct hgq_config *c, const struct hgq_train_data *d,
	    struct hgq_err *err);

/*
 * hgq_train_model_check - can model m (read with --resume) continue a run
 * of config c on data d?  Same shapes, modes, optimizer state and input
 * width; the message says what differs.
 */
int	hgq_train_model_check(const struct hgq_model *m,
	    const struct hgq_config *c, const struct hgq_train_data *d,
	    struct hgq_err *err);

/* what the epoch callback is told */
struct hgq_train_epoch {
	uint32_t	 epoch;		/* epochs completed (1-based) */
	uint32_t	 epochs;	/* planned in all */
	double		 loss;		/* mean task loss over the epoch */
	double		 train_acc;	/* float forward (classification) */
	double		 val_metric;	/* exact: accuracy, or MSE */
	uint64_t	 ebops;		/* exact, after calibration */
	double		 ebops_train;	/* differentiable estimate */
	double		 beta, lr;
	double		 seconds;	/* training steps only */
	double		 samples_per_s;
	const struct hgq_model *model;	/* calibrated; borrowed */
};

struct hgq_train_params {
	int		 threads;	/* 0: one per online CPU */
	/*
	 * Called after each epoch with the calibrated model of that epoch;
	 * a non-zero return stops training with that status (err filled by
	 * the callback through the pointer it was given).
	 */
	int		(*on_epoch)(const struct hgq_train_epoch *ep, void *arg,
			    struct hgq_err *err);
	/* progress within an epoch: steps done of n_steps (may be NULL) */
	void		(*on_step)(uint64_t done, uint64_t n_steps, void *arg);
	/* polled after every step: non-zero stops after that step */
	int		(*should_stop)(void *arg);
	void		*arg;
};
void	hgq_train_params_init(struct hgq_train_params *p);

/* the outcome of hgq_train beyond its status */
struct hgq_train_result {
	int		 interrupted;	/* should_stop said so */
	int		 diverged;	/* a NaN/Inf loss: m is the last good */
	uint32_t	 epochs_done;
	double		 test_metric;	/* exact, when test data: else NaN */
	uint64_t	 ebops;		/* exact EBOPs of the returned model */
};

/*
 * hgq_train - train m (from hgq_train_model_new, or read back to resume:
 * m->train says where it stopped) for config c on data d until epoch
 * c->train.epochs.  After every epoch m holds the float state, its exact
 * fixed-point part, calibrated on the training split, and metadata
 * "metrics" (the per-epoch TSV so far), "epoch", "val_accuracy" (or
 * "val_mse") and "ebops"; then on_epoch is called.  On interruption m
 * gets the state of the last step, calibrated, and result->interrupted
 * is set (HGQ_OK).  On divergence m keeps the last good epoch and the
 * status is HGQ_ERANGE.  Same config, seed, data and thread count give
 * byte-identical models.
 */
int	hgq_train(struct hgq_model *m, const struct hgq_config *c,
	    const struct hgq_train_data *d, const struct hgq_train_params *p,
	    struct hgq_train_result *res, struct hgq_err *err);

/*
 * hgq_eval_exact - run the calibrated model on n raw rows x with the
 * bit-exact engine: accuracy against labels y (classification; argmax of
 * the exact output values, lowest index on ties) or the MSE against
 * targets y (n*n_out, regression) into *metric, as hgq-sim scores them
 * (struct hgq_eval).
 */
int	hgq_eval_exact(const struct hgq_model *m, const double *x,
	    const double *y, size_t n, int threads, double *metric,
	    struct hgq_err *err);

/*
 * Pareto front of (metric, EBOPs): metric higher-is-better (accuracy;
 * pass -MSE for regression), EBOPs lower-is-better.
 * hgq_pareto_add: is the new point dominated by (or equal to) a stored
 * one?  Then returns 0 and changes nothing.  Otherwise it removes every
 * point the new one dominates (>= on both), appending their tags to
 * removed (*n_removed of them; removed has room for p->n), stores the
 * new point and returns 1.
 */
struct hgq_pareto_point {
	double		 metric;
	uint64_t	 ebops;
	uint32_t	 epoch;
	char		*tag;		/* owned: the file name */
};
struct hgq_pareto {
	size_t		 n;
	struct hgq_pareto_point *pts;
};
int	hgq_pareto_add(struct hgq_pareto *p, double metric, uint64_t ebops,
	    uint32_t epoch, const char *tag, char **removed,
	    size_t *n_removed, struct hgq_err *err);
void	hgq_pareto_release(struct hgq_pareto *p);

/* ------------------------------------------------------------------ */
/* Adder graphs and Verilog (cmvm.c, ir.c, verilog.c)                  */
/* ------------------------------------------------------------------ */

/*
 * An interval of fixed-point values: the mantissa m lies in [lo, hi] and
 * the value is m * 2^e.  |lo|, |hi| < 2^62.  Every value of an adder graph
 * and of the IR carries one, and its hardware width follows from it.
 */
struct hgq_ival {
	int64_t		 lo, hi;
	int32_t		 e;
};

/*
 * CMVM: y_j = sum_i x_i * w_ij for a constant matrix W, as a shared adder
 * graph (rtl-notes.md 1): canonical signed digits, greedy extraction of
 * digit pairs that occur at least three times (the method's score), then
 * of pairs that occur twice (a large set without conflicts), latency-
 * balanced trees for the rest; the best of several such runs.  Every node
 * carries its exact interval.
 */
enum hgq_cmvm_method {
	HGQ_CMVM_WMC	= 0,	/* score = count x overlapping bits:
				   ~1 % fewer adder bits, ~1 % more
				   adders */
	HGQ_CMVM_MC	= 1,	/* score = count: fewest adders */
	HGQ_CMVM_NONE	= 2,	/* no sharing: one tree per column */
};

struct hgq_cmvm_params {
	int		 max_extra_depth; /* adder levels allowed above the
					     minimal tree [2]; < 0: no limit */
	int		 method;	/* enum hgq_cmvm_method [MC] */
	int		 variants;	/* runs, the fewest adders kept
					   [2]; the time grows with it,
					   the adders shrink a little */
	int		 threads;	/* threads for the runs [0: one per
					   CPU]; the result does not depend
					   on it */
	int		 conv_share;	/* enum hgq_share: convolutions
					   [HGQ_SHARE_TAPS] */
};

/*
 * How hgq_ir_build solves a convolution's positions (each one the same
 * dense layer on other inputs): one CMVM per position; one per distinct
 * pattern of the taps' exact intervals and depths (the solves it saves
 * would be identical); or one per pattern of the taps that hold a
 * variable (the padding, pruned and constant taps differ at the borders),
 * solved over the hull of the positions' intervals.  Every position's
 * adders still get its own exact widths.
 */
enum hgq_share {
	HGQ_SHARE_NONE		= 0,
	HGQ_SHARE_WIDTHS	= 1,
	HGQ_SHARE_TAPS		= 2,
};
void	hgq_cmvm_params_init(struct hgq_cmvm_params *p);

/* node j >= n_in: a + (-1)^sub * b * 2^shift; nodes < n_in: the inputs */
struct hgq_cmvm_node {
	int32_t		 a, b;		/* -1 for inputs */
	int32_t		 shift;
	uint8_t		 sub;
	int32_t		 depth;		/* adder levels (inputs: given) */
	struct hgq_ival	 v;
};

/* y_j = (-1)^neg * node * 2^shift; node = -1: y_j = 0 */
struct hgq_cmvm_out {
	int32_t		 node;
	int32_t		 shift;
	uint8_t		 neg;
};

struct hgq_cmvm {
	uint32_t	 n_in, n_out;
	uint32_t	 n_nodes;	/* n_in inputs, then the adders */
	uint32_t	 n_adders;	/* n_nodes - n_in */
	struct hgq_cmvm_node *nodes;	/* topological order */
	struct hgq_cmvm_out *out;	/* n_out */
	int		 depth;		/* deepest output */
	int		 min_depth;	/* deepest output without sharing */
	uint64_t	 cost;		/* adder bits: sum of hgq_add_span */
};

/*
 * hgq_cmvm_solve - solve y = x W.  x: n_in input intervals (an input of
 * [0, 0] is ignored); x_depth: their adder depths (NULL: all 0); w_m, w_f:
 * n_in*n_out weights m * 2^-f, row-major [i*n_out + j] (w_f NULL: all 0).
 * On success *out owns a new solution (free with hgq_cmvm_free).  Returns
 * HGQ_OK, HGQ_EINVAL (bad interval), HGQ_ERANGE (a sum reaches 2^62, or
 * the graph outgrows 2^24 nodes) or HGQ_ENOMEM.
 */
int	hgq_cmvm_solve(struct hgq_cmvm **out, const struct hgq_ival *x,
	    const int32_t *x_depth, uint32_t n_in, uint32_t n_out,
	    const int32_t *w_m, const int8_t *w_f,
	    const struct hgq_cmvm_params *p, struct hgq_err *err);
void	hgq_cmvm_free(struct hgq_cmvm *s);

/*
 * hgq_cmvm_eval - evaluate the graph on input mantissas x (n_in, within
 * their intervals): y[j] is output j's mantissa at exponent y_e[j].  buf
 * is scratch of n_nodes values.
 */
void	hgq_cmvm_eval(const struct hgq_cmvm *s, const int64_t *x,
	    int64_t *buf, int64_t *y, int32_t *y_e);

/*
 * The IR (ir.c): the network as flat SSA ops in topological order, each
 * yielding one value with an exact interval v (so its width is known and
 * nothing overflows).  Quantization in the IR is truncation only; RND
 * becomes a constant add, SAT a clip, ReLU a sign mask (rtl-notes 2.1).
 */
enum hgq_ir_kind {
	HGQ_IR_INPUT	= 0,	/* element a of the first quantizer */
	HGQ_IR_CONST	= 1,	/* the constant v.lo (= v.hi) */
	HGQ_IR_ADD	= 2,	/* a + (-1)^sub * b * 2^shift (values) */
	HGQ_IR_RELU	= 3,	/* max(a, 0) */
	HGQ_IR_QUANT	= 4,	/* floor(a * 2^shift * 2^f), then (wrap)
				   the low k+i+f bits; v.e = -f */
	HGQ_IR_SAT	= 5,	/* a (at 2^-f) clipped to the range of
				   (k, i, f) for mode SAT or SAT_SYM */
	HGQ_IR_DOT	= 6,	/* behavioral: sum of terms[a .. a+b) */
	HGQ_IR_MAX	= 7,	/* max(a, b) (values; max-pooling) */
	HGQ_IR_LUT	= 8,	/* a ROM: tab[the low n_idx bits of a]
				   (a lookup-table layer element and
				   the quantizer after it) */
};

struct hgq_ir_op {
	uint8_t		 kind;		/* enum hgq_ir_kind */
	uint8_t		 sub;		/* ADD: subtract b */
	uint8_t		 wrap;		/* QUANT: wrap to k+i+f bits */
	uint8_t		 mode;		/* SAT: HGQ_SAT or HGQ_SAT_SYM */
	int8_t		 k, i, f;	/* INPUT, QUANT, SAT: the format */
	int32_t		 a, b;		/* operands (op ids) */
	int32_t		 shift;
	int32_t		 depth;		/* adder levels from the inputs */
	int32_t		 layer;		/* dense layer (0-based); -1 inputs */
	int32_t		 w;		/* bits kept in hardware: the low w
					   bits of the mantissa, all that the
					   consumers read (<= the width of v) */
	struct hgq_ival	 v;
	uint32_t	 tab;		/* LUT: its entries are ir->tab[tab ..
					   tab + 2^n_idx), mantissas at v.e */
	uint8_t		 n_idx;		/* LUT: index bits (<= 12) */
};

/* a product term of a DOT op: src * w_m * 2^(w_e - src's v.e) */
struct hgq_ir_term {
	int32_t		 src;
	int32_t		 w_m;
	int32_t		 w_e;		/* exponent of the product's LSB */
};

struct hgq_ir_layer {
	uint32_t	 kind;		/* the model layer's kind */
	uint32_t	 model_layer;	/* its index in the model */
	uint32_t	 n_rom;		/* LUT ops: ROMs */
	uint64_t	 rom_bits;	/* sum of 2^n_idx * w over its ROMs */
	uint32_t	 n_solves;	/* CMVMs solved for it */
	uint32_t	 n_cmp;		/* MAX ops: comparators */
	uint32_t	 n_adders;
	uint64_t	 lut;		/* LUT estimate of its ops */
	int32_t		 depth;		/* deepest op (from the inputs) */
};

/*
 * A port of the module: elements [start, start + n) of the inputs (or
 * outputs); name "" for the one unnamed port of a model without ports
 * (model_inp / model_out), else the model's port name (inp_<name> /
 * out_<name> in Verilog).
 */
struct hgq_ir_port {
	char		 name[HGQ_MAX_PORT_NAME + 1];
	uint32_t	 start, n;
};

struct hgq_ir {
	uint32_t	 n_ops;
	struct hgq_ir_op *ops;
	uint32_t	 n_terms;
	struct hgq_ir_term *terms;	/* DOT terms (behavioral only) */
	uint32_t	 n_tab;
	int64_t		*tab;		/* LUT entries */
	uint32_t	 n_in;		/* input quantizers' elements, in
					   model input order */
	int32_t		*in_op;		/* n_in: INPUT op, or -1 (unused) */
	uint8_t		*in_w;		/* n_in: port widths (0: pruned) */
	uint32_t	 n_out;		/* output quantizers' elements, in
					   model output order */
	int32_t		*out_op;	/* n_out: op (at 2^-f), or -1: 0 */
	uint8_t		*out_w;		/* n_out: port widths k+i+f */
	uint8_t		*out_k;		/* n_out: signed port element */
	uint32_t	 n_in_ports, n_out_ports;	/* >= 1 each */
	struct hgq_ir_port in_ports[HGQ_MAX_PORTS];
	struct hgq_ir_port out_ports[HGQ_MAX_PORTS];
	uint32_t	 n_layers;	/* operation (non-quantizer) layers */
	struct hgq_ir_layer *layers;
	int		 behavioral;
	uint32_t	 n_adders;	/* ADD ops (CMVM and constants) */
	uint32_t	 n_cmp;		/* MAX ops */
	uint32_t	 n_rom;		/* LUT ops */
	uint64_t	 rom_bits;	/* sum over them of 2^n_idx * w */
	uint64_t	 lut;		/* sum of hgq_ir_op_cost */
	int32_t		 depth;		/* adder depth of the deepest op */
};

/*
 * hgq_ir_build - the IR of a calibrated model, chain or graph (format
 * 1.2), its layers in topological order, each operation reading the ops
 * of its input quantizers: one CMVM (hgq_cmvm_solve with par; NULL:
 * defaults) per dense layer and per group of positions of a convolution
 * (par->conv_share), or with behavioral one DOT op per output; max-pooling
 * as MAX trees, average pooling, add and subtract as adder trees,
 * flatten and concatenate as the same values; a lookup table and the
 * quantizer after it as one LUT op (a ROM, every entry hgq_lut_mant) per
 * element.  The inputs are the input quantizers' elements in model input
 * order (ports in in_ports), the outputs the output quantizers' in
 * output order (out_ports).  On success *out owns a new IR (free with
 * hgq_ir_free).  Returns HGQ_OK, HGQ_EINVAL (invalid or uncalibrated
 * model), HGQ_EUNSUPP (an input or output that is not a quantizer),
 * HGQ_ERANGE (a value needs more than 62 bits; the message names the
 * layer) or HGQ_ENOMEM.
 */
int	hgq_ir_build(struct hgq_ir **out, const struct hgq_model *m,
	    const struct hgq_cmvm_params *par, int behavioral,
	    struct hgq_err *err);
void	hgq_ir_free(struct hgq_ir *ir);

/*
 * hgq_ir_eval - run the IR on the input quantizers' mantissas inp (n_in,
 * input 0's elements first, as hgq_engine_quant_input gives them): out
 * gets the output quantizers' mantissas (n_out, in output order); buf is
 * scratch of n_ops values (op j's mantissa, at 2^v.e, is left in buf[j]).
 */
void	hgq_ir_eval(const struct hgq_ir *ir, const int64_t *inp,
	    int64_t *buf, int64_t *out);

/*
 * Verilog (verilog.c): one module with flat packed ports (DESIGN.md "The
 * RTL ports": model_inp and model_out, or with named model ports one
 * inp_<name> per input and one out_<name> per output, each packed the
 * same way), one statement per op with explicit extension, a case ROM
 * per lookup-table element, no vendor primitives; combinational, or with
 * a register every `pipeline` adder levels (a ROM is one level; and at
 * the outputs) when pipeline > 0.
 */
struct hgq_verilog_opts {
	const char	*top;		/* module name ["hgq_top"] */
	int		 pipeline;	/* adder levels per stage; 0: none [0] */
	uint32_t	 modules;	/* 0: one flat module [0]; else a top
					   instantiating one submodule per
					   group of about this many ops of a
					   layer (at most twice; Icarus
					   elaborates a module in time
					   quadratic in its signals) */
};
void	hgq_verilog_opts_init(struct hgq_verilog_opts *o);

/*
 * hgq_verilog_ident_ok - 1 when s can name the module: a simple Verilog
 * identifier, not a Verilog or SystemVerilog keyword, not a port name.
 */
int	hgq_verilog_ident_ok(const char *s);

struct hgq_rtl_info {
	uint32_t	 adders;
	uint64_t	 lut;		/* LUT estimate (sum of op costs) */
	uint64_t	 ff;		/* flip-flops: bits crossing the cuts */
	uint32_t	 latency;	/* cycles = register stages (0: comb.) */
	int32_t		 depth;		/* max adder depth */
	uint64_t	 inp_bits, out_bits;	/* port widths (all ports) */
	uint32_t	 roms;		/* lookup-table ROMs */
	uint64_t	 rom_bits;	/* sum of 2^index bits * width */
};

/* hgq_verilog_info - the figures of ir emitted with that pipelining */
int	hgq_verilog_info(const struct hgq_ir *ir, int pipeline,
	    struct hgq_rtl_info *info, struct hgq_err *err);

/*
 * hgq_verilog_write - the module.  HGQ_EINVAL for a bad module name or
 * pipeline, HGQ_EIO when f has an error afterwards, HGQ_ENOMEM.
 */
int	hgq_verilog_write(FILE *f, const struct hgq_ir *ir,
	    const struct hgq_verilog_opts *o, struct hgq_err *err);

/*
 * hgq_verilog_testbench - a self-checking testbench of the module of
 * hgq_verilog_write (same opts): it $readmemh's n input vectors from
 * inp_path and the expected outputs from exp_path (paths as written into
 * the Verilog, relative to the simulator's folder or absolute; a line
 * holds every port, as hgq_verilog_vectors writes them), drives one
 * vector per cycle into every input port (pipelined: compares every
 * output port LAT cycles later), prints
 * "PASS <n>", or the first mismatches and "FAIL ..." and ends with
 * $fatal (non-zero exit).
 */
int	hgq_verilog_testbench(FILE *f, const struct hgq_ir *ir,
	    const struct hgq_verilog_opts *o, const char *inp_path,
	    const char *exp_path, size_t n, struct hgq_err *err);

/*
 * hgq_verilog_vectors - the vector files of n raw samples x (n*n_raw): to
 * inp the packed input mantissas (hgq_engine_quant_input: every input's
 * elements, input 0's first), to exp the packed outputs of
 * hgq_engine_run (every output's, in output order), one hex line per
 * sample, element 0 at the LSBs (as hgq_pack_hex; "0" for no bits): the
 * input ports side by side, the first at the LSBs, and so the outputs.
 * e must be the engine of m.
 */
int	hgq_verilog_vectors(FILE *inp, FILE *exp, const struct hgq_model *m,
	    const struct hgq_engine *e, const double *x, size_t n,
	    struct hgq_err *err);

/*
 * hgq_verilog_report - the resource report: json (DESIGN.md "Reports":
 * adders, lut_estimate, ff, latency_cycles, max_adder_depth, ...,
 * lut_estimate_from: "adders", roms, rom_bits, comparators, layers, each
 * with its model layer index) or text (TSV lines and a comment line
 * saying which estimate it is).  The LUT estimate is the one counted
 * from the adders, comparators and ROMs of the design, not hgq-ebops'
 * fit of the EBOPs.
 */
int	hgq_verilog_report(FILE *f, const struct hgq_ir *ir, int pipeline,
	    int json, struct hgq_err *err);

/* added: eval */
/* ------------------------------------------------------------------ */
/* Evaluation (eval.c): hgq-sim and hgq-train's exact evaluation       */
/* ------------------------------------------------------------------ */

/*
 * hgq_labels_check_from - hgq_labels_check for rows that start at row0 of
 * their file (the row in the message is row0 + j).  hgq_labels_check is
 * the same with row0 = 0.
 */
int	hgq_labels_check_from(const double *y, size_t n, size_t row0,
	    uint32_t n_classes, const char *name, struct hgq_err *err);

/* the index of the largest of n values; ties go to the lowest index */
uint32_t hgq_argmax(const double *v, uint32_t n);

/*
 * struct hgq_eval - the score of exact outputs, rows added in order.
 * Classification: the confusion matrix of argmax predictions (rows:
 * label, columns: prediction); regression: the sum of squared errors,
 * added row by row and output by output, divided by the rows and then
 * by the outputs.  Without labels only the rows are counted.
 */
struct hgq_eval {
	uint32_t	 n_out;		/* model outputs (= classes) */
	int		 classify;	/* HGQ_TASK_CLASSIFY */
	int		 labelled;	/* labels or targets are given */
	size_t		 n;		/* rows added */
	uint64_t	*confusion;	/* classify && labelled: n_out^2 */
	double		 sq_err;	/* regression */
};

/* HGQ_OK, or HGQ_ENOMEM for the n_out^2 matrix (the message says so) */
int	hgq_eval_init(struct hgq_eval *ev, uint32_t n_out, int task,
	    int labelled, struct hgq_err *err);
void	hgq_eval_release(struct hgq_eval *ev);

/*
 * hgq_eval_add - n rows of exact output values val (n*n_out) against y:
 * n labels (classification, checked by hgq_labels_check_from with the
 * rows added so far as row0 and name as the file's name: HGQ_EINVAL and
 * nothing counted on a bad label) or n*n_out targets; y is unused without
 * labels.
 */
int	hgq_eval_add(struct hgq_eval *ev, const double *val, const double *y,
	    size_t n, const char *name, struct hgq_err *err);

double	hgq_eval_accuracy(const struct hgq_eval *ev);	/* 0 if no rows */
double	hgq_eval_mse(const struct hgq_eval *ev);	/* 0 if no rows */
double	hgq_eval_metric(const struct hgq_eval *ev);	/* by the task */

/*
 * hgq_eval_report - hgq-sim's report (DESIGN.md "Reports") to f: json or
 * text, with the overflow counts of the n_quant quantizers of model m
 * (ovf, as struct hgq_ovf_stats counts them: quantizer q is the q-th
 * quantizer layer of m, reported by its layer number) and the samples
 * per second of seconds spent in the engine.
 */
void	hgq_eval_report(FILE *f, const struct hgq_eval *ev,
	    const struct hgq_model *m, const uint64_t *ovf, uint32_t n_quant,
	    double seconds, int json);

/* ------------------------------------------------------------------ */
/* Pareto fronts across models (pareto.c, for hgq-pareto)              */
/* ------------------------------------------------------------------ */

/*
 * A sweep leaves many models; a front keeps those no other beats on
 * (accuracy, EBOPs).  Point p dominates q when p.accuracy >= q.accuracy
 * and p.ebops <= q.ebops, one of them strictly.  Points with the same
 * accuracy and EBOPs do not dominate each other: all of them stay.
 *
 * Accuracy comes from one source per front: "exact" (counted by the
 * bit-exact engine on one data set of n rows: accuracy = correct / n,
 * every point with the same n) or "meta:KEY" (a number read from the
 * models' metadata entry KEY; correct = n = 0).  Fronts of different
 * sources are not merged (HGQ_EINVAL).
 */
#define HGQ_FRONT_MAX_POINTS	(1u << 24)
#define HGQ_FRONT_MAX_LINE	8192	/* bytes of a TSV line */

struct hgq_front_point {
	char		*name;		/* owned: the model's path */
	uint64_t	 ebops;		/* exact (hgq_ebops_total) */
	uint64_t	 lut_estimate;	/* hgq_ebops_report's estimate */
	double		 accuracy;	/* in [0, 1] */
	uint64_t	 correct, n;	/* "exact": rows right, rows; else 0 */
	int		 on_front;	/* set by hgq_front_merge */
};

struct hgq_front {
	char		*source;	/* owned; NULL until the first point */
	size_t		 n;
	struct hgq_front_point *pts;	/* n, owned */
};

void	hgq_front_init(struct hgq_front *f);
void	hgq_front_release(struct hgq_front *f);	/* twice is fine */

/*
 * hgq_front_measure - a point for model m (calibrated, classification):
 * EBOPs and LUT estimate from hgq_ebops_report; accuracy from the
 * metadata entry meta_key when it is not NULL, else counted on n rows of
 * raw inputs x (n * m->n_raw) and labels y (n, class indices) by the
 * bit-exact engine (threads as hgq_engine_run).  p->name is left NULL.
 * HGQ_EINVAL (not calibrated, regression model, no or bad metadata
 * entry, wrong number of columns (n_cols), label out of range),
 * HGQ_ERANGE, HGQ_ENOMEM.
 */
int	hgq_front_measure(struct hgq_front_point *p, const struct hgq_model *m,
	    const char *meta_key, const double *x, size_t n_cols,
	    const double *y, size_t n, int threads, struct hgq_err *err);

/*
 * hgq_front_add - append a copy of p (name copied) measured with source
 * ("exact" or "meta:KEY").  HGQ_EINVAL when the source or, for "exact",
 * n differs from the front's, when the name is empty or holds a tab or a
 * newline, or at HGQ_FRONT_MAX_POINTS; HGQ_ENOMEM.
 */
int	hgq_front_add(struct hgq_front *f, const struct hgq_front_point *p,
	    const char *source, struct hgq_err *err);

/*
 * hgq_front_read_tsv - add every row of a front written by
 * hgq_front_write (TSV, with or without the dominated rows); name is the
 * file's name for messages ("x.tsv:3: ...").  Checks the header, the
 * number of fields, every number and its range, correct <= n and that
 * accuracy is correct / n as written.  HGQ_EFORMAT, HGQ_EINVAL (as
 * hgq_front_add), HGQ_EIO, HGQ_ENOMEM.
 */
int	hgq_front_read_tsv(struct hgq_front *f, FILE *in, const char *name,
	    struct hgq_err *err);

/*
 * hgq_front_merge - sort the points by EBOPs up, accuracy down, then
 * name; drop repeated points (same name and figures); set on_front.  A
 * name repeated with other figures is HGQ_EINVAL (the model changed
 * between two measurements).  The result depends only on the set of
 * points, not on the order they were added in.
 */
int	hgq_front_merge(struct hgq_front *f, struct hgq_err *err);

/*
 * hgq_front_pick - after hgq_front_merge: the index of the most accurate
 * point with ebops <= max_ebops and lut_estimate <= max_luts (UINT64_MAX:
 * no limit), the cheaper on equal accuracy, then the first by name; -1
 * when none fits.
 */
long	hgq_front_pick(const struct hgq_front *f, uint64_t max_ebops,
	    uint64_t max_luts);

/*
 * hgq_front_write - after hgq_front_merge: the points on the front (all
 * of them when all is set; then the column "front" says which), or only
 * point pick when pick >= 0, as TSV ('#' header: model, ebops, accuracy,
 * correct, n, lut_estimate, source, front) or JSON ({"source": ...,
 * "n_models": N, "points": [...]}).  HGQ_EIO on a write error.
 */
int	hgq_front_write(FILE *out, const struct hgq_front *f, int json,
	    int all, long pick, struct hgq_err *err);

#endif /* HGQ_H */
