/* CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED reference kernels:
 * hand-computed cases plus quantized-vs-float consistency sweeps. */
#include <float.h>
#include <stdlib.h>

#include "kernels/quant.h"
#include "tests/unit/kernels/ref/ref_testutil.h"

static sl_ref_conv_geom geom(int ih, int iw, int ic, int oh, int ow, int oc, int fh, int fw)
{
	return (sl_ref_conv_geom){.batch = 1,
				  .in_h = ih,
				  .in_w = iw,
				  .in_c = ic,
				  .out_h = oh,
				  .out_w = ow,
				  .out_c = oc,
				  .filter_h = fh,
				  .filter_w = fw,
				  .stride_h = 1,
				  .stride_w = 1,
				  .dilation_h = 1,
				  .dilation_w = 1,
				  .groups = 1,
				  .depth_multiplier = 1};
}

Test(ref_conv, f32_valid_with_bias)
{
	const float in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, filt[4] = {1, 2, 3, 4}, bias[1] = {1};
	float out[4];
	sl_ref_conv_f32_args a = {.g = geom(3, 3, 1, 2, 2, 1, 2, 2),
				  .input = in,
				  .filter = filt,
				  .bias = bias,
				  .output = out,
				  .act_min = -FLT_MAX,
				  .act_max = FLT_MAX};
	sl_ref_conv2d_f32(&a);
	const float want[4] = {38, 48, 68, 78};
	tu_assert_floats(out, want, 4, 0.0f);
}

Test(ref_conv, f32_same_padding_bottom_right)
{
	/* SAME with an even filter pads only bottom/right: the last row/column
	 * sees only the top-left filter tap. */
	const float in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, filt[4] = {1, 2, 3, 4};
	float out[9];
	sl_ref_conv_f32_args a = {.g = geom(3, 3, 1, 3, 3, 1, 2, 2),
				  .input = in,
				  .filter = filt,
				  .output = out,
				  .act_min = -FLT_MAX,
				  .act_max = FLT_MAX};
	sl_ref_conv2d_f32(&a);
	const float want[9] = {37, 47, 3 * 1 + 6 * 3, 67, 77, 6 + 9 * 3, 7 + 8 * 2, 8 + 9 * 2, 9};
	tu_assert_floats(out, want, 9, 0.0f);
}

Test(ref_conv, f32_top_left_padding_and_stride)
{
	/* 3x3 filter of ones, pad 1 all round, stride 2 on a 3x3 input: each
	 * of the 2x2 outputs sums the 2x2 block its window overlaps. */
	const float in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
	float filt[9], out[4];
	for (int i = 0; i < 9; i++)
		filt[i] = 1;
	sl_ref_conv_geom g = geom(3, 3, 1, 2, 2, 1, 3, 3);
	g.stride_h = g.stride_w = 2;
	g.pad_top = g.pad_left = 1;
	sl_ref_conv_f32_args a = {
	    .g = g, .input = in, .filter = filt, .output = out, .act_min = -FLT_MAX, .act_max = FLT_MAX};
	sl_ref_conv2d_f32(&a);
	const float want[4] = {1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9};
	tu_assert_floats(out, want, 4, 0.0f);
}

Test(ref_conv, f32_dilation)
{
	float in[25], filt[4] = {1, 1, 1, 1}, out[9];
	for (int i = 0; i < 25; i++)
		in[i] = (float)i;
	sl_ref_conv_geom g = geom(5, 5, 1, 3, 3, 1, 2, 2);
	g.dilation_h = g.dilation_w = 2;
	sl_ref_conv_f32_args a = {
	    .g = g, .input = in, .filter = filt, .output = out, .act_min = -FLT_MAX, .act_max = FLT_MAX};
	sl_ref_conv2d_f32(&a);
	/* out(y,x) = in(y,x) + in(y,x+2) + in(y+2,x) + in(y+2,x+2) = 4*(5y+x) + 24 */
	for (int y = 0; y < 3; y++)
		for (int x = 0; x < 3; x++)
			cr_assert_float_eq(out[y * 3 + x], 4.0f * (5 * y + x) + 24, 0, "at %d,%d", y, x);
}

