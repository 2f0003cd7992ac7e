/* pool_map (core/pool.c), TAP.  The peaks are measured here, by the items
 * themselves (each sleeps so that the workers overlap), and the expected
 * values are worked out by hand from the spec's rule: n items cut into
 * `batches` contiguous batches, each with up to `concurrency` in flight. */
#include "config.h"
#include "../core/core.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap.h"

#define MAXN 64

typedef struct probe {
    atomic_int runs[MAXN];        /* times item i ran */
    atomic_int in_flight, peak;
    pthread_t thread[MAXN];       /* who ran item i */
    atomic_int order[MAXN];       /* item i ran as the order[i]-th (0-based) */
    atomic_int next_order;
    double sleep;
    atomic_int context_bad;
} probe;

static void item(void *arg, size_t i)
{
    probe *p = arg;
    int now = atomic_fetch_add(&p->in_flight, 1) + 1;
    int peak = atomic_load(&p->peak);
    while (now > peak && !atomic_compare_exchange_weak(&p->peak, &peak, now)) {}
    p->runs[i]++;
    p->thread[i] = pthread_self();
    p->order[i] = atomic_fetch_add(&p->next_order, 1);
    log_context ctx;
    log_context_save(&ctx);
    if (strcmp(ctx.session, "sess_1") || strcmp(ctx.pipeline, "pipe") || strcmp(ctx.step, "gather")) p->context_bad++;
    if (p->sleep > 0) sleep_seconds(p->sleep);
    atomic_fetch_sub(&p->in_flight, 1);
}

static probe *run(int batches, int concurrency, size_t n, double sleep, size_t *returned)
{
    probe *p = calloc(1, sizeof *p);
    p->sleep = sleep;
    parallelism par = { batches, concurrency };
    *returned = pool_map(&par, n, item, p);
    return p;
}

static int each_once(const probe *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p->runs[i] != 1) return 0;
    for (size_t i = n; i < MAXN; i++)
        if (p->runs[i] != 0) return 0;
    return 1;
}

static void test_bound(int b, int c, size_t n, int expect_peak)
{
    size_t ret;
    probe *p = run(b, c, n, 0.05, &ret);
    ok(each_once(p, n), "%d x %d, %zu items: every index ran exactly once", b, c, n);
    ok(p->peak == expect_peak, "%d x %d, %zu items: peak in flight %d (expected %d)", b, c, n, (int)p->peak, expect_peak);
    ok(ret == (size_t)expect_peak, "%d x %d, %zu items: pool_map reports the peak %zu", b, c, n, ret);
    ok(p->context_bad == 0, "%d x %d, %zu items: every item logged under the caller's context", b, c, n);
    free(p);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    log_setup(REVOPS_LOG_ERROR, LOG_FORMAT_TEXT);
    log_set_context("sess_1", "pipe", "gather");

    /* The spec's 3 x 5 over 45 findings: three batches of 15, five each. */
    test_bound(3, 5, 45, 15);
    test_bound(2, 2, 45, 4);
    test_bound(1, 1, 10, 1);
    /* Fewer items than the bound: 7 items in batches of 2, 2, 3. */
    test_bound(3, 5, 7, 7);
    /* More batches than items: one item per batch, no empty batch. */
    test_bound(4, 1, 3, 3);
    /* One batch of 3 concurrent. */
    test_bound(1, 3, 9, 3);

    /* Inline: a bound of 1, and a single item, run on the caller's thread
     * in order. */
    size_t ret;
    probe *p = run(1, 1, 20, 0, &ret);
    int inline_ok = 1;
    for (size_t i = 0; i < 20; i++)
        if (!pthread_equal(p->thread[i], pthread_self()) || p->order[i] != (int)i) inline_ok = 0;
    ok(inline_ok, "1 x 1: all 20 items ran on the caller's thread, in order");
    free(p);
    p = run(3, 5, 1, 0, &ret);
    ok(p->runs[0] == 1 && pthread_equal(p->thread[0], pthread_self()), "3 x 5, one item: ran inline on the caller's thread");
    free(p);
    p = run(3, 5, 0, 0, &ret);
    ok(each_once(p, 0) && ret == 0, "no items: nothing ran, peak 0");
    free(p);

    /* Contiguous batches: 2 x 1 over 10 items is two threads, one taking
     * 0..4 in order, the other 5..9 in order. */
    p = run(2, 1, 10, 0.01, &ret);
    int contiguous = each_once(p, 10) && !pthread_equal(p->thread[0], p->thread[5]);
    for (size_t i = 1; i < 10; i++) {
        if (i == 5) continue;
        if (!pthread_equal(p->thread[i], p->thread[i - 1]) || p->order[i] < p->order[i - 1]) contiguous = 0;
    }
    ok(contiguous, "2 x 1 over 10 items: batch 1 is items 0-4 on one thread in order, batch 2 is 5-9 on another");
    ok(!pthread_equal(p->thread[0], pthread_self()), "2 x 1: the items ran on worker threads, not the caller's");
    free(p);

    /* Wall time: 45 items of 50 ms at 3 x 5 are three rounds (~150 ms);
     * sequential they are 2.25 s.  Generous bounds: shared CI cores. */
    double t0 = mono_now();
    p = run(3, 5, 45, 0.05, &ret);
    double wall = mono_now() - t0;
    free(p);
    ok(wall >= 0.15 && wall < 0.6, "3 x 5 over 45 items of 50 ms took %.3fs (ideal 0.150s)", wall);

    printf("1..%d\n", n_tests);
    return n_failed ? 1 : 0;
}
