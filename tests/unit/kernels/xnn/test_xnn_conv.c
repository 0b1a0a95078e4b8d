/* XNNPACK backend vs the reference ops: CONV_2D, DEPTHWISE_CONV_2D and
 * FULLY_CONNECTED in fp32, qu8 (TF1 uint8), qs8 (int8 per-tensor weights) and
 * qc8 (int8 per-channel weights), over strides, SAME/VALID padding, dilation,
 * batches, depth multipliers and fused activations. fp32 must agree to 1e-4
 * of the output magnitude; quantized outputs within one step (XNNPACK
 * requantizes in fp32, TFLite in fixed point: ties may round apart). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/kernels/xnn/xnn_testutil.h"

typedef enum { Q_F32, Q_QU8, Q_QS8, Q_QC8 } qmode;

static const char *const qmode_name[] = {"f32", "qu8", "qs8", "qc8"};

typedef struct {
	int n, h, w, c;
	int kh, kw, oc; /* depthwise: oc = c * multiplier */
	int stride, dilation;
	sl_padding pad;
	bool dw;
	sl_act act;
} conv_case;

static const conv_case conv_cases[] = {
    {1, 8, 8, 3, 3, 3, 8, 1, 1, SL_PADDING_SAME, false, SL_ACT_NONE},
    {1, 9, 9, 4, 3, 3, 16, 2, 1, SL_PADDING_SAME, false, SL_ACT_RELU6},
    {1, 7, 7, 5, 3, 3, 3, 2, 1, SL_PADDING_VALID, false, SL_ACT_NONE},
    {1, 5, 5, 16, 1, 1, 24, 1, 1, SL_PADDING_VALID, false, SL_ACT_RELU},
    {2, 6, 6, 8, 3, 3, 8, 1, 1, SL_PADDING_SAME, false, SL_ACT_RELU6},
    {1, 10, 10, 3, 5, 5, 4, 2, 1, SL_PADDING_SAME, false, SL_ACT_NONE},
    {1, 10, 11, 6, 3, 3, 5, 1, 2, SL_PADDING_SAME, false, SL_ACT_NONE},
    {1, 1, 1, 40, 1, 1, 7, 1, 1, SL_PADDING_VALID, false, SL_ACT_NONE},
    {1, 8, 8, 8, 3, 3, 8, 1, 1, SL_PADDING_SAME, true, SL_ACT_NONE},
    {1, 9, 9, 8, 3, 3, 8, 2, 1, SL_PADDING_SAME, true, SL_ACT_RELU6},
    {1, 8, 8, 4, 3, 3, 8, 1, 1, SL_PADDING_VALID, true, SL_ACT_NONE},
    {1, 7, 7, 3, 5, 5, 9, 2, 1, SL_PADDING_SAME, true, SL_ACT_NONE},
    {1, 12, 12, 16, 3, 3, 16, 2, 1, SL_PADDING_SAME, true, SL_ACT_RELU},
    {2, 6, 5, 5, 3, 3, 10, 1, 2, SL_PADDING_SAME, true, SL_ACT_NONE},
    {1, 4, 4, 1, 3, 3, 4, 1, 1, SL_PADDING_SAME, true, SL_ACT_NONE},
};

typedef struct {
	conv_case c;
	qmode q;
} conv_param;

