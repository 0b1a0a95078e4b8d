/* XNNPACK backend entry points: initialisation, per-node dispatch and the step
 * that runs the node's operators. The per-op files only translate one node
 * into XNNPACK operators; everything generic lives here. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/xnn/xnn_internal.h"

static pthread_once_t xnn_once = PTHREAD_ONCE_INIT;
static int xnn_init_result;

static void xnn_init_once(void)
{
	switch (xnn_initialize(NULL)) {
	case xnn_status_success:
		xnn_init_result = 0;
		break;
	case xnn_status_out_of_memory:
		xnn_init_result = -ENOMEM;
		break;
	case xnn_status_unsupported_hardware:
		xnn_init_result = -ENOTSUP;
		break;
	default:
		xnn_init_result = -EIO;
		break;
	}
}

int sl_xnn_init(void)
{
	pthread_once(&xnn_once, xnn_init_once);
	return xnn_init_result;
}

sl_xnn_kind sl_xnn_kind_of(const sl_tensor *t)
{
	switch (t->dtype) {
	case SL_DTYPE_F32:
		return t->q.n == 0 ? SL_XNN_F32 : SL_XNN_OTHER;
	case SL_DTYPE_U8:
		return t->q.n == 1 ? SL_XNN_QU8 : SL_XNN_OTHER;
	case SL_DTYPE_I8:
		return t->q.n == 1 ? SL_XNN_QS8 : SL_XNN_OTHER;
	default:
		return SL_XNN_OTHER;
	}
}

const char *sl_xnn_kind_name(sl_xnn_kind k)
{
	switch (k) {
	case SL_XNN_F32:
		return "f32";
	case SL_XNN_QU8:
		return "qu8";
	case SL_XNN_QS8:
		return "qs8";
	default:
		return "unsupported-dtype";
	}
}

const sl_tensor *sl_xnn_in(const sl_xnn_job *j, int i)
{
	if (i >= j->n->n_inputs || j->n->inputs[i] < 0)
		return NULL;
	return &j->m->tensors[j->n->inputs[i]];
}

const sl_tensor *sl_xnn_out(const sl_xnn_job *j, int i)
{
	if (i >= j->n->n_outputs || j->n->outputs[i] < 0)
		return NULL;
	return &j->m->tensors[j->n->outputs[i]];
}

static void *tensor_ptr(sl_xnn_job *j, const sl_tensor *t)
{
	if (t->kind == SL_TENSOR_ACTIVATION)
		return j->ctx->arena + t->arena_offset;
	if (j->st->n_bufs == SL_XNN_MAX_BUFS) {
		snprintf(j->err->msg, sizeof(j->err->msg), "xnnpack: too many constant inputs");
		return NULL;
	}
	uint8_t *copy = calloc(1, t->bytes + XNN_EXTRA_BYTES);
	if (!copy) {
		snprintf(j->err->msg, sizeof(j->err->msg), "xnnpack: out of memory copying a constant");
		return NULL;
	}
	if (t->bytes)
		memcpy(copy, t->data, t->bytes);
	j->st->bufs[j->st->n_bufs++] = copy;
	return copy;
}

void *sl_xnn_in_ptr(sl_xnn_job *j, int i)
{
	return tensor_ptr(j, sl_xnn_in(j, i));
}

void *sl_xnn_out_ptr(sl_xnn_job *j, int i)
{
	return tensor_ptr(j, sl_xnn_out(j, i));
}

const float *sl_xnn_const_f32(const sl_xnn_job *j, int tensor)
{
	if (tensor < 0)
		return NULL;
	const sl_tensor *t = &j->m->tensors[tensor];
	return t->kind == SL_TENSOR_CONST && t->dtype == SL_DTYPE_F32 ? t->data : NULL;
}

int sl_xnn_decline(sl_xnn_job *j, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->step->why, sizeof(j->step->why), fmt, ap);
	va_end(ap);
	return -EOPNOTSUPP;
}

void sl_xnn_set_why(sl_xnn_job *j, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->step->why, sizeof(j->step->why), fmt, ap);
	va_end(ap);
}

static const char *status_name(enum xnn_status s)
{
	switch (s) {
	case xnn_status_success:
		return "success";
	case xnn_status_uninitialized:
		return "uninitialized";
	case xnn_status_invalid_parameter:
		return "invalid parameter";
	case xnn_status_invalid_state:
		return "invalid state";
	case xnn_status_unsupported_parameter:
		return "unsupported parameter";
	case xnn_status_unsupported_hardware:
		return "unsupported hardware";
	case xnn_status_out_of_memory:
		return "out of memory";
	}
	return "unknown status";
}

int sl_xnn_check(sl_xnn_job *j, enum xnn_status s, const char *what)
{
	if (s == xnn_status_success)
		return 0;
	if (s == xnn_status_out_of_memory) {
		snprintf(j->err->msg, sizeof(j->err->msg), "xnnpack: out of memory in %s", what);
		return -ENOMEM;
	}
	/* Parameters XNNPACK rejects (scale ratios out of its range, shapes
	 * it has no kernel for) are not errors: the reference op runs them. */
	return sl_xnn_decline(j, "xnnpack: %s: %s", what, status_name(s));
}

