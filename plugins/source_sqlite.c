/*
 * source "sqlite": runs a pipeline's queries against a SQLite database (the
 * demo warehouse, or any extract) and streams the rows to the core.
 *
 * Column types come from the declared column types (sqlite3_column_decltype);
 * expression columns have none, so the first row's storage class decides.
 * Cells keep their own storage class (SQLite is dynamically typed), except
 * text in DATE/TIMESTAMP columns, which is the ISO text those types are, and
 * 0/1 integers in BOOL columns, which is how SQLite stores booleans.
 *
 * One tool, "sql_query", lets a model-driven agent run a single read-only
 * SELECT/WITH statement.
 */
#include <revops/revops.h>

#include <sqlite3.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* How often (in SQLite VM steps) a long query checks the run's deadline. */
#define SQ_PROGRESS_STEPS 100000

typedef struct sq_ctx {
    revops_instance *self;
    const revops_host *host;
    sqlite3 *db;
    char *path;
    char *blob_hex;          /* reused buffer for BLOB cells shown as hex text */
    size_t blob_cap;
} sq_ctx;

/* SQLITE_BUSY / SQLITE_LOCKED (any extended code) is contention: another
 * writer holds the database, and the same query may succeed later. */
static revops_status status_of(int rc)
{
    int primary = rc & 0xff;
    return primary == SQLITE_BUSY || primary == SQLITE_LOCKED ? REVOPS_RETRY : REVOPS_ERROR;
}

/* Say what failed (what: "query for dataset 'usage'") with SQLite's message. */
static revops_status fail(sq_ctx *c, int rc, const char *what)
{
    const char *msg = c->db && sqlite3_errcode(c->db) == rc ? sqlite3_errmsg(c->db)
                                                           : sqlite3_errstr(rc);
    if ((rc & 0xff) == SQLITE_INTERRUPT)
        msg = "interrupted: the run's deadline was reached";
    c->host->error(c->self, "%s on %s: %s", what, c->path, msg);
    return status_of(rc);
}

/* Stop a long-running statement once the run's deadline has passed. */
static int on_progress(void *arg)
{
    sq_ctx *c = arg;
    return c->host->time_left(c->self) <= 0.0;
}

/* ----------------------------------------------------------- typing -- */

static int word_is(const char *word, const char *name)
{
    return strcasecmp(word, name) == 0;
}

static int has_int(const char *decl)
{
    for (const char *p = decl; p[0] && p[1] && p[2]; p++)
        if (strncasecmp(p, "INT", 3) == 0) return 1;
    return 0;
}

/* Declared type -> revops type; NULL decl (expression column): -1.
 * The first word decides DATE/TIMESTAMP/BOOL; "INT" anywhere means INTEGER,
 * as in SQLite's own affinity rules (BIGINT, UNSIGNED BIG INT...). */
static int decl_type(const char *decl)
{
    if (!decl || !*decl) return -1;
    char word[32];
    size_t n = 0;
    while (decl[n] && n < sizeof word - 1 && !isspace((unsigned char)decl[n]) && decl[n] != '(') {
        word[n] = decl[n];
        n++;
    }
    word[n] = '\0';
    if (word_is(word, "TIMESTAMP") || word_is(word, "DATETIME")) return REVOPS_TYPE_TIMESTAMP;
    if (word_is(word, "DATE")) return REVOPS_TYPE_DATE;
    if (word_is(word, "BOOL") || word_is(word, "BOOLEAN")) return REVOPS_TYPE_BOOL;
    if (has_int(decl)) return REVOPS_TYPE_INT;
    if (word_is(word, "REAL") || word_is(word, "FLOAT") || word_is(word, "DOUBLE") ||
        word_is(word, "NUMERIC") || word_is(word, "DECIMAL"))
        return REVOPS_TYPE_REAL;
    return REVOPS_TYPE_TEXT;
}

static revops_type storage_type(int storage)
{
    switch (storage) {
    case SQLITE_INTEGER: return REVOPS_TYPE_INT;
    case SQLITE_FLOAT: return REVOPS_TYPE_REAL;
    default: return REVOPS_TYPE_TEXT;   /* TEXT, BLOB, and NULL in the first row */
    }
}

