#include "daemon/ladder.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macros.h"
#include "dbus/service.h"
#include "kernels/compress/compress.h"

const char *sl_task_name(sl_task t)
{
	return t == SL_TASK_DETECTION ? "detection" : "classification";
}

void sl_variant_desc_clear(sl_variant_desc *v)
{
	free(v->name);
	free(v->file);
	free(v->labels);
	free(v->precision);
	free(v->sparsity_kind);
	*v = (sl_variant_desc){0};
}

static int dup_opt(const char *s, char **ret)
{
	*ret = s ? strdup(s) : NULL;
	return s && !*ret ? -ENOMEM : 0;
}

int sl_variant_desc_copy(const sl_variant_desc *src, sl_variant_desc *dst)
{
	sl_variant_desc v = *src;
	v.name = v.file = v.labels = v.precision = v.sparsity_kind = NULL;
	int r = dup_opt(src->name, &v.name);
	r = r < 0 ? r : dup_opt(src->file, &v.file);
	r = r < 0 ? r : dup_opt(src->labels, &v.labels);
	r = r < 0 ? r : dup_opt(src->precision, &v.precision);
	r = r < 0 ? r : dup_opt(src->sparsity_kind, &v.sparsity_kind);
	if (r < 0) {
		sl_variant_desc_clear(&v);
		return r;
	}
	*dst = v;
	return 0;
}

sl_ladder *sl_ladder_free(sl_ladder *l)
{
	if (!l)
		return NULL;
	for (int i = 0; i < l->n; i++)
		sl_variant_desc_clear(&l->v[i]);
	free(l->v);
	free(l->path);
	free(l->models_dir);
	free(l);
	return NULL;
}

int sl_ladder_find(const sl_ladder *l, const char *name)
{
	for (int i = 0; l && name && i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return i;
	return -1;
}

typedef struct {
	const char *manifest;
	char *err;
	size_t errlen;
} ctx;

__attribute__((format(printf, 2, 3))) static int fail(ctx *c, const char *fmt, ...)
{
	int n = snprintf(c->err, c->errlen, "%s: ", c->manifest);
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < c->errlen)
		vsnprintf(c->err + n, c->errlen - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Canonical when the file exists (for logs), as joined otherwise. */
static char *join(const char *dir, const char *p)
{
	char *out = NULL;
	if (p[0] == '/')
		out = strdup(p);
	else if (asprintf(&out, "%s/%s", dir, p) < 0)
		return NULL;
	char *real = out ? realpath(out, NULL) : NULL;
	if (real) {
		free(out);
		return real;
	}
	return out;
}

/* Optional typed members: absent is fine, a wrong type is an error. */
static int get_string(ctx *c, json_object *o, const char *key, const char *where, const char **ret)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return fail(c, "%s: \"%s\" must be a string", where, key);
	*ret = json_object_get_string(v);
	return 1;
}

static int get_number(ctx *c, json_object *o, const char *key, const char *where, double lo, double hi,
		      double *ret)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
		return fail(c, "%s: \"%s\" must be a number", where, key);
	double x = json_object_get_double(v);
	if (!isfinite(x) || x < lo || x > hi)
		return fail(c, "%s: \"%s\" = %g is outside [%g, %g]", where, key, x, lo, hi);
	*ret = x;
	return 1;
}

static int get_range(ctx *c, json_object *o, const char *where, bool *has, float *lo, float *hi)
{
	json_object *v;
	if (!json_object_object_get_ex(o, "range", &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) != 2)
		return fail(c, "%s: \"range\" must be [low, high]", where);
	double x[2];
	for (int i = 0; i < 2; i++) {
		json_object *e = json_object_array_get_idx(v, i);
		if (!json_object_is_type(e, json_type_double) && !json_object_is_type(e, json_type_int))
			return fail(c, "%s: \"range\" must hold two numbers", where);
		x[i] = json_object_get_double(e);
	}
	if (!isfinite(x[0]) || !isfinite(x[1]) || x[0] == x[1] || fabs(x[0]) > 1e6 || fabs(x[1]) > 1e6)
		return fail(c, "%s: \"range\" [%g, %g] is not a usable range", where, x[0], x[1]);
	*has = true;
	*lo = (float)x[0];
	*hi = (float)x[1];
	return 1;
}

static int parse_task(ctx *c, const char *s, const char *where, sl_task *ret)
{
	if (strcmp(s, "classification") == 0)
		*ret = SL_TASK_CLASSIFICATION;
	else if (strcmp(s, "detection") == 0)
		*ret = SL_TASK_DETECTION;
	else
		return fail(c, "%s: unknown task \"%s\" (classification or detection)", where, s);
	return 0;
}

