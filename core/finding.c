/* Findings: the core's own copy of what an analysis emitted, its
 * fingerprint and its JSON form.  The fingerprint hashes only what makes a
 * finding the same finding (analysis, account, opportunity, category), never
 * its score, so a sink can recognise it across runs. */
#include "config.h"
#include "core.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

revops_finding *finding_copy(const revops_finding *f)
{
    revops_finding *c = xcalloc(1, sizeof *c);
    c->analysis = dup_or_null(f->analysis);
    c->account_id = dup_or_null(f->account_id);
    c->account_name = dup_or_null(f->account_name);
    c->opportunity_id = dup_or_null(f->opportunity_id && *f->opportunity_id ? f->opportunity_id : NULL);
    c->category = dup_or_null(f->category);
    c->owner = dup_or_null(f->owner && *f->owner ? f->owner : NULL);
    c->priority = f->priority;
    c->score = f->score;
    c->confidence = f->confidence;
    c->title = dup_or_null(f->title);
    c->description = dup_or_null(f->description);
    c->nsignals = f->nsignals;
    revops_signal *sig = xcalloc(f->nsignals, sizeof *sig);
    for (size_t i = 0; i < f->nsignals; i++) {
        sig[i] = f->signals[i];
        sig[i].name = dup_or_null(f->signals[i].name);
        sig[i].evidence = dup_or_null(f->signals[i].evidence);
    }
    c->signals = sig;
    c->nactions = f->nactions;
    const char **acts = xcalloc(f->nactions, sizeof *acts);
    for (size_t i = 0; i < f->nactions; i++) acts[i] = dup_or_null(f->recommended_actions[i]);
    c->recommended_actions = acts;
    finding_fingerprint(c);
    return c;
}

void finding_free(revops_finding *f)
{
    if (!f) return;
    free((char *)f->analysis);
    free((char *)f->account_id);
    free((char *)f->account_name);
    free((char *)f->opportunity_id);
    free((char *)f->category);
    free((char *)f->owner);
    free((char *)f->title);
    free((char *)f->description);
    for (size_t i = 0; i < f->nsignals; i++) {
        free((char *)f->signals[i].name);
        free((char *)f->signals[i].evidence);
    }
    free((void *)f->signals);
    for (size_t i = 0; i < f->nactions; i++) free((char *)f->recommended_actions[i]);
    free((void *)f->recommended_actions);
    finding_clear_narrative(f);
    free(f);
}

void finding_clear_narrative(revops_finding *f)
{
    free((char *)f->narrative);
    for (size_t i = 0; i < f->nnext_steps; i++) free((char *)f->next_steps[i]);
    free((void *)f->next_steps);
    free((char *)f->narrative_model);
    f->narrative = NULL;
    f->next_steps = NULL;
    f->nnext_steps = 0;
    f->narrative_model = NULL;
}

void finding_fingerprint(revops_finding *f)
{
    strbuf sb = { 0 };
    /* NUL separators: "A1","ab","c" and "A1","a","bc" must differ. */
    const char *parts[4] = { f->analysis, f->account_id, f->opportunity_id ? f->opportunity_id : "", f->category };
    for (int i = 0; i < 4; i++) sb_add(&sb, parts[i], strlen(parts[i]) + 1);
    sha256_hex(sb.buf, sb.len, f->fingerprint);
    sb_free(&sb);
}

static int unit_interval(double v)
{
    return isfinite(v) && v >= 0.0 && v <= 1.0;
}

