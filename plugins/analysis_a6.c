/*
 * analysis "competitive_intelligence" (A6): which competitors we lose to,
 * how that changes, what it costs, and how often they come up in Gong calls
 * and Slack messages.
 *
 * This implements exactly the rule in docs/analyses/A6.md.  It is streaming:
 * rows arrive in chunks, in any order; everything kept is per competitor (a
 * few counters per window and at most A6_KEEP example ids per list, chosen by
 * a total order so the result does not depend on the row order), never per
 * row.  One finding per competitor with any activity (account_id
 * "competitor:<name>", category "competitor").
 */
#include <revops/revops.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A6_KEEP 5              /* example ids kept per list, for evidence */
#define A6_TEXT_MAX 80         /* bytes of a reason kept for evidence */
#define A6_EPS 1e-9            /* share comparisons: 0.4 must count as >= 0.4 */

enum { IN_OPPORTUNITIES, IN_CALLS, IN_MESSAGES, IN_COUNT };
static const char *const input_names[IN_COUNT] = { "opportunities", "calls", "messages" };

enum { NOW = 0, PREV = 1, NPERIODS = 2 };

/* ------------------------------------------------------------ state -- */

/* One example row for evidence: an opportunity, a call or a message. */
typedef struct example {
    char *id;
    int64_t date;
    double amount;
    int has_amount;
    char *text;           /* the closed-lost reason (opportunities), else NULL */
} example;

/* The latest few examples (date desc, id asc) of one kind, and how many
 * there were in all. */
typedef struct examples {
    uint64_t count;
    size_t n;
    example e[A6_KEEP];
} examples;

typedef struct period {
    uint64_t losses, wins, calls, messages;
    double amount_lost;
} period;

typedef struct competitor {
    char *name;
    period p[NPERIODS];
    examples losses, calls, messages;  /* current window only */
} competitor;

/* A text to look for and the competitor it stands for: every competitor's
 * own name, and every alias. */
typedef struct pattern {
    char *text;
    size_t len;
    size_t comp;
} pattern;

typedef struct a6_state {
    revops_instance *self;
    const revops_host *host;

    int64_t as_of;               /* days since the epoch; the windows end the day before */
    char as_of_text[11];
    int64_t now_start;           /* first day of the current window */
    int64_t prev_start;          /* first day of the previous window; INT64_MIN: unbounded */
    int window_months, previous_months;
    double dominant_share, critical_share, rising_points;
    int64_t min_losses;
    double confidence_losses;
    double w_share, w_trend, w_calls, w_messages;
    char *lost_stage, *won_stage;

    competitor *comp;
    size_t ncomp;
    pattern *pat;
    size_t npat;
    unsigned char *hit;          /* scratch: competitors named by one text */

    /* Totals per window, over all competitors. */
    uint64_t comp_losses[NPERIODS], comp_wins[NPERIODS];
    uint64_t lost[NPERIODS];                 /* all closed-lost opportunities */
    uint64_t calls_any[NPERIODS], messages_any[NPERIODS];  /* naming >= 1 competitor */
    uint64_t multi_losses;                   /* reasons naming 2+ competitors (not counted) */
    char *multi_example;
    uint64_t closed_rows, call_rows, message_rows;  /* usable rows inside the windows */
    revops_bad_rows ds[IN_COUNT];
} a6_state;

/* ------------------------------------------------------ small strings -- */

/* The text built so far, handed over (malloc'd; "" when nothing was added),
 * the buffer emptied; NULL when memory ran out. */
static char *sb_take(revops_buf *sb)
{
    if (!sb->p) revops_buf_add(sb, "", 0);
    char *s = sb->oom ? NULL : sb->p;
    if (!s) free(sb->p);
    *sb = (revops_buf){ 0 };
    return s;
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

/* At most max bytes of s, never cutting a UTF-8 sequence, "..." when cut. */
static char *dup_cut(const char *s, size_t len, size_t max)
{
    size_t n = len;
    int cut = 0;
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
        cut = 1;
    }
    char *p = malloc(n + 4);
    if (!p) return NULL;
    memcpy(p, s, n);
    if (cut) memcpy(p + n, "...", 4);
    else p[n] = '\0';
    return p;
}

