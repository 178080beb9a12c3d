/* consumer: a third party's C program built against the installed libmdbp
 * with pkg-config only (tests/install/test_install.py builds and runs it).
 *
 * Against a live mds-coordinator it sends one batch of records on a DEALER,
 * decodes the ack (every record written), sends the same batch again and
 * decodes the ack of a redelivery (every record a duplicate), then
 * subscribes to the feedback channel and decodes one message of the
 * coordinator. Prints one line per step; exit 0 when all held, 1 if not,
 * 2 on bad arguments.
 * Usage: consumer INGEST_ENDPOINT FEEDBACK_ENDPOINT COORDINATOR_ID PROVIDER */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mdbp/mdbp.h>
#include <zmq.h>

#define CONSUMER_RECORDS 30        /* records in the batch, 10 per kind */
#define CONSUMER_DEADLINE_MS 10000 /* each wait ends before or fails */
#define CONSUMER_POLL_MS 100       /* one zmq_poll slice */
#define CONSUMER_BATCH_SEQ 1
#define CONSUMER_TS_NS_BASE 1700000000000000000LL
#define CONSUMER_PRICE 100.0

static long long s_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Receives one frame of `socket` into `frame` within the deadline. Returns
 * 0 or -1 (timed out or failed). */
static int s_recv(void *socket, zmq_msg_t *frame)
{
    long long deadline = s_now_ms() + CONSUMER_DEADLINE_MS;
    while (s_now_ms() < deadline) {
        zmq_pollitem_t item = {socket, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, CONSUMER_POLL_MS) < 0)
            return -1;
        if (item.revents & ZMQ_POLLIN)
            return zmq_msg_recv(frame, socket, 0) < 0 ? -1 : 0;
    }
    return -1;
}

static void s_fill(mdbp_record_t *records, const char *provider)
{
    memset(records, 0, CONSUMER_RECORDS * sizeof *records);
    for (int index = 0; index < CONSUMER_RECORDS; index++) {
        mdbp_record_t *record = &records[index];
        record->kind = (mdbp_record_kind_t)(index % MDBP_RECORD_KIND_COUNT);
        snprintf(record->provider, sizeof record->provider, "%s", provider);
        snprintf(record->symbol, sizeof record->symbol, "SYM%d", index);
        record->ts_ns = CONSUMER_TS_NS_BASE + index;
        double price = CONSUMER_PRICE + index;
        switch (record->kind) {
        case MDBP_RECORD_TRADE:
            record->u.trade.price = price;
            record->u.trade.size = 1.0;
            break;
        case MDBP_RECORD_QUOTE:
            record->u.quote.bid = price;
            record->u.quote.bid_size = 1.0;
            record->u.quote.ask = price + 1.0;
            record->u.quote.ask_size = 2.0;
            break;
        default:
            record->u.bar.open = price;
            record->u.bar.high = price + 2.0;
            record->u.bar.low = price - 1.0;
            record->u.bar.close = price + 1.0;
            record->u.bar.volume = 10.0;
            break;
        }
    }
}

/* Sends the encoded batch and decodes its reply into `reply`. */
static int s_exchange(void *dealer, const mdbp_buffer_t *batch,
                      mdbp_reply_t *reply)
{
    if (zmq_send(dealer, batch->data, batch->size, 0) < 0) {
        fprintf(stderr, "consumer: send failed: %s\n",
                zmq_strerror(zmq_errno()));
        return -1;
    }
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    if (s_recv(dealer, &frame) != 0) {
        fprintf(stderr, "consumer: no reply within %d ms\n",
                CONSUMER_DEADLINE_MS);
        zmq_msg_close(&frame);
        return -1;
    }
    mdbp_error_t error = {{0}};
    int rc = mdbp_reply_decode(zmq_msg_data(&frame), zmq_msg_size(&frame),
                               reply, &error);
    zmq_msg_close(&frame);
    if (rc != 0)
        fprintf(stderr, "consumer: bad reply: %s\n", error.text);
    return rc;
}

