/* AVERAGE_POOL_2D, MAX_POOL_2D and MEAN reference kernels. */
#include <float.h>

#include "tests/unit/kernels/ref/ref_testutil.h"

static sl_ref_pool_geom pgeom(int ih, int iw, int c, int oh, int ow, int f, int s, int pad)
{
	return (sl_ref_pool_geom){.batch = 1,
				  .in_h = ih,
				  .in_w = iw,
				  .c = c,
				  .out_h = oh,
				  .out_w = ow,
				  .filter_h = f,
				  .filter_w = f,
				  .stride_h = s,
				  .stride_w = s,
				  .pad_top = pad,
				  .pad_left = pad};
}

Test(ref_pool, avg_f32_valid_and_border_windows)
{
	float in[16], out[4];
	for (int i = 0; i < 16; i++)
		in[i] = (float)i;
	sl_ref_pool_f32_args a = {.g = pgeom(4, 4, 1, 2, 2, 2, 2, 0),
				  .input = in,
				  .output = out,
				  .act_min = -FLT_MAX,
				  .act_max = FLT_MAX};
	sl_ref_avgpool_f32(&a);
	const float want[4] = {2.5f, 4.5f, 10.5f, 12.5f};
	tu_assert_floats(out, want, 4, 0.0f);

	/* 3x3 input, 2x2 window, stride 2, SAME (pad bottom/right): the last
	 * row/column average only their in-bounds taps */
	a.g = pgeom(3, 3, 1, 2, 2, 2, 2, 0);
	sl_ref_avgpool_f32(&a);
	const float want_same[4] = {2, 3.5f, 6.5f, 8};
	tu_assert_floats(out, want_same, 4, 0.0f);

	/* pad 1 at top/left, 3x3 window, stride 2: each output sees 4 taps */
	a.g = pgeom(3, 3, 1, 2, 2, 3, 2, 1);
	sl_ref_avgpool_f32(&a);
	const float want_pad[4] = {2, 3, 5, 6};
	tu_assert_floats(out, want_pad, 4, 0.0f);
}

Test(ref_pool, avg_i8_rounding_half_away_from_zero)
{
	/* 1x2 windows over pairs: (-3,-2) = -2.5 -> -3, (3,2) = 2.5 -> 3,
	 * (-1,0) = -.5 -> -1, (1,0) = .5 -> 1, (-1,-1) -> -1, (1,2) -> 2 */
	const int8_t in[12] = {-3, -2, 3, 2, -1, 0, 1, 0, -1, -1, 1, 2};
	int8_t out[6];
	sl_ref_pool_geom g = {.batch = 1,
			      .in_h = 1,
			      .in_w = 12,
			      .c = 1,
			      .out_h = 1,
			      .out_w = 6,
			      .filter_h = 1,
			      .filter_w = 2,
			      .stride_h = 1,
			      .stride_w = 2};
	sl_ref_pool_q8_args a = {
	    .g = g, .type = SL_DTYPE_I8, .input = in, .output = out, .act_min = -128, .act_max = 127};
	sl_ref_avgpool_q8(&a);
	const int8_t want[6] = {-3, 3, -1, 1, -1, 2};
	tu_assert_ints(out, want, 6);
}

Test(ref_pool, avg_u8_rounding_and_activation)
{
	/* windows of 4: sums 1 (.25 -> 0), 2 (.5 -> 1), 6 (1.5 -> 2), 1022 */
	const uint8_t in[16] = {1, 0, 0, 0, 2, 0, 0, 0, 3, 3, 0, 0, 255, 255, 255, 257 - 2};
	uint8_t out[4];
	sl_ref_pool_geom g = {.batch = 1,
			      .in_h = 1,
			      .in_w = 16,
			      .c = 1,
			      .out_h = 1,
			      .out_w = 4,
			      .filter_h = 1,
			      .filter_w = 4,
			      .stride_h = 1,
			      .stride_w = 4};
	sl_ref_pool_q8_args a = {
	    .g = g, .type = SL_DTYPE_U8, .input = in, .output = out, .act_min = 0, .act_max = 255};
	sl_ref_avgpool_q8(&a);
	const uint8_t want[4] = {0, 1, 2, 255};
	tu_assert_ints(out, want, 4);
	/* RELU6 at scale .1 zp 0 clamps to 60 */
	sl_ref_act_range_q8(SL_ACT_RELU6, SL_DTYPE_U8, 0.1f, 0, &a.act_min, &a.act_max);
	sl_ref_avgpool_q8(&a);
	cr_assert_eq(out[3], 60);
}

