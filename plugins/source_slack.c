/*
 * source "slack": a channel's messages from the Slack Web API, one row per
 * message, with the replies of its threads on request.
 *
 * API (public docs, docs.slack.dev):
 *   - apis/web-api: methods are https://slack.com/api/METHOD, arguments as GET query
 *     or POST application/x-www-form-urlencoded; the token goes in
 *     "Authorization: Bearer xoxb-..."; every answer is a JSON object with a boolean
 *     "ok", and on failure a short machine-readable "error" code.
 *   - reference/methods/conversations.history: channel, cursor, limit, oldest, latest,
 *     inclusive; answer {"ok": true, "messages": [...], "has_more",
 *     "response_metadata": {"next_cursor"}} (newest first).
 *   - reference/methods/conversations.replies: channel, ts (the parent), cursor, limit;
 *     the answer holds the parent and its replies.
 *   - apis/web-api/pagination: follow response_metadata.next_cursor until it is empty.
 *   - apis/web-api/rate-limits: over a method's tier, HTTP 429 with Retry-After (seconds).
 * We POST the arguments as a form, so that cursors and channel ids stay out of URLs.
 *
 * The query text is a small JSON object:
 *   {"channel": "C123", "oldest": "...", "latest": "...", "replies": true|false}
 * channel is required; oldest / latest are Slack timestamps ("1730419200.000100"), a
 * number of seconds, or a date "YYYY-MM-DD" (midnight UTC); replies (default false)
 * also fetches conversations.replies for every message with reply_count > 0 and
 * streams its replies right after the page that holds the parent.  Without a
 * latest, the first attempt pins it to "now", so that a retried fetch (which skips
 * the rows already taken) pages through the same messages.
 *
 * Rows: channel, ts, thread_ts, user (the bot_id for bot messages without a user),
 * text, reply_count (0 when Slack gives none), message_date (the UTC date of ts).
 *
 * Errors: HTTP 429 and 5xx are retried by the host (Retry-After honoured);
 * ok:false is ERROR naming Slack's error code, except ratelimited, internal_error,
 * service_unavailable and request_timeout (RETRY); invalid_auth, not_authed,
 * token_revoked, token_expired and account_inactive say that Slack refused the
 * token, never the token.
 */
#include <revops/revops.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLACK_MAX_PAGES 1000000

/* ------------------------------------------------------------- buffer -- */

/* The contract's string buffer (revops.h). */
typedef revops_buf buf;

/* ------------------------------------------------------------ context -- */

typedef struct slack_ctx {
    revops_instance *self;
    const revops_host *host;
    char *auth;                 /* "Authorization: Bearer ..." (secret; wiped on close) */
    char *base_url;             /* without a trailing '/' */
    int64_t page_limit;
    char *pinned_query;         /* the query whose missing `latest` was pinned ... */
    char pinned_latest[32];     /* ... to this timestamp, until it succeeds */
} slack_ctx;

typedef struct slack_params {
    char what[200];             /* "query '{...}'" or "tool slack_history": for messages */
    const char *channel;
    char oldest[32], latest[32];
    int replies;
    int64_t limit;              /* 0: none */
} slack_params;

static int is_type(const revops_host *h, revops_json *j, revops_json_type t)
{
    return j && h->json_type(j) == t;
}

static int absent(const revops_host *h, revops_json *j)
{
    return !j || h->json_type(j) == REVOPS_JSON_NULL;
}

static const char *type_name(const revops_host *h, revops_json *j)
{
    return j ? revops_json_type_name(h->json_type(j)) : "nothing";
}

/* A Slack timestamp: digits, optionally '.' and digits. */
static int is_slack_ts(const char *s)
{
    const char *p = s;
    if (!(*p >= '0' && *p <= '9')) return 0;
    while (*p >= '0' && *p <= '9') p++;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9')) return 0;
        while (*p >= '0' && *p <= '9') p++;
    }
    return *p == '\0' && p - s < 31;
}

/* The UTC date of a Slack timestamp. */
static void ts_date(const revops_host *h, const char *ts, char date[11])
{
    long long secs = strtoll(ts, NULL, 10);
    h->date_format(secs / 86400, date);
}

