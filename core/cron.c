/* Cron expressions: the five POSIX fields (minute hour day-of-month month
 * day-of-week) with lists, ranges, steps and English names, plus the @hourly,
 * @daily, @weekly, @monthly, @yearly shorthands.  Parsing is strict: each
 * error names the field and the offending text, because an operator who
 * typed "0 25 * * *" wants to hear "hour 25 is out of range 0-23", not that
 * the pipeline silently never ran; for the same reason an expression that
 * can never fire ("0 0 30 2 *") is an error.
 *
 * cron_next computes fire times, with cronie's semantics where it has them:
 * - Day rule (Vixie, POSIX, cronie): when day-of-month and day-of-week are
 *   both restricted, a day matches if EITHER does ("0 0 13 * fri" fires on
 *   every Friday and every 13th); otherwise both must.  A field counts as
 *   unrestricted when its text starts with '*', as cronie decides it
 *   (entry.c sets DOM_STAR/DOW_STAR on a leading '*', step or not): so
 *   every other day ('*' with step 2) is unrestricted, and with "mon" as
 *   day-of-week fires on odd-numbered days that are Mondays, not on odd
 *   days and on Mondays.
 * - The schedule is wall-clock time in the pipeline's zone.  A wall time the
 *   clocks skip (02:30 on the day they jump 02:00 -> 03:00) fires once at
 *   the instant they skip at (03:00); several skipped times, and a matching
 *   03:00, collapse into that one fire.  A wall time that happens twice (the
 *   hour repeated when clocks fall back) fires once, at its first occurrence.
 *   For fixed times this is what cronie does.  It differs for jobs cronie
 *   calls wildcard (minute or hour '*'-led, "every 15 minutes", "0 * * * *"):
 *   cronie runs those again in the repeated hour, revops does not, so an
 *   hourly schedule goes 01:00 (first pass), 02:00, two hours apart; and in a
 *   skipped hour cronie drops them while revops folds them into the instant
 *   after the gap (which such a schedule matches anyway when its minute is 0).
 * - Walking: matching months, days and hours are found by calendar
 *   arithmetic on wall time, and only a matching wall minute is turned into
 *   an instant; "0 0 29 2 *" from 2096 to 2104 takes microseconds. */
#include "config.h"
#include "core.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

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

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

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
    /* Only day-of-month alone can rule out every day: with day-of-week
     * also restricted either matches (weekdays come every week), and a
     * day-of-month that starts with '*' (a step over all days) includes the
     * 1st, which falls on every weekday over the years.  The 29th counts
     * for February (leap years). */
    if (out->wday_star && !out->mday_star) {
        int fires = 0;
        for (int m = 1; m <= 12 && !fires; m++)
            if ((out->months >> m) & 1)
                for (int d = 1; d <= (m == 2 ? 29 : days_in_month(2001, m)) && !fires; d++)
                    if ((out->mdays >> d) & 1) fires = 1;
        if (!fires) {
            snprintf(err, errlen, "cron expression '%s' never fires: day-of-month '%s' does not occur in month '%s'",
                     s, tok[2], tok[3]);
            return -1;
        }
    }
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

/* ------------------------------------------------------------ next fire */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), so weekdays and "wall time as if UTC" need no libc. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* A wall-clock minute in the schedule's zone. */
typedef struct civil {
    int64_t year;
    int mon, day, hour, min;  /* 1-12, 1-31, 0-23, 0-59 */
} civil;

/* Wall time as seconds on a clock that never changes offset: ordering
 * and equality of wall times without caring about DST. */
static int64_t civil_key(const civil *c)
{
    return days_from_civil(c->year, c->mon, c->day) * 86400 + c->hour * 3600 + c->min * 60;
}

static int day_matches(const cron_expr *e, const civil *c)
{
    int dom = (e->mdays >> c->day) & 1;
    int64_t days = days_from_civil(c->year, c->mon, c->day);
    int wd = (int)(((days % 7) + 11) % 7);  /* 1970-01-01 was a Thursday (4) */
    int dow = (e->wdays >> wd) & 1;
    /* Vixie/cronie: both fields restricted -> either may match. */
    if (!e->mday_star && !e->wday_star) return dom || dow;
    return dom && dow;
}

static void next_day(civil *c)
{
    c->hour = c->min = 0;
    if (++c->day > days_in_month(c->year, c->mon)) {
        c->day = 1;
        if (++c->mon > 12) {
            c->mon = 1;
            c->year++;
        }
    }
}

/* Move *c forward to the first matching wall minute at or after it, a
 * month, a day or an hour at a time where a whole one does not match: the
 * longest walk (a Feb 29 eight years away) visits ~100 months and ~230
 * days.  -1 past year `limit`. */
static int next_match(const cron_expr *e, civil *c, int64_t limit)
{
    for (;;) {
        if (c->year > limit) return -1;
        if (!((e->months >> c->mon) & 1)) {
            c->day = 1;
            c->hour = c->min = 0;
            if (++c->mon > 12) {
                c->mon = 1;
                c->year++;
            }
            continue;
        }
        if (!day_matches(e, c)) {
            next_day(c);
            continue;
        }
        while (c->hour < 24 && !((e->hours >> c->hour) & 1)) {
            c->hour++;
            c->min = 0;
        }
        if (c->hour == 24) {
            next_day(c);
            continue;
        }
        while (c->min < 60 && !((e->minutes >> c->min) & 1)) c->min++;
        if (c->min == 60) {
            c->min = 0;
            if (++c->hour == 24) next_day(c);
            continue;
        }
        return 0;
    }
}

