/* One run of one pipeline: the spec's state machine
 *   gather -> process -> analyse -> act -> log
 * with per-step retry of transient errors (full-jitter backoff, spec
 * defaults 5 s x2, 3 attempts), a run deadline (spec: 15 minutes) and a run
 * record.  Sources stream rows, the core cuts chunks and the analysis
 * consumes them as they arrive, so the first three steps interleave; their
 * times are accounted separately. */
#include "config.h"
#include "core.h"

#include <errno.h>
#include <pthread.h>
#include <json-c/json.h>
#include <signal.h>
#include <unistd.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

const char *const step_names[STEP_COUNT] = { "gather", "process", "analyse", "act", "log" };

void session_id_default(char *out, size_t n)
{
    time_t t = (time_t)clock_now();
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "analysis_%Y%m%d_%H%M%S", &tm);
}

typedef struct run_ctx {
    revops_config *cfg;
    conf_pipeline *p;
    run_result *r;
    action_pool *pool;
    double deadline;
    revops_instance analysis;
    void *state;
    double analyse_seconds_in_fetch;
} run_ctx;

static int past_deadline(const run_ctx *rc)
{
    return mono_now() > rc->deadline;
}

static revops_status on_chunk(void *data, const revops_chunk *chunk)
{
    run_ctx *rc = data;
    if (past_deadline(rc)) {
        snprintf(rc->r->error, sizeof rc->r->error, "the run's deadline of %gs passed while reading input '%s'",
                 rc->p->timeout, chunk->dataset);
        return REVOPS_ERROR;
    }
    double t0 = mono_now();
    log_msg(REVOPS_LOG_DEBUG, rc->analysis.label, "chunk %zu of input '%s': %zu rows", chunk->chunk_index,
            chunk->dataset, chunk->nrows);
    progress_chunk(chunk);
    revops_status st = rc->p->analysis->desc->vt.analysis->process_chunk(rc->state, chunk);
    rc->analyse_seconds_in_fetch += mono_now() - t0;
    if (st != REVOPS_OK)
        snprintf(rc->r->error, sizeof rc->r->error, "[%s] failed on chunk %zu of input '%s': %s", rc->analysis.label,
                 chunk->chunk_index, chunk->dataset, rc->analysis.error[0] ? rc->analysis.error : "no reason given");
    return st;
}

/* Call fn until it returns OK or ERROR, or the attempts run out.  The wait
 * before each retry is full-jitter backoff, never past the deadline. */
typedef revops_status (*step_fn)(void *arg);
static revops_status retry_loop(const retry_policy *rp, double deadline, revops_instance *who, const char *what,
                                step_fn fn, void *arg, int *attempts)
{
    revops_status st = REVOPS_ERROR;
    for (int attempt = 1; attempt <= rp->max_attempts; attempt++) {
        if (attempts) *attempts = attempt;
        who->error[0] = '\0';
        st = fn(arg);
        if (st != REVOPS_RETRY) return st;
        if (attempt == rp->max_attempts) break;
        double wait = retry_delay(rp, attempt + 1);
        if (mono_now() + wait > deadline) {
            size_t l = strlen(who->error);
            snprintf(who->error + l, sizeof who->error - l, "%s(not retried: the run's deadline is %.1fs away)",
                     l ? " " : "", deadline - mono_now());
            log_msg(REVOPS_LOG_WARN, who->label, "%s: %s", what, who->error);
            break;
        }
        log_msg(REVOPS_LOG_WARN, who->label, "%s: %s; retry %d of %d in %.2fs", what,
                who->error[0] ? who->error : "transient failure", attempt, rp->max_attempts - 1, wait);
        sleep_seconds(wait);
    }
    return st;
}

static revops_status with_retry(run_ctx *rc, revops_instance *who, const char *what, step_fn fn, void *arg, int *attempts)
{
    return retry_loop(&rc->p->retry, rc->deadline, who, what, fn, arg, attempts);
}

typedef struct open_arg {
    conf_instance *ci;
    revops_instance *in;
} open_arg;

static revops_status do_open(void *arg)
{
    open_arg *a = arg;
    const revops_plugin *d = a->ci->plugin->desc;
    if (d->kind == REVOPS_KIND_SOURCE) return d->vt.source->open(a->in, &host_services, a->ci->opts, &a->in->ctx);
    if (d->kind == REVOPS_KIND_MODEL) return d->vt.model->open(a->in, &host_services, a->ci->opts, &a->in->ctx);
    return d->vt.action->open(a->in, &host_services, a->ci->opts, &a->in->ctx);
}

int instance_open(const revops_config *cfg, const retry_policy *rp, double deadline, conf_instance *ci,
                     revops_instance *in, char *err, size_t errlen)
{
    instance_init(in, ci->kind, ci->plugin->desc->name, ci->name, cfg, rp);
    in->abi_minor = ci->plugin->desc->abi_minor;
    in->deadline = deadline;
    if (options_resolve_secrets(ci->opts, in->label, err, errlen) < 0) return -1;
    open_arg a = { ci, in };
    if (retry_loop(rp, deadline, in, "open", do_open, &a, NULL) != REVOPS_OK) {
        snprintf(err, errlen, "[%s] could not open: %s", in->label, in->error[0] ? in->error : "no reason given");
        return -1;
    }
    return 0;
}

static int open_instance(run_ctx *rc, conf_instance *ci, revops_instance *in)
{
    return instance_open(rc->cfg, &rc->p->retry, rc->deadline, ci, in, rc->r->error, sizeof rc->r->error);
}

typedef struct fetch_arg {
    conf_input *input;
    const char *text;          /* the query as sent: ${option}s rendered */
    revops_instance *in;
    revops_stream *stream;
    int started;
} fetch_arg;

static revops_status do_fetch(void *arg)
{
    fetch_arg *a = arg;
    if (a->started) stream_restart(a->stream);
    a->started = 1;
    revops_query q = { a->input->name, a->text, a->input->row_limit };
    revops_status st = a->input->source->plugin->desc->vt.source->fetch(a->in->ctx, &q, a->stream);
    /* A consumer-side failure (deadline, analysis error, missing column) is
     * final whatever the source returned: retrying the fetch cannot help. */
    if (stream_failed(a->stream)) st = REVOPS_ERROR;
    if (st == REVOPS_OK) st = stream_finish(a->stream);
    return st;
}

static const char *input_columns(const conf_pipeline *p, const char *name)
{
    const revops_input_def *defs = p->analysis->desc->vt.analysis->inputs;
    for (size_t i = 0; defs && defs[i].name; i++)
        if (strcmp(defs[i].name, name) == 0) return defs[i].columns;
    return NULL;
}

