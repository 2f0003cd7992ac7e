/*
 * revops plugin contract — the only header a revops plugin includes.
 *
 * A plugin is a shared object that exports exactly one symbol,
 * `revops_plugin_descriptor` (see REVOPS_PLUGIN below): a const struct with a
 * magic number, the ABI version it was built against, its own size, its kind,
 * name, version, description, a declarative option table and a vtable.
 *
 * Compatibility rules (read by core/loader.c):
 *   - ABI major must equal the host's; a plugin built for a newer minor than the
 *     host is refused (it may call services the host does not have).
 *   - The host services table and every struct below only grow at their end.
 *     Fields added in minor N are marked "since 1.N"; the host reads them only from
 *     plugins whose abi_minor >= N, and a plugin may call a host service added in
 *     1.N only when host->abi_minor >= N (or check the pointer for NULL).
 *
 * Threading: the host calls one plugin instance from one thread at a time.
 * Memory: chunks, batches and findings the host passes in are valid only for
 * the duration of the call; copy what you keep.  Option values (including the
 * strings opt_string returns) stay valid until the instance's close/destroy.  Whatever a plugin passes to
 * the host (rows, findings) is copied by the host before the call returns.
 *
 * See revops-plugin(7) for the narrative version of this file.
 */
#ifndef REVOPS_REVOPS_H
#define REVOPS_REVOPS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define REVOPS_ABI_MAJOR 1
#define REVOPS_ABI_MINOR 5
#define REVOPS_PLUGIN_MAGIC 0x52564f50u /* "RVOP" */
#define REVOPS_DESCRIPTOR_SYMBOL "revops_plugin_descriptor"

#if defined(__GNUC__)
#define REVOPS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define REVOPS_EXPORT __attribute__((visibility("default")))
#else
#define REVOPS_PRINTF(f, a)
#define REVOPS_EXPORT
#endif

/* ---------------------------------------------------------------- status -- */

/* Every call that can fail returns one of these.  RETRY means "transient, the
 * same call may succeed later" (timeout, 429, 5xx, lock contention): the core,
 * not the plugin, decides whether and when to retry (full-jitter exponential
 * backoff, see revops.conf(5) `retry`).  ERROR is final for this run.  Before
 * returning RETRY or ERROR, say why with host->error(). */
typedef enum revops_status {
    REVOPS_OK = 0,
    REVOPS_RETRY = 1,
    REVOPS_ERROR = 2
} revops_status;

typedef enum revops_kind {
    REVOPS_KIND_SOURCE = 1,
    REVOPS_KIND_ANALYSIS = 2,
    REVOPS_KIND_ACTION = 3,
    REVOPS_KIND_MODEL = 4       /* since 1.3: a language model provider */
} revops_kind;

typedef enum revops_log_level {
    REVOPS_LOG_ERROR = 0,
    REVOPS_LOG_WARN = 1,
    REVOPS_LOG_INFO = 2,
    REVOPS_LOG_DEBUG = 3
} revops_log_level;

/* --------------------------------------------------------------- options -- */

typedef enum revops_option_type {
    REVOPS_OPT_STRING = 1,
    REVOPS_OPT_INT = 2,      /* 64-bit; min/max apply */
    REVOPS_OPT_REAL = 3,     /* double; min/max apply; an int in config is accepted */
    REVOPS_OPT_BOOL = 4,
    REVOPS_OPT_ENUM = 5,     /* string, one of enum_values */
    REVOPS_OPT_LIST = 6,     /* libconfig array or list of strings */
    REVOPS_OPT_DATE = 7,     /* string "YYYY-MM-DD", checked by the core */
    REVOPS_OPT_PATH = 8,     /* string; relative to the config file's directory */
    REVOPS_OPT_TEMPLATE = 9  /* since 1.4: a message template, "{{placeholder}}"s checked by the core */
} revops_option_type;

/* One entry of a plugin's option table; the table ends with an entry whose
 * name is NULL.  The core validates every instance's settings against it
 * before anything runs: unknown keys (listing the allowed ones), wrong types,
 * missing required options, values outside [min, max] or not in enum_values.
 * `default_value` is written as it would be in the config ("20", "true",
 * "text", "a,b" for a list) and is validated like user input.
 * `sensitive` options hold secrets: their value may be a reference
 * (`env:NAME`, `file:/path`), is resolved by the core at open time, and is
 * never printed in logs, errors or `revops plugins`. */
typedef struct revops_option_def {
    const char *name;
    revops_option_type type;
    int required;
    const char *default_value;       /* NULL: no default */
    double min, max;                 /* used when min < max */
    const char *const *enum_values;  /* NULL-terminated, REVOPS_OPT_ENUM */
    int sensitive;
    const char *help;                /* one line, shown by `revops plugins` */
} revops_option_def;

/* Validated option values of one instance; read them through the host. */
typedef struct revops_options revops_options;

/* ------------------------------------------------------------ values/rows -- */

typedef enum revops_type {
    REVOPS_TYPE_NULL = 0,
    REVOPS_TYPE_INT = 1,
    REVOPS_TYPE_REAL = 2,
    REVOPS_TYPE_TEXT = 3,
    REVOPS_TYPE_BOOL = 4,
    REVOPS_TYPE_DATE = 5,       /* text "YYYY-MM-DD" */
    REVOPS_TYPE_TIMESTAMP = 6   /* text "YYYY-MM-DD HH:MM:SS[.fff]" */
} revops_type;

/* One cell.  `type` is the cell's own type: REVOPS_TYPE_NULL for a NULL of any
 * column type.  TEXT, DATE and TIMESTAMP cells use `v.text` (UTF-8, NUL
 * terminated, `len` bytes without the NUL). */
