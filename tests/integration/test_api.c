/* sightlined on a private bus with the real engine and the ../shared models:
 * every property and method, every error path, the bus policy, signals,
 * SIGHUP and SIGTERM. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dbus/client.h"
#include "dbus/service.h"
#include "harness.h"

static itest T;

static void fini(void)
{
	itest_cleanup(&T);
}

TestSuite(api, .fini = fini, .timeout = 240);

static void expect_error(int r, sd_bus_error *err, const char *name, const char *needle)
{
	cr_assert_lt(r, 0, "call should fail with %s", name);
	cr_expect_str_eq(err->name, name, "got %s: %s", err->name, err->message);
	if (needle)
		cr_expect(err->message && strstr(err->message, needle), "'%s' not in '%s'", needle,
			  err->message);
	sd_bus_error_free(err);
}

typedef struct {
	int variant_changed, props_changed, results;
	char last_new[80], last_reason[320];
	uint64_t first_seq, last_seq;
	bool gap;
} sigs;

static int on_variant(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	(void)e;
	sigs *s = userdata;
	const char *o, *n, *r;
	cr_assert_geq(sd_bus_message_read(m, "sss", &o, &n, &r), 0);
	s->variant_changed++;
	snprintf(s->last_new, sizeof(s->last_new), "%s", n);
	snprintf(s->last_reason, sizeof(s->last_reason), "%s", r);
	return 0;
}

static int on_props(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	(void)m, (void)e;
	((sigs *)userdata)->props_changed++;
	return 0;
}

static int on_result(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	(void)e;
	sigs *s = userdata;
	sl_dbus_class c[16];
	sl_dbus_detection d[16];
	sl_dbus_result res;
	cr_assert_eq(sl_dbus_read_result(m, &res, c, 16, d, 16), 0);
	if (s->results && res.sequence != s->last_seq + 1)
		s->gap = true;
	if (!s->results)
		s->first_seq = res.sequence;
	s->last_seq = res.sequence;
	s->results++;
	return 0;
}

static void subscribe(sigs *s)
{
	cr_assert_geq(sd_bus_match_signal(T.bus, NULL, NULL, SL_DBUS_PATH, SL_DBUS_IFACE, "VariantChanged",
					  on_variant, s),
		      0);
	cr_assert_geq(sd_bus_match_signal(T.bus, NULL, NULL, SL_DBUS_PATH, "org.freedesktop.DBus.Properties",
					  "PropertiesChanged", on_props, s),
		      0);
	cr_assert_geq(
	    sd_bus_match_signal(T.bus, NULL, NULL, SL_DBUS_PATH, SL_DBUS_IFACE, "ResultReady", on_result, s),
	    0);
}

Test(api, properties)
{
	itest_start(&T, NULL);
	itest_pump(&T, 1500);
	char *s = itest_get_string(&T, "Version");
	cr_expect(s[0], "Version is set");
	free(s);
	cr_expect(itest_wait_string(&T, "State", "running", 10000));
	s = itest_get_string(&T, "Source");
	cr_expect_str_eq(s, "testsrc");
	free(s);
	cr_expect(itest_wait_string(&T, "SourceState", "streaming", 5000));
	s = itest_get_string(&T, "ActiveVariant");
	cr_expect_str_eq(s, "mobilenet_v2_int8", "the first (most accurate) variant starts");
	free(s);
	s = itest_get_string(&T, "Mode");
	cr_expect_str_eq(s, "manual");
	free(s);
	cr_expect_eq(itest_get_double(&T, "LatencyTargetMs"), 100.0, "the default target");
	cr_expect_gt(itest_get_u64(&T, "FramesCaptured"), 0u);
	cr_expect_gt(itest_get_u64(&T, "FramesInferred"), 0u);
	cr_expect_geq(itest_get_u64(&T, "FramesCaptured"), itest_get_u64(&T, "FramesInferred"));
	(void)itest_get_u64(&T, "FramesDropped");
	cr_expect_eq(itest_get_u64(&T, "FramesCorrupt"), 0u);
	cr_expect_gt(itest_get_double(&T, "Fps"), 0.0);
	double p50 = itest_get_double(&T, "LatencyP50Ms"), p95 = itest_get_double(&T, "LatencyP95Ms"),
	       p99 = itest_get_double(&T, "LatencyP99Ms");
	cr_expect(p50 > 0 && p50 <= p95 && p95 <= p99, "p50 %g <= p95 %g <= p99 %g", p50, p95, p99);

	/* Properties are read-only. */
	sd_bus_error err = SD_BUS_ERROR_NULL;
	int r =
	    sd_bus_set_property(T.bus, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE, "Mode", &err, "s", "auto");
	cr_expect_lt(r, 0);
	sd_bus_error_free(&err);
}

