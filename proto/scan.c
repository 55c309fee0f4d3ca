/* scan.c: the allocation-free msgpack pre-scan, duplicate-key check and
 * the bounded unpack built on them. See scan.h for why. */
#include "proto/scan.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/escape.h"

/* ---------------------------------------------------------------- limits */

struct tock_proto_limits
tock_proto_limits_resolve(const struct tock_proto_limits *lim)
{
    struct tock_proto_limits r = {0};

    if (lim != NULL)
        r = *lim;
    if (r.max_frame == 0)
        r.max_frame = TOCK_PROTO_MAX_FRAME;
    if (r.max_depth == 0)
        r.max_depth = TOCK_PROTO_MAX_DEPTH;
    if (r.max_depth > TOCK_PROTO_DEPTH_CEILING)
        r.max_depth = TOCK_PROTO_DEPTH_CEILING;
    if (r.max_count == 0)
        r.max_count = TOCK_PROTO_MAX_COUNT;
    if (r.max_str == 0)
        r.max_str = TOCK_PROTO_MAX_STR;
    if (r.max_args == 0)
        r.max_args = TOCK_PROTO_MAX_ARGS;
    return r;
}

/* ------------------------------------------------------------ byte walker */

/* One open container: how many items it still expects, where it began. */
struct scan_level {
    uint64_t left;
    size_t start;
    bool is_map;
};

struct scan {
    const uint8_t *p;
    size_t len;
    size_t pos; /* next unread byte */
    struct tock_proto_limits lim;
    const char *what;
    struct tock_error *err;
    struct scan_level stack[TOCK_PROTO_DEPTH_CEILING + 1];
    size_t top; /* stack[0] is the virtual level holding the one value */
};

static uint64_t load_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* need makes sure n more bytes follow the header byte at `at`. */
static int need(struct scan *s, size_t at, size_t n, const char *item)
{
    if (s->len - s->pos >= n)
        return 0;
    return tock_error_set(s->err, TOCK_ETRUNC,
                          "malformed %s: truncated: %s at byte %zu needs %zu "
                          "more bytes, %zu left",
                          s->what, item, at, n, s->len - s->pos);
}

static int utf8_check(struct scan *s, size_t at, size_t n)
{
    const unsigned char *q = s->p + s->pos;
    size_t i = 0, step;
    unsigned cp;

    while (i < n) {
        step = q[i] < 0x80 ? 1 : tock_utf8_decode(q + i, n - i, &cp);
        if (step == 0)
            return tock_error_set(s->err, TOCK_EUTF8,
                                  "malformed %s: invalid UTF-8 at byte %zu in "
                                  "the string at byte %zu",
                                  s->what, s->pos + i, at);
        i += step;
    }
    return 0;
}

/* blob checks a str/bin of n bytes starting at s->pos and skips it. */
static int blob(struct scan *s, size_t at, uint64_t n, bool is_str)
{
    const char *kind = is_str ? "string" : "binary";
    int rc;

    if (n > s->len - s->pos)
        return tock_error_set(s->err, TOCK_ETRUNC,
                              "malformed %s: truncated: %s length %" PRIu64
                              " exceeds the %zu bytes left at byte %zu",
                              s->what, kind, n, s->len - s->pos, at);
    if (n > s->lim.max_str)
        return tock_error_set(s->err, TOCK_ETOOBIG,
                              "malformed %s: %s length %" PRIu64
                              " at byte %zu exceeds the limit of %zu bytes",
                              s->what, kind, n, at, s->lim.max_str);
    if (is_str && (rc = utf8_check(s, at, (size_t)n)) != 0)
        return rc;
    s->pos += (size_t)n;
    return 0;
}

