/* cmn_monitor: counts the connections a plaintext socket loses.
 *
 * libzmq closes a connection without telling the application when the peer
 * goes away, and also when the peer breaks a transport limit: a frame over
 * ZMQ_MAXMSGSIZE (8 MiB on the coordinator's ingest socket) is never
 * delivered, the connection is dropped and the peer gets no reply. Such a
 * peer is only visible in ZMQ_EVENT_DISCONNECTED on a socket monitor; this
 * module reads that monitor in an actor and counts each event in a series
 * (the metric's help says what a rise means). A socket has one monitor at
 * most: a CURVE-secured socket is watched by cmn_curve's guard instead, which
 * does not count disconnects (with ZMQ_EVENT_DISCONNECTED in the guard's
 * mask the allowed peer's first message was lost in about 1 run of 8 of
 * common/tests/test_curve.c: a libzmq interaction not understood yet). */
#ifndef CMN_MONITOR_H
#define CMN_MONITOR_H

#include <czmq.h>

#include "cmn_metrics.h"

/* The family both count into: <prefix>_socket_disconnects_total{socket}. */
#define CMN_MONITOR_DISCONNECTS_SUFFIX "_socket_disconnects_total"
#define CMN_MONITOR_DISCONNECTS_HELP                                           \
    "Connections the socket lost: a peer that went away, or one libzmq "       \
    "dropped for breaking a transport limit (a frame over ZMQ_MAXMSGSIZE), "   \
    "which gets no reply."

typedef struct _cmn_monitor_t cmn_monitor_t;

/* Starts counting the connections `socket` loses into `disconnects` (not
 * owned; the registry outlives the monitor). `name` labels the log line of a
 * failure. Call before the socket is handed to another thread. Returns NULL
 * (logged) when the monitor cannot start. Caller owns the result; destroy it
 * after the socket is closed. */
cmn_monitor_t *cmn_monitor_new(zsock_t *socket, const char *name,
                               cmn_series_t *disconnects);

/* Stops the monitor actor; tolerates NULL and sets *self_p to NULL. */
void cmn_monitor_destroy(cmn_monitor_t **self_p);

#endif
