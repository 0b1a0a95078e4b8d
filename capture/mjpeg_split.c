#include "capture/mjpeg_split.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

static bool is_soi(const uint8_t *buf, size_t len, size_t p)
{
	return p + 2 < len && buf[p] == 0xFF && buf[p + 1] == 0xD8 && buf[p + 2] == 0xFF;
}

size_t sl_mjpeg_frame_end(const uint8_t *buf, size_t len, size_t start, bool *ret_complete)
{
	size_t p = start + 2;
	*ret_complete = false;
	for (;;) {
		if (p >= len)
			return len;
		if (buf[p] != 0xFF)
			return p;
		while (p < len && buf[p] == 0xFF) /* fill bytes */
			p++;
		if (p >= len)
			return len;
		uint8_t m = buf[p++];
		if (m == 0xD9) {
			*ret_complete = true;
			return p;
		}
		if (m == 0xD8) /* a new image before this one ended */
			return p - 2;
		if ((m >= 0xD0 && m <= 0xD7) || m == 0x01)
			continue;
		if (p + 2 > len)
			return len;
		size_t seg = (size_t)buf[p] << 8 | buf[p + 1];
		if (seg < 2)
			return p;
		p += seg;
		if (m != 0xDA)
			continue;
		/* entropy-coded data: runs to the first marker that is not a stuffed
		 * zero or a restart marker */
		while (p + 1 < len &&
		       !(buf[p] == 0xFF && buf[p + 1] != 0 && (buf[p + 1] < 0xD0 || buf[p + 1] > 0xD7)))
			p++;
		if (p + 1 >= len)
			return len;
	}
}

int sl_mjpeg_split(const uint8_t *buf, size_t len, size_t **ret_offsets, size_t *ret_n)
{
	size_t *off = NULL, n = 0, cap = 0, p = 0;
	for (;;) {
		while (p < len && !is_soi(buf, len, p))
			p++;
		if (p >= len)
			break;
		if (n + 1 >= cap) {
			cap = cap ? cap * 2 : 64;
			size_t *o = realloc(off, cap * sizeof(*o));
			if (!o) {
				free(off);
				return -ENOMEM;
			}
			off = o;
		}
		off[n++] = p;
		bool complete;
		size_t end = sl_mjpeg_frame_end(buf, len, p, &complete);
		/* a broken frame may have been walked past the next frame's SOI (a
		 * segment length read from garbage): look for it from the start */
		p = complete ? end : p + 2;
	}
	if (!n) {
		free(off);
		*ret_offsets = NULL;
		*ret_n = 0;
		return 0;
	}
	off[n] = len;
	*ret_offsets = off;
	*ret_n = n;
	return 0;
}
