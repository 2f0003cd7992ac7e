/*
 * Unit test of plugins/analysis_a1.c through the mock host (no core).
 *
 * The plugin is found in one of two ways:
 *   - linked in: build the plugin's .c into this binary and its descriptor
 *     (a weak reference here) is used directly;
 *   - dlopen'ed: otherwise the .so named by argv[1], else $REVOPS_A1_PLUGIN,
 *     else $top_builddir/plugins/.libs/at_risk_accounts.so (what `make check`
 *     builds; top_builddir is exported by the test environment).
 *
 *   gcc -std=gnu11 -Wall -Wextra -I include $(pkg-config --cflags json-c) \
 *       tests/test_a1_unit.c tests/mock_host.c plugins/analysis_a1.c \
 *       $(pkg-config --libs json-c) -lm -o test_a1_unit && ./test_a1_unit
 * or
 *   gcc -std=gnu11 -Wall -Wextra -fPIC -shared -I include plugins/analysis_a1.c -o a1.so
 *   gcc -std=gnu11 -Wall -Wextra -I include $(pkg-config --cflags json-c) \
 *       tests/test_a1_unit.c tests/mock_host.c $(pkg-config --libs json-c) -ldl -lm \
 *       -o test_a1_unit && ./test_a1_unit ./a1.so
 *
 * Synthetic warehouse, as_of 2026-11-01, so the decline window is
 * 2026-07 .. 2026-10 (M-3 .. M0):
 *   ACC-001 Northwind: usage 100 > 90 > 80 > 70 (-30%) + renewal 45 days late -> 0.45 high
 *   ACC-002 Contoso:   usage 100 > 95 > 90 > 85 (-15%, under 20%)              -> no finding
 *   ACC-003 Fabrikam:  usage 100 > 80 < 85 > 50 (broken) + opp stalled 214 d   -> 0.20 medium
 *   ACC-004 Tailspin:  no usage, renewal 150 days late, old closed-lost renewal -> 0.30 medium
 *   ACC-005 (non-ASCII name): -40%, renewal 92 d, stall 153 d                  -> 0.87 critical
 *   ACC-006 (no name): 8 opps stalled 61..67 d (+ one at exactly 60 d)         -> 0.074 low
 *   ACC-007 (no name): 100 > 80 > 60 > no rows in M0 (-100%), partial history  -> 0.50 high
 * plus rows with a NULL account, an unparseable date and a NULL metric.
 * The whole thing runs with everything in one chunk and with one row per
 * chunk; both must give identical findings.  Output is TAP; exit 1 on failure.
 */
#include "mock_host.h"

#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Defined only when the plugin's .c is linked into this binary. */
extern const revops_plugin revops_plugin_descriptor __attribute__((weak));

static const revops_plugin *a1;   /* the plugin under test */

/* ------------------------------------------------------------- TAP -- */

static int checks, failures;

REVOPS_PRINTF(2, 3)
static int ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s %d - ", cond ? "ok" : "not ok", ++checks);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (!cond) failures++;
    return cond;
}

static int near(double a, double b)
{
    return fabs(a - b) < 1e-9;
}

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

/* ------------------------------------------------------------ tables -- */

/* A table of cells written as strings: NULL is a NULL cell, "#12" an INT
 * cell, "@..." a TIMESTAMP cell, anything else takes the column's type. */
typedef struct table {
    const char *dataset;
    size_t ncols;
    const revops_column *cols;
    size_t nrows;
    const char *const *cells;
} table;

static const revops_column account_cols[] = {
    { "sf_account_id", REVOPS_TYPE_TEXT }, { "sf_account_name", REVOPS_TYPE_TEXT },
};
static const char *const account_rows[] = {
    "ACC-001", "Northwind Analytics",
    "ACC-002", "Contoso Ltd",
    "ACC-003", "Fabrikam Inc",
    NULL,      "Ghost Corp",                               /* row 4: NULL account */
    "ACC-004", "Tailspin Toys",
    "ACC-005", "Soci\xc3\xa9t\xc3\xa9 G\xc3\xa9n\xc3\xa9rale \xe2\x98\x83 \xe6\xa0\xaa\xe5\xbc\x8f\xe4\xbc\x9a\xe7\xa4\xbe",
    "ACC-001", "Northwind Duplicate",                      /* first name wins */
};
#define ACC5_NAME "Soci\xc3\xa9t\xc3\xa9 G\xc3\xa9n\xc3\xa9rale \xe2\x98\x83 \xe6\xa0\xaa\xe5\xbc\x8f\xe4\xbc\x9a\xe7\xa4\xbe"

