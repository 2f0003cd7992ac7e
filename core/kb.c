/*
 * The schema knowledge base: markdown documents split into passages and
 * ranked with Okapi BM25, locally (the spec's Bedrock knowledge base, without
 * an external service).  The data agent puts the top passages for its task
 * into the model's prompt; `revops kb search` shows what it would retrieve.
 *
 * Passages: a document is cut at every heading line (#, ##, ###...); a
 * passage is its heading path ("Table opportunity_d > Columns of
 * opportunity_d") and the text up to the next heading, so it reads alone.
 *
 * Terms: lower-cased runs of letters, digits and '_' (bytes >= 0x80 count as
 * letters, so UTF-8 words stay whole); a snake_case identifier is indexed
 * whole and by its parts, so "closed lost reason" finds
 * closed_won_lost_reason.  A short list of English stop words is dropped.
 * The heading path is indexed with the text: a heading is what a passage is
 * about.
 *
 * BM25 (Robertson et al.): score(q, p) = sum over query terms t of
 *   idf(t) * tf(t,p) * (k1 + 1) / (tf(t,p) + k1 * (1 - b + b * |p| / avgdl))
 * with idf(t) = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5)), k1 = 1.2, b = 0.75.
 */
#include "config.h"
#include "core.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define KB_K1 1.2
#define KB_B 0.75

typedef struct kb_term {
    char *term;
    size_t tf;
} kb_term;

typedef struct kb_passage {
    char *file;          /* as found (directory + name) */
    int line;            /* of its heading (1-based), or 1 */
    char *heading;       /* "A > B > C" */
    char *text;          /* the body, trimmed */
    kb_term *terms;      /* distinct terms and their counts */
    size_t nterms;
    size_t length;       /* number of term occurrences */
} kb_passage;

struct kb {
    kb_passage *v;
    size_t n, cap;
    double avgdl;
    revops_map df;       /* term -> number of passages holding it (as intptr_t) */
};

static const char *const stop_words[] = {
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is", "it",
    "its", "of", "on", "or", "that", "the", "this", "to", "was", "were", "which", "with", NULL,
};

static int is_stop(const char *w)
{
    for (size_t i = 0; stop_words[i]; i++)
        if (!strcmp(stop_words[i], w)) return 1;
    return 0;
}

static int term_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

typedef void (*term_fn)(void *data, const char *term);

