/* json.c: the msgpack <-> JSON rendering described in json.h. */
#include "proto/json.h"

#include <string.h>

#include "core/alloc.h"
#include "proto/codec.h"

/* ---------------------------------------------------------------- base64 */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* b64_encode returns a new NUL-terminated string (tock_free), or NULL. */
static char *b64_encode(const uint8_t *p, size_t n)
{
    char *out = tock_malloc(n / 3 * 4 + 5), *o = out;
    size_t i;
    uint32_t v;

    if (out == NULL)
        return NULL;
    for (i = 0; i + 2 < n; i += 3) {
        v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = b64_alphabet[v >> 18];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = b64_alphabet[(v >> 6) & 63];
        *o++ = b64_alphabet[v & 63];
    }
    if (i < n) {
        v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = b64_alphabet[v >> 18];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

static int b64_value(char c)
{
    const char *at = c ? strchr(b64_alphabet, c) : NULL;

    return at ? (int)(at - b64_alphabet) : -1;
}

/* b64_decode decodes canonical padded base64 (what b64_encode writes: no
 * whitespace, unused bits zero) into out (capacity n / 4 * 3). Returns the
 * decoded length, or -1 when `s` is not canonical base64. */
static long b64_decode(const char *s, size_t n, uint8_t *out)
{
    size_t i, o = 0, pad = 0;
    uint32_t v;
    int d[4], k;

    if (n % 4 != 0)
        return -1;
    if (n > 0 && s[n - 1] == '=')
        pad = n > 1 && s[n - 2] == '=' ? 2 : 1;
    for (i = 0; i < n; i += 4) {
        for (k = 0; k < 4; k++) {
            bool padded = i + 4 == n && k >= 4 - (int)pad;
            d[k] = padded ? 0 : b64_value(s[i + k]);
            if (d[k] < 0)
                return -1;
        }
        v = (uint32_t)d[0] << 18 | (uint32_t)d[1] << 12 | (uint32_t)d[2] << 6 |
            (uint32_t)d[3];
        out[o++] = (uint8_t)(v >> 16);
        if (i + 4 < n || pad < 2)
            out[o++] = (uint8_t)(v >> 8);
        if (i + 4 < n || pad < 1)
            out[o++] = (uint8_t)v;
        if (i + 4 == n && (pad == 2 ? (v & 0xffff) : pad == 1 ? (v & 0xff) : 0))
            return -1; /* non-zero unused bits: not canonical */
    }
    return (long)o;
}

/* ------------------------------------------------------- msgpack -> JSON */

static json_t *from_object(const msgpack_object *o);

static bool key_plain(const msgpack_object *k)
{
    return k->type == MSGPACK_OBJECT_STR &&
           (k->via.str.size == 0 ||
            memchr(k->via.str.ptr, '\0', k->via.str.size) == NULL);
}

static bool key_is_marker(const msgpack_object *k)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == 4 &&
           (memcmp(k->via.str.ptr, "$bin", 4) == 0 ||
            memcmp(k->via.str.ptr, "$map", 4) == 0);
}

/* map_as_object: see json.h for when a map keeps the object form. */
static bool map_as_object(const msgpack_object_map *m)
{
    uint32_t i;

    if (m->size == 1 && key_is_marker(&m->ptr[0].key))
        return false;
    for (i = 0; i < m->size; i++)
        if (!key_plain(&m->ptr[i].key))
            return false;
    return true;
}

/* str_ptr: msgpack-c may give an empty str a NULL pointer; jansson
 * refuses a NULL key or string even with length 0. */
static const char *str_ptr(const msgpack_object *o)
{
    return o->via.str.size ? o->via.str.ptr : "";
}

/* pair_new returns [k, v], taking over both references (even on error). */
static json_t *pair_new(json_t *k, json_t *v)
{
    json_t *p = k && v ? json_array() : NULL;

    if (p != NULL && (json_array_append(p, k) != 0 ||
                      json_array_append(p, v) != 0)) {
        json_decref(p);
        p = NULL;
    }
    json_decref(k);
    json_decref(v);
    return p;
}

static json_t *from_map(const msgpack_object_map *m)
{
    json_t *out = json_object(), *pairs = NULL, *v;
    bool plain = map_as_object(m);
    uint32_t i;

    if (out == NULL || (!plain && (pairs = json_array()) == NULL))
        goto fail;
    for (i = 0; i < m->size; i++) {
        v = from_object(&m->ptr[i].val);
        if (plain) {
            if (v == NULL || json_object_setn_new(out, str_ptr(&m->ptr[i].key),
                                                  m->ptr[i].key.via.str.size,
                                                  v) != 0)
                goto fail;
            continue;
        }
        if (json_array_append_new(pairs,
                                  pair_new(from_object(&m->ptr[i].key), v)))
            goto fail;
    }
    if (!plain && json_object_set_new(out, "$map", pairs) != 0) {
        pairs = NULL;
        goto fail;
    }
    return out;
fail:
    json_decref(pairs);
    json_decref(out);
    return NULL;
}

static json_t *from_bin(const msgpack_object_bin *b)
{
    char *text = b64_encode((const uint8_t *)b->ptr, b->size);
    json_t *out = NULL;

    if (text != NULL)
        out = json_pack("{s:s}", "$bin", text);
    tock_free(text);
    return out;
}

/* from_object converts a scanned value; NULL means out of memory. jansson
 * steals the references handed to the *_new functions even when they fail
 * and accepts NULL there, so a failure anywhere surfaces as NULL here. */
static json_t *from_object(const msgpack_object *o)
{
    json_t *a;
    uint32_t i;

    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return json_null();
    case MSGPACK_OBJECT_BOOLEAN: return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return json_real(o->via.f64);
    case MSGPACK_OBJECT_STR:
        return json_stringn(str_ptr(o), o->via.str.size);
    case MSGPACK_OBJECT_BIN: return from_bin(&o->via.bin);
    case MSGPACK_OBJECT_ARRAY:
        if ((a = json_array()) == NULL)
            return NULL;
        for (i = 0; i < o->via.array.size; i++)
            if (json_array_append_new(a, from_object(&o->via.array.ptr[i])))
                return json_decref(a), NULL;
        return a;
    case MSGPACK_OBJECT_MAP: return from_map(&o->via.map);
    default: return NULL; /* ext: refused by the scan */
    }
}

