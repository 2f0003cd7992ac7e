/* The analysis narrative: a model writes, for each finding, a summary and
 * next steps as strict JSON checked against NARRATIVE_SCHEMA (and against
 * the batch: every fingerprint once, no other).  An invalid answer gets one
 * repair attempt — the model is shown its answer and the first schema error —
 * and if that is invalid too the deterministic text stays and the run record
 * says so.  A finding is never lost and its score, priority and facts never
 * change: the narrative only adds (revops_finding.narrative, next_steps).
 *
 * What goes to the model is classified like a tool result: each finding
 * field has a class (classification.findings), withheld ones are left out,
 * pseudonymised ones carry pseudonyms, and titles, descriptions and evidence
 * are scrubbed of every value the session knows; the narrative comes back
 * with the pseudonyms mapped to the values. */
#include "config.h"
#include "core.h"

#include <json-c/json.h>
#include <pthread.h>
#include <string.h>

static const char NARRATIVE_SCHEMA[] =
    "{\"type\":\"object\",\"required\":[\"narratives\"],\"additionalProperties\":false,"
    "\"properties\":{\"narratives\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":100,"
    "\"items\":{\"type\":\"object\",\"required\":[\"fingerprint\",\"summary\",\"next_steps\"],"
    "\"additionalProperties\":false,\"properties\":{"
    "\"fingerprint\":{\"type\":\"string\",\"minLength\":64,\"maxLength\":64},"
    "\"summary\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1200},"
    "\"next_steps\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":6,"
    "\"items\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":300}}}}}}}";

static const char SYSTEM[] =
    "You are the analysis agent of revops, a revenue-operations tool. Deterministic rules found the findings you are "
    "given; you explain them to a RevOps lead. Never change their facts, scores or priorities. Values like "
    "ANON_0123456789ab are pseudonyms: keep them exactly as written. Answer with one JSON object and nothing else.";

const char *narrative_schema(void)
{
    return NARRATIVE_SCHEMA;
}

/* One identity field of a finding as the model may see it; NULL: left out. */
static const char *identity(const classification *cl, privacy *pv, data_class dc, const char *raw)
{
    if (!raw || !*raw) return NULL;
    if (!class_embeddable(cl, dc)) {
        privacy_withhold(pv, raw);
        return NULL;
    }
    privacy_note_sent(pv, dc);
    return cl->policy[dc].needs_anonymization ? privacy_pseudonym(pv, raw) : raw;
}

static void add_text(json_object *o, const char *key, privacy *pv, const char *text)
{
    if (!text) return;
    char *s = privacy_scrub(pv, text);
    json_object_object_add(o, key, json_object_new_string(s));
    free(s);
}

static json_object *batch_json(const revops_config *c, privacy *pv, revops_finding **f, size_t n)
{
    const classification *cl = &c->classes;
    const char **ids = xcalloc(n * 3, sizeof *ids);
    /* Identities first, so every text below is scrubbed of all of them. */
    for (size_t i = 0; i < n; i++) {
        ids[3 * i] = identity(cl, pv, cl->finding_class[FF_ACCOUNT_ID], f[i]->account_id);
        ids[3 * i + 1] = identity(cl, pv, cl->finding_class[FF_ACCOUNT_NAME], f[i]->account_name);
        ids[3 * i + 2] = identity(cl, pv, cl->finding_class[FF_OPPORTUNITY_ID], f[i]->opportunity_id);
    }
    int text_ok = class_embeddable(cl, cl->finding_class[FF_TEXT]);
    int evidence_ok = class_embeddable(cl, cl->finding_class[FF_EVIDENCE]);
    if (text_ok) privacy_note_sent(pv, cl->finding_class[FF_TEXT]);
    if (evidence_ok) privacy_note_sent(pv, cl->finding_class[FF_EVIDENCE]);
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        const revops_finding *x = f[i];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "fingerprint", json_object_new_string(x->fingerprint));
        json_object_object_add(o, "analysis", json_object_new_string(x->analysis));
        json_object_object_add(o, "category", json_object_new_string(x->category));
        json_object_object_add(o, "priority", json_object_new_string(revops_priority_name(x->priority)));
        json_object_object_add(o, "score", json_number(x->score, 3));
        if (ids[3 * i]) json_object_object_add(o, "account_id", json_object_new_string(ids[3 * i]));
        if (ids[3 * i + 1]) json_object_object_add(o, "account_name", json_object_new_string(ids[3 * i + 1]));
        if (ids[3 * i + 2]) json_object_object_add(o, "opportunity_id", json_object_new_string(ids[3 * i + 2]));
        if (text_ok) {
            add_text(o, "title", pv, x->title);
            add_text(o, "description", pv, x->description);
        }
        json_object *sigs = json_object_new_array();
        for (size_t k = 0; k < x->nsignals; k++) {
            json_object *s = json_object_new_object();
            json_object_object_add(s, "name", json_object_new_string(x->signals[k].name));
            json_object_object_add(s, "value", json_number(x->signals[k].value, 4));
            json_object_object_add(s, "threshold", json_number(x->signals[k].threshold, 4));
            json_object_object_add(s, "weight", json_number(x->signals[k].weight, 4));
            if (evidence_ok) add_text(s, "evidence", pv, x->signals[k].evidence);
            json_object_array_add(sigs, s);
        }
        json_object_object_add(o, "signals", sigs);
        if (text_ok && x->nactions) {
            json_object *acts = json_object_new_array();
            for (size_t k = 0; k < x->nactions; k++) {
                char *s = privacy_scrub(pv, x->recommended_actions[k]);
                json_object_array_add(acts, json_object_new_string(s));
                free(s);
            }
            json_object_object_add(o, "recommended_actions", acts);
        }
        json_object_array_add(arr, o);
    }
    free(ids);
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "findings", arr);
    return doc;
}