Test(api, list_variants_and_result)
{
	itest_start(&T, NULL);
	sd_bus_message *reply = NULL;
	sd_bus_error err = SD_BUS_ERROR_NULL;
	cr_assert_geq(itest_call(&T, "ListVariants", &err, &reply, ""), 0);
	static const char *const names[] = {"mobilenet_v2_int8", "mobilenet_v2_uint8",
					    "mobilenet_v1_0.25_128"};
	cr_assert_geq(sd_bus_message_enter_container(reply, 'a', "(sssddt)"), 0);
	for (int i = 0; i < 3; i++) {
		const char *name, *prec, *kind;
		double sp, top1;
		uint64_t size;
		cr_assert_gt(sd_bus_message_read(reply, "(sssddt)", &name, &prec, &kind, &sp, &top1, &size),
			     0);
		cr_expect_str_eq(name, names[i]);
		cr_expect_gt(size, 100000u, "%s has its file size", name);
		cr_expect_str_eq(kind, "dense");
		cr_expect(i == 0 ? isnan(top1) : top1 > 0.3 && top1 < 0.8, "%s top-1 %g", name, top1);
	}
	sd_bus_message_unref(reply);

	/* GetLatestResult: top-5 with labels, best first, from the active variant. */
	itest_pump(&T, 500);
	reply = NULL;
	cr_assert_geq(itest_call(&T, "GetLatestResult", &err, &reply, ""), 0, "%s", err.message);
	cr_expect_str_eq(sd_bus_message_get_signature(reply, true), SL_DBUS_RESULT_SIG);
	sl_dbus_class c[16];
	sl_dbus_detection d[16];
	sl_dbus_result res;
	cr_assert_eq(sl_dbus_read_result(reply, &res, c, 16, d, 16), 0);
	cr_expect_gt(res.sequence, 0u);
	cr_expect_gt(res.timestamp_us, 0u);
	cr_expect_str_eq(res.variant, "mobilenet_v2_int8");
	cr_assert_eq(res.n_classes, 5u, "TopK=5 by default");
	for (size_t i = 0; i < res.n_classes; i++) {
		cr_expect(c[i].index >= 0 && c[i].index < 1001);
		cr_expect(c[i].label[0], "class %d has a label", c[i].index);
		cr_expect(c[i].score >= 0 && c[i].score <= 1.0001);
		if (i)
			cr_expect_leq(c[i].score, c[i - 1].score);
	}
	cr_expect_eq(res.n_detections, 0u);
	sd_bus_message_unref(reply);
}

Test(api, set_variant_and_auto)
{
	itest_start(&T, NULL);
	sigs s = {0};
	subscribe(&s);
	sd_bus_error err = SD_BUS_ERROR_NULL;

	cr_assert_geq(itest_call(&T, "SetVariant", &err, NULL, "s", "mobilenet_v1_0.25_128"), 0, "%s",
		      err.message);
	/* The reply comes once the switch happened. */
	char *v = itest_get_string(&T, "ActiveVariant");
	cr_expect_str_eq(v, "mobilenet_v1_0.25_128");
	free(v);
	itest_pump(&T, 300);
	cr_expect_eq(s.variant_changed, 1);
	cr_expect_str_eq(s.last_new, "mobilenet_v1_0.25_128");
	cr_expect(strstr(s.last_reason, "manual: SetVariant by uid"), "reason: %s", s.last_reason);
	cr_expect_geq(s.props_changed, 1, "PropertiesChanged for ActiveVariant");

	/* Results come from the new variant, with no gap across the switch. */
	uint64_t end = itest_now_us() + 5000000;
	while (itest_now_us() < end && s.results < 10)
		itest_pump(&T, 100);
	cr_expect_geq(s.results, 10);
	cr_expect(!s.gap, "no result sequence number lost");

	/* No-op: same variant in manual mode. */
	int before = s.variant_changed;
	cr_assert_geq(itest_call(&T, "SetVariant", &err, NULL, "s", "mobilenet_v1_0.25_128"), 0);
	itest_pump(&T, 200);
	cr_expect_eq(s.variant_changed, before);

	/* Auto mode. */
	cr_assert_geq(itest_call(&T, "SetAuto", &err, NULL, "d", 5000.0), 0, "%s", err.message);
	v = itest_get_string(&T, "Mode");
	cr_expect_str_eq(v, "auto");
	free(v);
	cr_expect_eq(itest_get_double(&T, "LatencyTargetMs"), 5000.0);
	/* SetVariant pins again (manual). */
	cr_assert_geq(itest_call(&T, "SetVariant", &err, NULL, "s", "mobilenet_v2_uint8"), 0, "%s",
		      err.message);
	v = itest_get_string(&T, "Mode");
	cr_expect_str_eq(v, "manual");
	free(v);
}

