/* pl_sender: the actor that delivers records to the coordinators (a shell
 * around pl_window).
 *
 * One DEALER per coordinator address (a link), not one DEALER connected to
 * all: libzmq round-robins a multi-connected DEALER blindly, so a hung or
 * HARD coordinator kept getting its share (issue 11: 20,700 -> 359 rows/s
 * with one of two SIGSTOPped). With a socket each, the engine knows which
 * coordinator had which batch and what credit each grants, and chooses
 * where each batch goes. (A ROUTER with known peer identities would do
 * too, but needs the peers' routing ids, which coordinators do not send.)
 * Each link has a monitor: HANDSHAKE_SUCCEEDED = the coordinator answers
 * (connected), DISCONNECTED, and CONNECT_RETRIED = refused (nothing
 * listens: pl_window_unreachable). ZMTP heartbeats (PL_SEND_HEARTBEAT_*)
 * turn a hung peer (SIGSTOPped: TCP up, no process) into a disconnect
 * within a few seconds. Links follow pl_endpoints (links mode): an
 * address DNS no longer gives is removed with its labelled series.
 *
 * Invariant: every record the producer handed over is in exactly one of
 * four places until it is acked (or refused as malformed): the chunk being
 * read (`chunk`), the records of a split batch not yet filled again
 * (`returned`), the open batch (`records`, counted by the window), or a
 * window slot (`buffers[slot]`, encoded). */
#include "pl_sender.h"

#include <string.h>

#include "cmn_curve.h"
#include "cmn_json.h"
#include "cmn_log.h"
#include "pl_feedback.h"
#include "pl_window.h"
#include <mdbp/ingest.h>

#define PL_SEND_MODULE "sender"
/* Pause between attempts while no coordinator is connected. */
#define PL_SEND_RETRY_NS (100 * CMN_NS_PER_MS)
/* Used when a nack says retry_after_ms = 0. */
#define PL_SEND_NACK_RETRY_NS (100 * CMN_NS_PER_MS)
#define PL_SEND_STATUS_NS (250 * CMN_NS_PER_MS)
/* Resolution again this soon while no store address is connected. */
#define PL_SEND_RESOLVE_RETRY_NS CMN_NS_PER_SEC
#define PL_SEND_RECONNECT_MS 100
#define PL_SEND_RECONNECT_MAX_MS 1000
#define PL_SEND_DATA_HWM 2
/* ZMTP heartbeats: a PING this often; no traffic for the timeout drops
 * the connection (a SIGSTOPped coordinator). The TTL asks the peer to do
 * the same. The handshake of a reconnect to a hung peer gives up too. */
#define PL_SEND_HEARTBEAT_IVL_MS 250
#define PL_SEND_HEARTBEAT_TIMEOUT_MS 1000
#define PL_SEND_HEARTBEAT_TTL_MS 3000
#define PL_SEND_HANDSHAKE_IVL_MS 3000
/* While no coordinator answers: a warning this often. */
#define PL_SEND_NONE_WARN_NS (10 * CMN_NS_PER_SEC)
/* Room for one connected address, with its NUL. */
#define PL_SEND_ADDRESS_MAX 256
/* zmq monitor event frame: uint16 event + uint32 value. */
#define PL_SEND_MONITOR_EVENT_BYTES 6
/* "inproc://pl-sender-monitor-" and a pointer, with the NUL. */
#define PL_SEND_MONITOR_ENDPOINT_MAX 64

typedef struct _s_self_t s_self_t;

/* One coordinator address: its own DEALER and monitor. */
typedef struct s_link_t_ {
    s_self_t *owner;
    char address[PL_SEND_ADDRESS_MAX];
    int id;    /* the window's coordinator id */
    bool dead; /* removed: freed at the next resolution, ignore events */
    zsock_t *dealer;
    zsock_t *monitor; /* PAIR: the dealer's connection events */
    cmn_series_t *up, *credit, *unacked; /* {address}, removed with it */
    struct s_link_t_ *next_dead;         /* the removed, to free */
} s_link_t;

struct _s_self_t {
    pl_sender_config_t config;
    char *endpoints, *producer_id, *data_endpoint,
        *limits_endpoint; /* owned copies */
    zsock_t *pipe;
    zloop_t *loop;
    int timer;                 /* zloop timer id, -1: none */
    bool reading;              /* the data socket is in the loop */
    zsock_t *data;             /* PULL from the producer */
    zsock_t *limits;           /* PULL: feedback limits from the subscriber */
    pl_endpoints_t *addresses; /* the links, kept with DNS */
    s_link_t *links[PL_WINDOW_COORDINATORS_MAX]; /* by window id */
    s_link_t *dead_links; /* removed, freed at the next resolution */
    char link_failure[PL_ENDPOINTS_ERROR_MAX]; /* first link not made */
    int64_t none_since_ns;     /* no coordinator connected since (0: one is) */
    int64_t next_none_warn_ns; /* the next "no coordinator" warning */
    int64_t next_resolve_ns;
    pl_window_t *window;
    mdbp_buffer_t *buffers; /* encoded batch per slot, kept to resend */
    size_t buffer_count;      /* pl_window_slot_count */
    mdbp_record_t *records;   /* the open batch */
    mdbp_record_t *returned;  /* split batches' records, to fill again */
    size_t returned_count, returned_offset;
    size_t returned_capacity; /* records; grows, bounded by the window */
    zmq_msg_t chunk;          /* records received, not yet batched */
    bool has_chunk;
    size_t chunk_offset; /* records of the chunk already batched */
    int64_t next_status_ns;
    /* series, looked up once */
    cmn_series_t *sent, *resent, *acked, *written, *duplicate, *dead, *rejected,
        *batches_sent, *batches_acked, *late, *window_batches, *window_records,
        *ack_latency, *connected;
    cmn_series_t *foreign, *split, *deferred, *credit, *moved;
    /* This sender's class (ingest.md 4.5): its own series. The unlabelled
     * window gauges are sums over the pipeline's senders (each adds its
     * change); credit and the per-coordinator gauges are the primary's. */
    cmn_series_t *class_sent, *class_acked, *class_latency, *class_window,
        *class_credit;
    double window_batches_mine, window_records_mine; /* in the sums */
    uint64_t deferred_counted; /* of the window's deferred counter */
    uint64_t moved_counted;    /* of the window's records_moved */
    cmn_series_t *resent_by_cause[PL_WINDOW_CAUSE_COUNT];
    cmn_series_t *nacks_by_reason[MDBP_NACK_REASON_COUNT];
};

