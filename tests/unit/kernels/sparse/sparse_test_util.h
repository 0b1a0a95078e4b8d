/* Random layers and dense naive computations for the sparse kernel tests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/sparse/sparse.h"

typedef struct {
	const char *name;
	sl_sparse_q8_fn fn;
	bool needs_w8;
	bool fp32_requant;  /* runs layers packed with fp32 scales */
	bool rndnu_requant; /* runs layers packed with rndnu */
} sl_test_q8_kernel;

typedef struct {
	const char *name;
	sl_sparse_f32_fn fn;
} sl_test_f32_kernel;

/* Every kernel runnable here (CPU-supported entries of the family lists, plus
 * the SIMDe builds of the NEON kernels on x86), the reference excluded. */
size_t sl_test_q8_kernels(sl_test_q8_kernel *out, size_t max);
size_t sl_test_f32_kernels(sl_test_f32_kernel *out, size_t max);

enum { ZP_RANDOM, ZP_MIN, ZP_MAX };
enum { SCALE_TYPICAL, SCALE_TINY, SCALE_LARGE, SCALE_WILD, SCALE_TIES };
enum { BIAS_SMALL, BIAS_HUGE, BIAS_NONE };

typedef struct {
	size_t m;
	int n, k;
	double sparsity; /* fraction of 1x4 blocks (or elements) equal to the zero point */
	bool unstructured;
	sl_dtype in_t, w_t, out_t;
	bool per_channel;
	int zp, scale, bias;
	bool narrow_act;	/* act_min/act_max inside the type range */
	bool empty_rows;	/* every third output channel all zero */
	size_t in_pad, out_pad; /* extra elements per row */
	uint32_t seed;
} sl_test_q8_case;

typedef struct {
	sl_sparse_q8_desc d;
	void *w;
	int32_t *bias, *w_zp, *mult, *shift;
	float *fscale; /* the same scales as float, for fp32 requantization (sl_test_q8_use_fp32) */
	uint8_t *a;
	size_t m, in_stride, out_stride;
} sl_test_q8_layer;

void sl_test_q8_layer_make(const sl_test_q8_case *c, sl_test_q8_layer *L);
void sl_test_q8_layer_free(sl_test_q8_layer *L);
/* Switch L to XNNPACK's fp32 requantization (d.fp32_scale = fscale). */
void sl_test_q8_use_fp32(sl_test_q8_layer *L);
/* Switch L to XNNPACK's rndnu (d.rndnu), scales folded by powers of two into
 * the range XNNPACK takes, [2^-32, 256). */
void sl_test_q8_use_rndnu(sl_test_q8_layer *L);
/* TFLite's formula straight from the dense weights (or XNNPACK's fp32 or
 * rndnu requantization when d.fp32_scale is set). */
void sl_test_q8_dense(const sl_test_q8_layer *L, uint8_t *out);
/* "m=.. n=.. k=.." description for failure messages. */
const char *sl_test_q8_case_str(const sl_test_q8_case *c);

typedef struct {
	sl_sparse_f32_desc d;
	float *w, *bias, *a;
	size_t m, in_stride, out_stride;
} sl_test_f32_layer;

void sl_test_f32_layer_make(size_t m, int n, int k, double sparsity, bool clamp, uint32_t seed,
			    sl_test_f32_layer *L);
void sl_test_f32_layer_free(sl_test_f32_layer *L);
void sl_test_f32_dense(const sl_test_f32_layer *L, float *out);
/* Error bound for comparing fp32 results of channel n of pixel m. */
double sl_test_f32_tol(const sl_test_f32_layer *L, size_t m, int n);

uint32_t sl_test_rand(uint32_t *state);
void *sl_test_aligned(size_t bytes); /* 64-byte aligned, freed with free() */
