/* PAD and CONCATENATION reference kernels. */
#include "tests/unit/kernels/ref/ref_testutil.h"

Test(ref_shape, pad_f32_2d)
{
	const float in[4] = {1, 2, 3, 4};
	const float zero = 0;
	float out[12];
	sl_ref_pad_args a = {.rank = 2,
			     .in_dims = {2, 2},
			     .pads = {{1, 0}, {0, 2}},
			     .elem_size = 4,
			     .pad_value = &zero,
			     .input = in,
			     .output = out};
	sl_ref_pad(&a);
	const float want[12] = {0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0};
	tu_assert_floats(out, want, 12, 0.0f);
}

Test(ref_shape, pad_u8_nhwc_with_zero_point)
{
	/* [1,1,2,1] padded spatially by 1 all round with the zero point 128 */
	const uint8_t in[2] = {5, 6};
	const uint8_t zp = 128;
	uint8_t out[12];
	sl_ref_pad_args a = {.rank = 4,
			     .in_dims = {1, 1, 2, 1},
			     .pads = {{0, 0}, {1, 1}, {1, 1}, {0, 0}},
			     .elem_size = 1,
			     .pad_value = &zp,
			     .input = in,
			     .output = out};
	sl_ref_pad(&a);
	const uint8_t want[12] = {128, 128, 128, 128, 128, 5, 6, 128, 128, 128, 128, 128};
	tu_assert_ints(out, want, 12);
}

Test(ref_shape, pad_channels)
{
	/* padding the innermost dimension */
	const int8_t in[4] = {1, 2, 3, 4}, pv = -7;
	int8_t out[8];
	sl_ref_pad_args a = {.rank = 2,
			     .in_dims = {2, 2},
			     .pads = {{0, 0}, {1, 1}},
			     .elem_size = 1,
			     .pad_value = &pv,
			     .input = in,
			     .output = out};
	sl_ref_pad(&a);
	const int8_t want[8] = {-7, 1, 2, -7, -7, 3, 4, -7};
	tu_assert_ints(out, want, 8);
}

Test(ref_shape, concat_f32_inner_axis)
{
	const float a[2] = {1, 2}, b[4] = {10, 11, 20, 21};
	const void *ins[2] = {a, b};
	const int32_t dims[2] = {1, 2};
	float out[6];
	sl_ref_concat_args c = {
	    .n = 2, .inputs = ins, .axis_dims = dims, .outer = 2, .inner = 1, .elem_size = 4, .output = out};
	sl_ref_concat(&c);
	const float want[6] = {1, 10, 11, 2, 20, 21};
	tu_assert_floats(out, want, 6, 0.0f);
}

Test(ref_shape, concat_q8_rescales_differing_inputs)
{
	/* out scale 1 zp 0; input 0 matches (copied), input 1 scale .5 zp 10
	 * (rescaled: (14 - 10) * .5 = 2, (15 - 10) * .5 = 2.5 -> 3, 0 -> -5 ->
	 * clamped to 0) */
	const uint8_t a[2] = {7, 200}, b[3] = {14, 15, 0};
	const void *ins[2] = {a, b};
	const int32_t dims[2] = {2, 3}, zps[2] = {0, 10};
	const float scales[2] = {1, 0.5f};
	uint8_t out[5];
	sl_ref_concat_q8_args c = {
	    .c = {.n = 2, .inputs = ins, .axis_dims = dims, .outer = 1, .inner = 1, .output = out},
	    .type = SL_DTYPE_U8,
	    .in_scale = scales,
	    .in_zp = zps,
	    .out_scale = 1,
	    .out_zp = 0};
	sl_ref_concat_q8(&c);
	const uint8_t want[5] = {7, 200, 2, 3, 0};
	tu_assert_ints(out, want, 5);

	/* int8 with an output zero point */
	const int8_t sa[1] = {-100}, sb[1] = {100};
	const void *sins[2] = {sa, sb};
	const int32_t sdims[2] = {1, 1}, szp[2] = {0, 0};
	const float ssc[2] = {0.1f, 0.1f};
	int8_t sout[2];
	sl_ref_concat_q8_args s = {
	    .c = {.n = 2, .inputs = sins, .axis_dims = sdims, .outer = 1, .inner = 1, .output = sout},
	    .type = SL_DTYPE_I8,
	    .in_scale = ssc,
	    .in_zp = szp,
	    .out_scale = 0.05f,
	    .out_zp = -3};
	sl_ref_concat_q8(&s);
	cr_assert_eq(sout[0], -128); /* -10 / .05 = -200 - 3, clamped */
	cr_assert_eq(sout[1], 127);
}
