/* cmn_config: typed options from long flags and environment variables.
 *
 * cmn_config_load() first scans argv (help and version win over anything,
 * unknown flags are refused), then settles each option from the first of:
 * its flag, its variable, its default, and parses only that winning value.
 * An empty environment variable counts as unset. Every refusal is one line
 * on stderr naming where the value came from, so operators can fix it. */
#include "cmn_config.h"
#include "cmn_log.h"
#include "cmn_suggest.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CMN_CONFIG_SOURCE_BYTES 128      /* "--" + flag, or a variable name */
#define CMN_CONFIG_REASON_BYTES 512      /* "must be one of: a, b, c" */
#define CMN_CONFIG_HELP_COLUMNS 80       /* --help lines fit a terminal */
#define CMN_CONFIG_HELP_INDENT 2         /* before a flag */
#define CMN_CONFIG_HELP_DESCRIPTION_INDENT 6 /* before its description */
#define S_GAP 2    /* spaces between flag, variable and default */
#define S_DASHES 2 /* "--" before a flag */
/* Columns are aligned only when they leave this room for a default. */
#define CMN_CONFIG_HELP_DEFAULT_ROOM 12
#define CMN_CONFIG_HELP_BYTES 4096 /* one option's description with range */
#define CMN_CONFIG_OPTIONS_FLAG "--help-options=tsv" /* the table for tools */
#define CMN_CONFIG_VALUE_BYTES 512       /* a value as shown */
#define CMN_CONFIG_VALUE_COLUMN 28       /* wider values are not aligned */
#define CMN_CONFIG_HIDDEN "****"         /* instead of a secret */
#define CMN_CONFIG_UNSET "(unset)"       /* a string without a value */

typedef struct {
    cmn_option_t option; /* deep copy of the caller's description */
    char **choices;      /* owned copy behind option.choices */
    char source[CMN_CONFIG_SOURCE_BYTES]; /* "--flag", "VARIABLE", "default" */
    char *text;             /* the winning value as text (owned), or NULL */
    const char *flag_value; /* from argv during load (borrowed) */
    int64_t int_value;
    double double_value;
    bool bool_value;
    int choice_index;
    bool rejected; /* cmn_config_reject was called for it */
} s_entry_t;

struct _cmn_config_t {
    char *program;      /* for messages, e.g. "mds-coordinator" */
    char *version;      /* printed by --version */
    char *summary;      /* first lines of --help */
    s_entry_t *entries; /* options in declaration order */
    size_t count;
    size_t capacity;
    char **positionals; /* non-flag arguments, copied */
    size_t positional_count;
    cmn_config_problem_fn *collect; /* NULL: first problem to stderr */
    void *collect_arg;
    size_t problems; /* reported through `collect` so far */
};

/* One problem: to the collector when there is one, else to stderr as
 * "program: TEXT". */
static void s_problem(cmn_config_t *self, const char *subject,
                      const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void s_problem(cmn_config_t *self, const char *subject,
                      const char *format, ...)
{
    char text[CMN_CONFIG_REASON_BYTES + CMN_CONFIG_SOURCE_BYTES * 2];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    if (self->collect) {
        self->problems++;
        self->collect(self->collect_arg, subject, text);
    } else
        fprintf(stderr, "%s: %s\n", self->program, text);
}

static char *s_strdup_or_null(const char *text)
{
    return text ? strdup(text) : NULL;
}

cmn_config_t *cmn_config_new(const char *program, const char *version,
                             const char *summary, const cmn_option_t *options,
                             size_t option_count)
{
    assert(program);
    cmn_config_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->program = strdup(program);
    self->version = strdup(version ? version : "");
    self->summary = strdup(summary ? summary : "");
    for (size_t index = 0; index < option_count; index++)
        cmn_config_add(self, &options[index]);
    return self;
}

void cmn_config_destroy(cmn_config_t **self_p)
{
    assert(self_p);
    cmn_config_t *self = *self_p;
    if (!self)
        return;
    for (size_t index = 0; index < self->count; index++) {
        s_entry_t *entry = &self->entries[index];
        free((char *)entry->option.flag);
        free((char *)entry->option.env);
        free((char *)entry->option.default_value);
        free((char *)entry->option.help);
        for (char **choice = entry->choices; choice && *choice; choice++)
            free(*choice);
        free(entry->choices);
        free(entry->text);
    }
    for (size_t index = 0; index < self->positional_count; index++)
        free(self->positionals[index]);
    free(self->positionals);
    free(self->entries);
    free(self->program);
    free(self->version);
    free(self->summary);
    free(self);
    *self_p = NULL;
}

static s_entry_t *s_find(cmn_config_t *self, const char *flag)
{
    for (size_t index = 0; index < self->count; index++)
        if (strcmp(self->entries[index].option.flag, flag) == 0)
            return &self->entries[index];
    return NULL;
}

/* Finds the entry for a flag given as `--name` or `--name=value`. */
static s_entry_t *s_find_prefix(cmn_config_t *self, const char *name,
                                size_t length)
{
    for (size_t index = 0; index < self->count; index++) {
        const char *flag = self->entries[index].option.flag;
        if (strlen(flag) == length && memcmp(flag, name, length) == 0)
            return &self->entries[index];
    }
    return NULL;
}

void cmn_config_add(cmn_config_t *self, const cmn_option_t *option)
{
    assert(self && option && option->flag && option->env);
    assert(!s_find(self, option->flag)); /* each flag once */
    assert(option->type != CMN_OPT_CHOICE || option->choices);
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 16;
        s_entry_t *entries = realloc(self->entries, capacity * sizeof *entries);
        assert(entries); /* start-up only: out of memory here is fatal */
        self->entries = entries;
        self->capacity = capacity;
    }
    s_entry_t *entry = &self->entries[self->count++];
    memset(entry, 0, sizeof *entry);
    entry->option = *option;
    entry->option.flag = strdup(option->flag);
    entry->option.env = strdup(option->env);
    entry->option.default_value = s_strdup_or_null(option->default_value);
    entry->option.help = strdup(option->help ? option->help : "");
    if (option->choices) {
        size_t choice_count = 0;
        while (option->choices[choice_count])
            choice_count++;
        entry->choices = calloc(choice_count + 1, sizeof *entry->choices);
        assert(entry->choices);
        for (size_t index = 0; index < choice_count; index++)
            entry->choices[index] = strdup(option->choices[index]);
        entry->option.choices = (const char *const *)entry->choices;
    }
}

