/* Node adapters for RESHAPE, PAD and CONCATENATION. */
#include <stdlib.h>
#include <string.h>

#include "kernels/ref/node_internal.h"

typedef struct {
	size_t bytes;
	sl_ref_tref in, out;
} copy_state;

static int run_copy(sl_step *s, uint8_t *arena)
{
	const copy_state *st = s->state;
	const void *in = sl_ref_tptr(&st->in, arena);
	void *out = sl_ref_tptr(&st->out, arena);
	if (in != out)
		memmove(out, in, st->bytes);
	return 0;
}

int sl_ref_prep_reshape(const sl_ref_nctx *c, sl_step *step)
{
	const sl_tensor *in = sl_ref_in(c, 0), *out = sl_ref_out(c);

	if (in->dtype != out->dtype)
		return sl_ref_unsupported_dtypes(c);
	if (sl_tensor_numel(in) != sl_tensor_numel(out))
		return sl_ref_fail(c, -SL_E_SHAPE, "reshape changes the element count");
	/* finalize places an activation RESHAPE's output on its input */
	if (in->kind == SL_TENSOR_ACTIVATION && in->arena_offset == out->arena_offset) {
		step->impl = SL_IMPL_NONE;
		step->run = NULL;
		step->destroy = NULL;
		step->state = NULL;
		snprintf(step->why, sizeof(step->why), "reshape aliases its input");
		return 0;
	}
	copy_state *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->bytes = (size_t)sl_tensor_numel(in) * sl_dtype_size(in->dtype);
	st->in = sl_ref_tref_of(in);
	st->out = sl_ref_tref_of(out);
	sl_ref_step_set(step, st, run_copy);
	return 0;
}

typedef struct {
	sl_ref_tref in, out;
	sl_ref_pad_args a;
	uint8_t pad_value[8];
} pad_state;

static int run_pad(sl_step *s, uint8_t *arena)
{
	const pad_state *st = s->state;
	sl_ref_pad_args a = st->a;
	a.input = sl_ref_tptr(&st->in, arena);
	a.output = sl_ref_tptr(&st->out, arena);
	a.pad_value = st->pad_value;
	sl_ref_pad(&a);
	return 0;
}

int sl_ref_prep_pad(const sl_ref_nctx *c, sl_step *step)
{
	const sl_tensor *in = sl_ref_in(c, 0), *out = sl_ref_out(c);
	const int32_t(*pads)[2] = c->n->p.pad.pads;

	if (in->dtype != out->dtype || (in->dtype != SL_DTYPE_F32 && !sl_ref_is_q8(in->dtype)))
		return sl_ref_unsupported_dtypes(c);
	if (in->rank != out->rank)
		return sl_ref_fail(c, -SL_E_SHAPE, "input and output ranks differ");
	for (int d = 0; d < in->rank; d++)
		if (pads[d][0] < 0 || pads[d][1] < 0 ||
		    (int64_t)in->dims[d] + pads[d][0] + pads[d][1] != out->dims[d])
			return sl_ref_fail(c, -SL_E_SHAPE, "paddings do not match the output on axis %d", d);
	if (sl_ref_is_q8(in->dtype) && (in->q.n != 1 || out->q.n != 1 || sl_ref_zp(in) != sl_ref_zp(out) ||
					sl_ref_scale(in) != sl_ref_scale(out)))
		return sl_ref_fail(c, -SL_E_UNSUPPORTED,
				   "quantized pad needs equal input and output quantization");

	pad_state *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->in = sl_ref_tref_of(in);
	st->out = sl_ref_tref_of(out);
	st->a.rank = in->rank;
	st->a.elem_size = sl_dtype_size(in->dtype);
	for (int d = 0; d < in->rank; d++) {
		st->a.in_dims[d] = in->dims[d];
		st->a.pads[d][0] = pads[d][0];
		st->a.pads[d][1] = pads[d][1];
	}
	/* fp32 pads with 0.0f (all-zero bytes); quantized with the zero point,
	 * which represents 0.0 */
	if (in->dtype == SL_DTYPE_I8)
		st->pad_value[0] = (uint8_t)(int8_t)sl_ref_zp(out);
	else if (in->dtype == SL_DTYPE_U8)
		st->pad_value[0] = (uint8_t)sl_ref_zp(out);
	sl_ref_step_set(step, st, run_pad);
	return 0;
}

