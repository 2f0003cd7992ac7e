/*
 * action "firebolt_insights": every routed finding as a row of
 * <prefix>insights and its signals as rows of <prefix>consumption_patterns
 * in a Firebolt database, over Firebolt's REST query API.  The same table
 * design as the postgres_insights action, so dashboards read the same
 * columns from either warehouse.
 *
 * The protocol, as Firebolt documents it (the firebolt source follows the
 * same pages; the HTTP, the retries, the token cache are the host's):
 *   - docs.firebolt.io, "Firebolt API" (guides/developing-with-firebolt/using-the-api)
 *     and "Manage programmatic access" (guides/managing-your-organization/service-accounts):
 *     POST <id_url> (grant_type=client_credentials, client_id, client_secret,
 *     audience) -> access_token (host->oauth_token); GET
 *     <api_url>/web/v3/account/<account>/engineUrl -> {"engineUrl"} (the system
 *     engine); a user engine's url from information_schema.engines; then
 *     POST https://<engine url>?database=<db>&output_format=JSON_Compact with
 *     the SQL as the plain-text body and "Authorization: Bearer <token>".
 *   - A statement without a result set (CREATE TABLE, INSERT) answers 200 with
 *     an empty body (Firebolt's own SDK: "Empty response is returned for insert
 *     query", firebolt-python-sdk cursor); a SELECT answers JSON_Compact
 *     {meta, data, rows, statistics}.
 *   - Errors: {"errors": [{name, code, description, location, ...}]}
 *     (firebolt-python-sdk FireboltStructuredError), the API gateway's
 *     {"error", "code", "message"}, OAuth's {"error", "error_description"}, or
 *     plain text.
 *   - SQL reference (github.com/firebolt-db/godocs, docs/sql_reference/...):
 *     CREATE [FACT|DIMENSION] TABLE [IF NOT EXISTS] t (col type [NULL | NOT NULL]
 *     ...) [PRIMARY INDEX col] (commands/data-definition/create-fact-dimension-table:
 *     a column without NULL is NOT NULL, so every optional one says NULL);
 *     INSERT INTO t (cols) VALUES (...), (...) (commands/data-management/insert:
 *     "The INSERT operation is not atomic"); data types TEXT, DOUBLE PRECISION,
 *     INTEGER, TIMESTAMP (data-types.md; "null bytes are not supported in TEXT
 *     literals"); reserved words (Reference/reserved-words.md: none of the
 *     column names below is one).
 *   - String literals (Reference/system-settings.md, "Enable parsing for literal
 *     strings"): with standard_conforming_strings (the default, and this plugin
 *     sets it in the query string as Firebolt's SDKs pass settings) a backslash
 *     is an ordinary character and a quote is written twice -- exactly what
 *     Firebolt's python SDK does for Firebolt 2.0 (statement_formatter.py,
 *     escape_chars_v2).  sql_text() below is the only place a value becomes SQL.
 *
 * Idempotency.  Firebolt has no unique constraints, so for each deliver call:
 *   1. SELECT insight_id FROM <p>insights WHERE insight_id IN (<the batch's
 *      delivery ids>)                  -- present ones are delivered already (OK)
 *   2. SELECT pattern_id FROM <p>consumption_patterns WHERE pattern_id IN (...)
 *      for the missing findings' signals (left behind by a call that failed
 *      between 3 and 4)
 *   3. INSERT the missing pattern rows, at most batch_rows rows per statement
 *   4. INSERT the missing insight rows, at most batch_rows rows per statement;
 *      the insight row goes last: it is what marks a finding delivered.
 * insight_id is the delivery id, pattern_id "<delivery id>:<signal index>".
 *
 * Results: OK once the insight row is in (or was there); a 429 / 5xx / lost
 * connection (after the host's retries) is RETRY; a 4xx (the SQL refused:
 * permission, a table of another shape) is ERROR with Firebolt's own words; a
 * failure stops the rest of the call (every later finding gets the same
 * status, "not stored: ...").  The client secret and the access token never
 * appear in a message or log line.
 *
 * Known gap (the contract's): the host retries an INSERT whose answer was lost
 * (timeout, 5xx) like any request; if Firebolt had carried it out, the rows are
 * there twice.  Step 1 of the next call does not see pattern duplicates of
 * that kind, and a second revops process delivering the same finding at the
 * same moment can also insert it twice (no unique key to stop it).
 */
#include <revops/revops.h>

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "firebolt_common.h"
#include "utf8_common.h"

#define PREFIX_MAX 60

typedef struct fbi_ctx {
    revops_instance *self;
    const revops_host *host;
    const char *client_id, *client_secret, *account, *database, *engine, *engine_url_opt;
    const char *id_url, *api_url, *audience;
    const char *prefix, *title_tmpl, *desc_tmpl;
    size_t batch_rows;
    double timeout;
    const char *form[9];
    revops_oauth_request oauth;
    char *engine_url;        /* resolved once: canonical, may carry ?params */
    char *query_url;         /* engine_url + database, output format, settings */
    int tables_ready;
    char t_insights[PREFIX_MAX + 32], t_patterns[PREFIX_MAX + 32];
} fbi_ctx;

/* ------------------------------------------------------------ helpers -- */

