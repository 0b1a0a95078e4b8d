/* The dense backend's int8/uint8 AVERAGE_POOL_2D and SOFTMAX (pool_softmax.c)
 * against the reference kernels, bit-exact: pooling windows clipped by every
 * edge, global pooling, channel counts around vector widths, activation
 * clamps; softmax rows from 1 element to several thousand, betas and input
 * scales that put the input radius anywhere in the 8-bit range, flat rows and
 * one-hot rows, every input/output type pair. */
#include <criterion/criterion.h>
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
	int32_t *acc = malloc(sl_dense_avgpool_q8_scratch(g));
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
