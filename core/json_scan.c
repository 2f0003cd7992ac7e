/* Incremental scanner for one large JSON document of the shape
 *   { "meta": ..., "data": [ elem, elem, ... ], "rows": 3 }
 * fed in arbitrary byte pieces as they arrive from the network.  The array
 * member named by the caller is cut at element boundaries and each element
 * is parsed alone with json-c's tokener; every other top-level member is
 * parsed whole when it is complete.  Memory is one element (or member) at a
 * time, whatever the array's length.
 *
 * Why not a streaming parser such as yajl: json-c is already our JSON
 * library and builds the small per-row trees plugins read through the host
 * services; the cutting needs only to track strings, escapes and nesting
 * depth, which is a few dozen lines, and the element trees it produces are
 * the same revops_json values every other host service returns. */
#include "config.h"
#include "core.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    S_BEFORE_OBJECT, S_EXPECT_KEY, S_KEY, S_EXPECT_COLON, S_BEFORE_VALUE, S_VALUE,
    S_ARRAY_BEFORE_ELEM, S_ARRAY_ELEM, S_ARRAY_AFTER_ELEM, S_AFTER_VALUE, S_DONE
} scan_state;

struct json_scan {
    char *array_member;
    json_member_fn fn;
    void *data;
    scan_state st;
    strbuf key, cur;        /* the raw key; the value or element being captured */
    char *member;           /* decoded key of the current member */
    int in_string, escape, depth;
    size_t offset;          /* bytes consumed so far */
    size_t elements;
    revops_status fn_status;
    char error[256];
};

json_scan *json_scan_new(const char *array_member, json_member_fn fn, void *data)
{
    json_scan *s = xcalloc(1, sizeof *s);
    s->array_member = xstrdup(array_member ? array_member : "");
    s->fn = fn;
    s->data = data;
    return s;
}

void json_scan_free(json_scan *s)
{
    if (!s) return;
    sb_free(&s->key);
    sb_free(&s->cur);
    free(s->member);
    free(s->array_member);
    free(s);
}

size_t json_scan_elements(const json_scan *s)
{
    return s->elements;
}

const char *json_scan_error(const json_scan *s)
{
    return s->error[0] ? s->error : NULL;
}

static int fail(json_scan *s, const char *what)
{
    snprintf(s->error, sizeof s->error, "invalid JSON at byte %zu: %s", s->offset, what);
    return -1;
}

/* Parse the captured text and hand it over.  -1 on invalid JSON or when
 * the callback says stop. */
static int deliver(json_scan *s)
{
    json_tokener *tok = json_tokener_new();
    /* The length includes the NUL strbuf keeps after the text: without a
     * terminator json-c cannot know that a bare number has ended. */
    json_object *o = json_tokener_parse_ex(tok, s->cur.buf ? s->cur.buf : "", s->cur.buf ? (int)s->cur.len + 1 : 1);
    enum json_tokener_error e = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (e != json_tokener_success) {
        json_object_put(o);
        char what[200];
        snprintf(what, sizeof what, "member '%s'%s: %s", s->member ? s->member : "?",
                 s->st == S_ARRAY_ELEM ? " element" : "", json_tokener_error_desc(e));
        return fail(s, what);
    }
    revops_status st = s->fn(s->data, s->member, (revops_json *)o);
    json_object_put(o);
    s->cur.len = 0;
    if (s->st == S_ARRAY_ELEM) s->elements++;
    if (st != REVOPS_OK) {
        s->fn_status = st;
        snprintf(s->error, sizeof s->error, "stopped by the consumer");
        return -1;
    }
    return 0;
}

/* Feed one byte of a value being captured; returns 1 when the value is
 * complete (the byte is consumed unless it is a delimiter of a scalar). */
static int capture(json_scan *s, char c, int *consumed)
{
    *consumed = 1;
    if (s->in_string) {
        sb_add(&s->cur, &c, 1);
        if (s->escape) s->escape = 0;
        else if (c == '\\') s->escape = 1;
        else if (c == '"') {
            s->in_string = 0;
            if (s->depth == 0) return 1;
        }
        return 0;
    }
    if (s->depth == 0 && s->cur.len > 0 && (c == ',' || c == '}' || c == ']' || isspace((unsigned char)c))) {
        *consumed = 0;  /* end of a scalar: the delimiter belongs to the container */
        return 1;
    }
    sb_add(&s->cur, &c, 1);
    if (c == '"') s->in_string = 1;
    else if (c == '{' || c == '[') s->depth++;
    else if (c == '}' || c == ']') {
        if (--s->depth == 0) return 1;
    }
    return 0;
}

