/* The daemon's metrics registry: finished runs' records (run_result_json)
 * folded into counters, gauges and one histogram, rendered in the Prometheus
 * text format 0.0.4 for /metrics.
 *
 * The daemon is single-threaded (pipelines run in forked children and hand
 * their record back), so the registry is plain static state with no lock.
 * Every family is declared in one table below: its HELP text, type and label
 * names live in one place, and rendering walks the table, so families come
 * out in a stable order whatever was observed first.  Within a family the
 * series are kept sorted by their label values (binary search on insert),
 * which gives a stable order too and keeps lookups cheap with hundreds of
 * pipelines. */
#include "config.h"
#include "core.h"

#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum kind { COUNTER, GAUGE, HISTOGRAM };
#define MAX_LABELS 3

/* A run's wall time: from well under a second (the demo) to the spec's
 * 15-minute timeout and beyond it for a misconfigured one. */
static const double run_buckets[] = { 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900, 1800 };
#define NBUCKETS (sizeof run_buckets / sizeof run_buckets[0])

typedef struct series {
    char *labels[MAX_LABELS];
    double value;                 /* counter/gauge; the histogram's sum */
    uint64_t count;               /* histogram: observations */
    uint64_t *buckets;            /* histogram: per bucket, not cumulative (summed when rendered) */
} series;

typedef struct family {
    const char *name;
    enum kind kind;
    const char *help;
    const char *labels[MAX_LABELS];   /* NULL-terminated when fewer */
    /* runtime */
    series *v;
    size_t n, cap;
} family;

/* The order here is the order on /metrics.  metrics_inc() may touch only the
 * families marked "event" (named by the daemon); the rest are fed by
 * metrics_observe_run() and metrics_set_pipeline(). */