typedef struct revops_value {
    revops_type type;
    union {
        int64_t i;
        double r;
        int b;
        struct { const char *s; size_t len; } text;
    } v;
} revops_value;

typedef struct revops_column {
    const char *name;
    revops_type type;  /* declared type; cells may still be NULL */
} revops_column;

/* A chunk: up to rows_per_chunk rows of one dataset, as the core cut them from
 * a source's row stream.  Its JSON form is the spec's chunk contract (success,
 * error, chunked, chunk_index, total_chunks, total_rows, rows_per_chunk,
 * columns, results, query_info). */
typedef struct revops_chunk {
    const char *dataset;          /* the analysis input this chunk feeds */
    const char *source;           /* source instance name */
    size_t ncolumns;
    const revops_column *columns;
    size_t nrows;
    const revops_value *cells;    /* row-major: nrows * ncolumns */
    size_t chunk_index;           /* 0-based */
    size_t rows_per_chunk;
    int64_t total_rows;           /* -1 while unknown */
    int64_t total_chunks;         /* -1 while unknown */
    int last;                     /* non-zero on the dataset's final chunk */
} revops_chunk;

static inline const revops_value *
revops_cell(const revops_chunk *c, size_t row, size_t col)
{
    return &c->cells[row * c->ncolumns + col];
}

/* Index of the column named `name`, or -1. */
static inline long
revops_column_index(const revops_chunk *c, const char *name)
{
    for (size_t i = 0; i < c->ncolumns; i++) {
        const char *a = c->columns[i].name, *b = name;
        while (*a && *a == *b) { a++; b++; }
        if (*a == *b) return (long)i;
    }
    return -1;
}

/* ------------------------------------------------------ string building -- */

/* A growable string for building request bodies, URLs and messages.
 * Header-only, so every plugin shares this one implementation without
 * linking the core.  When memory runs out `oom` is set and later adds are
 * ignored: check it once, before using the text. */
typedef struct revops_buf {
    char *p;        /* NUL-terminated once anything was added; NULL before */
    size_t len, cap;
    int oom;
} revops_buf;

static inline void revops_buf_add(revops_buf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = (char *)realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static inline void revops_buf_str(revops_buf *b, const char *s)
{
    revops_buf_add(b, s, strlen(s));
}

static inline void revops_buf_fmt(revops_buf *b, const char *fmt, ...) REVOPS_PRINTF(2, 3);
static inline void revops_buf_fmt(revops_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || b->oom) return;
    revops_buf_add(b, "", 0);  /* make room for the terminator first */
    if (b->oom) return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *p = (char *)realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static inline const char *revops_buf_cstr(const revops_buf *b)
{
    return b->p ? b->p : "";
}

/* Overwrite memory that held a secret before it is freed. */
static inline void revops_wipe(void *p, size_t n)
{
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n--) *v++ = 0;
}

static inline void revops_buf_free(revops_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

/* Free a buffer that held a secret, wiping all of it first. */
static inline void revops_buf_wipe(revops_buf *b)
{
    if (b->p) revops_wipe(b->p, b->cap);
    revops_buf_free(b);
}

/* ------------------------------------------------------ message helpers -- */

/* The first line of a query, at most 120 characters ("..." when cut), for
 * error messages that must say which query failed. */
static inline void revops_first_line(const char *text, char *out, size_t n)
{
    const char *t = text ? text : "";
    while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r') t++;
    size_t l = strcspn(t, "\r\n");
    if (l > 120) snprintf(out, n, "%.117s...", t);
    else snprintf(out, n, "%.*s", (int)l, t);
}

/* The first SQL keyword after whitespace and comments ("SELECT", "WITH",
 * ...), so a source can refuse anything but a read-only statement. */
static inline void revops_sql_first_keyword(const char *sql, char *out, size_t n)
{
    const char *p = sql;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v') p++;
        if (p[0] == '-' && p[1] == '-') {
            p = strchr(p, '\n');
            if (!p) break;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            if (!end) { p = NULL; break; }
            p = end + 2;
        } else {
            break;
        }
    }
    size_t k = 0;
    while (p && k + 1 < n && ((p[k] >= 'a' && p[k] <= 'z') || (p[k] >= 'A' && p[k] <= 'Z'))) {
        out[k] = p[k];
        k++;
    }
    if (n) out[k] = '\0';
}

/* -------------------------------------------------------------- findings -- */

typedef enum revops_priority {
    REVOPS_PRIORITY_LOW = 0,
    REVOPS_PRIORITY_MEDIUM = 1,
    REVOPS_PRIORITY_HIGH = 2,
    REVOPS_PRIORITY_CRITICAL = 3
} revops_priority;

static inline const char *
revops_priority_name(revops_priority p)
{
    switch (p) {
    case REVOPS_PRIORITY_CRITICAL: return "critical";
    case REVOPS_PRIORITY_HIGH: return "high";
    case REVOPS_PRIORITY_MEDIUM: return "medium";
    default: return "low";
    }
}

/* Why a finding exists: one measured value against its threshold, its weight
 * in the score, and the evidence (which rows, which values) in plain words. */
typedef struct revops_signal {
    const char *name;
    double value;
    double threshold;
    double weight;
    const char *evidence;
} revops_signal;

