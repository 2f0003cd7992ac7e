/* HTTP for plugins, over libcurl, with retries owned by the core.
 *
 * One share handle keeps DNS answers, TLS sessions and connections across
 * requests, so a source paging through an API reuses its connection.  TLS
 * peer and host verification stay on: libcurl's defaults, never switched
 * off; operators point `http.ca_file`/`ca_path` at a private CA instead.
 * Proxies come from `http.proxy` or libcurl's usual environment variables.
 *
 * Transient failures (429, 500/502/503/504, timeouts, refused or dropped
 * connections) are retried with full-jitter backoff; a Retry-After header
 * (seconds or HTTP-date) is honoured instead of our own delay, and nothing
 * waits past the run's deadline. */
#include "config.h"
#include "core.h"

#include <curl/curl.h>
#include <ctype.h>
#include <pthread.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static CURLSH *share;

/* The share handle is used by every worker of a parallel fan-out at once
 * (pool.c), and libcurl only makes that safe through lock callbacks: one
 * mutex per kind of shared data, so a DNS lookup never waits for a
 * connection-cache update. */
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *userp)
{
    (void)h, (void)access, (void)userp;
    pthread_mutex_lock(&share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *userp)
{
    (void)h, (void)userp;
    pthread_mutex_unlock(&share_locks[data]);
}

/* Called once from main() before any thread exists: curl_global_init is
 * not thread-safe. */
void http_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_init(&share_locks[i], NULL);
    share = curl_share_init();
    curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
}

void http_global_cleanup(void)
{
    if (share) {
        curl_share_cleanup(share);
        for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_destroy(&share_locks[i]);
    }
    share = NULL;
    curl_global_cleanup();
}

/* Where a response body goes: buffered whole (http), or, for a 2xx
 * answer, through the JSON scanner (http_json_stream). */
typedef struct exchange {
    strbuf body;
    double retry_after;   /* seconds, -1 if none */
    char *content_type;
    CURL *h;
    json_scan *scan;      /* NULL: buffer the body */
    int streaming;        /* the status is 2xx and bytes go to scan */
    int scan_failed;
    strbuf headers;       /* "Name: value\n" of the last response, for host->http_header */
} exchange;

#define ERROR_BODY_MAX (1u << 20)  /* keep at most 1 MiB of an error body */

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
    exchange *x = data;
    size_t len = size * n;
    if (x->scan && !x->streaming && x->body.len == 0) {
        long status = 0;
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
        x->streaming = status >= 200 && status < 300;
    }
    if (x->streaming) {
        if (json_scan_feed(x->scan, p, len) < 0) {
            x->scan_failed = 1;
            return 0;  /* CURLE_WRITE_ERROR: stop the transfer */
        }
        return len;
    }
    if (x->body.len < ERROR_BODY_MAX || !x->scan) sb_add(&x->body, p, len);
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *data)
{
    exchange *x = data;
    size_t len = size * n;
    char line[512];
    size_t l = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, p, l);
    line[l] = '\0';
    while (l && (line[l - 1] == '\r' || line[l - 1] == '\n')) line[--l] = '\0';
    if (l && strncasecmp(line, "HTTP/", 5) != 0 && x->headers.len + l < 8192) {
        sb_add(&x->headers, line, l);
        sb_add(&x->headers, "\n", 1);
    }
    if (strncasecmp(line, "HTTP/", 5) == 0) {  /* a new response (after 100-continue): reset */
        x->retry_after = -1;
        x->headers.len = 0;
        free(x->content_type);
        x->content_type = NULL;
    } else if (strncasecmp(line, "retry-after:", 12) == 0) {
        const char *v = line + 12;
        while (*v == ' ') v++;
        if (isdigit((unsigned char)*v)) {
            x->retry_after = strtod(v, NULL);
        } else {
            time_t when = curl_getdate(v, NULL);
            if (when > 0) x->retry_after = fmax(0, (double)when - clock_now());
        }
    } else if (strncasecmp(line, "content-type:", 13) == 0) {
        const char *v = line + 13;
        while (*v == ' ') v++;
        free(x->content_type);
        x->content_type = xstrdup(v);
    }
    return len;
}

