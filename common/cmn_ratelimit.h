/* cmn_ratelimit: at most one log line per interval, with a count of the
 * events not logged since (e.g. CURVE refusals: every one is counted in a
 * metric, a flood of them must not flood the log). Pure: the caller gives
 * the time. */
#ifndef CMN_RATELIMIT_H
#define CMN_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int64_t interval_ns; /* at most one line per this */
    int64_t last_ns;     /* when the last line was allowed */
    bool started;        /* a line was allowed already */
    uint64_t suppressed; /* events since that line, not logged */
} cmn_ratelimit_t;

/* A limiter allowing one line per `interval_ns`; the first is allowed. */
cmn_ratelimit_t cmn_ratelimit_make(int64_t interval_ns);

/* One event at `now_ns`: true when it may be logged, with *suppressed (may
 * be NULL) set to how many were not logged since the previous line. */
bool cmn_ratelimit_allow(cmn_ratelimit_t *self, int64_t now_ns,
                         uint64_t *suppressed);

#endif
