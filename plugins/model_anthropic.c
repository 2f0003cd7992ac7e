/*
 * model "anthropic": one conversation turn through Anthropic's Messages API.
 *
 * Followed (Anthropic's public documentation):
 *   - Create a Message, https://platform.claude.com/docs/en/api/messages
 *     POST {base_url}/v1/messages with the headers x-api-key, anthropic-version
 *     (2023-06-01) and content-type: application/json.  Body: model, max_tokens
 *     (required), system (a top-level string, not a message), messages [{role:
 *     "user" | "assistant", content: [blocks]}], tools [{name, description,
 *     input_schema (a JSON Schema object)}], temperature (0.0 .. 1.0).  Answer:
 *     {id, type: "message", role: "assistant", model, content: [{type: "text",
 *     text} | {type: "tool_use", id, name, input (an object)}], stop_reason,
 *     stop_sequence, usage: {input_tokens, output_tokens,
 *     cache_creation_input_tokens, cache_read_input_tokens}}.
 *   - Tool use, https://platform.claude.com/docs/en/agents-and-tools/tool-use/handle-tool-calls
 *     (and .../implement-tool-use): the assistant's tool_use blocks are answered
 *     in the next user message by {type: "tool_result", tool_use_id, content,
 *     is_error}; the tool_result blocks come first in that message's content,
 *     any text after them.  So within a user message this plugin sends the
 *     tool results first, then the other blocks, each group in its order.
 *   - Stop reasons (same page, "stop_reason"): end_turn, stop_sequence ->
 *     END_TURN; tool_use -> TOOL_USE; max_tokens, model_context_window_exceeded
 *     -> MAX_TOKENS; refusal, pause_turn and anything newer -> OTHER.
 *   - Errors, https://platform.claude.com/docs/en/api/errors
 *     {"type": "error", "error": {"type", "message"}, "request_id"}: 400
 *     invalid_request_error, 401 authentication_error, 403 permission_error,
 *     404 not_found_error, 413 request_too_large, 429 rate_limit_error (with
 *     retry-after), 500 api_error, 529 overloaded_error.
 *
 * The host owns the retries (429 honouring retry-after, 5xx, timeouts).  A
 * final non-2xx is ERROR "HTTP <status> <error.type>: <error.message>"; RETRY
 * from the host (throttled or unavailable through every retry) is RETRY with
 * the API's own message.  529 overloaded_error is transient by the docs; the
 * host retries it (revops 0.1 core/http.c), and should an older host hand it
 * back as a final status, this plugin returns RETRY for it all the same.
 *
 * Not used: streaming, prompt caching, extended thinking, tool_choice, stop
 * sequences.  json_answer is not sent anywhere: the Messages API has no JSON
 * mode in version 2023-06-01, and prefilling the answer would change the
 * conversation the core wrote; the core's prompt asks for JSON itself.
 * The API key (a sensitive option) never appears in a message or a log line.
 */
#include <revops/revops.h>

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MESSAGES_PATH "/v1/messages"
#define JSON_MAX_DEPTH 64

typedef struct anth_ctx {
    revops_instance *self;
    const revops_host *host;
    char *key_header;          /* "x-api-key: ..." (secret; wiped on close) */
    char *version_header;      /* "anthropic-version: ..." */
    char *url;                 /* base_url + /v1/messages */
    const char *model;
    int64_t max_tokens;
    double timeout;
    /* The last reply: valid until the next complete() or close(). */
    revops_block *blocks;
    size_t nblocks;
    char **strs;               /* every string the reply points to */
    size_t nstrs, capstrs;
} anth_ctx;

/* ------------------------------------------------------------ helpers -- */

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

/* A parsed JSON value written back as compact JSON text.  -1 when nested
 * deeper than JSON_MAX_DEPTH. */
