/* Depthwise convolution kernels (ARMv8.0), channels in the lanes, one output
 * pixel at a time from a table of tap pointers (built per output row by
 * run.c; padding taps point at a row of zero-point bytes).
 *
 * smlal8 (the fast path: int8 input and weights, weight zero points 0, no
 * weight of -128): SMULL/SMLAL multiply raw int8 values of two taps into one
 * int16 lane (two products fit), SADDW/SADDW2 widen the pair into the int32
 * accumulators, which start at the bias with -za * sum(w) folded in. The 3x3
 * version keeps the 9 weight registers of a 16-channel group live across the
 * pixels of the row.
 * smlal16 (every dtype combination): a - za and w - zw as int16, SMLAL by
 * 4-lane halves.
 * Channels past the last multiple of 8 go through a scalar tail with the
 * same arithmetic. */
#include "kernels/dense/neon/neon_simd.h"
#include "kernels/quant.h"

/* One channel, exactly as the reference: int32 wrap-around accumulation. */
static uint8_t tail_channel(const sl_dense_dw *p, bool fast, const uint8_t *const *pp, size_t ch)
{
	uint32_t acc = (uint32_t)(fast ? p->bias8 : p->bias16)[ch];
	const size_t cp = (size_t)p->cp;
	for (int t = 0; t < p->taps; t++) {
		const uint8_t raw = pp[t][ch];
		if (fast) {
			acc += (uint32_t)((int32_t)(int8_t)raw * p->w8[t * cp + ch]);
		} else {
			const int32_t a = p->rq.in_u8 ? (int32_t)raw : (int32_t)(int8_t)raw;
			acc += (uint32_t)((a - p->in_zp) * p->w16[t * cp + ch]);
		}
	}
	const sl_dense_requant *q = &p->rq;
	const int shift = q->lsh[ch] ? q->lsh[ch] : q->rsh[ch];
	const int32_t v =
	    (int32_t)((uint32_t)sl_mul_by_quantized_multiplier((int32_t)acc, q->mult[ch], shift) +
		      (uint32_t)q->out_zp);
	return (uint8_t)sl_clamp_i32(v, q->act_min, q->act_max);
}

static void tail(const sl_dense_dw *p, bool fast, size_t c0, size_t n_px, const uint8_t *const *ptrs,
		 uint8_t *out, size_t out_stride)
{
	for (size_t px = 0; px < n_px; px++)
		for (size_t ch = c0; ch < (size_t)p->c; ch++)
			out[px * out_stride + ch] = tail_channel(p, fast, ptrs + px * (size_t)p->taps, ch);
}

/* acc[0..3] (16 channels) += taps t0 and t1 (t1 < 0: t0 alone). */
static inline void pair16(int32x4_t acc[4], int8x16_t a0, int8x16_t w0, const int8x16_t *a1,
			  const int8x16_t *w1)
{
	int16x8_t lo = vmull_s8(vget_low_s8(a0), vget_low_s8(w0));
	int16x8_t hi = vmull_high_s8(a0, w0);
	if (a1) {
		lo = vmlal_s8(lo, vget_low_s8(*a1), vget_low_s8(*w1));
		hi = vmlal_high_s8(hi, *a1, *w1);
	}
	acc[0] = vaddw_s16(acc[0], vget_low_s16(lo));
	acc[1] = vaddw_high_s16(acc[1], lo);
	acc[2] = vaddw_s16(acc[2], vget_low_s16(hi));
	acc[3] = vaddw_high_s16(acc[3], hi);
}

static inline void pair8(int32x4_t acc[2], int8x8_t a0, int8x8_t w0, const int8x8_t *a1, const int8x8_t *w1)
{
	int16x8_t pr = vmull_s8(a0, w0);
	if (a1)
		pr = vmlal_s8(pr, *a1, *w1);
	acc[0] = vaddw_s16(acc[0], vget_low_s16(pr));
	acc[1] = vaddw_high_s16(acc[1], pr);
}

/* Requantization parameters of one call, copied out of the layer so that
 * the stores to the (aliasing) output bytes do not force reloads. */
typedef struct {
	const int32_t *mult, *lsh, *rsh;
	int any_lsh;
	sl_dense_out o;
} rq_ctx;

static inline rq_ctx rq_ctx_of(const sl_dense_dw *p)
{
	return (rq_ctx){.mult = p->rq.mult,
			.lsh = p->rq.lsh,
			.rsh = p->rq.rsh,
			.any_lsh = p->rq.any_lsh,
			.o = sl_dense_out_of(&p->rq)};
}

static inline int32x4_t rq4(const rq_ctx *q, int32x4_t x, size_t c0)
{
	return sl_dense_rq(x, vld1q_s32(q->mult + c0), vld1q_s32(q->lsh + c0), vld1q_s32(q->rsh + c0),
			  q->any_lsh);
}

