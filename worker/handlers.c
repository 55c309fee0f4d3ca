/* handlers.c: the exec handler registry, from JSON config or --handler.
 *
 * Every check happens at load time (see handlers.h for the rules and why);
 * a handler that made it into the registry can be run without another
 * look at the file system policy.
 */
#include "worker/handlers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/parse.h"
#include "proto/model.h"

#define CONFIG_FILE_MAX (16 * 1024 * 1024)
#define WHERE_MAX 192

struct tock_handlers {
    struct tock_handler **v;
    size_t n;
};

/* ------------------------------------------------------- string vectors */

/* strv_push appends `s` to the NULL-terminated vector *v of *n elements.
 * Takes ownership of s (freed on failure). */
static int strv_push(char ***v, size_t *n, char *s)
{
    char **grown;

    if (s == NULL)
        return TOCK_ENOMEM;
    grown = tock_realloc(*v, (*n + 2) * sizeof *grown);
    if (grown == NULL) {
        tock_free(s);
        return TOCK_ENOMEM;
    }
    grown[(*n)++] = s;
    grown[*n] = NULL;
    *v = grown;
    return 0;
}

static void strv_free(char **v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; v[i] != NULL; i++)
        tock_free(v[i]);
    tock_free(v);
}

static void handler_free(struct tock_handler *h)
{
    if (h == NULL)
        return;
    tock_free(h->name);
    tock_free(h->path);
    strv_free(h->argv);
    strv_free(h->env);
    tock_free(h->cwd);
    tock_free(h);
}

/* handler_new returns a handler named `name` with the defaults. */
static struct tock_handler *handler_new(const char *name)
{
    struct tock_handler *h = tock_calloc(1, sizeof *h);

    if (h == NULL)
        return NULL;
    h->name = tock_strdup(name);
    h->cwd = tock_strdup("/");
    h->output_limit = TOCK_HANDLER_OUTPUT_DEFAULT;
    if (h->name == NULL || h->cwd == NULL) {
        handler_free(h);
        return NULL;
    }
    return h;
}

/* ------------------------------------------------- program file checks */

/* check_dir_not_world_writable refuses a file whose directory anyone may
 * write: they could replace the file between our check and every exec. */
static int check_parent_dir(const char *file, const char *where,
                            struct tock_error *err)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(file, '/');
    size_t len = slash == file ? 1 : (size_t)(slash - file);
    struct stat st;

    if (slash == NULL || len >= sizeof dir)
        return 0;
    memcpy(dir, file, len);
    dir[len] = '\0';
    if (stat(dir, &st) != 0)
        return tock_error_set(err, TOCK_EIO, "%s: cannot examine directory "
                              "%s: %s", where, dir, strerror(errno));
    if (st.st_mode & S_IWOTH)
        return tock_error_set(err, TOCK_EAUTH,
                              "%s: %s is in the world-writable directory %s, "
                              "so anyone could replace it; move it to a "
                              "directory only its owner can write",
                              where, file, dir);
    return 0;
}

static int stat_error(const char *path, const char *where, int e,
                      struct tock_error *err)
{
    if (e == ENOENT || e == ENOTDIR)
        return tock_error_set(err, TOCK_ENOENT, "%s: %s does not exist; give "
                              "the path of an installed program", where, path);
    return tock_error_set(err, TOCK_EAUTH, "%s: cannot examine %s: %s", where,
                          path, strerror(e));
}

/* check_program applies the file rules of handlers.h to `path`. */
static int check_program(const char *path, const char *where,
                         struct tock_error *err)
{
    struct stat st;
    char real[PATH_MAX];
    int rc;

