/* fp32 master of a model: the float network a quantized (or fp16) model
 * approximates. Every variant of the ladder is derived from it. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/compress/compress_internal.h"

static bool is_graph_input(const sl_model *m, int t)
{
	for (int i = 0; i < m->n_inputs; i++)
		if (m->inputs[i] == t)
			return true;
	return false;
}

static float half_to_float(uint16_t h)
{
	const uint32_t sign = (uint32_t)(h >> 15) << 31;
	int exp = (h >> 10) & 0x1f;
	uint32_t mant = h & 0x3ff;
	float f;
	if (exp == 0)
		f = ldexpf((float)mant, -24);
	else if (exp == 31)
		f = mant ? NAN : INFINITY;
	else
		f = ldexpf((float)(mant | 0x400), exp - 25);
	uint32_t bits;
	memcpy(&bits, &f, 4);
	bits |= sign;
	memcpy(&f, &bits, 4);
	return f;
}

/* Dequantized copy of a constant tensor, or NULL when it stays as it is. */
static int dequantize_const(sl_model *m, int ti)
{
	sl_tensor *t = &m->tensors[ti];
	const int64_t n = sl_tensor_numel(t);
	if (n < 0)
		return -EINVAL;
	const bool quant =
	    t->q.n > 0 && (t->dtype == SL_DTYPE_U8 || t->dtype == SL_DTYPE_I8 || t->dtype == SL_DTYPE_I32);
	if (!quant && t->dtype != SL_DTYPE_F16)
		return 0;
	float *f = malloc(sizeof(float) * (size_t)(n ? n : 1));
	if (!f)
		return -ENOMEM;
	/* Per-channel index of element i: (i / inner) % dims[axis]. */
	int64_t inner = 1;
	if (t->q.n > 1)
		for (int d = t->q.axis + 1; d < t->rank; d++)
			inner *= t->dims[d];
	for (int64_t i = 0; i < n; i++) {
		double v;
		switch (t->dtype) {
		case SL_DTYPE_U8:
			v = ((const uint8_t *)t->data)[i];
			break;
		case SL_DTYPE_I8:
			v = ((const int8_t *)t->data)[i];
			break;
		case SL_DTYPE_I32:
			v = ((const int32_t *)t->data)[i];
			break;
		default:
			f[i] = half_to_float(((const uint16_t *)t->data)[i]);
			continue;
		}
		int c = t->q.n > 1 ? (int)((i / inner) % t->q.n) : 0;
		f[i] = (float)((v - t->q.zero_point[c]) * t->q.scale[c]);
	}
	int r = cg_set_data(m, ti, f, sizeof(float) * (size_t)n);
	if (r < 0)
		return r;
	t->dtype = SL_DTYPE_F32;
	return cg_set_quant(m, ti, 0, 0, NULL, NULL);
}

int sl_compress_master(const sl_model *src, sl_model **ret, sl_error *err)
{
	if (!src || !ret)
		return -EINVAL;
	_cleanup_(sl_model_unrefp) sl_model *m = NULL;
	int r = cg_clone(src, &m, err);
	if (r < 0)
		return r;

	for (int i = 0; i < m->n_tensors; i++) {
		sl_tensor *t = &m->tensors[i];
		if (t->kind == SL_TENSOR_CONST) {
			if ((r = dequantize_const(m, i)) < 0)
				return cg_fail(err, r, "tensor %d: cannot dequantize", i);
		} else if (!is_graph_input(m, i) && t->dtype != SL_DTYPE_I32 && t->dtype != SL_DTYPE_I64) {
			t->dtype = SL_DTYPE_F32;
			if ((r = cg_set_quant(m, i, 0, 0, NULL, NULL)) < 0)
				return r;
		}
	}

	_cleanup_free_ bool *drop = calloc((size_t)m->n_nodes + 1, 1);
	if (!drop)
		return -ENOMEM;
	/* QUANTIZE/DEQUANTIZE between float tensors are now identities. A
	 * requantization of the (still quantized) graph input becomes the
	 * DEQUANTIZE that opens the float graph. */
	const int n_nodes = m->n_nodes;
	for (int i = 0; i < n_nodes; i++) {
		sl_node *n = &m->nodes[i];
		if (n->op != SL_OP_QUANTIZE && n->op != SL_OP_DEQUANTIZE)
			continue;
		const sl_tensor *in = &m->tensors[n->inputs[0]];
		if (in->dtype == SL_DTYPE_F32) {
			drop[i] = true;
			cg_rewire(m, n->outputs[0], n->inputs[0], i);
		} else {
			n->op = SL_OP_DEQUANTIZE;
		}
	}
	for (int g = 0; g < m->n_inputs; g++) {
		const int in = m->inputs[g];
		if (m->tensors[in].dtype == SL_DTYPE_F32)
			continue;
		bool needs = false;
		for (int i = 0; i < n_nodes; i++)
			for (int k = 0; k < m->nodes[i].n_inputs; k++)
				if (!drop[i] && m->nodes[i].inputs[k] == in &&
				    m->nodes[i].op != SL_OP_DEQUANTIZE)
					needs = true;
		if (!needs)
			continue;
		int f = cg_add_activation(m, &m->tensors[in], SL_DTYPE_F32, "/dequantized", err);
		if (f < 0)
			return f;
		int node = cg_add_node1(m, SL_OP_DEQUANTIZE, in, f, err);
		if (node < 0)
			return node;
		cg_rewire(m, in, f, node);
		/* drop[] is sized for the original nodes; the new node is past them and kept. */
		bool *d2 = realloc(drop, (size_t)m->n_nodes + 1);
		if (!d2)
			return -ENOMEM;
		drop = d2;
		drop[node] = false;
	}

	_cleanup_(sl_model_unrefp) sl_model *out = NULL;
	if ((r = cg_compact(m, drop, &out, NULL, err)) < 0)
		return r;
	free(out->description);
	out->description = strdup("sightline fp32 master");
	*ret = SL_TAKE_PTR(out);
	return 0;
}