typedef struct revops_finding {
    const char *analysis;         /* "A1".."A6" */
    const char *account_id;       /* required */
    const char *account_name;     /* optional, for people */
    const char *opportunity_id;   /* optional */
    const char *category;         /* e.g. "at_risk_account" */
    revops_priority priority;
    double score;                 /* 0..1 */
    double confidence;            /* 0..1 */
    const char *title;
    const char *description;
    size_t nsignals;
    const revops_signal *signals;
    size_t nactions;
    const char *const *recommended_actions;
    /* Set by the core when the finding is emitted: hex SHA-256 of analysis,
     * account, opportunity and category — stable across runs whatever the
     * score, so actions can recognise a finding they already delivered. */
    char fingerprint[65];
    /* Since 1.1, set by the core: non-zero when the run that produced this
     * finding lost part of an input (a later chunk or page failed after its
     * retries), so the finding rests on partial data.  Plugins emitting a
     * finding leave it 0; the core ignores what they put there. */
    int partial;
    /* Since 1.3, set by the core when a model narrated the finding (NULL / 0
     * otherwise): a summary and next steps the model wrote, checked against
     * the narrative schema.  They add to title/description/actions and never
     * change the score or priority.  Plugins emitting a finding leave them
     * NULL / 0; the core ignores what they put there. */
    const char *narrative;
    size_t nnext_steps;
    const char *const *next_steps;
    const char *narrative_model;  /* the model that wrote them */
    /* Since 1.5: the account owner (an e-mail address or a CRM user id) when
     * the analysis knows it, else NULL.  Routes can select by owner and
     * sinks can address the owner ({{owner}} in templates). */
    const char *owner;
} revops_finding;

/* --------------------------------------------------------- host services -- */

typedef struct revops_instance revops_instance;  /* the core's handle for one plugin instance */
typedef struct revops_batch revops_batch;        /* see ACTIONS below */

/* An e-mail for host->send_mail (since 1.4). */
typedef struct revops_mail {
    const char *url;             /* smtp://HOST[:PORT] or smtps://HOST[:PORT] */
    int starttls;                /* smtp://: require STARTTLS */
    const char *username, *password;  /* NULL: no AUTH */
    const char *from;            /* "Name <addr>" or "addr" */
    const char *const *to;       /* NULL-terminated, at least one */
    const char *const *cc;       /* NULL-terminated, may be NULL */
    const char *subject;         /* UTF-8 */
    const char *text, *html;     /* the bodies; either may be NULL */
    const char *const *headers;  /* extra "Name: value", NULL-terminated, may be NULL */
    double timeout;              /* seconds; 0: 60 */
} revops_mail;

/* How host->render escapes a value for its destination (since 1.4). */
typedef enum revops_escape {
    REVOPS_ESC_NONE = 0,     /* as is */
    REVOPS_ESC_SLACK = 1,    /* Slack mrkdwn: & < > as entities (no <!channel>, <@U>, <url|x>) */
    REVOPS_ESC_HTML = 2,     /* & < > " ' as entities */
    REVOPS_ESC_JSON = 3,     /* the inside of a JSON string */
    REVOPS_ESC_HEADER = 4    /* a mail header: control characters (CR, LF) become spaces */
} revops_escape;
typedef struct revops_stream revops_stream;      /* where a source writes rows */
typedef struct revops_emitter revops_emitter;    /* where an analysis emits findings */
typedef struct revops_json revops_json;          /* a parsed JSON value (json-c inside) */

typedef enum revops_json_type {
    REVOPS_JSON_NULL = 0,
    REVOPS_JSON_BOOL = 1,
    REVOPS_JSON_INT = 2,
    REVOPS_JSON_REAL = 3,
    REVOPS_JSON_STRING = 4,
    REVOPS_JSON_ARRAY = 5,
    REVOPS_JSON_OBJECT = 6
} revops_json_type;

/* "a string", "an integer", ... for messages about a JSON value's type. */
static inline const char *revops_json_type_name(revops_json_type t)
{
    switch (t) {
    case REVOPS_JSON_NULL: return "null";
    case REVOPS_JSON_BOOL: return "a boolean";
    case REVOPS_JSON_INT: return "an integer";
    case REVOPS_JSON_REAL: return "a number";
    case REVOPS_JSON_STRING: return "a string";
    case REVOPS_JSON_ARRAY: return "an array";
    default: return "an object";
    }
}

typedef struct revops_http_request {
    const char *method;                /* "GET", "POST", ... */
    const char *url;
    const char *const *headers;        /* NULL-terminated "Name: value" */
    const char *body;                  /* may be NULL */
    size_t body_len;
    double timeout;                    /* seconds for the whole exchange; 0: host default */
    /* Since 1.5: REVOPS_HTTP_* flags (read only from plugins built for 1.5). */
    unsigned flags;
} revops_http_request;

/* The URL's path is a credential (a Slack or Zapier hook URL): logs and
 * errors show only scheme, host and port. */
#define REVOPS_HTTP_SECRET_URL 1u
/* Not idempotent (e.g. "create an issue" without an idempotency key): the
 * host retries only what cannot have reached the server's application
 * (connection refused, DNS, 429, 503 with Retry-After); a timeout, a
 * dropped connection or another 5xx returns RETRY at once, and the caller
 * decides (look up before sending again). */
#define REVOPS_HTTP_NO_RETRY 2u

typedef struct revops_http_response {
    long status;                       /* HTTP status of the last attempt, 0 if none */
    char *body;                        /* NUL-terminated, owned by the host */
    size_t body_len;
    char *content_type;                /* owned by the host, may be NULL */
    int attempts;                      /* how many tries the host made */
} revops_http_response;

/* OAuth 2.0 token request (client credentials, JWT bearer, ...). */
typedef struct revops_oauth_request {
    const char *token_url;
    const char *const *form;     /* NULL-terminated, alternating name, value, name, value ... */
    const char *cache_key;       /* e.g. the client id; tokens are shared per (token_url, cache_key) */
    const char *const *headers;  /* extra headers, NULL-terminated "Name: value"; may be NULL */
} revops_oauth_request;

