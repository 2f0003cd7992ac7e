/*
 * analysis "upsell_opportunities" (A3): accounts that consistently use more
 * than they bought (monthly usage against the committed engine hours of their
 * active agreements) or whose usage grows steadily month after month, and that
 * have no open Upsell/Expansion opportunity yet.
 *
 * This implements exactly the rule in docs/analyses/A3.md.  It is streaming:
 * rows arrive in chunks, in any order, and an account's rows may be split over
 * chunks, so everything kept is per account (monthly usage sums of a window of
 * at most A3_MAX_WINDOW months, the sum of its active commitments with a few
 * agreement ids, and the first open upsell by id), never per row.
 */
#include <revops/revops.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A3_MAX_WINDOW 12        /* months / growth_months are at most this */
#define A3_KEEP_AGREEMENTS 3    /* agreement ids kept per account, for evidence */
#define A3_SCORE_EPSILON 1e-9   /* 0.3 + 0.15 must count as >= 0.45 */

enum { IN_ACCOUNTS, IN_AGREEMENTS, IN_OPPORTUNITIES, IN_USAGE, IN_COUNT };
static const char *const input_names[IN_COUNT] = { "accounts", "agreements", "opportunities",
                                                   "usage" };

/* ------------------------------------------------------------ state -- */

typedef struct agreement_ref {
    char *id;
    double commit;
    int64_t start, end;
} agreement_ref;

typedef struct account {
    const char *id;                /* the accounts map's key */
    char *name;
    double usage[A3_MAX_WINDOW];   /* [0] = first window month ... [window-1] = M0 */
    uint32_t months_seen;          /* bit per window month that had a usage row */
    /* agreements active on as_of - 1 */
    double commit;                 /* sum of their committed_engine_hours_monthly */
    uint64_t nagreements;
    size_t nkept;
    agreement_ref kept[A3_KEEP_AGREEMENTS];   /* smallest ids first */
    /* open Upsell/Expansion opportunities: how many, and the smallest id */
    uint64_t nupsells;
    char *upsell_id, *upsell_type, *upsell_stage;
} account;

typedef struct a3_state {
    revops_instance *self;
    const revops_host *host;

    int64_t as_of;               /* days since the epoch */
    char as_of_text[11];
    int64_t first_month;         /* month number (year*12 + month-1) of the window's first */
    int window;                  /* max(months, growth_months) */
    int months, growth_months;
    double util_pct, util_full_pct, growth_pct, growth_full_pct;
    double w_util, w_growth;
    double critical, high, medium;
    char **upsell_types, **closed;
    size_t nupsell_types, nclosed;

    revops_map accounts;         /* account id -> account */
    revops_bad_rows bad[IN_COUNT];
} a3_state;

/* ------------------------------------------------------ small numbers -- */

static double clamp01(double x)
{
    return x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x;
}

/* Rounded up to two significant digits (53104 -> 54000, 1473 -> 1500). */
static double round_up_2sig(double x)
{
    if (!(x > 0)) return 0;
    double step = 1;
    while (x / step >= 100.0) step *= 10.0;
    double n = (double)(int64_t)(x / step);
    if (n * step < x) n += 1;
    return n * step;
}

/* ------------------------------------------------------------- dates -- */

/* Calendar months are counted as year*12 + (month-1); the host's
 * date_format gives the civil date, so no calendar code lives here. */
static int64_t month_of(const a3_state *st, int64_t days)
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

/* -------------------------------------------------------------- cells -- */

/* A flag as sources hand it: BOOL, an integer (non-zero is true) or text
 * ("1"/"0", "true"/"false", "t"/"f", "yes"/"no", any case). */
static revops_cell_status cell_flag(const revops_value *v, int *out)
{
    switch (v->type) {
    case REVOPS_TYPE_NULL: return REVOPS_CELL_NULL;
    case REVOPS_TYPE_BOOL: *out = v->v.b != 0; return REVOPS_CELL_OK;
    case REVOPS_TYPE_INT: *out = v->v.i != 0; return REVOPS_CELL_OK;
    case REVOPS_TYPE_REAL: *out = v->v.r != 0; return REVOPS_CELL_OK;
    case REVOPS_TYPE_TEXT: {
        static const char *const yes[] = { "1", "true", "t", "yes", "y" };
        static const char *const no[] = { "0", "false", "f", "no", "n" };
        char low[8];
        size_t n = v->v.text.len;
        if (n == 0 || n >= sizeof low) return REVOPS_CELL_BAD;
        for (size_t i = 0; i <= n; i++) {
            char c = v->v.text.s[i];
            low[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
            if (strcmp(low, yes[i]) == 0) { *out = 1; return REVOPS_CELL_OK; }
            if (strcmp(low, no[i]) == 0) { *out = 0; return REVOPS_CELL_OK; }
        }
        return REVOPS_CELL_BAD;
    }
    default: return REVOPS_CELL_BAD;
    }
}

/* ------------------------------------------------------- bad rows -- */

/* Once per dataset, at its last chunk (or at finalize if that never came).
 * Not revops_bad_rows_report: A3's warning says "rows not used". */
static void report_bad(a3_state *st, int input)
{
    revops_bad_rows *b = &st->bad[input];
    if (!b->bad || b->reported) return;
    b->reported = 1;
    st->host->log(st->self, REVOPS_LOG_WARN,
                  "dataset '%s': %" PRIu64 " of %" PRIu64 " rows not used (missing account, "
                  "or missing or unreadable date, flag or number); first at row %" PRIu64 ": %s",
                  input_names[input], b->bad, b->rows, b->first_row, b->first);
}

/* ------------------------------------------------------- accounts -- */

/* The account `id`, created on first sight; NULL only when out of memory. */
static account *account_get(a3_state *st, const char *id)
{
    void **slot = revops_map_slot(&st->accounts, id);
    if (!slot) return NULL;
    if (!*slot) {
        account *a = calloc(1, sizeof *a);
        if (!a) return NULL;
        a->id = st->accounts.keys[slot - st->accounts.vals];
        *slot = a;
    }
    return *slot;
}

static void account_free(account *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->nkept; i++) free(a->kept[i].id);
    free(a->upsell_id);
    free(a->upsell_type);
    free(a->upsell_stage);
    free(a->name);
    free(a);
}

