/*
 * source "postgres": runs a pipeline's queries against PostgreSQL through
 * libpq and streams the rows to the core in bounded memory.
 *
 * Each fetch is one transaction on a connection kept open across the
 * instance's fetches (reconnected when it went bad):
 *
 *   BEGIN READ ONLY; SET LOCAL statement_timeout, DateStyle, TimeZone ...;
 *   DECLARE revops_cur NO SCROLL CURSOR FOR <query>;
 *   FETCH FORWARD <fetch_rows> FROM revops_cur      -- until a short batch
 *   CLOSE revops_cur; COMMIT
 *
 * so at most fetch_rows rows are held in this process at a time, whatever
 * the result's size.  The DECLARE goes through the extended query protocol
 * (PQexecParams), which refuses more than one statement: a query cannot
 * smuggle a COMMIT and a write after the cursor.
 *
 * Results are in text format.  Column types come from the type OIDs:
 * int2/int4/int8 -> INT, float4/float8/numeric -> REAL, bool -> BOOL,
 * date -> DATE, timestamp/timestamptz -> TIMESTAMP, anything else TEXT.
 * The transaction sets DateStyle ISO and TimeZone UTC, so timestamptz
 * values arrive in UTC (and the query's own timestamptz arithmetic, e.g.
 * ::date, is done in UTC too, whatever the server's default).  Values a
 * revops type cannot hold (infinity, BC dates) stay TEXT cells.
 *
 * Errors: a connection that fails without a SQLSTATE (no socket, refused,
 * timed out, lost), and SQLSTATE classes 08 (connection) and 53
 * (insufficient resources), 40001/40P01 (serialization failure, deadlock)
 * and 57P01..57P03 (shutdown, cannot connect now) are transient (RETRY);
 * anything else, e.g. a wrong password (28P01), is ERROR with the server's
 * message, its SQLSTATE and the query's first line.  (Connecting runs with
 * PQERRORS_VERBOSE so that the server's SQLSTATE of a refused login is
 * known.)  The conninfo and the
 * password never appear in a message: libpq does not print them, quoted
 * fragments of a conninfo that fails to parse are elided, and every message
 * is scrubbed of the password values before it leaves the plugin.
 *
 * One tool, "sql_query", runs a single SELECT/WITH statement for a
 * model-driven agent, always in a READ ONLY transaction.
 */
#include <revops/revops.h>

#include <libpq-fe.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pg_common.h"

/* Built-in type OIDs (fixed in PostgreSQL's catalog, pg_type.dat). */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_DATE 1082
#define OID_TIMESTAMP 1114
#define OID_TIMESTAMPTZ 1184
#define OID_NUMERIC 1700

/* Room per TIMESTAMP cell for the copy without the "+00" suffix. */
#define PG_TS_SLOT 64

typedef struct pg_ctx {
    revops_instance *self;
    const revops_host *host;
    PGconn *conn;
    const char *conninfo;    /* option storage: valid until close */
    const char *password;    /* NULL unless the option is set */
    char *conninfo_pw;       /* the password inside the conninfo, for scrubbing */
    int64_t fetch_rows;
    int64_t timeout_ms;
    int read_only;
} pg_ctx;

/* ------------------------------------------------------------ messages -- */

/* Every message goes through here: formatted, scrubbed of secrets, handed
 * to host->error; returns `st` for `return say(...)`. */
REVOPS_PRINTF(3, 4)
static revops_status say(pg_ctx *c, revops_status st, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    scrub_one(buf, c->password);
    scrub_one(buf, c->conninfo_pw);
    c->host->error(c->self, "%s", buf);
    return st;
}

