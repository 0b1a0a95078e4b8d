/* Activation reference kernels: activation ranges, RELU/RELU6, HARD_SWISH,
 * LOGISTIC and SOFTMAX in fp32 and int8/uint8. */
#include <float.h>

#include "tests/unit/kernels/ref/ref_testutil.h"

Test(ref_activation, act_range_f32)
{
	float lo, hi;
	sl_ref_act_range_f32(SL_ACT_NONE, &lo, &hi);
	cr_assert(lo == -FLT_MAX && hi == FLT_MAX);
	sl_ref_act_range_f32(SL_ACT_RELU, &lo, &hi);
	cr_assert(lo == 0 && isinf(hi));
	sl_ref_act_range_f32(SL_ACT_RELU_N1_TO_1, &lo, &hi);
	cr_assert(lo == -1 && hi == 1);
	sl_ref_act_range_f32(SL_ACT_RELU6, &lo, &hi);
	cr_assert(lo == 0 && hi == 6);
}

Test(ref_activation, act_range_quantized)
{
	int32_t lo, hi;
	sl_ref_act_range_q8(SL_ACT_NONE, SL_DTYPE_U8, 0.1f, 10, &lo, &hi);
	cr_assert(lo == 0 && hi == 255);
	sl_ref_act_range_q8(SL_ACT_RELU, SL_DTYPE_U8, 0.1f, 10, &lo, &hi);
	cr_assert(lo == 10 && hi == 255);
	sl_ref_act_range_q8(SL_ACT_RELU6, SL_DTYPE_U8, 0.1f, 10, &lo, &hi);
	cr_assert(lo == 10 && hi == 70, "%d %d", lo, hi);
	sl_ref_act_range_q8(SL_ACT_RELU_N1_TO_1, SL_DTYPE_U8, 0.1f, 10, &lo, &hi);
	cr_assert(lo == 0 && hi == 20, "%d %d", lo, hi); /* -1 -> 0 after clamping to uint8 */
	sl_ref_act_range_q8(SL_ACT_RELU6, SL_DTYPE_I8, 0.05f, -100, &lo, &hi);
	cr_assert(lo == -100 && hi == 20, "%d %d", lo, hi);
	sl_ref_act_range_q8(SL_ACT_RELU_N1_TO_1, SL_DTYPE_I8, 0.05f, -100, &lo, &hi);
	cr_assert(lo == -120 && hi == -80, "%d %d", lo, hi);
	/* 6 / .08 = 75; 6 / .4 = 15, bounds round half away from zero:
	 * 6 / 2.4 = 2.5 -> 3 */
	sl_ref_act_range_q8(SL_ACT_RELU6, SL_DTYPE_I8, 2.4f, 0, &lo, &hi);
	cr_assert(lo == 0 && hi == 3, "%d %d", lo, hi);
	/* RELU6 wider than the type saturates */
	sl_ref_act_range_q8(SL_ACT_RELU6, SL_DTYPE_I8, 0.01f, 0, &lo, &hi);
	cr_assert(lo == 0 && hi == 127);
}

Test(ref_activation, relu_f32)
{
	const float in[5] = {-2, -0.0f, 0.5f, 6, 7.5f};
	float out[5];
	sl_ref_clamp_f32(in, out, 5, 0, INFINITY);
	const float want[5] = {0, 0, 0.5f, 6, 7.5f};
	tu_assert_floats(out, want, 5, 0.0f);
	sl_ref_clamp_f32(in, out, 5, 0, 6);
	const float want6[5] = {0, 0, 0.5f, 6, 6};
	tu_assert_floats(out, want6, 5, 0.0f);
}

Test(ref_activation, relu_q8_requantizes)
{
	/* RELU: in scale .5 zp 10 -> out scale .25 zp 0 */
	const uint8_t in[4] = {14, 6, 10, 255};
	uint8_t out[4];
	sl_ref_relu_q8_args a = {
	    .type = SL_DTYPE_U8, .input = in, .output = out, .n = 4, .in_zp = 10, .out_zp = 0};
	sl_ref_relu_q8_params(0.5f, 0.25f, 0, INFINITY, &a);
	sl_ref_relu_q8(&a);
	const uint8_t want[4] = {8, 0, 0, 255};
	tu_assert_ints(out, want, 4);
	/* RELU6, int8, in scale .1 zp -20 -> out scale .05 zp -128 */
	const int8_t sin[4] = {-30, 0, 30, 60}; /* -1, 2, 5, 8 */
	int8_t sout[4];
	sl_ref_relu_q8_args b = {
	    .type = SL_DTYPE_I8, .input = sin, .output = sout, .n = 4, .in_zp = -20, .out_zp = -128};
	sl_ref_relu_q8_params(0.1f, 0.05f, 0, 6, &b);
	cr_assert_eq(b.act_min, -128);
	cr_assert_eq(b.act_max, -8);
	sl_ref_relu_q8(&b);
	const int8_t swant[4] = {-128, -88, -28, -8};
	tu_assert_ints(sout, swant, 4);
}

