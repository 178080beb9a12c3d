/* pl_sender: the actor that delivers records to the coordinators.
 *
 * Invariant: every record the producer handed over is in exactly one of
 * three places until it is acked (or refused as malformed): the chunk being
 * read (`chunk`), the batch being filled (`records`), or a window slot. */
#include "pl_sender.h"

#include <string.h>

#include "cmn_config.h"
#include "cmn_curve.h"
#include "cmn_json.h"
#include "cmn_log.h"
#include "proto_ingest.h"

#define PL_SEND_MODULE "sender"
#define PL_SEND_LIST_SEPARATORS ", "
#define PL_SEND_ENDPOINT_MAX 256
/* Pause between attempts while no coordinator is connected. */
#define PL_SEND_RETRY_NS (100 * CMN_NS_PER_MS)
/* Used when a nack says retry_after_ms = 0. */
#define PL_SEND_NACK_RETRY_NS (100 * CMN_NS_PER_MS)
/* The loop wakes at least this often (status, deadlines). */
#define PL_SEND_POLL_MAX_NS (100 * CMN_NS_PER_MS)
#define PL_SEND_STATUS_NS (250 * CMN_NS_PER_MS)
#define PL_SEND_RECONNECT_MS 100
#define PL_SEND_RECONNECT_MAX_MS 1000
#define PL_SEND_DATA_HWM 2
/* Ack timeouts double per resend of a batch, at most this many times. */
#define PL_SEND_ACK_BACKOFF_SHIFT_MAX 3
/* zmq monitor event frame: uint16 event + uint32 value. */
#define PL_SEND_MONITOR_EVENT_BYTES 6

typedef struct {
    bool used;
    uint64_t batch_seq;
    msgpack_sbuffer data;   /* the encoded batch, kept for resending */
    size_t count;           /* records */
    bool in_flight;         /* sent, reply awaited */
    int64_t sent_ns;        /* last send */
    int64_t due_ns;         /* in flight: timeout; else: next attempt */
    uint32_t attempts;      /* sends so far */
    uint32_t timeouts;      /* ack timeouts so far */
    const char *cause;      /* why the next send is a resend */
} s_slot_t;

typedef struct {
    pl_sender_config_t config;
    char *endpoints, *producer_id, *data_endpoint; /* owned copies */
    zsock_t *pipe;
    zsock_t *dealer;
    zsock_t *data;          /* PULL from the producer */
    zsock_t *monitor;       /* PAIR: the dealer's connection events */
    s_slot_t *slots;        /* window */
    size_t in_use;
    size_t unacked_records;
    proto_record_t *records; /* the batch being filled */
    size_t count;
    int64_t batch_started_ns;
    zmq_msg_t chunk;        /* records received, not yet batched */
    bool has_chunk;
    size_t chunk_offset;    /* records of the chunk already batched */
    uint64_t next_seq;
    int64_t backoff_until_ns;
    int connections;
    bool flushing;
    int64_t flush_deadline_ns;
    int64_t next_status_ns;
    /* series */
    cmn_series_t *sent, *resent, *acked, *written, *duplicate, *dead,
        *rejected, *batches_sent, *batches_acked, *late, *window_batches,
        *window_records, *ack_latency, *connected;
    uint64_t sent_total, acked_total, resent_total;
} s_sender_t;

static void s_update_window(s_sender_t *self)
{
    cmn_series_set(self->window_batches, (double)self->in_use);
    cmn_series_set(self->window_records, (double)self->unacked_records);
}

