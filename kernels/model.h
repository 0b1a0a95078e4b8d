/* Sightline model IR: tensors, operators and a graph in execution order.
 *
 * The IR is what every importer produces and every backend consumes. A model is
 * immutable once sl_model_finalize() has run (topological order, shapes and the
 * activation arena plan are fixed); per-instance mutable state lives in
 * sl_runtime (runtime.h), so one model can back several runtimes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_MAX_RANK 6
#define SL_MAX_NODE_INPUTS 8 /* CONCATENATION may have more: see sl_node.inputs */

typedef enum {
	SL_DTYPE_F32,
	SL_DTYPE_F16,
	SL_DTYPE_I8,
	SL_DTYPE_U8,
	SL_DTYPE_I32,
	SL_DTYPE_I64,
	SL_DTYPE__COUNT
} sl_dtype;

/* Per-tensor quantization has n == 1; per-channel has n == dims[axis]. */
typedef struct {
	int n;
	int axis;
	float *scale;       /* n entries, owned */
	int32_t *zero_point; /* n entries, owned */
} sl_quant;

typedef enum {
	SL_TENSOR_ACTIVATION, /* lives in the runtime arena at arena_offset */
	SL_TENSOR_CONST,      /* data points at constant bytes (file or owned copy) */
} sl_tensor_kind;

typedef struct {
	char *name; /* owned, may be NULL */
	sl_dtype dtype;
	int rank;
	int32_t dims[SL_MAX_RANK];
	sl_quant q; /* q.n == 0: not quantized */
	sl_tensor_kind kind;
	const void *data; /* SL_TENSOR_CONST only */
	size_t bytes;     /* element count * dtype size */
	size_t arena_offset; /* SL_TENSOR_ACTIVATION, after finalize */
	/* Filled by finalize: index of the node producing it (-1 for graph inputs
	 * and constants) and the position of its last consumer in order[]. */
	int producer;
	int last_use;
} sl_tensor;

typedef enum {
	SL_OP_CONV_2D,
	SL_OP_DEPTHWISE_CONV_2D,
	SL_OP_FULLY_CONNECTED,
	SL_OP_ADD,
	SL_OP_MUL,
	SL_OP_AVERAGE_POOL_2D,
	SL_OP_MAX_POOL_2D,
	SL_OP_MEAN,
	SL_OP_RESHAPE,
	SL_OP_SOFTMAX,
	SL_OP_QUANTIZE,
	SL_OP_DEQUANTIZE,
	SL_OP_PAD,
	SL_OP_CONCATENATION,
	SL_OP_HARD_SWISH,
	SL_OP_LOGISTIC,
	SL_OP_RELU,
	SL_OP_RELU6,
	SL_OP__COUNT
} sl_op;

typedef enum {
	SL_ACT_NONE,
	SL_ACT_RELU,
	SL_ACT_RELU_N1_TO_1,
	SL_ACT_RELU6,
} sl_act;

typedef enum {
	SL_PADDING_SAME,
	SL_PADDING_VALID,
} sl_padding;

/* Layouts follow TFLite: activations NHWC; CONV_2D filters OHWI; depthwise
 * filters 1HW(C*M); FULLY_CONNECTED weights [out, in]; biases int32 (quantized,
 * scale = input_scale * filter_scale[c], zero point 0) or float. */
typedef struct {
	int stride_h, stride_w;
	int dilation_h, dilation_w;
	sl_padding padding;
	int depth_multiplier; /* depthwise only */
	/* Explicit padding computed by finalize from padding and shapes. */
	int pad_top, pad_left, pad_bottom, pad_right;
} sl_conv_params;

typedef struct {
	int filter_h, filter_w;
	int stride_h, stride_w;
	sl_padding padding;
	int pad_top, pad_left, pad_bottom, pad_right;
} sl_pool_params;

typedef struct {
	sl_op op;
	sl_act act; /* fused activation, SL_ACT_NONE where the op has none */
	int n_inputs, n_outputs;
	int32_t *inputs;  /* tensor indices, -1 = optional input absent; owned */
	int32_t *outputs; /* owned */
	union {
		sl_conv_params conv; /* CONV_2D, DEPTHWISE_CONV_2D */
		sl_pool_params pool; /* AVERAGE/MAX_POOL_2D */
		struct {
			bool keep_dims;
		} fc; /* FULLY_CONNECTED */
		struct {
			bool keep_dims;
			int n_axes;
			int32_t axes[SL_MAX_RANK];
		} mean; /* axes are copied from the constant axis tensor */
		struct {
			float beta;
		} softmax;
		struct {
			int axis; /* normalised to [0, rank) */
		} concat;
		struct {
			/* [rank][2] before/after, copied from the constant paddings tensor */
			int32_t pads[SL_MAX_RANK][2];
		} pad;
	} p;
	/* Which backend runs this node and why, set by the runtime for inspect. */
} sl_node;