/* Called by http_json_stream for each streamed element or top-level member. */
typedef revops_status (*revops_json_member_fn)(void *data, const char *member, revops_json *value);

/* What the core tells an analysis about the run it is part of. */
typedef struct revops_run_info {
    const char *session_id;            /* e.g. "analysis_20261101_060000" */
    const char *pipeline;
    const char *analysis;              /* "A1".."A6" */
    const char *trigger;               /* "manual", "scheduled", ... */
    int64_t max_opportunities;         /* 0: unlimited (the core enforces it) */
    double started_at;                 /* seconds since the epoch */
} revops_run_info;

/* The host services table.  It only grows at its end; `size` is
 * sizeof(revops_host) of the host that filled it. */
typedef struct revops_host {
    uint32_t abi_major;
    uint32_t abi_minor;
    size_t size;

    /* Logging, prefixed "[kind:plugin:instance]" by the host. */
    void (*log)(revops_instance *self, revops_log_level level, const char *fmt, ...)
        REVOPS_PRINTF(3, 4);
    /* Say why the current call fails; the host shows it with the instance name. */
    void (*error)(revops_instance *self, const char *fmt, ...) REVOPS_PRINTF(2, 3);

    /* Options, already validated against the plugin's table: a required
     * option or one with a default always has a value; an optional one
     * without a default reads as NULL / 0 unless set (see opt_is_set). */
    const char *(*opt_string)(const revops_options *o, const char *name); /* STRING, ENUM, DATE, PATH; sensitive resolved */
    int64_t (*opt_int)(const revops_options *o, const char *name);
    double (*opt_real)(const revops_options *o, const char *name);
    int (*opt_bool)(const revops_options *o, const char *name);
    size_t (*opt_list_len)(const revops_options *o, const char *name);
    const char *(*opt_list_item)(const revops_options *o, const char *name, size_t i);
    int (*opt_is_set)(const revops_options *o, const char *name);

    /* Secrets: resolve "env:NAME" or "file:/path" (a file readable by group or
     * others is refused).  *out is freed (and wiped) with secret_free. */
    revops_status (*secret)(revops_instance *self, const char *ref, char **out);
    void (*secret_free)(char *secret);

    /* Clock: seconds since the epoch (REVOPS_NOW=YYYY-MM-DD[THH:MM:SS] fixes it
     * for tests); seconds left before the run's deadline (+inf outside a run). */
    double (*now)(void);
    double (*time_left)(revops_instance *self);
    /* Dates: "YYYY-MM-DD..." -> days since 1970-01-01, INT64_MIN if invalid;
     * and back, into out[11]. */
    int64_t (*date_days)(const char *iso);
    void (*date_format)(int64_t days, char out[11]);

    /* HTTP over libcurl, TLS verified, with core-owned retries: 429 (honouring
     * Retry-After), 5xx, timeouts and connection failures are retried with
     * full-jitter backoff inside the run's deadline.  Returns OK for any final
     * HTTP status (check resp->status), RETRY when retries ran out on a
     * transient failure, ERROR otherwise.  Free with http_free. */
    revops_status (*http)(revops_instance *self, const revops_http_request *req,
                          revops_http_response *resp);
    void (*http_free)(revops_http_response *resp);

    /* JSON (json-c inside; plugins need no json-c headers).  parse returns
     * NULL and fills err on invalid input.  get follows a dotted path with
     * array indexes ("data.0.name"); NULL when absent.  Values belong to the
     * root; free only the root. */
    revops_json *(*json_parse)(const char *text, size_t len, char *err, size_t errlen);
    revops_json *(*json_get)(revops_json *j, const char *path);
    revops_json_type (*json_type)(revops_json *j);
    const char *(*json_string)(revops_json *j);
    int64_t (*json_int)(revops_json *j);
    double (*json_real)(revops_json *j);
    size_t (*json_len)(revops_json *j);         /* array length, 0 otherwise */
    revops_json *(*json_index)(revops_json *j, size_t i);
    void (*json_free)(revops_json *root);
    /* JSON-quote s (with the quotes); free with host->free. */
    char *(*json_quote)(const char *s);
    void (*free)(void *p);

    /* Sources: declare the columns once, then write rows.  The core cuts rows
     * into chunks.  stream_row returns ERROR when the consumer wants the fetch
     * to stop (deadline, analysis failed): return that status from fetch. */
    revops_status (*stream_columns)(revops_stream *s, size_t ncolumns, const revops_column *columns);
    revops_status (*stream_row)(revops_stream *s, const revops_value *cells);
    void (*stream_total_rows)(revops_stream *s, int64_t total_rows);   /* optional hint */

    /* Analyses: emit a finding (copied; fingerprint computed by the core). */
    revops_status (*emit_finding)(revops_emitter *e, const revops_finding *f);

    /* A finding the host handed you (in a batch) as one line of JSON, the
     * form `revops run --format json` uses; free with host->free.  Not for a
     * plugin's own revops_finding: the host reads fields up to its own ABI. */
    char *(*finding_json)(const revops_finding *f);

    /* ---- since 1.1 ------------------------------------------------------ */

    /* OAuth 2.0 token cache.  The token endpoint is POSTed the form fields
     * (application/x-www-form-urlencoded; the host encodes the values) once;
     * the access_token is reused by every instance asking with the same
     * token_url and cache_key until 60 s before its expires_in.  After a 401
     * from the API, call oauth_invalidate and ask again: one fresh token.
     * *token stays valid until the next oauth_* call of this instance. */
    revops_status (*oauth_token)(revops_instance *self, const revops_oauth_request *req, const char **token);
    void (*oauth_invalidate)(revops_instance *self, const revops_oauth_request *req);
    /* Another string member of the cached token response (Salesforce's
     * instance_url, ...), or NULL; valid like *token. */
    const char *(*oauth_token_field)(revops_instance *self, const revops_oauth_request *req, const char *field);

    /* Streaming JSON over HTTP: the response must be one JSON object; the
     * array member named `array_member` is cut at element boundaries as the
     * bytes arrive and each element is parsed and handed to fn alone (with
     * member = array_member), so memory does not grow with the array; every
     * other top-level member is handed to fn whole when complete.  The
     * revops_json passed to fn is freed when fn returns.
     * A non-2xx response is not streamed: it is returned whole in resp, as
     * http does (OK for a final status such as 400 or 404, so check
     * resp->status; RETRY when 429/5xx outlasted the retries).  Transient
     * failures are retried as by http until the first element was handed
     * over; after that a failure returns RETRY (the core's fetch retry then
     * skips the rows already taken).  A 2xx body that ends early is taken
     * for a dropped connection and handled like one (retried, or RETRY once
     * elements were handed over); invalid JSON is ERROR with the byte offset.
     * fn returning non-OK stops the transfer and is returned. */
    revops_status (*http_json_stream)(revops_instance *self, const revops_http_request *req,
                                      const char *array_member, revops_json_member_fn fn, void *data,
                                      revops_http_response *resp);

    /* URL-encode s (RFC 3986 unreserved kept); free with host->free. */
    char *(*url_encode)(const char *s);

    /* JSON object members: count and the i-th key/value (NULL past the end). */
    size_t (*json_object_len)(revops_json *j);
    const char *(*json_object_key)(revops_json *j, size_t i);
    revops_json *(*json_object_value)(revops_json *j, size_t i);

    /* The instance's current error text (what host->error or a failed
     * http / http_json_stream / oauth_token call wrote), "" if none: read it
     * to add your own context before calling host->error. */
    const char *(*last_error)(revops_instance *self);

    /* RS256 (RSASSA-PKCS1-v1_5, SHA-256) over data with an unencrypted PEM
     * RSA private key (PKCS#1 or PKCS#8), for JWT bearer flows;
     * *b64url_signature is unpadded base64url, free with host->free.  The key
     * never appears in a message. */
    revops_status (*sign_rs256)(revops_instance *self, const char *pem_private_key, const void *data, size_t len,
                                char **b64url_signature);
    /* base64 of data (url: base64url without padding); free with host->free. */
    char *(*base64)(const void *data, size_t len, int url);

    /* ---- since 1.3 ------------------------------------------------------ */

    /* HTTP signed with AWS Signature Version 4 by the host's own signer
     * (OpenSSL HMAC-SHA256; each path segment encoded twice in the canonical
     * request as every AWS service but S3 requires, which Debian 12's
     * libcurl CURLOPT_AWS_SIGV4 does not do).  Every attempt is signed
     * afresh; retries as for http.  Credentials: AWS_ACCESS_KEY_ID,
     * AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), else the shared
     * credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials)
     * section `profile` (NULL: AWS_PROFILE, else "default").  The host adds
     * Host, X-Amz-Date, X-Amz-Security-Token (temporary credentials) and
     * Authorization; req->headers are signed too. */
    revops_status (*http_aws)(revops_instance *self, const revops_http_request *req, const char *service,
                              const char *region, const char *profile, revops_http_response *resp);
    /* A header of the instance's last HTTP response (http, http_json_stream,
     * http_aws; the final attempt's), by case-insensitive name, or NULL.
     * Valid until the instance's next HTTP call.  For APIs that put the
     * error's name in a header (AWS: x-amzn-ErrorType). */
    const char *(*http_header)(revops_instance *self, const char *name);

    /* ---- since 1.4 ------------------------------------------------------ */

    /* A message template (a REVOPS_OPT_TEMPLATE option) filled for one
     * finding.  Placeholders: {{account_id}} {{account_name}}
     * {{opportunity_id}} {{analysis}} {{category}} {{priority}} {{score}}
     * {{confidence}} {{title}} {{description}} {{signals}} {{actions}}
     * {{fingerprint}} {{pipeline}} {{session_id}} {{narrative}}
     * {{next_steps}} {{partial}}; since 1.5 {{owner}}, {{delivery_id}}
     * and {{occurrence}} (found by the finding's place in batch).  Each value (never the template's own
     * text) is cut to max_value characters ("…"; 0: no limit) and escaped
     * for `esc`.  batch may be NULL.  Free with host->free. */
    char *(*render)(const char *tmpl, const revops_finding *f, const revops_batch *batch, revops_escape esc,
                    size_t max_value);
    /* HMAC-SHA256 of data with key, as 64 lower-case hex characters + NUL
     * (OpenSSL), for webhook signatures. */
    void (*hmac_sha256_hex)(const void *key, size_t keylen, const void *data, size_t len, char out[65]);
    /* One e-mail over SMTP (libcurl): STARTTLS or SMTPS, AUTH when a user
     * is given, multipart/alternative text + HTML (UTF-8, quoted-printable),
     * the subject RFC 2047-encoded when not ASCII, Date and Message-ID
     * added.  A line break in any header value is refused (ERROR).
     * Connection failures, timeouts and SMTP 4xx are retried within the
     * deadline, then RETRY; SMTP 5xx is ERROR.  Say why: host->last_error. */
    revops_status (*send_mail)(revops_instance *self, const revops_mail *mail);

    /* ---- since 1.5 ------------------------------------------------------ */

    /* Per action instance state in the state store (state_dir/state.db):
     * text keys and values a sink keeps across runs, e.g. the Slack message
     * ts of a finding to reply in its thread, or the delivery ids it has
     * already sent (an idempotency record for APIs without an idempotency
     * key).  Each instance (actions.NAME) sees only its own keys.
     * state_put commits at once (it survives a crash right after it);
     * value NULL deletes the key.  state_get returns a copy (host->free) or
     * NULL when the key is absent (host->last_error is "" then) or the store
     * failed (host->last_error says why).  Keys and values are at most 64 KiB. */
    char *(*state_get)(revops_instance *self, const char *key);
    revops_status (*state_put)(revops_instance *self, const char *key, const char *value);
} revops_host;