REVOPS_PRINTF(3, 4)
static void set_result(revops_delivery *d, revops_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    d->status = s;
    vsnprintf(d->message, sizeof d->message, fmt, ap);
    va_end(ap);
    for (char *p = d->message; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
}

/* THE escaping function: a value as a Firebolt SQL literal.  NULL for no
 * value; else a standard string literal: a quote written twice, every other
 * byte as it is (backslashes too: standard_conforming_strings), invalid UTF-8
 * as U+FFFD (the request body is UTF-8 text). */
static void sql_text(revops_buf *b, const char *s)
{
    if (!s) {
        revops_buf_str(b, "NULL");
        return;
    }
    revops_buf_str(b, "'");
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t run = 0;
        size_t n;
        while (p[run] && p[run] != '\'' && (n = utf8_seq(p + run, SIZE_MAX, NULL)) != 0) run += n;
        revops_buf_add(b, (const char *)p, run);
        p += run;
        if (*p == '\'') {
            revops_buf_str(b, "''");
            p++;
        } else if (*p) {
            revops_buf_str(b, "\xef\xbf\xbd");
            p++;
        }
    }
    revops_buf_str(b, "'");
}

static void sql_real(revops_buf *b, double x)
{
    if (!isfinite(x)) revops_buf_str(b, "NULL");
    else revops_buf_fmt(b, "%.17g", x);
}

/* JSON text of s (quoted) appended to b. */
static void json_str(const revops_host *h, revops_buf *b, const char *s)
{
    char *q = h->json_quote(s ? s : "");
    if (!q) {
        b->oom = 1;
        return;
    }
    revops_buf_str(b, q);
    h->free(q);
}

static void json_num(revops_buf *b, double x)
{
    if (!isfinite(x)) revops_buf_str(b, "null");
    else revops_buf_fmt(b, "%.17g", x);
}

/* ------------------------------------------------- Firebolt's answers -- */

/* Firebolt's own words from an error body, on one line, into out. */
static void firebolt_words(const revops_host *h, const char *body, size_t len, char *out, size_t n)
{
    revops_buf b = { 0 };
    while (len && isspace((unsigned char)*body)) body++, len--;
    while (len && isspace((unsigned char)body[len - 1])) len--;
    revops_json *root = len && body[0] == '{' ? h->json_parse(body, len, NULL, 0) : NULL;
    if (root && h->json_type(root) == REVOPS_JSON_OBJECT) {
        revops_json *errs = h->json_get(root, "errors");
        for (size_t i = 0; errs && i < h->json_len(errs); i++) {
            revops_json *e = h->json_index(errs, i);
            const char *desc = h->json_string(h->json_get(e, "description"));
            const char *name = h->json_string(h->json_get(e, "name"));
            const char *code = h->json_string(h->json_get(e, "code"));
            revops_buf_fmt(&b, "%s%s", b.len ? "; " : "", desc ? desc : "(no description)");
            if (name || code)
                revops_buf_fmt(&b, " (%s%s%s)", name ? name : "", name && code ? " " : "", code ? code : "");
        }
        if (!b.len) {
            const char *msg = h->json_string(h->json_get(root, "message"));
            const char *err = h->json_string(h->json_get(root, "error"));
            const char *desc = h->json_string(h->json_get(root, "error_description"));
            if (msg && *msg) revops_buf_str(&b, msg);
            else if (err && *err) revops_buf_fmt(&b, "%s%s%s", err, desc ? ": " : "", desc ? desc : "");
            else if (desc) revops_buf_str(&b, desc);
        }
    }
    if (root) h->json_free(root);
    if (b.len && !b.oom) {
        snprintf(out, n, "%s", b.p);
    } else if (!len) {
        snprintf(out, n, "(no error text in the response)");
    } else {
        snprintf(out, n, "%.*s%s", (int)(len < 200 ? len : 200), body, len > 200 ? " ..." : "");
    }
    revops_buf_free(&b);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
}

/* A failed statement as one line and a status: 429 and 5xx RETRY (the host
 * has retried them already), a refusal (4xx) ERROR. */
static revops_status why_http(fbi_ctx *c, const char *what, const revops_http_response *r, char *why, size_t n)
{
    char words[200];
    firebolt_words(c->host, r->body ? r->body : "", r->body ? r->body_len : 0, words, sizeof words);
    int transient = r->status == 429 || r->status >= 500;
    snprintf(why, n, "Firebolt %s: HTTP %ld: %s%s", what, r->status, words,
             transient ? (r->attempts > 1 ? " (transient; retried, still failing)" : " (transient)")
             : r->status == 401 ? " (refused with a fresh access token too: check the service account)" : "");
    return transient ? REVOPS_RETRY : REVOPS_ERROR;
}

/* One request with a bearer token; after a 401 one fresh token and one more
 * try.  On failure before any HTTP answer, why says so. */