Test(ref_conv, f32_channels_and_relu6)
{
	const float in[2] = {1, 2};
	const float filt[6] = {1, 0, 0, 1, 4, 4}; /* 3 outputs, OHWI with H=W=1 */
	const float bias[3] = {-3, 0, 0};
	float out[3], lo, hi;
	sl_ref_act_range_f32(SL_ACT_RELU6, &lo, &hi);
	sl_ref_conv_f32_args a = {.g = geom(1, 1, 2, 1, 1, 3, 1, 1),
				  .input = in,
				  .filter = filt,
				  .bias = bias,
				  .output = out,
				  .act_min = lo,
				  .act_max = hi};
	sl_ref_conv2d_f32(&a);
	const float want[3] = {0, 2, 6};
	tu_assert_floats(out, want, 3, 0.0f);
}

Test(ref_conv, f32_grouped)
{
	/* two groups of one channel: each output sees only its own input */
	const float in[2] = {3, 5}, filt[2] = {2, 10};
	float out[2];
	sl_ref_conv_geom g = geom(1, 1, 2, 1, 1, 2, 1, 1);
	g.groups = 2;
	sl_ref_conv_f32_args a = {
	    .g = g, .input = in, .filter = filt, .output = out, .act_min = -FLT_MAX, .act_max = FLT_MAX};
	sl_ref_conv2d_f32(&a);
	const float want[2] = {6, 50};
	tu_assert_floats(out, want, 2, 0.0f);
}

static void conv_q8_1x1(sl_dtype t, const void *in, const void *filt, int ic, int oc, const int32_t *bias,
			bool per_channel, const int32_t *fzp, const int32_t *mult, const int *shift,
			int32_t in_zp, int32_t out_zp, sl_act act, float out_scale, void *out)
{
	sl_ref_conv_q8_args a = {.g = geom(1, 1, ic, 1, 1, oc, 1, 1),
				 .in_type = t,
				 .filter_type = t,
				 .out_type = t,
				 .input = in,
				 .filter = filt,
				 .bias = bias,
				 .output = out,
				 .in_zp = in_zp,
				 .out_zp = out_zp,
				 .per_channel = per_channel,
				 .filter_zp = fzp,
				 .mult = mult,
				 .shift = shift};
	sl_ref_act_range_q8(act, t, out_scale, out_zp, &a.act_min, &a.act_max);
	sl_ref_conv2d_q8(&a);
}

Test(ref_conv, u8_per_tensor_hand)
{
	/* in scale .5 zp 128: 130 -> 1, 126 -> -1; filter scale .25 zp 100:
	 * 104 -> 1, 92 -> -2; 1*1 + -1*-2 = 3 -> q 13 with out scale 1 zp 10 */
	const uint8_t in[2] = {130, 126}, filt[2] = {104, 92};
	const float fs = 0.25f;
	int32_t mult, fzp = 100;
	int shift;
	uint8_t out[1];
	sl_ref_conv_q8_multipliers(0.5f, &fs, 1, 1.0f, &mult, &shift);
	conv_q8_1x1(SL_DTYPE_U8, in, filt, 2, 1, NULL, false, &fzp, &mult, &shift, 128, 10, SL_ACT_NONE, 1.0f,
		    out);
	cr_assert_eq(out[0], 13);
}

