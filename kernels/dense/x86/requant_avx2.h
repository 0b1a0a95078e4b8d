/* gemmlowp requantization (TFLite's MultiplyByQuantizedMultiplier) on 8
 * int32 lanes with per-lane multiplier and shifts, bit-exact with
 * sl_mul_by_quantized_multiplier (kernels/quant.h). Header-only, for any
 * translation unit built with -mavx2 (the dense kernels; the sparse ones may
 * share it).
 *
 * SaturatingRoundingDoublingHighMul with a multiplier >= 0 never saturates;
 * its round-to-nearest with ties away from zero on (a b) / 2^31 equals
 * floor((a b + 2^30) / 2^31) for every sign of a b, which is what the 64-bit
 * even/odd products give. RoundingDivideByPOT is gemmlowp's remainder /
 * threshold form with per-lane exponents (vpsravd, vpsllvd). */
#pragma once

#include <immintrin.h>
#include <stdint.h>

/* Small fixed loops over register arrays: fully unrolled so that the arrays
 * stay in registers at -O2. */
#ifdef __clang__
#define SL_AVX2_UNROLL _Pragma("unroll")
#else
#define SL_AVX2_UNROLL _Pragma("GCC unroll 16")
#endif

/* Per-lane constants, prepared once per channel block and reused for every
 * pixel of a tile. */
typedef struct {
	__m256i mult, mult_odd; /* mult, and mult's odd lanes moved to the even ones */
	__m256i lsh;		/* left shift (0..31) */
	__m256i rsh;		/* right shift (0..31) */
	__m256i mask;		/* (1 << rsh) - 1 */
	__m256i half;		/* mask >> 1 */
	int any_lsh;
} sl_avx2_rq;

/* rsh_neg: the right shift negated (<= 0), as sl_dense_requant stores it. */
static inline sl_avx2_rq sl_avx2_rq_make(__m256i mult, __m256i lsh, __m256i rsh_neg, int any_lsh)
{
	sl_avx2_rq r;
	r.mult = mult;
	r.mult_odd = _mm256_shuffle_epi32(mult, 0xF5);
	r.lsh = lsh;
	r.rsh = _mm256_sub_epi32(_mm256_setzero_si256(), rsh_neg);
	r.mask = _mm256_sub_epi32(_mm256_sllv_epi32(_mm256_set1_epi32(1), r.rsh), _mm256_set1_epi32(1));
	r.half = _mm256_srli_epi32(r.mask, 1);
	r.any_lsh = any_lsh;
	return r;
}

static inline sl_avx2_rq sl_avx2_rq_load(const int32_t *mult, const int32_t *lsh, const int32_t *rsh_neg,
					 int any_lsh)
{
	return sl_avx2_rq_make(_mm256_loadu_si256((const __m256i *)(const void *)mult),
			       _mm256_loadu_si256((const __m256i *)(const void *)lsh),
			       _mm256_loadu_si256((const __m256i *)(const void *)rsh_neg), any_lsh);
}

/* One multiplier/shift pair for all lanes (TFLite's shift convention:
 * positive = left). */
static inline sl_avx2_rq sl_avx2_rq_scalar(int32_t mult, int shift)
{
	return sl_avx2_rq_make(_mm256_set1_epi32(mult), _mm256_set1_epi32(shift > 0 ? shift : 0),
			       _mm256_set1_epi32(shift > 0 ? 0 : shift), shift > 0);
}

/* SaturatingRoundingDoublingHighMul(x, mult), mult >= 0. */
static inline __m256i sl_avx2_srdhm(__m256i x, const sl_avx2_rq *r)
{
	const __m256i nudge = _mm256_set1_epi64x((int64_t)1 << 30);
	const __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(x, r->mult), nudge);
	const __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), r->mult_odd), nudge);
	/* bits 31..62 of each product: the even ones shifted down into the low
	 * half, the odd ones up into the high half */
	return _mm256_blend_epi32(_mm256_srli_epi64(pe, 31), _mm256_slli_epi64(po, 1), 0xAA);
}

/* RoundingDivideByPOT(x, rsh): half away from zero. */
static inline __m256i sl_avx2_rdivpot(__m256i x, const sl_avx2_rq *r)
{
	const __m256i rem = _mm256_and_si256(x, r->mask);
	const __m256i thr = _mm256_sub_epi32(r->half, _mm256_srai_epi32(x, 31));
	return _mm256_sub_epi32(_mm256_srav_epi32(x, r->rsh), _mm256_cmpgt_epi32(rem, thr));
}

/* MultiplyByQuantizedMultiplier: the left shift wraps like the reference's
 * uint32 shift. */
static inline __m256i sl_avx2_mbqm(__m256i x, const sl_avx2_rq *r)
{
	if (r->any_lsh)
		x = _mm256_sllv_epi32(x, r->lsh);
	return sl_avx2_rdivpot(sl_avx2_srdhm(x, r), r);
}
