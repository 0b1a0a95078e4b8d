/* Pure scalar reference kernels with TFLite reference-kernel semantics.
 *
 * These take explicit argument structs and raw pointers and know nothing about
 * the model IR, so optimised kernels (sparse, NEON, AVX2) can be tested
 * bit-exact against them with hand-made buffers. None of them allocates.
 *
 * Quantized ("q8") kernels take int8 or uint8 data, chosen per buffer by an
 * sl_dtype (SL_DTYPE_I8 / SL_DTYPE_U8). Requantization is TFLite's gemmlowp
 * scheme from kernels/quant.h; the *_params() helpers compute the fixed-point
 * parameters exactly as TFLite's Prepare() does (including which intermediate
 * values are float and which double), so callers should use them rather than
 * recompute multipliers themselves. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/model.h"

/* ---- activation ranges ------------------------------------------------- */

/* TFLite's CalculateActivationRange: NONE is [-FLT_MAX, FLT_MAX], RELU is
 * [0, +inf]. */
void sl_ref_act_range_f32(sl_act act, float *ret_min, float *ret_max);
/* TFLite's CalculateActivationRangeQuantized for an int8/uint8 output. */
void sl_ref_act_range_q8(sl_act act, sl_dtype type, float out_scale, int32_t out_zp, int32_t *ret_min,
			 int32_t *ret_max);
/* Smallest and largest value of an int8/uint8 dtype. */
int32_t sl_ref_q8_min(sl_dtype type);
int32_t sl_ref_q8_max(sl_dtype type);

/* ---- convolution, depthwise convolution, fully connected ---------------- */

/* NHWC input/output. CONV_2D filters are OHWI with I = in_c / groups;
 * depthwise filters are 1HW(in_c * depth_multiplier). Positions outside the
 * input (padding) contribute nothing, as in TFLite. */
typedef struct {
	int batch;
	int in_h, in_w, in_c;
	int out_h, out_w, out_c;
	int filter_h, filter_w;
	int stride_h, stride_w;
	int dilation_h, dilation_w;
	int pad_top, pad_left;
	int groups;	      /* CONV_2D: in_c / filter input depth, 1 usually */
	int depth_multiplier; /* DEPTHWISE_CONV_2D: out_c / in_c */
} sl_ref_conv_geom;

/* Geometry of a CONV_2D / DEPTHWISE_CONV_2D node from its 4-D input, filter
 * and output tensors, groups and depth multiplier derived from the channel
 * counts. The caller checks the ranks and whether the shapes agree. */
sl_ref_conv_geom sl_ref_conv_geom_of(const sl_tensor *in, const sl_tensor *w, const sl_tensor *out,
				     const sl_conv_params *p, bool depthwise);

typedef struct {
	sl_ref_conv_geom g;
	const float *input;
	const float *filter;
	const float *bias; /* out_c entries, or NULL */
	float *output;
	float act_min, act_max;
} sl_ref_conv_f32_args;

/* acc = sum (in - in_zp) * (filter - filter_zp[c]) + bias[c] in int32, then
 * out = clamp(mul_by_quantized_multiplier(acc, mult[c], shift[c]) + out_zp).
 * With per_channel false, filter_zp/mult/shift hold one entry for all
 * channels (TF1 uint8 models); otherwise out_c entries (TF2 int8 models, whose
 * filter zero points are all 0). */
typedef struct {
	sl_ref_conv_geom g;
	sl_dtype in_type, filter_type, out_type; /* each SL_DTYPE_I8 or SL_DTYPE_U8 */
	const void *input;
	const void *filter;
	const int32_t *bias; /* out_c entries, or NULL */
	void *output;
	int32_t in_zp, out_zp;
	bool per_channel;
	const int32_t *filter_zp;
	const int32_t *mult;
	const int *shift;
	int32_t act_min, act_max;
} sl_ref_conv_q8_args;