Test(ref_conv, u8_rounding_half_away_from_zero)
{
	/* acc * 1/8 = +-2.5 must round to +-3 (TFLite rounds half away from
	 * zero), and the output clamps at 0 and 255. Multiplier 1/8 is
	 * (2^30, shift -2): the doubling high-mul first rounds acc/2 half up,
	 * then the shift rounds again, so 11/8 = 1.375 gives 2 while -11/8
	 * gives -1 -- TFLite's double rounding, reproduced on purpose. */
	const float fs = 0.125f;
	int32_t mult, fzp = 0;
	int shift;
	sl_ref_conv_q8_multipliers(1.0f, &fs, 1, 1.0f, &mult, &shift);
	const uint8_t filt[1] = {1};
	const struct {
		uint8_t in;
		int32_t bias;
		int32_t out_zp;
		uint8_t want;
	} cases[] = {
	    {20, 0, 100, 103},	   /* 2.5 -> 3 */
	    {0, -20, 100, 97},	   /* -2.5 -> -3 */
	    {12, 0, 100, 102},	   /* 1.5 -> 2 */
	    {0, -12, 100, 98},	   /* -1.5 -> -2 */
	    {11, 0, 100, 102},	   /* 1.375 -> 5.5/4 -> 6/4 -> 2 */
	    {0, -11, 100, 99},	   /* -1.375 -> -5/4 -> -1 */
	    {10, 0, 100, 101},	   /* 1.25 -> 1 */
	    {0, -10, 100, 99},	   /* -1.25 -> -1 */
	    {0, -900, 100, 0},	   /* clamps low */
	    {255, 2000, 100, 255}, /* clamps high */
	};
	for (size_t i = 0; i < SL_ARRAY_SIZE(cases); i++) {
		uint8_t out[1];
		conv_q8_1x1(SL_DTYPE_U8, &cases[i].in, filt, 1, 1, &cases[i].bias, false, &fzp, &mult, &shift,
			    0, cases[i].out_zp, SL_ACT_NONE, 1.0f, out);
		cr_assert_eq(out[0], cases[i].want, "case %zu: got %d want %d", i, out[0], cases[i].want);
	}
}

Test(ref_conv, i8_per_channel_hand)
{
	/* in scale .5 zp -1: 3 -> 2, -5 -> -2; filter scales .1/.2, zp 0;
	 * ch0 (1, 2): -2 -> q -40 + 5; ch1 (-2, 1) + bias 20*.1 = -6 + 2 = -4
	 * -> q -80 + 5 (out scale .05, zp 5) */
	const int8_t in[2] = {3, -5}, filt[4] = {10, 20, -10, 5};
	const float fs[2] = {0.1f, 0.2f};
	const int32_t bias[2] = {0, 20}, fzp[2] = {0, 0};
	int32_t mult[2];
	int shift[2];
	int8_t out[2];
	sl_ref_conv_q8_multipliers(0.5f, fs, 2, 0.05f, mult, shift);
	conv_q8_1x1(SL_DTYPE_I8, in, filt, 2, 2, bias, true, fzp, mult, shift, -1, 5, SL_ACT_NONE, 0.05f,
		    out);
	cr_assert_eq(out[0], -35);
	cr_assert_eq(out[1], -75);
	/* fused RELU clamps at the zero point */
	conv_q8_1x1(SL_DTYPE_I8, in, filt, 2, 2, bias, true, fzp, mult, shift, -1, 5, SL_ACT_RELU, 0.05f,
		    out);
	cr_assert_eq(out[0], 5);
	cr_assert_eq(out[1], 5);
}

Test(ref_conv, q8_padding_contributes_nothing)
{
	/* With zp 128 a padded tap must add 0, not (0 - 128) * f. 2x2 filter of
	 * q 101 (real 1 at zp 100) at the bottom-right corner of SAME output. */
	const uint8_t in[4] = {138, 138, 138, 138}; /* real 5 at scale .5 */
	const uint8_t filt[4] = {101, 101, 101, 101};
	const float fs = 1.0f;
	int32_t mult, fzp = 100;
	int shift;
	uint8_t out[4];
	sl_ref_conv_q8_multipliers(0.5f, &fs, 1, 0.5f, &mult, &shift);
	sl_ref_conv_q8_args a = {.g = geom(2, 2, 1, 2, 2, 1, 2, 2),
				 .in_type = SL_DTYPE_U8,
				 .filter_type = SL_DTYPE_U8,
				 .out_type = SL_DTYPE_U8,
				 .input = in,
				 .filter = filt,
				 .output = out,
				 .in_zp = 128,
				 .out_zp = 0,
				 .filter_zp = &fzp,
				 .mult = &mult,
				 .shift = &shift,
				 .act_min = 0,
				 .act_max = 255};
	sl_ref_conv2d_q8(&a);
	/* 4, 2, 2 and 1 in-bounds taps of 5 * 1 = q 10 at scale .5 */
	const uint8_t want[4] = {40, 20, 20, 10};
	tu_assert_ints(out, want, 4);
}

