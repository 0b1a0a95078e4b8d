/* Helpers shared by the SSE4.1 and AVX2 translation units (each compiles them
 * with its own flags; only SSE4.1 instructions are used here). */
#pragma once

#include <smmintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/sparse/sparse_internal.h"
#include "kernels/sparse/sparse_rows.h"

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
