#include "capture/jpeg.h"

#include <errno.h>
#include <turbojpeg.h>

int sl_jpeg_new(sl_jpeg *ret)
{
	tjhandle h = tjInitDecompress();
	if (!h)
		return -ENOMEM;
	*ret = h;
	return 0;
}

void sl_jpeg_free(sl_jpeg j)
{
	if (j)
		tjDestroy(j);
}

/* A JPEG starts with SOI and a marker; anything else is garbage and not worth
 * handing to libjpeg. */
static int plausible(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	return buf && len >= 4 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF;
}

static int reset(sl_jpeg *j)
{
	tjhandle h = tjInitDecompress();
	if (!h)
		return -ENOMEM; /* keep the old one: still better than none */
	tjDestroy(*j);
	*j = h;
	return -EBADMSG;
}

int sl_jpeg_header(sl_jpeg *j, const void *buf, size_t len, int *ret_w, int *ret_h)
{
	int w, h, subsamp, cs;
	if (!plausible(buf, len))
		return -EBADMSG;
	if (tjDecompressHeader3(*j, buf, (unsigned long)len, &w, &h, &subsamp, &cs) < 0)
		return reset(j);
	if (w <= 0 || h <= 0 || w > SL_IMAGE_MAX_DIM || h > SL_IMAGE_MAX_DIM ||
	    (uint64_t)w * (uint64_t)h > SL_IMAGE_MAX_PIXELS)
		return -EBADMSG;
	*ret_w = w;
	*ret_h = h;
	return 0;
}

int sl_jpeg_scaled(int dim, int num, int denom)
{
	tjscalingfactor f = {num, denom};
	return TJSCALED(dim, f);
}

void sl_jpeg_pick_scale(double min_scale, int *ret_num, int *ret_denom)
{
	int n = 0;
	tjscalingfactor *f = tjGetScalingFactors(&n);
	int best_num = 1, best_denom = 1;
	for (int i = 0; f && i < n; i++) {
		/* factors above 1 would only upsample: the resize does that better;
		 * only 1/2, 1/4, 1/8 have fast IDCTs (see jpeg.h) */
		if (f[i].num > f[i].denom || f[i].num != 1 || (f[i].denom & (f[i].denom - 1)))
			continue;
		if ((double)f[i].num / f[i].denom + 1e-9 < min_scale)
			continue;
		if ((double)f[i].num * best_denom < (double)best_num * f[i].denom) {
			best_num = f[i].num;
			best_denom = f[i].denom;
		}
	}
	*ret_num = best_num;
	*ret_denom = best_denom;
}

int sl_jpeg_decode(sl_jpeg *j, const void *buf, size_t len, int num, int denom, uint8_t *dst, size_t cap,
		   int *ret_w, int *ret_h)
{
	int w, h, r = sl_jpeg_header(j, buf, len, &w, &h);
	if (r < 0)
		return r;
	int sw = sl_jpeg_scaled(w, num, denom), sh = sl_jpeg_scaled(h, num, denom);
	if ((uint64_t)sw * (uint64_t)sh * 3 > cap)
		return -EMSGSIZE;
	r = sl_jpeg_decode_at(j, buf, len, sw, sh, dst);
	if (r < 0)
		return r;
	*ret_w = sw;
	*ret_h = sh;
	return 0;
}

int sl_jpeg_decode_at(sl_jpeg *j, const void *buf, size_t len, int width, int height, uint8_t *dst)
{
	/* LIMITSCANS: a crafted progressive file must not keep us busy forever */
	if (tjDecompress2(*j, buf, (unsigned long)len, dst, width, width * 3, height, TJPF_RGB,
			  TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) < 0)
		return reset(j);
	return 0;
}
