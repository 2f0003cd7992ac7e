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
#include <stdarg.h>
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
    char *id;
    char *name;
    double usage[A1_MAX_WINDOW];   /* [0] = M-k ... [k] = M0 */
    uint32_t months_seen;          /* bit per window month that had a usage row */
    opp_signal renewal, stalled;
} account;

/* Rows we could not use, reported once per dataset with the first example. */
typedef struct dataset_stats {
    uint64_t rows, bad;
    uint64_t first_row;
    char first_problem[200];
    int reported;
} dataset_stats;

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

    account **slots;             /* open addressing, power-of-two capacity */
    size_t cap, count;
    dataset_stats ds[IN_COUNT];
} a1_state;

/* ------------------------------------------------------ small strings -- */

/* A growable string; `failed` sticks after an allocation failure so callers
 * check once at the end instead of after every append. */
typedef struct sbuf {
    char *buf;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_vprintf(sbuf *sb, const char *fmt, va_list ap)
{
    if (sb->failed) return;
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0) { sb->failed = 1; return; }
    if (sb->len + (size_t)n + 1 > sb->cap) {
        size_t cap = sb->cap ? sb->cap : 128;
        while (cap < sb->len + (size_t)n + 1) cap *= 2;
        char *p = realloc(sb->buf, cap);
        if (!p) { sb->failed = 1; return; }
        sb->buf = p;
        sb->cap = cap;
    }
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
}

REVOPS_PRINTF(2, 3)
static void sb_printf(sbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(sb, fmt, ap);
    va_end(ap);
}

