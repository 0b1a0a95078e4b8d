/* Detection head: decoding, score handling, NMS, and no allocation per run
 * (malloc/calloc/realloc are wrapped at link time to count calls). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/heads/heads.h"

static int alloc_calls;
void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n)
{
	alloc_calls++;
	return __real_malloc(n);
}
void *__wrap_calloc(size_t a, size_t b)
{
	alloc_calls++;
	return __real_calloc(a, b);
}
void *__wrap_realloc(void *p, size_t n)
{
	alloc_calls++;
	return __real_realloc(p, n);
}

#define N 896

static sl_tensor boxes_t = {.dtype = SL_DTYPE_F32, .rank = 3, .dims = {1, N, 16}};
static sl_tensor scores_t = {.dtype = SL_DTYPE_F32, .rank = 3, .dims = {1, N, 1}};
static float boxes[N * 16];
static float scores[N];

static sl_detector *make(sl_nms_kind nms)
{
	sl_ssd_anchor_options a;
	sl_ssd_decode_options d;
	sl_ssd_anchor_options_blazeface(&a);
	sl_ssd_decode_options_blazeface(&d);
	d.nms = nms;
	sl_detector *det = NULL;
	sl_error err = {{0}};
	cr_assert_eq(sl_detector_new(&a, &d, &boxes_t, &scores_t, &det, &err), 0, "%s", err.msg);
	return det;
}

static void reset(void)
{
	memset(boxes, 0, sizeof(boxes));
	for (int i = 0; i < N; i++)
		scores[i] = -10.0f;
}

/* Box of anchor i: centre offset (dx, dy) and size (w, h) in 128-pixel units. */
static void set_box(int i, float dx, float dy, float w, float h, float logit)
{
	float *b = &boxes[i * 16];
	b[0] = dx;
	b[1] = dy;
	b[2] = w;
	b[3] = h;
	for (int k = 0; k < 6; k++) {
		b[4 + 2 * k] = (float)k;
		b[5 + 2 * k] = -(float)k;
	}
	scores[i] = logit;
}

Test(detect, decodes_one_box_with_keypoints)
{
	reset();
	sl_detector *det = make(SL_NMS_HARD);
	cr_assert_eq(sl_detector_n_anchors(det), N);
	/* Anchor 518: centre (1.5/8, 0.5/8). */
	set_box(518, 12.8f, -6.4f, 25.6f, 51.2f, 2.0f);
	sl_detection out[4];
	alloc_calls = 0;
	int n = sl_detector_run(det, boxes, scores, out, 4);
	cr_assert_eq(alloc_calls, 0, "the per-frame path allocated %d times", alloc_calls);
	cr_assert_eq(n, 1);
	const float xc = 1.5f / 8 + 0.1f, yc = 0.5f / 8 - 0.05f;
	cr_assert_float_eq(out[0].x0, xc - 0.1f, 1e-6);
	cr_assert_float_eq(out[0].x1, xc + 0.1f, 1e-6);
	cr_assert_float_eq(out[0].y0, yc - 0.2f, 1e-6);
	cr_assert_float_eq(out[0].y1, yc + 0.2f, 1e-6);
	cr_assert_float_eq(out[0].score, 1.0f / (1.0f + expf(-2.0f)), 1e-6);
	cr_assert_eq(out[0].cls, 0);
	cr_assert_eq(out[0].n_keypoints, 6);
	cr_assert_float_eq(out[0].kp[3][0], 1.5f / 8 + 3.0f / 128, 1e-6);
	cr_assert_float_eq(out[0].kp[3][1], 0.5f / 8 - 3.0f / 128, 1e-6);
	sl_detector_free(det);
}

Test(detect, threshold_clip_and_nan)
{
	reset();
	sl_detector *det = make(SL_NMS_HARD);
	set_box(0, 0, 0, 10, 10, 1e30f);	 /* clipped to 100: sigmoid 1 */
	set_box(100, 0, 0, 10, 10, NAN);	 /* dropped */
	set_box(200, 0, 0, 10, 10, -0.1f);	 /* 0.475 < 0.5 */
	set_box(300, INFINITY, 0, 10, 10, 5.0f); /* garbage box: dropped */
	sl_detection out[4];
	int n = sl_detector_run(det, boxes, scores, out, 4);
	cr_assert_eq(n, 1);
	cr_assert_float_eq(out[0].score, 1.0f, 1e-6);
	cr_assert(isfinite(out[0].x0));
	sl_detector_free(det);
}

Test(detect, hard_nms_keeps_best_of_overlapping)
{
	reset();
	sl_detector *det = make(SL_NMS_HARD);
	/* Anchors 0 and 1 share a centre: identical boxes, different scores. */
	set_box(0, 0, 0, 20, 20, 1.0f);
	set_box(1, 1, 0, 20, 20, 3.0f);
	/* Far away, separate detection. */
	set_box(895, 0, 0, 20, 20, 2.0f);
	sl_detection out[8];
	int n = sl_detector_run(det, boxes, scores, out, 8);
	cr_assert_eq(n, 2);
	cr_assert_float_eq(out[0].score, 1.0f / (1.0f + expf(-3.0f)), 1e-6);
	cr_assert_float_eq(out[0].x0, 0.5f / 16 + 1.0f / 128 - 10.0f / 128, 1e-6);
	cr_assert_float_eq(out[1].x0, 7.5f / 8 - 10.0f / 128, 1e-6);
	/* cap limits the output, best first */
	cr_assert_eq(sl_detector_run(det, boxes, scores, out, 1), 1);
	cr_assert_float_eq(out[0].score, 1.0f / (1.0f + expf(-3.0f)), 1e-6);
	sl_detector_free(det);
}