/* Tries to send one slot now. */
static void s_send_slot(s_sender_t *self, s_slot_t *slot, int64_t now)
{
    int rc = zmq_send(zsock_resolve(self->dealer), slot->data.data,
                      slot->data.size, ZMQ_DONTWAIT);
    if (rc < 0) {
        /* No connection (ZMQ_IMMEDIATE) or the pipe is full: later. */
        slot->in_flight = false;
        slot->due_ns = now + PL_SEND_RETRY_NS;
        return;
    }
    if (slot->attempts == 0) {
        cmn_series_add(self->sent, slot->count);
        cmn_series_inc(self->batches_sent);
        self->sent_total += slot->count;
    } else {
        cmn_series_add(self->resent, slot->count);
        cmn_series_inc(cmn_metric_series(self->config.metrics->batches_resent,
                                         slot->cause, NULL));
        self->resent_total += slot->count;
    }
    /* Each resend waits twice as long as the one before (up to
     * PL_SEND_ACK_BACKOFF_SHIFT_MAX doublings) after an ack timeout: acks
     * come after the commit,
     * so a slow database must not be answered with ever more copies. */
    uint32_t shift = slot->timeouts < PL_SEND_ACK_BACKOFF_SHIFT_MAX
                         ? slot->timeouts
                         : PL_SEND_ACK_BACKOFF_SHIFT_MAX;
    slot->attempts++;
    slot->in_flight = true;
    slot->sent_ns = now;
    slot->due_ns = now + (self->config.ack_timeout_ns << shift);
}

/* Moves the batch being filled into a free slot and sends it. */
static void s_seal_batch(s_sender_t *self, int64_t now)
{
    if (self->count == 0 || self->in_use == self->config.window)
        return;
    s_slot_t *slot = NULL;
    for (size_t k = 0; k < self->config.window && !slot; k++)
        if (!self->slots[k].used)
            slot = &self->slots[k];
    assert(slot);
    msgpack_sbuffer_clear(&slot->data);
    uint64_t seq = self->next_seq++;
    if (proto_batch_encode(self->producer_id, seq, self->records, self->count,
                           &slot->data) != 0) {
        cmn_log_error(PL_SEND_MODULE, "encode_failed",
                      "batch_seq=%llu records=%zu", (unsigned long long)seq,
                      self->count);
        cmn_series_add(self->rejected, self->count);
        self->count = 0;
        return;
    }
    slot->used = true;
    slot->batch_seq = seq;
    slot->count = self->count;
    slot->attempts = 0;
    slot->timeouts = 0;
    slot->in_flight = false;
    slot->cause = "none";
    self->in_use++;
    self->unacked_records += self->count;
    self->count = 0;
    if (now >= self->backoff_until_ns)
        s_send_slot(self, slot, now);
    else
        slot->due_ns = self->backoff_until_ns;
    s_update_window(self);
}

/* Moves records from the received chunk into batches while the window has
 * room. Returns true when the chunk is used up. */
static bool s_take_chunk(s_sender_t *self, int64_t now)
{
    const proto_record_t *records = zmq_msg_data(&self->chunk);
    size_t total = zmq_msg_size(&self->chunk) / sizeof(proto_record_t);
    while (self->chunk_offset < total) {
        if (self->count == self->config.batch_records) {
            if (self->in_use == self->config.window)
                return false;
            s_seal_batch(self, now);
        }
        size_t room = self->config.batch_records - self->count;
        size_t left = total - self->chunk_offset;
        size_t take = left < room ? left : room;
        if (self->count == 0)
            self->batch_started_ns = now;
        memcpy(self->records + self->count, records + self->chunk_offset,
               take * sizeof(proto_record_t));
        self->count += take;
        self->chunk_offset += take;
    }
    zmq_msg_close(&self->chunk);
    self->has_chunk = false;
    return true;
}

/* Reads record chunks while there is room. */
static void s_read_data(s_sender_t *self, int64_t now)
{
    while (true) {
        if (self->has_chunk && !s_take_chunk(self, now))
            return;
        if (self->in_use == self->config.window &&
            self->count == self->config.batch_records)
            return;
        zmq_msg_init(&self->chunk);
        if (zmq_msg_recv(&self->chunk, zsock_resolve(self->data),
                         ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&self->chunk);
            return;
        }
        if (zmq_msg_size(&self->chunk) % sizeof(proto_record_t) != 0) {
            /* Cannot happen between our own threads: a bug, loudly. */
            cmn_log_error(PL_SEND_MODULE, "bad_chunk", "bytes=%zu",
                          zmq_msg_size(&self->chunk));
            zmq_msg_close(&self->chunk);
            continue;
        }
        self->has_chunk = true;
        self->chunk_offset = 0;
    }
}

