/* sc_sink_sqlite: writes batches into a SQLite file (`sqlite:PATH`).
 *
 * One connection per sink (per worker), opened lazily: the parent directory
 * is created if missing, then WAL mode, synchronous=NORMAL, the schema (IF NOT
 * EXISTS) and one prepared INSERT per record kind, kept for the connection's
 * life. A batch is one BEGIN IMMEDIATE ... COMMIT; each row is inserted with
 * `ON CONFLICT (key) DO NOTHING` and sqlite3_changes() tells a new row from
 * a duplicate. (Not `INSERT OR IGNORE`: OR IGNORE also silently skips rows
 * that fail a CHECK or NOT NULL constraint, which must be a permanent error.)
 *
 * The busy timeout is short on purpose: a locked database is reported as
 * TRANSIENT quickly and the worker's own retry, backoff and breaker decide
 * what happens, rather than a thread stuck inside SQLite. Errors about the
 * data (constraints) are PERMANENT; everything else is TRANSIENT, and any
 * error other than busy/locked/constraint closes the connection so that the
 * next write starts from a fresh one (a deleted file, an I/O error, a table
 * dropped under us).
 *
 * A database file removed (or replaced) while it is open is the one fault
 * SQLite does not report: the connection keeps writing into the deleted
 * inode and every commit "succeeds" into nothing. So the sink remembers the
 * file's identity (device, inode) when it connects and checks it before
 * each transaction and after each commit; a mismatch drops the connection
 * and is TRANSIENT (a commit that landed in a removed file is written again
 * into the new one). Reconnecting to a path whose file is gone first
 * removes the orphaned -wal/-shm files, which belong to the deleted
 * database and must not be replayed into the new one. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmn_log.h"
#include "sc_sink_impl.h"

#define S_SCHEME "sqlite:"
/* How long SQLite itself waits for a lock before we report TRANSIENT. */
#define S_BUSY_TIMEOUT_MS 50
/* Mode for directories we create on the way to the database file. */
#define S_DIRECTORY_MODE 0755
#define S_FILE_MODE 0644
#define S_NS_PER_S INT64_C(1000000000)

/* Column checks mirror mdbp_record_validate plus what a market makes
 * impossible (prices > 0, high >= low); 9e999 is SQLite's +Inf literal, so
 * `x < 9e999` rejects infinities (NaN binds as NULL and fails NOT NULL). */