static int parse_preprocessing(ctx *c, json_object *root, sl_preprocess_spec *spec, bool *has_range,
			       float *lo, float *hi)
{
	*spec = (sl_preprocess_spec){
	    .width = 224,
	    .height = 224,
	    .fit = SL_FIT_CROP,
	    .crop_fraction = 0.875f,
	    .resize = SL_RESIZE_BILINEAR,
	    .type = SL_PIXEL_U8,
	    .float_scale = 1,
	    .float_offset = 0,
	    .q_scale = 1,
	    .q_zero_point = 0,
	};
	json_object *p;
	if (!json_object_object_get_ex(root, "preprocessing", &p) || json_object_is_type(p, json_type_null))
		return 0;
	if (!json_object_is_type(p, json_type_object))
		return fail(c, "\"preprocessing\" must be an object");

	const char *s = NULL;
	int r = get_string(c, p, "fit", "preprocessing", &s);
	if (r < 0)
		return r;
	if (r > 0) {
		if (strcmp(s, "crop") == 0)
			spec->fit = SL_FIT_CROP;
		else if (strcmp(s, "letterbox") == 0)
			spec->fit = SL_FIT_LETTERBOX;
		else if (strcmp(s, "stretch") == 0)
			spec->fit = SL_FIT_STRETCH;
		else if (strcmp(s, "central") == 0)
			spec->fit = SL_FIT_CENTRAL;
		else
			return fail(
			    c, "preprocessing: unknown fit \"%s\" (crop, central, letterbox, stretch)", s);
	}
	double x = spec->crop_fraction;
	if ((r = get_number(c, p, "crop_fraction", "preprocessing", 0.1, 1, &x)) < 0)
		return r;
	spec->crop_fraction = (float)x;
	if ((r = get_string(c, p, "resize", "preprocessing", &s)) < 0)
		return r;
	if (r > 0) {
		if (strcmp(s, "bilinear") == 0)
			spec->resize = SL_RESIZE_BILINEAR;
		else if (strcmp(s, "area") == 0)
			spec->resize = SL_RESIZE_AREA;
		else if (strcmp(s, "auto") == 0)
			spec->resize = SL_RESIZE_AUTO;
		else
			return fail(c, "preprocessing: unknown resize \"%s\" (bilinear, area, auto)", s);
	}
	x = 0;
	if ((r = get_number(c, p, "pad_value", "preprocessing", 0, 255, &x)) < 0)
		return r;
	spec->pad_value = (uint8_t)x;
	json_object *size;
	if (json_object_object_get_ex(p, "size", &size)) {
		if (!json_object_is_type(size, json_type_array) || json_object_array_length(size) != 2)
			return fail(c, "preprocessing: \"size\" must be [width, height]");
		int wh[2];
		for (int i = 0; i < 2; i++) {
			json_object *e = json_object_array_get_idx(size, i);
			int64_t n = json_object_is_type(e, json_type_int) ? json_object_get_int64(e) : -1;
			if (n < 8 || n > 4096)
				return fail(c,
					    "preprocessing: \"size\" entries must be integers in [8, 4096]");
			wh[i] = (int)n;
		}
		spec->width = wh[0];
		spec->height = wh[1];
	}
	return get_range(c, p, "preprocessing", has_range, lo, hi);
}

