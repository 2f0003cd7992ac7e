/*
 * analysis "at_risk_accounts" (A1): accounts whose usage falls month after
 * month, whose renewals are past due, or whose open opportunities stalled.
 *
 * This implements exactly the rule in docs/architecture.md, "A1 at-risk
 * accounts".  It is streaming: rows arrive in chunks, in any order, and an
 * account's rows may be split over chunks, so everything kept is per account
 * (a few monthly sums, two maxima and at most A1_KEEP_OPPS opportunity ids per
 * signal), never per row.
 *
 * The usage input declares `engine_hours` because the core checks declared
 * column names before the run; the `usage_metric` option chooses which column
 * is actually summed (the query must then return that column too).
 */
#include <revops/revops.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A1_MAX_WINDOW 13        /* decline_months (max 12) + 1 */
#define A1_KEEP_OPPS 5          /* opportunity ids kept per signal, for evidence */
#define A1_SCORE_EPSILON 1e-9   /* 0.3 + 0.15 must count as >= 0.45 */

enum { IN_ACCOUNTS, IN_OPPORTUNITIES, IN_USAGE, IN_COUNT };
static const char *const input_names[IN_COUNT] = { "accounts", "opportunities", "usage" };

/* ------------------------------------------------------------ state -- */

typedef struct opp_ref {
    char *id;
    int64_t date;        /* close date (renewal) or last stage change (stalled) */
    int64_t days;        /* days past due / days since the last stage change */
    double amount;
    int has_amount;
} opp_ref;

/* One opportunity-based signal of one account: its maximum, how many
 * opportunities fired, and the worst few of them (days desc, id asc) so the
 * evidence is the same whatever order the rows came in. */
typedef struct opp_signal {
    int64_t max_days;
    uint64_t count;
    size_t nkept;
    opp_ref kept[A1_KEEP_OPPS];
} opp_signal;

typedef struct account {
    const char *id;                /* the key in a1_state.accounts */
    char *name;
    double usage[A1_MAX_WINDOW];   /* [0] = M-k ... [k] = M0 */
    uint32_t months_seen;          /* bit per window month that had a usage row */
    opp_signal renewal, stalled;
} account;

typedef struct a1_state {
    revops_instance *self;
    const revops_host *host;

    int64_t as_of;               /* days since the epoch */
    char as_of_text[11];
    int64_t first_month;         /* month number (year*12 + month-1) of M-k */
    int window;                  /* decline_months + 1 */
    double decline_pct;
    int64_t stall_days;
    char *renewal_type;
    char **closed;
    size_t nclosed;
    double w_decline, w_renewal, w_stalled;
    double critical, high, medium;
    char *metric;

    revops_map accounts;         /* account id -> account * */
    revops_bad_rows bad[IN_COUNT];
} a1_state;

/* ------------------------------------------------------------ small maths -- */

static double min1(double x)
{
    return x > 1.0 ? 1.0 : x;
}

static double clamp01(double x)
{
    return x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x;
}

/* ------------------------------------------------------------- dates -- */

/* Calendar months are counted as year*12 + (month-1); the host's
 * date_format gives the civil date, so no calendar code lives here. */
static int64_t month_of(const a1_state *st, int64_t days)
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

static void day_label(const a1_state *st, int64_t days, char out[11])
{
    st->host->date_format(days, out);
}

/* ------------------------------------------------------- bad rows -- */

/* Once per dataset, at its last chunk (or at finalize if that never came). */
static void report_bad(a1_state *st, int input)
{
    revops_bad_rows_report(&st->bad[input], st->host, st->self, input_names[input],
                           "missing account, or missing or unreadable date or value");
}

/* ------------------------------------------------------- accounts -- */

/* The account `id`, created on first sight; NULL only when out of memory. */
static account *account_get(a1_state *st, const char *id)
{
    void **slot = revops_map_slot(&st->accounts, id);
    if (!slot || *slot) return slot ? *slot : NULL;
    account *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->id = st->accounts.keys[slot - st->accounts.vals];
    return *slot = a;
}

