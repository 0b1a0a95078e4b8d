/* AVERAGE_POOL_2D, MAX_POOL_2D and MEAN over H,W on XNNPACK.
 *
 * Average pooling is where XNNPACK and TFLite part ways: TFLite divides by
 * the number of non-padding pixels under the window. XNNPACK's f32 operator
 * does the same (pixel-wise divisors when there is padding), but its qu8
 * operator feeds padding in as zero-point pixels and divides by the full
 * window, so padded qu8 windows stay on the reference op. A window that
 * covers the whole unpadded input is a global average pool, which XNNPACK
 * has for every dtype (qs8 included, unlike windowed average pooling). */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "common/macros.h"
#include "kernels/xnn/xnn_internal.h"

static int global_avg(sl_xnn_job *j, const sl_tensor *in, const sl_tensor *out, sl_act act)
{
	const size_t N = (size_t)in->dims[0], HW = (size_t)in->dims[1] * (size_t)in->dims[2],
		     C = (size_t)in->dims[3];
	const sl_xnn_kind k = sl_xnn_kind_of(in);
	xnn_operator_t op = NULL;
	enum xnn_status s;
	if (k == SL_XNN_F32) {
		float lo, hi;
		sl_xnn_act_range_f32(act, &lo, &hi);
		s = xnn_create_global_average_pooling_nwc_f32(C, C, C, lo, hi, 0, &op);
	} else {
		int32_t lo, hi;
		if (!sl_xnn_act_range_q(act, out, &lo, &hi))
			return sl_xnn_decline(j, "xnnpack: empty activation range");
		const int32_t zi = in->q.zero_point[0], zo = out->q.zero_point[0];
		if (k == SL_XNN_QU8) {
			if (zi < 0 || zi > 255 || zo < 0 || zo > 255)
				return sl_xnn_decline(j, "xnnpack: zero point out of range");
			s = xnn_create_global_average_pooling_nwc_qu8(C, C, C, (uint8_t)zi, in->q.scale[0],
								      (uint8_t)zo, out->q.scale[0],
								      (uint8_t)lo, (uint8_t)hi, 0, &op);
		} else {
			if (zi < -128 || zi > 127 || zo < -128 || zo > 127)
				return sl_xnn_decline(j, "xnnpack: zero point out of range");
			s = xnn_create_global_average_pooling_nwc_qs8(C, C, C, (int8_t)zi, in->q.scale[0],
								      (int8_t)zo, out->q.scale[0], (int8_t)lo,
								      (int8_t)hi, 0, &op);
		}
	}
	char what[40];
	snprintf(what, sizeof(what), "%s global average pooling", sl_xnn_kind_name(k));
	int r = sl_xnn_check(j, s, what);
	if (r < 0)
		return r;
	if ((r = sl_xnn_push_op(j, op)) < 0)
		return r;
	void *x = sl_xnn_in_ptr(j, 0), *y = sl_xnn_out_ptr(j, 0);
	if (!x || !y)
		return -ENOMEM;
	pthreadpool_t pool = j->st->pool;
	if (k == SL_XNN_F32)
		s = xnn_setup_global_average_pooling_nwc_f32(op, N, HW, x, y, pool);
	else if (k == SL_XNN_QU8)
		s = xnn_setup_global_average_pooling_nwc_qu8(op, N, HW, x, y, pool);
	else
		s = xnn_setup_global_average_pooling_nwc_qs8(op, N, HW, x, y, pool);
	if ((r = sl_xnn_check(j, s, what)) < 0)
		return r;
	sl_xnn_set_why(j, "xnnpack %s", what);
	return 0;
}

