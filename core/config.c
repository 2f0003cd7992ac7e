/* revops.conf: libconfig syntax, validated whole before anything runs.
 *
 * Every problem becomes one "file:line: message" (libconfig keeps the file
 * and line of every setting, @include'd files included), all are reported at
 * once, and any of them fails start-up and check-config with exit 78 — the
 * opposite of a tool that runs half a config and exits 0. */
#include "config.h"
#include "core.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <strings.h>
#include <sys/stat.h>


static const char *const analysis_types[] = { "A1", "A2", "A3", "A4", "A5", "A6", NULL };
static const char *const priority_names[] = { "low", "medium", "high", "critical", NULL };

static const char *type_word(int t)
{
    switch (t) {
    case CONFIG_TYPE_GROUP: return "a group { ... }";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a number";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "a boolean";
    case CONFIG_TYPE_ARRAY: return "an array [ ... ]";
    case CONFIG_TYPE_LIST: return "a list ( ... )";
    }
    return "nothing";
}

/* Report keys of `g` not in `allowed`. */
void check_keys(const revops_config *c, const config_setting_t *g, const char *const *allowed,
                       const char *what, diag *d)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *key = config_setting_name(s);
        if (!key) continue;
        int ok = 0;
        for (size_t k = 0; allowed[k]; k++) ok |= strcmp(allowed[k], key) == 0;
        if (ok) continue;
        strbuf sb = { 0 };
        for (size_t k = 0; allowed[k]; k++) sb_printf(&sb, "%s%s", k ? ", " : "", allowed[k]);
        diag_add(d, S_FILE(s, c), S_LINE(s), "%s: unknown setting '%s'; allowed: %s", what, key, sb.buf);
        sb_free(&sb);
    }
}

/* Typed lookups: absent -> 0 (and an error when required), wrong type -> error. */
const config_setting_t *member(const revops_config *c, const config_setting_t *g, const char *key,
                                      int type, int required, const char *what, diag *d)
{
    const config_setting_t *s = config_setting_get_member(g, key);
    if (!s) {
        if (required)
            diag_add(d, S_FILE(g, c), S_LINE(g), "%s: required setting '%s' is missing", what, key);
        return NULL;
    }
    int t = config_setting_type(s);
    int ok = t == type || (type == CONFIG_TYPE_INT && t == CONFIG_TYPE_INT64) ||
             (type == CONFIG_TYPE_FLOAT && (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)) ||
             (type == CONFIG_TYPE_LIST && t == CONFIG_TYPE_ARRAY);
    if (!ok) {
        diag_add(d, S_FILE(s, c), S_LINE(s), "%s: '%s' must be %s, not %s", what, key, type_word(type), type_word(t));
        return NULL;
    }
    return s;
}

static double number_of(const config_setting_t *s)
{
    return config_setting_type(s) == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
                                                       : (double)config_setting_get_int64(s);
}

int enum_pick(const revops_config *c, const config_setting_t *s, const char *const *values,
                     const char *what, const char *key, diag *d)
{
    const char *v = config_setting_get_string(s);
    for (int i = 0; values[i]; i++)
        if (strcmp(values[i], v) == 0) return i;
    strbuf sb = { 0 };
    for (int i = 0; values[i]; i++) sb_printf(&sb, "%s%s", i ? ", " : "", values[i]);
    diag_add(d, S_FILE(s, c), S_LINE(s), "%s: '%s' = \"%s\" is not one of: %s", what, key, v, sb.buf);
    sb_free(&sb);
    return -1;
}

void read_number(const revops_config *c, const config_setting_t *g, const char *key, double lo,
                        double hi, double *out, const char *what, diag *d)
{
    const config_setting_t *s = member(c, g, key, CONFIG_TYPE_FLOAT, 0, what, d);
    if (!s) return;
    double v = number_of(s);
    if (v < lo || v > hi) {
        diag_add(d, S_FILE(s, c), S_LINE(s), "%s: '%s' = %g is outside the allowed range %g..%g", what, key, v, lo, hi);
        return;
    }
    *out = v;
}

static void read_retry(const revops_config *c, const config_setting_t *g, retry_policy *r, const char *what, diag *d)
{
    static const char *const keys[] = { "interval", "backoff_rate", "max_attempts", "max_interval", NULL };
    check_keys(c, g, keys, what, d);
    read_number(c, g, "interval", 0, 3600, &r->interval, what, d);
    read_number(c, g, "backoff_rate", 1, 10, &r->backoff_rate, what, d);
    read_number(c, g, "max_interval", 0, 86400, &r->max_interval, what, d);
    double attempts = r->max_attempts;
    const config_setting_t *s = member(c, g, "max_attempts", CONFIG_TYPE_INT, 0, what, d);
    if (s) {
        attempts = (double)config_setting_get_int64(s);
        if (attempts < 1 || attempts > 20)
            diag_add(d, S_FILE(s, c), S_LINE(s), "%s: 'max_attempts' = %g is outside the allowed range 1..20", what, attempts);
        else r->max_attempts = (int)attempts;
    }
}

