/* The dense backend's int8/uint8 AVERAGE_POOL_2D, MEAN and SOFTMAX
 * (pool_softmax.c) and QUANTIZE (quantize.c) against the reference kernels,
 * bit-exact: pooling windows clipped by every edge, global pooling, channel
 * counts around vector widths, activation clamps; MEAN over height and width
 * with zero points and scale ratios both ways; softmax rows from 1 element to
 * several thousand, betas and input scales that put the input radius
 * anywhere in the 8-bit range, flat rows and one-hot rows, every input/output
 * type pair; float quantization at the rounding ties, the type's limits,
 * infinities and NaN. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dense_test_util.h"

static uint32_t rnd(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

static void check_pool(const sl_ref_pool_geom *g, sl_dtype t, int32_t act_min, int32_t act_max, uint32_t *s)
{
	const size_t n_in = (size_t)g->batch * g->in_h * g->in_w * g->c,
		     n_out = (size_t)g->batch * g->out_h * g->out_w * g->c;
	uint8_t *in = malloc(n_in), *want = malloc(n_out), *got = malloc(n_out);
	uint32_t *acc = malloc(sl_dense_avgpool_q8_scratch(g));
	cr_assert(in && want && got && acc);
	for (size_t i = 0; i < n_in; i++)
		in[i] = (uint8_t)rnd(s);
	sl_ref_pool_q8_args a = {.g = *g, .type = t, .input = in, .act_min = act_min, .act_max = act_max};
	a.output = want;
	sl_ref_avgpool_q8(&a);
	a.output = got;
	memset(got, 0x5a, n_out);
	sl_dense_avgpool_q8(&a, acc);
	cr_assert_arr_eq(got, want, n_out, "avgpool %dx%dx%d, filter %dx%d stride %d pad %d,%d, %s", g->in_h,
			 g->in_w, g->c, g->filter_h, g->filter_w, g->stride_h, g->pad_top, g->pad_left,
			 sl_dtype_name(t));
	free(in);
	free(want);
	free(got);
	free(acc);
}

Test(dense_pool, avgpool_matches_reference)
{
	static const int cs[] = {1, 3, 15, 16, 17, 33, 64, 1280};
	uint32_t s = 7;
	for (int round = 0; round < 400; round++) {
		const int c = cs[round % 8];
		sl_ref_pool_geom g = {.batch = 1 + round % 2, .c = c};
		g.in_h = 1 + (int)(rnd(&s) % 9);
		g.in_w = 1 + (int)(rnd(&s) % 9);
		if (round % 5 == 0) { /* global, as MobileNet's classifier head */
			g.filter_h = g.in_h;
			g.filter_w = g.in_w;
			g.stride_h = g.stride_w = 1;
		} else {
			g.filter_h = 1 + (int)(rnd(&s) % 4);
			g.filter_w = 1 + (int)(rnd(&s) % 4);
			g.stride_h = 1 + (int)(rnd(&s) % 3);
			g.stride_w = 1 + (int)(rnd(&s) % 3);
			g.pad_top = (int)(rnd(&s) % (unsigned)g.filter_h);
			g.pad_left = (int)(rnd(&s) % (unsigned)g.filter_w);
		}
		g.out_h = (g.in_h + 2 * g.pad_top - g.filter_h) / g.stride_h + 1;
		g.out_w = (g.in_w + 2 * g.pad_left - g.filter_w) / g.stride_w + 1;
		if (g.out_h < 1 || g.out_w < 1)
			continue;
		const sl_dtype t = round % 3 ? SL_DTYPE_I8 : SL_DTYPE_U8;
		const int32_t lo = t == SL_DTYPE_I8 ? -128 : 0;
		int32_t amin = lo, amax = lo + 255;
		if (round % 4 == 1) { /* a fused ReLU6-like clamp */
			amin = lo + 20;
			amax = lo + 200;
		}
		check_pool(&g, t, amin, amax, &s);
	}
}

