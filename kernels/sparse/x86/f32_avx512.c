/* AVX-512 fp32 SpMM (built with -mavx512f and the AVX2 flags, reached
 * through dispatch). Why: on a CPU with AVX-512, XNNPACK's dense fp32 GEMM
 * runs 512-bit FMAs, so the AVX2 kernel's lead over it shrinks by half. The
 * tile, its packing and the output transposition are the AVX2 kernel's
 * (f32_avx2_tile.h); a block's products run on all 16 pixels of the tile per
 * FMA, four accumulators (one per weight of the block) covering its latency,
 * and the sums are split into the two 8-pixel halves the store expects. */
#include <immintrin.h>

#include "kernels/sparse/sparse_internal.h"

static inline void channel512(const sl_sparse_f32 *p, int n, const float *at, __m256 *lo, __m256 *hi);
#define SL_F32_CHANNEL channel512
#include "kernels/sparse/x86/f32_avx2_tile.h"

static inline void channel512(const sl_sparse_f32 *p, int n, const float *at, __m256 *lo, __m256 *hi)
{
	__m512 a[4];
	a[0] = _mm512_set1_ps(p->bias[n]);
	a[1] = a[2] = a[3] = _mm512_setzero_ps();
	const uint16_t *idx = p->idx;
	const float *w = p->w;
	for (uint32_t i = p->row[n]; i < p->row[n + 1]; i++) {
		const float *col = at + (size_t)idx[i] * 4 * MR;
		SL_UNROLL
		for (int j = 0; j < 4; j++)
			a[j] = _mm512_fmadd_ps(_mm512_load_ps(col + j * MR),
					       _mm512_set1_ps(w[4 * (size_t)i + j]), a[j]);
	}
	/* The AVX2 kernel's order of additions (a0 + a1) + (a2 + a3) per lane,
	 * so both give the same bits. */
	const __m512 x = _mm512_add_ps(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(a[2], a[3]));
	const __m256 mn = _mm256_set1_ps(p->out_min), mx = _mm256_set1_ps(p->out_max);
	/* max/min return their second operand for NaN: keep NaN like the reference. */
	*lo = _mm256_min_ps(mx, _mm256_max_ps(mn, _mm512_castps512_ps256(x)));
	*hi = _mm256_min_ps(mx, _mm256_max_ps(mn, _mm512_extractf32x8_ps(x, 1)));
}

void sl_sparse_f32_avx512(const sl_sparse_f32 *p, size_t m_begin, size_t m_end, const float *in,
			  size_t in_stride, float *out, size_t out_stride, void *scratch)
{
	run_f32(p, m_begin, m_end, in, in_stride, out, out_stride, scratch);
}
