/* Node adapter of the dense backend: reads a node's tensors and quantization
 * (multipliers and activation range through the reference's helpers, so the
 * result is bit-exact with it), packs the weights and prepares the layer. */
#include "kernels/dense/dense_backend.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"

typedef struct {
	size_t in_off, out_off;
	struct pthreadpool *pool;
	sl_dense_gemm *gemm;
	sl_dense_conv *conv;
	sl_dense_dw *dw;
	sl_dense_dwconv *dwconv;
	/* ADD */
	size_t b_off, numel;
	const sl_dense_add_impl *add;
	sl_dense_add_params addq;
	/* AVERAGE_POOL_2D, SOFTMAX */
	sl_ref_pool_q8_args avgpool;
	uint32_t *acc; /* AVERAGE_POOL_2D, MEAN: a pixel's channel sums */
	sl_dense_softmax_tab *softmax;
	/* MEAN */
	sl_ref_mean_q8_args mean;
	/* QUANTIZE */
	sl_dtype q_type;
	float q_scale;
	int32_t q_zp;
	bool q_xor;
	uint8_t q_x;
} dense_state;

static void state_free(dense_state *s)
{
	if (!s)
		return;
	sl_dense_conv_free(s->conv);
	sl_dense_gemm_free(s->gemm);
	sl_dense_dwconv_free(s->dwconv);
	sl_dense_dw_free(s->dw);
	free(s->acc);
	free(s->softmax);
	free(s);
}

static void state_freep(dense_state **s)
{
	state_free(*s);
}

static void step_destroy(sl_step *step)
{
	state_free(step->state);
	step->state = NULL;
}

static int run_conv(sl_step *step, uint8_t *arena)
{
	dense_state *s = step->state;
	sl_dense_conv_run(s->conv, arena + s->in_off, arena + s->out_off, s->pool);
	return 0;
}

static int run_dw(sl_step *step, uint8_t *arena)
{
	dense_state *s = step->state;
	sl_dense_dwconv_run(s->dwconv, arena + s->in_off, arena + s->out_off, s->pool);
	return 0;
}

static int run_add(sl_step *step, uint8_t *arena)
{
	dense_state *s = step->state;
	sl_dense_add_run(s->add, &s->addq, s->numel, arena + s->in_off, arena + s->b_off, arena + s->out_off,
			 s->pool);
	return 0;
}

static int run_pool(sl_step *step, uint8_t *arena)
{
	dense_state *s = step->state;
	sl_ref_pool_q8_args a = s->avgpool;
	a.input = arena + s->in_off;
	a.output = arena + s->out_off;
	sl_dense_avgpool_q8(&a, s->acc);
	return 0;
}

static int run_softmax(sl_step *step, uint8_t *arena)
{
	dense_state *s = step->state;
	sl_dense_softmax_q8(s->softmax, arena + s->in_off, arena + s->out_off);
	return 0;
}

static int run_mean(sl_step *step, uint8_t *arena)
{
	dense_state *s = step->state;
	sl_ref_mean_q8_args a = s->mean;
	a.input = arena + s->in_off;
	a.output = arena + s->out_off;
	sl_dense_mean_hw_q8(&a, s->acc);
	return 0;
}

static int run_quantize(sl_step *step, uint8_t *arena)
{
	dense_state *s = step->state;
	if (s->q_xor) {
		sl_dense_xor_bytes(arena + s->in_off, arena + s->out_off, s->numel, s->q_x);
		return 0;
	}
	sl_dense_quantize_f32((const float *)(arena + s->in_off), arena + s->out_off, s->numel, s->q_type,
			      s->q_scale, s->q_zp);
	return 0;
}

/* The step takes s (the step's from now on) and runs on our kernels; why
 * says which, for inspect. */
__attribute__((format(printf, 4, 5))) static int
finish(sl_step *step, dense_state *s, int (*run)(sl_step *, uint8_t *), const char *why, ...)
{
	va_list ap;
	va_start(ap, why);
	vsnprintf(step->why, sizeof(step->why), why, ap);
	va_end(ap);
	step->run = run;
	step->impl = SL_IMPL_DENSE;
	step->destroy = step_destroy;
	step->state = s;
	return 0;
}