/* Builds one conv node; returns the model's single input and output. */
static void build_conv(xt_graph *g, const conv_case *c, qmode q, bool bias, int32_t w_zp_override)
{
	const int32_t in_dims[4] = {c->n, c->h, c->w, c->c};
	const int32_t w_dims[4] = {c->dw ? 1 : c->oc, c->kh, c->kw, c->dw ? c->oc : c->c};
	const int32_t b_dims[1] = {c->oc};
	const int k = c->kh * c->kw * (c->dw ? 1 : c->c);
	const int w_axis = c->dw ? 3 : 0;
	float in_scale = 0.0f, out_scale = 0.0f, w_scale = 0.0f;
	int32_t in_zp = 0, out_zp = 0;
	sl_dtype dt = SL_DTYPE_F32, wdt = SL_DTYPE_F32;
	float scales[64];
	int32_t zps[64];
	int qn = 0;
	cr_assert_leq(c->oc, 64);
	double wlo = -1.0, whi = 1.0;
	switch (q) {
	case Q_F32:
		break;
	case Q_QU8:
		dt = wdt = SL_DTYPE_U8;
		in_scale = 0.02f, in_zp = 120, w_scale = 0.01f;
		scales[0] = w_scale, zps[0] = 131, qn = 1;
		wlo = 0, whi = 255;
		out_zp = 128;
		break;
	case Q_QS8:
		dt = wdt = SL_DTYPE_I8;
		in_scale = 0.02f, in_zp = -5, w_scale = 0.01f;
		scales[0] = w_scale, zps[0] = 0, qn = 1;
		wlo = -127, whi = 127;
		out_zp = 3;
		break;
	case Q_QC8:
		dt = wdt = SL_DTYPE_I8;
		in_scale = 0.03f, in_zp = 7, w_scale = 0.0f;
		qn = c->oc;
		for (int i = 0; i < qn; i++) {
			scales[i] = (float)xt_uniform(g, 0.002, 0.02);
			zps[i] = 0;
			w_scale += scales[i] / (float)qn;
		}
		wlo = -127, whi = 127;
		out_zp = -10;
		break;
	}
	if (w_zp_override != 0)
		zps[qn - 1] = w_zp_override;
	if (q != Q_F32)
		out_scale = xt_acc_out_scale(in_scale, w_scale, k);
	const int x = xt_act(g, dt, 4, in_dims, in_scale, in_zp);
	const int w = xt_const(g, wdt, 4, w_dims, wlo, whi, qn, scales, zps, w_axis);
	int b = -1;
	if (bias) {
		const double spread = q == Q_F32 ? 1.0 : sqrt((double)k) * 74.0 * 74.0;
		b = xt_const(g, q == Q_F32 ? SL_DTYPE_F32 : SL_DTYPE_I32, 1, b_dims, -spread, spread, 0, NULL,
			     NULL, 0);
	}
	const int y = xt_act(g, dt, 0, NULL, out_scale, out_zp);
	sl_node n = {.op = c->dw ? SL_OP_DEPTHWISE_CONV_2D : SL_OP_CONV_2D, .act = c->act};
	n.p.conv = (sl_conv_params){.stride_h = c->stride,
				    .stride_w = c->stride,
				    .dilation_h = c->dilation,
				    .dilation_w = c->dilation,
				    .padding = c->pad,
				    .depth_multiplier = c->dw ? c->oc / c->c : 0};
	const int32_t ins[3] = {x, w, b};
	xt_node(g, &n, 3, ins, y);
	const int32_t gin[1] = {x};
	xt_finish(g, 1, gin, y);
}

static void check_agrees(xt_graph *g, const char *label, qmode q)
{
	for (int threads = 1; threads <= 2; threads++) {
		xt_result r;
		xt_compare(g, threads, 2, &r);
		cr_assert_eq(r.impl, SL_IMPL_XNNPACK, "%s: not run by XNNPACK (%s)", label, r.why);
		if (q == Q_F32) {
			cr_expect_eq(r.n_diff, 0, "%s threads %d: %lld of %lld beyond 1e-4 (max %g)", label,
				     threads, (long long)r.n_diff, (long long)r.n, r.max_diff);
		} else {
			cr_expect_leq(r.max_diff, 1.0, "%s threads %d: off by %g steps", label, threads,
				      r.max_diff);
			if (threads == 1 && r.n_diff)
				cr_log_info("%s: %lld of %lld elements one step apart", label,
					    (long long)r.n_diff, (long long)r.n);
		}
	}
}

ParameterizedTestParameters(xnn_conv, agrees_with_reference)
{
	static conv_param params[sizeof(conv_cases) / sizeof(conv_cases[0]) * 4];
	const size_t nc = sizeof(conv_cases) / sizeof(conv_cases[0]);
	size_t n = 0;
	for (size_t i = 0; i < nc; i++)
		for (int q = Q_F32; q <= Q_QC8; q++)
			params[n++] = (conv_param){conv_cases[i], (qmode)q};
	return cr_make_param_array(conv_param, params, n);
}

ParameterizedTest(conv_param *p, xnn_conv, agrees_with_reference)
{
	const conv_case *c = &p->c;
	char label[160];
	snprintf(label, sizeof(label), "%s %s %dx%dx%dx%d k%dx%d oc%d s%d d%d %s act%d", qmode_name[p->q],
		 c->dw ? "dwconv" : "conv", c->n, c->h, c->w, c->c, c->kh, c->kw, c->oc, c->stride,
		 c->dilation, c->pad == SL_PADDING_SAME ? "SAME" : "VALID", (int)c->act);
	xt_graph g;
	xt_init(&g, 1000 + (uint64_t)p->q);
	build_conv(&g, c, p->q, true, 0);
	check_agrees(&g, label, p->q);
	xt_fini(&g);
}

Test(xnn_conv, no_bias)
{
	xt_graph g;
	xt_init(&g, 7);
	build_conv(&g, &conv_cases[1], Q_QS8, false, 0);
	check_agrees(&g, "qs8 conv without bias", Q_QS8);
	xt_fini(&g);
}

