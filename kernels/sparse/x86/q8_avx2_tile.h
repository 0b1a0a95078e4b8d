/* The AVX2 int8/uint8 SpMM tile (see q8_avx2.c for the layout and the
 * arithmetic). The AVX-512 kernels share its packing, requantization
 * constants and 8-pixel tile; their wider tiles have their own output stage
 * (q8_avx512.h). The includer may define
 * SL_Q8_CHANNEL (one of its own with channel_avx2's contract; channel_avx2 by
 * default) and compiles with at least -mavx2 -mfma. */
#pragma once

#include <immintrin.h>

#include "common/macros.h"
#include "kernels/quant.h"
#include "kernels/sparse/x86/x86_common.h"

#ifndef SL_Q8_PACK
#define SL_Q8_PACK pack_tile /* the int16 tile */
#endif
#ifndef SL_Q8_CHANNEL
#define SL_Q8_CHANNEL channel_avx2
#endif

static inline void tr8x8_epi32(__m256i r[8])
{
	__m256i t[8], u[8];
	SL_UNROLL
	for (int i = 0; i < 4; i++) {
		t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
	}
	SL_UNROLL
	for (int i = 0; i < 2; i++) {
		u[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i + 0], t[4 * i + 2]);
		u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i + 0], t[4 * i + 2]);
		u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
		u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
	}
	SL_UNROLL
	for (int i = 0; i < 4; i++) {
		r[i] = _mm256_permute2x128_si256(u[i], u[4 + i], 0x20);
		r[4 + i] = _mm256_permute2x128_si256(u[i], u[4 + i], 0x31);
	}
}

/* In each 128-bit lane, the 8 x 8 matrix of 16-bit units transposed: unit i
 * of out[k] = unit k of r[i]. */
static inline void tr8x8_epi16_lanes(const __m256i r[8], __m256i out[8])
{
	__m256i t[8], u[8];
	SL_UNROLL
	for (int m = 0; m < 4; m++) {
		t[2 * m] = _mm256_unpacklo_epi16(r[2 * m], r[2 * m + 1]);     /* pairs 0-3 */
		t[2 * m + 1] = _mm256_unpackhi_epi16(r[2 * m], r[2 * m + 1]); /* pairs 4-7 */
	}
	SL_UNROLL
	for (int g = 0; g < 2; g++) {
		u[4 * g + 0] = _mm256_unpacklo_epi32(t[4 * g + 0], t[4 * g + 2]);
		u[4 * g + 1] = _mm256_unpackhi_epi32(t[4 * g + 0], t[4 * g + 2]);
		u[4 * g + 2] = _mm256_unpacklo_epi32(t[4 * g + 1], t[4 * g + 3]);
		u[4 * g + 3] = _mm256_unpackhi_epi32(t[4 * g + 1], t[4 * g + 3]);
	}
	SL_UNROLL
	for (int s = 0; s < 4; s++) {
		out[2 * s] = _mm256_unpacklo_epi64(u[s], u[4 + s]);
		out[2 * s + 1] = _mm256_unpackhi_epi64(u[s], u[4 + s]);
	}
}

static inline __m256i widen(__m128i x, bool u8)
{
	return u8 ? _mm256_cvtepu8_epi16(x) : _mm256_cvtepi8_epi16(x);
}

/* at[(2 * j + h) * 2 * mr + 2 * px + e] = a[px][4 * j + 2 * h + e]. Whole
 * 32-channel slices are transposed as 16-bit K pairs while still bytes (half
 * the data of transposing after the widening; 5 % of the K = 32 projection at
 * high sparsity, where packing is a third of the time) and widened last:
 * pair d of 8 pixels in lane 0 of x[d], pair d + 8 in lane 1. The rest goes
 * 16 channels at a time, widened first. */
