/* host->send_mail: one e-mail over SMTP with libcurl (STARTTLS on smtp://,
 * implicit TLS on smtps://, AUTH when a user is given), built with libcurl's
 * MIME API: multipart/alternative text + HTML, each part UTF-8 and
 * quoted-printable (curl_mime_encoder).  What libcurl does not do we do here,
 * once for every sink: the RFC 2047 encoded subject, Date, Message-ID, and
 * header values stripped of CR/LF.  Transient failures (connection, timeout,
 * SMTP 4xx such as 421/450/451/452) are retried with the instance's policy
 * inside the deadline and otherwise return RETRY; 5xx answers are final. */
#include "config.h"
#include "core.h"

#include <curl/curl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The address inside "Name <addr>", or the whole string. */
static char *address_of(const char *s)
{
    const char *lt = strrchr(s, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt) return xstrndup(lt + 1, (size_t)(gt - lt - 1));
    return xstrdup(s);
}

static int has_ctl(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

static int ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80) return 0;
    return 1;
}

/* RFC 2047 "=?UTF-8?B?...?=" words of at most 75 characters, never cutting
 * a UTF-8 character; folded with CRLF SP. */
static void encoded_words(strbuf *sb, const char *s)
{
    size_t n = strlen(s), i = 0;
    int first = 1;
    while (i < n) {
        size_t take = 0;
        /* 45 bytes -> 60 base64 characters + 12 of framing = 72 <= 75 */
        while (i + take < n && take < 45) {
            size_t len = 1;
            unsigned char c = (unsigned char)s[i + take];
            if (c >= 0xF0) len = 4;
            else if (c >= 0xE0) len = 3;
            else if (c >= 0xC0) len = 2;
            if (take + len > 45) break;
            take += len;
        }
        char *b64 = base64_encode(s + i, take, 0);
        sb_printf(sb, "%s=?UTF-8?B?%s?=", first ? "" : "\r\n ", b64);
        free(b64);
        first = 0;
        i += take;
    }
}

/* "NAME: a, b" as a header, each address an envelope recipient; non-zero
 * when one holds a control character (a header injection attempt). */
static int add_addresses(struct curl_slist **headers, struct curl_slist **rcpt, const char *name, const char *const *list)
{
    if (!list || !list[0]) return 0;
    strbuf h = { 0 };
    int bad = 0;
    sb_printf(&h, "%s: ", name);
    for (size_t i = 0; list[i]; i++) {
        bad |= has_ctl(list[i]);
        sb_printf(&h, "%s%s", i ? ", " : "", list[i]);
        char *a = address_of(list[i]);
        *rcpt = curl_slist_append(*rcpt, a);
        free(a);
    }
    *headers = curl_slist_append(*headers, h.buf);
    sb_free(&h);
    return bad;
}

static int transient_smtp(CURLcode rc, long code)
{
    /* The server's own answer decides first: libcurl reports a recipient
     * refused at RCPT TO as CURLE_SEND_ERROR ("RCPT failed: 550") with the
     * 550 in CURLINFO_RESPONSE_CODE, and a 5xx is final whatever the
     * transport code says. */
    if (code >= 500) return 0;
    if (code >= 400) return 1;
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_SEND_ERROR ||
        rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_COULDNT_RESOLVE_HOST)
        return 1;
    return code >= 400 && code < 500;
}

