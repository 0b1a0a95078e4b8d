/* The D-Bus API over a peer-to-peer connection with a fake daemon: every
 * method, property, validation and error path, and the introspection file. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbus/client.h"
#include "fake.h"

static fake_env env;

static void setup(void)
{
	cr_assert_eq(fake_env_start(&env, 0), 0);
}

static void teardown(void)
{
	fake_env_stop(&env);
}

TestSuite(dbus_service, .init = setup, .fini = teardown, .timeout = 30);

/* Calls method with one argument of type sig (or none); returns r, fills err. */
static int call(const char *method, const char *sig, const void *arg, sd_bus_error *err,
		sd_bus_message **reply)
{
	sd_bus_message *m = NULL;
	int r = sd_bus_message_new_method_call(env.client, &m, NULL, SL_DBUS_PATH, SL_DBUS_IFACE, method);
	cr_assert_geq(r, 0);
	if (sig && sig[0] == 's')
		r = sd_bus_message_append(m, "s", (const char *)arg);
	else if (sig && sig[0] == 'd')
		r = sd_bus_message_append(m, "d", *(const double *)arg);
	cr_assert_geq(r, 0);
	r = sd_bus_call(env.client, m, 5000000, err, reply);
	sd_bus_message_unref(m);
	return r;
}

static void expect_error(const char *method, const char *sig, const void *arg, const char *name,
			 const char *needle)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	int r = call(method, sig, arg, &err, NULL);
	cr_assert_lt(r, 0, "%s should fail", method);
	cr_assert_str_eq(err.name, name, "%s: got %s (%s)", method, err.name, err.message);
	if (needle)
		cr_assert(strstr(err.message, needle), "'%s' not in '%s'", needle, err.message);
	sd_bus_error_free(&err);
}

static void get_prop(const char *name, char type, void *ret)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int r = sd_bus_call_method(env.client, NULL, SL_DBUS_PATH, "org.freedesktop.DBus.Properties", "Get",
				   &err, &reply, "ss", SL_DBUS_IFACE, name);
	cr_assert_geq(r, 0, "Get %s: %s", name, err.message);
	char sig[2] = {type, 0};
	r = sd_bus_message_enter_container(reply, 'v', sig);
	cr_assert_geq(r, 0, "%s has type %c", name, type);
	if (type == 's') {
		const char *s;
		cr_assert_geq(sd_bus_message_read_basic(reply, 's', &s), 0);
		*(char **)ret = strdup(s);
	} else {
		cr_assert_geq(sd_bus_message_read_basic(reply, type, ret), 0);
	}
	sd_bus_message_unref(reply);
}

Test(dbus_service, properties_have_their_types_and_values)
{
	static const char *const strs[][2] = {{"Version", "9.9.9"},	{"State", "running"},
					      {"Source", "testsrc"},	{"SourceState", "streaming"},
					      {"ActiveVariant", "big"}, {"Mode", "manual"}};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		char *s;
		get_prop(strs[i][0], 's', &s);
		cr_expect_str_eq(s, strs[i][1], "%s", strs[i][0]);
		free(s);
	}
	static const struct {
		const char *n;
		uint64_t v;
	} u64s[] = {{"FramesCaptured", 10},
		    {"FramesInferred", 9},
		    {"FramesDropped", 1},
		    {"FramesCorrupt", 0},
		    {"LatencySamples", 7}};
	for (size_t i = 0; i < 5; i++) {
		uint64_t t;
		get_prop(u64s[i].n, 't', &t);
		cr_expect_eq(t, u64s[i].v, "%s", u64s[i].n);
	}
	static const struct {
		const char *n;
		double v;
	} dbls[] = {{"LatencyTargetMs", 50},
		    {"Fps", 29.5},
		    {"LatencyP50Ms", 1.5},
		    {"LatencyP95Ms", 2.5},
		    {"LatencyP99Ms", 3.5}};
	for (size_t i = 0; i < 5; i++) {
		double x;
		get_prop(dbls[i].n, 'd', &x);
		cr_expect_eq(x, dbls[i].v, "%s", dbls[i].n);
	}
}

Test(dbus_service, auto_variants_lists_what_auto_mode_may_choose)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	char **v = NULL;
	cr_assert_geq(sd_bus_get_property_strv(env.client, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE,
					       "AutoVariants", &err, &v),
		      0, "%s", err.message);
	cr_assert_not_null(v);
	cr_expect_str_eq(v[0], "big");
	cr_expect_null(v[1]);
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

