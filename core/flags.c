/* flags.c: argv and environment parsing against a flag table. */
#include "core/flags.h"

#include <stdlib.h>
#include <string.h>

#include "core/parse.h"

#define MAX_FLAGS 64

/* ---------------------------------------------------------------- lookup */

static const struct tock_flag *find_long(const struct tock_flag *flags,
                                         const char *name, size_t len)
{
    for (; flags->name != NULL; flags++)
        if (strlen(flags->name) == len && strncmp(flags->name, name, len) == 0)
            return flags;
    return NULL;
}

static const struct tock_flag *find_short(const struct tock_flag *flags, char c)
{
    for (; flags->name != NULL; flags++)
        if (flags->short_name != 0 && flags->short_name == c)
            return flags;
    return NULL;
}

/* ---------------------------------------------------------------- values */

static int set_value(const struct tock_flag *f, const char *value,
                     const char *origin, void *ctx, struct tock_error *err)
{
    char what[96];
    int rc;

    snprintf(what, sizeof what, "%s", origin);
    if (f->type != TOCK_FLAG_BOOL && value[strspn(value, " \t")] == '\0')
        return tock_error_set(err, TOCK_EINVAL,
                              "%s is empty; give a %s value", what,
                              f->metavar ? f->metavar : "non-empty");
    switch (f->type) {
    case TOCK_FLAG_BOOL:
        *(bool *)f->dest = true;
        return 0;
    case TOCK_FLAG_STRING:
        *(const char **)f->dest = value;
        return 0;
    case TOCK_FLAG_INT:
        return tock_parse_int64(value, f->min, f->max, (int64_t *)f->dest,
                                what, err);
    case TOCK_FLAG_DURATION:
        return tock_parse_duration_ms(value, f->min, f->max,
                                      (int64_t *)f->dest, what, err);
    case TOCK_FLAG_CALL:
        rc = f->call(ctx, value, err);
        if (rc != 0)
            tock_error_prefix(err, "%s", what);
        return rc;
    }
    return TOCK_EINTERNAL;
}

/* env_bool accepts the usual spellings so TOCK_X=1 and TOCK_X=true work. */
static int env_bool(const struct tock_flag *f, const char *value,
                    struct tock_error *err)
{
    if (!strcmp(value, "1") || !strcmp(value, "true") || !strcmp(value, "yes")) {
        *(bool *)f->dest = true;
        return 0;
    }
    if (!strcmp(value, "0") || !strcmp(value, "false") || !strcmp(value, "no") ||
        value[0] == '\0') {
        *(bool *)f->dest = false;
        return 0;
    }
    return tock_error_set(err, TOCK_EINVAL,
                          "%s='%.40s' is not a boolean; use 1/0, true/false "
                          "or yes/no",
                          f->env, value);
}

/* ----------------------------------------------------------------- parse */

struct seen {
    const struct tock_flag *flag;
    const char *value;
};

static int note_seen(struct seen *seen, size_t *nseen, const struct tock_flag *f,
                     const char *value, struct tock_error *err)
{
    size_t i;

    for (i = 0; i < *nseen; i++) {
        if (seen[i].flag != f || f->type == TOCK_FLAG_CALL)
            continue;
        if (f->type == TOCK_FLAG_BOOL || strcmp(seen[i].value, value) == 0)
            return 0;
        return tock_error_set(err, TOCK_EINVAL,
                              "--%s is given twice ('%.40s' and '%.40s'); "
                              "give it once",
                              f->name, seen[i].value, value);
    }
    if (*nseen >= MAX_FLAGS)
        return 0;
    seen[*nseen].flag = f;
    seen[*nseen].value = value;
    (*nseen)++;
    return 0;
}

static int was_seen(const struct seen *seen, size_t nseen,
                    const struct tock_flag *f)
{
    size_t i;

    for (i = 0; i < nseen; i++)
        if (seen[i].flag == f)
            return 1;
    return 0;
}

/* take_value finds the value of flag f given as argv[*i] with optional
 * inline "=value"; advances *i past a separate value. */
