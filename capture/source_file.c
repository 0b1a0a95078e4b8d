/* "file:PATH": a still image (JPEG, BMP, PPM/PGM), a folder of them (sorted
 * by name) or an MJPEG stream file (concatenated JPEGs, one frame each),
 * played at cfg->fps (default 30), looped or once. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "capture/imgfmt.h"
#include "capture/mjpeg_split.h"
#include "capture/source_internal.h"
#include "common/macros.h"

typedef struct {
	sl_backend base;
	char *path;
	bool is_dir, loop;
	int fps;
	char **names; /* folder: image file names */
	size_t n_names;
	uint8_t *buf; /* whole stream file, or the current folder image */
	size_t cap, len;
	size_t *offsets; /* stream: frame starts, with the file end appended */
	size_t n_frames;
	size_t pos; /* next frame or file */
	uint64_t emitted;
	sl_pacer pacer;
	char *full; /* scratch path */
	size_t full_cap;
} file_src;

static bool is_image_name(const char *n)
{
	static const char *const ext[] = {".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".pnm", ".mjpg", ".mjpeg"};
	size_t l = strlen(n);
	for (size_t i = 0; i < SL_ARRAY_SIZE(ext); i++) {
		size_t e = strlen(ext[i]);
		if (l > e && !strcasecmp(n + l - e, ext[i]))
			return true;
	}
	return false;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int scan_dir(file_src *f, char *why, size_t n)
{
	DIR *d = opendir(f->path);
	if (!d) {
		int r = -errno;
		snprintf(why, n, "%s: %s", f->path, strerror(-r));
		return r;
	}
	size_t cap = 0, longest = 0;
	struct dirent *e;
	int r = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !is_image_name(e->d_name))
			continue;
		if (f->n_names == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(f->names, cap * sizeof(*nn));
			if (!nn) {
				r = -ENOMEM;
				break;
			}
			f->names = nn;
		}
		if (!(f->names[f->n_names] = strdup(e->d_name))) {
			r = -ENOMEM;
			break;
		}
		longest = SL_MAX(longest, strlen(e->d_name));
		f->n_names++;
	}
	closedir(d);
	if (r < 0)
		return r;
	if (!f->n_names) {
		snprintf(why, n, "%s: no .jpg/.bmp/.ppm/.pgm images in folder", f->path);
		return -ENOENT;
	}
	qsort(f->names, f->n_names, sizeof(*f->names), cmp_names);
	f->full_cap = strlen(f->path) + longest + 2;
	f->full = malloc(f->full_cap);
	return f->full ? 0 : -ENOMEM;
}

static int load_file(file_src *f, char *why, size_t n)
{
	int r = sl_imgfmt_read_file(f->path, &f->buf, &f->cap, &f->len);
	if (r < 0) {
		snprintf(why, n, "%s: %s", f->path, r == -EFBIG ? "file too large" : strerror(-r));
		return r;
	}
	sl_imgfmt fmt = sl_imgfmt_detect(f->buf, f->len);
	if (fmt == SL_IMGFMT_UNKNOWN) {
		snprintf(why, n, "%s: not a JPEG, BMP or PPM/PGM file", f->path);
		return -EBADMSG;
	}
	if (fmt != SL_IMGFMT_JPEG) {
		f->offsets = malloc(2 * sizeof(*f->offsets));
		if (!f->offsets)
			return -ENOMEM;
		f->offsets[0] = 0;
		f->offsets[1] = f->len;
		f->n_frames = 1;
		return 0;
	}
	r = sl_mjpeg_split(f->buf, f->len, &f->offsets, &f->n_frames);
	if (r < 0 || !f->n_frames) {
		snprintf(why, n, "%s: no JPEG frame found", f->path);
		return r < 0 ? r : -EBADMSG;
	}
	return 0;
}

static int fs_open(sl_backend *b, char *why, size_t n)
{
	file_src *f = (file_src *)b;
	sl_pacer_init(&f->pacer, f->fps);
	f->pos = 0;
	if (f->is_dir)
		snprintf(why, n, "%s: %zu images @%d fps%s", f->path, f->n_names, f->fps,
			 f->loop ? ", looped" : "");
	else
		snprintf(why, n, "%s: %zu frame%s @%d fps%s", f->path, f->n_frames,
			 f->n_frames == 1 ? "" : "s", f->fps, f->loop ? ", looped" : "");
	return 0;
}

static int fs_get(sl_backend *b, sl_capture_item *it, char *why, size_t n)
{
	file_src *f = (file_src *)b;
	size_t count = f->is_dir ? f->n_names : f->n_frames;
	(void)why;
	(void)n;
	if (f->pos >= count) {
		if (!f->loop)
			return -EPIPE;
		f->pos = 0;
	}
	int r = sl_pacer_wait(&f->pacer, b->stop_fd);
	if (r < 0)
		return r;
	*it = (sl_capture_item){.raw = {.fmt = SL_PIXFMT_IMAGE}, .dev_sequence = f->emitted++};
	if (f->is_dir) {
		snprintf(f->full, f->full_cap, "%s/%s", f->path, f->names[f->pos]);
		/* an unreadable file is one bad frame, not a lost source */
		if (sl_imgfmt_read_file(f->full, &f->buf, &f->cap, &f->len) < 0)
			f->len = 0;
		it->raw.data = f->buf;
		it->raw.len = f->len;
		it->name = f->full;
	} else {
		it->raw.data = f->buf + f->offsets[f->pos];
		it->raw.len = f->offsets[f->pos + 1] - f->offsets[f->pos];
		it->name = f->path;
	}
	f->pos++;
	it->timestamp_us = sl_capture_now_us();
	return 0;
}

static void fs_put(sl_backend *b, const sl_capture_item *it)
{
	(void)b;
	(void)it;
}

static void fs_close(sl_backend *b)
{
	(void)b;
}

static void fs_free(sl_backend *b)
{
	file_src *f = (file_src *)b;
	for (size_t i = 0; i < f->n_names; i++)
		free(f->names[i]);
	free(f->names);
	free(f->buf);
	free(f->offsets);
	free(f->full);
	free(f->path);
	free(f);
}

static const sl_backend_ops file_ops = {fs_open, fs_get, fs_put, fs_close, fs_free};

int sl_backend_file_new(const char *arg, const sl_source_config *cfg, sl_backend **ret, char *why, size_t n)
{
	struct stat st;
	if (!*arg) {
		snprintf(why, n, "file: source without a path");
		return -EINVAL;
	}
	if (stat(arg, &st) < 0) {
		int r = -errno;
		snprintf(why, n, "%s: %s", arg, strerror(errno));
		return r;
	}
	file_src *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->base.ops = &file_ops;
	f->base.open_is_final = true;
	f->loop = cfg->loop;
	f->fps = cfg->fps > 0 ? cfg->fps : 30;
	f->is_dir = S_ISDIR(st.st_mode);
	f->path = strdup(arg);
	int r = f->path ? 0 : -ENOMEM;
	/* everything is read up front so that a bad path fails here, where the
	 * caller can still report it, rather than in the capture thread */
	if (r >= 0)
		r = f->is_dir ? scan_dir(f, why, n) : load_file(f, why, n);
	if (r < 0) {
		fs_free(&f->base);
		return r;
	}
	*ret = &f->base;
	return 0;
}
