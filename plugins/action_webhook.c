/*
 * action "webhook": one JSON POST per finding, for Zapier-style catch hooks
 * (https://hooks.zapier.com/hooks/catch/<account>/<hook>/) and any other
 * receiver of JSON webhooks.
 *
 * Followed (public documentation):
 *   - Zapier, Webhooks by Zapier, https://zapier.com/help/webhooks/ : the Catch
 *     Hook trigger waits for a POST (or PUT, GET) to its URL and parses a JSON
 *     body (nested JSON too).  The catch hook answers 200 with
 *     {"status": "success", "attempt": ..., "id": ..., "request_id": ...}, a
 *     body the Zap cannot change (Zapier community: "With Catch Hooks, by
 *     default we will always return a success message",
 *     community.zapier.com/code-webhooks-52/...-13867).  Over its rate limit a
 *     hook answers 429; retrying anything but a 200 with exponential backoff
 *     is the advice (support.cardtapp.com, "Zapier webhooks: understanding
 *     error codes").
 *     The hook URL is the credential ("anyone with the URL can post into your
 *     Zap"), so `url` is a sensitive option here: env:NAME or file:/path, and no
 *     message of this plugin shows more of it than scheme://host[:port].
 *   - The Idempotency-Key HTTP header field, IETF draft
 *     draft-ietf-httpapi-idempotency-key-header (httpapi WG): a client makes a
 *     POST fault-tolerant by sending a unique key with it and the same key
 *     when it repeats the request; the resource server recognises the repeat.
 *     The draft writes the value as a structured-field string (quoted); we send
 *     the bare token as Stripe's API and most receivers expect it: 32 hex
 *     characters need no quoting to be unambiguous.
 *   - Signatures as Stripe (https://stripe.com/docs/webhooks/signatures,
 *     "verify manually": HMAC-SHA256 of "<timestamp>.<payload>", a five minute
 *     tolerance) and Slack
 *     (https://api.slack.com/authentication/verifying-requests-from-slack: HMAC
 *     of "v0:<timestamp>:<body>", requests older than five minutes refused)
 *     sign them.  See sign() for why the timestamp is inside the signature.
 *
 * What goes out, per finding, to `url`:
 *   POST, Content-Type: application/json, Idempotency-Key: <delivery id>,
 *   with `secret`: X-Revops-Timestamp: <unix seconds> and
 *   X-Revops-Signature: sha256=<hex HMAC-SHA256(secret, timestamp "." body)>,
 *   and every `header` entry ("Name: value"; a value that is a secret
 *   reference, env:NAME / file:/path, or a word and one, "Bearer env:NAME",
 *   is resolved when the instance opens: the core resolves sensitive strings,
 *   not the items of a sensitive list).
 *   Body, format = "finding" (the default):
 *     {"event": "revops.finding", "delivery_id", "session_id", "pipeline",
 *      "finding": <the host's finding JSON, as `revops run --format json`>}
 *   format = "template" (or `body` set without a format): the `body` template
 *   rendered with JSON-string escaping (host->render, REVOPS_ESC_JSON), so a
 *   placeholder belongs inside a JSON string ("{{title}}") or where a number
 *   goes ({{score}}, {{confidence}}); "delivery_id" is added as the object's
 *   first member unless the template has one (the contract has no
 *   {{delivery_id}} placeholder).  Every body is checked to be strict JSON
 *   (RFC 8259) and with host->json_parse before it is sent; one that is not
 *   is an ERROR naming the option.
 *
 * Answers: 2xx OK; 408, 429 and 5xx RETRY (the host has retried 429 and 5xx
 * already, honouring Retry-After); 3xx ERROR (redirects are not followed: a
 * POST must not turn into a GET); a 401 to a signed request that the host
 * had to send more than once RETRY (its timestamp may have aged past the
 * receiver's tolerance while the host waited; the core's retry signs afresh);
 * any other status ERROR with the status and the first 200 bytes of the
 * answer.  When the host's retries ran out on one finding, the rest of the
 * batch is not sent this time (RETRY): the endpoint is down or throttling,
 * and the core retries them with backoff.
 * Secrets (url, secret, header values) never appear in a message or a log
 * line of this plugin; messages the host wrote about a failed exchange are
 * shown with the URL cut to its origin.  (The host's own "retrying" log
 * lines, core/http.c, do show the URL without its query.)
 */
