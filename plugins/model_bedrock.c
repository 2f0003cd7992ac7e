/*
 * model "bedrock": one conversation turn through the Amazon Bedrock Runtime
 * Converse API, signed with AWS Signature Version 4 by the host (http_aws).
 *
 * Followed (AWS public documentation):
 *   - Bedrock API Reference, Converse (API_runtime_Converse, bedrock-runtime
 *     2023-09-30): POST /model/{modelId}/converse on
 *     https://bedrock-runtime.{region}.amazonaws.com, the model id URL-encoded
 *     in the path (':' -> %3A); request {"messages": [{"role", "content"}],
 *     "system": [{"text"}], "inferenceConfig": {"maxTokens", "temperature"},
 *     "toolConfig": {"tools": [{"toolSpec": {"name", "description",
 *     "inputSchema": {"json": {...}}}}]}}; response {"output": {"message":
 *     {"role", "content": [...]}}, "stopReason", "usage": {"inputTokens",
 *     "outputTokens", "totalTokens"}, "metrics": {"latencyMs"}}; errors
 *     ThrottlingException 429, ValidationException 400, AccessDeniedException
 *     403, ResourceNotFoundException 404, ModelTimeoutException 408,
 *     ModelErrorException 424, ModelNotReadyException 429,
 *     InternalServerException 500, ServiceUnavailableException 503.
 *   - ContentBlock, ToolUseBlock, ToolResultBlock, SystemContentBlock,
 *     InferenceConfiguration, ToolSpecification, StopReason, TokenUsage (the
 *     same reference): toolUse {"toolUseId", "name", "input"}, toolResult
 *     {"toolUseId", "content": [{"text"}], "status": "success" | "error"};
 *     stopReason end_turn | tool_use | max_tokens | stop_sequence |
 *     guardrail_intervened | content_filtered (and later additions).
 *   - Bedrock User Guide, "Call a tool with the Converse API" (tool-use.html)
 *     and "Troubleshooting Amazon Bedrock API Error Codes".
 *   - AWS Signature Version 4 (the host's signer) with service "bedrock".
 *   - Errors of restJson1 services such as bedrock-runtime: the body is
 *     {"message": "..."} and the exception name travels in the
 *     X-Amzn-ErrorType header ("ThrottlingException:http://internal..."),
 *     else in a body member "__type" or "code" (Smithy restJson1 protocol).
 *
 * Mapping.  Out: system -> system[{"text"}]; each message -> {"role",
 * "content"} with TEXT -> {"text"}, TOOL_USE -> {"toolUse": {"toolUseId",
 * "name", "input": <input_json as JSON>}}, TOOL_RESULT -> {"toolResult":
 * {"toolUseId", "content": [{"text"}], "status"}}; tools -> toolConfig with
 * the input schema embedded as JSON; max_tokens (capped by the option) and
 * temperature (>= 0 only) -> inferenceConfig.  Back: every text and toolUse
 * block of output.message.content in order (toolUse input re-serialised as
 * JSON text), stopReason -> revops_stop_reason, usage -> tokens, and the
 * configured model id as the model (Converse does not name it).
 *
 * Retries (429 ThrottlingException / ModelNotReadyException, 5xx) are the
 * host's, with the run's retry policy; RETRY from the host is RETRY here.
 * Credentials never pass through this plugin: the host reads them.
 */
#include <revops/revops.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MODEL "anthropic.claude-3-sonnet-20240229-v1:0"

typedef struct bedrock_ctx {
    revops_instance *self;
    const revops_host *host;
    char region[64];
    const char *model_id;
    const char *profile;       /* NULL: the host's default (AWS_PROFILE, "default") */
    char *url;                 /* {endpoint}/model/{modelId}/converse */
    int64_t max_tokens;
    double timeout;
    /* The last reply: its strings point into `answer` or `inputs`. */
    revops_json *answer;
    revops_block *blocks;
    char **inputs;
    size_t ninputs;
} bedrock_ctx;

