#include "kernels/runtime.h"

#include <errno.h>
#include <pthread.h>
#include <pthreadpool.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/macros.h"
#include "kernels/dense/dense_backend.h"
#include "kernels/ref/ref_ops.h"
#include "kernels/sparse/sparse_backend.h"
#include "kernels/xnn/xnn_backend.h"

struct sl_runtime {
	sl_model *model;
	sl_runtime_options opt;
	uint8_t *arena;
	pthreadpool_t pool;
	bool pinned; /* pin_threads done for pinned_caller */
	pthread_t pinned_caller;
	int n_steps;
	sl_step *steps;
};

const char *sl_backend_name(sl_backend b)
{
	switch (b) {
	case SL_BACKEND_REF:
		return "ref";
	case SL_BACKEND_XNNPACK:
		return "xnnpack";
	case SL_BACKEND_DENSE:
		return "dense";
	}
	return "?";
}

int sl_backend_from_string(const char *s, sl_backend *ret)
{
	if (!s)
		return -EINVAL;
	if (strcmp(s, "ref") == 0 || strcmp(s, "reference") == 0) {
		*ret = SL_BACKEND_REF;
		return 0;
	}
	if (strcmp(s, "xnnpack") == 0 || strcmp(s, "xnn") == 0) {
		*ret = SL_BACKEND_XNNPACK;
		return 0;
	}
	/* "neon": the name from before the x86 kernels joined the family */
	if (strcmp(s, "dense") == 0 || strcmp(s, "neon") == 0) {
		*ret = SL_BACKEND_DENSE;
		return 0;
	}
	return -EINVAL;
}

const char *sl_impl_name(sl_impl i)
{
	switch (i) {
	case SL_IMPL_REF:
		return "ref";
	case SL_IMPL_XNNPACK:
		return "xnnpack";
	case SL_IMPL_SPARSE:
		return "sparse";
	case SL_IMPL_DENSE:
		return "dense";
	case SL_IMPL_NONE:
		return "none";
	}
	return "?";
}

const char *sl_numerics_name(sl_numerics n)
{
	return n == SL_NUMERICS_FAST ? "fast" : "tflite";
}

sl_numerics sl_numerics_effective(sl_backend b, sl_numerics n)
{
	return b == SL_BACKEND_XNNPACK ? n : SL_NUMERICS_TFLITE;
}

int sl_numerics_from_string(const char *s, sl_numerics *ret)
{
	if (!s)
		return -EINVAL;
	if (strcmp(s, "tflite") == 0 || strcmp(s, "exact") == 0) {
		*ret = SL_NUMERICS_TFLITE;
		return 0;
	}
	if (strcmp(s, "fast") == 0 || strcmp(s, "xnnpack") == 0) {
		*ret = SL_NUMERICS_FAST;
		return 0;
	}
	return -EINVAL;
}

sl_runtime *sl_runtime_free(sl_runtime *rt)
{
	if (!rt)
		return NULL;
	/* Steps may hold XNNPACK operators bound to the arena and pool: they go first. */
	for (int i = rt->n_steps - 1; i >= 0; i--)
		if (rt->steps[i].destroy)
			rt->steps[i].destroy(&rt->steps[i]);
	free(rt->steps);
	if (rt->pool)
		pthreadpool_destroy(rt->pool);
	free(rt->arena);
	sl_model_unref(rt->model);
	free(rt);
	return NULL;
}

/* Backends in order of preference for the chosen option; the reference is
 * always last, so every supported node finds an implementation. The sparse
 * backend goes before XNNPACK: it declines every layer its cost model does
 * not expect to win, and those fall through to the dense operators. With
 * TFLite numerics our dense kernels take the int8 layers before XNNPACK sees
 * them (XNNPACK then declines the int8 operators that round differently). */
static int backend_chain(const sl_runtime_options *opt, sl_prepare_fn *chain)
{
	const sl_backend b = opt->backend;
	int n = 0;
	if (b == SL_BACKEND_XNNPACK && !opt->no_sparse)
		chain[n++] = sl_sparse_prepare;
	if (b == SL_BACKEND_XNNPACK && opt->numerics == SL_NUMERICS_TFLITE)
		chain[n++] = sl_dense_prepare;
	if (b == SL_BACKEND_XNNPACK)
		chain[n++] = sl_xnn_prepare;
	if (b == SL_BACKEND_DENSE)
		chain[n++] = sl_dense_prepare;
	chain[n++] = sl_ref_prepare;
	return n;
}

