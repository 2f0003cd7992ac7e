/* Row stream -> chunks.  Sources write rows; the core owns chunking (rows
 * per chunk), the "process" step's normalisation (cells coerced to their
 * column's declared type where that loses nothing), the check that a query
 * returned the columns its analysis input needs, and resuming after a
 * retried fetch without handing any row to the analysis twice. */
#include "config.h"
#include "core.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct revops_stream {
    char *dataset, *source;
    size_t rows_per_chunk;
    char *required;              /* comma-separated column names */
    chunk_cb cb;
    void *cb_data;

    revops_column *cols;
    size_t ncols;
    int have_columns;

    revops_value *cells;         /* rows_per_chunk * ncols */
    size_t *text_off;            /* arena offsets of text cells */
    size_t nrows;
    strbuf arena;

    size_t chunk_index;
    int64_t total_hint;          /* -1 unknown */
    int64_t rows_taken;          /* rows accepted so far (all attempts) */
    int64_t attempt_rows;        /* rows seen in the current attempt */
    int64_t skip;                /* rows to ignore in the current attempt */
    int failed;
    char error[512];
    double process_seconds;
    size_t max_bytes;            /* budget for one chunk (the spec: Lambda's payload limit) */
    size_t chunk_bytes;          /* the current chunk's size, as JSON would take it */
    int cut_by_bytes;            /* some chunk was cut by max_bytes: totals are not predictable */
    int warned_wide_row;
};

/* About what a cell costs in the chunk's JSON form. */
static size_t cell_bytes(const revops_value *v)
{
    switch (v->type) {
    case REVOPS_TYPE_TEXT:
    case REVOPS_TYPE_DATE:
    case REVOPS_TYPE_TIMESTAMP: return v->v.text.len + 3;
    case REVOPS_TYPE_NULL: return 5;
    default: return 21;
    }
}

void stream_set_max_bytes(revops_stream *s, size_t max_bytes)
{
    s->max_bytes = max_bytes;
}

revops_stream *stream_new(const char *dataset, const char *source, size_t rows_per_chunk,
                          const char *required_columns, chunk_cb cb, void *cb_data)
{
    revops_stream *s = xcalloc(1, sizeof *s);
    s->dataset = xstrdup(dataset);
    s->source = xstrdup(source);
    s->rows_per_chunk = rows_per_chunk ? rows_per_chunk : 1000;
    s->required = required_columns ? xstrdup(required_columns) : NULL;
    s->cb = cb;
    s->cb_data = cb_data;
    s->total_hint = -1;
    return s;
}

void stream_restart(revops_stream *s)
{
    s->skip = s->rows_taken;
    s->attempt_rows = 0;
}

static void fail(revops_stream *s, const char *fmt, ...) REVOPS_PRINTF(2, 3);
static void fail(revops_stream *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->error, sizeof s->error, fmt, ap);
    va_end(ap);
    s->failed = 1;
}

static void free_columns(revops_stream *s)
{
    for (size_t i = 0; i < s->ncols; i++) free((char *)s->cols[i].name);
    free(s->cols);
    s->cols = NULL;
    s->ncols = 0;
}

revops_status stream_columns_impl(revops_stream *s, size_t n, const revops_column *cols)
{
    if (s->failed) return REVOPS_ERROR;
    if (s->have_columns) {
        /* A retried fetch declares its columns again: they must not change. */
        int same = n == s->ncols;
        for (size_t i = 0; same && i < n; i++) same = strcmp(cols[i].name, s->cols[i].name) == 0;
        if (!same) {
            fail(s, "input '%s' from source '%s': the columns changed between retries", s->dataset, s->source);
            return REVOPS_ERROR;
        }
        return REVOPS_OK;
    }
    if (n == 0) {
        fail(s, "input '%s' from source '%s': the query returned no columns", s->dataset, s->source);
        return REVOPS_ERROR;
    }
    s->cols = xcalloc(n, sizeof *s->cols);
    s->ncols = n;
    for (size_t i = 0; i < n; i++) {
        s->cols[i].name = xstrdup(cols[i].name ? cols[i].name : "");
        s->cols[i].type = cols[i].type;
    }
    if (s->required) {
        strbuf missing = { 0 };
        char *copy = xstrdup(s->required), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            t += strspn(t, " ");
            size_t i;
            for (i = 0; i < n && strcmp(s->cols[i].name, t) != 0; i++) {}
            if (i == n) sb_printf(&missing, "%s%s", missing.len ? ", " : "", t);
        }
        free(copy);
        if (missing.len) {
            strbuf got = { 0 };
            for (size_t i = 0; i < n; i++) sb_printf(&got, "%s%s", i ? ", " : "", s->cols[i].name);
            fail(s, "input '%s' from source '%s': the query does not return the column%s %s (it returns: %s)",
                 s->dataset, s->source, strchr(missing.buf, ',') ? "s" : "", missing.buf, got.buf);
            sb_free(&got);
            sb_free(&missing);
            return REVOPS_ERROR;
        }
        sb_free(&missing);
    }
    s->have_columns = 1;
    s->cells = xcalloc(s->rows_per_chunk * n, sizeof *s->cells);
    s->text_off = xcalloc(s->rows_per_chunk * n, sizeof *s->text_off);
    return REVOPS_OK;
}

