/* NEON int8/uint8 SpMM for cores without the dot product (Cortex-A72, built
 * for baseline ARMv8-A, reached through dispatch; needs the int8 weight copy).
 * SMULL/SMULL2 multiply a block column of 4 pixels by the block's 4 weights
 * (an LD1R-broadcast 32-bit group) into int16, SADALP folds adjacent pairs into
 * int32. When no weight is -128 (w8_no_min) two blocks share the int16 step
 * (SMLAL: |2 * 128 * 127| < 2^15), which halves the SADALPs: A72 issues
 * multiplies on one pipe and SADALP on the other, so this balances them. */
#include "kernels/sparse/neon/neon_common.h"

#define MR SL_NEON_MR

static inline int8x16_t bcast_block(const int8_t *w)
{
	return vreinterpretq_s8_s32(vld1q_dup_s32((const int32_t *)(const void *)w)); /* LD1R */
}

/* acc[2g + h]: lanes (pixel 4g + 2h, K pair 0 / 1), (pixel 4g + 2h + 1, ...) */
static inline void one_block(int32x4_t acc[8], const int8_t *col, int8x16_t w)
{
	const int8x16x4_t c = vld1q_s8_x4(col);
	SL_UNROLL
	for (int g = 0; g < 4; g++) {
		acc[2 * g] = vpadalq_s16(acc[2 * g], vmull_s8(vget_low_s8(c.val[g]), vget_low_s8(w)));
		acc[2 * g + 1] = vpadalq_s16(acc[2 * g + 1], vmull_high_s8(c.val[g], w));
	}
}

static inline __attribute__((always_inline)) uint8x16_t channel(const sl_sparse_q8 *p, int n,
								const int8_t *at, sl_sparse_rq mode)
{
	const sl_sparse_q8_chan *c = &p->ch[n];
	if (p->row[n] == p->row[n + 1])
		return vdupq_n_u8(c->out_const);
	int32x4_t acc[8];
	const int32x4_t init = vsetq_lane_s32(c->bias_x80, vsetq_lane_s32(c->bias_x80, vdupq_n_s32(0), 0), 2);
	SL_UNROLL
	for (int g = 0; g < 8; g++)
		acc[g] = init; /* lanes 0 and 2 start a pixel: pixel sums add lane pairs */
	/* Walk pointers, not an index: fewer integer ops in the loop. */
	const uint16_t *ip = p->idx + p->row[n], *const ie = p->idx + p->row[n + 1];
	const int8_t *wp = p->w8 + 4 * (size_t)p->row[n];
	if (p->w8_no_min) {
		for (; ie - ip >= 2; ip += 2, wp += 8) {
			const int8x16_t w0 = bcast_block(wp), w1 = bcast_block(wp + 4);
			const int8x16x4_t c0 = vld1q_s8_x4(at + (size_t)ip[0] * 64);
			const int8x16x4_t c1 = vld1q_s8_x4(at + (size_t)ip[1] * 64);
			SL_UNROLL
			for (int g = 0; g < 4; g++) {
				int16x8_t lo = vmull_s8(vget_low_s8(c0.val[g]), vget_low_s8(w0));
				int16x8_t hi = vmull_high_s8(c0.val[g], w0);
				lo = vmlal_s8(lo, vget_low_s8(c1.val[g]), vget_low_s8(w1));
				hi = vmlal_high_s8(hi, c1.val[g], w1);
				acc[2 * g] = vpadalq_s16(acc[2 * g], lo);
				acc[2 * g + 1] = vpadalq_s16(acc[2 * g + 1], hi);
			}
		}
	}
	for (; ip < ie; ip++, wp += 4)
		one_block(acc, at + (size_t)*ip * 64, bcast_block(wp));
	int32x4_t r[4];
	SL_UNROLL
	for (int g = 0; g < 4; g++)
		r[g] = sl_neon_requant_any(vpaddq_s32(acc[2 * g], acc[2 * g + 1]), c, mode);
	return sl_neon_narrow(p, r);
}

void SL_NEON_FN(sl_sparse_q8_neon)(const sl_sparse_q8 *p, size_t m_begin, size_t m_end, const void *in,
				   size_t in_stride, void *out, size_t out_stride, void *scratch)
{
	/* The requantization is a flag read per channel here, not one copy per
	 * mode as in the SDOT kernel: this way the SMULL loop came out 2
	 * instructions shorter, not longer (tests/bench/neon_mca.sh). */
	const sl_sparse_rq mode = p->rq;
	int8_t *at = sl_neon_align64(scratch);
	for (size_t m0 = m_begin; m0 < m_end; m0 += MR) {
		const size_t rows = SL_MIN(m_end - m0, (size_t)MR);
		sl_neon_pack_tile_q8(p, (const uint8_t *)in + m0 * in_stride, in_stride, rows, at);
		uint8_t *o = (uint8_t *)out + m0 * out_stride;
		for (int n0 = 0; n0 < p->n; n0 += 16) {
			const int nc = SL_MIN(p->n - n0, 16);
			uint8x16_t ct[16];
			SL_UNROLL
			for (int i = 0; i < 16; i++)
				ct[i] = channel(p, SL_MIN(n0 + i, p->n - 1), at, mode);
			sl_neon_store_tile_u8(ct, nc, rows, o + n0, out_stride);
		}
	}
}
