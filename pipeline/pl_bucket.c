/* pl_bucket: a token bucket on an injected clock, with scale, pause and ramp.
 *
 * Accounting is lazy: `tokens` is exact at `last_ns` and every operation
 * first integrates the refill rate from `last_ns` to now. During a ramp the
 * scale grows linearly from `ramp_from` to `scale`, so the integral is a
 * linear term plus a difference of squares; this keeps the accounting exact
 * however rarely the bucket is read. */
#include "pl_bucket.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

/* Tokens are doubles; this absorbs rounding so that exactly n refilled
 * tokens are never refused because of the last bit. */
#define PL_BUCKET_EPSILON 1e-9
/* No ramp in progress. */
#define PL_BUCKET_NO_RAMP INT64_MIN
#define PL_NS_PER_SEC_D 1e9

struct _pl_bucket_t {
    cmn_clock_t *clock;    /* borrowed */
    double capacity;       /* burst, tokens */
    double rate;           /* base refill rate, tokens/s */
    double scale;          /* 0..1, applied to rate */
    double per_ns;         /* rate * scale / 1e9: full-speed refill */
    double tokens;         /* banked tokens, exact at last_ns */
    int64_t last_ns;       /* monotonic time of the last refill */
    int64_t ramp_ns;       /* duration of a ramp up, 0 = none */
    int64_t ramp_start_ns; /* start of the current ramp or NO_RAMP */
    double ramp_from;      /* scale at the start of the current ramp */
    bool paused;           /* scale is 0: grant nothing */
};

static void s_update_per_ns(pl_bucket_t *self)
{
    self->per_ns = self->rate * self->scale / PL_NS_PER_SEC_D;
}

/* The refill rate at the start of the current ramp, tokens/ns. */
static double s_ramp_from_per_ns(pl_bucket_t *self)
{
    return self->rate * self->ramp_from / PL_NS_PER_SEC_D;
}

/* Tokens a ramp grants between `from` and `to` ns after its start (both
 * within the ramp): the integral of a linearly growing rate. */
static double s_ramp_gain(pl_bucket_t *self, double from, double to)
{
    double start = s_ramp_from_per_ns(self);
    return start * (to - from) + (self->per_ns - start) *
                                     (to * to - from * from) /
                                     (2.0 * (double)self->ramp_ns);
}

/* The scale in force at `now` (refilled up to now): the ramp's progress. */
static double s_scale_now(pl_bucket_t *self, int64_t now)
{
    if (self->paused)
        return 0;
    if (self->ramp_start_ns == PL_BUCKET_NO_RAMP)
        return self->scale;
    return self->ramp_from + (self->scale - self->ramp_from) *
                                 (double)(now - self->ramp_start_ns) /
                                 (double)self->ramp_ns;
}

/* Integrates the refill from last_ns to now. */
static void s_refill(pl_bucket_t *self, int64_t now)
{
    if (now <= self->last_ns)
        return;
    if (self->paused) {
        self->last_ns = now;
        return;
    }
    double gained;
    if (self->ramp_start_ns != PL_BUCKET_NO_RAMP) {
        int64_t ramp_end = self->ramp_start_ns + self->ramp_ns;
        double from = (double)(self->last_ns - self->ramp_start_ns);
        int64_t until = now < ramp_end ? now : ramp_end;
        double to = (double)(until - self->ramp_start_ns);
        gained = s_ramp_gain(self, from, to);
        if (now >= ramp_end) {
            gained += self->per_ns * (double)(now - ramp_end);
            self->ramp_start_ns = PL_BUCKET_NO_RAMP;
        }
    } else {
        gained = self->per_ns * (double)(now - self->last_ns);
    }
    self->tokens += gained;
    if (self->tokens > self->capacity)
        self->tokens = self->capacity;
    self->last_ns = now;
}

pl_bucket_t *pl_bucket_new(cmn_clock_t *clock, double capacity, double rate,
                           int64_t ramp_ns)
{
    assert(clock);
    assert(capacity >= 0 && rate >= 0 && ramp_ns >= 0);
    pl_bucket_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->clock = clock;
    self->capacity = capacity;
    self->rate = rate;
    self->scale = 1.0;
    self->tokens = capacity;
    self->last_ns = cmn_clock_mono_ns(clock);
    self->ramp_ns = ramp_ns;
    self->ramp_start_ns = PL_BUCKET_NO_RAMP;
    s_update_per_ns(self);
    return self;
}

void pl_bucket_destroy(pl_bucket_t **self_p)
{
    assert(self_p);
    free(*self_p);
    *self_p = NULL;
}

bool pl_bucket_try(pl_bucket_t *self, double n)
{
    assert(self && n >= 0);
    s_refill(self, cmn_clock_mono_ns(self->clock));
    if (self->paused || self->tokens + PL_BUCKET_EPSILON < n)
        return false;
    self->tokens -= n;
    if (self->tokens < 0)
        self->tokens = 0;
    return true;
}

uint64_t pl_bucket_take(pl_bucket_t *self, uint64_t max)
{
    assert(self);
    s_refill(self, cmn_clock_mono_ns(self->clock));
    if (self->paused)
        return 0;
    double whole = floor(self->tokens + PL_BUCKET_EPSILON);
    uint64_t granted = whole >= (double)max ? max : (uint64_t)whole;
    self->tokens -= (double)granted;
    if (self->tokens < 0)
        self->tokens = 0;
    return granted;
}

