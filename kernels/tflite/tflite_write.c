/* TFLite writer. Flatbuffers are normally built back to front; this one
 * writes front to back instead, parents before children, leaving each child
 * offset as a placeholder that is patched once the child has been placed. That
 * keeps every uoffset positive (children always lie after their parent) and
 * lets the writer follow the schema top-down in one pass. */
#include "kernels/tflite/tflite_write.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"

/* --- minimal forward flatbuffer emitter --------------------------------- */

typedef struct {
	uint8_t *buf;
	size_t len, cap;
	bool oom;
} fbw;

static size_t fbw_grow(fbw *w, size_t n)
{
	size_t pos = w->len;
	if (w->oom)
		return pos;
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 1 << 16;
		while (cap < w->len + n)
			cap *= 2;
		uint8_t *b = realloc(w->buf, cap);
		if (!b) {
			w->oom = true;
			return pos;
		}
		w->buf = b;
		w->cap = cap;
	}
	memset(w->buf + w->len, 0, n);
	w->len += n;
	return pos;
}

/* Pad with zeros so that (len + extra) is a multiple of align. */
static void fbw_pad(fbw *w, size_t align, size_t extra)
{
	size_t r = (w->len + extra) % align;
	if (r)
		fbw_grow(w, align - r);
}

static void fbw_set(fbw *w, size_t pos, const void *v, size_t n)
{
	if (!w->oom)
		memcpy(w->buf + pos, v, n);
}

static void fbw_set_u32(fbw *w, size_t pos, uint32_t v)
{
	fbw_set(w, pos, &v, 4); /* flatbuffers are little-endian, like every target we build for */
}

/* Make the uoffset stored at `at` point to `target` (always after it). */
static void fbw_patch(fbw *w, size_t at, size_t target)
{
	fbw_set_u32(w, at, (uint32_t)(target - at));
}

#define FBT_MAX 8

typedef struct {
	int n; /* slots in the vtable: highest field id + 1 */
	struct {
		uint8_t size; /* 0: absent; 1, 2 or 4 bytes */
		bool is_offset;
		uint32_t val;
	} f[FBT_MAX];
	size_t pos[FBT_MAX]; /* after fbt_end: where each field was written */
} fbt;

static void fbt_scalar(fbt *t, int id, int size, uint32_t val)
{
	t->f[id].size = (uint8_t)size;
	t->f[id].is_offset = false;
	t->f[id].val = val;
	if (id + 1 > t->n)
		t->n = id + 1;
}

static void fbt_offset(fbt *t, int id)
{
	fbt_scalar(t, id, 4, 0);
	t->f[id].is_offset = true;
}

/* Writes vtable + table; returns the table position (what offsets point to). */
static size_t fbt_end(fbw *w, fbt *t)
{
	/* Fields sorted by size (4, 2, 1) so that each is naturally aligned. */
	uint16_t off[FBT_MAX] = {0};
	size_t size = 4; /* soffset to the vtable */
	for (int s = 4; s >= 1; s /= 2)
		for (int i = 0; i < t->n; i++)
			if (t->f[i].size == s) {
				off[i] = (uint16_t)size;
				size += (size_t)s;
			}
	size = SL_ALIGN_UP(size, 4);

	const size_t vt_bytes = 4 + 2 * (size_t)t->n;
	fbw_pad(w, 4, vt_bytes); /* the table that follows the vtable starts 4-aligned */
	size_t vt = fbw_grow(w, vt_bytes);
	uint16_t hdr[2] = {(uint16_t)vt_bytes, (uint16_t)size};
	fbw_set(w, vt, hdr, 4);
	fbw_set(w, vt + 4, off, 2 * (size_t)t->n);

	size_t tab = fbw_grow(w, size);
	int32_t so = (int32_t)(tab - vt);
	fbw_set(w, tab, &so, 4);
	for (int i = 0; i < t->n; i++) {
		if (!t->f[i].size)
			continue;
		t->pos[i] = tab + off[i];
		if (t->f[i].size == 4) {
			fbw_set_u32(w, t->pos[i], t->f[i].val);
		} else if (t->f[i].size == 2) {
			uint16_t v = (uint16_t)t->f[i].val;
			fbw_set(w, t->pos[i], &v, 2);
		} else {
			uint8_t v = (uint8_t)t->f[i].val;
			fbw_set(w, t->pos[i], &v, 1);
		}
	}
	return tab;
}

