/*
 * source "salesforce": SOQL queries through Salesforce's REST API, one row per
 * record.
 *
 * API (Salesforce's public documentation):
 *   - OAuth 2.0 client credentials flow ("OAuth 2.0 Client Credentials Flow for
 *     Server-to-Server Integration", help.salesforce.com
 *     xcloud.remoteaccess_oauth_client_credentials_flow.htm): POST
 *     {login_url}/services/oauth2/token, form grant_type=client_credentials,
 *     client_id, client_secret -> {"access_token", "instance_url", "id",
 *     "token_type": "Bearer", "issued_at", "signature"}.  There is no expires_in:
 *     the host's token cache keeps the token until the API answers 401.  For
 *     this flow login_url is the org's My Domain URL
 *     (https://MyDomainName.my.salesforce.com).
 *   - OAuth 2.0 JWT bearer flow (xcloud.remoteaccess_oauth_jwt_flow.htm): the
 *     same endpoint, form grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer
 *     and assertion = base64url({"alg":"RS256"}) "." base64url(claims) "."
 *     base64url(RSA-SHA256 signature of the first two parts, with the private
 *     key whose certificate is uploaded to the connected app); claims iss =
 *     client_id (the consumer key), sub = username, aud = the login URL
 *     (https://login.salesforce.com, https://test.salesforce.com or an
 *     Experience Cloud site), exp = seconds since the epoch, at most 3 minutes
 *     ahead.  The signature needs RSA: see "RS256 signing" below.
 *   - Query (REST API Developer Guide, resources_query.htm, dome_query.htm):
 *     GET {instance_url}/services/data/vNN.N/query?q=<SOQL> with
 *     "Authorization: Bearer <token>" -> {"totalSize", "done", "nextRecordsUrl"
 *     (when done is false), "records": [{"attributes": {"type", "url"},
 *     "Field": value, "Relationship": {"attributes": ..., "Field": value}}]}.
 *     The remaining batches: GET {instance_url}{nextRecordsUrl}, no parameters,
 *     until done is true.  "Sforce-Query-Options: batchSize=N" (200..2000,
 *     default 2000; headers_queryoptions.htm) asks for a batch size, which
 *     Salesforce may lower.
 *   - Errors (errorcodes.htm): a JSON array [{"message", "errorCode",
 *     "fields"}]; 401 INVALID_SESSION_ID when the token expired or was revoked
 *     (we invalidate it, take a fresh one and try once more); 403
 *     REQUEST_LIMIT_EXCEEDED when the org's API request limit is used up
 *     (RETRY); 400 MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE for a bad SOQL
 *     (ERROR, with Salesforce's message and the SOQL's first line).
 *
 * Rows: columns follow the SOQL select list (a relationship field such as
 * Account.Name stays "Account.Name"; a compound or nested value is flattened
 * to dotted leaf names).  When the select list holds more than plain field
 * paths (aggregates, TYPEOF, subqueries, FIELDS()), the first record's members
 * are used instead, "attributes" left out.  SELECT COUNT() (answered with
 * totalSize and no records) gives one row with one column, "count".  Types
 * come from the JSON values of the first batch (at most page_size records are
 * held back to decide them): string TEXT, integer INT, other numbers REAL,
 * boolean BOOL; a column null throughout the first batch is TEXT and takes
 * any later value as it comes; a field whose
 * name ends in "Date" is DATE when its values are "YYYY-MM-DD" and TIMESTAMP
 * when they are Salesforce date-times in UTC ("2026-10-01T08:30:00.000+0000" ->
 * "2026-10-01 08:30:00.000").  A later value of another kind is an ERROR that
 * names the field and the record, never a silently wrong cell.
 *
 * Tools: soql_query (any SELECT), get_opportunities and get_accounts (fixed
 * field lists, simple filters).  Secrets (client_id, client_secret,
 * private_key) and tokens never appear in a message or log line.
 */
#include <revops/revops.h>

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SF_JWT_GRANT "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define SF_JWT_LIFETIME 150       /* seconds; Salesforce accepts at most 3 minutes */
#define SF_MAX_PAGES 1000000      /* a locator chain that never ends is a bug on one side */
#define SF_WHAT_MAX 120           /* how much of the SOQL's first line messages quote */

/* --------------------------------------------------------- RS256 signing -- */

/* The JWT bearer flow needs an RSA-SHA256 signature.  Plugins do not link
 * OpenSSL: the host signs (host->sign_rs256). */
typedef revops_status (*sf_sign_rs256_fn)(revops_instance *self, const char *pem_private_key,
                                          const void *data, size_t len, char **b64url_signature);

/* host->sign_rs256 (since 1.1, appended after last_error), when this host has it. */
static sf_sign_rs256_fn host_sign_rs256(const revops_host *h)
{
    if (h->abi_minor < 1 || h->size < offsetof(revops_host, sign_rs256) + sizeof h->sign_rs256) return NULL;
    return h->sign_rs256;
}

/* ------------------------------------------------------------- buffer -- */

/* The contract's string buffer (revops.h). */
typedef revops_buf sbuf;

static void wipe_free(char *s)
{
    if (!s) return;
    volatile char *v = s;
    while (*v) *v++ = 0;
    free(s);
}

/* ----------------------------------------------------------- instance -- */

typedef struct sf_ctx {
    revops_instance *self;
    const revops_host *h;
    char *login_url;           /* without a trailing '/' */
    char *token_url;
    const char *client_id, *client_secret, *username, *private_key;  /* option values */
    const char *api_version;
    int64_t page_size;
    int jwt;
    char *cache_key;           /* client_id (client credentials) or client_id + username (JWT) */
    sf_sign_rs256_fn sign;
} sf_ctx;

/* https:// anywhere; plain http:// only to the loopback interface (tests, a
 * local proxy): a token must not cross a network in clear text. */
static int url_allowed(const char *u)
{
    if (strncasecmp(u, "https://", 8) == 0) return u[8] != '\0' && u[8] != '/';
    if (strncasecmp(u, "http://", 7) != 0) return 0;
    const char *host = u + 7;
    static const char *const loop[] = { "127.0.0.1", "localhost", "[::1]", NULL };
    for (size_t i = 0; loop[i]; i++) {
        size_t n = strlen(loop[i]);
        if (strncasecmp(host, loop[i], n) == 0 && (host[n] == '\0' || host[n] == ':' || host[n] == '/'))
            return 1;
    }
    return 0;
}

static char *strip_slash(const char *s)
{
    char *r = strdup(s);
    if (!r) return NULL;
    size_t n = strlen(r);
    while (n > 0 && r[n - 1] == '/') r[--n] = '\0';
    return r;
}

/* Put `prefix` in front of the host's own message (what a failed http,
 * http_json_stream, oauth_token or sign call said), so that it names the
 * query too.  0 when this host cannot tell its message (no last_error). */
static int with_context(sf_ctx *c, const char *fmt, ...) REVOPS_PRINTF(2, 3);
static int with_context(sf_ctx *c, const char *fmt, ...)
{
    const revops_host *h = c->h;
    if (h->size < offsetof(revops_host, last_error) + sizeof h->last_error || !h->last_error) return 0;
    char prefix[400], said[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    const char *e = h->last_error(c->self);
    snprintf(said, sizeof said, "%s", e && *e ? e : "failed without saying why");  /* a copy: error() rewrites it */
    h->error(c->self, "%s: %s", prefix, said);
    return 1;
}

/* "SELECT Id, Name FROM Opportunity ..." -> "query 'SELECT Id, Name FROM Opportunity ...'":
 * the first non-empty line, shortened, for messages. */
static void query_label(const char *prefix, const char *soql, char *out, size_t n)
{
    const char *p = soql ? soql : "";
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    size_t len = strcspn(p, "\r\n");
    int cut = len > SF_WHAT_MAX || p[len] != '\0';
    if (len > SF_WHAT_MAX) len = SF_WHAT_MAX;
    while (len > 0 && isspace((unsigned char)p[len - 1])) len--;
    snprintf(out, n, "%s '%.*s%s'", prefix, (int)len, p, cut ? " ..." : "");
}

/* ---------------------------------------------------------------- JWT -- */

static char *b64url(const unsigned char *d, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out) return NULL;
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 | d[i + 2];
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = tab[v >> 6 & 63];
        out[o++] = tab[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0u);
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        if (i + 1 < n) out[o++] = tab[v >> 6 & 63];
    }
    out[o] = '\0';
    return out;
}

