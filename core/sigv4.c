/* AWS Signature Version 4, written once for every AWS call revops makes
 * (Secrets Manager today, Bedrock later), checked against AWS's published
 * SigV4 test suite (tests/sigv4/).
 *
 * Why not libcurl's CURLOPT_AWS_SIGV4: Debian 12's libcurl (7.88) builds the
 * canonical URI from the path as sent.  Outside S3, AWS expects each path
 * segment URI-encoded once more in the canonical request: a Bedrock model id
 * "anthropic.claude-3-sonnet-20240229-v1:0" travels as "...v1%3A0" and must
 * be signed as "...v1%253A0", so CURLOPT_AWS_SIGV4 gets SignatureDoesNotMatch
 * there.  Here the caller passes the path exactly as it goes on the wire and
 * we encode it (again) unless the service is S3. */
#include "config.h"
#include "core.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

static void encode(strbuf *sb, const char *s, size_t n, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            sb_add(sb, (const char *)&c, 1);
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            sb_add(sb, e, 3);
        }
    }
}

static int hexval(char c)
{
    return isdigit((unsigned char)c) ? c - '0' : (tolower((unsigned char)c) - 'a' + 10);
}

static char *decode(const char *s, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* RFC 3986 dot-segment removal plus collapsing of empty segments, as AWS
 * normalises paths for every service but S3. */
static char *normalise_path(const char *path)
{
    size_t n = strlen(path);
    char **seg = xcalloc(n + 1, sizeof *seg);
    size_t nseg = 0;
    char *copy = xstrdup(path);
    int trailing = n > 0 && path[n - 1] == '/';
    char *save = NULL;
    for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (!strcmp(t, ".")) continue;
        if (!strcmp(t, "..")) {
            if (nseg) nseg--;
            continue;
        }
        seg[nseg++] = t;
    }
    /* "/a/." and "/a/.." end in a directory too. */
    if (n >= 2 && (!strcmp(path + n - 2, "/.") || (n >= 3 && !strcmp(path + n - 3, "/..")))) trailing = 1;
    strbuf sb = { 0 };
    for (size_t i = 0; i < nseg; i++) sb_printf(&sb, "/%s", seg[i]);
    if (!sb.len || trailing) sb_puts(&sb, "/");
    free(seg);
    free(copy);
    return sb_steal(&sb);
}

static char *canonical_uri(const char *path, int s3)
{
    if (!path || !*path) return xstrdup("/");
    if (s3) return xstrdup(path);
    char *norm = normalise_path(path);
    strbuf sb = { 0 };
    encode(&sb, norm, strlen(norm), 1);
    free(norm);
    return sb_steal(&sb);
}

typedef struct kv { char *k, *v; } kv;

