/*
 * verilog.c - the IR as Verilog-2005, its self-checking testbench and
 * vectors, and the resource report.
 *
 * The module (DESIGN.md, "The RTL ports"):
 *
 *   module TOP([input clk,] input [WI-1:0] model_inp,
 *       output [WO-1:0] model_out);
 *
 * or, for a model with named inputs and outputs (format 1.2), one port
 * inp_<name> per input and out_<name> per output, in the model's order,
 * after clk.  Element j of a port occupies its own width (k+i+f) from the
 * sum of the widths before it, element 0 at the LSBs; pruned elements
 * take no bits.
 * Inside, one variable per IR value, sized from its interval (and cut to
 * the bits its consumers read), and one blocking statement per op in
 * topological order in a single always @* block (rtl-notes.md 2.2, 5):
 *
 *   - every operand is brought to the exact width of the statement by
 *     explicit concatenation (sign bit replicated, or zeros), so that all
 *     arithmetic is unsigned and of one width: no $signed, no <<<, no
 *     implicit extension; the intervals prove that the low W bits are the
 *     whole result;
 *   - an adder covers only the bits where both operands can have bits; the
 *     finer operand's low bits pass through as wires (hgq_add_span);
 *   - ReLU masks with the inverted sign bit, truncation and wrap are bit
 *     slices, saturation is a choice between the value and two constants
 *     on tests of the bits above the format;
 *   - a lookup-table element is a case over every value of its index
 *     bits (a ROM; the entries come from the IR, hence hgq_lut_mant).
 *
 * Pipelining (--pipeline N): an adder or a ROM at level L (1, 2, ...; a
 * ROM counts as one level, like an adder) belongs to stage (L-1)/N, the
 * other ops to the stage of their operands; at the end of every stage
 * each value still needed later is registered, and so are the outputs,
 * so the latency is the number of stages and the flip-flops are the bits
 * crossing the cuts.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ------------------------------------------------------------------ */
/* A growing string                                                    */
/* ------------------------------------------------------------------ */

struct sbuf {
	char	*p;
	size_t	 n, cap;
	int	 oom;
};

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->n;

		va_start(ap, fmt);
		len = vsnprintf(b->p == NULL ? NULL : b->p + b->n, room, fmt,
		    ap);
		va_end(ap);
		if (len < 0) {
			b->oom = 1;
			return;
		}
		if ((size_t)len < room) {
			b->n += (size_t)len;
			return;
		}
		{
			size_t c = b->cap == 0 ? 256 : b->cap * 2;
			char *q;

			while (c < b->n + (size_t)len + 1)
				c *= 2;
			if ((q = realloc(b->p, c)) == NULL) {
				b->oom = 1;
				return;
			}
			b->p = q;
			b->cap = c;
		}
	}
}

static void
sb_reset(struct sbuf *b)
{
	b->n = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

/* ------------------------------------------------------------------ */
/* Schedule                                                            */
/* ------------------------------------------------------------------ */

struct sched {
	int32_t		*stage;		/* n_ops: stage computing the op */
	int32_t		*last;		/* n_ops: last stage reading it */
	int32_t		 n_stages;	/* 0: combinational */
	uint64_t	 ff;
};

/* the bits kept in hardware (op->w) and the sign of the value */
static int
op_width(const struct hgq_ir_op *op, int *sgn)
{
	hgq_ival_width(op->v.lo, op->v.hi, sgn);
	return op->w;
}

static void
sched_release(struct sched *s)
{
	free(s->stage);
	free(s->last);
	memset(s, 0, sizeof(*s));
}

static void
note_use(struct sched *s, int32_t op, int32_t stage)
{
	if (op >= 0 && s->last[op] < stage)
		s->last[op] = stage;
}

static int
sched_build(struct sched *s, const struct hgq_ir *ir, int pipeline)
{
	memset(s, 0, sizeof(*s));
	s->stage = hgq_calloc(ir->n_ops, sizeof(*s->stage));
	s->last = hgq_calloc(ir->n_ops, sizeof(*s->last));
	if (s->stage == NULL || s->last == NULL) {
		sched_release(s);
		return HGQ_ENOMEM;
	}
	if (pipeline <= 0)
		return HGQ_OK;
	for (uint32_t j = 0; j < ir->n_ops; j++) {
		const struct hgq_ir_op *op = &ir->ops[j];
		int32_t st = 0;

		switch (op->kind) {
		case HGQ_IR_INPUT:
		case HGQ_IR_CONST:
			break;
		case HGQ_IR_ADD:
		case HGQ_IR_DOT:
		case HGQ_IR_MAX:
		case HGQ_IR_LUT:
			st = (op->depth - 1) / pipeline;
			break;
		default:
			st = s->stage[op->a];
		}
		s->stage[j] = st;
		s->last[j] = st;
		if (st + 1 > s->n_stages)
			s->n_stages = st + 1;
	}
	if (s->n_stages == 0)
		s->n_stages = 1;
	for (uint32_t j = 0; j < ir->n_ops; j++) {
		const struct hgq_ir_op *op = &ir->ops[j];

		if (op->kind == HGQ_IR_DOT) {
			for (int32_t t = 0; t < op->b; t++)
				note_use(s, ir->terms[op->a + t].src,
				    s->stage[j]);
		} else if (op->kind != HGQ_IR_INPUT) {
			note_use(s, op->a, s->stage[j]);
			note_use(s, op->b, s->stage[j]);
		}
	}
	for (uint32_t j = 0; j < ir->n_out; j++)
		note_use(s, ir->out_op[j], s->n_stages);
	for (uint32_t j = 0; j < ir->n_ops; j++)
		if (ir->ops[j].kind != HGQ_IR_CONST && s->last[j] > s->stage[j])
			s->ff += (uint64_t)op_width(&ir->ops[j], NULL) *
			    (uint64_t)(s->last[j] - s->stage[j]);
	return HGQ_OK;
}

/* ------------------------------------------------------------------ */
/* Expressions                                                         */
/* ------------------------------------------------------------------ */

/* the name of op j's value as seen from stage st */
static void
ref_name(struct sbuf *b, const struct sched *s, int32_t j, int32_t st)
{
	if (s->n_stages == 0 || st <= s->stage[j])
		sb_printf(b, "v%d", j);
	else
		sb_printf(b, "r%d_%d", j, st);
}

/* a W-bit literal of the low W bits of v */
static void
literal(struct sbuf *b, int w, uint64_t v)
{
	if (w < 64)
		v &= ((uint64_t)1 << w) - 1;
	sb_printf(b, "%d'h%llx", w, (unsigned long long)v);
}

/*
 * Bits [w-1:0] of (op j's mantissa * 2^sh) with its sign (or zeros)
 * extended above, as a w-bit expression; sh < 0 drops low bits (floor).
 */
static void
ext(struct sbuf *b, const struct hgq_ir *ir, const struct sched *s,
    int32_t j, int32_t st, int sh, int w)
{
	const struct hgq_ir_op *op = &ir->ops[j];
	int sgn, ws = op_width(op, &sgn);
	int n_zero, k_lo, k_hi, n_ext, parts;

	if (op->kind == HGQ_IR_CONST || ws == 0) {
		int64_t c = op->kind == HGQ_IR_CONST ? op->v.lo : 0;

		if (sh >= 64 || c == 0)
			c = 0;
		else if (sh >= 0)
			c = (int64_t)((uint64_t)c << sh);
		else
			c = hgq_round_mant(c, -sh, 0, HGQ_TRN);
		literal(b, w, (uint64_t)c);
		return;
	}
	/* output bit t holds source bit t - sh */
	n_zero = sh > 0 ? (sh < w ? sh : w) : 0;
	k_lo = sh < 0 ? -sh : 0;
	k_hi = w - sh < ws ? w - sh : ws;	/* exclusive */
	if (k_hi < k_lo)
		k_hi = k_lo;
	n_ext = w - n_zero - (k_hi - k_lo);
	parts = (n_ext > 0) + (k_hi > k_lo) + (n_zero > 0);
	if (parts > 1)
		sb_printf(b, "{");
	if (n_ext > 0) {
		if (sgn && n_ext > 1)
			sb_printf(b, "{%d{", n_ext);
		if (sgn) {
			ref_name(b, s, j, st);
			sb_printf(b, "[%d]", ws - 1);
		} else {
			sb_printf(b, "%d'h0", n_ext);
		}
		if (sgn && n_ext > 1)
			sb_printf(b, "}}");
		if (k_hi > k_lo || n_zero > 0)
			sb_printf(b, ", ");
	}
	if (k_hi > k_lo) {
		ref_name(b, s, j, st);
		sb_printf(b, "[%d:%d]", k_hi - 1, k_lo);
		if (n_zero > 0)
			sb_printf(b, ", ");
	}
	if (n_zero > 0)
		sb_printf(b, "%d'h0", n_zero);
	if (parts > 1)
		sb_printf(b, "}");
}

/* ------------------------------------------------------------------ */
/* The module                                                          */
/* ------------------------------------------------------------------ */

void
hgq_verilog_opts_init(struct hgq_verilog_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->top = "hgq_top";
	o->pipeline = 0;
}

static uint64_t
port_width(const uint8_t *w, uint32_t n)
{
	uint64_t t = 0;

	for (uint32_t j = 0; j < n; j++)
		t += w[j];
	return t;
}

/* the Verilog name of input (out = 0) or output port k */
static void
port_name(struct sbuf *b, const struct hgq_ir *ir, int out, uint32_t k)
{
	const struct hgq_ir_port *p = out ? &ir->out_ports[k] :
	    &ir->in_ports[k];

	if (p->name[0] == '\0')
		sb_printf(b, "%s", out ? "model_out" : "model_inp");
	else
		sb_printf(b, "%s_%s", out ? "out" : "inp", p->name);
}

/* the bits of input (out = 0) or output port k */
static uint64_t
port_bits(const struct hgq_ir *ir, int out, uint32_t k)
{
	const struct hgq_ir_port *p = out ? &ir->out_ports[k] :
	    &ir->in_ports[k];

	return port_width((out ? ir->out_w : ir->in_w) + p->start, p->n);
}

/* a model without ports: model_inp and model_out */
static bool
unnamed(const struct hgq_ir *ir)
{
	return ir->n_in_ports == 1 && ir->in_ports[0].name[0] == '\0' &&
	    ir->n_out_ports == 1 && ir->out_ports[0].name[0] == '\0';
}

/* Verilog-2005 (IEEE 1364 Annex B) and SystemVerilog keywords */
static const char *const keywords[] = {
	"accept_on", "alias", "always", "always_comb", "always_ff",
	"always_latch", "and", "assert", "assign", "assume", "automatic",
	"before", "begin", "bind", "bins", "binsof", "bit", "break", "buf",
	"bufif0", "bufif1", "byte", "case", "casex", "casez", "cell",
	"chandle", "checker", "class", "clocking", "cmos", "config", "const",
	"constraint", "context", "continue", "cover", "covergroup",
	"coverpoint", "cross", "deassign", "default", "defparam", "design",
	"disable", "dist", "do", "edge", "else", "end", "endcase",
	"endchecker", "endclass", "endclocking", "endconfig", "endfunction",
	"endgenerate", "endgroup", "endinterface", "endmodule", "endpackage",
	"endprimitive", "endprogram", "endproperty", "endsequence",
	"endspecify", "endtable", "endtask", "enum", "event", "eventually",
	"expect", "export", "extends", "extern", "final", "first_match",
	"for", "force", "foreach", "forever", "fork", "forkjoin", "function",
	"generate", "genvar", "global", "highz0", "highz1", "if", "iff",
	"ifnone", "ignore_bins", "illegal_bins", "implements", "implies",
	"import", "incdir", "include", "initial", "inout", "input", "inside",
	"instance", "int", "integer", "interconnect", "interface",
	"intersect", "join", "join_any", "join_none", "large", "let",
	"liblist", "library", "local", "localparam", "logic", "longint",
	"macromodule", "matches", "medium", "modport", "module", "nand",
	"negedge", "nettype", "new", "nexttime", "nmos", "nor",
	"noshowcancelled", "not", "notif0", "notif1", "null", "or", "output",
	"package", "packed", "parameter", "pmos", "posedge", "primitive",
	"priority", "program", "property", "protected", "pull0", "pull1",
	"pulldown", "pullup", "pulsestyle_ondetect", "pulsestyle_onevent",
	"pure", "rand", "randc", "randcase", "randsequence", "rcmos", "real",
	"realtime", "ref", "reg", "reject_on", "release", "repeat",
	"restrict", "return", "rnmos", "rpmos", "rtran", "rtranif0",
	"rtranif1", "s_always", "s_eventually", "s_nexttime", "s_until",
	"s_until_with", "scalared", "sequence", "shortint", "shortreal",
	"showcancelled", "signed", "small", "soft", "solve", "specify",
	"specparam", "static", "string", "strong", "strong0", "strong1",
	"struct", "super", "supply0", "supply1", "sync_accept_on",
	"sync_reject_on", "table", "tagged", "task", "this", "throughout",
	"time", "timeprecision", "timeunit", "tran", "tranif0", "tranif1",
	"tri", "tri0", "tri1", "triand", "trior", "trireg", "type", "typedef",
	"union", "unique", "unique0", "unsigned", "until", "until_with",
	"untyped", "use", "uwire", "var", "vectored", "virtual", "void",
	"wait", "wait_order", "wand", "weak", "weak0", "weak1", "while",
	"wildcard", "wire", "with", "within", "wor", "xnor", "xor",
};

int
hgq_verilog_ident_ok(const char *s)
{
	const char *p;

	if (s == NULL || *s == '\0' || strlen(s) > 200 ||
	    !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
	    *s == '_'))
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	for (size_t j = 0; j < sizeof(keywords) / sizeof(keywords[0]); j++)
		if (strcmp(s, keywords[j]) == 0)
			return 0;
	/* the names the module uses inside */
	if (strcmp(s, "model_inp") == 0 || strcmp(s, "model_out") == 0 ||
	    strcmp(s, "clk") == 0)
		return 0;
	return 1;
}

