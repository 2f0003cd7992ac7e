/*
 * analysis "closed_lost_patterns" (A2): the most common closed-lost reason of
 * every group of lost deals (by account type, region, industry, owner or deal
 * size), its trend against the previous period, the share of losses to a
 * competitor and the amount lost.
 *
 * This implements exactly the rule in docs/analyses/A2.md.  It is streaming:
 * rows arrive in chunks, in any order, so everything kept is per group and per
 * (group, reason) — counts, amounts in integer cents (sums that do not depend
 * on the order of the rows) and the few largest opportunities of each reason
 * for evidence — never per row.
 */
#include <revops/revops.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A2_KEEP_OPPS 3          /* opportunity ids kept per (group, reason), for evidence */
#define A2_MAX_BANDS 20         /* deal_size_bands entries */
#define A2_EPSILON 1e-9         /* 40.0% computed as 39.99999... still counts as 40 */
#define A2_NO_REASON "(no reason given)"
#define A2_UNKNOWN "(unknown)"

enum { DIM_ACCOUNT_TYPE, DIM_REGION, DIM_INDUSTRY, DIM_OWNER, DIM_DEAL_SIZE, DIM_COUNT };
static const char *const dim_names[DIM_COUNT] = { "account_type", "region", "industry", "owner",
                                                  "deal_size" };
/* The input column each dimension reads (deal_size: bands of amount). */
static const char *const dim_columns[DIM_COUNT] = { "account_type", "account_region", "industry",
                                                    "owner_id", "amount" };

/* ------------------------------------------------------------ state -- */

typedef struct opp_ref {
    char *id;
    int64_t cents;
    int has_amount;
} opp_ref;

typedef struct group group;

/* One exact (trimmed) reason within one group. */
typedef struct reason_stat {
    group *g;
    const char *text;            /* points into the map's key, after the separator */
    uint64_t cur, prev;          /* losses in the current / previous window */
    int64_t cur_cents;           /* amount lost in the current window */
    size_t nkept;
    opp_ref kept[A2_KEEP_OPPS];  /* current window, amount desc then id asc */
} reason_stat;

struct group {
    int dim;
    int band;                    /* deal_size: band index, -1 unknown */
    const char *key;             /* "account_type:SMB" (owned by the map) */
    const char *value;           /* after the ':' */
    uint64_t cur, prev;
    uint64_t cur_comp, prev_comp;    /* losses whose reason names a competitor */
    uint64_t cur_no_amount;
    int64_t cur_cents, prev_cents, cur_comp_cents;
    uint64_t *comp_cur;              /* per competitor, current window */
    const reason_stat *best, *second;
};

typedef struct a2_state {
    revops_instance *self;
    const revops_host *host;

    int64_t as_of, cur_start, prev_start;   /* days since the epoch */
    char as_of_text[11], cur_start_text[11], cur_end_text[11], prev_start_text[11],
        prev_end_text[11];
    int64_t window_months;
    int dims[DIM_COUNT];
    size_t ndims;
    double bands[A2_MAX_BANDS];
    size_t nbands;
    char **types;                /* account_types filter; ntypes 0 = all */
    size_t ntypes;
    char **comps;                /* competitors */
    size_t ncomps;
    int64_t min_losses, confident_losses;
    double high_share, medium_share, rising_pp, trend_full_pp, competitive_share;
    double w_share, w_trend, w_comp;

    revops_map groups, reasons;  /* values: group *, reason_stat * */
    revops_buf key;              /* scratch for map keys */
    uint64_t n_cur, n_prev, n_outside, n_other_type;
    revops_bad_rows ds;
} a2_state;

/* ------------------------------------------------------ small strings -- */

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* s without leading and trailing ASCII white space, as (pointer, length). */
static const char *trim(const char *s, size_t len, size_t *out_len)
{
    while (len && is_space((unsigned char)*s)) { s++; len--; }
    while (len && is_space((unsigned char)s[len - 1])) len--;
    *out_len = len;
    return s;
}

/* 1234567.5 -> "1,234,567.50"; whole amounts without decimals. */
static void fmt_amount(int64_t cents, char out[48])
{
    char digits[32], grouped[48];
    int neg = cents < 0;
    uint64_t c = neg ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    snprintf(digits, sizeof digits, "%" PRIu64, c / 100);
    size_t n = strlen(digits), k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) grouped[k++] = ',';
        grouped[k++] = digits[i];
    }
    grouped[k] = '\0';
    if (c % 100)
        snprintf(out, 48, "%s%s.%02u", neg ? "-" : "", grouped, (unsigned)(c % 100));
    else
        snprintf(out, 48, "%s%s", neg ? "-" : "", grouped);
}

static double clamp01(double x)
{
    return x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x;
}

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* ------------------------------------------------------------- dates -- */

static int64_t ymd_days(const a2_state *st, int64_t y, int m, int d)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%04" PRId64 "-%02d-%02d", y, m, d);
    return st->host->date_days(buf);
}

/* The same day of the month n months earlier (n >= 0), clamped to the end of
 * a shorter month: 2026-03-31 minus 1 month is 2026-02-28. */
static int64_t months_before(const a2_state *st, int64_t days, int64_t n)
{
    char buf[11];
    st->host->date_format(days, buf);
    char *end;
    long long y = strtoll(buf, &end, 10);
    int m = (int)strtol(end + 1, &end, 10);
    int d = (int)strtol(end + 1, NULL, 10);
    int64_t total = (int64_t)y * 12 + (m - 1) - n;
    int64_t y2 = total >= 0 ? total / 12 : (total - 11) / 12;
    int m2 = (int)(total - y2 * 12) + 1;
    int64_t first = ymd_days(st, y2, m2, 1);
    int64_t next = m2 == 12 ? ymd_days(st, y2 + 1, 1, 1) : ymd_days(st, y2, m2 + 1, 1);
    int64_t dim = next - first;
    return first + (d <= dim ? d : dim) - 1;
}

