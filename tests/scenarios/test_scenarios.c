/* test_scenarios: the deterministic scenario suite of the feedback loop.
 *
 * Runs every scenario of issue 7 under three loop configurations (`step` in
 * the seed's mode: dead-band 0 and dwell 0; `step` with the default
 * hysteresis; `proportional`) through scn_model, which drives the real
 * engines (sc_intake, sc_announcer, pl_window, pl_feedback, pl_policy,
 * pl_rate_coordinator) on a virtual clock as their shells call them.
 * Prints one markdown table of figures, then checks:
 *  - invariants, for every run: the queue never over capacity, no record
 *    lost, no feedback message refused, lost events seen as seq gaps, a
 *    restart seen as a new epoch and the sink writing again within a
 *    second of it, producers resume after a stall, no pipeline holding its
 *    coordinator stale unless it was down for longer than the ttl;
 *  - the targets of the default configuration (`step` with hysteresis).
 * Exit 0 when all hold, 1 otherwise. `--markdown` prints the table only
 * (for bench/run); `--strict` also fails on a target marked as a known
 * miss. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmn_clock.h"
#include "sc_announcer.h"
#include "scn_model.h"

#define SCN_SINK_RATE 10000.0 /* records/s: the queue holds 1 s of it */
#define SCN_DURATION_SEC 60
#define SCN_SEED 20240607
#define SCN_STALL_AT_SEC 20
#define SCN_STALL_SEC 10
#define SCN_RESTART_AT_SEC 30
#define SCN_RESTART_DOWN_MS 2000
#define SCN_RESUME_SEC_MAX 5.0 /* producers run again after a stall */
/* The sink writes again this soon after a restarted coordinator is up: the
 * windows resend what the dead one lost at once (reconnect), long before
 * their ack timeout (MDP_SEND_ACK_TIMEOUT_MS, 5 s) would. */
#define SCN_RESTART_RESUME_SEC_MAX 1.0
#define SCN_SHARE_MIN 0.5 /* each of N pipelines gets at least this / N */
#define SCN_FAST_HEARTBEAT_MS 100

/* Targets of issue 7 for the default configuration. */
#define SCN_TARGET_CHANGES_PER_MIN 60.0 /* at 1.5x overload */
#define SCN_TARGET_UTILISATION 0.99     /* also with 5% of events lost */
#define SCN_TARGET_SCALE0_FRACTION 0.05 /* at 3x overload */

#define SCN_MS(ms) ((int64_t)(ms)*CMN_NS_PER_MS)
#define SCN_SEC(s) ((int64_t)(s)*CMN_NS_PER_SEC)

static const scn_policy_t s_policies[] = {
    {.name = "step (seed: D=0, T=0)",
     .kind = PL_POLICY_STEP,
     .hysteresis = false},
    {.name = "step (default D, T)", .kind = PL_POLICY_STEP, .hysteresis = true},
    {.name = "proportional",
     .kind = PL_POLICY_PROPORTIONAL,
     .hysteresis = true},
    /* Not a default: the same policy with regular heartbeats ten times as
     * often (MDS_HEARTBEAT_MS=100), for comparison with the early ones. */
    {.name = "proportional, hb 100 ms",
     .kind = PL_POLICY_PROPORTIONAL,
     .hysteresis = true,
     .heartbeat_ms = SCN_FAST_HEARTBEAT_MS},
};
#define SCN_POLICIES (sizeof s_policies / sizeof s_policies[0])
/* Index of the default configuration in s_policies, and of the default
 * configuration with MDP_FB_POLICY=proportional. */
#define SCN_POLICY_DEFAULT 1
#define SCN_POLICY_PROPORTIONAL 2

/* Pipelines sharing the load in most scenarios. Each keeps at most
 * MDP_SEND_WINDOW x MDP_SEND_BATCH_RECORDS records unacknowledged (2,000 by
 * default), so one or two pipelines cannot fill the queue past its low
 * watermark: the window alone bounds them and the feedback loop never acts.
 * Eight can hold 16,000 records, more than the capacity: the loop has to. */
