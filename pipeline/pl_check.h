/* pl_check: `mdp-pipeline check` (issue 15).
 *
 * Validates every option as start-up does but lists every problem at once
 * (cmn_check), builds the providers (a replay file must be readable) and
 * frees them, tries the HTTP port, and tries each coordinator without
 * storing anything: a ZMTP handshake with every store endpoint (a DEALER
 * that connects and sends nothing) and one feedback message (a heartbeat or
 * a snapshot) from every feedback endpoint. Prints the effective
 * configuration with where each value came from, what passed, and every
 * problem; exits 2 for a configuration problem, 1 when only the world is
 * wrong (nothing listening, a port in use), 0 when all is well. Nothing is
 * started. Main thread only. */
#ifndef PL_CHECK_H
#define PL_CHECK_H

#include <stdbool.h>

#include "cmn_check.h"
#include "pl_config.h"

/* How long each coordinator endpoint is given to answer. */
#define PL_CHECK_PROBE_MS_DEFAULT 3000

/* Whether argv asks for `check` (the first argument). */
bool pl_check_requested(int argc, char **argv);

/* Runs the checks on settings loaded with pl_settings_load(..., check)
 * and prints the report. Returns the exit code. */
int pl_check_command(pl_settings_t *settings, cmn_check_t *check);

#endif
