/* Geometry and resampling behind sl_preprocess. Internal to capture/ (and its
 * tests, which check every kernel against a plain double-precision version). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "capture/image.h"

/* Widest model input sl_preprocess accepts: one output row lives on the stack. */
#define SL_PREPROCESS_MAX_WIDTH 4096

/* A rectangle in source pixels; fractional so that crops stay centred. */
typedef struct {
	double x0, y0, w, h;
} sl_region;

/* Where the resampled source region lands in the output; the rest is padding. */
typedef struct {
	sl_region src;
	int ox, oy, cw, ch;
	bool area; /* box filter rather than bilinear */
} sl_layout;

/* -EINVAL on a bad spec or source size. */
int sl_preprocess_layout(int src_w, int src_h, const sl_preprocess_spec *spec, sl_layout *ret);

/* Smallest uniform downscale of the source that still leaves at least one
 * source pixel per output pixel (in both directions), capped at 1. Decoders
 * that can shrink while decoding (JPEG DCT scaling) use it. 1 on a bad spec. */
double sl_preprocess_min_scale(int src_w, int src_h, const sl_preprocess_spec *spec);

/* Resample r (inside src) to cw x ch and write output row dy (cw RGB pixels).
 * Allocation-free; area keeps ~28 KB of column sums and boxes on the stack.
 * Bilinear uses pixel centres (x_src = x0 + (x + 0.5) * w / cw - 0.5) clamped
 * to the image; area averages the box each output pixel covers. */
void sl_resize_bilinear_row(const sl_image *src, const sl_region *r, int cw, int ch, int dy, uint8_t *out);
void sl_resize_area_row(const sl_image *src, const sl_region *r, int cw, int ch, int dy, uint8_t *out);
