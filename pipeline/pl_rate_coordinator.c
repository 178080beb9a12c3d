/* pl_rate_coordinator: per-provider token buckets, cooldowns and breakers. */
#include "pl_rate_coordinator.h"

#include <assert.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct {
    char scope[PL_RATE_SCOPE_MAX + 1];
    int64_t until_ns; /* monotonic end; <= now means the slot is free */
} s_cooldown_t;

typedef struct {
    char name[MDBP_NAME_MAX + 1];
    pl_rate_config_t config;
    pl_bucket_t *bucket;    /* owned */
    mdbp_level_t pressure; /* last level applied by feedback */
    s_cooldown_t cooldowns[PL_RATE_COOLDOWNS_MAX];
    pl_breaker_state_t breaker; /* as of the last update */
    int failures;               /* consecutive, while closed */
    int64_t opened_ns;          /* when the breaker last opened */
    bool probe_out;             /* half-open: the probe token was granted */
    int64_t probe_ns;           /* when it was granted */
} s_provider_t;

struct _pl_rate_coordinator_t {
    cmn_clock_t *clock; /* borrowed */
    int64_t ramp_ns;    /* given to every bucket */
    s_provider_t providers[PL_RATE_PROVIDERS_MAX];
    size_t count;
};

static const char *const s_breaker_names[] = {"closed", "half-open", "open"};

const char *pl_breaker_state_name(pl_breaker_state_t state)
{
    assert(state <= PL_BREAKER_OPEN);
    return s_breaker_names[state];
}

static int64_t s_seconds_to_ns(double seconds)
{
    double ns = seconds * (double)CMN_NS_PER_SEC;
    if (ns >= (double)(INT64_MAX / 4))
        return INT64_MAX / 4;
    return ns > 0 ? (int64_t)ns : 0;
}

static s_provider_t *s_provider(pl_rate_coordinator_t *self, size_t idx)
{
    assert(self && idx < self->count);
    return &self->providers[idx];
}

/* Moves an open breaker to half-open once its timeout has passed, and frees
 * a half-open probe whose outcome never came. */
static void s_breaker_update(s_provider_t *provider, int64_t now)
{
    int64_t timeout = s_seconds_to_ns(provider->config.breaker_timeout_sec);
    if (provider->breaker == PL_BREAKER_OPEN &&
        now - provider->opened_ns >= timeout) {
        provider->breaker = PL_BREAKER_HALF_OPEN;
        provider->probe_out = false;
    }
    if (provider->breaker == PL_BREAKER_HALF_OPEN && provider->probe_out &&
        now - provider->probe_ns >= timeout)
        provider->probe_out = false;
}

static int64_t s_cooldown_left(s_provider_t *provider, const char *scope,
                               int64_t now)
{
    for (size_t k = 0; k < PL_RATE_COOLDOWNS_MAX; k++) {
        s_cooldown_t *cooldown = &provider->cooldowns[k];
        if (cooldown->until_ns > now &&
            strncmp(cooldown->scope, scope, PL_RATE_SCOPE_MAX) == 0)
            return cooldown->until_ns - now;
    }
    return 0;
}

/* Time left in a cooldown that pauses the whole provider: scope `global`
 * or `provider:<its name>`. */
static int64_t s_paused_left(s_provider_t *provider, int64_t now)
{
    char own[PL_RATE_SCOPE_MAX + 1];
    snprintf(own, sizeof own, "%s%s", PL_RATE_SCOPE_PROVIDER_PREFIX,
             provider->name);
    int64_t global = s_cooldown_left(provider, PL_RATE_SCOPE_GLOBAL, now);
    int64_t named = s_cooldown_left(provider, own, now);
    return global > named ? global : named;
}

pl_rate_coordinator_t *pl_rate_coordinator_new(cmn_clock_t *clock,
                                               int64_t ramp_ns)
{
    assert(clock && ramp_ns >= 0);
    pl_rate_coordinator_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->clock = clock;
    self->ramp_ns = ramp_ns;
    return self;
}