static const sl_tensor *tensor(const sl_model *m, const sl_node *n, int k)
{
	if (k >= n->n_inputs || n->inputs[k] < 0 || n->inputs[k] >= m->n_tensors)
		return NULL;
	return &m->tensors[n->inputs[k]];
}

/* Quantization of a node whose tensors are all int8/uint8 with constant
 * weights and bias; false (decline) otherwise. The arrays hold out_c entries. */
typedef struct {
	sl_dense_quant_desc d;
	int32_t *mult;
	int *shift;
} quant_arrays;

static int read_quant(const sl_node *node, const sl_tensor *in, const sl_tensor *w, const sl_tensor *b,
		      const sl_tensor *out, int out_c, quant_arrays *qa)
{
	if (!sl_dtype_is_q8(in->dtype) || !sl_dtype_is_q8(w->dtype) || !sl_dtype_is_q8(out->dtype) ||
	    in->kind != SL_TENSOR_ACTIVATION || out->kind != SL_TENSOR_ACTIVATION ||
	    w->kind != SL_TENSOR_CONST || !w->data)
		return -EOPNOTSUPP;
	if (b && (b->dtype != SL_DTYPE_I32 || b->kind != SL_TENSOR_CONST || !b->data ||
		  sl_tensor_numel(b) != out_c))
		return -EOPNOTSUPP;
	if (in->q.n < 1 || out->q.n < 1 || (w->q.n != 1 && w->q.n != out_c) || out_c < 1)
		return -EOPNOTSUPP;
	const int nq = w->q.n;
	qa->mult = malloc((size_t)nq * sizeof(*qa->mult));
	qa->shift = malloc((size_t)nq * sizeof(*qa->shift));
	if (!qa->mult || !qa->shift)
		return -ENOMEM;
	/* the reference adapter's derivation (TFLite's, per input dtype) */
	sl_ref_conv_q8_multipliers_tflite(in->dtype, in->q.scale[0], w->q.scale, nq, out->q.scale[0],
					  qa->mult, qa->shift);
	qa->d = (sl_dense_quant_desc){
	    .in_type = in->dtype,
	    .w_type = w->dtype,
	    .out_type = out->dtype,
	    .nq = nq,
	    .w_zp = w->q.zero_point,
	    .mult = qa->mult,
	    .shift = qa->shift,
	    .bias = b ? b->data : NULL,
	    .in_zp = in->q.zero_point[0],
	    .out_zp = out->q.zero_point[0],
	};
	sl_ref_act_range_q8(node->act, out->dtype, out->q.scale[0], out->q.zero_point[0], &qa->d.act_min,
			    &qa->d.act_max);
	return 0;
}

/* Leaves the node to the next backend, saying why (the runtime shows it in
 * inspect when the reference ends up running the node). */
static int decline(sl_step *step, const char *why)
{
	snprintf(step->why, sizeof(step->why), "dense: %s", why);
	return -EOPNOTSUPP;
}

static bool is_gemm_or_dw(sl_op op)
{
	return op == SL_OP_CONV_2D || op == SL_OP_DEPTHWISE_CONV_2D || op == SL_OP_FULLY_CONNECTED;
}

/* A failed pack or plan: out of memory is a hard error, anything else (sizes
 * beyond the kernels' limits) is left to the next backend. */
static int decline_or_fail(int r, int node, const char *why, sl_step *step, sl_error *err)
{
	if (r != -ENOMEM) {
		snprintf(step->why, sizeof(step->why), "%.63s", why && *why ? why : "dense: declined");
		return -EOPNOTSUPP;
	}
	if (err)
		snprintf(err->msg, sizeof(err->msg), "dense: node %d: out of memory packing weights", node);
	return r;
}

static bool same_shape(const sl_tensor *a, const sl_tensor *b)
{
	if (a->rank != b->rank)
		return false;
	for (int i = 0; i < a->rank; i++)
		if (a->dims[i] != b->dims[i])
			return false;
	return true;
}

/* Same-shape int8/uint8 ADD of two activations; broadcasting (and constant
 * operands) stay with the next backend. */