static int json_write(const revops_host *h, revops_buf *b, revops_json *j, int depth)
{
    if (depth > JSON_MAX_DEPTH) return -1;
    switch (j ? h->json_type(j) : REVOPS_JSON_NULL) {
    case REVOPS_JSON_NULL:
        revops_buf_str(b, "null");
        return 0;
    case REVOPS_JSON_BOOL:
        revops_buf_str(b, h->json_int(j) ? "true" : "false");
        return 0;
    case REVOPS_JSON_INT:
        revops_buf_fmt(b, "%lld", (long long)h->json_int(j));
        return 0;
    case REVOPS_JSON_REAL: {
        double v = h->json_real(j);
        if (!isfinite(v)) {
            revops_buf_str(b, "null");
            return 0;
        }
        char num[40];
        snprintf(num, sizeof num, "%.15g", v);
        if (strtod(num, NULL) != v) snprintf(num, sizeof num, "%.17g", v);
        /* keep it a number JSON readers take as real: 1e+20, 2.5, 3.0 */
        if (!strpbrk(num, ".eEn")) strcat(num, ".0");
        revops_buf_str(b, num);
        return 0;
    }
    case REVOPS_JSON_STRING:
        add_quoted(h, b, h->json_string(j));
        return 0;
    case REVOPS_JSON_ARRAY:
        revops_buf_str(b, "[");
        for (size_t i = 0; i < h->json_len(j); i++) {
            if (i) revops_buf_str(b, ",");
            if (json_write(h, b, h->json_index(j, i), depth + 1) < 0) return -1;
        }
        revops_buf_str(b, "]");
        return 0;
    case REVOPS_JSON_OBJECT:
        revops_buf_str(b, "{");
        for (size_t i = 0; i < h->json_object_len(j); i++) {
            if (i) revops_buf_str(b, ",");
            add_quoted(h, b, h->json_object_key(j, i));
            revops_buf_str(b, ":");
            if (json_write(h, b, h->json_object_value(j, i), depth + 1) < 0) return -1;
        }
        revops_buf_str(b, "}");
        return 0;
    }
    return -1;
}

/* Append `text`, which must be one JSON object, as JSON (re-written, so the
 * body is valid JSON whatever the lenient parser accepted).  NULL or blank
 * text is `dflt`.  -1 with why[] filled when it is not an object. */
static int add_json_object(const revops_host *h, revops_buf *b, const char *text, const char *dflt, char *why,
                           size_t whylen)
{
    const char *t = text ? text : "";
    t += strspn(t, " \t\r\n");
    if (!*t) t = dflt;
    char err[160] = "";
    revops_json *root = h->json_parse(t, strlen(t), err, sizeof err);
    if (!root) {
        snprintf(why, whylen, "is not JSON (%s)", err);
        return -1;
    }
    int rc = 0;
    if (h->json_type(root) != REVOPS_JSON_OBJECT) {
        snprintf(why, whylen, "is %s, not a JSON object", revops_json_type_name(h->json_type(root)));
        rc = -1;
    } else if (json_write(h, b, root, 0) < 0) {
        snprintf(why, whylen, "is nested deeper than %d levels", JSON_MAX_DEPTH);
        rc = -1;
    }
    h->json_free(root);
    return rc;
}

/* The first 200 bytes of a body on one line, for messages. */
static void body_start(const revops_http_response *r, char *out, size_t n)
{
    size_t k = 0;
    if (!r->body || !r->body_len) {
        snprintf(out, n, "(empty body)");
        return;
    }
    for (size_t i = 0; i < r->body_len && i < 200 && k + 1 < n; i++) {
        char ch = r->body[i];
        out[k++] = ch == '\n' || ch == '\r' || ch == '\t' || ch == '\0' ? ' ' : ch;
    }
    out[k] = '\0';
    if (r->body_len > 200 && k + 4 < n) strcat(out, "...");
}

/* ------------------------------------------------------------- replies -- */

static void reply_reset(anth_ctx *c)
{
    for (size_t i = 0; i < c->nstrs; i++) free(c->strs[i]);
    free(c->strs);
    free(c->blocks);
    c->strs = NULL;
    c->blocks = NULL;
    c->nstrs = c->capstrs = c->nblocks = 0;
}

/* A copy of s owned by the current reply; NULL when out of memory. */
static const char *keep(anth_ctx *c, const char *s, size_t len)
{
    if (c->nstrs == c->capstrs) {
        size_t cap = c->capstrs ? c->capstrs * 2 : 16;
        char **p = realloc(c->strs, cap * sizeof *p);
        if (!p) return NULL;
        c->strs = p;
        c->capstrs = cap;
    }
    char *d = malloc(len + 1);
    if (!d) return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    c->strs[c->nstrs++] = d;
    return d;
}

