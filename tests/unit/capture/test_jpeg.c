/* TurboJPEG decoding (valid, DCT-scaled, truncated, garbage), the frame
 * decoder and the MJPEG stream splitter. JPEGs are made here with tjCompress2. */
#include <criterion/criterion.h>
#include <errno.h>
#include <turbojpeg.h>

#include "capture/frame.h"
#include "capture/imgfmt.h"
#include "capture/mjpeg_split.h"
#include "ref.h"

static uint8_t *make_jpeg(const sl_image *img, int subsamp, int quality, unsigned long *len)
{
	tjhandle t = tjInitCompress();
	unsigned char *out = NULL;
	*len = 0;
	cr_assert_eq(tjCompress2(t, img->data, img->width, (int)img->stride, img->height, TJPF_RGB, &out, len,
				 subsamp, quality, 0),
		     0, "%s", tjGetErrorStr2(t));
	tjDestroy(t);
	uint8_t *copy = malloc(*len);
	memcpy(copy, out, *len);
	tjFree(out);
	return copy;
}

static double mean_abs_diff(const sl_image *a, const sl_image *b)
{
	double s = 0;
	for (int y = 0; y < a->height; y++)
		for (int x = 0; x < a->width * 3; x++)
			s += abs(a->data[(size_t)y * a->stride + x] - b->data[(size_t)y * b->stride + x]);
	return s / ((double)a->width * a->height * 3);
}

Test(jpeg, valid_images_decode_close_to_the_original)
{
	static const int sizes[][2] = {{1, 1}, {17, 9}, {640, 480}, {33, 100}};
	static const int subsamp[] = {TJSAMP_444, TJSAMP_422, TJSAMP_420, TJSAMP_GRAY};
	for (int s = 0; s < 4; s++)
		for (int k = 0; k < 4; k++) {
			sl_image src = ref_smooth_image(sizes[s][0], sizes[s][1]), dec;
			unsigned long len;
			uint8_t *jpg = make_jpeg(&src, subsamp[k], 95, &len);
			cr_assert_eq(sl_image_load_mem(jpg, len, &dec), 0);
			cr_assert_eq(dec.width, src.width);
			cr_assert_eq(dec.height, src.height);
			if (subsamp[k] != TJSAMP_GRAY)
				cr_assert_lt(mean_abs_diff(&src, &dec), 4.0, "%dx%d ss%d", src.width,
					     src.height, subsamp[k]);
			else /* grey JPEG: R = G = B */
				for (int i = 0; i < dec.width * dec.height; i++)
					cr_assert(dec.data[3 * i] == dec.data[3 * i + 1] &&
						  dec.data[3 * i] == dec.data[3 * i + 2]);
			sl_image_free(&dec);
			cr_assert_null(dec.data);
			free(jpg);
			free(src.data);
		}
}

Test(jpeg, scale_choice)
{
	int num, denom;
	sl_jpeg_pick_scale(224.0 / 480, &num, &denom); /* 640x480 -> 224 square crop */
	cr_assert(num * 2 == denom, "%d/%d", num, denom);
	sl_jpeg_pick_scale(224.0 / 420, &num, &denom); /* 87.5 % crop: 1/2 is too small, 5/8 is slow */
	cr_assert(num == denom, "%d/%d", num, denom);
	sl_jpeg_pick_scale(0.3, &num, &denom);
	cr_assert(num == 1 && denom == 2, "%d/%d", num, denom);
	sl_jpeg_pick_scale(0.25, &num, &denom);
	cr_assert(num == 1 && denom == 4, "%d/%d", num, denom);
	sl_jpeg_pick_scale(0.01, &num, &denom);
	cr_assert(num == 1 && denom == 8, "%d/%d", num, denom);
	sl_jpeg_pick_scale(1.0, &num, &denom);
	cr_assert(num == denom, "%d/%d", num, denom);
	sl_jpeg_pick_scale(3.0, &num, &denom);
	cr_assert(num == denom, "never upscale: %d/%d", num, denom);
}