int finding_validate(const revops_finding *f, const char *analysis, char *err, size_t errlen)
{
    if (!f) return snprintf(err, errlen, "no finding"), -1;
    if (!f->analysis || !analysis || strcmp(f->analysis, analysis) != 0)
        return snprintf(err, errlen, "analysis is '%s' but this pipeline runs %s", f->analysis ? f->analysis : "(none)",
                        analysis ? analysis : "?"), -1;
    if (!f->account_id || !*f->account_id) return snprintf(err, errlen, "account_id is missing"), -1;
    if (!f->category || !*f->category) return snprintf(err, errlen, "category is missing"), -1;
    if (!f->title || !*f->title) return snprintf(err, errlen, "title is missing"), -1;
    if ((int)f->priority < REVOPS_PRIORITY_LOW || (int)f->priority > REVOPS_PRIORITY_CRITICAL)
        return snprintf(err, errlen, "priority %d is not low..critical", (int)f->priority), -1;
    if (!unit_interval(f->score)) return snprintf(err, errlen, "score %g is outside 0..1", f->score), -1;
    if (!unit_interval(f->confidence)) return snprintf(err, errlen, "confidence %g is outside 0..1", f->confidence), -1;
    if (f->nsignals && !f->signals) return snprintf(err, errlen, "nsignals is set but signals is NULL"), -1;
    for (size_t i = 0; i < f->nsignals; i++)
        if (!f->signals[i].name || !*f->signals[i].name)
            return snprintf(err, errlen, "signal #%zu has no name", i + 1), -1;
    if (f->nactions && !f->recommended_actions)
        return snprintf(err, errlen, "nactions is set but recommended_actions is NULL"), -1;
    for (size_t i = 0; i < f->nactions; i++)
        if (!f->recommended_actions[i]) return snprintf(err, errlen, "recommended action #%zu is NULL", i + 1), -1;
    return 0;
}

static json_object *str_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static json_object *num(double v)
{
    return json_number(v, 4);
}

json_object *finding_to_json(const revops_finding *f)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "fingerprint", json_object_new_string(f->fingerprint));
    json_object_object_add(o, "analysis", str_or_null(f->analysis));
    json_object_object_add(o, "account_id", str_or_null(f->account_id));
    json_object_object_add(o, "account_name", str_or_null(f->account_name));
    json_object_object_add(o, "opportunity_id", str_or_null(f->opportunity_id));
    json_object_object_add(o, "category", str_or_null(f->category));
    if (f->owner) json_object_object_add(o, "owner", json_object_new_string(f->owner));
    json_object_object_add(o, "priority", json_object_new_string(revops_priority_name(f->priority)));
    json_object_object_add(o, "score", num(f->score));
    json_object_object_add(o, "confidence", num(f->confidence));
    json_object_object_add(o, "title", str_or_null(f->title));
    json_object_object_add(o, "description", str_or_null(f->description));
    json_object *sigs = json_object_new_array();
    for (size_t i = 0; i < f->nsignals; i++) {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "name", str_or_null(f->signals[i].name));
        json_object_object_add(s, "value", num(f->signals[i].value));
        json_object_object_add(s, "threshold", num(f->signals[i].threshold));
        json_object_object_add(s, "weight", num(f->signals[i].weight));
        json_object_object_add(s, "evidence", str_or_null(f->signals[i].evidence));
        json_object_array_add(sigs, s);
    }
    json_object_object_add(o, "signals", sigs);
    json_object *acts = json_object_new_array();
    for (size_t i = 0; i < f->nactions; i++) json_object_array_add(acts, json_object_new_string(f->recommended_actions[i]));
    json_object_object_add(o, "recommended_actions", acts);
    json_object_object_add(o, "partial", json_object_new_boolean(f->partial));
    if (f->narrative) {
        json_object *n = json_object_new_object();
        json_object_object_add(n, "summary", json_object_new_string(f->narrative));
        json_object *steps = json_object_new_array();
        for (size_t i = 0; i < f->nnext_steps; i++) json_object_array_add(steps, json_object_new_string(f->next_steps[i]));
        json_object_object_add(n, "next_steps", steps);
        if (f->narrative_model) json_object_object_add(n, "model", json_object_new_string(f->narrative_model));
        json_object_object_add(o, "narrative", n);
    }
    return o;
}

char *finding_json_string(const revops_finding *f)
{
    json_object *o = finding_to_json(f);
    char *s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

int finding_cmp(const void *a, const void *b)
{
    const revops_finding *x = *(revops_finding *const *)a, *y = *(revops_finding *const *)b;
    if (x->priority != y->priority) return x->priority > y->priority ? -1 : 1;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    int c = strcmp(x->account_id, y->account_id);
    return c ? c : strcmp(x->fingerprint, y->fingerprint);
}

int priority_from_name(const char *name)
{
    for (int i = REVOPS_PRIORITY_LOW; i <= REVOPS_PRIORITY_CRITICAL; i++)
        if (!strcmp(name, revops_priority_name((revops_priority)i))) return i;
    return -1;
}

static char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) return NULL;
    return xstrdup(json_object_get_string(v));
}

