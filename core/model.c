/* A model session: one opened model instance, the conversation the core
 * owns, and the token accounting that bounds it.  Plugins translate one turn
 * (revops_model_vtable.complete); everything that must hold across turns —
 * copies of the blocks (a reply's memory is the plugin's only until its next
 * call), the per-run token budget, the record of every call — is here. */
#include "config.h"
#include "core.h"

#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void convo_add(convo *cv, revops_role role, const revops_block *blocks, size_t n)
{
    if (cv->n == cv->cap) {
        cv->cap = cv->cap ? cv->cap * 2 : 8;
        cv->msgs = xrealloc(cv->msgs, cv->cap * sizeof *cv->msgs);
    }
    revops_block *copy = xcalloc(n ? n : 1, sizeof *copy);
    for (size_t i = 0; i < n; i++) {
        copy[i].type = blocks[i].type;
        copy[i].text = dup_or_null(blocks[i].text);
        copy[i].id = dup_or_null(blocks[i].id);
        copy[i].name = dup_or_null(blocks[i].name);
        copy[i].input_json = dup_or_null(blocks[i].input_json);
        copy[i].is_error = blocks[i].is_error;
    }
    cv->msgs[cv->n++] = (revops_message){ role, n, copy };
}

void convo_add_text(convo *cv, revops_role role, const char *text)
{
    revops_block b = { REVOPS_BLOCK_TEXT, text, NULL, NULL, NULL, 0 };
    convo_add(cv, role, &b, 1);
}

void convo_free(convo *cv)
{
    for (size_t i = 0; i < cv->n; i++) {
        for (size_t k = 0; k < cv->msgs[i].nblocks; k++) {
            const revops_block *b = &cv->msgs[i].blocks[k];
            free((char *)b->text);
            free((char *)b->id);
            free((char *)b->name);
            free((char *)b->input_json);
        }
        free((revops_block *)cv->msgs[i].blocks);
    }
    free(cv->msgs);
    memset(cv, 0, sizeof *cv);
}

/* Scrub every text of the conversation again with what the session knows
 * now: a value learned in a later tool result may sit in an earlier one (or
 * in the knowledge base passages of the system prompt), and the whole
 * conversation is sent again on every turn. */
void convo_scrub(convo *cv, privacy *pv)
{
    privacy_freeze(pv);
    convo_scrub_at(cv, pv, privacy_version(pv));
}

void convo_scrub_at(convo *cv, const privacy *pv, size_t version)
{
    for (size_t i = 0; i < cv->n; i++) {
        for (size_t k = 0; k < cv->msgs[i].nblocks; k++) {
            revops_block *b = (revops_block *)&cv->msgs[i].blocks[k];
            if (b->text) {
                char *s = privacy_scrub_at(pv, b->text, version);
                free((char *)b->text);
                b->text = s;
            }
            if (b->input_json) {
                char *s = privacy_scrub_at(pv, b->input_json, version);
                free((char *)b->input_json);
                b->input_json = s;
            }
        }
    }
}

const char *stop_reason_name(revops_stop_reason s)
{
    switch (s) {
    case REVOPS_STOP_END_TURN: return "end_turn";
    case REVOPS_STOP_TOOL_USE: return "tool_use";
    case REVOPS_STOP_MAX_TOKENS: return "max_tokens";
    default: return "other";
    }
}

int model_open(model_session *ms, revops_config *c, conf_instance *m, int64_t budget, double deadline,
               const retry_policy *rp, char *err, size_t errlen)
{
    memset(ms, 0, sizeof *ms);
    ms->cfg = c;
    ms->model = m;
    ms->budget = budget;
    ms->calls_log = json_object_new_array();
    if (instance_open(c, rp, deadline, m, &ms->in, err, errlen) < 0) {
        json_object_put(ms->calls_log);
        ms->calls_log = NULL;
        return -1;
    }
    ms->opened = 1;
    return 0;
}

