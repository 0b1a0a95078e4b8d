#include "dbus/client.h"

#include <errno.h>

int sl_dbus_read_result(sd_bus_message *m, sl_dbus_result *ret, sl_dbus_class *classes, size_t max_classes,
			sl_dbus_detection *detections, size_t max_detections)
{
	sl_dbus_result res = {.classes = classes, .detections = detections};
	int r = sd_bus_message_read(m, "tts", &res.sequence, &res.timestamp_us, &res.variant);
	if (r < 0)
		return r;
	r = sd_bus_message_enter_container(m, 'a', "(isd)");
	if (r < 0)
		return r;
	for (;;) {
		sl_dbus_class c;
		r = sd_bus_message_read(m, "(isd)", &c.index, &c.label, &c.score);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		if (res.n_classes < max_classes)
			classes[res.n_classes++] = c;
	}
	r = sd_bus_message_exit_container(m);
	if (r < 0)
		return r;
	r = sd_bus_message_enter_container(m, 'a', "(iddddd)");
	if (r < 0)
		return r;
	for (;;) {
		sl_dbus_detection d;
		r = sd_bus_message_read(m, "(iddddd)", &d.cls, &d.score, &d.x0, &d.y0, &d.x1, &d.y1);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		if (res.n_detections < max_detections)
			detections[res.n_detections++] = d;
	}
	r = sd_bus_message_exit_container(m);
	if (r < 0)
		return r;
	*ret = res;
	return 0;
}
