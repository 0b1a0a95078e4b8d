/* TFLite's integer requantization (the gemmlowp fixed-point scheme used by
 * TFLite's reference kernels). Every int8/uint8 kernel that must be
 * bit-exact with the reference uses these, so they live in one header. */
#pragma once

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* real_multiplier -> (q31 multiplier, shift); shift > 0 is a left shift. */
static inline void sl_quantize_multiplier(double real, int32_t *ret_mult, int *ret_shift)
{
	if (real == 0.0) {
		*ret_mult = 0;
		*ret_shift = 0;
		return;
	}
	int shift;
	const double q = frexp(real, &shift);
	int64_t q_fixed = (int64_t)llround(q * (double)(1ll << 31));
	if (q_fixed == (1ll << 31)) {
		q_fixed /= 2;
		++shift;
	}
	if (shift < -31) {
		shift = 0;
		q_fixed = 0;
	}
	*ret_mult = (int32_t)q_fixed;
	*ret_shift = shift;
}

static inline int32_t sl_srdhm(int32_t a, int32_t b)
{
	if (a == b && a == INT32_MIN)
		return INT32_MAX;
	const int64_t ab = (int64_t)a * (int64_t)b;
	const int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
	return (int32_t)((ab + nudge) / (1ll << 31));
}

static inline int32_t sl_rounding_divide_by_pot(int32_t x, int exponent)
{
	const int32_t mask = (int32_t)((1ll << exponent) - 1);
	const int32_t remainder = x & mask;
	const int32_t threshold = (mask >> 1) + ((x < 0) ? 1 : 0);
	return (x >> exponent) + ((remainder > threshold) ? 1 : 0);
}

static inline int32_t sl_mul_by_quantized_multiplier(int32_t x, int32_t mult, int shift)
{
	const int left = shift > 0 ? shift : 0;
	const int right = shift > 0 ? 0 : -shift;
	return sl_rounding_divide_by_pot(sl_srdhm((int32_t)((uint32_t)x << left), mult), right);
}

static inline int32_t sl_clamp_i32(int32_t v, int32_t lo, int32_t hi)
{
	return v < lo ? lo : (v > hi ? hi : v);
}

/* XNNPACK's "rndnu" requantization (its per-tensor int8 and uint8 kernels on
 * AArch64). The float scale splits exactly into a Q31 multiplier in
 * [2^30, 2^31) (the float's 24-bit mantissa) and a shift s, scale =
 * mult * 2^-(31 + s), s in [-8, 31] for scales in [2^-32, 256). XNNPACK
 * applies it as a saturating left shift by lshift = max(1 - s, 0), SQDMULH,
 * and a rounding right shift by rshift = max(s, 1). Returns 0, or -ERANGE
 * for a scale outside that range; the out-parameters only on success. */
static inline int sl_quantize_rndnu(float scale, int32_t *ret_mult, int32_t *ret_lshift, int32_t *ret_rshift)
{
	uint32_t bits;
	memcpy(&bits, &scale, sizeof(bits));
	const int32_t s = 126 - (int32_t)(bits >> 23);
	if (!(scale >= 0x1p-32f && scale < 256.0f))
		return -ERANGE;
	*ret_mult = (int32_t)(((bits & UINT32_C(0x007FFFFF)) | UINT32_C(0x00800000)) << 7);
	*ret_lshift = s < 1 ? 1 - s : 0;
	*ret_rshift = s < 1 ? 1 : s;
	return 0;
}

/* (acc << lshift, saturated to int32) * mult * 2^-(31 + rshift), rounded
 * half up, plus the zero point, clamped; lshift in [0, 9], rshift in
 * [1, 31] (sl_quantize_rndnu). XNNPACK's SQSHL, SQDMULH (floor of the
 * doubled high half) and SRSHL give exactly this: the floor drops nothing
 * above the rounding bit. */
static inline int32_t sl_requantize_rndnu(int32_t acc, int32_t mult, int32_t lshift, int32_t rshift,
					  int32_t zp, int32_t lo, int32_t hi)
{
	int64_t a = (int64_t)acc * ((int64_t)1 << lshift);
	a = a < INT32_MIN ? INT32_MIN : (a > INT32_MAX ? INT32_MAX : a);
	const int64_t y = ((a * mult + ((int64_t)1 << (30 + rshift))) >> (31 + rshift)) + zp;
	return y < lo ? lo : (y > hi ? hi : (int32_t)y);
}

/* XNNPACK's "fp32" requantization (what its int8 kernels do on x86, its
 * per-channel ones on AArch64, and LiteRT's XNNPACK delegate with them): the
 * accumulator times the float scale in_scale * w_scale / out_scale, rounded
 * to nearest even, plus the zero point, clamped. The clamp is applied to the
 * float first, as XNNPACK does, so that no product overflows the conversion;
 * rounding is monotonic and the bounds are integers, so clamping before or
 * after rounds the same. */
static inline int32_t sl_requantize_fp32(int32_t acc, float scale, int32_t zp, int32_t lo, int32_t hi)
{
	float f = (float)acc * scale;
	f = f < (float)(lo - zp) ? (float)(lo - zp) : f;
	f = f > (float)(hi - zp) ? (float)(hi - zp) : f;
	return (int32_t)nearbyintf(f) + zp;
}
