/* QUANTIZE for the dense backend: float -> int8/uint8 bit-exact with
 * sl_ref_quantize_f32 (TFLite's reference: round(x / scale) half away from
 * zero, then the zero point and the type's range), and the uint8 -> int8
 * (or back) of a model's uint8 input when it is a sign flip.
 *
 * Why: a model with float input starts with this node (every int8 variant
 * sightline compress writes), 150528 values per 224x224 frame, and the
 * reference's libm roundf() call per value made it 90 us, 2-3 % of MobileNet
 * v2 at 1 thread. Here the rounding is work the compiler can vectorise:
 * clamp, truncate, compare the exact remainder with one half. The
 * division stays a division (a reciprocal multiply rounds differently).
 * The uint8 input of the shared MobileNet v2 models (and of the variants
 * compressed from them) goes to int8 with the same scale and zero points
 * 128 apart: the reference's byte table is then x ^ 0x80, 60-100 us through
 * a table, a few through XOR. */
#include "kernels/dense/dense.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

/* Clamped first to one step past the range (where every output saturates),
 * so that the conversion is defined; NaN ends at the minimum, as in the
 * reference (maxps and FMAXNM return the other operand for NaN). */
static inline int32_t quantize1(float x, float scale, float fl, float fh, int32_t zp)
{
	const float v = x / scale;
	float c = v > fl ? v : fl;
	c = c < fh ? c : fh;
	const int32_t t = (int32_t)c;
	const float f = c - (float)t; /* exact: |c| < 2^10 */
	return t + (f >= 0.5f) - (f <= -0.5f) + zp;
}

void sl_dense_quantize_f32(const float *restrict in, void *restrict out, size_t n, sl_dtype type, float scale,
			   int32_t zp)
{
	const bool s8 = type == SL_DTYPE_I8;
	const int32_t lo = s8 ? -128 : 0, hi = lo + 255;
	const float fl = (float)(lo - zp - 1), fh = (float)(hi - zp + 1);
	uint8_t *restrict o = out;
	size_t i = 0;
	/* 16 values a step: the integers are at most one past the type's range,
	 * so the saturating narrowing is the clamp. */
#if defined(__SSE2__)
	const __m128 vs = _mm_set1_ps(scale), vl = _mm_set1_ps(fl), vh = _mm_set1_ps(fh),
		     half = _mm_set1_ps(0.5f), mhalf = _mm_set1_ps(-0.5f);
	const __m128i vzp = _mm_set1_epi32(zp);
	for (; i + 16 <= n; i += 16) {
		__m128i r[4];
		for (int k = 0; k < 4; k++) {
			const __m128 c =
			    _mm_min_ps(_mm_max_ps(_mm_div_ps(_mm_loadu_ps(in + i + 4 * k), vs), vl), vh);
			__m128i t = _mm_cvttps_epi32(c);
			const __m128 f = _mm_sub_ps(c, _mm_cvtepi32_ps(t));
			t = _mm_sub_epi32(t, _mm_castps_si128(_mm_cmpge_ps(f, half)));
			t = _mm_add_epi32(t, _mm_castps_si128(_mm_cmple_ps(f, mhalf)));
			r[k] = _mm_add_epi32(t, vzp);
		}
		const __m128i a = _mm_packs_epi32(r[0], r[1]), b = _mm_packs_epi32(r[2], r[3]);
		_mm_storeu_si128((__m128i *)(o + i), s8 ? _mm_packs_epi16(a, b) : _mm_packus_epi16(a, b));
	}
#elif defined(__aarch64__)
	/* FCVTAS rounds half away from zero: roundf itself. */
	const float32x4_t vs = vdupq_n_f32(scale), vl = vdupq_n_f32(fl), vh = vdupq_n_f32(fh);
	const int32x4_t vzp = vdupq_n_s32(zp);
	for (; i + 16 <= n; i += 16) {
		int16x8_t h[2];
		for (int k = 0; k < 2; k++) {
			int32x4_t r[2];
			for (int j = 0; j < 2; j++) {
				const float32x4_t v = vdivq_f32(vld1q_f32(in + i + 8 * k + 4 * j), vs);
				r[j] = vaddq_s32(vcvtaq_s32_f32(vminq_f32(vmaxnmq_f32(v, vl), vh)), vzp);
			}
			h[k] = vcombine_s16(vqmovn_s32(r[0]), vqmovn_s32(r[1]));
		}
		if (s8)
			vst1q_s8((int8_t *)(o + i), vcombine_s8(vqmovn_s16(h[0]), vqmovn_s16(h[1])));
		else
			vst1q_u8(o + i, vcombine_u8(vqmovun_s16(h[0]), vqmovun_s16(h[1])));
	}
#endif
	for (; i < n; i++) {
		const int32_t r = quantize1(in[i], scale, fl, fh, zp);
		o[i] = (uint8_t)(r < lo ? lo : r > hi ? hi : r);
	}
}

void sl_dense_xor_bytes(const uint8_t *in, uint8_t *out, size_t n, uint8_t x)
{
	for (size_t i = 0; i < n; i++)
		out[i] = in[i] ^ x;
}