/* mult/shift[i] for real multiplier in_scale * filter_scale[i] / out_scale,
 * computed in double as TFLite's PopulateConvolutionQuantizationParams. */
void sl_ref_conv_q8_multipliers(float in_scale, const float *filter_scale, int n, float out_scale,
				int32_t *mult, int *shift);
/* The multipliers exactly as TFLite derives them for a node with this input
 * dtype: use this one from node adapters (uint8 per-tensor differs). */
void sl_ref_conv_q8_multipliers_tflite(sl_dtype in_dtype, float in_scale, const float *filter_scale, int n,
				       float out_scale, int32_t *mult, int *shift);

void sl_ref_conv2d_f32(const sl_ref_conv_f32_args *a);
void sl_ref_conv2d_q8(const sl_ref_conv_q8_args *a);
void sl_ref_dwconv2d_f32(const sl_ref_conv_f32_args *a);
void sl_ref_dwconv2d_q8(const sl_ref_conv_q8_args *a);

/* FULLY_CONNECTED: input [batch, depth] (any shape flattened), weights
 * [out_c, depth], output [batch, out_c]. */
typedef struct {
	int batch, depth, out_c;
	const float *input, *weights, *bias; /* bias may be NULL */
	float *output;
	float act_min, act_max;
} sl_ref_fc_f32_args;

typedef struct {
	int batch, depth, out_c;
	sl_dtype in_type, filter_type, out_type;
	const void *input;
	const void *weights;
	const int32_t *bias;
	void *output;
	int32_t in_zp, out_zp;
	bool per_channel;
	const int32_t *filter_zp;
	const int32_t *mult;
	const int *shift;
	int32_t act_min, act_max;
} sl_ref_fc_q8_args;

void sl_ref_fc_f32(const sl_ref_fc_f32_args *a);
void sl_ref_fc_q8(const sl_ref_fc_q8_args *a);

/* ---- broadcasting binary ops (ADD, MUL) ---------------------------------- */

/* Numpy-style broadcast of two shapes, right-aligned. Strides are in elements,
 * 0 along broadcast dimensions. */
typedef struct {
	int rank;
	int32_t out_dims[SL_MAX_RANK];
	int64_t a_stride[SL_MAX_RANK], b_stride[SL_MAX_RANK];
} sl_ref_bcast;

/* 0, or -SL_E_SHAPE when the shapes do not broadcast. */
int sl_ref_bcast_init(sl_ref_bcast *bc, const int32_t *a_dims, int a_rank, const int32_t *b_dims, int b_rank);
int64_t sl_ref_bcast_numel(const sl_ref_bcast *bc);

typedef struct {
	sl_ref_bcast bc;
	const float *a, *b;
	float *out;
	float act_min, act_max;
} sl_ref_binary_f32_args;

void sl_ref_add_f32(const sl_ref_binary_f32_args *a);
void sl_ref_mul_f32(const sl_ref_binary_f32_args *a);

/* TFLite's quantized ADD: inputs shifted left by left_shift (20), scaled to a
 * common scale by a_mult/b_mult, summed, rescaled by out_mult. Inputs and
 * output share one dtype. */
typedef struct {
	sl_ref_bcast bc;
	sl_dtype type;
	const void *a, *b;
	void *out;
	int32_t a_zp, b_zp, out_zp;
	int left_shift;
	int32_t a_mult, b_mult, out_mult;
	int a_shift, b_shift, out_shift;
	int32_t act_min, act_max;
} sl_ref_add_q8_args;

/* Fills left_shift and the three multiplier/shift pairs. */
void sl_ref_add_q8_params(float a_scale, float b_scale, float out_scale, sl_ref_add_q8_args *a);
void sl_ref_add_q8(const sl_ref_add_q8_args *a);

