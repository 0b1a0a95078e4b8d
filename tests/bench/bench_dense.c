/* Dense int8 kernels (every entry of the family lists this CPU runs: NEON on
 * aarch64, AVX2 on x86-64) versus the scalar reference and XNNPACK's int8
 * (qc8: per-channel weights) operators on every convolution shape of
 * MobileNet v2 (1.0, 224): the first 3x3 convolution, the depthwise 3x3
 * layers, the pointwise layers and the classifier. On aarch64 run it on the
 * target (under qemu the times mean nothing). The columns still say "neon"
 * for our kernels, whatever the ISA.
 *
 *   bench_dense [-t threads,...] [-r reps] [-l layer-substring] [-m]
 *
 * Per layer and thread count, all configurations run round-robin (so that
 * machine noise hits them alike) and the median (-m: minimum) of the reps is
 * kept; ratios are from figures of the same run. The reference runs at one
 * thread (it has no other), three reps. Every NEON output is checked bit-exact
 * against the reference. The TOTAL line weights each shape by its count in
 * the network. Last, the classifier head's pool and softmax (reference
 * against the dense backend's, one thread). */
#include <getopt.h>
#include <pthreadpool.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xnnpack.h>

#include "kernels/dense/dense.h"
#include "kernels/ref/ref_kernels.h"

typedef enum { CONV, DW, FC } kind;

typedef struct {
	const char *name;
	kind kind;
	int hw, in_c, out_c, f, stride, count;
} layer;

static const layer layers[] = {
    {"conv0 3x3/2", CONV, 224, 3, 32, 3, 2, 1},	    {"b1 dw 3x3", DW, 112, 32, 32, 3, 1, 1},
    {"b1 project", CONV, 112, 32, 16, 1, 1, 1},	    {"b2 expand", CONV, 112, 16, 96, 1, 1, 1},
    {"b2 dw 3x3/2", DW, 112, 96, 96, 3, 2, 1},	    {"b2 project", CONV, 56, 96, 24, 1, 1, 1},
    {"b3-4 expand", CONV, 56, 24, 144, 1, 1, 2},    {"b3 dw 3x3", DW, 56, 144, 144, 3, 1, 1},
    {"b3 project", CONV, 56, 144, 24, 1, 1, 1},	    {"b4 dw 3x3/2", DW, 56, 144, 144, 3, 2, 1},
    {"b4 project", CONV, 28, 144, 32, 1, 1, 1},	    {"b5-7 expand", CONV, 28, 32, 192, 1, 1, 3},
    {"b5-6 dw 3x3", DW, 28, 192, 192, 3, 1, 2},	    {"b5-6 project", CONV, 28, 192, 32, 1, 1, 2},
    {"b7 dw 3x3/2", DW, 28, 192, 192, 3, 2, 1},	    {"b7 project", CONV, 14, 192, 64, 1, 1, 1},
    {"b8-11 expand", CONV, 14, 64, 384, 1, 1, 4},   {"b8-11 dw 3x3", DW, 14, 384, 384, 3, 1, 4},
    {"b8-10 project", CONV, 14, 384, 64, 1, 1, 3},  {"b11 project", CONV, 14, 384, 96, 1, 1, 1},
    {"b12-14 expand", CONV, 14, 96, 576, 1, 1, 3},  {"b12-13 dw 3x3", DW, 14, 576, 576, 3, 1, 2},
    {"b12-13 project", CONV, 14, 576, 96, 1, 1, 2}, {"b14 dw 3x3/2", DW, 14, 576, 576, 3, 2, 1},
    {"b14 project", CONV, 7, 576, 160, 1, 1, 1},    {"b15-17 expand", CONV, 7, 160, 960, 1, 1, 3},
    {"b15-17 dw 3x3", DW, 7, 960, 960, 3, 1, 3},    {"b15-16 project", CONV, 7, 960, 160, 1, 1, 2},
    {"b17 project", CONV, 7, 960, 320, 1, 1, 1},    {"last conv", CONV, 7, 320, 1280, 1, 1, 1},
    {"classifier FC", FC, 1, 1280, 1001, 1, 1, 1},
};

