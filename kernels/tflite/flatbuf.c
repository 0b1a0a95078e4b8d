/* Bounds-checked FlatBuffers reader; see flatbuf.h. */
#include "kernels/tflite/flatbuf.h"

#include <string.h>

#include "kernels/model.h"

/* Element visits allowed per byte of file: a well-formed file visits each
 * table and element about once, so this only stops pathological sharing. */
#define SL_FB_BUDGET_PER_BYTE 16
#define SL_FB_BUDGET_MIN      65536

static int bad(sl_fb *fb, const char *why)
{
	fb->why = why;
	return -SL_E_FORMAT;
}

static bool in_range(const sl_fb *fb, size_t pos, size_t n)
{
	return pos <= fb->len && n <= fb->len - pos;
}

static uint16_t rd16(const sl_fb *fb, size_t pos)
{
	uint16_t v;
	memcpy(&v, fb->buf + pos, 2);
	return v; /* TFLite files are little-endian, like every target */
}

static uint32_t rd32(const sl_fb *fb, size_t pos)
{
	uint32_t v;
	memcpy(&v, fb->buf + pos, 4);
	return v;
}

static int spend(sl_fb *fb, uint64_t n)
{
	if (fb->budget < n)
		return bad(fb, "file too complex (shared offsets)");
	fb->budget -= n;
	return 0;
}

void sl_fb_init(sl_fb *fb, const void *buf, size_t len)
{
	fb->buf = buf;
	fb->len = len;
	fb->budget = (uint64_t)len * SL_FB_BUDGET_PER_BYTE + SL_FB_BUDGET_MIN;
	fb->why = NULL;
}

static int table_at(sl_fb *fb, size_t pos, sl_fb_table *ret)
{
	if (spend(fb, 1) < 0)
		return -SL_E_FORMAT;
	if (!in_range(fb, pos, 4))
		return bad(fb, "table out of range");
	int32_t soff;
	memcpy(&soff, fb->buf + pos, 4);
	const int64_t vt = (int64_t)pos - (int64_t)soff;
	if (vt < 0 || !in_range(fb, (size_t)vt, 4))
		return bad(fb, "vtable out of range");
	const uint16_t vt_len = rd16(fb, (size_t)vt), len = rd16(fb, (size_t)vt + 2);
	if (vt_len < 4 || (vt_len & 1) || !in_range(fb, (size_t)vt, vt_len))
		return bad(fb, "invalid vtable");
	if (len < 4 || !in_range(fb, pos, len))
		return bad(fb, "invalid table size");
	*ret = (sl_fb_table){.pos = pos, .vt = (size_t)vt, .vt_len = vt_len, .len = len, .present = true};
	return 0;
}

int sl_fb_root(sl_fb *fb, sl_fb_table *ret)
{
	if (fb->len < 8)
		return bad(fb, "file too small");
	return table_at(fb, rd32(fb, 0), ret);
}

/* Position of a field of `size` bytes: 1 present, 0 absent, <0 malformed. */
static int field(sl_fb *fb, const sl_fb_table *t, int slot, size_t size, size_t *ret)
{
	if (!t->present)
		return 0;
	const size_t e = 4 + 2 * (size_t)slot;
	if (e + 2 > t->vt_len)
		return 0;
	const uint16_t off = rd16(fb, t->vt + e);
	if (off == 0)
		return 0;
	if (off < 4 || off + size > t->len)
		return bad(fb, "field outside its table");
	*ret = t->pos + off;
	return 1;
}

/* Follows the uoffset stored in a field. */
static int deref(sl_fb *fb, const sl_fb_table *t, int slot, size_t *ret)
{
	size_t p;
	int r = field(fb, t, slot, 4, &p);
	if (r <= 0)
		return r;
	const uint32_t u = rd32(fb, p);
	if (u == 0 || !in_range(fb, p, (size_t)u) || !in_range(fb, p + u, 4))
		return bad(fb, "offset out of range");
	*ret = p + u;
	return 1;
}