/* A vector of n zeroed elements starting `align`-aligned, length set.
 * Returns its position (what an offset to it points to). */
static size_t fbw_vec_reserve(fbw *w, size_t n, size_t elem_size, size_t align)
{
	if (align < 4)
		align = 4;
	fbw_pad(w, align, 4);
	size_t pos = fbw_grow(w, 4 + n * elem_size);
	fbw_set_u32(w, pos, (uint32_t)n);
	return pos;
}

static size_t fbw_vec(fbw *w, const void *elems, size_t n, size_t elem_size, size_t align)
{
	size_t pos = fbw_vec_reserve(w, n, elem_size, align);
	if (n)
		fbw_set(w, pos + 4, elems, n * elem_size);
	return pos;
}

/* A vector of n offsets, element i at (return + 4 + 4 i), to patch later. */
static size_t fbw_offvec(fbw *w, size_t n)
{
	return fbw_vec_reserve(w, n, 4, 4);
}

static size_t fbw_string(fbw *w, const char *s)
{
	size_t n = strlen(s);
	fbw_pad(w, 4, 0);
	size_t pos = fbw_grow(w, 4 + n + 1);
	fbw_set_u32(w, pos, (uint32_t)n);
	fbw_set(w, pos + 4, s, n);
	return pos;
}

/* --- TFLite schema constants ------------------------------------------- */

enum {
	TFL_ADD = 0,
	TFL_AVERAGE_POOL_2D = 1,
	TFL_CONCATENATION = 2,
	TFL_CONV_2D = 3,
	TFL_DEPTHWISE_CONV_2D = 4,
	TFL_DEQUANTIZE = 6,
	TFL_FULLY_CONNECTED = 9,
	TFL_LOGISTIC = 14,
	TFL_MAX_POOL_2D = 17,
	TFL_MUL = 18,
	TFL_RELU = 19,
	TFL_RELU6 = 21,
	TFL_RESHAPE = 22,
	TFL_SOFTMAX = 25,
	TFL_PAD = 34,
	TFL_MEAN = 40,
	TFL_QUANTIZE = 114,
	TFL_HARD_SWISH = 117,
};

enum {
	OPT_NONE = 0,
	OPT_CONV = 1,
	OPT_DEPTHWISE = 2,
	OPT_POOL = 5,
	OPT_FC = 8,
	OPT_SOFTMAX = 9,
	OPT_CONCAT = 10,
	OPT_ADD = 11,
	OPT_RESHAPE = 17,
	OPT_MUL = 21,
	OPT_PAD = 22,
	OPT_REDUCER = 27,
};

static int tfl_builtin(sl_op op)
{
	static const int map[SL_OP__COUNT] = {
	    [SL_OP_CONV_2D] = TFL_CONV_2D,
	    [SL_OP_DEPTHWISE_CONV_2D] = TFL_DEPTHWISE_CONV_2D,
	    [SL_OP_FULLY_CONNECTED] = TFL_FULLY_CONNECTED,
	    [SL_OP_ADD] = TFL_ADD,
	    [SL_OP_MUL] = TFL_MUL,
	    [SL_OP_AVERAGE_POOL_2D] = TFL_AVERAGE_POOL_2D,
	    [SL_OP_MAX_POOL_2D] = TFL_MAX_POOL_2D,
	    [SL_OP_MEAN] = TFL_MEAN,
	    [SL_OP_RESHAPE] = TFL_RESHAPE,
	    [SL_OP_SOFTMAX] = TFL_SOFTMAX,
	    [SL_OP_QUANTIZE] = TFL_QUANTIZE,
	    [SL_OP_DEQUANTIZE] = TFL_DEQUANTIZE,
	    [SL_OP_PAD] = TFL_PAD,
	    [SL_OP_CONCATENATION] = TFL_CONCATENATION,
	    [SL_OP_HARD_SWISH] = TFL_HARD_SWISH,
	    [SL_OP_LOGISTIC] = TFL_LOGISTIC,
	    [SL_OP_RELU] = TFL_RELU,
	    [SL_OP_RELU6] = TFL_RELU6,
	};
	return (unsigned)op < SL_OP__COUNT ? map[op] : -1;
}

static int tfl_type(sl_dtype t)
{
	switch (t) {
	case SL_DTYPE_F32:
		return 0;
	case SL_DTYPE_F16:
		return 1;
	case SL_DTYPE_I32:
		return 2;
	case SL_DTYPE_U8:
		return 3;
	case SL_DTYPE_I64:
		return 4;
	case SL_DTYPE_I8:
		return 9;
	default:
		return -1;
	}
}

