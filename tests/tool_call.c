/*
 * tool_call: run one tool of a source plugin through the mock host, for the
 * shell tests (the revops CLI has no tool command yet; the data agent that
 * calls tools comes in a later issue).
 *
 *   tests/tool_call PLUGIN.so TOOL INPUT-JSON [OPTION=VALUE ...]
 *
 * Options are set as in the config; a value "env:NAME" is read from the
 * environment (the mock host does not resolve secrets itself).  Prints the
 * columns ("# name:type ...") and one line per row, cells separated by tabs
 * (NULL as \N), on standard output; the plugin's error on standard error as
 * "error: ...".  Exit status: 0 OK, 1 RETRY, 2 ERROR, 64 usage, 69 the
 * plugin cannot be loaded.  MOCK_VERBOSE=1 shows the plugin's log lines.
 */
#include "mock_host.h"

#include <dlfcn.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *type_name(revops_type t)
{
    switch (t) {
    case REVOPS_TYPE_INT: return "integer";
    case REVOPS_TYPE_REAL: return "double";
    case REVOPS_TYPE_TEXT: return "text";
    case REVOPS_TYPE_BOOL: return "boolean";
    case REVOPS_TYPE_DATE: return "date";
    case REVOPS_TYPE_TIMESTAMP: return "timestamp";
    default: return "null";
    }
}

static void print_cell(const revops_value *v)
{
    switch (v->type) {
    case REVOPS_TYPE_NULL: fputs("\\N", stdout); break;
    case REVOPS_TYPE_INT: printf("%" PRId64, v->v.i); break;
    case REVOPS_TYPE_REAL: printf("%.17g", v->v.r); break;
    case REVOPS_TYPE_BOOL: fputs(v->v.b ? "true" : "false", stdout); break;
    default: fwrite(v->v.text.s, 1, v->v.text.len, stdout); break;
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: tool_call PLUGIN.so TOOL INPUT-JSON [OPTION=VALUE ...]\n");
        return 64;
    }
    mock_verbose = getenv("MOCK_VERBOSE") != NULL;
    void *handle = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    const revops_plugin *p = handle ? dlsym(handle, REVOPS_DESCRIPTOR_SYMBOL) : NULL;
    if (!p || p->kind != REVOPS_KIND_SOURCE || !p->vt.source->call_tool) {
        fprintf(stderr, "error: %s: not a source plugin with tools (%s)\n", argv[1],
                handle ? "no descriptor or no call_tool" : dlerror());
        return 69;
    }

    int nset = argc - 4;
    mock_option *set = calloc((size_t)nset + 1, sizeof *set);
    char **names = calloc((size_t)nset + 1, sizeof *names);
    if (!set || !names) return 69;
    for (int i = 0; i < nset; i++) {
        const char *arg = argv[4 + i], *eq = strchr(arg, '=');
        if (!eq) {
            fprintf(stderr, "usage: option '%s' is not NAME=VALUE\n", arg);
            return 64;
        }
        names[i] = strndup(arg, (size_t)(eq - arg));
        set[i].name = names[i];
        set[i].value = eq + 1;
        if (!strncmp(eq + 1, "env:", 4)) set[i].value = getenv(eq + 5) ? getenv(eq + 5) : "";
    }
    revops_options *opts = mock_options_new(p->options, set);

    void *ctx = NULL;
    revops_stream out;
    memset(&out, 0, sizeof out);
    revops_status st = p->vt.source->open(mock_self(), mock_host(), opts, &ctx);
    if (st == REVOPS_OK) {
        st = p->vt.source->call_tool(ctx, argv[2], argv[3], &out);
        if (out.columns_declared) {
            fputs("#", stdout);
            for (size_t c = 0; c < out.ncolumns; c++)
                printf(" %s:%s", out.columns[c].name, type_name(out.columns[c].type));
            fputs("\n", stdout);
        }
        for (size_t r = 0; r < out.nrows; r++) {
            for (size_t c = 0; c < out.ncolumns; c++) {
                if (c) fputs("\t", stdout);
                print_cell(&out.cells[r * out.ncolumns + c]);
            }
            fputs("\n", stdout);
        }
        p->vt.source->close(ctx);
    }
    if (st != REVOPS_OK) fprintf(stderr, "error: %s\n", mock_last_error());
    mock_stream_free(&out);
    mock_options_free(opts);
    for (int i = 0; i < nset; i++) free(names[i]);
    free(names);
    free(set);
    dlclose(handle);
    return st == REVOPS_OK ? 0 : st == REVOPS_RETRY ? 1 : 2;
}
