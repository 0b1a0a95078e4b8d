/* int8 post-training quantization (TFLite's int8 scheme): per-channel
 * symmetric weights, per-tensor asymmetric activations from calibrated
 * ranges, int32 biases at input_scale * weight_scale, with bias correction
 * for the systematic error weight rounding introduces. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/compress/compress_internal.h"

/* min_scale: see requant_floor. */
static void act_params(float lo, float hi, double min_scale, float *scale, int32_t *zp)
{
	lo = SL_MIN(lo, 0.0f);
	hi = SL_MAX(hi, 0.0f);
	double s = ((double)hi - lo) / 255.0;
	/* A dead activation (a heavily pruned network's, range ~0) still needs a
	 * scale TFLite accepts: it quantizes the clamp bounds (ReLU6's 6.0) with
	 * it into int32 and rejects the model when they overflow. */
	s = SL_MAX(s, SL_MAX(min_scale, 1e-7));
	/* Nudge so that real 0 maps to an integer exactly. */
	double z = -128.0 - lo / s;
	z = round(z);
	*scale = (float)s;
	*zp = (int32_t)(z < -128 ? -128 : (z > 127 ? 127 : z));
}

static int set_act(sl_model *q, int t, float scale, int32_t zp)
{
	q->tensors[t].dtype = SL_DTYPE_I8;
	return cg_set_quant(q, t, 1, 0, &scale, &zp);
}

/* The float tensor whose statistics describe t: t itself, or, for an input the
 * int8 graph gained (a QUANTIZE inserted in front of a layer), that QUANTIZE's
 * input. -1 when there is none: stats only cover the fp32 model's tensors. */
static int stats_tensor(const sl_model *q, int t, int n_stats)
{
	if (t >= 0 && t < n_stats)
		return t;
	for (int i = 0; i < q->n_nodes; i++) {
		const sl_node *nd = &q->nodes[i];
		if (nd->op == SL_OP_QUANTIZE && nd->n_outputs > 0 && nd->outputs[0] == t)
			return nd->inputs[0] >= 0 && nd->inputs[0] < n_stats ? nd->inputs[0] : -1;
	}
	return -1;
}

/* Mean of each input channel of tensor t, or NULL. */
static const double *chan_mean(const co_stats *st, int t, double *buf, int n)
{
	if (t < 0)
		return NULL;
	const co_stats *s = &st[t];
	if (!s->ch_sum || s->channels != n || s->count <= 0)
		return NULL;
	for (int i = 0; i < n; i++)
		buf[i] = s->ch_sum[i] / s->count;
	return buf;
}

