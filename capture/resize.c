#include "capture/resize.h"

#include <math.h>

/* Bilinear weights in Q11: the two products stay below 2^31 for 8-bit input
 * and the rounding error stays under half a level. */
#define WBITS 11
#define WONE  (1 << WBITS)

static inline void bilin_coord(double f, int n, int *i0, int *i1, int32_t *w)
{
	if (f < 0)
		f = 0;
	if (f > n - 1)
		f = n - 1;
	int i = (int)f;
	*i0 = i;
	*i1 = i + 1 < n ? i + 1 : i;
	*w = (int32_t)((f - i) * WONE + 0.5);
}

void sl_resize_bilinear_row(const sl_image *src, const sl_region *r, int cw, int ch, int dy, uint8_t *out)
{
	double sx = r->w / cw, sy = r->h / ch;
	int y0, y1;
	int32_t wy;
	bilin_coord(r->y0 + (dy + 0.5) * sy - 0.5, src->height, &y0, &y1, &wy);
	const uint8_t *row0 = src->data + (size_t)y0 * src->stride;
	const uint8_t *row1 = src->data + (size_t)y1 * src->stride;
	/* x in Q32 fixed point: one integer add per pixel, and the accumulated
	 * rounding stays far below a weight step even across 4096 pixels */
	const int64_t one = (int64_t)1 << 32, last = (int64_t)(src->width - 1) << 32;
	const int64_t step = (int64_t)llround(sx * (double)one);
	int64_t fx = (int64_t)llround((r->x0 + 0.5 * sx - 0.5) * (double)one);
	for (int dx = 0; dx < cw; dx++, fx += step, out += 3) {
		int64_t c = fx < 0 ? 0 : fx > last ? last : fx;
		int x0 = (int)(c >> 32), x1 = x0 + 1 < src->width ? x0 + 1 : x0;
		int32_t wx = (int32_t)(((c & (one - 1)) + ((int64_t)1 << (31 - WBITS))) >> (32 - WBITS));
		const uint8_t *a = row0 + 3 * x0, *b = row0 + 3 * x1, *cc = row1 + 3 * x0, *d = row1 + 3 * x1;
		for (int k = 0; k < 3; k++) {
			int32_t top = a[k] * (WONE - wx) + b[k] * wx;
			int32_t bot = cc[k] * (WONE - wx) + d[k] * wx;
			out[k] =
			    (uint8_t)((top * (WONE - wy) + bot * wy + (1 << (2 * WBITS - 1))) >> (2 * WBITS));
		}
	}
}

/* The source pixels a box [a, a + len) touches, clamped to [0, n), with the
 * coverage of the first and last one (the ones between are covered fully). */
typedef struct {
	int i0, i1;
	float w_first, w_last, w_sum;
} box;

static inline box box_of(double a, double len, int n)
{
	double b = a + len;
	box bx;
	if (a < 0)
		a = 0;
	if (b > n)
		b = n;
	bx.i0 = (int)floor(a);
	bx.i1 = (int)ceil(b);
	if (bx.i0 > n - 1)
		bx.i0 = n - 1;
	if (bx.i1 <= bx.i0 + 1) { /* inside one pixel (or degenerate): that pixel */
		bx.i1 = bx.i0 + 1;
		bx.w_first = bx.w_last = bx.w_sum = 1.f;
		return bx;
	}
	bx.w_first = (float)(bx.i0 + 1 - a);
	bx.w_last = (float)(b - (bx.i1 - 1));
	bx.w_sum = bx.w_first + bx.w_last + (float)(bx.i1 - bx.i0 - 2);
	return bx;
}

