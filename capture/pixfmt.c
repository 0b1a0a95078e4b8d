#include "capture/pixfmt.h"

#include <errno.h>
#include <linux/videodev2.h>
#include <string.h>
#include <strings.h>

#include "common/macros.h"

static const struct {
	const char *name;
	uint32_t fourcc;
} formats[SL_PIXFMT_COUNT] = {
    [SL_PIXFMT_MJPEG] = {"MJPG", V4L2_PIX_FMT_MJPEG}, [SL_PIXFMT_YUYV] = {"YUYV", V4L2_PIX_FMT_YUYV},
    [SL_PIXFMT_NV12] = {"NV12", V4L2_PIX_FMT_NV12},   [SL_PIXFMT_RGB24] = {"RGB3", V4L2_PIX_FMT_RGB24},
    [SL_PIXFMT_GREY] = {"GREY", V4L2_PIX_FMT_GREY},   [SL_PIXFMT_IMAGE] = {"IMAGE", 0},
};

const char *sl_pixfmt_name(sl_pixfmt f)
{
	return (unsigned)f < SL_PIXFMT_COUNT ? formats[f].name : "?";
}

uint32_t sl_pixfmt_fourcc(sl_pixfmt f)
{
	return (unsigned)f < SL_PIXFMT_COUNT ? formats[f].fourcc : 0;
}

int sl_pixfmt_from_fourcc(uint32_t fourcc, sl_pixfmt *ret)
{
	/* JPEG is what some UVC cameras announce for the same stream */
	if (fourcc == V4L2_PIX_FMT_JPEG) {
		*ret = SL_PIXFMT_MJPEG;
		return 0;
	}
	for (int i = 0; i < SL_PIXFMT_COUNT; i++)
		if (formats[i].fourcc && formats[i].fourcc == fourcc) {
			*ret = (sl_pixfmt)i;
			return 0;
		}
	return -EINVAL;
}

int sl_pixfmt_from_name(const char *name, sl_pixfmt *ret)
{
	static const struct {
		const char *alias;
		sl_pixfmt f;
	} aliases[] = {{"MJPEG", SL_PIXFMT_MJPEG},
		       {"JPEG", SL_PIXFMT_MJPEG},
		       {"RGB24", SL_PIXFMT_RGB24},
		       {"GRAY", SL_PIXFMT_GREY}};
	for (size_t i = 0; i < SL_ARRAY_SIZE(aliases); i++)
		if (!strcasecmp(name, aliases[i].alias)) {
			*ret = aliases[i].f;
			return 0;
		}
	for (int i = 0; i < SL_PIXFMT_COUNT; i++)
		if (formats[i].fourcc && !strcasecmp(name, formats[i].name)) {
			*ret = (sl_pixfmt)i;
			return 0;
		}
	return -EINVAL;
}

size_t sl_pixfmt_min_stride(sl_pixfmt f, int width)
{
	if (width <= 0)
		return 0;
	switch (f) {
	case SL_PIXFMT_YUYV:
		return ((size_t)width + 1) / 2 * 4;
	case SL_PIXFMT_NV12: /* the chroma rows hold whole U/V pairs */
		return ((size_t)width + 1) / 2 * 2;
	case SL_PIXFMT_GREY:
		return (size_t)width;
	case SL_PIXFMT_RGB24:
		return (size_t)width * 3;
	default:
		return 0;
	}
}

size_t sl_pixfmt_frame_size(sl_pixfmt f, int width, int height, size_t stride)
{
	size_t min = sl_pixfmt_min_stride(f, width), rows, size;
	if (!min || height <= 0)
		return 0;
	if (!stride)
		stride = min;
	if (stride < min)
		return 0;
	rows = (size_t)height;
	if (f == SL_PIXFMT_NV12) /* the interleaved chroma plane: ceil(h/2) rows of the same stride */
		rows += ((size_t)height + 1) / 2;
	if (!sl_mul_size(stride, rows, &size))
		return 0;
	return size;
}

