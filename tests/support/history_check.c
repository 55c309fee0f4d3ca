/* history_check.c: the history checker (see history_check.h).
 *
 * ON check: 1. sort the declared jobs by id and the records by (job, T,
 * source); 2. per declared job, merge its grid (up to t_end) with its
 * records grouped by T: a grid time without records is lost, a group is
 * judged by judge_group; 3. every record of an undeclared job is
 * unexpected; 4. lateness percentiles from the collected dispatch delays.
 * Step 2 walks the grid rather than counting it, so the first lost
 * occurrences can be named in the notes.
 */
#include "history_check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "proto/model.h"

struct hist_job {
    char *id;
    int64_t first, period, last;
};

struct hist_rec {
    char *job;
    char *node;          /* NULL when unknown */
    int64_t sched, at;
    unsigned char src, kind;
};

struct tock_hist {
    struct hist_job *jobs;
    size_t njobs, capjobs;
    struct hist_rec *recs;
    size_t nrecs, caprecs;
    bool enabled[TOCK_HIST_NSOURCES];
    int64_t *late;       /* scratch for a check */
    size_t nlate, caplate;
};

/* ------------------------------------------------------------ building */

int tock_hist_new(struct tock_hist **out)
{
    *out = calloc(1, sizeof **out);
    return *out != NULL ? 0 : TOCK_ENOMEM;
}

void tock_hist_free(struct tock_hist *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->njobs; i++)
        free(h->jobs[i].id);
    for (size_t i = 0; i < h->nrecs; i++) {
        free(h->recs[i].job);
        free(h->recs[i].node);
    }
    free(h->jobs);
    free(h->recs);
    free(h->late);
    free(h);
}

/* grow makes room for one more element of `size` in *v. */
static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    size_t ncap = *cap ? *cap * 2 : 64;
    void *p;

    if (n < *cap)
        return 0;
    p = realloc(*v, ncap * size);
    if (p == NULL)
        return TOCK_ENOMEM;
    *v = p;
    *cap = ncap;
    return 0;
}

int tock_hist_expect(struct tock_hist *h, const char *job, int64_t first_ms,
                     int64_t period_ms, int64_t last_ms)
{
    struct hist_job *j;

    if (period_ms < 0 || last_ms < first_ms)
        return TOCK_EINVAL;
    for (size_t i = 0; i < h->njobs; i++)
        if (strcmp(h->jobs[i].id, job) == 0)
            return TOCK_EINVAL;
    if (grow((void **)&h->jobs, &h->capjobs, h->njobs, sizeof *h->jobs) != 0)
        return TOCK_ENOMEM;
    j = &h->jobs[h->njobs];
    if ((j->id = strdup(job)) == NULL)
        return TOCK_ENOMEM;
    j->first = first_ms;
    j->period = period_ms;
    j->last = last_ms;
    h->njobs++;
    return 0;
}

void tock_hist_enable(struct tock_hist *h, enum tock_hist_source src)
{
    h->enabled[src] = true;
}

int tock_hist_add(struct tock_hist *h, enum tock_hist_source src,
                  const char *job, int64_t sched_ms, enum tock_hist_kind kind,
                  int64_t at_ms, const char *node)
{
    struct hist_rec *r;

    if (grow((void **)&h->recs, &h->caprecs, h->nrecs, sizeof *h->recs) != 0)
        return TOCK_ENOMEM;
    r = &h->recs[h->nrecs];
    memset(r, 0, sizeof *r);
    r->job = strdup(job);
    r->node = node != NULL ? strdup(node) : NULL;
    if (r->job == NULL || (node != NULL && r->node == NULL)) {
        free(r->job);
        free(r->node);
        return TOCK_ENOMEM;
    }
    r->sched = sched_ms;
    r->at = at_ms;
    r->src = (unsigned char)src;
    r->kind = (unsigned char)kind;
    h->nrecs++;
    h->enabled[src] = true;
    return 0;
}

