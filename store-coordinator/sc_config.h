/* sc_config: the coordinator's option table (MDS_* variables and matching
 * flags, --help), their validation into sc_settings_t and the start-up
 * checks on the file system. Main thread, start-up only.
 *
 * Errors name the option (cmn_config_reject prints the variable and the
 * flag); the caller exits 2 (CMN_EXIT_USAGE). */
#ifndef SC_CONFIG_H
#define SC_CONFIG_H

#include <stddef.h>

#include "cmn_config.h"
#include "sc_settings.h"

/* The option table for cmn_config_new; `*count` gets its length. Static:
 * lives for the whole process. */
const cmn_option_t *sc_config_options(size_t *count);

/* Sets up logging from MDS_LOG_LEVEL / MDS_LOG_FORMAT for `program`. */
void sc_config_log_setup(cmn_config_t *config, const char *program);

/* Fills `settings` from the loaded configuration and checks the rules
 * that involve several options (watermarks, dead-band, retries, CURVE,
 * webhook). The strings point into `config`, which must outlive them.
 * Returns 0 or -1 (message printed). */
int sc_config_settings(cmn_config_t *config, sc_settings_t *settings);

/* The checks that touch the file system, before anything starts: the sink
 * (sc_sink_prepare: for SQLite the directories, the file, its header) and
 * the dead-letter file (directories created, the file created empty, it
 * must open for writing). Returns 0 or -1 (message printed, naming
 * MDS_SINK or MDS_DLQ_PATH). */
int sc_config_prepare(cmn_config_t *config, const sc_settings_t *settings);

#endif
