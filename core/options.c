/* Declarative plugin options (Fluent Bit's config_map idea, with
 * libconfig's line numbers): the core checks every setting of an instance
 * against the plugin's table and hands the plugin typed values.  Plugins
 * never see libconfig. */
#include "config.h"
#include "core.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *option_type_name(revops_option_type t)
{
    switch (t) {
    case REVOPS_OPT_STRING: return "string";
    case REVOPS_OPT_INT: return "integer";
    case REVOPS_OPT_REAL: return "number";
    case REVOPS_OPT_BOOL: return "boolean";
    case REVOPS_OPT_ENUM: return "enum";
    case REVOPS_OPT_LIST: return "list of strings";
    case REVOPS_OPT_DATE: return "date (YYYY-MM-DD)";
    case REVOPS_OPT_PATH: return "path";
    case REVOPS_OPT_TEMPLATE: return "template";
    }
    return "unknown";
}

static const char *setting_type_name(int t)
{
    switch (t) {
    case CONFIG_TYPE_GROUP: return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a number";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "a boolean";
    case CONFIG_TYPE_ARRAY: return "an array";
    case CONFIG_TYPE_LIST: return "a list";
    }
    return "nothing";
}

/* Edit distance, to suggest "database" for "databse". */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t sub = prev + (a[i - 1] != b[j - 1]);
            size_t del = row[j] + 1, ins = row[j - 1] + 1;
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            prev = cur;
        }
    }
    return row[lb];
}

static int enum_index(const revops_option_def *def, const char *v)
{
    for (int i = 0; def->enum_values && def->enum_values[i]; i++)
        if (strcmp(def->enum_values[i], v) == 0) return i;
    return -1;
}

static char *enum_list(const revops_option_def *def)
{
    strbuf sb = { 0 };
    for (int i = 0; def->enum_values && def->enum_values[i]; i++)
        sb_printf(&sb, "%s%s", i ? ", " : "", def->enum_values[i]);
    return sb_steal(&sb);
}

static int range_ok(const revops_option_def *def, double v)
{
    return !(def->min < def->max) || (v >= def->min && v <= def->max);
}

/* Parse a value written as text (defaults) into ov; 0 or -1 + err. */
static int value_from_text(opt_value *ov, const char *text, char *err, size_t errlen)
{
    const revops_option_def *def = ov->def;
    char *end;
    switch (def->type) {
    case REVOPS_OPT_STRING:
    case REVOPS_OPT_PATH:
        ov->str = xstrdup(text);
        return 0;
    case REVOPS_OPT_TEMPLATE:
        if (template_check(text, err, errlen) < 0) return -1;
        ov->str = xstrdup(text);
        return 0;
    case REVOPS_OPT_DATE:
        if (date_days(text) == INT64_MIN || strlen(text) != 10) {
            snprintf(err, errlen, "'%s' is not a date (YYYY-MM-DD)", text);
            return -1;
        }
        ov->str = xstrdup(text);
        return 0;
    case REVOPS_OPT_ENUM:
        if (enum_index(def, text) < 0) {
            char *l = enum_list(def);
            snprintf(err, errlen, "'%s' is not one of: %s", text, l);
            free(l);
            return -1;
        }
        ov->str = xstrdup(text);
        return 0;
    case REVOPS_OPT_INT:
        errno = 0;
        ov->i = strtoll(text, &end, 10);
        if (errno || end == text || *end) {
            snprintf(err, errlen, "'%s' is not an integer", text);
            return -1;
        }
        ov->r = (double)ov->i;
        return 0;
    case REVOPS_OPT_REAL:
        errno = 0;
        ov->r = strtod(text, &end);
        if (errno || end == text || *end || !isfinite(ov->r)) {
            snprintf(err, errlen, "'%s' is not a number", text);
            return -1;
        }
        return 0;
    case REVOPS_OPT_BOOL:
        if (!strcasecmp(text, "true") || !strcmp(text, "1")) ov->b = 1;
        else if (!strcasecmp(text, "false") || !strcmp(text, "0")) ov->b = 0;
        else {
            snprintf(err, errlen, "'%s' is not true or false", text);
            return -1;
        }
        return 0;
    case REVOPS_OPT_LIST: {
        char *copy = xstrdup(text), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            ov->list = xrealloc(ov->list, (ov->nlist + 1) * sizeof *ov->list);
            ov->list[ov->nlist++] = xstrdup(t);
        }
        free(copy);
        return 0;
    }
    }
    snprintf(err, errlen, "option has an unknown type %d", (int)def->type);
    return -1;
}

