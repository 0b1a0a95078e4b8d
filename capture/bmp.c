/* Windows BMP: BITMAPINFOHEADER and its V4/V5 extensions; 24-bit, 32-bit
 * (BI_RGB or BI_BITFIELDS) and 8-bit palette images, bottom-up or top-down. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "capture/imgfmt.h"

enum { BI_RGB = 0, BI_BITFIELDS = 3 };

typedef struct {
	int width, height; /* height > 0 */
	bool top_down;
	int bpp;
	size_t offset, stride;
	const uint8_t *palette;
	unsigned ncolors;
	uint32_t mask[3]; /* r, g, b for 32-bit */
} bmp_info;

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static int parse(const uint8_t *buf, size_t len, bmp_info *bi)
{
	if (len < 14 + 40 || buf[0] != 'B' || buf[1] != 'M')
		return -EBADMSG;
	uint32_t hsize = le32(buf + 14);
	if (hsize < 40 || hsize > 1024 || 14 + (size_t)hsize > len)
		return hsize == 12 ? -ENOTSUP : -EBADMSG; /* OS/2 core header: not seen in practice */
	int32_t w = (int32_t)le32(buf + 18), h = (int32_t)le32(buf + 22);
	uint16_t planes = le16(buf + 26), bpp = le16(buf + 28);
	uint32_t comp = le32(buf + 30), used = le32(buf + 46);
	memset(bi, 0, sizeof(*bi));
	if (planes != 1 || w <= 0 || h == 0 || h == INT32_MIN)
		return -EBADMSG;
	bi->top_down = h < 0;
	bi->width = w;
	bi->height = h < 0 ? -h : h;
	bi->bpp = bpp;
	if (bi->width > SL_IMAGE_MAX_DIM || bi->height > SL_IMAGE_MAX_DIM ||
	    (uint64_t)bi->width * (uint64_t)bi->height > SL_IMAGE_MAX_PIXELS)
		return -EBADMSG;
	if (bpp == 8 && comp == BI_RGB) {
		size_t pal = 14 + (size_t)hsize;
		bi->ncolors = used ? used : 256;
		if (bi->ncolors > 256 || pal + 4 * (size_t)bi->ncolors > len)
			return -EBADMSG;
		bi->palette = buf + pal;
	} else if (bpp == 24 && comp == BI_RGB) {
	} else if (bpp == 32 && comp == BI_RGB) {
		bi->mask[0] = 0xFF0000;
		bi->mask[1] = 0xFF00;
		bi->mask[2] = 0xFF;
	} else if (bpp == 32 && comp == BI_BITFIELDS) {
		/* the masks follow the 40-byte header (inside it for V4/V5) */
		if (14 + 40 + 12 > len)
			return -EBADMSG;
		for (int i = 0; i < 3; i++) {
			bi->mask[i] = le32(buf + 54 + 4 * i);
			if (!bi->mask[i])
				return -EBADMSG;
		}
	} else {
		return -ENOTSUP; /* RLE, 1/4/16-bit, JPEG/PNG inside BMP */
	}
	bi->offset = le32(buf + 10);
	bi->stride = ((size_t)bi->width * bpp + 31) / 32 * 4;
	/* the last row's padding is often missing from real files */
	size_t need = bi->offset + bi->stride * (size_t)(bi->height - 1) + ((size_t)bi->width * bpp + 7) / 8;
	if (bi->offset < 14 + (size_t)hsize || need > len)
		return -EBADMSG;
	return 0;
}

int sl_bmp_probe(const uint8_t *buf, size_t len, int *ret_w, int *ret_h)
{
	bmp_info bi;
	int r = parse(buf, len, &bi);
	if (r < 0)
		return r;
	*ret_w = bi.width;
	*ret_h = bi.height;
	return 0;
}

/* An n-bit field of a 32-bit pixel scaled to 8 bits. */
static uint8_t field(uint32_t px, uint32_t mask)
{
	int shift = __builtin_ctz(mask);
	uint32_t max = mask >> shift, v = (px & mask) >> shift;
	return (uint8_t)((v * 255 + max / 2) / max);
}

int sl_bmp_decode(const uint8_t *buf, size_t len, uint8_t *dst, size_t stride)
{
	bmp_info bi;
	int r = parse(buf, len, &bi);
	if (r < 0)
		return r;
	for (int y = 0; y < bi.height; y++) {
		int fy = bi.top_down ? y : bi.height - 1 - y;
		const uint8_t *s = buf + bi.offset + (size_t)fy * bi.stride;
		uint8_t *d = dst + (size_t)y * stride;
		for (int x = 0; x < bi.width; x++, d += 3) {
			switch (bi.bpp) {
			case 8: {
				unsigned i = s[x];
				if (i < bi.ncolors) {
					const uint8_t *c = bi.palette + 4 * i; /* B G R reserved */
					d[0] = c[2];
					d[1] = c[1];
					d[2] = c[0];
				} else {
					d[0] = d[1] = d[2] = 0;
				}
				break;
			}
			case 24:
				d[0] = s[3 * x + 2];
				d[1] = s[3 * x + 1];
				d[2] = s[3 * x];
				break;
			default: {
				uint32_t px = le32(s + 4 * x);
				for (int k = 0; k < 3; k++)
					d[k] = field(px, bi.mask[k]);
			}
			}
		}
	}
	return 0;
}
