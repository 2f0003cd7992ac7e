/*
 * action "postgres_insights": writes each delivered finding to a PostgreSQL
 * insights table and its signals to a pattern table (the spec's
 * revops_consumption_patterns), for dashboards; libpq, like the postgres
 * source.  The firebolt_insights sink writes the same columns to Firebolt.
 *
 * Followed (public documentation, the PostgreSQL 15 manual):
 *   - libpq, "Command Execution Functions" (PQexecParams: one statement, its
 *     parameters sent apart from the SQL text, never pasted into it,
 *     https://www.postgresql.org/docs/15/libpq-exec.html) and "Database
 *     Connection Control Functions" (PQconnectStartParams, PQconnectPoll,
 *     expand_dbname, https://www.postgresql.org/docs/15/libpq-connect.html);
 *     the Bind message counts parameters in an Int16, so at most 65535 per
 *     statement (https://www.postgresql.org/docs/15/protocol-message-formats.html).
 *   - INSERT, "ON CONFLICT Clause" (https://www.postgresql.org/docs/15/sql-insert.html):
 *     ON CONFLICT (col) DO NOTHING needs a unique index on col (else 42P10);
 *     a conflicting row is not inserted; RETURNING lists only the rows
 *     inserted.
 *   - CREATE TABLE ... IF NOT EXISTS (https://www.postgresql.org/docs/15/sql-createtable.html)
 *     still needs CREATE on the schema when the table exists (observed with
 *     PostgreSQL 15: "permission denied for schema public"), so the tables
 *     are looked up first (to_regclass) and created only when absent: a role
 *     that may only INSERT into tables an administrator made works.
 *   - Appendix A, "PostgreSQL Error Codes"
 *     (https://www.postgresql.org/docs/15/errcodes-appendix.html): classes 08,
 *     53, 40001, 40P01, 57P01..57P03 are transient; 42501
 *     insufficient_privilege, 42703 undefined_column, 42P10
 *     invalid_column_reference are not.
 *
 * Tables (option `table_prefix`, default "revops_"; option `schema`, else
 * the role's search_path), created if absent at the first delivery:
 *   <p>insights: insight_id text PRIMARY KEY (the delivery id), fingerprint,
 *     session_id, pipeline, analysis, category, insight_type (= category),
 *     account_id, account_name, owner, title, description (the `title` and
 *     `description` templates, rendered without escaping: they travel as
 *     parameters), payload jsonb (host->finding_json), evidence jsonb (the
 *     signals: [{name, value, threshold, weight, evidence}]),
 *     confidence_score, impact_score (= score), urgency_score (low .25,
 *     medium .5, high .75, critical 1) double precision, status ('open'),
 *     priority (low..critical), created_at timestamp (UTC, host->now at
 *     delivery), recommended_actions jsonb (array of strings), occurrence
 *     integer (batch->occurrences, 1 when the host gives none).
 *   <p>consumption_patterns: one row per signal of each finding:
 *     pattern_id text PRIMARY KEY (<delivery id>:<signal index>),
 *     execution_id (the session id), execution_timestamp timestamp (as
 *     created_at), account_id, analysis, pattern_type (the category),
 *     signal_name, value, threshold, weight double precision, evidence text.
 *
 * One deliver call is one transaction: BEGIN; SET LOCAL statement_timeout;
 * SELECT to_regclass(...) and CREATE TABLE when absent; INSERT INTO
 * <p>insights (...) VALUES ($1..), (...) ON CONFLICT (insight_id) DO NOTHING RETURNING insight_id, one
 * statement per at most `batch_rows` rows; the same for the pattern rows
 * (ON CONFLICT (pattern_id) DO NOTHING); COMMIT.  Every value is a typed
 * parameter; the only identifiers in the SQL are the table and schema names,
 * checked to be [a-z_][a-z0-9_]* and quoted.  A delivery repeated (the same
 * delivery id: a retry, a rerun after a crash) adds no row and is OK.
 * Text that is not valid UTF-8 (which the server would refuse, failing the
 * batch) is written with U+FFFD in place of each bad sequence, and a warning
 * says which finding.
 *
 * Results: all findings of a batch share its fate.  A connection that fails
 * without a SQLSTATE (refused, no socket, timed out, lost) and the transient
 * SQLSTATEs above are RETRY, and so are 55P03 (lock not available) and 57014
 * (the statement_timeout ran out, e.g. on a table another session locked);
 * anything else, e.g. a wrong password (28P01), a missing privilege (42501)
 * or a table of another shape (42703, 42P10), is ERROR with the server's message and SQLSTATE.  The conninfo and the
 * password never appear in a message (libpq does not print them; every
 * message is scrubbed of the password values too).
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
#include <time.h>

#include "pg_common.h"
#include "utf8_common.h"

/* Built-in type OIDs (pg_type.dat), for the parameters. */
#define OID_INT4 23
#define OID_TEXT 25
#define OID_FLOAT8 701
#define OID_TIMESTAMP 1114
#define OID_JSONB 3802