Test(detect, weighted_nms_averages_the_cluster)
{
	reset();
	sl_detector *det = make(SL_NMS_WEIGHTED);
	set_box(0, 0, 0, 20, 20, 0.0f);	      /* score 0.5 */
	set_box(1, 2, 0, 20, 20, logf(3.0f)); /* score 0.75 */
	sl_detection out[4];
	int n = sl_detector_run(det, boxes, scores, out, 4);
	cr_assert_eq(n, 1);
	cr_assert_float_eq(out[0].score, 0.75f, 1e-6);
	/* x centre: (0.5 * 0 + 0.75 * 2) / 1.25 = 1.2 pixels off the anchor. */
	const float xc = 0.5f / 16 + 1.2f / 128;
	cr_assert_float_eq(out[0].x0, xc - 10.0f / 128, 1e-6);
	cr_assert_float_eq(out[0].x1, xc + 10.0f / 128, 1e-6);
	sl_detector_free(det);
}

Test(detect, quantized_outputs)
{
	float bs = 0.5f, ss = 0.1f;
	int32_t bz = 128, sz = -20;
	sl_tensor bt = {.dtype = SL_DTYPE_U8, .rank = 3, .dims = {1, N, 16}, .q = {1, 0, &bs, &bz}};
	sl_tensor st = {.dtype = SL_DTYPE_I8, .rank = 3, .dims = {1, N, 1}, .q = {1, 0, &ss, &sz}};
	sl_ssd_anchor_options a;
	sl_ssd_decode_options d;
	sl_ssd_anchor_options_blazeface(&a);
	sl_ssd_decode_options_blazeface(&d);
	sl_detector *det = NULL;
	cr_assert_eq(sl_detector_new(&a, &d, &bt, &st, &det, NULL), 0);
	static uint8_t qb[N * 16];
	static int8_t qs[N];
	memset(qb, 128, sizeof(qb));
	memset(qs, -128, sizeof(qs));
	qb[5 * 16 + 2] = 128 + 64; /* w = 32 px */
	qb[5 * 16 + 3] = 128 + 64;
	qs[5] = 0; /* real 2.0 */
	sl_detection out[2];
	cr_assert_eq(sl_detector_run(det, qb, qs, out, 2), 1);
	cr_assert_float_eq(out[0].score, 1.0f / (1.0f + expf(-2.0f)), 1e-6);
	cr_assert_float_eq(out[0].x1 - out[0].x0, 0.25f, 1e-6);
	sl_detector_free(det);
}

Test(detect, rejects_mismatched_tensors_and_options)
{
	sl_ssd_anchor_options a;
	sl_ssd_decode_options d;
	sl_ssd_anchor_options_blazeface(&a);
	sl_ssd_decode_options_blazeface(&d);
	sl_detector *det = NULL;
	sl_error err = {{0}};
	sl_tensor bad = {.dtype = SL_DTYPE_F32, .rank = 3, .dims = {1, 895, 16}};
	cr_assert_lt(sl_detector_new(&a, &d, &bad, &scores_t, &det, &err), 0);
	cr_assert_lt(sl_detector_new(&a, &d, &boxes_t, &bad, &det, &err), 0);
	sl_tensor i32 = {.dtype = SL_DTYPE_I32, .rank = 3, .dims = {1, N, 1}};
	cr_assert_lt(sl_detector_new(&a, &d, &boxes_t, &i32, &det, &err), 0);
	d.n_keypoints = 7; /* 4 + 14 > 16 */
	cr_assert_lt(sl_detector_new(&a, &d, &boxes_t, &scores_t, &det, &err), 0);
	sl_ssd_decode_options_blazeface(&d);
	d.x_scale = 0;
	cr_assert_lt(sl_detector_new(&a, &d, &boxes_t, &scores_t, &det, &err), 0);
	cr_assert_null(det);
}

Test(detect, iou)
{
	const float a[4] = {0, 0, 2, 2}, b[4] = {1, 1, 3, 3}, c[4] = {5, 5, 6, 6}, e[4] = {1, 1, 1, 3};
	cr_assert_float_eq(sl_box_iou(a, a), 1.0f, 1e-7);
	cr_assert_float_eq(sl_box_iou(a, b), 1.0f / 7.0f, 1e-7);
	cr_assert_float_eq(sl_box_iou(a, c), 0.0f, 0);
	cr_assert_float_eq(sl_box_iou(a, e), 0.0f, 0);
}

Test(detect, guess_blazeface_outputs)
{
	sl_model *m = sl_model_new();
	cr_assert_eq(sl_model_add_tensor(m, &scores_t, NULL), 0);
	cr_assert_eq(sl_model_add_tensor(m, &boxes_t, NULL), 1);
	m->n_outputs = 2;
	m->outputs = malloc(2 * sizeof(int32_t));
	m->outputs[0] = 0;
	m->outputs[1] = 1;
	sl_head_guess g = sl_head_guess_kind(m);
	cr_assert_eq(g.kind, SL_HEAD_DETECT_BLAZEFACE);
	cr_assert_eq(g.boxes_output, 1);
	cr_assert_eq(g.scores_output, 0);
	m->outputs[1] = 0;
	cr_assert_eq(sl_head_guess_kind(m).kind, SL_HEAD_UNKNOWN);
	sl_model_unref(m);
}
