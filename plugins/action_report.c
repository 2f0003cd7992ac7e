/*
 * action "report": one readable report per batch, for the RevOps lead who
 * has to act on it: a header (pipeline, analysis, session, counts by
 * priority), then the findings grouped by priority, critical first, each with
 * its account, score, why (signals and their evidence) and what to do.
 *
 * format text (terminal/e-mail), markdown (chat, wiki) or json (one object
 * per batch, findings in the host's finding_json form).  path "-" is stdout;
 * any other path is appended to, created with mode 0640.
 *
 * digest = true: the core keeps an action open for every pipeline of one
 * `revops run`, so instead of one report per batch the findings of all of
 * them are collected and written as ONE report when the action closes: an
 * overview per pipeline, then every finding ranked by priority and score
 * whatever analysis produced it — what a RevOps lead reads first.  The
 * findings are accepted (delivered) when collected; a write failure at the
 * end is logged as an error naming the file.
 */
#include <revops/revops.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { FMT_TEXT, FMT_MARKDOWN, FMT_JSON } report_format;

#define WRAP_WIDTH 88

/* digest mode: one finding, rendered when it was delivered */
typedef struct digest_item {
    revops_priority priority;
    double score;
    char *analysis, *pipeline, *account, *title;
    char *body;       /* text/markdown body, or the finding's JSON */
} digest_item;

/* digest mode: one batch (one pipeline run) */
typedef struct digest_run {
    char *pipeline, *analysis, *session;
    size_t counts[4];
} digest_run;

typedef struct report_ctx {
    revops_instance *self;
    const revops_host *host;
    report_format format;
    char *path;
    char *title;
    FILE *out;
    int own_out;      /* not stdout: ours to close */
    int digest;
    digest_item *items;
    size_t nitems, capitems;
    digest_run *runs;
    size_t nruns, capruns;
} report_ctx;

/* The batch's findings in report order: priority desc, batch order within. */
typedef struct view {
    const revops_batch *batch;
    const revops_finding **order;
    size_t counts[4];  /* by revops_priority */
} view;

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

/* 40, 0.5, 34.2: values without noise digits. */
static void fmt_num(double x, char out[48])
{
    snprintf(out, 48, "%.2f", x);
    char *dot = strchr(out, '.');
    if (!dot) return;
    char *end = out + strlen(out) - 1;
    while (end > dot && *end == '0') *end-- = '\0';
    if (end == dot) *end = '\0';
}

/* Display width of UTF-8 text, counting code points (good enough for
 * underlines and wrapping; wide CJK glyphs count as one). */
static size_t utf8_width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) w += ((unsigned char)s[i] & 0xc0) != 0x80;
    return w;
}

static void repeat(FILE *out, char ch, size_t n)
{
    while (n--) fputc(ch, out);
}

/* Write text word-wrapped at WRAP_WIDTH, continuation lines indented by
 * `indent`; `col` is where the cursor already is (0: indent the first line
 * too).  Breaks only at spaces, so multi-byte characters are never split. */
static void wrap(FILE *out, size_t indent, size_t col, const char *text)
{
    int words = 0;   /* words on the current line */
    for (const char *p = text ? text : ""; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        if (*p == '\n') {
            p++;
            fputc('\n', out);
            col = 0;
            words = 0;
            continue;
        }
        size_t n = strcspn(p, " \n");
        size_t w = utf8_width(p, n);
        if (words && col + 1 + w > WRAP_WIDTH) {
            fputc('\n', out);
            col = 0;
            words = 0;
        }
        if (!col) {
            repeat(out, ' ', indent);
            col = indent;
        } else if (words) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, n, out);
        col += w;
        words++;
        p += n;
    }
    if (col) fputc('\n', out);
}

/* Markdown: escape the characters that would turn data into formatting. */
static void md(FILE *out, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) {
        if (strchr("\\`*_[]<>#|", *p)) fputc('\\', out);
        fputc(*p == '\n' ? ' ' : *p, out);
    }
}

/* Identifiers (account ids, signal names) as inline code, unless a
 * backtick would end the code span early. */
