/* Sparse int8 1x1 convolution versus XNNPACK's dense int8 (qc8) operator and
 * our dense scalar reference on MobileNet v2's pointwise layers at 224x224.
 *
 *   bench_sparse [-t threads,...] [-s sparsity%,...] [-r reps] [-k kernel] [-u] [-l layer] [-m] [-f]
 *
 * For each distinct layer shape, every configuration runs in round-robin
 * (so that machine noise hits them alike) and the median time (-m: the
 * minimum) is kept; ratios are computed from figures of the same run. Weights are pruned in the packed
 * format's 1x4 blocks (-u: unstructured, element-wise pruning instead), the
 * pruned blocks chosen uniformly at random with the exact target fraction. The
 * sparse result is checked bit-exact against the dense scalar reference.
 *
 * -f: our layers requantize as XNNPACK does (fp32 scales, as the runtime's
 * fast numerics), the baseline's own arithmetic; their outputs are then
 * checked bit-exact against XNNPACK run on the same pruned weights.
 *
 * -d: the baseline is our own dense GEMM (kernels/dense, the best this CPU
 * runs) instead of XNNPACK: what a sparse layer competes with under TFLite
 * numerics, where the runtime runs dense int8 convolutions on it. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xnnpack.h>

#include "common/macros.h"
#include "kernels/dense/dense.h"
#include "kernels/quant.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/sparse/sparse.h"

typedef struct {
	const char *blocks; /* where it occurs in the network */
	int hw, k, n, count;
	bool relu6; /* fused as in the network: expansions and the last conv clamp, projections do not */
} layer;

/* Pointwise convolutions of MobileNet v2 (1.0, 224): expansion and projection of
 * the 17 bottlenecks plus the last 1x1 conv; M = hw * hw pixels. */
static const layer layers[] = {
    {"b1 project", 112, 32, 16, 1, false},     {"b2 expand", 112, 16, 96, 1, true},
    {"b2 project", 56, 96, 24, 1, false},      {"b3-4 expand", 56, 24, 144, 2, true},
    {"b3 project", 56, 144, 24, 1, false},     {"b4 project", 28, 144, 32, 1, false},
    {"b5-7 expand", 28, 32, 192, 3, true},     {"b5-6 project", 28, 192, 32, 2, false},
    {"b7 project", 14, 192, 64, 1, false},     {"b8-11 expand", 14, 64, 384, 4, true},
    {"b8-10 project", 14, 384, 64, 3, false},  {"b11 project", 14, 384, 96, 1, false},
    {"b12-14 expand", 14, 96, 576, 3, true},   {"b12-13 project", 14, 576, 96, 2, false},
    {"b14 project", 7, 576, 160, 1, false},    {"b15-17 expand", 7, 160, 960, 3, true},
    {"b15-16 project", 7, 960, 160, 2, false}, {"b17 project", 7, 960, 320, 1, false},
    {"last conv", 7, 320, 1280, 1, true},
};

#define MAX_SP 8

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	const double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static bool use_min_stat;

/* Median of the reps, or their minimum (-m: on a loaded machine, where
 * descheduled threads stall pthreadpool's barriers for whole time slices). */
