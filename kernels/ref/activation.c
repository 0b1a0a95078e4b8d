/* Element-wise activations: RELU/RELU6 (clamps), HARD_SWISH, LOGISTIC. */
#include <math.h>

#include "kernels/quant.h"
#include "kernels/ref/fixedpoint.h"
#include "kernels/ref/ref_internal.h"
#include "kernels/ref/ref_kernels.h"

void sl_ref_clamp_f32(const float *in, float *out, size_t n, float lo, float hi)
{
	for (size_t i = 0; i < n; i++)
		out[i] = sl_ref_clampf(in[i], lo, hi);
}

void sl_ref_relu_q8_params(float in_scale, float out_scale, float lo, float hi, sl_ref_relu_q8_args *a)
{
	/* float division first, as TFLite's ReluPrepare */
	const double real = in_scale / out_scale;
	sl_quantize_multiplier(real, &a->mult, &a->shift);
	const int32_t qmin = sl_ref_q8_min(a->type), qmax = sl_ref_q8_max(a->type);
	a->act_min = sl_ref_max_i32(qmin, a->out_zp + (int32_t)roundf(lo / out_scale));
	a->act_max = isinf(hi) ? qmax : sl_ref_min_i32(qmax, a->out_zp + (int32_t)roundf(hi / out_scale));
}

SL_REF_INLINE void relu_q8(const sl_ref_relu_q8_args *a, bool s)
{
	for (size_t i = 0; i < a->n; i++) {
		const int32_t v = a->out_zp + sl_mul_by_quantized_multiplier(
						  sl_ref_ld(a->input, i, s) - a->in_zp, a->mult, a->shift);
		sl_ref_st(a->output, i, s, sl_clamp_i32(v, a->act_min, a->act_max));
	}
}

void sl_ref_relu_q8(const sl_ref_relu_q8_args *a)
{
	if (sl_ref_signed(a->type))
		relu_q8(a, true);
	else
		relu_q8(a, false);
}

void sl_ref_hard_swish_f32(const float *in, float *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const float x = in[i];
		const float r = x + 3.0f;
		out[i] = x * (r < 0.0f ? 0.0f : r > 6.0f ? 6.0f : r) / 6.0f;
	}
}

/* TFLite's DownScaleInt32ToInt16Multiplier. */
static int16_t downscale_mult16(int32_t m)
{
	if (m >= INT32_MAX - (1 << 15))
		return INT16_MAX;
	return (int16_t)((m + (1 << 15)) >> 16);
}

int sl_ref_hard_swish_q8_params(float in_scale, float out_scale, sl_ref_hard_swish_q8_args *a)
{
	/* The scales are combined in float, as TFLite's HardSwishPrepare. */
	const float hires_in_scale = (1.0f / 128.0f) * in_scale;
	const float reluish_scale = 3.0f / 32768.0f;
	const float out_mult = hires_in_scale / out_scale;
	const float reluish_mult = hires_in_scale / reluish_scale;
	int32_t m32;

	sl_quantize_multiplier(out_mult, &m32, &a->out_exp);
	a->out_mult16 = downscale_mult16(m32);
	sl_quantize_multiplier(reluish_mult, &m32, &a->reluish_exp);
	a->reluish_mult16 = downscale_mult16(m32);
	return a->out_exp <= 0 ? 0 : -SL_E_UNSUPPORTED;
}

SL_REF_INLINE void hard_swish_q8(const sl_ref_hard_swish_q8_args *a, bool s)
{
	const int32_t lo = s ? INT8_MIN : 0, hi = s ? INT8_MAX : UINT8_MAX;

	for (size_t i = 0; i < a->n; i++) {
		const int16_t x = (int16_t)(sl_ref_ld(a->input, i, s) - a->in_zp);
		/* x on a 2^7 finer scale: |x| <= 255 so this fits int16 */
		const int16_t x_hires = (int16_t)(x * (1 << 7));
		const int16_t x_preshift_out = sl_fp_srdhm16(x_hires, a->out_mult16);
		/* Map [-3, 3] to [-1, 1] in Q0.15, saturating outside; the left
		 * shift is split so that only the last bit can saturate. */
		int16_t reluish = x_hires;
		if (a->reluish_exp > 0)
			reluish = sl_fp_sat_shl16(reluish, a->reluish_exp - 1);
		reluish = sl_fp_srdhm16(reluish, a->reluish_mult16);
		if (a->reluish_exp > 0)
			reluish = sl_fp_sat_shl16(reluish, 1);
		if (a->reluish_exp < 0)
			reluish = sl_fp_rdbpot16(reluish, -a->reluish_exp);
		/* [-1, 1] -> [0, 1] */
		reluish = (int16_t)((reluish + (1 << 15)) >> 1);
		const int16_t preshift = sl_fp_sdhm16(reluish, x_preshift_out);
		/* int16 like TFLite, including its wrap-around in the addition */
		const int16_t v = (int16_t)(sl_fp_rdbpot16(preshift, -a->out_exp) + a->out_zp);
		sl_ref_st(a->output, i, s, sl_clamp_i32(v, lo, hi));
	}
}

void sl_ref_hard_swish_q8(const sl_ref_hard_swish_q8_args *a)
{
	if (sl_ref_signed(a->type))
		hard_swish_q8(a, true);
	else
		hard_swish_q8(a, false);
}

void sl_ref_logistic_f32(const float *in, float *out, size_t n)
{
	/* TFLite's reference cut-offs: beyond them the result is 1 or exp(x) to
	 * float precision. */
	const float upper = 16.619047164916992188f, lower = -9.0f;
	for (size_t i = 0; i < n; i++) {
		const float x = in[i];
		if (x > upper)
			out[i] = 1.0f;
		else if (x < lower)
			out[i] = expf(x);
		else
			out[i] = 1.0f / (1.0f + expf(-x));
	}
}

static float lut_fn(sl_ref_lut_fn fn, float x)
{
	switch (fn) {
	case SL_REF_LUT_LOGISTIC:
	default:
		return 1.0f / (1.0f + expf(-x));
	}
}

void sl_ref_lut8_build(sl_ref_lut_fn fn, sl_dtype type, float in_scale, int32_t in_zp, float out_scale,
		       int32_t out_zp, uint8_t lut[256])
{
	/* TFLite's LUTPopulate: dequantize, apply in float, requantize. */
	const int32_t lo = sl_ref_q8_min(type), hi = sl_ref_q8_max(type);
	const float inv_scale = 1.0f / out_scale;
	for (int32_t q = lo; q <= hi; q++) {
		const float x = in_scale * (float)(q - in_zp);
		const float y = roundf(lut_fn(fn, x) * inv_scale);
		const float yq = y + (float)out_zp;
		/* clamp in float first: the int conversion of an out-of-range
		 * float is undefined in C */
		const int32_t v = yq >= (float)hi ? hi : yq <= (float)lo ? lo : (int32_t)yq;
		lut[(uint8_t)q] = (uint8_t)v;
	}
}

void sl_ref_lut8(const uint8_t lut[256], const void *in, void *out, size_t n)
{
	const uint8_t *src = in;
	uint8_t *dst = out;
	for (size_t i = 0; i < n; i++)
		dst[i] = lut[src[i]];
}
