/* A JSON Schema checker for what a model answers: the subset our schemas
 * use (type, properties, required, additionalProperties: false, items,
 * minItems, maxItems, minLength, maxLength, enum, minimum, maximum).  A
 * keyword outside that subset is an error in our schema, not ignored, so a
 * schema cannot silently check less than it says.  Errors name the JSON path
 * of the first offending value ("$.narratives[2].summary"). */
#include "config.h"
#include "core.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <string.h>

static const char *const known_keywords[] = { "type", "properties", "required", "additionalProperties", "items",
                                              "minItems", "maxItems", "minLength", "maxLength", "enum", "minimum",
                                              "maximum", "description", "$schema", "title", NULL };

static int type_is(json_object *v, const char *t)
{
    json_type jt = json_object_get_type(v);
    if (!strcmp(t, "object")) return jt == json_type_object;
    if (!strcmp(t, "array")) return jt == json_type_array;
    if (!strcmp(t, "string")) return jt == json_type_string;
    if (!strcmp(t, "integer")) return jt == json_type_int;
    if (!strcmp(t, "number")) return jt == json_type_int || jt == json_type_double;
    if (!strcmp(t, "boolean")) return jt == json_type_boolean;
    if (!strcmp(t, "null")) return jt == json_type_null || v == NULL;
    return 0;
}

/* UTF-8 characters, which is what JSON Schema's lengths count. */
static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...) REVOPS_PRINTF(4, 5);
static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s: %s", path, msg);
    return -1;
}

static int check(json_object *schema, json_object *v, const char *path, char *err, size_t errlen)
{
    json_object *k;
    json_object_object_foreach(schema, kw, kwval) {
        (void)kwval;
        int known = 0;
        for (size_t i = 0; known_keywords[i]; i++) known |= !strcmp(kw, known_keywords[i]);
        if (!known) return fail(err, errlen, path, "the schema uses '%s', which this checker does not implement", kw);
    }
    if (json_object_object_get_ex(schema, "type", &k)) {
        int ok = 0;
        if (json_object_is_type(k, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(k); i++)
                ok |= type_is(v, json_object_get_string(json_object_array_get_idx(k, i)));
        } else {
            ok = type_is(v, json_object_get_string(k));
        }
        if (!ok) {
            snprintf(err, errlen, "%s: must be of type %s", path, json_object_to_json_string(k));
            return -1;
        }
    }
    if (json_object_object_get_ex(schema, "enum", &k)) {
        int ok = 0;
        for (size_t i = 0; i < json_object_array_length(k); i++)
            ok |= json_object_equal(v, json_object_array_get_idx(k, i));
        if (!ok) {
            snprintf(err, errlen, "%s: must be one of %s", path, json_object_to_json_string(k));
            return -1;
        }
    }
    json_type jt = json_object_get_type(v);
    if (jt == json_type_string) {
        size_t l = utf8_len(json_object_get_string(v));
        if (json_object_object_get_ex(schema, "minLength", &k) && (long long)l < json_object_get_int64(k))
            return fail(err, errlen, path, "is shorter than %lld characters", (long long)json_object_get_int64(k));
        if (json_object_object_get_ex(schema, "maxLength", &k) && (long long)l > json_object_get_int64(k))
            return fail(err, errlen, path, "is longer than %lld characters", (long long)json_object_get_int64(k));
    }
    if (jt == json_type_int || jt == json_type_double) {
        double d = json_object_get_double(v);
        if (json_object_object_get_ex(schema, "minimum", &k) && d < json_object_get_double(k)) {
            snprintf(err, errlen, "%s: is below the minimum %g", path, json_object_get_double(k));
            return -1;
        }
        if (json_object_object_get_ex(schema, "maximum", &k) && d > json_object_get_double(k)) {
            snprintf(err, errlen, "%s: is above the maximum %g", path, json_object_get_double(k));
            return -1;
        }
    }
    if (jt == json_type_array) {
        long long n = (long long)json_object_array_length(v);
        if (json_object_object_get_ex(schema, "minItems", &k) && n < json_object_get_int64(k))
            return fail(err, errlen, path, "has fewer than %lld items", (long long)json_object_get_int64(k));
        if (json_object_object_get_ex(schema, "maxItems", &k) && n > json_object_get_int64(k))
            return fail(err, errlen, path, "has more than %lld items", (long long)json_object_get_int64(k));
        if (json_object_object_get_ex(schema, "items", &k)) {
            for (long long i = 0; i < n; i++) {
                char *sub = xasprintf("%s[%lld]", path, i);
                int rc = check(k, json_object_array_get_idx(v, (size_t)i), sub, err, errlen);
                free(sub);
                if (rc < 0) return -1;
            }
        }
    }
    if (jt == json_type_object) {
        json_object *props = NULL, *req, *addl;
        json_object_object_get_ex(schema, "properties", &props);
        if (json_object_object_get_ex(schema, "required", &req)) {
            for (size_t i = 0; i < json_object_array_length(req); i++) {
                const char *name = json_object_get_string(json_object_array_get_idx(req, i));
                if (!json_object_object_get_ex(v, name, NULL))
                    return fail(err, errlen, path, "the required member \"%s\" is missing", name);
            }
        }
        int closed = json_object_object_get_ex(schema, "additionalProperties", &addl) &&
                     json_object_is_type(addl, json_type_boolean) && !json_object_get_boolean(addl);
        json_object_object_foreach(v, key, val) {
            json_object *ps = NULL;
            if (props && json_object_object_get_ex(props, key, &ps)) {
                char *sub = xasprintf("%s.%s", path, key);
                int rc = check(ps, val, sub, err, errlen);
                free(sub);
                if (rc < 0) return -1;
            } else if (closed) {
                return fail(err, errlen, path, "has a member \"%s\" the schema does not allow", key);
            }
        }
    }
    return 0;
}

int json_schema_check(const char *schema_text, json_object *value, char *err, size_t errlen)
{
    json_object *schema = json_tokener_parse(schema_text);
    if (!schema) {
        snprintf(err, errlen, "the schema itself is not JSON");
        return -1;
    }
    int rc = check(schema, value, "$", err, errlen);
    json_object_put(schema);
    return rc;
}
