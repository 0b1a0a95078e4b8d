/* Variant switching: loads on the loader thread, hot-swaps by the pipeline,
 * the D-Bus calls waiting for them, the startup choice and the auto-mode step. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>

#include "common/macros.h"
#include "daemon/engine.h"
#include "daemon/internal.h"
#include "daemon/ladder.h"
#include "daemon/latency.h"
#include "daemon/loader.h"
#include "daemon/log.h"
#include "daemon/pipeline.h"
#include "dbus/service.h"

void sl_daemon_complete_waiters(sl_daemon *d, int r, const sl_dbus_error *err)
{
	while (d->n_waiters > 0)
		sl_dbus_call_complete(d->waiters[--d->n_waiters], r, err);
}

static int add_waiter(sl_daemon *d, sl_dbus_call *call)
{
	if (!call)
		return 0;
	if (d->n_waiters == (int)SL_ARRAY_SIZE(d->waiters))
		return -EBUSY;
	d->waiters[d->n_waiters++] = call;
	return 1;
}

bool sl_daemon_can_wait(const sl_daemon *d, const char *name)
{
	/* A request for another variant answers (cancels) the waiting ones first. */
	return strcmp(d->want, name) != 0 || d->n_waiters < (int)SL_ARRAY_SIZE(d->waiters);
}

/* Whether variant i loads, and with it what AutoVariants (the D-Bus view)
 * says auto mode may pick: kept in one place so the two cannot drift. */
static void set_usable(sl_daemon *d, int i, bool usable)
{
	d->usable[i] = usable;
	d->variant_views[i].auto_ok = usable && d->ladder->v[i].auto_ok;
}

static void start_load(sl_daemon *d)
{
	int i = sl_ladder_find(d->ladder, d->want);
	if (i < 0)
		return; /* the ladder changed under the request: handled by the caller */
	sl_engine_options o = {
	    .backend = d->cfg.backend,
	    .fast_numerics = d->cfg.fast_numerics,
	    .threads = d->cfg.threads,
	    .top_k = d->cfg.top_k,
	    .score_threshold = (float)d->cfg.score_threshold,
	};
	uint64_t gen = ++d->next_generation;
	int r = sl_loader_load(d->loader, &d->ladder->v[i], &o, gen, &d->load_id);
	if (r < 0) {
		sl_dbus_error err = {.name = SL_DBUS_ERROR_LOAD_FAILED};
		snprintf(err.message, sizeof(err.message), "Cannot queue the load of '%s': %s", d->want,
			 strerror(-r));
		log_error("%s", err.message);
		d->want[0] = 0;
		sl_daemon_complete_waiters(d, r, &err);
		return;
	}
	d->loading = true;
	snprintf(d->loading_name, sizeof(d->loading_name), "%s", d->want);
	log_info("loading variant '%s' from %s", d->want, d->ladder->v[i].file);
}

int sl_daemon_request_variant(sl_daemon *d, const char *name, const char *reason, sl_dbus_call *call,
			      bool force)
{
	if (!force && !d->want[0] && !d->loading && strcmp(d->active_name, name) == 0)
		return 0;
	if (strcmp(d->want, name) != 0 && d->n_waiters > 0) {
		sl_dbus_error err = {.name = SL_DBUS_ERROR_CANCELLED};
		snprintf(err.message, sizeof(err.message), "Superseded by a request for '%s' (%s)", name,
			 reason);
		sl_daemon_complete_waiters(d, -ECANCELED, &err);
	}
	snprintf(d->want, sizeof(d->want), "%s", name);
	snprintf(d->want_reason, sizeof(d->want_reason), "%s", reason);
	int r = add_waiter(d, call);
	if (r < 0)
		return r;
	if (!d->loading)
		start_load(d);
	/* 1 when the call was kept, even if a failed start already answered it. */
	return r;
}

static int variant_index(sl_daemon *d, const char *name)
{
	return sl_ladder_find(d->ladder, name);
}

void sl_daemon_on_load_done(sl_daemon *d, sl_load_done *ld)
{
	if (!d->loading || ld->id != d->load_id) {
		sl_loader_free_engine(d->loader, ld->engine);
		return;
	}
	d->loading = false;
	int i = variant_index(d, d->loading_name);
	if (ld->error < 0) {
		sl_dbus_error err = {.name = SL_DBUS_ERROR_LOAD_FAILED};
		snprintf(err.message, sizeof(err.message), "Variant '%s' failed to load: %s", d->loading_name,
			 ld->message[0] ? ld->message : strerror(-ld->error));
		log_error("%s; %s", err.message,
			  d->active_name[0] ? "the running variant keeps serving" : "no variant is running");
		if (i >= 0)
			set_usable(d, i, false); /* auto mode skips it until it loads */
		if (strcmp(d->want, d->loading_name) == 0) {
			d->want[0] = 0;
			if (d->pinned_from_auto) {
				d->pinned_from_auto = false;
				d->auto_mode = true;
				log_notice("mode auto again: the variant SetVariant asked for did not load");
				if (d->svc)
					(void)sl_dbus_service_sync(d->svc);
			}
			sl_daemon_complete_waiters(d, ld->error, &err);
		}
		if (!d->active_name[0] && !d->want[0])
			sl_daemon_pick_startup_variant(d, err.message);
		else if (d->want[0])
			start_load(d);
		return;
	}
	if (i >= 0)
		d->macs[i] = sl_engine_macs(ld->engine);
	if (sl_engine_note(ld->engine))
		log_warning("variant %s: %s", d->loading_name, sl_engine_note(ld->engine));
	if (strcmp(d->want, d->loading_name) != 0) {
		/* Wanted something else meanwhile: this one is not needed. */
		sl_loader_free_engine(d->loader, ld->engine);
		if (d->want[0] && strcmp(d->want, d->active_name) != 0)
			start_load(d);
		else {
			d->want[0] = 0;
			sl_daemon_complete_waiters(d, 0, NULL);
		}
		return;
	}
	d->switching = true;
	snprintf(d->switch_reason, sizeof(d->switch_reason), "%s", d->want_reason);
	sl_loader_free_engine(d->loader, sl_pipeline_offer(d->pipeline, ld->engine));
}

