/* The model layer's configuration: data classification (classes, their
 * policies, each source field's class, each finding field's class), the
 * data agent's bounds, and a pipeline's narrate / agent settings.  Same
 * rules as config.c: every error is `file:line: message`, all reported. */
#include "config.h"
#include "core.h"

#include <string.h>

const char *const data_class_names[CLASS_COUNT + 1] = { "PUBLIC", "INTERNAL", "CONFIDENTIAL", "RESTRICTED", NULL };
const char *const finding_field_names[FF_COUNT + 1] = { "account_id", "account_name", "opportunity_id", "text", "evidence",
                                                        NULL };

/* The spec's table gives PUBLIC (embed, 365 days, no anonymisation); the
 * other three follow its intent: more sensitive, shorter kept, pseudonymised,
 * and RESTRICTED never sent at all. */
static const class_policy default_policy[CLASS_COUNT] = {
    { 1, 365, 0 },   /* PUBLIC */
    { 1, 365, 0 },   /* INTERNAL */
    { 1, 90, 1 },    /* CONFIDENTIAL */
    { 0, 30, 1 },    /* RESTRICTED */
};

/* A count: read_number, and a whole number (max_steps = 2.5 is a typo, not 2). */
static void read_count(const revops_config *c, const config_setting_t *g, const char *key, double lo, double hi, double *out,
                       const char *what, diag *d)
{
    const config_setting_t *s = config_setting_get_member(g, key);
    if (s && config_setting_type(s) == CONFIG_TYPE_FLOAT) {
        diag_add(d, S_FILE(s, c), S_LINE(s), "%s: '%s' must be a whole number, not %g", what, key, config_setting_get_float(s));
        return;
    }
    read_number(c, g, key, lo, hi, out, what, d);
}

static int class_pick(const revops_config *c, const config_setting_t *s, const char *what, const char *key, diag *d)
{
    return enum_pick(c, s, data_class_names, what, key, d);
}

void config_read_classification(revops_config *c, const config_setting_t *root, diag *d)
{
    classification *cl = &c->classes;
    memcpy(cl->policy, default_policy, sizeof default_policy);
    cl->default_class = CLASS_RESTRICTED;
    for (int i = 0; i < FF_COUNT; i++) cl->finding_class[i] = CLASS_RESTRICTED;
    const config_setting_t *g = member(c, root, "classification", CONFIG_TYPE_GROUP, 0, "configuration", d);
    if (!g) return;
    cl->configured = 1;
    static const char *const keys[] = { "default", "key", "classes", "findings", NULL };
    check_keys(c, g, keys, "classification", d);
    const config_setting_t *def = member(c, g, "default", CONFIG_TYPE_STRING, 1, "classification", d);
    int v;
    if (def && (v = class_pick(c, def, "classification", "default", d)) >= 0) cl->default_class = (data_class)v;
    for (int i = 0; i < FF_COUNT; i++) cl->finding_class[i] = cl->default_class;
    cl->key_ref = string_setting(c, g, "key", "classification", d, 0);
    const config_setting_t *classes = member(c, g, "classes", CONFIG_TYPE_GROUP, 0, "classification", d);
    for (int i = 0; classes && i < config_setting_length(classes); i++) {
        const config_setting_t *cs = config_setting_get_elem(classes, (unsigned)i);
        const char *name = config_setting_name(cs);
        int k = -1;
        for (int j = 0; j < CLASS_COUNT; j++)
            if (!strcmp(name, data_class_names[j])) k = j;
        if (k < 0) {
            diag_add(d, S_FILE(cs, c), S_LINE(cs), "classification.classes: unknown class '%s'; the classes are PUBLIC, "
                     "INTERNAL, CONFIDENTIAL, RESTRICTED", name);
            continue;
        }
        char *what = xasprintf("classification.classes.%s", name);
        if (config_setting_type(cs) != CONFIG_TYPE_GROUP) {
            diag_add(d, S_FILE(cs, c), S_LINE(cs), "%s must be a group { can_embed = ...; }", what);
            free(what);
            continue;
        }
        static const char *const pkeys[] = { "can_embed", "retention_days", "needs_anonymization", NULL };
        check_keys(c, cs, pkeys, what, d);
        class_policy *pol = &cl->policy[k];
        const config_setting_t *b = member(c, cs, "can_embed", CONFIG_TYPE_BOOL, 0, what, d);
        if (b) {
            pol->can_embed = config_setting_get_bool(b);
            if (k == CLASS_RESTRICTED && pol->can_embed)
                diag_add(d, S_FILE(b, c), S_LINE(b), "%s: can_embed cannot be true: RESTRICTED data never reaches a model", what);
        }
        b = member(c, cs, "needs_anonymization", CONFIG_TYPE_BOOL, 0, what, d);
        if (b) pol->needs_anonymization = config_setting_get_bool(b);
        double days = (double)pol->retention_days;
        read_count(c, cs, "retention_days", 0, 36500, &days, what, d);
        pol->retention_days = (int64_t)days;
        free(what);
    }
    const config_setting_t *ff = member(c, g, "findings", CONFIG_TYPE_GROUP, 0, "classification", d);
    if (ff) {
        check_keys(c, ff, finding_field_names, "classification.findings", d);
        for (int i = 0; i < FF_COUNT; i++) {
            const config_setting_t *s = member(c, ff, finding_field_names[i], CONFIG_TYPE_STRING, 0, "classification.findings", d);
            if (s && (v = class_pick(c, s, "classification.findings", finding_field_names[i], d)) >= 0)
                cl->finding_class[i] = (data_class)v;
        }
    }
}

