/* Tests of the pl_subscriber actor's DNS re-resolution, without a DNS
 * server: an injected resolver answers changing address lists for a name,
 * and two real XPUB sockets on 127.0.0.2 and 127.0.0.3 (both loopback on
 * Linux, same port) stand for two coordinator pods behind it. What is
 * checked is what the peers see (a subscription arrives when an address
 * appears, an unsubscription when it vanishes) and what the actor decides
 * from their events. Real sockets, polled with deadlines. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <czmq.h>

#include "pl_subscriber.h"

#define DEADLINE_MS 5000
#define RESOLVE_MS 20
#define TTL_MS 60000
#define HOST "coordinators.test"

typedef struct {
    atomic_int phase; /* which list the resolver answers */
    atomic_int calls;
} s_resolver_t;

/* phase 0: .2 only; 1: .2 and .3; 2: .3 only; 3: fails (keep .3). */
static int s_resolve(const char *host,
                     char addresses[][PL_SUBSCRIBER_ADDRESS_TEXT_MAX],
                     size_t max, void *arg)
{
    s_resolver_t *resolver = arg;
    assert_string_equal(host, HOST);
    assert_true(max >= 2);
    int phase = atomic_load(&resolver->phase);
    atomic_fetch_add(&resolver->calls, 1);
    switch (phase) {
    case 0:
        strcpy(addresses[0], "127.0.0.2");
        return 1;
    case 1:
        strcpy(addresses[0], "127.0.0.2");
        strcpy(addresses[1], "127.0.0.3");
        return 2;
    case 2:
        strcpy(addresses[0], "127.0.0.3");
        return 1;
    default:
        return -1;
    }
}

/* Waits for a (un)subscription message on an XPUB: 1 subscribe, 0
 * unsubscribe. Fails the test at the deadline. */
static void s_expect_subscription(zsock_t *xpub, int subscribe)
{
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    while (zclock_mono() < deadline) {
        zsock_set_rcvtimeo(xpub, 50);
        zframe_t *frame = zframe_recv(xpub);
        if (!frame)
            continue;
        bool match =
            zframe_size(frame) > 0 && zframe_data(frame)[0] == (byte)subscribe;
        zframe_destroy(&frame);
        if (match)
            return;
    }
    fail_msg("no %s within %d ms",
             subscribe ? "subscription" : "unsubscription", DEADLINE_MS);
}

static void s_publish_ttl(zsock_t *xpub, const char *id, uint64_t seq,
                          mdbp_level_t level, uint32_t ttl_ms)
{
    mdbp_feedback_t event;
    memset(&event, 0, sizeof event);
    event.type = MDBP_FEEDBACK_HEARTBEAT;
    snprintf(event.coordinator_id, sizeof event.coordinator_id, "%s", id);
    event.epoch = 1;
    event.seq = seq;
    event.ts_ns = zclock_time() * 1000000;
    event.level = level;
    event.prev_level = level;
    event.capacity = 1000;
    event.queue_size = 10;
    event.low_wm = 500;
    event.high_wm = 800;
    event.utilization = 0.01;
    event.scale_hint = 1.0;
    event.ttl_ms = ttl_ms;
    char topic[MDBP_FEEDBACK_TOPIC_MAX];
    assert_true(mdbp_feedback_topic(id, topic, sizeof topic) > 0);
    mdbp_buffer_t body;
    mdbp_buffer_init(&body);
    assert_int_equal(mdbp_feedback_encode(&event, &body), 0);
    zmsg_t *message = zmsg_new();
    zmsg_addstr(message, topic);
    zmsg_addmem(message, body.data, body.size);
    assert_int_equal(zmsg_send(&message, xpub), 0);
    mdbp_buffer_release(&body);
}

static void s_publish(zsock_t *xpub, const char *id, uint64_t seq,
                      mdbp_level_t level)
{
    s_publish_ttl(xpub, id, seq, level, TTL_MS);
}

/* Publishes `level` from `id` until the producer's end of the decisions
 * socket receives that level. */
static void s_expect_decision(zsock_t *decisions, zsock_t *xpub, const char *id,
                              uint64_t *seq, mdbp_level_t level)
{
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    zsock_set_rcvtimeo(decisions, 50);
    while (zclock_mono() < deadline) {
        s_publish(xpub, id, ++*seq, level);
        byte *data = NULL;
        size_t size = 0;
        if (zsock_recv(decisions, "b", &data, &size) != 0)
            continue;
        pl_feedback_decision_t decision;
        bool match = size == sizeof decision;
        if (match) {
            memcpy(&decision, data, sizeof decision);
            match = decision.level == level && decision.event_ts_ns > 0;
        }
        free(data);
        if (match)
            return;
    }
    fail_msg("no decision level %d from %s within %d ms", (int)level, id,
             DEADLINE_MS);
}

/* Waits until the resolver was called `more` more times. */
static void s_wait_resolutions(s_resolver_t *resolver, int more)
{
    int target = atomic_load(&resolver->calls) + more;
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    while (atomic_load(&resolver->calls) < target) {
        assert_true(zclock_mono() < deadline);
        zclock_sleep(5); /* polling the counter, not synchronising */
    }
}

