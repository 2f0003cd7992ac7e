/*
 * action "jira": one Jira Cloud issue per finding, or a comment on the issue
 * already filed for it (Jira Cloud platform REST API v3).
 *
 * Followed (Atlassian's public documentation, developer.atlassian.com/cloud/jira/platform/):
 *   - basic-auth-for-rest-apis: "Authorization: Basic base64(<account email>:<API token>)"
 *     (authentication with passwords is deprecated; API tokens replace them).
 *   - rest/v3/api-group-issue-search, "Search for issues using JQL enhanced search (POST)":
 *     POST /rest/api/3/search/jql {jql, fields, maxResults, nextPageToken,
 *     reconcileIssues}; answer {issues: [{id, key, self, fields}], nextPageToken,
 *     isLast}.  This is the endpoint used.  The old GET/POST /rest/api/3/search
 *     (startAt, total) was deprecated on 31 Oct 2024 and removed in 2025 (it
 *     answers 410 Gone); the new one returns only the fields asked for, pages by
 *     token, and is eventually consistent: an issue created seconds ago may be
 *     missing from its answer.  search-and-reconcile: passing the ids of issues
 *     just written in reconcileIssues (at most 50) makes the search consistent for
 *     them; this plugin sends the ids of the issues it created (the last 50), so a
 *     second pipeline of the same `revops run` finds them at once.
 *   - rest/v3/api-group-issues, "Create issue": POST /rest/api/3/issue {fields:
 *     {project: {key}, issuetype: {name}, summary, priority: {name}, labels: [...],
 *     description: ADF}}; 201 {id, key, self}; 400 {errorMessages: [...], errors:
 *     {field: message}} (an unknown issue type or priority, a missing summary...);
 *     401 without valid credentials; 403 without permission.
 *   - rest/v3/api-group-issue-comments, "Add comment": POST
 *     /rest/api/3/issue/{issueIdOrKey}/comment {body: ADF}; 201 with the comment.
 *   - apis/document/structure (Atlassian Document Format): {"type": "doc",
 *     "version": 1, "content": [blocks]}; paragraph, heading (attrs.level 1-6),
 *     bulletList / orderedList of listItem (each holding a paragraph); inline text
 *     nodes {"type": "text", "text": non-empty} and hardBreak.
 *   - rate-limiting: a 429 may carry Retry-After (seconds); the host honours it,
 *     and retries 5xx.
 *   - Limits: summary at most 255 characters (Jira counts UTF-16 units, so a
 *     character outside the BMP counts twice); a text field (description,
 *     comment) at most 32,767 characters; a label at most 255 characters and
 *     without spaces.
 *
 * Idempotency.  Every issue carries the labels "revops", "revops-<first 16 hex
 * of the finding's fingerprint>" and "revops-d-<delivery id>".  Before creating,
 *     project = "KEY" AND labels in ("revops-<fp16>", "revops-d-<id>") ORDER BY created ASC
 * looks for an issue already filed; found, the finding becomes a comment on the
 * oldest one instead of a second issue.  The fingerprint is cut to 16 hex (64
 * bits; a collision among a project's findings is out of reach) to keep labels
 * short where people read and type them — issue views, filters, JQL — not
 * because 71 characters would break Jira's 255-character label limit.  The
 * delivery-id label names the action instance that filed the issue, and keeps a
 * create repeated after a crash (sent, never marked delivered) findable by the
 * same query even if someone edits the fingerprint label away.
 *
 * Results: 201 OK; 400 ERROR with Jira's errorMessages and errors; 401/403
 * ERROR naming the credentials; 404 ERROR; 429/5xx/timeouts are retried by
 * the host and RETRY once they outlast its retries.  After a failure every
 * later finding would share (401, 403, a 404 from search or create, a JQL
 * the search refuses, RETRY) the rest of the batch is not sent and gets the
 * same status, "not sent after: <why>".  The API token never appears in a
 * message or a log line.
 *
 * Known gaps (the contract's, see the report of issue 6): the host retries a
 * create that timed out or got a 5xx like any request, and Jira has no
 * idempotency key for it, so a create Jira did carry out can be sent again;
 * and an issue created by an earlier process (a crash, then an immediate
 * rerun) may be missing from the search for seconds, because only ids this
 * instance saw can go into reconcileIssues.  Both need per-sink state (the
 * designed host->state_get/put) or a no-retry flag on the request.
 *
 * Text.  The summary is the `summary` template rendered for a mail header (no
 * line breaks), cut at 255 UTF-16 units.  The description and the comment are
 * ADF built here: every text node's text is the raw value (JSON-quoted by the
 * host, never pasted), invalid UTF-8 replaced by U+FFFD, control characters by
 * spaces, line breaks as hardBreak nodes; long values are cut ("…") and the
 * whole document kept under 32,000 bytes of JSON.
 */
#include <revops/revops.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8_common.h"

#define SEARCH_PATH "/rest/api/3/search/jql"
#define ISSUE_PATH "/rest/api/3/issue"
#define SUMMARY_MAX 255           /* Jira: characters (UTF-16 units) */
#define LABEL_MAX 255
#define DOC_MAX 32000             /* bytes of ADF JSON; Jira's text limit is 32,767 characters */
#define RECONCILE_MAX 50          /* search-and-reconcile: at most 50 issue ids */
#define FP_HEX 16

typedef struct jira_ctx {
    revops_instance *self;
    const revops_host *host;
    char *auth;                   /* "Authorization: Basic ..." (secret; wiped on close) */
    char *search_url, *issue_url;
    const char *project, *issue_type, *summary_tmpl, *comment_tmpl;
    const char *prio[4];          /* Jira priority name per revops priority; NULL: not sent */
    const char **labels;          /* extra labels */
    size_t nlabels;
    double timeout;
    long long created[RECONCILE_MAX];   /* ids of issues this instance created (a ring) */
    size_t ncreated, next_created;
} jira_ctx;

/* Why a batch stops early: every later finding gets this result unsent. */
typedef struct stop_state {
    int stop;
    revops_status status;
    char why[200];
} stop_state;