/* sources.NAME.fields = { column = "CLASS"; ... } */
void config_read_fields(revops_config *c, conf_instance *ci, const config_setting_t *g, const char *what, diag *d)
{
    int n = config_setting_length(g);
    ci->fields = xcalloc((size_t)n + 1, sizeof *ci->fields);
    char *w = xasprintf("%s fields", what);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        if (config_setting_type(s) != CONFIG_TYPE_STRING) {
            diag_add(d, S_FILE(s, c), S_LINE(s), "%s: '%s' must be a class name (PUBLIC, INTERNAL, CONFIDENTIAL, RESTRICTED)",
                     w, config_setting_name(s));
            continue;
        }
        int v = class_pick(c, s, w, config_setting_name(s), d);
        if (v < 0) continue;
        ci->fields[ci->nfields].name = xstrdup(config_setting_name(s));
        ci->fields[ci->nfields++].cls = (data_class)v;
    }
    free(w);
}

static conf_instance *model_ref(revops_config *c, const config_setting_t *s, const char *what, diag *d)
{
    const char *name = config_setting_get_string(s);
    conf_instance *m = config_model(c, name);
    if (!m) {
        strbuf sb = { 0 };
        for (size_t i = 0; i < c->nmodels; i++) sb_printf(&sb, "%s%s", i ? ", " : "", c->models[i].name);
        diag_add(d, S_FILE(s, c), S_LINE(s), "%s: no model named '%s' in the models section (models: %s)", what, name,
                 sb.len ? sb.buf : "none");
        sb_free(&sb);
    }
    return m;
}

