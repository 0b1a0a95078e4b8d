/* Latest-frame-wins hand-off: single-threaded rules, then a producer and a
 * consumer racing, checking that no frame is ever torn. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>

#include "capture/slots.h"

#define BYTES 4096

static void write_frame(sl_slots *s, uint64_t seq)
{
	int i = sl_slots_begin(s);
	cr_assert_geq(i, 0);
	memset(sl_slots_data(s, i), (int)(seq & 0xFF), BYTES);
	sl_slots_publish(s, i, &(sl_frame){.sequence = seq});
}

static bool readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) == 1;
}

Test(slots, latest_frame_wins_and_stale_frames_are_counted)
{
	sl_slots s;
	sl_frame f;
	cr_assert_eq(sl_slots_init(&s, 3, BYTES), 0);
	cr_assert_eq(sl_slots_acquire(&s, 0, &f), -ETIMEDOUT);
	cr_assert_eq(sl_slots_acquire(&s, 20, &f), -ETIMEDOUT);
	cr_assert(!readable(s.efd));
	write_frame(&s, 1);
	write_frame(&s, 2);
	write_frame(&s, 3);
	cr_assert(readable(s.efd));
	cr_assert_eq(sl_slots_acquire(&s, 0, &f), 0);
	cr_assert_eq(f.sequence, 3);
	cr_assert_eq(((const uint8_t *)f.data)[BYTES - 1], 3);
	cr_assert_eq(atomic_load(&s.stale), 2);
	cr_assert(!readable(s.efd), "taken: nothing ready any more");
	cr_assert_eq(sl_slots_acquire(&s, 0, &f), -ETIMEDOUT, "no frame newer than the last");
	sl_slots_release(&s, f.slot);
	sl_slots_destroy(&s);
	sl_slots_destroy(&s); /* idempotent */
}

Test(slots, a_held_frame_is_never_overwritten)
{
	sl_slots s;
	sl_frame held, f;
	cr_assert_eq(sl_slots_init(&s, 3, BYTES), 0);
	write_frame(&s, 10);
	cr_assert_eq(sl_slots_acquire(&s, 0, &held), 0);
	for (uint64_t k = 11; k < 100; k++)
		write_frame(&s, k);
	for (int i = 0; i < BYTES; i++)
		cr_assert_eq(((const uint8_t *)held.data)[i], 10);
	/* a second consumer can hold another frame at the same time */
	cr_assert_eq(sl_slots_acquire(&s, 0, &f), 0);
	cr_assert_eq(f.sequence, 99);
	/* with both held, the producer still has a slot */
	write_frame(&s, 100);
	/* and with all three held, frames are dropped, not written into held slots */
	sl_frame third;
	cr_assert_eq(sl_slots_acquire(&s, 0, &third), 0);
	uint64_t stale = atomic_load(&s.stale);
	cr_assert_eq(sl_slots_begin(&s), -1);
	cr_assert_eq(atomic_load(&s.stale), stale + 1);
	sl_slots_release(&s, held.slot);
	sl_slots_release(&s, f.slot);
	sl_slots_release(&s, third.slot);
	sl_slots_release(&s, -1); /* ignored */
	cr_assert_geq(sl_slots_begin(&s), 0);
	sl_slots_destroy(&s);
}

Test(slots, close_wakes_consumers_with_epipe_after_the_last_frame)
{
	sl_slots s;
	sl_frame f;
	cr_assert_eq(sl_slots_init(&s, 3, BYTES), 0);
	write_frame(&s, 1);
	sl_slots_close(&s);
	cr_assert_eq(sl_slots_acquire(&s, -1, &f), 0);
	sl_slots_release(&s, f.slot);
	cr_assert_eq(sl_slots_acquire(&s, -1, &f), -EPIPE);
	cr_assert(readable(s.efd), "event loops must wake to see the end");
	sl_slots_destroy(&s);
}

typedef struct {
	sl_slots *s;
	uint64_t n;
} producer_arg;

static void *producer(void *arg)
{
	producer_arg *a = arg;
	for (uint64_t k = 1; k <= a->n; k++) {
		int i = sl_slots_begin(a->s);
		if (i < 0)
			continue;
		uint64_t *d = sl_slots_data(a->s, i);
		for (size_t j = 0; j < BYTES / 8; j++)
			d[j] = k;
		sl_slots_publish(a->s, i, &(sl_frame){.sequence = k});
	}
	sl_slots_close(a->s);
	return NULL;
}

Test(slots, producer_and_consumer_race_without_tearing)
{
	sl_slots s;
	cr_assert_eq(sl_slots_init(&s, 3, BYTES), 0);
	producer_arg a = {&s, 200000};
	pthread_t t;
	pthread_create(&t, NULL, producer, &a);
	uint64_t taken = 0, last = 0;
	sl_frame f;
	int r;
	while ((r = sl_slots_acquire(&s, 1000, &f)) == 0) {
		const uint64_t *d = f.data;
		cr_assert_gt(f.sequence, last, "frames go forward");
		for (size_t j = 0; j < BYTES / 8; j++)
			cr_assert_eq(d[j], f.sequence, "torn frame");
		last = f.sequence;
		taken++;
		sl_slots_release(&s, f.slot);
	}
	cr_assert_eq(r, -EPIPE);
	pthread_join(t, NULL);
	cr_assert_eq(last, a.n, "the newest frame is always delivered");
	cr_assert_eq(taken + atomic_load(&s.stale), a.n, "taken %lu stale %lu", (unsigned long)taken,
		     (unsigned long)atomic_load(&s.stale));
	sl_slots_destroy(&s);
}