/* ------------------------------------------------------------ helpers -- */

REVOPS_PRINTF(3, 4)
static void set_result(revops_delivery *d, revops_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    d->status = s;
    vsnprintf(d->message, sizeof d->message, fmt, ap);
    va_end(ap);
    /* one line, whatever Jira's message held */
    for (char *p = d->message; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
}

static int is_type(const revops_host *h, revops_json *j, revops_json_type t)
{
    return j && h->json_type(j) == t;
}

static const char *str_member(const revops_host *h, revops_json *j, const char *path)
{
    revops_json *v = j ? h->json_get(j, path) : NULL;
    return is_type(h, v, REVOPS_JSON_STRING) ? h->json_string(v) : NULL;
}

static void add_quoted(const revops_host *h, revops_buf *b, const char *s)
{
    char *q = h->json_quote(s ? s : "");
    if (!q) {
        b->oom = 1;
        return;
    }
    revops_buf_str(b, q);
    h->free(q);
}

/* A copy of s fit for a JSON text: valid UTF-8 (U+FFFD for what is not),
 * control characters as spaces, line breaks kept as '\n' (CR LF and CR
 * too) when keep_lines, else spaces; at most cap characters (0: no limit),
 * the last being "…" when cut.  NULL when out of memory. */
static char *clean_text(const char *s, size_t cap, int keep_lines)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    revops_buf b = { 0 };
    size_t chars = 0;
    revops_buf_add(&b, "", 0);
    while (*p) {
        if (cap && chars == cap - 1) {
            /* one character left: the last, or the ellipsis */
            unsigned cp;
            size_t n = utf8_seq(p, SIZE_MAX, &cp);
            if (p[n ? n : 1] != '\0') {
                revops_buf_str(&b, "\xe2\x80\xa6");
                break;
            }
        }
        unsigned cp;
        size_t n = utf8_seq(p, SIZE_MAX, &cp);
        if (!n) {
            revops_buf_str(&b, "\xef\xbf\xbd");   /* U+FFFD */
            p++;
        } else if (cp == '\r' || cp == '\n') {
            revops_buf_str(&b, keep_lines ? "\n" : " ");
            p += (cp == '\r' && p[1] == '\n') ? 2 : 1;
        } else if (cp < 0x20 || cp == 0x7F) {
            revops_buf_str(&b, " ");
            p++;
        } else {
            revops_buf_add(&b, (const char *)p, n);
            p += n;
        }
        chars++;
    }
    if (b.oom) {
        revops_buf_free(&b);
        return NULL;
    }
    return b.p;
}

/* s (valid UTF-8) cut to at most max UTF-16 units, the last being "…" when
 * cut, as Jira counts a summary's length; s itself is replaced (NULL when
 * out of memory). */
static char *cut_utf16(char *s, size_t max)
{
    size_t units = 0, keep = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; p[i];) {
        unsigned cp;
        size_t n = utf8_seq(p + i, SIZE_MAX, &cp);
        if (!n) n = 1, cp = 0xFFFD;
        size_t w = cp >= 0x10000 ? 2 : 1;
        if (units + w <= max - 1) keep = i + n;
        units += w;
        if (units > max) {
            char *c = malloc(keep + 4);
            if (c) {
                memcpy(c, s, keep);
                memcpy(c + keep, "\xe2\x80\xa6", 4);   /* "…" and the NUL */
            }
            free(s);
            return c;
        }
        i += n;
    }
    return s;
}

/* Spaces at either end dropped, runs of spaces made one (a line break in a
 * value became a space). */
static void squeeze(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++)
        if (*r != ' ' || (w > s && w[-1] != ' ')) *w++ = *r;
    while (w > s && w[-1] == ' ') w--;
    *w = '\0';
}

/* A JQL string literal: double quotes, with " and \ escaped. */
static void jql_string(revops_buf *b, const char *s)
{
    revops_buf_str(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') revops_buf_str(b, "\\");
        revops_buf_add(b, s, 1);
    }
    revops_buf_str(b, "\"");
}

/* The first 160 bytes of a body on one line, for messages. */
static void body_start(const revops_http_response *r, char *out, size_t n)
{
    size_t k = 0;
    if (!r->body || !r->body_len) {
        snprintf(out, n, "(empty body)");
        return;
    }
    for (size_t i = 0; i < r->body_len && i < 160 && k + 1 < n; i++) {
        char ch = r->body[i];
        out[k++] = (unsigned char)ch < 0x20 ? ' ' : ch;
    }
    out[k] = '\0';
    if (r->body_len > 160 && k + 4 < n) strcat(out, "...");
}

/* Jira's error body {"errorMessages": [...], "errors": {"field": "msg"}} as
 * "msg; msg; field: msg"; other bodies by their start. */
static void jira_error(const revops_host *h, const revops_http_response *r, char *out, size_t n)
{
    revops_json *root = r->body && r->body_len ? h->json_parse(r->body, r->body_len, NULL, 0) : NULL;
    revops_json *msgs = root ? h->json_get(root, "errorMessages") : NULL;
    revops_json *errs = root ? h->json_get(root, "errors") : NULL;
    const char *message = str_member(h, root, "message");
    revops_buf b = { 0 };
    if (is_type(h, msgs, REVOPS_JSON_ARRAY))
        for (size_t i = 0; i < h->json_len(msgs); i++) {
            revops_json *m = h->json_index(msgs, i);
            if (!is_type(h, m, REVOPS_JSON_STRING)) continue;
            revops_buf_fmt(&b, "%s%s", b.len ? "; " : "", h->json_string(m));
        }
    if (is_type(h, errs, REVOPS_JSON_OBJECT))
        for (size_t i = 0; i < h->json_object_len(errs); i++) {
            revops_json *v = h->json_object_value(errs, i);
            revops_buf_fmt(&b, "%s%s: %s", b.len ? "; " : "", h->json_object_key(errs, i),
                           is_type(h, v, REVOPS_JSON_STRING) ? h->json_string(v) : "(not a string)");
        }
    if (!b.len && message) revops_buf_str(&b, message);
    if (b.len && !b.oom) {
        snprintf(out, n, "%s", b.p);
    } else {
        char start[200];
        body_start(r, start, sizeof start);
        snprintf(out, n, "not Jira's error format: %s", start);
    }
    revops_buf_free(&b);
    if (root) h->json_free(root);
}