static void on_swap(sl_daemon *d, sl_swap_event *ev)
{
	char old[SL_DBUS_NAME_MAX + 1];
	snprintf(old, sizeof(old), "%s", d->active_name);
	sl_loader_free_engine(d->loader, ev->from);
	snprintf(d->active_name, sizeof(d->active_name), "%s", sl_engine_name(ev->to));
	d->active_generation = sl_engine_generation(ev->to);
	d->swaps++;
	int i = variant_index(d, d->active_name);
	if (i >= 0)
		set_usable(d, i, true);
	if (d->auto_ready)
		sl_autoctl_switched(&d->autoctl, variant_index(d, old), i, sl_daemon_now_us());
	sl_window_reset(&d->lat_window);

	const char *reason = d->switching ? d->switch_reason : "";
	log_notice("variant %s -> %s from result %llu: %s", old[0] ? old : "(none)", d->active_name,
		   (unsigned long long)ev->first_sequence, reason);
	bool done = strcmp(d->want, d->active_name) == 0;
	if (done) {
		d->want[0] = 0;
		d->switching = false;
		d->pinned_from_auto = false;
	}
	if (!d->ready)
		sl_daemon_check_ready(d);
	if (d->svc) {
		(void)sl_dbus_service_sync(d->svc);
		(void)sl_dbus_emit_variant_changed(d->svc, old, d->active_name, reason);
	}
	if (done)
		sl_daemon_complete_waiters(d, 0, NULL);
}

void sl_daemon_drain_swaps(sl_daemon *d)
{
	sl_swap_event ev;
	while (sl_pipeline_pop_swap(d->pipeline, &ev) == 1)
		on_swap(d, &ev);
}

void sl_daemon_auto_step(sl_daemon *d, const sl_result *res)
{
	if (!d->auto_mode || !d->auto_ready || d->loading || d->want[0] ||
	    res->generation != d->active_generation)
		return;
	int cur = variant_index(d, d->active_name);
	if (cur < 0)
		return;
	/* Only the ratio between the running variant and the next one up matters:
	 * reference latencies when the manifest has both, else MACs, else file size. */
	double cost[64] = {0};
	bool ok[64];
	for (int i = 0; i < d->ladder->n && i < 64; i++)
		ok[i] = d->usable[i] && d->ladder->v[i].auto_ok;
	int up = cur - 1;
	while (up >= 0 && !ok[up])
		up--;
	if (up >= 0) {
		const sl_variant_desc *a = &d->ladder->v[up], *b = &d->ladder->v[cur];
		double ratio = 1;
		if (a->latency_ms > 0 && b->latency_ms > 0)
			ratio = a->latency_ms / b->latency_ms;
		else if (d->macs[up] > 0 && d->macs[cur] > 0)
			ratio = d->macs[up] / d->macs[cur];
		else if (a->size_bytes && b->size_bytes)
			ratio = (double)a->size_bytes / (double)b->size_bytes;
		cost[up] = ratio;
		cost[cur] = 1;
	}
	char reason[256];
	int next = sl_autoctl_sample(&d->autoctl, cur, res->latency_ms, res->done_us, cost, ok, reason,
				     sizeof(reason));
	if (next < 0) {
		if (reason[0])
			log_warning("auto: %s: %s", d->active_name, reason);
		return;
	}
	char why[320];
	snprintf(why, sizeof(why), "auto: %s", reason);
	(void)sl_daemon_request_variant(d, d->ladder->v[next].name, why, NULL, false);
}

/* No variant runs yet: take the configured one, else walk down the ladder
 * past those that failed. */
void sl_daemon_pick_startup_variant(sl_daemon *d, const char *why)
{
	int pick = -1;
	if (d->cfg.variant && !why)
		pick = variant_index(d, d->cfg.variant);
	for (int i = 0; pick < 0 && i < d->ladder->n; i++)
		if (d->usable[i])
			pick = i;
	if (pick < 0) {
		log_error("no variant of %s could be loaded; exiting", d->ladder->path);
		d->exit_code = EXIT_FAILURE;
		(void)sd_event_exit(d->event, EXIT_FAILURE);
		return;
	}
	char reason[320];
	if (why)
		snprintf(reason, sizeof(reason), "startup: previous choice failed (%s)", why);
	else
		snprintf(reason, sizeof(reason), "startup");
	(void)sl_daemon_request_variant(d, d->ladder->v[pick].name, reason, NULL, false);
}