/* ------------------------------------------------------------ plugin kinds -- */

/* A query as the pipeline configured it for one analysis input. */
typedef struct revops_query {
    const char *dataset;     /* analysis input name, e.g. "usage" */
    const char *text;        /* SQL / SOQL / source-specific request */
    int64_t row_limit;       /* 0: none */
} revops_query;

/* A tool a source offers to a model-driven data agent. */
typedef struct revops_tool {
    const char *name;
    const char *description;
    const char *input_schema;  /* JSON Schema (draft 2020-12) of the input object */
} revops_tool;

typedef struct revops_source_vtable {
    revops_status (*open)(revops_instance *self, const revops_host *host,
                          const revops_options *opts, void **ctx);
    /* Stream the query's rows into `out` (stream_columns, then stream_row). */
    revops_status (*fetch)(void *ctx, const revops_query *query, revops_stream *out);
    void (*close)(void *ctx);
    const revops_tool *tools;  /* terminated by {NULL}; may be NULL */
    /* Run tool `tool` with its JSON input; rows go to `out` like fetch. */
    revops_status (*call_tool)(void *ctx, const char *tool, const char *input_json,
                               revops_stream *out);
    /* Since 1.2: the query language this source speaks ("sqlite",
     * "postgres", "firebolt", "soql", ...), or NULL.  A pipeline input may
     * give one query per dialect; the core sends the one named here. */
    const char *dialect;
} revops_source_vtable;

