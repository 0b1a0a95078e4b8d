/* Small helpers shared by the kernels/ref unit tests. */
#pragma once

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/ref/ref_kernels.h"

/* Deterministic generator (tests must not depend on libc's rand). */
typedef struct {
	uint64_t s;
} tu_rng;

static inline uint32_t tu_next(tu_rng *r)
{
	r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(r->s >> 33);
}

/* Uniform integer in [lo, hi]. */
static inline int32_t tu_int(tu_rng *r, int32_t lo, int32_t hi)
{
	return lo + (int32_t)(tu_next(r) % (uint32_t)(hi - lo + 1));
}

static inline float tu_float(tu_rng *r, float lo, float hi)
{
	return lo + (hi - lo) * (float)(tu_next(r) & 0xffffff) / (float)0xffffff;
}

static inline void tu_fill_q8(tu_rng *r, void *p, size_t n, sl_dtype t)
{
	for (size_t i = 0; i < n; i++) {
		if (t == SL_DTYPE_I8)
			((int8_t *)p)[i] = (int8_t)tu_int(r, -128, 127);
		else
			((uint8_t *)p)[i] = (uint8_t)tu_int(r, 0, 255);
	}
}

static inline int32_t tu_ld(const void *p, size_t i, sl_dtype t)
{
	return t == SL_DTYPE_I8 ? ((const int8_t *)p)[i] : ((const uint8_t *)p)[i];
}

/* Compares with a tolerance relative to the magnitude of the expectation. */
#define tu_assert_floats(got, want, n, tol)                                                                  \
	do {                                                                                                 \
		for (size_t i_ = 0; i_ < (size_t)(n); i_++)                                                  \
			cr_assert(fabsf((got)[i_] - (want)[i_]) <= (tol) * (1.0f + fabsf((want)[i_])),       \
				  "element %zu: got %g, want %g", i_, (double)(got)[i_],                     \
				  (double)(want)[i_]);                                                       \
	} while (0)

#define tu_assert_ints(got, want, n)                                                                         \
	do {                                                                                                 \
		for (size_t i_ = 0; i_ < (size_t)(n); i_++)                                                  \
			cr_assert_eq((int)(got)[i_], (int)(want)[i_], "element %zu: got %d, want %d", i_,    \
				     (int)(got)[i_], (int)(want)[i_]);                                       \
	} while (0)