int valid_instance_name(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static char *plugin_names(const revops_config *c, revops_kind kind)
{
    strbuf sb = { 0 };
    for (size_t i = 0; i < c->plugins.n; i++)
        if (c->plugins.v[i].desc->kind == kind)
            sb_printf(&sb, "%s%s", sb.len ? ", " : "", c->plugins.v[i].desc->name);
    if (!sb.len) sb_puts(&sb, "none");
    return sb_steal(&sb);
}

/* sources { name = { plugin = "..."; ... }; } and actions { ... } */
static void read_instances(revops_config *c, const config_setting_t *root, const char *section, revops_kind kind,
                           conf_instance **out, size_t *nout, diag *d)
{
    const config_setting_t *g = member(c, root, section, CONFIG_TYPE_GROUP, 0, "configuration", d);
    if (!g) return;
    int n = config_setting_length(g);
    *out = xcalloc((size_t)n, sizeof **out);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        conf_instance *ci = &(*out)[(*nout)++];
        ci->name = xstrdup(config_setting_name(s));
        ci->kind = kind;
        ci->file = S_FILE(s, c);
        ci->line = S_LINE(s);
        ci->rows_per_chunk = 1000;
        ci->max_chunk_bytes = 6u << 20;  /* the spec's reason: Lambda's 6 MB response payload limit */
        char *what = xasprintf("%s '%s'", kind_name(kind), ci->name);
        if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
            diag_add(d, ci->file, ci->line, "%s must be a group { plugin = \"...\"; ... }, not %s", what,
                     type_word(config_setting_type(s)));
            free(what);
            continue;
        }
        if (!valid_instance_name(ci->name))
            diag_add(d, ci->file, ci->line, "%s: names may contain only letters, digits, '_' and '-'", what);
        const config_setting_t *p = member(c, s, "plugin", CONFIG_TYPE_STRING, 1, what, d);
        if (p) {
            const char *pname = config_setting_get_string(p);
            ci->plugin = plugin_find(&c->plugins, kind, pname);
            if (!ci->plugin) {
                char *names = plugin_names(c, kind);
                diag_add(d, S_FILE(p, c), S_LINE(p), "%s: no %s plugin named '%s' is loaded (loaded %s plugins: %s; plugin path: %s)",
                         what, kind_name(kind), pname, kind_name(kind), names, plugin_search_path(c->plugin_dir));
                free(names);
            }
        }
        if (kind == REVOPS_KIND_SOURCE) {
            const config_setting_t *r = member(c, s, "rows_per_chunk", CONFIG_TYPE_INT, 0, what, d);
            if (r) {
                long long v = config_setting_get_int64(r);
                if (v < 1 || v > 10000000)
                    diag_add(d, S_FILE(r, c), S_LINE(r), "%s: 'rows_per_chunk' = %lld is outside the allowed range 1..10000000", what, v);
                else ci->rows_per_chunk = (size_t)v;
            }
            const config_setting_t *mb = member(c, s, "max_chunk_bytes", CONFIG_TYPE_INT, 0, what, d);
            if (mb) {
                long long v = config_setting_get_int64(mb);
                if (v < 1024 || v > (1LL << 31))
                    diag_add(d, S_FILE(mb, c), S_LINE(mb), "%s: 'max_chunk_bytes' = %lld is outside the allowed range 1024..2147483648", what, v);
                else ci->max_chunk_bytes = (size_t)v;
            }
        }
        if (kind == REVOPS_KIND_ACTION) {
            /* An alert goes through the outbox unless its plugin says it is
             * an output that wants every run's findings. */
            const revops_plugin *pd = ci->plugin ? ci->plugin->desc : NULL;
            ci->outbox = !(pd && pd->abi_minor >= 5 && (pd->vt.action->flags & REVOPS_ACTION_EVERY_RUN));
            const config_setting_t *ob = member(c, s, "outbox", CONFIG_TYPE_BOOL, 0, what, d);
            if (ob) ci->outbox = config_setting_get_bool(ob);
            const config_setting_t *bt = member(c, s, "batch", CONFIG_TYPE_INT, 0, what, d);
            if (bt) {
                long long v = config_setting_get_int64(bt);
                if (v < 0 || v > 1000000)
                    diag_add(d, S_FILE(bt, c), S_LINE(bt), "%s: 'batch' = %lld is outside the allowed range 0..1000000 (0: every routed finding in one call)", what, v);
                else ci->batch = (size_t)v;
            }
        }
        if (kind == REVOPS_KIND_SOURCE) {
            const config_setting_t *fg = member(c, s, "fields", CONFIG_TYPE_GROUP, 0, what, d);
            if (fg) config_read_fields(c, ci, fg, what, d);
        }
        if (ci->plugin) {
            static const char *const src_reserved[] = { "plugin", "rows_per_chunk", "max_chunk_bytes", "fields", NULL };
            static const char *const act_reserved[] = { "plugin", "outbox", "batch", NULL };
            char *w = xasprintf("%s (plugin %s)", what, ci->plugin->desc->name);
            ci->opts = options_from_config(ci->plugin->desc->options, s,
                                           kind == REVOPS_KIND_SOURCE ? src_reserved : act_reserved, w, c->path, d);
            free(w);
        }
        free(what);
    }
}

static conf_instance *find_instance(conf_instance *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0) return &v[i];
    return NULL;
}

static char *instance_names(const conf_instance *v, size_t n)
{
    strbuf sb = { 0 };
    for (size_t i = 0; i < n; i++) sb_printf(&sb, "%s%s", i ? ", " : "", v[i].name);
    if (!n) sb_puts(&sb, "none defined");
    return sb_steal(&sb);
}

/* The dialects a query group offers, for messages. */
static char *dialect_names(const config_setting_t *g)
{
    strbuf sb = { 0 };
    for (int i = 0; i < config_setting_length(g); i++)
        sb_printf(&sb, "%s%s", i ? ", " : "", config_setting_name(config_setting_get_elem(g, (unsigned)i)));
    if (!sb.len) sb_puts(&sb, "none");
    return sb_steal(&sb);
}