/* A value never shown (tokens, passwords): by the variable's name, so the
 * option tables need no field for it. */
static bool s_is_secret(const s_entry_t *entry)
{
    static const char *const endings[] = {"_TOKEN", "_PASSWORD", "_SECRET"};
    const char *env = entry->option.env;
    size_t length = strlen(env);
    for (size_t index = 0; index < sizeof endings / sizeof *endings; index++) {
        size_t ending = strlen(endings[index]);
        if (length >= ending &&
            strcmp(env + length - ending, endings[index]) == 0)
            return true;
    }
    return false;
}

/* Parses a boolean word; returns 0 or -1. */
static int s_parse_bool(const char *text, bool *value)
{
    static const char *const truths[] = {"true", "1", "yes", "on"};
    static const char *const lies[] = {"false", "0", "no", "off"};
    for (size_t index = 0; index < sizeof truths / sizeof *truths; index++) {
        if (strcasecmp(text, truths[index]) == 0) {
            *value = true;
            return 0;
        }
        if (strcasecmp(text, lies[index]) == 0) {
            *value = false;
            return 0;
        }
    }
    return -1;
}

/* Parses `text` for `entry`; on failure writes the reason and returns -1. */
static int s_parse(s_entry_t *entry, const char *text, char *reason,
                   size_t reason_size)
{
    const cmn_option_t *option = &entry->option;
    char *end = NULL;
    switch (option->type) {
    case CMN_OPT_STRING: {
        /* A length range when max > 0, e.g. an id the wire limits. */
        size_t length = strlen(text);
        if (option->max > 0 &&
            ((double)length < option->min || (double)length > option->max)) {
            snprintf(reason, reason_size, "must be %.17g to %.17g bytes long",
                     option->min, option->max);
            return -1;
        }
        return 0;
    }
    case CMN_OPT_INT: {
        errno = 0;
        long long value = strtoll(text, &end, 10);
        if (end == text || *end || errno == ERANGE ||
            isspace((unsigned char)*text) || (double)value < option->min ||
            (double)value > option->max) {
            snprintf(reason, reason_size,
                     "must be an integer in [%.17g, %.17g]", option->min,
                     option->max);
            return -1;
        }
        entry->int_value = value;
        return 0;
    }
    case CMN_OPT_DOUBLE: {
        errno = 0;
        double value = strtod(text, &end);
        if (end == text || *end || !isfinite(value) ||
            isspace((unsigned char)*text) || value < option->min ||
            value > option->max) {
            snprintf(reason, reason_size, "must be a number in [%.17g, %.17g]",
                     option->min, option->max);
            return -1;
        }
        entry->double_value = value;
        return 0;
    }
    case CMN_OPT_BOOL:
        if (s_parse_bool(text, &entry->bool_value) != 0) {
            snprintf(reason, reason_size,
                     "must be a boolean (true/false, yes/no, on/off, 1/0)");
            return -1;
        }
        return 0;
    case CMN_OPT_CHOICE: {
        for (int index = 0; option->choices[index]; index++) {
            if (strcasecmp(text, option->choices[index]) == 0) {
                entry->choice_index = index;
                return 0;
            }
        }
        size_t length =
            (size_t)snprintf(reason, reason_size, "must be one of:");
        for (int index = 0; option->choices[index] && length < reason_size;
             index++)
            length +=
                (size_t)snprintf(reason + length, reason_size - length, "%s %s",
                                 index ? "," : "", option->choices[index]);
        return -1;
    }
    }
    return -1;
}