static int take_value(const struct tock_flag *f, const char *inline_value,
                      int argc, char **argv, int *i, const char **value,
                      const char *prog, struct tock_error *err)
{
    if (f->type == TOCK_FLAG_BOOL) {
        if (inline_value != NULL)
            return tock_error_set(err, TOCK_EINVAL,
                                  "--%s takes no value; write just --%s",
                                  f->name, f->name);
        *value = "1";
        return 0;
    }
    if (inline_value != NULL) {
        *value = inline_value;
        return 0;
    }
    if (*i + 1 >= argc)
        return tock_error_set(err, TOCK_EINVAL,
                              "--%s needs a value (%s); see '%s --help'",
                              f->name, f->metavar ? f->metavar : "VALUE", prog);
    *value = argv[++*i];
    return 0;
}

static int parse_one(const struct tock_flag *flags, int argc, char **argv,
                     int *i, struct seen *seen, size_t *nseen, void *ctx,
                     const char *prog, struct tock_error *err)
{
    const char *arg = argv[*i], *eq, *value = NULL;
    const struct tock_flag *f;
    char origin[96];
    int rc;

    if (arg[1] == '-') {
        eq = strchr(arg + 2, '=');
        f = find_long(flags, arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2));
        rc = f ? take_value(f, eq ? eq + 1 : NULL, argc, argv, i, &value, prog,
                            err)
               : 0;
    } else {
        f = arg[2] == '\0' ? find_short(flags, arg[1]) : NULL;
        rc = f ? take_value(f, NULL, argc, argv, i, &value, prog, err) : 0;
    }
    if (f == NULL)
        return tock_error_set(err, TOCK_EINVAL,
                              "unknown flag '%.60s'; see '%s --help'", arg, prog);
    if (rc != 0)
        return rc;
    rc = note_seen(seen, nseen, f, value, err);
    if (rc != 0)
        return rc;
    snprintf(origin, sizeof origin, "--%s", f->name);
    return set_value(f, value, origin, ctx, err);
}

static int apply_env(const struct tock_flag *flags, const struct seen *seen,
                     size_t nseen, void *ctx, struct tock_error *err)
{
    const char *value;
    int rc;

    for (; flags->name != NULL; flags++) {
        if (flags->env == NULL || was_seen(seen, nseen, flags))
            continue;
        value = getenv(flags->env);
        if (value == NULL)
            continue;
        rc = flags->type == TOCK_FLAG_BOOL
                 ? env_bool(flags, value, err)
                 : set_value(flags, value, flags->env, ctx, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int tock_flags_parse(const struct tock_flag *flags, int argc, char **argv,
                     int start, int *npositional, void *call_ctx,
                     const char *prog, struct tock_error *err)
{
    struct seen seen[MAX_FLAGS];
    size_t nseen = 0;
    int i, npos = 0, rc, only_positional = 0;

    for (i = start; i < argc; i++) {
        const char *arg = argv[i];
        if (only_positional || arg[0] != '-' || arg[1] == '\0') {
            argv[start + npos++] = argv[i];
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positional = 1;
            continue;
        }
        rc = parse_one(flags, argc, argv, &i, seen, &nseen, call_ctx, prog,
                       err);
        if (rc != 0)
            return rc;
    }
    *npositional = npos;
    return apply_env(flags, seen, nseen, call_ctx, err);
}

void tock_flags_usage(const struct tock_flag *flags, FILE *out)
{
    char left[80];

    for (; flags->name != NULL; flags++) {
        if (flags->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", flags->short_name,
                     flags->name, flags->metavar ? " " : "",
                     flags->metavar ? flags->metavar : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", flags->name,
                     flags->metavar ? " " : "",
                     flags->metavar ? flags->metavar : "");
        fprintf(out, "  %-30s %s", left, flags->help ? flags->help : "");
        if (flags->env)
            fprintf(out, " [env %s]", flags->env);
        fputc('\n', out);
    }
}