static inline __attribute__((always_inline)) void
pack_tile(const sl_sparse_q8 *p, const uint8_t *in, size_t stride, size_t rows, int16_t *at, const int mr)
{
	sl_sparse_rows r;
	sl_sparse_rows_init(&r, in, stride, rows, p->k, mr);
	const bool u8 = p->in_u8;
	int c = 0;
	for (; c + 32 <= p->k; c += 32) {
		int16_t *dst = at + (size_t)(c / 4) * 4 * mr;
		for (int q = 0; q < mr / 8; q++) {
			__m256i v[8], x[8];
			SL_UNROLL
			for (int i = 0; i < 8; i++) {
				const uint8_t *row = sl_sparse_rows_row(&r, (size_t)(8 * q + i));
				v[i] = r.full || row ? _mm256_loadu_si256((const __m256i *)(row + c))
						     : _mm256_setzero_si256();
			}
			tr8x8_epi16_lanes(v, x);
			SL_UNROLL
			for (int d = 0; d < 8; d++) {
				_mm256_store_si256((__m256i *)(dst + d * 2 * mr + q * 16),
						   widen(_mm256_castsi256_si128(x[d]), u8));
				_mm256_store_si256((__m256i *)(dst + (d + 8) * 2 * mr + q * 16),
						   widen(_mm256_extracti128_si256(x[d], 1), u8));
			}
		}
	}
	for (; c < p->k; c += 16) {
		int16_t *dst = at + (size_t)(c / 4) * 4 * mr;
		for (int q = 0; q < mr / 8; q++) {
			__m256i v[8];
			SL_UNROLL
			for (int i = 0; i < 8; i++)
				v[i] = widen(_mm_loadu_si128(
						 (const __m128i *)sl_sparse_rows_at(&r, 8 * q + i, c, p->k)),
					     u8);
			tr8x8_epi32(v);
			SL_UNROLL
			for (int d = 0; d < 8; d++)
				_mm256_store_si256((__m256i *)(dst + d * 2 * mr + q * 16), v[d]);
		}
	}
}

static inline __m256i bcast_pair(const int16_t *w)
{
	int32_t v;
	memcpy(&v, w, sizeof(v));
	return _mm256_set1_epi32(v);
}

/* One block's products for pixels 8g..8g+7: its two K pairs (rows b and
 * b + 2 mr of the tile) times their broadcast weight pairs. */
static inline __attribute__((always_inline)) __m256i block8(const int16_t *b, __m256i w01, __m256i w23, int g,
							    const int mr)
{
	return _mm256_add_epi32(
	    _mm256_madd_epi16(_mm256_load_si256((const __m256i *)(b + 16 * g)), w01),
	    _mm256_madd_epi16(_mm256_load_si256((const __m256i *)(b + 2 * mr + 16 * g)), w23));
}

/* acc[g] = init + channel n's sums for pixels 8g..8g+7, g < mr / 8. One
 * accumulator per pixel group, not one per K pair: most rows of a sparse
 * layer hold 0 to 2 blocks, so adding two partial sums at the end cost more
 * (mr / 8 adds per channel) than the longer dependency chain does. */
static inline __attribute__((always_inline)) void accumulate(const sl_sparse_q8 *p, int n, const int16_t *at,
							     int32_t init, __m256i *acc, const int mr)
{
	SL_UNROLL
	for (int g = 0; g < mr / 8; g++)
		acc[g] = _mm256_set1_epi32(init);
	const uint16_t *idx = p->idx;
	const int16_t *w = p->fast_requant ? p->w16x2 : p->w16;
	uint32_t i = p->row[n];
	const uint32_t e = p->row[n + 1];
	for (; i + 2 <= e; i += 2) {
		const int16_t *b0 = at + (size_t)idx[i] * 4 * mr, *b1 = at + (size_t)idx[i + 1] * 4 * mr;
		const __m256i w0 = bcast_pair(w + 4 * (size_t)i), w1 = bcast_pair(w + 4 * (size_t)i + 2);
		const __m256i w2 = bcast_pair(w + 4 * (size_t)i + 4), w3 = bcast_pair(w + 4 * (size_t)i + 6);
		SL_UNROLL
		for (int g = 0; g < mr / 8; g++)
			acc[g] = _mm256_add_epi32(
			    acc[g], _mm256_add_epi32(block8(b0, w0, w1, g, mr), block8(b1, w2, w3, g, mr)));
	}
	if (i < e) {
		const int16_t *b0 = at + (size_t)idx[i] * 4 * mr;
		const __m256i w0 = bcast_pair(w + 4 * (size_t)i), w1 = bcast_pair(w + 4 * (size_t)i + 2);
		SL_UNROLL
		for (int g = 0; g < mr / 8; g++)
			acc[g] = _mm256_add_epi32(acc[g], block8(b0, w0, w1, g, mr));
	}
}

