/* pl_http: mdp-pipeline's HTTP routes.
 *
 *   GET /health, /ready, /status, /metrics
 *   POST /admin/cooldown?provider=NAME[&scope=SCOPE][&seconds=S]
 *   POST /admin/scale?provider=NAME&scale=S   (a cap in [0, 1]; 1 clears)
 *   POST /feedback   (a feedback event as JSON: the coordinator's webhook
 *                     body or the seed's FeedbackEvent; 202, 400 with the
 *                     reason, 409 while feedback is off)
 *
 * Admin routes need the bearer MDP_ADMIN_TOKEN (404 while it is unset).
 * Their parameters are checked here, against the provider names (immutable
 * after start), then sent straight to the producer's admin socket (one
 * pl_producer_admin_t): handlers never touch actors' state, and main
 * relays nothing. Handlers run in civetweb threads. */
#ifndef PL_HTTP_H
#define PL_HTTP_H

#include "cmn_http.h"
#include "pl_config.h"
#include "pl_metrics.h"
#include "pl_status.h"

/* Builds the server with the routes and starts it. `settings`, `registry`,
 * `status` and `metrics` are borrowed and must outlive it;
 * `admin_endpoint` is the producer's inproc PULL, `posted_endpoint` the
 * subscriber's (NULL: feedback is off), borrowed strings. Returns NULL
 * (logged) when the port cannot be bound. Destroy with cmn_http_destroy(). */
cmn_http_t *pl_http_new(const pl_settings_t *settings, cmn_metrics_t *registry,
                        pl_status_t *status, const char *admin_endpoint,
                        const char *posted_endpoint, pl_metrics_t *metrics);

#endif
