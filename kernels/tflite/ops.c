/* TFLite operators and their builtin options tables -> sl_node. Field slots
 * follow TFLite's schema.fbs (a union takes two slots: type, then value). */
#include <stdio.h>

#include "kernels/tflite/import.h"

/* BuiltinOptions union member numbers. */
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
	OPT_DEQUANTIZE = 38,
	OPT_QUANTIZE = 89,
	OPT_HARD_SWISH = 91,
};

/* Operator table slots. */
enum { OP_OPTIONS_TYPE = 3, OP_OPTIONS = 4 };

static const char *const act_names[] = {"NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT"};

static int get_act(sl_fb *fb, const sl_fb_table *o, int slot, sl_act *ret, char *why, size_t why_len)
{
	int8_t a;
	int r = sl_fb_i8(fb, o, slot, 0, &a);
	if (r < 0)
		return r;
	if (a < 0 || a > 3) {
		snprintf(why, why_len, "fused activation %s is not supported",
			 a >= 0 && a < 6 ? act_names[a] : "(invalid)");
		return -SL_E_UNSUPPORTED;
	}
	*ret = (sl_act)a; /* NONE, RELU, RELU_N1_TO_1, RELU6 share numbering */
	return 0;
}

static int get_padding(sl_fb *fb, const sl_fb_table *o, int slot, sl_padding *ret, char *why, size_t why_len)
{
	int8_t p;
	int r = sl_fb_i8(fb, o, slot, 0, &p);
	if (r < 0)
		return r;
	if (p != 0 && p != 1) {
		snprintf(why, why_len, "invalid padding %d", p);
		return -SL_E_FORMAT;
	}
	*ret = p == 0 ? SL_PADDING_SAME : SL_PADDING_VALID;
	return 0;
}

#define TRY(x)                                                                                               \
	do {                                                                                                 \
		int r_ = (x);                                                                                \
		if (r_ < 0)                                                                                  \
			return r_;                                                                           \
	} while (0)

static int conv_opts(sl_fb *fb, const sl_fb_table *o, bool dw, sl_node *n, char *why, size_t why_len)
{
	sl_conv_params *p = &n->p.conv;
	/* Conv2DOptions: padding, stride_w, stride_h, act, dilation_w, dilation_h.
	 * DepthwiseConv2DOptions inserts depth_multiplier before act. */
	const int s = dw ? 1 : 0;
	TRY(get_padding(fb, o, 0, &p->padding, why, why_len));
	TRY(sl_fb_i32(fb, o, 1, 0, &p->stride_w));
	TRY(sl_fb_i32(fb, o, 2, 0, &p->stride_h));
	if (dw)
		TRY(sl_fb_i32(fb, o, 3, 0, &p->depth_multiplier));
	TRY(get_act(fb, o, 3 + s, &n->act, why, why_len));
	TRY(sl_fb_i32(fb, o, 4 + s, 1, &p->dilation_w));
	TRY(sl_fb_i32(fb, o, 5 + s, 1, &p->dilation_h));
	return 0;
}

static int pool_opts(sl_fb *fb, const sl_fb_table *o, sl_node *n, char *why, size_t why_len)
{
	sl_pool_params *p = &n->p.pool;
	TRY(get_padding(fb, o, 0, &p->padding, why, why_len));
	TRY(sl_fb_i32(fb, o, 1, 0, &p->stride_w));
	TRY(sl_fb_i32(fb, o, 2, 0, &p->stride_h));
	TRY(sl_fb_i32(fb, o, 3, 0, &p->filter_w));
	TRY(sl_fb_i32(fb, o, 4, 0, &p->filter_h));
	return get_act(fb, o, 5, &n->act, why, why_len);
}

static int fc_opts(sl_fb *fb, const sl_fb_table *o, sl_node *n, char *why, size_t why_len)
{
	int8_t fmt;
	uint8_t keep;
	TRY(get_act(fb, o, 0, &n->act, why, why_len));
	TRY(sl_fb_i8(fb, o, 1, 0, &fmt));
	if (fmt != 0) {
		snprintf(why, why_len, "shuffled weights format %d is not supported", fmt);
		return -SL_E_UNSUPPORTED;
	}
	TRY(sl_fb_u8(fb, o, 2, 0, &keep));
	n->p.fc.keep_dims = keep != 0;
	return 0;
}