static void account_free_value(void *a)
{
    account_free(a);
}

/* Add one active agreement; keep it if its id is among the smallest few, so
 * the evidence does not depend on row order.  -1 only when out of memory. */
static int agreement_add(account *a, const char *id, double commit, int64_t start, int64_t end)
{
    a->commit += commit;
    a->nagreements++;
    size_t pos = a->nkept;
    while (pos > 0 && strcmp(a->kept[pos - 1].id, id) > 0) pos--;
    if (pos >= A3_KEEP_AGREEMENTS) return 0;
    char *copy = strdup(id);
    if (!copy) return -1;
    if (a->nkept == A3_KEEP_AGREEMENTS) free(a->kept[--a->nkept].id);
    memmove(&a->kept[pos + 1], &a->kept[pos], (a->nkept - pos) * sizeof a->kept[0]);
    a->kept[pos] = (agreement_ref){ copy, commit, start, end };
    a->nkept++;
    return 0;
}

/* Count one open upsell; remember the one with the smallest id. */
static int upsell_add(account *a, const char *id, const char *type, const char *stage)
{
    a->nupsells++;
    if (a->upsell_id && strcmp(a->upsell_id, id) <= 0) return 0;
    char *i = strdup(id), *t = strdup(type), *s = strdup(stage ? stage : "(no stage)");
    if (!i || !t || !s) {
        free(i);
        free(t);
        free(s);
        return -1;
    }
    free(a->upsell_id);
    free(a->upsell_type);
    free(a->upsell_stage);
    a->upsell_id = i;
    a->upsell_type = t;
    a->upsell_stage = s;
    return 0;
}

/* ------------------------------------------------------------ inputs -- */

static int find_input(const char *dataset)
{
    for (int i = 0; i < IN_COUNT; i++)
        if (dataset && strcmp(dataset, input_names[i]) == 0) return i;
    return -1;
}

static int need_column(a3_state *st, const revops_chunk *c, const char *name, long *idx)
{
    *idx = revops_column_index(c, name);
    if (*idx >= 0) return 0;
    st->host->error(st->self, "input '%s' (source '%s') has no column '%s'",
                    c->dataset, c->source ? c->source : "?", name);
    return -1;
}

static revops_status out_of_memory(a3_state *st, const char *dataset, const char *id)
{
    st->host->error(st->self, "out of memory keeping input '%s' account '%s'", dataset, id);
    return REVOPS_ERROR;
}

static revops_status take_accounts(a3_state *st, const revops_chunk *c)
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
        /* the smallest name wins if an id comes twice: order-independent */
        if (name && (!a->name || strcmp(name, a->name) < 0)) {
            char *copy = strdup(name);
            if (!copy) return out_of_memory(st, c->dataset, id);
            free(a->name);
            a->name = copy;
        }
    }
    return REVOPS_OK;
}

/* One agreement row: counted when is_active and start_date <= as_of - 1 <=
 * end_date.  Returns -1 only when out of memory. */