static void reply_free(bedrock_ctx *c)
{
    if (c->answer) c->host->json_free(c->answer);
    c->answer = NULL;
    for (size_t i = 0; i < c->ninputs; i++) free(c->inputs[i]);
    free(c->inputs);
    c->inputs = NULL;
    c->ninputs = 0;
    free(c->blocks);
    c->blocks = NULL;
}

static int is_type(const revops_host *h, revops_json *j, revops_json_type t)
{
    return j && h->json_type(j) == t;
}

static const char *str_at(const revops_host *h, revops_json *j, const char *path)
{
    revops_json *v = j ? h->json_get(j, path) : NULL;
    return is_type(h, v, REVOPS_JSON_STRING) ? h->json_string(v) : NULL;
}

/* ----------------------------------------------------------- open/close -- */

static int valid_region(const char *r)
{
    if (!r || !*r || strlen(r) >= 64) return 0;
    for (const char *p = r; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) return 0;
    return 1;
}

static revops_status bedrock_open(revops_instance *self, const revops_host *host, const revops_options *opts,
                                  void **ctxp)
{
    if (host->abi_minor < 3 || host->size < offsetof(revops_host, http_aws) + sizeof host->http_aws ||
        !host->http_aws || !host->url_encode) {
        host->error(self, "this revops has no AWS-signed HTTP service (host ABI 1.%u); bedrock needs 1.3",
                    (unsigned)host->abi_minor);
        return REVOPS_ERROR;
    }
    const char *region = host->opt_string(opts, "region");
    const char *from = "the region option";
    if (!region || !*region) {
        region = getenv("AWS_REGION");
        from = "AWS_REGION";
    }
    if (!region || !*region) {
        region = getenv("AWS_DEFAULT_REGION");
        from = "AWS_DEFAULT_REGION";
    }
    if (!region || !*region) {
        host->error(self, "no AWS region for Bedrock: set the region option (e.g. region = \"us-east-1\";) "
                          "or AWS_REGION / AWS_DEFAULT_REGION");
        return REVOPS_ERROR;
    }
    if (!valid_region(region)) {
        host->error(self, "AWS region '%.80s' (from %s) is not a region name such as us-east-1", region, from);
        return REVOPS_ERROR;
    }
    const char *model_id = host->opt_string(opts, "model_id");
    if (!model_id || !*model_id) {
        host->error(self, "model_id is empty");
        return REVOPS_ERROR;
    }
    const char *endpoint = host->opt_string(opts, "endpoint");
    if (endpoint && *endpoint && strncmp(endpoint, "https://", 8) != 0 && strncmp(endpoint, "http://", 7) != 0) {
        host->error(self, "endpoint '%s' is not an http(s) URL", endpoint);
        return REVOPS_ERROR;
    }

    bedrock_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        host->error(self, "out of memory");
        return REVOPS_ERROR;
    }
    c->self = self;
    c->host = host;
    snprintf(c->region, sizeof c->region, "%s", region);
    c->model_id = model_id;
    c->profile = host->opt_string(opts, "profile");
    if (c->profile && !*c->profile) c->profile = NULL;
    c->max_tokens = host->opt_int(opts, "max_tokens");
    c->timeout = host->opt_real(opts, "timeout");

    char *enc = host->url_encode(model_id);
    revops_buf u = { 0 };
    if (endpoint && *endpoint) {
        size_t l = strlen(endpoint);
        while (l && endpoint[l - 1] == '/') l--;
        revops_buf_add(&u, endpoint, l);
    } else {
        revops_buf_fmt(&u, "https://bedrock-runtime.%s.amazonaws.com", c->region);
    }
    revops_buf_fmt(&u, "/model/%s/converse", enc ? enc : "");
    if (enc) host->free(enc);
    if (!enc || u.oom) {
        revops_buf_free(&u);
        free(c);
        host->error(self, "out of memory");
        return REVOPS_ERROR;
    }
    c->url = u.p;
    host->log(self, REVOPS_LOG_DEBUG, "model %s in %s (region from %s), POST %s", model_id, c->region, from, c->url);
    *ctxp = c;
    return REVOPS_OK;
}

static void bedrock_close(void *ctx)
{
    bedrock_ctx *c = ctx;
    if (!c) return;
    reply_free(c);
    free(c->url);
    free(c);
}

