/*
 * Mock revops host for plugin unit tests; see mock_host.h for what it does
 * and how to build a test with it.  Simplicity over speed: everything is
 * copied, nothing is pooled, and out-of-memory aborts (tests only).
 */
#include "mock_host.h"

#include <json-c/json.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int mock_verbose;

/* ------------------------------------------------------------ memory -- */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("mock_host: out of memory\n", stderr);
        abort();
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fputs("mock_host: out of memory\n", stderr);
        abort();
    }
    return p;
}

static char *xstrdup(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s);
    char *p = xmalloc(n + 1);
    memcpy(p, s, n + 1);
    return p;
}

/* The instance handle is opaque to plugins; any non-NULL pointer will do. */
static char instance_tag;

revops_instance *mock_self(void)
{
    return (revops_instance *)&instance_tag;
}

/* --------------------------------------------------------- log/error -- */

#define MOCK_MAX_LOGS 512

static char *log_lines[MOCK_MAX_LOGS];
static revops_log_level log_levels[MOCK_MAX_LOGS];
static size_t log_n;
static char last_error[1024];
static const char *level_names[] = { "error", "warn", "info", "debug" };

static void keep_line(revops_log_level level, const char *fmt, va_list ap)
{
    char buf[2048];
    vsnprintf(buf, sizeof buf, fmt, ap);
    if (mock_verbose) fprintf(stderr, "[mock %s] %s\n", level_names[level], buf);
    if (log_n < MOCK_MAX_LOGS) {
        log_levels[log_n] = level;
        log_lines[log_n++] = xstrdup(buf);
    }
}

static void m_log(revops_instance *self, revops_log_level level, const char *fmt, ...)
{
    (void)self;
    va_list ap;
    va_start(ap, fmt);
    keep_line(level, fmt, ap);
    va_end(ap);
}

static void m_error(revops_instance *self, const char *fmt, ...)
{
    (void)self;
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    keep_line(REVOPS_LOG_ERROR, fmt, aq);
    va_end(aq);
    va_end(ap);
}

size_t mock_log_count(revops_log_level level)
{
    size_t n = 0;
    for (size_t i = 0; i < log_n; i++) n += log_levels[i] == level;
    return n;
}

size_t mock_log_total(void) { return log_n; }
const char *mock_log_line(size_t i) { return i < log_n ? log_lines[i] : NULL; }
revops_log_level mock_log_level_of(size_t i) { return i < log_n ? log_levels[i] : REVOPS_LOG_DEBUG; }
const char *mock_last_error(void) { return last_error; }

void mock_reset_logs(void)
{
    for (size_t i = 0; i < log_n; i++) free(log_lines[i]);
    log_n = 0;
    last_error[0] = '\0';
}

/* ----------------------------------------------------------- options -- */

typedef struct mock_value {
    const revops_option_def *def;
    char *value;          /* NULL: no value (optional, no default) */
    int is_set;
    char **items;         /* LIST, split on commas, trimmed */
    size_t nitems;
} mock_value;

struct revops_options {
    size_t n;
    mock_value *v;
};

static void split_list(mock_value *mv)
{
    const char *p = mv->value;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        while (p < end && isspace((unsigned char)*p)) p++;
        const char *e = end;
        while (e > p && isspace((unsigned char)e[-1])) e--;
        mv->items = xrealloc(mv->items, (mv->nitems + 1) * sizeof *mv->items);
        char *item = xmalloc((size_t)(e - p) + 1);
        memcpy(item, p, (size_t)(e - p));
        item[e - p] = '\0';
        mv->items[mv->nitems++] = item;
        p = comma ? comma + 1 : end;
    }
}

revops_options *mock_options_new(const revops_option_def *defs, const mock_option *set)
{
    revops_options *o = xmalloc(sizeof *o);
    o->n = 0;
    for (const revops_option_def *d = defs; d && d->name; d++) o->n++;
    o->v = xmalloc((o->n ? o->n : 1) * sizeof *o->v);
    for (size_t i = 0; i < o->n; i++) {
        mock_value *mv = &o->v[i];
        *mv = (mock_value){ .def = &defs[i] };
        const char *value = defs[i].default_value;
        for (const mock_option *s = set; s && s->name; s++)
            if (strcmp(s->name, defs[i].name) == 0) {
                value = s->value;
                mv->is_set = 1;
            }
        mv->value = xstrdup(value);
        if (defs[i].type == REVOPS_OPT_LIST) split_list(mv);
    }
    for (const mock_option *s = set; s && s->name; s++) {
        int known = 0;
        for (size_t i = 0; i < o->n; i++) known |= strcmp(s->name, defs[i].name) == 0;
        if (!known) fprintf(stderr, "mock_host: test sets unknown option '%s'\n", s->name);
    }
    return o;
}