static void account_free(void *p)
{
    account *a = p;
    if (!a) return;
    for (size_t i = 0; i < a->renewal.nkept; i++) free(a->renewal.kept[i].id);
    for (size_t i = 0; i < a->stalled.nkept; i++) free(a->stalled.kept[i].id);
    free(a->name);
    free(a);
}

static int opp_before(const opp_ref *x, int64_t days, const char *id)
{
    return x->days > days || (x->days == days && strcmp(x->id, id) < 0);
}

/* Count one firing opportunity; keep it if it is among the worst few. */
static int opp_signal_add(opp_signal *sig, const char *id, int64_t date, int64_t days,
                          int has_amount, double amount)
{
    sig->count++;
    if (sig->count == 1 || days > sig->max_days) sig->max_days = days;
    size_t pos = sig->nkept;
    while (pos > 0 && !opp_before(&sig->kept[pos - 1], days, id)) pos--;
    if (pos >= A1_KEEP_OPPS) return 0;
    char *copy = strdup(id);
    if (!copy) return -1;
    if (sig->nkept == A1_KEEP_OPPS) free(sig->kept[--sig->nkept].id);
    memmove(&sig->kept[pos + 1], &sig->kept[pos], (sig->nkept - pos) * sizeof sig->kept[0]);
    sig->kept[pos] = (opp_ref){ copy, date, days, amount, has_amount };
    sig->nkept++;
    return 0;
}

/* ------------------------------------------------------------ inputs -- */

static int find_input(const char *dataset)
{
    for (int i = 0; i < IN_COUNT; i++)
        if (dataset && strcmp(dataset, input_names[i]) == 0) return i;
    return -1;
}

static int need_column(a1_state *st, const revops_chunk *c, const char *name, long *idx)
{
    *idx = revops_column_index(c, name);
    if (*idx >= 0) return 0;
    st->host->error(st->self, "input '%s' (source '%s') has no column '%s'",
                    c->dataset, c->source ? c->source : "?", name);
    return -1;
}

static revops_status out_of_memory(a1_state *st, const char *dataset, const char *id)
{
    st->host->error(st->self, "out of memory keeping input '%s' account '%s'", dataset, id);
    return REVOPS_ERROR;
}

static revops_status take_accounts(a1_state *st, const revops_chunk *c)
{
    long ci, ni;
    if (need_column(st, c, "sf_account_id", &ci) || need_column(st, c, "sf_account_name", &ni))
        return REVOPS_ERROR;
    for (size_t r = 0; r < c->nrows; r++) {
        char ibuf[32], nbuf[32], what[64];
        st->bad[IN_ACCOUNTS].rows++;
        const revops_value *iv = revops_cell(c, r, (size_t)ci);
        const char *id = revops_cell_text(iv, ibuf, sizeof ibuf);
        if (!id) {
            revops_cell_describe(iv, what);
            revops_bad_rows_note(&st->bad[IN_ACCOUNTS], "sf_account_id is %s", what);
            continue;
        }
        const char *name = revops_cell_text(revops_cell(c, r, (size_t)ni), nbuf, sizeof nbuf);
        account *a = account_get(st, id);
        if (!a) return out_of_memory(st, c->dataset, id);
        if (name && !a->name && !(a->name = strdup(name)))
            return out_of_memory(st, c->dataset, id);
    }
    return REVOPS_OK;
}

/* Exact, case-sensitive matches, as the rule is written ('Closed Won',
 * 'Renewal'); a NULL stage is open. */
static int is_closed(const a1_state *st, const char *stage)
{
    if (!stage) return 0;
    for (size_t i = 0; i < st->nclosed; i++)
        if (strcmp(stage, st->closed[i]) == 0) return 1;
    return 0;
}

/* Column indexes of the opportunities input, looked up once per chunk. */
typedef struct opp_cols { long id, account, type, stage, close, change, amount; } opp_cols;

/* One opportunity row: renewal_past_due and stalled_opportunity checks.
 * Returns -1 only when out of memory. */
