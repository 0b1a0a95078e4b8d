/* Label files: one class name per line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/macros.h"
#include "kernels/heads/heads.h"
#include "kernels/heads/internal.h"

/* A label file is tiny; anything bigger than this is not a label file. */
#define LABELS_MAX_FILE ((size_t)SL_LABELS_MAX_COUNT * SL_LABELS_MAX_LINE)

sl_labels *sl_labels_free(sl_labels *l)
{
	if (!l)
		return NULL;
	free(l->names);
	free(l->text);
	free(l);
	return NULL;
}

int sl_labels_parse(const char *buf, size_t len, sl_labels **ret, sl_error *err)
{
	if (!buf && len)
		return -EINVAL;
	if (len > LABELS_MAX_FILE) {
		sl_heads_err(err, "label data too large (%zu bytes)", len);
		return -EFBIG;
	}

	/* Count and check lines before allocating per line. */
	size_t n = 0, line_len = 0;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			n++;
			line_len = 0;
			continue;
		}
		if (buf[i] == '\0') {
			sl_heads_err(err, "line %zu: NUL byte in label data", n + 1);
			return -SL_E_FORMAT;
		}
		if (++line_len > SL_LABELS_MAX_LINE) {
			sl_heads_err(err, "line %zu: longer than %d bytes", n + 1, SL_LABELS_MAX_LINE);
			return -SL_E_FORMAT;
		}
	}
	if (line_len > 0)
		n++; /* last line without newline */
	if (n == 0) {
		sl_heads_err(err, "no labels");
		return -SL_E_FORMAT;
	}
	if (n > SL_LABELS_MAX_COUNT) {
		sl_heads_err(err, "more than %d labels", SL_LABELS_MAX_COUNT);
		return -SL_E_FORMAT;
	}

	_cleanup_(sl_labels_freep) sl_labels *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->text = malloc(len + 1);
	l->names = calloc(n, sizeof(*l->names));
	if (!l->text || !l->names)
		return -ENOMEM;
	memcpy(l->text, buf, len);
	l->text[len] = '\0';

	char *p = l->text, *end = l->text + len;
	for (size_t i = 0; i < n; i++) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *e = nl ? nl : end;
		*e = '\0';
		if (e > p && e[-1] == '\r')
			e[-1] = '\0';
		l->names[i] = p;
		p = nl ? nl + 1 : end;
	}
	l->n = (int)n;
	*ret = SL_TAKE_PTR(l);
	return 0;
}

static void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

int sl_labels_load_file(const char *path, sl_labels **ret, sl_error *err)
{
	_cleanup_(fclosep) FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		sl_heads_err(err, "%s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fileno(f), &st) < 0) {
		int e = errno;
		sl_heads_err(err, "%s: %s", path, strerror(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		sl_heads_err(err, "%s: not a regular file", path);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > LABELS_MAX_FILE) {
		sl_heads_err(err, "%s: too large for a label file (%lld bytes)", path, (long long)st.st_size);
		return -EFBIG;
	}
	size_t size = (size_t)st.st_size;
	_cleanup_free_ char *buf = malloc(size ? size : 1);
	if (!buf)
		return -ENOMEM;
	if (size && fread(buf, 1, size, f) != size) {
		sl_heads_err(err, "%s: short read", path);
		return -EIO;
	}
	sl_error e2 = {{0}};
	int r = sl_labels_parse(buf, size, ret, &e2);
	if (r < 0)
		sl_heads_err(err, "%s: %s", path, e2.msg);
	return r;
}

const char *sl_labels_get(const sl_labels *l, int i)
{
	if (!l || i < 0 || i >= l->n)
		return NULL;
	return l->names[i];
}
