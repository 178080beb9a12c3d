/* pl_policy: turns backpressure levels into rate scales (FeedbackHandler).
 *
 * `step` (the seed's policy, default): OK, SOFT and HARD map to fixed scales
 * (MDP_FB_SCALE_OK|SOFT|HARD, 1.0 / 0.5 / 0.0). `proportional`: the store's
 * own `scale_hint` is applied; a stale coordinator (no hint we can trust)
 * falls back to the step scale of its fail-safe level. The policy also says
 * which providers feedback applies to (MDP_FB_PROVIDER_NAME, a name or a
 * comma-separated list; empty means all) and whether the loop is on at all
 * (MDP_FB_ENABLE_FEEDBACK). Immutable after creation: any thread may read. */
#ifndef PL_POLICY_H
#define PL_POLICY_H

#include <stdbool.h>

#include <mdbp/common.h>

typedef enum {
    PL_POLICY_STEP = 0,
    PL_POLICY_PROPORTIONAL = 1,
} pl_policy_kind_t;

#define PL_POLICY_SCALE_OK_DEFAULT 1.0
#define PL_POLICY_SCALE_SOFT_DEFAULT 0.5
#define PL_POLICY_SCALE_HARD_DEFAULT 0.0

/* "step", "proportional" (the order of the MDP_FB_POLICY choices). */
const char *pl_policy_kind_name(pl_policy_kind_t kind);

typedef struct {
    bool enabled;          /* MDP_FB_ENABLE_FEEDBACK */
    pl_policy_kind_t kind; /* MDP_FB_POLICY */
    double scale_ok;       /* step scales, each in [0, 1] */
    double scale_soft;
    double scale_hard;
    const char *providers; /* NULL or "": all providers */
    /* MDP_SEND_PRIORITY=critical (ingest.md 4.5): a feed that must not be
     * paused is paced by the coordinators' credits alone; no level or
     * hint scales it. */
    bool credits_only;
} pl_policy_config_t;

typedef struct _pl_policy_t pl_policy_t;

/* A policy from `config` (copied). Returns NULL when a scale is outside
 * [0, 1]. Caller owns the result. */
pl_policy_t *pl_policy_new(const pl_policy_config_t *config);

/* Destroys it; tolerates NULL and sets *self_p to NULL. */
void pl_policy_destroy(pl_policy_t **self_p);

/* The configuration it was built with. Any thread (immutable). */
bool pl_policy_enabled(const pl_policy_t *self);
pl_policy_kind_t pl_policy_kind(const pl_policy_t *self);

/* The scale for one coordinator's state: always 1.0 when disabled or
 * credits_only; the step
 * scale of `level` for `step` or when `stale`; else `scale_hint` clamped to
 * [0, 1] (a non-finite hint counts as the step scale). */
double pl_policy_scale(const pl_policy_t *self, mdbp_level_t level,
                       double scale_hint, bool stale);

/* The step scale of a level. */
double pl_policy_step_scale(const pl_policy_t *self, mdbp_level_t level);

/* True when feedback scales `provider` (enabled, and listed or no list). */
bool pl_policy_applies(const pl_policy_t *self, const char *provider);

#endif
