/* The variant ladder: a manifest (JSON) listing variants of one task, most
 * accurate first. Auto mode steps down the list when latency is missed and up
 * when there is room.
 *
 * {
 *   "task": "classification",              // or "detection"
 *   "labels": "imagenet_labels.txt",       // relative to the models folder
 *   "models_dir": "../models",             // relative to the manifest; optional
 *   "preprocessing": { "fit": "crop",      // crop | central | letterbox | stretch (capture/image.h)
 *                      "crop_fraction": 0.875, "resize": "bilinear",   // | area | auto
 *                      "size": [224, 224], "range": [-1, 1] },
 *   "variants": [ { "name": "...", "file": "...", "precision": "int8",
 *                   "sparsity_kind": "dense", "sparsity": 0.0, "top1": 0.70,
 *                   "latency_ms": 8.1, "holdout_agreement": 0.9, "auto": true,
 *                   "labels": ..., "task": ...,
 *                   "range": ... } ]
 * }
 *
 * The models folder is, in order: the configuration's ModelsDir, the
 * manifest's "models_dir", the manifest's own folder. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/image.h"

typedef enum {
	SL_TASK_CLASSIFICATION,
	SL_TASK_DETECTION,
} sl_task;

typedef struct {
	char *name;
	char *file;   /* absolute */
	char *labels; /* absolute, NULL: none */
	char *precision;
	char *sparsity_kind;
	double sparsity;   /* 0..1 */
	double top1;	   /* 0..1, NaN unknown */
	double latency_ms; /* reference latency, NaN unknown */
	/* Share of held-out calibration images on which it gives the master's
	 * top-1 (sightline compress), NaN unknown: a guess at accuracy until
	 * sightline bench measures it. */
	double holdout_agreement;
	/* Whether auto mode may choose it (sl_ladder_plan_auto); manual
	 * selection is always allowed. auto_skip says why not. */
	bool auto_ok;
	const char *auto_skip;	    /* static text, NULL when auto_ok */
	const char *auto_beaten_by; /* name of the variant that beats it, or NULL */
	uint64_t size_bytes;	    /* of the model file, 0 when missing */
	sl_task task;
	/* Real-value range of one pixel for this model's input, [lo, hi] for 0..255;
	 * has_range false: the input's own quantization decides (q = pixel). */
	bool has_range;
	float range_lo, range_hi;
} sl_variant_desc;

typedef struct {
	char *path; /* manifest */
	char *models_dir;
	int n;
	sl_variant_desc *v;
	/* What the source produces: every variant is fed from this frame. */
	sl_preprocess_spec capture_spec;
} sl_ladder;

/* Order the ladder for auto mode, which steps down and up the list.
 * - "auto": false in the manifest keeps a variant out of auto mode.
 * - When every variant has a measured top-1 and latency (sightline bench
 *   writes them), the list is sorted most accurate first, and a variant that
 *   another beats on both (as accurate or more, and as fast or faster) is
 *   left out: stepping down to it would cost accuracy for no speed.
 *   Compressed ladders need this: their variants come in the order they were
 *   built (fp32, int8, sparse-50, ...), which is not an order of speed.
 * - max_drop > 0 (top-1 points): variants more than that below the most
 *   accurate one are left out.
 * - A variant without a measured top-1 whose held-out agreement with the
 *   master (sightline compress) was below half is left out: compression
 *   broke it, and stepping down to it would trade the answers for speed.
 * Variants left out move to the end of the list, in their order. */
void sl_ladder_plan_auto(sl_ladder *l, double max_drop);

/* models_dir_override: NULL or the configuration's ModelsDir. path may be a
 * folder holding manifest.json. Errors name the manifest and the variant. */
int sl_ladder_load(const char *path, const char *models_dir_override, sl_ladder **ret, char *errbuf,
		   size_t errlen);
sl_ladder *sl_ladder_free(sl_ladder *l); /* NULL-safe, returns NULL */
static inline void sl_ladder_freep(sl_ladder **l)
{
	sl_ladder_free(*l);
}
int sl_ladder_find(const sl_ladder *l, const char *name); /* index or -1 */
const char *sl_task_name(sl_task t);
/* Deep copy and release of one descriptor (the loader keeps its own). */
int sl_variant_desc_copy(const sl_variant_desc *src, sl_variant_desc *dst);
void sl_variant_desc_clear(sl_variant_desc *v);
