/* AVX2 quantized ADD, bit-exact with sl_ref_add_q8: per element
 *   ((x - za) << left_shift) and ((y - zb) << left_shift) each through
 *   MultiplyByQuantizedMultiplier, summed (int32 wrap), through the output
 *   multiplier, + out_zp, clamped.
 * (x - za) << 20 stays below 2^28, so nothing here wraps that the reference
 * does not. 16 elements per step; the tail (n % 16) goes through the same
 * step on a zero-padded copy, so there is one code path. */
#include <immintrin.h>
#include <string.h>

#include "kernels/dense/dense_kernels.h"
#include "kernels/dense/x86/requant_avx2.h"

typedef struct {
	sl_avx2_rq ra, rb, ro;
	__m256i za, zb, zo;
	__m128i ls;
	__m128i lo, hi;
} add_consts;

static inline __m256i side(__m128i x8, __m256i z, const add_consts *k, const sl_avx2_rq *r, const int u8)
{
	__m256i x = u8 ? _mm256_cvtepu8_epi32(x8) : _mm256_cvtepi8_epi32(x8);
	x = _mm256_sll_epi32(_mm256_sub_epi32(x, z), k->ls);
	return sl_avx2_mbqm(x, r);
}

static inline __attribute__((always_inline)) __m128i step16(const add_consts *k, __m128i a, __m128i b,
							    const int u8)
{
	__m256i s[2];
	for (int h = 0; h < 2; h++) {
		const __m128i a8 = h ? _mm_srli_si128(a, 8) : a, b8 = h ? _mm_srli_si128(b, 8) : b;
		const __m256i v =
		    _mm256_add_epi32(side(a8, k->za, k, &k->ra, u8), side(b8, k->zb, k, &k->rb, u8));
		s[h] = _mm256_add_epi32(sl_avx2_mbqm(v, &k->ro), k->zo);
	}
	const __m256i h16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(s[0], s[1]), 0xD8);
	const __m128i l = _mm256_castsi256_si128(h16), h = _mm256_extracti128_si256(h16, 1);
	const __m128i v = u8 ? _mm_packus_epi16(l, h) : _mm_packs_epi16(l, h);
	return u8 ? _mm_min_epu8(_mm_max_epu8(v, k->lo), k->hi) : _mm_min_epi8(_mm_max_epi8(v, k->lo), k->hi);
}

static inline __attribute__((always_inline)) void add(const add_consts *k, size_t n, const uint8_t *a,
						      const uint8_t *b, uint8_t *out, const int u8)
{
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(a + i));
		const __m128i y = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
		_mm_storeu_si128((__m128i *)(void *)(out + i), step16(k, x, y, u8));
	}
	if (i < n) {
		uint8_t ta[16] = {0}, tb[16] = {0}, to[16];
		memcpy(ta, a + i, n - i);
		memcpy(tb, b + i, n - i);
		_mm_storeu_si128((__m128i *)(void *)to,
				 step16(k, _mm_loadu_si128((const __m128i *)(const void *)ta),
					_mm_loadu_si128((const __m128i *)(const void *)tb), u8));
		memcpy(out + i, to, n - i);
	}
}

void sl_dense_add_avx2(const sl_dense_add_params *q, size_t n, const uint8_t *a, const uint8_t *b,
		       uint8_t *out)
{
	const add_consts k = {.ra = sl_avx2_rq_scalar(q->a_mult, q->a_shift),
			      .rb = sl_avx2_rq_scalar(q->b_mult, q->b_shift),
			      .ro = sl_avx2_rq_scalar(q->out_mult, q->out_shift),
			      .za = _mm256_set1_epi32(q->a_zp),
			      .zb = _mm256_set1_epi32(q->b_zp),
			      .zo = _mm256_set1_epi32(q->out_zp),
			      .ls = _mm_cvtsi32_si128(q->left_shift),
			      .lo = _mm_set1_epi8((char)q->act_min),
			      .hi = _mm_set1_epi8((char)q->act_max)};
	if (q->u8)
		add(&k, n, a, b, out, 1);
	else
		add(&k, n, a, b, out, 0);
}