#define SCN_FLEET 8

#define SCN_COMMON                                                             \
    .sink_rate = SCN_SINK_RATE, .duration_ns = SCN_SEC(SCN_DURATION_SEC),      \
    .seed = SCN_SEED
#define SCN_BASE SCN_COMMON, .pipelines = SCN_FLEET

static const scn_scenario_t s_scenarios[] = {
    {.name = "overload 1.5x", SCN_BASE, .overload = 1.5},
    {.name = "overload 3x", SCN_BASE, .overload = 3.0},
    {.name = "sink stalls 10 s",
     SCN_BASE,
     .overload = 1.5,
     .stall_at_ns = SCN_SEC(SCN_STALL_AT_SEC),
     .stall_ns = SCN_SEC(SCN_STALL_SEC)},
    {.name = "5% events lost", SCN_BASE, .overload = 1.5, .loss = 0.05},
    {.name = "delay 5 ms", SCN_BASE, .overload = 1.5, .delay_ns = SCN_MS(5)},
    {.name = "delay 50 ms", SCN_BASE, .overload = 1.5, .delay_ns = SCN_MS(50)},
    {.name = "delay 500 ms",
     SCN_BASE,
     .overload = 1.5,
     .delay_ns = SCN_MS(500)},
    {.name = "coordinator restart",
     SCN_BASE,
     .overload = 1.5,
     .restart_at_ns = SCN_SEC(SCN_RESTART_AT_SEC),
     .restart_down_ns = SCN_MS(SCN_RESTART_DOWN_MS)},
    {.name = "delays 0/50 ms mixed",
     SCN_BASE,
     .overload = 1.5,
     .delay_odd_ns = SCN_MS(50)},
    /* The two pipelines sharing one coordinator: their windows
     * bound the queue, so these show the default sender alone. */
    {.name = "2 pipelines (0/50 ms)",
     SCN_COMMON,
     .overload = 1.5,
     .pipelines = 2,
     .delay_odd_ns = SCN_MS(50)},
    {.name = "1 pipeline, 3x", SCN_COMMON, .overload = 3.0, .pipelines = 1},
};
#define SCN_SCENARIOS (sizeof s_scenarios / sizeof s_scenarios[0])

static scn_figures_t s_figures[SCN_SCENARIOS][SCN_POLICIES];
static int s_failures;
static int s_known_misses;
static bool s_strict;

/* One checked condition; `known` names the reason of a documented miss. */
static void s_check(bool ok, const char *scenario, const char *policy,
                    const char *what, const char *known)
{
    if (ok) {
        printf("ok      %-22s %-24s %s\n", scenario, policy, what);
        return;
    }
    if (known && !s_strict) {
        printf("MISSED  %-22s %-24s %s (known: %s)\n", scenario, policy, what,
               known);
        s_known_misses++;
        return;
    }
    printf("FAILED  %-22s %-24s %s\n", scenario, policy, what);
    s_failures++;
}

static void s_print_table(void)
{
    printf("| scenario | policy | sink utilisation | queue mean | queue p99 "
           "| queue max | time at scale 0 | level changes/min "
           "| records rejected (nack full) | records resent | time stale |\n");
    printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t s = 0; s < SCN_SCENARIOS; s++)
        for (size_t p = 0; p < SCN_POLICIES; p++) {
            const scn_figures_t *f = &s_figures[s][p];
            printf("| %s | %s | %.2f%% | %.0f | %llu | %llu | %.2f%% | %.1f "
                   "| %llu | %llu | %.2f%% |\n",
                   s_scenarios[s].name, s_policies[p].name,
                   100.0 * f->utilisation, f->depth_mean,
                   (unsigned long long)f->depth_p99,
                   (unsigned long long)f->depth_max, 100.0 * f->scale0_fraction,
                   f->changes_per_min, (unsigned long long)f->rejected,
                   (unsigned long long)f->resent, 100.0 * f->stale_fraction);
        }
}

