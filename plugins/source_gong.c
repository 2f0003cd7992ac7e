/*
 * source "gong": calls from Gong's API v2, one row per call, mapped to the
 * Salesforce account of the call's CRM context.
 *
 * API (public docs, help.gong.io/apidocs):
 *   - Authentication: "Authorization: Basic base64(<access key>:<access key secret>)"
 *     (introduction-2).  The header is built here from the two sensitive options.
 *   - POST /v2/calls/extensive with {"filter": {fromDateTime, toDateTime, workspaceId,
 *     callIds}, "contentSelector": {"context": "Extended", "exposedFields": {...}},
 *     "cursor"}; the answer is {"requestId", "records": {"totalRecords",
 *     "currentPageSize", "currentPageNumber", "cursor"}, "calls": [{"metaData": {...},
 *     "context": [{"system": "Salesforce", "objects": [{"objectType": "Account",
 *     "objectId": ...}]}], "content": {"brief": ...}}]}.  A next page is the same
 *     request with the cursor of the previous answer added.
 *   - POST /v2/calls/transcript with the same filter; "callTranscripts": [{"callId",
 *     "transcript": [{"speakerId", "topic", "sentences": [{"start", "end", "text"}]}]}]
 *     (start/end in milliseconds from the start of the call).
 *   - Errors: {"requestId", "errors": ["..."]}; 401 access denied; 429 with Retry-After
 *     when over the rate limit (3 calls/s, 10,000/day); a filter that matches no call is
 *     answered 404 "No calls found corresponding to the provided filters", which we
 *     read as an empty result.
 *
 * The query text is a small JSON object, e.g. {"from":"2026-08-01","to":"2026-11-01"}:
 *   from, to       "YYYY-MM-DD" (midnight UTC) or a full ISO-8601 date-time, passed to
 *                  Gong as fromDateTime / toDateTime.  As in Gong, `from` is inclusive
 *                  and `to` exclusive: {"from":"2026-08-01","to":"2026-11-01"} is
 *                  August to October.  Without them the options `from` / `to` apply;
 *                  without those, Gong's own defaults (all calls).  When no `to` is
 *                  given at all, the first attempt pins it to "now", so that a retried
 *                  fetch (which skips the rows already taken) sees the same calls.
 *   workspace_id   overrides the option.
 *   account_id     keep only calls whose Salesforce account is this one (Gong has no
 *                  such filter: it is applied here).
 *   call_ids       an array of Gong call ids (filter.callIds).
 *   brief          true: ask for content.brief (Gong's call spotlight) into call_summary.
 * The text "{}" (or an empty query) fetches everything the options allow.
 *
 * Transient failures (429 honouring Retry-After, 5xx, timeouts, truncated bodies)
 * are retried by the host; when they persist the fetch returns RETRY.  Anything
 * else is ERROR with the request, the query's first line and Gong's own error text.
 * The access key and secret never appear in a message.
 */
#include <revops/revops.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GONG_EXTENSIVE "/v2/calls/extensive"
#define GONG_TRANSCRIPT "/v2/calls/transcript"
#define GONG_MAX_PAGES 100000   /* a cursor that never ends is a bug on one side */

/* ------------------------------------------------------------- buffer -- */

/* The contract's string buffer (revops.h). */
typedef revops_buf buf;

/* ------------------------------------------------------------ context -- */

typedef struct gong_ctx {
    revops_instance *self;
    const revops_host *host;
    char *auth;                 /* "Authorization: Basic ..." (secret; wiped on close) */
    char *base_url;             /* without a trailing '/' */
    const char *workspace_id;   /* option, may be NULL */
    const char *opt_from, *opt_to;
    int brief;
    char *pinned_query;         /* the query whose missing `to` was pinned ... */
    char pinned_to[32];         /* ... to this toDateTime, until it succeeds */
} gong_ctx;

/* What one fetch asks for. */
typedef struct gong_params {
    char what[200];             /* "query '{...}'" or "tool gong_calls": for messages */
    char from[40], to[40];      /* fromDateTime / toDateTime, "" if none */
    const char *workspace_id;
    const char *account_id;     /* client-side filter, may be NULL */
    revops_json *call_ids;      /* array of strings, may be NULL */
    int brief;
    int64_t limit;              /* 0: none */
} gong_params;

static int is_type(const revops_host *h, revops_json *j, revops_json_type t)
{
    return j && h->json_type(j) == t;
}

static const char *type_name(const revops_host *h, revops_json *j)
{
    return j ? revops_json_type_name(h->json_type(j)) : "nothing";
}

/* "YYYY-MM-DD" -> "YYYY-MM-DDT00:00:00Z"; an ISO-8601 date-time is kept.
 * -1 if it is neither. */
static int gong_datetime(const revops_host *h, const char *v, char out[40])
{
    size_t l = strlen(v);
    if (h->date_days(v) == INT64_MIN) return -1;
    if (l == 10) {
        snprintf(out, 40, "%sT00:00:00Z", v);
        return 0;
    }
    if (l < 16 || l >= 40 || v[10] != 'T') return -1;
    for (const char *p = v; *p; p++)
        if (!strchr("0123456789-+:.TZ", *p)) return -1;
    snprintf(out, 40, "%s", v);
    return 0;
}

/* ISO-8601 date-time with a zone ("...Z", "+02:00", "-0700") -> the UTC date and
 * "YYYY-MM-DD HH:MM:SS".  -1 if it cannot be read. */
static int iso_to_utc(const revops_host *h, const char *s, char date[11], char stamp[20])
{
    int64_t days = h->date_days(s);
    if (days == INT64_MIN) return -1;
    int hh = 0, mm = 0, ss = 0;
    const char *p = s + 10;
    if (*p == 'T' || *p == ' ') {
        int used = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &used) != 2) return -1;
        p += 1 + used;
        if (*p == ':') {
            if (sscanf(p + 1, "%2d%n", &ss, &used) != 1) return -1;
            p += 1 + used;
        }
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9') p++;
        }
        if (hh > 23 || mm > 59 || ss > 60) return -1;
        int offset = 0;
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh = 0, om = 0, sign = *p == '-' ? -1 : 1;
            if (!(p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9')) return -1;
            oh = (p[1] - '0') * 10 + (p[2] - '0');
            p += 3;
            if (*p == ':') p++;
            if (p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9') {
                om = (p[0] - '0') * 10 + (p[1] - '0');
                p += 2;
            }
            offset = sign * (oh * 3600 + om * 60);
        }
        if (*p) return -1;
        int64_t secs = days * 86400 + hh * 3600 + mm * 60 + ss - offset;
        days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
        int64_t rem = secs - days * 86400;
        hh = (int)(rem / 3600);
        mm = (int)(rem / 60 % 60);
        ss = (int)(rem % 60);
    } else if (*p) {
        return -1;
    }
    h->date_format(days, date);
    snprintf(stamp, 20, "%s %02d:%02d:%02d", date, hh, mm, ss);
    return 0;
}

