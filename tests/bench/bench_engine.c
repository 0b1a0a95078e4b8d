/* Engine benchmark: whole-model latency of the reference and the XNNPACK
 * backends at 1 and 2 threads, measured in the same run, with the ratios. The
 * XNNPACK backend runs twice: with TFLite numerics (the default: int8 layers
 * on our bit-exact kernels) and with fast numerics (XNNPACK's own int8
 * kernels, what LiteRT's XNNPACK delegate runs).
 *
 *   bench_engine [--runs N] [--ref-runs N] [--warmup N] [MODEL.tflite...]
 *
 * Without models it times the int8 and the uint8 MobileNet v2 from the shared
 * folder ($SL_SHARED_DIR, else the one configured at build time). The input is
 * a fixed pseudo-random image: latency does not depend on the pixels. Timing
 * is noisy on a shared machine: compare the ratios, not the absolute times. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/macros.h"
#include "kernels/model.h"
#include "kernels/runtime.h"
#include "kernels/tflite/tflite.h"

#ifndef SL_BENCH_SHARED_DIR
#define SL_BENCH_SHARED_DIR "../shared"
#endif

typedef struct {
	sl_backend backend;
	sl_numerics numerics;
	int threads;
	double p50, p95, mean;
	int xnn_nodes, n_nodes;
	int ok;
} config;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	const double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
static double percentile(const double *v, int n, double p)
{
	int rank = (int)(p / 100.0 * n + 0.999999);
	rank = rank < 1 ? 1 : (rank > n ? n : rank);
	return v[rank - 1];
}

static void fill_inputs(sl_runtime *rt)
{
	sl_model *m = sl_runtime_model(rt);
	uint32_t s = 12345;
	for (int i = 0; i < m->n_inputs; i++) {
		const sl_tensor *t = sl_runtime_input_tensor(rt, i);
		uint8_t *p = sl_runtime_input(rt, i);
		if (t->dtype == SL_DTYPE_F32) {
			float *f = (float *)p;
			for (size_t k = 0; k < t->bytes / sizeof(float); k++) {
				s = s * 1664525u + 1013904223u;
				f[k] = (float)(s >> 24);
			}
		} else {
			for (size_t k = 0; k < t->bytes; k++) {
				s = s * 1664525u + 1013904223u;
				p[k] = (uint8_t)(s >> 24);
			}
		}
	}
}

static int time_config(sl_model *m, config *c, int warmup, int runs)
{
	sl_error err = {{0}};
	_cleanup_(sl_runtime_freep) sl_runtime *rt = NULL;
	const sl_runtime_options opt = {
	    .backend = c->backend, .numerics = c->numerics, .threads = c->threads};
	int r = sl_runtime_new(m, &opt, &rt, &err);
	if (r < 0) {
		fprintf(stderr, "  %s/%d: runtime: %s\n", sl_backend_name(c->backend), c->threads,
			err.msg[0] ? err.msg : sl_strerror(r));
		return r;
	}
	c->n_nodes = sl_runtime_n_steps(rt);
	for (int i = 0; i < c->n_nodes; i++)
		c->xnn_nodes += sl_runtime_step(rt, i)->impl == SL_IMPL_XNNPACK;
	fill_inputs(rt);
	for (int i = 0; i < warmup; i++)
		if ((r = sl_runtime_invoke(rt)) < 0)
			return r;
	double *t = calloc((size_t)runs, sizeof(double));
	if (!t)
		return -ENOMEM;
	double sum = 0;
	for (int i = 0; i < runs; i++) {
		const double t0 = now_ms();
		r = sl_runtime_invoke(rt);
		t[i] = now_ms() - t0;
		sum += t[i];
		if (r < 0) {
			free(t);
			return r;
		}
	}
	qsort(t, (size_t)runs, sizeof(double), cmp_double);
	c->p50 = percentile(t, runs, 50);
	c->p95 = percentile(t, runs, 95);
	c->mean = sum / runs;
	c->ok = 1;
	free(t);
	return 0;
}

static int bench_model(const char *path, int warmup, int runs, int ref_runs)
{
	sl_error err = {{0}};
	_cleanup_(sl_model_unrefp) sl_model *m = NULL;
	int r = sl_tflite_load_file(path, &m, &err);
	if (r == 0 && !m->order)
		r = sl_model_finalize(m, &err);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", path, err.msg[0] ? err.msg : sl_strerror(r));
		return r;
	}
	printf("\n%s (%d nodes, arena %zu KiB)\n", path, m->n_nodes, m->arena_size >> 10);
	config cs[6] = {
	    {.backend = SL_BACKEND_REF, .threads = 1},
	    {.backend = SL_BACKEND_REF, .threads = 2},
	    {.backend = SL_BACKEND_XNNPACK, .numerics = SL_NUMERICS_TFLITE, .threads = 1},
	    {.backend = SL_BACKEND_XNNPACK, .numerics = SL_NUMERICS_TFLITE, .threads = 2},
	    {.backend = SL_BACKEND_XNNPACK, .numerics = SL_NUMERICS_FAST, .threads = 1},
	    {.backend = SL_BACKEND_XNNPACK, .numerics = SL_NUMERICS_FAST, .threads = 2},
	};
	printf("  %-8s %-8s %7s %5s %10s %10s %10s %12s\n", "backend", "numerics", "threads", "runs",
	       "p50 ms", "p95 ms", "mean ms", "xnnpack/all");
	for (int i = 0; i < 6; i++) {
		const bool ref = cs[i].backend == SL_BACKEND_REF;
		const int n = ref ? ref_runs : runs;
		if (time_config(m, &cs[i], ref ? SL_MIN(warmup, 1) : warmup, n) < 0)
			continue;
		printf("  %-8s %-8s %7d %5d %10.2f %10.2f %10.2f %8d/%d\n", sl_backend_name(cs[i].backend),
		       ref ? "-" : sl_numerics_name(cs[i].numerics), cs[i].threads, n, cs[i].p50, cs[i].p95,
		       cs[i].mean, cs[i].xnn_nodes, cs[i].n_nodes);
		fflush(stdout);
	}
	/* Ratios of medians, all from this run. */
	for (int i = 2; i < 6; i++)
		if (cs[0].ok && cs[i].ok)
			printf("  speed-up xnnpack/%s/%d over ref/1: %.1fx\n",
			       sl_numerics_name(cs[i].numerics), cs[i].threads, cs[0].p50 / cs[i].p50);
	for (int t = 0; t < 2; t++)
		if (cs[2 + t].ok && cs[4 + t].ok)
			printf("  tflite numerics vs fast, %d thread(s): %.2fx the time\n", t + 1,
			       cs[2 + t].p50 / cs[4 + t].p50);
	for (int i = 2; i < 6; i += 2)
		if (cs[i].ok && cs[i + 1].ok)
			printf("  xnnpack/%s scaling 1 -> 2 threads: %.2fx\n",
			       sl_numerics_name(cs[i].numerics), cs[i].p50 / cs[i + 1].p50);
	if (cs[0].ok && cs[1].ok)
		printf("  ref scaling 1 -> 2 threads: %.2fx\n", cs[0].p50 / cs[1].p50);
	return 0;
}