#include <revops/revops.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "utf8_common.h"

#define ANSWER_MAX 200          /* bytes of a refusal's answer put in the message */
#define JSON_MAX_DEPTH 64

static const char DEFAULT_BODY[] =
    "{\"fingerprint\": \"{{fingerprint}}\", \"analysis\": \"{{analysis}}\", \"category\": \"{{category}}\", "
    "\"priority\": \"{{priority}}\", \"score\": {{score}}, \"account_id\": \"{{account_id}}\", "
    "\"account_name\": \"{{account_name}}\", \"title\": \"{{title}}\", \"description\": \"{{description}}\", "
    "\"signals\": \"{{signals}}\", \"actions\": \"{{actions}}\", \"pipeline\": \"{{pipeline}}\", "
    "\"session_id\": \"{{session_id}}\"}";

/* Headers this plugin sets itself; `header` may not replace them. */
static const char *const RESERVED[] = { "Content-Type", "Idempotency-Key", "X-Revops-Signature",
                                        "X-Revops-Timestamp", "Content-Length", "Host", NULL };

typedef struct hook_ctx {
    revops_instance *self;
    const revops_host *host;
    const char *url;            /* resolved by the core (sensitive): never printed */
    char *url_path;             /* url without query/fragment, as the host's messages show it */
    char origin[160];           /* scheme://host[:port]/…, what messages may show */
    const char *secret;         /* NULL: unsigned */
    const char *body_tmpl;      /* NULL: format "finding" */
    double timeout;
    char **headers;             /* extra "Name: value" (secret values resolved; wiped on close) */
    size_t nheaders;
} hook_ctx;

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

/* The host's message for a failed exchange names the URL it posted to:
 * show our origin instead (the hook's path is its credential). */
static void redacted_host_error(hook_ctx *c, char *out, size_t outlen)
{
    const char *why = c->host->last_error ? c->host->last_error(c->self) : "";
    if (!why || !*why) why = "no answer (timeout, connection or TLS failure)";
    revops_buf b = { 0 };
    size_t n = strlen(c->url_path);
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

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

/* https:// anywhere; plain http:// only to the loopback interface unless the
 * operator allows it.  0 ok, -1 not an http(s) URL, -2 plain http elsewhere. */
static int url_check(const char *u, int allow_http, char *origin, size_t olen)
{
    size_t skip;
    if (strncasecmp(u, "https://", 8) == 0) skip = 8;
    else if (strncasecmp(u, "http://", 7) == 0) skip = 7;
    else return -1;
    const char *host = u + skip;
    size_t hl = strcspn(host, "/?#");
    if (hl == 0 || has_ctl(u) || strchr(u, ' ')) return -1;
    snprintf(origin, olen, "%.*s%s", (int)(skip + (hl > 100 ? 100 : hl)), u, host[hl] ? "/…" : "");
    if (skip == 8 || allow_http) return 0;
    static const char *const loop[] = { "127.0.0.1", "localhost", "[::1]", NULL };
    for (size_t i = 0; loop[i]; i++) {
        size_t n = strlen(loop[i]);
        if (strncasecmp(host, loop[i], n) == 0 && (host[n] == '\0' || host[n] == ':' || host[n] == '/' ||
                                                   host[n] == '?' || host[n] == '#'))
            return 0;
    }
    return -2;
}

/* --------------------------------------------------- strict JSON check -- */
/* json-c, behind host->json_parse, also takes trailing commas, 'single
 * quotes', NaN and True: receivers (Python's json, JavaScript's JSON.parse)
 * refuse those, so a body must also pass this RFC 8259 check. */

typedef struct jcheck {
    const char *s, *p, *end;
    const char *why;
} jcheck;

static void jws(jcheck *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int jfail(jcheck *j, const char *why)
{
    if (!j->why) j->why = why;
    return -1;
}

static int jstring(jcheck *j)
{
    j->p++;  /* the opening quote */
    while (j->p < j->end) {
        unsigned char ch = (unsigned char)*j->p;
        if (ch == '"') {
            j->p++;
            return 0;
        }
        if (ch < 0x20) return jfail(j, "a control character inside a string");
        if (ch == '\\') {
            j->p++;
            if (j->p >= j->end) break;
            char e = *j->p;
            if (e == 'u') {
                for (int k = 1; k <= 4; k++) {
                    char h = j->p + k < j->end ? j->p[k] : '\0';
                    if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F')))
                        return jfail(j, "a bad \\u escape");
                }
                j->p += 5;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || !e) return jfail(j, "a bad escape");
            j->p++;
            continue;
        }
        if (ch < 0x80) {
            j->p++;
            continue;
        }
        size_t n = utf8_seq((const unsigned char *)j->p, (size_t)(j->end - j->p), NULL);
        if (!n) return jfail(j, "invalid UTF-8");
        j->p += n;
    }
    return jfail(j, "an unterminated string");
}

static int jdigits(jcheck *j)
{
    const char *st = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    return j->p > st ? 0 : -1;
}

static int jnumber(jcheck *j)
{
    if (*j->p == '-') j->p++;
    if (j->p < j->end && *j->p == '0') j->p++;
    else if (jdigits(j) < 0) return jfail(j, "a bad number");
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (jdigits(j) < 0) return jfail(j, "a bad number");
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
        if (jdigits(j) < 0) return jfail(j, "a bad number");
    }
    return 0;
}

static int jvalue(jcheck *j, int depth)
{
    jws(j);
    if (j->p >= j->end) return jfail(j, "unexpected end");
    if (depth > JSON_MAX_DEPTH) return jfail(j, "nested too deeply");
    char ch = *j->p;
    if (ch == '"') return jstring(j);
    if (ch == '-' || (ch >= '0' && ch <= '9')) return jnumber(j);
    static const char *const words[] = { "true", "false", "null", NULL };
    for (size_t i = 0; words[i]; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(j->end - j->p) >= n && !strncmp(j->p, words[i], n)) {
            j->p += n;
            return 0;
        }
    }
    if (ch != '{' && ch != '[') return jfail(j, "not a JSON value");
    char close = ch == '{' ? '}' : ']';
    j->p++;
    jws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return 0;
    }
    for (;;) {
        if (close == '}') {
            jws(j);
            if (j->p >= j->end || *j->p != '"') return jfail(j, "an object key that is not a string");
            if (jstring(j) < 0) return -1;
            jws(j);
            if (j->p >= j->end || *j->p != ':') return jfail(j, "':' missing after an object key");
            j->p++;
        }
        if (jvalue(j, depth + 1) < 0) return -1;
        jws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            jws(j);
            if (j->p < j->end && *j->p == close) return jfail(j, "a trailing comma");
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return 0;
        }
        return jfail(j, close == '}' ? "',' or '}' expected" : "',' or ']' expected");
    }
}