static int parse_variant(ctx *c, json_object *o, int idx, const char *models_dir, const sl_variant_desc *dflt,
			 sl_variant_desc *v)
{
	char where[96];
	snprintf(where, sizeof(where), "variants[%d]", idx);
	if (!json_object_is_type(o, json_type_object))
		return fail(c, "%s must be an object", where);

	const char *name = NULL, *file = NULL, *s = NULL;
	int r = get_string(c, o, "name", where, &name);
	if (r <= 0)
		return r < 0 ? r : fail(c, "%s: missing \"name\"", where);
	sl_dbus_error derr = {0};
	if (sl_dbus_validate_variant_name(name, &derr) < 0)
		return fail(c, "%s: %s", where, derr.message);
	snprintf(where, sizeof(where), "variant '%s'", name);
	if ((r = get_string(c, o, "file", where, &file)) <= 0)
		return r < 0 ? r : fail(c, "%s: missing \"file\"", where);

	*v = (sl_variant_desc){
	    .sparsity = 0,
	    .top1 = NAN,
	    .latency_ms = NAN,
	    .holdout_agreement = NAN,
	    .task = dflt->task,
	    .has_range = dflt->has_range,
	    .range_lo = dflt->range_lo,
	    .range_hi = dflt->range_hi,
	};
	v->name = strdup(name);
	v->file = join(models_dir, file);
	if (!v->name || !v->file)
		return -ENOMEM;

	const char *labels = dflt->labels;
	if ((r = get_string(c, o, "labels", where, &s)) < 0)
		return r;
	if (r > 0)
		labels = s;
	if (labels && !(v->labels = join(models_dir, labels)))
		return -ENOMEM;

	const char *precision = "unknown", *kind = "dense";
	if ((r = get_string(c, o, "precision", where, &precision)) < 0)
		return r;
	if ((r = get_string(c, o, "sparsity_kind", where, &kind)) < 0)
		return r;
	v->precision = strdup(precision);
	v->sparsity_kind = strdup(kind);
	if (!v->precision || !v->sparsity_kind)
		return -ENOMEM;
	if ((r = get_number(c, o, "sparsity", where, 0, 1, &v->sparsity)) < 0)
		return r;
	if ((r = get_number(c, o, "top1", where, 0, 1, &v->top1)) < 0)
		return r;
	if ((r = get_number(c, o, "latency_ms", where, 0, 1e6, &v->latency_ms)) < 0)
		return r;
	if ((r = get_number(c, o, "holdout_agreement", where, 0, 1, &v->holdout_agreement)) < 0)
		return r;
	v->auto_ok = true;
	json_object *a;
	if (json_object_object_get_ex(o, "auto", &a) && !json_object_is_type(a, json_type_null)) {
		if (!json_object_is_type(a, json_type_boolean))
			return fail(c, "%s: \"auto\" must be true or false", where);
		if (!json_object_get_boolean(a)) {
			v->auto_ok = false;
			v->auto_skip = "\"auto\": false in the manifest";
		}
	}
	if ((r = get_string(c, o, "task", where, &s)) < 0)
		return r;
	if (r > 0 && (r = parse_task(c, s, where, &v->task)) < 0)
		return r;
	if ((r = get_range(c, o, where, &v->has_range, &v->range_lo, &v->range_hi)) < 0)
		return r;

	/* A missing file is not fatal here: it fails when (and only if) loaded,
	 * leaving the running variant serving. */
	struct stat st;
	if (stat(v->file, &st) == 0)
		v->size_bytes = (uint64_t)st.st_size;
	return 0;
}

static char *dirname_of(const char *path)
{
	char *d = strdup(path);
	if (!d)
		return NULL;
	char *slash = strrchr(d, '/');
	if (!slash) {
		free(d);
		return strdup(".");
	}
	if (slash == d)
		slash[1] = 0;
	else
		*slash = 0;
	return d;
}

int sl_ladder_load(const char *path, const char *models_dir_override, sl_ladder **ret, char *errbuf,
		   size_t errlen)
{
	char manifest[PATH_MAX];
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(manifest, sizeof(manifest), "%s/manifest.json", path);
	else
		snprintf(manifest, sizeof(manifest), "%s", path);
	ctx c = {.manifest = manifest, .err = errbuf, .errlen = errlen};
	errbuf[0] = 0;

	if (access(manifest, R_OK) < 0) {
		const int e = errno;
		fail(&c, "cannot read: %s", strerror(e));
		return -e;
	}
	json_object *root = json_object_from_file(manifest);
	if (!root) {
		/* json-c's message ends in a newline and repeats the path. */
		char why[256];
		snprintf(why, sizeof(why), "%s", json_util_get_last_err() ? json_util_get_last_err() : "?");
		why[strcspn(why, "\n")] = 0;
		return fail(&c, "not valid JSON: %s", why);
	}

	int r = 0;
	sl_ladder *l = calloc(1, sizeof(*l));
	_cleanup_free_ char *mdir = dirname_of(manifest);
	if (!l || !mdir || !(l->path = strdup(manifest))) {
		r = -ENOMEM;
		goto out;
	}
	if (!json_object_is_type(root, json_type_object)) {
		r = fail(&c, "top level must be an object");
		goto out;
	}

	const char *s = NULL;
	if (models_dir_override)
		l->models_dir = strdup(models_dir_override);
	else if ((r = get_string(&c, root, "models_dir", "manifest", &s)) > 0)
		l->models_dir = join(mdir, s);
	else if (r == 0)
		l->models_dir = strdup(mdir);
	if (r < 0)
		goto out;
	if (!l->models_dir) {
		r = -ENOMEM;
		goto out;
	}

	sl_variant_desc dflt = {.task = SL_TASK_CLASSIFICATION};
	if ((r = get_string(&c, root, "task", "manifest", &s)) < 0)
		goto out;
	if (r > 0 && (r = parse_task(&c, s, "manifest", &dflt.task)) < 0)
		goto out;
	const char *labels = NULL;
	if ((r = get_string(&c, root, "labels", "manifest", &labels)) < 0)
		goto out;
	dflt.labels = (char *)labels;
	if ((r = parse_preprocessing(&c, root, &l->capture_spec, &dflt.has_range, &dflt.range_lo,
				     &dflt.range_hi)) < 0)
		goto out;

	json_object *arr;
	if (!json_object_object_get_ex(root, "variants", &arr) ||
	    !json_object_is_type(arr, json_type_array) || json_object_array_length(arr) == 0) {
		r = fail(&c, "\"variants\" must be a non-empty array");
		goto out;
	}
	size_t n = json_object_array_length(arr);
	if (n > 64) {
		r = fail(&c, "%zu variants; at most 64 are supported", n);
		goto out;
	}
	l->v = calloc(n, sizeof(*l->v));
	if (!l->v) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		r = parse_variant(&c, json_object_array_get_idx(arr, i), (int)i, l->models_dir, &dflt,
				  &l->v[i]);
		l->n = (int)i + 1;
		if (r < 0)
			goto out;
		if (sl_ladder_find(l, l->v[i].name) != (int)i) {
			r = fail(&c, "variant name '%s' appears twice", l->v[i].name);
			goto out;
		}
	}
	r = 0;
