/* Camera pixel formats and their conversion to packed RGB. Internal to
 * capture/ (and its tests). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
	SL_PIXFMT_MJPEG,
	SL_PIXFMT_YUYV,
	SL_PIXFMT_NV12,
	SL_PIXFMT_RGB24,
	SL_PIXFMT_GREY,
	SL_PIXFMT_IMAGE, /* an encoded still (JPEG, BMP, PPM/PGM), recognised by its magic */
	SL_PIXFMT_COUNT,
} sl_pixfmt;

/* How Y'CbCr maps to R'G'B'. V4L2's defaults for YUV formats are BT.601 with
 * limited range, which is what a zeroed struct means. */
typedef struct {
	bool full_range;
	bool bt709;
} sl_yuv_params;

/* A frame as the device (or a file) delivers it. */
typedef struct {
	sl_pixfmt fmt;
	int width, height;
	size_t stride; /* bytes per line of the first plane; 0: packed */
	const uint8_t *data;
	size_t len; /* bytes of data (bytesused) */
	sl_yuv_params yuv;
} sl_raw_frame;

const char *sl_pixfmt_name(sl_pixfmt f);
uint32_t sl_pixfmt_fourcc(sl_pixfmt f); /* V4L2 fourcc; 0 for IMAGE */
/* From a V4L2 fourcc or a name ("YUYV", "MJPG"/"MJPEG", "NV12", "RGB3"/"RGB24", "GREY"). */
int sl_pixfmt_from_fourcc(uint32_t fourcc, sl_pixfmt *ret);
int sl_pixfmt_from_name(const char *name, sl_pixfmt *ret);

/* Smallest stride for a raw format, and the bytes a frame of that geometry
 * needs (0 when the geometry is invalid or overflows). Not for MJPEG/IMAGE. */
size_t sl_pixfmt_min_stride(sl_pixfmt f, int width);
size_t sl_pixfmt_frame_size(sl_pixfmt f, int width, int height, size_t stride);

/* Convert a raw YUYV/NV12/RGB24/GREY frame to RGB24 with rows of dst_stride
 * bytes. -EINVAL for other formats or a frame shorter than its geometry. */
int sl_pixfmt_to_rgb(const sl_raw_frame *f, uint8_t *dst, size_t dst_stride);

/* The reverse, used by the synthetic source to produce camera-like frames.
 * dst must hold sl_pixfmt_frame_size(fmt, w, h, stride) bytes. */
int sl_pixfmt_from_rgb(const uint8_t *rgb, size_t rgb_stride, int width, int height, sl_pixfmt fmt,
		       const sl_yuv_params *yuv, uint8_t *dst, size_t stride);