/* open pushes a container of n items (pairs for a map) begun at `at`. */
static int open_container(struct scan *s, size_t at, uint64_t n, bool is_map)
{
    const char *kind = is_map ? "map" : "array";
    /* Items to read (a map's keys and values), each at least one byte. */
    uint64_t items = is_map ? 2 * n : n;

    if (items > s->len - s->pos)
        return tock_error_set(s->err, TOCK_ETRUNC,
                              "malformed %s: truncated: %s of %" PRIu64
                              " %s exceeds the %zu bytes left at byte %zu",
                              s->what, kind, n, is_map ? "pairs" : "items",
                              s->len - s->pos, at);
    if (n > s->lim.max_count)
        return tock_error_set(s->err, TOCK_ETOOBIG,
                              "malformed %s: %s of %" PRIu64
                              " %s at byte %zu exceeds the limit of %zu",
                              s->what, kind, n, is_map ? "pairs" : "items", at,
                              s->lim.max_count);
    if (s->top + 1 > s->lim.max_depth)
        return tock_error_set(s->err, TOCK_ETOODEEP,
                              "malformed %s: nesting too deep: the %s at byte "
                              "%zu is at depth %zu, the limit is %zu",
                              s->what, kind, at, s->top + 1, s->lim.max_depth);
    s->top++;
    s->stack[s->top] = (struct scan_level){items, at, is_map};
    return 0;
}

static int scan_uint(struct scan *s, size_t at, size_t n)
{
    uint64_t v;
    int rc;

    if ((rc = need(s, at, n, "an integer")) != 0)
        return rc;
    v = load_be(s->p + s->pos, n);
    s->pos += n;
    if (v > INT64_MAX)
        return tock_error_set(s->err, TOCK_ERANGE,
                              "malformed %s: integer %" PRIu64
                              " at byte %zu exceeds INT64_MAX",
                              s->what, v, at);
    return 0;
}

static int scan_float(struct scan *s, size_t at, size_t n)
{
    uint64_t bits;
    double d;
    float f;
    uint32_t b32;
    int rc;

    if ((rc = need(s, at, n, "a float")) != 0)
        return rc;
    bits = load_be(s->p + s->pos, n);
    s->pos += n;
    if (n == 4) {
        b32 = (uint32_t)bits;
        memcpy(&f, &b32, 4);
        d = f;
    } else {
        memcpy(&d, &bits, 8);
    }
    if (!isfinite(d))
        return tock_error_set(s->err, TOCK_ERANGE,
                              "malformed %s: float %s at byte %zu is not "
                              "allowed (JSON has no NaN or infinity)",
                              s->what, isnan(d) ? "NaN" : "infinity", at);
    return 0;
}

/* sized reads an n-byte big-endian length after the header byte. */
static int sized(struct scan *s, size_t at, size_t n, uint64_t *out)
{
    int rc;

    if ((rc = need(s, at, n, "a length")) != 0)
        return rc;
    *out = load_be(s->p + s->pos, n);
    s->pos += n;
    return 0;
}

/* scan_ext refuses ext types; fixext and ext8/16/32 alike. */
static int scan_ext(struct scan *s, size_t at, uint8_t b)
{
    return tock_error_set(s->err, TOCK_EFORMAT,
                          "malformed %s: ext type (0x%02x) at byte %zu is not "
                          "allowed; tock frames carry no ext values",
                          s->what, b, at);
}

/* scan_item reads the value whose first byte is at s->pos: scalars
 * completely, containers only their header (which open_container pushes). */
static int scan_item(struct scan *s)
{
    size_t at = s->pos;
    uint8_t b = s->p[s->pos++];
    uint64_t n = 0;
    int rc;

    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 0; /* fixint, nil, bool */
    if (b <= 0x8f)
        return open_container(s, at, b & 0x0f, true);
    if (b <= 0x9f)
        return open_container(s, at, b & 0x0f, false);
    if (b <= 0xbf)
        return blob(s, at, b & 0x1f, true);
    switch (b) {
    case 0xc1:
        return tock_error_set(s->err, TOCK_EFORMAT,
                              "malformed %s: reserved byte 0xc1 at byte %zu",
                              s->what, at);
    case 0xc4: case 0xc5: case 0xc6:
        rc = sized(s, at, (size_t)1 << (b - 0xc4), &n);
        return rc ? rc : blob(s, at, n, false);
    case 0xca: return scan_float(s, at, 4);
    case 0xcb: return scan_float(s, at, 8);
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        return scan_uint(s, at, (size_t)1 << (b - 0xcc));
    case 0xd0: case 0xd1: case 0xd2: case 0xd3:
        rc = need(s, at, (size_t)1 << (b - 0xd0), "an integer");
        if (rc == 0)
            s->pos += (size_t)1 << (b - 0xd0);
        return rc;
    case 0xd9: case 0xda: case 0xdb:
        rc = sized(s, at, (size_t)1 << (b - 0xd9), &n);
        return rc ? rc : blob(s, at, n, true);
    case 0xdc: case 0xdd:
        rc = sized(s, at, (size_t)2 << (b - 0xdc), &n);
        return rc ? rc : open_container(s, at, n, false);
    case 0xde: case 0xdf:
        rc = sized(s, at, (size_t)2 << (b - 0xde), &n);
        return rc ? rc : open_container(s, at, n, true);
    default: /* 0xc7-0xc9 ext, 0xd4-0xd8 fixext */
        return scan_ext(s, at, b);
    }
}

