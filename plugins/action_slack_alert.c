/*
 * action "slack_alert": findings as Slack messages (Block Kit), through the Web API's
 * chat.postMessage (threads for re-alerts) or an incoming webhook.  (The name `slack`
 * is the source's.)
 *
 * Followed (public documentation):
 *   - docs.slack.dev/reference/methods/chat.postMessage: POST
 *     https://slack.com/api/chat.postMessage, "Authorization: Bearer xoxb-...",
 *     Content-Type application/json; arguments channel (required), text, blocks,
 *     thread_ts (reply in a thread), reply_broadcast, unfurl_links, unfurl_media.
 *     Answer {"ok": true, "channel": "C...", "ts": "1503435956.000247", "message": {...}};
 *     errors as HTTP 200 {"ok": false, "error": "<code>"} (channel_not_found,
 *     not_in_channel, is_archived, msg_too_long, no_text, invalid_blocks, invalid_auth,
 *     not_authed, account_inactive, token_revoked, ratelimited, internal_error,
 *     fatal_error, service_unavailable, request_timeout, ...); invalid_blocks comes with
 *     response_metadata.messages ("[ERROR] ...").  "text" is truncated by Slack past
 *     40,000 characters (api.slack.com/changelog/2018-04-truncating-really-long-messages).
 *   - docs.slack.dev/apis/web-api/rate-limits: HTTP 429 with Retry-After (seconds).
 *   - docs.slack.dev/messaging/sending-messages-using-incoming-webhooks and
 *     api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks: POST
 *     JSON to https://hooks.slack.com/services/T.../B.../...; answers are plain text:
 *     200 "ok"; 400 invalid_payload / user_not_found (and no_text, invalid_blocks);
 *     403 action_prohibited; 404 channel_not_found; 410 channel_is_archived; 500
 *     rollup_error.  The URL is the credential.
 *   - docs.slack.dev/reference/block-kit/blocks: at most 50 blocks per message; header
 *     block: plain_text, at most 150 characters; section: text at most 3000 characters;
 *     context: at most 10 elements.
 *   - docs.slack.dev/messaging/formatting-message-text ("Escaping text"): only &, < and >
 *     are replaced by &amp; &lt; &gt; (host->render, REVOPS_ESC_SLACK), so a name
 *     "<!channel>" cannot ping anyone.
 *
 * What goes out:
 *   mode "api": per finding (digest = false) one chat.postMessage:
 *     {"channel", "text": <text template>, "blocks": [header (title template),
 *      section mrkdwn (body template), section signals, section recommended actions,
 *      section narrative + next steps (when narrated), context (fingerprint[:12],
 *      occurrence, partial)], "unfurl_links": false, "unfurl_media": false}
 *     A re-alert of a fingerprint whose first message this instance posted (state
 *     "ts:<fingerprint>" = "<channel>:<ts>") is a reply in that thread: "thread_ts",
 *     optional "reply_broadcast", blocks: what changed (priority and score, then and
 *     now), the body, the context.
 *   mode "webhook": the same message without channel/thread to webhook_url.
 *   digest = true: one message per batch listing the findings (header, then per finding
 *     a section of at most 450 characters and a context: 24 findings per message, more
 *     go in more messages).  Digests are not threaded.
 * Idempotency: before sending finding i the state "sent:<delivery id>" is looked up; when
 * present the finding is OK without a request (a retry or a rerun).  After Slack
 * confirmed, "sent:<delivery id>" = "<channel>:<ts>" (webhook: "webhook").
 *
 * Answers: ok:true / "ok" -> OK.  Slack's final error codes -> ERROR naming the code;
 * its transient ones -> RETRY.  429 and 5xx are the host's to retry (Retry-After
 * honoured); when they outlast the retries the finding is RETRY and the rest of the
 * batch is not sent this time (RETRY too).  Neither the token nor the webhook URL is in
 * any message of this plugin (the webhook URL is shown as its origin).
 */
#include <revops/revops.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "utf8_common.h"

