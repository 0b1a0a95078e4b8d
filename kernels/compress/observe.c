/* Running models over the calibration set and summarising every float
 * activation: range, histogram (for percentile and MSE-optimal ranges) and
 * per-channel means (for bias correction). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/compress/compress_internal.h"

int co_runtime(sl_model *m, const sl_compress_opts *o, sl_runtime **ret, sl_error *err)
{
	sl_runtime_options ro = {.backend = o->backend, .threads = o->threads};
	return sl_runtime_new(m, &ro, ret, err);
}

double co_logit_dist(const float *a, const float *b, int64_t n, bool kl)
{
	if (!kl) {
		double e = 0;
		for (int64_t i = 0; i < n; i++)
			e += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
		return e;
	}
	double ma = -INFINITY, mb = -INFINITY, za = 0, zb = 0, d = 0;
	for (int64_t k = 0; k < n; k++) {
		ma = fmax(ma, a[k]);
		mb = fmax(mb, b[k]);
	}
	for (int64_t k = 0; k < n; k++) {
		za += exp(a[k] - ma);
		zb += exp(b[k] - mb);
	}
	for (int64_t k = 0; k < n; k++) {
		const double la = a[k] - ma - log(za), lb = b[k] - mb - log(zb);
		d += exp(la) * (la - lb);
	}
	return d;
}

void co_set_input(sl_runtime *rt, const sl_calib_set *cs, int i)
{
	void *dst = sl_runtime_input(rt, 0);
	const sl_tensor *t = sl_runtime_input_tensor(rt, 0);
	memcpy(dst, cs->inputs[i], SL_MIN(cs->bytes, t->bytes));
}

typedef struct {
	const sl_model *m;
	co_stats *s;
	int pass;
} collect_ctx;

static void observe(void *ud, int ti, const void *data)
{
	collect_ctx *c = ud;
	const sl_tensor *t = &c->m->tensors[ti];
	if (t->dtype != SL_DTYPE_F32)
		return;
	co_stats *s = &c->s[ti];
	const float *x = data;
	const int64_t n = sl_tensor_numel(t);
	if (c->pass == 0) {
		float lo = s->seen ? s->min : INFINITY, hi = s->seen ? s->max : -INFINITY;
		for (int64_t i = 0; i < n; i++) {
			lo = x[i] < lo ? x[i] : lo;
			hi = x[i] > hi ? x[i] : hi;
		}
		s->min = lo;
		s->max = hi;
		s->seen = true;
		return;
	}
	if (!s->hist)
		return;
	const double scale = CO_BINS / (double)(s->hhi - s->hlo);
	const int ch = s->channels;
	for (int64_t i = 0; i < n; i++) {
		int b = (int)((x[i] - s->hlo) * scale);
		b = b < 0 ? 0 : (b >= CO_BINS ? CO_BINS - 1 : b);
		s->hist[b] += 1;
	}
	for (int64_t i = 0; i < n; i++) {
		s->ch_sum[i % ch] += x[i];
		s->ch_sq[i % ch] += (double)x[i] * x[i];
	}
	s->count += (double)(n / ch);
}

void co_stats_free(co_stats *s, int n)
{
	if (!s)
		return;
	for (int i = 0; i < n; i++) {
		free(s[i].hist);
		free(s[i].ch_sum);
		free(s[i].ch_sq);
	}
	free(s);
}

int co_collect(sl_model *m, const sl_calib_set *cs, const sl_compress_opts *o, co_stats **ret, sl_error *err)
{
	_cleanup_(sl_runtime_freep) sl_runtime *rt = NULL;
	int r = co_runtime(m, o, &rt, err);
	if (r < 0)
		return r;
	co_stats *s = calloc((size_t)m->n_tensors, sizeof(*s));
	if (!s)
		return -ENOMEM;
	collect_ctx c = {.m = m, .s = s};
	for (c.pass = 0; c.pass < 2; c.pass++) {
		if (c.pass == 1) {
			for (int i = 0; i < m->n_tensors; i++) {
				co_stats *t = &s[i];
				if (!t->seen)
					continue;
				/* Ranges always include zero (it must be exactly representable). */
				t->hlo = SL_MIN(t->min, 0.0f);
				t->hhi = SL_MAX(t->max, 0.0f);
				if (t->hhi - t->hlo < 1e-8f)
					t->hhi = t->hlo + 1e-8f;
				const sl_tensor *tt = &m->tensors[i];
				t->channels = tt->rank ? tt->dims[tt->rank - 1] : 1;
				if (t->channels < 1)
					t->channels = 1;
				t->hist = calloc(CO_BINS, sizeof(double));
				t->ch_sum = calloc((size_t)t->channels, sizeof(double));
				t->ch_sq = calloc((size_t)t->channels, sizeof(double));
				if (!t->hist || !t->ch_sum || !t->ch_sq) {
					co_stats_free(s, m->n_tensors);
					return -ENOMEM;
				}
			}
		}
		for (int i = 0; i < cs->n; i++) {
			co_set_input(rt, cs, i);
			for (int k = 0; k < m->n_inputs; k++)
				observe(&c, m->inputs[k], sl_runtime_input(rt, k));
			r = sl_runtime_invoke_observed(rt, observe, &c);
			if (r < 0) {
				co_stats_free(s, m->n_tensors);
				return cg_fail(err, r, "calibration image %d: inference failed", i);
			}
		}
		cg_progress(o, "calibration pass %d/2 over %d inputs done", c.pass + 1, cs->n);
	}
	*ret = s;
	return 0;
}