Test(api, invalid_arguments)
{
	itest_start(&T, NULL);
	sd_bus_error err = SD_BUS_ERROR_NULL;
	char long_name[300];
	memset(long_name, 'v', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;

	expect_error(itest_call(&T, "SetVariant", &err, NULL, "s", ""), &err, SD_BUS_ERROR_INVALID_ARGS,
		     "empty");
	expect_error(itest_call(&T, "SetVariant", &err, NULL, "s", long_name), &err,
		     SD_BUS_ERROR_INVALID_ARGS, "limit is 64");
	expect_error(itest_call(&T, "SetVariant", &err, NULL, "s", "../etc/passwd"), &err,
		     SD_BUS_ERROR_INVALID_ARGS, "0x2f");
	expect_error(itest_call(&T, "SetVariant", &err, NULL, "s", "nope"), &err,
		     SL_DBUS_ERROR_NO_SUCH_VARIANT, "'nope'");
	const double bad[] = {0, -1, NAN, INFINITY, 0.01, 1e7};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(itest_call(&T, "SetAuto", &err, NULL, "d", bad[i]), &err,
			     SD_BUS_ERROR_INVALID_ARGS, "Latency target");
	expect_error(itest_call(&T, "SetAuto", &err, NULL, "s", "10"), &err, SD_BUS_ERROR_INVALID_ARGS, NULL);
	expect_error(itest_call(&T, "SetVariant", &err, NULL, "u", 3u), &err, SD_BUS_ERROR_INVALID_ARGS,
		     NULL);
	expect_error(itest_call(&T, "Frobnicate", &err, NULL, ""), &err, SD_BUS_ERROR_UNKNOWN_METHOD, NULL);

	char *m = itest_get_string(&T, "Mode");
	cr_expect_str_eq(m, "manual", "nothing changed");
	free(m);
	char *s = itest_get_string(&T, "State");
	cr_expect_str_eq(s, "running");
	free(s);
}

static bool strv_has(char **v, const char *s)
{
	for (; v && *v; v++)
		if (strcmp(*v, s) == 0)
			return true;
	return false;
}

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static const char broken_ladder_fmt[] =
    "{ \"labels\": \"imagenet_labels.txt\", \"variants\": ["
    "{\"name\": \"small\", \"file\": \"mobilenet_v1_0.25_128_quant.tflite\", \"precision\": \"uint8\"},"
    "{\"name\": \"missing\", \"file\": \"does-not-exist.tflite\"},"
    "{\"name\": \"garbage\", \"file\": \"%s\"} ] }";

Test(api, load_failure_keeps_serving)
{
	char garbage[] = "/tmp/sl-garbage-XXXXXX.tflite";
	int fd = mkstemps(garbage, 7);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "this is not a flatbuffer, not at all", 36), 36);
	close(fd);
	char ladder[1024];
	snprintf(ladder, sizeof(ladder), broken_ladder_fmt, garbage);
	itest_opts o = {.ladder_json = ladder};
	itest_start(&T, &o);
	sigs s = {0};
	subscribe(&s);
	itest_pump(&T, 500);
	sd_bus_error err = SD_BUS_ERROR_NULL;
	char **autov = NULL;
	cr_assert_geq(sd_bus_get_property_strv(T.bus, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE,
					       "AutoVariants", &err, &autov),
		      0);
	cr_expect(strv_has(autov, "missing") && strv_has(autov, "garbage"),
		  "auto may pick both before they fail");
	strv_free(autov);

	expect_error(itest_call(&T, "SetVariant", &err, NULL, "s", "missing"), &err,
		     SL_DBUS_ERROR_LOAD_FAILED, "does-not-exist.tflite");
	expect_error(itest_call(&T, "SetVariant", &err, NULL, "s", "garbage"), &err,
		     SL_DBUS_ERROR_LOAD_FAILED, "garbage");
	unlink(garbage);
	char *v = itest_get_string(&T, "ActiveVariant");
	cr_expect_str_eq(v, "small", "the running variant keeps serving");
	free(v);
	uint64_t n0 = itest_get_u64(&T, "FramesInferred");
	itest_pump(&T, 1000);
	cr_expect_gt(itest_get_u64(&T, "FramesInferred"), n0, "and keeps producing results");
	cr_expect(!s.gap);
	cr_expect_eq(s.variant_changed, 0);
	char *st = itest_get_string(&T, "State");
	cr_expect_str_eq(st, "running");
	free(st);
	cr_assert_geq(sd_bus_get_property_strv(T.bus, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE,
					       "AutoVariants", &err, &autov),
		      0);
	cr_expect(strv_has(autov, "small") && !strv_has(autov, "missing") && !strv_has(autov, "garbage"),
		  "AutoVariants leaves out what failed to load");
	strv_free(autov);

	/* From auto mode, a SetVariant that fails to load changes nothing: auto mode comes back. */
	cr_assert_geq(itest_call(&T, "SetAuto", &err, NULL, "d", 5000.0), 0, "%s", err.message);
	expect_error(itest_call(&T, "SetVariant", &err, NULL, "s", "missing"), &err,
		     SL_DBUS_ERROR_LOAD_FAILED, "does-not-exist.tflite");
	char *mode = itest_get_string(&T, "Mode");
	cr_expect_str_eq(mode, "auto", "a failed SetVariant leaves the mode as it was");
	free(mode);
}