/* 1234567.5 -> "1,234,567.50"; whole numbers without decimals. */
static void fmt_amount(double x, char out[64])
{
    char digits[48];
    int neg = x < 0;
    double ax = neg ? -x : x;
    long long whole = (long long)ax;
    long long cents = (long long)((ax - (double)whole) * 100.0 + 0.5);
    if (cents >= 100) { whole++; cents -= 100; }
    snprintf(digits, sizeof digits, "%lld", whole);
    size_t nd = strlen(digits), o = 0;
    if (neg) out[o++] = '-';
    for (size_t i = 0; i < nd; i++) {
        if (i && (nd - i) % 3 == 0) out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    if (cents) snprintf(out + o, 64 - o, ".%02lld", cents);
}

static double clamp01(double x)
{
    return x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x;
}

static double share(uint64_t part, uint64_t whole)
{
    return whole ? (double)part / (double)whole : 0.0;
}

/* ------------------------------------------------------------- dates -- */

static int64_t add_months(const a6_state *st, int64_t day, int months)
{
    /* Calendar months through the host's date helpers: y-m-d -> month - n,
     * day clamped to the target month's length (2026-03-31 - 1 = 2026-02-28). */
    char buf[11], iso[11];
    st->host->date_format(day, buf);
    int y = atoi(buf), m = atoi(buf + 5), d = atoi(buf + 8);
    int64_t total = (int64_t)y * 12 + (m - 1) - months;
    int64_t y2 = total >= 0 ? total / 12 : -((-total + 11) / 12);
    int m2 = (int)(total - y2 * 12) + 1;
    for (int dd = d; dd >= 28; dd--) {
        snprintf(iso, sizeof iso, "%04d-%02d-%02d", (int)y2, m2, dd);
        int64_t r = st->host->date_days(iso);
        if (r != INT64_MIN) {
            char back[11];
            st->host->date_format(r, back);
            if (strcmp(back, iso) == 0) return r;
        }
    }
    snprintf(iso, sizeof iso, "%04d-%02d-%02d", (int)y2, m2, d < 28 ? d : 28);
    return st->host->date_days(iso);
}

/* NOW, PREV, or -1 for a date outside both windows. */
static int period_of(const a6_state *st, int64_t day)
{
    if (day >= st->as_of) return -1;
    if (day >= st->now_start) return NOW;
    if (st->prev_start == INT64_MIN || day >= st->prev_start) return PREV;
    return -1;
}

/* -------------------------------------------------------------- cells -- */

/* revops_cell_text, and a REAL id (a Slack ts read as a number) in full. */
static const char *cell_str(const revops_value *v, char *buf, size_t n)
{
    if (v->type != REVOPS_TYPE_REAL) return revops_cell_text(v, buf, n);
    snprintf(buf, n, "%.17g", v->v.r);
    return buf;
}

/* ------------------------------------------------------- bad rows -- */

static void report_bad(a6_state *st, int input)
{
    revops_bad_rows_report(&st->ds[input], st->host, st->self, input_names[input],
                           "missing or unreadable date or value");
}

/* ------------------------------------------------------ matching -- */

/* Word characters are ASCII letters, digits and '_': a name next to any
 * other character (space, punctuation, non-ASCII text such as Japanese,
 * written without spaces) is a whole word. */
static int word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Does `p` occur in s[0..n) as a whole word, ignoring ASCII case? */
static int contains_word(const char *s, size_t n, const pattern *p)
{
    const unsigned char *t = (const unsigned char *)s, *w = (const unsigned char *)p->text;
    if (!p->len || p->len > n) return 0;
    for (size_t i = 0; i + p->len <= n; i++) {
        size_t k = 0;
        while (k < p->len && lower(t[i + k]) == lower(w[k])) k++;
        if (k < p->len) continue;
        if (i > 0 && word_byte(w[0]) && word_byte(t[i - 1])) continue;
        if (i + p->len < n && word_byte(w[p->len - 1]) && word_byte(t[i + p->len])) continue;
        return 1;
    }
    return 0;
}

/* Mark in st->hit the competitors a text names; returns how many (distinct). */
static size_t mark_competitors(a6_state *st, const revops_value *v)
{
    if (v->type != REVOPS_TYPE_TEXT || !v->v.text.s) return 0;
    size_t named = 0;
    for (size_t i = 0; i < st->npat; i++) {
        const pattern *p = &st->pat[i];
        if (st->hit[p->comp]) continue;
        if (contains_word(v->v.text.s, v->v.text.len, p)) {
            st->hit[p->comp] = 1;
            named++;
        }
    }
    return named;
}

/* ------------------------------------------------------ examples -- */

static int example_before(const example *x, int64_t date, const char *id)
{
    return x->date > date || (x->date == date && strcmp(x->id, id) < 0);
}

/* Count one example; keep it if it is among the latest few.  -1: no memory. */
static int examples_add(examples *ex, const char *id, int64_t date, int has_amount, double amount,
                        const char *text, size_t text_len)
{
    ex->count++;
    size_t pos = ex->n;
    while (pos > 0 && !example_before(&ex->e[pos - 1], date, id)) pos--;
    if (pos >= A6_KEEP) return 0;
    char *copy = dupstr(id);
    char *tcopy = text ? dup_cut(text, text_len, A6_TEXT_MAX) : NULL;
    if (!copy || (text && !tcopy)) {
        free(copy);
        free(tcopy);
        return -1;
    }
    if (ex->n == A6_KEEP) {
        ex->n--;
        free(ex->e[ex->n].id);
        free(ex->e[ex->n].text);
    }
    memmove(&ex->e[pos + 1], &ex->e[pos], (ex->n - pos) * sizeof ex->e[0]);
    ex->e[pos] = (example){ copy, date, amount, has_amount, tcopy };
    ex->n++;
    return 0;
}

static void examples_free(examples *ex)
{
    for (size_t i = 0; i < ex->n; i++) {
        free(ex->e[i].id);
        free(ex->e[i].text);
    }
    ex->n = 0;
}

/* ------------------------------------------------------------ inputs -- */

static int find_input(const char *dataset)
{
    for (int i = 0; i < IN_COUNT; i++)
        if (dataset && strcmp(dataset, input_names[i]) == 0) return i;
    return -1;
}

static int need_column(a6_state *st, const revops_chunk *c, const char *name, long *idx)
{
    *idx = revops_column_index(c, name);
    if (*idx >= 0) return 0;
    st->host->error(st->self, "input '%s' (source '%s') has no column '%s'",
                    c->dataset, c->source ? c->source : "?", name);
    return -1;
}

static revops_status out_of_memory(a6_state *st, const char *what)
{
    st->host->error(st->self, "out of memory keeping %s", what);
    return REVOPS_ERROR;
}

/* Opportunities: closed won / lost with a reason naming exactly one competitor. */
static revops_status take_opportunities(a6_state *st, const revops_chunk *c)
{
    long ki, ks, ka, kd, kr;
    if (need_column(st, c, "opportunity_id", &ki) || need_column(st, c, "stage_name", &ks) ||
        need_column(st, c, "amount", &ka) || need_column(st, c, "closed_at_date", &kd) ||
        need_column(st, c, "closed_won_lost_reason", &kr))
        return REVOPS_ERROR;
    for (size_t r = 0; r < c->nrows; r++) {
        char ibuf[40], sbuf_[40], what[64];
        st->ds[IN_OPPORTUNITIES].rows++;
        const char *stage = cell_str(revops_cell(c, r, (size_t)ks), sbuf_, sizeof sbuf_);
        int lost = stage && strcmp(stage, st->lost_stage) == 0;
        int won = stage && strcmp(stage, st->won_stage) == 0;
        if (!lost && !won) continue;             /* open: not A6's business */
        const char *oid = cell_str(revops_cell(c, r, (size_t)ki), ibuf, sizeof ibuf);
        if (!oid) oid = "(opportunity without id)";
        const revops_value *dv = revops_cell(c, r, (size_t)kd);
        int64_t day;
        if (revops_cell_date(st->host, dv, &day) != REVOPS_CELL_OK) {
            revops_cell_describe(dv, what);
            revops_bad_rows_note(&st->ds[IN_OPPORTUNITIES], "opportunity %s: closed_at_date is %s",
                                 oid, what);
            continue;
        }
        int per = period_of(st, day);
        if (per < 0) continue;
        st->closed_rows++;
        if (lost) st->lost[per]++;
        const revops_value *rv = revops_cell(c, r, (size_t)kr);
        memset(st->hit, 0, st->ncomp);
        size_t named = mark_competitors(st, rv);
        if (named == 0) continue;
        if (named > 1) {
            if (lost) {
                st->multi_losses++;
                if (!st->multi_example && !(st->multi_example = dupstr(oid)))
                    return out_of_memory(st, "an opportunity id");
            }
            continue;
        }
        size_t k = 0;
        while (!st->hit[k]) k++;
        competitor *cp = &st->comp[k];
        double amount = 0;
        const revops_value *av = revops_cell(c, r, (size_t)ka);
        revops_cell_status as = revops_cell_number(av, &amount);
        if (won) {
            cp->p[per].wins++;
            st->comp_wins[per]++;
            continue;
        }
        if (as != REVOPS_CELL_OK) {
            revops_cell_describe(av, what);
            revops_bad_rows_note(&st->ds[IN_OPPORTUNITIES],
                                 "opportunity %s: amount is %s (the loss is counted, its amount "
                                 "as 0)", oid, what);
            amount = 0;
        }
        cp->p[per].losses++;
        cp->p[per].amount_lost += amount;
        st->comp_losses[per]++;
        if (per == NOW &&
            examples_add(&cp->losses, oid, day, as == REVOPS_CELL_OK, amount, rv->v.text.s,
                         rv->v.text.len) < 0)
            return out_of_memory(st, "an opportunity id");
    }
    return REVOPS_OK;
}

/* Calls and messages: which competitors a text names, by window. */
static revops_status take_mentions(a6_state *st, const revops_chunk *c, int input)
{
    int calls = input == IN_CALLS;
    const char *idc = calls ? "gong_call_id" : "message_ts";
    const char *datec = calls ? "call_date" : "message_date";
    long ki, kd, kt1, kt2 = -1;
    if (need_column(st, c, idc, &ki) || need_column(st, c, datec, &kd) ||
        need_column(st, c, calls ? "call_title" : "message_text", &kt1) ||
        (calls && need_column(st, c, "call_summary", &kt2)))
        return REVOPS_ERROR;
    for (size_t r = 0; r < c->nrows; r++) {
        char ibuf[40], what[64];
        st->ds[input].rows++;
        const char *id = cell_str(revops_cell(c, r, (size_t)ki), ibuf, sizeof ibuf);
        if (!id) id = calls ? "(call without id)" : "(message without ts)";
        const revops_value *dv = revops_cell(c, r, (size_t)kd);
        int64_t day;
        if (revops_cell_date(st->host, dv, &day) != REVOPS_CELL_OK) {
            revops_cell_describe(dv, what);
            revops_bad_rows_note(&st->ds[input], "%s %s: %s is %s", calls ? "call" : "message", id,
                                 datec, what);
            continue;
        }
        int per = period_of(st, day);
        if (per < 0) continue;
        if (calls) st->call_rows++;
        else st->message_rows++;
        memset(st->hit, 0, st->ncomp);
        size_t named = mark_competitors(st, revops_cell(c, r, (size_t)kt1));
        if (kt2 >= 0) named += mark_competitors(st, revops_cell(c, r, (size_t)kt2));
        if (!named) continue;
        (calls ? st->calls_any : st->messages_any)[per]++;
        for (size_t k = 0; k < st->ncomp; k++) {
            if (!st->hit[k]) continue;
            competitor *cp = &st->comp[k];
            if (calls) cp->p[per].calls++;
            else cp->p[per].messages++;
            if (per == NOW &&
                examples_add(calls ? &cp->calls : &cp->messages, id, day, 0, 0, NULL, 0) < 0)
                return out_of_memory(st, calls ? "a call id" : "a message id");
        }
    }
    return REVOPS_OK;
}

static revops_status a6_process_chunk(void *state, const revops_chunk *chunk)
{
    a6_state *st = state;
    int input = find_input(chunk->dataset);
    if (input < 0) {
        st->host->error(st->self, "unexpected input '%s': A6 reads opportunities, calls, messages",
                        chunk->dataset ? chunk->dataset : "(null)");
        return REVOPS_ERROR;
    }
    revops_status rc = input == IN_OPPORTUNITIES ? take_opportunities(st, chunk)
                                                 : take_mentions(st, chunk, input);
    if (rc == REVOPS_OK && chunk->last) report_bad(st, input);
    return rc;
}

/* ---------------------------------------------------------- scoring -- */

typedef struct verdict {
    const competitor *c;
    double share_now, share_prev, delta;       /* shares of competitive losses, 0..1 */
    double call_share, message_share;          /* shares of competitor-naming calls/messages */
    int dominant, rising;
    double score, confidence;
    revops_priority priority;
} verdict;

static int active(const competitor *c)
{
    for (int p = 0; p < NPERIODS; p++)
        if (c->p[p].losses || c->p[p].wins || c->p[p].calls || c->p[p].messages) return 1;
    return 0;
}

static verdict judge(const a6_state *st, const competitor *c)
{
    verdict v = { .c = c };
    v.share_now = share(c->p[NOW].losses, st->comp_losses[NOW]);
    v.share_prev = share(c->p[PREV].losses, st->comp_losses[PREV]);
    v.delta = v.share_now - v.share_prev;
    v.call_share = share(c->p[NOW].calls, st->calls_any[NOW]);
    v.message_share = share(c->p[NOW].messages, st->messages_any[NOW]);
    v.dominant = st->comp_losses[NOW] >= (uint64_t)st->min_losses &&
                 v.share_now >= st->dominant_share - A6_EPS && v.delta > A6_EPS;
    v.rising = c->p[NOW].losses > 0 && v.delta * 100.0 >= st->rising_points - A6_EPS;
    double trend = clamp01((v.delta > 0 ? v.delta : 0) / 0.5);
    v.score = clamp01(st->w_share * v.share_now + st->w_trend * trend +
                      st->w_calls * v.call_share + st->w_messages * v.message_share);
    v.priority = v.dominant ? (v.share_now >= st->critical_share - A6_EPS ? REVOPS_PRIORITY_CRITICAL
                                                                         : REVOPS_PRIORITY_HIGH)
               : v.rising ? REVOPS_PRIORITY_MEDIUM : REVOPS_PRIORITY_LOW;
    v.confidence = clamp01(0.4 + 0.6 * clamp01((double)st->comp_losses[NOW] / st->confidence_losses));
    return v;
}

static int verdict_order(const void *x, const void *y)
{
    const verdict *a = x, *b = y;
    if (a->priority != b->priority) return a->priority > b->priority ? -1 : 1;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return strcmp(a->c->name, b->c->name);
}

/* ------------------------------------------------------------ texts -- */

static void window_text(const a6_state *st, int per, revops_buf *sb)
{
    char a[11], b[11];
    if (per == NOW) {
        st->host->date_format(st->now_start, a);
        st->host->date_format(st->as_of - 1, b);
        revops_buf_fmt(sb, "%s..%s", a, b);
    } else if (st->prev_start == INT64_MIN) {
        st->host->date_format(st->now_start, a);
        revops_buf_fmt(sb, "before %s", a);
    } else {
        st->host->date_format(st->prev_start, a);
        st->host->date_format(st->now_start - 1, b);
        revops_buf_fmt(sb, "%s..%s", a, b);
    }
}

static void examples_text(const a6_state *st, const examples *ex, revops_buf *sb)
{
    char day[11], num[64];
    for (size_t i = 0; i < ex->n; i++) {
        const example *e = &ex->e[i];
        st->host->date_format(e->date, day);
        revops_buf_fmt(sb, "%s%s (%s", i ? ", " : "", e->id, day);
        if (e->has_amount) {
            fmt_amount(e->amount, num);
            revops_buf_fmt(sb, ", amount %s", num);
        }
        if (e->text) revops_buf_fmt(sb, ", '%s'", e->text);
        revops_buf_fmt(sb, ")");
    }
    if (ex->count > ex->n) revops_buf_fmt(sb, " and %" PRIu64 " more", ex->count - (uint64_t)ex->n);
}

static void loss_share_evidence(const a6_state *st, const verdict *v, revops_buf *sb)
{
    const competitor *c = v->c;
    revops_buf_fmt(sb, "%" PRIu64 " of %" PRIu64 " competitive losses closed ", c->p[NOW].losses,
                   st->comp_losses[NOW]);
    window_text(st, NOW, sb);
    revops_buf_fmt(sb, " name %s (%.1f%%; dominant from %g%% with at least %" PRId64
                   " competitive losses in the window and a rising share)",
                   c->name, 100.0 * v->share_now, 100.0 * st->dominant_share, st->min_losses);
    if (c->losses.n) {
        revops_buf_fmt(sb, "; latest: ");
        examples_text(st, &c->losses, sb);
    }
}

static void trend_evidence(const a6_state *st, const verdict *v, revops_buf *sb)
{
    const competitor *c = v->c;
    revops_buf_fmt(sb, "previous window (");
    window_text(st, PREV, sb);
    revops_buf_fmt(sb, "): %" PRIu64 " of %" PRIu64 " competitive losses (%.1f%%); current "
                   "window: %" PRIu64 " of %" PRIu64 " (%.1f%%); %s %.1f points (rising: up %g "
                   "points or more)",
                   c->p[PREV].losses, st->comp_losses[PREV], 100.0 * v->share_prev,
                   c->p[NOW].losses, st->comp_losses[NOW], 100.0 * v->share_now,
                   v->delta >= 0 ? "up" : "down",
                   100.0 * (v->delta >= 0 ? v->delta : -v->delta), st->rising_points);
}

static void amount_evidence(const a6_state *st, const verdict *v, revops_buf *sb)
{
    const competitor *c = v->c;
    char now[64], prev[64];
    fmt_amount(c->p[NOW].amount_lost, now);
    fmt_amount(c->p[PREV].amount_lost, prev);
    revops_buf_fmt(sb, "amount of the %" PRIu64 " opportunities lost to %s in ", c->p[NOW].losses,
                   c->name);
    window_text(st, NOW, sb);
    revops_buf_fmt(sb, ": %s; previous window (", now);
    window_text(st, PREV, sb);
    revops_buf_fmt(sb, "): %s over %" PRIu64 " losses", prev, c->p[PREV].losses);
}

static void win_rate_text(const competitor *c, int per, revops_buf *sb)
{
    uint64_t n = c->p[per].wins + c->p[per].losses;
    if (n) revops_buf_fmt(sb, "%.1f%%", 100.0 * share(c->p[per].wins, n));
    else revops_buf_fmt(sb, "n/a");
}

static void win_rate_evidence(const a6_state *st, const verdict *v, revops_buf *sb)
{
    const competitor *c = v->c;
    revops_buf_fmt(sb, "%" PRIu64 " closed-won opportunities name %s in their reason and %" PRIu64
                   " closed-lost ones, ", c->p[NOW].wins, c->name, c->p[NOW].losses);
    window_text(st, NOW, sb);
    revops_buf_fmt(sb, ": win rate ");
    win_rate_text(c, NOW, sb);
    revops_buf_fmt(sb, "; previous window: %" PRIu64 " won, %" PRIu64 " lost, win rate ",
                   c->p[PREV].wins, c->p[PREV].losses);
    win_rate_text(c, PREV, sb);
}

static void mention_evidence(const a6_state *st, const verdict *v, int calls, revops_buf *sb)
{
    const competitor *c = v->c;
    uint64_t now = calls ? c->p[NOW].calls : c->p[NOW].messages;
    uint64_t prev = calls ? c->p[PREV].calls : c->p[PREV].messages;
    uint64_t any = calls ? st->calls_any[NOW] : st->messages_any[NOW];
    revops_buf_fmt(sb, "%" PRIu64 " of %" PRIu64 " %s naming a competitor in ", now, any,
                   calls ? "Gong calls" : "Slack messages");
    window_text(st, NOW, sb);
    revops_buf_fmt(sb, " name %s (%.1f%%); previous window: %" PRIu64, c->name,
                   100.0 * (calls ? v->call_share : v->message_share), prev);
    const examples *ex = calls ? &c->calls : &c->messages;
    if (ex->n) {
        revops_buf_fmt(sb, "; latest %s: ", calls ? "calls" : "messages");
        examples_text(st, ex, sb);
    }
}

static void title_text(const verdict *v, revops_buf *sb)
{
    const competitor *c = v->c;
    if (v->dominant)
        revops_buf_fmt(sb, "%s dominates competitive losses: %.0f%% of recent losses (was %.0f%%)",
                       c->name, 100.0 * v->share_now, 100.0 * v->share_prev);
    else if (v->rising)
        revops_buf_fmt(sb, "%s is rising: %.0f%% of recent competitive losses (was %.0f%%)",
                       c->name, 100.0 * v->share_now, 100.0 * v->share_prev);
    else if (c->p[NOW].losses)
        revops_buf_fmt(sb, "%s: %.0f%% of recent competitive losses (was %.0f%%)", c->name,
                       100.0 * v->share_now, 100.0 * v->share_prev);
    else
        revops_buf_fmt(sb, "%s: no recent competitive losses, %" PRIu64 " recent mentions", c->name,
                       c->p[NOW].calls + c->p[NOW].messages);
}

static void description_text(const a6_state *st, const verdict *v, revops_buf *sb)
{
    const competitor *c = v->c;
    char amt[64];
    fmt_amount(c->p[NOW].amount_lost, amt);
    revops_buf_fmt(sb, "As of %s, over the last %d months (", st->as_of_text, st->window_months);
    window_text(st, NOW, sb);
    revops_buf_fmt(sb, ") we lost %" PRIu64 " opportunities to %s (%.1f%% of %" PRIu64
                   " competitive losses, amount %s); in the previous window (",
                   c->p[NOW].losses, c->name, 100.0 * v->share_now, st->comp_losses[NOW], amt);
    window_text(st, PREV, sb);
    revops_buf_fmt(sb, ") %" PRIu64 " (%.1f%% of %" PRIu64 "). Win rate against %s: ",
                   c->p[PREV].losses, 100.0 * v->share_prev, st->comp_losses[PREV], c->name);
    win_rate_text(c, NOW, sb);
    revops_buf_fmt(sb, ". Mentioned in %" PRIu64 " Gong calls and %" PRIu64
                   " Slack messages (previous window: %" PRIu64 " and %" PRIu64 ").",
                   c->p[NOW].calls, c->p[NOW].messages, c->p[PREV].calls, c->p[PREV].messages);
    if (v->dominant)
        revops_buf_fmt(sb, " %s is the dominant competitor: its share of competitive losses is at "
                       "least %g%% and rose.", c->name, 100.0 * st->dominant_share);
    else if (v->rising)
        revops_buf_fmt(sb, " Its share of competitive losses rose by %.1f points (threshold %g).",
                       100.0 * v->delta, st->rising_points);
    if (st->comp_losses[NOW] < (uint64_t)st->min_losses)
        revops_buf_fmt(sb, " Only %" PRIu64 " competitive losses in the window (fewer than %" PRId64
                       "): too few to call a dominant competitor.", st->comp_losses[NOW],
                       st->min_losses);
}

/* --------------------------------------------------------- findings -- */

enum { SIG_MAX = 6, ACT_MAX = 4, TEXT_MAX = SIG_MAX + ACT_MAX + 2 };

static revops_status emit_verdict(a6_state *st, const verdict *v, revops_emitter *emit)
{
    const competitor *c = v->c;
    revops_signal sig[SIG_MAX];
    const char *actions[ACT_MAX];
    char *texts[TEXT_MAX] = { 0 };
    size_t ns = 0, na = 0, nt = 0;
    revops_buf sb = { 0 };
    int failed = 0;
#define TAKE() (texts[nt] = sb_take(&sb), failed |= !texts[nt], texts[nt++])

    loss_share_evidence(st, v, &sb);
    sig[ns++] = (revops_signal){ "loss_share", 100.0 * v->share_now, 100.0 * st->dominant_share,
                                 st->w_share, TAKE() };
    trend_evidence(st, v, &sb);
    sig[ns++] = (revops_signal){ "loss_share_change", 100.0 * v->delta, st->rising_points,
                                 st->w_trend, TAKE() };
    if (c->p[NOW].losses || c->p[PREV].losses) {
        amount_evidence(st, v, &sb);
        sig[ns++] = (revops_signal){ "amount_lost", c->p[NOW].amount_lost, 0.0, 0.0, TAKE() };
    }
    if (c->p[NOW].wins + c->p[NOW].losses) {
        win_rate_evidence(st, v, &sb);
        sig[ns++] = (revops_signal){ "win_rate",
                                     100.0 * share(c->p[NOW].wins, c->p[NOW].wins + c->p[NOW].losses),
                                     0.0, 0.0, TAKE() };
    }
    if (c->p[NOW].calls || c->p[PREV].calls) {
        mention_evidence(st, v, 1, &sb);
        sig[ns++] = (revops_signal){ "call_mentions", (double)c->p[NOW].calls,
                                     (double)c->p[PREV].calls, st->w_calls, TAKE() };
    }
    if (c->p[NOW].messages || c->p[PREV].messages) {
        mention_evidence(st, v, 0, &sb);
        sig[ns++] = (revops_signal){ "slack_mentions", (double)c->p[NOW].messages,
                                     (double)c->p[PREV].messages, st->w_messages, TAKE() };
    }

    const char *first_loss = c->losses.n ? c->losses.e[0].id : NULL;
    if (v->dominant) {
        revops_buf_fmt(&sb, "Refresh the %s battlecard this month from the reasons of the %" PRIu64
                       " recent losses%s%s%s and brief every account executive on it", c->name,
                       c->p[NOW].losses, first_loss ? " (latest: " : "",
                       first_loss ? first_loss : "", first_loss ? ")" : "");
        actions[na++] = TAKE();
        char amt[64];
        fmt_amount(c->p[NOW].amount_lost, amt);
        revops_buf_fmt(&sb, "Review pricing and packaging against %s with product marketing and "
                       "finance: %s was lost to it in the last %d months", c->name, amt,
                       st->window_months);
        actions[na++] = TAKE();
        revops_buf_fmt(&sb, "Run loss reviews with the owners of the largest deals lost to %s and "
                       "plan win-back outreach for those accounts", c->name);
        actions[na++] = TAKE();
        if (c->p[NOW].calls || c->p[NOW].messages) {
            revops_buf_fmt(&sb, "Add a %s competitive play to the open opportunities of the "
                           "accounts that mentioned it in Gong or Slack (%" PRIu64 " calls, %"
                           PRIu64 " messages)", c->name, c->p[NOW].calls, c->p[NOW].messages);
            actions[na++] = TAKE();
        }
    } else if (v->rising) {
        revops_buf_fmt(&sb, "Watch %s: its share of competitive losses rose %.1f points; review "
                       "the recent losses%s%s%s and update its battlecard", c->name,
                       100.0 * v->delta,
                       first_loss ? " (latest: " : "", first_loss ? first_loss : "",
                       first_loss ? ")" : "");
        actions[na++] = TAKE();
    } else {
        revops_buf_fmt(&sb, "No change needed: keep the %s battlecard current and review this "
                       "competitor again next month", c->name);
        actions[na++] = TAKE();
    }

    char *account_id = NULL;
    title_text(v, &sb);
    char *title = sb_take(&sb);
    description_text(st, v, &sb);
    char *description = sb_take(&sb);
    revops_buf_fmt(&sb, "competitor:%s", c->name);
    account_id = sb_take(&sb);
    failed |= !title || !description || !account_id;
#undef TAKE

    revops_status rc = REVOPS_OK;
    if (failed) {
        rc = out_of_memory(st, "a finding");
    } else {
        revops_finding f = {
            .analysis = "A6",
            .account_id = account_id,
            .account_name = c->name,
            .opportunity_id = NULL,
            .category = "competitor",
            .priority = v->priority,
            .score = v->score,
            .confidence = v->confidence,
            .title = title,
            .description = description,
            .nsignals = ns,
            .signals = sig,
            .nactions = na,
            .recommended_actions = actions,
        };
        rc = st->host->emit_finding(emit, &f);
        if (rc != REVOPS_OK)
            st->host->error(st->self, "could not emit the finding for competitor '%s'", c->name);
    }
    for (size_t i = 0; i < nt; i++) free(texts[i]);
    free(title);
    free(description);
    free(account_id);
    return rc;
}

static revops_status a6_finalize(void *state, revops_emitter *emit)
{
    a6_state *st = state;
    for (int i = 0; i < IN_COUNT; i++) report_bad(st, i);
    if (st->multi_losses)
        st->host->log(st->self, REVOPS_LOG_INFO,
                      "%" PRIu64 " closed-lost reasons name more than one competitor and are not "
                      "counted as competitive losses (first: opportunity %s)",
                      st->multi_losses, st->multi_example);

    if (!st->closed_rows && !st->call_rows && !st->message_rows) {
        st->host->log(st->self, REVOPS_LOG_INFO,
                      "A6 as of %s: no closed opportunities, calls or messages dated inside the "
                      "windows (%" PRIu64 " opportunity, %" PRIu64 " call, %" PRIu64
                      " message rows read): no findings",
                      st->as_of_text, st->ds[IN_OPPORTUNITIES].rows, st->ds[IN_CALLS].rows,
                      st->ds[IN_MESSAGES].rows);
        return REVOPS_OK;
    }

    verdict *vs = malloc((st->ncomp ? st->ncomp : 1) * sizeof *vs);
    if (!vs) return out_of_memory(st, "the findings");
    size_t n = 0, dominant = 0;
    for (size_t i = 0; i < st->ncomp; i++) {
        if (!active(&st->comp[i])) continue;
        vs[n] = judge(st, &st->comp[i]);
        dominant += (size_t)vs[n].dominant;
        n++;
    }
    if (n) qsort(vs, n, sizeof *vs, verdict_order);
    revops_status rc = REVOPS_OK;
    for (size_t i = 0; i < n && rc == REVOPS_OK; i++) rc = emit_verdict(st, &vs[i], emit);
    if (!n)
        st->host->log(st->self, REVOPS_LOG_INFO,
                      "A6 as of %s: no competitor named in %" PRIu64 " closed opportunities, %"
                      PRIu64 " calls and %" PRIu64 " messages: no findings",
                      st->as_of_text, st->closed_rows, st->call_rows, st->message_rows);
    else
        st->host->log(st->self, REVOPS_LOG_INFO,
                      "A6 as of %s: %zu competitors active, %zu dominant; %" PRIu64
                      " competitive losses now, %" PRIu64 " before",
                      st->as_of_text, n, dominant, st->comp_losses[NOW], st->comp_losses[PREV]);
    free(vs);
    return rc;
}

/* -------------------------------------------------------- lifecycle -- */

static void a6_destroy(void *state)
{
    a6_state *st = state;
    if (!st) return;
    for (size_t i = 0; i < st->ncomp; i++) {
        examples_free(&st->comp[i].losses);
        examples_free(&st->comp[i].calls);
        examples_free(&st->comp[i].messages);
        free(st->comp[i].name);
    }
    free(st->comp);
    for (size_t i = 0; i < st->npat; i++) free(st->pat[i].text);
    free(st->pat);
    free(st->hit);
    free(st->lost_stage);
    free(st->won_stage);
    free(st->multi_example);
    free(st);
}

static int set_as_of(a6_state *st, const revops_options *opts)
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

static int same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (lower((unsigned char)*a) != lower((unsigned char)*b)) return 0;
    return *a == *b;
}

