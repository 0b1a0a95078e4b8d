/* Internal declarations of recovery (recover.c: the layer-by-layer driver;
 * recover_sample.c: sampling the dense outputs and accumulating a layer's
 * normal equations; recover_fit.c: the re-fit of one layer); not for other
 * files of the compressor. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kernels/compress/compress_internal.h"

#define BATCH_COLS 256

/* Where a layer's patches come from in a model. */
typedef struct {
	int src;     /* tensor the patches are read from */
	bool pooled; /* src is the map before a global average pool: one patch per position */
	int k;	     /* patch length without the trailing 1 */
	int npos, p; /* positions per image, patches taken per image */
} rl_geom;

struct cr_cache {
	int n;
	int *node;
	rl_geom *g;
	int *o;
	float **y; /* [image][p][o]: dense pre-activation outputs at the sampled positions */
	int lt;	   /* logits tensor */
	int64_t nl;
	float *logits; /* [image][nl] of the dense model */
};

/* ---- one layer ---- */

typedef struct {
	double *h, *g;	/* (kt+1)^2 lower, (kt+1) x o */
	double yy;	/* sum of squared dense outputs */
	double *yyr;	/* the same per row (o) */
	long n;		/* patches */
	float *xt, *yt; /* staging: [kt+1][BATCH_COLS], [o][BATCH_COLS] */
	int cols;
} acc;

typedef struct {
	int node, ci; /* ci: index into the cache */
	rl_geom gd, gt;
	int kt, ot;
	int *rowmap;	      /* target row -> dense row */
	const float *wd, *bd; /* the dense layer's weights and bias when the shapes agree, else NULL */
	acc a[2];	      /* fit, held out */
	int *pos;
	float *patch;
	int img;
} rl;

typedef struct {
	const sl_model *target;
	const struct cr_cache *cache;
	rl *l;
} layer_pass;

typedef struct {
	double mag, bias, fit, best, yy;
	int kept_fit, kept_bias;
	double damp;
} fit_report;

/* ---- sampling and accumulation (recover_sample.c) ---- */

/* The dense outputs at the sampled positions and the dense logits, once per
 * context (cc->cache). */
int cr_build_cache(sl_compress_ctx *cc, sl_error *err);
/* 1: l set up for cache entry ci; 0: the layer cannot be re-fitted (its
 * geometry or rows do not match the dense layer's); -ENOMEM. l is to be
 * freed with cr_layer_free in every case. */
int cr_setup_layer(const sl_compress_ctx *cc, sl_model *target, int ci, rl *l);
void cr_layer_free(rl *l);
/* Observer of a target pass (ud: layer_pass): accumulates the layer's patches. */
void cr_layer_observe(void *ud, int t, const void *data);
void cr_acc_flush(acc *a, int kt, int o);

/* ---- re-fit (recover_fit.c) ---- */

/* bias_only: keep every row's weights, re-estimate the biases alone. */
int cr_solve_layer(sl_model *target, rl *l, double damp_floor, bool bias_only, fit_report *rep);
/* Batch-norm re-estimation: scale and shift each row of the target layer as
 * it stands so that its output's mean and variance on the calibration
 * patches are the dense layer's. Layers without a bias are left alone (0). */
int cr_rescale_layer(sl_model *target, const rl *l);
