/*
 * Query text as configured -> query text as sent.
 *
 * Two jobs, both about keeping queries in config rather than in C:
 *
 *  - dialects: an input's query (or a named query in the top-level `queries`
 *    group) may be one string, or a group with one string per SQL dialect
 *    ({ sqlite = "..."; postgres = "..."; firebolt = "..."; }).  The source
 *    plugin declares its dialect (revops_source_vtable.dialect, ABI 1.2), and
 *    the core picks that member, so one pipeline runs unchanged on SQLite,
 *    PostgreSQL and Firebolt — only date arithmetic differs between them.
 *
 *  - parameters: `${NAME}` is replaced by the pipeline's analysis option NAME
 *    rendered as an SQL literal, so the date window a query filters on is the
 *    one the analysis computes with (as_of).  The core quotes; a value never
 *    reaches SQL unquoted, and a sensitive option is refused outright.
 */
#include "config.h"
#include "core.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *source_dialect(const plugin_entry *pe)
{
    if (!pe || pe->desc->kind != REVOPS_KIND_SOURCE) return NULL;
    /* The member exists only in vtables built against ABI 1.2 or later. */
    if (pe->desc->abi_major == 1 && pe->desc->abi_minor < 2) return NULL;
    const char *d = pe->desc->vt.source->dialect;
    return d && *d ? d : NULL;
}

static void sql_string(strbuf *sb, const char *s)
{
    sb_puts(sb, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '\'') sb_puts(sb, "''");
        else sb_add(sb, p, 1);
    }
    sb_puts(sb, "'");
}

/* One option as an SQL literal; -1 with err when it cannot be one. */
static int render_option(strbuf *sb, const opt_value *v, double now, char *err, size_t errlen)
{
    const revops_option_def *def = v->def;
    if (def->sensitive) {
        snprintf(err, errlen, "option '%s' is sensitive and is never put into a query", def->name);
        return -1;
    }
    if (!v->has_value) {
        if (def->type == REVOPS_OPT_DATE) {
            /* Analyses read an unset date (as_of) as the run's date; the
             * query must use the same one. */
            char day[11];
            int64_t days = (int64_t)(now / 86400.0);
            if ((double)days * 86400.0 > now) days--;
            date_format(days, day);
            sql_string(sb, day);
            return 0;
        }
        snprintf(err, errlen, "option '%s' has no value (set it in the pipeline's options)", def->name);
        return -1;
    }
    switch (def->type) {
    case REVOPS_OPT_INT: sb_printf(sb, "%" PRId64, v->i); break;
    case REVOPS_OPT_REAL: sb_printf(sb, "%.17g", v->r); break;
    case REVOPS_OPT_BOOL: sb_puts(sb, v->b ? "TRUE" : "FALSE"); break;
    case REVOPS_OPT_LIST:
        /* For IN (...): an empty list is NULL, which matches nothing. */
        if (!v->nlist) sb_puts(sb, "NULL");
        for (size_t i = 0; i < v->nlist; i++) {
            if (i) sb_puts(sb, ", ");
            sql_string(sb, v->list[i]);
        }
        break;
    default: sql_string(sb, v->str ? v->str : ""); break;
    }
    return 0;
}

int query_render(const char *text, const revops_options *opts, double now, char **out, char *err, size_t errlen)
{
    strbuf sb = { 0 };
    const char *p = text;
    while (*p) {
        const char *d = strchr(p, '$');
        if (!d) { sb_puts(&sb, p); break; }
        sb_add(&sb, p, (size_t)(d - p));
        if (d[1] == '$' && d[2] == '{') {           /* "$${" is a literal "${" */
            sb_puts(&sb, "${");
            p = d + 3;
            continue;
        }
        if (d[1] != '{') {                          /* PostgreSQL's $1, $$ ... pass */
            sb_add(&sb, d, 1);
            p = d + 1;
            continue;
        }
        const char *name = d + 2, *end = strchr(name, '}');
        size_t n = end ? (size_t)(end - name) : 0;
        if (!end || !n || n >= 64 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != n) {
            snprintf(err, errlen, "'%.*s' at offset %zu is not a parameter: write ${option_name} (or $${ for a literal ${)",
                     (int)(end ? (size_t)(end - d) + 1 : strnlen(d, 20)), d, (size_t)(d - text));
            sb_free(&sb);
            return -1;
        }
        char key[64];
        memcpy(key, name, n);
        key[n] = '\0';
        const opt_value *v = opts ? options_find(opts, key) : NULL;
        if (!v) {
            strbuf names = { 0 };
            for (size_t i = 0; opts && i < opts->n; i++)
                if (!opts->v[i].def->sensitive) sb_printf(&names, "%s%s", names.len ? ", " : "", opts->v[i].def->name);
            snprintf(err, errlen, "${%s}: the analysis has no option '%s' (options: %s)", key, key,
                     names.len ? names.buf : "none");
            sb_free(&names);
            sb_free(&sb);
            return -1;
        }
        if (render_option(&sb, v, now, err, errlen) < 0) {
            sb_free(&sb);
            return -1;
        }
        p = end + 1;
    }
    *out = sb.buf ? sb_steal(&sb) : xstrdup("");
    return 0;
}