/* gather + process + analyse(process_chunk) for every input, in order. */
static int gather_parallel(run_ctx *rc, revops_instance *sources, size_t ngroups);
static int gather(run_ctx *rc, revops_instance *sources)
{
    run_result *r = rc->r;
    /* Several source instances and a bound above 1: fetched in parallel.
     * Otherwise (and always for a single input) the rows stream straight
     * from the source into the analysis, with nothing buffered. */
    size_t ngroups = 0;
    for (size_t i = 0; i < rc->p->ninputs; i++) {
        size_t k;
        for (k = 0; k < i && rc->p->inputs[k].source != rc->p->inputs[i].source; k++) {}
        ngroups += k == i;
    }
    if (ngroups > 1 && pool_bound(&rc->p->parallel) > 1) return gather_parallel(rc, sources, ngroups);
    r->peak_sources = rc->p->ninputs ? 1 : 0;
    for (size_t i = 0; i < rc->p->ninputs; i++) {
        conf_input *input = &rc->p->inputs[i];
        size_t si = (size_t)(input->source - rc->cfg->sources);
        revops_instance *in = &sources[si];
        log_set_context(r->session_id, r->pipeline, "gather");
        progress_input(r->pipeline, input->name);
        revops_stream *s = stream_new(input->name, input->source->name, input->source->rows_per_chunk,
                                      input_columns(rc->p, input->name), on_chunk, rc);
        stream_set_max_bytes(s, input->source->max_chunk_bytes);
        char *text = NULL, qerr[512];
        if (query_render(input->query, rc->p->analysis_opts, clock_now(), &text, qerr, sizeof qerr) < 0) {
            snprintf(r->error, sizeof r->error, "%s:%d: input '%s': %s", input->query_file ? input->query_file : "?",
                     input->query_line, input->name, qerr);
            stream_free(s);
            return -1;
        }
        log_msg(REVOPS_LOG_DEBUG, in->label, "input '%s': %s", input->name, text);
        fetch_arg a = { input, text, in, s, 0 };
        double t0 = mono_now(), analyse0 = rc->analyse_seconds_in_fetch;
        int attempts = 0;
        revops_status st = with_retry(rc, in, "fetch", do_fetch, &a, &attempts);
        free(text);
        double elapsed = mono_now() - t0;
        stream_stats ss = stream_get_stats(s);
        double analysed = rc->analyse_seconds_in_fetch - analyse0;
        r->step_seconds[STEP_PROCESS] += ss.process_seconds;
        r->step_seconds[STEP_ANALYSE] += analysed;
        r->step_seconds[STEP_GATHER] += fmax(0, elapsed - ss.process_seconds - analysed);
        input_stats *is = &r->inputs[i];
        is->name = input->name;
        is->source = input->source->name;
        is->rows = ss.rows;
        is->chunks = ss.chunks;
        is->attempts = attempts;
        if (st != REVOPS_OK && !stream_failed(s) && ss.rows > 0) {
            /* The spec's partial results: a later chunk or page failed after
             * its retries.  The rows that arrived go to the analysis as the
             * input's last chunk, and the run says what was lost. */
            is->partial = 1;
            r->partial = 1;
            snprintf(is->lost, sizeof is->lost, "everything after the first %lld rows was lost: %s", (long long)ss.rows,
                     in->error[0] ? in->error : "the source failed");
            log_msg(REVOPS_LOG_ERROR, in->label, "input '%s' is partial: %s", input->name, is->lost);
            if (stream_finish_partial(s) != REVOPS_OK) {
                stream_free(s);
                return -1;
            }
            is->chunks = stream_get_stats(s).chunks;
            stream_free(s);
            continue;
        }
        if (st != REVOPS_OK) {
            if (!r->error[0]) {
                if (stream_error(s))
                    snprintf(r->error, sizeof r->error, "%s", stream_error(s));
                else
                    snprintf(r->error, sizeof r->error, "[%s] input '%s' failed after %d attempt%s: %s", in->label,
                             input->name, attempts, attempts == 1 ? "" : "s", in->error[0] ? in->error : "no reason given");
            }
            stream_free(s);
            return -1;
        }
        log_msg(REVOPS_LOG_INFO, in->label, "input '%s': %lld rows in %zu chunk%s", input->name, (long long)ss.rows,
                ss.chunks, ss.chunks == 1 ? "" : "s");
        stream_free(s);
    }
    return 0;
}

/* ---- per-source fan-out ------------------------------------------------
 * Inputs on different source instances are fetched at the same time (a
 * plugin's ctx is not thread-safe, so one instance's inputs stay in order
 * on one worker); the analysis still sees the sequential stream: this
 * thread feeds process_chunk input by input in declared order.  A worker's
 * chunks are copied into its input's queue, and this thread takes them as
 * they come; the input being consumed is drained as fast as the analysis
 * goes, a later input's chunks wait in memory until its turn. */
typedef struct qchunk {
    revops_chunk c;
    struct qchunk *next;
} qchunk;

typedef struct pinput {
    size_t index;
    qchunk *head, *tail;
    int done;                  /* the fetch is over (st, stats below are final) */
    revops_status st;
    stream_stats ss;
    double fetch_seconds;
    int attempts, partial, stream_failed;
    char lost[512];
    char error[1024];          /* the input's own failure, as gather() would word it */
} pinput;

typedef struct pgather {
    run_ctx *rc;
    revops_instance *sources;
    pinput *in;
    size_t **groups;           /* per source instance: its inputs, declared order */
    size_t *ngroup;
    size_t ngroups;
    pthread_mutex_t mu;
    pthread_cond_t more;
    int abort;                 /* the consumer failed: stop fetching */
    size_t peak;
} pgather;

typedef struct pcb { pgather *g; pinput *pi; } pcb;

static void chunk_free_copy(revops_chunk *c)
{
    free((char *)c->dataset);
    free((char *)c->source);
    for (size_t k = 0; k < c->ncolumns; k++) free((char *)c->columns[k].name);
    free((revops_column *)c->columns);
    for (size_t k = 0; k < c->nrows * c->ncolumns; k++)
        if (c->cells[k].type == REVOPS_TYPE_TEXT) free((char *)c->cells[k].v.text.s);
    free((revops_value *)c->cells);
}

/* The stream's chunk is valid only during the callback: copy it whole. */
static revops_status buffer_chunk(void *data, const revops_chunk *chunk)
{
    pcb *cb = data;
    qchunk *q = xcalloc(1, sizeof *q);
    q->c = *chunk;
    /* The names too: the stream's, freed with it before their turn. */
    q->c.dataset = xstrdup(chunk->dataset);
    q->c.source = chunk->source ? xstrdup(chunk->source) : NULL;
    revops_column *cols = xcalloc(chunk->ncolumns ? chunk->ncolumns : 1, sizeof *cols);
    for (size_t k = 0; k < chunk->ncolumns; k++) {
        cols[k] = chunk->columns[k];
        cols[k].name = xstrdup(chunk->columns[k].name);
    }
    q->c.columns = cols;
    size_t ncells = chunk->nrows * chunk->ncolumns;
    revops_value *cells = xcalloc(ncells ? ncells : 1, sizeof *cells);
    for (size_t k = 0; k < ncells; k++) {
        cells[k] = chunk->cells[k];
        if (cells[k].type == REVOPS_TYPE_TEXT) cells[k].v.text.s = xstrndup(chunk->cells[k].v.text.s, chunk->cells[k].v.text.len);
    }
    q->c.cells = cells;
    pthread_mutex_lock(&cb->g->mu);
    int stop = cb->g->abort;
    if (!stop) {
        if (cb->pi->tail) cb->pi->tail->next = q;
        else cb->pi->head = q;
        cb->pi->tail = q;
        pthread_cond_broadcast(&cb->g->more);
    }
    pthread_mutex_unlock(&cb->g->mu);
    if (stop) {
        chunk_free_copy(&q->c);
        free(q);
        return REVOPS_ERROR;
    }
    return REVOPS_OK;
}

/* A worker: every input of one source instance, in declared order. */
static void fetch_group(void *arg, size_t gi)
{
    pgather *g = arg;
    run_ctx *rc = g->rc;
    for (size_t j = 0; j < g->ngroup[gi]; j++) {
        pinput *pi = &g->in[g->groups[gi][j]];
        conf_input *input = &rc->p->inputs[pi->index];
        revops_instance *in = &g->sources[input->source - rc->cfg->sources];
        pcb cb = { g, pi };
        revops_stream *s = stream_new(input->name, input->source->name, input->source->rows_per_chunk,
                                      input_columns(rc->p, input->name), buffer_chunk, &cb);
        stream_set_max_bytes(s, input->source->max_chunk_bytes);
        char *text = NULL, qerr[512];
        double t0 = mono_now();
        pthread_mutex_lock(&g->mu);
        int stop = g->abort;
        pthread_mutex_unlock(&g->mu);
        if (stop) {
            pi->st = REVOPS_ERROR;
        } else if (query_render(input->query, rc->p->analysis_opts, clock_now(), &text, qerr, sizeof qerr) < 0) {
            snprintf(pi->error, sizeof pi->error, "%s:%d: input '%s': %s", input->query_file ? input->query_file : "?",
                     input->query_line, input->name, qerr);
            pi->st = REVOPS_ERROR;
        } else {
            log_msg(REVOPS_LOG_DEBUG, in->label, "input '%s': %s", input->name, text);
            fetch_arg a = { input, text, in, s, 0 };
            pi->st = with_retry(rc, in, "fetch", do_fetch, &a, &pi->attempts);
            pi->ss = stream_get_stats(s);
            pi->stream_failed = stream_failed(s);
            if (pi->st != REVOPS_OK && !pi->stream_failed && pi->ss.rows > 0) {
                pi->partial = 1;
                snprintf(pi->lost, sizeof pi->lost, "everything after the first %lld rows was lost: %s", (long long)pi->ss.rows,
                         in->error[0] ? in->error : "the source failed");
                if (stream_finish_partial(s) != REVOPS_OK) pi->partial = 0, pi->stream_failed = 1;
                pi->ss.chunks = stream_get_stats(s).chunks;
            }
            if (pi->st != REVOPS_OK && !pi->partial)
                snprintf(pi->error, sizeof pi->error, "%s", stream_error(s) ? stream_error(s) : "");
            if (pi->st != REVOPS_OK && !pi->partial && !pi->error[0])
                snprintf(pi->error, sizeof pi->error, "[%s] input '%s' failed after %d attempt%s: %s", in->label, input->name,
                         pi->attempts, pi->attempts == 1 ? "" : "s", in->error[0] ? in->error : "no reason given");
            if (pi->partial) log_msg(REVOPS_LOG_ERROR, in->label, "input '%s' is partial: %s", input->name, pi->lost);
        }
        free(text);
        stream_free(s);
        pi->fetch_seconds = mono_now() - t0;
        pthread_mutex_lock(&g->mu);
        pi->done = 1;
        pthread_cond_broadcast(&g->more);
        pthread_mutex_unlock(&g->mu);
    }
}

