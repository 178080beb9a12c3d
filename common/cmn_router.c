/* cmn_router: envelope limits and non-blocking replies (see cmn_router.h).
 *
 * A refused message is still read to its end (libzmq delivers a multipart
 * message whole, and the next message starts after its last frame), but
 * each frame between the routing id and the last is freed as soon as it is
 * read. */
#include "cmn_router.h"

#include <assert.h>
#include <errno.h>

static const char *const s_verdict_names[CMN_ROUTER_REFUSALS] = {
    "ok", "envelope_frames", "envelope_bytes", "payload_bytes"};

const char *cmn_router_verdict_name(cmn_router_verdict_t verdict)
{
    assert(verdict >= CMN_ROUTER_OK && verdict < CMN_ROUTER_REFUSALS);
    return s_verdict_names[verdict];
}

cmn_router_verdict_t cmn_router_verdict(const cmn_router_limits_t *limits,
                                        size_t frames, size_t envelope_bytes,
                                        size_t payload_bytes)
{
    assert(limits);
    if (frames > limits->envelope_frames_max)
        return CMN_ROUTER_ENVELOPE_FRAMES;
    if (envelope_bytes > limits->envelope_bytes_max)
        return CMN_ROUTER_ENVELOPE_BYTES;
    if (payload_bytes > limits->payload_bytes_max)
        return CMN_ROUTER_PAYLOAD_BYTES;
    return CMN_ROUTER_OK;
}

/* Reads and frees the frames of the current message up to its last, which
 * it returns (NULL on error). `frame` is the one just read (taken). */
static zframe_t *s_skip_to_last(zsock_t *router, zframe_t *frame,
                                size_t *frames, size_t *bytes)
{
    while (frame && zframe_more(frame)) {
        *frames += 1;
        *bytes += zframe_size(frame);
        zframe_destroy(&frame);
        frame = zframe_recv(router);
    }
    return frame;
}

int cmn_router_recv(zsock_t *router, const cmn_router_limits_t *limits,
                    zmsg_t **message_p)
{
    assert(router && limits && message_p);
    *message_p = NULL;
    zmsg_t *message = zmsg_new();
    if (!message)
        return -1;
    size_t frames = 0, bytes = 0;
    bool delimiter = false; /* the second frame is empty (REQ) */
    zframe_t *frame = zframe_recv(router);
    cmn_router_verdict_t verdict = CMN_ROUTER_OK;
    while (frame && zframe_more(frame)) {
        verdict = cmn_router_verdict(limits, frames + 1,
                                     bytes + zframe_size(frame), 0);
        if (verdict != CMN_ROUTER_OK)
            break;
        frames++;
        bytes += zframe_size(frame);
        if (frames == 2 && zframe_size(frame) == 0)
            delimiter = true;
        zmsg_append(message, &frame);
        frame = zframe_recv(router);
    }
    if (verdict != CMN_ROUTER_OK) {
        /* Keep the routing id (and a REQ delimiter), drop the rest. */
        while (zmsg_size(message) > (delimiter ? 2u : 1u)) {
            zframe_t *extra = zmsg_last(message);
            zmsg_remove(message, extra);
            zframe_destroy(&extra);
        }
        frame = s_skip_to_last(router, frame, &frames, &bytes);
    }
    if (!frame) {
        zmsg_destroy(&message);
        return -1;
    }
    if (verdict == CMN_ROUTER_OK) {
        verdict = cmn_router_verdict(limits, frames, bytes, zframe_size(frame));
        if (verdict != CMN_ROUTER_OK) {
            while (zmsg_size(message) > (delimiter ? 2u : 1u)) {
                zframe_t *extra = zmsg_last(message);
                zmsg_remove(message, extra);
                zframe_destroy(&extra);
            }
        }
    }
    if (verdict == CMN_ROUTER_PAYLOAD_BYTES)
        zframe_destroy(&frame);
    else
        zmsg_append(message, &frame);
    *message_p = message;
    return (int)verdict;
}

int cmn_router_send(zsock_t *router, zmsg_t **message_p)
{
    assert(router && message_p && *message_p);
    void *socket = zsock_resolve(router);
    zmsg_t *message = *message_p;
    size_t count = zmsg_size(message);
    int result = 0;
    int error = 0;
    size_t index = 0;
    for (zframe_t *frame = zmsg_first(message); frame;
         frame = zmsg_next(message), index++) {
        int flags = ZMQ_DONTWAIT | (index + 1 < count ? ZMQ_SNDMORE : 0);
        /* Only the first frame can fail for a full or unknown peer; later
         * frames of an accepted message always go. */
        if (zmq_send(socket, zframe_data(frame), zframe_size(frame), flags) <
            0) {
            result = -1;
            error = zmq_errno();
            break;
        }
    }
    zmsg_destroy(message_p);
    if (result != 0)
        errno = error;
    return result;
}
