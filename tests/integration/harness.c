#include "harness.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dbus/service.h"

uint64_t itest_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

const char *itest_shared_models(void)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/models", env_or("SL_SHARED_DIR", "../shared"));
	char probe[PATH_MAX + 64];
	snprintf(probe, sizeof(probe), "%s/mobilenet_v1_0.25_128_quant.tflite", path);
	if (access(probe, R_OK) != 0)
		cr_skip_test("shared models not found (%s): set SL_SHARED_DIR to the folder holding models/",
			     probe);
	return path;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f, "cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static void write_bus_conf(itest *t, const char *path)
{
	char buf[8192];
	const char *src = env_or("SL_SOURCE_ROOT", ".");
	if (t->o.permissive_bus)
		snprintf(
		    buf, sizeof(buf),
		    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
		    " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
		    "<busconfig>\n  <type>session</type>\n  <listen>unix:dir=%s</listen>\n"
		    "  <auth>EXTERNAL</auth>\n"
		    "  <policy context=\"default\">\n    <allow user=\"*\"/>\n"
		    "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n    <allow "
		    "eavesdrop=\"true\"/>\n"
		    "    <allow own=\"*\"/>\n  </policy>\n</busconfig>\n",
		    t->sockdir);
	else
		/* The system bus defaults (deny by default), then the real policy file. */
		snprintf(
		    buf, sizeof(buf),
		    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
		    " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
		    "<busconfig>\n  <type>session</type>\n  <listen>unix:dir=%s</listen>\n"
		    "  <auth>EXTERNAL</auth>\n"
		    "  <policy context=\"default\">\n    <allow user=\"*\"/>\n    <deny own=\"*\"/>\n"
		    "    <deny send_type=\"method_call\"/>\n    <allow send_type=\"signal\"/>\n"
		    "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
		    "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
		    "    <allow receive_type=\"method_call\"/>\n    <allow receive_type=\"method_return\"/>\n"
		    "    <allow receive_type=\"error\"/>\n    <allow receive_type=\"signal\"/>\n"
		    "    <allow send_destination=\"org.freedesktop.DBus\" "
		    "send_interface=\"org.freedesktop.DBus\"/>\n"
		    "    <allow send_destination=\"org.freedesktop.DBus\""
		    " send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n"
		    "    <allow send_destination=\"org.freedesktop.DBus\""
		    " send_interface=\"org.freedesktop.DBus.Properties\"/>\n"
		    "    <allow send_destination=\"org.freedesktop.DBus\" "
		    "send_interface=\"org.freedesktop.DBus.Peer\"/>\n"
		    "  </policy>\n  "
		    "<include>%s/systemd/org.sightline.Sightline1.conf</include>\n</busconfig>\n",
		    t->sockdir, src);
	write_file(path, buf);
}

void itest_write_conf(itest *t, const char *extra)
{
	char ladder[PATH_MAX + 32];
	char buf[16384];
	if (t->o.ladder_json) {
		snprintf(ladder, sizeof(ladder), "%s/ladder.json", t->dir);
		write_file(ladder, t->o.ladder_json);
	} else {
		snprintf(ladder, sizeof(ladder), "%s/configs/ladder/manifest.json",
			 env_or("SL_SOURCE_ROOT", "."));
	}
	snprintf(buf, sizeof(buf),
		 "[daemon]\nSource=%s\nLadder=%s\nModelsDir=%s\nResultRateHz=0\nBackend=xnnpack\n%s%s\n"
		 "[capture]\nFps=30\n%s\n",
		 t->o.source ? t->o.source : "testsrc", ladder, itest_shared_models(),
		 t->o.variant ? "Variant=" : "", t->o.variant ? t->o.variant : "", extra ? extra : "");
	write_file(t->conf, buf);
}