Test(api, reload_and_reload_failure)
{
	itest_start(&T, NULL);
	sigs s = {0};
	subscribe(&s);
	sd_bus_error err = SD_BUS_ERROR_NULL;
	cr_assert_geq(itest_call(&T, "Reload", &err, NULL, ""), 0, "%s", err.message);

	/* A broken file: the reload fails, everything stays as it was. */
	itest_write_conf(&T, "[daemon]\nNoSuchKey=1\n");
	expect_error(itest_call(&T, "Reload", &err, NULL, ""), &err, SL_DBUS_ERROR_RELOAD_FAILED,
		     "NoSuchKey");
	char *v = itest_get_string(&T, "State");
	cr_expect_str_eq(v, "running");
	free(v);

	/* A setting the running engine was built with: the variant is loaded again. */
	itest_write_conf(&T, "[daemon]\nTopK=3\n");
	cr_assert_geq(itest_call(&T, "Reload", &err, NULL, ""), 0, "%s", err.message);
	itest_pump(&T, 300);
	cr_expect(strstr(s.last_reason, "TopK"), "reason: %s", s.last_reason);

	/* A working file that changes the start variant and the mode. */
	itest_write_conf(&T, "[daemon]\nMode=auto\nLatencyTargetMs=2500\n");
	cr_assert_geq(itest_call(&T, "Reload", &err, NULL, ""), 0, "%s", err.message);
	v = itest_get_string(&T, "Mode");
	cr_expect_str_eq(v, "auto");
	free(v);
	cr_expect_eq(itest_get_double(&T, "LatencyTargetMs"), 2500.0);

	/* A ladder without the running variant: the reply comes after the switch. */
	char ladder[PATH_MAX + 32];
	snprintf(ladder, sizeof(ladder), "%s/small.json", T.dir);
	FILE *f = fopen(ladder, "w");
	cr_assert(f);
	fputs("{\"labels\": \"imagenet_labels.txt\", \"variants\": [{\"name\": \"only_small\", "
	      "\"file\": \"mobilenet_v1_0.25_128_quant.tflite\"}]}",
	      f);
	fclose(f);
	char extra[PATH_MAX + 64];
	snprintf(extra, sizeof(extra), "[daemon]\nLadder=%s\n", ladder);
	itest_write_conf(&T, extra);
	cr_assert_geq(itest_call(&T, "Reload", &err, NULL, ""), 0, "%s", err.message);
	v = itest_get_string(&T, "ActiveVariant");
	cr_expect_str_eq(v, "only_small");
	free(v);
	itest_pump(&T, 300);
	cr_expect(strstr(s.last_reason, "reload:"), "reason: %s", s.last_reason);
	cr_expect(!s.gap, "no result lost across reloads");
}