int sl_xnn_push_op(sl_xnn_job *j, xnn_operator_t op)
{
	if (j->st->n_ops == SL_XNN_MAX_OPS) {
		xnn_delete_operator(op);
		return sl_xnn_decline(j, "xnnpack: too many operators for one node");
	}
	j->st->ops[j->st->n_ops++] = op;
	return 0;
}

void sl_xnn_act_range_f32(sl_act act, float *lo, float *hi)
{
	*lo = -INFINITY;
	*hi = INFINITY;
	switch (act) {
	case SL_ACT_RELU:
		*lo = 0.0f;
		break;
	case SL_ACT_RELU6:
		*lo = 0.0f;
		*hi = 6.0f;
		break;
	case SL_ACT_RELU_N1_TO_1:
		*lo = -1.0f;
		*hi = 1.0f;
		break;
	case SL_ACT_NONE:
		break;
	}
}

bool sl_xnn_act_range_q(sl_act act, const sl_tensor *out, int32_t *lo, int32_t *hi)
{
	const int32_t qmin = out->dtype == SL_DTYPE_U8 ? 0 : -128;
	const int32_t qmax = out->dtype == SL_DTYPE_U8 ? 255 : 127;
	const float scale = out->q.scale[0];
	const int32_t zp = out->q.zero_point[0];
	/* Same rounding as TFLite: round half away from zero of f / scale. */
#define SL_XNN_Q(f) (zp + (int32_t)roundf((f) / scale))
	*lo = qmin;
	*hi = qmax;
	switch (act) {
	case SL_ACT_RELU:
		*lo = SL_MAX(qmin, SL_XNN_Q(0.0f));
		break;
	case SL_ACT_RELU6:
		*lo = SL_MAX(qmin, SL_XNN_Q(0.0f));
		*hi = SL_MIN(qmax, SL_XNN_Q(6.0f));
		break;
	case SL_ACT_RELU_N1_TO_1:
		*lo = SL_MAX(qmin, SL_XNN_Q(-1.0f));
		*hi = SL_MIN(qmax, SL_XNN_Q(1.0f));
		break;
	case SL_ACT_NONE:
		break;
	}
#undef SL_XNN_Q
	/* XNNPACK wants a non-empty range. */
	return *lo < *hi;
}

bool sl_xnn_same_quant(const sl_tensor *a, const sl_tensor *b)
{
	return a->q.n == 1 && b->q.n == 1 && a->q.scale[0] == b->q.scale[0] &&
	       a->q.zero_point[0] == b->q.zero_point[0];
}

static void xnn_state_free(sl_xnn_state *st)
{
	if (!st)
		return;
	for (int i = 0; i < st->n_ops; i++)
		xnn_delete_operator(st->ops[i]);
	for (int i = 0; i < st->n_bufs; i++)
		free(st->bufs[i]);
	free(st);
}

static int xnn_step_run(sl_step *s, uint8_t *arena)
{
	(void)arena; /* bound once by xnn_setup_* at prepare time */
	sl_xnn_state *st = s->state;
	for (int i = 0; i < st->n_ops; i++)
		if (xnn_run_operator(st->ops[i], st->pool) != xnn_status_success)
			return -EIO;
	return 0;
}

static bool is_q8(const sl_tensor *t)
{
	return t && sl_dtype_is_q8(t->dtype);
}

static bool same_q(const sl_tensor *a, const sl_tensor *b)
{
	return a->q.n == 1 && b->q.n == 1 && a->q.scale[0] == b->q.scale[0] &&
	       a->q.zero_point[0] == b->q.zero_point[0];
}

/* Whether XNNPACK computes this node exactly as TFLite's reference does:
 * float nodes (no int8 semantics to match), and int8 nodes that move or
 * compare values without rescaling them. Everything that requantizes rounds
 * with one fp32 multiply in XNNPACK's x86 kernels. */