Test(jpeg, frame_decoder_uses_dct_scaling_and_maps_back_to_full_size)
{
	sl_image src = ref_smooth_image(640, 480);
	unsigned long len;
	uint8_t *jpg = make_jpeg(&src, TJSAMP_422, 90, &len);
	sl_framedec d;
	cr_assert_eq(sl_framedec_init(&d, false), 0);
	cr_assert_eq(sl_framedec_reserve(&d, 640, 480), 0);
	sl_preprocess_spec spec = {
	    .width = 224, .height = 224, .fit = SL_FIT_CROP, .crop_fraction = 1.f, .type = SL_PIXEL_U8};
	sl_raw_frame f = {.fmt = SL_PIXFMT_MJPEG, .width = 640, .height = 480, .data = jpg, .len = len};
	sl_decoded dec;
	cr_assert_eq(sl_framedec_decode(&d, &f, &spec, &dec), 0);
	cr_assert_eq(dec.img.width, 320, "DCT-scaled to 1/2: %d", dec.img.width);
	cr_assert_eq(dec.img.height, 240);
	cr_assert_eq(dec.full_width, 640);

	uint8_t out[224 * 224 * 3];
	sl_preprocess_map map;
	int sw, sh;
	cr_assert_eq(sl_framedec_process(&d, &f, &spec, out, &map, &sw, &sh), 0);
	cr_assert_eq(sw, 640);
	cr_assert_eq(sh, 480);
	cr_assert_float_eq(map.x0, 80.f, 1e-3);
	cr_assert_float_eq(map.sx, 480.f, 1e-3);
	cr_assert_float_eq(map.sy, 480.f, 1e-3);

	/* the scaled pipeline stays close to full decode + resize */
	uint8_t full[224 * 224 * 3];
	spec.crop_fraction = 1.f;
	cr_assert_eq(sl_preprocess(&src, &spec, full, NULL), 0);
	double s = 0;
	for (size_t i = 0; i < sizeof(out); i++)
		s += abs(out[i] - full[i]);
	cr_assert_lt(s / sizeof(out), 4.0);

	/* a frame larger than the buffer reserved for the stream is refused */
	sl_image big = ref_smooth_image(1280, 960);
	unsigned long big_len;
	uint8_t *big_jpg = make_jpeg(&big, TJSAMP_420, 80, &big_len);
	sl_raw_frame fb = {.fmt = SL_PIXFMT_MJPEG, .data = big_jpg, .len = big_len};
	spec.width = spec.height = 960; /* needs full size */
	cr_assert_eq(sl_framedec_decode(&d, &fb, &spec, &dec), -EMSGSIZE);
	sl_framedec_done(&d);
	sl_framedec_done(&d); /* idempotent */
	free(big_jpg);
	free(big.data);
	free(jpg);
	free(src.data);
}

Test(jpeg, truncated_and_garbage_input_is_rejected)
{
	sl_image src = ref_smooth_image(160, 120), dec;
	unsigned long len;
	uint8_t *jpg = make_jpeg(&src, TJSAMP_420, 90, &len);
	sl_framedec d;
	cr_assert_eq(sl_framedec_init(&d, false), 0);
	cr_assert_eq(sl_framedec_reserve(&d, 160, 120), 0);
	sl_preprocess_spec spec = {.width = 32, .height = 32, .type = SL_PIXEL_U8};
	uint8_t out[32 * 32 * 3];
	/* cut anywhere: headers only, mid-scan, just before EOI */
	size_t cuts[] = {0, 1, 2, 3, 20, len / 4, len / 2, len - 100, len - 2};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		cr_assert_eq(sl_image_load_mem(jpg, cuts[i], &dec), -EBADMSG, "cut at %zu of %lu", cuts[i],
			     len);
		sl_raw_frame f = {
		    .fmt = SL_PIXFMT_MJPEG, .width = 160, .height = 120, .data = jpg, .len = cuts[i]};
		cr_assert_eq(sl_framedec_process(&d, &f, &spec, out, NULL, NULL, NULL), -EBADMSG, "cut %zu",
			     cuts[i]);
	}
	/* garbage with and without a JPEG signature */
	uint8_t junk[4096];
	unsigned seed = 7;
	for (size_t i = 0; i < sizeof(junk); i++) {
		seed = seed * 1103515245u + 12345u;
		junk[i] = (uint8_t)(seed >> 16);
	}
	cr_assert_eq(sl_image_load_mem(junk, sizeof(junk), &dec), -EBADMSG);
	junk[0] = 0xFF, junk[1] = 0xD8, junk[2] = 0xFF;
	cr_assert_eq(sl_image_load_mem(junk, sizeof(junk), &dec), -EBADMSG);
	sl_raw_frame f = {.fmt = SL_PIXFMT_MJPEG, .data = junk, .len = sizeof(junk)};
	cr_assert_eq(sl_framedec_process(&d, &f, &spec, out, NULL, NULL, NULL), -EBADMSG);
	/* valid headers, entropy data overwritten: must never crash, and with
	 * STOPONWARNING the damage is reported rather than decoded to grey */
	int rejected = 0;
	for (int k = 0; k < 20; k++) {
		uint8_t *bad = malloc(len);
		memcpy(bad, jpg, len);
		for (size_t i = len / 2; i < len / 2 + 64 && i < len - 2; i++)
			bad[i] = (uint8_t)(i * 31 + k * 17);
		f = (sl_raw_frame){.fmt = SL_PIXFMT_MJPEG, .data = bad, .len = len};
		int r = sl_framedec_process(&d, &f, &spec, out, NULL, NULL, NULL);
		cr_assert(r == 0 || r == -EBADMSG);
		rejected += r == -EBADMSG;
		free(bad);
	}
	cr_assert_gt(rejected, 0);
	/* a frame of zero bytes, as a V4L2 buffer flagged with an error */
	f = (sl_raw_frame){.fmt = SL_PIXFMT_MJPEG, .data = jpg, .len = 0};
	cr_assert_eq(sl_framedec_process(&d, &f, &spec, out, NULL, NULL, NULL), -EBADMSG);
	/* the intact JPEG still decodes after all that */
	f.len = len;
	cr_assert_eq(sl_framedec_process(&d, &f, &spec, out, NULL, NULL, NULL), 0);
	sl_framedec_done(&d);
	free(jpg);
	free(src.data);
}