#define HEADER_MAX 150          /* header block: plain_text characters */
#define SECTION_MAX 3000        /* section block: text characters */
#define TEXT_MAX 3000           /* the top-level notification text (Slack cuts at 40,000) */
#define MAX_BLOCKS 50
#define DIGEST_PER_MESSAGE 24   /* 1 header + 2 blocks each = 49 */
#define DIGEST_SECTION_MAX 450  /* characters per finding in a digest: 24 of them stay under the
                                 * ~13,000 characters of blocks past which Slack answers
                                 * msg_blocks_too_long (undocumented; slackapi/bolt-js#2509) */
#define ANSWER_MAX 160

static const char DEFAULT_TEXT[] = "[{{priority}}] {{title}} ({{account_name}})";
static const char DEFAULT_TITLE[] = "{{priority}}: {{title}}";
static const char DEFAULT_BODY[] =
    "*Account:* {{account_name}} ({{account_id}})\n*Analysis:* {{analysis}} / {{category}}\n"
    "*Score:* {{score}} (confidence {{confidence}})\n{{description}}";

typedef struct slack_ctx {
    revops_instance *self;
    const revops_host *host;
    int webhook;                /* mode "webhook" */
    char *auth;                 /* "Authorization: Bearer ..." (secret; wiped on close) */
    char *post_url;             /* api: base_url + "/chat.postMessage"; webhook: the URL (secret) */
    char *url_path;             /* webhook: the URL without query, as host messages show it (secret) */
    char origin[160];           /* what messages may show of the URL */
    const char *channel;
    const char *tmpl_text, *tmpl_title, *tmpl_body;
    int digest, broadcast;
    double timeout;
} slack_ctx;

typedef enum { SENT_OK, SENT_ERROR, SENT_RETRY, SENT_STOP } sent_status;

/* ------------------------------------------------------------ helpers -- */

REVOPS_PRINTF(3, 4)
static void set_result(revops_delivery *d, revops_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    d->status = s;
    vsnprintf(d->message, sizeof d->message, fmt, ap);
    va_end(ap);
}

/* s as valid UTF-8 (a byte that is not: U+FFFD) of at most max characters, the
 * last "…" when cut; never a character or an entity (&amp; &lt; &gt;) cut in
 * two.  Appended to out. */
static void add_cut(revops_buf *out, const char *s, size_t max)
{
    size_t len = strlen(s), chars = 0, i = 0, keep = 0;
    int cut = 0;
    /* where the text would be cut: after max - 1 characters */
    while (i < len) {
        size_t n = utf8_seq((const unsigned char *)s + i, len - i, NULL);
        if (chars == max - 1) keep = i;
        if (chars == max) {
            cut = 1;
            break;
        }
        i += n ? n : 1;
        chars++;
    }
    if (!cut) keep = len;
    if (cut) {
        /* back off to an entity's '&' when the cut falls inside one */
        for (size_t b = 1; b <= 4 && b <= keep; b++) {
            if (s[keep - b] == ';') break;
            if (s[keep - b] == '&') {
                keep -= b;
                break;
            }
        }
    }
    for (size_t p = 0; p < keep;) {
        size_t n = utf8_seq((const unsigned char *)s + p, keep - p, NULL);
        if (n) revops_buf_add(out, s + p, n);
        else revops_buf_str(out, "\xef\xbf\xbd");
        p += n ? n : 1;
    }
    if (cut) revops_buf_str(out, "\xe2\x80\xa6");
}

/* A JSON string member "name": "<s cut to max characters>". */
static void add_member(slack_ctx *c, revops_buf *b, const char *name, const char *s, size_t max)
{
    revops_buf t = { 0 };
    if (max) add_cut(&t, s ? s : "", max);
    else add_cut(&t, s ? s : "", (size_t)-1);
    char *q = c->host->json_quote(revops_buf_cstr(&t));
    revops_buf_fmt(b, "\"%s\": %s", name, q ? q : "\"\"");
    if (!q) b->oom = 1;
    c->host->free(q);
    revops_buf_free(&t);
}

/* A message's blocks: a JSON array under construction. */
typedef struct blocks {
    revops_buf b;
    int n;
} blocks;

static void block_open(blocks *bl)
{
    revops_buf_str(&bl->b, bl->n++ ? ", {" : "{");
}

/* A header block (plain_text, at most 150 characters). */
static void add_header(slack_ctx *c, blocks *bl, const char *text)
{
    block_open(bl);
    revops_buf_str(&bl->b, "\"type\": \"header\", \"text\": {\"type\": \"plain_text\", ");
    add_member(c, &bl->b, "text", *text ? text : "revops", HEADER_MAX);
    revops_buf_str(&bl->b, ", \"emoji\": true}}");
}

/* A section block with mrkdwn text: prefix (the plugin's own words) + text,
 * at most max characters.  Nothing when text is empty. */
static void add_section_max(slack_ctx *c, blocks *bl, const char *prefix, const char *text, size_t max)
{
    if (!text || !*text) return;
    revops_buf t = { 0 };
    revops_buf_str(&t, prefix ? prefix : "");
    revops_buf_str(&t, text);
    block_open(bl);
    revops_buf_str(&bl->b, "\"type\": \"section\", \"text\": {\"type\": \"mrkdwn\", ");
    add_member(c, &bl->b, "text", revops_buf_cstr(&t), max);
    revops_buf_str(&bl->b, "}}");
    if (t.oom) bl->b.oom = 1;
    revops_buf_free(&t);
}

static void add_section(slack_ctx *c, blocks *bl, const char *prefix, const char *text)
{
    add_section_max(c, bl, prefix, text, SECTION_MAX);
}

/* A context block with one mrkdwn element. */
static void add_context(slack_ctx *c, blocks *bl, const char *text)
{
    block_open(bl);
    revops_buf_str(&bl->b, "\"type\": \"context\", \"elements\": [{\"type\": \"mrkdwn\", ");
    add_member(c, &bl->b, "text", text, SECTION_MAX);
    revops_buf_str(&bl->b, "}]}");
}

/* A template filled for finding f, values escaped for Slack and each cut at
 * max_value characters; NULL only when out of memory.  Free with host->free. */
static char *fill(slack_ctx *c, const char *tmpl, const revops_finding *f, const revops_batch *b, size_t max_value)
{
    return c->host->render(tmpl, f, b, REVOPS_ESC_SLACK, max_value);
}

static void context_line(slack_ctx *c, const revops_batch *b, size_t i, revops_buf *out)
{
    const revops_finding *f = b->findings[i];
    int occ = c->host->abi_minor >= 5 && b->occurrences ? b->occurrences[i] : 1;
    revops_buf_fmt(out, "revops · %s · fingerprint `%.12s`", revops_priority_name(f->priority), f->fingerprint);
    if (occ > 1) revops_buf_fmt(out, " · alert %d", occ);
    if (f->partial) revops_buf_str(out, " · :warning: based on partial data");
}

/* ------------------------------------------------------------ posting -- */

static int code_in(const char *code, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (!strcmp(code, list[i])) return 1;
    return 0;
}

static const char *const TRANSIENT[] = { "ratelimited", "rate_limited", "internal_error", "fatal_error",
                                         "service_unavailable", "request_timeout", NULL };
static const char *const AUTH[] = { "invalid_auth", "not_authed", "account_inactive", "token_revoked",
                                    "token_expired", "no_permission", "missing_scope", NULL };

/* The host's message for a failed exchange, the webhook URL (its path is the
 * credential) replaced by its origin. */
static void host_why(slack_ctx *c, char *out, size_t outlen)
{
    const char *why = c->host->last_error ? c->host->last_error(c->self) : "";
    if (!why || !*why) why = "no answer (timeout, connection or TLS failure)";
    revops_buf b = { 0 };
    size_t n = c->url_path ? strlen(c->url_path) : 0;
    for (const char *p = why; *p;) {
        const char *hit = n ? strstr(p, c->url_path) : NULL;
        if (!hit) {
            revops_buf_str(&b, p);
            break;
        }
        revops_buf_add(&b, p, (size_t)(hit - p));
        revops_buf_str(&b, c->origin);
        p = hit + n;
    }
    if (b.oom) snprintf(out, outlen, "no answer from %s", c->origin);
    else utf8_one_line(revops_buf_cstr(&b), b.len, outlen - 1, out, outlen);
    revops_buf_free(&b);
}

/* POST one message (body: a JSON object).  On OK, api mode: ts / channel of
 * the message (caller's buffers).  why: the reason when not OK. */
static sent_status post(slack_ctx *c, const char *body, size_t len, char *ts, size_t tslen, char *chan,
                        size_t chanlen, char *why, size_t whylen)
{
    const revops_host *h = c->host;
    const char *hdrs[4];
    size_t k = 0;
    hdrs[k++] = "Content-Type: application/json; charset=utf-8";
    if (c->auth) hdrs[k++] = c->auth;
    hdrs[k] = NULL;
    /* An incoming webhook's path is its credential: the host logs only
     * the origin (1.5). */
    revops_http_request req = { .method = "POST", .url = c->post_url, .headers = hdrs, .body = body,
                                .body_len = len, .timeout = c->timeout,
                                .flags = c->webhook ? REVOPS_HTTP_SECRET_URL : 0 };
    revops_http_response resp;
    memset(&resp, 0, sizeof resp);
    revops_status st = h->http(c->self, &req, &resp);
    const char *what = c->webhook ? "incoming webhook" : "chat.postMessage";
    char answer[ANSWER_MAX + 8];
    utf8_one_line(resp.body ? resp.body : "", resp.body ? resp.body_len : 0, ANSWER_MAX, answer, sizeof answer);
    long s = resp.status;
    sent_status out = SENT_ERROR;
    ts[0] = chan[0] = '\0';

    if (st != REVOPS_OK) {
        if (s > 0)
            snprintf(why, whylen, "%s: HTTP %ld after %d attempt%s (the host's retries ran out): %s", what, s,
                     resp.attempts, resp.attempts == 1 ? "" : "s", *answer ? answer : "(no answer body)");
        else {
            char hw[200];
            host_why(c, hw, sizeof hw);
            snprintf(why, whylen, "%s: %s", what, hw);
        }
        out = st == REVOPS_RETRY ? SENT_STOP : SENT_ERROR;
    } else if (c->webhook) {
        /* Plain-text answers: 200 "ok", else the error's name. */
        if (s == 200) {
            out = SENT_OK;
        } else if (s == 408 || s == 429 || s >= 500) {
            snprintf(why, whylen, "incoming webhook: HTTP %ld: %s", s, *answer ? answer : "(no answer body)");
            out = SENT_RETRY;
        } else {
            snprintf(why, whylen, "incoming webhook: HTTP %ld: Slack said %s", s, *answer ? answer : "(no answer body)");
            out = SENT_ERROR;
        }
    } else {
        char err[200] = "";
        revops_json *root = resp.body && resp.body_len ? h->json_parse(resp.body, resp.body_len, err, sizeof err) : NULL;
        revops_json *okv = root ? h->json_get(root, "ok") : NULL;
        const char *code = root ? h->json_string(h->json_get(root, "error")) : NULL;
        if (okv && h->json_type(okv) == REVOPS_JSON_BOOL && h->json_int(okv)) {
            const char *t = h->json_string(h->json_get(root, "ts"));
            const char *ch = h->json_string(h->json_get(root, "channel"));
            snprintf(ts, tslen, "%s", t ? t : "");
            snprintf(chan, chanlen, "%s", ch ? ch : "");
            out = SENT_OK;
        } else if (code && *code) {
            /* invalid_blocks and friends say what is wrong in response_metadata.messages */
            const char *detail = h->json_string(h->json_get(root, "response_metadata.messages.0"));
            char d[160] = "";
            if (detail) utf8_one_line(detail, strlen(detail), 150, d, sizeof d);
            if (code_in(code, TRANSIENT)) {
                snprintf(why, whylen, "chat.postMessage: HTTP %ld: Slack said %s (transient)", s, code);
                out = SENT_RETRY;
            } else if (code_in(code, AUTH)) {
                snprintf(why, whylen, "chat.postMessage: Slack refused the token: %s (check the token option and "
                         "the app's installation)", code);
            } else if (!strcmp(code, "not_in_channel")) {
                snprintf(why, whylen, "chat.postMessage: Slack said not_in_channel: invite the app to %.40s", c->channel);
            } else if (!strcmp(code, "channel_not_found") || !strcmp(code, "is_archived")) {
                snprintf(why, whylen, "chat.postMessage: Slack said %s (channel %.40s)", code, c->channel);
            } else {
                snprintf(why, whylen, "chat.postMessage: HTTP %ld: Slack said %s%s%s", s, code, *d ? ": " : "", d);
            }
        } else if (s == 408 || s == 429 || s >= 500) {
            snprintf(why, whylen, "chat.postMessage: HTTP %ld: %s", s, *answer ? answer : "(no answer body)");
            out = SENT_RETRY;
        } else if (!root) {
            snprintf(why, whylen, "chat.postMessage: HTTP %ld: not a Slack Web API answer (%s): %s", s, err,
                     *answer ? answer : "(empty)");
        } else {
            snprintf(why, whylen, "chat.postMessage: HTTP %ld: the answer has no \"ok\": true nor an \"error\": %s", s,
                     answer);
        }
        if (root) h->json_free(root);
    }
    h->http_free(&resp);
    return out;
}

/* ------------------------------------------------------------ messages -- */

/* The message's JSON object around blocks: channel / thread for the API. */
static void message_json(slack_ctx *c, revops_buf *m, const char *text, blocks *bl, const char *thread_chan,
                         const char *thread_ts)
{
    revops_buf_str(m, "{");
    if (!c->webhook) {
        add_member(c, m, "channel", thread_chan ? thread_chan : c->channel, 0);
        revops_buf_str(m, ", ");
    }
    add_member(c, m, "text", text, TEXT_MAX);
    revops_buf_str(m, ", \"blocks\": [");
    revops_buf_add(m, revops_buf_cstr(&bl->b), bl->b.len);
    revops_buf_str(m, "], \"unfurl_links\": false, \"unfurl_media\": false");
    if (thread_ts) {
        revops_buf_str(m, ", ");
        add_member(c, m, "thread_ts", thread_ts, 0);
        if (c->broadcast) revops_buf_str(m, ", \"reply_broadcast\": true");
    }
    revops_buf_str(m, "}");
    if (bl->b.oom) m->oom = 1;
}

/* The blocks of finding i's first message. */
static void finding_blocks(slack_ctx *c, const revops_batch *b, size_t i, blocks *bl)
{
    const revops_host *h = c->host;
    const revops_finding *f = b->findings[i];
    char *title = fill(c, c->tmpl_title, f, b, HEADER_MAX);
    char *body = fill(c, c->tmpl_body, f, b, 1000);
    add_header(c, bl, title ? title : "");
    add_section(c, bl, NULL, body);
    if (f->nsignals) {
        char *sig = fill(c, "{{signals}}", f, b, 0);
        add_section(c, bl, "*Signals*\n", sig);
        h->free(sig);
    }
    if (f->nactions) {
        char *act = fill(c, "{{actions}}", f, b, 0);
        add_section(c, bl, "*Recommended actions*\n", act);
        h->free(act);
    }
    if (f->narrative && *f->narrative) {
        char *nar = fill(c, f->nnext_steps ? "{{narrative}}\n*Next steps*\n{{next_steps}}" : "{{narrative}}", f, b, 0);
        add_section(c, bl, "*Narrative*\n", nar);
        h->free(nar);
    }
    revops_buf ctx = { 0 };
    context_line(c, b, i, &ctx);
    add_context(c, bl, revops_buf_cstr(&ctx));
    revops_buf_free(&ctx);
    h->free(title);
    h->free(body);
}

/* The blocks of a re-alert in the thread of the first message: what changed. */
static void reply_blocks(slack_ctx *c, const revops_batch *b, size_t i, const char *last, blocks *bl)
{
    const revops_host *h = c->host;
    const revops_finding *f = b->findings[i];
    char was_p[16] = "", num[48];
    double was_s = -1;
    if (last) sscanf(last, "%15s %lf", was_p, &was_s);
    revops_fmt_num(f->score, num);
    revops_buf t = { 0 };
    int occ = h->abi_minor >= 5 && b->occurrences ? b->occurrences[i] : 1;
    revops_buf_str(&t, ":arrows_counterclockwise: *Update*");
    if (occ > 1) revops_buf_fmt(&t, " (alert %d)", occ);
    revops_buf_fmt(&t, ": priority now *%s*", revops_priority_name(f->priority));
    if (*was_p && strcmp(was_p, revops_priority_name(f->priority)))
        revops_buf_fmt(&t, " (was %s)", was_p);
    else if (*was_p)
        revops_buf_str(&t, " (unchanged)");
    revops_buf_fmt(&t, ", score now *%s*", num);
    if (was_s >= 0) {
        char w[48];
        revops_fmt_num(was_s, w);
        revops_buf_fmt(&t, " (was %s)", w);
    }
    add_section(c, bl, NULL, revops_buf_cstr(&t));
    revops_buf_free(&t);
    char *body = fill(c, c->tmpl_body, f, b, 1000);
    add_section(c, bl, NULL, body);
    h->free(body);
    revops_buf ctx = { 0 };
    context_line(c, b, i, &ctx);
    add_context(c, bl, revops_buf_cstr(&ctx));
    revops_buf_free(&ctx);
}

/* The delivery id of finding i (1.4); the fingerprint's first 32 characters
 * stand in should the host give none. */
static void delivery_id(slack_ctx *c, const revops_batch *b, size_t i, char id[33])
{
    const char *given = c->host->abi_minor >= 4 && b->delivery_ids ? b->delivery_ids[i] : NULL;
    snprintf(id, 33, "%s", given && *given ? given : b->findings[i]->fingerprint);
}

/* 1: sent before (skip), 0: not, -1: the store failed (why filled). */
static int already_sent(slack_ctx *c, const char *id, char *why, size_t whylen)
{
    char key[48];
    snprintf(key, sizeof key, "sent:%s", id);
    char *v = c->host->state_get(c->self, key);
    if (v) {
        c->host->free(v);
        return 1;
    }
    const char *e = c->host->last_error(c->self);
    if (e && *e) {
        snprintf(why, whylen, "the state store failed looking up %s: %s", key, e);
        return -1;
    }
    return 0;
}

static void remember(slack_ctx *c, const char *key, const char *value)
{
    if (c->host->state_put(c->self, key, value) != REVOPS_OK)
        c->host->log(c->self, REVOPS_LOG_WARN, "the message went out but the state store failed to keep %s: %s", key,
                     c->host->last_error(c->self));
}

/* One finding, one message (or a thread reply).  Returns 1 when the host's
 * retries ran out (stop the batch). */
static int deliver_one(slack_ctx *c, const revops_batch *b, size_t i, revops_delivery *d)
{
    const revops_host *h = c->host;
    const revops_finding *f = b->findings[i];
    char id[33], why[sizeof d->message];
    delivery_id(c, b, i, id);
    int seen = already_sent(c, id, why, sizeof why);
    if (seen < 0) {
        set_result(d, REVOPS_RETRY, "%s", why);
        return 0;
    }
    if (seen) {
        d->status = REVOPS_OK;
        d->message[0] = '\0';
        h->log(c->self, REVOPS_LOG_INFO, "finding %.12s (account %.40s): already sent as delivery %s, not sent again",
               f->fingerprint, f->account_id ? f->account_id : "?", id);
        return 0;
    }

    /* A thread to reply in: this fingerprint's first message, in our channel. */
    char tskey[80], lastkey[80], thread_chan[64] = "", thread_ts[64] = "";
    snprintf(tskey, sizeof tskey, "ts:%s", f->fingerprint);
    snprintf(lastkey, sizeof lastkey, "last:%s", f->fingerprint);
    char *last = NULL;
    if (!c->webhook) {
        char *v = h->state_get(c->self, tskey);
        const char *colon = v ? strchr(v, ':') : NULL;
        if (colon && (size_t)(colon - v) < sizeof thread_chan && strlen(colon + 1) < sizeof thread_ts &&
            (size_t)(colon - v) == strlen(c->channel) && !strncmp(v, c->channel, (size_t)(colon - v))) {
            memcpy(thread_chan, v, (size_t)(colon - v));
            thread_chan[colon - v] = '\0';
            snprintf(thread_ts, sizeof thread_ts, "%s", colon + 1);
            last = h->state_get(c->self, lastkey);
        }
        if (v) h->free(v);
    }
    int reply = *thread_ts != '\0';

    blocks bl = { { 0 }, 0 };
    if (reply) reply_blocks(c, b, i, last, &bl);
    else finding_blocks(c, b, i, &bl);
    char *text = fill(c, c->tmpl_text, f, b, 300);
    revops_buf msg = { 0 };
    if (reply) {
        revops_buf t = { 0 };
        revops_buf_fmt(&t, "Update: %s", text ? text : "");
        message_json(c, &msg, revops_buf_cstr(&t), &bl, thread_chan, thread_ts);
        revops_buf_free(&t);
    } else {
        message_json(c, &msg, text ? text : "", &bl, NULL, NULL);
    }
    h->free(text);
    if (last) h->free(last);
    revops_buf_free(&bl.b);
    if (msg.oom) {
        revops_buf_free(&msg);
        set_result(d, REVOPS_RETRY, "out of memory building the message");
        return 0;
    }

    char ts[64], chan[64];
    sent_status s = post(c, msg.p, msg.len, ts, sizeof ts, chan, sizeof chan, why, sizeof why);
    revops_buf_free(&msg);
    if (s != SENT_OK) {
        set_result(d, s == SENT_ERROR ? REVOPS_ERROR : REVOPS_RETRY, "%s", why);
        return s == SENT_STOP;
    }
    char where[140], sentkey[48], pv[64];
    if (c->webhook) snprintf(where, sizeof where, "webhook");
    else snprintf(where, sizeof where, "%s:%s", *chan ? chan : c->channel, ts);
    snprintf(sentkey, sizeof sentkey, "sent:%s", id);
    remember(c, sentkey, where);
    if (!c->webhook && !reply && *ts) {
        /* the thread to reply in: kept in the configured channel's name, which is
         * what a later run compares with */
        snprintf(where, sizeof where, "%s:%s", c->channel, ts);
        remember(c, tskey, where);
    }
    snprintf(pv, sizeof pv, "%s %.6f", revops_priority_name(f->priority), f->score);
    remember(c, lastkey, pv);
    d->status = REVOPS_OK;
    d->message[0] = '\0';
    h->log(c->self, REVOPS_LOG_DEBUG, "finding %.12s (account %.40s) %s%s", f->fingerprint,
           f->account_id ? f->account_id : "?", reply ? "replied in thread " : "posted ", c->webhook ? "" : ts);
    return 0;
}

/* Digest: the batch's unsent findings, 24 to a message. */
static revops_status deliver_digest(slack_ctx *c, const revops_batch *b, revops_delivery *results)
{
    const revops_host *h = c->host;
    size_t *todo = calloc(b->nfindings ? b->nfindings : 1, sizeof *todo), n = 0;
    if (!todo) {
        for (size_t i = 0; i < b->nfindings; i++) set_result(&results[i], REVOPS_RETRY, "out of memory");
        return REVOPS_OK;
    }
    for (size_t i = 0; i < b->nfindings; i++) {
        char id[33], why[sizeof results->message];
        delivery_id(c, b, i, id);
        int seen = already_sent(c, id, why, sizeof why);
        if (seen < 0) set_result(&results[i], REVOPS_RETRY, "%s", why);
        else if (seen) {
            results[i].status = REVOPS_OK;
            results[i].message[0] = '\0';
            h->log(c->self, REVOPS_LOG_INFO, "finding %.12s: already sent as delivery %s, not sent again",
                   b->findings[i]->fingerprint, id);
        } else todo[n++] = i;
    }
    size_t parts = (n + DIGEST_PER_MESSAGE - 1) / DIGEST_PER_MESSAGE;
    int stopped = 0;
    char stop_why[sizeof results->message] = "";
    for (size_t p = 0; p < parts; p++) {
        size_t from = p * DIGEST_PER_MESSAGE, to = from + DIGEST_PER_MESSAGE < n ? from + DIGEST_PER_MESSAGE : n;
        if (stopped || h->time_left(c->self) <= 0) {
            if (!stopped) snprintf(stop_why, sizeof stop_why, "not sent: the run's deadline has passed");
            for (size_t k = from; k < to; k++) set_result(&results[todo[k]], REVOPS_RETRY, "%s", stop_why);
            continue;
        }
        const revops_finding *f0 = b->findings[todo[from]];
        char *pipe = fill(c, "{{pipeline}}", f0, b, 60);
        revops_buf head = { 0 }, text = { 0 };
        revops_buf_fmt(&head, "revops: %zu finding%s", to - from, to - from == 1 ? "" : "s");
        if (pipe && *pipe) revops_buf_fmt(&head, " from %s", pipe);
        if (parts > 1) revops_buf_fmt(&head, " (part %zu of %zu)", p + 1, parts);
        revops_buf_fmt(&text, "%s", revops_buf_cstr(&head));
        h->free(pipe);
        blocks bl = { { 0 }, 0 };
        add_header(c, &bl, revops_buf_cstr(&head));
        for (size_t k = from; k < to; k++) {
            const revops_finding *f = b->findings[todo[k]];
            char *title = fill(c, c->tmpl_title, f, b, HEADER_MAX);
            char *body = fill(c, c->tmpl_body, f, b, 600);
            revops_buf s = { 0 };
            revops_buf_fmt(&s, "*%s*\n%s", title ? title : "", body ? body : "");
            add_section_max(c, &bl, NULL, revops_buf_cstr(&s), DIGEST_SECTION_MAX);
            revops_buf_free(&s);
            h->free(title);
            h->free(body);
            revops_buf ctx = { 0 };
            context_line(c, b, todo[k], &ctx);
            add_context(c, &bl, revops_buf_cstr(&ctx));
            revops_buf_free(&ctx);
        }
        revops_buf msg = { 0 };
        message_json(c, &msg, revops_buf_cstr(&text), &bl, NULL, NULL);
        revops_buf_free(&bl.b);
        revops_buf_free(&head);
        revops_buf_free(&text);
        char ts[64], chan[64], why[sizeof results->message];
        sent_status s = msg.oom ? SENT_RETRY : post(c, msg.p, msg.len, ts, sizeof ts, chan, sizeof chan, why, sizeof why);
        if (msg.oom) snprintf(why, sizeof why, "out of memory building the digest");
        revops_buf_free(&msg);
        for (size_t k = from; k < to; k++) {
            size_t i = todo[k];
            if (s != SENT_OK) {
                set_result(&results[i], s == SENT_ERROR ? REVOPS_ERROR : REVOPS_RETRY, "%s", why);
                continue;
            }
            char id[33], key[48], where[140];
            delivery_id(c, b, i, id);
            snprintf(key, sizeof key, "sent:%s", id);
            if (c->webhook) snprintf(where, sizeof where, "webhook");
            else snprintf(where, sizeof where, "%s:%s", *chan ? chan : c->channel, ts);
            remember(c, key, where);
            results[i].status = REVOPS_OK;
            results[i].message[0] = '\0';
        }
        if (s == SENT_STOP) {
            stopped = 1;
            snprintf(stop_why, sizeof stop_why, "not sent after an earlier failure: %s", why);
        }
    }
    free(todo);
    return REVOPS_OK;
}

static revops_status slack_deliver(void *ctx, const revops_batch *batch, revops_delivery *results)
{
    slack_ctx *c = ctx;
    if (c->digest) return deliver_digest(c, batch, results);
    char why[sizeof results->message] = "";
    size_t i = 0;
    for (; i < batch->nfindings; i++) {
        if (c->host->time_left(c->self) <= 0) {
            snprintf(why, sizeof why, "not sent: the run's deadline has passed");
            break;
        }
        if (deliver_one(c, batch, i, &results[i])) {
            snprintf(why, sizeof why, "not sent after an earlier failure: %s", results[i].message);
            i++;
            break;
        }
    }
    for (size_t k = i; k < batch->nfindings; k++) set_result(&results[k], REVOPS_RETRY, "%s", why);
    return REVOPS_OK;
}

/* ----------------------------------------------------------- lifecycle -- */

static void wipe_free(char *s)
{
    if (!s) return;
    revops_wipe(s, strlen(s));
    free(s);
}

static void slack_close(void *ctx)
{
    slack_ctx *c = ctx;
    if (!c) return;
    wipe_free(c->auth);
    if (c->webhook) wipe_free(c->post_url);
    else free(c->post_url);
    wipe_free(c->url_path);
    free(c);
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == ' ') return 1;
    return 0;
}