static int s_ingest(void *context, const char *endpoint, const char *provider)
{
    void *dealer = zmq_socket(context, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(dealer, endpoint) != 0) {
        fprintf(stderr, "consumer: cannot connect %s\n", endpoint);
        zmq_close(dealer);
        return -1;
    }
    mdbp_record_t records[CONSUMER_RECORDS];
    s_fill(records, provider);
    mdbp_buffer_t batch = MDBP_BUFFER_INIT;
    int rc = mdbp_batch_encode(provider, CONSUMER_BATCH_SEQ, records,
                               CONSUMER_RECORDS, &batch);
    mdbp_reply_t reply;
    if (rc == 0)
        rc = s_exchange(dealer, &batch, &reply);
    if (rc == 0 &&
        (reply.type != MDBP_REPLY_ACK ||
         reply.batch_seq != CONSUMER_BATCH_SEQ ||
         reply.written != CONSUMER_RECORDS || reply.duplicates != 0)) {
        fprintf(stderr,
                "consumer: expected an ack of %d written, got type %d "
                "written %u duplicates %u (%s)\n",
                CONSUMER_RECORDS, (int)reply.type, (unsigned)reply.written,
                (unsigned)reply.duplicates, reply.detail);
        rc = -1;
    }
    if (rc == 0)
        printf("ack batch_seq=%llu written=%u\n",
               (unsigned long long)reply.batch_seq, (unsigned)reply.written);
    /* The same batch again: a redelivery, every record already stored. */
    if (rc == 0)
        rc = s_exchange(dealer, &batch, &reply);
    if (rc == 0 && (reply.type != MDBP_REPLY_ACK || reply.written != 0 ||
                    reply.duplicates != CONSUMER_RECORDS)) {
        fprintf(stderr,
                "consumer: expected %d duplicates, got written %u "
                "duplicates %u\n",
                CONSUMER_RECORDS, (unsigned)reply.written,
                (unsigned)reply.duplicates);
        rc = -1;
    }
    if (rc == 0)
        printf("ack batch_seq=%llu duplicates=%u\n",
               (unsigned long long)reply.batch_seq, (unsigned)reply.duplicates);
    mdbp_buffer_release(&batch);
    zmq_close(dealer);
    return rc;
}

/* Receives one whole feedback message (topic, body) and decodes it. */
static int s_feedback(void *context, const char *endpoint,
                      const char *coordinator_id)
{
    char topic[MDBP_FEEDBACK_TOPIC_MAX];
    int topic_length = mdbp_feedback_topic(coordinator_id, topic, sizeof topic);
    if (topic_length < 0) {
        fprintf(stderr, "consumer: bad coordinator id '%s'\n", coordinator_id);
        return -1;
    }
    void *subscriber = zmq_socket(context, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(subscriber, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(subscriber, ZMQ_SUBSCRIBE, topic, (size_t)topic_length);
    int rc = zmq_connect(subscriber, endpoint);
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    if (rc == 0 && s_recv(subscriber, &frame) != 0) {
        fprintf(stderr, "consumer: no feedback message within %d ms\n",
                CONSUMER_DEADLINE_MS);
        rc = -1;
    }
    int more = 0;
    size_t more_size = sizeof more;
    if (rc == 0)
        rc = zmq_getsockopt(subscriber, ZMQ_RCVMORE, &more, &more_size);
    if (rc == 0 && (!more || zmq_msg_size(&frame) != (size_t)topic_length ||
                    memcmp(zmq_msg_data(&frame), topic, topic_length) != 0)) {
        fprintf(stderr, "consumer: the first frame is not our topic\n");
        rc = -1;
    }
    if (rc == 0)
        rc = zmq_msg_recv(&frame, subscriber, 0) < 0 ? -1 : 0;
    mdbp_feedback_t event;
    mdbp_error_t error = {{0}};
    if (rc == 0 &&
        mdbp_feedback_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), &event,
                             &error) != 0) {
        fprintf(stderr, "consumer: bad feedback message: %s\n", error.text);
        rc = -1;
    }
    if (rc == 0 && strcmp(event.coordinator_id, coordinator_id) != 0) {
        fprintf(stderr, "consumer: feedback from '%s'\n", event.coordinator_id);
        rc = -1;
    }
    if (rc == 0) {
        char json[MDBP_TEXT_FEEDBACK_JSON_MAX];
        if (mdbp_text_format_feedback_json(&event, json, sizeof json) < 0)
            rc = -1;
        else
            printf("feedback %s\n", json);
    }
    zmq_msg_close(&frame);
    zmq_close(subscriber);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: consumer INGEST_ENDPOINT FEEDBACK_ENDPOINT "
                        "COORDINATOR_ID PROVIDER\n");
        return 2;
    }
    void *context = zmq_ctx_new();
    int rc = s_ingest(context, argv[1], argv[4]);
    if (rc == 0)
        rc = s_feedback(context, argv[2], argv[3]);
    zmq_ctx_term(context);
    return rc == 0 ? 0 : 1;
}
