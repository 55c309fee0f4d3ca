/* apply.h: make the store's jobs match a list of job definitions,
 * idempotently: `tock apply -f FILE` and `tock standalone` at start.
 *
 * ON apply(specs, flags):
 *   1. Check every spec's trigger against the store's clock (now =
 *      tock_store_now) and compute its first fire time
 *      (tock_jobspec_first_fire). Any failure here stops the apply before
 *      the first write: a bad file changes nothing.
 *   2. For each spec, in order: read the stored job (to keep its paused
 *      state when the spec does not say "paused"), then
 *      tock_store_job_put(TOCK_PUT_UPSERT): the store adds it, replaces it
 *      with its version bumped when the definition differs, or writes
 *      nothing when it is the same.
 *   3. With TOCK_APPLY_PRUNE: list the store's jobs and remove every job
 *      whose id is not among the specs.
 *
 * Step 2: because each upsert is one atomic store operation that compares
 * the definition inside its transaction, any number of concurrent applies
 * of one file leave one job per id, one "added" event per id, and no
 * version churn: the first writer adds, the others find it unchanged.
 * Two different definitions of one id applied at once end as whichever
 * wrote last, with its version bumped (the policy is "the file wins";
 * `tock show` says which).
 * Step 2 (paused): a job an operator paused with `tock pause` stays paused
 * when the config is applied again, unless the file sets "paused" itself.
 * The read and the put are two operations; a pause that lands between them
 * is kept only if the file and the stored job otherwise agree.
 * Step 3 runs after the upserts, so a job never disappears and comes back.
 *
 * A failure in step 2 or 3 (the store became unreachable, locked) stops
 * there: what was applied stays applied, the report lists it, and running
 * the same apply again finishes the job (it is idempotent).
 */
#ifndef TOCK_SCHEDULER_APPLY_H
#define TOCK_SCHEDULER_APPLY_H

#include <stddef.h>
#include <stdint.h>

#include "scheduler/jobspec.h"
#include "store/store.h"
#include "tock/error.h"

enum tock_apply_flags {
    TOCK_APPLY_PRUNE = 1 << 0,   /* remove jobs that are not in the list */
    TOCK_APPLY_DRY_RUN = 1 << 1, /* report what would change; write nothing */
};

enum tock_apply_action {
    TOCK_APPLY_ADDED = 0,
    TOCK_APPLY_CHANGED = 1,
    TOCK_APPLY_UNCHANGED = 2,
    TOCK_APPLY_REMOVED = 3,
};

/* tock_apply_item: what happened to one job. */
struct tock_apply_item {
    char *id;                       /* owned */
    enum tock_apply_action action;
    int64_t version;                /* stored version after the apply (0 for
                                       removed and for a dry run's adds) */
    int64_t next_fire_ms;           /* first fire computed for an added or
                                       changed job; -1: finished or n/a */
};

/* tock_apply_report: one item per spec (in order), then one per pruned
 * job (in id order), and the counts. */
struct tock_apply_report {
    struct tock_apply_item *items;  /* owned */
    size_t n;
    size_t added, changed, unchanged, removed;
    int64_t now_ms;                 /* the store's clock the apply used */
};

/* tock_apply_report_clear frees what `r` owns and zeroes it (safe on a
 * zeroed struct and on NULL). */
void tock_apply_report_clear(struct tock_apply_report *r);

/* tock_apply_action_name returns "added", "changed", "unchanged" or
 * "removed" (static). */
const char *tock_apply_action_name(enum tock_apply_action a);

/* tock_apply makes the store `s` hold the `n` jobs of `specs` (borrowed;
 * validated by scheduler/jobspec, ids unique) as described at the top of
 * this file, with `flags` from enum tock_apply_flags. *report (overwritten
 * without freeing: pass a zeroed one; free it with
 * tock_apply_report_clear) tells what happened, also when an error stopped
 * the apply part way. Errors: those of the triggers (nothing written), of
 * the store (TOCK_EBUSY, TOCK_EIO, ...), TOCK_ENOMEM. */
int tock_apply(struct tock_store *s, const struct tock_jobspec *specs,
               size_t n, unsigned flags, struct tock_apply_report *report,
               struct tock_error *err);

/* tock_apply_file loads the config file at `path` with
 * tock_jobspec_load_file and applies its "jobs" (a file without "jobs"
 * applies nothing, and never prunes). */
int tock_apply_file(struct tock_store *s, const char *path, unsigned flags,
                    struct tock_apply_report *report, struct tock_error *err);

#endif /* TOCK_SCHEDULER_APPLY_H */
