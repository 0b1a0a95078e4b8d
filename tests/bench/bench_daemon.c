/* Daemon overhead benchmark (issue 4), run by hand:
 *   SL_SHARED_DIR=../shared build/tests/bench/bench_daemon [variant] [frames] [swaps]
 * Starts a private dbus-daemon and sightlined on testsrc, then measures in one
 * run: capture -> ResultReady (received here) against pure inference
 * (sl_runtime_invoke of the same model in this process), as a ratio; and the
 * swap gap (last result of the old variant -> first of the new) against the
 * frame period. Prints ratios; asserts nothing. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "dbus/client.h"
#include "dbus/service.h"
#include "kernels/runtime.h"
#include "kernels/tflite/tflite.h"

#define FPS 15

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static double median_us(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	return n ? (double)v[n / 2] : 0;
}

typedef struct {
	uint64_t *lat;
	int n, cap;
	char last_variant[80];
	uint64_t last_rx;
	uint64_t *gaps;
	int n_gaps;
} collect;

static int on_result(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	(void)e;
	collect *c = userdata;
	uint64_t rx = now_us();
	sl_dbus_class cls[8];
	sl_dbus_detection det[8];
	sl_dbus_result r;
	if (sl_dbus_read_result(m, &r, cls, 8, det, 8) < 0)
		return 0;
	if (c->n < c->cap && rx > r.timestamp_us)
		c->lat[c->n++] = rx - r.timestamp_us;
	if (c->last_variant[0] && strcmp(c->last_variant, r.variant) != 0 && c->gaps)
		c->gaps[c->n_gaps++] = rx - c->last_rx;
	snprintf(c->last_variant, sizeof(c->last_variant), "%s", r.variant);
	c->last_rx = rx;
	return 0;
}

static pid_t spawn(char *const argv[], const char *log, int fd3)
{
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		FILE *f = freopen(log, "a", stderr);
		(void)f;
		if (fd3 >= 0)
			dup2(fd3, 3);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static double pure_invoke_us(const char *path, int n)
{
	sl_model *m = NULL;
	sl_runtime *rt = NULL;
	sl_error err = {{0}};
	sl_runtime_options o = {.backend = SL_BACKEND_XNNPACK, .threads = 1};
	if (sl_tflite_load_file(path, &m, &err) < 0 || sl_runtime_new(m, &o, &rt, &err) < 0) {
		fprintf(stderr, "bench_daemon: %s: %s\n", path, err.msg);
		exit(1);
	}
	uint64_t *t = calloc((size_t)n, sizeof(*t));
	for (int i = 0; i < 5; i++) /* warm-up */
		sl_runtime_invoke(rt);
	for (int i = 0; i < n; i++) {
		uint64_t t0 = now_us();
		sl_runtime_invoke(rt);
		t[i] = now_us() - t0;
	}
	double med = median_us(t, n);
	free(t);
	sl_runtime_free(rt);
	sl_model_unref(m);
	return med;
}

static const char *file_of(const char *variant)
{
	if (strcmp(variant, "mobilenet_v2_int8") == 0)
		return "tf2_mobilenet_v2_1.0_224_ptq.tflite";
	if (strcmp(variant, "mobilenet_v2_uint8") == 0)
		return "mobilenet_v2_1.0_224_quant.tflite";
	return "mobilenet_v1_0.25_128_quant.tflite";
}

