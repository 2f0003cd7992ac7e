/* Unit tests of the core's modules (TAP).  Each check compares with a value
 * worked out independently (by hand, or by a second route), never with the
 * code's own previous output. */
#include "config.h"
#include "../core/core.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

static void test_dates(void)
{
    ok(date_days("1970-01-01") == 0, "epoch is day 0");
    ok(date_days("2000-03-01") - date_days("2000-02-28") == 2, "2000 is a leap year (Feb 29 exists)");
    ok(date_days("2100-03-01") - date_days("2100-02-28") == 1, "2100 is not a leap year");
    ok(date_days("2026-11-01") == 20758, "2026-11-01 is day 20758 (python3 datetime: (date(2026,11,1) - date(1970,1,1)).days)");
    ok(date_days("2024-02-30") == INT64_MIN, "2024-02-30 is invalid");
    ok(date_days("2024-13-01") == INT64_MIN, "month 13 is invalid");
    ok(date_days("20240101") == INT64_MIN, "missing dashes are invalid");
    ok(date_days("2024-01-05 10:11:12") == date_days("2024-01-05"), "a timestamp's date part is read");
    char buf[11];
    int round_trip = 1;
    for (int64_t d = date_days("0001-01-01"); d < date_days("9999-12-31"); d += 997) {
        date_format(d, buf);
        if (date_days(buf) != d) round_trip = 0;
    }
    ok(round_trip, "date_format and date_days round-trip for years 1..9999");
    date_format(date_days("2024-02-29"), buf);
    ok(strcmp(buf, "2024-02-29") == 0, "2024-02-29 formats back");
}

static void test_cron(void)
{
    cron_expr c;
    char err[256];
    ok(cron_parse("0 6 * * 1", &c, err, sizeof err) == 0 && c.minutes == 1 && c.hours == (1u << 6) && c.wdays == (1u << 1),
       "'0 6 * * 1' is minute 0, hour 6, Monday");
    ok(cron_parse("*/15 9-17 * jan-mar mon-fri", &c, err, sizeof err) == 0 &&
           c.minutes == ((1ULL << 0) | (1ULL << 15) | (1ULL << 30) | (1ULL << 45)) && c.months == 0xE && c.wdays == 0x3E,
       "steps, ranges and names");
    ok(cron_parse("0 0 * * 7", &c, err, sizeof err) == 0 && c.wdays == 1, "day-of-week 7 is Sunday");
    ok(cron_parse("@daily", &c, err, sizeof err) == 0 && c.hours == 1 && c.minutes == 1, "@daily");
    ok(cron_parse("0 25 * * *", &c, err, sizeof err) < 0 && strstr(err, "hour 25 is out of range 0-23"), "hour 25: %s", err);
    ok(cron_parse("0 6 * *", &c, err, sizeof err) < 0 && strstr(err, "has 4 fields; expected 5"), "4 fields: %s", err);
    ok(cron_parse("0 6 31-1 * *", &c, err, sizeof err) < 0 && strstr(err, "goes backwards"), "backwards range: %s", err);
    ok(cron_parse("0 6 * foo *", &c, err, sizeof err) < 0 && strstr(err, "month field 'foo'"), "bad month name: %s", err);
    ok(cron_parse("*/0 * * * *", &c, err, sizeof err) < 0 && strstr(err, "step"), "step 0: %s", err);
    ok(cron_parse("@sometimes", &c, err, sizeof err) < 0 && strstr(err, "unknown cron shorthand"), "bad shorthand: %s", err);
}

static void test_retry(void)
{
    retry_policy p = { 5.0, 2.0, 60.0, 3 };
    retry_seed(12345);
    int within = 1;
    double sum2 = 0, sum4 = 0, max4 = 0;
    for (int i = 0; i < 4000; i++) {
        double d2 = retry_delay(&p, 2), d4 = retry_delay(&p, 4), d9 = retry_delay(&p, 9);
        if (d2 < 0 || d2 > 5.0 || d4 < 0 || d4 > 20.0 || d9 < 0 || d9 > 60.0) within = 0;
        sum2 += d2;
        sum4 += d4;
        if (d4 > max4) max4 = d4;
    }
    ok(within, "full jitter stays in [0, min(cap, 5 * 2^(attempt-2))]");
    ok(fabs(sum2 / 4000 - 2.5) < 0.15, "mean wait before attempt 2 is about 5/2 (%.3f)", sum2 / 4000);
    ok(fabs(sum4 / 4000 - 10.0) < 0.6, "mean wait before attempt 4 is about 20/2 (%.3f)", sum4 / 4000);
    ok(max4 > 18.0, "waits use the whole range (max %.2f of 20)", max4);
    ok(retry_delay(&p, 1) == 0, "no wait before the first attempt");
}

