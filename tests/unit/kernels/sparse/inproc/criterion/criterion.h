/* In-process stand-in for the part of Criterion these tests use, for the
 * aarch64 cross build only. Criterion runs every test in a re-executed copy of
 * the test binary (execve of /proc/self/exe); under qemu-user that exec needs
 * binfmt_misc, which containers and many CI runners lack, so Criterion tests
 * cannot run there at all. Same test sources, same assertions; a failed
 * assertion ends its test (longjmp) and the run reports like Criterion. */
#pragma once

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct criterion_test_params {
	size_t size;
	void *params;
	size_t length;
};

#define cr_make_param_array(Type, Array, Len)                                                                \
	((struct criterion_test_params){.size = sizeof(Type), .params = (void *)(Array), .length = (Len)})

typedef struct sl_cr_test {
	const char *suite, *name;
	void (*fn)(void);
	void (*pfn)(void *);
	struct criterion_test_params (*params)(void);
	struct sl_cr_test *next;
} sl_cr_test;

void sl_cr_register(sl_cr_test *t);
__attribute__((format(printf, 5, 6))) void sl_cr_fail(bool fatal, const char *file, int line,
						      const char *expr, const char *fmt, ...);
/* Ends the test as skipped (neither passed nor failed). */
__attribute__((format(printf, 1, 2), noreturn)) void sl_cr_skip(const char *fmt, ...);
#define cr_skip_test(...) sl_cr_skip(__VA_ARGS__)

#define SL_CR_REG(suite, name, f, pf, pr)                                                                    \
	static sl_cr_test suite##_##name##_test = {#suite, #name, f, pf, pr, NULL};                          \
	__attribute__((constructor)) static void suite##_##name##_register(void)                             \
	{                                                                                                    \
		sl_cr_register(&suite##_##name##_test);                                                      \
	}

#define Test(suite, name)                                                                                    \
	static void suite##_##name##_impl(void);                                                             \
	SL_CR_REG(suite, name, suite##_##name##_impl, NULL, NULL)                                            \
	static void suite##_##name##_impl(void)

#define ParameterizedTestParameters(suite, name)                                                             \
	static struct criterion_test_params suite##_##name##_params(void)

/* The test takes a pointer to its parameter; it is called through a
 * void (*)(void *), which every ABI we target passes identically. */
#define ParameterizedTest(Param, suite, name)                                                                \
	static void suite##_##name##_pimpl(Param);                                                           \
	SL_CR_REG(suite, name, NULL, (void (*)(void *))(void (*)(void))suite##_##name##_pimpl,               \
		  suite##_##name##_params)                                                                   \
	static void suite##_##name##_pimpl(Param)

#define SL_CR_CHECK(fatal, cond, expr, ...)                                                                  \
	do {                                                                                                 \
		if (!(cond))                                                                                 \
			sl_cr_fail(fatal, __FILE__, __LINE__, expr, " " __VA_ARGS__);                        \
	} while (0)

#define cr_assert(cond, ...)	   SL_CR_CHECK(true, cond, #cond, __VA_ARGS__)
#define cr_assert_not(cond, ...)   SL_CR_CHECK(true, !(cond), "!(" #cond ")", __VA_ARGS__)
#define cr_assert_eq(a, b, ...)	   SL_CR_CHECK(true, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...)   SL_CR_CHECK(true, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...)	   SL_CR_CHECK(true, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...)   SL_CR_CHECK(true, (a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...)	   SL_CR_CHECK(true, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...)   SL_CR_CHECK(true, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...)	   SL_CR_CHECK(true, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) SL_CR_CHECK(true, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_assert_fail(...)	   SL_CR_CHECK(true, false, "cr_assert_fail", __VA_ARGS__)
#define cr_assert_arr_eq(a, b, n, ...)                                                                       \
	SL_CR_CHECK(true, memcmp((a), (b), (n)) == 0, #a " == " #b, __VA_ARGS__)

#define cr_expect(cond, ...)	   SL_CR_CHECK(false, cond, #cond, __VA_ARGS__)
#define cr_expect_not(cond, ...)   SL_CR_CHECK(false, !(cond), "!(" #cond ")", __VA_ARGS__)
#define cr_expect_eq(a, b, ...)	   SL_CR_CHECK(false, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_expect_neq(a, b, ...)   SL_CR_CHECK(false, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_expect_lt(a, b, ...)	   SL_CR_CHECK(false, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_expect_leq(a, b, ...)   SL_CR_CHECK(false, (a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_expect_gt(a, b, ...)	   SL_CR_CHECK(false, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_expect_geq(a, b, ...)   SL_CR_CHECK(false, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_expect_null(p, ...)	   SL_CR_CHECK(false, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_expect_not_null(p, ...) SL_CR_CHECK(false, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_expect_arr_eq(a, b, n, ...)                                                                       \
	SL_CR_CHECK(false, memcmp((a), (b), (n)) == 0, #a " == " #b, __VA_ARGS__)
