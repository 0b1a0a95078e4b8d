/* The AVX2 requantization helper (kernels/dense/x86/requant_avx2.h) against
 * kernels/quant.h's scalar gemmlowp code: every shift from -31 to 30, extreme
 * accumulators and multipliers, and per-lane parameters. Built with -mavx2;
 * skipped on a CPU without AVX2. */
#include <cpuinfo.h>
#include <criterion/criterion.h>
#include <limits.h>

#include "dense_test_util.h"
#include "kernels/dense/x86/requant_avx2.h"
#include "kernels/quant.h"

static void need_avx2(void)
{
	if (!cpuinfo_initialize() || !cpuinfo_has_x86_avx2())
		cr_skip_test("no AVX2 on this CPU");
}

Test(dense_requant_avx2, matches_gemmlowp_scalar)
{
	need_avx2();
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
			const sl_avx2_rq r = sl_avx2_rq_scalar(mult, shift);
			for (size_t i = 0; i + 8 <= nv; i += 8) {
				int32_t got[8];
				_mm256_storeu_si256(
				    (__m256i *)(void *)got,
				    sl_avx2_mbqm(_mm256_loadu_si256((const __m256i *)(void *)(v + i)), &r));
				for (int j = 0; j < 8; j++) {
					const int32_t want =
					    sl_mul_by_quantized_multiplier(v[i + j], mult, shift);
					cr_assert_eq(got[j], want, "x %d mult %d shift %d: got %d, want %d",
						     v[i + j], mult, shift, got[j], want);
				}
			}
		}
}

Test(dense_requant_avx2, per_lane_parameters)
{
	need_avx2();
	static int32_t v[SL_NTEST_RQ_VALUES];
	const size_t nv = sl_ntest_requant_values(v);
	uint32_t s = 4242;
	for (int round = 0; round < 20000; round++) {
		int32_t mult[8], lsh[8], rsh[8];
		int shift[8];
		int any = 0;
		for (int j = 0; j < 8; j++) {
			shift[j] = (int)(sl_ntest_rand(&s) % 62) - 31;
			mult[j] = (int32_t)(sl_ntest_rand(&s) >> 1);
			lsh[j] = shift[j] > 0 ? shift[j] : 0;
			rsh[j] = shift[j] > 0 ? 0 : shift[j];
			any |= lsh[j] != 0;
		}
		const size_t i = (size_t)(sl_ntest_rand(&s) % (nv - 8));
		const sl_avx2_rq r = sl_avx2_rq_load(mult, lsh, rsh, any);
		int32_t got[8];
		_mm256_storeu_si256((__m256i *)(void *)got,
				    sl_avx2_mbqm(_mm256_loadu_si256((const __m256i *)(void *)(v + i)), &r));
		for (int j = 0; j < 8; j++)
			cr_assert_eq(got[j], sl_mul_by_quantized_multiplier(v[i + j], mult[j], shift[j]),
				     "lane %d: x %d mult %d shift %d", j, v[i + j], mult[j], shift[j]);
	}
}
