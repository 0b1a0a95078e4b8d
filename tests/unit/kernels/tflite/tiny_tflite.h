/* Test-only writer of small TFLite FlatBuffers, shared by the importer tests
 * and the fuzz seed generator. It writes front to back: every table is
 * preceded by its own vtable and every slot takes 8 inline bytes, so child
 * objects appended later are reached by forward offsets patched in place.
 * That is valid FlatBuffers, just not how flatc lays files out. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	uint8_t *d;
	size_t n, cap;
} tfb;

static inline void tfb_reserve(tfb *b, size_t more)
{
	if (b->n + more <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->n + more)
		cap *= 2;
	b->d = realloc(b->d, cap);
	if (!b->d)
		abort();
	memset(b->d + b->cap, 0, cap - b->cap);
	b->cap = cap;
}

static inline size_t tfb_align(tfb *b, size_t a)
{
	tfb_reserve(b, a);
	while (b->n % a)
		b->d[b->n++] = 0;
	return b->n;
}

static inline size_t tfb_raw(tfb *b, const void *p, size_t len, size_t align)
{
	size_t pos = tfb_align(b, align);
	tfb_reserve(b, len);
	if (len)
		memcpy(b->d + pos, p, len);
	b->n += len;
	return pos;
}

static inline void tfb_put(tfb *b, size_t pos, const void *v, size_t len)
{
	memcpy(b->d + pos, v, len);
}

/* Table with nslots 8-byte slots; bit i of mask marks slot i present. */
static inline size_t tfb_table(tfb *b, int nslots, uint32_t mask)
{
	uint16_t vt[2 + 32];
	vt[0] = (uint16_t)(4 + 2 * nslots);
	vt[1] = (uint16_t)(4 + 8 * nslots);
	for (int i = 0; i < nslots; i++)
		vt[2 + i] = (mask >> i) & 1 ? (uint16_t)(4 + 8 * i) : 0;
	size_t vpos = tfb_raw(b, vt, (size_t)vt[0], 2);
	size_t pos = tfb_align(b, 8);
	int32_t soff = (int32_t)(pos - vpos);
	tfb_raw(b, &soff, 4, 1);
	tfb_reserve(b, (size_t)8 * nslots);
	memset(b->d + b->n, 0, (size_t)8 * nslots);
	b->n += (size_t)8 * nslots;
	return pos;
}

static inline size_t tfb_slot(size_t table, int slot)
{
	return table + 4 + 8 * (size_t)slot;
}

static inline void tfb_u8(tfb *b, size_t t, int slot, uint8_t v)
{
	tfb_put(b, tfb_slot(t, slot), &v, 1);
}
static inline void tfb_i32(tfb *b, size_t t, int slot, int32_t v)
{
	tfb_put(b, tfb_slot(t, slot), &v, 4);
}
static inline void tfb_u64(tfb *b, size_t t, int slot, uint64_t v)
{
	tfb_put(b, tfb_slot(t, slot), &v, 8);
}
static inline void tfb_f32(tfb *b, size_t t, int slot, float v)
{
	tfb_put(b, tfb_slot(t, slot), &v, 4);
}
/* Offset field -> target (target after the field). */
static inline void tfb_ref(tfb *b, size_t t, int slot, size_t target)
{
	uint32_t u = (uint32_t)(target - tfb_slot(t, slot));
	tfb_put(b, tfb_slot(t, slot), &u, 4);
}

static inline size_t tfb_vec(tfb *b, const void *elems, uint32_t n, size_t elem, size_t align)
{
	tfb_align(b, align > 4 ? align : 4);
	/* the length word sits just before the (aligned) elements */
	while ((b->n + 4) % align)
		tfb_raw(b, "", 1, 1);
	size_t pos = tfb_raw(b, &n, 4, 1);
	tfb_raw(b, elems, (size_t)n * elem, 1);
	return pos;
}

