/* pl_check: `mdp-pipeline check` (see pl_check.h). */
#include "pl_check.h"

#include <string.h>

#include <czmq.h>

#include "cmn_clock.h"
#include "cmn_curve.h"
#include <mdbp/feedback.h>

#define PL_CHECK_COMMAND "check"
#define PL_CHECK_SEPARATORS ", "
#define PL_CHECK_ENDPOINT_MAX 512
#define PL_CHECK_TCP_PREFIX "tcp://"
/* A monitor event: 16-bit event id and 32-bit value in the first frame. */
#define PL_CHECK_EVENT_BYTES 6
#define PL_CHECK_POLL_MS 50

bool pl_check_requested(int argc, char **argv)
{
    return argc > 1 && strcmp(argv[1], PL_CHECK_COMMAND) == 0;
}

/* Applies the CURVE client keys, when configured, as the actors do. */
static bool s_curve(zsock_t *socket, const pl_settings_t *settings)
{
    return !settings->curve_secret_key_file ||
           cmn_curve_client_apply(socket, settings->curve_secret_key_file,
                                  settings->curve_server_key_file) == 0;
}

/* The store's ROUTER answers a ZMTP handshake: a DEALER connects and sends
 * nothing, so nothing is stored. Returns NULL or why not. */
static const char *s_handshake(const char *endpoint,
                               const pl_settings_t *settings, int64_t wait_ms)
{
    static int monitors; /* main thread only */
    char monitor[PL_CHECK_ENDPOINT_MAX];
    snprintf(monitor, sizeof monitor, "inproc://pl-check-monitor-%d",
             monitors++);
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    if (!dealer)
        return "out of sockets";
    zsock_set_linger(dealer, 0);
    const char *why = NULL;
    zsock_t *events = NULL;
    if (!s_curve(dealer, settings))
        why = "the CURVE keys cannot be applied";
    else if (zmq_socket_monitor(zsock_resolve(dealer), monitor,
                                ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
             !(events = zsock_new_pair(monitor)) ||
             zsock_connect(dealer, "%s", endpoint) != 0)
        why = "cannot connect (a bad address?)";
    int64_t deadline = cmn_clock_now_mono_ns() + wait_ms * CMN_NS_PER_MS;
    if (!why)
        why = "no ZMTP handshake in time: nothing listening there, or not "
              "a coordinator";
    while (events && cmn_clock_now_mono_ns() < deadline) {
        zsock_set_rcvtimeo(events, PL_CHECK_POLL_MS);
        zmsg_t *message = zmsg_recv(events);
        if (!message)
            continue;
        zframe_t *frame = zmsg_first(message);
        uint16_t event = 0;
        if (frame && zframe_size(frame) >= PL_CHECK_EVENT_BYTES)
            memcpy(&event, zframe_data(frame), sizeof event);
        zmsg_destroy(&message);
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            why = NULL;
            break;
        }
        why = event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                  ? "the handshake was refused: CURVE keys not accepted"
                  : "the handshake failed: not a ZeroMQ peer, or CURVE on "
                    "one side only";
        break;
    }
    zmq_socket_monitor(zsock_resolve(dealer), NULL, 0);
    zsock_destroy(&events);
    zsock_destroy(&dealer);
    return why;
}

/* A coordinator's XPUB sends something (a snapshot on subscription, a
 * heartbeat every MDS_HEARTBEAT_MS) within `wait_ms`. Returns NULL and
 * the event, or why not. */
static const char *s_feedback(const char *endpoint,
                              const pl_settings_t *settings, int64_t wait_ms,
                              mdbp_feedback_t *event)
{
    zsock_t *sub = zsock_new(ZMQ_SUB);
    if (!sub)
        return "out of sockets";
    zsock_set_linger(sub, 0);
    const char *why = "no feedback message in time: nothing publishing "
                      "there (a heartbeat comes every MDS_HEARTBEAT_MS)";
    if (!s_curve(sub, settings))
        why = "the CURVE keys cannot be applied";
    else if (zsock_connect(sub, "%s", endpoint) != 0)
        why = "cannot connect (a bad address?)";
    else {
        zsock_set_subscribe(sub, MDBP_FEEDBACK_TOPIC_PREFIX);
        zsock_set_rcvtimeo(sub, (int)wait_ms);
        zmsg_t *message = zmsg_recv(sub);
        zframe_t *body = message ? zmsg_last(message) : NULL;
        mdbp_error_t error;
        if (body && mdbp_feedback_decode(zframe_data(body), zframe_size(body),
                                         event, &error) == 0)
            why = NULL;
        else if (body)
            why = "a message came that is not feedback of this protocol";
        zmsg_destroy(&message);
    }
    zsock_destroy(&sub);
    return why;
}

