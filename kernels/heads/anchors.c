/* SSD anchor generation with MediaPipe's SsdAnchorsCalculator layout. */
#include <errno.h>
#include <math.h>

#include "kernels/heads/heads.h"
#include "kernels/heads/internal.h"

/* Up to three anchors for the reduced lowest layer, otherwise the aspect
 * ratios plus one interpolated anchor, for every layer sharing a stride. */
#define MAX_PER_CELL (SL_SSD_MAX_LAYERS * (SL_SSD_MAX_ASPECTS + 3))

void sl_ssd_anchor_options_blazeface(sl_ssd_anchor_options *o)
{
	*o = (sl_ssd_anchor_options){
	    .input_w = 128,
	    .input_h = 128,
	    .num_layers = 4,
	    .strides = {8, 16, 16, 16},
	    .min_scale = 0.1484375f,
	    .max_scale = 0.75f,
	    .offset_x = 0.5f,
	    .offset_y = 0.5f,
	    .n_aspect_ratios = 1,
	    .aspect_ratios = {1.0f},
	    .interpolated_scale_aspect_ratio = 1.0f,
	    .reduce_boxes_in_lowest_layer = false,
	    .fixed_anchor_size = true,
	};
}

static float layer_scale(const sl_ssd_anchor_options *o, int i)
{
	if (o->num_layers == 1)
		return (o->min_scale + o->max_scale) * 0.5f;
	return o->min_scale + (o->max_scale - o->min_scale) * (float)i / (float)(o->num_layers - 1);
}

static int check(const sl_ssd_anchor_options *o, sl_error *err)
{
	if (o->num_layers < 1 || o->num_layers > SL_SSD_MAX_LAYERS) {
		sl_heads_err(err, "anchors: num_layers %d not in 1..%d", o->num_layers, SL_SSD_MAX_LAYERS);
		return -EINVAL;
	}
	if (o->input_w < 1 || o->input_h < 1 || o->input_w > 65536 || o->input_h > 65536) {
		sl_heads_err(err, "anchors: input size %dx%d out of range", o->input_w, o->input_h);
		return -EINVAL;
	}
	if (o->n_aspect_ratios < 0 || o->n_aspect_ratios > SL_SSD_MAX_ASPECTS) {
		sl_heads_err(err, "anchors: n_aspect_ratios %d not in 0..%d", o->n_aspect_ratios,
			     SL_SSD_MAX_ASPECTS);
		return -EINVAL;
	}
	for (int i = 0; i < o->n_aspect_ratios; i++)
		if (!(o->aspect_ratios[i] > 0.0f)) {
			sl_heads_err(err, "anchors: aspect ratio %d is not positive", i);
			return -EINVAL;
		}
	for (int i = 0; i < o->num_layers; i++)
		if (o->strides[i] < 1) {
			sl_heads_err(err, "anchors: stride %d is %d", i, o->strides[i]);
			return -EINVAL;
		}
	return 0;
}

/* Fill the (aspect, scale) pairs of the group of layers starting at `first`
 * that share its stride; returns the count, sets *next to the following group. */
static int group_shapes(const sl_ssd_anchor_options *o, int first, float *aspect, float *scale, int *next)
{
	int n = 0, l = first;
	for (; l < o->num_layers && o->strides[l] == o->strides[first]; l++) {
		const float s = layer_scale(o, l);
		if (l == 0 && o->reduce_boxes_in_lowest_layer) {
			const float a3[3] = {1.0f, 2.0f, 0.5f};
			const float s3[3] = {0.1f, s, s};
			for (int i = 0; i < 3; i++) {
				aspect[n] = a3[i];
				scale[n++] = s3[i];
			}
			continue;
		}
		for (int i = 0; i < o->n_aspect_ratios; i++) {
			aspect[n] = o->aspect_ratios[i];
			scale[n++] = s;
		}
		if (o->interpolated_scale_aspect_ratio > 0.0f) {
			const float s_next = l == o->num_layers - 1 ? 1.0f : layer_scale(o, l + 1);
			aspect[n] = o->interpolated_scale_aspect_ratio;
			scale[n++] = sqrtf(s * s_next);
		}
	}
	*next = l;
	return n;
}

static int feature_size(int input, int stride)
{
	return (input + stride - 1) / stride;
}

int sl_ssd_anchor_count(const sl_ssd_anchor_options *o, sl_error *err)
{
	int r = check(o, err);
	if (r < 0)
		return r;
	float aspect[MAX_PER_CELL], scale[MAX_PER_CELL];
	int64_t total = 0;
	for (int l = 0; l < o->num_layers;) {
		const int stride = o->strides[l];
		const int per_cell = group_shapes(o, l, aspect, scale, &l);
		total +=
		    (int64_t)per_cell * feature_size(o->input_w, stride) * feature_size(o->input_h, stride);
		if (total > (1 << 24)) {
			sl_heads_err(err, "anchors: more than %d anchors", 1 << 24);
			return -E2BIG;
		}
	}
	return (int)total;
}

int sl_ssd_anchors_generate(const sl_ssd_anchor_options *o, sl_anchor *out, int cap, sl_error *err)
{
	int total = sl_ssd_anchor_count(o, err);
	if (total < 0)
		return total;
	if (total > cap) {
		sl_heads_err(err, "anchors: %d anchors do not fit in %d", total, cap);
		return -ENOBUFS;
	}
	float aspect[MAX_PER_CELL], scale[MAX_PER_CELL];
	int k = 0;
	for (int l = 0; l < o->num_layers;) {
		const int stride = o->strides[l];
		const int per_cell = group_shapes(o, l, aspect, scale, &l);
		const int fw = feature_size(o->input_w, stride), fh = feature_size(o->input_h, stride);
		for (int y = 0; y < fh; y++)
			for (int x = 0; x < fw; x++)
				for (int a = 0; a < per_cell; a++) {
					const float ra = sqrtf(aspect[a]);
					out[k++] = (sl_anchor){
					    .x_center = ((float)x + o->offset_x) / (float)fw,
					    .y_center = ((float)y + o->offset_y) / (float)fh,
					    .w = o->fixed_anchor_size ? 1.0f : scale[a] * ra,
					    .h = o->fixed_anchor_size ? 1.0f : scale[a] / ra,
					};
				}
	}
	return total;
}
