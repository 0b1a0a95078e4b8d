/* The AVX-512 kernels' requantization and output stage (q8_avx512.c,
 * q8_avx512vnni.c): the AVX2 tile's arithmetic (q8_avx2_tile.h) on 16 lanes,
 * for tiles of 16 pixels or more. The includer defines SL_Q8_CHANNEL512
 * (channel n's requantized int32 results, pixels 16g.. in acc[g], without
 * the output zero point; empty_row512 for rows without blocks) and may
 * define SL_Q8_PACK; built with at least -mavx512f -mavx512bw -mavx512dq
 * -mavx512vl. */
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
 * rq_fast wants them) requantized in place, without the zero point. */
static inline __attribute__((always_inline)) void finish512(const sl_sparse_q8 *p, int n, __m512i *acc,
							    const int mr)
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
}

/* An empty row: its precomputed output, less the zero point that the pack
 * adds back, in every acc[g] (the contract of SL_Q8_CHANNEL512). */
static inline __attribute__((always_inline)) bool empty_row512(const sl_sparse_q8 *p, int n, __m512i *acc,
							       const int mr)
{
	if (p->row[n] != p->row[n + 1])
		return false;
	const int32_t v = p->out_u8 ? (int32_t)p->ch[n].out_const : (int32_t)(int8_t)p->ch[n].out_const;
	SL_UNROLL
	for (int g = 0; g < mr / 16; g++)
		acc[g] = _mm512_set1_epi32(v - p->out_zp);
	return true;
}

/* The output stage of the 16- to 64-pixel tiles, on 512-bit registers.
 * The AVX2 one (store_tile, fed 256-bit halves) spent about 110 shuffles on
 * every 16 channels x 16 pixels, and 512-bit shuffles have one port. Here
 * the saturating packs of four channels land, per 128-bit lane, as 4 pixels
 * x 4 channels; one in-lane byte shuffle makes that a dword per pixel, and
 * four such registers (16 channels) are a 4x4 dword transposition away from
 * one pixel's 16 bytes per lane: 24 shuffles, each lane stored straight to
 * its pixel. MobileNet v2's 1x1 layers, 1 thread, against the old stage in
 * alternating runs: 5.57x -> 5.97x XNNPACK at 90 % zero blocks, 3.63x ->
 * 3.89x at 70 %. Layers with no block at all did not get faster (about
 * 40 us for b3-4 expand either way): their floor is not these shuffles.
 * Saturations happen in the same order as channel_pair's (int32 -> int16,
 * + zero point, -> 8 bits, clamp), so the bytes are the same. */
typedef struct {
	__m512i zp, lo, hi, order;
	bool clamp, u8;
} out512;

static inline out512 out512_init(const sl_sparse_q8 *p)
{
	out512 o;
	o.zp = _mm512_set1_epi16((int16_t)p->out_zp);
	o.lo = _mm512_set1_epi8((char)p->act_min);
	o.hi = _mm512_set1_epi8((char)p->act_max);
	/* byte 4c + k of a lane (channel c, pixel k) -> byte 4k + c */
	o.order = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
	o.u8 = p->out_u8;
	o.clamp = p->out_u8 ? p->act_min > 0 || p->act_max < 255 : p->act_min > -128 || p->act_max < 127;
	return o;
}

/* Channels n .. n + 3 (the last valid one repeated past p->n): z[g] holds,
 * per 128-bit lane L, pixel 16g + 4L + k's 4 bytes at dword k. */
static inline __attribute__((always_inline)) void quad512(const sl_sparse_q8 *p, const out512 *o, int n,
							  const int16_t *at, __m512i *z, const int mr)
{
	const int last = p->n - 1;
	__m512i a[4], b[4], ab[4];
	SL_Q8_CHANNEL512(p, n, at, a, mr);
	SL_Q8_CHANNEL512(p, SL_MIN(n + 1, last), at, b, mr);
	SL_UNROLL
	for (int g = 0; g < mr / 16; g++)
		ab[g] = _mm512_adds_epi16(_mm512_packs_epi32(a[g], b[g]), o->zp);
	SL_Q8_CHANNEL512(p, SL_MIN(n + 2, last), at, a, mr);
	SL_Q8_CHANNEL512(p, SL_MIN(n + 3, last), at, b, mr);
	SL_UNROLL
	for (int g = 0; g < mr / 16; g++) {
		const __m512i cd = _mm512_adds_epi16(_mm512_packs_epi32(a[g], b[g]), o->zp);
		__m512i x;
		if (o->u8) {
			x = _mm512_packus_epi16(ab[g], cd);
			if (o->clamp)
				x = _mm512_min_epu8(_mm512_max_epu8(x, o->lo), o->hi);
		} else {
			x = _mm512_packs_epi16(ab[g], cd);
			if (o->clamp)
				x = _mm512_min_epi8(_mm512_max_epi8(x, o->lo), o->hi);
		}
		z[g] = _mm512_shuffle_epi8(x, o->order);
	}
}

