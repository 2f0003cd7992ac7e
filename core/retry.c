/* Core-owned retry timing: full-jitter exponential backoff (the AWS
 * architecture blog's "Full Jitter"), so many instances retrying the same API
 * do not synchronise.  The spec's Step Functions retry is IntervalSeconds 5,
 * BackoffRate 2, MaxAttempts 3; those are our defaults. */
#include "config.h"
#include "core.h"

#include <math.h>
#include <stdatomic.h>

const retry_policy retry_policy_default = { 5.0, 2.0, 60.0, 3 };

/* splitmix64: small, seedable, good enough for jitter (not for secrets).
 * The state is per thread: workers of a parallel fan-out retry at the same
 * time, and one shared state would be a data race (and two workers drawing
 * the same waits would retry in lockstep, which jitter exists to avoid).
 * A thread's first draw seeds it from the process seed and a thread
 * counter; retry_seed() reseeds the process and the calling thread, so a
 * single-threaded test stays reproducible. */
static _Atomic unsigned long long rng_seed = 0x9e3779b97f4a7c15ULL;
static atomic_uint rng_threads;
static _Thread_local unsigned long long rng_state;
static _Thread_local int rng_seeded;

void retry_seed(unsigned long long seed)
{
    rng_seed = seed;
    rng_state = seed;
    rng_seeded = 1;
}

static double rng_unit(void)
{
    if (!rng_seeded) {
        rng_state = rng_seed ^ ((unsigned long long)(atomic_fetch_add(&rng_threads, 1) + 1) * 0xd1342543de82ef95ULL);
        rng_seeded = 1;
    }
    unsigned long long z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

double retry_delay(const retry_policy *p, int attempt)
{
    if (attempt < 2) return 0;
    double ceiling = p->interval * pow(p->backoff_rate, attempt - 2);
    if (p->max_interval > 0 && ceiling > p->max_interval) ceiling = p->max_interval;
    return ceiling * rng_unit();
}
