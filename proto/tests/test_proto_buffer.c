/* Unit tests of mdbp_buffer: the encoders' byte buffer, and that an
 * encoder appends a whole message or nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <mdbp/mdbp.h>

#define TEST_APPEND_ROUNDS 1000 /* bytes appended one at a time */

static void test_append_grows_and_keeps_bytes(void **state)
{
    (void)state;
    mdbp_buffer_t buffer = MDBP_BUFFER_INIT;
    assert_null(buffer.data);
    for (size_t index = 0; index < TEST_APPEND_ROUNDS; index++) {
        uint8_t byte = (uint8_t)index;
        assert_int_equal(mdbp_buffer_append(&buffer, &byte, 1), 0);
    }
    assert_int_equal(buffer.size, TEST_APPEND_ROUNDS);
    assert_true(buffer.capacity >= buffer.size);
    for (size_t index = 0; index < TEST_APPEND_ROUNDS; index++)
        assert_int_equal(buffer.data[index], (uint8_t)index);
    assert_int_equal(mdbp_buffer_append(&buffer, NULL, 0), 0);
    assert_int_equal(buffer.size, TEST_APPEND_ROUNDS);
    mdbp_buffer_release(&buffer);
    assert_null(buffer.data);
    assert_int_equal(buffer.size, 0);
    mdbp_buffer_release(&buffer); /* twice is fine */
}

static void test_reset_keeps_memory(void **state)
{
    (void)state;
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    assert_int_equal(mdbp_buffer_append(&buffer, "abc", 3), 0);
    uint8_t *data = buffer.data;
    mdbp_buffer_reset(&buffer);
    assert_int_equal(buffer.size, 0);
    assert_ptr_equal(buffer.data, data);
    assert_int_equal(mdbp_buffer_append(&buffer, "de", 2), 0);
    assert_memory_equal(buffer.data, "de", 2);
    mdbp_buffer_release(&buffer);
}

/* Encoders append: two replies in one buffer decode one after the other,
 * and a refused encode leaves the buffer as it was. */
static void test_encoders_append_whole_messages(void **state)
{
    (void)state;
    mdbp_buffer_t buffer = MDBP_BUFFER_INIT;
    mdbp_reply_t ack = {.type = MDBP_REPLY_ACK, .batch_seq = 7, .written = 3};
    assert_int_equal(mdbp_reply_encode(&ack, &buffer), 0);
    size_t first = buffer.size;
    assert_int_equal(mdbp_reply_encode(&ack, &buffer), 0);
    assert_int_equal(buffer.size, 2 * first);
    assert_memory_equal(buffer.data, buffer.data + first, first);

    mdbp_reply_t bad = {.type = MDBP_REPLY_NACK, .reason = 99};
    assert_int_equal(mdbp_reply_encode(&bad, &buffer), -1);
    mdbp_record_t record = {.kind = MDBP_RECORD_TRADE, .ts_ns = 1};
    /* empty provider and symbol: refused before a byte is written */
    assert_int_equal(mdbp_batch_encode("p", 1, &record, 1, &buffer), -1);
    assert_int_equal(buffer.size, 2 * first);

    mdbp_reply_t decoded;
    mdbp_error_t error = {{0}};
    assert_int_equal(mdbp_reply_decode(buffer.data, first, &decoded, &error),
                     0);
    assert_int_equal(decoded.batch_seq, 7);
    assert_int_equal(decoded.written, 3);
    mdbp_buffer_release(&buffer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_grows_and_keeps_bytes),
        cmocka_unit_test(test_reset_keeps_memory),
        cmocka_unit_test(test_encoders_append_whole_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