Test(ref_activation, hard_swish_f32)
{
	const float in[6] = {-4, -3, -1.5f, 0, 1, 4};
	float out[6];
	sl_ref_hard_swish_f32(in, out, 6);
	const float want[6] = {0, 0, -0.375f, 0, 4.0f / 6.0f, 4};
	tu_assert_floats(out, want, 6, 1e-7f);
}

static void hard_swish_sweep(sl_dtype t, float is, int32_t iz, float os, int32_t oz)
{
	uint8_t in[256], out[256];
	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	sl_ref_hard_swish_q8_args a = {
	    .type = t, .input = in, .output = out, .n = 256, .in_zp = iz, .out_zp = oz};
	cr_assert_eq(sl_ref_hard_swish_q8_params(is, os, &a), 0);
	sl_ref_hard_swish_q8(&a);
	for (int i = 0; i < 256; i++) {
		const float x = is * (float)(tu_ld(in, (size_t)i, t) - iz);
		float y;
		sl_ref_hard_swish_f32(&x, &y, 1);
		const float want = fminf(fmaxf(roundf(y / os) + (float)oz, (float)sl_ref_q8_min(t)),
					 (float)sl_ref_q8_max(t));
		cr_assert_leq(fabsf((float)tu_ld(out, (size_t)i, t) - want), 1.0f, "x=%g: %d vs %g",
			      (double)x, tu_ld(out, (size_t)i, t), (double)want);
	}
}

Test(ref_activation, hard_swish_q8_close_to_float)
{
	/* typical MobileNet v3 ranges, with left and right reluish shifts */
	hard_swish_sweep(SL_DTYPE_I8, 0.05f, -10, 0.03f, -100);
	hard_swish_sweep(SL_DTYPE_U8, 0.1f, 128, 0.06f, 30);
	hard_swish_sweep(SL_DTYPE_I8, 0.005f, 0, 0.004f, -20);
	hard_swish_sweep(SL_DTYPE_U8, 0.4f, 100, 0.3f, 10);
}

Test(ref_activation, hard_swish_q8_rejects_output_multiplier_above_one)
{
	sl_ref_hard_swish_q8_args a = {.type = SL_DTYPE_I8};
	/* hires input scale 1/128 of the input scale above the output scale */
	cr_assert_eq(sl_ref_hard_swish_q8_params(1.0f, 0.001f, &a), -SL_E_UNSUPPORTED);
}

Test(ref_activation, logistic_f32)
{
	const float in[5] = {0, 2, -2, 20, -20};
	float out[5];
	sl_ref_logistic_f32(in, out, 5);
	cr_assert_float_eq(out[0], 0.5f, 0);
	cr_assert_float_eq(out[1], 1.0f / (1.0f + expf(-2)), 1e-7f);
	cr_assert_float_eq(out[2], 1.0f / (1.0f + expf(2)), 1e-7f);
	cr_assert_float_eq(out[3], 1.0f, 0);
	cr_assert_float_eq(out[4], expf(-20), 1e-12f);
}

Test(ref_activation, logistic_q8_table)
{
	/* int8 in scale .1 zp 0 -> TFLite's output params (1/256, -128) */
	uint8_t lut[256];
	sl_ref_lut8_build(SL_REF_LUT_LOGISTIC, SL_DTYPE_I8, 0.1f, 0, 1.0f / 256, -128, lut);
	const int8_t in[4] = {0, 127, -128, 10};
	int8_t out[4];
	sl_ref_lut8(lut, in, out, 4);
	cr_assert_eq(out[0], 0);   /* .5 * 256 - 128 */
	cr_assert_eq(out[1], 127); /* 256 saturates */
	cr_assert_eq(out[2], -128);
	cr_assert_eq(out[3], (int)roundf(256.0f / (1.0f + expf(-1.0f))) - 128);
	/* uint8 table covers all inputs */
	sl_ref_lut8_build(SL_REF_LUT_LOGISTIC, SL_DTYPE_U8, 0.05f, 128, 1.0f / 256, 0, lut);
	for (int q = 0; q < 256; q++) {
		const float y = 1.0f / (1.0f + expf(-0.05f * (float)(q - 128)));
		cr_assert_leq(fabsf((float)lut[q] - fminf(roundf(y * 256), 255)), 0.0f, "q=%d", q);
	}
}

