/* Still images and the preprocessing that turns any frame into a model's input
 * tensor. Used by the capture pipeline and by the command-line tools. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Packed 8-bit RGB, rows of `stride` bytes. */
typedef struct {
	int width, height;
	size_t stride;
	uint8_t *data; /* owned when loaded by sl_image_load_* */
} sl_image;

/* Load a JPEG, BMP (24/32-bit and 8-bit palette/grey, bottom-up or top-down)
 * or binary PPM/PGM file into RGB. Grey images are expanded to RGB.
 * -EBADMSG: malformed or truncated; -ENOTSUP: a valid variant we do not read
 * (RLE/16-bit BMP, ASCII PNM); images above 64 Mpixel are refused. */
int sl_image_load_file(const char *path, sl_image *ret);
/* Same from memory; the format is recognised by its magic bytes. */
int sl_image_load_mem(const void *buf, size_t len, sl_image *ret);
void sl_image_free(sl_image *img); /* frees data, zeroes the struct; NULL-safe */

typedef enum {
	SL_FIT_CROP,	  /* centre crop, then resize: the largest centred rectangle of the
			     output's aspect ratio, times crop_fraction (square models:
			     crop_fraction of the shorter side) */
	SL_FIT_LETTERBOX, /* keep aspect, pad with pad_value */
	SL_FIT_STRETCH,	  /* ignore aspect */
	SL_FIT_CENTRAL,	  /* crop_fraction of each side (whole pixels, rounded), then
			     stretch: TF-slim's central_crop, what `sightline eval`
			     and compress's calibration feed classifiers */
} sl_fit;

typedef enum {
	SL_RESIZE_BILINEAR,
	SL_RESIZE_AREA, /* box filter, for large downscales */
	SL_RESIZE_AUTO, /* area when shrinking by more than 2x, bilinear otherwise */
} sl_resize;

typedef enum {
	SL_PIXEL_U8,
	SL_PIXEL_I8,
	SL_PIXEL_F32,
} sl_pixel_type;

/* Target tensor: NHWC, N = 1, C = 3 (RGB). Value mapping:
 *  - U8/I8: q = round(v_real / scale) + zero_point, clamped, where
 *    v_real = pixel * float_scale + float_offset (the model's expected range);
 *  - F32:   pixel * float_scale + float_offset.
 * Zeroed fields mean "identity": float_scale = float_offset = 0 is taken as
 * scale 1 offset 0, q_scale <= 0 as 1, crop_fraction outside (0, 1] as 1.
 * Width is limited to 4096. */
typedef struct {
	int width, height;
	sl_fit fit;
	float crop_fraction; /* SL_FIT_CROP: 0.875 for ImageNet classifiers, 1 = none */
	sl_resize resize;
	sl_pixel_type type;
	float float_scale, float_offset; /* real-value range of a pixel */
	float q_scale;			 /* input quantization (U8/I8) */
	int32_t q_zero_point;
	uint8_t pad_value; /* letterbox fill, as a pixel value */
} sl_preprocess_spec;

/* Write the preprocessed image into dst (width*height*3 elements of `type`).
 * Allocates nothing: per-frame safe. Also reports, for letterboxing, the
 * mapping from model coordinates back to the source image (may be NULL). */
typedef struct {
	float x0, y0, sx, sy; /* src_x = x0 + model_x_normalised * sx (in source pixels) */
} sl_preprocess_map;
int sl_preprocess(const sl_image *src, const sl_preprocess_spec *spec, void *dst, sl_preprocess_map *ret_map);
