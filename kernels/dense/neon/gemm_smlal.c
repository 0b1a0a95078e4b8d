/* GEMM micro-kernel for ARMv8.0 (no dot product): 4 pixels x 4 channels.
 *
 * Each (pixel, channel) pair has its own int32x4 accumulator; per 16 K values
 * SMULL + SMLAL2 multiply 8 + 8 int8 pairs into int16 lanes holding the sum of
 * two products, and SADALP adds those pairs into the int32 lanes. Two
 * products fit int16 unless both are (-128)(-128), so the pairing is used
 * only when no packed weight is -128 (pair_ok); otherwise SMULL and SMULL2
 * each go through their own SADALP. On Cortex-A72 the multiplies issue on one
 * pipe and SADALP on the other, so the pair form runs at the core's SMLAL
 * rate. The 4 lanes of each accumulator are summed once per output tile. */
#include "kernels/dense/neon/neon_simd.h"

#define MR SL_DENSE_GEMM_MR_C16
#define NR 4

static inline void store4(uint8_t *d, uint8x8_t v, int half, size_t nc)
{
	if (nc == 4) {
		if (half)
			vst1_lane_u32((uint32_t *)(void *)d, vreinterpret_u32_u8(v), 1);
		else
			vst1_lane_u32((uint32_t *)(void *)d, vreinterpret_u32_u8(v), 0);
		return;
	}
	uint8_t t[8];
	vst1_u8(t, v);
	memcpy(d, t + 4 * half, nc);
}

void SL_DENSE_FN(sl_dense_gemm_smlal_4x4)(const sl_dense_gemm *p, size_t rows, const int8_t *a, size_t a_stride,
					const int32_t *rowsum, uint8_t *c, size_t c_stride)
{
	const int8_t *ar[MR];
	SL_DENSE_UNROLL
	for (int m = 0; m < MR; m++)
		ar[m] = a + ((size_t)m < rows ? (size_t)m : rows - 1) * a_stride;
	const size_t kp = (size_t)p->kp, k16 = kp & ~(size_t)15, n = (size_t)p->n;
	const int8_t *wp = p->w;
	const sl_dense_requant *q = &p->rq;
	/* copied out: stores to the output bytes may alias the layer's fields */
	const sl_dense_out o = sl_dense_out_of(q);
	const int32_t *const bias = p->bias, *const cw = p->cw, *const mult = q->mult, *const lsh = q->lsh,
			     *const rsh = q->rsh;
	const int any_lsh = q->any_lsh, pair_ok = p->pair_ok;

	for (size_t n0 = 0; n0 < n; n0 += NR) {
		int32x4_t acc[MR][NR];
		SL_DENSE_UNROLL
		for (int m = 0; m < MR; m++)
			SL_DENSE_UNROLL
		for (int j = 0; j < NR; j++)
			acc[m][j] = vdupq_n_s32(0);
		size_t kk = 0;
		if (pair_ok) {
			for (; kk < k16; kk += 16) {
				int8x16_t av[MR];
				SL_DENSE_UNROLL
				for (int m = 0; m < MR; m++)
					av[m] = vld1q_s8(ar[m] + kk);
				const int8x16x4_t wv = vld1q_s8_x4(wp);
				wp += 64;
				SL_DENSE_UNROLL
				for (int m = 0; m < MR; m++)
					SL_DENSE_UNROLL
				for (int j = 0; j < NR; j++) {
					int16x8_t pr = vmull_s8(vget_low_s8(av[m]), vget_low_s8(wv.val[j]));
					pr = vmlal_high_s8(pr, av[m], wv.val[j]);
					acc[m][j] = vpadalq_s16(acc[m][j], pr);
				}
			}
		} else {
			for (; kk < k16; kk += 16) {
				int8x16_t av[MR];
				SL_DENSE_UNROLL
				for (int m = 0; m < MR; m++)
					av[m] = vld1q_s8(ar[m] + kk);
				const int8x16x4_t wv = vld1q_s8_x4(wp);
				wp += 64;
				SL_DENSE_UNROLL
				for (int m = 0; m < MR; m++)
					SL_DENSE_UNROLL
				for (int j = 0; j < NR; j++) {
					acc[m][j] = vpadalq_s16(
					    acc[m][j], vmull_s8(vget_low_s8(av[m]), vget_low_s8(wv.val[j])));
					acc[m][j] = vpadalq_s16(acc[m][j], vmull_high_s8(av[m], wv.val[j]));
				}
			}
		}
		if (kk < kp) { /* K tail of 8: channels (0, 1) and (2, 3) share a register */
			int8x8_t av[MR];
			SL_DENSE_UNROLL
			for (int m = 0; m < MR; m++)
				av[m] = vld1_s8(ar[m] + kk);
			const int8x16x2_t wv = vld1q_s8_x2(wp);
			wp += 32;
			SL_DENSE_UNROLL
			for (int m = 0; m < MR; m++) {
				acc[m][0] = vpadalq_s16(acc[m][0], vmull_s8(av[m], vget_low_s8(wv.val[0])));
				acc[m][1] = vpadalq_s16(acc[m][1], vmull_s8(av[m], vget_high_s8(wv.val[0])));
				acc[m][2] = vpadalq_s16(acc[m][2], vmull_s8(av[m], vget_low_s8(wv.val[1])));
				acc[m][3] = vpadalq_s16(acc[m][3], vmull_s8(av[m], vget_high_s8(wv.val[1])));
			}
		}
		const int32x4_t bv = vld1q_s32(bias + n0);
		const int32x4_t mu = vld1q_s32(mult + n0), ls = vld1q_s32(lsh + n0), rs = vld1q_s32(rsh + n0);
		int32x4_t r[MR];
		SL_DENSE_UNROLL
		for (int m = 0; m < MR; m++) {
			int32x4_t s = vaddq_s32(
			    vpaddq_s32(vpaddq_s32(acc[m][0], acc[m][1]), vpaddq_s32(acc[m][2], acc[m][3])),
			    bv);
			if (cw)
				s = vmlsq_n_s32(s, vld1q_s32(cw + n0), rowsum[m]);
			r[m] = sl_dense_rq(s, mu, ls, rs, any_lsh);
		}
		const size_t nc = n - n0 < NR ? n - n0 : NR;
		const uint8x8_t v01 = sl_dense_narrow8(&o, r[0], r[1]), v23 = sl_dense_narrow8(&o, r[2], r[3]);
		store4(c + n0, v01, 0, nc);
		if (rows > 1)
			store4(c + c_stride + n0, v01, 1, nc);
		if (rows > 2)
			store4(c + 2 * c_stride + n0, v23, 0, nc);
		if (rows > 3)
			store4(c + 3 * c_stride + n0, v23, 1, nc);
	}
}
