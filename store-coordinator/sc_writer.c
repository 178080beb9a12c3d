/* sc_writer: retry, breaker, isolation and dead-letter decisions for one
 * worker (see sc_writer.h). */
#include "sc_writer.h"

#include <assert.h>
#include <stdlib.h>

#include "cmn_clock.h"

struct _sc_writer_t {
    sc_writer_config_t config;
    sc_breaker_t *breaker;     /* guards the database */
    bool busy;                 /* holds a chunk */
    size_t count;              /* records in the chunk */
    size_t index;              /* next record (one by one), or 0 */
    size_t span;               /* records of the WRITE in progress */
    bool one_by_one;           /* isolating refused records */
    bool dead_letter_pending;  /* record `index` goes to the DLQ next */
    bool synced;               /* the DLQ is synced for this chunk */
    uint32_t attempt;          /* consecutive transient failures */
    int64_t waiting_until_ns;  /* a backoff's end, or 0 */
    int64_t last_contact_ns;   /* last write or ping */
    sc_writer_counts_t counts; /* of the current chunk */
};

sc_writer_t *sc_writer_new(const sc_writer_config_t *config, int64_t now_ns)
{
    assert(config && config->random);
    assert(config->retry_base_ns > 0 &&
           config->retry_base_ns <= config->retry_max_ns);
    sc_writer_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->breaker =
        sc_breaker_new(config->breaker_threshold, config->breaker_timeout_ns);
    if (!self->breaker) {
        free(self);
        return NULL;
    }
    /* First contact at once, so /ready knows early. */
    self->last_contact_ns = now_ns - SC_WRITER_PING_INTERVAL_MS * CMN_NS_PER_MS;
    return self;
}

void sc_writer_destroy(sc_writer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sc_breaker_destroy(&(*self_p)->breaker);
    free(*self_p);
    *self_p = NULL;
}

void sc_writer_begin(sc_writer_t *self, size_t count)
{
    assert(self && !self->busy && count >= 1);
    self->busy = true;
    self->count = count;
    self->index = 0;
    self->span = 0;
    self->one_by_one = false;
    self->dead_letter_pending = false;
    self->synced = false;
    self->attempt = 0;
    self->waiting_until_ns = 0;
    self->counts = (sc_writer_counts_t){0};
}

/* The backoff before retry `attempt` (1 = the first): base doubling up to
 * the cap, then uniform over its upper half. */
static int64_t s_backoff_ns(sc_writer_t *self)
{
    int64_t delay = self->config.retry_base_ns;
    for (uint32_t i = 1; i < self->attempt && delay < self->config.retry_max_ns;
         i++)
        delay *= 2;
    if (delay > self->config.retry_max_ns)
        delay = self->config.retry_max_ns;
    int64_t half = delay / 2;
    uint64_t bits = self->config.random(self->config.random_arg);
    return half + (int64_t)(bits % (uint64_t)(half + 1));
}

/* The dead-letter file failed: back off and try again, without touching
 * the database's breaker (the database is fine; a breaker left open with
 * no write to close it would hold the sink "down" for good). */
static sc_writer_outcome_t s_fail_dead_letter(sc_writer_t *self, int64_t now_ns)
{
    self->attempt++;
    self->waiting_until_ns = now_ns + s_backoff_ns(self);
    return SC_WRITER_RETRY;
}

/* One more transient database failure: count it toward the breaker (trip
 * it when the quick retries are used up) and wait. */
static sc_writer_outcome_t s_fail(sc_writer_t *self, int64_t now_ns)
{
    self->attempt++;
    sc_breaker_failure(self->breaker, now_ns);
    if (self->attempt >= self->config.retry_limit)
        while (sc_breaker_state(self->breaker) != SC_BREAKER_OPEN)
            sc_breaker_failure(self->breaker, now_ns);
    if (sc_breaker_state(self->breaker) == SC_BREAKER_OPEN)
        self->waiting_until_ns =
            now_ns + sc_breaker_wait_ns(self->breaker, now_ns);
    else
        self->waiting_until_ns = now_ns + s_backoff_ns(self);
    return SC_WRITER_RETRY;
}

