#include "capture/resize.h"

#include <math.h>

/* Bilinear weights in Q11: the two products stay below 2^31 for 8-bit input
 * and the rounding error stays under half a level. */
#define WBITS 11
#define WONE (1 << WBITS)

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
	int y0, y1, x0, x1;
	int32_t wy, wx;
	bilin_coord(r->y0 + (dy + 0.5) * sy - 0.5, src->height, &y0, &y1, &wy);
	const uint8_t *row0 = src->data + (size_t)y0 * src->stride;
	const uint8_t *row1 = src->data + (size_t)y1 * src->stride;
	double fx = r->x0 + 0.5 * sx - 0.5;
	for (int dx = 0; dx < cw; dx++, fx += sx, out += 3) {
		bilin_coord(fx, src->width, &x0, &x1, &wx);
		const uint8_t *a = row0 + 3 * x0, *b = row0 + 3 * x1, *c = row1 + 3 * x0, *d = row1 + 3 * x1;
		for (int k = 0; k < 3; k++) {
			int32_t top = a[k] * (WONE - wx) + b[k] * wx;
			int32_t bot = c[k] * (WONE - wx) + d[k] * wx;
			out[k] = (uint8_t)((top * (WONE - wy) + bot * wy + (1 << (2 * WBITS - 1))) >> (2 * WBITS));
		}
	}
}

static inline void box_span(double a, double len, int n, int *i0, int *i1)
{
	double b = a + len;
	if (a < 0)
		a = 0;
	if (b > n)
		b = n;
	*i0 = (int)floor(a);
	*i1 = (int)ceil(b);
	if (*i1 <= *i0) /* degenerate box: take the nearest pixel */
		*i1 = *i0 + 1;
	if (*i1 > n) {
		*i1 = n;
		*i0 = n - 1;
	}
}

static inline float overlap(int i, double a, double b)
{
	double lo = i > a ? i : a, hi = i + 1 < b ? i + 1 : b;
	return hi > lo ? (float)(hi - lo) : 0.f;
}

void sl_resize_area_row(const sl_image *src, const sl_region *r, int cw, int ch, int dy, uint8_t *out)
{
	double sx = r->w / cw, sy = r->h / ch;
	double ya = r->y0 + dy * sy, yb = ya + sy;
	int y0, y1, x0, x1;
	box_span(ya, sy, src->height, &y0, &y1);
	for (int dx = 0; dx < cw; dx++, out += 3) {
		double xa = r->x0 + dx * sx, xb = xa + sx;
		box_span(xa, sx, src->width, &x0, &x1);
		float acc[3] = {0, 0, 0}, wsum = 0;
		for (int y = y0; y < y1; y++) {
			float wyv = y1 - y0 == 1 ? 1.f : overlap(y, ya, yb);
			const uint8_t *p = src->data + (size_t)y * src->stride + 3 * (size_t)x0;
			for (int x = x0; x < x1; x++, p += 3) {
				float w = wyv * (x1 - x0 == 1 ? 1.f : overlap(x, xa, xb));
				acc[0] += w * p[0];
				acc[1] += w * p[1];
				acc[2] += w * p[2];
				wsum += w;
			}
		}
		float inv = wsum > 0 ? 1.f / wsum : 0.f;
		for (int k = 0; k < 3; k++) {
			float v = acc[k] * inv + 0.5f;
			out[k] = v >= 255.f ? 255 : (uint8_t)v;
		}
	}
}