void stream_total_impl(revops_stream *s, int64_t total)
{
    s->total_hint = total;
}

static int is_text(revops_type t)
{
    return t == REVOPS_TYPE_TEXT || t == REVOPS_TYPE_DATE || t == REVOPS_TYPE_TIMESTAMP;
}

static revops_status flush(revops_stream *s, int last)
{
    revops_chunk c = { 0 };
    for (size_t i = 0; i < s->nrows * s->ncols; i++)
        if (is_text(s->cells[i].type)) s->cells[i].v.text.s = s->arena.buf + s->text_off[i];
    c.dataset = s->dataset;
    c.source = s->source;
    c.ncolumns = s->ncols;
    c.columns = s->cols;
    c.nrows = s->nrows;
    c.cells = s->cells;
    c.chunk_index = s->chunk_index;
    c.rows_per_chunk = s->rows_per_chunk;
    c.last = last;
    if (last) {
        c.total_rows = s->rows_taken;
        c.total_chunks = (int64_t)s->chunk_index + 1;
    } else if (s->total_hint >= 0 && !s->cut_by_bytes) {
        c.total_rows = s->total_hint;
        c.total_chunks = s->total_hint == 0 ? 1 : (s->total_hint + (int64_t)s->rows_per_chunk - 1) / (int64_t)s->rows_per_chunk;
    } else {
        c.total_rows = c.total_chunks = -1;
    }
    revops_status st = s->cb ? s->cb(s->cb_data, &c) : REVOPS_OK;
    s->chunk_index++;
    s->nrows = 0;
    s->arena.len = 0;
    s->chunk_bytes = 0;
    if (st != REVOPS_OK) s->failed = 1;
    return st;
}

/* The "process" step: a cell keeps its value but takes its column's type
 * when the conversion is exact, so analyses see one type per column. */
static void normalise(revops_value *v, revops_type col)
{
    if (v->type == col || v->type == REVOPS_TYPE_NULL) return;
    if (col == REVOPS_TYPE_REAL && v->type == REVOPS_TYPE_INT) {
        v->v.r = (double)v->v.i;
        v->type = REVOPS_TYPE_REAL;
    } else if (col == REVOPS_TYPE_INT && v->type == REVOPS_TYPE_REAL && v->v.r == floor(v->v.r) && fabs(v->v.r) < 9e15) {
        v->v.i = (int64_t)v->v.r;
        v->type = REVOPS_TYPE_INT;
    } else if ((col == REVOPS_TYPE_DATE && v->type == REVOPS_TYPE_TEXT && date_days(v->v.text.s) != INT64_MIN) ||
               (col == REVOPS_TYPE_TIMESTAMP && v->type == REVOPS_TYPE_TEXT && date_days(v->v.text.s) != INT64_MIN)) {
        v->type = col;
    } else if (col == REVOPS_TYPE_BOOL && v->type == REVOPS_TYPE_INT && (v->v.i == 0 || v->v.i == 1)) {
        v->v.b = (int)v->v.i;
        v->type = REVOPS_TYPE_BOOL;
    }
}

revops_status stream_row_impl(revops_stream *s, const revops_value *row)
{
    if (s->failed) return REVOPS_ERROR;
    if (!s->have_columns) {
        fail(s, "input '%s' from source '%s': the source wrote a row before declaring its columns (plugin bug)",
             s->dataset, s->source);
        return REVOPS_ERROR;
    }
    if (s->attempt_rows++ < s->skip) return REVOPS_OK;  /* already handed over before a retry */
    double t0 = mono_now();
    size_t row_bytes = 2;
    for (size_t i = 0; i < s->ncols; i++) row_bytes += cell_bytes(&row[i]);
    int over_budget = s->max_bytes && s->nrows > 0 && s->chunk_bytes + row_bytes > s->max_bytes;
    if (s->nrows == s->rows_per_chunk || over_budget) {
        if (over_budget && s->nrows < s->rows_per_chunk) s->cut_by_bytes = 1;
        revops_status st = flush(s, 0);
        if (st != REVOPS_OK) return st;
    }
    if (s->max_bytes && row_bytes > s->max_bytes && !s->warned_wide_row) {
        s->warned_wide_row = 1;
        log_warn("input '%s' from source '%s': a row of about %zu bytes exceeds max_chunk_bytes (%zu); it goes in a chunk of its own",
                 s->dataset, s->source, row_bytes, s->max_bytes);
    }
    s->chunk_bytes += row_bytes;
    size_t base = s->nrows * s->ncols;
    for (size_t i = 0; i < s->ncols; i++) {
        revops_value v = row[i];
        if (is_text(v.type)) {
            const char *txt = v.v.text.s ? v.v.text.s : "";
            size_t len = v.v.text.s ? v.v.text.len : 0;
            s->text_off[base + i] = s->arena.len;
            sb_add(&s->arena, txt, len);
            sb_add(&s->arena, "", 1);  /* keep the NUL */
            v.v.text.len = len;
            v.v.text.s = s->arena.buf + s->text_off[base + i];  /* valid until the arena grows */
        }
        normalise(&v, s->cols[i].type);
        s->cells[base + i] = v;
    }
    s->nrows++;
    s->rows_taken++;
    s->process_seconds += mono_now() - t0;
    return REVOPS_OK;
}