static void check_softmax(int outer, int depth, float beta, float in_scale, sl_dtype ti, sl_dtype to,
			  int shape, uint32_t *s)
{
	const size_t n = (size_t)outer * depth;
	uint8_t *in = malloc(n), *want = malloc(n), *got = malloc(n);
	cr_assert(in && want && got);
	for (size_t i = 0; i < n; i++) {
		if (shape == 0)
			in[i] = (uint8_t)rnd(s);
		else if (shape == 1) /* flat */
			in[i] = 77;
		else /* one hot: the row's extremes 255 apart */
			in[i] = i % (size_t)depth == (size_t)depth / 2 ? (ti == SL_DTYPE_I8 ? 0x7f : 0xff)
								       : (ti == SL_DTYPE_I8 ? 0x80 : 0);
	}
	sl_ref_softmax_q8_args a = {
	    .in_type = ti, .out_type = to, .outer = outer, .depth = depth, .input = in};
	sl_ref_softmax_q8_params(beta, in_scale, &a);
	a.output = want;
	sl_ref_softmax_q8(&a);
	sl_dense_softmax_tab *t = malloc(sizeof(*t));
	cr_assert(t);
	sl_dense_softmax_q8_init(&a, t);
	memset(got, 0x5a, n);
	sl_dense_softmax_q8(t, in, got);
	cr_assert_arr_eq(got, want, n, "softmax %d x %d, beta %g, scale %g, %s -> %s, shape %d", outer, depth,
			 (double)beta, (double)in_scale, sl_dtype_name(ti), sl_dtype_name(to), shape);
	free(t);
	free(in);
	free(want);
	free(got);
}

Test(dense_softmax, matches_reference)
{
	static const int depths[] = {1, 2, 7, 16, 17, 255, 256, 1001, 3000};
	static const float betas[] = {1.0f, 0.5f, 2.0f};
	uint32_t s = 11;
	for (int round = 0; round < 300; round++) {
		const int depth = depths[round % 9];
		/* input scales from 0.001 (the whole 8-bit range inside the radius)
		 * to 1 (most of it outside: those elements drop out) */
		const float in_scale = 0.001f * (float)(1 + rnd(&s) % 1000);
		const sl_dtype ti = round / 9 % 2 ? SL_DTYPE_I8 : SL_DTYPE_U8;
		const sl_dtype to = round / 18 % 2 ? SL_DTYPE_I8 : SL_DTYPE_U8;
		check_softmax(1 + round % 3, depth, betas[round % 3], in_scale, ti, to, round / 36 % 3, &s);
	}
}

Test(dense_mean, hw_matches_reference)
{
	static const int cs[] = {1, 3, 16, 17, 64, 1280};
	uint32_t s = 5;
	for (int round = 0; round < 120; round++) {
		const int c = cs[round % 6], h = 1 + (int)(rnd(&s) % 9), w = 1 + (int)(rnd(&s) % 9),
			  b = 1 + round % 2;
		const sl_dtype t = round % 3 ? SL_DTYPE_I8 : SL_DTYPE_U8;
		const int32_t lo = t == SL_DTYPE_I8 ? -128 : 0;
		const size_t n_in = (size_t)b * h * w * c, n_out = (size_t)b * c;
		uint8_t *in = malloc(n_in), *want = malloc(n_out), *got = malloc(n_out);
		uint32_t *acc = malloc(sizeof(uint32_t) * (size_t)c);
		cr_assert(in && want && got && acc);
		for (size_t i = 0; i < n_in; i++)
			in[i] = (uint8_t)rnd(&s);
		sl_ref_mean_q8_args a = {.g = {.rank = 4, .in_dims = {b, h, w, c}, .axes_mask = 0x6},
					 .type = t,
					 .input = in,
					 .in_zp = lo + (int32_t)(rnd(&s) % 256),
					 .out_zp = lo + (int32_t)(rnd(&s) % 256)};
		/* output scales from a tenth to ten times the input's */
		sl_ref_mean_q8_params(0.02f, 0.002f * (float)(1 + rnd(&s) % 100), &a);
		a.output = want;
		sl_ref_mean_q8(&a);
		a.output = got;
		memset(got, 0x5a, n_out);
		sl_dense_mean_hw_q8(&a, acc);
		cr_assert_arr_eq(got, want, n_out, "mean %dx%dx%dx%d %s", b, h, w, c, sl_dtype_name(t));
		free(in);
		free(want);
		free(got);
		free(acc);
	}
}