Test(ref_activation, softmax_f32)
{
	const float in[6] = {1, 2, 3, 0, 0, 0};
	float out[6];
	sl_ref_softmax_f32(in, out, 2, 3, 1.0f);
	const float e1 = expf(-2), e2 = expf(-1), s = e1 + e2 + 1;
	const float want[6] = {e1 / s, e2 / s, 1 / s, 1.0f / 3, 1.0f / 3, 1.0f / 3};
	tu_assert_floats(out, want, 6, 1e-6f);
	/* beta scales the logits */
	sl_ref_softmax_f32(in, out, 1, 3, 2.0f);
	const float f1 = expf(-4), f2 = expf(-2), t = f1 + f2 + 1;
	const float want_b[3] = {f1 / t, f2 / t, 1 / t};
	tu_assert_floats(out, want_b, 3, 1e-6f);
}

Test(ref_activation, softmax_q8_uniform_and_peaked)
{
	uint8_t uin[4] = {7, 7, 7, 7}, uout[4];
	sl_ref_softmax_q8_args a = {.in_type = SL_DTYPE_U8,
				    .out_type = SL_DTYPE_U8,
				    .input = uin,
				    .output = uout,
				    .outer = 1,
				    .depth = 4};
	sl_ref_softmax_q8_params(1.0f, 0.1f, &a);
	sl_ref_softmax_q8(&a);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(uout[i], 64);
	/* int8 out: zero point -128 */
	int8_t sout[4];
	a.out_type = SL_DTYPE_I8;
	a.output = sout;
	sl_ref_softmax_q8(&a);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(sout[i], -64);
	/* one dominant logit saturates at 255 (1.0 is not representable) and
	 * the others fall below the diff_min cut-off to the minimum */
	uint8_t pin[3] = {255, 0, 0};
	a.out_type = SL_DTYPE_U8;
	a.input = pin;
	a.output = uout;
	a.depth = 3;
	sl_ref_softmax_q8_params(1.0f, 1.0f, &a);
	sl_ref_softmax_q8(&a);
	cr_assert_eq(uout[0], 255);
	cr_assert_eq(uout[1], 0);
	cr_assert_eq(uout[2], 0);
}

static void softmax_sweep(sl_dtype it, sl_dtype ot, float scale, float beta, uint64_t seed)
{
	tu_rng r = {seed};
	enum { OUTER = 4, DEPTH = 37 };
	uint8_t in[OUTER * DEPTH], out[OUTER * DEPTH];
	float fin[DEPTH], fout[DEPTH];
	tu_fill_q8(&r, in, sizeof(in), it);
	sl_ref_softmax_q8_args a = {
	    .in_type = it, .out_type = ot, .input = in, .output = out, .outer = OUTER, .depth = DEPTH};
	sl_ref_softmax_q8_params(beta, scale, &a);
	sl_ref_softmax_q8(&a);
	const int32_t omin = sl_ref_q8_min(ot);
	for (int o = 0; o < OUTER; o++) {
		for (int c = 0; c < DEPTH; c++)
			fin[c] = scale * (float)tu_ld(in, (size_t)(o * DEPTH + c), it);
		sl_ref_softmax_f32(fin, fout, 1, DEPTH, beta);
		for (int c = 0; c < DEPTH; c++) {
			const float want =
			    fminf(roundf(fout[c] * 256) + (float)omin, (float)sl_ref_q8_max(ot));
			const int got = tu_ld(out, (size_t)(o * DEPTH + c), ot);
			cr_assert_leq(fabsf((float)got - want), 1.0f, "row %d col %d: %d vs %g", o, c, got,
				      (double)want);
		}
	}
}

Test(ref_activation, softmax_q8_within_one_step_of_float)
{
	softmax_sweep(SL_DTYPE_U8, SL_DTYPE_U8, 0.05f, 1.0f, 1);
	softmax_sweep(SL_DTYPE_I8, SL_DTYPE_I8, 0.1f, 1.0f, 2);
	softmax_sweep(SL_DTYPE_I8, SL_DTYPE_U8, 0.02f, 2.0f, 3);
	softmax_sweep(SL_DTYPE_U8, SL_DTYPE_I8, 0.2f, 0.5f, 4);
	softmax_sweep(SL_DTYPE_U8, SL_DTYPE_U8, 0.15f, 1.0f, 5);
}
