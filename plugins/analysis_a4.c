/*
 * analysis "customer_health" (A4): a health score 0..100 per account from four
 * components — usage trend, call sentiment, Slack engagement, open pipeline —
 * and a band (healthy / watch / at_risk); one finding per account in the
 * watch or at_risk band, every component a signal with its evidence.
 *
 * This implements exactly the rule in docs/analyses/A4.md.  It is streaming:
 * rows arrive in chunks, in any order, and an account's rows may be split over
 * chunks, so everything kept is per account (2 × trend_months monthly sums, a
 * count, a sum and a few kept rows per component), never per row.
 *
 * Every account listed by the `accounts` input gets a band; rows of accounts
 * it does not list are not scored (counted and logged once).  `calls` and
 * `messages` are optional inputs: when one is not configured at all, its
 * component is left out of the score (the other weights are renormalised) and
 * the finding says so; when it is configured but returns no rows for an
 * account, the rule's "no calls" / "no messages" values apply.
 */
#include <revops/revops.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A4_MAX_MONTHS 12        /* 2 × trend_months (max 6) */
#define A4_KEEP 5               /* calls / opportunities kept per account, for evidence */
#define A4_EPSILON 1e-9         /* 60 - 1e-12 from float sums still counts as 60 */

enum { IN_ACCOUNTS, IN_USAGE, IN_OPPORTUNITIES, IN_CALLS, IN_MESSAGES, IN_COUNT };
static const char *const input_names[IN_COUNT] = { "accounts", "usage", "opportunities", "calls",
                                                   "messages" };

enum { C_USAGE, C_SENTIMENT, C_ENGAGEMENT, C_PIPELINE, C_COUNT };
static const char *const component_names[C_COUNT] = { "usage_trend", "call_sentiment",
                                                      "slack_engagement", "open_pipeline" };

enum { BAND_HEALTHY, BAND_WATCH, BAND_AT_RISK };
static const char *const band_words[] = { "healthy", "on watch", "at risk" };

/* ------------------------------------------------------------ state -- */

typedef struct call_ref {
    int64_t day;
    double sentiment;
} call_ref;

/* An open opportunity's standing as of as_of. */
enum { OPP_ACTIVE = 0, OPP_STALLED = 1, OPP_PAST_DUE = 2 };   /* bits; 0 = active */

typedef struct opp_ref {
    char *id;
    char *stage;
    int64_t close, change;
    int status;
} opp_ref;

typedef struct account {
    const char *id;                 /* the key of st->accounts, freed with it */
    char *name;
    int listed;                     /* named by the accounts input */
    int has_rows;                   /* some other input had a row for it */
    double usage[A4_MAX_MONTHS];    /* [0] = oldest month ... [2k-1] = M0 */
    uint64_t ncalls;
    double sentiment_sum;
    size_t ncalls_kept;
    call_ref calls[A4_KEEP];        /* the most recent (day desc, sentiment asc) */
    uint64_t nmessages;
    int64_t last_message;           /* INT64_MIN: none in the window */
    uint64_t nopen, nactive, nstalled, npast_due;
    size_t nopps_kept;
    opp_ref opps[A4_KEEP];          /* active first, then by id */
} account;

typedef struct a4_state {
    revops_instance *self;
    const revops_host *host;

    int64_t as_of;                  /* days since the epoch */
    char as_of_text[11];
    int64_t first_month;            /* month number (year*12 + month-1) of the oldest month */
    int months;                     /* trend_months */
    double trend_full;              /* trend_full_pct / 100 */
    int64_t window_days, silent_days, stall_days, slack_target;
    int64_t window_start;           /* as_of - window_days */
    double weight[C_COUNT];
    double healthy_min, watch_min, critical_below;
    char **closed;
    size_t nclosed;
    char *metric;

    revops_map accounts;            /* account id -> account */
    revops_bad_rows bad[IN_COUNT];  /* rows we could not use, reported once per dataset */
    int seen[IN_COUNT];             /* the input was configured: a chunk arrived */
} a4_state;

/* ------------------------------------------------------ small things -- */

/* revops_fmt_num, but a sum that rounds to zero prints "0", never "-0". */
static void fmt_num(double x, char out[48])
{
    revops_fmt_num(x, out);
    if (strcmp(out, "-0") == 0) strcpy(out, "0");
}

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* ------------------------------------------------------------- dates -- */

/* Calendar months are counted as year*12 + (month-1); the host's
 * date_format gives the civil date, so no calendar code lives here. */
static int64_t month_of(const a4_state *st, int64_t days)
{
    char buf[11];
    st->host->date_format(days, buf);
    char *end;
    long long y = strtoll(buf, &end, 10);
    long m = strtol(end + 1, NULL, 10);
    return (int64_t)y * 12 + (m - 1);
}

static void month_label(int64_t month, char out[32])
{
    int64_t y = month >= 0 ? month / 12 : (month - 11) / 12;
    snprintf(out, 32, "%04" PRId64 "-%02d", y, (int)(month - y * 12 + 1));
}

static void day_label(const a4_state *st, int64_t days, char out[11])
{
    st->host->date_format(days, out);
}

/* ------------------------------------------------------- bad rows -- */

/* revops_bad_rows_report, in A4's own words ("rows not used"): once per
 * dataset, at its last chunk (or at finalize if that never came). */
static void report_bad(a4_state *st, int input)
{
    revops_bad_rows *b = &st->bad[input];
    if (!b->bad || b->reported) return;
    b->reported = 1;
    st->host->log(st->self, REVOPS_LOG_WARN,
                  "dataset '%s': %" PRIu64 " of %" PRIu64 " rows not used (missing account, or "
                  "missing or unreadable date or value); first at row %" PRIu64 ": %s",
                  input_names[input], b->bad, b->rows, b->first_row, b->first);
}

/* ------------------------------------------------------- accounts -- */

