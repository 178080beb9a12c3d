/* replay: dead-letter file -> batches -> a coordinator, waiting for acks. */
#include "replay.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmn_log.h"
#include "proto_ingest.h"
#include "proto_text.h"

#define SC_REPLAY_LINE_BYTES_MAX 8192
#define SC_REPLAY_PRODUCER_PREFIX "dlq-replay-"

typedef struct {
    const sc_replay_config_t *config;
    zsock_t *dealer;
    char producer_id[PROTO_ID_MAX + 1];
    uint64_t batch_seq;
    size_t accepted; /* records acked */
    size_t rejected; /* records in batches nacked malformed */
    size_t lost;     /* records not acked before the deadline */
    bool gave_up;    /* a batch timed out: the coordinator is not there */
    msgpack_sbuffer buffer;
} s_replay_t;

void sc_replay_connect_address(const char *bind_endpoint, char *out,
                               size_t capacity)
{
    const char *star = strstr(bind_endpoint, "://*");
    if (star)
        snprintf(out, capacity, "%.*s://127.0.0.1%s",
                 (int)(star - bind_endpoint), bind_endpoint, star + 4);
    else
        snprintf(out, capacity, "%s", bind_endpoint);
}

/* Sends one batch until it is acked, rejected or its deadline passes. */
static void s_send_batch(s_replay_t *self, const proto_record_t *records,
                         size_t count)
{
    if (self->gave_up) {
        self->lost += count;
        return;
    }
    uint64_t seq = ++self->batch_seq;
    msgpack_sbuffer_clear(&self->buffer);
    if (proto_batch_encode(self->producer_id, seq, records, count,
                           &self->buffer) != 0) {
        self->rejected += count;
        return;
    }
    int64_t deadline = zclock_mono() + self->config->deadline_ms;
    while (zclock_mono() < deadline) {
        zframe_t *frame = zframe_new(self->buffer.data, self->buffer.size);
        zframe_send(&frame, self->dealer, 0);
        int64_t reply_deadline = zclock_mono() + self->config->reply_timeout_ms;
        int64_t retry_after = -1;
        while (retry_after < 0 && zclock_mono() < reply_deadline) {
            zsock_set_rcvtimeo(self->dealer,
                               (int)(reply_deadline - zclock_mono()));
            zframe_t *reply_frame = zframe_recv(self->dealer);
            if (!reply_frame)
                break;
            proto_reply_t reply;
            proto_error_t error;
            int decoded =
                proto_reply_decode(zframe_data(reply_frame),
                                   zframe_size(reply_frame), &reply, &error);
            zframe_destroy(&reply_frame);
            if (decoded != 0 || reply.batch_seq != seq)
                continue; /* a stale reply to an earlier resend */
            if (reply.type == PROTO_REPLY_ACK) {
                self->accepted += count;
                return;
            }
            if (reply.reason == PROTO_NACK_MALFORMED) {
                fprintf(stderr, "dlq replay: batch %llu rejected: %s\n",
                        (unsigned long long)seq, reply.detail);
                self->rejected += count;
                return;
            }
            retry_after = reply.retry_after_ms;
        }
        if (retry_after > 0)
            zclock_sleep((int)retry_after);
    }
    self->lost += count;
    self->gave_up = true;
    fprintf(stderr,
            "dlq replay: batch %llu not acked within %lld ms; giving "
            "up\n",
            (unsigned long long)seq, (long long)self->config->deadline_ms);
}

int sc_replay_run(const sc_replay_config_t *config)
{
    FILE *file = fopen(config->path, "r");
    if (!file) {
        fprintf(stderr, "dlq replay: cannot open %s: %s\n", config->path,
                strerror(errno));
        return 1;
    }
    s_replay_t self = {.config = config};
    snprintf(self.producer_id, sizeof self.producer_id, "%s%d",
             SC_REPLAY_PRODUCER_PREFIX, (int)getpid());
    msgpack_sbuffer_init(&self.buffer);
    self.dealer = zsock_new(ZMQ_DEALER);
    if (!self.dealer ||
        zsock_connect(self.dealer, "%s", config->endpoint) != 0) {
        fprintf(stderr, "dlq replay: cannot connect to %s\n", config->endpoint);
        zsock_destroy(&self.dealer);
        fclose(file);
        return 1;
    }
    proto_record_t *records = calloc(config->batch_size, sizeof *records);
    char *line = malloc(SC_REPLAY_LINE_BYTES_MAX);
    size_t count = 0, total = 0, unreadable = 0, line_number = 0;
    while (records && line && fgets(line, SC_REPLAY_LINE_BYTES_MAX, file)) {
        line_number++;
        line[strcspn(line, "\r\n")] = '\0';
        const char *start = line + strspn(line, " \t");
        if (*start == '\0' || *start == '#')
            continue;
        proto_error_t error;
        if (proto_text_parse_json(start, &records[count], &error) != 0) {
            fprintf(stderr, "dlq replay: %s:%zu: %s\n", config->path,
                    line_number, error.text);
            unreadable++;
            continue;
        }
        total++;
        if (++count == config->batch_size) {
            s_send_batch(&self, records, count);
            count = 0;
        }
    }
    if (count > 0)
        s_send_batch(&self, records, count);
    printf("dlq replay: file=%s records=%zu accepted=%zu rejected=%zu "
           "not_acked=%zu unreadable=%zu\n",
           config->path, total, self.accepted, self.rejected, self.lost,
           unreadable);
    free(line);
    free(records);
    fclose(file);
    zsock_destroy(&self.dealer);
    msgpack_sbuffer_destroy(&self.buffer);
    bool complete = self.accepted == total && unreadable == 0;
    return complete ? 0 : 1;
}