static int take_agreement(a3_state *st, const revops_chunk *c, size_t r, const long *k)
{
    char abuf[32], gbuf[32], what[64];
    const revops_value *av = revops_cell(c, r, (size_t)k[1]);
    const char *acct = revops_cell_text(av, abuf, sizeof abuf);
    if (!acct) {
        revops_cell_describe(av, what);
        revops_bad_rows_note(&st->bad[IN_AGREEMENTS], "sf_account_id is %s", what);
        return 0;
    }
    const char *gid = revops_cell_text(revops_cell(c, r, (size_t)k[0]), gbuf, sizeof gbuf);
    if (!gid) gid = "(agreement without id)";
    const revops_value *fv = revops_cell(c, r, (size_t)k[3]);
    const revops_value *sv = revops_cell(c, r, (size_t)k[4]);
    const revops_value *ev = revops_cell(c, r, (size_t)k[5]);
    const revops_value *cv = revops_cell(c, r, (size_t)k[2]);
    int active;
    int64_t start = 0, end = 0;
    double commit = 0;
    if (cell_flag(fv, &active) != REVOPS_CELL_OK) {
        revops_cell_describe(fv, what);
        revops_bad_rows_note(&st->bad[IN_AGREEMENTS], "agreement %s: is_active is %s", gid, what);
        return 0;
    }
    revops_cell_status ss = revops_cell_date(st->host, sv, &start), es = revops_cell_date(st->host, ev, &end);
    /* an unreadable date is worth a warning on any row, a NULL one only on
     * an active agreement (whose period decides whether it counts) */
    if (ss == REVOPS_CELL_BAD || (active && ss == REVOPS_CELL_NULL)) {
        revops_cell_describe(sv, what);
        revops_bad_rows_note(&st->bad[IN_AGREEMENTS], "agreement %s: start_date is %s", gid, what);
        return 0;
    }
    if (es == REVOPS_CELL_BAD || (active && es == REVOPS_CELL_NULL)) {
        revops_cell_describe(ev, what);
        revops_bad_rows_note(&st->bad[IN_AGREEMENTS], "agreement %s: end_date is %s", gid, what);
        return 0;
    }
    int64_t day = st->as_of - 1;
    if (!active || start > day || end < day) return 0;
    if (revops_cell_number(cv, &commit) != REVOPS_CELL_OK || commit < 0) {
        revops_cell_describe(cv, what);
        revops_bad_rows_note(&st->bad[IN_AGREEMENTS], "agreement %s: committed_engine_hours_monthly is %s", gid,
                 what);
        return 0;
    }
    account *a = account_get(st, acct);
    if (!a || agreement_add(a, gid, commit, start, end) < 0) return -1;
    return 0;
}

static revops_status take_agreements(a3_state *st, const revops_chunk *c)
{
    long k[6];
    if (need_column(st, c, "agreement_id", &k[0]) ||
        need_column(st, c, "sf_account_id", &k[1]) ||
        need_column(st, c, "committed_engine_hours_monthly", &k[2]) ||
        need_column(st, c, "is_active", &k[3]) ||
        need_column(st, c, "start_date", &k[4]) ||
        need_column(st, c, "end_date", &k[5]))
        return REVOPS_ERROR;
    for (size_t r = 0; r < c->nrows; r++) {
        st->bad[IN_AGREEMENTS].rows++;
        if (take_agreement(st, c, r, k) < 0)
            return out_of_memory(st, c->dataset, "(agreement row)");
    }
    return REVOPS_OK;
}

/* Exact, case-sensitive matches, as the options list them. */
static int in_list(char *const *list, size_t n, const char *s)
{
    if (!s) return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0) return 1;
    return 0;
}

static revops_status take_opportunities(a3_state *st, const revops_chunk *c)
{
    long ki, ka, kt, ks;
    if (need_column(st, c, "opportunity_id", &ki) ||
        need_column(st, c, "sf_account_id", &ka) ||
        need_column(st, c, "opportunity_type", &kt) ||
        need_column(st, c, "stage_name", &ks))
        return REVOPS_ERROR;
    for (size_t r = 0; r < c->nrows; r++) {
        char abuf[32], obuf[32], tbuf[32], sbuf_[32], what[64];
        st->bad[IN_OPPORTUNITIES].rows++;
        const revops_value *av = revops_cell(c, r, (size_t)ka);
        const char *acct = revops_cell_text(av, abuf, sizeof abuf);
        if (!acct) {
            revops_cell_describe(av, what);
            revops_bad_rows_note(&st->bad[IN_OPPORTUNITIES], "sf_account_id is %s", what);
            continue;
        }
        const char *type = revops_cell_text(revops_cell(c, r, (size_t)kt), tbuf, sizeof tbuf);
        const char *stage = revops_cell_text(revops_cell(c, r, (size_t)ks), sbuf_, sizeof sbuf_);
        /* a NULL stage is open; a NULL type is not an upsell */
        if (in_list(st->closed, st->nclosed, stage) ||
            !in_list(st->upsell_types, st->nupsell_types, type))
            continue;
        const char *oid = revops_cell_text(revops_cell(c, r, (size_t)ki), obuf, sizeof obuf);
        if (!oid) oid = "(opportunity without id)";
        account *a = account_get(st, acct);
        if (!a || upsell_add(a, oid, type, stage) < 0)
            return out_of_memory(st, c->dataset, acct);
    }
    return REVOPS_OK;
}

/* One usage row: add engine_hours to its month, if the month is in the
 * window.  Accounts are only created for rows inside the window. */