/* --------------------------------------------------------- API errors -- */

/* Gong's error body {"requestId", "errors": [...]} as "a; b (requestId r)",
 * or the start of the body when it is something else. */
static void api_error_text(const revops_host *h, const revops_http_response *r, char *out, size_t n)
{
    out[0] = '\0';
    if (!r->body || !r->body_len) {
        snprintf(out, n, "(empty body)");
        return;
    }
    char err[128];
    revops_json *root = h->json_parse(r->body, r->body_len, err, sizeof err);
    revops_json *errors = root ? h->json_get(root, "errors") : NULL;
    revops_json *rid = root ? h->json_get(root, "requestId") : NULL;
    if (is_type(h, errors, REVOPS_JSON_ARRAY) && h->json_len(errors) > 0) {
        buf b = { 0 };
        for (size_t i = 0; i < h->json_len(errors) && i < 5; i++) {
            revops_json *e = h->json_index(errors, i);
            const char *s = is_type(h, e, REVOPS_JSON_STRING) ? h->json_string(e) : NULL;
            if (s) revops_buf_fmt(&b, "%s%s", b.len ? "; " : "", s);
        }
        if (is_type(h, rid, REVOPS_JSON_STRING)) revops_buf_fmt(&b, " (requestId %s)", h->json_string(rid));
        snprintf(out, n, "%s", b.p ? b.p : "(no error text)");
        revops_buf_free(&b);
    } else {
        /* Not Gong's error shape: show its start, on one line. */
        size_t k = 0;
        for (size_t i = 0; i < r->body_len && k + 1 < n && k < 200; i++)
            out[k++] = r->body[i] == '\n' || r->body[i] == '\r' ? ' ' : r->body[i];
        out[k] = '\0';
    }
    if (root) h->json_free(root);
}

static int has_no_calls_error(const revops_host *h, const revops_http_response *r)
{
    if (r->status != 404 || !r->body) return 0;
    revops_json *root = h->json_parse(r->body, r->body_len, NULL, 0);
    revops_json *errors = root ? h->json_get(root, "errors") : NULL;
    int found = 0;
    for (size_t i = 0; is_type(h, errors, REVOPS_JSON_ARRAY) && i < h->json_len(errors); i++) {
        const char *s = h->json_string(h->json_index(errors, i));
        if (s && strncasecmp(s, "No ", 3) == 0 && strstr(s, "found")) found = 1;
    }
    if (root) h->json_free(root);
    return found;
}

/* The host's own reason for a failed exchange (since the host table grew
 * last_error), without its "METHOD URL: " and "HTTP nnn: " prefixes: the
 * curl error, or where the JSON broke.  "" when the host cannot say. */
static void host_reason(const revops_host *h, revops_instance *self, char *out, size_t n)
{
    out[0] = '\0';
    if (h->size < offsetof(revops_host, last_error) + sizeof h->last_error || !h->last_error) return;
    const char *w = h->last_error(self);
    const char *p = w ? strstr(w, ": ") : NULL;
    if (!p) return;
    p += 2;
    if (strncmp(p, "HTTP ", 5) == 0) {
        const char *q = strstr(p, ": ");
        p = q ? q + 2 : "";
    }
    snprintf(out, n, "%s", p);
}

/* A request that did not end in a usable answer: say why and return its status. */
static revops_status request_failed(gong_ctx *c, revops_status st, const char *endpoint, const gong_params *p,
                                    int page, const revops_http_response *r)
{
    const revops_host *h = c->host;
    char where[320], api[600], reason[400];
    host_reason(h, c->self, reason, sizeof reason);   /* before host->error overwrites it */
    snprintf(where, sizeof where, "Gong POST %s for %s (page %d)", endpoint, p->what, page);
    if (st == REVOPS_OK) {   /* a final HTTP status */
        api_error_text(h, r, api, sizeof api);
        if (r->status == 401 || r->status == 403)
            h->error(c->self, "%s: Gong refused the access key (HTTP %ld: %s); check access_key, "
                     "access_key_secret and the key's API scopes", where, r->status, api);
        else
            h->error(c->self, "%s: HTTP %ld: %s", where, r->status, api);
        return REVOPS_ERROR;
    }
    if (r->status >= 200 && r->status < 300) {
        if (st == REVOPS_RETRY)
            h->error(c->self, "%s: the answer ended early (truncated JSON) after %d attempt%s%s%s%s", where,
                     r->attempts, r->attempts == 1 ? "" : "s", *reason ? " (" : "", reason, *reason ? ")" : "");
        else
            h->error(c->self, "%s: the answer (HTTP %ld) is not valid JSON%s%s%s", where, r->status,
                     *reason ? " (" : "", reason, *reason ? ")" : "");
    } else if (r->status > 0) {
        api_error_text(h, r, api, sizeof api);
        h->error(c->self, "%s: HTTP %ld after %d attempt%s%s: %s", where, r->status, r->attempts,
                 r->attempts == 1 ? "" : "s", st == REVOPS_RETRY ? " (transient; retries exhausted)" : "", api);
    } else {
        h->error(c->self, "%s: no complete answer from Gong after %d attempt%s (%s)", where, r->attempts,
                 r->attempts == 1 ? "" : "s",
                 *reason ? reason
                         : st == REVOPS_RETRY ? "timeout, connection or TLS failure; transient, retries exhausted"
                                              : "timeout, connection or TLS failure");
    }
    return st;
}

/* -------------------------------------------------------------- pages -- */

