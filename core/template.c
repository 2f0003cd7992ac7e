/* Message templates for action sinks: "{{account_name}} is {{priority}}".
 * The template text is the operator's and is taken as written; every value
 * put into it is escaped for where the sink sends it (Slack mrkdwn, HTML, a
 * JSON string, a mail header) and cut at the sink's limit, so a hostile
 * account name ("<!channel>", "<script>", a quote, a newline) renders inert.
 * Placeholders are checked at config time (REVOPS_OPT_TEMPLATE options), so
 * a typo is a file:line error, not an empty string in a Slack message. */
#include "config.h"
#include "core.h"

#include <stdio.h>
#include <string.h>

const char *const template_placeholders[] = {
    "account_id", "account_name", "opportunity_id", "analysis", "category", "priority", "score", "confidence",
    "title", "description", "signals", "actions", "fingerprint", "pipeline", "session_id", "narrative",
    "next_steps", "partial", "owner", "delivery_id", "occurrence", NULL
};

static int known(const char *name, size_t n)
{
    for (size_t i = 0; template_placeholders[i]; i++)
        if (strlen(template_placeholders[i]) == n && !strncmp(template_placeholders[i], name, n)) return 1;
    return 0;
}

int template_check(const char *t, char *err, size_t errlen)
{
    for (const char *p = t; (p = strstr(p, "{{"));) {
        const char *end = strstr(p + 2, "}}");
        if (!end) {
            snprintf(err, errlen, "'{{' at offset %zu is not closed with '}}'", (size_t)(p - t));
            return -1;
        }
        const char *name = p + 2;
        size_t n = (size_t)(end - name);
        while (n && *name == ' ') name++, n--;
        while (n && name[n - 1] == ' ') n--;
        if (!known(name, n)) {
            strbuf sb = { 0 };
            for (size_t i = 0; template_placeholders[i]; i++) sb_printf(&sb, "%s%s", i ? ", " : "", template_placeholders[i]);
            snprintf(err, errlen, "unknown placeholder {{%.*s}} (known: %s)", (int)n, name, sb.buf);
            sb_free(&sb);
            return -1;
        }
        p = end + 2;
    }
    return 0;
}

/* The value of one placeholder, unescaped (malloc'd). */
static char *value_of(const char *name, size_t n, const revops_finding *f, const revops_batch *b)
{
#define IS(x) (strlen(x) == n && !strncmp(name, x, n))
    char num[64];
    if (IS("account_id")) return xstrdup(f->account_id ? f->account_id : "");
    if (IS("account_name")) return xstrdup(f->account_name ? f->account_name : f->account_id ? f->account_id : "");
    if (IS("opportunity_id")) return xstrdup(f->opportunity_id ? f->opportunity_id : "");
    if (IS("analysis")) return xstrdup(f->analysis ? f->analysis : "");
    if (IS("category")) return xstrdup(f->category ? f->category : "");
    if (IS("priority")) return xstrdup(revops_priority_name(f->priority));
    if (IS("score")) return snprintf(num, sizeof num, "%.2f", f->score), xstrdup(num);
    if (IS("confidence")) return snprintf(num, sizeof num, "%.2f", f->confidence), xstrdup(num);
    if (IS("title")) return xstrdup(f->title ? f->title : "");
    if (IS("description")) return xstrdup(f->description ? f->description : "");
    if (IS("fingerprint")) return xstrdup(f->fingerprint);
    if (IS("pipeline")) return xstrdup(b && b->pipeline ? b->pipeline : "");
    if (IS("session_id")) return xstrdup(b && b->session_id ? b->session_id : "");
    if (IS("narrative")) return xstrdup(f->narrative ? f->narrative : "");
    if (IS("partial")) return xstrdup(f->partial ? "partial data" : "");
    if (IS("owner")) return xstrdup(f->owner ? f->owner : "");
    if (IS("delivery_id") || IS("occurrence")) {
        /* This finding's place in the batch (render is given the finding
         * the sink is working on, a pointer into batch->findings). */
        for (size_t i = 0; b && i < b->nfindings; i++) {
            if (b->findings[i] != f) continue;
            if (IS("delivery_id")) return xstrdup(b->delivery_ids ? b->delivery_ids[i] : "");
            snprintf(num, sizeof num, "%d", b->occurrences ? b->occurrences[i] : 1);
            return xstrdup(num);
        }
        return xstrdup(IS("occurrence") ? "1" : "");
    }
    strbuf sb = { 0 };
    if (IS("signals")) {
        for (size_t i = 0; i < f->nsignals; i++) {
            char v[48], th[48];
            revops_fmt_num(f->signals[i].value, v);
            revops_fmt_num(f->signals[i].threshold, th);
            sb_printf(&sb, "%s- %s: %s (threshold %s)%s%s", i ? "\n" : "", f->signals[i].name ? f->signals[i].name : "", v,
                      th, f->signals[i].evidence ? ": " : "", f->signals[i].evidence ? f->signals[i].evidence : "");
        }
    } else if (IS("actions")) {
        for (size_t i = 0; i < f->nactions; i++) sb_printf(&sb, "%s%zu. %s", i ? "\n" : "", i + 1, f->recommended_actions[i]);
    } else if (IS("next_steps")) {
        for (size_t i = 0; i < f->nnext_steps; i++) sb_printf(&sb, "%s%zu. %s", i ? "\n" : "", i + 1, f->next_steps[i]);
    }
#undef IS
    return sb.buf ? sb_steal(&sb) : xstrdup("");
}

