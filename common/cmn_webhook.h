/* cmn_webhook: POSTs JSON events to an http:// URL from its own actor.
 *
 * The caller hands each event to cmn_webhook_post(), which never blocks: it
 * is a non-blocking send on the actor's pipe (a full pipe counts a drop).
 * The actor keeps a bounded FIFO of waiting events and delivers them one at
 * a time, in order, through a second actor (the sender) that runs the
 * blocking civetweb client call, so the queue keeps accepting events while a
 * receiver hangs. A delivery is retried after a connection error, a timeout
 * or a 5xx/408/429 answer, up to max_retries times, waiting an exponential
 * backoff with jitter read from the injected clock; other answers (2xx
 * success, 4xx give-up) end it. When the FIFO is full the oldest waiting
 * event is dropped; the event being delivered is finished first. Delivery is
 * at least once: a receiver that answers after our timeout may see an event
 * twice, never out of order. No TLS: civetweb's TLS crashes with Debian 12's
 * OpenSSL 3, so https:// is refused at configuration time (use a
 * TLS-terminating proxy). */
#ifndef CMN_WEBHOOK_H
#define CMN_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "cmn_clock.h"
#include "cmn_metrics.h"

typedef struct _cmn_webhook_t cmn_webhook_t;

typedef struct {
    const char *endpoint;      /* "http://host[:port][/path]" */
    int64_t timeout_ms;        /* per attempt: connect, send, answer */
    int max_retries;           /* attempts after the first */
    int64_t backoff_ms;        /* first retry waits about this; then doubles */
    int64_t backoff_max_ms;    /* the doubling stops here; 0: the default */
    size_t queue_capacity;     /* waiting events; the oldest is dropped */
    cmn_clock_t *clock;        /* borrowed; backoff timing */
    cmn_metrics_t *metrics;    /* borrowed; series created at _new */
    const char *metric_prefix; /* e.g. "mds_feedback_webhook" */
    uint64_t jitter_seed;      /* 0 seeds from the clock */
    const char *bearer_token;  /* NULL: no Authorization header; else sent
                                  as "Bearer TOKEN" (a pipeline's
                                  MDP_ADMIN_TOKEN guards its POST
                                  /feedback); copied */
} cmn_webhook_config_t;

#define CMN_WEBHOOK_TOKEN_BYTES 512 /* longest bearer token sent */

#define CMN_WEBHOOK_QUEUE_CAPACITY_DEFAULT 1024
#define CMN_WEBHOOK_MAX_BODY_BYTES 65536         /* larger events are refused */
#define CMN_WEBHOOK_URL_BYTES 1024               /* longest accepted endpoint */
#define CMN_WEBHOOK_BACKOFF_MAX_MS_DEFAULT 30000 /* doubling stops here */

/* Results of cmn_webhook_post() other than 0 and -1. */
#define CMN_WEBHOOK_DROPPED 1 /* the pipe to the actor was full: counted */

/* A parsed endpoint. */
typedef struct {
    char host[CMN_WEBHOOK_URL_BYTES];
    int port;
    char path[CMN_WEBHOOK_URL_BYTES]; /* starts with '/'; may hold a query */
} cmn_webhook_url_t;

/* Parses an http:// endpoint. Returns 0, or -1 with a reason in `reason`
 * (static text): https:// and other schemes, user info, IPv6 literals, an
 * empty host or a bad port are refused. For start-up validation. */
int cmn_webhook_url_parse(const char *endpoint, cmn_webhook_url_t *url,
                          const char **reason);

/* The wait before retry number `retry` (1 for the first retry): base *
 * 2^(retry-1) capped at `max_ms` (or base if larger), then scaled by a
 * jitter factor in [0.5, 1.0) drawn from `unit_random` in [0, 1).
 * Nanoseconds. */
int64_t cmn_webhook_backoff_ns(int64_t backoff_ms, int64_t max_ms, int retry,
                               double unit_random);

/* Starts the actors for `config` (copied; the endpoint must parse) and
 * registers the metrics <prefix>_sent_total, _failed_total, _retried_total,
 * _dropped_total and the gauge <prefix>_queue_depth. Returns NULL (logged)
 * when the endpoint does not parse or a resource failed. Caller owns the
 * result. */
cmn_webhook_t *cmn_webhook_new(const cmn_webhook_config_t *config);

/* Stops the actors (waits for an attempt in progress, at most about the
 * timeout), counts still-waiting events as dropped, frees; tolerates NULL
 * and sets *self_p to NULL. */
void cmn_webhook_destroy(cmn_webhook_t **self_p);

/* Queues one JSON text (copied) for delivery. Never blocks. Returns 0,
 * CMN_WEBHOOK_DROPPED when the actor's pipe is full (counted), or -1
 * (logged, counted as dropped) for a body over CMN_WEBHOOK_MAX_BODY_BYTES.
 * One thread at a time (the pipe is a zsock). */
int cmn_webhook_post(cmn_webhook_t *self, const char *json);

#endif