/* -------------------------------------------------------------- cells -- */

/* Text as is (pointer and length, the length the source gave), an integer
 * printed into buf; NULL: absent or empty. */
static const char *cell_text(const revops_value *v, char *buf, size_t n, size_t *len)
{
    const char *s = revops_cell_text(v, buf, n);
    if (s) *len = v->type == REVOPS_TYPE_INT ? strlen(s) : v->v.text.len;
    return s;
}

/* An amount as integer cents: INT, REAL or numeric text, 0 <= x < 1e13. */
static revops_cell_status cell_cents(const revops_value *v, int64_t *out)
{
    double x;
    revops_cell_status cs = revops_cell_number(v, &x);
    if (cs != REVOPS_CELL_OK) return cs;
    if (!(x >= 0.0 && x < 1e13)) return REVOPS_CELL_BAD;   /* also NaN */
    *out = (int64_t)(x * 100.0 + 0.5);
    return REVOPS_CELL_OK;
}

/* ------------------------------------------------------- bad rows -- */

static void report_bad(a2_state *st)
{
    revops_bad_rows_report(&st->ds, st->host, st->self, "opportunities",
                           "missing or unreadable closed_at_date: row skipped; missing or "
                           "unreadable amount: loss counted with amount 0");
}

/* ------------------------------------------------------------ groups -- */

/* The group of dimension `dim` with value `value`; NULL when out of memory. */
static group *group_get(a2_state *st, int dim, const char *value, int band)
{
    revops_buf *k = &st->key;
    k->len = 0;
    revops_buf_fmt(k, "%s:%s", dim_names[dim], value);
    if (k->oom) return NULL;
    void **s = revops_map_slot(&st->groups, k->p);
    if (!s) return NULL;
    if (*s) return *s;
    group *g = calloc(1, sizeof *g);
    if (!g || !(g->comp_cur = calloc(st->ncomps ? st->ncomps : 1, sizeof *g->comp_cur))) {
        free(g);
        return NULL;
    }
    g->dim = dim;
    g->band = band;
    g->key = st->groups.keys[s - st->groups.vals];   /* the map's copy: stays put */
    g->value = g->key + strlen(dim_names[dim]) + 1;
    *s = g;
    return g;
}

static reason_stat *reason_get(a2_state *st, group *g, const char *reason)
{
    revops_buf *k = &st->key;
    k->len = 0;
    revops_buf_fmt(k, "%s%c%s", g->key, '\x1f', reason);
    if (k->oom) return NULL;
    void **s = revops_map_slot(&st->reasons, k->p);
    if (!s) return NULL;
    if (*s) return *s;
    reason_stat *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->g = g;
    r->text = st->reasons.keys[s - st->reasons.vals] + strlen(g->key) + 1;
    *s = r;
    return r;
}

static int opp_before(const opp_ref *x, int64_t cents, const char *id)
{
    return x->cents > cents || (x->cents == cents && strcmp(x->id, id) < 0);
}

/* Keep the opportunity if it is among the reason's largest few. */
static int keep_opp(reason_stat *r, const char *id, int has_amount, int64_t cents)
{
    size_t pos = r->nkept;
    while (pos > 0 && !opp_before(&r->kept[pos - 1], cents, id)) pos--;
    if (pos >= A2_KEEP_OPPS) return 0;
    size_t idlen = strlen(id) + 1;
    char *copy = malloc(idlen);
    if (!copy) return -1;
    memcpy(copy, id, idlen);
    if (r->nkept == A2_KEEP_OPPS) free(r->kept[--r->nkept].id);
    memmove(&r->kept[pos + 1], &r->kept[pos], (r->nkept - pos) * sizeof r->kept[0]);
    r->kept[pos] = (opp_ref){ copy, cents, has_amount };
    r->nkept++;
    return 0;
}

/* ------------------------------------------------------ competitors -- */