/* The query's first non-empty line, at most 120 characters. */
static void first_line(const char *sql, char *out, size_t n)
{
    const char *p = sql ? sql : "";
    while (*p && isspace((unsigned char)*p)) p++;
    size_t k = 0;
    while (p[k] && p[k] != '\n' && p[k] != '\r' && k < 120 && k + 4 < n) {
        out[k] = p[k];
        k++;
    }
    int cut = p[k] && p[k] != '\n' && p[k] != '\r';
    while (k > 0 && isspace((unsigned char)out[k - 1])) k--;
    if (cut) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

/* ---------------------------------------------------------- connecting -- */

static revops_status pg_connect(pg_ctx *c)
{
    if (c->conn) PQfinish(c->conn);
    c->conn = pg_connect_start(c->conninfo, c->password);
    if (!c->conn) return say(c, REVOPS_ERROR, "cannot connect to PostgreSQL: out of memory");

    char msg[1024], state[6];
    revops_status st = pg_connect_wait(c->conn, c->host->time_left(c->self), pg_sqlstate_status, msg,
                                       sizeof msg, state);
    if (st == REVOPS_OK) {
        c->host->log(c->self, REVOPS_LOG_DEBUG, "connected to %s:%s, database %s as %s (server %d)",
                     PQhost(c->conn) ? PQhost(c->conn) : "?", PQport(c->conn) ? PQport(c->conn) : "?",
                     PQdb(c->conn) ? PQdb(c->conn) : "?", PQuser(c->conn) ? PQuser(c->conn) : "?",
                     PQserverVersion(c->conn));
        return REVOPS_OK;
    }
    PQfinish(c->conn);
    c->conn = NULL;
    if (state[0]) return say(c, st, "cannot connect to PostgreSQL: %s (SQLSTATE %s)", msg, state);
    return say(c, st, "cannot connect to PostgreSQL: %s", msg);
}

/* A usable connection with no transaction open, reconnecting if needed. */
static revops_status pg_ready(pg_ctx *c)
{
    if (pg_conn_idle(c->conn)) return REVOPS_OK;
    if (c->conn) c->host->log(c->self, REVOPS_LOG_INFO, "the connection went bad: reconnecting");
    return pg_connect(c);
}

/* --------------------------------------------------------------- query -- */

/* A failed statement: the server's message, SQLSTATE and hint, and the
 * query's first line.  A lost connection is transient. */
static revops_status query_fail(pg_ctx *c, const PGresult *r, const char *what, const char *sql)
{
    char msg[1024], line[128], hint[512] = "";
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    one_line(primary ? primary : PQerrorMessage(c->conn), msg, sizeof msg);
    if (r && PQresultErrorField(r, PG_DIAG_MESSAGE_HINT))
        one_line(PQresultErrorField(r, PG_DIAG_MESSAGE_HINT), hint, sizeof hint);
    first_line(sql, line, sizeof line);
    revops_status st = state ? pg_sqlstate_status(state) : REVOPS_ERROR;
    if (PQstatus(c->conn) != CONNECTION_OK) st = REVOPS_RETRY;
    return say(c, st, "%s failed: %s%s%s%s%s%s; query: %s", what, msg, state ? " (SQLSTATE " : "",
               state ? state : "", state ? ")" : "", *hint ? "; hint: " : "", hint, line);
}

static revops_type column_type(Oid t)
{
    switch (t) {
    case OID_INT2: case OID_INT4: case OID_INT8: return REVOPS_TYPE_INT;
    case OID_FLOAT4: case OID_FLOAT8: case OID_NUMERIC: return REVOPS_TYPE_REAL;
    case OID_BOOL: return REVOPS_TYPE_BOOL;
    case OID_DATE: return REVOPS_TYPE_DATE;
    case OID_TIMESTAMP: case OID_TIMESTAMPTZ: return REVOPS_TYPE_TIMESTAMP;
    default: return REVOPS_TYPE_TEXT;
    }
}

static int is_iso_date(const char *s, size_t n)
{
    if (n < 10) return 0;
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? s[i] != '-' : !isdigit((unsigned char)s[i])) return 0;
    return 1;
}

static void text_cell(revops_value *v, revops_type t, const char *s, size_t n)
{
    v->type = t;
    v->v.text.s = s;
    v->v.text.len = n;
}

/* One cell in text format.  `slot` (PG_TS_SLOT bytes) holds a timestamptz
 * without its "+00" (the session's TimeZone is UTC). */