    if (stat(path, &st) != 0)
        return stat_error(path, where, errno, err);
    if (S_ISDIR(st.st_mode))
        return tock_error_set(err, TOCK_EINVAL, "%s: %s is a directory, not a "
                              "program", where, path);
    if (!S_ISREG(st.st_mode))
        return tock_error_set(err, TOCK_EINVAL, "%s: %s is not a regular file",
                              where, path);
    if (st.st_mode & (S_ISUID | S_ISGID))
        return tock_error_set(err, TOCK_EAUTH, "%s: %s is set-user-ID or "
                              "set-group-ID; tock refuses to run privileged "
                              "programs as handlers", where, path);
    if (st.st_mode & S_IWOTH)
        return tock_error_set(err, TOCK_EAUTH, "%s: %s is world-writable "
                              "(mode %04o), so anyone could change what the "
                              "worker runs; run 'chmod o-w %s'", where, path,
                              (unsigned)(st.st_mode & 07777), path);
    if ((st.st_mode & 0111) == 0 || access(path, X_OK) != 0)
        return tock_error_set(err, TOCK_EAUTH, "%s: %s is not executable by "
                              "the worker's user; run 'chmod +x %s'", where,
                              path, path);
    if ((rc = check_parent_dir(path, where, err)) != 0)
        return rc;
    if (realpath(path, real) != NULL && strcmp(real, path) != 0)
        return check_parent_dir(real, where, err);
    return 0;
}

/* search_path looks a bare command name up on TOCK_HANDLER_PATH, like
 * execvp but once and on a fixed list. */
static char *search_path(const char *cmd)
{
    const char *dir = TOCK_HANDLER_PATH;
    char cand[PATH_MAX];
    struct stat st;

    while (*dir != '\0') {
        size_t len = strcspn(dir, ":");
        int n = snprintf(cand, sizeof cand, "%.*s/%s", (int)len, dir, cmd);

        if (n > 0 && (size_t)n < sizeof cand && stat(cand, &st) == 0 &&
            S_ISREG(st.st_mode) && (st.st_mode & 0111))
            return tock_strdup(cand);
        dir += len;
        if (*dir == ':')
            dir++;
    }
    return NULL;
}

int tock_handlers_resolve_command(const char *cmd, const char *where,
                                  char **path, struct tock_error *err)
{
    char *cand = NULL;
    int rc;

    *path = NULL;
    if (cmd[0] == '\0')
        return tock_error_set(err, TOCK_EINVAL, "%s: the command is empty; "
                              "give an absolute path or a program name found "
                              "on " TOCK_HANDLER_PATH, where);
    if (strlen(cmd) >= PATH_MAX)
        return tock_error_set(err, TOCK_ETOOBIG, "%s: the command is longer "
                              "than %d bytes", where, PATH_MAX - 1);
    if (cmd[0] == '/') {
        cand = tock_strdup(cmd);
    } else if (strchr(cmd, '/') != NULL) {
        return tock_error_set(err, TOCK_EINVAL, "%s: '%.200s' is a relative "
                              "path; give an absolute path, or a bare name to "
                              "look up on " TOCK_HANDLER_PATH, where, cmd);
    } else {
        cand = search_path(cmd);
        if (cand == NULL)
            return tock_error_set(err, TOCK_ENOENT, "%s: command '%.200s' not "
                                  "found on " TOCK_HANDLER_PATH "; give its "
                                  "absolute path", where, cmd);
    }
    if (cand == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "%s: out of memory", where);
    if ((rc = check_program(cand, where, err)) != 0) {
        tock_free(cand);
        return rc;
    }
    *path = cand;
    return 0;
}

/* ------------------------------------------------------- field checkers */

static bool env_name_char(char c, bool first)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

static int check_env_name(const char *name, const char *where,
                          struct tock_error *err)
{
    if (name[0] == '\0')
        return tock_error_set(err, TOCK_EINVAL, "%s: an environment variable "
                              "name is empty", where);
    if (strchr(name, '=') != NULL)
        return tock_error_set(err, TOCK_EINVAL, "%s: variable name \"%.64s\" "
                              "contains '='; the key is the name, the value "
                              "is the string it maps to", where, name);
    if (strncmp(name, "LD_", 3) == 0)
        return tock_error_set(err, TOCK_EAUTH, "%s: %.64s is refused: LD_* "
                              "variables (LD_PRELOAD, LD_LIBRARY_PATH) load "
                              "code into the handler; install the library "
                              "where the program finds it", where, name);
    if (strncmp(name, "TOCK_", 5) == 0)
        return tock_error_set(err, TOCK_EINVAL, "%s: %.64s is refused: tock "
                              "sets TOCK_* variables itself for each task; "
                              "choose another name", where, name);
    if (strlen(name) > 256)
        return tock_error_set(err, TOCK_ETOOBIG, "%s: variable name \"%.32s..."
                              "\" is over 256 bytes", where, name);
    for (size_t i = 0; name[i] != '\0'; i++)
        if (!env_name_char(name[i], i == 0))
            return tock_error_set(err, TOCK_EINVAL, "%s: variable name "
                                  "\"%.64s\" has '%c' at offset %zu; use "
                                  "A-Z a-z 0-9 _ and no leading digit", where,
                                  name, name[i], i);
    return 0;
}