/* Expected squared quantization error of the histogram for range [lo, hi]. */
static double range_mse(const co_stats *s, double lo, double hi)
{
	const double step = (hi - lo) / 255.0;
	const double in_range = step * step / 12.0;
	const double w = (s->hhi - s->hlo) / (double)CO_BINS;
	double e = 0;
	for (int b = 0; b < CO_BINS; b++) {
		if (!s->hist[b])
			continue;
		const double x = s->hlo + (b + 0.5) * w;
		double d = x < lo ? lo - x : (x > hi ? x - hi : 0);
		e += s->hist[b] * (d > 0 ? d * d : in_range);
	}
	return e;
}

static float quantile(const co_stats *s, double q)
{
	double total = 0;
	for (int b = 0; b < CO_BINS; b++)
		total += s->hist[b];
	double target = q * total, acc = 0;
	const double w = (s->hhi - s->hlo) / (double)CO_BINS;
	for (int b = 0; b < CO_BINS; b++) {
		acc += s->hist[b];
		if (acc >= target)
			return (float)(s->hlo + (b + 1) * w);
	}
	return s->hhi;
}

void co_range(const co_stats *s, const sl_compress_opts *o, float *ret_lo, float *ret_hi)
{
	float lo = s->hlo, hi = s->hhi;
	if (!s->hist || o->method == SL_CALIB_MINMAX) {
		/* nothing to narrow */
	} else if (o->method == SL_CALIB_PERCENTILE) {
		const double tail = (100.0 - o->percentile) / 100.0;
		if (lo < 0)
			lo = SL_MIN(quantile(s, tail), 0.0f);
		hi = SL_MAX(quantile(s, 1.0 - tail), 0.0f);
	} else {
		/* Coordinate search: the upper end, then the lower, then the upper again. */
		for (int round = 0; round < 3; round++) {
			const bool upper = round != 1;
			const float full = upper ? s->hhi : s->hlo;
			if (full == 0.0f)
				continue;
			double best = INFINITY;
			float best_v = full;
			for (int k = 128; k >= 8; k--) {
				const float v = full * (float)k / 128.0f;
				const double e = upper ? range_mse(s, lo, v) : range_mse(s, v, hi);
				if (e < best) {
					best = e;
					best_v = v;
				}
			}
			if (upper)
				hi = best_v;
			else
				lo = best_v;
		}
	}
	*ret_lo = lo;
	*ret_hi = hi;
}