/* https:// anywhere; plain http:// only to the loopback interface (the fake).
 * 0 ok, -1 not an http(s) URL, -2 plain http elsewhere.  origin: scheme://host. */
static int url_check(const char *u, char *origin, size_t olen)
{
    size_t skip;
    if (strncasecmp(u, "https://", 8) == 0) skip = 8;
    else if (strncasecmp(u, "http://", 7) == 0) skip = 7;
    else return -1;
    const char *host = u + skip;
    size_t hl = strcspn(host, "/?#");
    if (hl == 0 || has_ctl(u)) return -1;
    snprintf(origin, olen, "%.*s%s", (int)(skip + (hl > 100 ? 100 : hl)), u, host[hl] ? "/…" : "");
    if (skip == 8) return 0;
    static const char *const loop[] = { "127.0.0.1", "localhost", "[::1]", NULL };
    for (size_t i = 0; loop[i]; i++) {
        size_t n = strlen(loop[i]);
        if (strncasecmp(host, loop[i], n) == 0 && (host[n] == '\0' || host[n] == ':' || host[n] == '/'))
            return 0;
    }
    return -2;
}

static revops_status open_fail(slack_ctx *c, const char *fmt, ...) REVOPS_PRINTF(2, 3);
static revops_status open_fail(slack_ctx *c, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->host->error(c->self, "%s", msg);
    slack_close(c);
    return REVOPS_ERROR;
}

