/* The AVX2 fp32 SpMM tile (see f32_avx2.c), shared with the AVX-512 kernel,
 * which includes it with its own channel function (SL_F32_CHANNEL: channel
 * n's 16 pixels as two 8-pixel halves). Packing and the output transposition
 * are shuffles, which 512-bit registers do not speed up. */
#pragma once

#include <immintrin.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/sparse/x86/x86_common.h"

#ifndef SL_F32_CHANNEL
#error "define SL_F32_CHANNEL before including f32_avx2_tile.h"
#endif

#define MR 16

static const float zero8[8] __attribute__((aligned(32)));

static inline void tr8x8_ps(__m256 r[8])
{
	__m256 t[8], u[8];
	SL_UNROLL
	for (int i = 0; i < 4; i++) {
		t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
	}
	SL_UNROLL
	for (int i = 0; i < 2; i++) {
		u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0x44);
		u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0xEE);
		u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
		u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
	}
	SL_UNROLL
	for (int i = 0; i < 4; i++) {
		r[i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x20);
		r[4 + i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x31);
	}
}

static void pack_tile(const sl_sparse_f32 *p, const float *in, size_t stride, size_t rows, float *at)
{
	const int k = p->k, kfull = k & ~7;
	_Alignas(32) float tail[MR][8];
	const float *row[MR];
	for (size_t i = 0; i < MR; i++) {
		row[i] = i < rows ? in + i * stride : NULL;
		if (kfull < k) {
			memset(tail[i], 0, sizeof(tail[i]));
			if (row[i])
				memcpy(tail[i], row[i] + kfull, (size_t)(k - kfull) * sizeof(float));
		}
	}
	/* Block columns past k up to the next multiple of 4 stay zero: 0 * w. */
	const int kend = (p->kb * 4 + 7) & ~7;
	for (int c = 0; c < kend; c += 8) {
		for (int h = 0; h < 2; h++) {
			__m256 v[8];
			SL_UNROLL
			for (int i = 0; i < 8; i++) {
				const float *src = c + 8 > k ? (c < k ? tail[8 * h + i] : zero8)
							     : (row[8 * h + i] ? row[8 * h + i] + c : zero8);
				v[i] = _mm256_loadu_ps(src);
			}
			tr8x8_ps(v);
			SL_UNROLL
			for (int d = 0; d < 8; d++)
				_mm256_store_ps(at + (size_t)(c + d) * MR + 8 * h, v[d]);
		}
	}
}

static inline void store_row(float *d, __m256 v, int nc)
{
	if (nc == 8) {
		_mm256_storeu_ps(d, v);
		return;
	}
	_Alignas(32) float t[8];
	_mm256_store_ps(t, v);
	memcpy(d, t, (size_t)nc * sizeof(float));
}

/* Rows [m_begin, m_end), 16 at a time, all channels. */
static inline void run_f32(const sl_sparse_f32 *p, size_t m_begin, size_t m_end, const float *in,
			   size_t in_stride, float *out, size_t out_stride, void *scratch)
{
	float *at = sl_x86_align64(scratch);
	for (size_t m0 = m_begin; m0 < m_end; m0 += MR) {
		const size_t rows = SL_MIN(m_end - m0, (size_t)MR);
		pack_tile(p, in + m0 * in_stride, in_stride, rows, at);
		float *o = out + m0 * out_stride;
		for (int n0 = 0; n0 < p->n; n0 += 8) {
			const int nc = SL_MIN(p->n - n0, 8);
			__m256 lo[8], hi[8];
			SL_UNROLL
			for (int i = 0; i < 8; i++)
				SL_F32_CHANNEL(p, SL_MIN(n0 + i, p->n - 1), at, &lo[i], &hi[i]);
			tr8x8_ps(lo);
			tr8x8_ps(hi);
			for (size_t px = 0; px < rows; px++)
				store_row(o + px * out_stride + n0, px < 8 ? lo[px] : hi[px - 8], nc);
		}
	}
}
