/* AVX2 GEMM micro-kernel (built with -mavx2, reached through dispatch): MR
 * pixels x 16 channels per step, layout W16_16.
 *
 * Per K pair, each pixel's two int16 values are broadcast as one int32 and
 * VPMADDWD multiplies them with 8 channels' (w - zw) pairs: 16 MACs, int32
 * pair sums that cannot saturate (|a| <= 255, |w - zw| <= 255). 2 MR
 * accumulators (12 for MR = 6) + 2 weight rows + 1 broadcast fit the 16 ymm
 * registers. The input zero point is in the bias (pack.c), so padding fed as
 * the zero point and the K tail of weight 0 contribute nothing. */
#include <immintrin.h>
#include <string.h>

#include "kernels/dense/dense_kernels.h"
#include "kernels/dense/x86/requant_avx2.h"

#define MR SL_DENSE_GEMM_MR_AVX2

static inline __m256i bcast_pair(const int16_t *p)
{
	int32_t v;
	memcpy(&v, p, sizeof(v));
	return _mm256_set1_epi32(v);
}

/* Two rows' 16 channels (int32, channels 0-7 and 8-15 each) -> 32 bytes, row
 * m in the low half: PACKS works per 128-bit lane, VPERMD restores the
 * order (see the comment at the call). */
