/* child.h: a pool child process, and the messages on its socket.
 *
 * The supervisor (pool.c) and each child share one AF_UNIX stream
 * socketpair. Both directions carry proto/frame.h frames (4-byte big-endian
 * length, then the body); a body is one kind byte followed by its payload:
 *
 *   kind  direction           payload
 *   'T'   supervisor->child   a task, proto/codec.h msgpack (one at a time)
 *   'C'   supervisor->child   none: cancel the running task
 *   'S'   child->supervisor   4-byte big-endian process group id: the
 *                             handler has started
 *   'R'   child->supervisor   a result, proto/codec.h msgpack
 *
 * Anything else, a second 'T' while one runs, an 'R' or 'S' with no task,
 * or a payload that does not decode is a protocol error: the child exits
 * (status TOCK_CHILD_EXIT_PROTOCOL) when the supervisor misbehaves, and the
 * supervisor kills a child that misbehaves. Both ends are the same binary
 * (the child is a fork of the supervisor), so the kinds carry no version;
 * the codec payloads carry theirs.
 *
 * The child is single-threaded and blocking: it waits for a task, runs it
 * with tock_exec_run (which also watches the socket, for 'C' and for EOF,
 * and the parent-death signalfd), writes the result, and waits again.
 */
#ifndef TOCK_WORKER_CHILD_H
#define TOCK_WORKER_CHILD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/scan.h"
#include "tock/error.h"
#include "worker/handlers.h"

#define TOCK_CHILD_MSG_TASK 'T'
#define TOCK_CHILD_MSG_CANCEL 'C'
#define TOCK_CHILD_MSG_STARTED 'S'
#define TOCK_CHILD_MSG_RESULT 'R'

/* Largest frame body: a task frame plus its kind byte. */
#define TOCK_CHILD_MAX_FRAME (TOCK_PROTO_MAX_FRAME + 1)

#define TOCK_CHILD_EXIT_PROTOCOL 3 /* the supervisor sent a bad frame */
#define TOCK_CHILD_EXIT_NOMEM 4

struct tock_child_config {
    int fd;                               /* the child's end of the socket */
    pid_t parent;                         /* the supervisor's pid */
    const struct tock_handlers *handlers; /* the fork-time copy */
    const char *worker_id;
    int64_t kill_grace_ms;
};

/* tock_child_main turns the calling process (just forked) into a pool
 * child: signals (SIGINT, SIGTERM, SIGHUP, SIGPIPE ignored; the
 * parent-death signal blocked and read from a signalfd), descriptors (the
 * socket becomes fd 3, the signalfd fd 4, stdin /dev/null, everything
 * above 4 closed), then serves tasks until the supervisor goes away. Never
 * returns: it ends the process with _exit. */
void tock_child_main(const struct tock_child_config *cfg)
#if defined(__GNUC__)
    __attribute__((noreturn))
#endif
    ;

/* tock_child_msg builds a whole frame (header, kind, payload) for the
 * socket: *out is a new buffer of *outlen bytes the caller frees with
 * tock_free. TOCK_ETOOBIG over TOCK_CHILD_MAX_FRAME, TOCK_ENOMEM. */
int tock_child_msg(char kind, const uint8_t *payload, size_t len,
                   uint8_t **out, size_t *outlen, struct tock_error *err);

#endif /* TOCK_WORKER_CHILD_H */