static void *fetch_all(void *arg)
{
    pgather *g = arg;
    g->peak = pool_map(&g->rc->p->parallel, g->ngroups, fetch_group, g);
    return NULL;
}

static int gather_parallel(run_ctx *rc, revops_instance *sources, size_t ngroups)
{
    run_result *r = rc->r;
    conf_pipeline *p = rc->p;
    size_t ns = rc->cfg->nsources;
    pgather g = { .rc = rc, .sources = sources };
    g.in = xcalloc(p->ninputs, sizeof *g.in);
    g.groups = xcalloc(ns, sizeof *g.groups);
    g.ngroup = xcalloc(ns, sizeof *g.ngroup);
    size_t *slot = xcalloc(ns, sizeof *slot);   /* source index -> group + 1 */
    for (size_t i = 0; i < p->ninputs; i++) {
        g.in[i].index = i;
        size_t si = (size_t)(p->inputs[i].source - rc->cfg->sources);
        if (!slot[si]) {
            slot[si] = ++g.ngroups;
            g.groups[g.ngroups - 1] = xcalloc(p->ninputs, sizeof **g.groups);
        }
        size_t gi = slot[si] - 1;
        g.groups[gi][g.ngroup[gi]++] = i;
    }
    free(slot);
    (void)ngroups;
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.more, NULL);
    log_set_context(r->session_id, r->pipeline, "gather");
    double t0 = mono_now(), analysed = 0;
    pthread_t fetcher;
    int threaded = pthread_create(&fetcher, NULL, fetch_all, &g) == 0;
    if (!threaded) fetch_all(&g);   /* no thread: fetch everything first, then feed */
    int rcode = 0;
    for (size_t i = 0; i < p->ninputs && rcode == 0; i++) {
        pinput *pi = &g.in[i];
        conf_input *input = &p->inputs[i];
        revops_instance *in = &sources[input->source - rc->cfg->sources];
        for (;;) {
            pthread_mutex_lock(&g.mu);
            while (!pi->head && !pi->done) pthread_cond_wait(&g.more, &g.mu);
            qchunk *q = pi->head;
            if (q) {
                pi->head = q->next;
                if (!pi->head) pi->tail = NULL;
            }
            pthread_mutex_unlock(&g.mu);
            if (!q) break;
            double a0 = mono_now();
            revops_status st = rcode ? REVOPS_ERROR : on_chunk(rc, &q->c);
            analysed += mono_now() - a0;
            chunk_free_copy(&q->c);
            free(q);
            if (st != REVOPS_OK && !rcode) {
                rcode = -1;
                pthread_mutex_lock(&g.mu);
                g.abort = 1;
                pthread_mutex_unlock(&g.mu);
            }
        }
        input_stats *is = &r->inputs[i];
        is->name = input->name;
        is->source = input->source->name;
        is->rows = pi->ss.rows;
        is->chunks = pi->ss.chunks;
        is->attempts = pi->attempts;
        r->step_seconds[STEP_PROCESS] += pi->ss.process_seconds;
        if (rcode) break;   /* the analysis refused a chunk: on_chunk said why */
        if (pi->partial) {
            is->partial = 1;
            r->partial = 1;
            snprintf(is->lost, sizeof is->lost, "%s", pi->lost);
            continue;
        }
        if (pi->st != REVOPS_OK) {
            if (!r->error[0]) snprintf(r->error, sizeof r->error, "%s", pi->error);
            rcode = -1;
            pthread_mutex_lock(&g.mu);
            g.abort = 1;
            pthread_mutex_unlock(&g.mu);
            break;
        }
        log_msg(REVOPS_LOG_INFO, in->label, "input '%s': %lld rows in %zu chunk%s", input->name, (long long)pi->ss.rows,
                pi->ss.chunks, pi->ss.chunks == 1 ? "" : "s");
    }
    if (threaded) pthread_join(fetcher, NULL);
    /* Chunks of inputs never consumed (after a failure) are dropped. */
    for (size_t i = 0; i < p->ninputs; i++)
        while (g.in[i].head) {
            qchunk *q = g.in[i].head;
            g.in[i].head = q->next;
            chunk_free_copy(&q->c);
            free(q);
        }
    r->peak_sources = g.peak;
    r->step_seconds[STEP_ANALYSE] += analysed;
    double process = 0;
    for (size_t i = 0; i < p->ninputs; i++) process += g.in[i].ss.process_seconds;
    r->step_seconds[STEP_GATHER] += fmax(0, mono_now() - t0 - analysed - process);
    for (size_t k = 0; k < g.ngroups; k++) free(g.groups[k]);
    free(g.groups);
    free(g.ngroup);
    free(g.in);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.more);
    return rcode;
}

static int analyse(run_ctx *rc, int64_t cap)
{
    run_result *r = rc->r;
    log_set_context(r->session_id, r->pipeline, "analyse");
    progress_step(r->pipeline, "analyse");
    revops_emitter em = { .analysis = rc->p->analysis_type, .abi_minor = rc->p->analysis->desc->abi_minor };
    double t0 = mono_now();
    revops_status st = rc->p->analysis->desc->vt.analysis->finalize(rc->state, &em);
    r->step_seconds[STEP_ANALYSE] += mono_now() - t0;
    if (st != REVOPS_OK || em.error[0]) {
        snprintf(r->error, sizeof r->error, "[%s] finalize failed: %s", rc->analysis.label,
                 em.error[0] ? em.error : rc->analysis.error[0] ? rc->analysis.error : "no reason given");
        for (size_t i = 0; i < em.n; i++) finding_free(em.v[i]);
        free(em.v);
        return -1;
    }
    if (em.n) qsort(em.v, em.n, sizeof *em.v, finding_cmp);  /* em.v is NULL when there is none */
    r->findings_total = em.n;
    size_t keep = cap > 0 && (size_t)cap < em.n ? (size_t)cap : em.n;
    for (size_t i = keep; i < em.n; i++) finding_free(em.v[i]);
    if (keep < em.n)
        log_msg(REVOPS_LOG_INFO, rc->analysis.label, "max_opportunities = %lld: keeping the %zu highest of %zu findings",
                (long long)cap, keep, em.n);
    r->findings = em.v;
    r->nfindings = keep;
    for (size_t i = 0; i < keep; i++) r->findings[i]->partial = r->partial;
    for (size_t i = 0; i < keep; i++) r->by_priority[r->findings[i]->priority]++;
    return 0;
}

/* The model step (the spec's InvokeDataAgent + InvokeAnalysisAgent), after
 * the deterministic analysis: optionally the data agent with the spec's
 * request template, then the narrative.  It only adds to the findings; any
 * failure here is recorded and the run goes on with the deterministic text
 * (deterministic mode is the same run without this step). */
