/* Node adapters for CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED. */
#include <stdlib.h>

#include "kernels/ref/node_internal.h"

/* Where a node's tensors live (arena offsets or constants). */
typedef struct {
	sl_ref_tref in, w, b, out;
	bool has_bias;
} io_refs;

static io_refs io_of(const sl_tensor *in, const sl_tensor *w, const sl_tensor *b, const sl_tensor *out)
{
	io_refs io = {.in = sl_ref_tref_of(in), .w = sl_ref_tref_of(w), .has_bias = b != NULL};
	if (b)
		io.b = sl_ref_tref_of(b);
	io.out = sl_ref_tref_of(out);
	return io;
}

/* Points the kernel arguments `a` (whose weights field is `wfield`) at the
 * tensors of this frame. */
#define BIND_IO(a, io, arena, wfield)                                                                        \
	do {                                                                                                 \
		(a).input = sl_ref_tptr(&(io).in, arena);                                                    \
		(a).wfield = sl_ref_tptr(&(io).w, arena);                                                    \
		(a).bias = (io).has_bias ? sl_ref_tptr(&(io).b, arena) : NULL;                               \
		(a).output = sl_ref_tptr(&(io).out, arena);                                                  \
	} while (0)

typedef struct {
	bool depthwise, quant;
	io_refs io;
	sl_ref_conv_f32_args f;
	sl_ref_conv_q8_args q;
	/* followed by mult[n], zp[n] (int32_t) and shift[n] (int) */
} conv_state;

typedef struct {
	bool quant;
	io_refs io;
	sl_ref_fc_f32_args f;
	sl_ref_fc_q8_args q;
} fc_state;

/* Quantization of the weights: per-channel multipliers for q8 kernels,
 * stored after the state struct of `head` bytes. */
typedef struct {
	int32_t *mult, *zp;
	int *shift;
} chq_arrays;

static void *alloc_with_chq(size_t head, int n, chq_arrays *arr)
{
	head = (head + 7) & ~(size_t)7;
	uint8_t *p = calloc(1, head + (size_t)n * (2 * sizeof(int32_t) + sizeof(int)));
	if (!p)
		return NULL;
	arr->mult = (int32_t *)(void *)(p + head);
	arr->zp = arr->mult + n;
	arr->shift = (int *)(void *)(arr->zp + n);
	return p;
}

/* Checks the dtype combination and fills the shared q8 fields. Returns the
 * number of per-channel entries (1 for per-tensor) or a negative error. */
static int q8_check(const sl_ref_nctx *c, const sl_tensor *in, const sl_tensor *w, const sl_tensor *b,
		    const sl_tensor *out, int out_c)
{
	if (!sl_ref_is_q8(in->dtype) || !sl_ref_is_q8(w->dtype) || !sl_ref_is_q8(out->dtype) ||
	    (b && b->dtype != SL_DTYPE_I32))
		return sl_ref_unsupported_dtypes(c);
	if (in->q.n < 1 || out->q.n < 1 || w->q.n < 1)
		return sl_ref_fail(c, -SL_E_FORMAT, "quantized tensors without quantization parameters");
	if (w->q.n != 1 && w->q.n != out_c)
		return sl_ref_fail(c, -SL_E_UNSUPPORTED, "%d filter scales for %d output channels", w->q.n,
				   out_c);
	if (w->kind != SL_TENSOR_CONST || (b && b->kind != SL_TENSOR_CONST))
		return sl_ref_fail(c, -SL_E_UNSUPPORTED, "weights and bias must be constant");
	return w->q.n;
}

static void fill_chq(const sl_tensor *in, const sl_tensor *w, const sl_tensor *out, int n, chq_arrays *arr)
{
	sl_ref_conv_q8_multipliers_tflite(in->dtype, sl_ref_scale(in), w->q.scale, n, sl_ref_scale(out),
					  arr->mult, arr->shift);
	for (int i = 0; i < n; i++)
		arr->zp[i] = w->q.zero_point[i];
}

