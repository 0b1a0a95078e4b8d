/* SIGHUP and Reload(): read configuration and ladder again, apply what
 * changed, and keep serving throughout. Nothing is applied unless both parse. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/macros.h"
#include "daemon/internal.h"
#include "daemon/log.h"

static bool source_differs(const sl_daemon *d, const sl_daemon_config *c, const sl_ladder *l)
{
	const sl_preprocess_spec *x = &d->ladder->capture_spec, *y = &l->capture_spec;
	return sl_str_differs(c->source, d->cfg.source) ||
	       sl_str_differs(c->fallback_source, d->cfg.fallback_source) ||
	       c->capture_fps != d->cfg.capture_fps || c->loop != d->cfg.loop || !d->source ||
	       x->width != y->width || x->height != y->height || x->fit != y->fit ||
	       x->crop_fraction != y->crop_fraction || x->resize != y->resize || x->pad_value != y->pad_value;
}

/* Settings the running engine was built with: a change needs the active
 * variant loaded again, or Reload would say "Reloaded" and keep the old ones. */
static bool engine_differs(const sl_daemon_config *a, const sl_daemon_config *b)
{
	return sl_str_differs(a->backend, b->backend) || a->fast_numerics != b->fast_numerics ||
	       a->threads != b->threads || a->top_k != b->top_k || a->score_threshold != b->score_threshold;
}

int sl_daemon_reload(sl_daemon *d, const char *who, sl_dbus_call *call, char *err, size_t errlen)
{
	sl_daemon_config c;
	sl_daemon_config_defaults(&c);
	int r = sl_daemon_config_load(d->args.ov.config_path, &d->args.ov, &c, err, errlen);
	if (r < 0)
		return r;
	sl_ladder *l = NULL;
	r = sl_ladder_load(c.ladder, c.models_dir, &l, err, errlen);
	if (r < 0) {
		sl_daemon_config_clear(&c);
		return r;
	}
	if (c.variant && sl_ladder_find(l, c.variant) < 0) {
		snprintf(err, errlen, "variant '%s' is not in %s", c.variant, l->path);
		sl_ladder_free(l);
		sl_daemon_config_clear(&c);
		return -EINVAL;
	}

	log_notice("reload (%s): ladder %s, %d variants, source %s", who, l->path, l->n, c.source);
	bool reopen = source_differs(d, &c, l);
	const bool rebuild = engine_differs(&d->cfg, &c);
	if (c.threads != d->cfg.threads)
		sl_daemon_warn_threads(&c);
	/* Runtime choices (SetAuto, SetVariant) survive a reload unless the file
	 * itself changed what it says about them. */
	if (c.auto_mode != d->cfg.auto_mode || c.target_ms != d->cfg.target_ms) {
		d->auto_mode = c.auto_mode;
		d->pinned_from_auto = false;
		d->target_ms = c.target_ms;
	}
	int old = sl_ladder_find(d->ladder, d->active_name);
	char old_file[4096];
	snprintf(old_file, sizeof(old_file), "%s", old >= 0 ? d->ladder->v[old].file : "");

	sl_daemon_config_clear(&d->cfg);
	d->cfg = c;
	r = sl_daemon_set_ladder(d, l);
	if (r < 0) {
		sl_ladder_free(l);
		snprintf(err, errlen, "%s", strerror(-r));
		return r;
	}
	sl_dbus_service_set_result_rate(d->svc, d->cfg.result_rate_hz);
	sl_pipeline_set_delay(d->pipeline, d->cfg.inject_delay_ms, d->cfg.inject_delay_variant);
	sl_loader_flush_cache(d->loader, (size_t)d->cfg.model_cache_mb << 20);
	if (reopen)
		(void)sl_daemon_open_source(d); /* failures are logged; the state says degraded */

	if (d->want[0] && sl_ladder_find(d->ladder, d->want) < 0) {
		log_warning("reload: requested variant '%s' is gone from the ladder", d->want);
		sl_dbus_call *w[SL_ARRAY_SIZE(d->waiters)];
		int n = d->n_waiters;
		memcpy(w, d->waiters, sizeof(w[0]) * (size_t)n);
		d->n_waiters = 0;
		d->want[0] = 0;
		sl_dbus_error e = {.name = SL_DBUS_ERROR_NO_SUCH_VARIANT};
		snprintf(e.message, sizeof(e.message), "The variant requested is gone after a reload");
		for (int i = 0; i < n; i++)
			sl_dbus_call_complete(w[i], -ENOENT, &e);
	}

	int now = sl_ladder_find(d->ladder, d->active_name);
	char reason[320];
	const char *name = NULL;
	bool force = false;
	if (!d->active_name[0] && !d->want[0] && !d->loading) {
		sl_daemon_pick_startup_variant(d, NULL);
	} else if (now < 0 && d->active_name[0]) {
		name = d->cfg.variant ? d->cfg.variant : d->ladder->v[0].name;
		snprintf(reason, sizeof(reason), "reload: '%s' is no longer in the ladder", d->active_name);
	} else if (now >= 0 && strcmp(old_file, d->ladder->v[now].file) != 0) {
		name = d->active_name;
		force = true;
		snprintf(reason, sizeof(reason), "reload: '%s' now comes from %s", d->active_name,
			 d->ladder->v[now].file);
	} else if (now >= 0 && rebuild) {
		name = d->active_name;
		force = true;
		snprintf(reason, sizeof(reason),
			 "reload: Backend, Numerics, Threads, TopK or ScoreThreshold changed");
	}
	if (name)
		return sl_daemon_request_variant(d, name, reason, call, force);
	return 0;
}
