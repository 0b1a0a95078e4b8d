/* A small, bounds-checked FlatBuffers reader for untrusted files.
 *
 * Every offset, vtable, field, vector and string is checked against the
 * buffer before it is used, values are read with memcpy (no alignment
 * assumptions), and a work budget bounds the total number of tables and
 * vector elements visited, so a file whose offsets form a DAG that references
 * the same large vector many times cannot make loading quadratic. The reader
 * is not recursive: nesting depth is the caller's fixed schema walk.
 *
 * All functions return 0 (or 1 for "present") on success and -SL_E_FORMAT on
 * malformed data, with a short reason in fb->why. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
	const uint8_t *buf;
	size_t len;
	uint64_t budget; /* remaining table/element visits */
	const char *why; /* reason of the last failure */
} sl_fb;

typedef struct {
	size_t pos;	 /* table start (where its soffset is) */
	size_t vt;	 /* vtable start */
	uint16_t vt_len; /* vtable bytes */
	uint16_t len;	 /* inline table bytes */
	bool present;	 /* false for an absent optional table */
} sl_fb_table;

typedef struct {
	size_t pos; /* first element */
	uint32_t n;
	uint32_t elem;
} sl_fb_vec;

void sl_fb_init(sl_fb *fb, const void *buf, size_t len);

/* Root table (uoffset at byte 0). */
int sl_fb_root(sl_fb *fb, sl_fb_table *ret);

/* Scalars: the default is returned when the field is absent. */
int sl_fb_u8(sl_fb *fb, const sl_fb_table *t, int slot, uint8_t def, uint8_t *ret);
int sl_fb_i8(sl_fb *fb, const sl_fb_table *t, int slot, int8_t def, int8_t *ret);
int sl_fb_i32(sl_fb *fb, const sl_fb_table *t, int slot, int32_t def, int32_t *ret);
int sl_fb_u32(sl_fb *fb, const sl_fb_table *t, int slot, uint32_t def, uint32_t *ret);
int sl_fb_u64(sl_fb *fb, const sl_fb_table *t, int slot, uint64_t def, uint64_t *ret);
int sl_fb_f32(sl_fb *fb, const sl_fb_table *t, int slot, float def, float *ret);

/* Sub-table; ret->present is false when absent. */
int sl_fb_table_field(sl_fb *fb, const sl_fb_table *t, int slot, sl_fb_table *ret);
/* Vector of elem-byte scalars (or of uoffsets to tables, elem 4); n == 0 when
 * absent. */
int sl_fb_vec_field(sl_fb *fb, const sl_fb_table *t, int slot, uint32_t elem, sl_fb_vec *ret);
/* String: *ret NULL when absent; not NUL-terminated in general. */
int sl_fb_string(sl_fb *fb, const sl_fb_table *t, int slot, const char **ret, uint32_t *ret_len);

/* Elements of a checked vector (i < v->n). */
int sl_fb_vec_table(sl_fb *fb, const sl_fb_vec *v, uint32_t i, sl_fb_table *ret);
int sl_fb_vec_i32(sl_fb *fb, const sl_fb_vec *v, uint32_t i, int32_t *ret);
int sl_fb_vec_i64(sl_fb *fb, const sl_fb_vec *v, uint32_t i, int64_t *ret);
int sl_fb_vec_f32(sl_fb *fb, const sl_fb_vec *v, uint32_t i, float *ret);
static inline const uint8_t *sl_fb_vec_data(const sl_fb *fb, const sl_fb_vec *v)
{
	return fb->buf + v->pos;
}
