/* sc_core: the coordinator's central actor. It owns the ingest ROUTER socket,
 * the queue and the watermark, and starts the workers and the publisher.
 *
 * Never blocks on a peer: a batch is enqueued whole or answered at once
 * (`nack full` with a retry hint derived from the drain rate, `nack
 * malformed`, `nack draining`); chunks go to idle workers over their pipes
 * (at most batch_size records; a partial chunk once batch_timeout_ms have
 * passed, or at once when batch_eager is set and the socket has nothing
 * more to read); a worker's DONE commits its chunk and acks every batch it
 * completed. The level is re-evaluated on every queue change and on a
 * 10 ms tick (so a step down held back by the dwell happens when it ends);
 * each change goes to the publisher.
 *
 * Pipe commands (main -> core): "DRAIN": stop taking batches (nack
 * draining), flush the queue within drain_timeout_ms, dead-letter (fsync'd)
 * and ack whatever is still not written, publish a last event, then answer
 * "DRAINED". "HURRY" (after DRAIN): the drain deadline is now. After start the
 * core sends "READY" or "FAILED". */
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