static int prepare_add(const sl_prepare_ctx *ctx, int node, const sl_dense_kernels *k, sl_step *step,
		       sl_error *err)
{
	const sl_model *m = ctx->model;
	const sl_node *n = &m->nodes[node];
	if (n->n_outputs < 1 || n->outputs[0] < 0 || n->outputs[0] >= m->n_tensors)
		return decline(step, "no output");
	const sl_tensor *a = tensor(m, n, 0), *b = tensor(m, n, 1), *out = &m->tensors[n->outputs[0]];
	if (!a || !b || n->n_inputs != 2)
		return decline(step, "ADD without two inputs");
	if (!sl_dtype_is_q8(a->dtype) || a->dtype != b->dtype || a->dtype != out->dtype)
		return decline(step, "ADD: int8/uint8 of one type only");
	if (a->kind != SL_TENSOR_ACTIVATION || b->kind != SL_TENSOR_ACTIVATION ||
	    out->kind != SL_TENSOR_ACTIVATION)
		return decline(step, "ADD of a constant");
	if (!same_shape(a, b) || !same_shape(a, out))
		return decline(step, "broadcasting ADD");
	if (a->q.n != 1 || b->q.n != 1 || out->q.n != 1)
		return decline(step, "ADD: per-tensor quantization only");
	if (!k->add)
		return decline(step, "no ADD kernel");
	/* the reference adapter's derivation, for identical multipliers */
	sl_ref_add_q8_args ra = {
	    .a_zp = a->q.zero_point[0], .b_zp = b->q.zero_point[0], .out_zp = out->q.zero_point[0]};
	sl_ref_add_q8_params(a->q.scale[0], b->q.scale[0], out->q.scale[0], &ra);
	sl_ref_act_range_q8(n->act, out->dtype, out->q.scale[0], ra.out_zp, &ra.act_min, &ra.act_max);
	const sl_dense_add_params q = {.u8 = a->dtype == SL_DTYPE_U8,
				       .a_zp = ra.a_zp,
				       .b_zp = ra.b_zp,
				       .out_zp = ra.out_zp,
				       .left_shift = ra.left_shift,
				       .a_mult = ra.a_mult,
				       .b_mult = ra.b_mult,
				       .out_mult = ra.out_mult,
				       .a_shift = ra.a_shift,
				       .b_shift = ra.b_shift,
				       .out_shift = ra.out_shift,
				       .act_min = ra.act_min,
				       .act_max = ra.act_max};
	sl_error perr = {{0}};
	if (sl_dense_add_check(&q, &perr) < 0)
		return decline_or_fail(-EINVAL, node, perr.msg, step, err);
	dense_state *s = calloc(1, sizeof(*s));
	if (!s)
		return decline_or_fail(-ENOMEM, node, NULL, step, err);
	s->in_off = a->arena_offset;
	s->b_off = b->arena_offset;
	s->out_off = out->arena_offset;
	s->numel = (size_t)sl_tensor_numel(out);
	s->pool = ctx->pool;
	s->add = k->add;
	s->addq = q;
	return finish(step, s, run_add, "dense %s", k->add->name);
}

/* The input and output of a one-input node (false: it lacks one). */
static bool in_out(const sl_model *m, const sl_node *n, const sl_tensor **in, const sl_tensor **out)
{
	*in = tensor(m, n, 0);
	if (!*in || n->n_outputs < 1 || n->outputs[0] < 0 || n->outputs[0] >= m->n_tensors)
		return false;
	*out = &m->tensors[n->outputs[0]];
	return true;
}

/* A state reading in and writing out; NULL without memory. */
static dense_state *in_out_state(const sl_tensor *in, const sl_tensor *out)
{
	dense_state *s = calloc(1, sizeof(*s));
	if (s) {
		s->in_off = in->arena_offset;
		s->out_off = out->arena_offset;
	}
	return s;
}

static bool q8_per_tensor(const sl_tensor *t)
{
	return sl_dtype_is_q8(t->dtype) && t->kind == SL_TENSOR_ACTIVATION && t->q.n == 1;
}

/* int8/uint8 AVERAGE_POOL_2D with the input's quantization on the output
 * (what the reference runs; anything else is left to it to report). */
