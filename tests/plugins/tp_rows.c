/* Test source "tp_rows": N deterministic rows (id, name, day, value).  With
 * fail_times = K it writes half of its rows and then returns RETRY, K times,
 * so tests can check that a retried fetch hands no row over twice. */
#include <revops/revops.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct ctx {
    const revops_host *host;
    revops_instance *self;
    int64_t rows, fail_times, failures, sleep_ms, delay_ms, id_base;
} ctx;

static revops_status tp_open(revops_instance *self, const revops_host *host, const revops_options *o, void **out)
{
    ctx *c = calloc(1, sizeof *c);
    if (!c) return REVOPS_ERROR;
    c->host = host;
    c->self = self;
    c->rows = host->opt_int(o, "rows");
    c->fail_times = host->opt_int(o, "fail_times");
    c->sleep_ms = host->opt_int(o, "sleep_ms");
    c->delay_ms = host->opt_int(o, "delay_ms");
    c->id_base = host->opt_int(o, "id_base");
    /* expect_secret (sensitive, resolved by the core) must equal
     * expect_value: lets tests check secret references end to end without
     * the plugin ever printing the secret. */
    const char *secret = host->opt_string(o, "expect_secret"), *want = host->opt_string(o, "expect_value");
    if (secret && want && strcmp(secret, want) != 0) {
        host->error(self, "the resolved secret is not the expected value");
        free(c);
        return REVOPS_ERROR;
    }
    *out = c;
    return REVOPS_OK;
}

static revops_status tp_fetch(void *p, const revops_query *q, revops_stream *s)
{
    ctx *c = p;
    (void)q;
    static const revops_column cols[] = {
        { "id", REVOPS_TYPE_INT }, { "name", REVOPS_TYPE_TEXT }, { "day", REVOPS_TYPE_DATE }, { "value", REVOPS_TYPE_REAL },
    };
    revops_status st = c->host->stream_columns(s, 4, cols);
    if (st != REVOPS_OK) return st;
    /* A slow source for the daemon's tests: the whole sleep even when a
     * signal interrupts it, as a real query would go on. */
    struct timespec left = { (time_t)(c->sleep_ms / 1000), (long)(c->sleep_ms % 1000) * 1000000L };
    while (c->sleep_ms > 0 && nanosleep(&left, &left) != 0) {}
    if (c->delay_ms > 0) {
        /* A slow source, for the parallelism tests: half the wait before
         * the first row, half before the second half. */
        struct timespec ts = { (time_t)(c->delay_ms / 2000), (long)(c->delay_ms / 2 % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    int failing = c->failures < c->fail_times;
    int64_t stop = failing ? c->rows / 2 : c->rows;
    for (int64_t i = 0; i < stop; i++) {
        char name[32], day[11];
        snprintf(name, sizeof name, "row-%lld", (long long)i);
        c->host->date_format(20000 + i % 365, day);
        revops_value v[4];
        v[0].type = REVOPS_TYPE_INT;
        v[0].v.i = c->id_base + i;
        if (c->delay_ms > 0 && i == stop / 2) {
            struct timespec ts = { (time_t)(c->delay_ms / 2000), (long)(c->delay_ms / 2 % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
        v[1].type = REVOPS_TYPE_TEXT;
        v[1].v.text.s = name;
        v[1].v.text.len = strlen(name);
        v[2].type = REVOPS_TYPE_TEXT;  /* the core normalises it to DATE */
        v[2].v.text.s = day;
        v[2].v.text.len = 10;
        v[3].type = i % 5 == 4 ? REVOPS_TYPE_NULL : REVOPS_TYPE_REAL;
        v[3].v.r = (double)i * 1.5;
        if ((st = c->host->stream_row(s, v)) != REVOPS_OK) return st;
    }
    if (failing) {
        c->failures++;
        c->host->error(c->self, "simulated transient failure %lld of %lld", (long long)c->failures, (long long)c->fail_times);
        return REVOPS_RETRY;
    }
    return REVOPS_OK;
}

static void tp_close(void *p)
{
    free(p);
}

static const revops_option_def options[] = {
    { "rows", REVOPS_OPT_INT, 0, "10", 0, 10000000, NULL, 0, "how many rows to produce" },
    { "fail_times", REVOPS_OPT_INT, 0, "0", 0, 100, NULL, 0, "fail (RETRY) this many times after half the rows" },
    { "sleep_ms", REVOPS_OPT_INT, 0, "0", 0, 600000, NULL, 0, "sleep this long before the rows (a slow source)" },
    { "delay_ms", REVOPS_OPT_INT, 0, "0", 0, 60000, NULL, 0, "take this long per fetch (half before the rows, half midway)" },
    { "id_base", REVOPS_OPT_INT, 0, "0", 0, 1000000000, NULL, 0, "the first row's id" },
    { "expect_secret", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 1, "a secret reference to resolve (tests)" },
    { "expect_value", REVOPS_OPT_STRING, 0, NULL, 0, 0, NULL, 0, "the value expect_secret must resolve to" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};

static const revops_source_vtable vt = { tp_open, tp_fetch, tp_close, NULL, NULL, NULL };  /* no tools, no dialect */

REVOPS_PLUGIN = { REVOPS_PLUGIN_HEADER, REVOPS_KIND_SOURCE, "tp_rows", "1.0.0", "test rows", options, { .source = &vt } };