Test(jpeg, mjpeg_stream_split)
{
	sl_image a = ref_smooth_image(48, 32), b = ref_smooth_image(20, 64);
	unsigned long la, lb;
	uint8_t *ja = make_jpeg(&a, TJSAMP_420, 80, &la), *jb = make_jpeg(&b, TJSAMP_444, 80, &lb);
	/* ja, 5 bytes of junk, jb, ja with an APP1 segment holding a complete
	 * JPEG (an EXIF-like thumbnail), then jb cut in half */
	size_t app1 = 4 + lb;
	size_t total = la + 5 + lb + (la + app1) + lb / 2;
	uint8_t *s = malloc(total), *p = s;
	memcpy(p, ja, la), p += la;
	memcpy(p, "junk!", 5), p += 5;
	memcpy(p, jb, lb), p += lb;
	size_t third = (size_t)(p - s);
	memcpy(p, ja, 2), p += 2; /* SOI */
	*p++ = 0xFF, *p++ = 0xE1, *p++ = (uint8_t)((app1 - 2) >> 8), *p++ = (uint8_t)(app1 - 2);
	memcpy(p, jb, lb), p += lb;
	memcpy(p, ja + 2, la - 2), p += la - 2;
	size_t fourth = (size_t)(p - s);
	memcpy(p, jb, lb / 2), p += lb / 2;
	cr_assert_eq((size_t)(p - s), total);

	size_t *off, n;
	cr_assert_eq(sl_mjpeg_split(s, total, &off, &n), 0);
	cr_assert_eq(n, 4, "got %zu frames", n);
	cr_assert_eq(off[0], 0);
	cr_assert_eq(off[1], la + 5);
	cr_assert_eq(off[2], third);
	cr_assert_eq(off[3], fourth);
	cr_assert_eq(off[4], total);
	bool complete;
	cr_assert_eq(sl_mjpeg_frame_end(s, total, 0, &complete), la);
	cr_assert(complete);
	cr_assert_eq(sl_mjpeg_frame_end(s, total, third, &complete), fourth,
		     "the thumbnail's EOI must not end the frame");
	cr_assert_eq(sl_mjpeg_frame_end(s, total, fourth, &complete), total);
	cr_assert(!complete);
	sl_image img;
	cr_assert_eq(sl_image_load_mem(s + off[2], off[3] - off[2], &img), 0);
	cr_assert_eq(img.width, 48);
	sl_image_free(&img);
	cr_assert_eq(sl_image_load_mem(s + off[3], off[4] - off[3], &img), -EBADMSG);
	free(off);
	cr_assert_eq(sl_mjpeg_split((const uint8_t *)"nothing here", 12, &off, &n), 0);
	cr_assert_eq(n, 0);
	free(s);
	free(ja);
	free(jb);
	free(a.data);
	free(b.data);
}