static s_slot_t *s_find_slot(s_sender_t *self, uint64_t batch_seq)
{
    for (size_t k = 0; k < self->config.window; k++)
        if (self->slots[k].used && self->slots[k].batch_seq == batch_seq)
            return &self->slots[k];
    return NULL;
}

static void s_release(s_sender_t *self, s_slot_t *slot)
{
    slot->used = false;
    slot->in_flight = false;
    self->in_use--;
    self->unacked_records -= slot->count;
    s_update_window(self);
}

static void s_on_reply(s_sender_t *self, int64_t now)
{
    zmsg_t *message = zmsg_recv(self->dealer);
    if (!message)
        return;
    zframe_t *frame = zmsg_last(message); /* after any envelope */
    proto_reply_t reply;
    proto_error_t error;
    if (!frame || proto_reply_decode(zframe_data(frame), zframe_size(frame),
                                     &reply, &error) != 0) {
        cmn_log_warning(PL_SEND_MODULE, "bad_reply", "error=\"%s\"",
                        frame ? error.text : "empty");
        zmsg_destroy(&message);
        return;
    }
    zmsg_destroy(&message);
    s_slot_t *slot = s_find_slot(self, reply.batch_seq);
    if (!slot) {
        cmn_series_inc(self->late);
        return;
    }
    pl_metrics_t *metrics = self->config.metrics;
    if (reply.type == PROTO_REPLY_ACK) {
        cmn_series_add(self->acked, slot->count);
        cmn_series_add(self->written, reply.written);
        cmn_series_add(self->duplicate, reply.duplicates);
        cmn_series_add(self->dead, reply.dead_lettered);
        cmn_series_inc(self->batches_acked);
        cmn_series_observe(self->ack_latency,
                           (double)(now - slot->sent_ns) /
                               (double)CMN_NS_PER_SEC);
        self->acked_total += slot->count;
        s_release(self, slot);
        return;
    }
    const char *reason = proto_nack_reason_name(reply.reason);
    cmn_series_inc(cmn_metric_series(metrics->nacks, reason, NULL));
    if (reply.reason == PROTO_NACK_MALFORMED) {
        cmn_log_error(PL_SEND_MODULE, "batch_rejected",
                      "batch_seq=%llu records=%zu detail=\"%s\"",
                      (unsigned long long)reply.batch_seq, slot->count,
                      reply.detail);
        cmn_series_add(self->rejected, slot->count);
        s_release(self, slot);
        return;
    }
    /* full or draining: back off, then resend this one; new batches wait
     * too, so that a full coordinator is not hammered. */
    int64_t retry = reply.retry_after_ms
                        ? (int64_t)reply.retry_after_ms * CMN_NS_PER_MS
                        : PL_SEND_NACK_RETRY_NS;
    slot->in_flight = false;
    slot->due_ns = now + retry;
    slot->cause = reason;
    if (slot->due_ns > self->backoff_until_ns)
        self->backoff_until_ns = slot->due_ns;
    cmn_log_debug(PL_SEND_MODULE, "nack", "batch_seq=%llu reason=%s "
                  "retry_after_ms=%u", (unsigned long long)reply.batch_seq,
                  reason, reply.retry_after_ms);
}

