/* sc_publisher: the feedback channel, an actor owning the XPUB socket; what
 * to publish and when is sc_announcer's (transitions, heartbeats every
 * interval +-10 %, early heartbeats when scale_hint moved, snapshots per
 * subscription, the final message). Every message gets seq + 1. Sending
 * never blocks: the XPUB drops for a subscriber past its high-water mark.
 *
 * Pipe commands (core -> publisher, typed "sb"):
 *   "STATE" sc_snapshot_t   the core's latest state (a transition when its
 *                           `changed` is set); every message carries the
 *                           latest one whole, so a heartbeat never runs
 *                           ahead of its transition;
 *   "FINAL" (no bytes)      publish the last heartbeat now (going_away,
 *                           ttl_ms 0, reason "shutdown"), then signal
 *                           (zsock_wait) when it is out.
 * Start-up: "READY"/"FAILED" (sc_actor.h). */
#ifndef SC_PUBLISHER_H
#define SC_PUBLISHER_H

#include <czmq.h>

#include "cmn_clock.h"
#include "cmn_webhook.h"
#include "sc_settings.h"
#include "sc_state.h"
#include "sc_stats.h"

typedef struct {
    const sc_settings_t *settings; /* borrowed */
    sc_state_t *state;             /* borrowed */
    sc_stats_t *stats;             /* borrowed */
    cmn_clock_t *clock;            /* borrowed */
    zsock_t *xpub;                 /* bound; the actor takes ownership */
    cmn_webhook_t *webhook;        /* borrowed; NULL: no HTTP broadcast */
} sc_publisher_args_t;

/* The zactor function; `args` is an sc_publisher_args_t. */
void sc_publisher_actor(zsock_t *pipe, void *args);

#endif
