/* libFuzzer target for the capture frame path: whatever a camera or a file
 * hands us (MJPEG, raw YUYV/NV12/RGB24/GREY, still images, MJPEG streams)
 * must be decoded and preprocessed or refused with an error; never a crash,
 * an out-of-bounds access, a leak or a hang.
 * Input: 8 header bytes (mode, width, height, spec variant), then the payload. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/frame.h"
#include "capture/image.h"
#include "capture/mjpeg_split.h"
#include "capture/pixfmt.h"

static void check(int ok)
{
	if (!ok)
		__builtin_trap();
}

static sl_preprocess_spec spec_for(uint8_t v)
{
	static const int sizes[][2] = {{1, 1}, {7, 3}, {32, 32}, {224, 224}};
	sl_preprocess_spec s = {
	    .width = sizes[v & 3][0],
	    .height = sizes[v & 3][1],
	    .fit = (sl_fit)((v >> 2) % 3),
	    .crop_fraction = (v & 0x20) ? 0.875f : 1.f,
	    .resize = (sl_resize)((v >> 6) % 3),
	    .type = (sl_pixel_type)((v >> 3) % 3),
	    .float_scale = 1.f / 128,
	    .float_offset = -1.f,
	    .q_scale = 1.f / 128,
	    .q_zero_point = 128,
	    .pad_value = 114,
	};
	return s;
}

static float out[224 * 224 * 3];

static void frame(sl_framedec *d, sl_pixfmt fmt, int w, int h, const uint8_t *p, size_t n,
		  const sl_preprocess_spec *spec)
{
	sl_raw_frame f = {
	    .fmt = fmt, .width = w, .height = h, .data = p, .len = n, .yuv = {.full_range = w & 1}};
	sl_preprocess_map map;
	int sw, sh;
	int r = sl_framedec_process(d, &f, spec, out, &map, &sw, &sh);
	check(r == 0 || r == -EBADMSG || r == -EINVAL || r == -EMSGSIZE || r == -ENOMEM);
	if (r == 0)
		check(sw > 0 && sh > 0 && map.sx > 0 && map.sy > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8)
		return 0;
	const uint8_t mode = data[0] % 8;
	const int w = 1 + ((data[1] | data[2] << 8) % 1024), h = 1 + ((data[3] | data[4] << 8) % 1024);
	const sl_preprocess_spec spec = spec_for(data[5]);
	const uint8_t *p = data + 8;
	const size_t n = size - 8;
	/* one fixed-size decoder reserved like a camera stream, one growing like
	 * a file source's: made once, as a source does, so runs stay fast */
	static sl_framedec fixed, growing;
	static int ready;
	if (!ready) {
		check(sl_framedec_init(&fixed, false) == 0 && sl_framedec_reserve(&fixed, 1024, 1024) == 0);
		check(sl_framedec_init(&growing, true) == 0);
		ready = 1;
	}
	sl_framedec *d = mode == 1 ? &growing : &fixed;
	switch (mode) {
	case 0:
		frame(d, SL_PIXFMT_MJPEG, w, h, p, n, &spec);
		break;
	case 1:
		frame(d, SL_PIXFMT_IMAGE, w, h, p, n, &spec);
		break;
	case 2:
	case 3:
	case 4:
	case 5: {
		static const sl_pixfmt raw[] = {SL_PIXFMT_YUYV, SL_PIXFMT_NV12, SL_PIXFMT_RGB24,
						SL_PIXFMT_GREY};
		frame(d, raw[mode - 2], w, h, p, n, &spec);
		break;
	}
	case 6: {
		sl_image img;
		int r = sl_image_load_mem(p, n, &img);
		check(r == 0 || r == -EBADMSG || r == -ENOTSUP || r == -ENOMEM);
		if (r == 0) {
			check(img.width > 0 && img.height > 0 && img.stride >= (size_t)img.width * 3);
			check(sl_preprocess(&img, &spec, out, NULL) == 0);
			sl_image_free(&img);
		}
		break;
	}
	default: {
		size_t *off = NULL, nf = 0;
		if (sl_mjpeg_split(p, n, &off, &nf) == 0) {
			for (size_t i = 0; i < nf && i < 8; i++) {
				check(off[i] < off[i + 1] && off[i + 1] <= n);
				frame(d, SL_PIXFMT_MJPEG, w, h, p + off[i], off[i + 1] - off[i], &spec);
			}
			free(off);
		}
	}
	}
	return 0;
}
