/*
 * source_tool: run one tool (or one query) of a configured source through
 * the real core host services (HTTP, OAuth cache, streaming JSON, secrets),
 * for the shell tests.  The revops CLI has no tool command yet (the data
 * agent that calls tools comes in a later issue), and tests/mock_host.c has
 * no HTTP.
 *
 *   source_tool [--sign-rs256] -c CONFIG -s SOURCE -t TOOL -i INPUT-JSON
 *   source_tool [--sign-rs256] -c CONFIG -s SOURCE -q QUERY [-l ROW-LIMIT]
 *
 * Prints {"success", "error", "columns", "column_types", "results"} with every
 * row of the result (all chunks).  Exit status: 0 OK, 1 the call failed,
 * 64 usage, 78 the configuration is invalid.
 *
 * --sign-rs256 is accepted and ignored: the host services sign RS256 now.
 */
#include "config.h"
#include "../core/core.h"

#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct collect {
    json_object *columns, *types, *results;
} collect;

static revops_status on_chunk(void *data, const revops_chunk *c)
{
    collect *k = data;
    json_object *j = chunk_to_json(c, NULL, NULL, NULL);
    json_object *v;
    if (!k->columns) {
        if (json_object_object_get_ex(j, "columns", &v)) k->columns = json_object_get(v);
        if (json_object_object_get_ex(j, "column_types", &v)) k->types = json_object_get(v);
    }
    if (json_object_object_get_ex(j, "results", &v))
        for (size_t i = 0; i < json_object_array_length(v); i++)
            json_object_array_add(k->results, json_object_get(json_object_array_get_idx(v, i)));
    json_object_put(j);
    return REVOPS_OK;
}

static int usage(void)
{
    fputs("usage: source_tool [--sign-rs256] -c CONFIG -s SOURCE (-t TOOL -i INPUT-JSON | -q QUERY [-l LIMIT])\n",
          stderr);
    return 64;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *source = NULL, *tool = NULL, *input = NULL, *query = NULL;
    long long limit = 0;
    int sign = 0;
    static const struct option opts[] = {
        { "sign-rs256", no_argument, 0, 'S' }, { 0, 0, 0, 0 },
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:s:t:i:q:l:", opts, NULL)) != -1) {
        switch (ch) {
        case 'S': sign = 1; break;
        case 'c': path = optarg; break;
        case 's': source = optarg; break;
        case 't': tool = optarg; break;
        case 'i': input = optarg; break;
        case 'q': query = optarg; break;
        case 'l': limit = atoll(optarg); break;
        default: return usage();
        }
    }
    if (!path || !source || (!tool && !query) || (tool && !input)) return usage();

    log_setup(REVOPS_LOG_INFO, LOG_FORMAT_TEXT);
    http_global_init();
    diag *d = diag_new();
    int code = 0;
    revops_config *c = config_load(path, d, &code);
    if (!c) {
        diag_print(d, stderr);
        diag_free(d);
        return 78;
    }
    diag_free(d);
    log_setup(c->log_level, c->log_format);
    conf_instance *ci = config_source(c, source);
    if (!ci) {
        fprintf(stderr, "source_tool: %s defines no source '%s'\n", path, source);
        config_free(c);
        return 64;
    }

    const revops_host *host = &host_services;
    (void)sign;  /* --sign-rs256 is accepted for old scripts: the host signs now */

    revops_instance in;
    instance_init(&in, REVOPS_KIND_SOURCE, ci->plugin->desc->name, ci->name, c, &c->retry);
    in.deadline = mono_now() + c->timeout;
    char err[1024] = "";
    const revops_source_vtable *vt = ci->plugin->desc->vt.source;
    collect k = { NULL, NULL, json_object_new_array() };
    revops_status st = REVOPS_ERROR;
    if (options_resolve_secrets(ci->opts, in.label, err, sizeof err) < 0) {
        snprintf(in.error, sizeof in.error, "%s", err);
    } else if ((st = vt->open(&in, host, ci->opts, &in.ctx)) == REVOPS_OK) {
        revops_stream *s = stream_new(tool ? tool : "query", ci->name, 100000, NULL, on_chunk, &k);
        if (tool) {
            st = vt->call_tool ? vt->call_tool(in.ctx, tool, input, s) : REVOPS_ERROR;
        } else {
            revops_query q = { "query", query, limit };
            st = vt->fetch(in.ctx, &q, s);
        }
        if (st == REVOPS_OK) st = stream_finish(s);
        if (st != REVOPS_OK && stream_error(s)) snprintf(in.error, sizeof in.error, "%s", stream_error(s));
        stream_free(s);
        vt->close(in.ctx);
    }
    json_object *out = json_object_new_object();
    json_object_object_add(out, "success", json_object_new_boolean(st == REVOPS_OK));
    json_object_object_add(out, "error", st == REVOPS_OK ? NULL : json_object_new_string(in.error));
    json_object_object_add(out, "columns", k.columns ? k.columns : json_object_new_array());
    json_object_object_add(out, "column_types", k.types ? k.types : json_object_new_array());
    json_object_object_add(out, "results", k.results);
    printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(out);
    config_free(c);
    oauth_cleanup();
    http_global_cleanup();
    return st == REVOPS_OK ? 0 : 1;
}
