/* Graph editing for the compressor. Models are edited unfinalized: tensors and
 * nodes are appended or changed in place and finalize() re-derives order,
 * shapes and the arena plan. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/compress/compress_internal.h"

int cg_fail(sl_error *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code > 0 ? -code : code;
}

void cg_progress(const sl_compress_opts *o, const char *fmt, ...)
{
	if (!o || !o->progress)
		return;
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	o->progress(o->userdata, buf);
}

static int32_t *dup_i32(const int32_t *v, int n)
{
	int32_t *r = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
	if (r && n > 0)
		memcpy(r, v, sizeof(int32_t) * (size_t)n);
	return r;
}

int cg_set_data(sl_model *m, int t, void *buf, size_t bytes)
{
	int r = sl_model_own(m, buf);
	if (r < 0)
		return r;
	m->tensors[t].data = buf;
	m->tensors[t].bytes = bytes;
	m->tensors[t].kind = SL_TENSOR_CONST;
	return 0;
}

int cg_set_quant(sl_model *m, int t, int n, int axis, const float *scale, const int32_t *zp)
{
	sl_quant *q = &m->tensors[t].q;
	float *s = NULL;
	int32_t *z = NULL;
	if (n > 0) {
		s = malloc(sizeof(float) * (size_t)n);
		z = malloc(sizeof(int32_t) * (size_t)n);
		if (!s || !z) {
			free(s);
			free(z);
			return -ENOMEM;
		}
		memcpy(s, scale, sizeof(float) * (size_t)n);
		memcpy(z, zp, sizeof(int32_t) * (size_t)n);
	}
	free(q->scale);
	free(q->zero_point);
	q->n = n;
	q->axis = axis;
	q->scale = s;
	q->zero_point = z;
	return 0;
}

int cg_clone(const sl_model *src, sl_model **ret, sl_error *err)
{
	_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
	if (!m)
		return -ENOMEM;
	for (int i = 0; i < src->n_tensors; i++) {
		sl_tensor t = src->tensors[i];
		void *copy = NULL;
		if (t.kind == SL_TENSOR_CONST && t.bytes) {
			copy = malloc(t.bytes);
			if (!copy)
				return -ENOMEM;
			memcpy(copy, t.data, t.bytes);
			t.data = copy;
		}
		int r = sl_model_add_tensor(m, &t, err);
		if (r < 0) {
			free(copy);
			return r;
		}
		if (copy && (r = sl_model_own(m, copy)) < 0)
			return r;
	}
	for (int i = 0; i < src->n_nodes; i++) {
		int r = sl_model_add_node(m, &src->nodes[i], err);
		if (r < 0)
			return r;
	}
	m->n_inputs = src->n_inputs;
	m->n_outputs = src->n_outputs;
	m->inputs = dup_i32(src->inputs, src->n_inputs);
	m->outputs = dup_i32(src->outputs, src->n_outputs);
	if (!m->inputs || !m->outputs)
		return -ENOMEM;
	if (src->path && !(m->path = strdup(src->path)))
		return -ENOMEM;
	*ret = SL_TAKE_PTR(m);
	return 0;
}

int cg_consumers(const sl_model *m, int t, int *first)
{
	int n = 0;
	for (int i = 0; i < m->n_nodes; i++)
		for (int k = 0; k < m->nodes[i].n_inputs; k++)
			if (m->nodes[i].inputs[k] == t) {
				if (n++ == 0 && first)
					*first = i;
				break;
			}
	return n;
}

int cg_producer(const sl_model *m, int t)
{
	for (int i = 0; i < m->n_nodes; i++)
		if (m->nodes[i].n_outputs > 0 && m->nodes[i].outputs[0] == t)
			return i;
	return -1;
}

int cg_logits_tensor(const sl_model *m)
{
	const int out = m->outputs[0], pn = cg_producer(m, out);
	return pn >= 0 && m->nodes[pn].op == SL_OP_SOFTMAX ? m->nodes[pn].inputs[0] : out;
}

void cg_rewire(sl_model *m, int from, int to, int skip)
{
	for (int i = 0; i < m->n_nodes; i++) {
		if (i == skip)
			continue;
		for (int k = 0; k < m->nodes[i].n_inputs; k++)
			if (m->nodes[i].inputs[k] == from)
				m->nodes[i].inputs[k] = to;
	}
	for (int i = 0; i < m->n_outputs; i++)
		if (m->outputs[i] == from)
			m->outputs[i] = to;
}

int cg_add_activation(sl_model *m, const sl_tensor *like, sl_dtype dtype, const char *suffix, sl_error *err)
{
	sl_tensor t = {0};
	char name[160];
	snprintf(name, sizeof(name), "%s%s", like->name ? like->name : "t", suffix);
	t.name = name;
	t.dtype = dtype;
	t.rank = like->rank;
	memcpy(t.dims, like->dims, sizeof(t.dims));
	t.kind = SL_TENSOR_ACTIVATION;
	return sl_model_add_tensor(m, &t, err);
}

int cg_add_node1(sl_model *m, sl_op op, int in, int out, sl_error *err)
{
	int32_t i = in, o = out;
	sl_node n = {.op = op, .n_inputs = 1, .n_outputs = 1, .inputs = &i, .outputs = &o};
	return sl_model_add_node(m, &n, err);
}

int cg_compact(const sl_model *src, const bool *drop, sl_model **ret, int *tensor_map, sl_error *err)
{
	_cleanup_free_ int *map = malloc(sizeof(int) * (size_t)(src->n_tensors + 1));
	_cleanup_free_ bool *used = calloc((size_t)src->n_tensors + 1, 1);
	if (!map || !used)
		return -ENOMEM;
	for (int i = 0; i < src->n_nodes; i++) {
		if (drop && drop[i])
			continue;
		const sl_node *n = &src->nodes[i];
		for (int k = 0; k < n->n_inputs; k++)
			if (n->inputs[k] >= 0)
				used[n->inputs[k]] = true;
		for (int k = 0; k < n->n_outputs; k++)
			used[n->outputs[k]] = true;
	}
	for (int i = 0; i < src->n_inputs; i++)
		used[src->inputs[i]] = true;
	for (int i = 0; i < src->n_outputs; i++)
		used[src->outputs[i]] = true;

	_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
	if (!m)
		return -ENOMEM;
	for (int i = 0; i < src->n_tensors; i++) {
		map[i] = -1;
		if (!used[i])
			continue;
		sl_tensor t = src->tensors[i];
		void *copy = NULL;
		if (t.kind == SL_TENSOR_CONST && t.bytes) {
			if (!(copy = malloc(t.bytes)))
				return -ENOMEM;
			memcpy(copy, t.data, t.bytes);
			t.data = copy;
		}
		int idx = sl_model_add_tensor(m, &t, err);
		if (idx < 0) {
			free(copy);
			return idx;
		}
		int r = copy ? sl_model_own(m, copy) : 0;
		if (r < 0)
			return r;
		map[i] = idx;
	}
	for (int i = 0; i < src->n_nodes; i++) {
		if (drop && drop[i])
			continue;
		sl_node n = src->nodes[i];
		int32_t in[SL_MAX_NODE_INPUTS], out[1];
		_cleanup_free_ int32_t *big = NULL;
		int32_t *ins = in;
		if (n.n_inputs > SL_MAX_NODE_INPUTS) {
			if (!(big = malloc(sizeof(int32_t) * (size_t)n.n_inputs)))
				return -ENOMEM;
			ins = big;
		}
		for (int k = 0; k < n.n_inputs; k++)
			ins[k] = n.inputs[k] >= 0 ? map[n.inputs[k]] : -1;
		if (n.n_outputs != 1)
			return cg_fail(err, SL_E_UNSUPPORTED, "node %d: %d outputs", i, n.n_outputs);
		out[0] = map[n.outputs[0]];
		n.inputs = ins;
		n.outputs = out;
		int r = sl_model_add_node(m, &n, err);
		if (r < 0)
			return r;
	}
	m->n_inputs = src->n_inputs;
	m->n_outputs = src->n_outputs;
	m->inputs = malloc(sizeof(int32_t) * (size_t)SL_MAX(src->n_inputs, 1));
	m->outputs = malloc(sizeof(int32_t) * (size_t)SL_MAX(src->n_outputs, 1));
	if (!m->inputs || !m->outputs)
		return -ENOMEM;
	for (int i = 0; i < src->n_inputs; i++)
		m->inputs[i] = map[src->inputs[i]];
	for (int i = 0; i < src->n_outputs; i++)
		m->outputs[i] = map[src->outputs[i]];
	if (src->path && !(m->path = strdup(src->path)))
		return -ENOMEM;
	int r = sl_model_finalize(m, err);
	if (r < 0)
		return r;
	if (tensor_map)
		memcpy(tensor_map, map, sizeof(int) * (size_t)src->n_tensors);
	*ret = SL_TAKE_PTR(m);
	return 0;
}