void mock_options_free(revops_options *o)
{
    if (!o) return;
    for (size_t i = 0; i < o->n; i++) {
        for (size_t j = 0; j < o->v[i].nitems; j++) free(o->v[i].items[j]);
        free(o->v[i].items);
        free(o->v[i].value);
    }
    free(o->v);
    free(o);
}

static const mock_value *find_opt(const revops_options *o, const char *name)
{
    for (size_t i = 0; o && i < o->n; i++)
        if (strcmp(o->v[i].def->name, name) == 0) return &o->v[i];
    fprintf(stderr, "mock_host: plugin reads undeclared option '%s'\n", name);
    return NULL;
}

static const char *m_opt_string(const revops_options *o, const char *name)
{
    const mock_value *v = find_opt(o, name);
    return v ? v->value : NULL;
}

static int64_t m_opt_int(const revops_options *o, const char *name)
{
    const mock_value *v = find_opt(o, name);
    return v && v->value ? strtoll(v->value, NULL, 10) : 0;
}

static double m_opt_real(const revops_options *o, const char *name)
{
    const mock_value *v = find_opt(o, name);
    return v && v->value ? strtod(v->value, NULL) : 0.0;
}

static int m_opt_bool(const revops_options *o, const char *name)
{
    const mock_value *v = find_opt(o, name);
    if (!v || !v->value) return 0;
    return strcasecmp(v->value, "true") == 0 || strcasecmp(v->value, "yes") == 0 ||
           strcasecmp(v->value, "on") == 0 || strcmp(v->value, "1") == 0;
}

static size_t m_opt_list_len(const revops_options *o, const char *name)
{
    const mock_value *v = find_opt(o, name);
    return v ? v->nitems : 0;
}

static const char *m_opt_list_item(const revops_options *o, const char *name, size_t i)
{
    const mock_value *v = find_opt(o, name);
    return v && i < v->nitems ? v->items[i] : NULL;
}

static int m_opt_is_set(const revops_options *o, const char *name)
{
    const mock_value *v = find_opt(o, name);
    return v ? v->is_set : 0;
}

/* ----------------------------------------------------------- secrets -- */

static revops_status m_secret(revops_instance *self, const char *ref, char **out)
{
    *out = NULL;
    if (ref && strncmp(ref, "env:", 4) == 0) {
        const char *v = getenv(ref + 4);
        if (!v) {
            m_error(self, "secret %s: variable not set", ref);
            return REVOPS_ERROR;
        }
        *out = xstrdup(v);
        return REVOPS_OK;
    }
    if (ref && strncmp(ref, "file:", 5) == 0) {
        FILE *f = fopen(ref + 5, "r");
        if (!f) {
            m_error(self, "secret %s: %s", ref, strerror(errno));
            return REVOPS_ERROR;
        }
        char buf[4096];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
        buf[n] = '\0';
        *out = xstrdup(buf);
        return REVOPS_OK;
    }
    m_error(self, "secret: reference must be env:NAME or file:/path");
    return REVOPS_ERROR;
}

static void m_secret_free(char *s)
{
    if (!s) return;
    memset(s, 0, strlen(s));
    free(s);
}

/* ------------------------------------------------------- clock/dates -- */

static double fixed_now = -1;

void mock_set_now(double t) { fixed_now = t; }

static double m_now(void)
{
    return fixed_now >= 0 ? fixed_now : (double)time(NULL);
}

static double time_left = INFINITY;

void mock_set_time_left(double seconds) { time_left = seconds; }

static double m_time_left(revops_instance *self)
{
    (void)self;
    return time_left;
}