static void model_step(run_ctx *rc, const run_options *o)
{
    run_result *r = rc->r;
    conf_pipeline *p = rc->p;
    revops_config *c = rc->cfg;
    log_set_context(r->session_id, r->pipeline, "analyse");
    progress_step(r->pipeline, "narrate");
    double t0 = mono_now();
    json_object *rec = json_object_new_object();
    r->model = rec;
    retention_prune(c, (double)time(NULL));
    char err[1024];
    privacy *pv = privacy_new(&c->classes, err, sizeof err);
    if (!pv) {
        json_object_object_add(rec, "error", json_string_fmt("classification.key: %s", err));
        log_error("no narrative: classification.key: %s", err);
        return;
    }
    model_session ms;
    if (model_open(&ms, c, p->narrate_model, p->model_budget, rc->deadline, &p->retry, err, sizeof err) < 0) {
        json_object_object_add(rec, "error", json_object_new_string(err));
        log_warn("no narrative: %s; the findings keep their deterministic text", err);
        privacy_free(pv);
        return;
    }
    char *notes = NULL;
    if (p->agent) {
        char *task = xasprintf("Gather all data required for %s analysis. Target: %s. Additional context: %s",
                               p->analysis_type, o->target ? o->target : "all accounts", o->context ? o->context : "none");
        agent_result ar;
        model_session *agent_ms = &ms;
        model_session other;
        int separate = c->agent.model != p->narrate_model;
        /* The agent may use another model than the narrative; both spend
         * this run's one budget. */
        if (separate && model_open(&other, c, c->agent.model, p->model_budget, rc->deadline, &p->retry, err, sizeof err) == 0)
            agent_ms = &other;
        else if (separate)
            separate = 0, log_warn("data agent model: %s; using the narrative's model", err);
        if (agent_run(c, agent_ms, pv, task, r->session_id, rc->deadline, &ar) == 0) notes = xstrdup(ar.answer);
        else log_warn("data agent stopped without notes (%s): %s", ar.stop, ar.error);
        json_object *aj = agent_result_json(&ar);
        json_object_object_add(aj, "task", json_object_new_string(task));
        json_object_object_add(rec, "agent", aj);
        if (separate) {
            ms.budget -= model_tokens(&other);
            if (ms.budget < 1) ms.budget = 1;
            json_object_object_add(rec, "agent_model", model_session_json(&other));
            model_close(&other);
        }
        agent_result_free(&ar);
        free(task);
    }
    json_object *nr = json_object_new_object();
    narrate_findings(c, &ms, pv, r->findings, r->nfindings, p->narrate_batch, notes, r->session_id, &p->parallel, nr);
    r->peak_narrative = (size_t)json_object_get_int64(json_object_object_get(nr, "peak_in_flight"));
    json_object_object_add(rec, "narrative", nr);
    for (size_t i = 0; i < r->nfindings; i++) r->narrated += r->findings[i]->narrative != NULL;
    json_object_object_add(rec, "session", model_session_json(&ms));
    json_object_object_add(rec, "seconds", json_number(mono_now() - t0, 3));
    log_info("narrative: %zu of %zu findings narrated by %s, %lld tokens in, %lld out", r->narrated, r->nfindings,
             p->narrate_model->name, (long long)ms.tokens_in, (long long)ms.tokens_out);
    model_close(&ms);
    free(notes);
    privacy_free(pv);
    r->step_seconds[STEP_ANALYSE] += mono_now() - t0;
}

static int owner_matches(const conf_route *rt, const char *owner)
{
    if (!rt->nowners) return 1;
    if (!owner) return 0;
    for (size_t i = 0; i < rt->nowners; i++) {
        const char *o = rt->owners[i];
        size_t lo = strlen(o), lw = strlen(owner);
        if (o[0] == '@' ? lw > lo && !strcasecmp(owner + lw - lo, o) : !strcasecmp(owner, o)) return 1;
    }
    return 0;
}

static int analysis_matches(const conf_route *rt, const char *analysis)
{
    if (!rt->analyses) return 1;
    return analysis && analysis[0] == 'A' && analysis[1] >= '1' && analysis[1] <= '6' && !analysis[2] &&
           (rt->analyses & (1u << (analysis[1] - '1')));
}

static int routed(const conf_route *rt, const revops_finding *f)
{
    return (rt->priorities & (1u << f->priority)) && f->score >= rt->min_score && analysis_matches(rt, f->analysis) &&
           owner_matches(rt, f->owner);
}

/* The test-only crash switch: REVOPS_TEST_KILL_AFTER_DELIVERIES=N makes the
 * process SIGKILL itself when a sink has confirmed its Nth delivery, before
 * the outbox marks it: the worst moment, which tests/outbox_crash.sh uses to
 * prove that the next run delivers exactly the rest. */
static void maybe_die(void)
{
    static long left = -2;
    if (left == -2) {
        const char *e = getenv("REVOPS_TEST_KILL_AFTER_DELIVERIES");
        left = e && *e ? strtol(e, NULL, 10) : -1;
    }
    if (left > 0 && --left == 0) raise(SIGKILL);
}

/* Deliver one route's items: in calls of at most ci->batch findings;
 * results that say RETRY are delivered again (only those) with backoff
 * within the run's deadline; each final result is marked in the outbox in
 * its own commit right after the call returns. */
static void deliver_items(run_ctx *rc, conf_route *rt, revops_instance *inp, outbox_items *items, store *st,
                          action_stats *as)
{
    run_result *r = rc->r;
    conf_pipeline *p = rc->p;
    size_t per = rt->action->batch ? rt->action->batch : items->n;
    static const char no_result[] = "the action returned no result for this finding (plugin bug)";
    for (size_t from = 0; from < items->n; from += per) {
        size_t pending = items->n - from < per ? items->n - from : per;
        outbox_item **todo = xcalloc(pending, sizeof *todo);
        for (size_t i = 0; i < pending; i++) todo[i] = &items->v[from + i];
        const revops_finding **batch = xcalloc(pending, sizeof *batch);
        const char **ids = xcalloc(pending, sizeof *ids);
        int *occ = xcalloc(pending, sizeof *occ);
        revops_delivery *res = xcalloc(pending, sizeof *res);
        for (int attempt = 1; pending > 0 && attempt <= p->retry.max_attempts; attempt++) {
            for (size_t i = 0; i < pending; i++) {
                batch[i] = todo[i]->f;
                ids[i] = todo[i]->delivery_id;
                occ[i] = todo[i]->occurrence;
                /* A result the plugin leaves unfilled must not count as
                 * delivered (REVOPS_OK is 0). */
                res[i].status = REVOPS_ERROR;
                snprintf(res[i].message, sizeof res[i].message, "%s", no_result);
            }
            revops_batch b = { r->session_id, r->pipeline, r->analysis, pending, batch, 0, ids, occ };
            inp->error[0] = '\0';
            revops_status bst = rt->action->plugin->desc->vt.action->deliver(inp->ctx, &b, res);
            size_t still = 0;
            int last_try = attempt == p->retry.max_attempts;
            double wait = 0;
            if (!last_try) {
                wait = retry_delay(&p->retry, attempt + 1);
                if (mono_now() + wait > rc->deadline) last_try = 1;
            }
            for (size_t i = 0; i < pending; i++) {
                revops_status fs = bst == REVOPS_OK ? res[i].status : bst;
                /* A whole-batch failure: the action's own reason, not the
                 * placeholder the results were pre-filled with. */
                const char *why = bst != REVOPS_OK && inp->error[0] ? inp->error
                                  : res[i].message[0] ? res[i].message : inp->error[0] ? inp->error : "no reason given";
                if (fs == REVOPS_RETRY && !last_try) {
                    todo[still++] = todo[i];
                    snprintf(as->last_error, sizeof as->last_error, "%s", why);
                    continue;
                }
                if (fs == REVOPS_OK) {
                    maybe_die();
                    as->delivered++;
                } else {
                    as->failed++;
                    snprintf(as->last_error, sizeof as->last_error, "%s", why);
                }
                int gave_up = 0;
                char err[512];
                if (st && outbox_mark(st, &rc->cfg->delivery, todo[i], r->session_id, fs, why, &gave_up, err, sizeof err) < 0)
                    log_msg(REVOPS_LOG_ERROR, inp->label, "outbox: cannot record delivery %s: %s", todo[i]->delivery_id, err);
                if (fs == REVOPS_OK) continue;
                const revops_finding *f = todo[i]->f;
                if (st && fs == REVOPS_RETRY && !gave_up) {
                    as->deferred++;
                    log_msg(REVOPS_LOG_WARN, inp->label, "finding %.12s (account %s) not delivered, kept for a later run: %s",
                            f->fingerprint, f->account_id, why);
                } else {
                    if (gave_up)
                        log_msg(REVOPS_LOG_ERROR, inp->label, "finding %.12s (account %s) not delivered after %d runs "
                                "(delivery.retry_runs), marked failed: %s; `revops outbox --requeue` sends it again",
                                f->fingerprint, f->account_id, todo[i]->attempts + 1, why);
                    else
                        log_msg(REVOPS_LOG_ERROR, inp->label, "finding %.12s (account %s) not delivered: %s", f->fingerprint,
                                f->account_id, why);
                }
            }
            progress_action(as->name, as->delivered, as->failed, as->to_deliver);
            if (still) {
                as->retried += still;
                log_msg(REVOPS_LOG_WARN, inp->label, "%zu deliver%s will be retried in %.2fs: %s", still,
                        still == 1 ? "y" : "ies", wait, as->last_error);
                sleep_seconds(wait);
            }
            pending = still;
        }
        free(todo);
        free(batch);
        free(ids);
        free(occ);
        free(res);
    }
}