/* One token budget for several sessions calling at once (the narrative's
 * parallel batches, each with its own model instance).  Every call in
 * flight holds as reserved its max_tokens plus an estimate of its input
 * tokens (the request's text bytes / 3: tokenizers average 3.5-4 bytes a
 * token on English and JSON, so this errs high; the real count is only
 * known from the reply).  A call starts at once while that fits next to
 * what is spent and reserved; otherwise
 * it waits until the calls in flight are done, and then the sequential
 * rule applies on what was really spent: refused when the budget is
 * spent, else its max_tokens cut to what is left.  So a cut only happens
 * to a call alone in flight, as in a sequential run, and when the budget
 * is not exhausted every call is sent exactly as in a sequential run; when
 * it is, which batches got it may differ (docs/architecture.md). */
struct model_ledger {
    pthread_mutex_t mu;
    pthread_cond_t settled;
    int64_t budget, used, reserved;
};

model_ledger *model_ledger_new(int64_t budget, int64_t used)
{
    model_ledger *l = xcalloc(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->settled, NULL);
    l->budget = budget;
    l->used = used;
    return l;
}

void model_ledger_free(model_ledger *l)
{
    if (!l) return;
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->settled);
    free(l);
}

static int64_t input_estimate(const revops_model_request *r)
{
    size_t bytes = r->system ? strlen(r->system) : 0;
    for (size_t i = 0; i < r->nmessages; i++)
        for (size_t k = 0; k < r->messages[i].nblocks; k++) {
            const revops_block *b = &r->messages[i].blocks[k];
            bytes += (b->text ? strlen(b->text) : 0) + (b->input_json ? strlen(b->input_json) : 0);
        }
    for (size_t i = 0; i < r->ntools; i++)
        bytes += strlen(r->tools[i].name) + (r->tools[i].description ? strlen(r->tools[i].description) : 0) +
                 (r->tools[i].input_schema ? strlen(r->tools[i].input_schema) : 0);
    return (int64_t)(bytes / 3 + 1);
}

/* 0 and *max_tokens cut, *held reserved; or -1 with the refusal in err. */
static int ledger_reserve(model_ledger *l, int64_t *max_tokens, int64_t input_est, int64_t *held, char *err, size_t errlen)
{
    pthread_mutex_lock(&l->mu);
    while (l->budget > 0 && l->reserved > 0 && l->used + l->reserved + input_est + *max_tokens > l->budget)
        pthread_cond_wait(&l->settled, &l->mu);
    int64_t taken = l->used + l->reserved;
    if (l->budget > 0 && taken >= l->budget) {
        snprintf(err, errlen, "the token budget of %lld is spent (%lld used)", (long long)l->budget, (long long)taken);
        pthread_mutex_unlock(&l->mu);
        return -1;
    }
    if (l->budget > 0 && *max_tokens > l->budget - taken) *max_tokens = l->budget - taken;
    *held = *max_tokens + input_est;
    l->reserved += *held;
    pthread_mutex_unlock(&l->mu);
    return 0;
}

static void ledger_settle(model_ledger *l, int64_t reserved, int64_t spent)
{
    pthread_mutex_lock(&l->mu);
    l->reserved -= reserved;
    l->used += spent;
    pthread_cond_broadcast(&l->settled);
    pthread_mutex_unlock(&l->mu);
}

int64_t model_tokens(const model_session *ms)
{
    return ms->tokens_in + ms->tokens_out;
}

int model_budget_spent(const model_session *ms)
{
    return ms->budget > 0 && model_tokens(ms) >= ms->budget;
}

