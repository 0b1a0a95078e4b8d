#include "dense_test_util.h"

#include <errno.h>
#include <math.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/dense/dense_kernels.h"

size_t sl_ntest_gemm_kernels(sl_dense_gemm_impl *out, size_t max)
{
	size_t n = 0;
	/* the native family list (NEON on aarch64, AVX2 on x86-64), as far as
	 * this CPU runs it; then, on x86, the NEON kernels through SIMDe */
	size_t cnt;
	const sl_dense_gemm_impl *l0 = sl_dense_gemm_impls(&cnt);
	for (size_t i = 0; i < cnt && n < max; i++)
		if ((l0[i].isa & sl_dense_cpu_isa()) == l0[i].isa)
			out[n++] = l0[i];
#if defined(SL_DENSE_TEST_SIMDE) && !defined(__aarch64__)
	const sl_dense_gemm_impl l[] = {
	    {"sdot 8x8 (SIMDe)", 0, SL_DENSE_LAYOUT_DOT_8, SL_DENSE_GEMM_MR_DOT, sl_dense_gemm_sdot_8x8_simde,
	     NULL},
	    {"smlal 4x4 (SIMDe)", 0, SL_DENSE_LAYOUT_C16_4, SL_DENSE_GEMM_MR_C16,
	     sl_dense_gemm_smlal_4x4_simde, NULL},
	};
	for (size_t i = 0; i < sizeof(l) / sizeof(l[0]) && n < max; i++)
		out[n++] = l[i];
#endif
	return n;
}

size_t sl_ntest_dw_kernels(sl_dense_dw_impl *out, size_t max)
{
	size_t n = 0;
	size_t cnt;
	const sl_dense_dw_impl *l0 = sl_dense_dw_impls(&cnt);
	for (size_t i = 0; i < cnt && n < max; i++)
		if ((l0[i].isa & sl_dense_cpu_isa()) == l0[i].isa)
			out[n++] = l0[i];
#if defined(SL_DENSE_TEST_SIMDE) && !defined(__aarch64__)
	const sl_dense_dw_impl l[] = {
	    {"dw 3x3s1 smlal8 (SIMDe)", 0,
	     SL_DENSE_DW_NEEDS_FAST | SL_DENSE_DW_NEEDS_3X3 | SL_DENSE_DW_NEEDS_S1,
	     sl_dense_dw_3x3s1_smlal8_simde},
	    {"dw 3x3 smlal8 (SIMDe)", 0, SL_DENSE_DW_NEEDS_FAST | SL_DENSE_DW_NEEDS_3X3,
	     sl_dense_dw_3x3_smlal8_simde},
	    {"dw smlal8 (SIMDe)", 0, SL_DENSE_DW_NEEDS_FAST, sl_dense_dw_any_smlal8_simde},
	    {"dw smlal16 (SIMDe)", 0, 0, sl_dense_dw_any_smlal16_simde},
	    {"dw 3x3 smlal16 (SIMDe)", 0, SL_DENSE_DW_NEEDS_3X3, sl_dense_dw_3x3_smlal16_simde},
	};
	for (size_t i = 0; i < sizeof(l) / sizeof(l[0]) && n < max; i++)
		out[n++] = l[i];
#endif
	return n;
}

sl_dense_kernels sl_ntest_kernels(void)
{
	static sl_dense_gemm_impl g[SL_NTEST_MAX_KERNELS];
	static sl_dense_dw_impl d[SL_NTEST_MAX_KERNELS];
	const size_t ng = sl_ntest_gemm_kernels(g, SL_NTEST_MAX_KERNELS),
		     nd = sl_ntest_dw_kernels(d, SL_NTEST_MAX_KERNELS);
	return (sl_dense_kernels){
	    .gemm = ng ? &g[0] : NULL, .dw = d, .n_dw = nd, .add = sl_dense_add_select()};
}