/* Howard Hinnant's civil-date algorithms, as in core/date.c. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int64_t m_date_days(const char *s)
{
    static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (!s) return INT64_MIN;
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (s[i] != '-') return INT64_MIN;
        } else if (!isdigit((unsigned char)s[i])) {
            return INT64_MIN;
        }
    }
    if (s[10] != '\0' && s[10] != ' ' && s[10] != 'T') return INT64_MIN;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m < 1 || m > 12 || d < 1 || d > dm[m - 1] + (m == 2 && leap)) return INT64_MIN;
    return days_from_civil(y, (unsigned)m, (unsigned)d);
}

static void m_date_format(int64_t z, char out[11])
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)((y % 10000 + 10000) % 10000), m % 100u, d % 100u);
}

/* -------------------------------------------------------------- http -- */

static revops_status m_http(revops_instance *self, const revops_http_request *req,
                            revops_http_response *resp)
{
    memset(resp, 0, sizeof *resp);
    m_error(self, "http %s %s: not in mock", req && req->method ? req->method : "?",
            req && req->url ? req->url : "?");
    return REVOPS_ERROR;
}

static void m_http_free(revops_http_response *resp)
{
    if (!resp) return;
    free(resp->body);
    free(resp->content_type);
    memset(resp, 0, sizeof *resp);
}

/* -------------------------------------------------------------- json -- */

static revops_json *m_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    const char *why = NULL;
    if (e == json_tokener_continue)
        why = "unexpected end of input";
    else if (e != json_tokener_success)
        why = json_tokener_error_desc(e);
    else if (!o)
        why = "a bare null is not supported by the mock";   /* json-c's null is NULL */
    for (size_t i = end; !why && i < len; i++)
        if (!isspace((unsigned char)text[i])) why = "trailing characters after the JSON value";
    if (why) {
        if (err && errlen) snprintf(err, errlen, "%s", why);
        json_object_put(o);
        return NULL;
    }
    return (revops_json *)o;
}

static revops_json *m_json_get(revops_json *j, const char *path)
{
    json_object *cur = (json_object *)j;
    char part[256];
    while (cur && path && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof part) return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        if (json_object_is_type(cur, json_type_object)) {
            json_object *next = NULL;
            if (!json_object_object_get_ex(cur, part, &next)) return NULL;
            cur = next;
        } else if (json_object_is_type(cur, json_type_array)) {
            char *end;
            unsigned long idx = strtoul(part, &end, 10);
            if (!n || *end || idx >= json_object_array_length(cur)) return NULL;
            cur = json_object_array_get_idx(cur, idx);
        } else {
            return NULL;
        }
        path = dot ? dot + 1 : path + n;
    }
    return (revops_json *)cur;
}

static revops_json_type m_json_type(revops_json *j)
{
    switch (json_object_get_type((json_object *)j)) {
    case json_type_boolean: return REVOPS_JSON_BOOL;
    case json_type_int: return REVOPS_JSON_INT;
    case json_type_double: return REVOPS_JSON_REAL;
    case json_type_string: return REVOPS_JSON_STRING;
    case json_type_array: return REVOPS_JSON_ARRAY;
    case json_type_object: return REVOPS_JSON_OBJECT;
    default: return REVOPS_JSON_NULL;
    }
}

