/* Dense GEMM kernels (AVX2 6x16 natively on x86-64; NEON SDOT 8x8, SMLAL 4x4
 * natively on aarch64 or through SIMDe on x86) through the layer API (packing,
 * im2col tiles or direct reads, threading) against sl_ref_conv2d_q8 and
 * sl_ref_fc_q8, bit-exact: pixel counts, channel counts and K off every tile
 * size, K = 1, strides, paddings and dilations, int8/uint8 in every position,
 * per-channel and per-tensor weights with and without zero points, extreme
 * zero points, scales (left shifts included) and biases, 1 and 3 threads. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "dense_test_util.h"

static sl_ref_conv_geom geom(int batch, int ih, int iw, int ic, int oc, int fh, int fw, int sh, int sw,
			     int dil, int pt, int pl, int pb, int pr)
{
	sl_ref_conv_geom g = {.batch = batch,
			      .in_h = ih,
			      .in_w = iw,
			      .in_c = ic,
			      .out_c = oc,
			      .filter_h = fh,
			      .filter_w = fw,
			      .stride_h = sh,
			      .stride_w = sw,
			      .dilation_h = dil,
			      .dilation_w = dil,
			      .pad_top = pt,
			      .pad_left = pl,
			      .groups = 1,
			      .depth_multiplier = 1};
	g.out_h = (ih + pt + pb - dil * (fh - 1) - 1) / sh + 1;
	g.out_w = (iw + pl + pr - dil * (fw - 1) - 1) / sw + 1;
	return g;
}

static const sl_dtype types[] = {SL_DTYPE_I8, SL_DTYPE_U8};

/* Cycles the quantization parameters over a list of geometries. */
static void vary(sl_ntest_case *c, uint32_t i)
{
	c->in_t = i % 4 == 3 ? SL_DTYPE_U8 : SL_DTYPE_I8;
	c->w_t = i % 5 == 4 ? SL_DTYPE_U8 : SL_DTYPE_I8;
	c->out_t = types[(i / 2) % 2];
	c->per_channel = i % 3 != 0;
	c->zp = (int)(i % 7 < 5 ? ZP_RANDOM : (i % 7 == 5 ? ZP_MIN : ZP_MAX));
	c->wzp = i % 6 == 1 ? WZP_RANDOM : WZP_ZERO;
	c->scale = (int)(i % 9 < 6 ? SCALE_TYPICAL
				   : (i % 9 == 6 ? SCALE_WILD : (i % 9 == 7 ? SCALE_TINY : SCALE_HUGE)));
	c->bias = (int)(i % 11 == 0 ? BIAS_HUGE : (i % 13 == 0 ? BIAS_NONE : BIAS_SMALL));
	c->w_has_min = i % 4 == 2;
	c->narrow_act = i % 5 == 1;
	c->relu = i % 5 == 3;
	c->threads = i % 8 == 5 ? 3 : 1;
	c->seed = i + 1;
}

#define MAX_CASES 400

