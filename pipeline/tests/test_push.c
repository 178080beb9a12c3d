/* Unit tests of the push provider (pl_provider_push) over a real TCP socket
 * on 127.0.0.1 and a real FIFO. Reads poll with a deadline, never sleep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pl_provider_push.h"

#define POLL_MS 50
#define DEADLINE_POLLS 100 /* 5 s */
#define PATH_BYTES 256

static int s_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in where = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &where.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&where, sizeof where), 0);
    return fd;
}

static void s_write(int fd, const char *text)
{
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* Reads `want` records within the deadline, polling the provider's fd. */
static size_t s_read(pl_push_t *push, mdbp_record_t *out, size_t want)
{
    size_t got = 0;
    for (int round = 0; round < DEADLINE_POLLS && got < want; round++) {
        while (got < want && pl_push_next(push, &out[got]) == 1)
            got++;
        if (got < want) {
            struct pollfd item = {pl_push_fd(push), POLLIN, 0};
            poll(&item, 1, POLL_MS);
        }
    }
    return got;
}

static void test_tcp_lines_become_records(void **state)
{
    (void)state;
    assert_true(pl_push_address_valid("0"));
    assert_true(pl_push_address_valid("127.0.0.1:7000"));
    assert_true(pl_push_address_valid("fifo:/tmp/x"));
    assert_false(pl_push_address_valid("localhost:7000"));
    assert_false(pl_push_address_valid("70000"));
    assert_false(pl_push_address_valid(""));
    assert_false(pl_push_address_valid("fifo:"));
    pl_push_config_t config = {.provider = "live", .address = "0"};
    pl_push_t *push = pl_push_new(&config);
    assert_non_null(push);
    int port = pl_push_port(push);
    assert_true(port > 0);
    mdbp_record_t none;
    assert_int_equal(pl_push_next(push, &none), 0); /* never blocks */
    int a = s_connect(port), b = s_connect(port);
    /* A header, a comment, a blank line, a bad line, CSV and NDJSON, a
     * line split over two writes and CRLF endings. */
    s_write(a, "kind,provider,symbol,ts_ns,f1,f2\n# comment\n\n"
               "trade,x,AAPL,1700000000000000000,189.5,100\r\n"
               "trade,x,BAD,not-a-time,1,1\n"
               "quote,x,AAPL,1700000000000000001,189.4,2");
    s_write(b, "{\"kind\":\"bar\",\"provider\":\"x\",\"symbol\":\"MSFT\","
               "\"ts_ns\":1700000000000000000,\"open\":1,\"high\":2,"
               "\"low\":0.5,\"close\":1.5,\"volume\":10}\n");
    s_write(a, "00,189.6,300\n");
    mdbp_record_t out[4];
    assert_int_equal(s_read(push, out, 3), 3);
    int trades = 0, quotes = 0, bars = 0;
    for (int k = 0; k < 3; k++) {
        assert_string_equal(out[k].provider, "live"); /* replaced */
        trades += out[k].kind == MDBP_RECORD_TRADE;
        quotes += out[k].kind == MDBP_RECORD_QUOTE;
        bars += out[k].kind == MDBP_RECORD_BAR;
        if (out[k].kind == MDBP_RECORD_QUOTE)
            assert_true(out[k].u.quote.bid_size == 200);
    }
    assert_int_equal(trades + quotes + bars, 3);
    assert_int_equal(trades, 1);
    assert_int_equal(bars, 1);
    assert_int_equal(pl_push_bad_lines(push), 1);
    assert_int_equal(pl_push_accepted(push), 2);
    /* A client that leaves: its last line without a line break counts. */
    s_write(b, "trade,x,LAST,1700000000000000009,1,1");
    close(b);
    assert_int_equal(s_read(push, out, 1), 1);
    assert_string_equal(out[0].symbol, "LAST");
    close(a);
    for (int round = 0; round < DEADLINE_POLLS && pl_push_connections(push);
         round++) {
        pl_push_next(push, &none);
        struct pollfd item = {pl_push_fd(push), POLLIN, 0};
        poll(&item, 1, POLL_MS);
    }
    assert_int_equal(pl_push_connections(push), 0);
    pl_push_destroy(&push);
    assert_null(push);
}

static void test_a_long_line_is_skipped_whole(void **state)
{
    (void)state;
    pl_push_config_t config = {.provider = "live", .address = "0"};
    pl_push_t *push = pl_push_new(&config);
    int fd = s_connect(pl_push_port(push));
    char *long_line = malloc(3 * PL_PUSH_LINE_MAX + 2);
    memset(long_line, 'x', 3 * PL_PUSH_LINE_MAX);
    long_line[3 * PL_PUSH_LINE_MAX] = '\n';
    long_line[3 * PL_PUSH_LINE_MAX + 1] = '\0';
    s_write(fd, long_line);
    s_write(fd, "trade,x,OK,1700000000000000000,1,1\n");
    mdbp_record_t out[1];
    assert_int_equal(s_read(push, out, 1), 1);
    assert_string_equal(out[0].symbol, "OK");
    assert_int_equal(pl_push_bad_lines(push), 1);
    free(long_line);
    close(fd);
    pl_push_destroy(&push);
}

static void test_fifo_survives_its_writers(void **state)
{
    (void)state;
    char directory[PATH_BYTES] = "/tmp/pl-push-test-XXXXXX";
    assert_non_null(mkdtemp(directory));
    char path[PATH_BYTES * 2], address[PATH_BYTES * 3];
    snprintf(path, sizeof path, "%s/feed.fifo", directory);
    snprintf(address, sizeof address, "fifo:%s", path);
    pl_push_config_t config = {.provider = "live", .address = address};
    pl_push_t *push = pl_push_new(&config);
    assert_non_null(push);
    for (int writer = 0; writer < 2; writer++) {
        int fd = open(path, O_WRONLY);
        assert_true(fd >= 0);
        s_write(fd, writer == 0 ? "trade,x,W0,1700000000000000000,1,1\n"
                                : "trade,x,W1,1700000000000000001,1,1\n");
        close(fd);
        mdbp_record_t out[1];
        assert_int_equal(s_read(push, out, 1), 1);
        assert_string_equal(out[0].symbol, writer == 0 ? "W0" : "W1");
    }
    pl_push_destroy(&push);
    unlink(path);
    rmdir(directory);
}

static void test_a_taken_port_is_refused(void **state)
{
    (void)state;
    pl_push_config_t config = {.provider = "live", .address = "0"};
    pl_push_t *first = pl_push_new(&config);
    char address[32];
    snprintf(address, sizeof address, "127.0.0.1:%d", pl_push_port(first));
    pl_push_config_t again = {.provider = "live", .address = address};
    assert_null(pl_push_new(&again));
    pl_push_destroy(&first);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_lines_become_records),
        cmocka_unit_test(test_a_long_line_is_skipped_whole),
        cmocka_unit_test(test_fifo_survives_its_writers),
        cmocka_unit_test(test_a_taken_port_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