static void s_check_invariants(size_t s, size_t p)
{
    const scn_scenario_t *scenario = &s_scenarios[s];
    const scn_figures_t *f = &s_figures[s][p];
    const char *name = scenario->name, *policy = s_policies[p].name;
    char what[160];
    snprintf(what, sizeof what, "queue max %llu <= capacity %llu",
             (unsigned long long)f->depth_max, (unsigned long long)f->capacity);
    s_check(f->depth_max <= f->capacity, name, policy, what, NULL);
    s_check(f->outstanding != UINT64_MAX, name, policy,
            "every record produced is acked or still held", NULL);
    s_check(f->written > 0 && f->malformed == 0, name, policy,
            "records written, no feedback message refused", NULL);
    if (scenario->loss > 0) {
        snprintf(what, sizeof what,
                 "%llu of %llu events lost, %llu gaps "
                 "counted",
                 (unsigned long long)f->events_lost,
                 (unsigned long long)f->events_sent,
                 (unsigned long long)f->gaps);
        s_check(f->events_lost > 0 && f->gaps > 0, name, policy, what, NULL);
    } else
        s_check(f->gaps == 0, name, policy, "no seq gap without loss", NULL);
    if (scenario->restart_at_ns > 0) {
        snprintf(what, sizeof what,
                 "new epoch seen by the pipeline (%llu), "
                 "scale %.2f > 0 at the end",
                 (unsigned long long)f->restarts_seen, f->final_scale);
        s_check(f->restarts_seen ==
                        (scenario->pipelines ? scenario->pipelines : 1) &&
                    f->final_scale > 0,
                name, policy, what, NULL);
    }
    if (scenario->restart_at_ns > 0) {
        snprintf(what, sizeof what,
                 "sink writes %.3f s after the restart (<= %.0f s)",
                 f->restart_resume_s, SCN_RESTART_RESUME_SEC_MAX);
        s_check(f->restart_resume_s <= SCN_RESTART_RESUME_SEC_MAX, name, policy,
                what, NULL);
    }
    /* Heartbeats (and transitions, early heartbeats) keep every pipeline's
     * view fresh; only a coordinator down for longer than the ttl, or a run
     * of lost messages as long as the ttl, may make one stale. */
    int64_t heartbeat_ms = s_policies[p].heartbeat_ms
                               ? s_policies[p].heartbeat_ms
                               : SCN_HEARTBEAT_MS;
    int64_t ttl_ns = SC_ANNOUNCER_TTL_HEARTBEATS * heartbeat_ms * CMN_NS_PER_MS;
    if (scenario->loss == 0 &&
        (scenario->restart_at_ns == 0 || scenario->restart_down_ns < ttl_ns)) {
        snprintf(what, sizeof what, "time stale %.2f%% = 0 (ttl %lld ms)",
                 100.0 * f->stale_fraction,
                 (long long)(ttl_ns / CMN_NS_PER_MS));
        s_check(f->stale_fraction == 0.0, name, policy, what, NULL);
    }
    if (scenario->stall_ns > 0) {
        snprintf(what, sizeof what,
                 "producer resumes %.2f s after the "
                 "stall (<= %.0f s)",
                 f->resume_s, SCN_RESUME_SEC_MAX);
        s_check(f->resume_s <= SCN_RESUME_SEC_MAX, name, policy, what, NULL);
    }
    if (scenario->pipelines > 1) {
        double least = 1.0;
        for (size_t k = 0; k < scenario->pipelines; k++)
            if (f->share[k] < least)
                least = f->share[k];
        double floor = SCN_SHARE_MIN / (double)scenario->pipelines;
        snprintf(what, sizeof what,
                 "smallest share of %zu pipelines %.3f >= %.3f",
                 scenario->pipelines, least, floor);
        s_check(least >= floor, name, policy, what, NULL);
    }
}

