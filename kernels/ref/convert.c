/* QUANTIZE (float -> int8/uint8 and int8/uint8 requantization) and
 * DEQUANTIZE (int8/uint8/fp16 -> float). */
#include <math.h>
#include <string.h>

#include "kernels/quant.h"
#include "kernels/ref/ref_internal.h"
#include "kernels/ref/ref_kernels.h"

void sl_ref_quantize_f32(const float *in, void *out, size_t n, sl_dtype type, float scale, int32_t zp)
{
	const bool s = sl_ref_signed(type);
	const int32_t lo = sl_ref_q8_min(type), hi = sl_ref_q8_max(type);

	for (size_t i = 0; i < n; i++) {
		const float r = roundf(in[i] / scale);
		int32_t v;
		/* Compare in float so huge values and NaN never reach an undefined
		 * float->int conversion; NaN ends at the minimum as on x86 TFLite. */
		if (r >= (float)(hi - zp))
			v = hi;
		else if (r > (float)(lo - zp))
			v = (int32_t)r + zp;
		else
			v = lo;
		sl_ref_st(out, i, s, v);
	}
}

void sl_ref_requantize_params(float in_scale, float out_scale, sl_ref_requantize_args *a)
{
	sl_quantize_multiplier((double)in_scale / (double)out_scale, &a->mult, &a->shift);
}

SL_REF_INLINE void requantize(const sl_ref_requantize_args *a, bool si, bool so)
{
	const int32_t lo = so ? INT8_MIN : 0, hi = so ? INT8_MAX : UINT8_MAX;
	for (size_t i = 0; i < a->n; i++) {
		const int32_t v =
		    sl_mul_by_quantized_multiplier(sl_ref_ld(a->input, i, si) - a->in_zp, a->mult, a->shift) +
		    a->out_zp;
		sl_ref_st(a->output, i, so, sl_clamp_i32(v, lo, hi));
	}
}

void sl_ref_requantize_table(sl_dtype in_type, float in_scale, int32_t in_zp, sl_dtype out_type,
			     float out_scale, int32_t out_zp, uint8_t lut[256])
{
	uint8_t bytes[256];
	for (int v = 0; v < 256; v++)
		bytes[v] = (uint8_t)v;
	sl_ref_requantize_args rq = {.in_type = in_type,
				     .out_type = out_type,
				     .input = bytes,
				     .output = lut,
				     .n = 256,
				     .in_zp = in_zp,
				     .out_zp = out_zp};
	sl_ref_requantize_params(in_scale, out_scale, &rq);
	sl_ref_requantize(&rq);
}

void sl_ref_requantize(const sl_ref_requantize_args *a)
{
	/* TFLite's shortcut for int8 <-> uint8 with equal scales and zero
	 * points 128 apart (a sign-bit flip) gives the same bits as the general
	 * path, so there is no special case here. */
	const bool si = sl_ref_signed(a->in_type), so = sl_ref_signed(a->out_type);
	if (si && so)
		requantize(a, true, true);
	else if (si)
		requantize(a, true, false);
	else if (so)
		requantize(a, false, true);
	else
		requantize(a, false, false);
}

SL_REF_INLINE void dequantize_q8(const sl_ref_dequantize_args *a, bool s)
{
	size_t i = 0;
	for (int64_t o = 0; o < a->outer; o++)
		for (int c = 0; c < a->n_ch; c++) {
			const float scale = a->scale[c];
			const int32_t zp = a->zp[c];
			for (int64_t k = 0; k < a->inner; k++, i++)
				a->output[i] = scale * (float)(sl_ref_ld(a->input, i, s) - zp);
		}
}

void sl_ref_dequantize_q8(const sl_ref_dequantize_args *a)
{
	if (sl_ref_signed(a->type))
		dequantize_q8(a, true);
	else
		dequantize_q8(a, false);
}

float sl_ref_f16_to_f32(uint16_t h)
{
	const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	const uint32_t exp = (h >> 10) & 0x1fu;
	uint32_t mant = h & 0x3ffu;
	uint32_t bits;

	if (exp == 0x1f) {
		bits = sign | 0x7f800000u | (mant << 13); /* inf / NaN */
	} else if (exp != 0) {
		bits = sign | ((exp + 112) << 23) | (mant << 13);
	} else if (mant == 0) {
		bits = sign;
	} else {
		/* subnormal half: normalise into a float */
		int e = -1;
		do {
			e++;
			mant <<= 1;
		} while (!(mant & 0x400u));
		bits = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3ffu) << 13);
	}
	float f;
	memcpy(&f, &bits, sizeof(f));
	return f;
}

void sl_ref_dequantize_f16(const uint16_t *in, float *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = sl_ref_f16_to_f32(in[i]);
}