static void md_code(FILE *out, const char *s)
{
    if (s && *s && !strchr(s, '`'))
        fprintf(out, "`%s`", s);
    else
        md(out, or_dash(s));
}

static void generated_at(const report_ctx *c, char out[32])
{
    double now = c->host->now();
    int64_t days = (int64_t)(now / 86400.0);
    int64_t secs = (int64_t)now - days * 86400;
    char day[11];
    c->host->date_format(days, day);
    snprintf(out, 32, "%s %02d:%02d UTC", day, (int)(secs / 3600), (int)(secs / 60 % 60));
}

/* The spec's names of its six analysis types, for people reading the report. */
static const char *analysis_label(const char *type)
{
    static const char *const names[][2] = {
        { "A1", "at-risk accounts" },         { "A2", "closed-lost patterns" },
        { "A3", "upsell opportunities" },     { "A4", "customer health" },
        { "A5", "usage anomalies" },          { "A6", "competitive intelligence" },
    };
    for (size_t i = 0; type && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(type, names[i][0]) == 0) return names[i][1];
    return NULL;
}

static size_t total(const view *v)
{
    return v->batch->nfindings;
}

/* "N findings: a critical, b high, c medium, d low" from counts by priority */
static void counts_text(const size_t *counts, char *buf, size_t n)
{
    size_t t = counts[0] + counts[1] + counts[2] + counts[3];
    snprintf(buf, n, "%zu finding%s: %zu critical, %zu high, %zu medium, %zu low", t, t == 1 ? "" : "s",
             counts[REVOPS_PRIORITY_CRITICAL], counts[REVOPS_PRIORITY_HIGH], counts[REVOPS_PRIORITY_MEDIUM],
             counts[REVOPS_PRIORITY_LOW]);
}

static void counts_line(FILE *out, const view *v)
{
    char line[160];
    counts_text(v->counts, line, sizeof line);
    fputs(line, out);
}

/* A host older than 1.3 hands findings without the narrative fields. */
static int host_narrates;

/* ------------------------------------------------------------- text -- */

static void text_signal(FILE *out, const revops_signal *s)
{
    char value[48], threshold[48], weight[48];
    fmt_num(s->value, value);
    fmt_num(s->threshold, threshold);
    fmt_num(s->weight, weight);
    fprintf(out, "      - %s: %s vs threshold %s (weight %s)\n", or_dash(s->name), value,
            threshold, weight);
    if (s->evidence && *s->evidence) wrap(out, 8, 0, s->evidence);
}

static void text_finding_body(FILE *out, const revops_finding *f)
{
    if (f->account_name)
        fprintf(out, "    Account:     %s (%s)\n", f->account_name, or_dash(f->account_id));
    else
        fprintf(out, "    Account:     %s\n", or_dash(f->account_id));
    if (f->opportunity_id) fprintf(out, "    Opportunity: %s\n", f->opportunity_id);
    fprintf(out, "    Score:       %.2f    Confidence: %.2f\n", f->score, f->confidence);
    if (f->partial)
        fprintf(out, "    Data:        PARTIAL - part of an input was lost this run (see the run summary)\n");
    if (f->description && *f->description) {
        fputc('\n', out);
        wrap(out, 4, 0, f->description);
    }
    if (f->nsignals) fprintf(out, "\n    Why:\n");
    for (size_t i = 0; i < f->nsignals; i++) text_signal(out, &f->signals[i]);
    if (f->nactions) fprintf(out, "\n    What to do:\n");
    for (size_t i = 0; i < f->nactions; i++) {
        int col = fprintf(out, "      %zu. ", i + 1);
        wrap(out, 9, col > 0 ? (size_t)col : 0, f->recommended_actions[i]);
    }
    if (!host_narrates || !f->narrative) return;
    fprintf(out, "\n    Summary (written by %s):\n", or_dash(f->narrative_model));
    wrap(out, 6, 0, f->narrative);
    if (f->nnext_steps) fprintf(out, "    Next steps (%s):\n", or_dash(f->narrative_model));
    for (size_t i = 0; i < f->nnext_steps; i++) {
        int col = fprintf(out, "      %zu. ", i + 1);
        wrap(out, 9, col > 0 ? (size_t)col : 0, f->next_steps[i]);
    }
}

