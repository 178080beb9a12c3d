/* bench_loadgen: a local producer that drives mds-coordinator as hard as it
 * takes, to measure ingest throughput (proto/ingest.md on a DEALER).
 *
 *   bench_loadgen ENDPOINT SECONDS [WINDOW] [BATCH] [--until-full]
 *
 * Keeps WINDOW batches of BATCH unique trades in flight; each ack sends the
 * next batch, a `nack full` resends the same batch after its retry hint.
 * Prints `acked_records N`, `seconds S`, `records_per_s R`, `nacks K` (the
 * rate counts acked records only: an ack means committed). With
 * --until-full it stops at the first `nack full` (the queue is full) and
 * prints `full 1`, or `full 0` when SECONDS passed first. */
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mdbp/ingest.h>

#define BENCH_WINDOW_DEFAULT 8
#define BENCH_BATCH_DEFAULT 1000
#define BENCH_SYMBOLS 4
#define BENCH_POLL_MS 100
#define BENCH_PRICE 100.0
/* Prices step by a cent over this many steps above BENCH_PRICE. */
#define BENCH_PRICE_STEPS 100
#define BENCH_NS_PER_MS 1000000
#define BENCH_MS_PER_SEC 1000

typedef struct {
    uint64_t seq;            /* 0: slot free */
    mdbp_buffer_t message;   /* the encoded batch */
    int64_t resend_at_ms;    /* after a nack full; 0: not waiting */
} s_slot_t;

static uint64_t s_next_ts;

static void s_encode(s_slot_t *slot, uint64_t seq, mdbp_record_t *records,
                     size_t count)
{
    for (size_t k = 0; k < count; k++) {
        mdbp_record_t *record = &records[k];
        memset(record, 0, sizeof *record);
        record->kind = MDBP_RECORD_TRADE;
        strcpy(record->provider, "bench");
        snprintf(record->symbol, sizeof record->symbol, "SYM%d",
                 (int)(s_next_ts % BENCH_SYMBOLS));
        record->ts_ns = (int64_t)s_next_ts++;
        record->u.trade.price =
            BENCH_PRICE + (double)(k % BENCH_PRICE_STEPS) / BENCH_PRICE_STEPS;
        record->u.trade.size = 1.0;
    }
    mdbp_buffer_reset(&slot->message);
    mdbp_batch_encode("bench-loadgen", seq, records, count, &slot->message);
    slot->seq = seq;
    slot->resend_at_ms = 0;
}

static void s_send(zsock_t *dealer, s_slot_t *slot)
{
    zframe_t *frame = zframe_new(slot->message.data, slot->message.size);
    zframe_send(&frame, dealer, 0);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_loadgen ENDPOINT SECONDS [WINDOW] "
                        "[BATCH] [--until-full]\n");
        return 2;
    }
    const char *endpoint = argv[1];
    double seconds = atof(argv[2]);
    size_t window = argc > 3 ? (size_t)atoi(argv[3]) : BENCH_WINDOW_DEFAULT;
    size_t batch = argc > 4 ? (size_t)atoi(argv[4]) : BENCH_BATCH_DEFAULT;
    bool until_full = argc > 5 && strcmp(argv[5], "--until-full") == 0;
    if (window < 1 || batch < 1 || batch > MDBP_BATCH_RECORDS_MAX) {
        fprintf(stderr, "bench_loadgen: bad WINDOW or BATCH\n");
        return 2;
    }
    zsys_init();
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    zsock_set_sndhwm(dealer, 0);
    zsock_set_rcvhwm(dealer, 0);
    if (zsock_connect(dealer, "%s", endpoint) != 0) {
        fprintf(stderr, "bench_loadgen: cannot connect %s\n", endpoint);
        return 1;
    }
    s_next_ts = (uint64_t)zclock_time() * BENCH_NS_PER_MS + 1;
    mdbp_record_t *records = calloc(batch, sizeof *records);
    s_slot_t *slots = calloc(window, sizeof *slots);
    uint64_t seq = 1;
    for (size_t k = 0; k < window; k++) {
        mdbp_buffer_init(&slots[k].message);
        s_encode(&slots[k], seq++, records, batch);
        s_send(dealer, &slots[k]);
    }
    int64_t start = zclock_mono();
    int64_t end = start + (int64_t)(seconds * BENCH_MS_PER_SEC);
    uint64_t acked = 0, nacks = 0;
    bool full = false;
    zpoller_t *poller = zpoller_new(dealer, NULL);
    while (zclock_mono() < end && !zsys_interrupted && !full) {
        zsock_t *which = zpoller_wait(poller, BENCH_POLL_MS);
        int64_t now = zclock_mono();
        for (size_t k = 0; k < window; k++)
            if (slots[k].resend_at_ms && now >= slots[k].resend_at_ms) {
                slots[k].resend_at_ms = 0;
                s_send(dealer, &slots[k]);
            }
        if (!which)
            continue;
        zframe_t *frame = zframe_recv(dealer);
        if (!frame)
            break;
        mdbp_reply_t reply;
        mdbp_error_t error;
        int rc = mdbp_reply_decode(zframe_data(frame), zframe_size(frame),
                                    &reply, &error);
        zframe_destroy(&frame);
        if (rc != 0)
            continue;
        for (size_t k = 0; k < window; k++) {
            if (slots[k].seq != reply.batch_seq)
                continue;
            if (reply.type == MDBP_REPLY_ACK) {
                acked += reply.written + reply.duplicates + reply.dead_lettered;
                s_encode(&slots[k], seq++, records, batch);
                s_send(dealer, &slots[k]);
            } else {
                nacks++;
                if (until_full && reply.reason == MDBP_NACK_FULL)
                    full = true;
                slots[k].resend_at_ms =
                    now + (reply.retry_after_ms ? reply.retry_after_ms : 1);
            }
            break;
        }
    }
    double elapsed = (double)(zclock_mono() - start) / BENCH_MS_PER_SEC;
    printf("acked_records %llu\nseconds %.3f\nrecords_per_s %.0f\n"
           "nacks %llu\n",
           (unsigned long long)acked, elapsed, (double)acked / elapsed,
           (unsigned long long)nacks);
    if (until_full)
        printf("full %d\n", full ? 1 : 0);
    fflush(stdout);
    zpoller_destroy(&poller);
    for (size_t k = 0; k < window; k++)
        mdbp_buffer_release(&slots[k].message);
    free(slots);
    free(records);
    zsock_destroy(&dealer);
    return 0;
}