static int run_conv(sl_step *s, uint8_t *arena)
{
	const conv_state *st = s->state;
	if (st->quant) {
		sl_ref_conv_q8_args a = st->q;
		BIND_IO(a, st->io, arena, filter);
		(st->depthwise ? sl_ref_dwconv2d_q8 : sl_ref_conv2d_q8)(&a);
	} else {
		sl_ref_conv_f32_args a = st->f;
		BIND_IO(a, st->io, arena, filter);
		(st->depthwise ? sl_ref_dwconv2d_f32 : sl_ref_conv2d_f32)(&a);
	}
	return 0;
}

sl_ref_conv_geom sl_ref_conv_geom_of(const sl_tensor *in, const sl_tensor *w, const sl_tensor *out,
				     const sl_conv_params *p, bool depthwise)
{
	return (sl_ref_conv_geom){
	    .batch = in->dims[0],
	    .in_h = in->dims[1],
	    .in_w = in->dims[2],
	    .in_c = in->dims[3],
	    .out_h = out->dims[1],
	    .out_w = out->dims[2],
	    .out_c = out->dims[3],
	    .filter_h = w->dims[1],
	    .filter_w = w->dims[2],
	    .stride_h = p->stride_h,
	    .stride_w = p->stride_w,
	    .dilation_h = p->dilation_h,
	    .dilation_w = p->dilation_w,
	    .pad_top = p->pad_top,
	    .pad_left = p->pad_left,
	    .groups = !depthwise && w->dims[3] > 0 ? in->dims[3] / w->dims[3] : 1,
	    .depth_multiplier = depthwise && in->dims[3] > 0 ? out->dims[3] / in->dims[3] : 1,
	};
}

int sl_ref_prep_conv(const sl_ref_nctx *c, sl_step *step)
{
	const sl_tensor *in = sl_ref_in(c, 0), *w = sl_ref_in(c, 1), *b = sl_ref_in(c, 2),
			*out = sl_ref_out(c);
	const sl_conv_params *p = &c->n->p.conv;
	const bool dw = c->n->op == SL_OP_DEPTHWISE_CONV_2D;

	if (!w || in->rank != 4 || w->rank != 4 || out->rank != 4)
		return sl_ref_fail(c, -SL_E_SHAPE, "needs 4-D input, filter and output");
	const sl_ref_conv_geom g = sl_ref_conv_geom_of(in, w, out, p, dw);
	const bool ok_shape = dw ? (g.in_c * g.depth_multiplier == g.out_c && w->dims[3] == g.out_c)
				 : (g.groups >= 1 && w->dims[3] * g.groups == g.in_c &&
				    w->dims[0] == g.out_c && g.out_c % g.groups == 0);
	if (!ok_shape || g.stride_h < 1 || g.stride_w < 1 || g.dilation_h < 1 || g.dilation_w < 1)
		return sl_ref_fail(c, -SL_E_SHAPE, "inconsistent filter [%d,%d,%d,%d] for %d -> %d channels",
				   w->dims[0], w->dims[1], w->dims[2], w->dims[3], g.in_c, g.out_c);

	if (in->dtype == SL_DTYPE_F32) {
		if (w->dtype != SL_DTYPE_F32 || out->dtype != SL_DTYPE_F32 || (b && b->dtype != SL_DTYPE_F32))
			return sl_ref_unsupported_dtypes(c);
		conv_state *st = calloc(1, sizeof(*st));
		if (!st)
			return -ENOMEM;
		st->f.g = g;
		sl_ref_act_range_f32(c->n->act, &st->f.act_min, &st->f.act_max);
		st->depthwise = dw;
		st->io = io_of(in, w, b, out);
		sl_ref_step_set(step, st, run_conv);
		return 0;
	}

	const int n = q8_check(c, in, w, b, out, g.out_c);
	if (n < 0)
		return n;
	chq_arrays arr;
	conv_state *st = alloc_with_chq(sizeof(*st), n, &arr);
	if (!st)
		return -ENOMEM;
	fill_chq(in, w, out, n, &arr);
	st->quant = true;
	st->depthwise = dw;
	st->q = (sl_ref_conv_q8_args){
	    .g = g,
	    .in_type = in->dtype,
	    .filter_type = w->dtype,
	    .out_type = out->dtype,
	    .in_zp = sl_ref_zp(in),
	    .out_zp = sl_ref_zp(out),
	    .per_channel = n > 1,
	    .filter_zp = arr.zp,
	    .mult = arr.mult,
	    .shift = arr.shift,
	};
	sl_ref_act_range_q8(c->n->act, out->dtype, sl_ref_scale(out), sl_ref_zp(out), &st->q.act_min,
			    &st->q.act_max);
	st->io = io_of(in, w, b, out);
	sl_ref_step_set(step, st, run_conv);
	return 0;
}

