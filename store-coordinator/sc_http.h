/* sc_http: the coordinator's HTTP server: /health (200 while the process
 * serves), /ready (200 when every worker reached its database at its last
 * contact, no breaker is open, the sink is not down and the coordinator
 * is not draining; else 503), /status (JSON of the live state) and /metrics
 * (the registry). There is no mutating (admin) route. Handlers read only the
 * published atomics (sc_state_t), never an actor. */
#ifndef SC_HTTP_H
#define SC_HTTP_H

#include "cmn_http.h"
#include "cmn_metrics.h"
#include "sc_settings.h"
#include "sc_state.h"

typedef struct _sc_http_t sc_http_t;

/* Starts the server on settings->http_bind:http_port. `settings`, `state`
 * and `metrics` are borrowed and must outlive it. NULL when it cannot
 * start (logged). Caller owns it. */
sc_http_t *sc_http_new(const sc_settings_t *settings, sc_state_t *state,
                       cmn_metrics_t *metrics);

/* Stops (about 2 s once a request was served: civetweb) and frees;
 * tolerates NULL and sets *self_p to NULL. */
void sc_http_destroy(sc_http_t **self_p);

/* The port it listens on (the one picked when http_port was 0). */
int sc_http_port(sc_http_t *self);

#endif