/* One dataset an analysis consumes; the pipeline maps it to a source query. */
typedef struct revops_input_def {
    const char *name;
    int required;
    const char *columns;   /* comma-separated columns the query must return */
    const char *help;
} revops_input_def;

typedef struct revops_analysis_vtable {
    const char *analysis_type;        /* "A1".."A6": what pipelines select */
    const revops_input_def *inputs;   /* terminated by {NULL}; fed in this order */
    revops_status (*init)(revops_instance *self, const revops_host *host,
                          const revops_options *opts, const revops_run_info *run,
                          void **state);
    /* Called once per chunk of every input, inputs in declared order.  Keep
     * aggregates, not rows: memory must not grow with the row count. */
    revops_status (*process_chunk)(void *state, const revops_chunk *chunk);
    revops_status (*finalize)(void *state, revops_emitter *emit);
    void (*destroy)(void *state);
} revops_analysis_vtable;

/* A batch handed to an action: the findings a pipeline routed to it. */
struct revops_batch {
    const char *session_id;
    const char *pipeline;
    const char *analysis;
    size_t nfindings;
    const revops_finding *const *findings;
    int dry_run;              /* always 0 today: dry runs do not call deliver */
    /* Since 1.4: per finding, the id of this delivery (32 hex characters):
     * the same whenever the same finding is delivered to the same action
     * instance again (a retry, a rerun after a crash), so a sink can send it
     * as an idempotency key or look it up before creating anything. */
    const char *const *delivery_ids;
    /* Since 1.5: per finding, which alert this is for the (finding, action)
     * pair: 1 the first; n > 1 a re-alert after the suppression window
     * passed or the priority rose (its delivery id differs from the
     * first's).  A sink may thread a re-alert under the first message. */
    const int *occurrences;
};

typedef struct revops_delivery {
    revops_status status;     /* per finding: OK, RETRY (try later) or ERROR */
    char message[256];        /* why, when not OK; may be empty */
} revops_delivery;

typedef struct revops_action_vtable {
    revops_status (*open)(revops_instance *self, const revops_host *host,
                          const revops_options *opts, void **ctx);
    /* Fill results[i] for every findings[i]; return OK unless the whole batch
     * failed (then every result is taken as the returned status). */
    revops_status (*deliver)(void *ctx, const revops_batch *batch, revops_delivery *results);
    void (*close)(void *ctx);
    /* Since 1.5: REVOPS_ACTION_* flags. */
    unsigned flags;
} revops_action_vtable;

/* An output rather than an alert (a report, a findings file): it gets every
 * run's findings, and the outbox neither suppresses nor tracks them.  Without
 * it, each (finding, action) is delivered once through the outbox and not
 * again while the finding stays open (revops.conf(5) `delivery`).  An
 * instance's `outbox = true|false` overrides. */
#define REVOPS_ACTION_EVERY_RUN 1u

/* ------------------------------------------------------ models (1.3) -- */

/* A model plugin translates one provider-neutral conversation turn into its
 * provider's API (Bedrock Converse, Anthropic Messages, OpenAI Chat
 * Completions) and the answer back.  The core owns everything else: the
 * conversation, the tool loop and its bounds, token budgets, data
 * classification (what may be sent at all) and pseudonymisation.  A model
 * plugin sends exactly what it is given. */

typedef enum revops_block_type {
    REVOPS_BLOCK_TEXT = 1,
    REVOPS_BLOCK_TOOL_USE = 2,     /* assistant: call tool `name` with `input_json` */
    REVOPS_BLOCK_TOOL_RESULT = 3   /* user: the result of the call with id `id` */
} revops_block_type;