#define PREFIX_MAX 30            /* + "consumption_patterns_account_idx" stays within NAMEDATALEN */
#define INSIGHT_COLS 22
#define PATTERN_COLS 11
/* PQexecParams takes at most 65535 parameters per statement. */
#define BATCH_ROWS_MAX (65535 / INSIGHT_COLS)

typedef struct pgi_ctx {
    revops_instance *self;
    const revops_host *host;
    PGconn *conn;
    const char *conninfo;       /* option storage: valid until close */
    const char *password;       /* NULL unless the option is set */
    char *conninfo_pw;          /* the password inside the conninfo, for scrubbing */
    const char *tmpl_title, *tmpl_description;
    char schema_q[80];          /* "\"schema\"." or "" */
    char insights[128], patterns[128];          /* quoted, schema-qualified */
    char insights_name[64], patterns_name[64];  /* as messages show them */
    char index_prefix[64];      /* unquoted prefix for index names */
    int64_t batch_rows;
    int64_t timeout_ms;
    char last[256];             /* the last message, for results[].message */
} pgi_ctx;

/* ------------------------------------------------------------ messages -- */

/* Every message goes through here: formatted, scrubbed of secrets, handed
 * to host->error and kept for the results; returns `st`. */
REVOPS_PRINTF(3, 4)
static revops_status say(pgi_ctx *c, revops_status st, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    scrub_one(buf, c->password);
    scrub_one(buf, c->conninfo_pw);
    c->host->error(c->self, "%s", buf);
    snprintf(c->last, sizeof c->last, "%s", buf);
    return st;
}

/* Transient: class 08 (connection exception), 53 (insufficient resources),
 * 40001 / 40P01 (serialization failure, deadlock), 55P03 (lock not
 * available), 57014 (canceled: here the statement_timeout, e.g. waiting on a
 * table another session locked), 57P01..57P03 (shutdown, cannot connect now). */
static revops_status sqlstate_status(const char *st)
{
    if (st && (!strcmp(st, "55P03") || !strcmp(st, "57014"))) return REVOPS_RETRY;
    return pg_sqlstate_status(st);
}

/* ---------------------------------------------------------- connecting -- */

static revops_status pg_connect(pgi_ctx *c)
{
    if (c->conn) PQfinish(c->conn);
    c->conn = pg_connect_start(c->conninfo, c->password);
    if (!c->conn) return say(c, REVOPS_ERROR, "cannot connect to PostgreSQL: out of memory");

    char msg[1024], state[6];
    revops_status st = pg_connect_wait(c->conn, c->host->time_left(c->self), sqlstate_status, msg,
                                       sizeof msg, state);
    if (st == REVOPS_OK) {
        c->host->log(c->self, REVOPS_LOG_DEBUG, "connected to database %s as %s (server %d)",
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
static revops_status pg_ready(pgi_ctx *c)
{
    if (pg_conn_idle(c->conn)) return REVOPS_OK;
    if (c->conn) c->host->log(c->self, REVOPS_LOG_INFO, "the connection went bad: reconnecting");
    return pg_connect(c);
}

/* A failed statement: the server's message, SQLSTATE and hint.  A lost
 * connection is transient; so is a race with another process creating the
 * same table (`creating`). */
static revops_status stmt_fail(pgi_ctx *c, const PGresult *r, const char *what, int creating)
{
    char msg[1024], hint[512] = "";
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    one_line(primary ? primary : PQerrorMessage(c->conn), msg, sizeof msg);
    if (r && PQresultErrorField(r, PG_DIAG_MESSAGE_HINT))
        one_line(PQresultErrorField(r, PG_DIAG_MESSAGE_HINT), hint, sizeof hint);
    revops_status st = state ? sqlstate_status(state) : REVOPS_ERROR;
    if (PQstatus(c->conn) != CONNECTION_OK) st = REVOPS_RETRY;
    if (creating && state && (!strcmp(state, "23505") || !strcmp(state, "42P07"))) st = REVOPS_RETRY;
    return say(c, st, "%s failed: %s%s%s%s%s%s", what, msg, state ? " (SQLSTATE " : "", state ? state : "",
               state ? ")" : "", *hint ? "; hint: " : "", hint);
}

/* Run a statement without parameters that returns no rows. */
static revops_status exec_cmd(pgi_ctx *c, const char *sql, const char *what, int creating)
{
    PGresult *r = PQexec(c->conn, sql);
    revops_status st = REVOPS_OK;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) st = stmt_fail(c, r, what, creating);
    PQclear(r);
    return st;
}

/* ------------------------------------------------------------- values -- */

/* A copy of s with every invalid UTF-8 byte replaced by U+FFFD; *fixed
 * counts the replacements.  NULL stays NULL (SQL NULL); NULL on OOM sets oom. */
static char *utf8_copy(const char *s, int *fixed, int *oom)
{
    if (!s) return NULL;
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1), *o = out;
    if (!out) {
        *oom = 1;
        return NULL;
    }
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t l = utf8_seq(p, SIZE_MAX, NULL);
        if (l) {
            memcpy(o, p, l);
            o += l;
            p += l;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            p++;
            (*fixed)++;
        }
    }
    *o = '\0';
    return out;
}