static size_t make_cases(sl_ntest_case *out, size_t max)
{
	size_t n = 0;
	uint32_t i = 0;
	/* 1x1: pixels x K x N around the tiles (direct reads when K % 8 == 0) */
	static const int hw[][2] = {{1, 1}, {1, 3}, {2, 2}, {3, 3}, {1, 9}, {4, 5}, {7, 7}, {3, 11}};
	static const int ks[] = {1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 40, 64, 100, 257};
	static const int ns[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33};
	for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++)
		for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]) && n < max; ni++, i++) {
			const int *p = hw[i % (sizeof(hw) / sizeof(hw[0]))];
			out[n] = (sl_ntest_case){.g = geom(1 + (i % 10 == 9), p[0], p[1], ks[ki], ns[ni], 1,
							   1, 1, 1, 1, 0, 0, 0, 0)};
			vary(&out[n++], i);
		}
	/* spatial filters: stride, padding, dilation, filter shapes */
	static const int sp[][10] = {
	    /* ih iw fh fw sh sw dil pt pl pb/pr */
	    {5, 5, 3, 3, 1, 1, 1, 1, 1, 1},   {6, 7, 3, 3, 2, 2, 1, 0, 0, 1},
	    {7, 6, 3, 3, 2, 2, 1, 1, 1, 1},   {9, 9, 3, 3, 1, 1, 2, 2, 2, 2},
	    {4, 4, 5, 5, 1, 1, 1, 2, 2, 2},   {8, 5, 1, 3, 1, 2, 1, 0, 1, 1},
	    {5, 8, 3, 1, 2, 1, 1, 1, 0, 1},   {3, 3, 7, 7, 2, 2, 1, 3, 3, 3},
	    {10, 10, 3, 3, 3, 3, 1, 1, 1, 0}, {6, 6, 2, 2, 2, 2, 1, 0, 0, 0},
	    {5, 5, 1, 1, 2, 2, 1, 0, 0, 0},   {4, 4, 1, 1, 1, 1, 1, 1, 1, 1},
	    {12, 12, 3, 3, 2, 2, 1, 0, 0, 1}, {2, 9, 3, 3, 1, 1, 3, 3, 3, 3},
	};
	static const int cs[][2] = {{1, 1}, {3, 8},   {3, 32}, {2, 5},	{8, 16},
				    {5, 9}, {16, 24}, {7, 17}, {24, 12}};
	for (size_t si = 0; si < sizeof(sp) / sizeof(sp[0]); si++)
		for (size_t ci = 0; ci < sizeof(cs) / sizeof(cs[0]) && n < max; ci++, i++) {
			const int *p = sp[si];
			out[n] =
			    (sl_ntest_case){.g = geom(1 + (i % 7 == 3), p[0], p[1], cs[ci][0], cs[ci][1],
						      p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[9])};
			vary(&out[n++], i);
		}
	/* every quantization variant on the direct 1x1 path and on a padded 3x3 */
	for (uint32_t r = 0; r < 48 && n < max; r++, i++) {
		out[n] = (sl_ntest_case){.g = r % 2 ? geom(1, 5, 3, 16, 12, 1, 1, 1, 1, 1, 0, 0, 0, 0)
						    : geom(1, 4, 5, 6, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1)};
		vary(&out[n], r * 7 + 1);
		out[n].in_t = types[r / 2 % 2];
		out[n].w_t = types[r / 4 % 2];
		out[n].out_t = types[r / 8 % 2];
		out[n].wzp = r / 16 % 2 ? WZP_RANDOM : WZP_ZERO;
		out[n].scale = (int)(r / 32 ? SCALE_WILD : SCALE_TYPICAL);
		out[n++].seed = i + 1;
	}
	return n;
}

ParameterizedTestParameters(neon_gemm, conv_matches_reference)
{
	static size_t ids[SL_NTEST_MAX_KERNELS];
	sl_dense_gemm_impl k[SL_NTEST_MAX_KERNELS];
	const size_t n = sl_ntest_gemm_kernels(k, SL_NTEST_MAX_KERNELS);
	for (size_t i = 0; i < n; i++)
		ids[i] = i;
	/* Indices, not the entries: Criterion runs each case in a re-executed
	 * process, where function pointers from this one mean nothing. */
	return cr_make_param_array(size_t, ids, n);
}

ParameterizedTest(size_t *ki, neon_gemm, conv_matches_reference)
{
	sl_dense_gemm_impl kernels[SL_NTEST_MAX_KERNELS];
	cr_assert_lt(*ki, sl_ntest_gemm_kernels(kernels, SL_NTEST_MAX_KERNELS));
	const sl_dense_gemm_impl *kern = &kernels[*ki];
	static sl_ntest_case cases[MAX_CASES];
	const size_t n_cases = make_cases(cases, MAX_CASES);
	size_t direct = 0, rowsum = 0, nopair = 0, wide = 0;
	for (size_t ci = 0; ci < n_cases; ci++) {
		sl_ntest_layer L;
		sl_ntest_layer_make(&cases[ci], &L);
		uint8_t *want = malloc(L.out_bytes), *got = malloc(L.out_bytes);
		memset(want, 0xA5, L.out_bytes);
		memset(got, 0x5A, L.out_bytes);
		sl_ntest_ref(&L, want);
		char why[256];
		const int r = sl_ntest_run_gemm(&L, kern, got, why, sizeof(why));
		cr_assert_eq(r, 0, "%s on %s: %d %s", kern->name, sl_ntest_case_str(&cases[ci]), r, why);
		direct += strstr(why, "direct") != NULL;
		rowsum += strstr(why, "rowsum") != NULL;
		nopair += strstr(why, "nopair") != NULL;
		wide += strstr(why, "wide") != NULL;
		for (size_t i = 0; i < L.out_bytes; i++)
			cr_assert_eq(got[i], want[i], "%s (%s) on %s: pixel %zu channel %zu: got %d, want %d",
				     kern->name, why, sl_ntest_case_str(&cases[ci]), i / (size_t)L.c.g.out_c,
				     i % (size_t)L.c.g.out_c, got[i], want[i]);
		free(want);
		free(got);
		sl_ntest_layer_free(&L);
	}
	/* the wide (AVX2) layouts have no direct reads, row sums or pairing:
	 * one packed path */
	if (sl_dense_layout_wide(kern->layout))
		cr_assert_eq(wide, n_cases, "coverage: %zu of %zu wide", wide, n_cases);
	else
		cr_assert(direct > 10 && rowsum > 10 && nopair > 10,
			  "coverage: %zu direct, %zu row sums, %zu unpaired", direct, rowsum, nopair);
}

