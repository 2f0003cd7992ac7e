/* The scheduler (core/sched.c) driven by an injected clock: the test jumps
 * from wake-up to wake-up the way the daemon's poll loop does, and checks
 * which pipelines fire at which instants, what happens to fires of a busy
 * pipeline, after downtime, after a suspend and across a reload.  Expected
 * instants were worked out by hand from the calendar (and for the DST day
 * from the zone's published transition), not by running cron_next. */
#include "config.h"
#include "../core/core.h"

#include <stdlib.h>
#include <string.h>

static int tests, failures;

static void ok(int cond, const char *fmt, const char *detail)
{
    tests++;
    if (!cond) failures++;
    printf("%sok %d - %s", cond ? "" : "not ", tests, fmt);
    if (detail && *detail) {
        printf(" (");
        for (const char *p = detail; *p; p++) putchar(*p == '\n' ? ' ' : *p);
        printf(")");
    }
    printf("\n");
}

static time_t at(const char *iso)
{
    double t = 0;
    utc_parse(iso, &t);
    return (time_t)t;
}

static void iso(time_t t, char *out, size_t n)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Walk the clock from `from` to `to` the way the daemon does (sleep until
 * the next wake, then take what is due); append "pipeline@instant" lines. */
static void walk(sched *s, time_t from, time_t to, char *log, size_t n, size_t *nfires)
{
    time_t now = from;
    size_t len = strlen(log);
    for (;;) {
        sched_fire *f = NULL;
        size_t k = sched_due(s, now, &f);
        for (size_t i = 0; i < k; i++) {
            char t[32];
            iso(f[i].scheduled, t, sizeof t);
            len += (size_t)snprintf(log + len, len < n ? n - len : 0, "%s@%s%s\n", s->v[f[i].entry].pipeline, t,
                                    f[i].busy ? " busy" : "");
            (*nfires)++;
        }
        free(f);
        time_t wake = sched_next_wake(s);
        if (!wake || wake > to) break;
        now = wake;
    }
}

static void add(sched *s, const char *p, const char *cron, const char *tz, missed_policy m, time_t last, time_t now)
{
    char err[256];
    if (sched_add(s, p, cron, tz, m, last, now, err, sizeof err) < 0) {
        printf("# sched_add %s '%s': %s\n", p, cron, err);
        exit(99);
    }
}

