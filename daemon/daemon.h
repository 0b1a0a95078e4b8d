/* sightlined's core: the sd-event main loop that owns the configuration, the
 * ladder, the source, the pipeline and loader threads, the latency controller
 * and the D-Bus service. Everything here runs on the main loop thread. */
#pragma once

#include <stdbool.h>

#include "daemon/config.h"

typedef enum {
	SL_BUS_SYSTEM, /* honours DBUS_SYSTEM_BUS_ADDRESS */
	SL_BUS_USER,
	SL_BUS_ADDRESS,
} sl_bus_kind;

typedef struct {
	sl_daemon_overrides ov;
	sl_bus_kind bus;
	const char *address; /* SL_BUS_ADDRESS */
} sl_daemon_args;

typedef struct sl_daemon sl_daemon;

/* Loads configuration and ladder; failures are logged and returned. */
int sl_daemon_new(const sl_daemon_args *args, sl_daemon **ret);
/* Runs until SIGTERM/SIGINT; returns the exit status. */
int sl_daemon_run(sl_daemon *d);
sl_daemon *sl_daemon_free(sl_daemon *d);