static inline size_t tfb_string(tfb *b, const char *s)
{
	uint32_t n = (uint32_t)strlen(s);
	size_t pos = tfb_raw(b, &n, 4, 4);
	tfb_raw(b, s, n + 1, 1);
	return pos;
}

/* Vector of n offsets, filled with tfb_vec_set. */
static inline size_t tfb_vec_refs(tfb *b, uint32_t n)
{
	size_t pos = tfb_raw(b, &n, 4, 4);
	tfb_reserve(b, 4 * (size_t)n);
	memset(b->d + b->n, 0, 4 * (size_t)n);
	b->n += 4 * (size_t)n;
	return pos;
}

static inline void tfb_vec_set(tfb *b, size_t vec, uint32_t i, size_t target)
{
	size_t p = vec + 4 + 4 * (size_t)i;
	uint32_t u = (uint32_t)(target - p);
	tfb_put(b, p, &u, 4);
}

/* ---- TFLite models ---- */

typedef struct {
	const char *name;
	int type; /* TFLite TensorType: 0 f32, 1 f16, 2 i32, 3 u8, 9 i8 */
	int rank;
	int32_t dims[6];
	int buffer; /* 0: none */
	int nq;
	float scale[8];
	int64_t zp[8];
	int qdim;
} tt_tensor;

typedef struct {
	int slot;
	char kind; /* 'b' int8/bool, 'i' int32, 'f' float */
	double v;
} tt_opt;

typedef struct {
	int code;
	int nin, in[8];
	int nout, out[8];
	int opt_type; /* BuiltinOptions member, 0 none */
	int n_opts;
	tt_opt opts[8];
	const char *custom; /* custom_code */
} tt_op;

typedef struct {
	const void *data;
	size_t len;
} tt_buffer;

typedef struct {
	uint32_t version; /* 0 -> 3 */
	const char *description;
	int n_tensors;
	const tt_tensor *tensors;
	int n_ops;
	const tt_op *ops;
	int n_in, in[4];
	int n_out, out[4];
	int n_buffers; /* buffer 0, the empty sentinel, is added in front */
	const tt_buffer *buffers;
} tt_model;