/* Why the default configuration misses one target (see the figures and
 * tests/scenarios/README.md):
 *
 * KNOWN_STEP_SOFT_ABOVE_SINK: at 3x overload SOFT's 0.5 still offers 1.5x
 * the sink rate, so every cycle climbs into HARD (scale 0). Leaving HARD
 * takes the dwell T (250 ms) and the drain to H - D after the in-flight
 * overshoot, and a ramp from 0 must reach the sink rate before the queue's
 * ~1 s of buffer runs dry, so a cycle is ~3 s with ~0.3 s paused: ~9%.
 * Closing it needs a separate, shorter exit from HARD in the coordinator
 * (README: measured 3.6% with a HARD dead-band of 2% and no HARD dwell). */
#define KNOWN_STEP_SOFT_ABOVE_SINK "step's SOFT 0.5 x 3 > 1 climbs to HARD"

/* KNOWN_STEP_CYCLE: at 1.5x overload the step scales 1.0 and 0.5 sit either
 * side of the sink rate, so `step` cycles OK <-> SOFT for ever; ramping
 * every rise over MDP_FB_RAMP_MS slows the cycle to ~64 changes a minute
 * with the 2 s that issue 4 specifies as the default, ~46 with 3 s (README). */
#define KNOWN_STEP_CYCLE "step's OK/SOFT cycle, ramp 2 s (3 s meets it)"

/* The targets of issue 7 for configuration `p`; `known` marks the misses
 * explained above (NULL: a miss fails the suite). */
static void s_check_targets(size_t p, const char *known_cycle,
                            const char *known_soft)
{
    const char *policy = s_policies[p].name;
    char what[160];
    const scn_figures_t *overload15 = &s_figures[0][p];
    snprintf(what, sizeof what, "target: level changes %.1f/min <= %.0f",
             overload15->changes_per_min, SCN_TARGET_CHANGES_PER_MIN);
    s_check(overload15->changes_per_min <= SCN_TARGET_CHANGES_PER_MIN,
            s_scenarios[0].name, policy, what, known_cycle);
    snprintf(what, sizeof what, "target: sink utilisation %.2f%% >= %.0f%%",
             100 * overload15->utilisation, 100 * SCN_TARGET_UTILISATION);
    s_check(overload15->utilisation >= SCN_TARGET_UTILISATION,
            s_scenarios[0].name, policy, what, NULL);
    const scn_figures_t *lossy = &s_figures[3][p];
    snprintf(what, sizeof what, "target: sink utilisation %.2f%% >= %.0f%%",
             100 * lossy->utilisation, 100 * SCN_TARGET_UTILISATION);
    s_check(lossy->utilisation >= SCN_TARGET_UTILISATION, s_scenarios[3].name,
            policy, what, NULL);
    const scn_figures_t *overload3 = &s_figures[1][p];
    snprintf(what, sizeof what, "target: time at scale 0 %.2f%% <= %.0f%%",
             100 * overload3->scale0_fraction,
             100 * SCN_TARGET_SCALE0_FRACTION);
    s_check(overload3->scale0_fraction <= SCN_TARGET_SCALE0_FRACTION,
            s_scenarios[1].name, policy, what, known_soft);
}

/* --sweep: the targets' figures of `step` for dead-bands, dwells and
 * ramps around the defaults (how the defaults were chosen). */
