/* QUANTIZE, requantize and DEQUANTIZE reference kernels. */
#include "tests/unit/kernels/ref/ref_testutil.h"

Test(ref_convert, quantize_u8_rounding_and_saturation)
{
	const float in[7] = {1.25f, -1.25f, 0.75f, 1000, -1000, NAN, 0};
	uint8_t out[7];
	sl_ref_quantize_f32(in, out, 7, SL_DTYPE_U8, 0.5f, 10);
	/* 2.5 -> 3 and -2.5 -> -3 (half away from zero), 1.5 -> 2 */
	const uint8_t want[7] = {13, 7, 12, 255, 0, 0, 10};
	tu_assert_ints(out, want, 7);
}

Test(ref_convert, quantize_i8)
{
	const float in[5] = {0, 0.26f, -0.26f, 64.5f, -64.5f};
	int8_t out[5];
	sl_ref_quantize_f32(in, out, 5, SL_DTYPE_I8, 0.5f, -1);
	const int8_t want[5] = {-1, 0, -2, 127, -128};
	tu_assert_ints(out, want, 5);
}

Test(ref_convert, requantize_int8_uint8_flip)
{
	/* equal scales, zero points 128 apart: x + 128 */
	const int8_t in[4] = {-128, -1, 0, 127};
	uint8_t out[4];
	sl_ref_requantize_args a = {.in_type = SL_DTYPE_I8,
				    .out_type = SL_DTYPE_U8,
				    .input = in,
				    .output = out,
				    .n = 4,
				    .in_zp = -128,
				    .out_zp = 0};
	sl_ref_requantize_params(0.25f, 0.25f, &a);
	sl_ref_requantize(&a);
	const uint8_t want[4] = {0, 127, 128, 255};
	tu_assert_ints(out, want, 4);
	/* and back */
	int8_t back[4];
	sl_ref_requantize_args b = {.in_type = SL_DTYPE_U8,
				    .out_type = SL_DTYPE_I8,
				    .input = out,
				    .output = back,
				    .n = 4,
				    .in_zp = 0,
				    .out_zp = -128};
	sl_ref_requantize_params(0.25f, 0.25f, &b);
	sl_ref_requantize(&b);
	tu_assert_ints(back, in, 4);
}

Test(ref_convert, requantize_scale_change)
{
	/* uint8 scale 1 zp 128 -> int8 scale 2 zp 0: 5 -> 2.5 -> 3, but -5 ->
	 * -2.5 -> -2: with a zero shift the only rounding is the doubling
	 * high-mul's, which breaks ties upwards (TFLite's arithmetic).
	 * 255 - 128 = 127 -> 63.5 -> 64 */
	const uint8_t in[4] = {133, 123, 255, 0};
	int8_t out[4];
	sl_ref_requantize_args a = {.in_type = SL_DTYPE_U8,
				    .out_type = SL_DTYPE_I8,
				    .input = in,
				    .output = out,
				    .n = 4,
				    .in_zp = 128,
				    .out_zp = 0};
	sl_ref_requantize_params(1.0f, 2.0f, &a);
	sl_ref_requantize(&a);
	const int8_t want[4] = {3, -2, 64, -64};
	tu_assert_ints(out, want, 4);
	/* int8 -> int8 with saturation: scale .1 -> .01 */
	const int8_t sin[3] = {20, -20, 1};
	int8_t sout[3];
	sl_ref_requantize_args s = {.in_type = SL_DTYPE_I8,
				    .out_type = SL_DTYPE_I8,
				    .input = sin,
				    .output = sout,
				    .n = 3,
				    .in_zp = 0,
				    .out_zp = 5};
	sl_ref_requantize_params(0.1f, 0.01f, &s);
	sl_ref_requantize(&s);
	const int8_t swant[3] = {127, -128, 15};
	tu_assert_ints(sout, swant, 3);
}

Test(ref_convert, dequantize_per_tensor_and_per_channel)
{
	const uint8_t u[3] = {130, 128, 0};
	float out[6];
	const float s1 = 0.5f;
	const int32_t z1 = 128;
	sl_ref_dequantize_args a = {.type = SL_DTYPE_U8,
				    .input = u,
				    .output = out,
				    .outer = 1,
				    .inner = 3,
				    .n_ch = 1,
				    .scale = &s1,
				    .zp = &z1};
	sl_ref_dequantize_q8(&a);
	const float want[3] = {1, 0, -64};
	tu_assert_floats(out, want, 3, 0.0f);

	/* [2,3] int8, per-channel along axis 1 */
	const int8_t s[6] = {1, 2, 3, -1, -2, -3};
	const float sc[3] = {1, 0.5f, 0.25f};
	const int32_t zp[3] = {0, 0, 1};
	sl_ref_dequantize_args b = {.type = SL_DTYPE_I8,
				    .input = s,
				    .output = out,
				    .outer = 2,
				    .inner = 1,
				    .n_ch = 3,
				    .scale = sc,
				    .zp = zp};
	sl_ref_dequantize_q8(&b);
	const float wantc[6] = {1, 1, 0.5f, -1, -1, -1};
	tu_assert_floats(out, wantc, 6, 0.0f);
}

Test(ref_convert, dequantize_f16)
{
	const uint16_t h[8] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x3555, 0x8000, 0x0400};
	float out[8];
	sl_ref_dequantize_f16(h, out, 8);
	cr_assert_float_eq(out[0], 1.0f, 0);
	cr_assert_float_eq(out[1], -2.0f, 0);
	cr_assert_float_eq(out[2], 65504.0f, 0);
	cr_assert_float_eq(out[3], ldexpf(1, -24), 0);
	cr_assert(isinf(out[4]) && out[4] > 0);
	cr_assert_float_eq(out[5], 0.333251953125f, 0);
	cr_assert(out[6] == 0 && signbit(out[6]));
	cr_assert_float_eq(out[7], ldexpf(1, -14), 0);
	cr_assert(isnan(sl_ref_f16_to_f32(0x7e00)));
	/* every subnormal converts exactly */
	for (uint16_t m = 1; m < 0x400; m++)
		cr_assert_float_eq(sl_ref_f16_to_f32(m), ldexpf((float)m, -24), 0, "m=%u", m);
}

Test(ref_convert, quantize_dequantize_round_trip)
{
	for (int q = -128; q <= 127; q++) {
		const float s = 0.037f;
		const int32_t zp = 9;
		const int8_t v = (int8_t)q;
		float f;
		int8_t back;
		sl_ref_dequantize_args a = {.type = SL_DTYPE_I8,
					    .input = &v,
					    .output = &f,
					    .outer = 1,
					    .inner = 1,
					    .n_ch = 1,
					    .scale = &s,
					    .zp = &zp};
		sl_ref_dequantize_q8(&a);
		sl_ref_quantize_f32(&f, &back, 1, SL_DTYPE_I8, s, zp);
		cr_assert_eq(back, v);
	}
}
