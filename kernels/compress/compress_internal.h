/* Internal helpers of the compressor: graph editing, model execution with
 * observation, calibration statistics and small dense linear algebra. */
#pragma once

#include <stdarg.h>

#include "kernels/compress/compress.h"

/* ---- graph editing (graph.c) ---- */

/* Unfinalized deep copy: constant data copied into buffers the copy owns. */
int cg_clone(const sl_model *src, sl_model **ret, sl_error *err);
/* Copy without the nodes marked in drop[] and without tensors nothing uses
 * any more; finalized. tensor_map (may be NULL) receives old -> new index or -1. */
int cg_compact(const sl_model *m, const bool *drop, sl_model **ret, int *tensor_map, sl_error *err);
/* Replace constant data with buf (malloc'd, taken over), bytes long. */
int cg_set_data(sl_model *m, int t, void *buf, size_t bytes);
/* Replace quantization parameters (copies the arrays); n == 0 removes them. */
int cg_set_quant(sl_model *m, int t, int n, int axis, const float *scale, const int32_t *zp);
int cg_add_activation(sl_model *m, const sl_tensor *like, sl_dtype dtype, const char *suffix, sl_error *err);
int cg_add_node1(sl_model *m, sl_op op, int in, int out, sl_error *err);
/* Point every consumer (and graph output) of tensor `from` at `to`, except node `skip`. */
void cg_rewire(sl_model *m, int from, int to, int skip);
/* Number of nodes reading tensor t. */
int cg_consumers(const sl_model *m, int t, int *first);
/* The node writing tensor t, or -1. */
int cg_producer(const sl_model *m, int t);
/* The tensor whose distortion measures damage: the logits when the model
 * ends in a softmax, else its first output. */
int cg_logits_tensor(const sl_model *m);

int cg_fail(sl_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void cg_progress(const sl_compress_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- prunable layers (layers.c) ---- */

typedef struct {
	int node;
	sl_op op; /* CONV_2D or FULLY_CONNECTED */
	int w, b; /* tensor indices (b may be -1) */
	int in, out;
	int o, kh, kw, ci; /* filter [o][kh][kw][ci]; FC: kh = kw = 1 */
	int k;		   /* kh * kw * ci */
	bool prunable;	   /* not the first conv, not tiny, o % 4 == 0 */
} cl_layer;

int cl_find_layers(const sl_model *m, cl_layer **ret, int *ret_n);
/* The weights of node nd that the sparsity figure counts (CONV_2D,
 * DEPTHWISE_CONV_2D, FULLY_CONNECTED constant filters), or NULL. */
const sl_tensor *cl_counted_weights(const sl_model *m, const sl_node *nd);

/* ---- execution (observe.c) ---- */

/* Calibration images i with i % CO_HOLDOUT_EVERY == CO_HOLDOUT_EVERY - 1 are
 * held out of recovery's fits: they choose between its candidates, and
 * sl_compress_agreement measures on them. */
#define CO_HOLDOUT_EVERY 5

int co_runtime(sl_model *m, const sl_compress_opts *o, sl_runtime **ret, sl_error *err);
/* Copy calibration sample i into the runtime's input. */
void co_set_input(sl_runtime *rt, const sl_calib_set *cs, int i);
/* Distance of logits b from reference logits a (n values): KL(softmax a ||
 * softmax b) with kl, what a classifier's ranking feels (a plain logit error
 * also counts shifts the softmax ignores); else the squared error. */
double co_logit_dist(const float *a, const float *b, int64_t n, bool kl);

#define CO_BINS 2048
typedef struct {
	bool seen;
	float min, max;
	double *hist; /* CO_BINS over [hlo, hhi] */
	float hlo, hhi;
	int channels;	/* last dimension */
	double *ch_sum; /* per-channel sums, for input means */
	double *ch_sq;	/* per-channel sums of squares, for activation-aware pruning */
	double count;	/* values per channel */
} co_stats;

/* Statistics of every float activation of m over the calibration set. */
int co_collect(sl_model *m, const sl_calib_set *cs, const sl_compress_opts *o, co_stats **ret, sl_error *err);
void co_stats_free(co_stats *s, int n);
/* Quantization range chosen by the method. */
void co_range(const co_stats *s, const sl_compress_opts *o, float *lo, float *hi);

/* ---- linear algebra (linalg.c) ---- */

/* In-place Cholesky of an n x n SPD matrix (lower); -EDOM when not SPD. */
int la_cholesky(double *a, int n);
/* Solve L L^T x = b in place for nrhs right-hand sides stored as rows of b. */
void la_cholesky_solve(const double *l, int n, double *b, int nrhs);
/* Full inverse of A = L L^T from its Cholesky factor l; -ENOMEM. */
int la_inverse_from_cholesky(const double *l, int n, double *inv);

/* ---- OBS pruning in 1x4 blocks (obs.c) ---- */

/* Upper Cholesky factor U of (H + lambda I)^-1 (H^-1 = U^T U), what
 * SparseGPT's column-by-column elimination needs; also the lower Cholesky
 * factor of H + lambda I itself, for solving the dense re-fit. */
typedef struct {
	int n;
	double *l; /* n x n lower, row-major */
	double *u; /* n x n upper, row-major */
} ob_factors;

/* h: n x n, lower triangle used (h[i * n + j], j <= i). -EDOM when not SPD. */
int ob_factor(const double *h, int n, double lambda, ob_factors *f);
void ob_factors_free(ob_factors *f);
/* Zero `nprune` of the 1x4 blocks (four consecutive columns) among the first
 * k entries of w (length f->n; entries past k, e.g. a bias, are never
 * pruned), chosen by OBS saliency and compensated in the columns after each
 * one, in batches of 32 blocks whose selection sees the updates so far. */
void ob_prune_row(const ob_factors *f, int k, double *w, int nprune);

/* ---- re-fit (recover.c, recover_sample.c, recover_fit.c) ---- */

/* Re-fit, one after the other, every CONV_2D/FULLY_CONNECTED layer of
 * `target` (a pruned clone of the master: same node and tensor indices) from
 * the first changed one on, so that its outputs match the dense model's on
 * the calibration set. Weights of `target` are edited in place (its constant
 * buffers must be owned). */
int cr_recover(sl_compress_ctx *c, sl_model *target, sl_error *err);
/* Dense outputs sampled for recovery, shared by every variant of a context. */
struct cr_cache;
void cr_cache_free(struct cr_cache *c);

struct sl_compress_ctx {
	sl_model *master;
	const sl_calib_set *cs;
	sl_compress_opts o;
	cl_layer *layers;
	int n_layers;
	/* Network-measured allocation (prune.c): per-layer sparsities reached so
	 * far along the greedy path, shared by the variants of rising sparsity. */
	double *path_s;
	double path_kl;
	co_stats *master_stats; /* for int8 of the master */
	struct cr_cache *cache; /* recovery's dense outputs; NULL until first needed */
	int *master_top;	/* the master's top-1 on the held-out images (agree.c), or NULL */
};
