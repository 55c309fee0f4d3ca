/* apply.c: idempotent upsert of a list of jobs, and prune. The steps and
 * why they are safe under concurrency are at the top of apply.h. */
#include "scheduler/apply.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

/* --------------------------------------------------------------- report */

void tock_apply_report_clear(struct tock_apply_report *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->n; i++)
        tock_free(r->items[i].id);
    tock_free(r->items);
    memset(r, 0, sizeof *r);
}

const char *tock_apply_action_name(enum tock_apply_action a)
{
    switch (a) {
    case TOCK_APPLY_ADDED: return "added";
    case TOCK_APPLY_CHANGED: return "changed";
    case TOCK_APPLY_UNCHANGED: return "unchanged";
    case TOCK_APPLY_REMOVED: return "removed";
    }
    return "?";
}

static int add_item(struct tock_apply_report *r, const char *id,
                    enum tock_apply_action action, int64_t version,
                    int64_t next_fire_ms, struct tock_error *err)
{
    struct tock_apply_item *items;
    size_t cap;

    /* The capacity is 8, then doubles each time n reaches a power of two,
     * so it need not be stored. */
    if (r->n == 0 || (r->n >= 8 && (r->n & (r->n - 1)) == 0)) {
        cap = r->n == 0 ? 8 : r->n * 2;
        if ((items = tock_realloc(r->items, cap * sizeof *items)) == NULL)
            return tock_error_set(err, TOCK_ENOMEM, "out of memory");
        r->items = items;
    }
    r->items[r->n].id = tock_strdup(id);
    if (r->items[r->n].id == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    r->items[r->n].action = action;
    r->items[r->n].version = version;
    r->items[r->n].next_fire_ms = next_fire_ms;
    r->n++;
    switch (action) {
    case TOCK_APPLY_ADDED: r->added++; break;
    case TOCK_APPLY_CHANGED: r->changed++; break;
    case TOCK_APPLY_UNCHANGED: r->unchanged++; break;
    case TOCK_APPLY_REMOVED: r->removed++; break;
    }
    return 0;
}

/* -------------------------------------------------------------- upsert */

/* stored_job loads job `id` into *st; *found says whether it exists. */
static int stored_job(struct tock_store *s, const char *id,
                      struct tock_job_state *st, bool *found,
                      struct tock_error *err)
{
    int rc = tock_store_job_get(s, id, st, err);

    *found = rc == 0;
    if (rc == TOCK_ENOENT) {
        tock_error_clear(err);
        return 0;
    }
    return rc;
}

static int upsert_one(struct tock_store *s, const struct tock_jobspec *spec,
                      int64_t next_ms, unsigned flags,
                      struct tock_apply_report *r, struct tock_error *err)
{
    struct tock_job job = spec->job; /* shallow: only read, never freed */
    struct tock_job_state st;
    enum tock_put_outcome outcome;
    enum tock_apply_action action;
    int64_t version = 0;
    bool found = false;
    int rc;

    memset(&st, 0, sizeof st);
    if ((rc = stored_job(s, job.id, &st, &found, err)) != 0)
        goto done;
    if (found && !spec->paused_set)
        job.paused = st.job.paused;
    if (flags & TOCK_APPLY_DRY_RUN) {
        action = !found ? TOCK_APPLY_ADDED
                 : tock_jobspec_same(&st.job, &job) ? TOCK_APPLY_UNCHANGED
                                                    : TOCK_APPLY_CHANGED;
        version = found ? st.job.version + (action == TOCK_APPLY_CHANGED) : 0;
    } else {
        rc = tock_store_job_put(s, &job, next_ms, TOCK_PUT_UPSERT, 0, &outcome,
                                &version, err);
        if (rc != 0)
            goto done;
        action = outcome == TOCK_PUT_ADDED     ? TOCK_APPLY_ADDED
                 : outcome == TOCK_PUT_CHANGED ? TOCK_APPLY_CHANGED
                                               : TOCK_APPLY_UNCHANGED;
    }
    rc = add_item(r, job.id, action, version,
                  action == TOCK_APPLY_UNCHANGED ? -1 : next_ms, err);
done:
    tock_job_state_clear(&st);
    if (rc != 0)
        tock_error_prefix(err, "job '%s'", job.id);
    return rc;
}

/* --------------------------------------------------------------- prune */

static int str_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int prune(struct tock_store *s, const struct tock_jobspec *specs,
                 size_t n, unsigned flags, struct tock_apply_report *r,
                 struct tock_error *err)
{
    struct tock_job_state *list = NULL;
    const char **keep = NULL, *id;
    size_t nlist = 0, i;
    int rc;

    if (n > 0 && (keep = tock_calloc(n, sizeof *keep)) == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    for (i = 0; i < n; i++)
        keep[i] = specs[i].job.id;
    if (n > 0)
        qsort(keep, n, sizeof *keep, str_ptr_cmp);
    if ((rc = tock_store_job_list(s, &list, &nlist, err)) != 0)
        goto done;
    for (i = 0; i < nlist && rc == 0; i++) {
        id = list[i].job.id;
        if (n > 0 && bsearch(&id, keep, n, sizeof *keep, str_ptr_cmp))
            continue;
        if (!(flags & TOCK_APPLY_DRY_RUN))
            rc = tock_store_job_remove(s, id, err);
        if (rc == TOCK_ENOENT) { /* removed by someone else meanwhile */
            tock_error_clear(err);
            rc = 0;
            continue;
        }
        if (rc == 0)
            rc = add_item(r, id, TOCK_APPLY_REMOVED, 0, -1, err);
        else
            tock_error_prefix(err, "removing job '%s'", id);
    }
done:
    tock_job_state_list_free(list, nlist);
    tock_free(keep);
    return rc;
}

/* ---------------------------------------------------------------- apply */

int tock_apply(struct tock_store *s, const struct tock_jobspec *specs,
               size_t n, unsigned flags, struct tock_apply_report *report,
               struct tock_error *err)
{
    int64_t *next = NULL;
    size_t i;
    int rc;

    memset(report, 0, sizeof *report);
    if ((rc = tock_store_now(s, &report->now_ms, err)) != 0)
        return rc;
    if (n > 0 && (next = tock_calloc(n, sizeof *next)) == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    /* Step 1: everything that can be refused is refused before the first
     * write (STYLE 11). */
    for (i = 0; i < n && rc == 0; i++)
        rc = tock_jobspec_first_fire(&specs[i].job, report->now_ms, &next[i],
                                     err);
    for (i = 0; i < n && rc == 0; i++)
        rc = upsert_one(s, &specs[i], next[i], flags, report, err);
    if (rc == 0 && (flags & TOCK_APPLY_PRUNE))
        rc = prune(s, specs, n, flags, report, err);
    tock_free(next);
    return rc;
}

int tock_apply_file(struct tock_store *s, const char *path, unsigned flags,
                    struct tock_apply_report *report, struct tock_error *err)
{
    struct tock_jobspec_set set;
    int rc;

    memset(report, 0, sizeof *report);
    if ((rc = tock_jobspec_load_file(path, &set, err)) != 0)
        return rc;
    if (!set.has_jobs)
        flags &= ~(unsigned)TOCK_APPLY_PRUNE;
    rc = tock_apply(s, set.jobs, set.n, flags, report, err);
    tock_jobspec_set_clear(&set);
    return rc;
}
