/* Integration test harness: a private dbus-daemon (its configuration written
 * into the build folder, mirroring the system bus policy) and a sightlined
 * talking to it, per test. Never touches the host's buses. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

typedef struct {
	const char *ladder_json; /* manifest text; NULL: the repository's ladder */
	const char *extra_conf;	 /* INI text appended to the generated sightline.conf */
	bool permissive_bus;	 /* session-style allow-all bus instead of the system policy */
	const char *source;	 /* default "testsrc" */
	const char *variant;	 /* start variant; NULL: the first */
	bool valgrind;		 /* run sightlined under valgrind's leak checker */
	const char *env[4];	 /* extra "NAME=value" for sightlined (NULL-terminated) */
} itest_opts;

typedef struct {
	char dir[PATH_MAX / 2];	    /* this run's files, under the build folder */
	char sockdir[PATH_MAX / 2]; /* the bus socket (short path, world-traversable) */
	char address[PATH_MAX + 64];
	char conf[PATH_MAX];
	char log[PATH_MAX];
	char supp[PATH_MAX];
	pid_t bus_pid, daemon_pid;
	sd_bus *bus; /* client connection */
	itest_opts o;
} itest;

/* Skips the calling Criterion test when ../shared is missing. */
const char *itest_shared_models(void);
/* Starts bus and daemon and waits until the daemon serves a variant. */
void itest_start(itest *t, const itest_opts *o);
/* SIGTERM; returns the wait status. */
int itest_stop_daemon(itest *t);
void itest_cleanup(itest *t);
/* (Re)write the daemon's configuration (for Reload tests). */
void itest_write_conf(itest *t, const char *extra_conf);

/* Property helpers (assert on failure). */
char *itest_get_string(itest *t, const char *prop); /* caller frees */
double itest_get_double(itest *t, const char *prop);
uint64_t itest_get_u64(itest *t, const char *prop);
/* Calls a method of the interface; returns r and fills err (may be NULL). */
int itest_call(itest *t, const char *method, sd_bus_error *err, sd_bus_message **reply, const char *sig, ...);
/* Polls until prop equals want or timeout; returns true when it did. */
bool itest_wait_string(itest *t, const char *prop, const char *want, int timeout_ms);
/* Processes the client bus for up to ms (signal callbacks run). */
void itest_pump(itest *t, int ms);
uint64_t itest_now_us(void);
