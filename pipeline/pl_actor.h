/* pl_actor: the one start-up handshake of every pipeline actor.
 *
 * Every actor (pl_sender, pl_subscriber, pl_producer) has the same
 * skeleton, czmq's: s_actor() signals the pipe (zactor_new waits for it and
 * cannot see a status), builds its state with s_self_new(), reports the
 * outcome with pl_actor_report(), then runs one zloop whose handlers are
 * s_self_handle_pipe() and friends and one timer armed from its engine's
 * next deadline, and ends with s_self_destroy(). Its pl_X_new() waits for
 * the report with pl_actor_started() and returns NULL on failure, the reason
 * copied out so that main can exit 1 naming it. */
#ifndef PL_ACTOR_H
#define PL_ACTOR_H

#include <czmq.h>

/* Room for a start-up failure's reason, with its NUL. */
#define PL_ACTOR_ERROR_MAX 256

/* Pipe commands and replies shared by the actors (pictures in comments). */
#define PL_ACTOR_READY "READY"   /* "s": start-up succeeded */
#define PL_ACTOR_FAILED "FAILED" /* "ss": start-up failed, reason */

/* In the actor thread, after s_self_new(): `error` NULL reports success,
 * else the reason (copied). */
void pl_actor_report(zsock_t *pipe, const char *error);

/* In the owner's thread, right after zactor_new(): waits for the report.
 * Returns 0, or -1 with the reason in `error` (PL_ACTOR_ERROR_MAX bytes);
 * the actor has then ended: zactor_destroy() it. */
int pl_actor_started(zactor_t *actor, char *error);

/* Receives one fixed struct of `size` bytes sent by another actor of ours
 * as a "b" frame into `out`. Returns 0, or -1 (logged by the caller) when
 * nothing came or the frame has another size; `*received` (may be NULL)
 * says how many bytes came. */
int pl_actor_recv_struct(zsock_t *reader, void *out, size_t size,
                         size_t *received);

/* Milliseconds for a zloop timer due at `deadline_ns` seen at `now_ns`
 * (rounded up, so the timer never fires early; 0 when due). */
size_t pl_actor_delay_ms(int64_t deadline_ns, int64_t now_ns);

#endif
