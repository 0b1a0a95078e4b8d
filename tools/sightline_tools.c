/* Image lists, overlap checks and JSON output for compress and bench. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/sightline/cli.h"
#include "tools/sightline_tools.h"

void sl_tool_filelist_free(sl_tool_filelist *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->path[i]);
	free(l->path);
	free(l->label);
	memset(l, 0, sizeof(*l));
}

void sl_tool_filelist_spread(sl_tool_filelist *l, int n)
{
	if (n <= 0 || n >= l->n)
		return;
	/* Entry i takes list entry floor(i * l->n / n): ascending, so the copy
	 * can run in place, and every entry not taken is freed once. */
	int next = 0;
	for (int i = 0, j = 0; j < l->n; j++) {
		const int want = i < n ? (int)((int64_t)i * l->n / n) : l->n;
		if (j != want) {
			free(l->path[j]);
			continue;
		}
		l->path[next] = l->path[j];
		l->label[next] = l->label[j];
		next++;
		i++;
	}
	l->n = next;
}

static int push(sl_tool_filelist *l, const char *dir, const char *file, int label)
{
	if ((l->n & (l->n - 1)) == 0) {
		size_t cap = l->n ? (size_t)l->n * 2 : 16;
		char **p = realloc(l->path, cap * sizeof(char *));
		if (!p)
			return -ENOMEM;
		l->path = p;
		int *lb = realloc(l->label, cap * sizeof(int));
		if (!lb)
			return -ENOMEM;
		l->label = lb;
	}
	if (asprintf(&l->path[l->n], "%s/%s", dir, file) < 0)
		return -ENOMEM;
	l->label[l->n++] = label;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_image_name(const char *n)
{
	const char *dot = strrchr(n, '.');
	if (!dot)
		return false;
	static const char *const ext[] = {".jpg", ".jpeg", ".bmp", ".ppm", ".pgm"};
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (strcasecmp(dot, ext[i]) == 0)
			return true;
	return false;
}

int sl_tool_list_images(const char *dir, int limit, sl_tool_filelist *ret)
{
	sl_tool_filelist l = {0};
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/labels.txt", dir);
	FILE *f = fopen(path, "r");
	int r = 0;
	if (f) {
		l.labelled = true;
		char line[1024];
		int lineno = 0;
		while ((limit <= 0 || l.n < limit) && fgets(line, sizeof(line), f)) {
			lineno++;
			char name[512];
			int label;
			if (line[strspn(line, " \t\r\n")] == 0)
				continue;
			if (sscanf(line, "%511s %d", name, &label) != 2) {
				sl_cli_error("%s:%d: expected \"file class_index\"", path, lineno);
				r = -EINVAL;
				break;
			}
			if ((r = push(&l, dir, name, label)) < 0)
				break;
		}
		fclose(f);
	} else {
		DIR *d = opendir(dir);
		if (!d) {
			sl_cli_error("%s: %s", dir, strerror(errno));
			return -errno;
		}
		struct dirent *e;
		char **names = NULL;
		int n = 0, cap = 0;
		while ((e = readdir(d))) {
			if (!is_image_name(e->d_name))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				char **nn = realloc(names, sizeof(char *) * (size_t)cap);
				if (!nn)
					break;
				names = nn;
			}
			names[n++] = strdup(e->d_name);
		}
		closedir(d);
		qsort(names, (size_t)n, sizeof(char *), cmp_str);
		for (int i = 0; i < n; i++) {
			if (r >= 0 && names[i] && (limit <= 0 || l.n < limit))
				r = push(&l, dir, names[i], -1);
			free(names[i]);
		}
		free(names);
	}
	if (r < 0) {
		sl_tool_filelist_free(&l);
		return r;
	}
	if (l.n == 0) {
		sl_cli_error("%s: no images", dir);
		sl_tool_filelist_free(&l);
		return -ENOENT;
	}
	*ret = l;
	return 0;
}

int sl_tool_warn_overlap_lists(const sl_tool_filelist *a, const sl_tool_filelist *b, const char *what)
{
	int n = 0;
	struct stat *sb = calloc((size_t)b->n + 1, sizeof(*sb));
	if (!sb)
		return 0;
	for (int j = 0; j < b->n; j++)
		if (stat(b->path[j], &sb[j]) < 0)
			sb[j].st_ino = 0;
	for (int i = 0; i < a->n; i++) {
		struct stat sa;
		if (stat(a->path[i], &sa) < 0)
			continue;
		for (int j = 0; j < b->n; j++)
			if (sb[j].st_ino && sb[j].st_ino == sa.st_ino && sb[j].st_dev == sa.st_dev) {
				if (n < 10)
					sl_cli_warn("%s is used for calibration and for %s (as %s)",
						    a->path[i], what, b->path[j]);
				n++;
				break;
			}
	}
	free(sb);
	if (n)
		sl_cli_warn("%d image(s) are in both the calibration and the %s set: accuracy figures are "
			    "optimistic",
			    n, what);
	return n;
}

int sl_tool_warn_overlap(const sl_tool_filelist *a, const char *dir)
{
	sl_tool_filelist b = {0};
	if (sl_tool_list_images(dir, 0, &b) < 0)
		return 0;
	int n = sl_tool_warn_overlap_lists(a, &b, "evaluation");
	sl_tool_filelist_free(&b);
	return n;
}

int sl_tool_write_json(const char *path, json_object *o)
{
	char tmp[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	if (json_object_to_file_ext(tmp, o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) < 0) {
		sl_cli_error("%s: %s", tmp,
			     json_util_get_last_err() ? json_util_get_last_err() : "write failed");
		return -EIO;
	}
	if (rename(tmp, path) < 0) {
		sl_cli_error("%s: %s", path, strerror(errno));
		unlink(tmp);
		return -errno;
	}
	return 0;
}
