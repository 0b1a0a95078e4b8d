#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture/image.h"
#include "capture/imgfmt.h"
#include "common/macros.h"

sl_imgfmt sl_imgfmt_detect(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	if (!buf || len < 3)
		return SL_IMGFMT_UNKNOWN;
	if (p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
		return SL_IMGFMT_JPEG;
	if (p[0] == 'B' && p[1] == 'M')
		return SL_IMGFMT_BMP;
	if (p[0] == 'P' && p[1] >= '1' && p[1] <= '7')
		return SL_IMGFMT_PNM;
	return SL_IMGFMT_UNKNOWN;
}

int sl_imgfmt_probe(sl_jpeg *j, const void *buf, size_t len, int *ret_w, int *ret_h)
{
	switch (sl_imgfmt_detect(buf, len)) {
	case SL_IMGFMT_JPEG:
		return sl_jpeg_header(j, buf, len, ret_w, ret_h);
	case SL_IMGFMT_BMP:
		return sl_bmp_probe(buf, len, ret_w, ret_h);
	case SL_IMGFMT_PNM:
		return sl_pnm_probe(buf, len, ret_w, ret_h);
	default:
		return -EBADMSG;
	}
}

int sl_imgfmt_decode(sl_jpeg *j, const void *buf, size_t len, int num, int denom, uint8_t *dst, size_t cap,
		     int *ret_w, int *ret_h, size_t *ret_need)
{
	int w, h, r;
	sl_imgfmt f = sl_imgfmt_detect(buf, len);
	r = sl_imgfmt_probe(j, buf, len, &w, &h);
	if (r < 0)
		return r;
	if (f == SL_IMGFMT_JPEG) {
		w = sl_jpeg_scaled(w, num, denom);
		h = sl_jpeg_scaled(h, num, denom);
	}
	/* probe bounded w * h, so this cannot overflow */
	size_t need = (size_t)w * (size_t)h * 3;
	if (ret_need)
		*ret_need = need;
	if (need > cap)
		return -EMSGSIZE;
	if (f == SL_IMGFMT_JPEG)
		r = sl_jpeg_decode(j, buf, len, num, denom, dst, cap, &w, &h);
	else if (f == SL_IMGFMT_BMP)
		r = sl_bmp_decode(buf, len, dst, (size_t)w * 3);
	else
		r = sl_pnm_decode(buf, len, dst, (size_t)w * 3);
	if (r < 0)
		return r;
	*ret_w = w;
	*ret_h = h;
	return 0;
}

int sl_image_load_mem(const void *buf, size_t len, sl_image *ret)
{
	sl_jpeg j = NULL;
	int w, h, r;
	if (!ret)
		return -EINVAL;
	if (sl_imgfmt_detect(buf, len) == SL_IMGFMT_JPEG && (r = sl_jpeg_new(&j)) < 0)
		return r;
	r = sl_imgfmt_probe(&j, buf, len, &w, &h);
	if (r >= 0) {
		size_t need = (size_t)w * (size_t)h * 3;
		_cleanup_free_ uint8_t *data = malloc(need);
		r = data ? sl_imgfmt_decode(&j, buf, len, 1, 1, data, need, &w, &h, NULL) : -ENOMEM;
		if (r >= 0)
			*ret = (sl_image){
			    .width = w, .height = h, .stride = (size_t)w * 3, .data = SL_TAKE_PTR(data)};
	}
	sl_jpeg_free(j);
	return r;
}

int sl_imgfmt_read_file(const char *path, uint8_t **buf, size_t *cap, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	if ((uint64_t)st.st_size > SL_IMAGE_MAX_FILE)
		return -EFBIG;
	/* read() rather than mmap: a file truncated under us must not SIGBUS */
	size_t want = (size_t)st.st_size + 1, len = 0;
	if (want > *cap) {
		uint8_t *n = realloc(*buf, want);
		if (!n)
			return -ENOMEM;
		*buf = n;
		*cap = want;
	}
	for (;;) {
		ssize_t k = read(fd, *buf + len, *cap - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		len += (size_t)k;
		if (len == *cap) /* grew while we read: take what fits */
			break;
	}
	*ret_len = len;
	return 0;
}

int sl_image_load_file(const char *path, sl_image *ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t cap = 0, len = 0;
	int r = sl_imgfmt_read_file(path, &buf, &cap, &len);
	if (r < 0)
		return r;
	return sl_image_load_mem(buf, len, ret);
}

void sl_image_free(sl_image *img)
{
	if (!img)
		return;
	free(img->data);
	memset(img, 0, sizeof(*img));
}