/* ---------------------------------------------------------------- ADF -- */

/* An ADF document being built, kept under DOC_MAX bytes: a block that does
 * not fit is tried again with its texts cut shorter, and when nothing fits
 * any more a closing note says so.  RESERVE keeps room for that note, the
 * footer and the closing brackets. */
typedef struct adf {
    const revops_host *h;
    revops_buf b;
    size_t nblocks;
    int full;
    int oom;
} adf;

/* One run of inline text: the value, at most cap characters (0: no limit),
 * bold or not. */
typedef struct run {
    const char *text;
    size_t cap;
    int strong;
} run;

#define RESERVE 800
#define OPEN_PARA "{\"type\":\"paragraph\",\"content\":["
#define OPEN_HEADING "{\"type\":\"heading\",\"attrs\":{\"level\":3},\"content\":["

static void adf_begin(adf *a, const revops_host *h)
{
    memset(a, 0, sizeof *a);
    a->h = h;
    revops_buf_str(&a->b, "{\"type\":\"doc\",\"version\":1,\"content\":[");
}

/* Inline nodes of the runs into b: text nodes (never empty), a hardBreak at
 * each line break; caps divided by 2^shift.  The number of nodes written,
 * -1 when out of memory. */
static long inline_runs(const revops_host *h, revops_buf *b, const run *runs, size_t nruns, unsigned shift)
{
    long nodes = 0;
    int pending_break = 0;
    for (size_t r = 0; r < nruns; r++) {
        if (!runs[r].text || !*runs[r].text) continue;
        size_t cap = runs[r].cap ? runs[r].cap >> shift : 0;
        if (runs[r].cap && cap < 8) cap = 8;
        char *t = clean_text(runs[r].text, cap, 1);
        if (!t) return -1;
        for (char *line = t; line;) {
            char *nl = strchr(line, '\n');
            if (nl) *nl = '\0';
            if (*line) {
                if (pending_break && nodes) {
                    revops_buf_str(b, ",{\"type\":\"hardBreak\"}");
                    nodes++;
                }
                pending_break = 0;
                revops_buf_str(b, nodes ? ",{\"type\":\"text\",\"text\":" : "{\"type\":\"text\",\"text\":");
                add_quoted(h, b, line);
                revops_buf_str(b, runs[r].strong ? ",\"marks\":[{\"type\":\"strong\"}]}" : "}");
                nodes++;
            }
            if (nl) pending_break = 1;
            line = nl ? nl + 1 : NULL;
        }
        free(t);
    }
    return b->oom ? -1 : nodes;
}

/* open + the runs' inline nodes + "]}" into b, when the runs hold any text.
 * The number of inline nodes (0: nothing written), -1 when out of memory. */
static long block_json(const revops_host *h, revops_buf *b, const char *open, const run *runs, size_t nruns,
                       unsigned shift)
{
    revops_buf in = { 0 };
    long n = inline_runs(h, &in, runs, nruns, shift);
    if (n > 0) {
        revops_buf_str(b, open);
        revops_buf_add(b, in.p, in.len);
        revops_buf_str(b, "]}");
    }
    if (in.oom || b->oom) n = -1;
    revops_buf_free(&in);
    return n;
}

static void adf_append(adf *a, const revops_buf *block)
{
    if (a->nblocks++) revops_buf_str(&a->b, ",");
    revops_buf_add(&a->b, block->p, block->len);
}

/* Add a paragraph (or a heading) of the runs, cut shorter until it fits;
 * once a block had to be cut, or nothing fits, the document is full and
 * later blocks are left out. */
static void adf_block(adf *a, const char *open, const run *runs, size_t nruns)
{
    for (unsigned shift = 0; !a->full && !a->oom && shift < 12; shift++) {
        revops_buf blk = { 0 };
        long n = block_json(a->h, &blk, open, runs, nruns, shift);
        if (n < 0) a->oom = 1;
        if (n <= 0 || a->b.len + 1 + blk.len + RESERVE <= DOC_MAX) {
            if (n > 0) adf_append(a, &blk);
            revops_buf_free(&blk);
            /* cut to fit: what follows would not fit either */
            if (shift) a->full = 1;
            return;
        }
        revops_buf_free(&blk);
    }
    a->full = 1;
}

/* A heading, then a bullet or ordered list with one item per entry (`per`
 * runs each); items that no longer fit are left out, and the heading goes
 * only with at least one item. */
static void adf_list(adf *a, const char *heading, int ordered, const run *runs, size_t nitems, size_t per)
{
    if (a->full || a->oom || !nitems) return;
    revops_buf head = { 0 }, list = { 0 };
    run hr = { heading, 0, 0 };
    if (block_json(a->h, &head, OPEN_HEADING, &hr, 1, 0) < 0) a->oom = 1;
    revops_buf_fmt(&list, "{\"type\":\"%s\",\"content\":[", ordered ? "orderedList" : "bulletList");
    size_t items = 0;
    for (size_t i = 0; i < nitems && !a->full && !a->oom; i++) {
        for (unsigned shift = 0;; shift++) {
            revops_buf item = { 0 };
            revops_buf_str(&item, "{\"type\":\"listItem\",\"content\":[");
            long n = block_json(a->h, &item, OPEN_PARA, runs + i * per, per, shift);
            revops_buf_str(&item, "]}");
            if (n < 0 || item.oom) a->oom = 1;
            /* the document, the heading, the list so far, this item, brackets */
            int fit = a->b.len + 1 + head.len + 1 + list.len + 1 + item.len + 2 + RESERVE <= DOC_MAX;
            if (n > 0 && fit) {
                if (items++) revops_buf_str(&list, ",");
                revops_buf_add(&list, item.p, item.len);
                if (shift) a->full = 1;
            }
            revops_buf_free(&item);
            if (n <= 0 || fit) break;
            if (shift == 11) {
                a->full = 1;
                break;
            }
        }
    }
    revops_buf_str(&list, "]}");
    if (list.oom || head.oom) a->oom = 1;
    if (items && !a->oom) {
        if (head.len) adf_append(a, &head);
        adf_append(a, &list);
    }
    revops_buf_free(&list);
    revops_buf_free(&head);
}