static int parse_count(const char *s, int *ret)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 1 || v > 100000)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	int warmup = 3, runs = 30, ref_runs = 5, first_model = argc;
	for (int i = 1; i < argc; i += 2) {
		int *dst = NULL;
		if (strcmp(argv[i], "--runs") == 0)
			dst = &runs;
		else if (strcmp(argv[i], "--ref-runs") == 0)
			dst = &ref_runs;
		else if (strcmp(argv[i], "--warmup") == 0)
			dst = &warmup;
		else if (argv[i][0] == '-') {
			fprintf(stderr,
				"usage: %s [--runs N] [--ref-runs N] [--warmup N] [MODEL.tflite...]\n",
				argv[0]);
			return 2;
		} else {
			first_model = i;
			break;
		}
		if (i + 1 >= argc || parse_count(argv[i + 1], dst) < 0) {
			fprintf(stderr, "%s needs a count between 1 and 100000\n", argv[i]);
			return 2;
		}
	}
	printf("bench_engine: warm-up %d, %d timed runs (reference: %d)\n", warmup, runs, ref_runs);
	int failed = 0;
	if (first_model < argc) {
		for (int i = first_model; i < argc; i++)
			failed |= bench_model(argv[i], warmup, runs, ref_runs) < 0;
		return failed;
	}
	const char *dir = getenv("SL_SHARED_DIR");
	if (!dir || !*dir)
		dir = SL_BENCH_SHARED_DIR;
	static const char *const models[] = {"tf2_mobilenet_v2_1.0_224_ptq.tflite",
					     "mobilenet_v2_1.0_224_quant.tflite"};
	for (size_t i = 0; i < SL_ARRAY_SIZE(models); i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/models/%s", dir, models[i]);
		failed |= bench_model(path, warmup, runs, ref_runs) < 0;
	}
	return failed;
}
