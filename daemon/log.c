#include "daemon/log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

static bool to_journal;
static int max_level = SL_LOG_INFO;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void sl_log_init(void)
{
	to_journal = getenv("JOURNAL_STREAM") != NULL;
}

void sl_log_set_level(int level)
{
	max_level = level;
}

void sl_log(int level, const char *fmt, ...)
{
	if (level > max_level)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&lock);
	if (to_journal) {
		fprintf(stderr, "<%d>%s\n", level, line);
	} else {
		static const char *const tag[] = {"", "", "", "error: ", "warning: ", "", "", "debug: "};
		fprintf(stderr, "sightlined: %s%s\n", tag[level & 7], line);
	}
	pthread_mutex_unlock(&lock);
}
