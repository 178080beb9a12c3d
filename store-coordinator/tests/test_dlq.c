/* Unit tests for the dead-letter file: lines are NDJSON records with a
 * reason, readable back with mdbp_text, appended across writers; the file
 * is followed by path (deleted or moved while open: later lines land at the
 * path), and a file that cannot be written (/dev/full, a file-size limit)
 * is an error, never a silent success. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <signal.h>

#include <cmocka.h>

#include "sc_dlq.h"
#include <mdbp/text.h>

#define LINE_BYTES 4096

static void make_quote(mdbp_record_t *record, int64_t ts_ns)
{
    memset(record, 0, sizeof *record);
    record->kind = MDBP_RECORD_QUOTE;
    strcpy(record->provider, "synthetic");
    strcpy(record->symbol, "MSFT");
    record->ts_ns = ts_ns;
    record->u.quote.bid = 100.25;
    record->u.quote.bid_size = 3;
    record->u.quote.ask = 100.5;
    record->u.quote.ask_size = 4;
}

static void test_lines_read_back(void **state)
{
    (void)state;
    char path[] = "/tmp/test_dlq_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);

    sc_dlq_t *first = sc_dlq_new(path);
    sc_dlq_t *second = sc_dlq_new(path);
    mdbp_record_t record;
    make_quote(&record, 1);
    assert_int_equal(sc_dlq_append(first, &record, "CHECK constraint"), 0);
    make_quote(&record, 2);
    assert_int_equal(sc_dlq_append(second, &record, "say \"why\"\n"), 0);
    make_quote(&record, 3);
    assert_int_equal(sc_dlq_append(first, &record, NULL), 0);
    assert_int_equal(sc_dlq_sync(first), 0);
    assert_int_equal(sc_dlq_sync(second), 0);
    assert_int_equal(sc_dlq_count(first), 2);
    assert_string_equal(sc_dlq_path(first), path);
    sc_dlq_destroy(&first);
    sc_dlq_destroy(&second);
    assert_null(first);

    FILE *file = fopen(path, "r");
    assert_non_null(file);
    char line[LINE_BYTES];
    int64_t expected = 1;
    while (fgets(line, sizeof line, file)) {
        mdbp_record_t back;
        mdbp_error_t error;
        assert_non_null(strstr(line, "\"reason\""));
        assert_int_equal(mdbp_text_parse_json(line, &back, &error), 0);
        assert_int_equal(back.kind, MDBP_RECORD_QUOTE);
        assert_int_equal(back.ts_ns, expected);
        assert_string_equal(back.symbol, "MSFT");
        assert_true(back.u.quote.ask == 100.5);
        expected++;
    }
    assert_int_equal(expected, 4);
    fclose(file);
    unlink(path);
}

static void test_unwritable_path_fails_cleanly(void **state)
{
    (void)state;
    sc_dlq_t *dlq = sc_dlq_new("/nonexistent-dir/dead-letter.ndjson");
    mdbp_record_t record;
    make_quote(&record, 1);
    assert_int_equal(sc_dlq_append(dlq, &record, "x"), -1);
    assert_int_equal(sc_dlq_sync(dlq), 0);
    assert_int_equal(sc_dlq_count(dlq), 0);
    sc_dlq_destroy(&dlq);
}

/* What a dead-letter file holds: the ts_ns of each readable line in order,
 * and how many lines were unreadable. A missing file holds nothing. */
enum { READ_MAX = 16 };

typedef struct {
    int64_t ts_ns[READ_MAX];
    size_t lines;
    size_t unreadable;
} contents_t;

static contents_t s_read(const char *path)
{
    contents_t contents = {0};
    FILE *file = fopen(path, "r");
    if (!file)
        return contents;
    char line[LINE_BYTES];
    while (fgets(line, sizeof line, file)) {
        mdbp_record_t back;
        mdbp_error_t error;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '\0')
            continue;
        if (mdbp_text_parse_json(line, &back, &error) != 0)
            contents.unreadable++;
        else if (contents.lines < READ_MAX)
            contents.ts_ns[contents.lines++] = back.ts_ns;
    }
    fclose(file);
    return contents;
}

/* A fresh path in a fresh directory (the file itself does not exist). */
typedef struct {
    char dir[64];
    char path[128];  /* the configured dead-letter path */
    char moved[128]; /* where a test moves it */
} paths_t;