/* Call fn for each term of text: words, and the parts of snake_case ones. */
static void each_term(const char *text, term_fn fn, void *data)
{
    const unsigned char *p = (const unsigned char *)text;
    char word[128];
    while (*p) {
        while (*p && !term_char(*p)) p++;
        size_t n = 0;
        while (*p && term_char(*p)) {
            if (n + 1 < sizeof word) word[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
            p++;
        }
        word[n] = '\0';
        /* trim '_' at the ends: "_x_" is "x" */
        char *w = word;
        while (*w == '_') w++;
        size_t len = strlen(w);
        while (len && w[len - 1] == '_') w[--len] = '\0';
        if (!len || is_stop(w)) continue;
        fn(data, w);
        if (strchr(w, '_')) {
            char copy[128], *save = NULL;
            snprintf(copy, sizeof copy, "%s", w);
            for (char *t = strtok_r(copy, "_", &save); t; t = strtok_r(NULL, "_", &save))
                if (!is_stop(t)) fn(data, t);
        }
    }
}

typedef struct counter {
    revops_map counts;   /* term -> count (intptr_t) */
    size_t total;
} counter;

static void count_term(void *data, const char *term)
{
    counter *c = data;
    void **slot = revops_map_slot(&c->counts, term);
    if (!slot) oom();
    *slot = (void *)((intptr_t)*slot + 1);
    c->total++;
}

static int term_cmp(const void *a, const void *b)
{
    return strcmp(((const kb_term *)a)->term, ((const kb_term *)b)->term);
}

static void add_passage(kb *k, const char *file, int line, const char *heading, const char *body)
{
    /* trim the body */
    while (*body == '\n' || *body == ' ' || *body == '\r' || *body == '\t') body++;
    size_t len = strlen(body);
    while (len && strchr(" \t\r\n", body[len - 1])) len--;
    if (!len && !*heading) return;
    if (k->n == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 64;
        k->v = xrealloc(k->v, k->cap * sizeof *k->v);
    }
    kb_passage *p = &k->v[k->n++];
    memset(p, 0, sizeof *p);
    p->file = xstrdup(file);
    p->line = line;
    p->heading = xstrdup(heading);
    p->text = xmalloc(len + 1);
    memcpy(p->text, body, len);
    p->text[len] = '\0';
    counter c = { { 0 }, 0 };
    each_term(p->heading, count_term, &c);
    each_term(p->text, count_term, &c);
    p->terms = xcalloc(c.counts.count ? c.counts.count : 1, sizeof *p->terms);
    for (size_t i = 0; i < c.counts.cap; i++) {
        if (!c.counts.keys[i]) continue;
        p->terms[p->nterms].term = xstrdup(c.counts.keys[i]);
        p->terms[p->nterms].tf = (size_t)(intptr_t)c.counts.vals[i];
        p->nterms++;
        void **slot = revops_map_slot(&k->df, c.counts.keys[i]);
        if (!slot) oom();
        *slot = (void *)((intptr_t)*slot + 1);
    }
    qsort(p->terms, p->nterms, sizeof *p->terms, term_cmp);
    p->length = c.total;
    revops_map_free(&c.counts, NULL);
}

/* Cut one markdown document into passages at its headings. */
static int load_doc(kb *k, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "knowledge base document %s: %s", path, strerror(errno));
        return -1;
    }
    char *titles[8] = { 0 };
    strbuf body = { 0 }, heading = { 0 };
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, head_line = 1, in_code = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (!strncmp(line, "```", 3)) in_code = !in_code;
        int level = 0;
        while (!in_code && line[level] == '#') level++;
        if (level >= 1 && level <= 6 && (line[level] == ' ' || line[level] == '\t')) {
            add_passage(k, path, head_line, heading.buf ? heading.buf : "", body.buf ? body.buf : "");
            sb_free(&body);
            char *t = line + level;
            while (*t == ' ' || *t == '\t') t++;
            size_t tl = strcspn(t, "\r\n");
            while (tl && (t[tl - 1] == '#' || t[tl - 1] == ' ')) tl--;   /* closing #s */
            int slot = level > 8 ? 7 : level - 1;
            free(titles[slot]);
            titles[slot] = xmalloc(tl + 1);
            memcpy(titles[slot], t, tl);
            titles[slot][tl] = '\0';
            for (int i = slot + 1; i < 8; i++) { free(titles[i]); titles[i] = NULL; }
            /* The path below the document title (level 1) names the passage;
             * a top-level passage is named by the title itself. */
            sb_free(&heading);
            for (int i = 0; i < 8; i++) {
                if (!titles[i] || (i == 0 && slot > 0)) continue;
                sb_printf(&heading, "%s%s", heading.len ? " > " : "", titles[i]);
            }
            head_line = lineno;
            continue;
        }
        sb_add(&body, line, (size_t)n);
    }
    add_passage(k, path, head_line, heading.buf ? heading.buf : "", body.buf ? body.buf : "");
    int bad = ferror(f);
    fclose(f);
    free(line);
    sb_free(&body);
    sb_free(&heading);
    for (int i = 0; i < 8; i++) free(titles[i]);
    if (bad) {
        snprintf(err, errlen, "knowledge base document %s: read error", path);
        return -1;
    }
    return 0;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The documents of path: its *.md sorted by name (the same index on every
 * machine), or path itself when it is a file; -1 + err when unreadable. */
static int kb_files(const char *path, char ***files_out, size_t *n_out, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        snprintf(err, errlen, "knowledge base %s: %s", path, strerror(errno));
        return -1;
    }
    char **files = NULL;
    size_t nfiles = 0;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) {
            snprintf(err, errlen, "knowledge base %s: %s", path, strerror(errno));
            return -1;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
            size_t l = strlen(de->d_name);
            if (de->d_name[0] == '.' || l < 4 || strcmp(de->d_name + l - 3, ".md")) continue;
            files = xrealloc(files, (nfiles + 1) * sizeof *files);
            files[nfiles++] = xasprintf("%s/%s", path, de->d_name);
        }
        closedir(d);
        if (nfiles) qsort(files, nfiles, sizeof *files, str_cmp);
    } else {
        files = xmalloc(sizeof *files);
        files[nfiles++] = xstrdup(path);
    }
    *files_out = files;
    *n_out = nfiles;
    return 0;
}

