/* test_worker_handlers.c: the exec handler registry: --handler specs, the
 * JSON "handlers" section, and every refusal of RELIABILITY.md (c)
 * "Worker configuration" with its specific message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "support.h"
#include "worker/handlers.h"

struct fx {
    char *dir;                 /* private temp directory (0700) */
    char prog[512];            /* an executable script in it */
    struct tock_handlers *reg;
    struct tock_error err;
};

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);

    fx->dir = tock_test_tmpdir("handlers");
    assert_non_null(fx->dir);
    snprintf(fx->prog, sizeof fx->prog, "%s/prog.sh", fx->dir);
    write_file(fx->prog, "#!/bin/sh\necho hi\n", 0755);
    fx->reg = tock_handlers_new();
    assert_non_null(fx->reg);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    tock_handlers_free(fx->reg);
    tock_test_rmtree(fx->dir);
    free(fx);
    return 0;
}

/* expect_spec adds `spec` and asserts the code and a fragment of the
 * message. */
static void expect_spec(struct fx *fx, const char *spec, int code,
                        const char *fragment)
{
    int rc = tock_handlers_add_spec(fx->reg, spec, &fx->err);

    if (rc != code || strstr(fx->err.msg, fragment) == NULL)
        fail_msg("spec \"%s\": got %s \"%s\", want %s containing \"%s\"", spec,
                 tock_err_name(rc), fx->err.msg, tock_err_name(code),
                 fragment);
}

static void expect_json(struct fx *fx, const char *text, int code,
                        const char *fragment)
{
    int rc = tock_handlers_load_json(fx->reg, text, strlen(text), "w.json",
                                     &fx->err);

    if (rc != code || strstr(fx->err.msg, fragment) == NULL)
        fail_msg("json %s: got %s \"%s\", want %s containing \"%s\"", text,
                 tock_err_name(rc), fx->err.msg, tock_err_name(code),
                 fragment);
}

/* ----------------------------------------------------------- --handler */

static void test_spec_basic(void **state)
{
    struct fx *fx = *state;
    const struct tock_handler *h;

    assert_tock_ok(tock_handlers_add_spec(fx->reg, "greet=echo  hello\tworld",
                                          &fx->err), &fx->err);
    h = tock_handlers_find(fx->reg, "greet");
    assert_non_null(h);
    assert_int_equal(h->argc, 3);
    assert_string_equal(h->argv[0], "echo");
    assert_string_equal(h->argv[1], "hello");
    assert_string_equal(h->argv[2], "world");
    assert_null(h->argv[3]);
    /* Looked up on the fixed PATH, not the environment's. */
    assert_true(strcmp(h->path, "/usr/bin/echo") == 0 ||
                strcmp(h->path, "/bin/echo") == 0);
    assert_string_equal(h->cwd, "/");
    assert_int_equal(h->timeout_ms, 0);
    assert_int_equal(h->output_limit, TOCK_HANDLER_OUTPUT_DEFAULT);
    assert_false(h->args_as_argv);
    assert_int_equal(h->envc, 0);
    assert_null(tock_handlers_find(fx->reg, "Greet"));
    assert_int_equal(tock_handlers_count(fx->reg), 1);
    assert_ptr_equal(tock_handlers_at(fx->reg, 0), h);
    assert_null(tock_handlers_at(fx->reg, 1));
}

static void test_spec_no_shell(void **state)
{
    struct fx *fx = *state;
    const struct tock_handler *h;
    char spec[700];

    snprintf(spec, sizeof spec, "q=%s \"a b\" $HOME 'c'", fx->prog);
    assert_tock_ok(tock_handlers_add_spec(fx->reg, spec, &fx->err), &fx->err);
    h = tock_handlers_find(fx->reg, "q");
    assert_int_equal(h->argc, 5);
    assert_string_equal(h->path, fx->prog);
    assert_string_equal(h->argv[1], "\"a");
    assert_string_equal(h->argv[2], "b\"");
    assert_string_equal(h->argv[3], "$HOME");
    assert_string_equal(h->argv[4], "'c'");
}

