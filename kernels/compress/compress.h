/* Model compression: derive the variants of a model's ladder from one fp32
 * master without retraining.
 *
 * Contract shared by every variant: each keeps the source model's input
 * tensor exactly (dtype and quantization), so one preprocessing feeds every
 * rung of the ladder and the daemon can hot-swap without touching capture.
 * The fp32 master of a quantized source therefore starts with a DEQUANTIZE of
 * that input, and int8 variants start with a QUANTIZE into their own int8
 * input scale (exact when the source input is uint8: the int8 input is the
 * same scale with the zero point shifted by 128). Outputs: float32 for fp32
 * variants (the dequantized values of the source's output), int8 for int8
 * variants (softmax at TFLite's fixed 1/256 scale).
 *
 * Calibration data are model inputs already preprocessed by the caller (the
 * engine does not decode images). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "kernels/model.h"
#include "kernels/runtime.h"

typedef struct {
	int n;
	size_t bytes;  /* of one input, in the source model's input format */
	void **inputs; /* n buffers, owned by the caller */
} sl_calib_set;

typedef enum {
	SL_CALIB_MSE, /* range minimising the expected quantization error (default) */
	SL_CALIB_MINMAX,
	SL_CALIB_PERCENTILE,
} sl_calib_method;

typedef struct {
	sl_backend backend; /* to run fp32 models during calibration */
	int threads;
	sl_calib_method method;
	double percentile; /* SL_CALIB_PERCENTILE: kept mass, e.g. 99.99 */
	bool bias_correction;
	bool recovery; /* pruned variants: sequential least-squares re-fit / bias re-estimation (recover.c) */
	double damp;   /* lowest re-fit damping tried, relative to the mean Hessian diagonal */
	int positions_per_image; /* re-fit samples taken from each image and layer */
	int sens_images;	 /* images the sparsity allocation measures the network on */
	bool verbose;		 /* per-layer re-fit objectives in the progress lines */
	/* Progress lines for the caller to log (the library never prints). */
	void (*progress)(void *userdata, const char *msg);
	void *userdata;
} sl_compress_opts;

void sl_compress_opts_init(sl_compress_opts *o);
int sl_calib_method_from_string(const char *s, sl_calib_method *ret);

/* fp32 master: weights dequantized, QUANTIZE/DEQUANTIZE pairs inside the
 * graph removed, activations float. A float source is copied. */
int sl_compress_master(const sl_model *src, sl_model **ret, sl_error *err);

typedef struct sl_compress_ctx sl_compress_ctx;

/* master is referenced (not copied); cs must outlive the context. */
int sl_compress_ctx_new(sl_model *master, const sl_calib_set *cs, const sl_compress_opts *o,
			sl_compress_ctx **ret, sl_error *err);
sl_compress_ctx *sl_compress_ctx_free(sl_compress_ctx *c);
static inline void sl_compress_ctx_freep(sl_compress_ctx **c)
{
	sl_compress_ctx_free(*c);
}

/* int8 post-training quantization of fp32 (the master or a pruned variant of
 * it): per-channel symmetric weights (per-tensor for FULLY_CONNECTED, which
 * older runtimes only accept so), per-tensor asymmetric activations. */
int sl_compress_int8(sl_compress_ctx *c, const sl_model *fp32, sl_model **ret, sl_error *err);

/* Magnitude pruning to `sparsity` of all convolution/FC weights, in 1x4 blocks
 * (one output channel, four consecutive inputs; the sparse kernels' block),
 * per-layer levels chosen on the measured network; the
 * first convolution and tiny layers stay dense. Recovery per options. */
int sl_compress_sparse(sl_compress_ctx *c, double sparsity, sl_model **ret, sl_error *err);

/* Remove `fraction` of the expanded channels of every inverted-residual block
 * (1x1 expand -> depthwise -> 1x1 project), least important first. */
int sl_compress_channels(sl_compress_ctx *c, double fraction, sl_model **ret, sl_error *err);

/* Top-1 agreement of m (the master, a variant, fp32 or int8) with the master
 * on the calibration images recovery holds out (one in five): *ret_agree of
 * *ret_n. A sanity figure, optimistic for recovered variants (recovery chose
 * between its candidates on these images); sightline bench measures accuracy.
 * -EOPNOTSUPP unless m has one output of class scores. */
int sl_compress_agreement(sl_compress_ctx *c, sl_model *m, int *ret_agree, int *ret_n, sl_error *err);
/* Below this share of agreement a variant is taken as broken: sightline
 * compress warns, and the daemon's auto mode skips it until sightline bench
 * has measured it. */
#define SL_COMPRESS_BROKEN_AGREEMENT 0.5

/* Fraction of exactly-zero weights over all CONV/DEPTHWISE/FC filters. */
double sl_compress_weight_sparsity(const sl_model *m);