/* Text split into paragraphs at blank lines, each at most cap characters. */
static void adf_paragraphs(adf *a, const char *text, size_t cap)
{
    char *t = clean_text(text, 0, 1);
    if (!t) {
        a->oom = 1;
        return;
    }
    for (char *p = t; *p && !a->full;) {
        char *end = strstr(p, "\n\n");
        if (end) *end = '\0';
        run r = { p, cap, 0 };
        adf_block(a, OPEN_PARA, &r, 1);
        if (!end) break;
        for (p = end + 2; *p == '\n'; p++) continue;
    }
    free(t);
}

/* Close the document: the note when something was left out, the footer
 * (both short, in the room RESERVE kept), the brackets.  Its JSON text in
 * *out (malloc'd); -1 when out of memory. */
static int adf_end(adf *a, const char *fingerprint, const char *footer, char **out)
{
    char note[200];
    snprintf(note, sizeof note, "(The rest is left out to stay within Jira's 32,767-character limit; "
             "revops has the whole finding, fingerprint %.16s.)", fingerprint);
    run rs[2] = { { a->full ? note : NULL, 0, 0 }, { footer ? footer : (a->nblocks || a->full ? NULL : "(no text)"), 0, 0 } };
    for (int i = 0; i < 2; i++) {
        revops_buf blk = { 0 };
        long n = block_json(a->h, &blk, OPEN_PARA, &rs[i], 1, 0);
        if (n < 0) a->oom = 1;
        if (n > 0) adf_append(a, &blk);
        revops_buf_free(&blk);
    }
    revops_buf_str(&a->b, "]}");
    if (a->oom || a->b.oom) {
        revops_buf_free(&a->b);
        return -1;
    }
    *out = a->b.p;
    return 0;
}

/* The issue's description: the finding's text, who and how bad, the signals
 * with their evidence, the recommended actions, the model's narrative if any,
 * and where it came from. */
static int description_doc(jira_ctx *c, const revops_finding *f, const revops_batch *batch, const char *delivery_id,
                            char **out)
{
    const revops_host *h = c->host;
    adf a;
    adf_begin(&a, h);
    if (f->description && *f->description) adf_paragraphs(&a, f->description, 4000);

    char score[48], conf[48], line[256];
    revops_fmt_num(f->score, score);
    revops_fmt_num(f->confidence, conf);
    run who[] = {
        { "Account: ", 0, 1 },
        { f->account_name && *f->account_name ? f->account_name : f->account_id, 500, 0 },
        { f->account_name && *f->account_name ? " (" : "", 0, 0 },
        { f->account_name && *f->account_name ? f->account_id : "", 200, 0 },
        { f->account_name && *f->account_name ? ")" : "", 0, 0 },
        { f->opportunity_id && *f->opportunity_id ? " · Opportunity: " : "", 0, 1 },
        { f->opportunity_id, 200, 0 },
    };
    adf_block(&a, OPEN_PARA, who, sizeof who / sizeof *who);
    snprintf(line, sizeof line, "%s · score %s · confidence %s", revops_priority_name(f->priority), score, conf);
    run how[] = {
        { "Priority: ", 0, 1 }, { line, 0, 0 },
        { " · Analysis: ", 0, 1 }, { f->analysis, 40, 0 },
        { f->category && *f->category ? " (" : "", 0, 0 }, { f->category, 100, 0 },
        { f->category && *f->category ? ")" : "", 0, 0 },
    };
    adf_block(&a, OPEN_PARA, how, sizeof how / sizeof *how);
    if (f->partial) {
        run r = { "This finding rests on partial data: an input lost chunks or pages in the run that produced it.", 0, 1 };
        adf_block(&a, OPEN_PARA, &r, 1);
    }

    if (f->nsignals) {
        enum { PER = 3 };
        run *rs = calloc(f->nsignals * PER, sizeof *rs);
        char (*nums)[200] = calloc(f->nsignals, sizeof *nums);
        if (!rs || !nums) {
            a.oom = 1;
        } else {
            for (size_t i = 0; i < f->nsignals; i++) {
                const revops_signal *s = &f->signals[i];
                char v[48], t[48], w[48];
                revops_fmt_num(s->value, v);
                revops_fmt_num(s->threshold, t);
                revops_fmt_num(s->weight, w);
                snprintf(nums[i], sizeof nums[i], ": %s (threshold %s, weight %s)%s", v, t, w,
                         s->evidence && *s->evidence ? " — " : "");
                rs[i * PER] = (run){ s->name, 200, 1 };
                rs[i * PER + 1] = (run){ nums[i], 0, 0 };
                rs[i * PER + 2] = (run){ s->evidence, 2000, 0 };
            }
            adf_list(&a, "Signals", 0, rs, f->nsignals, PER);
        }
        free(rs);
        free(nums);
    }
    if (f->nactions) {
        run *rs = calloc(f->nactions, sizeof *rs);
        if (!rs) {
            a.oom = 1;
        } else {
            for (size_t i = 0; i < f->nactions; i++) rs[i] = (run){ f->recommended_actions[i], 1000, 0 };
            adf_list(&a, "Recommended actions", 1, rs, f->nactions, 1);
        }
        free(rs);
    }
    if (f->narrative && *f->narrative) {
        char head[160];
        snprintf(head, sizeof head, "Summary (written by %.100s)", f->narrative_model ? f->narrative_model : "a model");
        run hr = { head, 0, 0 };
        adf_block(&a, OPEN_HEADING, &hr, 1);
        adf_paragraphs(&a, f->narrative, 4000);
        if (f->nnext_steps) {
            run *rs = calloc(f->nnext_steps, sizeof *rs);
            if (!rs) {
                a.oom = 1;
            } else {
                for (size_t i = 0; i < f->nnext_steps; i++) rs[i] = (run){ f->next_steps[i], 1000, 0 };
                adf_list(&a, "Next steps", 1, rs, f->nnext_steps, 1);
            }
            free(rs);
        }
    }
    char foot[320];
    snprintf(foot, sizeof foot, "Filed by revops: fingerprint %s, delivery %s, session %.80s, pipeline %.60s.",
             f->fingerprint, delivery_id ? delivery_id : "-", batch->session_id ? batch->session_id : "-",
             batch->pipeline ? batch->pipeline : "-");
    return adf_end(&a, f->fingerprint, foot, out);
}

