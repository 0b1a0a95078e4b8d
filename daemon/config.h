/* sightlined configuration: an INI file (inih) plus command-line overrides.
 * Relative paths in the file are taken relative to the file's folder, so a
 * configuration and its ladder can move together. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct {
	/* [daemon] */
	char *source;	       /* URI; "file:" paths made absolute */
	char *fallback_source; /* tried when `source` cannot be opened; NULL: none */
	char *ladder;	       /* manifest file, or a folder holding manifest.json */
	char *models_dir;      /* base of relative model/labels paths; NULL: manifest's choice */
	char *variant;	       /* variant to start with; NULL: the first */
	bool auto_mode;
	double target_ms;
	char *backend;	    /* "xnnpack", "ref" or "dense" */
	bool fast_numerics; /* Numerics=fast */
	int threads;
	int model_cache_mb;    /* parsed models kept for fast swaps back, by file size */
	double result_rate_hz; /* ResultReady limit, 0 = every result */
	int top_k;
	double score_threshold;
	char *control_group;
	/* [capture] */
	int capture_fps;
	bool loop;
	/* [auto] */
	int window;
	int min_samples;
	double step_up_margin; /* fraction of the target */
	int step_up_hold_ms;
	int backoff_ms, backoff_max_ms;
	double max_accuracy_drop; /* top-1 points; 0: no limit (sl_ladder_plan_auto) */
	/* [debug]: a synthetic slow-down to exercise the latency controller */
	int inject_delay_ms;
	char *inject_delay_variant; /* NULL: every variant */
} sl_daemon_config;

/* Command-line values that win over the file; NULL/negative = not given. */
typedef struct {
	const char *config_path;
	const char *source;
	const char *ladder;
	const char *models_dir;
	const char *variant;
	const char *backend;
	const char *numerics; /* "tflite" | "fast" */
	double target_ms;     /* < 0: not given; > 0: start in auto mode */
} sl_daemon_overrides;

void sl_daemon_config_defaults(sl_daemon_config *c);
bool sl_daemon_backend_valid(const char *s);
/* "tflite" (default) or "fast": 0, else -EINVAL. */
int sl_daemon_numerics_parse(const char *s, bool *ret_fast);
/* Reads path (NULL: defaults only) then applies overrides. On failure fills
 * errbuf with the file, line and key at fault and leaves *c untouched. */
int sl_daemon_config_load(const char *path, const sl_daemon_overrides *ov, sl_daemon_config *c, char *errbuf,
			  size_t errlen);
void sl_daemon_config_clear(sl_daemon_config *c);