/* At most max characters (UTF-8), the last of them "…" when cut; a new
 * string replaces *s. */
static void cut(char **s, size_t max)
{
    if (!max) return;
    size_t chars = 0, keep = 0;
    const char *v = *s;
    for (size_t i = 0; v[i]; i++) {
        if (((unsigned char)v[i] & 0xC0) == 0x80) continue;
        if (chars == max - 1) keep = i;    /* where the ellipsis would go */
        if (chars == max) {
            char *c = xmalloc(keep + 4);
            memcpy(c, v, keep);
            memcpy(c + keep, "\xe2\x80\xa6", 4);   /* U+2026 and the NUL */
            free(*s);
            *s = c;
            return;
        }
        chars++;
    }
}

static void escape_into(strbuf *out, const char *v, revops_escape esc)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        unsigned char ch = *p;
        switch (esc) {
        case REVOPS_ESC_SLACK:
            /* Slack's formatting docs: only &, < and > need escaping; with
             * < and > as entities no <!channel>, <@U..> or <url|x> survives. */
            if (ch == '&') sb_puts(out, "&amp;");
            else if (ch == '<') sb_puts(out, "&lt;");
            else if (ch == '>') sb_puts(out, "&gt;");
            else sb_add(out, (const char *)p, 1);
            break;
        case REVOPS_ESC_HTML:
            if (ch == '&') sb_puts(out, "&amp;");
            else if (ch == '<') sb_puts(out, "&lt;");
            else if (ch == '>') sb_puts(out, "&gt;");
            else if (ch == '"') sb_puts(out, "&quot;");
            else if (ch == '\'') sb_puts(out, "&#39;");
            else sb_add(out, (const char *)p, 1);
            break;
        case REVOPS_ESC_JSON:
            if (ch == '"') sb_puts(out, "\\\"");
            else if (ch == '\\') sb_puts(out, "\\\\");
            else if (ch == '\n') sb_puts(out, "\\n");
            else if (ch == '\r') sb_puts(out, "\\r");
            else if (ch == '\t') sb_puts(out, "\\t");
            else if (ch < 0x20) sb_printf(out, "\\u%04x", ch);
            else sb_add(out, (const char *)p, 1);
            break;
        case REVOPS_ESC_HEADER:
            /* A header value on one line: no CR/LF (header injection), no
             * other control characters. */
            sb_add(out, ch < 0x20 || ch == 0x7f ? " " : (const char *)p, 1);
            break;
        default:
            sb_add(out, (const char *)p, 1);
        }
    }
}

char *template_render(const char *t, const revops_finding *f, const revops_batch *b, revops_escape esc, size_t max_value)
{
    strbuf out = { 0 };
    const char *p = t;
    for (const char *open; (open = strstr(p, "{{"));) {
        const char *end = strstr(open + 2, "}}");
        if (!end) break;
        sb_add(&out, p, (size_t)(open - p));
        const char *name = open + 2;
        size_t n = (size_t)(end - name);
        while (n && *name == ' ') name++, n--;
        while (n && name[n - 1] == ' ') n--;
        char *v = value_of(name, n, f, b);
        cut(&v, max_value);
        escape_into(&out, v, esc);
        free(v);
        p = end + 2;
    }
    sb_puts(&out, p);
    return out.buf ? sb_steal(&out) : xstrdup("");
}
