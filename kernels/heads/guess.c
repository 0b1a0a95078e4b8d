/* Recognise which head a model needs from the shape of its outputs. */
#include "kernels/heads/heads.h"

static bool is_shape3(const sl_tensor *t, int32_t a, int32_t b, int32_t c)
{
	return t->rank == 3 && t->dims[0] == a && t->dims[1] == b && t->dims[2] == c;
}

sl_head_guess sl_head_guess_kind(const sl_model *m)
{
	sl_head_guess g = {.kind = SL_HEAD_UNKNOWN, .boxes_output = -1, .scores_output = -1};
	if (!m || m->n_outputs < 1)
		return g;
	if (m->n_outputs == 2) {
		sl_ssd_anchor_options ao;
		sl_ssd_anchor_options_blazeface(&ao);
		const int n = sl_ssd_anchor_count(&ao, NULL);
		for (int b = 0; b < 2; b++) {
			const sl_tensor *tb = &m->tensors[m->outputs[b]];
			const sl_tensor *ts = &m->tensors[m->outputs[1 - b]];
			if (is_shape3(tb, 1, n, 16) && is_shape3(ts, 1, n, 1)) {
				g.kind = SL_HEAD_DETECT_BLAZEFACE;
				g.boxes_output = b;
				g.scores_output = 1 - b;
				return g;
			}
		}
		return g;
	}
	if (m->n_outputs == 1) {
		const sl_tensor *t = &m->tensors[m->outputs[0]];
		if (t->rank < 1 || t->dims[t->rank - 1] < 2)
			return g;
		for (int i = 0; i < t->rank - 1; i++)
			if (t->dims[i] != 1)
				return g;
		g.kind = SL_HEAD_CLASSIFY;
	}
	return g;
}