static void text_finding(FILE *out, const revops_finding *f, size_t number)
{
    fprintf(out, "\n[%zu] %s\n", number, or_dash(f->title));
    text_finding_body(out, f);
}

static void write_text(const report_ctx *c, const view *v, FILE *out)
{
    const revops_batch *b = v->batch;
    char when[32];
    generated_at(c, when);
    fprintf(out, "%s\n", c->title);
    repeat(out, '=', utf8_width(c->title, strlen(c->title)));
    const char *label = analysis_label(b->analysis);
    fprintf(out, "\nPipeline: %s   Analysis: %s%s%s%s   Session: %s\nGenerated: %s\n",
            or_dash(b->pipeline), or_dash(b->analysis), label ? " (" : "", label ? label : "", label ? ")" : "",
            or_dash(b->session_id), when);
    if (!total(v)) {
        fprintf(out, "\nNo findings.\n\n");
        return;
    }
    counts_line(out, v);
    fputc('\n', out);
    size_t k = 0;
    for (int p = REVOPS_PRIORITY_CRITICAL; p >= REVOPS_PRIORITY_LOW; p--) {
        if (!v->counts[p]) continue;
        char head[64];
        int n = snprintf(head, sizeof head, "%s (%zu)", revops_priority_name((revops_priority)p),
                         v->counts[p]);
        for (char *h = head; *h; h++) *h = (char)(*h >= 'a' && *h <= 'z' ? *h - 32 : *h);
        fprintf(out, "\n%s\n", head);
        repeat(out, '-', (size_t)n);
        fputc('\n', out);
        for (size_t i = 0; i < v->counts[p]; i++, k++) text_finding(out, v->order[k], k + 1);
    }
    fputc('\n', out);
}

/* --------------------------------------------------------- markdown -- */

static void md_finding_body(FILE *out, const revops_finding *f)
{
    char value[48], threshold[48], weight[48];
    fprintf(out, "- **Account:** ");
    if (f->account_name) {
        md(out, f->account_name);
        fprintf(out, " (");
        md_code(out, f->account_id);
        fprintf(out, ")\n");
    } else {
        md_code(out, f->account_id);
        fputc('\n', out);
    }
    if (f->opportunity_id) {
        fprintf(out, "- **Opportunity:** ");
        md_code(out, f->opportunity_id);
        fputc('\n', out);
    }
    fprintf(out, "- **Score:** %.2f, **confidence:** %.2f\n", f->score, f->confidence);
    if (f->partial) fprintf(out, "- **Data:** partial — part of an input was lost this run\n");
    fputc('\n', out);
    if (f->description && *f->description) {
        md(out, f->description);
        fprintf(out, "\n\n");
    }
    if (f->nsignals) fprintf(out, "**Why**\n\n");
    for (size_t i = 0; i < f->nsignals; i++) {
        const revops_signal *s = &f->signals[i];
        fmt_num(s->value, value);
        fmt_num(s->threshold, threshold);
        fmt_num(s->weight, weight);
        fprintf(out, "- ");
        md_code(out, s->name);
        fprintf(out, ": %s vs threshold %s (weight %s)", value, threshold, weight);
        if (s->evidence && *s->evidence) {
            fprintf(out, ". ");
            md(out, s->evidence);
        }
        fputc('\n', out);
    }
    if (f->nsignals) fputc('\n', out);
    if (f->nactions) fprintf(out, "**What to do**\n\n");
    for (size_t i = 0; i < f->nactions; i++) {
        fprintf(out, "%zu. ", i + 1);
        md(out, f->recommended_actions[i]);
        fputc('\n', out);
    }
    if (f->nactions) fputc('\n', out);
    if (!host_narrates || !f->narrative) return;
    fprintf(out, "**Summary** (written by ");
    md(out, or_dash(f->narrative_model));
    fprintf(out, ")\n\n");
    md(out, f->narrative);
    fprintf(out, "\n\n");
    if (f->nnext_steps) fprintf(out, "**Next steps** (model)\n\n");
    for (size_t i = 0; i < f->nnext_steps; i++) {
        fprintf(out, "%zu. ", i + 1);
        md(out, f->next_steps[i]);
        fputc('\n', out);
    }
    if (f->nnext_steps) fputc('\n', out);
}