/* A query setting: one string, or a group { dialect = "..."; ... }. */
static int query_setting_ok(revops_config *c, const config_setting_t *q, const char *what, diag *d)
{
    if (config_setting_type(q) == CONFIG_TYPE_STRING) return 1;
    if (config_setting_type(q) != CONFIG_TYPE_GROUP) {
        diag_add(d, S_FILE(q, c), S_LINE(q), "%s must be a string, or a group of strings per SQL dialect "
                 "{ sqlite = \"...\"; postgres = \"...\"; firebolt = \"...\"; }, not %s", what, type_word(config_setting_type(q)));
        return 0;
    }
    int ok = 1;
    for (int i = 0; i < config_setting_length(q); i++) {
        const config_setting_t *e = config_setting_get_elem(q, (unsigned)i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
            diag_add(d, S_FILE(e, c), S_LINE(e), "%s: dialect '%s' must be a string (the query), not %s", what,
                     config_setting_name(e), type_word(config_setting_type(e)));
            ok = 0;
        }
    }
    return ok;
}

/* An input's query: 'query' or 'named_query' (from the top-level `queries`),
 * the member for the source's dialect, and ${option} parameters checked now
 * so a typo is a config error, not a failed run. */
static void read_query(revops_config *c, conf_pipeline *p, conf_input *in, const config_setting_t *s, const char *iw, diag *d)
{
    const config_setting_t *q = config_setting_get_member(s, "query");
    const config_setting_t *nq = member(c, s, "named_query", CONFIG_TYPE_STRING, 0, iw, d);
    char *qw = NULL;
    if (q && nq) {
        diag_add(d, S_FILE(nq, c), S_LINE(nq), "%s: give 'query' or 'named_query', not both", iw);
        return;
    }
    if (!q && !nq) {
        diag_add(d, S_FILE(s, c), S_LINE(s), "%s: required setting 'query' (or 'named_query') is missing", iw);
        return;
    }
    if (nq) {
        const char *name = config_setting_get_string(nq);
        /* The config's own `queries` win over the shipped library's. */
        q = c->queries ? config_setting_get_member(c->queries, name) : NULL;
        if (!q && c->library) q = config_setting_get_member(c->library, name);
        if (!q) {
            char *own = c->queries ? dialect_names(c->queries) : NULL;
            char *lib = c->library ? dialect_names(c->library) : NULL;
            diag_add(d, S_FILE(nq, c), S_LINE(nq), "%s: named_query '%s' is not defined in 'queries'%s (defined: %s%s%s)", iw, name,
                     c->library ? " or the query_library" : "", own ? own : "", own && lib ? ", " : "",
                     lib ? lib : own ? "" : "none");
            free(own);
            free(lib);
            return;
        }
        qw = xasprintf("%s: queries.%s", iw, name);
    } else {
        qw = xasprintf("%s: 'query'", iw);
        if (!query_setting_ok(c, q, qw, d)) { free(qw); return; }
    }
    const config_setting_t *text = q;
    if (config_setting_type(q) == CONFIG_TYPE_GROUP) {
        if (!in->source) { free(qw); return; }  /* reported already */
        const char *dialect = source_dialect(in->source->plugin);
        char *have = dialect_names(q);
        if (!dialect) {
            diag_add(d, S_FILE(nq ? nq : q, c), S_LINE(nq ? nq : q), "%s has one query per SQL dialect (%s), but source '%s' "
                     "(plugin %s) declares no dialect: give it one query string", qw, have, in->source->name,
                     in->source->plugin->desc->name);
            text = NULL;
        } else if (!(text = config_setting_get_member(q, dialect)) || config_setting_type(text) != CONFIG_TYPE_STRING) {
            diag_add(d, S_FILE(nq ? nq : q, c), S_LINE(nq ? nq : q), "%s has no query for dialect '%s' of source '%s' "
                     "(plugin %s); it has: %s", qw, dialect, in->source->name, in->source->plugin->desc->name, have);
            text = NULL;
        }
        free(have);
    }
    if (text) {
        in->query = xstrdup(config_setting_get_string(text));
        in->query_file = S_FILE(text, c);
        in->query_line = S_LINE(text);
        char err[512], *rendered = NULL;
        if (!in->query[strspn(in->query, " \t\r\n")])
            diag_add(d, in->query_file, in->query_line, "%s is empty", qw);
        else if (query_render(in->query, p->analysis_opts, clock_now(), &rendered, err, sizeof err) < 0)
            diag_add(d, in->query_file, in->query_line, "%s: %s", qw, err);
        free(rendered);
    }
    free(qw);
}

