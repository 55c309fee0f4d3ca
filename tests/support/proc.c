/* proc.c: spawning, signalling and reaping test children (see proc.h). */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ registry */

/* Slot i holds a live child (pid > 0) and the pid of the process that
 * spawned it. sig_atomic_t because the signal handlers read them; on Linux
 * it is an int, wide enough for a pid. A pid is written after its owner,
 * so a handler never sees a pid with a stale owner. */
static volatile sig_atomic_t reg_pid[TOCK_PROC_MAX];
static volatile sig_atomic_t reg_owner[TOCK_PROC_MAX];

static int reg_free_slot(void)
{
    for (int i = 0; i < TOCK_PROC_MAX; i++)
        if (reg_pid[i] == 0)
            return i;
    return -1;
}

static void reg_remove(pid_t pid)
{
    for (int i = 0; i < TOCK_PROC_MAX; i++)
        if (reg_pid[i] == pid && reg_owner[i] == getpid())
            reg_pid[i] = 0;
}

int tock_proc_kill_all(void)
{
    pid_t me = getpid();
    int n = 0;

    for (int i = 0; i < TOCK_PROC_MAX; i++) {
        pid_t pid = reg_pid[i];

        if (pid <= 0 || reg_owner[i] != me)
            continue;
        /* The group reaches helpers the child forked; the pid itself
         * covers the instant before the child's setpgid. */
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        n++;
    }
    return n;
}

int tock_proc_count(void)
{
    pid_t me = getpid();
    int n = 0;

    for (int i = 0; i < TOCK_PROC_MAX; i++)
        n += reg_pid[i] > 0 && reg_owner[i] == me;
    return n;
}

/* say_killed writes "tock test: SIGKILLed N leftover child process(es)
 * <why>" with write(2) only, as it runs in signal handlers. */
static void say_killed(int n, const char *why)
{
    char num[16];
    int len = 0;
    char digits[16];
    int d = 0;

    do {
        digits[d++] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0 && d < (int)sizeof digits);
    while (d > 0)
        num[len++] = digits[--d];
    (void)!write(STDERR_FILENO, "tock test: SIGKILLed ", 21);
    (void)!write(STDERR_FILENO, num, (size_t)len);
    (void)!write(STDERR_FILENO, " leftover child process(es) ", 28);
    (void)!write(STDERR_FILENO, why, strlen(why));
    (void)!write(STDERR_FILENO, "\n", 1);
}

/* ------------------------------------------------------ cleanup hooks */

static const int fatal_signals[] = {SIGABRT, SIGSEGV, SIGTERM, SIGINT};
#define N_FATAL (sizeof fatal_signals / sizeof fatal_signals[0])
static struct sigaction old_actions[N_FATAL];

static void on_exit_hook(void)
{
    int n = tock_proc_kill_all();

    if (n > 0)
        say_killed(n, "at exit");
}

/* on_fatal_signal kills our children, puts back the action that was there
 * before ours and re-raises: the signal is blocked while we run, so it is
 * delivered, with the old action, as soon as we return. */
static void on_fatal_signal(int sig)
{
    int saved = errno;
    int n = tock_proc_kill_all();

    if (n > 0)
        say_killed(n, "on a fatal signal");
    for (size_t i = 0; i < N_FATAL; i++)
        if (fatal_signals[i] == sig)
            sigaction(sig, &old_actions[i], NULL);
    raise(sig);
    errno = saved;
}

static void install_hooks(void)
{
    static int installed;
    struct sigaction sa;

    if (installed)
        return;
    installed = 1;
    atexit(on_exit_hook);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < N_FATAL; i++) {
        sigaction(fatal_signals[i], NULL, &old_actions[i]);
        /* A signal the test was started ignoring (nohup, a background
         * job's SIGINT) stays ignored. */
        if (old_actions[i].sa_handler == SIG_IGN)
            continue;
        sigaction(fatal_signals[i], &sa, NULL);
    }
}

/* --------------------------------------------------------------- spawn */

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* high_fd moves `fd` to a close-on-exec descriptor >= 3, so the child's
 * dup2 onto 0-2 can never be a no-op on the same number. */
