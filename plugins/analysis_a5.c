/*
 * analysis "usage_anomalies" (A5): single days whose usage jumps or falls far
 * outside the account's own normal level for that weekday.
 *
 * The exact rule is in docs/analyses/A5.md.  In short, for every day d of the
 * detection window (the window_days days before as_of) that has a usage row,
 * the baseline is the same weekday in the baseline_weeks weeks before d; its
 * median m and MAD give a robust z = (x - m) / max(1.4826 MAD, mad_floor_pct% m).
 * The day is an anomaly when |z| >= z_threshold and |x/m - 1| >= min_change_pct%
 * with at least min_baseline_points baseline values: a spike when x > m, a drop
 * otherwise.  One finding per account, one signal per anomalous day.
 *
 * Streaming: per account only the days of window + baseline are kept (one
 * fixed-point value and one flag per day), so memory grows with accounts x
 * days, never with rows.  Values are summed in integer micro-units so that
 * duplicate (account, day) rows give the same total in any order.
 */
#include <revops/revops.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A5_EPSILON 1e-9          /* a change of exactly 50% counts as >= 50% */
#define A5_MICRO 1e6             /* fixed-point scale of the kept daily values */
#define A5_MAX_VALUE 9e12        /* largest daily value the fixed point holds */
#define A5_MAD_SCALE 1.4826      /* MAD -> standard deviation for normal data */

enum { IN_ACCOUNTS, IN_USAGE, IN_COUNT };
static const char *const input_names[IN_COUNT] = { "accounts", "usage" };
static const char *const weekday_names[7] = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"
};

/* ------------------------------------------------------------ state -- */

typedef struct account {
    char *id;
    char *name;
    int64_t *micro;      /* per kept day: summed value in micro-units; NULL until a usage row */
    unsigned char *seen; /* per kept day: 1 when at least one row came */
} account;

typedef struct a5_state {
    revops_instance *self;
    const revops_host *host;

    int64_t as_of;               /* days since the epoch */
    char as_of_text[11];
    int64_t first_day;           /* first kept day: as_of - window_days - 7 * baseline_weeks */
    int64_t window_start;        /* as_of - window_days */
    int ndays;                   /* window_days + 7 * baseline_weeks */
    int window_days, baseline_weeks, min_points, max_signals;
    double z_threshold, min_change, mad_floor;   /* min_change, mad_floor as fractions */
    double w_spike, w_drop, spike_full, drop_full;
    double critical, high, medium;
    char *metric;

    revops_map accounts;         /* id -> account */
    revops_bad_rows ds[IN_COUNT];
} a5_state;

/* ------------------------------------------------------ small strings -- */