/* Prints `text` wrapped at CMN_CONFIG_HELP_COLUMNS, each line after
 * `indent` spaces; a newline in the text starts a new line, a word wider
 * than the line stands alone. `first_column` is where the first line
 * already is (its indent is then not printed). */
static void s_print_wrapped(const char *text, size_t indent,
                            size_t first_column)
{
    size_t column = first_column;
    bool line_empty = true;
    if (column == 0) {
        printf("%*s", (int)indent, "");
        column = indent;
    }
    while (*text) {
        if (*text == '\n') {
            printf("\n%*s", (int)indent, "");
            column = indent;
            line_empty = true;
            text++;
            continue;
        }
        if (*text == ' ') {
            text++;
            continue;
        }
        size_t length = strcspn(text, " \n");
        size_t needed = line_empty ? length : length + 1;
        if (!line_empty && column + needed > CMN_CONFIG_HELP_COLUMNS) {
            printf("\n%*s", (int)indent, "");
            column = indent;
            line_empty = true;
            needed = length;
        }
        printf("%s%.*s", line_empty ? "" : " ", (int)length, text);
        column += needed;
        line_empty = false;
        text += length;
    }
    printf("\n");
}

/* The summary: each line wrapped to the terminal, except lines that start
 * with a space (a table of subcommands), printed as they are. */
static void s_print_summary(const char *summary)
{
    char line[CMN_CONFIG_HELP_BYTES];
    for (const char *cursor = summary; *cursor;) {
        size_t length = strcspn(cursor, "\n");
        snprintf(line, sizeof line, "%.*s", (int)length, cursor);
        if (line[0] == ' ')
            printf("%s\n", line);
        else
            s_print_wrapped(line, 0, 0);
        cursor += length;
        if (*cursor == '\n')
            cursor++;
    }
}

/* The description of one option as --help shows it: its help, then its
 * range, choices or "(true/false)". */
static void s_describe(const cmn_option_t *option, char *text, size_t size)
{
    size_t length = (size_t)snprintf(text, size, "%s", option->help);
    if (option->type == CMN_OPT_INT || option->type == CMN_OPT_DOUBLE)
        length += (size_t)snprintf(text + (length < size ? length : size),
                                   length < size ? size - length : 0,
                                   " [%.17g, %.17g]", option->min, option->max);
    if (option->type == CMN_OPT_CHOICE)
        for (size_t choice = 0; option->choices[choice]; choice++)
            length +=
                (size_t)snprintf(text + (length < size ? length : size),
                                 length < size ? size - length : 0, "%s%s%s",
                                 choice ? "|" : " (", option->choices[choice],
                                 option->choices[choice + 1] ? "" : ")");
    if (option->type == CMN_OPT_BOOL)
        snprintf(text + (length < size ? length : size),
                 length < size ? size - length : 0, " (true/false)");
}

/* One option in --help: "  --flag  VARIABLE  DEFAULT", then its
 * description wrapped below, so that no line is wider than
 * CMN_CONFIG_HELP_COLUMNS. The columns are aligned as far as the line still
 * fits; a default that fits nowhere gets a line of its own. */
static void s_print_option(const char *flag, const char *env,
                           const char *default_value, const char *description,
                           size_t flag_width, size_t env_width)
{
    size_t flag_length = strlen(flag), env_length = strlen(env);
    size_t default_length = strlen(default_value);
    size_t indent = CMN_CONFIG_HELP_INDENT;
    if (flag_length > flag_width)
        flag_width = flag_length;
    if (env_length > env_width)
        env_width = env_length;
    /* The row without its flag and variable: indent, gaps, default. */
    size_t rest = indent + 2 * S_GAP + default_length;
    if (!*env)
        printf("%*s%s\n", (int)indent, "", flag);
    else if (rest + flag_width + env_width <= CMN_CONFIG_HELP_COLUMNS)
        printf("%*s%-*s  %-*s  %s\n", (int)indent, "", (int)flag_width, flag,
               (int)env_width, env, default_value);
    else if (rest + flag_width + env_length <= CMN_CONFIG_HELP_COLUMNS)
        printf("%*s%-*s  %s  %s\n", (int)indent, "", (int)flag_width, flag, env,
               default_value);
    else if (rest + flag_length + env_length <= CMN_CONFIG_HELP_COLUMNS)
        printf("%*s%s  %s  %s\n", (int)indent, "", flag, env, default_value);
    else if (indent + flag_length + S_GAP + env_length <=
             CMN_CONFIG_HELP_COLUMNS)
        printf("%*s%s  %s\n%*sdefault: %s\n", (int)indent, "", flag, env,
               CMN_CONFIG_HELP_DESCRIPTION_INDENT, "", default_value);
    else /* a long per-provider name: flag, then variable and default */
        printf("%*s%s\n%*s%s  default: %s\n", (int)indent, "", flag,
               CMN_CONFIG_HELP_DESCRIPTION_INDENT, "", env, default_value);
    s_print_wrapped(description, CMN_CONFIG_HELP_DESCRIPTION_INDENT, 0);
}

