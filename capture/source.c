/* The generic part of every source: URI dispatch, the capture thread and its
 * state machine (opening -> streaming -> lost -> backoff -> reopening), the
 * per-frame decode into slots, and the counters. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "capture/resize.h"
#include "capture/slots.h"
#include "capture/source_internal.h"
#include "common/macros.h"

#define N_SLOTS 3

struct sl_source {
	sl_source_config cfg;
	char *uri;
	sl_backend *b;
	sl_framedec dec;
	sl_slots slots;
	int stop_fd;
	pthread_t thread;
	bool started;
	atomic_int state;
	atomic_uint_fast64_t captured, decoded, corrupt, dropped_driver, reconnects;
	/* capture thread only */
	uint64_t seq_next, seq_base, last_dev_seq;
	bool have_dev_seq;
	unsigned rand_state;
};

uint64_t sl_capture_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void sl_pacer_init(sl_pacer *p, int fps)
{
	p->interval_us = 1000000u / (unsigned)(fps > 0 ? fps : 30);
	p->next_us = 0;
}

int sl_pacer_wait(sl_pacer *p, int stop_fd)
{
	uint64_t now = sl_capture_now_us();
	if (!p->next_us)
		p->next_us = now;
	/* fell behind by more than a frame: restart the cadence rather than burst */
	if (now > p->next_us + p->interval_us)
		p->next_us = now;
	while (now < p->next_us) {
		uint64_t left = p->next_us - now;
		struct timespec ts = {.tv_sec = (time_t)(left / 1000000u),
				      .tv_nsec = (long)(left % 1000000u) * 1000};
		struct pollfd pfd = {.fd = stop_fd, .events = POLLIN};
		int r = ppoll(&pfd, 1, &ts, NULL);
		if (r > 0)
			return -ECANCELED;
		now = sl_capture_now_us();
	}
	p->next_us += p->interval_us;
	struct pollfd pfd = {.fd = stop_fd, .events = POLLIN};
	return poll(&pfd, 1, 0) > 0 ? -ECANCELED : 0;
}

const char *sl_source_state_name(sl_source_state st)
{
	static const char *const names[] = {"opening", "streaming", "lost",
					    "backoff", "reopening", "stopped"};
	return (unsigned)st < SL_ARRAY_SIZE(names) ? names[st] : "?";
}

__attribute__((format(printf, 3, 4))) static void set_state(sl_source *s, sl_source_state st, const char *fmt,
							    ...)
{
	char why[320];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	atomic_store(&s->state, (int)st);
	if (s->cfg.on_state)
		s->cfg.on_state(s->cfg.userdata, st, why);
}

static bool stop_requested(sl_source *s)
{
	struct pollfd pfd = {.fd = s->stop_fd, .events = POLLIN};
	return poll(&pfd, 1, 0) > 0;
}

/* Exponential backoff with "equal jitter": half fixed, half random, so that
 * several cameras on one hub do not retry in lockstep. */
static int backoff_delay_ms(sl_source *s, int attempt)
{
	uint64_t d = (uint64_t)s->cfg.backoff_initial_ms << (attempt < 20 ? attempt : 20);
	if (d > (uint64_t)s->cfg.backoff_max_ms)
		d = (uint64_t)s->cfg.backoff_max_ms;
	uint64_t half = d / 2;
	return (int)(half + (uint64_t)rand_r(&s->rand_state) % (half + 1));
}

/* Source-wide sequence: one step per frame the device produced, monotonic
 * across reconnects, so consumers see both kinds of drops as gaps. */
static uint64_t next_sequence(sl_source *s, uint64_t dev)
{
	if (s->have_dev_seq && dev > s->last_dev_seq) {
		uint64_t gap = dev - s->last_dev_seq - 1;
		if (gap)
			atomic_fetch_add_explicit(&s->dropped_driver, gap, memory_order_relaxed);
	} else {
		s->seq_base = s->seq_next - dev; /* first frame of a stream, or the device restarted */
	}
	s->have_dev_seq = true;
	s->last_dev_seq = dev;
	uint64_t seq = s->seq_base + dev;
	s->seq_next = seq + 1;
	return seq;
}

