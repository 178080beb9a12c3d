/* sc_actor: start-up reports and the one timer (see sc_actor.h). */
#include "sc_actor.h"

#include "cmn_clock.h"
#include "sc_engine.h"

#define S_READY "READY"
#define S_FAILED "FAILED"

void sc_actor_report(zsock_t *pipe, const char *error)
{
    zsock_send(pipe, "ss", error ? S_FAILED : S_READY, error ? error : "");
}

void sc_actor_wait_term(zsock_t *pipe)
{
    char *command = NULL;
    while ((command = zstr_recv(pipe)) && !streq(command, "$TERM"))
        zstr_free(&command);
    zstr_free(&command);
}

zactor_t *sc_actor_start(zactor_fn *function, void *args, char *error)
{
    snprintf(error, SC_ACTOR_ERROR_MAX, "%s", "cannot start a thread");
    zactor_t *actor = zactor_new(function, args);
    if (!actor)
        return NULL;
    char *status = NULL, *reason = NULL;
    if (zsock_recv(actor, "ss", &status, &reason) == 0 && status &&
        streq(status, S_READY)) {
        zstr_free(&status);
        zstr_free(&reason);
        return actor;
    }
    snprintf(error, SC_ACTOR_ERROR_MAX, "%s",
             reason && *reason ? reason : "start-up failed");
    zstr_free(&status);
    zstr_free(&reason);
    zactor_destroy(&actor);
    return NULL;
}

void sc_actor_arm(zloop_t *loop, int *timer_id, int64_t deadline_ns,
                  int64_t now_ns, zloop_timer_fn *handler, void *arg)
{
    if (*timer_id != -1)
        zloop_timer_end(loop, *timer_id);
    *timer_id = -1;
    if (deadline_ns == SC_ENGINE_NEVER)
        return;
    int64_t delay_ms =
        deadline_ns > now_ns
            ? (deadline_ns - now_ns + CMN_NS_PER_MS - 1) / CMN_NS_PER_MS
            : 1;
    if (delay_ms < 1)
        delay_ms = 1;
    *timer_id = zloop_timer(loop, (size_t)delay_ms, 1, handler, arg);
}