/* Quantize a layer's filter per output channel (or per tensor) and its bias. */
static int quantize_weights(sl_model *q, const sl_node *nd, const co_stats *st, int n_stats,
			    bool bias_correction)
{
	const int wt = nd->inputs[1], bt = nd->n_inputs > 2 ? nd->inputs[2] : -1;
	const sl_tensor *w = &q->tensors[wt];
	const int64_t n = sl_tensor_numel(w);
	const float *wf = w->data;
	const bool dw = nd->op == SL_OP_DEPTHWISE_CONV_2D;
	const bool per_tensor = nd->op == SL_OP_FULLY_CONNECTED;
	const int oc = dw ? w->dims[w->rank - 1] : w->dims[0];
	const int64_t per = n / oc; /* weights per output channel */
	int r;

	_cleanup_free_ float *scale = calloc((size_t)oc, sizeof(float));
	_cleanup_free_ int32_t *zp = calloc((size_t)oc, sizeof(int32_t));
	_cleanup_free_ double *corr = calloc((size_t)oc, sizeof(double));
	int8_t *wq = malloc((size_t)n);
	if (!scale || !zp || !corr || !wq) {
		free(wq);
		return -ENOMEM;
	}
	/* element i belongs to channel ch(i), reading input channel ic(i) */
#define CH(i) (dw ? (int)((i) % oc) : (int)((i) / per))
	float gmax = 0;
	for (int64_t i = 0; i < n; i++)
		gmax = SL_MAX(gmax, fabsf(wf[i]));
	for (int64_t i = 0; i < n; i++) {
		int c = CH(i);
		scale[c] = SL_MAX(scale[c], fabsf(wf[i]));
	}
	for (int c = 0; c < oc; c++) {
		float m = per_tensor ? gmax : scale[c];
		/* An all-zero (pruned) channel still needs a usable positive scale. */
		scale[c] = m > 0 ? m / 127.0f : (gmax > 0 ? gmax / 127.0f : 1.0f);
	}

	const sl_tensor *in = &q->tensors[nd->inputs[0]];
	const int in_ch = in->rank ? in->dims[in->rank - 1] : 1;
	_cleanup_free_ double *mean_buf = malloc(sizeof(double) * (size_t)SL_MAX(in_ch, 1));
	const double *mean = bias_correction && mean_buf
				 ? chan_mean(st, stats_tensor(q, nd->inputs[0], n_stats), mean_buf, in_ch)
				 : NULL;
	const int mult = dw ? SL_MAX(nd->p.conv.depth_multiplier, 1) : 1;

	for (int64_t i = 0; i < n; i++) {
		int c = CH(i);
		float v = roundf(wf[i] / scale[c]);
		v = v < -127 ? -127 : (v > 127 ? 127 : v);
		wq[i] = (int8_t)v;
		if (mean) {
			/* OHWI / 1HWC: the input channel is the innermost index (dw: c / mult). */
			int ic = dw ? c / mult : (int)(i % in_ch);
			if (ic < in_ch)
				corr[c] += ((double)v * scale[c] - wf[i]) * mean[ic];
		}
	}
#undef CH
	const float in_scale = in->q.n ? in->q.scale[0] : 1.0f;
	if (bt >= 0) {
		const sl_tensor *b = &q->tensors[bt];
		const float *bf = b->data;
		int32_t *bq = malloc(sizeof(int32_t) * (size_t)oc);
		float *bs = malloc(sizeof(float) * (size_t)oc);
		int32_t *bz = calloc((size_t)oc, sizeof(int32_t));
		if (!bq || !bs || !bz) {
			free(bq);
			free(bs);
			free(bz);
			free(wq);
			return -ENOMEM;
		}
		for (int c = 0; c < oc; c++) {
			bs[c] = in_scale * scale[per_tensor ? 0 : c];
			double v = (bf[c] - corr[c]) / bs[c];
			v = round(v);
			bq[c] = (int32_t)(v > INT32_MAX ? INT32_MAX : (v < -INT32_MAX ? -INT32_MAX : v));
		}
		r = cg_set_data(q, bt, bq, sizeof(int32_t) * (size_t)oc);
		if (r == 0) {
			q->tensors[bt].dtype = SL_DTYPE_I32;
			r = per_tensor ? cg_set_quant(q, bt, 1, 0, bs, bz)
				       : cg_set_quant(q, bt, oc, 0, bs, bz);
		}
		free(bs);
		free(bz);
		if (r < 0) {
			free(wq);
			return r;
		}
	}
	if ((r = cg_set_data(q, wt, wq, (size_t)n)) < 0)
		return r;
	q->tensors[wt].dtype = SL_DTYPE_I8;
	if (per_tensor)
		return cg_set_quant(q, wt, 1, 0, scale, zp);
	return cg_set_quant(q, wt, oc, dw ? w->rank - 1 : 0, scale, zp);
}

/* Smallest output scale of a convolution or fully connected node whose
 * requantization multiplier (input scale x weight scale / output scale) the
 * runtimes accept: XNNPACK refuses 256 and above. Only a dead output (range
 * ~0, a heavily pruned network's) gets near it; 0 for other nodes. */
static double requant_floor(const sl_model *q, const sl_node *nd)
{
	if (nd->op != SL_OP_CONV_2D && nd->op != SL_OP_DEPTHWISE_CONV_2D && nd->op != SL_OP_FULLY_CONNECTED)
		return 0;
	const sl_tensor *in = &q->tensors[nd->inputs[0]], *w = &q->tensors[nd->inputs[1]];
	if (in->q.n != 1 || w->dtype != SL_DTYPE_F32 || !w->data)
		return 0;
	float wmax = 0;
	for (int64_t i = 0; i < sl_tensor_numel(w); i++)
		wmax = SL_MAX(wmax, fabsf(((const float *)w->data)[i]));
	return (double)in->q.scale[0] * (wmax / 127.0) / 128.0;
}

static bool same_params_as_input(sl_op op)
{
	return op == SL_OP_RESHAPE || op == SL_OP_MAX_POOL_2D || op == SL_OP_AVERAGE_POOL_2D ||
	       op == SL_OP_PAD;
}

