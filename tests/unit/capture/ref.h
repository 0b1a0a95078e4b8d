/* Straightforward double-precision versions of the capture kernels and small
 * helpers shared by the capture unit tests. Deliberately written without
 * looking for speed so that they are easy to check by eye. */
#pragma once

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/image.h"
#include "capture/pixfmt.h"

static inline uint8_t ref_clamp8(double v)
{
	long r = lround(v);
	return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

static inline void ref_yuv(const sl_yuv_params *p, int Y, int U, int V, uint8_t out[3])
{
	double kr = p->bt709 ? 0.2126 : 0.299, kb = p->bt709 ? 0.0722 : 0.114, kg = 1 - kr - kb;
	double y = p->full_range ? Y : (Y - 16) * 255.0 / 219.0;
	double cs = p->full_range ? 1.0 : 255.0 / 224.0;
	double u = (U - 128) * cs, v = (V - 128) * cs;
	out[0] = ref_clamp8(y + 2 * (1 - kr) * v);
	out[1] = ref_clamp8(y - 2 * kb * (1 - kb) / kg * u - 2 * kr * (1 - kr) / kg * v);
	out[2] = ref_clamp8(y + 2 * (1 - kb) * u);
}

/* One output pixel of each resampler; r = source region, (cw, ch) = output size. */
static inline double ref_px(const sl_image *img, int x, int y, int c)
{
	return img->data[(size_t)y * img->stride + 3 * (size_t)x + c];
}

static inline void ref_bilinear(const sl_image *img, double rx, double ry, double rw, double rh, int cw,
				int ch, int dx, int dy, uint8_t out[3])
{
	double fx = rx + (dx + 0.5) * rw / cw - 0.5, fy = ry + (dy + 0.5) * rh / ch - 0.5;
	fx = fmin(fmax(fx, 0), img->width - 1);
	fy = fmin(fmax(fy, 0), img->height - 1);
	int x0 = (int)floor(fx), y0 = (int)floor(fy);
	int x1 = x0 + 1 < img->width ? x0 + 1 : x0, y1 = y0 + 1 < img->height ? y0 + 1 : y0;
	double ax = fx - x0, ay = fy - y0;
	for (int c = 0; c < 3; c++) {
		double top = ref_px(img, x0, y0, c) * (1 - ax) + ref_px(img, x1, y0, c) * ax;
		double bot = ref_px(img, x0, y1, c) * (1 - ax) + ref_px(img, x1, y1, c) * ax;
		out[c] = ref_clamp8(top * (1 - ay) + bot * ay);
	}
}

/* Box average with fractional coverage at the edges. */
static inline void ref_area(const sl_image *img, double rx, double ry, double rw, double rh, int cw, int ch,
			    int dx, int dy, uint8_t out[3])
{
	double xa = rx + dx * rw / cw, xb = xa + rw / cw, ya = ry + dy * rh / ch, yb = ya + rh / ch;
	double acc[3] = {0, 0, 0}, wsum = 0;
	for (int y = 0; y < img->height; y++) {
		double wy = fmin(y + 1, yb) - fmax(y, ya);
		if (wy <= 0)
			continue;
		for (int x = 0; x < img->width; x++) {
			double wx = fmin(x + 1, xb) - fmax(x, xa);
			if (wx <= 0)
				continue;
			for (int c = 0; c < 3; c++)
				acc[c] += wx * wy * ref_px(img, x, y, c);
			wsum += wx * wy;
		}
	}
	for (int c = 0; c < 3; c++)
		out[c] = ref_clamp8(acc[c] / wsum);
}

/* A reproducible noisy image with some structure. */
static inline sl_image ref_random_image(int w, int h, unsigned seed, size_t extra_stride)
{
	sl_image img = {.width = w, .height = h, .stride = (size_t)w * 3 + extra_stride};
	img.data = malloc(img.stride * h);
	for (size_t i = 0; i < img.stride * (size_t)h; i++) {
		seed = seed * 1103515245u + 12345u;
		img.data[i] = (uint8_t)(seed >> 16);
	}
	return img;
}

/* A smooth image (JPEG compresses it well and decodes it close to the original). */
static inline sl_image ref_smooth_image(int w, int h)
{
	sl_image img = {.width = w, .height = h, .stride = (size_t)w * 3};
	img.data = malloc(img.stride * h);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			uint8_t *p = img.data + (size_t)y * img.stride + 3 * x;
			p[0] = (uint8_t)(x * 255 / (w > 1 ? w - 1 : 1));
			p[1] = (uint8_t)(y * 255 / (h > 1 ? h - 1 : 1));
			p[2] = (uint8_t)(128 + 100 * sin((x + y) / 20.0));
		}
	return img;
}
