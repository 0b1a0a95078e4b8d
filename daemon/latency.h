/* Latency bookkeeping and the auto-mode controller. Pure logic on the main
 * loop thread: no clocks are read here, callers pass `now` (µs), so tests can
 * drive it with synthetic time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_WINDOW_MAX 10000

/* Sliding window of the last `cap` samples. */
typedef struct {
	double *v;
	int cap, n, head;
} sl_window;

int sl_window_init(sl_window *w, int cap);
void sl_window_free(sl_window *w);
void sl_window_reset(sl_window *w);
void sl_window_push(sl_window *w, double x);
/* Nearest-rank percentile (q in [0, 1]) of the samples; NaN when empty. */
double sl_window_percentile(const sl_window *w, double q);

typedef struct {
	int window;	     /* samples judged */
	int min_samples;     /* before judging a variant just switched to */
	double margin;	     /* step up only when the prediction leaves this fraction of the target free */
	uint64_t hold_us;    /* ... continuously for this long */
	uint64_t backoff_us; /* after stepping down from v, no step back up to v for this long */
	uint64_t backoff_max_us;
} sl_autoctl_params;

typedef struct {
	uint64_t down_at_us; /* last step down from this variant (0: never) */
	uint64_t up_at_us;   /* last step up to this variant (0: never) */
	uint64_t backoff_us; /* current hold-off, doubled when a step up fails quickly */
} sl_autoctl_variant;

typedef struct {
	sl_autoctl_params p;
	double target_ms;
	int n;		       /* variants in the ladder */
	sl_autoctl_variant *v; /* n entries */
	sl_window w;
	uint64_t ok_since_us; /* step-up condition true since (0: not true) */
	bool reported_floor;  /* "lowest variant misses" said once per episode */
} sl_autoctl;

int sl_autoctl_init(sl_autoctl *c, const sl_autoctl_params *p, int n_variants);
void sl_autoctl_free(sl_autoctl *c);
void sl_autoctl_set_target(sl_autoctl *c, double target_ms);
/* The running variant changed (by us or anyone): judge it afresh. */
void sl_autoctl_switched(sl_autoctl *c, int from, int to, uint64_t now_us);

/* Feed one processing latency of variant `cur`. cost[i] (> 0, relative) predicts
 * how a variant compares to another; usable[i] false skips a variant (failed
 * to load). Returns the index to switch to, or -1, and fills reason when it
 * switches (or, once, when even the lowest variant misses the target). */
int sl_autoctl_sample(sl_autoctl *c, int cur, double latency_ms, uint64_t now_us, const double *cost,
		      const bool *usable, char *reason, size_t reason_len);