/* x2 = 2 * acc, |acc << lshift| < 2^30. With y = acc << lshift, the high half
 * of 2y * mult + 2^31 is SRDHM(y, mult); adding 2^(rshift-1) to it, and -1
 * for y < 0, then shifting right arithmetically is RoundingDivideByPOT's
 * round-half-away-from-zero (y's sign stands in for the SRDHM result's: they
 * differ only when that result is 0, which rounds to 0 either way). The
 * 2^(rshift-1) rides in the 64-bit nudge so the 32-bit sum cannot overflow. */
static inline __attribute__((always_inline)) __m256i rq_fast(__m256i x2, const sl_sparse_q8_chan *c,
							     const bool neg)
{
	if (c->lshift)
		x2 = _mm256_sll_epi32(x2, _mm_cvtsi32_si128(c->lshift));
	const __m256i m = _mm256_set1_epi32(c->mult);
	const __m256i nudge = _mm256_set1_epi64x(c->nudge);
	const __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(x2, m), nudge);
	const __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x2, 32), m), nudge);
	__m256i z = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
	if (c->rshift) {
		if (neg)
			z = _mm256_add_epi32(z, _mm256_srai_epi32(x2, 31));
		z = _mm256_sra_epi32(z, _mm_cvtsi32_si128(c->rshift));
	}
	return z;
}

/* Whether rq_fast must round negative accumulators exactly. Not when the
 * activation clamps at or above the output zero point (ReLU, ReLU6: the
 * expansion layers): a negative accumulator requantizes to at most 0 with or
 * without the correction, so to the zero point or below, and the clamp makes
 * both act_min. */
static inline bool rq_needs_neg(const sl_sparse_q8 *p)
{
	return p->act_min < p->out_zp;
}

/* Any acc: gemmlowp's sequence as is (mult >= 0, so SRDHM never saturates). */
static inline __m256i rq_exact(__m256i x, const sl_sparse_q8_chan *c)
{
	if (c->lshift)
		x = _mm256_sll_epi32(x, _mm_cvtsi32_si128(c->lshift));
	const __m256i m = _mm256_set1_epi32(c->mult);
	const __m256i nudge = _mm256_set1_epi64x((int64_t)1 << 30);
	const __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(x, m), nudge);
	const __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), m), nudge);
	__m256i z = _mm256_blend_epi32(_mm256_srli_epi64(pe, 31), _mm256_slli_epi64(po, 1), 0xAA);
	if (c->rshift) {
		const int32_t mask = (int32_t)(((int64_t)1 << c->rshift) - 1);
		const __m256i rem = _mm256_and_si256(z, _mm256_set1_epi32(mask));
		const __m256i thr = _mm256_sub_epi32(_mm256_set1_epi32(mask >> 1), _mm256_srai_epi32(z, 31));
		z = _mm256_sub_epi32(_mm256_sra_epi32(z, _mm_cvtsi32_si128(c->rshift)),
				     _mm256_cmpgt_epi32(rem, thr));
	}
	return z;
}

/* An empty row: its precomputed constant in every r[h] (any channel
 * function's contract, below). */
static inline __attribute__((always_inline)) bool empty_row(const sl_sparse_q8 *p, int n, __m256i *r,
							    const int mr)
{
	if (p->row[n] != p->row[n + 1])
		return false;
	const sl_sparse_q8_chan *c = &p->ch[n];
	const __m256i k =
	    _mm256_set1_epi16(p->out_u8 ? (int16_t)c->out_const : (int16_t)(int8_t)c->out_const);
	SL_UNROLL
	for (int h = 0; h < (mr + 15) / 16; h++)
		r[h] = k;
	return true;
}

/* Channel n's outputs as saturated int16 with the output zero point added:
 * r[h] holds pixels 16h + (0-3, 8-11 | 4-7, 12-15) (packs works per 128-bit
 * lane). An empty row is its precomputed constant. */
