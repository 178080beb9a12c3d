/* sc_actor: the one skeleton of the coordinator's actors (core, publisher,
 * workers), after czmq's own (zproxy, zmonitor): the same names in every
 * actor file,
 *
 *     static s_self_t *s_self_new(zsock_t *pipe, void *args, char *error);
 *     static void s_self_destroy(s_self_t **self_p);
 *     static int s_self_handle_pipe(zloop_t *loop, zsock_t *reader, void *arg);
 *     static int s_self_handle_timer(zloop_t *loop, int timer_id, void *arg);
 *     void sc_NAME_actor(zsock_t *pipe, void *args);
 *
 * one zloop (pipe + the actor's sockets) and one timer, re-armed from the
 * engine's deadline after every event (sc_actor_arm). Start-up is reported
 * over the pipe as a typed message ("ss": "READY" "" or "FAILED" reason)
 * and its owner acts on it (sc_actor_started): zactor_new's own signal
 * carries no status. An actor that failed still waits for $TERM, so that
 * zactor_destroy works the same way for every actor. */
#ifndef SC_ACTOR_H
#define SC_ACTOR_H

#include <czmq.h>

/* Room for a start-up failure reason, NUL included. */
#define SC_ACTOR_ERROR_MAX 512

/* The actor side: "READY", or "FAILED" with `error`. */
void sc_actor_report(zsock_t *pipe, const char *error);

/* The actor side, after a failed start: waits for $TERM. */
void sc_actor_wait_term(zsock_t *pipe);

/* The owner side: creates the actor and waits for its report. Returns the
 * actor (owned by the caller), or NULL with the reason in `error`
 * (SC_ACTOR_ERROR_MAX bytes) after destroying the failed actor. */
zactor_t *sc_actor_start(zactor_fn *function, void *args, char *error);

/* Re-arms the one timer of `loop` at `deadline_ns` (monotonic, from an
 * engine; INT64_MAX: none). `*timer_id` is the armed timer's id or -1; the
 * delay is rounded up to whole milliseconds, at least 1. */
void sc_actor_arm(zloop_t *loop, int *timer_id, int64_t deadline_ns,
                  int64_t now_ns, zloop_timer_fn *handler, void *arg);

#endif
