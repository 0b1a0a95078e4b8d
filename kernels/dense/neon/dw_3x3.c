/* 3x3 depthwise kernels (ARMv8.0), the 9 weight registers of a channel
 * block live across the pixels of an output row; arithmetic as dw_smlal.c's.
 *
 * smlal8 (fast path), 16 channels per block: one pixel at a time, or, for
 * stride 1 (3x3s1), two adjacent pixels sharing their input columns.
 * smlal16 (every dtype combination), 8 channels per block.
 * Requantization takes 18 to 32 instructions per 16 outputs against 18
 * multiplies for their 144 MACs, so it bounds these loops as much as the
 * multiplies do: each layer runs a loop specialised for its variant (see
 * variant_of) and output type, with no branch inside. */
#include "kernels/dense/neon/dw_neon.h"

/* 16 channels from c0 of every pixel, 9 weight registers live. */
static inline __attribute__((always_inline)) void dw3x3_16(const sl_dense_dw *p, const rq_ctx *q, size_t n_px,
							   const uint8_t *const *ptrs, uint8_t *out,
							   size_t out_stride, size_t c0, const int mode,
							   const int u8)
{
	enum { T = 9 };
	const size_t cp = (size_t)p->cp;
	int8x16_t w[T];
	SL_DENSE_UNROLL
	for (int t = 0; t < T; t++)
		w[t] = vld1q_s8(p->w8 + t * cp + c0);
	const int32_t *bias = p->bias8 + c0;
	sl_dense_out o = q->o;
	o.u8 = u8;
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
		vst1q_u8(out + px * out_stride + c0, rq16(q, &o, acc, c0, mode));
	}
}

/* Channels from c0 (a multiple of 16) of the 3x3 kernels: one block of 8,
 * then the scalar tail. */
static void dw3x3_rest(const sl_dense_dw *p, const rq_ctx *q, size_t c0, size_t n_px,
		       const uint8_t *const *ptrs, uint8_t *out, size_t out_stride)
{
	enum { T = 9 };
	const size_t c = (size_t)p->c, cp = (size_t)p->cp;
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
			store8(q, acc, c0, out + px * out_stride + c0);
		}
		c0 += 8;
	}
	if (c0 < c)
		tail(p, true, c0, n_px, ptrs, out, out_stride);
}

/* Stride 1 (dilation 1), two horizontally adjacent pixels per iteration:
 * pixel px + 1's taps in filter columns 0 and 1 are pixel px's in columns 1
 * and 2 (run.c gives one input position one pointer, padding included), so a
 * pair loads 4 input columns per row instead of 6, and the bias and
 * requantization constants once. Taps are paired within a row (columns 0
 * and 1) and down column 2 (rows 0 and 1), which keeps few input registers
 * live. Pixels past the last pair go through dw3x3_16. */
static inline __attribute__((always_inline)) void dw3x3s1_16(const sl_dense_dw *p, const rq_ctx *q,
							     size_t n_px, const uint8_t *const *ptrs,
							     uint8_t *out, size_t out_stride, size_t c0,
							     const int mode, const int u8)
{
	enum { T = 9 };
	const size_t cp = (size_t)p->cp;
	int8x16_t w[T];
	SL_DENSE_UNROLL
	for (int t = 0; t < T; t++)
		w[t] = vld1q_s8(p->w8 + t * cp + c0);
	const int32_t *bias = p->bias8 + c0;
	sl_dense_out o = q->o;
	o.u8 = u8;
	size_t px = 0;
	for (; px + 2 <= n_px; px += 2) {
		SL_DENSE_UNROLL
		for (int t = 0; t < T; t++)
			SL_DENSE_PIN(w[t]);
		const uint8_t *const *pp = ptrs + px * T;
		/* y's bias loaded again, not copied: one register array fewer */
		const int32_t *bias_y = bias;
		__asm__("" : "+r"(bias_y));
		int32x4_t x[4], y[4];
		SL_DENSE_UNROLL
		for (int i = 0; i < 4; i++) {
			x[i] = vld1q_s32(bias + 4 * i);
			y[i] = vld1q_s32(bias_y + 4 * i);
		}
		/* row 0's input columns 2 and 3, for the column-2 pair */
		int8x16_t c2 = vdupq_n_s8(0), c3 = c2;
		SL_DENSE_UNROLL
		for (int r = 0; r < 3; r++) {
			const int8x16_t a0 = vld1q_s8((const int8_t *)pp[3 * r] + c0),
					a1 = vld1q_s8((const int8_t *)pp[3 * r + 1] + c0),
					a2 = vld1q_s8((const int8_t *)pp[3 * r + 2] + c0),
					a3 = vld1q_s8((const int8_t *)pp[T + 3 * r + 2] + c0);
			pair16(x, a0, w[3 * r], &a1, &w[3 * r + 1]);
			pair16(y, a1, w[3 * r], &a2, &w[3 * r + 1]);
			if (r == 0) {
				c2 = a2;
				c3 = a3;
			} else if (r == 1) {
				pair16(x, c2, w[2], &a2, &w[5]);
				pair16(y, c3, w[2], &a3, &w[5]);
			} else {
				pair16(x, a2, w[8], NULL, NULL);
				pair16(y, a3, w[8], NULL, NULL);
			}
		}
		uint8_t *d = out + px * out_stride + c0;
		vst1q_u8(d, rq16(q, &o, x, c0, mode));
		vst1q_u8(d + out_stride, rq16(q, &o, y, c0, mode));
	}
	if (px < n_px)
		dw3x3_16(p, q, n_px - px, ptrs + px * T, out + px * out_stride, out_stride, c0, mode, u8);
}