Test(api, no_result_yet)
{
	/* A source whose every frame is corrupt never produces a result. */
	char path[] = "/tmp/sl-corrupt-XXXXXX.jpg";
	int fd = mkstemps(path, 4);
	cr_assert_geq(fd, 0);
	static const unsigned char junk[] = {0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5, 6, 7, 8};
	cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	char src[128];
	snprintf(src, sizeof(src), "file:%s", path);
	itest_opts o = {.source = src, .variant = "mobilenet_v1_0.25_128"};
	itest_start(&T, &o);
	itest_pump(&T, 500);
	sd_bus_error err = SD_BUS_ERROR_NULL;
	expect_error(itest_call(&T, "GetLatestResult", &err, NULL, ""), &err, SL_DBUS_ERROR_NO_RESULT, NULL);
	cr_expect_eq(itest_get_u64(&T, "FramesInferred"), 0u);
	/* The log names the bad file, so that a user can find it in a folder. */
	FILE *f = fopen(T.log, "r");
	cr_assert_not_null(f);
	char line[1024];
	bool named = false;
	while (!named && fgets(line, sizeof(line), f))
		named = strstr(line, "frame not decoded") && strstr(line, path);
	fclose(f);
	cr_expect(named, "no 'frame not decoded ... %s' line in %s", path, T.log);
	unlink(path);
}

Test(api, missing_file_source_is_retried)
{
	/* The file appears only after the daemon started: it must pick it up by
	 * itself, without a reload. */
	char dir[] = "/tmp/sl-late-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[sizeof(dir) + 16], src[sizeof(path) + 8];
	snprintf(path, sizeof(path), "%s/frame.ppm", dir);
	snprintf(src, sizeof(src), "file:%s", path);
	itest_opts o = {.source = src, .variant = "mobilenet_v1_0.25_128"};
	itest_start(&T, &o);
	itest_pump(&T, 300);
	char *st = itest_get_string(&T, "SourceState");
	cr_expect_str_eq(st, "stopped");
	free(st);

	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	fprintf(f, "P6\n16 16\n255\n");
	for (int i = 0; i < 16 * 16 * 3; i++)
		fputc((i * 37) & 0xff, f);
	fclose(f);
	cr_expect(itest_wait_string(&T, "SourceState", "streaming", 10000), "the source was not retried");
	unlink(path);
	rmdir(dir);
}

/* Runs calls as an unprivileged user (nobody) and reports each outcome as a bit:
 * 1: ListVariants ok, 2: Get ok, 4/8/16: SetVariant/SetAuto/Reload refused,
 * 32: the refusal names access, 64: SetVariant no-op accepted. */
