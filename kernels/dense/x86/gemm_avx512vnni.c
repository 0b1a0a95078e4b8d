/* AVX-512 VNNI GEMM micro-kernel (built with -mavx512f/bw/dq/vl/vnni,
 * reached through dispatch): MR pixels x 32 channels per step (16 for a last
 * odd block), layout VNNI_16.
 *
 * VPDPBUSD multiplies 4 unsigned bytes by 4 signed bytes and adds the four
 * products to an int32 lane with no int16 step in between, so full-range
 * weights cannot saturate anything (VPMADDUBSW's problem) and one
 * instruction does 64 MACs: per 4 K values, each pixel's dword is broadcast
 * and multiplied with 16 channels' 4 weights. The tile therefore holds
 * activations in the unsigned domain (int8 input flipped by the packer) and
 * the weights stay in the int8 domain; zero points are folded as for SDOT
 * (dense.h), with row sums of the unsigned values when the weights have zero
 * points. 8 rows x 2 blocks = 16 accumulators of the 32 zmm registers. */
#include <immintrin.h>
#include <string.h>

#include "kernels/dense/dense_kernels.h"
#include "kernels/dense/x86/requant_avx512.h"

#define MR SL_DENSE_GEMM_MR_VNNI

static inline sl_avx512_rq rq16_load(const sl_dense_requant *q, size_t n0)
{
	return sl_avx512_rq_make(_mm512_loadu_si512((const void *)(q->mult + n0)),
				 _mm512_loadu_si512((const void *)(q->lsh + n0)),
				 _mm512_loadu_si512((const void *)(q->rsh + n0)));
}

/* 16 channels of one pixel, requantized, to bytes at d (nc of them). */
static inline __attribute__((always_inline)) void out16(uint8_t *d, __m512i acc, const sl_avx512_rq *r,
							__m512i zp, __m128i lo, __m128i hi, size_t nc,
							const int u8, const int any_lsh)
{
	const __m512i x = _mm512_add_epi32(sl_avx512_mbqm(acc, r, any_lsh), zp);
	__m128i v;
	if (u8) {
		v = _mm512_cvtusepi32_epi8(_mm512_max_epi32(x, _mm512_setzero_si512()));
		v = _mm_min_epu8(_mm_max_epu8(v, lo), hi);
	} else {
		v = _mm512_cvtsepi32_epi8(x);
		v = _mm_min_epi8(_mm_max_epi8(v, lo), hi);
	}
	if (nc == 16)
		_mm_storeu_si128((__m128i *)(void *)d, v);
	else
		_mm_mask_storeu_epi8(d, (__mmask16)((1u << nc) - 1), v);
}

