/* SSE4.1 int8/uint8 SpMM (built with -msse4.1, reached through dispatch): the
 * AVX2 kernel's scheme (q8_avx2.c explains the tile layout and the fast
 * requantization) at 128 bits, for x86-64 CPUs without AVX2. Tiles are 16
 * pixels, 8 for the last few rows. */
#include "common/macros.h"
#include "kernels/sparse/x86/x86_common.h"

static inline void tr4x4_epi32(__m128i r[4])
{
	const __m128i t0 = _mm_unpacklo_epi32(r[0], r[1]), t1 = _mm_unpackhi_epi32(r[0], r[1]);
	const __m128i t2 = _mm_unpacklo_epi32(r[2], r[3]), t3 = _mm_unpackhi_epi32(r[2], r[3]);
	r[0] = _mm_unpacklo_epi64(t0, t2);
	r[1] = _mm_unpackhi_epi64(t0, t2);
	r[2] = _mm_unpacklo_epi64(t1, t3);
	r[3] = _mm_unpackhi_epi64(t1, t3);
}

/* at[(2 * j + h) * 2 * mr + 2 * px + e] = a[px][4 * j + 2 * h + e] (doubled in fast mode). */
static inline __attribute__((always_inline)) void
pack_tile(const sl_sparse_q8 *p, const uint8_t *in, size_t stride, size_t rows, int16_t *at, const int mr)
{
	sl_sparse_rows r;
	sl_sparse_rows_init(&r, in, stride, rows, p->k, mr);
	const bool u8 = p->in_u8, dbl = p->fast_requant;
	for (int c = 0; c < p->k; c += 16) {
		int16_t *dst = at + (size_t)(c / 4) * 4 * mr;
		for (int q = 0; q < mr / 4; q++) {
			__m128i lo[4], hi[4];
			SL_UNROLL
			for (int i = 0; i < 4; i++) {
				const __m128i x = _mm_loadu_si128(
				    (const __m128i *)sl_sparse_rows_at(&r, 4 * q + i, c, p->k));
				const __m128i x8 = _mm_srli_si128(x, 8);
				lo[i] = u8 ? _mm_cvtepu8_epi16(x) : _mm_cvtepi8_epi16(x);
				hi[i] = u8 ? _mm_cvtepu8_epi16(x8) : _mm_cvtepi8_epi16(x8);
				if (dbl) {
					lo[i] = _mm_add_epi16(lo[i], lo[i]);
					hi[i] = _mm_add_epi16(hi[i], hi[i]);
				}
			}
			tr4x4_epi32(lo);
			tr4x4_epi32(hi);
			SL_UNROLL
			for (int d = 0; d < 4; d++) {
				_mm_store_si128((__m128i *)(dst + d * 2 * mr + q * 8), lo[d]);
				_mm_store_si128((__m128i *)(dst + (d + 4) * 2 * mr + q * 8), hi[d]);
			}
		}
	}
}

static inline __m128i bcast_pair(const int16_t *w)
{
	int32_t v;
	memcpy(&v, w, sizeof(v));
	return _mm_set1_epi32(v);
}

/* acc[g] = init + channel n's sums for pixels 4g..4g+3, g < mr / 4; one
 * accumulator per group, as in q8_avx2.c. */
static inline __attribute__((always_inline)) void accumulate(const sl_sparse_q8 *p, int n, const int16_t *at,
							     int32_t init, __m128i *acc, const int mr)
{
	SL_UNROLL
	for (int g = 0; g < mr / 4; g++)
		acc[g] = _mm_set1_epi32(init);
	const uint16_t *idx = p->idx;
	const int16_t *w = p->w16;
	for (uint32_t i = p->row[n]; i < p->row[n + 1]; i++) {
		const int16_t *b0 = at + (size_t)idx[i] * 4 * mr;
		const __m128i w0 = bcast_pair(w + 4 * (size_t)i), w1 = bcast_pair(w + 4 * (size_t)i + 2);
		SL_UNROLL
		for (int g = 0; g < mr / 4; g++)
			acc[g] = _mm_add_epi32(
			    acc[g],
			    _mm_add_epi32(
				_mm_madd_epi16(_mm_load_si128((const __m128i *)(b0 + 8 * g)), w0),
				_mm_madd_epi16(_mm_load_si128((const __m128i *)(b0 + 2 * mr + 8 * g)), w1)));
	}
}

/* See rq_fast in q8_avx2.c. */
static inline __m128i rq_fast(__m128i x2, const sl_sparse_q8_chan *c)
{
	if (c->lshift)
		x2 = _mm_sll_epi32(x2, _mm_cvtsi32_si128(c->lshift));
	const __m128i m = _mm_set1_epi32(c->mult);
	const __m128i nudge = _mm_set1_epi64x(c->nudge);
	const __m128i pe = _mm_add_epi64(_mm_mul_epi32(x2, m), nudge);
	const __m128i po = _mm_add_epi64(_mm_mul_epi32(_mm_srli_epi64(x2, 32), m), nudge);
	__m128i z = _mm_blend_epi16(_mm_srli_epi64(pe, 32), po, 0xCC);
	if (c->rshift) {
		z = _mm_add_epi32(z, _mm_srai_epi32(x2, 31));
		z = _mm_sra_epi32(z, _mm_cvtsi32_si128(c->rshift));
	}
	return z;
}

