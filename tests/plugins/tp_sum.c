/* Test analysis "tp_sum" (type A5): sums the `id` column of its input and
 * emits `findings` findings; finding k has priority k % 4 and score
 * (k+1)/findings, and its signal "rows" / "id_sum" carry what it saw, so the
 * tests can tell whether any row arrived twice or not at all.  For the
 * outbox tests: `omit` leaves finding k out (it closes), `raise` makes
 * finding k critical, `owner_domain` gives even findings an owner
 * owner-k@DOMAIN. */
#include <revops/revops.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct state {
    const revops_host *host;
    revops_instance *self;
    int64_t rows, id_sum, findings, omit, raise;
    const char *owner_domain;
    int64_t priority_offset;   /* raises every finding's priority (capped at critical) */
    int64_t order_hash;        /* over (input, chunk, id) in arrival order: the feeding order shows */
    int with_order;
    long id_col;
} state;

static revops_status s_init(revops_instance *self, const revops_host *host, const revops_options *o,
                            const revops_run_info *run, void **out)
{
    (void)run;
    state *s = calloc(1, sizeof *s);
    if (!s) return REVOPS_ERROR;
    s->host = host;
    s->self = self;
    s->findings = host->opt_int(o, "findings");
    s->omit = host->opt_int(o, "omit");
    s->raise = host->opt_int(o, "raise");
    s->owner_domain = host->opt_string(o, "owner_domain");
    s->priority_offset = host->opt_int(o, "priority_offset");
    s->with_order = host->opt_bool(o, "order_signal");
    s->id_col = -1;
    *out = s;
    return REVOPS_OK;
}

static revops_status s_chunk(void *p, const revops_chunk *c)
{
    state *s = p;
    long col = revops_column_index(c, "id");
    if (s->id_col < 0) s->id_col = col;
    for (const char *d = c->dataset; *d; d++) s->order_hash = (s->order_hash * 31 + *d) % 1000000007;
    s->order_hash = (s->order_hash * 31 + (int64_t)c->chunk_index) % 1000000007;
    for (size_t r = 0; r < c->nrows; r++) {
        const revops_value *v = revops_cell(c, r, (size_t)col);
        if (v->type == REVOPS_TYPE_INT) s->id_sum += v->v.i;
        if (v->type == REVOPS_TYPE_INT) s->order_hash = (s->order_hash * 31 + v->v.i) % 1000000007;
        s->rows++;
    }
    return REVOPS_OK;
}

static revops_status s_finalize(void *p, revops_emitter *e)
{
    state *s = p;
    for (int64_t k = 0; k < s->findings; k++) {
        if (k == s->omit) continue;
        char account[32], title[64], owner[128];
        snprintf(account, sizeof account, "acct-%03lld", (long long)k);
        snprintf(title, sizeof title, "finding %lld", (long long)k);
        revops_signal sig[3] = { { "rows", (double)s->rows, 0, 0.5, "rows seen" },
                                 { "id_sum", (double)s->id_sum, 0, 0.5, "sum of ids" },
                                 { "order", (double)s->order_hash, 0, 0.5, "inputs, chunks and ids in arrival order" } };
        revops_finding f = { "A5", account, NULL, NULL, "test", (revops_priority)(k % 4 + s->priority_offset > 3 ? 3 : k % 4 + s->priority_offset),
                             (double)(k + 1) / (double)s->findings, 1.0, title, "a test finding", s->with_order ? 3 : 2, sig, 0, NULL, "", 0, NULL, 0, NULL, NULL, NULL };
        if (k == s->raise) f.priority = REVOPS_PRIORITY_CRITICAL;
        if (s->owner_domain && s->owner_domain[0] && k % 2 == 0) {
            snprintf(owner, sizeof owner, "owner-%lld@%s", (long long)k, s->owner_domain);
            f.owner = owner;
        }
        revops_status st = s->host->emit_finding(e, &f);
        if (st != REVOPS_OK) return st;
    }
    return REVOPS_OK;
}

static void s_destroy(void *p)
{
    free(p);
}

static const revops_input_def inputs[] = {
    { "rows", 1, "id", "rows with an integer id" },
    /* Optional: the parallelism tests feed several inputs from several sources. */
    { "more", 0, "id", "more rows with an integer id" },
    { "more2", 0, "id", "more rows with an integer id" },
    { NULL, 0, NULL, NULL },
};
static const revops_option_def options[] = {
    { "findings", REVOPS_OPT_INT, 0, "4", 0, 1000, NULL, 0, "how many findings to emit" },
    { "omit", REVOPS_OPT_INT, 0, "-1", -1, 1000, NULL, 0, "leave finding k out" },
    { "raise", REVOPS_OPT_INT, 0, "-1", -1, 1000, NULL, 0, "make finding k critical" },
    { "owner_domain", REVOPS_OPT_STRING, 0, "", 0, 0, NULL, 0, "even findings get owner-k@DOMAIN" },
    { "order_signal", REVOPS_OPT_BOOL, 0, "false", 0, 0, NULL, 0, "add a signal hashing the order rows arrived in" },
    { "priority_offset", REVOPS_OPT_INT, 0, "0", 0, 3, NULL, 0, "added to each finding's priority (k % 4), capped at critical" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};
static const revops_analysis_vtable vt = { "A5", inputs, s_init, s_chunk, s_finalize, s_destroy };
REVOPS_PLUGIN = { REVOPS_PLUGIN_HEADER, REVOPS_KIND_ANALYSIS, "tp_sum", "1.0.0", "test analysis", options, { .analysis = &vt } };