static revops_status send_authed(fbi_ctx *c, const char *method, const char *url, const char *body,
                                 revops_http_response *resp, const char *what, char *why, size_t n)
{
    const revops_host *h = c->host;
    memset(resp, 0, sizeof *resp);
    for (int attempt = 0;; attempt++) {
        const char *token = NULL;
        revops_status st = h->oauth_token(c->self, &c->oauth, &token);
        if (st != REVOPS_OK || !token) {
            snprintf(why, n, "Firebolt access token: %s", *h->last_error(c->self) ? h->last_error(c->self)
                                                                                   : "no token");
            return st == REVOPS_OK ? REVOPS_ERROR : st;
        }
        size_t alen = strlen(token) + 32;
        char *auth = malloc(alen);
        if (!auth) {
            snprintf(why, n, "out of memory");
            return REVOPS_RETRY;
        }
        snprintf(auth, alen, "Authorization: Bearer %s", token);
        const char *headers[] = { auth, "Accept: application/json",
                                  body ? "Content-Type: text/plain; charset=utf-8" : NULL, NULL };
        /* An INSERT the engine may have run is not resent by the host
         * (1.5): Firebolt has no unique keys, so the next delivery looks
         * the rows up first instead. */
        unsigned flags = body && !strncmp(body, "INSERT", 6) ? REVOPS_HTTP_NO_RETRY : 0;
        revops_http_request req = { method, url, headers, body, body ? strlen(body) : 0, c->timeout, flags };
        st = h->http(c->self, &req, resp);
        revops_wipe(auth, alen);   /* the token does not outlive the request */
        free(auth);
        if (st == REVOPS_OK && resp->status == 401 && attempt == 0) {
            h->log(c->self, REVOPS_LOG_INFO, "Firebolt answered 401: asking for a fresh access token");
            h->http_free(resp);
            memset(resp, 0, sizeof *resp);
            h->oauth_invalidate(c->self, &c->oauth);
            continue;
        }
        if (st != REVOPS_OK) {
            const char *e = h->last_error(c->self);
            if (resp->status) {
                return why_http(c, what, resp, why, n);
            }
            snprintf(why, n, "Firebolt %s: no answer%s%s%s", what, *e ? " (" : "", e, *e ? ")" : "");
            return st == REVOPS_RETRY ? REVOPS_RETRY : REVOPS_ERROR;
        }
        if (resp->status < 200 || resp->status > 299) return why_http(c, what, resp, why, n);
        return REVOPS_OK;
    }
}

/* A SELECT's JSON_Compact answer parsed, or an error (errors inside a 2xx
 * answer included).  *root is freed by the caller. */
static revops_status parse_result(fbi_ctx *c, const char *what, const revops_http_response *r, revops_json **root,
                                  char *why, size_t n)
{
    const revops_host *h = c->host;
    char perr[160] = "";
    *root = r->body_len ? h->json_parse(r->body, r->body_len, perr, sizeof perr) : NULL;
    if (!*root || h->json_type(*root) != REVOPS_JSON_OBJECT) {
        snprintf(why, n, "Firebolt %s: the answer (HTTP %ld) is not a JSON result%s%s", what, r->status,
                 *perr ? ": " : "", perr);
        if (*root) h->json_free(*root);
        *root = NULL;
        return REVOPS_ERROR;
    }
    revops_json *errs = h->json_get(*root, "errors");
    revops_json *data = h->json_get(*root, "data");
    if ((errs && h->json_len(errs) > 0) || !data || h->json_type(data) != REVOPS_JSON_ARRAY) {
        char words[200];
        firebolt_words(h, r->body, r->body_len, words, sizeof words);
        snprintf(why, n, "Firebolt %s: %s", what, errs && h->json_len(errs) ? words : "the answer has no \"data\"");
        h->json_free(*root);
        *root = NULL;
        return REVOPS_ERROR;
    }
    return REVOPS_OK;
}

/* ------------------------------------------------------------ engine -- */

static revops_status resolve_engine(fbi_ctx *c, char *why, size_t n)
{
    const revops_host *h = c->host;
    if (c->query_url) return REVOPS_OK;
    revops_status st = REVOPS_OK;
    if (c->engine_url_opt && *c->engine_url_opt) {
        c->engine_url = canonical_url(c->engine_url_opt);
    } else {
        char *acct = h->url_encode(c->account);
        revops_buf url = { 0 };
        size_t alen = strlen(c->api_url);
        while (alen && c->api_url[alen - 1] == '/') alen--;
        revops_buf_add(&url, c->api_url, alen);
        revops_buf_fmt(&url, "/web/v3/account/%s/engineUrl", acct ? acct : "");
        if (acct) h->free(acct);
        revops_http_response resp;
        char what[160];
        snprintf(what, sizeof what, "engine URL lookup for account '%.80s'", c->account);
        st = url.oom ? REVOPS_RETRY : send_authed(c, "GET", url.p, NULL, &resp, what, why, n);
        revops_buf_free(&url);
        if (st != REVOPS_OK) {
            h->http_free(&resp);
            return st;
        }
        revops_json *root = h->json_parse(resp.body ? resp.body : "", resp.body_len, NULL, 0);
        const char *sys = root ? h->json_string(h->json_get(root, "engineUrl")) : NULL;
        char *system_url = sys && *sys ? canonical_url(sys) : NULL;
        if (root) h->json_free(root);
        h->http_free(&resp);
        if (!system_url) {
            snprintf(why, n, "Firebolt %s: the answer has no \"engineUrl\"", what);
            return REVOPS_ERROR;
        }
        if (!c->engine || !*c->engine) {
            c->engine_url = system_url;
        } else {
            snprintf(what, sizeof what, "lookup of engine '%.60s'", c->engine);
            revops_buf sql = { 0 };
            revops_buf_str(&sql, "SELECT url FROM information_schema.engines WHERE engine_name = ");
            sql_text(&sql, c->engine);
            char *qurl = with_params(system_url, "output_format=JSON_Compact");
            free(system_url);
            st = !qurl || sql.oom ? REVOPS_RETRY : send_authed(c, "POST", qurl, sql.p, &resp, what, why, n);
            free(qurl);
            revops_buf_free(&sql);
            if (st != REVOPS_OK) {
                h->http_free(&resp);
                return st;
            }
            st = parse_result(c, what, &resp, &root, why, n);
            h->http_free(&resp);
            if (st != REVOPS_OK) return st;
            const char *u = h->json_string(h->json_get(root, "data.0.0"));
            int found = u && *u;
            if (found) c->engine_url = canonical_url(u);
            h->json_free(root);   /* u with it */
            if (!found) {
                snprintf(why, n, "Firebolt %s: the account has no engine named '%.60s' (or the service account's "
                                 "user cannot see it)", what, c->engine);
                return REVOPS_ERROR;
            }
        }
    }
    if (!c->engine_url) {
        snprintf(why, n, "out of memory");
        return REVOPS_RETRY;
    }
    char *db = h->url_encode(c->database);
    revops_buf params = { 0 };
    revops_buf_fmt(&params, "database=%s&output_format=JSON_Compact&standard_conforming_strings=true", db ? db : "");
    if (db) h->free(db);
    c->query_url = params.oom ? NULL : with_params(c->engine_url, params.p);
    revops_buf_free(&params);
    if (!c->query_url) {
        snprintf(why, n, "out of memory");
        return REVOPS_RETRY;
    }
    return REVOPS_OK;
}

