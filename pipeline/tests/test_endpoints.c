/* Unit tests of pl_endpoints in links mode (the sender's): an injected
 * resolver answers changing address lists for a name; each address added
 * or vanished reaches the owner's link callback once. No socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pl_endpoints.h"

#define HOST "stores.test"
#define LINKS_MAX 8

typedef struct {
    int phase;                 /* which answer the resolver gives */
    char links[LINKS_MAX][64]; /* addresses linked now */
    size_t count;
    int added, removed; /* callbacks so far */
    bool refuse;        /* the next link cannot be made */
} s_world_t;

/* Phase 0: two pods; 1: a third added; 2: the first gone; 3: the name does
 * not resolve now; 4: no address at all. */
static int s_resolve(const char *host,
                     char addresses[][PL_ENDPOINTS_ADDRESS_TEXT_MAX],
                     size_t max, void *arg)
{
    s_world_t *world = arg;
    assert_string_equal(host, HOST);
    assert_true(max >= 3);
    switch (world->phase) {
    case 0:
        strcpy(addresses[0], "10.0.0.1");
        strcpy(addresses[1], "10.0.0.2");
        return 2;
    case 1:
        strcpy(addresses[0], "10.0.0.1");
        strcpy(addresses[1], "10.0.0.2");
        strcpy(addresses[2], "10.0.0.3");
        return 3;
    case 2:
        strcpy(addresses[0], "10.0.0.2");
        strcpy(addresses[1], "10.0.0.3");
        return 2;
    case 3:
        return -1;
    default:
        return 0;
    }
}

static bool s_linked(const s_world_t *world, const char *address)
{
    for (size_t k = 0; k < world->count; k++)
        if (strcmp(world->links[k], address) == 0)
            return true;
    return false;
}

static int s_link(const char *address, bool added, void *arg)
{
    s_world_t *world = arg;
    if (added) {
        if (world->refuse) {
            world->refuse = false;
            return -1;
        }
        assert_false(s_linked(world, address)); /* once per address */
        assert_true(world->count < LINKS_MAX);
        snprintf(world->links[world->count++], sizeof world->links[0], "%s",
                 address);
        world->added++;
        return 0;
    }
    for (size_t k = 0; k < world->count; k++)
        if (strcmp(world->links[k], address) == 0) {
            world->links[k][0] = '\0';
            memmove(&world->links[k], &world->links[k + 1],
                    (world->count - k - 1) * sizeof world->links[0]);
            world->count--;
            world->removed++;
            return 0;
        }
    fail_msg("removed an address never added: %s", address);
    return 0;
}

static void test_every_address_is_a_link_kept_with_dns(void **state)
{
    (void)state;
    s_world_t world = {0};
    pl_endpoints_t *endpoints =
        pl_endpoints_new_links("tcp://" HOST ":5555, tcp://127.0.0.1:6000",
                               s_resolve, &world, s_link, &world, "test");
    assert_non_null(endpoints);
    assert_int_equal(pl_endpoints_refresh(endpoints), 3);
    assert_true(s_linked(&world, "tcp://10.0.0.1:5555"));
    assert_true(s_linked(&world, "tcp://10.0.0.2:5555"));
    assert_true(s_linked(&world, "tcp://127.0.0.1:6000")); /* a literal */
    /* The same answer again: nothing changes. */
    assert_int_equal(pl_endpoints_refresh(endpoints), 3);
    assert_int_equal(world.added, 3);
    /* A pod the headless Service gained gets a link. */
    world.phase = 1;
    assert_int_equal(pl_endpoints_refresh(endpoints), 4);
    assert_true(s_linked(&world, "tcp://10.0.0.3:5555"));
    /* A pod gone loses its link. */
    world.phase = 2;
    assert_int_equal(pl_endpoints_refresh(endpoints), 3);
    assert_false(s_linked(&world, "tcp://10.0.0.1:5555"));
    assert_int_equal(world.removed, 1);
    /* A failed resolution keeps what the name had. */
    world.phase = 3;
    assert_int_equal(pl_endpoints_refresh(endpoints), 3);
    assert_int_equal(world.removed, 1);
    /* A name with no address now: its links go, the literal stays. */
    world.phase = 4;
    assert_int_equal(pl_endpoints_refresh(endpoints), 1);
    assert_true(s_linked(&world, "tcp://127.0.0.1:6000"));
    assert_int_equal(world.removed, 3);
    pl_endpoints_destroy(&endpoints);
    assert_null(endpoints);
}

/* A link the owner cannot make now is tried again at the next refresh. */
static void test_a_link_not_made_is_tried_again(void **state)
{
    (void)state;
    s_world_t world = {.refuse = true};
    pl_endpoints_t *endpoints = pl_endpoints_new_links(
        "tcp://127.0.0.1:6000", s_resolve, &world, s_link, &world, "test");
    assert_int_equal(pl_endpoints_refresh(endpoints), 0);
    assert_int_equal(world.count, 0);
    assert_int_equal(pl_endpoints_refresh(endpoints), 1);
    assert_true(s_linked(&world, "tcp://127.0.0.1:6000"));
    pl_endpoints_destroy(&endpoints);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_address_is_a_link_kept_with_dns),
        cmocka_unit_test(test_a_link_not_made_is_tried_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
