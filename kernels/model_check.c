/* Model IR, finalize: structural validation of tensors, graph inputs/outputs
 * and nodes, then the topological order of the nodes. */
#include <errno.h>
#include <stdlib.h>

#include "common/macros.h"
#include "kernels/model.h"
#include "kernels/model_internal.h"

/* ---- finalize: structural validation ---- */

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

int mi_check_tensors(sl_model *m, sl_error *err)
{
	for (int i = 0; i < m->n_tensors; i++) {
		sl_tensor *t = &m->tensors[i];
		if ((unsigned)t->dtype >= SL_DTYPE__COUNT || t->rank < 0 || t->rank > SL_MAX_RANK)
			return mi_fail(m, err, SL_E_FORMAT, "tensor %d (%s): invalid dtype or rank", i,
				       mi_tname(m, i));
		t->producer = -1;
		t->last_use = -1;
		t->arena_offset = 0;
		for (int d = 0; d < t->rank; d++)
			if (t->dims[d] < 0)
				return mi_fail(m, err, SL_E_SHAPE, "tensor %d (%s): negative dimension %d", i,
					       mi_tname(m, i), t->dims[d]);
		if (t->kind != SL_TENSOR_CONST)
			continue;
		size_t bytes;
		if (mi_tensor_bytes(t, &bytes) < 0)
			return mi_fail(m, err, SL_E_UNSUPPORTED, "tensor %d (%s): huge dimensions", i,
				       mi_tname(m, i));
		if (t->bytes != bytes)
			return mi_fail(m, err, SL_E_FORMAT,
				       "tensor %d (%s): %zu bytes of data, shape needs %zu", i,
				       mi_tname(m, i), t->bytes, bytes);
		if (bytes > 0 && !t->data)
			return mi_fail(m, err, SL_E_FORMAT, "tensor %d (%s): constant without data", i,
				       mi_tname(m, i));
	}
	return 0;
}

/* Fills gin[t] = 1 for graph inputs. */
int mi_check_io(sl_model *m, uint8_t *gin, sl_error *err)
{
	if (m->n_inputs < 0 || m->n_outputs <= 0 || (m->n_inputs > 0 && !m->inputs) || !m->outputs)
		return mi_fail(m, err, SL_E_GRAPH, "graph needs outputs");
	if (m->n_inputs > SL_MAX_GRAPH_IO || m->n_outputs > SL_MAX_GRAPH_IO)
		return mi_fail(m, err, SL_E_UNSUPPORTED, "more than %d graph inputs or outputs",
			       SL_MAX_GRAPH_IO);
	for (int i = 0; i < m->n_inputs; i++) {
		int t = m->inputs[i];
		if (t < 0 || t >= m->n_tensors)
			return mi_fail(m, err, SL_E_GRAPH, "graph input %d: tensor index %d out of range", i,
				       t);
		if (m->tensors[t].kind != SL_TENSOR_ACTIVATION)
			return mi_fail(m, err, SL_E_GRAPH, "graph input %d: tensor %d (%s) is a constant", i,
				       t, mi_tname(m, t));
		if (gin[t])
			return mi_fail(m, err, SL_E_GRAPH, "graph input %d: tensor %d listed twice", i, t);
		gin[t] = 1;
	}
	for (int i = 0; i < m->n_outputs; i++) {
		int t = m->outputs[i];
		if (t < 0 || t >= m->n_tensors)
			return mi_fail(m, err, SL_E_GRAPH, "graph output %d: tensor index %d out of range", i,
				       t);
		if (m->tensors[t].kind != SL_TENSOR_ACTIVATION)
			return mi_fail(m, err, SL_E_GRAPH, "graph output %d: tensor %d (%s) is a constant", i,
				       t, mi_tname(m, t));
	}
	return 0;
}

