/* embed_minimal.c: the smallest libtock program. It runs a C function
 * every second for three seconds; its job lives in minimal.db, so a second
 * run continues the same schedule. Build it against an installed libtock:
 *     cc embed_minimal.c $(pkg-config --cflags --libs tock)
 * (docs/library.md walks through the API.) */
#include <stdio.h>
#include <unistd.h>

#include <tock/tock.h>

static int tick(struct tock_call *call, void *data)
{
    (void)data;
    printf("tick %s\n", tock_call_occurrence(call));
    return 0;
}

int main(int argc, char **argv)
{
    const char *store = argc > 1 ? argv[1] : "sqlite:minimal.db";
    struct tock_jobdef job = {.id = "tick", .trigger = "interval:1s",
                              .function = "tick"};
    struct tock_scheduler *s;
    struct tock_error err;

    if (tock_scheduler_new(store, NULL, &s, &err) != 0)
        return fprintf(stderr, "embed_minimal: %s\n", err.msg), 1;
    tock_scheduler_register(s, "tick", tick, NULL, NULL);
    tock_scheduler_replace_job(s, &job, NULL);
    tock_scheduler_start(s, NULL);
    sleep(3);
    tock_scheduler_free(s);
    return 0;
}
