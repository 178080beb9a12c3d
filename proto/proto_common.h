/* proto_common: what both channels of wire protocol v1 share: the version,
 * limits, the record, the backpressure level and decode errors.
 *
 * The specs are feedback.md and ingest.md in this folder; this codec is one
 * implementation of them, with no dependency on czmq (only msgpack-c), so a
 * third party can link it alone. */
#ifndef PROTO_COMMON_H
#define PROTO_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 1

/* Limits (bytes exclude the terminating NUL). A decoder rejects more. */
#define PROTO_ID_MAX 64               /* coordinator_id, producer_id */
#define PROTO_NAME_MAX 32             /* provider */
#define PROTO_SYMBOL_MAX 32           /* symbol */
#define PROTO_REASON_MAX 128          /* reason, nack detail */
#define PROTO_BATCH_RECORDS_MAX 10000 /* records in one batch */
/* The ingest ROUTER's envelope (ingest.md section 1): at most this many
 * frames before the batch (routing id, a REQ delimiter, proxy hops) and
 * this many bytes together (libzmq routing ids are at most 255 bytes). */
#define PROTO_ENVELOPE_FRAMES_MAX 8
#define PROTO_ENVELOPE_BYTES_MAX 2048
#define PROTO_MESSAGE_BYTES_MAX (4 * 1024 * 1024) /* one message */

typedef enum {
    PROTO_LEVEL_OK = 0,
    PROTO_LEVEL_SOFT = 1,
    PROTO_LEVEL_HARD = 2,
} proto_level_t;

/* "ok", "soft", "hard". */
const char *proto_level_name(proto_level_t level);
/* Parses a level name (case-insensitive). Returns 0 or -1. */
int proto_level_parse(const char *name, proto_level_t *level);

typedef enum {
    PROTO_RECORD_TRADE = 0,
    PROTO_RECORD_QUOTE = 1,
    PROTO_RECORD_BAR = 2,
} proto_record_kind_t;

#define PROTO_RECORD_KIND_COUNT 3

/* "trade", "quote", "bar". */
const char *proto_record_kind_name(proto_record_kind_t kind);

/* One market-data record. Its unique key is (kind, provider, symbol, ts_ns):
 * a redelivered record with the same key is ignored by the store. */
typedef struct {
    proto_record_kind_t kind;
    char provider[PROTO_NAME_MAX + 1];
    char symbol[PROTO_SYMBOL_MAX + 1];
    int64_t ts_ns; /* event time, ns since the Unix epoch */
    union {
        struct {
            double price;
            double size;
        } trade;
        struct {
            double bid;
            double bid_size;
            double ask;
            double ask_size;
        } quote;
        struct {
            double open;
            double high;
            double low;
            double close;
            double volume;
        } bar;
    } u;
} proto_record_t;

/* Why a decode failed: a short text naming the key or position, e.g.
 * "missing key 'seq'", "key 'level': expected one of ok|soft|hard". */
typedef struct {
    char text[160];
} proto_error_t;

#endif
