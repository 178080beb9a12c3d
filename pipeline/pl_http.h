/* pl_http: mdp-pipeline's HTTP routes.
 *
 *   GET /health, /ready, /status, /metrics
 *   POST /admin/cooldown?provider=NAME[&scope=SCOPE][&seconds=S]
 *   POST /admin/scale?provider=NAME&scale=S   (a cap in [0, 1]; 1 clears)
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
#include "pl_status.h"

/* Builds the server with the routes and starts it. `settings`, `registry`
 * and `status` are borrowed and must outlive it; `admin_endpoint` is the
 * producer's inproc PULL (borrowed string). Returns NULL (logged) when the
 * port cannot be bound. Destroy with cmn_http_destroy(). */
cmn_http_t *pl_http_new(const pl_settings_t *settings, cmn_metrics_t *registry,
                        pl_status_t *status, const char *admin_endpoint);

#endif