/* State of one page of a paged stream (extensive or transcript). */
typedef struct page_state {
    gong_ctx *c;
    const gong_params *p;
    revops_stream *out;
    const char *array;          /* "calls" or "callTranscripts" */
    int page;
    size_t index;               /* elements seen on this page */
    int64_t *emitted;           /* rows handed over by this fetch */
    char *cursor;               /* records.cursor, malloc'd */
    int64_t total;              /* records.totalRecords, -1 */
    int seen_array, seen_records;
    int limit_reached;
    revops_status stopped;      /* stream_row's status when it said stop */
    int failed;                 /* a malformed element: err says why */
    char err[600];
} page_state;

static revops_status page_fail(page_state *s, const char *fmt, ...) REVOPS_PRINTF(2, 3);
static revops_status page_fail(page_state *s, const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(s->err, sizeof s->err, "Gong POST %s for %s (page %d): %s",
             strcmp(s->array, "calls") == 0 ? GONG_EXTENSIVE : GONG_TRANSCRIPT, s->p->what, s->page, why);
    s->failed = 1;
    return REVOPS_ERROR;
}

/* Hand one row over; stop the transfer at the row limit or when the consumer says so. */
static revops_status emit(page_state *s, const revops_value *cells)
{
    revops_status st = s->c->host->stream_row(s->out, cells);
    if (st != REVOPS_OK) {
        s->stopped = st;
        return st;
    }
    (*s->emitted)++;
    if (s->p->limit > 0 && *s->emitted >= s->p->limit) {
        s->limit_reached = 1;
        return REVOPS_ERROR;   /* stops the transfer; the fetch itself succeeds */
    }
    return REVOPS_OK;
}

/* The shared top-level members: records (cursor, total) and errors on a 2xx. */
static revops_status page_member(page_state *s, const char *member, revops_json *v)
{
    const revops_host *h = s->c->host;
    if (strcmp(member, "records") == 0) {
        s->seen_records = 1;
        if (!is_type(h, v, REVOPS_JSON_OBJECT)) return page_fail(s, "'records' is %s, not an object", type_name(h, v));
        revops_json *cur = h->json_get(v, "cursor"), *total = h->json_get(v, "totalRecords");
        if (cur && !is_type(h, cur, REVOPS_JSON_NULL)) {
            if (!is_type(h, cur, REVOPS_JSON_STRING))
                return page_fail(s, "records.cursor is %s, not a string", type_name(h, cur));
            free(s->cursor);
            s->cursor = *h->json_string(cur) ? strdup(h->json_string(cur)) : NULL;
        }
        if (is_type(h, total, REVOPS_JSON_INT)) s->total = h->json_int(total);
        else if (total && !is_type(h, total, REVOPS_JSON_NULL))
            return page_fail(s, "records.totalRecords is %s, not an integer", type_name(h, total));
    }
    return REVOPS_OK;
}

static const char *str_or_null(const revops_host *h, revops_json *j)
{
    return is_type(h, j, REVOPS_JSON_STRING) ? h->json_string(j) : NULL;
}

static void set_text(revops_value *v, const char *s)
{
    memset(v, 0, sizeof *v);
    if (!s) {
        v->type = REVOPS_TYPE_NULL;
        return;
    }
    v->type = REVOPS_TYPE_TEXT;
    v->v.text.s = s;
    v->v.text.len = strlen(s);
}

static void set_typed(revops_value *v, revops_type t, const char *s)
{
    set_text(v, s);
    if (s) v->type = t;
}

/* ------------------------------------------------------------- calls -- */

enum {
    COL_CALL_ID, COL_ACCOUNT, COL_ACCOUNT_NAME, COL_OPPORTUNITY, COL_DATE, COL_STARTED, COL_TITLE,
    COL_DURATION, COL_DIRECTION, COL_SCOPE, COL_URL, COL_SUMMARY, NCOLS_CALLS
};

static const revops_column call_columns[NCOLS_CALLS] = {
    { "call_id", REVOPS_TYPE_TEXT },
    { "sf_account_id", REVOPS_TYPE_TEXT },
    { "sf_account_name", REVOPS_TYPE_TEXT },
    { "sf_opportunity_id", REVOPS_TYPE_TEXT },
    { "call_date", REVOPS_TYPE_DATE },
    { "started_at", REVOPS_TYPE_TIMESTAMP },
    { "title", REVOPS_TYPE_TEXT },
    { "duration_seconds", REVOPS_TYPE_INT },
    { "direction", REVOPS_TYPE_TEXT },
    { "scope", REVOPS_TYPE_TEXT },
    { "call_url", REVOPS_TYPE_TEXT },
    { "call_summary", REVOPS_TYPE_TEXT },
};

/* The first Salesforce object of `type` in the call's context: its id, and its
 * "Name" field when the context is Extended.  0 on success (found or not). */
static int crm_object(page_state *s, revops_json *context, const char *type, const char **id, const char **name)
{
    const revops_host *h = s->c->host;
    *id = *name = NULL;
    if (!context || is_type(h, context, REVOPS_JSON_NULL)) return 0;
    if (!is_type(h, context, REVOPS_JSON_ARRAY)) {
        page_fail(s, "call %zu: 'context' is %s, not an array", s->index + 1, type_name(h, context));
        return -1;
    }
    for (size_t i = 0; i < h->json_len(context); i++) {
        revops_json *sys = h->json_index(context, i);
        const char *system = str_or_null(h, h->json_get(sys, "system"));
        revops_json *objects = h->json_get(sys, "objects");
        if (!system || strcasecmp(system, "Salesforce") != 0 || !is_type(h, objects, REVOPS_JSON_ARRAY)) continue;
        for (size_t k = 0; k < h->json_len(objects); k++) {
            revops_json *o = h->json_index(objects, k);
            const char *ot = str_or_null(h, h->json_get(o, "objectType"));
            if (!ot || strcasecmp(ot, type) != 0) continue;
            revops_json *oid = h->json_get(o, "objectId");
            if (!is_type(h, oid, REVOPS_JSON_STRING) || !*h->json_string(oid)) {
                page_fail(s, "call %zu: the Salesforce %s's objectId is %s, not a string", s->index + 1, type,
                          type_name(h, oid));
                return -1;
            }
            *id = h->json_string(oid);
            revops_json *fields = h->json_get(o, "fields");
            for (size_t f = 0; is_type(h, fields, REVOPS_JSON_ARRAY) && f < h->json_len(fields); f++) {
                revops_json *fld = h->json_index(fields, f);
                const char *fname = str_or_null(h, h->json_get(fld, "name"));
                if (fname && strcmp(fname, "Name") == 0) *name = str_or_null(h, h->json_get(fld, "value"));
            }
            return 0;
        }
    }
    return 0;
}

