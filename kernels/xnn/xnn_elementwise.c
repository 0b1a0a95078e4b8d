/* Element-wise nodes on XNNPACK: ADD/MUL (nd, numpy broadcasting), RELU/RELU6
 * as clamps, HARD_SWISH, LOGISTIC, SOFTMAX and QUANTIZE/DEQUANTIZE. */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "common/macros.h"
#include "kernels/xnn/xnn_internal.h"

static void shape_of(const sl_tensor *t, size_t *dims, size_t *rank)
{
	/* XNNPACK has no rank-0 tensors; a scalar is a 1-element vector. */
	if (t->rank == 0) {
		dims[0] = 1;
		*rank = 1;
		return;
	}
	for (int i = 0; i < t->rank; i++)
		dims[i] = (size_t)t->dims[i];
	*rank = (size_t)t->rank;
}

int sl_xnn_prepare_binary(sl_xnn_job *j)
{
	const sl_node *n = j->n;
	const bool add = n->op == SL_OP_ADD;
	const sl_tensor *a = sl_xnn_in(j, 0), *b = sl_xnn_in(j, 1), *out = sl_xnn_out(j, 0);
	if (!a || !b || !out)
		return sl_xnn_decline(j, "xnnpack: binary op operands");
	if (a->rank > XNN_MAX_TENSOR_DIMS || b->rank > XNN_MAX_TENSOR_DIMS)
		return sl_xnn_decline(j, "xnnpack: rank above %d", XNN_MAX_TENSOR_DIMS);
	const sl_xnn_kind k = sl_xnn_kind_of(out);
	if (k == SL_XNN_OTHER || sl_xnn_kind_of(a) != k || sl_xnn_kind_of(b) != k)
		return sl_xnn_decline(j, "xnnpack: %s on %s", sl_op_name(n->op), sl_dtype_name(out->dtype));
	xnn_operator_t op = NULL;
	enum xnn_status s;
	if (k == SL_XNN_F32) {
		float lo, hi;
		sl_xnn_act_range_f32(n->act, &lo, &hi);
		s = add ? xnn_create_add_nd_f32(lo, hi, 0, &op) : xnn_create_multiply_nd_f32(lo, hi, 0, &op);
	} else {
		int32_t lo, hi;
		if (!sl_xnn_act_range_q(n->act, out, &lo, &hi))
			return sl_xnn_decline(j, "xnnpack: empty activation range");
		const int32_t za = a->q.zero_point[0], zb = b->q.zero_point[0], zo = out->q.zero_point[0];
		const float sa = a->q.scale[0], sb = b->q.scale[0], so = out->q.scale[0];
		if (k == SL_XNN_QU8) {
			if (za < 0 || za > 255 || zb < 0 || zb > 255 || zo < 0 || zo > 255)
				return sl_xnn_decline(j, "xnnpack: zero point out of range");
			s = add ? xnn_create_add_nd_qu8((uint8_t)za, sa, (uint8_t)zb, sb, (uint8_t)zo, so,
							(uint8_t)lo, (uint8_t)hi, 0, &op)
				: xnn_create_multiply_nd_qu8((uint8_t)za, sa, (uint8_t)zb, sb, (uint8_t)zo,
							     so, (uint8_t)lo, (uint8_t)hi, 0, &op);
		} else {
			if (za < -128 || za > 127 || zb < -128 || zb > 127 || zo < -128 || zo > 127)
				return sl_xnn_decline(j, "xnnpack: zero point out of range");
			s = add ? xnn_create_add_nd_qs8((int8_t)za, sa, (int8_t)zb, sb, (int8_t)zo, so,
							(int8_t)lo, (int8_t)hi, 0, &op)
				: xnn_create_multiply_nd_qs8((int8_t)za, sa, (int8_t)zb, sb, (int8_t)zo, so,
							     (int8_t)lo, (int8_t)hi, 0, &op);
		}
	}
	char what[32];
	snprintf(what, sizeof(what), "%s %s", sl_xnn_kind_name(k), add ? "add" : "multiply");
	int r = sl_xnn_check(j, s, what);
	if (r < 0)
		return r;
	if ((r = sl_xnn_push_op(j, op)) < 0)
		return r;
	size_t da[XNN_MAX_TENSOR_DIMS], db[XNN_MAX_TENSOR_DIMS], ra, rb;
	shape_of(a, da, &ra);
	shape_of(b, db, &rb);
	void *x = sl_xnn_in_ptr(j, 0), *y = sl_xnn_in_ptr(j, 1), *z = sl_xnn_out_ptr(j, 0);
	if (!x || !y || !z)
		return -ENOMEM;
	pthreadpool_t pool = j->st->pool;
	switch (k) {
	case SL_XNN_F32:
		s = add ? xnn_setup_add_nd_f32(op, ra, da, rb, db, x, y, z, pool)
			: xnn_setup_multiply_nd_f32(op, ra, da, rb, db, x, y, z, pool);
		break;
	case SL_XNN_QU8:
		s = add ? xnn_setup_add_nd_qu8(op, ra, da, rb, db, x, y, z, pool)
			: xnn_setup_multiply_nd_qu8(op, ra, da, rb, db, x, y, z, pool);
		break;
	default:
		s = add ? xnn_setup_add_nd_qs8(op, ra, da, rb, db, x, y, z, pool)
			: xnn_setup_multiply_nd_qs8(op, ra, da, rb, db, x, y, z, pool);
		break;
	}
	return sl_xnn_check(j, s, what);
}

