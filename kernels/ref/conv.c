/* CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED, fp32 and int8/uint8, with
 * the loop order of TFLite's reference kernels (so fp32 sums round the same
 * way). Quantized accumulation is int32 as in TFLite; it is done in int64 and
 * truncated, which gives the same bits as int32 wrap-around without signed
 * overflow. */
#include "kernels/quant.h"
#include "kernels/ref/ref_internal.h"
#include "kernels/ref/ref_kernels.h"

static int conv_groups(const sl_ref_conv_geom *g)
{
	return g->groups > 0 ? g->groups : 1;
}

void sl_ref_conv2d_f32(const sl_ref_conv_f32_args *a)
{
	const sl_ref_conv_geom *g = &a->g;
	const int groups = conv_groups(g);
	const int fin = g->in_c / groups, oc_per_group = g->out_c / groups;
	float *out = a->output;

	for (int b = 0; b < g->batch; b++)
		for (int oy = 0; oy < g->out_h; oy++)
			for (int ox = 0; ox < g->out_w; ox++)
				for (int oc = 0; oc < g->out_c; oc++) {
					const int iy0 = oy * g->stride_h - g->pad_top;
					const int ix0 = ox * g->stride_w - g->pad_left;
					const int grp = oc / oc_per_group;
					float total = 0.0f;
					for (int fy = 0; fy < g->filter_h; fy++) {
						const int iy = iy0 + g->dilation_h * fy;
						if (iy < 0 || iy >= g->in_h)
							continue;
						for (int fx = 0; fx < g->filter_w; fx++) {
							const int ix = ix0 + g->dilation_w * fx;
							if (ix < 0 || ix >= g->in_w)
								continue;
							const float *ip =
							    a->input +
							    (((size_t)b * g->in_h + iy) * g->in_w + ix) *
								g->in_c +
							    (size_t)grp * fin;
							const float *fp =
							    a->filter +
							    (((size_t)oc * g->filter_h + fy) * g->filter_w +
							     fx) *
								fin;
							for (int ic = 0; ic < fin; ic++)
								total += ip[ic] * fp[ic];
						}
					}
					const float bias = a->bias ? a->bias[oc] : 0.0f;
					*out++ = sl_ref_clampf(total + bias, a->act_min, a->act_max);
				}
}

/* Calls fn(a, si, sf) with the input and filter signedness as constants, so
 * that each of the four combinations is compiled with its loads specialised. */
#define BY_SIGNEDNESS(fn, a)                                                                                 \
	do {                                                                                                 \
		const bool si_ = sl_ref_signed((a)->in_type), sf_ = sl_ref_signed((a)->filter_type);         \
		if (si_ && sf_)                                                                              \
			fn(a, true, true);                                                                   \
		else if (si_)                                                                                \
			fn(a, true, false);                                                                  \
		else if (sf_)                                                                                \
			fn(a, false, true);                                                                  \
		else                                                                                         \
			fn(a, false, false);                                                                 \
	} while (0)

SL_REF_INLINE int32_t requant(int64_t acc, int32_t mult, int shift, int32_t zp, int32_t lo, int32_t hi)
{
	const int32_t v = sl_mul_by_quantized_multiplier((int32_t)(uint32_t)(uint64_t)acc, mult, shift) + zp;
	return sl_clamp_i32(v, lo, hi);
}

SL_REF_INLINE void conv2d_q8(const sl_ref_conv_q8_args *a, bool si, bool sf)
{
	const sl_ref_conv_geom *g = &a->g;
	const int groups = conv_groups(g);
	const int fin = g->in_c / groups, oc_per_group = g->out_c / groups;
	const bool so = sl_ref_signed(a->out_type);
	size_t o = 0;

	for (int b = 0; b < g->batch; b++)
		for (int oy = 0; oy < g->out_h; oy++)
			for (int ox = 0; ox < g->out_w; ox++)
				for (int oc = 0; oc < g->out_c; oc++) {
					const int q = a->per_channel ? oc : 0;
					const int32_t fzp = a->filter_zp[q];
					const int iy0 = oy * g->stride_h - g->pad_top;
					const int ix0 = ox * g->stride_w - g->pad_left;
					const int grp = oc / oc_per_group;
					int64_t acc = 0;
					for (int fy = 0; fy < g->filter_h; fy++) {
						const int iy = iy0 + g->dilation_h * fy;
						if (iy < 0 || iy >= g->in_h)
							continue;
						for (int fx = 0; fx < g->filter_w; fx++) {
							const int ix = ix0 + g->dilation_w * fx;
							if (ix < 0 || ix >= g->in_w)
								continue;
							const size_t ip =
							    (((size_t)b * g->in_h + iy) * g->in_w + ix) *
								g->in_c +
							    (size_t)grp * fin;
							const size_t fp =
							    (((size_t)oc * g->filter_h + fy) * g->filter_w +
							     fx) *
							    fin;
							for (int ic = 0; ic < fin; ic++)
								acc +=
								    (sl_ref_ld(a->input, ip + ic, si) -
								     a->in_zp) *
								    (sl_ref_ld(a->filter, fp + ic, sf) - fzp);
						}
					}
					if (a->bias)
						acc += a->bias[oc];
					sl_ref_st(a->output, o++, so,
						  requant(acc, a->mult[q], a->shift[q], a->out_zp, a->act_min,
							  a->act_max));
				}
}

void sl_ref_conv2d_q8(const sl_ref_conv_q8_args *a)
{
	BY_SIGNEDNESS(conv2d_q8, a);
}

