/* SSD-style detection head: box decoding against anchors, sigmoid scores,
 * thresholding and (weighted) non-maximum suppression. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/heads/heads.h"
#include "kernels/heads/internal.h"

struct sl_detector {
	sl_ssd_decode_options d;
	sl_heads_reader rb, rs;
	int n_anchors, n_classes;
	sl_anchor *anchors;
	/* Per-frame scratch, indexed by anchor unless noted. */
	int *order; /* candidate anchor indices, best first */
	float *score;
	int *cls;
	float *box; /* 4 per anchor */
	float *kp;  /* 2 * n_keypoints per anchor */
	uint8_t *done;
};

void sl_ssd_decode_options_blazeface(sl_ssd_decode_options *o)
{
	*o = (sl_ssd_decode_options){
	    .num_coords = 16,
	    .box_coord_offset = 0,
	    .xywh = true,
	    .keypoint_coord_offset = 4,
	    .n_keypoints = 6,
	    .x_scale = 128.0f,
	    .y_scale = 128.0f,
	    .w_scale = 128.0f,
	    .h_scale = 128.0f,
	    .exp_box_size = false,
	    .sigmoid_scores = true,
	    .score_clip = 100.0f,
	    .score_threshold = 0.5f,
	    .iou_threshold = 0.3f,
	    .nms = SL_NMS_WEIGHTED,
	    .max_detections = 0,
	};
}

sl_detector *sl_detector_free(sl_detector *det)
{
	if (!det)
		return NULL;
	free(det->anchors);
	free(det->order);
	free(det->score);
	free(det->cls);
	free(det->box);
	free(det->kp);
	free(det->done);
	free(det);
	return NULL;
}

static int check_decode(const sl_ssd_decode_options *d, sl_error *err)
{
	if (d->num_coords < 4 || d->box_coord_offset < 0 || d->box_coord_offset + 4 > d->num_coords) {
		sl_heads_err(err, "detector: box values %d..%d outside %d coordinates", d->box_coord_offset,
			     d->box_coord_offset + 3, d->num_coords);
		return -EINVAL;
	}
	if (d->n_keypoints < 0 || d->n_keypoints > SL_DET_MAX_KEYPOINTS) {
		sl_heads_err(err, "detector: %d keypoints (at most %d)", d->n_keypoints,
			     SL_DET_MAX_KEYPOINTS);
		return -EINVAL;
	}
	if (d->n_keypoints > 0 &&
	    (d->keypoint_coord_offset < 0 || d->keypoint_coord_offset + 2 * d->n_keypoints > d->num_coords)) {
		sl_heads_err(err, "detector: keypoints from %d overflow %d coordinates",
			     d->keypoint_coord_offset, d->num_coords);
		return -EINVAL;
	}
	if (!(d->x_scale != 0.0f && d->y_scale != 0.0f && d->w_scale != 0.0f && d->h_scale != 0.0f)) {
		sl_heads_err(err, "detector: x/y/w/h scales must be non-zero");
		return -EINVAL;
	}
	if (!(d->iou_threshold >= 0.0f && d->iou_threshold <= 1.0f)) {
		sl_heads_err(err, "detector: IoU threshold %g not in [0, 1]", (double)d->iou_threshold);
		return -EINVAL;
	}
	return 0;
}

int sl_detector_new(const sl_ssd_anchor_options *a, const sl_ssd_decode_options *d, const sl_tensor *boxes,
		    const sl_tensor *scores, sl_detector **ret, sl_error *err)
{
	if (!a || !d || !boxes || !scores || !ret)
		return -EINVAL;
	int r = check_decode(d, err);
	if (r < 0)
		return r;
	const int n = sl_ssd_anchor_count(a, err);
	if (n < 0)
		return n;
	if (n == 0) {
		sl_heads_err(err, "detector: options produce no anchors");
		return -EINVAL;
	}

	const int64_t nb = sl_tensor_numel(boxes), ns = sl_tensor_numel(scores);
	if (boxes->rank < 1 || nb != (int64_t)n * d->num_coords ||
	    boxes->dims[boxes->rank - 1] != d->num_coords) {
		sl_heads_err(err, "detector: box output must be [.., %d, %d] (%lld elements)", n,
			     d->num_coords, (long long)nb);
		return -SL_E_SHAPE;
	}
	if (scores->rank < 1 || ns < n || ns % n != 0 || scores->dims[scores->rank - 1] != ns / n) {
		sl_heads_err(err, "detector: score output must be [.., %d, classes] (%lld elements)", n,
			     (long long)ns);
		return -SL_E_SHAPE;
	}

	_cleanup_(sl_detector_freep) sl_detector *det = calloc(1, sizeof(*det));
	if (!det)
		return -ENOMEM;
	det->d = *d;
	det->n_anchors = n;
	det->n_classes = (int)(ns / n);
	r = sl_heads_reader_init(&det->rb, boxes, "detector boxes", err);
	if (r < 0)
		return r;
	r = sl_heads_reader_init(&det->rs, scores, "detector scores", err);
	if (r < 0)
		return r;

	const size_t un = (size_t)n;
	det->anchors = calloc(un, sizeof(*det->anchors));
	det->order = calloc(un, sizeof(*det->order));
	det->score = calloc(un, sizeof(*det->score));
	det->cls = calloc(un, sizeof(*det->cls));
	det->box = calloc(un * 4, sizeof(*det->box));
	det->kp = calloc(un * (size_t)(2 * SL_MAX(d->n_keypoints, 1)), sizeof(*det->kp));
	det->done = calloc(un, 1);
	if (!det->anchors || !det->order || !det->score || !det->cls || !det->box || !det->kp || !det->done)
		return -ENOMEM;
	r = sl_ssd_anchors_generate(a, det->anchors, n, err);
	if (r < 0)
		return r;
	*ret = SL_TAKE_PTR(det);
	return 0;
}