static void s_self_run(s_self_t *self);
static void s_resolve(s_self_t *self, int64_t now);

static int64_t s_now(s_self_t *self)
{
    return cmn_clock_mono_ns(self->config.clock);
}

/* Sets a gauge this sender owns; NULL: the primary sender's (another
 * class's sender writes it). */
static void s_set(cmn_series_t *series, double value)
{
    if (series)
        cmn_series_set(series, value);
}

/* Moves this sender's part of a gauge summed over the senders. */
static void s_set_part(cmn_series_t *series, double *mine, double value)
{
    if (!series)
        return; /* not looked up yet */
    cmn_series_gauge_add(series, value - *mine);
    *mine = value;
}

static void s_update_window(s_self_t *self, int64_t now)
{
    double records = (double)pl_window_unacked_records(self->window);
    s_set_part(self->window_batches, &self->window_batches_mine,
               (double)pl_window_used(self->window));
    s_set_part(self->window_records, &self->window_records_mine, records);
    cmn_series_set(self->class_window, records);
    for (int id = 0; id < PL_WINDOW_COORDINATORS_MAX; id++) {
        s_link_t *link = self->links[id];
        if (!link || !link->up)
            continue;
        pl_window_coordinator_view_t view;
        pl_window_coordinator(self->window, id, now, &view);
        cmn_series_set(link->up, view.connected ? 1 : 0);
        cmn_series_set(link->credit,
                       view.credit == SIZE_MAX ? -1 : (double)view.credit);
        cmn_series_set(link->unacked, (double)view.unacked_records);
    }
}

/* Moves records from the received chunk into the open batch while it has
 * room. Returns true when the chunk is used up. */
static bool s_take_chunk(s_self_t *self, int64_t now)
{
    const mdbp_record_t *records = zmq_msg_data(&self->chunk);
    size_t total = zmq_msg_size(&self->chunk) / sizeof(mdbp_record_t);
    size_t room = pl_window_room(self->window);
    size_t left = total - self->chunk_offset;
    size_t take = left < room ? left : room;
    if (take > 0) {
        memcpy(self->records + pl_window_open_records(self->window),
               records + self->chunk_offset, take * sizeof(mdbp_record_t));
        pl_window_fill(self->window, take, now);
        self->chunk_offset += take;
    }
    if (self->chunk_offset < total)
        return false;
    zmq_msg_close(&self->chunk);
    self->has_chunk = false;
    return true;
}

/* Receives one chunk. Returns false when none is waiting. */
static bool s_receive_chunk(s_self_t *self)
{
    zmq_msg_init(&self->chunk);
    if (zmq_msg_recv(&self->chunk, zsock_resolve(self->data), ZMQ_DONTWAIT) <
        0) {
        zmq_msg_close(&self->chunk);
        return false;
    }
    if (zmq_msg_size(&self->chunk) % sizeof(mdbp_record_t) != 0) {
        /* Cannot happen between our own threads: a bug, loudly. */
        cmn_log_error(PL_SEND_MODULE, "bad_chunk", "bytes=%zu",
                      zmq_msg_size(&self->chunk));
        zmq_msg_close(&self->chunk);
        return true;
    }
    self->has_chunk = true;
    self->chunk_offset = 0;
    return true;
}

static void s_seal(s_self_t *self, const pl_window_action_t *action)
{
    mdbp_buffer_t *buffer = &self->buffers[action->slot];
    mdbp_buffer_reset(buffer);
    mdbp_batch_t header = {.session = self->config.session,
                           .batch_seq = action->batch_seq,
                           .priority = self->config.priority,
                           .weight = self->config.weight};
    snprintf(header.producer_id, sizeof header.producer_id, "%s",
             self->producer_id);
    if (mdbp_batch_encode_header(&header, self->records, action->records,
                                 buffer) != 0) {
        cmn_log_error(PL_SEND_MODULE, "encode_failed",
                      "batch_seq=%llu records=%zu",
                      (unsigned long long)action->batch_seq, action->records);
        cmn_series_add(self->rejected, action->records);
        pl_window_drop(self->window, action->slot);
    }
    /* What the credit or the capacity cut off stays open, at the front. */
    size_t left = pl_window_open_records(self->window);
    if (left > 0)
        memmove(self->records, self->records + action->records,
                left * sizeof *self->records);
}

/* Fills the open batch from a split batch's records first. */
static void s_take_returned(s_self_t *self, int64_t now)
{
    size_t left = self->returned_count - self->returned_offset;
    size_t room = pl_window_room(self->window);
    size_t take = left < room ? left : room;
    memcpy(self->records + pl_window_open_records(self->window),
           self->returned + self->returned_offset,
           take * sizeof *self->records);
    pl_window_fill(self->window, take, now);
    self->returned_offset += take;
    if (self->returned_offset == self->returned_count)
        self->returned_count = self->returned_offset = 0;
    pl_window_return(self->window,
                     self->returned_count - self->returned_offset);
}

