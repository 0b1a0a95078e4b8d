#include "daemon/daemon.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "capture/source.h"
#include "common/macros.h"
#include "daemon/engine.h"
#include "daemon/internal.h"
#include "daemon/ladder.h"
#include "daemon/latency.h"
#include "daemon/loader.h"
#include "daemon/log.h"
#include "daemon/pipeline.h"
#include "dbus/service.h"
#include "kernels/runtime.h"

#ifndef SL_VERSION
#define SL_VERSION "0.0.0"
#endif

uint64_t sl_daemon_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const char *state_name(sl_daemon *d)
{
	if (d->stopping)
		return "stopping";
	if (!d->ready)
		return "starting";
	bool source_ok =
	    d->source && (d->source_state == SL_SOURCE_STREAMING || d->source_state == SL_SOURCE_OPENING);
	if (!source_ok || d->last_result_failed)
		return "degraded";
	return "running";
}

/* --- results ---------------------------------------------------------------- */

static void on_result(sl_daemon *d, const sl_result *res)
{
	if (res->generation != d->active_generation)
		sl_daemon_drain_swaps(d); /* announce the swap before the first result it produced */
	if (d->last_sequence && res->sequence != d->last_sequence + 1)
		log_warning("result sequence jumped from %llu to %llu", (unsigned long long)d->last_sequence,
			    (unsigned long long)res->sequence);
	d->last_sequence = res->sequence;
	d->latest = *res;
	d->have_latest = true;
	d->inferred++;
	bool failed = res->error < 0;
	if (failed) {
		d->infer_errors++;
		if (!d->last_result_failed)
			log_error("inference with '%s' failed: %s", res->variant, strerror(-res->error));
	}
	d->last_result_failed = failed;
	if (failed)
		return;
	sl_window_push(&d->lat_window, res->latency_ms);
	d->fps_times[d->fps_head] = res->done_us;
	d->fps_head = (d->fps_head + 1) % SL_ARRAY_SIZE(d->fps_times);
	if (d->fps_n < (int)SL_ARRAY_SIZE(d->fps_times))
		d->fps_n++;
	if (d->svc) {
		sl_dbus_result r;
		sl_daemon_result_view(d, res, &r);
		(void)sl_dbus_emit_result(d->svc, &r, res->done_us);
	}
	sl_daemon_auto_step(d, res);
}

static int on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	(void)s, (void)revents;
	sl_daemon *d = userdata;
	uint64_t n;
	(void)!read(fd, &n, sizeof(n));

	sl_load_done ld;
	while (sl_loader_pop_done(d->loader, &ld) == 1)
		sl_daemon_on_load_done(d, &ld);
	sl_daemon_drain_swaps(d);
	sl_result res;
	while (sl_pipeline_pop_result(d->pipeline, &res) == 1)
		on_result(d, &res);
	sl_daemon_poll_source_state(d);
	if (d->svc)
		(void)sl_dbus_service_sync(d->svc);
	return 0;
}

/* --- lifecycle -------------------------------------------------------------- */

void sl_daemon_warn_threads(const sl_daemon_config *c)
{
	cpu_set_t set;
	if (c->threads < 2 || sched_getaffinity(0, sizeof(set), &set) < 0)
		return;
	const int cpus = CPU_COUNT(&set);
	/* The runtime pins its threads one per CPU (pin_threads); more threads
	 * than CPUs put two on one, and pthreadpool's threads spin-wait for one
	 * another within a frame: each operation then waits for a preemption. */
	if (c->threads > cpus)
		log_warning(
		    "Threads=%d on %d CPU%s: two inference threads share a CPU and wait for each other "
		    "in every operation; use Threads=%d at most",
		    c->threads, cpus, cpus == 1 ? "" : "s", cpus);
}

void sl_daemon_check_ready(sl_daemon *d)
{
	if (d->ready || !d->name_owned || !d->active_name[0])
		return;
	d->ready = true;
	/* Backend and numerics decide the bytes of every result: say them once,
	 * as the runtime applies them. */
	sl_backend b = SL_BACKEND_XNNPACK;
	if (d->cfg.backend)
		(void)sl_backend_from_string(d->cfg.backend, &b);
	const sl_numerics n =
	    sl_numerics_effective(b, d->cfg.fast_numerics ? SL_NUMERICS_FAST : SL_NUMERICS_TFLITE);
	log_notice("ready: %s on %s, variant %s (backend %s, numerics %s)", SL_DBUS_NAME,
		   d->source_uri ? d->source_uri : "?", d->active_name, sl_backend_name(b),
		   sl_numerics_name(n));
	sl_daemon_warn_threads(&d->cfg);
	(void)sd_notifyf(0, "READY=1\nSTATUS=Serving %s", d->active_name);
}