static void test_findings(void)
{
    revops_signal sig = { "usage_decline", 31.5, 20, 0.5, "Jul 100 > Aug 90 > Sep 80 > Oct 68.5" };
    const char *acts[] = { "Call the account owner" };
    revops_finding f = { "A1", "001A", "Acme", NULL, "at_risk_account", REVOPS_PRIORITY_HIGH, 0.5, 0.8,
                         "Acme is at risk", "desc", 1, &sig, 1, acts, "", 0, NULL, 0, NULL, NULL, NULL };
    revops_finding *a = finding_copy(&f);
    f.score = 0.9;
    f.priority = REVOPS_PRIORITY_CRITICAL;
    revops_finding *b = finding_copy(&f);
    ok(strcmp(a->fingerprint, b->fingerprint) == 0, "the fingerprint ignores score and priority");
    /* sha256 of "A1\0" "001A\0" "\0" "at_risk_account\0", worked out with
     * python3 -c "import hashlib; print(hashlib.sha256(b'A1\x00' b'001A\x00\x00at_risk_account\x00').hexdigest())" */
    ok(strcmp(a->fingerprint, "7f1c80c252c54e6f304fcaa8c700508a80419c6439ae0a869c7f5bd7ea07507d") == 0,
       "the fingerprint is SHA-256 of analysis, account, opportunity, category");
    f.account_id = "001B";
    revops_finding *c = finding_copy(&f);
    ok(strcmp(a->fingerprint, c->fingerprint) != 0, "another account gives another fingerprint");
    f.account_id = "001A";
    f.opportunity_id = "";
    revops_finding *d = finding_copy(&f);
    ok(strcmp(a->fingerprint, d->fingerprint) == 0, "an empty opportunity id is the same as none");
    char err[256];
    f.score = 1.5;
    ok(finding_validate(&f, "A1", err, sizeof err) < 0 && strstr(err, "score 1.5 is outside 0..1"), "score > 1 refused: %s", err);
    f.score = 0.5;
    ok(finding_validate(&f, "A2", err, sizeof err) < 0 && strstr(err, "this pipeline runs A2"), "wrong analysis refused: %s", err);
    f.account_id = NULL;
    ok(finding_validate(&f, "A1", err, sizeof err) < 0 && strstr(err, "account_id is missing"), "no account refused");
    f.account_id = "001A";
    f.nsignals = 2;
    f.signals = NULL;
    ok(finding_validate(&f, "A1", err, sizeof err) < 0, "nsignals without signals refused");
    json_object *j = finding_to_json(a);
    ok(strcmp(json_object_get_string(json_object_object_get(j, "priority")), "high") == 0 &&
           json_object_array_length(json_object_object_get(j, "signals")) == 1 &&
           json_object_is_type(json_object_object_get(j, "opportunity_id"), json_type_null),
       "finding JSON has priority, signals and a null opportunity_id");
    json_object_put(j);
    finding_free(a);
    finding_free(b);
    finding_free(c);
    finding_free(d);
}