static inline __m128i rq_exact(__m128i x, const sl_sparse_q8_chan *c)
{
	if (c->lshift)
		x = _mm_sll_epi32(x, _mm_cvtsi32_si128(c->lshift));
	const __m128i m = _mm_set1_epi32(c->mult);
	const __m128i nudge = _mm_set1_epi64x((int64_t)1 << 30);
	const __m128i pe = _mm_add_epi64(_mm_mul_epi32(x, m), nudge);
	const __m128i po = _mm_add_epi64(_mm_mul_epi32(_mm_srli_epi64(x, 32), m), nudge);
	__m128i z = _mm_blend_epi16(_mm_srli_epi64(pe, 31), _mm_slli_epi64(po, 1), 0xCC);
	if (c->rshift) {
		const int32_t mask = (int32_t)(((int64_t)1 << c->rshift) - 1);
		const __m128i rem = _mm_and_si128(z, _mm_set1_epi32(mask));
		const __m128i thr = _mm_sub_epi32(_mm_set1_epi32(mask >> 1), _mm_srai_epi32(z, 31));
		z = _mm_sub_epi32(_mm_sra_epi32(z, _mm_cvtsi32_si128(c->rshift)), _mm_cmpgt_epi32(rem, thr));
	}
	return z;
}

/* Channel n's 16 output bytes (pixels in order; only mr valid). */
static inline __attribute__((always_inline)) __m128i channel(const sl_sparse_q8 *p, int n, const int16_t *at,
							     const int mr)
{
	const sl_sparse_q8_chan *c = &p->ch[n];
	if (p->row[n] == p->row[n + 1])
		return _mm_set1_epi8((char)c->out_const);
	__m128i acc[4];
	if (p->rq == SL_SPARSE_RQ_FP32) {
		/* XNNPACK's fp32 requantization (sl_requantize_fp32); the low clamp
		 * happens below in int8, a product under -2^31 converting to
		 * INT32_MIN saturates there to the same place. */
		accumulate(p, n, at, c->bias_raw, acc, mr);
		const __m128 s = _mm_set1_ps(c->scale), top = _mm_set1_ps((float)(p->act_max - p->out_zp));
		SL_UNROLL
		for (int g = 0; g < mr / 4; g++)
			acc[g] = _mm_cvtps_epi32(_mm_min_ps(_mm_mul_ps(_mm_cvtepi32_ps(acc[g]), s), top));
	} else if (p->fast_requant) {
		accumulate(p, n, at, (int32_t)((uint32_t)c->bias_raw * 2u), acc, mr);
		SL_UNROLL
		for (int g = 0; g < mr / 4; g++)
			acc[g] = rq_fast(acc[g], c);
	} else {
		accumulate(p, n, at, c->bias_raw, acc, mr);
		SL_UNROLL
		for (int g = 0; g < mr / 4; g++)
			acc[g] = rq_exact(acc[g], c);
	}
	if (mr == 8)
		acc[2] = acc[3] = acc[0];
	const __m128i zp16 = _mm_set1_epi16((int16_t)p->out_zp);
	const __m128i r0 = _mm_adds_epi16(_mm_packs_epi32(acc[0], acc[1]), zp16);
	const __m128i r1 = _mm_adds_epi16(_mm_packs_epi32(acc[2], acc[3]), zp16);
	const __m128i lo = _mm_set1_epi8((char)p->act_min), hi = _mm_set1_epi8((char)p->act_max);
	if (p->out_u8)
		return _mm_min_epu8(_mm_max_epu8(_mm_packus_epi16(r0, r1), lo), hi);
	return _mm_min_epi8(_mm_max_epi8(_mm_packs_epi16(r0, r1), lo), hi);
}

static inline __attribute__((always_inline)) void tile(const sl_sparse_q8 *p, const uint8_t *in,
						       size_t in_stride, size_t rows, uint8_t *out,
						       size_t out_stride, int16_t *at, const int mr)
{
	_Alignas(16) uint8_t ct[16][16];
	pack_tile(p, in, in_stride, rows, at, mr);
	int n0 = 0;
	/* Unrolled over a group's 16 channels for per-slot branch prediction (see q8_avx2.c). */
	for (; n0 + 16 <= p->n; n0 += 16) {
		SL_UNROLL
		for (int i = 0; i < 16; i++)
			_mm_store_si128((__m128i *)ct[i], channel(p, n0 + i, at, mr));
		sl_x86_store_tile_u8((const uint8_t(*)[16])ct, 16, rows, out + n0, out_stride);
	}
	if (n0 < p->n) {
		const int nc = p->n - n0;
		for (int i = 0; i < 16; i++)
			_mm_store_si128((__m128i *)ct[i],
					i < nc ? channel(p, n0 + i, at, mr) : _mm_setzero_si128());
		sl_x86_store_tile_u8((const uint8_t(*)[16])ct, nc, rows, out + n0, out_stride);
	}
}

static void tile16(const sl_sparse_q8 *p, const uint8_t *in, size_t in_stride, size_t rows, uint8_t *out,
		   size_t out_stride, int16_t *at)
{
	tile(p, in, in_stride, rows, out, out_stride, at, 16);
}

static void tile8(const sl_sparse_q8 *p, const uint8_t *in, size_t in_stride, size_t rows, uint8_t *out,
		  size_t out_stride, int16_t *at)
{
	tile(p, in, in_stride, rows, out, out_stride, at, 8);
}

void sl_sparse_q8_sse41(const sl_sparse_q8 *p, size_t m_begin, size_t m_end, const void *in, size_t in_stride,
			void *out, size_t out_stride, void *scratch)
{
	int16_t *at = sl_x86_align64(scratch);
	const uint8_t *a = in;
	uint8_t *o = out;
	size_t m0 = m_begin;
	while (m_end - m0 > 8) {
		const size_t rows = SL_MIN(m_end - m0, (size_t)16);
		tile16(p, a + m0 * in_stride, in_stride, rows, o + m0 * out_stride, out_stride, at);
		m0 += rows;
	}
	if (m0 < m_end)
		tile8(p, a + m0 * in_stride, in_stride, m_end - m0, o + m0 * out_stride, out_stride, at);
}