/* Deliver each route's findings: through the outbox (exactly once, state
 * in state_dir/state.db) unless the action is an every-run output. */
static void act(run_ctx *rc)
{
    run_result *r = rc->r;
    conf_pipeline *p = rc->p;
    log_set_context(r->session_id, r->pipeline, "act");
    progress_step(r->pipeline, "act");
    double t0 = mono_now();
    r->actions = xcalloc(p->nroutes ? p->nroutes : 1, sizeof *r->actions);
    r->nactions = 0;
    store *st = NULL;
    char serr[512] = "";
    int need_store = 0;
    for (size_t k = 0; k < p->nroutes; k++) need_store |= p->routes[k].action->outbox;
    /* A unique mark for this run: findings it did not see are closed. */
    char run_uid[200];
    snprintf(run_uid, sizeof run_uid, "%s:%.6f:%ld", r->session_id, r->started_at, (long)getpid());
    /* Every real run records its findings (`revops findings`); the outbox
     * needs them, the every-run outputs do not. */
    if (!r->dry_run) {
        st = store_get(rc->cfg, serr, sizeof serr);
        if (st && outbox_record_findings(st, run_uid, r->session_id, r->pipeline, r->findings, r->nfindings, serr,
                                         sizeof serr) < 0)
            st = NULL;
        if (!st && need_store) log_msg(REVOPS_LOG_ERROR, NULL, "nothing is delivered to actions that need the outbox: %s", serr);
        else if (!st) log_warn("findings not recorded in the state store: %s", serr);
    }
    for (size_t k = 0; k < p->nroutes; k++) {
        conf_route *rt = &p->routes[k];
        /* Several rules may name one action: a finding goes to it once, when
         * any of them selects it. */
        int first = 1;
        for (size_t j = 0; j < k; j++) first &= p->routes[j].action != rt->action;
        if (!first) continue;
        action_stats *as = &r->actions[r->nactions++];
        as->name = rt->action->name;
        const revops_finding **routed_v = xcalloc(r->nfindings ? r->nfindings : 1, sizeof *routed_v);
        size_t n = 0;
        for (size_t i = 0; i < r->nfindings; i++) {
            int any = 0;
            for (size_t j = k; j < p->nroutes && !any; j++)
                any = p->routes[j].action == rt->action && routed(&p->routes[j], r->findings[i]);
            if (any) routed_v[n++] = r->findings[i];
        }
        as->routed = n;
        if (r->dry_run) {
            log_msg(REVOPS_LOG_INFO, NULL, "dry run: would deliver %zu finding%s to action '%s'", n, n == 1 ? "" : "s", as->name);
            free(routed_v);
            continue;
        }
        outbox_items items = { 0 };
        if (rt->action->outbox) {
            outbox_counts cnt;
            char err[512];
            if (!st || outbox_enqueue(st, &rc->cfg->delivery, r->session_id, r->pipeline, as->name, routed_v, n, &items,
                                      &cnt, err, sizeof err) < 0) {
                as->failed = n;
                snprintf(as->last_error, sizeof as->last_error, "%s", st ? err : serr);
                if (st) log_msg(REVOPS_LOG_ERROR, NULL, "action '%s': %s", as->name, err);
                free(routed_v);
                continue;
            }
            as->suppressed = cnt.suppressed;
            as->from_earlier = cnt.from_earlier;
            as->held = cnt.held + cnt.unreadable;
            if (cnt.suppressed || cnt.from_earlier || cnt.held || cnt.realerted)
                log_msg(REVOPS_LOG_INFO, NULL, "action '%s': %zu to deliver (%zu re-alert%s, %zu from earlier runs), %zu already delivered and still open%s",
                        as->name, items.n, cnt.realerted, cnt.realerted == 1 ? "" : "s", cnt.from_earlier, cnt.suppressed, "");
            if (cnt.held)
                log_msg(REVOPS_LOG_WARN, NULL, "action '%s': %zu deliver%s failed for good in earlier runs (revops outbox; --requeue to send again)",
                        as->name, cnt.held, cnt.held == 1 ? "y" : "ies");
        } else {
            for (size_t i = 0; i < n; i++) {
                char id[33];
                outbox_delivery_id(routed_v[i]->fingerprint, as->name, 1, id);
                if (items.n == items.cap) {
                    items.cap = items.cap ? items.cap * 2 : 16;
                    items.v = xrealloc(items.v, items.cap * sizeof *items.v);
                }
                items.v[items.n++] = (outbox_item){ routed_v[i], NULL, "", 1, 0 };
                memcpy(items.v[items.n - 1].delivery_id, id, sizeof id);
            }
        }
        free(routed_v);
        as->to_deliver = items.n;
        if (rt->action->outbox && items.n == 0) continue;  /* nothing new: no connection */
        revops_instance own, *inp = &own;
        pooled_action *pa = rc->pool ? &rc->pool->v[rt->action - rc->cfg->actions] : NULL;
        int open_rc = 0;
        if (pa) {
            inp = &pa->in;
            if (!pa->opened && (open_rc = open_instance(rc, rt->action, inp)) == 0) pa->opened = 1;
            /* A pooled instance serves each pipeline under that run's own
             * deadline and retry policy. */
            inp->deadline = rc->deadline;
            inp->retry = &p->retry;
        } else {
            open_rc = open_instance(rc, rt->action, inp);
        }
        if (open_rc < 0) {
            /* Not delivered; with the outbox, still pending for a later run. */
            as->failed = items.n;
            if (st) as->deferred = items.n;
            snprintf(as->last_error, sizeof as->last_error, "%s", r->error);
            r->error[0] = '\0';
            log_msg(REVOPS_LOG_ERROR, NULL, "%s", as->last_error);
            outbox_items_free(&items);
            continue;
        }
        deliver_items(rc, rt, inp, &items, rt->action->outbox ? st : NULL, as);
        /* The reason of a failure that later succeeded is history. */
        if (!as->failed) as->last_error[0] = '\0';
        if (!pa) rt->action->plugin->desc->vt.action->close(inp->ctx);
        outbox_items_free(&items);
    }
    /* A complete run is the truth about what is open: findings of this
     * pipeline it did not produce are closed (a later return re-alerts). */
    size_t closed = 0;
    if (st && !r->partial && r->findings_total == r->nfindings &&
        outbox_close_missing(st, r->pipeline, run_uid, &closed, serr, sizeof serr) < 0)
        log_msg(REVOPS_LOG_ERROR, NULL, "outbox: %s", serr);
    if (closed) log_info("%zu finding%s of this pipeline no longer found: closed", closed, closed == 1 ? "" : "s");
    r->step_seconds[STEP_ACT] = mono_now() - t0;
}

/* `revops outbox --deliver`: what is due in the outbox, delivered now
 * without running any pipeline; each (action, pipeline) under that
 * pipeline's retry policy when it is still configured. */