int tock_hist_add_occ(struct tock_hist *h, enum tock_hist_source src,
                      const char *occ, enum tock_hist_kind kind,
                      int64_t at_ms, const char *node)
{
    char job[TOCK_ID_MAX + 1];
    int64_t sched;

    if (occ == NULL || tock_occ_parse(occ, job, &sched, NULL) != 0)
        return TOCK_EINVAL;
    return tock_hist_add(h, src, job, sched, kind, at_ms, node);
}

enum tock_hist_kind tock_hist_kind_of(const char *status)
{
    if (strcmp(status, "missed") == 0)
        return TOCK_HIST_MISSED;
    if (strcmp(status, "skipped") == 0)
        return TOCK_HIST_SKIPPED;
    return TOCK_HIST_DISPATCHED;
}

/* ------------------------------------------------------------- loaders */

/* added turns a failure to add a record a store gave into a message. */
static int added(int rc, const char *what, const char *occ,
                 struct tock_error *err)
{
    if (rc == TOCK_ENOMEM)
        return tock_error_set(err, rc, "out of memory");
    if (rc != 0)
        return tock_error_set(err, rc, "%s has a bad occurrence id '%.120s'",
                              what, occ != NULL ? occ : "(none)");
    return 0;
}

int tock_hist_load_runs(struct tock_hist *h, struct tock_store *s,
                        size_t limit, struct tock_error *err)
{
    int rc = 0;

    h->enabled[TOCK_HIST_RUNS] = true;
    for (size_t i = 0; rc == 0 && i < h->njobs; i++) {
        struct tock_run *r = NULL;
        size_t n = 0;

        rc = tock_store_runs(s, h->jobs[i].id, limit, &r, &n, err);
        for (size_t k = 0; rc == 0 && k < n; k++)
            rc = added(tock_hist_add(h, TOCK_HIST_RUNS, h->jobs[i].id,
                                     r[k].sched_ms,
                                     tock_hist_kind_of(r[k].status),
                                     r[k].fired_ms, r[k].node),
                       "a run record", r[k].occ, err);
        tock_run_list_free(r, n);
    }
    return rc;
}

int tock_hist_load_events(struct tock_hist *h, struct tock_store *s,
                          size_t *counts, struct tock_error *err)
{
    int64_t after = 0;
    size_t n;
    int rc = 0;

    h->enabled[TOCK_HIST_EVENTS] = true;
    if (counts != NULL)
        memset(counts, 0, TOCK_EVENT_COUNT_ * sizeof *counts);
    do {
        struct tock_event *ev = NULL;
        int64_t *ids = NULL;

        n = 0;
        rc = tock_store_events(s, after, 1000, &ev, &ids, &n, err);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            after = ids[i];
            if (counts != NULL && ev[i].type < TOCK_EVENT_COUNT_)
                counts[ev[i].type]++;
            if (ev[i].type == TOCK_EVENT_FIRED)
                rc = added(tock_hist_add_occ(h, TOCK_HIST_EVENTS, ev[i].occ,
                                             TOCK_HIST_DISPATCHED, ev[i].ts_ms,
                                             ev[i].node),
                           "a fired event", ev[i].occ, err);
        }
        tock_event_list_free(ev, ids, n);
    } while (rc == 0 && n > 0);
    return rc;
}

int tock_hist_load_tasks(struct tock_hist *h, struct tock_store *s,
                         const char *const *queues, size_t nqueues,
                         struct tock_error *err)
{
    size_t n;
    int rc = 0;

    h->enabled[TOCK_HIST_TASKS] = true;
    do {
        struct tock_task_lease *t = NULL;

        n = 0;
        rc = tock_store_task_take(s, queues, nqueues, "history-check", 256,
                                  3600000, &t, &n, err);
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = added(tock_hist_add_occ(h, TOCK_HIST_TASKS, t[i].occ,
                                         TOCK_HIST_DISPATCHED, 0, NULL),
                       "a task", t[i].occ, err);
        tock_task_lease_list_free(t, n);
    } while (rc == 0 && n > 0);
    return rc;
}

