#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/heads/heads.h"

Test(anchors, blazeface_layout)
{
	sl_ssd_anchor_options o;
	sl_ssd_anchor_options_blazeface(&o);
	cr_assert_eq(sl_ssd_anchor_count(&o, NULL), 896);
	sl_anchor a[896];
	cr_assert_eq(sl_ssd_anchors_generate(&o, a, 896, NULL), 896);

	/* Stride 8: 16x16 cells, two anchors per cell. */
	cr_assert_float_eq(a[0].x_center, 0.5f / 16, 1e-7);
	cr_assert_float_eq(a[0].y_center, 0.5f / 16, 1e-7);
	cr_assert_float_eq(a[1].x_center, a[0].x_center, 0);
	cr_assert_float_eq(a[2].x_center, 1.5f / 16, 1e-7);
	cr_assert_float_eq(a[32].y_center, 1.5f / 16, 1e-7);
	cr_assert_float_eq(a[32].x_center, 0.5f / 16, 1e-7);
	/* Three stride-16 layers share one 8x8 map: six anchors per cell. */
	for (int i = 512; i < 518; i++) {
		cr_assert_float_eq(a[i].x_center, 0.5f / 8, 1e-7);
		cr_assert_float_eq(a[i].y_center, 0.5f / 8, 1e-7);
	}
	cr_assert_float_eq(a[518].x_center, 1.5f / 8, 1e-7);
	cr_assert_float_eq(a[895].x_center, 7.5f / 8, 1e-7);
	cr_assert_float_eq(a[895].y_center, 7.5f / 8, 1e-7);
	for (int i = 0; i < 896; i++) {
		cr_assert_eq(a[i].w, 1.0f);
		cr_assert_eq(a[i].h, 1.0f);
	}
}

Test(anchors, scales_and_aspects_when_not_fixed)
{
	sl_ssd_anchor_options o = {
	    .input_w = 64,
	    .input_h = 32,
	    .num_layers = 2,
	    .strides = {16, 32},
	    .min_scale = 0.2f,
	    .max_scale = 0.6f,
	    .offset_x = 0.5f,
	    .offset_y = 0.5f,
	    .n_aspect_ratios = 2,
	    .aspect_ratios = {1.0f, 4.0f},
	    .interpolated_scale_aspect_ratio = 1.0f,
	};
	/* 4x2 cells * 3 + 2x1 cells * 3 */
	cr_assert_eq(sl_ssd_anchor_count(&o, NULL), 30);
	sl_anchor a[30];
	cr_assert_eq(sl_ssd_anchors_generate(&o, a, 30, NULL), 30);
	cr_assert_float_eq(a[0].w, 0.2f, 1e-6);
	cr_assert_float_eq(a[1].w, 0.4f, 1e-6); /* scale * sqrt(4) */
	cr_assert_float_eq(a[1].h, 0.1f, 1e-6);
	cr_assert_float_eq(a[2].w, sqrtf(0.2f * 0.6f), 1e-6);
	cr_assert_float_eq(a[24].w, 0.6f, 1e-6);
	cr_assert_float_eq(a[26].w, sqrtf(0.6f), 1e-6); /* last layer interpolates with 1.0 */
	cr_assert_float_eq(a[3].x_center, 1.5f / 4, 1e-6);
	cr_assert_float_eq(a[12].y_center, 1.5f / 2, 1e-6);

	o.reduce_boxes_in_lowest_layer = true;
	o.n_aspect_ratios = 1;
	cr_assert_eq(sl_ssd_anchor_count(&o, NULL), 4 * 2 * 3 + 2 * 1 * 2);
}

Test(anchors, rejects_invalid_options)
{
	sl_ssd_anchor_options o;
	sl_ssd_anchor_options_blazeface(&o);
	sl_error err = {{0}};
	o.num_layers = 0;
	cr_assert_lt(sl_ssd_anchor_count(&o, &err), 0);
	sl_ssd_anchor_options_blazeface(&o);
	o.strides[2] = 0;
	cr_assert_lt(sl_ssd_anchor_count(&o, &err), 0);
	sl_ssd_anchor_options_blazeface(&o);
	o.num_layers = SL_SSD_MAX_LAYERS + 1;
	cr_assert_lt(sl_ssd_anchor_count(&o, &err), 0);
	sl_ssd_anchor_options_blazeface(&o);
	o.input_w = -1;
	cr_assert_lt(sl_ssd_anchor_count(&o, &err), 0);
	sl_ssd_anchor_options_blazeface(&o);
	sl_anchor small[10];
	cr_assert_lt(sl_ssd_anchors_generate(&o, small, 10, &err), 0);
}
