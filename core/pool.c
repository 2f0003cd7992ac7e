/* The worker pool behind the spec's controlled parallelism ("3 batches, 5
 * concurrent per batch").  A fan-out's n items are cut into `batches`
 * contiguous ranges; each range gets up to `concurrency` threads that take
 * its next item in order, so batch k works through [lo_k, hi_k) front to
 * back and at most batches x concurrency items are in flight at once.
 *
 * Threads live for one pool_map call only: a fan-out is a few dozen
 * requests of 50 ms to seconds each, next to which creating 15 threads
 * (~20 us each) is noise, and a pool that outlives the call would need its
 * own shutdown story in the daemon.  With a bound of 1, or one item, the
 * items run inline on the caller's thread: a 1 x 1 run is exactly the
 * sequential run, with no thread at all.
 *
 * Workers log under the caller's context (session, pipeline, step): the
 * context is per thread (log.c), so each worker is given a copy. */
#include "config.h"
#include "core.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct pool_batch {
    size_t next, hi;           /* the next item to take, the range's end */
} pool_batch;

typedef struct pool_run {
    pthread_mutex_t mu;
    pool_batch *batches;
    void (*fn)(void *arg, size_t i);
    void *arg;
    size_t in_flight, peak;
    log_context log;
} pool_run;

typedef struct pool_worker {
    pool_run *run;
    size_t batch;
    pthread_t tid;
} pool_worker;

static void *worker_main(void *data)
{
    pool_worker *w = data;
    pool_run *pr = w->run;
    log_context_restore(&pr->log);
    for (;;) {
        pthread_mutex_lock(&pr->mu);
        pool_batch *b = &pr->batches[w->batch];
        if (b->next >= b->hi) {
            pthread_mutex_unlock(&pr->mu);
            break;
        }
        size_t i = b->next++;
        if (++pr->in_flight > pr->peak) pr->peak = pr->in_flight;
        pthread_mutex_unlock(&pr->mu);
        pr->fn(pr->arg, i);
        pthread_mutex_lock(&pr->mu);
        pr->in_flight--;
        pthread_mutex_unlock(&pr->mu);
    }
    return NULL;
}

size_t pool_bound(const parallelism *par)
{
    size_t b = par && par->batches > 0 ? (size_t)par->batches : 1;
    size_t c = par && par->concurrency > 0 ? (size_t)par->concurrency : 1;
    return b * c;
}

size_t pool_map(const parallelism *par, size_t n, void (*fn)(void *arg, size_t i), void *arg)
{
    if (n == 0) return 0;
    size_t nb = par && par->batches > 0 ? (size_t)par->batches : 1;
    size_t conc = par && par->concurrency > 0 ? (size_t)par->concurrency : 1;
    if (nb * conc == 1 || n == 1) {
        for (size_t i = 0; i < n; i++) fn(arg, i);
        return 1;
    }
    if (nb > n) nb = n;   /* no empty batches */
    pool_run pr = { .fn = fn, .arg = arg };
    pthread_mutex_init(&pr.mu, NULL);
    log_context_save(&pr.log);
    pr.batches = xcalloc(nb, sizeof *pr.batches);
    size_t nworkers = 0;
    for (size_t k = 0; k < nb; k++) {
        /* Contiguous and balanced: sizes differ by at most one. */
        pr.batches[k].next = k * n / nb;
        pr.batches[k].hi = (k + 1) * n / nb;
        size_t len = pr.batches[k].hi - pr.batches[k].next;
        nworkers += len < conc ? len : conc;
    }
    pool_worker *w = xcalloc(nworkers, sizeof *w);
    size_t started = 0;
    pool_worker self = { &pr, 0, pthread_self() };
    for (size_t k = 0; k < nb; k++) {
        size_t len = pr.batches[k].hi - pr.batches[k].next, mine = 0;
        for (size_t j = 0; j < (len < conc ? len : conc); j++) {
            w[started].run = &pr;
            w[started].batch = k;
            if (pthread_create(&w[started].tid, NULL, worker_main, &w[started]) == 0) started++, mine++;
        }
        /* A thread that cannot be created only lowers the concurrency: the
         * batch's other workers take its items, and a batch left with none
         * runs here on the caller's thread (never adding to the bound). */
        if (mine < (len < conc ? len : conc)) log_warn("parallelism: could only start %zu of %zu worker threads for batch %zu", mine, len < conc ? len : conc, k + 1);
        if (!mine) {
            self.batch = k;
            worker_main(&self);
        }
    }
    for (size_t i = 0; i < started; i++) pthread_join(w[i].tid, NULL);
    free(w);
    free(pr.batches);
    pthread_mutex_destroy(&pr.mu);
    return pr.peak;
}