enum {
    F_BUILD, F_START, F_RUNS, F_RUN_SECONDS, F_STEP_SECONDS, F_ROWS, F_CHUNKS, F_INPUT_RETRIES, F_INPUT_PARTIAL,
    F_FINDINGS, F_DELIVERIES, F_DELIVERY_RETRIES, F_MODEL_CALLS, F_MODEL_RETRIES, F_MODEL_TOKENS, F_LAST_RUN,
    F_LAST_SUCCESS, F_NEXT_FIRE, F_RUNNING, F_RELOADS, F_SKIPS, F_MISSED, F_RECORDS_BAD, F_COUNT
};
static family fam[F_COUNT] = {
    [F_BUILD] = { "revops_build_info", GAUGE, "revops version; always 1", { "version" }, 0 },
    [F_START] = { "process_start_time_seconds", GAUGE,
                  "When the daemon started (its metrics were reset), seconds since the Unix epoch", { NULL }, 0 },
    [F_RUNS] = { "revops_runs_total", COUNTER,
                 "Finished pipeline runs by status (ok, partial, delivery_failed, failed)", { "pipeline", "status" }, 0 },
    [F_RUN_SECONDS] = { "revops_run_duration_seconds", HISTOGRAM, "Wall time of finished pipeline runs", { "pipeline" }, 0 },
    [F_STEP_SECONDS] = { "revops_step_seconds_total", COUNTER,
                         "Time spent in each step (gather, process, analyse, act, log) of finished runs",
                         { "pipeline", "step" }, 0 },
    [F_ROWS] = { "revops_rows_read_total", COUNTER, "Rows read from the sources, per pipeline input",
                 { "pipeline", "input", "source" }, 0 },
    [F_CHUNKS] = { "revops_chunks_total", COUNTER, "Chunks handed to the analysis, per pipeline input",
                   { "pipeline", "input", "source" }, 0 },
    [F_INPUT_RETRIES] = { "revops_input_retries_total", COUNTER,
                          "Fetch attempts beyond the first (step retries), per pipeline input",
                          { "pipeline", "input", "source" }, 0 },
    [F_INPUT_PARTIAL] = { "revops_input_partial_total", COUNTER,
                          "Runs whose input lost rows after some had arrived (partial data)",
                          { "pipeline", "input", "source" }, 0 },
    [F_FINDINGS] = { "revops_findings_total", COUNTER, "Findings of finished runs (after max_opportunities), by priority",
                     { "pipeline", "priority" }, 0 },
    [F_DELIVERIES] = { "revops_deliveries_total", COUNTER,
                       "Deliveries by result: delivered; failed (for good this run); pending (failed, kept in the outbox "
                       "for a later run); suppressed (delivered before and still open); held (failed for good earlier, "
                       "waiting for revops outbox --requeue)",
                       { "pipeline", "action", "result" }, 0 },
    [F_DELIVERY_RETRIES] = { "revops_delivery_retries_total", COUNTER, "Deliveries retried within a run",
                             { "pipeline", "action" }, 0 },
    [F_MODEL_CALLS] = { "revops_model_calls_total", COUNTER, "Model calls (narrative and data agent)", { "pipeline" }, 0 },
    [F_MODEL_RETRIES] = { "revops_model_http_retries_total", COUNTER, "HTTP retries of model calls", { "pipeline" }, 0 },
    [F_MODEL_TOKENS] = { "revops_model_tokens_total", COUNTER, "Model tokens by direction (in: prompt, out: completion)",
                         { "pipeline", "direction" }, 0 },
    [F_LAST_RUN] = { "revops_last_run_timestamp_seconds", GAUGE,
                     "When the pipeline's latest finished run ended, seconds since the Unix epoch", { "pipeline" }, 0 },
    [F_LAST_SUCCESS] = { "revops_last_success_timestamp_seconds", GAUGE,
                         "When the pipeline's latest run with status ok ended, seconds since the Unix epoch",
                         { "pipeline" }, 0 },
    [F_NEXT_FIRE] = { "revops_next_fire_timestamp_seconds", GAUGE,
                      "When the scheduler fires the pipeline next, seconds since the Unix epoch (0: not scheduled)",
                      { "pipeline" }, 0 },
    [F_RUNNING] = { "revops_pipeline_running", GAUGE, "1 while a run of the pipeline is in progress", { "pipeline" }, 0 },
    /* event */
    [F_RELOADS] = { "revops_config_reloads_total", COUNTER, "SIGHUP reloads of the configuration by result (ok, failed)",
                    { "result" }, 0 },
    [F_SKIPS] = { "revops_scheduled_skips_total", COUNTER,
                  "Scheduled fires skipped because the pipeline's previous run was still going (or max_running was reached)",
                  { "pipeline" }, 0 },
    [F_MISSED] = { "revops_missed_fires_total", COUNTER, "Fires missed while the daemon was down (missed = skip | run_once)",
                   { "pipeline" }, 0 },
    [F_RECORDS_BAD] = { "revops_run_records_invalid_total", COUNTER,
                        "Run records that could not be read (no pipeline name); their runs are not counted", { NULL }, 0 },
};
static const int event_families[] = { F_RELOADS, F_SKIPS, F_MISSED, F_RECORDS_BAD };

static size_t nlabels(const family *f)
{
    size_t k = 0;
    while (k < MAX_LABELS && f->labels[k]) k++;
    return k;
}

static int cmp_labels(const family *f, char *const *a, const char *const *b)
{
    for (size_t k = 0; k < nlabels(f); k++) {
        int c = strcmp(a[k], b[k]);
        if (c) return c;
    }
    return 0;
}

