/* Data-movement nodes on XNNPACK: PAD (constant_pad_nd), CONCATENATION (one
 * strided copy per input into its slice of the output) and RESHAPE (copy). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/xnn/xnn_internal.h"

static bool movable(const sl_tensor *t)
{
	return t->dtype == SL_DTYPE_F32 || t->dtype == SL_DTYPE_I8 || t->dtype == SL_DTYPE_U8;
}

int sl_xnn_prepare_pad(sl_xnn_job *j)
{
	const sl_tensor *in = sl_xnn_in(j, 0), *out = sl_xnn_out(j, 0);
	if (!in || !out || in->dtype != out->dtype || !movable(in) || in->rank < 1 ||
	    in->rank > XNN_MAX_TENSOR_DIMS || out->rank != in->rank)
		return sl_xnn_decline(j, "xnnpack: pad operands");
	if (in->dtype != SL_DTYPE_F32 && !sl_xnn_same_quant(in, out))
		return sl_xnn_decline(j, "xnnpack: requantizing pad");
	size_t shape[XNN_MAX_TENSOR_DIMS], pre[XNN_MAX_TENSOR_DIMS], post[XNN_MAX_TENSOR_DIMS];
	for (int d = 0; d < in->rank; d++) {
		const int32_t a = j->n->p.pad.pads[d][0], b = j->n->p.pad.pads[d][1];
		if (a < 0 || b < 0 || in->dims[d] <= 0 || (int64_t)in->dims[d] + a + b != out->dims[d])
			return sl_xnn_decline(j, "xnnpack: pad shape");
		shape[d] = (size_t)in->dims[d];
		pre[d] = (size_t)a;
		post[d] = (size_t)b;
	}
	xnn_operator_t op = NULL;
	enum xnn_status s;
	if (in->dtype == SL_DTYPE_F32) {
		const float zero = 0.0f;
		uint32_t bits;
		memcpy(&bits, &zero, sizeof(bits));
		s = xnn_create_constant_pad_nd_x32(&bits, 0, &op);
	} else {
		/* Quantized zero, as TFLite pads with the output zero point. */
		const int32_t zp = out->q.zero_point[0];
		const uint8_t v = (uint8_t)zp;
		if (in->dtype == SL_DTYPE_U8 ? (zp < 0 || zp > 255) : (zp < -128 || zp > 127))
			return sl_xnn_decline(j, "xnnpack: zero point out of range");
		s = xnn_create_constant_pad_nd_x8(&v, 0, &op);
	}
	int r = sl_xnn_check(j, s, "constant pad");
	if (r < 0)
		return r;
	if ((r = sl_xnn_push_op(j, op)) < 0)
		return r;
	void *x = sl_xnn_in_ptr(j, 0), *y = sl_xnn_out_ptr(j, 0);
	if (!x || !y)
		return -ENOMEM;
	const size_t rank = (size_t)in->rank;
	s = in->dtype == SL_DTYPE_F32
		? xnn_setup_constant_pad_nd_x32(op, rank, shape, pre, post, x, y, j->st->pool)
		: xnn_setup_constant_pad_nd_x8(op, rank, shape, pre, post, x, y, j->st->pool);
	if ((r = sl_xnn_check(j, s, "constant pad")) < 0)
		return r;
	sl_xnn_set_why(j, "xnnpack %s constant pad", in->dtype == SL_DTYPE_F32 ? "x32" : "x8");
	return 0;
}