static const char *keep_str(anth_ctx *c, const char *s)
{
    return keep(c, s ? s : "", s ? strlen(s) : 0);
}

/* --------------------------------------------------------- the request -- */

static const char *role_name(revops_role r)
{
    return r == REVOPS_ROLE_ASSISTANT ? "assistant" : "user";
}

/* One block as an Anthropic content block.  0, or -1 with why[] filled. */
static int add_block(const revops_host *h, revops_buf *b, const revops_block *blk, int *first, char *why,
                     size_t whylen)
{
    switch (blk->type) {
    case REVOPS_BLOCK_TEXT:
        /* The API refuses empty text blocks; an empty one carries nothing. */
        if (!blk->text || !*blk->text) return 0;
        revops_buf_str(b, *first ? "{\"type\":\"text\",\"text\":" : ",{\"type\":\"text\",\"text\":");
        add_quoted(h, b, blk->text);
        revops_buf_str(b, "}");
        break;
    case REVOPS_BLOCK_TOOL_USE:
        revops_buf_str(b, *first ? "{\"type\":\"tool_use\",\"id\":" : ",{\"type\":\"tool_use\",\"id\":");
        add_quoted(h, b, blk->id);
        revops_buf_str(b, ",\"name\":");
        add_quoted(h, b, blk->name);
        revops_buf_str(b, ",\"input\":");
        if (add_json_object(h, b, blk->input_json, "{}", why, whylen) < 0) return -1;
        revops_buf_str(b, "}");
        break;
    case REVOPS_BLOCK_TOOL_RESULT:
        revops_buf_str(b, *first ? "{\"type\":\"tool_result\",\"tool_use_id\":"
                                 : ",{\"type\":\"tool_result\",\"tool_use_id\":");
        add_quoted(h, b, blk->id);
        revops_buf_str(b, ",\"content\":");
        add_quoted(h, b, blk->text);
        revops_buf_fmt(b, ",\"is_error\":%s}", blk->is_error ? "true" : "false");
        break;
    default:
        snprintf(why, whylen, "has an unknown block type %d", (int)blk->type);
        return -1;
    }
    *first = 0;
    return 0;
}

/* Check what the provider cannot take, before anything is sent. */
static int check_request(anth_ctx *c, const revops_model_request *req)
{
    const revops_host *h = c->host;
    if (!req->nmessages || !req->messages) {
        h->error(c->self, "Anthropic Messages API: the request has no messages");
        return -1;
    }
    for (size_t i = 0; i < req->nmessages; i++) {
        const revops_message *m = &req->messages[i];
        if (m->role != REVOPS_ROLE_USER && m->role != REVOPS_ROLE_ASSISTANT) {
            h->error(c->self, "Anthropic Messages API: message %zu has an unknown role %d", i, (int)m->role);
            return -1;
        }
        for (size_t k = 0; k < m->nblocks; k++) {
            const revops_block *blk = &m->blocks[k];
            const char *bad = NULL;
            if (blk->type == REVOPS_BLOCK_TOOL_USE && m->role != REVOPS_ROLE_ASSISTANT)
                bad = "is a tool use in a user message (only the assistant calls tools)";
            else if (blk->type == REVOPS_BLOCK_TOOL_RESULT && m->role != REVOPS_ROLE_USER)
                bad = "is a tool result in an assistant message (results come from the user side)";
            else if (blk->type == REVOPS_BLOCK_TOOL_USE && (!blk->id || !*blk->id || !blk->name || !*blk->name))
                bad = "is a tool use without an id or a tool name";
            else if (blk->type == REVOPS_BLOCK_TOOL_RESULT && (!blk->id || !*blk->id))
                bad = "is a tool result without the id of the call it answers";
            if (bad) {
                h->error(c->self, "Anthropic Messages API: message %zu block %zu %s", i, k, bad);
                return -1;
            }
        }
    }
    for (size_t t = 0; t < req->ntools; t++) {
        if (!req->tools || !req->tools[t].name || !*req->tools[t].name) {
            h->error(c->self, "Anthropic Messages API: tool %zu has no name", t);
            return -1;
        }
    }
    return 0;
}

