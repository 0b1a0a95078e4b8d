/* Quantized ADD kernels (every entry of the family this CPU runs: AVX2 and
 * the portable one on x86-64, NEON and the portable one on aarch64; on x86
 * also the NEON one through SIMDe) through sl_dense_add_run against sl_ref_add_q8,
 * bit-exact: lengths around the vector width and the thread chunks, int8 and
 * uint8, extreme zero points, scale ratios both ways (output shifts left and
 * right), activation clamps, 1 and 3 threads. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <pthreadpool.h>
#include <stdlib.h>
#include <string.h>

#include "dense_test_util.h"
#include "kernels/dense/dense_kernels.h"

static size_t add_kernels(sl_dense_add_impl *out, size_t max)
{
	size_t cnt, n = 0;
	const sl_dense_add_impl *l = sl_dense_add_impls(&cnt);
	for (size_t i = 0; i < cnt && n < max; i++)
		if ((l[i].isa & sl_dense_cpu_isa()) == l[i].isa)
			out[n++] = l[i];
#if defined(SL_DENSE_TEST_SIMDE) && !defined(__aarch64__)
	if (n < max)
		out[n++] = (sl_dense_add_impl){"add neon (SIMDe)", 0, sl_dense_add_neon_simde};
#endif
	return n;
}

ParameterizedTestParameters(dense_add, matches_reference)
{
	static size_t ids[8];
	sl_dense_add_impl k[8];
	const size_t n = add_kernels(k, 8);
	for (size_t i = 0; i < n; i++)
		ids[i] = i;
	return cr_make_param_array(size_t, ids, n);
}

static float rnd_scale(uint32_t *s, float lo, float hi)
{
	return lo + (hi - lo) * (float)(sl_ntest_rand(s) % 10000) / 10000.0f;
}

ParameterizedTest(size_t *ki, dense_add, matches_reference)
{
	sl_dense_add_impl kernels[8];
	cr_assert_lt(*ki, add_kernels(kernels, 8));
	const sl_dense_add_impl *kern = &kernels[*ki];
	static const int lens[] = {1, 2, 7, 15, 16, 17, 31, 32, 33, 63, 100, 255, 16384, 16385, 40000};
	uint32_t s = 99;
	pthreadpool_t pool = pthreadpool_create(3);
	for (int round = 0; round < 240; round++) {
		const size_t n = (size_t)lens[round % (int)(sizeof(lens) / sizeof(lens[0]))];
		const bool u8 = round / 15 % 2;
		const int32_t lo = u8 ? 0 : -128;
		uint8_t *a = malloc(n), *b = malloc(n), *want = malloc(n), *got = malloc(n);
		for (size_t i = 0; i < n; i++) {
			a[i] = (uint8_t)sl_ntest_rand(&s);
			b[i] = (uint8_t)sl_ntest_rand(&s);
		}
		const int zk = round / 30 % 4;
		const int32_t za =
		    zk == 0 ? lo : (zk == 1 ? lo + 255 : lo + (int32_t)(sl_ntest_rand(&s) % 256));
		const int32_t zb = zk == 1 ? lo : lo + (int32_t)(sl_ntest_rand(&s) % 256);
		const int32_t zo = zk == 2 ? lo + 255 : lo + (int32_t)(sl_ntest_rand(&s) % 256);
		/* scales: similar, a >> b, b >> a, output tiny (shift left) or huge */
		float sa = rnd_scale(&s, 0.01f, 0.1f), sb = rnd_scale(&s, 0.01f, 0.1f),
		      so = rnd_scale(&s, 0.02f, 0.2f);
		switch (round % 5) {
		case 1:
			sa *= 100;
			break;
		case 2:
			sb *= 300;
			break;
		case 3:
			so *= 1e-4f;
			break;
		case 4:
			so *= 50;
			break;
		default:
			break;
		}
		sl_ref_add_q8_args ra = {.type = u8 ? SL_DTYPE_U8 : SL_DTYPE_I8,
					 .a = a,
					 .b = b,
					 .out = want,
					 .a_zp = za,
					 .b_zp = zb,
					 .out_zp = zo};
		const int32_t dims[1] = {(int32_t)n};
		cr_assert_eq(sl_ref_bcast_init(&ra.bc, dims, 1, dims, 1), 0);
		sl_ref_add_q8_params(sa, sb, so, &ra);
		const int act = round % 3;
		ra.act_min = act == 1 ? zo : lo;
		ra.act_max = act == 2 ? (zo + 40 > lo + 255 ? lo + 255 : zo + 40) : lo + 255;
		if (ra.act_min > ra.act_max)
			ra.act_min = ra.act_max;
		sl_ref_add_q8(&ra);
		const sl_dense_add_params q = {.u8 = u8,
					       .a_zp = za,
					       .b_zp = zb,
					       .out_zp = zo,
					       .left_shift = ra.left_shift,
					       .a_mult = ra.a_mult,
					       .b_mult = ra.b_mult,
					       .out_mult = ra.out_mult,
					       .a_shift = ra.a_shift,
					       .b_shift = ra.b_shift,
					       .out_shift = ra.out_shift,
					       .act_min = ra.act_min,
					       .act_max = ra.act_max};
		cr_assert_eq(sl_dense_add_check(&q, NULL), 0, "round %d: params rejected", round);
		memset(got, 0x5A, n);
		sl_dense_add_run(kern, &q, n, a, b, got, round % 2 ? pool : NULL);
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(got[i], want[i],
				     "%s round %d n %zu %s: element %zu (a %d b %d za %d zb %d zo %d, shifts "
				     "%d %d %d): got %d, want %d",
				     kern->name, round, n, u8 ? "uint8" : "int8", i, a[i], b[i], za, zb, zo,
				     q.a_shift, q.b_shift, q.out_shift, got[i], want[i]);
		free(a);
		free(b);
		free(want);
		free(got);
	}
	pthreadpool_destroy(pool);
}
