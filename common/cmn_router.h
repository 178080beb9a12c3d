/* cmn_router: bounded receive and non-blocking replies on a ROUTER socket.
 *
 * libzmq's ZMQ_MAXMSGSIZE caps each frame, not a message: a peer can send
 * any number of frames before its payload, and a ROUTER service that keeps
 * every frame before the last as the reply envelope keeps (and echoes) all
 * of them. cmn_router_recv() reads a message frame by frame and keeps at
 * most the limits' envelope; the rest of a refused message is read and
 * freed one frame at a time, so the service never holds more than two of
 * its frames. The verdict itself is a pure function (unit-tested).
 * cmn_router_send() never blocks: on a socket with ZMQ_ROUTER_MANDATORY a
 * peer at its send high-water mark or gone is reported, not waited for. */
#ifndef CMN_ROUTER_H
#define CMN_ROUTER_H

#include <czmq.h>
#include <stddef.h>

typedef struct {
    size_t envelope_frames_max; /* frames before the payload, routing id in */
    size_t envelope_bytes_max;  /* their bytes together */
    size_t payload_bytes_max;   /* the last frame */
} cmn_router_limits_t;

/* What cmn_router_recv() found; OK is 0, refusals are positive. */
typedef enum {
    CMN_ROUTER_OK = 0,
    CMN_ROUTER_ENVELOPE_FRAMES, /* more frames than envelope_frames_max */
    CMN_ROUTER_ENVELOPE_BYTES,  /* envelope over envelope_bytes_max */
    CMN_ROUTER_PAYLOAD_BYTES,   /* last frame over payload_bytes_max */
    CMN_ROUTER_REFUSALS         /* count, for metric arrays */
} cmn_router_verdict_t;

/* Label text of a verdict ("ok", "envelope_frames", "envelope_bytes",
 * "payload_bytes"). */
const char *cmn_router_verdict_name(cmn_router_verdict_t verdict);

/* The verdict on a message whose frames before the last number `frames`
 * with `envelope_bytes` bytes together and whose last frame has
 * `payload_bytes`. Pure. */
cmn_router_verdict_t cmn_router_verdict(const cmn_router_limits_t *limits,
                                        size_t frames, size_t envelope_bytes,
                                        size_t payload_bytes);

/* Receives one message from `router` into *message_p (caller owns it):
 * the envelope frames, then the payload as the last frame. Returns
 * CMN_ROUTER_OK; a refusal, with *message_p holding only the routing id,
 * an empty second frame when there was one (a REQ peer's delimiter, so a
 * reply can still reach it) and the payload (NULL payload when it was the
 * payload that was too large); or -1 when nothing could be read. */
int cmn_router_recv(zsock_t *router, const cmn_router_limits_t *limits,
                    zmsg_t **message_p);

/* Sends *message_p (envelope + reply) without blocking and destroys it
 * either way. Returns 0, or -1 with errno EAGAIN (the peer is at its send
 * high-water mark: it does not read its replies) or EHOSTUNREACH (the
 * peer is gone; ZMQ_ROUTER_MANDATORY reports both). */
int cmn_router_send(zsock_t *router, zmsg_t **message_p);

#endif