/* -------------------------------------------------------- request body -- */

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

/* Embed JSON text that must be one object: 0, or -1 after host->error. */
static int add_object(bedrock_ctx *c, revops_buf *b, const char *json, const char *what)
{
    const revops_host *h = c->host;
    const char *text = json && *json ? json : "{}";
    char err[160];
    revops_json *j = h->json_parse(text, strlen(text), err, sizeof err);
    if (!j || h->json_type(j) != REVOPS_JSON_OBJECT) {
        h->error(c->self, "%s is not a JSON object (%s)", what,
                 j ? revops_json_type_name(h->json_type(j)) : err);
        if (j) h->json_free(j);
        return -1;
    }
    h->json_free(j);
    revops_buf_str(b, text);
    return 0;
}

/* A double as JSON: the shortest of %.15g / %.17g that reads back the same
 * (0.2, not 0.20000000000000001), with a fraction kept; null for inf / nan. */
static void fmt_number(double d, char num[40])
{
    snprintf(num, 40, "%.15g", d);
    if (strtod(num, NULL) != d) snprintf(num, 40, "%.17g", d);
    if (strpbrk(num, "ni")) {
        snprintf(num, 40, "null");
        return;
    }
    if (!strpbrk(num, ".eE")) strcat(num, ".0");
}