/* 0 when text is one strict JSON value; else -1 and a reason with the byte
 * offset and a little of the text there. */
static int json_strict(const char *text, size_t len, char *err, size_t errlen)
{
    jcheck j = { text, text, text + len, NULL };
    if (jvalue(&j, 0) == 0) {
        jws(&j);
        if (j.p == j.end) return 0;
        j.why = "trailing data";
    }
    char near[48];
    utf8_one_line(j.p, (size_t)(j.end - j.p), 30, near, sizeof near);
    snprintf(err, errlen, "%s at byte %zu (near '%s')", j.why, (size_t)(j.p - text), near);
    return -1;
}

/* ------------------------------------------------------------ payloads -- */

/* The body for format "finding": the host's finding JSON in an envelope. */
static int finding_body(hook_ctx *c, const revops_batch *b, const revops_finding *f, const char *id, revops_buf *out)
{
    const revops_host *h = c->host;
    char *fj = h->finding_json(f);
    char *sid = h->json_quote(b->session_id ? b->session_id : "");
    char *pl = h->json_quote(b->pipeline ? b->pipeline : "");
    int rc = -1;
    if (fj && sid && pl) {
        revops_buf_fmt(out, "{\"event\": \"revops.finding\", \"delivery_id\": \"%s\", \"session_id\": %s, "
                            "\"pipeline\": %s, \"finding\": %s}", id, sid, pl, fj);
        rc = out->oom ? -1 : 0;
    }
    if (fj) h->free(fj);
    if (sid) h->free(sid);
    if (pl) h->free(pl);
    return rc;
}

/* The body for format "template": `body` rendered; "delivery_id" added as
 * the first member of an object that has none.  0, -1 out of memory, -2 the
 * rendering is not JSON (why in err). */
