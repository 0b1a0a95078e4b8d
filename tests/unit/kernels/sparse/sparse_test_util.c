#include "sparse_test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/quant.h"
#include "kernels/sparse/sparse_internal.h"

size_t sl_test_q8_kernels(sl_test_q8_kernel *out, size_t max)
{
	size_t n_impl, n = 0;
	const sl_sparse_q8_impl *impls = sl_sparse_q8_impls(&n_impl);
	for (size_t i = 0; i < n_impl && n < max; i++)
		if (impls[i].fn != sl_sparse_q8_ref && (impls[i].isa & sl_sparse_cpu_isa()) == impls[i].isa)
			out[n++] = (sl_test_q8_kernel){impls[i].name, impls[i].fn,
						       (impls[i].needs & SL_SPARSE_NEEDS_W8) != 0,
						       impls[i].fp32_requant, impls[i].rndnu_requant};
#ifdef SL_SPARSE_TEST_SIMDE
	if (n + 2 <= max) {
		out[n++] = (sl_test_q8_kernel){"neondot-simde", sl_sparse_q8_neondot_simde, true, true, true};
		out[n++] = (sl_test_q8_kernel){"neon-simde", sl_sparse_q8_neon_simde, true, true, true};
	}
#endif
	return n;
}

size_t sl_test_f32_kernels(sl_test_f32_kernel *out, size_t max)
{
	size_t n_impl, n = 0;
	const sl_sparse_f32_impl *impls = sl_sparse_f32_impls(&n_impl);
	for (size_t i = 0; i < n_impl && n < max; i++)
		if (impls[i].fn != sl_sparse_f32_ref && (impls[i].isa & sl_sparse_cpu_isa()) == impls[i].isa)
			out[n++] = (sl_test_f32_kernel){impls[i].name, impls[i].fn};
#ifdef SL_SPARSE_TEST_SIMDE
	if (n < max)
		out[n++] = (sl_test_f32_kernel){"neon-simde", sl_sparse_f32_neon_simde};
#endif
	return n;
}

uint32_t sl_test_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

void *sl_test_aligned(size_t bytes)
{
	void *p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
	if (!p)
		abort();
	return p;
}

static void range(sl_dtype t, int32_t *lo, int32_t *hi)
{
	*lo = t == SL_DTYPE_U8 ? 0 : -128;
	*hi = t == SL_DTYPE_U8 ? 255 : 127;
}

static int32_t pick_zp(sl_dtype t, int mode, uint32_t *s)
{
	int32_t lo, hi;
	range(t, &lo, &hi);
	if (mode == ZP_MIN)
		return lo;
	if (mode == ZP_MAX)
		return hi;
	return lo + (int32_t)(sl_test_rand(s) % 256);
}

static void pick_requant(int mode, uint32_t *s, int32_t *mult, int32_t *shift)
{
	int sh;
	switch (mode) {
	case SCALE_TINY: /* deep right shifts, down to -31 */
		sl_quantize_multiplier(
		    ldexp(1.0 + (sl_test_rand(s) % 1000) / 1000.0, -(int)(18 + sl_test_rand(s) % 14)), mult,
		    &sh);
		break;
	case SCALE_LARGE: /* left shifts */
		sl_quantize_multiplier(
		    ldexp(1.0 + (sl_test_rand(s) % 1000) / 1000.0, (int)(sl_test_rand(s) % 8)), mult, &sh);
		break;
	case SCALE_WILD: /* any Q31 multiplier and shift, including the extremes */
		*mult = (int32_t)(sl_test_rand(s) & 0x7fffffff);
		if (sl_test_rand(s) % 4 == 0)
			*mult = sl_test_rand(s) % 2 ? INT32_MAX : (sl_test_rand(s) % 2 ? 0 : 1 << 30);
		sh = (int)(sl_test_rand(s) % 62) - 31;
		break;
	case SCALE_TIES: /* 2^-8 .. 2^-11, exact in float too: about one output in 2^9 is a tie */
		*mult = 1 << 30;
		sh = -(int)(7 + sl_test_rand(s) % 4);
		break;
	default:
		sl_quantize_multiplier((1.0 + (sl_test_rand(s) % 1000)) * 1e-5, mult, &sh);
		break;
	}
	if (sh < -31)
		sh = -31;
	if (sh > 30)
		sh = 30;
	*shift = sh;
}