int64_t pl_bucket_wait_ns(pl_bucket_t *self, double n)
{
    assert(self && n >= 0);
    int64_t now = cmn_clock_mono_ns(self->clock);
    s_refill(self, now);
    if (self->tokens + PL_BUCKET_EPSILON >= n && !self->paused)
        return 0;
    if (self->paused || self->per_ns <= 0 ||
        n > self->capacity + PL_BUCKET_EPSILON)
        return PL_BUCKET_WAIT_FOREVER;
    double need = n - self->tokens;
    double wait;
    if (self->ramp_start_ns != PL_BUCKET_NO_RAMP) {
        double ramp = (double)self->ramp_ns;
        double done = (double)(now - self->ramp_start_ns);
        double ramp_gain = s_ramp_gain(self, done, ramp);
        if (need <= ramp_gain) {
            /* Solve a w^2 + b w = need for the wait w, with the rate now
             * (b) growing by 2a per ns until the end of the ramp. */
            double slope = (self->per_ns - s_ramp_from_per_ns(self)) / ramp;
            double a = slope / 2.0;
            double b = s_ramp_from_per_ns(self) + slope * done;
            wait = a > 0 ? (sqrt(b * b + 4.0 * a * need) - b) / (2.0 * a)
                         : need / b;
        } else
            wait = (ramp - done) + (need - ramp_gain) / self->per_ns;
    } else {
        wait = need / self->per_ns;
    }
    if (wait >= (double)(INT64_MAX / 2))
        return PL_BUCKET_WAIT_FOREVER;
    /* Rounding up and one more nanosecond: waking early only loops again. */
    return (int64_t)ceil(wait) + 1;
}

static void s_sleep(pl_bucket_t *self, int64_t ns)
{
    if (cmn_clock_is_virtual(self->clock)) {
        cmn_clock_advance(self->clock, ns);
        return;
    }
    struct timespec pause = {.tv_sec = ns / CMN_NS_PER_SEC,
                             .tv_nsec = ns % CMN_NS_PER_SEC};
    nanosleep(&pause, NULL);
}

int pl_bucket_acquire(pl_bucket_t *self, double n, int64_t deadline_ns)
{
    assert(self && n >= 0);
    while (!pl_bucket_try(self, n)) {
        int64_t wait = pl_bucket_wait_ns(self, n);
        int64_t now = cmn_clock_mono_ns(self->clock);
        if (wait == PL_BUCKET_WAIT_FOREVER || wait > deadline_ns - now)
            return PL_BUCKET_TIMEOUT;
        s_sleep(self, wait);
    }
    return 0;
}

void pl_bucket_set_rate(pl_bucket_t *self, double rate)
{
    assert(self && rate >= 0);
    s_refill(self, cmn_clock_mono_ns(self->clock));
    self->rate = rate;
    s_update_per_ns(self);
}

void pl_bucket_set_capacity(pl_bucket_t *self, double capacity)
{
    assert(self && capacity >= 0);
    s_refill(self, cmn_clock_mono_ns(self->clock));
    self->capacity = capacity;
    if (self->tokens > capacity)
        self->tokens = capacity;
}

void pl_bucket_set_scale(pl_bucket_t *self, double scale)
{
    assert(self);
    if (!(scale > 0)) /* also catches NaN */
        scale = 0;
    if (scale > 1)
        scale = 1;
    int64_t now = cmn_clock_mono_ns(self->clock);
    s_refill(self, now);
    double current = s_scale_now(self, now);
    if (scale == self->scale && !self->paused)
        return; /* the same target again: a ramp under way goes on */
    if (scale == 0) {
        if (!self->paused)
            self->tokens = 0;
        self->paused = true;
        self->ramp_start_ns = PL_BUCKET_NO_RAMP;
    } else if (scale > current && self->ramp_ns > 0) {
        /* Up, from a pause or not: from where we are, over ramp_ns. */
        self->paused = false;
        self->ramp_start_ns = now;
        self->ramp_from = current;
    } else {
        /* Down (or no ramp): at once. */
        self->paused = false;
        self->ramp_start_ns = PL_BUCKET_NO_RAMP;
    }
    self->scale = scale;
    s_update_per_ns(self);
}

double pl_bucket_tokens(pl_bucket_t *self)
{
    assert(self);
    s_refill(self, cmn_clock_mono_ns(self->clock));
    return self->tokens;
}

double pl_bucket_effective_rate(pl_bucket_t *self)
{
    assert(self);
    int64_t now = cmn_clock_mono_ns(self->clock);
    s_refill(self, now);
    return self->rate * s_scale_now(self, now);
}

double pl_bucket_rate(pl_bucket_t *self)
{
    assert(self);
    return self->rate;
}

double pl_bucket_capacity(pl_bucket_t *self)
{
    assert(self);
    return self->capacity;
}

double pl_bucket_scale(pl_bucket_t *self)
{
    assert(self);
    return self->scale;
}

bool pl_bucket_paused(pl_bucket_t *self)
{
    assert(self);
    return self->paused;
}

bool pl_bucket_ramping(pl_bucket_t *self)
{
    assert(self);
    s_refill(self, cmn_clock_mono_ns(self->clock));
    return self->ramp_start_ns != PL_BUCKET_NO_RAMP;
}
