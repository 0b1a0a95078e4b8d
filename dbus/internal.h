/* Shared between the service and client halves of the library. */
#pragma once

#include "dbus/service.h"

int sl_dbus_append_result(sd_bus_message *m, const sl_dbus_result *res);