/* ---------------------------------------------------------------- form -- */

static void form_field(slack_ctx *c, buf *b, const char *name, const char *value)
{
    char *v = c->host->url_encode(value);
    if (b->len) revops_buf_str(b, "&");
    revops_buf_str(b, name);
    revops_buf_str(b, "=");
    revops_buf_str(b, v ? v : "");
    c->host->free(v);
}

/* ------------------------------------------------------------- errors -- */

static int is_auth_error(const char *code)
{
    static const char *const codes[] = { "invalid_auth", "not_authed", "token_revoked", "token_expired",
                                         "account_inactive", NULL };
    for (size_t i = 0; codes[i]; i++)
        if (strcmp(code, codes[i]) == 0) return 1;
    return 0;
}

static int is_transient_error(const char *code)
{
    static const char *const codes[] = { "ratelimited", "internal_error", "service_unavailable", "request_timeout",
                                         NULL };
    for (size_t i = 0; codes[i]; i++)
        if (strcmp(code, codes[i]) == 0) return 1;
    return 0;
}

/* Slack's ok:false, as a status and a message naming its error code. */
static revops_status slack_said(slack_ctx *c, const char *where, const char *code, const char *needed)
{
    const revops_host *h = c->host;
    if (is_auth_error(code)) {
        h->error(c->self, "%s: Slack refused the bot token (%s); check the token option and that the app is "
                 "installed in the workspace", where, code);
        return REVOPS_ERROR;
    }
    if (is_transient_error(code)) {
        h->error(c->self, "%s: Slack said %s (transient)", where, code);
        return REVOPS_RETRY;
    }
    if (strcmp(code, "missing_scope") == 0 && needed)
        h->error(c->self, "%s: Slack said missing_scope: the token needs the scope %s", where, needed);
    else if (strcmp(code, "not_in_channel") == 0)
        h->error(c->self, "%s: Slack said not_in_channel: invite the app to the channel", where);
    else
        h->error(c->self, "%s: Slack said %s", where, code);
    return REVOPS_ERROR;
}

