/* Depthwise convolution kernels of any filter shape (ARMv8.0), channels in
 * the lanes, one output pixel at a time from a table of tap pointers (built
 * per output row by run.c; padding taps point at a row of zero-point bytes).
 *
 * smlal8 (the fast path: int8 input and weights, weight zero points 0, no
 * weight of -128): SMULL/SMLAL multiply raw int8 values of two taps into one
 * int16 lane (two products fit), SADDW/SADDW2 widen the pair into the int32
 * accumulators, which start at the bias with -za * sum(w) folded in.
 * smlal16 (every dtype combination): a - za and w - zw as int16, SMLAL by
 * 4-lane halves.
 * Channels past the last multiple of 8 go through a scalar tail with the
 * same arithmetic. The 3x3 kernels are in dw_3x3.c. */
#include "kernels/dense/neon/dw_neon.h"

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