int outbox_deliver_due(revops_config *c, store *st, const char *only_action, int dry_run)
{
    int code = EXIT_RUN_OK;
    size_t total = 0;
    for (size_t a = 0; a < c->nactions; a++) {
        conf_instance *ci = &c->actions[a];
        if (!ci->outbox || (only_action && strcmp(only_action, ci->name))) continue;
        char err[512];
        sqlite3_stmt *q = store_prepare(st,
            "SELECT DISTINCT pipeline FROM deliveries WHERE action=?1 AND state='pending' AND next_attempt<=?2 ORDER BY pipeline",
            err, sizeof err);
        if (!q) {
            fprintf(stderr, "revops: %s\n", err);
            return EXIT_RUN_FAILED;
        }
        sqlite3_bind_text(q, 1, ci->name, -1, SQLITE_STATIC);
        sqlite3_bind_double(q, 2, clock_now());
        char **pipes = NULL;
        size_t np = 0;
        while (sqlite3_step(q) == SQLITE_ROW) {
            pipes = xrealloc(pipes, (np + 1) * sizeof *pipes);
            pipes[np++] = xstrdup((const char *)sqlite3_column_text(q, 0));
        }
        sqlite3_finalize(q);
        for (size_t k = 0; k < np; k++) {
            conf_pipeline stub = { 0 }, *p = NULL;
            for (size_t i = 0; i < c->npipelines; i++)
                if (!strcmp(c->pipelines[i].name, pipes[k])) p = &c->pipelines[i];
            if (!p) {
                stub.name = pipes[k];
                stub.retry = c->retry;
                stub.timeout = c->timeout > 0 ? c->timeout : 900;
                p = &stub;
            }
            run_result r = { 0 };
            r.pipeline = p->name;
            session_id_default(r.session_id, sizeof r.session_id);
            r.started_at = clock_now();
            run_ctx rc = { c, p, &r, NULL, mono_now() + p->timeout, { 0 }, NULL, 0 };
            outbox_items items;
            outbox_counts cnt;
            action_stats as = { .name = ci->name };
            if (outbox_enqueue(st, &c->delivery, r.session_id, p->name, ci->name, NULL, 0, &items, &cnt, err, sizeof err) < 0) {
                fprintf(stderr, "revops: %s\n", err);
                code = EXIT_RUN_FAILED;
                continue;
            }
            r.analysis = items.n ? items.v[0].f->analysis : "";
            total += items.n;
            if (dry_run) {
                for (size_t i = 0; i < items.n; i++)
                    printf("would deliver %s to %s (pipeline %s, account %s, %s): %s\n", items.v[i].delivery_id, ci->name,
                           p->name, items.v[i].f->account_id, revops_priority_name(items.v[i].f->priority), items.v[i].f->title);
                outbox_items_free(&items);
                continue;
            }
            revops_instance in;
            log_set_context(r.session_id, p->name, "act");
            if (items.n && open_instance(&rc, ci, &in) == 0) {
                conf_route rt = { .action = ci };
                deliver_items(&rc, &rt, &in, &items, st, &as);
                ci->plugin->desc->vt.action->close(in.ctx);
            } else if (items.n) {
                as.failed = items.n;
                snprintf(as.last_error, sizeof as.last_error, "%s", r.error);
            }
            printf("%s (pipeline %s): %zu delivered, %zu failed%s%s\n", ci->name, p->name, as.delivered, as.failed,
                   as.failed ? ": " : "", as.failed ? as.last_error : "");
            if (as.failed) code = EXIT_DELIVERY_FAILED;
            outbox_items_free(&items);
        }
        for (size_t k = 0; k < np; k++) free(pipes[k]);
        free(pipes);
    }
    if (dry_run || total == 0) printf("%zu deliver%s due%s\n", total, total == 1 ? "y" : "ies", dry_run ? " (dry run: nothing sent)" : "");
    return code;
}

void action_pool_init(action_pool *pool, const revops_config *c)
{
    pool->n = c->nactions;
    pool->v = xcalloc(c->nactions ? c->nactions : 1, sizeof *pool->v);
}

void action_pool_close(action_pool *pool, const revops_config *c)
{
    for (size_t i = 0; i < pool->n; i++) {
        if (!pool->v[i].opened) continue;
        log_set_context(NULL, NULL, "act");
        c->actions[i].plugin->desc->vt.action->close(pool->v[i].in.ctx);
    }
    free(pool->v);
    pool->v = NULL;
    pool->n = 0;
}


/* One JSON line appended to state_dir/runs.jsonl (pipeline runs and `revops
 * ask` sessions).  Failing to write it is reported, not fatal: the findings
 * were already delivered. */