/* Fixed-point Y'CbCr -> RGB, Q16. Derived from Kr/Kb so both matrices and both
 * ranges come from one formula. */
typedef struct {
	int32_t y_mul, y_off, c_off;
	int32_t rv, gu, gv, bu;
} yuv_coefs;

static yuv_coefs coefs_for(const sl_yuv_params *p)
{
	double kr = p && p->bt709 ? 0.2126 : 0.299, kb = p && p->bt709 ? 0.0722 : 0.114;
	double kg = 1.0 - kr - kb;
	bool full = p && p->full_range;
	double ys = full ? 1.0 : 255.0 / 219.0, cs = full ? 1.0 : 255.0 / 224.0;
	yuv_coefs c = {
	    .y_mul = (int32_t)(ys * 65536 + 0.5),
	    .y_off = full ? 0 : 16,
	    .c_off = 128,
	    .rv = (int32_t)(2 * (1 - kr) * cs * 65536 + 0.5),
	    .gu = (int32_t)(2 * kb * (1 - kb) / kg * cs * 65536 + 0.5),
	    .gv = (int32_t)(2 * kr * (1 - kr) / kg * cs * 65536 + 0.5),
	    .bu = (int32_t)(2 * (1 - kb) * cs * 65536 + 0.5),
	};
	return c;
}