int sl_xnn_prepare_pool(sl_xnn_job *j)
{
	const sl_node *n = j->n;
	const bool avg = n->op == SL_OP_AVERAGE_POOL_2D;
	const sl_pool_params *p = &n->p.pool;
	const sl_tensor *in = sl_xnn_in(j, 0), *out = sl_xnn_out(j, 0);
	if (!in || !out || in->rank != 4 || out->rank != 4)
		return sl_xnn_decline(j, "xnnpack: pool operands not 4-D");
	const sl_xnn_kind k = sl_xnn_kind_of(in);
	if (k == SL_XNN_OTHER || sl_xnn_kind_of(out) != k)
		return sl_xnn_decline(j, "xnnpack: pool %s -> %s", sl_dtype_name(in->dtype),
				      sl_dtype_name(out->dtype));
	/* TFLite's quantized pooling keeps the input's parameters. */
	if (k != SL_XNN_F32 && !sl_xnn_same_quant(in, out))
		return sl_xnn_decline(j, "xnnpack: requantizing pool");
	const int32_t N = in->dims[0], H = in->dims[1], W = in->dims[2], C = in->dims[3];
	if (N <= 0 || H <= 0 || W <= 0 || C <= 0 || out->dims[0] != N || out->dims[3] != C ||
	    p->filter_h <= 0 || p->filter_w <= 0 || p->stride_h <= 0 || p->stride_w <= 0 || p->pad_top < 0 ||
	    p->pad_left < 0 || p->pad_bottom < 0 || p->pad_right < 0)
		return sl_xnn_decline(j, "xnnpack: pool geometry");
	const bool padded = p->pad_top || p->pad_left || p->pad_bottom || p->pad_right;
	const int64_t ph = (int64_t)H + p->pad_top + p->pad_bottom,
		      pw = (int64_t)W + p->pad_left + p->pad_right;
	if (ph < p->filter_h || pw < p->filter_w || (ph - p->filter_h) / p->stride_h + 1 != out->dims[1] ||
	    (pw - p->filter_w) / p->stride_w + 1 != out->dims[2])
		return sl_xnn_decline(j, "xnnpack: pool output shape mismatch");
	if (avg && !padded && p->filter_h == H && p->filter_w == W)
		return global_avg(j, in, out, n->act);
	if (avg && k == SL_XNN_QS8)
		return sl_xnn_decline(j, "xnnpack: qs8 average pooling missing");
	if (avg && k == SL_XNN_QU8 && padded)
		return sl_xnn_decline(j, "xnnpack: qu8 average pooling counts padding");

	const uint32_t pt = (uint32_t)p->pad_top, pr = (uint32_t)p->pad_right, pb = (uint32_t)p->pad_bottom,
		       pl = (uint32_t)p->pad_left, fh = (uint32_t)p->filter_h, fw = (uint32_t)p->filter_w,
		       sh = (uint32_t)p->stride_h, sw = (uint32_t)p->stride_w;
	const size_t c = (size_t)C;
	xnn_operator_t op = NULL;
	enum xnn_status s;
	if (k == SL_XNN_F32) {
		float lo, hi;
		sl_xnn_act_range_f32(n->act, &lo, &hi);
		s = avg ? xnn_create_average_pooling2d_nhwc_f32(pt, pr, pb, pl, fh, fw, sh, sw, c, c, c, lo,
								hi, 0, &op)
			: xnn_create_max_pooling2d_nhwc_f32(pt, pr, pb, pl, fh, fw, sh, sw, 1, 1, c, c, c, lo,
							    hi, 0, &op);
	} else {
		int32_t lo, hi;
		if (!sl_xnn_act_range_q(n->act, out, &lo, &hi))
			return sl_xnn_decline(j, "xnnpack: empty activation range");
		const int32_t z = in->q.zero_point[0];
		if (k == SL_XNN_QU8 && (z < 0 || z > 255))
			return sl_xnn_decline(j, "xnnpack: zero point out of range");
		if (avg)
			s = xnn_create_average_pooling2d_nhwc_qu8(
			    pt, pr, pb, pl, fh, fw, sh, sw, c, c, c, (uint8_t)z, in->q.scale[0], (uint8_t)z,
			    out->q.scale[0], (uint8_t)lo, (uint8_t)hi, 0, &op);
		else if (k == SL_XNN_QU8)
			s = xnn_create_max_pooling2d_nhwc_u8(pt, pr, pb, pl, fh, fw, sh, sw, 1, 1, c, c, c,
							     (uint8_t)lo, (uint8_t)hi, 0, &op);
		else
			s = xnn_create_max_pooling2d_nhwc_s8(pt, pr, pb, pl, fh, fw, sh, sw, 1, 1, c, c, c,
							     (int8_t)lo, (int8_t)hi, 0, &op);
	}
	char what[40];
	snprintf(what, sizeof(what), "%s %s pooling", sl_xnn_kind_name(k), avg ? "average" : "max");
	int r = sl_xnn_check(j, s, what);
	if (r < 0)
		return r;
	if ((r = sl_xnn_push_op(j, op)) < 0)
		return r;
	void *x = sl_xnn_in_ptr(j, 0), *y = sl_xnn_out_ptr(j, 0);
	if (!x || !y)
		return -ENOMEM;
	const size_t bn = (size_t)N, bh = (size_t)H, bw = (size_t)W;
	pthreadpool_t pool = j->st->pool;
	if (k == SL_XNN_F32)
		s = avg ? xnn_setup_average_pooling2d_nhwc_f32(op, bn, bh, bw, x, y, pool)
			: xnn_setup_max_pooling2d_nhwc_f32(op, bn, bh, bw, x, y, pool);
	else if (avg)
		s = xnn_setup_average_pooling2d_nhwc_qu8(op, bn, bh, bw, x, y, pool);
	else if (k == SL_XNN_QU8)
		s = xnn_setup_max_pooling2d_nhwc_u8(op, bn, bh, bw, x, y, pool);
	else
		s = xnn_setup_max_pooling2d_nhwc_s8(op, bn, bh, bw, x, y, pool);
	if ((r = sl_xnn_check(j, s, what)) < 0)
		return r;
	sl_xnn_set_why(j, "xnnpack %s %ux%u/%u", what, fh, fw, sh);
	return 0;
}

