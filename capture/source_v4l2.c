/* "v4l2:/dev/videoN[?format=FMT]": a V4L2 capture device through libv4l2 with
 * conversion disabled (we decode ourselves), MMAP streaming, poll-driven
 * DQBUF/QBUF. close() always returns the device to a state where a replugged
 * or re-registered camera can be opened again: every mapping is unmapped
 * before the fd is closed, because a mapping keeps the file (and so the
 * driver's "last close") alive. */
#include <errno.h>
#include <fcntl.h>
#include <libv4l2.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "capture/source_internal.h"
#include "capture/v4l2_pick.h"
#include "common/macros.h"

#define MAX_BUFS  32
#define MAX_ENUMS 64

typedef struct {
	sl_backend base;
	char *path;
	int want_w, want_h, want_fps, want_bufs, forced; /* forced: sl_pixfmt or -1 */
	int fd;
	struct {
		void *start;
		size_t len;
	} buf[MAX_BUFS];
	int nbuf;
	bool streaming;
	sl_pixfmt fmt;
	int width, height;
	size_t stride;
	sl_yuv_params yuv;
	double fps;
	uint64_t frames;
} v4l2_src;

/* libv4l2 ioctl with the EINTR retry the kernel may require of us. */
static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;
	do
		r = v4l2_ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

static void v4l2_close_dev(sl_backend *b)
{
	v4l2_src *v = (v4l2_src *)b;
	if (v->fd < 0)
		return;
	if (v->streaming) {
		int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		xioctl(v->fd, VIDIOC_STREAMOFF, &type); /* ENODEV after unplug: nothing to stop */
		v->streaming = false;
	}
	for (int i = 0; i < v->nbuf; i++)
		if (v->buf[i].start)
			v4l2_munmap(v->buf[i].start, v->buf[i].len);
	if (v->nbuf) {
		struct v4l2_requestbuffers rb = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
						 .memory = V4L2_MEMORY_MMAP};
		xioctl(v->fd, VIDIOC_REQBUFS, &rb);
	}
	memset(v->buf, 0, sizeof(v->buf));
	v->nbuf = 0;
	v4l2_close(v->fd);
	v->fd = -1;
}