typedef struct sl_model {
	unsigned refcount;
	char *path; /* owned, for error messages */
	char *description;

	int n_tensors;
	sl_tensor *tensors; /* owned */
	int n_nodes;
	sl_node *nodes; /* owned, in file order */

	int n_inputs, n_outputs;
	int32_t *inputs, *outputs; /* owned */

	/* After finalize: */
	int32_t *order;    /* n_nodes node indices in execution order */
	size_t arena_size; /* bytes for all activations of one instance */

	/* Backing storage for constant tensor data. */
	void *blob;
	size_t blob_size;
	void (*blob_free)(void *blob, size_t size);
	void **owned; /* extra owned buffers (converted weights etc.) */
	int n_owned;

	/* Data backends derive from the constants (packed weights), shared by
	 * every runtime of the model: see sl_model_derived_get. */
	struct sl_model_derived *derived;
} sl_model;

/* Status codes beyond negative errno, with human text from sl_strerror. */
enum {
	SL_E_FORMAT = 1000,     /* malformed file */
	SL_E_UNSUPPORTED = 1001, /* valid but not supported (op, dtype, ...) */
	SL_E_SHAPE = 1002,      /* inconsistent shapes */
	SL_E_GRAPH = 1003,      /* cycle, dangling tensor, ... */
};

/* Detailed error text for the last failure, filled by importers and finalize
 * so that callers (which log) can say which file, operator and index failed. */
typedef struct {
	char msg[256];
} sl_error;

const char *sl_strerror(int err); /* err negative */
size_t sl_dtype_size(sl_dtype t);
const char *sl_dtype_name(sl_dtype t);
/* int8 or uint8: the quantized activation and weight types. */
static inline bool sl_dtype_is_q8(sl_dtype t)
{
	return t == SL_DTYPE_I8 || t == SL_DTYPE_U8;
}
const char *sl_op_name(sl_op op);
const char *sl_act_name(sl_act a);

/* Element count, or -1 on overflow / negative dimension. */
int64_t sl_tensor_numel(const sl_tensor *t);

/* Lifetime. sl_model_new returns an empty model with refcount 1. */
sl_model *sl_model_new(void);
sl_model *sl_model_ref(sl_model *m);
sl_model *sl_model_unref(sl_model *m); /* returns NULL; NULL is a no-op */
static inline void sl_model_unrefp(sl_model **m)
{
	sl_model_unref(*m);
}

/* Builder helpers used by importers and tests. Indices are returned. */
int sl_model_add_tensor(sl_model *m, const sl_tensor *t, sl_error *err);
int sl_model_add_node(sl_model *m, const sl_node *n, sl_error *err);
/* Remember a malloc'd buffer to free with the model. */
int sl_model_own(sl_model *m, void *buf);

/* Validate, order topologically (rejects cycles), infer and check shapes,
 * resolve explicit padding and plan the activation arena. */
int sl_model_finalize(sl_model *m, sl_error *err);

/* Per-model cache of data built from constant tensors (packed weights), so
 * that the runtimes the daemon creates at each swap of a model it keeps
 * loaded (daemon/engine.h's model cache) do not redo that work. Thread-safe; entries live as long as the
 * model, and their data must be treated as immutable by whoever borrows it.
 *
 * Models are immutable by contract, but model builders (compression) do edit
 * weights in place between runtimes: hence the key carries a hash of every
 * byte the data was derived from, and a stale entry is simply never found
 * again. */
typedef struct {
	int node;
	uint32_t kind; /* backend-defined: what was built, in which layout */
	uint64_t hash; /* sl_model_hash over the inputs of the build */
} sl_model_derived_key;

typedef struct {
	uint64_t builds, hits; /* since the model was created */
	size_t entries, bytes;
} sl_model_derived_stats;

/* Returns the data cached under key, or calls build(arg, &data, &bytes) and
 * caches what it returns, with a reference the caller gives back with
 * sl_model_derived_put. Builds are serialised per model, so two runtimes
 * never build the same entry twice; build's error is returned as is and
 * nothing is cached then. Entries nobody references stay cached (the next
 * runtime of the model reuses them) until the model goes, except those a
 * newer build for the same node and kind superseded: they go at once. */
int sl_model_derived_get(const sl_model *m, const sl_model_derived_key *key,
			 int (*build)(void *arg, void **ret_data, size_t *ret_bytes),
			 void (*destroy)(void *data), void *arg, void **ret);
void sl_model_derived_put(const sl_model *m, const sl_model_derived_key *key);
void sl_model_derived_get_stats(const sl_model *m, sl_model_derived_stats *ret);
/* 64-bit hash of n bytes, chained through h (start with 0). Fast enough to
 * run over all the weights at every runtime creation. */
uint64_t sl_model_hash(uint64_t h, const void *p, size_t n);

/* Parameters and multiply-accumulate count for one node, for inspect. */
int64_t sl_node_macs(const sl_model *m, const sl_node *n);
int64_t sl_node_params(const sl_model *m, const sl_node *n);
/* Fraction of exactly-zero weight elements (quantized: equal to zero point). */
double sl_node_weight_sparsity(const sl_model *m, const sl_node *n);