/* Returns the file size; *ret is malloc'd. */
static inline size_t tt_build(const tt_model *s, uint8_t **ret)
{
	tfb b = {0};
	uint32_t hdr[2] = {0, 0};
	tfb_raw(&b, hdr, 8, 4);
	memcpy(b.d + 4, "TFL3", 4);

	const size_t model = tfb_table(&b, 5, 0x1f);
	uint32_t root = (uint32_t)model;
	tfb_put(&b, 0, &root, 4);
	tfb_i32(&b, model, 0, (int32_t)(s->version ? s->version : 3));

	/* operator codes: one per op, in op order */
	size_t codes = tfb_vec_refs(&b, (uint32_t)s->n_ops);
	tfb_ref(&b, model, 1, codes);
	for (int i = 0; i < s->n_ops; i++) {
		const tt_op *o = &s->ops[i];
		size_t oc = tfb_table(&b, 4, o->custom ? 0xf : 0xd);
		tfb_vec_set(&b, codes, (uint32_t)i, oc);
		tfb_u8(&b, oc, 0, (uint8_t)(o->code < 127 ? o->code : 127));
		tfb_i32(&b, oc, 2, 1);
		tfb_i32(&b, oc, 3, o->code);
		if (o->custom)
			tfb_ref(&b, oc, 1, tfb_string(&b, o->custom));
	}

	size_t sgs = tfb_vec_refs(&b, 1);
	tfb_ref(&b, model, 2, sgs);
	size_t sg = tfb_table(&b, 5, 0x1f);
	tfb_vec_set(&b, sgs, 0, sg);
	tfb_ref(&b, sg, 4, tfb_string(&b, "main"));
	tfb_ref(&b, model, 3, tfb_string(&b, s->description ? s->description : "tiny"));

	size_t tv = tfb_vec_refs(&b, (uint32_t)s->n_tensors);
	tfb_ref(&b, sg, 0, tv);
	for (int i = 0; i < s->n_tensors; i++) {
		const tt_tensor *t = &s->tensors[i];
		size_t tt = tfb_table(&b, 5, t->nq ? 0x1f : 0x0f);
		tfb_vec_set(&b, tv, (uint32_t)i, tt);
		tfb_ref(&b, tt, 0, tfb_vec(&b, t->dims, (uint32_t)t->rank, 4, 4));
		tfb_u8(&b, tt, 1, (uint8_t)t->type);
		tfb_i32(&b, tt, 2, t->buffer);
		tfb_ref(&b, tt, 3, tfb_string(&b, t->name ? t->name : ""));
		if (t->nq) {
			size_t q = tfb_table(&b, 7, 0x4c);
			tfb_ref(&b, tt, 4, q);
			tfb_ref(&b, q, 2, tfb_vec(&b, t->scale, (uint32_t)t->nq, 4, 4));
			tfb_ref(&b, q, 3, tfb_vec(&b, t->zp, (uint32_t)t->nq, 8, 8));
			tfb_i32(&b, q, 6, t->qdim);
		}
	}
	int32_t io[4];
	for (int i = 0; i < s->n_in; i++)
		io[i] = s->in[i];
	tfb_ref(&b, sg, 1, tfb_vec(&b, io, (uint32_t)s->n_in, 4, 4));
	for (int i = 0; i < s->n_out; i++)
		io[i] = s->out[i];
	tfb_ref(&b, sg, 2, tfb_vec(&b, io, (uint32_t)s->n_out, 4, 4));

	size_t ov = tfb_vec_refs(&b, (uint32_t)s->n_ops);
	tfb_ref(&b, sg, 3, ov);
	for (int i = 0; i < s->n_ops; i++) {
		const tt_op *o = &s->ops[i];
		size_t ot = tfb_table(&b, 5, o->opt_type ? 0x1f : 0x07);
		tfb_vec_set(&b, ov, (uint32_t)i, ot);
		tfb_i32(&b, ot, 0, i);
		tfb_ref(&b, ot, 1, tfb_vec(&b, o->in, (uint32_t)o->nin, 4, 4));
		tfb_ref(&b, ot, 2, tfb_vec(&b, o->out, (uint32_t)o->nout, 4, 4));
		if (o->opt_type) {
			uint32_t mask = 0;
			int nslots = 0;
			for (int k = 0; k < o->n_opts; k++) {
				mask |= 1u << o->opts[k].slot;
				if (o->opts[k].slot + 1 > nslots)
					nslots = o->opts[k].slot + 1;
			}
			tfb_u8(&b, ot, 3, (uint8_t)o->opt_type);
			size_t opt = tfb_table(&b, nslots, mask);
			tfb_ref(&b, ot, 4, opt);
			for (int k = 0; k < o->n_opts; k++) {
				const tt_opt *p = &o->opts[k];
				if (p->kind == 'b')
					tfb_u8(&b, opt, p->slot, (uint8_t)(int8_t)p->v);
				else if (p->kind == 'i')
					tfb_i32(&b, opt, p->slot, (int32_t)p->v);
				else
					tfb_f32(&b, opt, p->slot, (float)p->v);
			}
		}
	}

	size_t bv = tfb_vec_refs(&b, (uint32_t)s->n_buffers + 1);
	tfb_ref(&b, model, 4, bv);
	size_t empty = tfb_table(&b, 1, 0);
	tfb_vec_set(&b, bv, 0, empty);
	for (int i = 0; i < s->n_buffers; i++) {
		size_t bt = tfb_table(&b, 1, 1);
		tfb_vec_set(&b, bv, (uint32_t)i + 1, bt);
		tfb_ref(&b, bt, 0, tfb_vec(&b, s->buffers[i].data, (uint32_t)s->buffers[i].len, 1, 16));
	}
	*ret = b.d;
	return b.n;
}