static void read_inputs(revops_config *c, conf_pipeline *p, const config_setting_t *g, const char *what, diag *d)
{
    const revops_input_def *defs = p->analysis->desc->vt.analysis->inputs;
    size_t ndefs = 0;
    while (defs && defs[ndefs].name) ndefs++;
    p->inputs = xcalloc(ndefs, sizeof *p->inputs);
    strbuf known = { 0 };
    for (size_t k = 0; k < ndefs; k++) sb_printf(&known, "%s%s", k ? ", " : "", defs[k].name);
    /* Unknown inputs first, so a typo is reported where it was written. */
    for (int i = 0; g && i < config_setting_length(g); i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        size_t k;
        for (k = 0; k < ndefs && strcmp(defs[k].name, config_setting_name(s)) != 0; k++) {}
        if (k == ndefs)
            diag_add(d, S_FILE(s, c), S_LINE(s), "%s: analysis %s (%s) has no input '%s'; its inputs are: %s", what,
                     p->analysis_type, p->analysis->desc->name, config_setting_name(s), known.buf ? known.buf : "none");
    }
    for (size_t k = 0; k < ndefs; k++) {
        const config_setting_t *s = g ? config_setting_get_member(g, defs[k].name) : NULL;
        if (!s) {
            if (defs[k].required)
                diag_add(d, g ? S_FILE(g, c) : p->file, g ? S_LINE(g) : p->line,
                         "%s: required input '%s' of analysis %s is not configured (it needs the columns %s)", what,
                         defs[k].name, p->analysis_type, defs[k].columns ? defs[k].columns : "-");
            continue;
        }
        char *iw = xasprintf("%s input '%s'", what, defs[k].name);
        if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
            diag_add(d, S_FILE(s, c), S_LINE(s), "%s must be a group { source = \"...\"; query = \"...\"; }", iw);
            free(iw);
            continue;
        }
        static const char *const keys[] = { "source", "query", "named_query", "row_limit", NULL };
        check_keys(c, s, keys, iw, d);
        conf_input *in = &p->inputs[p->ninputs++];
        in->name = xstrdup(defs[k].name);
        const config_setting_t *src = member(c, s, "source", CONFIG_TYPE_STRING, 1, iw, d);
        if (src) {
            in->source = find_instance(c->sources, c->nsources, config_setting_get_string(src));
            if (!in->source) {
                char *names = instance_names(c->sources, c->nsources);
                diag_add(d, S_FILE(src, c), S_LINE(src), "%s: source '%s' is not defined (sources: %s)", iw,
                         config_setting_get_string(src), names);
                free(names);
            }
        }
        read_query(c, p, in, s, iw, d);
        const config_setting_t *rl = member(c, s, "row_limit", CONFIG_TYPE_INT, 0, iw, d);
        if (rl) {
            in->row_limit = config_setting_get_int64(rl);
            if (in->row_limit < 0) diag_add(d, S_FILE(rl, c), S_LINE(rl), "%s: 'row_limit' must not be negative", iw);
        }
        free(iw);
    }
    sb_free(&known);
}

static void route_strings(revops_config *c, const config_setting_t *l, const char *rw, const char *key, char ***out,
                          size_t *nout, diag *d)
{
    int n = config_setting_length(l);
    *out = xcalloc((size_t)n + 1, sizeof **out);
    for (int k = 0; k < n; k++) {
        const config_setting_t *e = config_setting_get_elem(l, (unsigned)k);
        if (config_setting_type(e) != CONFIG_TYPE_STRING || !config_setting_get_string(e)[0]) {
            diag_add(d, S_FILE(l, c), S_LINE(l), "%s: '%s' must list non-empty strings", rw, key);
            continue;
        }
        (*out)[(*nout)++] = xstrdup(config_setting_get_string(e));
    }
}

/* One routing rule: an action name, or a group selecting findings by
 * priority, score, analysis and account owner.  Returns the action's
 * setting (for messages) and fills r; r->action NULL when it names none. */
static void read_route(revops_config *c, const config_setting_t *s, const char *rw, conf_route *r, diag *d)
{
    static const char *const analysis_names[] = { "A1", "A2", "A3", "A4", "A5", "A6", NULL };
    memset(r, 0, sizeof *r);
    r->priorities = 0xF;
    const char *aname = NULL;
    const config_setting_t *where = s;
    if (config_setting_type(s) == CONFIG_TYPE_STRING) {
        aname = config_setting_get_string(s);
    } else if (config_setting_type(s) == CONFIG_TYPE_GROUP) {
        static const char *const keys[] = { "action", "priorities", "min_priority", "min_score", "analyses", "owners",
                                            NULL };
        check_keys(c, s, keys, rw, d);
        const config_setting_t *a = member(c, s, "action", CONFIG_TYPE_STRING, 1, rw, d);
        if (a) aname = config_setting_get_string(a), where = a;
        const config_setting_t *pr = member(c, s, "priorities", CONFIG_TYPE_LIST, 0, rw, d);
        const config_setting_t *mp = member(c, s, "min_priority", CONFIG_TYPE_STRING, 0, rw, d);
        if (pr && mp)
            diag_add(d, S_FILE(mp, c), S_LINE(mp), "%s: set either 'priorities' or 'min_priority', not both", rw);
        if (pr) {
            r->priorities = 0;
            for (int k = 0; k < config_setting_length(pr); k++) {
                const config_setting_t *e = config_setting_get_elem(pr, (unsigned)k);
                if (config_setting_type(e) != CONFIG_TYPE_STRING) {
                    diag_add(d, S_FILE(pr, c), S_LINE(pr), "%s: 'priorities' must list strings (low, medium, high, critical)", rw);
                    continue;
                }
                int v = enum_pick(c, e, priority_names, rw, "priorities", d);
                if (v >= 0) r->priorities |= 1u << v;
            }
        }
        if (mp) {
            int v = enum_pick(c, mp, priority_names, rw, "min_priority", d);
            if (v >= 0) r->priorities = 0xFu & ~((1u << v) - 1);
        }
        read_number(c, s, "min_score", 0, 1, &r->min_score, rw, d);
        const config_setting_t *an = member(c, s, "analyses", CONFIG_TYPE_LIST, 0, rw, d);
        for (int k = 0; an && k < config_setting_length(an); k++) {
            const config_setting_t *e = config_setting_get_elem(an, (unsigned)k);
            if (config_setting_type(e) != CONFIG_TYPE_STRING) {
                diag_add(d, S_FILE(an, c), S_LINE(an), "%s: 'analyses' must list analysis types (A1 .. A6)", rw);
                continue;
            }
            int v = enum_pick(c, e, analysis_names, rw, "analyses", d);
            if (v >= 0) r->analyses |= 1u << v;
        }
        const config_setting_t *ow = member(c, s, "owners", CONFIG_TYPE_LIST, 0, rw, d);
        if (ow) route_strings(c, ow, rw, "owners", &r->owners, &r->nowners, d);
    } else {
        diag_add(d, S_FILE(s, c), S_LINE(s), "%s must be an action name or a group { action = \"...\"; min_priority = \"...\"; }", rw);
    }
    if (aname) {
        r->action = find_instance(c->actions, c->nactions, aname);
        if (!r->action) {
            char *names = instance_names(c->actions, c->nactions);
            diag_add(d, S_FILE(where, c), S_LINE(where), "%s: action '%s' is not defined (actions: %s)", rw, aname, names);
            free(names);
        }
    }
}

