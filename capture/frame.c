#include "capture/frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capture/imgfmt.h"
#include "capture/resize.h"

int sl_framedec_init(sl_framedec *d, bool can_grow)
{
	memset(d, 0, sizeof(*d));
	d->can_grow = can_grow;
	return sl_jpeg_new(&d->jpeg);
}

void sl_framedec_done(sl_framedec *d)
{
	if (!d)
		return;
	sl_jpeg_free(d->jpeg);
	free(d->rgb);
	memset(d, 0, sizeof(*d));
}

static int grow(sl_framedec *d, size_t need)
{
	if (need <= d->cap)
		return 0;
	uint8_t *n = realloc(d->rgb, need);
	if (!n)
		return -ENOMEM;
	d->rgb = n;
	d->cap = need;
	return 0;
}

int sl_framedec_reserve(sl_framedec *d, int width, int height)
{
	if (width <= 0 || height <= 0 || width > SL_IMAGE_MAX_DIM || height > SL_IMAGE_MAX_DIM ||
	    (uint64_t)width * (uint64_t)height > SL_IMAGE_MAX_PIXELS)
		return -EINVAL;
	return grow(d, (size_t)width * (size_t)height * 3);
}

static int decode_encoded(sl_framedec *d, const sl_raw_frame *f, const sl_preprocess_spec *spec,
			  sl_decoded *ret)
{
	int w, h, sw, sh, num = 1, denom = 1, r;
	size_t need = 0;
	sl_imgfmt fmt = sl_imgfmt_detect(f->data, f->len);
	if (f->fmt == SL_PIXFMT_MJPEG && fmt != SL_IMGFMT_JPEG)
		return -EBADMSG;
	r = sl_imgfmt_probe(&d->jpeg, f->data, f->len, &w, &h);
	if (r < 0) /* unsupported variants are undecodable frames all the same */
		return r == -ENOTSUP ? -EBADMSG : r;
	sw = w;
	sh = h;
	if (fmt == SL_IMGFMT_JPEG) {
		sl_jpeg_pick_scale(sl_preprocess_min_scale(w, h, spec), &num, &denom);
		sw = sl_jpeg_scaled(w, num, denom);
		sh = sl_jpeg_scaled(h, num, denom);
	}
	need = (size_t)sw * (size_t)sh * 3; /* probe bounded w * h */
	if (need > d->cap) {
		r = d->can_grow ? grow(d, need) : -EMSGSIZE;
		if (r < 0)
			return r;
	}
	/* the JPEG header was read once, by the probe */
	if (fmt == SL_IMGFMT_JPEG)
		r = sl_jpeg_decode_at(&d->jpeg, f->data, f->len, sw, sh, d->rgb);
	else
		r = sl_imgfmt_decode(&d->jpeg, f->data, f->len, 1, 1, d->rgb, d->cap, &sw, &sh, NULL);
	if (r < 0)
		return r == -ENOTSUP ? -EBADMSG : r;
	*ret = (sl_decoded){
	    .img = {.width = sw, .height = sh, .stride = (size_t)sw * 3, .data = d->rgb},
	    .full_width = w,
	    .full_height = h,
	    .scale = (double)num / denom,
	};
	return 0;
}

int sl_framedec_decode(sl_framedec *d, const sl_raw_frame *f, const sl_preprocess_spec *spec, sl_decoded *ret)
{
	if (!f || !f->data || !f->len)
		return -EBADMSG;
	if (f->fmt == SL_PIXFMT_MJPEG || f->fmt == SL_PIXFMT_IMAGE)
		return decode_encoded(d, f, spec, ret);

	size_t stride = f->stride ? f->stride : sl_pixfmt_min_stride(f->fmt, f->width);
	size_t need = sl_pixfmt_frame_size(f->fmt, f->width, f->height, stride);
	if (!need || f->width > SL_IMAGE_MAX_DIM || f->height > SL_IMAGE_MAX_DIM)
		return -EINVAL;
	if (f->len < need) /* a short buffer from the driver */
		return -EBADMSG;
	*ret = (sl_decoded){.full_width = f->width, .full_height = f->height, .scale = 1.0};
	if (f->fmt == SL_PIXFMT_RGB24) { /* already what sl_preprocess reads */
		ret->img = (sl_image){f->width, f->height, stride, (uint8_t *)f->data};
		return 0;
	}
	size_t rgb = (size_t)f->width * (size_t)f->height * 3;
	if (rgb > d->cap) {
		int r = d->can_grow ? grow(d, rgb) : -EMSGSIZE;
		if (r < 0)
			return r;
	}
	int r = sl_pixfmt_to_rgb(f, d->rgb, (size_t)f->width * 3);
	if (r < 0)
		return r;
	ret->img = (sl_image){f->width, f->height, (size_t)f->width * 3, d->rgb};
	return 0;
}

int sl_framedec_process(sl_framedec *d, const sl_raw_frame *f, const sl_preprocess_spec *spec, void *dst,
			sl_preprocess_map *ret_map, int *ret_src_w, int *ret_src_h)
{
	sl_decoded dec;
	sl_preprocess_map map;
	int r = sl_framedec_decode(d, f, spec, &dec);
	if (r < 0)
		return r;
	r = sl_preprocess(&dec.img, spec, dst, &map);
	if (r < 0)
		return r;
	if (ret_map) {
		double k = 1.0 / dec.scale;
		*ret_map = (sl_preprocess_map){(float)(map.x0 * k), (float)(map.y0 * k), (float)(map.sx * k),
					       (float)(map.sy * k)};
	}
	if (ret_src_w)
		*ret_src_w = dec.full_width;
	if (ret_src_h)
		*ret_src_h = dec.full_height;
	return 0;
}