/* The account `id`, created on first sight; NULL only when out of memory. */
static account *account_get(a4_state *st, const char *id)
{
    void **slot = revops_map_slot(&st->accounts, id);
    if (!slot) return NULL;
    if (!*slot) {
        account *a = calloc(1, sizeof *a);
        if (!a) return NULL;
        a->id = st->accounts.keys[slot - st->accounts.vals];
        a->last_message = INT64_MIN;
        *slot = a;
    }
    return *slot;
}

static void account_free(void *p)
{
    account *a = p;
    if (!a) return;
    for (size_t i = 0; i < a->nopps_kept; i++) {
        free(a->opps[i].id);
        free(a->opps[i].stage);
    }
    free(a->name);
    free(a);
}

/* Calls kept for evidence: the most recent first; equal days by sentiment. */
static int call_before(const call_ref *x, int64_t day, double s)
{
    return x->day > day || (x->day == day && x->sentiment < s);
}

static void keep_call(account *a, int64_t day, double s)
{
    size_t pos = a->ncalls_kept;
    while (pos > 0 && !call_before(&a->calls[pos - 1], day, s)) pos--;
    if (pos >= A4_KEEP) return;
    if (a->ncalls_kept == A4_KEEP) a->ncalls_kept--;
    memmove(&a->calls[pos + 1], &a->calls[pos], (a->ncalls_kept - pos) * sizeof a->calls[0]);
    a->calls[pos] = (call_ref){ day, s };
    a->ncalls_kept++;
}

/* Opportunities kept for evidence: active ones first, then by id. */
static int opp_before(const opp_ref *x, int status, const char *id)
{
    int xa = x->status != OPP_ACTIVE, ya = status != OPP_ACTIVE;
    if (xa != ya) return xa < ya;
    return strcmp(x->id, id) < 0;
}

static int keep_opp(account *a, const char *id, const char *stage, int64_t close, int64_t change,
                    int status)
{
    size_t pos = a->nopps_kept;
    while (pos > 0 && !opp_before(&a->opps[pos - 1], status, id)) pos--;
    if (pos >= A4_KEEP) return 0;
    char *idc = strdup(id), *stc = strdup(stage ? stage : "no stage");
    if (!idc || !stc) {
        free(idc);
        free(stc);
        return -1;
    }
    if (a->nopps_kept == A4_KEEP) {
        a->nopps_kept--;
        free(a->opps[a->nopps_kept].id);
        free(a->opps[a->nopps_kept].stage);
    }
    memmove(&a->opps[pos + 1], &a->opps[pos], (a->nopps_kept - pos) * sizeof a->opps[0]);
    a->opps[pos] = (opp_ref){ idc, stc, close, change, status };
    a->nopps_kept++;
    return 0;
}

/* ------------------------------------------------------------ inputs -- */

static int find_input(const char *dataset)
{
    for (int i = 0; i < IN_COUNT; i++)
        if (dataset && strcmp(dataset, input_names[i]) == 0) return i;
    return -1;
}

static int need_column(a4_state *st, const revops_chunk *c, const char *name, long *idx)
{
    *idx = revops_column_index(c, name);
    if (*idx >= 0) return 0;
    st->host->error(st->self, "input '%s' (source '%s') has no column '%s'",
                    c->dataset, c->source ? c->source : "?", name);
    return -1;
}

static revops_status out_of_memory(a4_state *st, const char *dataset, const char *id)
{
    st->host->error(st->self, "out of memory keeping input '%s' account '%s'", dataset, id);
    return REVOPS_ERROR;
}

/* The account of row r (column ai), counted as bad when missing; NULL
 * then, or when out of memory (*oom set). */
static account *row_account(a4_state *st, const revops_chunk *c, int input, size_t r, long ai,
                            int *oom)
{
    char abuf[32], what[64];
    const revops_value *av = revops_cell(c, r, (size_t)ai);
    const char *id = revops_cell_text(av, abuf, sizeof abuf);
    *oom = 0;
    if (!id) {
        revops_cell_describe(av, what);
        revops_bad_rows_note(&st->bad[input], "sf_account_id is %s", what);
        return NULL;
    }
    account *a = account_get(st, id);
    if (!a) *oom = 1;
    return a;
}

static revops_status take_accounts(a4_state *st, const revops_chunk *c)
{
    long ci, ni;
    if (need_column(st, c, "sf_account_id", &ci) || need_column(st, c, "sf_account_name", &ni))
        return REVOPS_ERROR;
    for (size_t r = 0; r < c->nrows; r++) {
        char nbuf[32];
        int oom;
        st->bad[IN_ACCOUNTS].rows++;
        account *a = row_account(st, c, IN_ACCOUNTS, r, ci, &oom);
        if (oom) return out_of_memory(st, c->dataset, "(account row)");
        if (!a) continue;
        a->listed = 1;
        const char *name = revops_cell_text(revops_cell(c, r, (size_t)ni), nbuf, sizeof nbuf);
        if (name && !a->name && !(a->name = strdup(name)))
            return out_of_memory(st, c->dataset, a->id);
    }
    return REVOPS_OK;
}

/* Daily usage: the metric added to its month when the month is in the window. */
static revops_status take_usage(a4_state *st, const revops_chunk *c)
{
    long ai, di, mi;
    if (need_column(st, c, "sf_account_id", &ai) || need_column(st, c, "consumption_date", &di) ||
        need_column(st, c, st->metric, &mi))
        return REVOPS_ERROR;
    for (size_t r = 0; r < c->nrows; r++) {
        char what[64];
        int oom;
        st->bad[IN_USAGE].rows++;
        account *a = row_account(st, c, IN_USAGE, r, ai, &oom);
        if (oom) return out_of_memory(st, c->dataset, "(usage row)");
        if (!a) continue;
        const revops_value *dv = revops_cell(c, r, (size_t)di);
        const revops_value *mv = revops_cell(c, r, (size_t)mi);
        int64_t day;
        double x;
        if (revops_cell_date(st->host, dv, &day) != REVOPS_CELL_OK) {
            revops_cell_describe(dv, what);
            revops_bad_rows_note(&st->bad[IN_USAGE], "account %s: consumption_date is %s", a->id,
                                 what);
            continue;
        }
        if (revops_cell_number(mv, &x) != REVOPS_CELL_OK) {
            revops_cell_describe(mv, what);
            revops_bad_rows_note(&st->bad[IN_USAGE], "account %s: %s is %s", a->id, st->metric,
                                 what);
            continue;
        }
        a->has_rows = 1;
        int64_t slot = month_of(st, day) - st->first_month;
        if (slot < 0 || slot >= 2 * st->months || day >= st->as_of) continue;
        a->usage[slot] += x;
    }
    return REVOPS_OK;
}

