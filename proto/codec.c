/* codec.c: one table per message, one generic encoder, decoder and
 * comparator driven by those tables. The frame layout, units and version
 * rules are documented in codec.h above the encoders. */
#include "proto/codec.h"

#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "core/alloc.h"

/* ------------------------------------------------------------ the tables */

enum field_type {
    FT_STR,    /* char *, NUL-terminated */
    FT_I64,    /* int64_t */
    FT_INT,    /* int */
    FT_BOOL,   /* bool */
    FT_VALUE,  /* uint8_t * + size_t: one msgpack value, raw */
    FT_BIN,    /* uint8_t * + size_t: bin */
    FT_STATUS, /* enum tock_status, as its name */
    FT_EVTYPE, /* enum tock_event_type, as its name */
};

struct field {
    const char *key;
    enum field_type type;
    size_t off;     /* offset of the member */
    size_t len_off; /* FT_VALUE, FT_BIN: offset of the size_t length */
    bool required;
};

struct message {
    const char *what;
    const struct field *fields;
    size_t nfields;
    int (*init)(void *obj); /* zero and set the defaults of optional keys */
    void (*clear)(void *obj);
    int (*validate)(const void *obj, const struct tock_proto_limits *lim,
                    struct tock_error *err);
};

_Static_assert(sizeof(enum tock_status) == sizeof(int), "enum width");
_Static_assert(sizeof(enum tock_event_type) == sizeof(int), "enum width");

#define F(s, key, type, member, req)                                           \
    { key, type, offsetof(struct s, member), 0, req }
#define FB(s, key, type, member, lenmember, req)                               \
    { key, type, offsetof(struct s, member), offsetof(struct s, lenmember), req }

static const struct field job_fields[] = {
    F(tock_job, "id", FT_STR, id, true),
    F(tock_job, "name", FT_STR, name, false),
    F(tock_job, "queue", FT_STR, queue, false),
    F(tock_job, "handler", FT_STR, handler, true),
    FB(tock_job, "args", FT_VALUE, args, args_len, false),
    F(tock_job, "trigger", FT_STR, trigger, true),
    F(tock_job, "misfire_grace_ms", FT_I64, misfire_grace_ms, false),
    F(tock_job, "coalesce", FT_BOOL, coalesce, false),
    F(tock_job, "max_instances", FT_INT, max_instances, false),
    F(tock_job, "jitter_ms", FT_I64, jitter_ms, false),
    F(tock_job, "timeout_ms", FT_I64, timeout_ms, false),
    F(tock_job, "retries", FT_INT, retries, false),
    F(tock_job, "retry_backoff_ms", FT_I64, retry_backoff_ms, false),
    F(tock_job, "max_deliveries", FT_INT, max_deliveries, false),
    F(tock_job, "paused", FT_BOOL, paused, false),
    F(tock_job, "start_ms", FT_I64, start_ms, false),
    F(tock_job, "end_ms", FT_I64, end_ms, false),
    F(tock_job, "version", FT_I64, version, false),
};

static const struct field task_fields[] = {
    F(tock_task, "occ", FT_STR, occ, true),
    F(tock_task, "job", FT_STR, job, true),
    F(tock_task, "handler", FT_STR, handler, true),
    FB(tock_task, "args", FT_VALUE, args, args_len, false),
    F(tock_task, "queue", FT_STR, queue, true),
    F(tock_task, "sched_ms", FT_I64, sched_ms, true),
    F(tock_task, "fire_ms", FT_I64, fire_ms, true),
    F(tock_task, "attempt", FT_INT, attempt, true),
    F(tock_task, "timeout_ms", FT_I64, timeout_ms, false),
    F(tock_task, "max_deliveries", FT_INT, max_deliveries, false),
};

static const struct field result_fields[] = {
    F(tock_result, "occ", FT_STR, occ, true),
    F(tock_result, "status", FT_STATUS, status, true),
    F(tock_result, "worker", FT_STR, worker, true),
    F(tock_result, "attempt", FT_INT, attempt, true),
    F(tock_result, "started_ms", FT_I64, started_ms, true),
    F(tock_result, "finished_ms", FT_I64, finished_ms, true),
    F(tock_result, "exit_code", FT_INT, exit_code, false),
    F(tock_result, "error", FT_STR, error, false),
    FB(tock_result, "output", FT_BIN, output, output_len, false),
};