static revops_status on_call(page_state *s, revops_json *call)
{
    const revops_host *h = s->c->host;
    if (!is_type(h, call, REVOPS_JSON_OBJECT))
        return page_fail(s, "call %zu is %s, not an object", s->index + 1, type_name(h, call));
    revops_json *meta = h->json_get(call, "metaData");
    if (!is_type(h, meta, REVOPS_JSON_OBJECT))
        return page_fail(s, "call %zu: 'metaData' is %s, not an object", s->index + 1, type_name(h, meta));
    revops_json *id = h->json_get(meta, "id");
    if (!is_type(h, id, REVOPS_JSON_STRING) || !*h->json_string(id))
        return page_fail(s, "call %zu: metaData.id is %s, not a string", s->index + 1, type_name(h, id));
    const char *call_id = h->json_string(id);

    const char *acc_id, *acc_name, *opp_id, *opp_name;
    revops_json *context = h->json_get(call, "context");
    if (crm_object(s, context, "Account", &acc_id, &acc_name) < 0) return REVOPS_ERROR;
    if (crm_object(s, context, "Opportunity", &opp_id, &opp_name) < 0) return REVOPS_ERROR;
    if (s->p->account_id && (!acc_id || strcmp(acc_id, s->p->account_id) != 0)) return REVOPS_OK;

    /* The call's date: when it started, else when it was scheduled. */
    revops_json *when = h->json_get(meta, "started");
    if (!when || is_type(h, when, REVOPS_JSON_NULL)) when = h->json_get(meta, "scheduled");
    char date[11], stamp[20];
    int have_date = 0;
    if (when && !is_type(h, when, REVOPS_JSON_NULL)) {
        if (!is_type(h, when, REVOPS_JSON_STRING) || iso_to_utc(h, h->json_string(when), date, stamp) < 0)
            return page_fail(s, "call %s: metaData.started is %s, not an ISO-8601 date-time", call_id,
                             is_type(h, when, REVOPS_JSON_STRING) ? "unreadable" : type_name(h, when));
        have_date = 1;
    }

    revops_value cells[NCOLS_CALLS];
    revops_json *dur = h->json_get(meta, "duration");
    memset(&cells[COL_DURATION], 0, sizeof cells[COL_DURATION]);
    if (is_type(h, dur, REVOPS_JSON_INT)) {
        cells[COL_DURATION].type = REVOPS_TYPE_INT;
        cells[COL_DURATION].v.i = h->json_int(dur);
    } else if (is_type(h, dur, REVOPS_JSON_REAL)) {
        cells[COL_DURATION].type = REVOPS_TYPE_INT;
        cells[COL_DURATION].v.i = (int64_t)(h->json_real(dur) + 0.5);
    } else if (!dur || is_type(h, dur, REVOPS_JSON_NULL)) {
        cells[COL_DURATION].type = REVOPS_TYPE_NULL;
    } else {
        return page_fail(s, "call %s: metaData.duration is %s, not a number of seconds", call_id, type_name(h, dur));
    }
    static const char *const text_fields[] = { "title", "direction", "scope", "url" };
    const char *texts[4];
    for (int i = 0; i < 4; i++) {
        revops_json *t = h->json_get(meta, text_fields[i]);
        if (t && !is_type(h, t, REVOPS_JSON_NULL) && !is_type(h, t, REVOPS_JSON_STRING))
            return page_fail(s, "call %s: metaData.%s is %s, not a string", call_id, text_fields[i],
                             type_name(h, t));
        texts[i] = str_or_null(h, t);
    }
    revops_json *brief = h->json_get(call, "content.brief");
    if (brief && !is_type(h, brief, REVOPS_JSON_NULL) && !is_type(h, brief, REVOPS_JSON_STRING))
        return page_fail(s, "call %s: content.brief is %s, not a string", call_id, type_name(h, brief));

    set_text(&cells[COL_CALL_ID], call_id);
    set_text(&cells[COL_ACCOUNT], acc_id);
    set_text(&cells[COL_ACCOUNT_NAME], acc_name);
    set_text(&cells[COL_OPPORTUNITY], opp_id);
    set_typed(&cells[COL_DATE], REVOPS_TYPE_DATE, have_date ? date : NULL);
    set_typed(&cells[COL_STARTED], REVOPS_TYPE_TIMESTAMP, have_date ? stamp : NULL);
    set_text(&cells[COL_TITLE], texts[0]);
    set_text(&cells[COL_DIRECTION], texts[1]);
    set_text(&cells[COL_SCOPE], texts[2]);
    set_text(&cells[COL_URL], texts[3]);
    set_text(&cells[COL_SUMMARY], str_or_null(h, brief));
    return emit(s, cells);
}

/* --------------------------------------------------------- transcripts -- */

enum { TCOL_CALL_ID, TCOL_SPEAKER, TCOL_TOPIC, TCOL_START, TCOL_END, TCOL_TEXT, NCOLS_TRANSCRIPT };

static const revops_column transcript_columns[NCOLS_TRANSCRIPT] = {
    { "call_id", REVOPS_TYPE_TEXT },
    { "speaker_id", REVOPS_TYPE_TEXT },
    { "topic", REVOPS_TYPE_TEXT },
    { "start_ms", REVOPS_TYPE_INT },
    { "end_ms", REVOPS_TYPE_INT },
    { "text", REVOPS_TYPE_TEXT },
};

static int ms_cell(const revops_host *h, revops_json *j, revops_value *v)
{
    memset(v, 0, sizeof *v);
    if (is_type(h, j, REVOPS_JSON_INT)) {
        v->type = REVOPS_TYPE_INT;
        v->v.i = h->json_int(j);
    } else if (is_type(h, j, REVOPS_JSON_REAL)) {
        v->type = REVOPS_TYPE_INT;
        v->v.i = (int64_t)h->json_real(j);
    } else if (!j || is_type(h, j, REVOPS_JSON_NULL)) {
        v->type = REVOPS_TYPE_NULL;
    } else {
        return -1;
    }
    return 0;
}

