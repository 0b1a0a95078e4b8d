/* SSE4.1 fp32 SpMM (built with -msse4.1, reached through dispatch); the AVX2
 * kernel's scheme (f32_avx2.c) with 8-pixel tiles and separate mul/add. */
#include <smmintrin.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/sparse/x86/x86_common.h"

#define MR 8

static const float zero4[4] __attribute__((aligned(16)));

static void pack_tile(const sl_sparse_f32 *p, const float *in, size_t stride, size_t rows, float *at)
{
	const int k = p->k, kfull = k & ~3;
	_Alignas(16) float tail[MR][4];
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
		for (int h = 0; h < 2; h++) {
			__m128 v[4];
			SL_UNROLL
			for (int i = 0; i < 4; i++) {
				const float *src = c + 4 > k ? tail[4 * h + i]
							     : (row[4 * h + i] ? row[4 * h + i] + c : zero4);
				v[i] = _mm_loadu_ps(src);
			}
			_MM_TRANSPOSE4_PS(v[0], v[1], v[2], v[3]);
			SL_UNROLL
			for (int d = 0; d < 4; d++)
				_mm_store_ps(at + (size_t)(c + d) * MR + 4 * h, v[d]);
		}
	}
}

static inline void channel(const sl_sparse_f32 *p, int n, const float *at, __m128 *lo, __m128 *hi)
{
	__m128 a[4], b[4];
	a[0] = _mm_set1_ps(p->bias[n]);
	b[0] = a[0];
	a[1] = a[2] = a[3] = b[1] = b[2] = b[3] = _mm_setzero_ps();
	const uint16_t *idx = p->idx;
	const float *w = p->w;
	for (uint32_t i = p->row[n]; i < p->row[n + 1]; i++) {
		const float *col = at + (size_t)idx[i] * 4 * MR;
		SL_UNROLL
		for (int j = 0; j < 4; j++) {
			const __m128 wj = _mm_set1_ps(w[4 * (size_t)i + j]);
			a[j] = _mm_add_ps(a[j], _mm_mul_ps(_mm_load_ps(col + j * MR), wj));
			b[j] = _mm_add_ps(b[j], _mm_mul_ps(_mm_load_ps(col + j * MR + 4), wj));
		}
	}
	const __m128 mn = _mm_set1_ps(p->out_min), mx = _mm_set1_ps(p->out_max);
	const __m128 x = _mm_add_ps(_mm_add_ps(a[0], a[1]), _mm_add_ps(a[2], a[3]));
	const __m128 y = _mm_add_ps(_mm_add_ps(b[0], b[1]), _mm_add_ps(b[2], b[3]));
	*lo = _mm_min_ps(mx, _mm_max_ps(mn, x));
	*hi = _mm_min_ps(mx, _mm_max_ps(mn, y));
}

static inline void store_row(float *d, __m128 v, int nc)
{
	if (nc == 4) {
		_mm_storeu_ps(d, v);
		return;
	}
	_Alignas(16) float t[4];
	_mm_store_ps(t, v);
	memcpy(d, t, (size_t)nc * sizeof(float));
}

void sl_sparse_f32_sse41(const sl_sparse_f32 *p, size_t m_begin, size_t m_end, const float *in,
			 size_t in_stride, float *out, size_t out_stride, void *scratch)
{
	float *at = sl_x86_align64(scratch);
	for (size_t m0 = m_begin; m0 < m_end; m0 += MR) {
		const size_t rows = SL_MIN(m_end - m0, (size_t)MR);
		pack_tile(p, in + m0 * in_stride, in_stride, rows, at);
		float *o = out + m0 * out_stride;
		for (int n0 = 0; n0 < p->n; n0 += 4) {
			const int nc = SL_MIN(p->n - n0, 4);
			__m128 lo[4], hi[4];
			SL_UNROLL
			for (int i = 0; i < 4; i++)
				channel(p, SL_MIN(n0 + i, p->n - 1), at, &lo[i], &hi[i]);
			_MM_TRANSPOSE4_PS(lo[0], lo[1], lo[2], lo[3]);
			_MM_TRANSPOSE4_PS(hi[0], hi[1], hi[2], hi[3]);
			for (size_t px = 0; px < rows; px++)
				store_row(o + px * out_stride + n0, px < 4 ? lo[px] : hi[px - 4], nc);
		}
	}
}