/* ---------------------------------------------------------- requests -- */

typedef enum { REQ_SEARCH, REQ_CREATE, REQ_COMMENT } req_kind;

static const char *req_name(req_kind k)
{
    return k == REQ_SEARCH ? "JQL search" : k == REQ_CREATE ? "create issue" : "add comment";
}

/* One request.  OK with a 2xx answer in *resp (free it with http_free);
 * otherwise the result is filled (and, for failures every later finding
 * would share, st->stop set) and resp is freed. */
static revops_status send(jira_ctx *c, req_kind kind, const char *url, const revops_buf *body,
                          revops_http_response *resp, revops_delivery *d, stop_state *st)
{
    const revops_host *h = c->host;
    const char *headers[] = { c->auth, "Content-Type: application/json", "Accept: application/json", NULL };
    /* Creating an issue or a comment has no idempotency key: a request
     * that may have reached Jira is not resent by the host (1.5); the
     * next delivery finds the issue by JQL first. */
    revops_http_request hr = { .method = "POST", .url = url, .headers = headers, .body = body->p,
                               .body_len = body->len, .timeout = c->timeout,
                               .flags = kind == REQ_SEARCH ? 0 : REVOPS_HTTP_NO_RETRY };
    memset(resp, 0, sizeof *resp);
    revops_status rs = h->http(c->self, &hr, resp);
    char msg[600];
    if (rs == REVOPS_OK && resp->status >= 200 && resp->status < 300) return REVOPS_OK;
    if (rs == REVOPS_OK || resp->status > 0) jira_error(h, resp, msg, sizeof msg);
    if (rs == REVOPS_OK) {
        long s = resp->status;
        if (s == 401 || s == 403) {
            set_result(d, REVOPS_ERROR, "Jira %s: HTTP %ld: %s (%s)", req_name(kind), s, msg,
                       s == 401 ? "authentication failed: check the email and api_token options"
                                : "permission denied for the account behind email/api_token");
            st->stop = 1;
        } else if (s == 404 && kind != REQ_COMMENT) {
            set_result(d, REVOPS_ERROR, "Jira %s: HTTP 404: %s (check base_url)", req_name(kind), msg);
            st->stop = 1;
        } else {
            set_result(d, REVOPS_ERROR, "Jira %s: HTTP %ld: %s", req_name(kind), s, msg);
            /* a JQL the server refuses is refused for every finding */
            if (kind == REQ_SEARCH && s == 400) st->stop = 1;
        }
        if (st->stop) {
            st->status = REVOPS_ERROR;
            snprintf(st->why, sizeof st->why, "%s", d->message);
        }
    } else if (rs == REVOPS_RETRY) {
        if (resp->status > 0)
            set_result(d, REVOPS_RETRY, "Jira %s: HTTP %ld: %s (transient; after %d attempt%s)", req_name(kind),
                       resp->status, msg, resp->attempts, resp->attempts == 1 ? "" : "s");
        else
            set_result(d, REVOPS_RETRY, "Jira %s: no answer: %s", req_name(kind), h->last_error(c->self));
        /* throttled or down: the rest would only add load */
        st->stop = 1;
        st->status = REVOPS_RETRY;
        snprintf(st->why, sizeof st->why, "%s", d->message);
    } else {
        set_result(d, REVOPS_ERROR, "Jira %s: %s", req_name(kind),
                   resp->status > 0 ? msg : h->last_error(c->self));
    }
    h->http_free(resp);
    return d->status;
}

/* The JQL search for an issue already filed for this finding: its key and
 * status name into key[]/status[] ("" when none).  OK or the failure. */
