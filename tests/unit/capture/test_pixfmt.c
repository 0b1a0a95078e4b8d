/* Raw camera formats to RGB, against the double-precision formulas in ref.h. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/videodev2.h>

#include "capture/pixfmt.h"
#include "ref.h"

static uint8_t *random_bytes(size_t n, unsigned seed)
{
	uint8_t *p = malloc(n ? n : 1);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		p[i] = (uint8_t)(seed >> 24);
	}
	return p;
}

/* Reference value of pixel (x, y) of a raw frame. */
static void ref_pixel(const sl_raw_frame *f, size_t stride, int x, int y, uint8_t out[3])
{
	const uint8_t *d = f->data;
	switch (f->fmt) {
	case SL_PIXFMT_YUYV: {
		const uint8_t *pair = d + (size_t)y * stride + (size_t)(x / 2) * 4;
		ref_yuv(&f->yuv, pair[(x & 1) * 2], pair[1], pair[3], out);
		break;
	}
	case SL_PIXFMT_NV12: {
		const uint8_t *uv = d + stride * f->height + (size_t)(y / 2) * stride + (size_t)(x / 2) * 2;
		ref_yuv(&f->yuv, d[(size_t)y * stride + x], uv[0], uv[1], out);
		break;
	}
	case SL_PIXFMT_RGB24:
		memcpy(out, d + (size_t)y * stride + 3 * (size_t)x, 3);
		break;
	case SL_PIXFMT_GREY:
		out[0] = out[1] = out[2] = d[(size_t)y * stride + x];
		break;
	default:
		cr_assert_fail("format");
	}
}

static const int sizes[][2] = {{1, 1}, {2, 2}, {3, 5}, {17, 9}, {64, 48}, {641, 3}, {6, 1}};
static const sl_pixfmt raw_formats[] = {SL_PIXFMT_YUYV, SL_PIXFMT_NV12, SL_PIXFMT_RGB24, SL_PIXFMT_GREY};

Test(pixfmt, every_format_size_stride_and_matrix_matches_reference)
{
	for (size_t fi = 0; fi < sizeof(raw_formats) / sizeof(raw_formats[0]); fi++)
		for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++)
			for (int pad = 0; pad <= 13; pad += 13)
				for (int m = 0; m < 4; m++) {
					sl_pixfmt fmt = raw_formats[fi];
					int w = sizes[si][0], h = sizes[si][1];
					size_t stride = sl_pixfmt_min_stride(fmt, w) + pad;
					size_t size = sl_pixfmt_frame_size(fmt, w, h, stride);
					cr_assert(size > 0);
					uint8_t *data = random_bytes(size, (unsigned)(w * 31 + h + m));
					sl_raw_frame f = {.fmt = fmt,
							  .width = w,
							  .height = h,
							  .stride = stride,
							  .data = data,
							  .len = size,
							  .yuv = {.full_range = m & 1, .bt709 = m & 2}};
					size_t dst_stride = (size_t)w * 3 + 5;
					uint8_t *dst = calloc(dst_stride, h);
					cr_assert_eq(sl_pixfmt_to_rgb(&f, dst, dst_stride), 0);
					for (int y = 0; y < h; y++)
						for (int x = 0; x < w; x++) {
							uint8_t ref[3];
							ref_pixel(&f, stride, x, y, ref);
							for (int c = 0; c < 3; c++)
								cr_assert(
								    abs(dst[(size_t)y * dst_stride + 3 * x +
									    c] -
									ref[c]) <= 1,
								    "%s %dx%d m%d (%d,%d) c%d: %d vs %d",
								    sl_pixfmt_name(fmt), w, h, m, x, y, c,
								    dst[(size_t)y * dst_stride + 3 * x + c],
								    ref[c]);
						}
					free(dst);
					free(data);
				}
}