/* ------------------------------------------------------------- sorting */

static int cmp_job(const void *x, const void *y)
{
    return strcmp(((const struct hist_job *)x)->id,
                  ((const struct hist_job *)y)->id);
}

static int cmp_rec(const void *x, const void *y)
{
    const struct hist_rec *a = x, *b = y;
    int c = strcmp(a->job, b->job);

    if (c != 0)
        return c;
    if (a->sched != b->sched)
        return a->sched < b->sched ? -1 : 1;
    if (a->src != b->src)
        return a->src < b->src ? -1 : 1;
    return (int)a->kind - (int)b->kind;
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

    return a < b ? -1 : a > b;
}

/* first_rec returns the index of the first record of `job` (or where it
 * would be) in the sorted records. */
static size_t first_rec(const struct tock_hist *h, const char *job)
{
    size_t lo = 0, hi = h->nrecs;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (strcmp(h->recs[mid].job, job) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const struct hist_job *find_job(const struct tock_hist *h,
                                       const char *id)
{
    struct hist_job key = {.id = (char *)id};

    if (h->njobs == 0)
        return NULL;
    return bsearch(&key, h->jobs, h->njobs, sizeof *h->jobs, cmp_job);
}

/* ------------------------------------------------------------ judgement */

static void note(struct tock_hist_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note(struct tock_hist_report *r, const char *fmt, ...)
{
    va_list ap;

    if (r->n_notes >= TOCK_HIST_NOTES)
        return;
    va_start(ap, fmt);
    vsnprintf(r->notes[r->n_notes++], TOCK_HIST_NOTE_MAX, fmt, ap);
    va_end(ap);
}

/* group: the records of one (job, T), counted. */
struct group {
    const char *job;
    int64_t sched;
    size_t n[TOCK_HIST_NSOURCES][3]; /* [source][kind] */
    size_t total[TOCK_HIST_NSOURCES];
    int64_t first_at[TOCK_HIST_NSOURCES]; /* of the first dispatch */
    bool early;
};

static void count_group(const struct hist_rec *v, size_t a, size_t b,
                        struct group *g)
{
    memset(g, 0, sizeof *g);
    g->job = v[a].job;
    g->sched = v[a].sched;
    for (size_t i = a; i < b; i++) {
        const struct hist_rec *x = &v[i];

        g->n[x->src][x->kind]++;
        if (g->total[x->src]++ == 0 && x->kind == TOCK_HIST_DISPATCHED)
            g->first_at[x->src] = x->at;
        if (x->kind == TOCK_HIST_DISPATCHED && x->at > 0 && x->at < x->sched)
            g->early = true;
    }
}

static bool on_grid(const struct hist_job *j, int64_t t)
{
    if (t < j->first || t > j->last)
        return false;
    return j->period == 0 ? t == j->first : (t - j->first) % j->period == 0;
}

static enum tock_hist_source primary(const struct tock_hist *h)
{
    return h->enabled[TOCK_HIST_RUNS] ? TOCK_HIST_RUNS : TOCK_HIST_STREAM;
}

/* witnesses_agree: every enabled witness tells the same story as the
 * primary source. */
static bool witnesses_agree(const struct tock_hist *h, const struct group *g)
{
    enum tock_hist_source p = primary(h);
    size_t d = g->n[p][TOCK_HIST_DISPATCHED];

    if (h->enabled[TOCK_HIST_EVENTS] && g->n[TOCK_HIST_EVENTS][0] != d)
        return false;
    if (h->enabled[TOCK_HIST_TASKS] && g->n[TOCK_HIST_TASKS][0] != d)
        return false;
    if (h->enabled[TOCK_HIST_RUNS] && h->enabled[TOCK_HIST_STREAM])
        for (int k = 0; k < 3; k++)
            if (g->n[TOCK_HIST_RUNS][k] != g->n[TOCK_HIST_STREAM][k])
                return false;
    return true;
}

static void describe(const struct group *g, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "runs %zu+%zu+%zu, stream %zu+%zu+%zu, fired events %zu, tasks "
             "%zu (dispatched+missed+skipped)",
             g->n[0][0], g->n[0][1], g->n[0][2], g->n[1][0], g->n[1][1],
             g->n[1][2], g->n[2][0], g->n[3][0]);
}

static void add_late(struct tock_hist *h, int64_t late)
{
    if (grow((void **)&h->late, &h->caplate, h->nlate, sizeof *h->late) == 0)
        h->late[h->nlate++] = late;
}

/* resolve counts how a resolved occurrence ended. */
static void resolve(struct tock_hist *h, const struct group *g, bool due,
                    struct tock_hist_report *r)
{
    enum tock_hist_source p = primary(h);

    if (g->total[p] == 0)
        return;
    if (!due) {
        r->after_end++;
    } else if (g->n[p][TOCK_HIST_DISPATCHED] > 0) {
        r->dispatched++;
    } else if (g->n[p][TOCK_HIST_MISSED] > 0) {
        r->missed++;
    } else {
        r->skipped++;
    }
    if (g->n[p][TOCK_HIST_DISPATCHED] > 0 && g->first_at[p] > 0)
        add_late(h, g->first_at[p] - g->sched);
}

/* judge_group applies rules 1, 2, 4, 5 to one group (and 3 when it has
 * no primary record). `j` is NULL for an undeclared job. */
static void judge_group(struct tock_hist *h, const struct hist_job *j,
                        const struct group *g, int64_t t_end,
                        struct tock_hist_report *r)
{
    char what[200];
    bool due = g->sched <= t_end;

    describe(g, what, sizeof what);
    if (j == NULL || !on_grid(j, g->sched)) {
        r->unexpected++;
        note(r, "unexpected: %s@%" PRId64 " is %s (%s)", g->job, g->sched,
             j == NULL ? "of an undeclared job" : "off the job's grid", what);
        return;
    }
    if (due)
        r->checked++;
    for (int s = 0; s < TOCK_HIST_NSOURCES; s++) {
        if (g->total[s] >= 2) {
            r->duplicates++;
            note(r, "duplicate: %s@%" PRId64 ": %s", g->job, g->sched, what);
            break;
        }
    }
    if (g->total[primary(h)] == 0 && due) {
        r->lost++;
        note(r, "lost: %s@%" PRId64 " has no run record (%s)", g->job,
             g->sched, what);
    } else if (!witnesses_agree(h, g)) {
        r->mismatched++;
        note(r, "mismatched: %s@%" PRId64 ": %s", g->job, g->sched, what);
    }
    if (g->early) {
        r->early++;
        note(r, "early: %s@%" PRId64 " was dispatched before its time",
             g->job, g->sched);
    }
    resolve(h, g, due, r);
}

/* next_grid returns the grid time after `t`, or INT64_MAX when none. */
static int64_t next_grid(const struct hist_job *j, int64_t t)
{
    if (j->period == 0 || t > j->last - j->period)
        return INT64_MAX;
    return t + j->period;
}

/* check_job merges job j's grid (up to t_end) with its record groups. */
static void check_job(struct tock_hist *h, const struct hist_job *j,
                      int64_t t_end, struct tock_hist_report *r)
{
    size_t i = first_rec(h, j->id);
    int64_t t = j->first, limit = j->last < t_end ? j->last : t_end;

    while (true) {
        bool more = i < h->nrecs && strcmp(h->recs[i].job, j->id) == 0;
        struct group g;
        size_t k = i;

        if (t <= limit && (!more || t < h->recs[i].sched)) {
            r->checked++;
            r->lost++;
            note(r, "lost: %s@%" PRId64 " has no record at all", j->id, t);
            t = next_grid(j, t);
            continue;
        }
        if (!more)
            return;
        while (k < h->nrecs && strcmp(h->recs[k].job, j->id) == 0 &&
               h->recs[k].sched == h->recs[i].sched)
            k++;
        count_group(h->recs, i, k, &g);
        judge_group(h, j, &g, t_end, r);
        if (t == g.sched)
            t = next_grid(j, t);
        i = k;
    }
}

/* check_undeclared judges the records of jobs nobody declared. */
static void check_undeclared(struct tock_hist *h, int64_t t_end,
                             struct tock_hist_report *r)
{
    size_t i = 0;

    while (i < h->nrecs) {
        size_t k = i;
        struct group g;

        while (k < h->nrecs && strcmp(h->recs[k].job, h->recs[i].job) == 0 &&
               h->recs[k].sched == h->recs[i].sched)
            k++;
        if (find_job(h, h->recs[i].job) == NULL) {
            count_group(h->recs, i, k, &g);
            judge_group(h, NULL, &g, t_end, r);
        }
        i = k;
    }
}

static int64_t percentile(const int64_t *v, size_t n, int q)
{
    size_t rank = (n * (size_t)q + 99) / 100; /* nearest rank, 1-based */

    if (n == 0)
        return -1;
    return v[rank > 0 ? rank - 1 : 0];
}

void tock_hist_check(struct tock_hist *h, int64_t t_end_ms,
                     struct tock_hist_report *r)
{
    memset(r, 0, sizeof *r);
    r->jobs = h->njobs;
    h->nlate = 0;
    if (h->njobs > 1) /* qsort(NULL, 0, ...) is undefined */
        qsort(h->jobs, h->njobs, sizeof *h->jobs, cmp_job);
    if (h->nrecs > 1)
        qsort(h->recs, h->nrecs, sizeof *h->recs, cmp_rec);
    for (size_t i = 0; i < h->njobs; i++)
        check_job(h, &h->jobs[i], t_end_ms, r);
    check_undeclared(h, t_end_ms, r);
    if (h->nlate > 1)
        qsort(h->late, h->nlate, sizeof *h->late, cmp_i64);
    r->late_p50_ms = percentile(h->late, h->nlate, 50);
    r->late_p99_ms = percentile(h->late, h->nlate, 99);
    r->late_max_ms = h->nlate > 0 ? h->late[h->nlate - 1] : -1;
    r->problems = r->lost + r->duplicates + r->unexpected + r->early +
                  r->mismatched;
}

/* ------------------------------------------------------------- queries */

size_t tock_hist_count_node(const struct tock_hist *h,
                            const char *node_prefix, enum tock_hist_kind kind)
{
    enum tock_hist_source p = primary(h);
    size_t len = strlen(node_prefix), n = 0;

    for (size_t i = 0; i < h->nrecs; i++) {
        const struct hist_rec *x = &h->recs[i];

        n += x->src == p && x->kind == kind && x->node != NULL &&
             strncmp(x->node, node_prefix, len) == 0;
    }
    return n;
}

void tock_hist_report_print(const struct tock_hist_report *r,
                            const char *title, FILE *out)
{
    fprintf(out,
            "%s: %zu jobs, %zu occurrences checked (%zu dispatched, %zu "
            "missed, %zu skipped; %zu more after the end); lost %zu, "
            "duplicates %zu, unexpected %zu, early %zu, mismatched %zu; "
            "lateness p50 %" PRId64 " ms, p99 %" PRId64 " ms, max %" PRId64
            " ms\n",
            title, r->jobs, r->checked, r->dispatched, r->missed, r->skipped,
            r->after_end, r->lost, r->duplicates, r->unexpected, r->early,
            r->mismatched, r->late_p50_ms, r->late_p99_ms, r->late_max_ms);
    for (size_t i = 0; i < r->n_notes; i++)
        fprintf(out, "  %s\n", r->notes[i]);
}