static int kv_cmp(const void *a, const void *b)
{
    const kv *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

static char *canonical_query(const char *q)
{
    if (!q || !*q) return xstrdup("");
    size_t cap = 1;
    for (const char *p = q; *p; p++) cap += *p == '&';
    kv *v = xcalloc(cap, sizeof *v);
    size_t n = 0;
    const char *p = q;
    while (*p) {
        size_t len = strcspn(p, "&");
        if (len) {
            const char *eq = memchr(p, '=', len);
            char *k = decode(p, eq ? (size_t)(eq - p) : len);
            char *val = eq ? decode(eq + 1, len - (size_t)(eq - p) - 1) : xstrdup("");
            strbuf ks = { 0 }, vs = { 0 };
            encode(&ks, k, strlen(k), 0);
            encode(&vs, val, strlen(val), 0);
            v[n].k = sb_steal(&ks);
            v[n].v = sb_steal(&vs);
            n++;
            free(k);
            free(val);
        }
        p += len;
        if (*p == '&') p++;
    }
    if (n) qsort(v, n, sizeof *v, kv_cmp);
    strbuf sb = { 0 };
    for (size_t i = 0; i < n; i++) {
        sb_printf(&sb, "%s%s=%s", i ? "&" : "", v[i].k, v[i].v);
        free(v[i].k);
        free(v[i].v);
    }
    free(v);
    return sb_steal(&sb);
}

/* Trim and collapse runs of whitespace (newlines of folded values included). */
static char *header_value(const char *s)
{
    strbuf sb = { 0 };
    while (isspace((unsigned char)*s)) s++;
    int space = 0;
    for (; *s; s++) {
        if (isspace((unsigned char)*s)) {
            space = 1;
            continue;
        }
        if (space && sb.len) sb_add(&sb, " ", 1);
        space = 0;
        sb_add(&sb, s, 1);
    }
    return sb_steal(&sb);
}

static int kv_cmp_key(const void *a, const void *b)
{
    return strcmp(((const kv *)a)->k, ((const kv *)b)->k);
}

static void hmac(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &len);
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int sigv4_sign(const sigv4_request *r, const aws_credentials *c, sigv4_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!c || !c->access_key_id || !c->secret_access_key || !*c->access_key_id || !*c->secret_access_key) {
        snprintf(err, errlen, "no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
        return -1;
    }
    if (!r->amz_date || strlen(r->amz_date) != 16) {
        snprintf(err, errlen, "amz_date must look like 20150830T123600Z");
        return -1;
    }
    /* Canonical headers: lower-case names, trimmed values, duplicates
     * joined with ',' in request order, sorted by name (stable). */
    size_t nh = 0;
    while (r->headers && r->headers[nh]) nh++;
    kv *h = xcalloc(nh + 2, sizeof *h);
    size_t n = 0;
    int have_date = 0, have_token = 0;
    for (size_t i = 0; i < nh; i++) {
        const char *colon = strchr(r->headers[i], ':');
        if (!colon) continue;
        char *name = xstrndup(r->headers[i], (size_t)(colon - r->headers[i]));
        for (char *p = name; *p; p++) *p = (char)tolower((unsigned char)*p);
        char *trimmed = header_value(name);
        free(name);
        char *val = header_value(colon + 1);
        have_date |= !strcmp(trimmed, "x-amz-date");
        have_token |= !strcmp(trimmed, "x-amz-security-token");
        size_t j;
        for (j = 0; j < n && strcmp(h[j].k, trimmed); j++) {}
        if (j < n) {
            char *joined = xasprintf("%s,%s", h[j].v, val);
            free(h[j].v);
            h[j].v = joined;
            free(trimmed);
            free(val);
        } else {
            h[n].k = trimmed;
            h[n].v = val;
            n++;
        }
    }
    if (!have_date) {
        h[n].k = xstrdup("x-amz-date");
        h[n].v = xstrdup(r->amz_date);
        n++;
    }
    if (!have_token && c->session_token && *c->session_token) {
        h[n].k = xstrdup("x-amz-security-token");
        h[n].v = xstrdup(c->session_token);
        n++;
    }
    /* Insertion sort keeps the order stable (qsort is not). */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && kv_cmp_key(&h[j - 1], &h[j]) > 0; j--) {
            kv t = h[j];
            h[j] = h[j - 1];
            h[j - 1] = t;
        }
    strbuf ch = { 0 }, sh = { 0 };
    for (size_t i = 0; i < n; i++) {
        sb_printf(&ch, "%s:%s\n", h[i].k, h[i].v);
        sb_printf(&sh, "%s%s", i ? ";" : "", h[i].k);
        free(h[i].k);
        free(h[i].v);
    }
    free(h);

    char payload_hash[65];
    sha256_hex(r->body ? r->body : "", r->body ? r->body_len : 0, payload_hash);
    char *uri = canonical_uri(r->path, r->s3);
    char *query = canonical_query(r->query);
    out->canonical_request = xasprintf("%s\n%s\n%s\n%s\n%s\n%s", r->method, uri, query, ch.buf ? ch.buf : "",
                                       sh.buf ? sh.buf : "", payload_hash);
    free(uri);
    free(query);
    sb_free(&ch);
    out->signed_headers = sb_steal(&sh);

    char date[9];
    memcpy(date, r->amz_date, 8);
    date[8] = '\0';
    char creq_hash[65];
    sha256_hex(out->canonical_request, strlen(out->canonical_request), creq_hash);
    char *scope = xasprintf("%s/%s/%s/aws4_request", date, r->region, r->service);
    out->string_to_sign = xasprintf("AWS4-HMAC-SHA256\n%s\n%s\n%s", r->amz_date, scope, creq_hash);

    char *k0 = xasprintf("AWS4%s", c->secret_access_key);
    unsigned char k_date[32], k_region[32], k_service[32], k_signing[32], sig[32];
    hmac(k0, strlen(k0), date, k_date);
    secret_wipe_free(k0);
    hmac(k_date, 32, r->region, k_region);
    hmac(k_region, 32, r->service, k_service);
    hmac(k_service, 32, "aws4_request", k_signing);
    hmac(k_signing, 32, out->string_to_sign, sig);
    out->signature = xmalloc(65);
    to_hex(sig, 32, out->signature);
    out->authorization = xasprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s", c->access_key_id,
                                   scope, out->signed_headers, out->signature);
    free(scope);
    memset(k_signing, 0, sizeof k_signing);
    return 0;
}

void sigv4_result_free(sigv4_result *out)
{
    free(out->canonical_request);
    free(out->string_to_sign);
    free(out->signed_headers);
    free(out->signature);
    free(out->authorization);
    memset(out, 0, sizeof *out);
}