Test(pixfmt, short_or_invalid_frames_are_refused)
{
	uint8_t buf[64] = {0}, dst[64 * 3];
	sl_raw_frame f = {.fmt = SL_PIXFMT_YUYV, .width = 8, .height = 2, .data = buf, .len = 31};
	cr_assert_eq(sl_pixfmt_to_rgb(&f, dst, 24), -EINVAL); /* needs 32 bytes */
	f.len = 32;
	cr_assert_eq(sl_pixfmt_to_rgb(&f, dst, 24), 0);
	cr_assert_eq(sl_pixfmt_to_rgb(&f, dst, 23), -EINVAL); /* dst stride too small */
	f.stride = 15;					      /* stride below one row */
	cr_assert_eq(sl_pixfmt_to_rgb(&f, dst, 24), -EINVAL);
	f = (sl_raw_frame){.fmt = SL_PIXFMT_NV12, .width = 4, .height = 4, .data = buf, .len = 23};
	cr_assert_eq(sl_pixfmt_to_rgb(&f, dst, 12), -EINVAL); /* 16 + 8 */
	f.fmt = SL_PIXFMT_MJPEG;
	f.len = 64;
	cr_assert_eq(sl_pixfmt_to_rgb(&f, dst, 12), -EINVAL);
	f = (sl_raw_frame){.fmt = SL_PIXFMT_GREY, .width = 0, .height = 4, .data = buf, .len = 64};
	cr_assert_eq(sl_pixfmt_to_rgb(&f, dst, 12), -EINVAL);
	cr_assert_eq(sl_pixfmt_frame_size(SL_PIXFMT_RGB24, 4, 4, SIZE_MAX / 2), 0, "overflow must give 0");
}

Test(pixfmt, synthesised_frames_round_trip)
{
	/* flat colour blocks of 2x2 survive chroma subsampling */
	const int w = 16, h = 8;
	uint8_t rgb[16 * 8 * 3], back[16 * 8 * 3];
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			uint8_t *p = rgb + (y * w + x) * 3;
			int b = (y / 2) * 8 + x / 2;
			p[0] = (uint8_t)(b * 37);
			p[1] = (uint8_t)(255 - b * 23);
			p[2] = (uint8_t)(b * 71);
		}
	for (size_t fi = 0; fi < 3; fi++) {
		sl_pixfmt fmt = raw_formats[fi];
		size_t size = sl_pixfmt_frame_size(fmt, w, h, 0);
		uint8_t *raw = malloc(size);
		cr_assert_eq(sl_pixfmt_from_rgb(rgb, w * 3, w, h, fmt, NULL, raw, 0), 0);
		sl_raw_frame f = {.fmt = fmt, .width = w, .height = h, .data = raw, .len = size};
		cr_assert_eq(sl_pixfmt_to_rgb(&f, back, w * 3), 0);
		for (int i = 0; i < w * h * 3; i++)
			cr_assert(abs(back[i] - rgb[i]) <= 3, "%s byte %d: %d vs %d", sl_pixfmt_name(fmt), i,
				  back[i], rgb[i]);
		free(raw);
	}
}

Test(pixfmt, names_and_fourccs)
{
	sl_pixfmt f;
	cr_assert_eq(sl_pixfmt_from_fourcc(V4L2_PIX_FMT_MJPEG, &f), 0);
	cr_assert_eq(f, SL_PIXFMT_MJPEG);
	cr_assert_eq(sl_pixfmt_from_fourcc(V4L2_PIX_FMT_JPEG, &f), 0);
	cr_assert_eq(f, SL_PIXFMT_MJPEG);
	cr_assert_eq(sl_pixfmt_from_fourcc(V4L2_PIX_FMT_NV12, &f), 0);
	cr_assert_eq(f, SL_PIXFMT_NV12);
	cr_assert_eq(sl_pixfmt_from_fourcc(V4L2_PIX_FMT_H264, &f), -EINVAL);
	cr_assert_eq(sl_pixfmt_from_name("yuyv", &f), 0);
	cr_assert_eq(f, SL_PIXFMT_YUYV);
	cr_assert_eq(sl_pixfmt_from_name("RGB24", &f), 0);
	cr_assert_eq(f, SL_PIXFMT_RGB24);
	cr_assert_eq(sl_pixfmt_from_name("IMAGE", &f), -EINVAL);
	cr_assert_str_eq(sl_pixfmt_name(SL_PIXFMT_GREY), "GREY");
}
