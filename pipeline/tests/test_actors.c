/* The actors' skeleton over real sockets: a start-up failure is reported
 * over the pipe with its reason (pl_X_new returns NULL, nothing leaks), and
 * the subscriber's decision reaches the producer's buckets in one hop. */
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pl_producer.h"
#include "pl_sender.h"

#define DEADLINE_MS 5000

typedef struct {
    cmn_clock_t *clock;
    cmn_metrics_t *registry;
    pl_metrics_t *metrics;
    pl_status_t *status;
    pl_policy_t *policy;
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->clock = cmn_clock_new_system();
    f->registry = cmn_metrics_new();
    f->metrics = pl_metrics_new(f->registry);
    f->status = pl_status_new(true);
    pl_policy_config_t policy = {.enabled = true,
                                 .kind = PL_POLICY_STEP,
                                 .scale_ok = 1.0,
                                 .scale_soft = 0.5,
                                 .scale_hard = 0.0};
    f->policy = pl_policy_new(&policy);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *f = *state;
    pl_policy_destroy(&f->policy);
    pl_status_destroy(&f->status);
    pl_metrics_destroy(&f->metrics);
    cmn_metrics_destroy(&f->registry);
    cmn_clock_destroy(&f->clock);
    free(f);
    return 0;
}

/* A producer config with one synthetic provider "sim". */
static pl_producer_config_t s_producer(fixture_t *f, const char *data,
                                       const char *decisions, const char *admin)
{
    pl_producer_config_t config = {.clock = f->clock,
                                   .data_endpoints = {[MDBP_PRIORITY_NORMAL] =
                                                          data},
                                   .decisions_endpoint = decisions,
                                   .admin_endpoint = admin,
                                   .policy = f->policy,
                                   .chunk_records = 16,
                                   .metrics = f->metrics,
                                   .status = f->status};
    config.rate = pl_rate_coordinator_new(f->clock, 0);
    pl_rate_config_t rate = {.capacity = 100, .refill_rate = 1000};
    assert_int_equal(pl_rate_coordinator_add(config.rate, "sim", &rate), 0);
    pl_synthetic_config_t synthetic = {
        .provider = "sim", .symbols = "AAPL", .seed = 1};
    config.sources[0].synthetic = pl_synthetic_new(&synthetic);
    assert_non_null(config.sources[0].synthetic);
    return config;
}

static void test_producer_start_up_failure_is_reported(void **state)
{
    fixture_t *f = *state;
    pl_producer_config_t config =
        s_producer(f, "bogus://nowhere", "inproc://test-actors-decisions-1",
                   "inproc://test-actors-admin-1");
    char error[PL_ACTOR_ERROR_MAX] = "";
    zactor_t *actor = pl_producer_new(&config, error);
    assert_null(actor);
    assert_null(config.rate); /* taken, and destroyed by the actor */
    assert_non_null(strstr(error, "cannot connect to bogus://nowhere"));
}

static void test_sender_start_up_failure_is_reported(void **state)
{
    fixture_t *f = *state;
    /* Somebody else holds the data endpoint. */
    zsock_t *taken = zsock_new_pull("@inproc://test-actors-data-taken");
    assert_non_null(taken);
    pl_sender_config_t config = {
        .clock = f->clock,
        .endpoints = "tcp://127.0.0.1:1",
        .producer_id = "test",
        .data_endpoint = "inproc://test-actors-data-taken",
        .limits_endpoint = "inproc://test-actors-limits",
        .primary = true,
        .batch_records = 10,
        .batch_ns = 20 * CMN_NS_PER_MS,
        .window = 2,
        .ack_timeout_ns = CMN_NS_PER_SEC,
        .metrics = f->metrics,
        .status = f->status};
    char error[PL_ACTOR_ERROR_MAX] = "";
    zactor_t *actor = pl_sender_new(&config, error);
    assert_null(actor);
    assert_non_null(strstr(error, "cannot bind the data endpoint"));
    zsock_destroy(&taken);
}

/* One hop: a decision pushed on the producer's decisions socket sets the
 * bucket's scale (gauge) and is observed as a propagation latency. */
