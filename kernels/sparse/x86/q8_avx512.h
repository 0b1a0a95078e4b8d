/* The AVX-512 kernels' requantization and channel output (q8_avx512.c,
 * q8_avx512vnni.c): the AVX2 tile's arithmetic (q8_avx2_tile.h) on 16 lanes.
 * Included after q8_avx2_tile.h, by sources built with at least -mavx512f
 * -mavx512bw -mavx512dq -mavx512vl. */
#pragma once

#include <immintrin.h>

#include "kernels/sparse/x86/q8_avx2_tile.h"

/* rq_fast (q8_avx2_tile.h) on 16 lanes. */
static inline __attribute__((always_inline)) __m512i rq_fast512(__m512i x2, const sl_sparse_q8_chan *c,
								const bool neg)
{
	if (c->lshift)
		x2 = _mm512_sll_epi32(x2, _mm_cvtsi32_si128(c->lshift));
	const __m512i m = _mm512_set1_epi32(c->mult);
	const __m512i nudge = _mm512_set1_epi64(c->nudge);
	/* The odd lanes reach the multiplier's even slots, and the high halves
	 * of the even products their lanes, by shuffles (port 5) rather than
	 * 64-bit shifts and a blend: with 512-bit registers the shifts share
	 * port 0 with the multiplies. */
	const __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(x2, m), nudge);
	const __m512i po =
	    _mm512_add_epi64(_mm512_mul_epi32(_mm512_shuffle_epi32(x2, _MM_PERM_DDBB), m), nudge);
	__m512i z = _mm512_mask_shuffle_epi32(po, 0x5555, pe, _MM_PERM_DDBB);
	if (c->rshift) {
		if (neg)
			z = _mm512_add_epi32(z, _mm512_srai_epi32(x2, 31));
		z = _mm512_sra_epi32(z, _mm_cvtsi32_si128(c->rshift));
	}
	return z;
}

/* rq_exact on 16 lanes. */
static inline __m512i rq_exact512(__m512i x, const sl_sparse_q8_chan *c)
{
	if (c->lshift)
		x = _mm512_sll_epi32(x, _mm_cvtsi32_si128(c->lshift));
	const __m512i m = _mm512_set1_epi32(c->mult);
	const __m512i nudge = _mm512_set1_epi64((int64_t)1 << 30);
	const __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(x, m), nudge);
	const __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), m), nudge);
	__m512i z = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
	if (c->rshift) {
		const int32_t mask = (int32_t)(((int64_t)1 << c->rshift) - 1);
		const __m512i rem = _mm512_and_si512(z, _mm512_set1_epi32(mask));
		const __m512i thr = _mm512_sub_epi32(_mm512_set1_epi32(mask >> 1), _mm512_srai_epi32(z, 31));
		const __mmask16 up = _mm512_cmpgt_epi32_mask(rem, thr);
		z = _mm512_sra_epi32(z, _mm_cvtsi32_si128(c->rshift));
		z = _mm512_mask_add_epi32(z, up, z, _mm512_set1_epi32(1));
	}
	return z;
}

/* Channel n's accumulators (pixels 16g.., doubled under fast_requant, as
 * rq_fast wants them) requantized into channel_avx2's contract: r[h] holds
 * pixels 16h.. in packs order with the zero point added. */
static inline __attribute__((always_inline)) void finish512(const sl_sparse_q8 *p, int n, __m512i *acc,
							    __m256i zp16, __m256i *r, const int mr)
{
	const sl_sparse_q8_chan *c = &p->ch[n];
	if (p->rq == SL_SPARSE_RQ_FP32) {
		const __m512 s = _mm512_set1_ps(c->scale),
			     top = _mm512_set1_ps((float)(p->act_max - p->out_zp));
		SL_UNROLL
		for (int g = 0; g < mr / 16; g++)
			acc[g] = _mm512_cvtps_epi32(
			    _mm512_min_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc[g]), s), top));
	} else if (p->fast_requant) {
		if (rq_needs_neg(p)) {
			SL_UNROLL
			for (int g = 0; g < mr / 16; g++)
				acc[g] = rq_fast512(acc[g], c, true);
		} else {
			SL_UNROLL
			for (int g = 0; g < mr / 16; g++)
				acc[g] = rq_fast512(acc[g], c, false);
		}
	} else {
		SL_UNROLL
		for (int g = 0; g < mr / 16; g++)
			acc[g] = rq_exact512(acc[g], c);
	}
	SL_UNROLL
	for (int h = 0; h < mr / 16; h++)
		r[h] = _mm256_adds_epi16(
		    _mm256_packs_epi32(_mm512_castsi512_si256(acc[h]), _mm512_extracti64x4_epi64(acc[h], 1)),
		    zp16);
}