/* The answer's text as one JSON object: a ```json fence around it is
 * tolerated (models add one), anything else around it is not. */
static json_object *parse_answer(const char *text, char *err, size_t errlen)
{
    const char *s = text;
    while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t') s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == '\t')) len--;
    if (len >= 6 && !strncmp(s, "```", 3) && !strncmp(s + len - 3, "```", 3)) {
        const char *nl = memchr(s, '\n', len);
        if (nl) {
            len -= (size_t)(nl + 1 - s) + 3;
            s = nl + 1;
        }
    }
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, s, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!o || e != json_tokener_success) {
        snprintf(err, errlen, "the answer is not JSON (%s at byte %zu)",
                 e == json_tokener_continue ? "it ends early" : json_tokener_error_desc(e), used);
        json_object_put(o);
        return NULL;
    }
    while (used < len && (s[used] == ' ' || s[used] == '\n' || s[used] == '\r' || s[used] == '\t')) used++;
    if (used < len) {
        snprintf(err, errlen, "the answer has text after its JSON object (at byte %zu)", used);
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* Schema, then the batch: every fingerprint exactly once. */
static int check_answer(json_object *o, revops_finding **f, size_t n, char *err, size_t errlen)
{
    if (json_schema_check(NARRATIVE_SCHEMA, o, err, errlen) < 0) return -1;
    json_object *arr = json_object_object_get(o, "narratives");
    int *seen = xcalloc(n, sizeof *seen);
    int rc = 0;
    for (size_t i = 0; i < json_object_array_length(arr) && rc == 0; i++) {
        const char *fp = json_object_get_string(json_object_object_get(json_object_array_get_idx(arr, i), "fingerprint"));
        size_t k;
        for (k = 0; k < n && strcmp(f[k]->fingerprint, fp); k++) {}
        if (k == n) {
            snprintf(err, errlen, "$.narratives[%zu].fingerprint: %.16s... is not one of the findings given", i, fp);
            rc = -1;
        } else if (seen[k]++) {
            snprintf(err, errlen, "$.narratives[%zu].fingerprint: %.16s... appears twice", i, fp);
            rc = -1;
        }
    }
    for (size_t k = 0; k < n && rc == 0; k++)
        if (!seen[k]) {
            snprintf(err, errlen, "$.narratives: the finding %.16s... has no narrative", f[k]->fingerprint);
            rc = -1;
        }
    free(seen);
    return rc;
}

static void apply(json_object *o, revops_finding **f, size_t n, const privacy *pv, const char *model)
{
    json_object *arr = json_object_object_get(o, "narratives");
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        const char *fp = json_object_get_string(json_object_object_get(e, "fingerprint"));
        for (size_t k = 0; k < n; k++) {
            if (strcmp(f[k]->fingerprint, fp)) continue;
            finding_clear_narrative(f[k]);
            f[k]->narrative = privacy_restore(pv, json_object_get_string(json_object_object_get(e, "summary")), 0);
            json_object *steps = json_object_object_get(e, "next_steps");
            size_t ns = json_object_array_length(steps);
            const char **v = xcalloc(ns, sizeof *v);
            for (size_t j = 0; j < ns; j++) v[j] = privacy_restore(pv, json_object_get_string(json_object_array_get_idx(steps, j)), 0);
            f[k]->next_steps = v;
            f[k]->nnext_steps = ns;
            f[k]->narrative_model = xstrdup(model);
        }
    }
}