/* Unary ops work on the flattened tensor: one row of numel channels. */
/* opp, not the operator: the create call is another argument of the same
 * call, and argument evaluation order is unspecified. */
static int unary_setup(sl_xnn_job *j, xnn_operator_t *opp, enum xnn_status s, const char *what,
		       enum xnn_status (*setup)(xnn_operator_t, size_t, const void *, void *, pthreadpool_t))
{
	int r = sl_xnn_check(j, s, what);
	xnn_operator_t op = *opp;
	if (r < 0)
		return r;
	if ((r = sl_xnn_push_op(j, op)) < 0)
		return r;
	void *x = sl_xnn_in_ptr(j, 0), *y = sl_xnn_out_ptr(j, 0);
	if (!x || !y)
		return -ENOMEM;
	return sl_xnn_check(j, setup(op, 1, x, y, j->st->pool), what);
}

/* XNNPACK's setup functions differ only in the element pointer types; these
 * adapters give them one signature for unary_setup. */
#define SL_XNN_SETUP_ADAPTER(name, tin, tout)                                                                \
	static enum xnn_status setup_##name(xnn_operator_t op, size_t batch, const void *x, void *y,         \
					    pthreadpool_t pool)                                              \
	{                                                                                                    \
		return xnn_setup_##name(op, batch, (const tin *)x, (tout *)y, pool);                         \
	}
SL_XNN_SETUP_ADAPTER(clamp_nc_f32, float, float)
SL_XNN_SETUP_ADAPTER(clamp_nc_u8, uint8_t, uint8_t)
SL_XNN_SETUP_ADAPTER(clamp_nc_s8, int8_t, int8_t)
SL_XNN_SETUP_ADAPTER(hardswish_nc_f32, float, float)
SL_XNN_SETUP_ADAPTER(sigmoid_nc_f32, float, float)
SL_XNN_SETUP_ADAPTER(sigmoid_nc_qu8, uint8_t, uint8_t)
SL_XNN_SETUP_ADAPTER(sigmoid_nc_qs8, int8_t, int8_t)
SL_XNN_SETUP_ADAPTER(softmax_nc_f32, float, float)
SL_XNN_SETUP_ADAPTER(softmax_nc_qu8, uint8_t, uint8_t)
SL_XNN_SETUP_ADAPTER(convert_nc_f32_qs8, float, int8_t)
SL_XNN_SETUP_ADAPTER(convert_nc_f32_qu8, float, uint8_t)
SL_XNN_SETUP_ADAPTER(convert_nc_qs8_f32, int8_t, float)
SL_XNN_SETUP_ADAPTER(convert_nc_qu8_f32, uint8_t, float)
SL_XNN_SETUP_ADAPTER(convert_nc_f16_f32, void, float)
#undef SL_XNN_SETUP_ADAPTER

static int io_numel(sl_xnn_job *j, const sl_tensor **in, const sl_tensor **out, size_t *numel)
{
	*in = sl_xnn_in(j, 0);
	*out = sl_xnn_out(j, 0);
	if (!*in || !*out)
		return sl_xnn_decline(j, "xnnpack: %s operands", sl_op_name(j->n->op));
	const int64_t ni = sl_tensor_numel(*in);
	if (ni <= 0 || ni != sl_tensor_numel(*out))
		return sl_xnn_decline(j, "xnnpack: %s shape", sl_op_name(j->n->op));
	*numel = (size_t)ni;
	return 0;
}

