/* cron_next against tests/cron_table.txt (fire times worked out by hand and
 * with python zoneinfo, never by this code), plus what the table cannot
 * say: TZ is put back, threads do not disturb each other, the 30-year
 * bound, and speed.  TAP. */
#include "config.h"
#include "../core/core.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap.h"

static int parse_iso(const char *s, time_t *t)
{
    struct tm tm = { 0 };
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, &n) != 6 || s[n] != '\0')
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *t = timegm(&tm);
    return 0;
}

static const char *iso(time_t t, char buf[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) *--e = '\0';
    return s;
}

/* "{zonedir}" in an expected message: where cron_tz_check looks. */
static void expand_zonedir(const char *in, char *out, size_t n)
{
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir) dir = "/usr/share/zoneinfo";
    const char *p = strstr(in, "{zonedir}");
    if (p)
        snprintf(out, n, "%.*s%s%s", (int)(p - in), in, dir, p + strlen("{zonedir}"));
    else
        snprintf(out, n, "%s", in);
}

static void table_row(char *line, int lineno)
{
    char *f[8];
    int nf = 0;
    for (char *save = NULL, *t = strtok_r(line, "|", &save); t && nf < 8; t = strtok_r(NULL, "|", &save))
        f[nf++] = trim(t);
    if (nf < 3) {
        ok(0, "cron_table.txt:%d: fewer than 3 fields", lineno);
        return;
    }
    const char *expr = f[0], *tz = strcmp(f[1], "UTC") == 0 ? NULL : f[1];
    char err[512] = "";
    cron_expr e;
    if (f[2][0] == '!') {
        char want[512];
        expand_zonedir(trim(f[2] + 1), want, sizeof want);
        if (cron_parse(expr, &e, err, sizeof err) < 0) {
            ok(strcmp(err, want) == 0, "line %d: '%s' refused: %s%s%s", lineno, expr, err,
               strcmp(err, want) ? " -- want: " : "", strcmp(err, want) ? want : "");
            return;
        }
        time_t next;
        int rc = cron_tz_check(tz, err, sizeof err);
        int next_rc = cron_next(&e, tz, 0, &next);
        ok(rc < 0 && strcmp(err, want) == 0 && next_rc < 0, "line %d: zone '%s' refused: %s%s%s (cron_next %d)", lineno,
           f[1], rc < 0 ? err : "(accepted)", strcmp(err, want) ? " -- want: " : "", strcmp(err, want) ? want : "",
           next_rc);
        return;
    }
    if (cron_parse(expr, &e, err, sizeof err) < 0 || cron_tz_check(tz, err, sizeof err) < 0) {
        ok(0, "line %d: '%s' %s: %s", lineno, expr, f[1], err);
        return;
    }
    time_t after;
    if (parse_iso(f[2], &after) < 0) {
        ok(0, "cron_table.txt:%d: bad time '%s'", lineno, f[2]);
        return;
    }
    char got_s[256] = "", want_s[256] = "", b[32];
    int good = 1;
    for (int i = 3; i < nf; i++) {
        time_t want, got = 0;
        if (parse_iso(f[i], &want) < 0) {
            ok(0, "cron_table.txt:%d: bad time '%s'", lineno, f[i]);
            return;
        }
        int rc = cron_next(&e, tz, after, &got);
        if (rc < 0 || got != want) good = 0;
        snprintf(got_s + strlen(got_s), sizeof got_s - strlen(got_s), " %s", rc < 0 ? "(none)" : iso(got, b));
        snprintf(want_s + strlen(want_s), sizeof want_s - strlen(want_s), " %s", f[i]);
        after = want;  /* the next one from the right instant, so one miss does not cascade */
    }
    ok(good, "line %d: '%s' %s after %s:%s%s%s", lineno, expr, f[1], f[2], got_s, good ? "" : " -- want:",
       good ? "" : want_s);
}

static int run_table(void)
{
    const char *dir = getenv("top_srcdir");
    if (!dir) dir = getenv("srcdir");
    if (!dir) dir = ".";
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/cron_table.txt", dir);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        ok(0, "open %s", path);
        return 0;
    }
    char line[1024];
    int lineno = 0, rows = 0;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        rows++;
        table_row(s, lineno);
    }
    fclose(fp);
    return rows;
}