/* Exact, case-sensitive matches; a NULL stage is open. */
static int is_closed(const a4_state *st, const char *stage)
{
    if (!stage) return 0;
    for (size_t i = 0; i < st->nclosed; i++)
        if (strcmp(stage, st->closed[i]) == 0) return 1;
    return 0;
}

static revops_status take_opportunities(a4_state *st, const revops_chunk *c)
{
    long oi, ai, si, ci, li;
    if (need_column(st, c, "opportunity_id", &oi) || need_column(st, c, "sf_account_id", &ai) ||
        need_column(st, c, "stage_name", &si) || need_column(st, c, "close_date", &ci) ||
        need_column(st, c, "last_stage_change_date", &li))
        return REVOPS_ERROR;
    for (size_t r = 0; r < c->nrows; r++) {
        char obuf[32], stage_buf[32], what[64];
        int oom;
        st->bad[IN_OPPORTUNITIES].rows++;
        account *a = row_account(st, c, IN_OPPORTUNITIES, r, ai, &oom);
        if (oom) return out_of_memory(st, c->dataset, "(opportunity row)");
        if (!a) continue;
        const char *oid = revops_cell_text(revops_cell(c, r, (size_t)oi), obuf, sizeof obuf);
        if (!oid) oid = "(opportunity without id)";
        const char *stage =
            revops_cell_text(revops_cell(c, r, (size_t)si), stage_buf, sizeof stage_buf);
        if (is_closed(st, stage)) continue;
        const revops_value *cv = revops_cell(c, r, (size_t)ci);
        const revops_value *lv = revops_cell(c, r, (size_t)li);
        int64_t close, change;
        if (revops_cell_date(st->host, cv, &close) != REVOPS_CELL_OK) {
            revops_cell_describe(cv, what);
            revops_bad_rows_note(&st->bad[IN_OPPORTUNITIES], "opportunity %s: close_date is %s",
                                 oid, what);
            continue;
        }
        if (revops_cell_date(st->host, lv, &change) != REVOPS_CELL_OK) {
            revops_cell_describe(lv, what);
            revops_bad_rows_note(&st->bad[IN_OPPORTUNITIES],
                                 "opportunity %s: last_stage_change_date is %s", oid, what);
            continue;
        }
        a->has_rows = 1;
        int status = (st->as_of - change > st->stall_days ? OPP_STALLED : 0) |
                     (close < st->as_of ? OPP_PAST_DUE : 0);
        a->nopen++;
        if (status == OPP_ACTIVE) a->nactive++;
        if (status & OPP_STALLED) a->nstalled++;
        if (status & OPP_PAST_DUE) a->npast_due++;
        if (keep_opp(a, oid, stage, close, change, status) < 0)
            return out_of_memory(st, c->dataset, a->id);
    }
    return REVOPS_OK;
}

static revops_status take_calls(a4_state *st, const revops_chunk *c)
{
    long ai, di, si;
    if (need_column(st, c, "sf_account_id", &ai) || need_column(st, c, "call_date", &di) ||
        need_column(st, c, "sentiment", &si))
        return REVOPS_ERROR;
    for (size_t r = 0; r < c->nrows; r++) {
        char what[64];
        int oom;
        st->bad[IN_CALLS].rows++;
        account *a = row_account(st, c, IN_CALLS, r, ai, &oom);
        if (oom) return out_of_memory(st, c->dataset, "(call row)");
        if (!a) continue;
        const revops_value *dv = revops_cell(c, r, (size_t)di);
        const revops_value *sv = revops_cell(c, r, (size_t)si);
        int64_t day;
        double s;
        if (revops_cell_date(st->host, dv, &day) != REVOPS_CELL_OK) {
            revops_cell_describe(dv, what);
            revops_bad_rows_note(&st->bad[IN_CALLS], "account %s: call_date is %s", a->id, what);
            continue;
        }
        if (revops_cell_number(sv, &s) != REVOPS_CELL_OK || !(s >= -1.0 && s <= 1.0)) {
            revops_cell_describe(sv, what);
            revops_bad_rows_note(&st->bad[IN_CALLS],
                                 "account %s: sentiment is %s (a number from -1 to 1 is needed)",
                                 a->id, what);
            continue;
        }
        a->has_rows = 1;
        if (day < st->window_start || day >= st->as_of) continue;
        a->ncalls++;
        a->sentiment_sum += s;
        keep_call(a, day, s);
    }
    return REVOPS_OK;
}

static revops_status take_messages(a4_state *st, const revops_chunk *c)
{
    long ai, di;
    if (need_column(st, c, "sf_account_id", &ai) || need_column(st, c, "message_date", &di))
        return REVOPS_ERROR;
    for (size_t r = 0; r < c->nrows; r++) {
        char what[64];
        int oom;
        st->bad[IN_MESSAGES].rows++;
        account *a = row_account(st, c, IN_MESSAGES, r, ai, &oom);
        if (oom) return out_of_memory(st, c->dataset, "(message row)");
        if (!a) continue;
        const revops_value *dv = revops_cell(c, r, (size_t)di);
        int64_t day;
        if (revops_cell_date(st->host, dv, &day) != REVOPS_CELL_OK) {
            revops_cell_describe(dv, what);
            revops_bad_rows_note(&st->bad[IN_MESSAGES], "account %s: message_date is %s", a->id,
                                 what);
            continue;
        }
        a->has_rows = 1;
        if (day < st->window_start || day >= st->as_of) continue;
        a->nmessages++;
        if (day > a->last_message) a->last_message = day;
    }
    return REVOPS_OK;
}