static revops_status take_usage(a3_state *st, const revops_chunk *c)
{
    long ai, di, mi;
    if (need_column(st, c, "sf_account_id", &ai) || need_column(st, c, "consumption_date", &di) ||
        need_column(st, c, "engine_hours", &mi))
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
        if (revops_cell_number(mv, &x) != REVOPS_CELL_OK || x < 0) {
            revops_cell_describe(mv, what);
            revops_bad_rows_note(&st->bad[IN_USAGE], "account %s: engine_hours is %s", acct, what);
            continue;
        }
        if (day >= st->as_of) continue;
        int64_t slot = month_of(st, day) - st->first_month;
        if (slot < 0 || slot >= st->window) continue;
        account *a = account_get(st, acct);
        if (!a) return out_of_memory(st, c->dataset, acct);
        a->usage[slot] += x;
        a->months_seen |= 1u << slot;
    }
    return REVOPS_OK;
}

static revops_status a3_process_chunk(void *state, const revops_chunk *chunk)
{
    a3_state *st = state;
    int input = find_input(chunk->dataset);
    if (input < 0) {
        st->host->error(st->self, "unexpected input '%s': A3 reads accounts, agreements, "
                        "opportunities, usage", chunk->dataset ? chunk->dataset : "(null)");
        return REVOPS_ERROR;
    }
    revops_status rc = input == IN_ACCOUNTS ? take_accounts(st, chunk)
                     : input == IN_AGREEMENTS ? take_agreements(st, chunk)
                     : input == IN_OPPORTUNITIES ? take_opportunities(st, chunk)
                     : take_usage(st, chunk);
    if (rc == REVOPS_OK && chunk->last) report_bad(st, input);
    return rc;
}

/* ---------------------------------------------------------- scoring -- */

/* Everything finalize decides about one account. */
typedef struct verdict {
    const account *a;
    int util, growth, fired;
    double util_avg;               /* average monthly utilisation, percent */
    int util_every_month;          /* every month of the window above the threshold */
    double growth_frac;            /* (u(last) - u(first)) / u(first) */
    double score, confidence;
    int covered;                   /* usage rows in every month a fired signal reads */
    revops_priority priority;
} verdict;

static int slot_util0(const a3_state *st) { return st->window - st->months; }
static int slot_growth0(const a3_state *st) { return st->window - st->growth_months; }

static void utilisation(const a3_state *st, const account *a, verdict *v)
{
    if (!(a->commit > 0)) return;
    double sum = 0;
    v->util_every_month = 1;
    for (int i = slot_util0(st); i < st->window; i++) {
        double pct = 100.0 * a->usage[i] / a->commit;
        sum += pct;
        if (!(pct > st->util_pct)) v->util_every_month = 0;
    }
    v->util_avg = sum / st->months;
    v->util = v->util_avg > st->util_pct;
}

static void growth(const a3_state *st, const account *a, verdict *v)
{
    const double *u = a->usage + slot_growth0(st);
    if (!(u[0] > 0)) return;
    for (int i = 1; i < st->growth_months; i++)
        if (!(u[i] > u[i - 1])) return;
    v->growth_frac = (u[st->growth_months - 1] - u[0]) / u[0];
    v->growth = 100.0 * v->growth_frac >= st->growth_pct;
}

static uint32_t bits(int from, int to)
{
    uint32_t m = 0;
    for (int i = from; i < to; i++) m |= 1u << i;
    return m;
}

