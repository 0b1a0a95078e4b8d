#include "dbus/service.h"

#include <errno.h>
#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macros.h"
#include "dbus/internal.h"

/* Properties announced through PropertiesChanged, with the value last sent. */
enum { P_STATE, P_SOURCE, P_SOURCE_STATE, P_ACTIVE, P_MODE, P_TARGET, P__COUNT };
static const char *const signalled_names[P__COUNT] = {
    "State", "Source", "SourceState", "ActiveVariant", "Mode", "LatencyTargetMs",
};

struct sl_dbus_call {
	sl_dbus_service *svc;
	sd_bus_message *msg;
	sl_dbus_call *next;
};

struct sl_dbus_service {
	sd_bus *bus;
	sd_bus_slot *slot;
	const sl_dbus_ops *ops;
	void *userdata;
	char *version;
	char *control_group;
	double result_rate_hz;
	uint64_t last_result_us;
	bool any_result_sent;
	char *announced[P__COUNT];
	sl_dbus_call *calls; /* kept calls, completed or cancelled before free */
};

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

static void status_strings(sl_dbus_service *s, char buf[P__COUNT][64], const char *v[P__COUNT])
{
	sl_dbus_status st = {0};
	s->ops->get_status(s->userdata, &st);
	v[P_STATE] = str_or_empty(st.state);
	v[P_SOURCE] = str_or_empty(st.source);
	v[P_SOURCE_STATE] = str_or_empty(st.source_state);
	v[P_ACTIVE] = str_or_empty(st.active_variant);
	v[P_MODE] = str_or_empty(st.mode);
	/* Compared as text so that one formatting rule decides what "changed" means. */
	snprintf(buf[P_TARGET], sizeof(buf[P_TARGET]), "%.17g", st.latency_target_ms);
	v[P_TARGET] = buf[P_TARGET];
}

int sl_dbus_service_sync(sl_dbus_service *s)
{
	char buf[P__COUNT][64];
	const char *v[P__COUNT];
	const char *changed[P__COUNT + 1];
	int n = 0;

	status_strings(s, buf, v);
	for (int i = 0; i < P__COUNT; i++) {
		if (s->announced[i] && strcmp(s->announced[i], v[i]) == 0)
			continue;
		char *copy = strdup(v[i]);
		if (!copy)
			return -ENOMEM;
		free(s->announced[i]);
		s->announced[i] = copy;
		changed[n++] = signalled_names[i];
	}
	if (n == 0)
		return 0;
	changed[n] = NULL;
	return sd_bus_emit_properties_changed_strv(s->bus, SL_DBUS_PATH, SL_DBUS_IFACE, (char **)changed);
}

/* --- properties --- */

static int get_property(sd_bus *bus, const char *path, const char *interface, const char *property,
			sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	(void)bus, (void)path, (void)interface, (void)error;
	sl_dbus_service *s = userdata;
	sl_dbus_status st = {0};

	if (strcmp(property, "Version") == 0)
		return sd_bus_message_append(reply, "s", s->version);
	if (strcmp(property, "AutoVariants") == 0) {
		const sl_dbus_variant *v = NULL;
		size_t n = 0;
		s->ops->list_variants(s->userdata, &v, &n);
		int r = sd_bus_message_open_container(reply, 'a', "s");
		for (size_t i = 0; r >= 0 && i < n; i++)
			if (v[i].auto_ok)
				r = sd_bus_message_append(reply, "s", str_or_empty(v[i].name));
		return r < 0 ? r : sd_bus_message_close_container(reply);
	}
	s->ops->get_status(s->userdata, &st);

	static const struct {
		const char *name;
		size_t off;
	} strs[] = {
	    {"State", offsetof(sl_dbus_status, state)},
	    {"Source", offsetof(sl_dbus_status, source)},
	    {"SourceState", offsetof(sl_dbus_status, source_state)},
	    {"ActiveVariant", offsetof(sl_dbus_status, active_variant)},
	    {"Mode", offsetof(sl_dbus_status, mode)},
	};
	static const struct {
		const char *name;
		size_t off;
	} u64s[] = {
	    {"FramesCaptured", offsetof(sl_dbus_status, frames_captured)},
	    {"FramesInferred", offsetof(sl_dbus_status, frames_inferred)},
	    {"FramesDropped", offsetof(sl_dbus_status, frames_dropped)},
	    {"FramesCorrupt", offsetof(sl_dbus_status, frames_corrupt)},
	    {"LatencySamples", offsetof(sl_dbus_status, latency_samples)},
	};
	static const struct {
		const char *name;
		size_t off;
	} dbls[] = {
	    {"LatencyTargetMs", offsetof(sl_dbus_status, latency_target_ms)},
	    {"Fps", offsetof(sl_dbus_status, fps)},
	    {"LatencyP50Ms", offsetof(sl_dbus_status, latency_p50_ms)},
	    {"LatencyP95Ms", offsetof(sl_dbus_status, latency_p95_ms)},
	    {"LatencyP99Ms", offsetof(sl_dbus_status, latency_p99_ms)},
	};
	const char *base = (const char *)&st;

	for (size_t i = 0; i < SL_ARRAY_SIZE(strs); i++)
		if (strcmp(property, strs[i].name) == 0)
			return sd_bus_message_append(
			    reply, "s", str_or_empty(*(const char *const *)(base + strs[i].off)));
	for (size_t i = 0; i < SL_ARRAY_SIZE(u64s); i++)
		if (strcmp(property, u64s[i].name) == 0)
			return sd_bus_message_append(reply, "t", *(const uint64_t *)(base + u64s[i].off));
	for (size_t i = 0; i < SL_ARRAY_SIZE(dbls); i++)
		if (strcmp(property, dbls[i].name) == 0)
			return sd_bus_message_append(reply, "d", *(const double *)(base + dbls[i].off));
	return -ENOENT;
}