static int pick_format(v4l2_src *v, char *why, size_t n)
{
	uint32_t offered[MAX_ENUMS];
	int count = 0;
	for (int i = 0; i < MAX_ENUMS; i++) {
		struct v4l2_fmtdesc d = {.index = (uint32_t)i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
		if (xioctl(v->fd, VIDIOC_ENUM_FMT, &d) < 0)
			break;
		offered[count++] = d.pixelformat;
	}
	if (sl_v4l2_pick_format(offered, count, v->forced, &v->fmt) < 0) {
		char list[MAX_ENUMS * 5 + 1] = "";
		for (int i = 0; i < count; i++)
			snprintf(list + 5 * i, 6, "%.4s ", (const char *)&offered[i]);
		snprintf(why, n, "%s: no usable pixel format%s%s (offers: %s)", v->path,
			 v->forced >= 0 ? " " : "",
			 v->forced >= 0 ? sl_pixfmt_name((sl_pixfmt)v->forced) : "", count ? list : "none");
		return -ENOTSUP;
	}
	return 0;
}

static void pick_size(v4l2_src *v, int *ret_w, int *ret_h)
{
	int sizes[MAX_ENUMS][2], count = 0;
	*ret_w = v->want_w > 0 ? v->want_w : 640;
	*ret_h = v->want_h > 0 ? v->want_h : 480;
	for (int i = 0; i < MAX_ENUMS; i++) {
		struct v4l2_frmsizeenum fs = {.index = (uint32_t)i, .pixel_format = sl_pixfmt_fourcc(v->fmt)};
		if (xioctl(v->fd, VIDIOC_ENUM_FRAMESIZES, &fs) < 0)
			break;
		if (fs.type != V4L2_FRMSIZE_TYPE_DISCRETE) {
			sl_v4l2_fit_size((int)fs.stepwise.min_width, (int)fs.stepwise.max_width,
					 (int)fs.stepwise.step_width, (int)fs.stepwise.min_height,
					 (int)fs.stepwise.max_height, (int)fs.stepwise.step_height, *ret_w,
					 *ret_h, ret_w, ret_h);
			return;
		}
		sizes[count][0] = (int)fs.discrete.width;
		sizes[count][1] = (int)fs.discrete.height;
		count++;
	}
	int best = sl_v4l2_pick_size((const int(*)[2])sizes, count, v->want_w, v->want_h);
	if (best >= 0) {
		*ret_w = sizes[best][0];
		*ret_h = sizes[best][1];
	}
	/* no enumeration: S_FMT adjusts to what the driver can do */
}

static void set_rate(v4l2_src *v)
{
	uint32_t iv[MAX_ENUMS][2];
	int count = 0;
	struct v4l2_fract want = {0, 0};
	for (int i = 0; i < MAX_ENUMS; i++) {
		struct v4l2_frmivalenum fi = {.index = (uint32_t)i,
					      .pixel_format = sl_pixfmt_fourcc(v->fmt),
					      .width = (uint32_t)v->width,
					      .height = (uint32_t)v->height};
		if (xioctl(v->fd, VIDIOC_ENUM_FRAMEINTERVALS, &fi) < 0)
			break;
		if (fi.type != V4L2_FRMIVAL_TYPE_DISCRETE) {
			if (v->want_fps > 0)
				want = (struct v4l2_fract){
				    1, (uint32_t)v->want_fps}; /* driver clamps to the range */
			break;
		}
		iv[count][0] = fi.discrete.numerator;
		iv[count][1] = fi.discrete.denominator;
		count++;
	}
	int best = sl_v4l2_pick_interval((const uint32_t(*)[2])iv, count, v->want_fps);
	if (best >= 0)
		want = (struct v4l2_fract){iv[best][0], iv[best][1]};
	else if (!want.denominator && v->want_fps > 0)
		want = (struct v4l2_fract){1, (uint32_t)v->want_fps};

	struct v4l2_streamparm p = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
	if (xioctl(v->fd, VIDIOC_G_PARM, &p) < 0)
		return;
	if (want.denominator && (p.parm.capture.capability & V4L2_CAP_TIMEPERFRAME)) {
		p.parm.capture.timeperframe = want;
		xioctl(v->fd, VIDIOC_S_PARM, &p); /* best effort: the device keeps its rate otherwise */
	}
	struct v4l2_fract t = p.parm.capture.timeperframe;
	v->fps = t.numerator ? (double)t.denominator / t.numerator : 0;
}

static int set_format(v4l2_src *v, char *why, size_t n)
{
	int w, h, r;
	pick_size(v, &w, &h);
	struct v4l2_format f = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
	f.fmt.pix.width = (uint32_t)w;
	f.fmt.pix.height = (uint32_t)h;
	f.fmt.pix.pixelformat = sl_pixfmt_fourcc(v->fmt);
	f.fmt.pix.field = V4L2_FIELD_NONE;
	if ((r = xioctl(v->fd, VIDIOC_S_FMT, &f)) < 0) {
		snprintf(why, n, "%s: VIDIOC_S_FMT %dx%d %s: %s", v->path, w, h, sl_pixfmt_name(v->fmt),
			 strerror(-r));
		return r;
	}
	sl_pixfmt got;
	if (sl_pixfmt_from_fourcc(f.fmt.pix.pixelformat, &got) < 0 || got != v->fmt) {
		snprintf(why, n, "%s: driver replaced %s by %.4s", v->path, sl_pixfmt_name(v->fmt),
			 (const char *)&f.fmt.pix.pixelformat);
		return -ENOTSUP;
	}
	v->width = (int)f.fmt.pix.width;
	v->height = (int)f.fmt.pix.height;
	v->stride = f.fmt.pix.bytesperline;
	v->yuv.full_range = f.fmt.pix.quantization == V4L2_QUANTIZATION_FULL_RANGE;
	v->yuv.bt709 =
	    f.fmt.pix.ycbcr_enc == V4L2_YCBCR_ENC_709 ||
	    (f.fmt.pix.ycbcr_enc == V4L2_YCBCR_ENC_DEFAULT && f.fmt.pix.colorspace == V4L2_COLORSPACE_REC709);
	if (v->fmt != SL_PIXFMT_MJPEG &&
	    !sl_pixfmt_frame_size(v->fmt, v->width, v->height, v->stride ? v->stride : 0)) {
		snprintf(why, n, "%s: unusable geometry %dx%d stride %zu", v->path, v->width, v->height,
			 v->stride);
		return -ENOTSUP;
	}
	set_rate(v);
	return sl_framedec_reserve(v->base.dec, v->width, v->height);
}

static int start_streaming(v4l2_src *v, char *why, size_t n)
{
	int r;
	struct v4l2_requestbuffers rb = {.count = (uint32_t)SL_MIN(v->want_bufs, MAX_BUFS),
					 .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					 .memory = V4L2_MEMORY_MMAP};
	if ((r = xioctl(v->fd, VIDIOC_REQBUFS, &rb)) < 0 || rb.count < 2 || rb.count > MAX_BUFS) {
		snprintf(why, n, "%s: VIDIOC_REQBUFS: %s", v->path,
			 r < 0 ? strerror(-r) : "bad buffer count");
		v->nbuf = (int)SL_MIN(rb.count, MAX_BUFS); /* so close() frees them */
		return r < 0 ? r : -ENOMEM;
	}
	v->nbuf = (int)rb.count;
	for (int i = 0; i < v->nbuf; i++) {
		struct v4l2_buffer b = {.index = (uint32_t)i, .type = rb.type, .memory = rb.memory};
		if ((r = xioctl(v->fd, VIDIOC_QUERYBUF, &b)) < 0) {
			snprintf(why, n, "%s: VIDIOC_QUERYBUF: %s", v->path, strerror(-r));
			return r;
		}
		void *p = v4l2_mmap(NULL, b.length, PROT_READ, MAP_SHARED, v->fd, b.m.offset);
		if (p == MAP_FAILED) {
			r = -errno;
			snprintf(why, n, "%s: mmap: %s", v->path, strerror(errno));
			return r;
		}
		v->buf[i].start = p;
		v->buf[i].len = b.length;
		if ((r = xioctl(v->fd, VIDIOC_QBUF, &b)) < 0) {
			snprintf(why, n, "%s: VIDIOC_QBUF: %s", v->path, strerror(-r));
			return r;
		}
	}
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	if ((r = xioctl(v->fd, VIDIOC_STREAMON, &type)) < 0) {
		snprintf(why, n, "%s: VIDIOC_STREAMON: %s", v->path, strerror(-r));
		return r;
	}
	v->streaming = true;
	return 0;
}

static int v4l2_open_dev(sl_backend *b, char *why, size_t n)
{
	v4l2_src *v = (v4l2_src *)b;
	int r;
	v4l2_close_dev(b);
	int fd = open(v->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(why, n, "%s: %s", v->path, strerror(errno));
		return r;
	}
	/* QUERYCAP before libv4l2 sees the fd: it prints to stderr about
	 * anything that is not a camera, and libraries here do not log */
	struct v4l2_capability cap = {0};
	do
		r = ioctl(fd, VIDIOC_QUERYCAP, &cap);
	while (r < 0 && errno == EINTR);
	uint32_t caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
	if (r < 0 || !(caps & V4L2_CAP_VIDEO_CAPTURE) || !(caps & V4L2_CAP_STREAMING)) {
		r = r < 0 ? -errno : -ENOTSUP;
		snprintf(why, n, "%s (%.32s): not a streaming video capture device%s%s", v->path,
			 r == -ENOTSUP ? (const char *)cap.card : "?", r == -ENOTSUP ? "" : ": ",
			 r == -ENOTSUP ? "" : strerror(-r));
		close(fd);
		return r;
	}
	/* v4l2_open() cannot take flags: hand the fd over with conversion off */
	if (v4l2_fd_open(fd, V4L2_DISABLE_CONVERSION) < 0) {
		r = errno ? -errno : -ENODEV;
		snprintf(why, n, "%s: libv4l2 refused the device: %s", v->path, strerror(-r));
		close(fd);
		return r;
	}
	v->fd = fd;
	v->frames = 0;
	if ((r = pick_format(v, why, n)) < 0 || (r = set_format(v, why, n)) < 0 ||
	    (r = start_streaming(v, why, n)) < 0)
		goto fail;
	snprintf(why, n, "%s (%.32s) %dx%d %s @%.4g fps, %d buffers", v->path, (const char *)cap.card,
		 v->width, v->height, sl_pixfmt_name(v->fmt), v->fps, v->nbuf);
	return 0;
fail:
	if (!why[0])
		snprintf(why, n, "%s: %s", v->path, strerror(-r));
	v4l2_close_dev(b);
	return r;
}

static int v4l2_get(sl_backend *b, sl_capture_item *it, char *why, size_t n)
{
	v4l2_src *v = (v4l2_src *)b;
	struct pollfd pfd[2] = {{.fd = v->fd, .events = POLLIN}, {.fd = b->stop_fd, .events = POLLIN}};
	/* a camera that stops delivering is as good as unplugged; the first
	 * frame gets longer (sensors settle exposure after STREAMON) */
	int interval_ms = v->fps > 0 ? (int)(1000 / v->fps) : 100;
	int timeout = SL_MAX(v->frames ? 3000 : 5000, 10 * interval_ms);
	int r = poll(pfd, 2, timeout);
	if (r < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	if (pfd[1].revents)
		return -ECANCELED;
	if (r == 0) {
		snprintf(why, n, "%s: no frame for %d ms", v->path, timeout);
		return -ETIMEDOUT;
	}
	struct v4l2_buffer buf = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP};
	r = xioctl(v->fd, VIDIOC_DQBUF, &buf);
	if (r == -EAGAIN && !(pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL)))
		return -EAGAIN;
	if (r < 0) {
		/* the errno says more than the poll flags, when there is one */
		if (r != -EAGAIN)
			snprintf(why, n, "%s on DQBUF",
				 r == -ENODEV ? "ENODEV"
				 : r == -EIO  ? "EIO"
					      : strerror(-r));
		else
			snprintf(why, n, "POLLERR on %s", v->path);
		return r == -EAGAIN ? -EIO : r;
	}
	if (buf.index >= (uint32_t)v->nbuf) {
		snprintf(why, n, "%s: driver returned buffer %u of %d", v->path, buf.index, v->nbuf);
		return -EIO;
	}
	uint64_t ts;
	if ((buf.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) == V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC &&
	    (buf.timestamp.tv_sec || buf.timestamp.tv_usec))
		ts = (uint64_t)buf.timestamp.tv_sec * 1000000u + (uint64_t)buf.timestamp.tv_usec;
	else
		ts = sl_capture_now_us();
	size_t used = SL_MIN((size_t)buf.bytesused, v->buf[buf.index].len);
	*it = (sl_capture_item){
	    .raw = {.fmt = v->fmt,
		    .width = v->width,
		    .height = v->height,
		    .stride = v->stride,
		    .data = v->buf[buf.index].start,
		    .len = buf.flags & V4L2_BUF_FLAG_ERROR ? 0 : used,
		    .yuv = v->yuv},
	    .dev_sequence = buf.sequence,
	    .timestamp_us = ts,
	    .index = (int)buf.index,
	};
	v->frames++;
	return 0;
}

