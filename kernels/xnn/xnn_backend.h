/* XNNPACK backend: one XNNPACK operator per node it can run, bound to the
 * runtime's arena at prepare time.
 *
 * Covered (operator API, NHWC): CONV_2D and DEPTHWISE_CONV_2D (f32, qu8, qs8,
 * qc8 = int8 with per-channel weights), FULLY_CONNECTED (qc8 as a 1x1 qc8
 * convolution, the snapshot has no qc8 fully connected), ADD and MUL (nd,
 * broadcasting), AVERAGE_POOL_2D (f32; qu8 unpadded; any dtype when the
 * window covers the input), MAX_POOL_2D, MEAN over H,W (f32; 8-bit only where
 * TFLite rounds to nearest), SOFTMAX (f32 with beta 1, qu8), HARD_SWISH (f32),
 * LOGISTIC, RELU/RELU6 (clamps), PAD, CONCATENATION (strided copies),
 * QUANTIZE (f32 -> 8-bit), DEQUANTIZE (8-bit or fp16 -> f32) and RESHAPE
 * when it does not alias its input. Everything else, and every parameter
 * combination the snapshot rejects or would compute differently from TFLite,
 * is declined with a reason in step->why.
 *
 * Quantized results are within one step of the reference op, not bit-exact:
 * XNNPACK requantizes with fp32 scales and one rounding, TFLite in fixed
 * point with two roundings.
 *
 * XNNPACK may read up to XNN_EXTRA_BYTES (16) past the end of any input, so
 * the arena needs that much slack after its last byte. Constant inputs read
 * at run time are copied into padded buffers owned by the step. */
#pragma once

#include "kernels/runtime.h"

/* Idempotent and thread-safe; negative errno when XNNPACK can't initialise
 * (e.g. an unsupported CPU). */
int sl_xnn_init(void);

/* sl_prepare_fn: -EOPNOTSUPP when XNNPACK has no matching operator. */
int sl_xnn_prepare(const sl_prepare_ctx *ctx, int node, sl_step *step, sl_error *err);