revops_status model_call(model_session *ms, const char *purpose, const revops_model_request *req, revops_model_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    revops_model_request r = *req;
    int64_t held = 0;
    if (ms->ledger) {
        if (ledger_reserve(ms->ledger, &r.max_tokens, input_estimate(&r), &held, ms->in.error, sizeof ms->in.error) < 0) {
            ms->budget_stop = 1;
            return REVOPS_ERROR;
        }
    } else if (model_budget_spent(ms)) {
        snprintf(ms->in.error, sizeof ms->in.error, "the token budget of %lld is spent (%lld used)", (long long)ms->budget,
                 (long long)model_tokens(ms));
        ms->budget_stop = 1;
        return REVOPS_ERROR;
    }
    /* The reply may not spend more than what is left. */
    if (!ms->ledger && ms->budget > 0 && r.max_tokens > ms->budget - model_tokens(ms)) r.max_tokens = ms->budget - model_tokens(ms);
    if (mono_now() > ms->in.deadline && ms->in.deadline > 0) {
        snprintf(ms->in.error, sizeof ms->in.error, "the run's deadline has passed");
        if (ms->ledger) ledger_settle(ms->ledger, held, 0);
        return REVOPS_ERROR;
    }
    ms->in.error[0] = '\0';
    double t0 = mono_now();
    size_t retries0 = ms->in.http_retries;
    revops_status st = ms->model->plugin->desc->vt.model->complete(ms->in.ctx, &r, reply);
    double secs = mono_now() - t0;
    ms->calls++;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "purpose", json_object_new_string(purpose));
    json_object_object_add(o, "seconds", json_number(secs, 3));
    json_object_object_add(o, "http_retries", json_object_new_int64((int64_t)(ms->in.http_retries - retries0)));
    if (st == REVOPS_OK) {
        int64_t in = reply->input_tokens > 0 ? reply->input_tokens : 0, out = reply->output_tokens > 0 ? reply->output_tokens : 0;
        ms->tokens_in += in;
        ms->tokens_out += out;
        if (ms->ledger) ledger_settle(ms->ledger, held, in + out);
        if (reply->model && !ms->model_name[0]) snprintf(ms->model_name, sizeof ms->model_name, "%s", reply->model);
        json_object_object_add(o, "status", json_object_new_string("ok"));
        json_object_object_add(o, "stop", json_object_new_string(stop_reason_name(reply->stop)));
        json_object_object_add(o, "input_tokens", json_object_new_int64(in));
        json_object_object_add(o, "output_tokens", json_object_new_int64(out));
        log_msg(REVOPS_LOG_DEBUG, ms->in.label, "%s: %lld tokens in, %lld out, stop %s, %.2fs", purpose, (long long)in,
                (long long)out, stop_reason_name(reply->stop), secs);
    } else {
        if (ms->ledger) ledger_settle(ms->ledger, held, 0);
        json_object_object_add(o, "status", json_object_new_string(st == REVOPS_RETRY ? "retry" : "error"));
        json_object_object_add(o, "error", json_object_new_string(ms->in.error[0] ? ms->in.error : "no reason given"));
        if (!ms->in.error[0]) snprintf(ms->in.error, sizeof ms->in.error, "the model failed without saying why");
    }
    json_object_array_add(ms->calls_log, o);
    return st;
}

json_object *model_session_json(const model_session *ms)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "model", json_object_new_string(ms->model ? ms->model->name : ""));
    if (ms->model_name[0]) json_object_object_add(o, "provider_model", json_object_new_string(ms->model_name));
    json_object_object_add(o, "calls", json_object_new_int64((int64_t)ms->calls));
    json_object_object_add(o, "input_tokens", json_object_new_int64(ms->tokens_in));
    json_object_object_add(o, "output_tokens", json_object_new_int64(ms->tokens_out));
    json_object_object_add(o, "token_budget", json_object_new_int64(ms->budget));
    json_object_object_add(o, "budget_exhausted", json_object_new_boolean(ms->budget_stop));
    json_object_object_add(o, "call_log", json_object_get(ms->calls_log));
    return o;
}

void model_close(model_session *ms)
{
    if (ms->opened) ms->model->plugin->desc->vt.model->close(ms->in.ctx);
    ms->opened = 0;
    json_object_put(ms->calls_log);
    ms->calls_log = NULL;
}