void run_record_append(const revops_config *c, json_object *rec)
{
    char *path = xasprintf("%s/runs.jsonl", c->state_dir);
    FILE *f = NULL;
    if (make_dirs(c->state_dir) == 0) f = fopen(path, "a");
    if (!f) {
        log_warn("cannot record the run in %s: %s", path, strerror(errno));
    } else {
        fprintf(f, "%s\n", json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        if (fclose(f) != 0) log_warn("cannot record the run in %s: %s", path, strerror(errno));
    }
    free(path);
}

static int64_t jint(json_object *o, const char *a, const char *b)
{
    json_object *x = o ? json_object_object_get(o, a) : NULL;
    if (x && b) x = json_object_object_get(x, b);
    return x ? json_object_get_int64(x) : 0;
}

/* One row per pipeline run in the runs table: what `revops runs` lists and
 * what the optional warehouse sinks of issue 6 can read back. */
int runs_store_record(const revops_config *c, const run_result *r, json_object *record, char *err, size_t n)
{
    store *s = store_get(c, err, n);
    if (!s) return -1;
    sqlite3_stmt *st = store_prepare(s,
        "INSERT INTO runs(session_id, pipeline, analysis, trigger, started_at, seconds, status, dry_run,"
        " rows_read, findings, critical, high, medium, low, delivered, delivery_failed, suppressed, tokens_in,"
        " tokens_out, record) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20)", err, n);
    if (!st) return -1;
    int64_t rows = 0;
    for (size_t i = 0; i < r->ninputs; i++) rows += r->inputs[i].rows;
    size_t delivered = 0, failed = 0, suppressed = 0;
    for (size_t k = 0; k < r->nactions; k++) {
        delivered += r->actions[k].delivered;
        failed += r->actions[k].failed;
        suppressed += r->actions[k].suppressed;
    }
    sqlite3_bind_text(st, 1, r->session_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->pipeline, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->analysis, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->trigger, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 5, r->started_at);
    sqlite3_bind_double(st, 6, r->seconds);
    sqlite3_bind_text(st, 7, r->status, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 8, r->dry_run);
    sqlite3_bind_int64(st, 9, rows);
    sqlite3_bind_int64(st, 10, (int64_t)r->nfindings);
    sqlite3_bind_int64(st, 11, (int64_t)r->by_priority[REVOPS_PRIORITY_CRITICAL]);
    sqlite3_bind_int64(st, 12, (int64_t)r->by_priority[REVOPS_PRIORITY_HIGH]);
    sqlite3_bind_int64(st, 13, (int64_t)r->by_priority[REVOPS_PRIORITY_MEDIUM]);
    sqlite3_bind_int64(st, 14, (int64_t)r->by_priority[REVOPS_PRIORITY_LOW]);
    sqlite3_bind_int64(st, 15, (int64_t)delivered);
    sqlite3_bind_int64(st, 16, (int64_t)failed);
    sqlite3_bind_int64(st, 17, (int64_t)suppressed);
    sqlite3_bind_int64(st, 18, jint(r->model, "session", "input_tokens"));
    sqlite3_bind_int64(st, 19, jint(r->model, "session", "output_tokens"));
    sqlite3_bind_text(st, 20, json_object_to_json_string_ext(record, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), -1,
                      SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) store_error(s, err, n);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The spec's LogAnalytics step: the run record. */
static void log_run(run_ctx *rc)
{
    run_result *r = rc->r;
    log_set_context(r->session_id, r->pipeline, "log");
    progress_step(r->pipeline, "log");
    double t0 = mono_now();
    json_object *o = run_result_json(r, 0);
    run_record_append(rc->cfg, o);
    /* The same record, queryable: `revops runs`. */
    char err[512];
    if (runs_store_record(rc->cfg, r, o, err, sizeof err) < 0) log_warn("cannot record the run in the state store: %s", err);
    json_object_put(o);
    r->step_seconds[STEP_LOG] = mono_now() - t0;
}

static volatile sig_atomic_t stop_requested;

void run_request_stop(void)
{
    stop_requested = 1;
}

int run_stop_requested(void)
{
    return stop_requested != 0;
}

/* Between steps: a stop request ends the run here.  Nothing of this run has
 * reached the outbox before act, and act is finished once begun, so the
 * state store is always as a commit left it. */
static int stopped_before(run_ctx *rc, const char *step)
{
    if (!stop_requested) return 0;
    run_result *r = rc->r;
    r->interrupted = 1;
    snprintf(r->error, sizeof r->error, "stopped by a signal before the %s step; nothing of this run was delivered, "
             "the next run starts over", step);
    return 1;
}

int run_pipeline(revops_config *c, conf_pipeline *p, const run_options *o, run_result *r)
{
    memset(r, 0, sizeof *r);
    r->pipeline = p->name;
    r->analysis = p->analysis_type;
    r->trigger = o->trigger ? o->trigger : "manual";
    r->dry_run = o->dry_run;
    r->status = "failed";
    if (o->session_id) snprintf(r->session_id, sizeof r->session_id, "%s", o->session_id);
    else session_id_default(r->session_id, sizeof r->session_id);
    r->started_at = clock_now();
    /* One run of a pipeline at a time per state_dir, whoever starts it (the
     * daemon, a timer, an operator): two would deliver the same pending
     * rows.  A dry run writes nothing and needs no lock. */
    int lock_fd = -1;
    if (!o->dry_run) {
        lock_fd = pipeline_lock(c, p->name, r->error, sizeof r->error);
        if (lock_fd < 0) {
            r->status = "busy";
            log_set_context(r->session_id, r->pipeline, NULL);
            log_error("run not started: %s", r->error);
            log_set_context(NULL, NULL, NULL);
            return EXIT_BUSY;
        }
    }
    r->parallel = p->parallel;
    double t_start = mono_now();
    run_ctx rc = { c, p, r, o->pool, t_start + p->timeout, { 0 }, NULL, 0 };
    r->inputs = xcalloc(p->ninputs ? p->ninputs : 1, sizeof *r->inputs);
    r->ninputs = p->ninputs;
    log_set_context(r->session_id, r->pipeline, "gather");
    progress_step(r->pipeline, "gather");
    log_info("run started: analysis %s, %zu input%s, trigger %s%s", p->analysis_type, p->ninputs,
             p->ninputs == 1 ? "" : "s", r->trigger, o->dry_run ? ", dry run" : "");

    /* Open each source this pipeline reads, once. */
    revops_instance *sources = xcalloc(c->nsources ? c->nsources : 1, sizeof *sources);
    int *opened = xcalloc(c->nsources ? c->nsources : 1, sizeof *opened);
    int ok = 1;
    for (size_t i = 0; ok && i < p->ninputs; i++) {
        size_t si = (size_t)(p->inputs[i].source - c->sources);
        if (opened[si]) continue;
        if (open_instance(&rc, &c->sources[si], &sources[si]) < 0) ok = 0;
        else opened[si] = 1;
    }
    char serr[512];
    if (ok && options_resolve_secrets(p->analysis_opts, p->name, serr, sizeof serr) < 0) {
        snprintf(r->error, sizeof r->error, "%s", serr);
        ok = 0;
    }
    const revops_run_info info = { r->session_id, p->name, p->analysis_type, r->trigger,
                                   o->max_opportunities >= 0 ? o->max_opportunities : p->max_opportunities, r->started_at };
    instance_init(&rc.analysis, REVOPS_KIND_ANALYSIS, p->analysis->desc->name, p->name, c, &p->retry);
    rc.analysis.deadline = rc.deadline;
    int initialised = 0;
    if (ok) {
        if (p->analysis->desc->vt.analysis->init(&rc.analysis, &host_services, p->analysis_opts, &info, &rc.state) != REVOPS_OK) {
            snprintf(r->error, sizeof r->error, "[%s] init failed: %s", rc.analysis.label,
                     rc.analysis.error[0] ? rc.analysis.error : "no reason given");
            ok = 0;
        } else {
            initialised = 1;
        }
    }
    if (ok && !stopped_before(&rc, "gather") && gather(&rc, sources) < 0) ok = 0;
    for (size_t i = 0; i < c->nsources; i++)
        if (opened[i]) c->sources[i].plugin->desc->vt.source->close(sources[i].ctx);
    free(sources);
    free(opened);
    if (ok && !r->interrupted && !stopped_before(&rc, "analyse") && analyse(&rc, info.max_opportunities) < 0) ok = 0;
    if (initialised) p->analysis->desc->vt.analysis->destroy(rc.state);
    if (ok && !r->interrupted && p->narrate_model && r->nfindings && !stopped_before(&rc, "model")) model_step(&rc, o);
    if (ok && !r->interrupted) stopped_before(&rc, "act");
    if (r->interrupted) {
        ok = 0;
        r->status = "interrupted";
    }
    if (ok) {
        act(&rc);
        r->status = r->partial ? "partial" : "ok";
        for (size_t k = 0; k < r->nactions; k++)
            if (r->actions[k].failed && !r->partial) r->status = "delivery_failed";
    }
    r->seconds = mono_now() - t_start;
    log_run(&rc);
    r->seconds = mono_now() - t_start;
    log_set_context(r->session_id, r->pipeline, NULL);
    if (ok) log_info("run finished: %zu finding%s in %.2fs", r->nfindings, r->nfindings == 1 ? "" : "s", r->seconds);
    else if (r->interrupted) log_warn("run interrupted: %s", r->error);
    else log_error("run failed: %s", r->error);
    log_set_context(NULL, NULL, NULL);
    state_unlock(lock_fd);
    if (r->interrupted) return EXIT_INTERRUPTED;
    if (!ok) return EXIT_RUN_FAILED;
    if (r->partial) return EXIT_PARTIAL;
    return strcmp(r->status, "ok") ? EXIT_DELIVERY_FAILED : EXIT_RUN_OK;
}

void run_result_free(run_result *r)
{
    for (size_t i = 0; i < r->nfindings; i++) finding_free(r->findings[i]);
    free(r->findings);
    free(r->inputs);
    free(r->actions);
    json_object_put(r->model);
    memset(r, 0, sizeof *r);
}

static json_object *num3(double v)
{
    return json_number(v, 3);
}

json_object *run_result_json(const run_result *r, int with_findings)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "session_id", json_object_new_string(r->session_id));
    json_object_object_add(o, "pipeline", json_object_new_string(r->pipeline));
    json_object_object_add(o, "analysis", json_object_new_string(r->analysis));
    json_object_object_add(o, "trigger", json_object_new_string(r->trigger));
    json_object_object_add(o, "status", json_object_new_string(r->status));
    json_object_object_add(o, "error", r->error[0] ? json_object_new_string(r->error) : NULL);
    json_object_object_add(o, "dry_run", json_object_new_boolean(r->dry_run));
    json_object_object_add(o, "partial", json_object_new_boolean(r->partial));
    char ts[21];
    utc_format(r->started_at, ts);
    json_object_object_add(o, "started_at", json_object_new_string(ts));
    json_object_object_add(o, "seconds", num3(r->seconds));
    json_object *steps = json_object_new_object();
    for (int s = 0; s < STEP_COUNT; s++) json_object_object_add(steps, step_names[s], num3(r->step_seconds[s]));
    json_object_object_add(o, "steps", steps);
    json_object *ins = json_object_new_array();
    for (size_t i = 0; i < r->ninputs; i++) {
        if (!r->inputs[i].name) continue;
        json_object *x = json_object_new_object();
        json_object_object_add(x, "input", json_object_new_string(r->inputs[i].name));
        json_object_object_add(x, "source", json_object_new_string(r->inputs[i].source));
        json_object_object_add(x, "rows", json_object_new_int64(r->inputs[i].rows));
        json_object_object_add(x, "chunks", json_object_new_int64((int64_t)r->inputs[i].chunks));
        json_object_object_add(x, "attempts", json_object_new_int(r->inputs[i].attempts));
        json_object_object_add(x, "partial", json_object_new_boolean(r->inputs[i].partial));
        if (r->inputs[i].partial) json_object_object_add(x, "lost", json_object_new_string(r->inputs[i].lost));
        json_object_array_add(ins, x);
    }
    json_object_object_add(o, "inputs", ins);
    /* The bound used, and how close each fan-out came to it. */
    json_object *par = json_object_new_object();
    json_object_object_add(par, "batches", json_object_new_int(r->parallel.batches));
    json_object_object_add(par, "concurrency", json_object_new_int(r->parallel.concurrency));
    json_object *peak = json_object_new_object();
    json_object_object_add(peak, "sources", json_object_new_int64((int64_t)r->peak_sources));
    json_object_object_add(peak, "narrative", json_object_new_int64((int64_t)r->peak_narrative));
    json_object_object_add(par, "peak_in_flight", peak);
    json_object_object_add(o, "parallelism", par);
    json_object *fp = json_object_new_object();
    for (int pr = REVOPS_PRIORITY_CRITICAL; pr >= REVOPS_PRIORITY_LOW; pr--)
        json_object_object_add(fp, revops_priority_name((revops_priority)pr), json_object_new_int64((int64_t)r->by_priority[pr]));
    json_object_object_add(o, "findings_by_priority", fp);
    json_object_object_add(o, "findings", json_object_new_int64((int64_t)r->nfindings));
    json_object_object_add(o, "findings_total", json_object_new_int64((int64_t)r->findings_total));
    json_object *acts = json_object_new_array();
    for (size_t k = 0; k < r->nactions; k++) {
        json_object *x = json_object_new_object();
        json_object_object_add(x, "action", json_object_new_string(r->actions[k].name));
        json_object_object_add(x, "routed", json_object_new_int64((int64_t)r->actions[k].routed));
        json_object_object_add(x, "delivered", json_object_new_int64((int64_t)r->actions[k].delivered));
        json_object_object_add(x, "failed", json_object_new_int64((int64_t)r->actions[k].failed));
        json_object_object_add(x, "retried", json_object_new_int64((int64_t)r->actions[k].retried));
        /* The outbox's view (0 for every-run outputs). */
        json_object_object_add(x, "suppressed", json_object_new_int64((int64_t)r->actions[k].suppressed));
        json_object_object_add(x, "from_earlier_runs", json_object_new_int64((int64_t)r->actions[k].from_earlier));
        json_object_object_add(x, "deferred", json_object_new_int64((int64_t)r->actions[k].deferred));
        json_object_object_add(x, "held", json_object_new_int64((int64_t)r->actions[k].held));
        if (r->actions[k].last_error[0])
            json_object_object_add(x, "last_error", json_object_new_string(r->actions[k].last_error));
        json_object_array_add(acts, x);
    }
    json_object_object_add(o, "actions", acts);
    if (r->model) json_object_object_add(o, "model", json_object_get(r->model));
    if (with_findings) {
        json_object *fs = json_object_new_array();
        for (size_t i = 0; i < r->nfindings; i++) json_object_array_add(fs, finding_to_json(r->findings[i]));
        json_object_object_add(o, "finding_list", fs);
    }
    return o;
}

