/* NEON depthwise kernels (3x3 and any-size SMLAL on int8 with paired int16
 * products, any-dtype SMLAL on int16) through the layer API against
 * sl_ref_dwconv2d_q8, bit-exact: channel counts around 8 and 16 (scalar
 * tails), 3x3 stride 1 and 2 with every padding, other filter shapes,
 * dilation, tiny inputs where most taps are padding, batch 2, dtype and
 * zero-point variants, extreme scales and biases, 1 and 3 threads; stride 1
 * 3x3 at output widths from 1 (the paired-pixel kernel's odd pixel). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dense_test_util.h"

static sl_ref_conv_geom geom(int batch, int ih, int iw, int c, int fh, int fw, int s, int dil, int pt, int pl,
			     int pb, int pr)
{
	sl_ref_conv_geom g = {.batch = batch,
			      .in_h = ih,
			      .in_w = iw,
			      .in_c = c,
			      .out_c = c,
			      .filter_h = fh,
			      .filter_w = fw,
			      .stride_h = s,
			      .stride_w = s,
			      .dilation_h = dil,
			      .dilation_w = dil,
			      .pad_top = pt,
			      .pad_left = pl,
			      .groups = 1,
			      .depth_multiplier = 1};
	g.out_h = (ih + pt + pb - dil * (fh - 1) - 1) / s + 1;
	g.out_w = (iw + pl + pr - dil * (fw - 1) - 1) / s + 1;
	return g;
}

static const sl_dtype types[] = {SL_DTYPE_I8, SL_DTYPE_U8};

static void vary(sl_ntest_case *c, uint32_t i)
{
	/* Mostly the fast path's types (int8, symmetric weights), as in TF2 models. */
	c->in_t = i % 5 == 4 ? SL_DTYPE_U8 : SL_DTYPE_I8;
	c->w_t = i % 7 == 6 ? SL_DTYPE_U8 : SL_DTYPE_I8;
	c->out_t = types[(i / 2) % 2];
	c->per_channel = i % 3 != 0;
	c->zp = (int)(i % 7 < 5 ? ZP_RANDOM : (i % 7 == 5 ? ZP_MIN : ZP_MAX));
	c->wzp = i % 9 == 4 ? WZP_RANDOM : WZP_ZERO;
	c->scale = (int)(i % 9 < 6 ? SCALE_TYPICAL
				   : (i % 9 == 6 ? SCALE_WILD : (i % 9 == 7 ? SCALE_TINY : SCALE_HUGE)));
	c->bias = (int)(i % 11 == 0 ? BIAS_HUGE : (i % 13 == 0 ? BIAS_NONE : BIAS_SMALL));
	c->w_has_min = i % 10 == 3;
	c->narrow_act = i % 5 == 1;
	c->relu = i % 5 == 3;
	c->threads = i % 8 == 5 ? 3 : 1;
	c->depthwise = true;
	c->seed = i + 1;
}

#define MAX_CASES 400