static void handle_frame(sl_source *s, const sl_capture_item *it)
{
	atomic_fetch_add_explicit(&s->captured, 1, memory_order_relaxed);
	sl_frame meta = {.sequence = next_sequence(s, it->dev_sequence), .timestamp_us = it->timestamp_us};
	int slot = sl_slots_begin(&s->slots);
	if (slot < 0)
		return;
	int r = sl_framedec_process(&s->dec, &it->raw, &s->cfg.spec, sl_slots_data(&s->slots, slot),
				    &meta.map, &meta.src_width, &meta.src_height);
	if (r < 0) {
		sl_slots_abort(&s->slots, slot);
		atomic_fetch_add_explicit(&s->corrupt, 1, memory_order_relaxed);
		if (s->cfg.on_corrupt)
			s->cfg.on_corrupt(s->cfg.userdata, it->name, r);
		return;
	}
	/* counted before the consumer can see the frame, so that stats read
	 * after an acquire always include it */
	atomic_fetch_add_explicit(&s->decoded, 1, memory_order_relaxed);
	sl_slots_publish(&s->slots, slot, &meta);
}

/* Stream until the device goes away: 0 on stop/end (state already set), or
 * a negative errno with why filled when the device was lost. */
static int stream(sl_source *s, int *attempt, char *why, size_t n)
{
	for (;;) {
		sl_capture_item it;
		int r = s->b->ops->get(s->b, &it, why, n);
		if (r == -EAGAIN)
			continue;
		if (r == -ECANCELED)
			return 0;
		if (r == -EPIPE) {
			set_state(s, SL_SOURCE_STOPPED, "end of %s", s->uri);
			return 0;
		}
		if (r < 0)
			return r;
		*attempt = 0; /* a delivered frame proves the device healthy again */
		handle_frame(s, &it);
		s->b->ops->put(s->b, &it);
	}
}

static void *capture_thread(void *arg)
{
	sl_source *s = arg;
	char why[256];
	int attempt = 0;
	bool lost_before = false;
	set_state(s, SL_SOURCE_OPENING, "opening %s", s->uri);
	while (!stop_requested(s)) {
		why[0] = 0;
		int r = s->b->ops->open(s->b, why, sizeof(why));
		if (r >= 0) {
			if (lost_before)
				atomic_fetch_add_explicit(&s->reconnects, 1, memory_order_relaxed);
			s->have_dev_seq = false;
			set_state(s, SL_SOURCE_STREAMING, "%s", why);
			why[0] = 0;
			r = stream(s, &attempt, why, sizeof(why));
			s->b->ops->close(s->b);
			if (r == 0)
				break;
			lost_before = true;
			set_state(s, SL_SOURCE_LOST, "%s", why[0] ? why : strerror(-r));
		} else if (s->b->open_is_final) {
			set_state(s, SL_SOURCE_STOPPED, "%s", why[0] ? why : strerror(-r));
			break;
		}
		int delay = backoff_delay_ms(s, attempt++);
		set_state(s, SL_SOURCE_BACKOFF, "%s%sretrying in %d ms", r < 0 && why[0] ? why : "",
			  r < 0 && why[0] ? "; " : "", delay);
		struct pollfd pfd = {.fd = s->stop_fd, .events = POLLIN};
		if (poll(&pfd, 1, delay) > 0)
			break;
		set_state(s, SL_SOURCE_REOPENING, "reopening %s (attempt %d)", s->uri, attempt);
	}
	s->b->ops->close(s->b);
	if (atomic_load(&s->state) != SL_SOURCE_STOPPED)
		set_state(s, SL_SOURCE_STOPPED, "stopped");
	sl_slots_close(&s->slots);
	return NULL;
}

static size_t tensor_bytes(const sl_preprocess_spec *spec)
{
	return (size_t)spec->width * (size_t)spec->height * 3 * (spec->type == SL_PIXEL_F32 ? 4 : 1);
}

static bool is_testsrc(const char *u)
{
	return !strncmp(u, "testsrc", 7) && (u[7] == 0 || u[7] == ':' || u[7] == '?');
}

int sl_source_check_uri(const char *uri, char *why, size_t n)
{
	if (!strncmp(uri, "v4l2:", 5))
		return sl_backend_v4l2_check(uri + 5, why, n);
	if (!strncmp(uri, "/dev/", 5))
		return sl_backend_v4l2_check(uri, why, n);
	if (is_testsrc(uri))
		return sl_backend_testsrc_check(uri + 7, why, n);
	const bool file = !strncmp(uri, "file:", 5);
	if (file && uri[5])
		return 0;
	snprintf(why, n, "%s \"%s\" (want v4l2:/dev/videoN, file:PATH or testsrc[:WxH[@FPS]])",
		 file ? "no path in" : "unknown source type in", uri);
	return file ? -EINVAL : -EPROTONOSUPPORT;
}

