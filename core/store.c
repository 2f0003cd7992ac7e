/* The state store: state_dir/state.db, one SQLite database per state
 * directory, opened once per process.  It holds what must survive a crash
 * or a restart: the findings seen, the outbox of deliveries (outbox.c), the
 * runs' analytics (runs.c) and each action instance's own key/value state
 * (host->state_get / state_put).
 *
 * WAL with synchronous=FULL: every commit is on disk when sqlite3_step
 * returns, so a delivery marked done is never forgotten, whatever kills the
 * process next.  busy_timeout: a second revops on the same state_dir (a
 * manual run while the daemon works) waits for the lock instead of failing. */
#include "config.h"
#include "core.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define STORE_SCHEMA_VERSION 1

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    /* One row per finding fingerprint: the latest version and when it was
     * seen.  status: open (in its pipeline's latest complete run) or closed. */
    "CREATE TABLE IF NOT EXISTS findings("
    " fingerprint TEXT PRIMARY KEY, pipeline TEXT NOT NULL, analysis TEXT NOT NULL,"
    " account_id TEXT NOT NULL, account_name TEXT, owner TEXT, opportunity_id TEXT, category TEXT NOT NULL,"
    " priority TEXT NOT NULL, priority_rank INTEGER NOT NULL, score REAL NOT NULL, title TEXT NOT NULL,"
    " json TEXT NOT NULL, first_seen REAL NOT NULL, last_seen REAL NOT NULL, last_session TEXT NOT NULL,"
    " times_seen INTEGER NOT NULL DEFAULT 1, status TEXT NOT NULL DEFAULT 'open', closed_at REAL,"
    " last_run TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS findings_account ON findings(account_id);"
    "CREATE INDEX IF NOT EXISTS findings_pipeline ON findings(pipeline, status);"
    /* The outbox: one row per (finding, action, occurrence).  state:
     * pending (to deliver; due at next_attempt), delivered, failed (given
     * up: a final error or too many runs; `revops outbox --requeue`).
     * finding_json is the finding as routed, so a later run delivers what
     * this run decided to send even when the finding is gone by then. */
    "CREATE TABLE IF NOT EXISTS deliveries("
    " delivery_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, action TEXT NOT NULL, pipeline TEXT NOT NULL,"
    " occurrence INTEGER NOT NULL, priority_rank INTEGER NOT NULL, state TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, next_attempt REAL NOT NULL DEFAULT 0, last_error TEXT,"
    " created_at REAL NOT NULL, created_session TEXT NOT NULL, delivered_at REAL, delivered_session TEXT,"
    " finding_json TEXT NOT NULL);"
    "CREATE UNIQUE INDEX IF NOT EXISTS deliveries_pair ON deliveries(fingerprint, action, occurrence);"
    "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(state, action, next_attempt);"
    /* Each action instance's own keys (host->state_get/put). */
    "CREATE TABLE IF NOT EXISTS sink_state("
    " action TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, updated_at REAL NOT NULL,"
    " PRIMARY KEY(action, key));"
    /* The spec's LogAnalytics: one row per pipeline run (runs.c). */
    "CREATE TABLE IF NOT EXISTS runs(run_id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " session_id TEXT NOT NULL, pipeline TEXT NOT NULL, analysis TEXT NOT NULL, trigger TEXT NOT NULL,"
    " started_at REAL NOT NULL, seconds REAL NOT NULL, status TEXT NOT NULL, dry_run INTEGER NOT NULL,"
    " rows_read INTEGER NOT NULL, findings INTEGER NOT NULL, critical INTEGER NOT NULL, high INTEGER NOT NULL,"
    " medium INTEGER NOT NULL, low INTEGER NOT NULL, delivered INTEGER NOT NULL, delivery_failed INTEGER NOT NULL,"
    " suppressed INTEGER NOT NULL, tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL,"
    " record TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS runs_started ON runs(started_at);"
    /* The daemon's last fire per pipeline (unix seconds of the scheduled
     * time), so that after downtime it knows which runs it missed. */
    "CREATE TABLE IF NOT EXISTS schedule(pipeline TEXT PRIMARY KEY, last_fire INTEGER NOT NULL, updated_at REAL NOT NULL);";

struct store {
    sqlite3 *db;
    char *dir;
    char *path;
};

static store *the_store;

const char *store_path(const store *s)
{
    return s->path;
}

sqlite3 *store_db(store *s)
{
    return s->db;
}

