/* cmn_clock: system and virtual clocks behind one interface. */
#include "cmn_clock.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

struct _cmn_clock_t {
    bool is_virtual;         /* true: readings move only by advance() */
    _Atomic int64_t mono_ns; /* virtual monotonic reading */
    _Atomic int64_t wall_ns; /* virtual wall-clock reading */
};

static int64_t s_read(clockid_t id)
{
    struct timespec now;
    clock_gettime(id, &now);
    return (int64_t)now.tv_sec * CMN_NS_PER_SEC + now.tv_nsec;
}

cmn_clock_t *cmn_clock_new_system(void)
{
    cmn_clock_t *self = calloc(1, sizeof *self);
    return self;
}

cmn_clock_t *cmn_clock_new_virtual(int64_t mono_ns, int64_t wall_ns)
{
    cmn_clock_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->is_virtual = true;
    atomic_init(&self->mono_ns, mono_ns);
    atomic_init(&self->wall_ns, wall_ns);
    return self;
}

void cmn_clock_destroy(cmn_clock_t **self_p)
{
    assert(self_p);
    free(*self_p);
    *self_p = NULL;
}

int64_t cmn_clock_mono_ns(cmn_clock_t *self)
{
    assert(self);
    if (self->is_virtual)
        return atomic_load(&self->mono_ns);
    return s_read(CLOCK_MONOTONIC);
}

int64_t cmn_clock_wall_ns(cmn_clock_t *self)
{
    assert(self);
    if (self->is_virtual)
        return atomic_load(&self->wall_ns);
    return s_read(CLOCK_REALTIME);
}

bool cmn_clock_is_virtual(cmn_clock_t *self)
{
    assert(self);
    return self->is_virtual;
}

void cmn_clock_advance(cmn_clock_t *self, int64_t delta_ns)
{
    assert(self && self->is_virtual);
    assert(delta_ns >= 0);
    atomic_fetch_add(&self->mono_ns, delta_ns);
    atomic_fetch_add(&self->wall_ns, delta_ns);
}

int64_t cmn_clock_now_mono_ns(void)
{
    return s_read(CLOCK_MONOTONIC);
}