int tock_json_from_msgpack(const uint8_t *data, size_t len,
                           const struct tock_proto_limits *lim, json_t **out,
                           struct tock_error *err)
{
    msgpack_unpacked u;
    int rc;

    *out = NULL;
    msgpack_unpacked_init(&u);
    rc = tock_scan_unpack(data, len, lim, "msgpack value", &u, err);
    if (rc == 0 && (*out = from_object(&u.data)) == NULL)
        rc = tock_error_set(err, TOCK_ENOMEM,
                            "out of memory rendering %zu bytes of msgpack as "
                            "JSON", len);
    msgpack_unpacked_destroy(&u);
    return rc;
}

int tock_json_msgpack_to_text(const uint8_t *data, size_t len,
                              const struct tock_proto_limits *lim, size_t flags,
                              char **out, struct tock_error *err)
{
    json_t *json = NULL;
    json_malloc_t jmalloc;
    json_free_t jfree;
    char *text;
    int rc;

    *out = NULL;
    if ((rc = tock_json_from_msgpack(data, len, lim, &json, err)) != 0)
        return rc;
    text = json_dumps(json, flags | JSON_ENCODE_ANY);
    json_decref(json);
    if (text != NULL)
        *out = tock_strdup(text);
    json_get_alloc_funcs(&jmalloc, &jfree);
    jfree(text); /* allocated by jansson, with its allocator */
    if (*out == NULL)
        return tock_error_set(err, TOCK_ENOMEM,
                              "out of memory rendering msgpack as JSON");
    return 0;
}

/* ------------------------------------------------------- JSON -> msgpack */

struct to_mp {
    msgpack_packer pk;
    struct tock_proto_buf buf;
    struct tock_proto_limits lim;
    const char *what;
    struct tock_error *err;
};

static int pack_json(struct to_mp *t, const json_t *j, size_t depth);

static int pack_bin_marker(struct to_mp *t, const json_t *s)
{
    const char *text = json_string_value(s);
    size_t n = json_string_length(s);
    uint8_t *raw;
    long got;

    if (text == NULL)
        return tock_error_set(t->err, TOCK_EFORMAT,
                              "%s: \"$bin\" must hold a base64 string", t->what);
    if ((raw = tock_malloc(n / 4 * 3 + 1)) == NULL)
        return tock_error_set(t->err, TOCK_ENOMEM, "out of memory");
    got = b64_decode(text, n, raw);
    if (got >= 0) {
        msgpack_pack_bin(&t->pk, (size_t)got);
        msgpack_pack_bin_body(&t->pk, raw, (size_t)got);
    }
    tock_free(raw);
    if (got < 0)
        return tock_error_set(t->err, TOCK_EFORMAT,
                              "%s: \"$bin\" is not canonical base64 (RFC 4648 "
                              "alphabet, '=' padding, no whitespace)",
                              t->what);
    return 0;
}

static int pack_map_marker(struct to_mp *t, const json_t *pairs, size_t depth)
{
    const json_t *pair;
    size_t i;
    int rc;

    if (!json_is_array(pairs))
        return tock_error_set(t->err, TOCK_EFORMAT,
                              "%s: \"$map\" must hold an array of [key, value] "
                              "pairs", t->what);
    msgpack_pack_map(&t->pk, json_array_size(pairs));
    for (i = 0; i < json_array_size(pairs); i++) {
        pair = json_array_get(pairs, i);
        if (!json_is_array(pair) || json_array_size(pair) != 2)
            return tock_error_set(t->err, TOCK_EFORMAT,
                                  "%s: \"$map\" item %zu is not a [key, value] "
                                  "pair", t->what, i);
        if ((rc = pack_json(t, json_array_get(pair, 0), depth)) != 0 ||
            (rc = pack_json(t, json_array_get(pair, 1), depth)) != 0)
            return rc;
    }
    return 0;
}

