#include "daemon/config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "capture/source.h"
#include "common/macros.h"

bool sl_daemon_backend_valid(const char *s)
{
	return s && (strcmp(s, "xnnpack") == 0 || strcmp(s, "ref") == 0 || strcmp(s, "dense") == 0);
}

int sl_daemon_numerics_parse(const char *s, bool *ret_fast)
{
	if (!s)
		return -EINVAL;
	if (strcmp(s, "tflite") == 0 || strcmp(s, "fast") == 0) {
		*ret_fast = strcmp(s, "fast") == 0;
		return 0;
	}
	return -EINVAL;
}

void sl_daemon_config_defaults(sl_daemon_config *c)
{
	*c = (sl_daemon_config){
	    .auto_mode = false,
	    .target_ms = 100.0,
	    .threads = 1,
	    .model_cache_mb = 256,
	    .result_rate_hz = 10.0,
	    .top_k = 5,
	    .score_threshold = 0.0,
	    .loop = true,
	    .window = 30,
	    .min_samples = 10,
	    .step_up_margin = 0.25,
	    .step_up_hold_ms = 3000,
	    .backoff_ms = 5000,
	    .backoff_max_ms = 120000,
	};
}

void sl_daemon_config_clear(sl_daemon_config *c)
{
	free(c->source);
	free(c->fallback_source);
	free(c->ladder);
	free(c->models_dir);
	free(c->variant);
	free(c->backend);
	free(c->control_group);
	free(c->inject_delay_variant);
	sl_daemon_config_defaults(c);
}

/* Canonical when the path exists (logs and Source read better), as joined otherwise. */
static char *canonical(char *joined)
{
	if (!joined)
		return NULL;
	char *real = realpath(joined, NULL);
	if (!real)
		return joined;
	free(joined);
	return real;
}

static char *join_path(const char *base_dir, const char *path);

/* path relative to base_dir (NULL: the working directory), made absolute. */
static char *resolve(const char *base_dir, const char *path)
{
	return canonical(join_path(base_dir, path));
}

static char *join_path(const char *base_dir, const char *path)
{
	char *out = NULL;
	if (path[0] == '/')
		return strdup(path);
	if (base_dir) {
		if (asprintf(&out, "%s/%s", base_dir, path) < 0)
			return NULL;
		return out;
	}
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	if (asprintf(&out, "%s/%s", cwd, path) < 0)
		return NULL;
	return out;
}

/* "file:REL" sources follow the same rule as other paths. */
static char *resolve_source(const char *base_dir, const char *uri)
{
	if (strncmp(uri, "file:", 5) != 0 || uri[5] == '/' || uri[5] == 0)
		return strdup(uri);
	_cleanup_free_ char *p = resolve(base_dir, uri + 5);
	char *out = NULL;
	if (!p || asprintf(&out, "file:%s", p) < 0)
		return NULL;
	return out;
}

/* A malformed URI is a configuration error, refused here, not a missing
 * camera to retry forever. */
static int source_uri(const char *base_dir, const char *value, char **dst, char *err, size_t errlen)
{
	char why[200];
	int r = sl_source_check_uri(value, why, sizeof(why));
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		snprintf(err, errlen, "%s", why);
		return -EINVAL;
	}
	char *u = resolve_source(base_dir, value);
	if (!u)
		return -ENOMEM;
	free(*dst);
	*dst = u;
	return 0;
}

typedef struct {
	sl_daemon_config *c;
	const char *base_dir;
	const char *path;
	FILE *f;
	int line;      /* lines read so far: inih handles each line before reading the next */
	int err_line;  /* where err was found */
	char err[256]; /* inih reports the line of the first error; we add what and why */
} parse_ctx;

static char *read_line(char *str, int num, void *stream)
{
	parse_ctx *p = stream;
	char *l = fgets(str, num, p->f);
	/* A line longer than inih's buffer comes in pieces; count the last. */
	if (l && strchr(l, '\n'))
		p->line++;
	return l;
}