static int template_body(hook_ctx *c, const revops_batch *b, const revops_finding *f, const char *id, revops_buf *out,
                         char *err, size_t errlen)
{
    const revops_host *h = c->host;
    char *r = h->render(c->body_tmpl, f, b, REVOPS_ESC_JSON, 0);
    if (!r) return -1;
    size_t len = strlen(r);
    if (json_strict(r, len, err, errlen) < 0) {
        h->free(r);
        return -2;
    }
    char perr[200];
    revops_json *j = h->json_parse(r, len, perr, sizeof perr);
    if (!j) {
        snprintf(err, errlen, "%s", perr);
        h->free(r);
        return -2;
    }
    int object = h->json_type(j) == REVOPS_JSON_OBJECT;
    int has_id = object && h->json_get(j, "delivery_id") != NULL;
    int empty = object && h->json_object_len(j) == 0;
    h->json_free(j);
    if (object && !has_id) {
        const char *brace = strchr(r, '{');   /* the object's own: only whitespace precedes it */
        revops_buf_add(out, r, (size_t)(brace - r) + 1);
        revops_buf_fmt(out, "\"delivery_id\": \"%s\"%s", id, empty ? "" : ", ");
        revops_buf_str(out, brace + 1);
    } else {
        revops_buf_add(out, r, len);
    }
    h->free(r);
    return out->oom ? -1 : 0;
}

/* The signature headers.  The timestamp is signed with the body (as Stripe
 * and Slack do): a receiver that refuses timestamps older than a few minutes
 * cannot be fed a captured request again later (a replay), since changing the
 * timestamp breaks the signature.  It is the wall clock, not host->now():
 * REVOPS_NOW pins the host's clock for analyses, and a pinned clock would make
 * every signature look stale to the receiver.  The host's own retries of one
 * POST resend the same headers, so a retry inside the run keeps the first
 * attempt's timestamp; retries in later runs are signed afresh. */
static void sign(hook_ctx *c, const char *body, size_t len, char *ts_hdr, size_t tlen, char *sig_hdr, size_t slen,
                 revops_buf *scratch)
{
    char ts[32], hex[65];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    revops_buf_str(scratch, ts);
    revops_buf_str(scratch, ".");
    revops_buf_add(scratch, body, len);
    c->host->hmac_sha256_hex(c->secret, strlen(c->secret), revops_buf_cstr(scratch), scratch->len, hex);
    snprintf(ts_hdr, tlen, "X-Revops-Timestamp: %s", ts);
    snprintf(sig_hdr, slen, "X-Revops-Signature: sha256=%s", hex);
}

/* ------------------------------------------------------------- deliver -- */

/* One finding, one POST.  Returns 1 when the host's retries ran out (the
 * endpoint is down or throttling: the caller stops the batch), else 0. */