static verdict judge(const a3_state *st, const account *a)
{
    verdict v = { .a = a };
    utilisation(st, a, &v);
    growth(st, a, &v);
    v.fired = v.util + v.growth;
    double sev_u = 0, sev_g = 0;
    if (v.util)
        sev_u = 0.5 + 0.5 * clamp01((v.util_avg - st->util_pct) /
                                    (st->util_full_pct - st->util_pct));
    if (v.growth)
        sev_g = 0.5 + 0.5 * clamp01((100.0 * v.growth_frac - st->growth_pct) /
                                    (st->growth_full_pct - st->growth_pct));
    /* rounded to the 4 decimals findings show, so equal-looking scores are
     * equal and their order falls to the account id */
    v.score = clamp01(st->w_util * sev_u + st->w_growth * sev_g);
    v.score = (double)(int64_t)(v.score * 10000.0 + 0.5) / 10000.0;
    v.priority = v.score >= st->critical - A3_SCORE_EPSILON ? REVOPS_PRIORITY_CRITICAL
               : v.score >= st->high - A3_SCORE_EPSILON ? REVOPS_PRIORITY_HIGH
               : v.score >= st->medium - A3_SCORE_EPSILON ? REVOPS_PRIORITY_MEDIUM
               : REVOPS_PRIORITY_LOW;
    uint32_t need = 0;
    if (v.util) need |= bits(slot_util0(st), st->window);
    if (v.growth) need |= bits(slot_growth0(st), st->window);
    v.covered = (a->months_seen & need) == need;
    v.confidence = 0.7;
    if (v.fired == 2) v.confidence += 0.2;
    if (v.util && v.util_every_month) v.confidence += 0.1;
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

static void agreements_text(const account *a, revops_buf *sb)
{
    char num[48];
    revops_buf_fmt(sb, "agreement%s", a->nagreements > 1 ? "s" : "");
    for (size_t i = 0; i < a->nkept; i++) {
        revops_fmt_num(a->kept[i].commit, num);
        revops_buf_fmt(sb, "%s %s (%s/month)", i ? "," : "", a->kept[i].id, num);
    }
    if (a->nagreements > a->nkept)
        revops_buf_fmt(sb, " and %" PRIu64 " more", a->nagreements - (uint64_t)a->nkept);
}

static void util_evidence(const a3_state *st, const verdict *v, revops_buf *sb)
{
    const account *a = v->a;
    char m[32], num[48], c[48];
    revops_fmt_num(a->commit, c);
    revops_buf_fmt(sb, "engine_hours against the committed %s per month (", c);
    agreements_text(a, sb);
    char day[11];
    st->host->date_format(st->as_of - 1, day);
    revops_buf_fmt(sb, ", active on %s):", day);
    for (int i = slot_util0(st); i < st->window; i++) {
        month_label(st->first_month + i, m);
        revops_fmt_num(a->usage[i], num);
        revops_buf_fmt(sb, "%s %s %s (%.1f%%)", i > slot_util0(st) ? "," : "", m, num,
                  100.0 * a->usage[i] / a->commit);
    }
    revops_buf_fmt(sb, "; average %.1f%% > %g%%", v->util_avg, st->util_pct);
    if (v->util_every_month) revops_buf_fmt(sb, ", above it every month");
}

static void growth_evidence(const a3_state *st, const verdict *v, revops_buf *sb)
{
    const double *u = v->a->usage;
    int s0 = slot_growth0(st);
    char m[32], num[48], first[32], last[32];
    revops_buf_fmt(sb, "engine_hours by month:");
    for (int i = s0; i < st->window; i++) {
        month_label(st->first_month + i, m);
        revops_fmt_num(u[i], num);
        revops_buf_fmt(sb, "%s %s %s", i > s0 ? "," : "", m, num);
        if (i > s0) revops_buf_fmt(sb, " (+%.1f%%)", 100.0 * (u[i] - u[i - 1]) / u[i - 1]);
    }
    month_label(st->first_month + s0, first);
    month_label(st->first_month + st->window - 1, last);
    revops_buf_fmt(sb, "; up %.1f%% from %s to %s (threshold %g%%), higher every month",
              100.0 * v->growth_frac, first, last, st->growth_pct);
}

static void title_text(const a3_state *st, const verdict *v, revops_buf *sb)
{
    const char *sep = ": ";
    revops_buf_fmt(sb, "%s is an upsell opportunity", who(v->a));
    if (v->util) {
        revops_buf_fmt(sb, "%susing %.1f%% of its commitment", sep, v->util_avg);
        sep = ", ";
    }
    if (v->growth)
        revops_buf_fmt(sb, "%susage up %.1f%% over %d months", sep, 100.0 * v->growth_frac,
                  st->growth_months);
}

static void description_text(const a3_state *st, const verdict *v, revops_buf *sb)
{
    const account *a = v->a;
    char first[32], last[32], n0[48], n1[48];
    if (a->name)
        revops_buf_fmt(sb, "%s (%s)", a->name, a->id);
    else
        revops_buf_fmt(sb, "Account %s", a->id);
    revops_buf_fmt(sb, " as of %s:", st->as_of_text);
    if (v->util) {
        month_label(st->first_month + slot_util0(st), first);
        month_label(st->first_month + st->window - 1, last);
        revops_fmt_num(a->commit, n0);
        revops_buf_fmt(sb, " used on average %.1f%% of its committed %s engine hours per month from %s "
                  "to %s (threshold %g%%).", v->util_avg, n0, first, last, st->util_pct);
    }
    if (v->growth) {
        month_label(st->first_month + slot_growth0(st), first);
        month_label(st->first_month + st->window - 1, last);
        revops_fmt_num(a->usage[slot_growth0(st)], n0);
        revops_fmt_num(a->usage[st->window - 1], n1);
        revops_buf_fmt(sb, " Monthly engine hours rose every month from %s in %s to %s in %s, up %.1f%% "
                  "(threshold %g%%).", n0, first, n1, last, 100.0 * v->growth_frac, st->growth_pct);
        if (!v->util && !(a->commit > 0))
            revops_buf_fmt(sb, " It has no active commitment.");
    }
    revops_buf_fmt(sb, " There is no open ");
    for (size_t i = 0; i < st->nupsell_types; i++)
        revops_buf_fmt(sb, "%s%s", i == 0 ? "" : i + 1 == st->nupsell_types ? " or " : ", ",
                  st->upsell_types[i]);
    revops_buf_fmt(sb, " opportunity.");
    if (!v->covered)
        revops_buf_fmt(sb, " Usage data does not cover every month read, so confidence is lower.");
}

/* Average monthly growth rate over the window, as a fraction. */
static double monthly_rate(const a3_state *st, const verdict *v)
{
    /* (1 + g)^(1/(n-1)) - 1 by bisection: no libm needed */
    double total = 1.0 + v->growth_frac, lo = 0.0, hi = v->growth_frac;
    int steps = st->growth_months - 1;
    for (int it = 0; it < 60; it++) {
        double mid = (lo + hi) / 2, p = 1.0;
        for (int k = 0; k < steps; k++) p *= 1.0 + mid;
        if (p < total) lo = mid; else hi = mid;
    }
    return lo;
}

static void util_action(const a3_state *st, const verdict *v, revops_buf *sb)
{
    const account *a = v->a;
    char target[48], avg[48], c[48];
    double mean = v->util_avg / 100.0 * a->commit;
    revops_fmt_num(round_up_2sig(mean / (st->util_pct / 100.0)), target);
    revops_fmt_num(mean, avg);
    revops_fmt_num(a->commit, c);
    revops_buf_fmt(sb, "Open an Expansion opportunity for %s sized to a commitment of about %s engine "
              "hours per month (the last %d months averaged %s against the current %s; the new "
              "commitment keeps that average at or below %g%%) and agree the timing with the "
              "account owner", who(a), target, st->months, avg, c, st->util_pct);
}

static void growth_action(const a3_state *st, const verdict *v, revops_buf *sb)
{
    const account *a = v->a;
    double rate = monthly_rate(st, v), last = a->usage[st->window - 1];
    char c[48];
    if (!(a->commit > 0)) {
        revops_buf_fmt(sb, "Propose a committed agreement to %s: usage grows about %.1f%% a month "
                  "and there is no active commitment", who(a), 100.0 * rate);
        return;
    }
    revops_fmt_num(a->commit, c);
    if (last >= a->commit) {
        revops_buf_fmt(sb, "Review capacity with %s's owner now: usage grows about %.1f%% a month and "
                  "already exceeds the commitment of %s engine hours per month", who(a),
                  100.0 * rate, c);
        return;
    }
    int months = 0;
    double x = last;
    while (x < a->commit && months < 36 && rate > 0) {
        x *= 1.0 + rate;
        months++;
    }
    if (x >= a->commit)
        revops_buf_fmt(sb, "Review capacity with %s's owner: at about %.1f%% growth a month, usage "
                  "reaches the commitment of %s engine hours per month in about %d month%s",
                  who(a), 100.0 * rate, c, months, months == 1 ? "" : "s");
    else
        revops_buf_fmt(sb, "Review the growth (about %.1f%% a month) with %s's owner and plan the "
                  "next expansion before the commitment of %s engine hours per month is reached",
                  100.0 * rate, who(a), c);
}

/* --------------------------------------------------------- findings -- */

enum { SIG_MAX = 2 };

/* Build and emit the finding of one account; all strings are freed here
 * (the host copies the finding before emit_finding returns). */
static revops_status emit_verdict(a3_state *st, const verdict *v, revops_emitter *emit)
{
    const account *a = v->a;
    revops_signal sig[SIG_MAX];
    const char *actions[SIG_MAX];
    revops_buf texts[2 * SIG_MAX + 2] = { 0 };   /* evidence and action per signal, title,
                                                     description */
    size_t ns = 0, nt = 0, na = 0;
    int failed = 0;

    if (v->util) {
        util_evidence(st, v, &texts[nt]);
        sig[ns++] = (revops_signal){ "high_utilization", v->util_avg, st->util_pct, st->w_util,
                                     revops_buf_cstr(&texts[nt++]) };
        util_action(st, v, &texts[nt]);
        actions[na++] = revops_buf_cstr(&texts[nt++]);
    }
    if (v->growth) {
        growth_evidence(st, v, &texts[nt]);
        sig[ns++] = (revops_signal){ "steady_growth", 100.0 * v->growth_frac, st->growth_pct,
                                     st->w_growth, revops_buf_cstr(&texts[nt++]) };
        growth_action(st, v, &texts[nt]);
        actions[na++] = revops_buf_cstr(&texts[nt++]);
    }
    revops_buf *title = &texts[nt++], *description = &texts[nt++];
    title_text(st, v, title);
    description_text(st, v, description);
    for (size_t i = 0; i < nt; i++) failed |= texts[i].oom;

    revops_status rc = REVOPS_OK;
    if (failed) {
        rc = out_of_memory(st, "finding", a->id);
    } else {
        revops_finding f = {
            .analysis = "A3",
            .account_id = a->id,
            .account_name = a->name,
            .opportunity_id = NULL,   /* one finding per account: keeps the fingerprint stable */
            .category = "upsell_opportunity",
            .priority = v->priority,
            .score = v->score,
            .confidence = v->confidence,
            .title = revops_buf_cstr(title),
            .description = revops_buf_cstr(description),
            .nsignals = ns,
            .signals = sig,
            .nactions = na,
            .recommended_actions = actions,
        };
        rc = st->host->emit_finding(emit, &f);
        if (rc != REVOPS_OK)
            st->host->error(st->self, "could not emit the finding for account '%s'", a->id);
    }
    for (size_t i = 0; i < nt; i++) revops_buf_free(&texts[i]);
    return rc;
}

/* Why a dataset that came back empty matters, once, at finalize. */
static void report_empty(a3_state *st)
{
    static const char *const why[IN_COUNT] = {
        NULL,   /* accounts are optional: names only */
        "no active commitment is known, so only steady_growth can fire",
        "no open opportunity is known, so no finding is suppressed by an open upsell",
        "no usage is known, so neither signal can fire and there are no findings",
    };
    for (int i = 0; i < IN_COUNT; i++)
        if (why[i] && st->bad[i].rows == 0)
            st->host->log(st->self, REVOPS_LOG_WARN, "input '%s' returned no rows (as of %s): %s",
                          input_names[i], st->as_of_text, why[i]);
}

static revops_status a3_finalize(void *state, revops_emitter *emit)
{
    a3_state *st = state;
    for (int i = 0; i < IN_COUNT; i++) report_bad(st, i);
    report_empty(st);

    const revops_map *m = &st->accounts;
    verdict *vs = m->count ? malloc(m->count * sizeof *vs) : NULL;
    if (m->count && !vs) return out_of_memory(st, "finding", "(all)");
    size_t n = 0, suppressed = 0, with_signal = 0;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->vals[i]) continue;
        verdict v = judge(st, m->vals[i]);
        if (!v.fired) continue;
        with_signal++;
        const account *a = v.a;
        if (a->nupsells) {
            suppressed++;
            st->host->log(st->self, REVOPS_LOG_DEBUG,
                          "account %s (%s): %s%s%s, but open %s opportunity %s (stage %s)%s "
                          "already covers it: no finding",
                          a->id, a->name ? a->name : "no name",
                          v.util ? "high_utilization" : "", v.fired == 2 ? " and " : "",
                          v.growth ? "steady_growth" : "", a->upsell_type, a->upsell_id,
                          a->upsell_stage, a->nupsells > 1 ? " and others" : "");
            continue;
        }
        vs[n++] = v;
    }
    if (n) qsort(vs, n, sizeof *vs, verdict_order);
    revops_status rc = REVOPS_OK;
    for (size_t i = 0; i < n && rc == REVOPS_OK; i++) rc = emit_verdict(st, &vs[i], emit);
    st->host->log(st->self, REVOPS_LOG_INFO,
                  "A3 as of %s: %zu accounts seen, %zu with an upsell signal, %zu of them "
                  "already have an open upsell, %zu findings", st->as_of_text, m->count,
                  with_signal, suppressed, n);
    free(vs);
    return rc;
}

