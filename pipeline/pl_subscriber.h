/* pl_subscriber: the feedback subscriber actor.
 *
 * A SUB socket subscribed to MDBP_FEEDBACK_TOPIC_PREFIX and connected to
 * every endpoint of MDP_FEEDBACK_ENDPOINTS. A `tcp://NAME:PORT` endpoint is
 * resolved with getaddrinfo and connected address by address; it is resolved
 * again every `resolve_ns`, so that the new pods behind a Kubernetes
 * headless service are found (and vanished ones disconnected). Messages go
 * through the pl_feedback engine, which decides (seq gaps, epochs, stale
 * fail-safe, forgetting, most severe wins, what changed); this actor owns
 * the sockets, one zloop and one timer armed at the soonest of the
 * engine's deadline, the next resolution and the next gauge refresh
 * (`tick_ns`). When the combined decision changes, the actor sends it
 * straight to the producer over `decisions_endpoint` (inproc PUSH; one
 * frame holding a pl_feedback_decision_t): no relay through main. When
 * the limits the sender needs change (capacity, credit_initial, whether
 * every coordinator is heard), it sends a pl_feedback_limits_t to each of
 * `limits_endpoints` (a sender per class in use) the same way. It
 * writes the feedback metrics, the coordinators part of /status and the
 * readiness flags. Its pipe takes only $TERM (start-up: pl_actor.h). */
#ifndef PL_SUBSCRIBER_H
#define PL_SUBSCRIBER_H

#include <czmq.h>

#include "pl_actor.h"
#include "pl_endpoints.h"
#include "pl_feedback.h"
#include "pl_feedback_json.h"
#include "pl_metrics.h"
#include "pl_policy.h"
#include "pl_scale_cell.h"
#include "pl_status.h"

#define PL_SUBSCRIBER_TICK_MS_DEFAULT 100
#define PL_SUBSCRIBER_ENDPOINTS_MAX 64

/* The resolver (pl_endpoints.h), under the subscriber's names. */
#define PL_SUBSCRIBER_ADDRESS_TEXT_MAX PL_ENDPOINTS_ADDRESS_TEXT_MAX
typedef pl_endpoints_resolve_fn pl_subscriber_resolve_fn;

/* The default resolver: pl_endpoints_resolve_dns. */
int pl_subscriber_resolve_dns(const char *host,
                              char addresses[][PL_SUBSCRIBER_ADDRESS_TEXT_MAX],
                              size_t max, void *arg);

typedef struct {
    cmn_clock_t *clock;             /* borrowed; must outlive the actor */
    const char *endpoints;          /* comma-separated, copied */
    int64_t resolve_ns;             /* DNS re-resolution interval */
    int64_t tick_ns;                /* gauge and /status refresh interval */
    const char *decisions_endpoint; /* the producer's inproc PULL */
    /* Where each decided scale is stored first, before the message, for
     * the producer's buckets to read on their next take (pl_scale_cell.h);
     * the propagation latency of a fall is observed here, at the store,
     * that of a rise by the producer once applied.
     * Borrowed, must outlive the actor; NULL: the message only. */
    pl_scale_cell_t *scale_cell;
    /* The senders' inproc PULLs, by class (NULL: no sender of that
     * class) */
    const char *limits_endpoints[MDBP_PRIORITY_COUNT];
    pl_feedback_config_t feedback;
    const pl_policy_t *policy;         /* borrowed, immutable */
    pl_metrics_t *metrics;             /* borrowed */
    pl_status_t *status;               /* borrowed */
    pl_subscriber_resolve_fn *resolve; /* NULL: pl_subscriber_resolve_dns */
    void *resolve_arg;                 /* given to resolve, borrowed */
    /* CURVE client (docs/security.md): both set or both NULL; borrowed. */
    const char *curve_secret_key_file; /* our key pair (NAME_secret) */
    const char *curve_server_key_file; /* the coordinators' public cert */
    /* POST /feedback (issue 15): the inproc PULL this actor binds for the
     * HTTP receiver's pl_posted_feedback_t frames (NULL: none), and the
     * ttl_ms such an event is trusted for (a webhook sends transitions,
     * no heartbeats). */
    const char *posted_endpoint;
    uint32_t posted_ttl_ms;
    /* The `source` label of the per-coordinator gauges: NULL, the
     * coordinator id; else this one value for all, each gauge holding the
     * worst over the coordinators (the seed's source="store_coordinator"
     * queries). Borrowed. */
    const char *source_label;
} pl_subscriber_config_t;

/* Epoch of the events the subscriber numbers itself (the seed's shape has
 * no epoch or seq): /status shows it. */
#define PL_SUBSCRIBER_POSTED_EPOCH 0

/* Starts the actor (config copied). Returns NULL with the reason in `error`
 * (PL_ACTOR_ERROR_MAX bytes) when the endpoint list is unusable or a
 * socket cannot be set up (CURVE keys, a connect refused). Destroy with
 * zactor_destroy. */
zactor_t *pl_subscriber_new(const pl_subscriber_config_t *config, char *error);

/* Checks an endpoint list: every item is tcp://HOST:PORT, ipc://... or
 * inproc://.... Returns 0, or -1 with the bad item in `bad` (capacity
 * bytes). */
int pl_subscriber_check_endpoints(const char *endpoints, char *bad,
                                  size_t capacity);

#endif