void sl_ref_dwconv2d_f32(const sl_ref_conv_f32_args *a)
{
	const sl_ref_conv_geom *g = &a->g;
	const int dm = g->depth_multiplier > 0 ? g->depth_multiplier : 1;

	for (int b = 0; b < g->batch; b++)
		for (int oy = 0; oy < g->out_h; oy++)
			for (int ox = 0; ox < g->out_w; ox++)
				for (int ic = 0; ic < g->in_c; ic++)
					for (int m = 0; m < dm; m++) {
						const int oc = m + ic * dm;
						const int iy0 = oy * g->stride_h - g->pad_top;
						const int ix0 = ox * g->stride_w - g->pad_left;
						float total = 0.0f;
						for (int fy = 0; fy < g->filter_h; fy++) {
							const int iy = iy0 + g->dilation_h * fy;
							if (iy < 0 || iy >= g->in_h)
								continue;
							for (int fx = 0; fx < g->filter_w; fx++) {
								const int ix = ix0 + g->dilation_w * fx;
								if (ix < 0 || ix >= g->in_w)
									continue;
								total +=
								    a->input[(((size_t)b * g->in_h + iy) *
										  g->in_w +
									      ix) *
										 g->in_c +
									     ic] *
								    a->filter[((size_t)fy * g->filter_w +
									       fx) *
										  g->out_c +
									      oc];
							}
						}
						const float bias = a->bias ? a->bias[oc] : 0.0f;
						a->output[(((size_t)b * g->out_h + oy) * g->out_w + ox) *
							      g->out_c +
							  oc] =
						    sl_ref_clampf(total + bias, a->act_min, a->act_max);
					}
}

SL_REF_INLINE void dwconv2d_q8(const sl_ref_conv_q8_args *a, bool si, bool sf)
{
	const sl_ref_conv_geom *g = &a->g;
	const int dm = g->depth_multiplier > 0 ? g->depth_multiplier : 1;
	const bool so = sl_ref_signed(a->out_type);

	for (int b = 0; b < g->batch; b++)
		for (int oy = 0; oy < g->out_h; oy++)
			for (int ox = 0; ox < g->out_w; ox++)
				for (int ic = 0; ic < g->in_c; ic++)
					for (int m = 0; m < dm; m++) {
						const int oc = m + ic * dm;
						const int q = a->per_channel ? oc : 0;
						const int32_t fzp = a->filter_zp[q];
						const int iy0 = oy * g->stride_h - g->pad_top;
						const int ix0 = ox * g->stride_w - g->pad_left;
						int64_t acc = 0;
						for (int fy = 0; fy < g->filter_h; fy++) {
							const int iy = iy0 + g->dilation_h * fy;
							if (iy < 0 || iy >= g->in_h)
								continue;
							for (int fx = 0; fx < g->filter_w; fx++) {
								const int ix = ix0 + g->dilation_w * fx;
								if (ix < 0 || ix >= g->in_w)
									continue;
								const size_t ip =
								    (((size_t)b * g->in_h + iy) * g->in_w +
								     ix) *
									g->in_c +
								    ic;
								const size_t fp =
								    ((size_t)fy * g->filter_w + fx) *
									g->out_c +
								    oc;
								acc +=
								    (sl_ref_ld(a->input, ip, si) - a->in_zp) *
								    (sl_ref_ld(a->filter, fp, sf) - fzp);
							}
						}
						if (a->bias)
							acc += a->bias[oc];
						const size_t o =
						    (((size_t)b * g->out_h + oy) * g->out_w + ox) * g->out_c +
						    oc;
						sl_ref_st(a->output, o, so,
							  requant(acc, a->mult[q], a->shift[q], a->out_zp,
								  a->act_min, a->act_max));
					}
}

void sl_ref_dwconv2d_q8(const sl_ref_conv_q8_args *a)
{
	BY_SIGNEDNESS(dwconv2d_q8, a);
}

void sl_ref_fc_f32(const sl_ref_fc_f32_args *a)
{
	for (int b = 0; b < a->batch; b++)
		for (int oc = 0; oc < a->out_c; oc++) {
			const float *ip = a->input + (size_t)b * a->depth;
			const float *wp = a->weights + (size_t)oc * a->depth;
			float total = 0.0f;
			for (int d = 0; d < a->depth; d++)
				total += ip[d] * wp[d];
			const float bias = a->bias ? a->bias[oc] : 0.0f;
			a->output[(size_t)b * a->out_c + oc] =
			    sl_ref_clampf(total + bias, a->act_min, a->act_max);
		}
}

SL_REF_INLINE void fc_q8(const sl_ref_fc_q8_args *a, bool si, bool sf)
{
	const bool so = sl_ref_signed(a->out_type);

	for (int b = 0; b < a->batch; b++)
		for (int oc = 0; oc < a->out_c; oc++) {
			const int q = a->per_channel ? oc : 0;
			const int32_t fzp = a->filter_zp[q];
			const size_t ip = (size_t)b * a->depth, wp = (size_t)oc * a->depth;
			int64_t acc = 0;
			for (int d = 0; d < a->depth; d++)
				acc += (sl_ref_ld(a->input, ip + d, si) - a->in_zp) *
				       (sl_ref_ld(a->weights, wp + d, sf) - fzp);
			if (a->bias)
				acc += a->bias[oc];
			sl_ref_st(a->output, (size_t)b * a->out_c + oc, so,
				  requant(acc, a->mult[q], a->shift[q], a->out_zp, a->act_min, a->act_max));
		}
}

void sl_ref_fc_q8(const sl_ref_fc_q8_args *a)
{
	BY_SIGNEDNESS(fc_q8, a);
}