static int take_opportunity(a1_state *st, const revops_chunk *c, size_t r, const opp_cols *k)
{
    char abuf[32], obuf[32], tbuf[32], stbuf[32], what[64];
    const revops_value *av = revops_cell(c, r, (size_t)k->account);
    const char *acct = revops_cell_text(av, abuf, sizeof abuf);
    if (!acct) {
        revops_cell_describe(av, what);
        revops_bad_rows_note(&st->bad[IN_OPPORTUNITIES], "sf_account_id is %s", what);
        return 0;
    }
    const char *oid = revops_cell_text(revops_cell(c, r, (size_t)k->id), obuf, sizeof obuf);
    if (!oid) oid = "(opportunity without id)";
    const char *type = revops_cell_text(revops_cell(c, r, (size_t)k->type), tbuf, sizeof tbuf);
    const char *stage = revops_cell_text(revops_cell(c, r, (size_t)k->stage), stbuf, sizeof stbuf);
    const revops_value *cv = revops_cell(c, r, (size_t)k->close);
    const revops_value *sv = revops_cell(c, r, (size_t)k->change);
    int64_t close = 0, change = 0;
    double amount = 0;
    revops_cell_status cs = revops_cell_date(st->host, cv, &close), ss = revops_cell_date(st->host, sv, &change);
    int has_amount = revops_cell_number(revops_cell(c, r, (size_t)k->amount), &amount) == REVOPS_CELL_OK;
    int open = !is_closed(st, stage);
    int renewal = open && type && strcmp(type, st->renewal_type) == 0;

    /* An unreadable date is worth a warning on any row; a NULL one only
     * where the rule needs it (open renewal: close date; open: last change). */
    if (cs == REVOPS_CELL_BAD || (renewal && cs == REVOPS_CELL_NULL)) {
        revops_cell_describe(cv, what);
        revops_bad_rows_note(&st->bad[IN_OPPORTUNITIES], "opportunity %s: close_date is %s", oid, what);
    } else if (ss == REVOPS_CELL_BAD || (open && ss == REVOPS_CELL_NULL)) {
        revops_cell_describe(sv, what);
        revops_bad_rows_note(&st->bad[IN_OPPORTUNITIES], "opportunity %s: last_stage_change_date is %s", oid, what);
    }
    if (!open) return 0;

    account *a = NULL;
    if (renewal && cs == REVOPS_CELL_OK && close < st->as_of) {
        if (!(a = account_get(st, acct)) ||
            opp_signal_add(&a->renewal, oid, close, st->as_of - close, has_amount, amount) < 0)
            return -1;
    }
    if (ss == REVOPS_CELL_OK && st->as_of - change > st->stall_days) {
        if ((!a && !(a = account_get(st, acct))) ||
            opp_signal_add(&a->stalled, oid, change, st->as_of - change, has_amount, amount) < 0)
            return -1;
    }
    return 0;
}

static revops_status take_opportunities(a1_state *st, const revops_chunk *c)
{
    opp_cols k;
    if (need_column(st, c, "opportunity_id", &k.id) ||
        need_column(st, c, "sf_account_id", &k.account) ||
        need_column(st, c, "opportunity_type", &k.type) ||
        need_column(st, c, "stage_name", &k.stage) ||
        need_column(st, c, "close_date", &k.close) ||
        need_column(st, c, "last_stage_change_date", &k.change) ||
        need_column(st, c, "amount", &k.amount))
        return REVOPS_ERROR;
    for (size_t r = 0; r < c->nrows; r++) {
        st->bad[IN_OPPORTUNITIES].rows++;
        if (take_opportunity(st, c, r, &k) < 0)
            return out_of_memory(st, c->dataset, "(opportunity row)");
    }
    return REVOPS_OK;
}

/* One usage row: add the metric to its month, if the month is in the window.
 * Accounts are only created for rows inside the window. */
