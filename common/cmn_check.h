/* cmn_check: what a `check` subcommand needs (issue 15): every problem of a
 * configuration collected and listed at once, the ports and paths tried
 * without keeping them, and the report: the effective configuration with
 * the origin of each value, the checks that passed, every problem, and the
 * exit code.
 *
 * A problem is of one of two kinds. CONFIG: a value start-up refuses (bad
 * value, unknown flag or variable, a rule between options, a path it can
 * never write): start-up would exit 2. RUNTIME: the value is fine but the
 * world is not (a port in use, a database that refuses the login or cannot
 * be reached): start-up would fail with 1 or wait. The exit code is 2 when
 * there is any CONFIG problem, else 1 when there is any RUNTIME problem,
 * else 0. Start-up only, one thread. Usage:
 *
 *     cmn_check_t *check = cmn_check_new("mdp-pipeline");
 *     cmn_check_attach(check, config);     before cmn_config_load()
 *     cmn_config_load(config, argc, argv); -1 is fine: problems collected
 *     cmn_config_warn_unknown(config, &rules, NULL);
 *     ... the service's own rules (cmn_config_reject is collected too) ...
 *     cmn_check_endpoint(check, "MDP_HTTP_PORT", "tcp://0.0.0.0:8000");
 *     int code = cmn_check_report(check, config, stdout, stderr);
 *     cmn_check_destroy(&check);
 */
#ifndef CMN_CHECK_H
#define CMN_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cmn_config.h"

typedef enum {
    CMN_CHECK_CONFIG = 0,  /* start-up would refuse it: exit 2 */
    CMN_CHECK_RUNTIME = 1, /* the world, not the value: exit 1 */
} cmn_check_kind_t;

typedef struct _cmn_check_t cmn_check_t;

/* An empty list for `program` (used in the report). Caller owns it. */
cmn_check_t *cmn_check_new(const char *program);

/* Frees; tolerates NULL and sets *self_p to NULL. */
void cmn_check_destroy(cmn_check_t **self_p);

/* Collects `config`'s problems as CONFIG problems (cmn_config_collect);
 * call before cmn_config_load(). `self` must outlive the loading. */
void cmn_check_attach(cmn_check_t *self, cmn_config_t *config);

/* One problem about `subject` (a variable, "--flag", a port), printf
 * style. */
void cmn_check_problem(cmn_check_t *self, cmn_check_kind_t kind,
                       const char *subject, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

/* One check that passed, for the report ("port 5555 on 0.0.0.0 is free"). */
void cmn_check_passed(cmn_check_t *self, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Problems so far, of `kind` (or of both with `all`). */
size_t cmn_check_count(cmn_check_t *self, bool all, cmn_check_kind_t kind);

/* Problem `index` (< cmn_check_count(self, true, ...)): its text and kind. */
const char *cmn_check_text(cmn_check_t *self, size_t index,
                           cmn_check_kind_t *kind);

/* Tries to bind TCP `host`:`port` (IPv4; "*", "" or NULL: any address)
 * and releases it at once. Port 0: nothing to try (a free one is picked at
 * start), passes. A port in use or an address not on this host: a RUNTIME
 * problem about `subject`. Returns 0 or -1. */
int cmn_check_port(cmn_check_t *self, const char *subject, const char *host,
                   int port);

/* The same for a ZeroMQ bind endpoint: tcp://HOST:PORT (PORT * or 0: not
 * tried); ipc://PATH: its directory must be writable (a CONFIG problem);
 * inproc:// passes. Returns 0 or -1. */
int cmn_check_endpoint(cmn_check_t *self, const char *subject,
                       const char *endpoint);

/* A file the service will create or append to, without creating anything:
 * the file is writable, or the nearest directory above it that exists is
 * writable (start-up creates the rest). A CONFIG problem otherwise.
 * Returns 0 or -1. */
int cmn_check_writable(cmn_check_t *self, const char *subject,
                       const char *path);

/* Prints the report: the effective configuration of `config` (NULL: none)
 * and the checks that passed to `out`, then every problem, one per line
 * with its kind, and a summary line to `problems`. Returns the exit code
 * (CMN_EXIT_OK, CMN_EXIT_FAILURE or CMN_EXIT_USAGE, see above). */
int cmn_check_report(cmn_check_t *self, cmn_config_t *config, FILE *out,
                     FILE *problems);

#endif