static const char s_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS trades ("
    " provider TEXT NOT NULL CHECK (length(provider) > 0),"
    " symbol TEXT NOT NULL CHECK (length(symbol) > 0),"
    " ts_ns INTEGER NOT NULL CHECK (ts_ns > 0),"
    " price REAL NOT NULL CHECK (price > 0 AND price < 9e999),"
    " size REAL NOT NULL CHECK (size >= 0 AND size < 9e999),"
    " ingested_at INTEGER NOT NULL,"
    " PRIMARY KEY (provider, symbol, ts_ns)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS quotes ("
    " provider TEXT NOT NULL CHECK (length(provider) > 0),"
    " symbol TEXT NOT NULL CHECK (length(symbol) > 0),"
    " ts_ns INTEGER NOT NULL CHECK (ts_ns > 0),"
    " bid REAL NOT NULL CHECK (bid > 0 AND bid < 9e999),"
    " bid_size REAL NOT NULL CHECK (bid_size >= 0 AND bid_size < 9e999),"
    " ask REAL NOT NULL CHECK (ask > 0 AND ask < 9e999),"
    " ask_size REAL NOT NULL CHECK (ask_size >= 0 AND ask_size < 9e999),"
    " ingested_at INTEGER NOT NULL,"
    " PRIMARY KEY (provider, symbol, ts_ns)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS bars ("
    " provider TEXT NOT NULL CHECK (length(provider) > 0),"
    " symbol TEXT NOT NULL CHECK (length(symbol) > 0),"
    " ts_ns INTEGER NOT NULL CHECK (ts_ns > 0),"
    " open REAL NOT NULL CHECK (open > 0 AND open < 9e999),"
    " high REAL NOT NULL CHECK (high > 0 AND high < 9e999),"
    " low REAL NOT NULL CHECK (low > 0 AND low < 9e999),"
    " close REAL NOT NULL CHECK (close > 0 AND close < 9e999),"
    " volume REAL NOT NULL CHECK (volume >= 0 AND volume < 9e999),"
    " ingested_at INTEGER NOT NULL,"
    " CHECK (high >= low),"
    " PRIMARY KEY (provider, symbol, ts_ns)) WITHOUT ROWID;";

/* One INSERT per kind, indexed by mdbp_record_kind_t. The last parameter is
 * ingested_at (ns since the Unix epoch, one value per batch). */
static const char *const s_insert_sql[MDBP_RECORD_KIND_COUNT] = {
    [MDBP_RECORD_TRADE] =
        "INSERT INTO trades (provider, symbol, ts_ns, price, size,"
        " ingested_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        " ON CONFLICT (provider, symbol, ts_ns) DO NOTHING",
    [MDBP_RECORD_QUOTE] =
        "INSERT INTO quotes (provider, symbol, ts_ns, bid, bid_size, ask,"
        " ask_size, ingested_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        " ON CONFLICT (provider, symbol, ts_ns) DO NOTHING",
    [MDBP_RECORD_BAR] =
        "INSERT INTO bars (provider, symbol, ts_ns, open, high, low, close,"
        " volume, ingested_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        " ON CONFLICT (provider, symbol, ts_ns) DO NOTHING",
};

typedef struct {
    char *path;  /* file path after "sqlite:", owned */
    sqlite3 *db; /* NULL until the first write or ping */
    sqlite3_stmt *insert[MDBP_RECORD_KIND_COUNT]; /* per kind */
    sqlite3_stmt *begin;                           /* BEGIN IMMEDIATE */
    sqlite3_stmt *commit;                          /* COMMIT */
    sqlite3_stmt *rollback;                        /* ROLLBACK */
    sqlite3_stmt *ping; /* a read that touches the file */
    int open_code;      /* SQLite's code of the last failed open, or 0 */
    dev_t file_device;  /* identity of the file opened, */
    ino_t file_inode;   /* to notice it removed or replaced */
} s_sqlite_t;

static int s_sqlite_check(const char *uri, char *error, size_t error_capacity)
{
    const char *path = uri + strlen(S_SCHEME);
    if (path[0] == '\0') {
        snprintf(error, error_capacity,
                 "sink URI '%s': missing file path (write sqlite:PATH, "
                 "e.g. sqlite:./data/market.db)",
                 uri);
        return -1;
    }
    struct stat info;
    if (stat(path, &info) == 0 && S_ISDIR(info.st_mode)) {
        snprintf(error, error_capacity,
                 "sink URI '%.200s': '%.200s' is a directory, not a database "
                 "file",
                 uri, path);
        return -1;
    }
    return 0;
}

static void *s_sqlite_open(const char *uri)
{
    s_sqlite_t *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return NULL;
    self->path = strdup(uri + strlen(S_SCHEME));
    if (self->path == NULL) {
        free(self);
        return NULL;
    }
    return self;
}

/* Finalizes every statement and closes the connection (if open). */
static void s_disconnect(s_sqlite_t *self)
{
    for (size_t kind = 0; kind < MDBP_RECORD_KIND_COUNT; kind++) {
        sqlite3_finalize(self->insert[kind]);
        self->insert[kind] = NULL;
    }
    sqlite3_finalize(self->begin);
    sqlite3_finalize(self->commit);
    sqlite3_finalize(self->rollback);
    sqlite3_finalize(self->ping);
    self->begin = self->commit = self->rollback = self->ping = NULL;
    /* sqlite3_close_v2 succeeds once statements are finalized. */
    sqlite3_close_v2(self->db);
    self->db = NULL;
}

static void s_sqlite_close(void *state)
{
    s_sqlite_t *self = state;
    s_disconnect(self);
    free(self->path);
    free(self);
}

/* Whether an error code means the data was rejected (retrying the same batch
 * cannot succeed), rather than a fault of the database or its file. */
static bool s_is_permanent(int code)
{
    switch (code & 0xff) {
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
        return true;
    default:
        return false;
    }
}

/* Busy and locked go away by themselves; keep the connection for those. */
static bool s_keeps_connection(int code)
{
    int primary = code & 0xff;
    return primary == SQLITE_BUSY || primary == SQLITE_LOCKED ||
           s_is_permanent(code);
}

/* Classifies `code`, writes the error text with `context`, and drops the
 * connection when it may be broken. */
static sc_sink_status_t s_fail(s_sqlite_t *self, int code, const char *context,
                               sc_sink_error_t *error)
{
    const char *message =
        self->db != NULL ? sqlite3_errmsg(self->db) : sqlite3_errstr(code);
    sc_sink_error_set(error, "sqlite: %s: %s (code %d) [%s]", context, message,
                      code, self->path);
    sc_sink_status_t status =
        s_is_permanent(code) ? SC_SINK_PERMANENT : SC_SINK_TRANSIENT;
    if (!s_keeps_connection(code))
        s_disconnect(self);
    return status;
}

/* Creates every missing directory above the database file. */
static int s_make_parent_directories(const char *path, sc_sink_error_t *error)
{
    char *copy = strdup(path);
    if (copy == NULL) {
        sc_sink_error_set(error, "sqlite: out of memory");
        return -1;
    }
    int rc = 0;
    /* Walk each '/' after the first character; the final component is the
     * file itself and is left to SQLite. */
    for (char *slash = strchr(copy + 1, '/'); slash != NULL;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(copy, S_DIRECTORY_MODE) != 0 && errno != EEXIST) {
            sc_sink_error_set(error,
                              "sqlite: cannot create directory '%s' for the "
                              "database: %s",
                              copy, strerror(errno));
            rc = -1;
            break;
        }
        *slash = '/';
    }
    free(copy);
    return rc;
}