int sl_compress_int8(sl_compress_ctx *c, const sl_model *fp32, sl_model **ret, sl_error *err)
{
	if (!c || !fp32 || !ret || !fp32->order)
		return -EINVAL;
	const sl_compress_opts *o = &c->o;
	co_stats *st = NULL;
	int r;
	if (fp32 == c->master && c->master_stats) {
		st = c->master_stats;
	} else if ((r = co_collect((sl_model *)fp32, c->cs, o, &st, err)) < 0) {
		return r;
	}
	_cleanup_(sl_model_unrefp) sl_model *q = NULL;
	if ((r = cg_clone(fp32, &q, err)) < 0)
		goto out;

	/* Activations in execution order, so that ops that must keep their
	 * input's parameters find them already set. */
	for (int p = 0; p < fp32->n_nodes && r >= 0; p++) {
		const int ni = fp32->order[p];
		sl_node *nd = &q->nodes[ni];
		const int out = nd->outputs[0];
		sl_tensor *ot = &q->tensors[out];
		if (ot->dtype != SL_DTYPE_F32)
			continue;
		const sl_tensor *it = &q->tensors[nd->inputs[0]];
		float scale;
		int32_t zp;
		if (nd->op == SL_OP_DEQUANTIZE && it->q.n == 1 && it->dtype == SL_DTYPE_U8) {
			/* uint8 graph input: the same grid shifted into int8, exactly. */
			nd->op = SL_OP_QUANTIZE;
			scale = it->q.scale[0];
			zp = it->q.zero_point[0] - 128;
		} else if (nd->op == SL_OP_DEQUANTIZE && it->q.n == 1 && it->dtype == SL_DTYPE_I8) {
			nd->op = SL_OP_QUANTIZE;
			scale = it->q.scale[0];
			zp = it->q.zero_point[0];
		} else if (nd->op == SL_OP_SOFTMAX || nd->op == SL_OP_LOGISTIC) {
			scale = 1.0f / 256.0f;
			zp = -128;
		} else if (same_params_as_input(nd->op) && it->q.n == 1 && it->dtype == SL_DTYPE_I8) {
			scale = it->q.scale[0];
			zp = it->q.zero_point[0];
		} else {
			float lo, hi;
			co_range(&st[out], o, &lo, &hi);
			act_params(lo, hi, requant_floor(q, nd), &scale, &zp);
		}
		r = set_act(q, out, scale, zp);
	}
	if (r < 0)
		goto out;

	/* Float graph inputs get a QUANTIZE in front, over their full range. */
	for (int g = 0; g < q->n_inputs; g++) {
		const int in = q->inputs[g];
		if (q->tensors[in].dtype != SL_DTYPE_F32)
			continue;
		float scale;
		int32_t zp;
		act_params(st[in].min, st[in].max, 0, &scale, &zp);
		int t = cg_add_activation(q, &q->tensors[in], SL_DTYPE_I8, "/int8", err);
		if (t < 0 || (r = set_act(q, t, scale, zp)) < 0) {
			r = t < 0 ? t : r;
			goto out;
		}
		int node = cg_add_node1(q, SL_OP_QUANTIZE, in, t, err);
		if (node < 0) {
			r = node;
			goto out;
		}
		cg_rewire(q, in, t, node);
	}

	for (int i = 0; i < q->n_nodes; i++) {
		const sl_node *nd = &q->nodes[i];
		if (nd->op != SL_OP_CONV_2D && nd->op != SL_OP_DEPTHWISE_CONV_2D &&
		    nd->op != SL_OP_FULLY_CONNECTED)
			continue;
		if (q->tensors[nd->inputs[1]].dtype != SL_DTYPE_F32)
			continue;
		if ((r = quantize_weights(q, nd, st, fp32->n_tensors, o->bias_correction)) < 0) {
			cg_fail(err, r, "node %d (%s): cannot quantize weights", i, sl_op_name(nd->op));
			goto out;
		}
	}
	/* Any other float constant (e.g. an ADD operand): per-tensor, its min/max. */
	for (int i = 0; i < q->n_tensors; i++) {
		sl_tensor *t = &q->tensors[i];
		if (t->kind != SL_TENSOR_CONST || t->dtype != SL_DTYPE_F32)
			continue;
		const int64_t n = sl_tensor_numel(t);
		const float *f = t->data;
		float lo = 0, hi = 0, scale;
		int32_t zp;
		for (int64_t k = 0; k < n; k++) {
			lo = SL_MIN(lo, f[k]);
			hi = SL_MAX(hi, f[k]);
		}
		act_params(lo, hi, 0, &scale, &zp);
		int8_t *d = malloc((size_t)(n ? n : 1));
		if (!d) {
			r = -ENOMEM;
			goto out;
		}
		for (int64_t k = 0; k < n; k++) {
			float v = roundf(f[k] / scale) + (float)zp;
			d[k] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
		}
		if ((r = cg_set_data(q, i, d, (size_t)n)) < 0 || (r = set_act(q, i, scale, zp)) < 0)
			goto out;
	}
	if ((r = sl_model_finalize(q, err)) < 0)
		goto out;
	free(q->description);
	q->description = strdup("sightline int8 PTQ");
	*ret = SL_TAKE_PTR(q);
out:
	if (st != c->master_stats)
		co_stats_free(st, fp32->n_tensors);
	return r;
}