static int deliver_one(hook_ctx *c, const revops_batch *b, size_t i, revops_delivery *d)
{
    const revops_host *h = c->host;
    const revops_finding *f = b->findings[i];
    const char *acct = f->account_id ? f->account_id : "?";
    /* The delivery id (1.4): the same for this finding and this action
     * instance on every retry and rerun.  A 1.4 host always gives one; the
     * fingerprint's first 32 characters stand in should it not. */
    char id[33];
    const char *given = h->abi_minor >= 4 && b->delivery_ids ? b->delivery_ids[i] : NULL;
    snprintf(id, sizeof id, "%s", given && *given ? given : f->fingerprint);

    revops_buf body = { 0 };
    char err[200];
    int rc = c->body_tmpl ? template_body(c, b, f, id, &body, err, sizeof err) : finding_body(c, b, f, id, &body);
    if (rc == -2) {
        set_result(d, REVOPS_ERROR, "option 'body' renders to invalid JSON for account %.40s: %s", acct, err);
        revops_buf_free(&body);
        return 0;
    }
    if (rc < 0) {
        set_result(d, REVOPS_RETRY, "out of memory building the request for account %.40s", acct);
        revops_buf_free(&body);
        return 0;
    }
    if (!c->body_tmpl && json_strict(body.p, body.len, err, sizeof err) < 0) {
        set_result(d, REVOPS_ERROR, "the finding's JSON for account %.40s is not valid: %s", acct, err);
        revops_buf_free(&body);
        return 0;
    }

    char idem[64], ts_hdr[64], sig_hdr[96];
    snprintf(idem, sizeof idem, "Idempotency-Key: %s", id);
    revops_buf scratch = { 0 };
    if (c->secret) sign(c, body.p, body.len, ts_hdr, sizeof ts_hdr, sig_hdr, sizeof sig_hdr, &scratch);
    const char **hdrs = calloc(c->nheaders + 6, sizeof *hdrs);
    if (!hdrs || scratch.oom) {
        set_result(d, REVOPS_RETRY, "out of memory building the request for account %.40s", acct);
        free(hdrs);
        revops_buf_free(&scratch);
        revops_buf_free(&body);
        return 0;
    }
    size_t k = 0;
    hdrs[k++] = "Content-Type: application/json";
    hdrs[k++] = "Accept: application/json";
    hdrs[k++] = idem;
    if (c->secret) {
        hdrs[k++] = ts_hdr;
        hdrs[k++] = sig_hdr;
    }
    for (size_t x = 0; x < c->nheaders; x++) hdrs[k++] = c->headers[x];
    hdrs[k] = NULL;

    /* A catch hook's path is its credential: the host logs only the
     * origin (1.5). */
    revops_http_request req = { .method = "POST", .url = c->url, .headers = hdrs, .body = body.p,
                                .body_len = body.len, .timeout = c->timeout, .flags = REVOPS_HTTP_SECRET_URL };
    revops_http_response resp;
    memset(&resp, 0, sizeof resp);
    revops_status st = h->http(c->self, &req, &resp);
    free(hdrs);
    revops_buf_free(&scratch);
    revops_buf_free(&body);

    int stop = 0;
    char answer[ANSWER_MAX + 8];
    utf8_one_line(resp.body ? resp.body : "", resp.body ? resp.body_len : 0, ANSWER_MAX, answer, sizeof answer);
    long s = resp.status;
    int attempts = resp.attempts;
    if (st == REVOPS_OK && s >= 200 && s < 300) {
        d->status = REVOPS_OK;
        d->message[0] = '\0';
        h->log(c->self, REVOPS_LOG_DEBUG, "finding %.12s (account %.40s) delivered as %s: HTTP %ld%s%s", f->fingerprint,
               acct, id, s, *answer ? ": " : "", answer);
    } else if (st == REVOPS_OK && (s == 408 || s == 429 || s >= 500)) {
        set_result(d, REVOPS_RETRY, "HTTP %ld after %d attempt%s: %s", s, attempts, attempts == 1 ? "" : "s",
                   *answer ? answer : "(no answer body)");
    } else if (st == REVOPS_OK && s == 401 && c->secret && attempts > 1) {
        /* The host resent the first attempt's timestamp (after a 429's
         * Retry-After, say): the receiver may have found it too old.  The
         * core's retry signs afresh. */
        set_result(d, REVOPS_RETRY, "HTTP 401 on attempt %d: the signature's timestamp may have gone stale during "
                   "the retries; signing again: %s", attempts, *answer ? answer : "(no answer body)");
    } else if (st == REVOPS_OK && s >= 300 && s < 400) {
        set_result(d, REVOPS_ERROR, "HTTP %ld: a redirect, not followed (point url at the final address)", s);
    } else if (st == REVOPS_OK) {
        set_result(d, REVOPS_ERROR, "HTTP %ld: %s", s, *answer ? answer : "(no answer body)");
    } else if (s > 0) {
        /* RETRY (or ERROR) with a status: 429 / 5xx through every retry */
        set_result(d, st, "HTTP %ld after %d attempt%s (the endpoint's retries ran out): %s", s, attempts,
                   attempts == 1 ? "" : "s", *answer ? answer : "(no answer body)");
        stop = st == REVOPS_RETRY;
    } else {
        char why[sizeof d->message];
        redacted_host_error(c, why, sizeof why);
        set_result(d, st == REVOPS_RETRY ? REVOPS_RETRY : REVOPS_ERROR, "%s", why);
        stop = st == REVOPS_RETRY;
    }
    h->http_free(&resp);
    return stop;
}

static revops_status hook_deliver(void *ctx, const revops_batch *batch, revops_delivery *results)
{
    hook_ctx *c = ctx;
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
    /* Not sent: the deadline passed, or the endpoint stayed down or
     * throttled through the host's retries for an earlier finding. */
    for (size_t k = i; k < batch->nfindings; k++) set_result(&results[k], REVOPS_RETRY, "%s", why);
    return REVOPS_OK;
}

/* ----------------------------------------------------------- lifecycle -- */