static const revops_column opp_cols[] = {
    { "opportunity_id", REVOPS_TYPE_TEXT }, { "sf_account_id", REVOPS_TYPE_TEXT },
    { "opportunity_type", REVOPS_TYPE_TEXT }, { "stage_name", REVOPS_TYPE_TEXT },
    { "close_date", REVOPS_TYPE_DATE }, { "last_stage_change_date", REVOPS_TYPE_DATE },
    { "amount", REVOPS_TYPE_REAL },
};
static const char *const opp_rows[] = {
    "OPP-101", "ACC-001", "Renewal", "Negotiation", "2026-09-17", "2026-10-20", "120000",
    "OPP-102", "ACC-001", "New Business", "Closed Won", "2025-03-01", "2025-03-01", "50000",
    "OPP-201", "ACC-002", "Renewal", "Closed Won", "2026-01-01", "2026-01-01", "40000",
    "OPP-901", NULL, "Renewal", "Negotiation", "2026-01-01", "2026-01-01", "1",  /* row 4 */
    "OPP-301", "ACC-003", "New Business", "Discovery", "2027-01-31", "2026-04-01", "80000",
    "OPP-401", "ACC-004", "Renewal", "Proposal", "2026-06-04", "2026-10-01", "200000",
    "OPP-402", "ACC-004", "Renewal", "Closed Lost", "2025-01-15", "2025-01-15", "90000",
    "OPP-403", "ACC-004", "Expansion", "Closed Lost", "31/12/2026", "2025-02-01", "10",
    "OPP-501", "ACC-005", "Renewal", "Negotiation", "2026-08-01", "2026-10-20", "300000",
    "OPP-502", "ACC-005", "Expansion", "Qualification", "2026-12-15", "2026-06-01", NULL,
    "OPP-603", "ACC-006", "New Business", "Discovery", "2027-03-01", "2026-08-30", "#1000",
    "OPP-608", "ACC-006", "New Business", "Discovery", "2027-03-01", "2026-08-26", "#1000",
    "OPP-601", "ACC-006", "New Business", "Discovery", "2027-03-01", "2026-09-01", "#1000",
    "OPP-609", "ACC-006", "New Business", "Discovery", "2027-03-01", "2026-09-02", "#1000",
    "OPP-607", "ACC-006", "New Business", "Discovery", "2027-03-01", "2026-08-26", "#1000",
    "OPP-602", "ACC-006", "New Business", "Discovery", "2027-03-01", "2026-08-31", "#1000",
    "OPP-605", "ACC-006", "New Business", "Discovery", "2027-03-01", "2026-08-28", "#1000",
    "OPP-604", "ACC-006", "New Business", "Discovery", "2027-03-01", "2026-08-29", "#1000",
    "OPP-606", "ACC-006", "New Business", "Discovery", "2027-03-01", "2026-08-27", "#1000",
};

static const revops_column usage_cols[] = {
    { "sf_account_id", REVOPS_TYPE_TEXT }, { "consumption_date", REVOPS_TYPE_DATE },
    { "engine_hours", REVOPS_TYPE_REAL },
};
/* Deliberately shuffled: accounts and months interleave. */
static const char *const usage_rows[] = {
    "ACC-005", "2026-10-12", "120",
    "ACC-001", "2026-07-20", "40",
    "ACC-002", "2026-13-01", "7",                  /* row 3: unparseable date */
    "ACC-003", "2026-10-01", "50",
    "ACC-007", "2026-09-09", "60",
    NULL,      "2026-08-01", "10",                 /* NULL account */
    "ACC-001", "2026-10-30", "70",
    "ACC-005", "2026-07-01", "200",
    "ACC-002", "2026-08-03", "95",
    "ACC-001", "2026-06-15", "500",                /* before the window */
    "ACC-003", "2026-07-31", "100",
    "ACC-001", "2026-08-05", "#90",                /* INT cell in a REAL column */
    "ACC-005", "@2026-09-30 23:59:59", "150",      /* TIMESTAMP cell */
    "ACC-002", "2026-10-31", "85",
    "ACC-003", "2026-08-10", NULL,                 /* NULL metric */
    "ACC-007", "2026-07-15", "100",
    "ACC-001", "2026-09-01", "50",
    "ACC-003", "2026-09-15", "85",
    "ACC-005", "2026-08-20", "180",
    "ACC-002", "2026-07-04", "100",
    "ACC-001", "2026-11-01", "5",                  /* as_of's month: not complete */
    "ACC-007", "2026-08-08", "80",
    "ACC-001", "2026-07-03", "60",
    "ACC-003", "2026-08-11", "80",
    "ACC-002", "2026-09-09", "90",
    "ACC-001", "2026-09-28", "30",
};

