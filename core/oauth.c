/* OAuth 2.0 token cache, shared by every plugin instance of the process.
 * A token is fetched once per (token_url, cache_key), reused until 60 s
 * before its expires_in (a response without expires_in — Salesforce's
 * client-credentials flow — is reused until the API answers 401), and
 * refreshed once when the plugin reports a 401 with oauth_invalidate.
 * Tokens never reach a log line or an error message: errors quote the
 * endpoint's `error` and `error_description` only. */
#include "config.h"
#include "core.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define EARLY_REFRESH 60.0  /* seconds before expires_in */

typedef struct token_entry {
    char *token_url, *cache_key;
    char *token;
    json_object *response;     /* the whole token response, for oauth_token_field */
    double expires_at;         /* mono_now() seconds; 0: until invalidated */
    struct token_entry *next;
} token_entry;

static token_entry *cache;
/* Replaced tokens stay allocated until exit: a plugin may still hold the
 * pointer it was given (valid until its next oauth_* call). */
static token_entry *retired;
/* Sources on different instances fetch at the same time (pool.c) and may
 * share one token (same token_url and cache_key).  The lock is held across
 * a fetch on purpose: a second worker waits for the first one's token
 * instead of fetching its own, and no two workers retire one entry. */
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;

static token_entry *find(const revops_oauth_request *req)
{
    const char *key = req->cache_key ? req->cache_key : "";
    for (token_entry *e = cache; e; e = e->next)
        if (!strcmp(e->token_url, req->token_url) && !strcmp(e->cache_key, key)) return e;
    return NULL;
}

static void retire(token_entry *e)
{
    token_entry **pp = &cache;
    while (*pp && *pp != e) pp = &(*pp)->next;
    if (*pp) *pp = e->next;
    e->next = retired;
    retired = e;
}

char *url_encode(const char *s)
{
    char *e = curl_easy_escape(NULL, s ? s : "", 0);
    char *r = xstrdup(e ? e : "");
    curl_free(e);
    return r;
}

static char *form_body(const revops_oauth_request *req)
{
    strbuf sb = { 0 };
    for (size_t i = 0; req->form && req->form[i] && req->form[i + 1]; i += 2) {
        char *k = url_encode(req->form[i]), *v = url_encode(req->form[i + 1]);
        sb_printf(&sb, "%s%s=%s", sb.len ? "&" : "", k, v);
        free(k);
        secret_wipe_free(v);
    }
    return sb_steal(&sb);
}

static revops_status fetch_token(revops_instance *self, const revops_oauth_request *req, token_entry **out)
{
    char *body = form_body(req);
    const char *hdrs[16];
    size_t nh = 0;
    hdrs[nh++] = "Content-Type: application/x-www-form-urlencoded";
    hdrs[nh++] = "Accept: application/json";
    for (size_t i = 0; req->headers && req->headers[i] && nh < 15; i++) hdrs[nh++] = req->headers[i];
    hdrs[nh] = NULL;
    revops_http_request hr = { "POST", req->token_url, hdrs, body, strlen(body), 0, 0 };
    revops_http_response resp;
    revops_status st = http_request(self, &hr, &resp);
    secret_wipe_free(body);
    if (st != REVOPS_OK) {
        http_response_free(&resp);
        return st;  /* http_request said why */
    }
    json_object *o = resp.body ? json_tokener_parse(resp.body) : NULL;
    json_object *tok = NULL, *exp = NULL, *err = NULL, *desc = NULL;
    if (o) {
        json_object_object_get_ex(o, "access_token", &tok);
        json_object_object_get_ex(o, "expires_in", &exp);
        json_object_object_get_ex(o, "error", &err);
        json_object_object_get_ex(o, "error_description", &desc);
    }
    if (resp.status < 200 || resp.status > 299 || !tok || !json_object_is_type(tok, json_type_string)) {
        if (self)
            snprintf(self->error, sizeof self->error, "token request to %.*s refused: HTTP %ld%s%s%s%s",
                     (int)strcspn(req->token_url, "?"), req->token_url, resp.status, err ? ": " : "",
                     err ? json_object_get_string(err) : (o ? "" : " (the response is not JSON)"), desc ? ": " : "",
                     desc ? json_object_get_string(desc) : "");
        json_object_put(o);
        http_response_free(&resp);
        return resp.status == 429 || resp.status >= 500 ? REVOPS_RETRY : REVOPS_ERROR;
    }
    token_entry *e = xcalloc(1, sizeof *e);
    e->token_url = xstrdup(req->token_url);
    e->cache_key = xstrdup(req->cache_key ? req->cache_key : "");
    e->token = xstrdup(json_object_get_string(tok));
    e->response = o;
    if (exp && (json_object_is_type(exp, json_type_int) || json_object_is_type(exp, json_type_double) ||
                json_object_is_type(exp, json_type_string))) {
        double secs = json_object_get_double(exp);
        if (secs > 0) e->expires_at = mono_now() + (secs > 2 * EARLY_REFRESH ? secs - EARLY_REFRESH : secs / 2);
    }
    e->next = cache;
    cache = e;
    /* Wipe the copy of the token in the raw body before freeing it. */
    if (resp.body) memset(resp.body, 0, resp.body_len);
    http_response_free(&resp);
    log_msg(REVOPS_LOG_DEBUG, self ? self->label : NULL, "new OAuth token from %.*s%s",
            (int)strcspn(req->token_url, "?"), req->token_url, e->expires_at ? "" : " (no expires_in: kept until a 401)");
    *out = e;
    return REVOPS_OK;
}

revops_status oauth_token(revops_instance *self, const revops_oauth_request *req, const char **token)
{
    *token = NULL;
    if (!req || !req->token_url) {
        if (self) snprintf(self->error, sizeof self->error, "oauth_token: no token_url");
        return REVOPS_ERROR;
    }
    pthread_mutex_lock(&cache_mu);
    token_entry *e = find(req);
    if (e && e->expires_at && mono_now() >= e->expires_at) {
        retire(e);
        e = NULL;
    }
    if (!e) {
        revops_status st = fetch_token(self, req, &e);
        if (st != REVOPS_OK) {
            pthread_mutex_unlock(&cache_mu);
            return st;
        }
    }
    *token = e->token;   /* stays valid: a replaced entry is retired, not freed */
    pthread_mutex_unlock(&cache_mu);
    return REVOPS_OK;
}

void oauth_invalidate(revops_instance *self, const revops_oauth_request *req)
{
    (void)self;
    pthread_mutex_lock(&cache_mu);
    token_entry *e = req && req->token_url ? find(req) : NULL;
    if (e) retire(e);
    pthread_mutex_unlock(&cache_mu);
}

const char *oauth_token_field(revops_instance *self, const revops_oauth_request *req, const char *field)
{
    (void)self;
    pthread_mutex_lock(&cache_mu);
    token_entry *e = req && req->token_url ? find(req) : NULL;
    json_object *v;
    const char *r = NULL;
    if (e && e->response && json_object_object_get_ex(e->response, field, &v) && json_object_is_type(v, json_type_string))
        r = json_object_get_string(v);
    pthread_mutex_unlock(&cache_mu);
    return r;
}

static void free_list(token_entry *e)
{
    while (e) {
        token_entry *n = e->next;
        free(e->token_url);
        free(e->cache_key);
        secret_wipe_free(e->token);
        json_object_put(e->response);
        free(e);
        e = n;
    }
}

void oauth_cleanup(void)
{
    free_list(cache);
    free_list(retired);
    cache = retired = NULL;
}
