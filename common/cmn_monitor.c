/* cmn_monitor: a socket monitor read by an actor that counts disconnects.
 *
 * libzmq publishes monitor events on an inproc PAIR it binds; the actor
 * connects a PAIR to it before cmn_monitor_new returns, so no event of the
 * socket's life is missed. Each event is two frames: 6 bytes (uint16 event,
 * uint32 value) and the endpoint. */
#include "cmn_monitor.h"
#include "cmn_log.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CMN_MONITOR_ENDPOINT_BYTES 64 /* "inproc://cmn-monitor-N" */
#define CMN_MONITOR_EVENT_BYTES 6     /* uint16 event + uint32 value */

struct _cmn_monitor_t {
    zactor_t *actor; /* reads the monitor */
};

typedef struct {
    const char *endpoint;      /* the monitor's inproc endpoint */
    cmn_series_t *disconnects; /* counted here */
} s_args_t;

static atomic_uint s_monitor_counter;

/* Reads one event. Returns false once the monitor has stopped (the watched
 * socket was closed). */
static bool s_event(zsock_t *monitor, cmn_series_t *disconnects)
{
    zmsg_t *message = zmsg_recv(monitor);
    if (!message)
        return false;
    zframe_t *header = zmsg_first(message);
    bool running = true;
    if (header && zframe_size(header) == CMN_MONITOR_EVENT_BYTES) {
        uint16_t event;
        memcpy(&event, zframe_data(header), sizeof event);
        if (event == ZMQ_EVENT_DISCONNECTED)
            cmn_series_inc(disconnects);
        running = event != ZMQ_EVENT_MONITOR_STOPPED;
    }
    zmsg_destroy(&message);
    return running;
}

static void s_actor(zsock_t *pipe, void *arg)
{
    const s_args_t *args = arg;
    cmn_series_t *disconnects = args->disconnects;
    zsock_t *monitor = zsock_new(ZMQ_PAIR);
    if (!monitor || zsock_connect(monitor, "%s", args->endpoint) != 0) {
        zsock_destroy(&monitor);
        zsock_signal(pipe, 1);
        return;
    }
    zpoller_t *poller = zpoller_new(pipe, monitor, NULL);
    zsock_signal(pipe, poller ? 0 : 1);
    bool watching = poller != NULL;
    while (poller) {
        void *which = zpoller_wait(poller, -1);
        if (which == pipe || (!which && zpoller_terminated(poller))) {
            break; /* $TERM (or the context ends) */
        }
        if (which == monitor && watching && !s_event(monitor, disconnects)) {
            watching = false; /* the socket closed: wait for $TERM */
            zpoller_remove(poller, monitor);
        }
    }
    zpoller_destroy(&poller);
    zsock_destroy(&monitor);
}

cmn_monitor_t *cmn_monitor_new(zsock_t *socket, const char *name,
                               cmn_series_t *disconnects)
{
    assert(socket && name && disconnects);
    char endpoint[CMN_MONITOR_ENDPOINT_BYTES];
    snprintf(endpoint, sizeof endpoint, "inproc://cmn-monitor-%u",
             atomic_fetch_add(&s_monitor_counter, 1));
    if (zmq_socket_monitor(zsock_resolve(socket), endpoint,
                           ZMQ_EVENT_DISCONNECTED) != 0) {
        cmn_log_error("monitor", "start_failed", "socket=%s error=\"%s\"", name,
                      zmq_strerror(zmq_errno()));
        return NULL;
    }
    cmn_monitor_t *self = calloc(1, sizeof *self);
    s_args_t args = {.endpoint = endpoint, .disconnects = disconnects};
    if (self)
        self->actor = zactor_new(s_actor, &args); /* waits for the signal */
    if (!self || !self->actor) {
        zmq_socket_monitor(zsock_resolve(socket), NULL, 0);
        free(self);
        cmn_log_error("monitor", "start_failed", "socket=%s reason=actor",
                      name);
        return NULL;
    }
    return self;
}

void cmn_monitor_destroy(cmn_monitor_t **self_p)
{
    assert(self_p);
    cmn_monitor_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy(&self->actor);
    free(self);
    *self_p = NULL;
}