static char *reply_text(const revops_model_reply *r)
{
    strbuf sb = { 0 };
    for (size_t i = 0; i < r->nblocks; i++)
        if (r->blocks[i].type == REVOPS_BLOCK_TEXT && r->blocks[i].text) sb_puts(&sb, r->blocks[i].text);
    return sb.buf ? sb_steal(&sb) : xstrdup("");
}

/* One batch of the narrative: prepared on the run's thread in batch order
 * (its prompt scrubbed as the session stood then), sent by a worker, then
 * merged on the run's thread in batch order again, so the findings, the
 * record, its notes and the transcript read as in a sequential run. */
typedef struct nbatch {
    size_t from, m;
    size_t pv_version;         /* what the session knew once this batch was prepared */
    convo cv;                  /* the prompt, then the whole exchange */
    int started;               /* a model call was tried (a later batch after a stop is not) */
    int stopped;               /* a call failed (budget, deadline, model error) */
    char stop_error[1024];
    json_object *answer;       /* the valid answer, applied at the merge */
    int repaired;
    char err[512];             /* why the answer was invalid */
    char first_model[128];     /* the first reply's model name in this batch */
    json_object *calls;        /* this batch's entries of the call log */
    int64_t tokens_in, tokens_out;
    size_t ncalls;
} nbatch;

typedef struct narrate_run {
    const char *system;
    nbatch *b;
    model_session **free_sessions;   /* a worker takes one for its batch */
    size_t nfree;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;                  /* a call failed: no further batch starts */
    const privacy *pv;
    revops_finding **f;        /* read only until the merge */
} narrate_run;

static model_session *take_session(narrate_run *nr)
{
    pthread_mutex_lock(&nr->mu);
    while (!nr->nfree) pthread_cond_wait(&nr->cv, &nr->mu);
    model_session *ms = nr->free_sessions[--nr->nfree];
    pthread_mutex_unlock(&nr->mu);
    return ms;
}

static void give_session(narrate_run *nr, model_session *ms)
{
    pthread_mutex_lock(&nr->mu);
    nr->free_sessions[nr->nfree++] = ms;
    pthread_cond_signal(&nr->cv);
    pthread_mutex_unlock(&nr->mu);
}

/* A worker: one batch's call and, when its answer is invalid, one repair. */
static void narrate_one(void *arg, size_t k)
{
    narrate_run *nr = arg;
    nbatch *b = &nr->b[k];
    pthread_mutex_lock(&nr->mu);
    int skip = nr->stop;
    pthread_mutex_unlock(&nr->mu);
    if (skip) return;
    b->started = 1;
    model_session *ms = take_session(nr);
    /* The session's counters and call log before this batch: what it adds
     * is this batch's, merged in batch order afterwards. */
    size_t log0 = json_object_array_length(ms->calls_log), calls0 = ms->calls;
    int64_t in0 = ms->tokens_in, out0 = ms->tokens_out;
    int done = 0;
    for (int attempt = 1; attempt <= 2 && !done; attempt++) {
        convo_scrub_at(&b->cv, nr->pv, b->pv_version);
        revops_model_request req = { nr->system, b->cv.n, b->cv.msgs, 0, NULL, (int64_t)(400 * b->m + 300), -1, 1 };
        revops_model_reply reply;
        if (model_call(ms, attempt == 1 ? "narrative" : "narrative_repair", &req, &reply) != REVOPS_OK) {
            snprintf(b->stop_error, sizeof b->stop_error, "%s", ms->in.error);
            log_msg(REVOPS_LOG_WARN, ms->in.label, "narrative stopped: %s; the findings keep their deterministic text",
                    ms->in.error);
            b->stopped = 1;
            pthread_mutex_lock(&nr->mu);
            nr->stop = 1;
            pthread_mutex_unlock(&nr->mu);
            break;
        }
        if (reply.model && !b->first_model[0]) snprintf(b->first_model, sizeof b->first_model, "%s", reply.model);
        char *text = reply_text(&reply);
        convo_add(&b->cv, REVOPS_ROLE_ASSISTANT, reply.blocks, reply.nblocks);
        json_object *o = parse_answer(text, b->err, sizeof b->err);
        if (o && check_answer(o, nr->f + b->from, b->m, b->err, sizeof b->err) == 0) {
            b->answer = o;
            o = NULL;
            b->repaired = attempt == 2;
            done = 1;
        } else if (attempt == 1) {
            log_msg(REVOPS_LOG_INFO, ms->in.label, "narrative batch %zu is invalid (%s); asking once for a repair", k + 1,
                    b->err);
            char *ask = xasprintf("That answer is not valid: %s. Reply with only the corrected JSON object, "
                                  "matching the schema, with one narrative per finding; no other text.", b->err);
            convo_add_text(&b->cv, REVOPS_ROLE_USER, ask);
            free(ask);
        }
        json_object_put(o);
        free(text);
    }
    if (!done && !b->stopped)
        log_msg(REVOPS_LOG_WARN, ms->in.label, "narrative batch %zu invalid after one repair (%s): the findings keep "
                "their deterministic text", k + 1, b->err);
    b->calls = json_object_new_array();
    for (size_t i = log0; i < json_object_array_length(ms->calls_log); i++)
        json_object_array_add(b->calls, json_object_get(json_object_array_get_idx(ms->calls_log, i)));
    b->ncalls = ms->calls - calls0;
    b->tokens_in = ms->tokens_in - in0;
    b->tokens_out = ms->tokens_out - out0;
    give_session(nr, ms);
}

