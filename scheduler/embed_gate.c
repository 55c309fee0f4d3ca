/* embed_gate.c: fair turns at the SQLite write lock between the embedded
 * scheduler's own connections.
 *
 * The scheduler has three connections to one SQLite file (embed.h): the
 * API's, the firing loop's and the dispatcher's. SQLite's write lock is
 * not fair: a connection that finds it taken sleeps in its busy handler
 * (SQLite's default sleeps 1, 2, 5, ... up to 100 ms between tries) and
 * retries, while the holder may take it again at once. Measured: four
 * threads calling the job API in a loop kept the firing loop from
 * committing anything for as long as they ran (800 ms, nothing fired).
 *
 * So the engine (firing loop and dispatcher) goes first:
 *   ON the engine's connection finding the lock taken (busy handler):
 *     1. mark "engine waiting" until now + 3 ms (refreshed every try);
 *     2. sleep 1 ms and try again, up to the store's busy timeout.
 *   ON an API write, before its transaction:
 *     1. while the engine is marked waiting (at most 100 ms), sleep 1 ms.
 *   Step 1 of the API: because the engine's next try comes within 1 ms, it
 *   finds the lock free and takes it; its transactions are short (one
 *   claim, commit or report batch), so the API waits a few ms at most.
 * The API's own connection polls every 1 ms too, for the same reason.
 * Other processes on the file (the CLI, another program) keep SQLite's
 * default behaviour. Only SQLite stores are touched.
 *
 * The gate is reference-counted: the firing side's connection, whose busy
 * handler points at it, may outlive the scheduler when attached to a
 * caller's loop (embed_fire.c).
 */
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "core/alloc.h"
#include "scheduler/embed.h"
#include "store/sqlite.h"

#define POLL_MS 1
#define MARK_MS 3
#define API_YIELD_MAX_MS 100

static void nap_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};

    nanosleep(&ts, NULL);
}

static int busy_timeout_ms(struct tock_store *s)
{
    int64_t t = tock_sqlite_of(s)->busy_timeout_ms;

    return t > 0 && t < 3600000 ? (int)t : TOCK_SQLITE_BUSY_TIMEOUT_MS;
}

static int engine_busy(void *arg, int count)
{
    struct tock_embed_gate *g = arg;

    if (count * POLL_MS >= g->timeout_ms)
        return 0; /* SQLITE_BUSY: the store reports TOCK_EBUSY */
    atomic_store(&g->engine_waiting_until, tock_embed_mono_ms() + MARK_MS);
    nap_ms(POLL_MS);
    return 1;
}

static int api_busy(void *arg, int count)
{
    struct tock_embed_gate *g = arg;

    if (count * POLL_MS >= g->timeout_ms)
        return 0;
    nap_ms(POLL_MS);
    return 1;
}

struct tock_embed_gate *tock_embed_gate_new(void)
{
    struct tock_embed_gate *g = tock_calloc(1, sizeof *g);

    if (g == NULL)
        return NULL;
    atomic_init(&g->refs, 1);
    atomic_init(&g->engine_waiting_until, 0);
    g->timeout_ms = TOCK_SQLITE_BUSY_TIMEOUT_MS;
    return g;
}

void tock_embed_gate_ref(struct tock_embed_gate *g)
{
    atomic_fetch_add(&g->refs, 1);
}

void tock_embed_gate_unref(struct tock_embed_gate *g)
{
    if (g != NULL && atomic_fetch_sub(&g->refs, 1) == 1)
        tock_free(g);
}

void tock_embed_gate_install(struct tock_embed_gate *g, struct tock_store *s,
                             bool engine)
{
    if (s == NULL || strcmp(tock_store_kind(s), "sqlite") != 0)
        return;
    g->timeout_ms = busy_timeout_ms(s);
    sqlite3_busy_handler(tock_sqlite_of(s)->db, engine ? engine_busy : api_busy,
                         g);
}

void tock_embed_gate_yield(struct tock_embed_gate *g)
{
    uint64_t start = tock_embed_mono_ms(), now = start;

    while (now < atomic_load(&g->engine_waiting_until) &&
           now - start < API_YIELD_MAX_MS) {
        nap_ms(POLL_MS);
        now = tock_embed_mono_ms();
    }
}
