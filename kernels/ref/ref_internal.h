/* Internal helpers of the reference kernels (not for other modules). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/model.h"

#define SL_REF_INLINE static inline __attribute__((always_inline))

SL_REF_INLINE int32_t sl_ref_max_i32(int32_t a, int32_t b)
{
	return a > b ? a : b;
}

SL_REF_INLINE int32_t sl_ref_min_i32(int32_t a, int32_t b)
{
	return a < b ? a : b;
}

/* Loads/stores one int8 (is_signed) or uint8 element. Kernels are written
 * once against these and instantiated per dtype combination by calling them
 * with compile-time constant flags. */
SL_REF_INLINE int32_t sl_ref_ld(const void *p, size_t i, bool is_signed)
{
	return is_signed ? (int32_t)((const int8_t *)p)[i] : (int32_t)((const uint8_t *)p)[i];
}

SL_REF_INLINE void sl_ref_st(void *p, size_t i, bool is_signed, int32_t v)
{
	if (is_signed)
		((int8_t *)p)[i] = (int8_t)v;
	else
		((uint8_t *)p)[i] = (uint8_t)v;
}

SL_REF_INLINE bool sl_ref_signed(sl_dtype t)
{
	return t == SL_DTYPE_I8;
}

SL_REF_INLINE float sl_ref_clampf(float v, float lo, float hi)
{
	/* TFLite's ActivationFunctionWithMinMax: min(max(v, lo), hi). */
	v = v < lo ? lo : v;
	return v > hi ? hi : v;
}
