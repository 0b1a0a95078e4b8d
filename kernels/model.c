/* Model IR: lifetime, builder, names, the cache of derived data and per-node
 * statistics.
 *
 * Ownership rules (callers of the builder rely on them):
 * - sl_model_add_tensor() copies the sl_tensor struct, strdup()s its name and
 *   duplicates q.scale / q.zero_point; the caller keeps its own arrays. The
 *   const data pointer is NOT copied: it must point into m->blob or into a
 *   buffer handed to sl_model_own(), or outlive the model.
 * - sl_model_add_node() copies the sl_node struct and duplicates its inputs and
 *   outputs arrays; the caller keeps its own.
 * - m->inputs, m->outputs, m->path and m->description are malloc'd buffers the
 *   model frees; importers and tests assign them directly.
 * - m->blob is released with m->blob_free(blob, blob_size) when blob_free is
 *   set; with blob_free == NULL the blob is not owned by the model.
 * - sl_model_own() takes the buffer in every case (frees it if it cannot
 *   record it), so callers need no error path for the buffer.
 * - The tensors/nodes/owned arrays grow geometrically with a capacity implied
 *   by their count, so only the builder may append to them.
 *
 * Finalize (sl_model_finalize) lives in model_check.c (structural validation,
 * topological order), model_shapes.c (shape inference, sizes and
 * quantization) and model_arena.c (arena plan); their shared helpers are in
 * model_internal.h. */
#include "kernels/model.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/model_internal.h"

static const char *const op_names[SL_OP__COUNT] = {
    [SL_OP_CONV_2D] = "CONV_2D",
    [SL_OP_DEPTHWISE_CONV_2D] = "DEPTHWISE_CONV_2D",
    [SL_OP_FULLY_CONNECTED] = "FULLY_CONNECTED",
    [SL_OP_ADD] = "ADD",
    [SL_OP_MUL] = "MUL",
    [SL_OP_AVERAGE_POOL_2D] = "AVERAGE_POOL_2D",
    [SL_OP_MAX_POOL_2D] = "MAX_POOL_2D",
    [SL_OP_MEAN] = "MEAN",
    [SL_OP_RESHAPE] = "RESHAPE",
    [SL_OP_SOFTMAX] = "SOFTMAX",
    [SL_OP_QUANTIZE] = "QUANTIZE",
    [SL_OP_DEQUANTIZE] = "DEQUANTIZE",
    [SL_OP_PAD] = "PAD",
    [SL_OP_CONCATENATION] = "CONCATENATION",
    [SL_OP_HARD_SWISH] = "HARD_SWISH",
    [SL_OP_LOGISTIC] = "LOGISTIC",
    [SL_OP_RELU] = "RELU",
    [SL_OP_RELU6] = "RELU6",
};

const char *sl_strerror(int err)
{
	switch (-err) {
	case SL_E_FORMAT:
		return "malformed model file";
	case SL_E_UNSUPPORTED:
		return "unsupported model feature";
	case SL_E_SHAPE:
		return "inconsistent tensor shapes";
	case SL_E_GRAPH:
		return "invalid graph";
	default: {
		/* strerrordesc_np is thread-safe, unlike strerror. */
		const char *s = err < 0 ? strerrordesc_np(-err) : NULL;
		return s ? s : "unknown error";
	}
	}
}

size_t sl_dtype_size(sl_dtype t)
{
	switch (t) {
	case SL_DTYPE_F32:
	case SL_DTYPE_I32:
		return 4;
	case SL_DTYPE_F16:
		return 2;
	case SL_DTYPE_I8:
	case SL_DTYPE_U8:
		return 1;
	case SL_DTYPE_I64:
		return 8;
	default:
		return 0;
	}
}

const char *sl_dtype_name(sl_dtype t)
{
	switch (t) {
	case SL_DTYPE_F32:
		return "float32";
	case SL_DTYPE_F16:
		return "float16";
	case SL_DTYPE_I8:
		return "int8";
	case SL_DTYPE_U8:
		return "uint8";
	case SL_DTYPE_I32:
		return "int32";
	case SL_DTYPE_I64:
		return "int64";
	default:
		return "invalid";
	}
}

const char *sl_op_name(sl_op op)
{
	return (unsigned)op < SL_OP__COUNT ? op_names[op] : "INVALID";
}