/* The finished string (never NULL unless allocation failed). */
static char *sb_take(sbuf *sb)
{
    if (!sb->failed && !sb->buf) sb_printf(sb, "%s", "");
    if (sb->failed) { free(sb->buf); sb->buf = NULL; }
    char *s = sb->buf;
    sb->buf = NULL;
    sb->len = sb->cap = 0;
    return s;
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

/* 1234.5 / 70 / 0.25: usage sums printed without noise digits. */
static void fmt_num(double x, char out[48])
{
    snprintf(out, 48, "%.2f", x);
    char *dot = strchr(out, '.');
    if (!dot) return;
    char *end = out + strlen(out) - 1;
    while (end > dot && *end == '0') *end-- = '\0';
    if (end == dot) *end = '\0';
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

/* -------------------------------------------------------------- cells -- */

typedef enum { CELL_OK, CELL_NULL, CELL_BAD } cell_status;

/* An id or name: text as is, an integer printed; NULL/empty is absent. */
static const char *cell_str(const revops_value *v, char *buf, size_t n)
{
    switch (v->type) {
    case REVOPS_TYPE_TEXT:
    case REVOPS_TYPE_DATE:
    case REVOPS_TYPE_TIMESTAMP:
        return v->v.text.s && v->v.text.len ? v->v.text.s : NULL;
    case REVOPS_TYPE_INT:
        snprintf(buf, n, "%" PRId64, v->v.i);
        return buf;
    default:
        return NULL;
    }
}

static cell_status cell_date(const a1_state *st, const revops_value *v, int64_t *out)
{
    if (v->type == REVOPS_TYPE_NULL) return CELL_NULL;
    if (v->type != REVOPS_TYPE_TEXT && v->type != REVOPS_TYPE_DATE &&
        v->type != REVOPS_TYPE_TIMESTAMP)
        return CELL_BAD;
    *out = st->host->date_days(v->v.text.s);
    return *out == INT64_MIN ? CELL_BAD : CELL_OK;
}

/* Sources may hand a numeric column as INT, REAL or numeric text. */
static cell_status cell_number(const revops_value *v, double *out)
{
    switch (v->type) {
    case REVOPS_TYPE_NULL: return CELL_NULL;
    case REVOPS_TYPE_INT: *out = (double)v->v.i; return CELL_OK;
    case REVOPS_TYPE_REAL: *out = v->v.r; return CELL_OK;
    case REVOPS_TYPE_TEXT: {
        char *end;
        if (!v->v.text.len) return CELL_BAD;
        *out = strtod(v->v.text.s, &end);
        return *end == '\0' ? CELL_OK : CELL_BAD;
    }
    default: return CELL_BAD;
    }
}

/* A cell as a warning shows it: quoted and cut short, or NULL. */
static void cell_describe(const revops_value *v, char out[64])
{
    switch (v->type) {
    case REVOPS_TYPE_NULL: snprintf(out, 64, "NULL"); break;
    case REVOPS_TYPE_INT: snprintf(out, 64, "%" PRId64, v->v.i); break;
    case REVOPS_TYPE_REAL: snprintf(out, 64, "%g", v->v.r); break;
    case REVOPS_TYPE_BOOL: snprintf(out, 64, "%s", v->v.b ? "true" : "false"); break;
    default: snprintf(out, 64, "'%.40s%s'", v->v.text.s, v->v.text.len > 40 ? "..." : ""); break;
    }
}

/* ------------------------------------------------------- bad rows -- */

REVOPS_PRINTF(3, 4)
static void note_bad(a1_state *st, int input, const char *fmt, ...)
{
    dataset_stats *ds = &st->ds[input];
    if (ds->bad++ == 0) {
        ds->first_row = ds->rows;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ds->first_problem, sizeof ds->first_problem, fmt, ap);
        va_end(ap);
    }
}

/* Once per dataset, at its last chunk (or at finalize if that never came). */
static void report_bad(a1_state *st, int input)
{
    dataset_stats *ds = &st->ds[input];
    if (!ds->bad || ds->reported) return;
    ds->reported = 1;
    st->host->log(st->self, REVOPS_LOG_WARN,
                  "dataset '%s': %" PRIu64 " of %" PRIu64 " rows not fully used (missing "
                  "account, or missing or unreadable date or value); first at row %" PRIu64
                  ": %s",
                  input_names[input], ds->bad, ds->rows, ds->first_row, ds->first_problem);
}

/* ------------------------------------------------------- accounts -- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int table_grow(a1_state *st)
{
    size_t cap = st->cap ? st->cap * 2 : 256;
    account **slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < st->cap; i++) {
        account *a = st->slots[i];
        if (!a) continue;
        size_t j = hash_str(a->id) & (cap - 1);
        while (slots[j]) j = (j + 1) & (cap - 1);
        slots[j] = a;
    }
    free(st->slots);
    st->slots = slots;
    st->cap = cap;
    return 0;
}

/* The account `id`, created on first sight; NULL only when out of memory. */
static account *account_get(a1_state *st, const char *id)
{
    if ((st->count + 1) * 10 > st->cap * 7 && table_grow(st) < 0) return NULL;
    size_t j = hash_str(id) & (st->cap - 1);
    for (; st->slots[j]; j = (j + 1) & (st->cap - 1))
        if (strcmp(st->slots[j]->id, id) == 0) return st->slots[j];
    account *a = calloc(1, sizeof *a);
    if (!a || !(a->id = dupstr(id))) {
        free(a);
        return NULL;
    }
    st->slots[j] = a;
    st->count++;
    return a;
}

static void account_free(account *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->renewal.nkept; i++) free(a->renewal.kept[i].id);
    for (size_t i = 0; i < a->stalled.nkept; i++) free(a->stalled.kept[i].id);
    free(a->id);
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
    char *copy = dupstr(id);
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
        st->ds[IN_ACCOUNTS].rows++;
        const revops_value *iv = revops_cell(c, r, (size_t)ci);
        const char *id = cell_str(iv, ibuf, sizeof ibuf);
        if (!id) {
            cell_describe(iv, what);
            note_bad(st, IN_ACCOUNTS, "sf_account_id is %s", what);
            continue;
        }
        const char *name = cell_str(revops_cell(c, r, (size_t)ni), nbuf, sizeof nbuf);
        account *a = account_get(st, id);
        if (!a) return out_of_memory(st, c->dataset, id);
        if (name && !a->name && !(a->name = dupstr(name)))
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
    const char *acct = cell_str(av, abuf, sizeof abuf);
    if (!acct) {
        cell_describe(av, what);
        note_bad(st, IN_OPPORTUNITIES, "sf_account_id is %s", what);
        return 0;
    }
    const char *oid = cell_str(revops_cell(c, r, (size_t)k->id), obuf, sizeof obuf);
    if (!oid) oid = "(opportunity without id)";
    const char *type = cell_str(revops_cell(c, r, (size_t)k->type), tbuf, sizeof tbuf);
    const char *stage = cell_str(revops_cell(c, r, (size_t)k->stage), stbuf, sizeof stbuf);
    const revops_value *cv = revops_cell(c, r, (size_t)k->close);
    const revops_value *sv = revops_cell(c, r, (size_t)k->change);
    int64_t close = 0, change = 0;
    double amount = 0;
    cell_status cs = cell_date(st, cv, &close), ss = cell_date(st, sv, &change);
    int has_amount = cell_number(revops_cell(c, r, (size_t)k->amount), &amount) == CELL_OK;
    int open = !is_closed(st, stage);
    int renewal = open && type && strcmp(type, st->renewal_type) == 0;

    /* An unreadable date is worth a warning on any row; a NULL one only
     * where the rule needs it (open renewal: close date; open: last change). */
    if (cs == CELL_BAD || (renewal && cs == CELL_NULL)) {
        cell_describe(cv, what);
        note_bad(st, IN_OPPORTUNITIES, "opportunity %s: close_date is %s", oid, what);
    } else if (ss == CELL_BAD || (open && ss == CELL_NULL)) {
        cell_describe(sv, what);
        note_bad(st, IN_OPPORTUNITIES, "opportunity %s: last_stage_change_date is %s", oid, what);
    }
    if (!open) return 0;

    account *a = NULL;
    if (renewal && cs == CELL_OK && close < st->as_of) {
        if (!(a = account_get(st, acct)) ||
            opp_signal_add(&a->renewal, oid, close, st->as_of - close, has_amount, amount) < 0)
            return -1;
    }
    if (ss == CELL_OK && st->as_of - change > st->stall_days) {
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
        st->ds[IN_OPPORTUNITIES].rows++;
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
        st->ds[IN_USAGE].rows++;
        const revops_value *av = revops_cell(c, r, (size_t)ai);
        const revops_value *dv = revops_cell(c, r, (size_t)di);
        const revops_value *mv = revops_cell(c, r, (size_t)mi);
        const char *acct = cell_str(av, abuf, sizeof abuf);
        int64_t day;
        double x;
        if (!acct) {
            cell_describe(av, what);
            note_bad(st, IN_USAGE, "sf_account_id is %s", what);
            continue;
        }
        if (cell_date(st, dv, &day) != CELL_OK) {
            cell_describe(dv, what);
            note_bad(st, IN_USAGE, "account %s: consumption_date is %s", acct, what);
            continue;
        }
        if (cell_number(mv, &x) != CELL_OK) {
            cell_describe(mv, what);
            note_bad(st, IN_USAGE, "account %s: %s is %s", acct, st->metric, what);
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

static void usage_evidence(const a1_state *st, const verdict *v, sbuf *sb)
{
    char m[32], num[48];
    sb_printf(sb, "%s by month:", st->metric);
    for (int i = 0; i < st->window; i++) {
        month_label(st->first_month + i, m);
        fmt_num(v->a->usage[i], num);
        sb_printf(sb, "%s %s %s", i ? "," : "", m, num);
    }
    char first[32], last[32];
    month_label(st->first_month, first);
    month_label(st->first_month + st->window - 1, last);
    sb_printf(sb, "; down %.1f%% from %s to %s, lower every month", 100.0 * v->decline_frac,
              first, last);
}

static void opp_evidence(const a1_state *st, const opp_signal *sig, const char *what,
                         const char *date_name, const char *days_name, sbuf *sb)
{
    char day[11], num[48];
    sb_printf(sb, "%s:", what);
    for (size_t i = 0; i < sig->nkept; i++) {
        const opp_ref *o = &sig->kept[i];
        day_label(st, o->date, day);
        sb_printf(sb, "%s %s (%s %s, %" PRId64 " %s", i ? "," : "", o->id, date_name, day,
                  o->days, days_name);
        if (o->has_amount) {
            fmt_num(o->amount, num);
            sb_printf(sb, ", amount %s", num);
        }
        sb_printf(sb, ")");
    }
    if (sig->count > sig->nkept)
        sb_printf(sb, " and %" PRIu64 " more", sig->count - (uint64_t)sig->nkept);
}

static void title_text(const a1_state *st, const verdict *v, sbuf *sb)
{
    const char *sep = ": ";
    sb_printf(sb, "%s is at risk", who(v->a));
    if (v->decline) {
        sb_printf(sb, "%susage down %.1f%% over %d months", sep, 100.0 * v->decline_frac,
                  st->window - 1);
        sep = ", ";
    }
    if (v->renewal) {
        sb_printf(sb, "%srenewal %" PRId64 " days past due", sep, v->a->renewal.max_days);
        sep = ", ";
    }
    if (v->stalled)
        sb_printf(sb, "%sopportunity stalled %" PRId64 " days", sep, v->a->stalled.max_days);
}

static void description_text(const a1_state *st, const verdict *v, sbuf *sb)
{
    const account *a = v->a;
    char first[32], last[32], n0[48], n1[48], day[11];
    month_label(st->first_month, first);
    month_label(st->first_month + st->window - 1, last);
    if (a->name)
        sb_printf(sb, "%s (%s) shows", a->name, a->id);
    else
        sb_printf(sb, "Account %s shows", a->id);
    sb_printf(sb, " %d of 3 at-risk signals as of %s.", v->fired, st->as_of_text);
    if (v->decline) {
        fmt_num(a->usage[0], n0);
        fmt_num(a->usage[st->window - 1], n1);
        sb_printf(sb, " Monthly %s fell every month from %s in %s to %s in %s, down %.1f%% "
                  "(threshold %g%%).", st->metric, n0, first, n1, last,
                  100.0 * v->decline_frac, st->decline_pct);
    }
    if (v->renewal) {
        const opp_ref *o = &a->renewal.kept[0];
        day_label(st, o->date, day);
        if (a->renewal.count == 1)
            sb_printf(sb, " Renewal %s was due to close on %s and is still open, %" PRId64
                      " days later.", o->id, day, o->days);
        else
            sb_printf(sb, " %" PRIu64 " open renewals are past their close date; the oldest, "
                      "%s, was due on %s (%" PRId64 " days ago).", a->renewal.count, o->id, day,
                      o->days);
    }
    if (v->stalled) {
        const opp_ref *o = &a->stalled.kept[0];
        day_label(st, o->date, day);
        if (a->stalled.count == 1)
            sb_printf(sb, " Opportunity %s has not changed stage since %s (%" PRId64
                      " days; the limit is %" PRId64 ").", o->id, day, o->days, st->stall_days);
        else
            sb_printf(sb, " %" PRIu64 " open opportunities have not changed stage for more "
                      "than %" PRId64 " days; the longest, %s, since %s (%" PRId64 " days).",
                      a->stalled.count, st->stall_days, o->id, day, o->days);
    }
    if (!v->covered)
        sb_printf(sb, " Usage data does not cover every month from %s to %s, so confidence "
                  "is lower.", first, last);
}

/* --------------------------------------------------------- findings -- */

enum { SIG_MAX = 3 };

/* Build and emit the finding of one account; all strings are freed here
 * (the host copies the finding before emit_finding returns). */
static revops_status emit_verdict(a1_state *st, const verdict *v, revops_emitter *emit)
{
    const account *a = v->a;
    revops_signal sig[SIG_MAX];
    char *texts[2 * SIG_MAX + 2] = { 0 };
    const char *actions[SIG_MAX];
    size_t ns = 0, nt = 0;
    sbuf sb = { 0 };
    int failed = 0;

    if (v->decline) {
        usage_evidence(st, v, &sb);
        texts[nt] = sb_take(&sb);
        failed |= !texts[nt];
        sig[ns] = (revops_signal){ "usage_decline", 100.0 * v->decline_frac, st->decline_pct,
                                   st->w_decline, texts[nt++] };
        actions[ns++] = "Book an executive check-in with the account owner within 7 days "
                        "to understand the usage drop";
    }
    if (v->renewal) {
        opp_evidence(st, &a->renewal, "open renewals past their close date", "close date",
                     "days past due", &sb);
        texts[nt] = sb_take(&sb);
        failed |= !texts[nt];
        sig[ns] = (revops_signal){ "renewal_past_due", (double)a->renewal.max_days, 0.0,
                                   st->w_renewal, texts[nt++] };
        sb_printf(&sb, "Chase renewal %s with the account owner this week: get the customer's "
                  "decision and update the close date or close it out", a->renewal.kept[0].id);
        if (a->renewal.count > 1)
            sb_printf(&sb, " (and the %" PRIu64 " other overdue renewals)", a->renewal.count - 1);
        texts[nt] = sb_take(&sb);
        failed |= !texts[nt];
        actions[ns++] = texts[nt++];
    }
    if (v->stalled) {
        sbuf ev = { 0 };
        char what[96];
        snprintf(what, sizeof what, "open opportunities with no stage change for more than %"
                 PRId64 " days", st->stall_days);
        opp_evidence(st, &a->stalled, what, "last stage change", "days ago", &ev);
        texts[nt] = sb_take(&ev);
        failed |= !texts[nt];
        sig[ns] = (revops_signal){ "stalled_opportunity", (double)a->stalled.max_days,
                                   (double)st->stall_days, st->w_stalled, texts[nt++] };
        sb_printf(&sb, "Review stalled opportunity %s with its owner and agree a dated next "
                  "step, or close it if the deal is no longer real", a->stalled.kept[0].id);
        texts[nt] = sb_take(&sb);
        failed |= !texts[nt];
        actions[ns++] = texts[nt++];
    }
    title_text(st, v, &sb);
    char *title = sb_take(&sb);
    description_text(st, v, &sb);
    char *description = sb_take(&sb);
    failed |= !title || !description;

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
            .title = title,
            .description = description,
            .nsignals = ns,
            .signals = sig,
            .nactions = ns,
            .recommended_actions = actions,
        };
        rc = st->host->emit_finding(emit, &f);
        if (rc != REVOPS_OK)
            st->host->error(st->self, "could not emit the finding for account '%s'", a->id);
    }
    for (size_t i = 0; i < nt; i++) free(texts[i]);
    free(title);
    free(description);
    return rc;
}

static revops_status a1_finalize(void *state, revops_emitter *emit)
{
    a1_state *st = state;
    for (int i = 0; i < IN_COUNT; i++) report_bad(st, i);

    verdict *vs = st->count ? malloc(st->count * sizeof *vs) : NULL;
    if (st->count && !vs) return out_of_memory(st, "finding", "(all)");
    size_t n = 0;
    for (size_t i = 0; i < st->cap; i++) {
        if (!st->slots[i]) continue;
        verdict v = judge(st, st->slots[i]);
        if (v.fired) vs[n++] = v;
    }
    if (n) qsort(vs, n, sizeof *vs, verdict_order);
    revops_status rc = REVOPS_OK;
    for (size_t i = 0; i < n && rc == REVOPS_OK; i++) rc = emit_verdict(st, &vs[i], emit);
    st->host->log(st->self, REVOPS_LOG_INFO,
                  "A1 as of %s: %zu accounts seen, %zu at risk", st->as_of_text, st->count, n);
    free(vs);
    return rc;
}

/* -------------------------------------------------------- lifecycle -- */

static void a1_destroy(void *state)
{
    a1_state *st = state;
    if (!st) return;
    for (size_t i = 0; i < st->cap; i++) account_free(st->slots[i]);
    free(st->slots);
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
    st->renewal_type = dupstr(rt ? rt : "Renewal");
    st->metric = dupstr(metric && *metric ? metric : "engine_hours");
    st->nclosed = h->opt_list_len(opts, "closed_stages");
    st->closed = calloc(st->nclosed ? st->nclosed : 1, sizeof *st->closed);
    if (!st->renewal_type || !st->metric || !st->closed) goto oom;
    for (size_t i = 0; i < st->nclosed; i++) {
        const char *item = h->opt_list_item(opts, "closed_stages", i);
        if (!(st->closed[i] = dupstr(item ? item : ""))) goto oom;
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