static void fill_cell(const PGresult *r, int row, int col, revops_type t, Oid oid, char *slot,
                      revops_value *v)
{
    memset(v, 0, sizeof *v);
    if (PQgetisnull(r, row, col)) {
        v->type = REVOPS_TYPE_NULL;
        return;
    }
    const char *s = PQgetvalue(r, row, col);
    size_t n = (size_t)PQgetlength(r, row, col);
    char *end = NULL;
    switch (t) {
    case REVOPS_TYPE_INT:
        errno = 0;
        v->v.i = strtoll(s, &end, 10);
        if (errno == 0 && end && *end == '\0' && end != s) { v->type = REVOPS_TYPE_INT; return; }
        break;
    case REVOPS_TYPE_REAL:
        /* numeric "NaN", float "Infinity"/"-Infinity" parse as well */
        v->v.r = strtod(s, &end);
        if (end && *end == '\0' && end != s) { v->type = REVOPS_TYPE_REAL; return; }
        break;
    case REVOPS_TYPE_BOOL:
        if ((s[0] == 't' || s[0] == 'f') && s[1] == '\0') {
            v->type = REVOPS_TYPE_BOOL;
            v->v.b = s[0] == 't';
            return;
        }
        break;
    case REVOPS_TYPE_DATE:
        if (n == 10 && is_iso_date(s, n)) { text_cell(v, REVOPS_TYPE_DATE, s, n); return; }
        break;   /* infinity, BC, years past 9999: TEXT */
    case REVOPS_TYPE_TIMESTAMP:
        if (n >= 19 && n < PG_TS_SLOT && is_iso_date(s, n) && s[10] == ' ' && !strchr(s, 'B')) {
            if (oid == OID_TIMESTAMPTZ && n >= 22 && !strcmp(s + n - 3, "+00")) {  /* "2026-11-01 00:00:00+00" is 22 */
                memcpy(slot, s, n - 3);
                slot[n - 3] = '\0';
                text_cell(v, REVOPS_TYPE_TIMESTAMP, slot, n - 3);
                return;
            }
            if (oid == OID_TIMESTAMP) { text_cell(v, REVOPS_TYPE_TIMESTAMP, s, n); return; }
        }
        break;
    default:
        break;
    }
    text_cell(v, REVOPS_TYPE_TEXT, s, n);
}

/* Run `sql` through a server-side cursor and stream at most `limit` rows
 * (0: all).  `what` names the query in messages. */
static revops_status run_query(pg_ctx *c, const char *sql, const char *what, int64_t limit,
                               int read_only, revops_stream *out)
{
    revops_column *cols = NULL;
    revops_value *cells = NULL;
    char *slots = NULL;
    Oid *oids = NULL;
    int ncols = -1;
    int64_t rows = 0;
    PGresult *r;
    revops_status st = pg_ready(c);
    if (st != REVOPS_OK) return st;

    /* The statement timeout never outlasts the run's deadline. */
    int64_t tmo = c->timeout_ms;
    double left = c->host->time_left(c->self);
    if (left <= 0) return say(c, REVOPS_ERROR, "%s: the run's deadline has passed", what);
    if (isfinite(left) && (tmo == 0 || left * 1000.0 < (double)tmo)) tmo = (int64_t)(left * 1000.0) + 1;

    char begin[384];
    snprintf(begin, sizeof begin,
             "BEGIN%s; SET LOCAL statement_timeout = %lld; SET LOCAL DateStyle = 'ISO, YMD'; "
             "SET LOCAL TimeZone = 'UTC'; SET LOCAL extra_float_digits = 3",
             read_only ? " READ ONLY" : "", (long long)tmo);
    r = PQexec(c->conn, begin);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        st = query_fail(c, r, what, sql);
        PQclear(r);
        goto abort;
    }
    PQclear(r);

    static const char prefix[] = "DECLARE revops_cur NO SCROLL CURSOR FOR ";
    size_t len = strlen(sql);
    char *declare = malloc(sizeof prefix + len);
    if (!declare) {
        st = say(c, REVOPS_ERROR, "%s: out of memory", what);
        goto abort;
    }
    memcpy(declare, prefix, sizeof prefix - 1);
    memcpy(declare + sizeof prefix - 1, sql, len + 1);
    /* Extended protocol: exactly one statement. */
    r = PQexecParams(c->conn, declare, 0, NULL, NULL, NULL, NULL, 0);
    free(declare);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        st = query_fail(c, r, what, sql);
        PQclear(r);
        goto abort;
    }
    PQclear(r);

    for (;;) {
        int64_t want = c->fetch_rows;
        if (limit > 0 && limit - rows < want) want = limit - rows;
        if (want <= 0) break;   /* row_limit reached (the columns are declared by then) */
        char fetch[64];
        snprintf(fetch, sizeof fetch, "FETCH FORWARD %lld FROM revops_cur", (long long)want);
        r = PQexec(c->conn, fetch);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            st = query_fail(c, r, what, sql);
            PQclear(r);
            break;
        }
        if (ncols < 0) {
            ncols = PQnfields(r);
            if (ncols == 0) {
                PQclear(r);
                st = say(c, REVOPS_ERROR, "%s: the statement returns no columns", what);
                break;
            }
            cols = calloc((size_t)ncols, sizeof *cols);
            cells = calloc((size_t)ncols, sizeof *cells);
            slots = malloc((size_t)ncols * PG_TS_SLOT);
            oids = calloc((size_t)ncols, sizeof *oids);
            if (!cols || !cells || !slots || !oids) {
                PQclear(r);
                st = say(c, REVOPS_ERROR, "%s: out of memory", what);
                break;
            }
            for (int i = 0; i < ncols; i++) {
                oids[i] = PQftype(r, i);
                cols[i].name = PQfname(r, i);   /* copied by the host */
                cols[i].type = column_type(oids[i]);
            }
            st = c->host->stream_columns(out, (size_t)ncols, cols);
            if (st != REVOPS_OK) {
                PQclear(r);
                break;
            }
        }
        int nt = PQntuples(r);
        for (int row = 0; row < nt && st == REVOPS_OK; row++) {
            for (int i = 0; i < ncols; i++)
                fill_cell(r, row, i, cols[i].type, oids[i], slots + (size_t)i * PG_TS_SLOT, &cells[i]);
            st = c->host->stream_row(out, cells);   /* non-OK: the consumer stopped us */
            if (st == REVOPS_OK) rows++;
        }
        PQclear(r);
        if (st != REVOPS_OK || nt < want) break;
    }
    free(cols);
    free(cells);
    free(slots);
    free(oids);
    if (st != REVOPS_OK) goto abort;

    r = PQexec(c->conn, "CLOSE revops_cur; COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        st = query_fail(c, r, what, sql);
        PQclear(r);
        goto abort;
    }
    PQclear(r);
    c->host->log(c->self, REVOPS_LOG_DEBUG, "%s: %lld rows", what, (long long)rows);
    return REVOPS_OK;