#define NROWS(a, cols) (sizeof(a) / sizeof((a)[0]) / (sizeof(cols) / sizeof((cols)[0])))
#define TABLE(name, cols, rows) \
    { name, sizeof(cols) / sizeof((cols)[0]), cols, NROWS(rows, cols), rows }

static const table tables[] = {
    TABLE("accounts", account_cols, account_rows),
    TABLE("opportunities", opp_cols, opp_rows),
    TABLE("usage", usage_cols, usage_rows),
};

static revops_value make_cell(const char *s, revops_type col_type)
{
    revops_value v = { .type = REVOPS_TYPE_NULL };
    if (!s) return v;
    if (s[0] == '#') {
        v.type = REVOPS_TYPE_INT;
        v.v.i = strtoll(s + 1, NULL, 10);
    } else if (s[0] == '@') {
        v.type = REVOPS_TYPE_TIMESTAMP;
        v.v.text.s = s + 1;
        v.v.text.len = strlen(s + 1);
    } else if (col_type == REVOPS_TYPE_REAL) {
        v.type = REVOPS_TYPE_REAL;
        v.v.r = strtod(s, NULL);
    } else {
        v.type = col_type;
        v.v.text.s = s;
        v.v.text.len = strlen(s);
    }
    return v;
}

/* Feed one table as the core would: chunks of rows_per_chunk rows. */
static revops_status feed(const revops_analysis_vtable *vt, void *state, const table *t,
                          size_t rows_per_chunk)
{
    size_t nchunks = (t->nrows + rows_per_chunk - 1) / rows_per_chunk;
    revops_value *cells = malloc(rows_per_chunk * t->ncols * sizeof *cells);
    revops_status rc = REVOPS_OK;
    for (size_t k = 0; k < nchunks && rc == REVOPS_OK; k++) {
        size_t first = k * rows_per_chunk;
        size_t n = t->nrows - first < rows_per_chunk ? t->nrows - first : rows_per_chunk;
        for (size_t r = 0; r < n; r++)
            for (size_t c = 0; c < t->ncols; c++)
                cells[r * t->ncols + c] = make_cell(t->cells[(first + r) * t->ncols + c],
                                                    t->cols[c].type);
        revops_chunk chunk = {
            .dataset = t->dataset, .source = "test", .ncolumns = t->ncols, .columns = t->cols,
            .nrows = n, .cells = cells, .chunk_index = k, .rows_per_chunk = rows_per_chunk,
            .total_rows = (int64_t)t->nrows, .total_chunks = (int64_t)nchunks,
            .last = k + 1 == nchunks,
        };
        rc = vt->process_chunk(state, &chunk);
    }
    free(cells);
    return rc;
}

/* One whole A1 run; findings land in *out.  Returns the first failing status. */
static revops_status run_a1(const mock_option *opts, size_t rows_per_chunk, revops_emitter *out)
{
    const revops_plugin *p = a1;
    const revops_analysis_vtable *vt = p->vt.analysis;
    revops_options *o = mock_options_new(p->options, opts);
    revops_run_info run = { "analysis_20261101_060000", "test", "A1", "manual", 0, 0 };
    void *state = NULL;
    revops_status rc = vt->init(mock_self(), mock_host(), o, &run, &state);
    for (size_t i = 0; rc == REVOPS_OK && i < sizeof tables / sizeof tables[0]; i++)
        rc = feed(vt, state, &tables[i], rows_per_chunk ? rows_per_chunk : tables[i].nrows);
    if (rc == REVOPS_OK) rc = vt->finalize(state, out);
    if (state) vt->destroy(state);
    mock_options_free(o);
    return rc;
}

/* ---------------------------------------------------------- expected -- */

typedef struct exp_signal {
    const char *name;
    double value, threshold, weight;
    const char *evidence_has[3];
} exp_signal;

typedef struct exp_finding {
    const char *account_id, *account_name;
    revops_priority priority;
    double score, confidence;
    const char *title;          /* exact, or NULL */
    size_t nsignals;
    exp_signal signals[3];
} exp_finding;