static void route_free(conf_route *r)
{
    for (size_t i = 0; i < r->nowners; i++) free(r->owners[i]);
    free(r->owners);
}

static void route_add(conf_pipeline *p, const conf_route *r, size_t *cap)
{
    if (p->nroutes == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        p->routes = xrealloc(p->routes, *cap * sizeof *p->routes);
    }
    conf_route *d = &p->routes[p->nroutes++];
    *d = *r;
    d->owners = xcalloc(r->nowners + 1, sizeof *d->owners);
    for (size_t i = 0; i < r->nowners; i++) d->owners[i] = xstrdup(r->owners[i]);
}

/* A pipeline's own `actions` list, then the top-level `routing` rules whose
 * `analyses` include its analysis (all of them when a rule names none). */
static void read_routes(revops_config *c, conf_pipeline *p, const config_setting_t *g, const config_setting_t *global,
                        const char *what, diag *d)
{
    size_t cap = 0;
    for (int i = 0; g && i < config_setting_length(g); i++) {
        char *rw = xasprintf("%s action #%d", what, i + 1);
        conf_route r;
        read_route(c, config_setting_get_elem(g, (unsigned)i), rw, &r, d);
        if (r.action) route_add(p, &r, &cap);
        route_free(&r);
        free(rw);
    }
    static const char *const analysis_names[] = { "A1", "A2", "A3", "A4", "A5", "A6", NULL };
    int mine = -1;
    for (int k = 0; p->analysis_type && analysis_names[k]; k++)
        if (!strcmp(p->analysis_type, analysis_names[k])) mine = k;
    for (int i = 0; global && i < config_setting_length(global); i++) {
        char *rw = xasprintf("routing rule #%d", i + 1);
        conf_route r;
        /* Each rule is checked once, with the first pipeline. */
        diag *scratch = diag_new();
        read_route(c, config_setting_get_elem(global, (unsigned)i), rw, &r, p == c->pipelines ? d : scratch);
        diag_free(scratch);
        if (r.action && (!r.analyses || (mine >= 0 && (r.analyses & (1u << mine))))) route_add(p, &r, &cap);
        route_free(&r);
        free(rw);
    }
}

static void read_pipelines(revops_config *c, const config_setting_t *root, diag *d)
{
    const config_setting_t *g = member(c, root, "pipelines", CONFIG_TYPE_GROUP, 0, "configuration", d);
    if (!g) return;
    int n = config_setting_length(g);
    c->pipelines = xcalloc((size_t)n, sizeof *c->pipelines);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        conf_pipeline *p = &c->pipelines[c->npipelines++];
        p->name = xstrdup(config_setting_name(s));
        p->file = S_FILE(s, c);
        p->line = S_LINE(s);
        p->retry = c->retry;
        p->timeout = c->timeout;
        char *what = xasprintf("pipeline '%s'", p->name);
        if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
            diag_add(d, p->file, p->line, "%s must be a group { analysis = \"A1\"; ... }, not %s", what, type_word(config_setting_type(s)));
            free(what);
            continue;
        }
        if (!valid_instance_name(p->name))
            diag_add(d, p->file, p->line, "%s: names may contain only letters, digits, '_' and '-'", what);
        static const char *const keys[] = { "analysis", "analysis_plugin", "options", "inputs", "actions", "schedule",
                                            "max_opportunities", "retry", "timeout", "narrate", "agent", "model_budget",
                                            "timezone", "missed", "parallelism", NULL };
        check_keys(c, s, keys, what, d);
        config_read_pipeline_model(c, p, s, what, d);

        const config_setting_t *a = member(c, s, "analysis", CONFIG_TYPE_STRING, 1, what, d);
        const config_setting_t *ap = member(c, s, "analysis_plugin", CONFIG_TYPE_STRING, 0, what, d);
        if (a && enum_pick(c, a, analysis_types, what, "analysis", d) >= 0) {
            p->analysis_type = xstrdup(config_setting_get_string(a));
            const char *want = ap ? config_setting_get_string(ap) : NULL;
            int matches = 0;
            for (size_t k = 0; k < c->plugins.n; k++) {
                const revops_plugin *pd = c->plugins.v[k].desc;
                if (pd->kind != REVOPS_KIND_ANALYSIS || strcmp(pd->vt.analysis->analysis_type, p->analysis_type)) continue;
                if (want && strcmp(want, pd->name)) continue;
                if (!p->analysis) p->analysis = &c->plugins.v[k];
                matches++;
            }
            if (!matches) {
                strbuf sb = { 0 };
                for (size_t k = 0; k < c->plugins.n; k++)
                    if (c->plugins.v[k].desc->kind == REVOPS_KIND_ANALYSIS)
                        sb_printf(&sb, "%s%s (%s)", sb.len ? ", " : "", c->plugins.v[k].desc->name,
                                  c->plugins.v[k].desc->vt.analysis->analysis_type);
                diag_add(d, S_FILE(want ? ap : a, c), S_LINE(want ? ap : a),
                         "%s: no loaded analysis plugin%s%s%s implements %s (loaded analyses: %s)", what,
                         want ? " named '" : "", want ? want : "", want ? "'" : "", p->analysis_type, sb.len ? sb.buf : "none");
                sb_free(&sb);
            } else if (matches > 1) {
                diag_add(d, S_FILE(a, c), S_LINE(a), "%s: several analysis plugins implement %s; choose one with analysis_plugin", what,
                         p->analysis_type);
            }
        }
        const config_setting_t *opts = member(c, s, "options", CONFIG_TYPE_GROUP, 0, what, d);
        const config_setting_t *inputs = member(c, s, "inputs", CONFIG_TYPE_GROUP, 0, what, d);
        if (p->analysis) {
            char *w = xasprintf("%s options (analysis %s)", what, p->analysis->desc->name);
            p->analysis_opts = options_from_config(p->analysis->desc->options, opts, NULL, w, c->path, d);
            free(w);
            read_inputs(c, p, inputs, what, d);
        }
        const config_setting_t *acts = member(c, s, "actions", CONFIG_TYPE_LIST, 0, what, d);
        read_routes(c, p, acts, member(c, root, "routing", CONFIG_TYPE_LIST, 0, "configuration", d), what, d);
        const config_setting_t *sch = member(c, s, "schedule", CONFIG_TYPE_STRING, 0, what, d);
        if (sch) {
            cron_expr ce;
            char err[256];
            if (cron_parse(config_setting_get_string(sch), &ce, err, sizeof err) < 0)
                diag_add(d, S_FILE(sch, c), S_LINE(sch), "%s: 'schedule': %s", what, err);
            else p->schedule = xstrdup(config_setting_get_string(sch));
        }
        config_read_pipeline_sched(c, p, s, what, d);
        const config_setting_t *mo = member(c, s, "max_opportunities", CONFIG_TYPE_INT, 0, what, d);
        if (mo) {
            p->max_opportunities = config_setting_get_int64(mo);
            if (p->max_opportunities < 0 || p->max_opportunities > 1000000)
                diag_add(d, S_FILE(mo, c), S_LINE(mo), "%s: 'max_opportunities' = %lld is outside the allowed range 0..1000000", what,
                         (long long)p->max_opportunities);
        }
        const config_setting_t *rt = member(c, s, "retry", CONFIG_TYPE_GROUP, 0, what, d);
        if (rt) {
            char *w = xasprintf("%s retry", what);
            read_retry(c, rt, &p->retry, w, d);
            free(w);
        }
        read_number(c, s, "timeout", 1, 86400, &p->timeout, what, d);
        free(what);
    }
}