/* A non-2xx final status: Slack's own {"ok":false,"error":...} when the body has it. */
static revops_status http_status_error(slack_ctx *c, const char *where, const revops_http_response *r)
{
    const revops_host *h = c->host;
    revops_json *root = r->body && r->body_len ? h->json_parse(r->body, r->body_len, NULL, 0) : NULL;
    const char *code = root ? h->json_string(h->json_get(root, "error")) : NULL;
    revops_status st;
    if (code && *code) {
        char w[400];
        snprintf(w, sizeof w, "%s: HTTP %ld", where, r->status);
        st = slack_said(c, w, code, h->json_string(h->json_get(root, "needed")));
    } else {
        char body[160];
        size_t k = 0;
        for (size_t i = 0; r->body && i < r->body_len && k + 1 < sizeof body; i++)
            body[k++] = r->body[i] == '\n' || r->body[i] == '\r' ? ' ' : r->body[i];
        body[k] = '\0';
        if (r->status == 401 || r->status == 403)
            h->error(c->self, "%s: Slack refused the bot token (HTTP %ld)%s%s", where, r->status, k ? ": " : "", body);
        else
            h->error(c->self, "%s: HTTP %ld%s%s", where, r->status, k ? ": " : "", body);
        st = REVOPS_ERROR;
    }
    if (root) h->json_free(root);
    return st;
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

/* A request that ended without a usable answer (the host's retries included). */
static revops_status transport_error(slack_ctx *c, const char *where, revops_status st, const revops_http_response *r)
{
    const revops_host *h = c->host;
    char reason[400];
    host_reason(h, c->self, reason, sizeof reason);   /* before host->error overwrites it */
    if (r->status >= 200 && r->status < 300) {
        if (st == REVOPS_RETRY)
            h->error(c->self, "%s: the answer ended early (truncated JSON) after %d attempt%s%s%s%s", where,
                     r->attempts, r->attempts == 1 ? "" : "s", *reason ? " (" : "", reason, *reason ? ")" : "");
        else
            h->error(c->self, "%s: the answer (HTTP %ld) is not valid JSON%s%s%s", where, r->status,
                     *reason ? " (" : "", reason, *reason ? ")" : "");
    } else if (r->status > 0) {
        revops_json *root = r->body && r->body_len ? h->json_parse(r->body, r->body_len, NULL, 0) : NULL;
        const char *code = root ? h->json_string(h->json_get(root, "error")) : NULL;
        h->error(c->self, "%s: HTTP %ld after %d attempt%s%s%s%s", where, r->status, r->attempts,
                 r->attempts == 1 ? "" : "s", st == REVOPS_RETRY ? " (transient; retries exhausted)" : "",
                 code ? ": Slack said " : "", code ? code : "");
        if (root) h->json_free(root);
    } else {
        h->error(c->self, "%s: no complete answer from Slack after %d attempt%s (%s)", where, r->attempts,
                 r->attempts == 1 ? "" : "s",
                 *reason ? reason
                         : st == REVOPS_RETRY ? "timeout, connection or TLS failure; transient, retries exhausted"
                                              : "timeout, connection or TLS failure");
    }
    return st;
}

/* -------------------------------------------------------------- pages -- */

enum { COL_CHANNEL, COL_TS, COL_THREAD, COL_USER, COL_TEXT, COL_REPLIES, COL_DATE, NCOLS };

static const revops_column columns[NCOLS] = {
    { "channel", REVOPS_TYPE_TEXT },
    { "ts", REVOPS_TYPE_TEXT },
    { "thread_ts", REVOPS_TYPE_TEXT },
    { "user", REVOPS_TYPE_TEXT },
    { "text", REVOPS_TYPE_TEXT },
    { "reply_count", REVOPS_TYPE_INT },
    { "message_date", REVOPS_TYPE_DATE },
};

/* One answer of conversations.history or conversations.replies. */
typedef struct page_state {
    slack_ctx *c;
    const slack_params *p;
    revops_stream *out;
    const char *where;          /* "Slack conversations.history for query '...' (page 2)" */
    const char *skip_ts;        /* replies: the parent, already streamed from history */
    size_t index;
    int64_t *emitted;
    int ok_seen, ok;
    char *error, *needed;       /* Slack's error code, and the scope missing_scope wants */
    char *next_cursor;
    int collect;                /* history with replies: ... */
    char **threads;             /* ... remember the parents with reply_count > 0 */
    size_t nthreads, cap_threads;
    int limit_reached;
    revops_status stopped;
    int failed;
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
    snprintf(s->err, sizeof s->err, "%s: %s", s->where, why);
    s->failed = 1;
    return REVOPS_ERROR;
}

static void page_free(page_state *s)
{
    free(s->error);
    free(s->needed);
    free(s->next_cursor);
    for (size_t i = 0; i < s->nthreads; i++) free(s->threads[i]);
    free(s->threads);
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

static revops_status on_message(page_state *s, revops_json *m)
{
    const revops_host *h = s->c->host;
    size_t n = ++s->index;
    if (s->ok_seen && !s->ok) return REVOPS_OK;   /* an ok:false answer carries no rows */
    if (!is_type(h, m, REVOPS_JSON_OBJECT))
        return page_fail(s, "message %zu is %s, not an object", n, type_name(h, m));
    revops_json *ts = h->json_get(m, "ts"), *thread = h->json_get(m, "thread_ts");
    if (!is_type(h, ts, REVOPS_JSON_STRING) || !is_slack_ts(h->json_string(ts)))
        return page_fail(s, "message %zu: ts is %s, not a Slack timestamp string", n,
                         is_type(h, ts, REVOPS_JSON_STRING) ? "malformed" : type_name(h, ts));
    const char *tss = h->json_string(ts);
    if (s->skip_ts && strcmp(tss, s->skip_ts) == 0) return REVOPS_OK;
    if (!absent(h, thread) && !(is_type(h, thread, REVOPS_JSON_STRING) && is_slack_ts(h->json_string(thread))))
        return page_fail(s, "message %s: thread_ts is %s, not a Slack timestamp string", tss, type_name(h, thread));
    const char *user = NULL;
    static const char *const who[] = { "user", "bot_id" };
    for (int i = 0; i < 2 && !user; i++) {
        revops_json *u = h->json_get(m, who[i]);
        if (!absent(h, u) && !is_type(h, u, REVOPS_JSON_STRING))
            return page_fail(s, "message %s: %s is %s, not a string", tss, who[i], type_name(h, u));
        user = h->json_string(u);
    }
    revops_json *text = h->json_get(m, "text"), *rc = h->json_get(m, "reply_count");
    if (!absent(h, text) && !is_type(h, text, REVOPS_JSON_STRING))
        return page_fail(s, "message %s: text is %s, not a string", tss, type_name(h, text));
    if (!absent(h, rc) && !is_type(h, rc, REVOPS_JSON_INT))
        return page_fail(s, "message %s: reply_count is %s, not an integer", tss, type_name(h, rc));
    int64_t replies = absent(h, rc) ? 0 : h->json_int(rc);

    if (s->collect && replies > 0) {  /* remember the parent for conversations.replies */
        if (s->nthreads == s->cap_threads) {
            size_t cap = s->cap_threads ? 2 * s->cap_threads : 16;
            char **t = realloc(s->threads, cap * sizeof *t);
            if (!t) return page_fail(s, "out of memory");
            s->threads = t;
            s->cap_threads = cap;
        }
        if (!(s->threads[s->nthreads] = strdup(tss))) return page_fail(s, "out of memory");
        s->nthreads++;
    }

    char date[11];
    ts_date(h, tss, date);
    revops_value cells[NCOLS];
    set_text(&cells[COL_CHANNEL], s->p->channel);
    set_text(&cells[COL_TS], tss);
    set_text(&cells[COL_THREAD], h->json_string(thread));
    set_text(&cells[COL_USER], user);
    set_text(&cells[COL_TEXT], h->json_string(text));
    memset(&cells[COL_REPLIES], 0, sizeof cells[COL_REPLIES]);
    cells[COL_REPLIES].type = REVOPS_TYPE_INT;
    cells[COL_REPLIES].v.i = replies;
    set_text(&cells[COL_DATE], date);
    cells[COL_DATE].type = REVOPS_TYPE_DATE;

    revops_status st = h->stream_row(s->out, cells);
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

static revops_status keep_string(page_state *s, revops_json *v, const char *name, char **out)
{
    const revops_host *h = s->c->host;
    if (absent(h, v)) return REVOPS_OK;
    if (!is_type(h, v, REVOPS_JSON_STRING)) return page_fail(s, "\"%s\" is %s, not a string", name, type_name(h, v));
    free(*out);
    *out = strdup(h->json_string(v));
    return *out ? REVOPS_OK : page_fail(s, "out of memory");
}

static revops_status on_member(void *data, const char *member, revops_json *v)
{
    page_state *s = data;
    const revops_host *h = s->c->host;
    if (strcmp(member, "messages") == 0) return on_message(s, v);
    if (strcmp(member, "ok") == 0) {
        if (!is_type(h, v, REVOPS_JSON_BOOL)) return page_fail(s, "\"ok\" is %s, not true or false", type_name(h, v));
        s->ok_seen = 1;
        s->ok = h->json_int(v) != 0;
        return REVOPS_OK;
    }
    if (strcmp(member, "error") == 0) return keep_string(s, v, "error", &s->error);
    if (strcmp(member, "needed") == 0) return keep_string(s, v, "needed", &s->needed);
    if (strcmp(member, "response_metadata") == 0) {
        if (absent(h, v)) return REVOPS_OK;
        if (!is_type(h, v, REVOPS_JSON_OBJECT))
            return page_fail(s, "\"response_metadata\" is %s, not an object", type_name(h, v));
        revops_status st = keep_string(s, h->json_get(v, "next_cursor"), "response_metadata.next_cursor",
                                       &s->next_cursor);
        if (st == REVOPS_OK && s->next_cursor && !*s->next_cursor) {
            free(s->next_cursor);
            s->next_cursor = NULL;
        }
        return st;
    }
    return REVOPS_OK;
}

/* ------------------------------------------------------------ methods -- */

/* Call `method` page by page.  history: parent == NULL; replies: parent is the
 * thread's ts.  With p->replies, history pages fetch their threads' replies. */
static revops_status run_method(slack_ctx *c, const slack_params *p, const char *parent, int64_t *emitted,
                                revops_stream *out)
{
    const revops_host *h = c->host;
    const char *method = parent ? "conversations.replies" : "conversations.history";
    char url[1024], limit[24];
    snprintf(url, sizeof url, "%s/%s", c->base_url, method);
    snprintf(limit, sizeof limit, "%lld", (long long)c->page_limit);
    const char *headers[] = { c->auth, "Content-Type: application/x-www-form-urlencoded", "Accept: application/json",
                              NULL };
    char *cursor = NULL;
    revops_status result = REVOPS_OK;

    for (int page = 1; page <= SLACK_MAX_PAGES; page++) {
        char where[400];
        if (parent)
            snprintf(where, sizeof where, "Slack %s of thread %s in %s for %s (page %d)", method, parent, p->channel,
                     p->what, page);
        else
            snprintf(where, sizeof where, "Slack %s of %s for %s (page %d)", method, p->channel, p->what, page);
        buf body = { 0 };
        form_field(c, &body, "channel", p->channel);
        if (parent) {
            form_field(c, &body, "ts", parent);
        } else {
            if (*p->oldest) form_field(c, &body, "oldest", p->oldest);
            if (*p->latest) form_field(c, &body, "latest", p->latest);
        }
        form_field(c, &body, "limit", limit);
        if (cursor) form_field(c, &body, "cursor", cursor);
        if (body.oom) {
            revops_buf_free(&body);
            h->error(c->self, "%s: out of memory", where);
            result = REVOPS_ERROR;
            break;
        }
        revops_http_request req = { "POST", url, headers, body.p, body.len, 0, 0 };
        revops_http_response resp;
        page_state s = { .c = c, .p = p, .out = out, .where = where, .skip_ts = parent, .emitted = emitted };
        s.collect = !parent && p->replies;
        h->log(c->self, REVOPS_LOG_DEBUG, "%s", where);
        revops_status st = h->http_json_stream(c->self, &req, "messages", on_member, &s, &resp);
        revops_buf_free(&body);

        if (s.limit_reached) {
            h->error(c->self, "%s", "");   /* the host noted "stopped by the consumer" */
            st = REVOPS_OK;
        } else if (s.stopped != REVOPS_OK) {
            st = s.stopped;
        } else if (s.failed) {
            h->error(c->self, "%s", s.err);
            st = REVOPS_ERROR;
        } else if (st != REVOPS_OK) {
            st = transport_error(c, where, st, &resp);
        } else if (resp.status < 200 || resp.status >= 300) {
            st = http_status_error(c, where, &resp);
        } else if (!s.ok_seen) {
            h->error(c->self, "%s: the answer has no \"ok\" member (not a Slack Web API answer?)", where);
            st = REVOPS_ERROR;
        } else if (!s.ok) {
            if (parent && s.error && strcmp(s.error, "thread_not_found") == 0) {
                /* The parent was deleted since history listed it: nothing to add. */
                h->log(c->self, REVOPS_LOG_WARN, "%s: Slack said thread_not_found; skipping the thread", where);
            } else {
                st = slack_said(c, where, s.error ? s.error : "(no error code)", s.needed);
            }
        }
        h->http_free(&resp);

        /* Threads of this history page, right after it. */
        for (size_t i = 0; st == REVOPS_OK && !s.limit_reached && i < s.nthreads; i++) {
            st = run_method(c, p, s.threads[i], emitted, out);
            if (st == REVOPS_OK && p->limit > 0 && *emitted >= p->limit) s.limit_reached = 1;
        }

        int done = st != REVOPS_OK || s.limit_reached || !s.next_cursor || !s.ok;
        if (!done && cursor && strcmp(cursor, s.next_cursor) == 0) {
            h->error(c->self, "%s: Slack returned the same next_cursor twice", where);
            st = REVOPS_ERROR;
            done = 1;
        }
        free(cursor);
        cursor = s.next_cursor;
        s.next_cursor = NULL;
        page_free(&s);
        if (done) {
            result = st;
            break;
        }
    }
    free(cursor);
    return result;
}

/* --------------------------------------------------------- parameters -- */

/* oldest / latest: a Slack timestamp string, a number of seconds, or a date. */
static int ts_member(slack_ctx *c, revops_json *root, const char *name, const char *what, char out[32])
{
    const revops_host *h = c->host;
    revops_json *v = h->json_get(root, name);
    if (absent(h, v)) return 0;
    if (is_type(h, v, REVOPS_JSON_INT) && h->json_int(v) >= 0) {
        snprintf(out, 32, "%lld", (long long)h->json_int(v));
        return 0;
    }
    if (is_type(h, v, REVOPS_JSON_REAL) && h->json_real(v) >= 0) {
        snprintf(out, 32, "%.6f", h->json_real(v));
        return 0;
    }
    if (is_type(h, v, REVOPS_JSON_STRING)) {
        const char *s = h->json_string(v);
        if (is_slack_ts(s)) {
            snprintf(out, 32, "%s", s);
            return 0;
        }
        int64_t days = strlen(s) == 10 ? h->date_days(s) : INT64_MIN;
        if (days != INT64_MIN && days >= 0) {
            snprintf(out, 32, "%lld.000000", (long long)(days * 86400));
            return 0;
        }
    }
    h->error(c->self, "Slack %s: \"%s\" must be a Slack timestamp (\"1730419200.000100\"), a number of seconds "
             "or a date \"YYYY-MM-DD\", not %s", what, name,
             is_type(h, v, REVOPS_JSON_STRING) ? h->json_string(v) : type_name(h, v));
    return -1;
}

static int check_keys(slack_ctx *c, revops_json *root, const char *const *allowed, const char *what)
{
    const revops_host *h = c->host;
    for (size_t i = 0; i < h->json_object_len(root); i++) {
        const char *k = h->json_object_key(root, i);
        size_t a = 0;
        while (allowed[a] && strcmp(allowed[a], k) != 0) a++;
        if (!allowed[a]) {
            buf b = { 0 };
            for (a = 0; allowed[a]; a++) {
                if (a) revops_buf_str(&b, ", ");
                revops_buf_str(&b, allowed[a]);
            }
            h->error(c->self, "Slack %s: unknown member \"%s\" (allowed: %s)", what, k, b.p ? b.p : "");
            revops_buf_free(&b);
            return -1;
        }
    }
    return 0;
}

static int params_from(slack_ctx *c, revops_json *root, slack_params *p)
{
    const revops_host *h = c->host;
    revops_json *ch = h->json_get(root, "channel"), *rep = h->json_get(root, "replies");
    if (!is_type(h, ch, REVOPS_JSON_STRING) || !*h->json_string(ch) || strlen(h->json_string(ch)) > 64) {
        h->error(c->self, "Slack %s: \"channel\" must be a conversation id string such as \"C0123456789\"", p->what);
        return -1;
    }
    p->channel = h->json_string(ch);
    if (ts_member(c, root, "oldest", p->what, p->oldest) < 0 || ts_member(c, root, "latest", p->what, p->latest) < 0)
        return -1;
    if (*p->oldest && *p->latest && strtod(p->oldest, NULL) > strtod(p->latest, NULL)) {
        h->error(c->self, "Slack %s: \"oldest\" (%s) is after \"latest\" (%s)", p->what, p->oldest, p->latest);
        return -1;
    }
    if (!absent(h, rep)) {
        if (!is_type(h, rep, REVOPS_JSON_BOOL)) {
            h->error(c->self, "Slack %s: \"replies\" must be true or false", p->what);
            return -1;
        }
        p->replies = h->json_int(rep) != 0;
    }
    return 0;
}

static int parse_object(slack_ctx *c, const char *text, const char *what, revops_json **root)
{
    const revops_host *h = c->host;
    const char *t = text ? text : "";
    char err[200] = "";
    *root = h->json_parse(t, strlen(t), err, sizeof err);
    if (!*root || h->json_type(*root) != REVOPS_JSON_OBJECT) {
        h->error(c->self, "Slack %s: the query must be a JSON object such as {\"channel\":\"C0123456789\"}%s%s", what,
                 *err ? ": " : "", err);
        if (*root) h->json_free(*root);
        *root = NULL;
        return -1;
    }
    return 0;
}

/* Without a `latest`, pin it to "now" for this query until a fetch of it
 * succeeds, so that a retried fetch pages through the same messages. */
static void pin_latest(slack_ctx *c, const char *text, slack_params *p)
{
    if (*p->latest) return;
    if (!c->pinned_query || strcmp(c->pinned_query, text) != 0) {
        free(c->pinned_query);
        c->pinned_query = strdup(text);
        snprintf(c->pinned_latest, sizeof c->pinned_latest, "%.6f", c->host->now());
    }
    snprintf(p->latest, sizeof p->latest, "%s", c->pinned_latest);
}

/* -------------------------------------------------------------- fetch -- */

static revops_status slack_fetch(void *ctx, const revops_query *query, revops_stream *out)
{
    slack_ctx *c = ctx;
    const revops_host *h = c->host;
    static const char *const allowed[] = { "channel", "oldest", "latest", "replies", NULL };
    slack_params p = { .limit = query->row_limit };
    char line[160];
    revops_first_line(query->text, line, sizeof line);
    snprintf(p.what, sizeof p.what, "query '%s'", line);
    revops_json *root;
    if (parse_object(c, query->text, p.what, &root) < 0) return REVOPS_ERROR;
    revops_status st = REVOPS_ERROR;
    if (check_keys(c, root, allowed, p.what) == 0 && params_from(c, root, &p) == 0) {
        pin_latest(c, query->text, &p);
        st = h->stream_columns(out, NCOLS, columns);
        int64_t emitted = 0;
        if (st == REVOPS_OK) st = run_method(c, &p, NULL, &emitted, out);
        if (st == REVOPS_OK) {
            free(c->pinned_query);
            c->pinned_query = NULL;
            h->log(c->self, REVOPS_LOG_DEBUG, "%s: %lld rows", p.what, (long long)emitted);
        }
    }
    h->json_free(root);
    return st;
}

static revops_status slack_call_tool(void *ctx, const char *tool, const char *input_json, revops_stream *out)
{
    slack_ctx *c = ctx;
    const revops_host *h = c->host;
    if (!tool || strcmp(tool, "slack_history") != 0) {
        h->error(c->self, "unknown tool '%s' (this source offers slack_history)", tool ? tool : "");
        return REVOPS_ERROR;
    }
    static const char *const allowed[] = { "channel", "oldest", "latest", "replies", "limit", NULL };
    slack_params p = { 0 };
    snprintf(p.what, sizeof p.what, "tool slack_history");
    revops_json *root;
    if (parse_object(c, input_json, p.what, &root) < 0) return REVOPS_ERROR;
    revops_status st = REVOPS_ERROR;
    revops_json *lim = h->json_get(root, "limit");
    if (check_keys(c, root, allowed, p.what) == 0 && params_from(c, root, &p) == 0) {
        if (!absent(h, lim) && (!is_type(h, lim, REVOPS_JSON_INT) || h->json_int(lim) < 1)) {
            h->error(c->self, "Slack tool slack_history: \"limit\" must be an integer >= 1");
        } else {
            p.limit = absent(h, lim) ? 0 : h->json_int(lim);
            int64_t emitted = 0;
            st = h->stream_columns(out, NCOLS, columns);
            if (st == REVOPS_OK) st = run_method(c, &p, NULL, &emitted, out);
        }
    }
    h->json_free(root);
    return st;
}

/* --------------------------------------------------------- lifecycle -- */

static void slack_close(void *ctx)
{
    slack_ctx *c = ctx;
    if (!c) return;
    if (c->auth) {
        revops_wipe(c->auth, strlen(c->auth));
        free(c->auth);
    }
    free(c->base_url);
    free(c->pinned_query);
    free(c);
}

static revops_status slack_open(revops_instance *self, const revops_host *host, const revops_options *opts,
                                void **ctx)
{
    if (host->abi_minor < 1 || !host->http_json_stream || !host->url_encode || !host->json_object_len) {
        host->error(self, "the slack source needs a revops host with ABI 1.1 (streaming JSON over HTTP)");
        return REVOPS_ERROR;
    }
    const char *token = host->opt_string(opts, "token");
    const char *base = host->opt_string(opts, "base_url");
    if (!token || !*token) {
        host->error(self, "token must not be empty (the app's bot token, xoxb-...)");
        return REVOPS_ERROR;
    }
    for (const char *t = token; *t; t++)
        if (*t == '\r' || *t == '\n' || *t == ' ') {
            host->error(self, "token contains white space; check the option (its value is not shown)");
            return REVOPS_ERROR;
        }
    if (strncmp(token, "xoxb-", 5) != 0)
        host->log(self, REVOPS_LOG_WARN, "token does not start with xoxb-: is it a bot token?");
    if (!base || (strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0)) {
        host->error(self, "base_url must start with https:// (got '%s')", base ? base : "");
        return REVOPS_ERROR;
    }
    slack_ctx *c = calloc(1, sizeof *c);
    size_t n = strlen(token) + sizeof "Authorization: Bearer ";
    if (c) c->auth = malloc(n);
    if (c && c->auth) snprintf(c->auth, n, "Authorization: Bearer %s", token);
    if (c) c->base_url = strdup(base);
    if (!c || !c->auth || !c->base_url) {
        host->error(self, "out of memory");
        slack_close(c);
        return REVOPS_ERROR;
    }
    size_t bl = strlen(c->base_url);
    while (bl > 0 && c->base_url[bl - 1] == '/') c->base_url[--bl] = '\0';
    c->self = self;
    c->host = host;
    c->page_limit = host->opt_int(opts, "page_limit");
    *ctx = c;
    return REVOPS_OK;
}

/* -------------------------------------------------------- descriptor -- */

static const revops_tool tools[] = {
    { "slack_history",
      "Read messages of one Slack channel (conversation id such as C0123456789), newest first, between oldest "
      "and latest (Slack timestamps or YYYY-MM-DD); replies true adds the replies of threads.",
      "{\"type\":\"object\",\"properties\":{"
      "\"channel\":{\"type\":\"string\",\"description\":\"conversation id, e.g. C0123456789\"},"
      "\"oldest\":{\"type\":\"string\",\"description\":\"Slack timestamp or YYYY-MM-DD (start)\"},"
      "\"latest\":{\"type\":\"string\",\"description\":\"Slack timestamp or YYYY-MM-DD (end)\"},"
      "\"replies\":{\"type\":\"boolean\"},"
      "\"limit\":{\"type\":\"integer\",\"minimum\":1}},"
      "\"required\":[\"channel\"],\"additionalProperties\":false}" },
    { NULL, NULL, NULL }
};

static const revops_source_vtable vtable = {
    .open = slack_open,
    .fetch = slack_fetch,
    .close = slack_close,
    .tools = tools,
    .call_tool = slack_call_tool,
};

static const revops_option_def options[] = {
    { "token", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 1,
      "the Slack app's bot token (xoxb-...); env:NAME or file:/path" },
    { "base_url", REVOPS_OPT_STRING, 0, "https://slack.com/api", 0, 0, NULL, 0,
      "Slack Web API base URL" },
    { "page_limit", REVOPS_OPT_INT, 0, "200", 1, 999, NULL, 0,
      "messages asked for per page (Slack's limit argument; Slack may return fewer)" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_SOURCE, "slack", "1.0.0",
    "messages of a Slack channel (conversations.history, thread replies); tool slack_history",
    options, { .source = &vtable }
};
