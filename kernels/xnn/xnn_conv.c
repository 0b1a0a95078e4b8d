/* CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED on XNNPACK.
 *
 * Layouts line up without repacking: TFLite's OHWI conv filter is XNNPACK's
 * [groups][group_out][kh][kw][group_in] with groups = C / I, and the 1HW(C*M)
 * depthwise filter is XNNPACK's HW(groups*group_out) layout selected by
 * XNN_FLAG_DEPTHWISE_CONVOLUTION with groups = C, group_in = 1, group_out = M
 * (output channel c*M + m in both). XNNPACK packs the weights at create time,
 * so nothing of the model's constants is kept. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/macros.h"
#include "kernels/xnn/xnn_internal.h"

/* The int8 operators want symmetric weights (zero point 0 on every channel). */
static bool weights_symmetric(const sl_tensor *w)
{
	for (int i = 0; i < w->q.n; i++)
		if (w->q.zero_point[i] != 0)
			return false;
	return true;
}

static bool zp_fits(const sl_tensor *t)
{
	const int32_t zp = t->q.zero_point[0];
	return t->dtype == SL_DTYPE_U8 ? (zp >= 0 && zp <= 255) : (zp >= -128 && zp <= 127);
}

/* Checks a quantized conv / FC operand set shared by both ops; on success
 * returns 0 and tells whether the weights are per-channel. */
static int check_quant_operands(sl_xnn_job *j, const sl_tensor *in, const sl_tensor *w, const sl_tensor *b,
				const sl_tensor *out, int oc, int w_axis, bool *per_channel)
{
	const sl_xnn_kind k = sl_xnn_kind_of(in);
	const sl_dtype wt = k == SL_XNN_QU8 ? SL_DTYPE_U8 : SL_DTYPE_I8;
	if (w->dtype != wt || w->q.n < 1)
		return sl_xnn_decline(j, "xnnpack: %s with %s weights", sl_xnn_kind_name(k),
				      sl_dtype_name(w->dtype));
	if (!zp_fits(in) || !zp_fits(out) || !zp_fits(w))
		return sl_xnn_decline(j, "xnnpack: zero point out of range");
	if (b && (b->dtype != SL_DTYPE_I32 || b->kind != SL_TENSOR_CONST))
		return sl_xnn_decline(j, "xnnpack: bias must be constant int32");
	*per_channel = w->q.n > 1;
	if (*per_channel) {
		if (k != SL_XNN_QS8)
			return sl_xnn_decline(j, "xnnpack: per-channel %s weights", sl_xnn_kind_name(k));
		if (w->q.n != oc || w->q.axis != w_axis)
			return sl_xnn_decline(j, "xnnpack: per-channel weights on axis %d", w->q.axis);
	}
	if (k == SL_XNN_QS8 && !weights_symmetric(w))
		return sl_xnn_decline(j, "xnnpack: int8 weights with nonzero zero point");
	return 0;
}