static int build_body(anth_ctx *c, const revops_model_request *req, revops_buf *b)
{
    const revops_host *h = c->host;
    char why[240];
    revops_buf_str(b, "{\"model\":");
    add_quoted(h, b, c->model);
    revops_buf_fmt(b, ",\"max_tokens\":%lld", (long long)(req->max_tokens > 0 ? req->max_tokens : c->max_tokens));
    if (req->system && *req->system) {
        revops_buf_str(b, ",\"system\":");
        add_quoted(h, b, req->system);
    }
    revops_buf_str(b, ",\"messages\":[");
    for (size_t i = 0; i < req->nmessages; i++) {
        const revops_message *m = &req->messages[i];
        revops_buf_fmt(b, "%s{\"role\":\"%s\",\"content\":[", i ? "," : "", role_name(m->role));
        int first = 1;
        /* tool results first (the API's rule), then everything else */
        for (int pass = 0; pass < 2; pass++) {
            for (size_t k = 0; k < m->nblocks; k++) {
                const revops_block *blk = &m->blocks[k];
                if ((blk->type == REVOPS_BLOCK_TOOL_RESULT) != (pass == 0)) continue;
                if (add_block(h, b, blk, &first, why, sizeof why) < 0) {
                    h->error(c->self, "Anthropic Messages API: message %zu block %zu: the tool input %s", i, k, why);
                    return -1;
                }
            }
        }
        revops_buf_str(b, "]}");
    }
    revops_buf_str(b, "]");
    if (req->ntools) {
        revops_buf_str(b, ",\"tools\":[");
        for (size_t t = 0; t < req->ntools; t++) {
            const revops_tool *tool = &req->tools[t];
            revops_buf_str(b, t ? ",{\"name\":" : "{\"name\":");
            add_quoted(h, b, tool->name);
            if (tool->description && *tool->description) {
                revops_buf_str(b, ",\"description\":");
                add_quoted(h, b, tool->description);
            }
            revops_buf_str(b, ",\"input_schema\":");
            if (add_json_object(h, b, tool->input_schema, "{\"type\":\"object\",\"properties\":{}}", why,
                                sizeof why) < 0) {
                h->error(c->self, "Anthropic Messages API: the input schema of tool '%s' %s", tool->name, why);
                return -1;
            }
            revops_buf_str(b, "}");
        }
        revops_buf_str(b, "]");
    }
    if (req->temperature >= 0 && isfinite(req->temperature)) {
        char num[40];
        snprintf(num, sizeof num, "%.15g", req->temperature);
        if (strtod(num, NULL) != req->temperature) snprintf(num, sizeof num, "%.17g", req->temperature);
        revops_buf_fmt(b, ",\"temperature\":%s", num);
    }
    revops_buf_str(b, "}");
    if (b->oom) {
        h->error(c->self, "Anthropic Messages API: out of memory building the request");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------- the answer -- */

/* The API's error body: type, message and request id ("" when absent), or
 * the start of the body when it is not Anthropic's error shape. */
static void api_error(const revops_host *h, const revops_http_response *r, char *type, size_t tn, char *msg,
                      size_t mn)
{
    snprintf(type, tn, "(no error type)");
    revops_json *root = r->body && r->body_len ? h->json_parse(r->body, r->body_len, NULL, 0) : NULL;
    const char *t = str_member(h, root, "error.type");
    const char *m = str_member(h, root, "error.message");
    const char *rid = str_member(h, root, "request_id");
    if (t || m) {
        if (t) snprintf(type, tn, "%s", t);
        snprintf(msg, mn, "%s%s%s%s", m ? m : "(no message)", rid ? " (request_id " : "", rid ? rid : "",
                 rid ? ")" : "");
    } else {
        char start[220];
        body_start(r, start, sizeof start);
        snprintf(msg, mn, "not Anthropic's error format: %s", start);
    }
    if (root) h->json_free(root);
}

static revops_stop_reason map_stop(const char *s)
{
    if (!s) return REVOPS_STOP_OTHER;
    if (!strcmp(s, "end_turn") || !strcmp(s, "stop_sequence")) return REVOPS_STOP_END_TURN;
    if (!strcmp(s, "tool_use")) return REVOPS_STOP_TOOL_USE;
    if (!strcmp(s, "max_tokens") || !strcmp(s, "model_context_window_exceeded")) return REVOPS_STOP_MAX_TOKENS;
    return REVOPS_STOP_OTHER;   /* refusal, pause_turn, ... */
}

static int64_t usage_member(const revops_host *h, revops_json *usage, const char *name)
{
    revops_json *v = usage ? h->json_get(usage, name) : NULL;
    return is_type(h, v, REVOPS_JSON_INT) ? h->json_int(v) : -1;
}

static revops_status not_a_message(anth_ctx *c, const revops_http_response *r, const char *what)
{
    char start[220];
    body_start(r, start, sizeof start);
    c->host->error(c->self, "Anthropic Messages API: the answer (HTTP %ld) is not an Anthropic message (%s): %s",
                   r->status, what, start);
    return REVOPS_ERROR;
}

static revops_status parse_reply(anth_ctx *c, const revops_http_response *r, revops_model_reply *reply)
{
    const revops_host *h = c->host;
    char err[160] = "";
    revops_json *root = r->body && r->body_len ? h->json_parse(r->body, r->body_len, err, sizeof err) : NULL;
    if (!root) return not_a_message(c, r, *err ? err : "empty body");
    revops_status st = REVOPS_ERROR;
    const char *type = str_member(h, root, "type");
    revops_json *content = h->json_get(root, "content");
    if (h->json_type(root) != REVOPS_JSON_OBJECT) {
        not_a_message(c, r, "not a JSON object");
        goto out;
    }
    if (type && !strcmp(type, "error")) {
        char et[80], em[600];
        api_error(h, r, et, sizeof et, em, sizeof em);
        h->error(c->self, "Anthropic Messages API: HTTP %ld %s: %s", r->status, et, em);
        goto out;
    }
    if (!type || strcmp(type, "message") != 0 || !is_type(h, content, REVOPS_JSON_ARRAY)) {
        not_a_message(c, r, !is_type(h, content, REVOPS_JSON_ARRAY) ? "no content array" : "type is not \"message\"");
        goto out;
    }
    size_t n = h->json_len(content);
    c->blocks = calloc(n ? n : 1, sizeof *c->blocks);
    if (!c->blocks) {
        h->error(c->self, "Anthropic Messages API: out of memory reading the answer");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        revops_json *blk = h->json_index(content, i);
        const char *bt = str_member(h, blk, "type");
        revops_block *ob = &c->blocks[c->nblocks];
        if (bt && !strcmp(bt, "text")) {
            const char *text = str_member(h, blk, "text");
            if (!text) {
                not_a_message(c, r, "a text block without text");
                goto out;
            }
            ob->type = REVOPS_BLOCK_TEXT;
            if (!(ob->text = keep_str(c, text))) goto oom;
        } else if (bt && !strcmp(bt, "tool_use")) {
            const char *id = str_member(h, blk, "id"), *name = str_member(h, blk, "name");
            revops_json *input = h->json_get(blk, "input");
            if (!id || !name || !is_type(h, input, REVOPS_JSON_OBJECT)) {
                not_a_message(c, r, "a tool_use block without id, name or an input object");
                goto out;
            }
            revops_buf in = { 0 };
            if (json_write(h, &in, input, 0) < 0) {
                revops_buf_free(&in);
                not_a_message(c, r, "a tool input nested too deep");
                goto out;
            }
            ob->type = REVOPS_BLOCK_TOOL_USE;
            ob->id = keep_str(c, id);
            ob->name = keep_str(c, name);
            ob->input_json = in.oom ? NULL : keep(c, revops_buf_cstr(&in), in.len);
            revops_buf_free(&in);
            if (!ob->id || !ob->name || !ob->input_json) goto oom;
        } else {
            /* thinking, server tools, ...: nothing this contract carries */
            h->log(c->self, REVOPS_LOG_DEBUG, "answer block %zu of type '%s' left out", i, bt ? bt : "(none)");
            continue;
        }
        c->nblocks++;
    }
    const char *stop = str_member(h, root, "stop_reason");
    const char *model = str_member(h, root, "model");
    revops_json *usage = h->json_get(root, "usage");
    reply->blocks = c->blocks;
    reply->nblocks = c->nblocks;
    reply->stop = map_stop(stop);
    reply->input_tokens = usage_member(h, usage, "input_tokens");
    /* cached prompt tokens are counted apart from input_tokens */
    int64_t cw = usage_member(h, usage, "cache_creation_input_tokens"), cr = usage_member(h, usage, "cache_read_input_tokens");
    if (reply->input_tokens >= 0 && cw > 0) reply->input_tokens += cw;
    if (reply->input_tokens >= 0 && cr > 0) reply->input_tokens += cr;
    reply->output_tokens = usage_member(h, usage, "output_tokens");
    reply->model = keep_str(c, model ? model : c->model);
    if (!reply->model) goto oom;
    h->log(c->self, REVOPS_LOG_DEBUG, "model %s: %lld tokens in, %lld out, stop %s, %zu block%s", reply->model,
           (long long)reply->input_tokens, (long long)reply->output_tokens, stop ? stop : "(none)", reply->nblocks,
           reply->nblocks == 1 ? "" : "s");
    st = REVOPS_OK;
    goto out;
oom:
    h->error(c->self, "Anthropic Messages API: out of memory reading the answer");
out:
    h->json_free(root);
    return st;
}

/* ------------------------------------------------------------ complete -- */

static revops_status anth_complete(void *ctx, const revops_model_request *req, revops_model_reply *reply)
{
    anth_ctx *c = ctx;
    const revops_host *h = c->host;
    reply_reset(c);
    memset(reply, 0, sizeof *reply);
    reply->stop = REVOPS_STOP_OTHER;
    reply->input_tokens = reply->output_tokens = -1;
    if (!req) {
        h->error(c->self, "Anthropic Messages API: no request");
        return REVOPS_ERROR;
    }
    if (check_request(c, req) < 0) return REVOPS_ERROR;
    revops_buf body = { 0 };
    if (build_body(c, req, &body) < 0) {
        revops_buf_free(&body);
        return REVOPS_ERROR;
    }
    const char *headers[] = { c->key_header, c->version_header, "content-type: application/json",
                              "accept: application/json", NULL };
    revops_http_request hr = { .method = "POST", .url = c->url, .headers = headers, .body = body.p,
                               .body_len = body.len, .timeout = c->timeout };
    revops_http_response resp;
    memset(&resp, 0, sizeof resp);
    revops_status st = h->http(c->self, &hr, &resp);
    revops_buf_free(&body);

    char et[80], em[600];
    if (st == REVOPS_OK && resp.status >= 200 && resp.status < 300) {
        st = parse_reply(c, &resp, reply);
    } else if (st == REVOPS_OK && resp.status == 529) {
        /* overloaded_error: transient by the docs, whatever the host retried */
        api_error(h, &resp, et, sizeof et, em, sizeof em);
        h->error(c->self, "Anthropic Messages API: HTTP %ld %s: %s (transient; after %d attempt%s)", resp.status,
                 et, em, resp.attempts, resp.attempts == 1 ? "" : "s");
        st = REVOPS_RETRY;
    } else if (st == REVOPS_OK) {
        api_error(h, &resp, et, sizeof et, em, sizeof em);
        h->error(c->self, "Anthropic Messages API: HTTP %ld %s: %s%s", resp.status, et, em,
                 resp.status == 401 ? " (check the api_key option)"
                 : resp.status == 404 ? " (check the model and base_url options)" : "");
        st = REVOPS_ERROR;
    } else if (resp.status > 0) {
        /* RETRY: 429 / 5xx through every retry; the API's last word */
        api_error(h, &resp, et, sizeof et, em, sizeof em);
        h->error(c->self, "Anthropic Messages API: HTTP %ld %s: %s (%s after %d attempt%s)", resp.status, et, em,
                 st == REVOPS_RETRY ? "transient; retries exhausted" : "failed", resp.attempts,
                 resp.attempts == 1 ? "" : "s");
    } else {
        /* no HTTP answer: timeout, connection or TLS failure (the host said which) */
        const char *why = h->last_error ? h->last_error(c->self) : "";
        char reason[600];
        snprintf(reason, sizeof reason, "%s", why && *why ? why : "timeout, connection or TLS failure");
        h->error(c->self, "Anthropic Messages API: no answer: %s", reason);
    }
    h->http_free(&resp);
    if (st != REVOPS_OK) {
        reply_reset(c);
        memset(reply, 0, sizeof *reply);
        reply->stop = REVOPS_STOP_OTHER;
        reply->input_tokens = reply->output_tokens = -1;
    }
    return st;
}

/* ----------------------------------------------------------- lifecycle -- */

static void anth_close(void *ctx)
{
    anth_ctx *c = ctx;
    if (!c) return;
    if (c->key_header) {
        revops_wipe(c->key_header, strlen(c->key_header));
        free(c->key_header);
    }
    free(c->version_header);
    free(c->url);
    reply_reset(c);
    free(c);
}

static int header_safe(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n') return 0;
    return 1;
}

static revops_status anth_open(revops_instance *self, const revops_host *host, const revops_options *opts, void **ctx)
{
    if (host->abi_minor < 1 || host->size < offsetof(revops_host, last_error) + sizeof host->last_error ||
        !host->json_object_len || !host->last_error) {
        host->error(self, "the anthropic model needs a revops host with ABI 1.1 or later");
        return REVOPS_ERROR;
    }
    const char *key = host->opt_string(opts, "api_key");
    const char *base = host->opt_string(opts, "base_url");
    const char *version = host->opt_string(opts, "anthropic_version");
    const char *model = host->opt_string(opts, "model");
    if (!key || !*key) {
        host->error(self, "api_key must not be empty (an Anthropic API key: env:NAME or file:/path)");
        return REVOPS_ERROR;
    }
    if (!header_safe(key)) {
        host->error(self, "api_key holds a line break; check the option (its value is not shown)");
        return REVOPS_ERROR;
    }
    if (!base || (strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0)) {
        host->error(self, "base_url must start with https:// (got '%s')", base ? base : "");
        return REVOPS_ERROR;
    }
    if (!version || !*version || !header_safe(version)) {
        host->error(self, "anthropic_version must be an API version such as 2023-06-01");
        return REVOPS_ERROR;
    }
    if (!model || !*model) {
        host->error(self, "model must name an Anthropic model, e.g. claude-sonnet-4-5");
        return REVOPS_ERROR;
    }
    anth_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        host->error(self, "out of memory");
        return REVOPS_ERROR;
    }
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/') bl--;
    size_t kn = strlen(key) + sizeof "x-api-key: ";
    size_t vn = strlen(version) + sizeof "anthropic-version: ";
    size_t un = bl + sizeof MESSAGES_PATH;
    c->key_header = malloc(kn);
    c->version_header = malloc(vn);
    c->url = malloc(un);
    if (!c->key_header || !c->version_header || !c->url) {
        host->error(self, "out of memory");
        anth_close(c);
        return REVOPS_ERROR;
    }
    snprintf(c->key_header, kn, "x-api-key: %s", key);
    snprintf(c->version_header, vn, "anthropic-version: %s", version);
    snprintf(c->url, un, "%.*s%s", (int)bl, base, MESSAGES_PATH);
    c->self = self;
    c->host = host;
    c->model = model;
    c->max_tokens = host->opt_int(opts, "max_tokens");
    c->timeout = host->opt_real(opts, "timeout");
    *ctx = c;
    return REVOPS_OK;
}

/* ---------------------------------------------------------- descriptor -- */

static const revops_model_vtable vtable = {
    .open = anth_open,
    .complete = anth_complete,
    .close = anth_close,
};

static const revops_option_def options[] = {
    { "api_key", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 1,
      "Anthropic API key (sent as x-api-key); env:NAME or file:/path" },
    { "model", REVOPS_OPT_STRING, 0, "claude-sonnet-4-5", 0, 0, NULL, 0,
      "model id, e.g. claude-sonnet-4-5" },
    { "base_url", REVOPS_OPT_STRING, 0, "https://api.anthropic.com", 0, 0, NULL, 0,
      "API base URL; requests go to {base_url}/v1/messages" },
    { "anthropic_version", REVOPS_OPT_STRING, 0, "2023-06-01", 0, 0, NULL, 0,
      "the anthropic-version header" },
    { "max_tokens", REVOPS_OPT_INT, 0, "4096", 1, 1000000, NULL, 0,
      "max_tokens when the request sets none (the API requires one)" },
    { "timeout", REVOPS_OPT_REAL, 0, "120", 1, 3600, NULL, 0,
      "seconds for one HTTP exchange (the run's deadline still applies)" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_MODEL, "anthropic", "1.0.0",
    "Anthropic Messages API (POST /v1/messages): text, tool use and tool results",
    options, { .model = &vtable }
};
