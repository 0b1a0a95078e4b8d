#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dbus/service.h"

static int fail(sl_dbus_error *err, const char *fmt, const char *what, double v)
{
	if (err) {
		err->name = SD_BUS_ERROR_INVALID_ARGS;
		if (what)
			snprintf(err->message, sizeof(err->message), fmt, what);
		else
			snprintf(err->message, sizeof(err->message), fmt, v);
	}
	return -EINVAL;
}

/* Names end up in logs, JSON and file paths of tools: keep them to a plain
 * character set so no caller can smuggle control characters through. */
int sl_dbus_validate_variant_name(const char *name, sl_dbus_error *err)
{
	if (!name || !*name)
		return fail(err, "Variant name is empty%s", "", 0);
	size_t len = strnlen(name, SL_DBUS_NAME_MAX + 1);
	if (len > SL_DBUS_NAME_MAX) {
		char head[24];
		snprintf(head, sizeof(head), "%.16s", name);
		if (err) {
			err->name = SD_BUS_ERROR_INVALID_ARGS;
			snprintf(err->message, sizeof(err->message),
				 "Variant name '%s...' is %zu bytes long, the limit is %d", head,
				 strlen(name), SL_DBUS_NAME_MAX);
		}
		return -EINVAL;
	}
	for (const char *p = name; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '-' || c == '.' || c == '+';
		if (!ok) {
			if (err) {
				err->name = SD_BUS_ERROR_INVALID_ARGS;
				/* Only the part before the bad byte is echoed: it is all plain. */
				snprintf(err->message, sizeof(err->message),
					 "Variant name '%.*s' is followed by byte 0x%02x (offset %td); "
					 "allowed: A-Z a-z 0-9 _ - . +",
					 (int)(p - name), name, (unsigned char)c, p - name);
			}
			return -EINVAL;
		}
	}
	return 0;
}

int sl_dbus_validate_target(double target_ms, sl_dbus_error *err)
{
	if (isnan(target_ms))
		return fail(err, "Latency target %s is not a number", "NaN", 0);
	if (!isfinite(target_ms))
		return fail(err, "Latency target %g ms is infinite", NULL, target_ms);
	if (target_ms < SL_DBUS_TARGET_MIN_MS || target_ms > SL_DBUS_TARGET_MAX_MS) {
		if (err) {
			err->name = SD_BUS_ERROR_INVALID_ARGS;
			snprintf(err->message, sizeof(err->message),
				 "Latency target %g ms is out of range [%g, %g] ms", target_ms,
				 SL_DBUS_TARGET_MIN_MS, SL_DBUS_TARGET_MAX_MS);
		}
		return -EINVAL;
	}
	return 0;
}