/* The JWT bearer assertion: header.claims.signature. */
static revops_status jwt_assertion(sf_ctx *c, char **out)
{
    const revops_host *h = c->h;
    *out = NULL;
    char *iss = h->json_quote(c->client_id), *sub = h->json_quote(c->username), *aud = h->json_quote(c->login_url);
    sbuf claims = { 0 };
    /* exp is checked by Salesforce against real time: the wall clock, not
     * host->now(), which REVOPS_NOW may pin for an analysis. */
    revops_buf_fmt(&claims, "{\"iss\":%s,\"sub\":%s,\"aud\":%s,\"exp\":%lld}", iss ? iss : "\"\"", sub ? sub : "\"\"",
           aud ? aud : "\"\"", (long long)time(NULL) + SF_JWT_LIFETIME);
    h->free(iss);
    h->free(sub);
    h->free(aud);
    static const char header[] = "{\"alg\":\"RS256\"}";
    char *eh = b64url((const unsigned char *)header, sizeof header - 1);
    char *ec = claims.oom ? NULL : b64url((const unsigned char *)claims.p, claims.len);
    revops_buf_wipe(&claims);
    sbuf input = { 0 };
    if (eh && ec) {
        revops_buf_str(&input, eh);
        revops_buf_str(&input, ".");
        revops_buf_str(&input, ec);
    }
    free(eh);
    free(ec);
    if (!input.p || input.oom) {
        revops_buf_wipe(&input);
        h->error(c->self, "JWT bearer flow: out of memory building the assertion");
        return REVOPS_ERROR;
    }
    char *sig = NULL;
    revops_status st = c->sign(c->self, c->private_key, input.p, input.len, &sig);
    if (st != REVOPS_OK || !sig) {
        revops_buf_wipe(&input);
        if (st == REVOPS_OK) h->error(c->self, "JWT bearer flow: the host returned no signature");
        else with_context(c, "JWT bearer flow: signing the assertion");  /* the host said why, never the key */
        return st == REVOPS_OK ? REVOPS_ERROR : st;
    }
    revops_buf_str(&input, ".");
    revops_buf_str(&input, sig);
    h->free(sig);
    if (input.oom) {
        revops_buf_wipe(&input);
        h->error(c->self, "JWT bearer flow: out of memory building the assertion");
        return REVOPS_ERROR;
    }
    *out = input.p;  /* the caller wipes it */
    return REVOPS_OK;
}

/* -------------------------------------------------------------- token -- */

/* Fill req (the form points into *assertion for JWT; wipe it afterwards). */
static revops_status token_request(sf_ctx *c, revops_oauth_request *req, const char *form[7], char **assertion)
{
    *assertion = NULL;
    size_t k = 0;
    if (c->jwt) {
        revops_status st = jwt_assertion(c, assertion);
        if (st != REVOPS_OK) return st;
        form[k++] = "grant_type";
        form[k++] = SF_JWT_GRANT;
        form[k++] = "assertion";
        form[k++] = *assertion;
    } else {
        form[k++] = "grant_type";
        form[k++] = "client_credentials";
        form[k++] = "client_id";
        form[k++] = c->client_id;
        form[k++] = "client_secret";
        form[k++] = c->client_secret;
    }
    form[k] = NULL;
    req->token_url = c->token_url;
    req->form = form;
    req->cache_key = c->cache_key;
    req->headers = NULL;
    return REVOPS_OK;
}

/* A token (the host's cache, or a new one) and the instance_url of its
 * response.  Both stay valid until the next oauth_* call of this instance. */
static revops_status get_token(sf_ctx *c, const char **token, const char **instance_url)
{
    const revops_host *h = c->h;
    revops_oauth_request req;
    const char *form[7];
    char *assertion;
    revops_status st = token_request(c, &req, form, &assertion);
    if (st != REVOPS_OK) return st;
    st = h->oauth_token(c->self, &req, token);
    wipe_free(assertion);
    if (st != REVOPS_OK) return st;  /* the host quoted the endpoint's error and error_description */
    *instance_url = h->oauth_token_field(c->self, &req, "instance_url");
    if (!*instance_url || !**instance_url) {
        h->error(c->self, "the token response of %s has no instance_url: cannot tell where the org's API is",
                 c->token_url);
        return REVOPS_ERROR;
    }
    if (!url_allowed(*instance_url)) {
        h->error(c->self, "the token response of %s names instance_url '%.200s', which is not an https:// URL",
                 c->token_url, *instance_url);
        return REVOPS_ERROR;
    }
    return REVOPS_OK;
}

static void drop_token(sf_ctx *c)
{
    revops_oauth_request req = { c->token_url, NULL, c->cache_key, NULL };
    c->h->oauth_invalidate(c->self, &req);
}

/* ------------------------------------------------------------ columns -- */

typedef struct sf_col {
    char *name;           /* dotted path, e.g. "Account.Name" */
    revops_type type;     /* declared type */
    int typed;            /* a non-null value of the first batch decided it */
    int date_name;        /* the last path segment ends in "Date" */
    int warned;           /* a nested array/object was shown as NULL once */
    char ts[40];          /* this row's TIMESTAMP text */
} sf_col;

typedef struct sf_fetch {
    sf_ctx *c;
    revops_stream *out;
    char what[SF_WHAT_MAX + 40];   /* "query 'SELECT ...'" */
    int64_t limit, rows;
    int limit_hit;

    char **items;                  /* the select list, as written */
    size_t nitems;
    int plain;                     /* every item is a plain field path */
    int count_only;                /* SELECT COUNT() FROM ...: Salesforce answers totalSize, no records */

    sf_col *cols;
    size_t ncols;
    int have_cols, declared;
    revops_value *cells;           /* one row */

    revops_value *held;            /* the first batch, held back until the types are known */
    size_t nheld, capheld;

    /* the current page */
    int page;
    int64_t recno;                 /* record number within the whole result, 1-based */
    char *next_url;
    int done, done_seen;
    int64_t total_size;

    char err[900];
    revops_status err_status;      /* set by the member callback */
    revops_status stream_status;   /* what stream_row/stream_columns said, when not OK */
} sf_fetch;

static int ends_with_date(const char *name)
{
    const char *dot = strrchr(name, '.');
    const char *last = dot ? dot + 1 : name;
    size_t n = strlen(last);
    return n >= 4 && strcmp(last + n - 4, "Date") == 0;
}

static int add_col(sf_fetch *f, const char *name, size_t n)
{
    for (size_t i = 0; i < f->ncols; i++)
        if (strlen(f->cols[i].name) == n && strncasecmp(f->cols[i].name, name, n) == 0) return 0;  /* listed twice */
    sf_col *p = realloc(f->cols, (f->ncols + 1) * sizeof *p);
    if (!p) return -1;
    f->cols = p;
    sf_col *col = &f->cols[f->ncols];
    memset(col, 0, sizeof *col);
    col->name = malloc(n + 1);
    if (!col->name) return -1;
    memcpy(col->name, name, n);
    col->name[n] = '\0';
    col->type = REVOPS_TYPE_TEXT;
    col->date_name = ends_with_date(col->name);
    f->ncols++;
    return 0;
}

/* A child-relationship subquery result: {"totalSize", "done", "records": [...]}. */
static int is_query_result(const revops_host *h, revops_json *v)
{
    return h->json_type(v) == REVOPS_JSON_OBJECT && h->json_type(h->json_get(v, "records")) == REVOPS_JSON_ARRAY &&
           h->json_get(v, "done") != NULL;
}

/* Leaf members of an object, "attributes" left out, as dotted names. */
static int flatten(sf_fetch *f, revops_json *obj, sbuf *prefix)
{
    const revops_host *h = f->c->h;
    size_t n = h->json_object_len(obj);
    for (size_t i = 0; i < n; i++) {
        const char *k = h->json_object_key(obj, i);
        revops_json *v = h->json_object_value(obj, i);
        if (!k || strcmp(k, "attributes") == 0) continue;
        size_t keep = prefix->len;
        if (prefix->len) revops_buf_str(prefix, ".");
        revops_buf_str(prefix, k);
        int rc;
        if (h->json_type(v) == REVOPS_JSON_OBJECT && !is_query_result(h, v))
            rc = flatten(f, v, prefix);
        else
            rc = prefix->oom ? -1 : add_col(f, prefix->p, prefix->len);
        prefix->len = keep;
        if (prefix->p) prefix->p[keep] = '\0';
        if (rc < 0) return -1;
    }
    return 0;
}

/* The member of obj named key, the exact spelling first, then ignoring case
 * (SOQL names are case-insensitive; the response spells them canonically). */
