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
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *cfg_region, *cfg_sm_endpoint;

typedef struct cached_secret { char *name, *value; struct cached_secret *next; } cached_secret;
static cached_secret *secret_cache;

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
    time_t t = (time_t)clock_now();
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* POST a JSON API call ("X-Amz-Target" style) to an AWS endpoint, signed.
 * Returns the http_request status; resp holds the answer. */
revops_status aws_json_call(revops_instance *self, const char *endpoint, const char *service, const char *region,
                            const char *target, const char *content_type, const char *body, revops_http_response *resp,
                            char *err, size_t errlen)
{
    aws_credentials cred;
    if (aws_credentials_env(&cred) < 0) {
        snprintf(err, errlen, "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones)");
        return REVOPS_ERROR;
    }
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    if (curl_url_set(u, CURLUPART_URL, endpoint, 0) != CURLUE_OK || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        snprintf(err, errlen, "AWS endpoint '%s' is not a URL", endpoint);
        curl_url_cleanup(u);
        return REVOPS_ERROR;
    }
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    char amz_date[17];
    aws_amz_date(amz_date);
    char *h_host = port ? xasprintf("Host: %s:%s", host, port) : xasprintf("Host: %s", host);
    char *h_type = xasprintf("Content-Type: %s", content_type);
    char *h_target = xasprintf("X-Amz-Target: %s", target);
    char *h_date = xasprintf("X-Amz-Date: %s", amz_date);
    char *h_token = cred.session_token && *cred.session_token ? xasprintf("X-Amz-Security-Token: %s", cred.session_token) : NULL;
    const char *sign_headers[] = { h_host, h_type, h_target, h_date, h_token, NULL };
    sigv4_request sr = { "POST", path && *path ? path : "/", query, sign_headers, body, strlen(body), region, service, amz_date, 0 };
    sigv4_result sig;
    revops_status st = REVOPS_ERROR;
    if (sigv4_sign(&sr, &cred, &sig, err, errlen) == 0) {
        char *h_auth = xasprintf("Authorization: %s", sig.authorization);
        const char *headers[] = { h_host, h_type, h_target, h_date, h_auth, h_token, NULL };
        revops_http_request req = { "POST", endpoint, headers, body, strlen(body), 0 };
        st = http_request(self, &req, resp);
        if (st != REVOPS_OK && self) snprintf(err, errlen, "%s", self->error);
        free(h_auth);
        sigv4_result_free(&sig);
    }
    free(h_host);
    free(h_type);
    free(h_target);
    free(h_date);
    if (h_token) secret_wipe_free(h_token);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
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