/* --- authorisation --- */

static bool gid_in(gid_t g, const gid_t *list, int n)
{
	for (int i = 0; i < n; i++)
		if (list[i] == g)
			return true;
	return false;
}

/* Group membership from the bus creds when the bus reports them, else from
 * the user database (the daemon may be sandboxed away from /proc). */
static bool uid_in_group(sd_bus_creds *creds, uid_t uid, gid_t group)
{
	const gid_t *gids = NULL;
	gid_t g;
	int n = sd_bus_creds_get_supplementary_gids(creds, &gids);
	if (n >= 0 && gid_in(group, gids, n))
		return true;
	if ((sd_bus_creds_get_egid(creds, &g) >= 0 || sd_bus_creds_get_gid(creds, &g) >= 0) && g == group)
		return true;
	if (n >= 0)
		return false;

	char buf[4096];
	struct passwd pw, *pwp = NULL;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp)
		return false;
	gid_t list[256];
	int ng = SL_ARRAY_SIZE(list);
	if (getgrouplist(pw.pw_name, pw.pw_gid, list, &ng) < 0)
		return false;
	return gid_in(group, list, ng);
}

static int authorise(sl_dbus_service *s, sd_bus_message *m, char *who, size_t who_len, sd_bus_error *error)
{
	_cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
	uid_t uid;
	const char *sender = str_or_empty(sd_bus_message_get_sender(m));
	int r = sd_bus_query_sender_creds(m,
					  SD_BUS_CREDS_EUID | SD_BUS_CREDS_UID | SD_BUS_CREDS_EGID |
					      SD_BUS_CREDS_GID | SD_BUS_CREDS_SUPPLEMENTARY_GIDS,
					  &creds);
	if (r < 0)
		return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Cannot identify caller %s: %s",
					 sender, strerror(-r));
	if (sd_bus_creds_get_euid(creds, &uid) < 0 && sd_bus_creds_get_uid(creds, &uid) < 0)
		return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Cannot identify caller %s",
					 sender);
	snprintf(who, who_len, "uid %u%s%s", (unsigned)uid, *sender ? " " : "", sender);

	if (uid == 0 || uid == geteuid())
		return 0;
	if (s->control_group) {
		char buf[4096];
		struct group gr, *grp = NULL;
		if (getgrnam_r(s->control_group, &gr, buf, sizeof(buf), &grp) == 0 && grp &&
		    uid_in_group(creds, uid, gr.gr_gid))
			return 0;
	}
	return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
				 "Caller %s is neither root nor in group '%s'", who,
				 str_or_empty(s->control_group));
}

/* --- replies --- */

