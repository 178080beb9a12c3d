/* sc_watermark: the backpressure level state machine (see sc_watermark.h). */
#include "sc_watermark.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

struct _sc_watermark_t {
    sc_watermark_config_t config; /* thresholds, copied */
    mdbp_level_t level;          /* current level */
    int64_t changed_ns;           /* when `level` last changed */
};

int sc_watermark_config_check(const sc_watermark_config_t *config,
                              const char **reason)
{
    const char *why = NULL;
    if (config->capacity == 0)
        why = "capacity must be at least 1";
    else if (config->high == 0 || config->high > config->capacity)
        why = "high watermark must be between 1 and the capacity";
    else if (config->low >= config->high)
        why = "low watermark must be below the high watermark";
    else if (config->dead_band > config->low)
        why = "dead-band must not exceed the low watermark";
    else if (config->dwell_ns < 0)
        why = "dwell must not be negative";
    if (reason)
        *reason = why;
    return why ? -1 : 0;
}

sc_watermark_t *sc_watermark_new(const sc_watermark_config_t *config,
                                 int64_t now_ns)
{
    assert(sc_watermark_config_check(config, NULL) == 0);
    sc_watermark_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->level = MDBP_LEVEL_OK;
    self->changed_ns = now_ns;
    return self;
}

void sc_watermark_destroy(sc_watermark_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

/* The level the size calls for when going up (the seed's rule). */
static mdbp_level_t s_level_up(const sc_watermark_config_t *config,
                                uint64_t size)
{
    if (size >= config->high)
        return MDBP_LEVEL_HARD;
    if (size > config->low)
        return MDBP_LEVEL_SOFT;
    return MDBP_LEVEL_OK;
}

/* The level the size calls for when going down: the thresholds moved down
 * by the dead-band (saturating at 0, where leaving is then impossible:
 * "size <= L - D" with L < D has no solution, and "size < H - D" neither
 * when H <= D). */
static mdbp_level_t s_level_down(const sc_watermark_config_t *config,
                                  uint64_t size)
{
    const uint64_t band = config->dead_band;
    if (config->low >= band && size <= config->low - band)
        return MDBP_LEVEL_OK;
    if (config->high > band && size < config->high - band)
        return MDBP_LEVEL_SOFT;
    return MDBP_LEVEL_HARD;
}

bool sc_watermark_update(sc_watermark_t *self, uint64_t size, int64_t now_ns,
                         mdbp_level_t *previous)
{
    assert(self);
    mdbp_level_t next = self->level;
    mdbp_level_t up = s_level_up(&self->config, size);
    if (up > self->level)
        next = up;
    else {
        mdbp_level_t down = s_level_down(&self->config, size);
        if (down < self->level &&
            now_ns - self->changed_ns >= self->config.dwell_ns)
            next = down;
    }
    if (next == self->level)
        return false;
    if (previous)
        *previous = self->level;
    self->level = next;
    self->changed_ns = now_ns;
    return true;
}

mdbp_level_t sc_watermark_level(sc_watermark_t *self)
{
    assert(self);
    return self->level;
}

int64_t sc_watermark_changed_ns(sc_watermark_t *self)
{
    assert(self);
    return self->changed_ns;
}

/* Hints are ratios of sizes: this absorbs their rounding, so that a move of
 * exactly SC_HINT_STEP counts. */
#define SC_HINT_EPSILON 1e-9

bool sc_watermark_hint_moved(double published, double hint)
{
    if (hint != published && (hint == 0.0 || hint == 1.0))
        return true;
    return fabs(hint - published) >= SC_HINT_STEP - SC_HINT_EPSILON;
}

double sc_watermark_scale_hint(const sc_watermark_config_t *config,
                               uint64_t size)
{
    if (size <= config->low)
        return 1.0;
    if (size >= config->high)
        return 0.0;
    return (double)(config->high - size) / (double)(config->high - config->low);
}
