/* pl_actor: the one start-up handshake of every pipeline actor. */
#include "pl_actor.h"

#include "cmn_clock.h"

void pl_actor_report(zsock_t *pipe, const char *error)
{
    if (error)
        zsock_send(pipe, "ss", PL_ACTOR_FAILED, error);
    else
        zsock_send(pipe, "s", PL_ACTOR_READY);
}

int pl_actor_started(zactor_t *actor, char *error)
{
    char *status = NULL, *reason = NULL;
    if (!actor) {
        snprintf(error, PL_ACTOR_ERROR_MAX, "cannot start a thread");
        return -1;
    }
    if (zsock_recv(actor, "ss", &status, &reason) != 0 || !status) {
        snprintf(error, PL_ACTOR_ERROR_MAX, "no start-up report");
        return -1;
    }
    int rc = streq(status, PL_ACTOR_READY) ? 0 : -1;
    if (rc != 0)
        snprintf(error, PL_ACTOR_ERROR_MAX, "%s", reason ? reason : "unknown");
    zstr_free(&status);
    zstr_free(&reason);
    return rc;
}

size_t pl_actor_delay_ms(int64_t deadline_ns, int64_t now_ns)
{
    if (deadline_ns <= now_ns)
        return 0;
    return (size_t)((deadline_ns - now_ns + CMN_NS_PER_MS - 1) / CMN_NS_PER_MS);
}

int pl_actor_recv_struct(zsock_t *reader, void *out, size_t size,
                         size_t *received)
{
    byte *data = NULL;
    size_t got = 0;
    int rc = zsock_recv(reader, "b", &data, &got) == 0 && data && got == size
                 ? 0
                 : -1;
    if (rc == 0)
        memcpy(out, data, size);
    free(data);
    if (received)
        *received = got;
    return rc;
}
