/* sc_settings: the coordinator's validated configuration, filled once at
 * start-up by sc_config from cmn_config and read-only afterwards (every
 * actor may read it). */
#ifndef SC_SETTINGS_H
#define SC_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mdbp/common.h>
#include "sc_watermark.h"

/* Workers are few (each holds a database connection). */
#define SC_WORKERS_MAX 64

typedef struct {
    char coordinator_id[MDBP_ID_MAX + 1];
    const char *ingest_endpoint;     /* ROUTER bind endpoint */
    const char *feedback_endpoint;   /* XPUB bind endpoint */
    const char *sink_uri;            /* sqlite:PATH, postgres://..., null: */
    const char *dlq_path;            /* dead-letter NDJSON file */
    size_t capacity;                 /* queue capacity, records */
    sc_watermark_config_t watermark; /* thresholds, dead-band, dwell */
    size_t workers;                  /* worker actors */
    size_t batch_size;               /* records per transaction, at most */
    int64_t batch_timeout_ms;        /* longest wait for a full chunk */
    bool batch_eager;                /* idle workers take what is there */
    int64_t heartbeat_ms;            /* feedback heartbeat interval */
    int feedback_hwm;                /* XPUB send high-water mark, messages */
    int64_t drain_timeout_ms;        /* shutdown flush budget */
    uint32_t retry_limit;            /* quick retries before the breaker */
    int64_t retry_base_ms;           /* first backoff */
    int64_t retry_max_ms;            /* backoff cap */
    int64_t sojourn_target_ms;       /* oldest-record age target; 0: off */
    int64_t sojourn_interval_ms;     /* above the target this long: SOFT */
    int64_t sink_stall_ms;           /* no commit this long: sink down */
    int64_t sink_recovery_ms;        /* pressure ramp after the sink is up */
    uint32_t breaker_threshold;      /* consecutive failures that open it */
    int64_t breaker_timeout_ms;      /* how long it stays open */
    int64_t db_timeout_ms;           /* client deadline per database call */
    uint64_t epoch;                  /* random per run */
    /* HTTP (sc_http): /health /ready /status /metrics. */
    const char *http_bind;         /* bind address */
    int http_port;                 /* 0: a free one */
    size_t http_max_request_bytes; /* larger bodies answer 413 */
    int http_request_timeout_ms;   /* a request must arrive within this */
    int http_threads;              /* civetweb workers (slow clients) */
    /* Webhook broadcaster (seed 003): every transition POSTed as JSON. */
    bool fb_http_enabled;           /* MDS_FB_ENABLE_HTTP_BROADCAST */
    const char *fb_http_endpoint;   /* http://host[:port]/path */
    int64_t fb_http_timeout_ms;     /* per attempt */
    int fb_http_max_retries;        /* attempts after the first */
    int64_t fb_http_backoff_ms;     /* first retry wait, doubles, jitter */
    int64_t fb_http_backoff_max_ms; /* the doubling stops here */
    size_t fb_http_queue_capacity;  /* waiting events; oldest dropped */
    const char *fb_http_token;      /* MDS_FB_HTTP_TOKEN: bearer, or NULL */
    /* CURVE on both sockets when set (docs/security.md). */
    const char *curve_secret_key_file; /* server key pair (czmq cert) */
    const char *curve_clients_dir;     /* allow-list of client certs */
} sc_settings_t;

#endif