static int high_fd(int fd)
{
    int moved;

    if (fd < 0)
        return fd;
    moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return moved;
}

/* child_exec runs in the forked child: async-signal-safe calls only. It
 * reports a failure as an errno on `errfd` and exits 127. */
static void child_exec(const struct tock_proc_spec *spec, pid_t parent,
                       int devnull, int logfd, int errfd, int maxfd)
{
    sigset_t none;
    int e;

    setpgid(0, 0);
    /* Die with the parent (proc.h, point 1). If it died between fork()
     * and prctl(), getppid() is no longer it: PDEATHSIG would never fire. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(127);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(devnull, 0) < 0)
        goto fail;
    if (logfd >= 0 && (dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0))
        goto fail;
    /* Inherited sockets (a test's hiredis connections) must not live on in
     * the child: they would keep connections open that the test closed. */
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
        for (int fd = 3; fd < maxfd; fd++)
            fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (spec->cwd != NULL && chdir(spec->cwd) != 0)
        goto fail;
    execve(spec->path, spec->argv, spec->envp ? spec->envp : environ);
fail:
    e = errno;
    (void)!write(errfd, &e, sizeof e);
    _exit(127);
}

/* read_exec_errno returns the errno the child reported, 0 once exec
 * succeeded (the CLOEXEC pipe closed without data). */
static int read_exec_errno(int fd)
{
    int e = 0;
    ssize_t n;

    do {
        n = read(fd, &e, sizeof e);
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof e ? e : 0;
}

int tock_proc_spawn(const struct tock_proc_spec *spec, pid_t *pid,
                    struct tock_error *err)
{
    int fds[2] = {-1, -1}, devnull = -1, logfd = -1, rc = 0, e;
    long maxfd = sysconf(_SC_OPEN_MAX);
    pid_t child, parent = getpid();
    int slot;

    install_hooks();
    slot = reg_free_slot();
    if (slot < 0)
        return tock_error_set(err, TOCK_EBUSY,
                              "%d test child processes already running: "
                              "stop some before starting more", TOCK_PROC_MAX);
    devnull = high_fd(open("/dev/null", O_RDONLY));
    if (spec->log_path != NULL)
        logfd = high_fd(open(spec->log_path,
                             O_WRONLY | O_APPEND | O_CREAT, 0600));
    if (devnull < 0 || (spec->log_path != NULL && logfd < 0) ||
        pipe2(fds, O_CLOEXEC) != 0) {
        rc = tock_error_set(err, TOCK_EIO, "cannot open %s or a pipe: %s",
                            spec->log_path ? spec->log_path : "/dev/null",
                            strerror(errno));
        goto cleanup;
    }
    fds[1] = high_fd(fds[1]);
    child = fork();
    if (child == 0)
        child_exec(spec, parent, devnull, logfd, fds[1],
                   maxfd > 0 && maxfd < 65536 ? (int)maxfd : 65536);
    if (child < 0) {
        rc = tock_error_set(err, TOCK_EIO, "fork: %s", strerror(errno));
        goto cleanup;
    }
    reg_owner[slot] = parent;
    reg_pid[slot] = child;
    close(fds[1]);
    fds[1] = -1;
    e = read_exec_errno(fds[0]);
    if (e != 0) {
        tock_proc_wait(child, -1, NULL, NULL);
        rc = tock_error_set(err, e == ENOENT ? TOCK_ENOENT : TOCK_EIO,
                            "cannot run %s: %s", spec->path, strerror(e));
        goto cleanup;
    }
    *pid = child;
cleanup:
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (devnull >= 0)
        close(devnull);
    if (logfd >= 0)
        close(logfd);
    return rc;
}

/* ------------------------------------------------------ wait and signal */

/* peek_state waits up to `timeout_ms` (<0: forever) for `pid` to reach
 * one of `states` (WEXITED, WSTOPPED) without consuming it. Returns the
 * si_code seen (CLD_*), 0 on timeout, -errno on error. */
static int peek_state(pid_t pid, int states, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;

    for (;;) {
        siginfo_t si;

        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)pid, &si, states | WNOHANG | WNOWAIT) != 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (si.si_pid == pid)
            return si.si_code;
        if (timeout_ms >= 0 && now_ms() >= deadline)
            return 0;
        sleep_ms(5);
    }
}