static void s_sweep(void)
{
    static const double bands[] = {0.05, 0.1, 0.15, 0.2};
    static const int64_t dwells[] = {1, 100, 250, 500, 1000};
    static const int64_t ramps[] = {-1, 1000, 2000, 3000};
    printf("| D | T ms | ramp ms | 1.5x changes/min | 1.5x util | 5%% lost "
           "util | 3x at scale 0 | 3x util |\n|---|---|---|---|---|---|---|"
           "---|\n");
    for (size_t b = 0; b < sizeof bands / sizeof bands[0]; b++)
        for (size_t d = 0; d < sizeof dwells / sizeof dwells[0]; d++)
            for (size_t r = 0; r < sizeof ramps / sizeof ramps[0]; r++) {
                scn_policy_t policy = {.name = "sweep",
                                       .kind = PL_POLICY_STEP,
                                       .hysteresis = true,
                                       .dead_band = bands[b],
                                       .dwell_ms = dwells[d],
                                       .ramp_ms = ramps[r]};
                scn_figures_t f15, f3, lossy;
                if (scn_run(&s_scenarios[0], &policy, &f15) != 0 ||
                    scn_run(&s_scenarios[1], &policy, &f3) != 0 ||
                    scn_run(&s_scenarios[3], &policy, &lossy) != 0)
                    return;
                printf("| %.2f | %lld | %lld | %.0f | %.2f%% | %.2f%% | "
                       "%.2f%% | %.2f%% |\n",
                       bands[b], (long long)dwells[d], (long long)ramps[r],
                       f15.changes_per_min, 100 * f15.utilisation,
                       100 * lossy.utilisation, 100 * f3.scale0_fraction,
                       100 * f3.utilisation);
            }
}

int main(int argc, char **argv)
{
    bool markdown_only = false;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--markdown") == 0)
            markdown_only = true;
        else if (strcmp(argv[k], "--trace") == 0 && k + 2 < argc) {
            /* --trace SCENARIO POLICY (indexes): one run, traced. */
            size_t s = (size_t)atoi(argv[k + 1]), p = (size_t)atoi(argv[k + 2]);
            if (s >= SCN_SCENARIOS || p >= SCN_POLICIES)
                return 2;
            scn_trace = stdout;
            scn_figures_t f;
            if (scn_run(&s_scenarios[s], &s_policies[p], &f) != 0)
                return 1;
            printf("# %s / %s: utilisation %.4f, scale 0 %.4f, changes "
                   "%.1f/min\n",
                   s_scenarios[s].name, s_policies[p].name, f.utilisation,
                   f.scale0_fraction, f.changes_per_min);
            return 0;
        } else if (strcmp(argv[k], "--sweep") == 0) {
            s_sweep();
            return 0;
        } else if (strcmp(argv[k], "--defaults") == 0) {
            scn_print_defaults();
            return 0;
        } else if (strcmp(argv[k], "--strict") == 0)
            s_strict = true;
        else {
            fprintf(stderr, "usage: %s [--markdown] [--strict] [--defaults]\n",
                    argv[0]);
            return 2;
        }
    }
    for (size_t s = 0; s < SCN_SCENARIOS; s++)
        for (size_t p = 0; p < SCN_POLICIES; p++)
            if (scn_run(&s_scenarios[s], &s_policies[p], &s_figures[s][p]) !=
                0) {
                fprintf(stderr, "scenario %s: out of memory\n",
                        s_scenarios[s].name);
                return 1;
            }
    printf("Sink %.0f records/s, queue %d records, %d pipelines unless "
           "named (window %d x %d records each), %d s simulated per run, "
           "seed %d.\n\n",
           SCN_SINK_RATE, SCN_CAPACITY, SCN_FLEET, SCN_SEND_WINDOW,
           SCN_SEND_BATCH_RECORDS, SCN_DURATION_SEC, SCN_SEED);
    s_print_table();
    if (markdown_only)
        return 0;
    printf("\n");
    for (size_t s = 0; s < SCN_SCENARIOS; s++)
        for (size_t p = 0; p < SCN_POLICIES; p++)
            s_check_invariants(s, p);
    s_check_targets(SCN_POLICY_DEFAULT, KNOWN_STEP_CYCLE,
                    KNOWN_STEP_SOFT_ABOVE_SINK);
    s_check_targets(SCN_POLICY_PROPORTIONAL, NULL, NULL);
    printf("\n%d failed, %d known misses\n", s_failures, s_known_misses);
    return s_failures ? 1 : 0;
}
