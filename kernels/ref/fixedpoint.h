/* The parts of gemmlowp's fixed-point arithmetic that TFLite's integer
 * softmax and hard-swish use, as plain C on raw int32/int16 values. A
 * "Qm" value below has m integer bits and 31 - m (or 15 - m) fractional bits.
 * Internal to kernels/ref. */
#pragma once

#include <stdint.h>

#include "kernels/quant.h"

/* gemmlowp ShiftLeft: multiply by 2^n, saturating. */
static inline int32_t sl_fp_sat_shl32(int32_t x, int n)
{
	const int64_t v = (int64_t)x * ((int64_t)1 << n);
	return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

static inline int16_t sl_fp_sat_shl16(int16_t x, int n)
{
	const int32_t v = (int32_t)x * (1 << n);
	return v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : (int16_t)v;
}

/* SaturatingRoundingMultiplyByPOT<e> for int32. */
static inline int32_t sl_fp_mul_pot32(int32_t x, int e)
{
	if (e > 0)
		return sl_fp_sat_shl32(x, e);
	if (e < 0)
		return sl_rounding_divide_by_pot(x, -e);
	return x;
}

static inline int16_t sl_fp_srdhm16(int16_t a, int16_t b)
{
	if (a == b && a == INT16_MIN)
		return INT16_MAX;
	const int32_t ab = (int32_t)a * (int32_t)b;
	const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
	return (int16_t)((ab + nudge) / (1 << 15));
}

/* TFLite's non-rounding variant, used by hard-swish to cancel the bias of the
 * rounding one. */
static inline int16_t sl_fp_sdhm16(int16_t a, int16_t b)
{
	if (a == b && a == INT16_MIN)
		return INT16_MAX;
	return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}

static inline int16_t sl_fp_rdbpot16(int16_t x, int e)
{
	const int16_t mask = (int16_t)((1 << e) - 1);
	const int16_t rem = (int16_t)(x & mask);
	const int16_t threshold = (int16_t)((mask >> 1) + (x < 0 ? 1 : 0));
	return (int16_t)((x >> e) + (rem > threshold ? 1 : 0));
}

/* exp(x) for x in [-1/4, 0), Q0 in and out: Taylor expansion around -1/8. */
static inline int32_t sl_fp_exp_quarter(int32_t a)
{
	const int32_t exp_m1_8 = 1895147668; /* exp(-1/8) in Q0 */
	const int32_t one_third = 715827883; /* 1/3 in Q0 */
	const int32_t x = a + (1 << 28);     /* a + 1/8 */
	const int32_t x2 = sl_srdhm(x, x);
	const int32_t x3 = sl_srdhm(x2, x);
	const int32_t x4 = sl_srdhm(x2, x2);
	const int32_t x4_4 = sl_fp_mul_pot32(x4, -2);
	const int32_t poly = sl_fp_mul_pot32(sl_srdhm(x4_4 + x3, one_third) + x2, -1);
	return exp_m1_8 + sl_srdhm(exp_m1_8, x + poly);
}

/* exp(a) for a <= 0 given in Q(int_bits), result in Q0. Splits a into a
 * multiple of 1/4 and a remainder in [-1/4, 0), then multiplies in exp(-2^k)
 * for every set bit of the multiple. */
static inline int32_t sl_fp_exp_neg(int32_t a, int int_bits)
{
	const int frac = 31 - int_bits;
	const int32_t quarter = (int32_t)1 << (frac - 2);
	const int32_t mask = quarter - 1;
	const int32_t a_mod = (a & mask) - quarter;
	int32_t result = sl_fp_exp_quarter(sl_fp_mul_pot32(a_mod, int_bits));
	const int32_t rem = a_mod - a;
	/* round(exp(-2^k) * 2^31) for k = -2 .. 4 */
	static const int32_t mults[] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
	for (int k = -2; k <= 4; k++) {
		if (int_bits > k && (rem & ((int32_t)1 << (frac + k))))
			result = sl_srdhm(result, mults[k + 2]);
	}
	if (int_bits > 5) {
		const int32_t clamp = -((int32_t)1 << (36 - int_bits));
		if (a < clamp)
			result = 0;
	}
	if (a == 0)
		result = INT32_MAX;
	return result;
}

/* 1 / (1 + x) for x in [0, 1): Q0 in, Q0 out; three Newton-Raphson steps
 * in Q2 from the 48/17 - 32/17 * d initial guess. */
static inline int32_t sl_fp_one_over_one_plus_x(int32_t a)
{
	const int64_t sum = (int64_t)a + INT32_MAX;
	const int32_t half_den = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
	const int32_t c48_17 = 1515870810;   /* 48/17 in Q2 */
	const int32_t cm32_17 = -1010580540; /* -32/17 in Q2 */
	int32_t x = c48_17 + sl_srdhm(half_den, cm32_17);
	for (int i = 0; i < 3; i++) {
		const int32_t hdx = sl_srdhm(half_den, x);	    /* Q2 */
		const int32_t one_minus = (1 << 29) - hdx;	    /* Q2 */
		x = x + sl_fp_mul_pot32(sl_srdhm(x, one_minus), 2); /* Q4 -> Q2 */
	}
	/* x / 2 as Q1 (same raw), rescaled to Q0 */
	return sl_fp_mul_pot32(x, 1);
}

/* TFLite's GetReciprocal: 1/x for x in Q(int_bits), as a Q0 mantissa and the
 * number of bits above 1.0. */
static inline int32_t sl_fp_reciprocal(int32_t x, int int_bits, int *ret_bits_over_unit)
{
	const int headroom_plus_one = x == 0 ? 32 : __builtin_clz((uint32_t)x);
	*ret_bits_over_unit = int_bits - headroom_plus_one;
	const int32_t shifted_minus_one =
	    (int32_t)(((uint32_t)x << (headroom_plus_one & 31)) - ((uint32_t)1 << 31));
	return sl_fp_one_over_one_plus_x(shifted_minus_one);
}
