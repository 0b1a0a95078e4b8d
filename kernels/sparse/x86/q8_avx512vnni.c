/* AVX-512 VNNI int8/uint8 SpMM (built with the avx512 flags plus
 * -mavx512vnni, reached through dispatch; needs the int8 weight copy).
 *
 * A 1x4 block is exactly what vpdpbusd multiplies: 4 unsigned bytes by 4
 * signed bytes, summed into an int32 lane without an int16 step, so nothing
 * saturates (vpmaddubsw's problem). The activation tile therefore stays in
 * bytes, K-major by block column,
 *   at[j * 4 * mr + 4 * px + e] = a[px][4 * j + e] (^ 0x80 for int8 input),
 * half the bytes of the int16 tile, and packing it is a dword transposition
 * with no widening: one vpdpbusd per block and 16 pixels, its 4 weights one
 * broadcast dword. int8 input is made unsigned by flipping its sign bit, and
 * bias_u8 takes the 128 * S back out. Weights that do not fit int8 come split
 * into blocks that do (the pack, as for NEON's SDOT).
 *
 * Requantization and output are the AVX-512 kernel's (q8_avx512.h), so the
 * results are the same bit for bit. The tail rows go through a 16-pixel tile:
 * there is no 8-pixel byte tile.
 *
 * Tiles of 32 and 64 pixels are taken up to SL_SPARSE_VNNI_TILE (32 KB)
 * rather than the int16 kernels' 16 KB: a block's index, weights and
 * broadcast then serve 2 or 4 vpdpbusd instead of 1. On MobileNet v2's 7x7
 * and 14x14 layers with K of 576 and 960, which only 16-pixel tiles fit
 * before, that is 1.3-2x (bench_sparse -d, 1 thread, 70 % zero blocks). */
#include <immintrin.h>

#include "common/macros.h"
#include "kernels/quant.h"
#include "kernels/sparse/sparse_internal.h"

static inline __attribute__((always_inline)) void
pack_bytes(const sl_sparse_q8 *p, const uint8_t *in, size_t stride, size_t rows, int16_t *at16, const int mr);
static inline __attribute__((always_inline)) void channel_vnni(const sl_sparse_q8 *p, int n,
							       const int16_t *at16, __m512i *a, const int mr);
#define SL_Q8_PACK	 pack_bytes
#define SL_Q8_CHANNEL512 channel_vnni
#include "kernels/sparse/x86/q8_avx512.h"

/* Dword d of pixels 0-3 in lane 0 and of pixels 4-7 in lane 1 of v[d], from
 * v[i] = pixel i | pixel i + 4 (4 dwords each). */
static inline void tr4x4_epi32_lanes(__m256i v[4])
{
	const __m256i t0 = _mm256_unpacklo_epi32(v[0], v[1]), t1 = _mm256_unpackhi_epi32(v[0], v[1]);
	const __m256i t2 = _mm256_unpacklo_epi32(v[2], v[3]), t3 = _mm256_unpackhi_epi32(v[2], v[3]);
	v[0] = _mm256_unpacklo_epi64(t0, t2);
	v[1] = _mm256_unpackhi_epi64(t0, t2);
	v[2] = _mm256_unpacklo_epi64(t1, t3);
	v[3] = _mm256_unpackhi_epi64(t1, t3);
}

static inline __attribute__((always_inline)) void
pack_bytes(const sl_sparse_q8 *p, const uint8_t *in, size_t stride, size_t rows, int16_t *at16, const int mr)
{
	uint8_t *at = (uint8_t *)at16;
	sl_sparse_rows r;
	sl_sparse_rows_init(&r, in, stride, rows, p->k, mr);
	const __m256i flip = _mm256_set1_epi8(p->in_u8 ? 0 : (char)0x80);
	int c = 0;
	for (; c + 32 <= p->k; c += 32) {
		uint8_t *dst = at + (size_t)c * mr;
		for (int q = 0; q < mr / 8; q++) {
			__m256i v[8];
			SL_UNROLL
			for (int i = 0; i < 8; i++) {
				const uint8_t *row = sl_sparse_rows_row(&r, (size_t)(8 * q + i));
				v[i] = r.full || row
					   ? _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(row + c)),
							      flip)
					   : _mm256_setzero_si256();
			}
			tr8x8_epi32(v);
			SL_UNROLL
			for (int d = 0; d < 8; d++)
				_mm256_store_si256((__m256i *)(dst + (size_t)d * 4 * mr + 32 * q), v[d]);
		}
	}
	for (; c < p->k; c += 16) {
		uint8_t *dst = at + (size_t)c * mr;
		for (int q = 0; q < mr / 8; q++) {
			__m256i v[4];
			SL_UNROLL
			for (int i = 0; i < 4; i++) {
				const __m128i lo = _mm_loadu_si128(
						  (const __m128i *)sl_sparse_rows_at(&r, 8 * q + i, c, p->k)),
					      hi = _mm_loadu_si128((const __m128i *)sl_sparse_rows_at(
						  &r, 8 * q + i + 4, c, p->k));
				v[i] = _mm256_xor_si256(
				    _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1), flip);
			}
			tr4x4_epi32_lanes(v);
			SL_UNROLL
			for (int d = 0; d < 4; d++)
				_mm256_store_si256((__m256i *)(dst + (size_t)d * 4 * mr + 32 * q), v[d]);
		}
	}
}