static inline __attribute__((always_inline)) void
channel_avx2(const sl_sparse_q8 *p, int n, const int16_t *at, __m256i zp16, __m256i *r, const int mr)
{
	if (empty_row(p, n, r, mr))
		return;
	const sl_sparse_q8_chan *c = &p->ch[n];
	__m256i acc[4];
	if (p->rq == SL_SPARSE_RQ_FP32) {
		/* XNNPACK's fp32 requantization (sl_requantize_fp32), 4 ops per 8
		 * lanes; the low clamp happens in channel_pair, in int8: a product
		 * under -2^31 converts to INT32_MIN and saturates to the same place. */
		accumulate(p, n, at, c->bias_raw, acc, mr);
		const __m256 s = _mm256_set1_ps(c->scale),
			     top = _mm256_set1_ps((float)(p->act_max - p->out_zp));
		SL_UNROLL
		for (int g = 0; g < mr / 8; g++)
			acc[g] = _mm256_cvtps_epi32(
			    _mm256_min_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc[g]), s), top));
	} else if (p->fast_requant) {
		accumulate(p, n, at, (int32_t)((uint32_t)c->bias_raw * 2u), acc, mr);
		if (rq_needs_neg(p)) {
			SL_UNROLL
			for (int g = 0; g < mr / 8; g++)
				acc[g] = rq_fast(acc[g], c, true);
		} else {
			SL_UNROLL
			for (int g = 0; g < mr / 8; g++)
				acc[g] = rq_fast(acc[g], c, false);
		}
	} else {
		accumulate(p, n, at, c->bias_raw, acc, mr);
		SL_UNROLL
		for (int g = 0; g < mr / 8; g++)
			acc[g] = rq_exact(acc[g], c);
	}
	if (mr == 8)
		acc[1] = acc[0]; /* pixels 8-15 of an 8-pixel tile are never stored */
	SL_UNROLL
	for (int h = 0; h < (mr + 15) / 16; h++)
		r[h] = _mm256_adds_epi16(_mm256_packs_epi32(acc[2 * h], acc[2 * h + 1]), zp16);
}

/* Channels na and nb, pixels 16h..16h+15: v[h] holds per 128-bit lane the
 * bytes of na then nb for 8 pixels, 16h + (0-3, 8-11) in lane 0 and
 * 16h + (4-7, 12-15) in lane 1: the order packs leaves them in, which
 * store_tile undoes by where it stores each pixel. */
static inline __attribute__((always_inline)) void channel_pair(const sl_sparse_q8 *p, int na, int nb,
							       const int16_t *at, __m256i *v, const int mr)
{
	const __m256i zp16 = _mm256_set1_epi16((int16_t)p->out_zp);
	const __m256i lo = _mm256_set1_epi8((char)p->act_min), hi = _mm256_set1_epi8((char)p->act_max);
	/* The pack saturates to the type's range: a layer without an activation
	 * (the projections) needs no clamp after it. */
	const bool clamp =
	    p->out_u8 ? p->act_min > 0 || p->act_max < 255 : p->act_min > -128 || p->act_max < 127;
	__m256i ra[4], rb[4];
	SL_Q8_CHANNEL(p, na, at, zp16, ra, mr);
	SL_Q8_CHANNEL(p, nb, at, zp16, rb, mr);
	SL_UNROLL
	for (int h = 0; h < (mr + 15) / 16; h++) {
		__m256i x;
		if (p->out_u8) {
			x = _mm256_packus_epi16(ra[h], rb[h]);
			if (clamp)
				x = _mm256_min_epu8(_mm256_max_epu8(x, lo), hi);
		} else {
			x = _mm256_packs_epi16(ra[h], rb[h]);
			if (clamp)
				x = _mm256_min_epi8(_mm256_max_epi8(x, lo), hi);
		}
		v[h] = x;
	}
}

/* v[i] = channels 2i, 2i+1 of 16 pixels as channel_pair leaves them ->
 * out[px][0..nc) for px < rows. The bytes of each channel pair are
 * interleaved into 16-bit units, then the 8 x 8 units of each lane are
 * transposed: lane L of x[k] is then pixel slot k of that lane, channels
 * 0-15, stored at the pixel the slot stands for. 40 shuffles per 16 x 16
 * bytes (56 with the lanes sorted first). */
static inline void store_tile(const __m256i v[8], int nc, size_t rows, uint8_t *out, size_t stride)
{
	const __m256i il = _mm256_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15, 0, 8, 1, 9,
					    2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
	__m256i y[8], x[8];
	SL_UNROLL
	for (int i = 0; i < 8; i++)
		y[i] = _mm256_shuffle_epi8(v[i], il);
	tr8x8_epi16_lanes(y, x);
	SL_UNROLL
	for (int k = 0; k < 8; k++) {
		/* Slot k: pixel k or k + 4 (slots 4-7: 8-11) in lane 0, 4 more in lane 1. */
		const size_t p0 = (size_t)(k < 4 ? k : k + 4), p1 = p0 + 4;
		if (p0 < rows)
			sl_x86_store_row(out + p0 * stride, _mm256_castsi256_si128(x[k]), nc);
		if (p1 < rows)
			sl_x86_store_row(out + p1 * stride, _mm256_extracti128_si256(x[k], 1), nc);
	}
}