#define SCALAR_GETTER(name, type)                                                                            \
	int name(sl_fb *fb, const sl_fb_table *t, int slot, type def, type *ret)                             \
	{                                                                                                    \
		size_t p;                                                                                    \
		int r = field(fb, t, slot, sizeof(type), &p);                                                \
		if (r < 0)                                                                                   \
			return r;                                                                            \
		if (r == 0)                                                                                  \
			*ret = def;                                                                          \
		else                                                                                         \
			memcpy(ret, fb->buf + p, sizeof(type));                                              \
		return 0;                                                                                    \
	}

SCALAR_GETTER(sl_fb_u8, uint8_t)
SCALAR_GETTER(sl_fb_i8, int8_t)
SCALAR_GETTER(sl_fb_i32, int32_t)
SCALAR_GETTER(sl_fb_u32, uint32_t)
SCALAR_GETTER(sl_fb_u64, uint64_t)
SCALAR_GETTER(sl_fb_f32, float)

int sl_fb_table_field(sl_fb *fb, const sl_fb_table *t, int slot, sl_fb_table *ret)
{
	size_t p;
	*ret = (sl_fb_table){0};
	int r = deref(fb, t, slot, &p);
	if (r <= 0)
		return r;
	return table_at(fb, p, ret);
}

static int vec_at(sl_fb *fb, size_t p, uint32_t elem, sl_fb_vec *ret)
{
	const uint32_t n = rd32(fb, p);
	if ((size_t)n > (fb->len - p - 4) / elem)
		return bad(fb, "vector out of range");
	*ret = (sl_fb_vec){.pos = p + 4, .n = n, .elem = elem};
	return 0;
}

int sl_fb_vec_field(sl_fb *fb, const sl_fb_table *t, int slot, uint32_t elem, sl_fb_vec *ret)
{
	size_t p;
	*ret = (sl_fb_vec){.elem = elem};
	int r = deref(fb, t, slot, &p);
	if (r <= 0)
		return r;
	return vec_at(fb, p, elem, ret);
}

int sl_fb_string(sl_fb *fb, const sl_fb_table *t, int slot, const char **ret, uint32_t *ret_len)
{
	size_t p;
	sl_fb_vec v;
	*ret = NULL;
	*ret_len = 0;
	int r = deref(fb, t, slot, &p);
	if (r <= 0)
		return r;
	if ((r = vec_at(fb, p, 1, &v)) < 0)
		return r;
	*ret = (const char *)fb->buf + v.pos;
	*ret_len = v.n;
	return 0;
}

static int elem_pos(sl_fb *fb, const sl_fb_vec *v, uint32_t i, uint32_t elem, size_t *ret)
{
	if (i >= v->n || v->elem != elem)
		return bad(fb, "vector index out of range");
	if (spend(fb, 1) < 0)
		return -SL_E_FORMAT;
	*ret = v->pos + (size_t)i * elem;
	return 0;
}

int sl_fb_vec_table(sl_fb *fb, const sl_fb_vec *v, uint32_t i, sl_fb_table *ret)
{
	size_t p;
	int r = elem_pos(fb, v, i, 4, &p);
	if (r < 0)
		return r;
	const uint32_t u = rd32(fb, p);
	if (u == 0 || !in_range(fb, p, (size_t)u))
		return bad(fb, "offset out of range");
	return table_at(fb, p + u, ret);
}

int sl_fb_vec_i32(sl_fb *fb, const sl_fb_vec *v, uint32_t i, int32_t *ret)
{
	size_t p;
	int r = elem_pos(fb, v, i, 4, &p);
	if (r == 0)
		memcpy(ret, fb->buf + p, 4);
	return r;
}

int sl_fb_vec_i64(sl_fb *fb, const sl_fb_vec *v, uint32_t i, int64_t *ret)
{
	size_t p;
	int r = elem_pos(fb, v, i, 8, &p);
	if (r == 0)
		memcpy(ret, fb->buf + p, 8);
	return r;
}

int sl_fb_vec_f32(sl_fb *fb, const sl_fb_vec *v, uint32_t i, float *ret)
{
	size_t p;
	int r = elem_pos(fb, v, i, 4, &p);
	if (r == 0)
		memcpy(ret, fb->buf + p, 4);
	return r;
}