static paths_t s_paths(void)
{
    paths_t paths;
    snprintf(paths.dir, sizeof paths.dir, "/tmp/test_dlq_dir_XXXXXX");
    assert_non_null(mkdtemp(paths.dir));
    snprintf(paths.path, sizeof paths.path, "%s/dead-letter.ndjson", paths.dir);
    snprintf(paths.moved, sizeof paths.moved, "%s/moved.ndjson", paths.dir);
    return paths;
}

static void s_paths_remove(const paths_t *paths)
{
    unlink(paths->path);
    unlink(paths->moved);
    rmdir(paths->dir);
}

static int s_append(sc_dlq_t *dlq, int64_t ts_ns)
{
    mdbp_record_t record;
    make_quote(&record, ts_ns);
    return sc_dlq_append(dlq, &record, "CHECK constraint");
}

static void test_deleted_file_is_recreated_at_the_path(void **state)
{
    (void)state;
    paths_t paths = s_paths();
    sc_dlq_t *dlq = sc_dlq_new(paths.path);
    assert_int_equal(s_append(dlq, 1), 0);
    assert_int_equal(sc_dlq_sync(dlq), 0);
    assert_int_equal(unlink(paths.path), 0);
    /* The later records are in a new file at the path, not in the deleted
     * one (which nobody can read any more). */
    assert_int_equal(s_append(dlq, 2), 0);
    assert_int_equal(s_append(dlq, 3), 0);
    assert_int_equal(sc_dlq_sync(dlq), 0);
    contents_t contents = s_read(paths.path);
    assert_int_equal(contents.lines, 2);
    assert_int_equal(contents.ts_ns[0], 2);
    assert_int_equal(contents.ts_ns[1], 3);

    /* Deleted between append and sync: the unsynced line follows the path
     * (the caller acks after sync, so it must be there). */
    assert_int_equal(s_append(dlq, 4), 0);
    assert_int_equal(unlink(paths.path), 0);
    assert_int_equal(sc_dlq_sync(dlq), 0);
    contents = s_read(paths.path);
    assert_int_equal(contents.lines, 1);
    assert_int_equal(contents.ts_ns[0], 4);
    assert_int_equal(contents.unreadable, 0);
    sc_dlq_destroy(&dlq);
    s_paths_remove(&paths);
}

static void test_moved_file_leaves_later_records_at_the_path(void **state)
{
    (void)state;
    paths_t paths = s_paths();
    sc_dlq_t *dlq = sc_dlq_new(paths.path);
    assert_int_equal(s_append(dlq, 1), 0);
    assert_int_equal(sc_dlq_sync(dlq), 0);
    /* As the README advises before a replay. */
    assert_int_equal(rename(paths.path, paths.moved), 0);
    assert_int_equal(s_append(dlq, 2), 0);
    assert_int_equal(sc_dlq_sync(dlq), 0);
    contents_t moved = s_read(paths.moved);
    contents_t at_path = s_read(paths.path);
    assert_int_equal(moved.lines, 1);
    assert_int_equal(moved.ts_ns[0], 1);
    assert_int_equal(at_path.lines, 1);
    assert_int_equal(at_path.ts_ns[0], 2);

    /* Moved between append and sync: the line written before the move is
     * safe in the moved file (not copied), the next one goes to the path. */
    assert_int_equal(unlink(paths.moved), 0);
    assert_int_equal(s_append(dlq, 3), 0);
    assert_int_equal(rename(paths.path, paths.moved), 0);
    assert_int_equal(sc_dlq_sync(dlq), 0);
    assert_int_equal(s_append(dlq, 4), 0);
    assert_int_equal(sc_dlq_sync(dlq), 0);
    moved = s_read(paths.moved);
    at_path = s_read(paths.path);
    assert_int_equal(moved.lines, 2);
    assert_int_equal(moved.ts_ns[1], 3);
    assert_int_equal(at_path.lines, 1);
    assert_int_equal(at_path.ts_ns[0], 4);
    assert_int_equal(sc_dlq_count(dlq), 4);
    sc_dlq_destroy(&dlq);
    s_paths_remove(&paths);
}