static int check_cwd(const char *dir, const char *where,
                     struct tock_error *err)
{
    struct stat st;

    if (dir[0] != '/')
        return tock_error_set(err, TOCK_EINVAL, "%s: \"%.200s\" is not an "
                              "absolute path; give the working directory as "
                              "/path/to/dir", where, dir);
    if (stat(dir, &st) != 0)
        return tock_error_set(err, errno == ENOENT ? TOCK_ENOENT : TOCK_EIO,
                              "%s: working directory %.200s: %s; create it or "
                              "fix the path", where, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return tock_error_set(err, TOCK_EINVAL, "%s: %.200s is not a "
                              "directory", where, dir);
    return 0;
}

/* ------------------------------------------------------------ registry */

struct tock_handlers *tock_handlers_new(void)
{
    return tock_calloc(1, sizeof(struct tock_handlers));
}

void tock_handlers_free(struct tock_handlers *reg)
{
    if (reg == NULL)
        return;
    for (size_t i = 0; i < reg->n; i++)
        handler_free(reg->v[i]);
    tock_free(reg->v);
    tock_free(reg);
}

const struct tock_handler *tock_handlers_find(const struct tock_handlers *reg,
                                              const char *name)
{
    for (size_t i = 0; reg != NULL && i < reg->n; i++)
        if (strcmp(reg->v[i]->name, name) == 0)
            return reg->v[i];
    return NULL;
}

size_t tock_handlers_count(const struct tock_handlers *reg)
{
    return reg == NULL ? 0 : reg->n;
}

const struct tock_handler *tock_handlers_at(const struct tock_handlers *reg,
                                            size_t i)
{
    return reg == NULL || i >= reg->n ? NULL : reg->v[i];
}

/* registry_append adds the `n` handlers of `hs` (taking ownership of all of
 * them on success, none on failure) after checking their names. */
static int registry_append(struct tock_handlers *reg, struct tock_handler **hs,
                           size_t n, const char *prefix,
                           struct tock_error *err)
{
    struct tock_handler **grown;

    if (reg->n + n > TOCK_HANDLERS_MAX)
        return tock_error_set(err, TOCK_ETOOBIG, "%s: more than %d handlers "
                              "are configured", prefix, TOCK_HANDLERS_MAX);
    for (size_t i = 0; i < n; i++)
        if (tock_handlers_find(reg, hs[i]->name) != NULL)
            return tock_error_set(err, TOCK_EEXIST, "%s: handler \"%s\" is "
                                  "already defined; each name may be "
                                  "defined once", prefix, hs[i]->name);
    grown = tock_realloc(reg->v, (reg->n + n + 1) * sizeof *grown);
    if (grown == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "%s: out of memory", prefix);
    memcpy(grown + reg->n, hs, n * sizeof *hs);
    reg->v = grown;
    reg->n += n;
    return 0;
}

/* --------------------------------------------------- command-line form */

/* split_words splits `s` on whitespace into h->argv; no quoting at all. */
static int split_words(const char *s, struct tock_handler *h)
{
    const char *ws = " \t\n\r\v\f";

    for (;;) {
        s += strspn(s, ws);
        if (*s == '\0')
            return 0;
        size_t len = strcspn(s, ws);
        int rc = strv_push(&h->argv, &h->argc, tock_strndup(s, len));

        if (rc != 0)
            return rc;
        s += len;
    }
}

static int spec_fill(struct tock_handler *h, const char *cmdline,
                     const char *where, struct tock_error *err)
{
    if (split_words(cmdline, h) != 0)
        return tock_error_set(err, TOCK_ENOMEM, "%s: out of memory", where);
    if (h->argc == 0)
        return tock_error_set(err, TOCK_EINVAL, "%s: the command is empty; "
                              "write NAME=COMMAND [ARG...]", where);
    if (h->argc > TOCK_HANDLER_ARGV_MAX)
        return tock_error_set(err, TOCK_ETOOBIG, "%s: %zu arguments; at most "
                              "%d are allowed", where, h->argc,
                              TOCK_HANDLER_ARGV_MAX);
    for (size_t i = 0; i < h->argc; i++)
        if (strlen(h->argv[i]) > TOCK_HANDLER_STR_MAX)
            return tock_error_set(err, TOCK_ETOOBIG, "%s: argument %zu is over "
                                  "%d bytes", where, i, TOCK_HANDLER_STR_MAX);
    return tock_handlers_resolve_command(h->argv[0], where, &h->path, err);
}

int tock_handlers_add_spec(struct tock_handlers *reg, const char *spec,
                           struct tock_error *err)
{
    const char *eq = strchr(spec, '=');
    struct tock_handler *h = NULL;
    char *name;
    int rc;

