/* A variant's top-1 agreement with the master on the calibration images
 * recovery holds out: a quick sanity figure for `sightline compress` to
 * print next to each variant it writes, so that a pruned variant that no
 * longer classifies is flagged before anyone deploys it. sightline bench
 * gives the real accuracy. */
#include <errno.h>
#include <stdlib.h>

#include "common/macros.h"
#include "kernels/compress/compress_internal.h"
#include "kernels/heads/heads.h"

typedef struct {
	sl_classifier *cl;
	int tensor;
	int top;
} top_ctx;

static void find_top(void *ud, int t, const void *data)
{
	top_ctx *c = ud;
	sl_class_score s;
	if (t == c->tensor && sl_classifier_run(c->cl, data, &s, 1) == 1)
		c->top = s.index;
}

/* Top-1 class of m on the held-out calibration samples into top[]: the
 * classifier head's decoding (float or quantized) of the logits. */
static int tops(const sl_compress_ctx *c, sl_model *m, int *top, sl_error *err)
{
	const int lt = cg_logits_tensor(m);
	const sl_tensor *in = &m->tensors[m->inputs[0]];
	/* Every variant keeps the master's input type (a quantized master its
	 * quantized input), so the calibration bytes feed it as they are. */
	if (m->n_outputs != 1 || lt < 0 || in->dtype != c->master->tensors[c->master->inputs[0]].dtype ||
	    in->bytes != c->cs->bytes)
		return -EOPNOTSUPP;
	_cleanup_(sl_classifier_freep) sl_classifier *cl = NULL;
	int r = sl_classifier_new(&m->tensors[lt], false, &cl, err);
	if (r < 0)
		return r;
	_cleanup_(sl_runtime_freep) sl_runtime *rt = NULL;
	if ((r = co_runtime(m, &c->o, &rt, err)) < 0)
		return r;
	int n = 0;
	for (int i = CO_HOLDOUT_EVERY - 1; i < c->cs->n; i += CO_HOLDOUT_EVERY, n++) {
		top_ctx t = {.cl = cl, .tensor = lt, .top = -1};
		co_set_input(rt, c->cs, i);
		if ((r = sl_runtime_invoke_observed(rt, find_top, &t)) < 0)
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
