/*
 * source "firebolt": runs a pipeline's SQL on a Firebolt engine over
 * Firebolt's REST API and streams the rows to the core as they arrive.
 *
 * The protocol, as Firebolt documents it (docs.firebolt.io, "Firebolt API",
 * guides/developing-with-firebolt/using-the-api; "Manage programmatic
 * access", guides/managing-your-organization/service-accounts; the query
 * API's OpenAPI, api-reference/submit-a-sql-statement-for-execution):
 *
 *  1. Service-account token: POST https://id.app.firebolt.io/oauth/token,
 *     form grant_type=client_credentials, client_id, client_secret,
 *     audience=https://api.firebolt.io -> {access_token, token_type, expires_in}.
 *     Done by host->oauth_token (cached per client id, refreshed once on 401).
 *  2. System engine URL of the account: GET
 *     https://api.app.firebolt.io/web/v3/account/<account>/engineUrl with
 *     "Authorization: Bearer <token>" -> {"engineUrl": "<host>[?params]"}.
 *  3. A user engine's URL (option `engine`): on the system engine,
 *     SELECT url FROM information_schema.engines WHERE engine_name='<engine>'.
 *     Without `engine` the queries run on the system engine.  The option
 *     `engine_url` skips 2 and 3.
 *  4. The query: POST https://<engine URL>[?|&]database=<db>&output_format=JSON_Compact
 *     with the SQL as the plain-text body -> one JSON object
 *     {query, meta: [{name, type}], data: [[...], ...], rows, statistics}.
 *     `data` is cut at row boundaries by host->http_json_stream, so memory
 *     does not grow with the result; `meta` arrives first and declares the
 *     columns.
 *
 * Errors: a non-2xx answer carries Firebolt's structured errors
 * ({"errors": [{name, code, severity, description, location, ...}]}), the
 * API gateway's {"error", "code", "message"}, an OAuth {"error",
 * "error_description"} or plain text; any of them becomes one message with
 * the query's first line, the HTTP status and Firebolt's own words.  429
 * and 5xx are RETRY (the host has already retried them), as is a transfer
 * that broke off; everything else is ERROR.
 *
 * One tool, "firebolt_query", runs a single read-only SELECT/WITH statement.
 */
#include <revops/revops.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "firebolt_common.h"

#define WHAT_MAX 160        /* "query 'first line...'" */
#define BODY_EXCERPT 400    /* at most this much of a non-JSON error body */

/* ------------------------------------------------------------ buffer -- */

typedef struct buf {
    char *s;
    size_t len, cap;
} buf;

static int buf_reserve(buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->s, cap);
    if (!p) return -1;
    b->s = p;
    b->cap = cap;
    return 0;
}

static int buf_add(buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

static int buf_str(buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

static int buf_printf(buf *b, const char *fmt, ...) REVOPS_PRINTF(2, 3);
static int buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) < 0) return -1;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

static void buf_clear(buf *b)
{
    b->len = 0;
    if (b->s) b->s[0] = '\0';
}