Test(dense_quantize, f32_matches_reference)
{
	enum { N = 4096 + 13 }; /* the last 13 through the scalar tail */
	float *x = malloc(sizeof(float) * N);
	uint8_t want[N], got[N];
	uint32_t s = 3;
	cr_assert(x);
	for (int round = 0; round < 60; round++) {
		const float scale = round % 4 == 0 ? 0.0078125f : 0.0001f * (float)(1 + rnd(&s) % 20000);
		const sl_dtype t = round % 2 ? SL_DTYPE_I8 : SL_DTYPE_U8;
		const int32_t lo = t == SL_DTYPE_I8 ? -128 : 0, zp = lo + (int32_t)(rnd(&s) % 256);
		for (int i = 0; i < N; i++) {
			const int k = (int)(rnd(&s) % 8);
			if (k == 0) /* ties and their neighbours, scaled back: x / scale lands near n + 0.5 */
				x[i] = ((float)((int)(rnd(&s) % 600) - 300) + 0.5f) * scale;
			else if (k == 1)
				x[i] = nextafterf(x[i > 0 ? i - 1 : 0], (rnd(&s) & 1) ? INFINITY : -INFINITY);
			else if (k == 2) /* far outside the range, both signs */
				x[i] = ((rnd(&s) & 1) ? 1.0f : -1.0f) * scale * ldexpf(1.0f, (int)(rnd(&s) % 40));
			else
				x[i] = ((float)(rnd(&s) % 200001) - 100000.0f) * 0.003f * scale;
		}
		x[0] = INFINITY;
		x[1] = -INFINITY;
		x[2] = NAN;
		x[3] = -0.0f;
		x[4] = 0.49999997f * scale;
		x[5] = -0.5f * scale;
		x[6] = 3e38f;
		x[7] = -3e38f;
		x[N - 1] = NAN;
		x[N - 2] = 0.5f * scale;
		x[N - 3] = -2.5f * scale;
		sl_ref_quantize_f32(x, want, N, t, scale, zp);
		memset(got, 0x5a, N);
		sl_dense_quantize_f32(x, got, N, t, scale, zp);
		for (int i = 0; i < N; i++)
			cr_assert_eq(got[i], want[i], "quantize %.9g / %.9g, zp %d, %s: %d, reference %d",
				     (double)x[i], (double)scale, zp, sl_dtype_name(t), got[i], want[i]);
	}
	free(x);
}

/* The sign flip the backend takes a uint8 input's requantization for is
 * the reference's byte table exactly when the scales match and the zero
 * points are 128 apart. */
Test(dense_quantize, sign_flip_is_the_reference_table)
{
	uint8_t lut[256], got[256], bytes[256];
	for (int v = 0; v < 256; v++)
		bytes[v] = (uint8_t)v;
	sl_ref_requantize_table(SL_DTYPE_U8, 0.0078125f, 128, SL_DTYPE_I8, 0.0078125f, 0, lut);
	sl_dense_xor_bytes(bytes, got, 256, 0x80);
	cr_assert_arr_eq(got, lut, 256);
	sl_ref_requantize_table(SL_DTYPE_I8, 0.0078431f, -1, SL_DTYPE_U8, 0.0078431f, 127, lut);
	cr_assert_arr_eq(got, lut, 256);
	sl_ref_requantize_table(SL_DTYPE_I8, 0.05f, 3, SL_DTYPE_I8, 0.05f, 3, lut);
	sl_dense_xor_bytes(bytes, got, 256, 0);
	cr_assert_arr_eq(got, lut, 256);
}