static revops_status search(jira_ctx *c, const char *fp_label, const char *d_label, char *key, size_t keylen,
                            char *status, size_t statuslen, revops_delivery *d, stop_state *st)
{
    const revops_host *h = c->host;
    revops_buf jql = { 0 }, body = { 0 };
    revops_buf_str(&jql, "project = ");
    jql_string(&jql, c->project);
    revops_buf_str(&jql, " AND labels in (");
    jql_string(&jql, fp_label);
    if (d_label) {
        revops_buf_str(&jql, ", ");
        jql_string(&jql, d_label);
    }
    revops_buf_str(&jql, ") ORDER BY created ASC");
    revops_buf_str(&body, "{\"jql\":");
    add_quoted(h, &body, revops_buf_cstr(&jql));
    revops_buf_str(&body, ",\"fields\":[\"key\",\"status\"],\"maxResults\":10");
    if (c->ncreated) {
        revops_buf_str(&body, ",\"reconcileIssues\":[");
        for (size_t i = 0; i < c->ncreated; i++) revops_buf_fmt(&body, "%s%lld", i ? "," : "", c->created[i]);
        revops_buf_str(&body, "]");
    }
    revops_buf_str(&body, "}");
    revops_buf_free(&jql);
    key[0] = status[0] = '\0';
    if (body.oom) {
        revops_buf_free(&body);
        set_result(d, REVOPS_RETRY, "out of memory building the JQL search");
        return REVOPS_RETRY;
    }
    revops_http_response resp;
    revops_status rs = send(c, REQ_SEARCH, c->search_url, &body, &resp, d, st);
    revops_buf_free(&body);
    if (rs != REVOPS_OK) return rs;
    revops_json *root = h->json_parse(resp.body ? resp.body : "", resp.body_len, NULL, 0);
    revops_json *issues = root ? h->json_get(root, "issues") : NULL;
    if (!is_type(h, issues, REVOPS_JSON_ARRAY)) {
        char start[200];
        body_start(&resp, start, sizeof start);
        set_result(d, REVOPS_ERROR, "Jira JQL search: HTTP %ld without an issues array: %s", resp.status, start);
        st->stop = 1;
        st->status = REVOPS_ERROR;
        snprintf(st->why, sizeof st->why, "%s", d->message);
        rs = REVOPS_ERROR;
    } else if (h->json_len(issues) > 0) {
        const char *k = str_member(h, h->json_index(issues, 0), "key");
        const char *s = str_member(h, h->json_index(issues, 0), "fields.status.name");
        if (!k || !*k) {
            set_result(d, REVOPS_ERROR, "Jira JQL search: an issue without a key in the answer");
            rs = REVOPS_ERROR;
        } else {
            snprintf(key, keylen, "%s", k);
            snprintf(status, statuslen, "%s", s ? s : "");
            if (h->json_len(issues) > 1)
                h->log(c->self, REVOPS_LOG_WARN, "%zu issues in project %s carry label %s; commenting on the oldest, %s",
                       h->json_len(issues), c->project, fp_label, key);
        }
    }
    if (root) h->json_free(root);
    h->http_free(&resp);
    return rs;
}

static void remember_created(jira_ctx *c, const char *id)
{
    char *end;
    long long v = id ? strtoll(id, &end, 10) : 0;
    if (!id || !*id || *end || v <= 0) return;
    c->created[c->next_created] = v;
    c->next_created = (c->next_created + 1) % RECONCILE_MAX;
    if (c->ncreated < RECONCILE_MAX) c->ncreated++;
}

static revops_status create_issue(jira_ctx *c, const revops_finding *f, const revops_batch *batch,
                                  const char *delivery_id, const char *fp_label, const char *d_label, char *key,
                                  size_t keylen, revops_delivery *d, stop_state *st)
{
    const revops_host *h = c->host;
    char *summary = h->render(c->summary_tmpl, f, batch, REVOPS_ESC_HEADER, SUMMARY_MAX);
    char *clean = summary ? clean_text(summary, 0, 0) : NULL;
    if (summary) h->free(summary);
    char *doc = NULL;
    if (!clean || description_doc(c, f, batch, delivery_id, &doc) < 0) {
        free(clean);
        set_result(d, REVOPS_RETRY, "out of memory building the issue");
        return REVOPS_RETRY;
    }
    squeeze(clean);
    if (!(clean = cut_utf16(clean, SUMMARY_MAX))) {
        free(doc);
        set_result(d, REVOPS_RETRY, "out of memory building the issue");
        return REVOPS_RETRY;
    }
    revops_buf body = { 0 };
    revops_buf_str(&body, "{\"fields\":{\"project\":{\"key\":");
    add_quoted(h, &body, c->project);
    revops_buf_str(&body, "},\"issuetype\":{\"name\":");
    add_quoted(h, &body, c->issue_type);
    revops_buf_str(&body, "},\"summary\":");
    if (*clean) {
        add_quoted(h, &body, clean);
    } else {
        char fallback[64];
        snprintf(fallback, sizeof fallback, "revops finding %.16s", f->fingerprint);
        add_quoted(h, &body, fallback);
    }
    const char *prio = c->prio[f->priority >= REVOPS_PRIORITY_LOW && f->priority <= REVOPS_PRIORITY_CRITICAL
                                   ? f->priority : REVOPS_PRIORITY_LOW];
    if (prio && *prio) {
        revops_buf_str(&body, ",\"priority\":{\"name\":");
        add_quoted(h, &body, prio);
        revops_buf_str(&body, "}");
    }
    revops_buf_str(&body, ",\"labels\":[\"revops\",");
    add_quoted(h, &body, fp_label);
    if (d_label) {
        revops_buf_str(&body, ",");
        add_quoted(h, &body, d_label);
    }
    for (size_t i = 0; i < c->nlabels; i++) {
        if (!strcmp(c->labels[i], "revops") || !strcmp(c->labels[i], fp_label) || (d_label && !strcmp(c->labels[i], d_label)))
            continue;
        revops_buf_str(&body, ",");
        add_quoted(h, &body, c->labels[i]);
    }
    revops_buf_str(&body, "],\"description\":");
    revops_buf_str(&body, doc);
    revops_buf_str(&body, "}}");
    free(doc);
    free(clean);
    if (body.oom) {
        revops_buf_free(&body);
        set_result(d, REVOPS_RETRY, "out of memory building the issue");
        return REVOPS_RETRY;
    }
    revops_http_response resp;
    revops_status rs = send(c, REQ_CREATE, c->issue_url, &body, &resp, d, st);
    revops_buf_free(&body);
    if (rs != REVOPS_OK) return rs;
    revops_json *root = h->json_parse(resp.body ? resp.body : "", resp.body_len, NULL, 0);
    const char *k = str_member(h, root, "key"), *id = str_member(h, root, "id");
    snprintf(key, keylen, "%s", k ? k : "(no key in Jira's answer)");
    remember_created(c, id);
    if (!k)
        /* 201: the issue exists; failing now would file it twice */
        h->log(c->self, REVOPS_LOG_WARN, "Jira answered the create with HTTP %ld but no issue key", resp.status);
    if (root) h->json_free(root);
    h->http_free(&resp);
    return REVOPS_OK;
}