Test(ref_pool, avg_q8_channels_and_padding)
{
	/* 2 channels, 2x2 input, 3x3 window with pad 1: every output averages
	 * all four in-bounds values of its channel */
	const uint8_t in[8] = {10, 100, 20, 101, 30, 102, 41, 103};
	uint8_t out[8];
	sl_ref_pool_q8_args a = {.g = pgeom(2, 2, 2, 2, 2, 3, 1, 1),
				 .type = SL_DTYPE_U8,
				 .input = in,
				 .output = out,
				 .act_min = 0,
				 .act_max = 255};
	sl_ref_avgpool_q8(&a);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(out[2 * i], 25);	   /* 101 / 4 = 25.25 */
		cr_assert_eq(out[2 * i + 1], 102); /* 406 / 4 = 101.5 -> 102 */
	}
}

Test(ref_pool, max_f32_and_q8_ignore_padding)
{
	/* all-negative input: padding must not win as a 0 */
	const float fin[4] = {-4, -3, -2, -1};
	float fout[4];
	sl_ref_pool_f32_args fa = {.g = pgeom(2, 2, 1, 2, 2, 3, 1, 1),
				   .input = fin,
				   .output = fout,
				   .act_min = -FLT_MAX,
				   .act_max = FLT_MAX};
	sl_ref_maxpool_f32(&fa);
	const float fwant[4] = {-1, -1, -1, -1};
	tu_assert_floats(fout, fwant, 4, 0.0f);

	const int8_t qin[9] = {-100, -90, -80, -70, -60, -50, -40, -30, -20};
	int8_t qout[4];
	sl_ref_pool_q8_args qa = {.g = pgeom(3, 3, 1, 2, 2, 2, 2, 0),
				  .type = SL_DTYPE_I8,
				  .input = qin,
				  .output = qout,
				  .act_min = -128,
				  .act_max = 127};
	sl_ref_maxpool_q8(&qa);
	const int8_t qwant[4] = {-60, -50, -30, -20};
	tu_assert_ints(qout, qwant, 4);
	/* fused RELU at zp -55 clamps below */
	qa.act_min = -55;
	sl_ref_maxpool_q8(&qa);
	const int8_t qwant_relu[4] = {-55, -50, -30, -20};
	tu_assert_ints(qout, qwant_relu, 4);
}

Test(ref_pool, mean_f32_axes)
{
	const float in[6] = {1, 2, 3, 4, 5, 6}; /* [2,3] */
	float out[3];
	sl_ref_mean_f32_args a = {
	    .g = {.rank = 2, .in_dims = {2, 3}, .axes_mask = 0x2}, .input = in, .output = out};
	sl_ref_mean_f32(&a);
	const float want_rows[2] = {2, 5};
	tu_assert_floats(out, want_rows, 2, 0.0f);
	a.g.axes_mask = 0x1;
	sl_ref_mean_f32(&a);
	const float want_cols[3] = {2.5f, 3.5f, 4.5f};
	tu_assert_floats(out, want_cols, 3, 0.0f);
	a.g.axes_mask = 0x3;
	sl_ref_mean_f32(&a);
	cr_assert_float_eq(out[0], 3.5f, 0);
}

Test(ref_pool, mean_f32_spatial_4d)
{
	/* [1,2,2,2] over H and W */
	const float in[8] = {1, 10, 2, 20, 3, 30, 4, 40};
	float out[2];
	sl_ref_mean_f32_args a = {
	    .g = {.rank = 4, .in_dims = {1, 2, 2, 2}, .axes_mask = 0x6}, .input = in, .output = out};
	sl_ref_mean_f32(&a);
	const float want[2] = {2.5f, 25};
	tu_assert_floats(out, want, 2, 0.0f);
}