static void md_finding(FILE *out, const revops_finding *f)
{
    fprintf(out, "### ");
    md(out, or_dash(f->title));
    fprintf(out, "\n\n");
    md_finding_body(out, f);
}

static void write_markdown(const report_ctx *c, const view *v, FILE *out)
{
    const revops_batch *b = v->batch;
    char when[32];
    generated_at(c, when);
    fprintf(out, "# ");
    md(out, c->title);
    fprintf(out, "\n\n- **Pipeline:** ");
    md(out, or_dash(b->pipeline));
    fprintf(out, "\n- **Analysis:** ");
    md(out, or_dash(b->analysis));
    if (analysis_label(b->analysis)) fprintf(out, " (%s)", analysis_label(b->analysis));
    fprintf(out, "\n- **Session:** ");
    md_code(out, b->session_id);
    fprintf(out, "\n- **Generated:** %s\n\n", when);
    if (!total(v)) {
        fprintf(out, "No findings.\n\n");
        return;
    }
    fprintf(out, "**");
    counts_line(out, v);
    fprintf(out, "**\n\n");
    size_t k = 0;
    for (int p = REVOPS_PRIORITY_CRITICAL; p >= REVOPS_PRIORITY_LOW; p--) {
        if (!v->counts[p]) continue;
        const char *name = revops_priority_name((revops_priority)p);
        fprintf(out, "## %c%s (%zu)\n\n", name[0] - 32, name + 1, v->counts[p]);
        for (size_t i = 0; i < v->counts[p]; i++) md_finding(out, v->order[k++]);
    }
}

/* ------------------------------------------------------------- json -- */

static void json_str(const report_ctx *c, FILE *out, const char *s)
{
    char *q = s ? c->host->json_quote(s) : NULL;
    fputs(q ? q : "null", out);
    if (q) c->host->free(q);
}

/* Returns -1 when a finding cannot be serialised (named via host->error). */
static int write_json(const report_ctx *c, const view *v, FILE *out)
{
    const revops_batch *b = v->batch;
    fputs("{\"session_id\":", out);
    json_str(c, out, b->session_id);
    fputs(",\"pipeline\":", out);
    json_str(c, out, b->pipeline);
    fputs(",\"analysis\":", out);
    json_str(c, out, b->analysis);
    fprintf(out, ",\"counts\":{\"critical\":%zu,\"high\":%zu,\"medium\":%zu,\"low\":%zu},"
            "\"findings\":[", v->counts[REVOPS_PRIORITY_CRITICAL], v->counts[REVOPS_PRIORITY_HIGH],
            v->counts[REVOPS_PRIORITY_MEDIUM], v->counts[REVOPS_PRIORITY_LOW]);
    for (size_t i = 0; i < total(v); i++) {
        char *j = c->host->finding_json(v->order[i]);
        if (!j) {
            c->host->error(c->self, "cannot serialise the finding for account %s",
                           or_dash(v->order[i]->account_id));
            return -1;
        }
        fprintf(out, "%s%s", i ? "," : "", j);
        c->host->free(j);
    }
    fputs("]}\n", out);
    return 0;
}


/* ----------------------------------------------------------- digest -- */

static char *dup_or_dash(const char *s)
{
    return strdup(s ? s : "-");
}

