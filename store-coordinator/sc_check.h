/* sc_check: `mds-coordinator check` (issue 15): validates every option as
 * start-up does, tries the ports (binds and releases them), the dead-letter
 * path and the database (SQLite: the file or its directory writable, an
 * existing file a SQLite database; PostgreSQL: connects, the tables
 * reachable, a refused login or a missing database named), then prints the
 * effective configuration with the origin of each value and every problem
 * at once. Exit 0: none; 2: any configuration problem (what start-up
 * refuses with 2); 1: only runtime problems (a port in use, a database that
 * refuses or cannot be reached). Main thread. */
#ifndef SC_CHECK_H
#define SC_CHECK_H

#include "cmn_check.h"
#include "cmn_config.h"

/* True when argv asks for the check (argv[1] is "check"): main then
 * attaches a cmn_check_t before loading, so no problem stops the load. */
bool sc_check_requested(int argc, char **argv);

/* Runs the checks after cmn_config_load() and cmn_config_warn_unknown()
 * (their problems are already in `check`), prints the report to stdout and
 * stderr, and returns the exit code. */
int sc_check_command(cmn_config_t *config, cmn_check_t *check);

#endif