/* A small float model: CONV_2D(3x3, 8x8x3 -> 8x8x4, SAME) -> RELU; weights
 * are fp16 behind a DEQUANTIZE when fp16 is set. Buffers are static so the
 * spec stays valid after return. */
static inline size_t tt_build_conv(bool fp16, uint8_t **ret)
{
	static float w[4 * 3 * 3 * 3], bias[4] = {0.5f, -1.0f, 0.0f, 2.0f};
	static uint16_t wh[4 * 3 * 3 * 3];
	for (int i = 0; i < 108; i++) {
		w[i] = (float)((i % 7) - 3) * 0.25f;
		wh[i] = (uint16_t)((i % 3) == 0 ? 0x3c00 : (i % 3) == 1 ? 0xc000 : 0x3400); /* 1, -2, 0.25 */
	}
	static const tt_buffer bufs_f32[2] = {{w, sizeof(w)}, {bias, sizeof(bias)}};
	static const tt_buffer bufs_f16[2] = {{wh, sizeof(wh)}, {bias, sizeof(bias)}};
	static const tt_tensor tensors[] = {
	    {.name = "input", .type = 0, .rank = 4, .dims = {1, 8, 8, 3}},
	    {.name = "weights", .type = 0, .rank = 4, .dims = {4, 3, 3, 3}, .buffer = 1},
	    {.name = "bias", .type = 0, .rank = 1, .dims = {4}, .buffer = 2},
	    {.name = "conv", .type = 0, .rank = 4, .dims = {1, 8, 8, 4}},
	    {.name = "output", .type = 0, .rank = 4, .dims = {1, 8, 8, 4}},
	    {.name = "weights_fp16", .type = 1, .rank = 4, .dims = {4, 3, 3, 3}, .buffer = 1},
	};
	static tt_tensor tensors_f16[6];
	memcpy(tensors_f16, tensors, sizeof(tensors));
	tensors_f16[1].buffer = 0; /* produced by DEQUANTIZE */
	const tt_op conv = {.code = 3,
			    .nin = 3,
			    .in = {0, 1, 2},
			    .nout = 1,
			    .out = {3},
			    .opt_type = 1,
			    .n_opts = 4,
			    .opts = {{0, 'b', 0}, {1, 'i', 1}, {2, 'i', 1}, {3, 'b', 0}}};
	const tt_op relu = {.code = 19, .nin = 1, .in = {3}, .nout = 1, .out = {4}};
	const tt_op deq = {.code = 6, .nin = 1, .in = {5}, .nout = 1, .out = {1}};
	tt_op ops[3];
	int n_ops = 0;
	if (fp16)
		ops[n_ops++] = deq;
	ops[n_ops++] = conv;
	ops[n_ops++] = relu;
	tt_model m = {.description = "tiny conv",
		      .n_tensors = fp16 ? 6 : 5,
		      .tensors = fp16 ? tensors_f16 : tensors,
		      .n_ops = n_ops,
		      .ops = ops,
		      .n_in = 1,
		      .in = {0},
		      .n_out = 1,
		      .out = {4},
		      .n_buffers = 2,
		      .buffers = fp16 ? bufs_f16 : bufs_f32};
	return tt_build(&m, ret);
}

/* Every supported operator once, float32, with its options set:
 * x -> CONV, DEPTHWISE -> ADD -> MUL(x) -> AVG/MAX_POOL -> CONCATENATION ->
 * PAD -> HARD_SWISH -> LOGISTIC -> RELU6 -> RELU -> MEAN -> RESHAPE -> FC ->
 * SOFTMAX -> QUANTIZE -> DEQUANTIZE. */
