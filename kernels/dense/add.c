/* Quantized ADD of two same-shape tensors: parameter checks, the portable
 * kernel (the reference arithmetic, element by element) and the split over
 * a thread pool. */
#include <errno.h>
#include <pthreadpool.h>
#include <stdio.h>

#include "common/macros.h"
#include "kernels/dense/dense.h"
#include "kernels/dense/dense_kernels.h"
#include "kernels/quant.h"

int sl_dense_add_check(const sl_dense_add_params *q, sl_error *err)
{
	const int32_t lo = q->u8 ? 0 : -128, hi = lo + 255;
	const char *why = NULL;
	if (q->left_shift < 0 || q->left_shift > 20)
		why = "left shift outside 0..20";
	else if (q->a_mult < 0 || q->b_mult < 0 || q->out_mult < 0)
		why = "negative multiplier";
	else if (q->a_shift < -31 || q->a_shift > 30 || q->b_shift < -31 || q->b_shift > 30 ||
		 q->out_shift < -31 || q->out_shift > 30)
		why = "shift out of range";
	else if (q->a_zp < lo || q->a_zp > hi || q->b_zp < lo || q->b_zp > hi || q->out_zp < lo ||
		 q->out_zp > hi || q->act_min < lo || q->act_max > hi || q->act_min > q->act_max)
		why = "zero point or activation range outside the data type";
	if (!why)
		return 0;
	if (err)
		snprintf(err->msg, sizeof(err->msg), "dense add: %s", why);
	return -EINVAL;
}

void sl_dense_add_scalar(const sl_dense_add_params *q, size_t n, const uint8_t *a, const uint8_t *b,
			 uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		const int32_t x = q->u8 ? a[i] : (int8_t)a[i], y = q->u8 ? b[i] : (int8_t)b[i];
		const int32_t sx = (int32_t)((uint32_t)(x - q->a_zp) << q->left_shift);
		const int32_t sy = (int32_t)((uint32_t)(y - q->b_zp) << q->left_shift);
		const int32_t vx = sl_mul_by_quantized_multiplier(sx, q->a_mult, q->a_shift);
		const int32_t vy = sl_mul_by_quantized_multiplier(sy, q->b_mult, q->b_shift);
		const int32_t s = (int32_t)((uint32_t)vx + (uint32_t)vy);
		const int32_t r =
		    (int32_t)((uint32_t)sl_mul_by_quantized_multiplier(s, q->out_mult, q->out_shift) +
			      (uint32_t)q->out_zp);
		out[i] = (uint8_t)sl_clamp_i32(r, q->act_min, q->act_max);
	}
}

typedef struct {
	const sl_dense_add_impl *impl;
	const sl_dense_add_params *q;
	size_t n, per;
	const uint8_t *a, *b;
	uint8_t *out;
} add_run;

static void add_task(void *arg, size_t i)
{
	const add_run *r = arg;
	const size_t b = i * r->per, e = SL_MIN(r->n, b + r->per);
	r->impl->fn(r->q, e - b, r->a + b, r->b + b, r->out + b);
}

void sl_dense_add_run(const sl_dense_add_impl *impl, const sl_dense_add_params *q, size_t n, const void *a,
		      const void *b, void *out, struct pthreadpool *pool)
{
	/* chunks of 16 KiB: enough work per task, multiples of any vector width */
	const size_t per = 16384;
	add_run r = {.impl = impl, .q = q, .n = n, .per = per, .a = a, .b = b, .out = out};
	const size_t chunks = (n + per - 1) / per;
	if (pool && chunks > 1 && pthreadpool_get_threads_count(pool) > 1) {
		pthreadpool_parallelize_1d(pool, add_task, &r, chunks, 0);
		return;
	}
	impl->fn(q, n, a, b, out);
}
