/* Which layers the compressor may prune, and their weight geometry. */
#include <errno.h>
#include <stdlib.h>

#include "kernels/compress/compress_internal.h"

/* Below this many weights a layer costs more in accuracy than it saves. */
#define TINY_LAYER_WEIGHTS 1024

int cl_find_layers(const sl_model *m, cl_layer **ret, int *ret_n)
{
	cl_layer *v = calloc((size_t)(m->n_nodes ? m->n_nodes : 1), sizeof(*v));
	if (!v)
		return -ENOMEM;
	int n = 0;
	bool first_conv = true;
	for (int p = 0; p < m->n_nodes; p++) {
		const int i = m->order ? m->order[p] : p;
		const sl_node *nd = &m->nodes[i];
		if (nd->op != SL_OP_CONV_2D && nd->op != SL_OP_FULLY_CONNECTED)
			continue;
		const sl_tensor *w = &m->tensors[nd->inputs[1]];
		if (w->kind != SL_TENSOR_CONST || w->dtype != SL_DTYPE_F32)
			continue;
		cl_layer *l = &v[n++];
		l->node = i;
		l->op = nd->op;
		l->w = nd->inputs[1];
		l->b = nd->n_inputs > 2 ? nd->inputs[2] : -1;
		l->in = nd->inputs[0];
		l->out = nd->outputs[0];
		l->o = w->dims[0];
		if (nd->op == SL_OP_CONV_2D) {
			l->kh = w->dims[1];
			l->kw = w->dims[2];
			l->ci = w->dims[3];
		} else {
			l->kh = l->kw = 1;
			l->ci = (int)(sl_tensor_numel(w) / (l->o ? l->o : 1));
		}
		l->k = l->kh * l->kw * l->ci;
		l->prunable = !(nd->op == SL_OP_CONV_2D && first_conv) &&
			      (int64_t)l->o * l->k >= TINY_LAYER_WEIGHTS && l->o >= 4;
		if (nd->op == SL_OP_CONV_2D)
			first_conv = false;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

const sl_tensor *cl_counted_weights(const sl_model *m, const sl_node *nd)
{
	if (nd->op != SL_OP_CONV_2D && nd->op != SL_OP_FULLY_CONNECTED && nd->op != SL_OP_DEPTHWISE_CONV_2D)
		return NULL;
	const sl_tensor *w = &m->tensors[nd->inputs[1]];
	return w->kind == SL_TENSOR_CONST && w->data && sl_tensor_numel(w) > 0 ? w : NULL;
}

double sl_compress_weight_sparsity(const sl_model *m)
{
	int64_t zeros = 0, total = 0;
	for (int i = 0; i < m->n_nodes; i++) {
		const sl_tensor *w = cl_counted_weights(m, &m->nodes[i]);
		if (!w)
			continue;
		const int64_t n = sl_tensor_numel(w);
		total += n;
		for (int64_t k = 0; k < n; k++) {
			switch (w->dtype) {
			case SL_DTYPE_F32:
				zeros += ((const float *)w->data)[k] == 0.0f;
				break;
			case SL_DTYPE_I8:
				zeros +=
				    ((const int8_t *)w->data)[k] == (w->q.n == 1 ? w->q.zero_point[0] : 0);
				break;
			case SL_DTYPE_U8:
				zeros +=
				    ((const uint8_t *)w->data)[k] == (w->q.n >= 1 ? w->q.zero_point[0] : 0);
				break;
			default:
				break;
			}
		}
	}
	return total ? (double)zeros / (double)total : 0.0;
}