/* Two accumulator sets take alternate blocks, so that each vpdpbusd chain
 * (5 cycles a link) has another block's work between its links: rows of the
 * wide layers hold dozens of blocks. */
static inline __attribute__((always_inline)) void channel_vnni(const sl_sparse_q8 *p, int n,
							       const int16_t *at16, __m512i *a, const int mr)
{
	if (empty_row512(p, n, a, mr))
		return;
	const uint8_t *at = (const uint8_t *)at16;
	const sl_sparse_q8_chan *c = &p->ch[n];
	__m512i b[4];
	SL_UNROLL
	for (int g = 0; g < mr / 16; g++) {
		a[g] = _mm512_set1_epi32(c->bias_u8);
		b[g] = _mm512_setzero_si512();
	}
	const uint16_t *idx = p->idx;
	const int8_t *w = p->w8;
	uint32_t i = p->row[n];
	const uint32_t e = p->row[n + 1];
	const bool two = e - i >= 2; /* most rows of a 90 % layer hold one block: b stays 0 */
	for (; i + 2 <= e; i += 2) {
		int32_t w0, w1;
		memcpy(&w0, w + 4 * (size_t)i, 4);
		memcpy(&w1, w + 4 * (size_t)i + 4, 4);
		const __m512i v0 = _mm512_set1_epi32(w0), v1 = _mm512_set1_epi32(w1);
		const uint8_t *b0 = at + (size_t)idx[i] * 4 * mr, *b1 = at + (size_t)idx[i + 1] * 4 * mr;
		SL_UNROLL
		for (int g = 0; g < mr / 16; g++) {
			a[g] = _mm512_dpbusd_epi32(a[g], _mm512_load_si512((const void *)(b0 + 64 * g)), v0);
			b[g] = _mm512_dpbusd_epi32(b[g], _mm512_load_si512((const void *)(b1 + 64 * g)), v1);
		}
	}
	if (i < e) {
		int32_t w0;
		memcpy(&w0, w + 4 * (size_t)i, 4);
		const __m512i v0 = _mm512_set1_epi32(w0);
		const uint8_t *b0 = at + (size_t)idx[i] * 4 * mr;
		SL_UNROLL
		for (int g = 0; g < mr / 16; g++)
			a[g] = _mm512_dpbusd_epi32(a[g], _mm512_load_si512((const void *)(b0 + 64 * g)), v0);
	}
	/* rq_fast wants the accumulator doubled (the int16 kernels double the
	 * weights instead, which int8 weights have no room for). */
	SL_UNROLL
	for (int g = 0; g < mr / 16; g++) {
		if (two)
			a[g] = _mm512_add_epi32(a[g], b[g]);
		if (p->fast_requant)
			a[g] = _mm512_add_epi32(a[g], a[g]);
	}
	finish512(p, n, a, mr);
}

SL_Q8_TILE512(64)
SL_Q8_TILE512(32)
SL_Q8_TILE512(16)

void sl_sparse_q8_avx512vnni(const sl_sparse_q8 *p, size_t m_begin, size_t m_end, const void *in,
			     size_t in_stride, void *out, size_t out_stride, void *scratch)
{
	const size_t w = sl_sparse_q8_vnni_widest(p->kb);
	const q8_tile_fn fns[4] = {w >= 64 ? tile64 : NULL, w >= 32 ? tile32 : NULL, tile16, NULL};
	run_tiles(p, m_begin, m_end, in, in_stride, out, out_stride, scratch, fns);
}