int sl_runtime_new(sl_model *m, const sl_runtime_options *opt, sl_runtime **ret, sl_error *err)
{
	if (!m || !opt || !ret || !m->order)
		return -EINVAL;
	if (opt->numerics != SL_NUMERICS_TFLITE && opt->numerics != SL_NUMERICS_FAST) {
		if (err)
			snprintf(err->msg, sizeof(err->msg), "unknown numerics %d", (int)opt->numerics);
		return -EINVAL;
	}
	if (opt->threads < 0 || opt->threads > 64) {
		if (err)
			snprintf(err->msg, sizeof(err->msg), "thread count %d out of range 0..64",
				 opt->threads);
		return -EINVAL;
	}
	if (opt->backend == SL_BACKEND_XNNPACK) {
		int r = sl_xnn_init();
		if (r < 0) {
			if (err)
				snprintf(err->msg, sizeof(err->msg), "XNNPACK initialisation failed");
			return r;
		}
	}

	_cleanup_(sl_runtime_freep) sl_runtime *rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	rt->model = sl_model_ref(m);
	rt->opt = *opt;

	/* Slack past the end: SIMD kernels (XNNPACK's XNN_EXTRA_BYTES, ours) may
	 * read a vector beyond the last input element. */
	size_t arena = SL_ALIGN_UP((m->arena_size ? m->arena_size : 64) + 64, 64);
	rt->arena = aligned_alloc(64, arena);
	if (!rt->arena)
		return -ENOMEM;
	/* Zeroed so that padding bytes and never-written tensors are deterministic. */
	memset(rt->arena, 0, arena);

	if (opt->threads > 1) {
		rt->pool = pthreadpool_create((size_t)opt->threads);
		if (!rt->pool)
			return -ENOMEM;
	}

	rt->steps = calloc((size_t)m->n_nodes, sizeof(*rt->steps));
	if (m->n_nodes && !rt->steps)
		return -ENOMEM;

	const sl_prepare_ctx ctx = {.model = m,
				    .arena = rt->arena,
				    .pool = rt->pool,
				    .threads = opt->threads > 1 ? opt->threads : 1,
				    .numerics = opt->numerics};
	sl_prepare_fn chain[5];
	int n_chain = backend_chain(opt, chain);

	for (int i = 0; i < m->n_nodes; i++) {
		int node = m->order[i];
		sl_step *s = &rt->steps[i];
		int r = -EOPNOTSUPP;
		char declined[sizeof(s->why)] = "";
		bool sparse_said = false;
		for (int c = 0; c < n_chain && r == -EOPNOTSUPP; c++) {
			memset(s, 0, sizeof(*s));
			s->node = node;
			r = chain[c](&ctx, node, s, err);
			if (r == -EOPNOTSUPP && s->why[0] && !sparse_said) {
				snprintf(declined, sizeof(declined), "%s", s->why);
				sparse_said = chain[c] == sl_sparse_prepare;
			}
		}
		/* Keep why a faster backend declined: that is what inspect users need.
		 * The sparse backend's verdict on a layer's weights (e.g. too few zero
		 * blocks to pay off) wins over the dense backend's description. */
		if (r >= 0 && declined[0] && (s->impl == SL_IMPL_REF || sparse_said))
			snprintf(s->why, sizeof(s->why), "%s", declined);
		if (r < 0) {
			if (err && r == -EOPNOTSUPP)
				snprintf(err->msg, sizeof(err->msg),
					 "%s: node %d (%s): no backend can run it",
					 m->path ? m->path : "model", node, sl_op_name(m->nodes[node].op));
			return r;
		}
		rt->n_steps = i + 1;
	}

	*ret = SL_TAKE_PTR(rt);
	return 0;
}

sl_model *sl_runtime_model(const sl_runtime *rt)
{
	return rt->model;
}

void *sl_runtime_tensor_data(sl_runtime *rt, int tensor)
{
	if (tensor < 0 || tensor >= rt->model->n_tensors)
		return NULL;
	const sl_tensor *t = &rt->model->tensors[tensor];
	if (t->kind == SL_TENSOR_CONST)
		return (void *)t->data;
	return rt->arena + t->arena_offset;
}

void *sl_runtime_input(sl_runtime *rt, int i)
{
	if (i < 0 || i >= rt->model->n_inputs)
		return NULL;
	return sl_runtime_tensor_data(rt, rt->model->inputs[i]);
}

const void *sl_runtime_output(sl_runtime *rt, int i)
{
	if (i < 0 || i >= rt->model->n_outputs)
		return NULL;
	return sl_runtime_tensor_data(rt, rt->model->outputs[i]);
}

const sl_tensor *sl_runtime_input_tensor(const sl_runtime *rt, int i)
{
	if (i < 0 || i >= rt->model->n_inputs)
		return NULL;
	return &rt->model->tensors[rt->model->inputs[i]];
}

const sl_tensor *sl_runtime_output_tensor(const sl_runtime *rt, int i)
{
	if (i < 0 || i >= rt->model->n_outputs)
		return NULL;
	return &rt->model->tensors[rt->model->outputs[i]];
}

