/* End-to-end mixed execution: MobileNet v2 int8 with every 1x1 convolution
 * pruned to a fraction of zero 1x4 blocks, dense XNNPACK (no_sparse) versus
 * mixed (sparse kernels for the pruned layers, XNNPACK for the rest) at 1 and
 * 2 threads, all in the same run.
 *
 *   bench_sparse_e2e [-r runs] [-w warmup] [-s sparsity%] [-g gap_ms] [-b] [-y] [-p] [-v] [MODEL.tflite]
 *
 * -v: per sparse step, dense and sparse minimum times. -g: pause before each
 * timed invocation (default 60 ms; see gap()). -b: each configuration's runs
 * back to back instead of round-robin (use with -g 0). -y: the runtimes send
 * their workers to sleep after each invocation (yield_workers), -p: pin the
 * threads to CPUs (pin_threads); the daemon does both.
 *
 * Pruning is by magnitude, per layer: the blocks with the smallest sum of
 * |w - zp| * scale become the zero point, in a copy of the weights owned by
 * the model (the file's bytes stay untouched). The four runtimes are timed in
 * round-robin so that machine noise hits them alike; p50 per configuration
 * and the ratios come from this one run. The output of the mixed runtime is
 * compared with the dense one: bit-exact where the sparse kernels requantize
 * as XNNPACK does under fast numerics (sl_sparse_fast_requant: always on x86,
 * with the NEON kernels on aarch64),
 * else within the rounding steps that TFLite's and XNNPACK's arithmetic
 * differ by. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/model.h"
#include "kernels/runtime.h"
#include "kernels/tflite/tflite.h"

#ifndef SL_BENCH_SHARED_DIR
#define SL_BENCH_SHARED_DIR "../shared"
#endif

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* pthreadpool's workers spin after each parallel call before they sleep:
 * a fixed number of iterations, 4 ms to a few tens of ms on this loaded VM.
 * Timed back to back, a 2-thread runtime's spinning worker takes a core from
 * whatever runs next: the mixed 2-thread runtime, right after the dense one,
 * lost 2-4 ms per invocation at its first parallel step with a 20 ms pause
 * (bench_sparse_e2e -v), none with 60 ms. A pause between invocations lets
 * every idle pool fall asleep, as it does in the daemon between frames. */
static int gap_ms = 60;

static void gap(void)
{
	const struct timespec ts = {.tv_sec = gap_ms / 1000, .tv_nsec = (long)(gap_ms % 1000) * 1000000L};
	if (gap_ms > 0)
		nanosleep(&ts, NULL);
}