typedef struct revops_block {
    revops_block_type type;
    const char *text;        /* TEXT; TOOL_RESULT: the result (JSON text) */
    const char *id;          /* TOOL_USE: the provider's call id; TOOL_RESULT: the id it answers */
    const char *name;        /* TOOL_USE: the tool */
    const char *input_json;  /* TOOL_USE: the arguments, one JSON object as text */
    int is_error;            /* TOOL_RESULT: the call failed; text says why */
} revops_block;

typedef enum revops_role {
    REVOPS_ROLE_USER = 1,
    REVOPS_ROLE_ASSISTANT = 2
} revops_role;

typedef struct revops_message {
    revops_role role;
    size_t nblocks;
    const revops_block *blocks;
} revops_message;

typedef struct revops_model_request {
    const char *system;                /* may be NULL */
    size_t nmessages;                  /* starts with a user message, roles alternate */
    const revops_message *messages;
    size_t ntools;                     /* 0: no tools offered */
    const revops_tool *tools;
    int64_t max_tokens;                /* cap on the reply's tokens */
    double temperature;                /* < 0: the provider's default */
    int json_answer;                   /* the caller wants one JSON object as the answer */
} revops_model_request;

typedef enum revops_stop_reason {
    REVOPS_STOP_END_TURN = 1,          /* a final answer */
    REVOPS_STOP_TOOL_USE = 2,          /* the reply holds TOOL_USE blocks to run */
    REVOPS_STOP_MAX_TOKENS = 3,        /* cut at max_tokens */
    REVOPS_STOP_OTHER = 4              /* refusal, content filter, ... */
} revops_stop_reason;

/* Filled by complete(); the strings and blocks belong to the plugin and stay
 * valid until its next complete() or close(). */
typedef struct revops_model_reply {
    size_t nblocks;
    const revops_block *blocks;        /* TEXT and TOOL_USE blocks, in the provider's order */
    revops_stop_reason stop;
    int64_t input_tokens, output_tokens;  /* as the provider counted them; -1 unknown */
    const char *model;                 /* the model that answered, as the provider names it */
} revops_model_reply;

typedef struct revops_model_vtable {
    revops_status (*open)(revops_instance *self, const revops_host *host,
                          const revops_options *opts, void **ctx);
    /* One turn.  OK with the reply; RETRY when the provider stayed
     * throttled or unavailable through the host's HTTP retries; ERROR for
     * anything final (bad credentials, a 4xx, an answer that is not the
     * provider's format), said with host->error naming the provider's own
     * error type and message. */
    revops_status (*complete)(void *ctx, const revops_model_request *req, revops_model_reply *reply);
    void (*close)(void *ctx);
} revops_model_vtable;

/* -------------------------------------------------- analysis helpers -- */
/* Header-only conveniences every analysis needs, so plugins share one copy
 * (not part of the ABI: they compile into the plugin). */

typedef enum { REVOPS_CELL_OK, REVOPS_CELL_NULL, REVOPS_CELL_BAD } revops_cell_status;

/* An id or name: text as is, an integer printed into buf; NULL or empty
 * text is absent (NULL). */
static inline const char *revops_cell_text(const revops_value *v, char *buf, size_t n)
{
    switch (v->type) {
    case REVOPS_TYPE_TEXT:
    case REVOPS_TYPE_DATE:
    case REVOPS_TYPE_TIMESTAMP:
        return v->v.text.s && v->v.text.len ? v->v.text.s : NULL;
    case REVOPS_TYPE_INT:
        snprintf(buf, n, "%lld", (long long)v->v.i);
        return buf;
    default:
        return NULL;
    }
}

/* A number: sources may hand a numeric column as INT, REAL or numeric text. */
static inline revops_cell_status revops_cell_number(const revops_value *v, double *out)
{
    switch (v->type) {
    case REVOPS_TYPE_NULL: return REVOPS_CELL_NULL;
    case REVOPS_TYPE_INT: *out = (double)v->v.i; return REVOPS_CELL_OK;
    case REVOPS_TYPE_REAL: *out = v->v.r; return REVOPS_CELL_OK;
    case REVOPS_TYPE_TEXT: {
        char *end;
        if (!v->v.text.len) return REVOPS_CELL_BAD;
        *out = strtod(v->v.text.s, &end);
        return *end == '\0' ? REVOPS_CELL_OK : REVOPS_CELL_BAD;
    }
    default: return REVOPS_CELL_BAD;
    }
}

/* A date (YYYY-MM-DD, or a timestamp's day) as days since 1970-01-01. */
static inline revops_cell_status revops_cell_date(const revops_host *host, const revops_value *v, int64_t *days)
{
    if (v->type == REVOPS_TYPE_NULL) return REVOPS_CELL_NULL;
    if (v->type != REVOPS_TYPE_TEXT && v->type != REVOPS_TYPE_DATE && v->type != REVOPS_TYPE_TIMESTAMP)
        return REVOPS_CELL_BAD;
    *days = host->date_days(v->v.text.s);
    return *days == INT64_MIN ? REVOPS_CELL_BAD : REVOPS_CELL_OK;
}

/* A cell as a warning shows it: quoted and cut short, or NULL. */
static inline void revops_cell_describe(const revops_value *v, char out[64])
{
    switch (v->type) {
    case REVOPS_TYPE_NULL: snprintf(out, 64, "NULL"); break;
    case REVOPS_TYPE_INT: snprintf(out, 64, "%lld", (long long)v->v.i); break;
    case REVOPS_TYPE_REAL: snprintf(out, 64, "%g", v->v.r); break;
    case REVOPS_TYPE_BOOL: snprintf(out, 64, "%s", v->v.b ? "true" : "false"); break;
    default: snprintf(out, 64, "'%.40s%s'", v->v.text.s, v->v.text.len > 40 ? "..." : ""); break;
    }
}