/* end_of_data reports the innermost container still missing items. */
static int end_of_data(struct scan *s)
{
    struct scan_level *l = &s->stack[s->top];

    if (s->top == 0)
        return tock_error_set(s->err, TOCK_ETRUNC,
                              "malformed %s: truncated: no value at byte %zu",
                              s->what, s->pos);
    return tock_error_set(s->err, TOCK_ETRUNC,
                          "malformed %s: truncated: the %s at byte %zu is "
                          "missing %" PRIu64 " %s where the data ends at byte "
                          "%zu",
                          s->what, l->is_map ? "map" : "array", l->start,
                          l->left, l->left == 1 ? "item" : "items", s->len);
}

/* scan_one walks exactly one value starting at s->pos. */
static int scan_one(struct scan *s)
{
    int rc;

    s->top = 0;
    s->stack[0] = (struct scan_level){1, s->pos, false};
    for (;;) {
        while (s->stack[s->top].left == 0 && s->top > 0)
            s->top--;
        if (s->stack[s->top].left == 0)
            return 0;
        if (s->pos == s->len)
            return end_of_data(s);
        s->stack[s->top].left--;
        if ((rc = scan_item(s)) != 0)
            return rc;
    }
}

int tock_scan_bytes(const uint8_t *data, size_t len,
                    const struct tock_proto_limits *lim, const char *what,
                    struct tock_error *err)
{
    struct scan s = {.p = data, .len = len, .what = what, .err = err};
    int rc;

    s.lim = tock_proto_limits_resolve(lim);
    if (len == 0)
        return tock_error_set(err, TOCK_ETRUNC, "malformed %s: empty (0 bytes)",
                              what);
    if (len > s.lim.max_frame)
        return tock_error_set(err, TOCK_ETOOBIG,
                              "malformed %s: %zu bytes exceed the limit of %zu "
                              "bytes",
                              what, len, s.lim.max_frame);
    if ((rc = scan_one(&s)) != 0)
        return rc;
    if (s.pos != len)
        return tock_error_set(err, TOCK_EFORMAT,
                              "malformed %s: %zu trailing bytes after the value "
                              "that ends at byte %zu",
                              what, len - s.pos, s.pos);
    return 0;
}

int tock_scan_span(const uint8_t *data, size_t len, size_t off, size_t *end)
{
    struct scan s = {.p = data, .len = len, .pos = off, .what = "value"};
    int rc;

    s.lim = (struct tock_proto_limits){SIZE_MAX, TOCK_PROTO_DEPTH_CEILING,
                                       SIZE_MAX, SIZE_MAX, SIZE_MAX};
    if (off >= len)
        return TOCK_ETRUNC;
    if ((rc = scan_one(&s)) != 0)
        return rc;
    *end = s.pos;
    return 0;
}

/* ---------------------------------------------------- duplicate map keys */

static int type_rank(msgpack_object_type t)
{
    switch (t) {
    case MSGPACK_OBJECT_NIL: return 0;
    case MSGPACK_OBJECT_BOOLEAN: return 1;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return 2;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return 3;
    case MSGPACK_OBJECT_STR: return 4;
    case MSGPACK_OBJECT_BIN: return 5;
    case MSGPACK_OBJECT_ARRAY: return 6;
    case MSGPACK_OBJECT_MAP: return 7;
    default: return 8;
    }
}