static void test_spec_errors(void **state)
{
    struct fx *fx = *state;

    expect_spec(fx, "nocommand", TOCK_EINVAL, "expected NAME=COMMAND");
    expect_spec(fx, "=echo hi", TOCK_EINVAL, "handler name is empty");
    expect_spec(fx, "a:b=echo", TOCK_EINVAL, "contains ':'");
    expect_spec(fx, "x=", TOCK_EINVAL, "x: the command is empty; write "
                "NAME=COMMAND [ARG...]");
    expect_spec(fx, "x=  \t ", TOCK_EINVAL, "the command is empty");
    expect_spec(fx, "x=bin/tool", TOCK_EINVAL, "is a relative path");
    expect_spec(fx, "x=./tool", TOCK_EINVAL, "is a relative path");
    expect_spec(fx, "x=no-such-command-tock", TOCK_ENOENT,
                "not found on /usr/local/bin:/usr/bin:/bin");
    expect_spec(fx, "x=/no/such/program", TOCK_ENOENT, "does not exist");
    assert_int_equal(tock_handlers_count(fx->reg), 0);
    assert_tock_ok(tock_handlers_add_spec(fx->reg, "x=true", &fx->err),
                   &fx->err);
    expect_spec(fx, "x=false", TOCK_EEXIST, "\"x\" is already defined");
    assert_int_equal(tock_handlers_count(fx->reg), 1);
}

/* ---------------------------------------------------- the program file */

