/* The NEON requantization (SQRDMULH, rounding shift with the fix-up for
 * negative values, wrapping left shift, zero point with int32 wrap-around,
 * saturation and clamp) against kernels/quant.h's scalar gemmlowp code, on
 * every shift from -31 to 30, the extreme accumulators (INT32_MIN, INT32_MAX,
 * exact halves of every power of two) and extreme multipliers. Built with
 * SIMDe on x86. */
#include <criterion/criterion.h>
#include <limits.h>

#ifdef SL_DENSE_TEST_SIMDE
#define SL_DENSE_SIMDE 1
#endif
#include "dense_test_util.h"
#include "kernels/dense/neon/neon_simd.h"
#include "kernels/quant.h"

Test(neon_requant, matches_gemmlowp_scalar)
{
	static int32_t v[SL_NTEST_RQ_VALUES];
	const size_t nv = sl_ntest_requant_values(v);
	const int32_t mults[] = {0,	    1,	       1 << 30, (1 << 30) + 1, 1518500250, INT32_MAX - 1,
				 INT32_MAX, 1073741823};
	uint32_t s = 777;
	for (int shift = -31; shift <= 30; shift++)
		for (size_t mi = 0; mi < sizeof(mults) / sizeof(mults[0]) + 4; mi++) {
			const int32_t mult = mi < sizeof(mults) / sizeof(mults[0])
						 ? mults[mi]
						 : (int32_t)((1u << 30) | (sl_ntest_rand(&s) >> 2));
			const int32x4_t mu = vdupq_n_s32(mult), ls = vdupq_n_s32(shift > 0 ? shift : 0),
					rs = vdupq_n_s32(shift > 0 ? 0 : shift);
			for (size_t i = 0; i + 4 <= nv; i += 4) {
				int32_t got[4];
				vst1q_s32(got, sl_dense_rq(vld1q_s32(v + i), mu, ls, rs, shift > 0));
				for (int j = 0; j < 4; j++)
					cr_assert_eq(
					    got[j], sl_mul_by_quantized_multiplier(v[i + j], mult, shift),
					    "x %d mult %d shift %d: got %d, want %d", v[i + j], mult, shift,
					    got[j], sl_mul_by_quantized_multiplier(v[i + j], mult, shift));
			}
		}
}

/* Per-lane parameters (the layer kernels' form): four different channels. */
Test(neon_requant, per_lane_parameters)
{
	static int32_t v[SL_NTEST_RQ_VALUES];
	const size_t nv = sl_ntest_requant_values(v);
	uint32_t s = 4242;
	for (int round = 0; round < 2000; round++) {
		int32_t mult[4], lsh[4], rsh[4];
		int shift[4];
		int any = 0;
		for (int j = 0; j < 4; j++) {
			shift[j] = (int)(sl_ntest_rand(&s) % 62) - 31;
			mult[j] = (int32_t)(sl_ntest_rand(&s) >> 1);
			lsh[j] = shift[j] > 0 ? shift[j] : 0;
			rsh[j] = shift[j] > 0 ? 0 : shift[j];
			any |= lsh[j] != 0;
		}
		const size_t i = (size_t)(sl_ntest_rand(&s) % (nv - 4));
		int32_t got[4];
		vst1q_s32(
		    got, sl_dense_rq(vld1q_s32(v + i), vld1q_s32(mult), vld1q_s32(lsh), vld1q_s32(rsh), any));
		for (int j = 0; j < 4; j++)
			cr_assert_eq(got[j], sl_mul_by_quantized_multiplier(v[i + j], mult[j], shift[j]),
				     "lane %d: x %d mult %d shift %d", j, v[i + j], mult[j], shift[j]);
	}
}

/* Zero point added with int32 wrap-around, then saturation and the clamp. */
Test(neon_requant, narrow_matches_clamp)
{
	static int32_t v[SL_NTEST_RQ_VALUES];
	const size_t nv = sl_ntest_requant_values(v);
	for (int u8 = 0; u8 < 2; u8++)
		for (int zi = 0; zi < 3; zi++) {
			const int32_t lo = u8 ? 0 : -128;
			const int32_t zp = zi == 0 ? lo : zi == 1 ? lo + 255 : lo + 77;
			const sl_dense_requant q = {
			    .out_u8 = u8, .out_zp = zp, .act_min = lo + 3, .act_max = lo + 250};
			const sl_dense_out o = sl_dense_out_of(&q);
			for (size_t i = 0; i + 8 <= nv; i += 8) {
				uint8_t got[8];
				vst1_u8(got, sl_dense_narrow8(&o, vld1q_s32(v + i), vld1q_s32(v + i + 4)));
				for (int j = 0; j < 8; j++) {
					const int32_t w = (int32_t)((uint32_t)v[i + j] + (uint32_t)zp);
					const uint8_t want = (uint8_t)sl_clamp_i32(w, q.act_min, q.act_max);
					cr_assert_eq(got[j], want, "x %d zp %d %s: got %d, want %d", v[i + j],
						     zp, u8 ? "uint8" : "int8", got[j], want);
				}
			}
		}
}