static int cmp_double(const void *a, const void *b)
{
	const double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

typedef struct {
	double score;
	int c, b;
} block;

static int cmp_block(const void *a, const void *b)
{
	const double x = ((const block *)a)->score, y = ((const block *)b)->score;
	return (x > y) - (x < y);
}

/* Prunes one CONV_2D 1x1 weight tensor [n][1][1][k] (8-bit or fp32) in a copy. */
static int prune_tensor(sl_model *m, sl_tensor *w, double frac)
{
	const int n = w->dims[0], k = w->dims[3], kb = (k + 3) / 4;
	const bool u8 = w->dtype == SL_DTYPE_U8;
	uint8_t *copy = malloc(w->bytes);
	block *bl = malloc(sizeof(block) * (size_t)n * (size_t)kb);
	if (!copy || !bl || sl_model_own(m, copy) < 0) {
		free(bl);
		return -1;
	}
	memcpy(copy, w->data, w->bytes);
	for (int c = 0; c < n; c++) {
		const int qi = w->q.n > 1 ? c : 0;
		const int32_t zp = w->q.n ? w->q.zero_point[qi] : 0;
		const double sc = w->q.n ? w->q.scale[qi] : 1.0;
		for (int b = 0; b < kb; b++) {
			double s = 0;
			for (int j = 4 * b; j < k && j < 4 * b + 4; j++) {
				const size_t i = (size_t)c * (size_t)k + (size_t)j;
				if (w->dtype == SL_DTYPE_F32)
					s += fabs((double)((const float *)(const void *)copy)[i]);
				else
					s += fabs((double)((u8 ? copy[i] : (int8_t)copy[i]) - zp));
			}
			bl[(size_t)c * (size_t)kb + (size_t)b] = (block){s * sc, c, b};
		}
	}
	const size_t total = (size_t)n * (size_t)kb, drop = (size_t)(frac * (double)total + 0.5);
	qsort(bl, total, sizeof(block), cmp_block);
	for (size_t i = 0; i < drop; i++) {
		const int c = bl[i].c, qi = w->q.n > 1 ? c : 0;
		const int32_t zp = w->q.n ? w->q.zero_point[qi] : 0;
		for (int j = 4 * bl[i].b; j < k && j < 4 * bl[i].b + 4; j++)
			if (w->dtype == SL_DTYPE_F32)
				((float *)(void *)copy)[(size_t)c * (size_t)k + (size_t)j] = 0.0f;
			else
				copy[(size_t)c * (size_t)k + (size_t)j] = (uint8_t)zp;
	}
	free(bl);
	w->data = copy;
	return 0;
}

static int prune_pointwise(sl_model *m, double frac)
{
	int count = 0;
	for (int i = 0; i < m->n_nodes; i++) {
		const sl_node *nd = &m->nodes[i];
		if (nd->op != SL_OP_CONV_2D || nd->n_inputs < 2 || nd->inputs[1] < 0)
			continue;
		sl_tensor *w = &m->tensors[nd->inputs[1]];
		if (w->rank != 4 || w->dims[1] != 1 || w->dims[2] != 1 || w->kind != SL_TENSOR_CONST ||
		    (w->dtype != SL_DTYPE_I8 && w->dtype != SL_DTYPE_U8 && w->dtype != SL_DTYPE_F32))
			continue;
		if (prune_tensor(m, w, frac) < 0)
			return -1;
		count++;
	}
	return count;
}

/* Per-step timing through the observer: one callback per output tensor, so
 * the time of a step is the gap since the previous callback. */
typedef struct {
	double last;
	int i, n;
	double *best; /* [n] per step, minimum over runs */
} step_timer;

static void observe(void *ud, int tensor, const void *data)
{
	(void)tensor;
	(void)data;
	step_timer *st = ud;
	const double t = now_ms();
	if (st->i < st->n && t - st->last < st->best[st->i])
		st->best[st->i] = t - st->last;
	st->i++;
	st->last = t;
}

/* Minimum time per step of a dense and a mixed runtime, summed over
 * the steps the mixed runtime runs sparse: the layer-level speed-up inside
 * the whole network. */
static void layer_breakdown(sl_runtime *dense, sl_runtime *mixed, int threads, int runs, bool verbose)
{
	const int n = sl_runtime_n_steps(mixed);
	double *bd = malloc(sizeof(double) * (size_t)n), *bm = malloc(sizeof(double) * (size_t)n);
	if (!bd || !bm || sl_runtime_n_steps(dense) != n)
		goto out;
	for (int i = 0; i < n; i++)
		bd[i] = bm[i] = 1e30;
	for (int r = 0; r < runs; r++) {
		step_timer td = {.best = bd, .n = n}, tm = {.best = bm, .n = n};
		gap();
		td.last = now_ms();
		sl_runtime_invoke_observed(dense, observe, &td);
		gap();
		tm.last = now_ms();
		sl_runtime_invoke_observed(mixed, observe, &tm);
	}
	double sd = 0, sm = 0, od = 0, om = 0;
	for (int i = 0; verbose && i < n; i++) {
		const sl_step *s = sl_runtime_step(mixed, i);
		const sl_model *mo = sl_runtime_model(mixed);
		const sl_node *nd = &mo->nodes[s->node];
		const sl_tensor *o = &mo->tensors[nd->outputs[0]], *in = &mo->tensors[nd->inputs[0]];
		if (s->impl != SL_IMPL_SPARSE && bm[i] > 2 * bd[i] + 0.05)
			printf("  step %2d %-8s on %s: dense %7.1f us, mixed %7.1f us (slower in the mixed "
			       "runtime)\n",
			       i, sl_op_name(nd->op), sl_impl_name(s->impl), 1e3 * bd[i], 1e3 * bm[i]);
		if (s->impl == SL_IMPL_SPARSE)
			printf(
			    "  step %2d %-8s %3dx%-3d K %4d N %4d: dense %7.1f us, sparse %7.1f us (%.2fx)\n",
			    i, sl_op_name(nd->op), o->dims[1], o->dims[2], in->dims[in->rank - 1],
			    o->dims[o->rank - 1], 1e3 * bd[i], 1e3 * bm[i], bd[i] / bm[i]);
	}
	for (int i = 0; i < n; i++) {
		if (sl_runtime_step(mixed, i)->impl == SL_IMPL_SPARSE) {
			sd += bd[i];
			sm += bm[i];
		} else {
			od += bd[i];
			om += bm[i];
		}
	}
	printf("per step (%d thread%s, min of %d): sparse-claimed layers %.2f ms dense vs %.2f ms sparse "
	       "(%.2fx); "
	       "other steps %.2f vs %.2f ms\n",
	       threads, threads > 1 ? "s" : "", runs, sd, sm, sd / sm, od, om);
out:
	free(bd);
	free(bm);
}

/* Swap cost: sl_runtime_new on a model whose sparse layers are not packed
 * yet (cold: what every swap cost before packed weights were cached with
 * the model) and on one whose cache holds them (warm: a hot swap to a
 * variant the daemon keeps loaded). */
static void swap_times(const char *path, int sp, int threads)
{
	enum { REPS = 5 };
	double cold[REPS], warm[REPS];
	const sl_runtime_options o = {
	    .backend = SL_BACKEND_XNNPACK, .numerics = SL_NUMERICS_FAST, .threads = threads};
	for (int i = 0; i < REPS; i++) {
		sl_model *m = NULL;
		sl_error err = {{0}};
		sl_runtime *rt = NULL;
		if (sl_tflite_load_file(path, &m, &err) < 0 || prune_pointwise(m, sp / 100.0) < 0)
			goto fail;
		double t0 = now_ms();
		if (sl_runtime_new(m, &o, &rt, &err) < 0)
			goto fail;
		cold[i] = now_ms() - t0;
		rt = sl_runtime_free(rt);
		t0 = now_ms();
		if (sl_runtime_new(m, &o, &rt, &err) < 0)
			goto fail;
		warm[i] = now_ms() - t0;
		sl_runtime_free(rt);
		sl_model_unref(m);
		continue;
	fail:
		fprintf(stderr, "swap timing: %s\n", err.msg);
		sl_model_unref(m);
		return;
	}
	qsort(cold, REPS, sizeof(double), cmp_double);
	qsort(warm, REPS, sizeof(double), cmp_double);
	printf("sl_runtime_new, mixed, %d thread%s (min / median of %d): cold cache %.2f / %.2f ms, "
	       "packed weights cached %.2f / %.2f ms\n",
	       threads, threads > 1 ? "s" : "", REPS, cold[0], cold[REPS / 2], warm[0], warm[REPS / 2]);
}

typedef struct {
	const char *name;
	int threads;
	bool no_sparse;
	sl_runtime *rt;
	double *t;
	int n_sparse;
} config;

int main(int argc, char **argv)
{
	int runs = 40, warmup = 5, sp = 80;
	bool verbose = false, blocked = false, yield = false, pin = false;
	for (int o; (o = getopt(argc, argv, "r:w:s:g:bypv")) != -1;) {
		if (o == 'b')
			blocked = true;
		else if (o == 'y')
			yield = true;
		else if (o == 'p')
			pin = true;
		else if (o == 'g')
			gap_ms = atoi(optarg);
		else if (o == 'v')
			verbose = true;
		else if (o == 'r')
			runs = atoi(optarg);
		else if (o == 'w')
			warmup = atoi(optarg);
		else if (o == 's')
			sp = atoi(optarg);
		else {
			fprintf(stderr, "usage: bench_sparse_e2e [-r runs] [-w warmup] [-s sparsity%%] [-g "
					"gap_ms] [-b] [-y] [-p] [-v] [MODEL]\n");
			return 2;
		}
	}
	if (runs < 1 || warmup < 0 || sp < 0 || sp > 100 || gap_ms < 0 || gap_ms > 10000) {
		fprintf(stderr, "bad arguments\n");
		return 2;
	}
	char path[4096];
	if (optind < argc) {
		snprintf(path, sizeof(path), "%s", argv[optind]);
	} else {
		const char *dir = getenv("SL_SHARED_DIR");
		snprintf(path, sizeof(path), "%s/models/tf2_mobilenet_v2_1.0_224_ptq.tflite",
			 dir ? dir : SL_BENCH_SHARED_DIR);
	}
	sl_model *m = NULL;
	sl_error err = {{0}};
	int r = sl_tflite_load_file(path, &m, &err);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", path, err.msg[0] ? err.msg : sl_strerror(r));
		return 77;
	}
	const int pruned = prune_pointwise(m, sp / 100.0);
	if (pruned < 0) {
		fprintf(stderr, "out of memory while pruning\n");
		return 1;
	}
	printf("%s: %d nodes, %d 1x1 convolutions pruned to %d%% zero 1x4 blocks\n", path, m->n_nodes, pruned,
	       sp);
	printf("numerics: fast (XNNPACK's own int8 kernels) for the dense baseline and the mixed runtime's "
	       "XNNPACK part\n");

	config cf[] = {
	    {"dense xnnpack", 1, true, NULL, NULL, 0},
	    {"mixed sparse+xnnpack", 1, false, NULL, NULL, 0},
	    {"dense xnnpack", 2, true, NULL, NULL, 0},
	    {"mixed sparse+xnnpack", 2, false, NULL, NULL, 0},
	};
	const int nc = (int)(sizeof(cf) / sizeof(cf[0]));
	int rc = 0;
	for (int c = 0; c < nc; c++) {
		/* XNNPACK's own int8 kernels (fast numerics) for both the dense baseline
		 * and the rest of the mixed graph: with TFLite numerics XNNPACK declines
		 * most int8 operators and the baseline would not be XNNPACK. The sparse
		 * kernels then round as XNNPACK does where they can (x86). */
		const sl_runtime_options o = {.backend = SL_BACKEND_XNNPACK,
					      .numerics = SL_NUMERICS_FAST,
					      .threads = cf[c].threads,
					      .no_sparse = cf[c].no_sparse,
					      .yield_workers = yield,
					      .pin_threads = pin};
		r = sl_runtime_new(m, &o, &cf[c].rt, &err);
		cf[c].t = calloc((size_t)runs, sizeof(double));
		if (r < 0 || !cf[c].t) {
			fprintf(stderr, "runtime: %s\n", err.msg[0] ? err.msg : sl_strerror(r));
			rc = 1;
			goto out;
		}
		for (int i = 0; i < sl_runtime_n_steps(cf[c].rt); i++)
			cf[c].n_sparse += sl_runtime_step(cf[c].rt, i)->impl == SL_IMPL_SPARSE;
		const sl_tensor *it = sl_runtime_input_tensor(cf[c].rt, 0);
		uint8_t *in = sl_runtime_input(cf[c].rt, 0);
		uint32_t s = 12345;
		for (size_t k = 0; k < it->bytes; k++) {
			s = s * 1664525u + 1013904223u;
			in[k] = (uint8_t)(s >> 24);
		}
		for (int i = 0; i < warmup; i++)
			sl_runtime_invoke(cf[c].rt);
	}
	/* Round-robin (default) or, with -b, each configuration's runs back to
	 * back after its own warm-up (a daemon at full frame rate: the pool's
	 * workers never sleep; no other pool is awake). */
	for (int i = 0; i < runs * nc; i++) {
		const int c = blocked ? i / runs : i % nc, run = blocked ? i % runs : i / nc;
		if (blocked && run == 0)
			for (int w = 0; w < warmup; w++)
				sl_runtime_invoke(cf[c].rt);
		gap();
		const double t0 = now_ms();
		if (sl_runtime_invoke(cf[c].rt) < 0) {
			fprintf(stderr, "invoke failed\n");
			rc = 1;
			goto out;
		}
		cf[c].t[run] = now_ms() - t0;
	}

	printf("%d runs after %d warm-up, %s, %d ms pause before each, p50 / min in ms\n", runs, warmup,
	       blocked ? "configurations one after the other" : "configurations in round-robin", gap_ms);
	for (int c = 0; c < nc; c++) {
		qsort(cf[c].t, (size_t)runs, sizeof(double), cmp_double);
		printf("  %d thread%s %-22s %8.2f %8.2f   %d sparse steps of %d\n", cf[c].threads,
		       cf[c].threads > 1 ? "s" : " ", cf[c].name, cf[c].t[runs / 2], cf[c].t[0],
		       cf[c].n_sparse, sl_runtime_n_steps(cf[c].rt));
	}
	for (int c = 0; c + 1 < nc; c += 2)
		printf("speed-up mixed vs dense, %d thread%s: %.2fx (p50), %.2fx (min)\n", cf[c].threads,
		       cf[c].threads > 1 ? "s" : "", cf[c].t[runs / 2] / cf[c + 1].t[runs / 2],
		       cf[c].t[0] / cf[c + 1].t[0]);

	swap_times(path, sp, 1);
	swap_times(path, sp, 2);

	for (int c = 0; c + 1 < nc; c += 2)
		layer_breakdown(cf[c].rt, cf[c + 1].rt, cf[c].threads, runs < 20 ? runs : 20, verbose);

	/* Same input in every runtime: how far apart are the outputs? */
	const sl_tensor *ot = sl_runtime_output_tensor(cf[0].rt, 0);
	if (ot->dtype == SL_DTYPE_I8 || ot->dtype == SL_DTYPE_U8) {
		const uint8_t *a = sl_runtime_output(cf[0].rt, 0), *b = sl_runtime_output(cf[1].rt, 0);
		int maxd = 0;
		size_t argmax_a = 0, argmax_b = 0;
		const bool s8 = ot->dtype == SL_DTYPE_I8;
		for (size_t k = 0; k < ot->bytes; k++) {
			const int x = s8 ? (int8_t)a[k] : a[k], y = s8 ? (int8_t)b[k] : b[k];
			maxd = abs(x - y) > maxd ? abs(x - y) : maxd;
			if (x > (s8 ? (int8_t)a[argmax_a] : a[argmax_a]))
				argmax_a = k;
			if (y > (s8 ? (int8_t)b[argmax_b] : b[argmax_b]))
				argmax_b = k;
		}
		printf("output, mixed vs dense (1 thread): max difference %d steps, top-1 %zu vs %zu\n", maxd,
		       argmax_b, argmax_a);
	}
out:
	for (int c = 0; c < nc; c++) {
		sl_runtime_free(cf[c].rt);
		free(cf[c].t);
	}
	sl_model_unref(m);
	return rc;
}