/* One call's transcript: one row per sentence. */
static revops_status on_transcript(page_state *s, revops_json *t)
{
    const revops_host *h = s->c->host;
    if (!is_type(h, t, REVOPS_JSON_OBJECT))
        return page_fail(s, "transcript %zu is %s, not an object", s->index + 1, type_name(h, t));
    revops_json *id = h->json_get(t, "callId");
    if (!is_type(h, id, REVOPS_JSON_STRING))
        return page_fail(s, "transcript %zu: callId is %s, not a string", s->index + 1, type_name(h, id));
    revops_json *mono = h->json_get(t, "transcript");
    if (mono && !is_type(h, mono, REVOPS_JSON_NULL) && !is_type(h, mono, REVOPS_JSON_ARRAY))
        return page_fail(s, "call %s: 'transcript' is %s, not an array", h->json_string(id), type_name(h, mono));
    for (size_t i = 0; i < h->json_len(mono); i++) {
        revops_json *m = h->json_index(mono, i);
        revops_json *sentences = h->json_get(m, "sentences");
        if (!is_type(h, sentences, REVOPS_JSON_ARRAY))
            return page_fail(s, "call %s: monologue %zu has no 'sentences' array", h->json_string(id), i + 1);
        for (size_t k = 0; k < h->json_len(sentences); k++) {
            revops_json *sen = h->json_index(sentences, k);
            revops_value cells[NCOLS_TRANSCRIPT];
            revops_json *text = h->json_get(sen, "text");
            if (ms_cell(h, h->json_get(sen, "start"), &cells[TCOL_START]) < 0 ||
                ms_cell(h, h->json_get(sen, "end"), &cells[TCOL_END]) < 0 ||
                (text && !is_type(h, text, REVOPS_JSON_STRING) && !is_type(h, text, REVOPS_JSON_NULL)))
                return page_fail(s, "call %s: sentence %zu of monologue %zu has wrong types (start/end must be "
                                 "numbers, text a string)", h->json_string(id), k + 1, i + 1);
            set_text(&cells[TCOL_CALL_ID], h->json_string(id));
            set_text(&cells[TCOL_SPEAKER], str_or_null(h, h->json_get(m, "speakerId")));
            set_text(&cells[TCOL_TOPIC], str_or_null(h, h->json_get(m, "topic")));
            set_text(&cells[TCOL_TEXT], str_or_null(h, text));
            revops_status st = emit(s, cells);
            if (st != REVOPS_OK) return st;
        }
    }
    return REVOPS_OK;
}

static revops_status on_member(void *data, const char *member, revops_json *value)
{
    page_state *s = data;
    if (strcmp(member, s->array) == 0) {
        s->seen_array = 1;
        revops_status st = strcmp(s->array, "calls") == 0 ? on_call(s, value) : on_transcript(s, value);
        s->index++;
        return st;
    }
    return page_member(s, member, value);
}

/* ------------------------------------------------------------ request -- */

static void add_filter(gong_ctx *c, buf *b, const gong_params *p)
{
    const revops_host *h = c->host;
    int n = 0;
    revops_buf_str(b, "{\"filter\":{");
    if (*p->from) {
        revops_buf_fmt(b, "\"fromDateTime\":\"%s\"", p->from);
        n++;
    }
    if (*p->to) {
        revops_buf_fmt(b, "%s\"toDateTime\":\"%s\"", n++ ? "," : "", p->to);
    }
    if (p->workspace_id && *p->workspace_id) {
        char *q = h->json_quote(p->workspace_id);
        revops_buf_fmt(b, "%s\"workspaceId\":", n++ ? "," : "");
        revops_buf_str(b, q);
        h->free(q);
    }
    if (p->call_ids) {
        revops_buf_fmt(b, "%s\"callIds\":[", n++ ? "," : "");
        for (size_t i = 0; i < h->json_len(p->call_ids); i++) {
            char *q = h->json_quote(h->json_string(h->json_index(p->call_ids, i)));
            if (i) revops_buf_str(b, ",");
            revops_buf_str(b, q);
            h->free(q);
        }
        revops_buf_str(b, "]");
    }
    revops_buf_str(b, "}");
}

/* Page through one endpoint, streaming `array` elements to the row callbacks. */
static revops_status run_pages(gong_ctx *c, const gong_params *p, const char *endpoint, const char *array,
                               revops_stream *out)
{
    const revops_host *h = c->host;
    char url[1024];
    snprintf(url, sizeof url, "%s%s", c->base_url, endpoint);
    const char *headers[] = { c->auth, "Content-Type: application/json", "Accept: application/json", NULL };
    int64_t emitted = 0;
    char *cursor = NULL;
    revops_status result = REVOPS_OK;

    for (int page = 1; page <= GONG_MAX_PAGES; page++) {
        buf body = { 0 };
        add_filter(c, &body, p);
        if (strcmp(array, "calls") == 0)
            revops_buf_fmt(&body, ",\"contentSelector\":{\"context\":\"Extended\",\"exposedFields\":"
                           "{\"content\":{\"brief\":%s}}}", p->brief ? "true" : "false");
        if (cursor) {
            char *q = h->json_quote(cursor);
            revops_buf_str(&body, ",\"cursor\":");
            revops_buf_str(&body, q);
            h->free(q);
        }
        revops_buf_str(&body, "}");
        if (body.oom) {
            revops_buf_free(&body);
            h->error(c->self, "Gong POST %s for %s: out of memory", endpoint, p->what);
            result = REVOPS_ERROR;
            break;
        }
        revops_http_request req = { "POST", url, headers, body.p, body.len, 0, 0 };
        revops_http_response resp;
        page_state s = { .c = c, .p = p, .out = out, .array = array, .page = page, .emitted = &emitted, .total = -1 };
        h->log(c->self, REVOPS_LOG_DEBUG, "POST %s for %s, page %d", endpoint, p->what, page);
        revops_status st = h->http_json_stream(c->self, &req, array, on_member, &s, &resp);
        revops_buf_free(&body);

        if (s.limit_reached) {
            h->error(c->self, "%s", "");   /* the host noted "stopped by the consumer" */
            st = REVOPS_OK;
        } else if (s.stopped != REVOPS_OK) {
            st = s.stopped;                /* the consumer's reason stands */
        } else if (s.failed) {
            h->error(c->self, "%s", s.err);
            st = REVOPS_ERROR;
        } else if (st != REVOPS_OK || resp.status < 200 || resp.status >= 300) {
            if (st == REVOPS_OK && has_no_calls_error(h, &resp)) {
                h->log(c->self, REVOPS_LOG_DEBUG, "%s: Gong found no calls for the filter", p->what);
            } else {
                st = request_failed(c, st, endpoint, p, page, &resp);
            }
        } else if (!s.seen_array && !(s.seen_records && s.total == 0)) {
            h->error(c->self, "Gong POST %s for %s (page %d): the answer has no '%s' array", endpoint, p->what, page,
                     array);
            st = REVOPS_ERROR;
        } else if (page == 1 && s.total >= 0 && strcmp(array, "calls") == 0 && !p->account_id) {
            h->stream_total_rows(out, p->limit > 0 && p->limit < s.total ? p->limit : s.total);
        }
        long status = resp.status;
        h->http_free(&resp);
        int done = st != REVOPS_OK || s.limit_reached || !s.cursor || status == 404;
        if (!done && cursor && strcmp(cursor, s.cursor) == 0) {
            h->error(c->self, "Gong POST %s for %s (page %d): Gong returned the same cursor twice", endpoint, p->what,
                     page);
            st = REVOPS_ERROR;
            done = 1;
        }
        free(cursor);
        cursor = s.cursor;
        s.cursor = NULL;
        if (done) {
            result = st;
            break;
        }
        if (page == GONG_MAX_PAGES) {
            h->error(c->self, "Gong POST %s for %s: more than %d pages; giving up", endpoint, p->what, GONG_MAX_PAGES);
            result = REVOPS_ERROR;
        }
    }
    free(cursor);
    if (result == REVOPS_OK)
        h->log(c->self, REVOPS_LOG_DEBUG, "%s: %lld rows", p->what, (long long)emitted);
    return result;
}

