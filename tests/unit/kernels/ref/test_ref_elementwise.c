/* ADD and MUL reference kernels, fp32 and int8/uint8, with broadcasting. */
#include <float.h>

#include "tests/unit/kernels/ref/ref_testutil.h"

static sl_ref_bcast bcast(const int32_t *ad, int ar, const int32_t *bd, int br)
{
	sl_ref_bcast bc;
	cr_assert_eq(sl_ref_bcast_init(&bc, ad, ar, bd, br), 0);
	return bc;
}

Test(ref_elementwise, bcast_shapes)
{
	sl_ref_bcast bc;
	const int32_t a[3] = {2, 1, 3}, b[2] = {4, 1}, c[1] = {4};
	cr_assert_eq(sl_ref_bcast_init(&bc, a, 3, b, 2), 0);
	cr_assert_eq(bc.rank, 3);
	cr_assert_eq(bc.out_dims[0], 2);
	cr_assert_eq(bc.out_dims[1], 4);
	cr_assert_eq(bc.out_dims[2], 3);
	cr_assert_eq(sl_ref_bcast_numel(&bc), 24);
	cr_assert_eq(sl_ref_bcast_init(&bc, a, 3, c, 1), -SL_E_SHAPE);
	cr_assert_eq(sl_ref_bcast_init(&bc, a, 3, NULL, 0), 0); /* scalar */
	cr_assert_eq(sl_ref_bcast_numel(&bc), 6);
}

Test(ref_elementwise, add_f32_broadcast_rows_and_columns)
{
	const float a[6] = {1, 2, 3, 4, 5, 6}, row[3] = {10, 20, 30}, col[2] = {100, 200};
	const int32_t ad[2] = {2, 3}, rd[1] = {3}, cd[2] = {2, 1};
	float out[6];
	sl_ref_binary_f32_args x = {
	    .bc = bcast(ad, 2, rd, 1), .a = a, .b = row, .out = out, .act_min = -FLT_MAX, .act_max = FLT_MAX};
	sl_ref_add_f32(&x);
	const float want_row[6] = {11, 22, 33, 14, 25, 36};
	tu_assert_floats(out, want_row, 6, 0.0f);
	/* broadcast on the left operand too: col + a */
	x.bc = bcast(cd, 2, ad, 2);
	x.a = col;
	x.b = a;
	sl_ref_add_f32(&x);
	const float want_col[6] = {101, 102, 103, 204, 205, 206};
	tu_assert_floats(out, want_col, 6, 0.0f);
}

Test(ref_elementwise, add_f32_both_sides_broadcast_4d)
{
	/* [2,1,3] + [1,2,1] -> [2,2,3] */
	const float a[6] = {1, 2, 3, 4, 5, 6}, b[2] = {10, 20};
	const int32_t ad[3] = {2, 1, 3}, bd[3] = {1, 2, 1};
	float out[12];
	sl_ref_binary_f32_args x = {
	    .bc = bcast(ad, 3, bd, 3), .a = a, .b = b, .out = out, .act_min = -FLT_MAX, .act_max = FLT_MAX};
	sl_ref_add_f32(&x);
	const float want[12] = {11, 12, 13, 21, 22, 23, 14, 15, 16, 24, 25, 26};
	tu_assert_floats(out, want, 12, 0.0f);
}

Test(ref_elementwise, mul_f32_scalar_and_activation)
{
	const float a[4] = {-2, -0.5f, 0.25f, 3}, s[1] = {2};
	const int32_t ad[1] = {4};
	float out[4];
	sl_ref_binary_f32_args x = {.bc = bcast(ad, 1, NULL, 0), .a = a, .b = s, .out = out};
	sl_ref_act_range_f32(SL_ACT_RELU_N1_TO_1, &x.act_min, &x.act_max);
	sl_ref_mul_f32(&x);
	const float want[4] = {-1, -1, 0.5f, 1};
	tu_assert_floats(out, want, 4, 0.0f);
}

static void add_u8(const uint8_t *a, const uint8_t *b, uint8_t *out, int n, float as, int32_t az, float bs,
		   int32_t bz, float os, int32_t oz, sl_act act)
{
	const int32_t d[1] = {n};
	sl_ref_add_q8_args x = {.bc = bcast(d, 1, d, 1),
				.type = SL_DTYPE_U8,
				.a = a,
				.b = b,
				.out = out,
				.a_zp = az,
				.b_zp = bz,
				.out_zp = oz};
	sl_ref_add_q8_params(as, bs, os, &x);
	sl_ref_act_range_q8(act, SL_DTYPE_U8, os, oz, &x.act_min, &x.act_max);
	sl_ref_add_q8(&x);
}

Test(ref_elementwise, add_u8_hand_and_rounding)
{
	/* scale .5 zp 128 in, scale 1 zp 128 out: 1 + 3 = 4; 0.5 + 0 rounds to
	 * 1, -0.5 + 0 to -1 (half away from zero) */
	const uint8_t a[3] = {130, 129, 127}, b[3] = {134, 128, 128};
	uint8_t out[3];
	add_u8(a, b, out, 3, 0.5f, 128, 0.5f, 128, 1.0f, 128, SL_ACT_NONE);
	const uint8_t want[3] = {132, 129, 127};
	tu_assert_ints(out, want, 3);
}