static int is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c >= 0x80;
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Does `text` name `word` as a whole word, ASCII case-insensitively? */
static int names_word(const char *text, const char *word)
{
    size_t n = strlen(text), w = strlen(word);
    if (!w || w > n) return 0;
    for (size_t i = 0; i + w <= n; i++) {
        if (i && is_word_byte((unsigned char)text[i - 1])) continue;
        if (i + w < n && is_word_byte((unsigned char)text[i + w])) continue;
        size_t k = 0;
        while (k < w && lower((unsigned char)text[i + k]) == lower((unsigned char)word[k])) k++;
        if (k == w) return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ inputs -- */

typedef struct cols {
    long id, account, reason, closed, amount;
    long dim[DIM_COUNT];
} cols;

static int need_column(a2_state *st, const revops_chunk *c, const char *name, long *idx)
{
    *idx = revops_column_index(c, name);
    if (*idx >= 0) return 0;
    st->host->error(st->self, "input '%s' (source '%s') has no column '%s'",
                    c->dataset, c->source ? c->source : "?", name);
    return -1;
}

static revops_status out_of_memory(a2_state *st, const char *what)
{
    st->host->error(st->self, "out of memory keeping %s", what);
    return REVOPS_ERROR;
}

static int type_allowed(const a2_state *st, const char *type)
{
    if (!st->ntypes) return 1;
    if (!type) return 0;
    for (size_t i = 0; i < st->ntypes; i++)
        if (strcmp(type, st->types[i]) == 0) return 1;
    return 0;
}

/* deal_size band of an amount: 0 below bands[0] ... nbands at or above the last. */
static int band_of(const a2_state *st, int64_t cents)
{
    int b = 0;
    while ((size_t)b < st->nbands && (double)cents >= st->bands[b] * 100.0 - 0.5) b++;
    return b;
}

static void band_value(const a2_state *st, int band, char *out, size_t n)
{
    char lo[48], hi[48];
    if (band < 0) {
        snprintf(out, n, "%s", A2_UNKNOWN);
        return;
    }
    if (band == 0) {
        revops_fmt_num(st->bands[0], hi);
        snprintf(out, n, "<%s", hi);
    } else if ((size_t)band == st->nbands) {
        revops_fmt_num(st->bands[band - 1], lo);
        snprintf(out, n, ">=%s", lo);
    } else {
        revops_fmt_num(st->bands[band - 1], lo);
        revops_fmt_num(st->bands[band], hi);
        snprintf(out, n, "%s-%s", lo, hi);
    }
}

/* One row: its window, then every group_by dimension.  -1 only when out of memory. */
static int take_row(a2_state *st, const revops_chunk *c, size_t r, const cols *k)
{
    char ibuf[32], rbuf[32], tbuf[32], what[64];
    size_t len;
    const char *oid = cell_text(revops_cell(c, r, (size_t)k->id), ibuf, sizeof ibuf, &len);
    if (!oid || !len) oid = "(opportunity without id)";

    const revops_value *dv = revops_cell(c, r, (size_t)k->closed);
    int64_t day = 0;
    if (revops_cell_date(st->host, dv, &day) != REVOPS_CELL_OK) {
        revops_cell_describe(dv, what);
        revops_bad_rows_note(&st->ds, "opportunity %s: closed_at_date is %s", oid, what);
        return 0;
    }
    int current = day >= st->cur_start && day < st->as_of;
    int previous = day >= st->prev_start && day < st->cur_start;
    if (!current && !previous) {
        st->n_outside++;
        return 0;
    }

    /* account_types filter (exact, trimmed) */
    const char *tv = cell_text(revops_cell(c, r, (size_t)k->dim[DIM_ACCOUNT_TYPE]), tbuf,
                               sizeof tbuf, &len);
    char typebuf[256];
    const char *type = NULL;
    if (tv) {
        size_t tl;
        const char *t = trim(tv, len, &tl);
        if (tl && tl < sizeof typebuf) {
            memcpy(typebuf, t, tl);
            typebuf[tl] = '\0';
            type = typebuf;
        }
    }
    if (!type_allowed(st, type)) {
        st->n_other_type++;
        return 0;
    }

    const revops_value *av = revops_cell(c, r, (size_t)k->amount);
    int64_t cents = 0;
    int has_amount = cell_cents(av, &cents) == REVOPS_CELL_OK;
    if (!has_amount) {
        cents = 0;
        revops_cell_describe(av, what);
        revops_bad_rows_note(&st->ds, "opportunity %s: amount is %s", oid, what);
    }

    /* the reason, trimmed; NULL or empty is "(no reason given)" */
    const char *rv = cell_text(revops_cell(c, r, (size_t)k->reason), rbuf, sizeof rbuf, &len);
    size_t rl = 0;
    const char *rt = rv ? trim(rv, len, &rl) : NULL;
    revops_buf reason = { 0 };
    if (rt && rl) revops_buf_add(&reason, rt, rl);
    else revops_buf_str(&reason, A2_NO_REASON);
    if (reason.oom) return -1;

    int ncomp_named = 0;
    int named[64] = { 0 };
    for (size_t i = 0; i < st->ncomps && i < 64; i++)
        if (names_word(reason.p, st->comps[i])) {
            named[i] = 1;
            ncomp_named++;
        }

    if (current) st->n_cur++;
    else st->n_prev++;

    int rc = 0;
    for (size_t d = 0; d < st->ndims && rc == 0; d++) {
        int dim = st->dims[d], band = -1;
        char vbuf[64], value[512];
        if (dim == DIM_DEAL_SIZE) {
            if (has_amount) band = band_of(st, cents);
            band_value(st, band, value, sizeof value);
        } else {
            const char *v = cell_text(revops_cell(c, r, (size_t)k->dim[dim]), vbuf, sizeof vbuf,
                                      &len);
            size_t vl = 0;
            const char *t = v ? trim(v, len, &vl) : NULL;
            if (!t || !vl) snprintf(value, sizeof value, "%s", A2_UNKNOWN);
            else snprintf(value, sizeof value, "%.*s", (int)(vl < 500 ? vl : 500), t);
        }
        group *g = group_get(st, dim, value, band);
        reason_stat *rs = g ? reason_get(st, g, reason.p) : NULL;
        if (!rs) {
            rc = -1;
            break;
        }
        if (current) {
            g->cur++;
            g->cur_cents += cents;
            if (!has_amount) g->cur_no_amount++;
            if (ncomp_named) {
                g->cur_comp++;
                g->cur_comp_cents += cents;
                for (size_t i = 0; i < st->ncomps && i < 64; i++)
                    if (named[i]) g->comp_cur[i]++;
            }
            rs->cur++;
            rs->cur_cents += cents;
            if (keep_opp(rs, oid, has_amount, cents) < 0) rc = -1;
        } else {
            g->prev++;
            g->prev_cents += cents;
            if (ncomp_named) g->prev_comp++;
            rs->prev++;
        }
    }
    revops_buf_free(&reason);
    return rc;
}

static revops_status a2_process_chunk(void *state, const revops_chunk *c)
{
    a2_state *st = state;
    if (!c->dataset || strcmp(c->dataset, "opportunities") != 0) {
        st->host->error(st->self, "unexpected input '%s': A2 reads only 'opportunities'",
                        c->dataset ? c->dataset : "(null)");
        return REVOPS_ERROR;
    }
    cols k;
    if (need_column(st, c, "opportunity_id", &k.id) ||
        need_column(st, c, "sf_account_id", &k.account) ||
        need_column(st, c, "closed_won_lost_reason", &k.reason) ||
        need_column(st, c, "closed_at_date", &k.closed) ||
        need_column(st, c, "amount", &k.amount))
        return REVOPS_ERROR;
    for (int d = 0; d < DIM_COUNT; d++)
        if (need_column(st, c, dim_columns[d], &k.dim[d])) return REVOPS_ERROR;
    for (size_t r = 0; r < c->nrows; r++) {
        st->ds.rows++;
        if (take_row(st, c, r, &k) < 0) return out_of_memory(st, "closed-lost groups");
    }
    if (c->last) report_bad(st);
    return REVOPS_OK;
}

/* ---------------------------------------------------------- scoring -- */

/* Top reason order: more current-window losses, then more amount lost, then
 * the reason text (bytewise, i.e. alphabetical for ASCII). */
static int reason_before(const reason_stat *a, const reason_stat *b)
{
    if (a->cur != b->cur) return a->cur > b->cur;
    if (a->cur_cents != b->cur_cents) return a->cur_cents > b->cur_cents;
    return strcmp(a->text, b->text) < 0;
}

typedef struct verdict {
    const group *g;
    double share_pct, prev_share_pct, trend_pp, comp_pct, prev_comp_pct;
    int trend_known, rising, tie;
    double score, confidence;
    revops_priority priority;
    int top_comp;                /* competitor with most current losses, -1 none */
} verdict;

static verdict judge(const a2_state *st, const group *g)
{
    verdict v = { .g = g, .top_comp = -1 };
    const reason_stat *top = g->best;
    v.share_pct = pct(top->cur, g->cur);
    v.trend_known = g->prev >= (uint64_t)st->min_losses;
    v.prev_share_pct = pct(top->prev, g->prev);
    v.trend_pp = v.trend_known ? v.share_pct - v.prev_share_pct : 0.0;
    v.rising = v.trend_known && v.trend_pp >= st->rising_pp - A2_EPSILON;
    v.comp_pct = pct(g->cur_comp, g->cur);
    v.prev_comp_pct = pct(g->prev_comp, g->prev);
    v.tie = g->second && g->second->cur == top->cur;
    for (size_t i = 0; i < st->ncomps && i < 64; i++)
        if (g->comp_cur[i] && (v.top_comp < 0 || g->comp_cur[i] > g->comp_cur[v.top_comp]))
            v.top_comp = (int)i;

    double trend_sev = v.trend_known ? clamp01(v.trend_pp / st->trend_full_pp) : 0.0;
    v.score = clamp01(st->w_share * v.share_pct / 100.0 + st->w_trend * trend_sev +
                      st->w_comp * v.comp_pct / 100.0);
    int high = v.share_pct >= st->high_share - A2_EPSILON;
    int medium = v.share_pct >= st->medium_share - A2_EPSILON;
    v.priority = high && v.rising ? REVOPS_PRIORITY_CRITICAL
               : high || (medium && v.rising) ? REVOPS_PRIORITY_HIGH
               : medium || v.rising ? REVOPS_PRIORITY_MEDIUM
               : REVOPS_PRIORITY_LOW;
    double size = (double)g->cur / (double)st->confident_losses;
    v.confidence = 0.4 + 0.4 * (size > 1.0 ? 1.0 : size) + (v.trend_known ? 0.2 : 0.0) -
                   (v.tie ? 0.1 : 0.0);
    v.confidence = clamp01(v.confidence);
    return v;
}

static int verdict_order(const void *x, const void *y)
{
    const verdict *a = x, *b = y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return strcmp(a->g->key, b->g->key);
}

/* ------------------------------------------------------------ texts -- */

/* account_name of a group: "SMB accounts", "Region EMEA", "Deals under 25,000" */
static void group_label(const a2_state *st, const group *g, revops_buf *b)
{
    int unknown = strcmp(g->value, A2_UNKNOWN) == 0;
    char lo[48], hi[48];
    switch (g->dim) {
    case DIM_ACCOUNT_TYPE:
        if (unknown) revops_buf_str(b, "Accounts without an account type");
        else revops_buf_fmt(b, "%s accounts", g->value);
        break;
    case DIM_REGION:
        if (unknown) revops_buf_str(b, "Accounts without a region");
        else revops_buf_fmt(b, "Region %s", g->value);
        break;
    case DIM_INDUSTRY:
        if (unknown) revops_buf_str(b, "Accounts without an industry");
        else revops_buf_fmt(b, "Industry %s", g->value);
        break;
    case DIM_OWNER:
        if (unknown) revops_buf_str(b, "Opportunities without an owner");
        else revops_buf_fmt(b, "Owner %s", g->value);
        break;
    default:
        if (g->band < 0) {
            revops_buf_str(b, "Deals without an amount");
        } else if (g->band == 0) {
            fmt_amount((int64_t)(st->bands[0] * 100.0 + 0.5), hi);
            revops_buf_fmt(b, "Deals under %s", hi);
        } else if ((size_t)g->band == st->nbands) {
            fmt_amount((int64_t)(st->bands[g->band - 1] * 100.0 + 0.5), lo);
            revops_buf_fmt(b, "Deals of %s or more", lo);
        } else {
            fmt_amount((int64_t)(st->bands[g->band - 1] * 100.0 + 0.5), lo);
            fmt_amount((int64_t)(st->bands[g->band] * 100.0 + 0.5), hi);
            revops_buf_fmt(b, "Deals of %s to under %s", lo, hi);
        }
        break;
    }
}

static void trend_words(const verdict *v, revops_buf *b)
{
    if (!v->trend_known) revops_buf_str(b, "no trend: too few losses in the previous period");
    else if (v->trend_pp > 0.05) revops_buf_fmt(b, "up %.1f pp", v->trend_pp);
    else if (v->trend_pp < -0.05) revops_buf_fmt(b, "down %.1f pp", -v->trend_pp);
    else revops_buf_str(b, "flat");
}

static void share_evidence(const a2_state *st, const verdict *v, revops_buf *b)
{
    const group *g = v->g;
    const reason_stat *top = g->best;
    char amt[48];
    revops_buf_fmt(b, "top reason \"%s\": %" PRIu64 " of %" PRIu64 " closed-lost opportunities "
                   "(%.1f%%) closed %s..%s; ", top->text, top->cur, g->cur, v->share_pct,
                   st->cur_start_text, st->cur_end_text);
    if (g->second)
        revops_buf_fmt(b, "runner-up \"%s\" %" PRIu64 "%s; ", g->second->text, g->second->cur,
                       v->tie ? " (tie broken by amount lost, then alphabetically)" : "");
    else
        revops_buf_str(b, "no other reason; ");
    revops_buf_str(b, "largest:");
    for (size_t i = 0; i < top->nkept; i++) {
        const opp_ref *o = &top->kept[i];
        fmt_amount(o->cents, amt);
        revops_buf_fmt(b, "%s %s (%s)", i ? "," : "", o->id, o->has_amount ? amt : "no amount");
    }
    if (top->cur > top->nkept)
        revops_buf_fmt(b, " and %" PRIu64 " more", top->cur - (uint64_t)top->nkept);
    revops_buf_fmt(b, "; high priority from %g%%, medium from %g%%", st->high_share,
                   st->medium_share);
}

static void trend_evidence(const a2_state *st, const verdict *v, revops_buf *b)
{
    const group *g = v->g;
    const reason_stat *top = g->best;
    revops_buf_fmt(b, "previous period %s..%s: \"%s\" %" PRIu64 " of %" PRIu64 " losses",
                   st->prev_start_text, st->prev_end_text, top->text, top->prev, g->prev);
    if (g->prev) revops_buf_fmt(b, " (%.1f%%)", v->prev_share_pct);
    if (v->trend_known)
        revops_buf_fmt(b, ", now %.1f%%: %+.1f percentage points; rising from %+g pp",
                       v->share_pct, v->trend_pp, st->rising_pp);
    else
        revops_buf_fmt(b, "; fewer than min_losses (%" PRId64 ") losses then, so no trend",
                       st->min_losses);
}

/* Competitors by current losses desc, then by name. */
static void comp_order(const a2_state *st, const group *g, size_t *order, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < st->ncomps && i < 64; i++)
        if (g->comp_cur[i]) order[(*n)++] = i;
    for (size_t i = 1; i < *n; i++)
        for (size_t j = i; j > 0; j--) {
            size_t a = order[j - 1], c = order[j];
            int swap = g->comp_cur[c] > g->comp_cur[a] ||
                       (g->comp_cur[c] == g->comp_cur[a] && strcmp(st->comps[c], st->comps[a]) < 0);
            if (!swap) break;
            order[j - 1] = c;
            order[j] = a;
        }
}

static void comp_evidence(const a2_state *st, const verdict *v, revops_buf *b)
{
    const group *g = v->g;
    char amt[48];
    size_t order[64], n;
    comp_order(st, g, order, &n);
    revops_buf_fmt(b, "%" PRIu64 " of %" PRIu64 " losses (%.1f%%) name a competitor",
                   g->cur_comp, g->cur, v->comp_pct);
    if (n) {
        revops_buf_str(b, ":");
        for (size_t i = 0; i < n; i++)
            revops_buf_fmt(b, "%s %s %" PRIu64, i ? "," : "", st->comps[order[i]],
                           g->comp_cur[order[i]]);
        fmt_amount(g->cur_comp_cents, amt);
        revops_buf_fmt(b, "; amount lost to competitors %s", amt);
    } else {
        revops_buf_str(b, " (looked for:");
        for (size_t i = 0; i < st->ncomps; i++)
            revops_buf_fmt(b, "%s %s", i ? "," : "", st->comps[i]);
        revops_buf_str(b, ")");
    }
    revops_buf_fmt(b, "; previous period %" PRIu64 " of %" PRIu64, g->prev_comp, g->prev);
    if (g->prev) revops_buf_fmt(b, " (%.1f%%)", v->prev_comp_pct);
    revops_buf_fmt(b, "; battlecard review from %g%%", st->competitive_share);
}

static void amount_evidence(const a2_state *st, const verdict *v, revops_buf *b)
{
    const group *g = v->g;
    char amt[48], top_amt[48], prev_amt[48];
    fmt_amount(g->cur_cents, amt);
    fmt_amount(g->best->cur_cents, top_amt);
    fmt_amount(g->prev_cents, prev_amt);
    revops_buf_fmt(b, "%s lost over %" PRIu64 " opportunities closed %s..%s (\"%s\": %s); "
                   "previous period %s over %" PRIu64, amt, g->cur, st->cur_start_text,
                   st->cur_end_text, g->best->text, top_amt, prev_amt, g->prev);
    if (g->cur_no_amount)
        revops_buf_fmt(b, "; %" PRIu64 " without a readable amount counted as 0", g->cur_no_amount);
}

static void title_text(const verdict *v, const char *label, revops_buf *b)
{
    revops_buf_fmt(b, "%s: \"%s\" is %.0f%% of %" PRIu64 " closed-lost deals (", label,
                   v->g->best->text, v->share_pct, v->g->cur);
    trend_words(v, b);
    revops_buf_str(b, ")");
}

static void description_text(const a2_state *st, const verdict *v, const char *label,
                             revops_buf *b)
{
    const group *g = v->g;
    const reason_stat *top = g->best;
    char amt[48];
    fmt_amount(g->cur_cents, amt);
    revops_buf_fmt(b, "%s lost %" PRIu64 " opportunities worth %s between %s and %s (as of %s). "
                   "The most common reason was \"%s\": %" PRIu64 " losses, %.1f%%",
                   label, g->cur, amt, st->cur_start_text, st->cur_end_text, st->as_of_text,
                   top->text, top->cur, v->share_pct);
    if (g->second)
        revops_buf_fmt(b, " (next: \"%s\", %" PRIu64 ")", g->second->text, g->second->cur);
    revops_buf_str(b, ".");
    if (v->trend_known)
        revops_buf_fmt(b, " In the %" PRId64 " months before, it was %.1f%% of %" PRIu64
                       " losses: %s %.1f percentage points.", st->window_months,
                       v->prev_share_pct, g->prev, v->trend_pp >= 0 ? "up" : "down",
                       v->trend_pp >= 0 ? v->trend_pp : -v->trend_pp);
    else if (g->prev)
        revops_buf_fmt(b, " The %" PRId64 " months before had only %" PRIu64 " losses, too few "
                       "for a trend.", st->window_months, g->prev);
    else
        revops_buf_fmt(b, " The %" PRId64 " months before had no losses, so there is no trend.",
                       st->window_months);
    if (g->cur_comp && v->top_comp >= 0)
        revops_buf_fmt(b, " %" PRIu64 " losses (%.1f%%) went to a named competitor, most often %s "
                       "(%" PRIu64 ").", g->cur_comp, v->comp_pct, st->comps[v->top_comp],
                       g->comp_cur[v->top_comp]);
    else
        revops_buf_str(b, " No loss reason names a competitor.");
}

/* --------------------------------------------------------- findings -- */

enum { SIG_COUNT = 4, ACT_MAX = 3 };

static revops_status emit_verdict(a2_state *st, const verdict *v, revops_emitter *emit)
{
    const group *g = v->g;
    const reason_stat *top = g->best;
    revops_buf bufs[SIG_COUNT + ACT_MAX + 3];
    memset(bufs, 0, sizeof bufs);
    revops_buf *label = &bufs[0], *title = &bufs[1], *desc = &bufs[2];
    revops_buf *ev = &bufs[3], *act = &bufs[3 + SIG_COUNT];
    const char *actions[ACT_MAX];
    size_t na = 0;

    group_label(st, g, label);
    const char *lab = revops_buf_cstr(label);
    share_evidence(st, v, &ev[0]);
    trend_evidence(st, v, &ev[1]);
    comp_evidence(st, v, &ev[2]);
    amount_evidence(st, v, &ev[3]);
    title_text(v, lab, title);
    description_text(st, v, lab, desc);

    if (strcmp(top->text, A2_NO_REASON) == 0)
        revops_buf_fmt(&act[na], "Make the closed-lost reason required in the CRM: %" PRIu64
                       " of the %" PRIu64 " losses of %s have none, so this pattern cannot be "
                       "explained", top->cur, g->cur, lab);
    else
        revops_buf_fmt(&act[na], "Review the %" PRIu64 " losses of %s to \"%s\" (largest: %s) with "
                       "the sales managers and agree one change to qualification, pricing or the "
                       "offer that addresses it", top->cur, lab, top->text, top->kept[0].id);
    actions[na] = revops_buf_cstr(&act[na]);
    na++;
    if (v->rising) {
        revops_buf_fmt(&act[na], "Find out why \"%s\" rose from %.1f%% to %.1f%% of the losses "
                       "of %s since the previous period (pricing, packaging, target segment, a "
                       "competitor's move) and report back before the next forecast call",
                       top->text, v->prev_share_pct, v->share_pct, lab);
        actions[na] = revops_buf_cstr(&act[na]);
        na++;
    }
    if (v->top_comp >= 0 && v->comp_pct >= st->competitive_share - A2_EPSILON) {
        revops_buf_fmt(&act[na], "Refresh the battlecard against %s (%" PRIu64 " of the %" PRIu64
                       " competitive losses of %s) and run a win/loss review of those deals "
                       "with the team", st->comps[v->top_comp], g->comp_cur[v->top_comp],
                       g->cur_comp, lab);
        actions[na] = revops_buf_cstr(&act[na]);
        na++;
    }

    int failed = 0;
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) failed |= bufs[i].oom;
    revops_status rc = REVOPS_OK;
    if (failed) {
        rc = out_of_memory(st, "a finding's texts");
    } else {
        revops_signal sig[SIG_COUNT] = {
            { "top_reason_share", v->share_pct, st->high_share, st->w_share,
              revops_buf_cstr(&ev[0]) },
            { "top_reason_trend", v->trend_pp, st->rising_pp, st->w_trend,
              revops_buf_cstr(&ev[1]) },
            { "competitive_loss_share", v->comp_pct, st->competitive_share, st->w_comp,
              revops_buf_cstr(&ev[2]) },
            { "amount_lost", (double)g->cur_cents / 100.0, 0.0, 0.0, revops_buf_cstr(&ev[3]) },
        };
        revops_finding f = {
            .analysis = "A2",
            .account_id = g->key,
            .account_name = lab,
            .opportunity_id = NULL,
            .category = "closed_lost_pattern",
            .priority = v->priority,
            .score = v->score,
            .confidence = v->confidence,
            .title = revops_buf_cstr(title),
            .description = revops_buf_cstr(desc),
            .nsignals = SIG_COUNT,
            .signals = sig,
            .nactions = na,
            .recommended_actions = actions,
        };
        rc = st->host->emit_finding(emit, &f);
        if (rc != REVOPS_OK)
            st->host->error(st->self, "could not emit the finding for '%s'", g->key);
    }
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) revops_buf_free(&bufs[i]);
    return rc;
}

