/* ADD and MUL with numpy broadcasting, fp32 and int8/uint8 (TFLite's
 * reference arithmetic). */
#include "kernels/quant.h"
#include "kernels/ref/ref_internal.h"
#include "kernels/ref/ref_kernels.h"

/* Walks the output in row-major order with ai/bi the matching input element
 * offsets; BODY runs once per element with `oi` the output offset. */
#define SL_REF_BCAST_FOR(bc, BODY)                                                                           \
	do {                                                                                                 \
		const sl_ref_bcast *bc_ = (bc);                                                              \
		const int r_ = bc_->rank;                                                                    \
		const int64_t inner_ = r_ > 0 ? bc_->out_dims[r_ - 1] : 1;                                   \
		const int64_t as_ = r_ > 0 ? bc_->a_stride[r_ - 1] : 0;                                      \
		const int64_t bs_ = r_ > 0 ? bc_->b_stride[r_ - 1] : 0;                                      \
		const int64_t total_ = sl_ref_bcast_numel(bc_);                                              \
		int32_t idx_[SL_MAX_RANK] = {0};                                                             \
		int64_t abase_ = 0, bbase_ = 0;                                                              \
		if (total_ <= 0)                                                                             \
			break;                                                                               \
		for (int64_t o_ = 0; o_ < total_; o_ += inner_) {                                            \
			for (int64_t i_ = 0; i_ < inner_; i_++) {                                            \
				const size_t oi = (size_t)(o_ + i_);                                         \
				const size_t ai = (size_t)(abase_ + i_ * as_);                               \
				const size_t bi = (size_t)(bbase_ + i_ * bs_);                               \
				BODY;                                                                        \
			}                                                                                    \
			for (int d_ = r_ - 2; d_ >= 0; d_--) {                                               \
				abase_ += bc_->a_stride[d_];                                                 \
				bbase_ += bc_->b_stride[d_];                                                 \
				if (++idx_[d_] < bc_->out_dims[d_])                                          \
					break;                                                               \
				abase_ -= bc_->a_stride[d_] * bc_->out_dims[d_];                             \
				bbase_ -= bc_->b_stride[d_] * bc_->out_dims[d_];                             \
				idx_[d_] = 0;                                                                \
			}                                                                                    \
		}                                                                                            \
	} while (0)

void sl_ref_add_f32(const sl_ref_binary_f32_args *a)
{
	SL_REF_BCAST_FOR(&a->bc, a->out[oi] = sl_ref_clampf(a->a[ai] + a->b[bi], a->act_min, a->act_max));
}

void sl_ref_mul_f32(const sl_ref_binary_f32_args *a)
{
	SL_REF_BCAST_FOR(&a->bc, a->out[oi] = sl_ref_clampf(a->a[ai] * a->b[bi], a->act_min, a->act_max));
}

void sl_ref_add_q8_params(float a_scale, float b_scale, float out_scale, sl_ref_add_q8_args *a)
{
	/* The mix of float and double arithmetic is TFLite's (add.cc Prepare);
	 * changing it can move a multiplier by one unit. */
	a->left_shift = 20;
	const double twice_max = 2 * (a_scale > b_scale ? a_scale : b_scale);
	const double real_a = a_scale / twice_max;
	const double real_b = b_scale / twice_max;
	const double real_out = twice_max / ((1 << a->left_shift) * out_scale);
	sl_quantize_multiplier(real_a, &a->a_mult, &a->a_shift);
	sl_quantize_multiplier(real_b, &a->b_mult, &a->b_shift);
	sl_quantize_multiplier(real_out, &a->out_mult, &a->out_shift);
}

SL_REF_INLINE int32_t add_q8_one(const sl_ref_add_q8_args *a, int32_t x, int32_t y)
{
	const int32_t sx = (int32_t)((uint32_t)(x - a->a_zp) << a->left_shift);
	const int32_t sy = (int32_t)((uint32_t)(y - a->b_zp) << a->left_shift);
	const int32_t vx = sl_mul_by_quantized_multiplier(sx, a->a_mult, a->a_shift);
	const int32_t vy = sl_mul_by_quantized_multiplier(sy, a->b_mult, a->b_shift);
	const int32_t raw = sl_mul_by_quantized_multiplier(vx + vy, a->out_mult, a->out_shift) + a->out_zp;
	return sl_clamp_i32(raw, a->act_min, a->act_max);
}

void sl_ref_add_q8(const sl_ref_add_q8_args *a)
{
	if (sl_ref_signed(a->type))
		SL_REF_BCAST_FOR(
		    &a->bc, sl_ref_st(a->out, oi, true,
				      add_q8_one(a, sl_ref_ld(a->a, ai, true), sl_ref_ld(a->b, bi, true))));
	else
		SL_REF_BCAST_FOR(
		    &a->bc, sl_ref_st(a->out, oi, false,
				      add_q8_one(a, sl_ref_ld(a->a, ai, false), sl_ref_ld(a->b, bi, false))));
}

void sl_ref_mul_q8_params(float a_scale, float b_scale, float out_scale, sl_ref_mul_q8_args *a)
{
	const double real = (double)a_scale * (double)b_scale / (double)out_scale;
	sl_quantize_multiplier(real, &a->mult, &a->shift);
}

SL_REF_INLINE int32_t mul_q8_one(const sl_ref_mul_q8_args *a, int32_t x, int32_t y)
{
	const int32_t raw =
	    a->out_zp + sl_mul_by_quantized_multiplier((x - a->a_zp) * (y - a->b_zp), a->mult, a->shift);
	return sl_clamp_i32(raw, a->act_min, a->act_max);
}

void sl_ref_mul_q8(const sl_ref_mul_q8_args *a)
{
	if (sl_ref_signed(a->type))
		SL_REF_BCAST_FOR(
		    &a->bc, sl_ref_st(a->out, oi, true,
				      mul_q8_one(a, sl_ref_ld(a->a, ai, true), sl_ref_ld(a->b, bi, true))));
	else
		SL_REF_BCAST_FOR(
		    &a->bc, sl_ref_st(a->out, oi, false,
				      mul_q8_one(a, sl_ref_ld(a->a, ai, false), sl_ref_ld(a->b, bi, false))));
}
