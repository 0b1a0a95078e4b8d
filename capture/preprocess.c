#include <errno.h>
#include <math.h>
#include <string.h>

#include "capture/image.h"
#include "capture/resize.h"

static float crop_fraction_of(const sl_preprocess_spec *spec)
{
	float f = spec->crop_fraction;
	return f > 0.f && f <= 1.f ? f : 1.f;
}

int sl_preprocess_layout(int src_w, int src_h, const sl_preprocess_spec *spec, sl_layout *ret)
{
	int dw = spec->width, dh = spec->height;
	if (src_w <= 0 || src_h <= 0 || dw <= 0 || dh <= 0 || dw > SL_PREPROCESS_MAX_WIDTH)
		return -EINVAL;
	sl_layout l = {.src = {0, 0, src_w, src_h}, .cw = dw, .ch = dh};
	switch (spec->fit) {
	case SL_FIT_CROP: {
		/* the largest centred rectangle of the output's aspect, then the fraction */
		double w = src_w, h = src_h, f = crop_fraction_of(spec);
		if (w * dh > h * dw)
			w = h * dw / dh;
		else
			h = w * dh / dw;
		l.src.w = w * f;
		l.src.h = h * f;
		l.src.x0 = (src_w - l.src.w) / 2;
		l.src.y0 = (src_h - l.src.h) / 2;
		break;
	}
	case SL_FIT_LETTERBOX: {
		double s = fmin((double)dw / src_w, (double)dh / src_h);
		l.cw = (int)lround(src_w * s);
		l.ch = (int)lround(src_h * s);
		l.cw = l.cw < 1 ? 1 : l.cw > dw ? dw : l.cw;
		l.ch = l.ch < 1 ? 1 : l.ch > dh ? dh : l.ch;
		l.ox = (dw - l.cw) / 2;
		l.oy = (dh - l.ch) / 2;
		break;
	}
	case SL_FIT_CENTRAL: {
		/* Whole pixels, rounded as the tools crop their view of a file:
		 * the same window in the daemon and in eval. */
		const double f = crop_fraction_of(spec), cw = src_w * f, ch = src_h * f;
		long x0 = lround((src_w - cw) / 2), x1 = lround((src_w + cw) / 2);
		long y0 = lround((src_h - ch) / 2), y1 = lround((src_h + ch) / 2);
		l.src.x0 = (double)x0;
		l.src.y0 = (double)y0;
		l.src.w = (double)(x1 > x0 ? x1 - x0 : 1);
		l.src.h = (double)(y1 > y0 ? y1 - y0 : 1);
		break;
	}
	case SL_FIT_STRETCH:
		break;
	default:
		return -EINVAL;
	}
	switch (spec->resize) {
	case SL_RESIZE_BILINEAR:
		break;
	case SL_RESIZE_AREA:
		l.area = true;
		break;
	case SL_RESIZE_AUTO:
		l.area = l.src.w > 2.0 * l.cw || l.src.h > 2.0 * l.ch;
		break;
	default:
		return -EINVAL;
	}
	*ret = l;
	return 0;
}

double sl_preprocess_min_scale(int src_w, int src_h, const sl_preprocess_spec *spec)
{
	sl_layout l;
	if (sl_preprocess_layout(src_w, src_h, spec, &l) < 0)
		return 1.0;
	double s = fmax(l.cw / l.src.w, l.ch / l.src.h);
	return s < 1.0 ? s : 1.0;
}

/* Every output value depends on one 8-bit level, so the whole value mapping
 * is a 256-entry table: per-pixel work is a lookup whatever the type. */
typedef union {
	uint8_t u8[256];
	int8_t i8[256];
	float f32[256];
} value_lut;

static void build_lut(const sl_preprocess_spec *spec, value_lut *lut)
{
	float fs = spec->float_scale, fo = spec->float_offset;
	if (fs == 0.f && fo == 0.f)
		fs = 1.f;
	float qs = spec->q_scale > 0.f ? spec->q_scale : 1.f;
	for (int p = 0; p < 256; p++) {
		float real = p * fs + fo;
		if (spec->type == SL_PIXEL_F32) {
			lut->f32[p] = real;
			continue;
		}
		long q = lroundf(real / qs) + spec->q_zero_point;
		if (spec->type == SL_PIXEL_U8)
			lut->u8[p] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
		else
			lut->i8[p] = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
	}
}

/* Map n pixel values from row into the output starting at element index. */
static void emit(const value_lut *lut, sl_pixel_type t, const uint8_t *row, size_t n, void *dst, size_t index)
{
	if (t == SL_PIXEL_F32) {
		float *d = (float *)dst + index;
		for (size_t i = 0; i < n; i++)
			d[i] = lut->f32[row[i]];
	} else {
		uint8_t *d = (uint8_t *)dst + index;
		for (size_t i = 0; i < n; i++)
			d[i] = lut->u8[row[i]];
	}
}

int sl_preprocess(const sl_image *src, const sl_preprocess_spec *spec, void *dst, sl_preprocess_map *ret_map)
{
	sl_layout l;
	if (!src || !spec || !dst || !src->data || src->stride < (size_t)src->width * 3)
		return -EINVAL;
	if (spec->type != SL_PIXEL_U8 && spec->type != SL_PIXEL_I8 && spec->type != SL_PIXEL_F32)
		return -EINVAL;
	int r = sl_preprocess_layout(src->width, src->height, spec, &l);
	if (r < 0)
		return r;

	value_lut lut;
	build_lut(spec, &lut);
	const size_t dw = (size_t)spec->width, row_elems = dw * 3;
	uint8_t row[SL_PREPROCESS_MAX_WIDTH * 3];
	uint8_t pad = spec->pad_value;

	for (int dy = 0; dy < spec->height; dy++) {
		size_t base = (size_t)dy * row_elems;
		if (dy < l.oy || dy >= l.oy + l.ch) {
			memset(row, pad, row_elems);
		} else {
			memset(row, pad, (size_t)l.ox * 3);
			uint8_t *content = row + (size_t)l.ox * 3;
			if (l.area)
				sl_resize_area_row(src, &l.src, l.cw, l.ch, dy - l.oy, content);
			else
				sl_resize_bilinear_row(src, &l.src, l.cw, l.ch, dy - l.oy, content);
			size_t right = (size_t)(l.ox + l.cw) * 3;
			memset(row + right, pad, row_elems - right);
		}
		emit(&lut, spec->type, row, row_elems, dst, base);
	}

	if (ret_map) {
		double kx = l.src.w / l.cw, ky = l.src.h / l.ch;
		ret_map->x0 = (float)(l.src.x0 - l.ox * kx);
		ret_map->y0 = (float)(l.src.y0 - l.oy * ky);
		ret_map->sx = (float)(spec->width * kx);
		ret_map->sy = (float)(spec->height * ky);
	}
	return 0;
}