int sl_source_new(const sl_source_config *cfg, sl_source **ret)
{
	sl_layout l;
	char why[256] = "";
	int r;
	if (!cfg || !cfg->uri || !ret)
		return -EINVAL;
	if (sl_preprocess_layout(640, 480, &cfg->spec, &l) < 0 || cfg->spec.height > SL_IMAGE_MAX_DIM ||
	    (cfg->spec.type != SL_PIXEL_U8 && cfg->spec.type != SL_PIXEL_I8 &&
	     cfg->spec.type != SL_PIXEL_F32))
		return -EINVAL;
	sl_source *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->stop_fd = -1;
	s->slots.efd = -1;
	s->cfg = *cfg;
	s->uri = strdup(cfg->uri);
	if (!s->uri) {
		r = -ENOMEM;
		goto fail;
	}
	s->cfg.uri = s->uri;
	if (s->cfg.buffers <= 0)
		s->cfg.buffers = 4;
	if (s->cfg.backoff_initial_ms <= 0)
		s->cfg.backoff_initial_ms = 250;
	if (s->cfg.backoff_max_ms <= 0)
		s->cfg.backoff_max_ms = 5000;
	if (s->cfg.backoff_max_ms < s->cfg.backoff_initial_ms)
		s->cfg.backoff_max_ms = s->cfg.backoff_initial_ms;
	s->rand_state = (unsigned)sl_capture_now_us() ^ (unsigned)(uintptr_t)s;
	atomic_init(&s->state, SL_SOURCE_OPENING);

	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_fd < 0) {
		r = -errno;
		goto fail;
	}
	if ((r = sl_slots_init(&s->slots, N_SLOTS, tensor_bytes(&cfg->spec))) < 0)
		goto fail;
	const char *u = s->uri;
	bool file = !strncmp(u, "file:", 5);
	if ((r = sl_framedec_init(&s->dec, file)) < 0)
		goto fail;
	if (!strncmp(u, "v4l2:", 5))
		r = sl_backend_v4l2_new(u + 5, &s->cfg, &s->b, why, sizeof(why));
	else if (!strncmp(u, "/dev/", 5))
		r = sl_backend_v4l2_new(u, &s->cfg, &s->b, why, sizeof(why));
	else if (file)
		r = sl_backend_file_new(u + 5, &s->cfg, &s->b, why, sizeof(why));
	else if (is_testsrc(u))
		r = sl_backend_testsrc_new(u + 7, &s->cfg, &s->b, why, sizeof(why));
	else
		r = -EPROTONOSUPPORT;
	if (r < 0)
		goto fail;
	s->b->stop_fd = s->stop_fd;
	s->b->dec = &s->dec;
	*ret = s;
	return 0;
fail:
	/* the caller logs; give it the reason through the one channel it has */
	if (cfg->on_state)
		cfg->on_state(cfg->userdata, SL_SOURCE_STOPPED,
			      why[0]		      ? why
			      : r == -EPROTONOSUPPORT ? "unknown source type"
						      : strerror(-r));
	sl_source_free(s);
	return r;
}

int sl_source_start(sl_source *s)
{
	if (!s)
		return -EINVAL;
	if (s->started)
		return -EALREADY;
	int r = pthread_create(&s->thread, NULL, capture_thread, s);
	if (r)
		return -r;
	s->started = true;
	return 0;
}

int sl_source_acquire(sl_source *s, int timeout_ms, sl_frame *ret)
{
	if (!s || !ret)
		return -EINVAL;
	return sl_slots_acquire(&s->slots, timeout_ms, ret);
}

void sl_source_release(sl_source *s, const sl_frame *f)
{
	if (s && f)
		sl_slots_release(&s->slots, f->slot);
}

int sl_source_fd(const sl_source *s)
{
	return s ? s->slots.efd : -EINVAL;
}

sl_source_state sl_source_get_state(const sl_source *s)
{
	return (sl_source_state)atomic_load(&((sl_source *)s)->state);
}

void sl_source_get_stats(const sl_source *s, sl_source_stats *ret)
{
	sl_source *m = (sl_source *)s;
	*ret = (sl_source_stats){
	    .captured = atomic_load(&m->captured),
	    .decoded = atomic_load(&m->decoded),
	    .corrupt = atomic_load(&m->corrupt),
	    .dropped_driver = atomic_load(&m->dropped_driver),
	    .dropped_stale = atomic_load(&m->slots.stale),
	    .reconnects = atomic_load(&m->reconnects),
	};
}

sl_source *sl_source_free(sl_source *s)
{
	if (!s)
		return NULL;
	if (s->started) {
		uint64_t one = 1;
		(void)!write(s->stop_fd, &one, sizeof(one));
		pthread_join(s->thread, NULL);
	}
	if (s->b) {
		s->b->ops->close(s->b);
		s->b->ops->free(s->b);
	}
	sl_framedec_done(&s->dec);
	sl_slots_destroy(&s->slots);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	free(s->uri);
	free(s);
	return NULL;
}