static void test_program_rules(void **state)
{
    struct fx *fx = *state;
    char path[600], spec[700], sub[600];

    snprintf(path, sizeof path, "%s/noexec.sh", fx->dir);
    write_file(path, "#!/bin/sh\n", 0644);
    snprintf(spec, sizeof spec, "x=%s", path);
    expect_spec(fx, spec, TOCK_EAUTH, "is not executable");

    snprintf(spec, sizeof spec, "x=%s", fx->dir);
    expect_spec(fx, spec, TOCK_EINVAL, "is a directory, not a program");

    snprintf(path, sizeof path, "%s/ww.sh", fx->dir);
    write_file(path, "#!/bin/sh\n", 0757);
    snprintf(spec, sizeof spec, "x=%s", path);
    expect_spec(fx, spec, TOCK_EAUTH, "is world-writable (mode 0757)");

    snprintf(path, sizeof path, "%s/suid", fx->dir);
    write_file(path, "#!/bin/sh\n", 04755);
    snprintf(spec, sizeof spec, "x=%s", path);
    expect_spec(fx, spec, TOCK_EAUTH, "set-user-ID or set-group-ID");
    write_file(path, "#!/bin/sh\n", 02755);
    expect_spec(fx, spec, TOCK_EAUTH, "set-user-ID or set-group-ID");

    snprintf(sub, sizeof sub, "%s/open", fx->dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(chmod(sub, 01777), 0);
    snprintf(path, sizeof path, "%s/tool.sh", sub);
    write_file(path, "#!/bin/sh\n", 0755);
    snprintf(spec, sizeof spec, "x=%s", path);
    expect_spec(fx, spec, TOCK_EAUTH, "is in the world-writable directory");

    /* A symlink from a safe place to a file in an unsafe one. */
    snprintf(spec, sizeof spec, "%s/link", fx->dir);
    assert_int_equal(symlink(path, spec), 0);
    snprintf(path, sizeof path, "x=%s", spec);
    expect_spec(fx, path, TOCK_EAUTH, "is in the world-writable directory");
    assert_int_equal(tock_handlers_count(fx->reg), 0);
}

/* ------------------------------------------------------------ JSON form */

static void test_json_full(void **state)
{
    struct fx *fx = *state;
    const struct tock_handler *h;
    char text[2048];

    snprintf(text, sizeof text,
             "{\"jobs\": [1, 2],\n"
             " \"handlers\": {\n"
             "  \"backup\": {\"argv\": [\"%s\", \"--fast\"],\n"
             "             \"env\": {\"MODE\": \"full\", \"PATH\": \"/opt/bin\"},\n"
             "             \"cwd\": \"%s\", \"timeout\": \"1m30s\",\n"
             "             \"output_limit\": 1000, \"args_as_argv\": true},\n"
             "  \"plain\": {\"argv\": [\"true\"]}}}",
             fx->prog, fx->dir);
    assert_tock_ok(tock_handlers_load_json(fx->reg, text, strlen(text),
                                           "w.json", &fx->err), &fx->err);
    assert_int_equal(tock_handlers_count(fx->reg), 2);
    h = tock_handlers_find(fx->reg, "backup");
    assert_non_null(h);
    assert_string_equal(h->path, fx->prog);
    assert_int_equal(h->argc, 2);
    assert_string_equal(h->argv[1], "--fast");
    assert_int_equal(h->envc, 2);
    assert_string_equal(h->env[0], "MODE=full");
    assert_string_equal(h->env[1], "PATH=/opt/bin");
    assert_string_equal(h->cwd, fx->dir);
    assert_int_equal(h->timeout_ms, 90000);
    assert_int_equal(h->output_limit, 1000);
    assert_true(h->args_as_argv);
    h = tock_handlers_find(fx->reg, "plain");
    assert_non_null(h);
    assert_string_equal(h->cwd, "/");
    /* No "handlers" key at all is fine: the file may hold only jobs. */
    assert_tock_ok(tock_handlers_load_json(fx->reg, "{}", 2, "w.json",
                                           &fx->err), &fx->err);
}

static void test_json_syntax(void **state)
{
    struct fx *fx = *state;

    expect_json(fx, "{\"handlers\": {\n  \"a\": {\"argv\": [\"true\",]}}}",
                TOCK_EFORMAT, "w.json:2:");
    expect_json(fx, "{\"handlers\": {}, \"handlers\": {}}", TOCK_EFORMAT,
                "duplicate object key");
    expect_json(fx, "[1]", TOCK_EFORMAT, "the top level must be an object");
    expect_json(fx, "", TOCK_EFORMAT, "w.json:");
    expect_json(fx, "{\"handlers\": [1]}", TOCK_ETYPE,
                "w.json: handlers: expected an object");
}

static void test_json_semantic(void **state)
{
    struct fx *fx = *state;
    char text[1024];

    expect_json(fx, "{\"handlers\": {\"a b\": {\"argv\": [\"true\"]}}}",
                TOCK_EINVAL, "handlers.a b: handler name \"a b\" contains ' '");
    expect_json(fx, "{\"handlers\": {\"a\": [\"true\"]}}", TOCK_ETYPE,
                "handlers.a: expected an object");
    expect_json(fx, "{\"handlers\": {\"a\": {}}}", TOCK_EMISSING,
                "handlers.a: \"argv\" is missing");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": []}}}", TOCK_EINVAL,
                "handlers.a.argv: is empty");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": \"true\"}}}", TOCK_ETYPE,
                "handlers.a.argv: expected an array of strings, got a string");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"true\", 5]}}}",
                TOCK_ETYPE, "handlers.a.argv[1]: expected a string, got an "
                "integer");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"\"]}}}", TOCK_EINVAL,
                "handlers.a.argv[0]: the command is empty");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"x/y\"]}}}",
                TOCK_EINVAL, "handlers.a.argv[0]: 'x/y' is a relative path");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"true\"], "
                "\"timout\": \"5s\"}}}", TOCK_EINVAL,
                "handlers.a.timout: unknown field");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"true\"], "
                "\"env\": {\"A=B\": \"x\"}}}}", TOCK_EINVAL,
                "handlers.a.env: variable name \"A=B\" contains '='");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"true\"], "
                "\"env\": {\"LD_PRELOAD\": \"/x.so\"}}}}", TOCK_EAUTH,
                "handlers.a.env: LD_PRELOAD is refused");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"true\"], "
                "\"env\": {\"LD_LIBRARY_PATH\": \"/x\"}}}}", TOCK_EAUTH,
                "LD_LIBRARY_PATH is refused");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"true\"], "
                "\"env\": {\"TOCK_JOB\": \"x\"}}}}", TOCK_EINVAL,
                "TOCK_JOB is refused: tock sets TOCK_* variables");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"true\"], "
                "\"env\": {\"\": \"x\"}}}}", TOCK_EINVAL, "name is empty");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"true\"], "
                "\"env\": {\"1A\": \"x\"}}}}", TOCK_EINVAL, "has '1' at offset 0");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"true\"], "
                "\"env\": {\"A\": 1}}}}", TOCK_ETYPE,
                "handlers.a.env.A: expected a string");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"true\"], "
                "\"env\": [\"A=1\"]}}}", TOCK_ETYPE, "handlers.a.env: expected "
                "an object");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"true\"], "
                "\"cwd\": \"/no/such/dir\"}}}", TOCK_ENOENT,
                "handlers.a.cwd: working directory /no/such/dir");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"true\"], "
                "\"cwd\": \"tmp\"}}}", TOCK_EINVAL, "is not an absolute path");
    snprintf(text, sizeof text, "{\"handlers\": {\"a\": {\"argv\": [\"true\"], "
             "\"cwd\": \"%s\"}}}", fx->prog);
    expect_json(fx, text, TOCK_EINVAL, "is not a directory");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"true\"], "
                "\"timeout\": \"0s\"}}}", TOCK_ERANGE, "handlers.a.timeout");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"true\"], "
                "\"timeout\": \"5\"}}}", TOCK_EINVAL, "handlers.a.timeout");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"true\"], "
                "\"timeout\": 30}}}", TOCK_ETYPE, "expected a duration string");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"true\"], "
                "\"output_limit\": 0}}}", TOCK_ERANGE,
                "handlers.a.output_limit: 0 bytes is out of range");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"true\"], "
                "\"output_limit\": 1073741824}}}", TOCK_ERANGE,
                "keep between 1 and 65536 bytes");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"true\"], "
                "\"output_limit\": 1.5}}}", TOCK_ETYPE, "expected an integer");
    expect_json(fx, "{\"handlers\": {\"a\": {\"argv\": [\"true\"], "
                "\"args_as_argv\": \"yes\"}}}", TOCK_ETYPE,
                "handlers.a.args_as_argv: expected true or false");
    assert_int_equal(tock_handlers_count(fx->reg), 0);
}