static int as_nobody(const char *address, bool expect_daemon_message)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(200);
		sd_bus *b = NULL;
		if (sd_bus_new(&b) < 0 || sd_bus_set_address(b, address) < 0 ||
		    sd_bus_set_bus_client(b, 1) < 0 || sd_bus_start(b) < 0)
			_exit(201);
		int bits = 0;
		sd_bus_error e = SD_BUS_ERROR_NULL;
		if (sd_bus_call_method(b, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE, "ListVariants", &e, NULL,
				       "") >= 0)
			bits |= 1;
		sd_bus_error_free(&e);
		char *v = NULL;
		if (sd_bus_get_property_string(b, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE, "ActiveVariant",
					       &e, &v) >= 0)
			bits |= 2;
		sd_bus_error_free(&e);
		bool msg_ok = true;
		static const char *const needle[2] = {"Rejected send message", "neither root nor in group"};
		if (sd_bus_call_method(b, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE, "SetVariant", &e, NULL,
				       "s", "mobilenet_v1_0.25_128") < 0 &&
		    sd_bus_error_has_name(&e, SD_BUS_ERROR_ACCESS_DENIED)) {
			bits |= 4;
			msg_ok = msg_ok && e.message && strstr(e.message, needle[expect_daemon_message]);
		}
		sd_bus_error_free(&e);
		if (sd_bus_call_method(b, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE, "SetAuto", &e, NULL, "d",
				       30.0) < 0 &&
		    sd_bus_error_has_name(&e, SD_BUS_ERROR_ACCESS_DENIED))
			bits |= 8;
		sd_bus_error_free(&e);
		if (sd_bus_call_method(b, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE, "Reload", &e, NULL, "") <
			0 &&
		    sd_bus_error_has_name(&e, SD_BUS_ERROR_ACCESS_DENIED))
			bits |= 16;
		sd_bus_error_free(&e);
		if (msg_ok)
			bits |= 32;
		if (v && sd_bus_call_method(b, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE, "SetVariant", &e,
					    NULL, "s", v) >= 0)
			bits |= 64;
		_exit(bits);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

Test(api, bus_policy_refuses_unprivileged_callers)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to run a client as nobody");
	itest_start(&T, NULL);
	int bits = as_nobody(T.address, false);
	cr_expect_neq(bits, 200, "cannot drop privileges");
	cr_expect_neq(bits, 201, "nobody cannot connect to the private bus");
	cr_expect(bits & 1, "everyone may call ListVariants (bits %d)", bits);
	cr_expect(bits & 2, "everyone may read properties");
	cr_expect(bits & 4, "SetVariant refused");
	cr_expect(bits & 8, "SetAuto refused");
	cr_expect(bits & 16, "Reload refused");
	cr_expect(bits & 32, "refused by the bus policy");
	char *v = itest_get_string(&T, "ActiveVariant");
	cr_expect_str_eq(v, "mobilenet_v2_int8", "nothing changed");
	free(v);
	/* root may. */
	sd_bus_error err = SD_BUS_ERROR_NULL;
	cr_expect_geq(itest_call(&T, "SetAuto", &err, NULL, "d", 400.0), 0, "%s", err.message);
}

Test(api, daemon_refuses_unprivileged_callers_itself)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to run a client as nobody");
	itest_opts o = {.permissive_bus = true};
	itest_start(&T, &o);
	int bits = as_nobody(T.address, true);
	cr_expect(bits & 4 && bits & 8 && bits & 16, "SetVariant, SetAuto, Reload refused (bits %d)", bits);
	cr_expect(bits & 32, "refused by sightlined's own check");
	cr_expect(bits & 64, "a no-op is answered before authorisation");
	char *v = itest_get_string(&T, "Mode");
	cr_expect_str_eq(v, "manual");
	free(v);
}

Test(api, sighup_keeps_serving_and_sigterm_stops_cleanly)
{
	itest_start(&T, NULL);
	sigs s = {0};
	subscribe(&s);
	itest_pump(&T, 500);
	cr_assert_eq(kill(T.daemon_pid, SIGHUP), 0);
	uint64_t end = itest_now_us() + 5000000;
	int before = s.results;
	while (itest_now_us() < end && s.results < before + 20)
		itest_pump(&T, 100);
	cr_expect_geq(s.results, before + 20, "results keep coming after SIGHUP");
	cr_expect(!s.gap);
	cr_expect_eq(s.variant_changed, 0, "the same ladder: no switch");
	char *v = itest_get_string(&T, "State");
	cr_expect_str_eq(v, "running");
	free(v);
	int st = itest_stop_daemon(&T);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "clean exit on SIGTERM (status %#x)", st);
}

typedef struct {
	bool done;
	char error[128];
} pending;

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	(void)e;
	pending *p = userdata;
	const sd_bus_error *err = sd_bus_message_get_error(m);
	snprintf(p->error, sizeof(p->error), "%s", err ? err->name : "");
	p->done = true;
	return 0;
}

/* A caller still waiting for a switch when the daemon stops gets Cancelled,
 * not NoReply: the answer has to leave before the bus is closed. */