/* -------------------------------------------------------- lifecycle -- */

static void free_list(char **list, size_t n)
{
    if (!list) return;
    for (size_t i = 0; i < n; i++) free(list[i]);
    free(list);
}

static void a3_destroy(void *state)
{
    a3_state *st = state;
    if (!st) return;
    revops_map_free(&st->accounts, account_free_value);
    free_list(st->closed, st->nclosed);
    free_list(st->upsell_types, st->nupsell_types);
    free(st);
}

/* as_of from the option, else today (UTC) from the host clock, which honours
 * REVOPS_NOW so runs can be reproduced. */
static int set_as_of(a3_state *st, const revops_options *opts)
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

static int copy_list(a3_state *st, const revops_options *opts, const char *name, char ***out,
                     size_t *n)
{
    const revops_host *h = st->host;
    *n = h->opt_list_len(opts, name);
    *out = calloc(*n ? *n : 1, sizeof **out);
    if (!*out) return -1;
    for (size_t i = 0; i < *n; i++) {
        const char *item = h->opt_list_item(opts, name, i);
        if (!((*out)[i] = strdup(item ? item : ""))) return -1;
    }
    return 0;
}

static int copy_options(a3_state *st, const revops_options *opts)
{
    const revops_host *h = st->host;
    int64_t months = h->opt_int(opts, "months"), gmonths = h->opt_int(opts, "growth_months");
    if (months < 1 || months > A3_MAX_WINDOW) {
        h->error(st->self, "option months: %" PRId64 " is outside 1..%d", months, A3_MAX_WINDOW);
        return -1;
    }
    if (gmonths < 2 || gmonths > A3_MAX_WINDOW) {
        h->error(st->self, "option growth_months: %" PRId64 " is outside 2..%d", gmonths,
                 A3_MAX_WINDOW);
        return -1;
    }
    st->months = (int)months;
    st->growth_months = (int)gmonths;
    st->window = st->months > st->growth_months ? st->months : st->growth_months;
    st->util_pct = h->opt_real(opts, "utilization_pct");
    st->util_full_pct = h->opt_real(opts, "utilization_full_pct");
    st->growth_pct = h->opt_real(opts, "growth_pct");
    st->growth_full_pct = h->opt_real(opts, "growth_full_pct");
    if (!(st->util_full_pct > st->util_pct)) {
        h->error(st->self, "option utilization_full_pct (%g) must be above utilization_pct (%g)",
                 st->util_full_pct, st->util_pct);
        return -1;
    }
    if (!(st->growth_full_pct > st->growth_pct)) {
        h->error(st->self, "option growth_full_pct (%g) must be above growth_pct (%g)",
                 st->growth_full_pct, st->growth_pct);
        return -1;
    }
    st->w_util = h->opt_real(opts, "weight_utilization");
    st->w_growth = h->opt_real(opts, "weight_growth");
    st->critical = h->opt_real(opts, "critical_score");
    st->high = h->opt_real(opts, "high_score");
    st->medium = h->opt_real(opts, "medium_score");
    if (!(st->critical >= st->high && st->high >= st->medium)) {
        h->error(st->self, "options critical_score (%g) >= high_score (%g) >= medium_score (%g) "
                 "must hold", st->critical, st->high, st->medium);
        return -1;
    }
    if (copy_list(st, opts, "upsell_types", &st->upsell_types, &st->nupsell_types) < 0 ||
        copy_list(st, opts, "closed_stages", &st->closed, &st->nclosed) < 0) {
        h->error(st->self, "out of memory reading the options");
        return -1;
    }
    if (st->nupsell_types == 0) {
        h->error(st->self, "option upsell_types: give at least one opportunity type");
        return -1;
    }
    return 0;
}

