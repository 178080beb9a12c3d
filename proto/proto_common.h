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
#define PROTO_FIELD_MAX 32                        /* nack `field` (v1.1) */

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

/* The machine-readable nack codes of ingest.md 4.2 (added in v1.1), which
 * refine the nack `reason`. NONE means absent (a v1 nack, or no error);
 * UNKNOWN is what a decoder reports for a code string this version does not
 * know (a later v1.x may add codes): it is never encoded. */
typedef enum {
    PROTO_NACK_CODE_NONE = 0,
    PROTO_NACK_CODE_QUEUE_FULL,
    PROTO_NACK_CODE_DRAINING,
    PROTO_NACK_CODE_VERSION,
    PROTO_NACK_CODE_NOT_A_MAP,
    PROTO_NACK_CODE_MISSING_KEY,
    PROTO_NACK_CODE_BAD_KEY,
    PROTO_NACK_CODE_BAD_VALUE,
    PROTO_NACK_CODE_TOO_LARGE,
    PROTO_NACK_CODE_TOO_MANY_RECORDS,
    PROTO_NACK_CODE_OVER_CAPACITY,
    PROTO_NACK_CODE_BAD_RECORD,
    PROTO_NACK_CODE_IN_FLIGHT,
    PROTO_NACK_CODE_UNKNOWN,
} proto_nack_code_t;

/* The wire name of a code ("queue_full", ...); NULL for NONE and UNKNOWN,
 * which have none. */
const char *proto_nack_code_name(proto_nack_code_t code);
/* The code of a wire name of `length` bytes: UNKNOWN when it is not one of
 * the closed list (never NONE). */
proto_nack_code_t proto_nack_code_parse(const char *name, size_t length);

/* Why a decode failed: a short text naming the key or position, e.g.
 * "missing key 'seq'", "key 'level': expected one of ok|soft|hard", and
 * (v1.1) the same said for machines, so a coordinator can copy it into its
 * nack: `code` (NOT_A_MAP, MISSING_KEY, BAD_KEY, BAD_VALUE, VERSION,
 * TOO_LARGE, TOO_MANY_RECORDS or BAD_RECORD; NONE until a decoder fails),
 * `field` (the key or record field at fault, "" when not known) and, for
 * BAD_RECORD, `record_index`. Every decoder resets these on entry; `text` is
 * only written on failure.
 *
 * The members sit in an anonymous struct whose first member is a scalar so
 * that the v1 initialiser `proto_error_t error = {{0}};` stays a complete
 * zero initialiser (no -Wmissing-field-initializers, no -Wmissing-braces). */
typedef struct {
    struct {
        proto_nack_code_t code;
        char text[160];
        char field[PROTO_FIELD_MAX + 1];
        bool has_record_index;
        uint32_t record_index; /* 0-based, when has_record_index */
    };
} proto_error_t;

#endif