void sl_test_q8_layer_make(const sl_test_q8_case *c, sl_test_q8_layer *L)
{
	uint32_t s = c->seed * 2654435761u + 12345;
	const int n = c->n, k = c->k, nq = c->per_channel ? n : 1;
	memset(L, 0, sizeof(*L));
	L->w = malloc((size_t)n * k);
	L->bias = malloc((size_t)n * 4);
	L->w_zp = malloc((size_t)nq * 4);
	L->mult = malloc((size_t)nq * 4);
	L->shift = malloc((size_t)nq * 4);
	L->fscale = malloc((size_t)nq * sizeof(float));
	for (int q = 0; q < nq; q++) {
		L->w_zp[q] = c->w_t == SL_DTYPE_I8 && c->zp == ZP_RANDOM ? 0 : pick_zp(c->w_t, c->zp, &s);
		if (c->w_t == SL_DTYPE_U8 && c->zp == ZP_RANDOM && q % 5 == 0)
			L->w_zp[q] = 128;
		pick_requant(c->scale, &s, &L->mult[q], &L->shift[q]);
		/* XNNPACK takes scales in (0, 256); the wild ones fold into that. */
		const float real = (float)ldexp((double)L->mult[q], L->shift[q] - 31);
		L->fscale[q] = real > 0 && real < 256 ? real : (float)(q + 1) * 0.37f;
	}
	uint8_t *w = L->w;
	const int unit = c->unstructured ? 1 : 4;
	for (int i = 0; i < n; i++) {
		const int32_t zp = L->w_zp[c->per_channel ? i : 0];
		const bool empty = c->empty_rows && i % 3 == 0;
		for (int b = 0; b < k; b += unit) {
			const bool zero = empty || (double)(sl_test_rand(&s) % 10000) < c->sparsity * 10000.0;
			for (int j = b; j < b + unit && j < k; j++) {
				int32_t v = zero ? zp
						 : (int32_t)(sl_test_rand(&s) % 256) -
						       (c->w_t == SL_DTYPE_I8 ? 128 : 0);
				w[(size_t)i * k + j] = (uint8_t)v;
			}
		}
		switch (c->bias) {
		case BIAS_HUGE:
			L->bias[i] = (int32_t)sl_test_rand(&s);
			break;
		case BIAS_NONE:
			L->bias[i] = 0;
			break;
		default:
			L->bias[i] = (int32_t)(sl_test_rand(&s) % 200001) - 100000;
		}
	}
	int32_t olo, ohi;
	range(c->out_t, &olo, &ohi);
	L->d = (sl_sparse_q8_desc){.n = n,
				   .k = k,
				   .in_type = c->in_t,
				   .w_type = c->w_t,
				   .out_type = c->out_t,
				   .w = L->w,
				   .bias = c->bias == BIAS_NONE && c->seed % 2 ? NULL : L->bias,
				   .nq = nq,
				   .w_zp = (c->w_t == SL_DTYPE_I8 && c->zp == ZP_RANDOM) ? NULL : L->w_zp,
				   .mult = L->mult,
				   .shift = L->shift,
				   .in_zp = pick_zp(c->in_t, c->zp, &s),
				   .out_zp = pick_zp(c->out_t, c->zp, &s),
				   .act_min = olo,
				   .act_max = ohi};
	if (c->narrow_act) {
		L->d.act_min = olo + 20 + (int32_t)(sl_test_rand(&s) % 40);
		L->d.act_max = ohi - 20 - (int32_t)(sl_test_rand(&s) % 40);
	}
	L->m = c->m;
	L->in_stride = (size_t)k + c->in_pad;
	L->out_stride = (size_t)n + c->out_pad;
	L->a = malloc(L->m * L->in_stride + 1);
	for (size_t i = 0; i < L->m * L->in_stride; i++)
		L->a[i] = (uint8_t)sl_test_rand(&s);
}

void sl_test_q8_layer_free(sl_test_q8_layer *L)
{
	free(L->w);
	free(L->bias);
	free(L->w_zp);
	free(L->mult);
	free(L->shift);
	free(L->fscale);
	free(L->a);
}

void sl_test_q8_use_fp32(sl_test_q8_layer *L)
{
	L->d.fp32_scale = L->fscale;
	L->d.mult = NULL;
	L->d.shift = NULL;
}

void sl_test_q8_use_rndnu(sl_test_q8_layer *L)
{
	sl_test_q8_use_fp32(L);
	L->d.rndnu = true;
	for (int q = 0; q < L->d.nq; q++) {
		while (L->fscale[q] >= 256.0f)
			L->fscale[q] *= 1.0f / 256;
		while (L->fscale[q] < 0x1p-32f)
			L->fscale[q] *= 256.0f;
	}
}