static void test_json_nul_in_string(void **state)
{
    struct fx *fx = *state;
    json_t *hs = json_pack("{s:{s:[s], s:{s:s%}}}", "a", "argv", "true",
                           "env", "A", "x\0y", (size_t)3);
    int rc;

    assert_non_null(hs);
    rc = tock_handlers_add_json(fx->reg, hs, &fx->err);
    assert_int_equal(rc, TOCK_EFORMAT);
    assert_non_null(strstr(fx->err.msg, "handlers.a.env.A: contains a NUL"));
    json_decref(hs);
}

static void test_json_all_or_nothing(void **state)
{
    struct fx *fx = *state;

    assert_tock_ok(tock_handlers_add_spec(fx->reg, "dup=true", &fx->err),
                   &fx->err);
    expect_json(fx, "{\"handlers\": {\"ok1\": {\"argv\": [\"true\"]}, "
                "\"bad\": {\"argv\": [\"no-such-command-tock\"]}}}",
                TOCK_ENOENT, "handlers.bad.argv[0]: command "
                "'no-such-command-tock' not found");
    expect_json(fx, "{\"handlers\": {\"ok1\": {\"argv\": [\"true\"]}, "
                "\"dup\": {\"argv\": [\"true\"]}}}", TOCK_EEXIST,
                "handler \"dup\" is already defined");
    assert_int_equal(tock_handlers_count(fx->reg), 1);
    assert_null(tock_handlers_find(fx->reg, "ok1"));
}

static void test_load_file(void **state)
{
    struct fx *fx = *state;
    char path[600];
    int rc;

    snprintf(path, sizeof path, "%s/none.json", fx->dir);
    rc = tock_handlers_load_file(fx->reg, path, &fx->err);
    assert_int_equal(rc, TOCK_EIO);
    assert_non_null(strstr(fx->err.msg, "cannot open config file"));
    snprintf(path, sizeof path, "%s/w.json", fx->dir);
    write_file(path, "{\"handlers\": {\"t\": {\"argv\": [\"true\"],\n"
                     "  \"cwd\": 5}}}\n", 0600);
    rc = tock_handlers_load_file(fx->reg, path, &fx->err);
    assert_int_equal(rc, TOCK_ETYPE);
    assert_non_null(strstr(fx->err.msg, "w.json: handlers.t.cwd: expected a "
                                        "string, got an integer"));
    write_file(path, "{\"handlers\": {\"t\": {\"argv\": [\"true\"]}}}\n", 0600);
    assert_tock_ok(tock_handlers_load_file(fx->reg, path, &fx->err), &fx->err);
    assert_non_null(tock_handlers_find(fx->reg, "t"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spec_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spec_no_shell, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spec_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_program_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_syntax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_semantic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_nul_in_string, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_json_all_or_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_load_file, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