/* The zone's wall time of instant t, as a civil_key with seconds. */
static int64_t wall_key(time_t t, int utc)
{
    struct tm tm;
    if (utc ? !gmtime_r(&t, &tm) : !localtime_r(&t, &tm)) return INT64_MIN;
    return days_from_civil((int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) * 86400 +
           tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

/* The instant a wall time fires: its first occurrence, or, for a time the
 * clocks skip, the instant they skip at.  Any instant with wall time W is
 * W - offset for the zone's offset at that instant, and at most one
 * transition lies within 36 hours, so the offsets 36 hours either side
 * (and at W itself) are all the candidates.  This asks the zone for
 * offsets rather than calling mktime with tm_isdst 0 and 1: glibc's mktime
 * only finds the other occurrence when isdst differs across the change,
 * which misses changes of standard offset (Europe/Moscow 2014, 04:00 ->
 * 03:00, isdst 0 on both sides; Pacific/Apia skipping 2011-12-30). */
static time_t wall_to_instant(int64_t w, int utc)
{
    if (utc) return (time_t)w;
    time_t best = 0, lo = 0, hi = 0;
    int have_best = 0, have_lo = 0, have_hi = 0;
    for (int k = -1; k <= 1; k++) {
        time_t probe = (time_t)(w + k * 36 * 3600);
        int64_t off = wall_key(probe, 0) - probe;
        time_t c = (time_t)(w - off);
        int64_t cw = wall_key(c, 0);
        if (cw == w) {
            if (!have_best || c < best) best = c;
            have_best = 1;
        } else if (cw < w) {
            if (!have_lo || c > lo) lo = c;
            have_lo = 1;
        } else {
            if (!have_hi || c < hi) hi = c;
            have_hi = 1;
        }
    }
    if (have_best) return best;
    if (!have_lo || !have_hi || lo >= hi) return (time_t)w;  /* no zone does this; stay defined */
    /* In the gap: the first instant whose wall time is past w is the
     * transition.  Between lo and hi wall time only moves forward. */
    while (hi - lo > 1) {
        time_t mid = lo + (hi - lo) / 2;
        if (wall_key(mid, 0) > w)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

/* glibc keeps one time zone per process, taken from TZ by tzset(); there is
 * no localtime for a named zone.  So switch TZ for the computation and put
 * it back, under a lock so two threads computing schedules do not switch it
 * under each other.  Other code calling localtime meanwhile would see the
 * schedule's zone for those microseconds: the core logs in UTC and calls no
 * localtime, and this keeps it that way.  Other threads' getenv (libcurl
 * reads proxy variables) is safe while TZ is only replaced, but adding and
 * removing it can move the environment array under them: see
 * cron_tz_prepare. */
static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

/* For glibc an unset TZ means the file /etc/localtime, exactly as
 * TZ=":/etc/localtime" does; setting that once, before any thread starts,
 * means cron_next later only replaces TZ's value and never adds or removes
 * the variable (setenv may then realloc environ while another thread's
 * getenv walks it). */
void cron_tz_prepare(void)
{
    if (!getenv("TZ")) setenv("TZ", ":/etc/localtime", 1);
}

int cron_next(const cron_expr *e, const char *tz, time_t after, time_t *next)
{
    int utc = !tz || !*tz || strcmp(tz, "UTC") == 0;
    char *saved = NULL;
    int had_tz = 0;
    if (!utc) {
        char err[512];
        pthread_mutex_lock(&tz_lock);  /* cron_tz_check's getenv too: no setenv under it */
        if (cron_tz_check(tz, err, sizeof err) < 0) {
            pthread_mutex_unlock(&tz_lock);
            return -1;
        }
        const char *old = getenv("TZ");
        had_tz = old != NULL;
        saved = old ? strdup(old) : NULL;
        char val[256];
        snprintf(val, sizeof val, ":%s", tz);  /* ':' = a zone file, never a POSIX rule string */
        setenv("TZ", val, 1);
        tzset();
    }

    int rc = -1;
    int64_t now = wall_key(after, utc);
    if (now != INT64_MIN) {
        int64_t days = now >= 0 ? now / 86400 : -((-now + 86399) / 86400);
        int64_t secs = now - days * 86400;
        /* civil_from_days, inverse of days_from_civil */
        int64_t z = days + 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;
        civil c = { .day = (int)(doy - (153 * mp + 2) / 5 + 1), .mon = (int)(mp < 10 ? mp + 3 : mp - 9),
                    .hour = (int)(secs / 3600), .min = (int)(secs % 3600 / 60) };
        c.year = yoe + era * 400 + (c.mon <= 2);
        int64_t limit = c.year + 30;
        /* Starting at after's own wall minute is safe: wall_to_instant is
         * monotonic, so no earlier wall time fires after `after`.  A wall
         * time that fires at or before `after` (the skipped times folded
         * into the instant after a gap, or the first pass of a repeated
         * hour when `after` is in the second) is stepped over. */
        while (next_match(e, &c, limit) == 0) {
            time_t t = wall_to_instant(civil_key(&c), utc);
            if (t > after) {
                *next = t;
                rc = 0;
                break;
            }
            if (++c.min == 60) {
                c.min = 0;
                if (++c.hour == 24) next_day(&c);
            }
        }
    }

    if (!utc) {
        if (had_tz && saved)
            setenv("TZ", saved, 1);
        else
            unsetenv("TZ");
        tzset();
        free(saved);
        pthread_mutex_unlock(&tz_lock);
    }
    return rc;
}