void sc_writer_next(sc_writer_t *self, int64_t now_ns,
                    sc_writer_action_t *action)
{
    assert(self && action);
    *action = (sc_writer_action_t){.step = SC_WRITER_IDLE};
    if (!self->busy) {
        int64_t ping_ns =
            self->last_contact_ns + SC_WRITER_PING_INTERVAL_MS * CMN_NS_PER_MS;
        int64_t breaker_ns = now_ns + sc_breaker_wait_ns(self->breaker, now_ns);
        if (now_ns >= ping_ns && breaker_ns <= now_ns)
            action->step = SC_WRITER_PING;
        else
            action->until_ns = ping_ns > breaker_ns ? ping_ns : breaker_ns;
        return;
    }
    if (self->waiting_until_ns > now_ns) {
        action->step = SC_WRITER_WAIT;
        action->until_ns = self->waiting_until_ns;
        return;
    }
    self->waiting_until_ns = 0;
    if (self->dead_letter_pending) {
        action->step = SC_WRITER_DEAD_LETTER;
        action->index = self->index;
        return;
    }
    if (self->index < self->count) {
        int64_t wait_ns = sc_breaker_wait_ns(self->breaker, now_ns);
        if (wait_ns > 0) {
            action->step = SC_WRITER_WAIT;
            action->until_ns = now_ns + wait_ns;
            return;
        }
        self->span = self->one_by_one ? 1 : self->count - self->index;
        action->step = SC_WRITER_WRITE;
        action->index = self->index;
        action->count = self->span;
        return;
    }
    if (self->counts.dead_lettered > 0 && !self->synced) {
        action->step = SC_WRITER_SYNC;
        return;
    }
    action->step = SC_WRITER_DONE;
}

sc_writer_outcome_t sc_writer_wrote(sc_writer_t *self, sc_sink_status_t status,
                                    const sc_sink_counts_t *counts,
                                    int64_t now_ns)
{
    assert(self && self->busy && self->span > 0);
    self->last_contact_ns = now_ns;
    if (status == SC_SINK_TRANSIENT)
        return s_fail(self, now_ns);
    /* The database answered: whatever it said, it is up. */
    sc_breaker_success(self->breaker);
    if (status == SC_SINK_OK) {
        assert(counts);
        self->counts.written += counts->written;
        self->counts.duplicates += counts->duplicates;
        self->index += self->span;
        self->attempt = 0;
        return SC_WRITER_STORED;
    }
    self->attempt = 0;
    if (!self->one_by_one && self->count > 1) {
        self->one_by_one = true;
        return SC_WRITER_ISOLATE;
    }
    self->dead_letter_pending = true;
    return SC_WRITER_REFUSED;
}

sc_writer_outcome_t sc_writer_dead_lettered(sc_writer_t *self, int result,
                                            int64_t now_ns)
{
    assert(self && self->busy && self->dead_letter_pending);
    self->dead_letter_pending = false;
    if (result != 0)
        /* Then the record is written again. */
        return s_fail_dead_letter(self, now_ns);
    self->counts.dead_lettered++;
    self->index++;
    self->attempt = 0;
    return SC_WRITER_SETTLED;
}

sc_writer_outcome_t sc_writer_synced(sc_writer_t *self, int result,
                                     int64_t now_ns)
{
    assert(self && self->busy);
    if (result != 0)
        return s_fail_dead_letter(self, now_ns);
    self->synced = true;
    self->attempt = 0;
    return SC_WRITER_SETTLED;
}

void sc_writer_pinged(sc_writer_t *self, int64_t now_ns)
{
    assert(self);
    self->last_contact_ns = now_ns;
}

sc_writer_counts_t sc_writer_finish(sc_writer_t *self)
{
    assert(self && self->busy);
    self->busy = false;
    return self->counts;
}

uint32_t sc_writer_attempt(sc_writer_t *self)
{
    assert(self);
    return self->attempt;
}

sc_breaker_state_t sc_writer_breaker(sc_writer_t *self)
{
    assert(self);
    return sc_breaker_state(self->breaker);
}