/* Render and keep one finding; -1 when out of memory or unserialisable. */
static int digest_add(report_ctx *c, const revops_batch *b, const revops_finding *f)
{
    if (c->nitems == c->capitems) {
        size_t cap = c->capitems ? 2 * c->capitems : 64;
        digest_item *v = realloc(c->items, cap * sizeof *v);
        if (!v) return -1;
        c->items = v;
        c->capitems = cap;
    }
    digest_item *it = &c->items[c->nitems];
    memset(it, 0, sizeof *it);
    it->priority = f->priority <= REVOPS_PRIORITY_CRITICAL ? f->priority : REVOPS_PRIORITY_LOW;
    it->score = f->score;
    if (c->format == FMT_JSON) {
        char *j = c->host->finding_json(f);
        if (!j) return -1;
        it->body = strdup(j);
        c->host->free(j);
    } else {
        size_t len = 0;
        FILE *m = open_memstream(&it->body, &len);
        if (!m) return -1;
        if (c->format == FMT_TEXT) text_finding_body(m, f);
        else md_finding_body(m, f);
        if (fclose(m) != 0) { free(it->body); it->body = NULL; }
    }
    it->analysis = dup_or_dash(b->analysis);
    it->pipeline = dup_or_dash(b->pipeline);
    it->account = dup_or_dash(f->account_id);
    it->title = dup_or_dash(f->title);
    if (!it->body || !it->analysis || !it->pipeline || !it->account || !it->title) {
        free(it->body); free(it->analysis); free(it->pipeline); free(it->account); free(it->title);
        return -1;
    }
    c->nitems++;
    return 0;
}

static int digest_batch(report_ctx *c, const revops_batch *b)
{
    if (c->nruns == c->capruns) {
        size_t cap = c->capruns ? 2 * c->capruns : 8;
        digest_run *v = realloc(c->runs, cap * sizeof *v);
        if (!v) return -1;
        c->runs = v;
        c->capruns = cap;
    }
    digest_run *r = &c->runs[c->nruns];
    memset(r, 0, sizeof *r);
    size_t first = c->nitems;
    for (size_t i = 0; i < b->nfindings; i++)
        if (digest_add(c, b, b->findings[i]) < 0) {
            while (c->nitems > first) {   /* all of the batch or none of it */
                digest_item *it = &c->items[--c->nitems];
                free(it->body); free(it->analysis); free(it->pipeline); free(it->account); free(it->title);
            }
            return -1;
        }
    r->pipeline = dup_or_dash(b->pipeline);
    r->analysis = dup_or_dash(b->analysis);
    r->session = dup_or_dash(b->session_id);
    for (size_t i = first; i < c->nitems; i++) r->counts[c->items[i].priority]++;
    c->nruns++;
    return 0;
}

/* priority desc, score desc, then analysis, account, title: the same
 * report whatever order the pipelines ran in */
static int item_cmp(const void *pa, const void *pb)
{
    const digest_item *a = pa, *b = pb;
    if (a->priority != b->priority) return a->priority > b->priority ? -1 : 1;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    int k = strcmp(a->analysis, b->analysis);
    if (!k) k = strcmp(a->account, b->account);
    return k ? k : strcmp(a->title, b->title);
}

static void digest_write_text(report_ctx *c, const size_t *counts, FILE *out)
{
    char when[32], line[160];
    generated_at(c, when);
    fprintf(out, "%s\n", c->title);
    repeat(out, '=', utf8_width(c->title, strlen(c->title)));
    fprintf(out, "\nGenerated: %s\n", when);
    counts_text(counts, line, sizeof line);
    fprintf(out, "%s across %zu pipeline%s\n\n", line, c->nruns, c->nruns == 1 ? "" : "s");
    for (size_t i = 0; i < c->nruns; i++) {
        const digest_run *r = &c->runs[i];
        const char *label = analysis_label(r->analysis);
        counts_text(r->counts, line, sizeof line);
        fprintf(out, "  %-22s %s%s%s: %s\n", r->pipeline, r->analysis, label ? " " : "", label ? label : "", line);
    }
    if (!c->nitems) {
        fprintf(out, "\nNo findings.\n\n");
        return;
    }
    size_t k = 0;
    for (int p = REVOPS_PRIORITY_CRITICAL; p >= REVOPS_PRIORITY_LOW; p--) {
        if (!counts[p]) continue;
        char head[64];
        int n = snprintf(head, sizeof head, "%s (%zu)", revops_priority_name((revops_priority)p), counts[p]);
        for (char *h = head; *h; h++) *h = (char)(*h >= 'a' && *h <= 'z' ? *h - 32 : *h);
        fprintf(out, "\n%s\n", head);
        repeat(out, '-', (size_t)n);
        fputc('\n', out);
        for (size_t i = 0; i < counts[p]; i++, k++) {
            const digest_item *it = &c->items[k];
            const char *label = analysis_label(it->analysis);
            fprintf(out, "\n[%zu] %s\n    Analysis:    %s%s%s (pipeline %s)\n", k + 1, it->title, it->analysis,
                    label ? " " : "", label ? label : "", it->pipeline);
            fputs(it->body, out);
        }
    }
    fputc('\n', out);
}