static void test_a_decision_reaches_the_bucket(void **state)
{
    fixture_t *f = *state;
    zsock_t *data = zsock_new_pull("@inproc://test-actors-data-2");
    pl_producer_config_t config = s_producer(f, "inproc://test-actors-data-2",
                                             "inproc://test-actors-decisions-2",
                                             "inproc://test-actors-admin-2");
    char error[PL_ACTOR_ERROR_MAX];
    zactor_t *actor = pl_producer_new(&config, error);
    assert_non_null(actor);
    zsock_t *decisions = zsock_new_push(">inproc://test-actors-decisions-2");
    pl_feedback_decision_t decision = {.level = MDBP_LEVEL_HARD,
                                       .scale = 0.0,
                                       .event_ts_ns =
                                           cmn_clock_wall_ns(f->clock)};
    assert_int_equal(zsock_send(decisions, "b", &decision, sizeof decision), 0);
    cmn_series_t *scale =
        cmn_metric_series(f->metrics->rate_scale_factor, "sim", NULL);
    cmn_series_t *pressure =
        cmn_metric_series(f->metrics->backpressure_state, "sim", NULL);
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    while (cmn_series_value(scale) != 0.0 ||
           cmn_series_value(pressure) != MDBP_LEVEL_HARD) {
        assert_true(zclock_mono() < deadline);
        zframe_t *chunk = zframe_recv_nowait(data); /* keep it flowing */
        zframe_destroy(&chunk);
        zclock_sleep(5); /* polling the gauge, not synchronising */
    }
    /* The stop reply: nothing left behind. */
    zsock_send(actor, "s8", PL_PRODUCER_STOP, (uint64_t)1000);
    char *reply = NULL;
    uint64_t unsent = 99;
    zsock_set_rcvtimeo(actor, DEADLINE_MS);
    while (true) {
        zframe_t *chunk = zframe_recv_nowait(data);
        zframe_destroy(&chunk);
        if (zsock_recv(actor, "s8", &reply, &unsent) == 0)
            break;
    }
    assert_string_equal(reply, PL_PRODUCER_STOPPED);
    zstr_free(&reply);
    zactor_destroy(&actor);
    zsock_destroy(&decisions);
    zsock_destroy(&data);
}

/* Classes (issue 16): a provider's records go to the sender of its class.
 * The bulk sender here never reads, so its lane fills and blocks; the
 * critical provider keeps making records all the same. A HARD decision
 * pauses the bulk provider; the critical one is paced by credits alone. */
static void test_a_full_class_blocks_only_its_providers(void **state)
{
    fixture_t *f = *state;
    zsock_t *live = zsock_new_pull("@inproc://test-actors-live");
    zsock_t *bulk = zsock_new(ZMQ_PULL);
    zsock_set_rcvhwm(bulk, 1);
    assert_int_equal(zsock_bind(bulk, "inproc://test-actors-bulk"), 0);
    /* "sim" is the critical provider, "back" the bulk one. */
    pl_producer_config_t config =
        s_producer(f, NULL, "inproc://test-actors-decisions-5",
                   "inproc://test-actors-admin-5");
    config.data_endpoints[MDBP_PRIORITY_CRITICAL] = "inproc://test-actors-live";
    config.data_endpoints[MDBP_PRIORITY_BULK] = "inproc://test-actors-bulk";
    pl_rate_config_t rate = {.capacity = 1000, .refill_rate = 100000};
    assert_int_equal(pl_rate_coordinator_add(config.rate, "back", &rate), 1);
    pl_synthetic_config_t synthetic = {
        .provider = "back", .symbols = "AAPL", .seed = 1};
    config.sources[1].synthetic = pl_synthetic_new(&synthetic);
    assert_non_null(config.sources[1].synthetic);
    config.sources[0].priority = MDBP_PRIORITY_CRITICAL;
    config.sources[1].priority = MDBP_PRIORITY_BULK;
    char error[PL_ACTOR_ERROR_MAX];
    zactor_t *actor = pl_producer_new(&config, error);
    assert_non_null(actor);
    /* 20 chunks of the critical provider, while bulk is stuck. */
    zsock_set_rcvtimeo(live, DEADLINE_MS);
    for (int chunk = 0; chunk < 20; chunk++) {
        zframe_t *frame = zframe_recv(live);
        assert_non_null(frame);
        const mdbp_record_t *records = (const mdbp_record_t *)zframe_data(frame);
        assert_string_equal(records[0].provider, "sim");
        zframe_destroy(&frame);
    }
    /* What bulk made is bounded by its socket buffers (a few chunks). */
    cmn_series_t *bulk_made =
        cmn_metric_series(f->metrics->records_produced, "back", NULL);
    assert_true(cmn_series_value(bulk_made) <= 16 * 8);
    /* HARD: bulk's bucket goes to 0, the critical one's stays at 1. */
    zsock_t *decisions = zsock_new_push(">inproc://test-actors-decisions-5");
    pl_feedback_decision_t decision = {.level = MDBP_LEVEL_HARD, .scale = 0.0};
    assert_int_equal(zsock_send(decisions, "b", &decision, sizeof decision), 0);
    cmn_series_t *back_scale =
        cmn_metric_series(f->metrics->rate_scale_factor, "back", NULL);
    cmn_series_t *live_scale =
        cmn_metric_series(f->metrics->rate_scale_factor, "sim", NULL);
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    while (cmn_series_value(back_scale) != 0.0) {
        assert_true(zclock_mono() < deadline);
        zframe_t *frame = zframe_recv_nowait(live); /* keep it flowing */
        zframe_destroy(&frame);
        zclock_sleep(5); /* polling the gauge, not synchronising */
    }
    assert_true(cmn_series_value(live_scale) == 1.0);
    zactor_destroy(&actor);
    zsock_destroy(&decisions);
    zsock_destroy(&bulk);
    zsock_destroy(&live);
}