static revops_status take_usage(a1_state *st, const revops_chunk *c)
{
    long ai, di, mi;
    if (need_column(st, c, "sf_account_id", &ai) || need_column(st, c, "consumption_date", &di) ||
        need_column(st, c, st->metric, &mi))
        return REVOPS_ERROR;
    for (size_t r = 0; r < c->nrows; r++) {
        char abuf[32], what[64];
        st->bad[IN_USAGE].rows++;
        const revops_value *av = revops_cell(c, r, (size_t)ai);
        const revops_value *dv = revops_cell(c, r, (size_t)di);
        const revops_value *mv = revops_cell(c, r, (size_t)mi);
        const char *acct = revops_cell_text(av, abuf, sizeof abuf);
        int64_t day;
        double x;
        if (!acct) {
            revops_cell_describe(av, what);
            revops_bad_rows_note(&st->bad[IN_USAGE], "sf_account_id is %s", what);
            continue;
        }
        if (revops_cell_date(st->host, dv, &day) != REVOPS_CELL_OK) {
            revops_cell_describe(dv, what);
            revops_bad_rows_note(&st->bad[IN_USAGE], "account %s: consumption_date is %s", acct, what);
            continue;
        }
        if (revops_cell_number(mv, &x) != REVOPS_CELL_OK) {
            revops_cell_describe(mv, what);
            revops_bad_rows_note(&st->bad[IN_USAGE], "account %s: %s is %s", acct, st->metric, what);
            continue;
        }
        int64_t slot = month_of(st, day) - st->first_month;
        if (slot < 0 || slot >= st->window) continue;
        account *a = account_get(st, acct);
        if (!a) return out_of_memory(st, c->dataset, acct);
        a->usage[slot] += x;
        a->months_seen |= 1u << slot;
    }
    return REVOPS_OK;
}

static revops_status a1_process_chunk(void *state, const revops_chunk *chunk)
{
    a1_state *st = state;
    int input = find_input(chunk->dataset);
    if (input < 0) {
        st->host->error(st->self, "unexpected input '%s': A1 reads accounts, opportunities, usage",
                        chunk->dataset ? chunk->dataset : "(null)");
        return REVOPS_ERROR;
    }
    revops_status rc = input == IN_ACCOUNTS ? take_accounts(st, chunk)
                     : input == IN_OPPORTUNITIES ? take_opportunities(st, chunk)
                     : take_usage(st, chunk);
    if (rc == REVOPS_OK && chunk->last) report_bad(st, input);
    return rc;
}

/* ---------------------------------------------------------- scoring -- */

/* Everything finalize decides about one account. */
typedef struct verdict {
    const account *a;
    int decline, renewal, stalled, fired;
    double decline_frac;           /* (u(M-k) - u(M0)) / u(M-k) */
    double sev_decline, sev_renewal, sev_stalled;
    double score, confidence;
    int covered;                   /* usage rows in every window month */
    revops_priority priority;
} verdict;

static int usage_declines(const a1_state *st, const account *a, double *frac)
{
    const double *u = a->usage;
    if (!(u[0] > 0)) return 0;
    for (int i = 1; i < st->window; i++)
        if (!(u[i - 1] > u[i])) return 0;
    *frac = (u[0] - u[st->window - 1]) / u[0];
    return *frac > st->decline_pct / 100.0;
}

static verdict judge(const a1_state *st, const account *a)
{
    verdict v = { .a = a };
    v.decline = usage_declines(st, a, &v.decline_frac);
    v.renewal = a->renewal.count > 0;
    v.stalled = a->stalled.count > 0;
    v.fired = v.decline + v.renewal + v.stalled;
    if (v.decline) v.sev_decline = min1(v.decline_frac / 0.5);
    if (v.renewal) v.sev_renewal = min1((double)a->renewal.max_days / 90.0);
    if (v.stalled) v.sev_stalled = min1((double)a->stalled.max_days / 180.0);
    v.score = clamp01(st->w_decline * v.sev_decline + st->w_renewal * v.sev_renewal +
                      st->w_stalled * v.sev_stalled);
    v.priority = v.score >= st->critical - A1_SCORE_EPSILON ? REVOPS_PRIORITY_CRITICAL
               : v.score >= st->high - A1_SCORE_EPSILON ? REVOPS_PRIORITY_HIGH
               : v.score >= st->medium - A1_SCORE_EPSILON ? REVOPS_PRIORITY_MEDIUM
               : REVOPS_PRIORITY_LOW;
    uint32_t all = (st->window >= 32) ? UINT32_MAX : ((1u << st->window) - 1);
    v.covered = (a->months_seen & all) == all;
    v.confidence = 0.6 + 0.4 * (double)(v.fired - 1) / 2.0;
    if (!v.covered) v.confidence -= 0.2;
    v.confidence = clamp01(v.confidence);
    return v;
}