/* A BLOB as lowercase hex text, so every TEXT cell stays valid UTF-8. */
static int blob_cell(sq_ctx *c, sqlite3_stmt *st, int i, revops_value *v)
{
    const unsigned char *b = sqlite3_column_blob(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    if (2 * n + 1 > c->blob_cap) {
        char *p = realloc(c->blob_hex, 2 * n + 1);
        if (!p) return -1;
        c->blob_hex = p;
        c->blob_cap = 2 * n + 1;
    }
    for (size_t k = 0; k < n; k++) snprintf(c->blob_hex + 2 * k, 3, "%02x", b[k]);
    c->blob_hex[2 * n] = '\0';
    v->type = REVOPS_TYPE_TEXT;
    v->v.text.s = c->blob_hex;
    v->v.text.len = 2 * n;
    return 0;
}

/* One cell of the current row.  Only one BLOB per row may use the shared
 * buffer; further BLOBs in the same row fall back to SQLite's own text. */
static int fill_cell(sq_ctx *c, sqlite3_stmt *st, int i, revops_type col, int *blob_used,
                     revops_value *v)
{
    memset(v, 0, sizeof *v);
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
        v->type = REVOPS_TYPE_NULL;
        return 0;
    case SQLITE_INTEGER:
        v->v.i = sqlite3_column_int64(st, i);
        if (col == REVOPS_TYPE_BOOL && (v->v.i == 0 || v->v.i == 1)) {
            v->type = REVOPS_TYPE_BOOL;
            v->v.b = (int)v->v.i;
        } else {
            v->type = REVOPS_TYPE_INT;
        }
        return 0;
    case SQLITE_FLOAT:
        v->type = REVOPS_TYPE_REAL;
        v->v.r = sqlite3_column_double(st, i);
        return 0;
    case SQLITE_BLOB:
        if (!*blob_used) {
            *blob_used = 1;
            return blob_cell(c, st, i, v);
        }
        /* fall through */
    default: {
        const unsigned char *s = sqlite3_column_text(st, i);
        if (!s) return -1;   /* out of memory converting the value */
        v->type = col == REVOPS_TYPE_DATE || col == REVOPS_TYPE_TIMESTAMP ? col : REVOPS_TYPE_TEXT;
        v->v.text.s = (const char *)s;
        v->v.text.len = (size_t)sqlite3_column_bytes(st, i);
        return 0;
    }
    }
}

/* ------------------------------------------------------- streaming -- */

/* Step `st` and stream its rows (at most `limit`, 0: all).  `what` names the
 * query in messages.  Finalizes `st`. */
static revops_status stream_stmt(sq_ctx *c, sqlite3_stmt *st, const char *what, int64_t limit,
                                 revops_stream *out)
{
    int n = sqlite3_column_count(st);
    revops_column *cols = calloc(n ? (size_t)n : 1, sizeof *cols);
    revops_value *cells = calloc(n ? (size_t)n : 1, sizeof *cells);
    revops_status status = REVOPS_OK;
    int64_t rows = 0;
    int rc;

    if (!cols || !cells) {
        c->host->error(c->self, "%s on %s: out of memory", what, c->path);
        status = REVOPS_ERROR;
        goto done;
    }
    if (n == 0) {
        c->host->error(c->self, "%s on %s: the statement returns no columns", what, c->path);
        status = REVOPS_ERROR;
        goto done;
    }
    /* The first row is stepped before declaring columns: expression
     * columns take their type from it. */
    rc = sqlite3_step(st);
    for (int i = 0; i < n; i++) {
        int t = decl_type(sqlite3_column_decltype(st, i));
        cols[i].name = sqlite3_column_name(st, i);
        cols[i].type = t >= 0 ? (revops_type)t
                              : storage_type(rc == SQLITE_ROW ? sqlite3_column_type(st, i)
                                                              : SQLITE_NULL);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        status = fail(c, rc, what);
        goto done;
    }
    status = c->host->stream_columns(out, (size_t)n, cols);
    while (status == REVOPS_OK && rc == SQLITE_ROW && (limit <= 0 || rows < limit)) {
        int blob_used = 0;
        for (int i = 0; i < n; i++)
            if (fill_cell(c, st, i, cols[i].type, &blob_used, &cells[i]) < 0) {
                c->host->error(c->self, "%s on %s: out of memory reading row %lld", what,
                               c->path, (long long)rows + 1);
                status = REVOPS_ERROR;
                goto done;
            }
        status = c->host->stream_row(out, cells);
        if (status != REVOPS_OK) break;   /* the consumer stopped us: pass it on */
        rows++;
        rc = sqlite3_step(st);
    }
    if (status == REVOPS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) status = fail(c, rc, what);
    if (status == REVOPS_OK)
        c->host->log(c->self, REVOPS_LOG_DEBUG, "%s: %lld rows", what, (long long)rows);
done:
    sqlite3_finalize(st);
    free(cols);
    free(cells);
    return status;
}