static void v4l2_put(sl_backend *b, const sl_capture_item *it)
{
	v4l2_src *v = (v4l2_src *)b;
	struct v4l2_buffer buf = {
	    .index = (uint32_t)it->index, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP};
	/* a failure here shows up as an error on the next poll/DQBUF */
	xioctl(v->fd, VIDIOC_QBUF, &buf);
}

static void v4l2_free(sl_backend *b)
{
	v4l2_src *v = (v4l2_src *)b;
	v4l2_close_dev(b);
	free(v->path);
	free(v);
}

static const sl_backend_ops v4l2_ops = {v4l2_open_dev, v4l2_get, v4l2_put, v4l2_close_dev, v4l2_free};

/* Cuts "path?format=F" in place: *forced is F, or -1. */
static int parse(char *path, int *forced, char *why, size_t n)
{
	*forced = -1;
	char *q = strchr(path, '?');
	if (q) {
		sl_pixfmt f;
		*q++ = 0;
		if (strncmp(q, "format=", 7) || sl_pixfmt_from_name(q + 7, &f) < 0) {
			snprintf(why, n, "bad v4l2 option \"%s\" (want ?format=MJPG|YUYV|NV12|RGB3|GREY)", q);
			return -EINVAL;
		}
		*forced = (int)f;
	}
	if (!path[0]) {
		snprintf(why, n, "v4l2: source without a device path");
		return -EINVAL;
	}
	return 0;
}

int sl_backend_v4l2_new(const char *arg, const sl_source_config *cfg, sl_backend **ret, char *why, size_t n)
{
	v4l2_src *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->base.ops = &v4l2_ops;
	v->fd = -1;
	v->forced = -1;
	v->want_w = cfg->width;
	v->want_h = cfg->height;
	v->want_fps = cfg->fps;
	v->want_bufs = cfg->buffers > 0 ? cfg->buffers : 4;
	v->path = strdup(arg);
	if (!v->path) {
		free(v);
		return -ENOMEM;
	}
	int r = parse(v->path, &v->forced, why, n);
	if (r < 0) {
		v4l2_free(&v->base);
		return r;
	}
	*ret = &v->base;
	return 0;
}

int sl_backend_v4l2_check(const char *arg, char *why, size_t n)
{
	char *path = strdup(arg);
	if (!path)
		return -ENOMEM;
	int forced, r = parse(path, &forced, why, n);
	free(path);
	return r;
}