static inline void store16(const rq_ctx *q, int32x4_t acc[4], size_t c0, uint8_t *d)
{
	int32x4_t r[4];
	SL_DENSE_UNROLL
	for (int i = 0; i < 4; i++)
		r[i] = rq4(q, acc[i], c0 + 4 * (size_t)i);
	vst1q_u8(d, sl_dense_narrow16(&q->o, r));
}

static inline void store8(const rq_ctx *q, int32x4_t acc[2], size_t c0, uint8_t *d)
{
	vst1_u8(d, sl_dense_narrow8(&q->o, rq4(q, acc[0], c0), rq4(q, acc[1], c0 + 4)));
}

/* 16 channels from c0 of every pixel, 9 weight registers live. Inlined twice
 * (with and without left shifts) so that the pixel loop has no branch. */
static inline __attribute__((always_inline)) void dw3x3_16(const sl_dense_dw *p, const rq_ctx *q, size_t n_px,
							   const uint8_t *const *ptrs, uint8_t *out,
							   size_t out_stride, size_t c0, const bool lsh)
{
	enum { T = 9 };
	const size_t cp = (size_t)p->cp;
	int8x16_t w[T];
	SL_DENSE_UNROLL
	for (int t = 0; t < T; t++)
		w[t] = vld1q_s8(p->w8 + t * cp + c0);
	const int32_t *bias = p->bias8 + c0, *mult = q->mult + c0, *rsh = q->rsh + c0, *lshp = q->lsh + c0;
	const sl_dense_out o = q->o;
	for (size_t px = 0; px < n_px; px++) {
		SL_DENSE_UNROLL
		for (int t = 0; t < T; t++)
			SL_DENSE_PIN(w[t]);
		const uint8_t *const *pp = ptrs + px * T;
		int8x16_t a[T];
		SL_DENSE_UNROLL
		for (int t = 0; t < T; t++)
			a[t] = vld1q_s8((const int8_t *)pp[t] + c0);
		const int32x4x4_t b = vld1q_s32_x4(bias);
		int32x4_t acc[4] = {b.val[0], b.val[1], b.val[2], b.val[3]};
		pair16(acc, a[0], w[0], &a[1], &w[1]);
		pair16(acc, a[2], w[2], &a[3], &w[3]);
		pair16(acc, a[4], w[4], &a[5], &w[5]);
		pair16(acc, a[6], w[6], &a[7], &w[7]);
		pair16(acc, a[8], w[8], NULL, NULL);
		const int32x4x4_t mu = vld1q_s32_x4(mult), rs = vld1q_s32_x4(rsh);
		int32x4_t r[4];
		if (lsh) {
			const int32x4x4_t ls = vld1q_s32_x4(lshp);
			SL_DENSE_UNROLL
			for (int i = 0; i < 4; i++)
				r[i] = sl_dense_rq(acc[i], mu.val[i], ls.val[i], rs.val[i], 1);
		} else {
			SL_DENSE_UNROLL
			for (int i = 0; i < 4; i++)
				r[i] = sl_dense_rq(acc[i], mu.val[i], mu.val[i], rs.val[i], 0);
		}
		vst1q_u8(out + px * out_stride + c0, sl_dense_narrow16(&o, r));
	}
}

void SL_DENSE_FN(sl_dense_dw_3x3_smlal8)(const sl_dense_dw *p, size_t n_px, const uint8_t *const *ptrs,
				       uint8_t *out, size_t out_stride)
{
	enum { T = 9 };
	const size_t c = (size_t)p->c, cp = (size_t)p->cp;
	const rq_ctx q = rq_ctx_of(p);
	size_t c0 = 0;
	for (; c0 + 16 <= c; c0 += 16) {
		if (q.any_lsh)
			dw3x3_16(p, &q, n_px, ptrs, out, out_stride, c0, true);
		else
			dw3x3_16(p, &q, n_px, ptrs, out, out_stride, c0, false);
	}
	if (c0 + 8 <= c) {
		int8x8_t w[T];
		SL_DENSE_UNROLL
		for (int t = 0; t < T; t++)
			w[t] = vld1_s8(p->w8 + t * cp + c0);
		const int32x4x2_t b = vld1q_s32_x2(p->bias8 + c0);
		for (size_t px = 0; px < n_px; px++) {
			const uint8_t *const *pp = ptrs + px * T;
			int8x8_t a[T];
			SL_DENSE_UNROLL
			for (int t = 0; t < T; t++)
				a[t] = vld1_s8((const int8_t *)pp[t] + c0);
			int32x4_t acc[2] = {b.val[0], b.val[1]};
			pair8(acc, a[0], w[0], &a[1], &w[1]);
			pair8(acc, a[2], w[2], &a[3], &w[3]);
			pair8(acc, a[4], w[4], &a[5], &w[5]);
			pair8(acc, a[6], w[6], &a[7], &w[7]);
			pair8(acc, a[8], w[8], NULL, NULL);
			store8(&q, acc, c0, out + px * out_stride + c0);
		}
		c0 += 8;
	}
	if (c0 < c)
		tail(p, true, c0, n_px, ptrs, out, out_stride);
}