static void digest_write_markdown(report_ctx *c, const size_t *counts, FILE *out)
{
    char when[32], line[160];
    generated_at(c, when);
    fprintf(out, "# ");
    md(out, c->title);
    fprintf(out, "\n\n- **Generated:** %s\n", when);
    counts_text(counts, line, sizeof line);
    fprintf(out, "- **%s** across %zu pipeline%s\n\n| Pipeline | Analysis | Findings |\n|---|---|---|\n", line, c->nruns,
            c->nruns == 1 ? "" : "s");
    for (size_t i = 0; i < c->nruns; i++) {
        const digest_run *r = &c->runs[i];
        const char *label = analysis_label(r->analysis);
        counts_text(r->counts, line, sizeof line);
        fprintf(out, "| ");
        md(out, r->pipeline);
        fprintf(out, " | %s%s%s | %s |\n", r->analysis, label ? " " : "", label ? label : "", line);
    }
    fputc('\n', out);
    if (!c->nitems) {
        fprintf(out, "No findings.\n\n");
        return;
    }
    size_t k = 0;
    for (int p = REVOPS_PRIORITY_CRITICAL; p >= REVOPS_PRIORITY_LOW; p--) {
        if (!counts[p]) continue;
        const char *name = revops_priority_name((revops_priority)p);
        fprintf(out, "## %c%s (%zu)\n\n", name[0] - 32, name + 1, counts[p]);
        for (size_t i = 0; i < counts[p]; i++, k++) {
            const digest_item *it = &c->items[k];
            const char *label = analysis_label(it->analysis);
            fprintf(out, "### ");
            md(out, it->title);
            fprintf(out, "\n\n- **Analysis:** %s%s%s (pipeline ", it->analysis, label ? " " : "", label ? label : "");
            md(out, it->pipeline);
            fprintf(out, ")\n");
            fputs(it->body, out);
        }
    }
}

static void digest_write_json(report_ctx *c, const size_t *counts, FILE *out)
{
    fputs("{\"title\":", out);
    json_str(c, out, c->title);
    fputs(",\"runs\":[", out);
    for (size_t i = 0; i < c->nruns; i++) {
        const digest_run *r = &c->runs[i];
        fputs(i ? ",{\"pipeline\":" : "{\"pipeline\":", out);
        json_str(c, out, r->pipeline);
        fputs(",\"analysis\":", out);
        json_str(c, out, r->analysis);
        fputs(",\"session_id\":", out);
        json_str(c, out, r->session);
        fprintf(out, ",\"counts\":{\"critical\":%zu,\"high\":%zu,\"medium\":%zu,\"low\":%zu}}",
                r->counts[REVOPS_PRIORITY_CRITICAL], r->counts[REVOPS_PRIORITY_HIGH], r->counts[REVOPS_PRIORITY_MEDIUM],
                r->counts[REVOPS_PRIORITY_LOW]);
    }
    fprintf(out, "],\"counts\":{\"critical\":%zu,\"high\":%zu,\"medium\":%zu,\"low\":%zu},\"findings\":[",
            counts[REVOPS_PRIORITY_CRITICAL], counts[REVOPS_PRIORITY_HIGH], counts[REVOPS_PRIORITY_MEDIUM],
            counts[REVOPS_PRIORITY_LOW]);
    for (size_t i = 0; i < c->nitems; i++) fprintf(out, "%s%s", i ? "," : "", c->items[i].body);
    fputs("]}\n", out);
}