int
hgq_verilog_info(const struct hgq_ir *ir, int pipeline,
    struct hgq_rtl_info *info, struct hgq_err *err)
{
	struct sched s;

	if (sched_build(&s, ir, pipeline) != HGQ_OK)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	memset(info, 0, sizeof(*info));
	info->adders = ir->n_adders;
	info->lut = ir->lut;
	info->ff = s.ff;
	info->latency = (uint32_t)s.n_stages;
	info->depth = ir->depth;
	info->inp_bits = port_width(ir->in_w, ir->n_in);
	info->out_bits = port_width(ir->out_w, ir->n_out);
	info->roms = ir->n_rom;
	info->rom_bits = ir->rom_bits;
	sched_release(&s);
	return HGQ_OK;
}

/* the width of a product constant c of a DOT term */
static int
dot_const_width(const struct hgq_ir *ir, const struct hgq_ir_op *op,
    const struct hgq_ir_term *tm, int64_t *c)
{
	(void)ir;
	*c = (int64_t)tm->w_m * ((int64_t)1 << (tm->w_e - op->v.e));
	return hgq_ival_width(*c < 0 ? *c : -1, *c > 0 ? *c : 0, NULL);
}

/* DOT op j's register: its kept bits, or the widest product's */
static int
dot_width(const struct hgq_ir *ir, uint32_t j)
{
	const struct hgq_ir_op *op = &ir->ops[j];
	int w = op->w;

	for (int32_t t = 0; t < op->b; t++) {
		const struct hgq_ir_term *tm = &ir->terms[op->a + t];
		int xs, wx = op_width(&ir->ops[tm->src], &xs);
		int64_t c;
		int p = wx + !xs + dot_const_width(ir, op, tm, &c);

		if (p > w)
			w = p;
	}
	return w;
}

/* one op's statement(s) into b (declarations into d) */
static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* the most frequent of the n entries t (the smallest of a tie) */
static int64_t
rom_mode(const int64_t *t, uint32_t n)
{
	int64_t *c = hgq_calloc(n, sizeof(*c)), best;
	uint32_t run = 0, best_run = 0;

	if (c == NULL)
		return t[n - 1];
	memcpy(c, t, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_i64);
	best = c[0];
	for (uint32_t p = 0; p < n; p++) {
		run = p > 0 && c[p] == c[p - 1] ? run + 1 : 1;
		if (run > best_run) {
			best_run = run;
			best = c[p];
		}
	}
	free(c);
	return best;
}

/*
 * A ROM: a case over the values of its index bits; the most frequent
 * entry is the default and the others are listed (a table that
 * saturates lists only its slope).
 */
