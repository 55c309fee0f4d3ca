/* embed_call.c: what a job function can ask of its struct tock_call
 * (tock.h): the occurrence it runs, its arguments, whether it should stop,
 * and its error text and output. The call lives in its dispatcher slot
 * (embed.h) and is used by the one job thread running it; only `cancel` is
 * written by another thread (the dispatcher), hence atomic. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/escape.h"
#include "proto/json.h"
#include "scheduler/embed.h"

const char *tock_call_job(const struct tock_call *call)
{
    return call->task->job;
}

const char *tock_call_occurrence(const struct tock_call *call)
{
    return call->task->occ;
}

int64_t tock_call_scheduled_ms(const struct tock_call *call)
{
    return call->task->sched_ms;
}

int tock_call_attempt(const struct tock_call *call)
{
    return call->task->attempt;
}

struct tock_scheduler *tock_call_scheduler(const struct tock_call *call)
{
    return call->sched;
}

int tock_call_cancelled(const struct tock_call *call)
{
    return atomic_load(&((struct tock_call *)call)->cancel);
}

const void *tock_call_args(const struct tock_call *call, size_t *len)
{
    if (len != NULL)
        *len = call->task->args_len;
    return call->task->args;
}

const char *tock_call_args_json(struct tock_call *call)
{
    if (call->args_json != NULL)
        return call->args_json;
    if (call->task->args == NULL)
        return call->args_json = tock_strdup("null");
    if (tock_json_msgpack_to_text(call->task->args, call->task->args_len,
                                  NULL, JSON_COMPACT, &call->args_json,
                                  NULL) != 0)
        return NULL;
    return call->args_json;
}

int tock_call_error(struct tock_call *call, const char *fmt, ...)
{
    char raw[TOCK_TEXT_MAX];
    char *text;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    /* Escaped to one printable line: the text reaches logs and terminals.
     * Cut to a quarter of the bound so the run's own prefix still fits. */
    if ((text = tock_malloc(TOCK_TEXT_MAX / 2)) != NULL) {
        tock_escape_line(text, TOCK_TEXT_MAX / 2, raw, strlen(raw));
        tock_free(call->error);
        call->error = text;
    }
    return 1;
}

/* grow makes room for `more` bytes of output (plus a NUL), within the
 * bound; returns how many of them fit. */
static size_t grow(struct tock_call *call, size_t more)
{
    size_t room = TOCK_OUTPUT_MAX - call->output_len;
    size_t want, cap;
    char *p;

    if (more > room)
        more = room;
    want = call->output_len + more + 1;
    if (want <= call->output_cap)
        return more;
    cap = call->output_cap ? call->output_cap : 256;
    while (cap < want)
        cap *= 2;
    if ((p = tock_realloc(call->output, cap)) == NULL)
        return 0;
    call->output = p;
    call->output_cap = cap;
    return more;
}

void tock_call_print(struct tock_call *call, const char *fmt, ...)
{
    va_list ap;
    int n;
    size_t fit;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0 || (fit = grow(call, (size_t)n)) == 0)
        return;
    if (fit == (size_t)n) {
        va_start(ap, fmt);
        vsnprintf(call->output + call->output_len, fit + 1, fmt, ap);
        va_end(ap);
    } else {
        char *tmp = tock_malloc((size_t)n + 1);

        if (tmp == NULL)
            return;
        va_start(ap, fmt);
        vsnprintf(tmp, (size_t)n + 1, fmt, ap);
        va_end(ap);
        memcpy(call->output + call->output_len, tmp, fit);
        call->output[call->output_len + fit] = '\0';
        tock_free(tmp);
    }
    call->output_len += fit;
}
