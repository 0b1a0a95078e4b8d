/* Model IR, finalize: the arena plan, and sl_model_finalize itself.
 *
 * Finalize is idempotent: it recomputes order, shapes of unknown (rank 0)
 * outputs, explicit padding and the arena plan from scratch. */
#include <errno.h>
#include <stdlib.h>

#include "common/macros.h"
#include "kernels/model.h"
#include "kernels/model_internal.h"

/* ---- finalize: arena plan ---- */

typedef struct {
	int root;
	int first, last;
	size_t bytes;
	size_t offset;
	bool placed;
} group;

static int uf_find(int32_t *p, int x)
{
	while (p[x] != x) {
		p[x] = p[p[x]];
		x = p[x];
	}
	return x;
}

static int cmp_group(const void *a, const void *b)
{
	const group *x = *(group *const *)a, *y = *(group *const *)b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return x->root < y->root ? -1 : (x->root > y->root);
}

static int cmp_offset(const void *a, const void *b)
{
	const group *x = *(group *const *)a, *y = *(group *const *)b;
	return x->offset < y->offset ? -1 : (x->offset > y->offset);
}

/* Greedy best-fit by decreasing size over lifetimes [first, last] in order
 * positions: a node's inputs and output are all live at its position, so no
 * kernel ever writes over its own input. A RESHAPE output shares its input's
 * storage (one group, merged lifetime) so the runtime can skip it. */
static int plan_arena(sl_model *m, sl_error *err)
{
	const int nt = m->n_tensors, nn = m->n_nodes;
	_cleanup_free_ int32_t *first = malloc(sizeof(int32_t) * ((size_t)nt + 1));
	_cleanup_free_ int32_t *parent = malloc(sizeof(int32_t) * ((size_t)nt + 1));
	_cleanup_free_ int32_t *gid = malloc(sizeof(int32_t) * ((size_t)nt + 1));
	_cleanup_free_ group *groups = calloc((size_t)nt + 1, sizeof(group));
	_cleanup_free_ group **sorted = calloc((size_t)nt + 1, sizeof(group *));
	_cleanup_free_ group **live = calloc((size_t)nt + 1, sizeof(group *));
	if (!first || !parent || !gid || !groups || !sorted || !live)
		return mi_fail(m, err, ENOMEM, "out of memory");

	for (int t = 0; t < nt; t++) {
		first[t] = -1;
		parent[t] = t;
		gid[t] = -1;
	}
	for (int i = 0; i < m->n_inputs; i++)
		first[m->inputs[i]] = 0;
	for (int pos = 0; pos < nn; pos++) {
		const sl_node *n = &m->nodes[m->order[pos]];
		for (int k = 0; k < n->n_inputs; k++) {
			int t = n->inputs[k];
			if (t >= 0)
				m->tensors[t].last_use = pos;
		}
		first[n->outputs[0]] = pos;
	}
	for (int i = 0; i < m->n_outputs; i++)
		m->tensors[m->outputs[i]].last_use = nn;
	for (int pos = 0; pos < nn; pos++) {
		const sl_node *n = &m->nodes[m->order[pos]];
		if (n->op == SL_OP_RESHAPE && m->tensors[n->inputs[0]].kind == SL_TENSOR_ACTIVATION) {
			int a = uf_find(parent, n->inputs[0]), b = uf_find(parent, n->outputs[0]);
			if (a != b)
				parent[b] = a;
		}
	}

	int ng = 0;
	for (int t = 0; t < nt; t++) {
		const sl_tensor *tt = &m->tensors[t];
		if (tt->kind != SL_TENSOR_ACTIVATION || first[t] < 0)
			continue;
		int r = uf_find(parent, t);
		if (gid[r] < 0) {
			gid[r] = ng;
			groups[ng++] = (group){.root = r, .first = first[t], .last = first[t]};
		}
		group *g = &groups[gid[r]];
		g->first = SL_MIN(g->first, first[t]);
		g->last = SL_MAX(g->last, SL_MAX(tt->last_use, first[t]));
		g->bytes = SL_MAX(g->bytes, tt->bytes);
	}
	for (int i = 0; i < ng; i++)
		sorted[i] = &groups[i];
	qsort(sorted, (size_t)ng, sizeof(*sorted), cmp_group);

	size_t arena = 0;
	for (int i = 0; i < ng; i++) {
		group *g = sorted[i];
		int nl = 0;
		for (int j = 0; j < i; j++)
			if (sorted[j]->first <= g->last && g->first <= sorted[j]->last)
				live[nl++] = sorted[j];
		qsort(live, (size_t)nl, sizeof(*live), cmp_offset);
		size_t cur = 0, best = SIZE_MAX, best_gap = SIZE_MAX;
		for (int j = 0; j < nl; j++) {
			if (live[j]->offset > cur) {
				size_t gap = live[j]->offset - cur;
				if (gap >= g->bytes && gap < best_gap) {
					best = cur;
					best_gap = gap;
				}
			}
			size_t end = SL_ALIGN_UP(live[j]->offset + live[j]->bytes, SL_ARENA_ALIGN);
			cur = SL_MAX(cur, end);
		}
		g->offset = best != SIZE_MAX ? best : cur;
		g->placed = true;
		/* Each group is <= 1 GiB and offsets never exceed the 2 GiB bound
		 * checked here, so these sums cannot overflow. */
		arena = SL_MAX(arena, SL_ALIGN_UP(g->offset + g->bytes, SL_ARENA_ALIGN));
		if (arena > SL_MAX_ARENA_BYTES)
			return mi_fail(m, err, SL_E_UNSUPPORTED, "activations need more than %zu MiB",
				       SL_MAX_ARENA_BYTES >> 20);
	}
	for (int t = 0; t < nt; t++) {
		sl_tensor *tt = &m->tensors[t];
		if (tt->kind == SL_TENSOR_ACTIVATION && first[t] >= 0)
			tt->arena_offset = groups[gid[uf_find(parent, t)]].offset;
	}
	m->arena_size = arena;
	return 0;
}

int sl_model_finalize(sl_model *m, sl_error *err)
{
	if (!m)
		return -EINVAL;
	_cleanup_free_ uint8_t *gin = calloc((size_t)m->n_tensors + 1, 1);
	int r;
	if (!gin)
		r = mi_fail(m, err, ENOMEM, "out of memory");
	else if ((r = mi_check_tensors(m, err)) >= 0 && (r = mi_check_io(m, gin, err)) >= 0 &&
		 (r = mi_check_nodes(m, gin, err)) >= 0 && (r = mi_topo_order(m, err)) >= 0 &&
		 (r = mi_infer_shapes(m, err)) >= 0 && (r = mi_check_sizes_and_quant(m, gin, err)) >= 0)
		r = plan_arena(m, err);
	if (r < 0) {
		free(m->order);
		m->order = NULL;
		m->arena_size = 0;
		return r;
	}
	return 0;
}