/* A double as text that reads back as the same double (shortest of %.15g,
 * %.17g); non-finite values as PostgreSQL spells them. */
static void fmt_double(double v, char out[40])
{
    if (isnan(v)) { strcpy(out, "NaN"); return; }
    if (isinf(v)) { strcpy(out, v > 0 ? "Infinity" : "-Infinity"); return; }
    snprintf(out, 40, "%.15g", v);
    if (strtod(out, NULL) != v) snprintf(out, 40, "%.17g", v);
}

/* A JSON number (null when not finite). */
static void json_num(revops_buf *b, double v)
{
    char t[40];
    if (!isfinite(v)) {
        revops_buf_str(b, "null");
        return;
    }
    fmt_double(v, t);
    revops_buf_str(b, t);
}

static void json_str(const revops_host *h, revops_buf *b, const char *s)
{
    if (!s) {
        revops_buf_str(b, "null");
        return;
    }
    char *q = h->json_quote(s);
    if (!q) {
        b->oom = 1;
        return;
    }
    revops_buf_str(b, q);
    h->free(q);
}

static double urgency_of(revops_priority p)
{
    switch (p) {
    case REVOPS_PRIORITY_CRITICAL: return 1.0;
    case REVOPS_PRIORITY_HIGH: return 0.75;
    case REVOPS_PRIORITY_MEDIUM: return 0.5;
    default: return 0.25;
    }
}

/* One finding's parameter values: INSIGHT_COLS, then PATTERN_COLS per
 * signal, each malloc'd (NULL: SQL NULL). */
typedef struct row_vals {
    char *v[INSIGHT_COLS];
    size_t nsig;
    char **sig;   /* nsig * PATTERN_COLS */
} row_vals;

static void row_free(row_vals *r)
{
    for (int i = 0; i < INSIGHT_COLS; i++) free(r->v[i]);
    for (size_t i = 0; i < r->nsig * PATTERN_COLS; i++) free(r->sig ? r->sig[i] : NULL);
    free(r->sig);
    memset(r, 0, sizeof *r);
}

static const char *const INSIGHT_COLUMNS =
    "insight_id, fingerprint, session_id, pipeline, analysis, category, insight_type, account_id, "
    "account_name, owner, title, description, payload, evidence, confidence_score, impact_score, "
    "urgency_score, status, priority, created_at, recommended_actions, occurrence";
static const Oid INSIGHT_TYPES[INSIGHT_COLS] = {
    OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT,
    OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT, OID_JSONB, OID_JSONB, OID_FLOAT8, OID_FLOAT8,
    OID_FLOAT8, OID_TEXT, OID_TEXT, OID_TIMESTAMP, OID_JSONB, OID_INT4
};
static const char *const PATTERN_COLUMNS =
    "pattern_id, execution_id, execution_timestamp, account_id, analysis, pattern_type, signal_name, "
    "value, threshold, weight, evidence";