int sl_detector_n_anchors(const sl_detector *det)
{
	return det->n_anchors;
}

const sl_anchor *sl_detector_anchors(const sl_detector *det)
{
	return det->anchors;
}

float sl_box_iou(const float *a, const float *b)
{
	const float aa = (a[2] - a[0]) * (a[3] - a[1]);
	const float ab = (b[2] - b[0]) * (b[3] - b[1]);
	if (!(aa > 0.0f) || !(ab > 0.0f))
		return 0.0f;
	const float w = SL_MIN(a[2], b[2]) - SL_MAX(a[0], b[0]);
	const float h = SL_MIN(a[3], b[3]) - SL_MAX(a[1], b[1]);
	if (!(w > 0.0f) || !(h > 0.0f))
		return 0.0f;
	const float inter = w * h;
	return inter / (aa + ab - inter);
}

/* Candidate order: higher score first, ties to the lower anchor index, so
 * results do not depend on the sort algorithm. */
static bool before(const sl_detector *det, int a, int b)
{
	return det->score[a] > det->score[b] || (det->score[a] == det->score[b] && a < b);
}

/* Heapsort: in place and allocation-free (glibc's qsort may malloc). */
static void sift_down(const sl_detector *det, int *v, int start, int end)
{
	int root = start;
	for (;;) {
		int child = 2 * root + 1;
		if (child >= end)
			return;
		/* Max-heap on "comes later" so that the sorted result is best first. */
		if (child + 1 < end && before(det, v[child], v[child + 1]))
			child++;
		if (!before(det, v[root], v[child]))
			return;
		int t = v[root];
		v[root] = v[child];
		v[child] = t;
		root = child;
	}
}

static void sort_candidates(const sl_detector *det, int *v, int n)
{
	/* Build a heap whose top is the worst candidate, then move it to the end. */
	for (int i = n / 2 - 1; i >= 0; i--)
		sift_down(det, v, i, n);
	for (int end = n - 1; end > 0; end--) {
		int t = v[0];
		v[0] = v[end];
		v[end] = t;
		sift_down(det, v, 0, end);
	}
}

static float score_of(const sl_detector *det, const void *scores, int anchor, int *ret_cls)
{
	float best = -INFINITY;
	int best_c = 0;
	for (int c = 0; c < det->n_classes; c++) {
		float s =
		    sl_heads_read(&det->rs, scores, (size_t)anchor * (size_t)det->n_classes + (size_t)c);
		if (det->d.score_clip > 0.0f)
			s = s < -det->d.score_clip ? -det->d.score_clip
						   : (s > det->d.score_clip ? det->d.score_clip : s);
		if (det->d.sigmoid_scores)
			s = 1.0f / (1.0f + expf(-s));
		if (s > best) {
			best = s;
			best_c = c;
		}
	}
	*ret_cls = best_c;
	return best;
}