static void
emit_rom(struct sbuf *b, const struct hgq_ir *ir, const struct sched *s,
    uint32_t j)
{
	const struct hgq_ir_op *op = &ir->ops[j];
	const int64_t *t = &ir->tab[op->tab];
	uint32_t n = (uint32_t)1 << op->n_idx;
	int64_t dflt = rom_mode(t, n);

	sb_printf(b, "\tcase (");
	ext(b, ir, s, op->a, s->stage[j], 0, op->n_idx);
	sb_printf(b, ")\n");
	for (uint32_t p = 0; p < n; p++) {
		if (t[p] == dflt)
			continue;
		sb_printf(b, "\t%d'h%x: v%u = ", op->n_idx, p, j);
		literal(b, op->w, (uint64_t)t[p]);
		sb_printf(b, ";\n");
	}
	sb_printf(b, "\tdefault: v%u = ", j);
	literal(b, op->w, (uint64_t)dflt);
	sb_printf(b, ";\n\tendcase\n");
}

static void
emit_op(struct sbuf *d, struct sbuf *b, const struct hgq_ir *ir,
    const struct sched *s, uint32_t j, const uint64_t *in_off,
    const uint32_t *in_port)
{
	const struct hgq_ir_op *op = &ir->ops[j];
	int sgn, w = op_width(op, &sgn);
	int32_t st = s->stage[j];

	if (op->kind == HGQ_IR_CONST || w == 0)
		return;
	if (op->kind == HGQ_IR_DOT)
		/* wide enough for every product: no truncating statement */
		sb_printf(d, "reg [%d:0] v%u;\n", dot_width(ir, j) - 1, j);
	else
		sb_printf(d, "reg [%d:0] v%u;\n", w - 1, j);
	switch (op->kind) {
	case HGQ_IR_INPUT:
		sb_printf(b, "\tv%u = ", j);
		port_name(b, ir, 0, in_port[op->a]);
		sb_printf(b, "[%llu:%llu];\n",
		    (unsigned long long)(in_off[op->a] + (uint64_t)w - 1),
		    (unsigned long long)in_off[op->a]);
		break;
	case HGQ_IR_LUT:
		emit_rom(b, ir, s, j);
		break;
	case HGQ_IR_ADD: {
		const struct hgq_ir_op *a = &ir->ops[op->a];
		const struct hgq_ir_op *bb = &ir->ops[op->b];
		int pa = a->v.e - op->v.e;
		int pb = bb->v.e + op->shift - op->v.e;
		int low, span = hgq_ir_add_split(ir, j, &low);

		if (low > 0) {
			/* the finer operand's low bits pass through */
			sb_printf(b, "\tv%u[%d:0] = ", j, low - 1);
			ext(b, ir, s, pa == 0 ? op->a : op->b, st, 0, low);
			sb_printf(b, ";\n");
		}
		if (low >= w)
			break;
		sb_printf(b, "\tv%u[%d:%d] = ", j, w - 1, low);
		if (span == 0) {
			/* the coarse operand alone: a concatenation */
			if (pa == 0)
				ext(b, ir, s, op->b, st, pb - low, w - low);
			else
				ext(b, ir, s, op->a, st, pa - low, w - low);
		} else {
			ext(b, ir, s, op->a, st, pa - low, w - low);
			sb_printf(b, op->sub ? " - " : " + ");
			ext(b, ir, s, op->b, st, pb - low, w - low);
		}
		sb_printf(b, ";\n");
		break;
	}
	case HGQ_IR_RELU: {
		int wa = op_width(&ir->ops[op->a], NULL);

		sb_printf(b, "\tv%u = ", j);
		ext(b, ir, s, op->a, st, 0, w);
		sb_printf(b, " & {%d{~", w);
		ref_name(b, s, op->a, st);
		sb_printf(b, "[%d]}};\n", wa - 1);
		break;
	}
	case HGQ_IR_QUANT: {
		const struct hgq_ir_op *a = &ir->ops[op->a];

		sb_printf(b, "\tv%u = ", j);
		ext(b, ir, s, op->a, st, a->v.e + op->shift + op->f, w);
		sb_printf(b, ";\n");
		break;
	}
	case HGQ_IR_SAT: {
		const struct hgq_ir_op *a = &ir->ops[op->a];
		int asg, wa = op_width(a, &asg);
		int bits = op->i + op->f;	/* magnitude bits */
		int64_t lo, hi;
		bool over, under;

		/* a's interval is exact (ir.c narrows the sums): a side is
		   tested only when a value can pass it */
		hgq_fmt_range(op->k, op->i, op->f, op->mode, &lo, &hi);
		over = a->v.hi > hi;
		under = a->v.lo < lo;
		int top = asg ? wa - 2 : wa - 1;	/* magnitude bits */

		if (over) {
			/* a >= 2^bits: non-negative, a bit set at or above
			   position bits */
			sb_printf(d, "reg v%u_hi;\n", j);
			sb_printf(b, "\tv%u_hi = ", j);
			if (asg) {
				sb_printf(b, "~");
				ref_name(b, s, op->a, st);
				sb_printf(b, "[%d] & ", wa - 1);
			}
			sb_printf(b, "(|");
			ref_name(b, s, op->a, st);
			sb_printf(b, "[%d:%d]);\n", top, bits);
		}
		if (under) {
			sb_printf(d, "reg v%u_lo;\n", j);
			sb_printf(b, "\tv%u_lo = ", j);
			ref_name(b, s, op->a, st);
			sb_printf(b, "[%d]", wa - 1);
			if (op->k) {
				/* a < -2^bits: bits [top:bits] not all ones;
				   SAT_SYM also a == -2^bits: low bits 0 */
				bool t1 = top >= bits;
				bool t2 = op->mode == HGQ_SAT_SYM && bits > 0;

				if (t1 || t2)
					sb_printf(b, " & (");
				if (t1) {
					sb_printf(b, "~(&");
					ref_name(b, s, op->a, st);
					sb_printf(b, "[%d:%d])", top, bits);
				}
				if (t2) {
					sb_printf(b, "%s~(|", t1 ? " | " : "");
					ref_name(b, s, op->a, st);
					sb_printf(b, "[%d:0])", bits - 1);
				}
				if (t1 || t2)
					sb_printf(b, ")");
			}
			sb_printf(b, ";\n");
		}
		sb_printf(b, "\tv%u = ", j);
		if (over) {
			sb_printf(b, "v%u_hi ? ", j);
			literal(b, w, (uint64_t)hi);
			sb_printf(b, " : ");
		}
		if (under) {
			sb_printf(b, "v%u_lo ? ", j);
			literal(b, w, (uint64_t)lo);
			sb_printf(b, " : ");
		}
		ext(b, ir, s, op->a, st, 0, w);
		sb_printf(b, ";\n");
		break;
	}
	case HGQ_IR_MAX: {
		/* a comparison at the common width wc (sign bits flipped:
		   an unsigned compare of two's complement values), then a
		   choice */
		const struct hgq_ir_op *a = &ir->ops[op->a];
		const struct hgq_ir_op *bb = &ir->ops[op->b];
		int wc = hgq_ir_max_width(ir, j), sa, sb;

		hgq_ival_width(a->v.lo, a->v.hi, &sa);
		hgq_ival_width(bb->v.lo, bb->v.hi, &sb);
		sb_printf(d, "reg v%u_lt;\n", j);
		sb_printf(b, "\tv%u_lt = ", j);
		for (int q = 0; q < 2; q++) {
			const struct hgq_ir_op *x = q ? bb : a;

			sb_printf(b, q ? " < " : "");
			if (sa || sb)
				sb_printf(b, "(");
			ext(b, ir, s, q ? op->b : op->a, st, x->v.e - op->v.e,
			    wc);
			if (sa || sb) {
				sb_printf(b, " ^ ");
				literal(b, wc, (uint64_t)1 << (wc - 1));
				sb_printf(b, ")");
			}
		}
		sb_printf(b, ";\n\tv%u = v%u_lt ? ", j, j);
		ext(b, ir, s, op->b, st, bb->v.e - op->v.e, w);
		sb_printf(b, " : ");
		ext(b, ir, s, op->a, st, a->v.e - op->v.e, w);
		sb_printf(b, ";\n");
		break;
	}
	case HGQ_IR_DOT:
		/* behavioral: signed products written with *, all operands
		   signed so that Verilog extends them to w bits */
		sb_printf(b, "\tv%u = ", j);
		for (int32_t t = 0; t < op->b; t++) {
			const struct hgq_ir_term *tm = &ir->terms[op->a + t];
			const struct hgq_ir_op *x = &ir->ops[tm->src];
			int xs, wx = op_width(x, &xs);
			int64_t c;
			int wc = dot_const_width(ir, op, tm, &c);

			sb_printf(b, "%s$signed(", t ? "\n\t    + " : "");
			if (xs) {
				ref_name(b, s, tm->src, st);
			} else {
				sb_printf(b, "{1'b0, ");
				ref_name(b, s, tm->src, st);
				sb_printf(b, "}");
			}
			(void)wx;
			sb_printf(b, ") * %d'sh", wc);
			sb_printf(b, "%llx", (unsigned long long)((uint64_t)c &
			    (wc >= 64 ? ~(uint64_t)0 :
			    (((uint64_t)1 << wc) - 1))));
		}
		sb_printf(b, ";\n");
		break;
	default:
		break;
	}
}