static revops_json *member_ci(const revops_host *h, revops_json *obj, const char *key, size_t n, const char **canon)
{
    if (h->json_type(obj) != REVOPS_JSON_OBJECT) return NULL;
    size_t m = h->json_object_len(obj);
    for (size_t i = 0; i < m; i++) {
        const char *k = h->json_object_key(obj, i);
        if (k && strlen(k) == n && strncasecmp(k, key, n) == 0) {
            if (canon) *canon = k;
            return h->json_object_value(obj, i);
        }
    }
    return NULL;
}

/* Columns from the select list, spelled as the first record spells them. */
static int columns_from_select(sf_fetch *f, revops_json *rec)
{
    const revops_host *h = f->c->h;
    for (size_t i = 0; i < f->nitems; i++) {
        const char *item = f->items[i];
        sbuf name = { 0 };
        revops_json *cur = rec;
        const char *p = item;
        int resolved = rec != NULL;
        for (;;) {
            size_t n = strcspn(p, ".");
            const char *canon = NULL;
            revops_json *next = resolved ? member_ci(h, cur, p, n, &canon) : NULL;
            if (name.len) revops_buf_str(&name, ".");
            if (next || (resolved && canon)) {
                revops_buf_str(&name, canon);
            } else {
                revops_buf_add(&name, p, n);
                resolved = 0;   /* a null relationship or an absent member: keep the SOQL's spelling */
            }
            cur = next;
            if (!p[n]) break;
            p += n + 1;
        }
        int rc;
        if (resolved && h->json_type(cur) == REVOPS_JSON_OBJECT && !is_query_result(h, cur))
            rc = flatten(f, cur, &name);    /* a compound field, e.g. BillingAddress */
        else
            rc = name.oom ? -1 : add_col(f, name.p, name.len);
        revops_buf_free(&name);
        if (rc < 0) return -1;
    }
    return 0;
}

static int setup_columns(sf_fetch *f, revops_json *first)
{
    int rc;
    if (f->plain || !first) {
        rc = columns_from_select(f, first);
    } else {
        sbuf prefix = { 0 };
        rc = flatten(f, first, &prefix);
        revops_buf_free(&prefix);
    }
    if (rc == 0 && f->ncols == 0) return -2;
    if (rc == 0 && !(f->cells = calloc(f->ncols, sizeof *f->cells))) rc = -1;
    f->have_cols = rc == 0;
    return rc;
}

/* The value at a column's path: exact spelling first (one hash lookup per
 * level), then ignoring case. */
static revops_json *lookup(const revops_host *h, revops_json *rec, const char *path)
{
    revops_json *v = h->json_get(rec, path);
    if (v) return v;
    revops_json *cur = rec;
    const char *p = path;
    for (;;) {
        size_t n = strcspn(p, ".");
        cur = member_ci(h, cur, p, n, NULL);
        if (!cur || !p[n]) return cur;
        p += n + 1;
    }
}

/* ------------------------------------------------------------- typing -- */

static int digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

static int looks_date(const revops_host *h, const char *s)
{
    return strlen(s) == 10 && digits(s, 4) && s[4] == '-' && digits(s + 5, 2) && s[7] == '-' && digits(s + 8, 2) &&
           h->date_days(s) != INT64_MIN;
}

/* Salesforce's date-time, always UTC: "2026-10-01T08:30:00.000+0000" (or a
 * trailing Z) -> "2026-10-01 08:30:00.000".  0 when s is something else. */
static int salesforce_datetime(const revops_host *h, const char *s, char out[40])
{
    size_t n = strlen(s);
    if (n < 19 || n > 35 || s[10] != 'T' || s[13] != ':' || s[16] != ':' || !digits(s + 11, 2) ||
        !digits(s + 14, 2) || !digits(s + 17, 2))
        return 0;
    char day[11];
    memcpy(day, s, 10);
    day[10] = '\0';
    if (!looks_date(h, day)) return 0;
    size_t i = 19, frac = 0;
    if (s[i] == '.') {
        i++;
        while (isdigit((unsigned char)s[i + frac])) frac++;
        if (frac == 0 || frac > 9) return 0;
        i += frac;
    }
    const char *zone = s + i;
    if (strcmp(zone, "Z") != 0 && strcmp(zone, "+0000") != 0 && strcmp(zone, "+00:00") != 0) return 0;
    snprintf(out, 40, "%.10s %.8s%s%.*s", s, s + 11, frac ? "." : "", (int)frac, s + 20);
    return 1;
}

static const char *kind_name(revops_type t)
{
    switch (t) {
    case REVOPS_TYPE_INT:
    case REVOPS_TYPE_REAL: return "a number";
    case REVOPS_TYPE_BOOL: return "a boolean";
    case REVOPS_TYPE_DATE: return "a date";
    case REVOPS_TYPE_TIMESTAMP: return "a date-time";
    case REVOPS_TYPE_TEXT: return "text";
    default: return "null";
    }
}

static const char *json_kind(revops_json_type t)
{
    switch (t) {
    case REVOPS_JSON_BOOL: return "a boolean";
    case REVOPS_JSON_INT:
    case REVOPS_JSON_REAL: return "a number";
    case REVOPS_JSON_STRING: return "a string";
    case REVOPS_JSON_ARRAY: return "an array";
    case REVOPS_JSON_OBJECT: return "an object";
    default: return "null";
    }
}

static void fail(sf_fetch *f, revops_status st, const char *fmt, ...) REVOPS_PRINTF(3, 4);
static void fail(sf_fetch *f, revops_status st, const char *fmt, ...)
{
    if (f->err[0]) return;  /* the first reason wins */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->err, sizeof f->err, fmt, ap);
    va_end(ap);
    f->err_status = st;
}

/* Salesforce's record id, for messages: "record 7 (Id 006...)". */
static void record_ref(sf_fetch *f, revops_json *rec, char *out, size_t n)
{
    const char *id = f->c->h->json_string(f->c->h->json_get(rec, "Id"));
    if (id && strlen(id) <= 18)
        snprintf(out, n, "record %lld (Id %s)", (long long)f->recno, id);
    else
        snprintf(out, n, "record %lld", (long long)f->recno);
}

/* One cell from the record's value for column ci.  -1: a wrong type (f->err says which). */
static int make_cell(sf_fetch *f, size_t ci, revops_json *rec, revops_value *cell)
{
    const revops_host *h = f->c->h;
    sf_col *col = &f->cols[ci];
    revops_json *v = lookup(h, rec, col->name);
    revops_json_type jt = h->json_type(v);
    memset(cell, 0, sizeof *cell);
    const char *text = NULL;
    switch (jt) {
    case REVOPS_JSON_NULL:
        cell->type = REVOPS_TYPE_NULL;
        return 0;
    case REVOPS_JSON_BOOL:
        cell->type = REVOPS_TYPE_BOOL;
        cell->v.b = h->json_int(v) != 0;
        break;
    case REVOPS_JSON_INT:
        cell->type = REVOPS_TYPE_INT;
        cell->v.i = h->json_int(v);
        break;
    case REVOPS_JSON_REAL:
        cell->type = REVOPS_TYPE_REAL;
        cell->v.r = h->json_real(v);
        break;
    case REVOPS_JSON_STRING:
        text = h->json_string(v);
        cell->type = REVOPS_TYPE_TEXT;
        cell->v.text.s = text;
        cell->v.text.len = strlen(text);
        if (col->date_name && (!col->typed || col->type != REVOPS_TYPE_TEXT)) {
            if (looks_date(h, text)) {
                cell->type = REVOPS_TYPE_DATE;
            } else if (salesforce_datetime(h, text, col->ts)) {
                cell->type = REVOPS_TYPE_TIMESTAMP;
                cell->v.text.s = col->ts;
                cell->v.text.len = strlen(col->ts);
            }
        }
        break;
    default:
        /* A nested array, a subquery's records or a compound value that was
         * null in the first record: not a cell. */
        if (!col->warned) {
            col->warned = 1;
            h->log(f->c->self, REVOPS_LOG_WARN, "%s: field %s holds %s, which is not a single value; shown as NULL",
                   f->what, col->name, json_kind(jt));
        }
        cell->type = REVOPS_TYPE_NULL;
        return 0;
    }
    if (!col->typed) {
        if (!f->declared) {   /* still in the first batch: this value decides */
            col->type = cell->type;
            col->typed = 1;
        }
        return 0;
    }
    revops_type want = col->type, got = cell->type;
    int num_w = want == REVOPS_TYPE_INT || want == REVOPS_TYPE_REAL, num_g = got == REVOPS_TYPE_INT || got == REVOPS_TYPE_REAL;
    if (num_w && num_g) {
        if (!f->declared && want == REVOPS_TYPE_INT && got == REVOPS_TYPE_REAL) col->type = REVOPS_TYPE_REAL;
        return 0;
    }
    if (want == got) return 0;
    if (want == REVOPS_TYPE_TEXT && (got == REVOPS_TYPE_DATE || got == REVOPS_TYPE_TIMESTAMP)) {
        cell->type = REVOPS_TYPE_TEXT;   /* a text field that happens to hold a date */
        cell->v.text.s = text;
        cell->v.text.len = strlen(text);
        return 0;
    }
    char ref[64], shown[48] = "";
    record_ref(f, rec, ref, sizeof ref);
    if (jt == REVOPS_JSON_STRING)
        snprintf(shown, sizeof shown, " (\"%.30s%s\")", text, strlen(text) > 30 ? "..." : "");
    fail(f, REVOPS_ERROR, "%s: page %d, %s: field %s holds %s%s, not %s as in the first records", f->what, f->page,
         ref, col->name, got == REVOPS_TYPE_TEXT ? "a string" : kind_name(got), shown, kind_name(want));
    return -1;
}