static const struct field event_fields[] = {
    F(tock_event, "type", FT_EVTYPE, type, true),
    F(tock_event, "ts_ms", FT_I64, ts_ms, true),
    F(tock_event, "job", FT_STR, job, false),
    F(tock_event, "occ", FT_STR, occ, false),
    F(tock_event, "node", FT_STR, node, false),
    F(tock_event, "detail", FT_STR, detail, false),
};

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))
/* map_fields tracks the keys it saw in a bool[MAX_FIELDS]. */
#define MAX_FIELDS 32
_Static_assert(NFIELDS(job_fields) <= MAX_FIELDS, "grow MAX_FIELDS");

/* Adapters giving every message the same function types. */

static int job_init(void *o) { return tock_job_init_defaults(o); }
static void job_clear(void *o) { tock_job_clear(o); }
static int job_validate(const void *o, const struct tock_proto_limits *l,
                        struct tock_error *e)
{
    return tock_job_validate(o, l, e);
}

static int task_init(void *o)
{
    struct tock_task *t = o;

    memset(t, 0, sizeof *t);
    t->proto_version = TOCK_PROTO_VERSION;
    t->max_deliveries = TOCK_DEFAULT_MAX_DELIVERIES;
    return 0;
}
static void task_clear(void *o) { tock_task_clear(o); }
static int task_validate(const void *o, const struct tock_proto_limits *l,
                         struct tock_error *e)
{
    return tock_task_validate(o, l, e);
}

static int result_init(void *o)
{
    struct tock_result *r = o;

    memset(r, 0, sizeof *r);
    r->exit_code = -1;
    return 0;
}
static void result_clear(void *o) { tock_result_clear(o); }
static int result_validate(const void *o, const struct tock_proto_limits *l,
                           struct tock_error *e)
{
    (void)l;
    return tock_result_validate(o, e);
}

static int event_init(void *o)
{
    memset(o, 0, sizeof(struct tock_event));
    return 0;
}
static void event_clear(void *o) { tock_event_clear(o); }
static int event_validate(const void *o, const struct tock_proto_limits *l,
                          struct tock_error *e)
{
    (void)l;
    return tock_event_validate(o, e);
}

static const struct message job_msg = {
    "job", job_fields, NFIELDS(job_fields), job_init, job_clear, job_validate,
};
static const struct message task_msg = {
    "task", task_fields, NFIELDS(task_fields), task_init, task_clear,
    task_validate,
};
static const struct message result_msg = {
    "result", result_fields, NFIELDS(result_fields), result_init,
    result_clear, result_validate,
};
static const struct message event_msg = {
    "event", event_fields, NFIELDS(event_fields), event_init, event_clear,
    event_validate,
};

/* Member access by offset. */
#define AT(obj, off, type) ((type *)(void *)((char *)(obj) + (off)))
#define CAT(obj, off, type)                                                    \
    ((const type *)(const void *)((const char *)(obj) + (off)))

/* ---------------------------------------------------------- byte buffer */

int tock_proto_buf_write(void *data, const char *buf, size_t len)
{
    struct tock_proto_buf *b = data;
    size_t cap;
    uint8_t *grown;

    if (b->oom)
        return -1;
    if (len > SIZE_MAX / 2 - b->len) {
        b->oom = true;
        return -1;
    }
    if (b->len + len > b->cap) {
        cap = b->cap ? b->cap : 256;
        while (cap < b->len + len)
            cap *= 2;
        grown = tock_realloc(b->data, cap);
        if (grown == NULL) {
            b->oom = true;
            return -1;
        }
        b->data = grown;
        b->cap = cap;
    }
    if (len > 0)
        memcpy(b->data + b->len, buf, len);
    b->len += len;
    return 0;
}

