/* AVX2 depthwise convolution (depth multiplier 1, any filter), bit-exact.
 *
 * Per 16-channel block, per output pixel: the taps go by pairs; the two taps'
 * inputs (raw, widened to int16) are interleaved by VPUNPCKLWD / VPUNPCKHWD
 * and VPMADDWD multiplies them with the pair's (w - zw), interleaved the same
 * way at pack time, summing the two taps' products in int32 (no int16
 * overflow: |a| <= 255, |w - zw| <= 255). The input zero point is folded into
 * the bias (biasp), so padding taps reading the zero-point row add nothing.
 * The unpacks leave channels 0-3, 8-11 in one accumulator and 4-7, 12-15 in
 * the other; VPACKSSDW of the two restores the order.
 *
 * Channel-outer loop: the block's requantization constants stay in registers
 * across all pixels of the row, its weights in L1. Stride-1 3x3 layers
 * (sl_dense_dw_3x3s1_avx2) go two pixels at a time (accumulate2). A last block of fewer
 * than 16 channels goes through a copy of its bytes (never reading past a
 * pixel, nor past the zero-point row). */
#include <immintrin.h>
#include <string.h>

#include "kernels/dense/dense_kernels.h"
#include "kernels/dense/x86/requant_avx2.h"

static inline __m256i widen16(const uint8_t *s, const int u8)
{
	const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
	return u8 ? _mm256_cvtepu8_epi16(x) : _mm256_cvtepi8_epi16(x);
}

/* lanes 0-3 of a, 0-3 of b | 4-7 of a, 4-7 of b, from channel-ordered 8+8 */
static inline __m256i lo_of(const int32_t *v)
{
	const __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)v),
		      b = _mm256_loadu_si256((const __m256i *)(const void *)(v + 8));
	return _mm256_permute2x128_si256(a, b, 0x20);
}

static inline __m256i hi_of(const int32_t *v)
{
	const __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)v),
		      b = _mm256_loadu_si256((const __m256i *)(const void *)(v + 8));
	return _mm256_permute2x128_si256(a, b, 0x31);
}

/* Pixel accumulators for taps ptrs[0..taps) at channel offset c0. */
static inline __attribute__((always_inline)) void accumulate(const uint8_t *const *pt, size_t c0,
							     const int16_t *w, const int taps, const int u8,
							     __m256i *lo, __m256i *hi)
{
	int t = 0;
	for (; t + 2 <= taps; t += 2, w += 32) {
		const __m256i x0 = widen16(pt[t] + c0, u8), x1 = widen16(pt[t + 1] + c0, u8);
		*lo = _mm256_add_epi32(
		    *lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, x1),
					   _mm256_load_si256((const __m256i *)(const void *)w)));
		*hi = _mm256_add_epi32(
		    *hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, x1),
					   _mm256_load_si256((const __m256i *)(const void *)(w + 16))));
	}
	if (t < taps) {
		const __m256i x0 = widen16(pt[t] + c0, u8), z = _mm256_setzero_si256();
		*lo = _mm256_add_epi32(
		    *lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, z),
					   _mm256_load_si256((const __m256i *)(const void *)w)));
		*hi = _mm256_add_epi32(
		    *hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, z),
					   _mm256_load_si256((const __m256i *)(const void *)(w + 16))));
	}
}

/* Two horizontally adjacent pixels of a stride-1 3x3 filter: the second's
 * taps in filter columns 0 and 1 are the first's in columns 1 and 2 (run.c
 * gives one input position one pointer), so their widened inputs are
 * shared, and each weight pair is loaded once for both. pu: the second
 * pixel's tap pointers. */
static inline __attribute__((always_inline)) void accumulate2(const uint8_t *const *pt,
							      const uint8_t *const *pu, size_t c0,
							      const int16_t *w, const int u8, __m256i acc[4])
{
#define SECOND(t) ((t) % 3 < 2 ? pt[(t) + 1] : pu[t])
#ifndef __clang__
#pragma GCC unroll 5
#endif
	for (int t = 0; t < 9; t += 2, w += 32) {
		const __m256i wl = _mm256_load_si256((const __m256i *)(const void *)w),
			      wh = _mm256_load_si256((const __m256i *)(const void *)(w + 16));
		const __m256i x0 = widen16(pt[t] + c0, u8), y0 = widen16(SECOND(t) + c0, u8);
		const __m256i x1 = t + 1 < 9 ? widen16(pt[t + 1] + c0, u8) : _mm256_setzero_si256();
		const __m256i y1 = t + 1 < 9 ? widen16(SECOND(t + 1) + c0, u8) : _mm256_setzero_si256();
		acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, x1), wl));
		acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, x1), wh));
		acc[2] = _mm256_add_epi32(acc[2], _mm256_madd_epi16(_mm256_unpacklo_epi16(y0, y1), wl));
		acc[3] = _mm256_add_epi32(acc[3], _mm256_madd_epi16(_mm256_unpackhi_epi16(y0, y1), wh));
	}