/* Removes the -wal and -shm files of a database file that no longer
 * exists (they would be replayed into a new file of the same name). */
static void s_remove_orphans(const char *path)
{
    static const char *const suffixes[] = {"-wal", "-shm"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char orphan[PATH_MAX];
        if (snprintf(orphan, sizeof orphan, "%s%s", path, suffixes[i]) >=
            (int)sizeof orphan)
            continue;
        if (unlink(orphan) == 0)
            cmn_log_warning("sink", "orphan_removed",
                            "kind=sqlite path=\"%s\" reason=\"database file "
                            "missing\"",
                            orphan);
    }
}

/* True when the path still names the file the connection opened. */
static bool s_file_is_ours(const s_sqlite_t *self)
{
    if (strcmp(self->path, ":memory:") == 0)
        return true;
    struct stat info;
    return stat(self->path, &info) == 0 && info.st_dev == self->file_device &&
           info.st_ino == self->file_inode;
}

/* Drops a connection whose file was removed or replaced; TRANSIENT. */
static sc_sink_status_t s_file_lost(s_sqlite_t *self, const char *when,
                                    sc_sink_error_t *error)
{
    sc_sink_error_set(error,
                      "sqlite: database file '%s' was removed or replaced "
                      "%s; reopening",
                      self->path, when);
    s_disconnect(self);
    return SC_SINK_TRANSIENT;
}

static int s_prepare(s_sqlite_t *self, const char *sql, sqlite3_stmt **stmt)
{
    return sqlite3_prepare_v3(self->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                              stmt, NULL);
}

/* Opens the connection, sets it up and prepares the statements. Returns
 * SC_SINK_OK or TRANSIENT (nothing about opening is the data's fault). */
