/* sc_replay: dead-letter file -> batches -> a coordinator, waiting for acks. */
#include "sc_replay.h"

#include <czmq.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmn_log.h"
#include "cmn_config.h"
#include <mdbp/ingest.h>
#include <mdbp/text.h>

#define SC_REPLAY_LINE_BYTES_MAX 8192
#define SC_REPLAY_PRODUCER_PREFIX "dlq-replay-"
/* How long the coordinator has to accept the connection at all. */
#define SC_REPLAY_CONNECT_TIMEOUT_MS 3000

typedef struct {
    const sc_replay_config_t *config;
    zsock_t *dealer;
    char producer_id[MDBP_ID_MAX + 1];
    uint64_t batch_seq;
    size_t accepted; /* records acked */
    size_t rejected; /* records in batches nacked malformed */
    size_t lost;     /* records not acked before the deadline */
    size_t again;    /* acked but dead-lettered again (still refused) */
    bool gave_up;    /* a batch timed out: the coordinator is not there */
    mdbp_buffer_t buffer;
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

/* Waits until the DEALER has a live connection (it may send). */
static bool s_connected(zsock_t *dealer)
{
    zmq_pollitem_t item = {zsock_resolve(dealer), 0, ZMQ_POLLOUT, 0};
    return zmq_poll(&item, 1, SC_REPLAY_CONNECT_TIMEOUT_MS) == 1 &&
           (item.revents & ZMQ_POLLOUT);
}

/* Sends one batch until it is acked, rejected or its deadline passes. */
static void s_send_batch(s_replay_t *self, const mdbp_record_t *records,
                         size_t count)
{
    if (self->gave_up) {
        self->lost += count;
        return;
    }
    uint64_t seq = ++self->batch_seq;
    mdbp_buffer_reset(&self->buffer);
    if (mdbp_batch_encode(self->producer_id, seq, records, count,
                           &self->buffer) != 0) {
        self->rejected += count;
        return;
    }
    int64_t deadline = zclock_mono() + self->config->deadline_ms;
    while (zclock_mono() < deadline) {
        zframe_t *frame = zframe_new(self->buffer.data, self->buffer.size);
        /* Bounded by the send timeout while the coordinator is away. */
        if (zframe_send(&frame, self->dealer, 0) != 0)
            zframe_destroy(&frame);
        int64_t reply_deadline = zclock_mono() + self->config->reply_timeout_ms;
        int64_t retry_after = -1;
        while (retry_after < 0 && zclock_mono() < reply_deadline) {
            zsock_set_rcvtimeo(self->dealer,
                               (int)(reply_deadline - zclock_mono()));
            zframe_t *reply_frame = zframe_recv(self->dealer);
            if (!reply_frame)
                break;
            mdbp_reply_t reply;
            mdbp_error_t error;
            int decoded =
                mdbp_reply_decode(zframe_data(reply_frame),
                                   zframe_size(reply_frame), &reply, &error);
            zframe_destroy(&reply_frame);
            if (decoded != 0 || reply.batch_seq != seq)
                continue; /* a stale reply to an earlier resend */
            if (reply.type == MDBP_REPLY_ACK) {
                self->accepted += count;
                self->again += reply.dead_lettered;
                return;
            }
            if (reply.reason == MDBP_NACK_MALFORMED) {
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
    mdbp_buffer_init(&self.buffer);
    self.dealer = zsock_new(ZMQ_DEALER);
    /* ZMQ_IMMEDIATE (before connecting): a batch is only queued on a live
     * connection, so a coordinator that is not there is reported, not
     * waited for. */
    if (self.dealer) {
        zsock_set_immediate(self.dealer, 1);
        zsock_set_sndtimeo(self.dealer, (int)config->reply_timeout_ms);
    }
    if (!self.dealer ||
        zsock_connect(self.dealer, "%s", config->endpoint) != 0) {
        fprintf(stderr, "dlq replay: cannot connect to %s\n", config->endpoint);
        zsock_destroy(&self.dealer);
        fclose(file);
        return 1;
    }
    if (!s_connected(self.dealer)) {
        fprintf(stderr,
                "dlq replay: no coordinator at %s (nothing accepted the "
                "connection within %d ms): is it running, and is "
                "MDS_INGEST_ENDPOINT / --ingest-endpoint its address?\n",
                config->endpoint, SC_REPLAY_CONNECT_TIMEOUT_MS);
        zsock_destroy(&self.dealer);
        mdbp_buffer_release(&self.buffer);
        fclose(file);
        return 1;
    }

    /* Only the lines present now: a coordinator that dead-letters a
     * replayed record again appends it to this very file, and reading on
     * would send it round forever. */
    struct stat info;
    off_t end = fstat(fileno(file), &info) == 0 ? info.st_size : 0;
    mdbp_record_t *records = calloc(config->batch_size, sizeof *records);
    char *line = malloc(SC_REPLAY_LINE_BYTES_MAX + 2);
    size_t count = 0, total = 0, unreadable = 0, line_number = 0;
    size_t length;
    int read = 1;
    while (records && line && ftello(file) < end &&
           (read = mdbp_text_read_line(file, line, SC_REPLAY_LINE_BYTES_MAX,
                                        &length)) > 0) {
        line_number++;
        if (read == MDBP_TEXT_LINE_TOO_LONG) {
            fprintf(stderr, "dlq replay: %s:%zu: line longer than %d bytes\n",
                    config->path, line_number, SC_REPLAY_LINE_BYTES_MAX);
            unreadable++;
            continue;
        }
        if (read == MDBP_TEXT_LINE_HAS_NUL) {
            fprintf(stderr, "dlq replay: %s:%zu: line contains a NUL byte\n",
                    config->path, line_number);
            unreadable++;
            continue;
        }
        const char *start = line + strspn(line, " \t");
        if (*start == '\0' || *start == '#')
            continue;
        mdbp_error_t error;
        if (mdbp_text_parse_json(start, &records[count], &error) != 0) {
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
    if (read < 0) {
        fprintf(stderr, "dlq replay: %s:%zu: read failed: %s\n", config->path,
                line_number + 1, strerror(errno));
        unreadable++;
    }
    if (count > 0)
        s_send_batch(&self, records, count);
    printf("dlq replay: file=%s records=%zu accepted=%zu rejected=%zu "
           "not_acked=%zu unreadable=%zu dead_lettered_again=%zu\n",
           config->path, total, self.accepted, self.rejected, self.lost,
           unreadable, self.again);
    if (self.again > 0)
        fprintf(stderr,
                "dlq replay: %zu records were refused again and are back in "
                "the dead-letter file (see their reason)\n",
                self.again);
    free(line);
    free(records);
    fclose(file);
    zsock_destroy(&self.dealer);
    mdbp_buffer_release(&self.buffer);
    bool complete =
        self.accepted == total && unreadable == 0 && self.again == 0;
    return complete ? 0 : 1;
}

/* A reply later than this resends the batch; a batch not acked within the
 * deadline is given up (counted not_acked). */
#define SC_REPLAY_REPLY_TIMEOUT_MS 5000
#define SC_REPLAY_DEADLINE_MS 30000

int sc_replay_command(cmn_config_t *config, const char *program)
{
    if (cmn_config_positional_count(config) != 3 ||
        !streq(cmn_config_positional(config, 1), "replay")) {
        fprintf(stderr, "%s: usage: %s dlq replay FILE\n", program, program);
        return CMN_EXIT_USAGE;
    }
    char endpoint[PATH_MAX];
    sc_replay_connect_address(cmn_config_string(config, "ingest-endpoint"),
                              endpoint, sizeof endpoint);
    sc_replay_config_t replay = {
        .path = cmn_config_positional(config, 2),
        .endpoint = endpoint,
        .batch_size = (size_t)cmn_config_int(config, "batch-size"),
        .reply_timeout_ms = SC_REPLAY_REPLY_TIMEOUT_MS,
        .deadline_ms = SC_REPLAY_DEADLINE_MS,
    };
    return sc_replay_run(&replay);
}