static int set_str(char **dst, const char *v)
{
	char *s = *v ? strdup(v) : NULL;
	if (*v && !s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static int parse_bool(const char *v, bool *ret)
{
	static const char *const yes[] = {"1", "yes", "true", "on"}, *const no[] = {"0", "no", "false",
										    "off"};
	for (size_t i = 0; i < SL_ARRAY_SIZE(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_int(const char *v, int lo, int hi, int *ret)
{
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno || end == v || *end || x < lo || x > hi)
		return -EINVAL;
	*ret = (int)x;
	return 0;
}

static int parse_double(const char *v, double lo, double hi, double *ret)
{
	char *end;
	errno = 0;
	double x = strtod(v, &end);
	if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi)
		return -EINVAL;
	*ret = x;
	return 0;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	parse_ctx *p = user;
	sl_daemon_config *c = p->c;
	int r = -ENOENT;

#define IS(s, k) (strcasecmp(section, s) == 0 && strcasecmp(name, k) == 0)
	char why[200] = "";
	if (IS("daemon", "Source")) {
		r = source_uri(p->base_dir, value, &c->source, why, sizeof(why));
	} else if (IS("daemon", "FallbackSource")) {
		if (*value) {
			r = source_uri(p->base_dir, value, &c->fallback_source, why, sizeof(why));
		} else {
			free(c->fallback_source);
			c->fallback_source = NULL;
			r = 0;
		}
	} else if (IS("daemon", "Ladder")) {
		free(c->ladder);
		c->ladder = *value ? resolve(p->base_dir, value) : NULL;
		r = 0;
	} else if (IS("daemon", "ModelsDir")) {
		free(c->models_dir);
		c->models_dir = *value ? resolve(p->base_dir, value) : NULL;
		r = 0;
	} else if (IS("daemon", "Variant")) {
		r = set_str(&c->variant, value);
	} else if (IS("daemon", "Mode")) {
		r = 0;
		if (strcasecmp(value, "auto") == 0)
			c->auto_mode = true;
		else if (strcasecmp(value, "manual") == 0)
			c->auto_mode = false;
		else
			r = -EINVAL;
	} else if (IS("daemon", "LatencyTargetMs")) {
		r = parse_double(value, 0.1, 60000, &c->target_ms);
	} else if (IS("daemon", "Backend")) {
		r = sl_daemon_backend_valid(value) ? set_str(&c->backend, value) : -EINVAL;
	} else if (IS("daemon", "Numerics")) {
		r = sl_daemon_numerics_parse(value, &c->fast_numerics);
	} else if (IS("daemon", "Threads")) {
		r = parse_int(value, 0, 64, &c->threads);
	} else if (IS("daemon", "ModelCacheMB")) {
		r = parse_int(value, 0, 1 << 20, &c->model_cache_mb);
	} else if (IS("daemon", "ResultRateHz")) {
		r = parse_double(value, 0, 10000, &c->result_rate_hz);
	} else if (IS("daemon", "TopK")) {
		r = parse_int(value, 1, 10, &c->top_k);
	} else if (IS("daemon", "ScoreThreshold")) {
		r = parse_double(value, 0, 1, &c->score_threshold);
	} else if (IS("daemon", "ControlGroup")) {
		r = set_str(&c->control_group, value);
	} else if (IS("capture", "Fps")) {
		r = parse_int(value, 0, 1000, &c->capture_fps);
	} else if (IS("capture", "Loop")) {
		r = parse_bool(value, &c->loop);
	} else if (IS("auto", "WindowFrames")) {
		r = parse_int(value, 4, 10000, &c->window);
	} else if (IS("auto", "MinFrames")) {
		r = parse_int(value, 2, 10000, &c->min_samples);
	} else if (IS("auto", "StepUpMargin")) {
		r = parse_double(value, 0, 0.9, &c->step_up_margin);
	} else if (IS("auto", "StepUpHoldMs")) {
		r = parse_int(value, 0, 3600000, &c->step_up_hold_ms);
	} else if (IS("auto", "BackoffMs")) {
		r = parse_int(value, 0, 3600000, &c->backoff_ms);
	} else if (IS("auto", "BackoffMaxMs")) {
		r = parse_int(value, 0, 3600000, &c->backoff_max_ms);
	} else if (IS("auto", "MaxAccuracyDrop")) {
		r = parse_double(value, 0, 100, &c->max_accuracy_drop);
	} else if (IS("debug", "InjectDelayMs")) {
		r = parse_int(value, 0, 60000, &c->inject_delay_ms);
	} else if (IS("debug", "InjectDelayVariant")) {
		r = set_str(&c->inject_delay_variant, value);
	}
#undef IS
	if (p->err[0] || r >= 0)
		return r >= 0; /* keep the first error */
	/* A line without its newline (the last one) has not been counted. */
	p->err_line = p->line + (feof(p->f) ? 1 : 0);
	if (r == -ENOENT)
		snprintf(p->err, sizeof(p->err), "unknown key '%s' in section [%s]", name, section);
	else if (r == -EINVAL && why[0])
		snprintf(p->err, sizeof(p->err), "invalid value for %s: %s", name, why);
	else if (r == -EINVAL)
		snprintf(p->err, sizeof(p->err), "invalid value '%s' for %s", value, name);
	else if (r < 0)
		snprintf(p->err, sizeof(p->err), "%s", strerror(-r));
	return r >= 0;
}

int sl_daemon_config_load(const char *path, const sl_daemon_overrides *ov, sl_daemon_config *out,
			  char *errbuf, size_t errlen)
{
	sl_daemon_config c;
	sl_daemon_config_defaults(&c);
	errbuf[0] = 0;

	if (path) {
		_cleanup_free_ char *abs = resolve(NULL, path);
		if (!abs)
			return -ENOMEM;
		_cleanup_free_ char *dir = strdup(abs);
		if (!dir)
			return -ENOMEM;
		char *slash = strrchr(dir, '/');
		if (slash == dir)
			slash[1] = 0;
		else
			*slash = 0;
		parse_ctx p = {.c = &c, .base_dir = dir, .path = path, .f = fopen(abs, "re")};
		if (!p.f) {
			const int e = errno;
			snprintf(errbuf, errlen, "%s: cannot read: %s", path, strerror(e));
			sl_daemon_config_clear(&c);
			return -e;
		}
		int r = ini_parse_stream(read_line, &p, handler, &p);
		fclose(p.f);
		if (r < 0) {
			snprintf(errbuf, errlen, "%s: cannot read: out of memory", path);
			sl_daemon_config_clear(&c);
			return -ENOMEM;
		}
		if (r > 0) {
			/* inih gives the first error's line: ours if we found it there,
			 * else a line it could not parse. */
			snprintf(errbuf, errlen, "%s:%d: %s", path, r,
				 p.err[0] && p.err_line == r ? p.err : "syntax error");
			sl_daemon_config_clear(&c);
			return -EINVAL;
		}
	}

	int r = 0;
	if (ov) {
		if (ov->source) {
			char why[200];
			r = source_uri(NULL, ov->source, &c.source, why, sizeof(why));
			if (r == -EINVAL)
				snprintf(errbuf, errlen, "--source: %s", why);
			free(c.fallback_source); /* an explicit source is meant, not a guess */
			c.fallback_source = NULL;
		}
		if (ov->ladder) {
			free(c.ladder);
			c.ladder = resolve(NULL, ov->ladder);
			r = c.ladder ? r : -ENOMEM;
			/* The configured ModelsDir belongs to the configured ladder: this
			 * one finds its files as its manifest says (or --models-dir). */
			free(c.models_dir);
			c.models_dir = NULL;
		}
		if (ov->models_dir) {
			free(c.models_dir);
			c.models_dir = resolve(NULL, ov->models_dir);
			r = c.models_dir ? r : -ENOMEM;
		}
		if (ov->variant && r >= 0)
			r = set_str(&c.variant, ov->variant);
		if (ov->backend && r >= 0)
			r = set_str(&c.backend, ov->backend);
		if (ov->numerics && r >= 0)
			r = sl_daemon_numerics_parse(ov->numerics, &c.fast_numerics);
		if (ov->target_ms > 0) {
			c.target_ms = ov->target_ms;
			c.auto_mode = true;
		}
	}
	if (r >= 0 && !c.source)
		c.source = strdup("testsrc");
	if (r >= 0 && !c.backend)
		c.backend = strdup("xnnpack");
	if (r >= 0 && !c.control_group)
		c.control_group = strdup("sightline");
	if (r >= 0 && (!c.source || !c.backend || !c.control_group))
		r = -ENOMEM;
	if (r >= 0 && !c.ladder) {
		snprintf(errbuf, errlen, "%s: no ladder given (Ladder= in [daemon] or --ladder)",
			 path ? path : "configuration");
		r = -EINVAL;
	}
	if (r >= 0 && c.min_samples > c.window) {
		snprintf(errbuf, errlen, "%s: [auto] MinFrames=%d exceeds WindowFrames=%d",
			 path ? path : "configuration", c.min_samples, c.window);
		r = -EINVAL;
	}
	if (r < 0) {
		if (!errbuf[0])
			snprintf(errbuf, errlen, "%s", strerror(-r));
		sl_daemon_config_clear(&c);
		return r;
	}
	sl_daemon_config_clear(out);
	*out = c;
	return 0;
}
