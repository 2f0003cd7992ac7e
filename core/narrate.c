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

int narrate_findings(revops_config *c, model_session *ms, privacy *pv, revops_finding **f, size_t n, size_t batch,
                     const char *agent_notes, const char *session_id, json_object *record)
{
    size_t narrated = 0, batches = 0, repaired = 0, invalid = 0;
    json_object *notes = json_object_new_array();
    convo all = { 0 };   /* for the transcript */
    int stopped = 0;
    char *notes_sent = agent_notes ? privacy_scrub(pv, agent_notes) : NULL;
    for (size_t from = 0; from < n && !stopped; from += batch) {
        size_t m = n - from < batch ? n - from : batch;
        batches++;
        json_object *doc = batch_json(c, pv, f + from, m);
        strbuf prompt = { 0 };
        sb_printf(&prompt,
                  "Write a narrative for each of the %zu findings below: a summary (two to four sentences for a RevOps "
                  "lead: what is happening, why it matters, grounded in the signals) and one to six concrete next "
                  "steps. Answer with only one JSON object, no other text, matching this JSON Schema:\n%s\n",
                  m, NARRATIVE_SCHEMA);
        if (notes_sent) sb_printf(&prompt, "\nThe data agent gathered this context:\n%s\n", notes_sent);
        sb_printf(&prompt, "\nThe findings:\n```json\n%s\n```\n",
                  json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(doc);
        convo cv = { 0 };
        convo_add_text(&cv, REVOPS_ROLE_USER, prompt.buf);
        sb_free(&prompt);
        char err[512] = "";
        int done = 0;
        for (int attempt = 1; attempt <= 2 && !done; attempt++) {
            convo_scrub(&cv, pv);
            revops_model_request req = { SYSTEM, cv.n, cv.msgs, 0, NULL, (int64_t)(400 * m + 300), -1, 1 };
            revops_model_reply reply;
            if (model_call(ms, attempt == 1 ? "narrative" : "narrative_repair", &req, &reply) != REVOPS_OK) {
                json_object_array_add(notes, json_string_fmt(
                    "narrative stopped at batch %zu (findings %zu..%zu): %s", batches, from + 1, from + m, ms->in.error));
                log_msg(REVOPS_LOG_WARN, ms->in.label, "narrative stopped: %s; the findings keep their deterministic text",
                        ms->in.error);
                stopped = 1;
                break;
            }
            char *text = reply_text(&reply);
            convo_add(&cv, REVOPS_ROLE_ASSISTANT, reply.blocks, reply.nblocks);
            json_object *o = parse_answer(text, err, sizeof err);
            if (o && check_answer(o, f + from, m, err, sizeof err) == 0) {
                apply(o, f + from, m, pv, ms->model_name[0] ? ms->model_name : ms->model->name);
                narrated += m;
                repaired += attempt == 2;
                done = 1;
            } else if (attempt == 1) {
                log_msg(REVOPS_LOG_INFO, ms->in.label, "narrative batch %zu is invalid (%s); asking once for a repair",
                        batches, err);
                char *ask = xasprintf("That answer is not valid: %s. Reply with only the corrected JSON object, "
                                      "matching the schema, with one narrative per finding; no other text.", err);
                convo_add_text(&cv, REVOPS_ROLE_USER, ask);
                free(ask);
            }
            json_object_put(o);
            free(text);
        }
        if (!done && !stopped) {
            invalid++;
            json_object_array_add(notes, json_string_fmt(
                "batch %zu (findings %zu..%zu) kept its deterministic text: the answer was invalid after one repair: %s",
                batches, from + 1, from + m, err));
            log_msg(REVOPS_LOG_WARN, ms->in.label, "narrative batch %zu invalid after one repair (%s): the findings keep "
                    "their deterministic text", batches, err);
        }
        for (size_t i = 0; i < cv.n; i++) convo_add(&all, cv.msgs[i].role, cv.msgs[i].blocks, cv.msgs[i].nblocks);
        convo_free(&cv);
    }
    if (c->agent.keep_transcripts && all.n) transcript_write(c, session_id, "narrative", SYSTEM, &all, pv);
    convo_free(&all);
    free(notes_sent);
    json_object_object_add(record, "findings", json_object_new_int64((int64_t)n));
    json_object_object_add(record, "batches", json_object_new_int64((int64_t)batches));
    json_object_object_add(record, "narrated", json_object_new_int64((int64_t)narrated));
    json_object_object_add(record, "repaired_batches", json_object_new_int64((int64_t)repaired));
    json_object_object_add(record, "invalid_batches", json_object_new_int64((int64_t)invalid));
    json_object_object_add(record, "notes", notes);
    return narrated == n ? 0 : -1;
}