static int transient_curl_error(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

static int transient_status(long st)
{
    /* 529: Anthropic's overloaded_error, documented as retryable. */
    return st == 429 || st == 500 || st == 502 || st == 503 || st == 504 || st == 529;
}

/* "https://host/path?token=..." -> "https://host/path": logs never carry
 * query strings, which is where some APIs put credentials; with
 * REVOPS_HTTP_SECRET_URL (a hook URL whose path is the credential) only
 * "https://host[:port]". */
static void url_for_log(const char *url, int origin_only, char *out, size_t n)
{
    size_t l = strcspn(url, "?#");
    if (origin_only) {
        const char *p = strstr(url, "://");
        if (p) l = (size_t)(p + 3 - url) + strcspn(p + 3, "/?#");
    }
    snprintf(out, n, "%.*s%s", (int)(l < n ? l : n - 1), url, origin_only && url[l] ? "/…" : "");
}

void http_response_free(revops_http_response *resp)
{
    if (!resp) return;
    free(resp->body);
    free(resp->content_type);
    resp->body = resp->content_type = NULL;
    resp->body_len = 0;
}

static void take_response(revops_instance *self, revops_http_response *resp, exchange *x, long status, int attempt)
{
    if (self) snprintf(self->resp_headers, sizeof self->resp_headers, "%.*s", (int)x->headers.len,
                       x->headers.buf ? x->headers.buf : "");
    sb_free(&x->headers);
    http_response_free(resp);
    resp->status = status;
    resp->attempts = attempt;
    resp->body_len = x->body.len;
    resp->body = sb_steal(&x->body);
    resp->content_type = x->content_type;
    x->content_type = NULL;
}

/* One request with the core's retries.  With fn, a 2xx body is streamed
 * through the JSON scanner (see http_json_stream in revops.h). */
static revops_status exchange_run(revops_instance *self, const revops_http_request *req, revops_http_response *resp,
                                  const char *array_member, json_member_fn fn, void *fn_data, http_headers_fn hfn,
                                  void *hdata)
{
    memset(resp, 0, sizeof *resp);
    const revops_config *cfg = self ? self->cfg : NULL;
    const retry_policy *rp = self && self->retry ? self->retry : &retry_policy_default;
    char logurl[256];
    unsigned flags = self && self->abi_minor >= 5 ? req->flags : 0;
    url_for_log(req->url, flags & REVOPS_HTTP_SECRET_URL, logurl, sizeof logurl);
    const char *method = req->method ? req->method : "GET";

    struct curl_slist *hdrs = NULL;
    for (size_t i = 0; req->headers && req->headers[i]; i++) hdrs = curl_slist_append(hdrs, req->headers[i]);
    revops_status result = REVOPS_ERROR;
    char why[768] = "";

    for (int attempt = 1; attempt <= rp->max_attempts; attempt++) {
        if (hfn) {
            /* Signed requests: fresh headers (date, signature) per attempt. */
            curl_slist_free_all(hdrs);
            if (!(hdrs = hfn(hdata, why, sizeof why))) {
                result = REVOPS_ERROR;
                break;
            }
        }
        exchange x = { .retry_after = -1 };
        double left = self && self->deadline > 0 ? self->deadline - mono_now() : INFINITY;
        double timeout = req->timeout > 0 ? req->timeout : (cfg ? cfg->http_timeout : 60);
        if (left < timeout) timeout = left;
        if (timeout <= 0) {
            snprintf(why, sizeof why, "%s %s: the run's deadline has passed", method, logurl);
            result = REVOPS_RETRY;
            break;
        }
        CURL *h = curl_easy_init();
        x.h = h;
        if (fn) x.scan = json_scan_new(array_member, fn, fn_data);
        curl_easy_setopt(h, CURLOPT_URL, req->url);
        curl_easy_setopt(h, CURLOPT_SHARE, share);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        if (strcmp(method, "HEAD") == 0) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        if (req->body) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        }
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)((cfg ? cfg->connect_timeout : 10) * 1000));
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  /* gzip/deflate/br as this libcurl supports */
#if LIBCURL_VERSION_NUM >= 0x075500
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        curl_easy_setopt(h, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
        if (cfg && cfg->ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
        if (cfg && cfg->ca_path) curl_easy_setopt(h, CURLOPT_CAPATH, cfg->ca_path);
        if (cfg && cfg->proxy) curl_easy_setopt(h, CURLOPT_PROXY, cfg->proxy);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);

        CURLcode rc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        /* An empty 2xx body never reached on_body: it is not the JSON object
         * the caller streams, so let the scanner call it truncated. */
        if (x.scan && !x.streaming && rc == CURLE_OK && status >= 200 && status < 300 && x.body.len == 0) x.streaming = 1;
        curl_easy_cleanup(h);
        if (self) self->http_requests++;

        int transient = 0, final_error = 0;
        size_t delivered = x.scan ? json_scan_elements(x.scan) : 0;
        if (x.scan_failed) {
            /* The scanner stopped the transfer: the consumer said stop, or
             * the JSON is malformed. */
            if (json_scan_status(x.scan) != REVOPS_OK) {
                result = json_scan_status(x.scan);
                snprintf(why, sizeof why, "%s %s: stopped by the consumer after %zu elements", method, logurl, delivered);
                take_response(self, resp, &x, status, attempt);
                json_scan_free(x.scan);
                break;
            }
            final_error = 1;
            snprintf(why, sizeof why, "%s %s: HTTP %ld: %s", method, logurl, status, json_scan_error(x.scan));
        } else if (rc != CURLE_OK) {
            transient = transient_curl_error(rc);
            final_error = !transient;
            snprintf(why, sizeof why, "%s %s: %s%s", method, logurl, curl_easy_strerror(rc),
                     x.streaming ? " (in the middle of the response)" : "");
        } else if (x.streaming && json_scan_finish(x.scan) < 0) {
            /* A 2xx body that ends early: a dropped connection, as far as
             * we can tell, so worth another try. */
            transient = 1;
            snprintf(why, sizeof why, "%s %s: HTTP %ld: %s", method, logurl, status, json_scan_error(x.scan));
        } else {
            transient = transient_status(status);
            snprintf(why, sizeof why, "%s %s: HTTP %ld", method, logurl, status);
        }
        if (x.scan) json_scan_free(x.scan);
        /* Not idempotent: retry only what never reached the application. */
        int unsafe_retry = (flags & REVOPS_HTTP_NO_RETRY) && transient &&
                           !(rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                             rc == CURLE_COULDNT_RESOLVE_PROXY || (rc == CURLE_OK && status == 429) ||
                             (rc == CURLE_OK && status == 503 && x.retry_after >= 0));
        log_msg(REVOPS_LOG_DEBUG, self ? self->label : NULL, "%s (attempt %d of %d)", why, attempt, rp->max_attempts);
        /* The response is the last attempt's, failed ones included: an API's
         * error body is what tells the operator what went wrong. */
        take_response(self, resp, &x, status, attempt);
        if (!transient && !final_error) {
            result = REVOPS_OK;
            break;
        }
        if (final_error) {
            result = REVOPS_ERROR;
            break;
        }
        result = REVOPS_RETRY;
        /* Elements already handed over cannot be taken back: the caller's
         * own retry (the core's fetch retry, which skips rows already taken)
         * has to start over. */
        if (delivered > 0) {
            snprintf(why + strlen(why), sizeof why - strlen(why), " after %zu elements were received", delivered);
            break;
        }
        if (unsafe_retry) {
            snprintf(why + strlen(why), sizeof why - strlen(why), " (not resent: the request is not idempotent and may have been processed)");
            break;
        }
        if (attempt == rp->max_attempts) break;
        double wait = x.retry_after >= 0 ? x.retry_after : retry_delay(rp, attempt + 1);
        double left_now = self && self->deadline > 0 ? self->deadline - mono_now() : INFINITY;
        if (wait >= left_now) {
            snprintf(why + strlen(why), sizeof why - strlen(why), "; a retry in %.1fs would pass the run's deadline", wait);
            break;
        }
        log_msg(REVOPS_LOG_INFO, self ? self->label : NULL, "%s; retrying in %.2fs%s", why, wait,
                x.retry_after >= 0 ? " (Retry-After)" : "");
        if (self) self->http_retries++;
        sleep_seconds(wait);
    }
    curl_slist_free_all(hdrs);
    if (result != REVOPS_OK && self)
        snprintf(self->error, sizeof self->error, "%s%s", why,
                 result == REVOPS_RETRY ? " (transient; retries exhausted)" : "");
    return result;
}