static int on_name_acquired(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	(void)ret_error;
	sl_daemon *d = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);
	if (e) {
		log_error("cannot own %s: %s", SL_DBUS_NAME, e->message ? e->message : e->name);
		d->exit_code = EXIT_FAILURE;
		return sd_event_exit(d->event, EXIT_FAILURE);
	}
	uint32_t code = 0;
	int r = sd_bus_message_read(m, "u", &code);
	/* 1: primary owner, 4: already ours. 2 (queued) or 3 (exists): another
	 * daemon serves; two would fight over the camera, so leave. */
	if (r < 0 || (code != 1 && code != 4)) {
		log_error("cannot own %s: %s", SL_DBUS_NAME,
			  r < 0 ? strerror(-r) : "another instance owns it");
		d->exit_code = EXIT_FAILURE;
		return sd_event_exit(d->event, EXIT_FAILURE);
	}
	d->name_owned = true;
	sl_daemon_check_ready(d);
	return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	(void)s;
	sl_daemon *d = userdata;
	if (si->ssi_signo == SIGHUP) {
		char err[512];
		(void)sd_notify(0, "RELOADING=1");
		int r = sl_daemon_reload(d, "SIGHUP", NULL, err, sizeof(err));
		if (r < 0)
			log_error("reload failed, keeping the running configuration: %s", err);
		(void)sd_notify(0, "READY=1");
		return 0;
	}
	log_notice("%s: stopping", strsignal((int)si->ssi_signo));
	d->stopping = true;
	(void)sd_notify(0, "STOPPING=1\nSTATUS=Stopping");
	if (d->svc)
		(void)sl_dbus_service_sync(d->svc);
	return sd_event_exit(d->event, 0);
}

static void cancel_waiters_stopping(sl_daemon *d)
{
	sl_dbus_error err = {.name = SL_DBUS_ERROR_CANCELLED};
	snprintf(err.message, sizeof(err.message), "sightlined is stopping");
	sl_daemon_complete_waiters(d, -ECANCELED, &err);
}

/* Runs when the loop exits, however it exits, ahead of the exit source that
 * sd_bus_attach_event() adds to flush and close the bus: callers still
 * waiting for a swap get their error while the bus can carry it. */
static int on_exit_answer_waiters(sd_event_source *s, void *userdata)
{
	(void)s;
	sl_daemon *d = userdata;
	d->stopping = true;
	cancel_waiters_stopping(d);
	return 0;
}

static double fps_now(sl_daemon *d)
{
	if (d->fps_n < 2)
		return 0;
	int newest = (d->fps_head + (int)SL_ARRAY_SIZE(d->fps_times) - 1) % (int)SL_ARRAY_SIZE(d->fps_times);
	int oldest =
	    (d->fps_head + (int)SL_ARRAY_SIZE(d->fps_times) - d->fps_n) % (int)SL_ARRAY_SIZE(d->fps_times);
	uint64_t now = sl_daemon_now_us();
	/* Nothing for two seconds: the rate is zero, not the last one seen. */
	if (now - d->fps_times[newest] > 2000000u)
		return 0;
	double span = (double)(d->fps_times[newest] - d->fps_times[oldest]) / 1e6;
	return span > 0 ? (d->fps_n - 1) / span : 0;
}

void sl_daemon_status(sl_daemon *d, sl_dbus_status *st)
{
	sl_source_stats ss = {0};
	if (d->source)
		sl_source_get_stats(d->source, &ss);
	*st = (sl_dbus_status){
	    .state = state_name(d),
	    .source = d->source_uri ? d->source_uri : d->cfg.source,
	    .source_state = d->source ? sl_source_state_name(d->source_state) : "stopped",
	    .active_variant = d->active_name,
	    .pending_variant = d->want[0] ? d->want : NULL,
	    .mode = d->auto_mode ? "auto" : "manual",
	    .latency_target_ms = d->target_ms,
	    .frames_captured = d->captured_base + ss.captured,
	    .frames_inferred = d->inferred,
	    .frames_dropped = d->dropped_base + ss.dropped_driver + ss.dropped_stale,
	    .frames_corrupt = d->corrupt_base + ss.corrupt,
	    .fps = fps_now(d),
	    .latency_p50_ms = sl_window_percentile(&d->lat_window, 0.50),
	    .latency_p95_ms = sl_window_percentile(&d->lat_window, 0.95),
	    .latency_p99_ms = sl_window_percentile(&d->lat_window, 0.99),
	    .latency_samples = (uint64_t)d->lat_window.n,
	};
	if (isnan(st->latency_p50_ms))
		st->latency_p50_ms = st->latency_p95_ms = st->latency_p99_ms = 0;
}