static revops_status a4_process_chunk(void *state, const revops_chunk *chunk)
{
    a4_state *st = state;
    int input = find_input(chunk->dataset);
    if (input < 0) {
        st->host->error(st->self, "unexpected input '%s': A4 reads accounts, usage, opportunities, "
                        "calls, messages", chunk->dataset ? chunk->dataset : "(null)");
        return REVOPS_ERROR;
    }
    st->seen[input] = 1;
    revops_status rc;
    switch (input) {
    case IN_ACCOUNTS: rc = take_accounts(st, chunk); break;
    case IN_USAGE: rc = take_usage(st, chunk); break;
    case IN_OPPORTUNITIES: rc = take_opportunities(st, chunk); break;
    case IN_CALLS: rc = take_calls(st, chunk); break;
    default: rc = take_messages(st, chunk); break;
    }
    if (rc == REVOPS_OK && chunk->last) report_bad(st, input);
    return rc;
}

/* ---------------------------------------------------------- scoring -- */

/* Everything finalize decides about one account. */
typedef struct verdict {
    const account *a;
    double last, prev, trend;          /* usage sums of the two halves; trend when prev > 0 */
    int measured[C_COUNT];             /* the component's input was configured */
    double c[C_COUNT];                 /* components, 0..100 */
    double health;                     /* 0..100 */
    int band;
    revops_priority priority;
    double confidence;
} verdict;

static verdict judge(const a4_state *st, const account *a)
{
    verdict v = { .a = a };
    for (int i = 0; i < st->months; i++) {
        v.prev += a->usage[i];
        v.last += a->usage[st->months + i];
    }
    v.measured[C_USAGE] = v.measured[C_PIPELINE] = 1;
    v.measured[C_SENTIMENT] = st->seen[IN_CALLS];
    v.measured[C_ENGAGEMENT] = st->seen[IN_MESSAGES];

    if (v.prev > 0) {
        v.trend = v.last / v.prev - 1.0;
        v.c[C_USAGE] = clamp(50.0 + 50.0 * v.trend / st->trend_full, 0.0, 100.0);
    } else {
        v.c[C_USAGE] = 50.0;
    }
    v.c[C_SENTIMENT] = a->ncalls ? 50.0 + 50.0 * a->sentiment_sum / (double)a->ncalls : 50.0;
    v.c[C_SENTIMENT] = clamp(v.c[C_SENTIMENT], 0.0, 100.0);
    if (a->nmessages == 0 || st->as_of - a->last_message > st->silent_days)
        v.c[C_ENGAGEMENT] = 0.0;
    else
        v.c[C_ENGAGEMENT] = clamp(100.0 * (double)a->nmessages / (double)st->slack_target, 0.0, 100.0);
    v.c[C_PIPELINE] = a->nopen == 0 ? 50.0 : a->nactive ? 100.0 : 0.0;

    double sum = 0, wsum = 0;
    for (int i = 0; i < C_COUNT; i++) {
        if (!v.measured[i]) continue;
        sum += st->weight[i] * v.c[i];
        wsum += st->weight[i];
    }
    v.health = wsum > 0 ? clamp(sum / wsum, 0.0, 100.0) : 50.0;
    v.band = v.health >= st->healthy_min - A4_EPSILON ? BAND_HEALTHY
           : v.health >= st->watch_min - A4_EPSILON ? BAND_WATCH : BAND_AT_RISK;
    v.priority = v.band == BAND_WATCH ? REVOPS_PRIORITY_MEDIUM
               : v.health < st->critical_below - A4_EPSILON ? REVOPS_PRIORITY_CRITICAL
               : REVOPS_PRIORITY_HIGH;

    /* Less sure when a component fell back to neutral for lack of data. */
    v.confidence = 1.0;
    if (!(v.prev > 0)) v.confidence -= 0.2;
    if (!v.measured[C_SENTIMENT] || !a->ncalls) v.confidence -= 0.2;
    if (!v.measured[C_ENGAGEMENT]) v.confidence -= 0.2;
    v.confidence = clamp(v.confidence, 0.2, 1.0);
    return v;
}

static int verdict_order(const void *x, const void *y)
{
    const verdict *a = x, *b = y;
    if (a->health != b->health) return a->health < b->health ? -1 : 1;
    return strcmp(a->a->id, b->a->id);
}

/* ------------------------------------------------------------ texts -- */

static const char *who(const account *a)
{
    return a->name ? a->name : a->id;
}

static void usage_evidence(const a4_state *st, const verdict *v, revops_buf *sb)
{
    char m[32], num[48], p0[32], p1[32], l0[32], l1[32], nl[48], np[48];
    revops_buf_fmt(sb, "%s by month:", st->metric);
    for (int i = 0; i < 2 * st->months; i++) {
        month_label(st->first_month + i, m);
        fmt_num(v->a->usage[i], num);
        revops_buf_fmt(sb, "%s %s %s", i ? "," : "", m, num);
    }
    month_label(st->first_month, p0);
    month_label(st->first_month + st->months - 1, p1);
    month_label(st->first_month + st->months, l0);
    month_label(st->first_month + 2 * st->months - 1, l1);
    fmt_num(v->last, nl);
    fmt_num(v->prev, np);
    if (v->prev > 0)
        revops_buf_fmt(sb, "; last %d months (%s..%s) %s vs the %d before (%s..%s) %s: %+.1f%%; "
                       "usage = 50 + 50 x trend / %g%%, clamped to 0..100, = %.1f", st->months,
                       l0, l1, nl, st->months, p0, p1, np, 100.0 * v->trend,
                       100.0 * st->trend_full, v->c[C_USAGE]);
    else
        revops_buf_fmt(sb, "; no %s in %s..%s (no prior usage), %s in %s..%s: neutral 50",
                       st->metric, p0, p1, nl, l0, l1);
}