Test(dbus_service, properties_are_read_only)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	int r = sd_bus_call_method(env.client, NULL, SL_DBUS_PATH, "org.freedesktop.DBus.Properties", "Set",
				   &err, NULL, "ssv", SL_DBUS_IFACE, "Mode", "s", "auto");
	cr_assert_lt(r, 0);
	sd_bus_error_free(&err);
}

Test(dbus_service, list_variants)
{
	sd_bus_message *reply = NULL;
	cr_assert_geq(call("ListVariants", NULL, NULL, NULL, &reply), 0);
	cr_assert_geq(sd_bus_message_enter_container(reply, 'a', "(sssddt)"), 0);
	const char *name, *prec, *kind;
	double sp, top1;
	uint64_t size;
	cr_assert_gt(sd_bus_message_read(reply, "(sssddt)", &name, &prec, &kind, &sp, &top1, &size), 0);
	cr_expect_str_eq(name, "big");
	cr_expect_str_eq(prec, "int8");
	cr_expect_eq(top1, 0.71);
	cr_expect_eq(size, 4000000u);
	cr_assert_gt(sd_bus_message_read(reply, "(sssddt)", &name, &prec, &kind, &sp, &top1, &size), 0);
	cr_expect_str_eq(kind, "unstructured");
	cr_expect(isnan(top1), "unknown top-1 travels as NaN");
	cr_expect_eq(sd_bus_message_read(reply, "(sssddt)", &name, &prec, &kind, &sp, &top1, &size), 0);
	sd_bus_message_unref(reply);
}

Test(dbus_service, set_variant_validates_before_anything)
{
	char long_name[200];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	expect_error("SetVariant", "s", "", SD_BUS_ERROR_INVALID_ARGS, "empty");
	expect_error("SetVariant", "s", long_name, SD_BUS_ERROR_INVALID_ARGS, "aaaaaaaaaaaaaaaa...");
	expect_error("SetVariant", "s", "bad name", SD_BUS_ERROR_INVALID_ARGS,
		     "'bad' is followed by byte 0x20");
	expect_error("SetVariant", "s", "x\n", SD_BUS_ERROR_INVALID_ARGS, "0x0a");
	expect_error("SetVariant", "s", "nope", SL_DBUS_ERROR_NO_SUCH_VARIANT, "'nope'");
	cr_expect_eq(env.fd.set_variant_calls, 0, "invalid calls never reach the daemon");
}

Test(dbus_service, set_variant_noop_returns_early)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	cr_assert_geq(call("SetVariant", "s", "big", &err, NULL), 0);
	cr_expect_eq(env.fd.set_variant_calls, 0, "the running variant in manual mode is a no-op");
}

Test(dbus_service, set_variant_acts_and_announces)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	cr_assert_geq(call("SetVariant", "s", "small", &err, NULL), 0, "%s", err.message);
	cr_expect_eq(env.fd.set_variant_calls, 1);
	cr_expect_str_eq(env.fd.last_name, "small");
	/* PropertiesChanged went out before the reply: it is already queued here. */
	bool seen = false;
	sd_bus_message *m = NULL;
	while (sd_bus_process(env.client, &m) > 0) {
		if (m &&
		    sd_bus_message_is_signal(m, "org.freedesktop.DBus.Properties", "PropertiesChanged")) {
			const char *iface;
			cr_assert_geq(sd_bus_message_read(m, "s", &iface), 0);
			cr_expect_str_eq(iface, SL_DBUS_IFACE);
			seen = true;
		}
		sd_bus_message_unref(m);
		m = NULL;
	}
	cr_expect(seen, "PropertiesChanged for ActiveVariant");
}

Test(dbus_service, set_variant_completes_later)
{
	env.fd.act_result = 1;
	env.fd.complete_with = 0;
	sd_bus_error err = SD_BUS_ERROR_NULL;
	cr_assert_geq(call("SetVariant", "s", "small", &err, NULL), 0, "%s", err.message);
	cr_expect_str_eq(env.fd.active, "small");
}

Test(dbus_service, set_variant_load_failure)
{
	env.fd.act_result = 1;
	env.fd.complete_with = -EIO;
	env.fd.fail_name = SL_DBUS_ERROR_LOAD_FAILED;
	expect_error("SetVariant", "s", "small", SL_DBUS_ERROR_LOAD_FAILED, "completed later");
	cr_expect_str_eq(env.fd.active, "big", "the running variant stays");
}

