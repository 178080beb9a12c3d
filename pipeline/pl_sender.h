/* pl_sender: the actor that delivers records to the coordinators.
 *
 * Records arrive from the producer on a PULL socket it binds
 * (`data_endpoint`) as frames holding arrays of mdbp_record_t. They are
 * packed into batches (at most `batch_records` records, held at most
 * `batch_ns`) sent over one DEALER per address of every
 * MDP_STORE_ENDPOINTS endpoint (proto/ingest.md 4.4), each to the
 * coordinator with room in its credit (pl_window): a host name is resolved
 * again every `resolve_ns` (pl_endpoints), so the pods a headless Service
 * gains get traffic and vanished ones are closed. A batch stays in a
 * bounded window of `window` unacknowledged batches until the coordinator acks
 * it (after its commit); while the window is full the actor stops reading
 * records, so the producer blocks and memory stays bounded. A batch is sent
 * again when no reply came within `ack_timeout_ns` (also to another
 * coordinator: a hung one, its ZMTP heartbeats unanswered, keeps it until
 * then), when its coordinator's connection is (re)established after it was
 * sent (a restarted coordinator lost it), when its coordinator refuses the
 * reconnect or leaves DNS (elsewhere at once), or after a `nack
 * full|draining` (elsewhere at once, or there after retry_after_ms). The
 * ack timeout of a batch doubles after each of its timeouts (at most 8x):
 * acks come after the commit, and a slow database must not get ever more
 * copies. Resending is safe: records are keyed, duplicates are ignored by
 * the store. `nack malformed` drops the batch (counted, logged).
 *
 * The decisions are pl_window's (pipeline/pl_window.h); this actor owns the
 * sockets, the encoded batches (one buffer per window slot), one zloop and
 * one timer armed from the window's next deadline.
 *
 * Pipe commands (zsock_send pictures; see pl_actor.h for start-up):
 *   PL_SENDER_FLUSH "s8" deadline_ms: seal everything, wait for the acks
 *     until the deadline, then reply PL_SENDER_FLUSHED "s88b" with the number
 *     of records still unacknowledged (0 when all are safe), 0, and a
 *     pl_sender_report_t (main's one shutdown report; the producer's
 *     replies have the same picture);
 *   PL_SENDER_NOW "s": a running flush stops waiting and replies now.
 *
 * A pipeline whose providers have several classes runs one sender per
 * class in use (ingest.md 4.5: one producer session per class): each its
 * own session, window, DEALERs and data and limits endpoints, so a class
 * whose credit is spent blocks only its own providers. */
#ifndef PL_SENDER_H
#define PL_SENDER_H

#include <czmq.h>

#include <mdbp/ingest.h>

#include "cmn_clock.h"
#include "pl_actor.h"
#include "pl_endpoints.h"
#include "pl_metrics.h"
#include "pl_status.h"
#include "pl_window.h"

/* Records in one producer->sender frame at most. */
#define PL_SENDER_CHUNK_RECORDS_MAX 1024

typedef struct {
    cmn_clock_t *clock;          /* borrowed; must outlive the actor */
    const char *endpoints;       /* comma-separated, copied */
    const char *producer_id;     /* copied */
    const char *data_endpoint;   /* inproc endpoint to bind, copied */
    const char *limits_endpoint; /* inproc PULL to bind: feedback limits
                                  * (pl_feedback_limits_t frames) from the
                                  * subscriber; copied */
    uint64_t session;            /* v1.1: this run's, nonzero (0: send none) */
    int64_t resolve_ns; /* store host names resolved again this often */
    pl_endpoints_resolve_fn *resolve; /* NULL: pl_endpoints_resolve_dns */
    void *resolve_arg;                /* given to resolve, borrowed */
    size_t batch_records;
    int64_t batch_ns;
    size_t window; /* batches */
    mdbp_priority_t priority; /* v1.1 class of every batch (ingest.md 4.5) */
    uint32_t weight;          /* v1.1 share weight, >= 1 */
    /* The pipeline's first sender: it writes the gauges that are not
     * summed over senders (credit, connections, the per-coordinator
     * pipeline_store_*); every sender writes its class's series. */
    bool primary;
    int64_t ack_timeout_ns;
    pl_metrics_t *metrics; /* borrowed */
    pl_status_t *status;   /* borrowed */
    /* CURVE client (docs/security.md): both set or both NULL; borrowed. */
    const char *curve_secret_key_file; /* our key pair (NAME_secret) */
    const char *curve_server_key_file; /* the coordinators' public cert */
} pl_sender_config_t;

#define PL_SENDER_FLUSH "FLUSH"
#define PL_SENDER_NOW "NOW"
#define PL_SENDER_FLUSHED "FLUSHED"

/* What the sender knows at the end of a flush (issue 15): every record it
 * was handed is in exactly one of these (or acked / rejected in the
 * counters). */
typedef struct {
    pl_window_loss_t window;   /* the records the window holds */
    uint64_t input_never_sent; /* handed over by the producer, not yet in a
                                  batch (a chunk being read or queued) */
    pl_window_counters_t counters;
} pl_sender_report_t;

/* Adds `part` (another class's sender) to `sum`: the report of a pipeline
 * with one sender per class. */
void pl_sender_report_add(pl_sender_report_t *sum,
                          const pl_sender_report_t *part);

/* Starts the actor (config copied). Returns NULL with the reason in `error`
 * (PL_ACTOR_ERROR_MAX bytes) when a socket cannot be set up or the endpoint
 * list is empty or bad. Destroy with zactor_destroy (unsent records are then
 * dropped: FLUSH first). */
zactor_t *pl_sender_new(const pl_sender_config_t *config, char *error);

#endif