/* Write the digest (digest mode, at close). */
static void digest_flush(report_ctx *c)
{
    if (!c->nruns) return;   /* nothing was delivered: no report */
    if (c->nitems) qsort(c->items, c->nitems, sizeof *c->items, item_cmp);
    size_t counts[4] = { 0 };
    for (size_t i = 0; i < c->nitems; i++) counts[c->items[i].priority]++;
    clearerr(c->out);
    switch (c->format) {
    case FMT_TEXT: digest_write_text(c, counts, c->out); break;
    case FMT_MARKDOWN: digest_write_markdown(c, counts, c->out); break;
    case FMT_JSON: digest_write_json(c, counts, c->out); break;
    }
    errno = 0;
    if (fflush(c->out) != 0 || ferror(c->out))
        c->host->log(c->self, REVOPS_LOG_ERROR, "writing the digest report (%zu findings) to %s failed: %s", c->nitems,
                     strcmp(c->path, "-") ? c->path : "stdout", strerror(errno ? errno : EIO));
}

/* ---------------------------------------------------------- deliver -- */

static int make_view(const revops_batch *b, view *v)
{
    memset(v, 0, sizeof *v);
    v->batch = b;
    v->order = malloc((b->nfindings ? b->nfindings : 1) * sizeof *v->order);
    if (!v->order) return -1;
    for (size_t i = 0; i < b->nfindings; i++) {
        revops_priority p = b->findings[i]->priority;
        v->counts[p <= REVOPS_PRIORITY_CRITICAL ? p : REVOPS_PRIORITY_LOW]++;
    }
    size_t k = 0;
    for (int p = REVOPS_PRIORITY_CRITICAL; p >= REVOPS_PRIORITY_LOW; p--)
        for (size_t i = 0; i < b->nfindings; i++) {
            revops_priority fp = b->findings[i]->priority;
            if ((fp <= REVOPS_PRIORITY_CRITICAL ? (int)fp : REVOPS_PRIORITY_LOW) == p)
                v->order[k++] = b->findings[i];
        }
    return 0;
}

static revops_status fail_all(report_ctx *c, const revops_batch *b, revops_delivery *results,
                              revops_status s, const char *why)
{
    for (size_t i = 0; i < b->nfindings; i++) {
        results[i].status = s;
        snprintf(results[i].message, sizeof results[i].message, "report to %s: %s",
                 strcmp(c->path, "-") ? c->path : "stdout", why);
    }
    return s;
}

static revops_status errno_status(int e)
{
    return e == ENOSPC || e == EIO || e == EAGAIN || e == EINTR ? REVOPS_RETRY : REVOPS_ERROR;
}

/* The report is one document: it is written whole or the batch fails. */
static revops_status report_deliver(void *ctx, const revops_batch *batch, revops_delivery *results)
{
    report_ctx *c = ctx;
    if (c->digest) {
        if (digest_batch(c, batch) < 0) {
            c->host->error(c->self, "out of memory (or an unserialisable finding) collecting the digest for %s", c->path);
            return fail_all(c, batch, results, REVOPS_ERROR, "could not be collected into the digest");
        }
        for (size_t i = 0; i < batch->nfindings; i++) {
            results[i].status = REVOPS_OK;
            results[i].message[0] = '\0';
        }
        return REVOPS_OK;
    }
    view v;
    if (make_view(batch, &v) < 0) {
        c->host->error(c->self, "out of memory building the report for %s", c->path);
        return fail_all(c, batch, results, REVOPS_RETRY, "out of memory");
    }
    int bad = 0;
    clearerr(c->out);
    switch (c->format) {
    case FMT_TEXT: write_text(c, &v, c->out); break;
    case FMT_MARKDOWN: write_markdown(c, &v, c->out); break;
    case FMT_JSON: bad = write_json(c, &v, c->out) < 0; break;
    }
    free(v.order);
    if (bad) {
        fflush(c->out);
        return fail_all(c, batch, results, REVOPS_ERROR, "a finding could not be serialised");
    }
    errno = 0;
    if (fflush(c->out) != 0 || ferror(c->out)) {
        int e = errno ? errno : EIO;
        c->host->error(c->self, "writing the report to %s failed: %s",
                       strcmp(c->path, "-") ? c->path : "stdout", strerror(e));
        return fail_all(c, batch, results, errno_status(e), strerror(e));
    }
    for (size_t i = 0; i < batch->nfindings; i++) {
        results[i].status = REVOPS_OK;
        results[i].message[0] = '\0';
    }
    return REVOPS_OK;
}