/* the header comment: what the module is and its ports */
static void
write_header(FILE *f, const struct hgq_ir *ir, const struct sched *s,
    int pipeline)
{
	struct sbuf n = { 0 };

	fprintf(f, "// Generated by hgq-emit-verilog %s; do not edit.\n",
	    HGQ_VERSION);
	fprintf(f, "// %s: %u adders, LUT estimate %llu, adder depth %d",
	    ir->behavioral ? "behavioral (* operators)" : "adder graphs",
	    ir->n_adders, (unsigned long long)ir->lut, ir->depth);
	if (ir->n_rom > 0)
		fprintf(f, ",\n// %u ROMs of %llu bits (a ROM is one level "
		    "of depth)", ir->n_rom,
		    (unsigned long long)ir->rom_bits);
	fprintf(f, ".\n");
	if (s->n_stages > 0)
		fprintf(f, "// Pipelined: a register every %d adder levels; "
		    "latency %d cycles, %llu flip-flops.\n", pipeline,
		    s->n_stages, (unsigned long long)s->ff);
	else
		fprintf(f, "// Combinational: latency 0 cycles.\n");
	if (unnamed(ir)) {
		fprintf(f, "// model_inp: %u elements in %llu bits; model_out: "
		    "%u elements in %llu bits;\n", ir->n_in,
		    (unsigned long long)port_width(ir->in_w, ir->n_in),
		    ir->n_out,
		    (unsigned long long)port_width(ir->out_w, ir->n_out));
	} else {
		for (int out = 0; out < 2; out++)
			for (uint32_t k = 0; k < (out ? ir->n_out_ports :
			    ir->n_in_ports); k++) {
				sb_reset(&n);
				port_name(&n, ir, out, k);
				fprintf(f, "// %s: %u elements in %llu bits;\n",
				    n.p != NULL ? n.p : "", out ?
				    ir->out_ports[k].n : ir->in_ports[k].n,
				    (unsigned long long)port_bits(ir, out, k));
			}
	}
	fprintf(f, "// element 0 at the LSBs, each at its own width, pruned "
	    "elements absent.\n");
	free(n.p);
}

/* the port list: clk, the inputs, the outputs */
static void
write_ports(FILE *f, const struct hgq_ir *ir, const struct sched *s)
{
	struct sbuf n = { 0 };

	if (s->n_stages > 0)
		fprintf(f, "\tinput clk,\n");
	for (int out = 0; out < 2; out++)
		for (uint32_t k = 0; k < (out ? ir->n_out_ports :
		    ir->n_in_ports); k++) {
			uint64_t w = port_bits(ir, out, k);
			int last = out && k + 1 == ir->n_out_ports;

			sb_reset(&n);
			port_name(&n, ir, out, k);
			fprintf(f, "\t%s [%llu:0] %s%s\n", out ? "output" :
			    "input", (unsigned long long)(w > 0 ? w - 1 : 0),
			    n.p != NULL ? n.p : "", last ? "" : ",");
		}
	fprintf(f, ");\n");
	free(n.p);
}

/* the output ports from their ops (registered when pipelined) */
static int
write_outputs(FILE *f, const struct hgq_ir *ir, const struct sched *s)
{
	struct sbuf r = { 0 }, n = { 0 };
	int rc = HGQ_OK;

	for (uint32_t k = 0; k < ir->n_out_ports; k++) {
		const struct hgq_ir_port *p = &ir->out_ports[k];
		uint64_t pos = 0;

		sb_reset(&n);
		port_name(&n, ir, 1, k);
		for (uint32_t j = p->start; j < p->start + p->n; j++) {
			int w = ir->out_w[j];

			if (w == 0)
				continue;
			sb_reset(&r);
			if (ir->out_op[j] < 0)
				literal(&r, w, 0);
			else
				ext(&r, ir, s, ir->out_op[j], s->n_stages, 0,
				    w);
			if (r.oom || n.oom) {
				rc = HGQ_ENOMEM;
				goto out;
			}
			fprintf(f, "assign %s[%llu:%llu] = %s;\n", n.p,
			    (unsigned long long)(pos + (uint64_t)w - 1),
			    (unsigned long long)pos, r.p);
			pos += (uint64_t)w;
		}
		if (pos == 0)
			fprintf(f, "assign %s = 1'b0;\n", n.p != NULL ? n.p :
			    "");
	}
out:
	free(r.p);
	free(n.p);
	return rc;
}

/* does the logic read a bit of an input port? */
static bool
reads_input(const struct hgq_ir *ir)
{
	for (uint32_t j = 0; j < ir->n_ops; j++)
		if (ir->ops[j].kind == HGQ_IR_INPUT && ir->ops[j].w > 0)
			return true;
	return false;
}

/*
 * Logic that reads no input bit (every value it keeps is a constant):
 * "always @*" would wait forever on an empty event list, so the block
 * waits on the input ports instead, which the first input vector sets.
 */
static void
write_const_block(FILE *f, const struct hgq_ir *ir, const char *body)
{
	struct sbuf n = { 0 };

	for (uint32_t k = 0; k < ir->n_in_ports; k++) {
		sb_printf(&n, k > 0 ? " or " : "");
		port_name(&n, ir, 0, k);
	}
	fprintf(f, "always @(%s) begin\n%send\n", n.p != NULL ? n.p : "",
	    body);
	free(n.p);
}

/* every element's input port and its offset in that port */
static int
input_layout(const struct hgq_ir *ir, uint64_t **off, uint32_t **port)
{
	*off = hgq_calloc(ir->n_in, sizeof(**off));
	*port = hgq_calloc(ir->n_in, sizeof(**port));
	if (*off == NULL || *port == NULL)
		return HGQ_ENOMEM;
	for (uint32_t k = 0; k < ir->n_in_ports; k++) {
		const struct hgq_ir_port *p = &ir->in_ports[k];
		uint64_t pos = 0;

		for (uint32_t j = p->start; j < p->start + p->n; j++) {
			(*off)[j] = pos;
			(*port)[j] = k;
			pos += ir->in_w[j];
		}
	}
	return HGQ_OK;
}

/* the declared width of op j's value (and of its registers) */
static int
decl_width(const struct hgq_ir *ir, int32_t j)
{
	return ir->ops[j].kind == HGQ_IR_DOT ? dot_width(ir, (uint32_t)j) :
	    op_width(&ir->ops[j], NULL);
}

/* op j's pipeline registers: declarations to d, transfers to r */
static void
emit_regs(struct sbuf *d, struct sbuf *r, const struct hgq_ir *ir,
    const struct sched *s, uint32_t j)
{
	if (ir->ops[j].kind == HGQ_IR_CONST || op_width(&ir->ops[j], NULL) == 0)
		return;
	for (int32_t st = s->stage[j] + 1; st <= s->last[j]; st++) {
		sb_printf(d, "reg [%d:0] r%u_%d;\n", decl_width(ir,
		    (int32_t)j) - 1, j, st);
		sb_printf(r, "\t");
		ref_name(r, s, (int32_t)j, st);
		sb_printf(r, " <= ");
		ref_name(r, s, (int32_t)j, st - 1);
		sb_printf(r, ";\n");
	}
}

/* ------------------------------------------------------------------ */
/* Submodules (opts->modules)                                          */
/* ------------------------------------------------------------------ */

/*
 * A flat module of N signals costs Icarus Verilog O(N^2) to elaborate
 * (it finds a signal by a linear search of its scope), which a large
 * convolution cannot afford.  Split, the ops go to groups of one layer
 * and about `modules` ops (join_group: a convolution's positions one
 * after the other, each with its outputs).  Group 0 is the top:
 * the input elements and their registers.  Every other group is a
 * submodule holding its ops and their pipeline registers; its ports are
 * the values that cross its boundary, under their flat names (v<op> or
 * r<op>_<stage>), which the top declares as wires.
 */
#define NO_GROUP UINT32_MAX

/* op j's value as seen from stage st, read by group g */
struct xref {
	uint32_t	 g;
	int32_t		 j;
	int32_t		 st;		/* stage[j] for v<j>, else r<j>_<st> */
};

