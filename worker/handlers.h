/* handlers.h: the registry of exec handlers a worker is allowed to run.
 *
 * A job names a handler; the worker runs only commands its own
 * configuration defines under that name (DESIGN.md section 7), so no job
 * field ever becomes a program path. Every check that can be made before a
 * task arrives is made when the configuration loads, so a worker with a bad
 * handler refuses to start instead of failing its tasks one by one:
 *
 *   - argv[0] is an absolute path, or a bare name looked up ONCE on the
 *     fixed TOCK_HANDLER_PATH (never the worker's own $PATH, which an
 *     attacker with access to its environment could point elsewhere); a
 *     relative path with a '/' is refused (relative to what?);
 *   - the target must exist, be a regular file with an execute bit, and be
 *     neither setuid/setgid, nor world-writable, nor in a world-writable
 *     directory (the directory of the path as written and of the file it
 *     resolves to through symlinks): anyone who can replace the file could
 *     otherwise run code as the worker;
 *   - env names are [A-Za-z_][A-Za-z0-9_]*: no '=', no LD_* (LD_PRELOAD,
 *     LD_LIBRARY_PATH, LD_AUDIT inject code into every process), no TOCK_*
 *     (tock sets those itself, per task);
 *   - cwd is an absolute path to an existing directory (default "/");
 *   - timeout is a positive duration; output_limit is 1..TOCK_OUTPUT_MAX
 *     bytes (the bound of a result's excerpt, proto/model.h);
 *   - handler names follow the name policy of proto/model.h and are unique.
 *
 * Two sources, one registry: the "handlers" object of a JSON config file
 * (tock_handlers_load_json / tock_handlers_add_json) and the command line
 * (tock_handlers_add_spec, for `--handler NAME=COMMAND [ARG...]`). The
 * registry is filled while the program starts, then only read; a pool
 * child inherits it through fork().
 */
#ifndef TOCK_WORKER_HANDLERS_H
#define TOCK_WORKER_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tock/error.h"

/* The only directories a bare argv[0] is looked up in, in this order. */
#define TOCK_HANDLER_PATH "/usr/local/bin:/usr/bin:/bin"

#define TOCK_HANDLERS_MAX 1024        /* handlers in one registry */
#define TOCK_HANDLER_ARGV_MAX 256     /* configured argv elements */
#define TOCK_HANDLER_ENV_MAX 256      /* configured env variables */
#define TOCK_HANDLER_STR_MAX 4096     /* bytes of one argv element or path */
#define TOCK_HANDLER_ENV_VALUE_MAX (32 * 1024)
#define TOCK_HANDLER_OUTPUT_DEFAULT (64 * 1024)

/* tock_handler: one configured exec handler. Every string is owned by the
 * registry and lives as long as it. */
struct tock_handler {
    char *name;         /* the name jobs use (name policy) */
    char *path;         /* absolute path that is executed */
    char **argv;        /* argc elements + NULL; argv[0] as configured */
    size_t argc;
    char **env;         /* envc "NAME=value" strings + NULL */
    size_t envc;
    char *cwd;          /* absolute existing directory; default "/" */
    int64_t timeout_ms; /* default deadline; 0 = none (a job's own timeout
                           always wins when it has one) */
    size_t output_limit; /* bytes of output kept: 1..TOCK_OUTPUT_MAX */
    bool args_as_argv;  /* append the job's args as extra argv elements */
};

struct tock_handlers;

/* tock_handlers_new returns a new empty registry the caller must free with
 * tock_handlers_free, or NULL when out of memory. */
struct tock_handlers *tock_handlers_new(void);

/* tock_handlers_free frees `reg` and every handler in it; NULL does
 * nothing. Pointers from tock_handlers_find are invalid after this call. */
void tock_handlers_free(struct tock_handlers *reg);

/* tock_handlers_add_spec adds a handler from the command-line form
 * "NAME=COMMAND [ARG...]" (the value of --handler, the TOCK_FLAG_CALL of
 * core/flags.h, which prefixes messages with "--handler: "). COMMAND and
 * the ARGs are split on whitespace; there is no shell: quotes,
 * backslashes, `$` and globs are ordinary characters ("a b" is two
 * elements, `"a` and `b"`). The handler gets the defaults: cwd "/", no
 * timeout of its own, 64 KiB of output, no args as argv. Errors (nothing
 * added): TOCK_EINVAL with "NAME: ...",
 * TOCK_EEXIST for a name already defined, TOCK_ENOENT when the command is
 * not found, TOCK_EAUTH when its file is unsafe (see the top of this file),
 * TOCK_ETOOBIG over a bound, TOCK_ENOMEM. */
int tock_handlers_add_spec(struct tock_handlers *reg, const char *spec,
                           struct tock_error *err);

/* tock_handlers_add_json adds every handler of `handlers` (borrowed), the
 * value of the config file's "handlers" key: an object mapping each name to
 * {"argv": [str, ...], "env": {NAME: str}, "cwd": str, "timeout":
 * "<duration>", "output_limit": int, "args_as_argv": bool}; only argv is
 * required and unknown fields are refused (a typo must not silently drop a
 * limit). All or nothing: on error no handler of `handlers` is added, and
 * the message starts with the path of the offending value,
 * "handlers.NAME.argv[0]: ...". Codes as for tock_handlers_add_spec, plus
 * TOCK_ETYPE for a value of the wrong JSON type. */
int tock_handlers_add_json(struct tock_handlers *reg, const json_t *handlers,
                           struct tock_error *err);

/* tock_handlers_load_json parses `len` bytes of JSON config text (duplicate
 * keys refused) and adds the handlers of its top-level "handlers" object,
 * if it has one (other top-level keys are left to their own readers).
 * `source` names the text in messages ("worker.json"): syntax errors read
 * "worker.json:3:14: ...", semantic ones "worker.json: handlers.x.cwd: ...".
 * TOCK_EFORMAT for a syntax error or a top level that is not an object. */
int tock_handlers_load_json(struct tock_handlers *reg, const char *text,
                            size_t len, const char *source,
                            struct tock_error *err);

/* tock_handlers_load_file reads the JSON config file at `path` (at most
 * 16 MiB) and calls tock_handlers_load_json on it. TOCK_EIO when it cannot
 * be read. */
int tock_handlers_load_file(struct tock_handlers *reg, const char *path,
                            struct tock_error *err);

/* tock_handlers_find returns the handler called `name`, or NULL. The
 * pointer is borrowed from the registry. */
const struct tock_handler *tock_handlers_find(const struct tock_handlers *reg,
                                              const char *name);

/* tock_handlers_count / tock_handlers_at list the handlers in the order
 * they were added (at returns NULL past the end). */
size_t tock_handlers_count(const struct tock_handlers *reg);
const struct tock_handler *tock_handlers_at(const struct tock_handlers *reg,
                                            size_t i);

/* tock_handlers_resolve_command resolves and checks `cmd` as argv[0] is
 * checked (see the top of this file). On success *path is a new absolute
 * path the caller frees with tock_free. `where` starts every message
 * ("handlers.x.argv[0]"). Exposed for tests and `tock-worker --check`. */
int tock_handlers_resolve_command(const char *cmd, const char *where,
                                  char **path, struct tock_error *err);

#endif /* TOCK_WORKER_HANDLERS_H */