/* ------------------------------------------------------- query parsing -- */

/* Read a date member ("from"/"to") of a query or tool input into out. */
static int date_member(gong_ctx *c, revops_json *root, const char *name, const char *what, char out[40])
{
    const revops_host *h = c->host;
    revops_json *v = h->json_get(root, name);
    if (!v || is_type(h, v, REVOPS_JSON_NULL)) return 0;
    if (!is_type(h, v, REVOPS_JSON_STRING) || gong_datetime(h, h->json_string(v), out) < 0) {
        h->error(c->self, "Gong %s: \"%s\" must be a date \"YYYY-MM-DD\" or an ISO-8601 date-time "
                 "(e.g. 2026-08-01T00:00:00Z), not %s", what, name,
                 is_type(h, v, REVOPS_JSON_STRING) ? h->json_string(v) : type_name(h, v));
        return -1;
    }
    return 0;
}

static int check_keys(gong_ctx *c, revops_json *root, const char *const *allowed, const char *what)
{
    const revops_host *h = c->host;
    for (size_t i = 0; i < h->json_object_len(root); i++) {
        const char *k = h->json_object_key(root, i);
        size_t a = 0;
        while (allowed[a] && strcmp(allowed[a], k) != 0) a++;
        if (!allowed[a]) {
            buf b = { 0 };
            for (a = 0; allowed[a]; a++) revops_buf_fmt(&b, "%s%s", a ? ", " : "", allowed[a]);
            h->error(c->self, "Gong %s: unknown member \"%s\" (allowed: %s)", what, k, b.p ? b.p : "");
            revops_buf_free(&b);
            return -1;
        }
    }
    return 0;
}

/* Defaults from the options, then the query's own members. */
static int params_from(gong_ctx *c, revops_json *root, gong_params *p)
{
    const revops_host *h = c->host;
    if (c->opt_from) gong_datetime(h, c->opt_from, p->from);
    if (c->opt_to) gong_datetime(h, c->opt_to, p->to);
    p->workspace_id = c->workspace_id;
    p->brief = c->brief;
    if (!root) return 0;
    if (date_member(c, root, "from", p->what, p->from) < 0 || date_member(c, root, "to", p->what, p->to) < 0)
        return -1;
    revops_json *ws = h->json_get(root, "workspace_id"), *acc = h->json_get(root, "account_id");
    revops_json *ids = h->json_get(root, "call_ids"), *brief = h->json_get(root, "brief");
    if (ws && !is_type(h, ws, REVOPS_JSON_NULL)) {
        if (!is_type(h, ws, REVOPS_JSON_STRING)) {
            h->error(c->self, "Gong %s: \"workspace_id\" must be a string", p->what);
            return -1;
        }
        p->workspace_id = h->json_string(ws);
    }
    if (acc && !is_type(h, acc, REVOPS_JSON_NULL)) {
        if (!is_type(h, acc, REVOPS_JSON_STRING) || !*h->json_string(acc)) {
            h->error(c->self, "Gong %s: \"account_id\" must be a Salesforce account id (a string)", p->what);
            return -1;
        }
        p->account_id = h->json_string(acc);
    }
    if (ids && !is_type(h, ids, REVOPS_JSON_NULL)) {
        int good = is_type(h, ids, REVOPS_JSON_ARRAY) && h->json_len(ids) > 0;
        for (size_t i = 0; good && i < h->json_len(ids); i++)
            good = is_type(h, h->json_index(ids, i), REVOPS_JSON_STRING);
        if (!good) {
            h->error(c->self, "Gong %s: \"call_ids\" must be a non-empty array of call id strings", p->what);
            return -1;
        }
        p->call_ids = ids;
    }
    if (brief && !is_type(h, brief, REVOPS_JSON_NULL)) {
        if (!is_type(h, brief, REVOPS_JSON_BOOL)) {
            h->error(c->self, "Gong %s: \"brief\" must be true or false", p->what);
            return -1;
        }
        p->brief = h->json_int(brief) != 0;
    }
    return 0;
}

static int check_range(gong_ctx *c, const gong_params *p)
{
    /* Both in the same form ("...T00:00:00Z" from dates): compare the dates. */
    if (*p->from && *p->to && strncmp(p->from, p->to, 10) > 0) {
        c->host->error(c->self, "Gong %s: \"from\" (%.10s) is after \"to\" (%.10s)", p->what, p->from, p->to);
        return -1;
    }
    return 0;
}