void tock_proto_buf_release(struct tock_proto_buf *b)
{
    tock_free(b->data);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------- encoding */

static bool field_present(const struct field *f, const void *obj)
{
    switch (f->type) {
    case FT_STR:
        return *CAT(obj, f->off, char *) != NULL;
    case FT_VALUE:
    case FT_BIN:
        return *CAT(obj, f->off, uint8_t *) != NULL;
    default:
        return true;
    }
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);

    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_field(msgpack_packer *pk, const struct field *f,
                       const void *obj)
{
    const uint8_t *bytes;
    size_t len;

    pack_cstr(pk, f->key);
    switch (f->type) {
    case FT_STR:
        pack_cstr(pk, *CAT(obj, f->off, char *));
        break;
    case FT_I64:
        msgpack_pack_int64(pk, *CAT(obj, f->off, int64_t));
        break;
    case FT_INT:
        msgpack_pack_int(pk, *CAT(obj, f->off, int));
        break;
    case FT_BOOL:
        if (*CAT(obj, f->off, bool))
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        break;
    case FT_VALUE: /* already one validated msgpack value: copy it as is */
        bytes = *CAT(obj, f->off, uint8_t *);
        len = *CAT(obj, f->len_off, size_t);
        pk->callback(pk->data, (const char *)bytes, len);
        break;
    case FT_BIN:
        bytes = *CAT(obj, f->off, uint8_t *);
        len = *CAT(obj, f->len_off, size_t);
        msgpack_pack_bin(pk, len);
        msgpack_pack_bin_body(pk, bytes, len);
        break;
    case FT_STATUS:
        pack_cstr(pk, tock_status_name(*CAT(obj, f->off, enum tock_status)));
        break;
    case FT_EVTYPE:
        pack_cstr(pk,
                  tock_event_type_name(*CAT(obj, f->off, enum tock_event_type)));
        break;
    }
}

static int encode_message(const struct message *m, const void *obj,
                          uint8_t **out, size_t *outlen,
                          struct tock_error *err)
{
    struct tock_proto_buf b = {0};
    msgpack_packer pk;
    size_t i, count = 1;
    int rc;

    *out = NULL;
    *outlen = 0;
    if ((rc = m->validate(obj, NULL, err)) != 0)
        return rc;
    for (i = 0; i < m->nfields; i++)
        count += field_present(&m->fields[i], obj);
    msgpack_packer_init(&pk, &b, tock_proto_buf_write);
    msgpack_pack_map(&pk, count);
    pack_cstr(&pk, "v");
    msgpack_pack_int(&pk, TOCK_PROTO_VERSION);
    for (i = 0; i < m->nfields; i++)
        if (field_present(&m->fields[i], obj))
            pack_field(&pk, &m->fields[i], obj);
    if (b.oom) {
        tock_proto_buf_release(&b);
        return tock_error_set(err, TOCK_ENOMEM, "out of memory encoding a %s",
                              m->what);
    }
    if (b.len > TOCK_PROTO_MAX_FRAME) {
        tock_proto_buf_release(&b);
        return tock_error_set(err, TOCK_ETOOBIG,
                              "%s frame of %zu bytes exceeds the limit of %d "
                              "bytes",
                              m->what, b.len, TOCK_PROTO_MAX_FRAME);
    }
    *out = b.data;
    *outlen = b.len;
    return 0;
}

int tock_proto_encode_job(const struct tock_job *in, uint8_t **out,
                          size_t *outlen, struct tock_error *err)
{
    return encode_message(&job_msg, in, out, outlen, err);
}

int tock_proto_encode_task(const struct tock_task *in, uint8_t **out,
                           size_t *outlen, struct tock_error *err)
{
    return encode_message(&task_msg, in, out, outlen, err);
}

int tock_proto_encode_result(const struct tock_result *in, uint8_t **out,
                             size_t *outlen, struct tock_error *err)
{
    return encode_message(&result_msg, in, out, outlen, err);
}

int tock_proto_encode_event(const struct tock_event *in, uint8_t **out,
                            size_t *outlen, struct tock_error *err)
{
    return encode_message(&event_msg, in, out, outlen, err);
}

/* ------------------------------------------------------------- decoding */

/* One decode in progress: the bytes, for offsets, and the message kind. */
struct decoder {
    const struct message *m;
    const uint8_t *data;
    size_t len;
    struct tock_error *err;
};

static bool key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);

    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, name, n) == 0;
}

/* value_off: a map value's bytes start right after its (str) key's bytes. */
static size_t value_off(const struct decoder *d, const msgpack_object *key)
{
    return (size_t)((const uint8_t *)key->via.str.ptr - d->data) +
           key->via.str.size;
}