/* "a:b" -> each entry relative to the file that set it. */
static char *path_list_relative_to(const char *file, const char *list)
{
    strbuf sb = { 0 };
    char *copy = xstrdup(list), *save = NULL;
    for (char *t = strtok_r(copy, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
        char *p = path_relative_to(file, t);
        sb_printf(&sb, "%s%s", sb.len ? ":" : "", p);
        free(p);
    }
    free(copy);
    return sb_steal(&sb);
}

char *string_setting(revops_config *c, const config_setting_t *g, const char *key, const char *what, diag *d, int is_path)
{
    const config_setting_t *s = member(c, g, key, CONFIG_TYPE_STRING, 0, what, d);
    if (!s) return NULL;
    const char *v = config_setting_get_string(s);
    return is_path ? path_relative_to(S_FILE(s, c), v) : xstrdup(v);
}

/* query_library = "queries.conf": a file of named queries (the shipped
 * config/queries.conf, installed in pkgdatadir).  A setting rather than
 * @include because libconfig 1.5 (Debian 12) prepends the include directory
 * to every @include path, absolute ones too, so
 * `@include "/usr/share/revops/queries.conf"` cannot work there. */
static void read_query_library(revops_config *c, const config_setting_t *root, diag *d)
{
    const config_setting_t *s = member(c, root, "query_library", CONFIG_TYPE_STRING, 0, "configuration", d);
    if (!s) return;
    char *path = path_relative_to(S_FILE(s, c), config_setting_get_string(s));
    char *dir = path_relative_to(path, ".");
    c->library_cfg = xmalloc(sizeof *c->library_cfg);
    config_init(c->library_cfg);
    config_set_include_dir(c->library_cfg, dir);
    free(dir);
    struct stat st;
    if (stat(path, &st) < 0) {
        diag_add(d, S_FILE(s, c), S_LINE(s), "query_library '%s': %s", path, strerror(errno));
    } else if (!config_read_file(c->library_cfg, path)) {
        diag_add(d, config_error_file(c->library_cfg) ? intern_source_file(config_error_file(c->library_cfg), c->path) : path,
                 config_error_line(c->library_cfg), "query_library: %s", config_error_text(c->library_cfg));
    } else {
        c->library = config_root_setting(c->library_cfg);
        for (int i = 0; i < config_setting_length(c->library); i++) {
            const config_setting_t *q = config_setting_get_elem(c->library, (unsigned)i);
            char *w = xasprintf("query_library %s", config_setting_name(q));
            query_setting_ok(c, q, w, d);
            free(w);
        }
    }
    free(path);
}

/* The library is only read while loading: queries are copied, file names interned. */
static void query_library_free(revops_config *c)
{
    if (c->library_cfg) {
        config_destroy(c->library_cfg);
        free(c->library_cfg);
        c->library_cfg = NULL;
    }
    c->library = NULL;
}

static void read_globals(revops_config *c, const config_setting_t *root, diag *d)
{
    static const char *const keys[] = { "plugin_dir", "state_dir", "log", "retry", "timeout", "http", "aws",
                                        "sources", "actions", "pipelines", "queries", "query_library", "knowledge_base",
                                        "models", "classification", "agent", "model_budget", "delivery", "routing",
                                        "parallelism", "daemon", NULL };
    check_keys(c, root, keys, "configuration", d);
    config_read_daemon(c, root, d);
    c->queries = member(c, root, "queries", CONFIG_TYPE_GROUP, 0, "configuration", d);
    read_query_library(c, root, d);
    const config_setting_t *kbs = member(c, root, "knowledge_base", CONFIG_TYPE_STRING, 0, "configuration", d);
    if (kbs) {
        c->kb_path = path_relative_to(S_FILE(kbs, c), config_setting_get_string(kbs));
        char err[512];
        /* Only that it exists and holds documents: indexing waits for
         * whoever searches, not every run's start-up. */
        if (kb_check(c->kb_path, err, sizeof err) < 0) diag_add(d, S_FILE(kbs, c), S_LINE(kbs), "knowledge_base: %s", err);
    }
    for (int i = 0; c->queries && i < config_setting_length(c->queries); i++) {
        const config_setting_t *q = config_setting_get_elem(c->queries, (unsigned)i);
        char *w = xasprintf("queries.%s", config_setting_name(q));
        query_setting_ok(c, q, w, d);
        free(w);
    }
    const config_setting_t *pd = member(c, root, "plugin_dir", CONFIG_TYPE_STRING, 0, "configuration", d);
    if (pd) c->plugin_dir = path_list_relative_to(S_FILE(pd, c), config_setting_get_string(pd));
    c->state_dir = string_setting(c, root, "state_dir", "configuration", d, 1);
    if (!c->state_dir) c->state_dir = xstrdup(REVOPS_STATE_DIR);

    const config_setting_t *log = member(c, root, "log", CONFIG_TYPE_GROUP, 0, "configuration", d);
    if (log) {
        static const char *const lkeys[] = { "level", "format", "output", "facility", NULL };
        static const char *const levels[] = { "error", "warn", "info", "debug", NULL };
        static const char *const formats[] = { "text", "json", NULL };
        check_keys(c, log, lkeys, "log", d);
        const config_setting_t *s = member(c, log, "level", CONFIG_TYPE_STRING, 0, "log", d);
        int v;
        if (s && (v = enum_pick(c, s, levels, "log", "level", d)) >= 0) c->log_level = (revops_log_level)v;
        s = member(c, log, "format", CONFIG_TYPE_STRING, 0, "log", d);
        if (s && (v = enum_pick(c, s, formats, "log", "format", d)) >= 0) c->log_format = (log_format)v;
        static const char *const outputs[] = { "stderr", "syslog", NULL };
        s = member(c, log, "output", CONFIG_TYPE_STRING, 0, "log", d);
        if (s && (v = enum_pick(c, s, outputs, "log", "output", d)) >= 0) c->log_output = (log_output)v;
        s = member(c, log, "facility", CONFIG_TYPE_STRING, 0, "log", d);
        if (s && log_facility_parse(config_setting_get_string(s), &c->log_facility) < 0)
            diag_add(d, S_FILE(s, c), S_LINE(s), "log: 'facility' must be daemon, user or local0..local7, not '%s'",
                     config_setting_get_string(s));
    }
    const config_setting_t *rt = member(c, root, "retry", CONFIG_TYPE_GROUP, 0, "configuration", d);
    if (rt) read_retry(c, rt, &c->retry, "retry", d);
    c->delivery = (delivery_policy){ 7, 20, 300, 6 * 3600 };
    const config_setting_t *dl = member(c, root, "delivery", CONFIG_TYPE_GROUP, 0, "configuration", d);
    if (dl) {
        static const char *const dkeys[] = { "suppress_days", "retry_runs", "retry_backoff", "retry_backoff_max", NULL };
        check_keys(c, dl, dkeys, "delivery", d);
        read_number(c, dl, "suppress_days", 0, 3650, &c->delivery.suppress_days, "delivery", d);
        double runs = c->delivery.retry_runs;
        read_number(c, dl, "retry_runs", 0, 100000, &runs, "delivery", d);
        if (runs != floor(runs)) {
            const config_setting_t *rr = config_setting_get_member(dl, "retry_runs");
            diag_add(d, S_FILE(rr, c), S_LINE(rr), "delivery: 'retry_runs' must be a whole number of runs, not %g", runs);
        }
        c->delivery.retry_runs = (int)runs;
        read_number(c, dl, "retry_backoff", 0, 86400 * 30.0, &c->delivery.retry_backoff, "delivery", d);
        read_number(c, dl, "retry_backoff_max", 0, 86400 * 30.0, &c->delivery.retry_backoff_max, "delivery", d);
    }
    read_number(c, root, "timeout", 1, 86400, &c->timeout, "configuration", d);
    const config_setting_t *aws = member(c, root, "aws", CONFIG_TYPE_GROUP, 0, "configuration", d);
    if (aws) {
        static const char *const akeys[] = { "region", "secretsmanager_endpoint", NULL };
        check_keys(c, aws, akeys, "aws", d);
        char *region = string_setting(c, aws, "region", "aws", d, 0);
        char *endpoint = string_setting(c, aws, "secretsmanager_endpoint", "aws", d, 0);
        aws_configure(region, endpoint);
        free(region);
        free(endpoint);
    }
    const config_setting_t *http = member(c, root, "http", CONFIG_TYPE_GROUP, 0, "configuration", d);
    if (http) {
        static const char *const hkeys[] = { "ca_file", "ca_path", "proxy", "connect_timeout", "timeout", NULL };
        check_keys(c, http, hkeys, "http", d);
        c->ca_file = string_setting(c, http, "ca_file", "http", d, 1);
        c->ca_path = string_setting(c, http, "ca_path", "http", d, 1);
        c->proxy = string_setting(c, http, "proxy", "http", d, 0);
        read_number(c, http, "connect_timeout", 0.1, 600, &c->connect_timeout, "http", d);
        read_number(c, http, "timeout", 0.1, 86400, &c->http_timeout, "http", d);
    }
}

revops_config *config_load(const char *path, diag *d, int *exit_code)
{
    revops_config *c = xcalloc(1, sizeof *c);
    c->path = xstrdup(path);
    c->log_level = REVOPS_LOG_INFO;
    c->log_facility = LOG_DAEMON;
    c->retry = retry_policy_default;
    c->timeout = 900;  /* the spec's Express Workflow timeout: 15 minutes */
    c->connect_timeout = 10;
    c->http_timeout = 60;
    *exit_code = EXIT_CONFIG;

    config_t cfg;
    config_init(&cfg);
    char *dir = path_relative_to(path, ".");
    config_set_include_dir(&cfg, dir);  /* @include "x.conf" is relative to this file */
    free(dir);
    struct stat st;
    if (stat(path, &st) < 0) {
        diag_add(d, path, 0, "cannot read the configuration: %s", strerror(errno));
        *exit_code = EXIT_NOINPUT;
        goto fail;
    }
    if (!config_read_file(&cfg, path)) {
        if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
            diag_add(d, config_error_file(&cfg) ? config_error_file(&cfg) : path, config_error_line(&cfg),
                     "cannot read the configuration (or a file it @includes): %s", strerror(errno ? errno : EIO));
        else if (strncmp(config_error_text(&cfg), "cannot open include file", 24) == 0)
            diag_add(d, config_error_file(&cfg) ? config_error_file(&cfg) : path, config_error_line(&cfg),
                     "@include: %s", config_error_text(&cfg));
        else
            diag_add(d, config_error_file(&cfg) ? config_error_file(&cfg) : path, config_error_line(&cfg),
                     "syntax error: %s", config_error_text(&cfg));
        goto fail;
    }
    const config_setting_t *root = config_root_setting(&cfg);
    read_globals(c, root, d);
    loader_load_path(&c->plugins, plugin_search_path(c->plugin_dir));
    for (size_t i = 0; i < c->plugins.nrefusals; i++) log_error("%s", c->plugins.refusals[i]);
    read_instances(c, root, "sources", REVOPS_KIND_SOURCE, &c->sources, &c->nsources, d);
    read_instances(c, root, "actions", REVOPS_KIND_ACTION, &c->actions, &c->nactions, d);
    read_instances(c, root, "models", REVOPS_KIND_MODEL, &c->models, &c->nmodels, d);
    config_read_classification(c, root, d);
    config_read_agent(c, root, d);
    read_pipelines(c, root, d);
    query_library_free(c);
    /* Setting file names point into cfg; keep them alive as long as c. */
    if (diag_count(d) == 0) {
        *exit_code = 0;
        c->cfg_keep = xmalloc(sizeof cfg);
        memcpy(c->cfg_keep, &cfg, sizeof cfg);
        return c;
    }
fail:
    query_library_free(c);
    config_destroy(&cfg);
    config_free(c);
    return NULL;
}

static void instances_free(conf_instance *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        options_free(v[i].opts);
        for (size_t k = 0; k < v[i].nfields; k++) free(v[i].fields[k].name);
        free(v[i].fields);
    }
    free(v);
}

