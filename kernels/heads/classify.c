/* Classification head: dequantize, optional softmax, top-k. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "common/macros.h"
#include "kernels/heads/heads.h"
#include "kernels/heads/internal.h"

struct sl_classifier {
	sl_heads_reader rd;
	int n;
	bool softmax;
	float *scores; /* n, scratch reused every run */
};

sl_classifier *sl_classifier_free(sl_classifier *c)
{
	if (!c)
		return NULL;
	free(c->scores);
	free(c);
	return NULL;
}

int sl_classifier_new(const sl_tensor *out, bool apply_softmax, sl_classifier **ret, sl_error *err)
{
	if (!out || !ret)
		return -EINVAL;
	if (out->rank < 1) {
		sl_heads_err(err, "classifier output is a scalar");
		return -SL_E_SHAPE;
	}
	for (int i = 0; i < out->rank - 1; i++)
		if (out->dims[i] != 1) {
			sl_heads_err(err, "classifier output must be [1, ..., classes], dimension %d is %d",
				     i, (int)out->dims[i]);
			return -SL_E_SHAPE;
		}
	const int32_t n = out->dims[out->rank - 1];
	if (n < 1 || n > (1 << 24)) {
		sl_heads_err(err, "classifier output has %d classes", (int)n);
		return -SL_E_SHAPE;
	}

	_cleanup_(sl_classifier_freep) sl_classifier *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	int r = sl_heads_reader_init(&c->rd, out, "classifier output", err);
	if (r < 0)
		return r;
	c->n = n;
	c->softmax = apply_softmax;
	c->scores = calloc((size_t)n, sizeof(float));
	if (!c->scores)
		return -ENOMEM;
	*ret = SL_TAKE_PTR(c);
	return 0;
}

int sl_classifier_n_classes(const sl_classifier *c)
{
	return c->n;
}

const float *sl_classifier_scores(const sl_classifier *c)
{
	return c->scores;
}

/* The node producing tensor t, or -1. Scans the node list so that it works on
 * models that have not been finalized yet. */
static int producer_of(const sl_model *m, int t)
{
	for (int i = 0; i < m->n_nodes; i++)
		for (int j = 0; j < m->nodes[i].n_outputs; j++)
			if (m->nodes[i].outputs[j] == t)
				return i;
	return -1;
}

bool sl_classifier_wants_softmax(const sl_model *m, int output, sl_softmax_mode mode)
{
	if (mode == SL_SOFTMAX_ALWAYS)
		return true;
	if (mode == SL_SOFTMAX_NEVER)
		return false;
	if (!m || output < 0 || output >= m->n_outputs)
		return true;
	int t = m->outputs[output];
	/* Bounded walk: a malformed graph must not loop us forever. */
	for (int hops = 0; hops <= m->n_nodes && t >= 0; hops++) {
		int p = producer_of(m, t);
		if (p < 0)
			return true;
		const sl_node *n = &m->nodes[p];
		switch (n->op) {
		case SL_OP_SOFTMAX:
		case SL_OP_LOGISTIC:
			return false;
		case SL_OP_RESHAPE:
		case SL_OP_QUANTIZE:
		case SL_OP_DEQUANTIZE:
			t = n->n_inputs > 0 ? n->inputs[0] : -1;
			break;
		default:
			return true;
		}
	}
	return true;
}

static void softmax_inplace(float *x, int n)
{
	float mx = x[0];
	for (int i = 1; i < n; i++)
		if (x[i] > mx)
			mx = x[i];
	double sum = 0.0;
	for (int i = 0; i < n; i++) {
		x[i] = expf(x[i] - mx);
		sum += x[i];
	}
	const float inv = (float)(1.0 / sum);
	for (int i = 0; i < n; i++)
		x[i] *= inv;
}

/* Strictly better: higher score, ties to the lower index. NaN ranks last. */
static bool better(float sa, int ia, float sb, int ib)
{
	if (isnan(sb))
		return !isnan(sa) || ia < ib;
	if (isnan(sa))
		return false;
	return sa > sb || (sa == sb && ia < ib);
}

int sl_classifier_run(sl_classifier *c, const void *data, sl_class_score *top, int k)
{
	if (k > c->n)
		k = c->n;
	if (k <= 0)
		return 0;
	for (int i = 0; i < c->n; i++)
		c->scores[i] = sl_heads_read(&c->rd, data, (size_t)i);
	if (c->softmax)
		softmax_inplace(c->scores, c->n);

	/* Insertion into a sorted list of k: O(n k) with k tiny, no allocation. */
	int have = 0;
	for (int i = 0; i < c->n; i++) {
		const float s = c->scores[i];
		if (have == k && !better(s, i, top[k - 1].score, top[k - 1].index))
			continue;
		int pos = have < k ? have++ : k - 1;
		while (pos > 0 && better(s, i, top[pos - 1].score, top[pos - 1].index)) {
			top[pos] = top[pos - 1];
			pos--;
		}
		top[pos] = (sl_class_score){.index = i, .score = s};
	}
	return have;
}
