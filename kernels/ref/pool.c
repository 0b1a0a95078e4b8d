/* AVERAGE_POOL_2D and MAX_POOL_2D (NHWC), fp32 and int8/uint8. Windows are
 * clipped to the input, so padding never contributes and averages divide by
 * the number of in-bounds taps, as in TFLite. */
#include <float.h>

#include "kernels/quant.h"
#include "kernels/ref/ref_internal.h"
#include "kernels/ref/ref_kernels.h"

sl_ref_pool_geom sl_ref_pool_geom_of(const sl_tensor *in, const sl_tensor *out, const sl_pool_params *p)
{
	return (sl_ref_pool_geom){
	    .batch = in->dims[0],
	    .in_h = in->dims[1],
	    .in_w = in->dims[2],
	    .c = in->dims[3],
	    .out_h = out->dims[1],
	    .out_w = out->dims[2],
	    .filter_h = p->filter_h,
	    .filter_w = p->filter_w,
	    .stride_h = p->stride_h,
	    .stride_w = p->stride_w,
	    .pad_top = p->pad_top,
	    .pad_left = p->pad_left,
	};
}

sl_ref_pool_win sl_ref_pool_window(const sl_ref_pool_geom *g, int b, int oy, int ox)
{
	sl_ref_pool_win w;
	w.iy0 = oy * g->stride_h - g->pad_top;
	w.ix0 = ox * g->stride_w - g->pad_left;
	w.fy0 = sl_ref_max_i32(0, -w.iy0);
	w.fy1 = sl_ref_min_i32(g->filter_h, g->in_h - w.iy0);
	w.fx0 = sl_ref_max_i32(0, -w.ix0);
	w.fx1 = sl_ref_min_i32(g->filter_w, g->in_w - w.ix0);
	w.b = b;
	return w;
}

static size_t pool_in_index(const sl_ref_pool_geom *g, const sl_ref_pool_win *w, int fy, int fx, int c)
{
	return (((size_t)w->b * g->in_h + (size_t)(w->iy0 + fy)) * g->in_w + (size_t)(w->ix0 + fx)) * g->c +
	       c;
}

void sl_ref_avgpool_f32(const sl_ref_pool_f32_args *a)
{
	const sl_ref_pool_geom *g = &a->g;
	float *out = a->output;

	for (int b = 0; b < g->batch; b++)
		for (int oy = 0; oy < g->out_h; oy++)
			for (int ox = 0; ox < g->out_w; ox++) {
				const sl_ref_pool_win w = sl_ref_pool_window(g, b, oy, ox);
				for (int c = 0; c < g->c; c++) {
					float total = 0.0f;
					int count = 0;
					for (int fy = w.fy0; fy < w.fy1; fy++)
						for (int fx = w.fx0; fx < w.fx1; fx++) {
							total += a->input[pool_in_index(g, &w, fy, fx, c)];
							count++;
						}
					/* An empty window (pad >= filter) yields 0 rather than NaN;
					 * TFLite leaves such outputs unwritten. */
					const float avg = count > 0 ? total / (float)count : 0.0f;
					*out++ = sl_ref_clampf(avg, a->act_min, a->act_max);
				}
			}
}

SL_REF_INLINE void avgpool_q8(const sl_ref_pool_q8_args *a, bool s)
{
	const sl_ref_pool_geom *g = &a->g;
	size_t o = 0;

	for (int b = 0; b < g->batch; b++)
		for (int oy = 0; oy < g->out_h; oy++)
			for (int ox = 0; ox < g->out_w; ox++) {
				const sl_ref_pool_win w = sl_ref_pool_window(g, b, oy, ox);
				for (int c = 0; c < g->c; c++) {
					int32_t acc = 0, count = 0;
					for (int fy = w.fy0; fy < w.fy1; fy++)
						for (int fx = w.fx0; fx < w.fx1; fx++) {
							acc += sl_ref_ld(a->input,
									 pool_in_index(g, &w, fy, fx, c), s);
							count++;
						}
					if (count > 0)
						acc = sl_ref_pool_average(acc, count);
					sl_ref_st(a->output, o++, s,
						  sl_clamp_i32(acc, a->act_min, a->act_max));
				}
			}
}

void sl_ref_avgpool_q8(const sl_ref_pool_q8_args *a)
{
	if (sl_ref_signed(a->type))
		avgpool_q8(a, true);
	else
		avgpool_q8(a, false);
}

void sl_ref_maxpool_f32(const sl_ref_pool_f32_args *a)
{
	const sl_ref_pool_geom *g = &a->g;
	float *out = a->output;

	for (int b = 0; b < g->batch; b++)
		for (int oy = 0; oy < g->out_h; oy++)
			for (int ox = 0; ox < g->out_w; ox++) {
				const sl_ref_pool_win w = sl_ref_pool_window(g, b, oy, ox);
				for (int c = 0; c < g->c; c++) {
					float max = -FLT_MAX;
					for (int fy = w.fy0; fy < w.fy1; fy++)
						for (int fx = w.fx0; fx < w.fx1; fx++) {
							const float v =
							    a->input[pool_in_index(g, &w, fy, fx, c)];
							max = max < v ? v : max;
						}
					*out++ = sl_ref_clampf(max, a->act_min, a->act_max);
				}
			}
}

SL_REF_INLINE void maxpool_q8(const sl_ref_pool_q8_args *a, bool s)
{
	const sl_ref_pool_geom *g = &a->g;
	size_t o = 0;

	for (int b = 0; b < g->batch; b++)
		for (int oy = 0; oy < g->out_h; oy++)
			for (int ox = 0; ox < g->out_w; ox++) {
				const sl_ref_pool_win w = sl_ref_pool_window(g, b, oy, ox);
				for (int c = 0; c < g->c; c++) {
					int32_t max = s ? INT8_MIN : 0;
					for (int fy = w.fy0; fy < w.fy1; fy++)
						for (int fx = w.fx0; fx < w.fx1; fx++) {
							const int32_t v = sl_ref_ld(
							    a->input, pool_in_index(g, &w, fy, fx, c), s);
							max = sl_ref_max_i32(max, v);
						}
					sl_ref_st(a->output, o++, s,
						  sl_clamp_i32(max, a->act_min, a->act_max));
				}
			}
}

void sl_ref_maxpool_q8(const sl_ref_pool_q8_args *a)
{
	if (sl_ref_signed(a->type))
		maxpool_q8(a, true);
	else
		maxpool_q8(a, false);
}
