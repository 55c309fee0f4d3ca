/* exec.c: run one task with an exec handler (see exec.h for the steps). */
#include "worker/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/parse.h"
#include "proto/json.h"

#define READ_CHUNK (64 * 1024)
#define MARK_MAX 64            /* bytes of the "[tock: N bytes omitted]" line */
#define NO_PIDFD_TICK_MS 20    /* wait-status polling without a pidfd */

/* ---------------------------------------------------------------- clocks */

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tock_exec_format_rfc3339(int64_t ms, char *buf, size_t cap)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char date[32];

    gmtime_r(&secs, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%03dZ", date, (int)(ms % 1000));
}

/* ------------------------------------------------------- string vectors */

struct strv {
    char **v; /* n strings + NULL */
    size_t n;
};

/* strv_add appends `s`, taking ownership (freed on failure). */
static int strv_add(struct strv *sv, char *s)
{
    char **grown;

    if (s == NULL)
        return TOCK_ENOMEM;
    if ((grown = tock_realloc(sv->v, (sv->n + 2) * sizeof *grown)) == NULL) {
        tock_free(s);
        return TOCK_ENOMEM;
    }
    grown[sv->n++] = s;
    grown[sv->n] = NULL;
    sv->v = grown;
    return 0;
}

/* strv_addkv appends "name=value". */
static int strv_addkv(struct strv *sv, const char *name, const char *value)
{
    size_t cap = strlen(name) + strlen(value) + 2;
    char *s = tock_malloc(cap);

    if (s != NULL)
        snprintf(s, cap, "%s=%s", name, value);
    return strv_add(sv, s);
}

static void strv_free(struct strv *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        tock_free(sv->v[i]);
    tock_free(sv->v);
    sv->v = NULL;
    sv->n = 0;
}

/* --------------------------------------------------------- output excerpt */

/* capture keeps the first `limit` bytes and, in a ring, the last tail_cap
 * bytes of everything the command writes, so memory stays 2 * limit however
 * much it prints. */
struct capture {
    uint8_t *head;
    size_t head_len;
    uint8_t *tail;
    size_t tail_cap, tail_pos;
    uint64_t total;
    size_t limit;
};

static int capture_init(struct capture *c, size_t limit)
{
    memset(c, 0, sizeof *c);
    c->limit = limit;
    /* Below 4 markers' worth a head+tail excerpt is mostly marker. */
    c->tail_cap = limit >= 4 * MARK_MAX ? limit - limit / 2 - MARK_MAX : 0;
    c->head = tock_malloc(limit);
    c->tail = c->tail_cap ? tock_malloc(c->tail_cap) : NULL;
    if (c->head == NULL || (c->tail_cap && c->tail == NULL))
        return TOCK_ENOMEM;
    return 0;
}

static void capture_feed(struct capture *c, const uint8_t *p, size_t n)
{
    size_t k = c->limit - c->head_len;

    if (k > n)
        k = n;
    memcpy(c->head + c->head_len, p, k);
    c->head_len += k;
    c->total += n;
    if (c->tail_cap == 0)
        return;
    if (n >= c->tail_cap) {
        memcpy(c->tail, p + n - c->tail_cap, c->tail_cap);
        c->tail_pos = 0;
        return;
    }
    k = c->tail_cap - c->tail_pos;
    if (k > n)
        k = n;
    memcpy(c->tail + c->tail_pos, p, k);
    memcpy(c->tail, p + k, n - k);
    c->tail_pos = (c->tail_pos + n) % c->tail_cap;
}

/* capture_take sets *out to the excerpt, a new buffer of *len <= limit
 * bytes the caller frees with tock_free (NULL when nothing was written). */