static const exp_finding expected[] = {
    { "ACC-005", ACC5_NAME, REVOPS_PRIORITY_CRITICAL, 0.87, 1.0,
      ACC5_NAME " is at risk: usage down 40.0% over 3 months, renewal 92 days past due, "
                "opportunity stalled 153 days", 3,
      { { "usage_decline", 40.0, 20, 0.5,
          { "2026-07 200, 2026-08 180, 2026-09 150, 2026-10 120", "down 40.0%", NULL } },
        { "renewal_past_due", 92, 0, 0.3,
          { "OPP-501 (close date 2026-08-01, 92 days past due, amount 300000)", NULL, NULL } },
        { "stalled_opportunity", 153, 60, 0.2,
          { "OPP-502 (last stage change 2026-06-01, 153 days ago)", NULL, NULL } } } },
    { "ACC-007", NULL, REVOPS_PRIORITY_HIGH, 0.5, 0.4,
      "ACC-007 is at risk: usage down 100.0% over 3 months", 1,
      { { "usage_decline", 100.0, 20, 0.5,
          { "2026-07 100, 2026-08 80, 2026-09 60, 2026-10 0", NULL, NULL } } } },
    { "ACC-001", "Northwind Analytics", REVOPS_PRIORITY_HIGH, 0.45, 0.8,
      "Northwind Analytics is at risk: usage down 30.0% over 3 months, "
      "renewal 45 days past due", 2,
      { { "usage_decline", 30.0, 20, 0.5,
          { "engine_hours by month: 2026-07 100, 2026-08 90, 2026-09 80, 2026-10 70", NULL, NULL } },
        { "renewal_past_due", 45, 0, 0.3,
          { "OPP-101 (close date 2026-09-17, 45 days past due, amount 120000)", NULL, NULL } } } },
    { "ACC-004", "Tailspin Toys", REVOPS_PRIORITY_MEDIUM, 0.3, 0.4,
      "Tailspin Toys is at risk: renewal 150 days past due", 1,
      { { "renewal_past_due", 150, 0, 0.3, { "OPP-401 (close date 2026-06-04", NULL, NULL } } } },
    { "ACC-003", "Fabrikam Inc", REVOPS_PRIORITY_MEDIUM, 0.2, 0.6,
      "Fabrikam Inc is at risk: opportunity stalled 214 days", 1,
      { { "stalled_opportunity", 214, 60, 0.2,
          { "OPP-301 (last stage change 2026-04-01, 214 days ago, amount 80000)", NULL, NULL } } } },
    { "ACC-006", NULL, REVOPS_PRIORITY_LOW, 0.2 * 67.0 / 180.0, 0.4,
      "ACC-006 is at risk: opportunity stalled 67 days", 1,
      { { "stalled_opportunity", 67, 60, 0.2,
          { "OPP-607 (last stage change 2026-08-26, 67 days ago, amount 1000), OPP-608 (",
            "OPP-606 (last stage change 2026-08-27, 66 days ago, amount 1000), OPP-605 (",
            "OPP-604 (last stage change 2026-08-29, 64 days ago, amount 1000) and 3 more" } } } },
};
#define NEXPECTED (sizeof expected / sizeof expected[0])