void pl_rate_coordinator_destroy(pl_rate_coordinator_t **self_p)
{
    assert(self_p);
    pl_rate_coordinator_t *self = *self_p;
    if (!self)
        return;
    for (size_t idx = 0; idx < self->count; idx++)
        pl_bucket_destroy(&self->providers[idx].bucket);
    free(self);
    *self_p = NULL;
}

int pl_rate_coordinator_add(pl_rate_coordinator_t *self, const char *provider,
                            const pl_rate_config_t *config)
{
    assert(self && provider && config);
    size_t length = strlen(provider);
    if (length == 0 || length > MDBP_NAME_MAX ||
        self->count == PL_RATE_PROVIDERS_MAX ||
        pl_rate_coordinator_find(self, provider) >= 0)
        return -1;
    s_provider_t *entry = &self->providers[self->count];
    memset(entry, 0, sizeof *entry);
    entry->bucket = pl_bucket_new(self->clock, config->capacity,
                                  config->refill_rate, self->ramp_ns);
    if (!entry->bucket)
        return -1;
    memcpy(entry->name, provider, length + 1);
    entry->config = *config;
    entry->pressure = MDBP_LEVEL_OK;
    entry->breaker = PL_BREAKER_CLOSED;
    return (int)self->count++;
}

int pl_rate_coordinator_find(pl_rate_coordinator_t *self, const char *provider)
{
    assert(self && provider);
    for (size_t idx = 0; idx < self->count; idx++)
        if (strcmp(self->providers[idx].name, provider) == 0)
            return (int)idx;
    return -1;
}

size_t pl_rate_coordinator_count(pl_rate_coordinator_t *self)
{
    assert(self);
    return self->count;
}

const char *pl_rate_coordinator_name(pl_rate_coordinator_t *self, size_t idx)
{
    return s_provider(self, idx)->name;
}

/* How many tokens the breaker and a provider-wide cooldown allow now. */
static uint64_t s_allowance(s_provider_t *provider, uint64_t max, int64_t now)
{
    if (s_paused_left(provider, now) > 0)
        return 0;
    s_breaker_update(provider, now);
    if (provider->breaker == PL_BREAKER_OPEN)
        return 0;
    if (provider->breaker == PL_BREAKER_HALF_OPEN)
        return provider->probe_out ? 0 : (max < 1 ? max : 1);
    return max;
}

static void s_granted(s_provider_t *provider, uint64_t granted, int64_t now)
{
    if (granted > 0 && provider->breaker == PL_BREAKER_HALF_OPEN) {
        provider->probe_out = true;
        provider->probe_ns = now;
    }
}

uint64_t pl_rate_coordinator_take(pl_rate_coordinator_t *self, size_t idx,
                                  uint64_t max)
{
    s_provider_t *provider = s_provider(self, idx);
    int64_t now = cmn_clock_mono_ns(self->clock);
    uint64_t allowed = s_allowance(provider, max, now);
    if (allowed == 0)
        return 0;
    uint64_t granted = pl_bucket_take(provider->bucket, allowed);
    s_granted(provider, granted, now);
    return granted;
}

bool pl_rate_coordinator_try(pl_rate_coordinator_t *self, size_t idx,
                             uint64_t n)
{
    s_provider_t *provider = s_provider(self, idx);
    int64_t now = cmn_clock_mono_ns(self->clock);
    if (s_allowance(provider, n, now) < n)
        return false;
    if (!pl_bucket_try(provider->bucket, (double)n))
        return false;
    s_granted(provider, n, now);
    return true;
}