static int capture_take(struct capture *c, uint8_t **out, size_t *len)
{
    size_t keep = c->limit / 2, n;
    uint8_t *p;

    *out = NULL;
    *len = 0;
    if (c->total == 0)
        return 0;
    if (c->total <= c->limit || c->tail_cap == 0) {
        if ((*out = tock_memdup(c->head, c->head_len)) == NULL)
            return TOCK_ENOMEM;
        *len = c->head_len;
        return 0;
    }
    if ((p = tock_malloc(c->limit)) == NULL)
        return TOCK_ENOMEM;
    memcpy(p, c->head, keep);
    n = keep + (size_t)snprintf((char *)p + keep, MARK_MAX,
                                "\n[tock: %" PRIu64 " bytes omitted]\n",
                                c->total - keep - c->tail_cap);
    memcpy(p + n, c->tail + c->tail_pos, c->tail_cap - c->tail_pos);
    memcpy(p + n + c->tail_cap - c->tail_pos, c->tail, c->tail_pos);
    *out = p;
    *len = n + c->tail_cap;
    return 0;
}

static void capture_free(struct capture *c)
{
    TOCK_FREE(c->head);
    TOCK_FREE(c->tail);
}

/* ----------------------------------------------------------------- argv */

/* json_text_dup renders `v` as compact JSON into tock's allocator. */
static char *json_text_dup(const json_t *v)
{
    size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    size_t n = json_dumpb(v, NULL, 0, flags);
    char *s;

    if (n == 0 || (s = tock_malloc(n + 1)) == NULL)
        return NULL;
    json_dumpb(v, s, n, flags);
    s[n] = '\0';
    return s;
}

/* arg_element turns one value of the job's args into one argv element: a
 * string is its own text, anything else its JSON text. */
static int arg_element(const json_t *v, size_t i, struct strv *argv,
                       struct tock_error *err)
{
    char *s;

    if (json_is_string(v)) {
        if (strlen(json_string_value(v)) != json_string_length(v))
            return tock_error_set(err, TOCK_EFORMAT, "args[%zu] contains a "
                                  "NUL byte, which an argv element cannot "
                                  "hold", i);
        s = tock_strdup(json_string_value(v));
    } else {
        s = json_text_dup(v);
    }
    if (s != NULL && strlen(s) >= TOCK_EXEC_ARG_STRLEN_MAX) {
        tock_free(s);
        return tock_error_set(err, TOCK_ETOOBIG, "args[%zu] is over %d bytes, "
                              "the kernel's limit for one argument", i,
                              TOCK_EXEC_ARG_STRLEN_MAX - 1);
    }
    if (strv_add(argv, s) != 0)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    return 0;
}

static bool starts_with_dash(const json_t *v)
{
    return json_is_string(v) && json_string_value(v)[0] == '-';
}

/* append_args adds the job's args to argv: each element of an array (or a
 * lone scalar) becomes one element; when any of them starts with '-', a
 * "--" goes first so that no job can smuggle an option into the command. */
static int append_args(const json_t *args, struct strv *argv,
                       struct tock_error *err)
{
    bool dash = false;
    size_t i;
    json_t *v;
    int rc;

    if (args == NULL || json_is_null(args))
        return 0;
    if (json_is_object(args))
        return tock_error_set(err, TOCK_ETYPE, "the handler passes args as "
                              "argv elements, so the job's args must be an "
                              "array (or one value), not an object");
    if (!json_is_array(args)) {
        if (starts_with_dash(args) && strv_add(argv, tock_strdup("--")) != 0)
            return tock_error_set(err, TOCK_ENOMEM, "out of memory");
        return arg_element(args, 0, argv, err);
    }
    json_array_foreach(args, i, v) {
        dash = dash || starts_with_dash(v);
    }
    if (dash && strv_add(argv, tock_strdup("--")) != 0)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    json_array_foreach(args, i, v) {
        if ((rc = arg_element(v, i, argv, err)) != 0)
            return rc;
    }
    return 0;
}

static int build_argv(const struct tock_handler *h, const json_t *args,
                      struct strv *argv, struct tock_error *err)
{
    for (size_t i = 0; i < h->argc; i++)
        if (strv_add(argv, tock_strdup(h->argv[i])) != 0)
            return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    return h->args_as_argv ? append_args(args, argv, err) : 0;
}

/* ---------------------------------------------------------- environment */

