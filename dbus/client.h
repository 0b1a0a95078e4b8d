/* Client-side helpers for sightctl and the tests: decode the result payload of
 * GetLatestResult and ResultReady. */
#pragma once

#include "dbus/service.h"

/* Read SL_DBUS_RESULT_SIG from m into ret. Strings point into m (valid while m
 * lives); classes and detections go into the caller's arrays, entries past
 * max_* are read and skipped. */
int sl_dbus_read_result(sd_bus_message *m, sl_dbus_result *ret, sl_dbus_class *classes, size_t max_classes,
			sl_dbus_detection *detections, size_t max_detections);