static void test_trigger(void)
{
    trigger_payload t;
    char err[512];
    const char *good = "{\"triggerType\":\"scheduled\",\"analysisType\":\"A1\",\"maxOpportunities\":100,\"sessionId\":\"analysis_20261101_060000\"}";
    ok(trigger_parse(good, strlen(good), &t, err, sizeof err) == 0 && !strcmp(t.analysis_type, "A1") &&
           t.max_opportunities == 100 && !strcmp(t.session_id, "analysis_20261101_060000"),
       "the spec's payload parses");
    const struct { const char *json, *want; } bad[] = {
        { "{\"triggerType\":\"scheduled\",\"analysisType\":\"A7\"}", "expected one of A1, A2" },
        { "{\"triggerType\":\"scheduled\",\"analysisType\":\"A1\",\"maxOpportunities\":\"100\"}", "\"maxOpportunities\" must be an integer" },
        { "{\"triggerType\":\"scheduled\",\"analysisType\":\"A1\",\"maxOpportunites\":5}", "unknown field \"maxOpportunites\"" },
        { "{\"analysisType\":\"A1\"}", "\"triggerType\" is missing" },
        { "{\"triggerType\":\"scheduled\",\"analysisType\":\"A1\"", "not valid JSON" },
        { "[1,2]", "must be a JSON object" },
        { "{\"triggerType\":\"scheduled\",\"analysisType\":\"A1\",\"sessionId\":\"../../etc\"}", "\"sessionId\" may contain only" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ok(trigger_parse(bad[i].json, strlen(bad[i].json), &t, err, sizeof err) < 0 && strstr(err, bad[i].want),
           "bad payload %zu: %s", i + 1, err);
}

static void test_secrets(void)
{
    char err[512], *out = NULL;
    setenv("REVOPS_TEST_SECRET", "s3cr3t-value", 1);
    ok(secret_resolve("env:REVOPS_TEST_SECRET", &out, err, sizeof err) == 0 && !strcmp(out, "s3cr3t-value"), "env: reference");
    secret_wipe_free(out);
    ok(secret_resolve("env:REVOPS_NOT_SET_ANYWHERE", &out, err, sizeof err) < 0 && strstr(err, "REVOPS_NOT_SET_ANYWHERE is not set or empty"),
       "unset env: %s", err);
    char path[] = "/tmp/revops-secret-XXXXXX";
    int fd = mkstemp(path);
    ok(fd >= 0 && write(fd, "file-secret\n", 12) == 12, "secret file written");
    close(fd);
    chmod(path, 0644);
    char *ref = xasprintf("file:%s", path);
    ok(secret_resolve(ref, &out, err, sizeof err) < 0 && strstr(err, "readable by group or others") && !strstr(err, "file-secret"),
       "a 0644 secret file is refused without showing it: %s", err);
    chmod(path, 0600);
    ok(secret_resolve(ref, &out, err, sizeof err) == 0 && !strcmp(out, "file-secret"), "a 0600 secret file is read, newline stripped");
    secret_wipe_free(out);
    unlink(path);
    free(ref);
}

static const revops_option_def test_defs[] = {
    { "database", REVOPS_OPT_PATH, 1, NULL, 0, 0, NULL, 0, "the database" },
    { "limit", REVOPS_OPT_INT, 0, "10", 1, 100, NULL, 0, "a limit" },
    { "ratio", REVOPS_OPT_REAL, 0, "0.5", 0, 1, NULL, 0, "a ratio" },
    { "mode", REVOPS_OPT_ENUM, 0, "fast", 0, 0, (const char *const[]){ "fast", "slow", NULL }, 0, "a mode" },
    { "token", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 1, "a secret" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};

static void test_options(void)
{
    config_t cfg;
    config_init(&cfg);
    const char *text = "s = {\n  databse = \"x.db\";\n  limit = 500;\n  ratio = \"high\";\n  mode = \"medium\";\n};\n";
    ok(config_read_string(&cfg, text) == CONFIG_TRUE, "test config parses");
    diag *d = diag_new();
    revops_options *o = options_from_config(test_defs, config_lookup(&cfg, "s"), NULL, "source 's'", "/etc/t.conf", d);
    ok(diag_count(d) == 5, "five problems found at once (%zu)", diag_count(d));
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    diag_print(d, mem);
    fclose(mem);
    ok(strstr(buf, ":2: source 's': unknown option 'databse' (did you mean 'database'?)") != NULL, "typo suggestion with line 2");
    ok(strstr(buf, ":3: source 's': option 'limit' = 500 is outside the allowed range 1..100") != NULL, "range with line 3");
    ok(strstr(buf, ":4: source 's': option 'ratio' must be a number, not a string") != NULL, "type with line 4");
    ok(strstr(buf, ":5: source 's': option 'mode': 'medium' is not one of: fast, slow") != NULL, "enum with line 5");
    ok(strstr(buf, ":1: source 's': required option 'database' (path) is missing") != NULL, "required with the group's line");
    free(buf);
    options_free(o);
    diag_free(d);
    config_destroy(&cfg);

    config_init(&cfg);
    config_read_string(&cfg, "s = { database = \"data/x.db\"; };");
    d = diag_new();
    o = options_from_config(test_defs, config_lookup(&cfg, "s"), NULL, "s", "/etc/revops/t.conf", d);
    ok(diag_count(d) == 0, "valid options pass");
    ok(!strcmp(host_services.opt_string(o, "database"), "/etc/revops/data/x.db"), "a relative path is taken from the config's directory");
    ok(host_services.opt_int(o, "limit") == 10 && host_services.opt_real(o, "ratio") == 0.5 &&
           !strcmp(host_services.opt_string(o, "mode"), "fast"),
       "defaults are applied and typed");
    ok(!host_services.opt_is_set(o, "limit"), "a default is not 'set'");
    options_free(o);
    diag_free(d);
    config_destroy(&cfg);
}

static const revops_option_def query_defs[] = {
    { "as_of", REVOPS_OPT_DATE, 0, NULL, 0, 0, NULL, 0, "reference date" },
    { "name", REVOPS_OPT_STRING, 0, "O'Brien", 0, 0, NULL, 0, "a name" },
    { "months", REVOPS_OPT_INT, 0, "12", 1, 100, NULL, 0, "months" },
    { "pct", REVOPS_OPT_REAL, 0, "80.5", 0, 100, NULL, 0, "percent" },
    { "on", REVOPS_OPT_BOOL, 0, "true", 0, 0, NULL, 0, "flag" },
    { "types", REVOPS_OPT_LIST, 0, NULL, 0, 0, NULL, 0, "types" },
    { "label", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 0, "no default" },
    { "token", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 1, "a secret" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};

/* ${option} parameters in queries: SQL literals, quoting, refusals. */
static void test_query_render(void)
{
    config_t cfg;
    config_init(&cfg);
    config_read_string(&cfg, "p = { types = [\"SMB\", \"Mid'Market\"]; token = \"s3cret\"; };");
    diag *d = diag_new();
    revops_options *o = options_from_config(query_defs, config_lookup(&cfg, "p"), NULL, "p", "/etc/t.conf", d);
    ok(diag_count(d) == 0, "query test options valid");
    double now = (double)date_days("2026-11-25") * 86400.0 + 3600;
    char err[512] = "", *out = NULL;
    int rc = query_render("SELECT * FROM t WHERE d >= date(${as_of}, '-${months} months') AND n = ${name} AND p > ${pct} "
                          "AND f = ${on} AND ty IN (${types}) AND cost > $1 AND s = '$$x' AND lit = '$${as_of}'",
                          o, now, &out, err, sizeof err);
    ok(rc == 0 && out && !strcmp(out, "SELECT * FROM t WHERE d >= date('2026-11-25', '-12 months') AND n = 'O''Brien' AND p > 80.5 "
                                      "AND f = TRUE AND ty IN ('SMB', 'Mid''Market') AND cost > $1 AND s = '$$x' AND lit = '${as_of}'"),
       "every option type renders as an SQL literal, quotes doubled, unset as_of is the run's date: %s", out ? out : err);
    free(out);
    out = NULL;
    ok(query_render("x = ${label}", o, now, &out, err, sizeof err) < 0 && strstr(err, "option 'label' has no value"),
       "an unset option without default is refused: %s", err);
    ok(query_render("x = ${token}", o, now, &out, err, sizeof err) < 0 && strstr(err, "sensitive") && !strstr(err, "s3cret"),
       "a sensitive option never goes into a query: %s", err);
    ok(query_render("x = ${nope}", o, now, &out, err, sizeof err) < 0 && strstr(err, "no option 'nope'") && strstr(err, "as_of, name"),
       "an unknown parameter names the options: %s", err);
    ok(query_render("x = ${as_of", o, now, &out, err, sizeof err) < 0 && strstr(err, "is not a parameter"),
       "an unterminated parameter is refused: %s", err);
    ok(query_render("x = ${As-Of}", o, now, &out, err, sizeof err) < 0 && strstr(err, "is not a parameter"),
       "a malformed parameter name is refused: %s", err);
    options_free(o);
    diag_free(d);
    config_destroy(&cfg);
}

/* The header-only analysis helpers of the contract. */
static void test_analysis_helpers(void)
{
    revops_map m = { 0 };
    char key[32];
    int ok_all = 1;
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "acct-%d", i);
        void **slot = revops_map_slot(&m, key);
        if (!slot || *slot) ok_all = 0;
        else *slot = (void *)(intptr_t)(i + 1);
    }
    ok(ok_all && m.count == 1000, "revops_map: 1000 keys created, each slot new (count %zu)", m.count);
    void **again = revops_map_slot(&m, "acct-417");
    ok(again && (intptr_t)*again == 418 && m.count == 1000, "revops_map_slot finds an existing key");
    ok((intptr_t)revops_map_get(&m, "acct-999") == 1000 && revops_map_get(&m, "acct-1000") == NULL,
       "revops_map_get: present and absent keys");
    size_t seen = 0;
    for (size_t i = 0; i < m.cap; i++) if (m.keys[i]) seen++;
    ok(seen == 1000, "iterating the slots visits every key once (%zu)", seen);
    revops_map_free(&m, NULL);
    ok(m.cap == 0 && m.keys == NULL, "revops_map_free resets the map");

    revops_value v;
    double d = 0;
    int64_t days = 0;
    char buf[32], desc[64], num[48];
    v.type = REVOPS_TYPE_TEXT; v.v.text.s = "12.5"; v.v.text.len = 4;
    ok(revops_cell_number(&v, &d) == REVOPS_CELL_OK && d == 12.5, "revops_cell_number reads numeric text");
    v.v.text.s = "12x"; v.v.text.len = 3;
    ok(revops_cell_number(&v, &d) == REVOPS_CELL_BAD, "revops_cell_number refuses '12x'");
    v.type = REVOPS_TYPE_NULL;
    ok(revops_cell_number(&v, &d) == REVOPS_CELL_NULL && revops_cell_date(&host_services, &v, &days) == REVOPS_CELL_NULL,
       "NULL cells are NULL, not bad");
    v.type = REVOPS_TYPE_DATE; v.v.text.s = "2026-11-01"; v.v.text.len = 10;
    ok(revops_cell_date(&host_services, &v, &days) == REVOPS_CELL_OK && days == date_days("2026-11-01"), "revops_cell_date");
    v.type = REVOPS_TYPE_INT; v.v.i = 42;
    ok(!strcmp(revops_cell_text(&v, buf, sizeof buf), "42"), "revops_cell_text prints an integer id");
    v.type = REVOPS_TYPE_TEXT; v.v.text.s = ""; v.v.text.len = 0;
    ok(revops_cell_text(&v, buf, sizeof buf) == NULL, "empty text is absent");
    v.v.text.s = "Zürich Datenwerk AG, a name longer than forty bytes in all"; v.v.text.len = strlen(v.v.text.s);
    revops_cell_describe(&v, desc);
    ok(strstr(desc, "...'") != NULL && desc[0] == '\'', "revops_cell_describe quotes and cuts: %s", desc);
    revops_fmt_num(1234.50, num);
    ok(!strcmp(num, "1234.5"), "revops_fmt_num drops trailing zeros: %s", num);
    revops_fmt_num(70.0, num);
    ok(!strcmp(num, "70"), "revops_fmt_num: 70");
    revops_fmt_num(-0.001, num);
    ok(!strcmp(num, "0"), "revops_fmt_num: -0.001 is 0, not -0: %s", num);

    revops_bad_rows b = { 0 };
    b.rows = 3;
    revops_bad_rows_note(&b, "row %d: %s", 3, "bad date");
    b.rows = 9;
    revops_bad_rows_note(&b, "row %d: %s", 9, "ignored");
    ok(b.bad == 2 && b.first_row == 3 && !strcmp(b.first, "row 3: bad date"), "revops_bad_rows keeps the first problem");
}

typedef struct collect {
    size_t chunks, rows, last_flags;
    size_t sizes[8];
    int64_t last_total;
    int64_t sum_ids;
    revops_type day_type;
} collect;

static revops_status collect_chunk(void *data, const revops_chunk *c)
{
    collect *x = data;
    if (x->chunks < 8) x->sizes[x->chunks] = c->nrows;
    x->chunks++;
    x->rows += c->nrows;
    if (c->last) x->last_flags++, x->last_total = c->total_rows;
    for (size_t r = 0; r < c->nrows; r++) {
        x->sum_ids += revops_cell(c, r, 0)->v.i;
        x->day_type = revops_cell(c, r, 1)->type;
    }
    return REVOPS_OK;
}

static void write_rows(revops_stream *s, int from, int to)
{
    for (int i = from; i < to; i++) {
        revops_value v[2];
        v[0].type = REVOPS_TYPE_INT;
        v[0].v.i = i;
        v[1].type = REVOPS_TYPE_TEXT;
        v[1].v.text.s = "2026-01-02";
        v[1].v.text.len = 10;
        stream_row_impl(s, v);
    }
}

static void test_stream(void)
{
    const revops_column cols[] = { { "id", REVOPS_TYPE_INT }, { "day", REVOPS_TYPE_DATE } };
    collect x = { 0 };
    revops_stream *s = stream_new("usage", "warehouse", 1000, "id,day", collect_chunk, &x);
    ok(stream_columns_impl(s, 2, cols) == REVOPS_OK, "columns accepted");
    write_rows(s, 0, 2500);
    ok(stream_finish(s) == REVOPS_OK, "stream finishes");
    ok(x.chunks == 3 && x.sizes[0] == 1000 && x.sizes[1] == 1000 && x.sizes[2] == 500, "2500 rows -> 1000 + 1000 + 500");
    ok(x.last_flags == 1 && x.last_total == 2500, "exactly one last chunk, carrying the total");
    ok(x.sum_ids == 2499LL * 2500 / 2, "every row arrives once");
    ok(x.day_type == REVOPS_TYPE_DATE, "a text cell in a DATE column is normalised to DATE");
    stream_free(s);

    /* A retried fetch: 1200 rows, failure, then all 2500 again. */
    collect y = { 0 };
    s = stream_new("usage", "warehouse", 1000, NULL, collect_chunk, &y);
    stream_columns_impl(s, 2, cols);
    write_rows(s, 0, 1200);
    stream_restart(s);
    stream_columns_impl(s, 2, cols);
    write_rows(s, 0, 2500);
    stream_finish(s);
    ok(y.rows == 2500 && y.sum_ids == 2499LL * 2500 / 2, "after a retry no row is handed over twice or lost");
    stream_free(s);

    collect z = { 0 };
    s = stream_new("usage", "warehouse", 10, "id,engine_hours,day", collect_chunk, &z);
    ok(stream_columns_impl(s, 2, cols) == REVOPS_ERROR && strstr(stream_error(s), "does not return the column engine_hours") &&
           strstr(stream_error(s), "(it returns: id, day)"),
       "a missing column is named: %s", stream_error(s));
    stream_free(s);

    collect e = { 0 };
    s = stream_new("usage", "warehouse", 10, NULL, collect_chunk, &e);
    stream_columns_impl(s, 2, cols);
    stream_finish(s);
    ok(e.chunks == 1 && e.rows == 0 && e.last_flags == 1, "an empty result is one empty last chunk");
    stream_free(s);

    revops_column c1[] = { { "id", REVOPS_TYPE_INT } };
    revops_value v = { REVOPS_TYPE_INT, { .i = 7 } };
    revops_chunk ch = { "q", "src", 1, c1, 1, &v, 2, 10, 25, 3, 1 };
    json_object *j = chunk_to_json(&ch, NULL, "SELECT 7", "src");
    ok(json_object_get_boolean(json_object_object_get(j, "chunked")) &&
           json_object_get_int(json_object_object_get(j, "chunk_index")) == 2 &&
           json_object_get_int(json_object_object_get(j, "total_chunks")) == 3 &&
           json_object_get_int(json_object_object_get(j, "total_rows")) == 25 &&
           json_object_get_int(json_object_object_get(j, "rows_per_chunk")) == 10 &&
           json_object_object_get(j, "query_info") && json_object_object_get_ex(j, "error", NULL),
       "chunk JSON carries the spec's fields");
    json_object_put(j);
}

typedef struct scan_seen {
    size_t elems;
    int64_t id_sum;
    char meta_first[32];
    int64_t rows_member;
    char last_name[64];
} scan_seen;

static revops_status scan_cb(void *data, const char *member, revops_json *v)
{
    scan_seen *x = data;
    json_object *o = (json_object *)v;
    if (!strcmp(member, "data")) {
        x->elems++;
        x->id_sum += json_object_get_int64(json_object_array_get_idx(o, 0));
        snprintf(x->last_name, sizeof x->last_name, "%s", json_object_get_string(json_object_array_get_idx(o, 1)));
    } else if (!strcmp(member, "meta")) {
        snprintf(x->meta_first, sizeof x->meta_first, "%s",
                 json_object_get_string(json_object_object_get(json_object_array_get_idx(o, 0), "name")));
    } else if (!strcmp(member, "rows")) {
        x->rows_member = json_object_get_int64(o);
    }
    return REVOPS_OK;
}

static void test_json_scan(void)
{
    const char *doc = " {\"meta\": [{\"name\": \"id\"}], \"data\": [[1, \"a]\\\"}\"], [2, \"b\"], [3, null]],"
                      " \"rows\": 3, \"x\": {\"data\": [9]}, \"t\": true}";
    /* Byte by byte: element boundaries must not depend on how bytes arrive. */
    scan_seen a = { 0 };
    json_scan *s = json_scan_new("data", scan_cb, &a);
    int rc = 0;
    for (size_t i = 0; doc[i] && rc == 0; i++) rc = json_scan_feed(s, doc + i, 1);
    ok(rc == 0 && json_scan_finish(s) == 0, "a document fed one byte at a time scans (%s)", json_scan_error(s) ? json_scan_error(s) : "ok");
    ok(a.elems == 3 && a.id_sum == 6, "three array elements, each once");
    ok(!strcmp(a.meta_first, "id") && a.rows_member == 3, "other members arrive whole");
    json_scan_free(s);

    scan_seen b = { 0 };
    s = json_scan_new("data", scan_cb, &b);
    ok(json_scan_feed(s, doc, strlen(doc)) == 0 && json_scan_finish(s) == 0 && b.elems == 3, "the same in one piece");
    json_scan_free(s);

    scan_seen c = { 0 };
    s = json_scan_new("data", scan_cb, &c);
    const char *cut = "{\"data\": [[1, \"a\"], [2, \"b";
    ok(json_scan_feed(s, cut, strlen(cut)) == 0 && json_scan_finish(s) < 0 && strstr(json_scan_error(s), "truncated JSON") &&
           c.elems == 1,
       "a truncated document is reported after the complete elements: %s", json_scan_error(s));
    json_scan_free(s);

    scan_seen d = { 0 };
    s = json_scan_new("data", scan_cb, &d);
    const char *bad = "{\"data\": [[1, \"a\"] [2]]}";
    ok(json_scan_feed(s, bad, strlen(bad)) < 0 && strstr(json_scan_error(s), "at byte 19"),
       "a missing comma is reported with its byte offset: %s", json_scan_error(s));
    json_scan_free(s);

    char *e = url_encode("a b&c=d/é");
    ok(!strcmp(e, "a%20b%26c%3Dd%2F%C3%A9"), "url_encode: %s", e);
    free(e);
}

/* HTTP against tests/fake_http.py on loopback. */
static pid_t fake_pid;
static FILE *fake_in;
static int fake_port;

static int start_fake(void)
{
    int to_child[2], from_child[2];
    if (pipe(to_child) < 0 || pipe(from_child) < 0) return -1;
    fake_pid = fork();
    if (fake_pid == 0) {
        dup2(to_child[0], 0);
        dup2(from_child[1], 1);
        close(to_child[1]);
        close(from_child[0]);
        const char *srcdir = getenv("top_srcdir") ? getenv("top_srcdir") : ".";
        char *script = xasprintf("%s/tests/fake_http.py", srcdir);
        execl("/usr/bin/python3", "python3", script, (char *)NULL);
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    fake_in = fdopen(to_child[1], "w");
    FILE *out = fdopen(from_child[0], "r");
    if (!out || fscanf(out, "PORT %d", &fake_port) != 1) return -1;
    fclose(out);
    return 0;
}

static void stop_fake(void)
{
    if (fake_in) fclose(fake_in);
    if (fake_pid > 0) waitpid(fake_pid, NULL, 0);
}

static revops_status get(revops_instance *in, const char *path, revops_http_response *resp)
{
    char *url = xasprintf("http://127.0.0.1:%d%s", fake_port, path);
    revops_http_request req = { "GET", url, NULL, NULL, 0, 5, 0 };
    revops_status st = http_request(in, &req, resp);
    free(url);
    return st;
}

static void test_http(void)
{
    if (start_fake() < 0) {
        ok(0, "fake HTTP server started (needs /usr/bin/python3)");
        return;
    }
    http_global_init();
    retry_policy rp = { 0.05, 2.0, 1.0, 3 };
    revops_config cfg = { 0 };
    cfg.connect_timeout = 5;
    cfg.http_timeout = 10;
    revops_instance in;
    instance_init(&in, REVOPS_KIND_SOURCE, "test", "http", &cfg, &rp);
    revops_http_response r;

    ok(get(&in, "/ok", &r) == REVOPS_OK && r.status == 200 && r.attempts == 1 && strstr(r.body, "\"ok\": true"),
       "GET /ok: 200 on the first attempt");
    http_response_free(&r);

    double t0 = mono_now();
    revops_status st = get(&in, "/flaky/a/2", &r);
    double took = mono_now() - t0;
    ok(st == REVOPS_OK && r.status == 200 && r.attempts == 3, "429 twice then 200: three attempts (status %ld, attempts %d)",
       r.status, r.attempts);
    ok(took >= 1.9 && took < 4.0, "Retry-After: 1 was honoured twice (%.2fs)", took);
    http_response_free(&r);

    st = get(&in, "/flaky503/b/1", &r);
    ok(st == REVOPS_OK && r.status == 200 && r.attempts == 2, "503 then 200 retried with our own backoff");
    http_response_free(&r);

    st = get(&in, "/status/500", &r);
    ok(st == REVOPS_RETRY && r.status == 500 && r.attempts == 3 && strstr(in.error, "HTTP 500") &&
           strstr(in.error, "retries exhausted"),
       "500 three times: RETRY with the reason (%s)", in.error);
    ok(r.body && strstr(r.body, "status 500 as asked"), "the last error body is kept for the plugin");
    http_response_free(&r);

    st = get(&in, "/status/404", &r);
    ok(st == REVOPS_OK && r.status == 404 && r.attempts == 1, "404 is final: no retry, status returned");
    http_response_free(&r);

    in.deadline = mono_now() + 0.5;
    t0 = mono_now();
    st = get(&in, "/retry-after/30", &r);
    ok(st == REVOPS_RETRY && mono_now() - t0 < 2.0 && strstr(in.error, "deadline"),
       "a Retry-After past the run's deadline is not waited for (%s)", in.error);
    http_response_free(&r);
    in.deadline = 0;

    char *url = xasprintf("http://127.0.0.1:%d/echo?token=SECRET123", fake_port);
    const char *hdrs[] = { "Content-Type: application/json", "X-Test: yes", NULL };
    revops_http_request post = { "POST", url, hdrs, "{\"a\":1}", 7, 5, 0 };
    st = http_request(&in, &post, &r);
    ok(st == REVOPS_OK && r.status == 200 && strstr(r.body, "\"body\": \"{\\\"a\\\":1}\"") && strstr(r.body, "X-Test"),
       "POST sends headers and body");
    http_response_free(&r);
    free(url);

    url = xasprintf("http://127.0.0.1:%d/status/503?token=SECRET123", fake_port);
    revops_http_request sec = { "GET", url, NULL, NULL, 0, 5, 0 };
    http_request(&in, &sec, &r);
    ok(strstr(in.error, "SECRET123") == NULL && strstr(in.error, "/status/503"), "query strings never reach errors: %s", in.error);
    http_response_free(&r);
    free(url);

    /* OAuth token cache. */
    char *turl = xasprintf("http://127.0.0.1:%d/token/3600", fake_port);
    const char *form[] = { "grant_type", "client_credentials", "client_id", "id", "client_secret", "s3cret", NULL };
    revops_oauth_request oreq = { turl, form, "id", NULL };
    const char *tok1 = NULL, *tok2 = NULL;
    ok(oauth_token(&in, &oreq, &tok1) == REVOPS_OK && tok1 && !strcmp(tok1, "tok-1"), "a token is fetched (%s)", tok1 ? tok1 : "none");
    ok(oauth_token(&in, &oreq, &tok2) == REVOPS_OK && !strcmp(tok2, "tok-1"), "and reused while valid");
    oauth_invalidate(&in, &oreq);
    ok(oauth_token(&in, &oreq, &tok2) == REVOPS_OK && !strcmp(tok2, "tok-2"), "after a 401 (invalidate) a new one is fetched");
    ok(!strcmp(tok1, "tok-1"), "the old pointer stays valid");
    ok(!strcmp(oauth_token_field(&in, &oreq, "token_type"), "Bearer"), "other members of the token response are readable");
    free(turl);
    turl = xasprintf("http://127.0.0.1:%d/token/30", fake_port);
    revops_oauth_request short_req = { turl, form, "id", NULL };
    oauth_token(&in, &short_req, &tok1);
    sleep_seconds(0.1);
    oauth_token(&in, &short_req, &tok2);
    ok(strcmp(tok1, tok2) == 0, "a 30 s token is reused at first (%s, %s)", tok1, tok2);
    free(turl);
    turl = xasprintf("http://127.0.0.1:%d/token/1", fake_port);
    revops_oauth_request expiring = { turl, form, "id", NULL };
    oauth_token(&in, &expiring, &tok1);
    sleep_seconds(0.7);
    oauth_token(&in, &expiring, &tok2);
    ok(strcmp(tok1, tok2) != 0, "a token is refreshed before its expires_in (%s -> %s)", tok1, tok2);
    free(turl);
    turl = xasprintf("http://127.0.0.1:%d/token/3600", fake_port);
    const char *badform[] = { "grant_type", "client_credentials", "client_id", "id", "client_secret", "WRONG-SECRET", NULL };
    revops_oauth_request badreq = { turl, badform, "other", NULL };
    ok(oauth_token(&in, &badreq, &tok1) == REVOPS_ERROR && strstr(in.error, "refused: HTTP 401: invalid_client: bad client credentials") &&
           !strstr(in.error, "WRONG-SECRET"),
       "a refused token request says why, without the secret: %s", in.error);
    free(turl);

    /* Streaming JSON. */
    scan_seen sx = { 0 };
    url = xasprintf("http://127.0.0.1:%d/stream/5000", fake_port);
    revops_http_request sreq = { "GET", url, NULL, NULL, 0, 10, 0 };
    st = http_json_stream(&in, &sreq, "data", scan_cb, &sx, &r);
    ok(st == REVOPS_OK && r.status == 200 && sx.elems == 5000 && sx.id_sum == 4999LL * 5000 / 2 && sx.rows_member == 5000,
       "5000 rows streamed, each once (%zu)", sx.elems);
    ok(!strcmp(sx.last_name, "row-4999 \"q\" ]"), "escaped quotes and brackets inside strings survive: %s", sx.last_name);
    http_response_free(&r);
    free(url);

    scan_seen sc = { 0 };
    url = xasprintf("http://127.0.0.1:%d/stream-cut/1000", fake_port);
    revops_http_request creq = { "GET", url, NULL, NULL, 0, 10, 0 };
    st = http_json_stream(&in, &creq, "data", scan_cb, &sc, &r);
    ok(st == REVOPS_RETRY && sc.elems == 500 && r.attempts == 1 && strstr(in.error, "after 500 elements"),
       "a body cut mid-array: RETRY after the 500 rows it had, not retried inside (%s)", in.error);
    http_response_free(&r);
    free(url);

    scan_seen sb2 = { 0 };
    url = xasprintf("http://127.0.0.1:%d/stream-bad", fake_port);
    revops_http_request breq = { "GET", url, NULL, NULL, 0, 10, 0 };
    st = http_json_stream(&in, &breq, "data", scan_cb, &sb2, &r);
    ok(st == REVOPS_ERROR && strstr(in.error, "invalid JSON at byte") && sb2.elems == 3, "malformed JSON: ERROR with the offset (%s)", in.error);
    http_response_free(&r);
    free(url);

    scan_seen s404 = { 0 };
    url = xasprintf("http://127.0.0.1:%d/status/404", fake_port);
    revops_http_request nreq = { "GET", url, NULL, NULL, 0, 10, 0 };
    st = http_json_stream(&in, &nreq, "data", scan_cb, &s404, &r);
    ok(st == REVOPS_OK && r.status == 404 && strstr(r.body, "status 404 as asked") && s404.elems == 0,
       "an error status is returned whole, not streamed");
    http_response_free(&r);
    free(url);

    oauth_cleanup();
    stop_fake();
    http_global_cleanup();
}

/* Templates: placeholders checked, every value escaped for its target, cut
 * without splitting a UTF-8 character; the HMAC host service against
 * RFC 4231 test case 2. */
static void test_templates(void)
{
    char err[512];
    ok(template_check("{{account_name}} is {{ priority }}", err, sizeof err) == 0, "template: known placeholders pass");
    ok(template_check("{{acount_name}}", err, sizeof err) < 0 && strstr(err, "unknown placeholder {{acount_name}}") &&
           strstr(err, "known: account_id, account_name"),
       "template: a typo is refused, listing the known placeholders (%s)", err);
    ok(template_check("hello {{title", err, sizeof err) < 0 && strstr(err, "not closed"), "template: an unclosed {{ is refused");
    revops_signal sig = { "usage_decline", 31.5, 20, 0.5, "Jul 100 > Oct 68.5" };
    const char *acts[] = { "Call <them> & \"ask\"" };
    revops_finding f = { "A1", "001A", "<!channel> O'Brien & \"Co\"\n<script>alert(1)</script>", NULL, "at_risk_account",
                         REVOPS_PRIORITY_HIGH, 0.5, 0.8, "T", "d", 1, &sig, 1, acts, "", 0, NULL, 0, NULL, NULL, NULL };
    char *r = template_render("*{{account_name}}* ({{priority}})", &f, NULL, REVOPS_ESC_SLACK, 0);
    ok(!strcmp(r, "*&lt;!channel&gt; O'Brien &amp; \"Co\"\n&lt;script&gt;alert(1)&lt;/script&gt;* (high)"),
       "template slack: & < > as entities, so <!channel> cannot ping");
    free(r);
    r = template_render("<b>{{account_name}}</b>", &f, NULL, REVOPS_ESC_HTML, 0);
    ok(!strcmp(r, "<b>&lt;!channel&gt; O&#39;Brien &amp; &quot;Co&quot;\n&lt;script&gt;alert(1)&lt;/script&gt;</b>"),
       "template html: the template's own tags stay, the value's are escaped");
    free(r);
    r = template_render("{\"text\": \"{{account_name}}\"}", &f, NULL, REVOPS_ESC_JSON, 0);
    json_object *j = json_tokener_parse(r);
    ok(j && !strcmp(json_object_get_string(json_object_object_get(j, "text")), f.account_name),
       "template json: the result parses and holds the value exactly");
    json_object_put(j);
    free(r);
    r = template_render("Subject: {{account_name}}", &f, NULL, REVOPS_ESC_HEADER, 0);
    ok(!strchr(r, '\n') && !strchr(r, '\r'), "template header: no line break survives (no header injection): %s", r);
    free(r);
    r = template_render("{{actions}} | {{signals}}", &f, NULL, REVOPS_ESC_NONE, 0);
    ok(!strcmp(r, "1. Call <them> & \"ask\" | - usage_decline: 31.5 (threshold 20): Jul 100 > Oct 68.5"), "template: lists render: %s", r);
    free(r);
    revops_finding g = f;
    g.account_name = "Zürich Datenwerk AG 東京アナリティクス";
    r = template_render("{{account_name}}", &g, NULL, REVOPS_ESC_NONE, 8);
    ok(!strcmp(r, "Zürich \xe2\x80\xa6"), "template: cut at 8 characters with an ellipsis, UTF-8 intact: %s", r);
    free(r);
    r = template_render("{{account_name}}", &g, NULL, REVOPS_ESC_NONE, 100);
    ok(!strcmp(r, g.account_name), "template: a value under the limit is whole");
    free(r);
    char *longname = xmalloc(5001);
    memset(longname, 'x', 5000);
    longname[5000] = '\0';
    g.account_name = longname;
    r = template_render("{{account_name}}", &g, NULL, REVOPS_ESC_SLACK, 150);
    ok(strlen(r) == 149 + 3, "template: a 5000-character name is cut to 150 characters");
    free(r);
    free(longname);
    char mac[65];
    hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, mac);
    ok(!strcmp(mac, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"), "hmac_sha256_hex: RFC 4231 test case 2");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    log_setup(REVOPS_LOG_ERROR, LOG_FORMAT_TEXT);
    test_dates();
    test_cron();
    test_retry();
    test_findings();
    test_trigger();
    test_secrets();
    test_options();
    test_query_render();
    test_analysis_helpers();
    test_stream();
    test_json_scan();
    test_http();
    test_templates();
    printf("1..%d\n", n_tests);
    return n_failed ? 1 : 0;
}
