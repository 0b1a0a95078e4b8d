/* Binary Netpbm: P6 (RGB) and P5 (grey), maxval 1..65535, comments allowed. */
#include <errno.h>

#include "capture/imgfmt.h"

typedef struct {
	int width, height, channels;
	unsigned maxval;
	size_t offset;
} pnm_info;

static int is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Skip whitespace and #-comments, then read a decimal number. */
static int number(const uint8_t *buf, size_t len, size_t *pos, unsigned *ret)
{
	size_t p = *pos;
	for (;;) {
		while (p < len && is_space(buf[p]))
			p++;
		if (p < len && buf[p] == '#') {
			while (p < len && buf[p] != '\n' && buf[p] != '\r')
				p++;
			continue;
		}
		break;
	}
	if (p >= len || buf[p] < '0' || buf[p] > '9')
		return -EBADMSG;
	uint64_t v = 0;
	while (p < len && buf[p] >= '0' && buf[p] <= '9') {
		v = v * 10 + (buf[p++] - '0');
		if (v > 0xFFFFFFFFu)
			return -EBADMSG;
	}
	*ret = (unsigned)v;
	*pos = p;
	return 0;
}

static int parse(const uint8_t *buf, size_t len, pnm_info *pi)
{
	unsigned w, h, maxval;
	size_t pos = 2;
	if (len < 3 || buf[0] != 'P')
		return -EBADMSG;
	if (buf[1] == '6')
		pi->channels = 3;
	else if (buf[1] == '5')
		pi->channels = 1;
	else
		return buf[1] >= '1' && buf[1] <= '7' ? -ENOTSUP : -EBADMSG; /* ASCII, bitmap, PAM */
	if (number(buf, len, &pos, &w) < 0 || number(buf, len, &pos, &h) < 0 ||
	    number(buf, len, &pos, &maxval) < 0)
		return -EBADMSG;
	/* exactly one whitespace byte separates the header from the samples */
	if (pos >= len || !is_space(buf[pos]))
		return -EBADMSG;
	pos++;
	if (!w || !h || w > SL_IMAGE_MAX_DIM || h > SL_IMAGE_MAX_DIM ||
	    (uint64_t)w * h > SL_IMAGE_MAX_PIXELS || !maxval || maxval > 65535)
		return -EBADMSG;
	size_t bytes = (size_t)w * h * (size_t)pi->channels * (maxval > 255 ? 2 : 1);
	if (bytes > len - pos)
		return -EBADMSG;
	pi->width = (int)w;
	pi->height = (int)h;
	pi->maxval = maxval;
	pi->offset = pos;
	return 0;
}

int sl_pnm_probe(const uint8_t *buf, size_t len, int *ret_w, int *ret_h)
{
	pnm_info pi;
	int r = parse(buf, len, &pi);
	if (r < 0)
		return r;
	*ret_w = pi.width;
	*ret_h = pi.height;
	return 0;
}

int sl_pnm_decode(const uint8_t *buf, size_t len, uint8_t *dst, size_t stride)
{
	pnm_info pi;
	int r = parse(buf, len, &pi);
	if (r < 0)
		return r;
	const uint8_t *s = buf + pi.offset;
	int wide = pi.maxval > 255;
	unsigned m = pi.maxval;
	for (int y = 0; y < pi.height; y++) {
		uint8_t *d = dst + (size_t)y * stride;
		for (int x = 0; x < pi.width; x++, d += 3) {
			for (int c = 0; c < pi.channels; c++) {
				unsigned v = wide ? (unsigned)(s[0] << 8 | s[1]) : s[0];
				s += wide ? 2 : 1;
				if (v > m)
					v = m;
				d[c] = (uint8_t)(m == 255 ? v : (v * 255 + m / 2) / m);
			}
			if (pi.channels == 1)
				d[1] = d[2] = d[0];
		}
	}
	return 0;
}