static const Oid PATTERN_TYPES[PATTERN_COLS] = {
    OID_TEXT, OID_TEXT, OID_TIMESTAMP, OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT,
    OID_FLOAT8, OID_FLOAT8, OID_FLOAT8, OID_TEXT
};

/* Fill r for finding i of the batch.  Returns 0, or -1 when out of memory. */
static int row_build(pgi_ctx *c, const revops_batch *b, size_t i, const char *now, row_vals *r)
{
    const revops_host *h = c->host;
    const revops_finding *f = b->findings[i];
    const char *id = b->delivery_ids[i];
    int occ = b->occurrences && b->occurrences[i] > 0 ? b->occurrences[i] : 1;
    int fixed = 0, oom = 0;
    char num[40];
    memset(r, 0, sizeof *r);

    char *title = h->render(c->tmpl_title, f, b, REVOPS_ESC_NONE, 0);
    char *desc = h->render(c->tmpl_description, f, b, REVOPS_ESC_NONE, 0);
    char *payload = h->finding_json(f);
    revops_buf ev = { 0 }, acts = { 0 };
    revops_buf_str(&ev, "[");
    for (size_t s = 0; s < f->nsignals; s++) {
        const revops_signal *sg = &f->signals[s];
        revops_buf_str(&ev, s ? ",{\"name\":" : "{\"name\":");
        json_str(h, &ev, sg->name);
        revops_buf_str(&ev, ",\"value\":");
        json_num(&ev, sg->value);
        revops_buf_str(&ev, ",\"threshold\":");
        json_num(&ev, sg->threshold);
        revops_buf_str(&ev, ",\"weight\":");
        json_num(&ev, sg->weight);
        revops_buf_str(&ev, ",\"evidence\":");
        json_str(h, &ev, sg->evidence);
        revops_buf_str(&ev, "}");
    }
    revops_buf_str(&ev, "]");
    revops_buf_str(&acts, "[");
    for (size_t a = 0; a < f->nactions; a++) {
        if (a) revops_buf_str(&acts, ",");
        json_str(h, &acts, f->recommended_actions[a]);
    }
    revops_buf_str(&acts, "]");
    if (!title || !desc || !payload || ev.oom || acts.oom) oom = 1;

    int k = 0;
#define PUT(s) (r->v[k++] = utf8_copy((s), &fixed, &oom))
#define PUTNUM(x) (fmt_double((x), num), r->v[k++] = utf8_copy(num, &fixed, &oom))
    PUT(id);
    PUT(f->fingerprint);
    PUT(b->session_id);
    PUT(b->pipeline);
    PUT(f->analysis);
    PUT(f->category);
    PUT(f->category);             /* insight_type */
    PUT(f->account_id);
    PUT(f->account_name);
    PUT(f->owner);
    PUT(title ? title : "");
    PUT(desc ? desc : "");
    PUT(payload ? payload : "{}");
    PUT(ev.oom ? "[]" : revops_buf_cstr(&ev));
    PUTNUM(f->confidence);
    PUTNUM(f->score);             /* impact_score */
    PUTNUM(urgency_of(f->priority));
    PUT("open");
    PUT(revops_priority_name(f->priority));
    PUT(now);
    PUT(acts.oom ? "[]" : revops_buf_cstr(&acts));
    snprintf(num, sizeof num, "%d", occ);
    PUT(num);

    r->nsig = f->nsignals;
    r->sig = calloc(f->nsignals ? f->nsignals * PATTERN_COLS : 1, sizeof *r->sig);
    if (!r->sig) oom = 1;
    for (size_t s = 0; r->sig && s < f->nsignals; s++) {
        const revops_signal *sg = &f->signals[s];
        char pid[64];
        snprintf(pid, sizeof pid, "%s:%zu", id, s);
        char **v = r->sig + s * PATTERN_COLS;
        int j = 0;
#define SPUT(x) (v[j++] = utf8_copy((x), &fixed, &oom))
#define SPUTNUM(x) (fmt_double((x), num), v[j++] = utf8_copy(num, &fixed, &oom))
        SPUT(pid);
        SPUT(b->session_id);
        SPUT(now);
        SPUT(f->account_id);
        SPUT(f->analysis);
        SPUT(f->category);        /* pattern_type */
        SPUT(sg->name);
        SPUTNUM(sg->value);
        SPUTNUM(sg->threshold);
        SPUTNUM(sg->weight);
        SPUT(sg->evidence);
    }
#undef PUT
#undef PUTNUM
#undef SPUT
#undef SPUTNUM
    if (title) h->free(title);
    if (desc) h->free(desc);
    if (payload) h->free(payload);
    revops_buf_free(&ev);
    revops_buf_free(&acts);
    if (oom) {
        row_free(r);
        return -1;
    }
    if (fixed)
        h->log(c->self, REVOPS_LOG_WARN,
               "finding %.12s (delivery %s): %d byte%s of invalid UTF-8 written as U+FFFD", f->fingerprint, id,
               fixed, fixed == 1 ? "" : "s");
    return 0;
}