/* One tile of mr pixels (rows valid ones), all output channels. */
static inline __attribute__((always_inline)) void tile(const sl_sparse_q8 *p, const uint8_t *in,
						       size_t in_stride, size_t rows, uint8_t *out,
						       size_t out_stride, int16_t *at, const int mr)
{
	_Alignas(32) __m256i v[4][8]; /* up to 64 pixels (the AVX-512 kernel) */
	SL_Q8_PACK(p, in, in_stride, rows, at, mr);
	int n0 = 0;
	/* Unrolled over the 16 channels of a group: each channel slot gets its
	 * own branches, whose outcomes repeat every tile and so predict well even
	 * when row lengths are random. */
	for (; n0 + 16 <= p->n; n0 += 16) {
		SL_UNROLL
		for (int i = 0; i < 8; i++) {
			__m256i x[4];
			channel_pair(p, n0 + 2 * i, n0 + 2 * i + 1, at, x, mr);
			SL_UNROLL
			for (int h = 0; h < (mr + 15) / 16; h++)
				v[h][i] = x[h];
		}
		SL_UNROLL
		for (int h = 0; h < (mr + 15) / 16; h++)
			if ((size_t)(16 * h) < rows)
				store_tile(v[h], 16, rows - (size_t)(16 * h),
					   out + (size_t)(16 * h) * out_stride + n0, out_stride);
	}
	if (n0 < p->n) {
		const int nc = p->n - n0;
		for (int i = 0; i < 8; i++) {
			__m256i x[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(),
					_mm256_setzero_si256(), _mm256_setzero_si256()};
			if (2 * i < nc)
				channel_pair(p, n0 + 2 * i, SL_MIN(n0 + 2 * i + 1, p->n - 1), at, x, mr);
			for (int h = 0; h < (mr + 15) / 16; h++)
				v[h][i] = x[h];
		}
		for (int h = 0; h < (mr + 15) / 16; h++)
			if ((size_t)(16 * h) < rows)
				store_tile(v[h], nc, rows - (size_t)(16 * h),
					   out + (size_t)(16 * h) * out_stride + n0, out_stride);
	}
}

/* tileMR(): one tile of MR pixels, out of line (the tile is large). */
#define SL_Q8_TILE(MR)                                                                                       \
	static void tile##MR(const sl_sparse_q8 *p, const uint8_t *in, size_t in_stride, size_t rows,        \
			     uint8_t *out, size_t out_stride, int16_t *at)                                   \
	{                                                                                                    \
		tile(p, in, in_stride, rows, out, out_stride, at, MR);                                       \
	}

typedef void (*q8_tile_fn)(const sl_sparse_q8 *p, const uint8_t *in, size_t in_stride, size_t rows,
			   uint8_t *out, size_t out_stride, int16_t *at);

/* Rows [m_begin, m_end) in tiles of 64, 32, 16 and 8 pixels (fns[0..3], NULL
 * where a kernel has no such tile or the tile would not stay in L1), the
 * largest first. A tile size is used while more than half of it remains
 * (more than nothing for the smallest), so that small layers (7x7 = 3 * 16
 * + 1 pixels) do not waste most of a last large tile: a larger tile halves
 * the per-channel work (row setup, requantization constants, weight
 * broadcasts) per output. */
static inline void run_tiles(const sl_sparse_q8 *p, size_t m_begin, size_t m_end, const void *in,
			     size_t in_stride, void *out, size_t out_stride, void *scratch,
			     const q8_tile_fn fns[4])
{
	int16_t *at = sl_x86_align64(scratch);
	const uint8_t *a = in;
	uint8_t *o = out;
	size_t m0 = m_begin;
	for (int i = 0; i < 4; i++) {
		if (!fns[i])
			continue;
		const size_t mr = (size_t)64 >> i;
		bool smaller = false;
		for (int j = i + 1; j < 4; j++)
			smaller |= fns[j] != NULL;
		while (m_end - m0 > (smaller ? mr / 2 : 0)) {
			const size_t rows = SL_MIN(m_end - m0, mr);
			fns[i](p, a + m0 * in_stride, in_stride, rows, o + m0 * out_stride, out_stride, at);
			m0 += rows;
		}
	}
}