static inline uint8_t clamp8(int32_t v)
{
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

static inline void yuv_px(const yuv_coefs *c, int y, int u, int v, uint8_t *out)
{
	int32_t yy = (y - c->y_off) * c->y_mul + 32768;
	u -= c->c_off;
	v -= c->c_off;
	out[0] = clamp8((yy + c->rv * v) >> 16);
	out[1] = clamp8((yy - c->gu * u - c->gv * v) >> 16);
	out[2] = clamp8((yy + c->bu * u) >> 16);
}

static void yuyv_to_rgb(const sl_raw_frame *f, size_t stride, uint8_t *dst, size_t dst_stride)
{
	yuv_coefs c = coefs_for(&f->yuv);
	for (int y = 0; y < f->height; y++) {
		const uint8_t *s = f->data + (size_t)y * stride;
		uint8_t *d = dst + (size_t)y * dst_stride;
		int x = 0;
		for (; x + 1 < f->width; x += 2, s += 4, d += 6) {
			yuv_px(&c, s[0], s[1], s[3], d);
			yuv_px(&c, s[2], s[1], s[3], d + 3);
		}
		if (x < f->width)
			yuv_px(&c, s[0], s[1], s[3], d);
	}
}

static void nv12_to_rgb(const sl_raw_frame *f, size_t stride, uint8_t *dst, size_t dst_stride)
{
	yuv_coefs c = coefs_for(&f->yuv);
	const uint8_t *uv_plane = f->data + stride * (size_t)f->height;
	for (int y = 0; y < f->height; y++) {
		const uint8_t *sy = f->data + (size_t)y * stride;
		const uint8_t *suv = uv_plane + (size_t)(y / 2) * stride;
		uint8_t *d = dst + (size_t)y * dst_stride;
		for (int x = 0; x < f->width; x++, d += 3)
			yuv_px(&c, sy[x], suv[x & ~1], suv[(x & ~1) + 1], d);
	}
}

int sl_pixfmt_to_rgb(const sl_raw_frame *f, uint8_t *dst, size_t dst_stride)
{
	size_t stride = f->stride ? f->stride : sl_pixfmt_min_stride(f->fmt, f->width);
	size_t need = sl_pixfmt_frame_size(f->fmt, f->width, f->height, stride);
	if (!need || !f->data || f->len < need || dst_stride < (size_t)f->width * 3)
		return -EINVAL;
	switch (f->fmt) {
	case SL_PIXFMT_YUYV:
		yuyv_to_rgb(f, stride, dst, dst_stride);
		return 0;
	case SL_PIXFMT_NV12:
		nv12_to_rgb(f, stride, dst, dst_stride);
		return 0;
	case SL_PIXFMT_RGB24:
		for (int y = 0; y < f->height; y++)
			memcpy(dst + (size_t)y * dst_stride, f->data + (size_t)y * stride,
			       (size_t)f->width * 3);
		return 0;
	case SL_PIXFMT_GREY:
		for (int y = 0; y < f->height; y++) {
			const uint8_t *s = f->data + (size_t)y * stride;
			uint8_t *d = dst + (size_t)y * dst_stride;
			for (int x = 0; x < f->width; x++, d += 3)
				d[0] = d[1] = d[2] = s[x];
		}
		return 0;
	default:
		return -EINVAL;
	}
}

/* RGB -> Y'CbCr, only for synthesising frames: double precision is fine. */
static void rgb_to_yuv(const sl_yuv_params *p, const uint8_t *rgb, int *y, int *u, int *v)
{
	double kr = p && p->bt709 ? 0.2126 : 0.299, kb = p && p->bt709 ? 0.0722 : 0.114;
	bool full = p && p->full_range;
	double yy = kr * rgb[0] + (1 - kr - kb) * rgb[1] + kb * rgb[2];
	double cb = (rgb[2] - yy) / (2 * (1 - kb)), cr = (rgb[0] - yy) / (2 * (1 - kr));
	if (!full) {
		yy = 16 + yy * 219.0 / 255.0;
		cb *= 224.0 / 255.0;
		cr *= 224.0 / 255.0;
	}
	*y = clamp8((int32_t)(yy + 0.5));
	*u = clamp8((int32_t)(cb + 128.5));
	*v = clamp8((int32_t)(cr + 128.5));
}

int sl_pixfmt_from_rgb(const uint8_t *rgb, size_t rgb_stride, int width, int height, sl_pixfmt fmt,
		       const sl_yuv_params *yuv, uint8_t *dst, size_t stride)
{
	if (!stride)
		stride = sl_pixfmt_min_stride(fmt, width);
	if (!sl_pixfmt_frame_size(fmt, width, height, stride))
		return -EINVAL;
	for (int y = 0; y < height; y++) {
		const uint8_t *s = rgb + (size_t)y * rgb_stride;
		uint8_t *d = dst + (size_t)y * stride;
		for (int x = 0; x < width; x++) {
			int Y, U, V;
			const uint8_t *px = s + 3 * x;
			switch (fmt) {
			case SL_PIXFMT_RGB24:
				memcpy(d + 3 * x, px, 3);
				break;
			case SL_PIXFMT_GREY:
				rgb_to_yuv(&(sl_yuv_params){.full_range = true}, px, &Y, &U, &V);
				d[x] = (uint8_t)Y;
				break;
			case SL_PIXFMT_YUYV:
				rgb_to_yuv(yuv, px, &Y, &U, &V);
				d[(x / 2) * 4 + (x & 1) * 2] = (uint8_t)Y;
				if (!(x & 1)) { /* chroma of the pair's first pixel */
					d[(x / 2) * 4 + 1] = (uint8_t)U;
					d[(x / 2) * 4 + 3] = (uint8_t)V;
				}
				break;
			case SL_PIXFMT_NV12: {
				rgb_to_yuv(yuv, px, &Y, &U, &V);
				d[x] = (uint8_t)Y;
				if (!(x & 1) && !(y & 1)) {
					uint8_t *uv =
					    dst + stride * (size_t)height + (size_t)(y / 2) * stride;
					uv[x] = (uint8_t)U;
					uv[x + 1] = (uint8_t)V;
				}
				break;
			}
			default:
				return -EINVAL;
			}
		}
		if (fmt == SL_PIXFMT_YUYV && (width & 1)) /* pad the last half pair */
			d[(width / 2) * 4 + 2] = d[(width / 2) * 4];
	}
	return 0;
}
