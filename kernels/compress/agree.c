/* A variant's top-1 agreement with the master on the calibration images
 * recovery holds out: a quick sanity figure for `sightline compress` to
 * print next to each variant it writes, so that a pruned variant that no
 * longer classifies is flagged before anyone deploys it. sightline bench
 * gives the real accuracy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/compress/compress_internal.h"

typedef struct {
	const sl_model *m;
	int tensor;
	int top;
} top_ctx;

static void find_top(void *ud, int t, const void *data)
{
	top_ctx *c = ud;
	if (t != c->tensor)
		return;
	const sl_tensor *x = &c->m->tensors[t];
	const int64_t n = sl_tensor_numel(x);
	int best = 0;
	for (int64_t i = 1; i < n; i++) {
		bool gt;
		switch (x->dtype) {
		case SL_DTYPE_F32:
			gt = ((const float *)data)[i] > ((const float *)data)[best];
			break;
		case SL_DTYPE_I8: /* a positive scale keeps the order */
			gt = ((const int8_t *)data)[i] > ((const int8_t *)data)[best];
			break;
		case SL_DTYPE_U8:
			gt = ((const uint8_t *)data)[i] > ((const uint8_t *)data)[best];
			break;
		default:
			return;
		}
		if (gt)
			best = (int)i;
	}
	c->top = best;
}

/* Calibration sample i into the runtime's input. Every variant keeps the
 * master's input type (a quantized master its quantized input), so the bytes
 * are the master's. */
static int set_input(const sl_compress_ctx *c, sl_runtime *rt, int i)
{
	const sl_tensor *t = sl_runtime_input_tensor(rt, 0);
	if (t->dtype != c->master->tensors[c->master->inputs[0]].dtype || t->bytes != c->cs->bytes)
		return -EOPNOTSUPP;
	memcpy(sl_runtime_input(rt, 0), c->cs->inputs[i], c->cs->bytes);
	return 0;
}

/* Top-1 class of m on the held-out calibration samples into top[]. */
static int tops(const sl_compress_ctx *c, sl_model *m, int *top, sl_error *err)
{
	const int lt = cg_logits_tensor(m);
	if (m->n_outputs != 1 || lt < 0 || sl_tensor_numel(&m->tensors[lt]) < 2)
		return -EOPNOTSUPP;
	_cleanup_(sl_runtime_freep) sl_runtime *rt = NULL;
	int r = co_runtime(m, &c->o, &rt, err);
	if (r < 0)
		return r;
	int n = 0;
	for (int i = CO_HOLDOUT_EVERY - 1; i < c->cs->n; i += CO_HOLDOUT_EVERY, n++) {
		top_ctx t = {.m = m, .tensor = lt, .top = -1};
		if ((r = set_input(c, rt, i)) < 0 || (r = sl_runtime_invoke_observed(rt, find_top, &t)) < 0)
			return r;
		if (t.top < 0)
			return -EOPNOTSUPP;
		top[n] = t.top;
	}
	return n;
}

int sl_compress_agreement(sl_compress_ctx *c, sl_model *m, int *ret_agree, int *ret_n, sl_error *err)
{
	if (!c || !m || !ret_agree || !ret_n)
		return -EINVAL;
	const int n = c->cs->n / CO_HOLDOUT_EVERY;
	if (n < 1)
		return -EOPNOTSUPP;
	int r;
	if (!c->master_top) {
		int *mt = malloc(sizeof(int) * (size_t)n);
		if (!mt)
			return -ENOMEM;
		if ((r = tops(c, c->master, mt, err)) < 0) {
			free(mt);
			return r;
		}
		c->master_top = mt;
	}
	_cleanup_free_ int *vt = malloc(sizeof(int) * (size_t)n);
	if (!vt)
		return -ENOMEM;
	if ((r = tops(c, m, vt, err)) < 0)
		return r;
	int agree = 0;
	for (int i = 0; i < n; i++)
		agree += vt[i] == c->master_top[i];
	*ret_agree = agree;
	*ret_n = n;
	return 0;
}