static const char *trimmed(const char *s, size_t *len)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    *len = n;
    return s;
}

static int add_pattern(a6_state *st, const char *text, size_t len, size_t comp)
{
    pattern *p = &st->pat[st->npat];
    if (!(p->text = malloc(len + 1))) return -1;
    memcpy(p->text, text, len);
    p->text[len] = '\0';
    p->len = len;
    p->comp = comp;
    st->npat++;
    return 0;
}

static int copy_competitors(a6_state *st, const revops_options *opts)
{
    const revops_host *h = st->host;
    size_t nc = h->opt_list_len(opts, "competitors");
    size_t na = h->opt_list_len(opts, "aliases");
    st->comp = calloc(nc ? nc : 1, sizeof *st->comp);
    st->pat = calloc(nc + na + 1, sizeof *st->pat);
    st->hit = calloc(nc ? nc : 1, 1);
    if (!st->comp || !st->pat || !st->hit) goto oom;
    for (size_t i = 0; i < nc; i++) {
        size_t len;
        const char *item = h->opt_list_item(opts, "competitors", i);
        const char *name = trimmed(item ? item : "", &len);
        if (!len) {
            h->error(st->self, "option competitors: item %zu is empty", i + 1);
            return -1;
        }
        if (add_pattern(st, name, len, st->ncomp) < 0) goto oom;
        for (size_t k = 0; k < st->ncomp; k++)
            if (same_name(st->comp[k].name, st->pat[st->npat - 1].text)) {
                h->error(st->self, "option competitors: '%s' is listed twice", st->comp[k].name);
                return -1;
            }
        if (!(st->comp[st->ncomp].name = dupstr(st->pat[st->npat - 1].text))) goto oom;
        st->ncomp++;
    }
    if (!st->ncomp) {
        h->error(st->self, "option competitors: the list is empty; name at least one competitor");
        return -1;
    }
    for (size_t i = 0; i < na; i++) {
        const char *item = h->opt_list_item(opts, "aliases", i);
        item = item ? item : "";
        const char *eq = strchr(item, '=');
        size_t alen, clen;
        if (!eq) {
            h->error(st->self, "option aliases: '%s' is not ALIAS=COMPETITOR (e.g. "
                     "\"Spark=Databricks\")", item);
            return -1;
        }
        char *left = malloc((size_t)(eq - item) + 1);
        if (!left) goto oom;
        memcpy(left, item, (size_t)(eq - item));
        left[eq - item] = '\0';
        const char *alias = trimmed(left, &alen);
        const char *target = trimmed(eq + 1, &clen);
        size_t k;
        for (k = 0; k < st->ncomp; k++) {
            const char *nm = st->comp[k].name;
            size_t j = 0;
            while (j < clen && nm[j] && lower((unsigned char)nm[j]) == lower((unsigned char)target[j])) j++;
            if (j == clen && nm[j] == '\0') break;
        }
        if (!alen || k == st->ncomp) {
            h->error(st->self, "option aliases: '%s': %s", item,
                     !alen ? "the alias is empty" : "the competitor after '=' is not in option "
                     "competitors");
            free(left);
            return -1;
        }
        int rc = add_pattern(st, alias, alen, k);
        free(left);
        if (rc < 0) goto oom;
    }
    return 0;
oom:
    h->error(st->self, "out of memory reading the options");
    return -1;
}

