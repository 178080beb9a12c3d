/* sc_breaker: closed / open / half-open circuit breaker (see sc_breaker.h). */
#include "sc_breaker.h"

#include <assert.h>
#include <stdlib.h>

struct _sc_breaker_t {
    uint32_t threshold;       /* consecutive failures that open it */
    int64_t open_ns;          /* how long it stays open */
    sc_breaker_state_t state; /* current state */
    uint32_t failures;        /* consecutive failures while closed */
    int64_t opened_ns;        /* when it last opened */
};

sc_breaker_t *sc_breaker_new(uint32_t threshold, int64_t open_ns)
{
    assert(threshold >= 1);
    assert(open_ns >= 0);
    sc_breaker_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->threshold = threshold;
    self->open_ns = open_ns;
    self->state = SC_BREAKER_CLOSED;
    return self;
}

void sc_breaker_destroy(sc_breaker_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

bool sc_breaker_allow(sc_breaker_t *self, int64_t now_ns)
{
    assert(self);
    if (self->state == SC_BREAKER_OPEN &&
        now_ns - self->opened_ns >= self->open_ns)
        self->state = SC_BREAKER_HALF_OPEN;
    return self->state != SC_BREAKER_OPEN;
}

int64_t sc_breaker_wait_ns(sc_breaker_t *self, int64_t now_ns)
{
    assert(self);
    if (sc_breaker_allow(self, now_ns))
        return 0;
    return self->opened_ns + self->open_ns - now_ns;
}

void sc_breaker_success(sc_breaker_t *self)
{
    assert(self);
    self->state = SC_BREAKER_CLOSED;
    self->failures = 0;
}

void sc_breaker_failure(sc_breaker_t *self, int64_t now_ns)
{
    assert(self);
    if (self->state == SC_BREAKER_CLOSED) {
        if (++self->failures < self->threshold)
            return;
    }
    self->state = SC_BREAKER_OPEN;
    self->opened_ns = now_ns;
    self->failures = 0;
}

sc_breaker_state_t sc_breaker_state(sc_breaker_t *self)
{
    assert(self);
    return self->state;
}

const char *sc_breaker_state_name(sc_breaker_state_t state)
{
    switch (state) {
    case SC_BREAKER_CLOSED:
        return "closed";
    case SC_BREAKER_HALF_OPEN:
        return "half_open";
    case SC_BREAKER_OPEN:
        return "open";
    }
    return "unknown";
}
