/* sc_state: the coordinator's live state published as C11 atomics.
 *
 * Each field has one writer (named below); any thread reads it (the HTTP
 * handlers for /ready and /status). Nobody blocks on an actor to answer a
 * probe. Feedback messages do not read these: the core hands the
 * publisher one consistent snapshot (sc_snapshot.h). */
#ifndef SC_STATE_H
#define SC_STATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sc_settings.h"

/* mdbp_priority_t's classes (MDBP_PRIORITY_COUNT; this header stays free
 * of the codec's). */
#define SC_PRIORITY_CLASSES 3

/* Reachability of a worker's database, as last seen. */
#define SC_REACHABLE_UNKNOWN (-1)
#define SC_REACHABLE_NO 0
#define SC_REACHABLE_YES 1

typedef struct {
    _Atomic uint64_t depth;    /* core: records not committed */
    _Atomic int level;         /* core: mdbp_level_t */
    _Atomic double drain_rate; /* core: committed records/s, smoothed */
    _Atomic bool draining;     /* core: shutdown began */
    _Atomic uint64_t seq;      /* publisher: last published seq */
    /* core (v1.1 drain signals, feedback.md 3.2) */
    _Atomic uint32_t oldest_age_ms;        /* oldest uncommitted record */
    _Atomic double commit_latency_ms;      /* recent mean dispatch -> commit */
    _Atomic int sink_state;                /* mdbp_sink_state_t */
    _Atomic double pressure;               /* 0..1 */
    _Atomic uint32_t producers;            /* active producers */
    _Atomic uint32_t credit_initial;       /* for a new producer */
    /* by mdbp_priority_t: active producers, share factor (ingest.md 4.5) */
    _Atomic uint32_t class_producers[SC_PRIORITY_CLASSES];
    _Atomic double class_factor[SC_PRIORITY_CLASSES];
    /* core (issue 15: what /status explains the level with) */
    _Atomic int64_t level_changed_ns; /* monotonic, the last level change */
    _Atomic int64_t level_changed_ms; /* wall clock (Unix ms), the same */
    _Atomic int reason;               /* sc_hint_reason_t of that change */
    _Atomic double incoming_rate;     /* records/s admitted */
    _Atomic double offered_rate;      /* records/s in decoded batches */
    _Atomic double written_rate;      /* rows/s newly written */
    _Atomic double duplicates_rate;   /* rows/s already stored */
    /* workers: a database that refuses us (sc_sink_problem_t), 0: none */
    _Atomic int sink_problem;
    _Atomic int breaker[SC_WORKERS_MAX];   /* worker i: sc_breaker_state_t */
    _Atomic int reachable[SC_WORKERS_MAX]; /* worker i: SC_REACHABLE_* */
} sc_state_t;

/* Sets every field to its start value (OK, empty, unknown reachability). */
void sc_state_init(sc_state_t *self);

/* The worst breaker state over `workers` workers (open > half-open >
 * closed). Any thread. */
int sc_state_breaker(sc_state_t *self, size_t workers);

/* True when every worker's database was reachable at its last contact, no
 * breaker is open, the sink is not down and the coordinator is not
 * draining. Any thread. */
bool sc_state_ready(sc_state_t *self, size_t workers);

#endif
