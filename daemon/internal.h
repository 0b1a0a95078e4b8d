/* The daemon's state, shared by its files (daemon.c: loop, results, status
 * and lifecycle; swap.c: variant loads, swaps and auto mode; source.c: the
 * frame source; bus.c: the D-Bus ops; reload.c: SIGHUP and Reload). Main loop
 * thread only, except the src_* fields under src_lock. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "capture/source.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/engine.h"
#include "daemon/ladder.h"
#include "daemon/latency.h"
#include "daemon/loader.h"
#include "daemon/pipeline.h"
#include "dbus/service.h"

#define SL_NAME_BUF (SL_DBUS_NAME_MAX + 1)

struct sl_daemon {
	sl_daemon_args args;
	sl_daemon_config cfg;

	sd_event *event;
	sd_event_source *wake_src;
	int wake_fd;
	sd_bus *bus;
	sl_dbus_service *svc;
	sl_pipeline *pipeline;
	sl_loader *loader;

	sl_ladder *ladder;
	bool *usable;			/* per ladder entry: false after a failed load */
	double *macs;			/* per ladder entry, known once loaded */
	sl_dbus_variant *variant_views; /* ListVariants */

	sl_source *source;
	char *source_uri;
	sl_preprocess_spec capture_spec;
	sl_source_state source_state;
	uint64_t captured_base, dropped_base, corrupt_base; /* from sources replaced by reloads */
	pthread_mutex_t src_lock;
	sl_source_state src_state_new;
	char src_reason[320];
	bool src_changed;
	uint64_t corrupt_seen; /* frames not decoded, for on_source_corrupt's rate limit; src_lock */
	/* A source that cannot be opened (a file: path that vanished, a device
	 * that is not there yet) is retried with backoff instead of staying down. */
	sd_event_source *src_retry;
	uint64_t src_retry_us;

	bool stopping, ready, name_owned, last_result_failed;
	int exit_code;

	/* Variant switching: want -> loading -> offered (switching) -> swap. */
	char active_name[SL_NAME_BUF];
	uint64_t active_generation, next_generation, swaps;
	char want[SL_NAME_BUF]; /* "" when nothing is requested */
	char want_reason[320];
	bool loading;
	char loading_name[SL_NAME_BUF];
	uint64_t load_id;
	bool switching;
	char switch_reason[320];
	sl_dbus_call *waiters[32];
	int n_waiters;

	bool auto_mode, auto_ready;
	/* SetVariant left auto mode for a variant not running yet: if that
	 * variant fails to load, auto mode comes back (a failed request changes
	 * nothing). Cleared once a switch lands or the mode is set again. */
	bool pinned_from_auto;
	double target_ms;
	sl_autoctl autoctl;

	sl_window lat_window;
	uint64_t fps_times[64];
	int fps_head, fps_n;
	sl_result latest;
	bool have_latest;
	uint64_t inferred, infer_errors, last_sequence;
	sl_dbus_class view_classes[SL_RESULT_MAX_CLASSES];
	sl_dbus_detection view_dets[SL_RESULT_MAX_DETECTIONS];

	uint64_t watchdog_usec, wd_heartbeat, wd_inferred, wd_captured;
	bool wd_warned;
};

extern const sl_dbus_ops sl_daemon_dbus_ops;

uint64_t sl_daemon_now_us(void);
/* Ask for variant `name` for `reason`; call (may be NULL) is answered once the
 * switch happened or failed. 0: nothing to do (already running, unless force),
 * 1: call kept, negative: error. */
/* Whether a SetVariant call for name could wait for its switch now (the
 * number of callers waiting is bounded). */
bool sl_daemon_can_wait(const sl_daemon *d, const char *name);
int sl_daemon_request_variant(sl_daemon *d, const char *name, const char *reason, sl_dbus_call *call,
			      bool force);
void sl_daemon_pick_startup_variant(sl_daemon *d, const char *why);
/* Answer every call waiting for a switch with r (and err when r < 0). */
void sl_daemon_complete_waiters(sl_daemon *d, int r, const sl_dbus_error *err);
/* A load the loader thread finished: offer it to the pipeline, or retry. */
void sl_daemon_on_load_done(sl_daemon *d, sl_load_done *ld);
/* Announce the swaps the pipeline has made. */
void sl_daemon_drain_swaps(sl_daemon *d);
/* Auto mode: feed a result's latency to the controller, switch if it says so. */
void sl_daemon_auto_step(sl_daemon *d, const sl_result *res);
void sl_daemon_check_ready(sl_daemon *d);
/* Two optional strings differ (NULL equals only NULL). */
static inline bool sl_str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}
/* Logs a warning when Threads leaves no CPU to spare (startup, reload). */
void sl_daemon_warn_threads(const sl_daemon_config *c);
void sl_daemon_poll_source_state(sl_daemon *d);
int sl_daemon_open_source(sl_daemon *d);
int sl_daemon_set_ladder(sl_daemon *d, sl_ladder *l);
void sl_daemon_status(sl_daemon *d, sl_dbus_status *st);
/* A D-Bus view of res; pointers into res and d stay valid until res changes. */
void sl_daemon_result_view(sl_daemon *d, const sl_result *res, sl_dbus_result *ret);
/* Re-read configuration and ladder. call (may be NULL) is answered when done. */
int sl_daemon_reload(sl_daemon *d, const char *who, sl_dbus_call *call, char *err, size_t errlen);