static double jnum(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : 0.0;
}

/* The outbox stores each routed finding as finding_to_json wrote it; a
 * later run rebuilds it from that to deliver what this run decided to send.
 * The fingerprint is recomputed and must match: a row that does not is
 * reported, never delivered as something else. */
revops_finding *finding_from_json(const char *json, char *err, size_t n)
{
    json_object *o = json_tokener_parse(json ? json : "");
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        snprintf(err, n, "stored finding is not a JSON object");
        return NULL;
    }
    revops_finding *f = xcalloc(1, sizeof *f);
    f->analysis = jstr(o, "analysis");
    f->account_id = jstr(o, "account_id");
    f->account_name = jstr(o, "account_name");
    f->opportunity_id = jstr(o, "opportunity_id");
    f->category = jstr(o, "category");
    f->owner = jstr(o, "owner");
    f->title = jstr(o, "title");
    f->description = jstr(o, "description");
    f->score = jnum(o, "score");
    f->confidence = jnum(o, "confidence");
    char *pr = jstr(o, "priority");
    int p = pr ? priority_from_name(pr) : -1;
    free(pr);
    f->priority = p < 0 ? REVOPS_PRIORITY_LOW : (revops_priority)p;
    json_object *v;
    if (json_object_object_get_ex(o, "signals", &v) && json_object_is_type(v, json_type_array)) {
        f->nsignals = json_object_array_length(v);
        revops_signal *sig = xcalloc(f->nsignals ? f->nsignals : 1, sizeof *sig);
        for (size_t i = 0; i < f->nsignals; i++) {
            json_object *s = json_object_array_get_idx(v, i);
            sig[i].name = jstr(s, "name");
            sig[i].value = jnum(s, "value");
            sig[i].threshold = jnum(s, "threshold");
            sig[i].weight = jnum(s, "weight");
            sig[i].evidence = jstr(s, "evidence");
        }
        f->signals = sig;
    }
    if (json_object_object_get_ex(o, "recommended_actions", &v) && json_object_is_type(v, json_type_array)) {
        f->nactions = json_object_array_length(v);
        const char **acts = xcalloc(f->nactions ? f->nactions : 1, sizeof *acts);
        for (size_t i = 0; i < f->nactions; i++) acts[i] = xstrdup(json_object_get_string(json_object_array_get_idx(v, i)));
        f->recommended_actions = acts;
    }
    if (json_object_object_get_ex(o, "partial", &v)) f->partial = json_object_get_boolean(v);
    if (json_object_object_get_ex(o, "narrative", &v) && json_object_is_type(v, json_type_object)) {
        f->narrative = jstr(v, "summary");
        f->narrative_model = jstr(v, "model");
        json_object *steps;
        if (json_object_object_get_ex(v, "next_steps", &steps) && json_object_is_type(steps, json_type_array)) {
            f->nnext_steps = json_object_array_length(steps);
            const char **st = xcalloc(f->nnext_steps ? f->nnext_steps : 1, sizeof *st);
            for (size_t i = 0; i < f->nnext_steps; i++) st[i] = xstrdup(json_object_get_string(json_object_array_get_idx(steps, i)));
            f->next_steps = st;
        }
    }
    char *fp = jstr(o, "fingerprint");
    json_object_put(o);
    char why[256];
    if (finding_validate(f, f->analysis, why, sizeof why) < 0) {
        snprintf(err, n, "stored finding %.12s is invalid: %s", fp ? fp : "?", why);
        free(fp);
        finding_free(f);
        return NULL;
    }
    finding_fingerprint(f);
    if (!fp || strcmp(fp, f->fingerprint) != 0) {
        snprintf(err, n, "stored finding %.12s does not match its own fingerprint", fp ? fp : "?");
        free(fp);
        finding_free(f);
        return NULL;
    }
    free(fp);
    return f;
}
