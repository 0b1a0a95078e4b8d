/* Frame sources behind one interface:
 *  - "v4l2:/dev/videoN[?format=FMT]" (or just "/dev/videoN"): a camera. The
 *    format is negotiated from MJPG, YUYV, NV12, RGB3, GREY in that order
 *    unless FMT forces one; size and rate closest to width/height/fps.
 *  - "file:PATH": a JPEG/BMP/PPM/PGM image, a folder of them (sorted by
 *    name) or an MJPEG stream file (concatenated JPEGs), played at fps
 *    (default 30), looped or once.
 *  - "testsrc[:WxH[@FPS]][?format=FMT]": a synthetic moving pattern
 *    (default 640x480@30, RGB3; FMT YUYV/NV12/GREY/MJPG goes through the same
 *    decoders as a camera).
 *
 * A source runs its own capture thread. It decodes and preprocesses each frame
 * straight into one of a fixed set of slots (latest frame wins: no unbounded
 * queue); the consumer takes the newest complete frame. Nothing on the
 * per-frame path allocates. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/image.h"

typedef enum {
	SL_SOURCE_OPENING,
	SL_SOURCE_STREAMING,
	SL_SOURCE_LOST,
	SL_SOURCE_BACKOFF,
	SL_SOURCE_REOPENING,
	SL_SOURCE_STOPPED, /* ended (file source played once) or stopped */
} sl_source_state;

typedef struct {
	uint64_t captured;	 /* frames received from the device/file */
	uint64_t decoded;	 /* decoded and preprocessed into a slot */
	uint64_t corrupt;	 /* corrupt/truncated frames skipped */
	uint64_t dropped_driver; /* sequence gaps reported by the driver */
	uint64_t dropped_stale;	 /* overwritten before the consumer took them */
	uint64_t reconnects;
} sl_source_stats;

typedef struct {
	const char *uri;
	int width, height, fps;	 /* requested capture size and rate (0: default) */
	int buffers;		 /* V4L2 MMAP buffer count (0: 4) */
	bool loop;		 /* file sources: start again at the end (false: play once, then STOPPED) */
	int backoff_initial_ms;	 /* reconnect backoff (0: 250) */
	int backoff_max_ms;	 /* cap (0: 5000) */
	sl_preprocess_spec spec; /* what each frame is turned into */
	/* Called from the capture thread on every state change, with a reason
	 * ("ENODEV on DQBUF", "/dev/video0 (vivid) 640x480 YUYV @30 fps"...).
	 * Also called once, from the caller's thread, with SL_SOURCE_STOPPED and
	 * the reason when sl_source_new fails (bad URI, missing file...). */
	void (*on_state)(void *userdata, sl_source_state state, const char *reason);
	/* Called from the capture thread for every frame that could not be
	 * decoded (also counted in sl_source_stats.corrupt): err is the negative
	 * errno, what names the file for file sources (NULL for cameras), so
	 * that a user can find the bad image in a folder. May be NULL. */
	void (*on_corrupt)(void *userdata, const char *what, int err);
	void *userdata;
} sl_source_config;

/* A frame handed to the consumer: data is valid until sl_source_release(). */
typedef struct {
	const void *data;      /* preprocessed tensor, spec.width*spec.height*3 elements */
	uint64_t sequence;     /* source sequence number: +1 per frame the device produced,
				  monotonic across reconnects; gaps = dropped frames */
	uint64_t timestamp_us; /* CLOCK_MONOTONIC capture time */
	sl_preprocess_map map; /* model coords -> source image coords */
	int src_width, src_height;
	int slot; /* internal */
} sl_frame;

typedef struct sl_source sl_source;

/* Checks the URI and the spec; file sources are read here so that a bad path
 * fails now. Cameras are opened by the capture thread, which retries with
 * backoff (a camera may be plugged in later). */
int sl_source_new(const sl_source_config *cfg, sl_source **ret);
/* Whether uri is well-formed (scheme, size, rate, format), without opening
 * anything: 0, -EPROTONOSUPPORT (unknown type) or -EINVAL with the reason in
 * why, or -ENOMEM. What it names may still be missing; only sl_source_new or
 * the capture thread find that out. */
int sl_source_check_uri(const char *uri, char *why, size_t n);
int sl_source_start(sl_source *s); /* starts the capture thread */
/* Wait up to timeout_ms (0: do not wait, < 0: forever) for a frame newer than
 * the last one taken. Returns 0 with *ret filled, -ETIMEDOUT, or -EPIPE once
 * the source has stopped for good. A consumer may hold up to two frames at a
 * time without starving the capture thread. */
int sl_source_acquire(sl_source *s, int timeout_ms, sl_frame *ret);
void sl_source_release(sl_source *s, const sl_frame *f);
/* An fd that becomes readable when a new frame is ready (eventfd), for event
 * loops: on POLLIN call sl_source_acquire(s, 0, ...), which drains it. It
 * stays readable once the source has stopped, so the loop sees -EPIPE. */
int sl_source_fd(const sl_source *s);
sl_source_state sl_source_get_state(const sl_source *s);
const char *sl_source_state_name(sl_source_state st);
void sl_source_get_stats(const sl_source *s, sl_source_stats *ret);
sl_source *sl_source_free(sl_source *s); /* stops the thread; NULL-safe; returns NULL */
static inline void sl_source_freep(sl_source **s)
{
	sl_source_free(*s);
}