/* A batch over the queue capacity: its records come back from its slot. */
static void s_split(s_self_t *self, const pl_window_outcome_t *outcome,
                    uint64_t batch_seq)
{
    mdbp_buffer_t *buffer = &self->buffers[outcome->slot];
    /* Earlier splits' records not filled yet stay first, in order. */
    size_t left = self->returned_count - self->returned_offset;
    memmove(self->returned, self->returned + self->returned_offset,
            left * sizeof *self->returned);
    self->returned_offset = 0;
    self->returned_count = left;
    size_t need = left + self->config.batch_records;
    if (need > self->returned_capacity) {
        /* At most the window's records: they were in its slots. */
        mdbp_record_t *grown =
            realloc(self->returned, need * sizeof *self->returned);
        if (!grown) {
            cmn_log_error(PL_SEND_MODULE, "split_failed",
                          "batch_seq=%llu error=\"out of memory\"",
                          (unsigned long long)batch_seq);
            cmn_series_add(self->rejected, outcome->records);
            pl_window_return(self->window, left);
            return;
        }
        self->returned = grown;
        self->returned_capacity = need;
    }
    mdbp_batch_t batch;
    mdbp_error_t error;
    if (mdbp_batch_decode(buffer->data, buffer->size, &batch,
                          self->returned + left, self->config.batch_records,
                          &error) != 0 ||
        batch.count != outcome->records) {
        /* Our own encoding: cannot happen, loudly. */
        cmn_log_error(PL_SEND_MODULE, "split_failed",
                      "batch_seq=%llu error=\"%s\"",
                      (unsigned long long)batch_seq, error.text);
        cmn_series_add(self->rejected, outcome->records);
        pl_window_return(self->window, left);
        return;
    }
    self->returned_count = left + batch.count;
    pl_window_return(self->window, self->returned_count);
    cmn_series_inc(self->split);
    cmn_log_warning(PL_SEND_MODULE, "batch_split",
                    "batch_seq=%llu records=%zu batch_limit=%zu",
                    (unsigned long long)batch_seq, outcome->records,
                    pl_window_batch_limit(self->window));
}

static void s_send(s_self_t *self, const pl_window_action_t *action,
                   int64_t now)
{
    mdbp_buffer_t *buffer = &self->buffers[action->slot];
    s_link_t *link = self->links[action->coordinator];
    assert(link);
    bool sent = zmq_send(zsock_resolve(link->dealer), buffer->data,
                         buffer->size, ZMQ_DONTWAIT) >= 0;
    pl_window_sent(self->window, action, sent, now);
    if (!sent)
        return;
    if (action->attempts == 0) {
        cmn_series_add(self->sent, action->records);
        cmn_series_add(self->class_sent, action->records);
        cmn_series_inc(self->batches_sent);
    } else {
        cmn_series_add(self->resent, action->records);
        cmn_series_inc(self->resent_by_cause[action->cause]);
    }
}

/* At the end of a flush: the records handed over but never put in a
 * batch (the chunk being read, chunks still queued), counted and
 * discarded. The producer has stopped: the queue is finite. */
static uint64_t s_drain(s_self_t *self)
{
    uint64_t records = 0;
    for (;;) {
        if (self->has_chunk) {
            records += zmq_msg_size(&self->chunk) / sizeof(mdbp_record_t) -
                       self->chunk_offset;
            zmq_msg_close(&self->chunk);
            self->has_chunk = false;
        }
        if (!s_receive_chunk(self))
            return records;
    }
}

/* Does every action the window has now. */
static void s_act(s_self_t *self, int64_t now, bool input_pending)
{
    pl_window_action_t action;
    while (pl_window_next(self->window, now, input_pending, &action)) {
        switch (action.kind) {
        case PL_WINDOW_SEAL:
            s_seal(self, &action);
            break;
        case PL_WINDOW_SEND:
            s_send(self, &action, now);
            break;
        case PL_WINDOW_TIMED_OUT:
            cmn_log_warning(
                PL_SEND_MODULE, "ack_timeout", "batch_seq=%llu attempts=%u",
                (unsigned long long)action.batch_seq, action.attempts);
            break;
        case PL_WINDOW_FLUSHED: {
            /* The numbers go to main's one shutdown report (issue 15). */
            pl_sender_report_t report = {.input_never_sent = s_drain(self)};
            pl_window_loss(self->window, &report.window);
            report.counters = *pl_window_counters(self->window);
            cmn_log_info(PL_SEND_MODULE, "flush_ended", "held_records=%zu",
                         action.records);
            zsock_send(self->pipe, "s88b", PL_SENDER_FLUSHED,
                       (uint64_t)action.records, (uint64_t)0, &report,
                       sizeof report);
            break;
        }
        }
    }
    s_update_window(self, now);
}