/* Without a `to`, pin it to "now" for this query until a fetch of it succeeds,
 * so that a retried fetch skips exactly the rows it already handed over. */
static void pin_to(gong_ctx *c, const char *text, gong_params *p)
{
    if (*p->to) return;
    if (!c->pinned_query || strcmp(c->pinned_query, text) != 0) {
        free(c->pinned_query);
        c->pinned_query = strdup(text);
        double now = c->host->now();
        int64_t secs = (int64_t)now, days = secs / 86400, rem = secs % 86400;
        char date[11];
        c->host->date_format(days, date);
        snprintf(c->pinned_to, sizeof c->pinned_to, "%sT%02d:%02d:%02dZ", date, (int)(rem / 3600),
                 (int)(rem / 60 % 60), (int)(rem % 60));
    }
    snprintf(p->to, sizeof p->to, "%s", c->pinned_to);
}

static void unpin(gong_ctx *c)
{
    free(c->pinned_query);
    c->pinned_query = NULL;
}

/* Parse a JSON object (query text or tool input); NULL text or blank: no root. */
static int parse_object(gong_ctx *c, const char *text, const char *what, revops_json **root)
{
    const revops_host *h = c->host;
    *root = NULL;
    const char *t = text ? text : "";
    while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r') t++;
    if (!*t) return 0;
    char err[200] = "";
    *root = h->json_parse(t, strlen(t), err, sizeof err);
    if (!*root || h->json_type(*root) != REVOPS_JSON_OBJECT) {
        h->error(c->self, "Gong %s: the query must be a JSON object such as "
                 "{\"from\":\"2026-08-01\",\"to\":\"2026-11-01\"}%s%s", what, *err ? ": " : "", err);
        if (*root) h->json_free(*root);
        *root = NULL;
        return -1;
    }
    return 0;
}

/* -------------------------------------------------------------- fetch -- */

static revops_status gong_fetch(void *ctx, const revops_query *query, revops_stream *out)
{
    gong_ctx *c = ctx;
    const revops_host *h = c->host;
    static const char *const allowed[] = { "from", "to", "workspace_id", "account_id", "call_ids", "brief", NULL };
    gong_params p = { .limit = query->row_limit };
    char line[160];
    revops_first_line(query->text, line, sizeof line);
    snprintf(p.what, sizeof p.what, "query '%s'", line);

    revops_json *root;
    if (parse_object(c, query->text, p.what, &root) < 0) return REVOPS_ERROR;
    revops_status st = REVOPS_ERROR;
    if ((!root || check_keys(c, root, allowed, p.what) == 0) && params_from(c, root, &p) == 0 &&
        check_range(c, &p) == 0) {
        pin_to(c, query->text ? query->text : "", &p);
        st = h->stream_columns(out, NCOLS_CALLS, call_columns);
        if (st == REVOPS_OK) st = run_pages(c, &p, GONG_EXTENSIVE, "calls", out);
        if (st == REVOPS_OK) unpin(c);
    }
    if (root) h->json_free(root);
    return st;
}

/* -------------------------------------------------------------- tools -- */

static int tool_limit(gong_ctx *c, revops_json *root, const char *tool, int64_t *limit)
{
    const revops_host *h = c->host;
    revops_json *lim = h->json_get(root, "limit");
    if (!lim || is_type(h, lim, REVOPS_JSON_NULL)) return 0;
    if (!is_type(h, lim, REVOPS_JSON_INT) || h->json_int(lim) < 1) {
        h->error(c->self, "Gong tool %s: \"limit\" must be an integer >= 1", tool);
        return -1;
    }
    *limit = h->json_int(lim);
    return 0;
}

static revops_status gong_call_tool(void *ctx, const char *tool, const char *input_json, revops_stream *out)
{
    gong_ctx *c = ctx;
    const revops_host *h = c->host;
    int calls = tool && strcmp(tool, "gong_calls") == 0, transcript = tool && strcmp(tool, "gong_transcript") == 0;
    if (!calls && !transcript) {
        h->error(c->self, "unknown tool '%s' (this source offers gong_calls and gong_transcript)", tool ? tool : "");
        return REVOPS_ERROR;
    }
    gong_params p = { 0 };
    snprintf(p.what, sizeof p.what, "tool %s", tool);
    revops_json *root;
    if (parse_object(c, input_json, p.what, &root) < 0) return REVOPS_ERROR;
    if (!root) {
        h->error(c->self, "Gong tool %s: the input must be a JSON object", tool);
        return REVOPS_ERROR;
    }
    revops_status st = REVOPS_ERROR;
    if (calls) {
        static const char *const allowed[] = { "from", "to", "account_id", "limit", NULL };
        if (check_keys(c, root, allowed, p.what) == 0 && params_from(c, root, &p) == 0 && check_range(c, &p) == 0 &&
            tool_limit(c, root, tool, &p.limit) == 0) {
            st = h->stream_columns(out, NCOLS_CALLS, call_columns);
            if (st == REVOPS_OK) st = run_pages(c, &p, GONG_EXTENSIVE, "calls", out);
        }
    } else {
        static const char *const allowed[] = { "call_id", "limit", NULL };
        revops_json *id = h->json_get(root, "call_id");
        if (check_keys(c, root, allowed, p.what) == 0 && tool_limit(c, root, tool, &p.limit) == 0) {
            if (!is_type(h, id, REVOPS_JSON_STRING) || !*h->json_string(id)) {
                h->error(c->self, "Gong tool gong_transcript: input needs \"call_id\", a Gong call id string");
            } else {
                /* callIds wants an array: wrap the one id. */
                char *q = h->json_quote(h->json_string(id));
                size_t n = strlen(q) + 3;
                char *arr = malloc(n);
                revops_json *ids = NULL;
                if (arr) {
                    snprintf(arr, n, "[%s]", q);
                    ids = h->json_parse(arr, strlen(arr), NULL, 0);
                    free(arr);
                }
                h->free(q);
                p.call_ids = ids;
                p.workspace_id = c->workspace_id;
                snprintf(p.what, sizeof p.what, "tool gong_transcript (call %.80s)", h->json_string(id));
                st = h->stream_columns(out, NCOLS_TRANSCRIPT, transcript_columns);
                if (st == REVOPS_OK) st = run_pages(c, &p, GONG_TRANSCRIPT, "callTranscripts", out);
                if (ids) h->json_free(ids);
            }
        }
    }
    h->json_free(root);
    return st;
}

