/* The daemon's side of the D-Bus API: sl_dbus_ops over the daemon state. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-bus-protocol.h>

#include "daemon/internal.h"
#include "daemon/log.h"

static void get_status(void *userdata, sl_dbus_status *ret)
{
	sl_daemon_status(userdata, ret);
}

static void list_variants(void *userdata, const sl_dbus_variant **ret, size_t *ret_n)
{
	sl_daemon *d = userdata;
	*ret = d->variant_views;
	*ret_n = d->ladder ? (size_t)d->ladder->n : 0;
}

void sl_daemon_result_view(sl_daemon *d, const sl_result *res, sl_dbus_result *ret)
{
	for (int i = 0; i < res->n_classes; i++)
		d->view_classes[i] = (sl_dbus_class){
		    .index = res->classes[i].index,
		    .label = res->classes[i].label,
		    .score = res->classes[i].score,
		};
	for (int i = 0; i < res->n_detections; i++) {
		const sl_result_det *x = &res->detections[i];
		d->view_dets[i] = (sl_dbus_detection){
		    .cls = x->cls, .score = x->score, .x0 = x->x0, .y0 = x->y0, .x1 = x->x1, .y1 = x->y1};
	}
	*ret = (sl_dbus_result){
	    .sequence = res->sequence,
	    .timestamp_us = res->timestamp_us,
	    .variant = res->variant,
	    .n_classes = (size_t)res->n_classes,
	    .classes = d->view_classes,
	    .n_detections = (size_t)res->n_detections,
	    .detections = d->view_dets,
	};
}

static int get_latest_result(void *userdata, sl_dbus_result *ret)
{
	sl_daemon *d = userdata;
	if (!d->have_latest)
		return -ENODATA;
	sl_daemon_result_view(d, &d->latest, ret);
	return 0;
}

static int set_variant(void *userdata, const char *name, const char *who, sl_dbus_call *call,
		       sl_dbus_error *err)
{
	sl_daemon *d = userdata;
	if (d->stopping) {
		err->name = SL_DBUS_ERROR_NOT_READY;
		snprintf(err->message, sizeof(err->message), "sightlined is stopping");
		return -ESHUTDOWN;
	}
	/* Checked before anything changes: a refused call leaves no trace. */
	if (!sl_daemon_can_wait(d, name)) {
		err->name = SD_BUS_ERROR_LIMITS_EXCEEDED;
		snprintf(err->message, sizeof(err->message),
			 "Already %d callers waiting for the switch to '%s'", d->n_waiters, name);
		return -EBUSY;
	}
	if (d->auto_mode) {
		log_notice("mode manual (SetVariant by %s)", who);
		/* Only a switch still to come can fail to load. */
		d->pinned_from_auto = strcmp(d->active_name, name) != 0 || d->want[0];
	}
	d->auto_mode = false;
	char reason[320];
	snprintf(reason, sizeof(reason), "manual: SetVariant by %s", who);
	return sl_daemon_request_variant(d, name, reason, call, false);
}

static int set_auto(void *userdata, double target_ms, const char *who, sl_dbus_error *err)
{
	(void)err;
	sl_daemon *d = userdata;
	log_notice("mode auto, target %.2f ms (SetAuto by %s)", target_ms, who);
	d->auto_mode = true;
	d->pinned_from_auto = false;
	d->target_ms = target_ms;
	if (d->auto_ready) {
		sl_autoctl_set_target(&d->autoctl, target_ms);
		int cur = sl_ladder_find(d->ladder, d->active_name);
		sl_autoctl_switched(&d->autoctl, cur, cur, sl_daemon_now_us());
	}
	return 0;
}

static int reload(void *userdata, const char *who, sl_dbus_call *call, sl_dbus_error *err)
{
	sl_daemon *d = userdata;
	int r = sl_daemon_reload(d, who, call, err->message, sizeof(err->message));
	if (r < 0) {
		err->name = SL_DBUS_ERROR_RELOAD_FAILED;
		log_error("reload by %s failed, keeping the running configuration: %s", who, err->message);
	}
	return r;
}

const sl_dbus_ops sl_daemon_dbus_ops = {
    .get_status = get_status,
    .list_variants = list_variants,
    .get_latest_result = get_latest_result,
    .set_variant = set_variant,
    .set_auto = set_auto,
    .reload = reload,
};