static bool handler_sets(const struct tock_handler *h, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < h->envc; i++)
        if (strncmp(h->env[i], name, n) == 0 && h->env[i][n] == '=')
            return true;
    return false;
}

static const char *home_dir(void)
{
    struct passwd *pw = getpwuid(geteuid());

    return pw != NULL && pw->pw_dir != NULL && pw->pw_dir[0] == '/'
               ? pw->pw_dir
               : "/";
}

static int add_base_env(const struct tock_handler *h, struct strv *env)
{
    const char *base[][2] = {
        {"PATH", TOCK_HANDLER_PATH},
        {"HOME", home_dir()},
        {"LANG", "C.UTF-8"},
    };
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < sizeof base / sizeof base[0]; i++)
        if (!handler_sets(h, base[i][0]))
            rc = strv_addkv(env, base[i][0], base[i][1]);
    for (size_t i = 0; rc == 0 && i < h->envc; i++)
        rc = strv_add(env, tock_strdup(h->env[i]));
    return rc;
}

static int add_task_env(const struct tock_task *task, const char *worker,
                        const json_t *args, struct strv *env,
                        struct tock_error *err)
{
    char sched[40], ms[24], attempt[16];
    char *json = args ? json_text_dup(args) : tock_strdup("null");
    int rc;

    if (json == NULL)
        return tock_error_set(err, TOCK_ENOMEM, "out of memory");
    if (strlen(json) + sizeof "TOCK_ARGS=" > TOCK_EXEC_ARG_STRLEN_MAX) {
        rc = tock_error_set(err, TOCK_ETOOBIG, "the job's args are %zu bytes "
                            "as JSON; TOCK_ARGS can hold at most %zu (the "
                            "kernel's limit for one environment string)",
                            strlen(json),
                            TOCK_EXEC_ARG_STRLEN_MAX - sizeof "TOCK_ARGS=");
        tock_free(json);
        return rc;
    }
    tock_exec_format_rfc3339(task->sched_ms, sched, sizeof sched);
    snprintf(ms, sizeof ms, "%" PRId64, task->sched_ms);
    snprintf(attempt, sizeof attempt, "%d", task->attempt);
    rc = strv_addkv(env, "TOCK_JOB", task->job);
    rc = rc ? rc : strv_addkv(env, "TOCK_OCCURRENCE_ID", task->occ);
    rc = rc ? rc : strv_addkv(env, "TOCK_SCHEDULED", sched);
    rc = rc ? rc : strv_addkv(env, "TOCK_SCHEDULED_MS", ms);
    rc = rc ? rc : strv_addkv(env, "TOCK_ATTEMPT", attempt);
    rc = rc ? rc : strv_addkv(env, "TOCK_QUEUE", task->queue);
    rc = rc ? rc : strv_addkv(env, "TOCK_HANDLER", task->handler);
    rc = rc ? rc : strv_addkv(env, "TOCK_WORKER", worker);
    rc = rc ? rc : strv_addkv(env, "TOCK_ARGS", json);
    tock_free(json);
    return rc ? tock_error_set(err, TOCK_ENOMEM, "out of memory") : 0;
}

/* ----------------------------------------------------------------- spawn */

enum spawn_stage { STAGE_OK = 0, STAGE_FDS, STAGE_CHDIR, STAGE_EXEC };

struct spawn_report {
    int stage;
    int err;
};

void tock_exec_close_from(int lowfd)
{
    struct rlimit rl;
    rlim_t max = 65536;

    if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0U) == 0)
        return;
    /* Kernels before 5.9 (and valgrind): close up to the descriptor limit. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)1 << 20)
        max = rl.rlim_cur;
    for (rlim_t fd = (rlim_t)lowfd; fd < max; fd++)
        close((int)fd);
}

/* child_exec runs in the forked child: only async-signal-safe calls (the
 * process that forked may have had other threads). Never returns. */