int sl_xnn_prepare_unary(sl_xnn_job *j)
{
	const sl_tensor *in, *out;
	size_t c;
	int r = io_numel(j, &in, &out, &c);
	if (r < 0)
		return r;
	const sl_xnn_kind k = sl_xnn_kind_of(in);
	if (k == SL_XNN_OTHER || sl_xnn_kind_of(out) != k)
		return sl_xnn_decline(j, "xnnpack: %s %s -> %s", sl_op_name(j->n->op),
				      sl_dtype_name(in->dtype), sl_dtype_name(out->dtype));
	xnn_operator_t op = NULL;
	switch (j->n->op) {
	case SL_OP_RELU:
	case SL_OP_RELU6: {
		const sl_act act = j->n->op == SL_OP_RELU ? SL_ACT_RELU : SL_ACT_RELU6;
		if (k == SL_XNN_F32) {
			float lo, hi;
			sl_xnn_act_range_f32(act, &lo, &hi);
			return unary_setup(j, &op, xnn_create_clamp_nc_f32(c, c, c, lo, hi, 0, &op),
					   "f32 clamp", setup_clamp_nc_f32);
		}
		/* A clamp can't requantize: TFLite's quantized RELU maps input
		 * to output parameters, so only matching ones are a clamp. */
		if (!sl_xnn_same_quant(in, out))
			return sl_xnn_decline(j, "xnnpack: requantizing %s", sl_op_name(j->n->op));
		int32_t lo, hi;
		if (!sl_xnn_act_range_q(act, out, &lo, &hi))
			return sl_xnn_decline(j, "xnnpack: empty activation range");
		if (k == SL_XNN_QU8)
			return unary_setup(j, &op,
					   xnn_create_clamp_nc_u8(c, c, c, (uint8_t)lo, (uint8_t)hi, 0, &op),
					   "u8 clamp", setup_clamp_nc_u8);
		return unary_setup(j, &op, xnn_create_clamp_nc_s8(c, c, c, (int8_t)lo, (int8_t)hi, 0, &op),
				   "s8 clamp", setup_clamp_nc_s8);
	}
	case SL_OP_HARD_SWISH:
		if (k != SL_XNN_F32)
			return sl_xnn_decline(j, "xnnpack: %s hardswish missing", sl_xnn_kind_name(k));
		return unary_setup(j, &op, xnn_create_hardswish_nc_f32(c, c, c, 0, &op), "f32 hardswish",
				   setup_hardswish_nc_f32);
	case SL_OP_LOGISTIC:
		if (k == SL_XNN_F32)
			return unary_setup(j, &op, xnn_create_sigmoid_nc_f32(c, c, c, 0, &op), "f32 sigmoid",
					   setup_sigmoid_nc_f32);
		if (k == SL_XNN_QU8) {
			const int32_t zi = in->q.zero_point[0], zo = out->q.zero_point[0];
			if (zi < 0 || zi > 255 || zo < 0 || zo > 255)
				return sl_xnn_decline(j, "xnnpack: zero point out of range");
			return unary_setup(j, &op,
					   xnn_create_sigmoid_nc_qu8(c, c, c, (uint8_t)zi, in->q.scale[0],
								     (uint8_t)zo, out->q.scale[0], 0, 255, 0,
								     &op),
					   "qu8 sigmoid", setup_sigmoid_nc_qu8);
		} else {
			const int32_t zi = in->q.zero_point[0], zo = out->q.zero_point[0];
			if (zi < -128 || zi > 127 || zo < -128 || zo > 127)
				return sl_xnn_decline(j, "xnnpack: zero point out of range");
			return unary_setup(j, &op,
					   xnn_create_sigmoid_nc_qs8(c, c, c, (int8_t)zi, in->q.scale[0],
								     (int8_t)zo, out->q.scale[0], -128, 127,
								     0, &op),
					   "qs8 sigmoid", setup_sigmoid_nc_qs8);
		}
	default:
		return sl_xnn_decline(j, "xnnpack: %s not mapped", sl_op_name(j->n->op));
	}
}

