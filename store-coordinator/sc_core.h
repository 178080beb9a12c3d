/* sc_core: the coordinator's central actor, the shell around sc_intake. It
 * owns the ingest ROUTER socket and the engine (queue, watermark), and
 * starts the workers and the publisher (each reports READY/FAILED; a
 * failure fails the core's own start with that reason).
 *
 * Never blocks on a peer: a batch is enqueued whole or answered at once
 * (`nack full` with a retry hint, `nack malformed`, `nack draining`: the
 * engine decides); chunks go to idle workers over their pipes; a worker's
 * DONE commits its chunk and acks every batch it completed. The level is
 * re-evaluated on every queue change and at the engine's deadline (so a
 * step down held back by the dwell happens when it ends); each change goes
 * to the publisher as "LEVEL".
 *
 * Pipe commands (main -> core): "DRAIN": stop taking batches (nack
 * draining), flush the queue within drain_timeout_ms, dead-letter (fsync'd)
 * and ack whatever is still not written, publish a last event, then answer
 * "DRAINED". "HURRY" (after DRAIN): the drain deadline is now. At start the
 * core reports "READY" or "FAILED" reason (sc_actor.h; sc_actor_start). */
#ifndef SC_CORE_H
#define SC_CORE_H

#include <czmq.h>

#include "cmn_clock.h"
#include "cmn_webhook.h"
#include "sc_settings.h"
#include "sc_state.h"
#include "sc_stats.h"

typedef struct {
    const sc_settings_t *settings; /* borrowed, outlives the actor */
    sc_state_t *state;             /* borrowed */
    sc_stats_t *stats;             /* borrowed */
    cmn_clock_t *clock;            /* borrowed */
    zsock_t *router;               /* bound ingest socket; actor owns it */
    zsock_t *xpub;                 /* bound feedback socket; actor owns it */
    cmn_webhook_t *webhook;        /* borrowed; NULL: no HTTP broadcast */
} sc_core_args_t;

/* The zactor function; `args` is an sc_core_args_t that must outlive the
 * actor. */
void sc_core_actor(zsock_t *pipe, void *args);

#endif