static int verdict_order(const void *x, const void *y)
{
    const verdict *a = x, *b = y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return strcmp(a->a->id, b->a->id);
}

/* ------------------------------------------------------------ texts -- */

static const char *who(const account *a)
{
    return a->name ? a->name : a->id;
}

static void usage_evidence(const a1_state *st, const verdict *v, revops_buf *sb)
{
    char m[32], num[48];
    revops_buf_fmt(sb, "%s by month:", st->metric);
    for (int i = 0; i < st->window; i++) {
        month_label(st->first_month + i, m);
        revops_fmt_num(v->a->usage[i], num);
        revops_buf_fmt(sb, "%s %s %s", i ? "," : "", m, num);
    }
    char first[32], last[32];
    month_label(st->first_month, first);
    month_label(st->first_month + st->window - 1, last);
    revops_buf_fmt(sb, "; down %.1f%% from %s to %s, lower every month", 100.0 * v->decline_frac,
                   first, last);
}

static void opp_evidence(const a1_state *st, const opp_signal *sig, const char *what,
                         const char *date_name, const char *days_name, revops_buf *sb)
{
    char day[11], num[48];
    revops_buf_fmt(sb, "%s:", what);
    for (size_t i = 0; i < sig->nkept; i++) {
        const opp_ref *o = &sig->kept[i];
        day_label(st, o->date, day);
        revops_buf_fmt(sb, "%s %s (%s %s, %" PRId64 " %s", i ? "," : "", o->id, date_name, day,
                       o->days, days_name);
        if (o->has_amount) {
            revops_fmt_num(o->amount, num);
            revops_buf_fmt(sb, ", amount %s", num);
        }
        revops_buf_fmt(sb, ")");
    }
    if (sig->count > sig->nkept)
        revops_buf_fmt(sb, " and %" PRIu64 " more", sig->count - (uint64_t)sig->nkept);
}

static void title_text(const a1_state *st, const verdict *v, revops_buf *sb)
{
    const char *sep = ": ";
    revops_buf_fmt(sb, "%s is at risk", who(v->a));
    if (v->decline) {
        revops_buf_fmt(sb, "%susage down %.1f%% over %d months", sep, 100.0 * v->decline_frac,
                       st->window - 1);
        sep = ", ";
    }
    if (v->renewal) {
        revops_buf_fmt(sb, "%srenewal %" PRId64 " days past due", sep, v->a->renewal.max_days);
        sep = ", ";
    }
    if (v->stalled)
        revops_buf_fmt(sb, "%sopportunity stalled %" PRId64 " days", sep, v->a->stalled.max_days);
}

static void description_text(const a1_state *st, const verdict *v, revops_buf *sb)
{
    const account *a = v->a;
    char first[32], last[32], n0[48], n1[48], day[11];
    month_label(st->first_month, first);
    month_label(st->first_month + st->window - 1, last);
    if (a->name)
        revops_buf_fmt(sb, "%s (%s) shows", a->name, a->id);
    else
        revops_buf_fmt(sb, "Account %s shows", a->id);
    revops_buf_fmt(sb, " %d of 3 at-risk signals as of %s.", v->fired, st->as_of_text);
    if (v->decline) {
        revops_fmt_num(a->usage[0], n0);
        revops_fmt_num(a->usage[st->window - 1], n1);
        revops_buf_fmt(sb, " Monthly %s fell every month from %s in %s to %s in %s, down %.1f%% "
                       "(threshold %g%%).", st->metric, n0, first, n1, last,
                       100.0 * v->decline_frac, st->decline_pct);
    }
    if (v->renewal) {
        const opp_ref *o = &a->renewal.kept[0];
        day_label(st, o->date, day);
        if (a->renewal.count == 1)
            revops_buf_fmt(sb, " Renewal %s was due to close on %s and is still open, %" PRId64
                           " days later.", o->id, day, o->days);
        else
            revops_buf_fmt(sb, " %" PRIu64 " open renewals are past their close date; the oldest, "
                           "%s, was due on %s (%" PRId64 " days ago).", a->renewal.count, o->id, day,
                           o->days);
    }
    if (v->stalled) {
        const opp_ref *o = &a->stalled.kept[0];
        day_label(st, o->date, day);
        if (a->stalled.count == 1)
            revops_buf_fmt(sb, " Opportunity %s has not changed stage since %s (%" PRId64
                           " days; the limit is %" PRId64 ").", o->id, day, o->days, st->stall_days);
        else
            revops_buf_fmt(sb, " %" PRIu64 " open opportunities have not changed stage for more "
                           "than %" PRId64 " days; the longest, %s, since %s (%" PRId64 " days).",
                           a->stalled.count, st->stall_days, o->id, day, o->days);
    }
    if (!v->covered)
        revops_buf_fmt(sb, " Usage data does not cover every month from %s to %s, so confidence "
                       "is lower.", first, last);
}

