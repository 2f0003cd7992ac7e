/*
 * action "email": one e-mail per finding (or one digest per batch) over SMTP,
 * sent by the host (host->send_mail: libcurl, STARTTLS or SMTPS, AUTH,
 * multipart/alternative text + HTML, RFC 2047 subject, Date).
 *
 * Followed (public standards):
 *   - RFC 5321 (SMTP) 4.2.1: replies 4yz are transient ("the command may be
 *     repeated"), 5yz permanent; 421 "service not available, closing
 *     transmission channel" ends the session; 550 "mailbox unavailable" on
 *     RCPT TO refuses one recipient.  4.5.3.1: a path (address) is at most 256
 *     octets, a local part 64, a domain 255.
 *   - RFC 5322 3.4 (addresses: "Display Name <local@domain>", a display name a
 *     phrase of atoms or a quoted string) and 3.6.4 (Message-ID "<left@right>",
 *     globally unique).
 *   - RFC 2046 5.1.4 multipart/alternative: parts in increasing order of
 *     preference, so text/plain first and text/html last (the host's order).
 *   - RFC 3207 (STARTTLS) and RFC 8314 (implicit TLS, "smtps://", port 465):
 *     credentials only over TLS; this plugin refuses a password over a plain
 *     connection to anything but the loopback interface.
 *   - RFC 6531 (SMTPUTF8) is not negotiated by libcurl here: addresses must be
 *     ASCII, display names too (the host does not RFC 2047-encode them).
 *
 * What goes out, per finding (digest = false):
 *   From: `from`; To: `to` + the finding's owner when `to_owner` is set and the
 *   owner is an e-mail address; Cc: `cc`; Subject: the `subject` template
 *   (header escaping, values cut to 200 characters); Message-ID:
 *   <DELIVERY_ID.revops@DOMAIN-OF-FROM> (the same for a repeated delivery, so
 *   a receiving system that dedupes by Message-ID drops a repeat);
 *   X-Revops-Delivery: DELIVERY_ID; X-Revops-Fingerprint: the finding's; a
 *   re-alert (batch->occurrences[i] > 1) In-Reply-To and References: the
 *   Message-ID of the finding's first mail (state `thread:<fingerprint>`), so
 *   mail clients thread it under the first;
 *   body multipart/alternative: text/plain (the `text` template, or the
 *   built-in layout) then text/html (the `html` template with HTML escaping,
 *   or the built-in layout: a table of the finding's facts, a table of its
 *   signals, the recommended actions as a list, the model's summary and next
 *   steps when the finding was narrated).
 * digest = true: one mail per batch for every finding not yet sent; subject
 *   "[revops] N findings from PIPELINE (highest priority P)" (or "N findings: "
 *   and the `subject` template of the first finding when `subject` is set);
 *   To: `to` + every owner (to_owner); the bodies list each finding in turn;
 *   Message-ID <digest.HASH-OF-THE-DELIVERY-IDS.revops@DOMAIN>.
 *
 * Idempotency: SMTP has none.  Before sending, `sent:<delivery id>` is looked
 * up in the instance's state (host->state_get); present, the finding is not
 * sent again and is OK.  Right after the server accepted the message the key
 * is written (host->state_put, committed at once) with the Message-ID.  A
 * crash between the two sends the mail again on the rerun, with the same
 * Message-ID.  When the state store fails the finding is RETRY (not sent):
 * a duplicate would follow otherwise.
 *
 * Results: accepted OK; host->send_mail's RETRY (connection failures,
 * timeouts, SMTP 4xx after the host's retries) RETRY; ERROR (5xx, a refused
 * header) ERROR; either with the host's reason (host->last_error).  Hosts
 * before this plugin's release took a refused RCPT TO for transient (libcurl
 * reports CURLE_SEND_ERROR for it), so a RETRY whose reason still names an
 * SMTP 5xx code is made ERROR here: a recipient refused with 550 fails that
 * finding only.  When the server is
 * unreachable or says 421 (closing) the rest of the batch is not tried this
 * time (RETRY, "not sent after an earlier failure").  The password is never
 * in a message or a log line of this plugin.
 */
#include <revops/revops.h>

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SUBJECT_VALUE_MAX 200      /* characters of one value in the subject */
#define BODY_VALUE_MAX 20000       /* characters of one value in a body */
#define ADDR_MAX 254

static const char DEFAULT_SUBJECT[] = "[revops] {{priority}}: {{title}}";

typedef struct mail_ctx {
    revops_instance *self;
    const revops_host *host;
    const char *url;
    int starttls;
    const char *username, *password;
    const char *from;
    char domain[256];            /* of the sender's address, for Message-IDs */
    char **to, **cc;             /* NULL-terminated copies */
    size_t nto, ncc;
    int to_owner, digest, subject_set;
    const char *subject, *text, *html;  /* text/html NULL: the built-in layouts */
    double timeout;
} mail_ctx;