/* Prepare exactly one statement; anything but comments after it is refused,
 * since only the first statement would run. */
static revops_status prepare_one(sq_ctx *c, const char *sql, const char *what,
                                 sqlite3_stmt **out)
{
    const char *tail = NULL;
    *out = NULL;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, out, &tail);
    if (rc != SQLITE_OK) return fail(c, rc, what);
    if (!*out) {
        c->host->error(c->self, "%s on %s: the query is empty", what, c->path);
        return REVOPS_ERROR;
    }
    while (tail && *tail) {
        sqlite3_stmt *next = NULL;
        const char *rest = NULL;
        rc = sqlite3_prepare_v2(c->db, tail, -1, &next, &rest);
        if (next || rc != SQLITE_OK) {
            sqlite3_finalize(next);
            sqlite3_finalize(*out);
            *out = NULL;
            c->host->error(c->self, "%s on %s: only one SQL statement is allowed", what,
                           c->path);
            return REVOPS_ERROR;
        }
        if (rest == tail) break;
        tail = rest;
    }
    return REVOPS_OK;
}

static revops_status sq_fetch(void *ctx, const revops_query *query, revops_stream *out)
{
    sq_ctx *c = ctx;
    char what[256];
    snprintf(what, sizeof what, "query for dataset '%s'", query->dataset ? query->dataset : "?");
    if (!query->text) {
        c->host->error(c->self, "%s has no SQL text", what);
        return REVOPS_ERROR;
    }
    sqlite3_stmt *st;
    revops_status s = prepare_one(c, query->text, what, &st);
    if (s != REVOPS_OK) return s;
    return stream_stmt(c, st, what, query->row_limit, out);
}

/* -------------------------------------------------------------- tool -- */

static revops_status run_sql_tool(sq_ctx *c, const char *sql, int64_t limit, revops_stream *out)
{
    static const char what[] = "tool sql_query";
    char kw[16];
    revops_sql_first_keyword(sql, kw, sizeof kw);
    if (strcasecmp(kw, "SELECT") != 0 && strcasecmp(kw, "WITH") != 0) {
        c->host->error(c->self, "%s: only a SELECT or WITH statement is allowed (got '%s')",
                       what, kw);
        return REVOPS_ERROR;
    }
    sqlite3_stmt *st;
    revops_status s = prepare_one(c, sql, what, &st);
    if (s != REVOPS_OK) return s;
    /* WITH ... DELETE starts with WITH too: SQLite itself says whether the
     * statement could write. */
    if (!sqlite3_stmt_readonly(st) || sqlite3_stmt_isexplain(st)) {
        sqlite3_finalize(st);
        c->host->error(c->self, "%s: the statement is not a read-only query", what);
        return REVOPS_ERROR;
    }
    return stream_stmt(c, st, what, limit, out);
}