/* Time sources are one-shot: move and re-enable. */
static int rearm(sd_event_source *s, uint64_t usec)
{
	int r = sd_event_source_set_time(s, usec);
	return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	sl_daemon *d = userdata;
	sl_dbus_status st;
	sl_daemon_status(d, &st);
	if (d->ready)
		(void)sd_notifyf(0, "STATUS=%s: %s, %.1f fps, p95 %.1f ms, %s%s", st.state, d->active_name,
				 st.fps, st.latency_p95_ms, st.mode, d->auto_mode ? " mode" : " mode");
	if (d->svc)
		(void)sl_dbus_service_sync(d->svc);
	return rearm(s, usec + 1000000u);
}

/* WATCHDOG=1 only while the pipeline makes progress: the inference thread
 * turns, and frames arrive (inferred, or at least captured: a camera sending
 * only corrupt frames is not a hang a restart would cure) unless the source
 * has none to give (backoff, reopening, ended) or no variant is loaded yet. */
static int on_watchdog_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	sl_daemon *d = userdata;
	uint64_t hb = sl_pipeline_heartbeat(d->pipeline);
	uint64_t inferred = sl_pipeline_inferred(d->pipeline);
	sl_source_stats ss = {0};
	if (d->source)
		sl_source_get_stats(d->source, &ss);
	bool thread_alive = !d->source || hb != d->wd_heartbeat;
	bool frames_flow = inferred != d->wd_inferred || ss.captured != d->wd_captured ||
			   !d->active_name[0] || !d->source || d->source_state != SL_SOURCE_STREAMING;
	bool progress = thread_alive && frames_flow;
	if (progress)
		(void)sd_notify(0, "WATCHDOG=1");
	else if (!d->wd_warned)
		log_warning("no progress (%s); withholding the watchdog ping",
			    thread_alive ? "no frame captured or inferred" : "inference thread stuck");
	d->wd_warned = !progress;
	d->wd_heartbeat = hb;
	d->wd_inferred = inferred;
	d->wd_captured = ss.captured;
	return rearm(s, usec + d->watchdog_usec / 2);
}

static int open_bus(sl_daemon *d, const sl_daemon_args *a, sd_bus **ret)
{
	int r;
	switch (a->bus) {
	case SL_BUS_USER:
		return sd_bus_open_user_with_description(ret, "sightlined");
	case SL_BUS_ADDRESS: {
		sd_bus *b = NULL;
		r = sd_bus_new(&b);
		if (r >= 0)
			r = sd_bus_set_address(b, a->address);
		if (r >= 0)
			r = sd_bus_set_bus_client(b, 1);
		if (r >= 0)
			r = sd_bus_set_description(b, "sightlined");
		if (r >= 0)
			r = sd_bus_start(b);
		if (r < 0) {
			sd_bus_unref(b);
			return r;
		}
		*ret = b;
		return 0;
	}
	case SL_BUS_SYSTEM:
	default:
		(void)d;
		return sd_bus_open_system_with_description(ret, "sightlined");
	}
}

static int apply_auto_params(sl_daemon *d)
{
	sl_autoctl_params p = {
	    .window = d->cfg.window,
	    .min_samples = d->cfg.min_samples,
	    .margin = d->cfg.step_up_margin,
	    .hold_us = (uint64_t)d->cfg.step_up_hold_ms * 1000u,
	    .backoff_us = (uint64_t)d->cfg.backoff_ms * 1000u,
	    .backoff_max_us = (uint64_t)SL_MAX(d->cfg.backoff_max_ms, d->cfg.backoff_ms) * 1000u,
	};
	if (d->auto_ready)
		sl_autoctl_free(&d->autoctl);
	d->auto_ready = false;
	int r = sl_autoctl_init(&d->autoctl, &p, d->ladder->n);
	if (r < 0)
		return r;
	d->auto_ready = true;
	sl_autoctl_set_target(&d->autoctl, d->target_ms);
	return 0;
}