static void child_exec(const struct tock_handler *h, char *const argv[],
                       char *const envp[], int out_w, int rep_w, pid_t parent)
{
    struct spawn_report rep = {STAGE_FDS, 0};
    struct sigaction dfl;
    sigset_t none;
    int out_hi, rep_hi, null_fd, rep_fd = rep_w;

    setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(127); /* our parent is already gone: nobody wants the result */
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        sigaction(s, &dfl, NULL); /* fails harmlessly for KILL, STOP, ... */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    umask(077);
    /* Lift both ends above 2 first: dup2 onto 0..3 must not clobber them. */
    out_hi = fcntl(out_w, F_DUPFD_CLOEXEC, 10);
    rep_hi = fcntl(rep_w, F_DUPFD_CLOEXEC, 10);
    if (out_hi < 0 || rep_hi < 0)
        goto fail;
    rep_fd = rep_hi;
    null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0 || dup2(null_fd, 0) != 0 || dup2(out_hi, 1) != 1 ||
        dup2(out_hi, 2) != 2 || dup2(rep_hi, 3) != 3 ||
        fcntl(3, F_SETFD, FD_CLOEXEC) != 0)
        goto fail;
    rep_fd = 3;
    tock_exec_close_from(4);
    rep.stage = STAGE_CHDIR;
    if (chdir(h->cwd) != 0)
        goto fail;
    rep.stage = STAGE_EXEC;
    execve(h->path, argv, envp);
fail:
    rep.err = errno;
    if (write(rep_fd, &rep, sizeof rep) < 0)
        _exit(126);
    _exit(127);
}

/* run: one running command and what has happened to it. */
struct run {
    pid_t pid;
    int out_fd;          /* -1 once closed */
    int pidfd;           /* -1: none (poll the wait status instead) */
    bool exited;         /* leader exited (seen with WNOWAIT, not reaped) */
    siginfo_t info;      /* its wait status */
    int64_t term_at;     /* monotonic ms: send SIGTERM (INT64_MAX: never) */
    int64_t kill_at;     /* after SIGTERM: send SIGKILL */
    int64_t drain_until; /* after exit: stop reading */
    int64_t grace_ms;
    bool termed, killed, abandoned;
    enum tock_status reason; /* OK: none; TIMEOUT or CANCELLED */
    struct capture cap;
};

static int spawn_failed(const struct tock_handler *h,
                        const struct spawn_report *rep, struct tock_error *err)
{
    if (rep->stage == STAGE_CHDIR)
        return tock_error_set(err, TOCK_EIO, "cannot change to working "
                              "directory %s: %s", h->cwd, strerror(rep->err));
    if (rep->stage == STAGE_EXEC && rep->err == E2BIG)
        return tock_error_set(err, TOCK_ETOOBIG, "cannot execute %s: the "
                              "arguments and environment are too large; "
                              "send smaller args", h->path);
    if (rep->stage == STAGE_EXEC)
        return tock_error_set(err, TOCK_EIO, "cannot execute %s: %s",
                              h->path, strerror(rep->err));
    return tock_error_set(err, TOCK_EIO, "cannot set up the command's "
                          "descriptors: %s", strerror(rep->err));
}

/* read_report waits for the child's exec (EOF on the close-on-exec pipe)
 * or its failure report. Returns true when exec succeeded. */
static bool read_report(int fd, struct spawn_report *rep)
{
    ssize_t n;

    do
        n = read(fd, rep, sizeof *rep);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return true;
    if (n != (ssize_t)sizeof *rep)
        *rep = (struct spawn_report){STAGE_FDS, n < 0 ? errno : EPIPE};
    return false;
}

static int spawn(struct run *r, const struct tock_handler *h,
                 const struct strv *argv, const struct strv *env,
                 struct tock_error *err)
{
    int outp[2], repp[2];
    struct spawn_report rep;
    pid_t parent = getpid();

