/*
 * utf8_common.h: UTF-8 helpers shared by the in-tree action plugins only
 * (slack_alert, webhook, jira, firebolt_insights, postgres_insights).  Not
 * an installed header and not part of the plugin ABI: the functions are
 * static, so each plugin gets its own copy.  Includes only
 * <revops/revops.h> and libc headers.
 */
#ifndef REVOPS_PLUGINS_UTF8_COMMON_H
#define REVOPS_PLUGINS_UTF8_COMMON_H

#include <revops/revops.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The length of the valid UTF-8 sequence at p (1..4; RFC 3629: shortest
 * form, no surrogates, at most U+10FFFF), 0 if the bytes there are not one.
 * Reads at most avail bytes; for a NUL-terminated string pass SIZE_MAX: a
 * NUL is not a continuation byte, so a sequence the string's end cuts short
 * is invalid and nothing past the NUL is read.  With cp, the code point is
 * stored there when the sequence is valid. */
static size_t utf8_seq(const unsigned char *p, size_t avail, unsigned *cp)
{
    if (!avail) return 0;
    unsigned char ch = p[0];
    if (ch < 0x80) {
        if (cp) *cp = ch;
        return 1;
    }
    size_t n = ch >= 0xF5 ? 0 : ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : ch >= 0xC2 ? 2 : 0;
    if (!n || avail < n) return 0;
    for (size_t k = 1; k < n; k++)
        if ((p[k] & 0xC0) != 0x80) return 0;
    if ((ch == 0xE0 && p[1] < 0xA0) || (ch == 0xF0 && p[1] < 0x90) || (ch == 0xED && p[1] >= 0xA0) ||
        (ch == 0xF4 && p[1] >= 0x90))
        return 0;   /* overlong, surrogate, past U+10FFFF */
    if (cp) {
        unsigned v = ch & (0x7Fu >> n);
        for (size_t k = 1; k < n; k++) v = (v << 6) | (p[k] & 0x3Fu);
        *cp = v;
    }
    return n;
}

/* At most max bytes of s on one line, for a message: control characters as
 * spaces, bytes that are not UTF-8 as '?', never a character cut in two
 * ("..." when cut).  (inline: not every plugin that includes this header
 * uses it, and an unused static inline function draws no warning.) */
static inline void utf8_one_line(const char *s, size_t len, size_t max, char *out, size_t outlen)
{
    size_t k = 0, i = 0;
    if (!outlen) return;
    while (i < len) {
        size_t n = utf8_seq((const unsigned char *)s + i, len - i, NULL);
        if (i + (n ? n : 1) > max || k + (n ? n : 1) + 1 > outlen) break;
        if (!n) out[k++] = '?';
        else if (n == 1) out[k++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
        else memcpy(out + k, s + i, n), k += n;
        i += n ? n : 1;
    }
    while (k > 0 && out[k - 1] == ' ') k--;
    if (i < len && k + 4 <= outlen) memcpy(out + k, "...", 3), k += 3;
    out[k] = '\0';
}

#endif
