/* Splitting an MJPEG stream file (concatenated JPEGs) into frames. Internal
 * to capture/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Walks the marker segments (so an EXIF thumbnail's EOI does not end a frame)
 * and resynchronises on the next SOI after garbage or a broken frame. *ret_offsets (malloc'd)
 * gets n + 1 entries: frame i is [off[i], off[i + 1]); a truncated frame stays
 * a frame, for the decoder to reject and count. */
int sl_mjpeg_split(const uint8_t *buf, size_t len, size_t **ret_offsets, size_t *ret_n);

/* End of the JPEG starting at start: just past its EOI (*ret_complete set),
 * else where its structure breaks or len when it is truncated. */
size_t sl_mjpeg_frame_end(const uint8_t *buf, size_t len, size_t start, bool *ret_complete);