static pid_t spawn(char *const argv[], const char *log, int out_fd, const char *const *env)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* Never outlive the test, whatever happens to it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (out_fd >= 0) {
			dup2(out_fd, 3);
		}
		for (int i = 0; env && i < 4 && env[i]; i++)
			putenv((char *)env[i]);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void start_bus(itest *t)
{
	char conf[PATH_MAX + 16], log[PATH_MAX + 16];
	snprintf(conf, sizeof(conf), "%s/bus.conf", t->dir);
	snprintf(log, sizeof(log), "%s/bus.log", t->dir);
	write_bus_conf(t, conf);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	char cfg_arg[PATH_MAX + 32];
	snprintf(cfg_arg, sizeof(cfg_arg), "--config-file=%s", conf);
	char *argv[] = {"dbus-daemon", cfg_arg, "--nofork", "--print-address=3", NULL};
	t->bus_pid = spawn(argv, log, p[1], NULL);
	close(p[1]);
	size_t n = 0;
	ssize_t k;
	while (n < sizeof(t->address) - 1 &&
	       (k = read(p[0], t->address + n, sizeof(t->address) - 1 - n)) > 0) {
		n += (size_t)k;
		if (memchr(t->address, '\n', n))
			break;
	}
	close(p[0]);
	t->address[n] = 0;
	char *nl = strchr(t->address, '\n');
	if (nl)
		*nl = 0;
	cr_assert(t->address[0], "dbus-daemon printed no address (see %s)", log);
}

static void start_daemon(itest *t)
{
	const char *exe = env_or("SIGHTLINED", "sightlined");
	snprintf(t->supp, sizeof(t->supp), "--suppressions=%s/tests/integration/valgrind.supp",
		 env_or("SL_SOURCE_ROOT", "."));
	char *argv[16];
	int n = 0;
	if (t->o.valgrind) {
		argv[n++] = "valgrind";
		argv[n++] = "--quiet";
		argv[n++] = "--leak-check=full";
		argv[n++] = "--errors-for-leak-kinds=definite";
		argv[n++] = "--error-exitcode=99";
		argv[n++] = t->supp;
	}
	argv[n++] = (char *)exe;
	argv[n++] = "--config";
	argv[n++] = t->conf;
	argv[n++] = "--address";
	argv[n++] = t->address;
	argv[n] = NULL;
	t->daemon_pid = spawn(argv, t->log, -1, t->o.env);
}

static bool has_owner(itest *t)
{
	sd_bus_message *reply = NULL;
	int owned = 0;
	if (sd_bus_call_method(t->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
			       "org.freedesktop.DBus", "NameHasOwner", NULL, &reply, "s", SL_DBUS_NAME) >= 0)
		(void)sd_bus_message_read(reply, "b", &owned);
	sd_bus_message_unref(reply);
	return owned;
}

void itest_start(itest *t, const itest_opts *o)
{
	memset(t, 0, sizeof(*t));
	if (o)
		t->o = *o;
	(void)itest_shared_models();
	char base[PATH_MAX / 4];
	snprintf(base, sizeof(base), "%s/tests/integration/runs", env_or("SL_BUILD_ROOT", "."));
	mkdir(base, 0755);
	snprintf(t->dir, sizeof(t->dir), "%s/run-XXXXXX", base);
	cr_assert(mkdtemp(t->dir), "mkdtemp %s: %s", t->dir, strerror(errno));
	chmod(t->dir, 0755);
	/* unix socket paths are short; /tmp is also reachable by the unprivileged test user */
	snprintf(t->sockdir, sizeof(t->sockdir), "/tmp/sl-itest-XXXXXX");
	cr_assert(mkdtemp(t->sockdir));
	chmod(t->sockdir, 0755);
	snprintf(t->conf, sizeof(t->conf), "%s/sightline.conf", t->dir);
	snprintf(t->log, sizeof(t->log), "%s/daemon.log", t->dir);

	start_bus(t);
	itest_write_conf(t, t->o.extra_conf);
	start_daemon(t);

	sd_bus *b = NULL;
	cr_assert_geq(sd_bus_new(&b), 0);
	cr_assert_geq(sd_bus_set_address(b, t->address), 0);
	cr_assert_geq(sd_bus_set_bus_client(b, 1), 0);
	cr_assert_geq(sd_bus_start(b), 0, "cannot connect to %s", t->address);
	t->bus = b;

	uint64_t deadline = itest_now_us() + (t->o.valgrind ? 300 : 60) * 1000000ull;
	for (;;) {
		int status;
		cr_assert_eq(waitpid(t->daemon_pid, &status, WNOHANG), 0, "sightlined exited early (see %s)",
			     t->log);
		if (has_owner(t)) {
			char *v = itest_get_string(t, "ActiveVariant");
			bool ok = v[0] != 0;
			free(v);
			if (ok)
				break;
		}
		cr_assert_lt(itest_now_us(), deadline, "sightlined did not become ready (see %s)", t->log);
		usleep(50000);
	}
}