/* One statement on the engine.  With root, the answer must be a result set
 * (parsed into *root); without, any 2xx answer will do. */
static revops_status run_sql(fbi_ctx *c, const char *what, const char *sql, revops_json **root, char *why, size_t n)
{
    revops_status st = resolve_engine(c, why, n);
    if (st != REVOPS_OK) return st;
    revops_http_response resp;
    st = send_authed(c, "POST", c->query_url, sql, &resp, what, why, n);
    if (st == REVOPS_OK && root) {
        st = parse_result(c, what, &resp, root, why, n);
    } else if (st == REVOPS_OK && resp.body_len) {
        /* a 2xx with a body: errors inside it are still errors */
        revops_json *r = c->host->json_parse(resp.body, resp.body_len, NULL, 0);
        revops_json *errs = r ? c->host->json_get(r, "errors") : NULL;
        if (errs && c->host->json_len(errs) > 0) {
            char words[200];
            firebolt_words(c->host, resp.body, resp.body_len, words, sizeof words);
            snprintf(why, n, "Firebolt %s: %s", what, words);
            st = REVOPS_ERROR;
        }
        if (r) c->host->json_free(r);
    }
    c->host->http_free(&resp);
    return st;
}

/* ------------------------------------------------------------ tables -- */

static const char *const INSIGHT_COLUMNS =
    "insight_id, fingerprint, session_id, pipeline, analysis, category, insight_type, account_id, account_name, "
    "owner, title, description, payload, evidence, confidence_score, impact_score, urgency_score, status, "
    "priority, created_at, recommended_actions, occurrence";
static const char *const PATTERN_COLUMNS =
    "pattern_id, execution_id, execution_timestamp, account_id, analysis, pattern_type, signal_name, value, "
    "threshold, weight, evidence";

static revops_status ensure_tables(fbi_ctx *c, char *why, size_t n)
{
    if (c->tables_ready) return REVOPS_OK;
    revops_buf sql = { 0 };
    revops_buf_fmt(&sql,
                   "CREATE TABLE IF NOT EXISTS %s (\n"
                   "  insight_id TEXT NOT NULL,\n  fingerprint TEXT NOT NULL,\n  session_id TEXT NULL,\n"
                   "  pipeline TEXT NULL,\n  analysis TEXT NULL,\n  category TEXT NULL,\n  insight_type TEXT NULL,\n"
                   "  account_id TEXT NULL,\n  account_name TEXT NULL,\n  owner TEXT NULL,\n  title TEXT NULL,\n"
                   "  description TEXT NULL,\n  payload TEXT NULL,\n  evidence TEXT NULL,\n"
                   "  confidence_score DOUBLE PRECISION NULL,\n  impact_score DOUBLE PRECISION NULL,\n"
                   "  urgency_score DOUBLE PRECISION NULL,\n  status TEXT NULL,\n  priority TEXT NULL,\n"
                   "  created_at TIMESTAMP NULL,\n  recommended_actions TEXT NULL,\n  occurrence INTEGER NULL\n"
                   ") PRIMARY INDEX insight_id",
                   c->t_insights);
    char what[120];
    snprintf(what, sizeof what, "CREATE TABLE %s", c->t_insights);
    revops_status st = sql.oom ? REVOPS_RETRY : run_sql(c, what, sql.p, NULL, why, n);
    revops_buf_free(&sql);
    if (st != REVOPS_OK) return st;
    revops_buf_fmt(&sql,
                   "CREATE TABLE IF NOT EXISTS %s (\n"
                   "  pattern_id TEXT NOT NULL,\n  execution_id TEXT NULL,\n  execution_timestamp TIMESTAMP NULL,\n"
                   "  account_id TEXT NULL,\n  analysis TEXT NULL,\n  pattern_type TEXT NULL,\n"
                   "  signal_name TEXT NULL,\n  value DOUBLE PRECISION NULL,\n  threshold DOUBLE PRECISION NULL,\n"
                   "  weight DOUBLE PRECISION NULL,\n  evidence TEXT NULL\n"
                   ") PRIMARY INDEX pattern_id",
                   c->t_patterns);
    snprintf(what, sizeof what, "CREATE TABLE %s", c->t_patterns);
    st = sql.oom ? REVOPS_RETRY : run_sql(c, what, sql.p, NULL, why, n);
    revops_buf_free(&sql);
    if (st == REVOPS_OK) c->tables_ready = 1;
    return st;
}

