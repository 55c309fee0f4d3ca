/* child.c: the pool child process (see child.h for its socket protocol).
 *
 * ON a task frame: 1. decode it; 2. find its handler in the fork-time
 * registry (a name the configuration does not define gives an `error`
 * result, never a program path); 3. run it with tock_exec_run, sending 'S'
 * with the handler's process group as soon as it runs; 4. send 'R'.
 * ON EOF or the parent-death signal: the supervisor is gone; whatever runs
 * is killed by tock_exec_run (SIGKILL to the group) and the child exits,
 * because nobody is left to report to.
 */
#include "worker/child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "proto/codec.h"
#include "proto/frame.h"
#include "worker/exec.h"
#include "worker/pool.h"

#define SOCK_FD 3
#define DEATH_FD 4

struct child {
    const struct tock_child_config *cfg;
    struct tock_frame_reader *rd;
    bool lost; /* the supervisor went away or broke the protocol */
};

/* The parent-death signal: a real-time signal nobody sends by habit (unlike
 * SIGUSR1/SIGHUP, which operators send to whole process groups). */
static int death_signal(void)
{
    return SIGRTMIN + 1;
}

int tock_child_msg(char kind, const uint8_t *payload, size_t len,
                   uint8_t **out, size_t *outlen, struct tock_error *err)
{
    uint8_t *buf;

    *out = NULL;
    if (len + 1 > TOCK_CHILD_MAX_FRAME)
        return tock_error_set(err, TOCK_ETOOBIG, "a '%c' message of %zu bytes "
                              "is over the %d-byte frame limit", kind, len,
                              TOCK_CHILD_MAX_FRAME);
    if ((buf = tock_malloc(TOCK_FRAME_HEADER + 1 + len)) == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    tock_frame_header(buf, (uint32_t)(len + 1));
    buf[TOCK_FRAME_HEADER] = (uint8_t)kind;
    if (len > 0)
        memcpy(buf + TOCK_FRAME_HEADER + 1, payload, len);
    *out = buf;
    *outlen = TOCK_FRAME_HEADER + 1 + len;
    return 0;
}

/* ------------------------------------------------------------ process */

static void setup_signals(void)
{
    static const int ignored[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    struct sigaction sa;
    sigset_t set;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        sigaction(s, &sa, NULL); /* drop the supervisor's (libuv's) handlers */
    sa.sa_handler = SIG_IGN;
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        sigaction(ignored[i], &sa, NULL);
    sigemptyset(&set);
    sigaddset(&set, death_signal());
    sigprocmask(SIG_SETMASK, &set, NULL);
}

/* setup_fds leaves exactly: 0 /dev/null, 1 and 2 as inherited, SOCK_FD the
 * socket (non-blocking), DEATH_FD the parent-death signalfd. */
static void setup_fds(const struct tock_child_config *cfg)
{
    sigset_t set;
    int sock_hi = fcntl(cfg->fd, F_DUPFD_CLOEXEC, 10);
    int sfd, null_fd;

    sigemptyset(&set);
    sigaddset(&set, death_signal());
    sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (sock_hi < 0 || sfd < 0 || null_fd < 0)
        _exit(TOCK_CHILD_EXIT_NOMEM);
    if ((sfd = fcntl(sfd, F_DUPFD_CLOEXEC, 10)) < 0 ||
        dup2(null_fd, 0) != 0 || dup3(sock_hi, SOCK_FD, O_CLOEXEC) < 0 ||
        dup3(sfd, DEATH_FD, O_CLOEXEC) < 0)
        _exit(TOCK_CHILD_EXIT_NOMEM);
    tock_exec_close_from(DEATH_FD + 1);
    fcntl(SOCK_FD, F_SETFL, fcntl(SOCK_FD, F_GETFL) | O_NONBLOCK);
}

/* ---------------------------------------------------------------- I/O */

/* send_all writes the whole buffer, waiting when the socket is full; gives
 * up (the supervisor is gone) on an error or the parent-death signal. */
static bool send_all(const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(SOCK_FD, p, len);
        struct pollfd pf[2] = {{SOCK_FD, POLLOUT, 0}, {DEATH_FD, POLLIN, 0}};

        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return false;
        if (poll(pf, 2, -1) > 0 && pf[1].revents)
            return false;
    }
    return true;
}

static void send_msg(char kind, const uint8_t *payload, size_t len)
{
    uint8_t *buf;
    size_t n;

    if (tock_child_msg(kind, payload, len, &buf, &n, NULL) != 0)
        _exit(TOCK_CHILD_EXIT_NOMEM);
    if (!send_all(buf, n))
        _exit(0);
    tock_free(buf);
}

/* read_some reads what the socket has into the reader. Returns 1 when
 * bytes arrived, 0 when none were ready, -1 on EOF or a framing error. */
static int read_some(struct child *c)
{
    uint8_t buf[64 * 1024];
    ssize_t n = read(SOCK_FD, buf, sizeof buf);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0 || tock_frame_reader_feed(c->rd, buf, (size_t)n) != 0)
        return -1;
    return 1;
}