uint32_t sl_ntest_rand(uint32_t *s)
{
	/* xorshift32; the state must not be 0 */
	uint32_t x = *s ? *s : 0x9e3779b9u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

static int32_t rnd(uint32_t *s, int32_t lo, int32_t hi)
{
	return lo + (int32_t)(sl_ntest_rand(s) % (uint32_t)(hi - lo + 1));
}

static double rndf(uint32_t *s)
{
	return (sl_ntest_rand(s) & 0xffffff) / 16777216.0;
}

static int32_t type_min(sl_dtype t)
{
	return t == SL_DTYPE_U8 ? 0 : -128;
}

static int32_t pick_zp(sl_dtype t, int mode, uint32_t *s)
{
	const int32_t lo = type_min(t);
	return mode == ZP_MIN ? lo : mode == ZP_MAX ? lo + 255 : rnd(s, lo, lo + 255);
}

void sl_ntest_layer_make(const sl_ntest_case *c, sl_ntest_layer *L)
{
	memset(L, 0, sizeof(*L));
	L->c = *c;
	const sl_ref_conv_geom *g = &c->g;
	uint32_t s = c->seed * 2654435761u + 17;
	const int n = g->out_c;
	const size_t k = (size_t)g->filter_h * g->filter_w * (c->depthwise ? 1 : (size_t)g->in_c);
	const size_t w_bytes = (size_t)n * k;
	L->in_bytes = (size_t)g->batch * g->in_h * g->in_w * g->in_c;
	L->out_bytes = (size_t)g->batch * g->out_h * g->out_w * g->out_c;
	/* exact sizes, so that an out-of-bounds read shows under ASan */
	L->in = malloc(L->in_bytes);
	L->w = malloc(w_bytes);
	uint8_t *in = L->in, *w = L->w;
	for (size_t i = 0; i < L->in_bytes; i++)
		in[i] = (uint8_t)sl_ntest_rand(&s);
	const bool wu8 = c->w_t == SL_DTYPE_U8;
	for (size_t i = 0; i < w_bytes; i++) {
		/* int8 -128 is raw byte 0x80; uint8 0 is -128 in the kernels' domain */
		uint8_t v = (uint8_t)sl_ntest_rand(&s);
		if (!c->w_has_min && v == (wu8 ? 0 : 0x80))
			v ^= 1;
		w[i] = v;
	}
	if (c->w_has_min)
		w[sl_ntest_rand(&s) % w_bytes] = wu8 ? 0 : 0x80;

	L->nq = c->per_channel ? n : 1;
	L->w_zp = calloc((size_t)L->nq, sizeof(int32_t));
	L->mult = calloc((size_t)L->nq, sizeof(int32_t));
	L->shift = calloc((size_t)L->nq, sizeof(int));
	float *scale = calloc((size_t)L->nq, sizeof(float));
	/* Typical: outputs spread over a few dozen steps for random data. */
	const double typical = 30.0 / (sqrt((double)k) * 64.0 * 64.0);
	for (int i = 0; i < L->nq; i++) {
		if (c->wzp == WZP_RANDOM)
			L->w_zp[i] = rnd(&s, type_min(c->w_t), type_min(c->w_t) + 255);
		else
			L->w_zp[i] = wu8 ? 128 : 0;
		double real;
		switch (c->scale) {
		case SCALE_WILD:
			real = ldexp(0.5 + 0.5 * rndf(&s), rnd(&s, -31, 8));
			break;
		case SCALE_TINY:
			real = ldexp(0.5 + 0.5 * rndf(&s), rnd(&s, -31, -20));
			break;
		case SCALE_HUGE:
			real = ldexp(0.5 + 0.5 * rndf(&s), rnd(&s, 1, 20));
			break;
		default:
			real = typical * (0.5 + 1.5 * rndf(&s));
			break;
		}
		scale[i] = (float)real;
	}
	sl_ref_conv_q8_multipliers(1.0f, scale, L->nq, 1.0f, L->mult, L->shift);
	free(scale);

	if (c->bias != BIAS_NONE) {
		L->bias = malloc((size_t)n * sizeof(int32_t));
		for (int i = 0; i < n; i++) {
			if (c->bias == BIAS_HUGE)
				L->bias[i] = (int32_t)sl_ntest_rand(&s);
			else
				L->bias[i] = rnd(&s, -3000, 3000);
		}
		if (c->bias == BIAS_HUGE && n > 1) {
			L->bias[0] = INT32_MAX;
			L->bias[1] = INT32_MIN;
		}
	}
	L->in_zp = pick_zp(c->in_t, c->zp, &s);
	L->out_zp = pick_zp(c->out_t, (c->zp + 1) % 3, &s);
	L->act_min = type_min(c->out_t);
	L->act_max = L->act_min + 255;
	if (c->narrow_act) {
		L->act_min += rnd(&s, 0, 100);
		L->act_max -= rnd(&s, 0, 100);
	}
	if (c->relu) {
		L->act_min = L->out_zp;
		L->act_max = SL_MIN(L->act_max, L->out_zp + 75);
	}
}

void sl_ntest_layer_free(sl_ntest_layer *L)
{
	free(L->in);
	free(L->w);
	free(L->bias);
	free(L->w_zp);
	free(L->mult);
	free(L->shift);
	memset(L, 0, sizeof(*L));
}

sl_dense_quant_desc sl_ntest_quant(const sl_ntest_layer *L)
{
	return (sl_dense_quant_desc){.in_type = L->c.in_t,
				     .w_type = L->c.w_t,
				     .out_type = L->c.out_t,
				     .nq = L->nq,
				     .w_zp = L->w_zp,
				     .mult = L->mult,
				     .shift = L->shift,
				     .bias = L->bias,
				     .in_zp = L->in_zp,
				     .out_zp = L->out_zp,
				     .act_min = L->act_min,
				     .act_max = L->act_max};
}

void sl_ntest_ref(const sl_ntest_layer *L, void *out)
{
	const sl_ref_conv_q8_args a = {.g = L->c.g,
				       .in_type = L->c.in_t,
				       .filter_type = L->c.w_t,
				       .out_type = L->c.out_t,
				       .input = L->in,
				       .filter = L->w,
				       .bias = L->bias,
				       .output = out,
				       .in_zp = L->in_zp,
				       .out_zp = L->out_zp,
				       .per_channel = L->nq > 1,
				       .filter_zp = L->w_zp,
				       .mult = L->mult,
				       .shift = L->shift,
				       .act_min = L->act_min,
				       .act_max = L->act_max};
	(L->c.depthwise ? sl_ref_dwconv2d_q8 : sl_ref_conv2d_q8)(&a);
}

int sl_ntest_run_gemm(const sl_ntest_layer *L, const sl_dense_gemm_impl *impl, void *out, char *why,
		      size_t why_len)
{
	const sl_ref_conv_geom *g = &L->c.g;
	const sl_dense_quant_desc q = sl_ntest_quant(L);
	sl_error err = {{0}};
	sl_dense_gemm *p = NULL;
	sl_dense_conv *conv = NULL;
	int r = sl_dense_gemm_pack(g->out_c, g->filter_h * g->filter_w * g->in_c, L->w, &q, impl->layout, &p,
				   &err);
	if (r == 0)
		r = sl_dense_conv_new(g, p, impl, L->c.threads, &conv, &err);
	if (r == 0) {
		pthreadpool_t pool = L->c.threads > 1 ? pthreadpool_create((size_t)L->c.threads) : NULL;
		sl_dense_conv_run(conv, L->in, out, pool);
		if (pool)
			pthreadpool_destroy(pool);
		snprintf(why, why_len, "%s%s%s%s", sl_dense_conv_direct(conv) ? "direct" : "packed",
			 p->cw ? " rowsum" : "", p->pair_ok ? " pair" : " nopair",
			 sl_dense_layout_wide(p->layout) ? " wide" : "");
	} else {
		snprintf(why, why_len, "%s", err.msg);
	}
	sl_dense_conv_free(conv);
	sl_dense_gemm_free(p);
	return r;
}

int sl_ntest_run_dw(const sl_ntest_layer *L, const sl_dense_dw_impl *impl, void *out, char *why,
		    size_t why_len)
{
	const sl_ref_conv_geom *g = &L->c.g;
	const sl_dense_quant_desc q = sl_ntest_quant(L);
	sl_error err = {{0}};
	sl_dense_dw *p = NULL;
	sl_dense_dwconv *dw = NULL;
	int r = sl_dense_dw_pack(g->in_c, g->filter_h * g->filter_w, L->w, &q, &p, &err);
	if (r == 0 && !sl_dense_dw_usable(impl, p, g)) {
		sl_dense_dw_free(p);
		return -EOPNOTSUPP;
	}
	if (r == 0)
		r = sl_dense_dwconv_new(g, p, impl, L->c.threads, &dw, &err);
	if (r == 0) {
		pthreadpool_t pool = L->c.threads > 1 ? pthreadpool_create((size_t)L->c.threads) : NULL;
		sl_dense_dwconv_run(dw, L->in, out, pool);
		if (pool)
			pthreadpool_destroy(pool);
		snprintf(why, why_len, "%s", p->fast ? "fast" : "int16");
	} else {
		snprintf(why, why_len, "%s", err.msg);
	}
	sl_dense_dwconv_free(dw);
	sl_dense_dw_free(p);
	return r;
}

const char *sl_ntest_case_str(const sl_ntest_case *c)
{
	static char buf[320];
	const sl_ref_conv_geom *g = &c->g;
	snprintf(
	    buf, sizeof(buf),
	    "%s b%d %dx%dx%d -> %dx%dx%d f%dx%d s%d,%d d%d,%d p%d,%d %s/%s/%s %s zp%d wzp%d scale%d bias%d "
	    "wmin%d narrow%d relu%d thr%d seed%u",
	    c->depthwise ? "dw" : "conv", g->batch, g->in_h, g->in_w, g->in_c, g->out_h, g->out_w, g->out_c,
	    g->filter_h, g->filter_w, g->stride_h, g->stride_w, g->dilation_h, g->dilation_w, g->pad_top,
	    g->pad_left, sl_dtype_name(c->in_t), sl_dtype_name(c->w_t), sl_dtype_name(c->out_t),
	    c->per_channel ? "per-chan" : "per-tensor", c->zp, c->wzp, c->scale, c->bias, c->w_has_min,
	    c->narrow_act, c->relu, c->threads, c->seed);
	return buf;
}

size_t sl_ntest_requant_values(int32_t *v)
{
	size_t n = 0;
	const int32_t fixed[] = {INT32_MIN, INT32_MIN + 1, INT32_MIN + 2, -2, -1, 0, 1,
				 2,	    INT32_MAX - 1, INT32_MAX};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		v[n++] = fixed[i];
	for (int e = 0; e < 31; e++) {
		const int32_t p = (int32_t)1 << e;
		const int32_t c[] = {p,	     p - 1,	p + 1,	      -p,	    -p + 1,
				     -p - 1, p + p / 2, -(p + p / 2), p / 2 * 3 + 1};
		for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
			v[n++] = c[i];
	}
	uint32_t s = 12345;
	while (n < SL_NTEST_RQ_VALUES) {
		const uint32_t r = sl_ntest_rand(&s);
		v[n++] = (int32_t)(r >> (sl_ntest_rand(&s) % 32));
		v[n - 1] = (sl_ntest_rand(&s) & 1) ? v[n - 1] : (int32_t)(0u - (uint32_t)v[n - 1]);
	}
	return n;
}