/* ----------------------------------------------------------- deliver -- */

/* Per finding of the call. */
typedef struct item {
    const revops_finding *f;
    const char *id;        /* the delivery id (or the fingerprint before 1.4) */
    int occurrence;
    int dup;               /* the same id earlier in the batch */
    int present;           /* its insight row is in the table */
    unsigned char *have;   /* per signal: its pattern row is in the table */
} item;

static double urgency(revops_priority p)
{
    switch (p) {
    case REVOPS_PRIORITY_CRITICAL: return 1.0;
    case REVOPS_PRIORITY_HIGH: return 0.75;
    case REVOPS_PRIORITY_MEDIUM: return 0.5;
    default: return 0.25;
    }
}

/* SELECT <col> FROM <table> WHERE <col> IN (ids...), the ids given by
 * next(); each id found is handed to found(). */
typedef struct id_iter {
    item *items;
    size_t nitems, i, s;   /* position: item i, signal s */
    int patterns;          /* iterate pattern ids of the missing items, else insight ids */
} id_iter;

static int iter_next(id_iter *it, char *out, size_t n)
{
    for (; it->i < it->nitems; it->i++, it->s = 0) {
        item *x = &it->items[it->i];
        if (x->dup) continue;
        if (!it->patterns) {
            if (it->s++ == 0) {
                snprintf(out, n, "%s", x->id);
                return 1;
            }
            continue;
        }
        if (x->present) continue;
        if (it->s < x->f->nsignals) {
            snprintf(out, n, "%s:%zu", x->id, it->s);
            it->s++;
            return 1;
        }
    }
    return 0;
}

static void mark_found(item *items, size_t nitems, int patterns, const char *id)
{
    for (size_t i = 0; i < nitems; i++) {
        item *x = &items[i];
        size_t l = strlen(x->id);
        if (strncmp(id, x->id, l) != 0) continue;
        if (!patterns && id[l] == '\0') x->present = 1;
        if (patterns && id[l] == ':') {
            char *end;
            unsigned long s = strtoul(id + l + 1, &end, 10);
            if (*end == '\0' && s < x->f->nsignals && x->have) x->have[s] = 1;
        }
    }
}

static revops_status lookup(fbi_ctx *c, item *items, size_t nitems, int patterns, char *why, size_t n)
{
    const revops_host *h = c->host;
    const char *table = patterns ? c->t_patterns : c->t_insights;
    const char *col = patterns ? "pattern_id" : "insight_id";
    id_iter it = { items, nitems, 0, 0, patterns };
    char id[160];
    int more = iter_next(&it, id, sizeof id);
    while (more) {
        revops_buf sql = { 0 };
        revops_buf_fmt(&sql, "SELECT %s FROM %s WHERE %s IN (", col, table, col);
        for (size_t k = 0; more && k < c->batch_rows; k++) {
            if (k) revops_buf_str(&sql, ", ");
            sql_text(&sql, id);
            more = iter_next(&it, id, sizeof id);
        }
        revops_buf_str(&sql, ")");
        char what[120];
        snprintf(what, sizeof what, "SELECT %s FROM %s", col, table);
        revops_json *root = NULL;
        revops_status st = sql.oom ? REVOPS_RETRY : run_sql(c, what, sql.p, &root, why, n);
        revops_buf_free(&sql);
        if (st != REVOPS_OK) return st;
        revops_json *data = h->json_get(root, "data");
        for (size_t r = 0; r < h->json_len(data); r++) {
            const char *v = h->json_string(h->json_index(h->json_index(data, r), 0));
            if (v) mark_found(items, nitems, patterns, v);
        }
        h->json_free(root);
    }
    return REVOPS_OK;
}

/* The evidence column: the finding's signals as a JSON array. */
static void signals_json(const revops_host *h, revops_buf *b, const revops_finding *f)
{
    revops_buf_str(b, "[");
    for (size_t s = 0; s < f->nsignals; s++) {
        const revops_signal *g = &f->signals[s];
        revops_buf_str(b, s ? ",{\"name\":" : "{\"name\":");
        json_str(h, b, g->name);
        revops_buf_str(b, ",\"value\":");
        json_num(b, g->value);
        revops_buf_str(b, ",\"threshold\":");
        json_num(b, g->threshold);
        revops_buf_str(b, ",\"weight\":");
        json_num(b, g->weight);
        revops_buf_str(b, ",\"evidence\":");
        if (g->evidence) json_str(h, b, g->evidence);
        else revops_buf_str(b, "null");
        revops_buf_str(b, "}");
    }
    revops_buf_str(b, "]");
}

static void actions_json(const revops_host *h, revops_buf *b, const revops_finding *f)
{
    revops_buf_str(b, "[");
    for (size_t a = 0; a < f->nactions; a++) {
        if (a) revops_buf_str(b, ",");
        json_str(h, b, f->recommended_actions[a]);
    }
    revops_buf_str(b, "]");
}