revops_status mail_send(revops_instance *self, const revops_mail *m)
{
    const revops_config *cfg = self ? self->cfg : NULL;
    const retry_policy *rp = self && self->retry ? self->retry : &retry_policy_default;
    if (!m->url || (strncmp(m->url, "smtp://", 7) && strncmp(m->url, "smtps://", 8))) {
        if (self) snprintf(self->error, sizeof self->error, "mail: url must be smtp://HOST[:PORT] or smtps://HOST[:PORT]");
        return REVOPS_ERROR;
    }
    if (!m->from || !m->to || !m->to[0]) {
        if (self) snprintf(self->error, sizeof self->error, "mail: a sender and at least one recipient are needed");
        return REVOPS_ERROR;
    }
    if (has_ctl(m->from) || has_ctl(m->subject)) {
        if (self) snprintf(self->error, sizeof self->error, "mail: the sender or subject holds a line break or control character");
        return REVOPS_ERROR;
    }
    /* Headers: what libcurl sends before the MIME structure. */
    strbuf h = { 0 };
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "Date: %a, %d %b %Y %H:%M:%S +0000", &tm);
    struct curl_slist *headers = curl_slist_append(NULL, date);
    sb_printf(&h, "From: %s", m->from);
    headers = curl_slist_append(headers, h.buf);
    struct curl_slist *rcpt = NULL;
    int bad = add_addresses(&headers, &rcpt, "To", m->to);
    bad |= add_addresses(&headers, &rcpt, "Cc", m->cc);
    h.len = 0;
    sb_puts(&h, "Subject: ");
    if (ascii(m->subject ? m->subject : "")) sb_puts(&h, m->subject ? m->subject : "");
    else encoded_words(&h, m->subject);
    headers = curl_slist_append(headers, h.buf);
    int has_msgid = 0;
    for (size_t i = 0; m->headers && m->headers[i]; i++) {
        bad |= has_ctl(m->headers[i]);
        has_msgid |= !strncasecmp(m->headers[i], "Message-ID:", 11);
        headers = curl_slist_append(headers, m->headers[i]);
    }
    headers = curl_slist_append(headers, "Content-Type: multipart/alternative");
    if (!has_msgid) {
        /* Unique enough: time, process, and a hash of the first recipient
         * and subject (a sink may pass its own, e.g. from the delivery id). */
        char hex[65];
        char *seed = xasprintf("%s\n%s\n%ld", m->to[0], m->subject ? m->subject : "", (long)mono_now());
        sha256_hex(seed, strlen(seed), hex);
        free(seed);
        char host[128] = "revops.invalid";
        char *from = address_of(m->from), *at = strchr(from, '@');
        if (at && at[1]) snprintf(host, sizeof host, "%s", at + 1);
        h.len = 0;
        sb_printf(&h, "Message-ID: <%lld.%d.%.16s@%s>", (long long)now, (int)getpid(), hex, host);
        headers = curl_slist_append(headers, h.buf);
        free(from);
    }
    sb_free(&h);
    if (bad) {
        if (self) snprintf(self->error, sizeof self->error, "mail: a recipient or extra header holds a line break");
        curl_slist_free_all(headers);
        curl_slist_free_all(rcpt);
        return REVOPS_ERROR;
    }
    char *from_addr = address_of(m->from);
    revops_status result = REVOPS_ERROR;
    char why[512] = "";
    for (int attempt = 1; attempt <= rp->max_attempts; attempt++) {
        CURL *c = curl_easy_init();
        /* The parts go straight into the top-level MIME structure, typed
         * multipart/alternative by the Content-Type header below (libcurl
         * would otherwise call it multipart/mixed). */
        curl_mime *mime = curl_mime_init(c);
        curl_mimepart *part;
        if (m->text) {
            part = curl_mime_addpart(mime);
            curl_mime_data(part, m->text, CURL_ZERO_TERMINATED);
            curl_mime_type(part, "text/plain; charset=UTF-8");
            curl_mime_encoder(part, "quoted-printable");
        }
        if (m->html) {
            part = curl_mime_addpart(mime);
            curl_mime_data(part, m->html, CURL_ZERO_TERMINATED);
            curl_mime_type(part, "text/html; charset=UTF-8");
            curl_mime_encoder(part, "quoted-printable");
        }
        curl_easy_setopt(c, CURLOPT_URL, m->url);
        curl_easy_setopt(c, CURLOPT_MAIL_FROM, from_addr);
        curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        if (m->starttls) curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
        if (m->username) curl_easy_setopt(c, CURLOPT_USERNAME, m->username);
        if (m->password) curl_easy_setopt(c, CURLOPT_PASSWORD, m->password);
        if (cfg && cfg->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
        if (cfg && cfg->ca_path) curl_easy_setopt(c, CURLOPT_CAPATH, cfg->ca_path);
        double left = self && self->deadline > 0 ? self->deadline - mono_now() : 60;
        double timeout = m->timeout > 0 ? m->timeout : 60;
        if (left < timeout) timeout = left;
        if (timeout <= 0) timeout = 0.001;
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)((cfg ? cfg->connect_timeout : 10) * 1000));
        CURLcode rc = curl_easy_perform(c);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(c);
        curl_mime_free(mime);
        if (rc == CURLE_OK) {
            result = REVOPS_OK;
            break;
        }
        snprintf(why, sizeof why, "mail to %s via %.*s: %s (SMTP %ld)", m->to[0], (int)strcspn(m->url, "?"), m->url,
                 curl_easy_strerror(rc), code);
        if (!transient_smtp(rc, code)) {
            result = REVOPS_ERROR;
            break;
        }
        result = REVOPS_RETRY;
        if (attempt == rp->max_attempts) break;
        double wait = retry_delay(rp, attempt + 1);
        if (self && self->deadline > 0 && mono_now() + wait > self->deadline) break;
        log_msg(REVOPS_LOG_INFO, self ? self->label : NULL, "%s; retrying in %.2fs", why, wait);
        sleep_seconds(wait);
    }
    if (result != REVOPS_OK && self)
        snprintf(self->error, sizeof self->error, "%s%s", why, result == REVOPS_RETRY ? " (transient; retries exhausted)" : "");
    free(from_addr);
    curl_slist_free_all(headers);
    curl_slist_free_all(rcpt);
    return result;
}