/* -------------------------------------------------------- first batch -- */

static void free_held(sf_fetch *f)
{
    for (size_t i = 0; i < f->nheld * f->ncols; i++) {
        revops_value *v = &f->held[i];
        if (v->type == REVOPS_TYPE_TEXT || v->type == REVOPS_TYPE_DATE || v->type == REVOPS_TYPE_TIMESTAMP)
            free((char *)v->v.text.s);
    }
    free(f->held);
    f->held = NULL;
    f->nheld = f->capheld = 0;
}

static int hold_row(sf_fetch *f)
{
    if (f->nheld == f->capheld) {
        size_t cap = f->capheld ? 2 * f->capheld : 64;
        revops_value *p = realloc(f->held, cap * f->ncols * sizeof *p);
        if (!p) return -1;
        f->held = p;
        f->capheld = cap;
    }
    revops_value *row = &f->held[f->nheld * f->ncols];
    for (size_t i = 0; i < f->ncols; i++) {
        row[i] = f->cells[i];
        if (row[i].type == REVOPS_TYPE_TEXT || row[i].type == REVOPS_TYPE_DATE || row[i].type == REVOPS_TYPE_TIMESTAMP) {
            char *s = malloc(row[i].v.text.len + 1);
            if (!s) {
                for (size_t k = 0; k < i; k++)
                    if (row[k].type == REVOPS_TYPE_TEXT || row[k].type == REVOPS_TYPE_DATE ||
                        row[k].type == REVOPS_TYPE_TIMESTAMP)
                        free((char *)row[k].v.text.s);
                return -1;
            }
            memcpy(s, row[i].v.text.s, row[i].v.text.len + 1);
            row[i].v.text.s = s;
        }
    }
    f->nheld++;
    return 0;
}

/* Declare the columns (types as the first batch decided) and hand over the
 * rows held back. */
static revops_status declare_and_flush(sf_fetch *f)
{
    const revops_host *h = f->c->h;
    if (!f->have_cols && f->count_only && f->total_size >= 0) {
        /* COUNT() has no records, only totalSize: one row, one column "count". */
        if (add_col(f, "count", 5) < 0 || !(f->cells = calloc(1, sizeof *f->cells))) {
            fail(f, REVOPS_ERROR, "%s: out of memory", f->what);
            return REVOPS_ERROR;
        }
        f->have_cols = 1;
        f->cols[0].type = REVOPS_TYPE_INT;
        f->cols[0].typed = 1;
        f->cells[0].type = REVOPS_TYPE_INT;
        f->cells[0].v.i = f->total_size;
        if (hold_row(f) < 0) {
            fail(f, REVOPS_ERROR, "%s: out of memory", f->what);
            return REVOPS_ERROR;
        }
    }
    if (!f->have_cols) {
        int rc = setup_columns(f, NULL);   /* no record at all: the select list names the columns */
        if (rc == -2) {
            fail(f, REVOPS_ERROR, "%s: the result has no records and the select list names no columns", f->what);
            return REVOPS_ERROR;
        }
        if (rc < 0) {
            fail(f, REVOPS_ERROR, "%s: out of memory", f->what);
            return REVOPS_ERROR;
        }
    }
    revops_column *decl = calloc(f->ncols, sizeof *decl);
    if (!decl) {
        fail(f, REVOPS_ERROR, "%s: out of memory", f->what);
        return REVOPS_ERROR;
    }
    for (size_t i = 0; i < f->ncols; i++) {
        decl[i].name = f->cols[i].name;
        decl[i].type = f->cols[i].typed ? f->cols[i].type : REVOPS_TYPE_TEXT;
    }
    f->declared = 1;
    revops_status st = h->stream_columns(f->out, f->ncols, decl);
    free(decl);
    for (size_t r = 0; st == REVOPS_OK && r < f->nheld; r++) st = h->stream_row(f->out, &f->held[r * f->ncols]);
    free_held(f);
    if (st != REVOPS_OK) f->stream_status = st;
    return st;
}

/* ------------------------------------------------------------- pages -- */

static revops_status on_record(sf_fetch *f, revops_json *rec)
{
    const revops_host *h = f->c->h;
    f->recno++;
    if (h->json_type(rec) != REVOPS_JSON_OBJECT) {
        fail(f, REVOPS_ERROR, "%s: page %d: record %lld is %s, not an object", f->what, f->page, (long long)f->recno,
             json_kind(h->json_type(rec)));
        return REVOPS_ERROR;
    }
    if (!f->have_cols) {
        int rc = setup_columns(f, rec);
        if (rc == -2) {
            fail(f, REVOPS_ERROR, "%s: the first record has no fields", f->what);
            return REVOPS_ERROR;
        }
        if (rc < 0) {
            fail(f, REVOPS_ERROR, "%s: out of memory", f->what);
            return REVOPS_ERROR;
        }
    }
    for (size_t i = 0; i < f->ncols; i++)
        if (make_cell(f, i, rec, &f->cells[i]) < 0) return REVOPS_ERROR;
    if (!f->declared) {
        if (hold_row(f) < 0) {
            fail(f, REVOPS_ERROR, "%s: out of memory holding the first batch", f->what);
            return REVOPS_ERROR;
        }
    } else {
        revops_status st = h->stream_row(f->out, f->cells);
        if (st != REVOPS_OK) {
            f->stream_status = st;  /* the consumer stopped us: pass it on */
            return st;
        }
    }
    if (f->limit > 0 && ++f->rows >= f->limit) {
        f->limit_hit = 1;
        return REVOPS_ERROR;      /* stops the transfer; not a failure */
    }
    return REVOPS_OK;
}

static revops_status on_member(void *data, const char *member, revops_json *v)
{
    sf_fetch *f = data;
    const revops_host *h = f->c->h;
    if (strcmp(member, "records") == 0)   /* one element at a time, as the bytes arrive */
        return on_record(f, v);
    if (strcmp(member, "done") == 0) {
        if (h->json_type(v) != REVOPS_JSON_BOOL) {
            fail(f, REVOPS_ERROR, "%s: page %d: \"done\" is %s, not a boolean", f->what, f->page,
                 json_kind(h->json_type(v)));
            return REVOPS_ERROR;
        }
        f->done = h->json_int(v) != 0;
        f->done_seen = 1;
    } else if (strcmp(member, "nextRecordsUrl") == 0) {
        if (h->json_type(v) == REVOPS_JSON_NULL) return REVOPS_OK;
        const char *s = h->json_string(v);
        if (!s) {
            fail(f, REVOPS_ERROR, "%s: page %d: \"nextRecordsUrl\" is %s, not a string", f->what, f->page,
                 json_kind(h->json_type(v)));
            return REVOPS_ERROR;
        }
        free(f->next_url);
        if (!(f->next_url = strdup(s))) {
            fail(f, REVOPS_ERROR, "%s: out of memory", f->what);
            return REVOPS_ERROR;
        }
    } else if (strcmp(member, "totalSize") == 0) {
        if (h->json_type(v) != REVOPS_JSON_INT) {
            fail(f, REVOPS_ERROR, "%s: page %d: \"totalSize\" is %s, not an integer", f->what, f->page,
                 json_kind(h->json_type(v)));
            return REVOPS_ERROR;
        }
        f->total_size = h->json_int(v);
    }
    return REVOPS_OK;
}