static void hook_close(void *ctx)
{
    hook_ctx *c = ctx;
    if (!c) return;
    for (size_t i = 0; i < c->nheaders; i++) {
        if (!c->headers[i]) continue;
        revops_wipe(c->headers[i], strlen(c->headers[i]));
        free(c->headers[i]);
    }
    free(c->headers);
    if (c->url_path) {
        revops_wipe(c->url_path, strlen(c->url_path));
        free(c->url_path);
    }
    free(c);
}

static int is_token_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int is_secret_ref(const char *v)
{
    return !strncmp(v, "env:", 4) || !strncmp(v, "file:", 5) || !strncmp(v, "aws-secretsmanager:", 19);
}

/* One `header` entry -> "Name: value" in *out.  A value that is a secret
 * reference, or a word and a reference ("Bearer env:ZAPIER_TOKEN"), is
 * resolved here.  The value is never shown: headers hold bearer tokens. */
static revops_status parse_header(hook_ctx *c, size_t n, const char *item, char **out)
{
    const revops_host *h = c->host;
    const char *colon = strchr(item, ':');
    size_t nl = colon ? (size_t)(colon - item) : 0;
    for (size_t i = 0; i < nl; i++)
        if (!is_token_char(item[i])) nl = 0;
    if (!nl) {
        h->error(c->self, "option header, entry %zu: write it as \"Name: value\" (a header name is letters, digits "
                          "and - only; the value is not shown)", n + 1);
        return REVOPS_ERROR;
    }
    for (size_t r = 0; RESERVED[r]; r++)
        if (strlen(RESERVED[r]) == nl && !strncasecmp(item, RESERVED[r], nl)) {
            h->error(c->self, "option header, entry %zu: %s is set by the webhook action itself", n + 1, RESERVED[r]);
            return REVOPS_ERROR;
        }
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t') v++;
    /* "ref" or "word ref" */
    size_t prefix = 0;
    const char *ref = NULL;
    if (is_secret_ref(v)) {
        ref = v;
    } else {
        size_t w = strcspn(v, " ");
        if (v[w] == ' ' && is_secret_ref(v + w + 1)) {
            prefix = w + 1;
            ref = v + w + 1;
        }
    }
    char *resolved = NULL;
    if (ref && h->secret(c->self, ref, &resolved) != REVOPS_OK) {
        char why[300];
        snprintf(why, sizeof why, "%s", h->last_error ? h->last_error(c->self) : "");
        h->error(c->self, "option header, entry %zu (%.*s): %s", n + 1, (int)nl, item, why);
        return REVOPS_ERROR;
    }
    const char *rest = resolved ? resolved : v + prefix;
    revops_status st = REVOPS_OK;
    int bad = 0;
    for (const char *p = v; p < v + prefix; p++) bad |= (unsigned char)*p < 0x20 || *p == 0x7f;
    for (const char *p = rest; *p; p++) bad |= ((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f;
    if (bad) {
        h->error(c->self, "option header, entry %zu (%.*s): the value holds a line break or control character "
                          "(not shown)", n + 1, (int)nl, item);
        st = REVOPS_ERROR;
    } else {
        size_t len = nl + 2 + prefix + strlen(rest) + 1;
        if ((*out = malloc(len))) snprintf(*out, len, "%.*s: %.*s%s", (int)nl, item, (int)prefix, v, rest);
        else {
            h->error(c->self, "out of memory");
            st = REVOPS_ERROR;
        }
    }
    if (resolved) h->secret_free(resolved);
    return st;
}

static revops_status hook_open(revops_instance *self, const revops_host *host, const revops_options *opts, void **ctx)
{
    if (host->abi_minor < 4 || host->size < offsetof(revops_host, hmac_sha256_hex) + sizeof host->hmac_sha256_hex ||
        !host->render || !host->hmac_sha256_hex || !host->last_error || !host->json_object_len) {
        host->error(self, "the webhook action needs a revops host with ABI 1.4 or later (templates, HMAC-SHA256)");
        return REVOPS_ERROR;
    }
    hook_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        host->error(self, "out of memory");
        return REVOPS_ERROR;
    }
    c->self = self;
    c->host = host;
    c->url = host->opt_string(opts, "url");
    int allow_http = host->opt_bool(opts, "allow_http");
    int uc = c->url ? url_check(c->url, allow_http, c->origin, sizeof c->origin) : -1;
    if (uc == -1) {
        host->error(self, "option url must be an https:// URL such as https://hooks.zapier.com/hooks/catch/... "
                          "(the value is a secret and is not shown)");
        hook_close(c);
        return REVOPS_ERROR;
    }
    if (uc == -2) {
        host->error(self, "option url (%s) is plain http:// to a host other than 127.0.0.1, localhost or [::1]: the "
                          "findings and the signature would cross the network unencrypted; use https:// or set "
                          "allow_http = true", c->origin);
        hook_close(c);
        return REVOPS_ERROR;
    }
    if (allow_http && !strncasecmp(c->url, "http://", 7))
        host->log(self, REVOPS_LOG_WARN, "%s is plain http (allow_http = true): findings cross the network unencrypted",
                  c->origin);
    size_t pl = strcspn(c->url, "?#");
    if (!(c->url_path = malloc(pl + 1))) {
        host->error(self, "out of memory");
        hook_close(c);
        return REVOPS_ERROR;
    }
    memcpy(c->url_path, c->url, pl);
    c->url_path[pl] = '\0';

    c->secret = host->opt_string(opts, "secret");
    if (c->secret && !*c->secret) {
        host->error(self, "option secret is empty (a signing secret: env:NAME or file:/path)");
        hook_close(c);
        return REVOPS_ERROR;
    }
    const char *format = host->opt_string(opts, "format");
    int body_set = host->opt_is_set(opts, "body"), format_set = host->opt_is_set(opts, "format");
    if (body_set && format_set && format && !strcmp(format, "finding")) {
        host->error(self, "option body is set but format = \"finding\" sends the finding's JSON: set format = "
                          "\"template\" (or leave format out) to send the body template");
        hook_close(c);
        return REVOPS_ERROR;
    }
    if ((format && !strcmp(format, "template")) || (body_set && !format_set))
        c->body_tmpl = host->opt_string(opts, "body");
    c->timeout = host->opt_real(opts, "timeout");

    size_t nh = host->opt_list_len(opts, "header");
    if (nh && !(c->headers = calloc(nh, sizeof *c->headers))) {
        host->error(self, "out of memory");
        hook_close(c);
        return REVOPS_ERROR;
    }
    for (size_t i = 0; i < nh; i++) {
        const char *item = host->opt_list_item(opts, "header", i);
        if (parse_header(c, i, item ? item : "", &c->headers[i]) != REVOPS_OK) {
            hook_close(c);
            return REVOPS_ERROR;
        }
        c->nheaders++;
    }
    *ctx = c;
    return REVOPS_OK;
}

/* ---------------------------------------------------------- descriptor -- */

static const revops_action_vtable vtable = {
    .open = hook_open,
    .deliver = hook_deliver,
    .close = hook_close,
};

static const char *const formats[] = { "finding", "template", NULL };

static const revops_option_def options[] = {
    { "url", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 1,
      "the endpoint, e.g. a Zapier catch hook https://hooks.zapier.com/hooks/catch/...; env:NAME or file:/path" },
    { "allow_http", REVOPS_OPT_BOOL, 0, "false", 0, 0, NULL, 0,
      "allow a plain http:// url to a host other than the loopback interface" },
    { "format", REVOPS_OPT_ENUM, 0, "finding", 0, 0, formats, 0,
      "finding: {event, delivery_id, session_id, pipeline, finding}; template: the body template" },
    { "body", REVOPS_OPT_TEMPLATE, 0, DEFAULT_BODY, 0, 0, NULL, 0,
      "JSON body template (values JSON-escaped; delivery_id added); setting it implies format = \"template\"" },
    { "secret", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 1,
      "signing secret: X-Revops-Signature: sha256=HMAC-SHA256(secret, timestamp.body), X-Revops-Timestamp" },
    { "header", REVOPS_OPT_LIST, 0, NULL, 0, 0, NULL, 1,
      "extra headers \"Name: value\"; a value (or its last word: \"Bearer env:TOKEN\") env:NAME or file:/path is resolved" },
    { "timeout", REVOPS_OPT_REAL, 0, "30", 1, 600, NULL, 0,
      "seconds for one HTTP exchange (the run's deadline still applies)" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_ACTION, "webhook", "1.0.0",
    "a JSON POST per finding (Zapier catch hooks and others), idempotency key, optional HMAC-SHA256 signature",
    options, { .action = &vtable }
};
