/* NEON fp32 SpMM (baseline ARMv8-A, reached through dispatch). Tile: 16
 * pixels, K-major, at[k * 16 + px]; a 1x4 block is one 4-float load of weights
 * and 16 FMLA by element (4 pixel groups x 4 weights) into 8 accumulators,
 * enough to cover the FMA latency. */
#include "kernels/sparse/neon/neon_common.h"

#define MR SL_NEON_MR

static const float zero4[4] __attribute__((aligned(16)));

static inline void tr4x4_f32(float32x4_t r[4])
{
	uint32x4_t u[4];
	SL_UNROLL
	for (int i = 0; i < 4; i++)
		u[i] = vreinterpretq_u32_f32(r[i]);
	sl_neon_tr4x4_u32(u);
	SL_UNROLL
	for (int i = 0; i < 4; i++)
		r[i] = vreinterpretq_f32_u32(u[i]);
}

static void pack_tile(const sl_sparse_f32 *p, const float *in, size_t stride, size_t rows, float *at)
{
	const int k = p->k, kfull = k & ~3;
	float tail[MR][4];
	const float *row[MR];
	for (size_t i = 0; i < MR; i++) {
		row[i] = i < rows ? in + i * stride : NULL;
		if (kfull < k) {
			memset(tail[i], 0, sizeof(tail[i]));
			if (row[i])
				memcpy(tail[i], row[i] + kfull, (size_t)(k - kfull) * sizeof(float));
		}
	}
	for (int c = 0; c < p->kb * 4; c += 4) {
		SL_UNROLL
		for (int q = 0; q < MR / 4; q++) {
			float32x4_t v[4];
			SL_UNROLL
			for (int i = 0; i < 4; i++) {
				const float *src = c + 4 > k ? tail[4 * q + i]
							     : (row[4 * q + i] ? row[4 * q + i] + c : zero4);
				v[i] = vld1q_f32(src);
			}
			tr4x4_f32(v);
			SL_UNROLL
			for (int d = 0; d < 4; d++)
				vst1q_f32(at + (size_t)(c + d) * MR + 4 * q, v[d]);
		}
	}
}

/* r[q] = channel n for pixels 4q..4q+3 */
static inline void channel(const sl_sparse_f32 *p, int n, const float *at, float32x4_t r[4])
{
	float32x4_t a[4], b[4];
	SL_UNROLL
	for (int q = 0; q < 4; q++) {
		a[q] = vdupq_n_f32(p->bias[n]);
		b[q] = vdupq_n_f32(0.0f);
	}
	const uint16_t *ip = p->idx + p->row[n], *const ie = p->idx + p->row[n + 1];
	for (const float *wp = p->w + 4 * (size_t)p->row[n]; ip < ie; ip++, wp += 4) {
		const float *col = at + (size_t)*ip * 4 * MR;
		const float32x4_t wv = vld1q_f32(wp);
		const float32x4x4_t k0 = vld1q_f32_x4(col), k1 = vld1q_f32_x4(col + MR);
		const float32x4x4_t k2 = vld1q_f32_x4(col + 2 * MR), k3 = vld1q_f32_x4(col + 3 * MR);
		SL_UNROLL
		for (int q = 0; q < 4; q++) {
			a[q] = vfmaq_laneq_f32(a[q], k0.val[q], wv, 0);
			b[q] = vfmaq_laneq_f32(b[q], k1.val[q], wv, 1);
			a[q] = vfmaq_laneq_f32(a[q], k2.val[q], wv, 2);
			b[q] = vfmaq_laneq_f32(b[q], k3.val[q], wv, 3);
		}
	}
	const float32x4_t mn = vdupq_n_f32(p->out_min), mx = vdupq_n_f32(p->out_max);
	SL_UNROLL
	for (int q = 0; q < 4; q++)
		r[q] = vminq_f32(mx, vmaxq_f32(mn, vaddq_f32(a[q], b[q]))); /* FMAX/FMIN keep NaN */
}

void SL_NEON_FN(sl_sparse_f32_neon)(const sl_sparse_f32 *p, size_t m_begin, size_t m_end, const float *in,
				    size_t in_stride, float *out, size_t out_stride, void *scratch)
{
	float *at = sl_neon_align64(scratch);
	for (size_t m0 = m_begin; m0 < m_end; m0 += MR) {
		const size_t rows = SL_MIN(m_end - m0, (size_t)MR);
		pack_tile(p, in + m0 * in_stride, in_stride, rows, at);
		float *o = out + m0 * out_stride;
		for (int n0 = 0; n0 < p->n; n0 += 4) {
			const int nc = SL_MIN(p->n - n0, 4);
			float32x4_t r[4][4]; /* [channel][pixel group] */
			SL_UNROLL
			for (int i = 0; i < 4; i++)
				channel(p, SL_MIN(n0 + i, p->n - 1), at, r[i]);
			SL_UNROLL
			for (int q = 0; q < 4; q++) {
				float32x4_t t[4] = {r[0][q], r[1][q], r[2][q], r[3][q]};
				tr4x4_f32(t); /* t[j]: channels n0..n0+3 of pixel 4q + j */
				SL_UNROLL
				for (int j = 0; j < 4; j++) {
					const size_t px = (size_t)(4 * q + j);
					if (px >= rows)
						break;
					if (nc == 4) {
						vst1q_f32(o + px * out_stride + n0, t[j]);
					} else {
						float tmp[4];
						vst1q_f32(tmp, t[j]);
						memcpy(o + px * out_stride + n0, tmp,
						       (size_t)nc * sizeof(float));
					}
				}
			}
		}
	}
}