static int run_fc(sl_step *s, uint8_t *arena)
{
	const fc_state *st = s->state;
	if (st->quant) {
		sl_ref_fc_q8_args a = st->q;
		BIND_IO(a, st->io, arena, weights);
		sl_ref_fc_q8(&a);
	} else {
		sl_ref_fc_f32_args a = st->f;
		BIND_IO(a, st->io, arena, weights);
		sl_ref_fc_f32(&a);
	}
	return 0;
}

int sl_ref_prep_fc(const sl_ref_nctx *c, sl_step *step)
{
	const sl_tensor *in = sl_ref_in(c, 0), *w = sl_ref_in(c, 1), *b = sl_ref_in(c, 2),
			*out = sl_ref_out(c);

	if (!w || w->rank != 2 || w->dims[1] < 1)
		return sl_ref_fail(c, -SL_E_SHAPE, "weights must be 2-D");
	const int64_t numel = sl_tensor_numel(in);
	const int depth = w->dims[1], out_c = w->dims[0];
	if (numel < 0 || numel % depth != 0 || sl_tensor_numel(out) != numel / depth * out_c)
		return sl_ref_fail(c, -SL_E_SHAPE, "input of %lld elements does not fit weights [%d,%d]",
				   (long long)numel, out_c, depth);
	const int batch = (int)(numel / depth);

	if (in->dtype == SL_DTYPE_F32) {
		if (w->dtype != SL_DTYPE_F32 || out->dtype != SL_DTYPE_F32 || (b && b->dtype != SL_DTYPE_F32))
			return sl_ref_unsupported_dtypes(c);
		fc_state *st = calloc(1, sizeof(*st));
		if (!st)
			return -ENOMEM;
		st->f = (sl_ref_fc_f32_args){.batch = batch, .depth = depth, .out_c = out_c};
		sl_ref_act_range_f32(c->n->act, &st->f.act_min, &st->f.act_max);
		st->io = io_of(in, w, b, out);
		sl_ref_step_set(step, st, run_fc);
		return 0;
	}

	const int n = q8_check(c, in, w, b, out, out_c);
	if (n < 0)
		return n;
	chq_arrays arr;
	fc_state *st = alloc_with_chq(sizeof(*st), n, &arr);
	if (!st)
		return -ENOMEM;
	fill_chq(in, w, out, n, &arr);
	st->quant = true;
	st->q = (sl_ref_fc_q8_args){
	    .batch = batch,
	    .depth = depth,
	    .out_c = out_c,
	    .in_type = in->dtype,
	    .filter_type = w->dtype,
	    .out_type = out->dtype,
	    .in_zp = sl_ref_zp(in),
	    .out_zp = sl_ref_zp(out),
	    .per_channel = n > 1,
	    .filter_zp = arr.zp,
	    .mult = arr.mult,
	    .shift = arr.shift,
	};
	sl_ref_act_range_q8(c->n->act, out->dtype, sl_ref_scale(out), sl_ref_zp(out), &st->q.act_min,
			    &st->q.act_max);
	st->io = io_of(in, w, b, out);
	sl_ref_step_set(step, st, run_fc);
	return 0;
}