/* Ladder bookkeeping arrays follow the ladder. */
int sl_daemon_set_ladder(sl_daemon *d, sl_ladder *l)
{
	sl_ladder_plan_auto(l, d->cfg.max_accuracy_drop);
	for (int i = 0; i < l->n; i++) {
		if (l->v[i].auto_ok)
			continue;
		/* Said already for the ladder being replaced: a reload repeats nothing. */
		const int old = d->ladder ? sl_ladder_find(d->ladder, l->v[i].name) : -1;
		const sl_variant_desc *o = old >= 0 ? &d->ladder->v[old] : NULL;
		if (o && !o->auto_ok && !sl_str_differs(o->auto_skip, l->v[i].auto_skip) &&
		    !sl_str_differs(o->auto_beaten_by, l->v[i].auto_beaten_by))
			continue;
		log_info("ladder: auto mode leaves out %s: %s%s%s", l->v[i].name, l->v[i].auto_skip,
			 l->v[i].auto_beaten_by ? ": " : "",
			 l->v[i].auto_beaten_by ? l->v[i].auto_beaten_by : "");
	}
	bool *usable = calloc((size_t)l->n, sizeof(bool));
	double *macs = calloc((size_t)l->n, sizeof(double));
	sl_dbus_variant *views = calloc((size_t)l->n, sizeof(sl_dbus_variant));
	if (!usable || !macs || !views) {
		free(usable);
		free(macs);
		free(views);
		return -ENOMEM;
	}
	for (int i = 0; i < l->n; i++) {
		usable[i] = true;
		/* Keep what we learnt of variants that did not change. */
		int old = d->ladder ? sl_ladder_find(d->ladder, l->v[i].name) : -1;
		if (old >= 0 && strcmp(d->ladder->v[old].file, l->v[i].file) == 0)
			macs[i] = d->macs[old];
		views[i] = (sl_dbus_variant){
		    .name = l->v[i].name,
		    .precision = l->v[i].precision,
		    .sparsity_kind = l->v[i].sparsity_kind,
		    .sparsity = l->v[i].sparsity,
		    .top1 = l->v[i].top1,
		    .size_bytes = l->v[i].size_bytes,
		    .auto_ok = l->v[i].auto_ok,
		};
	}
	sl_ladder_free(d->ladder);
	free(d->usable);
	free(d->macs);
	free(d->variant_views);
	d->ladder = l;
	d->usable = usable;
	d->macs = macs;
	d->variant_views = views;
	return apply_auto_params(d);
}

int sl_daemon_new(const sl_daemon_args *args, sl_daemon **ret)
{
	char err[512];
	sl_daemon *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->args = *args;
	d->wake_fd = -1;
	pthread_mutex_init(&d->src_lock, NULL);
	int r = sl_window_init(&d->lat_window, 100);
	if (r < 0)
		goto fail;

	r = sl_daemon_config_load(args->ov.config_path, &args->ov, &d->cfg, err, sizeof(err));
	if (r < 0) {
		log_error("configuration: %s", err);
		goto fail;
	}
	sl_ladder *l = NULL;
	r = sl_ladder_load(d->cfg.ladder, d->cfg.models_dir, &l, err, sizeof(err));
	if (r < 0) {
		log_error("ladder: %s", err);
		goto fail;
	}
	d->auto_mode = d->cfg.auto_mode;
	d->target_ms = d->cfg.target_ms;
	r = sl_daemon_set_ladder(d, l);
	if (r < 0) {
		sl_ladder_free(l);
		goto fail;
	}
	if (d->cfg.variant && sl_ladder_find(d->ladder, d->cfg.variant) < 0) {
		log_error("variant '%s' is not in %s", d->cfg.variant, d->ladder->path);
		r = -EINVAL;
		goto fail;
	}
	*ret = d;
	return 0;
fail:
	sl_daemon_free(d);
	return r;
}

static const sl_dbus_ops *ops(void);