struct split {
	uint32_t	 n_groups;	/* the top and the submodules */
	uint32_t	*grp;		/* n_ops: owner, or NO_GROUP (no
					   signal: constant or no bits) */
	int32_t		*layer;		/* n_groups: the ops' IR layer */
	uint32_t	*part;		/* n_groups: its index in the layer */
	uint32_t	*size;		/* n_groups: its ops */
	uint8_t		*clk;		/* n_groups: holds registers */
	uint32_t	*ops;		/* the submodules' ops, by group */
	size_t		*ops_at;	/* n_groups + 1: group g's first */
	struct xref	*in;		/* sorted by reader, unique */
	struct xref	*out;		/* the same by owner (g), unique */
	size_t		 n_in, n_out, cap;
	size_t		*in_at, *out_at; /* n_groups + 1: first entry */
};

static void
split_release(struct split *p)
{
	free(p->grp);
	free(p->layer);
	free(p->part);
	free(p->size);
	free(p->clk);
	free(p->ops);
	free(p->ops_at);
	free(p->in);
	free(p->out);
	free(p->in_at);
	free(p->out_at);
	memset(p, 0, sizeof(*p));
}

/* ops and ops_at: the ops of each submodule, in their order */
static int
split_order(struct split *p, uint32_t n_ops)
{
	p->ops = hgq_calloc(n_ops + 1, sizeof(*p->ops));
	p->ops_at = hgq_calloc(p->n_groups + 1, sizeof(*p->ops_at));
	if (p->ops == NULL || p->ops_at == NULL)
		return HGQ_ENOMEM;
	for (uint32_t g = 1; g < p->n_groups; g++)
		p->ops_at[g + 1] = p->ops_at[g] + p->size[g];
	for (uint32_t g = 1; g < p->n_groups; g++)
		p->size[g] = 0;
	for (uint32_t j = 0; j < n_ops; j++) {
		uint32_t g = p->grp[j];

		if (g != 0 && g != NO_GROUP)
			p->ops[p->ops_at[g] + p->size[g]++] = j;
	}
	return HGQ_OK;
}

/*
 * The group op j of layer l joins: the newest group of its operands when
 * that is of layer l and holds fewer than 2 * max ops (so that the bias,
 * rounding and activation ops of a convolution's position, which the IR
 * writes after every position's adders, join that position's adders),
 * else the open group when it is of layer l and holds fewer than max,
 * else none (a new one).  A value then only flows from a group to a
 * newer one: the submodules never form a combinational cycle.
 */
static uint32_t
join_group(const struct split *p, const struct hgq_ir *ir, uint32_t j,
    int32_t l, uint32_t max)
{
	const struct hgq_ir_op *op = &ir->ops[j];
	uint32_t g = 0, open = p->n_groups - 1;
	int32_t n = op->kind == HGQ_IR_DOT ? op->b : 2;

	for (int32_t k = 0; k < n; k++) {
		int32_t src = op->kind == HGQ_IR_DOT ? ir->terms[op->a +
		    k].src : k == 0 ? op->a : op->b;
		uint32_t h = src >= 0 ? p->grp[src] : NO_GROUP;

		if (h != NO_GROUP && h > g)
			g = h;
	}
	if (g > 0 && p->layer[g] == l && p->size[g] < 2 * max)
		return g;
	if (open > 0 && p->layer[open] == l && p->size[open] < max)
		return open;
	return NO_GROUP;
}

/* the groups of the ops (layer -1 is counted as layer n_layers) */
static int
split_groups(struct split *p, const struct hgq_ir *ir, uint32_t max_ops)
{
	uint32_t *parts = hgq_calloc(ir->n_layers + 1, sizeof(*parts));

	p->grp = hgq_calloc(ir->n_ops, sizeof(*p->grp));
	p->layer = hgq_calloc(ir->n_ops + 1, sizeof(*p->layer));
	p->part = hgq_calloc(ir->n_ops + 1, sizeof(*p->part));
	p->size = hgq_calloc(ir->n_ops + 1, sizeof(*p->size));
	p->clk = hgq_calloc(ir->n_ops + 1, sizeof(*p->clk));
	if (parts == NULL || p->grp == NULL || p->layer == NULL ||
	    p->part == NULL || p->size == NULL || p->clk == NULL) {
		free(parts);
		return HGQ_ENOMEM;
	}
	p->n_groups = 1;
	for (uint32_t j = 0; j < ir->n_ops; j++) {
		const struct hgq_ir_op *op = &ir->ops[j];
		int32_t l = op->layer >= 0 && (uint32_t)op->layer <
		    ir->n_layers ? op->layer : (int32_t)ir->n_layers;
		uint32_t g;

		p->grp[j] = NO_GROUP;
		if (op->kind == HGQ_IR_CONST || op->w == 0)
			continue;
		if (op->kind == HGQ_IR_INPUT) {
			p->grp[j] = 0;
			continue;
		}
		if ((g = join_group(p, ir, j, l, max_ops)) == NO_GROUP) {
			g = p->n_groups++;
			p->layer[g] = l;
			p->part[g] = parts[l]++;
		}
		p->grp[j] = g;
		p->size[g]++;
	}
	free(parts);
	return split_order(p, ir->n_ops);
}

/* note that group g reads op j at stage st (when j is another's) */
static int
split_ref(struct split *p, const struct sched *s, uint32_t g, int32_t j,
    int32_t st)
{
	struct xref *x;

	if (j < 0 || p->grp[j] == NO_GROUP || p->grp[j] == g)
		return HGQ_OK;
	if (p->n_in == p->cap) {
		size_t cap = p->cap > 0 ? 2 * p->cap : 1024;

		x = hgq_reallocarray(p->in, cap, sizeof(*x));
		if (x == NULL)
			return HGQ_ENOMEM;
		p->in = x;
		p->cap = cap;
	}
	x = &p->in[p->n_in++];
	x->g = g;
	x->j = j;
	x->st = s->n_stages == 0 || st <= s->stage[j] ? s->stage[j] : st;
	return HGQ_OK;
}

static int
cmp_xref(const void *a, const void *b)
{
	const struct xref *x = a, *y = b;

	if (x->g != y->g)
		return x->g < y->g ? -1 : 1;
	if (x->j != y->j)
		return x->j < y->j ? -1 : 1;
	return (x->st > y->st) - (x->st < y->st);
}

/* sort and drop the repeats; at[g] = the first entry of group g */
static int
xref_index(struct xref *x, size_t *n, size_t **at, uint32_t n_groups)
{
	size_t k = 0;

	if (*n > 0)
		qsort(x, *n, sizeof(*x), cmp_xref);
	for (size_t i = 0; i < *n; i++)
		if (k == 0 || cmp_xref(&x[k - 1], &x[i]) != 0)
			x[k++] = x[i];
	*n = k;
	if ((*at = hgq_calloc(n_groups + 1, sizeof(**at))) == NULL)
		return HGQ_ENOMEM;
	for (size_t i = 0; i < k; i++)
		(*at)[x[i].g + 1]++;
	for (uint32_t g = 0; g < n_groups; g++)
		(*at)[g + 1] += (*at)[g];
	return HGQ_OK;
}

/* every value read across a boundary: the inputs and outputs of each */
static int
split_bounds(struct split *p, const struct hgq_ir *ir, const struct sched *s)
{
	int rc = HGQ_OK;

	for (uint32_t j = 0; j < ir->n_ops && rc == HGQ_OK; j++) {
		const struct hgq_ir_op *op = &ir->ops[j];
		uint32_t g = p->grp[j];

		if (g == NO_GROUP || op->kind == HGQ_IR_INPUT)
			continue;
		if (s->n_stages > 0 && s->last[j] > s->stage[j])
			p->clk[g] = 1;
		if (op->kind == HGQ_IR_DOT) {
			for (int32_t t = 0; t < op->b && rc == HGQ_OK; t++)
				rc = split_ref(p, s, g,
				    ir->terms[op->a + t].src, s->stage[j]);
		} else {
			rc = split_ref(p, s, g, op->a, s->stage[j]);
			if (rc == HGQ_OK)
				rc = split_ref(p, s, g, op->b, s->stage[j]);
		}
	}
	for (uint32_t k = 0; k < ir->n_out && rc == HGQ_OK; k++)
		if (ir->out_w[k] > 0)
			rc = split_ref(p, s, 0, ir->out_op[k], s->n_stages);
	if (rc != HGQ_OK || xref_index(p->in, &p->n_in, &p->in_at,
	    p->n_groups) != HGQ_OK)
		return HGQ_ENOMEM;
	p->out = hgq_calloc(p->n_in + 1, sizeof(*p->out));
	if (p->out == NULL)
		return HGQ_ENOMEM;
	for (size_t i = 0; i < p->n_in; i++)
		if (p->grp[p->in[i].j] != 0) {
			p->out[p->n_out] = p->in[i];
			p->out[p->n_out++].g = p->grp[p->in[i].j];
		}
	return xref_index(p->out, &p->n_out, &p->out_at, p->n_groups);
}