static int reply_error(sd_bus_message *m, int r, const sl_dbus_error *err)
{
	const char *msg = err && err->message[0] ? err->message : strerror(r < 0 ? -r : EIO);
	if (err && err->name)
		return sd_bus_reply_method_errorf(m, err->name, "%s", msg);
	return sd_bus_reply_method_errnof(m, r < 0 ? -r : EIO, "%s", msg);
}

static int reply_done(sl_dbus_service *s, sd_bus_message *m)
{
	/* A failed PropertiesChanged must not turn a done action into an error. */
	(void)sl_dbus_service_sync(s);
	return sd_bus_reply_method_return(m, "");
}

static int keep_call(sl_dbus_service *s, sd_bus_message *m, sl_dbus_call **ret)
{
	sl_dbus_call *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->svc = s;
	c->msg = sd_bus_message_ref(m);
	*ret = c;
	return 0;
}

static void call_unlink_free(sl_dbus_call *c)
{
	for (sl_dbus_call **p = &c->svc->calls; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	sd_bus_message_unref(c->msg);
	free(c);
}

void sl_dbus_call_complete(sl_dbus_call *c, int r, const sl_dbus_error *err)
{
	if (!c)
		return;
	if (r < 0)
		(void)reply_error(c->msg, r, err);
	else
		(void)reply_done(c->svc, c->msg);
	call_unlink_free(c);
}

/* Runs an action that may keep the call: 1 means the reply is owed later. */
static int finish_action(sl_dbus_service *s, sd_bus_message *m, sl_dbus_call *c, int r,
			 const sl_dbus_error *err)
{
	/* What the act changed (Mode, at once) is signalled before any reply,
	 * including an error or the reply a kept call gets later. */
	(void)sl_dbus_service_sync(s);
	if (r == 1) {
		c->next = s->calls;
		s->calls = c;
		return 1;
	}
	if (c) {
		sd_bus_message_unref(c->msg);
		free(c);
	}
	if (r < 0)
		return reply_error(m, r, err);
	return sd_bus_reply_method_return(m, ""); /* synced above */
}

/* --- methods --- */

static int method_list_variants(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	(void)error;
	sl_dbus_service *s = userdata;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	const sl_dbus_variant *v = NULL;
	size_t n = 0;

	s->ops->list_variants(s->userdata, &v, &n);
	int r = sd_bus_message_new_method_return(m, &reply);
	if (r < 0)
		return r;
	r = sd_bus_message_open_container(reply, 'a', SL_DBUS_VARIANT_SIG);
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = sd_bus_message_append(reply, SL_DBUS_VARIANT_SIG, str_or_empty(v[i].name),
					  str_or_empty(v[i].precision), str_or_empty(v[i].sparsity_kind),
					  v[i].sparsity, v[i].top1, v[i].size_bytes);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r < 0)
		return r;
	return sd_bus_send(NULL, reply, NULL);
}

int sl_dbus_append_result(sd_bus_message *m, const sl_dbus_result *res)
{
	int r = sd_bus_message_append(m, "tts", res->sequence, res->timestamp_us, str_or_empty(res->variant));
	if (r < 0)
		return r;
	r = sd_bus_message_open_container(m, 'a', "(isd)");
	for (size_t i = 0; r >= 0 && i < res->n_classes; i++)
		r = sd_bus_message_append(m, "(isd)", res->classes[i].index,
					  str_or_empty(res->classes[i].label), res->classes[i].score);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "(iddddd)");
	for (size_t i = 0; r >= 0 && i < res->n_detections; i++) {
		const sl_dbus_detection *d = &res->detections[i];
		r = sd_bus_message_append(m, "(iddddd)", d->cls, d->score, d->x0, d->y0, d->x1, d->y1);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	return r;
}

static int method_get_latest_result(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	sl_dbus_service *s = userdata;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	sl_dbus_result res = {0};

	int r = s->ops->get_latest_result(s->userdata, &res);
	if (r == -ENODATA)
		return sd_bus_error_set(error, SL_DBUS_ERROR_NO_RESULT, "No result has been produced yet");
	if (r < 0)
		return r;
	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sl_dbus_append_result(reply, &res);
	if (r < 0)
		return r;
	return sd_bus_send(NULL, reply, NULL);
}