int sl_xnn_prepare_concat(sl_xnn_job *j)
{
	const sl_node *n = j->n;
	const sl_tensor *out = sl_xnn_out(j, 0);
	const int axis = n->p.concat.axis;
	if (!out || !movable(out) || axis < 0 || axis >= out->rank || n->n_inputs < 1)
		return sl_xnn_decline(j, "xnnpack: concatenation operands");
	if (n->act != SL_ACT_NONE)
		return sl_xnn_decline(j, "xnnpack: concatenation with fused %s", sl_act_name(n->act));
	if (n->n_inputs > SL_XNN_MAX_OPS)
		return sl_xnn_decline(j, "xnnpack: concatenation of %d inputs", n->n_inputs);
	const size_t es = sl_dtype_size(out->dtype);
	size_t outer = 1, out_inner = es;
	for (int d = 0; d < axis; d++)
		outer *= (size_t)out->dims[d];
	for (int d = axis; d < out->rank; d++)
		out_inner *= (size_t)out->dims[d];
	int64_t axis_sum = 0;
	for (int i = 0; i < n->n_inputs; i++) {
		const sl_tensor *t = sl_xnn_in(j, i);
		if (!t || t->dtype != out->dtype || t->rank != out->rank)
			return sl_xnn_decline(j, "xnnpack: concatenation input %d", i);
		if (out->dtype != SL_DTYPE_F32 && !sl_xnn_same_quant(t, out))
			return sl_xnn_decline(j, "xnnpack: requantizing concatenation");
		for (int d = 0; d < out->rank; d++)
			if (d != axis && t->dims[d] != out->dims[d])
				return sl_xnn_decline(j, "xnnpack: concatenation shape");
		axis_sum += t->dims[axis];
	}
	if (axis_sum != out->dims[axis] || outer == 0)
		return sl_xnn_decline(j, "xnnpack: concatenation shape");
	uint8_t *y = sl_xnn_out_ptr(j, 0);
	if (!y)
		return -ENOMEM;
	/* Each input's rows land at a growing byte offset of every output row. */
	size_t offset = 0;
	for (int i = 0; i < n->n_inputs; i++) {
		const sl_tensor *t = sl_xnn_in(j, i);
		size_t inner = es;
		for (int d = axis; d < t->rank; d++)
			inner *= (size_t)t->dims[d];
		if (inner == 0)
			continue;
		xnn_operator_t op = NULL;
		int r = sl_xnn_check(j, xnn_create_copy_nc_x8(inner, inner, out_inner, 0, &op), "x8 copy");
		if (r < 0)
			return r;
		if ((r = sl_xnn_push_op(j, op)) < 0)
			return r;
		void *x = sl_xnn_in_ptr(j, i);
		if (!x)
			return -ENOMEM;
		r = sl_xnn_check(j, xnn_setup_copy_nc_x8(op, outer, x, y + offset, j->st->pool), "x8 copy");
		if (r < 0)
			return r;
		offset += inner;
	}
	sl_xnn_set_why(j, "xnnpack concatenation (%d copies)", j->st->n_ops);
	return 0;
}

int sl_xnn_prepare_reshape(sl_xnn_job *j)
{
	const sl_tensor *in = sl_xnn_in(j, 0), *out = sl_xnn_out(j, 0);
	if (!in || !out || in->bytes != out->bytes || in->bytes == 0)
		return sl_xnn_decline(j, "xnnpack: reshape operands");
	if (in->kind == SL_TENSOR_ACTIVATION && out->kind == SL_TENSOR_ACTIVATION &&
	    in->arena_offset == out->arena_offset)
		return sl_xnn_decline(j, "xnnpack: reshape aliases its input");
	xnn_operator_t op = NULL;
	int r = sl_xnn_check(j, xnn_create_copy_nc_x8(in->bytes, in->bytes, in->bytes, 0, &op), "x8 copy");
	if (r < 0)
		return r;
	if ((r = sl_xnn_push_op(j, op)) < 0)
		return r;
	void *x = sl_xnn_in_ptr(j, 0), *y = sl_xnn_out_ptr(j, 0);
	if (!x || !y)
		return -ENOMEM;
	if ((r = sl_xnn_check(j, xnn_setup_copy_nc_x8(op, 1, x, y, j->st->pool), "x8 copy")) < 0)
		return r;
	sl_xnn_set_why(j, "xnnpack reshape copy");
	return 0;
}