/* Salesforce's error array as "CODE: message; CODE: message" (whitespace
 * runs, the multi-line MALFORMED_QUERY text included, folded to one space);
 * any other body as its first 300 characters.  *limit_exceeded is set when
 * one of the errors is REQUEST_LIMIT_EXCEEDED. */
static void api_errors(const revops_host *h, const revops_http_response *r, sbuf *out, int *limit_exceeded)
{
    *limit_exceeded = 0;
    char perr[128];
    revops_json *root = r->body && r->body_len ? h->json_parse(r->body, r->body_len, perr, sizeof perr) : NULL;
    size_t n = 0;
    if (root && h->json_type(root) == REVOPS_JSON_ARRAY) n = h->json_len(root);
    size_t listed = 0;
    for (size_t i = 0; i < n; i++) {
        revops_json *e = h->json_index(root, i);
        const char *code = h->json_string(h->json_get(e, "errorCode"));
        const char *msg = h->json_string(h->json_get(e, "message"));
        if (!code && !msg) continue;
        if (code && strcmp(code, "REQUEST_LIMIT_EXCEEDED") == 0) *limit_exceeded = 1;
        revops_buf_str(out, listed++ ? "; " : ": ");
        if (code) revops_buf_fmt(out, "%s%s", code, msg ? ": " : "");
        for (const char *p = msg; p && *p;) {
            size_t ws = strspn(p, " \t\r\n");
            if (ws) {
                if (out->len && out->p[out->len - 1] != ' ' && p[ws]) revops_buf_str(out, " ");
                p += ws;
                continue;
            }
            size_t w = strcspn(p, " \t\r\n");
            revops_buf_add(out, p, w);
            p += w;
        }
    }
    if (!listed && r->body && r->body_len) {
        /* Not Salesforce's error array (a proxy's page, an OAuth error): quote it, on one line. */
        revops_buf_str(out, ": ");
        size_t k = 0;
        for (const char *p = r->body; *p && k < 300; p++, k++) {
            char ch = (char)(isspace((unsigned char)*p) || !isprint((unsigned char)*p) ? ' ' : *p);
            if (ch == ' ' && out->len && out->p[out->len - 1] == ' ') continue;
            revops_buf_add(out, &ch, 1);
        }
        if (r->body_len > 300) revops_buf_str(out, " ...");
    }
    if (root) h->json_free(root);
}

static void reset_page(sf_fetch *f)
{
    free(f->next_url);
    f->next_url = NULL;
    f->done = f->done_seen = 0;
}

/* GET one page (url) and stream its records.  A 401 drops the token and
 * tries once more with a fresh one.  *token and *instance_url are updated. */
static revops_status get_page(sf_fetch *f, const char *path, const char **token, const char **instance_url)
{
    sf_ctx *c = f->c;
    const revops_host *h = c->h;
    for (int attempt = 0;; attempt++) {
        sbuf url = { 0 }, auth = { 0 };
        char batch[64];
        revops_buf_str(&url, *instance_url);
        revops_buf_str(&url, path);
        revops_buf_str(&auth, "Authorization: Bearer ");
        revops_buf_str(&auth, *token);
        snprintf(batch, sizeof batch, "Sforce-Query-Options: batchSize=%lld", (long long)c->page_size);
        const char *headers[] = { auth.p, "Accept: application/json", batch, NULL };
        if (url.oom || auth.oom) {
            revops_buf_free(&url);
            revops_buf_wipe(&auth);
            fail(f, REVOPS_ERROR, "%s: out of memory", f->what);
            return REVOPS_ERROR;
        }
        revops_http_request req = { "GET", url.p, headers, NULL, 0, 0, 0 };
        revops_http_response resp;
        reset_page(f);
        int64_t recno0 = f->recno;
        revops_status st = h->http_json_stream(c->self, &req, "records", on_member, f, &resp);
        revops_buf_free(&url);
        revops_buf_wipe(&auth);

        if (f->stream_status != REVOPS_OK) {   /* the consumer stopped us */
            h->http_free(&resp);
            return f->stream_status;
        }
        if (f->limit_hit) {                    /* enough rows: a stop, not a failure */
            h->http_free(&resp);
            return REVOPS_OK;
        }
        if (f->err[0]) {                       /* a wrong type, found by the callback */
            h->http_free(&resp);
            return f->err_status;
        }
        if (resp.status >= 200 && resp.status <= 299) {
            if (st != REVOPS_OK) {
                /* Truncated or invalid JSON, a connection dropped mid-page:
                 * the host's message has the byte offset; add which query. */
                if (!with_context(c, "%s: page %d", f->what, f->page))
                    h->log(c->self, REVOPS_LOG_WARN, "%s: page %d failed after %lld records of it arrived", f->what,
                           f->page, (long long)(f->recno - recno0));
                h->http_free(&resp);
                return st;
            }
            h->http_free(&resp);
            return REVOPS_OK;
        }
        if (resp.status == 0) {
            /* No HTTP answer (timeout, connection refused): the host said why. */
            if (!with_context(c, "%s: page %d", f->what, f->page))
                h->log(c->self, REVOPS_LOG_WARN, "%s: page %d: no answer from Salesforce after %d attempt%s", f->what,
                       f->page, resp.attempts, resp.attempts == 1 ? "" : "s");
            h->http_free(&resp);
            return st == REVOPS_OK ? REVOPS_ERROR : st;
        }
        sbuf why = { 0 };
        int limit_exceeded;
        api_errors(h, &resp, &why, &limit_exceeded);
        long status = resp.status;
        int attempts = resp.attempts;
        h->http_free(&resp);
        if (status == 401 && attempt == 0) {
            /* The session expired or was revoked: one fresh token. */
            h->log(c->self, REVOPS_LOG_INFO, "%s: page %d: HTTP 401%s; getting a new access token", f->what, f->page,
                   revops_buf_cstr(&why));
            revops_buf_free(&why);
            drop_token(c);
            revops_status ts = get_token(c, token, instance_url);
            if (ts != REVOPS_OK) {
                with_context(c, "%s: page %d: a new token after HTTP 401", f->what, f->page);
                return ts;
            }
            continue;
        }
        revops_status result;
        if (status == 403 && limit_exceeded) {
            h->error(c->self, "%s: page %d: Salesforce's API request limit is used up (HTTP 403%s); try again later",
                     f->what, f->page, revops_buf_cstr(&why));
            result = REVOPS_RETRY;
        } else if (status == 429 || status == 500 || status == 502 || status == 503 || status == 504) {
            /* What the host retries: it did, and they outlasted its attempts. */
            h->error(c->self, "%s: page %d: HTTP %ld after %d attempt%s%s (transient)", f->what, f->page, status,
                     attempts, attempts == 1 ? "" : "s", revops_buf_cstr(&why));
            result = REVOPS_RETRY;
        } else if (status == 401) {
            h->error(c->self, "%s: page %d: Salesforce refused a freshly issued access token: HTTP 401%s", f->what,
                     f->page, revops_buf_cstr(&why));
            result = REVOPS_ERROR;
        } else {
            h->error(c->self, "%s: page %d: HTTP %ld%s", f->what, f->page, status, revops_buf_cstr(&why));
            result = REVOPS_ERROR;
        }
        revops_buf_free(&why);
        return result;
    }
}

/* ------------------------------------------------------ select list -- */

static int word_at(const char *p, const char *w)
{
    size_t n = strlen(w);
    return strncasecmp(p, w, n) == 0 && !isalnum((unsigned char)p[n]) && p[n] != '_';
}

static int plain_path(const char *s)
{
    if (!*s) return 0;
    for (const char *p = s; *p;) {
        if (!isalpha((unsigned char)*p)) return 0;
        while (isalnum((unsigned char)*p) || *p == '_') p++;
        if (*p == '.') {
            p++;
            if (!*p) return 0;
        } else if (*p) {
            return 0;
        }
    }
    return 1;
}

static void free_items(sf_fetch *f)
{
    for (size_t i = 0; i < f->nitems; i++) free(f->items[i]);
    free(f->items);
    f->items = NULL;
    f->nitems = 0;
}

/* The select list: the items between SELECT and the FROM at depth 0, split
 * at depth-0 commas, outside string literals. */