/* a crossing value's name */
static void
xref_name(struct sbuf *b, const struct sched *s, const struct xref *x)
{
	ref_name(b, s, x->j, x->st);
}

/* submodule g's name: the top's, its model layer and part */
static void
group_name(struct sbuf *b, const struct hgq_ir *ir, const struct split *p,
    const char *top, uint32_t g)
{
	if ((uint32_t)p->layer[g] < ir->n_layers)
		sb_printf(b, "%s_l%u_p%u", top,
		    ir->layers[p->layer[g]].model_layer, p->part[g]);
	else
		sb_printf(b, "%s_x_p%u", top, p->part[g]);
}

/* one port: its name to b (".x(x)" for an instance), else a declaration
   to d */
static void
port_item(struct sbuf *b, struct sbuf *d, bool inst, const char **sep,
    const char *name, const char *decl)
{
	if (inst)
		sb_printf(b, "%s\t.%s(%s)", *sep, name, name);
	else
		sb_printf(b, "%s\t%s", *sep, name);
	if (!inst)
		sb_printf(d, "%s %s;\n", decl, name);
	*sep = ",\n";
}

/*
 * The ports of submodule g: clk when it holds registers, the values it
 * reads, the values it gives; a group that reads no value (its ops read
 * only constants) takes the input ports instead, which its block waits
 * on.  Names to b, declarations to d, or with inst the connections of
 * its instance to b.
 */
static void
group_ports(struct sbuf *b, struct sbuf *d, const struct hgq_ir *ir,
    const struct sched *s, const struct split *p, uint32_t g, bool clk,
    bool inst)
{
	struct sbuf nm = { 0 }, dc = { 0 };
	const char *sep = "";

	if (clk)
		port_item(b, d, inst, &sep, "clk", "input");
	for (int out = 0; out < 2; out++) {
		const struct xref *x = out ? p->out : p->in;
		const size_t *at = out ? p->out_at : p->in_at;

		for (size_t i = at[g]; i < at[g + 1]; i++) {
			sb_reset(&nm);
			sb_reset(&dc);
			xref_name(&nm, s, &x[i]);
			sb_printf(&dc, "%s [%d:0]", out ? "output" : "input",
			    decl_width(ir, x[i].j) - 1);
			port_item(b, d, inst, &sep, nm.p, dc.p);
		}
	}
	for (uint32_t k = 0; p->in_at[g] == p->in_at[g + 1] &&
	    k < ir->n_in_ports; k++) {
		uint64_t w = port_bits(ir, 0, k);

		sb_reset(&nm);
		sb_reset(&dc);
		port_name(&nm, ir, 0, k);
		sb_printf(&dc, "input [%llu:0]",
		    (unsigned long long)(w > 0 ? w - 1 : 0));
		port_item(b, d, inst, &sep, nm.p, dc.p);
	}
	b->oom |= nm.oom || dc.oom;
	free(nm.p);
	free(dc.p);
}

/* the submodule of group g */
static int
write_group(FILE *f, const struct hgq_ir *ir, const struct sched *s,
    const struct split *p, const char *top, uint32_t g)
{
	struct sbuf d = { 0 }, b = { 0 }, r = { 0 }, n = { 0 }, pd = { 0 };
	int rc = HGQ_OK;

	for (size_t i = p->ops_at[g]; i < p->ops_at[g + 1]; i++) {
		uint32_t j = p->ops[i];

		emit_op(&d, &b, ir, s, j, NULL, NULL);
		if (s->n_stages > 0)
			emit_regs(&d, &r, ir, s, j);
	}
	group_name(&n, ir, p, top, g);
	sb_printf(&n, " (\n");
	group_ports(&n, &pd, ir, s, p, g, p->clk[g], false);
	if (d.oom || b.oom || r.oom || n.oom || pd.oom) {
		rc = HGQ_ENOMEM;
		goto out;
	}
	fprintf(f, "\nmodule %s\n);\n%s%s", n.p, pd.p != NULL ? pd.p : "",
	    d.p != NULL ? d.p : "");
	if (b.n > 0 && p->in_at[g] < p->in_at[g + 1])
		fprintf(f, "always @* begin\n%send\n", b.p);
	else if (b.n > 0)
		write_const_block(f, ir, b.p);
	if (r.n > 0)
		fprintf(f, "always @(posedge clk) begin\n%send\n", r.p);
	fprintf(f, "endmodule\n");
out:
	free(d.p);
	free(b.p);
	free(r.p);
	free(n.p);
	free(pd.p);
	return rc;
}

/* the top's instance of submodule g */
static int
write_instance(FILE *f, const struct hgq_ir *ir, const struct sched *s,
    const struct split *p, const char *top, uint32_t g)
{
	struct sbuf b = { 0 };
	int rc = HGQ_OK;

	group_name(&b, ir, p, top, g);
	sb_printf(&b, " ");
	group_name(&b, ir, p, "u", g);
	sb_printf(&b, " (\n");
	group_ports(&b, NULL, ir, s, p, g, p->clk[g], true);
	if (b.oom)
		rc = HGQ_ENOMEM;
	else
		fprintf(f, "%s\n);\n", b.p);
	free(b.p);
	return rc;
}

/*
 * The top of a split design: the input elements (and their registers),
 * a wire per crossing value, the instances, the outputs; then the
 * submodules, in the order of their ops.
 */
static int
write_split(FILE *f, const struct hgq_ir *ir, const struct sched *s,
    const struct split *p, const char *top, const uint64_t *in_off,
    const uint32_t *in_port)
{
	struct sbuf d = { 0 }, b = { 0 }, r = { 0 };
	int rc = HGQ_ENOMEM;

	for (uint32_t j = 0; j < ir->n_ops; j++) {
		if (p->grp[j] != 0)
			continue;
		emit_op(&d, &b, ir, s, j, in_off, in_port);
		if (s->n_stages > 0)
			emit_regs(&d, &r, ir, s, j);
	}
	for (size_t i = 0; i < p->n_out; i++) {
		sb_printf(&d, "wire [%d:0] ", decl_width(ir, p->out[i].j) - 1);
		xref_name(&d, s, &p->out[i]);
		sb_printf(&d, ";\n");
	}
	if (d.oom || b.oom || r.oom)
		goto out;
	fputs(d.p != NULL ? d.p : "", f);
	if (b.n > 0)
		fprintf(f, "always @* begin\n%send\n", b.p);
	if (r.n > 0)
		fprintf(f, "always @(posedge clk) begin\n%send\n", r.p);
	for (uint32_t g = 1; g < p->n_groups; g++)
		if (write_instance(f, ir, s, p, top, g) != HGQ_OK)
			goto out;
	if (write_outputs(f, ir, s) != HGQ_OK)
		goto out;
	fprintf(f, "endmodule\n");
	for (uint32_t g = 1; g < p->n_groups; g++)
		if (write_group(f, ir, s, p, top, g) != HGQ_OK)
			goto out;
	rc = HGQ_OK;
out:
	free(d.p);
	free(b.p);
	free(r.p);
	return rc;
}

/* the body of the one flat module, from its declarations to endmodule */
static int
write_flat(FILE *f, const struct hgq_ir *ir, const struct sched *s,
    const uint64_t *in_off, const uint32_t *in_port)
{
	struct sbuf d = { 0 }, b = { 0 }, r = { 0 };
	int rc = HGQ_ENOMEM;

	for (uint32_t j = 0; j < ir->n_ops; j++)
		emit_op(&d, &b, ir, s, j, in_off, in_port);
	for (uint32_t j = 0; s->n_stages > 0 && j < ir->n_ops; j++)
		emit_regs(&d, &r, ir, s, j);
	if (b.oom || d.oom || r.oom)
		goto out;
	fputs(d.p != NULL ? d.p : "", f);
	/* one block in topological order: each op is evaluated once per
	   change of the inputs (continuous assigns in a deep graph make
	   event-driven simulators re-evaluate on every glitch) */
	if (b.n > 0 && reads_input(ir))
		fprintf(f, "always @* begin\n%send\n", b.p);
	else if (b.n > 0)
		write_const_block(f, ir, b.p);
	if (r.n > 0)
		fprintf(f, "always @(posedge clk) begin\n%send\n", r.p);
	if (write_outputs(f, ir, s) != HGQ_OK)
		goto out;
	fprintf(f, "endmodule\n");
	rc = HGQ_OK;
out:
	free(d.p);
	free(b.p);
	free(r.p);
	return rc;
}