static int exec(store *s, const char *sql, char *err, size_t n)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, n, "state store %s: %s", s->path, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

store *store_get(const revops_config *c, char *err, size_t n)
{
    if (the_store && strcmp(the_store->dir, c->state_dir) == 0) return the_store;
    store_shutdown();
    if (make_dirs(c->state_dir) != 0) {
        snprintf(err, n, "state store: cannot create state_dir %s: %s", c->state_dir, strerror(errno));
        return NULL;
    }
    store *s = xcalloc(1, sizeof *s);
    s->dir = xstrdup(c->state_dir);
    s->path = xasprintf("%s/state.db", c->state_dir);
    if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
        snprintf(err, n, "state store %s: %s", s->path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 30000);
    if (exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", err, n) < 0) goto fail;
    if (exec(s, "BEGIN IMMEDIATE;", err, n) < 0) goto fail;
    if (exec(s, schema, err, n) < 0) {
        sqlite3_exec(s->db, "ROLLBACK;", NULL, NULL, NULL);
        goto fail;
    }
    /* A database written by a newer revops may mean something else by
     * the same tables: refuse it rather than corrupt it. */
    sqlite3_stmt *st = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key='schema_version'", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = atoi((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (version > STORE_SCHEMA_VERSION) {
        snprintf(err, n, "state store %s: schema version %d was written by a newer revops (this one knows %d)", s->path,
                 version, STORE_SCHEMA_VERSION);
        sqlite3_exec(s->db, "ROLLBACK;", NULL, NULL, NULL);
        goto fail;
    }
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO meta VALUES('schema_version','%d'); COMMIT;", STORE_SCHEMA_VERSION);
    if (exec(s, sql, err, n) < 0) goto fail;
    the_store = s;
    return s;
fail:
    sqlite3_close(s->db);
    free(s->dir);
    free(s->path);
    free(s);
    return NULL;
}

void store_shutdown(void)
{
    if (!the_store) return;
    sqlite3_close(the_store->db);
    free(the_store->dir);
    free(the_store->path);
    free(the_store);
    the_store = NULL;
}

int store_begin(store *s, char *err, size_t n)
{
    return exec(s, "BEGIN IMMEDIATE;", err, n);
}

int store_commit(store *s, char *err, size_t n)
{
    if (exec(s, "COMMIT;", err, n) == 0) return 0;
    sqlite3_exec(s->db, "ROLLBACK;", NULL, NULL, NULL);
    return -1;
}

void store_rollback(store *s)
{
    sqlite3_exec(s->db, "ROLLBACK;", NULL, NULL, NULL);
}

sqlite3_stmt *store_prepare(store *s, const char *sql, char *err, size_t n)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, n, "state store %s: %s", s->path, sqlite3_errmsg(s->db));
        return NULL;
    }
    return st;
}

void store_error(store *s, char *err, size_t n)
{
    snprintf(err, n, "state store %s: %s", s->path, sqlite3_errmsg(s->db));
}

/* ---------------------------------------------- host->state_get / put -- */

#define STATE_MAX (64u * 1024u)

char *store_kv_get(const revops_config *c, const char *action, const char *key, char *err, size_t n)
{
    err[0] = '\0';
    store *s = store_get(c, err, n);
    if (!s) return NULL;
    sqlite3_stmt *st = store_prepare(s, "SELECT value FROM sink_state WHERE action=?1 AND key=?2", err, n);
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    char *v = NULL;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) v = xstrdup((const char *)sqlite3_column_text(st, 0));
    else if (rc != SQLITE_DONE) store_error(s, err, n);
    sqlite3_finalize(st);
    return v;
}

int store_kv_put(const revops_config *c, const char *action, const char *key, const char *value, char *err, size_t n)
{
    if (!key || !key[0] || strlen(key) > STATE_MAX || (value && strlen(value) > STATE_MAX)) {
        snprintf(err, n, "state_put: the key must be 1 to %u bytes and the value at most %u", STATE_MAX, STATE_MAX);
        return -1;
    }
    store *s = store_get(c, err, n);
    if (!s) return -1;
    sqlite3_stmt *st = store_prepare(s, value ? "INSERT OR REPLACE INTO sink_state VALUES(?1, ?2, ?3, ?4)"
                                              : "DELETE FROM sink_state WHERE action=?1 AND key=?2", err, n);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    if (value) {
        sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 4, clock_now());
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) store_error(s, err, n);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}