    if (pipe2(outp, O_CLOEXEC) != 0)
        return tock_error_set(err, TOCK_EIO, "pipe: %s", strerror(errno));
    if (pipe2(repp, O_CLOEXEC) != 0) {
        close(outp[0]);
        close(outp[1]);
        return tock_error_set(err, TOCK_EIO, "pipe: %s", strerror(errno));
    }
    /* _Fork, not fork: no pthread_atfork handlers run in the child. They
     * are not ours to trust with our descriptors (libuv's recreates its
     * signal-lock pipe in the child, closing whatever now holds its old
     * numbers, such as our output pipe), and the child calls only
     * async-signal-safe functions before execve. */
    r->pid = _Fork();
    if (r->pid == 0)
        child_exec(h, argv->v, env->v, outp[1], repp[1], parent);
    close(outp[1]);
    close(repp[1]);
    if (r->pid < 0) {
        close(outp[0]);
        close(repp[0]);
        return tock_error_set(err, TOCK_EAGAIN, "fork: %s", strerror(errno));
    }
    setpgid(r->pid, r->pid); /* also done by the child; whichever is first */
    if (!read_report(repp[0], &rep)) {
        close(repp[0]);
        close(outp[0]);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
        return spawn_failed(h, &rep, err);
    }
    close(repp[0]);
    r->out_fd = outp[0];
    fcntl(r->out_fd, F_SETFL, fcntl(r->out_fd, F_GETFL) | O_NONBLOCK);
    r->pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
    return 0;
}

/* ------------------------------------------------------------- supervise */

static void drain_output(struct run *r)
{
    uint8_t buf[READ_CHUNK];

    /* Bounded per wake-up so deadlines are checked during a flood. */
    for (int i = 0; i < 64 && r->out_fd >= 0; i++) {
        ssize_t n = read(r->out_fd, buf, sizeof buf);

        if (n > 0) {
            capture_feed(&r->cap, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        close(r->out_fd); /* EOF or a read error: nothing more to get */
        r->out_fd = -1;
    }
}

/* check_exit notices the leader's exit without reaping it, so its pid
 * stays reserved as the group id while the rest of the group is killed. */
static void check_exit(struct run *r, int64_t now)
{
    siginfo_t si;

    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)r->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0) {
        if (errno == EINTR)
            return;
        si.si_code = 0; /* ECHILD: reaped elsewhere, the status is lost */
    } else if (si.si_pid != r->pid) {
        return;
    }
    r->info = si;
    r->exited = true;
    kill(-r->pid, SIGKILL); /* whatever it left running in its group */
    r->drain_until = now + TOCK_EXEC_DRAIN_MS;
}

static void step_deadlines(struct run *r, int64_t now)
{
    if (r->exited)
        return;
    if (!r->termed && now >= r->term_at) {
        if (r->reason == TOCK_STATUS_OK)
            r->reason = TOCK_STATUS_TIMEOUT;
        kill(-r->pid, SIGTERM);
        r->termed = true;
        r->kill_at = now + r->grace_ms;
    }
    if (r->termed && !r->killed && now >= r->kill_at) {
        kill(-r->pid, SIGKILL);
        r->killed = true;
    }
}

static void control(struct run *r, enum tock_exec_ctl ctl, int64_t now)
{
    if (ctl == TOCK_EXEC_CONTINUE)
        return;
    if (r->reason == TOCK_STATUS_OK)
        r->reason = TOCK_STATUS_CANCELLED;
    if (ctl == TOCK_EXEC_CANCEL) {
        if (!r->termed && r->term_at > now)
            r->term_at = now;
        return;
    }
    r->abandoned = true;
    if (!r->exited) {
        kill(-r->pid, SIGKILL);
        r->termed = r->killed = true;
    }
}

static int poll_timeout(const struct run *r, int64_t now)
{
    int64_t at = INT64_MAX;

    if (r->exited)
        at = r->drain_until;
    else if (!r->termed)
        at = r->term_at;
    else if (!r->killed)
        at = r->kill_at;
    if (!r->exited && r->pidfd < 0 && at > now + NO_PIDFD_TICK_MS)
        at = now + NO_PIDFD_TICK_MS;
    if (at == INT64_MAX)
        return -1;
    return at <= now ? 0 : (int)(at - now > INT_MAX ? INT_MAX : at - now);
}