static int copy_options(a6_state *st, const revops_options *opts)
{
    const revops_host *h = st->host;
    st->window_months = (int)h->opt_int(opts, "window_months");
    st->previous_months = (int)h->opt_int(opts, "previous_months");
    st->dominant_share = h->opt_real(opts, "dominant_share") / 100.0;
    st->critical_share = h->opt_real(opts, "critical_share") / 100.0;
    st->rising_points = h->opt_real(opts, "rising_points");
    st->min_losses = h->opt_int(opts, "min_competitive_losses");
    st->confidence_losses = (double)h->opt_int(opts, "confidence_losses");
    st->w_share = h->opt_real(opts, "weight_share");
    st->w_trend = h->opt_real(opts, "weight_trend");
    st->w_calls = h->opt_real(opts, "weight_calls");
    st->w_messages = h->opt_real(opts, "weight_messages");
    if (st->window_months < 1) st->window_months = 1;
    if (st->confidence_losses < 1) st->confidence_losses = 1;
    if (st->critical_share < st->dominant_share) {
        h->error(st->self, "options critical_share (%g) >= dominant_share (%g) must hold",
                 100.0 * st->critical_share, 100.0 * st->dominant_share);
        return -1;
    }
    const char *lost = h->opt_string(opts, "lost_stage");
    const char *won = h->opt_string(opts, "won_stage");
    st->lost_stage = dupstr(lost ? lost : "Closed Lost");
    st->won_stage = dupstr(won ? won : "Closed Won");
    if (!st->lost_stage || !st->won_stage) {
        h->error(st->self, "out of memory reading the options");
        return -1;
    }
    return copy_competitors(st, opts);
}

