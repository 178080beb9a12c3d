/* sc_worker: an actor that writes chunks of the queue to its own sink; the
 * decisions are sc_writer's (retry, breaker, isolate, dead-letter).
 *
 * Start-up: the sink is opened at once (sc_sink_start); a sink that can
 * never work (e.g. a SQLite file that is not a database) is reported as
 * "FAILED" with a reason naming it (sc_actor.h), an unreachable database is
 * not (the writer's retries and breaker handle it).
 *
 * Pipe (typed, zsock pictures). Core -> worker: "CHUNK" id(8) records(p)
 * count(8): write these records (they stay read-only in the core's buffer
 * for this worker until DONE). Worker -> core ("s8888"): "DONE" id
 * written duplicates dead_lettered once every record is either committed
 * to the database or fsync'd into the dead-letter file; "HEALTH" breaker
 * retrying dlq_failing 0 whenever one of them changes (breaker: its
 * sc_breaker_state_t; retrying: backing off after a transient failure;
 * dlq_failing: its dead-letter file could not be written last time). A worker
 * never gives a chunk up and never dies from a sink error. $TERM ends the actor
 * even in the middle of a backoff; the chunk is then not reported (the
 * core dead-letters it at shutdown). The worker publishes its breaker
 * state and database reachability in sc_state_t and pings the database
 * when idle. */
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