/* ------------------------------------------------------------- tables -- */

static revops_status ensure_tables(pgi_ctx *c)
{
    const char *names[2] = { c->insights, c->patterns };
    PGresult *r = PQexecParams(c->conn, "SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL",
                               2, NULL, names, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        revops_status st = stmt_fail(c, r, "looking up the insights tables", 0);
        PQclear(r);
        return st;
    }
    int have_insights = PQgetvalue(r, 0, 0)[0] == 't', have_patterns = PQgetvalue(r, 0, 1)[0] == 't';
    PQclear(r);

    revops_buf sql = { 0 };
    char what[160];
    revops_status st = REVOPS_OK;
    if (!have_insights) {
        revops_buf_fmt(&sql,
            "CREATE TABLE %s (insight_id text PRIMARY KEY, fingerprint text NOT NULL, session_id text, "
            "pipeline text, analysis text NOT NULL, category text NOT NULL, insight_type text NOT NULL, "
            "account_id text NOT NULL, account_name text, owner text, title text NOT NULL, description text, "
            "payload jsonb NOT NULL, evidence jsonb NOT NULL, confidence_score double precision, "
            "impact_score double precision, urgency_score double precision, status text NOT NULL DEFAULT 'open', "
            "priority text NOT NULL, created_at timestamp NOT NULL, recommended_actions jsonb NOT NULL, "
            "occurrence integer NOT NULL DEFAULT 1); "
            "CREATE INDEX \"%sinsights_account_idx\" ON %s (account_id, created_at); "
            "CREATE INDEX \"%sinsights_fingerprint_idx\" ON %s (fingerprint)",
            c->insights, c->index_prefix, c->insights, c->index_prefix, c->insights);
        snprintf(what, sizeof what, "creating table %s", c->insights_name);
        st = sql.oom ? say(c, REVOPS_ERROR, "out of memory") : exec_cmd(c, revops_buf_cstr(&sql), what, 1);
        revops_buf_free(&sql);
        if (st == REVOPS_OK) c->host->log(c->self, REVOPS_LOG_INFO, "created table %s", c->insights_name);
    }
    if (st == REVOPS_OK && !have_patterns) {
        revops_buf_fmt(&sql,
            "CREATE TABLE %s (pattern_id text PRIMARY KEY, execution_id text, "
            "execution_timestamp timestamp NOT NULL, account_id text NOT NULL, analysis text NOT NULL, "
            "pattern_type text NOT NULL, signal_name text NOT NULL, value double precision, "
            "threshold double precision, weight double precision, evidence text); "
            "CREATE INDEX \"%sconsumption_patterns_account_idx\" ON %s (account_id, execution_timestamp)",
            c->patterns, c->index_prefix, c->patterns);
        snprintf(what, sizeof what, "creating table %s", c->patterns_name);
        st = sql.oom ? say(c, REVOPS_ERROR, "out of memory") : exec_cmd(c, revops_buf_cstr(&sql), what, 1);
        revops_buf_free(&sql);
        if (st == REVOPS_OK) c->host->log(c->self, REVOPS_LOG_INFO, "created table %s", c->patterns_name);
    }
    return st;
}

/* ------------------------------------------------------------- insert -- */

/* INSERT INTO table (cols) VALUES ($1..$ncols), ... for nrows rows with the
 * given values (row-major), ON CONFLICT (key) DO NOTHING RETURNING key;
 * adds the rows inserted to *added. */