Test(ref_conv, f32_depthwise_multiplier_2)
{
	/* input 2x2x2, channel 0 = 1..4, channel 1 = 5..8 */
	const float in[8] = {1, 5, 2, 6, 3, 7, 4, 8};
	/* filter [1,2,2,4]: oc = ic * 2 + m */
	const float filt[16] = {1, 1, 0, 1, /* (0,0) */ 1, 0, 0, -1, /* (0,1) */
				1, 0, 0, 1, /* (1,0) */ 1, 0, 1, -1 /* (1,1) */};
	const float bias[4] = {0, 0, 0, 100};
	float out[4];
	sl_ref_conv_geom g = geom(2, 2, 2, 1, 1, 4, 2, 2);
	g.depth_multiplier = 2;
	sl_ref_conv_f32_args a = {.g = g,
				  .input = in,
				  .filter = filt,
				  .bias = bias,
				  .output = out,
				  .act_min = -FLT_MAX,
				  .act_max = FLT_MAX};
	sl_ref_dwconv2d_f32(&a);
	const float want[4] = {10, 1, 8, 100 + 5 - 6 + 7 - 8};
	tu_assert_floats(out, want, 4, 0.0f);
}

Test(ref_conv, f32_depthwise_same_border)
{
	/* 3x3 ones filter, SAME on 2x2 (pad 1): every output sums all 4 inputs */
	const float in[4] = {1, 2, 3, 4};
	float filt[9], out[4];
	for (int i = 0; i < 9; i++)
		filt[i] = 1;
	sl_ref_conv_geom g = geom(2, 2, 1, 2, 2, 1, 3, 3);
	g.pad_top = g.pad_left = 1;
	sl_ref_conv_f32_args a = {
	    .g = g, .input = in, .filter = filt, .output = out, .act_min = -FLT_MAX, .act_max = FLT_MAX};
	sl_ref_dwconv2d_f32(&a);
	const float want[4] = {10, 10, 10, 10};
	tu_assert_floats(out, want, 4, 0.0f);
}

Test(ref_conv, u8_depthwise_hand)
{
	/* one 1x1 depthwise tap per channel, multiplier 2, per-tensor uint8 */
	const uint8_t in[2] = {140, 120};	      /* zp 128 scale 1: 12, -8 */
	const uint8_t filt[4] = {130, 126, 129, 127}; /* zp 128 scale .5: 1, -1, .5, -.5 */
	const float fs = 0.5f;
	int32_t mult, fzp = 128;
	int shift;
	uint8_t out[4];
	sl_ref_conv_q8_multipliers(1.0f, &fs, 1, 0.5f, &mult, &shift);
	sl_ref_conv_geom g = geom(1, 1, 2, 1, 1, 4, 1, 1);
	g.depth_multiplier = 2;
	sl_ref_conv_q8_args a = {.g = g,
				 .in_type = SL_DTYPE_U8,
				 .filter_type = SL_DTYPE_U8,
				 .out_type = SL_DTYPE_U8,
				 .input = in,
				 .filter = filt,
				 .output = out,
				 .in_zp = 128,
				 .out_zp = 128,
				 .filter_zp = &fzp,
				 .mult = &mult,
				 .shift = &shift,
				 .act_min = 0,
				 .act_max = 255};
	sl_ref_dwconv2d_q8(&a);
	/* 12*1, 12*-1, -8*.5, -8*-.5 at scale .5 */
	const uint8_t want[4] = {128 + 24, 128 - 24, 128 - 8, 128 + 8};
	tu_assert_ints(out, want, 4);
}