typedef struct {
	pthread_t caller;
	cpu_set_t allowed;
	int n_cpus, threads;
	atomic_int arrived, next_worker;
} pin_ctx;

static int nth_cpu(const cpu_set_t *s, int k)
{
	for (int c = 0, seen = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, s) && seen++ == k)
			return c;
	return -1;
}

static void pin_task(void *arg, size_t i)
{
	(void)i;
	pin_ctx *p = arg;
	const int slot =
	    pthread_equal(pthread_self(), p->caller) ? 0 : 1 + atomic_fetch_add(&p->next_worker, 1);
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(nth_cpu(&p->allowed, slot % p->n_cpus), &one);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
	/* Hold every thread until all have arrived, so that none runs a second
	 * item (and takes a second CPU); bounded, in case one never comes. */
	atomic_fetch_add(&p->arrived, 1);
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		sched_yield();
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (atomic_load(&p->arrived) < p->threads &&
		 (t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 100000000L);
}

static cpu_set_t allowed_cpus;
static pthread_once_t allowed_once = PTHREAD_ONCE_INIT;

static void read_allowed(void)
{
	if (sched_getaffinity(0, sizeof(allowed_cpus), &allowed_cpus) < 0)
		CPU_ZERO(&allowed_cpus);
}

static void pin(sl_runtime *rt)
{
	if (!rt->pool || !rt->opt.pin_threads ||
	    (rt->pinned && pthread_equal(rt->pinned_caller, pthread_self())))
		return;
	pin_ctx p = {.caller = pthread_self(), .threads = (int)pthreadpool_get_threads_count(rt->pool)};
	/* The CPUs the process may use, read before anything was pinned: a caller
	 * pinned by an earlier runtime would otherwise offer only its own CPU. */
	pthread_once(&allowed_once, read_allowed);
	p.allowed = allowed_cpus;
	if ((p.n_cpus = CPU_COUNT(&p.allowed)) < 1)
		return;
	atomic_init(&p.arrived, 0);
	atomic_init(&p.next_worker, 0);
	pthreadpool_parallelize_1d(rt->pool, pin_task, &p, (size_t)p.threads, 0);
	rt->pinned = true;
	rt->pinned_caller = p.caller;
}

static void noop_task(void *ctx, size_t i)
{
	(void)ctx;
	(void)i;
}

/* One empty parallel call whose flag sends every worker straight to its
 * futex when done: the workers are still spinning from the last step, so
 * it costs a few microseconds, against a wake-up at the next invoke's first
 * parallel step. */
static int settle(sl_runtime *rt, int r)
{
	if (rt->pool && rt->opt.yield_workers)
		pthreadpool_parallelize_1d(rt->pool, noop_task, NULL, pthreadpool_get_threads_count(rt->pool),
					   PTHREADPOOL_FLAG_YIELD_WORKERS);
	return r;
}

static int run_steps(sl_runtime *rt)
{
	for (int i = 0; i < rt->n_steps; i++) {
		sl_step *s = &rt->steps[i];
		if (!s->run)
			continue;
		int r = s->run(s, rt->arena);
		if (r < 0)
			return settle(rt, r);
	}
	return settle(rt, 0);
}

int sl_runtime_warm_up(sl_runtime *rt)
{
	return run_steps(rt);
}

int sl_runtime_invoke(sl_runtime *rt)
{
	pin(rt);
	return run_steps(rt);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int sl_runtime_invoke_timed(sl_runtime *rt, double *step_ms)
{
	pin(rt);
	double t0 = now_ms();
	for (int i = 0; i < rt->n_steps; i++) {
		sl_step *s = &rt->steps[i];
		if (s->run) {
			int r = s->run(s, rt->arena);
			if (r < 0)
				return settle(rt, r);
		}
		const double t1 = now_ms();
		step_ms[i] = t1 - t0;
		t0 = t1;
	}
	return settle(rt, 0);
}

int sl_runtime_invoke_observed(sl_runtime *rt, sl_runtime_observer cb, void *userdata)
{
	pin(rt);
	const sl_model *m = rt->model;
	for (int i = 0; i < rt->n_steps; i++) {
		sl_step *s = &rt->steps[i];
		if (s->run) {
			int r = s->run(s, rt->arena);
			if (r < 0)
				return settle(rt, r);
		}
		const sl_node *n = &m->nodes[s->node];
		for (int k = 0; k < n->n_outputs; k++)
			cb(userdata, n->outputs[k], sl_runtime_tensor_data(rt, n->outputs[k]));
	}
	return settle(rt, 0);
}

int sl_runtime_n_steps(const sl_runtime *rt)
{
	return rt->n_steps;
}

const sl_step *sl_runtime_step(const sl_runtime *rt, int i)
{
	if (i < 0 || i >= rt->n_steps)
		return NULL;
	return &rt->steps[i];
}