/* TF2 int8 weights are symmetric; XNNPACK's int8 kernels assume it, so an
 * asymmetric channel must leave the node to the reference. */
Test(xnn_conv, asymmetric_int8_weights_fall_back)
{
	xt_graph g;
	xt_init(&g, 8);
	build_conv(&g, &conv_cases[0], Q_QC8, true, 3);
	xt_result r;
	xt_compare(&g, 1, 1, &r);
	cr_assert_eq(r.impl, SL_IMPL_REF);
	cr_assert_eq(r.n_diff, 0);
	xt_fini(&g);
}

/* ---- FULLY_CONNECTED ---- */

typedef struct {
	int rank;
	int32_t in_dims[4];
	int out;
	sl_act act;
	qmode q;
} fc_param;

static void build_fc(xt_graph *g, const fc_param *p)
{
	const int32_t *d = p->in_dims;
	const int in = d[p->rank - 1];
	const int32_t w_dims[2] = {p->out, in}, b_dims[1] = {p->out};
	float scales[64];
	int32_t zps[64];
	int qn = 0;
	float in_scale = 0.0f, w_scale = 0.0f, out_scale = 0.0f;
	int32_t in_zp = 0, out_zp = 0;
	sl_dtype dt = SL_DTYPE_F32;
	double wlo = -1, whi = 1;
	cr_assert_leq(p->out, 64);
	switch (p->q) {
	case Q_F32:
		break;
	case Q_QU8:
		dt = SL_DTYPE_U8, in_scale = 0.05f, in_zp = 128, w_scale = 0.004f, out_zp = 100;
		scales[0] = w_scale, zps[0] = 127, qn = 1, wlo = 0, whi = 255;
		break;
	case Q_QS8:
		dt = SL_DTYPE_I8, in_scale = 0.05f, in_zp = -128, w_scale = 0.004f, out_zp = 0;
		scales[0] = w_scale, zps[0] = 0, qn = 1, wlo = -127, whi = 127;
		break;
	case Q_QC8:
		dt = SL_DTYPE_I8, in_scale = 0.05f, in_zp = 1, out_zp = -20, qn = p->out, wlo = -127,
		whi = 127;
		for (int i = 0; i < qn; i++) {
			scales[i] = (float)xt_uniform(g, 0.001, 0.01);
			zps[i] = 0;
			w_scale += scales[i] / (float)qn;
		}
		break;
	}
	if (p->q != Q_F32)
		out_scale = xt_acc_out_scale(in_scale, w_scale, in);
	const int x = xt_act(g, dt, p->rank, d, in_scale, in_zp);
	const int w = xt_const(g, dt, 2, w_dims, wlo, whi, qn, scales, zps, 0);
	const double spread = p->q == Q_F32 ? 1.0 : sqrt((double)in) * 74.0 * 74.0;
	const int b = xt_const(g, p->q == Q_F32 ? SL_DTYPE_F32 : SL_DTYPE_I32, 1, b_dims, -spread, spread, 0,
			       NULL, NULL, 0);
	const int y = xt_act(g, dt, 0, NULL, out_scale, out_zp);
	sl_node n = {.op = SL_OP_FULLY_CONNECTED, .act = p->act};
	const int32_t ins[3] = {x, w, b};
	xt_node(g, &n, 3, ins, y);
	const int32_t gin[1] = {x};
	xt_finish(g, 1, gin, y);
}

ParameterizedTestParameters(xnn_fc, agrees_with_reference)
{
	static const fc_param shapes[] = {
	    {2, {1, 64}, 10, SL_ACT_NONE, Q_F32},
	    {2, {3, 17}, 5, SL_ACT_RELU, Q_F32},
	    {4, {1, 1, 1, 128}, 33, SL_ACT_NONE, Q_F32},
	    {2, {4, 100}, 64, SL_ACT_RELU6, Q_F32},
	};
	static fc_param params[4 * 4];
	size_t n = 0;
	for (size_t i = 0; i < 4; i++)
		for (int q = Q_F32; q <= Q_QC8; q++) {
			params[n] = shapes[i];
			params[n++].q = (qmode)q;
		}
	return cr_make_param_array(fc_param, params, n);
}

ParameterizedTest(fc_param *p, xnn_fc, agrees_with_reference)
{
	char label[96];
	snprintf(label, sizeof(label), "%s fc rank %d in %d out %d act%d", qmode_name[p->q], p->rank,
		 p->in_dims[p->rank - 1], p->out, (int)p->act);
	xt_graph g;
	xt_init(&g, 2000 + (uint64_t)p->q);
	build_fc(&g, p);
	check_agrees(&g, label, p->q);
	xt_fini(&g);
}