int64_t pl_rate_coordinator_wait_ns(pl_rate_coordinator_t *self, size_t idx,
                                    uint64_t n)
{
    s_provider_t *provider = s_provider(self, idx);
    int64_t now = cmn_clock_mono_ns(self->clock);
    int64_t wait = s_paused_left(provider, now);
    s_breaker_update(provider, now);
    int64_t timeout = s_seconds_to_ns(provider->config.breaker_timeout_sec);
    if (provider->breaker == PL_BREAKER_OPEN) {
        int64_t left = provider->opened_ns + timeout - now;
        if (left > wait)
            wait = left;
    } else if (provider->breaker == PL_BREAKER_HALF_OPEN) {
        if (n > 1)
            return PL_BUCKET_WAIT_FOREVER; /* one probe at a time */
        if (provider->probe_out) {
            int64_t left = provider->probe_ns + timeout - now;
            if (left > wait)
                wait = left;
        }
    }
    int64_t bucket_wait = pl_bucket_wait_ns(provider->bucket, (double)n);
    if (bucket_wait == PL_BUCKET_WAIT_FOREVER)
        return PL_BUCKET_WAIT_FOREVER;
    return bucket_wait > wait ? bucket_wait : wait;
}

static void s_sleep(cmn_clock_t *clock, int64_t ns)
{
    if (cmn_clock_is_virtual(clock)) {
        cmn_clock_advance(clock, ns);
        return;
    }
    struct timespec pause = {.tv_sec = ns / CMN_NS_PER_SEC,
                             .tv_nsec = ns % CMN_NS_PER_SEC};
    nanosleep(&pause, NULL);
}

int pl_rate_coordinator_acquire(pl_rate_coordinator_t *self, size_t idx,
                                uint64_t n, int64_t deadline_ns)
{
    while (!pl_rate_coordinator_try(self, idx, n)) {
        int64_t wait = pl_rate_coordinator_wait_ns(self, idx, n);
        int64_t now = cmn_clock_mono_ns(self->clock);
        if (wait == PL_BUCKET_WAIT_FOREVER || wait > deadline_ns - now)
            return PL_BUCKET_TIMEOUT;
        /* A wait of 0 with a refused try is a probe race: let time move. */
        s_sleep(self->clock, wait > 0 ? wait : 1);
    }
    return 0;
}

void pl_rate_coordinator_set_scale(pl_rate_coordinator_t *self, size_t idx,
                                   double scale)
{
    pl_bucket_set_scale(s_provider(self, idx)->bucket, scale);
}

double pl_rate_coordinator_scale(pl_rate_coordinator_t *self, size_t idx)
{
    return pl_bucket_scale(s_provider(self, idx)->bucket);
}

void pl_rate_coordinator_set_pressure(pl_rate_coordinator_t *self, size_t idx,
                                      mdbp_level_t level)
{
    assert(level <= MDBP_LEVEL_HARD);
    s_provider(self, idx)->pressure = level;
}

mdbp_level_t pl_rate_coordinator_pressure(pl_rate_coordinator_t *self,
                                           size_t idx)
{
    return s_provider(self, idx)->pressure;
}

void pl_rate_coordinator_set_rate(pl_rate_coordinator_t *self, size_t idx,
                                  double refill_rate)
{
    s_provider_t *provider = s_provider(self, idx);
    provider->config.refill_rate = refill_rate;
    pl_bucket_set_rate(provider->bucket, refill_rate);
}

void pl_rate_coordinator_trigger_cooldown(pl_rate_coordinator_t *self,
                                          size_t idx, const char *scope,
                                          double seconds)
{
    assert(scope);
    s_provider_t *provider = s_provider(self, idx);
    int64_t now = cmn_clock_mono_ns(self->clock);
    if (!(seconds > 0))
        seconds = provider->config.cooldown_sec;
    int64_t until = now + s_seconds_to_ns(seconds);
    s_cooldown_t *slot = NULL;
    for (size_t k = 0; k < PL_RATE_COOLDOWNS_MAX; k++) {
        s_cooldown_t *cooldown = &provider->cooldowns[k];
        if (cooldown->until_ns > now &&
            strncmp(cooldown->scope, scope, PL_RATE_SCOPE_MAX) == 0) {
            if (until > cooldown->until_ns)
                cooldown->until_ns = until;
            return;
        }
        /* Otherwise prefer a free slot, else the one ending soonest. */
        if (!slot ||
            (slot->until_ns > now && cooldown->until_ns < slot->until_ns))
            slot = cooldown;
    }
    memset(slot->scope, 0, sizeof slot->scope);
    strncpy(slot->scope, scope, PL_RATE_SCOPE_MAX);
    slot->until_ns = until;
}