static void sentiment_evidence(const a4_state *st, const verdict *v, revops_buf *sb)
{
    const account *a = v->a;
    char from[11], to[11], day[11];
    day_label(st, st->window_start, from);
    day_label(st, st->as_of - 1, to);
    if (!a->ncalls) {
        revops_buf_fmt(sb, "no calls from %s to %s: neutral 50", from, to);
        return;
    }
    revops_buf_fmt(sb, "%" PRIu64 " call%s from %s to %s (latest first):", a->ncalls,
                   a->ncalls == 1 ? "" : "s", from, to);
    for (size_t i = 0; i < a->ncalls_kept; i++) {
        day_label(st, a->calls[i].day, day);
        revops_buf_fmt(sb, "%s %s sentiment %.2f", i ? "," : "", day, a->calls[i].sentiment);
    }
    if (a->ncalls > a->ncalls_kept)
        revops_buf_fmt(sb, " and %" PRIu64 " more", a->ncalls - (uint64_t)a->ncalls_kept);
    revops_buf_fmt(sb, "; mean %.3f; sentiment = 50 + 50 x mean = %.1f",
                   a->sentiment_sum / (double)a->ncalls, v->c[C_SENTIMENT]);
}

static void engagement_evidence(const a4_state *st, const verdict *v, revops_buf *sb)
{
    const account *a = v->a;
    char from[11], to[11], last[11];
    day_label(st, st->window_start, from);
    day_label(st, st->as_of - 1, to);
    if (!a->nmessages) {
        revops_buf_fmt(sb, "no Slack messages from %s to %s: engagement 0", from, to);
        return;
    }
    day_label(st, a->last_message, last);
    int64_t ago = st->as_of - a->last_message;
    revops_buf_fmt(sb, "%" PRIu64 " Slack message%s from %s to %s, the last on %s (%" PRId64 " "
                   "day%s before %s)", a->nmessages, a->nmessages == 1 ? "" : "s", from, to, last,
                   ago, ago == 1 ? "" : "s", st->as_of_text);
    if (ago > st->silent_days)
        revops_buf_fmt(sb, "; silent for more than %" PRId64 " days: engagement 0",
                       st->silent_days);
    else
        revops_buf_fmt(sb, "; engagement = min(100, 100 x %" PRIu64 " / %" PRId64 ") = %.1f",
                       a->nmessages, st->slack_target, v->c[C_ENGAGEMENT]);
}

static void pipeline_evidence(const a4_state *st, const verdict *v, revops_buf *sb)
{
    const account *a = v->a;
    char close[11], change[11];
    if (!a->nopen) {
        revops_buf_fmt(sb, "no open opportunities: neutral 50");
        return;
    }
    revops_buf_fmt(sb, "%" PRIu64 " open opportunit%s:", a->nopen, a->nopen == 1 ? "y" : "ies");
    for (size_t i = 0; i < a->nopps_kept; i++) {
        const opp_ref *o = &a->opps[i];
        day_label(st, o->close, close);
        day_label(st, o->change, change);
        revops_buf_fmt(sb, "%s %s (%s, close date %s, last stage change %s: ", i ? ";" : "", o->id,
                       o->stage, close, change);
        if (o->status == OPP_ACTIVE) revops_buf_fmt(sb, "active");
        if (o->status & OPP_STALLED)
            revops_buf_fmt(sb, "stalled %" PRId64 " days", st->as_of - o->change);
        if (o->status == (OPP_STALLED | OPP_PAST_DUE)) revops_buf_fmt(sb, ", ");
        if (o->status & OPP_PAST_DUE)
            revops_buf_fmt(sb, "%" PRId64 " days past its close date", st->as_of - o->close);
        revops_buf_fmt(sb, ")");
    }
    if (a->nopen > a->nopps_kept)
        revops_buf_fmt(sb, " and %" PRIu64 " more", a->nopen - (uint64_t)a->nopps_kept);
    if (a->nactive)
        revops_buf_fmt(sb, "; %" PRIu64 " active (neither stalled for more than %" PRId64 " days "
                       "nor past its close date): pipeline 100", a->nactive, st->stall_days);
    else
        revops_buf_fmt(sb, "; none active (%" PRIu64 " stalled for more than %" PRId64
                       " days, %" PRIu64 " past the close date): pipeline 0", a->nstalled,
                       st->stall_days, a->npast_due);
}

/* Short phrases for the title: the components below neutral, worst first. */
static void title_text(const a4_state *st, const verdict *v, revops_buf *sb)
{
    const account *a = v->a;
    revops_buf_fmt(sb, "%s: health %.1f/100, %s", who(a), v->health, band_words[v->band]);
    int order[C_COUNT], n = 0;
    for (int i = 0; i < C_COUNT; i++)
        if (v->measured[i] && v->c[i] < 50.0) order[n++] = i;
    for (int i = 1; i < n; i++)   /* by weighted shortfall, desc; stable on ties */
        for (int j = i; j > 0; j--) {
            double x = st->weight[order[j]] * (50.0 - v->c[order[j]]);
            double y = st->weight[order[j - 1]] * (50.0 - v->c[order[j - 1]]);
            if (x <= y) break;
            int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
        }
    for (int k = 0; k < n; k++) {
        const char *sep = k ? ", " : " (";
        switch (order[k]) {
        case C_USAGE: revops_buf_fmt(sb, "%susage %+.1f%%", sep, 100.0 * v->trend); break;
        case C_SENTIMENT:
            revops_buf_fmt(sb, "%scall sentiment %.2f", sep, a->sentiment_sum / (double)a->ncalls);
            break;
        case C_ENGAGEMENT:
            if (a->nmessages && st->as_of - a->last_message > st->silent_days)
                revops_buf_fmt(sb, "%sSlack silent %" PRId64 " days", sep,
                               st->as_of - a->last_message);
            else if (!a->nmessages)
                revops_buf_fmt(sb, "%sno Slack messages", sep);
            else
                revops_buf_fmt(sb, "%s%" PRIu64 " Slack message%s", sep, a->nmessages,
                               a->nmessages == 1 ? "" : "s");
            break;
        default: revops_buf_fmt(sb, "%sno active opportunity", sep); break;
        }
    }
    if (n) revops_buf_fmt(sb, ")");
}