void SL_DENSE_FN(sl_dense_dw_any_smlal8)(const sl_dense_dw *p, size_t n_px, const uint8_t *const *ptrs,
				       uint8_t *out, size_t out_stride)
{
	const size_t c = (size_t)p->c, cp = (size_t)p->cp, taps = (size_t)p->taps;
	const rq_ctx q = rq_ctx_of(p);
	const int8_t *const w8 = p->w8;
	const int32_t *const bias8 = p->bias8;
	for (size_t px = 0; px < n_px; px++) {
		const uint8_t *const *pp = ptrs + px * taps;
		uint8_t *d = out + px * out_stride;
		size_t c0 = 0;
		for (; c0 + 16 <= c; c0 += 16) {
			const int32x4x4_t b = vld1q_s32_x4(bias8 + c0);
			int32x4_t acc[4] = {b.val[0], b.val[1], b.val[2], b.val[3]};
			const int8_t *wt = w8 + c0;
			size_t t = 0;
			for (; t + 2 <= taps; t += 2, wt += 2 * cp) {
				const int8x16_t a1 = vld1q_s8((const int8_t *)pp[t + 1] + c0),
						w1 = vld1q_s8(wt + cp);
				pair16(acc, vld1q_s8((const int8_t *)pp[t] + c0), vld1q_s8(wt), &a1, &w1);
			}
			if (t < taps)
				pair16(acc, vld1q_s8((const int8_t *)pp[t] + c0), vld1q_s8(wt), NULL, NULL);
			store16(&q, acc, c0, d + c0);
		}
		if (c0 + 8 <= c) {
			const int32x4x2_t b = vld1q_s32_x2(bias8 + c0);
			int32x4_t acc[2] = {b.val[0], b.val[1]};
			const int8_t *wt = w8 + c0;
			size_t t = 0;
			for (; t + 2 <= taps; t += 2, wt += 2 * cp) {
				const int8x8_t a1 = vld1_s8((const int8_t *)pp[t + 1] + c0),
					       w1 = vld1_s8(wt + cp);
				pair8(acc, vld1_s8((const int8_t *)pp[t] + c0), vld1_s8(wt), &a1, &w1);
			}
			if (t < taps)
				pair8(acc, vld1_s8((const int8_t *)pp[t] + c0), vld1_s8(wt), NULL, NULL);
			store8(&q, acc, c0, d + c0);
			c0 += 8;
		}
		if (c0 < c)
			tail(p, true, c0, 1, pp, d, out_stride);
	}
}

/* a - za in int16 for 8 channels. */
static inline int16x8_t centred(const uint8_t *src, int in_u8, uint8x8_t zu, int8x8_t zs)
{
	if (in_u8)
		return vreinterpretq_s16_u16(vsubl_u8(vld1_u8(src), zu));
	return vsubl_s8(vld1_s8((const int8_t *)src), zs);
}

void SL_DENSE_FN(sl_dense_dw_any_smlal16)(const sl_dense_dw *p, size_t n_px, const uint8_t *const *ptrs,
					uint8_t *out, size_t out_stride)
{
	const size_t c = (size_t)p->c, cp = (size_t)p->cp, taps = (size_t)p->taps;
	const int in_u8 = p->rq.in_u8;
	const rq_ctx q = rq_ctx_of(p);
	const int16_t *const w16 = p->w16;
	const int32_t *const bias16 = p->bias16;
	const uint8x8_t zu = vdup_n_u8((uint8_t)p->in_zp);
	const int8x8_t zs = vdup_n_s8((int8_t)p->in_zp);
	for (size_t px = 0; px < n_px; px++) {
		const uint8_t *const *pp = ptrs + px * taps;
		uint8_t *d = out + px * out_stride;
		size_t c0 = 0;
		for (; c0 + 8 <= c; c0 += 8) {
			const int32x4x2_t b = vld1q_s32_x2(bias16 + c0);
			int32x4_t acc0 = b.val[0], acc1 = b.val[1];
			const int16_t *wt = w16 + c0;
			for (size_t t = 0; t < taps; t++, wt += cp) {
				const int16x8_t av = centred(pp[t] + c0, in_u8, zu, zs), wv = vld1q_s16(wt);
				acc0 = vmlal_s16(acc0, vget_low_s16(av), vget_low_s16(wv));
				acc1 = vmlal_high_s16(acc1, av, wv);
			}
			int32x4_t acc[2] = {acc0, acc1};
			store8(&q, acc, c0, d + c0);
		}
		if (c0 < c)
			tail(p, false, c0, 1, pp, d, out_stride);
	}
}
