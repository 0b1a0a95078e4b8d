/* The daemon's model cache: least recently used out, bounded by file bytes,
 * a replaced file parsed again. Needs one real TFLite file (SL_SHARED_DIR),
 * copied under several names. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/engine.h"

static char dir[] = "/tmp/sl-cache-XXXXXX";
static char path[4][PATH_MAX];
static size_t file_bytes;

static void setup(void)
{
	const char *shared = getenv("SL_SHARED_DIR");
	char src[PATH_MAX];
	snprintf(src, sizeof(src), "%s/models/cifar10_resnet8_int8.tflite", shared ? shared : "../shared");
	FILE *in = fopen(src, "rb");
	if (!in)
		cr_skip_test("%s not available (set SL_SHARED_DIR)", src);
	cr_assert(mkdtemp(dir));
	static char buf[4 << 20];
	file_bytes = fread(buf, 1, sizeof(buf), in);
	fclose(in);
	cr_assert(file_bytes > 0 && file_bytes < sizeof(buf));
	for (int i = 0; i < 4; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/m%d.tflite", dir, i);
		FILE *f = fopen(path[i], "wb");
		cr_assert(f && fwrite(buf, 1, file_bytes, f) == file_bytes);
		fclose(f);
	}
}

static void teardown(void)
{
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

TestSuite(cache, .init = setup, .fini = teardown);

/* Whether path i comes from the cache: the same model object as before. */
static bool hit(sl_model_cache *c, int i, sl_model **last)
{
	sl_model *m = NULL;
	sl_error err = {{0}};
	cr_assert_eq(sl_model_cache_get(c, path[i], &m, &err), 0, "%s", err.msg);
	const bool same = m == last[i];
	sl_model_unref(last[i]);
	last[i] = m;
	return same;
}

Test(cache, least_recently_used_out_within_the_byte_limit)
{
	sl_model *last[4] = {0};
	sl_model_cache *c = sl_model_cache_new(2 * file_bytes);
	cr_assert(!hit(c, 0, last) && !hit(c, 1, last));
	cr_expect_eq(sl_model_cache_count(c), 2);
	cr_expect_eq(sl_model_cache_bytes(c), 2 * file_bytes);
	cr_expect(hit(c, 0, last), "0 is cached");
	cr_expect(!hit(c, 2, last), "2 is new: 1, the least recently used, makes room");
	cr_expect_eq(sl_model_cache_count(c), 2);
	cr_expect_eq(sl_model_cache_bytes(c), 2 * file_bytes);
	cr_expect(hit(c, 0, last) && hit(c, 2, last), "0 and 2 stay");
	cr_expect(!hit(c, 1, last), "1 was evicted");

	/* A lower limit evicts at once; 0 keeps nothing. */
	sl_model_cache_set_limit(c, file_bytes);
	cr_expect_eq(sl_model_cache_count(c), 1);
	cr_expect(hit(c, 1, last), "the most recent stays");
	sl_model_cache_set_limit(c, 0);
	cr_expect_eq(sl_model_cache_count(c), 0);
	cr_expect(!hit(c, 1, last) && !hit(c, 1, last), "nothing is kept");
	cr_expect_eq(sl_model_cache_bytes(c), 0u);

	/* A file replaced on disk is parsed again. */
	sl_model_cache_set_limit(c, 4 * file_bytes);
	cr_expect(!hit(c, 3, last) && hit(c, 3, last));
	const struct timespec later[2] = {{.tv_sec = time(NULL) + 10}, {.tv_sec = time(NULL) + 10}};
	cr_assert_eq(utimensat(AT_FDCWD, path[3], later, 0), 0);
	cr_expect(!hit(c, 3, last), "new mtime: parsed again");
	cr_expect_eq(sl_model_cache_count(c), 1, "the stale entry is gone, not kept beside");
	sl_model_cache_free(c);
	for (int i = 0; i < 4; i++)
		sl_model_unref(last[i]);
}
