/* AWS access for the host services: credentials from the standard
 * environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN), the region from revops.conf's aws.region or
 * AWS_REGION / AWS_DEFAULT_REGION, and Secrets Manager's GetSecretValue for
 * `aws-secretsmanager:NAME[#json-key]` secret references, signed with our
 * own SigV4 (sigv4.c says why not libcurl's). */
#include "config.h"
#include "core.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Set while the configuration loads, before any worker thread exists;
 * only read after that. */
static char *cfg_region, *cfg_sm_endpoint;

typedef struct cached_secret { char *name, *value; struct cached_secret *next; } cached_secret;
static cached_secret *secret_cache;
/* Instances may be opened from worker threads (a parallel fan-out), each
 * resolving its secret references: the cache is locked, across the
 * GetSecretValue call too, so one secret named by several options is still
 * fetched once. */
static pthread_mutex_t secret_mu = PTHREAD_MUTEX_INITIALIZER;

void aws_configure(const char *region, const char *secretsmanager_endpoint)
{
    free(cfg_region);
    free(cfg_sm_endpoint);
    cfg_region = region ? xstrdup(region) : NULL;
    cfg_sm_endpoint = secretsmanager_endpoint ? xstrdup(secretsmanager_endpoint) : NULL;
}

const char *aws_region(void)
{
    if (cfg_region && *cfg_region) return cfg_region;
    const char *r = getenv("AWS_REGION");
    if (r && *r) return r;
    r = getenv("AWS_DEFAULT_REGION");
    return r && *r ? r : NULL;
}

int aws_credentials_env(aws_credentials *c)
{
    c->access_key_id = getenv("AWS_ACCESS_KEY_ID");
    c->secret_access_key = getenv("AWS_SECRET_ACCESS_KEY");
    c->session_token = getenv("AWS_SESSION_TOKEN");
    return c->access_key_id && *c->access_key_id && c->secret_access_key && *c->secret_access_key ? 0 : -1;
}

void aws_amz_date(char out[17])
{
    /* The wall clock, never REVOPS_NOW: AWS refuses a request whose
     * X-Amz-Date is more than 5 minutes from its own clock. */
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* Credentials from the shared credentials file, as the AWS CLI and SDKs read
 * it: AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, section [profile]
 * (profile: the argument, else AWS_PROFILE, else "default"). */
typedef struct aws_creds_owned { char *key, *secret, *token; } aws_creds_owned;

static void creds_owned_free(aws_creds_owned *o)
{
    if (o->key) secret_wipe_free(o->key);
    if (o->secret) secret_wipe_free(o->secret);
    if (o->token) secret_wipe_free(o->token);
    memset(o, 0, sizeof *o);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = '\0';
    return s;
}

static int aws_credentials_file(const char *profile, aws_creds_owned *o, char *err, size_t errlen)
{
    const char *file = getenv("AWS_SHARED_CREDENTIALS_FILE");
    char *path = NULL;
    if (file && *file) path = xstrdup(file);
    else if (getenv("HOME")) path = xasprintf("%s/.aws/credentials", getenv("HOME"));
    if (!profile || !*profile) profile = getenv("AWS_PROFILE");
    if (!profile || !*profile) profile = "default";
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) {
        snprintf(err, errlen, "no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set and the shared "
                 "credentials file %s cannot be read", path ? path : "~/.aws/credentials");
        free(path);
        return -1;
    }
    char line[1024];
    int in = 0, found = 0;
    while (fgets(line, sizeof line, f)) {
        char *l = trim(line);
        if (*l == '#' || *l == ';' || !*l) continue;
        if (*l == '[') {
            char *e = strchr(l, ']');
            if (e) *e = '\0';
            in = strcmp(trim(l + 1), profile) == 0;
            found |= in;
            continue;
        }
        char *eq = strchr(l, '=');
        if (!in || !eq) continue;
        *eq = '\0';
        char *k = trim(l), *v = trim(eq + 1);
        char **slot = !strcmp(k, "aws_access_key_id") ? &o->key : !strcmp(k, "aws_secret_access_key") ? &o->secret
                      : !strcmp(k, "aws_session_token") ? &o->token : NULL;
        if (slot) {
            if (*slot) secret_wipe_free(*slot);
            *slot = xstrdup(v);
        }
    }
    revops_wipe(line, sizeof line);
    fclose(f);
    if (!found || !o->key || !o->secret) {
        snprintf(err, errlen, "no AWS credentials: the environment has none and %s %s", path,
                 found ? "has no aws_access_key_id / aws_secret_access_key in that profile" : "has no such profile");
        snprintf(err + strlen(err), errlen - strlen(err), " ('%s')", profile);
        creds_owned_free(o);
        free(path);
        return -1;
    }
    free(path);
    return 0;
}

