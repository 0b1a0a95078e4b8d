/* Logging for sightlined: plain lines on a terminal, syslog priority prefixes
 * when stderr goes to the journal (so `journalctl -p warning` works). */
#pragma once

#include <stdarg.h>
#include <stdio.h>

enum { SL_LOG_ERR = 3, SL_LOG_WARNING = 4, SL_LOG_NOTICE = 5, SL_LOG_INFO = 6, SL_LOG_DEBUG = 7 };

void sl_log_init(void);
void sl_log_set_level(int max_level);
__attribute__((format(printf, 2, 3))) void sl_log(int level, const char *fmt, ...);

#define log_error(...)	 sl_log(SL_LOG_ERR, __VA_ARGS__)
#define log_warning(...) sl_log(SL_LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	 sl_log(SL_LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	 sl_log(SL_LOG_INFO, __VA_ARGS__)
#define log_debug(...)	 sl_log(SL_LOG_DEBUG, __VA_ARGS__)
