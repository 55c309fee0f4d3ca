/* fuzz_jobspec.c: libFuzzer target for the config file reader
 * (tock_jobspec_load_text): whatever the bytes, it returns a job list or
 * one printable line, never crashes or leaks.
 *
 * Invariants on every accepted file (a violation aborts: a finding):
 *   - every job passes tock_job_validate and its trigger parses;
 *   - the trigger text is canonical: parsing and formatting it again gives
 *     the same text (so "the same definition" is well defined for apply);
 *   - ids are unique;
 *   - tock_jobspec_same holds between a job and itself.
 * On a refusal the message is one non-empty line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "scheduler/jobspec.h"
#include "scheduler/trigger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

static void check_job(const struct tock_job *job)
{
    struct tock_trigger *t = NULL;
    char text[TOCK_TRIGGER_MAX_TEXT + 1];

    CHECK(tock_job_validate(job, NULL, NULL) == 0);
    CHECK(tock_trigger_parse(job->trigger, &t, NULL) == 0);
    tock_trigger_format(t, text, sizeof text);
    CHECK(strcmp(text, job->trigger) == 0);
    tock_trigger_free(t);
    CHECK(tock_jobspec_same(job, job));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tock_jobspec_set set;
    struct tock_error err = {0};
    size_t i, j;

    if (tock_jobspec_load_text((const char *)data, size, "fuzz.json", &set,
                               &err) != 0) {
        CHECK(err.code < 0 && err.msg[0] != '\0');
        CHECK(strchr(err.msg, '\n') == NULL);
        CHECK(set.jobs == NULL && set.n == 0);
        return 0;
    }
    for (i = 0; i < set.n; i++) {
        check_job(&set.jobs[i].job);
        for (j = 0; j < i && set.n < 64; j++)
            CHECK(strcmp(set.jobs[i].job.id, set.jobs[j].job.id) != 0);
    }
    tock_jobspec_set_clear(&set);
    return 0;
}