static void description_text(const a4_state *st, const verdict *v, revops_buf *sb)
{
    const account *a = v->a;
    if (a->name)
        revops_buf_fmt(sb, "%s (%s)", a->name, a->id);
    else
        revops_buf_fmt(sb, "Account %s", a->id);
    revops_buf_fmt(sb, " scores %.1f/100 on customer health as of %s: %s (healthy from %g, watch "
                   "from %g, at risk below). Components (0..100, 50 is neutral) and weights:",
                   v->health, st->as_of_text, band_words[v->band], st->healthy_min, st->watch_min);
    const char *labels[C_COUNT] = { "usage trend", "call sentiment", "Slack engagement",
                                    "open pipeline" };
    const char *sep = " ";
    for (int i = 0; i < C_COUNT; i++) {
        if (v->measured[i])
            revops_buf_fmt(sb, "%s%s %.1f (weight %g)", sep, labels[i], v->c[i], st->weight[i]);
        else
            revops_buf_fmt(sb, "%s%s not measured (input '%s' not configured)", sep, labels[i],
                           input_names[i == C_SENTIMENT ? IN_CALLS : IN_MESSAGES]);
        sep = "; ";
    }
    revops_buf_fmt(sb, ".");
    if (!(v->prev > 0) || (v->measured[C_SENTIMENT] && !a->ncalls))
        revops_buf_fmt(sb, " Confidence is lower: %s%s%s.", !(v->prev > 0) ? "no usage in the "
                       "earlier months to compare with" : "",
                       !(v->prev > 0) && v->measured[C_SENTIMENT] && !a->ncalls ? ", and " : "",
                       v->measured[C_SENTIMENT] && !a->ncalls ? "no calls in the window" : "");
}

/* Plain-word actions: the band's, then one per weak component, worst first. */
static void actions_text(const a4_state *st, const verdict *v, revops_buf *out, size_t *n)
{
    const account *a = v->a;
    char day[11];
    if (v->band == BAND_AT_RISK)
        revops_buf_fmt(&out[*n], "Open a save plan for %s with the account owner and customer "
                       "success this week, and book an executive sponsor call within 14 days",
                       who(a));
    else
        revops_buf_fmt(&out[*n], "Put %s on the customer success watch list and review its health "
                       "again in 30 days", who(a));
    (*n)++;
    if (v->c[C_USAGE] < 50.0) {
        revops_buf_fmt(&out[*n], "Ask the customer's admin which workloads shrank (%s %+.1f%% over "
                       "the last %d months) and offer a usage review", st->metric, 100.0 * v->trend,
                       st->months);
        (*n)++;
    }
    if (v->measured[C_SENTIMENT] && a->ncalls && v->c[C_SENTIMENT] < 50.0) {
        day_label(st, a->calls[0].day, day);
        revops_buf_fmt(&out[*n], "Listen to the recent calls (latest on %s, mean sentiment %.2f) "
                       "and agree a remediation plan with the champion", day,
                       a->sentiment_sum / (double)a->ncalls);
        (*n)++;
    } else if (v->measured[C_SENTIMENT] && !a->ncalls) {
        revops_buf_fmt(&out[*n], "Schedule a check-in call: no call in the last %" PRId64 " days",
                       st->window_days);
        (*n)++;
    }
    if (v->measured[C_ENGAGEMENT] && v->c[C_ENGAGEMENT] < 50.0) {
        if (a->nmessages) {
            day_label(st, a->last_message, day);
            revops_buf_fmt(&out[*n], "Re-engage the customer in the shared Slack channel (%" PRIu64
                           " message%s in %" PRId64 " days, the last on %s)", a->nmessages,
                           a->nmessages == 1 ? "" : "s", st->window_days, day);
        } else {
            revops_buf_fmt(&out[*n], "Re-engage the customer in the shared Slack channel (no "
                           "message in %" PRId64 " days)", st->window_days);
        }
        (*n)++;
    }
    if (a->nopen && !a->nactive) {
        revops_buf_fmt(&out[*n], "Review the open opportunit%s with the owner (%s%s): agree a "
                       "dated next step and a realistic close date, or close %s out",
                       a->nopen == 1 ? "y" : "ies", a->opps[0].id,
                       a->nopen > 1 ? " and others" : "", a->nopen == 1 ? "it" : "them");
        (*n)++;
    } else if (!a->nopen && v->band == BAND_AT_RISK) {
        revops_buf_fmt(&out[*n], "No open opportunity: plan the renewal or next expansion "
                       "conversation with the account owner");
        (*n)++;
    }
}

/* --------------------------------------------------------- findings -- */

/* Build and emit the finding of one account; all strings are freed here
 * (the host copies the finding before emit_finding returns). */
