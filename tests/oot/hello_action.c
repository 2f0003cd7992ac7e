/* An action plugin as a third party writes it: built out of tree with
 *   cc -fPIC -shared $(pkg-config --cflags revops-plugin) -o hello.so hello_action.c
 * It includes nothing of revops but the installed contract. */
#include <revops/revops.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct hello {
    const revops_host *host;
    revops_instance *self;
    FILE *out;
    const char *greeting;
} hello;

static revops_status h_open(revops_instance *self, const revops_host *host, const revops_options *o, void **ctx)
{
    hello *h = calloc(1, sizeof *h);
    if (!h) return REVOPS_ERROR;
    h->host = host;
    h->self = self;
    h->greeting = host->opt_string(o, "greeting");
    h->out = fopen(host->opt_string(o, "path"), "a");
    if (!h->out) {
        host->error(self, "cannot open %s", host->opt_string(o, "path"));
        free(h);
        return REVOPS_ERROR;
    }
    *ctx = h;
    return REVOPS_OK;
}

static revops_status h_deliver(void *ctx, const revops_batch *b, revops_delivery *res)
{
    hello *h = ctx;
    for (size_t i = 0; i < b->nfindings; i++) {
        fprintf(h->out, "%s: %s [%s] %s\n", h->greeting, b->findings[i]->account_id,
                revops_priority_name(b->findings[i]->priority), b->findings[i]->title);
        res[i].status = REVOPS_OK;
    }
    h->host->log(h->self, REVOPS_LOG_INFO, "greeted %zu findings of session %s", b->nfindings, b->session_id);
    return REVOPS_OK;
}

static void h_close(void *ctx)
{
    hello *h = ctx;
    fclose(h->out);
    free(h);
}

static const revops_option_def options[] = {
    { "greeting", REVOPS_OPT_STRING, 0, "Hello", 0, 0, NULL, 0, "what to say" },
    { "path", REVOPS_OPT_PATH, 1, NULL, 0, 0, NULL, 0, "where to write" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};
static const revops_action_vtable vt = { .open = h_open, .deliver = h_deliver, .close = h_close };
REVOPS_PLUGIN = { REVOPS_PLUGIN_HEADER, REVOPS_KIND_ACTION, "hello", "0.1.0", "greets every finding", options, { .action = &vt } };