Test(ref_conv, f32_fully_connected)
{
	const float in[6] = {1, 2, 3, -1, -2, -3}, w[6] = {1, 0, 1, 0, 1, 0}, bias[2] = {0.5f, -1};
	float out[4];
	sl_ref_fc_f32_args a = {.batch = 2,
				.depth = 3,
				.out_c = 2,
				.input = in,
				.weights = w,
				.bias = bias,
				.output = out,
				.act_min = -FLT_MAX,
				.act_max = FLT_MAX};
	sl_ref_fc_f32(&a);
	const float want[4] = {4.5f, 1, -3.5f, -3};
	tu_assert_floats(out, want, 4, 0.0f);
	sl_ref_act_range_f32(SL_ACT_RELU_N1_TO_1, &a.act_min, &a.act_max);
	sl_ref_fc_f32(&a);
	const float want_clamped[4] = {1, 1, -1, -1};
	tu_assert_floats(out, want_clamped, 4, 0.0f);
}

Test(ref_conv, u8_fully_connected_hand)
{
	/* in zp 10 scale 1; w zp 3 scale 1; out zp 0 scale 2:
	 * (12-10)*(5-3) + (7-10)*(1-3) = 4 + 6 = 10, + bias 4 = 14 -> 7 */
	const uint8_t in[2] = {12, 7}, w[2] = {5, 1};
	const int32_t bias[1] = {4}, fzp = 3;
	const float fs = 1.0f;
	int32_t mult;
	int shift;
	uint8_t out[1];
	sl_ref_conv_q8_multipliers(1.0f, &fs, 1, 2.0f, &mult, &shift);
	sl_ref_fc_q8_args a = {.batch = 1,
			       .depth = 2,
			       .out_c = 1,
			       .in_type = SL_DTYPE_U8,
			       .filter_type = SL_DTYPE_U8,
			       .out_type = SL_DTYPE_U8,
			       .input = in,
			       .weights = w,
			       .bias = bias,
			       .output = out,
			       .in_zp = 10,
			       .out_zp = 0,
			       .filter_zp = &fzp,
			       .mult = &mult,
			       .shift = &shift,
			       .act_min = 0,
			       .act_max = 255};
	sl_ref_fc_q8(&a);
	cr_assert_eq(out[0], 7);
}

/* ---- consistency: quantized conv vs fp32 conv on dequantized values ---- */

typedef struct {
	int ih, iw, ic, oc, fh, fw, stride, dil, pad;
	bool dw, per_channel;
	sl_dtype t;
} sweep_case;

static int out_dim(int in, int f, int stride, int dil, int pad)
{
	const int eff = (f - 1) * dil + 1;
	return (in + 2 * pad - eff) / stride + 1;
}