static int parse_select(sf_fetch *f, const char *soql)
{
    const char *p = soql;
    while (isspace((unsigned char)*p)) p++;
    if (!word_at(p, "SELECT")) return 0;
    p += 6;
    int depth = 0, quote = 0;
    const char *start = p;
    f->plain = 1;
    for (;; p++) {
        char ch = *p;
        if (quote) {
            if (ch == '\\' && p[1]) p++;
            else if (ch == '\'') quote = 0;
            else if (!ch) break;
            continue;
        }
        int end = !ch || (depth == 0 && isspace((unsigned char)p[-1]) && word_at(p, "FROM"));
        if (ch == '\'') quote = 1;
        else if (ch == '(') depth++;
        else if (ch == ')') depth--;
        if (end || (depth == 0 && ch == ',')) {
            const char *a = start, *b = p;
            while (a < b && isspace((unsigned char)*a)) a++;
            while (b > a && isspace((unsigned char)b[-1])) b--;
            if (b > a) {
                char **items = realloc(f->items, (f->nitems + 1) * sizeof *items);
                if (!items) return -1;
                f->items = items;
                if (!(f->items[f->nitems] = malloc((size_t)(b - a) + 1))) return -1;
                memcpy(f->items[f->nitems], a, (size_t)(b - a));
                f->items[f->nitems][b - a] = '\0';
                if (!plain_path(f->items[f->nitems])) f->plain = 0;
                f->nitems++;
            }
            start = p + 1;
        }
        if (end) break;
    }
    if (f->nitems == 0) f->plain = 0;
    f->count_only = f->nitems == 1 && strcasecmp(f->items[0], "COUNT()") == 0;
    return 0;
}

/* ----------------------------------------------------------- the query -- */

static void fetch_free(sf_fetch *f)
{
    free_items(f);
    free_held(f);
    for (size_t i = 0; i < f->ncols; i++) free(f->cols[i].name);
    free(f->cols);
    free(f->cells);
    free(f->next_url);
}

/* Run one SOQL query and stream its records (at most limit, 0: all). */
static revops_status run_soql(sf_ctx *c, const char *soql, int64_t limit, revops_stream *out)
{
    const revops_host *h = c->h;
    sf_fetch f;
    memset(&f, 0, sizeof f);
    f.c = c;
    f.out = out;
    f.limit = limit;
    f.total_size = -1;
    query_label("Salesforce query", soql, f.what, sizeof f.what);
    if (parse_select(&f, soql) < 0) {
        fetch_free(&f);
        h->error(c->self, "%s: out of memory", f.what);
        return REVOPS_ERROR;
    }

    const char *token = NULL, *instance_url = NULL;
    revops_status st = get_token(c, &token, &instance_url);
    if (st != REVOPS_OK) {
        with_context(c, "%s", f.what);
        fetch_free(&f);
        return st;
    }
    char *q = h->url_encode(soql);
    sbuf path = { 0 };
    revops_buf_fmt(&path, "/services/data/%s/query?q=%s", c->api_version, q ? q : "");
    h->free(q);
    char *prev = NULL;

    for (f.page = 1; st == REVOPS_OK; f.page++) {
        if (path.oom) {
            fail(&f, REVOPS_ERROR, "%s: out of memory", f.what);
            st = REVOPS_ERROR;
            break;
        }
        st = get_page(&f, path.p, &token, &instance_url);
        if (st != REVOPS_OK) break;
        if (f.page == 1 && !f.declared) {
            if (f.total_size >= 0 && h->stream_total_rows)
                h->stream_total_rows(out, f.limit > 0 && f.limit < f.total_size ? f.limit : f.total_size);
            st = declare_and_flush(&f);
            if (st != REVOPS_OK) break;
        }
        if (f.limit_hit) break;
        if (!f.done_seen) {
            fail(&f, REVOPS_ERROR, "%s: page %d: the answer has no \"done\" member", f.what, f.page);
            st = REVOPS_ERROR;
            break;
        }
        if (f.done) break;
        const char *next = f.next_url;
        if (!next || strncmp(next, "/services/data/", 15) != 0) {
            /* Only a path on the instance we authenticated to: the token goes wherever this points. */
            fail(&f, REVOPS_ERROR, "%s: page %d: done is false but nextRecordsUrl is %s%.100s%s", f.what, f.page,
                 next ? "'" : "missing", next ? next : "", next ? "', not a /services/data/ path" : "");
            st = REVOPS_ERROR;
            break;
        }
        if (prev && strcmp(prev, next) == 0) {
            fail(&f, REVOPS_ERROR, "%s: page %d: nextRecordsUrl repeats the previous page's (%.100s)", f.what, f.page,
                 next);
            st = REVOPS_ERROR;
            break;
        }
        if (f.page >= SF_MAX_PAGES) {
            fail(&f, REVOPS_ERROR, "%s: more than %d pages", f.what, SF_MAX_PAGES);
            st = REVOPS_ERROR;
            break;
        }
        free(prev);
        prev = strdup(next);
        revops_buf_free(&path);
        revops_buf_str(&path, next);
    }
    if (st != REVOPS_OK && f.err[0] && f.stream_status == REVOPS_OK) h->error(c->self, "%s", f.err);
    if (st == REVOPS_OK)
        h->log(c->self, REVOPS_LOG_DEBUG, "%s: %lld records in %d page%s", f.what, (long long)f.recno,
               f.page, f.page == 1 ? "" : "s");
    free(prev);
    revops_buf_free(&path);
    fetch_free(&f);
    return st;
}

static revops_status sf_fetch_query(void *ctx, const revops_query *query, revops_stream *out)
{
    sf_ctx *c = ctx;
    if (!query->text || !*query->text) {
        c->h->error(c->self, "dataset '%s' has no SOQL query", query->dataset ? query->dataset : "?");
        return REVOPS_ERROR;
    }
    return run_soql(c, query->text, query->row_limit, out);
}

/* -------------------------------------------------------------- tools -- */

/* A SOQL string literal's body: quote, backslash and control characters
 * escaped as SOQL requires; for LIKE also % and _.  -1 on other control characters. */
static int soql_escape(sbuf *b, const char *s, int like)
{
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        switch (ch) {
        case '\'': revops_buf_str(b, "\\'"); break;
        case '\\': revops_buf_str(b, "\\\\"); break;
        case '"': revops_buf_str(b, "\\\""); break;
        case '\n': revops_buf_str(b, "\\n"); break;
        case '\r': revops_buf_str(b, "\\r"); break;
        case '\t': revops_buf_str(b, "\\t"); break;
        case '%':
        case '_':
            if (like) revops_buf_str(b, "\\");
            revops_buf_add(b, (const char *)p, 1);
            break;
        default:
            if (ch < 0x20) return -1;
            revops_buf_add(b, (const char *)p, 1);
        }
    }
    return 0;
}

static int salesforce_id(const char *s)
{
    size_t n = strlen(s);
    if (n != 15 && n != 18) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i])) return 0;
    return 1;
}

typedef struct tool_in {
    const revops_host *h;
    revops_instance *self;
    const char *tool;
    revops_json *root;
    int bad;
} tool_in;

static revops_json *tin_get(tool_in *t, const char *key, revops_json_type want, const char *want_name)
{
    if (t->bad) return NULL;
    revops_json *v = t->h->json_get(t->root, key);
    if (!v) return NULL;
    revops_json_type got = t->h->json_type(v);
    if (got == want || (want == REVOPS_JSON_REAL && got == REVOPS_JSON_INT)) return v;
    t->h->error(t->self, "tool %s: \"%s\" must be %s, not %s", t->tool, key, want_name, json_kind(got));
    t->bad = 1;
    return NULL;
}

static int tin_date(tool_in *t, const char *key, const char **out)
{
    revops_json *v = tin_get(t, key, REVOPS_JSON_STRING, "a date \"YYYY-MM-DD\"");
    *out = v ? t->h->json_string(v) : NULL;
    if (*out && !looks_date(t->h, *out)) {
        t->h->error(t->self, "tool %s: \"%s\" must be a date \"YYYY-MM-DD\", not \"%.40s\"", t->tool, key, *out);
        t->bad = 1;
    }
    return t->bad ? -1 : 0;
}

/* Refuse members the schema does not list. */
static int tin_known(tool_in *t, const char *const *allowed)
{
    size_t n = t->h->json_object_len(t->root);
    for (size_t i = 0; i < n && !t->bad; i++) {
        const char *k = t->h->json_object_key(t->root, i);
        size_t a = 0;
        while (allowed[a] && strcmp(allowed[a], k) != 0) a++;
        if (!allowed[a]) {
            sbuf list = { 0 };
            for (a = 0; allowed[a]; a++) revops_buf_fmt(&list, "%s%s", a ? ", " : "", allowed[a]);
            t->h->error(t->self, "tool %s: unknown input \"%.60s\" (allowed: %s)", t->tool, k, revops_buf_cstr(&list));
            revops_buf_free(&list);
            t->bad = 1;
        }
    }
    return t->bad ? -1 : 0;
}

