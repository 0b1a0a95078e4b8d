/* TFLite importer: reads a .tflite FlatBuffer (subgraph 0) into a finalized
 * sl_model.
 *
 * Supported: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, MUL,
 * AVERAGE_POOL_2D, MAX_POOL_2D, MEAN, RESHAPE, SOFTMAX, QUANTIZE, DEQUANTIZE,
 * PAD, CONCATENATION, HARD_SWISH, LOGISTIC, RELU, RELU6 over float32, uint8
 * (per-tensor asymmetric) and int8 (per-channel weights) tensors. A
 * DEQUANTIZE of a constant (fp16 weights, as in BlazeFace) is folded into an
 * fp32 constant owned by the model, so backends only see fp32 weights.
 * Anything else fails with an sl_error naming the file, the operator index,
 * its name and builtin code.
 *
 * The model keeps tensor names, m->path (the name given) and m->description
 * (the file's description string, sanitised to printable ASCII). */
#pragma once

#include <stddef.h>

#include "kernels/model.h"

/* mmaps the file; constant tensors point into the mapping (copied only when
 * misaligned for their type). */
int sl_tflite_load_file(const char *path, sl_model **ret, sl_error *err);

/* Copies buf; name is used in error messages and as m->path (NULL: "<memory>"). */
int sl_tflite_load_mem(const void *buf, size_t len, const char *name, sl_model **ret, sl_error *err);

/* TFLite's BuiltinOperator name for a code ("UNKNOWN" past the known range). */
const char *sl_tflite_builtin_name(int code);