static void test_name_is_resolved_again(void **state)
{
    (void)state;
    zsock_t *pod2 = zsock_new(ZMQ_XPUB);
    zsock_t *pod3 = zsock_new(ZMQ_XPUB);
    int port = zsock_bind(pod2, "tcp://127.0.0.2:*");
    assert_true(port > 0);
    assert_int_equal(zsock_bind(pod3, "tcp://127.0.0.3:%d", port), port);

    cmn_clock_t *clock = cmn_clock_new_system();
    cmn_metrics_t *registry = cmn_metrics_new();
    pl_metrics_t *metrics = pl_metrics_new(registry);
    pl_status_t *status = pl_status_new(true);
    pl_policy_config_t policy_config = {.enabled = true,
                                        .kind = PL_POLICY_STEP,
                                        .scale_ok = 1.0,
                                        .scale_soft = 0.5,
                                        .scale_hard = 0.0};
    pl_policy_t *policy = pl_policy_new(&policy_config);
    s_resolver_t resolver;
    atomic_init(&resolver.phase, 0);
    atomic_init(&resolver.calls, 0);
    char endpoints[64];
    snprintf(endpoints, sizeof endpoints, "tcp://" HOST ":%d", port);
    pl_subscriber_config_t config = {
        .clock = clock,
        .endpoints = endpoints,
        .resolve_ns = RESOLVE_MS * CMN_NS_PER_MS,
        .tick_ns = RESOLVE_MS * CMN_NS_PER_MS,
        .feedback = {.stale_level = MDBP_LEVEL_SOFT,
                     .forget_ns = 60 * CMN_NS_PER_SEC},
        .policy = policy,
        .metrics = metrics,
        .status = status,
        .resolve = s_resolve,
        .resolve_arg = &resolver,
        .decisions_endpoint = "inproc://test-decisions-resolve"};
    zsock_t *decisions = zsock_new_pull("@inproc://test-decisions-resolve");
    assert_non_null(decisions);
    char error[PL_ACTOR_ERROR_MAX];
    zactor_t *actor = pl_subscriber_new(&config, error);
    assert_non_null(actor);
    uint64_t seq2 = 0, seq3 = 0;

    /* Phase 0: only pod 2 is behind the name. */
    s_expect_subscription(pod2, 1);
    s_expect_decision(decisions, pod2, "pod2", &seq2, MDBP_LEVEL_SOFT);

    /* Phase 1: a new pod appears; it is connected and heard (at OK, it
     * is the freest: the decision goes back to OK). */
    atomic_store(&resolver.phase, 1);
    s_expect_subscription(pod3, 1);
    s_expect_decision(decisions, pod3, "pod3", &seq3, MDBP_LEVEL_OK);
    cmn_series_t *endpoints_gauge =
        cmn_metric_series(metrics->feedback_endpoints, NULL);
    assert_true(cmn_series_value(endpoints_gauge) == 2);

    /* Phase 2: pod 2 vanishes from the name: disconnected. */
    atomic_store(&resolver.phase, 2);
    s_expect_subscription(pod2, 0);
    assert_true(cmn_series_value(endpoints_gauge) == 1);

    /* Phase 3: resolution fails: pod 3 stays connected (still heard). */
    atomic_store(&resolver.phase, 3);
    s_wait_resolutions(&resolver, 3);
    s_expect_decision(decisions, pod3, "pod3", &seq3, MDBP_LEVEL_SOFT);
    assert_true(cmn_series_value(endpoints_gauge) == 1);

    zactor_destroy(&actor);
    zsock_destroy(&decisions);
    pl_policy_destroy(&policy);
    pl_status_destroy(&status);
    pl_metrics_destroy(&metrics);
    cmn_metrics_destroy(&registry);
    cmn_clock_destroy(&clock);
    zsock_destroy(&pod2);
    zsock_destroy(&pod3);
}

/* The value of `series` (name{labels}) in the rendering, or NAN when it is
 * not there. Reads the registry as the HTTP threads do: the subscriber may
 * remove series at any time. */
static double s_rendered(cmn_metrics_t *registry, const char *series)
{
    char *text = cmn_metrics_render(registry, NULL);
    double value = NAN;
    char *at = text ? strstr(text, series) : NULL;
    if (at && at[strlen(series)] == ' ')
        value = strtod(at + strlen(series) + 1, NULL);
    free(text);
    return value;
}

/* A coordinator that goes silent turns stale after its ttl, then is
 * forgotten: its series leave /metrics rather than keep the last depth,
 * level and stale flag forever. */