static void test_full_disk_is_an_error(void **state)
{
    (void)state;
    /* /dev/full: every write fails with ENOSPC, as on a full disk. */
    sc_dlq_t *dlq = sc_dlq_new("/dev/full");
    assert_int_equal(s_append(dlq, 1), -1);
    assert_int_equal(s_append(dlq, 2), -1);
    assert_int_equal(sc_dlq_count(dlq), 0);
    sc_dlq_destroy(&dlq);
}

static void test_path_that_cannot_be_opened_again_is_an_error(void **state)
{
    (void)state;
    paths_t paths = s_paths();
    sc_dlq_t *dlq = sc_dlq_new(paths.path);
    assert_int_equal(s_append(dlq, 1), 0);
    /* Deleted and a directory put in its place (tests may run as root, for
     * whom permission bits do not stop a write): the open file must not be
     * used, and the path cannot be opened. */
    assert_int_equal(unlink(paths.path), 0);
    assert_int_equal(mkdir(paths.path, 0755), 0);
    assert_int_equal(s_append(dlq, 2), -1);
    /* The unsynced line of the deleted file cannot be put anywhere. */
    assert_int_equal(sc_dlq_sync(dlq), -1);
    assert_int_equal(sc_dlq_sync(dlq), -1);
    /* Writable again: the line kept in memory and the next one land. */
    assert_int_equal(rmdir(paths.path), 0);
    assert_int_equal(s_append(dlq, 3), 0);
    assert_int_equal(sc_dlq_sync(dlq), 0);
    contents_t contents = s_read(paths.path);
    assert_int_equal(contents.lines, 2);
    assert_int_equal(contents.ts_ns[0], 1);
    assert_int_equal(contents.ts_ns[1], 3);
    sc_dlq_destroy(&dlq);
    s_paths_remove(&paths);
}

/* Lifts the file-size limit again whatever the test did. */
static struct rlimit s_saved_limit;

static int s_limit_teardown(void **state)
{
    (void)state;
    setrlimit(RLIMIT_FSIZE, &s_saved_limit);
    signal(SIGXFSZ, SIG_DFL);
    return 0;
}

static void test_file_size_limit_is_an_error(void **state)
{
    (void)state;
    paths_t paths = s_paths();
    sc_dlq_t *dlq = sc_dlq_new(paths.path);
    assert_int_equal(s_append(dlq, 1), 0);
    assert_int_equal(sc_dlq_sync(dlq), 0);
    struct stat info;
    assert_int_equal(stat(paths.path, &info), 0);

    /* A real limit: writes past it fail with EFBIG (SIGXFSZ ignored), as a
     * full disk fails them with ENOSPC. At the limit nothing is written. */
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &s_saved_limit), 0);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = s_saved_limit;
    limit.rlim_cur = (rlim_t)info.st_size;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &limit), 0);
    assert_int_equal(s_append(dlq, 2), -1);
    /* Room for part of a line: the write is short, still an error. */
    limit.rlim_cur = (rlim_t)info.st_size + 10;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &limit), 0);
    assert_int_equal(s_append(dlq, 2), -1);
    assert_int_equal(sc_dlq_count(dlq), 1);

    /* Space again: the record goes in whole, on a line of its own; only
     * the fragment the short write left is unreadable. */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &s_saved_limit), 0);
    assert_int_equal(s_append(dlq, 2), 0);
    assert_int_equal(s_append(dlq, 3), 0);
    assert_int_equal(sc_dlq_sync(dlq), 0);
    contents_t contents = s_read(paths.path);
    assert_int_equal(contents.lines, 3);
    assert_int_equal(contents.ts_ns[0], 1);
    assert_int_equal(contents.ts_ns[1], 2);
    assert_int_equal(contents.ts_ns[2], 3);
    assert_int_equal(contents.unreadable, 1);
    sc_dlq_destroy(&dlq);
    s_paths_remove(&paths);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_read_back),
        cmocka_unit_test(test_unwritable_path_fails_cleanly),
        cmocka_unit_test(test_deleted_file_is_recreated_at_the_path),
        cmocka_unit_test(test_moved_file_leaves_later_records_at_the_path),
        cmocka_unit_test(test_full_disk_is_an_error),
        cmocka_unit_test(test_path_that_cannot_be_opened_again_is_an_error),
        cmocka_unit_test_teardown(test_file_size_limit_is_an_error,
                                  s_limit_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
