/*
 * model "openai": one conversation turn through the OpenAI Chat Completions
 * API with tools, for OpenAI itself and for the local servers that speak the
 * same API (llama.cpp server, vLLM, Ollama) through base_url.
 *
 * API (public docs followed):
 *   - https://platform.openai.com/docs/api-reference/chat/create and the
 *     OpenAPI spec behind it (github.com/openai/openai-openapi, openapi.yaml:
 *     CreateChatCompletionRequest / CreateChatCompletionResponse,
 *     ChatCompletionRequestToolMessage, ChatCompletionMessageToolCall):
 *     POST {base_url}/chat/completions, "Authorization: Bearer KEY",
 *     optional "OpenAI-Organization: org-..."; body {model, messages, tools,
 *     max_tokens | max_completion_tokens, temperature, response_format}.
 *     messages: {role:"system", content}, {role:"user", content},
 *     {role:"assistant", content (null when it only calls tools), tool_calls:
 *     [{id, type:"function", function:{name, arguments}}]} where arguments is
 *     a JSON *string*, {role:"tool", tool_call_id, content} - one per result,
 *     directly after the assistant message that made the calls.
 *     tools: [{type:"function", function:{name, description, parameters
 *     (a JSON Schema object)}}].  max_tokens is deprecated for OpenAI's newer
 *     (reasoning) models in favour of max_completion_tokens, but it is what
 *     the local servers read: option max_tokens_field picks.
 *     response_format {"type":"json_object"} needs the word "json" in the
 *     messages; many local servers reject it, so it is sent only when the
 *     option json_mode is true.
 *   - https://platform.openai.com/docs/guides/function-calling: tool calls
 *     come back in choices[0].message.tool_calls with finish_reason
 *     "tool_calls"; "the model does not always generate valid JSON" in
 *     arguments, so they are checked here.
 *   - Response: {id, object:"chat.completion", created, model, choices:
 *     [{index, message:{role, content, refusal, tool_calls}, finish_reason:
 *     "stop"|"length"|"tool_calls"|"content_filter"|"function_call"}],
 *     usage:{prompt_tokens, completion_tokens, total_tokens}}.
 *   - https://platform.openai.com/docs/guides/error-codes: errors are
 *     {"error": {"message", "type", "param", "code"}}; 401 invalid_api_key
 *     ("Incorrect API key provided"), 429 (type "requests" / code
 *     "rate_limit_exceeded", with retry-after) and 5xx ("server_error") are
 *     retried by the host.  Local servers vary: vLLM answers {"object":
 *     "error", "message", "type", "code"} at the top level, Ollama's native
 *     errors are {"error": "text"}; both are read too.
 *
 * Mapping (revops_model_request -> body): system -> a first "system"
 * message; a user message -> one "tool" message per TOOL_RESULT block, in
 * order, then one "user" message with its TEXT blocks joined by a blank line
 * (OpenAI wants the tool messages right after the assistant's tool_calls); an
 * assistant message -> its TEXT blocks joined as content (null when there is
 * none) and its TOOL_USE blocks as tool_calls with input_json as the
 * arguments string; tools with input_schema embedded as JSON.  OpenAI's tool
 * message has no error flag: an is_error result is sent as its text, which
 * says why (the core writes it).
 * Back: message.content -> a TEXT block, message.refusal -> a TEXT block
 * (stop "other"), each tool call -> a TOOL_USE block; arguments that are not
 * a JSON object are handed on as the raw text with a WARN (the core's tool
 * loop tells the model); an empty arguments string is "{}"; servers that send
 * arguments as an object (some vLLM parsers) have it serialised; a call
 * without an id (Ollama's native shape) gets "call_revops_N".
 * finish_reason: stop -> end_turn (tool_use when tool calls came back anyway,
 * as older llama.cpp / Ollama builds do), tool_calls -> tool_use, length ->
 * max_tokens, anything else -> other.
 *
 * The API key never appears in a message: it lives only in the header
 * (wiped on close), and a provider error quoting it is redacted.
 */
#include <revops/revops.h>

#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPENAI_PATH "/chat/completions"

typedef struct openai_ctx {
    revops_instance *self;
    const revops_host *host;
    char *url;                   /* base_url + /chat/completions */
    char *auth;                  /* "Authorization: Bearer KEY" or NULL (secret; wiped) */
    char *key;                   /* the key itself, to redact it from errors (secret; wiped) */
    char *org;                   /* "OpenAI-Organization: ..." or NULL */
    const char *model;
    int64_t max_tokens;
    const char *max_tokens_field;
    int json_mode;
    double timeout;

    /* The last reply: valid until the next complete() or close(). */
    revops_block *blocks;
    size_t nblocks, cap;
    char **strs;                 /* every string the blocks point to */
    size_t nstrs, strcap;
    char *reply_model;
    unsigned long calls;         /* for synthetic tool-call ids */
} openai_ctx;