static revops_status a2_finalize(void *state, revops_emitter *emit)
{
    a2_state *st = state;
    report_bad(st);

    /* the top reason and runner-up of every group */
    for (size_t i = 0; i < st->reasons.cap; i++) {
        reason_stat *r = st->reasons.vals[i];
        if (!r || !r->cur) continue;
        group *g = r->g;
        if (!g->best || reason_before(r, g->best)) {
            g->second = g->best;
            g->best = r;
        } else if (!g->second || reason_before(r, g->second)) {
            g->second = r;
        }
    }

    size_t ngroups = st->groups.count, n = 0, small = 0;
    verdict *vs = ngroups ? malloc(ngroups * sizeof *vs) : NULL;
    if (ngroups && !vs) return out_of_memory(st, "the findings");
    for (size_t i = 0; i < st->groups.cap; i++) {
        group *g = st->groups.vals[i];
        if (!g || !g->cur) continue;
        if (g->cur < (uint64_t)st->min_losses) {
            small++;
            continue;
        }
        vs[n++] = judge(st, g);
    }
    if (n) qsort(vs, n, sizeof *vs, verdict_order);
    revops_status rc = REVOPS_OK;
    for (size_t i = 0; i < n && rc == REVOPS_OK; i++) rc = emit_verdict(st, &vs[i], emit);
    free(vs);

    if (st->ds.rows == 0)
        st->host->log(st->self, REVOPS_LOG_WARN,
                      "A2 as of %s: input 'opportunities' returned no rows: no closed-lost "
                      "opportunities to analyse, no findings", st->as_of_text);
    else if (st->n_cur == 0)
        st->host->log(st->self, REVOPS_LOG_WARN,
                      "A2 as of %s: none of the %" PRIu64 " closed-lost opportunities read closed "
                      "in the window %s..%s%s: no findings", st->as_of_text, st->ds.rows,
                      st->cur_start_text, st->cur_end_text,
                      st->n_other_type ? " for the selected account_types" : "");
    st->host->log(st->self, REVOPS_LOG_INFO,
                  "A2 as of %s: window %s..%s (previous %s..%s): %" PRIu64 " closed-lost "
                  "opportunities read, %" PRIu64 " in the window, %" PRIu64 " in the previous "
                  "one, %" PRIu64 " outside both, %" PRIu64 " of other account types; %zu "
                  "findings, %zu groups below min_losses %" PRId64,
                  st->as_of_text, st->cur_start_text, st->cur_end_text, st->prev_start_text,
                  st->prev_end_text, st->ds.rows, st->n_cur, st->n_prev, st->n_outside,
                  st->n_other_type, n, small, st->min_losses);
    return rc;
}