/* wait_events sleeps until output, the leader's exit, a control message or
 * the next deadline, and handles what woke it. */
static void wait_events(struct run *r, const struct tock_exec_opts *o,
                        int64_t now)
{
    struct pollfd p[4];
    int np = 0, i_out = -1, i_ctl = -1, i_ab = -1;

    if (r->out_fd >= 0)
        p[i_out = np++] = (struct pollfd){r->out_fd, POLLIN, 0};
    if (!r->exited && r->pidfd >= 0)
        p[np++] = (struct pollfd){r->pidfd, POLLIN, 0};
    if (!r->abandoned && o->control_fd >= 0 && o->on_control != NULL)
        p[i_ctl = np++] = (struct pollfd){o->control_fd, POLLIN, 0};
    if (!r->abandoned && o->abandon_fd >= 0)
        p[i_ab = np++] = (struct pollfd){o->abandon_fd, POLLIN, 0};
    if (poll(p, (nfds_t)np, poll_timeout(r, now)) <= 0)
        return;
    now = clock_ms(CLOCK_MONOTONIC);
    if (i_out >= 0 && p[i_out].revents)
        drain_output(r);
    if (i_ab >= 0 && p[i_ab].revents)
        control(r, TOCK_EXEC_ABANDON, now);
    else if (i_ctl >= 0 && p[i_ctl].revents)
        control(r, o->on_control(o->ctx), now);
}