/* The series of f with these label values (NULL taken as ""), created at 0. */
static series *get(int fi, const char *l0, const char *l1, const char *l2)
{
    family *f = &fam[fi];
    const char *want[MAX_LABELS] = { l0 ? l0 : "", l1 ? l1 : "", l2 ? l2 : "" };
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_labels(f, f->v[mid].labels, want);
        if (c == 0) return &f->v[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 8;
        f->v = xrealloc(f->v, f->cap * sizeof *f->v);
    }
    memmove(&f->v[lo + 1], &f->v[lo], (f->n - lo) * sizeof *f->v);
    f->n++;
    series *s = &f->v[lo];
    memset(s, 0, sizeof *s);
    for (size_t k = 0; k < nlabels(f); k++) s->labels[k] = xstrdup(want[k]);
    if (f->kind == HISTOGRAM) s->buckets = xcalloc(NBUCKETS, sizeof *s->buckets);
    return s;
}

void metrics_reset(void)
{
    for (int i = 0; i < F_COUNT; i++) {
        family *f = &fam[i];
        for (size_t j = 0; j < f->n; j++) {
            for (size_t k = 0; k < MAX_LABELS; k++) free(f->v[j].labels[k]);
            free(f->v[j].buckets);
        }
        free(f->v);
        f->v = NULL;
        f->n = f->cap = 0;
    }
    get(F_BUILD, PACKAGE_VERSION, NULL, NULL)->value = 1;
    get(F_START, NULL, NULL, NULL)->value = clock_now();
}

/* ------------------------------------------------------------ observe -- */

static json_object *rec_get(json_object *o, const char *k)
{
    json_object *x = NULL;
    return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, k, &x) ? x : NULL;
}

static const char *mstr(json_object *o, const char *k)
{
    json_object *x = rec_get(o, k);
    return x && json_object_is_type(x, json_type_string) ? json_object_get_string(x) : NULL;
}

/* A count from the record; absent, null or negative counts add nothing. */
static double mnum(json_object *o, const char *k)
{
    json_object *x = rec_get(o, k);
    if (!x || !(json_object_is_type(x, json_type_int) || json_object_is_type(x, json_type_double))) return 0;
    double v = json_object_get_double(x);
    return isfinite(v) && v > 0 ? v : 0;
}

/* "2026-11-01T06:00:00Z" (run_result_json's started_at) -> Unix seconds; -1
 * when absent or unreadable.  A number is taken as it is (`revops runs`). */
static double started_unix(json_object *rec)
{
    json_object *x = rec_get(rec, "started_at");
    if (x && (json_object_is_type(x, json_type_double) || json_object_is_type(x, json_type_int)))
        return json_object_get_double(x);
    const char *s = x && json_object_is_type(x, json_type_string) ? json_object_get_string(x) : NULL;
    double t;
    return s && utc_parse(s, &t) == 0 ? t : -1;
}

/* Tokens, calls and HTTP retries of one model session (model_session_json):
 * the narrative's session and, when the data agent used another model, its
 * own session ("agent_model"). */
static void observe_model_session(const char *pipeline, json_object *ses)
{
    if (!ses) return;
    get(F_MODEL_CALLS, pipeline, NULL, NULL)->value += mnum(ses, "calls");
    get(F_MODEL_TOKENS, pipeline, "in", NULL)->value += mnum(ses, "input_tokens");
    get(F_MODEL_TOKENS, pipeline, "out", NULL)->value += mnum(ses, "output_tokens");
    json_object *log = rec_get(ses, "call_log");
    double retries = 0;
    if (log && json_object_is_type(log, json_type_array))
        for (size_t i = 0; i < json_object_array_length(log); i++) retries += mnum(json_object_array_get_idx(log, i), "http_retries");
    get(F_MODEL_RETRIES, pipeline, NULL, NULL)->value += retries;
}

