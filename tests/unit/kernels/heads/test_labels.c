#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/heads/heads.h"

static sl_labels *parse_ok(const char *s)
{
	sl_labels *l = NULL;
	sl_error err = {{0}};
	int r = sl_labels_parse(s, strlen(s), &l, &err);
	cr_assert_eq(r, 0, "parse failed: %d %s", r, err.msg);
	return l;
}

Test(labels, basic_lines)
{
	sl_labels *l = parse_ok("background\ntench\ngoldfish\n");
	cr_assert_eq(l->n, 3);
	cr_assert_str_eq(sl_labels_get(l, 0), "background");
	cr_assert_str_eq(sl_labels_get(l, 2), "goldfish");
	cr_assert_null(sl_labels_get(l, 3));
	cr_assert_null(sl_labels_get(l, -1));
	sl_labels_free(l);
}

Test(labels, crlf_and_missing_final_newline)
{
	sl_labels *l = parse_ok("a\r\nb\r\nc");
	cr_assert_eq(l->n, 3);
	cr_assert_str_eq(sl_labels_get(l, 0), "a");
	cr_assert_str_eq(sl_labels_get(l, 1), "b");
	cr_assert_str_eq(sl_labels_get(l, 2), "c");
	sl_labels_free(l);
}

Test(labels, empty_lines_keep_their_index)
{
	sl_labels *l = parse_ok("a\n\nc\n");
	cr_assert_eq(l->n, 3);
	cr_assert_str_eq(sl_labels_get(l, 1), "");
	cr_assert_str_eq(sl_labels_get(l, 2), "c");
	sl_labels_free(l);
}

Test(labels, rejects_bad_input)
{
	sl_labels *l = NULL;
	sl_error err = {{0}};
	cr_assert_lt(sl_labels_parse("", 0, &l, &err), 0);
	cr_assert_null(l);

	char nul[] = "a\0b\n";
	cr_assert_lt(sl_labels_parse(nul, sizeof(nul) - 1, &l, &err), 0);
	cr_assert_null(l);
	cr_assert(strstr(err.msg, "NUL"), "%s", err.msg);

	size_t n = SL_LABELS_MAX_LINE + 2;
	char *lng = malloc(n + 1);
	memset(lng, 'x', n);
	lng[n] = '\0';
	cr_assert_lt(sl_labels_parse(lng, n, &l, &err), 0);
	cr_assert(strstr(err.msg, "longer"), "%s", err.msg);
	free(lng);

	/* One label too many. */
	size_t count = (size_t)SL_LABELS_MAX_COUNT + 1;
	char *many = malloc(count * 2);
	for (size_t i = 0; i < count; i++) {
		many[2 * i] = 'x';
		many[2 * i + 1] = '\n';
	}
	cr_assert_lt(sl_labels_parse(many, count * 2, &l, &err), 0);
	cr_assert_null(l);
	/* Exactly the limit is fine. */
	cr_assert_eq(sl_labels_parse(many, (count - 1) * 2, &l, &err), 0);
	cr_assert_eq(l->n, SL_LABELS_MAX_COUNT);
	sl_labels_free(l);
	free(many);
}

Test(labels, file_errors_name_the_file)
{
	sl_labels *l = NULL;
	sl_error err = {{0}};
	int r = sl_labels_load_file("/nonexistent/labels.txt", &l, &err);
	cr_assert_lt(r, 0);
	cr_assert_null(l);
	cr_assert(strstr(err.msg, "/nonexistent/labels.txt"), "%s", err.msg);
	cr_assert_lt(sl_labels_load_file("/", &l, &err), 0);
}

Test(labels, load_file)
{
	char path[] = "/tmp/sl_labels_XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	FILE *f = fdopen(fd, "w");
	fputs("zero\none\n", f);
	fclose(f);
	sl_labels *l = NULL;
	sl_error err = {{0}};
	cr_assert_eq(sl_labels_load_file(path, &l, &err), 0, "%s", err.msg);
	cr_assert_eq(l->n, 2);
	cr_assert_str_eq(sl_labels_get(l, 1), "one");
	sl_labels_free(l);
	unlink(path);
}

Test(labels, shared_imagenet_labels)
{
	const char *dir = getenv("SL_SHARED_DIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/models/imagenet_labels.txt", dir ? dir : "");
	if (!dir || access(path, R_OK) != 0)
		cr_skip_test("%s not available (set SL_SHARED_DIR)", path);
	sl_labels *l = NULL;
	sl_error err = {{0}};
	cr_assert_eq(sl_labels_load_file(path, &l, &err), 0, "%s", err.msg);
	cr_assert_eq(l->n, 1001);
	cr_assert_str_eq(sl_labels_get(l, 653), "military uniform");
	sl_labels_free(l);
}
