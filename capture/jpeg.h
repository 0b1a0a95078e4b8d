/* TurboJPEG 2.1 decoding into caller-owned buffers, with DCT scaling.
 * Internal to capture/. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Largest image any decoder here accepts: bounds the buffers a hostile header
 * can make us allocate. */
#define SL_IMAGE_MAX_DIM    32768
#define SL_IMAGE_MAX_PIXELS (64u << 20)

typedef void *sl_jpeg; /* a tjhandle */

int sl_jpeg_new(sl_jpeg *ret);
void sl_jpeg_free(sl_jpeg j); /* NULL-safe */

/* Size from the headers. -EBADMSG when they do not parse.
 * After a failed header read TurboJPEG 2.1 keeps failing on that handle
 * (its decompressor is not aborted), so every failure below replaces *j by
 * a fresh handle: a corrupt frame costs an allocation, a good one nothing. */
int sl_jpeg_header(sl_jpeg *j, const void *buf, size_t len, int *ret_w, int *ret_h);

/* The smallest DCT scaling factor num/denom (<= 1) not below min_scale,
 * among 1, 1/2, 1/4 and 1/8: libjpeg-turbo's other reduced IDCTs (3/8 ...
 * 7/8) are plain C and slower than a full-size decode (640x480 4:2:2 on
 * Zen 3: 5/8 1.26 ms, 7/8 1.93 ms, 1/1 0.99 ms, 1/2 0.81 ms). */
void sl_jpeg_pick_scale(double min_scale, int *ret_num, int *ret_denom);
/* Scaled size, as TurboJPEG computes it (rounds up). */
int sl_jpeg_scaled(int dim, int num, int denom);

/* Decode at num/denom into packed RGB (stride = width * 3). Any libjpeg
 * warning (truncated data, corrupt entropy data) is an error: a frame with a
 * grey tail must not reach the model. -EBADMSG when corrupt, -EMSGSIZE when
 * the result does not fit in cap bytes. */
int sl_jpeg_decode(sl_jpeg *j, const void *buf, size_t len, int num, int denom, uint8_t *dst, size_t cap,
		   int *ret_w, int *ret_h);

/* Decode at a size already computed from the header (sl_jpeg_scaled), into
 * dst with rows of width * 3: the per-frame path reads the header once. */
int sl_jpeg_decode_at(sl_jpeg *j, const void *buf, size_t len, int width, int height, uint8_t *dst);