static revops_status add_comment(jira_ctx *c, const revops_finding *f, const revops_batch *batch, const char *key,
                                 revops_delivery *d, stop_state *st)
{
    const revops_host *h = c->host;
    char *text = h->render(c->comment_tmpl, f, batch, REVOPS_ESC_NONE, 2000);
    char *doc = NULL;
    if (text) {
        adf a;
        adf_begin(&a, h);
        adf_paragraphs(&a, text, 8000);
        h->free(text);
        if (adf_end(&a, f->fingerprint, NULL, &doc) < 0) doc = NULL;
    }
    char *enc = h->url_encode(key);
    revops_buf url = { 0 }, body = { 0 };
    if (enc) revops_buf_fmt(&url, "%s/%s/comment", c->issue_url, enc);
    if (doc) {
        revops_buf_str(&body, "{\"body\":");
        revops_buf_str(&body, doc);
        revops_buf_str(&body, "}");
    }
    free(doc);
    if (enc) h->free(enc);
    if (!doc || !enc || url.oom || body.oom) {
        revops_buf_free(&url);
        revops_buf_free(&body);
        set_result(d, REVOPS_RETRY, "out of memory building the comment");
        return REVOPS_RETRY;
    }
    revops_http_response resp;
    revops_status rs = send(c, REQ_COMMENT, url.p, &body, &resp, d, st);
    revops_buf_free(&url);
    revops_buf_free(&body);
    if (rs == REVOPS_OK) h->http_free(&resp);
    return rs;
}

/* ------------------------------------------------------------ deliver -- */

static int is_hex(const char *s, size_t min)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) return 0;
    return n >= min;
}

static void deliver_one(jira_ctx *c, const revops_batch *batch, size_t i, revops_delivery *d, stop_state *st)
{
    const revops_host *h = c->host;
    const revops_finding *f = batch->findings[i];
    const char *did = h->abi_minor >= 4 && batch->delivery_ids ? batch->delivery_ids[i] : NULL;
    if (did && (!is_hex(did, 1) || strlen(did) > 64)) did = NULL;
    if (!is_hex(f->fingerprint, FP_HEX)) {
        set_result(d, REVOPS_ERROR, "the finding has no fingerprint to label its issue with");
        return;
    }
    char fp_label[32], d_label[80], key[128], status[128];
    snprintf(fp_label, sizeof fp_label, "revops-%.*s", FP_HEX, f->fingerprint);
    if (did) snprintf(d_label, sizeof d_label, "revops-d-%s", did);
    if (search(c, fp_label, did ? d_label : NULL, key, sizeof key, status, sizeof status, d, st) != REVOPS_OK) return;
    if (*key) {
        if (add_comment(c, f, batch, key, d, st) != REVOPS_OK) return;
        h->log(c->self, REVOPS_LOG_INFO, "finding %.12s: commented on %s%s%s%s", f->fingerprint, key,
               *status ? " (" : "", status, *status ? ")" : "");
    } else {
        if (create_issue(c, f, batch, did, fp_label, did ? d_label : NULL, key, sizeof key, d, st) != REVOPS_OK)
            return;
        h->log(c->self, REVOPS_LOG_INFO, "finding %.12s: created %s", f->fingerprint, key);
    }
    d->status = REVOPS_OK;
    d->message[0] = '\0';
}

static revops_status jira_deliver(void *ctx, const revops_batch *batch, revops_delivery *results)
{
    jira_ctx *c = ctx;
    stop_state st = { 0, REVOPS_OK, "" };
    size_t failed = 0;
    for (size_t i = 0; i < batch->nfindings; i++) {
        if (st.stop) {
            set_result(&results[i], st.status, "not sent after: %s", st.why);
            continue;
        }
        deliver_one(c, batch, i, &results[i], &st);
        failed += results[i].status != REVOPS_OK;
    }
    if (failed)
        c->host->error(c->self, "%zu of %zu finding%s not filed in Jira project %s", failed, batch->nfindings,
                       batch->nfindings == 1 ? "" : "s", c->project);
    return REVOPS_OK;
}

/* ----------------------------------------------------------- lifecycle -- */

static void jira_close(void *ctx)
{
    jira_ctx *c = ctx;
    if (!c) return;
    if (c->auth) {
        revops_wipe(c->auth, strlen(c->auth));
        free(c->auth);
    }
    free(c->search_url);
    free(c->issue_url);
    free(c->labels);
    free(c);
}

static int header_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    return 1;
}

/* Jira Cloud project keys: an uppercase letter, then uppercase letters,
 * digits or underscores. */
static int project_key_ok(const char *s)
{
    if (!(*s >= 'A' && *s <= 'Z')) return 0;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_')) return 0;
    return 1;
}

static const char *label_problem(const char *l)
{
    if (!*l) return "is empty";
    if (strlen(l) > LABEL_MAX) return "is longer than Jira's 255 characters";
    for (const unsigned char *p = (const unsigned char *)l; *p; p++)
        if (*p <= ' ' || *p == 0x7f) return "holds a space or control character (Jira labels cannot)";
    return NULL;
}