static void s_on_reply(s_self_t *self, s_link_t *link, int64_t now)
{
    zmsg_t *message = zmsg_recv(link->dealer);
    if (!message)
        return;
    zframe_t *frame = zmsg_last(message); /* after any envelope */
    mdbp_reply_t reply;
    mdbp_error_t error;
    if (!frame || mdbp_reply_decode(zframe_data(frame), zframe_size(frame),
                                    &reply, &error) != 0) {
        cmn_log_warning(PL_SEND_MODULE, "bad_reply", "error=\"%s\"",
                        frame ? error.text : "empty");
        zmsg_destroy(&message);
        return;
    }
    zmsg_destroy(&message);
    pl_window_outcome_t outcome;
    pl_window_reply_t result =
        pl_window_reply(self->window, link->id, &reply, now, &outcome);
    size_t credit = pl_window_credit(self->window);
    double gauge = credit == SIZE_MAX ? -1 : (double)credit; /* -1: none */
    s_set(self->credit, gauge);
    cmn_series_set(self->class_credit, gauge);
    switch (result) {
    case PL_WINDOW_FOREIGN:
        cmn_series_inc(self->foreign);
        cmn_log_debug(PL_SEND_MODULE, "foreign_reply",
                      "batch_seq=%llu session=%llu",
                      (unsigned long long)reply.batch_seq,
                      (unsigned long long)reply.session);
        return;
    case PL_WINDOW_LATE:
        cmn_series_inc(self->late);
        return;
    case PL_WINDOW_ACKED:
        cmn_series_add(self->acked, outcome.records);
        cmn_series_add(self->class_acked, outcome.records);
        cmn_series_add(self->written, reply.written);
        cmn_series_add(self->duplicate, reply.duplicates);
        cmn_series_add(self->dead, reply.dead_lettered);
        cmn_series_inc(self->batches_acked);
        cmn_series_observe(self->ack_latency,
                           (double)outcome.latency_ns / (double)CMN_NS_PER_SEC);
        cmn_series_observe(self->class_latency,
                           (double)outcome.latency_ns / (double)CMN_NS_PER_SEC);
        return;
    case PL_WINDOW_REJECTED:
        cmn_series_inc(self->nacks_by_reason[reply.reason]);
        cmn_log_error(PL_SEND_MODULE, "batch_rejected",
                      "batch_seq=%llu records=%zu detail=\"%s\"",
                      (unsigned long long)reply.batch_seq, outcome.records,
                      reply.detail);
        cmn_series_add(self->rejected, outcome.records);
        return;
    case PL_WINDOW_SPLIT:
        cmn_series_inc(self->nacks_by_reason[reply.reason]);
        s_split(self, &outcome, reply.batch_seq);
        return;
    case PL_WINDOW_BACKOFF:
        cmn_series_inc(self->nacks_by_reason[reply.reason]);
        if (reply.reason == MDBP_NACK_DRAINING)
            cmn_log_info(PL_SEND_MODULE, "coordinator_going_away", "address=%s",
                         link->address);
        cmn_log_debug(PL_SEND_MODULE, "nack",
                      "batch_seq=%llu reason=%s retry_after_ms=%u address=%s",
                      (unsigned long long)reply.batch_seq,
                      mdbp_nack_reason_name(reply.reason), reply.retry_after_ms,
                      link->address);
        return;
    }
}

static int s_self_handle_dealer(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    (void)reader;
    s_link_t *link = arg;
    if (link->dead)
        return 0; /* removed during this loop turn */
    s_self_t *self = link->owner;
    int64_t now = s_now(self);
    /* Replies in bulk, without waiting. */
    while (zsock_events(link->dealer) & ZMQ_POLLIN)
        s_on_reply(self, link, now);
    s_self_run(self);
    return 0;
}

/* The link's connection state changed: CONNECTED here is the ZMTP
 * handshake (a coordinator answers), not the TCP connect (a SIGSTOPped
 * process still accepts TCP). */
static void s_link_event(s_self_t *self, s_link_t *link, uint16_t event,
                         int64_t now)
{
    pl_window_coordinator_view_t view;
    pl_window_coordinator(self->window, link->id, now, &view);
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        pl_window_connected(self->window, link->id, now);
        cmn_log_info(PL_SEND_MODULE, "connected", "address=%s connections=%d",
                     link->address, pl_window_connections(self->window));
    } else if (event == ZMQ_EVENT_DISCONNECTED && view.connected) {
        pl_window_disconnected(self->window, link->id, now);
        cmn_log_warning(PL_SEND_MODULE, "disconnected",
                        "address=%s connections=%d unacked_records=%zu",
                        link->address, pl_window_connections(self->window),
                        view.unacked_records);
    } else if (event == ZMQ_EVENT_CONNECT_RETRIED && view.unacked_batches) {
        pl_window_unreachable(self->window, link->id, now);
        cmn_log_warning(PL_SEND_MODULE, "unreachable",
                        "address=%s resent_elsewhere_records=%zu",
                        link->address, view.unacked_records);
    }
    s_set(self->connected, pl_window_connections(self->window));
}

static int s_self_handle_monitor(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_link_t *link = arg;
    if (link->dead)
        return 0; /* removed during this loop turn */
    s_self_t *self = link->owner;
    zmsg_t *message = zmsg_recv(reader);
    if (!message)
        return 0;
    zframe_t *frame = zmsg_first(message);
    if (frame && zframe_size(frame) >= PL_SEND_MONITOR_EVENT_BYTES) {
        uint16_t event;
        memcpy(&event, zframe_data(frame), sizeof event);
        s_link_event(self, link, event, s_now(self));
    }
    zmsg_destroy(&message);
    s_self_run(self);
    return 0;
}

/* New limits from the subscriber's feedback (capacity, credit_initial,
 * whether the coordinators are heard). */
static int s_self_handle_limits(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_self_t *self = arg;
    size_t size = 0;
    pl_feedback_limits_t limits;
    if (pl_actor_recv_struct(reader, &limits, sizeof limits, &size) != 0) {
        cmn_log_error(PL_SEND_MODULE, "bad_limits", "bytes=%zu", size);
        return 0;
    }
    bool critical = self->config.priority == MDBP_PRIORITY_CRITICAL;
    pl_window_limits_t window = {
        .capacity = limits.capacity,
        .has_credit_initial = critical ? limits.has_credit_initial_critical
                                       : limits.has_credit_initial,
        .credit_initial = critical ? limits.credit_initial_critical
                                   : limits.credit_initial,
        .alive = limits.alive};
    pl_window_set_limits(self->window, &window, s_now(self));
    s_self_run(self);
    return 0;
}

static int s_self_handle_data(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    (void)reader;
    s_self_run(arg); /* reads while there is room */
    return 0;
}

static int s_self_handle_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_self_t *self = arg;
    self->timer = -1; /* one-shot */
    s_self_run(self);
    return 0;
}

