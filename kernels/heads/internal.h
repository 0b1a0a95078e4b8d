/* Helpers shared by the head sources; not part of the public API. */
#pragma once

#include <stdarg.h>
#include <stdio.h>

#include "kernels/model.h"

__attribute__((format(printf, 2, 3))) static inline void sl_heads_err(sl_error *err, const char *fmt, ...)
{
	if (!err)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* How to turn one element of an output tensor into a float. */
typedef struct {
	sl_dtype dtype;
	float scale;
	int32_t zero_point;
} sl_heads_reader;

/* Accepts F32, and U8/I8 with per-tensor quantization (or none: scale 1). */
static inline int sl_heads_reader_init(sl_heads_reader *r, const sl_tensor *t, const char *what,
				       sl_error *err)
{
	r->dtype = t->dtype;
	r->scale = 1.0f;
	r->zero_point = 0;
	switch (t->dtype) {
	case SL_DTYPE_F32:
		return 0;
	case SL_DTYPE_U8:
	case SL_DTYPE_I8:
		if (t->q.n > 1) {
			sl_heads_err(err, "%s: per-channel quantized output is not supported", what);
			return -SL_E_UNSUPPORTED;
		}
		if (t->q.n == 1) {
			if (!(t->q.scale[0] > 0.0f)) {
				sl_heads_err(err, "%s: invalid quantization scale %g", what,
					     (double)t->q.scale[0]);
				return -SL_E_FORMAT;
			}
			r->scale = t->q.scale[0];
			r->zero_point = t->q.zero_point[0];
		}
		return 0;
	default:
		sl_heads_err(err, "%s: output dtype %s is not supported (need f32, u8 or i8)", what,
			     sl_dtype_name(t->dtype));
		return -SL_E_UNSUPPORTED;
	}
}

static inline float sl_heads_read(const sl_heads_reader *r, const void *data, size_t i)
{
	switch (r->dtype) {
	case SL_DTYPE_U8:
		return (float)((int32_t)((const uint8_t *)data)[i] - r->zero_point) * r->scale;
	case SL_DTYPE_I8:
		return (float)((int32_t)((const int8_t *)data)[i] - r->zero_point) * r->scale;
	default:
		return ((const float *)data)[i];
	}
}
