/* cmn_config: options from environment variables and long flags.
 *
 * Every option has a long flag (`--queue-capacity 5000` or
 * `--queue-capacity=5000`) and an environment variable
 * (`MDS_QUEUE_CAPACITY`); a flag wins over a variable, a variable over the
 * default. Values are parsed and range-checked at load time, so that a bad
 * value stops start-up with exit code 2 and a message naming the flag or
 * variable it came from and the value. `--help` lists every option with its
 * variable and default; `--version` prints the version. Arguments that are not
 * flags (e.g. `dlq replay FILE`) are kept as positionals, in order; `--` ends
 * the flags. An empty environment variable counts as unset. A boolean flag
 * may be given bare (`--enable-feedback` means true). Only the winning value
 * of each option is parsed (a bad variable overridden by a flag is ignored). */
#ifndef CMN_CONFIG_H
#define CMN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes of both services. */
#define CMN_EXIT_OK 0
#define CMN_EXIT_FAILURE 1
#define CMN_EXIT_USAGE 2

typedef enum {
    CMN_OPT_STRING,
    CMN_OPT_INT,    /* int64 with [min, max] */
    CMN_OPT_DOUBLE, /* double with [min, max] */
    CMN_OPT_BOOL,   /* true/false/1/0/yes/no/on/off */
    CMN_OPT_CHOICE, /* one of `choices` (case-insensitive) */
} cmn_opt_type_t;

typedef struct {
    const char *flag;    /* long flag without "--", e.g. "queue-capacity" */
    const char *env;     /* environment variable, e.g. "MDS_QUEUE_CAPACITY" */
    cmn_opt_type_t type; /* how the value is parsed */
    const char *default_value; /* as text; NULL means "unset" (strings only) */
    const char *help;          /* one line for --help */
    double min; /* CMN_OPT_INT / CMN_OPT_DOUBLE: inclusive range; */
    double max; /* CMN_OPT_STRING: length in bytes, when max > 0 */
    const char *const *choices; /* CMN_OPT_CHOICE: NULL-terminated list */
} cmn_option_t;

typedef struct _cmn_config_t cmn_config_t;

/* Result of cmn_config_load() other than 0 / -1. */
#define CMN_CONFIG_EXIT 1 /* --help or --version was printed: exit 0 */

/* A configuration for `program` (used in messages) with the given options
 * (copied; the table may be temporary). Caller owns the result. */
cmn_config_t *cmn_config_new(const char *program, const char *version,
                             const char *summary, const cmn_option_t *options,
                             size_t option_count);

/* Destroys the configuration; tolerates NULL and sets *self_p to NULL. */
void cmn_config_destroy(cmn_config_t **self_p);

/* Adds one more option (copied, strings included): for options whose names
 * depend on other options, such as MDP_RATE_<PROVIDER>_CAPACITY. Call before
 * cmn_config_load(). */
void cmn_config_add(cmn_config_t *self, const cmn_option_t *option);

/* Reads the environment (envp-style via getenv) and argv (argv[0] skipped).
 * Returns 0 when every value is valid, CMN_CONFIG_EXIT after printing --help
 * or --version to stdout, and -1 after printing to stderr one message naming
 * the bad flag or variable and value (unknown flags included); the caller
 * then exits with CMN_EXIT_USAGE. */
int cmn_config_load(cmn_config_t *self, int argc, char **argv);

/* Typed accessors by flag name; assert that the option exists and has that
 * type. Strings belong to the configuration; NULL when unset. */
const char *cmn_config_string(cmn_config_t *self, const char *flag);
int64_t cmn_config_int(cmn_config_t *self, const char *flag);
double cmn_config_double(cmn_config_t *self, const char *flag);
bool cmn_config_bool(cmn_config_t *self, const char *flag);
/* The index of the chosen value in `choices`. */
int cmn_config_choice(cmn_config_t *self, const char *flag);

/* Where a value came from, for messages: "--flag", "VARIABLE" or "default". */
const char *cmn_config_source(cmn_config_t *self, const char *flag);

/* Positional (non-flag) arguments, in order. */
size_t cmn_config_positional_count(cmn_config_t *self);
const char *cmn_config_positional(cmn_config_t *self, size_t index);

/* Prints "program: invalid SOURCE=VALUE: reason" to stderr for a value that
 * passed its own check but fails a cross-option rule (e.g. low watermark above
 * high). The caller then exits with CMN_EXIT_USAGE. */