/* out = out_zp + mul_by_quantized_multiplier((a - a_zp) * (b - b_zp), mult, shift) */
typedef struct {
	sl_ref_bcast bc;
	sl_dtype type;
	const void *a, *b;
	void *out;
	int32_t a_zp, b_zp, out_zp;
	int32_t mult;
	int shift;
	int32_t act_min, act_max;
} sl_ref_mul_q8_args;

void sl_ref_mul_q8_params(float a_scale, float b_scale, float out_scale, sl_ref_mul_q8_args *a);
void sl_ref_mul_q8(const sl_ref_mul_q8_args *a);

/* ---- pooling and MEAN ----------------------------------------------------- */

typedef struct {
	int batch, in_h, in_w, c;
	int out_h, out_w;
	int filter_h, filter_w;
	int stride_h, stride_w;
	int pad_top, pad_left;
} sl_ref_pool_geom;

typedef struct {
	sl_ref_pool_geom g;
	const float *input;
	float *output;
	float act_min, act_max;
} sl_ref_pool_f32_args;

/* Quantized pooling works on raw values: input and output must share scale
 * and zero point (TFLite only DCHECKs this). */
typedef struct {
	sl_ref_pool_geom g;
	sl_dtype type;
	const void *input;
	void *output;
	int32_t act_min, act_max;
} sl_ref_pool_q8_args;

/* The geometry of an AVERAGE/MAX_POOL_2D node (4-D NHWC input and output). */
sl_ref_pool_geom sl_ref_pool_geom_of(const sl_tensor *in, const sl_tensor *out, const sl_pool_params *p);

/* The window of output pixel (b, oy, ox) clipped to the input: taps fy in
 * [fy0, fy1) and fx in [fx0, fx1) read input row iy0 + fy, column ix0 + fx
 * (the origin may lie in the padding). */
typedef struct {
	int fy0, fy1, fx0, fx1;
	int b, iy0, ix0;
} sl_ref_pool_win;
sl_ref_pool_win sl_ref_pool_window(const sl_ref_pool_geom *g, int b, int oy, int ox);

/* A quantized average of count taps (count > 0): round half away from zero,
 * with C's truncating division (TFLite's int8 formula; for uint8 the sum is
 * never negative, so it is TFLite's uint8 one too). */
static inline int32_t sl_ref_pool_average(int32_t sum, int32_t count)
{
	return sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
}

/* Averages count only the in-bounds taps. Quantized averages round half away
 * from zero: (sum +- count / 2) / count with C's truncating division. */
void sl_ref_avgpool_f32(const sl_ref_pool_f32_args *a);
void sl_ref_avgpool_q8(const sl_ref_pool_q8_args *a);
void sl_ref_maxpool_f32(const sl_ref_pool_f32_args *a);
void sl_ref_maxpool_q8(const sl_ref_pool_q8_args *a);

/* MEAN over any set of axes; the output is the input with the reduced
 * dimensions removed (keep_dims only changes the shape, not the layout). */
typedef struct {
	int rank;
	int32_t in_dims[SL_MAX_RANK];
	unsigned axes_mask; /* bit d: reduce over dimension d */
} sl_ref_reduce_geom;

typedef struct {
	sl_ref_reduce_geom g;
	const float *input;
	float *output;
} sl_ref_mean_f32_args;

/* Quantized MEAN is TFLite's integer QuantizedMeanOrSum (the only reference
 * path since TFLite 2.1x; older releases had three paths with float or
 * truncating rounding): the int32 sum minus count * in_zp is requantized by
 * in_scale / (count * out_scale), folded into one fixed-point multiplier. */
typedef struct {
	sl_ref_reduce_geom g;
	sl_dtype type; /* input and output */
	const void *input;
	void *output;
	int32_t in_zp, out_zp;
	int32_t mult;
	int shift;
} sl_ref_mean_q8_args;

/* Fills mult and shift; needs g set. */
void sl_ref_mean_q8_params(float in_scale, float out_scale, sl_ref_mean_q8_args *a);
void sl_ref_mean_f32(const sl_ref_mean_f32_args *a);
void sl_ref_mean_q8(const sl_ref_mean_q8_args *a);

