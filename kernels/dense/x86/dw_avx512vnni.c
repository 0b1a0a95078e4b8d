/* AVX-512 depthwise convolution (depth multiplier 1), bit-exact: dw_avx2.c's
 * scheme on 32 channels per register (built with -mavx512f/bw/dq/vl/vnni).
 *
 * The two taps of a pair are widened to int16 and interleaved by VPUNPCKL/HWD,
 * whose 128-bit lanes give exactly two of the AVX2 layout's 16-channel blocks
 * side by side, so the packed weights serve as they are (two 256-bit rows per
 * pair make one 512-bit one); VPDPWSSD multiplies and accumulates in one
 * instruction. Channel-outer loop: in the 3x3 kernels a block's ten weight
 * registers stay loaded across the row's pixels. A channel tail (fewer than
 * 32) uses masked loads and stores, so nothing past a pixel's channels (or
 * the zero-point row) is touched. */
#include <immintrin.h>
#include <string.h>

#include "kernels/dense/dense_kernels.h"
#include "kernels/dense/x86/requant_avx512.h"

static inline __attribute__((always_inline)) __m512i widen32(const uint8_t *s, __mmask32 m, const int u8)
{
	const __m256i x = _mm256_maskz_loadu_epi8(m, s);
	return u8 ? _mm512_cvtepu8_epi16(x) : _mm512_cvtepi8_epi16(x);
}

/* Two 256-bit rows (blocks b and b + 1 of the packed layout) as one register;
 * the second only when it exists. */
static inline __m512i rows2(const int16_t *a, const int16_t *b, const int two)
{
	const __m256i lo = _mm256_load_si256((const __m256i *)(const void *)a);
	return two ? _mm512_inserti64x4(_mm512_castsi256_si512(lo),
					_mm256_load_si256((const __m256i *)(const void *)b), 1)
		   : _mm512_zextsi256_si512(lo);
}

/* Per-channel int32 values of 32 channels in VPUNPCKLWD (lo) / VPUNPCKHWD (hi)
 * lane order: per 8 channels, the first four go to lo and the last four to hi. */