static revops_status a6_init(revops_instance *self, const revops_host *host,
                             const revops_options *opts, const revops_run_info *run,
                             void **state)
{
    (void)run;
    a6_state *st = calloc(1, sizeof *st);
    if (!st) {
        host->error(self, "out of memory");
        return REVOPS_ERROR;
    }
    st->self = self;
    st->host = host;
    if (copy_options(st, opts) < 0 || set_as_of(st, opts) < 0) {
        a6_destroy(st);
        return REVOPS_ERROR;
    }
    st->now_start = add_months(st, st->as_of, st->window_months);
    st->prev_start = st->previous_months
                         ? add_months(st, st->as_of, st->window_months + st->previous_months)
                         : INT64_MIN;
    *state = st;
    return REVOPS_OK;
}

/* -------------------------------------------------------- descriptor -- */

static const revops_input_def inputs[] = {
    { "opportunities", 1,
      "opportunity_id,sf_account_id,stage_name,amount,closed_at_date,closed_won_lost_reason",
      "closed won and closed lost opportunities; closed_at_date as YYYY-MM-DD" },
    { "calls", 0, "gong_call_id,sf_account_id,call_date,call_title,call_summary",
      "Gong calls (optional): competitor mentions in title or summary" },
    { "messages", 0, "message_ts,sf_account_id,message_date,message_text",
      "Slack messages (optional): competitor mentions in the text" },
    { NULL, 0, NULL, NULL }
};