static sc_sink_status_t s_open_database(s_sqlite_t *self,
                                        sc_sink_error_t *error)
{
    bool in_memory = strcmp(self->path, ":memory:") == 0;
    if (!in_memory && s_make_parent_directories(self->path, error) != 0)
        return SC_SINK_TRANSIENT;

    struct stat info;
    if (!in_memory && stat(self->path, &info) != 0 && errno == ENOENT)
        s_remove_orphans(self->path);

    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                SQLITE_OPEN_NOMUTEX; /* one connection per worker thread */
    int rc = sqlite3_open_v2(self->path, &self->db, flags, NULL);
    self->open_code = rc;
    if (rc != SQLITE_OK) {
        sc_sink_error_set(error, "sqlite: cannot open '%s': %s", self->path,
                          self->db != NULL ? sqlite3_errmsg(self->db)
                                           : sqlite3_errstr(rc));
        s_disconnect(self);
        return SC_SINK_TRANSIENT;
    }
    sqlite3_extended_result_codes(self->db, 1);
    sqlite3_busy_timeout(self->db, S_BUSY_TIMEOUT_MS);

    const char *step = "set journal_mode=WAL";
    rc = sqlite3_exec(self->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        step = "set synchronous=NORMAL";
        rc = sqlite3_exec(self->db, "PRAGMA synchronous=NORMAL", NULL, NULL,
                          NULL);
    }
    if (rc == SQLITE_OK) {
        /* One transaction so two workers starting together cannot both
         * see a table missing halfway through. */
        step = "create schema";
        rc = sqlite3_exec(self->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
            rc = sqlite3_exec(self->db, s_schema_sql, NULL, NULL, NULL);
            if (rc == SQLITE_OK)
                rc = sqlite3_exec(self->db, "COMMIT", NULL, NULL, NULL);
            if (rc != SQLITE_OK)
                sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
        }
    }
    if (rc == SQLITE_OK) {
        step = "prepare statements";
        for (size_t kind = 0; rc == SQLITE_OK && kind < MDBP_RECORD_KIND_COUNT;
             kind++)
            rc = s_prepare(self, s_insert_sql[kind], &self->insert[kind]);
        if (rc == SQLITE_OK)
            rc = s_prepare(self, "BEGIN IMMEDIATE", &self->begin);
        if (rc == SQLITE_OK)
            rc = s_prepare(self, "COMMIT", &self->commit);
        if (rc == SQLITE_OK)
            rc = s_prepare(self, "ROLLBACK", &self->rollback);
        if (rc == SQLITE_OK)
            rc = s_prepare(self, "SELECT count(*) FROM sqlite_master",
                           &self->ping);
    }
    self->open_code = rc;
    if (rc != SQLITE_OK) {
        sc_sink_error_set(error, "sqlite: %s on '%s': %s (code %d)", step,
                          self->path, sqlite3_errmsg(self->db), rc);
        s_disconnect(self);
        return SC_SINK_TRANSIENT;
    }
    if (!in_memory) {
        if (stat(self->path, &info) != 0) {
            sc_sink_error_set(error, "sqlite: '%s' vanished after opening: %s",
                              self->path, strerror(errno));
            s_disconnect(self);
            return SC_SINK_TRANSIENT;
        }
        self->file_device = info.st_dev;
        self->file_inode = info.st_ino;
    }
    /* Once per (re)connection; failures are the worker's to log. */
    cmn_log_info("sink", "connected", "kind=sqlite path=\"%s\"", self->path);
    return SC_SINK_OK;
}

/* Connections of this process open one at a time: one worker removing the
 * orphans of a deleted file must not remove the new -wal another worker has
 * just created (the only lock the sinks share; held for one open). */
static pthread_mutex_t s_open_mutex = PTHREAD_MUTEX_INITIALIZER;

/* Transactions of this process, one at a time (see s_sqlite_write). */
static pthread_mutex_t s_write_mutex = PTHREAD_MUTEX_INITIALIZER;

static sc_sink_status_t s_connect(s_sqlite_t *self, sc_sink_error_t *error)
{
    if (self->db != NULL)
        return SC_SINK_OK;
    pthread_mutex_lock(&s_open_mutex);
    sc_sink_status_t status = s_open_database(self, error);
    pthread_mutex_unlock(&s_open_mutex);
    return status;
}