/* Environment first, then the shared credentials file. */
static int aws_credentials_get(const char *profile, aws_credentials *c, aws_creds_owned *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    if (aws_credentials_env(c) == 0) return 0;
    if (aws_credentials_file(profile, o, err, errlen) < 0) return -1;
    c->access_key_id = o->key;
    c->secret_access_key = o->secret;
    c->session_token = o->token;
    return 0;
}

typedef struct aws_signing {
    const revops_http_request *req;
    const char *service, *region;
    aws_credentials cred;
    char *host_header, *path, *query;
} aws_signing;

/* Called by http.c before every attempt: a fresh X-Amz-Date and signature. */
static struct curl_slist *aws_sign_attempt(void *data, char *err, size_t errlen)
{
    aws_signing *a = data;
    char amz_date[17];
    aws_amz_date(amz_date);
    size_t n = 0;
    while (a->req->headers && a->req->headers[n]) n++;
    const char **sign = xcalloc(n + 4, sizeof *sign);
    char *h_date = xasprintf("X-Amz-Date: %s", amz_date);
    char *h_token = a->cred.session_token && *a->cred.session_token
                        ? xasprintf("X-Amz-Security-Token: %s", a->cred.session_token) : NULL;
    size_t k = 0;
    sign[k++] = a->host_header;
    for (size_t i = 0; i < n; i++) sign[k++] = a->req->headers[i];
    sign[k++] = h_date;
    if (h_token) sign[k++] = h_token;
    sigv4_request sr = { a->req->method ? a->req->method : "GET", a->path, a->query, sign, a->req->body,
                         a->req->body ? a->req->body_len : 0, a->region, a->service, amz_date, 0 };
    sigv4_result sig;
    struct curl_slist *out = NULL;
    if (sigv4_sign(&sr, &a->cred, &sig, err, errlen) == 0) {
        char *h_auth = xasprintf("Authorization: %s", sig.authorization);
        /* libcurl sends its own Host header from the URL, the same text. */
        for (size_t i = 1; i < k; i++) out = curl_slist_append(out, sign[i]);
        out = curl_slist_append(out, h_auth);
        free(h_auth);
        sigv4_result_free(&sig);
    }
    free(h_date);
    if (h_token) secret_wipe_free(h_token);
    free(sign);
    return out;
}

revops_status aws_http(revops_instance *self, const revops_http_request *req, const char *service, const char *region,
                       const char *profile, revops_http_response *resp, char *err, size_t errlen)
{
    memset(resp, 0, sizeof *resp);
    if (!region || !*region) region = aws_region();
    if (!region) {
        snprintf(err, errlen, "no AWS region: set the plugin's region option, aws.region in the configuration, or AWS_REGION");
        return REVOPS_ERROR;
    }
    aws_signing a = { req, service, region, { 0 }, NULL, NULL, NULL };
    aws_creds_owned owned;
    if (aws_credentials_get(profile, &a.cred, &owned, err, errlen) < 0) return REVOPS_ERROR;
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    revops_status st = REVOPS_ERROR;
    if (curl_url_set(u, CURLUPART_URL, req->url, 0) != CURLUE_OK || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        snprintf(err, errlen, "AWS endpoint '%s' is not a URL", req->url);
    } else {
        curl_url_get(u, CURLUPART_PORT, &port, 0);
        curl_url_get(u, CURLUPART_PATH, &path, 0);
        curl_url_get(u, CURLUPART_QUERY, &query, 0);
        a.host_header = port ? xasprintf("Host: %s:%s", host, port) : xasprintf("Host: %s", host);
        a.path = path && *path ? path : (char *)"/";
        a.query = query;
        st = http_request_signed(self, req, resp, aws_sign_attempt, &a);
        if (st != REVOPS_OK && self) snprintf(err, errlen, "%s", self->error);
        free(a.host_header);
    }
    creds_owned_free(&owned);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    return st;
}

/* POST a JSON API call ("X-Amz-Target" style) to an AWS endpoint, signed.
 * Returns the http_request status; resp holds the answer. */
revops_status aws_json_call(revops_instance *self, const char *endpoint, const char *service, const char *region,
                            const char *target, const char *content_type, const char *body, revops_http_response *resp,
                            char *err, size_t errlen)
{
    char *h_type = xasprintf("Content-Type: %s", content_type);
    char *h_target = xasprintf("X-Amz-Target: %s", target);
    const char *headers[] = { h_type, h_target, NULL };
    revops_http_request req = { "POST", endpoint, headers, body, strlen(body), 0, 0 };
    revops_status st = aws_http(self, &req, service, region, NULL, resp, err, errlen);
    free(h_type);
    free(h_target);
    return st;
}

