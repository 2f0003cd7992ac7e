/* The host services table every plugin receives.  It only grows at its end
 * (sqlite3_api_routines style); `size` tells a plugin how much of it this
 * host has. */
#include "config.h"
#include "core.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void instance_init(revops_instance *in, revops_kind kind, const char *plugin, const char *name,
                   const revops_config *cfg, const retry_policy *retry)
{
    memset(in, 0, sizeof *in);
    in->kind = kind;
    in->plugin = plugin;
    in->name = name;
    in->cfg = cfg;
    in->retry = retry ? retry : &retry_policy_default;
    snprintf(in->label, sizeof in->label, "%s:%s:%s", kind_name(kind), plugin, name);
}

static void h_log(revops_instance *self, revops_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, self ? self->label : "plugin", fmt, ap);
    va_end(ap);
}

static void h_error(revops_instance *self, const char *fmt, ...)
{
    if (!self) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(self->error, sizeof self->error, fmt, ap);
    va_end(ap);
}

/* Options: asking for an undeclared name is a plugin bug; say so loudly
 * instead of returning garbage. */
static const opt_value *opt(const revops_options *o, const char *name, revops_option_type want)
{
    const opt_value *v = options_find(o, name);
    if (!v) {
        log_error("plugin bug: it reads option '%s', which its option table does not declare", name);
        return NULL;
    }
    (void)want;
    return v->has_value ? v : NULL;
}

static const char *h_opt_string(const revops_options *o, const char *name)
{
    const opt_value *v = opt(o, name, REVOPS_OPT_STRING);
    return v ? v->str : NULL;
}

static int64_t h_opt_int(const revops_options *o, const char *name)
{
    const opt_value *v = opt(o, name, REVOPS_OPT_INT);
    return v ? (v->def->type == REVOPS_OPT_REAL ? (int64_t)v->r : v->i) : 0;
}

static double h_opt_real(const revops_options *o, const char *name)
{
    const opt_value *v = opt(o, name, REVOPS_OPT_REAL);
    return v ? (v->def->type == REVOPS_OPT_INT ? (double)v->i : v->r) : 0.0;
}

static int h_opt_bool(const revops_options *o, const char *name)
{
    const opt_value *v = opt(o, name, REVOPS_OPT_BOOL);
    return v ? v->b : 0;
}

static size_t h_opt_list_len(const revops_options *o, const char *name)
{
    const opt_value *v = opt(o, name, REVOPS_OPT_LIST);
    return v ? v->nlist : 0;
}

static const char *h_opt_list_item(const revops_options *o, const char *name, size_t i)
{
    const opt_value *v = opt(o, name, REVOPS_OPT_LIST);
    return v && i < v->nlist ? v->list[i] : NULL;
}

static int h_opt_is_set(const revops_options *o, const char *name)
{
    const opt_value *v = options_find(o, name);
    return v ? v->is_set : 0;
}

static revops_status h_secret(revops_instance *self, const char *ref, char **out)
{
    char err[512];
    if (secret_resolve(ref, out, err, sizeof err) < 0) {
        h_error(self, "%s", err);
        return REVOPS_ERROR;
    }
    return REVOPS_OK;
}

static double h_now(void)
{
    return clock_now();
}

static double h_time_left(revops_instance *self)
{
    if (!self || self->deadline <= 0) return INFINITY;
    return self->deadline - mono_now();
}

/* JSON: revops_json is a json_object; the root owns its children. */
static revops_json *h_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    if (!o || e != json_tokener_success) {
        if (err && errlen)
            snprintf(err, errlen, "invalid JSON at byte %zu: %s", (size_t)tok->char_offset,
                     e == json_tokener_continue ? "unexpected end of input" : json_tokener_error_desc(e));
        json_object_put(o);
        o = NULL;
    } else if ((size_t)tok->char_offset < len && text[tok->char_offset] && strspn(text + tok->char_offset, " \t\r\n") != len - (size_t)tok->char_offset) {
        if (err && errlen) snprintf(err, errlen, "invalid JSON: trailing data at byte %zu", (size_t)tok->char_offset);
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return (revops_json *)o;
}

static revops_json *h_json_get(revops_json *j, const char *path)
{
    json_object *cur = (json_object *)j;
    char *copy = xstrdup(path), *save = NULL;
    for (char *t = strtok_r(copy, ".", &save); t && cur; t = strtok_r(NULL, ".", &save)) {
        if (json_object_is_type(cur, json_type_array)) {
            char *end;
            long i = strtol(t, &end, 10);
            cur = (*end || i < 0) ? NULL : json_object_array_get_idx(cur, (size_t)i);
        } else if (json_object_is_type(cur, json_type_object)) {
            json_object *next = NULL;
            cur = json_object_object_get_ex(cur, t, &next) ? next : NULL;
        } else {
            cur = NULL;
        }
    }
    free(copy);
    return (revops_json *)cur;
}

static revops_json_type h_json_type(revops_json *j)
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

static const char *h_json_string(revops_json *j)
{
    return json_object_is_type((json_object *)j, json_type_string) ? json_object_get_string((json_object *)j) : NULL;
}

static int64_t h_json_int(revops_json *j)
{
    return json_object_get_int64((json_object *)j);
}

static double h_json_real(revops_json *j)
{
    return json_object_get_double((json_object *)j);
}

static size_t h_json_len(revops_json *j)
{
    return json_object_is_type((json_object *)j, json_type_array) ? json_object_array_length((json_object *)j) : 0;
}

static revops_json *h_json_index(revops_json *j, size_t i)
{
    return json_object_is_type((json_object *)j, json_type_array)
               ? (revops_json *)json_object_array_get_idx((json_object *)j, i)
               : NULL;
}