static void s_on_monitor(s_sender_t *self, int64_t now)
{
    zmsg_t *message = zmsg_recv(self->monitor);
    if (!message)
        return;
    zframe_t *frame = zmsg_first(message);
    if (frame && zframe_size(frame) >= PL_SEND_MONITOR_EVENT_BYTES) {
        uint16_t event;
        memcpy(&event, zframe_data(frame), sizeof event);
        if (event == ZMQ_EVENT_CONNECTED) {
            self->connections++;
            cmn_log_info(PL_SEND_MODULE, "connected", "connections=%d",
                         self->connections);
            /* Whatever was sent before this connection may have gone to a
             * coordinator that died: send it again now. */
            for (size_t k = 0; k < self->config.window; k++) {
                s_slot_t *slot = &self->slots[k];
                if (!slot->used)
                    continue;
                if (slot->in_flight && slot->sent_ns < now)
                    slot->cause = "reconnect";
                if (slot->in_flight || slot->due_ns > now) {
                    slot->in_flight = false;
                    if (self->backoff_until_ns <= now)
                        slot->due_ns = now;
                }
            }
        } else if (event == ZMQ_EVENT_DISCONNECTED) {
            if (self->connections > 0)
                self->connections--;
            cmn_log_warning(PL_SEND_MODULE, "disconnected", "connections=%d",
                            self->connections);
            /* A batch in flight may have gone to the coordinator that went
             * away, which will never answer. When another one is still
             * connected, send them again now rather than after the ack
             * timeout (the DEALER does not say which peer had which). Not
             * at once: the event can come before the socket dropped the
             * dead pipe, and a send into it would be lost again. With none
             * left, the next CONNECTED resends them. */
            if (self->connections > 0)
                for (size_t k = 0; k < self->config.window; k++) {
                    s_slot_t *slot = &self->slots[k];
                    if (!slot->used || !slot->in_flight)
                        continue;
                    slot->in_flight = false;
                    slot->cause = "disconnect";
                    slot->due_ns = now + PL_SEND_RETRY_NS;
                }
        }
        cmn_series_set(self->connected, self->connections);
    }
    zmsg_destroy(&message);
}

/* Timeouts and due resends. Returns the next due time. */
static int64_t s_service_slots(s_sender_t *self, int64_t now)
{
    int64_t next = INT64_MAX;
    for (size_t k = 0; k < self->config.window; k++) {
        s_slot_t *slot = &self->slots[k];
        if (!slot->used)
            continue;
        if (slot->in_flight && now >= slot->due_ns) {
            cmn_log_warning(PL_SEND_MODULE, "ack_timeout",
                            "batch_seq=%llu attempts=%u",
                            (unsigned long long)slot->batch_seq,
                            slot->attempts);
            slot->in_flight = false;
            slot->timeouts++;
            slot->cause = "timeout";
            slot->due_ns = now;
        }
        if (!slot->in_flight && now >= slot->due_ns &&
            now >= self->backoff_until_ns)
            s_send_slot(self, slot, now);
        if (slot->due_ns < next)
            next = slot->due_ns;
    }
    return next;
}

static void s_publish_status(s_sender_t *self, int64_t now)
{
    cmn_json_t *json = cmn_json_new();
    cmn_json_object_begin(json, NULL);
    cmn_json_string(json, "endpoints", self->endpoints);
    cmn_json_string(json, "producer_id", self->producer_id);
    cmn_json_int(json, "connections", self->connections);
    cmn_json_uint(json, "unacked_batches", self->in_use);
    cmn_json_uint(json, "unacked_records", self->unacked_records);
    cmn_json_uint(json, "window", self->config.window);
    cmn_json_uint(json, "next_batch_seq", self->next_seq);
    cmn_json_uint(json, "records_sent", self->sent_total);
    cmn_json_uint(json, "records_resent", self->resent_total);
    cmn_json_uint(json, "records_acked", self->acked_total);
    int64_t backoff = self->backoff_until_ns - now;
    cmn_json_double(json, "backoff_seconds",
                    backoff > 0 ? (double)backoff / (double)CMN_NS_PER_SEC
                                : 0.0);
    cmn_json_object_end(json);
    pl_status_publish(self->config.status, PL_STATUS_SENDER,
                      cmn_json_text(json));
    cmn_json_destroy(&json);
    self->next_status_ns = now + PL_SEND_STATUS_NS;
}

static bool s_drained(s_sender_t *self)
{
    return self->in_use == 0 && self->count == 0 && !self->has_chunk &&
           !(zsock_events(self->data) & ZMQ_POLLIN);
}

