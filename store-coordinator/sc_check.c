/* sc_check: `mds-coordinator check` (see sc_check.h). */
#include "sc_check.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "sc_config.h"
#include "sc_settings.h"
#include "sc_sink.h"

#define SC_CHECK_COMMAND "check"
#define SC_CHECK_ERROR_BYTES 512
#define SC_CHECK_SQLITE_SCHEME "sqlite:"
/* The first 16 bytes of every SQLite 3 database file. */
#define SC_CHECK_SQLITE_MAGIC "SQLite format 3"
#define SC_CHECK_SQLITE_MAGIC_BYTES 16
/* SQLite's name for a database in memory (sqlite::memory:). */
#define SC_CHECK_SQLITE_MEMORY ":memory:"

bool sc_check_requested(int argc, char **argv)
{
    return argc > 1 && strcmp(argv[1], SC_CHECK_COMMAND) == 0;
}

/* SQLite: nothing is created; the file (or where it will be) writable, and
 * an existing non-empty file must be a SQLite database. */
static void s_check_sqlite(cmn_check_t *check, const char *uri)
{
    const char *path = uri + strlen(SC_CHECK_SQLITE_SCHEME);
    if (strcmp(path, SC_CHECK_SQLITE_MEMORY) == 0) {
        cmn_check_passed(check, "%s", "MDS_SINK: an in-memory SQLite database "
                                      "(nothing on disk to check)");
        return;
    }
    if (cmn_check_writable(check, "MDS_SINK", path) != 0)
        return;
    FILE *file = fopen(path, "rb");
    if (!file)
        return; /* created at start */
    char header[SC_CHECK_SQLITE_MAGIC_BYTES] = {0};
    size_t got = fread(header, 1, sizeof header, file);
    fclose(file);
    if (got > 0 &&
        (got < sizeof header || memcmp(header, SC_CHECK_SQLITE_MAGIC,
                                       sizeof SC_CHECK_SQLITE_MAGIC) != 0))
        cmn_check_problem(check, CMN_CHECK_CONFIG, "MDS_SINK",
                          "MDS_SINK: '%s' is not a SQLite database", path);
}

/* PostgreSQL: connects and makes sure the tables are there, as a worker's
 * first contact does (the schema is created if missing, as at start-up). */
static void s_check_postgres(cmn_check_t *check, const sc_settings_t *settings)
{
    sc_sink_t *sink = sc_sink_new(settings->sink_uri);
    if (!sink) {
        cmn_check_problem(check, CMN_CHECK_RUNTIME, "MDS_SINK",
                          "MDS_SINK: out of memory");
        return;
    }
    sc_sink_set_timeout(sink, settings->db_timeout_ms);
    if (sc_sink_ping(sink) == SC_SINK_OK) {
        cmn_check_passed(check, "MDS_SINK: PostgreSQL answers, the tables "
                                "are reachable");
    } else {
        /* Never the URI: it may hold the password. */
        const char *error = sc_sink_error(sink);
        sc_sink_problem_t problem = sc_sink_problem_of(error);
        if (problem != SC_SINK_PROBLEM_NONE)
            cmn_check_problem(check, CMN_CHECK_RUNTIME, "MDS_SINK",
                              "MDS_SINK: %s: %s (%s)",
                              sc_sink_problem_name(problem),
                              sc_sink_problem_text(problem), error);
        else
            cmn_check_problem(check, CMN_CHECK_RUNTIME, "MDS_SINK",
                              "MDS_SINK: the database cannot be reached: %s",
                              error);
    }
    sc_sink_destroy(&sink);
}

int sc_check_command(cmn_config_t *config, cmn_check_t *check)
{
    size_t positionals = cmn_config_positional_count(config);
    for (size_t index = 1; index < positionals; index++)
        cmn_check_problem(check, CMN_CHECK_CONFIG, "check",
                          "unexpected argument '%s' after check",
                          cmn_config_positional(config, index));
    sc_settings_t settings;
    memset(&settings, 0, sizeof settings);
    bool valid = sc_config_settings(config, &settings) == 0;
    if (valid && cmn_check_count(check, true, CMN_CHECK_CONFIG) == 0)
        cmn_check_passed(check, "%s",
                         "every option parsed and the rules "
                         "between options checked");

    /* A value already rejected is not tried again (one mistake, one
     * line). */
    if (!cmn_config_rejected(config, "ingest-endpoint"))
        cmn_check_endpoint(check, "MDS_INGEST_ENDPOINT",
                           settings.ingest_endpoint);
    if (!cmn_config_rejected(config, "feedback-endpoint"))
        cmn_check_endpoint(check, "MDS_FEEDBACK_ENDPOINT",
                           settings.feedback_endpoint);
    if (!cmn_config_rejected(config, "http-port") &&
        !cmn_config_rejected(config, "http-bind"))
        cmn_check_port(check, "MDS_HTTP_PORT", settings.http_bind,
                       settings.http_port);
    if (!cmn_config_rejected(config, "dlq-path"))
        cmn_check_writable(check, "MDS_DLQ_PATH", settings.dlq_path);

    char error[SC_CHECK_ERROR_BYTES];
    if (settings.sink_uri &&
        sc_sink_check_uri(settings.sink_uri, error, sizeof error) == 0) {
        const char *kind = sc_sink_kind_of(settings.sink_uri);
        if (strcmp(kind, "sqlite") == 0)
            s_check_sqlite(check, settings.sink_uri);
        else if (strcmp(kind, "postgres") == 0)
            s_check_postgres(check, &settings);
        else
            cmn_check_passed(check, "MDS_SINK: null: nothing is stored "
                                    "(benchmarks only)");
    }
    return cmn_check_report(check, config, stdout, stderr);
}
