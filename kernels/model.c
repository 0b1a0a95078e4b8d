/* Model IR: lifetime, builder, names, finalize (validation, topological order,
 * shape inference, padding, arena plan) and per-node statistics.
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
 * Finalize is idempotent: it recomputes order, shapes of unknown (rank 0)
 * outputs, explicit padding and the arena plan from scratch. */
#include "kernels/model.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"

/* Limits that turn absurd (fuzzed or corrupt) models into errors instead of
 * overflows or multi-GiB allocations. */
#define SL_MAX_TENSOR_BYTES ((size_t)1 << 30)
#define SL_MAX_ARENA_BYTES  ((size_t)2 << 30)
#define SL_MAX_ITEMS	    (1 << 20) /* tensors, owned buffers */
#define SL_MAX_NODES	    (1 << 15) /* the arena planner is quadratic in nodes */
#define SL_MAX_GRAPH_IO	    4096
#define SL_MAX_NODE_IO	    4096      /* inputs of one node (CONCATENATION) */
#define SL_MAX_QUANT_N	    (1 << 24) /* per-channel entries */
#define SL_ARENA_ALIGN	    64

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

/* Writes "<file>: <text>" into err and returns -code. */
static int fail(const sl_model *m, sl_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(const sl_model *m, sl_error *err, int code, const char *fmt, ...)
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

static const char *tname(const sl_model *m, int t)
{
	const char *n = m->tensors[t].name;
	return n ? n : "";
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
		return fail(m, err, SL_E_FORMAT, "tensor %d: invalid dtype %d", idx, (int)t->dtype);
	if (t->rank < 0 || t->rank > SL_MAX_RANK)
		return fail(m, err, SL_E_UNSUPPORTED, "tensor %d: rank %d (max %d)", idx, t->rank,
			    SL_MAX_RANK);
	if (t->q.n < 0 || t->q.n > SL_MAX_QUANT_N || (t->q.n > 0 && (!t->q.scale || !t->q.zero_point)))
		return fail(m, err, SL_E_FORMAT, "tensor %d: invalid quantization (%d entries)", idx, t->q.n);
	if (t->kind != SL_TENSOR_ACTIVATION && t->kind != SL_TENSOR_CONST)
		return fail(m, err, SL_E_FORMAT, "tensor %d: invalid kind", idx);

	int r = grow((void **)&m->tensors, idx, sizeof(sl_tensor));
	if (r < 0)
		return fail(m, err, -r, "tensor %d: %s", idx,
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
	return fail(m, err, ENOMEM, "tensor %d: out of memory", idx);
}

int sl_model_add_node(sl_model *m, const sl_node *n, sl_error *err)
{
	if (!m || !n)
		return -EINVAL;
	const int idx = m->n_nodes;
	if ((unsigned)n->op >= SL_OP__COUNT)
		return fail(m, err, SL_E_UNSUPPORTED, "node %d: invalid op %d", idx, (int)n->op);
	if ((unsigned)n->act > SL_ACT_RELU6)
		return fail(m, err, SL_E_UNSUPPORTED, "node %d (%s): invalid fused activation %d", idx,
			    sl_op_name(n->op), (int)n->act);
	if (n->n_inputs < 0 || n->n_inputs > SL_MAX_NODE_IO || n->n_outputs < 0 ||
	    n->n_outputs > SL_MAX_NODE_IO || (n->n_inputs > 0 && !n->inputs) ||
	    (n->n_outputs > 0 && !n->outputs))
		return fail(m, err, SL_E_FORMAT, "node %d (%s): invalid input/output lists", idx,
			    sl_op_name(n->op));

	if (idx >= SL_MAX_NODES)
		return fail(m, err, SL_E_UNSUPPORTED, "more than %d operators", SL_MAX_NODES);
	int r = grow((void **)&m->nodes, idx, sizeof(sl_node));
	if (r < 0)
		return fail(m, err, -r, "node %d: %s", idx, r == -E2BIG ? "too many nodes" : "out of memory");
	sl_node c = *n;
	c.inputs = memdup(n->inputs, (size_t)n->n_inputs * sizeof(int32_t));
	c.outputs = memdup(n->outputs, (size_t)n->n_outputs * sizeof(int32_t));
	if (!c.inputs || !c.outputs) {
		free(c.inputs);
		free(c.outputs);
		return fail(m, err, ENOMEM, "node %d: out of memory", idx);
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

/* ---- finalize: structural validation ---- */

static bool is_act_dtype(sl_dtype d)
{
	return d == SL_DTYPE_F32 || d == SL_DTYPE_I8 || d == SL_DTYPE_U8;
}

static bool is_quant_dtype(sl_dtype d)
{
	return d == SL_DTYPE_I8 || d == SL_DTYPE_U8;
}

/* Which input slots may be -1 (absent optional input). */
static bool input_optional(sl_op op, int slot)
{
	switch (op) {
	case SL_OP_CONV_2D:
	case SL_OP_DEPTHWISE_CONV_2D:
	case SL_OP_FULLY_CONNECTED:
		return slot == 2;
	case SL_OP_RESHAPE:
		return slot == 1;
	default:
		return false;
	}
}

static bool has_fused_act(sl_op op)
{
	switch (op) {
	case SL_OP_CONV_2D:
	case SL_OP_DEPTHWISE_CONV_2D:
	case SL_OP_FULLY_CONNECTED:
	case SL_OP_ADD:
	case SL_OP_MUL:
	case SL_OP_AVERAGE_POOL_2D:
	case SL_OP_MAX_POOL_2D:
	case SL_OP_CONCATENATION:
		return true;
	default:
		return false;
	}
}

static int check_tensors(sl_model *m, sl_error *err)
{
	for (int i = 0; i < m->n_tensors; i++) {
		sl_tensor *t = &m->tensors[i];
		if ((unsigned)t->dtype >= SL_DTYPE__COUNT || t->rank < 0 || t->rank > SL_MAX_RANK)
			return fail(m, err, SL_E_FORMAT, "tensor %d (%s): invalid dtype or rank", i,
				    tname(m, i));
		t->producer = -1;
		t->last_use = -1;
		t->arena_offset = 0;
		for (int d = 0; d < t->rank; d++)
			if (t->dims[d] < 0)
				return fail(m, err, SL_E_SHAPE, "tensor %d (%s): negative dimension %d", i,
					    tname(m, i), t->dims[d]);
		if (t->kind != SL_TENSOR_CONST)
			continue;
		int64_t n = sl_tensor_numel(t);
		size_t bytes;
		if (n < 0 || !sl_mul_size((size_t)n, sl_dtype_size(t->dtype), &bytes) ||
		    bytes > SL_MAX_TENSOR_BYTES)
			return fail(m, err, SL_E_UNSUPPORTED, "tensor %d (%s): huge dimensions", i,
				    tname(m, i));
		if (t->bytes != bytes)
			return fail(m, err, SL_E_FORMAT, "tensor %d (%s): %zu bytes of data, shape needs %zu",
				    i, tname(m, i), t->bytes, bytes);
		if (bytes > 0 && !t->data)
			return fail(m, err, SL_E_FORMAT, "tensor %d (%s): constant without data", i,
				    tname(m, i));
	}
	return 0;
}

/* Fills gin[t] = 1 for graph inputs. */
static int check_io(sl_model *m, uint8_t *gin, sl_error *err)
{
	if (m->n_inputs < 0 || m->n_outputs <= 0 || (m->n_inputs > 0 && !m->inputs) || !m->outputs)
		return fail(m, err, SL_E_GRAPH, "graph needs outputs");
	if (m->n_inputs > SL_MAX_GRAPH_IO || m->n_outputs > SL_MAX_GRAPH_IO)
		return fail(m, err, SL_E_UNSUPPORTED, "more than %d graph inputs or outputs",
			    SL_MAX_GRAPH_IO);
	for (int i = 0; i < m->n_inputs; i++) {
		int t = m->inputs[i];
		if (t < 0 || t >= m->n_tensors)
			return fail(m, err, SL_E_GRAPH, "graph input %d: tensor index %d out of range", i, t);
		if (m->tensors[t].kind != SL_TENSOR_ACTIVATION)
			return fail(m, err, SL_E_GRAPH, "graph input %d: tensor %d (%s) is a constant", i, t,
				    tname(m, t));
		if (gin[t])
			return fail(m, err, SL_E_GRAPH, "graph input %d: tensor %d listed twice", i, t);
		gin[t] = 1;
	}
	for (int i = 0; i < m->n_outputs; i++) {
		int t = m->outputs[i];
		if (t < 0 || t >= m->n_tensors)
			return fail(m, err, SL_E_GRAPH, "graph output %d: tensor index %d out of range", i,
				    t);
		if (m->tensors[t].kind != SL_TENSOR_ACTIVATION)
			return fail(m, err, SL_E_GRAPH, "graph output %d: tensor %d (%s) is a constant", i, t,
				    tname(m, t));
	}
	return 0;
}

static int check_nodes(sl_model *m, const uint8_t *gin, sl_error *err)
{
	for (int i = 0; i < m->n_nodes; i++) {
		sl_node *n = &m->nodes[i];
		const char *on = sl_op_name(n->op);
		if ((unsigned)n->op >= SL_OP__COUNT)
			return fail(m, err, SL_E_UNSUPPORTED, "node %d: invalid op %d", i, (int)n->op);
		int min_in, max_in;
		switch (n->op) {
		case SL_OP_CONV_2D:
		case SL_OP_DEPTHWISE_CONV_2D:
		case SL_OP_FULLY_CONNECTED:
			min_in = 2, max_in = 3;
			break;
		case SL_OP_ADD:
		case SL_OP_MUL:
		case SL_OP_MEAN:
			min_in = max_in = 2;
			break;
		case SL_OP_RESHAPE:
		case SL_OP_PAD:
			min_in = 1, max_in = 2;
			break;
		case SL_OP_CONCATENATION:
			min_in = 1, max_in = SL_MAX_NODE_IO;
			break;
		default:
			min_in = max_in = 1;
			break;
		}
		if (n->n_inputs < min_in || n->n_inputs > max_in || !n->inputs)
			return fail(m, err, SL_E_GRAPH, "node %d (%s): %d inputs, expected %d..%d", i, on,
				    n->n_inputs, min_in, max_in);
		if (n->n_outputs != 1 || !n->outputs)
			return fail(m, err, SL_E_GRAPH, "node %d (%s): %d outputs, expected 1", i, on,
				    n->n_outputs);
		if ((unsigned)n->act > SL_ACT_RELU6 || (n->act != SL_ACT_NONE && !has_fused_act(n->op)))
			return fail(m, err, SL_E_UNSUPPORTED, "node %d (%s): fused activation %d not allowed",
				    i, on, (int)n->act);
		for (int k = 0; k < n->n_inputs; k++) {
			int t = n->inputs[k];
			if (t == -1 && input_optional(n->op, k))
				continue;
			if (t < 0 || t >= m->n_tensors)
				return fail(m, err, SL_E_GRAPH,
					    "node %d (%s): input %d: tensor index %d out of range", i, on, k,
					    t);
		}
		int o = n->outputs[0];
		if (o < 0 || o >= m->n_tensors)
			return fail(m, err, SL_E_GRAPH, "node %d (%s): output tensor index %d out of range",
				    i, on, o);
		sl_tensor *ot = &m->tensors[o];
		if (ot->kind != SL_TENSOR_ACTIVATION)
			return fail(m, err, SL_E_GRAPH, "node %d (%s): output tensor %d (%s) is a constant",
				    i, on, o, tname(m, o));
		if (gin[o])
			return fail(m, err, SL_E_GRAPH,
				    "node %d (%s): output tensor %d (%s) is a graph input", i, on, o,
				    tname(m, o));
		if (ot->producer >= 0)
			return fail(m, err, SL_E_GRAPH,
				    "node %d (%s): tensor %d (%s) already produced by node %d", i, on, o,
				    tname(m, o), ot->producer);
		ot->producer = i;
	}
	/* Every activation read must come from somewhere. */
	for (int i = 0; i < m->n_nodes; i++) {
		const sl_node *n = &m->nodes[i];
		for (int k = 0; k < n->n_inputs; k++) {
			int t = n->inputs[k];
			if (t < 0 || m->tensors[t].kind != SL_TENSOR_ACTIVATION)
				continue;
			if (m->tensors[t].producer < 0 && !gin[t])
				return fail(
				    m, err, SL_E_GRAPH,
				    "node %d (%s): input %d reads tensor %d (%s), which nothing produces", i,
				    sl_op_name(n->op), k, t, tname(m, t));
		}
	}
	for (int i = 0; i < m->n_outputs; i++) {
		int t = m->outputs[i];
		if (m->tensors[t].producer < 0 && !gin[t])
			return fail(m, err, SL_E_GRAPH, "graph output %d: tensor %d (%s) is never produced",
				    i, t, tname(m, t));
	}
	return 0;
}

/* ---- finalize: topological order ---- */

/* Min-heap of node indices: Kahn's algorithm that always picks the lowest
 * ready node keeps file order whenever the file is already sorted, which is
 * the order the exporter optimised memory for. */
static void heap_push(int32_t *h, int *n, int32_t v)
{
	int i = (*n)++;
	while (i > 0 && h[(i - 1) / 2] > v) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = v;
}

static int32_t heap_pop(int32_t *h, int *n)
{
	int32_t top = h[0], v = h[--(*n)];
	int i = 0;
	for (;;) {
		int c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && h[c + 1] < h[c])
			c++;
		if (h[c] >= v)
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n > 0)
		h[i] = v;
	return top;
}

static int topo_order(sl_model *m, sl_error *err)
{
	const int nn = m->n_nodes;
	_cleanup_free_ int32_t *indeg = calloc((size_t)nn + 1, sizeof(int32_t));
	_cleanup_free_ int32_t *heap = calloc((size_t)nn + 1, sizeof(int32_t));
	_cleanup_free_ int32_t *cons_start = calloc((size_t)m->n_tensors + 1, sizeof(int32_t));
	int32_t *order = calloc((size_t)nn + 1, sizeof(int32_t));
	if (!indeg || !heap || !cons_start || !order) {
		free(order);
		return fail(m, err, ENOMEM, "out of memory");
	}
	/* Consumers of each tensor in CSR form; one entry per input slot so that
	 * in-degrees (also per slot) drop to zero exactly. */
	size_t total = 0;
	for (int i = 0; i < nn; i++)
		for (int k = 0; k < m->nodes[i].n_inputs; k++) {
			int t = m->nodes[i].inputs[k];
			if (t >= 0 && m->tensors[t].producer >= 0) {
				cons_start[t + 1]++;
				indeg[i]++;
				total++;
			}
		}
	for (int t = 0; t < m->n_tensors; t++)
		cons_start[t + 1] += cons_start[t];
	_cleanup_free_ int32_t *cons = calloc(total + 1, sizeof(int32_t));
	_cleanup_free_ int32_t *fillpos = calloc((size_t)m->n_tensors + 1, sizeof(int32_t));
	if (!cons || !fillpos) {
		free(order);
		return fail(m, err, ENOMEM, "out of memory");
	}
	for (int i = 0; i < nn; i++)
		for (int k = 0; k < m->nodes[i].n_inputs; k++) {
			int t = m->nodes[i].inputs[k];
			if (t >= 0 && m->tensors[t].producer >= 0)
				cons[cons_start[t] + fillpos[t]++] = i;
		}

	int hn = 0, done = 0;
	for (int i = 0; i < nn; i++)
		if (indeg[i] == 0)
			heap_push(heap, &hn, i);
	while (hn > 0) {
		int i = heap_pop(heap, &hn);
		order[done++] = i;
		int t = m->nodes[i].outputs[0];
		for (int c = cons_start[t]; c < cons_start[t + 1]; c++)
			if (--indeg[cons[c]] == 0)
				heap_push(heap, &hn, cons[c]);
	}
	if (done != nn) {
		free(order);
		for (int i = 0; i < nn; i++)
			if (indeg[i] > 0)
				return fail(m, err, SL_E_GRAPH,
					    "node %d (%s) is part of or depends on a cycle", i,
					    sl_op_name(m->nodes[i].op));
		return fail(m, err, SL_E_GRAPH, "cycle in graph");
	}
	free(m->order);
	m->order = order;
	return 0;
}

/* ---- finalize: shapes ---- */

typedef struct {
	int rank;
	int32_t d[SL_MAX_RANK];
} shape;

static shape shape_of(const sl_tensor *t)
{
	shape s = {.rank = t->rank};
	memcpy(s.d, t->dims, sizeof(s.d));
	return s;
}

static bool shape_eq(const shape *a, const sl_tensor *t)
{
	if (a->rank != t->rank)
		return false;
	for (int i = 0; i < a->rank; i++)
		if (a->d[i] != t->dims[i])
			return false;
	return true;
}

static void shape_str(char *buf, size_t len, int rank, const int32_t *d)
{
	size_t o = 0;
	buf[0] = 0;
	o += (size_t)snprintf(buf, len, "[");
	for (int i = 0; i < rank && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, i ? ",%d" : "%d", d[i]);
	if (o < len)
		snprintf(buf + o, len - o, "]");
}

/* TFLite's output size and ComputePaddingWithOffset: the odd pixel of SAME
 * padding goes to the bottom/right. */
static int conv_dim(int64_t in, int64_t filt, int64_t stride, int64_t dil, sl_padding pad, int32_t *out,
		    int *before, int *after)
{
	if (in < 1 || filt < 1 || stride < 1 || dil < 1)
		return -1;
	const int64_t eff = (filt - 1) * dil + 1;
	int64_t o;
	if (pad == SL_PADDING_SAME)
		o = (in + stride - 1) / stride;
	else if (pad == SL_PADDING_VALID)
		o = (in - eff + stride) / stride;
	else
		return -1;
	if (o < 1 || o > INT32_MAX)
		return -1;
	int64_t total = (o - 1) * stride + eff - in;
	if (total < 0)
		total = 0;
	if (total > INT32_MAX)
		return -1;
	*out = (int32_t)o;
	*before = (int)(total / 2);
	*after = (int)(total / 2 + total % 2);
	return 0;
}

/* Context for one node's checks. */
typedef struct {
	sl_model *m;
	sl_error *err;
	int idx;
	sl_node *n;
} nctx;

#define NFAIL(c, code, fmt, ...)                                                                             \
	fail((c)->m, (c)->err, code, "node %d (%s): " fmt, (c)->idx, sl_op_name((c)->n->op), ##__VA_ARGS__)

static sl_tensor *in_t(const nctx *c, int k)
{
	if (k >= c->n->n_inputs || c->n->inputs[k] < 0)
		return NULL;
	return &c->m->tensors[c->n->inputs[k]];
}

static bool quant_eq(const sl_tensor *a, const sl_tensor *b)
{
	if (!is_quant_dtype(a->dtype))
		return true;
	return a->q.n == 1 && b->q.n == 1 && a->q.scale[0] == b->q.scale[0] &&
	       a->q.zero_point[0] == b->q.zero_point[0];
}

static int check_weights(const nctx *c, const sl_tensor *in, const sl_tensor *w, const sl_tensor *b,
			 int out_ch, int q_axis)
{
	if (w->kind != SL_TENSOR_CONST || (b && b->kind != SL_TENSOR_CONST))
		return NFAIL(c, SL_E_UNSUPPORTED, "weights and bias must be constant");
	if (!is_act_dtype(in->dtype) || w->dtype != in->dtype)
		return NFAIL(c, SL_E_UNSUPPORTED, "input %s with weights %s not supported",
			     sl_dtype_name(in->dtype), sl_dtype_name(w->dtype));
	const sl_dtype bias_dt = in->dtype == SL_DTYPE_F32 ? SL_DTYPE_F32 : SL_DTYPE_I32;
	if (b) {
		if (b->dtype != bias_dt)
			return NFAIL(c, SL_E_UNSUPPORTED, "bias is %s, expected %s", sl_dtype_name(b->dtype),
				     sl_dtype_name(bias_dt));
		if (sl_tensor_numel(b) != out_ch)
			return NFAIL(c, SL_E_SHAPE, "bias has %lld elements, expected %d",
				     (long long)sl_tensor_numel(b), out_ch);
		for (int k = 0; k < b->q.n; k++)
			if (b->q.zero_point[k] != 0)
				return NFAIL(c, SL_E_UNSUPPORTED, "bias with a non-zero zero point");
	}
	if (is_quant_dtype(w->dtype)) {
		if (w->q.n < 1)
			return NFAIL(c, SL_E_FORMAT, "quantized weights without quantization parameters");
		if (w->q.n > 1 && (w->q.axis != q_axis || w->q.n != out_ch))
			return NFAIL(c, SL_E_UNSUPPORTED,
				     "per-channel weights: axis %d with %d scales, expected axis %d with %d",
				     w->q.axis, w->q.n, q_axis, out_ch);
	}
	return 0;
}

/* Reads a small constant int32/int64 vector (MEAN axes, PAD paddings, RESHAPE
 * shape). */
static int read_const_ints(const sl_tensor *t, int64_t *out, int max)
{
	if (!t || t->kind != SL_TENSOR_CONST || (t->dtype != SL_DTYPE_I32 && t->dtype != SL_DTYPE_I64))
		return -1;
	int64_t n = sl_tensor_numel(t);
	if (n < 0 || n > max || (n > 0 && !t->data))
		return -1;
	for (int64_t i = 0; i < n; i++) {
		if (t->dtype == SL_DTYPE_I32) {
			int32_t v;
			memcpy(&v, (const char *)t->data + i * 4, 4);
			out[i] = v;
		} else {
			int64_t v;
			memcpy(&v, (const char *)t->data + i * 8, 8);
			out[i] = v;
		}
	}
	return (int)n;
}

static int infer_conv(nctx *c, shape *out)
{
	sl_tensor *in = in_t(c, 0), *w = in_t(c, 1), *b = in_t(c, 2);
	sl_conv_params *p = &c->n->p.conv;
	const bool dw = c->n->op == SL_OP_DEPTHWISE_CONV_2D;
	if (in->rank != 4 || w->rank != 4)
		return NFAIL(c, SL_E_SHAPE, "input and filter must be 4-D (got %d-D and %d-D)", in->rank,
			     w->rank);
	const int32_t ic = in->dims[3];
	int32_t oc;
	if (dw) {
		/* Filter 1HW(C*M); older files carry inconsistent depth_multiplier
		 * options, so it is derived from the shapes as TFLite does. */
		if (w->dims[0] != 1 || ic < 1 || w->dims[3] % ic != 0)
			return NFAIL(c, SL_E_SHAPE,
				     "depthwise filter [%d,%d,%d,%d] does not fit %d input channels",
				     w->dims[0], w->dims[1], w->dims[2], w->dims[3], ic);
		oc = w->dims[3];
		p->depth_multiplier = oc / ic;
	} else {
		if (w->dims[3] != ic)
			return NFAIL(c, SL_E_SHAPE, "filter has %d input channels, input has %d", w->dims[3],
				     ic);
		oc = w->dims[0];
	}
	int r = check_weights(c, in, w, b, oc, dw ? 3 : 0);
	if (r < 0)
		return r;
	if (p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1)
		return NFAIL(c, SL_E_FORMAT, "invalid stride %dx%d or dilation %dx%d", p->stride_h,
			     p->stride_w, p->dilation_h, p->dilation_w);
	out->rank = 4;
	out->d[0] = in->dims[0];
	out->d[3] = oc;
	if (conv_dim(in->dims[1], w->dims[1], p->stride_h, p->dilation_h, p->padding, &out->d[1], &p->pad_top,
		     &p->pad_bottom) < 0 ||
	    conv_dim(in->dims[2], w->dims[2], p->stride_w, p->dilation_w, p->padding, &out->d[2],
		     &p->pad_left, &p->pad_right) < 0)
		return NFAIL(c, SL_E_SHAPE, "filter %dx%d does not fit input %dx%d", w->dims[1], w->dims[2],
			     in->dims[1], in->dims[2]);
	return 0;
}

static int infer_fc(nctx *c, shape *out)
{
	sl_tensor *in = in_t(c, 0), *w = in_t(c, 1), *b = in_t(c, 2);
	if (w->rank != 2 || in->rank < 1)
		return NFAIL(c, SL_E_SHAPE, "weights must be 2-D, got %d-D", w->rank);
	const int32_t oc = w->dims[0], ic = w->dims[1];
	int r = check_weights(c, in, w, b, oc, 0);
	if (r < 0)
		return r;
	int64_t n = sl_tensor_numel(in);
	if (ic < 1 || n < 0 || n % ic != 0)
		return NFAIL(c, SL_E_SHAPE, "input of %lld elements is not a multiple of %d", (long long)n,
			     ic);
	if (c->n->p.fc.keep_dims) {
		if (in->dims[in->rank - 1] != ic)
			return NFAIL(c, SL_E_SHAPE, "keep_dims: last input dimension %d, weights expect %d",
				     in->dims[in->rank - 1], ic);
		*out = shape_of(in);
		out->d[in->rank - 1] = oc;
	} else {
		out->rank = 2;
		out->d[0] = (int32_t)(n / ic);
		out->d[1] = oc;
	}
	return 0;
}

static int infer_binary(nctx *c, shape *out)
{
	sl_tensor *a = in_t(c, 0), *b = in_t(c, 1);
	if (!is_act_dtype(a->dtype) || a->dtype != b->dtype)
		return NFAIL(c, SL_E_UNSUPPORTED, "operands %s and %s not supported", sl_dtype_name(a->dtype),
			     sl_dtype_name(b->dtype));
	out->rank = SL_MAX(a->rank, b->rank);
	for (int i = 0; i < out->rank; i++) {
		int ia = a->rank - out->rank + i, ib = b->rank - out->rank + i;
		int32_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
		if (da != db && da != 1 && db != 1) {
			char sa[64], sb[64];
			shape_str(sa, sizeof(sa), a->rank, a->dims);
			shape_str(sb, sizeof(sb), b->rank, b->dims);
			return NFAIL(c, SL_E_SHAPE, "shapes %s and %s do not broadcast", sa, sb);
		}
		out->d[i] = da == 1 ? db : da;
	}
	return 0;
}

static int infer_pool(nctx *c, shape *out)
{
	sl_tensor *in = in_t(c, 0);
	sl_pool_params *p = &c->n->p.pool;
	if (in->rank != 4)
		return NFAIL(c, SL_E_SHAPE, "input must be 4-D, got %d-D", in->rank);
	if (p->filter_h < 1 || p->filter_w < 1 || p->stride_h < 1 || p->stride_w < 1)
		return NFAIL(c, SL_E_FORMAT, "invalid filter %dx%d or stride %dx%d", p->filter_h, p->filter_w,
			     p->stride_h, p->stride_w);
	out->rank = 4;
	out->d[0] = in->dims[0];
	out->d[3] = in->dims[3];
	if (conv_dim(in->dims[1], p->filter_h, p->stride_h, 1, p->padding, &out->d[1], &p->pad_top,
		     &p->pad_bottom) < 0 ||
	    conv_dim(in->dims[2], p->filter_w, p->stride_w, 1, p->padding, &out->d[2], &p->pad_left,
		     &p->pad_right) < 0)
		return NFAIL(c, SL_E_SHAPE, "window %dx%d does not fit input %dx%d", p->filter_h, p->filter_w,
			     in->dims[1], in->dims[2]);
	return 0;
}

static int infer_mean(nctx *c, shape *out)
{
	sl_tensor *in = in_t(c, 0), *ax = in_t(c, 1);
	int64_t v[SL_MAX_RANK * 2];
	int n = read_const_ints(ax, v, SL_MAX_RANK * 2);
	if (n < 0)
		return NFAIL(c, SL_E_UNSUPPORTED, "axes must be a small constant int32 tensor");
	bool reduce[SL_MAX_RANK] = {0};
	c->n->p.mean.n_axes = 0;
	for (int i = 0; i < n; i++) {
		int64_t a = v[i] < 0 ? v[i] + in->rank : v[i];
		if (a < 0 || a >= in->rank)
			return NFAIL(c, SL_E_SHAPE, "axis %lld out of range for %d-D input", (long long)v[i],
				     in->rank);
		if (!reduce[a])
			c->n->p.mean.axes[c->n->p.mean.n_axes++] = (int32_t)a;
		reduce[a] = true;
	}
	out->rank = 0;
	for (int i = 0; i < in->rank; i++) {
		if (!reduce[i])
			out->d[out->rank++] = in->dims[i];
		else if (c->n->p.mean.keep_dims)
			out->d[out->rank++] = 1;
	}
	return 0;
}

static int infer_reshape(nctx *c, shape *out)
{
	sl_tensor *in = in_t(c, 0), *o = &c->m->tensors[c->n->outputs[0]];
	int64_t n = sl_tensor_numel(in);
	if (o->rank == 0 && n != 1) {
		/* Unknown output shape: take it from a constant shape input. */
		int64_t v[SL_MAX_RANK + 1];
		int k = read_const_ints(in_t(c, 1), v, SL_MAX_RANK);
		if (k <= 0)
			return NFAIL(c, SL_E_SHAPE, "output shape unknown");
		int64_t known = 1;
		int wild = -1;
		for (int i = 0; i < k; i++) {
			if (v[i] == -1 && wild < 0)
				wild = i;
			else if (v[i] < 1 || v[i] > INT32_MAX || __builtin_mul_overflow(known, v[i], &known))
				return NFAIL(c, SL_E_SHAPE, "invalid target shape");
		}
		if (wild >= 0) {
			if (n % known != 0)
				return NFAIL(c, SL_E_SHAPE, "cannot reshape %lld elements", (long long)n);
			v[wild] = n / known;
		}
		out->rank = k;
		for (int i = 0; i < k; i++)
			out->d[i] = (int32_t)v[i];
	} else {
		*out = shape_of(o);
	}
	sl_tensor tmp = {.rank = out->rank};
	memcpy(tmp.dims, out->d, sizeof(tmp.dims));
	if (sl_tensor_numel(&tmp) != n)
		return NFAIL(c, SL_E_SHAPE, "reshape changes the element count (%lld to %lld)", (long long)n,
			     (long long)sl_tensor_numel(&tmp));
	return 0;
}

static int infer_pad(nctx *c, shape *out)
{
	sl_tensor *in = in_t(c, 0), *pt = in_t(c, 1);
	int32_t(*pads)[2] = c->n->p.pad.pads;
	if (pt) {
		int64_t v[SL_MAX_RANK * 2];
		int n = read_const_ints(pt, v, SL_MAX_RANK * 2);
		if (n < 0 || n != in->rank * 2 || pt->rank != 2 || pt->dims[0] != in->rank)
			return NFAIL(c, SL_E_UNSUPPORTED, "paddings must be a constant [%d,2] int32 tensor",
				     in->rank);
		for (int i = 0; i < in->rank * 2; i++) {
			if (v[i] < 0 || v[i] > INT32_MAX)
				return NFAIL(c, SL_E_SHAPE, "invalid padding %lld", (long long)v[i]);
			pads[i / 2][i % 2] = (int32_t)v[i];
		}
	}
	out->rank = in->rank;
	for (int i = 0; i < in->rank; i++) {
		int64_t d = (int64_t)in->dims[i] + pads[i][0] + pads[i][1];
		if (pads[i][0] < 0 || pads[i][1] < 0 || d > INT32_MAX)
			return NFAIL(c, SL_E_SHAPE, "invalid padding on axis %d", i);
		out->d[i] = (int32_t)d;
	}
	return 0;
}

static int infer_concat(nctx *c, shape *out)
{
	sl_tensor *a = in_t(c, 0);
	int axis = c->n->p.concat.axis;
	if (axis < 0)
		axis += a->rank;
	if (axis < 0 || axis >= a->rank)
		return NFAIL(c, SL_E_SHAPE, "axis %d out of range for %d-D inputs", c->n->p.concat.axis,
			     a->rank);
	c->n->p.concat.axis = axis;
	*out = shape_of(a);
	int64_t sum = 0;
	for (int k = 0; k < c->n->n_inputs; k++) {
		sl_tensor *t = in_t(c, k);
		if (t->dtype != a->dtype || !is_act_dtype(t->dtype))
			return NFAIL(c, SL_E_UNSUPPORTED, "input %d is %s, input 0 is %s", k,
				     sl_dtype_name(t->dtype), sl_dtype_name(a->dtype));
		if (t->rank != a->rank)
			return NFAIL(c, SL_E_SHAPE, "input %d has rank %d, input 0 has %d", k, t->rank,
				     a->rank);
		for (int d = 0; d < a->rank; d++)
			if (d != axis && t->dims[d] != a->dims[d])
				return NFAIL(c, SL_E_SHAPE, "input %d differs from input 0 on axis %d", k, d);
		sum += t->dims[axis];
		if (sum > INT32_MAX)
			return NFAIL(c, SL_E_SHAPE, "huge dimensions");
	}
	out->d[axis] = (int32_t)sum;
	return 0;
}

/* Checks the output dtype against the op and returns the inferred shape. */
static int infer_node(nctx *c, shape *out)
{
	sl_node *n = c->n;
	sl_tensor *in = in_t(c, 0);
	sl_tensor *o = &c->m->tensors[n->outputs[0]];
	sl_dtype want = in->dtype;
	int r = 0;

	switch (n->op) {
	case SL_OP_CONV_2D:
	case SL_OP_DEPTHWISE_CONV_2D:
		r = infer_conv(c, out);
		break;
	case SL_OP_FULLY_CONNECTED:
		r = infer_fc(c, out);
		break;
	case SL_OP_ADD:
	case SL_OP_MUL:
		r = infer_binary(c, out);
		break;
	case SL_OP_AVERAGE_POOL_2D:
	case SL_OP_MAX_POOL_2D:
		r = infer_pool(c, out);
		if (r == 0 && !quant_eq(in, o))
			r = NFAIL(c, SL_E_UNSUPPORTED,
				  "quantized pooling needs equal input and output quantization");
		break;
	case SL_OP_MEAN:
		r = infer_mean(c, out);
		break;
	case SL_OP_RESHAPE:
		r = infer_reshape(c, out);
		if (r == 0 && !quant_eq(in, o))
			r = NFAIL(c, SL_E_UNSUPPORTED, "reshape must keep the quantization");
		break;
	case SL_OP_PAD:
		r = infer_pad(c, out);
		if (r == 0 && !quant_eq(in, o))
			r = NFAIL(c, SL_E_UNSUPPORTED,
				  "quantized pad needs equal input and output quantization");
		break;
	case SL_OP_CONCATENATION:
		r = infer_concat(c, out);
		break;
	case SL_OP_SOFTMAX:
		if (!isfinite(n->p.softmax.beta) || in->rank < 1)
			return NFAIL(c, SL_E_FORMAT, "invalid beta or scalar input");
		/* fallthrough */
	case SL_OP_HARD_SWISH:
	case SL_OP_LOGISTIC:
	case SL_OP_RELU:
	case SL_OP_RELU6:
		*out = shape_of(in);
		break;
	case SL_OP_QUANTIZE:
		if (!is_act_dtype(in->dtype) || !is_quant_dtype(o->dtype))
			return NFAIL(c, SL_E_UNSUPPORTED, "%s to %s not supported", sl_dtype_name(in->dtype),
				     sl_dtype_name(o->dtype));
		want = o->dtype;
		*out = shape_of(in);
		break;
	case SL_OP_DEQUANTIZE:
		if (!is_quant_dtype(in->dtype) && in->dtype != SL_DTYPE_F16)
			return NFAIL(c, SL_E_UNSUPPORTED, "%s input not supported", sl_dtype_name(in->dtype));
		want = SL_DTYPE_F32;
		*out = shape_of(in);
		break;
	default:
		return NFAIL(c, SL_E_UNSUPPORTED, "unknown op");
	}
	if (r < 0)
		return r;
	/* Quantized data operands (not weights or bias) are per-tensor. */
	const bool weighted =
	    n->op == SL_OP_CONV_2D || n->op == SL_OP_DEPTHWISE_CONV_2D || n->op == SL_OP_FULLY_CONNECTED;
	for (int k = 0; k < (weighted ? 1 : n->n_inputs); k++) {
		const sl_tensor *t = in_t(c, k);
		if (t && is_quant_dtype(t->dtype) && (t->q.n != 1 || !(t->q.scale[0] > 0)))
			return NFAIL(c, SL_E_UNSUPPORTED,
				     "input %d needs per-tensor quantization with a positive scale", k);
	}
	if (n->op != SL_OP_RESHAPE && n->op != SL_OP_DEQUANTIZE && !is_act_dtype(in->dtype))
		return NFAIL(c, SL_E_UNSUPPORTED, "%s input not supported", sl_dtype_name(in->dtype));
	if (o->dtype != want)
		return NFAIL(c, SL_E_UNSUPPORTED, "output is %s, expected %s", sl_dtype_name(o->dtype),
			     sl_dtype_name(want));
	return 0;
}

static int infer_shapes(sl_model *m, sl_error *err)
{
	for (int pos = 0; pos < m->n_nodes; pos++) {
		nctx c = {.m = m, .err = err, .idx = m->order[pos], .n = &m->nodes[m->order[pos]]};
		shape s = {0};
		int r = infer_node(&c, &s);
		if (r < 0)
			return r;
		sl_tensor *o = &m->tensors[c.n->outputs[0]];
		for (int i = 0; i < s.rank; i++)
			if (s.d[i] < 1)
				return NFAIL(&c, SL_E_SHAPE, "empty output");
		if (o->rank == 0 && s.rank != 0) {
			o->rank = s.rank;
			memcpy(o->dims, s.d, sizeof(o->dims));
		} else if (!shape_eq(&s, o)) {
			char a[96], b[96];
			shape_str(a, sizeof(a), o->rank, o->dims);
			shape_str(b, sizeof(b), s.rank, s.d);
			return NFAIL(&c, SL_E_SHAPE, "output tensor %d (%s) is declared %s, computed %s",
				     c.n->outputs[0], tname(m, c.n->outputs[0]), a, b);
		}
	}
	return 0;
}

/* Sizes and quantization of every tensor, once all shapes are known. */
static int check_sizes_and_quant(sl_model *m, const uint8_t *gin, sl_error *err)
{
	for (int i = 0; i < m->n_tensors; i++) {
		sl_tensor *t = &m->tensors[i];
		int64_t n = sl_tensor_numel(t);
		size_t bytes;
		if (n < 0 || !sl_mul_size((size_t)n, sl_dtype_size(t->dtype), &bytes) ||
		    bytes > SL_MAX_TENSOR_BYTES)
			return fail(m, err, SL_E_UNSUPPORTED, "tensor %d (%s): huge dimensions", i,
				    tname(m, i));
		const bool live = t->kind == SL_TENSOR_ACTIVATION && (t->producer >= 0 || gin[i]);
		if (live && n == 0)
			return fail(m, err, SL_E_SHAPE, "tensor %d (%s): empty activation", i, tname(m, i));
		t->bytes = bytes;
		const sl_quant *q = &t->q;
		if (q->n > 1 && (q->axis < 0 || q->axis >= t->rank || t->dims[q->axis] != q->n))
			return fail(m, err, SL_E_FORMAT,
				    "tensor %d (%s): %d per-channel scales do not match axis %d", i,
				    tname(m, i), q->n, q->axis);
		if (q->n > 1 && t->kind != SL_TENSOR_CONST)
			return fail(m, err, SL_E_UNSUPPORTED,
				    "tensor %d (%s): per-channel activation quantization", i, tname(m, i));
		if (live && is_quant_dtype(t->dtype) && (q->n != 1 || !(q->scale[0] > 0)))
			return fail(m, err, SL_E_FORMAT,
				    "tensor %d (%s): quantized activation needs a positive scale", i,
				    tname(m, i));
		for (int k = 0; k < q->n; k++) {
			if (!isfinite(q->scale[k]) || q->scale[k] < 0)
				return fail(m, err, SL_E_FORMAT, "tensor %d (%s): invalid scale", i,
					    tname(m, i));
			int32_t zp = q->zero_point[k];
			if ((t->dtype == SL_DTYPE_I8 && (zp < -128 || zp > 127)) ||
			    (t->dtype == SL_DTYPE_U8 && (zp < 0 || zp > 255)))
				return fail(m, err, SL_E_FORMAT, "tensor %d (%s): zero point %d out of range",
					    i, tname(m, i), zp);
		}
	}
	return 0;
}

/* ---- finalize: arena plan ---- */

typedef struct {
	int root;
	int first, last;
	size_t bytes;
	size_t offset;
	bool placed;
} group;

static int uf_find(int32_t *p, int x)
{
	while (p[x] != x) {
		p[x] = p[p[x]];
		x = p[x];
	}
	return x;
}

static int cmp_group(const void *a, const void *b)
{
	const group *x = *(group *const *)a, *y = *(group *const *)b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return x->root < y->root ? -1 : (x->root > y->root);
}

static int cmp_offset(const void *a, const void *b)
{
	const group *x = *(group *const *)a, *y = *(group *const *)b;
	return x->offset < y->offset ? -1 : (x->offset > y->offset);
}

/* Greedy best-fit by decreasing size over lifetimes [first, last] in order
 * positions: a node's inputs and output are all live at its position, so no
 * kernel ever writes over its own input. A RESHAPE output shares its input's
 * storage (one group, merged lifetime) so the runtime can skip it. */
static int plan_arena(sl_model *m, sl_error *err)
{
	const int nt = m->n_tensors, nn = m->n_nodes;
	_cleanup_free_ int32_t *first = malloc(sizeof(int32_t) * ((size_t)nt + 1));
	_cleanup_free_ int32_t *parent = malloc(sizeof(int32_t) * ((size_t)nt + 1));
	_cleanup_free_ int32_t *gid = malloc(sizeof(int32_t) * ((size_t)nt + 1));
	_cleanup_free_ group *groups = calloc((size_t)nt + 1, sizeof(group));
	_cleanup_free_ group **sorted = calloc((size_t)nt + 1, sizeof(group *));
	_cleanup_free_ group **live = calloc((size_t)nt + 1, sizeof(group *));
	if (!first || !parent || !gid || !groups || !sorted || !live)
		return fail(m, err, ENOMEM, "out of memory");

	for (int t = 0; t < nt; t++) {
		first[t] = -1;
		parent[t] = t;
		gid[t] = -1;
	}
	for (int i = 0; i < m->n_inputs; i++)
		first[m->inputs[i]] = 0;
	for (int pos = 0; pos < nn; pos++) {
		const sl_node *n = &m->nodes[m->order[pos]];
		for (int k = 0; k < n->n_inputs; k++) {
			int t = n->inputs[k];
			if (t >= 0)
				m->tensors[t].last_use = pos;
		}
		first[n->outputs[0]] = pos;
	}
	for (int i = 0; i < m->n_outputs; i++)
		m->tensors[m->outputs[i]].last_use = nn;
	for (int pos = 0; pos < nn; pos++) {
		const sl_node *n = &m->nodes[m->order[pos]];
		if (n->op == SL_OP_RESHAPE && m->tensors[n->inputs[0]].kind == SL_TENSOR_ACTIVATION) {
			int a = uf_find(parent, n->inputs[0]), b = uf_find(parent, n->outputs[0]);
			if (a != b)
				parent[b] = a;
		}
	}

	int ng = 0;
	for (int t = 0; t < nt; t++) {
		const sl_tensor *tt = &m->tensors[t];
		if (tt->kind != SL_TENSOR_ACTIVATION || first[t] < 0)
			continue;
		int r = uf_find(parent, t);
		if (gid[r] < 0) {
			gid[r] = ng;
			groups[ng++] = (group){.root = r, .first = first[t], .last = first[t]};
		}
		group *g = &groups[gid[r]];
		g->first = SL_MIN(g->first, first[t]);
		g->last = SL_MAX(g->last, SL_MAX(tt->last_use, first[t]));
		g->bytes = SL_MAX(g->bytes, tt->bytes);
	}
	for (int i = 0; i < ng; i++)
		sorted[i] = &groups[i];
	qsort(sorted, (size_t)ng, sizeof(*sorted), cmp_group);

	size_t arena = 0;
	for (int i = 0; i < ng; i++) {
		group *g = sorted[i];
		int nl = 0;
		for (int j = 0; j < i; j++)
			if (sorted[j]->first <= g->last && g->first <= sorted[j]->last)
				live[nl++] = sorted[j];
		qsort(live, (size_t)nl, sizeof(*live), cmp_offset);
		size_t cur = 0, best = SIZE_MAX, best_gap = SIZE_MAX;
		for (int j = 0; j < nl; j++) {
			if (live[j]->offset > cur) {
				size_t gap = live[j]->offset - cur;
				if (gap >= g->bytes && gap < best_gap) {
					best = cur;
					best_gap = gap;
				}
			}
			size_t end = SL_ALIGN_UP(live[j]->offset + live[j]->bytes, SL_ARENA_ALIGN);
			cur = SL_MAX(cur, end);
		}
		g->offset = best != SIZE_MAX ? best : cur;
		g->placed = true;
		/* Each group is <= 1 GiB and offsets never exceed the 2 GiB bound
		 * checked here, so these sums cannot overflow. */
		arena = SL_MAX(arena, SL_ALIGN_UP(g->offset + g->bytes, SL_ARENA_ALIGN));
		if (arena > SL_MAX_ARENA_BYTES)
			return fail(m, err, SL_E_UNSUPPORTED, "activations need more than %zu MiB",
				    SL_MAX_ARENA_BYTES >> 20);
	}
	for (int t = 0; t < nt; t++) {
		sl_tensor *tt = &m->tensors[t];
		if (tt->kind == SL_TENSOR_ACTIVATION && first[t] >= 0)
			tt->arena_offset = groups[gid[uf_find(parent, t)]].offset;
	}
	m->arena_size = arena;
	return 0;
}

int sl_model_finalize(sl_model *m, sl_error *err)
{
	if (!m)
		return -EINVAL;
	_cleanup_free_ uint8_t *gin = calloc((size_t)m->n_tensors + 1, 1);
	int r;
	if (!gin)
		r = fail(m, err, ENOMEM, "out of memory");
	else if ((r = check_tensors(m, err)) >= 0 && (r = check_io(m, gin, err)) >= 0 &&
		 (r = check_nodes(m, gin, err)) >= 0 && (r = topo_order(m, err)) >= 0 &&
		 (r = infer_shapes(m, err)) >= 0 && (r = check_sizes_and_quant(m, gin, err)) >= 0)
		r = plan_arena(m, err);
	if (r < 0) {
		free(m->order);
		m->order = NULL;
		m->arena_size = 0;
		return r;
	}
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
