/* requant_avx2.h's MultiplyByQuantizedMultiplier on 16 int32 lanes, same
 * arithmetic (bit-exact with sl_mul_by_quantized_multiplier), for the
 * AVX-512 kernels (built with at least -mavx512f -mavx512bw -mavx512vl). */
#pragma once

#include <immintrin.h>
#include <stdint.h>

#include "kernels/dense/x86/requant_avx2.h"

typedef struct {
	__m512i mult, mult_odd, lsh, rsh, mask, half;
} sl_avx512_rq;

/* rsh_neg: the right shift negated (<= 0), as sl_dense_requant stores it. */
static inline sl_avx512_rq sl_avx512_rq_make(__m512i mult, __m512i lsh, __m512i rsh_neg)
{
	sl_avx512_rq r;
	r.mult = mult;
	r.mult_odd = _mm512_shuffle_epi32(mult, _MM_PERM_DDBB);
	r.lsh = lsh;
	r.rsh = _mm512_sub_epi32(_mm512_setzero_si512(), rsh_neg);
	r.mask = _mm512_sub_epi32(_mm512_sllv_epi32(_mm512_set1_epi32(1), r.rsh), _mm512_set1_epi32(1));
	r.half = _mm512_srli_epi32(r.mask, 1);
	return r;
}

static inline __attribute__((always_inline)) __m512i sl_avx512_mbqm(__m512i x, const sl_avx512_rq *r,
								    const int any_lsh)
{
	if (any_lsh)
		x = _mm512_sllv_epi32(x, r->lsh);
	const __m512i nudge = _mm512_set1_epi64((int64_t)1 << 30);
	const __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(x, r->mult), nudge);
	const __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), r->mult_odd), nudge);
	const __m512i z =
	    _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
	const __m512i rem = _mm512_and_si512(z, r->mask);
	const __m512i thr = _mm512_sub_epi32(r->half, _mm512_srai_epi32(z, 31));
	const __mmask16 up = _mm512_cmpgt_epi32_mask(rem, thr);
	const __m512i s = _mm512_srav_epi32(z, r->rsh);
	return _mm512_mask_add_epi32(s, up, s, _mm512_set1_epi32(1));
}