int sl_tflite_parse_op(sl_fb *fb, const sl_fb_table *op, int code, sl_node *n, char *why, size_t why_len)
{
	int expect;
	why[0] = 0;
	n->act = SL_ACT_NONE;
	switch (code) {
	case SL_TFL_CONV_2D:
		n->op = SL_OP_CONV_2D, expect = OPT_CONV;
		break;
	case SL_TFL_DEPTHWISE_CONV_2D:
		n->op = SL_OP_DEPTHWISE_CONV_2D, expect = OPT_DEPTHWISE;
		break;
	case SL_TFL_FULLY_CONNECTED:
		n->op = SL_OP_FULLY_CONNECTED, expect = OPT_FC;
		break;
	case SL_TFL_ADD:
		n->op = SL_OP_ADD, expect = OPT_ADD;
		break;
	case SL_TFL_MUL:
		n->op = SL_OP_MUL, expect = OPT_MUL;
		break;
	case SL_TFL_AVERAGE_POOL_2D:
		n->op = SL_OP_AVERAGE_POOL_2D, expect = OPT_POOL;
		break;
	case SL_TFL_MAX_POOL_2D:
		n->op = SL_OP_MAX_POOL_2D, expect = OPT_POOL;
		break;
	case SL_TFL_MEAN:
		n->op = SL_OP_MEAN, expect = OPT_REDUCER;
		break;
	case SL_TFL_RESHAPE:
		n->op = SL_OP_RESHAPE, expect = OPT_RESHAPE;
		break;
	case SL_TFL_SOFTMAX:
		n->op = SL_OP_SOFTMAX, expect = OPT_SOFTMAX;
		break;
	case SL_TFL_QUANTIZE:
		n->op = SL_OP_QUANTIZE, expect = OPT_QUANTIZE;
		break;
	case SL_TFL_DEQUANTIZE:
		n->op = SL_OP_DEQUANTIZE, expect = OPT_DEQUANTIZE;
		break;
	case SL_TFL_PAD:
		n->op = SL_OP_PAD, expect = OPT_PAD;
		break;
	case SL_TFL_CONCATENATION:
		n->op = SL_OP_CONCATENATION, expect = OPT_CONCAT;
		break;
	case SL_TFL_HARD_SWISH:
		n->op = SL_OP_HARD_SWISH, expect = OPT_HARD_SWISH;
		break;
	case SL_TFL_LOGISTIC:
		n->op = SL_OP_LOGISTIC, expect = OPT_NONE;
		break;
	case SL_TFL_RELU:
		n->op = SL_OP_RELU, expect = OPT_NONE;
		break;
	case SL_TFL_RELU6:
		n->op = SL_OP_RELU6, expect = OPT_NONE;
		break;
	default:
		return -SL_E_UNSUPPORTED;
	}

	uint8_t type;
	sl_fb_table o;
	TRY(sl_fb_u8(fb, op, OP_OPTIONS_TYPE, OPT_NONE, &type));
	TRY(sl_fb_table_field(fb, op, OP_OPTIONS, &o));
	if (type != OPT_NONE && type != expect) {
		snprintf(why, why_len, "builtin options of type %d, expected %d", type, expect);
		return -SL_E_FORMAT;
	}
	if (type == OPT_NONE)
		o.present = false; /* options absent: schema defaults */

	switch (n->op) {
	case SL_OP_CONV_2D:
	case SL_OP_DEPTHWISE_CONV_2D:
		return conv_opts(fb, &o, n->op == SL_OP_DEPTHWISE_CONV_2D, n, why, why_len);
	case SL_OP_AVERAGE_POOL_2D:
	case SL_OP_MAX_POOL_2D:
		return pool_opts(fb, &o, n, why, why_len);
	case SL_OP_FULLY_CONNECTED:
		return fc_opts(fb, &o, n, why, why_len);
	case SL_OP_ADD:
	case SL_OP_MUL:
		return get_act(fb, &o, 0, &n->act, why, why_len);
	case SL_OP_MEAN: {
		uint8_t keep;
		TRY(sl_fb_u8(fb, &o, 0, 0, &keep));
		n->p.mean.keep_dims = keep != 0;
		return 0;
	}
	case SL_OP_SOFTMAX:
		return sl_fb_f32(fb, &o, 0, 0.0f, &n->p.softmax.beta);
	case SL_OP_CONCATENATION:
		TRY(sl_fb_i32(fb, &o, 0, 0, &n->p.concat.axis));
		return get_act(fb, &o, 1, &n->act, why, why_len);
	default:
		return 0; /* RESHAPE's new_shape is redundant with its output shape */
	}
}