Test(dbus_service, set_variant_immediate_failure)
{
	env.fd.act_result = -EIO;
	env.fd.fail_name = SL_DBUS_ERROR_LOAD_FAILED;
	expect_error("SetVariant", "s", "small", SL_DBUS_ERROR_LOAD_FAILED, "fake failure");
}

Test(dbus_service, set_auto_bounds)
{
	const double bad[] = {0, -1, NAN, INFINITY, -INFINITY, 0.05, 1e9};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error("SetAuto", "d", &bad[i], SD_BUS_ERROR_INVALID_ARGS, "Latency target");
	cr_expect_eq(env.fd.set_auto_calls, 0);
	double ok = 33.5;
	cr_assert_geq(call("SetAuto", "d", &ok, NULL, NULL), 0);
	cr_expect_eq(env.fd.set_auto_calls, 1);
	cr_expect_eq(env.fd.last_target, 33.5);
	/* Same target in auto mode: nothing to do. */
	cr_assert_geq(call("SetAuto", "d", &ok, NULL, NULL), 0);
	cr_expect_eq(env.fd.set_auto_calls, 1);
}

Test(dbus_service, set_auto_names_the_value)
{
	double v = -3;
	expect_error("SetAuto", "d", &v, SD_BUS_ERROR_INVALID_ARGS, "-3 ms");
	v = NAN;
	expect_error("SetAuto", "d", &v, SD_BUS_ERROR_INVALID_ARGS, "NaN");
}

Test(dbus_service, wrong_signature_is_refused)
{
	double v = 1;
	expect_error("SetVariant", "d", &v, SD_BUS_ERROR_INVALID_ARGS, NULL);
	expect_error("SetAuto", "s", "10", SD_BUS_ERROR_INVALID_ARGS, NULL);
}

Test(dbus_service, latest_result)
{
	expect_error("GetLatestResult", NULL, NULL, SL_DBUS_ERROR_NO_RESULT, NULL);
	env.fd.have_result = true;
	sd_bus_message *reply = NULL;
	cr_assert_geq(call("GetLatestResult", NULL, NULL, NULL, &reply), 0);
	cr_assert_str_eq(sd_bus_message_get_signature(reply, true), SL_DBUS_RESULT_SIG);
	sl_dbus_class cls[1];
	sl_dbus_detection det[4];
	sl_dbus_result res;
	cr_assert_eq(sl_dbus_read_result(reply, &res, cls, 1, det, 4), 0);
	cr_expect_eq(res.sequence, 42u);
	cr_expect_eq(res.timestamp_us, 123456789u);
	cr_expect_str_eq(res.variant, "big");
	cr_expect_eq(res.n_classes, 1u, "entries past the caller's room are skipped");
	cr_expect_str_eq(cls[0].label, "tabby cat");
	cr_expect_eq(res.n_detections, 1u);
	cr_expect_eq(det[0].y1, 0.4);
	sd_bus_message_unref(reply);
}

Test(dbus_service, reload_paths)
{
	cr_assert_geq(call("Reload", NULL, NULL, NULL, NULL), 0);
	cr_expect_eq(env.fd.reload_calls, 1);
	env.fd.act_result = -EINVAL;
	env.fd.fail_name = SL_DBUS_ERROR_RELOAD_FAILED;
	expect_error("Reload", NULL, NULL, SL_DBUS_ERROR_RELOAD_FAILED, "fake failure");
}

Test(dbus_service, unknown_method)
{
	expect_error("Frobnicate", NULL, NULL, SD_BUS_ERROR_UNKNOWN_METHOD, NULL);
}

static int results_seen;
static int count_results(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	(void)m, (void)userdata, (void)e;
	results_seen++;
	return 0;
}

static void emit_three(fake_env *e, void *arg)
{
	(void)arg;
	sl_dbus_result r = {.sequence = 1, .variant = "big"};
	sl_dbus_service_set_result_rate(e->svc, 10);
	cr_expect_eq(sl_dbus_emit_result(e->svc, &r, 1000000), 1);
	cr_expect_eq(sl_dbus_emit_result(e->svc, &r, 1050000), 0, "50 ms later is too soon at 10 Hz");
	cr_expect_eq(sl_dbus_emit_result(e->svc, &r, 1100000), 1);
	sl_dbus_service_set_result_rate(e->svc, 0);
	cr_expect_eq(sl_dbus_emit_result(e->svc, &r, 1100001), 1, "rate 0 sends every result");
}