/* -------------------------------------------------------- lifecycle -- */

static void report_close(void *ctx)
{
    report_ctx *c = ctx;
    if (!c) return;
    if (c->digest && c->out) digest_flush(c);
    for (size_t i = 0; i < c->nitems; i++) {
        digest_item *it = &c->items[i];
        free(it->body); free(it->analysis); free(it->pipeline); free(it->account); free(it->title);
    }
    free(c->items);
    for (size_t i = 0; i < c->nruns; i++) {
        free(c->runs[i].pipeline); free(c->runs[i].analysis); free(c->runs[i].session);
    }
    free(c->runs);
    if (c->out) {
        if (c->own_out)
            fclose(c->out);
        else
            fflush(c->out);
    }
    free(c->path);
    free(c->title);
    free(c);
}

static revops_status report_open(revops_instance *self, const revops_host *host,
                                 const revops_options *opts, void **ctx)
{
    const char *format = host->opt_string(opts, "format");
    const char *path = host->opt_string(opts, "path");
    const char *title = host->opt_string(opts, "title");
    report_ctx *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path && *path ? path : "-")) ||
        !(c->title = strdup(title ? title : "revops findings"))) {
        host->error(self, "out of memory opening report '%s'", path ? path : "-");
        report_close(c);
        return REVOPS_ERROR;
    }
    c->self = self;
    c->host = host;
    host_narrates = host->abi_minor >= 3;
    c->digest = host->opt_bool(opts, "digest");
    c->format = !format || strcmp(format, "text") == 0 ? FMT_TEXT
              : strcmp(format, "markdown") == 0 ? FMT_MARKDOWN : FMT_JSON;
    if (strcmp(c->path, "-") == 0) {
        c->out = stdout;
    } else {
        int fd = open(c->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0 || !(c->out = fdopen(fd, "a"))) {
            int e = errno;
            if (fd >= 0) close(fd);
            host->error(self, "cannot open report file '%s' for appending: %s", c->path,
                        strerror(e));
            report_close(c);
            return errno_status(e);
        }
        c->own_out = 1;
    }
    *ctx = c;
    return REVOPS_OK;
}

static const revops_action_vtable vtable = {
    .open = report_open,
    .deliver = report_deliver,
    .close = report_close,
    .flags = REVOPS_ACTION_EVERY_RUN,  /* a report of every run, not an alert */
};

static const char *const formats[] = { "text", "markdown", "json", NULL };

static const revops_option_def options[] = {
    { "format", REVOPS_OPT_ENUM, 0, "text", 0, 0, formats, 0,
      "text, markdown or json (one object per batch)" },
    { "path", REVOPS_OPT_PATH, 0, "-", 0, 0, NULL, 0,
      "file to append the report to; - for standard output" },
    { "title", REVOPS_OPT_STRING, 0, "revops findings", 0, 0, NULL, 0,
      "heading of the report" },
    { "digest", REVOPS_OPT_BOOL, 0, "false", 0, 0, NULL, 0,
      "one report for all pipelines of a run, findings ranked by priority across analyses, "
      "written when the run ends (default: one report per pipeline)" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_ACTION, "report", "1.0.0",
    "a readable report of each batch: text, markdown or json",
    options, { .action = &vtable }
};