revops_status http_request(revops_instance *self, const revops_http_request *req, revops_http_response *resp)
{
    return exchange_run(self, req, resp, NULL, NULL, NULL, NULL, NULL);
}

/* A header of the instance's last HTTP response (case-insensitive name);
 * the value is valid until its next HTTP call. */
const char *http_last_header(revops_instance *self, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = self->resp_headers; *p;) {
        const char *end = strchr(p, '\n');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (l > n && p[n] == ':' && strncasecmp(p, name, n) == 0) {
            const char *v = p + n + 1;
            while (*v == ' ' || *v == '\t') v++;
            snprintf(self->header_value, sizeof self->header_value, "%.*s", (int)(l - (size_t)(v - p)), v);
            return self->header_value;
        }
        p += l + (end ? 1 : 0);
    }
    return NULL;
}

revops_status http_request_signed(revops_instance *self, const revops_http_request *req, revops_http_response *resp,
                                  http_headers_fn hfn, void *hdata)
{
    return exchange_run(self, req, resp, NULL, NULL, NULL, hfn, hdata);
}

revops_status http_json_stream(revops_instance *self, const revops_http_request *req, const char *array_member,
                               revops_json_member_fn fn, void *data, revops_http_response *resp)
{
    return exchange_run(self, req, resp, array_member, fn, data, NULL, NULL);
}
