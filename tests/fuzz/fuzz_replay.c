/* The replay provider with loop on (pl_replay_next): a file of records an
 * operator points the pipeline at. The input is written to a file and read
 * for a bounded number of records: every record is valid (ts_ns > 0, never
 * a wrapped time) and later than every record of the pass before (issue 12
 * item 4). */
#include <unistd.h>

#include "cmn_log.h"
#include "fuzz_common.h"
#include "pl_provider_replay.h"
#include <mdbp/ingest.h>

#define FUZZ_REPLAY_RECORDS_MAX 256 /* records read per input, bounded */

static char s_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cmn_log_setup("fuzz", CMN_LOG_ERROR, CMN_LOG_TEXT);
    snprintf(s_path, sizeof s_path, "%s/fuzz-replay-%ld.txt",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
             (long)getpid());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *file = fopen(s_path, "wb");
    FUZZ_CHECK(file);
    FUZZ_CHECK(fwrite(data, 1, size, file) == size);
    FUZZ_CHECK(fclose(file) == 0);
    pl_replay_config_t config = {
        .provider = "fz", .path = s_path, .loop = true};
    pl_replay_t *replay = pl_replay_new(&config);
    FUZZ_CHECK(replay);
    mdbp_record_t record;
    uint64_t pass = 0;
    int64_t pass_max = 0;     /* the latest time of the current pass */
    int64_t previous_max = 0; /* of the pass before */
    for (int count = 0; count < FUZZ_REPLAY_RECORDS_MAX; count++) {
        int result = pl_replay_next(replay, &record);
        FUZZ_CHECK(result >= 0);
        if (result == 0)
            break;
        FUZZ_CHECK(record.ts_ns > 0);
        FUZZ_CHECK(mdbp_record_validate(&record, NULL) == 0);
        if (pl_replay_passes(replay) != pass) {
            pass = pl_replay_passes(replay);
            previous_max = pass_max;
            pass_max = 0;
        }
        if (record.ts_ns > pass_max)
            pass_max = record.ts_ns;
        /* Every record of a pass is later than all of the pass before. */
        FUZZ_CHECK(pass == 0 || record.ts_ns > previous_max);
    }
    pl_replay_destroy(&replay);
    return 0;
}