static int cmp_i64(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b;
}

static int cmp_bytes(const char *a, uint32_t alen, const char *b, uint32_t blen)
{
    int c;

    if (alen != blen)
        return alen < blen ? -1 : 1;
    c = alen ? memcmp(a, b, alen) : 0;
    return c < 0 ? -1 : c > 0;
}

/* obj_cmp is a total order on scanned values (no NaN, ints <= INT64_MAX). */
static int obj_cmp(const msgpack_object *a, const msgpack_object *b)
{
    int ra = type_rank(a->type), rb = type_rank(b->type), c;
    uint32_t i;

    if (ra != rb)
        return ra < rb ? -1 : 1;
    switch (ra) {
    case 1:
        return (int)a->via.boolean - (int)b->via.boolean;
    case 2:
        return cmp_i64(a->via.i64, b->via.i64); /* u64 <= INT64_MAX */
    case 3:
        return a->via.f64 < b->via.f64 ? -1 : a->via.f64 > b->via.f64;
    case 4:
    case 5:
        return cmp_bytes(a->via.str.ptr, a->via.str.size, b->via.str.ptr,
                         b->via.str.size);
    case 6:
        if (a->via.array.size != b->via.array.size)
            return a->via.array.size < b->via.array.size ? -1 : 1;
        for (i = 0; i < a->via.array.size; i++)
            if ((c = obj_cmp(&a->via.array.ptr[i], &b->via.array.ptr[i])) != 0)
                return c;
        return 0;
    case 7:
        if (a->via.map.size != b->via.map.size)
            return a->via.map.size < b->via.map.size ? -1 : 1;
        for (i = 0; i < a->via.map.size; i++) {
            if ((c = obj_cmp(&a->via.map.ptr[i].key, &b->via.map.ptr[i].key)))
                return c;
            if ((c = obj_cmp(&a->via.map.ptr[i].val, &b->via.map.ptr[i].val)))
                return c;
        }
        return 0;
    default:
        return 0;
    }
}

static int kv_cmp(const void *x, const void *y)
{
    const msgpack_object_kv *a = *(const msgpack_object_kv *const *)x;
    const msgpack_object_kv *b = *(const msgpack_object_kv *const *)y;

    return obj_cmp(&a->key, &b->key);
}

static int dup_error(const msgpack_object_kv *a, const msgpack_object_kv *b,
                     const uint8_t *data, const char *what,
                     struct tock_error *err)
{
    const msgpack_object *k = &b->key;

    if (k->type != MSGPACK_OBJECT_STR)
        return tock_error_set(err, TOCK_EDUPKEY,
                              "malformed %s: a map holds the same %s key twice",
                              what, tock_scan_type_name(k->type));
    /* msgpack-c gives an empty str a NULL pointer: no offset for it. */
    if (a->key.via.str.ptr > k->via.str.ptr)
        k = &a->key;
    if (k->via.str.size == 0)
        return tock_error_set(err, TOCK_EDUPKEY,
                              "malformed %s: duplicate key \"\"", what);
    if (data == NULL)
        return tock_error_set(err, TOCK_EDUPKEY,
                              "malformed %s: duplicate key \"%.*s\"", what,
                              (int)(k->via.str.size > 64 ? 64 : k->via.str.size),
                              k->via.str.ptr);
    return tock_error_set(err, TOCK_EDUPKEY,
                          "malformed %s: duplicate key \"%.*s\" at byte %td",
                          what,
                          (int)(k->via.str.size > 64 ? 64 : k->via.str.size),
                          k->via.str.ptr,
                          (const uint8_t *)k->via.str.ptr - data);
}