void config_free(revops_config *c)
{
    if (!c) return;
    instances_free(c->sources, c->nsources);
    instances_free(c->actions, c->nactions);
    instances_free(c->models, c->nmodels);
    config_model_free(c);
    for (size_t i = 0; i < c->npipelines; i++) {
        conf_pipeline *p = &c->pipelines[i];
        free(p->name);
        free(p->analysis_type);
        options_free(p->analysis_opts);
        for (size_t k = 0; k < p->ninputs; k++) {
            free(p->inputs[k].name);
            free(p->inputs[k].query);
        }
        free(p->inputs);
        for (size_t k = 0; k < p->nroutes; k++) route_free(&p->routes[k]);
        free(p->routes);
        free(p->schedule);
    }
    config_free_daemon(c);
    free(c->pipelines);
    plugin_set_free(&c->plugins);
    if (c->cfg_keep) {
        config_destroy(c->cfg_keep);
        free(c->cfg_keep);
    }
    free(c->plugin_dir);
    free(c->state_dir);
    free(c->kb_path);
    free(c->ca_file);
    free(c->ca_path);
    free(c->proxy);
    free(c->path);
    free(c);
}

conf_pipeline *config_pipeline(revops_config *c, const char *name)
{
    for (size_t i = 0; i < c->npipelines; i++)
        if (strcmp(c->pipelines[i].name, name) == 0) return &c->pipelines[i];
    return NULL;
}

conf_instance *config_source(revops_config *c, const char *name)
{
    return find_instance(c->sources, c->nsources, name);
}

conf_instance *config_model(revops_config *c, const char *name)
{
    return find_instance(c->models, c->nmodels, name);
}

char *config_read_plugin_dir(const char *path)
{
    config_t cfg;
    config_init(&cfg);
    char *dir = NULL;
    const char *v;
    char *inc = path_relative_to(path, ".");
    config_set_include_dir(&cfg, inc);
    free(inc);
    if (config_read_file(&cfg, path) && config_lookup_string(&cfg, "plugin_dir", &v)) {
        const config_setting_t *s = config_lookup(&cfg, "plugin_dir");
        dir = path_list_relative_to(intern_source_file(config_setting_source_file(s), path), v);
    }
    config_destroy(&cfg);
    return dir;
}