static int pack_object(struct to_mp *t, const json_t *j, size_t depth)
{
    json_t *obj = (json_t *)j; /* jansson's iterators take non-const */
    void *it = json_object_iter(obj);
    const char *key;
    size_t klen;
    int rc;

    if (json_object_size(j) == 1 && json_object_get(j, "$bin") != NULL)
        return pack_bin_marker(t, json_object_get(j, "$bin"));
    if (json_object_size(j) == 1 && json_object_get(j, "$map") != NULL)
        return pack_map_marker(t, json_object_get(j, "$map"), depth);
    msgpack_pack_map(&t->pk, json_object_size(j));
    for (; it != NULL; it = json_object_iter_next(obj, it)) {
        key = json_object_iter_key(it);
        klen = json_object_iter_key_len(it);
        msgpack_pack_str(&t->pk, klen);
        msgpack_pack_str_body(&t->pk, key, klen);
        if ((rc = pack_json(t, json_object_iter_value(it), depth)) != 0)
            return rc;
    }
    return 0;
}

static int pack_array(struct to_mp *t, const json_t *j, size_t depth)
{
    size_t i;
    int rc;

    msgpack_pack_array(&t->pk, json_array_size(j));
    for (i = 0; i < json_array_size(j); i++)
        if ((rc = pack_json(t, json_array_get(j, i), depth)) != 0)
            return rc;
    return 0;
}

/* pack_json appends j; depth counts the containers around it. */
static int pack_json(struct to_mp *t, const json_t *j, size_t depth)
{
    if (t->buf.len > t->lim.max_args)
        return tock_error_set(t->err, TOCK_ETOOBIG,
                              "%s: more than the limit of %zu bytes as msgpack",
                              t->what, t->lim.max_args);
    if ((json_is_object(j) || json_is_array(j)) && depth >= t->lim.max_depth)
        return tock_error_set(t->err, TOCK_ETOODEEP,
                              "%s: nesting too deep: the limit is %zu levels",
                              t->what, t->lim.max_depth);
    switch (json_typeof(j)) {
    case JSON_OBJECT: return pack_object(t, j, depth + 1);
    case JSON_ARRAY: return pack_array(t, j, depth + 1);
    case JSON_STRING:
        msgpack_pack_str(&t->pk, json_string_length(j));
        msgpack_pack_str_body(&t->pk, json_string_value(j),
                              json_string_length(j));
        return 0;
    case JSON_INTEGER: return msgpack_pack_int64(&t->pk, json_integer_value(j)), 0;
    case JSON_REAL: return msgpack_pack_double(&t->pk, json_real_value(j)), 0;
    case JSON_TRUE: return msgpack_pack_true(&t->pk), 0;
    case JSON_FALSE: return msgpack_pack_false(&t->pk), 0;
    case JSON_NULL: return msgpack_pack_nil(&t->pk), 0;
    }
    return TOCK_EINTERNAL;
}

int tock_json_to_msgpack(const json_t *json,
                         const struct tock_proto_limits *lim, const char *what,
                         uint8_t **out, size_t *outlen,
                         struct tock_error *err)
{
    struct to_mp t = {.what = what, .err = err};
    int rc;

    *out = NULL;
    *outlen = 0;
    t.lim = tock_proto_limits_resolve(lim);
    msgpack_packer_init(&t.pk, &t.buf, tock_proto_buf_write);
    rc = pack_json(&t, json, 0);
    if (rc == 0 && t.buf.oom)
        rc = tock_error_set(err, TOCK_ENOMEM,
                            "out of memory converting %s to msgpack", what);
    /* The same checks as every other msgpack value (counts, UTF-8,
     * duplicate "$map" keys), so JSON cannot smuggle in what msgpack
     * could not. */
    if (rc == 0)
        rc = tock_scan_value(t.buf.data, t.buf.len, &t.lim, what, err);
    if (rc != 0) {
        tock_proto_buf_release(&t.buf);
        return rc;
    }
    *out = t.buf.data;
    *outlen = t.buf.len;
    return 0;
}

int tock_json_text_to_msgpack(const char *text, size_t len,
                              const struct tock_proto_limits *lim,
                              const char *what, uint8_t **out, size_t *outlen,
                              struct tock_error *err)
{
    json_error_t jerr;
    json_t *json;
    int rc;

    *out = NULL;
    *outlen = 0;
    json = json_loadb(text, len,
                      JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL,
                      &jerr);
    if (json == NULL)
        return tock_error_set(err,
                              json_error_code(&jerr) == json_error_duplicate_key
                                  ? TOCK_EDUPKEY
                                  : TOCK_EFORMAT,
                              "%s: not valid JSON at line %d, column %d: %s",
                              what, jerr.line, jerr.column, jerr.text);
    rc = tock_json_to_msgpack(json, lim, what, out, outlen, err);
    json_decref(json);
    return rc;
}