static int type_error(const struct decoder *d, const msgpack_object_kv *kv,
                      const char *want)
{
    return tock_error_set(d->err, TOCK_ETYPE,
                          "malformed %s: field \"%.*s\" at byte %zu must be %s, "
                          "not %s",
                          d->m->what, (int)kv->key.via.str.size,
                          kv->key.via.str.ptr, value_off(d, &kv->key), want,
                          tock_scan_type_name(kv->val.type));
}

static bool is_int(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
           o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
}

/* check_version finds "v" and refuses versions this reader does not know. */
static int check_version(const struct decoder *d, const msgpack_object_map *m,
                         int *version)
{
    uint32_t i;
    int64_t v;

    for (i = 0; i < m->size && !key_is(&m->ptr[i].key, "v"); i++)
        ;
    if (i == m->size)
        return tock_error_set(d->err, TOCK_EMISSING,
                              "malformed %s: the protocol version \"v\" is "
                              "missing",
                              d->m->what);
    if (!is_int(&m->ptr[i].val))
        return type_error(d, &m->ptr[i], "an integer");
    v = m->ptr[i].val.via.i64;
    if (v > TOCK_PROTO_VERSION)
        return tock_error_set(d->err, TOCK_EVERSION,
                              "%s has protocol version %" PRId64 " but this "
                              "tock reads only version %d: upgrade this node "
                              "(upgrade readers before writers)",
                              d->m->what, v, TOCK_PROTO_VERSION);
    if (v < 1)
        return tock_error_set(d->err, TOCK_EVERSION,
                              "%s has protocol version %" PRId64 ", which no "
                              "tock writes (versions start at 1): the sender "
                              "is not tock or is broken",
                              d->m->what, v);
    *version = (int)v;
    return 0;
}

static int decode_str(const struct decoder *d, const msgpack_object_kv *kv,
                      char **dst)
{
    const msgpack_object_str *s = &kv->val.via.str;
    char *copy;

    if (kv->val.type != MSGPACK_OBJECT_STR)
        return type_error(d, kv, "a string");
    if (s->size > 0 && memchr(s->ptr, '\0', s->size) != NULL)
        return tock_error_set(d->err, TOCK_EFORMAT,
                              "malformed %s: field \"%.*s\" at byte %zu "
                              "contains a NUL byte",
                              d->m->what, (int)kv->key.via.str.size,
                              kv->key.via.str.ptr, value_off(d, &kv->key));
    copy = tock_strndup(s->size ? s->ptr : "", s->size);
    if (copy == NULL)
        return tock_error_set(d->err, TOCK_ENOMEM, "out of memory decoding a %s",
                              d->m->what);
    tock_free(*dst); /* a default such as the job's queue */
    *dst = copy;
    return 0;
}

static int decode_bytes(const struct decoder *d, const msgpack_object_kv *kv,
                        const struct field *f, void *obj)
{
    const uint8_t *src;
    size_t start = value_off(d, &kv->key), end = 0, n;
    uint8_t *copy;

    if (f->type == FT_BIN) {
        if (kv->val.type != MSGPACK_OBJECT_BIN)
            return type_error(d, kv, "binary");
        src = (const uint8_t *)kv->val.via.bin.ptr;
        n = kv->val.via.bin.size;
    } else {
        if (tock_scan_span(d->data, d->len, start, &end) != 0)
            return tock_error_set(d->err, TOCK_EINTERNAL,
                                  "args of a scanned %s are unreadable at "
                                  "byte %zu: report this bug",
                                  d->m->what, start);
        src = d->data + start;
        n = end - start;
    }
    copy = tock_memdup(src, n);
    if (copy == NULL)
        return tock_error_set(d->err, TOCK_ENOMEM, "out of memory decoding a %s",
                              d->m->what);
    *AT(obj, f->off, uint8_t *) = copy;
    *AT(obj, f->len_off, size_t) = n;
    return 0;
}