static int64_t tin_limit(tool_in *t, int64_t dflt, int64_t max)
{
    revops_json *v = tin_get(t, "limit", REVOPS_JSON_INT, "an integer");
    if (!v) return t->bad ? -1 : dflt;
    int64_t n = t->h->json_int(v);
    if (n < 1 || n > max) {
        t->h->error(t->self, "tool %s: \"limit\" must be between 1 and %lld", t->tool, (long long)max);
        t->bad = 1;
        return -1;
    }
    return n;
}

/* AND one condition "Field OP 'text'" (escaped) to the WHERE clause. */
static int where_text(tool_in *t, sbuf *w, const char *field, const char *op, const char *value, int like)
{
    revops_buf_str(w, w->len ? " AND " : " WHERE ");
    revops_buf_fmt(w, "%s %s '", field, op);
    if (like) revops_buf_str(w, "%");
    if (soql_escape(w, value, like) < 0) {
        t->h->error(t->self, "tool %s: the filter for %s holds a control character", t->tool, field);
        t->bad = 1;
        return -1;
    }
    if (like) revops_buf_str(w, "%");
    revops_buf_str(w, "'");
    return 0;
}

#define OPPORTUNITY_FIELDS                                                                            \
    "Id, Name, AccountId, Account.Name, StageName, Amount, Probability, CloseDate, Type, IsClosed, " \
    "IsWon, OwnerId, CreatedDate, LastModifiedDate"
#define ACCOUNT_FIELDS "Id, Name, Type, Industry, BillingCountry, AnnualRevenue, OwnerId, CreatedDate"
#define TOOL_LIMIT_DEFAULT 200
#define TOOL_LIMIT_MAX 50000

static revops_status tool_opportunities(sf_ctx *c, tool_in *t, revops_stream *out)
{
    static const char *const allowed[] = { "account_id", "stage", "is_closed", "close_date_from", "close_date_to",
                                           "min_amount", "limit", NULL };
    const revops_host *h = c->h;
    if (tin_known(t, allowed) < 0) return REVOPS_ERROR;
    revops_json *account = tin_get(t, "account_id", REVOPS_JSON_STRING, "a Salesforce Id");
    revops_json *stage = tin_get(t, "stage", REVOPS_JSON_STRING, "a string");
    revops_json *closed = tin_get(t, "is_closed", REVOPS_JSON_BOOL, "a boolean");
    revops_json *amount = tin_get(t, "min_amount", REVOPS_JSON_REAL, "a number");
    const char *from = NULL, *to = NULL;
    tin_date(t, "close_date_from", &from);
    if (!t->bad) tin_date(t, "close_date_to", &to);
    int64_t limit = tin_limit(t, TOOL_LIMIT_DEFAULT, TOOL_LIMIT_MAX);
    if (t->bad) return REVOPS_ERROR;
    if (account && !salesforce_id(h->json_string(account))) {
        h->error(c->self, "tool get_opportunities: \"account_id\" must be a 15- or 18-character Salesforce Id");
        return REVOPS_ERROR;
    }
    sbuf w = { 0 }, soql = { 0 };
    if (account) where_text(t, &w, "AccountId", "=", h->json_string(account), 0);
    if (stage && !t->bad) where_text(t, &w, "StageName", "=", h->json_string(stage), 0);
    if (closed) revops_buf_fmt(&w, "%sIsClosed = %s", w.len ? " AND " : " WHERE ", h->json_int(closed) ? "true" : "false");
    if (from) revops_buf_fmt(&w, "%sCloseDate >= %s", w.len ? " AND " : " WHERE ", from);
    if (to) revops_buf_fmt(&w, "%sCloseDate <= %s", w.len ? " AND " : " WHERE ", to);
    if (amount) revops_buf_fmt(&w, "%sAmount >= %.17g", w.len ? " AND " : " WHERE ", h->json_real(amount));
    revops_buf_fmt(&soql, "SELECT " OPPORTUNITY_FIELDS " FROM Opportunity%s ORDER BY CloseDate, Id LIMIT %lld", revops_buf_cstr(&w),
           (long long)limit);
    revops_status st = REVOPS_ERROR;
    if (!t->bad && !soql.oom) st = run_soql(c, soql.p, limit, out);
    else if (!t->bad) h->error(c->self, "tool get_opportunities: out of memory");
    revops_buf_free(&w);
    revops_buf_free(&soql);
    return st;
}

static revops_status tool_accounts(sf_ctx *c, tool_in *t, revops_stream *out)
{
    static const char *const allowed[] = { "account_id", "name_contains", "industry", "type", "limit", NULL };
    const revops_host *h = c->h;
    if (tin_known(t, allowed) < 0) return REVOPS_ERROR;
    revops_json *account = tin_get(t, "account_id", REVOPS_JSON_STRING, "a Salesforce Id");
    revops_json *name = tin_get(t, "name_contains", REVOPS_JSON_STRING, "a string");
    revops_json *industry = tin_get(t, "industry", REVOPS_JSON_STRING, "a string");
    revops_json *type = tin_get(t, "type", REVOPS_JSON_STRING, "a string");
    int64_t limit = tin_limit(t, TOOL_LIMIT_DEFAULT, TOOL_LIMIT_MAX);
    if (t->bad) return REVOPS_ERROR;
    if (account && !salesforce_id(h->json_string(account))) {
        h->error(c->self, "tool get_accounts: \"account_id\" must be a 15- or 18-character Salesforce Id");
        return REVOPS_ERROR;
    }
    sbuf w = { 0 }, soql = { 0 };
    if (account) where_text(t, &w, "Id", "=", h->json_string(account), 0);
    if (name && !t->bad) where_text(t, &w, "Name", "LIKE", h->json_string(name), 1);
    if (industry && !t->bad) where_text(t, &w, "Industry", "=", h->json_string(industry), 0);
    if (type && !t->bad) where_text(t, &w, "Type", "=", h->json_string(type), 0);
    revops_buf_fmt(&soql, "SELECT " ACCOUNT_FIELDS " FROM Account%s ORDER BY Name, Id LIMIT %lld", revops_buf_cstr(&w),
           (long long)limit);
    revops_status st = REVOPS_ERROR;
    if (!t->bad && !soql.oom) st = run_soql(c, soql.p, limit, out);
    else if (!t->bad) h->error(c->self, "tool get_accounts: out of memory");
    revops_buf_free(&w);
    revops_buf_free(&soql);
    return st;
}

static revops_status tool_soql(sf_ctx *c, tool_in *t, revops_stream *out)
{
    static const char *const allowed[] = { "soql", "limit", NULL };
    if (tin_known(t, allowed) < 0) return REVOPS_ERROR;
    revops_json *soql = tin_get(t, "soql", REVOPS_JSON_STRING, "a string");
    int64_t limit = tin_limit(t, 0, INT64_MAX);
    if (t->bad) return REVOPS_ERROR;
    if (!soql) {
        c->h->error(c->self, "tool soql_query: input needs \"soql\", a string");
        return REVOPS_ERROR;
    }
    const char *text = c->h->json_string(soql);
    const char *p = text;
    while (isspace((unsigned char)*p)) p++;
    if (!word_at(p, "SELECT")) {
        c->h->error(c->self, "tool soql_query: only a SOQL SELECT statement is allowed (got '%.20s')", p);
        return REVOPS_ERROR;
    }
    return run_soql(c, text, limit, out);
}

static revops_status sf_call_tool(void *ctx, const char *tool, const char *input_json, revops_stream *out)
{
    sf_ctx *c = ctx;
    const revops_host *h = c->h;
    static const char *const names[] = { "soql_query", "get_opportunities", "get_accounts", NULL };
    size_t k = 0;
    while (names[k] && (!tool || strcmp(names[k], tool) != 0)) k++;
    if (!names[k]) {
        h->error(c->self, "unknown tool '%.60s' (this source offers soql_query, get_opportunities, get_accounts)",
                 tool ? tool : "");
        return REVOPS_ERROR;
    }
    char err[200] = "";
    revops_json *root = input_json ? h->json_parse(input_json, strlen(input_json), err, sizeof err) : NULL;
    if (!root || h->json_type(root) != REVOPS_JSON_OBJECT) {
        h->error(c->self, "tool %s: the input is not a JSON object%s%s", tool, *err ? ": " : "", err);
        if (root) h->json_free(root);
        return REVOPS_ERROR;
    }
    tool_in t = { h, c->self, tool, root, 0 };
    revops_status st = k == 0 ? tool_soql(c, &t, out) : k == 1 ? tool_opportunities(c, &t, out)
                                                               : tool_accounts(c, &t, out);
    h->json_free(root);
    return st;
}

