/* "testsrc[:WxH[@FPS]][?format=FMT]": a synthetic moving pattern at a set size
 * and rate. FMT (RGB3 by default, or YUYV, NV12, GREY, MJPG) makes it deliver
 * camera-like frames, which exercises the same decode path as a device. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "capture/source_internal.h"
#include "common/macros.h"

typedef struct {
	sl_backend base;
	int width, height, fps;
	sl_pixfmt fmt;
	uint8_t *rgb, *raw;
	size_t raw_cap;
	tjhandle enc;
	sl_pacer pacer;
	uint64_t frame;
} testsrc;

static const uint8_t bars[8][3] = {{235, 235, 235}, {235, 235, 16}, {16, 235, 235}, {16, 235, 16},
				   {235, 16, 235},  {235, 16, 16},  {16, 16, 235},  {16, 16, 16}};

/* Colour bars scrolling left, a grey ramp along the bottom and a checkered
 * square bouncing around: every frame differs and none is blank. */
static void render(uint8_t *rgb, int w, int h, uint64_t frame)
{
	int box = SL_MAX(SL_MIN(w, h) / 8, 2);
	int span_x = SL_MAX(w - box, 1), span_y = SL_MAX(h - box, 1);
	int bx = (int)((frame * 3) % (uint64_t)(2 * span_x)),
	    by = (int)((frame * 2) % (uint64_t)(2 * span_y));
	bx = bx < span_x ? bx : 2 * span_x - bx;
	by = by < span_y ? by : 2 * span_y - by;
	int shift = (int)((frame * 4) % (uint64_t)w);
	for (int y = 0; y < h; y++) {
		uint8_t *d = rgb + (size_t)y * w * 3;
		for (int x = 0; x < w; x++, d += 3) {
			if (x >= bx && x < bx + box && y >= by && y < by + box) {
				uint8_t v = (((x - bx) * 4 / box) + ((y - by) * 4 / box)) & 1 ? 255 : 0;
				d[0] = d[1] = d[2] = v;
			} else if (y >= h - h / 4) {
				d[0] = d[1] = d[2] = (uint8_t)(x * 255 / SL_MAX(w - 1, 1));
			} else {
				memcpy(d, bars[((x + shift) % w) * 8 / w], 3);
			}
		}
	}
}

static int ts_open(sl_backend *b, char *why, size_t n)
{
	testsrc *t = (testsrc *)b;
	int r = sl_framedec_reserve(b->dec, t->width, t->height);
	if (r < 0)
		return r;
	sl_pacer_init(&t->pacer, t->fps);
	snprintf(why, n, "testsrc %dx%d %s @%d fps", t->width, t->height, sl_pixfmt_name(t->fmt), t->fps);
	return 0;
}

static int ts_get(sl_backend *b, sl_capture_item *it, char *why, size_t n)
{
	testsrc *t = (testsrc *)b;
	(void)why;
	(void)n;
	int r = sl_pacer_wait(&t->pacer, b->stop_fd);
	if (r < 0)
		return r;
	render(t->rgb, t->width, t->height, t->frame);
	*it = (sl_capture_item){
	    .raw = {.fmt = t->fmt, .width = t->width, .height = t->height},
	    .dev_sequence = t->frame++,
	    .timestamp_us = sl_capture_now_us(),
	};
	if (t->fmt == SL_PIXFMT_RGB24) {
		it->raw.data = t->rgb;
		it->raw.len = (size_t)t->width * t->height * 3;
	} else if (t->fmt == SL_PIXFMT_MJPEG) {
		unsigned char *out = t->raw;
		unsigned long len = (unsigned long)t->raw_cap;
		if (tjCompress2(t->enc, t->rgb, t->width, 0, t->height, TJPF_RGB, &out, &len, TJSAMP_422, 85,
				TJFLAG_NOREALLOC) < 0)
			len = 0; /* counted as corrupt downstream */
		it->raw.data = t->raw;
		it->raw.len = len;
	} else {
		sl_pixfmt_from_rgb(t->rgb, (size_t)t->width * 3, t->width, t->height, t->fmt, NULL, t->raw,
				   0);
		it->raw.data = t->raw;
		it->raw.len = t->raw_cap;
	}
	return 0;
}

static void ts_put(sl_backend *b, const sl_capture_item *it)
{
	(void)b;
	(void)it;
}

static void ts_close(sl_backend *b)
{
	(void)b;
}

static void ts_free(sl_backend *b)
{
	testsrc *t = (testsrc *)b;
	free(t->rgb);
	if (t->fmt == SL_PIXFMT_MJPEG)
		tjFree(t->raw);
	else
		free(t->raw);
	if (t->enc)
		tjDestroy(t->enc);
	free(t);
}

static const sl_backend_ops testsrc_ops = {ts_open, ts_get, ts_put, ts_close, ts_free};

/* ":WxH@FPS?format=F": every part optional. */
static int parse(const char *arg, testsrc *t, char *why, size_t n)
{
	const char *p = arg;
	if (*p == ':') {
		p++;
		if (*p >= '0' && *p <= '9') {
			char *e;
			long w = strtol(p, &e, 10);
			if (*e != 'x')
				goto bad;
			long h = strtol(e + 1, &e, 10);
			if (w < 2 || h < 2 || w > 8192 || h > 8192)
				goto bad;
			t->width = (int)w;
			t->height = (int)h;
			p = e;
		}
		if (*p == '@') {
			char *e;
			long f = strtol(p + 1, &e, 10);
			if (f < 1 || f > 1000)
				goto bad;
			t->fps = (int)f;
			p = e;
		}
	}
	if (*p == '?') {
		if (strncmp(p + 1, "format=", 7) || sl_pixfmt_from_name(p + 8, &t->fmt) < 0)
			goto bad;
		p += strlen(p);
	}
	if (*p)
		goto bad;
	return 0;
bad:
	snprintf(why, n,
		 "bad testsrc URI \"testsrc%s\" (want testsrc[:WxH[@FPS]][?format=YUYV|NV12|RGB3|GREY|MJPG])",
		 arg);
	return -EINVAL;
}

int sl_backend_testsrc_check(const char *arg, char *why, size_t n)
{
	testsrc t = {0};
	return parse(arg, &t, why, n);
}

int sl_backend_testsrc_new(const char *arg, const sl_source_config *cfg, sl_backend **ret, char *why,
			   size_t n)
{
	testsrc *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->base.ops = &testsrc_ops;
	t->width = cfg->width > 0 ? cfg->width : 640;
	t->height = cfg->height > 0 ? cfg->height : 480;
	t->fps = cfg->fps > 0 ? cfg->fps : 30;
	t->fmt = SL_PIXFMT_RGB24;
	int r = parse(arg, t, why, n);
	if (r < 0) {
		free(t);
		return r;
	}
	t->rgb = malloc((size_t)t->width * t->height * 3);
	if (t->fmt == SL_PIXFMT_MJPEG) {
		t->enc = tjInitCompress();
		t->raw_cap = tjBufSize(t->width, t->height, TJSAMP_422);
		t->raw = t->enc ? tjAlloc((int)t->raw_cap) : NULL;
	} else if (t->fmt != SL_PIXFMT_RGB24) {
		t->raw_cap = sl_pixfmt_frame_size(t->fmt, t->width, t->height, 0);
		t->raw = malloc(t->raw_cap);
	}
	if (!t->rgb || (t->fmt != SL_PIXFMT_RGB24 && !t->raw)) {
		ts_free(&t->base);
		return -ENOMEM;
	}
	*ret = &t->base;
	return 0;
}