/* False when the box is not finite (garbage output): such anchors are dropped. */
static bool decode(sl_detector *det, const void *boxes, int i)
{
	const sl_ssd_decode_options *d = &det->d;
	const sl_anchor *a = &det->anchors[i];
	const size_t base = (size_t)i * (size_t)d->num_coords;
	const size_t bo = base + (size_t)d->box_coord_offset;
	const int ix = d->xywh ? 0 : 1, iy = d->xywh ? 1 : 0;
	const float rx = sl_heads_read(&det->rb, boxes, bo + (size_t)ix);
	const float ry = sl_heads_read(&det->rb, boxes, bo + (size_t)iy);
	const float rw = sl_heads_read(&det->rb, boxes, bo + 2 + (size_t)ix);
	const float rh = sl_heads_read(&det->rb, boxes, bo + 2 + (size_t)iy);

	const float xc = rx / d->x_scale * a->w + a->x_center;
	const float yc = ry / d->y_scale * a->h + a->y_center;
	float w = rw / d->w_scale, h = rh / d->h_scale;
	if (d->exp_box_size) {
		w = expf(w);
		h = expf(h);
	}
	w *= a->w;
	h *= a->h;
	float *b = &det->box[(size_t)i * 4];
	b[0] = xc - w * 0.5f;
	b[1] = yc - h * 0.5f;
	b[2] = xc + w * 0.5f;
	b[3] = yc + h * 0.5f;

	float *kp = &det->kp[(size_t)i * 2 * (size_t)SL_MAX(d->n_keypoints, 1)];
	for (int k = 0; k < d->n_keypoints; k++) {
		const size_t ko = base + (size_t)d->keypoint_coord_offset + 2 * (size_t)k;
		kp[2 * k] = sl_heads_read(&det->rb, boxes, ko + (size_t)ix) / d->x_scale * a->w + a->x_center;
		kp[2 * k + 1] =
		    sl_heads_read(&det->rb, boxes, ko + (size_t)iy) / d->y_scale * a->h + a->y_center;
	}
	return isfinite(b[0]) && isfinite(b[1]) && isfinite(b[2]) && isfinite(b[3]);
}

int sl_detector_run(sl_detector *det, const void *boxes, const void *scores, sl_detection *out, int cap)
{
	const sl_ssd_decode_options *d = &det->d;
	const int nkp = d->n_keypoints, kstride = 2 * SL_MAX(nkp, 1);
	int limit = cap;
	if (d->max_detections > 0 && d->max_detections < limit)
		limit = d->max_detections;
	if (limit <= 0)
		return 0;

	int n = 0;
	for (int i = 0; i < det->n_anchors; i++) {
		int c;
		const float s = score_of(det, scores, i, &c);
		/* The negated test also drops NaN scores. */
		if (!(s >= d->score_threshold))
			continue;
		det->score[i] = s;
		det->cls[i] = c;
		det->done[i] = 0;
		if (decode(det, boxes, i))
			det->order[n++] = i;
	}
	sort_candidates(det, det->order, n);

	int found = 0;
	for (int oi = 0; oi < n && found < limit; oi++) {
		const int top = det->order[oi];
		if (det->done[top])
			continue;
		const float *tb = &det->box[(size_t)top * 4];
		double wsum = 0.0, acc[4] = {0}, kacc[2 * SL_DET_MAX_KEYPOINTS] = {0};
		for (int oj = oi; oj < n; oj++) {
			const int j = det->order[oj];
			if (det->done[j])
				continue;
			if (j != top && !(sl_box_iou(tb, &det->box[(size_t)j * 4]) > d->iou_threshold))
				continue;
			det->done[j] = 1;
			if (d->nms != SL_NMS_WEIGHTED)
				continue;
			const double w = det->score[j];
			wsum += w;
			for (int q = 0; q < 4; q++)
				acc[q] += w * det->box[(size_t)j * 4 + (size_t)q];
			for (int q = 0; q < 2 * nkp; q++)
				kacc[q] += w * det->kp[(size_t)j * (size_t)kstride + (size_t)q];
		}
		sl_detection *o = &out[found++];
		memset(o, 0, sizeof(*o));
		o->cls = det->cls[top];
		o->score = det->score[top];
		o->n_keypoints = nkp;
		const float *tk = &det->kp[(size_t)top * (size_t)kstride];
		if (d->nms == SL_NMS_WEIGHTED && wsum > 0.0) {
			o->x0 = (float)(acc[0] / wsum);
			o->y0 = (float)(acc[1] / wsum);
			o->x1 = (float)(acc[2] / wsum);
			o->y1 = (float)(acc[3] / wsum);
			for (int q = 0; q < 2 * nkp; q++)
				o->kp[q / 2][q % 2] = (float)(kacc[q] / wsum);
		} else {
			o->x0 = tb[0];
			o->y0 = tb[1];
			o->x1 = tb[2];
			o->y1 = tb[3];
			for (int q = 0; q < 2 * nkp; q++)
				o->kp[q / 2][q % 2] = tk[q];
		}
	}
	return found;
}
