/* Where an int8 packer reads the current tile's rows from; shared by the x86
 * and NEON kernels, whose packers both transpose 16-byte chunks of K.
 *
 * A whole tile (rows == mr) reads its rows in place; a partial one through
 * row[] (NULL past the end); K's last partial 16-value chunk, in either, from
 * a zeroed copy (tail), so the transposition always loads 16 bytes without
 * reading past a row. Building row[] for a whole tile cost a pointer load and
 * a test per row and chunk, as much as the rest of packing a K = 32 tile. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SL_SPARSE_ROWS_MAX 64 /* largest tile of any kernel (AVX-512, tiny K) */

typedef struct {
	const uint8_t *in;
	size_t stride;
	bool full;
	const uint8_t *row[SL_SPARSE_ROWS_MAX];
	uint8_t tail[SL_SPARSE_ROWS_MAX][16];
} sl_sparse_rows;

static const uint8_t sl_sparse_zero16[16] __attribute__((aligned(16)));

/* d[0..n) = s[0..n), d[n..16) = 0, n < 16: fixed-size pieces the compiler
 * inlines (a memcpy of variable size per row was a libc call per pixel:
 * ~5 % of a K = 24 layer). */
static inline void sl_sparse_copy_tail(uint8_t d[16], const uint8_t *s, int n)
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

/* mr <= SL_SPARSE_ROWS_MAX. */
static inline void sl_sparse_rows_init(sl_sparse_rows *r, const uint8_t *in, size_t stride, size_t rows,
				       int k, int mr)
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
				sl_sparse_copy_tail(r->tail[i], r->row[i] + c, k - c);
			else
				memset(r->tail[i], 0, 16);
		}
	}
}

/* Row i of the tile, NULL past the end (never for a whole tile). */
static inline const uint8_t *sl_sparse_rows_row(const sl_sparse_rows *r, size_t i)
{
	return r->full ? r->in + i * r->stride : r->row[i];
}

/* 16 readable bytes of row i from channel c. */
static inline const uint8_t *sl_sparse_rows_at(const sl_sparse_rows *r, size_t i, int c, int k)
{
	if (c + 16 > k)
		return r->tail[i];
	const uint8_t *row = sl_sparse_rows_row(r, i);
	return r->full || row ? row + c : sl_sparse_zero16;
}