static int tfl_act(sl_act a)
{
	switch (a) {
	case SL_ACT_RELU:
		return 1;
	case SL_ACT_RELU_N1_TO_1:
		return 2;
	case SL_ACT_RELU6:
		return 3;
	default:
		return 0;
	}
}

/* Operator versions as the TFLite converter assigns them for these operand
 * types; runtimes look kernels up by (builtin, version), so an int8 model
 * tagged version 1 might not find a registration on strict runtimes. */
static int tfl_version(sl_op op, sl_dtype in, bool per_channel)
{
	const bool i8 = in == SL_DTYPE_I8;
	switch (op) {
	case SL_OP_CONV_2D:
	case SL_OP_DEPTHWISE_CONV_2D:
		return i8 || per_channel ? 3 : 1;
	case SL_OP_FULLY_CONNECTED:
		return i8 ? 4 : 1;
	case SL_OP_QUANTIZE:
	case SL_OP_DEQUANTIZE:
		return i8 ? 2 : 1;
	case SL_OP_HARD_SWISH:
	case SL_OP_RESHAPE:
		return 1;
	default:
		return i8 ? 2 : 1;
	}
}

/* --- writer ------------------------------------------------------------- */

/* Constant operands the IR keeps only as node parameters. */
typedef struct {
	int node;
	sl_tensor t;
	int32_t data[SL_MAX_RANK * 2];
} extra_tensor;

typedef struct {
	const sl_model *m;
	fbw w;
	extra_tensor *extra;
	int n_extra;
	int *node_extra; /* per node: index into extra[] or -1 */
	int32_t *opcode; /* per node: index into the operator code table */
	int n_codes;
	int32_t codes[SL_OP__COUNT * 4][2]; /* builtin, version */
	sl_error *err;
} writer;

static const sl_tensor *wr_tensor(const writer *wr, int i)
{
	if (i < wr->m->n_tensors)
		return &wr->m->tensors[i];
	return &wr->extra[i - wr->m->n_tensors].t;
}

static int wr_fail(writer *wr, int r, const char *fmt, int a, const char *s)
{
	if (wr->err) {
		char what[160];
		snprintf(what, sizeof(what), fmt, a, s);
		snprintf(wr->err->msg, sizeof(wr->err->msg), "%s: %s", wr->m->path ? wr->m->path : "model",
			 what);
	}
	return r;
}