static void test_forgotten_coordinator_gauges_reset(void **state)
{
    (void)state;
    zsock_t *pod = zsock_new(ZMQ_XPUB);
    int port = zsock_bind(pod, "tcp://127.0.0.1:*");
    assert_true(port > 0);
    cmn_clock_t *clock = cmn_clock_new_system();
    cmn_metrics_t *registry = cmn_metrics_new();
    pl_metrics_t *metrics = pl_metrics_new(registry);
    pl_status_t *status = pl_status_new(true);
    pl_policy_config_t policy_config = {.enabled = true,
                                        .kind = PL_POLICY_STEP,
                                        .scale_ok = 1.0,
                                        .scale_soft = 0.5,
                                        .scale_hard = 0.0};
    pl_policy_t *policy = pl_policy_new(&policy_config);
    char endpoints[64];
    snprintf(endpoints, sizeof endpoints, "tcp://127.0.0.1:%d", port);
    pl_subscriber_config_t config = {
        .clock = clock,
        .endpoints = endpoints,
        .resolve_ns = 60 * CMN_NS_PER_SEC,
        .tick_ns = RESOLVE_MS * CMN_NS_PER_MS,
        .feedback = {.stale_level = MDBP_LEVEL_SOFT,
                     .forget_ns = 300 * CMN_NS_PER_MS},
        .policy = policy,
        .metrics = metrics,
        .status = status,
        .decisions_endpoint = "inproc://test-decisions-forget"};
    zsock_t *decisions = zsock_new_pull("@inproc://test-decisions-forget");
    char error[PL_ACTOR_ERROR_MAX];
    zactor_t *actor = pl_subscriber_new(&config, error);
    assert_non_null(actor);
    s_expect_subscription(pod, 1);
    const char *depth = "pipeline_feedback_queue_depth{source=\"gone\"}";
    const char *level = "pipeline_feedback_level{source=\"gone\"}";
    const char *stale = "pipeline_feedback_stale{source=\"gone\"}";
    cmn_series_t *known =
        cmn_metric_series(metrics->feedback_coordinators, NULL);
    /* Heard at HARD with a short ttl. */
    uint64_t seq = 0;
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    while (s_rendered(registry, level) != MDBP_LEVEL_HARD) {
        assert_true(zclock_mono() < deadline);
        s_publish_ttl(pod, "gone", ++seq, MDBP_LEVEL_HARD, 50);
        zclock_sleep(10); /* pacing the publisher, not synchronising */
    }
    assert_true(s_rendered(registry, depth) == 10);
    /* Silent: stale (the fail-safe level), then forgotten and reset. */
    deadline = zclock_mono() + DEADLINE_MS;
    while (cmn_series_value(known) != 0) {
        assert_true(zclock_mono() < deadline);
        zclock_sleep(10);
    }
    assert_true(isnan(s_rendered(registry, depth)));
    assert_true(isnan(s_rendered(registry, level)));
    assert_true(isnan(s_rendered(registry, stale)));
    zactor_destroy(&actor);
    zsock_destroy(&decisions);
    pl_policy_destroy(&policy);
    pl_status_destroy(&status);
    pl_metrics_destroy(&metrics);
    cmn_metrics_destroy(&registry);
    cmn_clock_destroy(&clock);
    zsock_destroy(&pod);
}

/* An endpoint the socket refuses (an ipc path longer than a socket address
 * holds) fails the start-up, reported over the pipe with the reason. */
static void test_start_up_failure_is_reported(void **state)
{
    (void)state;
    cmn_clock_t *clock = cmn_clock_new_system();
    cmn_metrics_t *registry = cmn_metrics_new();
    pl_metrics_t *metrics = pl_metrics_new(registry);
    pl_status_t *status = pl_status_new(true);
    pl_policy_config_t policy_config = {
        .enabled = true, .kind = PL_POLICY_STEP, .scale_ok = 1.0};
    pl_policy_t *policy = pl_policy_new(&policy_config);
    char endpoint[300] = "ipc:///tmp/";
    memset(endpoint + strlen(endpoint), 'x', 200);
    pl_subscriber_config_t config = {
        .clock = clock,
        .endpoints = endpoint,
        .resolve_ns = 60 * CMN_NS_PER_SEC,
        .tick_ns = RESOLVE_MS * CMN_NS_PER_MS,
        .feedback = {.stale_level = MDBP_LEVEL_SOFT,
                     .forget_ns = 60 * CMN_NS_PER_SEC},
        .policy = policy,
        .metrics = metrics,
        .status = status,
        .decisions_endpoint = "inproc://test-decisions-fail"};
    char error[PL_ACTOR_ERROR_MAX] = "";
    zactor_t *actor = pl_subscriber_new(&config, error);
    assert_null(actor);
    assert_non_null(strstr(error, "cannot connect to ipc:///tmp/xxx"));
    pl_policy_destroy(&policy);
    pl_status_destroy(&status);
    pl_metrics_destroy(&metrics);
    cmn_metrics_destroy(&registry);
    cmn_clock_destroy(&clock);
}

/* The default resolver answers IPv4 texts for a name every Linux has. */
static void test_default_resolver(void **state)
{
    (void)state;
    char addresses[4][PL_SUBSCRIBER_ADDRESS_TEXT_MAX];
    int found = pl_subscriber_resolve_dns("localhost", addresses, 4, NULL);
    assert_true(found >= 1);
    assert_string_equal(addresses[0], "127.0.0.1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_is_resolved_again),
        cmocka_unit_test(test_forgotten_coordinator_gauges_reset),
        cmocka_unit_test(test_default_resolver),
        cmocka_unit_test(test_start_up_failure_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