static void check_expected(const char *run, const revops_emitter *e)
{
    if (!ok(e->n == NEXPECTED, "%s: %zu findings (want %zu)", run, e->n, NEXPECTED)) return;
    for (size_t i = 0; i < NEXPECTED; i++) {
        const exp_finding *x = &expected[i];
        const revops_finding *f = &e->findings[i];
        const char *id = x->account_id;
        if (!ok(strcmp(f->account_id, id) == 0, "%s: finding %zu is %s (got %s)", run, i, id,
                f->account_id))
            continue;
        ok(x->account_name ? f->account_name && strcmp(f->account_name, x->account_name) == 0
                           : f->account_name == NULL,
           "%s: %s account_name", run, id);
        ok(strcmp(f->analysis, "A1") == 0 && strcmp(f->category, "at_risk_account") == 0 &&
           f->opportunity_id == NULL, "%s: %s analysis/category/opportunity", run, id);
        ok(f->priority == x->priority, "%s: %s priority %s (got %s)", run, id,
           revops_priority_name(x->priority), revops_priority_name(f->priority));
        ok(near(f->score, x->score), "%s: %s score %.6f (got %.6f)", run, id, x->score, f->score);
        ok(near(f->confidence, x->confidence), "%s: %s confidence %.2f (got %.2f)", run, id,
           x->confidence, f->confidence);
        ok(!x->title || strcmp(f->title, x->title) == 0, "%s: %s title \"%s\"", run, id, f->title);
        ok(f->description && strlen(f->description) > 40 && contains(f->description, id),
           "%s: %s has a description naming the account", run, id);
        if (!ok(f->nsignals == x->nsignals, "%s: %s has %zu signals (got %zu)", run, id,
                x->nsignals, f->nsignals))
            continue;
        ok(f->nactions == f->nsignals, "%s: %s one recommended action per signal", run, id);
        for (size_t s = 0; s < x->nsignals; s++) {
            const exp_signal *xs = &x->signals[s];
            const revops_signal *fs = &f->signals[s];
            ok(strcmp(fs->name, xs->name) == 0 && near(fs->value, xs->value) &&
               near(fs->threshold, xs->threshold) && near(fs->weight, xs->weight),
               "%s: %s signal %s value %g threshold %g weight %g (got %s %g %g %g)", run, id,
               xs->name, xs->value, xs->threshold, xs->weight, fs->name, fs->value,
               fs->threshold, fs->weight);
            for (int k = 0; k < 3 && xs->evidence_has[k]; k++)
                ok(contains(fs->evidence, xs->evidence_has[k]), "%s: %s %s evidence has \"%s\"",
                   run, id, xs->name, xs->evidence_has[k]);
        }
    }
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int same_finding(const revops_finding *a, const revops_finding *b)
{
    if (!same_str(a->analysis, b->analysis) || !same_str(a->account_id, b->account_id) ||
        !same_str(a->account_name, b->account_name) ||
        !same_str(a->opportunity_id, b->opportunity_id) || !same_str(a->category, b->category) ||
        a->priority != b->priority || a->score != b->score || a->confidence != b->confidence ||
        !same_str(a->title, b->title) || !same_str(a->description, b->description) ||
        a->nsignals != b->nsignals || a->nactions != b->nactions ||
        strcmp(a->fingerprint, b->fingerprint) != 0)
        return 0;
    for (size_t i = 0; i < a->nsignals; i++)
        if (!same_str(a->signals[i].name, b->signals[i].name) ||
            a->signals[i].value != b->signals[i].value ||
            a->signals[i].threshold != b->signals[i].threshold ||
            a->signals[i].weight != b->signals[i].weight ||
            !same_str(a->signals[i].evidence, b->signals[i].evidence))
            return 0;
    for (size_t i = 0; i < a->nactions; i++)
        if (!same_str(a->recommended_actions[i], b->recommended_actions[i])) return 0;
    return 1;
}

static void check_same(const char *what, const revops_emitter *a, const revops_emitter *b)
{
    int same = a->n == b->n;
    for (size_t i = 0; same && i < a->n; i++) same = same_finding(&a->findings[i], &b->findings[i]);
    ok(same, "%s: identical findings", what);
}

/* One WARN per dataset that had bad rows, naming dataset, row and value. */
static void check_warnings(const char *run)
{
    static const struct { const char *dataset, *has[2]; } want[] = {
        { "accounts", { "1 of 7 rows", "row 4: sf_account_id is NULL" } },
        { "opportunities", { "2 of 19 rows", "row 4: sf_account_id is NULL" } },
        { "usage", { "3 of 26 rows", "row 3: account ACC-002: consumption_date is '2026-13-01'" } },
    };
    ok(mock_log_count(REVOPS_LOG_WARN) == 3, "%s: 3 warnings (got %zu)", run,
       mock_log_count(REVOPS_LOG_WARN));
    for (size_t w = 0; w < 3; w++) {
        char tag[64];
        snprintf(tag, sizeof tag, "dataset '%s'", want[w].dataset);
        size_t n = 0;
        const char *line = NULL;
        for (size_t i = 0; i < mock_log_total(); i++)
            if (mock_log_level_of(i) == REVOPS_LOG_WARN && contains(mock_log_line(i), tag)) {
                n++;
                line = mock_log_line(i);
            }
        ok(n == 1 && contains(line, want[w].has[0]) && contains(line, want[w].has[1]),
           "%s: one warning for %s: %s", run, want[w].dataset, line ? line : "(none)");
    }
}

/* -------------------------------------------------------------- main -- */

/* The plugin under test: linked in, or dlopen'ed (see the top of the file).
 * Bails out (TAP) when it cannot be found or is not A1. */
static const revops_plugin *load_a1(int argc, char **argv, void **handle)
{
    const revops_plugin *p = &revops_plugin_descriptor;
    *handle = NULL;
    if (!p) {
        char buf[4096];
        const char *path = argc > 1 ? argv[1] : getenv("REVOPS_A1_PLUGIN");
        if (!path) {
            const char *top = getenv("top_builddir");
            snprintf(buf, sizeof buf, "%s/plugins/.libs/at_risk_accounts.so", top ? top : ".");
            path = buf;
        }
        *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!*handle) {
            printf("Bail out! cannot load the A1 plugin: %s\n", dlerror());
            exit(1);
        }
        p = dlsym(*handle, REVOPS_DESCRIPTOR_SYMBOL);
    }
    if (!p || p->magic != REVOPS_PLUGIN_MAGIC || p->kind != REVOPS_KIND_ANALYSIS ||
        strcmp(p->vt.analysis->analysis_type, "A1") != 0) {
        printf("Bail out! the plugin under test is not the A1 analysis\n");
        exit(1);
    }
    return p;
}