static int s_self_handle_pipe(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_self_t *self = arg;
    char *command = NULL;
    uint64_t deadline_ms = 0;
    if (zsock_recv(reader, "s8", &command, &deadline_ms) != 0 || !command ||
        streq(command, "$TERM")) {
        zstr_free(&command);
        return -1; /* ends the loop */
    }
    int64_t now = s_now(self);
    if (streq(command, PL_SENDER_FLUSH))
        pl_window_flush(self->window,
                        now + (int64_t)deadline_ms * CMN_NS_PER_MS);
    else if (streq(command, PL_SENDER_NOW))
        pl_window_hurry(self->window, now);
    else
        cmn_log_error(PL_SEND_MODULE, "bad_command", "command=%s", command);
    zstr_free(&command);
    s_self_run(self);
    return 0;
}

static void s_publish_status(s_self_t *self, int64_t now)
{
    const pl_window_counters_t *counters = pl_window_counters(self->window);
    cmn_json_t *json = cmn_json_new();
    cmn_json_object_begin(json, NULL);
    cmn_json_string(json, "endpoints", self->endpoints);
    cmn_json_string(json, "producer_id", self->producer_id);
    cmn_json_string(json, "priority",
                    mdbp_priority_name(self->config.priority));
    int connections = pl_window_connections(self->window);
    cmn_json_int(json, "connections", connections);
    /* Nothing answers: say so (the pipeline holds its records). */
    cmn_json_bool(json, "store_answering", connections > 0);
    if (connections == 0)
        cmn_json_string(json, "warning", "no coordinator answers");
    cmn_json_uint(json, "unacked_batches", pl_window_used(self->window));
    cmn_json_uint(json, "unacked_records",
                  pl_window_unacked_records(self->window));
    cmn_json_uint(json, "window", self->config.window);
    cmn_json_uint(json, "next_batch_seq", pl_window_next_seq(self->window));
    cmn_json_uint(json, "records_sent", counters->records_sent);
    cmn_json_uint(json, "records_resent", counters->records_resent);
    cmn_json_uint(json, "records_acked", counters->records_acked);
    cmn_json_uint(json, "session", self->config.session);
    size_t credit = pl_window_credit(self->window);
    /* -1: no credit in force (a v1 coordinator): the window alone. */
    cmn_json_int(json, "credit", credit == SIZE_MAX ? -1 : (int64_t)credit);
    cmn_json_uint(json, "batch_limit", pl_window_batch_limit(self->window));
    cmn_json_uint(json, "batches_split", counters->splits);
    cmn_json_uint(json, "foreign_replies", counters->foreign);
    cmn_json_uint(json, "ack_timeouts_deferred", counters->deferred);
    int64_t backoff = pl_window_backoff_until(self->window) - now;
    cmn_json_double(json, "backoff_seconds",
                    backoff > 0 ? (double)backoff / (double)CMN_NS_PER_SEC
                                : 0.0);
    cmn_json_uint(json, "records_moved", counters->records_moved);
    cmn_json_array_begin(json, "coordinators");
    for (int id = 0; id < PL_WINDOW_COORDINATORS_MAX; id++) {
        const s_link_t *link = self->links[id];
        if (!link)
            continue;
        pl_window_coordinator_view_t view;
        pl_window_coordinator(self->window, id, now, &view);
        cmn_json_object_begin(json, NULL);
        cmn_json_string(json, "address", link->address);
        cmn_json_bool(json, "connected", view.connected);
        cmn_json_bool(json, "going_away", view.going_away);
        cmn_json_int(json, "credit",
                     view.credit == SIZE_MAX ? -1 : (int64_t)view.credit);
        cmn_json_uint(json, "unacked_records", view.unacked_records);
        int64_t wait = view.backoff_until_ns - now;
        cmn_json_double(json, "backoff_seconds",
                        wait > 0 ? (double)wait / (double)CMN_NS_PER_SEC : 0.0);
        cmn_json_object_end(json);
    }
    cmn_json_array_end(json);
    cmn_json_object_end(json);
    pl_status_publish_sender(self->config.status, self->config.priority,
                             cmn_json_text(json));
    cmn_json_destroy(&json);
    self->next_status_ns = now + PL_SEND_STATUS_NS;
}

/* While no coordinator answers, a warning every PL_SEND_NONE_WARN_NS
 * (the first after that long: start-up connects in milliseconds). */
static void s_warn_if_none(s_self_t *self, int64_t now)
{
    if (pl_window_connections(self->window) > 0) {
        self->none_since_ns = 0;
        return;
    }
    if (!self->none_since_ns) {
        self->none_since_ns = now;
        self->next_none_warn_ns = now + PL_SEND_NONE_WARN_NS;
        return;
    }
    if (now < self->next_none_warn_ns)
        return;
    self->next_none_warn_ns = now + PL_SEND_NONE_WARN_NS;
    cmn_log_warning(PL_SEND_MODULE, "no_coordinator",
                    "seconds=%.0f endpoints=\"%s\" unacked_records=%zu "
                    "open_records=%zu",
                    (double)(now - self->none_since_ns) /
                        (double)CMN_NS_PER_SEC,
                    self->endpoints, pl_window_unacked_records(self->window),
                    pl_window_open_records(self->window));
}

/* A flush waits for the records not yet in the open batch: the chunk being
 * read, and chunks still queued on the data socket. */
static bool s_input_pending(s_self_t *self)
{
    return self->has_chunk || self->returned_count > 0 ||
           (pl_window_flushing(self->window) &&
            (zsock_events(self->data) & ZMQ_POLLIN));
}

/* After every event: takes records while the open batch has room, does
 * what the window says, reads the data socket only while that makes
 * progress, and arms the one timer at the window's next deadline. */