static inline size_t tt_build_zoo(uint8_t **ret)
{
	static float cw[2 * 2] = {1, 0, 0, 1}, dw[9 * 2], fw[3 * 4], fb[3] = {0.1f, 0.2f, 0.3f};
	static int32_t pads[8] = {0, 0, 1, 1, 1, 1, 0, 0}, axes[2] = {1, 2}, shape[2] = {1, 4};
	for (int i = 0; i < 18; i++)
		dw[i] = (float)i / 18.0f;
	for (int i = 0; i < 12; i++)
		fw[i] = (float)(i - 6) / 6.0f;
	static const tt_buffer bufs[] = {{cw, sizeof(cw)},	{dw, sizeof(dw)},     {fw, sizeof(fw)},
					 {fb, sizeof(fb)},	{pads, sizeof(pads)}, {axes, sizeof(axes)},
					 {shape, sizeof(shape)}};
	static const tt_tensor t[] = {
	    /* 0 */ {.name = "x", .type = 0, .rank = 4, .dims = {1, 4, 4, 2}},
	    /* 1 */ {.name = "conv_w", .type = 0, .rank = 4, .dims = {2, 1, 1, 2}, .buffer = 1},
	    /* 2 */ {.name = "dw_w", .type = 0, .rank = 4, .dims = {1, 3, 3, 2}, .buffer = 2},
	    /* 3 */ {.name = "fc_w", .type = 0, .rank = 2, .dims = {3, 4}, .buffer = 3},
	    /* 4 */ {.name = "fc_b", .type = 0, .rank = 1, .dims = {3}, .buffer = 4},
	    /* 5 */ {.name = "pads", .type = 2, .rank = 2, .dims = {4, 2}, .buffer = 5},
	    /* 6 */ {.name = "axes", .type = 2, .rank = 1, .dims = {2}, .buffer = 6},
	    /* 7 */ {.name = "shape", .type = 2, .rank = 1, .dims = {2}, .buffer = 7},
	    /* 8 */ {.name = "conv", .type = 0, .rank = 4, .dims = {1, 4, 4, 2}},
	    /* 9 */ {.name = "dw", .type = 0, .rank = 4, .dims = {1, 4, 4, 2}},
	    /* 10 */ {.name = "add", .type = 0, .rank = 4, .dims = {1, 4, 4, 2}},
	    /* 11 */ {.name = "mul", .type = 0, .rank = 4, .dims = {1, 4, 4, 2}},
	    /* 12 */ {.name = "avg", .type = 0, .rank = 4, .dims = {1, 2, 2, 2}},
	    /* 13 */ {.name = "max", .type = 0, .rank = 4, .dims = {1, 2, 2, 2}},
	    /* 14 */ {.name = "cat", .type = 0, .rank = 4, .dims = {1, 2, 2, 4}},
	    /* 15 */ {.name = "pad", .type = 0, .rank = 4, .dims = {1, 4, 4, 4}},
	    /* 16 */ {.name = "hswish", .type = 0, .rank = 4, .dims = {1, 4, 4, 4}},
	    /* 17 */ {.name = "sigmoid", .type = 0, .rank = 4, .dims = {1, 4, 4, 4}},
	    /* 18 */ {.name = "relu6", .type = 0, .rank = 4, .dims = {1, 4, 4, 4}},
	    /* 19 */ {.name = "relu", .type = 0, .rank = 4, .dims = {1, 4, 4, 4}},
	    /* 20 */ {.name = "mean", .type = 0, .rank = 2, .dims = {1, 4}},
	    /* 21 */ {.name = "reshape", .type = 0, .rank = 2, .dims = {1, 4}},
	    /* 22 */ {.name = "fc", .type = 0, .rank = 2, .dims = {1, 3}},
	    /* 23 */ {.name = "softmax", .type = 0, .rank = 2, .dims = {1, 3}},
	    /* 24 */
	    {.name = "q", .type = 9, .rank = 2, .dims = {1, 3}, .nq = 1, .scale = {1.0f / 256}, .zp = {-128}},
	    /* 25 */ {.name = "out", .type = 0, .rank = 2, .dims = {1, 3}},
	};
	static const tt_op ops[] = {
	    {.code = 3,
	     .nin = 3,
	     .in = {0, 1, -1},
	     .nout = 1,
	     .out = {8},
	     .opt_type = 1,
	     .n_opts = 6,
	     .opts = {{0, 'b', 1}, {1, 'i', 1}, {2, 'i', 1}, {3, 'b', 1}, {4, 'i', 1}, {5, 'i', 1}}},
	    {.code = 4,
	     .nin = 2,
	     .in = {0, 2},
	     .nout = 1,
	     .out = {9},
	     .opt_type = 2,
	     .n_opts = 7,
	     .opts =
		 {{0, 'b', 0}, {1, 'i', 1}, {2, 'i', 1}, {3, 'i', 1}, {4, 'b', 3}, {5, 'i', 1}, {6, 'i', 1}}},
	    {.code = 0,
	     .nin = 2,
	     .in = {8, 9},
	     .nout = 1,
	     .out = {10},
	     .opt_type = 11,
	     .n_opts = 1,
	     .opts = {{0, 'b', 0}}},
	    {.code = 18,
	     .nin = 2,
	     .in = {10, 0},
	     .nout = 1,
	     .out = {11},
	     .opt_type = 21,
	     .n_opts = 1,
	     .opts = {{0, 'b', 2}}},
	    {.code = 1,
	     .nin = 1,
	     .in = {11},
	     .nout = 1,
	     .out = {12},
	     .opt_type = 5,
	     .n_opts = 6,
	     .opts = {{0, 'b', 1}, {1, 'i', 2}, {2, 'i', 2}, {3, 'i', 2}, {4, 'i', 2}, {5, 'b', 0}}},
	    {.code = 17,
	     .nin = 1,
	     .in = {11},
	     .nout = 1,
	     .out = {13},
	     .opt_type = 5,
	     .n_opts = 6,
	     .opts = {{0, 'b', 0}, {1, 'i', 2}, {2, 'i', 2}, {3, 'i', 3}, {4, 'i', 3}, {5, 'b', 1}}},
	    {.code = 2,
	     .nin = 2,
	     .in = {12, 13},
	     .nout = 1,
	     .out = {14},
	     .opt_type = 10,
	     .n_opts = 2,
	     .opts = {{0, 'i', -1}, {1, 'b', 0}}},
	    {.code = 34, .nin = 2, .in = {14, 5}, .nout = 1, .out = {15}, .opt_type = 22},
	    {.code = 117, .nin = 1, .in = {15}, .nout = 1, .out = {16}, .opt_type = 91},
	    {.code = 14, .nin = 1, .in = {16}, .nout = 1, .out = {17}},
	    {.code = 21, .nin = 1, .in = {17}, .nout = 1, .out = {18}},
	    {.code = 19, .nin = 1, .in = {18}, .nout = 1, .out = {19}},
	    {.code = 40,
	     .nin = 2,
	     .in = {19, 6},
	     .nout = 1,
	     .out = {20},
	     .opt_type = 27,
	     .n_opts = 1,
	     .opts = {{0, 'b', 0}}},
	    {.code = 22, .nin = 2, .in = {20, 7}, .nout = 1, .out = {21}},
	    {.code = 9,
	     .nin = 3,
	     .in = {21, 3, 4},
	     .nout = 1,
	     .out = {22},
	     .opt_type = 8,
	     .n_opts = 3,
	     .opts = {{0, 'b', 0}, {1, 'b', 0}, {2, 'b', 0}}},
	    {.code = 25,
	     .nin = 1,
	     .in = {22},
	     .nout = 1,
	     .out = {23},
	     .opt_type = 9,
	     .n_opts = 1,
	     .opts = {{0, 'f', 1.0}}},
	    {.code = 114, .nin = 1, .in = {23}, .nout = 1, .out = {24}, .opt_type = 89},
	    {.code = 6, .nin = 1, .in = {24}, .nout = 1, .out = {25}, .opt_type = 38},
	};
	tt_model m = {.description = "zoo",
		      .n_tensors = 26,
		      .tensors = t,
		      .n_ops = 18,
		      .ops = ops,
		      .n_in = 1,
		      .in = {0},
		      .n_out = 1,
		      .out = {25},
		      .n_buffers = 7,
		      .buffers = bufs};
	return tt_build(&m, ret);
}

