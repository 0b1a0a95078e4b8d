/* Model IR, finalize: shape inference in topological order (with explicit
 * padding and dtype checks per op), then sizes and quantization of every
 * tensor. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/model.h"
#include "kernels/model_internal.h"

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
	mi_fail((c)->m, (c)->err, code, "node %d (%s): " fmt, (c)->idx, sl_op_name((c)->n->op), ##__VA_ARGS__)

static sl_tensor *in_t(const nctx *c, int k)
{
	if (k >= c->n->n_inputs || c->n->inputs[k] < 0)
		return NULL;
	return &c->m->tensors[c->n->inputs[k]];
}

static bool quant_eq(const sl_tensor *a, const sl_tensor *b)
{
	if (!mi_is_quant_dtype(a->dtype))
		return true;
	return a->q.n == 1 && b->q.n == 1 && a->q.scale[0] == b->q.scale[0] &&
	       a->q.zero_point[0] == b->q.zero_point[0];
}

static int check_weights(const nctx *c, const sl_tensor *in, const sl_tensor *w, const sl_tensor *b,
			 int out_ch, int q_axis)
{
	if (w->kind != SL_TENSOR_CONST || (b && b->kind != SL_TENSOR_CONST))
		return NFAIL(c, SL_E_UNSUPPORTED, "weights and bias must be constant");
	if (!mi_is_act_dtype(in->dtype) || w->dtype != in->dtype)
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
	if (mi_is_quant_dtype(w->dtype)) {
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
	if (!mi_is_act_dtype(a->dtype) || a->dtype != b->dtype)
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
		if (t->dtype != a->dtype || !mi_is_act_dtype(t->dtype))
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
		if (!mi_is_act_dtype(in->dtype) || !mi_is_quant_dtype(o->dtype))
			return NFAIL(c, SL_E_UNSUPPORTED, "%s to %s not supported", sl_dtype_name(in->dtype),
				     sl_dtype_name(o->dtype));
		want = o->dtype;
		*out = shape_of(in);
		break;
	case SL_OP_DEQUANTIZE:
		if (!mi_is_quant_dtype(in->dtype) && in->dtype != SL_DTYPE_F16)
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
		if (t && mi_is_quant_dtype(t->dtype) && (t->q.n != 1 || !(t->q.scale[0] > 0)))
			return NFAIL(c, SL_E_UNSUPPORTED,
				     "input %d needs per-tensor quantization with a positive scale", k);
	}
	if (n->op != SL_OP_RESHAPE && n->op != SL_OP_DEQUANTIZE && !mi_is_act_dtype(in->dtype))
		return NFAIL(c, SL_E_UNSUPPORTED, "%s input not supported", sl_dtype_name(in->dtype));
	if (o->dtype != want)
		return NFAIL(c, SL_E_UNSUPPORTED, "output is %s, expected %s", sl_dtype_name(o->dtype),
			     sl_dtype_name(want));
	return 0;
}

int mi_infer_shapes(sl_model *m, sl_error *err)
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
				     c.n->outputs[0], mi_tname(m, c.n->outputs[0]), a, b);
		}
	}
	return 0;
}

/* Sizes and quantization of every tensor, once all shapes are known. */
int mi_check_sizes_and_quant(sl_model *m, const uint8_t *gin, sl_error *err)
{
	for (int i = 0; i < m->n_tensors; i++) {
		sl_tensor *t = &m->tensors[i];
		size_t bytes;
		if (mi_tensor_bytes(t, &bytes) < 0)
			return mi_fail(m, err, SL_E_UNSUPPORTED, "tensor %d (%s): huge dimensions", i,
				       mi_tname(m, i));
		const bool live = t->kind == SL_TENSOR_ACTIVATION && (t->producer >= 0 || gin[i]);
		if (live && sl_tensor_numel(t) == 0)
			return mi_fail(m, err, SL_E_SHAPE, "tensor %d (%s): empty activation", i,
				       mi_tname(m, i));
		t->bytes = bytes;
		const sl_quant *q = &t->q;
		if (q->n > 1 && (q->axis < 0 || q->axis >= t->rank || t->dims[q->axis] != q->n))
			return mi_fail(m, err, SL_E_FORMAT,
				       "tensor %d (%s): %d per-channel scales do not match axis %d", i,
				       mi_tname(m, i), q->n, q->axis);
		if (q->n > 1 && t->kind != SL_TENSOR_CONST)
			return mi_fail(m, err, SL_E_UNSUPPORTED,
				       "tensor %d (%s): per-channel activation quantization", i,
				       mi_tname(m, i));
		if (live && mi_is_quant_dtype(t->dtype) && (q->n != 1 || !(q->scale[0] > 0)))
			return mi_fail(m, err, SL_E_FORMAT,
				       "tensor %d (%s): quantized activation needs a positive scale", i,
				       mi_tname(m, i));
		for (int k = 0; k < q->n; k++) {
			if (!isfinite(q->scale[k]) || q->scale[k] < 0)
				return mi_fail(m, err, SL_E_FORMAT, "tensor %d (%s): invalid scale", i,
					       mi_tname(m, i));
			int32_t zp = q->zero_point[k];
			if ((t->dtype == SL_DTYPE_I8 && (zp < -128 || zp > 127)) ||
			    (t->dtype == SL_DTYPE_U8 && (zp < 0 || zp > 255)))
				return mi_fail(m, err, SL_E_FORMAT,
					       "tensor %d (%s): zero point %d out of range", i,
					       mi_tname(m, i), zp);
		}
	}
	return 0;
}