typedef struct {
	bool quant;
	int n;
	sl_ref_tref out;
	sl_ref_concat_q8_args q; /* q.c is used for fp32 too */
	/* followed by tref[n], ptr[n], axis_dims[n], in_scale[n], in_zp[n] */
	sl_ref_tref *ins;
	const void **ptrs;
} concat_state;

static int run_concat(sl_step *s, uint8_t *arena)
{
	const concat_state *st = s->state;
	for (int i = 0; i < st->n; i++)
		st->ptrs[i] = sl_ref_tptr(&st->ins[i], arena);
	sl_ref_concat_q8_args a = st->q;
	a.c.output = sl_ref_tptr(&st->out, arena);
	if (st->quant)
		sl_ref_concat_q8(&a);
	else
		sl_ref_concat(&a.c);
	return 0;
}

int sl_ref_prep_concat(const sl_ref_nctx *c, sl_step *step)
{
	const sl_tensor *out = sl_ref_out(c);
	const int n = c->n->n_inputs, axis = c->n->p.concat.axis;

	if (n < 1 || axis < 0 || axis >= out->rank)
		return sl_ref_fail(c, -SL_E_SHAPE, "axis %d invalid for %d-D output", axis, out->rank);
	const bool quant = sl_ref_is_q8(out->dtype);
	if (!quant && out->dtype != SL_DTYPE_F32)
		return sl_ref_unsupported_dtypes(c);
	if (quant && out->q.n != 1)
		return sl_ref_fail(c, -SL_E_UNSUPPORTED, "needs per-tensor quantization");
	int64_t outer = 1, inner = 1, sum = 0;
	for (int d = 0; d < out->rank; d++) {
		if (d < axis)
			outer *= out->dims[d];
		else if (d > axis)
			inner *= out->dims[d];
	}
	for (int i = 0; i < n; i++) {
		const sl_tensor *t = sl_ref_in(c, i);
		if (!t || t->dtype != out->dtype)
			return sl_ref_unsupported_dtypes(c);
		if (quant && t->q.n != 1)
			return sl_ref_fail(c, -SL_E_UNSUPPORTED, "input %d: needs per-tensor quantization",
					   i);
		if (t->rank != out->rank)
			return sl_ref_fail(c, -SL_E_SHAPE, "input %d has rank %d, output %d", i, t->rank,
					   out->rank);
		for (int d = 0; d < out->rank; d++)
			if (d != axis && t->dims[d] != out->dims[d])
				return sl_ref_fail(c, -SL_E_SHAPE,
						   "input %d differs from the output on axis %d", i, d);
		sum += t->dims[axis];
	}
	if (sum != out->dims[axis])
		return sl_ref_fail(c, -SL_E_SHAPE, "inputs add up to %lld along axis %d, output has %d",
				   (long long)sum, axis, out->dims[axis]);

	const size_t head = (sizeof(concat_state) + 7) & ~(size_t)7;
	const size_t per = sizeof(sl_ref_tref) + sizeof(void *) + sizeof(int32_t) * 2 + sizeof(float);
	uint8_t *mem = calloc(1, head + (size_t)n * per);
	if (!mem)
		return -ENOMEM;
	concat_state *st = (concat_state *)(void *)mem;
	st->ins = (sl_ref_tref *)(void *)(mem + head);
	st->ptrs = (const void **)(void *)(st->ins + n);
	int32_t *axis_dims = (int32_t *)(void *)(st->ptrs + n);
	int32_t *in_zp = axis_dims + n;
	float *in_scale = (float *)(void *)(in_zp + n);
	for (int i = 0; i < n; i++) {
		const sl_tensor *t = sl_ref_in(c, i);
		st->ins[i] = sl_ref_tref_of(t);
		axis_dims[i] = t->dims[axis];
		in_zp[i] = sl_ref_zp(t);
		in_scale[i] = sl_ref_scale(t);
	}
	st->quant = quant;
	st->n = n;
	st->out = sl_ref_tref_of(out);
	st->q = (sl_ref_concat_q8_args){
	    .c = {.n = n,
		  .inputs = st->ptrs,
		  .axis_dims = axis_dims,
		  .outer = outer,
		  .inner = inner,
		  .elem_size = sl_dtype_size(out->dtype)},
	    .type = out->dtype,
	    .in_scale = in_scale,
	    .in_zp = in_zp,
	    .out_scale = sl_ref_scale(out),
	    .out_zp = sl_ref_zp(out),
	};
	sl_ref_step_set(step, st, run_concat);
	return 0;
}