const char *sl_act_name(sl_act a)
{
	switch (a) {
	case SL_ACT_NONE:
		return "none";
	case SL_ACT_RELU:
		return "relu";
	case SL_ACT_RELU_N1_TO_1:
		return "relu_n1_to_1";
	case SL_ACT_RELU6:
		return "relu6";
	default:
		return "invalid";
	}
}

int64_t sl_tensor_numel(const sl_tensor *t)
{
	if (t->rank < 0 || t->rank > SL_MAX_RANK)
		return -1;
	int64_t n = 1;
	for (int i = 0; i < t->rank; i++) {
		if (t->dims[i] < 0 || __builtin_mul_overflow(n, (int64_t)t->dims[i], &n))
			return -1;
	}
	return n;
}

/* ---- data derived from the constants (sl_model_derived_get) ---- */

typedef struct {
	sl_model_derived_key key;
	void *data;
	size_t bytes;
	void (*destroy)(void *data);
	unsigned refs;	 /* borrowers (runtime steps) */
	bool superseded; /* a newer build for the same node and kind exists */
} derived_entry;

/* A list searched linearly: one entry per claimed node and kind, built at
 * runtime creation only, never on the per-frame path. */
struct sl_model_derived {
	pthread_mutex_t lock;
	derived_entry *e;
	size_t n, cap;
	sl_model_derived_stats st;
};

static struct sl_model_derived *derived_new(void)
{
	struct sl_model_derived *c = calloc(1, sizeof(*c));
	if (c && pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c);
		return NULL;
	}
	return c;
}

static void derived_free(struct sl_model_derived *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		if (c->e[i].destroy)
			c->e[i].destroy(c->e[i].data);
	free(c->e);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static bool key_eq(const sl_model_derived_key *a, const sl_model_derived_key *b)
{
	return a->node == b->node && a->kind == b->kind && a->hash == b->hash;
}

/* Entry i goes; the last one takes its place (order does not matter). */
static void derived_drop(struct sl_model_derived *c, size_t i)
{
	derived_entry *e = &c->e[i];
	if (e->destroy)
		e->destroy(e->data);
	c->st.bytes -= e->bytes;
	*e = c->e[--c->n];
	c->st.entries = c->n;
}

int sl_model_derived_get(const sl_model *m, const sl_model_derived_key *key,
			 int (*build)(void *arg, void **ret_data, size_t *ret_bytes),
			 void (*destroy)(void *data), void *arg, void **ret)
{
	if (!m || !m->derived || !key || !build || !ret)
		return -EINVAL;
	struct sl_model_derived *c = m->derived;
	pthread_mutex_lock(&c->lock);
	int r = 0;
	for (size_t i = 0; i < c->n; i++)
		if (key_eq(&c->e[i].key, key)) {
			c->st.hits++;
			c->e[i].refs++;
			*ret = c->e[i].data;
			goto out;
		}
	if (c->n == c->cap) {
		const size_t cap = c->cap ? 2 * c->cap : 16;
		derived_entry *e = reallocarray(c->e, cap, sizeof(*e));
		if (!e) {
			r = -ENOMEM;
			goto out;
		}
		c->e = e;
		c->cap = cap;
	}
	void *data = NULL;
	size_t bytes = 0;
	r = build(arg, &data, &bytes);
	if (r < 0)
		goto out;
	/* The weights were edited in place (compression passes do): older builds
	 * for this node and kind can never be found again, and go as soon as no
	 * runtime uses them, so that repeated edits do not pile up copies. */
	for (size_t i = c->n; i-- > 0;)
		if (c->e[i].key.node == key->node && c->e[i].key.kind == key->kind) {
			c->e[i].superseded = true;
			if (c->e[i].refs == 0)
				derived_drop(c, i);
		}
	c->e[c->n++] =
	    (derived_entry){.key = *key, .data = data, .bytes = bytes, .destroy = destroy, .refs = 1};
	c->st.builds++;
	c->st.entries = c->n;
	c->st.bytes += bytes;
	*ret = data;
	r = 0;
out:
	pthread_mutex_unlock(&c->lock);
	return r;
}

void sl_model_derived_put(const sl_model *m, const sl_model_derived_key *key)
{
	if (!m || !m->derived || !key)
		return;
	struct sl_model_derived *c = m->derived;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++)
		if (key_eq(&c->e[i].key, key)) {
			if (c->e[i].refs > 0 && --c->e[i].refs == 0 && c->e[i].superseded)
				derived_drop(c, i);
			break;
		}
	pthread_mutex_unlock(&c->lock);
}