static revops_status insert_rows(pgi_ctx *c, const char *table, const char *shown, const char *cols,
                                 const char *key, const Oid *types, int ncols, size_t nrows,
                                 const char *const *values, size_t *added)
{
    revops_buf sql = { 0 };
    revops_buf_fmt(&sql, "INSERT INTO %s (%s) VALUES ", table, cols);
    for (size_t r = 0; r < nrows; r++) {
        revops_buf_str(&sql, r ? ", (" : "(");
        for (int k = 0; k < ncols; k++) revops_buf_fmt(&sql, k ? ", $%zu" : "$%zu", r * (size_t)ncols + (size_t)k + 1);
        revops_buf_str(&sql, ")");
    }
    revops_buf_fmt(&sql, " ON CONFLICT (%s) DO NOTHING RETURNING %s", key, key);
    Oid *ptypes = malloc(nrows * (size_t)ncols * sizeof *ptypes);
    if (sql.oom || !ptypes) {
        revops_buf_free(&sql);
        free(ptypes);
        return say(c, REVOPS_ERROR, "out of memory");
    }
    for (size_t i = 0; i < nrows * (size_t)ncols; i++) ptypes[i] = types[i % (size_t)ncols];
    PGresult *r = PQexecParams(c->conn, revops_buf_cstr(&sql), (int)(nrows * (size_t)ncols), ptypes, values, NULL,
                               NULL, 0);
    revops_buf_free(&sql);
    free(ptypes);
    revops_status st = REVOPS_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char what[160];
        snprintf(what, sizeof what, "INSERT INTO %s", shown);
        st = stmt_fail(c, r, what, 0);
    } else {
        *added += (size_t)PQntuples(r);
    }
    PQclear(r);
    return st;
}

/* Send rows[0..n) in statements of at most batch_rows rows. */
static revops_status write_all(pgi_ctx *c, row_vals *rows, size_t n, size_t *ins_added, size_t *pat_added,
                               size_t *pat_total)
{
    size_t per = (size_t)c->batch_rows;
    const char **vals = malloc(per * INSIGHT_COLS * sizeof *vals);
    if (!vals) return say(c, REVOPS_ERROR, "out of memory");
    revops_status st = REVOPS_OK;
    for (size_t i = 0; i < n && st == REVOPS_OK; i += per) {
        size_t m = n - i < per ? n - i : per;
        for (size_t r = 0; r < m; r++)
            for (int k = 0; k < INSIGHT_COLS; k++) vals[r * INSIGHT_COLS + (size_t)k] = rows[i + r].v[k];
        st = insert_rows(c, c->insights, c->insights_name, INSIGHT_COLUMNS, "insight_id", INSIGHT_TYPES,
                         INSIGHT_COLS, m, vals, ins_added);
    }
    /* The pattern rows, batch_rows at a time across findings. */
    size_t m = 0;
    for (size_t i = 0; i < n && st == REVOPS_OK; i++) {
        for (size_t s = 0; s < rows[i].nsig && st == REVOPS_OK; s++) {
            for (int k = 0; k < PATTERN_COLS; k++)
                vals[m * PATTERN_COLS + (size_t)k] = rows[i].sig[s * PATTERN_COLS + (size_t)k];
            (*pat_total)++;
            if (++m == per) {
                st = insert_rows(c, c->patterns, c->patterns_name, PATTERN_COLUMNS, "pattern_id", PATTERN_TYPES,
                                 PATTERN_COLS, m, vals, pat_added);
                m = 0;
            }
        }
    }
    if (st == REVOPS_OK && m)
        st = insert_rows(c, c->patterns, c->patterns_name, PATTERN_COLUMNS, "pattern_id", PATTERN_TYPES,
                         PATTERN_COLS, m, vals, pat_added);
    free(vals);
    return st;
}

static void fill_results(revops_delivery *res, size_t n, revops_status st, const char *msg)
{
    for (size_t i = 0; i < n; i++) {
        res[i].status = st;
        snprintf(res[i].message, sizeof res[i].message, "%s", st == REVOPS_OK ? "" : msg);
    }
}

/* "YYYY-MM-DD HH:MM:SS.ffffff" in UTC. */
static void now_text(const revops_host *h, char out[40])
{
    double t = h->now();
    time_t s = (time_t)floor(t);
    long us = (long)((t - floor(t)) * 1e6);
    if (us > 999999) us = 999999;
    struct tm tm;
    gmtime_r(&s, &tm);
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out, 40, "%s.%06ld", day, us);
}