static bool rounds_like_tflite(const sl_xnn_job *j)
{
	const sl_node *n = j->n;
	const sl_tensor *out = sl_xnn_out(j, 0);
	bool any_q8 = is_q8(out);
	for (int i = 0; i < n->n_inputs; i++)
		any_q8 = any_q8 || is_q8(sl_xnn_in(j, i));
	if (!any_q8)
		return true;
	switch (n->op) {
	case SL_OP_MAX_POOL_2D:
	case SL_OP_PAD:
	case SL_OP_RESHAPE:
	case SL_OP_DEQUANTIZE: /* float out: one multiply both ways */
		return true;
	case SL_OP_RELU:
	case SL_OP_RELU6:
	case SL_OP_CONCATENATION:
		for (int i = 0; i < n->n_inputs; i++) {
			const sl_tensor *in = sl_xnn_in(j, i);
			if (!out || !in || !same_q(in, out))
				return false;
		}
		return true;
	default:
		return false;
	}
}

static void xnn_step_destroy(sl_step *s)
{
	xnn_state_free(s->state);
	s->state = NULL;
}

int sl_xnn_prepare(const sl_prepare_ctx *ctx, int node, sl_step *step, sl_error *err)
{
	const sl_node *n = &ctx->model->nodes[node];
	step->why[0] = '\0';
	const int ir = sl_xnn_init();
	if (ir < 0) {
		snprintf(step->why, sizeof(step->why), "xnnpack: unavailable (%s)", strerror(-ir));
		return -EOPNOTSUPP;
	}
	sl_xnn_state *st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err->msg, sizeof(err->msg), "xnnpack: out of memory");
		return -ENOMEM;
	}
	st->pool = ctx->pool;
	sl_error why_hard = {.msg = ""};
	sl_xnn_job j = {.ctx = ctx, .m = ctx->model, .n = n, .step = step, .err = &why_hard, .st = st};

	int r;
	if (ctx->numerics == SL_NUMERICS_TFLITE && !rounds_like_tflite(&j)) {
		r = sl_xnn_decline(&j, "xnnpack: %s int8 rounding differs (--numerics)", sl_op_name(n->op));
		xnn_state_free(st);
		return r;
	}
	switch (n->op) {
	case SL_OP_CONV_2D:
	case SL_OP_DEPTHWISE_CONV_2D:
		r = sl_xnn_prepare_conv(&j);
		break;
	case SL_OP_FULLY_CONNECTED:
		r = sl_xnn_prepare_fully_connected(&j);
		break;
	case SL_OP_ADD:
	case SL_OP_MUL:
		r = sl_xnn_prepare_binary(&j);
		break;
	case SL_OP_AVERAGE_POOL_2D:
	case SL_OP_MAX_POOL_2D:
		r = sl_xnn_prepare_pool(&j);
		break;
	case SL_OP_MEAN:
		r = sl_xnn_prepare_mean(&j);
		break;
	case SL_OP_HARD_SWISH:
	case SL_OP_LOGISTIC:
	case SL_OP_RELU:
	case SL_OP_RELU6:
		r = sl_xnn_prepare_unary(&j);
		break;
	case SL_OP_SOFTMAX:
		r = sl_xnn_prepare_softmax(&j);
		break;
	case SL_OP_QUANTIZE:
	case SL_OP_DEQUANTIZE:
		r = sl_xnn_prepare_convert(&j);
		break;
	case SL_OP_PAD:
		r = sl_xnn_prepare_pad(&j);
		break;
	case SL_OP_CONCATENATION:
		r = sl_xnn_prepare_concat(&j);
		break;
	case SL_OP_RESHAPE:
		r = sl_xnn_prepare_reshape(&j);
		break;
	default:
		r = sl_xnn_decline(&j, "xnnpack: %s not mapped", sl_op_name(n->op));
		break;
	}
	if (r == 0 && st->n_ops == 0)
		r = sl_xnn_decline(&j, "xnnpack: nothing to run");
	if (r < 0) {
		if (r != -EOPNOTSUPP)
			snprintf(err->msg, sizeof(err->msg), "node %d (%s): %s", node, sl_op_name(n->op),
				 why_hard.msg[0] ? why_hard.msg : strerror(-r));
		xnn_state_free(st);
		return r;
	}
	step->impl = SL_IMPL_XNNPACK;
	step->node = node;
	step->run = xnn_step_run;
	step->destroy = xnn_step_destroy;
	step->state = st;
	if (step->why[0] == '\0') {
		const sl_tensor *o = sl_xnn_out(&j, 0);
		snprintf(step->why, sizeof(step->why), "xnnpack %s %s", sl_op_name(n->op),
			 o ? sl_xnn_kind_name(sl_xnn_kind_of(o)) : "");
	}
	return 0;
}