static int wait_exit(pid_t pid, int timeout_ms)
{
	int status = -1;
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		usleep(20000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

int itest_stop_daemon(itest *t)
{
	if (t->daemon_pid <= 0)
		return -1;
	kill(t->daemon_pid, SIGTERM);
	int st = wait_exit(t->daemon_pid, t->o.valgrind ? 120000 : 30000);
	t->daemon_pid = 0;
	return st;
}

void itest_cleanup(itest *t)
{
	if (t->bus)
		t->bus = sd_bus_flush_close_unref(t->bus);
	if (t->daemon_pid > 0)
		(void)itest_stop_daemon(t);
	if (t->bus_pid > 0) {
		kill(t->bus_pid, SIGTERM);
		(void)wait_exit(t->bus_pid, 5000);
		t->bus_pid = 0;
	}
	if (t->sockdir[0]) {
		char cmd[PATH_MAX + 16];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->sockdir);
		(void)!system(cmd);
	}
}

static sd_bus_message *get_prop(itest *t, const char *prop, const char *type)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int r =
	    sd_bus_get_property(t->bus, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE, prop, &err, &reply, type);
	cr_assert_geq(r, 0, "Get %s: %s", prop, err.message ? err.message : strerror(-r));
	sd_bus_error_free(&err);
	return reply;
}

char *itest_get_string(itest *t, const char *prop)
{
	sd_bus_message *m = get_prop(t, prop, "s");
	const char *s;
	cr_assert_geq(sd_bus_message_read(m, "s", &s), 0);
	char *out = strdup(s);
	sd_bus_message_unref(m);
	return out;
}

double itest_get_double(itest *t, const char *prop)
{
	sd_bus_message *m = get_prop(t, prop, "d");
	double x;
	cr_assert_geq(sd_bus_message_read(m, "d", &x), 0);
	sd_bus_message_unref(m);
	return x;
}

uint64_t itest_get_u64(itest *t, const char *prop)
{
	sd_bus_message *m = get_prop(t, prop, "t");
	uint64_t x;
	cr_assert_geq(sd_bus_message_read(m, "t", &x), 0);
	sd_bus_message_unref(m);
	return x;
}

int itest_call(itest *t, const char *method, sd_bus_error *err, sd_bus_message **reply, const char *sig, ...)
{
	sd_bus_message *m = NULL;
	int r = sd_bus_message_new_method_call(t->bus, &m, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE, method);
	if (r >= 0 && sig && *sig) {
		va_list ap;
		va_start(ap, sig);
		r = sd_bus_message_appendv(m, sig, ap);
		va_end(ap);
	}
	if (r >= 0)
		r = sd_bus_call(t->bus, m, 120 * 1000000ull, err, reply);
	sd_bus_message_unref(m);
	return r;
}

bool itest_wait_string(itest *t, const char *prop, const char *want, int timeout_ms)
{
	uint64_t deadline = itest_now_us() + (uint64_t)timeout_ms * 1000u;
	do {
		char *v = itest_get_string(t, prop);
		bool ok = strcmp(v, want) == 0;
		free(v);
		if (ok)
			return true;
		itest_pump(t, 50);
	} while (itest_now_us() < deadline);
	return false;
}

void itest_pump(itest *t, int ms)
{
	uint64_t end = itest_now_us() + (uint64_t)ms * 1000u;
	for (;;) {
		int r;
		while ((r = sd_bus_process(t->bus, NULL)) > 0)
			;
		uint64_t now = itest_now_us();
		if (now >= end)
			break;
		(void)sd_bus_wait(t->bus, end - now);
	}
}
