/* sc_state: start values and readers of the published atomics. */
#include "sc_state.h"

#include <mdbp/feedback.h>
#include "sc_breaker.h"

void sc_state_init(sc_state_t *self)
{
    atomic_init(&self->depth, 0);
    atomic_init(&self->level, MDBP_LEVEL_OK);
    atomic_init(&self->drain_rate, 0.0);
    atomic_init(&self->draining, false);
    atomic_init(&self->seq, 0);
    atomic_init(&self->oldest_age_ms, 0);
    atomic_init(&self->commit_latency_ms, 0.0);
    atomic_init(&self->sink_state, MDBP_SINK_STATE_UP);
    atomic_init(&self->pressure, 0.0);
    atomic_init(&self->producers, 0);
    atomic_init(&self->credit_initial, 0);
    for (size_t i = 0; i < SC_PRIORITY_CLASSES; i++) {
        atomic_init(&self->class_producers[i], 0);
        atomic_init(&self->class_factor[i], 1.0);
    }
    atomic_init(&self->level_changed_ns, 0);
    atomic_init(&self->level_changed_ms, 0);
    atomic_init(&self->reason, 0);
    atomic_init(&self->incoming_rate, 0.0);
    atomic_init(&self->offered_rate, 0.0);
    atomic_init(&self->written_rate, 0.0);
    atomic_init(&self->duplicates_rate, 0.0);
    atomic_init(&self->sink_problem, 0);
    for (size_t i = 0; i < SC_WORKERS_MAX; i++) {
        atomic_init(&self->breaker[i], SC_BREAKER_CLOSED);
        atomic_init(&self->reachable[i], SC_REACHABLE_UNKNOWN);
    }
}

int sc_state_breaker(sc_state_t *self, size_t workers)
{
    int worst = SC_BREAKER_CLOSED;
    for (size_t i = 0; i < workers && i < SC_WORKERS_MAX; i++) {
        int state = atomic_load(&self->breaker[i]);
        if (state > worst)
            worst = state;
    }
    return worst;
}

bool sc_state_ready(sc_state_t *self, size_t workers)
{
    if (atomic_load(&self->draining))
        return false;
    if (sc_state_breaker(self, workers) == SC_BREAKER_OPEN)
        return false;
    /* Every writer stuck, a hung database, a dead-letter file that cannot
     * be written (feedback.md 6.4): not a place to send work. */
    if (atomic_load(&self->sink_state) == MDBP_SINK_STATE_DOWN)
        return false;
    for (size_t i = 0; i < workers && i < SC_WORKERS_MAX; i++)
        if (atomic_load(&self->reachable[i]) != SC_REACHABLE_YES)
            return false;
    return true;
}