/* FULLY_CONNECTED is the 1x1 case over batch pixels: the same layer run
 * against the reference FC kernel. */
ParameterizedTestParameters(neon_gemm, fc_matches_reference)
{
	static size_t ids[SL_NTEST_MAX_KERNELS];
	sl_dense_gemm_impl k[SL_NTEST_MAX_KERNELS];
	const size_t n = sl_ntest_gemm_kernels(k, SL_NTEST_MAX_KERNELS);
	for (size_t i = 0; i < n; i++)
		ids[i] = i;
	return cr_make_param_array(size_t, ids, n);
}

ParameterizedTest(size_t *ki, neon_gemm, fc_matches_reference)
{
	sl_dense_gemm_impl kernels[SL_NTEST_MAX_KERNELS];
	cr_assert_lt(*ki, sl_ntest_gemm_kernels(kernels, SL_NTEST_MAX_KERNELS));
	const sl_dense_gemm_impl *kern = &kernels[*ki];
	static const int batches[] = {1, 2, 5, 8, 9, 13};
	static const int depths[] = {1, 8, 13, 16, 24, 100, 128, 1280};
	static const int outs[] = {1, 4, 10, 17, 1001};
	uint32_t i = 0;
	for (size_t bi = 0; bi < sizeof(batches) / sizeof(batches[0]); bi++)
		for (size_t di = 0; di < sizeof(depths) / sizeof(depths[0]); di++, i++) {
			const int depth = depths[di],
				  out_c = outs[(bi + di) % (sizeof(outs) / sizeof(outs[0]))];
			sl_ntest_case c = {.g = {.batch = batches[bi],
						 .in_h = 1,
						 .in_w = 1,
						 .in_c = depth,
						 .out_h = 1,
						 .out_w = 1,
						 .out_c = out_c,
						 .filter_h = 1,
						 .filter_w = 1,
						 .stride_h = 1,
						 .stride_w = 1,
						 .dilation_h = 1,
						 .dilation_w = 1,
						 .groups = 1,
						 .depth_multiplier = 1}};
			vary(&c, i * 5 + 3);
			sl_ntest_layer L;
			sl_ntest_layer_make(&c, &L);
			uint8_t *want = malloc(L.out_bytes), *got = malloc(L.out_bytes);
			const sl_ref_fc_q8_args a = {.batch = batches[bi],
						     .depth = depth,
						     .out_c = out_c,
						     .in_type = c.in_t,
						     .filter_type = c.w_t,
						     .out_type = c.out_t,
						     .input = L.in,
						     .weights = L.w,
						     .bias = L.bias,
						     .output = want,
						     .in_zp = L.in_zp,
						     .out_zp = L.out_zp,
						     .per_channel = L.nq > 1,
						     .filter_zp = L.w_zp,
						     .mult = L.mult,
						     .shift = L.shift,
						     .act_min = L.act_min,
						     .act_max = L.act_max};
			sl_ref_fc_q8(&a);
			char why[256];
			cr_assert_eq(sl_ntest_run_gemm(&L, kern, got, why, sizeof(why)), 0, "%s", why);
			for (size_t e = 0; e < L.out_bytes; e++)
				cr_assert_eq(got[e], want[e],
					     "%s (%s) fc on %s: row %zu channel %zu: got %d, want %d",
					     kern->name, why, sl_ntest_case_str(&c), e / (size_t)out_c,
					     e % (size_t)out_c, got[e], want[e]);
			free(want);
			free(got);
			sl_ntest_layer_free(&L);
		}
}