    if (eq == NULL)
        return tock_error_set(err, TOCK_EINVAL, "\"%.64s\": expected "
                              "NAME=COMMAND [ARG...]", spec);
    if ((name = tock_strndup(spec, (size_t)(eq - spec))) == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    if ((rc = tock_name_check(name, "handler name", err)) != 0)
        goto done;
    if ((h = handler_new(name)) == NULL) {
        rc = tock_error_set(err, TOCK_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    if ((rc = spec_fill(h, eq + 1, name, err)) != 0 ||
        (rc = registry_append(reg, &h, 1, name, err)) != 0)
        goto done;
    h = NULL;
done:
    handler_free(h);
    tock_free(name);
    return rc;
}

/* ------------------------------------------------------------ JSON form */

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static int type_error(const char *where, const char *want, const json_t *v,
                      struct tock_error *err)
{
    return tock_error_set(err, TOCK_ETYPE, "%s: expected %s, got %s", where,
                          want, json_type_name(v));
}

/* json_text returns the string of `v` when it is a string without NUL of
 * at most `max` bytes, else NULL with err set. */
static const char *json_text(const json_t *v, size_t max, const char *where,
                             struct tock_error *err)
{
    const char *s;

    if (!json_is_string(v)) {
        type_error(where, "a string", v, err);
        return NULL;
    }
    s = json_string_value(v);
    if (strlen(s) != json_string_length(v)) {
        tock_error_set(err, TOCK_EFORMAT, "%s: contains a NUL character "
                       "(\\u0000)", where);
        return NULL;
    }
    if (strlen(s) > max) {
        tock_error_set(err, TOCK_ETOOBIG, "%s: is %zu bytes; the limit is "
                       "%zu", where, strlen(s), max);
        return NULL;
    }
    return s;
}

static int json_argv(struct tock_handler *h, const json_t *argv,
                     const char *where, struct tock_error *err)
{
    char at[WHERE_MAX + 16];
    size_t i;
    json_t *el;

    if (!json_is_array(argv))
        return type_error(where, "an array of strings", argv, err);
    if (json_array_size(argv) == 0)
        return tock_error_set(err, TOCK_EINVAL, "%s: is empty; give at least "
                              "the program, [\"/path/to/program\", ...]",
                              where);
    if (json_array_size(argv) > TOCK_HANDLER_ARGV_MAX)
        return tock_error_set(err, TOCK_ETOOBIG, "%s: %zu elements; at most "
                              "%d are allowed", where, json_array_size(argv),
                              TOCK_HANDLER_ARGV_MAX);
    json_array_foreach(argv, i, el) {
        snprintf(at, sizeof at, "%s[%zu]", where, i);
        const char *s = json_text(el, TOCK_HANDLER_STR_MAX, at, err);

        if (s == NULL)
            return err ? err->code : TOCK_EINVAL;
        if (strv_push(&h->argv, &h->argc, tock_strdup(s)) != 0)
            return tock_error_set(err, TOCK_ENOMEM, "%s: out of memory", at);
    }
    snprintf(at, sizeof at, "%s[0]", where);
    return tock_handlers_resolve_command(h->argv[0], at, &h->path, err);
}

static int json_env(struct tock_handler *h, const json_t *env,
                    const char *where, struct tock_error *err)
{
    char at[WHERE_MAX + 80];
    const char *name;
    json_t *val;
    int rc;

    if (!json_is_object(env))
        return type_error(where, "an object of NAME: \"value\"", env, err);
    if (json_object_size(env) > TOCK_HANDLER_ENV_MAX)
        return tock_error_set(err, TOCK_ETOOBIG, "%s: %zu variables; at most "
                              "%d are allowed", where, json_object_size(env),
                              TOCK_HANDLER_ENV_MAX);
    json_object_foreach((json_t *)env, name, val) {
        if ((rc = check_env_name(name, where, err)) != 0)
            return rc;
        snprintf(at, sizeof at, "%s.%s", where, name);
        const char *s = json_text(val, TOCK_HANDLER_ENV_VALUE_MAX, at, err);
        size_t cap;
        char *kv;

        if (s == NULL)
            return err ? err->code : TOCK_EINVAL;
        cap = strlen(name) + 1 + strlen(s) + 1;
        if ((kv = tock_malloc(cap)) != NULL)
            snprintf(kv, cap, "%s=%s", name, s);
        if (strv_push(&h->env, &h->envc, kv) != 0)
            return tock_error_set(err, TOCK_ENOMEM, "%s: out of memory", at);
    }
    return 0;
}

static int json_cwd(struct tock_handler *h, const json_t *v, const char *where,
                    struct tock_error *err)
{
    const char *s = json_text(v, TOCK_HANDLER_STR_MAX, where, err);
    int rc;

    if (s == NULL)
        return err ? err->code : TOCK_EINVAL;
    if ((rc = check_cwd(s, where, err)) != 0)
        return rc;
    tock_free(h->cwd);
    if ((h->cwd = tock_strdup(s)) == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "%s: out of memory", where);
    return 0;
}

static int json_timeout(struct tock_handler *h, const json_t *v,
                        const char *where, struct tock_error *err)
{
    if (!json_is_string(v))
        return type_error(where, "a duration string such as \"30s\" or "
                          "\"5m\"", v, err);
    return tock_parse_duration_ms(json_string_value(v), 1,
                                  TOCK_DURATION_MAX_MS, &h->timeout_ms, where,
                                  err);
}

static int json_output_limit(struct tock_handler *h, const json_t *v,
                             const char *where, struct tock_error *err)
{
    json_int_t n;

    if (!json_is_integer(v))
        return type_error(where, "an integer number of bytes", v, err);
    n = json_integer_value(v);
    if (n < 1 || n > TOCK_OUTPUT_MAX)
        return tock_error_set(err, TOCK_ERANGE, "%s: %lld bytes is out of "
                              "range; keep between 1 and %d bytes (the bound "
                              "of a result's output excerpt)", where,
                              (long long)n, TOCK_OUTPUT_MAX);
    h->output_limit = (size_t)n;
    return 0;
}

static int json_args_as_argv(struct tock_handler *h, const json_t *v,
                             const char *where, struct tock_error *err)
{
    if (!json_is_boolean(v))
        return type_error(where, "true or false", v, err);
    h->args_as_argv = json_is_true(v);
    return 0;
}

typedef int (*json_field_fn)(struct tock_handler *h, const json_t *v,
                             const char *where, struct tock_error *err);

/* The fields of one handler, in the order they are checked (so a file with
 * several problems always reports the same one first). */
static const struct {
    const char *key;
    json_field_fn fn;
} json_fields[] = {
    {"argv", json_argv},
    {"env", json_env},
    {"cwd", json_cwd},
    {"timeout", json_timeout},
    {"output_limit", json_output_limit},
    {"args_as_argv", json_args_as_argv},
};

#define N_JSON_FIELDS (sizeof json_fields / sizeof json_fields[0])

static int json_unknown_keys(const json_t *obj, const char *where,
                             struct tock_error *err)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)obj, key, v) {
        size_t i = 0;

