/* pl_config: mdp-pipeline's settings (option table, per-provider options,
 * validation) and the providers they describe.
 *
 * Every option has an MDP_ variable and a long flag (a flag wins); the
 * per-provider options (MDP_PROVIDER_<NAME>_*, MDP_RATE_<NAME>_*) exist for
 * the names in MDP_PROVIDERS. A bad value stops start-up with a message
 * naming it (exit 2). Main thread only. */
#ifndef PL_CONFIG_H
#define PL_CONFIG_H

#include "cmn_check.h"
#include "cmn_config.h"
#include "cmn_log.h"
#include <mdbp/ingest.h>
#include "pl_policy.h"
#include "pl_producer.h"
#include "pl_rate_coordinator.h"

#define PL_PROGRAM "mdp-pipeline"

/* pl_settings_load(): --help or --version was answered. */
#define PL_SETTINGS_EXIT 1

typedef struct {
    char names[PL_RATE_PROVIDERS_MAX][MDBP_NAME_MAX + 1];
    size_t count;
} pl_names_t;

/* Providers that exist because a variable named them (the seed's
 * MDP_FB_PROVIDER_NAME=ibkr, MDP_RATE_IBKR_*) though MDP_PROVIDERS does
 * not list them: main logs a note for each. */
typedef struct {
    char names[PL_RATE_PROVIDERS_MAX][MDBP_NAME_MAX + 1];
    const char *why[PL_RATE_PROVIDERS_MAX]; /* the variable (prefix) */
    size_t count;
} pl_implied_t;

/* Room for the refusal of a provider MDP_PROVIDERS does not list. */
#define PL_UNLISTED_MAX 256

typedef struct {
    cmn_config_t *config; /* owned: the strings below point into it */
    char unlisted[PL_UNLISTED_MAX]; /* why an unlisted name is refused */
    pl_names_t names;     /* MDP_PROVIDERS, in order (rate indexes), then
                             the implied ones */
    pl_implied_t implied; /* of which named only by other variables */
    cmn_log_level_t log_level;
    cmn_log_format_t log_format;
    /* feedback */
    bool feedback;
    pl_policy_config_t policy;
    mdbp_level_t stale_level;
    int64_t forget_ns;
    int64_t resolve_ns;
    int64_t ramp_ns;
    const char *feedback_endpoints;
    uint32_t posted_ttl_ms;   /* MDP_FB_HTTP_TTL_SEC: POST /feedback events */
    const char *source_label; /* MDP_METRICS_SOURCE_LABEL, or NULL */
    /* sending */
    const char *store_endpoints;
    int64_t store_resolve_ns;
    const char *producer_id; /* MDP_PRODUCER_ID or the host name */
    char host[MDBP_ID_MAX + 1];
    size_t batch_records;
    int64_t batch_ns;
    size_t window;
    mdbp_priority_t priority; /* MDP_SEND_PRIORITY: the default class */
    /* each provider's class (MDP_PROVIDER_<NAME>_PRIORITY), by rate index */
    mdbp_priority_t priorities[PL_RATE_PROVIDERS_MAX];
    uint32_t weight;          /* 1..MDBP_WEIGHT_MAX */
    int64_t ack_timeout_ns;
    int64_t shutdown_timeout_ns;
    bool exit_when_done; /* MDP_EXIT_WHEN_DONE */
    /* HTTP */
    bool http_enable;
    const char *http_bind;
    int http_port;    /* the server of every route */
    int metrics_port; /* a second server for /metrics alone, or -1 */
    const char *admin_token;
    size_t http_max_request_bytes;
    int http_request_timeout_ms;
    int http_threads; /* civetweb workers (slow clients, issue 12) */
    /* CURVE: both or neither */
    const char *curve_secret_key_file;
    const char *curve_server_key_file;
} pl_settings_t;

/* Reads and validates every option into `self`. Returns 0,
 * PL_SETTINGS_EXIT (help/version printed), or -1 after printing what is
 * bad (exit 2). With `check` (mdp-pipeline check), every problem goes to
 * it instead, unknown MDP_* variables included, and no rule stops the
 * others (a bad value is replaced by its default); -1 then means "some
 * problem", and `self` is filled all the same. Call pl_settings_clear() in
 * every case. */
int pl_settings_load(pl_settings_t *self, int argc, char **argv,
                     cmn_check_t *check);

/* Which environment variables are the pipeline's (unknown ones warned
 * about with a "did you mean"). */
extern const cmn_config_unknown_t pl_settings_unknown;

/* Builds the rate coordinator (into *rate, caller owns) and the providers
 * (into sources[], by rate index, caller owns) the settings describe.
 * Returns 0, or -1 after printing which option is bad (exit 2). */
int pl_settings_build_providers(pl_settings_t *self, cmn_clock_t *clock,
                                pl_rate_coordinator_t **rate,
                                pl_producer_source_t *sources);

/* Whether a cooldown `scope` names something of provider `idx`: "global",
 * "provider:<its name>", or "symbol:<S>" for a symbol of its synthetic
 * source (a replay source has no symbol list). Sets `why` when not. Any
 * thread once loaded (reads immutable settings). */
bool pl_settings_scope_valid(const pl_settings_t *self, size_t idx,
                             const char *scope, const char **why);

/* The MDP_PROVIDER_<NAME>_SOURCE of provider `name` (one of names). */
const char *pl_settings_source(pl_settings_t *self, const char *name);

/* Frees what pl_settings_load() made; tolerates a cleared one. */
void pl_settings_clear(pl_settings_t *self);

#endif