static revops_status sq_call_tool(void *ctx, const char *tool, const char *input_json,
                                  revops_stream *out)
{
    sq_ctx *c = ctx;
    const revops_host *h = c->host;
    if (!tool || strcmp(tool, "sql_query") != 0) {
        h->error(c->self, "unknown tool '%s' (this source offers sql_query)", tool ? tool : "");
        return REVOPS_ERROR;
    }
    char err[256] = "";
    revops_json *root = input_json ? h->json_parse(input_json, strlen(input_json), err, sizeof err)
                                   : NULL;
    if (!root || h->json_type(root) != REVOPS_JSON_OBJECT) {
        h->error(c->self, "tool sql_query: input is not a JSON object%s%s", *err ? ": " : "", err);
        if (root) h->json_free(root);
        return REVOPS_ERROR;
    }
    revops_json *sql = h->json_get(root, "sql");
    revops_json *lim = h->json_get(root, "limit");
    revops_status s = REVOPS_ERROR;
    int64_t limit = 0;
    if (!sql || h->json_type(sql) != REVOPS_JSON_STRING) {
        h->error(c->self, "tool sql_query: input needs \"sql\", a string");
    } else if (lim && (h->json_type(lim) != REVOPS_JSON_INT || (limit = h->json_int(lim)) < 1)) {
        h->error(c->self, "tool sql_query: \"limit\" must be an integer >= 1");
    } else {
        s = run_sql_tool(c, h->json_string(sql), limit, out);
    }
    h->json_free(root);
    return s;
}

/* --------------------------------------------------------- lifecycle -- */

static void sq_close(void *ctx)
{
    sq_ctx *c = ctx;
    if (!c) return;
    sqlite3_close_v2(c->db);
    free(c->path);
    free(c->blob_hex);
    free(c);
}

static revops_status sq_open(revops_instance *self, const revops_host *host,
                             const revops_options *opts, void **ctx)
{
    const char *path = host->opt_string(opts, "database");
    sq_ctx *c = calloc(1, sizeof *c);
    if (!c || !path || !(c->path = strdup(path))) {
        host->error(self, "cannot open database '%s': %s", path ? path : "",
                    path ? "out of memory" : "option database is not set");
        free(c);
        return REVOPS_ERROR;
    }
    c->self = self;
    c->host = host;
    int flags = host->opt_bool(opts, "read_only") ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(c->db, 1);
        sqlite3_busy_timeout(c->db, (int)host->opt_int(opts, "busy_timeout_ms"));
        sqlite3_progress_handler(c->db, SQ_PROGRESS_STEPS, on_progress, c);
        /* SQLite opens lazily: read the schema now so that a missing or
         * non-database file fails here, naming the file, not in a later query. */
        rc = sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        const char *msg = c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc);
        host->error(self, "cannot open database '%s' (%s): %s", path,
                    flags == SQLITE_OPEN_READONLY ? "read-only" : "read-write", msg);
        sq_close(c);
        return status_of(rc);
    }
    *ctx = c;
    return REVOPS_OK;
}

/* -------------------------------------------------------- descriptor -- */

static const revops_tool tools[] = {
    { "sql_query",
      "Run one read-only SQL SELECT or WITH statement against the revenue warehouse "
      "(SQLite) and return its rows; use limit to cap the number of rows.",
      "{\"type\":\"object\",\"properties\":{\"sql\":{\"type\":\"string\"},"
      "\"limit\":{\"type\":\"integer\",\"minimum\":1}},\"required\":[\"sql\"],"
      "\"additionalProperties\":false}" },
    { NULL, NULL, NULL }
};

static const revops_source_vtable vtable = {
    .open = sq_open,
    .fetch = sq_fetch,
    .close = sq_close,
    .tools = tools,
    .call_tool = sq_call_tool,
    .dialect = "sqlite",
};

static const revops_option_def options[] = {
    { "database", REVOPS_OPT_PATH, 1, NULL, 0, 0, NULL, 0,
      "path of the SQLite database file (relative to the config file)" },
    { "busy_timeout_ms", REVOPS_OPT_INT, 0, "5000", 0, 600000, NULL, 0,
      "how long to wait for a locked database before retrying the step, in ms" },
    { "read_only", REVOPS_OPT_BOOL, 0, "true", 0, 0, NULL, 0,
      "open the database read-only" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_SOURCE, "sqlite", "1.0.0",
    "rows from a SQLite database; tool sql_query for read-only queries",
    options, { .source = &vtable }
};