static int decode_int(const struct decoder *d, const msgpack_object_kv *kv,
                      const struct field *f, void *obj)
{
    int64_t v;

    if (!is_int(&kv->val))
        return type_error(d, kv, "an integer");
    v = kv->val.via.i64; /* positive values are <= INT64_MAX (scan.c) */
    if (f->type == FT_I64) {
        *AT(obj, f->off, int64_t) = v;
        return 0;
    }
    if (v < INT_MIN || v > INT_MAX)
        return tock_error_set(d->err, TOCK_ERANGE,
                              "malformed %s: field \"%s\" at byte %zu: %" PRId64
                              " is out of range",
                              d->m->what, f->key, value_off(d, &kv->key), v);
    *AT(obj, f->off, int) = (int)v;
    return 0;
}

static int decode_name(const struct decoder *d, const msgpack_object_kv *kv,
                       const struct field *f, void *obj)
{
    const msgpack_object_str *s = &kv->val.via.str;
    int rc;

    if (kv->val.type != MSGPACK_OBJECT_STR)
        return type_error(d, kv, "a string");
    if (f->type == FT_STATUS)
        rc = tock_status_parse(s->ptr, s->size, AT(obj, f->off, enum tock_status));
    else
        rc = tock_event_type_parse(s->ptr, s->size,
                                   AT(obj, f->off, enum tock_event_type));
    if (rc == 0)
        return 0;
    return tock_error_set(d->err, TOCK_EINVAL,
                          "malformed %s: unknown %s \"%.*s\" at byte %zu%s",
                          d->m->what, f->key, (int)(s->size > 40 ? 40 : s->size),
                          s->ptr, value_off(d, &kv->key),
                          f->type == FT_STATUS
                              ? ": use ok, error, timeout, crashed or cancelled"
                              : "");
}

static int decode_field(const struct decoder *d, const msgpack_object_kv *kv,
                        const struct field *f, void *obj)
{
    switch (f->type) {
    case FT_STR:
        return decode_str(d, kv, AT(obj, f->off, char *));
    case FT_I64:
    case FT_INT:
        return decode_int(d, kv, f, obj);
    case FT_BOOL:
        if (kv->val.type != MSGPACK_OBJECT_BOOLEAN)
            return type_error(d, kv, "a boolean");
        *AT(obj, f->off, bool) = kv->val.via.boolean;
        return 0;
    case FT_VALUE:
    case FT_BIN:
        return decode_bytes(d, kv, f, obj);
    case FT_STATUS:
    case FT_EVTYPE:
        return decode_name(d, kv, f, obj);
    }
    return TOCK_EINTERNAL;
}

static const struct field *find_field(const struct message *m,
                                      const msgpack_object *key)
{
    size_t i;

    for (i = 0; i < m->nfields; i++)
        if (key_is(key, m->fields[i].key))
            return &m->fields[i];
    return NULL;
}

/* map_fields assigns every known key; unknown keys are skipped. Duplicate
 * keys were refused by tock_scan_unpack already. */
static int map_fields(const struct decoder *d, const msgpack_object_map *m,
                      void *obj)
{
    bool seen[MAX_FIELDS] = {false};
    const struct field *f;
    uint32_t i;
    size_t k;
    int rc;

    for (i = 0; i < m->size; i++) {
        if (m->ptr[i].key.type != MSGPACK_OBJECT_STR)
            return tock_error_set(d->err, TOCK_ETYPE,
                                  "malformed %s: key %u of the map is %s; "
                                  "keys must be strings",
                                  d->m->what, i + 1,
                                  tock_scan_type_name(m->ptr[i].key.type));
        if ((f = find_field(d->m, &m->ptr[i].key)) == NULL)
            continue;
        if ((rc = decode_field(d, &m->ptr[i], f, obj)) != 0)
            return rc;
        seen[f - d->m->fields] = true;
    }
    for (k = 0; k < d->m->nfields; k++)
        if (d->m->fields[k].required && !seen[k])
            return tock_error_set(d->err, TOCK_EMISSING,
                                  "malformed %s: required field \"%s\" is "
                                  "missing",
                                  d->m->what, d->m->fields[k].key);
    return 0;
}