static void run_consistency(const sweep_case *sc, uint64_t seed)
{
	tu_rng r = {seed};
	const int dm = sc->dw ? sc->oc / sc->ic : 1;
	const int oh = out_dim(sc->ih, sc->fh, sc->stride, sc->dil, sc->pad);
	const int ow = out_dim(sc->iw, sc->fw, sc->stride, sc->dil, sc->pad);
	const size_t n_in = (size_t)sc->ih * sc->iw * sc->ic;
	const size_t n_f = (size_t)sc->fh * sc->fw * (sc->dw ? sc->oc : sc->oc * sc->ic);
	const size_t n_out = (size_t)oh * ow * sc->oc;
	uint8_t *in = malloc(n_in), *filt = malloc(n_f), *out = malloc(n_out);
	float *fin = malloc(n_in * 4), *ffilt = malloc(n_f * 4), *fout = malloc(n_out * 4), fbias[64];
	int32_t bias[64], fzp[64], mult[64];
	int shift[64];
	float fscale[64];
	cr_assert(in && filt && out && fin && ffilt && fout && sc->oc <= 64);

	const bool s = sc->t == SL_DTYPE_I8;
	const float in_scale = tu_float(&r, 0.01f, 0.1f), out_scale = tu_float(&r, 0.05f, 0.5f);
	const int32_t in_zp = s ? tu_int(&r, -20, 20) : tu_int(&r, 100, 150);
	const int32_t out_zp = s ? tu_int(&r, -10, 10) : tu_int(&r, 120, 136);
	const int nq = sc->per_channel ? sc->oc : 1;
	for (int c = 0; c < nq; c++) {
		fscale[c] = tu_float(&r, 0.002f, 0.02f);
		fzp[c] = sc->per_channel ? 0 : (s ? tu_int(&r, -5, 5) : tu_int(&r, 110, 140));
	}
	tu_fill_q8(&r, in, n_in, sc->t);
	tu_fill_q8(&r, filt, n_f, sc->t);
	/* per-channel filters are symmetric: keep -128 out as TFLite does */
	if (s && sc->per_channel)
		for (size_t i = 0; i < n_f; i++)
			if (((int8_t *)filt)[i] == -128)
				((int8_t *)filt)[i] = -127;
	for (size_t i = 0; i < n_in; i++)
		fin[i] = in_scale * (float)(tu_ld(in, i, sc->t) - in_zp);
	for (int c = 0; c < sc->oc; c++) {
		const int q = sc->per_channel ? c : 0;
		bias[c] = tu_int(&r, -3000, 3000);
		fbias[c] = (float)bias[c] * in_scale * fscale[q];
	}
	for (size_t i = 0; i < n_f; i++) {
		/* channel is the outermost index for CONV_2D, innermost for depthwise */
		const int c = sc->dw ? (int)(i % (size_t)sc->oc) : (int)(i / ((size_t)n_f / sc->oc));
		const int q = sc->per_channel ? c : 0;
		ffilt[i] = fscale[q] * (float)(tu_ld(filt, i, sc->t) - fzp[q]);
	}
	sl_ref_conv_q8_multipliers(in_scale, fscale, nq, out_scale, mult, shift);

	sl_ref_conv_geom g = {.batch = 1,
			      .in_h = sc->ih,
			      .in_w = sc->iw,
			      .in_c = sc->ic,
			      .out_h = oh,
			      .out_w = ow,
			      .out_c = sc->oc,
			      .filter_h = sc->fh,
			      .filter_w = sc->fw,
			      .stride_h = sc->stride,
			      .stride_w = sc->stride,
			      .dilation_h = sc->dil,
			      .dilation_w = sc->dil,
			      .pad_top = sc->pad,
			      .pad_left = sc->pad,
			      .groups = 1,
			      .depth_multiplier = dm};
	sl_ref_conv_q8_args qa = {.g = g,
				  .in_type = sc->t,
				  .filter_type = sc->t,
				  .out_type = sc->t,
				  .input = in,
				  .filter = filt,
				  .bias = bias,
				  .output = out,
				  .in_zp = in_zp,
				  .out_zp = out_zp,
				  .per_channel = sc->per_channel,
				  .filter_zp = fzp,
				  .mult = mult,
				  .shift = shift,
				  .act_min = sl_ref_q8_min(sc->t),
				  .act_max = sl_ref_q8_max(sc->t)};
	sl_ref_conv_f32_args fa = {.g = g,
				   .input = fin,
				   .filter = ffilt,
				   .bias = fbias,
				   .output = fout,
				   .act_min = -FLT_MAX,
				   .act_max = FLT_MAX};
	if (sc->dw) {
		sl_ref_dwconv2d_q8(&qa);
		sl_ref_dwconv2d_f32(&fa);
	} else {
		sl_ref_conv2d_q8(&qa);
		sl_ref_conv2d_f32(&fa);
	}
	int max_diff = 0;
	for (size_t i = 0; i < n_out; i++) {
		float want = roundf(fout[i] / out_scale) + (float)out_zp;
		want = fminf(fmaxf(want, (float)sl_ref_q8_min(sc->t)), (float)sl_ref_q8_max(sc->t));
		const int d = abs(tu_ld(out, i, sc->t) - (int)want);
		max_diff = d > max_diff ? d : max_diff;
	}
	cr_assert_leq(max_diff, 1, "%s %s %s: quantized differs from float by %d steps",
		      sc->t == SL_DTYPE_I8 ? "int8" : "uint8", sc->dw ? "depthwise" : "conv",
		      sc->per_channel ? "per-channel" : "per-tensor", max_diff);
	free(in);
	free(filt);
	free(out);
	free(fin);
	free(ffilt);
	free(fout);
}