#define MAX_IMPL 4 /* NEON configurations per layer */

static uint32_t rng = 0x2545F491u;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
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

static bool use_min;
static double stat(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return use_min ? v[0] : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

/* TensorFlow's SAME padding. */
static sl_ref_conv_geom geom_of(const layer *L)
{
	const int out = (L->hw + L->stride - 1) / L->stride;
	const int pad = (out - 1) * L->stride + L->f - L->hw;
	return (sl_ref_conv_geom){.batch = 1,
				  .in_h = L->hw,
				  .in_w = L->hw,
				  .in_c = L->in_c,
				  .out_h = out,
				  .out_w = out,
				  .out_c = L->out_c,
				  .filter_h = L->f,
				  .filter_w = L->f,
				  .stride_h = L->stride,
				  .stride_w = L->stride,
				  .dilation_h = 1,
				  .dilation_w = 1,
				  .pad_top = pad > 0 ? pad / 2 : 0,
				  .pad_left = pad > 0 ? pad / 2 : 0,
				  .groups = 1,
				  .depth_multiplier = 1};
}

typedef struct {
	char name[32];
	sl_dense_gemm *gemm;
	sl_dense_conv *conv;
	sl_dense_dw *dw;
	sl_dense_dwconv *dwc;
} neon_cfg;

static void run_cfg(neon_cfg *c, const void *in, void *out, pthreadpool_t pool)
{
	if (c->conv)
		sl_dense_conv_run(c->conv, in, out, pool);
	else
		sl_dense_dwconv_run(c->dwc, in, out, pool);
}

/* The other ends of the network, which XNNPACK declines under TFLite numerics
 * too: TF2 MobileNet v2's MEAN (7x7x1280 int8) and a 224x224x3 input's
 * QUANTIZE, from float and from uint8 (a sign flip in the shared models). */
static bool bench_edges(int reps)
{
	const size_t nm = 7 * 7 * 1280, nq = 224 * 224 * 3;
	uint8_t *min = malloc(nm), *qu8 = malloc(nq), *o1 = malloc(nq), *o2 = malloc(nq);
	float *qf = malloc(sizeof(float) * nq);
	uint32_t *acc = malloc(sizeof(uint32_t) * 1280);
	double *t = malloc(sizeof(double) * 6 * (size_t)reps);
	if (!min || !qu8 || !o1 || !o2 || !qf || !acc || !t)
		return false;
	for (size_t i = 0; i < nm; i++)
		min[i] = (uint8_t)rnd();
	for (size_t i = 0; i < nq; i++) {
		qu8[i] = (uint8_t)rnd();
		qf[i] = (float)qu8[i] / 127.5f - 1.0f;
	}
	sl_ref_mean_q8_args ma = {.g = {.rank = 4, .in_dims = {1, 7, 7, 1280}, .axes_mask = 0x6},
				  .type = SL_DTYPE_I8,
				  .input = min,
				  .in_zp = -128,
				  .out_zp = -128};
	sl_ref_mean_q8_params(0.0235f, 0.0191f, &ma);
	uint8_t lut[256];
	sl_ref_requantize_table(SL_DTYPE_U8, 0.0078125f, 128, SL_DTYPE_I8, 0.0078125f, 0, lut);
	bool same = true;
	for (int r = 0; r < reps; r++) {
		double t0 = now();
		ma.output = o1;
		sl_ref_mean_q8(&ma);
		double t1 = now();
		ma.output = o2;
		sl_dense_mean_hw_q8(&ma, acc);
		double t2 = now();
		same &= memcmp(o1, o2, 1280) == 0;
		sl_ref_quantize_f32(qf, o1, nq, SL_DTYPE_I8, 0.0078125f, 0);
		double t3 = now();
		sl_dense_quantize_f32(qf, o2, nq, SL_DTYPE_I8, 0.0078125f, 0);
		double t4 = now();
		same &= memcmp(o1, o2, nq) == 0;
		for (size_t i = 0; i < nq; i++) /* the reference's table walk */
			o1[i] = lut[qu8[i]];
		double t5 = now();
		sl_dense_xor_bytes(qu8, o2, nq, 0x80);
		double t6 = now();
		same &= memcmp(o1, o2, nq) == 0;
		t[r] = t1 - t0;
		t[reps + r] = t2 - t1;
		t[2 * reps + r] = t4 - t3;
		t[3 * reps + r] = t3 - t2;
		t[4 * reps + r] = t5 - t4;
		t[5 * reps + r] = t6 - t5;
	}
	double m[6];
	for (int i = 0; i < 6; i++)
		m[i] = 1e6 * stat(t + (size_t)i * reps, reps);
	printf("network edges, 1 thread: mean 7x7x1280 int8 ref %.1f us, dense %.1f us (%.1fx); quantize "
	       "224x224x3 float ref %.1f us, dense %.1f us (%.1fx); uint8 table %.1f us, sign flip %.1f us "
	       "(%.1fx); %s\n",
	       m[0], m[1], m[0] / m[1], m[3], m[2], m[3] / m[2], m[4], m[5], m[4] / m[5],
	       same ? "bit-exact" : "DIFFERENT");
	free(min);
	free(qu8);
	free(o1);
	free(o2);
	free(qf);
	free(acc);
	free(t);
	return same;
}

/* The classifier head's int8 AVERAGE_POOL_2D (7x7x1280, global) and SOFTMAX
 * (1001), which XNNPACK declines under TFLite numerics: the reference against
 * pool_softmax.c, one thread, reps alternated. false if the bytes differ. */
static bool bench_head(int reps)
{
	const sl_ref_pool_geom g = {.batch = 1,
				    .in_h = 7,
				    .in_w = 7,
				    .c = 1280,
				    .out_h = 1,
				    .out_w = 1,
				    .filter_h = 7,
				    .filter_w = 7,
				    .stride_h = 1,
				    .stride_w = 1};
	const size_t np = 7 * 7 * 1280, ns = 1001;
	uint8_t *pin = malloc(np), *sin = malloc(ns), *o1 = malloc(1280 + ns), *o2 = malloc(1280 + ns);
	uint32_t *acc = malloc(sl_dense_avgpool_q8_scratch(&g));
	sl_dense_softmax_tab *tab = malloc(sizeof(*tab));
	double *t = malloc(sizeof(double) * 4 * (size_t)reps);
	if (!pin || !sin || !o1 || !o2 || !acc || !tab || !t)
		return false;
	for (size_t i = 0; i < np; i++)
		pin[i] = (uint8_t)rnd();
	for (size_t i = 0; i < ns; i++)
		sin[i] = (uint8_t)(rnd() % 120); /* logits of a few LSB spread, as the classifier's */
	sl_ref_pool_q8_args pa = {.g = g, .type = SL_DTYPE_I8, .input = pin, .act_min = -128, .act_max = 127};
	sl_ref_softmax_q8_args sa = {
	    .in_type = SL_DTYPE_I8, .out_type = SL_DTYPE_I8, .outer = 1, .depth = (int)ns, .input = sin};
	sl_ref_softmax_q8_params(1.0f, 0.0914f, &sa);
	sl_dense_softmax_q8_init(&sa, tab);
	for (int r = 0; r < reps; r++) {
		double t0 = now();
		pa.output = o1;
		sl_ref_avgpool_q8(&pa);
		double t1 = now();
		pa.output = o2;
		sl_dense_avgpool_q8(&pa, acc);
		double t2 = now();
		sa.output = o1 + 1280;
		sl_ref_softmax_q8(&sa);
		double t3 = now();
		sl_dense_softmax_q8(tab, sin, o2 + 1280);
		double t4 = now();
		t[r] = t1 - t0;
		t[reps + r] = t2 - t1;
		t[2 * reps + r] = t3 - t2;
		t[3 * reps + r] = t4 - t3;
	}
	const bool same = memcmp(o1, o2, 1280 + ns) == 0;
	const double p_ref = stat(t, reps), p_d = stat(t + reps, reps), s_ref = stat(t + 2 * reps, reps),
		     s_d = stat(t + 3 * reps, reps);
	printf("\nclassifier head, 1 thread: avgpool 7x7x1280 int8 ref %.1f us, dense %.1f us (%.1fx); "
	       "softmax 1001 int8 ref %.1f us, dense %.1f us (%.1fx); %s\n",
	       1e6 * p_ref, 1e6 * p_d, p_ref / p_d, 1e6 * s_ref, 1e6 * s_d, s_ref / s_d,
	       same ? "bit-exact" : "DIFFERENT");
	free(pin);
	free(sin);
	free(o1);
	free(o2);
	free(acc);
	free(tab);
	free(t);
	return same && bench_edges(reps);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_neon [-t 1,2] [-r reps] [-l layer-substring] [-m]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int threads[4] = {1, 2}, n_threads = 2, reps = 15;
	const char *only = NULL;
	for (int o; (o = getopt(argc, argv, "t:r:l:m")) != -1;) {
		switch (o) {
		case 't':
			n_threads = 0;
			for (char *s = optarg; s && *s && n_threads < 4;
			     s = strchr(s, ',') ? strchr(s, ',') + 1 : NULL)
				threads[n_threads++] = atoi(s);
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		case 'l':
			only = optarg;
			break;
		case 'm':
			use_min = true;
			break;
		default:
			usage();
		}
	}
	if (reps < 1 || n_threads < 1)
		usage();
	if (xnn_initialize(NULL) != xnn_status_success) {
		fprintf(stderr, "xnn_initialize failed\n");
		return 1;
	}
	size_t n_gemm = 0;
	const sl_dense_gemm_impl *gemm_impls = sl_dense_gemm_impls(&n_gemm);
	if (!n_gemm)
		printf("NEON kernels not built for this architecture: reference and XNNPACK only\n");
	printf("MobileNet v2 int8 layers, median of %d reps; ratios = time / NEON best (>1: NEON faster)\n\n",
	       reps);

	/* per thread count: reference, XNNPACK, NEON depthwise, NEON GEMM per kernel */
	double tot_ref[4] = {0}, tot_xnn[4] = {0}, tot_dw[4] = {0}, tot_gemm[4][MAX_IMPL] = {{0}};
	char cfg_names[MAX_IMPL][32] = {{0}};
	int n_cfg_max = 0;
	bool all_exact = true;
	for (size_t li = 0; li < sizeof(layers) / sizeof(layers[0]); li++) {
		const layer *L = &layers[li];
		if (only && !strstr(L->name, only))
			continue;
		sl_ref_conv_geom g = geom_of(L);
		const bool dw = L->kind == DW;
		const size_t in_bytes = (size_t)g.in_h * g.in_w * g.in_c,
			     out_bytes = (size_t)g.out_h * g.out_w * g.out_c;
		const size_t k = dw ? (size_t)L->f * L->f : (size_t)L->f * L->f * g.in_c;
		const size_t w_bytes = dw ? k * (size_t)g.out_c : k * (size_t)g.out_c;
		const double macs = (double)g.out_h * g.out_w * g.out_c * (double)k;
		int8_t *in = malloc(in_bytes + 64), *w = malloc(w_bytes);
		uint8_t *o_ref = malloc(out_bytes), *o_neon = malloc(out_bytes),
			*o_xnn = malloc(out_bytes + 64);
		int32_t *bias = malloc((size_t)g.out_c * 4), *mult = malloc((size_t)g.out_c * 4),
			*zp = calloc((size_t)g.out_c, 4);
		int *shift = malloc((size_t)g.out_c * sizeof(int));
		float *wscale = malloc((size_t)g.out_c * sizeof(float));
		for (size_t i = 0; i < in_bytes; i++)
			in[i] = (int8_t)rnd();
		for (size_t i = 0; i < w_bytes; i++)
			w[i] = (int8_t)((int)(rnd() % 255) - 127);
		const float in_scale = 0.02f, out_scale = 0.05f;
		for (int c = 0; c < g.out_c; c++) {
			bias[c] = (int32_t)(rnd() % 20001) - 10000;
			wscale[c] = (float)(0.0005 + 0.002 * (rnd() % 1000) / 1000.0) * 8.0f / (float)k;
		}
		const int32_t in_zp = -128, out_zp = -5;
		sl_ref_conv_q8_multipliers(in_scale, wscale, g.out_c, out_scale, mult, shift);
		const sl_dense_quant_desc q = {.in_type = SL_DTYPE_I8,
					       .w_type = SL_DTYPE_I8,
					       .out_type = SL_DTYPE_I8,
					       .nq = g.out_c,
					       .w_zp = zp,
					       .mult = mult,
					       .shift = shift,
					       .bias = bias,
					       .in_zp = in_zp,
					       .out_zp = out_zp,
					       .act_min = -128,
					       .act_max = 127};
		const sl_ref_conv_q8_args ra = {.g = g,
						.in_type = SL_DTYPE_I8,
						.filter_type = SL_DTYPE_I8,
						.out_type = SL_DTYPE_I8,
						.input = in,
						.filter = w,
						.bias = bias,
						.output = o_ref,
						.in_zp = in_zp,
						.out_zp = out_zp,
						.per_channel = true,
						.filter_zp = zp,
						.mult = mult,
						.shift = shift,
						.act_min = -128,
						.act_max = 127};
		double tr[3];
		for (int r = 0; r < 3; r++) {
			const double t0 = now();
			(dw ? sl_ref_dwconv2d_q8 : sl_ref_conv2d_q8)(&ra);
			tr[r] = now() - t0;
		}
		const double t_ref = stat(tr, 3);

		for (int ti = 0; ti < n_threads; ti++) {
			pthreadpool_t pool = threads[ti] > 1 ? pthreadpool_create((size_t)threads[ti]) : NULL;
			neon_cfg cfg[MAX_IMPL];
			int n_cfg = 0;
			sl_error err = {{0}};
			if (dw) {
				size_t n_dw;
				sl_dense_dw_impls(&n_dw);
				neon_cfg *c = &cfg[0];
				memset(c, 0, sizeof(*c));
				if (n_dw && sl_dense_dw_pack(g.in_c, (int)k, w, &q, &c->dw, &err) == 0) {
					const sl_dense_dw_impl *impl = sl_dense_dw_select(c->dw, &g);
					if (impl && sl_dense_dwconv_new(&g, c->dw, impl, threads[ti], &c->dwc,
									&err) == 0) {
						snprintf(c->name, sizeof(c->name), "%s", impl->name);
						n_cfg = 1;
					}
				}
			} else {
				for (size_t i = 0; i < n_gemm && n_cfg < MAX_IMPL; i++) {
					if ((gemm_impls[i].isa & sl_dense_cpu_isa()) != gemm_impls[i].isa)
						continue;
					neon_cfg *c = &cfg[n_cfg];
					memset(c, 0, sizeof(*c));
					if (sl_dense_gemm_pack(g.out_c, (int)k, w, &q, gemm_impls[i].layout,
							       &c->gemm, &err) ||
					    sl_dense_conv_new(&g, c->gemm, &gemm_impls[i], threads[ti],
							      &c->conv, &err)) {
						fprintf(stderr, "%s: %s\n", L->name, err.msg);
						return 1;
					}
					snprintf(c->name, sizeof(c->name), "%s", gemm_impls[i].name);
					n_cfg++;
				}
			}
			/* XNNPACK: qc8 convolution; depthwise with its depthwise flag
			 * (weights 1HWC like TFLite's), FC as a 1x1 convolution. */
			xnn_operator_t xop = NULL;
			const uint32_t pb = (uint32_t)((g.out_h - 1) * L->stride + L->f - L->hw - g.pad_top);
			const uint32_t pr = (uint32_t)((g.out_w - 1) * L->stride + L->f - L->hw - g.pad_left);
			const enum xnn_status xs = xnn_create_convolution2d_nhwc_qc8(
			    (uint32_t)g.pad_top, pr, pb, (uint32_t)g.pad_left, (uint32_t)L->f, (uint32_t)L->f,
			    (uint32_t)L->stride, (uint32_t)L->stride, 1, 1, dw ? (uint32_t)g.in_c : 1,
			    dw ? 1 : (size_t)g.in_c, dw ? 1 : (size_t)g.out_c, (size_t)g.in_c,
			    (size_t)g.out_c, (int8_t)in_zp, in_scale, wscale, w, bias, (int8_t)out_zp,
			    out_scale, -128, 127, dw ? XNN_FLAG_DEPTHWISE_CONVOLUTION : 0, &xop);
			if (xs != xnn_status_success ||
			    xnn_setup_convolution2d_nhwc_qc8(xop, 1, (size_t)g.in_h, (size_t)g.in_w, in,
							     (int8_t *)o_xnn, pool) != xnn_status_success) {
				fprintf(stderr, "%s: XNNPACK operator failed\n", L->name);
				return 1;
			}
			double tx[reps], tn[MAX_IMPL][reps];
			xnn_run_operator(xop, pool);
			for (int c = 0; c < n_cfg; c++) {
				memset(o_neon, 0x55, out_bytes);
				run_cfg(&cfg[c], in, o_neon, pool);
				if (memcmp(o_neon, o_ref, out_bytes)) {
					fprintf(stderr, "%s: %s output differs from the reference\n", L->name,
						cfg[c].name);
					all_exact = false;
				}
			}
			for (int r = 0; r < reps; r++) {
				double t0 = now();
				xnn_run_operator(xop, pool);
				tx[r] = now() - t0;
				for (int c = 0; c < n_cfg; c++) {
					t0 = now();
					run_cfg(&cfg[c], in, o_neon, pool);
					tn[c][r] = now() - t0;
				}
			}
			const double t_xnn = stat(tx, reps);
			double best = 0;
			printf("%-15s %2dT %6.1f MMAC  ref %8.3f ms  xnnpack %7.3f ms", ti ? "" : L->name,
			       threads[ti], macs / 1e6, 1e3 * t_ref, 1e3 * t_xnn);
			tot_ref[ti] += L->count * t_ref;
			tot_xnn[ti] += L->count * t_xnn;
			for (int c = 0; c < n_cfg; c++) {
				const double t = stat(tn[c], reps);
				best = c == 0 || t < best ? t : best;
				printf("  %s %7.3f ms (%5.2f MAC/ns)", cfg[c].name, 1e3 * t, macs / t * 1e-9);
				if (dw) {
					tot_dw[ti] += L->count * t;
				} else {
					tot_gemm[ti][c] += L->count * t;
					memcpy(cfg_names[c], cfg[c].name, sizeof(cfg_names[c]));
					n_cfg_max = n_cfg > n_cfg_max ? n_cfg : n_cfg_max;
				}
			}
			if (n_cfg)
				printf("  | ref/neon %6.1fx  xnn/neon %5.2fx", t_ref / best, t_xnn / best);
			printf("\n");
			xnn_delete_operator(xop);
			for (int c = 0; c < n_cfg; c++) {
				sl_dense_conv_free(cfg[c].conv);
				sl_dense_gemm_free(cfg[c].gemm);
				sl_dense_dwconv_free(cfg[c].dwc);
				sl_dense_dw_free(cfg[c].dw);
			}
			if (pool)
				pthreadpool_destroy(pool);
		}
		free(in);
		free(w);
		free(o_ref);
		free(o_neon);
		free(o_xnn);
		free(bias);
		free(mult);
		free(zp);
		free(shift);
		free(wscale);
	}
	printf("\nTOTAL (each shape times its count in the network; NEON = that GEMM kernel + the depthwise "
	       "kernels)\n");
	for (int ti = 0; ti < n_threads; ti++) {
		printf("  %dT: ref %8.2f ms  xnnpack %7.2f ms", threads[ti], 1e3 * tot_ref[ti],
		       1e3 * tot_xnn[ti]);
		for (int c = 0; c < n_cfg_max; c++) {
			const double t = tot_gemm[ti][c] + tot_dw[ti];
			printf("  neon[%s] %7.2f ms (ref/neon %.1fx, xnn/neon %.2fx)", cfg_names[c], 1e3 * t,
			       tot_ref[ti] / t, tot_xnn[ti] / t);
		}
		printf("\n");
	}
	if (!only || strstr("classifier head", only))
		all_exact &= bench_head(reps);
	printf("\nbit-exact with the reference: %s\n", all_exact ? "yes" : "NO");
	return all_exact ? 0 : 1;
}
