/* The data agent: a bounded tool-use loop.  The model sees the tools the
 * configured sources declare (named "<source>__<tool>"), the knowledge base
 * passages that match the task, and the task; it may call tools until it
 * answers.  Bounds: agent.max_steps model turns, the session's token budget,
 * the run's deadline, and per tool call agent.row_cap rows and
 * agent.tool_timeout seconds (the source enforces read-only SQL itself).
 *
 * Everything a tool returns passes data classification first (classify.c):
 * withheld columns are dropped and named, pseudonymised ones carry
 * pseudonyms, free text is scrubbed; a tool's input written with pseudonyms
 * is mapped back before the source sees it, and the answer is mapped back
 * before anyone reads it.  Every tool call (tool, status, rows, bytes) is
 * kept for the run record. */
#include "config.h"
#include "core.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define AGENT_REPLY_TOKENS 2048

typedef struct agent_tool {
    char *name;                 /* as offered: "<source>__<tool>" */
    conf_instance *src;
    const revops_tool *tool;
    char *description;
} agent_tool;

typedef struct agent_source {
    conf_instance *src;
    revops_instance in;
    int opened, failed;
    char error[512];
} agent_source;

typedef struct agent {
    revops_config *cfg;
    model_session *ms;
    privacy *pv;
    double deadline;
    agent_tool *tools;
    size_t ntools;
    revops_tool *offered;
    agent_source *sources;
    size_t nsources;
    agent_result *r;
} agent;

/* ------------------------------------------------------------- tools -- */

static int offer_source(conf_instance *src)
{
    const revops_source_vtable *vt = src->plugin ? src->plugin->desc->vt.source : NULL;
    return vt && vt->tools && vt->call_tool;
}

static void collect_tools(agent *a)
{
    const conf_agent *ca = &a->cfg->agent;
    size_t nsrc = ca->nsources ? ca->nsources : a->cfg->nsources;
    a->sources = xcalloc(nsrc ? nsrc : 1, sizeof *a->sources);
    for (size_t i = 0; i < nsrc; i++) {
        conf_instance *src = ca->nsources ? ca->sources[i] : &a->cfg->sources[i];
        if (!offer_source(src)) continue;
        a->sources[a->nsources++].src = src;
        for (const revops_tool *t = src->plugin->desc->vt.source->tools; t->name; t++) {
            char *name = xasprintf("%s__%s", src->name, t->name);
            if (strlen(name) > 64) {
                /* Every provider caps tool names at 64 characters. */
                log_warn("agent: tool %s of source '%s' is not offered: its name %s is longer than 64 characters", t->name,
                         src->name, name);
                free(name);
                continue;
            }
            a->tools = xrealloc(a->tools, (a->ntools + 1) * sizeof *a->tools);
            agent_tool *at = &a->tools[a->ntools++];
            at->name = name;
            at->src = src;
            at->tool = t;
            at->description = xasprintf("Source '%s' (%s plugin): %s", src->name, src->plugin->desc->name,
                                        t->description ? t->description : "");
        }
    }
    a->offered = xcalloc(a->ntools ? a->ntools : 1, sizeof *a->offered);
    for (size_t i = 0; i < a->ntools; i++)
        a->offered[i] = (revops_tool){ a->tools[i].name, a->tools[i].description, a->tools[i].tool->input_schema };
}

static agent_source *source_of(agent *a, conf_instance *src)
{
    for (size_t i = 0; i < a->nsources; i++)
        if (a->sources[i].src == src) return &a->sources[i];
    return NULL;
}

typedef struct capture {
    size_t cap;
    size_t ncols;
    char **cols;
    json_object *rows;          /* raw values, row arrays */
    size_t nrows;
    int truncated;
} capture;