void cmn_config_reject(cmn_config_t *self, const char *flag,
                       const char *reason);

/* True once cmn_config_reject was called for `flag` (a `check` then does
 * not report the same value twice). */
bool cmn_config_rejected(cmn_config_t *self, const char *flag);

/* ---- issue 15: `check` subcommands (cmn_check.h builds on these) ---- */

/* Receives one problem: `subject` names what it is about (the variable,
 * "--flag" or the unknown name), `text` is the whole message without the
 * program's name. Both are only valid during the call. */
typedef void(cmn_config_problem_fn)(void *arg, const char *subject,
                                    const char *text);

/* From now on every problem goes to `fn` instead of stderr, and nothing
 * stops at the first: cmn_config_load() reports every unknown flag and
 * every bad value (using the default in its place, so later rules see sane
 * values) and returns -1 at the end if there was any; cmn_config_reject()
 * reports through `fn`; cmn_config_warn_unknown() reports each unknown
 * variable through `fn` instead of logging it. NULL `fn`: back to stderr. */
void cmn_config_collect(cmn_config_t *self, cmn_config_problem_fn *fn,
                        void *arg);

/* Where an option's value came from. */
typedef enum {
    CMN_CONFIG_ORIGIN_DEFAULT = 0,
    CMN_CONFIG_ORIGIN_ENVIRONMENT = 1,
    CMN_CONFIG_ORIGIN_FLAG = 2,
} cmn_config_origin_t;

/* After cmn_config_load(). */
cmn_config_origin_t cmn_config_origin(cmn_config_t *self, const char *flag);

/* "default", "environment", "flag". */
const char *cmn_config_origin_name(cmn_config_origin_t origin);

/* The value of option `flag` as it may be shown: "****" for a secret (a
 * variable whose name ends in _TOKEN, _PASSWORD or _SECRET), a URL's password
 * replaced by "****", "(unset)" for an unset string. Writes into `out` (`size`
 * bytes) and returns it. */
/* Copies `value` into `out` (size bytes) for showing, with every password
 * a database URI may hold replaced by "****": a URL's userinfo password
 * (scheme://user:PASSWORD@host) and any `password=VALUE` (a URI query or a
 * libpq key=value string). Returns `out`. Any thread. */
const char *cmn_config_mask(const char *value, char *out, size_t size);

const char *cmn_config_display(cmn_config_t *self, const char *flag, char *out,
                               size_t size);

/* Prints the effective configuration to `out`, one option per line in
 * declaration order: VARIABLE, VALUE (as cmn_config_display), ORIGIN
 * ("default", "environment", or "flag --name"), with a header line. */
void cmn_config_print_effective(cmn_config_t *self, FILE *out);

/* Looks up a raw value before loading (flag in argv wins over the variable),
 * for options that decide which other options exist (MDP_PROVIDERS). Returns
 * a pointer into argv or the environment, or `fallback`. */
const char *cmn_config_peek(int argc, char **argv, const char *flag,
                            const char *env, const char *fallback);

/* Steps through a list value such as "a, b,c": returns the next item (a
 * pointer into the text, not NUL-terminated) and sets `*length`, or NULL
 * after the last item. `*cursor` starts at the text (NULL reads as empty)
 * and is moved past each item. Pure: any thread. */
const char *cmn_config_list_next(const char **cursor, const char *separators,
                                 size_t *length);

/* Which environment variables belong to a service, for
 * cmn_config_warn_unknown(). */
typedef struct {
    const char *prefix;         /* the service's variables, e.g. "MDP_" */
    const char *families;       /* space-separated prefixes of per-name options,
                                   "MDP_PROVIDER_ MDP_RATE_" (NULL: none) */
    const char *names_variable; /* where the names are listed, for the
                                   message: "MDP_PROVIDERS" */
    const char *ignored;        /* space-separated prefixes of other programs'
                                   variables, never warned about: "MDS_TAIL_" */
} cmn_config_unknown_t;

/* After cmn_config_load() and cmn_log_setup(): logs one warning per
 * variable of `environment` (envp style; NULL: this process's) that starts with
 * rules->prefix and names no option, with the closest option variable as
 * "did you mean" when one is close; a per-name variable (a family prefix,
 * a name, a known suffix) for a name that is not listed says so, naming
 * the list. Never stops start-up. Returns how many were warned about. */
size_t cmn_config_warn_unknown(cmn_config_t *self,
                               const cmn_config_unknown_t *rules,
                               char *const *environment);

#endif
