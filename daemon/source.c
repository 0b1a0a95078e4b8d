/* The frame source: opening it (or its fallback), the state its capture
 * thread reports, and retries with backoff while it cannot be opened. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "capture/source.h"
#include "common/macros.h"
#include "daemon/internal.h"
#include "daemon/log.h"
#include "daemon/pipeline.h"

static void on_source_state(void *userdata, sl_source_state st, const char *reason)
{
	sl_daemon *d = userdata;
	pthread_mutex_lock(&d->src_lock);
	d->src_state_new = st;
	snprintf(d->src_reason, sizeof(d->src_reason), "%s", reason ? reason : "");
	d->src_changed = true;
	pthread_mutex_unlock(&d->src_lock);
	uint64_t one = 1;
	(void)!write(d->wake_fd, &one, sizeof(one));
}

/* Capture thread. A folder with one bad image in a loop would otherwise
 * log it on every pass: the first ten, then every thousandth. */
static void on_source_corrupt(void *userdata, const char *what, int err)
{
	sl_daemon *d = userdata;
	pthread_mutex_lock(&d->src_lock);
	const uint64_t n = ++d->corrupt_seen;
	pthread_mutex_unlock(&d->src_lock);
	if (n <= 10 || n % 1000 == 0)
		log_warning("frame not decoded (%llu so far%s): %s%s%s", (unsigned long long)n,
			    n == 10 ? ", only every 1000th more is logged" : "", what ? what : "",
			    what ? ": " : "",
			    err == -EBADMSG ? "corrupt or truncated image" : strerror(-err));
}

void sl_daemon_poll_source_state(sl_daemon *d)
{
	pthread_mutex_lock(&d->src_lock);
	bool changed = d->src_changed;
	sl_source_state st = d->src_state_new;
	char reason[sizeof(d->src_reason)];
	memcpy(reason, d->src_reason, sizeof(reason));
	d->src_changed = false;
	pthread_mutex_unlock(&d->src_lock);
	if (!changed)
		return;
	if (st != d->source_state)
		log_notice("source %s: %s (%s)", d->source_uri ? d->source_uri : "?",
			   sl_source_state_name(st), reason);
	d->source_state = st;
}

static int open_one_source(sl_daemon *d, const char *uri)
{
	sl_source_config sc = {
	    .uri = uri,
	    .fps = d->cfg.capture_fps,
	    .loop = d->cfg.loop,
	    .spec = d->ladder->capture_spec,
	    .on_state = on_source_state,
	    .on_corrupt = on_source_corrupt,
	    .userdata = d,
	};
	sl_source *src = NULL;
	int r = sl_source_new(&sc, &src);
	if (r >= 0) {
		d->source_state = SL_SOURCE_OPENING;
		r = sl_source_start(src);
	}
	if (r < 0) {
		sl_source_free(src);
		return r;
	}
	d->source = src;
	free(d->source_uri);
	d->source_uri = strdup(uri);
	d->capture_spec = sc.spec;
	return 0;
}

#define SOURCE_RETRY_FIRST_US 500000u
#define SOURCE_RETRY_MAX_US   30000000u

static int on_source_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	sl_daemon *d = userdata;
	(void)s;
	(void)usec;
	if (!d->stopping && !d->source)
		(void)sl_daemon_open_source(d);
	return 0;
}

static void schedule_source_retry(sl_daemon *d)
{
	if (d->stopping || !d->event)
		return;
	d->src_retry_us = d->src_retry_us ? SL_MIN(2 * d->src_retry_us, (uint64_t)SOURCE_RETRY_MAX_US)
					  : SOURCE_RETRY_FIRST_US;
	uint64_t now = 0;
	(void)sd_event_now(d->event, CLOCK_MONOTONIC, &now);
	int r = d->src_retry ? sd_event_source_set_time(d->src_retry, now + d->src_retry_us)
			     : sd_event_add_time(d->event, &d->src_retry, CLOCK_MONOTONIC,
						 now + d->src_retry_us, 10000u, on_source_retry, d);
	if (r >= 0)
		r = sd_event_source_set_enabled(d->src_retry, SD_EVENT_ONESHOT);
	if (r < 0)
		log_error("cannot schedule a retry of the source: %s", strerror(-r));
	else
		log_info("retrying the source in %.1f s", (double)d->src_retry_us / 1e6);
}

/* Stops the pipeline, replaces the source, starts again: the active engine stays. */
int sl_daemon_open_source(sl_daemon *d)
{
	sl_pipeline_stop(d->pipeline);
	if (d->source) {
		sl_source_stats ss;
		sl_source_get_stats(d->source, &ss);
		d->captured_base += ss.captured;
		d->dropped_base += ss.dropped_driver + ss.dropped_stale;
		d->corrupt_base += ss.corrupt;
	}
	d->source = sl_source_free(d->source);

	int r = open_one_source(d, d->cfg.source);
	if (r < 0 && d->cfg.fallback_source) {
		log_warning("source %s cannot be opened (%s); falling back to %s", d->cfg.source,
			    strerror(-r), d->cfg.fallback_source);
		r = open_one_source(d, d->cfg.fallback_source);
	}
	if (r < 0) {
		log_error("source %s cannot be opened: %s",
			  d->cfg.fallback_source ? d->cfg.fallback_source : d->cfg.source, strerror(-r));
		free(d->source_uri);
		d->source_uri = strdup(d->cfg.source);
		d->source_state = SL_SOURCE_STOPPED;
		schedule_source_retry(d);
		return r;
	}
	d->src_retry_us = 0;
	if (d->src_retry)
		(void)sd_event_source_set_enabled(d->src_retry, SD_EVENT_OFF);
	/* A camera is opened by the capture thread, which reports how that went
	 * (streaming, backoff) through on_source_state: not "opened" yet. */
	log_info("source %s: capture started, %dx%d frames for the ladder", d->source_uri,
		 d->capture_spec.width, d->capture_spec.height);
	r = sl_pipeline_start(d->pipeline, d->source, &d->capture_spec);
	if (r < 0)
		log_error("cannot start the inference thread: %s", strerror(-r));
	return r;
}