int json_scan_feed(json_scan *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++, s->offset++) {
        char c = p[i];
        int consumed;
        switch (s->st) {
        case S_BEFORE_OBJECT:
            if (isspace((unsigned char)c)) break;
            if (c != '{') return fail(s, "expected a JSON object");
            s->st = S_EXPECT_KEY;
            break;
        case S_EXPECT_KEY:
            if (isspace((unsigned char)c) || c == ',') break;
            if (c == '}') { s->st = S_DONE; break; }
            if (c != '"') return fail(s, "expected a member name");
            s->key.len = 0;
            sb_add(&s->key, &c, 1);
            s->escape = 0;
            s->st = S_KEY;
            break;
        case S_KEY:
            sb_add(&s->key, &c, 1);
            if (s->escape) s->escape = 0;
            else if (c == '\\') s->escape = 1;
            else if (c == '"') {
                json_object *k = json_tokener_parse(s->key.buf);
                free(s->member);
                s->member = xstrdup(k && json_object_is_type(k, json_type_string) ? json_object_get_string(k) : "");
                json_object_put(k);
                s->st = S_EXPECT_COLON;
            }
            break;
        case S_EXPECT_COLON:
            if (isspace((unsigned char)c)) break;
            if (c != ':') return fail(s, "expected ':' after a member name");
            s->st = S_BEFORE_VALUE;
            break;
        case S_BEFORE_VALUE:
            if (isspace((unsigned char)c)) break;
            if (c == '[' && strcmp(s->member, s->array_member) == 0) {
                s->st = S_ARRAY_BEFORE_ELEM;
                break;
            }
            s->cur.len = 0;
            s->depth = s->in_string = s->escape = 0;
            s->st = S_VALUE;
            /* fall through */
        case S_VALUE:
            if (capture(s, c, &consumed)) {
                if (deliver(s) < 0) return -1;
                s->st = S_AFTER_VALUE;
                if (!consumed) { i--; s->offset--; }
            }
            break;
        case S_AFTER_VALUE:
            if (isspace((unsigned char)c)) break;
            if (c == ',') { s->st = S_EXPECT_KEY; break; }
            if (c == '}') { s->st = S_DONE; break; }
            return fail(s, "expected ',' or '}' after a member");
        case S_ARRAY_BEFORE_ELEM:
            if (isspace((unsigned char)c)) break;
            if (c == ']') { s->st = S_AFTER_VALUE; break; }
            s->cur.len = 0;
            s->depth = s->in_string = s->escape = 0;
            s->st = S_ARRAY_ELEM;
            /* fall through */
        case S_ARRAY_ELEM:
            if (capture(s, c, &consumed)) {
                if (deliver(s) < 0) return -1;
                s->st = S_ARRAY_AFTER_ELEM;
                if (!consumed) { i--; s->offset--; }
            }
            break;
        case S_ARRAY_AFTER_ELEM:
            if (isspace((unsigned char)c)) break;
            if (c == ',') { s->st = S_ARRAY_BEFORE_ELEM; break; }
            if (c == ']') { s->st = S_AFTER_VALUE; break; }
            return fail(s, "expected ',' or ']' between array elements");
        case S_DONE:
            if (!isspace((unsigned char)c)) return fail(s, "data after the end of the document");
            break;
        }
    }
    return 0;
}

int json_scan_finish(json_scan *s)
{
    /* A scalar value at the very end has no delimiter after it. */
    if ((s->st == S_VALUE || s->st == S_ARRAY_ELEM) && s->depth == 0 && !s->in_string && s->cur.len) {
        if (deliver(s) < 0) return -1;
        s->st = s->st == S_VALUE ? S_AFTER_VALUE : S_ARRAY_AFTER_ELEM;
    }
    if (s->st == S_DONE) return 0;
    snprintf(s->error, sizeof s->error, "truncated JSON: the document ends at byte %zu%s%s%s", s->offset,
             s->member ? " inside member '" : "", s->member ? s->member : "", s->member ? "'" : "");
    return -1;
}

revops_status json_scan_status(const json_scan *s)
{
    return s->fn_status;
}
