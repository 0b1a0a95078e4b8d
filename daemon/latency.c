#include "daemon/latency.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"

int sl_window_init(sl_window *w, int cap)
{
	if (cap < 1 || cap > SL_WINDOW_MAX)
		return -EINVAL;
	/* Second half: scratch for sorting, so percentiles allocate nothing. */
	double *v = calloc((size_t)cap * 2, sizeof(double));
	if (!v)
		return -ENOMEM;
	*w = (sl_window){.v = v, .cap = cap};
	return 0;
}

void sl_window_free(sl_window *w)
{
	free(w->v);
	*w = (sl_window){0};
}

void sl_window_reset(sl_window *w)
{
	w->n = 0;
	w->head = 0;
}

void sl_window_push(sl_window *w, double x)
{
	w->v[w->head] = x;
	w->head = (w->head + 1) % w->cap;
	if (w->n < w->cap)
		w->n++;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double sl_window_percentile(const sl_window *w, double q)
{
	if (w->n == 0)
		return NAN;
	double *s = w->v + w->cap;
	memcpy(s, w->v, (size_t)w->n * sizeof(double)); /* order is irrelevant once sorted */
	qsort(s, (size_t)w->n, sizeof(double), cmp_double);
	/* Nearest rank: the smallest sample with at least q of the samples at or below it. */
	int rank = (int)ceil(q * w->n);
	if (rank < 1)
		rank = 1;
	return s[rank - 1];
}

int sl_autoctl_init(sl_autoctl *c, const sl_autoctl_params *p, int n_variants)
{
	*c = (sl_autoctl){.p = *p, .n = n_variants, .target_ms = 100};
	c->v = calloc((size_t)n_variants, sizeof(*c->v));
	if (!c->v)
		return -ENOMEM;
	for (int i = 0; i < n_variants; i++)
		c->v[i].backoff_us = p->backoff_us;
	int r = sl_window_init(&c->w, p->window);
	if (r < 0) {
		free(c->v);
		c->v = NULL;
	}
	return r;
}

void sl_autoctl_free(sl_autoctl *c)
{
	free(c->v);
	sl_window_free(&c->w);
	*c = (sl_autoctl){0};
}

void sl_autoctl_set_target(sl_autoctl *c, double target_ms)
{
	c->target_ms = target_ms;
	c->ok_since_us = 0;
	c->reported_floor = false;
}

void sl_autoctl_switched(sl_autoctl *c, int from, int to, uint64_t now_us)
{
	(void)from, (void)to, (void)now_us;
	sl_window_reset(&c->w);
	c->ok_since_us = 0;
	c->reported_floor = false;
}

static int next_usable(const sl_autoctl *c, int from, int step, const bool *usable)
{
	for (int i = from + step; i >= 0 && i < c->n; i += step)
		if (!usable || usable[i])
			return i;
	return -1;
}

int sl_autoctl_sample(sl_autoctl *c, int cur, double latency_ms, uint64_t now_us, const double *cost,
		      const bool *usable, char *reason, size_t reason_len)
{
	if (reason_len)
		reason[0] = 0;
	if (cur < 0 || cur >= c->n || !isfinite(latency_ms))
		return -1;
	sl_window_push(&c->w, latency_ms);
	if (c->w.n < c->p.min_samples)
		return -1;
	double p95 = sl_window_percentile(&c->w, 0.95);

	if (p95 > c->target_ms) {
		c->ok_since_us = 0;
		int lower = next_usable(c, cur, +1, usable);
		if (lower < 0) {
			if (!c->reported_floor)
				snprintf(reason, reason_len,
					 "p95 %.2f ms > target %.2f ms over %d frames, and no faster variant "
					 "is left",
					 p95, c->target_ms, c->w.n);
			c->reported_floor = true;
			return -1;
		}
		sl_autoctl_variant *v = &c->v[cur];
		/* A step up that fails soon after is a sign the prediction is wrong for
		 * this variant: wait longer before the next try, so we never flap. */
		uint64_t probation = SL_MAX(c->p.backoff_us, 2 * c->p.hold_us);
		if (v->up_at_us && now_us - v->up_at_us < probation + v->backoff_us)
			v->backoff_us =
			    SL_MIN(v->backoff_us ? v->backoff_us * 2 : c->p.backoff_us, c->p.backoff_max_us);
		else
			v->backoff_us = c->p.backoff_us;
		v->down_at_us = now_us;
		snprintf(reason, reason_len, "p95 %.2f ms > target %.2f ms over %d frames", p95, c->target_ms,
			 c->w.n);
		return lower;
	}
	c->reported_floor = false;

	int upper = next_usable(c, cur, -1, usable);
	if (upper < 0) {
		c->ok_since_us = 0;
		return -1;
	}
	double ratio = cost && cost[upper] > 0 && cost[cur] > 0 ? cost[upper] / cost[cur] : 1.0;
	double predicted = p95 * ratio;
	const sl_autoctl_variant *u = &c->v[upper];
	bool held_off = u->down_at_us && now_us < u->down_at_us + u->backoff_us;
	if (held_off || predicted > c->target_ms * (1.0 - c->p.margin)) {
		c->ok_since_us = 0;
		return -1;
	}
	if (!c->ok_since_us)
		c->ok_since_us = now_us ? now_us : 1;
	if (now_us - c->ok_since_us < c->p.hold_us)
		return -1;
	c->v[upper].up_at_us = now_us;
	snprintf(reason, reason_len,
		 "predicted p95 %.2f ms (p95 %.2f ms x cost ratio %.2f) within target %.2f ms less %.0f%% "
		 "for %.1f s",
		 predicted, p95, ratio, c->target_ms, c->p.margin * 100, (now_us - c->ok_since_us) / 1e6);
	return upper;
}
