/* libFuzzer target for the TFLite importer: any input must load or fail with
 * a message, never crash, leak or hang; a model that loads must have a
 * consistent plan (checked here) and stable statistics. */
#include <stdint.h>
#include <string.h>

#include "kernels/tflite/tflite.h"

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

/* Live activation tensors must not share bytes unless a RESHAPE aliases
 * them; lifetimes are recomputed independently of the planner. */
static void check_plan(const sl_model *m)
{
	const int nt = m->n_tensors, nn = m->n_nodes;
	if (nt > 512)
		return; /* keep each run fast */
	int first[512], last[512], root[512];
	for (int t = 0; t < nt; t++) {
		first[t] = last[t] = -1;
		root[t] = t;
	}
	for (int i = 0; i < m->n_inputs; i++)
		first[m->inputs[i]] = last[m->inputs[i]] = 0;
	bool seen[512] = {0};
	for (int pos = 0; pos < nn; pos++) {
		const int ni = m->order[pos];
		check(ni >= 0 && ni < nn && !seen[ni]);
		seen[ni] = true;
		const sl_node *n = &m->nodes[ni];
		for (int k = 0; k < n->n_inputs; k++) {
			int t = n->inputs[k];
			if (t < 0)
				continue;
			check(t < nt);
			/* producers run before consumers */
			if (m->tensors[t].kind == SL_TENSOR_ACTIVATION)
				check(first[t] >= 0);
			last[t] = pos;
		}
		first[n->outputs[0]] = last[n->outputs[0]] = pos;
		if (n->op == SL_OP_RESHAPE && m->tensors[n->inputs[0]].kind == SL_TENSOR_ACTIVATION)
			root[n->outputs[0]] = root[n->inputs[0]];
	}
	for (int i = 0; i < m->n_outputs; i++)
		last[m->outputs[i]] = nn;
	for (int a = 0; a < nt; a++) {
		const sl_tensor *ta = &m->tensors[a];
		if (ta->kind != SL_TENSOR_ACTIVATION || first[a] < 0)
			continue;
		check(ta->arena_offset % 64 == 0 && ta->arena_offset + ta->bytes <= m->arena_size);
		check(ta->bytes == (size_t)sl_tensor_numel(ta) * sl_dtype_size(ta->dtype));
		for (int b = a + 1; b < nt; b++) {
			const sl_tensor *tb = &m->tensors[b];
			if (tb->kind != SL_TENSOR_ACTIVATION || first[b] < 0 || root[a] == root[b])
				continue;
			if (first[a] > last[b] || first[b] > last[a])
				continue;
			check(ta->arena_offset + ta->bytes <= tb->arena_offset ||
			      tb->arena_offset + tb->bytes <= ta->arena_offset);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sl_model *m = NULL;
	sl_error err = {{0}};
	int r = sl_tflite_load_mem(data, size, "fuzz.tflite", &m, &err);
	if (r < 0) {
		check(m == NULL && err.msg[0] != 0 && memchr(err.msg, 0, sizeof(err.msg)));
		check(sl_strerror(r) != NULL);
		return 0;
	}
	check(m && m->order && m->n_outputs > 0);
	check_plan(m);
	int64_t macs = 0, params = 0;
	double sp = 0;
	for (int i = 0; i < m->n_nodes; i++) {
		macs += sl_node_macs(m, &m->nodes[i]);
		params += sl_node_params(m, &m->nodes[i]);
		sp += sl_node_weight_sparsity(m, &m->nodes[i]);
		check(sl_op_name(m->nodes[i].op)[0] != 'I');
	}
	check(macs >= 0 && params >= 0 && sp >= 0);
	/* finalize is idempotent on a finalized model */
	const size_t arena = m->arena_size;
	check(sl_model_finalize(m, &err) == 0 && m->arena_size == arena);
	sl_model_unref(m);
	return 0;
}