out:
	json_object_put(root);
	if (r < 0) {
		if (!errbuf[0])
			fail(&c, "%s", strerror(-r));
		sl_ladder_free(l);
		return r;
	}
	*ret = l;
	return 0;
}

static bool measured(const sl_variant_desc *v)
{
	return isfinite(v->top1) && isfinite(v->latency_ms) && v->latency_ms > 0;
}

/* Stable: insertion sort, the ladder has at most 64 entries. */
static void sort_variants(sl_ladder *l, bool (*before)(const sl_variant_desc *, const sl_variant_desc *))
{
	for (int i = 1; i < l->n; i++)
		for (int j = i; j > 0 && before(&l->v[j], &l->v[j - 1]); j--) {
			sl_variant_desc t = l->v[j];
			l->v[j] = l->v[j - 1];
			l->v[j - 1] = t;
		}
}

static bool more_accurate(const sl_variant_desc *a, const sl_variant_desc *b)
{
	return a->top1 > b->top1 || (a->top1 == b->top1 && a->latency_ms < b->latency_ms);
}

static bool auto_first(const sl_variant_desc *a, const sl_variant_desc *b)
{
	return a->auto_ok && !b->auto_ok;
}

void sl_ladder_plan_auto(sl_ladder *l, double max_drop)
{
	bool all = true;
	double best = NAN;
	for (int i = 0; i < l->n; i++) {
		all = all && measured(&l->v[i]);
		if (isfinite(l->v[i].top1) && !(l->v[i].top1 <= best))
			best = l->v[i].top1;
	}
	if (all)
		sort_variants(l, more_accurate);
	for (int i = 0; i < l->n; i++) {
		sl_variant_desc *v = &l->v[i];
		v->auto_beaten_by = NULL;
		if (!v->auto_ok)
			continue;
		if (max_drop > 0 && isfinite(v->top1) && v->top1 < best - max_drop / 100.0) {
			v->auto_ok = false;
			v->auto_skip =
			    "top-1 more than MaxAccuracyDrop points below the most accurate variant";
			continue;
		}
		if (!isfinite(v->top1) && v->holdout_agreement < SL_COMPRESS_BROKEN_AGREEMENT) {
			v->auto_ok = false;
			v->auto_skip = "not benchmarked, and it gave the master's top-1 on under half of the "
				       "held-out images when compressed (sightline bench measures it)";
			continue;
		}
		/* Sorted: only earlier entries can be as accurate. */
		for (int j = 0; all && j < i; j++)
			if (l->v[j].auto_ok && l->v[j].latency_ms <= v->latency_ms) {
				v->auto_ok = false;
				v->auto_skip =
				    "another variant is as accurate or more, and as fast or faster";
				v->auto_beaten_by = l->v[j].name;
				break;
			}
	}
	sort_variants(l, auto_first);
}
