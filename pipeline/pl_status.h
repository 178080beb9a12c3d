/* pl_status: what /status and /ready show, published by the actors.
 *
 * Each actor owns one part of the status and publishes it as a JSON text
 * (copied under a mutex that only HTTP threads and the publishing actor
 * take, briefly); readiness flags are atomics. The HTTP handlers render the
 * whole document from these without talking to the actors. */
#ifndef PL_STATUS_H
#define PL_STATUS_H

#include <stdbool.h>

#include <mdbp/ingest.h>

typedef enum {
    PL_STATUS_PROVIDERS = 0,    /* JSON array, by the producer */
    PL_STATUS_COORDINATORS = 1, /* JSON array, by the subscriber */
    /* JSON objects, one by the sender of each class in use
     * (pl_status_publish_sender): rendered as "senders", most important
     * class first, and "sender", the first of them */
    PL_STATUS_SENDERS = 2,
    PL_STATUS_PART_COUNT = PL_STATUS_SENDERS + MDBP_PRIORITY_COUNT,
} pl_status_part_t;

typedef struct _pl_status_t pl_status_t;

/* Empty parts (rendered as [] or {}), not subscribed, not fresh. `feedback`
 * says whether the feedback loop is on (if not, /ready needs neither flag).
 * Caller owns the result. */
pl_status_t *pl_status_new(bool feedback);

/* Destroys it once no thread uses it; tolerates NULL and sets *self_p to
 * NULL. */
void pl_status_destroy(pl_status_t **self_p);

/* Replaces a part with `json` (copied). Any thread. */
void pl_status_publish(pl_status_t *self, pl_status_part_t part,
                       const char *json);

/* The classes, most important first: the order of "senders", and main's
 * (the first in use is the primary sender, pl_sender.h). */
extern const mdbp_priority_t pl_status_importance[MDBP_PRIORITY_COUNT];

/* Replaces the part of the sender of class `priority`. Any thread. */
void pl_status_publish_sender(pl_status_t *self, mdbp_priority_t priority,
                              const char *json);

/* Readiness inputs from the subscriber. Any thread. */
void pl_status_set_subscribed(pl_status_t *self, bool subscribed);
void pl_status_set_fresh(pl_status_t *self, bool fresh);

/* Ready: feedback disabled, or subscribed and fresh. Any thread. */
bool pl_status_ready(pl_status_t *self);

/* The whole /status document; the caller frees it. Any thread. */
char *pl_status_render(pl_status_t *self);

#endif