/* ---------------------------------------------------------- lifecycle -- */

static void sf_close(void *ctx)
{
    sf_ctx *c = ctx;
    if (!c) return;
    free(c->login_url);
    free(c->token_url);
    wipe_free(c->cache_key);
    free(c);
}

static int valid_api_version(const char *v)
{
    if (!v || v[0] != 'v' || !isdigit((unsigned char)v[1])) return 0;
    const char *p = v + 1;
    while (isdigit((unsigned char)*p)) p++;
    if (*p++ != '.' || !isdigit((unsigned char)*p)) return 0;
    while (isdigit((unsigned char)*p)) p++;
    return *p == '\0';
}

static revops_status sf_open(revops_instance *self, const revops_host *host, const revops_options *opts, void **ctx)
{
    if (host->abi_minor < 1 || host->size < offsetof(revops_host, json_object_value) + sizeof host->json_object_value ||
        !host->oauth_token || !host->oauth_token_field || !host->http_json_stream || !host->url_encode) {
        host->error(self, "this revops is too old: the salesforce source needs the host services of ABI 1.1 "
                          "(OAuth token cache, streaming JSON)");
        return REVOPS_ERROR;
    }
    const char *login = host->opt_string(opts, "login_url");
    const char *flow = host->opt_string(opts, "auth_flow");
    const char *version = host->opt_string(opts, "api_version");
    if (!login || !url_allowed(login)) {
        host->error(self, "option login_url must be an https:// URL (plain http:// only to 127.0.0.1 or localhost), "
                          "not '%.200s'", login ? login : "");
        return REVOPS_ERROR;
    }
    if (!valid_api_version(version)) {
        host->error(self, "option api_version must look like \"v60.0\", not '%.40s'", version ? version : "");
        return REVOPS_ERROR;
    }
    sf_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        host->error(self, "out of memory");
        return REVOPS_ERROR;
    }
    c->self = self;
    c->h = host;
    c->jwt = flow && strcmp(flow, "jwt_bearer") == 0;
    c->client_id = host->opt_string(opts, "client_id");
    c->client_secret = host->opt_string(opts, "client_secret");
    c->username = host->opt_string(opts, "username");
    c->private_key = host->opt_string(opts, "private_key");
    c->api_version = version;
    c->page_size = host->opt_int(opts, "page_size");
    c->login_url = strip_slash(login);
    sbuf tu = { 0 }, key = { 0 };
    if (c->login_url) revops_buf_fmt(&tu, "%s/services/oauth2/token", c->login_url);
    revops_buf_str(&key, c->client_id ? c->client_id : "");
    if (c->jwt) {
        revops_buf_str(&key, "\n");   /* one token per (connected app, user) */
        revops_buf_str(&key, c->username ? c->username : "");
    }
    c->token_url = tu.oom ? NULL : tu.p;
    c->cache_key = key.oom ? NULL : key.p;
    if (tu.oom) revops_buf_free(&tu);
    if (key.oom) revops_buf_wipe(&key);
    if (!c->login_url || !c->token_url || !c->cache_key) {
        host->error(self, "out of memory");
        sf_close(c);
        return REVOPS_ERROR;
    }
    const char *missing = NULL;
    if (!c->client_id || !*c->client_id) missing = "client_id";
    else if (!c->jwt && (!c->client_secret || !*c->client_secret)) missing = "client_secret";
    else if (c->jwt && (!c->username || !*c->username)) missing = "username";
    else if (c->jwt && (!c->private_key || !*c->private_key)) missing = "private_key";
    if (missing) {
        host->error(self, "auth_flow \"%s\" needs the option %s", c->jwt ? "jwt_bearer" : "client_credentials",
                    missing);
        sf_close(c);
        return REVOPS_ERROR;
    }
    if (c->jwt && !(c->sign = host_sign_rs256(host))) {
        host->error(self, "auth_flow \"jwt_bearer\" needs RS256 signing from the host (the service sign_rs256), "
                          "which this revops (ABI 1.%u) does not have; use auth_flow = \"client_credentials\"",
                    (unsigned)host->abi_minor);
        sf_close(c);
        return REVOPS_ERROR;
    }
    *ctx = c;
    return REVOPS_OK;
}

/* --------------------------------------------------------- descriptor -- */

static const revops_tool tools[] = {
    { "soql_query",
      "Run one read-only SOQL SELECT against Salesforce and return its records (relationship fields as "
      "\"Account.Name\"); use limit to cap the number of rows.",
      "{\"type\":\"object\",\"properties\":{"
      "\"soql\":{\"type\":\"string\",\"description\":\"a SOQL SELECT statement\"},"
      "\"limit\":{\"type\":\"integer\",\"minimum\":1}},"
      "\"required\":[\"soql\"],\"additionalProperties\":false}" },
    { "get_opportunities",
      "Salesforce opportunities (Id, Name, AccountId, Account.Name, StageName, Amount, Probability, CloseDate, "
      "Type, IsClosed, IsWon, OwnerId, CreatedDate, LastModifiedDate), ordered by close date, filtered by "
      "account, stage, open/closed, close date range and minimum amount.",
      "{\"type\":\"object\",\"properties\":{"
      "\"account_id\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$\"},"
      "\"stage\":{\"type\":\"string\",\"description\":\"StageName, e.g. Negotiation/Review\"},"
      "\"is_closed\":{\"type\":\"boolean\"},"
      "\"close_date_from\":{\"type\":\"string\",\"format\":\"date\"},"
      "\"close_date_to\":{\"type\":\"string\",\"format\":\"date\"},"
      "\"min_amount\":{\"type\":\"number\"},"
      "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":50000,\"default\":200}},"
      "\"additionalProperties\":false}" },
    { "get_accounts",
      "Salesforce accounts (Id, Name, Type, Industry, BillingCountry, AnnualRevenue, OwnerId, CreatedDate), "
      "ordered by name, filtered by id, part of the name, industry and type.",
      "{\"type\":\"object\",\"properties\":{"
      "\"account_id\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$\"},"
      "\"name_contains\":{\"type\":\"string\"},"
      "\"industry\":{\"type\":\"string\"},"
      "\"type\":{\"type\":\"string\",\"description\":\"Account Type, e.g. Customer\"},"
      "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":50000,\"default\":200}},"
      "\"additionalProperties\":false}" },
    { NULL, NULL, NULL }
};

static const revops_source_vtable vtable = {
    .open = sf_open,
    .fetch = sf_fetch_query,
    .close = sf_close,
    .tools = tools,
    .call_tool = sf_call_tool,
    .dialect = "soql",
};

static const char *const auth_flows[] = { "client_credentials", "jwt_bearer", NULL };

static const revops_option_def options[] = {
    { "login_url", REVOPS_OPT_STRING, 0, "https://login.salesforce.com", 0, 0, NULL, 0,
      "where tokens come from (POST /services/oauth2/token); client_credentials needs the org's My Domain URL, "
      "e.g. https://acme.my.salesforce.com; sandboxes: https://test.salesforce.com" },
    { "auth_flow", REVOPS_OPT_ENUM, 0, "client_credentials", 0, 0, auth_flows, 0,
      "OAuth 2.0 flow: client_credentials (client_id + client_secret) or jwt_bearer (client_id + username + "
      "private_key)" },
    { "client_id", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 1,
      "the connected app's consumer key (env:NAME or file:/path)" },
    { "client_secret", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 1,
      "the connected app's consumer secret, for client_credentials (env:NAME or file:/path)" },
    { "username", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 0,
      "the Salesforce user the JWT bearer flow acts as (the JWT's sub)" },
    { "private_key", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 1,
      "PEM RSA private key whose certificate is uploaded to the connected app, for jwt_bearer (file:/path)" },
    { "api_version", REVOPS_OPT_STRING, 0, "v60.0", 0, 0, NULL, 0,
      "REST API version in /services/data/VERSION/query" },
    { "page_size", REVOPS_OPT_INT, 0, "2000", 200, 2000, NULL, 0,
      "records per page asked for (Sforce-Query-Options: batchSize; Salesforce may send fewer)" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_SOURCE, "salesforce", "1.0.0",
    "SOQL over Salesforce's REST API (OAuth client credentials or JWT bearer); tools soql_query, "
    "get_opportunities, get_accounts",
    options, { .source = &vtable }
};