int main(int argc, char **argv)
{
	const char *variant = argc > 1 ? argv[1] : "mobilenet_v1_0.25_128";
	int frames = argc > 2 ? atoi(argv[2]) : 150;
	int swaps = argc > 3 ? atoi(argv[3]) : 20;
	const char *shared = getenv("SL_SHARED_DIR") ? getenv("SL_SHARED_DIR") : SL_BENCH_SHARED_DIR;
	char models[PATH_MAX], probe[PATH_MAX + 64];
	snprintf(models, sizeof(models), "%s/models", shared);
	snprintf(probe, sizeof(probe), "%s/%s", models, file_of(variant));
	if (access(probe, R_OK) != 0) {
		fprintf(stderr, "bench_daemon: %s not found; set SL_SHARED_DIR\n", probe);
		return 77;
	}

	char dir[] = "/tmp/sl-bench-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	char path[PATH_MAX], conf[PATH_MAX], log[PATH_MAX];
	snprintf(path, sizeof(path), "%s/bus.conf", dir);
	FILE *f = fopen(path, "w");
	fprintf(f,
		"<busconfig><type>session</type><listen>unix:dir=%s</listen><auth>EXTERNAL</auth>"
		"<policy context=\"default\"><allow user=\"*\"/><allow own=\"*\"/>"
		"<allow send_destination=\"*\" eavesdrop=\"true\"/>"
		"<allow eavesdrop=\"true\"/></policy></busconfig>\n",
		dir);
	fclose(f);
	snprintf(conf, sizeof(conf), "%s/sightline.conf", dir);
	f = fopen(conf, "w");
	fprintf(f,
		"[daemon]\nSource=testsrc:640x480@%d\nLadder=%s/configs/ladder/manifest.json\nModelsDir=%s\n"
		"Variant=%s\nResultRateHz=0\n[capture]\nFps=%d\n",
		FPS, SL_BENCH_SOURCE_ROOT, models, variant, FPS);
	fclose(f);
	snprintf(log, sizeof(log), "%s/log", dir);

	int p[2];
	if (pipe(p) < 0)
		return 1;
	char cfg_arg[PATH_MAX + 32];
	snprintf(cfg_arg, sizeof(cfg_arg), "--config-file=%s", path);
	char *bus_argv[] = {"dbus-daemon", cfg_arg, "--nofork", "--print-address=3", NULL};
	pid_t bus_pid = spawn(bus_argv, log, p[1]);
	close(p[1]);
	char addr[512] = "";
	ssize_t k = read(p[0], addr, sizeof(addr) - 1);
	close(p[0]);
	if (k <= 0)
		return 1;
	addr[k] = 0;
	addr[strcspn(addr, "\n")] = 0;
	char *d_argv[] = {SL_BENCH_SIGHTLINED, "--config", conf, "--address", addr, NULL};
	pid_t d_pid = spawn(d_argv, log, -1);

	sd_bus *bus = NULL;
	if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, addr) < 0 || sd_bus_set_bus_client(bus, 1) < 0 ||
	    sd_bus_start(bus) < 0)
		return 1;
	for (int i = 0; i < 600; i++) {
		char *v = NULL;
		if (sd_bus_get_property_string(bus, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE,
					       "ActiveVariant", NULL, &v) >= 0 &&
		    v[0]) {
			free(v);
			break;
		}
		free(v);
		usleep(50000);
	}

	collect c = {.cap = frames, .lat = calloc((size_t)frames, sizeof(uint64_t))};
	sd_bus_match_signal(bus, NULL, NULL, SL_DBUS_PATH, SL_DBUS_IFACE, "ResultReady", on_result, &c);
	while (c.n < frames) {
		if (waitpid(d_pid, NULL, WNOHANG) == d_pid) {
			fprintf(stderr, "bench_daemon: sightlined exited; see %s\n", log);
			kill(bus_pid, SIGTERM);
			waitpid(bus_pid, NULL, 0);
			return 1;
		}
		while (sd_bus_process(bus, NULL) > 0)
			;
		sd_bus_wait(bus, 100000);
	}
	double e2e = median_us(c.lat, c.n);
	double p50 = 0;
	sd_bus_get_property_trivial(bus, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE, "LatencyP50Ms", NULL, 'd',
				    &p50);

	/* Swaps between the variant and the small one (or v2 uint8 when it is the small one). */
	const char *other =
	    strcmp(variant, "mobilenet_v1_0.25_128") == 0 ? "mobilenet_v2_uint8" : "mobilenet_v1_0.25_128";
	c.gaps = calloc((size_t)swaps + 1, sizeof(uint64_t));
	for (int i = 0; i < swaps; i++) {
		sd_bus_call_method(bus, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE, "SetVariant", NULL, NULL,
				   "s", i % 2 ? variant : other);
		uint64_t end = now_us() + 1000000;
		while (now_us() < end) { /* let a few frames of each variant through */
			while (sd_bus_process(bus, NULL) > 0)
				;
			sd_bus_wait(bus, 50000);
		}
	}
	double gap = median_us(c.gaps, c.n_gaps);

	sd_bus_flush_close_unref(bus);
	kill(d_pid, SIGTERM);
	waitpid(d_pid, NULL, 0);
	kill(bus_pid, SIGTERM);
	waitpid(bus_pid, NULL, 0);
	/* Alone on the machine, like the daemon's inference thread was. */
	double invoke = pure_invoke_us(probe, 100);
	printf("variant %s, testsrc 640x480 @ %d fps, %d results, xnnpack 1 thread\n", variant, FPS, c.n);
	printf("  pure inference (invoke, in-process)   median %8.2f ms\n", invoke / 1000);
	printf("  daemon processing (LatencyP50Ms)             %8.2f ms  (%.2fx invoke)\n", p50,
	       p50 * 1000 / invoke);
	printf("  capture -> ResultReady received       median %8.2f ms  (%.2fx invoke)\n", e2e / 1000,
	       e2e / invoke);
	printf("  swap gap (%d swaps %s <-> %s)  median %8.2f ms  (%.2f frame periods)\n", c.n_gaps, variant,
	       other, gap / 1000, gap / (1e6 / FPS));
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
