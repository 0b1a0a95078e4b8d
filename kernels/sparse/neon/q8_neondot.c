/* NEON int8/uint8 SpMM with the dot-product extension (built with
 * -march=armv8.2-a+dotprod, reached through dispatch; needs the int8 weight
 * copy). One SDOT by element multiplies a block column of 4 pixels by the
 * block's 4 weights, picked from a register holding 4 blocks: 16 MACs per
 * instruction, the weights' broadcast for free. */
#include "kernels/sparse/neon/neon_common.h"

#define MR SL_NEON_MR

/* Channel n's 16 output bytes. Two accumulator sets alternate between blocks
 * so that each SDOT chain has a block's worth of independent work between
 * its links. */
static inline __attribute__((always_inline)) uint8x16_t channel(const sl_sparse_q8 *p, int n,
								const int8_t *at, sl_sparse_rq mode)
{
	const sl_sparse_q8_chan *c = &p->ch[n];
	if (p->row[n] == p->row[n + 1])
		return vdupq_n_u8(c->out_const);
	int32x4_t a[4], b[4];
	SL_UNROLL
	for (int g = 0; g < 4; g++) {
		a[g] = vdupq_n_s32(c->bias_x80);
		b[g] = vdupq_n_s32(0);
	}
	const uint16_t *ip = p->idx + p->row[n], *const ie = p->idx + p->row[n + 1];
	const int8_t *wp = p->w8 + 4 * (size_t)p->row[n];
	for (; ie - ip >= 4; ip += 4, wp += 16) {
		const int8x16_t wv = vld1q_s8(wp);
		uint64_t i4;
		memcpy(&i4, ip, sizeof(i4));
		const int8x16x4_t c0 = vld1q_s8_x4(at + (size_t)(i4 & 0xffff) * 64);
		const int8x16x4_t c1 = vld1q_s8_x4(at + (size_t)((i4 >> 16) & 0xffff) * 64);
		const int8x16x4_t c2 = vld1q_s8_x4(at + (size_t)((i4 >> 32) & 0xffff) * 64);
		const int8x16x4_t c3 = vld1q_s8_x4(at + (size_t)(i4 >> 48) * 64);
		SL_UNROLL
		for (int g = 0; g < 4; g++) {
			a[g] = vdotq_laneq_s32(a[g], c0.val[g], wv, 0);
			b[g] = vdotq_laneq_s32(b[g], c1.val[g], wv, 1);
		}
		SL_UNROLL
		for (int g = 0; g < 4; g++) {
			a[g] = vdotq_laneq_s32(a[g], c2.val[g], wv, 2);
			b[g] = vdotq_laneq_s32(b[g], c3.val[g], wv, 3);
		}
	}
	for (; ip < ie; ip++, wp += 4) {
		const int8x16_t wv = vreinterpretq_s8_s32(vld1q_dup_s32((const int32_t *)(const void *)wp));
		const int8x16x4_t c0 = vld1q_s8_x4(at + (size_t)*ip * 64);
		SL_UNROLL
		for (int g = 0; g < 4; g++)
			a[g] = vdotq_s32(a[g], c0.val[g], wv);
	}
	int32x4_t r[4];
	SL_UNROLL
	for (int g = 0; g < 4; g++)
		r[g] = sl_neon_requant_any(vaddq_s32(a[g], b[g]), c, mode);
	return sl_neon_narrow(p, r);
}

/* One instantiation per requantization (a flag read per channel instead
 * costs the SDOT loop 4 instructions: tests/bench/neon_mca.sh). */
static inline __attribute__((always_inline)) void tiles(const sl_sparse_q8 *p, size_t m_begin, size_t m_end,
							const void *in, size_t in_stride, void *out,
							size_t out_stride, void *scratch, sl_sparse_rq mode)
{
	int8_t *at = sl_neon_align64(scratch);
	for (size_t m0 = m_begin; m0 < m_end; m0 += MR) {
		const size_t rows = SL_MIN(m_end - m0, (size_t)MR);
		sl_neon_pack_tile_q8(p, (const uint8_t *)in + m0 * in_stride, in_stride, rows, at);
		uint8_t *o = (uint8_t *)out + m0 * out_stride;
		for (int n0 = 0; n0 < p->n; n0 += 16) {
			const int nc = SL_MIN(p->n - n0, 16);
			uint8x16_t ct[16];
			/* Unrolled over the group's channels: per-slot branch prediction. */
			SL_UNROLL
			for (int i = 0; i < 16; i++)
				ct[i] = channel(p, SL_MIN(n0 + i, p->n - 1), at, mode);
			sl_neon_store_tile_u8(ct, nc, rows, o + n0, out_stride);
		}
	}
}

void SL_NEON_FN(sl_sparse_q8_neondot)(const sl_sparse_q8 *p, size_t m_begin, size_t m_end, const void *in,
				      size_t in_stride, void *out, size_t out_stride, void *scratch)
{
	switch (p->rq) {
	case SL_SPARSE_RQ_RNDNU:
		tiles(p, m_begin, m_end, in, in_stride, out, out_stride, scratch, SL_SPARSE_RQ_RNDNU);
		break;
	case SL_SPARSE_RQ_FP32:
		tiles(p, m_begin, m_end, in, in_stride, out, out_stride, scratch, SL_SPARSE_RQ_FP32);
		break;
	default:
		tiles(p, m_begin, m_end, in, in_stride, out, out_stride, scratch, SL_SPARSE_RQ_TFLITE);
	}
}