/* --------------------------------------------------------- findings -- */

enum { SIG_MAX = 3 };

/* Build and emit the finding of one account; every text has its own buffer,
 * all freed here (the host copies the finding before emit_finding returns). */
static revops_status emit_verdict(a1_state *st, const verdict *v, revops_emitter *emit)
{
    const account *a = v->a;
    revops_signal sig[SIG_MAX];
    revops_buf texts[2 * SIG_MAX + 2] = { { 0 } };
    const char *actions[SIG_MAX];
    size_t ns = 0, nt = 0;

    if (v->decline) {
        revops_buf *ev = &texts[nt++];
        usage_evidence(st, v, ev);
        sig[ns] = (revops_signal){ "usage_decline", 100.0 * v->decline_frac, st->decline_pct,
                                   st->w_decline, revops_buf_cstr(ev) };
        actions[ns++] = "Book an executive check-in with the account owner within 7 days "
                        "to understand the usage drop";
    }
    if (v->renewal) {
        revops_buf *ev = &texts[nt++], *act = &texts[nt++];
        opp_evidence(st, &a->renewal, "open renewals past their close date", "close date",
                     "days past due", ev);
        sig[ns] = (revops_signal){ "renewal_past_due", (double)a->renewal.max_days, 0.0,
                                   st->w_renewal, revops_buf_cstr(ev) };
        revops_buf_fmt(act, "Chase renewal %s with the account owner this week: get the customer's "
                       "decision and update the close date or close it out", a->renewal.kept[0].id);
        if (a->renewal.count > 1)
            revops_buf_fmt(act, " (and the %" PRIu64 " other overdue renewals)", a->renewal.count - 1);
        actions[ns++] = revops_buf_cstr(act);
    }
    if (v->stalled) {
        revops_buf *ev = &texts[nt++], *act = &texts[nt++];
        char what[96];
        snprintf(what, sizeof what, "open opportunities with no stage change for more than %"
                 PRId64 " days", st->stall_days);
        opp_evidence(st, &a->stalled, what, "last stage change", "days ago", ev);
        sig[ns] = (revops_signal){ "stalled_opportunity", (double)a->stalled.max_days,
                                   (double)st->stall_days, st->w_stalled, revops_buf_cstr(ev) };
        revops_buf_fmt(act, "Review stalled opportunity %s with its owner and agree a dated next "
                       "step, or close it if the deal is no longer real", a->stalled.kept[0].id);
        actions[ns++] = revops_buf_cstr(act);
    }
    revops_buf *title = &texts[nt++], *description = &texts[nt++];
    title_text(st, v, title);
    description_text(st, v, description);
    int failed = 0;
    for (size_t i = 0; i < nt; i++) failed |= texts[i].oom;

    revops_status rc = REVOPS_OK;
    if (failed) {
        rc = out_of_memory(st, "finding", a->id);
    } else {
        revops_finding f = {
            .analysis = "A1",
            .account_id = a->id,
            .account_name = a->name,
            .opportunity_id = NULL,   /* one finding per account: keeps the fingerprint stable */
            .category = "at_risk_account",
            .priority = v->priority,
            .score = v->score,
            .confidence = v->confidence,
            .title = revops_buf_cstr(title),
            .description = revops_buf_cstr(description),
            .nsignals = ns,
            .signals = sig,
            .nactions = ns,
            .recommended_actions = actions,
        };
        rc = st->host->emit_finding(emit, &f);
        if (rc != REVOPS_OK)
            st->host->error(st->self, "could not emit the finding for account '%s'", a->id);
    }
    for (size_t i = 0; i < nt; i++) revops_buf_free(&texts[i]);
    return rc;
}

