/* sl_ref_prepare: dispatch to the per-family node adapters, and the helpers
 * they share. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ref/node_internal.h"
#include "kernels/ref/ref_ops.h"

const sl_tensor *sl_ref_in(const sl_ref_nctx *c, int k)
{
	if (k < 0 || k >= c->n->n_inputs || c->n->inputs[k] < 0 || c->n->inputs[k] >= c->m->n_tensors)
		return NULL;
	return &c->m->tensors[c->n->inputs[k]];
}

const sl_tensor *sl_ref_out(const sl_ref_nctx *c)
{
	if (c->n->n_outputs < 1 || c->n->outputs[0] < 0 || c->n->outputs[0] >= c->m->n_tensors)
		return NULL;
	return &c->m->tensors[c->n->outputs[0]];
}

sl_ref_tref sl_ref_tref_of(const sl_tensor *t)
{
	if (t->kind == SL_TENSOR_CONST)
		return (sl_ref_tref){.cdata = t->data};
	return (sl_ref_tref){.off = t->arena_offset};
}

bool sl_ref_is_q8(sl_dtype t)
{
	return sl_dtype_is_q8(t);
}

float sl_ref_scale(const sl_tensor *t)
{
	return t->q.n > 0 ? t->q.scale[0] : 0.0f;
}

int32_t sl_ref_zp(const sl_tensor *t)
{
	return t->q.n > 0 ? t->q.zero_point[0] : 0;
}

int sl_ref_fail(const sl_ref_nctx *c, int code, const char *fmt, ...)
{
	if (c->err) {
		char msg[200];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		snprintf(c->err->msg, sizeof(c->err->msg), "reference: node %d (%s): %s", c->idx,
			 sl_op_name(c->n->op), msg);
	}
	return code;
}

int sl_ref_unsupported_dtypes(const sl_ref_nctx *c)
{
	char buf[160];
	size_t o = 0;

	buf[0] = 0;
	for (int k = 0; k < c->n->n_inputs && o < sizeof(buf); k++) {
		const sl_tensor *t = sl_ref_in(c, k);
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", k ? ", " : "",
				      t ? sl_dtype_name(t->dtype) : "none");
	}
	const sl_tensor *out = sl_ref_out(c);
	return sl_ref_fail(c, -SL_E_UNSUPPORTED, "inputs (%s) -> %s not supported", buf,
			   out ? sl_dtype_name(out->dtype) : "none");
}

static void step_destroy(sl_step *s)
{
	free(s->state);
	s->state = NULL;
}

void sl_ref_step_set(sl_step *step, void *state, int (*run)(sl_step *s, uint8_t *arena))
{
	step->impl = SL_IMPL_REF;
	step->run = run;
	step->destroy = step_destroy;
	step->state = state;
	snprintf(step->why, sizeof(step->why), "reference");
}

int sl_ref_prepare(const sl_prepare_ctx *ctx, int node, sl_step *step, sl_error *err)
{
	if (!ctx || !ctx->model || !step || node < 0 || node >= ctx->model->n_nodes)
		return -EINVAL;
	const sl_ref_nctx c = {.m = ctx->model, .n = &ctx->model->nodes[node], .idx = node, .err = err};

	if (!sl_ref_in(&c, 0) || !sl_ref_out(&c))
		return sl_ref_fail(&c, -SL_E_GRAPH, "missing input or output tensor");
	int r;
	switch (c.n->op) {
	case SL_OP_CONV_2D:
	case SL_OP_DEPTHWISE_CONV_2D:
		r = sl_ref_prep_conv(&c, step);
		break;
	case SL_OP_FULLY_CONNECTED:
		r = sl_ref_prep_fc(&c, step);
		break;
	case SL_OP_ADD:
	case SL_OP_MUL:
		r = sl_ref_prep_binary(&c, step);
		break;
	case SL_OP_AVERAGE_POOL_2D:
	case SL_OP_MAX_POOL_2D:
		r = sl_ref_prep_pool(&c, step);
		break;
	case SL_OP_MEAN:
		r = sl_ref_prep_mean(&c, step);
		break;
	case SL_OP_RESHAPE:
		r = sl_ref_prep_reshape(&c, step);
		break;
	case SL_OP_SOFTMAX:
		r = sl_ref_prep_softmax(&c, step);
		break;
	case SL_OP_QUANTIZE:
		r = sl_ref_prep_quantize(&c, step);
		break;
	case SL_OP_DEQUANTIZE:
		r = sl_ref_prep_dequantize(&c, step);
		break;
	case SL_OP_PAD:
		r = sl_ref_prep_pad(&c, step);
		break;
	case SL_OP_CONCATENATION:
		r = sl_ref_prep_concat(&c, step);
		break;
	case SL_OP_HARD_SWISH:
		r = sl_ref_prep_hard_swish(&c, step);
		break;
	case SL_OP_LOGISTIC:
		r = sl_ref_prep_logistic(&c, step);
		break;
	case SL_OP_RELU:
	case SL_OP_RELU6:
		r = sl_ref_prep_relu(&c, step);
		break;
	default:
		return sl_ref_fail(&c, -SL_E_UNSUPPORTED, "operator not implemented");
	}
	if (r == 0)
		step->node = node;
	return r;
}