static int is_type(const revops_host *h, revops_json *j, revops_json_type t)
{
    return j && h->json_type(j) == t;
}

static const char *str_or_null(const revops_host *h, revops_json *j)
{
    return is_type(h, j, REVOPS_JSON_STRING) ? h->json_string(j) : NULL;
}

/* ------------------------------------------------------------ the reply -- */

static void reply_reset(openai_ctx *c)
{
    for (size_t i = 0; i < c->nstrs; i++) free(c->strs[i]);
    c->nstrs = 0;
    c->nblocks = 0;
    free(c->reply_model);
    c->reply_model = NULL;
}

/* Keep a copy of s (n bytes) for the reply; NULL when out of memory. */
static const char *keep(openai_ctx *c, const char *s, size_t n)
{
    if (c->nstrs == c->strcap) {
        size_t cap = c->strcap ? c->strcap * 2 : 16;
        char **p = realloc(c->strs, cap * sizeof *p);
        if (!p) return NULL;
        c->strs = p;
        c->strcap = cap;
    }
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    c->strs[c->nstrs++] = d;
    return d;
}

static revops_block *add_block(openai_ctx *c, revops_block_type type)
{
    if (c->nblocks == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        revops_block *p = realloc(c->blocks, cap * sizeof *p);
        if (!p) return NULL;
        c->blocks = p;
        c->cap = cap;
    }
    revops_block *b = &c->blocks[c->nblocks++];
    memset(b, 0, sizeof *b);
    b->type = type;
    return b;
}

/* --------------------------------------------------------------- errors -- */

