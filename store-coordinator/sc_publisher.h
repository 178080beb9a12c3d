/* sc_publisher: the feedback channel, an actor owning the XPUB socket.
 *
 * Publishes (proto/feedback.md): a `transition` on every level change the
 * core reports, a `heartbeat` with the full state every heartbeat interval
 * (+-10% jitter), and a `snapshot` whenever a subscription message arrives
 * (ZMQ_XPUB_VERBOSE, so a re-subscription is seen too), so that a late
 * subscriber learns the state at once. A heartbeat also goes out early when
 * scale_hint has moved since the last message (checked every
 * SC_HINT_CHECK_MS, see sc_watermark_hint_moved). Every message gets
 * seq + 1. Sending
 * never blocks: the XPUB drops for a subscriber past its high-water mark.
 *
 * Pipe commands (core -> publisher):
 *   "LEVEL" level(i) previous(i) depth(8)  a transition happened;
 *   "FINAL" reason(s)                      publish a last heartbeat now.
 * Depth and drain rate for heartbeats and snapshots are read from
 * sc_state_t; the level is the last one reported over the pipe, so a
 * heartbeat never runs ahead of its transition. */
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