int
hgq_verilog_write(FILE *f, const struct hgq_ir *ir,
    const struct hgq_verilog_opts *o, struct hgq_err *err)
{
	struct sched s;
	struct split p = { 0 };
	uint64_t *in_off = NULL;
	uint32_t *in_port = NULL;
	const char *top = o->top != NULL ? o->top : "hgq_top";
	int rc = HGQ_ENOMEM;

	if (!hgq_verilog_ident_ok(top))
		return hgq_errf(err, HGQ_EINVAL, "'%s' is not a Verilog "
		    "module name", top);
	if (o->pipeline < 0)
		return hgq_errf(err, HGQ_EINVAL, "pipeline %d: not a number "
		    "of adder levels", o->pipeline);
	if (sched_build(&s, ir, o->pipeline) != HGQ_OK)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	if (input_layout(ir, &in_off, &in_port) != HGQ_OK)
		goto out;
	if (o->modules > 0 && (split_groups(&p, ir, o->modules) != HGQ_OK ||
	    split_bounds(&p, ir, &s) != HGQ_OK))
		goto out;

	write_header(f, ir, &s, o->pipeline);
	fprintf(f, "/* verilator lint_off UNUSEDSIGNAL */\n"
	    "/* verilator lint_off DECLFILENAME */\n");
	fprintf(f, "module %s (\n", top);
	write_ports(f, ir, &s);
	if ((o->modules > 0 ? write_split(f, ir, &s, &p, top, in_off,
	    in_port) : write_flat(f, ir, &s, in_off, in_port)) != HGQ_OK)
		goto out;
	fprintf(f, "/* verilator lint_on DECLFILENAME */\n"
	    "/* verilator lint_on UNUSEDSIGNAL */\n");
	rc = ferror(f) ? hgq_errf(err, HGQ_EIO, "write error") : HGQ_OK;
	goto done;
out:
	rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
done:
	split_release(&p);
	free(in_off);
	free(in_port);
	sched_release(&s);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Testbench and vectors                                               */
/* ------------------------------------------------------------------ */

/*
 * {port_{n-1}, ..., port_0} of the ports of one side that have bits (the
 * vector files hold them so: the first port at the LSBs), or "" for none
 */
static void
port_concat(struct sbuf *b, const struct hgq_ir *ir, int out)
{
	uint32_t n = out ? ir->n_out_ports : ir->n_in_ports, c = 0;

	for (uint32_t k = n; k-- > 0;) {
		if (port_bits(ir, out, k) == 0)
			continue;
		sb_printf(b, c++ == 0 ? "{" : ", ");
		port_name(b, ir, out, k);
	}
	if (c > 0)
		sb_printf(b, "}");
}

/* named ports: their declarations, the instance, what drives them */
static void
tb_named_ports(FILE *f, const struct hgq_ir *ir, const char *top,
    uint64_t wo, int clk)
{
	struct sbuf n = { 0 }, c = { 0 };

	for (int out = 0; out < 2; out++)
		for (uint32_t k = 0; k < (out ? ir->n_out_ports :
		    ir->n_in_ports); k++) {
			uint64_t w = port_bits(ir, out, k);

			sb_reset(&n);
			port_name(&n, ir, out, k);
			fprintf(f, "%s [%llu:0] %s;\n", out ? "wire" : "reg",
			    (unsigned long long)(w > 0 ? w - 1 : 0), n.p);
		}
	port_concat(&c, ir, 1);
	fprintf(f, "wire [%llu:0] tb_got = %s;\n", (unsigned long long)wo - 1,
	    c.n > 0 ? c.p : "1'b0");
	fprintf(f, "integer t, errors;\n");
	if (clk)
		fprintf(f, "reg clk;\n");
	fprintf(f, "%s dut (%s", top, clk ? ".clk(clk)" : "");
	for (int out = 0; out < 2; out++)
		for (uint32_t k = 0; k < (out ? ir->n_out_ports :
		    ir->n_in_ports); k++) {
			sb_reset(&n);
			port_name(&n, ir, out, k);
			fprintf(f, "%s.%s(%s)", clk || out || k > 0 ? ", " :
			    "", n.p, n.p);
		}
	fprintf(f, ");\n");
	free(n.p);
	free(c.p);
}

/* the statement that drives the inputs from vector t */
static void
tb_drive(struct sbuf *b, const struct hgq_ir *ir, const char *imem)
{
	struct sbuf c = { 0 };

	port_concat(&c, ir, 0);
	if (c.n > 0)
		sb_printf(b, "%s = %s[t];", c.p, imem);
	else
		sb_printf(b, ";");
	free(c.p);
}

int
hgq_verilog_testbench(FILE *f, const struct hgq_ir *ir,
    const struct hgq_verilog_opts *o, const char *inp_path,
    const char *exp_path, size_t n, struct hgq_err *err)
{
	struct hgq_rtl_info info;
	uint64_t wi = port_width(ir->in_w, ir->n_in);
	uint64_t wo = port_width(ir->out_w, ir->n_out);
	const char *top = o->top != NULL ? o->top : "hgq_top";
	int plain = unnamed(ir);
	const char *imem = plain ? "inp_mem" : "tb_inp";
	const char *emem = plain ? "exp_mem" : "tb_exp";
	const char *got = plain ? "model_out" : "tb_got";
	struct sbuf drive = { 0 };
	int rc;

	if (!hgq_verilog_ident_ok(top))
		return hgq_errf(err, HGQ_EINVAL, "'%s' is not a Verilog "
		    "module name", top);
	if (strchr(inp_path, '"') != NULL || strchr(exp_path, '"') != NULL)
		return hgq_errf(err, HGQ_EINVAL, "a vector file name holds "
		    "a '\"'");
	if (n == 0)
		return hgq_errf(err, HGQ_EINVAL, "no vectors");
	if ((rc = hgq_verilog_info(ir, o->pipeline, &info, err)) != HGQ_OK)
		return rc;
	wi = wi > 0 ? wi : 1;
	wo = wo > 0 ? wo : 1;
	if (plain)
		sb_printf(&drive, "model_inp = inp_mem[t];");
	else
		tb_drive(&drive, ir, imem);
	if (drive.oom)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	fprintf(f, "// Generated by hgq-emit-verilog %s: self-checking "
	    "testbench of %s.\n// Prints PASS <n>, or FAIL with the first "
	    "mismatches (and exits non-zero).\n", HGQ_VERSION, top);
	fprintf(f, "`timescale 1ns / 1ps\nmodule %s_tb;\n", top);
	fprintf(f, "localparam N = %zu, LAT = %u;\n", n, info.latency);
	fprintf(f, "reg [%llu:0] %s [0:N-1];\nreg [%llu:0] %s "
	    "[0:N-1];\n", (unsigned long long)wi - 1, imem,
	    (unsigned long long)wo - 1, emem);
	if (!plain) {
		tb_named_ports(f, ir, top, wo, info.latency > 0);
	} else {
		fprintf(f, "reg [%llu:0] model_inp;\nwire [%llu:0] "
		    "model_out;\n", (unsigned long long)wi - 1,
		    (unsigned long long)wo - 1);
		fprintf(f, "integer t, errors;\n");
		if (info.latency > 0)
			fprintf(f, "reg clk;\n%s dut (.clk(clk), "
			    ".model_inp(model_inp), .model_out(model_out));\n",
			    top);
		else
			fprintf(f, "%s dut (.model_inp(model_inp), "
			    ".model_out(model_out));\n", top);
	}
	fprintf(f, "task check;\ninput integer k;\nbegin\n"
	    "\tif (%s !== %s[k]) begin\n"
	    "\t\terrors = errors + 1;\n"
	    "\t\tif (errors <= 10)\n"
	    "\t\t\t$display(\"FAIL vector %%0d: got %%h, expected %%h\", k,"
	    " %s, %s[k]);\n"
	    "\tend\nend\nendtask\n", got, emem, got, emem);
	fprintf(f, "initial begin\n\t$readmemh(\"%s\", %s);\n"
	    "\t$readmemh(\"%s\", %s);\n\terrors = 0;\n", inp_path, imem,
	    exp_path, emem);
	if (!plain)
		for (uint32_t k = 0; k < ir->n_in_ports; k++)
			if (port_bits(ir, 0, k) == 0) {
				struct sbuf z = { 0 };

				port_name(&z, ir, 0, k);
				fprintf(f, "\t%s = 1'b0;\n", z.p);
				free(z.p);
			}
	if (info.latency > 0) {
		/* one vector per cycle; output t appears LAT edges later */
		fprintf(f, "\tclk = 0;\n"
		    "\tfor (t = 0; t < N + LAT - 1; t = t + 1) begin\n"
		    "\t\tif (t < N)\n\t\t\t%s\n"
		    "\t\t#5 clk = 1;\n\t\t#1;\n"
		    "\t\tif (t >= LAT - 1)\n\t\t\tcheck(t - (LAT - 1));\n"
		    "\t\t#4 clk = 0;\n\tend\n", drive.p);
	} else {
		fprintf(f, "\tfor (t = 0; t < N; t = t + 1) begin\n"
		    "\t\t%s\n\t\t#1;\n\t\tcheck(t);\n"
		    "\tend\n", drive.p);
	}
	fprintf(f, "\tif (errors == 0) begin\n\t\t$display(\"PASS %%0d\", N);"
	    "\n\t\t$finish;\n\tend\n"
	    "\t$display(\"FAIL %%0d of %%0d vectors\", errors, N);\n"
	    "\t$fatal(1, \"%%0d mismatches\", errors);\nend\nendmodule\n");
	free(drive.p);
	return ferror(f) ? hgq_errf(err, HGQ_EIO, "write error") : HGQ_OK;
}

/*
 * The widths of the elements of every model input (out = 0) or output,
 * in port order: n of them into *w (allocated).
 */
static int
elem_widths(const struct hgq_model *m, int out, uint8_t **w, uint32_t *n)
{
	uint32_t np = out ? hgq_model_n_outputs(m) : hgq_model_n_inputs(m);
	uint32_t pos = 0;

	*n = out ? hgq_model_n_out(m) : hgq_model_n_in(m);
	if ((*w = hgq_calloc(*n + 1, 1)) == NULL)
		return HGQ_ENOMEM;
	for (uint32_t k = 0; k < np; k++) {
		const struct hgq_layer *q = &m->layers[out ?
		    hgq_model_output_layer(m, k) : hgq_model_input_layer(m, k)];

		for (uint32_t j = 0; j < q->n_out && pos < *n; j++)
			(*w)[pos++] = (uint8_t)hgq_fmt_width(q->k[j], q->i[j],
			    q->f[j]);
	}
	return HGQ_OK;
}

/* the n mantissas of widths w packed (element 0 at the LSBs) as hex */
static void
pack_hex(const uint8_t *w, uint32_t n, const int64_t *mant, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t width = port_width(w, n), pos = 0;
	size_t nd = (size_t)((width + 3) / 4);

	if (width == 0) {
		strcpy(buf, "0");
		return;
	}
	memset(buf, '0', nd);
	buf[nd] = '\0';
	for (uint32_t j = 0; j < n; j++) {
		uint64_t u = (uint64_t)mant[j];

		for (int b = 0; b < w[j]; b++, pos++)
			if ((u >> b) & 1) {
				size_t d = nd - 1 - (size_t)(pos / 4);
				int v = (buf[d] <= '9' ? buf[d] - '0' :
				    buf[d] - 'a' + 10) | 1 << (pos % 4);

				buf[d] = hex[v];
			}
	}
}

int
hgq_verilog_vectors(FILE *inp, FILE *exp, const struct hgq_model *m,
    const struct hgq_engine *e, const double *x, size_t n,
    struct hgq_err *err)
{
	uint8_t *w_in = NULL, *w_out = NULL;
	uint32_t n0 = 0, no = 0;
	uint64_t wi, wo;
	size_t chunk = 256;
	int64_t *q = NULL, *y = NULL;
	char *buf = NULL;
	int rc = HGQ_ENOMEM;

	if (elem_widths(m, 0, &w_in, &n0) != HGQ_OK ||
	    elem_widths(m, 1, &w_out, &no) != HGQ_OK)
		goto fail;
	wi = port_width(w_in, n0);
	wo = port_width(w_out, no);
	if ((q = hgq_calloc(chunk * n0 + 1, sizeof(*q))) == NULL ||
	    (y = hgq_calloc(chunk * no + 1, sizeof(*y))) == NULL ||
	    (buf = malloc((size_t)((wi > wo ? wi : wo) + 3) / 4 + 2)) == NULL)
		goto fail;
	for (size_t s0 = 0; s0 < n; s0 += chunk) {
		size_t c = n - s0 < chunk ? n - s0 : chunk;

		hgq_engine_quant_input(e, &x[s0 * hgq_engine_n_in(e)], c, q);
		if (hgq_engine_run(e, &x[s0 * hgq_engine_n_in(e)], c, y, NULL,
		    1) != HGQ_OK)
			goto fail;
		for (size_t t = 0; t < c; t++) {
			pack_hex(w_in, n0, &q[t * n0], buf);
			fprintf(inp, "%s\n", buf);
			pack_hex(w_out, no, &y[t * no], buf);
			fprintf(exp, "%s\n", buf);
		}
	}
	rc = ferror(inp) || ferror(exp) ?
	    hgq_errf(err, HGQ_EIO, "write error") : HGQ_OK;
	goto out;
fail:
	rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
out:
	free(w_in);
	free(w_out);
	free(q);
	free(y);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Report                                                              */
/* ------------------------------------------------------------------ */

int
hgq_verilog_report(FILE *f, const struct hgq_ir *ir, int pipeline, int json,
    struct hgq_err *err)
{
	struct hgq_rtl_info info;
	int rc;

	if ((rc = hgq_verilog_info(ir, pipeline, &info, err)) != HGQ_OK)
		return rc;
	if (json) {
		fprintf(f, "{\"adders\": %u, \"lut_estimate\": %llu, "
		    "\"ff\": %llu, \"latency_cycles\": %u, "
		    "\"max_adder_depth\": %d, \"style\": \"%s\", "
		    "\"pipeline\": %d, \"inp_bits\": %llu, \"out_bits\": "
		    "%llu, \"lut_estimate_from\": \"adders\", "
		    "\"roms\": %u, \"rom_bits\": %llu, "
		    "\"comparators\": %u, \"layers\": [", info.adders,
		    (unsigned long long)info.lut, (unsigned long long)info.ff,
		    info.latency, info.depth, ir->behavioral ? "behavioral" :
		    "adders", pipeline, (unsigned long long)info.inp_bits,
		    (unsigned long long)info.out_bits, info.roms,
		    (unsigned long long)info.rom_bits, ir->n_cmp);
		for (uint32_t l = 0; l < ir->n_layers; l++) {
			const struct hgq_ir_layer *L = &ir->layers[l];

			fprintf(f, "%s{\"layer\": %u, \"adders\": %u, "
			    "\"lut_estimate\": %llu, \"adder_depth\": %d, "
			    "\"kind\": \"%s\", \"comparators\": %u, "
			    "\"cmvm_solves\": %u, \"roms\": %u, "
			    "\"rom_bits\": %llu}", l ? ", " : "",
			    L->model_layer, L->n_adders,
			    (unsigned long long)L->lut, L->depth,
			    hgq_layer_kind_name(L->kind), L->n_cmp,
			    L->n_solves, L->n_rom,
			    (unsigned long long)L->rom_bits);
		}
		fprintf(f, "]}\n");
	} else {
		fprintf(f, "adders\t%u\nlut_estimate\t%llu\nff\t%llu\n"
		    "latency_cycles\t%u\nmax_adder_depth\t%d\n"
		    "comparators\t%u\nroms\t%u\nrom_bits\t%llu\n",
		    info.adders, (unsigned long long)info.lut,
		    (unsigned long long)info.ff, info.latency, info.depth,
		    ir->n_cmp, info.roms, (unsigned long long)info.rom_bits);
		fprintf(f, "# lut_estimate: counted from the adders, "
		    "comparators and ROMs; hgq-ebops estimates from EBOPs\n");
		fprintf(f, "# layer\tadders\tlut_estimate\tadder_depth\tkind"
		    "\tcomparators\tcmvm_solves\troms\trom_bits\n");
		for (uint32_t l = 0; l < ir->n_layers; l++) {
			const struct hgq_ir_layer *L = &ir->layers[l];

			fprintf(f, "%u\t%u\t%llu\t%d\t%s\t%u\t%u\t%u\t%llu\n",
			    L->model_layer, L->n_adders,
			    (unsigned long long)L->lut, L->depth,
			    hgq_layer_kind_name(L->kind), L->n_cmp,
			    L->n_solves, L->n_rom,
			    (unsigned long long)L->rom_bits);
		}
	}
	return ferror(f) ? hgq_errf(err, HGQ_EIO, "write error") : HGQ_OK;
}