int mi_check_nodes(sl_model *m, const uint8_t *gin, sl_error *err)
{
	for (int i = 0; i < m->n_nodes; i++) {
		sl_node *n = &m->nodes[i];
		const char *on = sl_op_name(n->op);
		if ((unsigned)n->op >= SL_OP__COUNT)
			return mi_fail(m, err, SL_E_UNSUPPORTED, "node %d: invalid op %d", i, (int)n->op);
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
			return mi_fail(m, err, SL_E_GRAPH, "node %d (%s): %d inputs, expected %d..%d", i, on,
				       n->n_inputs, min_in, max_in);
		if (n->n_outputs != 1 || !n->outputs)
			return mi_fail(m, err, SL_E_GRAPH, "node %d (%s): %d outputs, expected 1", i, on,
				       n->n_outputs);
		if ((unsigned)n->act > SL_ACT_RELU6 || (n->act != SL_ACT_NONE && !has_fused_act(n->op)))
			return mi_fail(m, err, SL_E_UNSUPPORTED,
				       "node %d (%s): fused activation %d not allowed", i, on, (int)n->act);
		for (int k = 0; k < n->n_inputs; k++) {
			int t = n->inputs[k];
			if (t == -1 && input_optional(n->op, k))
				continue;
			if (t < 0 || t >= m->n_tensors)
				return mi_fail(m, err, SL_E_GRAPH,
					       "node %d (%s): input %d: tensor index %d out of range", i, on,
					       k, t);
		}
		int o = n->outputs[0];
		if (o < 0 || o >= m->n_tensors)
			return mi_fail(m, err, SL_E_GRAPH,
				       "node %d (%s): output tensor index %d out of range", i, on, o);
		sl_tensor *ot = &m->tensors[o];
		if (ot->kind != SL_TENSOR_ACTIVATION)
			return mi_fail(m, err, SL_E_GRAPH,
				       "node %d (%s): output tensor %d (%s) is a constant", i, on, o,
				       mi_tname(m, o));
		if (gin[o])
			return mi_fail(m, err, SL_E_GRAPH,
				       "node %d (%s): output tensor %d (%s) is a graph input", i, on, o,
				       mi_tname(m, o));
		if (ot->producer >= 0)
			return mi_fail(m, err, SL_E_GRAPH,
				       "node %d (%s): tensor %d (%s) already produced by node %d", i, on, o,
				       mi_tname(m, o), ot->producer);
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
				return mi_fail(
				    m, err, SL_E_GRAPH,
				    "node %d (%s): input %d reads tensor %d (%s), which nothing produces", i,
				    sl_op_name(n->op), k, t, mi_tname(m, t));
		}
	}
	for (int i = 0; i < m->n_outputs; i++) {
		int t = m->outputs[i];
		if (m->tensors[t].producer < 0 && !gin[t])
			return mi_fail(m, err, SL_E_GRAPH,
				       "graph output %d: tensor %d (%s) is never produced", i, t,
				       mi_tname(m, t));
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

int mi_topo_order(sl_model *m, sl_error *err)
{
	const int nn = m->n_nodes;
	_cleanup_free_ int32_t *indeg = calloc((size_t)nn + 1, sizeof(int32_t));
	_cleanup_free_ int32_t *heap = calloc((size_t)nn + 1, sizeof(int32_t));
	_cleanup_free_ int32_t *cons_start = calloc((size_t)m->n_tensors + 1, sizeof(int32_t));
	int32_t *order = calloc((size_t)nn + 1, sizeof(int32_t));
	if (!indeg || !heap || !cons_start || !order) {
		free(order);
		return mi_fail(m, err, ENOMEM, "out of memory");
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
		return mi_fail(m, err, ENOMEM, "out of memory");
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
				return mi_fail(m, err, SL_E_GRAPH,
					       "node %d (%s) is part of or depends on a cycle", i,
					       sl_op_name(m->nodes[i].op));
		return mi_fail(m, err, SL_E_GRAPH, "cycle in graph");
	}
	free(m->order);
	m->order = order;
	return 0;
}
