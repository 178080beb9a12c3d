/* pl_scale_cell: the feedback scale through one C11 atomic (see the
 * header for the memory ordering). */
#include "pl_scale_cell.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* A lock on either side would bring back the wait this module removes. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
_Static_assert(sizeof(double) == sizeof(uint64_t), "a double is 64 bits");

struct _pl_scale_cell_t {
    _Atomic uint64_t bits; /* the scale's double, bit for bit */
};

static uint64_t s_bits(double scale)
{
    if (!(scale > 0)) /* also NaN: never stored, so UNSEEN stays unseen */
        scale = 0;
    if (scale > 1)
        scale = 1;
    uint64_t bits;
    memcpy(&bits, &scale, sizeof bits);
    return bits;
}

pl_scale_cell_t *pl_scale_cell_new(double initial)
{
    pl_scale_cell_t *self = malloc(sizeof *self);
    if (self)
        atomic_init(&self->bits, s_bits(initial));
    return self;
}

void pl_scale_cell_destroy(pl_scale_cell_t **self_p)
{
    assert(self_p);
    free(*self_p);
    *self_p = NULL;
}

void pl_scale_cell_store(pl_scale_cell_t *self, double scale)
{
    assert(self);
    atomic_store_explicit(&self->bits, s_bits(scale), memory_order_release);
}

bool pl_scale_cell_observed_at_store(double previous, double next)
{
    return !(next > previous);
}

bool pl_scale_cell_poll(pl_scale_cell_t *self, uint64_t *seen, double *scale)
{
    assert(self && seen && scale);
    uint64_t bits = atomic_load_explicit(&self->bits, memory_order_acquire);
    if (bits == *seen)
        return false;
    *seen = bits;
    memcpy(scale, &bits, sizeof *scale);
    return true;
}