static size_t make_cases(sl_ntest_case *out, size_t max)
{
	size_t n = 0;
	uint32_t i = 0;
	static const int sp[][10] = {
	    /* ih iw fh fw s dil pt pl pb pr */
	    {6, 7, 3, 3, 1, 1, 1, 1, 1, 1}, {7, 7, 3, 3, 2, 1, 1, 1, 1, 1},  {8, 8, 3, 3, 2, 1, 0, 0, 1, 1},
	    {5, 9, 3, 3, 1, 1, 0, 0, 0, 0}, {9, 6, 3, 3, 2, 1, 0, 0, 0, 0},  {1, 1, 3, 3, 1, 1, 1, 1, 1, 1},
	    {2, 3, 3, 3, 2, 1, 1, 1, 1, 1}, {7, 7, 3, 3, 1, 2, 2, 2, 2, 2},  {6, 6, 5, 5, 1, 1, 2, 2, 2, 2},
	    {7, 5, 5, 5, 2, 1, 1, 2, 2, 1}, {4, 6, 1, 1, 1, 1, 0, 0, 0, 0},  {5, 5, 2, 4, 1, 1, 0, 1, 1, 2},
	    {3, 8, 1, 3, 1, 1, 0, 1, 0, 1}, {11, 4, 7, 7, 3, 1, 3, 3, 3, 3}, {4, 4, 3, 3, 3, 1, 1, 1, 1, 1},
	};
	static const int cs[] = {1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 72};
	for (size_t si = 0; si < sizeof(sp) / sizeof(sp[0]); si++)
		for (size_t ci = 0; ci < sizeof(cs) / sizeof(cs[0]) && n < max; ci++, i++) {
			const int *p = sp[si];
			out[n] = (sl_ntest_case){.g = geom(1 + (i % 9 == 4), p[0], p[1], cs[ci], p[2], p[3],
							   p[4], p[5], p[6], p[7], p[8], p[9])};
			vary(&out[n++], i);
		}
	/* every dtype / zero point / scale variant on a padded 3x3 */
	for (uint32_t r = 0; r < 48 && n < max; r++, i++) {
		out[n] =
		    (sl_ntest_case){.g = geom(1, 5, 6, r % 2 ? 24 : 19, 3, 3, 1 + r % 3 / 2, 1, 1, 1, 1, 1)};
		vary(&out[n], r * 5 + 2);
		out[n].in_t = types[r / 2 % 2];
		out[n].w_t = types[r / 4 % 2];
		out[n].out_t = types[r / 8 % 2];
		out[n].wzp = r / 16 % 2 ? WZP_RANDOM : WZP_ZERO;
		out[n].scale = (int)(r / 32 ? SCALE_WILD : SCALE_TYPICAL);
		out[n++].seed = i + 1;
	}
	/* stride 1 3x3 (the paired-pixel kernel): odd and even output widths
	 * from 1, padding on either side or none */
	for (uint32_t r = 0; r < 56 && n < max; r++, i++) {
		static const int wd[] = {1, 2, 3, 4, 5, 6, 9};
		const int iw = wd[r % 7], pl = iw == 1 || r / 7 % 2, pr = r / 14 % 2, pt = r % 2;
		out[n] = (sl_ntest_case){.g = geom(1 + (r % 5 == 2), 3 + r % 3, iw + 1 - pr, cs[r % 14], 3, 3,
						   1, 1, pt, pl, 1 - pt, pr)};
		vary(&out[n++], i);
	}
	return n;
}

ParameterizedTestParameters(neon_dw, matches_reference)
{
	static size_t ids[SL_NTEST_MAX_KERNELS];
	sl_dense_dw_impl k[SL_NTEST_MAX_KERNELS];
	const size_t n = sl_ntest_dw_kernels(k, SL_NTEST_MAX_KERNELS);
	for (size_t i = 0; i < n; i++)
		ids[i] = i;
	/* Indices, not the entries: Criterion runs each case in a re-executed
	 * process, where function pointers from this one mean nothing. */
	return cr_make_param_array(size_t, ids, n);
}

ParameterizedTest(size_t *ki, neon_dw, matches_reference)
{
	sl_dense_dw_impl kernels[SL_NTEST_MAX_KERNELS];
	cr_assert_lt(*ki, sl_ntest_dw_kernels(kernels, SL_NTEST_MAX_KERNELS));
	const sl_dense_dw_impl *kern = &kernels[*ki];
	static sl_ntest_case cases[MAX_CASES];
	const size_t n_cases = make_cases(cases, MAX_CASES);
	size_t ran = 0;
	for (size_t ci = 0; ci < n_cases; ci++) {
		sl_ntest_layer L;
		sl_ntest_layer_make(&cases[ci], &L);
		uint8_t *want = malloc(L.out_bytes), *got = malloc(L.out_bytes);
		memset(want, 0xA5, L.out_bytes);
		memset(got, 0x5A, L.out_bytes);
		sl_ntest_ref(&L, want);
		char why[256];
		const int r = sl_ntest_run_dw(&L, kern, got, why, sizeof(why));
		if (r != -EOPNOTSUPP) {
			cr_assert_eq(r, 0, "%s on %s: %d %s", kern->name, sl_ntest_case_str(&cases[ci]), r,
				     why);
			ran++;
			for (size_t e = 0; e < L.out_bytes; e++)
				cr_assert_eq(
				    got[e], want[e], "%s (%s) on %s: pixel %zu channel %zu: got %d, want %d",
				    kern->name, why, sl_ntest_case_str(&cases[ci]), e / (size_t)L.c.g.out_c,
				    e % (size_t)L.c.g.out_c, got[e], want[e]);
		}
		free(want);
		free(got);
		sl_ntest_layer_free(&L);
	}
	cr_assert_gt(ran, 40, "%s ran only %zu of %zu cases", kern->name, ran, n_cases);
}