int tock_proc_wait(pid_t pid, int timeout_ms, int *status,
                   struct tock_error *err)
{
    int st = 0;
    int seen = peek_state(pid, WEXITED, timeout_ms);

    if (seen < 0)
        return tock_error_set(err, TOCK_EINVAL, "pid %d is not our child: %s",
                              (int)pid, strerror(-seen));
    if (seen == 0)
        return tock_error_set(err, TOCK_ETIMEDOUT,
                              "pid %d still running after %d ms", (int)pid,
                              timeout_ms);
    /* Unregister before reaping: once reaped, the pid may be reused. */
    reg_remove(pid);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (status != NULL)
        *status = st;
    return 0;
}

static void signal_group(pid_t pid, int sig)
{
    if (kill(-pid, sig) != 0)
        kill(pid, sig);
}

int tock_proc_kill(pid_t pid, struct tock_error *err)
{
    signal_group(pid, SIGKILL);
    return tock_proc_wait(pid, 10000, NULL, err);
}

int tock_proc_stop(pid_t pid, int grace_ms, int *status,
                   struct tock_error *err)
{
    int rc;

    signal_group(pid, SIGTERM);
    signal_group(pid, SIGCONT);
    rc = tock_proc_wait(pid, grace_ms, status, err);
    if (rc != TOCK_ETIMEDOUT)
        return rc;
    signal_group(pid, SIGKILL);
    return tock_proc_wait(pid, 10000, status, err);
}

int tock_proc_pause(pid_t pid, struct tock_error *err)
{
    int seen;

    signal_group(pid, SIGSTOP);
    seen = peek_state(pid, WSTOPPED | WEXITED, 5000);
    if (seen == CLD_STOPPED)
        return 0;
    if (seen == 0)
        return tock_error_set(err, TOCK_ETIMEDOUT,
                              "pid %d not stopped 5 s after SIGSTOP", (int)pid);
    if (seen < 0)
        return tock_error_set(err, TOCK_EINVAL, "pid %d is not our child: %s",
                              (int)pid, strerror(-seen));
    return tock_error_set(err, TOCK_ECONN, "pid %d exited instead of pausing",
                          (int)pid);
}

int tock_proc_resume(pid_t pid, struct tock_error *err)
{
    if (kill(-pid, SIGCONT) != 0 && kill(pid, SIGCONT) != 0)
        return tock_error_set(err, TOCK_EINVAL, "cannot SIGCONT pid %d: %s",
                              (int)pid, strerror(errno));
    return 0;
}

/* --------------------------------------------------------- environment */

static int same_name(const char *a, const char *b)
{
    size_t n = strcspn(b, "=");

    return strncmp(a, b, n) == 0 && a[n] == '=';
}

static int replaced(const char *entry, const char *const *extra)
{
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++)
        if (same_name(entry, extra[i]))
            return 1;
    return 0;
}

char **tock_proc_env_new(const char *const *extra)
{
    size_t n = 0, m = 0, k = 0;
    char **envp;

    while (environ[n] != NULL)
        n++;
    while (extra != NULL && extra[m] != NULL)
        if (strchr(extra[m++], '=') == NULL)
            return NULL;
    envp = calloc(n + m + 1, sizeof *envp);
    if (envp == NULL)
        return NULL;
    for (size_t i = 0; i < n + m; i++) {
        const char *src = i < n ? environ[i] : extra[i - n];
        /* Entries after src: the last of several same-named ones wins. */
        const char *const *later = i < n ? extra : extra + (i - n) + 1;

        if (replaced(src, later))
            continue;
        envp[k] = strdup(src);
        if (envp[k++] == NULL) {
            tock_proc_env_free(envp);
            return NULL;
        }
    }
    return envp;
}

void tock_proc_env_free(char **envp)
{
    if (envp == NULL)
        return;
    for (size_t i = 0; envp[i] != NULL; i++)
        free(envp[i]);
    free(envp);
}