static int prepare_pool(const sl_model *m, int node, sl_step *step, sl_error *err)
{
	const sl_node *n = &m->nodes[node];
	const sl_tensor *in, *out;
	if (!in_out(m, n, &in, &out))
		return decline(step, "pool without input or output");
	const sl_pool_params *p = &n->p.pool;
	if (!q8_per_tensor(in) || !q8_per_tensor(out) || in->dtype != out->dtype ||
	    in->q.scale[0] != out->q.scale[0] || in->q.zero_point[0] != out->q.zero_point[0])
		return decline(step, "pool: int8/uint8 with equal input and output quantization only");
	if (in->rank != 4 || out->rank != 4 || in->dims[0] != out->dims[0] || in->dims[3] != out->dims[3] ||
	    p->stride_h < 1 || p->stride_w < 1 || p->filter_h < 1 || p->filter_w < 1)
		return decline(step, "pool shape");
	dense_state *s = in_out_state(in, out);
	if (!s)
		return decline_or_fail(-ENOMEM, node, NULL, step, err);
	s->avgpool.g = sl_ref_pool_geom_of(in, out, p);
	s->avgpool.type = in->dtype;
	sl_ref_act_range_q8(n->act, out->dtype, out->q.scale[0], out->q.zero_point[0], &s->avgpool.act_min,
			    &s->avgpool.act_max);
	if (!(s->acc = malloc(sl_dense_avgpool_q8_scratch(&s->avgpool.g)))) {
		state_free(s);
		return decline_or_fail(-ENOMEM, node, NULL, step, err);
	}
	return finish(step, s, run_pool, "dense avgpool rows");
}

/* int8/uint8 SOFTMAX over the last dimension, output in TFLite's 1/256 steps. */
static int prepare_softmax(const sl_model *m, int node, sl_step *step, sl_error *err)
{
	const sl_node *n = &m->nodes[node];
	const sl_tensor *in, *out;
	if (!in_out(m, n, &in, &out))
		return decline(step, "softmax without input or output");
	const int32_t want_zp = out->dtype == SL_DTYPE_I8 ? -128 : 0;
	if (!q8_per_tensor(in) || !q8_per_tensor(out) || out->q.zero_point[0] != want_zp ||
	    out->q.scale[0] != 1.0f / 256 || in->rank < 1 || sl_tensor_numel(in) != sl_tensor_numel(out) ||
	    in->dims[in->rank - 1] < 1)
		return decline(step, "softmax: int8/uint8 with TFLite's output quantization only");
	dense_state *s = in_out_state(in, out);
	if (!s || !(s->softmax = malloc(sizeof(*s->softmax)))) {
		state_free(s);
		return decline_or_fail(-ENOMEM, node, NULL, step, err);
	}
	const int depth = in->dims[in->rank - 1];
	sl_ref_softmax_q8_args a = {.in_type = in->dtype,
				    .out_type = out->dtype,
				    .outer = (int)(sl_tensor_numel(in) / depth),
				    .depth = depth};
	sl_ref_softmax_q8_params(n->p.softmax.beta, in->q.scale[0], &a);
	sl_dense_softmax_q8_init(&a, s->softmax);
	return finish(step, s, run_softmax, "dense softmax table");
}

/* int8/uint8 MEAN over the height and width of a 4-D tensor (TF2's global
 * pooling); other axes are left to the reference. */
static int prepare_mean(const sl_model *m, int node, sl_step *step, sl_error *err)
{
	const sl_node *n = &m->nodes[node];
	const sl_tensor *in, *out;
	if (!in_out(m, n, &in, &out))
		return decline(step, "mean without input or output");
	unsigned mask = 0;
	for (int i = 0; i < n->p.mean.n_axes; i++)
		mask |= n->p.mean.axes[i] >= 0 && n->p.mean.axes[i] < 4 ? 1u << n->p.mean.axes[i] : 1u << 8;
	if (!q8_per_tensor(in) || !q8_per_tensor(out) || in->dtype != out->dtype || in->rank != 4 ||
	    mask != 0x6 || sl_tensor_numel(out) != (int64_t)in->dims[0] * in->dims[3])
		return decline(step, "mean: int8/uint8 over height and width only");
	dense_state *s = in_out_state(in, out);
	if (!s || !(s->acc = malloc(sizeof(uint32_t) * (size_t)(in->dims[3] > 0 ? in->dims[3] : 1)))) {
		state_free(s);
		return decline_or_fail(-ENOMEM, node, NULL, step, err);
	}
	s->mean = (sl_ref_mean_q8_args){.g = {.rank = 4, .axes_mask = mask},
					.type = in->dtype,
					.in_zp = in->q.zero_point[0],
					.out_zp = out->q.zero_point[0]};
	for (int d = 0; d < 4; d++)
		s->mean.g.in_dims[d] = in->dims[d];
	sl_ref_mean_q8_params(in->q.scale[0], out->q.scale[0], &s->mean);
	return finish(step, s, run_mean, "dense mean rows");
}