static void h_json_free(revops_json *root)
{
    json_object_put((json_object *)root);
}

static char *h_json_quote(const char *s)
{
    return json_quote_string(s);
}

static void h_free(void *p)
{
    free(p);
}

static size_t h_json_object_len(revops_json *j)
{
    return json_object_is_type((json_object *)j, json_type_object) ? (size_t)json_object_object_length((json_object *)j) : 0;
}

/* The i-th member in insertion order (json-c keeps it). */
static struct lh_entry *member_at(revops_json *j, size_t i)
{
    if (!json_object_is_type((json_object *)j, json_type_object)) return NULL;
    struct lh_entry *e = json_object_get_object((json_object *)j)->head;
    while (e && i--) e = e->next;
    return e;
}

static const char *h_json_object_key(revops_json *j, size_t i)
{
    struct lh_entry *e = member_at(j, i);
    return e ? (const char *)lh_entry_k(e) : NULL;
}

static revops_json *h_json_object_value(revops_json *j, size_t i)
{
    struct lh_entry *e = member_at(j, i);
    return e ? (revops_json *)lh_entry_v(e) : NULL;
}

static const char *h_last_error(revops_instance *self)
{
    return self ? self->error : "";
}

static revops_status h_emit_finding(revops_emitter *e, const revops_finding *f)
{
    char err[256];
    if (finding_validate(f, e->analysis, err, sizeof err) < 0) {
        snprintf(e->error, sizeof e->error, "rejected finding for account '%s': %s",
                 f && f->account_id ? f->account_id : "?", err);
        return REVOPS_ERROR;
    }
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 32;
        e->v = xrealloc(e->v, e->cap * sizeof *e->v);
    }
    revops_finding tmp = *f;
    if (e->abi_minor < 5) tmp.owner = NULL;  /* not in a 1.4 plugin's struct */
    e->v[e->n++] = finding_copy(&tmp);
    return REVOPS_OK;
}


static revops_status h_http_aws(revops_instance *self, const revops_http_request *req, const char *service,
                                const char *region, const char *profile, revops_http_response *resp)
{
    char err[1024] = "";
    revops_status st = aws_http(self, req, service, region, profile, resp, err, sizeof err);
    if (st != REVOPS_OK && self && err[0] && strcmp(err, self->error) != 0) snprintf(self->error, sizeof self->error, "%s", err);
    return st;
}

/* Sinks' own state, namespaced by the instance (actions.NAME); other kinds
 * by their label, so no two instances can read each other's keys. */
static const char *kv_owner(const revops_instance *self)
{
    return self->kind == REVOPS_KIND_ACTION ? self->name : self->label;
}

static char *h_state_get(revops_instance *self, const char *key)
{
    if (!self || !self->cfg || !key) return NULL;
    char err[512];
    char *v = store_kv_get(self->cfg, kv_owner(self), key, err, sizeof err);
    snprintf(self->error, sizeof self->error, "%s", err);
    return v;
}

static revops_status h_state_put(revops_instance *self, const char *key, const char *value)
{
    if (!self || !self->cfg) return REVOPS_ERROR;
    char err[512];
    if (store_kv_put(self->cfg, kv_owner(self), key, value, err, sizeof err) == 0) return REVOPS_OK;
    snprintf(self->error, sizeof self->error, "%s", err);
    /* A locked database is transient; anything else (disk full, a
     * corrupt file) needs an operator. */
    return strstr(err, "locked") || strstr(err, "busy") ? REVOPS_RETRY : REVOPS_ERROR;
}

const revops_host host_services = {
    .abi_major = REVOPS_ABI_MAJOR,
    .abi_minor = REVOPS_ABI_MINOR,
    .size = sizeof(revops_host),
    .log = h_log,
    .error = h_error,
    .opt_string = h_opt_string,
    .opt_int = h_opt_int,
    .opt_real = h_opt_real,
    .opt_bool = h_opt_bool,
    .opt_list_len = h_opt_list_len,
    .opt_list_item = h_opt_list_item,
    .opt_is_set = h_opt_is_set,
    .secret = h_secret,
    .secret_free = secret_wipe_free,
    .now = h_now,
    .time_left = h_time_left,
    .date_days = date_days,
    .date_format = date_format,
    .http = http_request,
    .http_free = http_response_free,
    .json_parse = h_json_parse,
    .json_get = h_json_get,
    .json_type = h_json_type,
    .json_string = h_json_string,
    .json_int = h_json_int,
    .json_real = h_json_real,
    .json_len = h_json_len,
    .json_index = h_json_index,
    .json_free = h_json_free,
    .json_quote = h_json_quote,
    .free = h_free,
    .stream_columns = stream_columns_impl,
    .stream_row = stream_row_impl,
    .stream_total_rows = stream_total_impl,
    .emit_finding = h_emit_finding,
    .finding_json = finding_json_string,
    /* since 1.1 */
    .oauth_token = oauth_token,
    .oauth_invalidate = oauth_invalidate,
    .oauth_token_field = oauth_token_field,
    .http_json_stream = http_json_stream,
    .url_encode = url_encode,
    .json_object_len = h_json_object_len,
    .json_object_key = h_json_object_key,
    .json_object_value = h_json_object_value,
    .last_error = h_last_error,
    .sign_rs256 = sign_rs256,
    .base64 = base64_encode,
    /* since 1.3 */
    .http_aws = h_http_aws,
    .http_header = http_last_header,
    /* since 1.4 */
    .render = template_render,
    .hmac_sha256_hex = hmac_sha256_hex,
    .send_mail = mail_send,
    /* since 1.5 */
    .state_get = h_state_get,
    .state_put = h_state_put,
};