/* Quantized CONV_2D -> AVERAGE_POOL_2D: int8 with per-channel weights (TF2)
 * or uint8 per-tensor (TF1). */
static inline size_t tt_build_quant(bool int8, uint8_t **ret)
{
	static int8_t w8[3 * 2] = {10, -20, 30, -40, 50, -60};
	static uint8_t wu8[3 * 2] = {138, 108, 158, 88, 178, 68};
	static int32_t bias[3] = {100, -200, 300};
	static tt_tensor t[] = {
	    {.name = "x", .rank = 4, .dims = {1, 4, 4, 2}, .nq = 1, .scale = {0.5f}},
	    {.name = "w", .rank = 4, .dims = {3, 1, 1, 2}, .buffer = 1},
	    {.name = "b", .type = 2, .rank = 1, .dims = {3}, .buffer = 2},
	    {.name = "conv", .rank = 4, .dims = {1, 4, 4, 3}, .nq = 1, .scale = {0.25f}},
	    {.name = "pool", .rank = 4, .dims = {1, 2, 2, 3}, .nq = 1, .scale = {0.25f}},
	};
	const int type = int8 ? 9 : 3;
	const int64_t zp = int8 ? -3 : 125;
	for (int i = 0; i < 5; i++)
		if (i != 2)
			t[i].type = type;
	t[0].zp[0] = t[3].zp[0] = t[4].zp[0] = zp;
	if (int8) {
		t[1].nq = 3;
		t[1].qdim = 0;
		t[2].nq = 3;
		for (int c = 0; c < 3; c++) {
			t[1].scale[c] = 0.01f * (float)(c + 1);
			t[1].zp[c] = 0;
			t[2].scale[c] = 0.5f * t[1].scale[c];
			t[2].zp[c] = 0;
		}
	} else {
		t[1].nq = t[2].nq = 1;
		t[1].scale[0] = 0.02f;
		t[1].zp[0] = 128;
		t[2].scale[0] = 0.01f;
		t[2].zp[0] = 0;
	}
	static tt_buffer bufs[2];
	bufs[0] = (tt_buffer){int8 ? (const void *)w8 : (const void *)wu8, 6};
	bufs[1] = (tt_buffer){bias, sizeof(bias)};
	static const tt_op ops[] = {
	    {.code = 3,
	     .nin = 3,
	     .in = {0, 1, 2},
	     .nout = 1,
	     .out = {3},
	     .opt_type = 1,
	     .n_opts = 4,
	     .opts = {{0, 'b', 1}, {1, 'i', 1}, {2, 'i', 1}, {3, 'b', 3}}},
	    {.code = 1,
	     .nin = 1,
	     .in = {3},
	     .nout = 1,
	     .out = {4},
	     .opt_type = 5,
	     .n_opts = 5,
	     .opts = {{0, 'b', 1}, {1, 'i', 2}, {2, 'i', 2}, {3, 'i', 2}, {4, 'i', 2}}},
	};
	tt_model m = {.description = int8 ? "int8" : "uint8",
		      .n_tensors = 5,
		      .tensors = t,
		      .n_ops = 2,
		      .ops = ops,
		      .n_in = 1,
		      .in = {0},
		      .n_out = 1,
		      .out = {4},
		      .n_buffers = 2,
		      .buffers = bufs};
	return tt_build(&m, ret);
}