int sl_daemon_run(sl_daemon *d)
{
	int r;
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* Blocked before any thread starts, so only the loop's signalfd sees them. */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = sd_event_default(&d->event);
	if (r < 0)
		return log_error("sd-event: %s", strerror(-r)), EXIT_FAILURE;
	d->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->wake_fd < 0)
		return log_error("eventfd: %m"), EXIT_FAILURE;
	r = sd_event_add_io(d->event, &d->wake_src, d->wake_fd, EPOLLIN, on_wake, d);
	if (r >= 0)
		r = sd_event_add_signal(d->event, NULL, SIGTERM, on_signal, d);
	if (r >= 0)
		r = sd_event_add_signal(d->event, NULL, SIGINT, on_signal, d);
	if (r >= 0)
		r = sd_event_add_signal(d->event, NULL, SIGHUP, on_signal, d);
	if (r >= 0) {
		sd_event_source *ex = NULL;
		r = sd_event_add_exit(d->event, &ex, on_exit_answer_waiters, d);
		if (r >= 0)
			r = sd_event_source_set_priority(ex, SD_EVENT_PRIORITY_IMPORTANT);
		if (r >= 0)
			r = sd_event_source_set_floating(ex, 1);
		sd_event_source_unref(ex);
	}
	if (r >= 0)
		r = sd_event_add_time_relative(d->event, NULL, CLOCK_MONOTONIC, 1000000u, 100000u,
					       on_status_timer, d);
	if (r >= 0 && sd_watchdog_enabled(0, &d->watchdog_usec) > 0)
		r = sd_event_add_time_relative(d->event, NULL, CLOCK_MONOTONIC, d->watchdog_usec / 2, 10000u,
					       on_watchdog_timer, d);
	if (r < 0)
		return log_error("event loop setup: %s", strerror(-r)), EXIT_FAILURE;

	r = sl_pipeline_new(d->wake_fd, &d->pipeline);
	if (r >= 0)
		r = sl_loader_new(d->wake_fd, (size_t)d->cfg.model_cache_mb << 20, &d->loader);
	if (r < 0)
		return log_error("threads: %s", strerror(-r)), EXIT_FAILURE;
	sl_pipeline_set_delay(d->pipeline, d->cfg.inject_delay_ms, d->cfg.inject_delay_variant);

	r = open_bus(d, &d->args, &d->bus);
	if (r < 0)
		return log_error("cannot connect to the %s%s: %s",
				 d->args.bus == SL_BUS_USER	 ? "user bus"
				 : d->args.bus == SL_BUS_ADDRESS ? "bus at "
								 : "system bus",
				 d->args.bus == SL_BUS_ADDRESS ? d->args.address : "", strerror(-r)),
		       EXIT_FAILURE;
	r = sd_bus_attach_event(d->bus, d->event, SD_EVENT_PRIORITY_NORMAL);
	if (r >= 0) {
		sl_dbus_config dc = {
		    .version = SL_VERSION,
		    .control_group = d->cfg.control_group,
		    .result_rate_hz = d->cfg.result_rate_hz,
		};
		r = sl_dbus_service_new(d->bus, &dc, ops(), d, &d->svc);
	}
	if (r >= 0)
		r = sd_bus_request_name_async(d->bus, NULL, SL_DBUS_NAME, 0, on_name_acquired, d);
	if (r < 0)
		return log_error("D-Bus service: %s", strerror(-r)), EXIT_FAILURE;

	(void)sl_daemon_open_source(d);
	sl_daemon_pick_startup_variant(d, NULL);

	r = sd_event_loop(d->event);
	d->stopping = true;
	return r < 0 ? EXIT_FAILURE : d->exit_code;
}

sl_daemon *sl_daemon_free(sl_daemon *d)
{
	if (!d)
		return NULL;
	/* Normally answered when the loop exited (on_exit_answer_waiters). */
	cancel_waiters_stopping(d);
	if (d->pipeline)
		sl_pipeline_stop(d->pipeline);
	sl_source_free(d->source);
	if (d->pipeline) {
		sl_swap_event ev;
		while (sl_pipeline_pop_swap(d->pipeline, &ev) == 1)
			sl_engine_free(ev.from);
	}
	sl_pipeline_free(d->pipeline);
	sl_loader_free(d->loader);
	sl_dbus_service_free(d->svc);
	if (d->bus)
		sd_bus_flush_close_unref(d->bus);
	sd_event_source_unref(d->wake_src);
	sd_event_source_disable_unref(d->src_retry);
	sd_event_unref(d->event);
	if (d->wake_fd >= 0)
		close(d->wake_fd);
	if (d->auto_ready)
		sl_autoctl_free(&d->autoctl);
	sl_window_free(&d->lat_window);
	sl_ladder_free(d->ladder);
	free(d->usable);
	free(d->macs);
	free(d->variant_views);
	free(d->source_uri);
	sl_daemon_config_clear(&d->cfg);
	pthread_mutex_destroy(&d->src_lock);
	free(d);
	return NULL;
}

static const sl_dbus_ops *ops(void)
{
	return &sl_daemon_dbus_ops;
}
