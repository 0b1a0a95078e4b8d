/* The latency window and the auto-mode controller, driven with synthetic time. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "daemon/latency.h"

Test(window, nearest_rank_percentiles)
{
	sl_window w;
	cr_assert_eq(sl_window_init(&w, 100), 0);
	cr_expect(isnan(sl_window_percentile(&w, 0.5)), "empty window");
	for (int i = 1; i <= 100; i++)
		sl_window_push(&w, i);
	cr_expect_eq(sl_window_percentile(&w, 0.50), 50);
	cr_expect_eq(sl_window_percentile(&w, 0.95), 95);
	cr_expect_eq(sl_window_percentile(&w, 0.99), 99);
	cr_expect_eq(sl_window_percentile(&w, 0.0), 1);
	cr_expect_eq(sl_window_percentile(&w, 1.0), 100);
	/* Sliding: the 100 oldest go as new ones come. */
	for (int i = 0; i < 100; i++)
		sl_window_push(&w, 1000);
	cr_expect_eq(sl_window_percentile(&w, 0.5), 1000);
	sl_window_reset(&w);
	sl_window_push(&w, 7);
	cr_expect_eq(sl_window_percentile(&w, 0.95), 7);
	sl_window_free(&w);
	cr_expect_eq(sl_window_init(&w, 0), -EINVAL);
}

/* With 30 samples, p95 is the second largest: one spike alone decides nothing. */
static const sl_autoctl_params P = {
    .window = 30,
    .min_samples = 5,
    .margin = 0.25,
    .hold_us = 2000000,
    .backoff_us = 5000000,
    .backoff_max_us = 40000000,
};

/* Three variants; the cost ratio between neighbours is 2. */
static const double cost3[3] = {4, 2, 1};
static const bool all3[3] = {true, true, true};

typedef struct {
	sl_autoctl c;
	int cur;
	uint64_t now;
	int changes;
	char reason[256];
} sim;

/* Feeds one frame of variant cur taking `ms`, 33 ms apart. */
static int step(sim *s, double ms)
{
	s->now += 33000;
	int next = sl_autoctl_sample(&s->c, s->cur, ms, s->now, cost3, all3, s->reason, sizeof(s->reason));
	if (next >= 0) {
		sl_autoctl_switched(&s->c, s->cur, next, s->now);
		s->cur = next;
		s->changes++;
	}
	return next;
}

static void sim_init(sim *s, double target)
{
	memset(s, 0, sizeof(*s));
	cr_assert_eq(sl_autoctl_init(&s->c, &P, 3), 0);
	sl_autoctl_set_target(&s->c, target);
	s->now = 1000000;
}

Test(autoctl, steps_down_at_once_one_variant_at_a_time)
{
	sim s;
	sim_init(&s, 50);
	for (int i = 0; i < 4; i++)
		cr_expect_eq(step(&s, 80), -1, "not before min_samples");
	cr_expect_eq(step(&s, 80), 1, "fifth slow frame: down one");
	cr_expect(strstr(s.reason, "p95 80.00 ms > target 50.00 ms"), "%s", s.reason);
	for (int i = 0; i < 4; i++)
		cr_expect_eq(step(&s, 80), -1, "a fresh window for the new variant");
	cr_expect_eq(step(&s, 80), 2);
	cr_expect_eq(step(&s, 80), -1);
	for (int i = 0; i < 20; i++)
		cr_expect_eq(step(&s, 80), -1, "nothing below the bottom");
	sl_autoctl_free(&s.c);
}

Test(autoctl, floor_is_reported_once)
{
	sim s;
	sim_init(&s, 50);
	s.cur = 2;
	for (int i = 0; i < 4; i++)
		step(&s, 80);
	step(&s, 80);
	cr_expect(strstr(s.reason, "no faster variant"), "%s", s.reason);
	step(&s, 80);
	cr_expect_str_eq(s.reason, "", "said once");
	sl_autoctl_free(&s.c);
}

Test(autoctl, a_single_spike_does_not_step_down)
{
	sim s;
	sim_init(&s, 50);
	/* Once the window has filled (while it holds fewer than 20 samples, p95 is its maximum). */
	for (int i = 0; i < 200; i++)
		cr_expect_eq(step(&s, i % 40 == 25 ? 500 : 10), -1, "frame %d", i);
	sl_autoctl_free(&s.c);
}

Test(autoctl, steps_up_after_a_sustained_margin)
{
	sim s;
	sim_init(&s, 50);
	s.cur = 2;
	/* Predicted for the next one up: 10 ms x 2 = 20 ms <= 37.5 ms: after the hold. */
	int frames = 0;
	while (step(&s, 10) < 0 && frames < 1000)
		frames++;
	cr_expect_eq(s.cur, 1);
	cr_expect(frames * 33000 >= (int)P.hold_us - 33000, "held %d frames", frames);
	cr_expect(strstr(s.reason, "predicted p95 20.00 ms"), "%s", s.reason);
	/* Within target but without the margin: stays. 20 ms x 2 = 40 > 37.5. */
	for (int i = 0; i < 500; i++)
		cr_expect_eq(step(&s, 20), -1);
	sl_autoctl_free(&s.c);
}

Test(autoctl, margin_must_hold_continuously)
{
	sim s;
	sim_init(&s, 50);
	s.cur = 1;
	/* Every 40th frame breaks the margin: the hold restarts each time (p95 of 10 > margin). */
	for (int i = 0; i < 400; i++)
		cr_expect_eq(step(&s, (i % 40) < 2 ? 30 : 10), -1, "frame %d", i);
	sl_autoctl_free(&s.c);
}

/* Slow only at the top: the controller tries the top again after a back-off
 * that doubles every time the try fails, so changes thin out over time. */
Test(autoctl, no_flapping_when_only_the_top_is_slow)
{
	sim s;
	sim_init(&s, 50);
	uint64_t up_times[64];
	int ups = 0;
	for (int i = 0; i < 60 * 30; i++) { /* a minute at 30 fps */
		int before = s.cur;
		step(&s, s.cur == 0 ? 80 : 15);
		if (s.cur < before && ups < 64)
			up_times[ups++] = s.now;
	}
	cr_expect_leq(s.changes, 2 * 5, "%d changes in a minute", s.changes);
	for (int i = 2; i < ups; i++)
		cr_expect_gt(up_times[i] - up_times[i - 1], up_times[i - 1] - up_times[i - 2],
			     "tries of the top thin out");
	sl_autoctl_free(&s.c);
}

Test(autoctl, unusable_variants_are_skipped)
{
	sim s;
	sim_init(&s, 50);
	bool usable[3] = {true, false, true};
	for (int i = 0; i < 5; i++) {
		s.now += 33000;
		int next = sl_autoctl_sample(&s.c, 0, 80, s.now, cost3, usable, s.reason, sizeof(s.reason));
		if (i == 4)
			cr_expect_eq(next, 2, "skips the broken middle one");
	}
	sl_autoctl_free(&s.c);
}