static int plan(writer *wr)
{
	const sl_model *m = wr->m;
	wr->node_extra = malloc(sizeof(int) * (size_t)(m->n_nodes ? m->n_nodes : 1));
	wr->opcode = malloc(sizeof(int32_t) * (size_t)(m->n_nodes ? m->n_nodes : 1));
	wr->extra = calloc((size_t)(m->n_nodes ? m->n_nodes : 1), sizeof(*wr->extra));
	if (!wr->node_extra || !wr->opcode || !wr->extra)
		return -ENOMEM;

	for (int i = 0; i < m->n_tensors; i++) {
		const sl_tensor *t = &m->tensors[i];
		if (tfl_type(t->dtype) < 0)
			return wr_fail(wr, -SL_E_UNSUPPORTED, "tensor %d: dtype %s has no TFLite type", i,
				       sl_dtype_name(t->dtype));
		if (t->kind == SL_TENSOR_CONST && t->bytes && !t->data)
			return wr_fail(wr, -EINVAL, "tensor %d: constant without data%s", i, "");
	}

	for (int n = 0; n < m->n_nodes; n++) {
		const sl_node *nd = &m->nodes[n];
		wr->node_extra[n] = -1;
		int code = tfl_builtin(nd->op);
		if (code < 0)
			return wr_fail(wr, -SL_E_UNSUPPORTED, "node %d: operator %s cannot be written", n,
				       sl_op_name(nd->op));
		if (nd->n_inputs < 1 || nd->n_outputs < 1)
			return wr_fail(wr, -SL_E_GRAPH, "node %d (%s): no operands", n, sl_op_name(nd->op));
		for (int k = 0; k < nd->n_inputs; k++)
			if (nd->inputs[k] < -1 || nd->inputs[k] >= m->n_tensors)
				return wr_fail(wr, -SL_E_GRAPH, "node %d (%s): input out of range", n,
					       sl_op_name(nd->op));
		for (int k = 0; k < nd->n_outputs; k++)
			if (nd->outputs[k] < 0 || nd->outputs[k] >= m->n_tensors)
				return wr_fail(wr, -SL_E_GRAPH, "node %d (%s): output out of range", n,
					       sl_op_name(nd->op));

		const sl_tensor *in0 = nd->inputs[0] >= 0 ? &m->tensors[nd->inputs[0]] : NULL;
		const sl_tensor *in1 =
		    nd->n_inputs > 1 && nd->inputs[1] >= 0 ? &m->tensors[nd->inputs[1]] : NULL;
		bool pc = in1 && in1->q.n > 1;
		int ver = tfl_version(nd->op, in0 ? in0->dtype : SL_DTYPE_F32, pc);
		int c = 0;
		while (c < wr->n_codes && !(wr->codes[c][0] == code && wr->codes[c][1] == ver))
			c++;
		if (c == wr->n_codes) {
			if (wr->n_codes >= (int)SL_ARRAY_SIZE(wr->codes))
				return -E2BIG;
			wr->codes[c][0] = code;
			wr->codes[c][1] = ver;
			wr->n_codes++;
		}
		wr->opcode[n] = c;

		/* MEAN and PAD take their axes/paddings as a second, constant input. */
		if ((nd->op == SL_OP_MEAN || nd->op == SL_OP_PAD) && nd->n_inputs < 2) {
			extra_tensor *e = &wr->extra[wr->n_extra];
			e->node = n;
			e->t.dtype = SL_DTYPE_I32;
			e->t.kind = SL_TENSOR_CONST;
			e->t.producer = -1;
			if (nd->op == SL_OP_MEAN) {
				e->t.rank = 1;
				e->t.dims[0] = nd->p.mean.n_axes;
				memcpy(e->data, nd->p.mean.axes, sizeof(int32_t) * (size_t)nd->p.mean.n_axes);
			} else {
				int r = in0 ? in0->rank : 0;
				e->t.rank = 2;
				e->t.dims[0] = r;
				e->t.dims[1] = 2;
				for (int d = 0; d < r; d++) {
					e->data[2 * d] = nd->p.pad.pads[d][0];
					e->data[2 * d + 1] = nd->p.pad.pads[d][1];
				}
			}
			e->t.bytes =
			    sizeof(int32_t) * (size_t)(e->t.rank == 1 ? e->t.dims[0] : e->t.dims[0] * 2);
			e->t.data = e->data;
			wr->node_extra[n] = wr->n_extra++;
		}
	}
	return 0;
}

static void write_quant(writer *wr, size_t field, const sl_quant *q)
{
	fbw *w = &wr->w;
	fbt t = {0};
	fbt_offset(&t, 2);					  /* scale */
	fbt_offset(&t, 3);					  /* zero_point */
	fbt_scalar(&t, 6, 4, (uint32_t)(q->n > 1 ? q->axis : 0)); /* quantized_dimension */
	size_t tab = fbt_end(w, &t);
	fbw_patch(w, field, tab);
	size_t v = fbw_vec(w, q->scale, (size_t)q->n, 4, 4);
	fbw_patch(w, t.pos[2], v);
	v = fbw_vec_reserve(w, (size_t)q->n, 8, 8);
	for (int i = 0; i < q->n; i++) {
		int64_t z = q->zero_point[i];
		fbw_set(w, v + 4 + 8 * (size_t)i, &z, 8);
	}
	fbw_patch(w, t.pos[3], v);
}

static void write_tensor(writer *wr, size_t slot, int idx, uint32_t buffer)
{
	fbw *w = &wr->w;
	const sl_tensor *st = wr_tensor(wr, idx);
	fbt t = {0};
	fbt_offset(&t, 0); /* shape */
	fbt_scalar(&t, 1, 1, (uint32_t)tfl_type(st->dtype));
	fbt_scalar(&t, 2, 4, buffer);
	fbt_offset(&t, 3); /* name */
	if (st->q.n > 0)
		fbt_offset(&t, 4);
	size_t tab = fbt_end(w, &t);
	fbw_patch(w, slot, tab);

	size_t v = fbw_vec(w, st->dims, (size_t)st->rank, 4, 4);
	fbw_patch(w, t.pos[0], v);
	char buf[32];
	const char *name = st->name;
	if (!name) {
		snprintf(buf, sizeof(buf), "t%d", idx);
		name = buf;
	}
	fbw_patch(w, t.pos[3], fbw_string(w, name));
	if (st->q.n > 0)
		write_quant(wr, t.pos[4], &st->q);
}

