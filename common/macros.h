/* Header-only helpers shared by every module: cleanup attributes and small
 * ownership utilities. No module-specific code may live here. */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define SL_UNUSED __attribute__((unused))
#define SL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SL_MAX(a, b) ((a) > (b) ? (a) : (b))
#define SL_ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((size_t)(a) - 1))

static inline void sl_freep(void *p) { free(*(void **)p); }
#define _cleanup_free_ _cleanup_(sl_freep)

static inline void sl_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
#define _cleanup_close_ _cleanup_(sl_closep)

/* Hand ownership out of a _cleanup_ variable. */
#define SL_TAKE_PTR(p)                   \
	({                               \
		__typeof__(p) _tmp_ = (p); \
		(p) = NULL;              \
		_tmp_;                   \
	})

/* Overflow-checked size arithmetic: return false on overflow. */
static inline int sl_mul_size(size_t a, size_t b, size_t *ret)
{
	return !__builtin_mul_overflow(a, b, ret);
}
static inline int sl_add_size(size_t a, size_t b, size_t *ret)
{
	return !__builtin_add_overflow(a, b, ret);
}
