/* Configuration file parsing and the ladder manifest. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/ladder.h"

static char dir[] = "/tmp/sl-config-XXXXXX";

static void setup(void)
{
	cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

static char *put(const char *name, const char *text)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
	return path;
}

TestSuite(config, .init = setup, .fini = teardown);

Test(config, relative_paths_follow_the_file)
{
	char *p = put("a.conf", "[daemon]\nSource=file:imgs\nLadder=ladder.json\nModelsDir=m\nMode=auto\n"
				"LatencyTargetMs=42.5\n[auto]\nWindowFrames=20\nMinFrames=4\n");
	sl_daemon_config c;
	sl_daemon_config_defaults(&c);
	char err[512];
	cr_assert_eq(sl_daemon_config_load(p, NULL, &c, err, sizeof(err)), 0, "%s", err);
	char want[PATH_MAX];
	snprintf(want, sizeof(want), "file:%s/imgs", dir);
	cr_expect_str_eq(c.source, want);
	snprintf(want, sizeof(want), "%s/ladder.json", dir);
	cr_expect_str_eq(c.ladder, want);
	cr_expect(c.auto_mode);
	cr_expect_eq(c.target_ms, 42.5);
	cr_expect_eq(c.window, 20);
	cr_expect_str_eq(c.backend, "xnnpack", "default");
	cr_expect_str_eq(c.control_group, "sightline", "default");
	sl_daemon_config_clear(&c);
}

Test(config, command_line_wins)
{
	char *p =
	    put("b.conf", "[daemon]\nSource=v4l2:/dev/video0\nFallbackSource=testsrc\nLadder=/x.json\n");
	sl_daemon_overrides ov = {.source = "testsrc:64x48@5", .target_ms = 30, .variant = "v"};
	sl_daemon_config c;
	sl_daemon_config_defaults(&c);
	char err[512];
	cr_assert_eq(sl_daemon_config_load(p, &ov, &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(c.source, "testsrc:64x48@5");
	cr_expect_null(c.fallback_source, "an explicit source is not second-guessed");
	cr_expect(c.auto_mode);
	cr_expect_eq(c.target_ms, 30);
	cr_expect_str_eq(c.variant, "v");
	sl_daemon_config_clear(&c);
}

Test(config, a_ladder_from_the_command_line_finds_its_own_files)
{
	char *p = put("m.conf", "[daemon]\nLadder=/x.json\nModelsDir=/models\n");
	sl_daemon_config c;
	char err[512];
	sl_daemon_overrides ov = {.ladder = "/out/manifest.json"};
	sl_daemon_config_defaults(&c);
	cr_assert_eq(sl_daemon_config_load(p, &ov, &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(c.ladder, "/out/manifest.json");
	cr_expect_null(c.models_dir, "the configured ModelsDir belongs to the configured ladder");
	sl_daemon_config_clear(&c);

	ov.models_dir = "/elsewhere";
	sl_daemon_config_defaults(&c);
	cr_assert_eq(sl_daemon_config_load(p, &ov, &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(c.models_dir, "/elsewhere");
	sl_daemon_config_clear(&c);

	sl_daemon_overrides none = {0};
	sl_daemon_config_defaults(&c);
	cr_assert_eq(sl_daemon_config_load(p, &none, &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(c.models_dir, "/models");
	sl_daemon_config_clear(&c);
}

Test(config, errors_name_the_line_and_key)
{
	static const struct {
		const char *text, *needle;
	} bad[] = {
	    {"[daemon]\nLadder=/x\nBogus=1\n", ":3: unknown key 'Bogus'"},
	    {"[daemon]\nLadder=/x\nLatencyTargetMs=0\n", "invalid value '0' for LatencyTargetMs"},
	    {"[daemon]\nLadder=/x\nLatencyTargetMs=nan\n", "LatencyTargetMs"},
	    {"[daemon]\nLadder=/x\nMode=turbo\n", "'turbo'"},
	    {"[daemon]\nLadder=/x\nBackend=cuda\n", "'cuda'"},
	    {"[daemon]\nLadder=/x\nTopK=11\n", "TopK"},
	    {"[capture]\nLoop=maybe\n", "Loop"},
	    {"[daemon]\nSource=testsrc\n", "no ladder"},
	    {"[daemon]\nLadder=/x\n[auto]\nWindowFrames=5\nMinFrames=9\n", "MinFrames=9 exceeds"},
	    {"this is not ini\n", ":1:"},
	    {"[daemon]\nLadder=/x\nSource=bogus:xyz\n",
	     ":3: invalid value for Source: unknown source type in \"bogus:xyz\""},
	    {"[daemon]\nLadder=/x\nFallbackSource=testsrc:0x0\n",
	     ":3: invalid value for FallbackSource: bad testsrc"},
	    /* each message with its own line: a syntax error before a bad value,
	     * a bad value before a syntax error, a bad last line without newline */
	    {"[daemon]\nLadder=/x\nnot a key\nBackend=bogus\n", ":3: syntax error"},
	    {"[daemon]\nLadder=/x\nBackend=bogus\nnot a key\n", ":3: invalid value 'bogus' for Backend"},
	    {"[daemon]\n\n# comment\nLadder=/x\nBackend=bogus", ":5: invalid value 'bogus'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *p = put("bad.conf", bad[i].text);
		sl_daemon_config c;
		sl_daemon_config_defaults(&c);
		char err[512] = "";
		cr_expect_lt(sl_daemon_config_load(p, NULL, &c, err, sizeof(err)), 0, "case %zu", i);
		cr_expect(strstr(err, bad[i].needle), "case %zu: '%s' not in '%s'", i, bad[i].needle, err);
		sl_daemon_config_clear(&c);
	}
	sl_daemon_config c;
	sl_daemon_config_defaults(&c);
	char err[512];
	cr_expect_lt(sl_daemon_config_load("/nonexistent/x.conf", NULL, &c, err, sizeof(err)), 0);
	cr_expect(strstr(err, "cannot read"), "%s", err);

	char *p = put("ok.conf", "[daemon]\nLadder=/x\n");
	sl_daemon_overrides ov = {.source = "testsrc:abc"};
	cr_expect_lt(sl_daemon_config_load(p, &ov, &c, err, sizeof(err)), 0);
	cr_expect(strstr(err, "--source: bad testsrc URI \"testsrc:abc\""), "%s", err);
}