/* --------------------------------------------------------- lifecycle -- */

static void gong_close(void *ctx)
{
    gong_ctx *c = ctx;
    if (!c) return;
    if (c->auth) {
        revops_wipe(c->auth, strlen(c->auth));
        free(c->auth);
    }
    free(c->base_url);
    free(c->pinned_query);
    free(c);
}

static revops_status gong_open(revops_instance *self, const revops_host *host, const revops_options *opts, void **ctx)
{
    if (host->abi_minor < 1 || host->size < offsetof(revops_host, base64) + sizeof host->base64 || !host->http_json_stream ||
        !host->json_object_len || !host->base64) {
        host->error(self, "the gong source needs a revops host with ABI 1.1 (streaming JSON over HTTP, base64)");
        return REVOPS_ERROR;
    }
    const char *key = host->opt_string(opts, "access_key");
    const char *secret = host->opt_string(opts, "access_key_secret");
    const char *base = host->opt_string(opts, "base_url");
    if (!key || !*key || !secret || !*secret) {
        host->error(self, "access_key and access_key_secret must not be empty (Gong: Company Settings > API)");
        return REVOPS_ERROR;
    }
    if (strchr(key, ':')) {
        /* RFC 7617: the user-id of Basic authentication cannot hold a colon. */
        host->error(self, "access_key contains ':', which Basic authentication cannot carry; check the option");
        return REVOPS_ERROR;
    }
    if (!base || (strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0)) {
        host->error(self, "base_url must start with https:// (got '%s')", base ? base : "");
        return REVOPS_ERROR;
    }
    gong_ctx *c = calloc(1, sizeof *c);
    size_t kl = strlen(key), sl = strlen(secret);
    char *pair = malloc(kl + sl + 2);
    char *token = NULL;
    if (c && pair) {
        memcpy(pair, key, kl);
        pair[kl] = ':';
        memcpy(pair + kl + 1, secret, sl + 1);
        token = host->base64(pair, kl + sl + 1, 0);
        revops_wipe(pair, kl + sl + 1);
    }
    free(pair);
    if (c && token) {
        size_t n = strlen(token) + sizeof "Authorization: Basic ";
        c->auth = malloc(n);
        if (c->auth) snprintf(c->auth, n, "Authorization: Basic %s", token);
    }
    if (token) {
        revops_wipe(token, strlen(token));
        host->free(token);
    }
    if (c) c->base_url = strdup(base);
    if (!c || !c->auth || !c->base_url) {
        host->error(self, "out of memory");
        gong_close(c);
        return REVOPS_ERROR;
    }
    size_t bl = strlen(c->base_url);
    while (bl > 0 && c->base_url[bl - 1] == '/') c->base_url[--bl] = '\0';
    c->self = self;
    c->host = host;
    c->workspace_id = host->opt_string(opts, "workspace_id");
    c->opt_from = host->opt_string(opts, "from");
    c->opt_to = host->opt_string(opts, "to");
    c->brief = host->opt_bool(opts, "brief");
    if (c->opt_from && c->opt_to && strcmp(c->opt_from, c->opt_to) > 0) {
        host->error(self, "option from (%s) is after option to (%s)", c->opt_from, c->opt_to);
        gong_close(c);
        return REVOPS_ERROR;
    }
    *ctx = c;
    return REVOPS_OK;
}

/* -------------------------------------------------------- descriptor -- */

static const revops_tool tools[] = {
    { "gong_calls",
      "List recorded Gong calls in a date range (from inclusive, to exclusive, YYYY-MM-DD), optionally only "
      "those of one Salesforce account: call id, account, opportunity, date, title, duration, direction, scope.",
      "{\"type\":\"object\",\"properties\":{"
      "\"from\":{\"type\":\"string\",\"description\":\"first day, YYYY-MM-DD or ISO-8601 date-time\"},"
      "\"to\":{\"type\":\"string\",\"description\":\"day after the last, YYYY-MM-DD or ISO-8601 date-time\"},"
      "\"account_id\":{\"type\":\"string\",\"description\":\"Salesforce account id\"},"
      "\"limit\":{\"type\":\"integer\",\"minimum\":1}},"
      "\"additionalProperties\":false}" },
    { "gong_transcript",
      "Fetch the transcript of one Gong call: one row per sentence with speaker id, topic, start and end "
      "(milliseconds from the start of the call) and text.",
      "{\"type\":\"object\",\"properties\":{"
      "\"call_id\":{\"type\":\"string\",\"description\":\"Gong call id\"},"
      "\"limit\":{\"type\":\"integer\",\"minimum\":1}},"
      "\"required\":[\"call_id\"],\"additionalProperties\":false}" },
    { NULL, NULL, NULL }
};

static const revops_source_vtable vtable = {
    .open = gong_open,
    .fetch = gong_fetch,
    .close = gong_close,
    .tools = tools,
    .call_tool = gong_call_tool,
};

static const revops_option_def options[] = {
    { "access_key", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 1,
      "Gong API access key (Company Settings > API); env:NAME or file:/path" },
    { "access_key_secret", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 1,
      "Gong API access key secret; env:NAME or file:/path" },
    { "base_url", REVOPS_OPT_STRING, 0, "https://api.gong.io", 0, 0, NULL, 0,
      "Gong API base URL (your tenant's is shown on Gong's API page)" },
    { "workspace_id", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 0,
      "only calls of this Gong workspace (filter.workspaceId)" },
    { "from", REVOPS_OPT_DATE, 0, NULL, 0, 0, NULL, 0,
      "first day of calls (inclusive) when the query gives no \"from\"" },
    { "to", REVOPS_OPT_DATE, 0, NULL, 0, 0, NULL, 0,
      "day after the last day of calls (exclusive) when the query gives no \"to\"" },
    { "brief", REVOPS_OPT_BOOL, 0, "false", 0, 0, NULL, 0,
      "ask Gong for each call's brief (content.brief) into call_summary" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_SOURCE, "gong", "1.0.0",
    "calls from Gong (API v2 calls/extensive) mapped to Salesforce accounts; tools gong_calls, gong_transcript",
    options, { .source = &vtable }
};