static revops_status a1_finalize(void *state, revops_emitter *emit)
{
    a1_state *st = state;
    for (int i = 0; i < IN_COUNT; i++) report_bad(st, i);

    const revops_map *m = &st->accounts;
    verdict *vs = m->count ? malloc(m->count * sizeof *vs) : NULL;
    if (m->count && !vs) return out_of_memory(st, "finding", "(all)");
    size_t n = 0;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->vals[i]) continue;
        verdict v = judge(st, m->vals[i]);
        if (v.fired) vs[n++] = v;
    }
    if (n) qsort(vs, n, sizeof *vs, verdict_order);
    revops_status rc = REVOPS_OK;
    for (size_t i = 0; i < n && rc == REVOPS_OK; i++) rc = emit_verdict(st, &vs[i], emit);
    st->host->log(st->self, REVOPS_LOG_INFO,
                  "A1 as of %s: %zu accounts seen, %zu at risk", st->as_of_text, m->count, n);
    free(vs);
    return rc;
}

/* -------------------------------------------------------- lifecycle -- */

static void a1_destroy(void *state)
{
    a1_state *st = state;
    if (!st) return;
    revops_map_free(&st->accounts, account_free);
    for (size_t i = 0; i < st->nclosed; i++) free(st->closed[i]);
    free(st->closed);
    free(st->renewal_type);
    free(st->metric);
    free(st);
}

/* as_of from the option, else today (UTC) from the host clock, which honours
 * REVOPS_NOW so runs can be reproduced. */
static int set_as_of(a1_state *st, const revops_options *opts)
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

static int copy_options(a1_state *st, const revops_options *opts)
{
    const revops_host *h = st->host;
    int64_t months = h->opt_int(opts, "decline_months");
    if (months < 1 || months > A1_MAX_WINDOW - 1) {
        h->error(st->self, "option decline_months: %" PRId64 " is outside 1..%d", months,
                 A1_MAX_WINDOW - 1);
        return -1;
    }
    st->window = (int)months + 1;
    st->decline_pct = h->opt_real(opts, "decline_pct");
    st->stall_days = h->opt_int(opts, "stall_days");
    st->w_decline = h->opt_real(opts, "weight_decline");
    st->w_renewal = h->opt_real(opts, "weight_renewal");
    st->w_stalled = h->opt_real(opts, "weight_stalled");
    st->critical = h->opt_real(opts, "critical_score");
    st->high = h->opt_real(opts, "high_score");
    st->medium = h->opt_real(opts, "medium_score");
    if (!(st->critical >= st->high && st->high >= st->medium)) {
        h->error(st->self, "options critical_score (%g) >= high_score (%g) >= medium_score (%g) "
                 "must hold", st->critical, st->high, st->medium);
        return -1;
    }
    const char *rt = h->opt_string(opts, "renewal_type");
    const char *metric = h->opt_string(opts, "usage_metric");
    st->renewal_type = strdup(rt ? rt : "Renewal");
    st->metric = strdup(metric && *metric ? metric : "engine_hours");
    st->nclosed = h->opt_list_len(opts, "closed_stages");
    st->closed = calloc(st->nclosed ? st->nclosed : 1, sizeof *st->closed);
    if (!st->renewal_type || !st->metric || !st->closed) goto oom;
    for (size_t i = 0; i < st->nclosed; i++) {
        const char *item = h->opt_list_item(opts, "closed_stages", i);
        if (!(st->closed[i] = strdup(item ? item : ""))) goto oom;
    }
    return 0;
oom:
    h->error(st->self, "out of memory reading the options");
    return -1;
}