static inline void split32(const int32_t *v, const int two, __m512i *lo, __m512i *hi)
{
	const __m512i idx_lo = _mm512_setr_epi32(0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
	const __m512i idx_hi = _mm512_setr_epi32(4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
	const __m512i a = _mm512_loadu_si512((const void *)v);
	const __m512i b = two ? _mm512_loadu_si512((const void *)(v + 16)) : _mm512_setzero_si512();
	*lo = _mm512_permutex2var_epi32(a, idx_lo, b);
	*hi = _mm512_permutex2var_epi32(a, idx_hi, b);
}

typedef struct {
	sl_avx512_rq lo, hi;
	__m512i zp;
	__m256i min8, max8;
	int any_lsh;
} outq;

/* One pixel's 32 channels (lo/hi accumulators) requantized; the first nc stored. */
static inline __attribute__((always_inline)) void store32(uint8_t *d, __m512i al, __m512i ah, const outq *o,
							  const int u8_out, __mmask32 m)
{
	al = _mm512_add_epi32(sl_avx512_mbqm(al, &o->lo, o->any_lsh), o->zp);
	ah = _mm512_add_epi32(sl_avx512_mbqm(ah, &o->hi, o->any_lsh), o->zp);
	/* per 128-bit lane: 4 channels from lo, the next 4 from hi: channel order */
	const __m512i h = _mm512_packs_epi32(al, ah);
	__m256i v;
	if (u8_out) {
		v = _mm512_cvtusepi16_epi8(_mm512_max_epi16(h, _mm512_setzero_si512()));
		v = _mm256_min_epu8(_mm256_max_epu8(v, o->min8), o->max8);
	} else {
		v = _mm512_cvtsepi16_epi8(h);
		v = _mm256_min_epi8(_mm256_max_epi8(v, o->min8), o->max8);
	}
	_mm256_mask_storeu_epi8(d, m, v);
}

static inline __attribute__((always_inline)) void dw(const sl_dense_dw *p, size_t n_px,
						     const uint8_t *const *ptrs, uint8_t *out,
						     size_t out_stride, const int taps_c, const int u8_in,
						     const int u8_out, const int s1)
{
	const int taps = taps_c ? taps_c : p->taps;
	const size_t c = (size_t)p->c, pairs = ((size_t)taps + 1) / 2;
	const sl_dense_requant *q = &p->rq;
	outq o = {.zp = _mm512_set1_epi32(q->out_zp),
		  .min8 = _mm256_set1_epi8((char)q->act_min),
		  .max8 = _mm256_set1_epi8((char)q->act_max),
		  .any_lsh = q->any_lsh};
	for (size_t c0 = 0; c0 < c; c0 += 32) {
		const size_t nc = c - c0 < 32 ? c - c0 : 32;
		const int two = nc > 16;
		const __mmask32 m = nc == 32 ? ~(__mmask32)0 : (((__mmask32)1 << nc) - 1);
		__m512i ml, mh, ll, lh, rl, rh, bl, bh;
		split32(q->mult + c0, two, &ml, &mh);
		split32(q->lsh + c0, two, &ll, &lh);
		split32(q->rsh + c0, two, &rl, &rh);
		split32(p->biasp + c0, two, &bl, &bh);
		o.lo = sl_avx512_rq_make(ml, ll, rl);
		o.hi = sl_avx512_rq_make(mh, lh, rh);
		const int16_t *wa = p->wp + c0 / 16 * pairs * 32, *wb = wa + pairs * 32;
		size_t px = 0;
		if (taps_c == 9) {
			__m512i wl[5], wh[5];
			for (int j = 0; j < 5; j++) {
				wl[j] = rows2(wa + j * 32, wb + j * 32, two);
				wh[j] = rows2(wa + j * 32 + 16, wb + j * 32 + 16, two);
			}
			/* Stride 1: two horizontally adjacent pixels share the
			 * inputs of filter columns 1 and 2 (dw_avx2.c). */
#define SECOND(t) ((t) % 3 < 2 ? pt[(t) + 1] : pu[t])
			if (s1)
				for (; px + 2 <= n_px; px += 2) {
					const uint8_t *const *pt = ptrs + px * 9, *const *pu = pt + 9;
					__m512i a0 = bl, a1 = bh, a2 = bl, a3 = bh;
					for (int t = 0; t < 9; t += 2) {
						const __m512i x0 = widen32(pt[t] + c0, m, u8_in),
							      y0 = widen32(SECOND(t) + c0, m, u8_in);
						const __m512i x1 = t + 1 < 9
								       ? widen32(pt[t + 1] + c0, m, u8_in)
								       : _mm512_setzero_si512();
						const __m512i y1 = t + 1 < 9
								       ? widen32(SECOND(t + 1) + c0, m, u8_in)
								       : _mm512_setzero_si512();
						a0 = _mm512_dpwssd_epi32(a0, _mm512_unpacklo_epi16(x0, x1),
									 wl[t / 2]);
						a1 = _mm512_dpwssd_epi32(a1, _mm512_unpackhi_epi16(x0, x1),
									 wh[t / 2]);
						a2 = _mm512_dpwssd_epi32(a2, _mm512_unpacklo_epi16(y0, y1),
									 wl[t / 2]);
						a3 = _mm512_dpwssd_epi32(a3, _mm512_unpackhi_epi16(y0, y1),
									 wh[t / 2]);
					}
					uint8_t *d = out + px * out_stride + c0;
					store32(d, a0, a1, &o, u8_out, m);
					store32(d + out_stride, a2, a3, &o, u8_out, m);
				}
#undef SECOND
			for (; px < n_px; px++) {
				const uint8_t *const *pt = ptrs + px * 9;
				__m512i al = bl, ah = bh;
				for (int t = 0; t < 9; t += 2) {
					const __m512i x0 = widen32(pt[t] + c0, m, u8_in);
					const __m512i x1 = t + 1 < 9 ? widen32(pt[t + 1] + c0, m, u8_in)
								     : _mm512_setzero_si512();
					al =
					    _mm512_dpwssd_epi32(al, _mm512_unpacklo_epi16(x0, x1), wl[t / 2]);
					ah =
					    _mm512_dpwssd_epi32(ah, _mm512_unpackhi_epi16(x0, x1), wh[t / 2]);
				}
				store32(out + px * out_stride + c0, al, ah, &o, u8_out, m);
			}
			continue;
		}
		for (; px < n_px; px++) {
			const uint8_t *const *pt = ptrs + px * (size_t)taps;
			__m512i al = bl, ah = bh;
			for (int t = 0; t < taps; t += 2) {
				const size_t j = (size_t)t / 2 * 32;
				const __m512i x0 = widen32(pt[t] + c0, m, u8_in);
				const __m512i x1 =
				    t + 1 < taps ? widen32(pt[t + 1] + c0, m, u8_in) : _mm512_setzero_si512();
				al = _mm512_dpwssd_epi32(al, _mm512_unpacklo_epi16(x0, x1),
							 rows2(wa + j, wb + j, two));
				ah = _mm512_dpwssd_epi32(ah, _mm512_unpackhi_epi16(x0, x1),
							 rows2(wa + j + 16, wb + j + 16, two));
			}
			store32(out + px * out_stride + c0, al, ah, &o, u8_out, m);
		}
	}
}

SL_DENSE_DW_DECL(sl_dense_dw_3x3s1_avx512vnni)
{
	SL_DENSE_DW_VARIANTS(dw, 9, 1);
}

SL_DENSE_DW_DECL(sl_dense_dw_3x3_avx512vnni)
{
	SL_DENSE_DW_VARIANTS(dw, 9, 0);
}

SL_DENSE_DW_DECL(sl_dense_dw_any_avx512vnni)
{
	SL_DENSE_DW_VARIANTS(dw, 0, 0);
}
