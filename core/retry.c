/* Core-owned retry timing: full-jitter exponential backoff (the AWS
 * architecture blog's "Full Jitter"), so many instances retrying the same API
 * do not synchronise.  The spec's Step Functions retry is IntervalSeconds 5,
 * BackoffRate 2, MaxAttempts 3; those are our defaults. */
#include "config.h"
#include "core.h"

#include <math.h>

const retry_policy retry_policy_default = { 5.0, 2.0, 60.0, 3 };

/* splitmix64: small, seedable, good enough for jitter (not for secrets). */
static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;

void retry_seed(unsigned long long seed)
{
    rng_state = seed;
}

static double rng_unit(void)
{
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