static void s_print_help(cmn_config_t *self)
{
    printf("Usage: %s [OPTION]...\n", self->program);
    if (*self->summary)
        s_print_summary(self->summary);
    printf("\nEach option is a long flag and an environment variable; the "
           "flag wins.\n\n");
    /* Columns are aligned only as wide as a table that leaves room for a
     * short default; longer rows fall back to two spaces between fields. */
    size_t flag_width = strlen("--version"), env_width = strlen("VARIABLE");
    for (size_t index = 0; index < self->count; index++) {
        const cmn_option_t *option = &self->entries[index].option;
        if (strlen(option->flag) + S_DASHES > flag_width)
            flag_width = strlen(option->flag) + S_DASHES;
        if (strlen(option->env) > env_width)
            env_width = strlen(option->env);
    }
    if (CMN_CONFIG_HELP_INDENT + flag_width + env_width + 2 * S_GAP +
            CMN_CONFIG_HELP_DEFAULT_ROOM >
        CMN_CONFIG_HELP_COLUMNS)
        flag_width = env_width = 0;
    s_print_option("FLAG", "VARIABLE", "DEFAULT", "DESCRIPTION", flag_width,
                   env_width);
    char flag[CMN_CONFIG_SOURCE_BYTES];
    char description[CMN_CONFIG_HELP_BYTES];
    for (size_t index = 0; index < self->count; index++) {
        const cmn_option_t *option = &self->entries[index].option;
        snprintf(flag, sizeof flag, "--%s", option->flag);
        s_describe(option, description, sizeof description);
        s_print_option(flag, option->env,
                       option->default_value ? option->default_value : "-",
                       description, flag_width, env_width);
    }
    s_print_option("--help", "", "", "print this help and exit", flag_width,
                   env_width);
    s_print_option("--version", "", "", "print the version and exit",
                   flag_width, env_width);
}

/* Writes `text` as one TSV field: tabs and newlines become spaces. */
static void s_print_field(const char *text, bool last)
{
    for (; text && *text; text++)
        putchar(*text == '\t' || *text == '\n' ? ' ' : *text);
    putchar(last ? '\n' : '\t');
}

/* `--help-options=tsv`: the option table for tools (the man pages and the
 * bash completions are generated from it at build time). Lines starting
 * with '#' give the program, version and summary ("\n" written as "\\n");
 * then a header row and one row per option. */
static void s_print_options_tsv(cmn_config_t *self)
{
    static const char *const types[] = {[CMN_OPT_STRING] = "string",
                                        [CMN_OPT_INT] = "int",
                                        [CMN_OPT_DOUBLE] = "double",
                                        [CMN_OPT_BOOL] = "bool",
                                        [CMN_OPT_CHOICE] = "choice"};
    printf("#program\t%s\n#version\t%s\n#summary\t", self->program,
           self->version);
    for (const char *text = self->summary; *text; text++) {
        if (*text == '\n')
            printf("\\n");
        else
            putchar(*text == '\t' ? ' ' : *text);
    }
    printf("\nflag\tvariable\ttype\tdefault\tmin\tmax\tchoices\t"
           "description\n");
    char number[CMN_CONFIG_SOURCE_BYTES];
    for (size_t index = 0; index < self->count; index++) {
        const cmn_option_t *option = &self->entries[index].option;
        bool ranged =
            option->type == CMN_OPT_INT || option->type == CMN_OPT_DOUBLE;
        s_print_field(option->flag, false);
        s_print_field(option->env, false);
        s_print_field(types[option->type], false);
        s_print_field(option->default_value, false);
        snprintf(number, sizeof number, "%.17g", option->min);
        s_print_field(ranged ? number : "", false);
        snprintf(number, sizeof number, "%.17g", option->max);
        s_print_field(ranged ? number : "", false);
        for (size_t choice = 0; option->choices && option->choices[choice];
             choice++)
            printf("%s%s", choice ? "|" : "", option->choices[choice]);
        putchar('\t');
        s_print_field(option->help, true);
    }
}

/* The flag (without "--") closest to a misspelled one, or NULL when none is
 * close enough to suggest. */
static const char *s_closest_flag(cmn_config_t *self, const char *typed,
                                  size_t length)
{
    static const char *const builtins[] = {"help", "version"};
    const char *best = NULL;
    size_t best_distance = SIZE_MAX;
    for (size_t index = 0; index < self->count + 2; index++) {
        const char *flag = index < self->count
                               ? self->entries[index].option.flag
                               : builtins[index - self->count];
        size_t distance =
            cmn_suggest_distance(typed, length, flag, strlen(flag));
        if (distance < best_distance) {
            best_distance = distance;
            best = flag;
        }
    }
    /* Distance 0: the right name after one dash ("-workers"). */
    return best_distance == 0 || cmn_suggest_close(best_distance, length)
               ? best
               : NULL;
}