static void buf_free(buf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

/* ---------------------------------------------------------- instance -- */

typedef struct fb_ctx {
    revops_instance *self;
    const revops_host *host;
    const char *client_id, *client_secret, *account, *database, *engine, *engine_url_opt;
    const char *id_url, *api_url, *audience;
    const char *form[9];
    revops_oauth_request oauth;
    char *engine_url;        /* resolved once: canonical, may carry ?params */
} fb_ctx;

/* "query 'SELECT a, b FROM t'" from the first non-empty line, shortened. */
static void describe_query(const char *prefix, const char *sql, char *out, size_t n)
{
    const char *p = sql ? sql : "";
    while (*p && isspace((unsigned char)*p)) p++;
    size_t len = strcspn(p, "\r\n");
    while (len && isspace((unsigned char)p[len - 1])) len--;
    int more = p[len] != '\0' && p[len + strspn(p + len, " \t\r\n")] != '\0';
    if (len > 100) {
        len = 100;
        more = 1;
    }
    snprintf(out, n, "%s '%.*s%s'", prefix, (int)len, p, more ? " ..." : "");
}

/* Authority of a URL, for messages: never the path or the query string. */
static void url_host(const char *url, char *out, size_t n)
{
    const char *s = strstr(url, "://");
    s = s ? s + 3 : url;
    snprintf(out, n, "%.*s", (int)strcspn(s, "/?#"), s);
}

/* ------------------------------------------------- Firebolt's errors -- */

/* Firebolt's own words from an error body: structured "errors", the API
 * gateway's "message"/"error", OAuth's "error_description", or the text. */
static void firebolt_message(fb_ctx *c, const char *body, size_t len, buf *out)
{
    const revops_host *h = c->host;
    buf_clear(out);
    while (len && isspace((unsigned char)*body)) { body++; len--; }
    while (len && isspace((unsigned char)body[len - 1])) len--;
    if (!len) {
        buf_str(out, "(no error text in the response)");
        return;
    }
    revops_json *root = body[0] == '{' ? h->json_parse(body, len, NULL, 0) : NULL;
    if (root && h->json_type(root) == REVOPS_JSON_OBJECT) {
        revops_json *errs = h->json_get(root, "errors");
        size_t n = errs ? h->json_len(errs) : 0;
        for (size_t i = 0; i < n; i++) {
            revops_json *e = h->json_index(errs, i);
            const char *desc = h->json_string(h->json_get(e, "description"));
            const char *name = h->json_string(h->json_get(e, "name"));
            const char *code = h->json_string(h->json_get(e, "code"));
            const char *res = h->json_string(h->json_get(e, "resolution"));
            revops_json *line = h->json_get(e, "location.failingLine");
            if (out->len) buf_str(out, "; ");
            buf_str(out, desc ? desc : "(no description)");
            if (name || code) {
                buf_str(out, " (");
                if (name) buf_str(out, name);
                if (code) buf_printf(out, "%s%s", name ? " " : "", code);
                buf_str(out, ")");
            }
            if (line && (h->json_type(line) == REVOPS_JSON_INT))
                buf_printf(out, " at line %lld", (long long)h->json_int(line));
            if (res) buf_printf(out, "; %s", res);
        }
        if (!out->len) {
            const char *msg = h->json_string(h->json_get(root, "message"));
            const char *err = h->json_string(h->json_get(root, "error"));
            const char *desc = h->json_string(h->json_get(root, "error_description"));
            if (msg && *msg) buf_str(out, msg);
            else if (err && *err) buf_printf(out, "%s%s%s", err, desc ? ": " : "", desc ? desc : "");
            else if (desc) buf_str(out, desc);
        }
    }
    if (root) h->json_free(root);
    if (!out->len) {
        /* Plain text (or JSON we do not know): one line of it. */
        size_t n = len < BODY_EXCERPT ? len : BODY_EXCERPT;
        for (size_t i = 0; i < n; i++) {
            char ch = body[i];
            buf_add(out, isspace((unsigned char)ch) || !isprint((unsigned char)ch) ? " " : &ch, 1);
        }
        if (len > n) buf_str(out, " ...");
    }
}

static int transient(long status)
{
    return status == 429 || status >= 500;
}

/* One message for a failed request: what, HTTP status, Firebolt's words. */
static revops_status fail_http(fb_ctx *c, const char *what, const revops_http_response *resp)
{
    buf msg = { 0 };
    firebolt_message(c, resp->body ? resp->body : "", resp->body ? resp->body_len : 0, &msg);
    int retry = transient(resp->status);
    const char *note = retry ? (resp->attempts > 1 ? " (transient; retried, still failing)" : " (transient)")
                     : resp->status == 401 ? " (refused with a fresh access token too: is the service account's "
                                             "user granted this account, engine and database?)"
                     : "";
    c->host->error(c->self, "Firebolt %s failed: HTTP %ld: %s%s", what, resp->status, msg.s ? msg.s : "", note);
    buf_free(&msg);
    return retry ? REVOPS_RETRY : REVOPS_ERROR;
}

/* A request that ended without a usable HTTP answer.  The host has the
 * transport's own reason (logged at debug level); we say what we know. */
static revops_status fail_transport(fb_ctx *c, const char *what, const char *url, revops_status st,
                                    const revops_http_response *resp, long long rows)
{
    char host[200];
    url_host(url, host, sizeof host);
    if (resp->status >= 200 && resp->status < 300) {
        if (st == REVOPS_RETRY)
            c->host->error(c->self, "Firebolt %s: the response from %s (HTTP %ld) broke off after %lld rows (transient)",
                           what, host, resp->status, rows);
        else
            c->host->error(c->self, "Firebolt %s: the response from %s (HTTP %ld) is not valid JSON (after %lld rows)",
                           what, host, resp->status, rows);
    } else if (st == REVOPS_RETRY) {
        c->host->error(c->self, "Firebolt %s: no complete answer from %s: timeout or connection failure after %d attempt%s",
                       what, host, resp->attempts, resp->attempts == 1 ? "" : "s");
    } else {
        c->host->error(c->self, "Firebolt %s: the request to %s failed before any HTTP answer "
                       "(not retryable, e.g. TLS or address; REVOPS_LOG_LEVEL=debug shows the transport's reason)",
                       what, host);
    }
    return st == REVOPS_OK ? REVOPS_ERROR : st;
}

/* ----------------------------------------------------- authenticated -- */

/* One request with a bearer token; after a 401, one fresh token and one
 * more try.  With fn the 2xx body is streamed.  *token_failed says that the
 * token endpoint failed (the host has then said why). */
static revops_status send_authed(fb_ctx *c, const char *method, const char *url, const char *content_type,
                                 const char *body, const char *array_member, revops_json_member_fn fn, void *data,
                                 revops_http_response *resp, int *token_failed)
{
    const revops_host *h = c->host;
    *token_failed = 0;
    memset(resp, 0, sizeof *resp);
    for (int attempt = 0;; attempt++) {
        const char *token = NULL;
        revops_status st = h->oauth_token(c->self, &c->oauth, &token);
        if (st != REVOPS_OK || !token) {
            *token_failed = 1;
            return st == REVOPS_OK ? REVOPS_ERROR : st;
        }
        size_t alen = strlen(token) + 32;
        char *auth = malloc(alen);
        if (!auth) {
            h->error(c->self, "out of memory");
            return REVOPS_ERROR;
        }
        snprintf(auth, alen, "Authorization: Bearer %s", token);
        char ctype[128];
        snprintf(ctype, sizeof ctype, "Content-Type: %s", content_type ? content_type : "text/plain");
        const char *headers[] = { auth, "Accept: application/json", body ? ctype : NULL, NULL };
        revops_http_request req = { method, url, headers, body, body ? strlen(body) : 0, 0, 0 };
        st = fn ? h->http_json_stream(c->self, &req, array_member, fn, data, resp) : h->http(c->self, &req, resp);
        memset(auth, 0, alen);   /* the token does not outlive the request */
        free(auth);
        if (st == REVOPS_OK && resp->status == 401 && attempt == 0) {
            h->log(c->self, REVOPS_LOG_INFO, "Firebolt answered 401: asking for a fresh access token");
            h->http_free(resp);
            memset(resp, 0, sizeof *resp);
            h->oauth_invalidate(c->self, &c->oauth);
            continue;
        }
        return st;
    }
}

/* --------------------------------------------------- engine discovery -- */

static char *single_quoted(const char *s)
{
    buf b = { 0 };
    buf_str(&b, "'");
    for (const char *p = s; *p; p++) {
        buf_add(&b, p, 1);
        if (*p == '\'') buf_add(&b, "'", 1);   /* SQL doubles a quote inside a literal */
    }
    buf_str(&b, "'");
    return b.s;
}

/* The engine URL queries go to: the option, or the account's system engine
 * (GET .../engineUrl), then the user engine's url from information_schema. */
static revops_status resolve_engine(fb_ctx *c)
{
    const revops_host *h = c->host;
    if (c->engine_url) return REVOPS_OK;
    if (c->engine_url_opt && *c->engine_url_opt) {
        c->engine_url = canonical_url(c->engine_url_opt);
        return c->engine_url ? REVOPS_OK : REVOPS_ERROR;
    }
    char what[WHAT_MAX + 64];
    snprintf(what, sizeof what, "engine URL lookup for account '%.80s'", c->account);
    char *acct = h->url_encode(c->account);
    buf url = { 0 };
    size_t alen = strlen(c->api_url);
    while (alen && c->api_url[alen - 1] == '/') alen--;
    buf_add(&url, c->api_url, alen);
    buf_printf(&url, "/web/v3/account/%s/engineUrl", acct);
    h->free(acct);

    revops_http_response resp;
    int token_failed;
    revops_status st = send_authed(c, "GET", url.s, NULL, NULL, NULL, NULL, NULL, &resp, &token_failed);
    if (st != REVOPS_OK || resp.status < 200 || resp.status > 299) {
        if (!token_failed) st = st == REVOPS_OK || resp.status ? fail_http(c, what, &resp)
                                                               : fail_transport(c, what, url.s, st, &resp, 0);
        h->http_free(&resp);
        buf_free(&url);
        return st;
    }
    char perr[200] = "";
    revops_json *root = h->json_parse(resp.body ? resp.body : "", resp.body_len, perr, sizeof perr);
    const char *sys = root ? h->json_string(h->json_get(root, "engineUrl")) : NULL;
    char *system_url = sys && *sys ? canonical_url(sys) : NULL;
    if (root) h->json_free(root);
    h->http_free(&resp);
    buf_free(&url);
    if (!system_url) {
        h->error(c->self, "Firebolt %s: the answer has no \"engineUrl\"%s%s", what, *perr ? ": " : "", perr);
        return REVOPS_ERROR;
    }
    if (!c->engine || !*c->engine) {
        c->engine_url = system_url;
        char host[200];
        url_host(system_url, host, sizeof host);
        h->log(c->self, REVOPS_LOG_DEBUG, "account '%s': queries go to the system engine at %s", c->account, host);
        return REVOPS_OK;
    }

    /* The user engine's URL, from the system engine. */
    snprintf(what, sizeof what, "lookup of engine '%.60s' in account '%.60s'", c->engine, c->account);
    char *lit = single_quoted(c->engine);
    buf sql = { 0 };
    buf_printf(&sql, "SELECT url FROM information_schema.engines WHERE engine_name=%s", lit);
    free(lit);
    char *qurl = with_params(system_url, "output_format=JSON_Compact");
    free(system_url);
    st = send_authed(c, "POST", qurl, "text/plain; charset=utf-8", sql.s, NULL, NULL, NULL, &resp, &token_failed);
    buf_free(&sql);
    if (st != REVOPS_OK || resp.status < 200 || resp.status > 299) {
        if (!token_failed) st = st == REVOPS_OK || resp.status ? fail_http(c, what, &resp)
                                                               : fail_transport(c, what, qurl, st, &resp, 0);
        h->http_free(&resp);
        free(qurl);
        return st;
    }
    free(qurl);
    root = h->json_parse(resp.body ? resp.body : "", resp.body_len, perr, sizeof perr);
    revops_json *errs = root ? h->json_get(root, "errors") : NULL;
    if (errs && h->json_len(errs) > 0) {
        st = fail_http(c, what, &resp);
        h->json_free(root);
        h->http_free(&resp);
        return st;
    }
    const char *u = root ? h->json_string(h->json_get(root, "data.0.0")) : NULL;
    if (!u || !*u) {
        if (!root)
            h->error(c->self, "Firebolt %s: the answer is not JSON: %s", what, perr);
        else
            h->error(c->self, "Firebolt %s: the account has no engine named '%s' (or the service account's user "
                     "cannot see it)", what, c->engine);
        if (root) h->json_free(root);
        h->http_free(&resp);
        return REVOPS_ERROR;
    }
    c->engine_url = canonical_url(u);
    h->json_free(root);
    h->http_free(&resp);
    char host[200];
    url_host(c->engine_url, host, sizeof host);
    h->log(c->self, REVOPS_LOG_DEBUG, "engine '%s' of account '%s' is at %s", c->engine, c->account, host);
    return REVOPS_OK;
}

/* ------------------------------------------------------------ typing -- */

/* Firebolt type name -> revops type: "bigint", "int null", "Nullable(Int64)",
 * "numeric(38, 9)", "double precision", "timestamptz", "array(int)" ... */
static revops_type firebolt_type(const char *name)
{
    char t[128];
    size_t n = 0;
    const char *p = name ? name : "";
    while (*p && isspace((unsigned char)*p)) p++;
    for (; *p && n < sizeof t - 1; p++) t[n++] = (char)tolower((unsigned char)*p);
    t[n] = '\0';
    while (n && isspace((unsigned char)t[n - 1])) t[--n] = '\0';
    char *s = t;
    if (strncmp(s, "nullable(", 9) == 0 && n > 10 && t[n - 1] == ')') {
        t[--n] = '\0';
        s += 9;
    }
    size_t sl = strlen(s);
    if (sl > 9 && strcmp(s + sl - 9, " not null") == 0) s[sl - 9] = '\0';
    else if (sl > 5 && strcmp(s + sl - 5, " null") == 0) s[sl - 5] = '\0';
    char word[32];
    size_t w = 0;
    while (s[w] && (isalnum((unsigned char)s[w]) || s[w] == '_') && w < sizeof word - 1) {
        word[w] = s[w];
        w++;
    }
    word[w] = '\0';
    static const char *const ints[] = { "int", "integer", "bigint", "long", "smallint", "tinyint", "int2", "int4",
                                        "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", NULL };
    static const char *const reals[] = { "double", "float", "float4", "float8", "float32", "float64", "real",
                                         "decimal", "numeric", NULL };
    static const char *const dates[] = { "date", "pgdate", "date32", "date_ext", NULL };
    static const char *const stamps[] = { "timestamp", "timestamptz", "timestampntz", "timestamp_ext", "timestampext",
                                          "datetime", "datetime64", NULL };
    for (int i = 0; ints[i]; i++) if (!strcmp(word, ints[i])) return REVOPS_TYPE_INT;
    for (int i = 0; reals[i]; i++) if (!strcmp(word, reals[i])) return REVOPS_TYPE_REAL;
    if (!strcmp(word, "boolean") || !strcmp(word, "bool")) return REVOPS_TYPE_BOOL;
    for (int i = 0; dates[i]; i++) if (!strcmp(word, dates[i])) return REVOPS_TYPE_DATE;
    for (int i = 0; stamps[i]; i++) if (!strcmp(word, stamps[i])) return REVOPS_TYPE_TIMESTAMP;
    return REVOPS_TYPE_TEXT;
}

/* A JSON value as compact JSON text (arrays, objects: TEXT cells). */
static void json_text(const revops_host *h, revops_json *j, buf *out)
{
    switch (h->json_type(j)) {
    case REVOPS_JSON_NULL: buf_str(out, "null"); break;
    case REVOPS_JSON_BOOL: buf_str(out, h->json_int(j) ? "true" : "false"); break;
    case REVOPS_JSON_INT: buf_printf(out, "%lld", (long long)h->json_int(j)); break;
    case REVOPS_JSON_REAL: {
        double d = h->json_real(j);
        char tmp[40];
        snprintf(tmp, sizeof tmp, "%.15g", d);
        if (strtod(tmp, NULL) != d) snprintf(tmp, sizeof tmp, "%.17g", d);
        buf_str(out, tmp);
        break;
    }
    case REVOPS_JSON_STRING: {
        char *q = h->json_quote(h->json_string(j));
        buf_str(out, q ? q : "\"\"");
        h->free(q);
        break;
    }
    case REVOPS_JSON_ARRAY: {
        buf_str(out, "[");
        for (size_t i = 0, n = h->json_len(j); i < n; i++) {
            if (i) buf_str(out, ",");
            json_text(h, h->json_index(j, i), out);
        }
        buf_str(out, "]");
        break;
    }
    case REVOPS_JSON_OBJECT: {
        buf_str(out, "{");
        for (size_t i = 0, n = h->json_object_len(j); i < n; i++) {
            if (i) buf_str(out, ",");
            char *q = h->json_quote(h->json_object_key(j, i));
            buf_str(out, q ? q : "\"\"");
            h->free(q);
            buf_str(out, ":");
            json_text(h, h->json_object_value(j, i), out);
        }
        buf_str(out, "}");
        break;
    }
    }
}

/* --------------------------------------------------------- streaming -- */

enum stop_reason { RUNNING = 0, STOP_LIMIT, STOP_CONSUMER, STOP_BAD_DATA };

typedef struct query_state {
    fb_ctx *c;
    revops_stream *out;
    const char *what;
    int64_t limit;
    int64_t rows;               /* rows handed to the stream by this request */
    size_t ncols;
    revops_column *cols;        /* names owned */
    revops_value *cells;
    buf *text;                  /* one scratch buffer per column */
    int have_meta;
    enum stop_reason stop;
    revops_status consumer_status;
    buf err;                    /* why the data was refused */
    int64_t rows_member;        /* the response's "rows", -1 if absent */
    double elapsed;             /* statistics.elapsed, -1 if absent */
    int64_t rows_read;
} query_state;

static void state_free_columns(query_state *q)
{
    for (size_t i = 0; i < q->ncols; i++) {
        free((char *)q->cols[i].name);
        buf_free(&q->text[i]);
    }
    free(q->cols);
    free(q->cells);
    free(q->text);
    q->cols = NULL;
    q->cells = NULL;
    q->text = NULL;
    q->ncols = 0;
}

static revops_status bad_data(query_state *q, const char *fmt, ...) REVOPS_PRINTF(2, 3);
static revops_status bad_data(query_state *q, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    buf_clear(&q->err);
    if (n >= 0 && buf_reserve(&q->err, (size_t)n) == 0) {
        va_start(ap, fmt);
        vsnprintf(q->err.s, (size_t)n + 1, fmt, ap);
        va_end(ap);
        q->err.len = (size_t)n;
    }
    q->stop = STOP_BAD_DATA;
    return REVOPS_ERROR;
}

static revops_status on_meta(query_state *q, revops_json *meta)
{
    const revops_host *h = q->c->host;
    size_t n = h->json_len(meta);
    if (h->json_type(meta) != REVOPS_JSON_ARRAY || n == 0)
        return bad_data(q, "\"meta\" is not a non-empty array of columns");
    if (q->have_meta) {
        /* The host retried the request before any row arrived: the same
         * result must come back. */
        int same = n == q->ncols;
        for (size_t i = 0; same && i < n; i++) {
            const char *name = h->json_string(h->json_get(h->json_index(meta, i), "name"));
            same = name && strcmp(name, q->cols[i].name) == 0;
        }
        if (!same) return bad_data(q, "the columns changed when the request was retried");
        return h->stream_columns(q->out, q->ncols, q->cols);
    }
    q->cols = calloc(n, sizeof *q->cols);
    q->cells = calloc(n, sizeof *q->cells);
    q->text = calloc(n, sizeof *q->text);
    if (!q->cols || !q->cells || !q->text) return bad_data(q, "out of memory");
    q->ncols = n;
    for (size_t i = 0; i < n; i++) {
        revops_json *col = h->json_index(meta, i);
        const char *name = h->json_string(h->json_get(col, "name"));
        const char *type = h->json_string(h->json_get(col, "type"));
        if (!name || !type) return bad_data(q, "\"meta\" entry %zu has no name or type", i + 1);
        q->cols[i].name = strdup(name);
        if (!q->cols[i].name) return bad_data(q, "out of memory");
        q->cols[i].type = firebolt_type(type);
        h->log(q->c->self, REVOPS_LOG_DEBUG, "column %s: Firebolt %s", name, type);
    }
    q->have_meta = 1;
    revops_status st = h->stream_columns(q->out, n, q->cols);
    if (st != REVOPS_OK) {
        q->stop = STOP_CONSUMER;
        q->consumer_status = st;
    }
    return st;
}

/* What a JSON value is, for "Firebolt sent ..." */
static void describe_value(const revops_host *h, revops_json *v, char *out, size_t n)
{
    switch (h->json_type(v)) {
    case REVOPS_JSON_STRING: {
        const char *s = h->json_string(v);
        snprintf(out, n, "the string \"%.40s%s\"", s, strlen(s) > 40 ? "..." : "");
        break;
    }
    case REVOPS_JSON_BOOL: snprintf(out, n, "the boolean %s", h->json_int(v) ? "true" : "false"); break;
    case REVOPS_JSON_INT: snprintf(out, n, "the integer %lld", (long long)h->json_int(v)); break;
    case REVOPS_JSON_REAL: snprintf(out, n, "the number %g", h->json_real(v)); break;
    case REVOPS_JSON_ARRAY: snprintf(out, n, "an array"); break;
    case REVOPS_JSON_OBJECT: snprintf(out, n, "an object"); break;
    default: snprintf(out, n, "null"); break;
    }
}

static int parse_int(const char *s, int64_t *out)
{
    if (!s || !*s || isspace((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

static int parse_real(const char *s, double *out)
{
    if (!s || !*s || isspace((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || (errno == ERANGE && v != 0)) return -1;
    *out = v;
    return 0;
}

/* One cell, typed by its column; -1 when the value does not fit. */
static int convert_cell(query_state *q, size_t i, revops_json *v, revops_value *cell)
{
    const revops_host *h = q->c->host;
    revops_type want = q->cols[i].type;
    revops_json_type jt = h->json_type(v);
    memset(cell, 0, sizeof *cell);
    if (jt == REVOPS_JSON_NULL) {
        cell->type = REVOPS_TYPE_NULL;
        return 0;
    }
    const char *s = jt == REVOPS_JSON_STRING ? h->json_string(v) : NULL;
    switch (want) {
    case REVOPS_TYPE_INT:
        cell->type = REVOPS_TYPE_INT;
        if (jt == REVOPS_JSON_INT) { cell->v.i = h->json_int(v); return 0; }
        if (jt == REVOPS_JSON_REAL) {
            double d = h->json_real(v);
            if (d >= -9007199254740992.0 && d <= 9007199254740992.0 && d == (double)(int64_t)d) {
                cell->v.i = (int64_t)d;
                return 0;
            }
            return -1;
        }
        return s && parse_int(s, &cell->v.i) == 0 ? 0 : -1;   /* 64-bit integers may come quoted */
    case REVOPS_TYPE_REAL:
        cell->type = REVOPS_TYPE_REAL;
        if (jt == REVOPS_JSON_INT || jt == REVOPS_JSON_REAL) { cell->v.r = h->json_real(v); return 0; }
        return s && parse_real(s, &cell->v.r) == 0 ? 0 : -1;  /* decimals, "nan", "inf" come as text */
    case REVOPS_TYPE_BOOL:
        cell->type = REVOPS_TYPE_BOOL;
        if (jt == REVOPS_JSON_BOOL) { cell->v.b = h->json_int(v) != 0; return 0; }
        if (jt == REVOPS_JSON_INT && (h->json_int(v) == 0 || h->json_int(v) == 1)) { cell->v.b = (int)h->json_int(v); return 0; }
        if (s && (!strcasecmp(s, "true") || !strcasecmp(s, "t") || !strcmp(s, "1"))) { cell->v.b = 1; return 0; }
        if (s && (!strcasecmp(s, "false") || !strcasecmp(s, "f") || !strcmp(s, "0"))) { cell->v.b = 0; return 0; }
        return -1;
    case REVOPS_TYPE_DATE:
    case REVOPS_TYPE_TIMESTAMP: {
        if (!s || h->date_days(s) == INT64_MIN) return -1;
        size_t len = strlen(s);
        /* timestamptz comes with the session's offset; UTC's is dropped so
         * the text is the plain "YYYY-MM-DD HH:MM:SS[.ffffff]" revops uses. */
        if (want == REVOPS_TYPE_TIMESTAMP) {
            if (len >= 20 && s[len - 1] == 'Z') len--;
            else if (len >= 25 && !strcmp(s + len - 6, "+00:00")) len -= 6;
            else if (len >= 22 && !strcmp(s + len - 3, "+00")) len -= 3;
        }
        if (want == REVOPS_TYPE_DATE && len > 10 && h->date_days(s) != INT64_MIN && (s[10] == ' ' || s[10] == 'T'))
            len = 10;
        buf *b = &q->text[i];
        buf_clear(b);
        if (buf_add(b, s, len) < 0) return -1;
        cell->type = want;
        cell->v.text.s = b->s;
        cell->v.text.len = b->len;
        return 0;
    }
    default: {
        cell->type = REVOPS_TYPE_TEXT;
        if (s) {
            cell->v.text.s = s;
            cell->v.text.len = strlen(s);
            return 0;
        }
        buf *b = &q->text[i];
        buf_clear(b);
        json_text(h, v, b);
        cell->v.text.s = b->s ? b->s : "";
        cell->v.text.len = b->len;
        return 0;
    }
    }
}

static revops_status on_row(query_state *q, revops_json *row)
{
    const revops_host *h = q->c->host;
    if (!q->have_meta) return bad_data(q, "rows arrived before \"meta\" declared the columns");
    if (h->json_type(row) != REVOPS_JSON_ARRAY)
        return bad_data(q, "row %lld is not an array", (long long)q->rows + 1);
    if (h->json_len(row) != q->ncols)
        return bad_data(q, "row %lld has %zu values, but \"meta\" declares %zu columns", (long long)q->rows + 1,
                        h->json_len(row), q->ncols);
    for (size_t i = 0; i < q->ncols; i++) {
        revops_json *v = h->json_index(row, i);
        if (convert_cell(q, i, v, &q->cells[i]) < 0) {
            char got[80];
            describe_value(h, v, got, sizeof got);
            static const char *const names[] = { "null", "integer", "double", "text", "boolean", "date", "timestamp" };
            return bad_data(q, "row %lld, column '%s': \"meta\" says %s, but Firebolt sent %s", (long long)q->rows + 1,
                            q->cols[i].name, names[q->cols[i].type], got);
        }
    }
    revops_status st = h->stream_row(q->out, q->cells);
    if (st != REVOPS_OK) {
        q->stop = STOP_CONSUMER;
        q->consumer_status = st;
        return st;
    }
    q->rows++;
    if (q->limit > 0 && q->rows >= q->limit) {
        q->stop = STOP_LIMIT;
        return REVOPS_ERROR;   /* ends the transfer; not a failure */
    }
    return REVOPS_OK;
}

static revops_status on_member(void *data, const char *member, revops_json *value)
{
    query_state *q = data;
    const revops_host *h = q->c->host;
    if (!strcmp(member, "data")) return on_row(q, value);
    if (!strcmp(member, "meta")) return on_meta(q, value);
    if (!strcmp(member, "rows")) {
        q->rows_member = h->json_type(value) == REVOPS_JSON_INT ? h->json_int(value) : -1;
    } else if (!strcmp(member, "statistics")) {
        revops_json *e = h->json_get(value, "elapsed"), *r = h->json_get(value, "rows_read");
        if (e) q->elapsed = h->json_real(e);
        if (r) q->rows_read = h->json_int(r);
    } else if (!strcmp(member, "errors") && h->json_len(value) > 0) {
        /* Errors inside a 2xx answer: Firebolt's structured form. */
        buf msg = { 0 };
        buf wrap = { 0 };
        buf_str(&wrap, "{\"errors\":");
        json_text(h, value, &wrap);
        buf_str(&wrap, "}");
        firebolt_message(q->c, wrap.s, wrap.len, &msg);
        revops_status st = bad_data(q, "%s", msg.s ? msg.s : "");
        buf_free(&msg);
        buf_free(&wrap);
        return st;
    }
    return REVOPS_OK;
}

/* POST the SQL to the engine and stream its rows.  `limit` 0: all. */
static revops_status run_query(fb_ctx *c, const char *sql, int64_t limit, const char *what, revops_stream *out)
{
    const revops_host *h = c->host;
    revops_status st = resolve_engine(c);
    if (st != REVOPS_OK) return st;
    char *db = h->url_encode(c->database);
    buf params = { 0 };
    buf_printf(&params, "database=%s&output_format=JSON_Compact", db);
    h->free(db);
    char *url = with_params(c->engine_url, params.s);
    buf_free(&params);

    query_state q = { .c = c, .out = out, .what = what, .limit = limit, .rows_member = -1, .elapsed = -1,
                      .rows_read = -1 };
    revops_http_response resp;
    int token_failed;
    st = send_authed(c, "POST", url, "text/plain; charset=utf-8", sql, "data", on_member, &q, &resp, &token_failed);

    if (q.stop == STOP_LIMIT) {
        st = REVOPS_OK;
    } else if (q.stop == STOP_CONSUMER) {
        st = q.consumer_status;   /* the core knows why */
    } else if (q.stop == STOP_BAD_DATA) {
        h->error(c->self, "Firebolt %s: %s", what, q.err.s ? q.err.s : "invalid response");
        st = REVOPS_ERROR;
    } else if (token_failed) {
        /* the host said why the token request failed */
    } else if (st == REVOPS_OK && resp.status >= 200 && resp.status <= 299) {
        if (!q.have_meta) {
            h->error(c->self, "Firebolt %s: the answer (HTTP %ld) has no \"meta\": the statement returns no result set",
                     what, resp.status);
            st = REVOPS_ERROR;
        } else if (q.rows_member >= 0 && q.rows_member != q.rows) {
            h->error(c->self, "Firebolt %s: the answer says %lld rows but carried %lld", what,
                     (long long)q.rows_member, (long long)q.rows);
            st = REVOPS_ERROR;
        }
    } else if (resp.status >= 300 && (st == REVOPS_OK || transient(resp.status))) {
        st = fail_http(c, what, &resp);
    } else {
        st = fail_transport(c, what, url, st, &resp, (long long)q.rows);
    }
    if (st == REVOPS_OK)
        h->log(c->self, REVOPS_LOG_DEBUG, "%s: %lld rows%s", what, (long long)q.rows,
               q.stop == STOP_LIMIT ? " (row limit reached)" : "");
    if (q.elapsed >= 0)
        h->log(c->self, REVOPS_LOG_DEBUG, "Firebolt statistics: elapsed %.3fs, rows_read %lld", q.elapsed,
               (long long)q.rows_read);
    h->http_free(&resp);
    free(url);
    state_free_columns(&q);
    buf_free(&q.err);
    return st;
}

static revops_status fb_fetch(void *ctx, const revops_query *query, revops_stream *out)
{
    fb_ctx *c = ctx;
    char what[WHAT_MAX];
    if (!query->text || !*query->text) {
        c->host->error(c->self, "the query for dataset '%s' has no SQL text", query->dataset ? query->dataset : "?");
        return REVOPS_ERROR;
    }
    describe_query("query", query->text, what, sizeof what);
    return run_query(c, query->text, query->row_limit, what, out);
}

/* -------------------------------------------------------------- tool -- */

/* Skip whitespace and SQL comments. */
static const char *skip_space(const char *p)
{
    for (;;) {
        while (*p && isspace((unsigned char)*p)) p++;
        if (p[0] == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
        } else if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            p = end ? end + 2 : p + strlen(p);
        } else {
            return p;
        }
    }
}

/* NULL when `sql` is one read-only SELECT/WITH statement, else why not. */
static const char *read_only_problem(const char *sql, char *why, size_t n)
{
    const char *p = skip_space(sql);
    size_t k = 0;
    while (isalpha((unsigned char)p[k])) k++;
    if (!((k == 6 && !strncasecmp(p, "SELECT", 6)) || (k == 4 && !strncasecmp(p, "WITH", 4)))) {
        snprintf(why, n, "only a SELECT or WITH statement is allowed (got '%.*s')", (int)(k > 20 ? 20 : k), p);
        return why;
    }
    static const char *const writes[] = { "INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE", "DROP", "ALTER",
                                          "CREATE", "COPY", "GRANT", "REVOKE", "VACUUM", "USE", "SET", "CALL", NULL };
    /* Walk the statement outside literals and comments: no second
     * statement, no writing keyword (e.g. WITH ... INSERT). */
    while (*p) {
        if (*p == '\'' || *p == '"') {
            char qch = *p++;
            while (*p && !(*p == qch && p[1] != qch)) p += (*p == qch) ? 2 : 1;
            if (*p) p++;
        } else if ((p[0] == '-' && p[1] == '-') || (p[0] == '/' && p[1] == '*')) {
            p = skip_space(p);
        } else if (*p == ';') {
            if (*skip_space(p + 1)) {
                snprintf(why, n, "only one statement is allowed");
                return why;
            }
            p++;
        } else if (isalpha((unsigned char)*p) || *p == '_') {
            size_t w = 0;
            while (isalnum((unsigned char)p[w]) || p[w] == '_') w++;
            for (int i = 0; writes[i]; i++)
                if (strlen(writes[i]) == w && !strncasecmp(p, writes[i], w)) {
                    snprintf(why, n, "the statement is not read-only (it contains %s)", writes[i]);
                    return why;
                }
            p += w;
        } else {
            p++;
        }
    }
    return NULL;
}

static revops_status fb_call_tool(void *ctx, const char *tool, const char *input_json, revops_stream *out)
{
    fb_ctx *c = ctx;
    const revops_host *h = c->host;
    if (!tool || strcmp(tool, "firebolt_query") != 0) {
        h->error(c->self, "unknown tool '%s' (this source offers firebolt_query)", tool ? tool : "");
        return REVOPS_ERROR;
    }
    char err[256] = "";
    revops_json *root = input_json ? h->json_parse(input_json, strlen(input_json), err, sizeof err) : NULL;
    if (!root || h->json_type(root) != REVOPS_JSON_OBJECT) {
        h->error(c->self, "tool firebolt_query: the input is not a JSON object%s%s", *err ? ": " : "", err);
        if (root) h->json_free(root);
        return REVOPS_ERROR;
    }
    revops_json *sql = h->json_get(root, "sql"), *lim = h->json_get(root, "limit");
    revops_status st = REVOPS_ERROR;
    int64_t limit = 0;
    char why[160];
    for (size_t i = 0, n = h->json_object_len(root); i < n; i++) {
        const char *k = h->json_object_key(root, i);
        if (strcmp(k, "sql") != 0 && strcmp(k, "limit") != 0) {
            h->error(c->self, "tool firebolt_query: unknown input member \"%s\" (allowed: sql, limit)", k);
            h->json_free(root);
            return REVOPS_ERROR;
        }
    }
    if (!sql || h->json_type(sql) != REVOPS_JSON_STRING) {
        h->error(c->self, "tool firebolt_query: the input needs \"sql\", a string");
    } else if (lim && (h->json_type(lim) != REVOPS_JSON_INT || (limit = h->json_int(lim)) < 1)) {
        h->error(c->self, "tool firebolt_query: \"limit\" must be an integer >= 1");
    } else if (read_only_problem(h->json_string(sql), why, sizeof why)) {
        h->error(c->self, "tool firebolt_query: %s", why);
    } else {
        char what[WHAT_MAX];
        describe_query("tool firebolt_query", h->json_string(sql), what, sizeof what);
        st = run_query(c, h->json_string(sql), limit, what, out);
    }
    h->json_free(root);
    return st;
}

/* --------------------------------------------------------- lifecycle -- */

static void fb_close(void *ctx)
{
    fb_ctx *c = ctx;
    if (!c) return;
    free(c->engine_url);
    free(c);
}

static revops_status fb_open(revops_instance *self, const revops_host *host, const revops_options *opts, void **ctx)
{
    if (host->abi_minor < 1 || !host->oauth_token || !host->oauth_invalidate || !host->http_json_stream ||
        !host->url_encode || !host->json_object_len || !host->json_object_key || !host->json_object_value) {
        host->error(self, "this revops is too old for the firebolt source (it needs host services 1.1)");
        return REVOPS_ERROR;
    }
    fb_ctx *c = calloc(1, sizeof *c);
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
    if (fb_check_login_options(host, self, c->client_id, c->client_secret, c->account, c->engine_url_opt) != 0) {
        fb_close(c);
        return REVOPS_ERROR;
    }
    const char *urls[] = { c->id_url, c->api_url, c->engine_url_opt };
    fb_warn_plain_http(host, self, urls);
    if (c->engine_url_opt && *c->engine_url_opt && c->engine && *c->engine)
        host->log(self, REVOPS_LOG_WARN, "engine_url is set: the engine option ('%s') is not used", c->engine);
    fb_oauth_init(&c->oauth, c->form, c->id_url, c->client_id, c->client_secret, c->audience);
    *ctx = c;
    return REVOPS_OK;
}

/* -------------------------------------------------------- descriptor -- */

static const revops_tool tools[] = {
    { "firebolt_query",
      "Run one read-only SQL SELECT or WITH statement on the revenue warehouse (Firebolt) and return its rows; "
      "use limit to cap the number of rows.",
      "{\"type\":\"object\",\"properties\":{\"sql\":{\"type\":\"string\",\"description\":\"one SELECT or WITH "
      "statement in Firebolt SQL\"},\"limit\":{\"type\":\"integer\",\"minimum\":1,\"description\":\"at most this "
      "many rows\"}},\"required\":[\"sql\"],\"additionalProperties\":false}" },
    { NULL, NULL, NULL }
};

static const revops_source_vtable vtable = {
    .open = fb_open,
    .fetch = fb_fetch,
    .close = fb_close,
    .tools = tools,
    .call_tool = fb_call_tool,
    .dialect = "firebolt",
};

static const revops_option_def options[] = {
    { "client_id", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 1,
      "service account id (env:NAME or file:/path)" },
    { "client_secret", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 1,
      "service account secret (env:NAME or file:/path)" },
    { "account", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 0,
      "Firebolt account name; its engine URL is looked up (not needed with engine_url)" },
    { "database", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 0,
      "database the queries run in" },
    { "engine", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 0,
      "user engine to run the queries on (default: the account's system engine)" },
    { "engine_url", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 0,
      "explicit engine URL; skips the engine lookup" },
    { "id_url", REVOPS_OPT_STRING, 0, "https://id.app.firebolt.io/oauth/token", 0, 0, NULL, 0,
      "Firebolt ID token endpoint" },
    { "api_url", REVOPS_OPT_STRING, 0, "https://api.app.firebolt.io", 0, 0, NULL, 0,
      "Firebolt API base URL (engine URL lookup)" },
    { "audience", REVOPS_OPT_STRING, 0, "https://api.firebolt.io", 0, 0, NULL, 0,
      "audience of the access token" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_SOURCE, "firebolt", "1.0.0",
    "rows from Firebolt over its REST API (service account, JSON_Compact, streamed); tool firebolt_query",
    options, { .source = &vtable }
};