static const revops_analysis_vtable vtable = {
    .analysis_type = "A6",
    .inputs = inputs,
    .init = a6_init,
    .process_chunk = a6_process_chunk,
    .finalize = a6_finalize,
    .destroy = a6_destroy,
};

static const revops_option_def options[] = {
    { "as_of", REVOPS_OPT_DATE, 0, NULL, 0, 0, NULL, 0,
      "reference date YYYY-MM-DD (default: today, UTC); windows end the day before" },
    { "competitors", REVOPS_OPT_LIST, 0, "Snowflake,Databricks,BigQuery,Redshift,ClickHouse",
      0, 0, NULL, 0,
      "competitor names, matched case-insensitively as whole words" },
    { "aliases", REVOPS_OPT_LIST, 0, NULL, 0, 0, NULL, 0,
      "more names for a competitor, as ALIAS=COMPETITOR (e.g. \"Spark=Databricks\")" },
    { "window_months", REVOPS_OPT_INT, 0, "6", 1, 60, NULL, 0,
      "current window: this many calendar months before as_of" },
    { "previous_months", REVOPS_OPT_INT, 0, "0", 0, 120, NULL, 0,
      "previous window: this many months before the current one (0: everything before it)" },
    { "dominant_share", REVOPS_OPT_REAL, 0, "40", 0, 100, NULL, 0,
      "a competitor with at least this % of current competitive losses, and a rising share, "
      "is dominant" },
    { "critical_share", REVOPS_OPT_REAL, 0, "60", 0, 100, NULL, 0,
      "a dominant competitor with at least this % of current competitive losses is critical "
      "(else high)" },
    { "rising_points", REVOPS_OPT_REAL, 0, "10", 0, 100, NULL, 0,
      "a share of competitive losses up by at least this many points is rising (medium)" },
    { "min_competitive_losses", REVOPS_OPT_INT, 0, "5", 1, 1000000, NULL, 0,
      "fewest competitive losses in the current window to call a competitor dominant" },
    { "confidence_losses", REVOPS_OPT_INT, 0, "20", 1, 1000000, NULL, 0,
      "competitive losses in the current window for full confidence" },
    { "weight_share", REVOPS_OPT_REAL, 0, "0.5", 0, 1, NULL, 0,
      "weight of the current share of competitive losses in the score" },
    { "weight_trend", REVOPS_OPT_REAL, 0, "0.3", 0, 1, NULL, 0,
      "weight of the rise in that share (50 points = full) in the score" },
    { "weight_calls", REVOPS_OPT_REAL, 0, "0.1", 0, 1, NULL, 0,
      "weight of the share of competitor-naming Gong calls in the score" },
    { "weight_messages", REVOPS_OPT_REAL, 0, "0.1", 0, 1, NULL, 0,
      "weight of the share of competitor-naming Slack messages in the score" },
    { "lost_stage", REVOPS_OPT_STRING, 0, "Closed Lost", 0, 0, NULL, 0,
      "stage_name of lost opportunities (exact match)" },
    { "won_stage", REVOPS_OPT_STRING, 0, "Closed Won", 0, 0, NULL, 0,
      "stage_name of won opportunities (exact match)" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_ANALYSIS, "competitive_intelligence", "1.0.0",
    "A6: competitive losses, win rate and mentions per competitor, and the dominant one",
    options, { .analysis = &vtable }
};