static revops_status jira_open(revops_instance *self, const revops_host *host, const revops_options *opts, void **ctx)
{
    if (host->abi_minor < 4 || host->size < offsetof(revops_host, render) + sizeof host->render || !host->render ||
        !host->base64 || !host->url_encode || !host->last_error || !host->json_object_len) {
        host->error(self, "the jira action needs a revops host with ABI 1.4 or later (message templates)");
        return REVOPS_ERROR;
    }
    const char *base = host->opt_string(opts, "base_url");
    const char *email = host->opt_string(opts, "email");
    const char *token = host->opt_string(opts, "api_token");
    const char *project = host->opt_string(opts, "project");
    const char *issue_type = host->opt_string(opts, "issue_type");
    if (!base || (strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0) || !header_safe(base)) {
        host->error(self, "base_url must be your site's address, https://your-domain.atlassian.net (got '%s')",
                    base && header_safe(base) ? base : "");
        return REVOPS_ERROR;
    }
    if (!email || !*email || !token || !*token) {
        host->error(self, "email and api_token must not be empty (an Atlassian account email and an API token "
                          "from id.atlassian.com > Security > API tokens)");
        return REVOPS_ERROR;
    }
    if (strchr(email, ':') || !header_safe(email) || !header_safe(token)) {
        /* RFC 7617: Basic authentication's user-id cannot hold a colon. */
        host->error(self, "email or api_token holds a colon, line break or control character; check the options "
                          "(their values are not shown)");
        return REVOPS_ERROR;
    }
    if (!project || !project_key_ok(project)) {
        host->error(self, "project must be a Jira project key such as REV (uppercase letters, digits, '_'; got '%s')",
                    project && header_safe(project) ? project : "");
        return REVOPS_ERROR;
    }
    if (!issue_type || !*issue_type) {
        host->error(self, "issue_type must name an issue type of project %s, e.g. Task", project);
        return REVOPS_ERROR;
    }
    jira_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        host->error(self, "out of memory");
        return REVOPS_ERROR;
    }
    c->self = self;
    c->host = host;
    c->project = project;
    c->issue_type = issue_type;
    c->summary_tmpl = host->opt_string(opts, "summary");
    c->comment_tmpl = host->opt_string(opts, "comment");
    c->timeout = host->opt_real(opts, "timeout");

    /* priority_map: "critical=Highest", ...; a level left out or mapped to
     * nothing ("low=") sends no priority (the project's default applies). */
    static const char *const levels[4] = { "low", "medium", "high", "critical" };
    for (size_t i = 0; i < host->opt_list_len(opts, "priority_map"); i++) {
        const char *e = host->opt_list_item(opts, "priority_map", i);
        const char *eq = e ? strchr(e, '=') : NULL;
        int lv = -1;
        for (int k = 0; eq && k < 4; k++)
            if (strlen(levels[k]) == (size_t)(eq - e) && !strncmp(levels[k], e, (size_t)(eq - e))) lv = k;
        if (lv < 0) {
            host->error(self, "priority_map entry '%s' is not LEVEL=JIRA-PRIORITY with LEVEL one of critical, high, "
                              "medium, low", e ? e : "");
            jira_close(c);
            return REVOPS_ERROR;
        }
        c->prio[lv] = eq + 1;
    }

    size_t nl = host->opt_list_len(opts, "labels");
    c->labels = calloc(nl ? nl : 1, sizeof *c->labels);
    if (!c->labels) {
        host->error(self, "out of memory");
        jira_close(c);
        return REVOPS_ERROR;
    }
    for (size_t i = 0; i < nl; i++) {
        const char *l = host->opt_list_item(opts, "labels", i);
        const char *why = l ? label_problem(l) : "is missing";
        if (why) {
            host->error(self, "labels: label %zu %s", i + 1, why);
            jira_close(c);
            return REVOPS_ERROR;
        }
        c->labels[c->nlabels++] = l;
    }

    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/') bl--;
    revops_buf su = { 0 }, iu = { 0 };
    revops_buf_fmt(&su, "%.*s%s", (int)bl, base, SEARCH_PATH);
    revops_buf_fmt(&iu, "%.*s%s", (int)bl, base, ISSUE_PATH);
    c->search_url = su.p;
    c->issue_url = iu.p;

    size_t el = strlen(email), tl = strlen(token);
    char *pair = malloc(el + tl + 2);
    char *b64 = NULL;
    if (pair) {
        memcpy(pair, email, el);
        pair[el] = ':';
        memcpy(pair + el + 1, token, tl + 1);
        b64 = host->base64(pair, el + tl + 1, 0);
        revops_wipe(pair, el + tl + 1);
        free(pair);
    }
    if (b64) {
        size_t n = strlen(b64) + sizeof "Authorization: Basic ";
        c->auth = malloc(n);
        if (c->auth) snprintf(c->auth, n, "Authorization: Basic %s", b64);
        revops_wipe(b64, strlen(b64));
        host->free(b64);
    }
    if (su.oom || iu.oom || !c->search_url || !c->issue_url || !c->auth) {
        host->error(self, "out of memory");
        jira_close(c);
        return REVOPS_ERROR;
    }
    *ctx = c;
    return REVOPS_OK;
}

/* ---------------------------------------------------------- descriptor -- */

static const revops_action_vtable vtable = {
    .open = jira_open,
    .deliver = jira_deliver,
    .close = jira_close,
};

static const revops_option_def options[] = {
    { "base_url", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 0,
      "your Jira Cloud site, https://your-domain.atlassian.net" },
    { "email", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 1,
      "the Atlassian account's email (Basic auth user); env:NAME or file:/path" },
    { "api_token", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 1,
      "an Atlassian API token for that account; env:NAME or file:/path" },
    { "project", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 0,
      "the project key issues are filed in, e.g. REV" },
    { "issue_type", REVOPS_OPT_STRING, 0, "Task", 0, 0, NULL, 0,
      "the issue type's name" },
    { "priority_map", REVOPS_OPT_LIST, 0, "critical=Highest,high=High,medium=Medium,low=Low", 0, 0, NULL, 0,
      "finding priority -> Jira priority name; a level left out sends no priority" },
    { "labels", REVOPS_OPT_LIST, 0, NULL, 0, 0, NULL, 0,
      "extra labels on every issue (besides revops, revops-<fingerprint>, revops-d-<delivery>)" },
    { "summary", REVOPS_OPT_TEMPLATE, 0, "[revops {{analysis}}] {{title}}", 0, 0, NULL, 0,
      "the issue summary (one line, cut at Jira's 255 characters)" },
    { "comment", REVOPS_OPT_TEMPLATE, 0,
      "revops run {{session_id}} found this again: priority {{priority}}, score {{score}}, "
      "confidence {{confidence}}.\n\n{{title}}\n\n{{signals}}", 0, 0, NULL, 0,
      "the comment added when an issue for the finding already exists" },
    { "timeout", REVOPS_OPT_REAL, 0, "30", 1, 600, NULL, 0,
      "seconds for one HTTP exchange (the run's deadline still applies)" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_ACTION, "jira", "1.0.0",
    "Jira Cloud issues (REST v3, ADF), deduplicated by a JQL search on the finding's label",
    options, { .action = &vtable }
};