/* -------------------------------------------------------- lifecycle -- */

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++) free(list[i]);
    free(list);
}

static void free_reason(void *p)
{
    reason_stat *r = p;
    if (r)
        for (size_t k = 0; k < r->nkept; k++) free(r->kept[k].id);
    free(r);
}

static void free_group(void *p)
{
    group *g = p;
    if (g) free(g->comp_cur);
    free(g);
}

static void a2_destroy(void *state)
{
    a2_state *st = state;
    if (!st) return;
    revops_map_free(&st->reasons, free_reason);
    revops_map_free(&st->groups, free_group);
    free_list(st->types, st->ntypes);
    free_list(st->comps, st->ncomps);
    revops_buf_free(&st->key);
    free(st);
}

static int set_as_of(a2_state *st, const revops_options *opts)
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
    st->cur_start = months_before(st, st->as_of, st->window_months);
    st->prev_start = months_before(st, st->as_of, 2 * st->window_months);
    st->host->date_format(st->as_of, st->as_of_text);
    st->host->date_format(st->cur_start, st->cur_start_text);
    st->host->date_format(st->as_of - 1, st->cur_end_text);
    st->host->date_format(st->prev_start, st->prev_start_text);
    st->host->date_format(st->cur_start - 1, st->prev_end_text);
    return 0;
}

