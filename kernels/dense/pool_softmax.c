/* AVERAGE_POOL_2D, MEAN over height and width, and SOFTMAX on int8/uint8 for
 * the dense backend, bit-exact with the reference kernels (sl_ref_avgpool_q8,
 * sl_ref_mean_q8, sl_ref_softmax_q8).
 *
 * Why: under TFLite numerics XNNPACK declines them (its rounding differs),
 * and the reference took 46 (pool) or 145 (MEAN, TF2's MobileNet v2) and
 * 68 us of MobileNet v2's 3-5 ms: the pool and the MEAN walk channel by
 * channel with an index computation per tap, and the softmax evaluates
 * gemmlowp's fixed-point exp twice per element.
 *  - The pool and the MEAN here sum whole pixel rows (taps outer, channels
 *    inner: a loop the compiler vectorises), then finish once per channel.
 *  - The softmax's exp depends only on max - x, at most 255 apart for 8-bit
 *    input: the reference's own functions are tabulated once when the layer
 *    is prepared, so a row costs two lookups and one normalisation per
 *    element. Same integers, same results. */
#include <string.h>

#include "common/macros.h"
#include "kernels/dense/dense.h"
#include "kernels/quant.h"

size_t sl_dense_avgpool_q8_scratch(const sl_ref_pool_geom *g)
{
	return sizeof(uint32_t) * (size_t)(g->c > 0 ? g->c : 1);
}

/* acc[i] += x[i] as int8 (s) or uint8, i < c. Modulo 2^32: the reference's
 * int32 sums (the MEAN's truncated int64 one) are the same bits. */
static void sum_row(uint32_t *acc, const uint8_t *x, size_t c, bool s)
{
	if (s)
		for (size_t i = 0; i < c; i++)
			acc[i] += (uint32_t)(int32_t)(int8_t)x[i];
	else
		for (size_t i = 0; i < c; i++)
			acc[i] += x[i];
}

void sl_dense_avgpool_q8(const sl_ref_pool_q8_args *a, uint32_t *acc)
{
	const sl_ref_pool_geom *g = &a->g;
	const bool s = a->type == SL_DTYPE_I8;
	const uint8_t *in = a->input;
	uint8_t *out = a->output;
	const size_t c = (size_t)g->c;
	for (int b = 0; b < g->batch; b++)
		for (int oy = 0; oy < g->out_h; oy++)
			for (int ox = 0; ox < g->out_w; ox++) {
				const sl_ref_pool_win w = sl_ref_pool_window(g, b, oy, ox);
				memset(acc, 0, sizeof(uint32_t) * c);
				for (int fy = w.fy0; fy < w.fy1; fy++)
					for (int fx = w.fx0; fx < w.fx1; fx++)
						sum_row(acc,
							in + (((size_t)b * g->in_h + (size_t)(w.iy0 + fy)) *
								  g->in_w +
							      (size_t)(w.ix0 + fx)) *
								 c,
							c, s);
				const int32_t count = SL_MAX(0, w.fy1 - w.fy0) * SL_MAX(0, w.fx1 - w.fx0);
				for (size_t i = 0; i < c; i++) {
					int32_t v = (int32_t)acc[i];
					if (count > 0)
						v = sl_ref_pool_average(v, count);
					*out++ = (uint8_t)sl_clamp_i32(v, a->act_min, a->act_max);
				}
			}
}

void sl_dense_mean_hw_q8(const sl_ref_mean_q8_args *a, uint32_t *acc)
{
	const int32_t *d = a->g.in_dims;
	const int32_t lo = a->type == SL_DTYPE_I8 ? -128 : 0, hi = lo + 255;
	const size_t c = (size_t)d[3], taps = (size_t)d[1] * (size_t)d[2];
	const uint8_t *in = a->input;
	uint8_t *out = a->output;
	const uint32_t zp_total = (uint32_t)a->in_zp * (uint32_t)taps;
	for (int b = 0; b < d[0]; b++) {
		memset(acc, 0, sizeof(uint32_t) * c);
		for (size_t t = 0; t < taps; t++)
			sum_row(acc, in + ((size_t)b * taps + t) * c, c, a->type == SL_DTYPE_I8);
		for (size_t i = 0; i < c; i++) {
			const int32_t v =
			    sl_mul_by_quantized_multiplier((int32_t)(acc[i] - zp_total), a->mult, a->shift) +
			    a->out_zp;
			*out++ = (uint8_t)sl_clamp_i32(v, lo, hi);
		}
	}
}

void sl_dense_softmax_q8_init(const sl_ref_softmax_q8_args *a, sl_dense_softmax_tab *t)
{
	t->a = *a;
	for (int d = 0; d < 256; d++) {
		t->e[d] = sl_ref_softmax_q8_exp(a, -d);
		t->term[d] = t->e[d] < 0 ? 0 : sl_ref_softmax_q8_term(t->e[d]);
	}
}

void sl_dense_softmax_q8(const sl_dense_softmax_tab *t, const void *input, void *output)
{
	const bool si = t->a.in_type == SL_DTYPE_I8, so = t->a.out_type == SL_DTYPE_I8;
	const int n = t->a.depth;
	for (int r = 0; r < t->a.outer; r++) {
		const uint8_t *x = (const uint8_t *)input + (size_t)r * n;
		uint8_t *y = (uint8_t *)output + (size_t)r * n;
		/* in the unsigned domain (int8 flipped) max - x is the same difference */
		const uint8_t flip = si ? 0x80 : 0;
		uint8_t max = 0;
		for (int c = 0; c < n; c++)
			max = (uint8_t)(x[c] ^ flip) > max ? (uint8_t)(x[c] ^ flip) : max;
		int32_t sum = 0;
		for (int c = 0; c < n; c++)
			sum += t->term[max - (uint8_t)(x[c] ^ flip)];
		const sl_ref_softmax_q8_norm nm = sl_ref_softmax_q8_normalizer(sum);
		for (int c = 0; c < n; c++)
			y[c] = (uint8_t)sl_ref_softmax_q8_out(nm, t->e[max - (uint8_t)(x[c] ^ flip)], so);
	}
}
