/* 1000 hot swaps while streaming testsrc: every SetVariant is answered, every
 * swap is announced, no result sequence number is lost, and the daemon stops
 * cleanly with no leak (ASan build: LeakSanitizer at exit; otherwise a shorter
 * run under valgrind). */
#include <criterion/criterion.h>
#include <signal.h>
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

TestSuite(swaps, .fini = fini, .timeout = 1800);

typedef struct {
	uint64_t results, first_seq, last_seq, gaps, changes;
	uint64_t per_variant[2];
} tally;

static const char *pair[2];

static int on_result(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	(void)e;
	tally *t = userdata;
	sl_dbus_class c[16];
	sl_dbus_detection d[16];
	sl_dbus_result res;
	cr_assert_eq(sl_dbus_read_result(m, &res, c, 16, d, 16), 0);
	if (t->results && res.sequence != t->last_seq + 1)
		t->gaps++;
	if (!t->results)
		t->first_seq = res.sequence;
	t->last_seq = res.sequence;
	t->results++;
	for (int i = 0; i < 2; i++)
		if (strcmp(res.variant, pair[i]) == 0)
			t->per_variant[i]++;
	return 0;
}

static int on_variant(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	(void)m, (void)e;
	((tally *)userdata)->changes++;
	return 0;
}

static void run_swaps(const itest_opts *o, int n, const char *a, const char *b)
{
	pair[0] = a;
	pair[1] = b;
	itest_start(&T, o);
	tally t = {0};
	cr_assert_geq(
	    sd_bus_match_signal(T.bus, NULL, NULL, SL_DBUS_PATH, SL_DBUS_IFACE, "ResultReady", on_result, &t),
	    0);
	cr_assert_geq(sd_bus_match_signal(T.bus, NULL, NULL, SL_DBUS_PATH, SL_DBUS_IFACE, "VariantChanged",
					  on_variant, &t),
		      0);
	itest_pump(&T, 500);
	uint64_t t0 = itest_now_us();
	for (int i = 0; i < n; i++) {
		sd_bus_error err = SD_BUS_ERROR_NULL;
		int r = itest_call(&T, "SetVariant", &err, NULL, "s", pair[i % 2]);
		cr_assert_geq(r, 0, "swap %d to %s: %s", i, pair[i % 2], err.message);
		itest_pump(&T, 0);
	}
	double secs = (double)(itest_now_us() - t0) / 1e6;
	itest_pump(&T, 1000);
	uint64_t inferred = itest_get_u64(&T, "FramesInferred");
	cr_log_info("%d swaps in %.1f s (%.1f ms each); %llu results, %llu of %s and %llu of %s", n, secs,
		    secs * 1000 / n, (unsigned long long)t.results, (unsigned long long)t.per_variant[0],
		    pair[0], (unsigned long long)t.per_variant[1], pair[1]);

	cr_expect_eq(t.changes, (uint64_t)n, "one VariantChanged per swap");
	cr_expect_eq(t.gaps, 0u, "no result sequence number lost");
	cr_expect_gt(t.per_variant[0], 0u);
	cr_expect_gt(t.per_variant[1], 0u);
	cr_expect_geq(inferred, t.last_seq, "FramesInferred counts every result");
	char *st = itest_get_string(&T, "State");
	cr_expect_str_eq(st, "running");
	free(st);

	int status = itest_stop_daemon(&T);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "clean exit, no leak (status %#x; see %s)",
		  status, T.log);
}

Test(swaps, thousand_swaps_while_streaming)
{
	const char *n = getenv("SL_SWAPS");
	itest_opts o = {.variant = "mobilenet_v1_0.25_128"};
	run_swaps(&o, n ? atoi(n) : 1000, "mobilenet_v2_uint8", "mobilenet_v1_0.25_128");
}

Test(swaps, no_leak_under_valgrind)
{
	if (getenv("SL_ASAN") && strcmp(getenv("SL_ASAN"), "1") == 0)
		cr_skip_test("ASan build: LeakSanitizer checks the 1000-swap run");
	if (system("valgrind --version >/dev/null 2>&1") != 0)
		cr_skip_test("valgrind not installed");
	/* Valgrind is ~50x slower: fewer swaps, between two copies of the small
	 * model (a swap waits for the frame in flight). Leaks would be per swap. */
	static const char ladder[] =
	    "{\"labels\": \"imagenet_labels.txt\", \"variants\": ["
	    "{\"name\": \"small_a\", \"file\": \"mobilenet_v1_0.25_128_quant.tflite\"},"
	    "{\"name\": \"small_b\", \"file\": \"mobilenet_v1_0.25_128_quant.tflite\"}]}";
	itest_opts o = {.ladder_json = ladder, .valgrind = true, .extra_conf = "[capture]\nFps=10\n"};
	run_swaps(&o, 100, "small_b", "small_a");
}