static json_object *cell_json(const revops_value *v)
{
    switch (v->type) {
    case REVOPS_TYPE_INT: return json_object_new_int64(v->v.i);
    case REVOPS_TYPE_REAL: return json_number(v->v.r, 6);
    case REVOPS_TYPE_BOOL: return json_object_new_boolean(v->v.b);
    case REVOPS_TYPE_TEXT:
    case REVOPS_TYPE_DATE:
    case REVOPS_TYPE_TIMESTAMP: return json_object_new_string_len(v->v.text.s, (int)v->v.text.len);
    default: return NULL;
    }
}

static revops_status capture_chunk(void *data, const revops_chunk *c)
{
    capture *k = data;
    if (!k->cols) {
        k->ncols = c->ncolumns;
        k->cols = xcalloc(c->ncolumns ? c->ncolumns : 1, sizeof *k->cols);
        for (size_t j = 0; j < c->ncolumns; j++) k->cols[j] = xstrdup(c->columns[j].name);
    }
    for (size_t i = 0; i < c->nrows; i++) {
        if (k->nrows >= k->cap) {
            k->truncated = 1;   /* there is at least one more row: stop the source */
            return REVOPS_ERROR;
        }
        json_object *row = json_object_new_array();
        for (size_t j = 0; j < c->ncolumns; j++) json_object_array_add(row, cell_json(revops_cell(c, i, j)));
        json_object_array_add(k->rows, row);
        k->nrows++;
    }
    return REVOPS_OK;
}

static void capture_free(capture *k)
{
    for (size_t j = 0; j < k->ncols; j++) free(k->cols[j]);
    free(k->cols);
    json_object_put(k->rows);
}