void run_result_print(const run_result *r, const char *format, FILE *out)
{
    int md = strcmp(format, "markdown") == 0;
    if (md) {
        fprintf(out, "## Run %s — pipeline `%s` (%s)\n\n", r->session_id, r->pipeline, r->analysis);
        fprintf(out, "- status: **%s**%s in %.2f s\n", r->status, r->dry_run ? " (dry run)" : "", r->seconds);
        if (r->error[0]) fprintf(out, "- error: %s\n", r->error);
        fprintf(out, "\n| step | seconds |\n|---|---|\n");
        for (int s = 0; s < STEP_COUNT; s++) fprintf(out, "| %s | %.3f |\n", step_names[s], r->step_seconds[s]);
        fprintf(out, "\n| input | source | rows | chunks | attempts |\n|---|---|---|---|---|\n");
        for (size_t i = 0; i < r->ninputs; i++)
            if (r->inputs[i].name)
                fprintf(out, "| %s | %s | %lld | %zu | %d |\n", r->inputs[i].name, r->inputs[i].source,
                        (long long)r->inputs[i].rows, r->inputs[i].chunks, r->inputs[i].attempts);
        fprintf(out, "\nFindings: %zu (critical %zu, high %zu, medium %zu, low %zu)\n", r->nfindings,
                r->by_priority[3], r->by_priority[2], r->by_priority[1], r->by_priority[0]);
        if (r->nactions) fprintf(out, "\n| action | routed | delivered | failed |\n|---|---|---|---|\n");
        for (size_t k = 0; k < r->nactions; k++)
            fprintf(out, "| %s | %zu | %zu | %zu |\n", r->actions[k].name, r->actions[k].routed,
                    r->actions[k].delivered, r->actions[k].failed);
        fputc('\n', out);
        return;
    }
    fprintf(out, "run %s: pipeline %s (%s) %s%s in %.2fs\n", r->session_id, r->pipeline, r->analysis, r->status,
            r->dry_run ? " (dry run)" : "", r->seconds);
    if (r->error[0]) fprintf(out, "  error: %s\n", r->error);
    fprintf(out, "  steps:");
    for (int s = 0; s < STEP_COUNT; s++) fprintf(out, " %s %.3fs", step_names[s], r->step_seconds[s]);
    fputc('\n', out);
    for (size_t i = 0; i < r->ninputs; i++)
        if (r->inputs[i].name)
            fprintf(out, "  input %s <- %s: %lld rows, %zu chunk%s, %d attempt%s%s%s\n", r->inputs[i].name, r->inputs[i].source,
                    (long long)r->inputs[i].rows, r->inputs[i].chunks, r->inputs[i].chunks == 1 ? "" : "s",
                    r->inputs[i].attempts, r->inputs[i].attempts == 1 ? "" : "s", r->inputs[i].partial ? "; PARTIAL: " : "",
                    r->inputs[i].lost);
    fprintf(out, "  findings: %zu (critical %zu, high %zu, medium %zu, low %zu)", r->nfindings, r->by_priority[3],
            r->by_priority[2], r->by_priority[1], r->by_priority[0]);
    if (r->findings_total > r->nfindings) fprintf(out, " of %zu, capped by max_opportunities", r->findings_total);
    fputc('\n', out);
    if (r->model) {
        json_object *ses = json_object_object_get(r->model, "session"), *err = json_object_object_get(r->model, "error");
        if (err)
            fprintf(out, "  model: none used: %s\n", json_object_get_string(err));
        else if (ses)
            fprintf(out, "  model %s: %zu of %zu findings narrated; %s calls, %s tokens in, %s out\n",
                    json_object_get_string(json_object_object_get(ses, "model")), r->narrated, r->nfindings,
                    json_object_get_string(json_object_object_get(ses, "calls")),
                    json_object_get_string(json_object_object_get(ses, "input_tokens")),
                    json_object_get_string(json_object_object_get(ses, "output_tokens")));
    }
    for (size_t k = 0; k < r->nactions; k++) {
        const action_stats *a = &r->actions[k];
        fprintf(out, "  action %s: %zu routed, %zu delivered, %zu failed", a->name, a->routed, a->delivered, a->failed);
        if (a->suppressed) fprintf(out, ", %zu already delivered", a->suppressed);
        if (a->from_earlier) fprintf(out, ", %zu from earlier runs", a->from_earlier);
        if (a->deferred) fprintf(out, ", %zu kept for a later run", a->deferred);
        if (a->held) fprintf(out, ", %zu held (revops outbox)", a->held);
        fprintf(out, "%s%s\n", a->last_error[0] ? ": " : "", a->last_error);
    }
}

/* `revops query`: one source, one query, chunks to cb.  Same retries and
 * deadline rules as a pipeline run, with the global settings. */
int source_query(revops_config *c, conf_instance *src, const char *dataset, const char *query, int64_t row_limit,
                 size_t rows_per_chunk, chunk_cb cb, void *cb_data, char *err, size_t errlen)
{
    double deadline = mono_now() + c->timeout;
    revops_instance in;
    if (instance_open(c, &c->retry, deadline, src, &in, err, errlen) < 0) return -1;
    conf_input input = { (char *)dataset, src, (char *)query, row_limit, NULL, 0 };
    revops_stream *s = stream_new(dataset, src->name, rows_per_chunk, NULL, cb, cb_data);
    stream_set_max_bytes(s, src->max_chunk_bytes);
    fetch_arg a = { &input, query, &in, s, 0 };
    int attempts = 0;
    revops_status st = retry_loop(&c->retry, deadline, &in, "fetch", do_fetch, &a, &attempts);
    if (st != REVOPS_OK)
        snprintf(err, errlen, "%s", stream_error(s) ? stream_error(s)
                                                    : in.error[0] ? in.error : "the source failed without saying why");
    src->plugin->desc->vt.source->close(in.ctx);
    stream_free(s);
    return st == REVOPS_OK ? 0 : -1;
}