int main(int argc, char **argv)
{
    void *handle;
    a1 = load_a1(argc, argv, &handle);
    mock_verbose = getenv("MOCK_VERBOSE") != NULL;
    static const mock_option base[] = { { "as_of", "2026-11-01" }, { NULL, NULL } };
    revops_emitter whole = { 0 }, single = { 0 }, by_clock = { 0 }, other = { 0 };

    mock_reset_logs();
    ok(run_a1(base, 0, &whole) == REVOPS_OK, "one chunk per input: run OK");
    check_expected("one chunk", &whole);
    check_warnings("one chunk");

    mock_reset_logs();
    ok(run_a1(base, 1, &single) == REVOPS_OK, "one row per chunk: run OK");
    check_expected("one row per chunk", &single);
    check_warnings("one row per chunk");
    check_same("one chunk vs one row per chunk", &whole, &single);

    mock_reset_logs();
    ok(run_a1(base, 4, &other) == REVOPS_OK, "four rows per chunk: run OK");
    check_same("one chunk vs four rows per chunk", &whole, &other);
    mock_emitter_free(&other);

    /* No as_of: today from the host clock (2026-11-01 06:00 UTC). */
    mock_reset_logs();
    mock_set_now(20758.0 * 86400.0 + 6 * 3600.0);
    ok(run_a1(NULL, 3, &by_clock) == REVOPS_OK, "as_of from the clock: run OK");
    check_same("as_of option vs clock", &whole, &by_clock);

    /* decline_pct 45: only ACC-007 (-100%) keeps usage_decline. */
    static const mock_option strict[] = { { "as_of", "2026-11-01" }, { "decline_pct", "45" },
                                          { NULL, NULL } };
    mock_reset_logs();
    ok(run_a1(strict, 0, &other) == REVOPS_OK, "decline_pct 45: run OK");
    size_t declines = 0;
    for (size_t i = 0; i < other.n; i++)
        for (size_t s = 0; s < other.findings[i].nsignals; s++)
            declines += strcmp(other.findings[i].signals[s].name, "usage_decline") == 0;
    ok(declines == 1, "decline_pct 45: one usage_decline signal (got %zu)", declines);
    mock_emitter_free(&other);

    /* A metric column the query did not return: error names dataset and column. */
    static const mock_option metric[] = { { "as_of", "2026-11-01" },
                                          { "usage_metric", "query_count" }, { NULL, NULL } };
    mock_reset_logs();
    ok(run_a1(metric, 0, &other) == REVOPS_ERROR && contains(mock_last_error(), "usage") &&
       contains(mock_last_error(), "query_count"),
       "missing usage_metric column is an error: %s", mock_last_error());
    mock_emitter_free(&other);

    static const mock_option bad_order[] = { { "critical_score", "0.3" }, { "high_score", "0.5" },
                                             { NULL, NULL } };
    mock_reset_logs();
    ok(run_a1(bad_order, 0, &other) == REVOPS_ERROR, "critical_score < high_score refused: %s",
       mock_last_error());
    mock_emitter_free(&other);

    if (getenv("A1_PRINT")) {
        const revops_host *h = mock_host();
        for (size_t i = 0; i < whole.n; i++) {
            char *j = h->finding_json(&whole.findings[i]);
            printf("# %s\n", j);
            h->free(j);
        }
    }
    mock_emitter_free(&whole);
    mock_emitter_free(&single);
    mock_emitter_free(&by_clock);
    mock_reset_logs();
    if (handle) dlclose(handle);
    printf("1..%d\n", checks);
    if (failures) printf("# %d of %d checks failed\n", failures, checks);
    return failures ? 1 : 0;
}