/* z[q] from quad512 for channels 4q.. of 16 pixels -> out[px][0..nc) for
 * px < rows. */
static inline __attribute__((always_inline)) void store512(const __m512i z[4], int nc, size_t rows,
							   uint8_t *out, size_t stride)
{
	const __m512i u0 = _mm512_unpacklo_epi32(z[0], z[1]), u1 = _mm512_unpackhi_epi32(z[0], z[1]);
	const __m512i u2 = _mm512_unpacklo_epi32(z[2], z[3]), u3 = _mm512_unpackhi_epi32(z[2], z[3]);
	const __m512i px[4] = {_mm512_unpacklo_epi64(u0, u2), _mm512_unpackhi_epi64(u0, u2),
			       _mm512_unpacklo_epi64(u1, u3), _mm512_unpackhi_epi64(u1, u3)};
	const __mmask16 m = (__mmask16)((1u << nc) - 1);
	if (rows >= 16 && nc == 16) {
		SL_UNROLL
		for (int k = 0; k < 4; k++) {
			_mm_storeu_si128((__m128i *)(out + (size_t)k * stride),
					 _mm512_castsi512_si128(px[k]));
			_mm_storeu_si128((__m128i *)(out + (size_t)(4 + k) * stride),
					 _mm512_extracti32x4_epi32(px[k], 1));
			_mm_storeu_si128((__m128i *)(out + (size_t)(8 + k) * stride),
					 _mm512_extracti32x4_epi32(px[k], 2));
			_mm_storeu_si128((__m128i *)(out + (size_t)(12 + k) * stride),
					 _mm512_extracti32x4_epi32(px[k], 3));
		}
		return;
	}
	for (int k = 0; k < 4; k++) {
		__m128i l[4] = {_mm512_castsi512_si128(px[k]), _mm512_extracti32x4_epi32(px[k], 1),
				_mm512_extracti32x4_epi32(px[k], 2), _mm512_extracti32x4_epi32(px[k], 3)};
		for (int L = 0; L < 4; L++)
			if ((size_t)(4 * L + k) < rows)
				_mm_mask_storeu_epi8(out + (size_t)(4 * L + k) * stride, m, l[L]);
	}
}

/* One tile of mr (16, 32 or 64) pixels, rows of them valid, all output
 * channels: SL_Q8_PACK's tile, SL_Q8_CHANNEL512's results, out512's stores. */
static inline __attribute__((always_inline)) void tile512(const sl_sparse_q8 *p, const uint8_t *in,
							  size_t in_stride, size_t rows, uint8_t *out,
							  size_t out_stride, int16_t *at, const int mr)
{
	SL_Q8_PACK(p, in, in_stride, rows, at, mr);
	const out512 o = out512_init(p);
	for (int n0 = 0; n0 < p->n; n0 += 16) {
		const int nc = SL_MIN(16, p->n - n0);
		__m512i z[4][4]; /* [pixel group][channel quad] */
		SL_UNROLL
		for (int q = 0; q < 4; q++) {
			__m512i zq[4];
			if (4 * q < nc)
				quad512(p, &o, n0 + 4 * q, at, zq, mr);
			SL_UNROLL
			for (int g = 0; g < mr / 16; g++)
				z[g][q] = 4 * q < nc ? zq[g] : _mm512_setzero_si512();
		}
		SL_UNROLL
		for (int g = 0; g < mr / 16; g++)
			if ((size_t)(16 * g) < rows)
				store512(z[g], nc, rows - (size_t)(16 * g),
					 out + (size_t)(16 * g) * out_stride + n0, out_stride);
	}
}

#define SL_Q8_TILE512(MR)                                                                                    \
	static void tile##MR(const sl_sparse_q8 *p, const uint8_t *in, size_t in_stride, size_t rows,        \
			     uint8_t *out, size_t out_stride, int16_t *at)                                   \
	{                                                                                                    \
		tile512(p, in, in_stride, rows, out, out_stride, at, MR);                                    \
	}