static inline int32_t load_dword(const uint8_t *p)
{
	int32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* Rows [0, rows) (mr >= rows, the rest computed on a repeated row and not
 * stored) times channel blocks b0 .. b0 + nb - 1. */
static inline __attribute__((always_inline)) void strip(const sl_dense_gemm *p, size_t rows,
							const uint8_t *const *ar, const int32_t *rowsum,
							uint8_t *c, size_t c_stride, size_t b0, const int mr,
							const int nb, const int u8, const int any_lsh)
{
	const size_t kp = (size_t)p->kp, n0 = b0 * 16;
	const int8_t *w[2] = {p->w + b0 * kp * 16, p->w + (b0 + 1) * kp * 16};
	__m512i acc[MR][2];
	SL_AVX2_UNROLL
	for (int j = 0; j < nb; j++) {
		const __m512i b = _mm512_load_si512((const void *)(p->bias + n0 + 16 * (size_t)j));
		SL_AVX2_UNROLL
		for (int m = 0; m < mr; m++)
			acc[m][j] = b;
		if (rowsum) {
			const __m512i cw = _mm512_load_si512((const void *)(p->cw + n0 + 16 * (size_t)j));
			SL_AVX2_UNROLL
			for (int m = 0; m < mr; m++)
				acc[m][j] = _mm512_sub_epi32(
				    acc[m][j], _mm512_mullo_epi32(_mm512_set1_epi32(rowsum[m]), cw));
		}
	}
	for (size_t k = 0; k < kp; k += 4) {
		__m512i wv[2];
		SL_AVX2_UNROLL
		for (int j = 0; j < nb; j++)
			wv[j] = _mm512_load_si512((const void *)(w[j] + k * 16));
		SL_AVX2_UNROLL
		for (int m = 0; m < mr; m++) {
			const __m512i av = _mm512_set1_epi32(load_dword(ar[m] + k));
			SL_AVX2_UNROLL
			for (int j = 0; j < nb; j++)
				acc[m][j] = _mm512_dpbusd_epi32(acc[m][j], av, wv[j]);
		}
	}
	const sl_dense_requant *q = &p->rq;
	const __m512i zp = _mm512_set1_epi32(q->out_zp);
	const __m128i lo = _mm_set1_epi8((char)q->act_min), hi = _mm_set1_epi8((char)q->act_max);
	const size_t n = (size_t)p->n;
	SL_AVX2_UNROLL
	for (int j = 0; j < nb; j++) {
		const size_t nj = n0 + 16 * (size_t)j;
		const sl_avx512_rq r = rq16_load(q, nj);
		const size_t nc = n - nj < 16 ? n - nj : 16;
		SL_AVX2_UNROLL
		for (int m = 0; m < mr; m++)
			if ((size_t)m < rows)
				out16(c + (size_t)m * c_stride + nj, acc[m][j], &r, zp, lo, hi, nc, u8,
				      any_lsh);
	}
}

static inline __attribute__((always_inline)) void gemm(const sl_dense_gemm *p, size_t rows, const uint8_t *a,
						       size_t a_stride, const int32_t *rowsum, uint8_t *c,
						       size_t c_stride, const int mr, const int u8,
						       const int any_lsh)
{
	const uint8_t *ar[MR];
	SL_AVX2_UNROLL
	for (int m = 0; m < mr; m++)
		ar[m] = a + ((size_t)m < rows ? (size_t)m : rows - 1) * a_stride;
	const int32_t *rs = p->cw ? rowsum : NULL;
	const size_t blocks = (size_t)p->np / 16;
	size_t b = 0;
	for (; b + 2 <= blocks; b += 2)
		strip(p, rows, ar, rs, c, c_stride, b, mr, 2, u8, any_lsh);
	if (b < blocks)
		strip(p, rows, ar, rs, c, c_stride, b, mr, 1, u8, any_lsh);
}

/* Fewer rows than MR (a layer's last tile, FULLY_CONNECTED with batch 1): a
 * kernel of that height rather than MR rows of repeated work. */
#define SL_VNNI_ROWS(U8, LSH)                                                                                \
	do {                                                                                                 \
		if (rows > 4)                                                                                \
			gemm(p, rows, a8, a_stride, rowsum, c, c_stride, MR, U8, LSH);                       \
		else if (rows > 2)                                                                           \
			gemm(p, rows, a8, a_stride, rowsum, c, c_stride, 4, U8, LSH);                        \
		else if (rows == 2)                                                                          \
			gemm(p, rows, a8, a_stride, rowsum, c, c_stride, 2, U8, LSH);                        \
		else                                                                                         \
			gemm(p, rows, a8, a_stride, rowsum, c, c_stride, 1, U8, LSH);                        \
	} while (0)

SL_DENSE_GEMM_DECL(sl_dense_gemm_avx512vnni_16)
{
	const uint8_t *a8 = (const uint8_t *)a;
	if (p->rq.out_u8) {
		if (p->rq.any_lsh)
			SL_VNNI_ROWS(1, 1);
		else
			SL_VNNI_ROWS(1, 0);
	} else {
		if (p->rq.any_lsh)
			SL_VNNI_ROWS(0, 1);
		else
			SL_VNNI_ROWS(0, 0);
	}
}