/* ------------------------------------------------------------ helpers -- */

REVOPS_PRINTF(3, 4)
static void set_result(revops_delivery *d, revops_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    d->status = s;
    vsnprintf(d->message, sizeof d->message, fmt, ap);
    va_end(ap);
}

/* s for a message: control characters as '?', at most 60 bytes. */
static void shown(const char *s, char out[72])
{
    size_t k = 0;
    for (; s && s[k] && k < 60; k++) out[k] = (unsigned char)s[k] < 0x20 || s[k] == 0x7f ? '?' : s[k];
    out[k] = '\0';
    if (s && s[k]) strcpy(out + k, "...");
}

static int atext(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-/=?^_`{|}~", ch));
}

static int alnum(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* The address part of "Name <addr>" or "addr" into out; NULL, or why it is
 * not one this plugin can send to (ASCII, one '@', a dot-atom local part, a
 * host name of letters, digits and hyphens). */
static const char *address_check(const char *s, int allow_name, char *out, size_t outlen)
{
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '\r' || ch == '\n') return "it holds a line break";
        if (ch < 0x20 || ch == 0x7f) return "it holds a control character";
        if (ch >= 0x80) return "it holds non-ASCII characters (write the address and any display name in ASCII)";
    }
    const char *a = s, *lt = strchr(s, '<');
    size_t alen = strlen(s);
    if (lt) {
        if (!allow_name) return "a display name is not allowed here";
        const char *gt = strchr(lt, '>');
        if (!gt || gt[1 + strspn(gt + 1, " ")] != '\0' || strchr(lt + 1, '<'))
            return "write it as \"Display Name <local@domain>\"";
        /* the display name: atoms (and dots, spaces) or one quoted string */
        const char *n = s, *ne = lt;
        while (n < ne && *n == ' ') n++;
        while (ne > n && ne[-1] == ' ') ne--;
        if (ne - n >= 2 && *n == '"' && ne[-1] == '"') {
            for (const char *p = n + 1; p < ne - 1; p++)
                if (*p == '"' || *p == '\\') return "a quoted display name may not hold '\"' or '\\'";
        } else {
            for (const char *p = n; p < ne; p++)
                if (!atext((unsigned char)*p) && *p != ' ' && *p != '.')
                    return "the display name holds a special character (quote it: \"\\\"Doe, Jane\\\" <jane@example.com>\")";
        }
        a = lt + 1;
        alen = (size_t)(gt - a);
    }
    if (alen == 0) return "it is empty";
    if (alen > ADDR_MAX) return "it is longer than 254 characters";
    const char *at = memchr(a, '@', alen);
    if (!at) return "it has no '@'";
    if (memchr(at + 1, '@', alen - (size_t)(at + 1 - a))) return "it has more than one '@'";
    size_t ll = (size_t)(at - a), dl = alen - ll - 1;
    if (!ll || ll > 64) return "the part before '@' must be 1 to 64 characters";
    if (!dl) return "the domain after '@' is empty";
    for (size_t i = 0; i < ll; i++) {
        char ch = a[i];
        if (ch == ' ') return "it holds a space";
        if (ch == '.' ? (i == 0 || i == ll - 1 || a[i - 1] == '.') : !atext((unsigned char)ch))
            return "the part before '@' holds a character an address cannot (or a misplaced dot)";
    }
    const char *d = at + 1;
    for (size_t i = 0; i < dl; i++) {
        char ch = d[i];
        if (ch == ' ') return "it holds a space";
        int inner = i > 0 && i < dl - 1 && d[i - 1] != '.';
        int ok = alnum((unsigned char)ch) || (ch == '-' && inner && d[i + 1] != '.') || (ch == '.' && inner);
        if (!ok) return "the domain is not a host name (letters, digits, hyphens, dots)";
    }
    if (out) snprintf(out, outlen, "%.*s", (int)alen, a);
    return NULL;
}

static int same_address(const char *a, const char *b)
{
    char x[ADDR_MAX + 2], y[ADDR_MAX + 2];
    if (address_check(a, 1, x, sizeof x) || address_check(b, 1, y, sizeof y)) return 0;
    return strcasecmp(x, y) == 0;
}

/* The SMTP reply code the host's reason names ("... (SMTP 550)"), or 0. */
static long smtp_code(const char *why)
{
    const char *p = why, *last = NULL;
    while (p && (p = strstr(p, "(SMTP "))) last = p++;
    return last ? strtol(last + 6, NULL, 10) : 0;
}

/* HTML text: & < > " ' as entities, as host->render's REVOPS_ESC_HTML. */
static void html_esc(revops_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': revops_buf_str(b, "&amp;"); break;
        case '<': revops_buf_str(b, "&lt;"); break;
        case '>': revops_buf_str(b, "&gt;"); break;
        case '"': revops_buf_str(b, "&quot;"); break;
        case '\'': revops_buf_str(b, "&#39;"); break;
        default: revops_buf_add(b, s, 1);
        }
    }
}

/* host->render into b; -1 out of memory. */
static int render_into(mail_ctx *c, revops_buf *b, const char *tmpl, const revops_finding *f, const revops_batch *batch,
                       revops_escape esc, size_t max)
{
    char *r = c->host->render(tmpl, f, batch, esc, max);
    if (!r) {
        b->oom = 1;
        return -1;
    }
    revops_buf_str(b, r);
    c->host->free(r);
    return b->oom ? -1 : 0;
}

/* ------------------------------------------------------------ layouts -- */

/* The built-in plain-text layout of one finding. */
static void text_layout(mail_ctx *c, revops_buf *b, const revops_finding *f, const revops_batch *batch)
{
#define R(t) render_into(c, b, (t), f, batch, REVOPS_ESC_NONE, BODY_VALUE_MAX)
    R("{{title}}\n\n");
    if (f->description && *f->description) R("{{description}}\n\n");
    R("Account:     {{account_name}} ({{account_id}})\n");
    if (f->opportunity_id && *f->opportunity_id) R("Opportunity: {{opportunity_id}}\n");
    R("Priority:    {{priority}} (score {{score}}, confidence {{confidence}})\n"
      "Analysis:    {{analysis}}, {{category}}\n");
    if (c->host->abi_minor >= 5 && f->owner && *f->owner) R("Owner:       {{owner}}\n");
    if (f->partial) R("Note:        based on {{partial}}: an input was not read in full\n");
    if (f->nsignals) R("\nSignals:\n{{signals}}\n");
    if (f->nactions) R("\nRecommended actions:\n{{actions}}\n");
    if (f->narrative && *f->narrative) R("\nSummary (written by a language model):\n{{narrative}}\n");
    if (f->nnext_steps) R("\nNext steps:\n{{next_steps}}\n");
    R("\n-- \nrevops: pipeline {{pipeline}}, session {{session_id}}, delivery {{delivery_id}}\n");
#undef R
}

/* The built-in HTML layout of one finding (a fragment of <body>). */
static void html_layout(mail_ctx *c, revops_buf *b, const revops_finding *f, const revops_batch *batch)
{
#define R(t) render_into(c, b, (t), f, batch, REVOPS_ESC_HTML, BODY_VALUE_MAX)
#define TH "<th align=\"left\" style=\"padding:2px 12px 2px 0\">"
    R("<h2 style=\"margin-bottom:4px\">{{title}}</h2>\n");
    if (f->description && *f->description) R("<p style=\"white-space:pre-wrap\">{{description}}</p>\n");
    R("<table style=\"border-collapse:collapse\">\n"
      "<tr>" TH "Account</th><td>{{account_name}} ({{account_id}})</td></tr>\n");
    if (f->opportunity_id && *f->opportunity_id) R("<tr>" TH "Opportunity</th><td>{{opportunity_id}}</td></tr>\n");
    R("<tr>" TH "Priority</th><td><b>{{priority}}</b></td></tr>\n"
      "<tr>" TH "Score</th><td>{{score}} (confidence {{confidence}})</td></tr>\n"
      "<tr>" TH "Analysis</th><td>{{analysis}}, {{category}}</td></tr>\n");
    if (c->host->abi_minor >= 5 && f->owner && *f->owner) R("<tr>" TH "Owner</th><td>{{owner}}</td></tr>\n");
    revops_buf_str(b, "</table>\n");
    if (f->partial) revops_buf_str(b, "<p><i>Based on partial data: an input was not read in full.</i></p>\n");
    if (f->nsignals) {
        /* One row per signal: host->render has no per-signal placeholders,
         * so the cells are escaped here, exactly as REVOPS_ESC_HTML does. */
        revops_buf_str(b, "<h3>Signals</h3>\n<table border=\"1\" cellpadding=\"4\" style=\"border-collapse:collapse\">\n"
                          "<tr><th>Signal</th><th>Value</th><th>Threshold</th><th>Weight</th><th>Evidence</th></tr>\n");
        for (size_t i = 0; i < f->nsignals; i++) {
            const revops_signal *s = &f->signals[i];
            char v[48], t[48], w[48];
            revops_fmt_num(s->value, v);
            revops_fmt_num(s->threshold, t);
            revops_fmt_num(s->weight, w);
            revops_buf_str(b, "<tr><td>");
            html_esc(b, s->name);
            revops_buf_fmt(b, "</td><td align=\"right\">%s</td><td align=\"right\">%s</td><td align=\"right\">%s</td><td>",
                           v, t, w);
            html_esc(b, s->evidence);
            revops_buf_str(b, "</td></tr>\n");
        }
        revops_buf_str(b, "</table>\n");
    }
    if (f->nactions) {
        revops_buf_str(b, "<h3>Recommended actions</h3>\n<ol>\n");
        for (size_t i = 0; i < f->nactions; i++) {
            revops_buf_str(b, "<li>");
            html_esc(b, f->recommended_actions[i]);
            revops_buf_str(b, "</li>\n");
        }
        revops_buf_str(b, "</ol>\n");
    }
    if (f->narrative && *f->narrative) {
        R("<h3>Summary</h3>\n<p style=\"white-space:pre-wrap\">{{narrative}}</p>\n");
        revops_buf_str(b, "<p style=\"color:#666;font-size:small\">Written by a language model from the signals above.</p>\n");
    }
    if (f->nnext_steps) {
        revops_buf_str(b, "<h3>Next steps</h3>\n<ol>\n");
        for (size_t i = 0; i < f->nnext_steps; i++) {
            revops_buf_str(b, "<li>");
            html_esc(b, f->next_steps[i]);
            revops_buf_str(b, "</li>\n");
        }
        revops_buf_str(b, "</ol>\n");
    }
    R("<p style=\"color:#666;font-size:small\">revops: pipeline {{pipeline}}, session {{session_id}}, "
      "delivery {{delivery_id}}</p>\n");
#undef TH
#undef R
}

static const char HTML_HEAD[] = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n"
                                "<body style=\"font-family:sans-serif\">\n";
static const char HTML_TAIL[] = "</body></html>\n";

/* The two bodies for findings idx[0..n): one finding, or a digest. */
static int bodies(mail_ctx *c, const revops_batch *batch, const size_t *idx, size_t n, revops_buf *text,
                  revops_buf *html)
{
    const revops_finding *f0 = batch->findings[idx[0]];
    if (!c->html) revops_buf_str(html, HTML_HEAD);
    if (n > 1) {
        revops_buf_fmt(text, "revops: %zu findings", n);
        render_into(c, text, " from pipeline {{pipeline}} (session {{session_id}})\n\n", f0, batch, REVOPS_ESC_NONE, 200);
        revops_buf_fmt(html, "<p>revops: <b>%zu findings</b>", n);
        render_into(c, html, " from pipeline {{pipeline}} (session {{session_id}})</p>\n", f0, batch, REVOPS_ESC_HTML, 200);
    }
    for (size_t k = 0; k < n; k++) {
        const revops_finding *f = batch->findings[idx[k]];
        if (n > 1) {
            revops_buf_fmt(text, "%s== %zu of %zu ==\n\n", k ? "\n" : "", k + 1, n);
            if (k) revops_buf_str(html, "<hr>\n");
        }
        if (c->text) render_into(c, text, c->text, f, batch, REVOPS_ESC_NONE, BODY_VALUE_MAX);
        else text_layout(c, text, f, batch);
        if (c->html) render_into(c, html, c->html, f, batch, REVOPS_ESC_HTML, BODY_VALUE_MAX);
        else html_layout(c, html, f, batch);
    }
    if (!c->html) revops_buf_str(html, HTML_TAIL);
    return text->oom || html->oom ? -1 : 0;
}

/* The subject for findings idx[0..n) into b. */
static int subject_of(mail_ctx *c, const revops_batch *batch, const size_t *idx, size_t n, revops_buf *b)
{
    const revops_finding *f = batch->findings[idx[0]];
    if (n == 1) return render_into(c, b, c->subject, f, batch, REVOPS_ESC_HEADER, SUBJECT_VALUE_MAX);
    if (c->subject_set) {
        revops_buf_fmt(b, "%zu findings: ", n);
        return render_into(c, b, c->subject, f, batch, REVOPS_ESC_HEADER, SUBJECT_VALUE_MAX);
    }
    revops_priority top = REVOPS_PRIORITY_LOW;
    for (size_t k = 0; k < n; k++)
        if (batch->findings[idx[k]]->priority > top) top = batch->findings[idx[k]]->priority;
    revops_buf_fmt(b, "[revops] %zu findings from ", n);
    render_into(c, b, "{{pipeline}}", f, batch, REVOPS_ESC_HEADER, SUBJECT_VALUE_MAX);
    revops_buf_fmt(b, " (highest priority %s)", revops_priority_name(top));
    return b->oom ? -1 : 0;
}

/* -------------------------------------------------------------- deliver -- */

/* Recipients: `to`, then the owners (to_owner) not already listed. */
static const char **recipients(mail_ctx *c, const revops_batch *batch, const size_t *idx, size_t n)
{
    const char **to = calloc(c->nto + n + 1, sizeof *to);
    if (!to) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < c->nto; i++) to[k++] = c->to[i];
    for (size_t j = 0; c->to_owner && j < n; j++) {
        const revops_finding *f = batch->findings[idx[j]];
        const char *o = c->host->abi_minor >= 5 ? f->owner : NULL;
        if (!o || !*o) continue;
        if (!strchr(o, '@')) {
            c->host->log(c->self, REVOPS_LOG_DEBUG, "finding %.12s: the owner is not an e-mail address; not added",
                         f->fingerprint);
            continue;
        }
        const char *why = address_check(o, 0, NULL, 0);
        if (why) {
            char s[72];
            shown(o, s);
            c->host->log(c->self, REVOPS_LOG_WARN, "finding %.12s (account %.40s): owner '%s' is not used: %s",
                         f->fingerprint, f->account_id ? f->account_id : "?", s, why);
            continue;
        }
        int dup = 0;
        for (size_t i = 0; i < k && !dup; i++) dup = same_address(to[i], o);
        for (size_t i = 0; i < c->ncc && !dup; i++) dup = same_address(c->cc[i], o);
        if (!dup) to[k++] = o;
    }
    to[k] = NULL;
    return to;
}

/* Send the findings idx[0..n) (delivery ids ids[0..n)) as one message and
 * fill their results.  Returns 1 when the server could not be reached or
 * closed the session (421): the caller does not try the rest now. */
static int send_one(mail_ctx *c, const revops_batch *batch, const size_t *idx, const char *const *ids, size_t n,
                    revops_delivery *res)
{
    const revops_host *h = c->host;
    const revops_finding *f0 = batch->findings[idx[0]];
    const char **to = recipients(c, batch, idx, n);
    revops_buf text = { 0 }, html = { 0 }, subject = { 0 };
    if (!to || subject_of(c, batch, idx, n, &subject) < 0 || bodies(c, batch, idx, n, &text, &html) < 0) {
        for (size_t k = 0; k < n; k++) set_result(&res[idx[k]], REVOPS_RETRY, "out of memory building the mail");
        revops_buf_free(&subject);
        revops_buf_free(&text);
        revops_buf_free(&html);
        free(to);
        return 0;
    }
    if (!to[0]) {
        for (size_t k = 0; k < n; k++) {
            const char *a = batch->findings[idx[k]]->account_id;
            set_result(&res[idx[k]], REVOPS_ERROR, "no recipient: `to` is empty and the owner of account %.40s is "
                       "not an e-mail address", a ? a : "?");
        }
        revops_buf_free(&subject);
        revops_buf_free(&text);
        revops_buf_free(&html);
        free(to);
        return 0;
    }

    /* Message-ID from the delivery id (one finding) or from all of them. */
    char msgid[400], hdr_id[420], hdr_del[80], hdr_fp[100];
    if (n == 1) {
        snprintf(msgid, sizeof msgid, "<%s.revops@%s>", ids[0], c->domain);
        snprintf(hdr_del, sizeof hdr_del, "X-Revops-Delivery: %s", ids[0]);
    } else {
        revops_buf all = { 0 };
        for (size_t k = 0; k < n; k++) revops_buf_fmt(&all, "%s\n", ids[k]);
        char hex[65];
        h->hmac_sha256_hex("revops-digest", 13, revops_buf_cstr(&all), all.len, hex);
        revops_buf_free(&all);
        snprintf(msgid, sizeof msgid, "<digest.%.32s.revops@%s>", hex, c->domain);
        snprintf(hdr_del, sizeof hdr_del, "X-Revops-Delivery: digest of %zu", n);
    }
    snprintf(hdr_id, sizeof hdr_id, "Message-ID: %s", msgid);
    snprintf(hdr_fp, sizeof hdr_fp, "X-Revops-Fingerprint: %s", n == 1 ? f0->fingerprint : "(digest)");
    const char *headers[] = { hdr_id, hdr_del, hdr_fp, NULL, NULL, NULL };
    /* A re-alert (occurrence > 1) answers the finding's first mail, so mail
     * clients show them as one thread (RFC 5322 3.6.4). */
    char thread_key[80], *first = NULL, hdr_irt[420], hdr_ref[420];
    snprintf(thread_key, sizeof thread_key, "thread:%s", f0->fingerprint);
    if (n == 1) first = h->state_get(c->self, thread_key);
    int occurrence = n == 1 && h->abi_minor >= 5 && batch->occurrences ? batch->occurrences[idx[0]] : 1;
    if (first && occurrence > 1 && first[0] == '<' && strlen(first) < 400 && !strpbrk(first, "\r\n") &&
        strcmp(first, msgid) != 0) {
        snprintf(hdr_irt, sizeof hdr_irt, "In-Reply-To: %s", first);
        snprintf(hdr_ref, sizeof hdr_ref, "References: %s", first);
        headers[3] = hdr_irt;
        headers[4] = hdr_ref;
    }
    revops_mail m = {
        .url = c->url, .starttls = c->starttls, .username = c->username, .password = c->password, .from = c->from,
        .to = to, .cc = c->ncc ? (const char *const *)c->cc : NULL, .subject = subject.p, .text = text.p,
        .html = html.p, .headers = headers, .timeout = c->timeout,
    };
    revops_status st = h->send_mail(c->self, &m);
    revops_buf_free(&subject);
    revops_buf_free(&text);
    revops_buf_free(&html);
    free(to);

    char why[sizeof res->message] = "";
    if (st != REVOPS_OK) {
        const char *le = h->last_error(c->self);
        snprintf(why, sizeof why, "%s", le && *le ? le : "the mail was not sent (no reason given)");
    }
    long code = st == REVOPS_OK ? 0 : smtp_code(why);
    if (st == REVOPS_RETRY && code >= 500 && code < 600) {
        /* A refused RCPT TO or MAIL FROM: permanent, though the host took
         * it for transient.  Drop the host's "(transient; ...)" note. */
        char *note = strstr(why, " (transient;");
        if (note) *note = '\0';
        st = REVOPS_ERROR;
    }
    int stop = st == REVOPS_RETRY && (code == 0 || code == 421);
    for (size_t k = 0; k < n; k++) {
        revops_delivery *d = &res[idx[k]];
        if (st != REVOPS_OK) {
            set_result(d, st, "%s", why);
            continue;
        }
        d->status = REVOPS_OK;
        d->message[0] = '\0';
        char key[64];
        snprintf(key, sizeof key, "sent:%s", ids[k]);
        if (h->state_put(c->self, key, msgid) != REVOPS_OK)
            h->log(c->self, REVOPS_LOG_WARN, "finding %.12s: sent as %s but not recorded (%s): a rerun may send it again",
                   batch->findings[idx[k]]->fingerprint, msgid, h->last_error(c->self));
    }
    if (st == REVOPS_OK && n == 1 && !first && h->state_put(c->self, thread_key, msgid) != REVOPS_OK)
        h->log(c->self, REVOPS_LOG_WARN, "finding %.12s: its first Message-ID was not recorded (%s): a re-alert "
               "will not be threaded under it", f0->fingerprint, h->last_error(c->self));
    if (first) h->free(first);
    if (st == REVOPS_OK)
        h->log(c->self, REVOPS_LOG_DEBUG, "%zu finding%s (account %.40s%s) sent as %s", n, n == 1 ? "" : "s",
               f0->account_id ? f0->account_id : "?", n == 1 ? "" : ", ...", msgid);
    return stop;
}

static revops_status mail_deliver(void *ctx, const revops_batch *batch, revops_delivery *results)
{
    mail_ctx *c = ctx;
    const revops_host *h = c->host;
    size_t n = batch->nfindings;
    size_t *todo = calloc(n ? n : 1, sizeof *todo);
    const char **ids = calloc(n ? n : 1, sizeof *ids), **tids = calloc(n ? n : 1, sizeof *tids);
    char (*idbuf)[33] = calloc(n ? n : 1, sizeof *idbuf);
    if (!todo || !ids || !tids || !idbuf) {
        free(todo);
        free(ids);
        free(tids);
        free(idbuf);
        h->error(c->self, "out of memory");
        return REVOPS_RETRY;
    }
    /* Which findings still need a mail: those not in the `sent:` record. */
    size_t ntodo = 0;
    for (size_t i = 0; i < n; i++) {
        const revops_finding *f = batch->findings[i];
        /* A 1.4+ host always gives a delivery id; the fingerprint's first
         * 32 characters stand in should it not. */
        const char *given = h->abi_minor >= 4 && batch->delivery_ids ? batch->delivery_ids[i] : NULL;
        snprintf(idbuf[i], sizeof idbuf[i], "%s", given && *given ? given : f->fingerprint);
        ids[i] = idbuf[i];
        char key[64];
        snprintf(key, sizeof key, "sent:%s", ids[i]);
        char *prev = h->state_get(c->self, key);
        if (prev) {
            h->log(c->self, REVOPS_LOG_INFO, "finding %.12s (account %.40s) was already sent as %.200s; not sent again",
                   f->fingerprint, f->account_id ? f->account_id : "?", prev);
            h->free(prev);
            results[i].status = REVOPS_OK;
            results[i].message[0] = '\0';
            continue;
        }
        const char *le = h->last_error(c->self);
        if (le && *le) {
            set_result(&results[i], REVOPS_RETRY, "not sent: the state store cannot say whether it was sent "
                       "already: %s", le);
            continue;
        }
        tids[ntodo] = ids[i];
        todo[ntodo++] = i;
    }
    char why[sizeof results->message] = "not sent: the run's deadline has passed";
    size_t k = 0;
    if (c->digest && ntodo) {
        if (h->time_left(c->self) > 0) {
            send_one(c, batch, todo, tids, ntodo, results);
            k = ntodo;
        }
    } else {
        for (; k < ntodo; k++) {
            if (h->time_left(c->self) <= 0) break;
            if (send_one(c, batch, &todo[k], &tids[k], 1, results)) {
                snprintf(why, sizeof why, "not sent after an earlier failure: %s", results[todo[k]].message);
                k++;
                break;
            }
        }
    }
    for (; k < ntodo; k++) set_result(&results[todo[k]], REVOPS_RETRY, "%s", why);
    free(todo);
    free(ids);
    free(tids);
    free(idbuf);
    return REVOPS_OK;
}

/* ----------------------------------------------------------- lifecycle -- */

static void free_list(char **l)
{
    for (size_t i = 0; l && l[i]; i++) free(l[i]);
    free(l);
}

static void mail_close(void *ctx)
{
    mail_ctx *c = ctx;
    if (!c) return;
    free_list(c->to);
    free_list(c->cc);
    free(c);
}

/* A list option's addresses, checked, as a NULL-terminated copy. */
static revops_status address_list(mail_ctx *c, const revops_options *opts, const char *name, char ***out, size_t *n)
{
    const revops_host *h = c->host;
    size_t len = h->opt_list_len(opts, name);
    if (!(*out = calloc(len + 1, sizeof **out))) {
        h->error(c->self, "out of memory");
        return REVOPS_ERROR;
    }
    for (size_t i = 0; i < len; i++) {
        const char *v = h->opt_list_item(opts, name, i);
        const char *why = address_check(v ? v : "", 1, NULL, 0);
        if (why) {
            char s[72];
            shown(v, s);
            h->error(c->self, "option %s, entry %zu ('%s'): not an e-mail address: %s", name, i + 1, s, why);
            return REVOPS_ERROR;
        }
        if (!((*out)[i] = strdup(v))) {
            h->error(c->self, "out of memory");
            return REVOPS_ERROR;
        }
        *n = i + 1;
    }
    return REVOPS_OK;
}

static int loopback(const char *host, size_t n)
{
    static const char *const names[] = { "127.0.0.1", "localhost", "[::1]", NULL };
    for (size_t i = 0; names[i]; i++)
        if (strlen(names[i]) == n && !strncasecmp(host, names[i], n)) return 1;
    return 0;
}

static revops_status open_fail(mail_ctx *c)
{
    mail_close(c);
    return REVOPS_ERROR;
}

static revops_status mail_open(revops_instance *self, const revops_host *host, const revops_options *opts, void **ctx)
{
    if (host->abi_minor < 5 || host->size < offsetof(revops_host, state_put) + sizeof host->state_put ||
        !host->render || !host->send_mail || !host->state_get || !host->state_put || !host->last_error ||
        !host->hmac_sha256_hex) {
        host->error(self, "the email action needs a revops host with ABI 1.5 or later (send_mail, templates, state)");
        return REVOPS_ERROR;
    }
    mail_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        host->error(self, "out of memory");
        return REVOPS_ERROR;
    }
    c->self = self;
    c->host = host;
    c->url = host->opt_string(opts, "url");
    size_t skip = !strncasecmp(c->url, "smtps://", 8) ? 8 : !strncasecmp(c->url, "smtp://", 7) ? 7 : 0;
    const char *hp = c->url + skip;
    size_t hl = strcspn(hp, "/?#");
    /* HOST[:PORT], HOST possibly an [IPv6] literal */
    const char *host_end = hp[0] == '[' ? memchr(hp, ']', hl) : NULL;
    host_end = host_end ? host_end + 1 : hp[0] == '[' ? hp : memchr(hp, ':', hl);
    size_t host_len = host_end ? (size_t)(host_end - hp) : hl;
    int bad_char = 0;
    for (const char *p = c->url; *p; p++) bad_char |= (unsigned char)*p <= 0x20 || *p == 0x7f;
    if (!skip || !host_len || bad_char) {
        host->error(self, "option url must be smtp://HOST[:PORT] (STARTTLS) or smtps://HOST[:PORT] (implicit TLS), "
                          "e.g. smtp://smtp.example.com:587");
        return open_fail(c);
    }
    if (memchr(hp, '@', hl)) {
        host->error(self, "option url holds a user name or password (user@host): set username and password "
                          "(password = \"env:NAME\") instead; the url is not shown");
        return open_fail(c);
    }
    c->starttls = skip == 7 && host->opt_bool(opts, "starttls");
    c->username = host->opt_string(opts, "username");
    c->password = host->opt_string(opts, "password");
    if (c->username && !*c->username) c->username = NULL;
    if (c->password && !c->username) {
        host->error(self, "option password is set without username");
        return open_fail(c);
    }
    if (c->username && !c->password) {
        host->error(self, "option username is set without password (password = \"env:NAME\" or \"file:/path\")");
        return open_fail(c);
    }
    if (c->password && skip == 7 && !c->starttls && !loopback(hp, host_len)) {
        host->error(self, "option starttls = false with a password: the password would cross the network "
                          "unencrypted; set starttls = true or use an smtps:// url");
        return open_fail(c);
    }
    c->from = host->opt_string(opts, "from");
    char addr[ADDR_MAX + 2];
    const char *why = address_check(c->from, 1, addr, sizeof addr);
    if (why) {
        char s[72];
        shown(c->from, s);
        host->error(self, "option from ('%s'): not an e-mail address: %s", s, why);
        return open_fail(c);
    }
    snprintf(c->domain, sizeof c->domain, "%s", strchr(addr, '@') + 1);
    if (address_list(c, opts, "to", &c->to, &c->nto) != REVOPS_OK ||
        address_list(c, opts, "cc", &c->cc, &c->ncc) != REVOPS_OK)
        return open_fail(c);
    c->to_owner = host->opt_bool(opts, "to_owner");
    if (!c->nto && !c->to_owner) {
        host->error(self, "option to is empty and to_owner is false: the mail would have no recipient");
        return open_fail(c);
    }
    c->digest = host->opt_bool(opts, "digest");
    c->subject = host->opt_string(opts, "subject");
    c->subject_set = host->opt_is_set(opts, "subject");
    c->text = host->opt_is_set(opts, "text") ? host->opt_string(opts, "text") : NULL;
    c->html = host->opt_is_set(opts, "html") ? host->opt_string(opts, "html") : NULL;
    c->timeout = host->opt_real(opts, "timeout");
    *ctx = c;
    return REVOPS_OK;
}

/* ---------------------------------------------------------- descriptor -- */

static const revops_action_vtable vtable = {
    .open = mail_open,
    .deliver = mail_deliver,
    .close = mail_close,
};

static const revops_option_def options[] = {
    { "url", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 0,
      "the SMTP server: smtp://HOST[:PORT] (587 with STARTTLS) or smtps://HOST[:PORT] (465, implicit TLS)" },
    { "starttls", REVOPS_OPT_BOOL, 0, "true", 0, 0, NULL, 0,
      "smtp:// only: require STARTTLS (false only for a trusted relay; never with a password off loopback)" },
    { "username", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 0, "SMTP AUTH user (with password)" },
    { "password", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 1, "SMTP AUTH password: env:NAME or file:/path" },
    { "from", REVOPS_OPT_STRING, 1, NULL, 0, 0, NULL, 0, "the sender: \"revops <alerts@example.com>\" or an address" },
    { "to", REVOPS_OPT_LIST, 0, NULL, 0, 0, NULL, 0, "recipients (\"Name <addr>\" or addr)" },
    { "cc", REVOPS_OPT_LIST, 0, NULL, 0, 0, NULL, 0, "copy recipients" },
    { "to_owner", REVOPS_OPT_BOOL, 0, "false", 0, 0, NULL, 0,
      "also send to the finding's owner when it is an e-mail address" },
    { "subject", REVOPS_OPT_TEMPLATE, 0, DEFAULT_SUBJECT, 0, 0, NULL, 0,
      "subject template (values on one line, cut to 200 characters); digest: prefixed with the count" },
    { "text", REVOPS_OPT_TEMPLATE, 0, NULL, 0, 0, NULL, 0,
      "text/plain body template (default: facts, signals, actions, the model's summary when present)" },
    { "html", REVOPS_OPT_TEMPLATE, 0, NULL, 0, 0, NULL, 0,
      "text/html body template, values HTML-escaped (default: facts, a signal table, actions as a list, summary)" },
    { "digest", REVOPS_OPT_BOOL, 0, "false", 0, 0, NULL, 0,
      "one mail per batch listing every finding (subject with the count) instead of one per finding" },
    { "timeout", REVOPS_OPT_REAL, 0, "60", 1, 600, NULL, 0, "seconds for one SMTP session (the run's deadline applies)" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_ACTION, "email", "1.0.0",
    "an e-mail per finding or a digest per batch over SMTP (text + HTML), sent once per delivery id",
    options, { .action = &vtable }
};
