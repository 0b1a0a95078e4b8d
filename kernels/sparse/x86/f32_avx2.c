/* AVX2+FMA fp32 SpMM (built with -mavx2 -mfma, reached through dispatch).
 * Tile: 16 pixels, K-major, at[k * 16 + px]; a 1x4 block is four broadcast
 * weights times two 8-pixel rows each. Eight accumulators (one per weight of
 * the block and pixel half) cover the FMA latency. */
#include <immintrin.h>

#include "kernels/sparse/sparse_internal.h"

static inline void channel(const sl_sparse_f32 *p, int n, const float *at, __m256 *lo, __m256 *hi);
#define SL_F32_CHANNEL channel
#include "kernels/sparse/x86/f32_avx2_tile.h"

/* Channel n, pixels 0-7 and 8-15. */
static inline void channel(const sl_sparse_f32 *p, int n, const float *at, __m256 *lo, __m256 *hi)
{
	__m256 a[4], b[4];
	a[0] = _mm256_set1_ps(p->bias[n]);
	b[0] = a[0];
	a[1] = a[2] = a[3] = b[1] = b[2] = b[3] = _mm256_setzero_ps();
	const uint16_t *idx = p->idx;
	const float *w = p->w;
	for (uint32_t i = p->row[n]; i < p->row[n + 1]; i++) {
		const float *col = at + (size_t)idx[i] * 4 * MR;
		SL_UNROLL
		for (int j = 0; j < 4; j++) {
			const __m256 wj = _mm256_broadcast_ss(w + 4 * (size_t)i + j);
			a[j] = _mm256_fmadd_ps(_mm256_load_ps(col + j * MR), wj, a[j]);
			b[j] = _mm256_fmadd_ps(_mm256_load_ps(col + j * MR + 8), wj, b[j]);
		}
	}
	const __m256 mn = _mm256_set1_ps(p->out_min), mx = _mm256_set1_ps(p->out_max);
	__m256 x = _mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3]));
	__m256 y = _mm256_add_ps(_mm256_add_ps(b[0], b[1]), _mm256_add_ps(b[2], b[3]));
	/* max/min return their second operand for NaN: keep NaN like the reference. */
	*lo = _mm256_min_ps(mx, _mm256_max_ps(mn, x));
	*hi = _mm256_min_ps(mx, _mm256_max_ps(mn, y));
}

void sl_sparse_f32_avx2(const sl_sparse_f32 *p, size_t m_begin, size_t m_end, const float *in,
			size_t in_stride, float *out, size_t out_stride, void *scratch)
{
	run_f32(p, m_begin, m_end, in, in_stride, out, out_stride, scratch);
}