static double stat(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	if (use_min_stat)
		return v[0];
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Zero exactly round(s * total) units (1x4 blocks or single weights). */
static void prune(int8_t *w, int n, int k, double s, bool unstructured)
{
	const int unit = unstructured ? 1 : 4, kb = (k + unit - 1) / unit;
	const size_t total = (size_t)n * (size_t)kb, zero = (size_t)(s * (double)total + 0.5);
	uint32_t *order = malloc(total * sizeof(*order));
	for (size_t i = 0; i < total; i++)
		order[i] = (uint32_t)i;
	for (size_t i = total; i > 1; i--) {
		const size_t j = rnd() % i;
		const uint32_t t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
	for (size_t i = 0; i < zero; i++) {
		const int r = (int)(order[i] / (uint32_t)kb), b = (int)(order[i] % (uint32_t)kb);
		for (int j = b * unit; j < b * unit + unit && j < k; j++)
			w[(size_t)r * k + j] = 0;
	}
	free(order);
}

typedef struct {
	const char *name;
	double t1[MAX_SP + 2], t2[MAX_SP + 2]; /* per thread count */
} result;

static void usage(void)
{
	fprintf(stderr, "usage: bench_sparse [-t 1,2] [-s 70,80,90] [-r reps] [-k kernel] [-u] [-l "
			"layer-index] [-m] [-f] [-d]\n");
	exit(2);
}

static int parse_list(const char *s, int *v, int max)
{
	int n = 0;
	while (*s && n < max) {
		v[n++] = atoi(s);
		s = strchr(s, ',');
		if (!s)
			break;
		s++;
	}
	return n;
}

int main(int argc, char **argv)
{
	int threads[4] = {1, 2}, n_threads = 2, sp[MAX_SP] = {70, 80, 90}, n_sp = 3, reps = 15, only = -1;
	const char *kernel = NULL;
	bool unstructured = false, use_min = false, fp32 = false, our_dense = false;
	for (int o; (o = getopt(argc, argv, "t:s:r:k:ul:mfd")) != -1;) {
		switch (o) {
		case 't':
			n_threads = parse_list(optarg, threads, 4);
			break;
		case 's':
			n_sp = parse_list(optarg, sp, MAX_SP);
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		case 'k':
			kernel = optarg;
			break;
		case 'u':
			unstructured = true;
			break;
		case 'l':
			only = atoi(optarg);
			break;
		case 'm':
			use_min = true;
			break;
		case 'f':
			fp32 = true;
			break;
		case 'd':
			our_dense = true;
			break;
		default:
			usage();
		}
	}
	if (reps < 1 || n_threads < 1 || n_sp < 1)
		usage();
	use_min_stat = use_min;
	if (xnn_initialize(NULL) != xnn_status_success) {
		fprintf(stderr, "xnn_initialize failed\n");
		return 1;
	}
	size_t n_impl;
	const sl_sparse_q8_impl *impls = sl_sparse_q8_impls(&n_impl), *impl = sl_sparse_q8_select(NULL);
	if (kernel) {
		impl = NULL;
		for (size_t i = 0; i < n_impl; i++)
			if (!strcmp(impls[i].name, kernel))
				impl = &impls[i];
		if (!impl || !sl_sparse_q8_usable(impl, NULL)) {
			fprintf(stderr, "kernel %s not available on this CPU\n", kernel);
			return 1;
		}
	}
	const sl_dense_gemm_impl *dense_impl = our_dense ? sl_dense_gemm_select() : NULL;
	if (our_dense && (fp32 || !dense_impl)) {
		fprintf(stderr, "-d: %s\n",
			fp32 ? "the dense kernels round as TFLite does, not -f"
			     : "no dense GEMM kernel on this CPU");
		return 1;
	}
	if (fp32 && !impl->fp32_requant) {
		fprintf(stderr, "kernel %s has no fp32 requantization\n", impl->name);
		return 1;
	}
	printf("sparse kernel: %s, baseline: %s, pruning: %s, requantization: %s, reps: %d (%s), times in "
	       "microseconds\n",
	       impl->name, dense_impl ? dense_impl->name : "XNNPACK qc8",
	       unstructured ? "unstructured" : "1x4 blocks",
	       fp32 ? "fp32 (XNNPACK's)" : "TFLite's (gemmlowp)", reps, use_min ? "minimum" : "median");

	const int n_layers = (int)(sizeof(layers) / sizeof(layers[0]));
	double tot_xnn[4] = {0}, tot_ref = 0, tot_sp[4][MAX_SP] = {{0}};
	bool all_exact = true;
	for (int ti = 0; ti < n_threads; ti++) {
		pthreadpool_t pool = threads[ti] > 1 ? pthreadpool_create((size_t)threads[ti]) : NULL;
		printf("\n== %d thread%s ==\n", threads[ti], threads[ti] > 1 ? "s" : "");
		const char *base = dense_impl ? "dense" : "xnn";
		printf("%-15s %4s %4s %5s %5s %9s", "layer", "x", "hw", "K", "N", base);
		if (ti == 0)
			printf(" %10s", "dense-ref");
		for (int s = 0; s < n_sp; s++)
			printf("  %7s%-3d %3s/sp", "sp", sp[s], base);
		printf("\n");
		for (int li = 0; li < n_layers; li++) {
			if (only >= 0 && li != only)
				continue;
			const layer *L = &layers[li];
			const size_t m = (size_t)L->hw * L->hw, k = (size_t)L->k, n = (size_t)L->n;
			int8_t *a = malloc(m * k), *wd = malloc(n * k);
			int8_t *o_xnn = malloc(m * n), *o_ref = malloc(m * n), *o_sp = malloc(m * n);
			int32_t *bias = malloc(n * 4), *mult = malloc(n * 4), *shift = malloc(n * 4);
			int *ishift = malloc(n * sizeof(int));
			float *wscale = malloc(n * 4), *fscale = malloc(n * 4);
			const float in_scale = 0.02f, out_scale = 0.08f;
			const int32_t in_zp = -10, out_zp = 5;
			/* ReLU6 on the output grid: [q(0), q(6)] */
			const int32_t act_min = L->relu6 ? out_zp : -128,
				      act_max = L->relu6
						    ? SL_MIN(127, out_zp + (int32_t)lroundf(6.0f / out_scale))
						    : 127;
			for (size_t i = 0; i < m * k; i++)
				a[i] = (int8_t)(rnd() % 256 - 128);
			for (size_t i = 0; i < n * k; i++)
				wd[i] = (int8_t)(rnd() % 255 - 127);
			for (size_t i = 0; i < n; i++) {
				wscale[i] = 0.002f + 0.004f * (float)(rnd() % 1000) / 1000.0f;
				bias[i] = (int32_t)(rnd() % 20001) - 10000;
				sl_quantize_multiplier((double)in_scale * wscale[i] / out_scale, &mult[i],
						       &ishift[i]);
				shift[i] = ishift[i];
				fscale[i] = in_scale * wscale[i] / out_scale; /* as XNNPACK computes it */
			}
			/* Per sparsity level: pruned weights, packed layer, XNNPACK op on the same weights.
			 */
			sl_sparse_q8 *packed[MAX_SP] = {0};
			xnn_operator_t xop[MAX_SP + 1] = {0};
			int8_t *wsp[MAX_SP];
			for (int s = 0; s <= n_sp; s++) {
				int8_t *ws = s < n_sp ? malloc(n * k) : wd;
				if (s < n_sp) {
					memcpy(ws, wd, n * k);
					prune(ws, (int)n, (int)k, sp[s] / 100.0, unstructured);
					wsp[s] = ws;
					sl_sparse_q8_desc d = {.n = (int)n,
							       .k = (int)k,
							       .in_type = SL_DTYPE_I8,
							       .w_type = SL_DTYPE_I8,
							       .out_type = SL_DTYPE_I8,
							       .w = ws,
							       .bias = bias,
							       .nq = (int)n,
							       .mult = mult,
							       .shift = shift,
							       .fp32_scale = fp32 ? fscale : NULL,
							       .in_zp = in_zp,
							       .out_zp = out_zp,
							       .act_min = act_min,
							       .act_max = act_max};
					sl_error err;
					if (sl_sparse_q8_pack(&d, SL_SPARSE_PACK_W8, &packed[s], &err) < 0) {
						fprintf(stderr, "pack: %s\n", err.msg);
						return 1;
					}
				}
				/* Only the dense-weight XNNPACK op (s == n_sp) is timed: its speed does not
				 * depend on the values, and it is what pruning competes with. */
				if (s == n_sp &&
				    xnn_create_convolution2d_nhwc_qc8(
					0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, k, n, k, n, (int8_t)in_zp, in_scale,
					wscale, ws, bias, (int8_t)out_zp, out_scale, (int8_t)act_min,
					(int8_t)act_max, 0, &xop[s]) != xnn_status_success) {
					fprintf(stderr, "xnn_create_convolution2d_nhwc_qc8 failed\n");
					return 1;
				}
			}
			if (xnn_setup_convolution2d_nhwc_qc8(xop[n_sp], 1, (size_t)L->hw, (size_t)L->hw, a,
							     o_xnn, pool) != xnn_status_success) {
				fprintf(stderr, "xnn_setup_convolution2d_nhwc_qc8 failed\n");
				return 1;
			}
			size_t scratch_bytes = 0;
			for (int s = 0; s < n_sp; s++) {
				const size_t b = sl_sparse_q8_scratch_bytes(packed[s]);
				scratch_bytes = b > scratch_bytes ? b : scratch_bytes;
			}
			sl_sparse_scratch *scratch;
			if (sl_sparse_scratch_new(scratch_bytes, threads[ti], &scratch) < 0)
				return 1;

			/* Dense scalar reference: correctness anchor, timed once per rep at 1 thread. */
			sl_ref_conv_q8_args ref = {.g = {.batch = 1,
							 .in_h = L->hw,
							 .in_w = L->hw,
							 .in_c = (int)k,
							 .out_h = L->hw,
							 .out_w = L->hw,
							 .out_c = (int)n,
							 .filter_h = 1,
							 .filter_w = 1,
							 .stride_h = 1,
							 .stride_w = 1,
							 .dilation_h = 1,
							 .dilation_w = 1,
							 .groups = 1},
						   .in_type = SL_DTYPE_I8,
						   .filter_type = SL_DTYPE_I8,
						   .out_type = SL_DTYPE_I8,
						   .input = a,
						   .bias = bias,
						   .output = o_ref,
						   .in_zp = in_zp,
						   .out_zp = out_zp,
						   .per_channel = true,
						   .mult = mult,
						   .shift = ishift,
						   .act_min = act_min,
						   .act_max = act_max};
			int32_t *fzp = calloc(n, sizeof(int32_t));
			ref.filter_zp = fzp;
			/* -d: the dense weights on our GEMM, the reference's geometry */
			sl_dense_gemm *dgemm = NULL;
			sl_dense_conv *dconv = NULL;
			if (dense_impl) {
				const sl_dense_quant_desc dq = {.in_type = SL_DTYPE_I8,
								.w_type = SL_DTYPE_I8,
								.out_type = SL_DTYPE_I8,
								.nq = (int)n,
								.w_zp = fzp,
								.mult = mult,
								.shift = ishift,
								.bias = bias,
								.in_zp = in_zp,
								.out_zp = out_zp,
								.act_min = act_min,
								.act_max = act_max};
				sl_error derr = {{0}};
				if (sl_dense_gemm_pack((int)n, (int)k, wd, &dq, dense_impl->layout, &dgemm,
						       &derr) < 0 ||
				    sl_dense_conv_new(&ref.g, dgemm, dense_impl, threads[ti], &dconv, &derr) <
					0) {
					fprintf(stderr, "dense: %s\n", derr.msg);
					return 1;
				}
			}
#define RUN_BASE()                                                                                           \
	(dconv ? sl_dense_conv_run(dconv, a, o_xnn, pool) : (void)xnn_run_operator(xop[n_sp], pool))
			const int with_ref = ti == 0;
			double *tx = malloc((size_t)reps * sizeof(double)),
			       *tr = malloc((size_t)reps * sizeof(double));
			double *ts[MAX_SP];
			for (int s = 0; s < n_sp; s++)
				ts[s] = malloc((size_t)reps * sizeof(double));
			/* Warm up everything once (XNNPACK packs weights lazily, caches, clocks). */
			RUN_BASE();
			for (int s = 0; s < n_sp; s++)
				sl_sparse_q8_run(impl, packed[s], m, a, k, o_sp, n, pool, 0, scratch);
			for (int r = 0; r < reps; r++) {
				double t0 = now();
				RUN_BASE();
				tx[r] = now() - t0;
				for (int s = 0; s < n_sp; s++) {
					t0 = now();
					sl_sparse_q8_run(impl, packed[s], m, a, k, o_sp, n, pool, 0, scratch);
					ts[s][r] = now() - t0;
				}
				if (with_ref && r < 3) {
					t0 = now();
					ref.filter = wsp[n_sp - 1];
					sl_ref_conv2d_q8(&ref);
					tr[r] = now() - t0;
				}
			}
			/* Bit-exactness of every sparsity level against the dense reference
			 * (-f: against XNNPACK on the same pruned weights). */
			for (int s = 0; s < n_sp; s++) {
				if (fp32) {
					xnn_operator_t op = NULL;
					if (xnn_create_convolution2d_nhwc_qc8(
						0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, k, n, k, n, (int8_t)in_zp,
						in_scale, wscale, wsp[s], bias, (int8_t)out_zp, out_scale,
						(int8_t)act_min, (int8_t)act_max, 0,
						&op) != xnn_status_success ||
					    xnn_setup_convolution2d_nhwc_qc8(op, 1, (size_t)L->hw,
									     (size_t)L->hw, a, o_ref,
									     pool) != xnn_status_success ||
					    xnn_run_operator(op, pool) != xnn_status_success) {
						fprintf(stderr, "XNNPACK on the pruned weights failed\n");
						return 1;
					}
					xnn_delete_operator(op);
				} else {
					ref.filter = wsp[s];
					sl_ref_conv2d_q8(&ref);
				}
				sl_sparse_q8_run(impl, packed[s], m, a, k, o_sp, n, pool, 0, scratch);
				if (memcmp(o_ref, o_sp, m * n)) {
					all_exact = false;
					printf("!! %s at %d%%: sparse output differs from %s\n", L->blocks,
					       sp[s], fp32 ? "XNNPACK" : "the dense reference");
				}
			}
			const double x = stat(tx, reps);
			printf("%-15s %4d %4d %5zu %5zu %9.1f", L->blocks, L->count, L->hw, k, n, 1e6 * x);
			tot_xnn[ti] += L->count * x;
			if (with_ref) {
				const double rr = stat(tr, reps < 3 ? reps : 3);
				printf(" %10.1f", 1e6 * rr);
				tot_ref += L->count * rr;
			}
			for (int s = 0; s < n_sp; s++) {
				const double t = stat(ts[s], reps);
				tot_sp[ti][s] += L->count * t;
				printf("  %10.1f %5.2fx", 1e6 * t, x / t);
			}
			printf("\n");
			fflush(stdout);
			for (int s = 0; s < n_sp; s++) {
				free(ts[s]);
				free(wsp[s]);
				sl_sparse_q8_free(packed[s]);
			}
#undef RUN_BASE
			xnn_delete_operator(xop[n_sp]);
			sl_dense_conv_free(dconv);
			sl_dense_gemm_free(dgemm);
			sl_sparse_scratch_free(scratch);
			free(tx);
			free(tr);
			free(fzp);
			free(a);
			free(wd);
			free(o_xnn);
			free(o_ref);
			free(o_sp);
			free(bias);
			free(mult);
			free(shift);
			free(ishift);
			free(wscale);
			free(fscale);
		}
		printf("%-15s %4s %4s %5s %5s %9.1f", "TOTAL (x count)", "", "", "", "", 1e6 * tot_xnn[ti]);
		if (ti == 0)
			printf(" %10.1f", 1e6 * tot_ref);
		for (int s = 0; s < n_sp; s++)
			printf("  %10.1f %5.2fx", 1e6 * tot_sp[ti][s], tot_xnn[ti] / tot_sp[ti][s]);
		printf("\n");
		if (pool)
			pthreadpool_destroy(pool);
	}
	printf("\nsparse outputs %s %s\n", all_exact ? "bit-exact with" : "DIFFER from",
	       fp32 ? "XNNPACK on the same pruned weights" : "the dense scalar reference");
	return all_exact ? 0 : 1;
}