/* Zone switching must leave TZ as it found it: set, and unset. */
static void test_tz_restored(void)
{
    cron_expr e;
    char err[256];
    time_t next;
    cron_parse("0 9 * * *", &e, err, sizeof err);

    setenv("TZ", ":Asia/Tokyo", 1);
    tzset();
    cron_next(&e, "America/New_York", 0, &next);
    const char *tz = getenv("TZ");
    time_t zero = 0;
    struct tm tm;
    localtime_r(&zero, &tm);
    ok(tz && strcmp(tz, ":Asia/Tokyo") == 0 && tm.tm_hour == 9,
       "TZ=:Asia/Tokyo is put back (TZ '%s', epoch at %02d:00 local, want 09)", tz ? tz : "(unset)", tm.tm_hour);

    unsetenv("TZ");
    tzset();
    cron_next(&e, "Europe/Berlin", 0, &next);
    ok(getenv("TZ") == NULL, "an unset TZ stays unset");

    /* cron_tz_prepare: same local time as unset, and then left alone. */
    time_t t = 1751328000;  /* 2025-07-01T00:00:00Z, summer where there is one */
    struct tm unset_tm, prep_tm;
    localtime_r(&t, &unset_tm);
    cron_tz_prepare();
    tzset();
    localtime_r(&t, &prep_tm);
    cron_next(&e, "Asia/Kolkata", 0, &next);
    tz = getenv("TZ");
    ok(tz && strcmp(tz, ":/etc/localtime") == 0 && prep_tm.tm_hour == unset_tm.tm_hour &&
           prep_tm.tm_gmtoff == unset_tm.tm_gmtoff,
       "cron_tz_prepare: TZ '%s' gives the unset TZ's local time (UTC%+ld, want %+ld)", tz ? tz : "(unset)",
       (long)prep_tm.tm_gmtoff, (long)unset_tm.tm_gmtoff);
    unsetenv("TZ");
    tzset();
}

/* Threads computing in different zones at once each get their own zone. */
typedef struct job {
    const char *expr, *tz, *after, *want;
    int bad;
} job;

static void *thread_main(void *arg)
{
    job *j = arg;
    cron_expr e;
    char err[256];
    time_t after, want, got;
    cron_parse(j->expr, &e, err, sizeof err);
    parse_iso(j->after, &after);
    parse_iso(j->want, &want);
    for (int i = 0; i < 300; i++)
        if (cron_next(&e, j->tz, after, &got) < 0 || got != want) j->bad++;
    return NULL;
}

static void test_threads(void)
{
    job jobs[] = {
        { "30 2 * * *", "America/New_York", "2025-03-08T12:00:00Z", "2025-03-09T07:00:00Z", 0 },
        { "30 2 * * *", "Europe/Berlin", "2025-10-25T12:00:00Z", "2025-10-26T00:30:00Z", 0 },
        { "0 9 * * *", "Asia/Kolkata", "2025-01-01T00:00:00Z", "2025-01-01T03:30:00Z", 0 },
        { "0 9 * * *", NULL, "2025-01-01T00:00:00Z", "2025-01-01T09:00:00Z", 0 },
    };
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, thread_main, &jobs[i]);
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        bad += jobs[i].bad;
    }
    ok(bad == 0, "4 threads x 300 calls in 4 zones: %d wrong answers", bad);
}

static void test_bounds(void)
{
    /* The parser refuses what never fires, so build one by hand: the 31st
     * of February only. */
    cron_expr e = { .minutes = 1, .hours = 1, .mdays = 1u << 31, .months = 1u << 2, .wdays = 0x7f, .wday_star = 1 };
    time_t next = 12345, after;
    parse_iso("2025-01-01T00:00:00Z", &after);
    ok(cron_next(&e, NULL, after, &next) < 0 && next == 12345, "an expression that never fires: -1 after 30 years");
    ok(cron_next(&e, "Europe/Berlin", after, &next) < 0, "the same in a named zone");
    cron_expr daily;
    char err[256];
    cron_parse("0 0 * * *", &daily, err, sizeof err);
    ok(cron_next(&daily, "Nowhere/Atlantis", after, &next) < 0, "an unknown zone: -1, not UTC");
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* The next leap day from 2096 is 2104.  Measure the minimum of many calls
 * (other processes share the CPUs) and report the mean. */
static void test_speed(const char *tz)
{
    cron_expr e;
    char err[256], b[32];
    time_t after, next = 0;
    cron_parse("0 0 29 2 *", &e, err, sizeof err);
    parse_iso("2096-03-01T00:00:00Z", &after);
    double best = 1e9, total = 0;
    const int n = 300;
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        cron_next(&e, tz, after, &next);
        double dt = now_us() - t0;
        total += dt;
        if (dt < best) best = dt;
    }
    ok(best < 1000, "'0 0 29 2 *' %s from 2096-03-01 -> %s in %.1f us (best of %d; mean %.1f us)", tz ? tz : "UTC",
       iso(next, b), best, n, total / n);
}

int main(void)
{
    char err[512];
    if (cron_tz_check("America/New_York", err, sizeof err) < 0) {
        printf("1..0 # SKIP %s\n", err);
        return 0;
    }
    int rows = run_table();
    ok(rows >= 40, "the table has %d rows", rows);
    test_tz_restored();
    test_threads();
    test_bounds();
    test_speed(NULL);
    test_speed("America/New_York");
    printf("1..%d\n", n_tests);
    return n_failed ? 1 : 0;
}
