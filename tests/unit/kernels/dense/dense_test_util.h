/* Random layers for the dense NEON kernel tests, and the kernels to test: the
 * CPU-supported entries of the family lists (aarch64), or the SIMDe builds of
 * the NEON sources (x86). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/dense/dense.h"
#include "kernels/dense/dense_backend.h"

size_t sl_ntest_gemm_kernels(sl_dense_gemm_impl *out, size_t max);
size_t sl_ntest_dw_kernels(sl_dense_dw_impl *out, size_t max);
/* Both families, for sl_dense_prepare_kernels (best GEMM kernel first). */
sl_dense_kernels sl_ntest_kernels(void);

enum { ZP_RANDOM, ZP_MIN, ZP_MAX };
enum { WZP_ZERO, WZP_RANDOM };
enum { SCALE_TYPICAL, SCALE_WILD, SCALE_TINY, SCALE_HUGE };
enum { BIAS_SMALL, BIAS_HUGE, BIAS_NONE };

typedef struct {
	sl_ref_conv_geom g; /* depthwise: in_c == out_c */
	bool depthwise;
	sl_dtype in_t, w_t, out_t;
	bool per_channel;
	int zp, wzp, scale, bias;
	bool w_has_min; /* some weight is -128 (uint8: 0): no int16 pairing */
	bool narrow_act;
	bool relu; /* act_min at the output zero point, as ReLU/ReLU6 fuse */
	int threads;
	uint32_t seed;
} sl_ntest_case;

typedef struct {
	sl_ntest_case c;
	void *in, *w;
	int32_t *bias, *w_zp, *mult;
	int *shift;
	int nq;
	int32_t in_zp, out_zp, act_min, act_max;
	size_t in_bytes, out_bytes;
} sl_ntest_layer;

void sl_ntest_layer_make(const sl_ntest_case *c, sl_ntest_layer *L);
void sl_ntest_layer_free(sl_ntest_layer *L);
sl_dense_quant_desc sl_ntest_quant(const sl_ntest_layer *L);
/* The scalar reference (sl_ref_conv2d_q8 / sl_ref_dwconv2d_q8). */
void sl_ntest_ref(const sl_ntest_layer *L, void *out);
/* Runs L through the layer API (pack, plan, run with a pool of c.threads)
 * with the given kernel; 0 or the first failing call's error. */
int sl_ntest_run_gemm(const sl_ntest_layer *L, const sl_dense_gemm_impl *impl, void *out, char *why,
		      size_t why_len);
int sl_ntest_run_dw(const sl_ntest_layer *L, const sl_dense_dw_impl *impl, void *out, char *why,
		    size_t why_len);
/* One-line description for failure messages (static buffer). */
const char *sl_ntest_case_str(const sl_ntest_case *c);

uint32_t sl_ntest_rand(uint32_t *state);

/* Accumulators for the requantization tests: the int32 extremes, every power
 * of two with its neighbours and halves, then random values of every
 * magnitude and sign. Fills v[SL_NTEST_RQ_VALUES], returns the count. */
#define SL_NTEST_RQ_VALUES 4096

/* Room for every kernel of a family list and its SIMDe builds. */
#define SL_NTEST_MAX_KERNELS 16
size_t sl_ntest_requant_values(int32_t *v);