static const char *m_json_string(revops_json *j)
{
    json_object *o = (json_object *)j;
    return json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

static int64_t m_json_int(revops_json *j) { return json_object_get_int64((json_object *)j); }
static double m_json_real(revops_json *j) { return json_object_get_double((json_object *)j); }

static size_t m_json_len(revops_json *j)
{
    json_object *o = (json_object *)j;
    return json_object_is_type(o, json_type_array) ? json_object_array_length(o) : 0;
}

static revops_json *m_json_index(revops_json *j, size_t i)
{
    json_object *o = (json_object *)j;
    if (!json_object_is_type(o, json_type_array) || i >= json_object_array_length(o)) return NULL;
    return (revops_json *)json_object_array_get_idx(o, i);
}

static void m_json_free(revops_json *root) { json_object_put((json_object *)root); }

static char *to_string_free(json_object *o)
{
    char *s = xstrdup(json_object_to_json_string_ext(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

static char *m_json_quote(const char *s)
{
    return to_string_free(json_object_new_string(s ? s : ""));
}

static void m_free(void *p) { free(p); }

static json_object *str_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static char *m_finding_json(const revops_finding *f)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "analysis", str_or_null(f->analysis));
    json_object_object_add(o, "account_id", str_or_null(f->account_id));
    json_object_object_add(o, "account_name", str_or_null(f->account_name));
    json_object_object_add(o, "opportunity_id", str_or_null(f->opportunity_id));
    json_object_object_add(o, "category", str_or_null(f->category));
    json_object_object_add(o, "priority", json_object_new_string(revops_priority_name(f->priority)));
    json_object_object_add(o, "score", json_object_new_double(f->score));
    json_object_object_add(o, "confidence", json_object_new_double(f->confidence));
    json_object_object_add(o, "title", str_or_null(f->title));
    json_object_object_add(o, "description", str_or_null(f->description));
    json_object *sigs = json_object_new_array();
    for (size_t i = 0; i < f->nsignals; i++) {
        const revops_signal *s = &f->signals[i];
        json_object *so = json_object_new_object();
        json_object_object_add(so, "name", str_or_null(s->name));
        json_object_object_add(so, "value", json_object_new_double(s->value));
        json_object_object_add(so, "threshold", json_object_new_double(s->threshold));
        json_object_object_add(so, "weight", json_object_new_double(s->weight));
        json_object_object_add(so, "evidence", str_or_null(s->evidence));
        json_object_array_add(sigs, so);
    }
    json_object_object_add(o, "signals", sigs);
    json_object *acts = json_object_new_array();
    for (size_t i = 0; i < f->nactions; i++)
        json_object_array_add(acts, str_or_null(f->recommended_actions[i]));
    json_object_object_add(o, "recommended_actions", acts);
    json_object_object_add(o, "fingerprint", json_object_new_string(f->fingerprint));
    return to_string_free(o);
}

/* ------------------------------------------------------------ stream -- */

static revops_status m_stream_columns(revops_stream *s, size_t n, const revops_column *cols)
{
    if (s->columns_declared) {
        m_error(mock_self(), "stream_columns called twice");
        return REVOPS_ERROR;
    }
    s->columns_declared = 1;
    s->ncolumns = n;
    s->columns = xmalloc((n ? n : 1) * sizeof *s->columns);
    for (size_t i = 0; i < n; i++) {
        s->columns[i].name = xstrdup(cols[i].name);
        s->columns[i].type = cols[i].type;
    }
    return REVOPS_OK;
}

static void copy_value(revops_value *dst, const revops_value *src)
{
    *dst = *src;
    if (src->type == REVOPS_TYPE_TEXT || src->type == REVOPS_TYPE_DATE ||
        src->type == REVOPS_TYPE_TIMESTAMP) {
        char *p = xmalloc(src->v.text.len + 1);
        memcpy(p, src->v.text.s, src->v.text.len);
        p[src->v.text.len] = '\0';
        dst->v.text.s = p;
    }
}

static revops_status m_stream_row(revops_stream *s, const revops_value *cells)
{
    if (!s->columns_declared) {
        m_error(mock_self(), "stream_row before stream_columns");
        return REVOPS_ERROR;
    }
    if (s->stop_after && s->nrows >= s->stop_after) return REVOPS_ERROR;
    if (s->nrows == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->cells = xrealloc(s->cells, s->cap * (s->ncolumns ? s->ncolumns : 1) * sizeof *s->cells);
    }
    for (size_t i = 0; i < s->ncolumns; i++)
        copy_value(&s->cells[s->nrows * s->ncolumns + i], &cells[i]);
    s->nrows++;
    return REVOPS_OK;
}

static void m_stream_total_rows(revops_stream *s, int64_t total)
{
    s->total_rows_hint = total;
}

void mock_stream_free(revops_stream *s)
{
    for (size_t i = 0; i < s->nrows * s->ncolumns; i++) {
        revops_type t = s->cells[i].type;
        if (t == REVOPS_TYPE_TEXT || t == REVOPS_TYPE_DATE || t == REVOPS_TYPE_TIMESTAMP)
            free((char *)s->cells[i].v.text.s);
    }
    for (size_t i = 0; i < s->ncolumns; i++) free((char *)s->columns[i].name);
    free(s->columns);
    free(s->cells);
    memset(s, 0, sizeof *s);
}

/* ----------------------------------------------------------- emitter -- */

/* Not SHA-256 (the mock avoids OpenSSL): four FNV-1a lanes over the same
 * fields the core hashes, enough to be stable and distinct in tests. */
static void fake_fingerprint(const revops_finding *f, char out[65])
{
    const char *parts[] = { f->analysis, f->account_id, f->opportunity_id, f->category };
    for (int lane = 0; lane < 4; lane++) {
        uint64_t h = 1469598103934665603ull + (uint64_t)lane * 0x9e3779b97f4a7c15ull;
        for (int p = 0; p < 4; p++) {
            for (const char *c = parts[p] ? parts[p] : ""; *c; c++)
                h = (h ^ (unsigned char)*c) * 1099511628211ull;
            h = (h ^ 0x1f) * 1099511628211ull;
        }
        snprintf(out + lane * 16, 17, "%016" PRIx64, h);
    }
}

static revops_status m_emit_finding(revops_emitter *e, const revops_finding *f)
{
    if (!f->account_id || !f->analysis || !f->category || !f->title) {
        m_error(mock_self(), "finding without analysis, account_id, category or title");
        return REVOPS_ERROR;
    }
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 8;
        e->findings = xrealloc(e->findings, e->cap * sizeof *e->findings);
    }
    revops_finding *c = &e->findings[e->n++];
    *c = *f;
    c->analysis = xstrdup(f->analysis);
    c->account_id = xstrdup(f->account_id);
    c->account_name = xstrdup(f->account_name);
    c->opportunity_id = xstrdup(f->opportunity_id);
    c->category = xstrdup(f->category);
    c->title = xstrdup(f->title);
    c->description = xstrdup(f->description);
    revops_signal *sigs = xmalloc((f->nsignals ? f->nsignals : 1) * sizeof *sigs);
    for (size_t i = 0; i < f->nsignals; i++) {
        sigs[i] = f->signals[i];
        sigs[i].name = xstrdup(f->signals[i].name);
        sigs[i].evidence = xstrdup(f->signals[i].evidence);
    }
    c->signals = sigs;
    const char **acts = xmalloc((f->nactions ? f->nactions : 1) * sizeof *acts);
    for (size_t i = 0; i < f->nactions; i++) acts[i] = xstrdup(f->recommended_actions[i]);
    c->recommended_actions = acts;
    fake_fingerprint(c, c->fingerprint);
    return REVOPS_OK;
}

void mock_emitter_free(revops_emitter *e)
{
    for (size_t k = 0; k < e->n; k++) {
        revops_finding *f = &e->findings[k];
        free((char *)f->analysis);
        free((char *)f->account_id);
        free((char *)f->account_name);
        free((char *)f->opportunity_id);
        free((char *)f->category);
        free((char *)f->title);
        free((char *)f->description);
        for (size_t i = 0; i < f->nsignals; i++) {
            free((char *)f->signals[i].name);
            free((char *)f->signals[i].evidence);
        }
        free((void *)f->signals);
        for (size_t i = 0; i < f->nactions; i++) free((char *)f->recommended_actions[i]);
        free((void *)f->recommended_actions);
    }
    free(e->findings);
    memset(e, 0, sizeof *e);
}

/* -------------------------------------------------------------- table -- */

static const revops_host host_table = {
    .abi_major = REVOPS_ABI_MAJOR,
    .abi_minor = REVOPS_ABI_MINOR,
    .size = sizeof(revops_host),
    .log = m_log,
    .error = m_error,
    .opt_string = m_opt_string,
    .opt_int = m_opt_int,
    .opt_real = m_opt_real,
    .opt_bool = m_opt_bool,
    .opt_list_len = m_opt_list_len,
    .opt_list_item = m_opt_list_item,
    .opt_is_set = m_opt_is_set,
    .secret = m_secret,
    .secret_free = m_secret_free,
    .now = m_now,
    .time_left = m_time_left,
    .date_days = m_date_days,
    .date_format = m_date_format,
    .http = m_http,
    .http_free = m_http_free,
    .json_parse = m_json_parse,
    .json_get = m_json_get,
    .json_type = m_json_type,
    .json_string = m_json_string,
    .json_int = m_json_int,
    .json_real = m_json_real,
    .json_len = m_json_len,
    .json_index = m_json_index,
    .json_free = m_json_free,
    .json_quote = m_json_quote,
    .free = m_free,
    .stream_columns = m_stream_columns,
    .stream_row = m_stream_row,
    .stream_total_rows = m_stream_total_rows,
    .emit_finding = m_emit_finding,
    .finding_json = m_finding_json,
};

const revops_host *mock_host(void)
{
    return &host_table;
}