/* ------------------------------------------------------ running a task */

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_started(void *ctx, int pgid)
{
    uint8_t be[4] = {(uint8_t)(pgid >> 24), (uint8_t)(pgid >> 16),
                     (uint8_t)(pgid >> 8), (uint8_t)pgid};

    (void)ctx;
    send_msg(TOCK_CHILD_MSG_STARTED, be, sizeof be);
}

/* on_control: the socket is readable while a handler runs. Only a cancel
 * may come; EOF or anything else means the supervisor is gone or broken. */
static enum tock_exec_ctl on_control(void *ctx)
{
    struct child *c = ctx;
    enum tock_exec_ctl ctl = TOCK_EXEC_CONTINUE;
    const uint8_t *body;
    size_t len;
    int rc;

    if (read_some(c) < 0) {
        c->lost = true;
        return TOCK_EXEC_ABANDON;
    }
    while ((rc = tock_frame_reader_next(c->rd, &body, &len)) == 1) {
        if (len != 1 || body[0] != TOCK_CHILD_MSG_CANCEL) {
            c->lost = true;
            return TOCK_EXEC_ABANDON;
        }
        ctl = TOCK_EXEC_CANCEL;
    }
    if (rc < 0) {
        c->lost = true;
        return TOCK_EXEC_ABANDON;
    }
    return ctl;
}

static void send_result(const struct tock_result *res)
{
    struct tock_error err = {0};
    uint8_t *body = NULL;
    size_t len = 0;

    if (tock_proto_encode_result(res, &body, &len, &err) != 0) {
        /* Not expected (exec bounds every field), but never silent. */
        struct tock_result alt = *res;
        char text[TOCK_ERRSTR_MAX + 64];

        snprintf(text, sizeof text, "the worker could not encode the "
                 "result: %s", err.msg);
        alt.status = TOCK_STATUS_ERROR;
        alt.error = text;
        alt.output = NULL;
        alt.output_len = 0;
        if (tock_proto_encode_result(&alt, &body, &len, NULL) != 0)
            _exit(TOCK_CHILD_EXIT_NOMEM);
    }
    send_msg(TOCK_CHILD_MSG_RESULT, body, len);
    tock_free(body);
}

static void run_task(struct child *c, const uint8_t *p, size_t n)
{
    const struct tock_child_config *cfg = c->cfg;
    struct tock_task task = {0};
    struct tock_result res = {0};
    const struct tock_handler *h;
    struct tock_exec_opts o = {
        .worker_id = cfg->worker_id, .kill_grace_ms = cfg->kill_grace_ms,
        .control_fd = SOCK_FD, .on_control = on_control,
        .abandon_fd = DEATH_FD, .on_started = on_started, .ctx = c};
    char text[TOCK_ID_MAX * 2 + 64];
    int rc;

    if (tock_proto_decode_task(p, n, NULL, &task, NULL) != 0)
        _exit(TOCK_CHILD_EXIT_PROTOCOL);
    h = tock_handlers_find(cfg->handlers, task.handler);
    if (h != NULL) {
        rc = tock_exec_run(h, &task, &o, &res);
    } else {
        snprintf(text, sizeof text, "handler \"%s\" is not configured on "
                 "worker %s", task.handler, cfg->worker_id);
        rc = tock_pool_error_result(&task, cfg->worker_id, text, wall_ms(),
                                    &res);
    }
    if (rc != 0)
        _exit(TOCK_CHILD_EXIT_NOMEM);
    if (c->lost)
        _exit(0);
    send_result(&res);
    tock_result_clear(&res);
    tock_task_clear(&task);
}

/* serve_frames handles every complete frame buffered while idle. */
static void serve_frames(struct child *c)
{
    const uint8_t *body;
    size_t len;
    int rc;

    while ((rc = tock_frame_reader_next(c->rd, &body, &len)) == 1) {
        if (body[0] == TOCK_CHILD_MSG_TASK)
            run_task(c, body + 1, len - 1);
        else if (len != 1 || body[0] != TOCK_CHILD_MSG_CANCEL)
            _exit(TOCK_CHILD_EXIT_PROTOCOL);
        /* else: a cancel that crossed the result on the way; nothing runs */
    }
    if (rc < 0)
        _exit(TOCK_CHILD_EXIT_PROTOCOL);
}

void tock_child_main(const struct tock_child_config *cfg)
{
    struct child c = {.cfg = cfg};

    setup_signals();
    if (prctl(PR_SET_PDEATHSIG, death_signal()) != 0 ||
        getppid() != cfg->parent)
        _exit(0); /* the supervisor died before we could watch it */
    setup_fds(cfg);
    if ((c.rd = tock_frame_reader_new(TOCK_CHILD_MAX_FRAME)) == NULL)
        _exit(TOCK_CHILD_EXIT_NOMEM);
    for (;;) {
        struct pollfd pf[2] = {{SOCK_FD, POLLIN, 0}, {DEATH_FD, POLLIN, 0}};

        serve_frames(&c);
        if (poll(pf, 2, -1) < 0)
            continue;
        if (pf[1].revents)
            _exit(0);
        if (pf[0].revents && read_some(&c) < 0) {
            /* EOF between tasks is the supervisor's "stop"; a framing
             * error is its bug. */
            _exit(c.rd->err ? TOCK_CHILD_EXIT_PROTOCOL : 0);
        }
    }
}