static const char *cached(const char *name)
{
    for (cached_secret *c = secret_cache; c; c = c->next)
        if (!strcmp(c->name, name)) return c->value;
    return NULL;
}

/* GetSecretValue; the SecretString is kept for the process so several
 * options naming one secret make one call. */
static int get_secret_string(const char *name, const char **out, char *err, size_t errlen)
{
    if ((*out = cached(name))) return 0;
    const char *region = aws_region();
    if (!region) {
        snprintf(err, errlen, "aws-secretsmanager:%s: no AWS region (set aws.region in the configuration, or AWS_REGION)", name);
        return -1;
    }
    char *endpoint = cfg_sm_endpoint ? xstrdup(cfg_sm_endpoint) : xasprintf("https://secretsmanager.%s.amazonaws.com", region);
    json_object *req = json_object_new_object();
    json_object_object_add(req, "SecretId", json_object_new_string(name));
    revops_instance in;
    instance_init(&in, REVOPS_KIND_SOURCE, "aws-secretsmanager", name, NULL, NULL);
    snprintf(in.label, sizeof in.label, "secret:aws-secretsmanager");
    revops_http_response resp;
    char why[512] = "";
    revops_status st = aws_json_call(&in, endpoint, "secretsmanager", region, "secretsmanager.GetSecretValue",
                                     "application/x-amz-json-1.1", json_object_to_json_string(req), &resp, why, sizeof why);
    json_object_put(req);
    free(endpoint);
    int rc = -1;
    json_object *o = resp.body ? json_tokener_parse(resp.body) : NULL, *v = NULL;
    if (st != REVOPS_OK && !resp.status) {
        snprintf(err, errlen, "aws-secretsmanager:%s: %s", name, why);
    } else if (resp.status != 200) {
        json_object *type = NULL, *msg = NULL;
        if (o) {
            json_object_object_get_ex(o, "__type", &type);
            if (!json_object_object_get_ex(o, "message", &msg)) json_object_object_get_ex(o, "Message", &msg);
        }
        const char *t = type ? json_object_get_string(type) : "error";
        const char *hash = strrchr(t, '#');
        snprintf(err, errlen, "aws-secretsmanager:%s: HTTP %ld %s%s%s", name, resp.status, hash ? hash + 1 : t,
                 msg ? ": " : "", msg ? json_object_get_string(msg) : "");
    } else if (!o || !json_object_object_get_ex(o, "SecretString", &v) || !json_object_is_type(v, json_type_string)) {
        snprintf(err, errlen, "aws-secretsmanager:%s: the answer has no SecretString (binary secrets are not supported)", name);
    } else {
        cached_secret *c = xcalloc(1, sizeof *c);
        c->name = xstrdup(name);
        c->value = xstrdup(json_object_get_string(v));
        c->next = secret_cache;
        secret_cache = c;
        *out = c->value;
        rc = 0;
    }
    json_object_put(o);
    if (resp.body) memset(resp.body, 0, resp.body_len);
    http_response_free(&resp);
    return rc;
}

int aws_secret_resolve(const char *spec, char **out, char *err, size_t errlen)
{
    const char *hash = strchr(spec, '#');
    char *name = hash ? xstrndup(spec, (size_t)(hash - spec)) : xstrdup(spec);
    const char *value;
    pthread_mutex_lock(&secret_mu);
    int rc = get_secret_string(name, &value, err, errlen);
    if (rc == 0 && hash) {
        /* "NAME#key": the SecretString is a JSON object, take one member. */
        json_object *o = json_tokener_parse(value), *v = NULL;
        if (!o || !json_object_object_get_ex(o, hash + 1, &v) || json_object_is_type(v, json_type_null)) {
            snprintf(err, errlen, "aws-secretsmanager:%s: the secret is not a JSON object with a member '%s'", name, hash + 1);
            rc = -1;
        } else {
            *out = xstrdup(json_object_get_string(v));
        }
        json_object_put(o);
    } else if (rc == 0) {
        *out = xstrdup(value);
    }
    pthread_mutex_unlock(&secret_mu);
    free(name);
    return rc;
}

void aws_cleanup(void)
{
    while (secret_cache) {
        cached_secret *n = secret_cache->next;
        free(secret_cache->name);
        secret_wipe_free(secret_cache->value);
        free(secret_cache);
        secret_cache = n;
    }
    aws_configure(NULL, NULL);
}
