/* Task heads: turn a model's raw output tensors into answers (top-k classes,
 * detection boxes). Each head is created once per model with all its scratch
 * preallocated, so running it on a frame allocates nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/model.h"

/* ---- Labels --------------------------------------------------------------- */

#define SL_LABELS_MAX_COUNT 100000
#define SL_LABELS_MAX_LINE  512

/* One label per line, line i names class i. "\r\n" endings are accepted; a
 * final line without newline counts, an empty last line does not. Longer
 * lines or more lines than the limits above are rejected (bad input should not
 * make us allocate without bound). */
typedef struct {
	int n;
	char **names; /* n entries, owned */
	char *text;   /* backing storage, owned */
} sl_labels;

int sl_labels_load_file(const char *path, sl_labels **ret, sl_error *err);
int sl_labels_parse(const char *buf, size_t len, sl_labels **ret, sl_error *err);
/* Name of class i, or NULL when out of range. */
const char *sl_labels_get(const sl_labels *l, int i);
sl_labels *sl_labels_free(sl_labels *l); /* NULL-safe, returns NULL */
static inline void sl_labels_freep(sl_labels **l)
{
	sl_labels_free(*l);
}

/* ---- Classification -------------------------------------------------------- */

typedef enum {
	SL_SOFTMAX_AUTO,   /* apply softmax unless the graph already ends in one */
	SL_SOFTMAX_ALWAYS, /* output is logits */
	SL_SOFTMAX_NEVER,  /* output is already probabilities (or raw scores wanted) */
} sl_softmax_mode;

typedef struct {
	int index;
	float score; /* dequantized; a probability unless SL_SOFTMAX_NEVER on logits */
} sl_class_score;

typedef struct sl_classifier sl_classifier;

/* `out` is the output tensor to read: F32, U8 or I8 (per-tensor quantized),
 * any shape whose last dimension holds the classes and whose other dimensions
 * are 1. `apply_softmax` comes from the caller (see sl_classifier_wants_softmax). */
int sl_classifier_new(const sl_tensor *out, bool apply_softmax, sl_classifier **ret, sl_error *err);
sl_classifier *sl_classifier_free(sl_classifier *c);
static inline void sl_classifier_freep(sl_classifier **c)
{
	sl_classifier_free(*c);
}
int sl_classifier_n_classes(const sl_classifier *c);

/* Whether a softmax must be applied to model output `output` (an index into
 * m->outputs) for mode: AUTO looks through RESHAPE/QUANTIZE/DEQUANTIZE for a
 * producing SOFTMAX or LOGISTIC. */
bool sl_classifier_wants_softmax(const sl_model *m, int output, sl_softmax_mode mode);

/* Top k (k <= n_classes; larger k is clamped) of `data`, best first, ties to
 * the lower index. Returns the number written. Allocates nothing. */
int sl_classifier_run(sl_classifier *c, const void *data, sl_class_score *top, int k);
/* All dequantized (and softmaxed) scores of the last run, n_classes floats. */
const float *sl_classifier_scores(const sl_classifier *c);

/* ---- SSD anchors ----------------------------------------------------------- */

#define SL_SSD_MAX_LAYERS  8
#define SL_SSD_MAX_ASPECTS 8

/* Anchor layout as MediaPipe's SsdAnchorsCalculator defines it: consecutive
 * layers with the same stride share one feature map and contribute their
 * anchors to every cell of it. */
typedef struct {
	int input_w, input_h;
	int num_layers;
	int strides[SL_SSD_MAX_LAYERS];
	float min_scale, max_scale;
	float offset_x, offset_y;
	int n_aspect_ratios;
	float aspect_ratios[SL_SSD_MAX_ASPECTS];
	float interpolated_scale_aspect_ratio; /* <= 0: no interpolated anchor */
	bool reduce_boxes_in_lowest_layer;
	bool fixed_anchor_size; /* w = h = 1: the regressor predicts absolute sizes */
} sl_ssd_anchor_options;