Test(ref_elementwise, add_q8_params_match_tflite)
{
	/* left shift 20 and the three multipliers of TFLite's add.cc */
	sl_ref_add_q8_args x = {0};
	sl_ref_add_q8_params(0.5f, 0.25f, 0.125f, &x);
	cr_assert_eq(x.left_shift, 20);
	cr_assert_eq(x.a_mult, 1 << 30); /* .5 / 1 = .5 */
	cr_assert_eq(x.a_shift, 0);
	cr_assert_eq(x.b_mult, 1 << 30); /* .25 / 1 = .25 = .5 * 2^-1 */
	cr_assert_eq(x.b_shift, -1);
	cr_assert_eq(x.out_mult, 1 << 30); /* 1 / (2^20 * .125) = 2^-17 */
	cr_assert_eq(x.out_shift, -16);
}

Test(ref_elementwise, add_i8_different_scales_relu6)
{
	/* a scale .1, b scale .3, out scale .2 zp -10; RELU6 range is
	 * [-10, -10 + 30] */
	const int8_t a[3] = {10, 50, -50}, b[3] = {10, 10, 0};
	int8_t out[3];
	const int32_t d[1] = {3};
	sl_ref_add_q8_args x = {.bc = bcast(d, 1, d, 1),
				.type = SL_DTYPE_I8,
				.a = a,
				.b = b,
				.out = out,
				.a_zp = 0,
				.b_zp = 0,
				.out_zp = -10};
	sl_ref_add_q8_params(0.1f, 0.3f, 0.2f, &x);
	sl_ref_act_range_q8(SL_ACT_RELU6, SL_DTYPE_I8, 0.2f, -10, &x.act_min, &x.act_max);
	cr_assert_eq(x.act_min, -10);
	cr_assert_eq(x.act_max, 20);
	sl_ref_add_q8(&x);
	const int8_t want[3] = {10, 20, -10}; /* 4.0, 8.0 (clamped to 6), -5 (clamped to 0) */
	tu_assert_ints(out, want, 3);
}

Test(ref_elementwise, add_q8_broadcast_matches_float)
{
	tu_rng r = {3};
	const int32_t ad[4] = {1, 3, 4, 5}, bd[4] = {1, 1, 1, 5};
	int8_t a[60], b[5], out[60];
	tu_fill_q8(&r, a, 60, SL_DTYPE_I8);
	tu_fill_q8(&r, b, 5, SL_DTYPE_I8);
	const float as = 0.07f, bs = 0.02f, os = 0.09f;
	const int32_t az = 3, bz = -7, oz = 2;
	sl_ref_add_q8_args x = {.bc = bcast(ad, 4, bd, 4),
				.type = SL_DTYPE_I8,
				.a = a,
				.b = b,
				.out = out,
				.a_zp = az,
				.b_zp = bz,
				.out_zp = oz,
				.act_min = -128,
				.act_max = 127};
	sl_ref_add_q8_params(as, bs, os, &x);
	sl_ref_add_q8(&x);
	for (int i = 0; i < 60; i++) {
		const float real = as * (float)(a[i] - az) + bs * (float)(b[i % 5] - bz);
		const float want = fminf(fmaxf(roundf(real / os) + (float)oz, -128), 127);
		cr_assert_leq(fabsf((float)out[i] - want), 1.0f, "element %d: %d vs %g", i, out[i],
			      (double)want);
	}
}

Test(ref_elementwise, mul_i8_hand_and_broadcast)
{
	/* a scale .5 zp 1, b scale .25 zp -2, out scale .125 zp 3: 2 * 2 = 4 */
	const int8_t a[2] = {5, -3}, b[1] = {6};
	int8_t out[2];
	const int32_t ad[1] = {2};
	sl_ref_mul_q8_args x = {.bc = bcast(ad, 1, NULL, 0),
				.type = SL_DTYPE_I8,
				.a = a,
				.b = b,
				.out = out,
				.a_zp = 1,
				.b_zp = -2,
				.out_zp = 3,
				.act_min = -128,
				.act_max = 127};
	sl_ref_mul_q8_params(0.5f, 0.25f, 0.125f, &x);
	sl_ref_mul_q8(&x);
	cr_assert_eq(out[0], 35);
	cr_assert_eq(out[1], -29); /* -2 * 2 = -4 -> -32 + 3 */
}

Test(ref_elementwise, mul_u8_matches_float)
{
	tu_rng r = {11};
	uint8_t a[64], b[64], out[64];
	tu_fill_q8(&r, a, 64, SL_DTYPE_U8);
	tu_fill_q8(&r, b, 64, SL_DTYPE_U8);
	const int32_t d[1] = {64};
	const float as = 0.02f, bs = 0.03f, os = 0.1f;
	sl_ref_mul_q8_args x = {.bc = bcast(d, 1, d, 1),
				.type = SL_DTYPE_U8,
				.a = a,
				.b = b,
				.out = out,
				.a_zp = 128,
				.b_zp = 120,
				.out_zp = 128,
				.act_min = 0,
				.act_max = 255};
	sl_ref_mul_q8_params(as, bs, os, &x);
	sl_ref_mul_q8(&x);
	for (int i = 0; i < 64; i++) {
		const float real = as * (float)(a[i] - 128) * bs * (float)(b[i] - 120);
		const float want = fminf(fmaxf(roundf(real / os) + 128, 0), 255);
		cr_assert_leq(fabsf((float)out[i] - want), 1.0f, "element %d", i);
	}
}