        while (i < N_JSON_FIELDS && strcmp(json_fields[i].key, key) != 0)
            i++;
        if (i == N_JSON_FIELDS)
            return tock_error_set(err, TOCK_EINVAL, "%s.%.64s: unknown field; "
                                  "a handler has argv, env, cwd, timeout, "
                                  "output_limit and args_as_argv", where, key);
    }
    return 0;
}

static int handler_from_json(const char *name, const json_t *obj,
                             struct tock_handler **out, struct tock_error *err)
{
    char where[WHERE_MAX], at[WHERE_MAX + 32];
    struct tock_handler *h = NULL;
    int rc;

    snprintf(where, sizeof where, "handlers.%.128s", name);
    if ((rc = tock_name_check(name, "handler name", err)) != 0)
        return tock_error_prefix(err, "%s", where);
    if (!json_is_object(obj))
        return type_error(where, "an object with \"argv\"", obj, err);
    if ((rc = json_unknown_keys(obj, where, err)) != 0)
        return rc;
    if (json_object_get(obj, "argv") == NULL)
        return tock_error_set(err, TOCK_EMISSING, "%s: \"argv\" is missing; "
                              "give the command as [\"/path/to/program\", "
                              "\"arg\", ...]", where);
    if ((h = handler_new(name)) == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "%s: out of memory", where);
    for (size_t i = 0; i < N_JSON_FIELDS; i++) {
        const json_t *v = json_object_get(obj, json_fields[i].key);

        if (v == NULL)
            continue;
        snprintf(at, sizeof at, "%s.%s", where, json_fields[i].key);
        if ((rc = json_fields[i].fn(h, v, at, err)) != 0) {
            handler_free(h);
            return rc;
        }
    }
    *out = h;
    return 0;
}

int tock_handlers_add_json(struct tock_handlers *reg, const json_t *handlers,
                           struct tock_error *err)
{
    struct tock_handler **hs = NULL;
    size_t n = 0;
    const char *name;
    json_t *obj;
    int rc = 0;