/* Records the flags of argv on the entries and keeps the positionals.
 * Returns 0, or -1 after printing a message. */
static int s_scan_argv(cmn_config_t *self, int argc, char **argv)
{
    bool flags_done = false; /* after "--" everything is positional */
    for (int index = 1; index < argc; index++) {
        const char *arg = argv[index];
        if (flags_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
            char **positionals =
                realloc(self->positionals,
                        (self->positional_count + 1) * sizeof *positionals);
            char *copy = strdup(arg);
            if (!positionals || !copy) {
                free(copy);
                if (positionals)
                    self->positionals = positionals;
                fprintf(stderr, "%s: out of memory reading arguments\n",
                        self->program);
                return -1;
            }
            self->positionals = positionals;
            self->positionals[self->positional_count++] = copy;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            flags_done = true;
            continue;
        }
        const char *name = arg + 2;
        const char *equals = strchr(arg, '=');
        size_t name_length = equals ? (size_t)(equals - name) : strlen(name);
        s_entry_t *entry = NULL;
        if (arg[1] == '-')
            entry = s_find_prefix(self, name, name_length);
        if (!entry) {
            int shown = equals ? (int)(equals - arg) : (int)strlen(arg);
            const char *typed = arg + strspn(arg, "-");
            const char *near = s_closest_flag(
                self, typed, (size_t)shown - (size_t)(typed - arg));
            char subject[CMN_CONFIG_SOURCE_BYTES];
            snprintf(subject, sizeof subject, "%.*s", shown, arg);
            if (near)
                s_problem(self, subject,
                          "unknown option %s: did you mean --%s? "
                          "(see --help)",
                          subject, near);
            else
                s_problem(self, subject, "unknown option %s (see --help)",
                          subject);
            if (!self->collect)
                return -1;
            /* Collecting: `--unknown VALUE` most likely had a value;
             * skip it rather than report it as a stray argument. */
            if (!equals && index + 1 < argc && argv[index + 1][0] != '-')
                index++;
            continue;
        }
        if (equals) {
            entry->flag_value = equals + 1;
        } else if (entry->option.type == CMN_OPT_BOOL) {
            /* A bare boolean flag means true; a following boolean word is
             * its value (`--enable-feedback false`). */
            bool ignored;
            if (index + 1 < argc &&
                s_parse_bool(argv[index + 1], &ignored) == 0)
                entry->flag_value = argv[++index];
            else
                entry->flag_value = "true";
        } else if (index + 1 < argc) {
            entry->flag_value = argv[++index];
        } else {
            char subject[CMN_CONFIG_SOURCE_BYTES];
            snprintf(subject, sizeof subject, "--%s", entry->option.flag);
            s_problem(self, subject, "option %s needs a value (see --help)",
                      subject);
            if (!self->collect)
                return -1;
        }
    }
    return 0;
}

int cmn_config_load(cmn_config_t *self, int argc, char **argv)
{
    assert(self);
    for (int index = 1; index < argc && strcmp(argv[index], "--"); index++) {
        if (strcmp(argv[index], "--help") == 0 ||
            strcmp(argv[index], "-h") == 0) {
            s_print_help(self);
            return CMN_CONFIG_EXIT;
        }
        if (strcmp(argv[index], CMN_CONFIG_OPTIONS_FLAG) == 0) {
            s_print_options_tsv(self);
            return CMN_CONFIG_EXIT;
        }
        if (strcmp(argv[index], "--version") == 0) {
            printf("%s %s\n", self->program, self->version);
            return CMN_CONFIG_EXIT;
        }
    }
    for (size_t index = 0; index < self->count; index++)
        self->entries[index].flag_value = NULL;
    size_t problems_before = self->problems;
    if (s_scan_argv(self, argc, argv) != 0)
        return -1;

    for (size_t index = 0; index < self->count; index++) {
        s_entry_t *entry = &self->entries[index];
        const char *env_value = getenv(entry->option.env);
        const char *text;
        if (entry->flag_value) {
            text = entry->flag_value;
            snprintf(entry->source, sizeof entry->source, "--%s",
                     entry->option.flag);
        } else if (env_value && *env_value) {
            text = env_value;
            snprintf(entry->source, sizeof entry->source, "%s",
                     entry->option.env);
        } else {
            text = entry->option.default_value;
            snprintf(entry->source, sizeof entry->source, "default");
        }
        entry->flag_value = NULL; /* argv is only borrowed during load */
        free(entry->text);
        entry->text = s_strdup_or_null(text);
        if (!entry->text) {
            /* Only strings may be unset; a missing typed default is a bug. */
            assert(!text && entry->option.type == CMN_OPT_STRING);
            continue;
        }
        char reason[CMN_CONFIG_REASON_BYTES];
        if (s_parse(entry, text, reason, sizeof reason) != 0) {
            cmn_config_reject(self, entry->option.flag, reason);
            if (!self->collect)
                return -1;
            /* Collecting: go on with the default, so that the rules
             * between options are checked on sane values, not on this. */
            const char *fallback = entry->option.default_value;
            if (fallback)
                (void)s_parse(entry, fallback, reason, sizeof reason);
        }
    }
    return self->problems == problems_before ? 0 : -1;
}