static inline __m256i pack2(__m256i r0a, __m256i r0b, __m256i r1a, __m256i r1b, const int u8)
{
	const __m256i h0 = _mm256_packs_epi32(r0a, r0b), h1 = _mm256_packs_epi32(r1a, r1b);
	const __m256i b = u8 ? _mm256_packus_epi16(h0, h1) : _mm256_packs_epi16(h0, h1);
	/* dwords: r0 c0-3, r0 c8-11, r1 c0-3, r1 c8-11, r0 c4-7, r0 c12-15, ... */
	return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static inline void store_part(uint8_t *d, __m128i v, size_t nc)
{
	if (nc == 16) {
		_mm_storeu_si128((__m128i *)(void *)d, v);
		return;
	}
	uint8_t t[16];
	_mm_storeu_si128((__m128i *)(void *)t, v);
	memcpy(d, t, nc);
}

static inline __attribute__((always_inline)) void gemm(const sl_dense_gemm *p, size_t rows, const int16_t *a,
						       size_t a_stride, uint8_t *c, size_t c_stride,
						       const int mr, const int u8, const int any_lsh)
{
	const int16_t *ar[MR];
	SL_AVX2_UNROLL
	for (int m = 0; m < mr; m++)
		ar[m] = a + ((size_t)m < rows ? (size_t)m : rows - 1) * a_stride;
	const size_t kp = (size_t)p->kp, n = (size_t)p->n;
	const int16_t *wp = p->w16;
	const sl_dense_requant *q = &p->rq;
	/* copied out: stores to the output bytes may alias the layer's fields */
	const int32_t *const bias = p->bias, *const mult = q->mult, *const lsh = q->lsh, *const rsh = q->rsh;
	const __m256i zp = _mm256_set1_epi32(q->out_zp);
	const __m256i lo = _mm256_set1_epi8((char)q->act_min), hi = _mm256_set1_epi8((char)q->act_max);

	for (size_t n0 = 0; n0 < n; n0 += 16) {
		__m256i acc[MR + 1][2]; /* + 1: an odd mr's pair partner */
		const __m256i b0 = _mm256_load_si256((const __m256i *)(const void *)(bias + n0));
		const __m256i b1 = _mm256_load_si256((const __m256i *)(const void *)(bias + n0 + 8));
		SL_AVX2_UNROLL
		for (int m = 0; m < mr; m++) {
			acc[m][0] = b0;
			acc[m][1] = b1;
		}
		for (size_t k = 0; k < kp; k += 2) {
			const __m256i w0 = _mm256_load_si256((const __m256i *)(const void *)wp);
			const __m256i w1 = _mm256_load_si256((const __m256i *)(const void *)(wp + 16));
			wp += 32;
			SL_AVX2_UNROLL
			for (int m = 0; m < mr; m++) {
				const __m256i av = bcast_pair(ar[m] + k);
				acc[m][0] = _mm256_add_epi32(acc[m][0], _mm256_madd_epi16(av, w0));
				acc[m][1] = _mm256_add_epi32(acc[m][1], _mm256_madd_epi16(av, w1));
			}
		}
		const sl_avx2_rq r0 = sl_avx2_rq_load(mult + n0, lsh + n0, rsh + n0, any_lsh);
		const sl_avx2_rq r1 = sl_avx2_rq_load(mult + n0 + 8, lsh + n0 + 8, rsh + n0 + 8, any_lsh);
		const size_t nc = n - n0 < 16 ? n - n0 : 16;
		SL_AVX2_UNROLL
		for (int m = 0; m < mr; m += 2) {
			if ((size_t)m >= rows)
				break;
			if (m + 1 == mr)
				acc[m + 1][0] = acc[m][0], acc[m + 1][1] = acc[m][1];
			const __m256i x0 = _mm256_add_epi32(sl_avx2_mbqm(acc[m][0], &r0), zp);
			const __m256i x1 = _mm256_add_epi32(sl_avx2_mbqm(acc[m][1], &r1), zp);
			const __m256i y0 = _mm256_add_epi32(sl_avx2_mbqm(acc[m + 1][0], &r0), zp);
			const __m256i y1 = _mm256_add_epi32(sl_avx2_mbqm(acc[m + 1][1], &r1), zp);
			__m256i v = pack2(x0, x1, y0, y1, u8);
			v = u8 ? _mm256_min_epu8(_mm256_max_epu8(v, lo), hi)
			       : _mm256_min_epi8(_mm256_max_epi8(v, lo), hi);
			store_part(c + (size_t)m * c_stride + n0, _mm256_castsi256_si128(v), nc);
			if ((size_t)m + 1 < rows)
				store_part(c + (size_t)(m + 1) * c_stride + n0,
					   _mm256_extracti128_si256(v, 1), nc);
		}
	}
}

/* Fewer rows than MR (a layer's last tile, FULLY_CONNECTED with batch 1):
 * a kernel of that height rather than MR rows of duplicated work. */
#define SL_GEMM_ROWS(U8, LSH)                                                                                \
	do {                                                                                                 \
		if (rows >= 5)                                                                               \
			gemm(p, rows, a16, a_stride, c, c_stride, MR, U8, LSH);                              \
		else if (rows >= 3)                                                                          \
			gemm(p, rows, a16, a_stride, c, c_stride, 4, U8, LSH);                               \
		else if (rows == 2)                                                                          \
			gemm(p, rows, a16, a_stride, c, c_stride, 2, U8, LSH);                               \
		else                                                                                         \
			gemm(p, rows, a16, a_stride, c, c_stride, 1, U8, LSH);                               \
	} while (0)

SL_DENSE_GEMM_DECL(sl_dense_gemm_avx2_w16)
{
	(void)rowsum;
	const int16_t *a16 = (const int16_t *)(const void *)a;
	if (p->rq.out_u8) {
		if (p->rq.any_lsh)
			SL_GEMM_ROWS(1, 1);
		else
			SL_GEMM_ROWS(1, 0);
	} else {
		if (p->rq.any_lsh)
			SL_GEMM_ROWS(0, 1);
		else
			SL_GEMM_ROWS(0, 0);
	}
}

/* The tile packer's widening (run.c, generic code) in AVX2. */
void sl_dense_widen_avx2(int16_t *dst, const uint8_t *src, size_t n, bool u8)
{
	size_t i = 0;
	if (u8) {
		for (; i + 16 <= n; i += 16)
			_mm256_storeu_si256(
			    (__m256i *)(void *)(dst + i),
			    _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(src + i))));
		for (; i < n; i++)
			dst[i] = src[i];
	} else {
		for (; i + 16 <= n; i += 16)
			_mm256_storeu_si256(
			    (__m256i *)(void *)(dst + i),
			    _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(src + i))));
		for (; i < n; i++)
			dst[i] = (int8_t)src[i];
	}
}