int option_default_valid(const revops_option_def *def, char *err, size_t errlen)
{
    if (!def->default_value) return 0;
    opt_value ov = { .def = def };
    int rc = value_from_text(&ov, def->default_value, err, errlen);
    if (rc == 0 && (def->type == REVOPS_OPT_INT || def->type == REVOPS_OPT_REAL) &&
        !range_ok(def, def->type == REVOPS_OPT_INT ? (double)ov.i : ov.r)) {
        snprintf(err, errlen, "default %s is outside %g..%g", def->default_value, def->min, def->max);
        rc = -1;
    }
    free(ov.str);
    for (size_t i = 0; i < ov.nlist; i++) free(ov.list[i]);
    free(ov.list);
    return rc;
}

/* Take a libconfig setting into ov; on a mismatch add a diagnostic. */
static void value_from_setting(opt_value *ov, const config_setting_t *s, const char *what,
                               const char *config_path, diag *d)
{
    const revops_option_def *def = ov->def;
    const char *file = intern_source_file(config_setting_source_file(s), config_path);
    int line = (int)config_setting_source_line(s);
    int t = config_setting_type(s);
    char err[512];
    ov->file = file;
    ov->line = line;
#define WRONG_TYPE()                                                                              \
    do {                                                                                          \
        diag_add(d, file, line, "%s: option '%s' must be %s %s, not %s", what, def->name,        \
                 def->type == REVOPS_OPT_INT ? "an" : "a", option_type_name(def->type),          \
                 setting_type_name(t));                                                           \
        return;                                                                                   \
    } while (0)
    switch (def->type) {
    case REVOPS_OPT_STRING:
    case REVOPS_OPT_PATH:
    case REVOPS_OPT_DATE:
    case REVOPS_OPT_ENUM:
    case REVOPS_OPT_TEMPLATE:
        if (t != CONFIG_TYPE_STRING) WRONG_TYPE();
        if (def->type == REVOPS_OPT_PATH) {
            const char *v = config_setting_get_string(s);
            /* "" and "-" (standard output) are not file names. */
            ov->str = v[0] && strcmp(v, "-") ? path_relative_to(file, v) : xstrdup(v);
            break;
        }
        if (value_from_text(ov, config_setting_get_string(s), err, sizeof err) < 0)
            diag_add(d, file, line, "%s: option '%s': %s", what, def->name, err);
        break;
    case REVOPS_OPT_INT:
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) WRONG_TYPE();
        ov->i = config_setting_get_int64(s);
        ov->r = (double)ov->i;
        if (!range_ok(def, (double)ov->i))
            diag_add(d, file, line, "%s: option '%s' = %lld is outside the allowed range %g..%g",
                     what, def->name, (long long)ov->i, def->min, def->max);
        break;
    case REVOPS_OPT_REAL:
        if (t == CONFIG_TYPE_FLOAT) ov->r = config_setting_get_float(s);
        else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) ov->r = (double)config_setting_get_int64(s);
        else WRONG_TYPE();
        if (!range_ok(def, ov->r))
            diag_add(d, file, line, "%s: option '%s' = %g is outside the allowed range %g..%g",
                     what, def->name, ov->r, def->min, def->max);
        break;
    case REVOPS_OPT_BOOL:
        if (t != CONFIG_TYPE_BOOL) WRONG_TYPE();
        ov->b = config_setting_get_bool(s);
        break;
    case REVOPS_OPT_LIST:
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) WRONG_TYPE();
        for (int i = 0; i < config_setting_length(s); i++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            if (config_setting_type(e) != CONFIG_TYPE_STRING) {
                diag_add(d, file, line, "%s: option '%s': element %d must be a string, not %s",
                         what, def->name, i + 1, setting_type_name(config_setting_type(e)));
                continue;
            }
            ov->list = xrealloc(ov->list, (ov->nlist + 1) * sizeof *ov->list);
            ov->list[ov->nlist++] = xstrdup(config_setting_get_string(e));
        }
        break;
    }
#undef WRONG_TYPE
    ov->is_set = ov->has_value = 1;
    if (def->sensitive && ov->str && !secret_is_reference(ov->str))
        log_warn("%s:%d: %s: option '%s' holds a literal secret; prefer env:NAME or file:/path",
                 file, line, what, def->name);
    if (def->sensitive && ov->str && secret_is_reference(ov->str) && strncmp(ov->str, "env:", 4) == 0 &&
        !(getenv(ov->str + 4) && *getenv(ov->str + 4)))
        diag_add(d, file, line, "%s: option '%s': environment variable %s is not set or empty", what,
                 def->name, ov->str + 4);
    if (def->sensitive && ov->str && strncmp(ov->str, "aws-secretsmanager:", 19) == 0) {
        aws_credentials cred;
        if (!aws_region())
            diag_add(d, file, line, "%s: option '%s': %s needs an AWS region (aws.region, or AWS_REGION)", what, def->name, ov->str);
        if (aws_credentials_env(&cred) < 0)
            diag_add(d, file, line, "%s: option '%s': %s needs AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
                     what, def->name, ov->str);
    }
}