static void s_on_pipe(s_sender_t *self, bool *terminated, int64_t now)
{
    zmsg_t *message = zmsg_recv(self->pipe);
    char *command = message ? zmsg_popstr(message) : NULL;
    if (!command || streq(command, "$TERM")) {
        *terminated = true;
    } else if (streq(command, "FLUSH")) {
        char *deadline = zmsg_popstr(message);
        int64_t deadline_ms = deadline ? atoll(deadline) : 0;
        zstr_free(&deadline);
        self->flushing = true;
        self->flush_deadline_ns = now + deadline_ms * CMN_NS_PER_MS;
    }
    zstr_free(&command);
    zmsg_destroy(&message);
}

static void s_loop(s_sender_t *self)
{
    void *dealer = zsock_resolve(self->dealer);
    bool terminated = false;
    while (!terminated) {
        int64_t now = cmn_clock_mono_ns(self->config.clock);
        int64_t next = s_service_slots(self, now);
        /* Seal the batch being filled when full, old, or flushing. */
        if (self->count > 0 &&
            (self->count == self->config.batch_records || self->flushing ||
             now - self->batch_started_ns >= self->config.batch_ns))
            s_seal_batch(self, now);
        bool window_room = self->in_use < self->config.window;
        if (self->count > 0 && window_room &&
            self->batch_started_ns + self->config.batch_ns < next)
            next = self->batch_started_ns + self->config.batch_ns;
        if (self->flushing &&
            (s_drained(self) || now >= self->flush_deadline_ns)) {
            if (!s_drained(self))
                cmn_log_warning(PL_SEND_MODULE, "flush_deadline",
                                "unacked_records=%zu pending_records=%zu",
                                self->unacked_records, self->count);
            zstr_sendf(self->pipe, "%zu", self->unacked_records + self->count);
            self->flushing = false;
        }
        if (now >= self->next_status_ns)
            s_publish_status(self, now);

        bool room = self->in_use < self->config.window ||
                    self->count < self->config.batch_records;
        zmq_pollitem_t items[] = {
            {zsock_resolve(self->pipe), 0, ZMQ_POLLIN, 0},
            {dealer, 0, ZMQ_POLLIN, 0},
            {zsock_resolve(self->monitor), 0, ZMQ_POLLIN, 0},
            {zsock_resolve(self->data), 0, room ? ZMQ_POLLIN : 0, 0},
        };
        int64_t wait = PL_SEND_POLL_MAX_NS;
        if (next != INT64_MAX && next - now < wait)
            wait = next - now;
        if (self->flushing && self->count > 0 && window_room)
            wait = 0;
        long wait_ms = wait <= 0 ? 0 : (long)((wait + CMN_NS_PER_MS - 1) /
                                               CMN_NS_PER_MS);
        if (zmq_poll(items, 4, wait_ms) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            break; /* context terminated */
        }
        now = cmn_clock_mono_ns(self->config.clock);
        if (items[0].revents & ZMQ_POLLIN)
            s_on_pipe(self, &terminated, now);
        if (items[2].revents & ZMQ_POLLIN)
            s_on_monitor(self, now);
        /* Replies in bulk, without waiting. */
        while (zsock_events(self->dealer) & ZMQ_POLLIN)
            s_on_reply(self, now);
        if (items[3].revents & ZMQ_POLLIN || self->has_chunk)
            s_read_data(self, now);
    }
}