static char *dupstr(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

/* The finished string of a buffer (never NULL unless allocation failed);
 * the buffer is left empty for reuse. */
static char *buf_take(revops_buf *b)
{
    if (!b->oom && !b->p) revops_buf_add(b, "", 0);
    char *s = b->oom ? NULL : b->p;
    if (b->oom) free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
    return s;
}

/* revops_fmt_num, but a value that rounds to zero from below (a drop's
 * bound) prints as "0", not "-0". */
static void fmt_num(double x, char out[48])
{
    revops_fmt_num(x, out);
    if (strcmp(out, "-0") == 0) strcpy(out, "0");
}

static double absd(double x)
{
    return x < 0 ? -x : x;
}

static double min1(double x)
{
    return x > 1.0 ? 1.0 : x;
}

static double clamp01(double x)
{
    return x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x;
}

/* ------------------------------------------------------------- dates -- */

/* 0 = Monday; 1970-01-01 (day 0) was a Thursday. */
static int weekday_of(int64_t days)
{
    int64_t w = (days + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

static void day_label(const a5_state *st, int64_t days, char out[11])
{
    st->host->date_format(days, out);
}

/* ------------------------------------------------------- bad rows -- */

/* Once per dataset, at its last chunk (or at finalize if that never came).
 * Not revops_bad_rows_report: A5 says "rows not used", which its tests and
 * docs quote. */
static void report_bad(a5_state *st, int input)
{
    revops_bad_rows *ds = &st->ds[input];
    if (!ds->bad || ds->reported) return;
    ds->reported = 1;
    st->host->log(st->self, REVOPS_LOG_WARN,
                  "dataset '%s': %" PRIu64 " of %" PRIu64 " rows not used (missing account, or "
                  "missing or unreadable date or value); first at row %" PRIu64 ": %s",
                  input_names[input], ds->bad, ds->rows, ds->first_row, ds->first);
}

/* ------------------------------------------------------- accounts -- */

/* The account `id`, created on first sight; NULL only when out of memory
 * (a key whose account could not be made keeps a NULL value). */
static account *account_get(a5_state *st, const char *id)
{
    void **slot = revops_map_slot(&st->accounts, id);
    if (!slot) return NULL;
    if (!*slot) {
        account *a = calloc(1, sizeof *a);
        if (!a || !(a->id = dupstr(id))) {
            free(a);
            return NULL;
        }
        *slot = a;
    }
    return *slot;
}

static void account_free(void *p)
{
    account *a = p;
    if (!a) return;
    free(a->id);
    free(a->name);
    free(a->micro);
    free(a->seen);
    free(a);
}

/* ------------------------------------------------------------ inputs -- */

static int find_input(const char *dataset)
{
    for (int i = 0; i < IN_COUNT; i++)
        if (dataset && strcmp(dataset, input_names[i]) == 0) return i;
    return -1;
}

static int need_column(a5_state *st, const revops_chunk *c, const char *name, long *idx)
{
    *idx = revops_column_index(c, name);
    if (*idx >= 0) return 0;
    st->host->error(st->self, "input '%s' (source '%s') has no column '%s'",
                    c->dataset, c->source ? c->source : "?", name);
    return -1;
}

static revops_status out_of_memory(a5_state *st, const char *dataset, const char *id)
{
    st->host->error(st->self, "out of memory keeping input '%s' account '%s'", dataset, id);
    return REVOPS_ERROR;
}

static revops_status take_accounts(a5_state *st, const revops_chunk *c)
{
    long ci, ni;
    if (need_column(st, c, "sf_account_id", &ci) || need_column(st, c, "sf_account_name", &ni))
        return REVOPS_ERROR;
    for (size_t r = 0; r < c->nrows; r++) {
        char ibuf[32], nbuf[32], what[64];
        st->ds[IN_ACCOUNTS].rows++;
        const revops_value *iv = revops_cell(c, r, (size_t)ci);
        const char *id = revops_cell_text(iv, ibuf, sizeof ibuf);
        if (!id) {
            revops_cell_describe(iv, what);
            revops_bad_rows_note(&st->ds[IN_ACCOUNTS], "sf_account_id is %s", what);
            continue;
        }
        const char *name = revops_cell_text(revops_cell(c, r, (size_t)ni), nbuf, sizeof nbuf);
        account *a = account_get(st, id);
        if (!a) return out_of_memory(st, c->dataset, id);
        /* Two names for one id: the smaller one, so row order does not matter. */
        if (name && (!a->name || strcmp(name, a->name) < 0)) {
            char *copy = dupstr(name);
            if (!copy) return out_of_memory(st, c->dataset, id);
            free(a->name);
            a->name = copy;
        }
    }
    return REVOPS_OK;
}

/* One usage row: add its value to its day, if the day is kept (window or
 * baseline).  Accounts get their day arrays only for rows inside. */
static revops_status take_usage(a5_state *st, const revops_chunk *c)
{
    long ai, di, mi;
    if (need_column(st, c, "sf_account_id", &ai) || need_column(st, c, "consumption_date", &di) ||
        need_column(st, c, st->metric, &mi))
        return REVOPS_ERROR;
    for (size_t r = 0; r < c->nrows; r++) {
        char abuf[32], what[64];
        st->ds[IN_USAGE].rows++;
        const revops_value *av = revops_cell(c, r, (size_t)ai);
        const revops_value *dv = revops_cell(c, r, (size_t)di);
        const revops_value *mv = revops_cell(c, r, (size_t)mi);
        const char *acct = revops_cell_text(av, abuf, sizeof abuf);
        int64_t day;
        double x;
        if (!acct) {
            revops_cell_describe(av, what);
            revops_bad_rows_note(&st->ds[IN_USAGE], "sf_account_id is %s", what);
            continue;
        }
        if (revops_cell_date(st->host, dv, &day) != REVOPS_CELL_OK) {
            revops_cell_describe(dv, what);
            revops_bad_rows_note(&st->ds[IN_USAGE], "account %s: consumption_date is %s", acct, what);
            continue;
        }
        revops_cell_status xs = revops_cell_number(mv, &x);
        if (xs != REVOPS_CELL_OK || !(x >= 0.0 && x <= A5_MAX_VALUE)) {
            revops_cell_describe(mv, what);
            revops_bad_rows_note(&st->ds[IN_USAGE], "account %s, %s: %s is %s%s", acct, dv->v.text.s, st->metric,
                     what, xs == REVOPS_CELL_OK ? " (negative, too large or not a number)" : "");
            continue;
        }
        int64_t slot = day - st->first_day;
        if (slot < 0 || slot >= st->ndays) continue;
        account *a = account_get(st, acct);
        if (!a) return out_of_memory(st, c->dataset, acct);
        if (!a->micro) {
            a->micro = calloc((size_t)st->ndays, sizeof *a->micro);
            a->seen = calloc((size_t)st->ndays, 1);
            if (!a->micro || !a->seen) return out_of_memory(st, c->dataset, acct);
        }
        /* Several rows of one day add up; integers, so in any order alike. */
        a->micro[slot] += (int64_t)(x * A5_MICRO + 0.5);
        a->seen[slot] = 1;
    }
    return REVOPS_OK;
}

static revops_status a5_process_chunk(void *state, const revops_chunk *chunk)
{
    a5_state *st = state;
    int input = find_input(chunk->dataset);
    if (input < 0) {
        st->host->error(st->self, "unexpected input '%s': A5 reads accounts, usage",
                        chunk->dataset ? chunk->dataset : "(null)");
        return REVOPS_ERROR;
    }
    revops_status rc = input == IN_ACCOUNTS ? take_accounts(st, chunk) : take_usage(st, chunk);
    if (rc == REVOPS_OK && chunk->last) report_bad(st, input);
    return rc;
}

/* -------------------------------------------------------- detection -- */

/* One anomalous day. */
typedef struct anomaly {
    int64_t day;
    double x, median, mad, scale, z, change;   /* change = x/m - 1 */
    int points;
    int64_t base_first, base_last;           /* earliest and latest baseline day used */
    int floored;                             /* the MAD floor set the scale */
    int spike;
    double bound;                            /* the value x had to pass */
    double severity, day_score;
} anomaly;

/* Counters for the closing log line. */
typedef struct a5_counts {
    uint64_t evaluated, thin, zero_median, missing, anomalies;
    size_t with_usage;
} a5_counts;

static void sort_doubles(double *v, int n)
{
    for (int i = 1; i < n; i++) {
        double x = v[i];
        int j = i;
        while (j > 0 && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static double median_sorted(const double *v, int n)
{
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* Check window day `slot` of account a; fills *out and returns 1 when anomalous. */
static int check_day(const a5_state *st, const account *a, int slot, a5_counts *k, anomaly *out)
{
    double base[64], dev[64];
    int n = 0;
    int64_t first = 0, last = 0;
    for (int w = 1; w <= st->baseline_weeks; w++) {
        int s = slot - 7 * w;
        if (s < 0 || !a->seen[s]) continue;   /* a missing day is absent, not zero */
        base[n++] = (double)a->micro[s] / A5_MICRO;
        if (n == 1) last = st->first_day + s;
        first = st->first_day + s;
    }
    if (n < st->min_points) {
        k->thin++;
        return 0;
    }
    sort_doubles(base, n);
    double m = median_sorted(base, n);
    if (!(m > 0)) {
        k->zero_median++;
        return 0;
    }
    k->evaluated++;
    for (int i = 0; i < n; i++) dev[i] = absd(base[i] - m);
    sort_doubles(dev, n);
    double mad = median_sorted(dev, n);
    double floor_scale = st->mad_floor * m;
    double scale = A5_MAD_SCALE * mad;
    int floored = 0;
    if (scale < floor_scale) {
        scale = floor_scale;
        floored = 1;
    }
    double x = (double)a->micro[slot] / A5_MICRO;
    double z = scale > 0 ? (x - m) / scale : x > m ? 1e300 : x < m ? -1e300 : 0.0;
    double change = x / m - 1.0;
    if (absd(z) < st->z_threshold - A5_EPSILON || absd(change) < st->min_change - A5_EPSILON)
        return 0;

    anomaly an = { .day = st->first_day + slot, .x = x, .median = m, .mad = mad, .scale = scale,
                   .z = z, .change = change, .points = n, .base_first = first,
                   .base_last = last, .floored = floored, .spike = x > m };
    if (an.spike) {
        double bz = m + st->z_threshold * scale, bc = m * (1.0 + st->min_change);
        an.bound = bz > bc ? bz : bc;
        an.severity = min1(change / st->spike_full);
        an.day_score = st->w_spike * an.severity;
    } else {
        double bz = m - st->z_threshold * scale, bc = m * (1.0 - st->min_change);
        an.bound = bz < bc ? bz : bc;
        an.severity = min1(-change / st->drop_full);
        an.day_score = st->w_drop * an.severity;
    }
    *out = an;
    return 1;
}

/* Worst first: day score desc, then the earlier day. */
static int anomaly_order(const void *x, const void *y)
{
    const anomaly *a = x, *b = y;
    if (a->day_score != b->day_score) return a->day_score > b->day_score ? -1 : 1;
    return a->day < b->day ? -1 : a->day > b->day;
}

/* Everything finalize decides about one account. */
typedef struct verdict {
    const account *a;
    anomaly *an;            /* all anomalous days, worst first */
    size_t n, nspike, ndrop;
    double score, confidence;
    revops_priority priority;
} verdict;

static int verdict_order(const void *x, const void *y)
{
    const verdict *a = x, *b = y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return strcmp(a->a->id, b->a->id);
}

/* Anomalies of one account; v->n == 0 when none.  -1 when out of memory. */
static int judge(const a5_state *st, const account *a, a5_counts *k, verdict *v)
{
    *v = (verdict){ .a = a };
    if (!a->micro) return 0;
    k->with_usage++;
    int start = 7 * st->baseline_weeks;
    for (int slot = start; slot < st->ndays; slot++) {
        if (!a->seen[slot]) {
            k->missing++;
            continue;
        }
        anomaly an;
        if (!check_day(st, a, slot, k, &an)) continue;
        if (!v->an && !(v->an = malloc((size_t)st->window_days * sizeof *v->an))) return -1;
        v->an[v->n++] = an;
        if (an.spike) v->nspike++;
        else v->ndrop++;
    }
    if (!v->n) return 0;
    k->anomalies += v->n;
    qsort(v->an, v->n, sizeof *v->an, anomaly_order);
    v->score = clamp01(v->an[0].day_score);
    v->priority = v->score >= st->critical - A5_EPSILON ? REVOPS_PRIORITY_CRITICAL
                : v->score >= st->high - A5_EPSILON ? REVOPS_PRIORITY_HIGH
                : v->score >= st->medium - A5_EPSILON ? REVOPS_PRIORITY_MEDIUM
                : REVOPS_PRIORITY_LOW;
    v->confidence = clamp01(0.6 + 0.35 * (double)v->an[0].points / (double)st->baseline_weeks);
    return 0;
}

/* ------------------------------------------------------------ texts -- */

static const char *who(const account *a)
{
    return a->name ? a->name : a->id;
}

static void pct_text(double change, char out[48])
{
    snprintf(out, 48, "%+.1f%%", 100.0 * change);
}

static void z_text(double z, char out[48])
{
    if (absd(z) >= 1e299) snprintf(out, 48, "%s", z > 0 ? "+inf" : "-inf");
    else snprintf(out, 48, "%+.1f", z);
}

static void anomaly_evidence(const a5_state *st, const anomaly *an, revops_buf *b)
{
    char day[11], f[11], l[11], xs[48], ms[48], mads[48], bs[48], zs[48], ps[48];
    day_label(st, an->day, day);
    day_label(st, an->base_first, f);
    day_label(st, an->base_last, l);
    fmt_num(an->x, xs);
    fmt_num(an->median, ms);
    fmt_num(an->mad, mads);
    fmt_num(an->bound, bs);
    z_text(an->z, zs);
    pct_text(an->change, ps);
    const char *wd = weekday_names[weekday_of(an->day)];
    revops_buf_fmt(b, "%s %s (%s): %s %s against a baseline median of %s (MAD %s) over %d %ss "
                   "%s..%s; robust z %s, change %s; ", an->spike ? "spike" : "drop", day, wd,
                   st->metric, xs, ms, mads, an->points, wd, f, l, zs, ps);
    if (an->floored) {
        char fs[48];
        fmt_num(an->scale, fs);
        revops_buf_fmt(b, "scale floored at %g%% of the median (%s); ", 100.0 * st->mad_floor, fs);
    }
    revops_buf_fmt(b, "fires at |z| >= %g and a change of at least %g%%, i.e. %s %s", st->z_threshold,
                   100.0 * st->min_change, an->spike ? "at or above" : "at or below", bs);
}

static void title_text(const a5_state *st, const verdict *v, revops_buf *b)
{
    const anomaly *w = &v->an[0];
    char day[11], ps[48];
    day_label(st, w->day, day);
    if (w->spike) pct_text(w->change, ps);
    else snprintf(ps, sizeof ps, "%.1f%%", -100.0 * w->change);
    revops_buf_fmt(b, "%s: %s usage %s %s on %s (%s)", who(v->a), st->metric,
                   w->spike ? "spike" : "drop of", ps, day, weekday_names[weekday_of(w->day)]);
    if (v->n > 1)
        revops_buf_fmt(b, " and %zu more anomalous day%s", v->n - 1, v->n > 2 ? "s" : "");
}

static void description_text(const a5_state *st, const verdict *v, size_t shown, revops_buf *b)
{
    const account *a = v->a;
    char ws[11], we[11], ms[48], xs[48];
    day_label(st, st->window_start, ws);
    day_label(st, st->as_of - 1, we);
    if (a->name) revops_buf_fmt(b, "%s (%s)", a->name, a->id);
    else revops_buf_fmt(b, "Account %s", a->id);
    revops_buf_fmt(b, " had %zu anomalous day%s of %s between %s and %s", v->n, v->n == 1 ? "" : "s",
                   st->metric, ws, we);
    if (v->nspike && v->ndrop) revops_buf_fmt(b, " (%zu spike%s, %zu drop%s)", v->nspike,
                                              v->nspike == 1 ? "" : "s", v->ndrop,
                                              v->ndrop == 1 ? "" : "s");
    revops_buf_fmt(b, ", each compared with the same weekday of the previous %d weeks.",
                   st->baseline_weeks);
    const anomaly *w = &v->an[0];
    fmt_num(w->x, xs);
    fmt_num(w->median, ms);
    char day[11];
    day_label(st, w->day, day);
    revops_buf_fmt(b, " The largest: on %s it used %s against a usual %s for a %s, %s %.1f%%.",
                   day, xs, ms, weekday_names[weekday_of(w->day)],
                   w->spike ? "up" : "down", 100.0 * absd(w->change));
    if (w->spike)
        revops_buf_str(b, " A sudden spike can be a new workload worth an expansion conversation, "
                       "or a runaway job that will surprise the customer on the bill.");
    else
        revops_buf_str(b, " A sudden drop can mean a failed pipeline, a migration away, or "
                       "work moving to a competitor.");
    if (shown < v->n)
        revops_buf_fmt(b, " Signals show the %zu largest of the %zu days.", shown, v->n);
}

/* --------------------------------------------------------- findings -- */

/* Build and emit the finding of one account; every string is freed here
 * (the host copies the finding before emit_finding returns). */
static revops_status emit_verdict(a5_state *st, const verdict *v, revops_emitter *emit)
{
    const account *a = v->a;
    size_t shown = v->n < (size_t)st->max_signals ? v->n : (size_t)st->max_signals;
    revops_signal *sig = calloc(shown, sizeof *sig);
    char **ev = calloc(shown, sizeof *ev);
    char *texts[4] = { 0 };
    const char *actions[2];
    size_t nact = 0;
    revops_buf b = { 0 };
    int failed = !sig || !ev;

    for (size_t i = 0; !failed && i < shown; i++) {
        const anomaly *an = &v->an[i];
        anomaly_evidence(st, an, &b);
        failed |= !(ev[i] = buf_take(&b));
        sig[i] = (revops_signal){ an->spike ? "usage_spike" : "usage_drop", an->x, an->bound,
                                  an->spike ? st->w_spike : st->w_drop, ev[i] };
    }
    char day[11];
    /* Drops first: they are the churn risk.  The action names the worst day of each kind. */
    for (int want_spike = 0; want_spike <= 1 && !failed; want_spike++) {
        const anomaly *an = NULL;
        for (size_t i = 0; i < v->n && !an; i++)
            if (v->an[i].spike == want_spike) an = &v->an[i];
        if (!an) continue;
        day_label(st, an->day, day);
        if (want_spike)
            revops_buf_fmt(&b, "Ask %s's account owner to check the %s spike on %s with the "
                           "customer: qualify a new workload as an expansion opportunity, or help "
                           "them stop a runaway job before it shows on their bill", who(a),
                           st->metric, day);
        else
            revops_buf_fmt(&b, "Have %s's account owner contact the customer this week about the "
                           "%s drop on %s: confirm whether it was planned (maintenance, "
                           "migration) or a failed pipeline, an outage or work moving elsewhere",
                           who(a), st->metric, day);
        failed |= !(texts[nact] = buf_take(&b));
        actions[nact] = texts[nact];
        nact++;
    }
    if (!failed) {
        title_text(st, v, &b);
        failed |= !(texts[2] = buf_take(&b));
    }
    if (!failed) {
        description_text(st, v, shown, &b);
        failed |= !(texts[3] = buf_take(&b));
    }

    revops_status rc = REVOPS_OK;
    if (failed) {
        revops_buf_free(&b);
        rc = out_of_memory(st, "finding", a->id);
    } else {
        revops_finding f = {
            .analysis = "A5",
            .account_id = a->id,
            .account_name = a->name,
            .opportunity_id = NULL,
            .category = "usage_anomaly",
            .priority = v->priority,
            .score = v->score,
            .confidence = v->confidence,
            .title = texts[2],
            .description = texts[3],
            .nsignals = shown,
            .signals = sig,
            .nactions = nact,
            .recommended_actions = actions,
        };
        rc = st->host->emit_finding(emit, &f);
        if (rc != REVOPS_OK)
            st->host->error(st->self, "could not emit the finding for account '%s'", a->id);
    }
    for (size_t i = 0; ev && i < shown; i++) free(ev[i]);
    for (size_t i = 0; i < 4; i++) free(texts[i]);
    free(ev);
    free(sig);
    return rc;
}

static void log_summary(a5_state *st, const a5_counts *k, size_t nfound)
{
    char ws[11], we[11], bs[11];
    day_label(st, st->window_start, ws);
    day_label(st, st->as_of - 1, we);
    day_label(st, st->first_day, bs);
    const revops_bad_rows *u = &st->ds[IN_USAGE];
    if (u->rows == 0) {
        st->host->log(st->self, REVOPS_LOG_WARN,
                      "input 'usage' returned no rows: no usage to compare between %s and %s, "
                      "so no anomalies (check the query and its dates)", bs, we);
    } else if (k->with_usage == 0) {
        st->host->log(st->self, REVOPS_LOG_WARN,
                      "input 'usage': none of its %" PRIu64 " rows is a usable row between %s and "
                      "%s (window and baseline), so no anomalies", u->rows, bs, we);
    }
    st->host->log(st->self, REVOPS_LOG_INFO,
                  "A5 as of %s: window %s..%s, %zu accounts with usage, %" PRIu64 " days checked, "
                  "%" PRIu64 " without enough baseline (< %d same-weekday values), %" PRIu64
                  " with a zero baseline median, %" PRIu64 " missing; %" PRIu64
                  " anomalies in %zu accounts",
                  st->as_of_text, ws, we, k->with_usage, k->evaluated, k->thin, st->min_points,
                  k->zero_median, k->missing, k->anomalies, nfound);
}

static revops_status a5_finalize(void *state, revops_emitter *emit)
{
    a5_state *st = state;
    for (int i = 0; i < IN_COUNT; i++) report_bad(st, i);

    a5_counts k = { 0 };
    const revops_map *m = &st->accounts;
    verdict *vs = m->count ? calloc(m->count, sizeof *vs) : NULL;
    if (m->count && !vs) return out_of_memory(st, "finding", "(all)");
    size_t n = 0;
    revops_status rc = REVOPS_OK;
    for (size_t i = 0; i < m->cap && rc == REVOPS_OK; i++) {
        const account *a = m->vals[i];
        if (!m->keys[i] || !a) continue;
        if (judge(st, a, &k, &vs[n]) < 0) rc = out_of_memory(st, "finding", a->id);
        else if (vs[n].n) n++;
    }
    if (rc == REVOPS_OK && n) qsort(vs, n, sizeof *vs, verdict_order);
    for (size_t i = 0; i < n && rc == REVOPS_OK; i++) rc = emit_verdict(st, &vs[i], emit);
    if (rc == REVOPS_OK) log_summary(st, &k, n);
    for (size_t i = 0; i < m->count; i++) free(vs[i].an);
    free(vs);
    return rc;
}

/* -------------------------------------------------------- lifecycle -- */

static void a5_destroy(void *state)
{
    a5_state *st = state;
    if (!st) return;
    revops_map_free(&st->accounts, account_free);
    free(st->metric);
    free(st);
}

/* as_of from the option, else today (UTC) from the host clock, which honours
 * REVOPS_NOW so runs can be reproduced. */
static int set_as_of(a5_state *st, const revops_options *opts)
{
    const char *s = st->host->opt_string(opts, "as_of");
    if (s && *s) {
        st->as_of = st->host->date_days(s);
        if (st->as_of == INT64_MIN) {
            st->host->error(st->self, "option as_of: '%s' is not a YYYY-MM-DD date", s);
            return -1;
        }
    } else {
        double now = st->host->now();
        st->as_of = (int64_t)(now / 86400.0);
        if ((double)st->as_of * 86400.0 > now) st->as_of--;
    }
    st->host->date_format(st->as_of, st->as_of_text);
    st->as_of_text[10] = '\0';
    return 0;
}

static int copy_options(a5_state *st, const revops_options *opts)
{
    const revops_host *h = st->host;
    st->window_days = (int)h->opt_int(opts, "window_days");
    st->baseline_weeks = (int)h->opt_int(opts, "baseline_weeks");
    st->min_points = (int)h->opt_int(opts, "min_baseline_points");
    st->max_signals = (int)h->opt_int(opts, "max_signals");
    if (st->min_points > st->baseline_weeks) {
        h->error(st->self, "option min_baseline_points (%d) must not exceed baseline_weeks (%d)",
                 st->min_points, st->baseline_weeks);
        return -1;
    }
    st->z_threshold = h->opt_real(opts, "z_threshold");
    st->min_change = h->opt_real(opts, "min_change_pct") / 100.0;
    st->mad_floor = h->opt_real(opts, "mad_floor_pct") / 100.0;
    st->w_spike = h->opt_real(opts, "weight_spike");
    st->w_drop = h->opt_real(opts, "weight_drop");
    st->spike_full = h->opt_real(opts, "spike_full_pct") / 100.0;
    st->drop_full = h->opt_real(opts, "drop_full_pct") / 100.0;
    st->critical = h->opt_real(opts, "critical_score");
    st->high = h->opt_real(opts, "high_score");
    st->medium = h->opt_real(opts, "medium_score");
    if (!(st->critical >= st->high && st->high >= st->medium)) {
        h->error(st->self, "options critical_score (%g) >= high_score (%g) >= medium_score (%g) "
                 "must hold", st->critical, st->high, st->medium);
        return -1;
    }
    const char *metric = h->opt_string(opts, "usage_metric");
    st->metric = dupstr(metric && *metric ? metric : "engine_hours");
    if (!st->metric) {
        h->error(st->self, "out of memory reading the options");
        return -1;
    }
    st->ndays = st->window_days + 7 * st->baseline_weeks;
    return 0;
}

static revops_status a5_init(revops_instance *self, const revops_host *host,
                             const revops_options *opts, const revops_run_info *run,
                             void **state)
{
    (void)run;
    a5_state *st = calloc(1, sizeof *st);
    if (!st) {
        host->error(self, "out of memory");
        return REVOPS_ERROR;
    }
    st->self = self;
    st->host = host;
    if (copy_options(st, opts) < 0 || set_as_of(st, opts) < 0) {
        a5_destroy(st);
        return REVOPS_ERROR;
    }
    st->window_start = st->as_of - st->window_days;
    st->first_day = st->window_start - 7 * st->baseline_weeks;
    *state = st;
    return REVOPS_OK;
}

/* -------------------------------------------------------- descriptor -- */

static const revops_input_def inputs[] = {
    { "accounts", 0, "sf_account_id,sf_account_name",
      "account names for titles (optional)" },
    { "usage", 1, "sf_account_id,consumption_date,engine_hours",
      "daily usage rows of the window and its baseline (window_days + 7 * baseline_weeks days "
      "before as_of); option usage_metric names the value column (default engine_hours)" },
    { NULL, 0, NULL, NULL }
};

static const revops_analysis_vtable vtable = {
    .analysis_type = "A5",
    .inputs = inputs,
    .init = a5_init,
    .process_chunk = a5_process_chunk,
    .finalize = a5_finalize,
    .destroy = a5_destroy,
};

static const revops_option_def options[] = {
    { "as_of", REVOPS_OPT_DATE, 0, NULL, 0, 0, NULL, 0,
      "reference date YYYY-MM-DD (default: today, UTC); the window ends the day before" },
    { "window_days", REVOPS_OPT_INT, 0, "90", 1, 366, NULL, 0,
      "detection window: the days before as_of that are checked for anomalies" },
    { "baseline_weeks", REVOPS_OPT_INT, 0, "8", 1, 52, NULL, 0,
      "a day's baseline: the same weekday in this many previous weeks" },
    { "min_baseline_points", REVOPS_OPT_INT, 0, "4", 1, 52, NULL, 0,
      "a day is checked only with at least this many baseline values (missing days are absent)" },
    { "z_threshold", REVOPS_OPT_REAL, 0, "6", 0, 1000, NULL, 0,
      "an anomaly needs |robust z| >= this, z = (x - median) / (1.4826 * MAD)" },
    { "min_change_pct", REVOPS_OPT_REAL, 0, "50", 0, 10000, NULL, 0,
      "an anomaly also needs |x / median - 1| >= this percentage" },
    { "mad_floor_pct", REVOPS_OPT_REAL, 0, "1", 0, 100, NULL, 0,
      "the z scale is at least this percentage of the median (guards MAD = 0)" },
    { "weight_drop", REVOPS_OPT_REAL, 0, "1.0", 0, 1, NULL, 0,
      "weight of a drop's severity in the score" },
    { "weight_spike", REVOPS_OPT_REAL, 0, "0.7", 0, 1, NULL, 0,
      "weight of a spike's severity in the score (drops matter more: churn risk)" },
    { "drop_full_pct", REVOPS_OPT_REAL, 0, "90", 1, 100, NULL, 0,
      "a drop of this percentage below the median has full severity" },
    { "spike_full_pct", REVOPS_OPT_REAL, 0, "300", 1, 100000, NULL, 0,
      "a spike of this percentage above the median has full severity (300: four times usual)" },
    { "critical_score", REVOPS_OPT_REAL, 0, "0.85", 0, 1, NULL, 0,
      "score from which a finding is critical" },
    { "high_score", REVOPS_OPT_REAL, 0, "0.6", 0, 1, NULL, 0,
      "score from which a finding is high" },
    { "medium_score", REVOPS_OPT_REAL, 0, "0.35", 0, 1, NULL, 0,
      "score from which a finding is medium (below: low)" },
    { "max_signals", REVOPS_OPT_INT, 0, "10", 1, 366, NULL, 0,
      "at most this many anomalous days (the largest) become signals of one finding" },
    { "usage_metric", REVOPS_OPT_STRING, 0, "engine_hours", 0, 0, NULL, 0,
      "daily usage column checked; the query must return it" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_ANALYSIS, "usage_anomalies", "1.0.0",
    "A5: single days of usage far above or below the account's usual level for that weekday",
    options, { .analysis = &vtable }
};