static bool streq0(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static int method_set_variant(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	sl_dbus_service *s = userdata;
	sl_dbus_error err = {0};
	const char *name;
	char who[128];

	int r = sd_bus_message_read(m, "s", &name);
	if (r < 0)
		return r;
	if (sl_dbus_validate_variant_name(name, &err) < 0)
		return sd_bus_error_set(error, err.name, err.message);

	const sl_dbus_variant *v = NULL;
	size_t n = 0;
	bool known = false;
	s->ops->list_variants(s->userdata, &v, &n);
	for (size_t i = 0; i < n && !known; i++)
		known = streq0(v[i].name, name);
	if (!known)
		return sd_bus_error_setf(
		    error, SL_DBUS_ERROR_NO_SUCH_VARIANT,
		    "No variant named '%s' in the ladder (%zu variants; see ListVariants)", name, n);

	sl_dbus_status st = {0};
	s->ops->get_status(s->userdata, &st);
	if (streq0(st.mode, "manual") && streq0(st.active_variant, name) && !st.pending_variant)
		return sd_bus_reply_method_return(m, "");

	r = authorise(s, m, who, sizeof(who), error);
	if (r < 0)
		return r;

	sl_dbus_call *c = NULL;
	r = keep_call(s, m, &c);
	if (r < 0)
		return r;
	r = s->ops->set_variant(s->userdata, name, who, c, &err);
	return finish_action(s, m, c, r, &err);
}

static int method_set_auto(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	sl_dbus_service *s = userdata;
	sl_dbus_error err = {0};
	double target;
	char who[128];

	int r = sd_bus_message_read(m, "d", &target);
	if (r < 0)
		return r;
	if (sl_dbus_validate_target(target, &err) < 0)
		return sd_bus_error_set(error, err.name, err.message);

	sl_dbus_status st = {0};
	s->ops->get_status(s->userdata, &st);
	if (streq0(st.mode, "auto") && st.latency_target_ms == target)
		return sd_bus_reply_method_return(m, "");

	r = authorise(s, m, who, sizeof(who), error);
	if (r < 0)
		return r;
	r = s->ops->set_auto(s->userdata, target, who, &err);
	return finish_action(s, m, NULL, r, &err);
}

static int method_reload(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	sl_dbus_service *s = userdata;
	sl_dbus_error err = {0};
	char who[128];

	int r = authorise(s, m, who, sizeof(who), error);
	if (r < 0)
		return r;
	sl_dbus_call *c = NULL;
	r = keep_call(s, m, &c);
	if (r < 0)
		return r;
	r = s->ops->reload(s->userdata, who, c, &err);
	return finish_action(s, m, c, r, &err);
}

#define EMITS SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE

static const sd_bus_vtable vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Version", "s", get_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("State", "s", get_property, 0, EMITS),
    SD_BUS_PROPERTY("Source", "s", get_property, 0, EMITS),
    SD_BUS_PROPERTY("SourceState", "s", get_property, 0, EMITS),
    SD_BUS_PROPERTY("ActiveVariant", "s", get_property, 0, EMITS),
    SD_BUS_PROPERTY("Mode", "s", get_property, 0, EMITS),
    SD_BUS_PROPERTY("AutoVariants", "as", get_property, 0, 0),
    SD_BUS_PROPERTY("LatencyTargetMs", "d", get_property, 0, EMITS),
    SD_BUS_PROPERTY("FramesCaptured", "t", get_property, 0, 0),
    SD_BUS_PROPERTY("FramesInferred", "t", get_property, 0, 0),
    SD_BUS_PROPERTY("FramesDropped", "t", get_property, 0, 0),
    SD_BUS_PROPERTY("FramesCorrupt", "t", get_property, 0, 0),
    SD_BUS_PROPERTY("Fps", "d", get_property, 0, 0),
    SD_BUS_PROPERTY("LatencyP50Ms", "d", get_property, 0, 0),
    SD_BUS_PROPERTY("LatencyP95Ms", "d", get_property, 0, 0),
    SD_BUS_PROPERTY("LatencyP99Ms", "d", get_property, 0, 0),
    SD_BUS_PROPERTY("LatencySamples", "t", get_property, 0, 0),
    /* Every method is UNPRIVILEGED to sd-bus (which would otherwise demand
     * CAP_SYS_ADMIN on the system bus): readers are open to all, and the
     * actions run their own authorise step after validation. */
    SD_BUS_METHOD_WITH_NAMES("ListVariants", "", , "a(sssddt)", SD_BUS_PARAM(variants), method_list_variants,
			     SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("SetVariant", "s", SD_BUS_PARAM(name), "", , method_set_variant,
			     SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("SetAuto", "d", SD_BUS_PARAM(target_ms), "", , method_set_auto,
			     SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("GetLatestResult", "", , SL_DBUS_RESULT_SIG,
			     SD_BUS_PARAM(sequence) SD_BUS_PARAM(timestamp_us) SD_BUS_PARAM(variant)
				 SD_BUS_PARAM(classes) SD_BUS_PARAM(detections),
			     method_get_latest_result, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("Reload", "", "", method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL_WITH_NAMES("ResultReady", SL_DBUS_RESULT_SIG,
			     SD_BUS_PARAM(sequence) SD_BUS_PARAM(timestamp_us) SD_BUS_PARAM(variant)
				 SD_BUS_PARAM(classes) SD_BUS_PARAM(detections),
			     0),
    SD_BUS_SIGNAL_WITH_NAMES("VariantChanged", "sss",
			     SD_BUS_PARAM(old) SD_BUS_PARAM(new) SD_BUS_PARAM(reason), 0),
    SD_BUS_VTABLE_END,
};

int sl_dbus_emit_variant_changed(sl_dbus_service *s, const char *old, const char *new_, const char *reason)
{
	return sd_bus_emit_signal(s->bus, SL_DBUS_PATH, SL_DBUS_IFACE, "VariantChanged", "sss",
				  str_or_empty(old), str_or_empty(new_), str_or_empty(reason));
}

int sl_dbus_emit_result(sl_dbus_service *s, const sl_dbus_result *res, uint64_t now_us)
{
	if (s->result_rate_hz > 0 && s->any_result_sent &&
	    (double)(now_us - s->last_result_us) < 1e6 / s->result_rate_hz)
		return 0;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	int r = sd_bus_message_new_signal(s->bus, &m, SL_DBUS_PATH, SL_DBUS_IFACE, "ResultReady");
	if (r >= 0)
		r = sl_dbus_append_result(m, res);
	if (r >= 0)
		r = sd_bus_send(s->bus, m, NULL);
	if (r < 0)
		return r;
	s->last_result_us = now_us;
	s->any_result_sent = true;
	return 1;
}

void sl_dbus_service_set_result_rate(sl_dbus_service *s, double hz)
{
	s->result_rate_hz = hz > 0 && isfinite(hz) ? hz : 0;
}

int sl_dbus_service_new(sd_bus *bus, const sl_dbus_config *cfg, const sl_dbus_ops *ops, void *userdata,
			sl_dbus_service **ret)
{
	sl_dbus_service *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->bus = sd_bus_ref(bus);
	s->ops = ops;
	s->userdata = userdata;
	s->version = strdup(cfg && cfg->version ? cfg->version : "");
	if (cfg && cfg->control_group && *cfg->control_group)
		s->control_group = strdup(cfg->control_group);
	sl_dbus_service_set_result_rate(s, cfg ? cfg->result_rate_hz : 0);
	int r = s->version ? 0 : -ENOMEM;
	if (r >= 0 && cfg && cfg->control_group && *cfg->control_group && !s->control_group)
		r = -ENOMEM;
	if (r >= 0)
		r = sd_bus_add_object_vtable(bus, &s->slot, SL_DBUS_PATH, SL_DBUS_IFACE, vtable, s);
	if (r < 0) {
		sl_dbus_service_free(s);
		return r;
	}
	/* Nobody has seen any value yet: remember the initial ones silently. */
	char buf[P__COUNT][64];
	const char *v[P__COUNT];
	status_strings(s, buf, v);
	for (int i = 0; i < P__COUNT; i++)
		s->announced[i] = strdup(v[i]);
	*ret = s;
	return 0;
}

sl_dbus_service *sl_dbus_service_free(sl_dbus_service *s)
{
	if (!s)
		return NULL;
	sl_dbus_error err = {.name = SL_DBUS_ERROR_CANCELLED};
	snprintf(err.message, sizeof(err.message), "The service is shutting down");
	while (s->calls)
		sl_dbus_call_complete(s->calls, -ECANCELED, &err);
	sd_bus_slot_unref(s->slot);
	sd_bus_unref(s->bus);
	for (int i = 0; i < P__COUNT; i++)
		free(s->announced[i]);
	free(s->version);
	free(s->control_group);
	free(s);
	return NULL;
}