int narrate_findings(revops_config *c, model_session *ms, privacy *pv, revops_finding **f, size_t n, size_t batch,
                     const char *agent_notes, const char *session_id, const parallelism *par, json_object *record)
{
    size_t narrated = 0, batches = 0, repaired = 0, invalid = 0;
    json_object *notes = json_object_new_array();
    char *notes_sent = agent_notes ? privacy_scrub(pv, agent_notes) : NULL;
    size_t nb = batch ? (n + batch - 1) / batch : 0;
    nbatch *bs = xcalloc(nb ? nb : 1, sizeof *bs);
    /* Every prompt first, in batch order, on this thread: the session learns
     * the batches' identities in the order a sequential run would, and each
     * batch remembers how far it had got (pv_version).  A run whose
     * narrative stops early has prepared, not sent, the later batches: the
     * session then knows more values than it needed, which only scrubs
     * more. */
    for (size_t k = 0; k < nb; k++) {
        nbatch *b = &bs[k];
        b->from = k * batch;
        b->m = n - b->from < batch ? n - b->from : batch;
        json_object *doc = batch_json(c, pv, f + b->from, b->m);
        strbuf prompt = { 0 };
        sb_printf(&prompt,
                  "Write a narrative for each of the %zu findings below: a summary (two to four sentences for a RevOps "
                  "lead: what is happening, why it matters, grounded in the signals) and one to six concrete next "
                  "steps. Answer with only one JSON object, no other text, matching this JSON Schema:\n%s\n",
                  b->m, NARRATIVE_SCHEMA);
        if (notes_sent) sb_printf(&prompt, "\nThe data agent gathered this context:\n%s\n", notes_sent);
        sb_printf(&prompt, "\nThe findings:\n```json\n%s\n```\n",
                  json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(doc);
        convo_add_text(&b->cv, REVOPS_ROLE_USER, prompt.buf);
        sb_free(&prompt);
        b->pv_version = privacy_version(pv);
    }
    privacy_freeze(pv);

    /* One model instance per worker (a plugin's ctx is not thread-safe):
     * the run's own, and as many more as batches can run at once.  One that
     * cannot be opened only lowers the concurrency. */
    size_t want = pool_bound(par) < nb ? pool_bound(par) : nb;
    model_session *extra = xcalloc(want ? want : 1, sizeof *extra);
    model_session **sessions = xcalloc(want ? want : 1, sizeof *sessions);
    size_t nsessions = 0, nextra = 0;
    if (want) sessions[nsessions++] = ms;
    for (size_t i = 1; i < want; i++) {
        char err[1024];
        if (model_open(&extra[nextra], c, ms->model, 0, ms->in.deadline, ms->in.retry, err, sizeof err) < 0) {
            log_warn("narrative: a parallel model instance could not be opened (%s); %zu at once", err, nsessions);
            break;
        }
        sessions[nsessions++] = &extra[nextra++];
    }
    /* The run's session lends its counters for the fan-out and gets them
     * back with every batch's added in batch order; all sessions spend one
     * budget, which the agent may already have used from. */
    json_object *log_before = ms->calls_log;
    int64_t in_before = ms->tokens_in, out_before = ms->tokens_out;
    size_t calls_before = ms->calls;
    ms->calls_log = json_object_new_array();
    model_ledger *ledger = model_ledger_new(ms->budget, model_tokens(ms));
    for (size_t i = 0; i < nsessions; i++) sessions[i]->ledger = ledger;

    char name_before[sizeof ms->model_name];
    memcpy(name_before, ms->model_name, sizeof name_before);
    narrate_run nr = { .system = SYSTEM, .b = bs, .free_sessions = sessions, .nfree = nsessions, .pv = pv, .f = f };
    pthread_mutex_init(&nr.mu, NULL);
    pthread_cond_init(&nr.cv, NULL);
    size_t peak = pool_map(par, nb, narrate_one, &nr);

    json_object_put(ms->calls_log);
    ms->calls_log = log_before;
    ms->tokens_in = in_before;
    ms->tokens_out = out_before;
    ms->calls = calls_before;
    memcpy(ms->model_name, name_before, sizeof name_before);
    for (size_t i = 0; i < nsessions; i++) {
        ms->budget_stop |= sessions[i]->budget_stop;
        sessions[i]->ledger = NULL;
    }
    model_ledger_free(ledger);
    for (size_t i = 0; i < nextra; i++) model_close(&extra[i]);
    free(extra);
    free(sessions);
    pthread_mutex_destroy(&nr.mu);
    pthread_cond_destroy(&nr.cv);

    /* The first batch that stopped (in batch order) is reported as a
     * sequential run reports it.  Batches after it that stopped too sent
     * nothing (a refused call is never made), as if never started; ones
     * that were already in flight and finished are kept. */
    convo all = { 0 };   /* for the transcript */
    int seen_stop = 0;
    for (size_t k = 0; k < nb; k++) {
        nbatch *b = &bs[k];
        if (b->started && b->stopped && seen_stop && !b->ncalls) b->started = 0;
        if (b->started) {
            seen_stop |= b->stopped;
            batches++;
            for (size_t i = 0; i < json_object_array_length(b->calls); i++)
                json_object_array_add(ms->calls_log, json_object_get(json_object_array_get_idx(b->calls, i)));
            ms->calls += b->ncalls;
            ms->tokens_in += b->tokens_in;
            ms->tokens_out += b->tokens_out;
            if (!ms->model_name[0] && b->first_model[0]) snprintf(ms->model_name, sizeof ms->model_name, "%s", b->first_model);
            if (b->stopped) {
                json_object_array_add(notes, json_string_fmt("narrative stopped at batch %zu (findings %zu..%zu): %s", k + 1,
                                                             b->from + 1, b->from + b->m, b->stop_error));
            } else if (b->answer) {
                apply(b->answer, f + b->from, b->m, pv, ms->model_name[0] ? ms->model_name : ms->model->name);
                narrated += b->m;
                repaired += b->repaired;
            } else {
                invalid++;
                json_object_array_add(notes, json_string_fmt(
                    "batch %zu (findings %zu..%zu) kept its deterministic text: the answer was invalid after one repair: %s",
                    k + 1, b->from + 1, b->from + b->m, b->err));
            }
            for (size_t i = 0; i < b->cv.n; i++) convo_add(&all, b->cv.msgs[i].role, b->cv.msgs[i].blocks, b->cv.msgs[i].nblocks);
        }
        json_object_put(b->answer);
        json_object_put(b->calls);
        convo_free(&b->cv);
    }
    free(bs);
    if (c->agent.keep_transcripts && all.n) transcript_write(c, session_id, "narrative", SYSTEM, &all, pv);
    convo_free(&all);
    free(notes_sent);
    json_object_object_add(record, "findings", json_object_new_int64((int64_t)n));
    json_object_object_add(record, "batches", json_object_new_int64((int64_t)batches));
    json_object_object_add(record, "narrated", json_object_new_int64((int64_t)narrated));
    json_object_object_add(record, "repaired_batches", json_object_new_int64((int64_t)repaired));
    json_object_object_add(record, "invalid_batches", json_object_new_int64((int64_t)invalid));
    json_object_object_add(record, "notes", notes);
    json_object_object_add(record, "peak_in_flight", json_object_new_int64((int64_t)peak));
    return narrated == n ? 0 : -1;
}
