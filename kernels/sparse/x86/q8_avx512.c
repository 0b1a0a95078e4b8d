/* AVX-512 int8/uint8 SpMM (built with -mavx512f -mavx512bw -mavx512dq
 * -mavx512vl, reached through dispatch).
 *
 * Why it exists: on a CPU with AVX-512, Debian's XNNPACK runs its dense int8
 * layers on 512-bit kernels (avx512skx), so an AVX2 sparse kernel gives up
 * half its lead there. The tile and its packing are the AVX2 kernel's
 * (q8_avx2_tile.h). A channel's products, accumulation and requantization
 * run on 16 pixels per register (vpmaddwd zmm), and the output stage is
 * q8_avx512.h's. Same arithmetic, bit for bit.
 *
 * Tiles: 64 pixels while the tile fits in L1 (tiny K: the per-channel setup,
 * weight broadcasts and requantization constants, spread over more outputs),
 * else 32 or 16; the last rows go through the AVX2 8-pixel tile (run_tiles). */
#include <immintrin.h>

#include "common/macros.h"
#include "kernels/quant.h"
#include "kernels/sparse/sparse_internal.h"

static inline __attribute__((always_inline)) void channel512(const sl_sparse_q8 *p, int n, const int16_t *at,
							     __m512i *acc, const int mr);
#define SL_Q8_CHANNEL512 channel512
#include "kernels/sparse/x86/q8_avx512.h"

static inline __m512i bcast_pair512(const int16_t *w)
{
	int32_t v;
	memcpy(&v, w, sizeof(v));
	return _mm512_set1_epi32(v);
}

/* One block's products for pixels 16g..16g+15 (rows b and b + 2 mr of the
 * tile: its two K pairs). */
static inline __attribute__((always_inline)) __m512i block16(const int16_t *b, __m512i w01, __m512i w23,
							     int g, const int mr)
{
	return _mm512_add_epi32(
	    _mm512_madd_epi16(_mm512_load_si512((const void *)(b + 32 * g)), w01),
	    _mm512_madd_epi16(_mm512_load_si512((const void *)(b + 2 * mr + 32 * g)), w23));
}

static inline __attribute__((always_inline)) void
accumulate512(const sl_sparse_q8 *p, int n, const int16_t *at, int32_t init, __m512i *acc, const int mr)
{
	SL_UNROLL
	for (int g = 0; g < mr / 16; g++)
		acc[g] = _mm512_set1_epi32(init);
	const uint16_t *idx = p->idx;
	const int16_t *w = p->fast_requant ? p->w16x2 : p->w16;
	uint32_t i = p->row[n];
	const uint32_t e = p->row[n + 1];
	for (; i + 2 <= e; i += 2) {
		const int16_t *b0 = at + (size_t)idx[i] * 4 * mr, *b1 = at + (size_t)idx[i + 1] * 4 * mr;
		const __m512i w0 = bcast_pair512(w + 4 * (size_t)i),
			      w1 = bcast_pair512(w + 4 * (size_t)i + 2);
		const __m512i w2 = bcast_pair512(w + 4 * (size_t)i + 4),
			      w3 = bcast_pair512(w + 4 * (size_t)i + 6);
		SL_UNROLL
		for (int g = 0; g < mr / 16; g++)
			acc[g] = _mm512_add_epi32(
			    acc[g], _mm512_add_epi32(block16(b0, w0, w1, g, mr), block16(b1, w2, w3, g, mr)));
	}
	if (i < e) {
		const int16_t *b0 = at + (size_t)idx[i] * 4 * mr;
		const __m512i w0 = bcast_pair512(w + 4 * (size_t)i),
			      w1 = bcast_pair512(w + 4 * (size_t)i + 2);
		SL_UNROLL
		for (int g = 0; g < mr / 16; g++)
			acc[g] = _mm512_add_epi32(acc[g], block16(b0, w0, w1, g, mr));
	}
}

/* SL_Q8_CHANNEL512's contract (q8_avx512.h). */
static inline __attribute__((always_inline)) void channel512(const sl_sparse_q8 *p, int n, const int16_t *at,
							     __m512i *acc, const int mr)
{
	if (empty_row512(p, n, acc, mr))
		return;
	const sl_sparse_q8_chan *c = &p->ch[n];
	accumulate512(p, n, at, p->fast_requant ? (int32_t)((uint32_t)c->bias_raw * 2u) : c->bias_raw, acc,
		      mr);
	finish512(p, n, acc, mr);
}

SL_Q8_TILE512(64)
SL_Q8_TILE512(32)
SL_Q8_TILE512(16)
SL_Q8_TILE(8)

void sl_sparse_q8_avx512(const sl_sparse_q8 *p, size_t m_begin, size_t m_end, const void *in,
			 size_t in_stride, void *out, size_t out_stride, void *scratch)
{
	const size_t w = sl_sparse_q8_avx512_widest(p->kb);
	const q8_tile_fn fns[4] = {w >= 64 ? tile64 : NULL, w >= 32 ? tile32 : NULL, tile16, tile8};
	run_tiles(p, m_begin, m_end, in, in_stride, out, out_stride, scratch, fns);
}
