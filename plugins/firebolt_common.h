/*
 * firebolt_common.h: code shared by the in-tree Firebolt plugins only (the
 * firebolt source, plugins/source_firebolt.c, and the firebolt_insights
 * action, plugins/action_firebolt_insights.c).  Not an installed header and
 * not part of the plugin ABI: every function is static, so each plugin gets
 * its own copy.  Includes only <revops/revops.h> and libc headers.
 *
 * Only what both plugins do the same way lives here: URL shaping, the
 * option checks and the OAuth client-credentials request.  Their error-body
 * parsing, authenticated requests and engine lookup differ on purpose (the
 * source streams results and reports through host->error; the action
 * returns one-line reasons for the delivery results) and stay in each.
 */
#ifndef REVOPS_PLUGINS_FIREBOLT_COMMON_H
#define REVOPS_PLUGINS_FIREBOLT_COMMON_H

#include <revops/revops.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* "https://" in front of a bare host (Firebolt returns engine URLs without a
 * scheme); "/" before the query string or at the end of a bare authority.
 * NULL when out of memory. */
static char *canonical_url(const char *url)
{
    const char *u = url;
    while (*u && isspace((unsigned char)*u)) u++;
    size_t ulen = strlen(u);
    while (ulen && isspace((unsigned char)u[ulen - 1])) ulen--;
    revops_buf b = { 0 };
    const char *scheme_end = strstr(u, "://");
    if (!scheme_end) revops_buf_str(&b, "https://");
    const char *auth = scheme_end ? scheme_end + 3 : u;
    size_t head = (size_t)(auth - u) + strcspn(auth, "/?#");
    if (head > ulen) head = ulen;
    revops_buf_add(&b, u, head);
    if (head == ulen || u[head] == '?') revops_buf_str(&b, "/");
    revops_buf_add(&b, u + head, ulen - head);
    if (b.oom) {
        revops_buf_free(&b);
        return NULL;
    }
    return b.p;
}

/* url + "?" or "&" + params; NULL when out of memory. */
static char *with_params(const char *url, const char *params)
{
    revops_buf b = { 0 };
    revops_buf_str(&b, url);
    char last = b.len ? b.p[b.len - 1] : '\0';
    if (!strchr(url, '?')) revops_buf_str(&b, "?");
    else if (last != '?' && last != '&') revops_buf_str(&b, "&");
    revops_buf_str(&b, params);
    if (b.oom) {
        revops_buf_free(&b);
        return NULL;
    }
    return b.p;
}

/* The options both plugins need: a service account's id and secret, and an
 * account (to find the account's engine) or an engine_url.  0 when set; -1
 * when not, after host->error said which. */
static int fb_check_login_options(const revops_host *host, revops_instance *self, const char *client_id,
                                  const char *client_secret, const char *account, const char *engine_url_opt)
{
    if (!client_id || !*client_id || !client_secret || !*client_secret) {
        host->error(self, "client_id and client_secret (a Firebolt service account's id and secret) must not be empty");
        return -1;
    }
    if ((!engine_url_opt || !*engine_url_opt) && (!account || !*account)) {
        host->error(self, "set account (to find the account's engine) or engine_url");
        return -1;
    }
    return 0;
}

/* A warning for each URL that is plain http to anything but this machine. */
static void fb_warn_plain_http(const revops_host *host, revops_instance *self, const char *const urls[3])
{
    for (size_t i = 0; i < 3; i++)
        if (urls[i] && !strncasecmp(urls[i], "http://", 7) && strncmp(urls[i] + 7, "127.0.0.1", 9) != 0 &&
            strncasecmp(urls[i] + 7, "localhost", 9) != 0)
            host->log(self, REVOPS_LOG_WARN, "%.*s is plain http: the credentials and tokens would cross the "
                      "network unencrypted", (int)strcspn(urls[i], "?"), urls[i]);
}

/* The OAuth client-credentials request for the token endpoint id_url; form
 * (9 slots) is kept in the plugin's context, as oauth points into it. */
static void fb_oauth_init(revops_oauth_request *oauth, const char *form[9], const char *id_url, const char *client_id,
                          const char *client_secret, const char *audience)
{
    const char *f[] = { "grant_type", "client_credentials", "client_id", client_id,
                        "client_secret", client_secret, "audience", audience, NULL };
    memcpy(form, f, sizeof f);
    oauth->token_url = id_url;
    oauth->form = form;
    oauth->cache_key = client_id;
    oauth->headers = NULL;
}

#endif
