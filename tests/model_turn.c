/*
 * model_turn: send one neutral request to a configured model instance through
 * the real core (config, loader, host services, model session) and print the
 * reply, for the model provider tests.
 *
 *   model_turn -c CONFIG -m MODEL -r REQUEST.json
 *
 * REQUEST.json: {"system", "messages": [{"role": "user"|"assistant", "content":
 * [{"type": "text", "text"} | {"type": "tool_use", "id", "name", "input"} |
 * {"type": "tool_result", "tool_use_id", "content", "is_error"}]}], "tools":
 * [{"name", "description", "input_schema"}], "max_tokens", "temperature",
 * "json_answer"}.  Prints {"status", "error", "stop", "model", "input_tokens",
 * "output_tokens", "blocks"}; exit 0 ok, 1 retry/error, 64 usage, 78 config.
 */
#include "config.h"
#include "../core/core.h"

#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int usage(void)
{
    fputs("usage: model_turn -c CONFIG -m MODEL -r REQUEST.json\n", stderr);
    return 64;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *model = NULL, *reqfile = NULL;
    int ch;
    while ((ch = getopt(argc, argv, "c:m:r:")) != -1) {
        if (ch == 'c') path = optarg;
        else if (ch == 'm') model = optarg;
        else if (ch == 'r') reqfile = optarg;
        else return usage();
    }
    if (!path || !model || !reqfile) return usage();
    log_setup(REVOPS_LOG_WARN, LOG_FORMAT_TEXT);
    json_object *rq = json_object_from_file(reqfile);
    if (!rq) {
        fprintf(stderr, "model_turn: %s is not JSON\n", reqfile);
        return 64;
    }
    http_global_init();
    diag *d = diag_new();
    int code = 0;
    revops_config *c = config_load(path, d, &code);
    if (!c) {
        diag_print(d, stderr);
        diag_free(d);
        json_object_put(rq);
        return code;
    }
    diag_free(d);
    log_setup(c->log_level, c->log_format);
    conf_instance *m = config_model(c, model);
    if (!m) {
        fprintf(stderr, "model_turn: no model '%s'\n", model);
        config_free(c);
        json_object_put(rq);
        return 78;
    }
    /* The neutral request -> revops_model_request (strings point into rq). */
    json_object *msgs = NULL, *tools = NULL, *v;
    json_object_object_get_ex(rq, "messages", &msgs);
    json_object_object_get_ex(rq, "tools", &tools);
    size_t nm = msgs ? json_object_array_length(msgs) : 0, nt = tools ? json_object_array_length(tools) : 0;
    revops_message *mv = calloc(nm + 1, sizeof *mv);
    revops_tool *tv = calloc(nt + 1, sizeof *tv);
    for (size_t i = 0; i < nm; i++) {
        json_object *mo = json_object_array_get_idx(msgs, i), *content = NULL;
        const char *role = str(mo, "role");
        mv[i].role = role && !strcmp(role, "assistant") ? REVOPS_ROLE_ASSISTANT : REVOPS_ROLE_USER;
        json_object_object_get_ex(mo, "content", &content);
        size_t nb = content ? json_object_array_length(content) : 0;
        revops_block *bv = calloc(nb + 1, sizeof *bv);
        for (size_t k = 0; k < nb; k++) {
            json_object *bo = json_object_array_get_idx(content, k);
            const char *type = str(bo, "type");
            if (type && !strcmp(type, "tool_use")) {
                bv[k].type = REVOPS_BLOCK_TOOL_USE;
                bv[k].id = str(bo, "id");
                bv[k].name = str(bo, "name");
                bv[k].input_json = json_object_object_get_ex(bo, "input", &v) ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "{}";
            } else if (type && !strcmp(type, "tool_result")) {
                bv[k].type = REVOPS_BLOCK_TOOL_RESULT;
                bv[k].id = str(bo, "tool_use_id");
                bv[k].text = str(bo, "content");
                bv[k].is_error = json_object_object_get_ex(bo, "is_error", &v) && json_object_get_boolean(v);
            } else {
                bv[k].type = REVOPS_BLOCK_TEXT;
                bv[k].text = str(bo, "text");
            }
        }
        mv[i].nblocks = nb;
        mv[i].blocks = bv;
    }
    for (size_t i = 0; i < nt; i++) {
        json_object *to = json_object_array_get_idx(tools, i);
        tv[i].name = str(to, "name");
        tv[i].description = str(to, "description");
        tv[i].input_schema = json_object_object_get_ex(to, "input_schema", &v) ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "{}";
    }
    revops_model_request req = { str(rq, "system"), nm, mv, nt, nt ? tv : NULL,
                                 json_object_object_get_ex(rq, "max_tokens", &v) ? json_object_get_int64(v) : 1024,
                                 json_object_object_get_ex(rq, "temperature", &v) ? json_object_get_double(v) : -1,
                                 json_object_object_get_ex(rq, "json_answer", &v) && json_object_get_boolean(v) };

    model_session ms;
    char err[1024];
    json_object *out = json_object_new_object();
    int rc = 1;
    if (model_open(&ms, c, m, 0, mono_now() + c->timeout, &c->retry, err, sizeof err) < 0) {
        json_object_object_add(out, "status", json_object_new_string("error"));
        json_object_object_add(out, "error", json_object_new_string(err));
    } else {
        revops_model_reply reply;
        revops_status st = model_call(&ms, "model_turn", &req, &reply);
        json_object_object_add(out, "status", json_object_new_string(st == REVOPS_OK ? "ok" : st == REVOPS_RETRY ? "retry" : "error"));
        if (st != REVOPS_OK) {
            json_object_object_add(out, "error", json_object_new_string(ms.in.error));
        } else {
            rc = 0;
            json_object_object_add(out, "stop", json_object_new_string(stop_reason_name(reply.stop)));
            json_object_object_add(out, "model", reply.model ? json_object_new_string(reply.model) : NULL);
            json_object_object_add(out, "input_tokens", json_object_new_int64(reply.input_tokens));
            json_object_object_add(out, "output_tokens", json_object_new_int64(reply.output_tokens));
            json_object *blocks = json_object_new_array();
            for (size_t i = 0; i < reply.nblocks; i++) {
                const revops_block *b = &reply.blocks[i];
                json_object *bo = json_object_new_object();
                if (b->type == REVOPS_BLOCK_TOOL_USE) {
                    json_object_object_add(bo, "type", json_object_new_string("tool_use"));
                    json_object_object_add(bo, "id", json_object_new_string(b->id ? b->id : ""));
                    json_object_object_add(bo, "name", json_object_new_string(b->name ? b->name : ""));
                    json_object *in = b->input_json ? json_tokener_parse(b->input_json) : NULL;
                    json_object_object_add(bo, "input", in ? in : json_object_new_string(b->input_json ? b->input_json : ""));
                } else {
                    json_object_object_add(bo, "type", json_object_new_string("text"));
                    json_object_object_add(bo, "text", json_object_new_string(b->text ? b->text : ""));
                }
                json_object_array_add(blocks, bo);
            }
            json_object_object_add(out, "blocks", blocks);
        }
        json_object_object_add(out, "http_requests", json_object_new_int64((int64_t)ms.in.http_requests));
        model_close(&ms);
    }
    printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(out);
    for (size_t i = 0; i < nm; i++) free((void *)mv[i].blocks);
    free(mv);
    free(tv);
    json_object_put(rq);
    config_free(c);
    http_global_cleanup();
    return rc;
}