/* Every tcp:// endpoint of a list through `probe`; the others (ipc://,
 * inproc://) cannot be tried from here and are only named. */
static void s_endpoints(cmn_check_t *check, const char *variable,
                        const char *list, const pl_settings_t *settings,
                        bool feedback)
{
    const char *cursor = list, *item;
    size_t length;
    while ((item = cmn_config_list_next(&cursor, PL_CHECK_SEPARATORS,
                                        &length))) {
        char endpoint[PL_CHECK_ENDPOINT_MAX];
        snprintf(endpoint, sizeof endpoint, "%.*s", (int)length, item);
        if (strncmp(endpoint, PL_CHECK_TCP_PREFIX,
                    strlen(PL_CHECK_TCP_PREFIX)) != 0) {
            cmn_check_passed(check, "%s: %s: not tried (not tcp://)",
                             variable, endpoint);
            continue;
        }
        mdbp_feedback_t event;
        const char *why =
            feedback
                ? s_feedback(endpoint, settings, PL_CHECK_PROBE_MS_DEFAULT,
                             &event)
                : s_handshake(endpoint, settings, PL_CHECK_PROBE_MS_DEFAULT);
        if (why)
            cmn_check_problem(check, CMN_CHECK_RUNTIME, variable,
                              "%s: %s: %s", variable, endpoint, why);
        else if (feedback)
            cmn_check_passed(check,
                             "%s: %s: coordinator %s publishes (level %s, "
                             "queue %llu/%llu)",
                             variable, endpoint, event.coordinator_id,
                             mdbp_level_name(event.level),
                             (unsigned long long)event.queue_size,
                             (unsigned long long)event.capacity);
        else
            cmn_check_passed(check, "%s: %s: a ZeroMQ peer answers (ZMTP "
                                    "handshake; nothing sent)",
                             variable, endpoint);
    }
}

/* The providers as start-up builds them (replay files opened), then
 * freed; the list, with the ones only other variables named. */
static void s_providers(cmn_check_t *check, pl_settings_t *settings)
{
    cmn_clock_t *clock = cmn_clock_new_system();
    pl_rate_coordinator_t *rate = NULL;
    pl_producer_source_t sources[PL_RATE_PROVIDERS_MAX];
    memset(sources, 0, sizeof sources);
    if (clock &&
        pl_settings_build_providers(settings, clock, &rate, sources) == 0)
        for (size_t idx = 0; idx < settings->names.count; idx++) {
            const char *name = settings->names.names[idx];
            const char *implied = NULL;
            for (size_t k = 0; k < settings->implied.count; k++)
                if (strcmp(settings->implied.names[k], name) == 0)
                    implied = settings->implied.why[k];
            cmn_check_passed(check, "provider %s: %s%s%s%s", name,
                             pl_settings_source(settings, name),
                             implied ? " (created: named by " : "",
                             implied ? implied : "", implied ? ")" : "");
        }
    pl_rate_coordinator_destroy(&rate);
    for (size_t idx = 0; idx < PL_RATE_PROVIDERS_MAX; idx++) {
        pl_synthetic_destroy(&sources[idx].synthetic);
        pl_replay_destroy(&sources[idx].replay);
    }
    cmn_clock_destroy(&clock);
}

int pl_check_command(pl_settings_t *settings, cmn_check_t *check)
{
    cmn_config_t *config = settings->config;
    size_t positionals = cmn_config_positional_count(config);
    for (size_t index = 1; index < positionals; index++)
        cmn_check_problem(check, CMN_CHECK_CONFIG, "check",
                          "unexpected argument '%s' after check",
                          cmn_config_positional(config, index));
    if (cmn_check_count(check, true, CMN_CHECK_CONFIG) == 0)
        cmn_check_passed(check, "%s", "every option parsed and the rules "
                                      "between options checked");
    s_providers(check, settings);
    bool split = settings->metrics_port >= 0;
    if (settings->http_enable)
        cmn_check_port(check,
                       split ? "MDP_HTTP_PORT" : "MDP_METRICS_STANDALONE_PORT",
                       settings->http_bind, settings->http_port);
    if (settings->http_enable && split)
        cmn_check_port(check, "MDP_METRICS_STANDALONE_PORT",
                       settings->http_bind, settings->metrics_port);
    s_endpoints(check, "MDP_STORE_ENDPOINTS", settings->store_endpoints,
                settings, false);
    if (settings->feedback)
        s_endpoints(check, "MDP_FEEDBACK_ENDPOINTS",
                    settings->feedback_endpoints, settings, true);
    return cmn_check_report(check, config, stdout, stderr);
}
