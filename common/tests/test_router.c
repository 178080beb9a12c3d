/* Unit tests of cmn_router: the envelope verdict (pure) and the bounded
 * receive on a real ROUTER (inproc), issue 12. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "cmn_router.h"

static const cmn_router_limits_t s_limits = {
    .envelope_frames_max = 8,
    .envelope_bytes_max = 2048,
    .payload_bytes_max = 4096,
};

static void test_verdict(void **state)
{
    (void)state;
    assert_int_equal(cmn_router_verdict(&s_limits, 1, 5, 100), CMN_ROUTER_OK);
    assert_int_equal(cmn_router_verdict(&s_limits, 8, 2048, 4096),
                     CMN_ROUTER_OK);
    assert_int_equal(cmn_router_verdict(&s_limits, 9, 9, 1),
                     CMN_ROUTER_ENVELOPE_FRAMES);
    assert_int_equal(cmn_router_verdict(&s_limits, 2, 2049, 1),
                     CMN_ROUTER_ENVELOPE_BYTES);
    assert_int_equal(cmn_router_verdict(&s_limits, 2, 10, 4097),
                     CMN_ROUTER_PAYLOAD_BYTES);
    assert_string_equal(cmn_router_verdict_name(CMN_ROUTER_ENVELOPE_FRAMES),
                        "envelope_frames");
    assert_string_equal(cmn_router_verdict_name(CMN_ROUTER_ENVELOPE_BYTES),
                        "envelope_bytes");
}

typedef struct {
    zsock_t *router;
    zsock_t *client;
} s_pair_t;

static s_pair_t s_pair(int client_type, const char *endpoint)
{
    s_pair_t pair = {zsock_new_router(endpoint), zsock_new(client_type)};
    assert_non_null(pair.router);
    assert_non_null(pair.client);
    assert_int_equal(zsock_connect(pair.client, "%s", endpoint), 0);
    zsock_set_rcvtimeo(pair.router, 5000);
    zsock_set_rcvtimeo(pair.client, 5000);
    return pair;
}

static void s_pair_destroy(s_pair_t *pair)
{
    zsock_destroy(&pair->client);
    zsock_destroy(&pair->router);
}

static void test_recv_keeps_a_valid_envelope(void **state)
{
    (void)state;
    s_pair_t pair = s_pair(ZMQ_DEALER, "inproc://router-valid");
    zstr_sendx(pair.client, "hop1", "hop2", "payload", NULL);
    zmsg_t *message = NULL;
    assert_int_equal(cmn_router_recv(pair.router, &s_limits, &message),
                     CMN_ROUTER_OK);
    assert_int_equal(zmsg_size(message), 4); /* id, hop1, hop2, payload */
    assert_true(zframe_streq(zmsg_last(message), "payload"));
    zmsg_destroy(&message);
    s_pair_destroy(&pair);
}

static void test_recv_refuses_and_keeps_the_route(void **state)
{
    (void)state;
    s_pair_t pair = s_pair(ZMQ_REQ, "inproc://router-refused");
    zmsg_t *request = zmsg_new();
    for (int index = 0; index < 20; index++)
        zmsg_addstr(request, "hop");
    zmsg_addstr(request, "payload");
    assert_int_equal(zmsg_send(&request, pair.client), 0);
    zmsg_t *message = NULL;
    assert_int_equal(cmn_router_recv(pair.router, &s_limits, &message),
                     CMN_ROUTER_ENVELOPE_FRAMES);
    /* id, the REQ delimiter, the payload: enough to answer, nothing more */
    assert_int_equal(zmsg_size(message), 3);
    zmsg_first(message);
    assert_int_equal(zframe_size(zmsg_next(message)), 0);
    assert_true(zframe_streq(zmsg_last(message), "payload"));
    zframe_t *payload = zmsg_last(message);
    zmsg_remove(message, payload);
    zframe_destroy(&payload);
    zmsg_addstr(message, "nack");
    assert_int_equal(cmn_router_send(pair.router, &message), 0);
    assert_null(message);
    char *reply = zstr_recv(pair.client);
    assert_non_null(reply);
    assert_string_equal(reply, "nack");
    zstr_free(&reply);

    /* The next message is read from its own start. */
    zstr_send(pair.client, "again");
    assert_int_equal(cmn_router_recv(pair.router, &s_limits, &message),
                     CMN_ROUTER_OK);
    assert_true(zframe_streq(zmsg_last(message), "again"));
    zmsg_destroy(&message);
    s_pair_destroy(&pair);
}

static void test_recv_refuses_big_envelope_and_payload(void **state)
{
    (void)state;
    s_pair_t pair = s_pair(ZMQ_DEALER, "inproc://router-big");
    char *big = calloc(1, 8192);
    assert_non_null(big);
    zmsg_t *request = zmsg_new();
    zmsg_addmem(request, big, 8192);
    zmsg_addstr(request, "payload");
    assert_int_equal(zmsg_send(&request, pair.client), 0);
    zmsg_t *message = NULL;
    assert_int_equal(cmn_router_recv(pair.router, &s_limits, &message),
                     CMN_ROUTER_ENVELOPE_BYTES);
    assert_int_equal(zmsg_size(message), 2); /* id, payload */
    zmsg_destroy(&message);

    zsock_send(pair.client, "b", big, (size_t)8192);
    assert_int_equal(cmn_router_recv(pair.router, &s_limits, &message),
                     CMN_ROUTER_PAYLOAD_BYTES);
    assert_int_equal(zmsg_size(message), 1); /* id only: payload dropped */
    zmsg_destroy(&message);
    free(big);
    s_pair_destroy(&pair);
}

static void test_send_to_a_gone_peer_fails(void **state)
{
    (void)state;
    zsock_t *router = zsock_new_router("inproc://router-gone");
    assert_non_null(router);
    zsock_set_router_mandatory(router, 1);
    zmsg_t *message = zmsg_new();
    zmsg_addstr(message, "nobody");
    zmsg_addstr(message, "reply");
    assert_int_equal(cmn_router_send(router, &message), -1);
    assert_int_equal(errno, EHOSTUNREACH);
    assert_null(message);
    zsock_destroy(&router);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdict),
        cmocka_unit_test(test_recv_keeps_a_valid_envelope),
        cmocka_unit_test(test_recv_refuses_and_keeps_the_route),
        cmocka_unit_test(test_recv_refuses_big_envelope_and_payload),
        cmocka_unit_test(test_send_to_a_gone_peer_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