static void files_free(char **files, size_t n)
{
    for (size_t i = 0; i < n; i++) free(files[i]);
    free(files);
}

int kb_check(const char *path, char *err, size_t errlen)
{
    char **files;
    size_t n;
    if (kb_files(path, &files, &n, err, errlen) < 0) return -1;
    files_free(files, n);
    if (!n) snprintf(err, errlen, "knowledge base %s: no markdown (*.md) passages found", path);
    return n ? 0 : -1;
}

kb *kb_load(const char *path, char *err, size_t errlen)
{
    char **files;
    size_t nfiles;
    if (kb_files(path, &files, &nfiles, err, errlen) < 0) return NULL;
    kb *k = xcalloc(1, sizeof *k);
    int rc = 0;
    for (size_t i = 0; i < nfiles && !rc; i++)
        if (load_doc(k, files[i], err, errlen) < 0) rc = -1;
    files_free(files, nfiles);
    if (!rc && !k->n) {
        snprintf(err, errlen, "knowledge base %s: no markdown (*.md) passages found", path);
        rc = -1;
    }
    if (rc) {
        kb_free(k);
        return NULL;
    }
    double total = 0;
    for (size_t i = 0; i < k->n; i++) total += (double)k->v[i].length;
    k->avgdl = total / (double)k->n;
    return k;
}

size_t kb_size(const kb *k)
{
    return k->n;
}

static size_t tf_of(const kb_passage *p, const char *term)
{
    kb_term key = { (char *)term, 0 };
    const kb_term *t = bsearch(&key, p->terms, p->nterms, sizeof *p->terms, term_cmp);
    return t ? t->tf : 0;
}

typedef struct query_terms {
    char **v;
    size_t n;
} query_terms;

static void add_query_term(void *data, const char *term)
{
    query_terms *q = data;
    for (size_t i = 0; i < q->n; i++)
        if (!strcmp(q->v[i], term)) return;   /* a repeated query word counts once */
    q->v = xrealloc(q->v, (q->n + 1) * sizeof *q->v);
    q->v[q->n++] = xstrdup(term);
}

static int hit_cmp(const void *pa, const void *pb)
{
    const kb_hit *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    int c = strcmp(a->file, b->file);
    return c ? c : (a->line > b->line) - (a->line < b->line);
}

size_t kb_search(const kb *k, const char *query, size_t max, kb_hit *out)
{
    query_terms q = { NULL, 0 };
    each_term(query, add_query_term, &q);
    kb_hit *all = xcalloc(k->n ? k->n : 1, sizeof *all);
    size_t nhits = 0;
    for (size_t i = 0; i < k->n; i++) {
        const kb_passage *p = &k->v[i];
        double score = 0;
        for (size_t t = 0; t < q.n; t++) {
            size_t tf = tf_of(p, q.v[t]);
            if (!tf) continue;
            double df = (double)(intptr_t)revops_map_get(&k->df, q.v[t]);
            double idf = log(1.0 + ((double)k->n - df + 0.5) / (df + 0.5));
            score += idf * (double)tf * (KB_K1 + 1.0) /
                     ((double)tf + KB_K1 * (1.0 - KB_B + KB_B * (double)p->length / k->avgdl));
        }
        if (score <= 0) continue;
        all[nhits].file = p->file;
        all[nhits].line = p->line;
        all[nhits].heading = p->heading;
        all[nhits].text = p->text;
        all[nhits].score = score;
        nhits++;
    }
    if (nhits) qsort(all, nhits, sizeof *all, hit_cmp);
    size_t n = nhits < max ? nhits : max;
    memcpy(out, all, n * sizeof *out);
    free(all);
    for (size_t t = 0; t < q.n; t++) free(q.v[t]);
    free(q.v);
    return n;
}

void kb_free(kb *k)
{
    if (!k) return;
    for (size_t i = 0; i < k->n; i++) {
        kb_passage *p = &k->v[i];
        for (size_t t = 0; t < p->nterms; t++) free(p->terms[t].term);
        free(p->terms);
        free(p->file);
        free(p->heading);
        free(p->text);
    }
    free(k->v);
    revops_map_free(&k->df, NULL);
    free(k);
}
