/* Cron expressions: the five POSIX fields (minute hour day-of-month month
 * day-of-week) with lists, ranges, steps and English names, plus the @hourly,
 * @daily, @weekly, @monthly, @yearly shorthands.  Parsing is strict: each
 * error names the field and the offending text, because an operator who
 * typed "0 25 * * *" wants to hear "hour 25 is out of range 0-23", not that
 * the pipeline silently never ran. */
#include "config.h"
#include "core.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <strings.h>

typedef struct field_spec {
    const char *name;
    int lo, hi;
    const char *const *names;  /* names for lo..hi, or NULL */
} field_spec;

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun",
                                           "jul", "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const wday_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

static const field_spec fields[5] = {
    { "minute", 0, 59, NULL },
    { "hour", 0, 23, NULL },
    { "day-of-month", 1, 31, NULL },
    { "month", 1, 12, month_names },
    { "day-of-week", 0, 7, wday_names },  /* 7 is Sunday too */
};

static int parse_value(const field_spec *f, const char **p, int *out)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end - s > 4) return -1;
        *out = (int)v;
        *p = end;
        return 0;
    }
    if (f->names && isalpha((unsigned char)*s)) {
        for (int i = 0; f->names[i]; i++)
            if (strncasecmp(s, f->names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
                *out = f->lo + i;
                *p = s + 3;
                return 0;
            }
    }
    return -1;
}

static int parse_field(const field_spec *f, const char *text, unsigned long long *bits,
                       char *err, size_t errlen)
{
    *bits = 0;
    const char *p = text;
    for (;;) {
        int lo, hi, step = 1;
        const char *item = p;
        if (*p == '*') {
            lo = f->lo;
            hi = f->hi == 7 ? 6 : f->hi;
            p++;
        } else {
            if (parse_value(f, &p, &lo) < 0) goto bad;
            hi = lo;
            if (*p == '-') {
                p++;
                if (parse_value(f, &p, &hi) < 0) goto bad;
            }
        }
        if (*p == '/') {
            p++;
            char *end;
            long s = strtol(p, &end, 10);
            if (end == p || s < 1 || s > f->hi) {
                snprintf(err, errlen, "%s step in '%s' must be a number from 1 to %d", f->name, text, f->hi);
                return -1;
            }
            step = (int)s;
            p = end;
            if (item[0] != '*' && hi == lo) hi = f->hi == 7 ? 6 : f->hi;  /* "5/15" = 5-max/15 */
        }
        if (lo < f->lo || lo > f->hi || hi < f->lo || hi > f->hi) {
            snprintf(err, errlen, "%s %d is out of range %d-%d in '%s'", f->name,
                     (lo < f->lo || lo > f->hi) ? lo : hi, f->lo, f->hi, text);
            return -1;
        }
        if (hi < lo) {
            snprintf(err, errlen, "%s range '%.*s' goes backwards", f->name, (int)(p - item), item);
            return -1;
        }
        for (int v = lo; v <= hi; v += step) *bits |= 1ULL << (f->hi == 7 && v == 7 ? 0 : v);
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '\0') return 0;
    bad:
        snprintf(err, errlen, "%s field '%s' is not valid (expected numbers %d-%d%s, '*', ranges a-b, lists a,b and steps /n)",
                 f->name, text, f->lo, f->hi, f->names ? " or names" : "");
        return -1;
    }
}

int cron_parse(const char *s, cron_expr *out, char *err, size_t errlen)
{
    static const struct { const char *name, *expansion; } macros[] = {
        { "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
        { "@weekly", "0 0 * * 0" }, { "@daily", "0 0 * * *" }, { "@midnight", "0 0 * * *" },
        { "@hourly", "0 * * * *" },
    };
    memset(out, 0, sizeof *out);
    while (isspace((unsigned char)*s)) s++;
    if (*s == '@') {
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
            if (strcmp(s, macros[i].name) == 0) return cron_parse(macros[i].expansion, out, err, errlen);
        snprintf(err, errlen, "unknown cron shorthand '%s' (known: @yearly @annually @monthly @weekly @daily @midnight @hourly)", s);
        return -1;
    }
    char buf[256];
    if (strlen(s) >= sizeof buf) {
        snprintf(err, errlen, "cron expression is too long");
        return -1;
    }
    strcpy(buf, s);
    char *tok[6];
    int n = 0;
    for (char *save = NULL, *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (n == 6) break;
        tok[n++] = t;
    }
    if (n != 5) {
        snprintf(err, errlen, "cron expression '%s' has %d field%s; expected 5 (minute hour day-of-month month day-of-week)",
                 s, n, n == 1 ? "" : "s");
        return -1;
    }
    unsigned long long bits[5];
    for (int i = 0; i < 5; i++)
        if (parse_field(&fields[i], tok[i], &bits[i], err, errlen) < 0) return -1;
    out->minutes = bits[0];
    out->hours = (unsigned int)bits[1];
    out->mdays = (unsigned int)bits[2];
    out->months = (unsigned int)bits[3];
    out->wdays = (unsigned int)bits[4];
    out->mday_star = tok[2][0] == '*';
    out->wday_star = tok[4][0] == '*';
    return 0;
}

/* glibc treats a TZ it cannot find as UTC without a word, so a typo in
 * `timezone` would move every run by hours.  Look for the TZif file the way
 * glibc does ($TZDIR, else /usr/share/zoneinfo) and refuse names that leave
 * that directory. */
int cron_tz_check(const char *tz, char *err, size_t errlen)
{
    if (!tz || !*tz || strcmp(tz, "UTC") == 0) return 0;
    if (tz[0] == '/' || strstr(tz, "..") || strlen(tz) > 200) {
        snprintf(err, errlen, "'%s' is not a zone name such as Europe/Berlin or America/New_York", tz);
        return -1;
    }
    for (const char *p = tz; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("/_-+", *p)) {
            snprintf(err, errlen, "'%s' is not a zone name such as Europe/Berlin or America/New_York", tz);
            return -1;
        }
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir) dir = "/usr/share/zoneinfo";
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, tz);
    FILE *f = fopen(path, "rb");
    char magic[4] = { 0 };
    int ok = f && fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
    if (f) fclose(f);
    if (!ok) {
        snprintf(err, errlen, "unknown time zone '%s' (no zone file %s; is the tzdata package installed?)", tz, path);
        return -1;
    }
    return 0;
}