static void s_self_run(s_self_t *self)
{
    int64_t now = s_now(self);
    while (true) {
        s_act(self, now, s_input_pending(self));
        if (pl_window_room(self->window) == 0)
            break; /* a full batch and no free slot: wait for an ack */
        if (self->returned_count > 0) {
            s_take_returned(self, now); /* a split batch's records first */
            continue;
        }
        if (!self->has_chunk && !s_receive_chunk(self))
            break; /* nothing waiting */
        if (self->has_chunk)
            s_take_chunk(self, now);
    }
    const pl_window_counters_t *counters = pl_window_counters(self->window);
    if (counters->deferred != self->deferred_counted) {
        cmn_series_add(self->deferred,
                       counters->deferred - self->deferred_counted);
        self->deferred_counted = counters->deferred;
    }
    if (counters->records_moved != self->moved_counted) {
        cmn_series_add(self->moved,
                       counters->records_moved - self->moved_counted);
        self->moved_counted = counters->records_moved;
    }
    s_warn_if_none(self, now);
    bool room = !self->has_chunk && self->returned_count == 0 &&
                pl_window_room(self->window) > 0;
    if (room && !self->reading)
        zloop_reader(self->loop, self->data, s_self_handle_data, self);
    else if (!room && self->reading)
        zloop_reader_end(self->loop, self->data);
    self->reading = room;
    if (now >= self->next_status_ns)
        s_publish_status(self, now);
    if (now >= self->next_resolve_ns)
        s_resolve(self, now);
    int64_t deadline = pl_window_deadline(self->window, now);
    if (self->next_status_ns < deadline)
        deadline = self->next_status_ns;
    if (self->next_resolve_ns < deadline)
        deadline = self->next_resolve_ns;
    if (self->none_since_ns && self->next_none_warn_ns < deadline)
        deadline = self->next_none_warn_ns;
    if (self->timer >= 0)
        zloop_timer_end(self->loop, self->timer);
    self->timer = zloop_timer(self->loop, pl_actor_delay_ms(deadline, now), 1,
                              s_self_handle_timer, self);
}

static void s_link_destroy(s_self_t *self, s_link_t **link_p)
{
    s_link_t *link = *link_p;
    if (!link)
        return;
    if (self->loop && !link->dead) {
        if (link->dealer)
            zloop_reader_end(self->loop, link->dealer);
        if (link->monitor)
            zloop_reader_end(self->loop, link->monitor);
    }
    if (link->dealer)
        zmq_socket_monitor(zsock_resolve(link->dealer), NULL, 0);
    zsock_destroy(&link->monitor);
    zsock_destroy(&link->dealer);
    /* Its series go with it: a gone coordinator leaves no stale gauge. */
    cmn_series_remove(&link->up);
    cmn_series_remove(&link->credit);
    cmn_series_remove(&link->unacked);
    free(link);
    *link_p = NULL;
}

/* A DEALER for `address`, its monitor and its window coordinator.
 * Returns 0 or -1 (logged; link_failure says the first). */
static int s_link_add(s_self_t *self, const char *address)
{
    s_link_t *link = calloc(1, sizeof *link);
    const char *failed = NULL;
    if (!link)
        failed = "out of memory";
    else {
        link->owner = self;
        snprintf(link->address, sizeof link->address, "%s", address);
        link->id = -1;
        link->dealer = zsock_new(ZMQ_DEALER);
        link->monitor = zsock_new(ZMQ_PAIR);
        if (!link->dealer || !link->monitor)
            failed = "out of sockets";
    }
    char monitor[PL_SEND_MONITOR_ENDPOINT_MAX];
    if (!failed) {
        zsock_set_immediate(link->dealer, 1);
        zsock_set_linger(link->dealer, 0);
        zsock_set_reconnect_ivl(link->dealer, PL_SEND_RECONNECT_MS);
        zsock_set_reconnect_ivl_max(link->dealer, PL_SEND_RECONNECT_MAX_MS);
        zsock_set_sndhwm(link->dealer, (int)self->config.window * 2);
        zsock_set_heartbeat_ivl(link->dealer, PL_SEND_HEARTBEAT_IVL_MS);
        zsock_set_heartbeat_timeout(link->dealer, PL_SEND_HEARTBEAT_TIMEOUT_MS);
        zsock_set_heartbeat_ttl(link->dealer, PL_SEND_HEARTBEAT_TTL_MS);
        zsock_set_handshake_ivl(link->dealer, PL_SEND_HANDSHAKE_IVL_MS);
        snprintf(monitor, sizeof monitor, "inproc://pl-sender-monitor-%p",
                 (void *)link);
        if (self->config.curve_secret_key_file &&
            cmn_curve_client_apply(link->dealer,
                                   self->config.curve_secret_key_file,
                                   self->config.curve_server_key_file) != 0)
            failed = "cannot apply the CURVE keys"; /* before connect */
        else if (zmq_socket_monitor(zsock_resolve(link->dealer), monitor,
                                    ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                        ZMQ_EVENT_DISCONNECTED |
                                        ZMQ_EVENT_CONNECT_RETRIED) != 0 ||
                 zsock_connect(link->monitor, "%s", monitor) != 0)
            failed = "cannot monitor the store connection";
        else if (zsock_connect(link->dealer, "%s", address) != 0)
            failed = "cannot connect";
        else if ((link->id = pl_window_coordinator_add(self->window)) < 0)
            failed = "too many coordinators";
    }
    if (failed) {
        if (!self->link_failure[0])
            snprintf(self->link_failure, sizeof self->link_failure,
                     "%s to %.200s: %s", failed, address,
                     zmq_strerror(zmq_errno()));
        cmn_log_warning(PL_SEND_MODULE, "link_failed",
                        "address=%s error=\"%s: %s\"", address, failed,
                        zmq_strerror(zmq_errno()));
        if (link && link->id >= 0)
            pl_window_coordinator_remove(self->window, link->id, s_now(self));
        s_link_destroy(self, &link);
        return -1;
    }
    pl_metrics_t *m = self->config.metrics;
    if (self->config.primary) {
        link->up = cmn_metric_series(m->store_up, address, NULL);
        link->credit = cmn_metric_series(m->store_credit, address, NULL);
        link->unacked = cmn_metric_series(m->store_unacked, address, NULL);
    }
    self->links[link->id] = link;
    zloop_reader(self->loop, link->dealer, s_self_handle_dealer, link);
    zloop_reader(self->loop, link->monitor, s_self_handle_monitor, link);
    /* inproc has no connection events: it is there once connected. */
    if (strncmp(address, "inproc://", strlen("inproc://")) == 0)
        pl_window_connected(self->window, link->id, s_now(self));
    return 0;
}