/* One row of <p>insights, "(...)", into sql. */
static int insight_row(fbi_ctx *c, const revops_batch *batch, const item *x, const char *now, revops_buf *sql)
{
    const revops_host *h = c->host;
    const revops_finding *f = x->f;
    char *title = h->render(c->title_tmpl, f, batch, REVOPS_ESC_NONE, 0);
    char *desc = h->render(c->desc_tmpl, f, batch, REVOPS_ESC_NONE, 0);
    char *payload = h->finding_json(f);
    revops_buf ev = { 0 }, acts = { 0 };
    signals_json(h, &ev, f);
    actions_json(h, &acts, f);
    int ok = title && desc && payload && !ev.oom && !acts.oom;
    if (ok) {
        revops_buf_str(sql, "(");
        sql_text(sql, x->id);
        revops_buf_str(sql, ", ");
        sql_text(sql, f->fingerprint);
        revops_buf_str(sql, ", ");
        sql_text(sql, batch->session_id);
        revops_buf_str(sql, ", ");
        sql_text(sql, batch->pipeline);
        revops_buf_str(sql, ", ");
        sql_text(sql, f->analysis);
        revops_buf_str(sql, ", ");
        sql_text(sql, f->category);
        revops_buf_str(sql, ", ");
        sql_text(sql, f->category);
        revops_buf_str(sql, ", ");
        sql_text(sql, f->account_id);
        revops_buf_str(sql, ", ");
        sql_text(sql, f->account_name);
        revops_buf_str(sql, ", ");
        sql_text(sql, h->abi_minor >= 5 ? f->owner : NULL);
        revops_buf_str(sql, ", ");
        sql_text(sql, title);
        revops_buf_str(sql, ", ");
        sql_text(sql, desc);
        revops_buf_str(sql, ", ");
        sql_text(sql, payload);
        revops_buf_str(sql, ", ");
        sql_text(sql, ev.p);
        revops_buf_str(sql, ", ");
        sql_real(sql, f->confidence);
        revops_buf_str(sql, ", ");
        sql_real(sql, f->score);
        revops_buf_str(sql, ", ");
        sql_real(sql, urgency(f->priority));
        revops_buf_str(sql, ", 'open', ");
        sql_text(sql, revops_priority_name(f->priority));
        revops_buf_str(sql, ", ");
        sql_text(sql, now);
        revops_buf_str(sql, ", ");
        sql_text(sql, acts.p);
        revops_buf_fmt(sql, ", %d)", x->occurrence);
    }
    if (title) h->free(title);
    if (desc) h->free(desc);
    if (payload) h->free(payload);
    revops_buf_free(&ev);
    revops_buf_free(&acts);
    return ok ? 0 : -1;
}

static void pattern_row(const revops_batch *batch, const item *x, size_t s, const char *now, revops_buf *sql)
{
    const revops_finding *f = x->f;
    const revops_signal *g = &f->signals[s];
    char pid[160];
    snprintf(pid, sizeof pid, "%s:%zu", x->id, s);
    revops_buf_str(sql, "(");
    sql_text(sql, pid);
    revops_buf_str(sql, ", ");
    sql_text(sql, batch->session_id);
    revops_buf_str(sql, ", ");
    sql_text(sql, now);
    revops_buf_str(sql, ", ");
    sql_text(sql, f->account_id);
    revops_buf_str(sql, ", ");
    sql_text(sql, f->analysis);
    revops_buf_str(sql, ", ");
    sql_text(sql, f->category);
    revops_buf_str(sql, ", ");
    sql_text(sql, g->name);
    revops_buf_str(sql, ", ");
    sql_real(sql, g->value);
    revops_buf_str(sql, ", ");
    sql_real(sql, g->threshold);
    revops_buf_str(sql, ", ");
    sql_real(sql, g->weight);
    revops_buf_str(sql, ", ");
    sql_text(sql, g->evidence);
    revops_buf_str(sql, ")");
}

/* The next pattern row to insert from (*i, *s) on: 1 with *i, *s set, or 0. */
static int next_pattern(const item *items, size_t nitems, size_t *i, size_t *s)
{
    for (; *i < nitems; (*i)++, *s = 0) {
        const item *x = &items[*i];
        if (x->dup || x->present) continue;
        for (; *s < x->f->nsignals; (*s)++)
            if (!x->have[*s]) return 1;
    }
    return 0;
}

/* Every result not yet decided gets st and why. */
static void fail_rest(const revops_batch *batch, revops_delivery *results, revops_status st, const char *why)
{
    for (size_t i = 0; i < batch->nfindings; i++)
        if (results[i].status == (revops_status)-1) set_result(&results[i], st, "not stored: %s", why);
}

static int is_hex(const char *s)
{
    size_t k = 0;
    for (; s[k]; k++)
        if (!isxdigit((unsigned char)s[k])) return 0;
    return k > 0 && k <= 64;
}