static revops_status slack_open(revops_instance *self, const revops_host *host, const revops_options *opts, void **ctx)
{
    if (host->abi_minor < 5 || host->size < offsetof(revops_host, state_put) + sizeof host->state_put ||
        !host->render || !host->state_get || !host->state_put || !host->last_error) {
        host->error(self, "the slack_alert action needs a revops host with ABI 1.5 or later (templates, state store)");
        return REVOPS_ERROR;
    }
    slack_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        host->error(self, "out of memory");
        return REVOPS_ERROR;
    }
    c->self = self;
    c->host = host;
    const char *mode = host->opt_string(opts, "mode");
    c->webhook = mode && !strcmp(mode, "webhook");
    c->tmpl_text = host->opt_string(opts, "text");
    c->tmpl_title = host->opt_string(opts, "title");
    c->tmpl_body = host->opt_string(opts, "body");
    c->digest = host->opt_bool(opts, "digest");
    c->broadcast = host->opt_bool(opts, "reply_broadcast");
    c->timeout = host->opt_real(opts, "timeout");
    if (c->webhook) {
        const char *url = host->opt_string(opts, "webhook_url");
        if (!url || !*url)
            return open_fail(c, "mode \"webhook\" needs the option webhook_url (the incoming webhook's URL: env:NAME "
                                "or file:/path)");
        int uc = url_check(url, c->origin, sizeof c->origin);
        if (uc == -1)
            return open_fail(c, "option webhook_url must be an https:// URL such as "
                                "https://hooks.slack.com/services/T.../B.../... (the value is a secret and is not shown)");
        if (uc == -2)
            return open_fail(c, "option webhook_url (%s) is plain http:// to a host other than the loopback "
                                "interface; use https://", c->origin);
        size_t pl = strcspn(url, "?#");
        size_t ul = strlen(url);
        if (!(c->post_url = malloc(ul + 1)) || !(c->url_path = malloc(pl + 1))) return open_fail(c, "out of memory");
        memcpy(c->post_url, url, ul + 1);
        memcpy(c->url_path, url, pl);
        c->url_path[pl] = '\0';
        if (host->opt_is_set(opts, "token") || host->opt_is_set(opts, "channel"))
            host->log(self, REVOPS_LOG_WARN, "mode \"webhook\": the options token and channel are not used (an "
                                             "incoming webhook posts to the channel it was made for)");
    } else {
        const char *token = host->opt_string(opts, "token");
        c->channel = host->opt_string(opts, "channel");
        if (!token || !*token)
            return open_fail(c, "mode \"api\" needs the option token (a bot token xoxb-...: env:NAME or file:/path)");
        if (!c->channel || !*c->channel)
            return open_fail(c, "mode \"api\" needs the option channel (a channel id such as C0123456789)");
        if (strchr(c->channel, ':') || has_ctl(c->channel))
            return open_fail(c, "option channel '%.60s' is not a channel id or name", c->channel);
        for (const char *p = token; *p; p++)
            if ((unsigned char)*p < 0x21 || *p == 0x7f)
                return open_fail(c, "option token holds a space or control character (not shown)");
        const char *base = host->opt_string(opts, "base_url");
        int uc = url_check(base, c->origin, sizeof c->origin);
        if (uc == -1) return open_fail(c, "option base_url '%.100s' is not an http(s) URL", base);
        if (uc == -2)
            return open_fail(c, "option base_url (%s) is plain http:// to a host other than the loopback "
                                "interface: the bot token would cross the network unencrypted", c->origin);
        size_t bl = strlen(base);
        while (bl && base[bl - 1] == '/') bl--;
        size_t n = bl + sizeof "/chat.postMessage";
        size_t an = strlen(token) + sizeof "Authorization: Bearer ";
        if (!(c->post_url = malloc(n)) || !(c->auth = malloc(an))) return open_fail(c, "out of memory");
        snprintf(c->post_url, n, "%.*s/chat.postMessage", (int)bl, base);
        snprintf(c->auth, an, "Authorization: Bearer %s", token);
        if (host->opt_is_set(opts, "webhook_url"))
            host->log(self, REVOPS_LOG_WARN, "mode \"api\": the option webhook_url is not used");
    }
    *ctx = c;
    return REVOPS_OK;
}

