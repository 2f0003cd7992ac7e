/* The spec's EventBridge payload:
 *   {"triggerType": "scheduled", "analysisType": "A1|..|A6",
 *    "maxOpportunities": 100, "sessionId": "analysis_YYYYMMDD_HHMMSS"}
 * plus the optional "target" and "context" its data-agent prompt uses.
 * Parsed with json-c's tokener; every field is type-checked and a bad one
 * is named in the error. */
#include "config.h"
#include "core.h"

#include <json-c/json.h>
#include <string.h>

int session_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 100) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-' || *s == '.'))
            return 0;
    return 1;
}

static int get_string(json_object *o, const char *key, char *out, size_t n, int required, char *err, size_t errlen)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
        if (required) snprintf(err, errlen, "trigger payload: \"%s\" is missing", key);
        return required ? -1 : 0;
    }
    if (!json_object_is_type(v, json_type_string)) {
        snprintf(err, errlen, "trigger payload: \"%s\" must be a string, not %s", key, json_type_to_name(json_object_get_type(v)));
        return -1;
    }
    if ((size_t)json_object_get_string_len(v) >= n) {
        snprintf(err, errlen, "trigger payload: \"%s\" is longer than %zu characters", key, n - 1);
        return -1;
    }
    snprintf(out, n, "%s", json_object_get_string(v));
    return 0;
}

int trigger_parse(const char *text, size_t len, trigger_payload *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->max_opportunities = -1;
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t off = tok->char_offset;
    json_tokener_free(tok);
    if (!o || e != json_tokener_success) {
        snprintf(err, errlen, "trigger payload is not valid JSON (at byte %zu: %s)", off,
                 e == json_tokener_continue ? "unexpected end of input" : json_tokener_error_desc(e));
        json_object_put(o);
        return -1;
    }
    int rc = -1;
    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errlen, "trigger payload must be a JSON object, not %s", json_type_to_name(json_object_get_type(o)));
        goto out;
    }
    static const char *const known[] = { "triggerType", "analysisType", "maxOpportunities", "sessionId", "target", "context", NULL };
    json_object_object_foreach(o, key, val) {
        (void)val;
        int ok = 0;
        for (int i = 0; known[i]; i++) ok |= strcmp(known[i], key) == 0;
        if (!ok) {
            snprintf(err, errlen, "trigger payload: unknown field \"%s\" (known: triggerType, analysisType, maxOpportunities, sessionId, target, context)", key);
            goto out;
        }
    }
    if (get_string(o, "triggerType", out->trigger_type, sizeof out->trigger_type, 1, err, errlen) < 0) goto out;
    if (!session_id_valid(out->trigger_type)) {
        snprintf(err, errlen, "trigger payload: \"triggerType\" must be a word such as \"scheduled\" or \"manual\"");
        goto out;
    }
    if (get_string(o, "analysisType", out->analysis_type, sizeof out->analysis_type, 1, err, errlen) < 0) goto out;
    if (!(strlen(out->analysis_type) == 2 && out->analysis_type[0] == 'A' && out->analysis_type[1] >= '1' &&
          out->analysis_type[1] <= '6')) {
        snprintf(err, errlen, "trigger payload: \"analysisType\" is \"%s\"; expected one of A1, A2, A3, A4, A5, A6", out->analysis_type);
        goto out;
    }
    json_object *mo;
    if (json_object_object_get_ex(o, "maxOpportunities", &mo) && !json_object_is_type(mo, json_type_null)) {
        if (!json_object_is_type(mo, json_type_int) || json_object_get_int64(mo) < 1 || json_object_get_int64(mo) > 1000000) {
            snprintf(err, errlen, "trigger payload: \"maxOpportunities\" must be an integer from 1 to 1000000");
            goto out;
        }
        out->max_opportunities = json_object_get_int64(mo);
    }
    if (get_string(o, "sessionId", out->session_id, sizeof out->session_id, 0, err, errlen) < 0) goto out;
    if (out->session_id[0] && !session_id_valid(out->session_id)) {
        snprintf(err, errlen, "trigger payload: \"sessionId\" may contain only letters, digits, '_', '-' and '.' (at most 100)");
        goto out;
    }
    if (get_string(o, "target", out->target, sizeof out->target, 0, err, errlen) < 0) goto out;
    if (get_string(o, "context", out->context, sizeof out->context, 0, err, errlen) < 0) goto out;
    rc = 0;
out:
    json_object_put(o);
    return rc;
}