static void write_options(writer *wr, const sl_node *nd, const sl_model *m, size_t opt_slot)
{
	fbw *w = &wr->w;
	fbt t = {0};
	const sl_conv_params *c = &nd->p.conv;
	const sl_pool_params *p = &nd->p.pool;
	switch (nd->op) {
	case SL_OP_CONV_2D:
		fbt_scalar(&t, 0, 1, c->padding == SL_PADDING_VALID ? 1 : 0);
		fbt_scalar(&t, 1, 4, (uint32_t)c->stride_w);
		fbt_scalar(&t, 2, 4, (uint32_t)c->stride_h);
		fbt_scalar(&t, 3, 1, (uint32_t)tfl_act(nd->act));
		fbt_scalar(&t, 4, 4, (uint32_t)(c->dilation_w ? c->dilation_w : 1));
		fbt_scalar(&t, 5, 4, (uint32_t)(c->dilation_h ? c->dilation_h : 1));
		break;
	case SL_OP_DEPTHWISE_CONV_2D:
		fbt_scalar(&t, 0, 1, c->padding == SL_PADDING_VALID ? 1 : 0);
		fbt_scalar(&t, 1, 4, (uint32_t)c->stride_w);
		fbt_scalar(&t, 2, 4, (uint32_t)c->stride_h);
		fbt_scalar(&t, 3, 4, (uint32_t)(c->depth_multiplier ? c->depth_multiplier : 1));
		fbt_scalar(&t, 4, 1, (uint32_t)tfl_act(nd->act));
		fbt_scalar(&t, 5, 4, (uint32_t)(c->dilation_w ? c->dilation_w : 1));
		fbt_scalar(&t, 6, 4, (uint32_t)(c->dilation_h ? c->dilation_h : 1));
		break;
	case SL_OP_AVERAGE_POOL_2D:
	case SL_OP_MAX_POOL_2D:
		fbt_scalar(&t, 0, 1, p->padding == SL_PADDING_VALID ? 1 : 0);
		fbt_scalar(&t, 1, 4, (uint32_t)p->stride_w);
		fbt_scalar(&t, 2, 4, (uint32_t)p->stride_h);
		fbt_scalar(&t, 3, 4, (uint32_t)p->filter_w);
		fbt_scalar(&t, 4, 4, (uint32_t)p->filter_h);
		fbt_scalar(&t, 5, 1, (uint32_t)tfl_act(nd->act));
		break;
	case SL_OP_FULLY_CONNECTED:
		fbt_scalar(&t, 0, 1, (uint32_t)tfl_act(nd->act));
		fbt_scalar(&t, 2, 1, nd->p.fc.keep_dims ? 1 : 0);
		break;
	case SL_OP_SOFTMAX: {
		float beta = nd->p.softmax.beta != 0.0f ? nd->p.softmax.beta : 1.0f;
		uint32_t bits;
		memcpy(&bits, &beta, 4);
		fbt_scalar(&t, 0, 4, bits);
		break;
	}
	case SL_OP_CONCATENATION:
		fbt_scalar(&t, 0, 4, (uint32_t)nd->p.concat.axis);
		fbt_scalar(&t, 1, 1, (uint32_t)tfl_act(nd->act));
		break;
	case SL_OP_ADD:
		fbt_scalar(&t, 0, 1, (uint32_t)tfl_act(nd->act));
		break;
	case SL_OP_MUL:
		fbt_scalar(&t, 0, 1, (uint32_t)tfl_act(nd->act));
		break;
	case SL_OP_RESHAPE:
		fbt_offset(&t, 0);
		break;
	case SL_OP_PAD:
		break;
	case SL_OP_MEAN:
		fbt_scalar(&t, 0, 1, nd->p.mean.keep_dims ? 1 : 0);
		break;
	default:
		return;
	}
	size_t tab = fbt_end(w, &t);
	fbw_patch(w, opt_slot, tab);
	if (nd->op == SL_OP_RESHAPE) {
		const sl_tensor *o = &m->tensors[nd->outputs[0]];
		fbw_patch(w, t.pos[0], fbw_vec(w, o->dims, (size_t)o->rank, 4, 4));
	}
}

