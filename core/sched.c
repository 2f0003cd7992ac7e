/* The schedule: which pipeline fires when.  No I/O and no clock of its own:
 * the daemon passes `now` in, so tests drive it with any clock they like
 * (tests/test_sched.c walks whole days and DST changes in milliseconds).
 *
 * Rules, as an operator would expect them from cron plus a lock:
 * - A fire whose pipeline is still running (or still waiting for a slot) is
 *   skipped and counted, never queued: two runs of one pipeline never
 *   overlap, and a slow pipeline does not build up a backlog.
 * - When several fire times passed at once (the machine was suspended, the
 *   daemon was busy), they become one fire, and the next is computed from
 *   now: no burst of catch-up runs.
 * - After downtime (the last fire is in the state store), `missed = skip`
 *   waits for the next fire time; `run_once` fires once at start. */
#include "config.h"
#include "core.h"

#include <string.h>

static int next_after(sched_entry *e, time_t t, time_t *out)
{
    return cron_next(&e->expr, e->tz, t, out);
}

int sched_add(sched *s, const char *pipeline, const char *cron, const char *tz, missed_policy missed, time_t last_fire,
              time_t now, char *err, size_t n)
{
    sched_entry e;
    memset(&e, 0, sizeof e);
    if (cron_parse(cron, &e.expr, err, n) < 0) return -1;
    if (cron_tz_check(tz, err, n) < 0) return -1;
    e.pipeline = xstrdup(pipeline);
    e.cron = xstrdup(cron);
    e.tz = tz && *tz ? xstrdup(tz) : NULL;
    e.missed = missed;
    e.last_fire = last_fire;
    time_t next;
    if (last_fire > 0 && next_after(&e, last_fire, &next) == 0 && next <= now) {
        /* Count what was missed (bounded: a year of every-minute fires). */
        time_t t = next, latest = next;
        unsigned long count = 0;
        while (t <= now && count < 600000) {
            latest = t;
            count++;
            if (next_after(&e, t, &t) < 0) break;
        }
        e.missed_count = count;
        e.missed_latest = latest;
        if (missed == MISSED_RUN_ONCE) {
            e.next = now;
            e.catch_up = 1;
        } else if (next_after(&e, now, &e.next) < 0) {
            goto never;
        }
    } else if (next_after(&e, now, &e.next) < 0) {
        goto never;
    }
    s->v = xrealloc(s->v, (s->n + 1) * sizeof *s->v);
    s->v[s->n++] = e;
    return 0;
never:
    snprintf(err, n, "schedule '%s' never fires", cron);
    free(e.pipeline);
    free(e.cron);
    free(e.tz);
    return -1;
}

size_t sched_due(sched *s, time_t now, sched_fire **out)
{
    size_t nf = 0;
    sched_fire *v = NULL;
    for (size_t i = 0; i < s->n; i++) {
        sched_entry *e = &s->v[i];
        if (!e->next || e->next > now) continue;
        sched_fire f = { i, e->next, e->catch_up, 0, 0 };
        if (e->catch_up) {
            f.scheduled = e->missed_latest;
            f.missed = e->missed_count;
            e->catch_up = 0;
        } else {
            /* Fire times that passed since e->next without us: one fire. */
            time_t t = e->next, latest = e->next;
            unsigned long late = 0;
            while (next_after(e, t, &t) == 0 && t <= now && late < 600000) latest = t, late++;
            f.scheduled = latest;
            f.missed = late;
        }
        if (e->running || e->waiting) {
            f.busy = 1;
            e->skipped++;
        }
        e->last_fire = f.scheduled;
        if (next_after(e, now, &e->next) < 0) e->next = 0;
        v = xrealloc(v, (nf + 1) * sizeof *v);
        v[nf++] = f;
    }
    *out = v;
    return nf;
}

time_t sched_next_wake(const sched *s)
{
    time_t best = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].next && (!best || s->v[i].next < best)) best = s->v[i].next;
    return best;
}

sched_entry *sched_find(sched *s, const char *pipeline)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].pipeline, pipeline) == 0) return &s->v[i];
    return NULL;
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

void sched_carry(sched *to, const sched *from)
{
    for (size_t i = 0; i < to->n; i++) {
        sched_entry *e = &to->v[i];
        for (size_t k = 0; k < from->n; k++) {
            const sched_entry *o = &from->v[k];
            if (strcmp(o->pipeline, e->pipeline)) continue;
            /* A run in progress stays known whatever changed: the lock
             * rule holds across a reload. */
            e->running = o->running;
            e->waiting = o->waiting;
            e->skipped = o->skipped;
            e->last_fire = o->last_fire;
            e->runs = o->runs;
            if (strcmp(o->cron, e->cron) == 0 && same_str(o->tz, e->tz)) {
                e->next = o->next;
                e->catch_up = o->catch_up;
                e->missed_count = o->missed_count;
                e->missed_latest = o->missed_latest;
            }
        }
    }
}

void sched_free(sched *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].pipeline);
        free(s->v[i].cron);
        free(s->v[i].tz);
    }
    free(s->v);
    s->v = NULL;
    s->n = 0;
}