/* map_dupkeys checks one map: pairwise when small, sorted otherwise. */
static int map_dupkeys(const msgpack_object_map *m, const uint8_t *data,
                       const char *what, struct tock_error *err)
{
    const msgpack_object_kv **v;
    uint32_t i, j;
    int rc = 0;

    if (m->size <= 8) {
        for (i = 0; i < m->size; i++)
            for (j = i + 1; j < m->size; j++)
                if (obj_cmp(&m->ptr[i].key, &m->ptr[j].key) == 0)
                    return dup_error(&m->ptr[i], &m->ptr[j], data, what, err);
        return 0;
    }
    v = tock_malloc(m->size * sizeof *v);
    if (v == NULL)
        return tock_error_set(err, TOCK_ENOMEM,
                              "out of memory checking a map of %u pairs",
                              m->size);
    for (i = 0; i < m->size; i++)
        v[i] = &m->ptr[i];
    qsort(v, m->size, sizeof *v, kv_cmp);
    for (i = 1; i < m->size && rc == 0; i++)
        if (kv_cmp(&v[i - 1], &v[i]) == 0)
            rc = dup_error(v[i - 1], v[i], data, what, err);
    tock_free(v);
    return rc;
}

int tock_scan_dupkeys(const msgpack_object *obj, const uint8_t *data,
                      const char *what, struct tock_error *err)
{
    uint32_t i;
    int rc;

    if (obj->type == MSGPACK_OBJECT_ARRAY) {
        for (i = 0; i < obj->via.array.size; i++)
            if ((rc = tock_scan_dupkeys(&obj->via.array.ptr[i], data, what,
                                        err)) != 0)
                return rc;
        return 0;
    }
    if (obj->type != MSGPACK_OBJECT_MAP)
        return 0;
    if ((rc = map_dupkeys(&obj->via.map, data, what, err)) != 0)
        return rc;
    for (i = 0; i < obj->via.map.size; i++) {
        if ((rc = tock_scan_dupkeys(&obj->via.map.ptr[i].key, data, what,
                                    err)) != 0)
            return rc;
        if ((rc = tock_scan_dupkeys(&obj->via.map.ptr[i].val, data, what,
                                    err)) != 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------- bounded unpack */

int tock_scan_unpack(const uint8_t *data, size_t len,
                     const struct tock_proto_limits *lim, const char *what,
                     msgpack_unpacked *unpacked, struct tock_error *err)
{
    msgpack_unpack_return ret;
    size_t off = 0;
    int rc;

    if ((rc = tock_scan_bytes(data, len, lim, what, err)) != 0)
        return rc;
    ret = msgpack_unpack_next(unpacked, (const char *)data, len, &off);
    if (ret == MSGPACK_UNPACK_NOMEM_ERROR)
        return tock_error_set(err, TOCK_ENOMEM,
                              "out of memory unpacking a %zu-byte %s", len,
                              what);
    /* The scan accepted exactly one complete value: anything else here is
     * a disagreement between the scan and msgpack-c, i.e. a tock bug. */
    if (ret != MSGPACK_UNPACK_SUCCESS || off != len)
        return tock_error_set(err, TOCK_EINTERNAL,
                              "msgpack-c refused a %s the pre-scan accepted "
                              "(result %d, %zu of %zu bytes): report this bug",
                              what, (int)ret, off, len);
    return tock_scan_dupkeys(&unpacked->data, data, what, err);
}

int tock_scan_value(const uint8_t *data, size_t len,
                    const struct tock_proto_limits *lim, const char *what,
                    struct tock_error *err)
{
    struct tock_proto_limits l = tock_proto_limits_resolve(lim);
    msgpack_unpacked u;
    int rc;

    if (len > l.max_args)
        return tock_error_set(err, TOCK_ETOOBIG,
                              "%s: %zu bytes exceed the limit of %zu bytes; "
                              "pass large data by reference (a path or URL)",
                              what, len, l.max_args);
    msgpack_unpacked_init(&u);
    rc = tock_scan_unpack(data, len, &l, what, &u, err);
    msgpack_unpacked_destroy(&u);
    return rc;
}

const char *tock_scan_type_name(msgpack_object_type type)
{
    switch (type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "float";
    case MSGPACK_OBJECT_STR: return "string";
    case MSGPACK_OBJECT_BIN: return "binary";
    case MSGPACK_OBJECT_ARRAY: return "array";
    case MSGPACK_OBJECT_MAP: return "map";
    default: return "ext";
    }
}
