/* The per-frame path: a raw or encoded frame in, the model's input tensor
 * out. The decode buffer is owned by the decoder and sized once per stream,
 * so steady-state frames allocate nothing of ours. Internal to capture/. */
#pragma once

#include <stdbool.h>

#include "capture/image.h"
#include "capture/jpeg.h"
#include "capture/pixfmt.h"

typedef struct {
	sl_jpeg jpeg;
	uint8_t *rgb;
	size_t cap;
	bool can_grow; /* file sources meet images of any size; cameras do not */
} sl_framedec;

typedef struct {
	sl_image img;		     /* RGB; may point into the raw frame (RGB24) */
	int full_width, full_height; /* before DCT scaling */
	double scale;		     /* img = full * scale */
} sl_decoded;

int sl_framedec_init(sl_framedec *d, bool can_grow);
void sl_framedec_done(sl_framedec *d); /* NULL-safe, idempotent */
/* Make room for an RGB image of w x h (done when a stream starts). */
int sl_framedec_reserve(sl_framedec *d, int width, int height);

/* Decode to RGB; JPEG (MJPEG or a still) is DCT-scaled to the smallest size
 * not below what spec needs. -EBADMSG: corrupt/truncated, -EMSGSIZE: larger
 * than the reserved buffer (fixed-size decoders only). */
int sl_framedec_decode(sl_framedec *d, const sl_raw_frame *f, const sl_preprocess_spec *spec,
		       sl_decoded *ret);

/* Decode and preprocess into dst; the map is in full-size source pixels. */
int sl_framedec_process(sl_framedec *d, const sl_raw_frame *f, const sl_preprocess_spec *spec, void *dst,
			sl_preprocess_map *ret_map, int *ret_src_w, int *ret_src_h);