    if (!json_is_object(handlers))
        return type_error("handlers", "an object mapping names to handlers",
                          handlers, err);
    hs = tock_calloc(json_object_size(handlers) + 1, sizeof *hs);
    if (hs == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "handlers: out of memory");
    json_object_foreach((json_t *)handlers, name, obj) {
        if ((rc = handler_from_json(name, obj, &hs[n], err)) != 0)
            goto done;
        n++;
    }
    if ((rc = registry_append(reg, hs, n, "handlers", err)) == 0)
        n = 0; /* the registry owns them now */
done:
    for (size_t i = 0; i < n; i++)
        handler_free(hs[i]);
    tock_free(hs);
    return rc;
}

int tock_handlers_load_json(struct tock_handlers *reg, const char *text,
                            size_t len, const char *source,
                            struct tock_error *err)
{
    json_error_t jerr;
    json_t *root, *handlers;
    int rc = 0;

    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return tock_error_set(err, TOCK_EFORMAT, "%s:%d:%d: %s", source,
                              jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root)) {
        rc = tock_error_set(err, TOCK_EFORMAT, "%s: the top level must be an "
                            "object such as {\"handlers\": {...}}, not %s",
                            source, json_type_name(root));
        goto done;
    }
    handlers = json_object_get(root, "handlers");
    if (handlers != NULL && (rc = tock_handlers_add_json(reg, handlers, err)))
        tock_error_prefix(err, "%s", source);
done:
    json_decref(root);
    return rc;
}

/* read_file reads all of `path` (at most CONFIG_FILE_MAX bytes) into a new
 * buffer the caller frees with tock_free. */
static int read_file(const char *path, char **out, size_t *outlen,
                     struct tock_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    ssize_t n;

    if (fd < 0)
        return tock_error_set(err, TOCK_EIO, "cannot open config file %s: %s",
                              path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size > CONFIG_FILE_MAX) {
        close(fd);
        return tock_error_set(err, TOCK_ETOOBIG, "config file %s is not a "
                              "regular file of at most %d MiB", path,
                              CONFIG_FILE_MAX >> 20);
    }
    if ((buf = tock_malloc((size_t)st.st_size + 1)) == NULL) {
        close(fd);
        return tock_error_set(err, TOCK_ENOMEM, "%s: out of memory", path);
    }
    while (len < (size_t)st.st_size &&
           (n = read(fd, buf + len, (size_t)st.st_size - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;

            close(fd);
            tock_free(buf);
            return tock_error_set(err, TOCK_EIO, "cannot read config file "
                                  "%s: %s", path, strerror(e));
        }
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return 0;
}

int tock_handlers_load_file(struct tock_handlers *reg, const char *path,
                            struct tock_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    if ((rc = read_file(path, &text, &len, err)) != 0)
        return rc;
    rc = tock_handlers_load_json(reg, text, len, path, err);
    tock_free(text);
    return rc;
}