/* The hot path without a hop: a scale stored in the cell (no message)
 * pauses the bucket; a rise stored there, followed by the decision message
 * as the subscriber sends it, wakes the paused producer and records flow
 * again. */
static void test_the_scale_cell_reaches_the_bucket(void **state)
{
    fixture_t *f = *state;
    zsock_t *data = zsock_new_pull("@inproc://test-actors-data-4");
    pl_producer_config_t config = s_producer(f, "inproc://test-actors-data-4",
                                             "inproc://test-actors-decisions-4",
                                             "inproc://test-actors-admin-4");
    pl_scale_cell_t *cell = pl_scale_cell_new(1.0);
    config.scale_cell = cell;
    char error[PL_ACTOR_ERROR_MAX];
    zactor_t *actor = pl_producer_new(&config, error);
    assert_non_null(actor);
    cmn_series_t *scale =
        cmn_metric_series(f->metrics->rate_scale_factor, "sim", NULL);
    cmn_series_t *paused = cmn_metric_series(f->metrics->paused, "sim", NULL);
    cmn_series_t *produced =
        cmn_metric_series(f->metrics->records_produced, "sim", NULL);
    pl_scale_cell_store(cell, 0.0);
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    while (cmn_series_value(scale) != 0.0 || cmn_series_value(paused) != 1) {
        assert_true(zclock_mono() < deadline);
        zframe_t *chunk = zframe_recv_nowait(data);
        zframe_destroy(&chunk);
        zclock_sleep(5); /* polling the gauge, not synchronising */
    }
    double at_pause = cmn_series_value(produced);
    zsock_t *decisions = zsock_new_push(">inproc://test-actors-decisions-4");
    pl_scale_cell_store(cell, 1.0);
    pl_feedback_decision_t decision = {.level = MDBP_LEVEL_OK, .scale = 1.0};
    assert_int_equal(zsock_send(decisions, "b", &decision, sizeof decision), 0);
    deadline = zclock_mono() + DEADLINE_MS;
    /* More than a chunk made before the pause could hold: made after it. */
    double enough = at_pause + (double)config.chunk_records;
    while (cmn_series_value(produced) <= enough ||
           cmn_series_value(paused) != 0) {
        assert_true(zclock_mono() < deadline);
        zframe_t *chunk = zframe_recv_nowait(data);
        zframe_destroy(&chunk);
        zclock_sleep(5);
    }
    zactor_destroy(&actor);
    zsock_destroy(&decisions);
    zsock_destroy(&data);
    pl_scale_cell_destroy(&cell);
}

#define STORES_HOST "stores.test"

/* The resolver of STORES_HOST: phase 0 answers 127.0.0.2, phase 1 adds
 * 127.0.0.3 (a pod the headless Service gained), phase 2 drops 127.0.0.2
 * (a pod gone). */
static int s_resolve_stores(const char *host,
                            char addresses[][PL_ENDPOINTS_ADDRESS_TEXT_MAX],
                            size_t max, void *arg)
{
    atomic_int *phase = arg;
    assert_string_equal(host, STORES_HOST);
    assert_true(max >= 2);
    if (atomic_load(phase) == 2) {
        strcpy(addresses[0], "127.0.0.3");
        return 1;
    }
    strcpy(addresses[0], "127.0.0.2");
    if (atomic_load(phase) == 0)
        return 1;
    strcpy(addresses[1], "127.0.0.3");
    return 2;
}