int sl_xnn_prepare_mean(sl_xnn_job *j)
{
	const sl_tensor *in = sl_xnn_in(j, 0), *out = sl_xnn_out(j, 0);
	if (!in || !out || in->rank != 4)
		return sl_xnn_decline(j, "xnnpack: mean over a non-4-D tensor");
	bool axis[4] = {false, false, false, false};
	for (int i = 0; i < j->n->p.mean.n_axes; i++) {
		int a = j->n->p.mean.axes[i];
		if (a < 0)
			a += 4;
		if (a < 0 || a > 3)
			return sl_xnn_decline(j, "xnnpack: mean axis %d", j->n->p.mean.axes[i]);
		axis[a] = true;
	}
	if (axis[0] || !axis[1] || !axis[2] || axis[3])
		return sl_xnn_decline(j, "xnnpack: mean over axes other than H,W");
	const sl_xnn_kind k = sl_xnn_kind_of(in);
	if (k == SL_XNN_OTHER || sl_xnn_kind_of(out) != k)
		return sl_xnn_decline(j, "xnnpack: mean %s -> %s", sl_dtype_name(in->dtype),
				      sl_dtype_name(out->dtype));
	if (in->dims[0] <= 0 || in->dims[1] <= 0 || in->dims[2] <= 0 || in->dims[3] <= 0 ||
	    sl_tensor_numel(out) != (int64_t)in->dims[0] * in->dims[3])
		return sl_xnn_decline(j, "xnnpack: mean shape");
	if (k != SL_XNN_F32) {
		/* TFLite rounds the mean of 8-bit tensors three ways. Only its
		 * 4-D keep_dims path rounds to nearest as XNNPACK does; the
		 * others truncate (equal parameters) or add half a step before
		 * rounding (requantizing), a bias XNNPACK can't reproduce. MEAN
		 * is one cheap op per network, so those stay on the reference. */
		if (!j->n->p.mean.keep_dims)
			return sl_xnn_decline(j, "xnnpack: TFLite's 8-bit MEAN rounding (keep_dims=false)");
		/* uint8 truncates in_zp * in_scale / out_scale to an integer. */
		const double zterm = (double)in->q.zero_point[0] * in->q.scale[0] / out->q.scale[0];
		if (k == SL_XNN_QU8 && fabs(zterm - nearbyint(zterm)) > 1e-3)
			return sl_xnn_decline(j, "xnnpack: TFLite's uint8 MEAN zero-point truncation");
	}
	return global_avg(j, in, out, SL_ACT_NONE);
}
