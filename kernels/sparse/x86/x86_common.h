/* Helpers shared by the SSE4.1 and AVX2 translation units (each compiles them
 * with its own flags; only SSE4.1 instructions are used here). */
#pragma once

#include <smmintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/sparse/sparse_internal.h"

#define SL_X86_MR 32 /* largest tile */

static inline void *sl_x86_align64(void *p)
{
	return (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

/* Store the first nc (< 16) bytes of v. */
static inline void sl_x86_store_partial(uint8_t *d, __m128i v, int nc)
{
	if (nc & 8) {
		_mm_storel_epi64((__m128i *)d, v);
		v = _mm_srli_si128(v, 8);
		d += 8;
	}
	if (nc & 4) {
		const int32_t t = _mm_cvtsi128_si32(v);
		memcpy(d, &t, 4);
		v = _mm_srli_si128(v, 4);
		d += 4;
	}
	if (nc & 2) {
		const int16_t t = (int16_t)_mm_cvtsi128_si32(v);
		memcpy(d, &t, 2);
		v = _mm_srli_si128(v, 2);
		d += 2;
	}
	if (nc & 1)
		*d = (uint8_t)_mm_cvtsi128_si32(v);
}

/* Store the first nc (<= 16) bytes of v. */
static inline void sl_x86_store_row(uint8_t *d, __m128i v, int nc)
{
	if (nc == 16)
		_mm_storeu_si128((__m128i *)d, v);
	else
		sl_x86_store_partial(d, v, nc);
}

/* ct[c][px] (16 channels x 16 pixels) -> out[px * stride + c] for px < rows,
 * c < nc: the int8 output tile back to NHWC. */
static inline void sl_x86_store_tile_u8(const uint8_t ct[16][16], int nc, size_t rows, uint8_t *out,
					size_t stride)
{
	__m128i a[16], b[16];
	SL_UNROLL
	for (int i = 0; i < 16; i++)
		a[i] = _mm_load_si128((const __m128i *)ct[i]);
	SL_UNROLL
	for (int i = 0; i < 8; i++) {
		b[2 * i] = _mm_unpacklo_epi8(a[2 * i], a[2 * i + 1]);
		b[2 * i + 1] = _mm_unpackhi_epi8(a[2 * i], a[2 * i + 1]);
	}
	/* b[4g + h]: rows 4g..4g+3 interleaved; h = 0,1 from the pair (4g, 4g+1), 2,3 from (4g+2, 4g+3) */
	SL_UNROLL
	for (int g = 0; g < 4; g++) {
		a[4 * g + 0] = _mm_unpacklo_epi16(b[4 * g + 0], b[4 * g + 2]); /* px 0..3 */
		a[4 * g + 1] = _mm_unpackhi_epi16(b[4 * g + 0], b[4 * g + 2]); /* px 4..7 */
		a[4 * g + 2] = _mm_unpacklo_epi16(b[4 * g + 1], b[4 * g + 3]); /* px 8..11 */
		a[4 * g + 3] = _mm_unpackhi_epi16(b[4 * g + 1], b[4 * g + 3]); /* px 12..15 */
	}
	/* a[4g + q]: channels 4g..4g+3 of pixels 4q..4q+3 */
	SL_UNROLL
	for (int q = 0; q < 4; q++) {
		b[4 * q + 0] = _mm_unpacklo_epi32(a[q], a[4 + q]);	/* ch 0..7 of px 4q, 4q+1 */
		b[4 * q + 1] = _mm_unpackhi_epi32(a[q], a[4 + q]);	/* px 4q+2, 4q+3 */
		b[4 * q + 2] = _mm_unpacklo_epi32(a[8 + q], a[12 + q]); /* ch 8..15 of px 4q, 4q+1 */
		b[4 * q + 3] = _mm_unpackhi_epi32(a[8 + q], a[12 + q]);
	}
	SL_UNROLL
	for (int q = 0; q < 4; q++) {
		a[4 * q + 0] = _mm_unpacklo_epi64(b[4 * q + 0], b[4 * q + 2]);
		a[4 * q + 1] = _mm_unpackhi_epi64(b[4 * q + 0], b[4 * q + 2]);
		a[4 * q + 2] = _mm_unpacklo_epi64(b[4 * q + 1], b[4 * q + 3]);
		a[4 * q + 3] = _mm_unpackhi_epi64(b[4 * q + 1], b[4 * q + 3]);
	}
	if (nc == 16) {
		for (size_t px = 0; px < rows; px++)
			_mm_storeu_si128((__m128i *)(out + px * stride), a[px]);
	} else {
		for (size_t px = 0; px < rows; px++)
			sl_x86_store_partial(out + px * stride, a[px], nc);
	}
}

/* Where the current tile's rows are read from. A whole tile (rows == mr)
 * reads them in place; a partial one through row[] (NULL past the end); K's
 * last partial 16-value chunk, in either, from a zeroed copy (tail), so the
 * transposition always loads 16 bytes without reading past a row. Building
 * row[] for a whole tile cost a pointer load and a test per row and chunk,
 * as much as the rest of packing a K = 32 tile. */
typedef struct {
	const uint8_t *in;
	size_t stride;
	bool full;
	const uint8_t *row[SL_X86_MR];
	uint8_t tail[SL_X86_MR][16];
} sl_x86_rows;

static const uint8_t sl_x86_zero16[16] __attribute__((aligned(16)));

/* d[0..n) = s[0..n), d[n..16) = 0, n < 16: fixed-size pieces the compiler
 * inlines (a memcpy of variable size per row was a libc call per pixel:
 * ~5 % of a K = 24 layer). */
static inline void sl_x86_copy_tail(uint8_t d[16], const uint8_t *s, int n)
{
	memset(d, 0, 16);
	if (n & 8) {
		memcpy(d, s, 8);
		d += 8;
		s += 8;
	}
	if (n & 4) {
		memcpy(d, s, 4);
		d += 4;
		s += 4;
	}
	if (n & 2) {
		memcpy(d, s, 2);
		d += 2;
		s += 2;
	}
	if (n & 1)
		*d = *s;
}

static inline void sl_x86_rows_init(sl_x86_rows *r, const uint8_t *in, size_t stride, size_t rows, int k,
				    int mr)
{
	const int c = k & ~15;
	r->in = in;
	r->stride = stride;
	r->full = rows == (size_t)mr;
	if (r->full && c == k)
		return;
	for (size_t i = 0; i < (size_t)mr; i++) {
		r->row[i] = i < rows ? in + i * stride : NULL;
		if (c < k) {
			if (r->row[i])
				sl_x86_copy_tail(r->tail[i], r->row[i] + c, k - c);
			else
				memset(r->tail[i], 0, 16);
		}
	}
}

/* Row i of the tile, NULL past the end (never for a whole tile). */
static inline const uint8_t *sl_x86_rows_row(const sl_x86_rows *r, size_t i)
{
	return r->full ? r->in + i * r->stride : r->row[i];
}

/* 16 readable bytes of row i from channel c. */
static inline const uint8_t *sl_x86_rows_at(const sl_x86_rows *r, size_t i, int c, int k)
{
	if (c + 16 > k)
		return r->tail[i];
	const uint8_t *row = sl_x86_rows_row(r, i);
	return r->full || row ? row + c : sl_x86_zero16;
}