Test(api, sigterm_answers_a_pending_switch)
{
	/* The switch lands at the next frame, and the current one takes 5 s. */
	itest_opts o = {.extra_conf = "[debug]\nInjectDelayMs=5000\nInjectDelayVariant=mobilenet_v2_int8\n"};
	itest_start(&T, &o);
	/* 33 callers for the same switch: 32 wait, the last is refused at once. */
	static pending p[33];
	memset(p, 0, sizeof(p));
	for (int i = 0; i < 33; i++) {
		cr_assert_geq(sd_bus_call_method_async(T.bus, NULL, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE,
						       "SetVariant", on_reply, &p[i], "s",
						       "mobilenet_v1_0.25_128"),
			      0);
		if (i == 0)
			itest_pump(&T, 1000);
	}
	itest_pump(&T, 500);
	for (int i = 0; i < 32; i++)
		cr_assert(!p[i].done, "call %d: the switch should still wait for the stalled frame (%s)", i,
			  p[i].error);
	cr_assert(p[32].done, "the 33rd caller is answered at once");
	cr_expect_str_eq(p[32].error, "org.freedesktop.DBus.Error.LimitsExceeded");
	cr_assert_eq(kill(T.daemon_pid, SIGTERM), 0);
	uint64_t end = itest_now_us() + 10000000;
	while (!p[0].done && itest_now_us() < end)
		itest_pump(&T, 50);
	itest_pump(&T, 200);
	for (int i = 0; i < 32; i++) {
		cr_assert(p[i].done, "call %d: no reply at all", i);
		cr_expect_str_eq(p[i].error, SL_DBUS_ERROR_CANCELLED, "call %d", i);
	}
	int st = itest_stop_daemon(&T);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "clean exit (status %#x)", st);
}