/* Finds an option that must exist with this type (API misuse otherwise). */
static s_entry_t *s_expect(cmn_config_t *self, const char *flag,
                           cmn_opt_type_t type)
{
    assert(self && flag);
    s_entry_t *entry = s_find(self, flag);
    assert(entry && entry->option.type == type);
    (void)type; /* only checked by the assert */
    return entry;
}

const char *cmn_config_string(cmn_config_t *self, const char *flag)
{
    return s_expect(self, flag, CMN_OPT_STRING)->text;
}

int64_t cmn_config_int(cmn_config_t *self, const char *flag)
{
    return s_expect(self, flag, CMN_OPT_INT)->int_value;
}

double cmn_config_double(cmn_config_t *self, const char *flag)
{
    return s_expect(self, flag, CMN_OPT_DOUBLE)->double_value;
}

bool cmn_config_bool(cmn_config_t *self, const char *flag)
{
    return s_expect(self, flag, CMN_OPT_BOOL)->bool_value;
}

int cmn_config_choice(cmn_config_t *self, const char *flag)
{
    return s_expect(self, flag, CMN_OPT_CHOICE)->choice_index;
}

const char *cmn_config_source(cmn_config_t *self, const char *flag)
{
    assert(self && flag);
    s_entry_t *entry = s_find(self, flag);
    assert(entry);
    return entry->source[0] ? entry->source : "default";
}

size_t cmn_config_positional_count(cmn_config_t *self)
{
    assert(self);
    return self->positional_count;
}

const char *cmn_config_positional(cmn_config_t *self, size_t index)
{
    assert(self && index < self->positional_count);
    return self->positionals[index];
}

void cmn_config_reject(cmn_config_t *self, const char *flag, const char *reason)
{
    assert(self && flag && reason);
    s_entry_t *entry = s_find(self, flag);
    assert(entry);
    entry->rejected = true;
    char masked[CMN_CONFIG_VALUE_BYTES];
    const char *value =
        cmn_config_mask(entry->text ? entry->text : "", masked, sizeof masked);
    if (s_is_secret(entry))
        value = CMN_CONFIG_HIDDEN;
    if (strcmp(cmn_config_source(self, flag), "default") == 0)
        s_problem(self, entry->option.env, "invalid default --%s='%s': %s",
                  flag, value, reason);
    else
        s_problem(self, entry->source, "invalid %s='%s': %s", entry->source,
                  value, reason);
}

bool cmn_config_rejected(cmn_config_t *self, const char *flag)
{
    assert(self && flag);
    s_entry_t *entry = s_find(self, flag);
    assert(entry);
    return entry->rejected;
}

void cmn_config_collect(cmn_config_t *self, cmn_config_problem_fn *fn,
                        void *arg)
{
    assert(self);
    self->collect = fn;
    self->collect_arg = arg;
}

cmn_config_origin_t cmn_config_origin(cmn_config_t *self, const char *flag)
{
    const char *source = cmn_config_source(self, flag);
    return strncmp(source, "--", 2) == 0    ? CMN_CONFIG_ORIGIN_FLAG
           : strcmp(source, "default") == 0 ? CMN_CONFIG_ORIGIN_DEFAULT
                                            : CMN_CONFIG_ORIGIN_ENVIRONMENT;
}

const char *cmn_config_origin_name(cmn_config_origin_t origin)
{
    return origin == CMN_CONFIG_ORIGIN_FLAG          ? "flag"
           : origin == CMN_CONFIG_ORIGIN_ENVIRONMENT ? "environment"
                                                     : "default";
}

/* Masks a `password=VALUE` (a URI query or a libpq key=value string) from
 * `from` on: VALUE ends at '&', a space or the end. */
static void s_mask_password_keys(char *out, size_t size, char *from)
{
    static const char key[] = "password=";
    char rest[CMN_CONFIG_VALUE_BYTES];
    for (char *found = strstr(from, key); found; found = strstr(found, key)) {
        char *value = found + strlen(key);
        char *end = value + strcspn(value, "& ");
        snprintf(rest, sizeof rest, "%s", end);
        snprintf(value, size - (size_t)(value - out), "%s%s",
                 CMN_CONFIG_HIDDEN, rest);
        found = value + strlen(CMN_CONFIG_HIDDEN);
    }
}