/* Runs a statement without results once and resets it. */
static int s_run(sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Undoes the open transaction; a failed rollback leaves the connection in an
 * unknown state, so it is closed (SQLite then rolls back itself). */
static void s_rollback(s_sqlite_t *self)
{
    if (self->db == NULL || sqlite3_get_autocommit(self->db))
        return;
    if (s_run(self->rollback) != SQLITE_OK)
        s_disconnect(self);
}

static int s_bind_text(sqlite3_stmt *stmt, int index, const char *text,
                       size_t capacity)
{
    /* Records live until the statement is reset: no copy needed. */
    return sqlite3_bind_text(stmt, index, text, (int)strnlen(text, capacity),
                             SQLITE_STATIC);
}

/* Binds one record to its kind's statement. Returns an SQLite code. */
static int s_bind(sqlite3_stmt *stmt, const mdbp_record_t *record,
                  int64_t ingested_at_ns)
{
    int rc = s_bind_text(stmt, 1, record->provider, sizeof(record->provider));
    if (rc == SQLITE_OK)
        rc = s_bind_text(stmt, 2, record->symbol, sizeof(record->symbol));
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(stmt, 3, record->ts_ns);
    if (rc != SQLITE_OK)
        return rc;
    switch (record->kind) {
    case MDBP_RECORD_TRADE:
        sqlite3_bind_double(stmt, 4, record->u.trade.price);
        sqlite3_bind_double(stmt, 5, record->u.trade.size);
        return sqlite3_bind_int64(stmt, 6, ingested_at_ns);
    case MDBP_RECORD_QUOTE:
        sqlite3_bind_double(stmt, 4, record->u.quote.bid);
        sqlite3_bind_double(stmt, 5, record->u.quote.bid_size);
        sqlite3_bind_double(stmt, 6, record->u.quote.ask);
        sqlite3_bind_double(stmt, 7, record->u.quote.ask_size);
        return sqlite3_bind_int64(stmt, 8, ingested_at_ns);
    case MDBP_RECORD_BAR:
        sqlite3_bind_double(stmt, 4, record->u.bar.open);
        sqlite3_bind_double(stmt, 5, record->u.bar.high);
        sqlite3_bind_double(stmt, 6, record->u.bar.low);
        sqlite3_bind_double(stmt, 7, record->u.bar.close);
        sqlite3_bind_double(stmt, 8, record->u.bar.volume);
        return sqlite3_bind_int64(stmt, 9, ingested_at_ns);
    }
    return SQLITE_MISUSE;
}

static int64_t s_wall_clock_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * S_NS_PER_S + now.tv_nsec;
}

/* One BEGIN IMMEDIATE ... COMMIT of the batch (see s_sqlite_write). */
static sc_sink_status_t s_transaction(s_sqlite_t *self,
                                      const mdbp_record_t *records,
                                      size_t count, sc_sink_counts_t *counts,
                                      sc_sink_error_t *error)
{
    sc_sink_status_t status;
    int rc = s_run(self->begin);
    if (rc != SQLITE_OK)
        return s_fail(self, rc, "begin transaction", error);

    int64_t ingested_at_ns = s_wall_clock_ns();
    size_t written = 0;
    for (size_t index = 0; index < count; index++) {
        const mdbp_record_t *record = &records[index];
        sqlite3_stmt *stmt = self->insert[record->kind];
        rc = s_bind(stmt, record, ingested_at_ns);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(stmt);
            rc = rc == SQLITE_DONE ? SQLITE_OK
                                   : sqlite3_extended_errcode(self->db);
        }
        if (rc != SQLITE_OK) {
            char context[160];
            snprintf(context, sizeof(context),
                     "record %zu (%s %s/%s ts_ns=%lld)", index,
                     sc_sink_table_name(record->kind), record->provider,
                     record->symbol, (long long)record->ts_ns);
            /* Message first: the reset and rollback would replace it. */
            status = s_fail(self, rc, context, error);
            if (self->db != NULL) {
                sqlite3_reset(stmt);
                s_rollback(self);
            }
            return status;
        }
        written += (size_t)sqlite3_changes(self->db);
        sqlite3_reset(stmt);
    }

    rc = s_run(self->commit);
    if (rc != SQLITE_OK) {
        status = s_fail(self, rc, "commit", error);
        s_rollback(self);
        return status;
    }
    /* Committed into the file we opened: is that still the database? */
    if (!s_file_is_ours(self))
        return s_file_lost(self, "during the transaction", error);
    counts->written = written;
    counts->duplicates = count - written;
    return SC_SINK_OK;
}