static void s_link_remove(s_self_t *self, const char *address)
{
    for (int id = 0; id < PL_WINDOW_COORDINATORS_MAX; id++) {
        s_link_t *link = self->links[id];
        if (!link || strcmp(link->address, address) != 0)
            continue;
        pl_window_coordinator_remove(self->window, id, s_now(self));
        self->links[id] = NULL;
        /* Not freed now: this may run inside one of its own handlers, and
         * the loop may still hold its sockets' events of this turn. */
        zloop_reader_end(self->loop, link->dealer);
        zloop_reader_end(self->loop, link->monitor);
        link->dead = true;
        /* Its series go at once: a gone coordinator leaves no gauge. */
        cmn_series_remove(&link->up);
        cmn_series_remove(&link->credit);
        cmn_series_remove(&link->unacked);
        link->next_dead = self->dead_links;
        self->dead_links = link;
        s_set(self->connected, pl_window_connections(self->window));
        return;
    }
}

/* Frees the links removed at the previous resolution (no handler of
 * theirs can run any more). */
static void s_free_dead_links(s_self_t *self)
{
    while (self->dead_links) {
        s_link_t *link = self->dead_links;
        self->dead_links = link->next_dead;
        s_link_destroy(self, &link);
    }
}

/* pl_endpoints (links mode): an address appeared or vanished. */
static int s_on_address(const char *address, bool added, void *arg)
{
    s_self_t *self = arg;
    if (added)
        return s_link_add(self, address);
    s_link_remove(self, address);
    return 0;
}

/* Resolves the store endpoints again: new addresses get a link, vanished
 * ones lose theirs (and their batches go elsewhere). While none is
 * connected, sooner. */
static void s_resolve(s_self_t *self, int64_t now)
{
    s_free_dead_links(self);
    pl_endpoints_refresh(self->addresses);
    size_t connected = (size_t)pl_window_connections(self->window);
    self->next_resolve_ns = now + (connected > 0 ? self->config.resolve_ns
                                                 : PL_SEND_RESOLVE_RETRY_NS);
}

static void s_lookup_series(s_self_t *self)
{
    pl_metrics_t *m = self->config.metrics;
    self->sent = cmn_metric_series(m->records_sent, NULL);
    self->resent = cmn_metric_series(m->records_resent, NULL);
    self->acked = cmn_metric_series(m->records_acked, NULL);
    self->written = cmn_metric_series(m->records_written, NULL);
    self->duplicate = cmn_metric_series(m->records_duplicate, NULL);
    self->dead = cmn_metric_series(m->records_dead_lettered, NULL);
    self->rejected = cmn_metric_series(m->records_rejected, NULL);
    self->batches_sent = cmn_metric_series(m->batches_sent, NULL);
    self->batches_acked = cmn_metric_series(m->batches_acked, NULL);
    self->late = cmn_metric_series(m->late_replies, NULL);
    self->window_batches = cmn_metric_series(m->window_batches, NULL);
    self->window_records = cmn_metric_series(m->window_records, NULL);
    self->ack_latency = cmn_metric_series(m->ack_latency, NULL);
    if (self->config.primary)
        self->connected = cmn_metric_series(m->store_connected, NULL);
    self->foreign = cmn_metric_series(m->foreign_replies, NULL);
    self->split = cmn_metric_series(m->batches_split, NULL);
    self->deferred = cmn_metric_series(m->timeouts_deferred, NULL);
    if (self->config.primary)
        self->credit = cmn_metric_series(m->credit, NULL);
    self->moved = cmn_metric_series(m->records_moved, NULL);
    s_set(self->credit, -1);
    const char *priority = mdbp_priority_name(self->config.priority);
    self->class_sent = cmn_metric_series(m->class_records_sent, priority, NULL);
    self->class_acked =
        cmn_metric_series(m->class_records_acked, priority, NULL);
    self->class_latency =
        cmn_metric_series(m->class_ack_latency, priority, NULL);
    self->class_window =
        cmn_metric_series(m->class_window_records, priority, NULL);
    self->class_credit = cmn_metric_series(m->class_credit, priority, NULL);
    cmn_series_set(self->class_credit, -1);
    /* The resend causes (not "none") and every nack reason, visible
     * before their first event. */
    for (int cause = PL_WINDOW_CAUSE_TIMEOUT; cause < PL_WINDOW_CAUSE_COUNT;
         cause++)
        self->resent_by_cause[cause] = cmn_metric_series(
            m->batches_resent, pl_window_cause_name(cause), NULL);
    for (int reason = 0; reason < MDBP_NACK_REASON_COUNT; reason++)
        self->nacks_by_reason[reason] =
            cmn_metric_series(m->nacks, mdbp_nack_reason_name(reason), NULL);
}

static void s_self_destroy(s_self_t **self_p)
{
    s_self_t *self = *self_p;
    if (!self)
        return;
    for (int id = 0; id < PL_WINDOW_COORDINATORS_MAX; id++)
        s_link_destroy(self, &self->links[id]);
    s_free_dead_links(self);
    zloop_destroy(&self->loop);
    pl_endpoints_destroy(&self->addresses);
    if (self->has_chunk)
        zmq_msg_close(&self->chunk);
    zsock_destroy(&self->data);
    zsock_destroy(&self->limits);
    if (self->buffers)
        for (size_t k = 0; k < self->buffer_count; k++)
            mdbp_buffer_release(&self->buffers[k]);
    free(self->buffers);
    free(self->records);
    free(self->returned);
    /* What this sender added to the summed gauges goes with it. */
    s_set_part(self->window_batches, &self->window_batches_mine, 0);
    s_set_part(self->window_records, &self->window_records_mine, 0);
    pl_window_destroy(&self->window);
    free(self->endpoints);
    free(self->producer_id);
    free(self->data_endpoint);
    free(self->limits_endpoint);
    free(self);
    *self_p = NULL;
}