static revops_status a3_init(revops_instance *self, const revops_host *host,
                             const revops_options *opts, const revops_run_info *run,
                             void **state)
{
    (void)run;
    a3_state *st = calloc(1, sizeof *st);
    if (!st) {
        host->error(self, "out of memory");
        return REVOPS_ERROR;
    }
    st->self = self;
    st->host = host;
    if (copy_options(st, opts) < 0 || set_as_of(st, opts) < 0) {
        a3_destroy(st);
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
    { "agreements", 1,
      "agreement_id,sf_account_id,committed_engine_hours_monthly,is_active,start_date,end_date",
      "agreements; those active on as_of - 1 give the monthly commitment" },
    { "opportunities", 1, "opportunity_id,sf_account_id,opportunity_type,stage_name",
      "opportunities; an open one of an upsell type suppresses the account's finding" },
    { "usage", 1, "sf_account_id,consumption_date,engine_hours",
      "daily usage rows covering the last max(months, growth_months) complete months" },
    { NULL, 0, NULL, NULL }
};

static const revops_analysis_vtable vtable = {
    .analysis_type = "A3",
    .inputs = inputs,
    .init = a3_init,
    .process_chunk = a3_process_chunk,
    .finalize = a3_finalize,
    .destroy = a3_destroy,
};

static const revops_option_def options[] = {
    { "as_of", REVOPS_OPT_DATE, 0, NULL, 0, 0, NULL, 0,
      "reference date YYYY-MM-DD (default: today, UTC)" },
    { "months", REVOPS_OPT_INT, 0, "3", 1, 12, NULL, 0,
      "complete calendar months before as_of whose utilisation is averaged" },
    { "utilization_pct", REVOPS_OPT_REAL, 0, "80", 0, 1000, NULL, 0,
      "high_utilization fires when average monthly usage is above this % of the commitment" },
    { "utilization_full_pct", REVOPS_OPT_REAL, 0, "110", 0, 1000, NULL, 0,
      "utilisation % at which the high_utilization severity reaches 1" },
    { "growth_months", REVOPS_OPT_INT, 0, "4", 2, 12, NULL, 0,
      "complete calendar months before as_of in which usage must rise month over month" },
    { "growth_pct", REVOPS_OPT_REAL, 0, "10", 0, 1000, NULL, 0,
      "steady_growth needs at least this % growth from the first to the last of those months" },
    { "growth_full_pct", REVOPS_OPT_REAL, 0, "30", 0, 1000, NULL, 0,
      "growth % at which the steady_growth severity reaches 1" },
    { "upsell_types", REVOPS_OPT_LIST, 0, "Upsell,Expansion", 0, 0, NULL, 0,
      "opportunity_type values of upsell opportunities; an open one suppresses the finding" },
    { "closed_stages", REVOPS_OPT_LIST, 0, "Closed Won,Closed Lost", 0, 0, NULL, 0,
      "stage names of closed opportunities (exact match)" },
    { "weight_utilization", REVOPS_OPT_REAL, 0, "0.6", 0, 1, NULL, 0,
      "weight of high_utilization in the score" },
    { "weight_growth", REVOPS_OPT_REAL, 0, "0.4", 0, 1, NULL, 0,
      "weight of steady_growth in the score" },
    { "critical_score", REVOPS_OPT_REAL, 0, "0.75", 0, 1, NULL, 0,
      "score from which a finding is critical" },
    { "high_score", REVOPS_OPT_REAL, 0, "0.45", 0, 1, NULL, 0,
      "score from which a finding is high" },
    { "medium_score", REVOPS_OPT_REAL, 0, "0.2", 0, 1, NULL, 0,
      "score from which a finding is medium (below: low)" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_ANALYSIS, "upsell_opportunities", "1.0.0",
    "A3: accounts using most of their commitment or growing steadily, with no open upsell",
    options, { .analysis = &vtable }
};