void metrics_observe_run(struct json_object *rec)
{
    const char *p = mstr(rec, "pipeline");
    if (!p || !*p) {
        get(F_RECORDS_BAD, NULL, NULL, NULL)->value++;
        log_warn("metrics: a run record without a pipeline name is not counted");
        return;
    }
    const char *status = mstr(rec, "status");
    get(F_RUNS, p, status ? status : "unknown", NULL)->value++;

    double secs = mnum(rec, "seconds");
    series *h = get(F_RUN_SECONDS, p, NULL, NULL);
    h->value += secs;
    h->count++;
    for (size_t b = 0; b < NBUCKETS; b++)
        if (secs <= run_buckets[b]) {
            h->buckets[b]++;
            break;
        }

    json_object *steps = rec_get(rec, "steps");
    for (int s = 0; s < STEP_COUNT; s++) get(F_STEP_SECONDS, p, step_names[s], NULL)->value += mnum(steps, step_names[s]);

    json_object *ins = rec_get(rec, "inputs");
    if (ins && json_object_is_type(ins, json_type_array))
        for (size_t i = 0; i < json_object_array_length(ins); i++) {
            json_object *in = json_object_array_get_idx(ins, i);
            const char *name = mstr(in, "input"), *src = mstr(in, "source");
            get(F_ROWS, p, name, src)->value += mnum(in, "rows");
            get(F_CHUNKS, p, name, src)->value += mnum(in, "chunks");
            /* attempts is 0 when the source never opened: no retry then. */
            double att = mnum(in, "attempts");
            get(F_INPUT_RETRIES, p, name, src)->value += att > 1 ? att - 1 : 0;
            json_object *part = rec_get(in, "partial");
            get(F_INPUT_PARTIAL, p, name, src)->value += part && json_object_get_boolean(part);
        }

    json_object *fp = rec_get(rec, "findings_by_priority");
    for (int pr = REVOPS_PRIORITY_CRITICAL; pr >= REVOPS_PRIORITY_LOW; pr--) {
        const char *pn = revops_priority_name((revops_priority)pr);
        get(F_FINDINGS, p, pn, NULL)->value += mnum(fp, pn);
    }

    json_object *acts = rec_get(rec, "actions");
    if (acts && json_object_is_type(acts, json_type_array))
        for (size_t k = 0; k < json_object_array_length(acts); k++) {
            json_object *a = json_object_array_get_idx(acts, k);
            const char *an = mstr(a, "action");
            /* The record's "failed" includes the deferred ones ("kept for a
             * later run"); here they are told apart so that an alert on
             * result="failed" means lost for good. */
            double failed = mnum(a, "failed"), deferred = mnum(a, "deferred");
            if (deferred > failed) deferred = failed;
            get(F_DELIVERIES, p, an, "delivered")->value += mnum(a, "delivered");
            get(F_DELIVERIES, p, an, "failed")->value += failed - deferred;
            get(F_DELIVERIES, p, an, "pending")->value += deferred;
            get(F_DELIVERIES, p, an, "suppressed")->value += mnum(a, "suppressed");
            get(F_DELIVERIES, p, an, "held")->value += mnum(a, "held");
            get(F_DELIVERY_RETRIES, p, an, NULL)->value += mnum(a, "retried");
        }

    json_object *model = rec_get(rec, "model");
    if (model) {
        observe_model_session(p, rec_get(model, "session"));
        observe_model_session(p, rec_get(model, "agent_model"));
    }

    double t0 = started_unix(rec);
    if (t0 >= 0) {
        double end = t0 + secs;
        series *last = get(F_LAST_RUN, p, NULL, NULL);
        /* Children can finish out of order: keep the latest. */
        if (end > last->value) last->value = end;
        if (status && !strcmp(status, "ok")) {
            series *ok = get(F_LAST_SUCCESS, p, NULL, NULL);
            if (end > ok->value) ok->value = end;
        }
    }
}

void metrics_set_pipeline(const char *pipeline, double next_fire_unix, int running)
{
    if (!pipeline) return;
    get(F_NEXT_FIRE, pipeline, NULL, NULL)->value = next_fire_unix > 0 ? next_fire_unix : 0;
    get(F_RUNNING, pipeline, NULL, NULL)->value = running ? 1 : 0;
}

void metrics_inc(const char *name, const char *label_name, const char *label_value)
{
    metrics_add(name, label_name, label_value, 1);
}