static revops_status pgi_deliver(void *ctx, const revops_batch *b, revops_delivery *res)
{
    pgi_ctx *c = ctx;
    const revops_host *h = c->host;
    size_t n = b->nfindings;
    c->last[0] = '\0';
    if (n == 0) return REVOPS_OK;
    if (h->abi_minor < 4 || !b->delivery_ids) {
        revops_status st = say(c, REVOPS_ERROR, "the host gives no delivery ids (needs ABI 1.4): nothing written");
        fill_results(res, n, st, c->last);
        return st;
    }

    char now[40];
    now_text(h, now);
    row_vals *rows = calloc(n, sizeof *rows);
    if (!rows) {
        revops_status st = say(c, REVOPS_ERROR, "out of memory");
        fill_results(res, n, st, c->last);
        return st;
    }
    revops_status st = REVOPS_OK;
    for (size_t i = 0; i < n && st == REVOPS_OK; i++)
        if (row_build(c, b, i, now, &rows[i]) < 0) st = say(c, REVOPS_ERROR, "out of memory");

    if (st == REVOPS_OK) st = pg_ready(c);
    size_t ins_added = 0, pat_added = 0, pat_total = 0;
    if (st == REVOPS_OK) {
        /* The statement timeout never outlasts the run's deadline. */
        int64_t tmo = c->timeout_ms;
        double left = h->time_left(c->self);
        if (left <= 0) {
            st = say(c, REVOPS_RETRY, "the run's deadline has passed: nothing written");
        } else {
            if (isfinite(left) && (tmo == 0 || left * 1000.0 < (double)tmo)) tmo = (int64_t)(left * 1000.0) + 1;
            char begin[160];
            snprintf(begin, sizeof begin, "BEGIN; SET LOCAL statement_timeout = %lld", (long long)tmo);
            st = exec_cmd(c, begin, "BEGIN", 0);
        }
        /* Looked up in every delivery (one cheap query): a table dropped
         * while a long-lived instance (revops trigger) waits is made again. */
        if (st == REVOPS_OK) st = ensure_tables(c);
        if (st == REVOPS_OK) st = write_all(c, rows, n, &ins_added, &pat_added, &pat_total);
        if (st == REVOPS_OK) st = exec_cmd(c, "COMMIT", "COMMIT", 0);
        if (st != REVOPS_OK && c->conn && PQstatus(c->conn) == CONNECTION_OK &&
            PQtransactionStatus(c->conn) != PQTRANS_IDLE)
            PQclear(PQexec(c->conn, "ROLLBACK"));
    }
    for (size_t i = 0; i < n; i++) row_free(&rows[i]);
    free(rows);

    if (st != REVOPS_OK) {
        fill_results(res, n, st, c->last);
        return st;
    }
    fill_results(res, n, REVOPS_OK, "");
    h->log(c->self, REVOPS_LOG_INFO, "%zu insight%s written to %s (%zu already there), %zu of %zu pattern rows to %s",
           ins_added, ins_added == 1 ? "" : "s", c->insights_name, n - ins_added, pat_added, pat_total,
           c->patterns_name);
    return REVOPS_OK;
}

/* --------------------------------------------------------- lifecycle -- */

static void pgi_close(void *ctx)
{
    pgi_ctx *c = ctx;
    if (!c) return;
    if (c->conn) PQfinish(c->conn);
    if (c->conninfo_pw) {
        revops_wipe(c->conninfo_pw, strlen(c->conninfo_pw));
        free(c->conninfo_pw);
    }
    free(c);
}

/* [a-z_][a-z0-9_]* (empty allowed when `empty`): the same name quoted or not. */
static int plain_ident(const char *s, int empty)
{
    if (!*s) return empty;
    if (!(islower((unsigned char)*s) || *s == '_')) return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_')) return 0;
    return 1;
}