/* Waits for a batch on `store`, feeding the sender records meanwhile. */
static bool s_batch_arrives(zsock_t *store, zsock_t *data)
{
    mdbp_record_t records[10];
    memset(records, 0, sizeof records);
    for (size_t k = 0; k < 10; k++) {
        records[k].kind = MDBP_RECORD_TRADE;
        snprintf(records[k].provider, sizeof records[k].provider, "test");
        snprintf(records[k].symbol, sizeof records[k].symbol, "AAPL");
        records[k].u.trade.price = 100;
        records[k].u.trade.size = 1;
    }
    static int64_t ts = 1;
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    while (zclock_mono() < deadline) {
        for (size_t k = 0; k < 10; k++)
            records[k].ts_ns = ts++;
        zsock_send(data, "b", records, sizeof records);
        zmsg_t *batch = NULL;
        zsock_set_rcvtimeo(store, 20);
        if ((batch = zmsg_recv(store))) {
            zmsg_destroy(&batch);
            return true;
        }
    }
    return false;
}

/* Whether /metrics shows `text` now. */
static bool s_metrics_show(fixture_t *f, const char *text)
{
    size_t length = 0;
    char *rendered = cmn_metrics_render(f->registry, &length);
    assert_non_null(rendered);
    bool found = strstr(rendered, text) != NULL;
    free(rendered);
    return found;
}

/* Every address of a store host name gets its own connection, a new one is
 * found by the periodic resolution and gets batches too, and one gone
 * loses its connection and its labelled series. */
static void test_sender_connects_every_address_again(void **state)
{
    fixture_t *f = *state;
    zsock_t *pod2 = zsock_new(ZMQ_ROUTER);
    zsock_t *pod3 = zsock_new(ZMQ_ROUTER);
    int port = zsock_bind(pod2, "tcp://127.0.0.2:*");
    assert_true(port > 0);
    assert_int_equal(zsock_bind(pod3, "tcp://127.0.0.3:%d", port), port);
    atomic_int phase;
    atomic_init(&phase, 0);
    char endpoints[64];
    snprintf(endpoints, sizeof endpoints, "tcp://" STORES_HOST ":%d", port);
    pl_sender_config_t config = {.clock = f->clock,
                                 .endpoints = endpoints,
                                 .producer_id = "test",
                                 .data_endpoint = "inproc://test-actors-data-3",
                                 .limits_endpoint =
                                     "inproc://test-actors-limits-3",
                                 .primary = true,
                                 .session = 7,
                                 .resolve_ns = 50 * CMN_NS_PER_MS,
                                 .resolve = s_resolve_stores,
                                 .resolve_arg = &phase,
                                 .batch_records = 10,
                                 .batch_ns = 5 * CMN_NS_PER_MS,
                                 .window = 64,
                                 .ack_timeout_ns = 60 * CMN_NS_PER_SEC,
                                 .metrics = f->metrics,
                                 .status = f->status};
    char error[PL_ACTOR_ERROR_MAX];
    zactor_t *sender = pl_sender_new(&config, error);
    assert_non_null(sender);
    zsock_t *data = zsock_new_push(">inproc://test-actors-data-3");
    assert_true(s_batch_arrives(pod2, data));
    atomic_store(&phase, 1);
    assert_true(s_batch_arrives(pod3, data)); /* shared between both */
    char pod2_up[96];
    snprintf(pod2_up, sizeof pod2_up,
             "pipeline_store_up{address=\"tcp://127.0.0.2:%d\"}", port);
    assert_true(s_metrics_show(f, pod2_up));
    atomic_store(&phase, 2);
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    while (s_metrics_show(f, pod2_up)) {
        assert_true(zclock_mono() < deadline);
        zclock_sleep(10); /* polling the registry, not synchronising */
    }
    assert_true(s_batch_arrives(pod3, data)); /* still sending */
    zactor_destroy(&sender);
    zsock_destroy(&data);
    zsock_destroy(&pod2);
    zsock_destroy(&pod3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_producer_start_up_failure_is_reported, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_sender_start_up_failure_is_reported, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_a_decision_reaches_the_bucket,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_a_full_class_blocks_only_its_providers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_the_scale_cell_reaches_the_bucket,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_sender_connects_every_address_again, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
