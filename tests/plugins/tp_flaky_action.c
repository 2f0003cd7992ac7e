/* Test action "tp_flaky": records each delivered finding's fingerprint in
 * `path`.  With fail_first = true every finding's first delivery returns
 * RETRY (so the core must deliver it again, and only it); with fail_always =
 * true every delivery fails with ERROR. */
#include <revops/revops.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct ctx {
    const revops_host *host;
    revops_instance *self;
    const char *path;
    int fail_first, fail_always;
    int64_t sleep_ms;      /* per finding: a slow sink, for the daemon's SIGTERM test */
    char seen[256][65];
    size_t nseen;
    const char *message;   /* a template, rendered (JSON-escaped) after the account id */
} ctx;

static revops_status a_open(revops_instance *self, const revops_host *host, const revops_options *o, void **out)
{
    ctx *c = calloc(1, sizeof *c);
    if (!c) return REVOPS_ERROR;
    c->host = host;
    c->self = self;
    c->path = host->opt_string(o, "path");
    c->fail_first = host->opt_bool(o, "fail_first");
    c->fail_always = host->opt_bool(o, "fail_always");
    c->message = host->opt_string(o, "message");
    c->sleep_ms = host->opt_int(o, "sleep_ms");
    *out = c;
    return REVOPS_OK;
}

static int seen_before(ctx *c, const char *fp)
{
    for (size_t i = 0; i < c->nseen; i++)
        if (!strcmp(c->seen[i], fp)) return 1;
    if (c->nseen < 256) memcpy(c->seen[c->nseen++], fp, 65);
    return 0;
}

static revops_status a_deliver(void *p, const revops_batch *b, revops_delivery *res)
{
    ctx *c = p;
    FILE *f = fopen(c->path, "a");
    if (!f) {
        c->host->error(c->self, "cannot open %s", c->path);
        return REVOPS_ERROR;
    }
    for (size_t i = 0; i < b->nfindings; i++) {
        const revops_finding *x = b->findings[i];
        struct timespec left = { (time_t)(c->sleep_ms / 1000), (long)(c->sleep_ms % 1000) * 1000000L };
        while (c->sleep_ms > 0 && nanosleep(&left, &left) != 0) {}
        if (c->fail_always) {
            res[i].status = REVOPS_ERROR;
            snprintf(res[i].message, sizeof res[i].message, "simulated permanent failure");
        } else if (c->fail_first && !seen_before(c, x->fingerprint)) {
            res[i].status = REVOPS_RETRY;
            snprintf(res[i].message, sizeof res[i].message, "simulated 503 for %s", x->account_id);
        } else {
            res[i].status = REVOPS_OK;
            if (c->message) {
                char *m = c->host->render(c->message, x, b, REVOPS_ESC_JSON, 40);
                fprintf(f, "%s %s %s %s\n", x->fingerprint, x->account_id,
                        c->host->abi_minor >= 4 && b->delivery_ids ? b->delivery_ids[i] : "-", m);
                c->host->free(m);
            } else {
                fprintf(f, "%s %s\n", x->fingerprint, x->account_id);
            }
            fflush(f);  /* a test watching the file sees each delivery as it happens */
        }
    }
    fclose(f);
    return REVOPS_OK;
}

static void a_close(void *p)
{
    free(p);
}

static const revops_option_def options[] = {
    { "path", REVOPS_OPT_PATH, 1, NULL, 0, 0, NULL, 0, "file that records deliveries" },
    { "fail_first", REVOPS_OPT_BOOL, 0, "false", 0, 0, NULL, 0, "first delivery of each finding returns RETRY" },
    { "fail_always", REVOPS_OPT_BOOL, 0, "false", 0, 0, NULL, 0, "every delivery returns ERROR" },
    { "message", REVOPS_OPT_TEMPLATE, 0, NULL, 0, 0, NULL, 0, "a message template written after each delivery" },
    { "sleep_ms", REVOPS_OPT_INT, 0, "0", 0, 600000, NULL, 0, "sleep this long before each finding (a slow sink)" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};
static const revops_action_vtable vt = { .open = a_open, .deliver = a_deliver, .close = a_close };
REVOPS_PLUGIN = { REVOPS_PLUGIN_HEADER, REVOPS_KIND_ACTION, "tp_flaky", "1.0.0", "test action", options, { .action = &vt } };
