/* Still-image containers decoded into caller-owned RGB buffers, so that the
 * file source can reuse one buffer. Internal to capture/. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "capture/jpeg.h"

typedef enum {
	SL_IMGFMT_UNKNOWN,
	SL_IMGFMT_JPEG,
	SL_IMGFMT_BMP,
	SL_IMGFMT_PNM,
} sl_imgfmt;

sl_imgfmt sl_imgfmt_detect(const void *buf, size_t len);

/* probe: size from the header, checked against SL_IMAGE_MAX_* and against the
 * data actually present. decode: RGB rows of `stride` bytes (>= width * 3).
 * -EBADMSG for malformed input, -ENOTSUP for valid but unsupported variants. */
int sl_bmp_probe(const uint8_t *buf, size_t len, int *ret_w, int *ret_h);
int sl_bmp_decode(const uint8_t *buf, size_t len, uint8_t *dst, size_t stride);
int sl_pnm_probe(const uint8_t *buf, size_t len, int *ret_w, int *ret_h);
int sl_pnm_decode(const uint8_t *buf, size_t len, uint8_t *dst, size_t stride);

/* Any of the above; JPEG at DCT scale num/denom (BMP/PNM ignore the scale).
 * Writes packed RGB (stride = width * 3) into dst; -EMSGSIZE if it needs more
 * than cap bytes, with *ret_need set so the caller can grow its buffer. */
int sl_imgfmt_decode(sl_jpeg *j, const void *buf, size_t len, int num, int denom, uint8_t *dst, size_t cap,
		     int *ret_w, int *ret_h, size_t *ret_need);
/* Read a whole regular file into *buf, growing it (never shrinking) as
 * needed, so that a caller cycling through files reaches a steady state
 * without allocating. Files above SL_IMAGE_MAX_FILE are refused (-EFBIG). */
#define SL_IMAGE_MAX_FILE (256u << 20)
int sl_imgfmt_read_file(const char *path, uint8_t **buf, size_t *cap, size_t *ret_len);
/* Size at full scale, for any of the formats. */
int sl_imgfmt_probe(sl_jpeg *j, const void *buf, size_t len, int *ret_w, int *ret_h);
