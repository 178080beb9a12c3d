/* test_conformance: runs libmdbp's decoders over the conformance corpus
 * (proto/conformance/, see its README.md) and checks every verdict.
 *
 * cases.tsv holds `kind<TAB>verdict<TAB>file<TAB>description` lines ('#'
 * lines are comments, blank lines allowed): kind feedback, batch or reply
 * picks the decoder; verdict valid (decodes), invalid (refused, not as a
 * version mismatch) or version (refused with code VERSION). Prints every
 * disagreement and a summary; exit 0 when all agree, 1 when one does not,
 * the index is unreadable or holds no case, 2 on bad arguments.
 * Usage: test_conformance CORPUS_DIR */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mdbp/mdbp.h>

#define CONFORMANCE_LINE_MAX 1024 /* bytes of one cases.tsv line */
#define CONFORMANCE_PATH_MAX 4096
/* A case file may exceed the message limit by one byte, so that a decoder
 * sees it is too large; anything beyond is a broken corpus. */
#define CONFORMANCE_FILE_MAX (MDBP_MESSAGE_BYTES_MAX + 1)

typedef enum {
    VERDICT_VALID,
    VERDICT_INVALID,
    VERDICT_VERSION,
} verdict_t;

static const char *const s_verdict_names[] = {"valid", "invalid", "version"};

typedef struct {
    size_t cases;
    size_t failed;
    size_t by_verdict[3];
} tally_t;

/* Reads the whole `path` into a new buffer (the caller frees it). */
static uint8_t *s_read_file(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    uint8_t *data = malloc(CONFORMANCE_FILE_MAX + 1);
    size_t got = data ? fread(data, 1, CONFORMANCE_FILE_MAX + 1, file) : 0;
    int failed = !data || ferror(file) || got > CONFORMANCE_FILE_MAX;
    fclose(file);
    if (failed) {
        free(data);
        return NULL;
    }
    *size = got;
    return data;
}

/* Decodes `data` as `kind`; returns the verdict the library reached, with
 * its error text in `error` when it refused. -1 for an unknown kind. */
static int s_decide(const char *kind, const uint8_t *data, size_t size,
                    mdbp_record_t *records, mdbp_error_t *error)
{
    int rc;
    if (strcmp(kind, "feedback") == 0) {
        mdbp_feedback_t event;
        rc = mdbp_feedback_decode(data, size, &event, error);
    } else if (strcmp(kind, "batch") == 0) {
        mdbp_batch_t batch;
        rc = mdbp_batch_decode(data, size, &batch, records,
                               MDBP_BATCH_RECORDS_MAX, error);
    } else if (strcmp(kind, "reply") == 0) {
        mdbp_reply_t reply;
        rc = mdbp_reply_decode(data, size, &reply, error);
    } else {
        return -1;
    }
    if (rc == 0)
        return VERDICT_VALID;
    return error->code == MDBP_NACK_CODE_VERSION ? VERDICT_VERSION
                                                 : VERDICT_INVALID;
}

static int s_verdict_parse(const char *name, verdict_t *verdict)
{
    for (int index = 0; index <= VERDICT_VERSION; index++)
        if (strcmp(name, s_verdict_names[index]) == 0) {
            *verdict = (verdict_t)index;
            return 0;
        }
    return -1;
}

/* Checks one case line (already split). Returns 0, or -1 when the corpus
 * itself is broken (then the run fails too). */
static int s_run_case(const char *directory, size_t line_number,
                      const char *kind, const char *verdict_name,
                      const char *file, const char *description,
                      mdbp_record_t *records, tally_t *tally)
{
    verdict_t expected;
    if (s_verdict_parse(verdict_name, &expected) != 0) {
        fprintf(stderr, "cases.tsv:%zu: unknown verdict '%s'\n", line_number,
                verdict_name);
        return -1;
    }
    char path[CONFORMANCE_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", directory, file);
    size_t size = 0;
    uint8_t *data = s_read_file(path, &size);
    if (!data) {
        fprintf(stderr, "cases.tsv:%zu: cannot read %s: %s\n", line_number,
                path, errno ? strerror(errno) : "too large");
        return -1;
    }
    mdbp_error_t error = {{0}};
    int got = s_decide(kind, data, size, records, &error);
    free(data);
    if (got < 0) {
        fprintf(stderr, "cases.tsv:%zu: unknown kind '%s'\n", line_number,
                kind);
        return -1;
    }
    tally->cases++;
    tally->by_verdict[expected]++;
    if ((verdict_t)got != expected) {
        tally->failed++;
        printf("FAIL %s %s: expected %s, the library says %s%s%s (%s)\n", kind,
               file, s_verdict_names[expected], s_verdict_names[got],
               got == VERDICT_VALID ? "" : ": ",
               got == VERDICT_VALID ? "" : error.text, description);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_conformance CORPUS_DIR\n");
        return 2;
    }
    char index_path[CONFORMANCE_PATH_MAX];
    snprintf(index_path, sizeof index_path, "%s/cases.tsv", argv[1]);
    FILE *index = fopen(index_path, "r");
    if (!index) {
        fprintf(stderr, "cannot open %s: %s\n", index_path, strerror(errno));
        return 1;
    }
    mdbp_record_t *records = malloc(MDBP_BATCH_RECORDS_MAX * sizeof *records);
    if (!records) {
        fclose(index);
        return 1;
    }
    tally_t tally = {0, 0, {0, 0, 0}};
    int broken = 0;
    char line[CONFORMANCE_LINE_MAX + 2];
    size_t length, line_number = 0;
    int got;
    while ((got = mdbp_text_read_line(index, line, CONFORMANCE_LINE_MAX,
                                      &length)) != 0) {
        line_number++;
        if (got != 1) {
            fprintf(stderr, "cases.tsv:%zu: unreadable line\n", line_number);
            broken = 1;
            break;
        }
        if (length == 0 || line[0] == '#')
            continue;
        char *fields[4] = {NULL, NULL, NULL, ""};
        char *cursor = line;
        int count = 0;
        while (count < 4 && cursor) {
            fields[count++] = cursor;
            cursor = count < 4 ? strchr(cursor, '\t') : NULL;
            if (cursor)
                *cursor++ = '\0';
        }
        if (count < 3 || !fields[2][0]) {
            fprintf(stderr, "cases.tsv:%zu: expected kind, verdict, file\n",
                    line_number);
            broken = 1;
            continue;
        }
        if (s_run_case(argv[1], line_number, fields[0], fields[1], fields[2],
                       fields[3], records, &tally) != 0)
            broken = 1;
    }
    fclose(index);
    free(records);
    printf("%zu cases (%zu valid, %zu invalid, %zu version): %zu agree, "
           "%zu disagree\n",
           tally.cases, tally.by_verdict[VERDICT_VALID],
           tally.by_verdict[VERDICT_INVALID], tally.by_verdict[VERDICT_VERSION],
           tally.cases - tally.failed, tally.failed);
    if (tally.cases == 0) {
        fprintf(stderr, "no case in %s\n", index_path);
        return 1;
    }
    return tally.failed || broken ? 1 : 0;
}