static int has_options(sl_op op)
{
	switch (op) {
	case SL_OP_QUANTIZE:
	case SL_OP_DEQUANTIZE:
	case SL_OP_HARD_SWISH:
	case SL_OP_LOGISTIC:
	case SL_OP_RELU:
	case SL_OP_RELU6:
		return 0;
	default:
		return 1;
	}
}

static void write_operator(writer *wr, size_t slot, int n)
{
	fbw *w = &wr->w;
	const sl_model *m = wr->m;
	const sl_node *nd = &m->nodes[n];
	fbt t = {0};
	fbt_scalar(&t, 0, 4, (uint32_t)wr->opcode[n]);
	fbt_offset(&t, 1);
	fbt_offset(&t, 2);
	const bool opts = has_options(nd->op);
	if (opts) {
		static const int types[SL_OP__COUNT] = {
		    [SL_OP_CONV_2D] = OPT_CONV,
		    [SL_OP_DEPTHWISE_CONV_2D] = OPT_DEPTHWISE,
		    [SL_OP_AVERAGE_POOL_2D] = OPT_POOL,
		    [SL_OP_MAX_POOL_2D] = OPT_POOL,
		    [SL_OP_FULLY_CONNECTED] = OPT_FC,
		    [SL_OP_SOFTMAX] = OPT_SOFTMAX,
		    [SL_OP_CONCATENATION] = OPT_CONCAT,
		    [SL_OP_ADD] = OPT_ADD,
		    [SL_OP_RESHAPE] = OPT_RESHAPE,
		    [SL_OP_MUL] = OPT_MUL,
		    [SL_OP_PAD] = OPT_PAD,
		    [SL_OP_MEAN] = OPT_REDUCER,
		};
		fbt_scalar(&t, 3, 1, (uint32_t)types[nd->op]);
		fbt_offset(&t, 4);
	}
	size_t tab = fbt_end(w, &t);
	fbw_patch(w, slot, tab);

	int32_t ins[SL_MAX_NODE_INPUTS + 1];
	int32_t *in = nd->inputs;
	size_t n_in = (size_t)nd->n_inputs;
	if (wr->node_extra[n] >= 0 && n_in < SL_ARRAY_SIZE(ins)) {
		memcpy(ins, nd->inputs, sizeof(int32_t) * n_in);
		ins[n_in++] = m->n_tensors + wr->node_extra[n];
		in = ins;
	}
	fbw_patch(w, t.pos[1], fbw_vec(w, in, n_in, 4, 4));
	fbw_patch(w, t.pos[2], fbw_vec(w, nd->outputs, (size_t)nd->n_outputs, 4, 4));
	if (opts)
		write_options(wr, nd, m, t.pos[4]);
}