static revops_status emit_verdict(a4_state *st, const verdict *v, revops_emitter *emit)
{
    const account *a = v->a;
    revops_signal sig[C_COUNT];
    revops_buf evidence[C_COUNT] = { 0 }, actions[8] = { 0 }, title = { 0 }, description = { 0 };
    const char *action_texts[8];
    size_t ns = 0, na = 0;
    int failed = 0;

    for (int i = 0; i < C_COUNT; i++) {
        if (!v->measured[i]) continue;
        switch (i) {
        case C_USAGE: usage_evidence(st, v, &evidence[ns]); break;
        case C_SENTIMENT: sentiment_evidence(st, v, &evidence[ns]); break;
        case C_ENGAGEMENT: engagement_evidence(st, v, &evidence[ns]); break;
        default: pipeline_evidence(st, v, &evidence[ns]); break;
        }
        failed |= evidence[ns].oom;
        sig[ns] = (revops_signal){ component_names[i], v->c[i], 50.0, st->weight[i],
                                   revops_buf_cstr(&evidence[ns]) };
        ns++;
    }
    actions_text(st, v, actions, &na);
    for (size_t i = 0; i < na; i++) {
        failed |= actions[i].oom;
        action_texts[i] = revops_buf_cstr(&actions[i]);
    }
    title_text(st, v, &title);
    description_text(st, v, &description);
    failed |= title.oom || description.oom;

    revops_status rc = REVOPS_OK;
    if (failed) {
        rc = out_of_memory(st, "finding", a->id);
    } else {
        revops_finding f = {
            .analysis = "A4",
            .account_id = a->id,
            .account_name = a->name,
            .opportunity_id = NULL,
            .category = "customer_health",
            .priority = v->priority,
            .score = clamp((100.0 - v->health) / 100.0, 0.0, 1.0),
            .confidence = v->confidence,
            .title = revops_buf_cstr(&title),
            .description = revops_buf_cstr(&description),
            .nsignals = ns,
            .signals = sig,
            .nactions = na,
            .recommended_actions = action_texts,
        };
        rc = st->host->emit_finding(emit, &f);
        if (rc != REVOPS_OK)
            st->host->error(st->self, "could not emit the finding for account '%s'", a->id);
    }
    for (size_t i = 0; i < ns; i++) revops_buf_free(&evidence[i]);
    for (size_t i = 0; i < na; i++) revops_buf_free(&actions[i]);
    revops_buf_free(&title);
    revops_buf_free(&description);
    return rc;
}

static revops_status a4_finalize(void *state, revops_emitter *emit)
{
    a4_state *st = state;
    for (int i = 0; i < IN_COUNT; i++) report_bad(st, i);

    size_t listed = 0, unlisted = 0;
    for (size_t i = 0; i < st->accounts.cap; i++) {
        const account *a = st->accounts.vals[i];
        if (!a) continue;
        if (a->listed) listed++;
        else if (a->has_rows) unlisted++;
    }
    if (unlisted)
        st->host->log(st->self, REVOPS_LOG_INFO,
                      "%zu accounts have usage, opportunity, call or message rows but are not in "
                      "the 'accounts' input: not scored", unlisted);
    if (!listed) {
        st->host->log(st->self, REVOPS_LOG_WARN,
                      "A4 as of %s: the 'accounts' input returned no accounts: nothing to score, "
                      "no findings", st->as_of_text);
        return REVOPS_OK;
    }
    for (int i = IN_CALLS; i <= IN_MESSAGES; i++)
        if (!st->seen[i])
            st->host->log(st->self, REVOPS_LOG_INFO,
                          "input '%s' is not configured: its component is left out of the score",
                          input_names[i]);

    verdict *vs = malloc(listed * sizeof *vs);
    if (!vs) return out_of_memory(st, "finding", "(all)");
    size_t n = 0, bands[3] = { 0, 0, 0 };
    for (size_t i = 0; i < st->accounts.cap; i++) {
        const account *a = st->accounts.vals[i];
        if (!a || !a->listed) continue;
        verdict v = judge(st, a);
        bands[v.band]++;
        if (v.band != BAND_HEALTHY) vs[n++] = v;
    }
    if (n) qsort(vs, n, sizeof *vs, verdict_order);
    revops_status rc = REVOPS_OK;
    for (size_t i = 0; i < n && rc == REVOPS_OK; i++) rc = emit_verdict(st, &vs[i], emit);
    st->host->log(st->self, REVOPS_LOG_INFO,
                  "A4 as of %s: %zu accounts: %zu healthy, %zu watch, %zu at_risk (%zu findings)",
                  st->as_of_text, listed, bands[BAND_HEALTHY], bands[BAND_WATCH],
                  bands[BAND_AT_RISK], n);
    free(vs);
    return rc;
}

/* -------------------------------------------------------- lifecycle -- */

static void a4_destroy(void *state)
{
    a4_state *st = state;
    if (!st) return;
    revops_map_free(&st->accounts, account_free);
    for (size_t i = 0; i < st->nclosed; i++) free(st->closed[i]);
    free(st->closed);
    free(st->metric);
    free(st);
}

/* as_of from the option, else today (UTC) from the host clock, which honours
 * REVOPS_NOW so runs can be reproduced. */
static int set_as_of(a4_state *st, const revops_options *opts)
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
    return 0;
}

static int copy_options(a4_state *st, const revops_options *opts)
{
    const revops_host *h = st->host;
    int64_t months = h->opt_int(opts, "trend_months");
    if (months < 1 || months > A4_MAX_MONTHS / 2) {
        h->error(st->self, "option trend_months: %" PRId64 " is outside 1..%d", months,
                 A4_MAX_MONTHS / 2);
        return -1;
    }
    st->months = (int)months;
    st->trend_full = h->opt_real(opts, "trend_full_pct") / 100.0;
    st->window_days = h->opt_int(opts, "window_days");
    st->silent_days = h->opt_int(opts, "silent_days");
    st->stall_days = h->opt_int(opts, "stall_days");
    st->slack_target = h->opt_int(opts, "slack_target");
    st->weight[C_USAGE] = h->opt_real(opts, "weight_usage");
    st->weight[C_SENTIMENT] = h->opt_real(opts, "weight_sentiment");
    st->weight[C_ENGAGEMENT] = h->opt_real(opts, "weight_engagement");
    st->weight[C_PIPELINE] = h->opt_real(opts, "weight_pipeline");
    st->healthy_min = h->opt_real(opts, "healthy_min");
    st->watch_min = h->opt_real(opts, "watch_min");
    st->critical_below = h->opt_real(opts, "critical_below");
    if (!(st->trend_full > 0) || st->window_days < 1 || st->slack_target < 1) {
        h->error(st->self, "options trend_full_pct, window_days and slack_target must be above 0");
        return -1;
    }
    if (!(st->weight[C_USAGE] + st->weight[C_PIPELINE] > 0)) {
        h->error(st->self, "options weight_usage (%g) and weight_pipeline (%g): at least one must "
                 "be above 0", st->weight[C_USAGE], st->weight[C_PIPELINE]);
        return -1;
    }
    if (!(st->healthy_min >= st->watch_min && st->watch_min >= st->critical_below)) {
        h->error(st->self, "options healthy_min (%g) >= watch_min (%g) >= critical_below (%g) "
                 "must hold", st->healthy_min, st->watch_min, st->critical_below);
        return -1;
    }
    const char *metric = h->opt_string(opts, "usage_metric");
    st->metric = strdup(metric && *metric ? metric : "engine_hours");
    st->nclosed = h->opt_list_len(opts, "closed_stages");
    st->closed = calloc(st->nclosed ? st->nclosed : 1, sizeof *st->closed);
    if (!st->metric || !st->closed) goto oom;
    for (size_t i = 0; i < st->nclosed; i++) {
        const char *item = h->opt_list_item(opts, "closed_stages", i);
        if (!(st->closed[i] = strdup(item ? item : ""))) goto oom;
    }
    return 0;
oom:
    h->error(st->self, "out of memory reading the options");
    return -1;
}

