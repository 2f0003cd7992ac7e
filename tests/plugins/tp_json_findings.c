/* Test analysis "tp_json_findings" (type A5): emits the findings written one
 * JSON object per line in the file `path` (read at finalize), so sink tests
 * can give findings an owner (ABI 1.5), hostile names, many signals and
 * actions.  Members: account_id (required), account_name, owner,
 * opportunity_id, category ("test"), priority ("low".."critical"), score,
 * title, description, signals [{name, value, threshold, weight, evidence}],
 * actions [text].  Its input `rows` (any rows) is read and ignored. */
#include <revops/revops.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct state {
    const revops_host *host;
    revops_instance *self;
    const char *path;
} state;

static revops_status s_init(revops_instance *self, const revops_host *host, const revops_options *o,
                            const revops_run_info *run, void **out)
{
    (void)run;
    state *s = calloc(1, sizeof *s);
    if (!s) return REVOPS_ERROR;
    s->host = host;
    s->self = self;
    s->path = host->opt_string(o, "path");
    *out = s;
    return REVOPS_OK;
}

static revops_status s_chunk(void *p, const revops_chunk *c)
{
    (void)p;
    (void)c;
    return REVOPS_OK;
}

static const char *str(const revops_host *h, revops_json *j, const char *name)
{
    revops_json *v = h->json_get(j, name);
    return v && h->json_type(v) == REVOPS_JSON_STRING ? h->json_string(v) : NULL;
}

static double num(const revops_host *h, revops_json *j, const char *name, double dflt)
{
    revops_json *v = h->json_get(j, name);
    return v && (h->json_type(v) == REVOPS_JSON_REAL || h->json_type(v) == REVOPS_JSON_INT) ? h->json_real(v) : dflt;
}

static revops_status emit_line(state *s, revops_emitter *e, const char *line, size_t lineno)
{
    const revops_host *h = s->host;
    char err[200];
    revops_json *j = h->json_parse(line, strlen(line), err, sizeof err);
    if (!j) {
        h->error(s->self, "%s:%zu: %s", s->path, lineno, err);
        return REVOPS_ERROR;
    }
    revops_finding f;
    memset(&f, 0, sizeof f);
    f.analysis = "A5";
    f.account_id = str(h, j, "account_id");
    f.account_name = str(h, j, "account_name");
    f.owner = str(h, j, "owner");
    f.opportunity_id = str(h, j, "opportunity_id");
    f.category = str(h, j, "category") ? str(h, j, "category") : "test";
    const char *pr = str(h, j, "priority");
    f.priority = !pr ? REVOPS_PRIORITY_HIGH : !strcmp(pr, "critical") ? REVOPS_PRIORITY_CRITICAL
                 : !strcmp(pr, "high") ? REVOPS_PRIORITY_HIGH : !strcmp(pr, "medium") ? REVOPS_PRIORITY_MEDIUM
                 : REVOPS_PRIORITY_LOW;
    f.score = num(h, j, "score", 0.5);
    f.confidence = num(h, j, "confidence", 0.9);
    f.title = str(h, j, "title") ? str(h, j, "title") : "a test finding";
    f.description = str(h, j, "description");
    revops_json *sigs = h->json_get(j, "signals"), *acts = h->json_get(j, "actions");
    size_t ns = sigs ? h->json_len(sigs) : 0, na = acts ? h->json_len(acts) : 0;
    revops_signal *sv = calloc(ns + 1, sizeof *sv);
    const char **av = calloc(na + 1, sizeof *av);
    for (size_t i = 0; sv && i < ns; i++) {
        revops_json *x = h->json_index(sigs, i);
        sv[i].name = str(h, x, "name");
        sv[i].value = num(h, x, "value", 0);
        sv[i].threshold = num(h, x, "threshold", 0);
        sv[i].weight = num(h, x, "weight", 1);
        sv[i].evidence = str(h, x, "evidence");
    }
    for (size_t i = 0; av && i < na; i++) av[i] = h->json_string(h->json_index(acts, i));
    f.nsignals = ns;
    f.signals = sv;
    f.nactions = na;
    f.recommended_actions = av;
    revops_status st = sv && av && f.account_id ? h->emit_finding(e, &f) : REVOPS_ERROR;
    if (!f.account_id) h->error(s->self, "%s:%zu: account_id missing", s->path, lineno);
    free(sv);
    free(av);
    h->json_free(j);
    return st;
}

static revops_status s_finalize(void *p, revops_emitter *e)
{
    state *s = p;
    FILE *fp = fopen(s->path, "r");
    if (!fp) {
        s->host->error(s->self, "cannot open %s", s->path);
        return REVOPS_ERROR;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    revops_status st = REVOPS_OK;
    while (st == REVOPS_OK && getline(&line, &cap, fp) > 0) {
        lineno++;
        if (line[strspn(line, " \t\r\n")] == '\0') continue;
        st = emit_line(s, e, line, lineno);
    }
    free(line);
    fclose(fp);
    return st;
}

static void s_destroy(void *p)
{
    free(p);
}

static const revops_input_def inputs[] = {
    { "rows", 1, "id", "any rows (ignored)" },
    { NULL, 0, NULL, NULL },
};
static const revops_option_def options[] = {
    { "path", REVOPS_OPT_PATH, 1, NULL, 0, 0, NULL, 0, "findings, one JSON object per line" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};
static const revops_analysis_vtable vt = { "A5", inputs, s_init, s_chunk, s_finalize, s_destroy };
REVOPS_PLUGIN = { REVOPS_PLUGIN_HEADER, REVOPS_KIND_ANALYSIS, "tp_json_findings", "1.0.0",
                  "test analysis: findings from a JSON lines file", options, { .analysis = &vt } };