void sl_test_q8_dense(const sl_test_q8_layer *L, uint8_t *out)
{
	const sl_sparse_q8_desc *d = &L->d;
	for (size_t m = 0; m < L->m; m++)
		for (int n = 0; n < d->n; n++) {
			const int q = d->nq == 1 ? 0 : n;
			const int32_t wzp = d->w_zp ? d->w_zp[q] : 0;
			/* Modulo 2^32, as TFLite's int32 accumulator (when it does not overflow). */
			uint32_t acc = d->bias ? (uint32_t)d->bias[n] : 0;
			for (int k = 0; k < d->k; k++) {
				const uint8_t ab = L->a[m * L->in_stride + k];
				const uint8_t wb = ((const uint8_t *)d->w)[(size_t)n * d->k + k];
				const int32_t a = d->in_type == SL_DTYPE_U8 ? ab : (int8_t)ab;
				const int32_t w = d->w_type == SL_DTYPE_U8 ? wb : (int8_t)wb;
				acc += (uint32_t)((a - d->in_zp) * (w - wzp));
			}
			if (d->rndnu) {
				int32_t rm = 0, rl = 0, rr = 0;
				sl_quantize_rndnu(d->fp32_scale[q], &rm, &rl, &rr);
				out[m * L->out_stride + n] = (uint8_t)sl_requantize_rndnu(
				    (int32_t)acc, rm, rl, rr, d->out_zp, d->act_min, d->act_max);
				continue;
			}
			if (d->fp32_scale) {
				out[m * L->out_stride + n] = (uint8_t)sl_requantize_fp32(
				    (int32_t)acc, d->fp32_scale[q], d->out_zp, d->act_min, d->act_max);
				continue;
			}
			int64_t y = (int64_t)d->out_zp +
				    sl_mul_by_quantized_multiplier((int32_t)acc, d->mult[q], d->shift[q]);
			y = y < d->act_min ? d->act_min : (y > d->act_max ? d->act_max : y);
			out[m * L->out_stride + n] = (uint8_t)y;
		}
}

static const char *tname(sl_dtype t)
{
	return t == SL_DTYPE_U8 ? "u8" : "i8";
}

const char *sl_test_q8_case_str(const sl_test_q8_case *c)
{
	static _Thread_local char buf[200];
	snprintf(
	    buf, sizeof(buf),
	    "m=%zu n=%d k=%d sparsity=%.2f%s in=%s w=%s out=%s %s zp=%d scale=%d bias=%d narrow=%d empty=%d "
	    "pad=%zu/%zu seed=%u",
	    c->m, c->n, c->k, c->sparsity, c->unstructured ? " (unstructured)" : "", tname(c->in_t),
	    tname(c->w_t), tname(c->out_t), c->per_channel ? "per-channel" : "per-tensor", c->zp, c->scale,
	    c->bias, c->narrow_act, c->empty_rows, c->in_pad, c->out_pad, c->seed);
	return buf;
}

static float randf(uint32_t *s)
{
	return (float)((int32_t)(sl_test_rand(s) % 20001) - 10000) / 5000.0f;
}

void sl_test_f32_layer_make(size_t m, int n, int k, double sparsity, bool clamp, uint32_t seed,
			    sl_test_f32_layer *L)
{
	uint32_t s = seed * 2654435761u + 777;
	memset(L, 0, sizeof(*L));
	L->w = malloc((size_t)n * k * sizeof(float));
	L->bias = malloc((size_t)n * sizeof(float));
	for (int i = 0; i < n; i++) {
		for (int b = 0; b < k; b += 4) {
			const bool zero = (double)(sl_test_rand(&s) % 10000) < sparsity * 10000.0;
			for (int j = b; j < b + 4 && j < k; j++)
				L->w[(size_t)i * k + j] = zero ? 0.0f : randf(&s);
		}
		L->bias[i] = randf(&s);
	}
	L->d = (sl_sparse_f32_desc){.n = n,
				    .k = k,
				    .w = L->w,
				    .bias = L->bias,
				    .out_min = clamp ? -1.5f : -INFINITY,
				    .out_max = clamp ? 2.0f : INFINITY};
	L->m = m;
	L->in_stride = (size_t)k + seed % 3;
	L->out_stride = (size_t)n + seed % 2;
	L->a = malloc((L->m * L->in_stride + 1) * sizeof(float));
	for (size_t i = 0; i < L->m * L->in_stride; i++)
		L->a[i] = randf(&s);
}

void sl_test_f32_layer_free(sl_test_f32_layer *L)
{
	free(L->w);
	free(L->bias);
	free(L->a);
}

void sl_test_f32_dense(const sl_test_f32_layer *L, float *out)
{
	for (size_t m = 0; m < L->m; m++)
		for (int n = 0; n < L->d.n; n++) {
			double acc = L->d.bias[n];
			for (int k = 0; k < L->d.k; k++)
				acc += (double)L->a[m * L->in_stride + k] * L->d.w[(size_t)n * L->d.k + k];
			acc = acc < L->d.out_min ? L->d.out_min : acc;
			out[m * L->out_stride + n] = (float)(acc > L->d.out_max ? L->d.out_max : acc);
		}
}

double sl_test_f32_tol(const sl_test_f32_layer *L, size_t m, int n)
{
	double mag = fabs(L->d.bias[n]);
	for (int k = 0; k < L->d.k; k++)
		mag += fabs((double)L->a[m * L->in_stride + k] * L->d.w[(size_t)n * L->d.k + k]);
	return 1e-6 + mag * 4.0 * (L->d.k + 4) * 1.2e-7;
}