int64_t pl_rate_coordinator_cooldown_ns(pl_rate_coordinator_t *self, size_t idx,
                                        const char *scope)
{
    assert(scope);
    return s_cooldown_left(s_provider(self, idx), scope,
                           cmn_clock_mono_ns(self->clock));
}

size_t pl_rate_coordinator_cooldown_count(pl_rate_coordinator_t *self,
                                          size_t idx)
{
    s_provider_t *provider = s_provider(self, idx);
    int64_t now = cmn_clock_mono_ns(self->clock);
    /* Compact: live cooldowns first, in their order. */
    size_t live = 0;
    for (size_t k = 0; k < PL_RATE_COOLDOWNS_MAX; k++)
        if (provider->cooldowns[k].until_ns > now)
            provider->cooldowns[live++] = provider->cooldowns[k];
    for (size_t k = live; k < PL_RATE_COOLDOWNS_MAX; k++)
        memset(&provider->cooldowns[k], 0, sizeof provider->cooldowns[k]);
    return live;
}

const char *pl_rate_coordinator_cooldown_scope(pl_rate_coordinator_t *self,
                                               size_t idx, size_t k)
{
    assert(k < PL_RATE_COOLDOWNS_MAX);
    return s_provider(self, idx)->cooldowns[k].scope;
}

int64_t pl_rate_coordinator_cooldown_left_ns(pl_rate_coordinator_t *self,
                                             size_t idx, size_t k)
{
    assert(k < PL_RATE_COOLDOWNS_MAX);
    int64_t left = s_provider(self, idx)->cooldowns[k].until_ns -
                   cmn_clock_mono_ns(self->clock);
    return left > 0 ? left : 0;
}

void pl_rate_coordinator_record_failure(pl_rate_coordinator_t *self, size_t idx)
{
    s_provider_t *provider = s_provider(self, idx);
    int64_t now = cmn_clock_mono_ns(self->clock);
    s_breaker_update(provider, now);
    if (provider->config.breaker_threshold <= 0)
        return; /* breaker disabled */
    if (provider->breaker == PL_BREAKER_HALF_OPEN ||
        (provider->breaker == PL_BREAKER_CLOSED &&
         ++provider->failures >= provider->config.breaker_threshold)) {
        provider->breaker = PL_BREAKER_OPEN;
        provider->opened_ns = now;
        provider->probe_out = false;
    }
}

void pl_rate_coordinator_record_success(pl_rate_coordinator_t *self, size_t idx)
{
    s_provider_t *provider = s_provider(self, idx);
    s_breaker_update(provider, cmn_clock_mono_ns(self->clock));
    if (provider->breaker == PL_BREAKER_OPEN)
        return; /* a late result from before the breaker opened */
    provider->breaker = PL_BREAKER_CLOSED;
    provider->failures = 0;
    provider->probe_out = false;
}

pl_breaker_state_t pl_rate_coordinator_breaker(pl_rate_coordinator_t *self,
                                               size_t idx)
{
    s_provider_t *provider = s_provider(self, idx);
    s_breaker_update(provider, cmn_clock_mono_ns(self->clock));
    return provider->breaker;
}

pl_bucket_t *pl_rate_coordinator_bucket(pl_rate_coordinator_t *self, size_t idx)
{
    return s_provider(self, idx)->bucket;
}
