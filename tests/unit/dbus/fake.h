/* A fake daemon behind sl_dbus_ops, served on one end of a socketpair by a
 * thread, so the D-Bus API can be tested without a bus or a model. */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include "dbus/service.h"

typedef struct {
	/* what get_status reports */
	char state[32], active[80], mode[16], pending[80];
	double target;
	/* what the last action received */
	int set_variant_calls, set_auto_calls, reload_calls;
	char last_name[80];
	double last_target;
	/* how actions answer: 0 done, 1 keep the call (completed by the server
	 * thread with complete_with), negative: fail with fail_name */
	int act_result;
	int complete_with;
	const char *fail_name;
	sl_dbus_call *kept;
	bool have_result;
} fake_daemon;

typedef struct {
	fake_daemon fd;
	sl_dbus_service *svc;
	sd_bus *server, *client;
	pthread_t thread;
	int stop_pipe[2];
	pthread_mutex_t lock;
} fake_env;

int fake_env_start(fake_env *e, double result_rate_hz);
void fake_env_stop(fake_env *e);
/* Run fn on the server thread (the only one allowed to touch svc). */
void fake_env_on_server(fake_env *e, void (*fn)(fake_env *e, void *arg), void *arg);