static pid_t sightctl(const char *const *args, bool wait_exit, int *ret_status)
{
	const char *ctl = getenv("SIGHTCTL");
	cr_assert(ctl, "SIGHTCTL is set by meson");
	const char *argv[12] = {ctl, "--address", T.address};
	int n = 3;
	for (; *args && n < 11; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	cr_assert_eq(posix_spawn(&pid, ctl, &fa, NULL, (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	if (wait_exit)
		cr_assert_eq(waitpid(pid, ret_status, 0), pid);
	return pid;
}

/* `sightctl watch` in one terminal, `sightctl use` in another: every client
 * that disconnects changes a name's owner, and only the daemon's ends watch. */
Test(api, sightctl_watch_outlives_other_clients)
{
	itest_start(&T, NULL);
	int st;
	pid_t w = sightctl((const char *[]){"watch", "--timeout", "3", NULL}, false, NULL);
	itest_pump(&T, 500);
	for (int i = 0; i < 3; i++) {
		sightctl((const char *[]){"status", NULL}, true, &st);
		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sightctl status (status %#x)", st);
	}
	cr_assert_eq(waitpid(w, &st, 0), w);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "watch ran to its timeout (status %#x)", st);

	w = sightctl((const char *[]){"watch", "--timeout", "30", NULL}, false, NULL);
	itest_pump(&T, 500);
	itest_stop_daemon(&T);
	cr_assert_eq(waitpid(w, &st, 0), w);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 1, "the daemon leaving ends watch (status %#x)", st);
}

/* --- sd_notify: READY after the name and the first variant, STATUS, and
 * WATCHDOG only while the pipeline makes progress. --- */

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

static int notify_fd = -1;
static char notify_path[108];

static void notify_socket(char *env_buf, size_t len)
{
	snprintf(notify_path, sizeof(notify_path), "/tmp/sl-notify-%d", (int)getpid());
	unlink(notify_path);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(notify_fd, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", notify_path);
	cr_assert_eq(bind(notify_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(env_buf, len, "NOTIFY_SOCKET=%s", notify_path);
}

typedef struct {
	int ready, watchdog, stopping, status;
	bool ready_after_name;
	char last_status[256];
} notes;

/* Reads datagrams for ms, counting what they say. */
static void read_notes(notes *n, int ms)
{
	uint64_t end = itest_now_us() + (uint64_t)ms * 1000u;
	while (itest_now_us() < end) {
		struct pollfd p = {.fd = notify_fd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		char buf[1024];
		ssize_t k = recv(notify_fd, buf, sizeof(buf) - 1, 0);
		if (k <= 0)
			continue;
		buf[k] = 0;
		for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
			if (strcmp(line, "READY=1") == 0) {
				n->ready++;
				if (T.bus) {
					int owned = 0;
					sd_bus_message *r = NULL;
					if (sd_bus_call_method(T.bus, "org.freedesktop.DBus",
							       "/org/freedesktop/DBus",
							       "org.freedesktop.DBus", "NameHasOwner", NULL,
							       &r, "s", SL_DBUS_NAME) >= 0)
						(void)sd_bus_message_read(r, "b", &owned);
					sd_bus_message_unref(r);
					n->ready_after_name = owned;
				}
			} else if (strcmp(line, "WATCHDOG=1") == 0) {
				n->watchdog++;
			} else if (strcmp(line, "STOPPING=1") == 0) {
				n->stopping++;
			} else if (strncmp(line, "STATUS=", 7) == 0) {
				n->status++;
				snprintf(n->last_status, sizeof(n->last_status), "%s", line + 7);
			}
		}
	}
}

static void notify_fini(void)
{
	itest_cleanup(&T);
	if (notify_fd >= 0)
		close(notify_fd);
	unlink(notify_path);
}

TestSuite(notify, .fini = notify_fini, .timeout = 240);

Test(notify, ready_status_and_watchdog_follow_progress)
{
	char sock_env[160];
	notify_socket(sock_env, sizeof(sock_env));
	itest_opts o = {.env = {sock_env, "WATCHDOG_USEC=1000000", NULL}};
	itest_start(&T, &o);
	notes n = {0};
	read_notes(&n, 3000);
	cr_expect_eq(n.ready, 1, "READY=1 once");
	cr_expect(n.ready_after_name, "READY=1 only once the bus name is owned");
	cr_expect_geq(n.watchdog, 3, "WATCHDOG=1 every half period while frames flow (%d)", n.watchdog);
	cr_expect_geq(n.status, 1);
	cr_expect(strstr(n.last_status, "mobilenet_v2_int8") && strstr(n.last_status, "fps") &&
		      strstr(n.last_status, "p95"),
		  "STATUS=%s", n.last_status);

	/* A stuck inference thread (a 30 s synthetic stall): the pings stop. */
	itest_write_conf(&T, "[debug]\nInjectDelayMs=30000\n");
	sd_bus_error err = SD_BUS_ERROR_NULL;
	cr_assert_geq(itest_call(&T, "Reload", &err, NULL, ""), 0, "%s", err.message);
	read_notes(&n, 1500); /* the frame in flight finishes; the next one stalls */
	notes stalled = {0};
	read_notes(&stalled, 3000);
	cr_expect_eq(stalled.watchdog, 0, "no WATCHDOG=1 while the pipeline makes no progress");

	int st = itest_stop_daemon(&T);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "SIGTERM stops even a stalled pipeline (status %#x)",
		  st);
	notes end = {0};
	read_notes(&end, 300);
	cr_expect_eq(end.stopping, 1, "STOPPING=1");
}

Test(notify, watchdog_continues_while_the_camera_is_in_backoff)
{
	char sock_env[160];
	notify_socket(sock_env, sizeof(sock_env));
	itest_opts o = {.source = "v4l2:/dev/sl-no-such-camera",
			.env = {sock_env, "WATCHDOG_USEC=1000000", NULL}};
	itest_start(&T, &o);
	notes n = {0};
	read_notes(&n, 3000);
	cr_expect_eq(n.ready, 1, "ready without a camera: the variant is loaded and the name owned");
	cr_expect_geq(n.watchdog, 3, "the camera being away is not a hang (%d pings)", n.watchdog);
	char *s = itest_get_string(&T, "State");
	cr_expect_str_eq(s, "degraded");
	free(s);
	s = itest_get_string(&T, "SourceState");
	cr_expect(strcmp(s, "backoff") == 0 || strcmp(s, "reopening") == 0 || strcmp(s, "lost") == 0 ||
		      strcmp(s, "opening") == 0,
		  "SourceState %s", s);
	free(s);
	cr_expect_eq(itest_get_u64(&T, "FramesInferred"), 0u);
}
