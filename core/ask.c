/* `revops ask`: the data agent, interactively.  One question, the agent's
 * tool loop over the configured sources (agent.sources, else every source
 * with tools), the answer on standard output and each tool call on standard
 * error as it happens; the session goes to the run record like a pipeline
 * run (kind "ask"), its transcript to state_dir/transcripts. */
#include "config.h"
#include "core.h"

#include <json-c/json.h>
#include <string.h>
#include <time.h>

int ask_run(revops_config *c, const ask_options *o)
{
    conf_instance *m = c->agent.model;
    if (o->model && !(m = config_model(c, o->model))) {
        fprintf(stderr, "revops: ask: no model named '%s' in %s\n", o->model, c->path);
        return EXIT_CONFIG;
    }
    if (!m) {
        fprintf(stderr, "revops: ask: %s configures no data agent; add agent = { model = \"NAME\"; } (and a models "
                        "section), or name a model with --model\n", c->path);
        return EXIT_CONFIG;
    }
    if (o->max_steps > 0) c->agent.max_steps = o->max_steps;
    if (!c->classes.configured)
        log_warn("%s has no classification section: every field counts as RESTRICTED and is withheld from the model",
                 c->path);
    retention_prune(c, (double)time(NULL));
    char sid[128];
    if (o->session_id) snprintf(sid, sizeof sid, "%s", o->session_id);
    else {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(sid, sizeof sid, "ask_%Y%m%d_%H%M%S", &tm);
    }
    log_set_context(sid, NULL, "ask");
    char err[1024];
    privacy *pv = privacy_new(&c->classes, err, sizeof err);
    if (!pv) {
        fprintf(stderr, "revops: classification.key: %s\n", err);
        return EXIT_CONFIG;
    }
    double started = clock_now(), t0 = mono_now();
    model_session ms;
    agent_result ar = { 0 };
    int code = EXIT_RUN_FAILED;
    json_object *rec = json_object_new_object();
    json_object_object_add(rec, "kind", json_object_new_string("ask"));
    json_object_object_add(rec, "session_id", json_object_new_string(sid));
    json_object_object_add(rec, "started_at", json_number(started, 3));
    if (model_open(&ms, c, m, c->agent.max_tokens, t0 + c->timeout, &c->retry, err, sizeof err) < 0) {
        fprintf(stderr, "revops: %s\n", err);
        json_object_object_add(rec, "status", json_object_new_string("failed"));
        json_object_object_add(rec, "error", json_object_new_string(err));
    } else {
        int rc = agent_run(c, &ms, pv, o->question, sid, t0 + c->timeout, &ar);
        json_object *agent = agent_result_json(&ar);
        json_object_object_add(rec, "status", json_object_new_string(rc == 0 ? "ok" : "failed"));
        json_object_object_add(rec, "agent", agent);
        json_object_object_add(rec, "model", model_session_json(&ms));
        if (o->json) {
            json_object *out = json_object_new_object();
            json_object_object_add(out, "session_id", json_object_new_string(sid));
            json_object_object_add(out, "answer", ar.answer ? json_object_new_string(ar.answer) : NULL);
            json_object_object_add(out, "agent", json_object_get(agent));
            json_object_object_add(out, "model", model_session_json(&ms));
            printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
            json_object_put(out);
        } else if (ar.answer) {
            printf("%s\n", ar.answer);
        }
        if (rc == 0) {
            code = EXIT_RUN_OK;
        } else {
            fprintf(stderr, "revops: ask: no answer (%s): %s\n", ar.stop, ar.error[0] ? ar.error : "the model gave none");
        }
        fprintf(stderr, "revops: ask: %d step%s, %zu tool call%s, %lld tokens in, %lld out (budget %lld)\n", ar.steps,
                ar.steps == 1 ? "" : "s", json_object_array_length(ar.tool_calls),
                json_object_array_length(ar.tool_calls) == 1 ? "" : "s", (long long)ms.tokens_in,
                (long long)ms.tokens_out, (long long)ms.budget);
        model_close(&ms);
    }
    json_object_object_add(rec, "seconds", json_number(mono_now() - t0, 3));
    run_record_append(c, rec);
    json_object_put(rec);
    agent_result_free(&ar);
    privacy_free(pv);
    log_set_context(NULL, NULL, NULL);
    return code;
}