void config_read_agent(revops_config *c, const config_setting_t *root, diag *d)
{
    conf_agent *a = &c->agent;
    a->max_steps = 8;
    a->max_tokens = 100000;
    a->row_cap = 200;
    a->tool_timeout = 30;
    a->kb_passages = 4;
    a->keep_transcripts = 1;
    c->model_budget = 100000;
    double budget = (double)c->model_budget;
    read_count(c, root, "model_budget", 100, 1e9, &budget, "configuration", d);
    c->model_budget = (int64_t)budget;
    const config_setting_t *g = member(c, root, "agent", CONFIG_TYPE_GROUP, 0, "configuration", d);
    if (!g) return;
    a->file = S_FILE(g, c);
    a->line = S_LINE(g);
    static const char *const keys[] = { "model", "max_steps", "max_tokens", "row_cap", "tool_timeout", "kb_passages",
                                        "sources", "transcripts", NULL };
    check_keys(c, g, keys, "agent", d);
    const config_setting_t *m = member(c, g, "model", CONFIG_TYPE_STRING, 1, "agent", d);
    if (m) a->model = model_ref(c, m, "agent", d);
    double v = a->max_steps;
    read_count(c, g, "max_steps", 1, 100, &v, "agent", d);
    a->max_steps = (int)v;
    v = (double)a->max_tokens;
    read_count(c, g, "max_tokens", 100, 1e9, &v, "agent", d);
    a->max_tokens = (int64_t)v;
    v = (double)a->row_cap;
    read_count(c, g, "row_cap", 1, 100000, &v, "agent", d);
    a->row_cap = (size_t)v;
    read_number(c, g, "tool_timeout", 0.1, 3600, &a->tool_timeout, "agent", d);
    v = (double)a->kb_passages;
    read_count(c, g, "kb_passages", 0, 50, &v, "agent", d);
    a->kb_passages = (size_t)v;
    const config_setting_t *t = member(c, g, "transcripts", CONFIG_TYPE_BOOL, 0, "agent", d);
    if (t) a->keep_transcripts = config_setting_get_bool(t);
    const config_setting_t *srcs = member(c, g, "sources", CONFIG_TYPE_LIST, 0, "agent", d);
    if (srcs) {
        int n = config_setting_length(srcs);
        a->sources = xcalloc((size_t)n + 1, sizeof *a->sources);
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(srcs, (unsigned)i);
            const char *name = config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e) : NULL;
            conf_instance *src = name ? config_source(c, name) : NULL;
            if (!src) {
                diag_add(d, S_FILE(e, c), S_LINE(e), "agent: sources: %s%s%s is not a source of this configuration",
                         name ? "'" : "", name ? name : "an entry that is not a string", name ? "'" : "");
                continue;
            }
            if (!src->plugin || !src->plugin->desc->vt.source->tools || !src->plugin->desc->vt.source->call_tool) {
                diag_add(d, S_FILE(e, c), S_LINE(e), "agent: source '%s' offers no tools (its plugin declares none)", name);
                continue;
            }
            a->sources[a->nsources++] = src;
        }
    }
}

void config_read_pipeline_model(revops_config *c, conf_pipeline *p, const config_setting_t *s, const char *what, diag *d)
{
    p->narrate_batch = 10;
    p->model_budget = c->model_budget;
    const config_setting_t *n = config_setting_get_member(s, "narrate");
    if (n && config_setting_type(n) != CONFIG_TYPE_STRING && config_setting_type(n) != CONFIG_TYPE_GROUP) {
        diag_add(d, S_FILE(n, c), S_LINE(n), "%s: 'narrate' must be a model name or a group { model = \"...\"; batch = N; }",
                 what);
    } else if (n && config_setting_type(n) == CONFIG_TYPE_STRING) {
        p->narrate_model = model_ref(c, n, what, d);
    } else if (n) {
        char *w = xasprintf("%s narrate", what);
        n = member(c, s, "narrate", CONFIG_TYPE_GROUP, 0, what, d);
        if (n) {
            static const char *const keys[] = { "model", "batch", NULL };
            check_keys(c, n, keys, w, d);
            const config_setting_t *m = member(c, n, "model", CONFIG_TYPE_STRING, 1, w, d);
            if (m) p->narrate_model = model_ref(c, m, w, d);
            double b = (double)p->narrate_batch;
            read_count(c, n, "batch", 1, 100, &b, w, d);
            p->narrate_batch = (size_t)b;
        }
        free(w);
    }
    const config_setting_t *a = member(c, s, "agent", CONFIG_TYPE_BOOL, 0, what, d);
    if (a && config_setting_get_bool(a)) {
        p->agent = 1;
        if (!c->agent.model)
            diag_add(d, S_FILE(a, c), S_LINE(a), "%s: agent = true needs a top-level agent = { model = \"...\"; } setting", what);
        if (!p->narrate_model)
            diag_add(d, S_FILE(a, c), S_LINE(a), "%s: agent = true needs narrate: the agent's notes are read by the narrative",
                     what);
    }
    double b = (double)p->model_budget;
    read_count(c, s, "model_budget", 100, 1e9, &b, what, d);
    p->model_budget = (int64_t)b;
}

void config_model_free(revops_config *c)
{
    free(c->classes.key_ref);
    free(c->agent.sources);
}