int sl_xnn_prepare_softmax(sl_xnn_job *j)
{
	const sl_tensor *in, *out;
	size_t numel;
	int r = io_numel(j, &in, &out, &numel);
	if (r < 0)
		return r;
	if (in->rank < 1 || in->dims[in->rank - 1] <= 0)
		return sl_xnn_decline(j, "xnnpack: softmax shape");
	const size_t c = (size_t)in->dims[in->rank - 1], batch = numel / c;
	const float beta = j->n->p.softmax.beta;
	const sl_xnn_kind k = sl_xnn_kind_of(in);
	if (k == SL_XNN_OTHER || sl_xnn_kind_of(out) != k)
		return sl_xnn_decline(j, "xnnpack: softmax %s -> %s", sl_dtype_name(in->dtype),
				      sl_dtype_name(out->dtype));
	xnn_operator_t op = NULL;
	enum xnn_status s;
	if (k == SL_XNN_F32) {
		/* No beta argument, and scaling the input would cost a pass. */
		if (beta != 1.0f)
			return sl_xnn_decline(j, "xnnpack: f32 softmax with beta %g", beta);
		s = xnn_create_softmax_nc_f32(c, c, c, 0, &op);
	} else if (k == SL_XNN_QU8) {
		/* exp(beta * scale * (x - max)): beta folds into the input scale.
		 * XNNPACK itself insists on TFLite's 1/256, 0 output. */
		if (out->q.zero_point[0] < 0 || out->q.zero_point[0] > 255)
			return sl_xnn_decline(j, "xnnpack: zero point out of range");
		s = xnn_create_softmax_nc_qu8(c, c, c, in->q.scale[0] * beta, (uint8_t)out->q.zero_point[0],
					      out->q.scale[0], 0, &op);
	} else {
		return sl_xnn_decline(j, "xnnpack: qs8 softmax missing");
	}
	const char *what = k == SL_XNN_F32 ? "f32 softmax" : "qu8 softmax";
	if ((r = sl_xnn_check(j, s, what)) < 0)
		return r;
	if ((r = sl_xnn_push_op(j, op)) < 0)
		return r;
	void *x = sl_xnn_in_ptr(j, 0), *y = sl_xnn_out_ptr(j, 0);
	if (!x || !y)
		return -ENOMEM;
	s = k == SL_XNN_F32 ? setup_softmax_nc_f32(op, batch, x, y, j->st->pool)
			    : setup_softmax_nc_qu8(op, batch, x, y, j->st->pool);
	return sl_xnn_check(j, s, what);
}

int sl_xnn_prepare_convert(sl_xnn_job *j)
{
	const sl_tensor *in, *out;
	size_t c;
	int r = io_numel(j, &in, &out, &c);
	if (r < 0)
		return r;
	const sl_xnn_kind ki = sl_xnn_kind_of(in), ko = sl_xnn_kind_of(out);
	xnn_operator_t op = NULL;
	if (j->n->op == SL_OP_QUANTIZE) {
		if (ki != SL_XNN_F32 || (ko != SL_XNN_QS8 && ko != SL_XNN_QU8))
			return sl_xnn_decline(j, "xnnpack: quantize %s -> %s", sl_dtype_name(in->dtype),
					      sl_dtype_name(out->dtype));
		const int32_t zo = out->q.zero_point[0];
		if (ko == SL_XNN_QU8) {
			if (zo < 0 || zo > 255)
				return sl_xnn_decline(j, "xnnpack: zero point out of range");
			return unary_setup(j, &op,
					   xnn_create_convert_nc_f32_qu8(c, c, c, out->q.scale[0],
									 (uint8_t)zo, 0, 255, 0, &op),
					   "f32->qu8 convert", setup_convert_nc_f32_qu8);
		}
		if (zo < -128 || zo > 127)
			return sl_xnn_decline(j, "xnnpack: zero point out of range");
		return unary_setup(
		    j, &op,
		    xnn_create_convert_nc_f32_qs8(c, c, c, out->q.scale[0], (int8_t)zo, -128, 127, 0, &op),
		    "f32->qs8 convert", setup_convert_nc_f32_qs8);
	}
	/* DEQUANTIZE */
	if (ko != SL_XNN_F32)
		return sl_xnn_decline(j, "xnnpack: dequantize to %s", sl_dtype_name(out->dtype));
	if (in->dtype == SL_DTYPE_F16)
		return unary_setup(j, &op, xnn_create_convert_nc_f16_f32(c, c, c, 0, &op), "f16->f32 convert",
				   setup_convert_nc_f16_f32);
	const int32_t zi = ki == SL_XNN_OTHER ? 0 : in->q.zero_point[0];
	if (ki == SL_XNN_QU8 && zi >= 0 && zi <= 255)
		return unary_setup(
		    j, &op, xnn_create_convert_nc_qu8_f32(c, c, c, in->q.scale[0], (uint8_t)zi, 0, &op),
		    "qu8->f32 convert", setup_convert_nc_qu8_f32);
	if (ki == SL_XNN_QS8 && zi >= -128 && zi <= 127)
		return unary_setup(j, &op,
				   xnn_create_convert_nc_qs8_f32(c, c, c, in->q.scale[0], (int8_t)zi, 0, &op),
				   "qs8->f32 convert", setup_convert_nc_qs8_f32);
	return sl_xnn_decline(j, "xnnpack: dequantize from %s%s", sl_dtype_name(in->dtype),
			      in->q.n > 1 ? " per-channel" : "");
}