Test(dbus_service, result_ready_rate_limit)
{
	sd_bus_slot *slot = NULL;
	cr_assert_geq(sd_bus_match_signal(env.client, &slot, NULL, SL_DBUS_PATH, SL_DBUS_IFACE, "ResultReady",
					  count_results, NULL),
		      0);
	fake_env_on_server(&env, emit_three, NULL);
	/* A round trip guarantees the signals sent before it have arrived. */
	cr_assert_geq(call("ListVariants", NULL, NULL, NULL, NULL), 0);
	while (sd_bus_process(env.client, NULL) > 0)
		;
	cr_expect_eq(results_seen, 3);
	sd_bus_slot_unref(slot);
}

/* Lines that define the API (methods, args, properties, signals) in an
 * introspection document, in order, without indentation. */
static char *api_lines(const char *xml)
{
	const char *start = strstr(xml, "<interface name=\"" SL_DBUS_IFACE "\">");
	cr_assert(start, "no %s interface", SL_DBUS_IFACE);
	const char *end = strstr(start, "</interface>");
	cr_assert(end);
	size_t cap = (size_t)(end - start) + 1, n = 0;
	char *out = calloc(cap, 1);
	for (const char *p = start; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		while (p < nl && (*p == ' ' || *p == '\t'))
			p++;
		if (!strncmp(p, "<method", 7) || !strncmp(p, "<arg", 4) || !strncmp(p, "<property", 9) ||
		    !strncmp(p, "<signal", 7) || !strncmp(p, "<annotation", 11)) {
			memcpy(out + n, p, (size_t)(nl - p));
			n += (size_t)(nl - p);
			out[n++] = '\n';
		}
		p = nl + 1;
	}
	out[n] = 0;
	return out;
}

Test(dbus_service, introspection_file_matches_the_vtable)
{
	sd_bus_message *reply = NULL;
	sd_bus_error err = SD_BUS_ERROR_NULL;
	const char *xml;
	cr_assert_geq(sd_bus_call_method(env.client, NULL, SL_DBUS_PATH,
					 "org.freedesktop.DBus.Introspectable", "Introspect", &err, &reply,
					 ""),
		      0);
	cr_assert_geq(sd_bus_message_read(reply, "s", &xml), 0);
	char *live = api_lines(xml);

	char path[4096];
	snprintf(path, sizeof(path), "%s/dbus/org.sightline.Sightline1.xml", getenv("SL_SOURCE_ROOT"));
	FILE *f = fopen(path, "r");
	cr_assert(f, "%s", path);
	static char file[65536];
	size_t len = fread(file, 1, sizeof(file) - 1, f);
	fclose(f);
	file[len] = 0;
	char *doc = api_lines(file);
	cr_expect_str_eq(doc, live, "dbus/org.sightline.Sightline1.xml differs from the vtable:\n%s", live);
	free(live);
	free(doc);
	sd_bus_message_unref(reply);
}

Test(dbus_validate, names_and_targets)
{
	sl_dbus_error e = {0};
	cr_expect_eq(sl_dbus_validate_variant_name("mobilenet_v2-1.0+int8", &e), 0);
	cr_expect_eq(sl_dbus_validate_variant_name(NULL, &e), -EINVAL);
	char n64[65];
	memset(n64, 'x', 64);
	n64[64] = 0;
	cr_expect_eq(sl_dbus_validate_variant_name(n64, &e), 0, "64 bytes is the limit, inclusive");
	char n65[66];
	memset(n65, 'x', 65);
	n65[65] = 0;
	cr_expect_eq(sl_dbus_validate_variant_name(n65, &e), -EINVAL);
	cr_expect_eq(sl_dbus_validate_variant_name("caf\xc3\xa9", &e), -EINVAL);
	cr_expect_eq(sl_dbus_validate_target(SL_DBUS_TARGET_MIN_MS, &e), 0);
	cr_expect_eq(sl_dbus_validate_target(SL_DBUS_TARGET_MAX_MS, &e), 0);
	cr_expect_eq(sl_dbus_validate_target(SL_DBUS_TARGET_MAX_MS * 1.001, &e), -EINVAL);
	cr_expect_str_eq(e.name, SD_BUS_ERROR_INVALID_ARGS);
}
