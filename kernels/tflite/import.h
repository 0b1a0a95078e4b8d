/* Internal to kernels/tflite: the operator table shared by the importer. */
#pragma once

#include "kernels/model.h"
#include "kernels/tflite/flatbuf.h"

/* TFLite BuiltinOperator codes the importer maps. */
enum {
	SL_TFL_ADD = 0,
	SL_TFL_AVERAGE_POOL_2D = 1,
	SL_TFL_CONCATENATION = 2,
	SL_TFL_CONV_2D = 3,
	SL_TFL_DEPTHWISE_CONV_2D = 4,
	SL_TFL_DEQUANTIZE = 6,
	SL_TFL_FULLY_CONNECTED = 9,
	SL_TFL_LOGISTIC = 14,
	SL_TFL_MAX_POOL_2D = 17,
	SL_TFL_MUL = 18,
	SL_TFL_RELU = 19,
	SL_TFL_RELU6 = 21,
	SL_TFL_RESHAPE = 22,
	SL_TFL_SOFTMAX = 25,
	SL_TFL_CUSTOM = 32,
	SL_TFL_PAD = 34,
	SL_TFL_MEAN = 40,
	SL_TFL_QUANTIZE = 114,
	SL_TFL_HARD_SWISH = 117,
};

/* Fills op, act and p of *n from the builtin code and the Operator table's
 * builtin options. Returns -SL_E_UNSUPPORTED for an op not in the list (why
 * left empty) or an unsupported option, -SL_E_FORMAT for malformed options;
 * why gets a short reason. */
int sl_tflite_parse_op(sl_fb *fb, const sl_fb_table *op, int code, sl_node *n, char *why, size_t why_len);
