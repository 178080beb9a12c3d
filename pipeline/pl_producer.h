/* pl_producer: the actor that makes records as fast as the buckets allow.
 *
 * It owns the rate coordinator and the providers (synthetic or replay). In
 * a loop it takes tokens for each provider in turn, makes that many records
 * into a chunk and pushes full chunks (or, before it waits, partial ones) to
 * the sender's PULL socket. When the sender stops reading (its window is
 * full) the push blocks the loop, not memory. When no provider has a token
 * it waits on its pipe until the soonest one is due, so commands are
 * handled at once. Commands (string frames):
 *
 *   "SCALE" idx scale level ts_ns  apply feedback to provider idx (ts_ns of
 *                                  the event or 0; observed as latency)
 *   "COOLDOWN" idx scope seconds   trigger_cooldown
 *   "OVERRIDE" idx scale           cap the provider's scale (admin; 1.0
 *                                  removes the cap): the bucket runs at
 *                                  min(feedback scale, cap)
 *   "STOP" deadline_ms             stop producing, hand over the chunk;
 *                                  answers the number of records it
 *                                  could not hand over ("0": none)
 *
 * It writes the per-provider metrics and the providers part of /status. */
#ifndef PL_PRODUCER_H
#define PL_PRODUCER_H

#include <czmq.h>

#include "pl_metrics.h"
#include "pl_provider_replay.h"
#include "pl_provider_synthetic.h"
#include "pl_rate_coordinator.h"
#include "pl_status.h"

#define PL_PRODUCER_CHUNK_RECORDS_DEFAULT 512

typedef struct {
    pl_synthetic_t *synthetic; /* one of the two, owned */
    pl_replay_t *replay;
    uint64_t limit;                    /* records to make, 0: no limit */
    char source[PROTO_REASON_MAX + 1]; /* as configured, for /status */
} pl_producer_source_t;

typedef struct {
    cmn_clock_t *clock;          /* borrowed; must outlive the actor */
    pl_rate_coordinator_t *rate; /* taken (nulled) by pl_producer_new */
    pl_producer_source_t sources[PL_RATE_PROVIDERS_MAX]; /* by rate index;
                                       taken (nulled) by pl_producer_new */
    const char *data_endpoint; /* the sender's PULL, copied */
    size_t chunk_records;      /* <= PL_SENDER_CHUNK_RECORDS_MAX */
    pl_metrics_t *metrics;     /* borrowed */
    pl_status_t *status;       /* borrowed */
} pl_producer_config_t;

/* Starts the actor, taking the rate coordinator and the providers out of
 * `config`. Returns NULL on failure (what was taken is destroyed). */
zactor_t *pl_producer_new(pl_producer_config_t *config);

#endif