int sl_xnn_prepare_conv(sl_xnn_job *j)
{
	const sl_node *n = j->n;
	const bool dw = n->op == SL_OP_DEPTHWISE_CONV_2D;
	const sl_tensor *in = sl_xnn_in(j, 0), *w = sl_xnn_in(j, 1), *b = sl_xnn_in(j, 2);
	const sl_tensor *out = sl_xnn_out(j, 0);
	const sl_conv_params *p = &n->p.conv;
	if (!in || !w || !out || in->rank != 4 || w->rank != 4 || out->rank != 4)
		return sl_xnn_decline(j, "xnnpack: conv operands not 4-D");
	const int32_t N = in->dims[0], H = in->dims[1], W = in->dims[2], C = in->dims[3];
	const int32_t KH = w->dims[1], KW = w->dims[2];
	uint32_t groups, gin, gout, flags = 0;
	int32_t oc;
	if (dw) {
		oc = w->dims[3];
		if (w->dims[0] != 1 || C <= 0 || oc % C != 0)
			return sl_xnn_decline(j, "xnnpack: depthwise filter shape");
		groups = (uint32_t)C;
		gin = 1;
		gout = (uint32_t)(oc / C);
		flags = XNN_FLAG_DEPTHWISE_CONVOLUTION;
	} else {
		oc = w->dims[0];
		const int32_t I = w->dims[3];
		if (I <= 0 || C % I != 0 || oc % (C / I) != 0)
			return sl_xnn_decline(j, "xnnpack: conv filter shape");
		groups = (uint32_t)(C / I);
		gin = (uint32_t)I;
		gout = (uint32_t)(oc / (int32_t)groups);
	}
	if (N <= 0 || H <= 0 || W <= 0 || KH <= 0 || KW <= 0 || oc <= 0 || out->dims[0] != N ||
	    out->dims[3] != oc)
		return sl_xnn_decline(j, "xnnpack: conv shape");
	if (p->pad_top < 0 || p->pad_bottom < 0 || p->pad_left < 0 || p->pad_right < 0 || p->stride_h <= 0 ||
	    p->stride_w <= 0 || p->dilation_h <= 0 || p->dilation_w <= 0)
		return sl_xnn_decline(j, "xnnpack: conv geometry");
	/* XNNPACK derives the output size itself: it must be the planned one. */
	const int64_t ekh = (int64_t)(KH - 1) * p->dilation_h + 1,
		      ekw = (int64_t)(KW - 1) * p->dilation_w + 1;
	const int64_t ph = (int64_t)H + p->pad_top + p->pad_bottom,
		      pw = (int64_t)W + p->pad_left + p->pad_right;
	if (ph < ekh || pw < ekw || (ph - ekh) / p->stride_h + 1 != out->dims[1] ||
	    (pw - ekw) / p->stride_w + 1 != out->dims[2])
		return sl_xnn_decline(j, "xnnpack: conv output shape mismatch");
	if (b && sl_tensor_numel(b) != oc)
		return sl_xnn_decline(j, "xnnpack: conv bias size");

	const sl_xnn_kind k = sl_xnn_kind_of(in);
	if (k == SL_XNN_OTHER || sl_xnn_kind_of(out) != k)
		return sl_xnn_decline(j, "xnnpack: conv %s -> %s", sl_dtype_name(in->dtype),
				      sl_dtype_name(out->dtype));
	const uint32_t pt = (uint32_t)p->pad_top, pr = (uint32_t)p->pad_right, pb = (uint32_t)p->pad_bottom,
		       pl = (uint32_t)p->pad_left;
	const uint32_t sh = (uint32_t)p->stride_h, sw = (uint32_t)p->stride_w, dh = (uint32_t)p->dilation_h,
		       dwid = (uint32_t)p->dilation_w;
	const char *kind_name = sl_xnn_kind_name(k);
	xnn_operator_t op = NULL;
	enum xnn_status s;

	if (k == SL_XNN_F32) {
		const float *wd = sl_xnn_const_f32(j, n->inputs[1]);
		const float *bd = b ? sl_xnn_const_f32(j, n->inputs[2]) : NULL;
		if (!wd || (b && !bd))
			return sl_xnn_decline(j, "xnnpack: conv with non-constant weights");
		float lo, hi;
		sl_xnn_act_range_f32(n->act, &lo, &hi);
		s = xnn_create_convolution2d_nhwc_f32(pt, pr, pb, pl, (uint32_t)KH, (uint32_t)KW, sh, sw, dh,
						      dwid, groups, gin, gout, (size_t)C, (size_t)oc, wd, bd,
						      lo, hi, flags, &op);
	} else {
		if (w->kind != SL_TENSOR_CONST)
			return sl_xnn_decline(j, "xnnpack: conv with non-constant weights");
		bool per_channel;
		int r = check_quant_operands(j, in, w, b, out, oc, dw ? 3 : 0, &per_channel);
		if (r < 0)
			return r;
		int32_t lo, hi;
		if (!sl_xnn_act_range_q(n->act, out, &lo, &hi))
			return sl_xnn_decline(j, "xnnpack: empty activation range");
		const int32_t *bd = b ? b->data : NULL;
		if (k == SL_XNN_QU8) {
			s = xnn_create_convolution2d_nhwc_qu8(
			    pt, pr, pb, pl, (uint32_t)KH, (uint32_t)KW, sh, sw, dh, dwid, groups, gin, gout,
			    (size_t)C, (size_t)oc, (uint8_t)in->q.zero_point[0], in->q.scale[0],
			    (uint8_t)w->q.zero_point[0], w->q.scale[0], w->data, bd,
			    (uint8_t)out->q.zero_point[0], out->q.scale[0], (uint8_t)lo, (uint8_t)hi, flags,
			    &op);
		} else if (per_channel) {
			kind_name = "qc8";
			s = xnn_create_convolution2d_nhwc_qc8(
			    pt, pr, pb, pl, (uint32_t)KH, (uint32_t)KW, sh, sw, dh, dwid, groups, gin, gout,
			    (size_t)C, (size_t)oc, (int8_t)in->q.zero_point[0], in->q.scale[0], w->q.scale,
			    w->data, bd, (int8_t)out->q.zero_point[0], out->q.scale[0], (int8_t)lo,
			    (int8_t)hi, flags, &op);
		} else {
			s = xnn_create_convolution2d_nhwc_qs8(
			    pt, pr, pb, pl, (uint32_t)KH, (uint32_t)KW, sh, sw, dh, dwid, groups, gin, gout,
			    (size_t)C, (size_t)oc, (int8_t)in->q.zero_point[0], in->q.scale[0], w->q.scale[0],
			    w->data, bd, (int8_t)out->q.zero_point[0], out->q.scale[0], (int8_t)lo,
			    (int8_t)hi, flags, &op);
		}
	}
	char what[48];
	snprintf(what, sizeof(what), "%s %s", kind_name, dw ? "dwconv" : "conv");
	int r = sl_xnn_check(j, s, what);
	if (r < 0)
		return r;
	if ((r = sl_xnn_push_op(j, op)) < 0)
		return r;

	void *x = sl_xnn_in_ptr(j, 0), *y = sl_xnn_out_ptr(j, 0);
	if (!x || !y)
		return -ENOMEM;
	const size_t bn = (size_t)N, bh = (size_t)H, bw = (size_t)W;
	if (k == SL_XNN_F32)
		s = xnn_setup_convolution2d_nhwc_f32(op, bn, bh, bw, x, y, j->st->pool);
	else if (k == SL_XNN_QU8)
		s = xnn_setup_convolution2d_nhwc_qu8(op, bn, bh, bw, x, y, j->st->pool);
	else if (w->q.n > 1)
		s = xnn_setup_convolution2d_nhwc_qc8(op, bn, bh, bw, x, y, j->st->pool);
	else
		s = xnn_setup_convolution2d_nhwc_qs8(op, bn, bh, bw, x, y, j->st->pool);
	if ((r = sl_xnn_check(j, s, what)) < 0)
		return r;
	sl_xnn_set_why(j, "xnnpack %s %dx%d/%d%s", what, KH, KW, p->stride_h,
		       dw && gout > 1 ? " multiplier>1" : "");
	return 0;
}