static sc_sink_status_t s_sqlite_write(void *state,
                                       const mdbp_record_t *records,
                                       size_t count, sc_sink_counts_t *counts,
                                       sc_sink_error_t *error)
{
    s_sqlite_t *self = state;
    /* A record of an unknown kind is the data's fault: check before any
     * connection work so it is PERMANENT even with the database down. */
    for (size_t index = 0; index < count; index++) {
        unsigned kind = (unsigned)records[index].kind;
        if (kind >= MDBP_RECORD_KIND_COUNT) {
            sc_sink_error_set(error, "sqlite: record %zu: unknown kind %u",
                              index, kind);
            return SC_SINK_PERMANENT;
        }
    }
    sc_sink_status_t status = s_connect(self, error);
    if (status != SC_SINK_OK)
        return status;
    if (count == 0)
        return SC_SINK_OK;
    if (!s_file_is_ours(self))
        return s_file_lost(self, "while open", error);

    /* SQLite has one writer at a time: the workers of this process take
     * turns here (a mutex hands over at once) instead of meeting in
     * SQLite's busy handler, which sleeps and, past the busy timeout,
     * reports "database is locked" under plain load. */
    pthread_mutex_lock(&s_write_mutex);
    status = s_transaction(self, records, count, counts, error);
    pthread_mutex_unlock(&s_write_mutex);
    return status;
}

static sc_sink_status_t s_sqlite_ping(void *state, sc_sink_error_t *error)
{
    s_sqlite_t *self = state;
    sc_sink_status_t status = s_connect(self, error);
    if (status != SC_SINK_OK)
        return status;
    if (!s_file_is_ours(self))
        return s_file_lost(self, "while open", error);
    int rc = s_run(self->ping);
    if (rc != SQLITE_OK) {
        s_fail(self, rc, "ping", error);
        return SC_SINK_TRANSIENT; /* reachability, never the data's fault */
    }
    return SC_SINK_OK;
}

/* A file SQLite says is not a database (or is corrupt) can never be
 * written: that stops the start-up. Anything else (locked by another
 * process, a directory missing) is the writer's to retry. */
static sc_sink_status_t s_sqlite_start(void *state, sc_sink_error_t *error)
{
    s_sqlite_t *self = state;
    sc_sink_status_t status = s_connect(self, error);
    int primary = self->open_code & 0xff;
    if (status != SC_SINK_OK &&
        (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT))
        return SC_SINK_PERMANENT;
    return status;
}

/* Start-up checks on the main thread: the directories above the file and
 * the file itself (empty) are created, and an existing file must be empty
 * or start with SQLite's header: a path it can never write, or a text file
 * there, is a configuration error (exit 2), not a database that is "down"
 * forever. */
static int s_sqlite_prepare(const char *uri, char *error, size_t error_capacity)
{
    static const char header[] = "SQLite format 3"; /* and a NUL: 16 bytes */
    const char *path = uri + strlen(S_SCHEME);
    if (strcmp(path, ":memory:") == 0)
        return 0;
    sc_sink_error_t made = {{0}};
    if (s_make_parent_directories(path, &made) != 0) {
        snprintf(error, error_capacity, "%s", made.text);
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, S_FILE_MODE);
    if (fd < 0) {
        snprintf(error, error_capacity, "cannot open '%.200s' for writing: %s",
                 path, strerror(errno));
        return -1;
    }
    close(fd);
    char start[sizeof header];
    FILE *file = fopen(path, "rb");
    if (!file)
        return 0;
    size_t got = fread(start, 1, sizeof start, file);
    fclose(file);
    if (got == 0 ||
        (got == sizeof start && memcmp(start, header, sizeof header) == 0))
        return 0;
    snprintf(error, error_capacity,
             "'%.200s' exists and is not a SQLite database", path);
    return -1;
}

const sc_sink_backend_t sc_sink_sqlite_backend = {
    .kind = "sqlite",
    .check = s_sqlite_check,
    .prepare = s_sqlite_prepare,
    .open = s_sqlite_open,
    .start = s_sqlite_start,
    .close = s_sqlite_close,
    .write = s_sqlite_write,
    .ping = s_sqlite_ping,
};