void sl_model_derived_get_stats(const sl_model *m, sl_model_derived_stats *ret)
{
	*ret = (sl_model_derived_stats){0};
	if (!m || !m->derived)
		return;
	pthread_mutex_lock(&m->derived->lock);
	*ret = m->derived->st;
	pthread_mutex_unlock(&m->derived->lock);
}

/* Four independent multiply-xorshift lanes over 8-byte words: each step is a
 * bijection of the lane state for a given word, so any change to one word
 * changes that lane; ~6 bytes per cycle. Not for adversaries, for edits. */
uint64_t sl_model_hash(uint64_t h, const void *p, size_t n)
{
	const uint64_t k = 0x9E3779B97F4A7C15ull;
	const uint8_t *b = p;
	uint64_t l[4] = {h ^ (uint64_t)n, h + k, h ^ (k >> 7), h - k};
	size_t i = 0;
	for (; i + 32 <= n; i += 32)
		for (int j = 0; j < 4; j++) {
			uint64_t w;
			memcpy(&w, b + i + 8 * (size_t)j, 8);
			l[j] = (l[j] ^ w) * k;
			l[j] ^= l[j] >> 29;
		}
	for (int j = 0; i < n; i++, j = (j + 1) & 3) {
		l[j] = (l[j] ^ b[i]) * k;
		l[j] ^= l[j] >> 29;
	}
	uint64_t r = h;
	for (int j = 0; j < 4; j++) {
		r = (r ^ l[j]) * k;
		r ^= r >> 31;
	}
	return r;
}

/* ---- lifetime ---- */

sl_model *sl_model_new(void)
{
	sl_model *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->derived = derived_new();
	if (!m->derived) {
		free(m);
		return NULL;
	}
	m->refcount = 1;
	return m;
}

sl_model *sl_model_ref(sl_model *m)
{
	if (m)
		__atomic_add_fetch(&m->refcount, 1, __ATOMIC_RELAXED);
	return m;
}

static void model_free(sl_model *m)
{
	for (int i = 0; i < m->n_tensors; i++) {
		free(m->tensors[i].name);
		free(m->tensors[i].q.scale);
		free(m->tensors[i].q.zero_point);
	}
	free(m->tensors);
	for (int i = 0; i < m->n_nodes; i++) {
		free(m->nodes[i].inputs);
		free(m->nodes[i].outputs);
	}
	free(m->nodes);
	free(m->inputs);
	free(m->outputs);
	free(m->order);
	free(m->path);
	free(m->description);
	for (int i = 0; i < m->n_owned; i++)
		free(m->owned[i]);
	free(m->owned);
	/* Cached data may point into the constants: it goes first. */
	derived_free(m->derived);
	if (m->blob && m->blob_free)
		m->blob_free(m->blob, m->blob_size);
	free(m);
}

sl_model *sl_model_unref(sl_model *m)
{
	if (m && __atomic_sub_fetch(&m->refcount, 1, __ATOMIC_ACQ_REL) == 0)
		model_free(m);
	return NULL;
}

/* ---- errors ---- */