abort:
    /* Close the cursor and the transaction now if the connection still
     * works; otherwise the next fetch reconnects. */
    if (c->conn && PQstatus(c->conn) == CONNECTION_OK && PQtransactionStatus(c->conn) != PQTRANS_IDLE)
        PQclear(PQexec(c->conn, "ROLLBACK"));
    return st;
}

static revops_status pg_fetch(void *ctx, const revops_query *query, revops_stream *out)
{
    pg_ctx *c = ctx;
    char what[256];
    snprintf(what, sizeof what, "query for dataset '%s'", query->dataset ? query->dataset : "?");
    if (!query->text || !*query->text) return say(c, REVOPS_ERROR, "%s has no SQL text", what);
    return run_query(c, query->text, what, query->row_limit, c->read_only, out);
}

/* -------------------------------------------------------------- tool -- */

static revops_status pg_call_tool(void *ctx, const char *tool, const char *input_json,
                                  revops_stream *out)
{
    pg_ctx *c = ctx;
    const revops_host *h = c->host;
    if (!tool || strcmp(tool, "sql_query") != 0)
        return say(c, REVOPS_ERROR, "unknown tool '%s' (this source offers sql_query)", tool ? tool : "");
    char err[256] = "";
    revops_json *root = input_json ? h->json_parse(input_json, strlen(input_json), err, sizeof err) : NULL;
    if (!root || h->json_type(root) != REVOPS_JSON_OBJECT) {
        if (root) h->json_free(root);
        return say(c, REVOPS_ERROR, "tool sql_query: input is not a JSON object%s%s", *err ? ": " : "", err);
    }
    revops_json *sql = h->json_get(root, "sql");
    revops_json *lim = h->json_get(root, "limit");
    revops_status st = REVOPS_ERROR;
    int64_t limit = 0;
    char kw[16];
    if (!sql || h->json_type(sql) != REVOPS_JSON_STRING) {
        say(c, st, "tool sql_query: input needs \"sql\", a string");
    } else if (lim && (h->json_type(lim) != REVOPS_JSON_INT || (limit = h->json_int(lim)) < 1)) {
        say(c, st, "tool sql_query: \"limit\" must be an integer >= 1");
    } else if (revops_sql_first_keyword(h->json_string(sql), kw, sizeof kw),
               strcasecmp(kw, "SELECT") != 0 && strcasecmp(kw, "WITH") != 0) {
        say(c, st, "tool sql_query: only a SELECT or WITH statement is allowed (got '%s')", kw);
    } else {
        /* Always READ ONLY, whatever the read_only option says: a WITH
         * that writes, or a function that does, is refused by the server. */
        st = run_query(c, h->json_string(sql), "tool sql_query", limit, 1, out);
    }
    h->json_free(root);
    return st;
}