static revops_status fbi_deliver(void *ctx, const revops_batch *batch, revops_delivery *results)
{
    fbi_ctx *c = ctx;
    const revops_host *h = c->host;
    size_t nf = batch->nfindings;
    if (!nf) return REVOPS_OK;
    item *items = calloc(nf, sizeof *items);
    if (!items) {
        h->error(c->self, "out of memory");
        return REVOPS_RETRY;
    }
    char why[256] = "";
    revops_status st = REVOPS_OK;
    for (size_t i = 0; i < nf; i++) {
        results[i].status = (revops_status)-1;   /* undecided */
        results[i].message[0] = '\0';
        item *x = &items[i];
        x->f = batch->findings[i];
        x->id = h->abi_minor >= 4 && batch->delivery_ids && batch->delivery_ids[i] ? batch->delivery_ids[i]
                                                                                   : x->f->fingerprint;
        x->occurrence = h->abi_minor >= 5 && batch->occurrences && batch->occurrences[i] > 0 ? batch->occurrences[i]
                                                                                             : 1;
        if (!is_hex(x->id)) {
            set_result(&results[i], REVOPS_ERROR, "the finding has no delivery id or fingerprint to key its row");
            x->dup = 1;   /* left out of every statement */
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (!items[j].dup && !strcmp(items[j].id, x->id)) x->dup = 1;
        if (x->f->nsignals && !(x->have = calloc(x->f->nsignals, 1))) {
            st = REVOPS_RETRY;
            snprintf(why, sizeof why, "out of memory");
        }
    }
    char now[32];
    {
        time_t t = (time_t)h->now();
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(now, sizeof now, "%Y-%m-%d %H:%M:%S", &tm);
    }

    /* 1-2: what is there already */
    if (st == REVOPS_OK) st = ensure_tables(c, why, sizeof why);
    if (st == REVOPS_OK) st = lookup(c, items, nf, 0, why, sizeof why);
    size_t missing = 0, present = 0;
    if (st == REVOPS_OK) {
        for (size_t i = 0; i < nf; i++)
            if (!items[i].dup) {
                if (items[i].present) present++;
                else missing++;
            }
        if (missing) st = lookup(c, items, nf, 1, why, sizeof why);
    }

    /* 3: the missing pattern rows */
    size_t ninserts = 0, nrows_p = 0, nrows_i = 0;
    size_t pi = 0, ps = 0;
    int more = next_pattern(items, nf, &pi, &ps);
    while (st == REVOPS_OK && more) {
        revops_buf sql = { 0 };
        size_t rows = 0;
        revops_buf_fmt(&sql, "INSERT INTO %s (%s) VALUES\n", c->t_patterns, PATTERN_COLUMNS);
        for (; more && rows < c->batch_rows; rows++) {
            if (rows) revops_buf_str(&sql, ",\n");
            pattern_row(batch, &items[pi], ps, now, &sql);
            ps++;
            more = next_pattern(items, nf, &pi, &ps);
        }
        char what[120];
        snprintf(what, sizeof what, "INSERT INTO %s", c->t_patterns);
        st = sql.oom ? REVOPS_RETRY : run_sql(c, what, sql.p, NULL, why, sizeof why);
        if (sql.oom) snprintf(why, sizeof why, "out of memory building the INSERT");
        revops_buf_free(&sql);
        ninserts++;
        if (st == REVOPS_OK) nrows_p += rows;
    }

    /* 4: the missing insight rows; each statement's findings are then stored */
    for (size_t i = 0; st == REVOPS_OK && i < nf;) {
        revops_buf sql = { 0 };
        size_t rows = 0, first = i;
        revops_buf_fmt(&sql, "INSERT INTO %s (%s) VALUES\n", c->t_insights, INSIGHT_COLUMNS);
        for (; i < nf && rows < c->batch_rows; i++) {
            item *x = &items[i];
            if (x->dup || x->present) continue;
            if (rows++) revops_buf_str(&sql, ",\n");
            if (insight_row(c, batch, x, now, &sql) < 0) sql.oom = 1;
        }
        if (!rows) {
            revops_buf_free(&sql);
            break;
        }
        char what[120];
        snprintf(what, sizeof what, "INSERT INTO %s", c->t_insights);
        st = sql.oom ? REVOPS_RETRY : run_sql(c, what, sql.p, NULL, why, sizeof why);
        if (sql.oom) snprintf(why, sizeof why, "out of memory building the INSERT");
        revops_buf_free(&sql);
        ninserts++;
        if (st == REVOPS_OK) {
            nrows_i += rows;
            for (size_t k = first; k < i; k++)
                if (!items[k].dup) items[k].present = 1;
        }
    }

    /* results: stored (or found), or why not */
    for (size_t i = 0; i < nf; i++) {
        if (results[i].status != (revops_status)-1) continue;
        item *x = &items[i];
        if (x->dup) {
            /* the same delivery id earlier in the batch: its fate */
            for (size_t j = 0; j < i; j++)
                if (!items[j].dup && !strcmp(items[j].id, x->id)) x->present = items[j].present;
        }
        if (x->present) {
            results[i].status = REVOPS_OK;
            results[i].message[0] = '\0';
        }
    }
    if (st != REVOPS_OK) {
        fail_rest(batch, results, st, why);
        h->error(c->self, "%s", why);
    }
    fail_rest(batch, results, REVOPS_RETRY, "(no statement stored it)");   /* never left undecided */
    h->log(c->self, REVOPS_LOG_INFO, "%zu finding%s: %zu already in %s, %zu insight rows and %zu pattern rows "
           "inserted in %zu statement%s%s", nf, nf == 1 ? "" : "s", present, c->t_insights, nrows_i, nrows_p,
           ninserts, ninserts == 1 ? "" : "s", st == REVOPS_OK ? "" : "; stopped by an error");
    for (size_t i = 0; i < nf; i++) free(items[i].have);
    free(items);
    return REVOPS_OK;
}

/* ---------------------------------------------------------- lifecycle -- */

static void fbi_close(void *ctx)
{
    fbi_ctx *c = ctx;
    if (!c) return;
    free(c->engine_url);
    free(c->query_url);
    free(c);
}

static int identifier_ok(const char *s)
{
    if (!s || !((*s >= 'a' && *s <= 'z') || *s == '_')) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return 0;
    return 1;
}

static revops_status fbi_open(revops_instance *self, const revops_host *host, const revops_options *opts, void **ctx)
{
    if (host->abi_minor < 4 || host->size < offsetof(revops_host, render) + sizeof host->render || !host->render ||
        !host->oauth_token || !host->oauth_invalidate || !host->url_encode || !host->last_error ||
        !host->finding_json) {
        host->error(self, "the firebolt_insights action needs a revops host with ABI 1.4 or later");
        return REVOPS_ERROR;
    }
    fbi_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        host->error(self, "out of memory");
        return REVOPS_ERROR;
    }
    c->self = self;
    c->host = host;
    c->client_id = host->opt_string(opts, "client_id");
    c->client_secret = host->opt_string(opts, "client_secret");
    c->account = host->opt_string(opts, "account");
    c->database = host->opt_string(opts, "database");
    c->engine = host->opt_string(opts, "engine");
    c->engine_url_opt = host->opt_string(opts, "engine_url");
    c->id_url = host->opt_string(opts, "id_url");
    c->api_url = host->opt_string(opts, "api_url");
    c->audience = host->opt_string(opts, "audience");
    c->prefix = host->opt_string(opts, "table_prefix");
    c->title_tmpl = host->opt_string(opts, "title");
    c->desc_tmpl = host->opt_string(opts, "description");
    c->batch_rows = (size_t)host->opt_int(opts, "batch_rows");
    c->timeout = host->opt_real(opts, "timeout");
    if (fb_check_login_options(host, self, c->client_id, c->client_secret, c->account, c->engine_url_opt) != 0) {
        fbi_close(c);
        return REVOPS_ERROR;
    }
    if (!c->database || !*c->database) {
        host->error(self, "database must name the Firebolt database the tables are in");
        fbi_close(c);
        return REVOPS_ERROR;
    }
    if (!identifier_ok(c->prefix) || strlen(c->prefix) > PREFIX_MAX) {
        host->error(self, "table_prefix must be lower-case letters, digits and '_' (starting with a letter or '_', "
                          "at most %d characters), e.g. revops_", PREFIX_MAX);
        fbi_close(c);
        return REVOPS_ERROR;
    }
    snprintf(c->t_insights, sizeof c->t_insights, "%sinsights", c->prefix);
    snprintf(c->t_patterns, sizeof c->t_patterns, "%sconsumption_patterns", c->prefix);
    const char *urls[] = { c->id_url, c->api_url, c->engine_url_opt };
    fb_warn_plain_http(host, self, urls);
    fb_oauth_init(&c->oauth, c->form, c->id_url, c->client_id, c->client_secret, c->audience);
    *ctx = c;
    return REVOPS_OK;
}