/* One output pixel straight from the source: for boxes wider than a chunk. */
static void area_pixel(const sl_image *src, const box *by, const box *bx, uint8_t *out)
{
	float acc[3] = {0, 0, 0};
	for (int y = by->i0; y < by->i1; y++) {
		const uint8_t *p = src->data + (size_t)y * src->stride + 3 * (size_t)bx->i0;
		float wy = by->i1 - by->i0 == 1 ? 1.f
			   : y == by->i0	? by->w_first
			   : y == by->i1 - 1	? by->w_last
						: 1.f;
		for (int x = bx->i0; x < bx->i1; x++, p += 3) {
			float w = wy * (bx->i1 - bx->i0 == 1 ? 1.f
					: x == bx->i0	     ? bx->w_first
					: x == bx->i1 - 1    ? bx->w_last
							     : 1.f);
			acc[0] += w * p[0];
			acc[1] += w * p[1];
			acc[2] += w * p[2];
		}
	}
	float inv = 1.f / (bx->w_sum * by->w_sum);
	for (int k = 0; k < 3; k++) {
		float v = acc[k] * inv + 0.5f;
		out[k] = v >= 255.f ? 255 : v <= 0.f ? 0 : (uint8_t)v;
	}
}

/* Separable: the rows of the vertical box are summed into a column buffer
 * (a chunk of at most AREA_CHUNK source columns and output pixels, so that
 * the buffers live on the stack), then each output pixel sums its horizontal
 * box from that buffer. */
#define AREA_CHUNK 1024

/* col[k] += w * p[k] in blocks of a fixed size, which gcc vectorises at -O2. */
static void accumulate(float *restrict col, const uint8_t *restrict p, float w, int n)
{
	int k = 0;
	for (; k + 16 <= n; k += 16)
		for (int j = 0; j < 16; j++)
			col[k + j] += w * p[k + j];
	for (; k < n; k++)
		col[k] += w * p[k];
}

void sl_resize_area_row(const sl_image *src, const sl_region *r, int cw, int ch, int dy, uint8_t *out)
{
	double sx = r->w / cw, sy = r->h / ch;
	box by = box_of(r->y0 + dy * sy, sy, src->height);
	float col[AREA_CHUNK * 3];
	box bxs[AREA_CHUNK];
	int dx = 0;
	while (dx < cw) {
		bxs[0] = box_of(r->x0 + dx * sx, sx, src->width);
		const int c0 = bxs[0].i0;
		if (bxs[0].i1 - c0 > AREA_CHUNK) {
			area_pixel(src, &by, &bxs[0], out + 3 * (size_t)dx);
			dx++;
			continue;
		}
		int n = 1;
		while (dx + n < cw && n < AREA_CHUNK) {
			box nb = box_of(r->x0 + (dx + n) * sx, sx, src->width);
			if (nb.i1 - c0 > AREA_CHUNK)
				break;
			bxs[n++] = nb;
		}
		const int len = (bxs[n - 1].i1 - c0) * 3;
		for (int k = 0; k < len; k++)
			col[k] = 0.f;
		for (int y = by.i0; y < by.i1; y++) {
			float wy = by.i1 - by.i0 == 1 ? 1.f
				   : y == by.i0	      ? by.w_first
				   : y == by.i1 - 1   ? by.w_last
						      : 1.f;
			accumulate(col, src->data + (size_t)y * src->stride + 3 * (size_t)c0, wy, len);
		}
		const float norm_y = 1.f / by.w_sum;
		uint8_t *o = out + 3 * (size_t)dx;
		for (int i = 0; i < n; i++, o += 3) {
			const box *bx = &bxs[i];
			const float *q = col + 3 * (bx->i0 - c0);
			float acc[3];
			if (bx->i1 - bx->i0 == 1) {
				acc[0] = q[0], acc[1] = q[1], acc[2] = q[2];
			} else {
				acc[0] = q[0] * bx->w_first, acc[1] = q[1] * bx->w_first,
				acc[2] = q[2] * bx->w_first;
				for (int x = bx->i0 + 1; x < bx->i1 - 1; x++) {
					q += 3;
					acc[0] += q[0], acc[1] += q[1], acc[2] += q[2];
				}
				q += 3;
				acc[0] += q[0] * bx->w_last, acc[1] += q[1] * bx->w_last,
				    acc[2] += q[2] * bx->w_last;
			}
			float inv = norm_y / bx->w_sum;
			for (int k = 0; k < 3; k++) {
				float v = acc[k] * inv + 0.5f;
				o[k] = v >= 255.f ? 255 : v <= 0.f ? 0 : (uint8_t)v;
			}
		}
		dx += n;
	}
}