int mi_fail(const sl_model *m, sl_error *err, int code, const char *fmt, ...)
{
	if (err) {
		int n = snprintf(err->msg, sizeof(err->msg), "%s: ", m && m->path ? m->path : "model");
		if (n < 0 || (size_t)n >= sizeof(err->msg))
			n = 0;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -code;
}

/* ---- builder ---- */

/* Capacity is implied by the count (8, then powers of two), so the struct
 * needs no capacity fields. */
static int grow(void **arr, int n, size_t elem)
{
	if (n >= SL_MAX_ITEMS)
		return -E2BIG;
	if (n != 0 && (n < 8 || (n & (n - 1)) != 0))
		return 0;
	size_t cap = n == 0 ? 8 : (size_t)n * 2;
	void *p = reallocarray(*arr, cap, elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	return 0;
}

static void *memdup(const void *p, size_t n)
{
	void *r = malloc(n ? n : 1);
	if (r && n)
		memcpy(r, p, n);
	return r;
}

int sl_model_add_tensor(sl_model *m, const sl_tensor *t, sl_error *err)
{
	if (!m || !t)
		return -EINVAL;
	const int idx = m->n_tensors;
	if ((unsigned)t->dtype >= SL_DTYPE__COUNT)
		return mi_fail(m, err, SL_E_FORMAT, "tensor %d: invalid dtype %d", idx, (int)t->dtype);
	if (t->rank < 0 || t->rank > SL_MAX_RANK)
		return mi_fail(m, err, SL_E_UNSUPPORTED, "tensor %d: rank %d (max %d)", idx, t->rank,
			       SL_MAX_RANK);
	if (t->q.n < 0 || t->q.n > SL_MAX_QUANT_N || (t->q.n > 0 && (!t->q.scale || !t->q.zero_point)))
		return mi_fail(m, err, SL_E_FORMAT, "tensor %d: invalid quantization (%d entries)", idx,
			       t->q.n);
	if (t->kind != SL_TENSOR_ACTIVATION && t->kind != SL_TENSOR_CONST)
		return mi_fail(m, err, SL_E_FORMAT, "tensor %d: invalid kind", idx);

	int r = grow((void **)&m->tensors, idx, sizeof(sl_tensor));
	if (r < 0)
		return mi_fail(m, err, -r, "tensor %d: %s", idx,
			       r == -E2BIG ? "too many tensors" : "out of memory");

	sl_tensor c = *t;
	c.name = NULL;
	c.q.scale = NULL;
	c.q.zero_point = NULL;
	c.producer = -1;
	c.last_use = -1;
	c.arena_offset = 0;
	if (t->name && !(c.name = strdup(t->name)))
		goto oom;
	if (t->q.n > 0) {
		c.q.scale = memdup(t->q.scale, (size_t)t->q.n * sizeof(float));
		c.q.zero_point = memdup(t->q.zero_point, (size_t)t->q.n * sizeof(int32_t));
		if (!c.q.scale || !c.q.zero_point)
			goto oom;
	}
	m->tensors[idx] = c;
	m->n_tensors++;
	return idx;
oom:
	free(c.name);
	free(c.q.scale);
	free(c.q.zero_point);
	return mi_fail(m, err, ENOMEM, "tensor %d: out of memory", idx);
}

int sl_model_add_node(sl_model *m, const sl_node *n, sl_error *err)
{
	if (!m || !n)
		return -EINVAL;
	const int idx = m->n_nodes;
	if ((unsigned)n->op >= SL_OP__COUNT)
		return mi_fail(m, err, SL_E_UNSUPPORTED, "node %d: invalid op %d", idx, (int)n->op);
	if ((unsigned)n->act > SL_ACT_RELU6)
		return mi_fail(m, err, SL_E_UNSUPPORTED, "node %d (%s): invalid fused activation %d", idx,
			       sl_op_name(n->op), (int)n->act);
	if (n->n_inputs < 0 || n->n_inputs > SL_MAX_NODE_IO || n->n_outputs < 0 ||
	    n->n_outputs > SL_MAX_NODE_IO || (n->n_inputs > 0 && !n->inputs) ||
	    (n->n_outputs > 0 && !n->outputs))
		return mi_fail(m, err, SL_E_FORMAT, "node %d (%s): invalid input/output lists", idx,
			       sl_op_name(n->op));

	if (idx >= SL_MAX_NODES)
		return mi_fail(m, err, SL_E_UNSUPPORTED, "more than %d operators", SL_MAX_NODES);
	int r = grow((void **)&m->nodes, idx, sizeof(sl_node));
	if (r < 0)
		return mi_fail(m, err, -r, "node %d: %s", idx,
			       r == -E2BIG ? "too many nodes" : "out of memory");
	sl_node c = *n;
	c.inputs = memdup(n->inputs, (size_t)n->n_inputs * sizeof(int32_t));
	c.outputs = memdup(n->outputs, (size_t)n->n_outputs * sizeof(int32_t));
	if (!c.inputs || !c.outputs) {
		free(c.inputs);
		free(c.outputs);
		return mi_fail(m, err, ENOMEM, "node %d: out of memory", idx);
	}
	m->nodes[idx] = c;
	m->n_nodes++;
	return idx;
}

int sl_model_own(sl_model *m, void *buf)
{
	if (!m) {
		free(buf);
		return -EINVAL;
	}
	int r = grow((void **)&m->owned, m->n_owned, sizeof(void *));
	if (r < 0) {
		free(buf);
		return r;
	}
	m->owned[m->n_owned++] = buf;
	return 0;
}

/* ---- statistics ---- */

static const sl_tensor *node_tensor(const sl_model *m, const sl_node *n, int k, bool output)
{
	int cnt = output ? n->n_outputs : n->n_inputs;
	const int32_t *v = output ? n->outputs : n->inputs;
	if (k >= cnt || !v || v[k] < 0 || v[k] >= m->n_tensors)
		return NULL;
	return &m->tensors[v[k]];
}

static bool has_weights(const sl_node *n)
{
	return n->op == SL_OP_CONV_2D || n->op == SL_OP_DEPTHWISE_CONV_2D || n->op == SL_OP_FULLY_CONNECTED;
}

/* Only the ops that multiply-accumulate over a window count; elementwise,
 * pooling and data-movement ops report 0. */
int64_t sl_node_macs(const sl_model *m, const sl_node *n)
{
	if (!m || !n || !has_weights(n))
		return 0;
	const sl_tensor *w = node_tensor(m, n, 1, false), *o = node_tensor(m, n, 0, true);
	if (!w || !o)
		return 0;
	int64_t out = sl_tensor_numel(o), r = 0;
	if (out < 0)
		return 0;
	switch (n->op) {
	case SL_OP_CONV_2D:
		if (w->rank != 4 ||
		    __builtin_mul_overflow(out, (int64_t)w->dims[1] * w->dims[2] * w->dims[3], &r))
			return 0;
		return r;
	case SL_OP_DEPTHWISE_CONV_2D:
		if (w->rank != 4 || __builtin_mul_overflow(out, (int64_t)w->dims[1] * w->dims[2], &r))
			return 0;
		return r;
	default: /* FULLY_CONNECTED */
		if (w->rank != 2 || __builtin_mul_overflow(out, (int64_t)w->dims[1], &r))
			return 0;
		return r;
	}
}

/* Weights and biases of CONV/DEPTHWISE/FC, constant operands of ADD/MUL. */
int64_t sl_node_params(const sl_model *m, const sl_node *n)
{
	if (!m || !n)
		return 0;
	int64_t total = 0;
	if (has_weights(n)) {
		for (int k = 1; k <= 2; k++) {
			const sl_tensor *t = node_tensor(m, n, k, false);
			if (t && sl_tensor_numel(t) > 0)
				total += sl_tensor_numel(t);
		}
	} else if (n->op == SL_OP_ADD || n->op == SL_OP_MUL) {
		for (int k = 0; k < 2; k++) {
			const sl_tensor *t = node_tensor(m, n, k, false);
			if (t && t->kind == SL_TENSOR_CONST && sl_tensor_numel(t) > 0)
				total += sl_tensor_numel(t);
		}
	}
	return total;
}

double sl_node_weight_sparsity(const sl_model *m, const sl_node *n)
{
	if (!m || !n || !has_weights(n))
		return 0.0;
	const sl_tensor *w = node_tensor(m, n, 1, false);
	if (!w || w->kind != SL_TENSOR_CONST || !w->data)
		return 0.0;
	int64_t total = sl_tensor_numel(w);
	if (total <= 0 || (size_t)total * sl_dtype_size(w->dtype) > w->bytes)
		return 0.0;
	const sl_quant *q = &w->q;
	int64_t inner = 1, ch = 1;
	if (q->n > 1) {
		if (q->axis < 0 || q->axis >= w->rank || w->dims[q->axis] != q->n)
			return 0.0;
		ch = q->n;
		for (int d = q->axis + 1; d < w->rank; d++)
			inner *= w->dims[d];
	}
	int64_t zeros = 0;
	const uint8_t *p = w->data;
	for (int64_t i = 0; i < total; i++) {
		int32_t zp = q->n > 0 ? q->zero_point[q->n > 1 ? (i / inner) % ch : 0] : 0;
		switch (w->dtype) {
		case SL_DTYPE_F32: {
			float v;
			memcpy(&v, p + i * 4, 4);
			zeros += v == 0.0f;
			break;
		}
		case SL_DTYPE_F16: {
			uint16_t v;
			memcpy(&v, p + i * 2, 2);
			zeros += (v & 0x7fff) == 0;
			break;
		}
		case SL_DTYPE_I8:
			zeros += (int8_t)p[i] == zp;
			break;
		case SL_DTYPE_U8:
			zeros += p[i] == zp;
			break;
		default:
			return 0.0;
		}
	}
	return (double)zeros / (double)total;
}