const char *cmn_config_mask(const char *value, char *out, size_t size)
{
    assert(value && out && size > 0);
    snprintf(out, size, "%s", value);
    char *scheme = strstr(out, "://");
    char *query = out;
    if (scheme) {
        /* The userinfo ends at the authority's end: the first '/', '?' or
         * '#' after the scheme, or the end of the text. */
        char *user = scheme + strlen("://");
        size_t authority = strcspn(user, "/?#");
        char *at = memchr(user, '@', authority);
        char *colon = at ? memchr(user, ':', (size_t)(at - user)) : NULL;
        if (colon) {
            char rest[CMN_CONFIG_VALUE_BYTES];
            snprintf(rest, sizeof rest, "%s", at);
            snprintf(colon + 1, size - (size_t)(colon + 1 - out), "%s%s",
                     CMN_CONFIG_HIDDEN, rest);
        }
        query = user;
    }
    s_mask_password_keys(out, size, query);
    return out;
}

const char *cmn_config_display(cmn_config_t *self, const char *flag, char *out,
                               size_t size)
{
    assert(self && flag && out && size > 0);
    s_entry_t *entry = s_find(self, flag);
    assert(entry);
    if (!entry->text)
        snprintf(out, size, "%s", CMN_CONFIG_UNSET);
    else if (s_is_secret(entry))
        snprintf(out, size, "%s", CMN_CONFIG_HIDDEN);
    else
        cmn_config_mask(entry->text, out, size);
    return out;
}

void cmn_config_print_effective(cmn_config_t *self, FILE *out)
{
    assert(self && out);
    size_t env_width = strlen("VARIABLE");
    for (size_t index = 0; index < self->count; index++) {
        size_t length = strlen(self->entries[index].option.env);
        if (length > env_width)
            env_width = length;
    }
    fprintf(out, "%-*s  %-*s  %s\n", (int)env_width, "VARIABLE",
            CMN_CONFIG_VALUE_COLUMN, "VALUE", "ORIGIN");
    for (size_t index = 0; index < self->count; index++) {
        s_entry_t *entry = &self->entries[index];
        char value[CMN_CONFIG_VALUE_BYTES];
        cmn_config_display(self, entry->option.flag, value, sizeof value);
        cmn_config_origin_t origin =
            cmn_config_origin(self, entry->option.flag);
        fprintf(out, "%-*s  %-*s  %s%s%s\n", (int)env_width, entry->option.env,
                CMN_CONFIG_VALUE_COLUMN, value, cmn_config_origin_name(origin),
                origin == CMN_CONFIG_ORIGIN_FLAG ? " " : "",
                origin == CMN_CONFIG_ORIGIN_FLAG ? entry->source : "");
    }
}

const char *cmn_config_peek(int argc, char **argv, const char *flag,
                            const char *env, const char *fallback)
{
    assert(flag);
    size_t length = strlen(flag);
    const char *found = NULL;
    for (int index = 1; index < argc && strcmp(argv[index], "--"); index++) {
        const char *arg = argv[index];
        if (strncmp(arg, "--", 2) != 0 || strncmp(arg + 2, flag, length) != 0)
            continue;
        if (arg[2 + length] == '=')
            found = arg + 3 + length; /* the last occurrence wins, as in load */
        else if (arg[2 + length] == '\0' && index + 1 < argc)
            found = argv[++index];
    }
    if (found)
        return found;
    const char *value = env ? getenv(env) : NULL;
    return value && *value ? value : fallback;
}

const char *cmn_config_list_next(const char **cursor, const char *separators,
                                 size_t *length)
{
    assert(cursor && separators && length);
    if (!*cursor)
        return NULL;
    const char *item = *cursor + strspn(*cursor, separators);
    *length = strcspn(item, separators);
    *cursor = item + *length;
    return *length > 0 ? item : NULL;
}

/* ---- unknown variables ------------------------------------------------ */

extern char **environ; /* POSIX: declared by the program that uses it */

/* True when `name` (of `length` bytes) starts with one of the
 * space-separated prefixes of `list`; sets *matched to its length. */
static bool s_has_prefix(const char *list, const char *name, size_t length,
                         size_t *matched)
{
    const char *cursor = list, *prefix;
    size_t prefix_length;
    while ((prefix = cmn_config_list_next(&cursor, " ", &prefix_length))) {
        if (prefix_length <= length &&
            memcmp(name, prefix, prefix_length) == 0) {
            if (matched)
                *matched = prefix_length;
            return true;
        }
    }
    return false;
}

/* The option variable closest to `name`, or NULL. */
static const char *s_closest_env(cmn_config_t *self, const char *name,
                                 size_t length)
{
    const char *best = NULL;
    size_t best_distance = SIZE_MAX;
    for (size_t index = 0; index < self->count; index++) {
        const char *env = self->entries[index].option.env;
        size_t distance = cmn_suggest_distance(name, length, env, strlen(env));
        if (distance < best_distance) {
            best_distance = distance;
            best = env;
        }
    }
    return cmn_suggest_close(best_distance, length) ? best : NULL;
}