void SL_DENSE_FN(sl_dense_dw_3x3s1_smlal8)(const sl_dense_dw *p, size_t n_px, const uint8_t *const *ptrs,
					   uint8_t *out, size_t out_stride)
{
	const size_t c = (size_t)p->c;
	const rq_ctx q = rq_ctx_of(p);
	const int v = variant_of(p);
	size_t c0 = 0;
	for (; c0 + 16 <= c; c0 += 16)
		DW3X3_VARIANT(dw3x3s1_16, v, p, &q, n_px, ptrs, out, out_stride, c0);
	dw3x3_rest(p, &q, c0, n_px, ptrs, out, out_stride);
}

void SL_DENSE_FN(sl_dense_dw_3x3_smlal8)(const sl_dense_dw *p, size_t n_px, const uint8_t *const *ptrs,
					 uint8_t *out, size_t out_stride)
{
	const size_t c = (size_t)p->c;
	const rq_ctx q = rq_ctx_of(p);
	const int v = variant_of(p);
	size_t c0 = 0;
	for (; c0 + 16 <= c; c0 += 16)
		DW3X3_VARIANT(dw3x3_16, v, p, &q, n_px, ptrs, out, out_stride, c0);
	dw3x3_rest(p, &q, c0, n_px, ptrs, out, out_stride);
}

/* Every dtype combination, 3x3: 8 channels from c0 of every pixel, the 9
 * int16 weight registers (w - zw) live, a - za widened per tap. */
static inline __attribute__((always_inline)) void dw3x3_w16_8(const sl_dense_dw *p, const rq_ctx *q,
							      size_t n_px, const uint8_t *const *ptrs,
							      uint8_t *out, size_t out_stride, size_t c0,
							      const int in_u8, const int mode, const int u8)
{
	enum { T = 9 };
	const size_t cp = (size_t)p->cp;
	int16x8_t w[T];
	SL_DENSE_UNROLL
	for (int t = 0; t < T; t++)
		w[t] = vld1q_s16(p->w16 + t * cp + c0);
	const int32_t *bias = p->bias16 + c0;
	sl_dense_out o = q->o;
	o.u8 = u8;
	const uint8x8_t zu = vdup_n_u8((uint8_t)p->in_zp);
	const int8x8_t zs = vdup_n_s8((int8_t)p->in_zp);
	for (size_t px = 0; px < n_px; px++) {
		SL_DENSE_UNROLL
		for (int t = 0; t < T; t++)
			SL_DENSE_PIN(w[t]);
		const uint8_t *const *pp = ptrs + px * T;
		int32x4_t acc[2] = {vld1q_s32(bias), vld1q_s32(bias + 4)};
		SL_DENSE_UNROLL
		for (int t = 0; t < T; t++) {
			const int16x8_t av = centred(pp[t] + c0, in_u8, zu, zs);
			acc[0] = vmlal_s16(acc[0], vget_low_s16(av), vget_low_s16(w[t]));
			acc[1] = vmlal_high_s16(acc[1], av, w[t]);
		}
		vst1_u8(out + px * out_stride + c0, rq8(q, &o, acc, c0, mode));
	}
}

void SL_DENSE_FN(sl_dense_dw_3x3_smlal16)(const sl_dense_dw *p, size_t n_px, const uint8_t *const *ptrs,
					  uint8_t *out, size_t out_stride)
{
	const size_t c = (size_t)p->c;
	const rq_ctx q = rq_ctx_of(p);
	const int v = variant_of(p);
	size_t c0 = 0;
	for (; c0 + 8 <= c; c0 += 8) {
		if (p->rq.in_u8)
			DW3X3_VARIANT(dw3x3_w16_8, v, p, &q, n_px, ptrs, out, out_stride, c0, 1);
		else
			DW3X3_VARIANT(dw3x3_w16_8, v, p, &q, n_px, ptrs, out, out_stride, c0, 0);
	}
	if (c0 < c)
		tail(p, false, c0, n_px, ptrs, out, out_stride);
}