static int build_body(bedrock_ctx *c, const revops_model_request *req, revops_buf *b)
{
    const revops_host *h = c->host;
    char what[160];
    revops_buf_str(b, "{\"messages\":[");
    for (size_t i = 0; i < req->nmessages; i++) {
        const revops_message *m = &req->messages[i];
        revops_buf_fmt(b, "%s{\"role\":\"%s\",\"content\":[", i ? "," : "",
                       m->role == REVOPS_ROLE_ASSISTANT ? "assistant" : "user");
        for (size_t k = 0; k < m->nblocks; k++) {
            const revops_block *bl = &m->blocks[k];
            if (k) revops_buf_str(b, ",");
            switch (bl->type) {
            case REVOPS_BLOCK_TEXT:
                revops_buf_str(b, "{\"text\":");
                add_quoted(h, b, bl->text);
                revops_buf_str(b, "}");
                break;
            case REVOPS_BLOCK_TOOL_USE:
                revops_buf_str(b, "{\"toolUse\":{\"toolUseId\":");
                add_quoted(h, b, bl->id);
                revops_buf_str(b, ",\"name\":");
                add_quoted(h, b, bl->name);
                revops_buf_str(b, ",\"input\":");
                snprintf(what, sizeof what, "message %zu, tool_use block %zu (%.60s): the input", i, k,
                         bl->name ? bl->name : "?");
                if (add_object(c, b, bl->input_json, what) < 0) return -1;
                revops_buf_str(b, "}}");
                break;
            case REVOPS_BLOCK_TOOL_RESULT:
                revops_buf_str(b, "{\"toolResult\":{\"toolUseId\":");
                add_quoted(h, b, bl->id);
                revops_buf_str(b, ",\"content\":[{\"text\":");
                add_quoted(h, b, bl->text);
                revops_buf_fmt(b, "}],\"status\":\"%s\"}}", bl->is_error ? "error" : "success");
                break;
            default:
                h->error(c->self, "message %zu, block %zu: unknown block type %d", i, k, (int)bl->type);
                return -1;
            }
        }
        revops_buf_str(b, "]}");
    }
    revops_buf_str(b, "]");
    if (req->system && *req->system) {
        revops_buf_str(b, ",\"system\":[{\"text\":");
        add_quoted(h, b, req->system);
        revops_buf_str(b, "}]");
    }
    int64_t max_tokens = req->max_tokens > 0 && req->max_tokens < c->max_tokens ? req->max_tokens : c->max_tokens;
    revops_buf_fmt(b, ",\"inferenceConfig\":{\"maxTokens\":%lld", (long long)max_tokens);
    if (req->temperature >= 0) {
        char num[40];
        fmt_number(req->temperature, num);
        revops_buf_fmt(b, ",\"temperature\":%s", num);
    }
    revops_buf_str(b, "}");
    if (req->ntools) {
        revops_buf_str(b, ",\"toolConfig\":{\"tools\":[");
        for (size_t i = 0; i < req->ntools; i++) {
            const revops_tool *t = &req->tools[i];
            revops_buf_str(b, i ? ",{\"toolSpec\":{\"name\":" : "{\"toolSpec\":{\"name\":");
            add_quoted(h, b, t->name);
            if (t->description && *t->description) {
                revops_buf_str(b, ",\"description\":");
                add_quoted(h, b, t->description);
            }
            revops_buf_str(b, ",\"inputSchema\":{\"json\":");
            snprintf(what, sizeof what, "tool %.60s: the input schema", t->name ? t->name : "?");
            if (add_object(c, b, t->input_schema, what) < 0) return -1;
            revops_buf_str(b, "}}}");
        }
        revops_buf_str(b, "]}");
    }
    revops_buf_str(b, "}");
    if (b->oom) {
        h->error(c->self, "out of memory building the request");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------ JSON to text -- */

static void write_json(const revops_host *h, revops_json *j, revops_buf *b, int depth)
{
    if (depth > 200) {   /* json-c refuses deeper documents anyway */
        b->oom = 1;
        return;
    }
    switch (j ? h->json_type(j) : REVOPS_JSON_NULL) {
    case REVOPS_JSON_NULL:
        revops_buf_str(b, "null");
        break;
    case REVOPS_JSON_BOOL:
        revops_buf_str(b, h->json_int(j) ? "true" : "false");
        break;
    case REVOPS_JSON_INT:
        revops_buf_fmt(b, "%lld", (long long)h->json_int(j));
        break;
    case REVOPS_JSON_REAL: {
        char num[40];
        fmt_number(h->json_real(j), num);
        revops_buf_str(b, num);
        break;
    }
    case REVOPS_JSON_STRING:
        add_quoted(h, b, h->json_string(j));
        break;
    case REVOPS_JSON_ARRAY:
        revops_buf_str(b, "[");
        for (size_t i = 0; i < h->json_len(j); i++) {
            if (i) revops_buf_str(b, ",");
            write_json(h, h->json_index(j, i), b, depth + 1);
        }
        revops_buf_str(b, "]");
        break;
    case REVOPS_JSON_OBJECT:
        revops_buf_str(b, "{");
        for (size_t i = 0; i < h->json_object_len(j); i++) {
            if (i) revops_buf_str(b, ",");
            add_quoted(h, b, h->json_object_key(j, i));
            revops_buf_str(b, ":");
            write_json(h, h->json_object_value(j, i), b, depth + 1);
        }
        revops_buf_str(b, "}");
        break;
    }
}

/* ------------------------------------------------------------ errors -- */

/* The first 200 bytes of a body, on one line. */
static void body_start(const revops_http_response *r, char out[256])
{
    size_t k = 0;
    for (size_t i = 0; r->body && i < r->body_len && i < 200; i++)
        out[k++] = r->body[i] == '\n' || r->body[i] == '\r' || r->body[i] == '\t' ? ' ' : r->body[i];
    out[k] = '\0';
}

/* Bedrock's error answer: the exception name and its message.  The name is
 * cut at ':' ("Type:http://internal...") and after '#' ("ns#Type"). */
static void api_error(revops_instance *self, const revops_host *h, const revops_http_response *r, char type[80],
                      char msg[600])
{
    type[0] = msg[0] = '\0';
    revops_json *root = r->body && r->body_len ? h->json_parse(r->body, r->body_len, NULL, 0) : NULL;
    const char *m = root ? str_at(h, root, "message") : NULL;
    if (!m && root) m = str_at(h, root, "Message");
    /* The header first (what Bedrock sends; host 1.3), then the body. */
    const char *t = h->abi_minor >= 3 && h->http_header ? h->http_header(self, "x-amzn-ErrorType") : NULL;
    if (!t && root) t = str_at(h, root, "__type");
    if (!t && root) t = str_at(h, root, "code");
    if (t) {
        const char *hash = strrchr(t, '#');
        if (hash) t = hash + 1;
        snprintf(type, 80, "%.*s", (int)strcspn(t, ":"), t);
    }
    if (m) {
        snprintf(msg, 600, "%s", m);
    } else {
        char start[256];
        body_start(r, start);
        snprintf(msg, 600, "%s", start[0] ? start : "(empty body)");
    }
    if (root) h->json_free(root);
}

/* ------------------------------------------------------------ complete -- */

static revops_stop_reason map_stop(const char *s)
{
    if (!strcmp(s, "end_turn") || !strcmp(s, "stop_sequence")) return REVOPS_STOP_END_TURN;
    if (!strcmp(s, "tool_use")) return REVOPS_STOP_TOOL_USE;
    if (!strcmp(s, "max_tokens")) return REVOPS_STOP_MAX_TOKENS;
    return REVOPS_STOP_OTHER;   /* guardrail_intervened, content_filtered, malformed_*, ... */
}

static int64_t usage_of(const revops_host *h, revops_json *root, const char *path)
{
    revops_json *v = h->json_get(root, path);
    return is_type(h, v, REVOPS_JSON_INT) ? h->json_int(v) : -1;
}

static revops_status parse_answer(bedrock_ctx *c, const revops_http_response *r, revops_model_reply *reply)
{
    const revops_host *h = c->host;
    char err[160] = "", start[256];
    revops_json *root = r->body ? h->json_parse(r->body, r->body_len, err, sizeof err) : NULL;
    revops_json *content = root ? h->json_get(root, "output.message.content") : NULL;
    const char *stop = root ? str_at(h, root, "stopReason") : NULL;
    if (!is_type(h, content, REVOPS_JSON_ARRAY) || !stop) {
        body_start(r, start);
        h->error(c->self, "Bedrock converse (%s) answered HTTP %ld with a body that is not a Converse response (%s): %s",
                 c->model_id, r->status,
                 !root ? (err[0] ? err : "empty body")
                       : !is_type(h, content, REVOPS_JSON_ARRAY) ? "no output.message.content array" : "no stopReason",
                 start[0] ? start : "(empty)");
        if (root) h->json_free(root);
        return REVOPS_ERROR;
    }
    size_t n = h->json_len(content), nb = 0, skipped = 0;
    c->answer = root;
    c->blocks = calloc(n ? n : 1, sizeof *c->blocks);
    c->inputs = calloc(n ? n : 1, sizeof *c->inputs);
    if (!c->blocks || !c->inputs) {
        h->error(c->self, "out of memory");
        return REVOPS_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        revops_json *b = h->json_index(content, i);
        const char *text = str_at(h, b, "text");
        revops_json *use = b ? h->json_get(b, "toolUse") : NULL;
        if (text) {
            c->blocks[nb].type = REVOPS_BLOCK_TEXT;
            c->blocks[nb++].text = text;
        } else if (is_type(h, use, REVOPS_JSON_OBJECT)) {
            const char *id = str_at(h, use, "toolUseId"), *name = str_at(h, use, "name");
            if (!id || !name) {
                body_start(r, start);
                h->error(c->self, "Bedrock converse (%s): content block %zu is a toolUse without toolUseId or name: %s",
                         c->model_id, i, start);
                return REVOPS_ERROR;
            }
            revops_json *input = h->json_get(use, "input");
            revops_buf t = { 0 };
            if (input) write_json(h, input, &t, 0);
            else revops_buf_str(&t, "{}");
            if (t.oom) {
                revops_buf_free(&t);
                h->error(c->self, "Bedrock converse (%s): the input of tool call %s could not be copied", c->model_id, id);
                return REVOPS_ERROR;
            }
            c->inputs[c->ninputs++] = t.p;
            c->blocks[nb].type = REVOPS_BLOCK_TOOL_USE;
            c->blocks[nb].id = id;
            c->blocks[nb].name = name;
            c->blocks[nb++].input_json = t.p;
        } else {
            skipped++;   /* reasoningContent, image, citations ...: not part of the neutral reply */
        }
    }
    reply->nblocks = nb;
    reply->blocks = c->blocks;
    reply->stop = map_stop(stop);
    reply->input_tokens = usage_of(h, root, "usage.inputTokens");
    reply->output_tokens = usage_of(h, root, "usage.outputTokens");
    reply->model = c->model_id;
    h->log(c->self, REVOPS_LOG_DEBUG, "converse %s: %lld tokens in, %lld out, stop %s, %zu block%s%s", c->model_id,
           (long long)reply->input_tokens, (long long)reply->output_tokens, stop, nb, nb == 1 ? "" : "s",
           skipped ? " (other content blocks skipped)" : "");
    return REVOPS_OK;
}

static revops_status bedrock_complete(void *ctx, const revops_model_request *req, revops_model_reply *reply)
{
    bedrock_ctx *c = ctx;
    const revops_host *h = c->host;
    reply_free(c);
    memset(reply, 0, sizeof *reply);
    reply->input_tokens = reply->output_tokens = -1;
    reply->model = c->model_id;

    revops_buf body = { 0 };
    if (build_body(c, req, &body) < 0) {
        revops_buf_free(&body);
        return REVOPS_ERROR;
    }
    const char *headers[] = { "Content-Type: application/json", "Accept: application/json", NULL };
    revops_http_request hr = { "POST", c->url, headers, body.p, body.len, c->timeout, 0 };
    revops_http_response r;
    memset(&r, 0, sizeof r);
    revops_status st = h->http_aws(c->self, &hr, "bedrock", c->region, c->profile, &r);
    revops_buf_free(&body);

    revops_status out;
    char type[80], msg[600];
    if (st == REVOPS_OK && r.status >= 200 && r.status < 300) {
        out = parse_answer(c, &r, reply);
    } else if (st == REVOPS_OK) {
        api_error(c->self, h, &r, type, msg);
        h->error(c->self, "Bedrock converse (%s): HTTP %ld %s%s%s", c->model_id, r.status, type, type[0] ? ": " : "",
                 msg);
        out = REVOPS_ERROR;
    } else if (st == REVOPS_RETRY && r.status >= 400) {
        api_error(c->self, h, &r, type, msg);
        h->error(c->self, "Bedrock converse (%s): HTTP %ld %s%s%s (after %d attempt%s; transient, retries exhausted)",
                 c->model_id, r.status, type, type[0] ? ": " : "", msg, r.attempts, r.attempts == 1 ? "" : "s");
        out = REVOPS_RETRY;
    } else {
        /* No answer (connection, timeout) or no credentials: the host said why. */
        char why[900];
        snprintf(why, sizeof why, "%s", h->last_error ? h->last_error(c->self) : "");
        h->error(c->self, "Bedrock converse (%s): %s", c->model_id, why[0] ? why : "the request failed");
        out = st;
    }
    h->http_free(&r);
    if (out != REVOPS_OK) reply_free(c);
    return out;
}

/* ------------------------------------------------------------ descriptor -- */

static const revops_model_vtable vtable = { bedrock_open, bedrock_complete, bedrock_close };

static const revops_option_def options[] = {
    { "region", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 0,
      "AWS region of the Bedrock endpoint (else AWS_REGION, else AWS_DEFAULT_REGION)" },
    { "model_id", REVOPS_OPT_STRING, 0, DEFAULT_MODEL, 0, 0, NULL, 0,
      "Bedrock model id, inference profile id or ARN" },
    { "endpoint", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 0,
      "Bedrock Runtime endpoint URL (default https://bedrock-runtime.{region}.amazonaws.com; VPC endpoints, tests)" },
    { "profile", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 0,
      "section of the shared credentials file when the environment has no AWS keys (else AWS_PROFILE, default)" },
    { "max_tokens", REVOPS_OPT_INT, 0, "4096", 1, 1000000, NULL, 0,
      "most tokens one reply may have (a request asking for fewer gets fewer)" },
    { "timeout", REVOPS_OPT_REAL, 0, "120", 1, 3600, NULL, 0,
      "seconds for one Converse call (each attempt)" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_MODEL, "bedrock", "1.0.0",
    "Amazon Bedrock Runtime Converse API (SigV4 by the host): messages, system, tools",
    options, { .model = &vtable }
};