int sl_xnn_prepare_fully_connected(sl_xnn_job *j)
{
	const sl_node *n = j->n;
	const sl_tensor *in = sl_xnn_in(j, 0), *w = sl_xnn_in(j, 1), *b = sl_xnn_in(j, 2);
	const sl_tensor *out = sl_xnn_out(j, 0);
	if (!in || !w || !out || w->rank != 2)
		return sl_xnn_decline(j, "xnnpack: fully connected operands");
	const int32_t O = w->dims[0], I = w->dims[1];
	const int64_t in_n = sl_tensor_numel(in), out_n = sl_tensor_numel(out);
	if (O <= 0 || I <= 0 || in_n <= 0 || in_n % I != 0 || out_n != in_n / I * O)
		return sl_xnn_decline(j, "xnnpack: fully connected shape");
	const size_t batch = (size_t)(in_n / I);
	if (b && sl_tensor_numel(b) != O)
		return sl_xnn_decline(j, "xnnpack: fully connected bias size");
	const sl_xnn_kind k = sl_xnn_kind_of(in);
	if (k == SL_XNN_OTHER || sl_xnn_kind_of(out) != k)
		return sl_xnn_decline(j, "xnnpack: fully connected %s -> %s", sl_dtype_name(in->dtype),
				      sl_dtype_name(out->dtype));
	xnn_operator_t op = NULL;
	enum xnn_status s;
	bool per_channel = false;
	const char *what = "f32 fully connected";
	if (k == SL_XNN_F32) {
		const float *wd = sl_xnn_const_f32(j, n->inputs[1]);
		const float *bd = b ? sl_xnn_const_f32(j, n->inputs[2]) : NULL;
		if (!wd || (b && !bd))
			return sl_xnn_decline(j, "xnnpack: fully connected with non-constant weights");
		float lo, hi;
		sl_xnn_act_range_f32(n->act, &lo, &hi);
		s = xnn_create_fully_connected_nc_f32((size_t)I, (size_t)O, (size_t)I, (size_t)O, wd, bd, lo,
						      hi, 0, &op);
	} else {
		if (w->kind != SL_TENSOR_CONST)
			return sl_xnn_decline(j, "xnnpack: fully connected with non-constant weights");
		int r = check_quant_operands(j, in, w, b, out, O, 0, &per_channel);
		if (r < 0)
			return r;
		int32_t lo, hi;
		if (!sl_xnn_act_range_q(n->act, out, &lo, &hi))
			return sl_xnn_decline(j, "xnnpack: empty activation range");
		const int32_t *bd = b ? b->data : NULL;
		if (k == SL_XNN_QU8) {
			what = "qu8 fully connected";
			s = xnn_create_fully_connected_nc_qu8(
			    (size_t)I, (size_t)O, (size_t)I, (size_t)O, (uint8_t)in->q.zero_point[0],
			    in->q.scale[0], (uint8_t)w->q.zero_point[0], w->q.scale[0], w->data, bd,
			    (uint8_t)out->q.zero_point[0], out->q.scale[0], (uint8_t)lo, (uint8_t)hi, 0, &op);
		} else if (per_channel) {
			/* The snapshot has no qc8 fully connected: a 1x1 qc8
			 * convolution over `batch` pixels is the same product. */
			what = "qc8 fully connected (1x1 conv)";
			s = xnn_create_convolution2d_nhwc_qc8(
			    0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, (size_t)I, (size_t)O, (size_t)I, (size_t)O,
			    (int8_t)in->q.zero_point[0], in->q.scale[0], w->q.scale, w->data, bd,
			    (int8_t)out->q.zero_point[0], out->q.scale[0], (int8_t)lo, (int8_t)hi, 0, &op);
		} else {
			what = "qs8 fully connected";
			s = xnn_create_fully_connected_nc_qs8(
			    (size_t)I, (size_t)O, (size_t)I, (size_t)O, (int8_t)in->q.zero_point[0],
			    in->q.scale[0], w->q.scale[0], w->data, bd, (int8_t)out->q.zero_point[0],
			    out->q.scale[0], (int8_t)lo, (int8_t)hi, 0, &op);
		}
	}
	int r = sl_xnn_check(j, s, what);
	if (r < 0)
		return r;
	if ((r = sl_xnn_push_op(j, op)) < 0)
		return r;
	void *x = sl_xnn_in_ptr(j, 0), *y = sl_xnn_out_ptr(j, 0);
	if (!x || !y)
		return -ENOMEM;
	if (k == SL_XNN_F32)
		s = xnn_setup_fully_connected_nc_f32(op, batch, x, y, j->st->pool);
	else if (k == SL_XNN_QU8)
		s = xnn_setup_fully_connected_nc_qu8(op, batch, x, y, j->st->pool);
	else if (per_channel)
		s = xnn_setup_convolution2d_nhwc_qc8(op, batch, 1, 1, x, y, j->st->pool);
	else
		s = xnn_setup_fully_connected_nc_qs8(op, batch, x, y, j->st->pool);
	if ((r = sl_xnn_check(j, s, what)) < 0)
		return r;
	sl_xnn_set_why(j, "xnnpack %s", what);
	return 0;
}
