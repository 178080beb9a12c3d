/* Unit tests of cmn_allowlist: the certificate parser (pure) and a scan of
 * a real temporary directory with the entries issue 12 found dangerous. */
#include <czmq.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cmn_allowlist.h"
#include "cmn_curve.h"

#define PATH_BYTES 512
#define KEY_Z85 "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"

static const char s_certificate[] =
    "#   ****  Generated on 2026-12-02 by CZMQ  ****\n"
    "#   ZeroMQ CURVE Public Certificate\n"
    "\n"
    "metadata\n"
    "    name = \"allowed\"\n"
    "curve\n"
    "    public-key = \"" KEY_Z85 "\"\n";

static void test_parse_certificate(void **state)
{
    (void)state;
    uint8_t key[CMN_ALLOWLIST_KEY_BYTES];
    uint8_t expected[CMN_ALLOWLIST_KEY_BYTES];
    const char *reason = NULL;
    assert_int_equal(
        cmn_allowlist_parse(s_certificate, strlen(s_certificate), key, &reason),
        0);
    assert_non_null(zmq_z85_decode(expected, KEY_Z85));
    assert_memory_equal(key, expected, sizeof key);
    /* CRLF line ends and no quotes are fine too. */
    const char crlf[] = "curve\r\n    public-key = " KEY_Z85 "\r\n";
    assert_int_equal(cmn_allowlist_parse(crlf, strlen(crlf), key, &reason), 0);
}

static void test_parse_refuses_what_is_not_a_certificate(void **state)
{
    (void)state;
    uint8_t key[CMN_ALLOWLIST_KEY_BYTES];
    const char *reason = NULL;
    const char passwd[] = "root:x:0:0:root:/root:/bin/bash\n";
    assert_int_equal(cmn_allowlist_parse(passwd, strlen(passwd), key, &reason),
                     -1);
    assert_non_null(reason);
    /* The key outside the curve section does not count. */
    const char elsewhere[] = "metadata\n    public-key = \"" KEY_Z85 "\"\n";
    assert_int_equal(
        cmn_allowlist_parse(elsewhere, strlen(elsewhere), key, &reason), -1);
    const char short_key[] = "curve\n    public-key = \"abc\"\n";
    assert_int_equal(
        cmn_allowlist_parse(short_key, strlen(short_key), key, &reason), -1);
    const char binary[] = "curve\n\x01\x02\n";
    assert_int_equal(
        cmn_allowlist_parse(binary, sizeof binary - 1, key, &reason), -1);
    const char twice[] = "curve\n    public-key = \"" KEY_Z85 "\"\n"
                         "    public-key = \"" KEY_Z85 "\"\n";
    assert_int_equal(cmn_allowlist_parse(twice, strlen(twice), key, &reason),
                     -1);
    const char zero[] = "curve\n    public-key = "
                        "\"0000000000000000000000000000000000000000\"\n";
    assert_int_equal(cmn_allowlist_parse(zero, strlen(zero), key, &reason), -1);
    assert_int_equal(cmn_allowlist_parse("", 0, key, &reason), -1);
}

static void s_path(char *out, const char *dir, const char *name)
{
    int length = snprintf(out, PATH_BYTES, "%.256s/%.64s", dir, name);
    assert_true(length > 0 && length < PATH_BYTES);
}

static void s_write(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
}

static void s_key_of(const char *path, uint8_t *key)
{
    zcert_t *cert = zcert_load(path);
    assert_non_null(cert);
    memcpy(key, zcert_public_key(cert), CMN_ALLOWLIST_KEY_BYTES);
    zcert_destroy(&cert);
}

static void test_scan_directory(void **state)
{
    (void)state;
    char dir[PATH_BYTES] = "/tmp/test_allowlist_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char clients[PATH_BYTES], data[PATH_BYTES], path[PATH_BYTES];
    char plain[PATH_BYTES], linked[PATH_BYTES], outside[PATH_BYTES];
    s_path(clients, dir, "clients");
    assert_int_equal(mkdir(clients, 0700), 0);
    s_path(data, clients, "..data");
    assert_int_equal(mkdir(data, 0700), 0);
    s_path(plain, clients, "plain");
    assert_int_equal(cmn_curve_keygen(plain, "plain"), 0);
    s_path(path, clients, "plain_secret");
    assert_int_equal(unlink(path), 0); /* public certificates only */
    s_path(linked, data, "linked");
    assert_int_equal(cmn_curve_keygen(linked, "linked"), 0);
    s_path(path, clients, "linked");
    assert_int_equal(symlink("..data/linked", path), 0);
    s_path(outside, dir, "outside");
    assert_int_equal(cmn_curve_keygen(outside, "outside"), 0);
    s_path(path, clients, "outside-link");
    assert_int_equal(symlink(outside, path), 0);
    s_path(path, clients, "passwd-link");
    assert_int_equal(symlink("/etc/passwd", path), 0);
    s_path(path, clients, "a-fifo");
    assert_int_equal(mkfifo(path, 0600), 0);
    s_path(path, clients, "notes.txt");
    s_write(path, "not a certificate\n");
    s_path(path, clients, "subdir");
    assert_int_equal(mkdir(path, 0700), 0);

    cmn_allowlist_t *allowlist = cmn_allowlist_new(clients);
    assert_non_null(allowlist);
    uint8_t key[CMN_ALLOWLIST_KEY_BYTES];
    s_key_of(plain, key);
    assert_true(cmn_allowlist_has(allowlist, key));
    s_key_of(linked, key);
    assert_true(cmn_allowlist_has(allowlist, key));
    s_key_of(outside, key);
    assert_false(cmn_allowlist_has(allowlist, key));
    /* outside-link, passwd-link, a-fifo, notes.txt; not subdir or ..data */
    assert_int_equal(cmn_allowlist_refused(allowlist), 4);

    /* Unchanged directory: no rescan; a removed file goes at the next. */
    assert_int_equal(cmn_allowlist_refresh(allowlist, false), 2);
    s_path(path, clients, "plain");
    assert_int_equal(unlink(path), 0);
    assert_int_equal(cmn_allowlist_refresh(allowlist, true), 1);
    cmn_allowlist_destroy(&allowlist);
    assert_null(allowlist);

    char command[PATH_BYTES + 16];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    assert_int_equal(system(command), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_certificate),
        cmocka_unit_test(test_parse_refuses_what_is_not_a_certificate),
        cmocka_unit_test(test_scan_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