static revops_status a4_init(revops_instance *self, const revops_host *host,
                             const revops_options *opts, const revops_run_info *run,
                             void **state)
{
    (void)run;
    a4_state *st = calloc(1, sizeof *st);
    if (!st) {
        host->error(self, "out of memory");
        return REVOPS_ERROR;
    }
    st->self = self;
    st->host = host;
    if (copy_options(st, opts) < 0 || set_as_of(st, opts) < 0) {
        a4_destroy(st);
        return REVOPS_ERROR;
    }
    /* M0 is the last complete month before as_of; the window is M-(2k-1)..M0. */
    st->first_month = month_of(st, st->as_of) - 2 * st->months;
    st->window_start = st->as_of - st->window_days;
    *state = st;
    return REVOPS_OK;
}

/* -------------------------------------------------------- descriptor -- */

static const revops_input_def inputs[] = {
    { "accounts", 1, "sf_account_id,sf_account_name",
      "every account to score (each gets a band)" },
    { "usage", 1, "sf_account_id,consumption_date,engine_hours",
      "daily usage over the last 2 x trend_months complete months; option usage_metric names "
      "the summed column (default engine_hours)" },
    { "opportunities", 1,
      "opportunity_id,sf_account_id,stage_name,close_date,last_stage_change_date",
      "open opportunities (closed_stages are skipped anyway); dates as YYYY-MM-DD" },
    { "calls", 0, "sf_account_id,call_date,sentiment",
      "calls with a sentiment from -1 to 1, last window_days days (optional: not configured, "
      "the sentiment component is left out)" },
    { "messages", 0, "sf_account_id,message_date",
      "Slack messages, last window_days days (optional: not configured, the engagement "
      "component is left out)" },
    { NULL, 0, NULL, NULL }
};

static const revops_analysis_vtable vtable = {
    .analysis_type = "A4",
    .inputs = inputs,
    .init = a4_init,
    .process_chunk = a4_process_chunk,
    .finalize = a4_finalize,
    .destroy = a4_destroy,
};

static const revops_option_def options[] = {
    { "as_of", REVOPS_OPT_DATE, 0, NULL, 0, 0, NULL, 0,
      "reference date YYYY-MM-DD (default: today, UTC)" },
    { "trend_months", REVOPS_OPT_INT, 0, "3", 1, 6, NULL, 0,
      "usage trend compares the last this many complete months with as many before" },
    { "trend_full_pct", REVOPS_OPT_REAL, 0, "20", 0.1, 1000, NULL, 0,
      "usage trend (percent) at which the usage component reaches 100 (and its negative 0)" },
    { "window_days", REVOPS_OPT_INT, 0, "90", 1, 3650, NULL, 0,
      "calls and Slack messages of the last this many days count" },
    { "slack_target", REVOPS_OPT_INT, 0, "6", 1, 100000, NULL, 0,
      "Slack messages in the window that give full engagement (100)" },
    { "silent_days", REVOPS_OPT_INT, 0, "60", 0, 3650, NULL, 0,
      "engagement is 0 when the last Slack message is more than this many days before as_of" },
    { "stall_days", REVOPS_OPT_INT, 0, "60", 1, 3650, NULL, 0,
      "an open opportunity without a stage change for more days than this is stalled" },
    { "closed_stages", REVOPS_OPT_LIST, 0, "Closed Won,Closed Lost", 0, 0, NULL, 0,
      "stage names of closed opportunities (exact match)" },
    { "weight_usage", REVOPS_OPT_REAL, 0, "0.40", 0, 1, NULL, 0,
      "weight of the usage trend component" },
    { "weight_sentiment", REVOPS_OPT_REAL, 0, "0.25", 0, 1, NULL, 0,
      "weight of the call sentiment component" },
    { "weight_engagement", REVOPS_OPT_REAL, 0, "0.20", 0, 1, NULL, 0,
      "weight of the Slack engagement component" },
    { "weight_pipeline", REVOPS_OPT_REAL, 0, "0.15", 0, 1, NULL, 0,
      "weight of the open pipeline component" },
    { "healthy_min", REVOPS_OPT_REAL, 0, "60", 0, 100, NULL, 0,
      "health from which an account is healthy (no finding)" },
    { "watch_min", REVOPS_OPT_REAL, 0, "35", 0, 100, NULL, 0,
      "health from which an account is on watch (medium); below: at risk (high)" },
    { "critical_below", REVOPS_OPT_REAL, 0, "15", 0, 100, NULL, 0,
      "an at-risk account with a health below this is critical" },
    { "usage_metric", REVOPS_OPT_STRING, 0, "engine_hours", 0, 0, NULL, 0,
      "usage column summed per month; the query must return it" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_ANALYSIS, "customer_health", "1.0.0",
    "A4: customer health score from usage trend, call sentiment, Slack engagement and pipeline",
    options, { .analysis = &vtable }
};
