/* GEMM micro-kernel with the ARMv8.2 dot product (built with
 * -march=armv8.2-a+dotprod, reached through dispatch): 8 pixels x 8 channels.
 *
 * Weights carry the channels in the lanes (4 channels x 4 K values per
 * register); SDOT by element broadcasts one pixel's 4 K values from a register
 * holding 16 of them, so each 16-byte activation load feeds 8 SDOTs and each
 * pair of weight loads 16: 64 SDOTs (1024 MACs) per 16 K values against 16
 * loads, 16 accumulators, no horizontal reduction, and the 8 output channels
 * of a pixel come out as one 8-byte store. */
#include "kernels/dense/neon/neon_simd.h"

#define MR SL_DENSE_GEMM_MR_DOT

/* One K group g (4 values) of all 8 pixels: weights wv0 (channels 0-3) and
 * wv1 (4-7) against lane g of each pixel's 16-value register. */
#define DOT_GROUP(av, w0, w1, g, LANEFN)                                                                     \
	SL_DENSE_UNROLL                                                                                       \
	for (int m = 0; m < MR; m++) {                                                                       \
		acc[m][0] = LANEFN(acc[m][0], w0, av[m], g);                                                 \
		acc[m][1] = LANEFN(acc[m][1], w1, av[m], g);                                                 \
	}

void SL_DENSE_FN(sl_dense_gemm_sdot_8x8)(const sl_dense_gemm *p, size_t rows, const int8_t *a, size_t a_stride,
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
	const int any_lsh = q->any_lsh;

	for (size_t n0 = 0; n0 < n; n0 += 8) {
		int32x4_t acc[MR][2];
		const int32x4_t b0 = vld1q_s32(bias + n0), b1 = vld1q_s32(bias + n0 + 4);
		SL_DENSE_UNROLL
		for (int m = 0; m < MR; m++) {
			acc[m][0] = b0;
			acc[m][1] = b1;
		}
		size_t kk = 0;
		for (; kk < k16; kk += 16) {
			int8x16_t av[MR];
			SL_DENSE_UNROLL
			for (int m = 0; m < MR; m++)
				av[m] = vld1q_s8(ar[m] + kk);
			const int8x16x4_t wa = vld1q_s8_x4(wp), wb = vld1q_s8_x4(wp + 64);
			wp += 128;
			DOT_GROUP(av, wa.val[0], wa.val[1], 0, vdotq_laneq_s32)
			DOT_GROUP(av, wa.val[2], wa.val[3], 1, vdotq_laneq_s32)
			DOT_GROUP(av, wb.val[0], wb.val[1], 2, vdotq_laneq_s32)
			DOT_GROUP(av, wb.val[2], wb.val[3], 3, vdotq_laneq_s32)
		}
		if (kk < kp) { /* K tail of 8 */
			int8x8_t av[MR];
			SL_DENSE_UNROLL
			for (int m = 0; m < MR; m++)
				av[m] = vld1_s8(ar[m] + kk);
			const int8x16x4_t wa = vld1q_s8_x4(wp);
			wp += 64;
			DOT_GROUP(av, wa.val[0], wa.val[1], 0, vdotq_lane_s32)
			DOT_GROUP(av, wa.val[2], wa.val[3], 1, vdotq_lane_s32)
		}
		if (cw) {
			const int32x4_t z0 = vld1q_s32(cw + n0), z1 = vld1q_s32(cw + n0 + 4);
			SL_DENSE_UNROLL
			for (int m = 0; m < MR; m++) {
				acc[m][0] = vmlsq_n_s32(acc[m][0], z0, rowsum[m]);
				acc[m][1] = vmlsq_n_s32(acc[m][1], z1, rowsum[m]);
			}
		}
		const int32x4_t m0 = vld1q_s32(mult + n0), m1 = vld1q_s32(mult + n0 + 4);
		const int32x4_t l0 = vld1q_s32(lsh + n0), l1 = vld1q_s32(lsh + n0 + 4);
		const int32x4_t r0 = vld1q_s32(rsh + n0), r1 = vld1q_s32(rsh + n0 + 4);
		const size_t nc = n - n0 < 8 ? n - n0 : 8;
		SL_DENSE_UNROLL
		for (int m = 0; m < MR; m++) {
			if ((size_t)m >= rows)
				break;
			const uint8x8_t v = sl_dense_narrow8(&o, sl_dense_rq(acc[m][0], m0, l0, r0, any_lsh),
							    sl_dense_rq(acc[m][1], m1, l1, r1, any_lsh));
			uint8_t *d = c + (size_t)m * c_stride + n0;
			if (nc == 8)
				vst1_u8(d, v);
			else
				sl_dense_store_part8(d, v, nc);
		}
	}
}
