/* The variant ladder: a manifest (JSON) listing variants of one task, most
 * accurate first. Auto mode steps down the list when latency is missed and up
 * when there is room.
 *
 * {
 *   "task": "classification",              // or "detection"
 *   "labels": "imagenet_labels.txt",       // relative to the models folder
 *   "models_dir": "../models",             // relative to the manifest; optional
 *   "preprocessing": { "fit": "crop", "crop_fraction": 0.875, "resize": "bilinear",
 *                      "size": [224, 224], "range": [-1, 1] },
 *   "variants": [ { "name": "...", "file": "...", "precision": "int8",
 *                   "sparsity_kind": "dense", "sparsity": 0.0, "top1": 0.70,
 *                   "latency_ms": 8.1, "labels": ..., "task": ..., "range": ... } ]
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
	double sparsity;     /* 0..1 */
	double top1;	     /* 0..1, NaN unknown */
	double latency_ms;   /* reference latency, NaN unknown */
	uint64_t size_bytes; /* of the model file, 0 when missing */
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