static int s_setup(s_sender_t *self)
{
    self->dealer = zsock_new(ZMQ_DEALER);
    self->data = zsock_new(ZMQ_PULL);
    self->monitor = zsock_new(ZMQ_PAIR);
    self->slots = calloc(self->config.window, sizeof *self->slots);
    self->records = calloc(self->config.batch_records, sizeof *self->records);
    if (!self->dealer || !self->data || !self->monitor || !self->slots ||
        !self->records)
        return -1;
    for (size_t k = 0; k < self->config.window; k++)
        msgpack_sbuffer_init(&self->slots[k].data);
    zsock_set_immediate(self->dealer, 1);
    zsock_set_linger(self->dealer, 0);
    zsock_set_reconnect_ivl(self->dealer, PL_SEND_RECONNECT_MS);
    zsock_set_reconnect_ivl_max(self->dealer, PL_SEND_RECONNECT_MAX_MS);
    zsock_set_sndhwm(self->dealer, (int)self->config.window * 2);
    if (self->config.curve_secret_key_file &&
        cmn_curve_client_apply(self->dealer,
                               self->config.curve_secret_key_file,
                               self->config.curve_server_key_file) != 0)
        return -1; /* before connect: CURVE or nothing */
    char monitor[64];
    snprintf(monitor, sizeof monitor, "inproc://pl-sender-monitor-%p",
             (void *)self);
    if (zmq_socket_monitor(zsock_resolve(self->dealer), monitor,
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) != 0 ||
        zsock_connect(self->monitor, "%s", monitor) != 0) {
        cmn_log_error(PL_SEND_MODULE, "monitor_failed", "error=\"%s\"",
                      zmq_strerror(zmq_errno()));
        return -1;
    }
    zsock_set_rcvhwm(self->data, PL_SEND_DATA_HWM);
    if (zsock_bind(self->data, "%s", self->data_endpoint) != 0) {
        cmn_log_error(PL_SEND_MODULE, "bind_failed", "endpoint=%s",
                      self->data_endpoint);
        return -1;
    }
    const char *cursor = self->endpoints, *item;
    size_t length, connected = 0;
    while ((item = cmn_config_list_next(&cursor, PL_SEND_LIST_SEPARATORS,
                                        &length))) {
        char endpoint[PL_SEND_ENDPOINT_MAX];
        snprintf(endpoint, sizeof endpoint, "%.*s", (int)length, item);
        if (zsock_connect(self->dealer, "%s", endpoint) != 0) {
            cmn_log_error(PL_SEND_MODULE, "connect_failed",
                          "endpoint=%s error=\"%s\"", endpoint,
                          zmq_strerror(zmq_errno()));
            return -1;
        }
        connected++;
    }
    if (connected == 0) {
        cmn_log_error(PL_SEND_MODULE, "no_endpoint", "endpoints=\"%s\"",
                      self->endpoints);
        return -1;
    }
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
    self->connected = cmn_metric_series(m->store_connected, NULL);
    /* Series that should be visible before their first event. */
    cmn_metric_series(m->nacks, "full", NULL);
    cmn_metric_series(m->batches_resent, "timeout", NULL);
    self->next_seq = 1;
    return 0;
}

/* Frees everything s_setup() may have made. */
static void s_free(s_sender_t *self)
{
    if (self->has_chunk)
        zmq_msg_close(&self->chunk);
    if (self->dealer)
        zmq_socket_monitor(zsock_resolve(self->dealer), NULL, 0);
    zsock_destroy(&self->monitor);
    zsock_destroy(&self->dealer);
    zsock_destroy(&self->data);
    if (self->slots)
        for (size_t k = 0; k < self->config.window; k++)
            msgpack_sbuffer_destroy(&self->slots[k].data);
    free(self->slots);
    free(self->records);
    free(self->endpoints);
    free(self->producer_id);
    free(self->data_endpoint);
    free(self);
}

static void s_actor(zsock_t *pipe, void *args)
{
    s_sender_t *self = args;
    self->pipe = pipe;
    zsock_signal(pipe, 0);
    s_loop(self);
    s_free(self);
}

zactor_t *pl_sender_new(const pl_sender_config_t *config)
{
    assert(config && config->clock && config->endpoints &&
           config->producer_id && config->data_endpoint && config->metrics &&
           config->status);
    assert(config->batch_records > 0 && config->window > 0);
    s_sender_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->endpoints = strdup(config->endpoints);
    self->producer_id = strdup(config->producer_id);
    self->data_endpoint = strdup(config->data_endpoint);
    /* Sockets are made here, in the caller's thread, so that a failure is
     * reported by returning NULL rather than by an actor that is already
     * gone (zactor_new() cannot report it). Thread creation is the memory
     * barrier ZeroMQ asks for when a socket changes threads. */
    if (!self->endpoints || !self->producer_id || !self->data_endpoint ||
        s_setup(self) != 0) {
        s_free(self);
        return NULL;
    }
    zactor_t *actor = zactor_new(s_actor, self);
    if (!actor)
        s_free(self);
    return actor;
}