int main(void)
{
    char log[65536], want[4096];
    size_t n;

    /* 1. hourly in UTC: exact instants, nothing early, nothing twice */
    sched s = { 0 };
    add(&s, "hourly", "0 * * * *", NULL, MISSED_SKIP, 0, at("2026-01-01T00:30:00"));
    log[0] = '\0';
    n = 0;
    walk(&s, at("2026-01-01T00:30:00"), at("2026-01-01T04:00:00"), log, sizeof log, &n);
    ok(strcmp(log, "hourly@2026-01-01T01:00:00Z\nhourly@2026-01-01T02:00:00Z\nhourly@2026-01-01T03:00:00Z\n"
                   "hourly@2026-01-01T04:00:00Z\n") == 0,
       "an hourly schedule fires at 01:00, 02:00, 03:00 and 04:00 and nowhere else", log);
    sched_free(&s);

    /* 2. two pipelines over a week in Europe/Berlin (CET = UTC+1 in January) */
    add(&s, "quarter", "*/15 * * * *", "Europe/Berlin", MISSED_SKIP, 0, at("2026-01-05T00:00:00"));
    add(&s, "weekday9", "0 9 * * mon-fri", "Europe/Berlin", MISSED_SKIP, 0, at("2026-01-05T00:00:00"));
    log[0] = '\0';
    n = 0;
    walk(&s, at("2026-01-05T00:00:00"), at("2026-01-12T00:00:00"), log, sizeof log, &n);
    size_t q = 0, w = 0;
    for (char *p = log; (p = strstr(p, "quarter@")); p++) q++;
    for (char *p = log; (p = strstr(p, "weekday9@")); p++) w++;
    char d[128];
    snprintf(d, sizeof d, "%zu quarter-hour fires, %zu weekday fires", q, w);
    ok(q == 7 * 24 * 4 && w == 5, "a week: 672 quarter-hour fires and 5 weekday 09:00 fires", d);
    ok(strstr(log, "weekday9@2026-01-05T08:00:00Z\n") && strstr(log, "weekday9@2026-01-09T08:00:00Z\n") &&
           !strstr(log, "weekday9@2026-01-10"),
       "09:00 in Berlin is 08:00 UTC, Monday to Friday, not Saturday", "");
    sched_free(&s);

    /* 3. a busy pipeline: its fire is skipped and counted, never queued */
    add(&s, "slow", "*/10 * * * *", NULL, MISSED_SKIP, 0, at("2026-02-01T00:00:00"));
    sched_fire *f = NULL;
    size_t k = sched_due(&s, at("2026-02-01T00:10:00"), &f);
    ok(k == 1 && !f[0].busy, "the first fire at 00:10 starts a run", "");
    free(f);
    s.v[0].running = 1;  /* the run takes 25 minutes */
    k = sched_due(&s, at("2026-02-01T00:20:00"), &f);
    ok(k == 1 && f[0].busy && s.v[0].skipped == 1, "the 00:20 fire finds it running: skipped, counted", "");
    free(f);
    k = sched_due(&s, at("2026-02-01T00:30:00"), &f);
    ok(k == 1 && f[0].busy && s.v[0].skipped == 2, "so is the 00:30 fire", "");
    free(f);
    s.v[0].running = 0;  /* finished at 00:35 */
    k = sched_due(&s, at("2026-02-01T00:35:00"), &f);
    ok(k == 0, "nothing fires when it finishes at 00:35: no backlog is replayed", "");
    free(f);
    ok(s.v[0].next == at("2026-02-01T00:40:00"), "the next fire is 00:40", "");
    sched_free(&s);

    /* 4. after downtime, missed = skip: counted, nothing fires at start */
    add(&s, "daily", "@daily", NULL, MISSED_SKIP, at("2026-03-01T00:00:00"), at("2026-03-04T12:00:00"));
    k = sched_due(&s, at("2026-03-04T12:00:00"), &f);
    snprintf(d, sizeof d, "missed %lu, next %ld", s.v[0].missed_count, (long)s.v[0].next);
    ok(k == 0 && s.v[0].missed_count == 3 && s.v[0].next == at("2026-03-05T00:00:00"),
       "missed = skip: the 2nd, 3rd and 4th are counted as missed, the next run is the 5th", d);
    free(f);
    sched_free(&s);

    /* 5. after downtime, missed = run_once: one catch-up fire at start */
    add(&s, "daily", "@daily", NULL, MISSED_RUN_ONCE, at("2026-03-01T00:00:00"), at("2026-03-04T12:00:00"));
    k = sched_due(&s, at("2026-03-04T12:00:00"), &f);
    char t[32] = "";
    if (k) iso(f[0].scheduled, t, sizeof t);
    ok(k == 1 && f[0].catch_up && f[0].missed == 3 && strcmp(t, "2026-03-04T00:00:00Z") == 0,
       "missed = run_once: one catch-up run at start, for the latest missed time (the 4th)", t);
    free(f);
    k = sched_due(&s, at("2026-03-04T12:00:01"), &f);
    ok(k == 0 && s.v[0].next == at("2026-03-05T00:00:00"), "then the ordinary schedule: the 5th", "");
    free(f);
    sched_free(&s);
    /* no earlier fire on record: nothing counts as missed */
    add(&s, "daily", "@daily", NULL, MISSED_RUN_ONCE, 0, at("2026-03-04T12:00:00"));
    k = sched_due(&s, at("2026-03-04T12:00:00"), &f);
    ok(k == 0 && s.v[0].missed_count == 0, "a first start has nothing to catch up", "");
    free(f);
    sched_free(&s);

    /* 6. the machine slept through five fire times: one fire, then from now */
    add(&s, "hourly", "0 * * * *", NULL, MISSED_SKIP, 0, at("2026-04-01T00:30:00"));
    k = sched_due(&s, at("2026-04-01T05:20:00"), &f);
    t[0] = '\0';
    if (k) iso(f[0].scheduled, t, sizeof t);
    ok(k == 1 && f[0].missed == 4 && strcmp(t, "2026-04-01T05:00:00Z") == 0 && s.v[0].next == at("2026-04-01T06:00:00"),
       "after a 5-hour suspend: one run (for 05:00, 4 folded in), the next at 06:00", t);
    free(f);
    sched_free(&s);

    /* 7. reload: unchanged schedules keep their next fire and their running run */
    sched a = { 0 }, b = { 0 };
    add(&a, "keep", "0 6 * * *", NULL, MISSED_SKIP, 0, at("2026-05-01T00:00:00"));
    add(&a, "change", "0 6 * * *", NULL, MISSED_SKIP, 0, at("2026-05-01T00:00:00"));
    a.v[0].running = 1;
    a.v[1].running = 1;
    add(&b, "keep", "0 6 * * *", NULL, MISSED_SKIP, 0, at("2026-05-01T07:00:00"));   /* computed later: the 2nd */
    add(&b, "change", "30 7 * * *", NULL, MISSED_SKIP, 0, at("2026-05-01T07:00:00"));
    add(&b, "new", "0 8 * * *", NULL, MISSED_SKIP, 0, at("2026-05-01T07:00:00"));
    sched_carry(&b, &a);
    ok(b.v[0].next == at("2026-05-01T06:00:00") && b.v[0].running, "an unchanged schedule keeps its next fire and its run",
       "");
    ok(b.v[1].next == at("2026-05-01T07:30:00") && b.v[1].running,
       "a changed schedule gets a new next fire; its run in progress is still known (no second run)", "");
    ok(b.v[2].next == at("2026-05-01T08:00:00") && !b.v[2].running, "a new pipeline starts from the reload time", "");
    sched_free(&a);
    sched_free(&b);

    /* 8. the DST change in New York (2026-03-08: 02:00 EST -> 03:00 EDT) */
    add(&s, "ny", "30 2 * * *", "America/New_York", MISSED_SKIP, 0, at("2026-03-06T12:00:00"));
    log[0] = '\0';
    n = 0;
    walk(&s, at("2026-03-06T12:00:00"), at("2026-03-10T12:00:00"), log, sizeof log, &n);
    snprintf(want, sizeof want, "ny@2026-03-07T07:30:00Z\nny@2026-03-08T07:00:00Z\nny@2026-03-09T06:30:00Z\n"
                                "ny@2026-03-10T06:30:00Z\n");
    ok(strcmp(log, want) == 0,
       "02:30 New York: 07:30Z in EST; on the day 02:30 does not exist it runs once when the gap ends (03:00 EDT = "
       "07:00Z); then 06:30Z in EDT",
       log);
    sched_free(&s);

    /* 9. a bad expression or zone is refused with its reason */
    char err[256] = "";
    ok(sched_add(&s, "bad", "0 25 * * *", NULL, MISSED_SKIP, 0, 0, err, sizeof err) < 0 && strstr(err, "hour 25"),
       "hour 25 is refused", err);
    ok(sched_add(&s, "bad", "0 1 * * *", "Mars/Olympus", MISSED_SKIP, 0, 0, err, sizeof err) < 0 &&
           strstr(err, "Mars/Olympus"),
       "an unknown zone is refused by name", err);
    ok(s.n == 0, "nothing was added", "");

    printf("1..%d\n", tests);
    return failures ? 1 : 0;
}