TestSuite(ladder, .init = setup, .fini = teardown);

Test(ladder, parses_fields_and_defaults)
{
	put("m.tflite", "xx");
	char *p =
	    put("manifest.json",
		"{\"task\": \"classification\", \"labels\": \"l.txt\", \"preprocessing\": {\"fit\": "
		"\"letterbox\","
		" \"size\": [128, 96], \"range\": [-1, 1]},"
		" \"variants\": [{\"name\": \"a\", \"file\": \"m.tflite\", \"precision\": \"int8\","
		" \"sparsity_kind\": \"unstructured\", \"sparsity\": 0.5, \"top1\": 0.7, \"latency_ms\": 8},"
		" {\"name\": \"b\", \"file\": \"/abs/other.tflite\", \"task\": \"detection\", \"labels\": "
		"\"k.txt\"}]}");
	sl_ladder *l = NULL;
	char err[512];
	cr_assert_eq(sl_ladder_load(dir, NULL, &l, err, sizeof(err)), 0, "%s", err);
	(void)p;
	cr_assert_eq(l->n, 2);
	cr_expect_str_eq(l->v[0].name, "a");
	char want[PATH_MAX];
	snprintf(want, sizeof(want), "%s/m.tflite", dir);
	cr_expect_str_eq(l->v[0].file, want);
	cr_expect_eq(l->v[0].size_bytes, 2u);
	cr_expect_eq(l->v[0].sparsity, 0.5);
	cr_expect_eq(l->v[0].top1, 0.7);
	cr_expect_eq(l->v[0].latency_ms, 8);
	cr_expect(l->v[0].has_range && l->v[0].range_lo == -1 && l->v[0].range_hi == 1);
	cr_expect_eq(l->capture_spec.fit, SL_FIT_LETTERBOX);
	cr_expect_eq(l->capture_spec.width, 128);
	cr_expect_eq(l->capture_spec.height, 96);
	cr_expect_str_eq(l->v[1].file, "/abs/other.tflite");
	cr_expect_eq(l->v[1].task, SL_TASK_DETECTION);
	cr_expect(isnan(l->v[1].top1));
	cr_expect_eq(l->v[1].size_bytes, 0u, "missing file: fails when loaded, not here");
	snprintf(want, sizeof(want), "%s/k.txt", dir);
	cr_expect_str_eq(l->v[1].labels, want);
	cr_expect_eq(sl_ladder_find(l, "b"), 1);
	cr_expect_eq(sl_ladder_find(l, "c"), -1);
	sl_ladder_free(l);

	/* The configuration's models folder wins over the manifest's. */
	cr_assert_eq(sl_ladder_load(dir, "/models", &l, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(l->v[0].file, "/models/m.tflite");
	sl_ladder_free(l);

	/* What `sightline compress` writes for a classifier by default. */
	put("manifest.json", "{\"preprocessing\": {\"fit\": \"central\", \"crop_fraction\": 0.875, "
			     "\"resize\": \"area\", \"size\": [224, 224]},"
			     " \"variants\": [{\"name\": \"a\", \"file\": \"m.tflite\"}]}");
	cr_assert_eq(sl_ladder_load(dir, NULL, &l, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(l->capture_spec.fit, SL_FIT_CENTRAL);
	cr_expect_eq(l->capture_spec.resize, SL_RESIZE_AREA);
	cr_expect_float_eq(l->capture_spec.crop_fraction, 0.875f, 1e-6);
	sl_ladder_free(l);
}

Test(ladder, errors_name_the_variant)
{
	static const struct {
		const char *json, *needle;
	} bad[] = {
	    {"{", "not valid JSON"},
	    {"[]", "top level"},
	    {"{\"variants\": []}", "non-empty"},
	    {"{\"variants\": [{\"file\": \"x\"}]}", "variants[0]: missing \"name\""},
	    {"{\"variants\": [{\"name\": \"a b\", \"file\": \"x\"}]}", "0x20"},
	    {"{\"variants\": [{\"name\": \"a\"}]}", "variant 'a': missing \"file\""},
	    {"{\"variants\": [{\"name\": \"a\", \"file\": 3}]}", "\"file\" must be a string"},
	    {"{\"variants\": [{\"name\": \"a\", \"file\": \"x\", \"sparsity\": 2}]}", "outside [0, 1]"},
	    {"{\"variants\": [{\"name\": \"a\", \"file\": \"x\", \"task\": \"pose\"}]}", "unknown task"},
	    {"{\"variants\": [{\"name\": \"a\", \"file\": \"x\"}, {\"name\": \"a\", \"file\": \"y\"}]}",
	     "twice"},
	    {"{\"preprocessing\": {\"fit\": \"zoom\"}, \"variants\": [{\"name\": \"a\", \"file\": \"x\"}]}",
	     "zoom"},
	    {"{\"preprocessing\": {\"size\": [1, 2]}, \"variants\": [{\"name\": \"a\", \"file\": \"x\"}]}",
	     "size"},
	    {"{\"variants\": [{\"name\": \"a\", \"file\": \"x\", \"range\": [1, 1]}]}", "range"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *p = put("bad.json", bad[i].json);
		sl_ladder *l = NULL;
		char err[512] = "";
		cr_expect_lt(sl_ladder_load(p, NULL, &l, err, sizeof(err)), 0, "case %zu", i);
		cr_expect_null(l);
		cr_expect(strstr(err, bad[i].needle), "case %zu: '%s' not in '%s'", i, bad[i].needle, err);
		cr_expect(strstr(err, "bad.json"), "names the manifest: %s", err);
	}
}

Test(ladder, repository_default_is_valid)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/configs/ladder/manifest.json", getenv("SL_SOURCE_ROOT"));
	sl_ladder *l = NULL;
	char err[512];
	cr_assert_eq(sl_ladder_load(path, "/m", &l, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(l->n, 3);
	cr_expect_str_eq(l->v[0].file, "/m/tf2_mobilenet_v2_1.0_224_ptq.tflite");
	cr_expect_str_eq(l->v[2].name, "mobilenet_v1_0.25_128");
	sl_ladder_free(l);
}

/* Auto mode's order: measured ladders sorted most accurate first, variants
 * another one beats on both accuracy and speed left out (at the end), as are
 * "auto": false and, with a limit, variants too far below the best. */
static const char *names(const sl_ladder *l, char *buf, size_t len)
{
	buf[0] = 0;
	for (int i = 0; i < l->n; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s%s", i ? " " : "", l->v[i].name,
			 l->v[i].auto_ok ? "" : "-");
	return buf;
}

static sl_ladder *load_str(const char *json)
{
	char *p = put("plan.json", json);
	sl_ladder *l = NULL;
	char err[512];
	cr_assert_eq(sl_ladder_load(p, NULL, &l, err, sizeof(err)), 0, "%s", err);
	return l;
}

#define V(n, t, ms) "{\"name\":\"" n "\",\"file\":\"m.tflite\",\"top1\":" t ",\"latency_ms\":" ms "}"

Test(ladder, auto_order_follows_measurements)
{
	char buf[256];
	/* As sightline compress writes them; bench filled in the figures. */
	sl_ladder *l = load_str("{\"variants\":[" V("fp32", "0.84", "15") "," V("int8", "0.85", "4") "," V(
	    "sparse-50", "0.44", "12") "," V("sparse-50-int8", "0.43",
					     "3.8") "," V("channels-25-int8", "0.53",
							  "3.1") "," V("sparse-90-int8", "0.002",
								       "2.3") "]}");
	sl_ladder_plan_auto(l, 0);
	cr_expect_str_eq(names(l, buf, sizeof(buf)),
			 "int8 channels-25-int8 sparse-90-int8 fp32- sparse-50- sparse-50-int8-");
	cr_expect_str_eq(l->v[3].auto_beaten_by, "int8");
	cr_expect_str_eq(l->v[5].auto_beaten_by, "channels-25-int8");
	sl_ladder_free(l);

	l = load_str("{\"variants\":[" V("fp32", "0.84", "15") "," V("int8", "0.85", "4") "," V(
	    "channels-25-int8", "0.53", "3.1") "," V("sparse-90-int8", "0.002", "2.3") "]}");
	sl_ladder_plan_auto(l, 40);
	cr_expect_str_eq(names(l, buf, sizeof(buf)), "int8 channels-25-int8 fp32- sparse-90-int8-");
	cr_expect_null(l->v[3].auto_beaten_by);
	sl_ladder_free(l);
}

Test(ladder, auto_order_without_measurements_keeps_the_file_order)
{
	char buf[256];
	sl_ladder *l = load_str("{\"variants\":[{\"name\":\"a\",\"file\":\"m.tflite\",\"top1\":0.5},"
				"{\"name\":\"b\",\"file\":\"m.tflite\",\"auto\":false},"
				"{\"name\":\"c\",\"file\":\"m.tflite\",\"top1\":0.7,\"latency_ms\":3},"
				"{\"name\":\"d\",\"file\":\"m.tflite\",\"top1\":0.2}]}");
	sl_ladder_plan_auto(l, 30);
	cr_expect_str_eq(names(l, buf, sizeof(buf)), "a c b- d-");
	sl_ladder_free(l);

	/* Before sightline bench: compress's held-out agreement keeps broken
	 * variants out; a measured top-1 overrides it. */
	l = load_str("{\"variants\":[{\"name\":\"int8\",\"file\":\"m\",\"holdout_agreement\":1},"
		     "{\"name\":\"sparse-70\",\"file\":\"m\",\"holdout_agreement\":0.45},"
		     "{\"name\":\"sparse-50\",\"file\":\"m\",\"holdout_agreement\":0.5},"
		     "{\"name\":\"sparse-80\",\"file\":\"m\",\"holdout_agreement\":0,\"top1\":0.3}]}");
	sl_ladder_plan_auto(l, 0);
	cr_expect_str_eq(names(l, buf, sizeof(buf)), "int8 sparse-50 sparse-80 sparse-70-");
	cr_expect(strstr(l->v[3].auto_skip, "held-out"), "%s", l->v[3].auto_skip);
	sl_ladder_free(l);

	char *p = put("badauto.json", "{\"variants\":[{\"name\":\"a\",\"file\":\"m\",\"auto\":1}]}");
	char err[512] = "";
	cr_expect_lt(sl_ladder_load(p, NULL, &l, err, sizeof(err)), 0);
	cr_expect(strstr(err, "\"auto\" must be true or false"), "%s", err);

	p = put("badagree.json", "{\"variants\":[{\"name\":\"a\",\"file\":\"m\",\"holdout_agreement\":2}]}");
	cr_expect_lt(sl_ladder_load(p, NULL, &l, err, sizeof(err)), 0);
	cr_expect(strstr(err, "holdout_agreement"), "%s", err);
}