void metrics_add(const char *name, const char *label_name, const char *label_value, double n)
{
    for (size_t i = 0; i < sizeof event_families / sizeof event_families[0]; i++) {
        family *f = &fam[event_families[i]];
        if (strcmp(f->name, name)) continue;
        const char *want = f->labels[0];
        if ((want == NULL) != (label_name == NULL) || (want && strcmp(want, label_name))) {
            log_warn("metrics: %s takes %s%s, not %s", name, want ? "the label " : "no label", want ? want : "",
                     label_name ? label_name : "none");
            return;
        }
        get(event_families[i], label_value, NULL, NULL)->value += n;
        return;
    }
    log_warn("metrics: no counter named %s", name);
}

/* ------------------------------------------------------------- render -- */

/* The shortest of %.15g..%.17g that reads back as v: "0.1", not
 * "0.10000000000000001", and no precision lost. */
static void put_num(strbuf *sb, double v)
{
    if (isinf(v)) {
        sb_puts(sb, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (isnan(v)) {
        sb_puts(sb, "NaN");
        return;
    }
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    sb_puts(sb, buf);
}

/* Label values: backslash, double quote and newline escaped (the format's
 * only escapes); HELP text: backslash and newline. */
static void put_escaped(strbuf *sb, const char *s, int quote)
{
    const char *special = quote ? "\\\n\"" : "\\\n";
    for (;;) {
        size_t plain = strcspn(s, special);
        sb_add(sb, s, plain);
        s += plain;
        if (!*s) return;
        sb_add(sb, *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : "\\\"", 2);
        s++;
    }
}

/* name{l1="v1",...,extra="x"} value\n */
static void put_sample(strbuf *sb, const family *f, const char *suffix, const series *s, const char *extra_name,
                       double extra_le, double v)
{
    sb_puts(sb, f->name);
    sb_puts(sb, suffix);
    size_t nl = nlabels(f);
    if (nl || extra_name) {
        sb_add(sb, "{", 1);
        for (size_t k = 0; k < nl; k++) {
            if (k) sb_add(sb, ",", 1);
            sb_puts(sb, f->labels[k]);
            sb_add(sb, "=\"", 2);
            put_escaped(sb, s->labels[k], 1);
            sb_add(sb, "\"", 1);
        }
        if (extra_name) {
            if (nl) sb_add(sb, ",", 1);
            sb_puts(sb, extra_name);
            sb_add(sb, "=\"", 2);
            put_num(sb, extra_le);
            sb_add(sb, "\"", 1);
        }
        sb_add(sb, "}", 1);
    }
    sb_add(sb, " ", 1);
    put_num(sb, v);
    sb_add(sb, "\n", 1);
}

char *metrics_render(void)
{
    static const char *const type_names[] = { "counter", "gauge", "histogram" };
    strbuf sb = { 0 };
    for (int i = 0; i < F_COUNT; i++) {
        const family *f = &fam[i];
        sb_printf(&sb, "# HELP %s ", f->name);
        put_escaped(&sb, f->help, 0);
        sb_printf(&sb, "\n# TYPE %s %s\n", f->name, type_names[f->kind]);
        for (size_t j = 0; j < f->n; j++) {
            const series *s = &f->v[j];
            if (f->kind != HISTOGRAM) {
                put_sample(&sb, f, "", s, NULL, 0, s->value);
                continue;
            }
            uint64_t cum = 0;
            for (size_t b = 0; b < NBUCKETS; b++) {
                cum += s->buckets[b];
                put_sample(&sb, f, "_bucket", s, "le", run_buckets[b], (double)cum);
            }
            put_sample(&sb, f, "_bucket", s, "le", INFINITY, (double)s->count);
            put_sample(&sb, f, "_sum", s, NULL, 0, s->value);
            put_sample(&sb, f, "_count", s, NULL, 0, (double)s->count);
        }
    }
    return sb_steal(&sb);
}