/* QUANTIZE of a float activation to per-tensor int8/uint8 (the first node of
 * a quantized model with float input), or of a uint8 input to int8 (or back)
 * when the reference's byte table is a sign flip or the identity. */
static int prepare_quantize(const sl_model *m, int node, sl_step *step, sl_error *err)
{
	const sl_node *n = &m->nodes[node];
	const sl_tensor *in, *out;
	if (!in_out(m, n, &in, &out))
		return decline(step, "quantize without input or output");
	const bool from_f32 = in->dtype == SL_DTYPE_F32 && in->kind == SL_TENSOR_ACTIVATION;
	if ((!from_f32 && !q8_per_tensor(in)) || !q8_per_tensor(out) ||
	    sl_tensor_numel(in) != sl_tensor_numel(out))
		return decline(step,
			       "quantize: float or per-tensor int8/uint8 to per-tensor int8/uint8 only");
	uint8_t x = 0;
	if (!from_f32) {
		uint8_t map[256];
		sl_ref_requantize_table(in->dtype, in->q.scale[0], in->q.zero_point[0], out->dtype,
					out->q.scale[0], out->q.zero_point[0], map);
		x = map[0];
		for (int v = 0; v < 256; v++)
			if (map[v] != (uint8_t)(v ^ x) || (x != 0 && x != 0x80))
				return decline(step,
					       "quantize: int8/uint8 requantization other than a sign flip");
	}
	dense_state *s = in_out_state(in, out);
	if (!s)
		return decline_or_fail(-ENOMEM, node, NULL, step, err);
	s->numel = (size_t)sl_tensor_numel(in);
	s->q_type = out->dtype;
	s->q_scale = out->q.scale[0];
	s->q_zp = out->q.zero_point[0];
	s->q_xor = !from_f32;
	s->q_x = x;
	return finish(step, s, run_quantize, from_f32 ? "dense quantize" : "dense quantize (sign flip)");
}