typedef struct {
	float x_center, y_center, w, h; /* normalised to the input */
} sl_anchor;

/* BlazeFace short range: 128x128, strides 8,16,16,16 -> 896 anchors. */
void sl_ssd_anchor_options_blazeface(sl_ssd_anchor_options *o);
/* Number of anchors the options produce, or a negative error for invalid
 * options (err says which field). */
int sl_ssd_anchor_count(const sl_ssd_anchor_options *o, sl_error *err);
/* Writes exactly sl_ssd_anchor_count() anchors; cap is the size of `out`. */
int sl_ssd_anchors_generate(const sl_ssd_anchor_options *o, sl_anchor *out, int cap, sl_error *err);

/* ---- SSD decoding and NMS -------------------------------------------------- */

#define SL_DET_MAX_KEYPOINTS 8

typedef enum {
	SL_NMS_HARD,	 /* keep the best box, drop those overlapping it */
	SL_NMS_WEIGHTED, /* MediaPipe: replace the best box by the score-weighted mean of its cluster */
} sl_nms_kind;

typedef struct {
	int num_coords;	      /* values per anchor in the regressor output (16 for BlazeFace) */
	int box_coord_offset; /* first box value */
	bool xywh;	      /* box values are x,y,w,h (BlazeFace); false: y,x,h,w */
	int keypoint_coord_offset;
	int n_keypoints; /* <= SL_DET_MAX_KEYPOINTS */
	float x_scale, y_scale, w_scale, h_scale;
	bool exp_box_size; /* sizes are log-encoded */
	bool sigmoid_scores;
	float score_clip;      /* raw scores clamped to [-clip, clip] before the sigmoid; <= 0: none */
	float score_threshold; /* after sigmoid */
	float iou_threshold;   /* NMS suppression threshold */
	sl_nms_kind nms;
	int max_detections; /* <= 0: as many as anchors */
} sl_ssd_decode_options;

void sl_ssd_decode_options_blazeface(sl_ssd_decode_options *o);

typedef struct {
	int cls;
	float score;
	float x0, y0, x1, y1; /* normalised to the model input, not clipped */
	int n_keypoints;
	float kp[SL_DET_MAX_KEYPOINTS][2]; /* x, y */
} sl_detection;

typedef struct sl_detector sl_detector;

/* boxes: [.., n_anchors, num_coords]; scores: [.., n_anchors, n_classes];
 * each F32 or per-tensor quantized U8/I8. */
int sl_detector_new(const sl_ssd_anchor_options *a, const sl_ssd_decode_options *d, const sl_tensor *boxes,
		    const sl_tensor *scores, sl_detector **ret, sl_error *err);
sl_detector *sl_detector_free(sl_detector *det);
static inline void sl_detector_freep(sl_detector **d)
{
	sl_detector_free(*d);
}
int sl_detector_n_anchors(const sl_detector *det);
const sl_anchor *sl_detector_anchors(const sl_detector *det);

/* Decode, threshold and suppress. Writes up to cap detections, best first, and
 * returns how many. Allocates nothing. */
int sl_detector_run(sl_detector *det, const void *boxes, const void *scores, sl_detection *out, int cap);

/* Intersection over union of two (x0, y0, x1, y1) boxes; 0 when either is empty. */
float sl_box_iou(const float *a, const float *b);

/* ---- What a model's outputs look like -------------------------------------- */

typedef enum {
	SL_HEAD_UNKNOWN,
	SL_HEAD_CLASSIFY,
	SL_HEAD_DETECT_BLAZEFACE,
} sl_head_kind;

typedef struct {
	sl_head_kind kind;
	int boxes_output; /* detection: index into m->outputs */
	int scores_output;
} sl_head_guess;

/* Classifier: one output with non-trivial last dimension only. BlazeFace-like:
 * two outputs [1, 896, 16] and [1, 896, 1], in either order. */
sl_head_guess sl_head_guess_kind(const sl_model *m);
