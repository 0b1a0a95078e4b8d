/* Runner of the in-process Criterion stand-in (see criterion/criterion.h):
 * every registered test, every parameter, in this process. Exit status 1 when
 * anything failed. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static sl_cr_test *tests;
static jmp_buf env;
static bool failed;

void sl_cr_register(sl_cr_test *t)
{
	t->next = tests;
	tests = t;
}

void sl_cr_fail(bool fatal, const char *file, int line, const char *expr, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "[----] %s:%d: Assertion failed: %s\n[----]  ", file, line, expr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failed = true;
	if (fatal)
		longjmp(env, 1);
}

static bool skipped;

void sl_cr_skip(const char *fmt, ...)
{
	va_list ap;
	fputs("[----] skipped: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	skipped = true;
	longjmp(env, 1);
}

static bool run(const sl_cr_test *t, void *param)
{
	failed = skipped = false;
	if (setjmp(env) == 0) {
		if (t->fn)
			t->fn();
		else
			t->pfn(param);
	}
	fprintf(stderr, "[%s] %s::%s\n", failed ? "FAIL" : skipped ? "SKIP" : "PASS", t->suite, t->name);
	return !failed;
}

int main(void)
{
	int passed = 0, total = 0;
	for (const sl_cr_test *t = tests; t; t = t->next) {
		if (t->fn) {
			passed += run(t, NULL);
			total++;
			continue;
		}
		const struct criterion_test_params p = t->params();
		for (size_t i = 0; i < p.length; i++) {
			passed += run(t, (char *)p.params + i * p.size);
			total++;
		}
	}
	fprintf(stderr, "[====] Synthesis: Tested: %d | Passing: %d | Failing: %d (in-process runner)\n",
		total, passed, total - passed);
	return passed == total ? 0 : 1;
}