/* A per-name variable (FAMILY + NAME + SUFFIX) for a name that is not
 * configured: the suffixes are those of the configured options of the same
 * family. Finds the split of `name` whose tail is nearest a known suffix
 * (the longest on a tie). Returns true and the name's length and the
 * suffix (with its distance) when some tail is exact or close. */
static bool s_family_match(cmn_config_t *self, const char *name, size_t length,
                           size_t family_length, size_t *name_length,
                           const char **suffix, size_t *suffix_distance)
{
    size_t best = SIZE_MAX, best_suffix_length = 0;
    for (size_t split = family_length + 1; split < length; split++) {
        if (name[split] != '_')
            continue;
        const char *tail = name + split;
        size_t tail_length = length - split;
        for (size_t index = 0; index < self->count; index++) {
            const char *env = self->entries[index].option.env;
            size_t env_length = strlen(env);
            if (env_length <= family_length ||
                memcmp(env, name, family_length) != 0)
                continue;
            /* Every '_' of the known variable past the family starts a
             * candidate suffix. */
            for (const char *known = strchr(env + family_length + 1, '_');
                 known; known = strchr(known + 1, '_')) {
                size_t known_length = env_length - (size_t)(known - env);
                size_t distance = cmn_suggest_distance(tail, tail_length, known,
                                                       known_length);
                if (distance != 0 && !cmn_suggest_close(distance, tail_length))
                    continue;
                if (distance < best ||
                    (distance == best && known_length > best_suffix_length)) {
                    best = distance;
                    best_suffix_length = known_length;
                    *name_length = split - family_length;
                    *suffix = known;
                }
            }
        }
    }
    *suffix_distance = best;
    return best != SIZE_MAX;
}

/* The "ignored; did you mean ..." text for an unknown variable. */
static void s_unknown_hint(cmn_config_t *self,
                           const cmn_config_unknown_t *rules, const char *name,
                           size_t length, char *hint, size_t size)
{
    const char *near = s_closest_env(self, name, length);
    size_t family_length = 0, name_length = 0, distance = 0;
    const char *suffix = NULL;
    if (!near && rules->families &&
        s_has_prefix(rules->families, name, length, &family_length) &&
        s_family_match(self, name, length, family_length, &name_length, &suffix,
                       &distance)) {
        const char *listed = "";
        for (size_t index = 0; index < self->count; index++)
            if (rules->names_variable && strcmp(self->entries[index].option.env,
                                                rules->names_variable) == 0)
                listed =
                    self->entries[index].text ? self->entries[index].text : "";
        char meant[CMN_CONFIG_SOURCE_BYTES] = "";
        if (distance > 0)
            snprintf(meant, sizeof meant, "; did you mean %.*s%s?",
                     (int)(family_length + name_length), name, suffix);
        snprintf(hint, size, "ignored: %.*s is not in %s (%s)%s",
                 (int)name_length, name + family_length,
                 rules->names_variable ? rules->names_variable
                                       : "the names configured",
                 listed, meant);
    } else if (near)
        snprintf(hint, size, "ignored; did you mean %s?", near);
    else
        snprintf(hint, size, "ignored: no such option (see --help)");
}

size_t cmn_config_warn_unknown(cmn_config_t *self,
                               const cmn_config_unknown_t *rules,
                               char *const *environment)
{
    assert(self && rules && rules->prefix);
    size_t warned = 0;
    size_t prefix_length = strlen(rules->prefix);
    if (!environment)
        environment = environ;
    for (char *const *variable = environment; variable && *variable;
         variable++) {
        const char *name = *variable;
        size_t length = strcspn(name, "=");
        if (length < prefix_length ||
            memcmp(name, rules->prefix, prefix_length) != 0)
            continue;
        bool known = false;
        for (size_t index = 0; index < self->count && !known; index++) {
            const char *env = self->entries[index].option.env;
            known = strlen(env) == length && memcmp(env, name, length) == 0;
        }
        if (known || (rules->ignored &&
                      s_has_prefix(rules->ignored, name, length, NULL)))
            continue;
        warned++;
        char hint[CMN_CONFIG_REASON_BYTES];
        s_unknown_hint(self, rules, name, length, hint, sizeof hint);
        if (self->collect) {
            char subject[CMN_CONFIG_SOURCE_BYTES];
            snprintf(subject, sizeof subject, "%.*s", (int)length, name);
            s_problem(self, subject, "unknown variable %s: %s", subject, hint);
        } else
            cmn_log_warning("config", "unknown_variable",
                            "variable=%.*s hint=\"%s\"", (int)length, name,
                            hint);
    }
    return warned;
}