static int write_model(writer *wr)
{
	fbw *w = &wr->w;
	const sl_model *m = wr->m;
	const int n_all = m->n_tensors + wr->n_extra;

	/* Buffer 0 is the empty sentinel every non-constant tensor refers to. */
	uint32_t *buf_of = calloc((size_t)(n_all ? n_all : 1), sizeof(uint32_t));
	if (!buf_of)
		return -ENOMEM;
	uint32_t n_buffers = 1;
	for (int i = 0; i < n_all; i++) {
		const sl_tensor *t = wr_tensor(wr, i);
		if (t->kind == SL_TENSOR_CONST)
			buf_of[i] = n_buffers++;
	}

	size_t root = fbw_grow(w, 8);
	fbw_set(w, root + 4, "TFL3", 4);

	fbt model = {0};
	fbt_scalar(&model, 0, 4, 3);
	fbt_offset(&model, 1);
	fbt_offset(&model, 2);
	fbt_offset(&model, 3);
	fbt_offset(&model, 4);
	size_t mt = fbt_end(w, &model);
	fbw_patch(w, root, mt);

	/* operator_codes */
	size_t codes = fbw_offvec(w, (size_t)wr->n_codes);
	fbw_patch(w, model.pos[1], codes);
	for (int c = 0; c < wr->n_codes; c++) {
		fbt oc = {0};
		int b = wr->codes[c][0];
		fbt_scalar(&oc, 0, 1, (uint32_t)(b < 127 ? b : 127));
		fbt_scalar(&oc, 2, 4, (uint32_t)wr->codes[c][1]);
		fbt_scalar(&oc, 3, 4, (uint32_t)b);
		fbw_patch(w, codes + 4 + 4 * (size_t)c, fbt_end(w, &oc));
	}

	/* subgraphs[0] */
	size_t sgs = fbw_offvec(w, 1);
	fbw_patch(w, model.pos[2], sgs);
	fbt sg = {0};
	for (int f = 0; f <= 4; f++)
		fbt_offset(&sg, f);
	fbw_patch(w, sgs + 4, fbt_end(w, &sg));

	size_t tv = fbw_offvec(w, (size_t)n_all);
	fbw_patch(w, sg.pos[0], tv);
	for (int i = 0; i < n_all; i++)
		write_tensor(wr, tv + 4 + 4 * (size_t)i, i, buf_of[i]);
	fbw_patch(w, sg.pos[1], fbw_vec(w, m->inputs, (size_t)m->n_inputs, 4, 4));
	fbw_patch(w, sg.pos[2], fbw_vec(w, m->outputs, (size_t)m->n_outputs, 4, 4));
	size_t ov = fbw_offvec(w, (size_t)m->n_nodes);
	fbw_patch(w, sg.pos[3], ov);
	/* TFLite runs operators in vector order: emit them in execution order. */
	for (int i = 0; i < m->n_nodes; i++)
		write_operator(wr, ov + 4 + 4 * (size_t)i, m->order ? m->order[i] : i);
	fbw_patch(w, sg.pos[4], fbw_string(w, "main"));

	fbw_patch(w, model.pos[3], fbw_string(w, m->description ? m->description : "sightline"));

	/* buffers */
	size_t bv = fbw_offvec(w, n_buffers);
	fbw_patch(w, model.pos[4], bv);
	fbt empty = {0};
	fbw_patch(w, bv + 4, fbt_end(w, &empty));
	for (int i = 0; i < n_all; i++) {
		if (!buf_of[i])
			continue;
		const sl_tensor *t = wr_tensor(wr, i);
		fbt b = {0};
		fbt_offset(&b, 0);
		fbw_patch(w, bv + 4 + 4 * (size_t)buf_of[i], fbt_end(w, &b));
		fbw_patch(w, b.pos[0], fbw_vec(w, t->data, t->bytes, 1, 16));
	}
	free(buf_of);
	fbw_pad(w, 16, 0);
	if (w->oom)
		return -ENOMEM;
	if (w->len > INT32_MAX)
		return wr_fail(wr, -EFBIG, "model of %d tensors exceeds the 2 GiB flatbuffer limit%s", n_all,
			       "");
	return 0;
}

int sl_tflite_write_mem(const sl_model *m, void **ret_buf, size_t *ret_size, sl_error *err)
{
	if (!m || !ret_buf || !ret_size)
		return -EINVAL;
	writer wr = {.m = m, .err = err};
	int r = plan(&wr);
	if (r == 0)
		r = write_model(&wr);
	free(wr.node_extra);
	free(wr.opcode);
	free(wr.extra);
	if (r < 0) {
		free(wr.w.buf);
		return r;
	}
	/* Copy into a 16-aligned buffer: TFLite requires aligned constant data. */
	void *out = aligned_alloc(16, SL_ALIGN_UP(wr.w.len, 16));
	if (!out) {
		free(wr.w.buf);
		return -ENOMEM;
	}
	memcpy(out, wr.w.buf, wr.w.len);
	free(wr.w.buf);
	*ret_buf = out;
	*ret_size = wr.w.len;
	return 0;
}

int sl_tflite_write_file(const sl_model *m, const char *path, sl_error *err)
{
	void *buf;
	size_t size;
	int r = sl_tflite_write_mem(m, &buf, &size, err);
	if (r < 0)
		return r;
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		free(buf);
		return -ENAMETOOLONG;
	}
	/* Write-then-rename so that a daemon reading the ladder never sees half a file. */
	FILE *f = fopen(tmp, "wb");
	if (!f) {
		r = -errno;
		if (err)
			snprintf(err->msg, sizeof(err->msg), "%.200s: cannot create: %s", tmp, strerror(-r));
		free(buf);
		return r;
	}
	size_t wrote = fwrite(buf, 1, size, f);
	free(buf);
	if (fclose(f) != 0 || wrote != size) {
		unlink(tmp);
		if (err)
			snprintf(err->msg, sizeof(err->msg), "%.200s: write failed", tmp);
		return -EIO;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		if (err)
			snprintf(err->msg, sizeof(err->msg), "%.200s: rename failed: %s", path, strerror(-r));
		return r;
	}
	return 0;
}