/* After a source failed for good: hand over the rows that did arrive as the
 * input's last chunk, so the analysis can finalise on them. */
revops_status stream_finish_partial(revops_stream *s)
{
    if (!s->have_columns) return REVOPS_ERROR;
    s->failed = 0;
    revops_status st = flush(s, 1);
    return st;
}

revops_status stream_finish(revops_stream *s)
{
    if (s->failed) return REVOPS_ERROR;
    if (!s->have_columns) {
        fail(s, "input '%s' from source '%s': the source returned without declaring its columns (plugin bug)",
             s->dataset, s->source);
        return REVOPS_ERROR;
    }
    return flush(s, 1);
}

int stream_failed(const revops_stream *s)
{
    return s->failed;
}

const char *stream_error(const revops_stream *s)
{
    return s->error[0] ? s->error : NULL;
}

stream_stats stream_get_stats(const revops_stream *s)
{
    stream_stats st = { s->rows_taken, s->chunk_index, s->process_seconds };
    return st;
}

void stream_free(revops_stream *s)
{
    if (!s) return;
    free_columns(s);
    free(s->cells);
    free(s->text_off);
    sb_free(&s->arena);
    free(s->dataset);
    free(s->source);
    free(s->required);
    free(s);
}

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

static json_object *cell_json(const revops_value *v)
{
    switch (v->type) {
    case REVOPS_TYPE_INT: return json_object_new_int64(v->v.i);
    case REVOPS_TYPE_REAL: return isfinite(v->v.r) ? json_object_new_double(v->v.r) : NULL;
    case REVOPS_TYPE_BOOL: return json_object_new_boolean(v->v.b);
    case REVOPS_TYPE_TEXT:
    case REVOPS_TYPE_DATE:
    case REVOPS_TYPE_TIMESTAMP: return json_object_new_string_len(v->v.text.s, (int)v->v.text.len);
    default: return NULL;
    }
}

/* The spec's chunk contract.  A single-chunk result uses the spec's small
 * form (success, error, chunked=false, columns, results); a chunked one the
 * large form with chunk_index, total_chunks, total_rows, rows_per_chunk and
 * query_info.  `column_types` is our addition: the types the spec's
 * columns list leaves out. */
json_object *chunk_to_json(const revops_chunk *c, const char *error, const char *query, const char *source)
{
    json_object *o = json_object_new_object();
    int chunked = c && c->total_chunks > 1;
    json_object_object_add(o, "success", json_object_new_boolean(error == NULL));
    json_object_object_add(o, "error", error ? json_object_new_string(error) : NULL);
    json_object_object_add(o, "chunked", json_object_new_boolean(chunked || (!c && error)));
    if (c && (chunked || error)) {
        json_object_object_add(o, "chunk_index", json_object_new_int64((int64_t)c->chunk_index));
        json_object_object_add(o, "total_chunks", json_object_new_int64(c->total_chunks));
        json_object_object_add(o, "total_rows", json_object_new_int64(c->total_rows));
        json_object_object_add(o, "rows_per_chunk", json_object_new_int64((int64_t)c->rows_per_chunk));
    }
    json_object *cols = json_object_new_array(), *types = json_object_new_array();
    for (size_t i = 0; c && i < c->ncolumns; i++) {
        json_object_array_add(cols, json_object_new_string(c->columns[i].name));
        json_object_array_add(types, json_object_new_string(type_name(c->columns[i].type)));
    }
    json_object_object_add(o, "columns", cols);
    json_object_object_add(o, "column_types", types);
    json_object *rows = json_object_new_array();
    for (size_t r = 0; c && !error && r < c->nrows; r++) {
        json_object *row = json_object_new_array();
        for (size_t i = 0; i < c->ncolumns; i++) json_object_array_add(row, cell_json(revops_cell(c, r, i)));
        json_object_array_add(rows, row);
    }
    json_object_object_add(o, "results", rows);
    if (chunked || error) {
        json_object *qi = json_object_new_object();
        json_object_object_add(qi, "query", json_object_new_string(query ? query : ""));
        json_object_object_add(qi, "source", json_object_new_string(source ? source : ""));
        json_object_object_add(o, "query_info", qi);
    }
    return o;
}