/* ---------------------------------------------------------- descriptor -- */

static const revops_action_vtable vtable = {
    .open = slack_open,
    .deliver = slack_deliver,
    .close = slack_close,
};

static const char *const modes[] = { "api", "webhook", NULL };

static const revops_option_def options[] = {
    { "mode", REVOPS_OPT_ENUM, 0, "api", 0, 0, modes, 0,
      "api: chat.postMessage with a bot token (threads re-alerts); webhook: an incoming webhook URL" },
    { "token", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 1, "mode api: the bot token xoxb-... (env:NAME or file:/path)" },
    { "channel", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 0, "mode api: the channel id (C0123456789) to post to" },
    { "base_url", REVOPS_OPT_STRING, 0, "https://slack.com/api", 0, 0, NULL, 0, "mode api: the Web API's base URL" },
    { "webhook_url", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 1,
      "mode webhook: https://hooks.slack.com/services/T.../B.../... (env:NAME or file:/path)" },
    { "digest", REVOPS_OPT_BOOL, 0, "false", 0, 0, NULL, 0,
      "one message listing the batch's findings (24 to a message) instead of one per finding" },
    { "reply_broadcast", REVOPS_OPT_BOOL, 0, "false", 0, 0, NULL, 0,
      "mode api: a re-alert's thread reply is also shown in the channel" },
    { "text", REVOPS_OPT_TEMPLATE, 0, DEFAULT_TEXT, 0, 0, NULL, 0,
      "the notification text (the fallback for the blocks); values escaped for Slack" },
    { "title", REVOPS_OPT_TEMPLATE, 0, DEFAULT_TITLE, 0, 0, NULL, 0, "the header block (at most 150 characters)" },
    { "body", REVOPS_OPT_TEMPLATE, 0, DEFAULT_BODY, 0, 0, NULL, 0, "the first section (mrkdwn, at most 3000 characters)" },
    { "timeout", REVOPS_OPT_REAL, 0, "30", 1, 600, NULL, 0, "seconds for one HTTP exchange (the run's deadline still applies)" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_ACTION, "slack_alert", "1.0.0",
    "findings as Slack Block Kit messages: chat.postMessage (threads re-alerts) or an incoming webhook; digest",
    options, { .action = &vtable }
};