static int decode_message(const struct message *m, const uint8_t *data,
                          size_t len, const struct tock_proto_limits *lim,
                          void *obj, int *version, struct tock_error *err)
{
    struct decoder d = {m, data, len, err};
    msgpack_unpacked u;
    int rc;

    msgpack_unpacked_init(&u);
    if ((rc = m->init(obj)) != 0) {
        tock_error_set(err, rc, "out of memory decoding a %s", m->what);
        goto done;
    }
    if ((rc = tock_scan_unpack(data, len, lim, m->what, &u, err)) != 0)
        goto done;
    if (u.data.type != MSGPACK_OBJECT_MAP) {
        rc = tock_error_set(err, TOCK_ETYPE,
                            "malformed %s: the frame must be a map, not %s",
                            m->what, tock_scan_type_name(u.data.type));
        goto done;
    }
    if ((rc = check_version(&d, &u.data.via.map, version)) != 0 ||
        (rc = map_fields(&d, &u.data.via.map, obj)) != 0)
        goto done;
    rc = m->validate(obj, lim, err);
done:
    msgpack_unpacked_destroy(&u);
    if (rc != 0)
        m->clear(obj);
    return rc;
}

int tock_proto_decode_job(const uint8_t *data, size_t len,
                          const struct tock_proto_limits *lim,
                          struct tock_job *out, struct tock_error *err)
{
    int version;

    return decode_message(&job_msg, data, len, lim, out, &version, err);
}

int tock_proto_decode_task(const uint8_t *data, size_t len,
                           const struct tock_proto_limits *lim,
                           struct tock_task *out, struct tock_error *err)
{
    int version = 0;
    int rc = decode_message(&task_msg, data, len, lim, out, &version, err);

    if (rc == 0)
        out->proto_version = version;
    return rc;
}

int tock_proto_decode_result(const uint8_t *data, size_t len,
                             const struct tock_proto_limits *lim,
                             struct tock_result *out, struct tock_error *err)
{
    int version;

    return decode_message(&result_msg, data, len, lim, out, &version, err);
}

int tock_proto_decode_event(const uint8_t *data, size_t len,
                            const struct tock_proto_limits *lim,
                            struct tock_event *out, struct tock_error *err)
{
    int version;

    return decode_message(&event_msg, data, len, lim, out, &version, err);
}

/* ------------------------------------------------------------- equality */

static bool opt_str_equal(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool bytes_equal(const struct field *f, const void *a, const void *b)
{
    const uint8_t *pa = *CAT(a, f->off, uint8_t *);
    const uint8_t *pb = *CAT(b, f->off, uint8_t *);
    size_t n = *CAT(a, f->len_off, size_t);

    if ((pa == NULL) != (pb == NULL) || n != *CAT(b, f->len_off, size_t))
        return false;
    return pa == NULL || n == 0 || memcmp(pa, pb, n) == 0;
}

static bool field_equal(const struct field *f, const void *a, const void *b)
{
    switch (f->type) {
    case FT_STR:
        return opt_str_equal(*CAT(a, f->off, char *), *CAT(b, f->off, char *));
    case FT_I64:
        return *CAT(a, f->off, int64_t) == *CAT(b, f->off, int64_t);
    case FT_INT:
    case FT_STATUS:
    case FT_EVTYPE:
        return *CAT(a, f->off, int) == *CAT(b, f->off, int);
    case FT_BOOL:
        return *CAT(a, f->off, bool) == *CAT(b, f->off, bool);
    case FT_VALUE:
    case FT_BIN:
        return bytes_equal(f, a, b);
    }
    return false;
}

static bool message_equal(const struct message *m, const void *a,
                          const void *b)
{
    size_t i;

    for (i = 0; i < m->nfields; i++)
        if (!field_equal(&m->fields[i], a, b))
            return false;
    return true;
}

bool tock_proto_job_equal(const struct tock_job *a, const struct tock_job *b)
{
    return message_equal(&job_msg, a, b);
}

bool tock_proto_task_equal(const struct tock_task *a,
                           const struct tock_task *b)
{
    return a->proto_version == b->proto_version &&
           message_equal(&task_msg, a, b);
}

bool tock_proto_result_equal(const struct tock_result *a,
                             const struct tock_result *b)
{
    return message_equal(&result_msg, a, b);
}

bool tock_proto_event_equal(const struct tock_event *a,
                            const struct tock_event *b)
{
    return message_equal(&event_msg, a, b);
}