Test(ref_conv, q8_matches_float_within_one_step)
{
	const sweep_case cases[] = {
	    {5, 5, 3, 4, 3, 3, 1, 1, 1, false, false, SL_DTYPE_U8},
	    {5, 5, 3, 4, 3, 3, 1, 1, 1, false, true, SL_DTYPE_I8},
	    {7, 6, 4, 3, 3, 3, 2, 1, 1, false, true, SL_DTYPE_I8},
	    {7, 7, 2, 5, 3, 3, 1, 2, 2, false, false, SL_DTYPE_U8},
	    {8, 8, 8, 8, 1, 1, 1, 1, 0, false, true, SL_DTYPE_I8},
	    {6, 6, 3, 6, 3, 3, 1, 1, 1, true, false, SL_DTYPE_U8},
	    {6, 6, 3, 6, 3, 3, 2, 1, 1, true, true, SL_DTYPE_I8},
	    {9, 9, 4, 8, 3, 3, 1, 2, 2, true, true, SL_DTYPE_I8},
	    {5, 4, 2, 2, 5, 4, 1, 1, 0, true, false, SL_DTYPE_U8},
	};
	for (size_t i = 0; i < SL_ARRAY_SIZE(cases); i++)
		for (uint64_t seed = 1; seed <= 5; seed++)
			run_consistency(&cases[i], seed * 7919 + i);
}

Test(ref_conv, mixed_signedness_equals_shifted_values)
{
	/* uint8 input with zp z gives the same result as int8 input x-128 with
	 * zp z-128: the kernel subtracts zero points before multiplying. */
	tu_rng r = {42};
	uint8_t in_u[27], filt[2 * 27];
	int8_t in_s[27], out_s[2];
	uint8_t out_u[2];
	const float fs[2] = {0.01f, 0.02f};
	int32_t mult[2], fzp[2] = {0, 0};
	int shift[2];
	tu_fill_q8(&r, in_u, 27, SL_DTYPE_U8);
	tu_fill_q8(&r, filt, 54, SL_DTYPE_I8);
	for (int i = 0; i < 27; i++)
		in_s[i] = (int8_t)(in_u[i] - 128);
	sl_ref_conv_q8_multipliers(0.05f, fs, 2, 0.1f, mult, shift);
	sl_ref_conv_q8_args a = {.g = geom(3, 3, 3, 1, 1, 2, 3, 3),
				 .in_type = SL_DTYPE_U8,
				 .filter_type = SL_DTYPE_I8,
				 .out_type = SL_DTYPE_U8,
				 .input = in_u,
				 .filter = filt,
				 .output = out_u,
				 .in_zp = 130,
				 .out_zp = 128,
				 .per_channel = true,
				 .filter_zp = fzp,
				 .mult = mult,
				 .shift = shift,
				 .act_min = 0,
				 .act_max = 255};
	sl_ref_conv2d_q8(&a);
	a.in_type = SL_DTYPE_I8;
	a.out_type = SL_DTYPE_I8;
	a.input = in_s;
	a.in_zp = 2;
	a.out_zp = 0;
	a.output = out_s;
	a.act_min = -128;
	a.act_max = 127;
	sl_ref_conv2d_q8(&a);
	for (int c = 0; c < 2; c++)
		cr_assert_eq(out_u[c] - 128, out_s[c]);
}