static int32_t mean_q8_one(sl_dtype t, const void *in, int n, float is, int32_t iz, float os, int32_t oz)
{
	uint8_t out[1];
	sl_ref_mean_q8_args a = {.g = {.rank = 4, .in_dims = {1, 1, n, 1}, .axes_mask = 0x6},
				 .type = t,
				 .input = in,
				 .output = out,
				 .in_zp = iz,
				 .out_zp = oz};
	sl_ref_mean_q8_params(is, os, &a);
	sl_ref_mean_q8(&a);
	return tu_ld(out, 0, t);
}

Test(ref_pool, mean_q8_hand)
{
	/* sum(x - zp) = 7 over 4 at ratio 2: 3.5 -> 4, + zp -1 */
	const int8_t si[4] = {1, 2, 3, 5};
	cr_assert_eq(mean_q8_one(SL_DTYPE_I8, si, 4, 0.5f, 1, 0.25f, -1), 3);
	/* -11 / 4 = -2.75 -> -3 */
	const int8_t neg[4] = {-1, -2, -3, -5};
	cr_assert_eq(mean_q8_one(SL_DTYPE_I8, neg, 4, 0.5f, 0, 0.5f, 0), -3);
	/* count 3: 1/3 folds into a truncated multiplier, 4/3 -> 1 */
	const uint8_t u3[3] = {129, 129, 130};
	cr_assert_eq(mean_q8_one(SL_DTYPE_U8, u3, 3, 1.0f, 128, 1.0f, 128), 129);
	/* rescaling and saturation */
	const uint8_t big[2] = {255, 255};
	cr_assert_eq(mean_q8_one(SL_DTYPE_U8, big, 2, 1.0f, 0, 0.5f, 10), 255);
}

Test(ref_pool, mean_q8_params_fold_count)
{
	/* ratio 1 is (2^30, 1); count 4 adds 2 bits: (2^32 / 4, 1 - 2) */
	sl_ref_mean_q8_args a = {.g = {.rank = 2, .in_dims = {4, 5}, .axes_mask = 0x1}};
	sl_ref_mean_q8_params(0.5f, 0.5f, &a);
	cr_assert_eq(a.mult, 1 << 30);
	cr_assert_eq(a.shift, -1);
	/* count 49 (7x7): 5 extra bits, truncating division */
	a.g = (sl_ref_reduce_geom){.rank = 4, .in_dims = {1, 7, 7, 8}, .axes_mask = 0x6};
	sl_ref_mean_q8_params(0.5f, 0.5f, &a);
	cr_assert_eq(a.mult, (int32_t)(((int64_t)1 << 35) / 49));
	cr_assert_eq(a.shift, 1 - 5);
}

Test(ref_pool, mean_q8_matches_float)
{
	tu_rng r = {5};
	int8_t in[1 * 7 * 7 * 6], out[6];
	tu_fill_q8(&r, in, sizeof(in), SL_DTYPE_I8);
	const struct {
		float os;
		int32_t oz;
	} cases[] = {{0.03f, 4}, {0.05f, -3}, {0.05f, 2}};
	for (size_t k = 0; k < SL_ARRAY_SIZE(cases); k++) {
		sl_ref_mean_q8_args a = {.g = {.rank = 4, .in_dims = {1, 7, 7, 6}, .axes_mask = 0x6},
					 .type = SL_DTYPE_I8,
					 .input = in,
					 .output = out,
					 .in_zp = 2,
					 .out_zp = cases[k].oz};
		sl_ref_mean_q8_params(0.05f, cases[k].os, &a);
		sl_ref_mean_q8(&a);
		for (int c = 0; c < 6; c++) {
			float sum = 0;
			for (int i = 0; i < 49; i++)
				sum += 0.05f * (float)(in[i * 6 + c] - 2);
			const float want = roundf(sum / 49 / cases[k].os) + (float)cases[k].oz;
			cr_assert_leq(fabsf((float)out[c] - want), 1.0f, "case %zu channel %d: %d vs %g", k,
				      c, out[c], (double)want);
		}
	}
}
