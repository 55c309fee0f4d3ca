/* history_check.h: the history checker of the scheduler integration and
 * fault tests (RELIABILITY.md b.1, "checker rules").
 *
 * A test declares what should have happened (each job's grid of scheduled
 * times), feeds what did happen from several independent witnesses, and
 * asks for a verdict. The checker never trusts one witness alone:
 *
 *   source   what one record is                    a duplicate shows as
 *   RUNS     a run record (tock_store_runs: one     two records of one
 *            per occurrence, its latest state)      occurrence
 *   STREAM   a raw history entry read past the      two decisions for one
 *            store API (Redis: the runs:<job>       occurrence
 *            stream, every entry)
 *   EVENTS   a "fired" event (tock_store_events)    two fired events
 *   TASKS    a queued task (tock_store_task_take)   two tasks
 *
 * ON check(t_end), per job, per scheduled time T that has any record or is
 * on the job's grid at or before t_end (D = dispatched, M = missed or
 * skipped, counted in RUNS, else STREAM):
 *   1. T off the grid (before the first, past the last, not first + k *
 *      period), or a record of an undeclared job: "unexpected".
 *   2. D + M >= 2 in RUNS or STREAM, or two fired events, or two tasks:
 *      "duplicate".
 *   3. T on the grid, T <= t_end, D + M = 0: "lost". Occurrences after
 *      t_end may be unresolved, but never doubled.
 *   4. A dispatch recorded before T (the store's clock): "early".
 *   5. The witnesses disagree: a fired event or a task without its
 *      dispatched run record (or the reverse), STREAM and RUNS counting
 *      differently: "mismatched". A task without a run record is the
 *      broken commit atomicity RELIABILITY.md's invariants name.
 *   Lateness (the RUNS dispatch time - T) is summarised as p50/p99/max.
 * Only sources a test enabled (tock_hist_enable, or a loader) take part in
 * the cross-checks of 5, so a test may use any subset.
 *
 * The grid: first + k * period for k >= 0 up to `last` (period 0: the one
 * time `first`). An interval job is that grid from its anchor; cron
 * `*\/2 * * * * *` is the grid of even seconds from its first occurrence;
 * a date job has period 0. DST and cron edge cases belong in the trigger
 * unit tests, not here.
 *
 * Not thread-safe; memory is the checker's until tock_hist_free.
 */
#ifndef TOCK_TEST_HISTORY_CHECK_H
#define TOCK_TEST_HISTORY_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store/store.h"
#include "tock/error.h"

#define TOCK_HIST_OPEN INT64_MAX /* `last` of a grid without an end */
#define TOCK_HIST_NOTES 8        /* problems described in a report */
#define TOCK_HIST_NOTE_MAX 240

enum tock_hist_source {
    TOCK_HIST_RUNS = 0,
    TOCK_HIST_STREAM,
    TOCK_HIST_EVENTS,
    TOCK_HIST_TASKS,
    TOCK_HIST_NSOURCES
};

enum tock_hist_kind {
    TOCK_HIST_DISPATCHED = 0,
    TOCK_HIST_MISSED,
    TOCK_HIST_SKIPPED,
};

/* tock_hist_report: the verdict. `problems` = lost + duplicates +
 * unexpected + early + mismatched; a history passes when it is 0. */
struct tock_hist_report {
    size_t jobs;          /* jobs declared */
    size_t checked;       /* grid occurrences at or before t_end */
    size_t dispatched, missed, skipped; /* how those were resolved */
    size_t after_end;     /* resolved occurrences after t_end */
    size_t lost, duplicates, unexpected, early, mismatched;
    size_t problems;
    int64_t late_p50_ms, late_p99_ms, late_max_ms; /* -1: no dispatch */
    size_t n_notes;       /* how many of the notes are set */
    char notes[TOCK_HIST_NOTES][TOCK_HIST_NOTE_MAX]; /* the first problems */
};

struct tock_hist;

/* tock_hist_new returns a new, empty checker in *out, which the caller
 * frees with tock_hist_free. TOCK_ENOMEM. */
int tock_hist_new(struct tock_hist **out);

/* tock_hist_free frees `h`; NULL does nothing. */
void tock_hist_free(struct tock_hist *h);

/* tock_hist_expect declares job `job` (copied) with the grid first +
 * k * period up to `last` (TOCK_HIST_OPEN: no end; period 0: one
 * occurrence). TOCK_EINVAL for a negative period, last < first or a job
 * declared twice; TOCK_ENOMEM. */
int tock_hist_expect(struct tock_hist *h, const char *job, int64_t first_ms,
                     int64_t period_ms, int64_t last_ms);

/* tock_hist_enable makes `src` take part in the cross-checks even if it
 * turns out to hold no records (the loaders below call it). */
void tock_hist_enable(struct tock_hist *h, enum tock_hist_source src);

/* tock_hist_add records one witness: `src` saw occurrence (job, sched_ms)
 * resolved as `kind` at store time `at_ms` (0: unknown) by scheduler node
 * `node` (may be NULL). Strings are copied. Enables `src`. TOCK_ENOMEM. */
int tock_hist_add(struct tock_hist *h, enum tock_hist_source src,
                  const char *job, int64_t sched_ms, enum tock_hist_kind kind,
                  int64_t at_ms, const char *node);

/* tock_hist_add_occ is tock_hist_add with an occurrence id
 * "<job>@<sched_ms>". TOCK_EINVAL when it does not parse. */
int tock_hist_add_occ(struct tock_hist *h, enum tock_hist_source src,
                      const char *occ, enum tock_hist_kind kind,
                      int64_t at_ms, const char *node);

/* tock_hist_kind_of maps a run status ("missed", "skipped", anything else
 * a dispatched occurrence reaches: "dispatched", "ok", "dead", ...). */
enum tock_hist_kind tock_hist_kind_of(const char *status);

/* tock_hist_load_runs adds the run records of every declared job
 * (tock_store_runs, up to `limit` per job) as RUNS. */
int tock_hist_load_runs(struct tock_hist *h, struct tock_store *s,
                        size_t limit, struct tock_error *err);

/* tock_hist_load_events adds every "fired" event as EVENTS, and counts
 * the events of each type into counts[type] (TOCK_EVENT_COUNT_ entries,
 * zeroed first; may be NULL). */
int tock_hist_load_events(struct tock_hist *h, struct tock_store *s,
                          size_t *counts, struct tock_error *err);

/* tock_hist_load_tasks takes every ready task of `queues` (as consumer
 * "history-check", so the tasks are leased afterwards: call it last) and
 * adds each as TASKS. */
int tock_hist_load_tasks(struct tock_hist *h, struct tock_store *s,
                         const char *const *queues, size_t nqueues,
                         struct tock_error *err);

/* tock_hist_check fills *r with the verdict for occurrences due at or
 * before `t_end_ms` (store time). It may be called more than once. */
void tock_hist_check(struct tock_hist *h, int64_t t_end_ms,
                     struct tock_hist_report *r);

/* tock_hist_count_node counts RUNS (else STREAM) records, of the given
 * kind, whose node starts with `node_prefix`. */
size_t tock_hist_count_node(const struct tock_hist *h,
                            const char *node_prefix, enum tock_hist_kind kind);

/* tock_hist_report_print writes the figures and the notes of `r`, titled
 * `title`, to `out`. */
void tock_hist_report_print(const struct tock_hist_report *r,
                            const char *title, FILE *out);

#endif /* TOCK_TEST_HISTORY_CHECK_H */