static int is_reserved(const char *const *reserved, const char *name)
{
    for (size_t i = 0; reserved && reserved[i]; i++)
        if (strcmp(reserved[i], name) == 0) return 1;
    return 0;
}

static void unknown_key(const revops_option_def *defs, const char *const *reserved, const char *key,
                        const char *what, const char *file, int line, diag *d)
{
    strbuf allowed = { 0 };
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; reserved && reserved[i]; i++) {
        sb_printf(&allowed, "%s%s", allowed.len ? ", " : "", reserved[i]);
        size_t e = edit_distance(key, reserved[i]);
        if (e < best_d) best_d = e, best = reserved[i];
    }
    for (size_t i = 0; defs && defs[i].name; i++) {
        sb_printf(&allowed, "%s%s", allowed.len ? ", " : "", defs[i].name);
        size_t e = edit_distance(key, defs[i].name);
        if (e < best_d) best_d = e, best = defs[i].name;
    }
    if (best)
        diag_add(d, file, line, "%s: unknown option '%s' (did you mean '%s'?); allowed: %s", what, key,
                 best, allowed.buf ? allowed.buf : "none");
    else
        diag_add(d, file, line, "%s: unknown option '%s'; allowed: %s", what, key,
                 allowed.buf ? allowed.buf : "none");
    sb_free(&allowed);
}

revops_options *options_from_config(const revops_option_def *defs, const config_setting_t *group,
                                    const char *const *reserved, const char *what,
                                    const char *config_path, diag *d)
{
    revops_options *o = xcalloc(1, sizeof *o);
    for (size_t i = 0; defs && defs[i].name; i++) o->n++;
    o->v = xcalloc(o->n, sizeof *o->v);
    const char *gfile = group ? intern_source_file(config_setting_source_file(group), config_path) : config_path;
    int gline = group ? (int)config_setting_source_line(group) : 0;

    if (group) {
        for (int k = 0; k < config_setting_length(group); k++) {
            const config_setting_t *s = config_setting_get_elem(group, (unsigned)k);
            const char *key = config_setting_name(s);
            if (!key || is_reserved(reserved, key)) continue;
            size_t i;
            for (i = 0; i < o->n && strcmp(defs[i].name, key) != 0; i++) {}
            const char *f = intern_source_file(config_setting_source_file(s), config_path);
            if (i == o->n) {
                unknown_key(defs, reserved, key, what, f, (int)config_setting_source_line(s), d);
                continue;
            }
            o->v[i].def = &defs[i];
            value_from_setting(&o->v[i], s, what, config_path, d);
        }
    }
    for (size_t i = 0; i < o->n; i++) {
        opt_value *ov = &o->v[i];
        ov->def = &defs[i];
        if (ov->is_set) continue;
        if (defs[i].required) {
            diag_add(d, gfile, gline, "%s: required option '%s' (%s) is missing: %s", what,
                     defs[i].name, option_type_name(defs[i].type), defs[i].help ? defs[i].help : "");
            continue;
        }
        if (defs[i].default_value) {
            char err[256];
            if (value_from_text(ov, defs[i].default_value, err, sizeof err) == 0) ov->has_value = 1;
            if (ov->has_value && defs[i].type == REVOPS_OPT_PATH && ov->str[0] && strcmp(ov->str, "-"))
            {
                char *abs = path_relative_to(config_path, ov->str);
                free(ov->str);
                ov->str = abs;
            }
        }
    }
    return o;
}

void options_free(revops_options *o)
{
    if (!o) return;
    for (size_t i = 0; i < o->n; i++) {
        if (o->v[i].def && o->v[i].def->sensitive) secret_wipe_free(o->v[i].str);
        else free(o->v[i].str);
        for (size_t j = 0; j < o->v[i].nlist; j++) free(o->v[i].list[j]);
        free(o->v[i].list);
    }
    free(o->v);
    free(o);
}

const opt_value *options_find(const revops_options *o, const char *name)
{
    for (size_t i = 0; o && i < o->n; i++)
        if (strcmp(o->v[i].def->name, name) == 0) return &o->v[i];
    return NULL;
}

int options_resolve_secrets(revops_options *o, const char *what, char *err, size_t errlen)
{
    for (size_t i = 0; i < o->n; i++) {
        opt_value *ov = &o->v[i];
        if (!ov->def->sensitive || !ov->str || ov->resolved || !secret_is_reference(ov->str)) continue;
        char *secret = NULL, why[384];
        if (secret_resolve(ov->str, &secret, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s: option '%s': %s", what, ov->def->name, why);
            return -1;
        }
        free(ov->str);
        ov->str = secret;
        ov->resolved = 1;
    }
    return 0;
}