/* Builds the sockets and the engine in the actor's thread. Returns NULL
 * with the reason in `why` on failure. */
static s_self_t *s_self_new(zsock_t *pipe, const pl_sender_config_t *config,
                            char *why, size_t size)
{
    s_self_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(why, size, "out of memory");
        return NULL;
    }
    self->config = *config;
    self->pipe = pipe;
    self->timer = -1;
    self->endpoints = strdup(config->endpoints);
    self->producer_id = strdup(config->producer_id);
    self->data_endpoint = strdup(config->data_endpoint);
    self->limits_endpoint = strdup(config->limits_endpoint);
    pl_window_config_t window = {.slots = config->window,
                                 .batch_records = config->batch_records,
                                 .batch_ns = config->batch_ns,
                                 .ack_timeout_ns = config->ack_timeout_ns,
                                 .retry_ns = PL_SEND_RETRY_NS,
                                 .nack_retry_ns = PL_SEND_NACK_RETRY_NS,
                                 .session = config->session};
    self->window = pl_window_new(&window);
    self->loop = zloop_new();
    self->data = zsock_new(ZMQ_PULL);
    self->limits = zsock_new(ZMQ_PULL);
    self->returned = calloc(config->batch_records, sizeof *self->returned);
    self->returned_capacity = config->batch_records;
    self->buffer_count = self->window ? pl_window_slot_count(self->window) : 0;
    self->buffers = calloc(self->buffer_count ? self->buffer_count : 1,
                           sizeof *self->buffers);
    self->records = calloc(config->batch_records, sizeof *self->records);
    if (!self->endpoints || !self->producer_id || !self->data_endpoint ||
        !self->limits_endpoint || !self->window || !self->loop || !self->data ||
        !self->limits || !self->returned || !self->buffers || !self->records) {
        snprintf(why, size, "out of memory or sockets");
        s_self_destroy(&self);
        return NULL;
    }
    for (size_t k = 0; k < self->buffer_count; k++)
        mdbp_buffer_init(&self->buffers[k]);
    const char *failed = NULL;
    if (zsock_set_rcvhwm(self->data, PL_SEND_DATA_HWM),
        zsock_bind(self->data, "%s", self->data_endpoint) != 0)
        failed = "cannot bind the data endpoint";
    else if (zsock_bind(self->limits, "%s", self->limits_endpoint) != 0)
        failed = "cannot bind the limits endpoint";
    if (failed) {
        snprintf(why, size, "%s: %s", failed, zmq_strerror(zmq_errno()));
        s_self_destroy(&self);
        return NULL;
    }
    self->addresses = pl_endpoints_new_links(self->endpoints, config->resolve,
                                             config->resolve_arg, s_on_address,
                                             self, PL_SEND_MODULE);
    if (!self->addresses) {
        snprintf(why, size, "out of memory");
        s_self_destroy(&self);
        return NULL;
    }
    s_lookup_series(self); /* before the links: they set the gauges */
    s_resolve(self, s_now(self));
    if (self->link_failure[0]) {
        snprintf(why, size, "%s", self->link_failure);
        s_self_destroy(&self);
        return NULL;
    }
    zloop_set_nonstop(self->loop, true); /* signals are main's (sigwait) */
    zloop_reader(self->loop, pipe, s_self_handle_pipe, self);
    zloop_reader(self->loop, self->limits, s_self_handle_limits, self);
    return self;
}

static void s_actor(zsock_t *pipe, void *args)
{
    zsock_signal(pipe, 0); /* zactor_new() waits for it; the report follows */
    char why[PL_ACTOR_ERROR_MAX];
    s_self_t *self = s_self_new(pipe, args, why, sizeof why);
    pl_actor_report(pipe, self ? NULL : why);
    if (!self)
        return;
    s_self_run(self);
    zloop_start(self->loop);
    s_self_destroy(&self);
}

zactor_t *pl_sender_new(const pl_sender_config_t *config, char *error)
{
    assert(config && config->clock && config->endpoints &&
           config->producer_id && config->data_endpoint &&
           config->limits_endpoint && config->metrics && config->status);
    assert(config->batch_records > 0 && config->window > 0);
    /* `config` outlives s_self_new(): pl_actor_started() waits for it. */
    zactor_t *actor = zactor_new(s_actor, (void *)config);
    if (pl_actor_started(actor, error) != 0) {
        zactor_destroy(&actor);
        return NULL;
    }
    return actor;
}

void pl_sender_report_add(pl_sender_report_t *sum,
                          const pl_sender_report_t *part)
{
    assert(sum && part);
    sum->window.never_sent += part->window.never_sent;
    sum->window.maybe_stored += part->window.maybe_stored;
    sum->window.refused_full += part->window.refused_full;
    sum->window.refused_draining += part->window.refused_draining;
    sum->input_never_sent += part->input_never_sent;
    pl_window_counters_t *total = &sum->counters;
    const pl_window_counters_t *more = &part->counters;
    total->records_sent += more->records_sent;
    total->records_resent += more->records_resent;
    total->records_acked += more->records_acked;
    total->records_rejected += more->records_rejected;
    total->batches_sent += more->batches_sent;
    total->timeouts += more->timeouts;
    total->deferred += more->deferred;
    total->foreign += more->foreign;
    total->splits += more->splits;
    for (int code = 0; code <= MDBP_NACK_CODE_UNKNOWN; code++)
        total->rejected_by_code[code] += more->rejected_by_code[code];
    total->records_moved += more->records_moved;
}