/* A LIST option as trimmed, non-empty copies. */
static int copy_list(a2_state *st, const revops_options *opts, const char *name, char ***out,
                     size_t *n)
{
    const revops_host *h = st->host;
    size_t len = h->opt_list_len(opts, name);
    *n = 0;
    *out = calloc(len ? len : 1, sizeof **out);
    if (!*out) return -1;
    for (size_t i = 0; i < len; i++) {
        const char *item = h->opt_list_item(opts, name, i);
        size_t tl;
        const char *t = trim(item ? item : "", strlen(item ? item : ""), &tl);
        if (!tl) continue;
        char *p = malloc(tl + 1);
        if (!p) return -1;
        memcpy(p, t, tl);
        p[tl] = '\0';
        (*out)[(*n)++] = p;
    }
    return 0;
}

static int copy_options(a2_state *st, const revops_options *opts)
{
    const revops_host *h = st->host;
    st->window_months = h->opt_int(opts, "window_months");
    st->min_losses = h->opt_int(opts, "min_losses");
    st->confident_losses = h->opt_int(opts, "confident_losses");
    st->high_share = h->opt_real(opts, "high_share_pct");
    st->medium_share = h->opt_real(opts, "medium_share_pct");
    st->rising_pp = h->opt_real(opts, "rising_pp");
    st->trend_full_pp = h->opt_real(opts, "trend_full_pp");
    st->competitive_share = h->opt_real(opts, "competitive_share_pct");
    st->w_share = h->opt_real(opts, "weight_share");
    st->w_trend = h->opt_real(opts, "weight_trend");
    st->w_comp = h->opt_real(opts, "weight_competitive");
    if (st->window_months < 1 || st->min_losses < 1 || st->confident_losses < 1) {
        h->error(st->self, "options window_months, min_losses and confident_losses must be >= 1");
        return -1;
    }
    if (!(st->trend_full_pp > 0)) {
        h->error(st->self, "option trend_full_pp must be > 0");
        return -1;
    }
    if (!(st->high_share >= st->medium_share)) {
        h->error(st->self, "options high_share_pct (%g) >= medium_share_pct (%g) must hold",
                 st->high_share, st->medium_share);
        return -1;
    }

    /* group_by: known dimensions, each once */
    size_t ng = h->opt_list_len(opts, "group_by");
    for (size_t i = 0; i < ng; i++) {
        const char *item = h->opt_list_item(opts, "group_by", i);
        size_t tl;
        const char *t = trim(item ? item : "", strlen(item ? item : ""), &tl);
        int dim = -1;
        for (int d = 0; d < DIM_COUNT; d++)
            if (strlen(dim_names[d]) == tl && strncmp(t, dim_names[d], tl) == 0) dim = d;
        if (dim < 0) {
            h->error(st->self, "option group_by: '%s' is not a dimension (allowed: account_type, "
                     "region, industry, owner, deal_size)", item ? item : "");
            return -1;
        }
        for (size_t k = 0; k < st->ndims; k++)
            if (st->dims[k] == dim) {
                h->error(st->self, "option group_by: '%s' is listed twice", dim_names[dim]);
                return -1;
            }
        st->dims[st->ndims++] = dim;
    }
    if (!st->ndims) {
        h->error(st->self, "option group_by is empty: name at least one of account_type, region, "
                 "industry, owner, deal_size");
        return -1;
    }

    /* deal_size_bands: ascending non-negative numbers */
    size_t nb = h->opt_list_len(opts, "deal_size_bands");
    if (nb > A2_MAX_BANDS) {
        h->error(st->self, "option deal_size_bands: at most %d bounds", A2_MAX_BANDS);
        return -1;
    }
    for (size_t i = 0; i < nb; i++) {
        const char *item = h->opt_list_item(opts, "deal_size_bands", i);
        char *end;
        double x = strtod(item ? item : "", &end);
        while (is_space((unsigned char)*end)) end++;
        if (!item || end == item || *end || !(x >= 0 && x < 1e13) ||
            (st->nbands && !(x > st->bands[st->nbands - 1]))) {
            h->error(st->self, "option deal_size_bands: '%s' is not a number above the previous "
                     "bound (give ascending amounts, e.g. [\"25000\", \"100000\"])",
                     item ? item : "");
            return -1;
        }
        st->bands[st->nbands++] = x;
    }

    if (copy_list(st, opts, "account_types", &st->types, &st->ntypes) < 0 ||
        copy_list(st, opts, "competitors", &st->comps, &st->ncomps) < 0) {
        h->error(st->self, "out of memory reading the options");
        return -1;
    }
    if (st->ncomps > 64) {
        h->error(st->self, "option competitors: at most 64 names");
        return -1;
    }
    return 0;
}

