/* pl_policy: turns backpressure levels into rate scales (FeedbackHandler). */
#include "pl_policy.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmn_config.h"

/* Separators of the provider list. */
#define PL_POLICY_LIST_SEPARATORS ", "

struct _pl_policy_t {
    pl_policy_config_t config; /* providers points to our copy below */
    char *providers;           /* owned copy of the list, or NULL */
};

const char *pl_policy_kind_name(pl_policy_kind_t kind)
{
    return kind == PL_POLICY_PROPORTIONAL ? "proportional" : "step";
}

static bool s_valid_scale(double scale)
{
    return scale >= 0 && scale <= 1; /* false for NaN too */
}

pl_policy_t *pl_policy_new(const pl_policy_config_t *config)
{
    assert(config);
    if (!s_valid_scale(config->scale_ok) ||
        !s_valid_scale(config->scale_soft) ||
        !s_valid_scale(config->scale_hard))
        return NULL;
    pl_policy_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    if (config->providers && config->providers[0]) {
        self->providers = strdup(config->providers);
        if (!self->providers) {
            free(self);
            return NULL;
        }
    }
    self->config.providers = self->providers;
    return self;
}

void pl_policy_destroy(pl_policy_t **self_p)
{
    assert(self_p);
    pl_policy_t *self = *self_p;
    if (!self)
        return;
    free(self->providers);
    free(self);
    *self_p = NULL;
}

bool pl_policy_enabled(const pl_policy_t *self)
{
    assert(self);
    return self->config.enabled;
}

pl_policy_kind_t pl_policy_kind(const pl_policy_t *self)
{
    assert(self);
    return self->config.kind;
}

double pl_policy_step_scale(const pl_policy_t *self, mdbp_level_t level)
{
    assert(self);
    switch (level) {
    case MDBP_LEVEL_OK:
        return self->config.scale_ok;
    case MDBP_LEVEL_SOFT:
        return self->config.scale_soft;
    case MDBP_LEVEL_HARD:
        return self->config.scale_hard;
    }
    return self->config.scale_hard; /* unreachable: the most careful */
}

double pl_policy_scale(const pl_policy_t *self, mdbp_level_t level,
                       double scale_hint, bool stale)
{
    assert(self);
    if (!self->config.enabled || self->config.credits_only)
        return 1.0;
    if (self->config.kind == PL_POLICY_STEP || stale || !isfinite(scale_hint))
        return pl_policy_step_scale(self, level);
    if (scale_hint < 0)
        return 0;
    return scale_hint > 1 ? 1 : scale_hint;
}

bool pl_policy_applies(const pl_policy_t *self, const char *provider)
{
    assert(self && provider);
    if (!self->config.enabled)
        return false;
    if (!self->providers)
        return true;
    size_t length = strlen(provider);
    const char *cursor = self->providers, *item;
    size_t item_length;
    while ((item = cmn_config_list_next(&cursor, PL_POLICY_LIST_SEPARATORS,
                                        &item_length)))
        if (item_length == length && strncmp(item, provider, length) == 0)
            return true;
    return false;
}