static revops_status a1_init(revops_instance *self, const revops_host *host,
                             const revops_options *opts, const revops_run_info *run,
                             void **state)
{
    (void)run;
    a1_state *st = calloc(1, sizeof *st);
    if (!st) {
        host->error(self, "out of memory");
        return REVOPS_ERROR;
    }
    st->self = self;
    st->host = host;
    if (copy_options(st, opts) < 0 || set_as_of(st, opts) < 0) {
        a1_destroy(st);
        return REVOPS_ERROR;
    }
    /* M0 is the last complete month before as_of: the month before as_of's. */
    st->first_month = month_of(st, st->as_of) - 1 - (st->window - 1);
    *state = st;
    return REVOPS_OK;
}

/* -------------------------------------------------------- descriptor -- */

static const revops_input_def inputs[] = {
    { "accounts", 0, "sf_account_id,sf_account_name",
      "account names for titles (optional)" },
    { "opportunities", 1,
      "opportunity_id,sf_account_id,opportunity_type,stage_name,close_date,"
      "last_stage_change_date,amount",
      "opportunities, open and closed; dates as YYYY-MM-DD" },
    { "usage", 1, "sf_account_id,consumption_date,engine_hours",
      "daily usage rows; option usage_metric names the summed column (default engine_hours)" },
    { NULL, 0, NULL, NULL }
};

static const revops_analysis_vtable vtable = {
    .analysis_type = "A1",
    .inputs = inputs,
    .init = a1_init,
    .process_chunk = a1_process_chunk,
    .finalize = a1_finalize,
    .destroy = a1_destroy,
};

static const revops_option_def options[] = {
    { "as_of", REVOPS_OPT_DATE, 0, NULL, 0, 0, NULL, 0,
      "reference date YYYY-MM-DD (default: today, UTC)" },
    { "decline_pct", REVOPS_OPT_REAL, 0, "20", 0, 100, NULL, 0,
      "usage_decline fires when usage fell by more than this percentage" },
    { "decline_months", REVOPS_OPT_INT, 0, "3", 1, 12, NULL, 0,
      "months of consecutive usage decline required (compares decline_months+1 months)" },
    { "stall_days", REVOPS_OPT_INT, 0, "60", 1, 3650, NULL, 0,
      "an open opportunity without a stage change for more days than this is stalled" },
    { "renewal_type", REVOPS_OPT_STRING, 0, "Renewal", 0, 0, NULL, 0,
      "opportunity_type of renewal opportunities (exact match)" },
    { "closed_stages", REVOPS_OPT_LIST, 0, "Closed Won,Closed Lost", 0, 0, NULL, 0,
      "stage names of closed opportunities (exact match)" },
    { "weight_decline", REVOPS_OPT_REAL, 0, "0.5", 0, 1, NULL, 0,
      "weight of usage_decline in the score" },
    { "weight_renewal", REVOPS_OPT_REAL, 0, "0.3", 0, 1, NULL, 0,
      "weight of renewal_past_due in the score" },
    { "weight_stalled", REVOPS_OPT_REAL, 0, "0.2", 0, 1, NULL, 0,
      "weight of stalled_opportunity in the score" },
    { "critical_score", REVOPS_OPT_REAL, 0, "0.7", 0, 1, NULL, 0,
      "score from which a finding is critical" },
    { "high_score", REVOPS_OPT_REAL, 0, "0.45", 0, 1, NULL, 0,
      "score from which a finding is high" },
    { "medium_score", REVOPS_OPT_REAL, 0, "0.2", 0, 1, NULL, 0,
      "score from which a finding is medium (below: low)" },
    { "usage_metric", REVOPS_OPT_STRING, 0, "engine_hours", 0, 0, NULL, 0,
      "usage column summed per month; the query must return it" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_ANALYSIS, "at_risk_accounts", "1.0.0",
    "A1: accounts with declining usage, past-due renewals or stalled opportunities",
    options, { .analysis = &vtable }
};