#undef SECOND
}

/* Requantizes one pixel's 16 channels (accumulators in VPUNPCKL/HWD order)
 * and stores the first nc. */
static inline __attribute__((always_inline)) void store16(uint8_t *d, __m256i al, __m256i ah,
							  const sl_avx2_rq *rl, const sl_avx2_rq *rh,
							  __m256i zp, __m128i lo8, __m128i hi8,
							  const int u8_out, size_t nc)
{
	al = _mm256_add_epi32(sl_avx2_mbqm(al, rl), zp);
	ah = _mm256_add_epi32(sl_avx2_mbqm(ah, rh), zp);
	const __m256i h = _mm256_packs_epi32(al, ah); /* channels 0-7 | 8-15 */
	const __m128i h0 = _mm256_castsi256_si128(h), h1 = _mm256_extracti128_si256(h, 1);
	__m128i v = u8_out ? _mm_packus_epi16(h0, h1) : _mm_packs_epi16(h0, h1);
	v = u8_out ? _mm_min_epu8(_mm_max_epu8(v, lo8), hi8) : _mm_min_epi8(_mm_max_epi8(v, lo8), hi8);
	if (nc == 16) {
		_mm_storeu_si128((__m128i *)(void *)d, v);
	} else {
		uint8_t t[16];
		_mm_storeu_si128((__m128i *)(void *)t, v);
		memcpy(d, t, nc);
	}
}

static inline __attribute__((always_inline)) void dw(const sl_dense_dw *p, size_t n_px,
						     const uint8_t *const *ptrs, uint8_t *out,
						     size_t out_stride, const int taps_c, const int u8_in,
						     const int u8_out, const int s1)
{
	const int taps = taps_c ? taps_c : p->taps;
	const size_t c = (size_t)p->c, pairs = ((size_t)taps + 1) / 2;
	const sl_dense_requant *q = &p->rq;
	const __m256i zp = _mm256_set1_epi32(q->out_zp);
	const __m128i lo8 = _mm_set1_epi8((char)q->act_min), hi8 = _mm_set1_epi8((char)q->act_max);
	const int any_lsh = q->any_lsh;
	for (size_t c0 = 0; c0 < c; c0 += 16) {
		const size_t nc = c - c0 < 16 ? c - c0 : 16;
		const sl_avx2_rq rl =
		    sl_avx2_rq_make(lo_of(q->mult + c0), lo_of(q->lsh + c0), lo_of(q->rsh + c0), any_lsh);
		const sl_avx2_rq rh =
		    sl_avx2_rq_make(hi_of(q->mult + c0), hi_of(q->lsh + c0), hi_of(q->rsh + c0), any_lsh);
		const __m256i bl = lo_of(p->biasp + c0), bh = hi_of(p->biasp + c0);
		const int16_t *w = p->wp + c0 / 16 * pairs * 32;
		size_t px = 0;
		if (s1 && nc == 16)
			for (; px + 2 <= n_px; px += 2) {
				const uint8_t *const *pt = ptrs + px * 9;
				__m256i acc[4] = {bl, bh, bl, bh};
				accumulate2(pt, pt + 9, c0, w, u8_in, acc);
				uint8_t *d = out + px * out_stride + c0;
				store16(d, acc[0], acc[1], &rl, &rh, zp, lo8, hi8, u8_out, 16);
				store16(d + out_stride, acc[2], acc[3], &rl, &rh, zp, lo8, hi8, u8_out, 16);
			}
		for (; px < n_px; px++) {
			const uint8_t *const *pt = ptrs + px * (size_t)taps;
			__m256i al = bl, ah = bh;
			if (nc == 16) {
				accumulate(pt, c0, w, taps, u8_in, &al, &ah);
			} else {
				/* 4096 taps at most (pack.c): copied in groups */
				uint8_t buf[16][16];
				const uint8_t *bp[16];
				for (int t0 = 0; t0 < taps; t0 += 16) {
					const int nt = taps - t0 < 16 ? taps - t0 : 16;
					for (int t = 0; t < nt; t++) {
						memset(buf[t], 0, 16);
						memcpy(buf[t], pt[t0 + t] + c0, nc);
						bp[t] = buf[t];
					}
					accumulate(bp, 0, w + (size_t)t0 / 2 * 32, nt, u8_in, &al, &ah);
				}
			}
			store16(out + px * out_stride + c0, al, ah, &rl, &rh, zp, lo8, hi8, u8_out, nc);
		}
	}
}

SL_DENSE_DW_DECL(sl_dense_dw_3x3s1_avx2)
{
	SL_DENSE_DW_VARIANTS(dw, 9, 1);
}

SL_DENSE_DW_DECL(sl_dense_dw_3x3_avx2)
{
	SL_DENSE_DW_VARIANTS(dw, 9, 0);
}

SL_DENSE_DW_DECL(sl_dense_dw_any_avx2)
{
	SL_DENSE_DW_VARIANTS(dw, 0, 0);
}