/* ---- activations ---------------------------------------------------------- */

/* out = clamp(x, lo, hi): RELU, RELU6 (and RELU_N1_TO_1) in fp32. */
void sl_ref_clamp_f32(const float *in, float *out, size_t n, float lo, float hi);

/* Quantized RELU/RELU6 with requantization (TFLite's ReluX). */
typedef struct {
	sl_dtype type; /* input and output */
	const void *input;
	void *output;
	size_t n;
	int32_t in_zp, out_zp;
	int32_t mult;
	int shift;
	int32_t act_min, act_max;
} sl_ref_relu_q8_args;

/* lo/hi are the real bounds (0, 6 or +INFINITY); needs type and out_zp set. */
void sl_ref_relu_q8_params(float in_scale, float out_scale, float lo, float hi, sl_ref_relu_q8_args *a);
void sl_ref_relu_q8(const sl_ref_relu_q8_args *a);

void sl_ref_hard_swish_f32(const float *in, float *out, size_t n);

/* TFLite's reference integer hard-swish (16-bit fixed point). */
typedef struct {
	sl_dtype type;
	const void *input;
	void *output;
	size_t n;
	int32_t in_zp, out_zp;
	int16_t out_mult16;
	int out_exp;
	int16_t reluish_mult16;
	int reluish_exp;
} sl_ref_hard_swish_q8_args;

/* 0, or -SL_E_UNSUPPORTED for scales TFLite rejects too (output multiplier
 * above 1). */
int sl_ref_hard_swish_q8_params(float in_scale, float out_scale, sl_ref_hard_swish_q8_args *a);
void sl_ref_hard_swish_q8(const sl_ref_hard_swish_q8_args *a);

void sl_ref_logistic_f32(const float *in, float *out, size_t n);

/* Quantized LOGISTIC is what TFLite's reference kernel does for 8-bit since
 * 2.x: a 256-entry table built in float (dequantize, 1 / (1 + exp(-x)),
 * round half away from zero, clamp), indexed by the raw input byte (int8 cast
 * to uint8). Older TFLite used a gemmlowp fixed-point logistic that can
 * differ by one step. */
typedef enum {
	SL_REF_LUT_LOGISTIC,
} sl_ref_lut_fn;
void sl_ref_lut8_build(sl_ref_lut_fn fn, sl_dtype type, float in_scale, int32_t in_zp, float out_scale,
		       int32_t out_zp, uint8_t lut[256]);
void sl_ref_lut8(const uint8_t lut[256], const void *in, void *out, size_t n);

/* SOFTMAX over the last dimension: outer rows of depth elements. */
void sl_ref_softmax_f32(const float *in, float *out, int outer, int depth, float beta);

/* TFLite's reference integer softmax (gemmlowp fixed point, Q5.26 input
 * differences, Q12.19 accumulation), bit-exact with TFLite's reference kernel
 * rather than a float round trip (which can be one step off). TFLite's
 * optimised kernel uses a float-built exp table instead and may differ from
 * this by a step. Output is raw: out = min + p * 256, i.e. scale 1/256 and zero
 * point 0 (uint8) or -128 (int8) as TFLite requires. */
typedef struct {
	sl_dtype in_type, out_type;
	const void *input;
	void *output;
	int outer, depth;
	int32_t in_mult;
	int in_left_shift;
	int32_t diff_min;
} sl_ref_softmax_q8_args;

void sl_ref_softmax_q8_params(float beta, float in_scale, sl_ref_softmax_q8_args *a);
void sl_ref_softmax_q8(const sl_ref_softmax_q8_args *a);
/* The kernel's steps, for faster kernels that must round the same way. exp
 * of the input difference diff <= 0 (the element less the row's maximum, raw
 * units) in Q0.31, or -1 where the kernel leaves the element out
 * (diff < diff_min); its term in the Q12.19 sum; the output of an element
 * with exp e, given the row sum. */