/* A cell as text, for pseudonyms and the withheld list. */
static const char *cell_text(json_object *v, char *buf, size_t n)
{
    if (!v) return NULL;
    if (json_object_is_type(v, json_type_string)) return json_object_get_string(v);
    snprintf(buf, n, "%s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
    return buf;
}

/* The rows as the model may see them (see the file comment). */
static json_object *classified_result(agent *a, conf_instance *src, const char *tool, capture *k)
{
    const classification *cl = &a->cfg->classes;
    enum { PLAIN, PSEUDO, WITHHELD } *how = xcalloc(k->ncols ? k->ncols : 1, sizeof *how);
    json_object *withheld = json_object_new_array(), *pseudo = json_object_new_array(), *cols = json_object_new_array();
    char buf[64];
    for (size_t j = 0; j < k->ncols; j++) {
        data_class dc = source_field_class(a->cfg, src, k->cols[j]);
        if (!class_embeddable(cl, dc)) {
            how[j] = WITHHELD;
            json_object_array_add(withheld, json_object_new_string(k->cols[j]));
        } else {
            how[j] = cl->policy[dc].needs_anonymization ? PSEUDO : PLAIN;
            if (how[j] == PSEUDO) json_object_array_add(pseudo, json_object_new_string(k->cols[j]));
            json_object_array_add(cols, json_object_new_string(k->cols[j]));
            privacy_note_sent(a->pv, dc);
        }
    }
    /* First every value that must not appear as it is, then the rows: a
     * name in a later row is scrubbed from an earlier row's text too. */
    for (size_t i = 0; i < k->nrows; i++) {
        json_object *row = json_object_array_get_idx(k->rows, i);
        for (size_t j = 0; j < k->ncols; j++) {
            const char *t = cell_text(json_object_array_get_idx(row, j), buf, sizeof buf);
            if (!t) continue;
            if (how[j] == WITHHELD) privacy_withhold(a->pv, t);
            else if (how[j] == PSEUDO) privacy_pseudonym(a->pv, t);
        }
    }
    json_object *rows = json_object_new_array();
    for (size_t i = 0; i < k->nrows; i++) {
        json_object *row = json_object_array_get_idx(k->rows, i), *out = json_object_new_array();
        for (size_t j = 0; j < k->ncols; j++) {
            json_object *v = json_object_array_get_idx(row, j);
            if (how[j] == WITHHELD) continue;
            const char *t = cell_text(v, buf, sizeof buf);
            if (!t) {
                json_object_array_add(out, NULL);
            } else if (how[j] == PSEUDO) {
                json_object_array_add(out, json_object_new_string(privacy_pseudonym(a->pv, t)));
            } else if (json_object_is_type(v, json_type_string)) {
                char *s = privacy_scrub(a->pv, t);
                json_object_array_add(out, json_object_new_string(s));
                free(s);
            } else {
                json_object_array_add(out, json_object_get(v));
            }
        }
        json_object_array_add(rows, out);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "source", json_object_new_string(src->name));
    json_object_object_add(o, "tool", json_object_new_string(tool));
    json_object_object_add(o, "columns", cols);
    json_object_object_add(o, "rows", rows);
    json_object_object_add(o, "row_count", json_object_new_int64((int64_t)k->nrows));
    json_object_object_add(o, "truncated", json_object_new_boolean(k->truncated));
    if (k->truncated)
        json_object_object_add(o, "note", json_object_new_string("more rows exist than the agent's row cap; aggregate in "
                                                                 "the query or narrow it"));
    if (json_object_array_length(withheld)) json_object_object_add(o, "withheld_columns", withheld);
    else json_object_put(withheld);
    if (json_object_array_length(pseudo)) json_object_object_add(o, "pseudonymised_columns", pseudo);
    else json_object_put(pseudo);
    free(how);
    return o;
}

/* Run one tool call; fills the result text (JSON, already classified) and
 * the call's record. */
static int run_tool(agent *a, const revops_block *call, char **result, json_object *rec)
{
    agent_tool *t = NULL;
    for (size_t i = 0; i < a->ntools; i++)
        if (call->name && !strcmp(a->tools[i].name, call->name)) t = &a->tools[i];
    json_object_object_add(rec, "tool", json_object_new_string(call->name ? call->name : ""));
    if (!t) {
        strbuf sb = { 0 };
        sb_printf(&sb, "no tool named '%s' is offered; the tools are:", call->name ? call->name : "");
        for (size_t i = 0; i < a->ntools; i++) sb_printf(&sb, " %s", a->tools[i].name);
        *result = sb_steal(&sb);
        json_object_object_add(rec, "status", json_object_new_string("refused"));
        json_object_object_add(rec, "error", json_object_new_string("tool not offered"));
        return -1;
    }
    json_object_object_add(rec, "source", json_object_new_string(t->src->name));
    /* The model writes pseudonyms; the source needs the values. */
    char *input = privacy_restore(a->pv, call->input_json ? call->input_json : "{}", 1);
    json_object *parsed = json_tokener_parse(input);
    if (!parsed || !json_object_is_type(parsed, json_type_object)) {
        json_object_put(parsed);
        free(input);
        *result = xasprintf("the input of %s is not a JSON object; send the arguments as one JSON object matching the "
                            "tool's input schema", t->name);
        json_object_object_add(rec, "status", json_object_new_string("error"));
        json_object_object_add(rec, "error", json_object_new_string("input is not a JSON object"));
        return -1;
    }
    json_object_put(parsed);
    agent_source *as = source_of(a, t->src);
    char err[1024] = "";
    if (!as->opened && !as->failed) {
        if (instance_open(a->cfg, &a->cfg->retry, a->deadline, t->src, &as->in, as->error, sizeof as->error) < 0) as->failed = 1;
        else as->opened = 1;
    }
    int rc = -1;
    double t0 = mono_now();
    capture k = { a->cfg->agent.row_cap, 0, NULL, json_object_new_array(), 0, 0 };
    if (as->failed) {
        snprintf(err, sizeof err, "%s", as->error);
    } else {
        /* One tool call may take agent.tool_timeout, never past the run. */
        double dl = mono_now() + a->cfg->agent.tool_timeout;
        as->in.deadline = dl < a->deadline ? dl : a->deadline;
        as->in.error[0] = '\0';
        revops_stream *s = stream_new("agent", t->src->name, 64, NULL, capture_chunk, &k);
        stream_set_max_bytes(s, t->src->max_chunk_bytes);
        revops_status st = t->src->plugin->desc->vt.source->call_tool(as->in.ctx, t->tool->name, input, s);
        if (st == REVOPS_OK && !stream_failed(s)) st = stream_finish(s);
        if (k.truncated) st = REVOPS_OK;
        if (st == REVOPS_OK) rc = 0;
        else snprintf(err, sizeof err, "%s", as->in.error[0] ? as->in.error : stream_error(s) ? stream_error(s) : "the tool failed");
        stream_free(s);
    }
    free(input);
    json_object_object_add(rec, "seconds", json_number(mono_now() - t0, 3));
    if (rc == 0) {
        json_object *o = classified_result(a, t->src, t->tool->name, &k);
        *result = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_object_add(rec, "status", json_object_new_string("ok"));
        json_object_object_add(rec, "rows", json_object_new_int64((int64_t)k.nrows));
        json_object_object_add(rec, "truncated", json_object_new_boolean(k.truncated));
        json_object *w;
        if (json_object_object_get_ex(o, "withheld_columns", &w))
            json_object_object_add(rec, "withheld_columns", json_object_get(w));
        json_object_put(o);
    } else {
        /* The source's words, scrubbed: an SQL error can quote a value. */
        *result = privacy_scrub(a->pv, err);
        json_object_object_add(rec, "status", json_object_new_string("error"));
        json_object_object_add(rec, "error", json_object_new_string(*result));
    }
    json_object_object_add(rec, "result_bytes", json_object_new_int64((int64_t)strlen(*result)));
    capture_free(&k);
    return rc;
}

/* ------------------------------------------------------------ prompt -- */

static char *system_prompt(agent *a, const char *task)
{
    strbuf sb = { 0 };
    sb_printf(&sb,
              "You are the data agent of revops, a revenue-operations analysis tool. Gather the data the task needs "
              "with the tools, then answer.\n"
              "Rules:\n"
              "- Tools run read-only queries; a result holds at most %zu rows, so aggregate in the query (GROUP BY, "
              "COUNT, SUM) instead of reading raw rows.\n"
              "- Values like ANON_0123456789ab are pseudonyms of confidential values. Use them exactly as given, in "
              "queries too; never guess the value behind one.\n"
              "- Columns listed in withheld_columns are not available to you; do not try to infer them.\n"
              "- Answer in plain text: what you found and the numbers behind it, concisely.\n",
              a->cfg->agent.row_cap);
    if (a->cfg->kb_path && a->cfg->agent.kb_passages) {
        char err[512];
        kb *k = kb_load(a->cfg->kb_path, err, sizeof err);
        if (!k) {
            log_warn("agent: knowledge base not used: %s", err);
        } else {
            kb_hit *hits = xcalloc(a->cfg->agent.kb_passages, sizeof *hits);
            size_t n = kb_search(k, task, a->cfg->agent.kb_passages, hits);
            if (n) sb_puts(&sb, "\nSchema knowledge (the passages of the warehouse documentation that match the task):\n");
            json_object *used = json_object_new_array();
            for (size_t i = 0; i < n; i++) {
                char *text = privacy_scrub(a->pv, hits[i].text);
                sb_printf(&sb, "\n### %s\n%s\n", hits[i].heading, text);
                free(text);
                json_object_array_add(used, json_object_new_string(hits[i].heading));
            }
            json_object_object_add(a->r->record, "kb_passages", used);
            free(hits);
            kb_free(k);
        }
    }
    return sb_steal(&sb);
}

/* ---------------------------------------------------------- transcripts -- */

static json_object *block_json(const revops_block *b)
{
    json_object *o = json_object_new_object();
    static const char *const types[] = { "", "text", "tool_use", "tool_result" };
    json_object_object_add(o, "type", json_object_new_string(types[b->type]));
    if (b->text) json_object_object_add(o, "text", json_object_new_string(b->text));
    if (b->id) json_object_object_add(o, "id", json_object_new_string(b->id));
    if (b->name) json_object_object_add(o, "name", json_object_new_string(b->name));
    if (b->input_json) json_object_object_add(o, "input", json_object_new_string(b->input_json));
    if (b->is_error) json_object_object_add(o, "is_error", json_object_new_boolean(1));
    return o;
}

/* What was sent, as it was sent (pseudonyms, not values), in
 * state_dir/transcripts/<session>-<purpose>.<CLASS>.jsonl. */
void transcript_write(const revops_config *c, const char *session_id, const char *purpose, const char *system,
                      const convo *cv, const privacy *pv)
{
    char *dir = xasprintf("%s/transcripts", c->state_dir);
    if (make_dirs(c->state_dir) < 0 || (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
        log_warn("cannot keep the transcript in %s: %s", dir, strerror(errno));
        free(dir);
        return;
    }
    char *path = xasprintf("%s/%s-%s.%s.jsonl", dir, session_id, purpose, data_class_names[privacy_highest_sent(pv)]);
    FILE *f = fopen(path, "a");
    if (!f) {
        log_warn("cannot keep the transcript in %s: %s", path, strerror(errno));
    } else {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "system", json_object_new_string(system ? system : ""));
        fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        for (size_t i = 0; i < cv->n; i++) {
            o = json_object_new_object();
            json_object_object_add(o, "role", json_object_new_string(cv->msgs[i].role == REVOPS_ROLE_USER ? "user" : "assistant"));
            json_object *bl = json_object_new_array();
            for (size_t k = 0; k < cv->msgs[i].nblocks; k++) json_object_array_add(bl, block_json(&cv->msgs[i].blocks[k]));
            json_object_object_add(o, "content", bl);
            fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
            json_object_put(o);
        }
        if (fclose(f) != 0) log_warn("cannot keep the transcript in %s: %s", path, strerror(errno));
        else chmod(path, 0600);
    }
    free(path);
    free(dir);
}

/* -------------------------------------------------------------- loop -- */

int agent_run(revops_config *c, model_session *ms, privacy *pv, const char *task, const char *session_id, double deadline,
              agent_result *r)
{
    memset(r, 0, sizeof *r);
    r->record = json_object_new_object();
    r->tool_calls = json_object_new_array();
    r->stop = "model_error";
    agent a = { c, ms, pv, deadline, NULL, 0, NULL, NULL, 0, r };
    collect_tools(&a);
    char *task_sent = privacy_scrub(pv, task);
    char *system = system_prompt(&a, task_sent);
    convo cv = { 0 };
    convo_add_text(&cv, REVOPS_ROLE_USER, task_sent);
    log_msg(REVOPS_LOG_INFO, ms->in.label, "agent: %zu tool%s offered, at most %d step%s, token budget %lld", a.ntools,
            a.ntools == 1 ? "" : "s", c->agent.max_steps, c->agent.max_steps == 1 ? "" : "s", (long long)ms->budget);
    int step;
    for (step = 1; step <= c->agent.max_steps; step++) {
        if (mono_now() > deadline) {
            r->stop = "deadline";
            snprintf(r->error, sizeof r->error, "the run's deadline passed after %d step%s", step - 1, step == 2 ? "" : "s");
            break;
        }
        /* What is sent again is scrubbed again: values learned since. */
        convo_scrub(&cv, pv);
        char *fresh = privacy_scrub(pv, system);
        free(system);
        system = fresh;
        revops_model_request req = { system, cv.n, cv.msgs, a.ntools, a.ntools ? a.offered : NULL, AGENT_REPLY_TOKENS, -1, 0 };
        revops_model_reply reply;
        r->steps = step;
        revops_status st = model_call(ms, "agent", &req, &reply);
        if (st != REVOPS_OK) {
            r->stop = ms->budget_stop ? "budget" : "model_error";
            snprintf(r->error, sizeof r->error, "%s", ms->in.error);
            r->steps = step - 1;
            break;
        }
        convo_add(&cv, REVOPS_ROLE_ASSISTANT, reply.blocks, reply.nblocks);
        const revops_message *asked = &cv.msgs[cv.n - 1];
        size_t ncalls = 0;
        for (size_t i = 0; i < asked->nblocks; i++) ncalls += asked->blocks[i].type == REVOPS_BLOCK_TOOL_USE;
        if (ncalls == 0) {
            strbuf sb = { 0 };
            for (size_t i = 0; i < asked->nblocks; i++)
                if (asked->blocks[i].type == REVOPS_BLOCK_TEXT && asked->blocks[i].text) sb_puts(&sb, asked->blocks[i].text);
            char *text = sb.buf ? sb_steal(&sb) : xstrdup("");
            r->answer = privacy_restore(pv, text, 0);
            free(text);
            r->stop = reply.stop == REVOPS_STOP_MAX_TOKENS ? "answer_cut_at_max_tokens" : "answer";
            break;
        }
        revops_block *results = xcalloc(ncalls, sizeof *results);
        char **texts = xcalloc(ncalls, sizeof *texts);
        size_t n = 0;
        for (size_t i = 0; i < asked->nblocks; i++) {
            const revops_block *b = &asked->blocks[i];
            if (b->type != REVOPS_BLOCK_TOOL_USE) continue;
            json_object *rec = json_object_new_object();
            json_object_object_add(rec, "step", json_object_new_int(step));
            int rc = run_tool(&a, b, &texts[n], rec);
            if (rc == 0)
                log_msg(REVOPS_LOG_INFO, ms->in.label, "agent step %d: %s -> %s rows%s", step, b->name,
                        json_object_get_string(json_object_object_get(rec, "rows")),
                        json_object_get_boolean(json_object_object_get(rec, "truncated")) ? " (capped)" : "");
            else
                log_msg(REVOPS_LOG_WARN, ms->in.label, "agent step %d: %s -> %s", step, b->name ? b->name : "(no name)",
                        texts[n]);
            json_object_array_add(r->tool_calls, rec);
            results[n] = (revops_block){ REVOPS_BLOCK_TOOL_RESULT, texts[n], b->id, NULL, NULL, rc != 0 };
            n++;
        }
        convo_add(&cv, REVOPS_ROLE_USER, results, n);
        for (size_t i = 0; i < n; i++) free(texts[i]);
        free(texts);
        free(results);
    }
    if (step > c->agent.max_steps) {
        r->stop = "max_steps";
        r->steps = c->agent.max_steps;
        snprintf(r->error, sizeof r->error, "stopped after max_steps = %d model turns without an answer", c->agent.max_steps);
    }
    if (c->agent.keep_transcripts) transcript_write(c, session_id, "agent", system, &cv, pv);
    for (size_t i = 0; i < a.nsources; i++)
        if (a.sources[i].opened) a.sources[i].src->plugin->desc->vt.source->close(a.sources[i].in.ctx);
    for (size_t i = 0; i < a.ntools; i++) {
        free(a.tools[i].name);
        free(a.tools[i].description);
    }
    free(a.tools);
    free(a.offered);
    free(a.sources);
    convo_free(&cv);
    free(system);
    free(task_sent);
    return r->answer ? 0 : -1;
}

json_object *agent_result_json(const agent_result *r)
{
    json_object *o = json_object_get(r->record);
    json_object_object_add(o, "stop", json_object_new_string(r->stop ? r->stop : ""));
    json_object_object_add(o, "steps", json_object_new_int(r->steps));
    json_object_object_add(o, "tool_calls", json_object_get(r->tool_calls));
    if (r->error[0]) json_object_object_add(o, "error", json_object_new_string(r->error));
    return o;
}

void agent_result_free(agent_result *r)
{
    free(r->answer);
    json_object_put(r->tool_calls);
    json_object_put(r->record);
    memset(r, 0, sizeof *r);
}