int sl_dense_prepare_kernels(const sl_prepare_ctx *ctx, int node, const sl_dense_kernels *k, sl_step *step,
			     sl_error *err)
{
	if (!ctx || !ctx->model || !k || !step || node < 0 || node >= ctx->model->n_nodes)
		return -EINVAL;
	const sl_model *m = ctx->model;
	const sl_node *n = &m->nodes[node];
	if (n->op == SL_OP_ADD)
		return prepare_add(ctx, node, k, step, err);
	if (n->op == SL_OP_AVERAGE_POOL_2D)
		return prepare_pool(m, node, step, err);
	if (n->op == SL_OP_SOFTMAX)
		return prepare_softmax(m, node, step, err);
	if (n->op == SL_OP_QUANTIZE)
		return prepare_quantize(m, node, step, err);
	if (n->op == SL_OP_MEAN)
		return prepare_mean(m, node, step, err);
	if (!is_gemm_or_dw(n->op))
		return -EOPNOTSUPP;
	if (n->n_outputs < 1 || n->outputs[0] < 0 || n->outputs[0] >= m->n_tensors)
		return decline(step, "no output");
	const sl_tensor *in = tensor(m, n, 0), *w = tensor(m, n, 1), *b = tensor(m, n, 2),
			*out = &m->tensors[n->outputs[0]];
	if (!in || !w)
		return decline(step, "no input or weights");
	if (!sl_dtype_is_q8(in->dtype))
		return decline(step, "int8/uint8 only");

	sl_ref_conv_geom g;
	const bool dw = n->op == SL_OP_DEPTHWISE_CONV_2D;
	if (n->op == SL_OP_FULLY_CONNECTED) {
		if (w->rank != 2 || w->dims[0] < 1 || w->dims[1] < 1)
			return decline(step, "weights not 2-D");
		const int64_t numel = sl_tensor_numel(in), depth = w->dims[1];
		if (numel < depth || numel % depth || numel / depth > INT32_MAX ||
		    sl_tensor_numel(out) != numel / depth * w->dims[0])
			return decline(step, "input does not fit the weights");
		g = (sl_ref_conv_geom){.batch = (int)(numel / depth),
				       .in_h = 1,
				       .in_w = 1,
				       .in_c = (int)depth,
				       .out_h = 1,
				       .out_w = 1,
				       .out_c = w->dims[0],
				       .filter_h = 1,
				       .filter_w = 1,
				       .stride_h = 1,
				       .stride_w = 1,
				       .dilation_h = 1,
				       .dilation_w = 1,
				       .groups = 1,
				       .depth_multiplier = 1};
	} else {
		if (in->rank != 4 || w->rank != 4 || out->rank != 4)
			return decline(step, "not 4-D");
		g = sl_ref_conv_geom_of(in, w, out, &n->p.conv, dw);
		/* groups 1 and depth multiplier 1 only (then g says so too) */
		const bool ok = dw ? (w->dims[0] == 1 && w->dims[3] == g.out_c && g.out_c == g.in_c)
				   : (w->dims[0] == g.out_c && w->dims[3] == g.in_c);
		if (!ok || out->dims[0] != g.batch)
			return decline(step, dw ? "depth multiplier above 1" : "grouped convolution");
	}
	if ((dw && !k->n_dw) || (!dw && !k->gemm))
		return decline(step, "no kernel for this CPU");

	_cleanup_free_ int32_t *mult = NULL;
	_cleanup_free_ int *shift = NULL;
	quant_arrays qa = {0};
	int r = read_quant(n, in, w, b, out, g.out_c, &qa);
	mult = qa.mult;
	shift = qa.shift;
	if (r < 0)
		return decline_or_fail(r, node, "dense: dtypes, quantization or non-constant weights", step,
				       err);

	_cleanup_(state_freep) dense_state *s = calloc(1, sizeof(*s));
	if (!s)
		return decline_or_fail(-ENOMEM, node, NULL, step, err);
	s->in_off = in->arena_offset;
	s->out_off = out->arena_offset;
	s->pool = ctx->pool;
	const int threads = ctx->pool ? ctx->threads : 1;
	sl_error perr = {{0}};
	if (dw) {
		r = sl_dense_dw_pack(g.in_c, g.filter_h * g.filter_w, w->data, &qa.d, &s->dw, &perr);
		if (r < 0)
			return decline_or_fail(r, node, perr.msg, step, err);
		const sl_dense_dw_impl *impl = NULL;
		const unsigned isa = sl_dense_cpu_isa();
		for (size_t i = 0; i < k->n_dw && !impl; i++)
			if ((k->dw[i].isa & isa) == k->dw[i].isa && sl_dense_dw_usable(&k->dw[i], s->dw, &g))
				impl = &k->dw[i];
		if (!impl)
			return decline(step, "no depthwise kernel for it");
		r = sl_dense_dwconv_new(&g, s->dw, impl, threads, &s->dwconv, &perr);
		if (r < 0)
			return decline_or_fail(r, node, perr.msg, step, err);
		const bool fast = s->dw->fast;
		return finish(step, SL_TAKE_PTR(s), run_dw, "dense %s%s", impl->name,
			      fast ? "" : " (zero points)");
	}
	r = sl_dense_gemm_pack(g.out_c, g.filter_h * g.filter_w * g.in_c, w->data, &qa.d, k->gemm->layout,
			       &s->gemm, &perr);
	if (r < 0)
		return decline_or_fail(r, node, perr.msg, step, err);
	r = sl_dense_conv_new(&g, s->gemm, k->gemm, threads, &s->conv, &perr);
	if (r < 0)
		return decline_or_fail(r, node, perr.msg, step, err);
	const bool direct = sl_dense_conv_direct(s->conv), row_sums = s->gemm->cw;
	return finish(step, SL_TAKE_PTR(s), run_conv, "dense %s, %s%s", k->gemm->name,
		      direct ? "direct" : "packed tiles", row_sums ? ", row sums" : "");
}

int sl_dense_prepare(const sl_prepare_ctx *ctx, int node, sl_step *step, sl_error *err)
{
	size_t n_dw;
	const sl_dense_dw_impl *dw = sl_dense_dw_impls(&n_dw);
	const sl_dense_kernels k = {
	    .gemm = sl_dense_gemm_select(), .dw = dw, .n_dw = n_dw, .add = sl_dense_add_select()};
	return sl_dense_prepare_kernels(ctx, node, &k, step, err);
}
