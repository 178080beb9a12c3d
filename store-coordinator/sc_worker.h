/* sc_worker: an actor that writes chunks of the queue to its own sink.
 *
 * Protocol on the actor pipe (core -> worker): "CHUNK" id(8) records(p)
 * count(8): write these records (they stay read-only in the queue until the
 * chunk is committed). Worker -> core: "DONE" id(8) written(8) duplicates(8)
 * dead_lettered(8) once every record is either committed to the database or
 * fsync'd into the dead-letter file. A worker never gives a chunk up and
 * never dies from a sink error:
 *  - TRANSIENT: retried with exponential backoff and full jitter
 *    (retry_base_ms doubling up to retry_max_ms) for retry_limit attempts;
 *    then the breaker is tripped and the chunk is retried each time it
 *    half-opens (a dead database is tried once per breaker_timeout_ms);
 *  - PERMANENT: the chunk is written record by record; each record the
 *    database rejects goes to the dead-letter file with the sink's reason.
 * $TERM ends the actor even in the middle of a backoff; the chunk is then
 * not reported (the core dead-letters it at shutdown). The worker publishes
 * its breaker state and database reachability in sc_state_t and pings the
 * database when idle. */
#ifndef SC_WORKER_H
#define SC_WORKER_H

#include <czmq.h>

#include "cmn_clock.h"
#include "sc_settings.h"
#include "sc_state.h"
#include "sc_stats.h"

typedef struct {
    const sc_settings_t *settings; /* borrowed, outlives the actor */
    sc_state_t *state;             /* borrowed */
    sc_stats_t *stats;             /* borrowed */
    cmn_clock_t *clock;            /* borrowed */
    size_t index;                  /* 0 .. workers-1 */
} sc_worker_args_t;

/* The zactor function; `args` is an sc_worker_args_t that must outlive the
 * actor. */
void sc_worker_actor(zsock_t *pipe, void *args);

#endif