/* -------------------------------------------------------- descriptor -- */

static const revops_action_vtable vtable = {
    .open = fbi_open,
    .deliver = fbi_deliver,
    .close = fbi_close,
};

static const revops_option_def options[] = {
    { "client_id", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 1,
      "service account id (env:NAME or file:/path)" },
    { "client_secret", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 1,
      "service account secret (env:NAME or file:/path)" },
    { "account", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 0,
      "Firebolt account name; its engine URL is looked up (not needed with engine_url)" },
    { "database", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 0,
      "database the insight tables are in" },
    { "engine", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 0,
      "user engine that writes (default: the account's system engine)" },
    { "engine_url", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 0,
      "explicit engine URL; skips the engine lookup" },
    { "id_url", REVOPS_OPT_STRING, 0, "https://id.app.firebolt.io/oauth/token", 0, 0, NULL, 0,
      "Firebolt ID token endpoint" },
    { "api_url", REVOPS_OPT_STRING, 0, "https://api.app.firebolt.io", 0, 0, NULL, 0,
      "Firebolt API base URL (engine URL lookup)" },
    { "audience", REVOPS_OPT_STRING, 0, "https://api.firebolt.io", 0, 0, NULL, 0,
      "audience of the access token" },
    { "table_prefix", REVOPS_OPT_STRING, 0, "revops_", 0, 0, NULL, 0,
      "the tables are <prefix>insights and <prefix>consumption_patterns" },
    { "batch_rows", REVOPS_OPT_INT, 0, "500", 1, 10000, NULL, 0,
      "at most this many rows per INSERT statement" },
    { "title", REVOPS_OPT_TEMPLATE, 0, "{{title}}", 0, 0, NULL, 0,
      "the insight's title column" },
    { "description", REVOPS_OPT_TEMPLATE, 0, "{{description}}", 0, 0, NULL, 0,
      "the insight's description column" },
    { "timeout", REVOPS_OPT_REAL, 0, "60", 1, 600, NULL, 0,
      "seconds for one statement (the run's deadline still applies)" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_ACTION, "firebolt_insights", "1.0.0",
    "findings as rows of <prefix>insights and their signals of <prefix>consumption_patterns in Firebolt",
    options, { .action = &vtable }
};