static revops_status pgi_open(revops_instance *self, const revops_host *host, const revops_options *opts,
                              void **ctx)
{
    pgi_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        host->error(self, "out of memory");
        return REVOPS_ERROR;
    }
    c->self = self;
    c->host = host;
    c->conninfo = host->opt_string(opts, "conninfo");
    if (!c->conninfo) c->conninfo = "";
    c->password = host->opt_is_set(opts, "password") ? host->opt_string(opts, "password") : NULL;
    c->batch_rows = host->opt_int(opts, "batch_rows");
    c->timeout_ms = host->opt_int(opts, "statement_timeout_ms");
    c->tmpl_title = host->opt_string(opts, "title");
    c->tmpl_description = host->opt_string(opts, "description");
    if (c->batch_rows < 1 || c->batch_rows > BATCH_ROWS_MAX) c->batch_rows = 500;
    if (!c->tmpl_title) c->tmpl_title = "{{title}}";
    if (!c->tmpl_description) c->tmpl_description = "{{description}}";

    const char *prefix = host->opt_string(opts, "table_prefix");
    const char *schema = host->opt_is_set(opts, "schema") ? host->opt_string(opts, "schema") : NULL;
    if (!prefix) prefix = "revops_";
    if (!plain_ident(prefix, 1) || strlen(prefix) > PREFIX_MAX) {
        say(c, REVOPS_ERROR, "option table_prefix must be lower-case letters, digits and '_', not starting "
            "with a digit, at most %d characters", PREFIX_MAX);
        pgi_close(c);
        return REVOPS_ERROR;
    }
    if (schema && (!plain_ident(schema, 0) || strlen(schema) > 63)) {
        say(c, REVOPS_ERROR, "option schema must be a name of lower-case letters, digits and '_', not starting "
            "with a digit, at most 63 characters");
        pgi_close(c);
        return REVOPS_ERROR;
    }
    if (schema) snprintf(c->schema_q, sizeof c->schema_q, "\"%s\".", schema);
    snprintf(c->index_prefix, sizeof c->index_prefix, "%s", prefix);
    snprintf(c->insights, sizeof c->insights, "%s\"%sinsights\"", c->schema_q, prefix);
    snprintf(c->patterns, sizeof c->patterns, "%s\"%sconsumption_patterns\"", c->schema_q, prefix);
    snprintf(c->insights_name, sizeof c->insights_name, "%s%s%sinsights", schema ? schema : "", schema ? "." : "",
             prefix);
    snprintf(c->patterns_name, sizeof c->patterns_name, "%s%s%sconsumption_patterns", schema ? schema : "",
             schema ? "." : "", prefix);

    /* Check the conninfo's syntax now and learn the password it may hold,
     * so that no message shows it. */
    char clean[512];
    if (pg_check_conninfo(c->conninfo, &c->conninfo_pw, clean, sizeof clean) != 0) {
        say(c, REVOPS_ERROR, "option conninfo is not a valid libpq connection string or URI: %s", clean);
        pgi_close(c);
        return REVOPS_ERROR;
    }
    /* Connecting waits for the first delivery: a server that is down then
     * makes the deliveries RETRY instead of failing the instance. */
    *ctx = c;
    return REVOPS_OK;
}

/* -------------------------------------------------------- descriptor -- */

static const revops_action_vtable vtable = {
    .open = pgi_open,
    .deliver = pgi_deliver,
    .close = pgi_close,
};

static const revops_option_def options[] = {
    { "conninfo", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 1,
      "libpq connection string or URI (\"host=... dbname=... user=...\", postgresql://...); "
      "may hold a password, so prefer env:NAME or file:/path" },
    { "password", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 1,
      "password, passed to libpq as its password keyword (overrides one in conninfo)" },
    { "schema", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 0,
      "schema of the tables ([a-z_][a-z0-9_]*; default: the role's search_path)" },
    { "table_prefix", REVOPS_OPT_STRING, 0, "revops_", 0, 0, NULL, 0,
      "tables <prefix>insights and <prefix>consumption_patterns ([a-z_][a-z0-9_]*, may be empty)" },
    { "batch_rows", REVOPS_OPT_INT, 0, "500", 1, BATCH_ROWS_MAX, NULL, 0,
      "rows per INSERT statement (all of a delivery in one transaction)" },
    { "statement_timeout_ms", REVOPS_OPT_INT, 0, "60000", 0, 86400000, NULL, 0,
      "statement_timeout of the delivery's transaction, in ms (0: none; never past the run's deadline)" },
    { "title", REVOPS_OPT_TEMPLATE, 0, "{{title}}", 0, 0, NULL, 0,
      "template of the title column (written as is: a parameter, not SQL)" },
    { "description", REVOPS_OPT_TEMPLATE, 0, "{{description}}", 0, 0, NULL, 0,
      "template of the description column" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_ACTION, "postgres_insights", "1.0.0",
    "findings into PostgreSQL insight and consumption pattern tables (libpq, idempotent by delivery id)",
    options, { .action = &vtable }
};