/* 1234.5 / 70 / 0.25: at most two decimals, without trailing zeros. */
static inline void revops_fmt_num(double x, char out[48])
{
    snprintf(out, 48, "%.2f", x);
    char *dot = strchr(out, '.');
    if (!dot) return;
    char *end = out + strlen(out) - 1;
    while (end > dot && *end == '0') *end-- = '\0';
    if (end == dot) *end = '\0';
    if (strcmp(out, "-0") == 0) strcpy(out, "0");   /* -0.001 rounds to "-0" */
}

/* A map from string keys (copied) to the plugin's pointers: open
 * addressing, FNV-1a.  Zero-initialise it; iterate with
 *   for (size_t i = 0; i < m.cap; i++) if (m.keys[i]) use(m.keys[i], m.vals[i]);
 * (slot order, not insertion order: sort before emitting). */
typedef struct revops_map {
    char **keys;
    void **vals;
    size_t cap, count;
} revops_map;

static inline uint64_t revops_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static inline int revops_map_grow_(revops_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 256;
    char **keys = (char **)calloc(cap, sizeof *keys);
    void **vals = (void **)calloc(cap, sizeof *vals);
    if (!keys || !vals) { free(keys); free(vals); return -1; }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = revops_hash(m->keys[i]) & (cap - 1);
        while (keys[j]) j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

/* The value slot of `key`, created (holding NULL) on first sight; NULL only
 * when out of memory. */
static inline void **revops_map_slot(revops_map *m, const char *key)
{
    if ((m->count + 1) * 10 > m->cap * 7 && revops_map_grow_(m) < 0) return NULL;
    size_t j = revops_hash(key) & (m->cap - 1);
    for (; m->keys[j]; j = (j + 1) & (m->cap - 1))
        if (strcmp(m->keys[j], key) == 0) return &m->vals[j];
    size_t n = strlen(key);
    char *k = (char *)malloc(n + 1);
    if (!k) return NULL;
    memcpy(k, key, n + 1);
    m->keys[j] = k;
    m->vals[j] = NULL;
    m->count++;
    return &m->vals[j];
}

/* The value of `key`, or NULL when absent. */
static inline void *revops_map_get(const revops_map *m, const char *key)
{
    if (!m->cap) return NULL;
    for (size_t j = revops_hash(key) & (m->cap - 1); m->keys[j]; j = (j + 1) & (m->cap - 1))
        if (strcmp(m->keys[j], key) == 0) return m->vals[j];
    return NULL;
}

/* Free the keys, each value with free_value (may be NULL), and the table. */
static inline void revops_map_free(revops_map *m, void (*free_value)(void *))
{
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        free(m->keys[i]);
        if (free_value) free_value(m->vals[i]);
    }
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* Rows of one dataset an analysis could not (fully) use: counted, the first
 * described, reported once as a warning - never silently dropped. */
typedef struct revops_bad_rows {
    uint64_t rows;        /* rows seen so far: the caller counts them */
    uint64_t bad;
    uint64_t first_row;   /* 1-based */
    char first[200];
    int reported;
} revops_bad_rows;

REVOPS_PRINTF(2, 3)
static inline void revops_bad_rows_note(revops_bad_rows *b, const char *fmt, ...)
{
    if (b->bad++ == 0) {
        b->first_row = b->rows;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->first, sizeof b->first, fmt, ap);
        va_end(ap);
    }
}

/* Once: "dataset 'NAME': B of N rows not fully used (WHAT); first at row R: ..." */
static inline void revops_bad_rows_report(revops_bad_rows *b, const revops_host *host, revops_instance *self,
                                          const char *dataset, const char *what)
{
    if (!b->bad || b->reported) return;
    b->reported = 1;
    host->log(self, REVOPS_LOG_WARN, "dataset '%s': %llu of %llu rows not fully used (%s); first at row %llu: %s",
              dataset, (unsigned long long)b->bad, (unsigned long long)b->rows, what,
              (unsigned long long)b->first_row, b->first);
}

/* ------------------------------------------------------------- descriptor -- */

typedef struct revops_plugin {
    uint32_t magic;          /* REVOPS_PLUGIN_MAGIC */
    uint16_t abi_major;      /* REVOPS_ABI_MAJOR at build time */
    uint16_t abi_minor;      /* REVOPS_ABI_MINOR at build time */
    uint32_t struct_size;    /* sizeof(revops_plugin) at build time */
    revops_kind kind;
    const char *name;        /* unique among loaded plugins: [a-z][a-z0-9_]* */
    const char *version;     /* the plugin's own version */
    const char *description; /* one line */
    const revops_option_def *options;  /* terminated by {NULL}; may be NULL */
    union {
        const revops_source_vtable *source;
        const revops_analysis_vtable *analysis;
        const revops_action_vtable *action;
        const revops_model_vtable *model;   /* since 1.3 */
    } vt;
} revops_plugin;

/* Declare the descriptor:
 *   REVOPS_PLUGIN = { REVOPS_PLUGIN_HEADER, REVOPS_KIND_SOURCE, "sqlite", ... };
 */
#define REVOPS_PLUGIN_HEADER \
    REVOPS_PLUGIN_MAGIC, REVOPS_ABI_MAJOR, REVOPS_ABI_MINOR, (uint32_t)sizeof(revops_plugin)
#define REVOPS_PLUGIN \
    REVOPS_EXPORT extern const revops_plugin revops_plugin_descriptor; \
    const revops_plugin revops_plugin_descriptor

#ifdef __cplusplus
}
#endif
#endif /* REVOPS_REVOPS_H */