static void supervise(struct run *r, const struct tock_exec_opts *o)
{
    for (;;) {
        int64_t now = clock_ms(CLOCK_MONOTONIC);

        step_deadlines(r, now);
        if (!r->exited)
            check_exit(r, now);
        if (r->exited && (r->out_fd < 0 || now >= r->drain_until))
            break;
        wait_events(r, o, now);
    }
    if (r->out_fd >= 0)
        close(r->out_fd);
    r->out_fd = -1;
    while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* --------------------------------------------------------------- results */

static int set_error(struct tock_result *out, const char *text)
{
    tock_free(out->error);
    out->error = tock_strdup(text);
    return out->error == NULL ? TOCK_ENOMEM : 0;
}

static void signal_text(int sig, bool core, char *buf, size_t cap)
{
    const char *abbrev = sigabbrev_np(sig);

    if (abbrev != NULL)
        snprintf(buf, cap, "killed by signal SIG%s%s", abbrev,
                 core ? " (core dumped)" : "");
    else
        snprintf(buf, cap, "killed by signal %d%s", sig,
                 core ? " (core dumped)" : "");
}

/* stop_text describes how we stopped a command at its deadline or on a
 * cancel. */
static void stop_text(const struct run *r, int64_t timeout_ms, char *buf,
                      size_t cap)
{
    char dur[32], grace[32];

    tock_format_duration_ms(timeout_ms, dur, sizeof dur);
    tock_format_duration_ms(r->grace_ms, grace, sizeof grace);
    if (r->reason == TOCK_STATUS_TIMEOUT)
        snprintf(buf, cap, "timed out after %s: sent SIGTERM to its process "
                 "group%s%s", dur, r->killed ? ", then SIGKILL after " : "",
                 r->killed ? grace : "");
    else if (r->abandoned)
        snprintf(buf, cap, "cancelled: the worker lost its supervisor and "
                 "killed the command's process group");
    else
        snprintf(buf, cap, "cancelled: sent SIGTERM to its process group%s%s",
                 r->killed ? ", then SIGKILL after " : "",
                 r->killed ? grace : "");
}

static int describe(struct run *r, int64_t timeout_ms, struct tock_result *out)
{
    char text[256];
    int code = r->info.si_status;
    bool exited = r->info.si_code == CLD_EXITED;

    out->exit_code = exited ? code : -1;
    if (r->reason != TOCK_STATUS_OK) {
        out->status = r->reason;
        stop_text(r, timeout_ms, text, sizeof text);
        return set_error(out, text);
    }
    if (exited && code == 0) {
        out->status = TOCK_STATUS_OK;
        return 0;
    }
    if (exited) {
        out->status = TOCK_STATUS_ERROR;
        snprintf(text, sizeof text, "exited with status %d", code);
    } else if (r->info.si_code == CLD_KILLED || r->info.si_code == CLD_DUMPED) {
        out->status = TOCK_STATUS_CRASHED;
        signal_text(code, r->info.si_code == CLD_DUMPED, text, sizeof text);
    } else {
        out->status = TOCK_STATUS_ERROR;
        snprintf(text, sizeof text, "the command's exit status was lost "
                 "(SIGCHLD is ignored in the worker?)");
    }
    return set_error(out, text);
}

static int identity(struct tock_result *out, const struct tock_task *task,
                    const struct tock_exec_opts *o)
{
    memset(out, 0, sizeof *out);
    out->occ = tock_strdup(task->occ);
    out->worker = tock_strdup(o->worker_id);
    out->attempt = task->attempt;
    out->exit_code = -1;
    out->started_ms = clock_ms(CLOCK_REALTIME);
    out->finished_ms = out->started_ms;
    if (out->occ == NULL || out->worker == NULL) {
        tock_result_clear(out);
        return TOCK_ENOMEM;
    }
    return 0;
}

/* prepare builds argv and the environment, and starts the command. */
static int prepare(struct run *r, const struct tock_handler *h,
                   const struct tock_task *task, const struct tock_exec_opts *o,
                   struct tock_error *err)
{
    struct strv argv = {0}, env = {0};
    json_t *args = NULL;
    int rc;

    if (task->args != NULL &&
        (rc = tock_json_from_msgpack(task->args, task->args_len, NULL, &args,
                                     err)) != 0)
        return rc;
    rc = build_argv(h, args, &argv, err);
    if (rc == 0 && add_base_env(h, &env) != 0)
        rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
    if (rc == 0)
        rc = add_task_env(task, o->worker_id, args, &env, err);
    if (rc == 0 && capture_init(&r->cap, h->output_limit) != 0)
        rc = tock_error_set(err, TOCK_ENOMEM, "out of memory");
    if (rc == 0)
        rc = spawn(r, h, &argv, &env, err);
    json_decref(args);
    strv_free(&argv);
    strv_free(&env);
    return rc;
}

int tock_exec_run(const struct tock_handler *h, const struct tock_task *task,
                  const struct tock_exec_opts *o, struct tock_result *out)
{
    struct run r = {.out_fd = -1, .pidfd = -1, .term_at = INT64_MAX};
    struct tock_error err = {0};
    int64_t timeout_ms = task->timeout_ms > 0 ? task->timeout_ms : h->timeout_ms;
    int64_t t0 = clock_ms(CLOCK_MONOTONIC);
    int rc;

    if (identity(out, task, o) != 0)
        return TOCK_ENOMEM;
    r.grace_ms = o->kill_grace_ms > 0 ? o->kill_grace_ms
                                      : TOCK_EXEC_GRACE_DEFAULT_MS;
    if (prepare(&r, h, task, o, &err) != 0) {
        out->status = TOCK_STATUS_ERROR;
        rc = set_error(out, err.msg);
        goto done;
    }
    if (o->on_started != NULL)
        o->on_started(o->ctx, (int)r.pid);
    if (timeout_ms > 0)
        r.term_at = clock_ms(CLOCK_MONOTONIC) + timeout_ms;
    supervise(&r, o);
    rc = describe(&r, timeout_ms, out);
    if (rc == 0)
        rc = capture_take(&r.cap, &out->output, &out->output_len);
done:
    /* Wall time from the monotonic duration: a clock step while the
     * command ran cannot make finished < started. */
    out->finished_ms = out->started_ms + (clock_ms(CLOCK_MONOTONIC) - t0);
    if (r.pidfd >= 0)
        close(r.pidfd);
    capture_free(&r.cap);
    if (rc != 0)
        tock_result_clear(out);
    return rc;
}