/* Copy src to out (n bytes) with every occurrence of the API key replaced. */
static void redact(const openai_ctx *c, const char *src, char *out, size_t n)
{
    size_t kl = c->key ? strlen(c->key) : 0, o = 0;
    for (const char *p = src; *p && o + 1 < n;) {
        if (kl >= 4 && strncmp(p, c->key, kl) == 0) {
            const char *r = "[redacted]";
            for (; *r && o + 1 < n; r++) out[o++] = *r;
            p += kl;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

static void fail(openai_ctx *c, const char *fmt, ...) REVOPS_PRINTF(2, 3);
static void fail(openai_ctx *c, const char *fmt, ...)
{
    char raw[1536], safe[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    redact(c, raw, safe, sizeof safe);
    c->host->error(c->self, "%s", safe);
}

/* The first 200 bytes of a body, on one line. */
static void body_start(const char *body, size_t len, char out[256])
{
    size_t k = 0;
    for (size_t i = 0; body && i < len && i < 200; i++) {
        unsigned char ch = (unsigned char)body[i];
        out[k++] = ch == '\n' || ch == '\r' || ch == '\t' ? ' ' : (ch < 0x20 ? '?' : (char)ch);
    }
    out[k] = '\0';
    if (len > 200) snprintf(out + k, 256 - k, "...");
    if (!len) snprintf(out, 256, "(empty body)");
}

/* A JSON scalar (code, param) as text: "rate_limit_exceeded", "400". */
static void scalar_text(const revops_host *h, revops_json *j, char *out, size_t n)
{
    out[0] = '\0';
    if (is_type(h, j, REVOPS_JSON_STRING)) snprintf(out, n, "%s", h->json_string(j));
    else if (is_type(h, j, REVOPS_JSON_INT)) snprintf(out, n, "%lld", (long long)h->json_int(j));
}

/* The provider's error type and message from an error body:
 * {"error": {"message", "type", "param", "code"}} (OpenAI, Ollama's /v1,
 * llama.cpp), {"object": "error", "message", "type", "code"} (vLLM),
 * {"error": "text"} (Ollama's native errors), {"detail": ...} (FastAPI
 * servers); otherwise the start of the body. */
static void api_error(openai_ctx *c, const revops_http_response *r, char *type, size_t tn, char *msg, size_t mn)
{
    const revops_host *h = c->host;
    snprintf(type, tn, "error");
    msg[0] = '\0';
    revops_json *root = r->body && r->body_len ? h->json_parse(r->body, r->body_len, NULL, 0) : NULL;
    revops_json *e = root ? h->json_get(root, "error") : NULL;
    if (!is_type(h, e, REVOPS_JSON_OBJECT) && root && h->json_get(root, "message") &&
        is_type(h, root, REVOPS_JSON_OBJECT))
        e = root;
    if (is_type(h, e, REVOPS_JSON_OBJECT)) {
        const char *t = str_or_null(h, h->json_get(e, "type"));
        const char *m = str_or_null(h, h->json_get(e, "message"));
        char code[128], param[128];
        scalar_text(h, h->json_get(e, "code"), code, sizeof code);
        scalar_text(h, h->json_get(e, "param"), param, sizeof param);
        if (t && *t) snprintf(type, tn, "%s", t);
        else if (*code) snprintf(type, tn, "%s", code);
        snprintf(msg, mn, "%s", m && *m ? m : "(no message)");
        size_t l = strlen(msg);
        if (*code && strcmp(code, type) != 0 && *param)
            snprintf(msg + l, mn - l, " (code %s, param %s)", code, param);
        else if (*code && strcmp(code, type) != 0)
            snprintf(msg + l, mn - l, " (code %s)", code);
        else if (*param)
            snprintf(msg + l, mn - l, " (param %s)", param);
    } else if (is_type(h, e, REVOPS_JSON_STRING)) {
        snprintf(msg, mn, "%s", h->json_string(e));
    } else if (root && is_type(h, h->json_get(root, "detail"), REVOPS_JSON_STRING)) {
        snprintf(msg, mn, "%s", h->json_string(h->json_get(root, "detail")));
    } else {
        char start[256];
        body_start(r->body, r->body_len, start);
        snprintf(msg, mn, "%s", start);
    }
    if (root) h->json_free(root);
}

/* The host's own reason for a failed exchange, without "METHOD URL: ". */
static void host_reason(openai_ctx *c, char *out, size_t n)
{
    const revops_host *h = c->host;
    out[0] = '\0';
    const char *w = h->last_error ? h->last_error(c->self) : NULL;
    if (!w) return;
    const char *p = strstr(w, ": ");
    snprintf(out, n, "%s", p ? p + 2 : w);
}

/* ------------------------------------------------------- request body -- */

static void add_quoted(openai_ctx *c, revops_buf *b, const char *s)
{
    char *q = c->host->json_quote(s ? s : "");
    if (!q) {
        b->oom = 1;
        return;
    }
    revops_buf_str(b, q);
    c->host->free(q);
}

/* A number as JSON, as short as it can be and still read back the same. */
static void add_number(revops_buf *b, double x)
{
    char s[40];
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, x);
        if (strtod(s, NULL) == x) break;
    }
    revops_buf_str(b, s);
}

/* TEXT blocks of a message joined by a blank line, JSON-quoted; 0 if none. */
static int add_joined_text(openai_ctx *c, revops_buf *b, const revops_message *m)
{
    revops_buf t = { 0 };
    int n = 0;
    for (size_t i = 0; i < m->nblocks; i++) {
        const revops_block *k = &m->blocks[i];
        if (k->type != REVOPS_BLOCK_TEXT) continue;
        if (n++) revops_buf_str(&t, "\n\n");
        revops_buf_str(&t, k->text ? k->text : "");
    }
    if (t.oom) b->oom = 1;
    if (n) add_quoted(c, b, revops_buf_cstr(&t));
    revops_buf_free(&t);
    return n;
}

/* 0, or -1 with the reason said. */
static int build_body(openai_ctx *c, const revops_model_request *req, revops_buf *b)
{
    const revops_host *h = c->host;
    revops_buf_str(b, "{\"model\":");
    add_quoted(c, b, c->model);
    revops_buf_str(b, ",\"messages\":[");
    int first = 1;
    if (req->system && *req->system) {
        revops_buf_str(b, "{\"role\":\"system\",\"content\":");
        add_quoted(c, b, req->system);
        revops_buf_str(b, "}");
        first = 0;
    }
    for (size_t i = 0; i < req->nmessages; i++) {
        const revops_message *m = &req->messages[i];
        if (m->role == REVOPS_ROLE_USER) {
            size_t ntext = 0, nres = 0;
            for (size_t k = 0; k < m->nblocks; k++) {
                const revops_block *bl = &m->blocks[k];
                if (bl->type == REVOPS_BLOCK_TOOL_RESULT) {
                    if (!bl->id || !*bl->id) {
                        fail(c, "message %zu: a tool result without the id of the call it answers", i + 1);
                        return -1;
                    }
                    revops_buf_str(b, first ? "" : ",");
                    revops_buf_str(b, "{\"role\":\"tool\",\"tool_call_id\":");
                    add_quoted(c, b, bl->id);
                    revops_buf_str(b, ",\"content\":");
                    add_quoted(c, b, bl->text);
                    revops_buf_str(b, "}");
                    first = 0;
                    nres++;
                } else if (bl->type == REVOPS_BLOCK_TEXT) {
                    ntext++;
                } else {
                    fail(c, "message %zu: a user message cannot hold a tool call (block %zu)", i + 1, k + 1);
                    return -1;
                }
            }
            if (ntext || !nres) {
                revops_buf_str(b, first ? "" : ",");
                revops_buf_str(b, "{\"role\":\"user\",\"content\":");
                if (!add_joined_text(c, b, m)) revops_buf_str(b, "\"\"");
                revops_buf_str(b, "}");
                first = 0;
            }
        } else if (m->role == REVOPS_ROLE_ASSISTANT) {
            revops_buf_str(b, first ? "" : ",");
            revops_buf_str(b, "{\"role\":\"assistant\",\"content\":");
            size_t ncalls = 0;
            for (size_t k = 0; k < m->nblocks; k++) {
                const revops_block *bl = &m->blocks[k];
                if (bl->type == REVOPS_BLOCK_TOOL_USE) ncalls++;
                else if (bl->type != REVOPS_BLOCK_TEXT) {
                    fail(c, "message %zu: an assistant message cannot hold a tool result (block %zu)", i + 1, k + 1);
                    return -1;
                }
            }
            if (!add_joined_text(c, b, m)) revops_buf_str(b, ncalls ? "null" : "\"\"");
            if (ncalls) {
                revops_buf_str(b, ",\"tool_calls\":[");
                size_t n = 0;
                for (size_t k = 0; k < m->nblocks; k++) {
                    const revops_block *bl = &m->blocks[k];
                    if (bl->type != REVOPS_BLOCK_TOOL_USE) continue;
                    if (!bl->id || !*bl->id || !bl->name || !*bl->name) {
                        fail(c, "message %zu: a tool call without its id or name (block %zu)", i + 1, k + 1);
                        return -1;
                    }
                    revops_buf_str(b, n++ ? ",{\"id\":" : "{\"id\":");
                    add_quoted(c, b, bl->id);
                    revops_buf_str(b, ",\"type\":\"function\",\"function\":{\"name\":");
                    add_quoted(c, b, bl->name);
                    revops_buf_str(b, ",\"arguments\":");
                    add_quoted(c, b, bl->input_json && *bl->input_json ? bl->input_json : "{}");
                    revops_buf_str(b, "}}");
                }
                revops_buf_str(b, "]");
            }
            revops_buf_str(b, "}");
            first = 0;
        } else {
            fail(c, "message %zu has an unknown role (%d)", i + 1, (int)m->role);
            return -1;
        }
    }
    revops_buf_str(b, "]");
    if (req->ntools) {
        revops_buf_str(b, ",\"tools\":[");
        for (size_t i = 0; i < req->ntools; i++) {
            const revops_tool *t = &req->tools[i];
            if (!t->name || !*t->name) {
                fail(c, "tool %zu has no name", i + 1);
                return -1;
            }
            const char *schema = t->input_schema && *t->input_schema ? t->input_schema : "{\"type\":\"object\",\"properties\":{}}";
            char err[160];
            revops_json *sj = h->json_parse(schema, strlen(schema), err, sizeof err);
            int is_obj = is_type(h, sj, REVOPS_JSON_OBJECT);
            if (sj) h->json_free(sj);
            if (!is_obj) {
                fail(c, "tool '%s': input_schema is not a JSON object (%s)", t->name, sj ? "another JSON value" : err);
                return -1;
            }
            revops_buf_str(b, i ? ",{\"type\":\"function\",\"function\":{\"name\":" : "{\"type\":\"function\",\"function\":{\"name\":");
            add_quoted(c, b, t->name);
            if (t->description) {
                revops_buf_str(b, ",\"description\":");
                add_quoted(c, b, t->description);
            }
            revops_buf_str(b, ",\"parameters\":");
            revops_buf_str(b, schema);
            revops_buf_str(b, "}}");
        }
        revops_buf_str(b, "]");
    }
    int64_t mt = req->max_tokens > 0 && req->max_tokens < c->max_tokens ? req->max_tokens : c->max_tokens;
    revops_buf_fmt(b, ",\"%s\":%lld", c->max_tokens_field, (long long)mt);
    if (req->temperature >= 0) {
        revops_buf_str(b, ",\"temperature\":");
        add_number(b, req->temperature);
    }
    if (req->json_answer && c->json_mode) revops_buf_str(b, ",\"response_format\":{\"type\":\"json_object\"}");
    revops_buf_str(b, "}");
    if (b->oom) {
        fail(c, "out of memory building the request");
        return -1;
    }
    return 0;
}

/* --------------------------------------------------------- the answer -- */

/* A parsed JSON value written back as JSON text (for arguments that a
 * server sent as an object instead of a string). */
static void write_json(openai_ctx *c, revops_buf *b, revops_json *j, int depth)
{
    const revops_host *h = c->host;
    if (depth > 64) {
        b->oom = 1;
        return;
    }
    switch (j ? h->json_type(j) : REVOPS_JSON_NULL) {
    case REVOPS_JSON_NULL: revops_buf_str(b, "null"); break;
    case REVOPS_JSON_BOOL: revops_buf_str(b, h->json_int(j) ? "true" : "false"); break;
    case REVOPS_JSON_INT: revops_buf_fmt(b, "%lld", (long long)h->json_int(j)); break;
    case REVOPS_JSON_REAL: {
        double x = h->json_real(j);
        if (isfinite(x)) add_number(b, x);
        else revops_buf_str(b, "null");
        break;
    }
    case REVOPS_JSON_STRING: add_quoted(c, b, h->json_string(j)); break;
    case REVOPS_JSON_ARRAY:
        revops_buf_str(b, "[");
        for (size_t i = 0; i < h->json_len(j); i++) {
            if (i) revops_buf_str(b, ",");
            write_json(c, b, h->json_index(j, i), depth + 1);
        }
        revops_buf_str(b, "]");
        break;
    case REVOPS_JSON_OBJECT:
        revops_buf_str(b, "{");
        for (size_t i = 0; i < h->json_object_len(j); i++) {
            if (i) revops_buf_str(b, ",");
            add_quoted(c, b, h->json_object_key(j, i));
            revops_buf_str(b, ":");
            write_json(c, b, h->json_object_value(j, i), depth + 1);
        }
        revops_buf_str(b, "}");
        break;
    }
}

static int only_space(const char *s)
{
    while (*s && isspace((unsigned char)*s)) s++;
    return *s == '\0';
}

/* One entry of message.tool_calls -> a TOOL_USE block.  0, or -1 said. */
static int take_tool_call(openai_ctx *c, revops_json *tc, size_t i)
{
    const revops_host *h = c->host;
    if (!is_type(h, tc, REVOPS_JSON_OBJECT)) {
        fail(c, "choices[0].message.tool_calls[%zu] is %s, not an object", i,
             tc ? revops_json_type_name(h->json_type(tc)) : "missing");
        return -1;
    }
    const char *type = str_or_null(h, h->json_get(tc, "type"));
    if (type && strcmp(type, "function") != 0) {
        fail(c, "choices[0].message.tool_calls[%zu] is of type '%s'; only \"function\" calls are supported", i, type);
        return -1;
    }
    revops_json *fn = h->json_get(tc, "function");
    const char *name = is_type(h, fn, REVOPS_JSON_OBJECT) ? str_or_null(h, h->json_get(fn, "name")) : NULL;
    if (!name || !*name) {
        fail(c, "choices[0].message.tool_calls[%zu] has no function.name", i);
        return -1;
    }
    const char *id = str_or_null(h, h->json_get(tc, "id"));
    char made[64];
    if (!id || !*id) {
        snprintf(made, sizeof made, "call_revops_%lu_%zu", c->calls, i);
        id = made;
    }
    revops_json *args = h->json_get(fn, "arguments");
    revops_buf aj = { 0 };
    if (!args || is_type(h, args, REVOPS_JSON_NULL)) {
        revops_buf_str(&aj, "{}");
    } else if (is_type(h, args, REVOPS_JSON_STRING)) {
        const char *s = h->json_string(args);
        if (only_space(s)) {
            revops_buf_str(&aj, "{}");
        } else {
            char err[160];
            revops_json *pj = h->json_parse(s, strlen(s), err, sizeof err);
            int obj = is_type(h, pj, REVOPS_JSON_OBJECT);
            if (pj) h->json_free(pj);
            if (!obj)
                h->log(c->self, REVOPS_LOG_WARN,
                       "tool call %s (%s): the arguments are not a JSON object (%s); handed on as the raw text", id, name,
                       pj ? "another JSON value" : err);
            revops_buf_str(&aj, s);
        }
    } else if (is_type(h, args, REVOPS_JSON_OBJECT)) {
        write_json(c, &aj, args, 0);
    } else {
        h->log(c->self, REVOPS_LOG_WARN, "tool call %s (%s): the arguments are %s, not a JSON object; handed on as text",
               id, name, revops_json_type_name(h->json_type(args)));
        write_json(c, &aj, args, 0);
    }
    revops_block *b = aj.oom ? NULL : add_block(c, REVOPS_BLOCK_TOOL_USE);
    if (b) {
        b->id = keep(c, id, strlen(id));
        b->name = keep(c, name, strlen(name));
        b->input_json = keep(c, revops_buf_cstr(&aj), aj.len);
    }
    revops_buf_free(&aj);
    if (!b || !b->id || !b->name || !b->input_json) {
        fail(c, "out of memory reading the answer");
        return -1;
    }
    return 0;
}

static const char *stop_name(revops_stop_reason s)
{
    switch (s) {
    case REVOPS_STOP_END_TURN: return "end_turn";
    case REVOPS_STOP_TOOL_USE: return "tool_use";
    case REVOPS_STOP_MAX_TOKENS: return "max_tokens";
    default: return "other";
    }
}

static revops_stop_reason map_finish(const char *fr, size_t ncalls)
{
    if (!fr) return ncalls ? REVOPS_STOP_TOOL_USE : REVOPS_STOP_END_TURN;
    if (strcmp(fr, "length") == 0) return REVOPS_STOP_MAX_TOKENS;
    if (strcmp(fr, "tool_calls") == 0 || strcmp(fr, "function_call") == 0)
        return ncalls ? REVOPS_STOP_TOOL_USE : REVOPS_STOP_OTHER;
    if (strcmp(fr, "stop") == 0 || strcmp(fr, "eos") == 0) return ncalls ? REVOPS_STOP_TOOL_USE : REVOPS_STOP_END_TURN;
    return REVOPS_STOP_OTHER;   /* content_filter, ... */
}

/* A 2xx body -> the reply.  OK, or ERROR said. */
static revops_status parse_answer(openai_ctx *c, const revops_http_response *r, revops_model_reply *reply)
{
    const revops_host *h = c->host;
    char err[160], start[256];
    revops_json *root = h->json_parse(r->body ? r->body : "", r->body_len, err, sizeof err);
    if (!root) {
        body_start(r->body, r->body_len, start);
        fail(c, "the answer (HTTP %ld) is not JSON (%s): %s", r->status, err, start);
        return REVOPS_ERROR;
    }
    revops_status st = REVOPS_ERROR;
    revops_json *e = h->json_get(root, "error");
    revops_json *msg = h->json_get(root, "choices.0.message");
    if (e && !is_type(h, e, REVOPS_JSON_NULL) && !msg) {
        char type[128], text[1024];
        api_error(c, r, type, sizeof type, text, sizeof text);
        fail(c, "HTTP %ld %s: %s", r->status, type, text);
        goto out;
    }
    if (!is_type(h, msg, REVOPS_JSON_OBJECT)) {
        body_start(r->body, r->body_len, start);
        fail(c, "the answer (HTTP %ld) is not a chat completion (no choices[0].message object): %s", r->status, start);
        goto out;
    }
    revops_json *content = h->json_get(msg, "content");
    revops_json *refusal = h->json_get(msg, "refusal");
    revops_json *calls = h->json_get(msg, "tool_calls");
    const char *fr = str_or_null(h, h->json_get(root, "choices.0.finish_reason"));
    if (calls && !is_type(h, calls, REVOPS_JSON_NULL) && !is_type(h, calls, REVOPS_JSON_ARRAY)) {
        fail(c, "choices[0].message.tool_calls is %s, not an array", revops_json_type_name(h->json_type(calls)));
        goto out;
    }
    size_t ncalls = is_type(h, calls, REVOPS_JSON_ARRAY) ? h->json_len(calls) : 0;
    const char *text = str_or_null(h, content);
    const char *ref = str_or_null(h, refusal);
    if (!text && !ref && !ncalls && !(fr && (strcmp(fr, "length") == 0 || strcmp(fr, "content_filter") == 0))) {
        body_start(r->body, r->body_len, start);
        fail(c, "the answer (HTTP %ld) has no content and no tool calls (finish_reason %s): %s", r->status,
             fr ? fr : "missing", start);
        goto out;
    }
    if (text && *text) {
        revops_block *b = add_block(c, REVOPS_BLOCK_TEXT);
        if (!b || !(b->text = keep(c, text, strlen(text)))) {
            fail(c, "out of memory reading the answer");
            goto out;
        }
    }
    if (ref && *ref) {
        revops_block *b = add_block(c, REVOPS_BLOCK_TEXT);
        if (!b || !(b->text = keep(c, ref, strlen(ref)))) {
            fail(c, "out of memory reading the answer");
            goto out;
        }
    }
    for (size_t i = 0; i < ncalls; i++)
        if (take_tool_call(c, h->json_index(calls, i), i) < 0) goto out;
    reply->stop = ref && *ref ? REVOPS_STOP_OTHER : map_finish(fr, ncalls);
    revops_json *pt = h->json_get(root, "usage.prompt_tokens"), *ct = h->json_get(root, "usage.completion_tokens");
    reply->input_tokens = is_type(h, pt, REVOPS_JSON_INT) ? h->json_int(pt) : -1;
    reply->output_tokens = is_type(h, ct, REVOPS_JSON_INT) ? h->json_int(ct) : -1;
    const char *model = str_or_null(h, h->json_get(root, "model"));
    c->reply_model = strdup(model && *model ? model : c->model);
    reply->model = c->reply_model;
    reply->blocks = c->blocks;
    reply->nblocks = c->nblocks;
    h->log(c->self, REVOPS_LOG_DEBUG, "%s: %lld tokens in, %lld out, finish_reason %s (stop %s), %zu tool call%s",
           reply->model ? reply->model : c->model, (long long)reply->input_tokens, (long long)reply->output_tokens,
           fr ? fr : "(none)", stop_name(reply->stop), ncalls, ncalls == 1 ? "" : "s");
    st = REVOPS_OK;
out:
    h->json_free(root);
    return st;
}

/* ------------------------------------------------------------ complete -- */

static revops_status openai_complete(void *ctx, const revops_model_request *req, revops_model_reply *reply)
{
    openai_ctx *c = ctx;
    const revops_host *h = c->host;
    memset(reply, 0, sizeof *reply);
    reply->input_tokens = reply->output_tokens = -1;
    reply_reset(c);
    c->calls++;

    revops_buf body = { 0 };
    if (build_body(c, req, &body) < 0) {
        revops_buf_free(&body);
        return REVOPS_ERROR;
    }
    const char *headers[5];
    size_t nh = 0;
    headers[nh++] = "Content-Type: application/json";
    headers[nh++] = "Accept: application/json";
    if (c->auth) headers[nh++] = c->auth;
    if (c->org) headers[nh++] = c->org;
    headers[nh] = NULL;
    revops_http_request hr = { "POST", c->url, headers, body.p, body.len, c->timeout, 0 };
    revops_http_response r;
    memset(&r, 0, sizeof r);
    revops_status st = h->http(c->self, &hr, &r);
    revops_buf_free(&body);

    char type[128], msg[1024], reason[512];
    if (st == REVOPS_OK && r.status >= 200 && r.status < 300) {
        st = parse_answer(c, &r, reply);
    } else if (st == REVOPS_OK) {
        api_error(c, &r, type, sizeof type, msg, sizeof msg);
        if (r.status == 401 || r.status == 403)
            fail(c, "HTTP %ld %s: %s; check api_key%s", r.status, type, msg, c->org ? " and organization" : "");
        else if (r.status == 404)
            fail(c, "HTTP %ld %s: %s (POST %s; check base_url and model)", r.status, type, msg, c->url);
        else
            fail(c, "HTTP %ld %s: %s", r.status, type, msg);
        st = REVOPS_ERROR;
    } else {
        host_reason(c, reason, sizeof reason);
        if (r.status >= 400) {
            api_error(c, &r, type, sizeof type, msg, sizeof msg);
            fail(c, "HTTP %ld %s: %s (after %d attempt%s%s)", r.status, type, msg, r.attempts,
                 r.attempts == 1 ? "" : "s", st == REVOPS_RETRY ? "; transient, retries exhausted" : "");
        } else {
            fail(c, "no answer from %s after %d attempt%s: %s", c->url, r.attempts, r.attempts == 1 ? "" : "s",
                 *reason ? reason : "timeout, connection or TLS failure");
        }
    }
    h->http_free(&r);
    if (st != REVOPS_OK) reply_reset(c);
    return st;
}

/* ---------------------------------------------------------- open/close -- */

static void openai_close(void *ctx)
{
    openai_ctx *c = ctx;
    if (!c) return;
    reply_reset(c);
    free(c->strs);
    free(c->blocks);
    if (c->auth) {
        revops_wipe(c->auth, strlen(c->auth));
        free(c->auth);
    }
    if (c->key) {
        revops_wipe(c->key, strlen(c->key));
        free(c->key);
    }
    free(c->org);
    free(c->url);
    free(c);
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

static revops_status openai_open(revops_instance *self, const revops_host *host, const revops_options *opts, void **ctx)
{
    if (host->abi_minor < 1 || host->size < offsetof(revops_host, last_error) + sizeof host->last_error ||
        !host->json_object_len || !host->last_error) {
        host->error(self, "the openai model needs a revops host with ABI 1.1 or later");
        return REVOPS_ERROR;
    }
    const char *base = host->opt_string(opts, "base_url");
    const char *key = host->opt_string(opts, "api_key");
    const char *org = host->opt_string(opts, "organization");
    if (!base || (strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0) || has_ctl(base)) {
        host->error(self, "base_url must be an http:// or https:// URL such as https://api.openai.com/v1 (got '%s')",
                    base ? base : "");
        return REVOPS_ERROR;
    }
    if (key && has_ctl(key)) {
        host->error(self, "api_key contains a control character (a stray newline?); check the option");
        return REVOPS_ERROR;
    }
    if (org && has_ctl(org)) {
        host->error(self, "organization contains a control character; check the option");
        return REVOPS_ERROR;
    }
    openai_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        host->error(self, "out of memory");
        return REVOPS_ERROR;
    }
    c->self = self;
    c->host = host;
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/') bl--;
    c->url = malloc(bl + sizeof OPENAI_PATH);
    if (c->url) {
        memcpy(c->url, base, bl);
        memcpy(c->url + bl, OPENAI_PATH, sizeof OPENAI_PATH);
    }
    int oom = !c->url;
    if (key && *key) {
        size_t n = strlen(key) + sizeof "Authorization: Bearer ";
        c->auth = malloc(n);
        c->key = strdup(key);
        if (c->auth) snprintf(c->auth, n, "Authorization: Bearer %s", key);
        oom |= !c->auth || !c->key;
    }
    if (org && *org) {
        size_t n = strlen(org) + sizeof "OpenAI-Organization: ";
        c->org = malloc(n);
        if (c->org) snprintf(c->org, n, "OpenAI-Organization: %s", org);
        oom |= !c->org;
    }
    if (oom) {
        host->error(self, "out of memory");
        openai_close(c);
        return REVOPS_ERROR;
    }
    c->model = host->opt_string(opts, "model");
    c->max_tokens = host->opt_int(opts, "max_tokens");
    c->max_tokens_field = host->opt_string(opts, "max_tokens_field");
    c->json_mode = host->opt_bool(opts, "json_mode");
    c->timeout = host->opt_real(opts, "timeout");
    if (!c->model || !*c->model) {
        host->error(self, "model must not be empty (e.g. \"gpt-4o\", or the name your local server serves)");
        openai_close(c);
        return REVOPS_ERROR;
    }
    if (!c->max_tokens_field) c->max_tokens_field = "max_tokens";
    *ctx = c;
    return REVOPS_OK;
}

/* ---------------------------------------------------------- descriptor -- */

static const revops_model_vtable vtable = {
    .open = openai_open,
    .complete = openai_complete,
    .close = openai_close,
};

static const char *const token_fields[] = { "max_tokens", "max_completion_tokens", NULL };

static const revops_option_def options[] = {
    { "base_url", REVOPS_OPT_STRING, 0, "https://api.openai.com/v1", 0, 0, NULL, 0,
      "API base URL; a local server: e.g. http://127.0.0.1:8080/v1 (llama.cpp), :8000/v1 (vLLM), :11434/v1 (Ollama)" },
    { "api_key", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 1,
      "API key sent as Authorization: Bearer (local servers need none); env:NAME or file:/path" },
    { "model", REVOPS_OPT_STRING, 0, "gpt-4o", 0, 0, NULL, 0, "model name as the server knows it" },
    { "organization", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 0, "OpenAI organization id (OpenAI-Organization header)" },
    { "max_tokens", REVOPS_OPT_INT, 0, "4096", 1, 10000000, NULL, 0,
      "most tokens one reply may use (a request asking for fewer sends fewer)" },
    { "max_tokens_field", REVOPS_OPT_ENUM, 0, "max_tokens", 0, 0, token_fields, 0,
      "request field for that cap: max_tokens (local servers) or max_completion_tokens (OpenAI's newer models)" },
    { "json_mode", REVOPS_OPT_BOOL, 0, "false", 0, 0, NULL, 0,
      "send response_format json_object when a JSON answer is wanted (many local servers reject it)" },
    { "timeout", REVOPS_OPT_REAL, 0, "120", 1, 3600, NULL, 0, "seconds one HTTP exchange may take" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_MODEL, "openai", "1.0.0",
    "OpenAI Chat Completions with tools (OpenAI, llama.cpp server, vLLM, Ollama)",
    options, { .model = &vtable }
};