static revops_status a2_init(revops_instance *self, const revops_host *host,
                             const revops_options *opts, const revops_run_info *run,
                             void **state)
{
    (void)run;
    a2_state *st = calloc(1, sizeof *st);
    if (!st) {
        host->error(self, "out of memory");
        return REVOPS_ERROR;
    }
    st->self = self;
    st->host = host;
    if (copy_options(st, opts) < 0 || set_as_of(st, opts) < 0) {
        a2_destroy(st);
        return REVOPS_ERROR;
    }
    *state = st;
    return REVOPS_OK;
}

/* -------------------------------------------------------- descriptor -- */

static const revops_input_def inputs[] = {
    { "opportunities", 1,
      "opportunity_id,sf_account_id,account_type,account_region,industry,owner_id,amount,"
      "closed_at_date,closed_won_lost_reason",
      "closed-lost opportunities of the current and previous window, with their account's "
      "type, region and industry; dates as YYYY-MM-DD" },
    { NULL, 0, NULL, NULL }
};

static const revops_analysis_vtable vtable = {
    .analysis_type = "A2",
    .inputs = inputs,
    .init = a2_init,
    .process_chunk = a2_process_chunk,
    .finalize = a2_finalize,
    .destroy = a2_destroy,
};

static const revops_option_def options[] = {
    { "as_of", REVOPS_OPT_DATE, 0, NULL, 0, 0, NULL, 0,
      "reference date YYYY-MM-DD (default: today, UTC); the window ends the day before" },
    { "window_months", REVOPS_OPT_INT, 0, "12", 1, 60, NULL, 0,
      "months in the current window (and in the previous one it is compared with)" },
    { "group_by", REVOPS_OPT_LIST, 0, "account_type", 0, 0, NULL, 0,
      "dimensions, one finding set each: account_type, region, industry, owner, deal_size" },
    { "deal_size_bands", REVOPS_OPT_LIST, 0, "25000,100000", 0, 0, NULL, 0,
      "ascending amount bounds of the deal_size bands (below the first ... from the last)" },
    { "account_types", REVOPS_OPT_LIST, 0, "", 0, 0, NULL, 0,
      "only losses of accounts of these types (exact match); empty: all" },
    { "competitors", REVOPS_OPT_LIST, 0, "Snowflake,Databricks,BigQuery,Redshift,ClickHouse", 0, 0,
      NULL, 0, "competitor names looked for in reasons (whole word, case-insensitive)" },
    { "min_losses", REVOPS_OPT_INT, 0, "5", 1, 1000000, NULL, 0,
      "a group needs this many losses in the window for a finding (and in the previous one "
      "for a trend)" },
    { "high_share_pct", REVOPS_OPT_REAL, 0, "40", 0, 100, NULL, 0,
      "top reason share (%) from which a finding is high (critical when also rising)" },
    { "medium_share_pct", REVOPS_OPT_REAL, 0, "25", 0, 100, NULL, 0,
      "top reason share (%) from which a finding is medium" },
    { "rising_pp", REVOPS_OPT_REAL, 0, "10", 0, 100, NULL, 0,
      "rise of the top reason's share in percentage points that counts as rising" },
    { "trend_full_pp", REVOPS_OPT_REAL, 0, "20", 0.1, 100, NULL, 0,
      "rise in percentage points at which the trend's part of the score is full" },
    { "competitive_share_pct", REVOPS_OPT_REAL, 0, "30", 0, 100, NULL, 0,
      "competitive-loss share (%) from which a battlecard review is recommended" },
    { "weight_share", REVOPS_OPT_REAL, 0, "0.5", 0, 1, NULL, 0,
      "weight of the top reason's share in the score" },
    { "weight_trend", REVOPS_OPT_REAL, 0, "0.3", 0, 1, NULL, 0,
      "weight of the top reason's rise in the score" },
    { "weight_competitive", REVOPS_OPT_REAL, 0, "0.2", 0, 1, NULL, 0,
      "weight of the competitive-loss share in the score" },
    { "confident_losses", REVOPS_OPT_INT, 0, "30", 1, 1000000, NULL, 0,
      "losses in a group at which the sample-size part of the confidence is full" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_ANALYSIS, "closed_lost_patterns", "1.0.0",
    "A2: the common closed-lost reasons per group, their trend and competitive losses",
    options, { .analysis = &vtable }
};