int32_t sl_ref_softmax_q8_exp(const sl_ref_softmax_q8_args *a, int32_t diff);
int32_t sl_ref_softmax_q8_term(int32_t e);
typedef struct {
	int32_t recip;
	int shift;
} sl_ref_softmax_q8_norm;
sl_ref_softmax_q8_norm sl_ref_softmax_q8_normalizer(int32_t sum);
int32_t sl_ref_softmax_q8_out(sl_ref_softmax_q8_norm nm, int32_t e, bool signed_out);

/* ---- conversions ------------------------------------------------------------ */

/* out = clamp(round(x / scale) + zp), round half away from zero. */
void sl_ref_quantize_f32(const float *in, void *out, size_t n, sl_dtype type, float scale, int32_t zp);

/* int8/uint8 -> int8/uint8 (TFLite's Requantize). */
typedef struct {
	sl_dtype in_type, out_type;
	const void *input;
	void *output;
	size_t n;
	int32_t in_zp, out_zp;
	int32_t mult;
	int shift;
} sl_ref_requantize_args;

void sl_ref_requantize_params(float in_scale, float out_scale, sl_ref_requantize_args *a);
void sl_ref_requantize(const sl_ref_requantize_args *a);
/* The output byte depends on the input byte alone: sl_ref_requantize of
 * every byte value, lut[in] = out. */
void sl_ref_requantize_table(sl_dtype in_type, float in_scale, int32_t in_zp, sl_dtype out_type,
			     float out_scale, int32_t out_zp, uint8_t lut[256]);

/* out = (x - zp) * scale. Per-channel: scale/zp indexed by the coordinate
 * along an axis, where the buffer is [outer, n_ch, inner]. Per-tensor is
 * outer = 1, n_ch = 1, inner = n. */
typedef struct {
	sl_dtype type; /* I8 or U8 */
	const void *input;
	float *output;
	int64_t outer, inner;
	int n_ch;
	const float *scale;
	const int32_t *zp;
} sl_ref_dequantize_args;

void sl_ref_dequantize_q8(const sl_ref_dequantize_args *a);
void sl_ref_dequantize_f16(const uint16_t *in, float *out, size_t n);
float sl_ref_f16_to_f32(uint16_t h);

/* ---- data movement ------------------------------------------------------------ */

/* Pads a tensor of elem_size-byte elements with copies of *pad_value. */
typedef struct {
	int rank;
	int32_t in_dims[SL_MAX_RANK];
	int32_t pads[SL_MAX_RANK][2]; /* before, after */
	size_t elem_size;
	const void *pad_value; /* elem_size bytes */
	const void *input;
	void *output;
} sl_ref_pad_args;

void sl_ref_pad(const sl_ref_pad_args *a);

/* Concatenates n inputs along one axis: the buffers are [outer, dim_i,
 * inner] and the output [outer, sum dim_i, inner]. */
typedef struct {
	int n;
	const void *const *inputs;
	const int32_t *axis_dims; /* n entries */
	int64_t outer, inner;
	size_t elem_size;
	void *output;
} sl_ref_concat_args;

void sl_ref_concat(const sl_ref_concat_args *a);

/* Quantized: an input whose scale or zero point differs from the output's is
 * rescaled as TFLite's ConcatenationWithScaling (via float). TFLite does this
 * for uint8 and rejects int8 inputs with differing parameters; here both
 * types rescale. */
typedef struct {
	sl_ref_concat_args c; /* elem_size ignored */
	sl_dtype type;
	const float *in_scale;
	const int32_t *in_zp;
	float out_scale;
	int32_t out_zp;
} sl_ref_concat_q8_args;

void sl_ref_concat_q8(const sl_ref_concat_q8_args *a);