/* --------------------------------------------------------- lifecycle -- */

static void pg_close(void *ctx)
{
    pg_ctx *c = ctx;
    if (!c) return;
    if (c->conn) PQfinish(c->conn);
    if (c->conninfo_pw) {
        memset(c->conninfo_pw, 0, strlen(c->conninfo_pw));
        free(c->conninfo_pw);
    }
    free(c);
}

static revops_status pg_open(revops_instance *self, const revops_host *host,
                             const revops_options *opts, void **ctx)
{
    pg_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        host->error(self, "out of memory");
        return REVOPS_ERROR;
    }
    c->self = self;
    c->host = host;
    c->conninfo = host->opt_string(opts, "conninfo");
    if (!c->conninfo) c->conninfo = "";
    c->password = host->opt_is_set(opts, "password") ? host->opt_string(opts, "password") : NULL;
    c->fetch_rows = host->opt_int(opts, "fetch_rows");
    c->timeout_ms = host->opt_int(opts, "statement_timeout_ms");
    c->read_only = host->opt_bool(opts, "read_only");
    if (c->fetch_rows < 1) c->fetch_rows = 1000;

    /* Check the conninfo's syntax now (libpq would only at connect time),
     * and learn the password it may hold so that no message shows it. */
    char clean[512];
    if (pg_check_conninfo(c->conninfo, &c->conninfo_pw, clean, sizeof clean) != 0) {
        say(c, REVOPS_ERROR, "option conninfo is not a valid libpq connection string or URI: %s", clean);
        pg_close(c);
        return REVOPS_ERROR;
    }

    revops_status st = pg_connect(c);
    if (st != REVOPS_OK) {
        pg_close(c);
        return st;
    }
    *ctx = c;
    return REVOPS_OK;
}

/* -------------------------------------------------------- descriptor -- */

static const revops_tool tools[] = {
    { "sql_query",
      "Run one read-only SQL SELECT or WITH statement against the revenue warehouse "
      "(PostgreSQL, in a READ ONLY transaction) and return its rows; use limit to cap "
      "the number of rows.",
      "{\"type\":\"object\",\"properties\":{\"sql\":{\"type\":\"string\"},"
      "\"limit\":{\"type\":\"integer\",\"minimum\":1}},\"required\":[\"sql\"],"
      "\"additionalProperties\":false}" },
    { NULL, NULL, NULL }
};

static const revops_source_vtable vtable = {
    .open = pg_open,
    .fetch = pg_fetch,
    .close = pg_close,
    .tools = tools,
    .call_tool = pg_call_tool,
    .dialect = "postgres",
};

static const revops_option_def options[] = {
    { "conninfo", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 1,
      "libpq connection string or URI (\"host=... dbname=... user=...\", postgresql://...); "
      "may hold a password, so prefer env:NAME or file:/path" },
    { "password", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 1,
      "password, passed to libpq as its password keyword (overrides one in conninfo)" },
    { "fetch_rows", REVOPS_OPT_INT, 0, "1000", 1, 1000000, NULL, 0,
      "rows per FETCH from the server-side cursor (memory holds at most this many)" },
    { "statement_timeout_ms", REVOPS_OPT_INT, 0, "300000", 0, 86400000, NULL, 0,
      "statement_timeout for each statement of a fetch, in ms (0: none; never past the run's deadline)" },
    { "read_only", REVOPS_OPT_BOOL, 0, "true", 0, 0, NULL, 0,
      "run queries in a READ ONLY transaction (the sql_query tool always does)" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_SOURCE, "postgres", "1.0.0",
    "rows from PostgreSQL through a server-side cursor (libpq); tool sql_query for read-only queries",
    options, { .source = &vtable }
};
