/*
 * demo/gen.c - revops-demo-gen: writes the deterministic demo warehouse (SQLite) and its planted
 * truth (<db>.truth.json).  See docs/architecture.md, "Demo warehouse" and "A1 at-risk accounts".
 *
 * Everything is derived from --seed through our own splitmix64/xoshiro256** generator (never
 * rand()/time()), one independent stream per purpose and per account, so the same seed and as_of
 * give byte-identical truth and identical table contents.
 *
 * Planted patterns (all listed in the truth file):
 *   A1  usage decline / renewal past due / stalled opportunity: EXACT - every other account is
 *       checked against the rule here and regenerated if it matches by accident; the whole A1 set
 *       is recomputed from the generated rows with the rule before anything is written.
 *   A2  closed-lost reason mix per account type (top reason of the last 12 months).
 *   A3  upsell candidates (usage > 85% of commitment, no open Upsell/Expansion), and the accounts
 *       growing steadily (4 rising months, >= 10%; computed by the rule from the model, with margin).
 *   A4  customer health: EXACT - every account's score and band by the rule (docs/analyses/A4.md),
 *       computed from the model; planted healthy / watch / at_risk examples well inside their bands,
 *       Gong/Slack engagement redrawn per account until no score is near a band threshold.
 *   A5  single-day usage anomalies (x4 spike or x0.1 drop) in the last 90 days.
 *   A6  Databricks dominates competitive losses in the last 6 months; Snowflake before.
 *
 * Build: gcc -std=gnu11 -Wall -Wextra -O2 demo/gen.c $(pkg-config --cflags --libs sqlite3) -lm
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#define PROG "revops-demo-gen"
#define MIN_ACCOUNTS 80
#define MAX_ACCOUNTS 5000

/* A1 rule defaults (docs/architecture.md) */
#define A1_DECLINE_PCT 20.0
#define A1_STALL_DAYS 60

/* ------------------------------------------------------------------------------------------ */
/* small utilities                                                                              */

static const char *g_out;        /* database path, for error messages and clean-up */
static char g_truth_path[4096];

static void cleanup_outputs(void)
{
    if (g_out)
        unlink(g_out);
    if (g_truth_path[0])
        unlink(g_truth_path);
}

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", PROG);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cleanup_outputs();
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        die("%s: out of memory", g_out ? g_out : "(no output)");
    return q;
}

static void *xcalloc(size_t n, size_t sz)
{
    void *q = calloc(n ? n : 1, sz ? sz : 1);
    if (!q)
        die("%s: out of memory", g_out ? g_out : "(no output)");
    return q;
}

#define GROW(arr, count, cap)                                                                   \
    do {                                                                                        \
        if ((count) >= (cap)) {                                                                 \
            (cap) = (cap) ? (cap) * 2 : 256;                                                    \
            (arr) = xrealloc((arr), (size_t)(cap) * sizeof *(arr));                             \
        }                                                                                       \
    } while (0)

static double round2(double x) { return round(x * 100.0) / 100.0; }
static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* ------------------------------------------------------------------------------------------ */
/* PRNG: splitmix64 seeds xoshiro256**; one stream per (purpose, sub-stream)                    */

typedef struct {
    uint64_t s[4];
} rng_t;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

enum stream {
    S_ROLES = 1, S_NAMES, S_ACCOUNT, S_USAGE, S_A1PARAM, S_A5, S_COMMIT, S_AGREE, S_OPPS,
    S_REASONS, S_GONG, S_SLACK, S_QUERY
};

static void rng_init(rng_t *r, uint64_t seed, uint64_t stream, uint64_t sub)
{
    uint64_t x = seed;
    uint64_t a = splitmix64(&x);
    x = a ^ (stream * 0xD1B54A32D192ED03ULL);
    uint64_t b = splitmix64(&x);
    x = b ^ (sub * 0x8CB92BA72F3D8DD7ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static double rng_u01(rng_t *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }
static double rng_uniform(rng_t *r, double lo, double hi) { return lo + (hi - lo) * rng_u01(r); }

static uint64_t rng_bounded(rng_t *r, uint64_t n)
{
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = rng_next(r);
        if (x >= threshold)
            return x % n;
    }
}

/* inclusive */
static int rng_int(rng_t *r, int lo, int hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int)rng_bounded(r, (uint64_t)(hi - lo) + 1);
}

/* approximately standard normal (Irwin-Hall of 4, rescaled): only + and *, bounded at +-3.46 */
static double rng_gauss(rng_t *r)
{
    double s = rng_u01(r) + rng_u01(r) + rng_u01(r) + rng_u01(r) - 2.0;
    return s * 1.7320508075688772;
}

static int rng_weighted(rng_t *r, const double *w, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++)
        total += w[i];
    double x = rng_u01(r) * total;
    for (int i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

static void rng_shuffle(rng_t *r, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_bounded(r, (uint64_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

#define PICK(r, arr) ((arr)[rng_int((r), 0, (int)(sizeof(arr) / sizeof((arr)[0])) - 1)])
#define COUNT(arr) ((int)(sizeof(arr) / sizeof((arr)[0])))

/* ------------------------------------------------------------------------------------------ */
/* dates: days since 1970-01-01 (H. Hinnant's civil algorithms)                                 */

static int days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153u * (unsigned)(m > 2 ? m - 3 : m + 9) + 2u) / 5u + (unsigned)d - 1u;
    const unsigned doe = yoe * 365u + yoe / 4u - yoe / 100u + doy;
    return era * 146097 + (int)doe - 719468;
}

static void civil_from_days(int z, int *y, int *m, int *d)
{
    z += 719468;
    const int era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460u + doe / 36524u - doe / 146096u) / 365u;
    const int yy = (int)yoe + era * 400;
    const unsigned doy = doe - (365u * yoe + yoe / 4u - yoe / 100u);
    const unsigned mp = (5u * doy + 2u) / 153u;
    const unsigned dd = doy - (153u * mp + 2u) / 5u + 1u;
    const unsigned mm = mp < 10u ? mp + 3u : mp - 9u;
    *y = yy + (mm <= 2u);
    *m = (int)mm;
    *d = (int)dd;
}

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* n months later (negative: earlier); the day of month is clamped to the target month */
static int add_months(int day, int n)
{
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    int total = y * 12 + (m - 1) + n;
    int y2 = total >= 0 ? total / 12 : -((-total + 11) / 12);
    int m2 = total - y2 * 12 + 1;
    return days_from_civil(y2, m2, imin(d, days_in_month(y2, m2)));
}

static int month_start(int day)
{
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    return days_from_civil(y, m, 1);
}

/* 0 = Monday .. 6 = Sunday (1970-01-01 was a Thursday) */
static int weekday(int day) { return ((day % 7) + 7 + 3) % 7; }

/* formatted date in one of 16 rotating buffers, so several may appear in one printf */
static const char *ds(int day)
{
    static char buf[16][32];
    static int next;
    char *b = buf[next];
    next = (next + 1) % 16;
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    snprintf(b, sizeof buf[0], "%04d-%02d-%02d", y, m, d);
    return b;
}

static const char *ym(int day)
{
    static char buf[8][32];
    static int next;
    char *b = buf[next];
    next = (next + 1) % 8;
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    snprintf(b, sizeof buf[0], "%04d-%02d", y, m);
    return b;
}

static int parse_date(const char *s, int *out)
{
    int y, m, d;
    char tail;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return -1;
    if (y < 2001 || y > 2199 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return -1;
    *out = days_from_civil(y, m, d);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* vocabulary                                                                                   */

static const char *const TYPE_NAMES[] = {"SMB", "Mid-Market", "Enterprise", "Strategic"};
enum { T_SMB, T_MM, T_ENT, T_STR, N_TYPES };
static const char *const REGIONS[] = {"NA", "EMEA", "APAC", "LATAM"};
enum { RG_NA, RG_EMEA, RG_APAC, RG_LATAM };

static const char *const INDUSTRIES[] = {
    "Technology", "Financial Services", "Healthcare", "Retail", "Manufacturing",
    "Media & Entertainment", "Telecommunications", "Energy", "Logistics", "Gaming",
    "Advertising", "Public Sector",
};
enum {
    IN_TECH, IN_FIN, IN_HEALTH, IN_RETAIL, IN_MANUF, IN_MEDIA, IN_TELCO, IN_ENERGY,
    IN_LOGI, IN_GAMING, IN_ADS, IN_PUBLIC
};

static const char *const NAME_FIRST[] = {
    "Northwind", "Contoso", "Fabrikam", "Tailspin", "Wingtip", "Litware", "Proseware", "Lucerne",
    "Coho", "Bluefin", "Brightwater", "Cedar", "Cobalt", "Copperleaf", "Crescent", "Driftwood",
    "Evergreen", "Falcon", "Foxglove", "Granite", "Harbor", "Helix", "Horizon", "Ironwood",
    "Juniper", "Keystone", "Lakeshore", "Lumen", "Maple", "Meridian", "Nimbus", "Northstar",
    "Oakridge", "Orion", "Pinnacle", "Quartz", "Redwood", "Riverbend", "Sapphire", "Sierra",
    "Silverline", "Skyline", "Summit", "Sunrise", "Tidewater", "Trident", "Vertex", "Willow",
    "Zenith", "Aurora", "Beacon", "Catalyst", "Ember", "Frontier", "Glacier", "Halcyon",
    "Indigo", "Jetstream", "Kestrel", "Lighthouse", "Monarch", "Nova", "Onyx", "Polaris",
    "Radiant", "Sequoia", "Terra", "Umber", "Vantage", "Wildflower",
};

static const struct {
    const char *word;
    int industry;
} NAME_SECOND[] = {
    {"Analytics", IN_TECH}, {"Data", IN_TECH}, {"Systems", IN_TECH}, {"Software", IN_TECH},
    {"Labs", IN_TECH}, {"Networks", IN_TELCO}, {"Telecom", IN_TELCO}, {"Capital", IN_FIN},
    {"Bank", IN_FIN}, {"Insurance", IN_FIN}, {"Payments", IN_FIN}, {"Health", IN_HEALTH},
    {"Pharma", IN_HEALTH}, {"Retail", IN_RETAIL}, {"Commerce", IN_RETAIL}, {"Foods", IN_RETAIL},
    {"Logistics", IN_LOGI}, {"Freight", IN_LOGI}, {"Energy", IN_ENERGY}, {"Power", IN_ENERGY},
    {"Media", IN_MEDIA}, {"Studios", IN_MEDIA}, {"Games", IN_GAMING}, {"Motors", IN_MANUF},
    {"Robotics", IN_MANUF}, {"Industries", IN_MANUF}, {"Ads", IN_ADS}, {"Civic Cloud", IN_PUBLIC},
};

static const char *const NAME_SUFFIX[] = {"", " Inc.", " LLC", " Ltd", " Corp", " Group", " GmbH", " Co."};

/* account names with non-ASCII UTF-8 (and one with an apostrophe), placed on chosen roles */
static const struct {
    const char *name, *slug;
    int region, industry;
} SPECIAL_NAMES[] = {
    {"東京アナリティクス", "tokyo-analytics", RG_APAC, IN_TECH},
    {"Zürich Datenwerk AG", "zurich-datenwerk-ag", RG_EMEA, IN_FIN},
    {"Société Générale Data", "societe-generale-data", RG_EMEA, IN_FIN},
    {"São Paulo Dados Ltda", "sao-paulo-dados-ltda", RG_LATAM, IN_RETAIL},
    {"Malmö Logistik AB", "malmo-logistik-ab", RG_EMEA, IN_LOGI},
    {"O'Brien & Søn Freight", "obrien-son-freight", RG_EMEA, IN_LOGI},
};

static const char *const FIRST_NAMES[] = {
    "maria", "james", "priya", "chen", "fatima", "lukas", "sofia", "kenji", "amara", "diego",
    "olivia", "noah", "aisha", "mateo", "hannah", "ravi", "elena", "tomas", "yuki", "grace",
};
static const char *const LAST_NAMES[] = {
    "gonzalez", "smith", "sharma", "wei", "haddad", "muller", "rossi", "tanaka", "okafor",
    "silva", "johnson", "brown", "khan", "lopez", "schmidt", "patel", "novak", "berg", "sato",
    "kim",
};

static const char *const WORKLOADS[] = {
    "Customer 360 dashboards", "real-time product analytics", "log analytics",
    "embedded analytics", "data lake acceleration", "ad-tech reporting", "finance data mart",
    "IoT telemetry", "ML feature store", "supply chain visibility",
};

enum { OT_NB, OT_UPSELL, OT_EXP, OT_RENEWAL };
static const char *const OPP_TYPES[] = {"New Business", "Upsell", "Expansion", "Renewal"};

enum { ST_PROSPECTING, ST_QUALIFICATION, ST_DISCOVERY, ST_PROPOSAL, ST_NEGOTIATION, ST_WON, ST_LOST };
static const char *const STAGES[] = {"Prospecting", "Qualification", "Discovery", "Proposal",
                                     "Negotiation", "Closed Won", "Closed Lost"};
static const double STAGE_PROB[] = {10, 20, 30, 60, 80, 100, 0};

static const char *const WON_REASONS[] = {
    "Best price/performance in POC", "Sub-second dashboards at high concurrency",
    "Consolidated workloads onto existing contract", "Strong executive sponsorship",
    "Fast time to value in pilot", "Customer-facing analytics requirements met",
};

/* competitors and closed-lost reasons */
enum { C_SNOWFLAKE, C_DATABRICKS, C_BIGQUERY, C_REDSHIFT, C_CLICKHOUSE, N_COMP };
static const char *const COMPETITORS[] = {"Snowflake", "Databricks", "BigQuery", "Redshift", "ClickHouse"};

static const char *const NC_REASONS[] = {
    "No budget",
    "Project cancelled",
    "Timing - pushed to next fiscal year",
    "Security review not passed",
    "Champion left the company",
    "Went dark - no decision",
    "Built in-house on PostgreSQL",
    "Missing feature: fine-grained access control",
};
#define N_NC_REASONS COUNT(NC_REASONS)
/* top non-competitive reason per account type (SMB, Mid-Market, Enterprise, Strategic) */
static const int TYPE_TOP_REASON[N_TYPES] = {0, 1, 2, 3};
static const double TYPE_P_COMPETITIVE[N_TYPES] = {0.25, 0.35, 0.45, 0.40};

static const struct {
    int comp;
    const char *text;
} COMP_REASONS[] = {
    {C_SNOWFLAKE, "Lost to Snowflake on price"},
    {C_SNOWFLAKE, "Chose Snowflake - already standardized on it"},
    {C_SNOWFLAKE, "Snowflake offered a multi-year discount"},
    {C_DATABRICKS, "Chose Databricks for ML workloads"},
    {C_DATABRICKS, "Lost to Databricks lakehouse consolidation"},
    {C_DATABRICKS, "Databricks bundled into existing Spark contract"},
    {C_BIGQUERY, "Went with BigQuery to use GCP commit"},
    {C_BIGQUERY, "Lost to BigQuery on Google Cloud credits"},
    {C_REDSHIFT, "Stayed on Redshift (AWS EDP spend)"},
    {C_REDSHIFT, "Lost to Redshift Serverless on price"},
    {C_CLICKHOUSE, "Lost to ClickHouse on query latency"},
    {C_CLICKHOUSE, "Chose ClickHouse Cloud for lower cost"},
};
#define N_COMP_REASONS COUNT(COMP_REASONS)
#define N_REASONS (N_NC_REASONS + N_COMP_REASONS)

static const char *reason_text(int r)
{
    return r < N_NC_REASONS ? NC_REASONS[r] : COMP_REASONS[r - N_NC_REASONS].text;
}

/* competitor mix of losses: recent (last 6 months) vs before */
static const double COMP_W_RECENT[N_COMP] = {0.14, 0.62, 0.10, 0.07, 0.07};
static const double COMP_W_BEFORE[N_COMP] = {0.55, 0.15, 0.12, 0.10, 0.08};

/* ------------------------------------------------------------------------------------------ */
/* model                                                                                        */

enum role {
    R_NEW = 1 << 0,      /* brand-new prospect, no usage, no agreement */
    R_DECL = 1 << 1,     /* A1 usage_decline */
    R_RENEW = 1 << 2,    /* A1 renewal_past_due */
    R_STALL = 1 << 3,    /* A1 stalled_opportunity */
    R_A3C = 1 << 4,      /* A3 upsell candidate */
    R_A3D = 1 << 5,      /* A3 decoy: high utilisation but an open upsell already */
    R_A5 = 1 << 6,       /* A5 anomaly */
    R_HEALTHY = 1 << 7,  /* A4 */
    R_WATCH = 1 << 8,    /* A4 */
    R_ATRISK = 1 << 9,   /* A4 */
    R_ONBOARD = 1 << 10, /* became a customer during the data window */
};
#define R_A1 (R_DECL | R_RENEW | R_STALL)

enum shape { SH_NONE, SH_DECLINE, SH_DIP, SH_BOOST };

typedef struct {
    int idx;
    char id[24];
    char name[96];
    char slug[96];
    int type, region, industry, owner;
    double potential;
    int created_day, created_sec;
    unsigned roles;
    int has_usage, usage_start;
    double base, growth, weekend, qph, bpq;
    int shape;
    double decline_k;
    int decline_d0;
    /* A1 planted values */
    double decline_pct; /* measured */
    int renew_days, stall_days;
    /* A5 */
    int anom_day;
    double anom_factor, anom_expected;
    /* A3 */
    double commit;
    int agreement; /* index of active agreement, -1 none */
    double *eh;    /* engine hours per day of the window */
    double u[6];   /* monthly sums, u[k] = month M-k */
} account_t;

typedef struct {
    char id[24];
    int acct, type, stage;
    double amount;
    int close_day, created_day, created_sec, closed_day, lscd; /* closed_day -1 when open */
    int reason;                                                /* closed lost: reason index */
    const char *won_reason;
    char name[200];
    int planted; /* 1 renewal past due, 2 stalled */
    int seq;
} opp_t;

typedef struct {
    char id[24];
    int acct, term, active, start, end;
    double amount, commit;
} agr_t;

typedef struct {
    char id[24];
    int acct, day, duration;
    double sentiment;
    char title[200];
    char summary[600];
    int seq;
} call_t;

typedef struct {
    char ts[40];
    int acct, day;
    char user[48];
    char text[300];
} msg_t;

typedef struct {
    uint64_t seed;
    int as_of, n_accounts;
    int win_start, ndays; /* data covers [win_start, as_of) */
    int m_start[7];       /* m_start[k] = first day of month M-k; m_start[k] end = m_start[k-1] */
    int m_end;            /* first day of as_of's month = end of M0 */
    int w6, w12, d90;     /* as_of - 6 months, - 12 months, - 90 days */

    account_t *acc;
    opp_t *opp;
    int n_opp, cap_opp;
    agr_t *agr;
    int n_agr, cap_agr;
    call_t *call;
    int n_call, cap_call;
    msg_t *msg;
    int n_msg, cap_msg;
    long n_usage_rows;

    /* reason statistics (A2/A6) */
    int a2_counts[N_TYPES][N_REASONS], a2_total[N_TYPES];
    int a6_recent[N_COMP], a6_before[N_COMP];
    int reasons_intended;
    int a5_accounts[16], n_a5;
} world_t;

/* ------------------------------------------------------------------------------------------ */
/* usage                                                                                        */

static int month_lo(const world_t *w, int k) { return w->m_start[k]; }
static int month_hi(const world_t *w, int k) { return k == 0 ? w->m_end : w->m_start[k - 1]; }

static double shape_at(const world_t *w, const account_t *a, int day)
{
    switch (a->shape) {
    case SH_DECLINE:
        return day < a->decline_d0 ? 1.0 : exp(-a->decline_k * (double)(day - a->decline_d0));
    case SH_DIP: {
        /* down then up then down: clearly lower than before, but never a monotonic 4-month
         * decline (M-2 is the trough, M-1 recovers) */
        const int xs[] = {month_lo(w, 4), month_lo(w, 3) + 15, month_lo(w, 2) + 15,
                          month_lo(w, 1) + 15, month_lo(w, 0) + 15};
        const double ys[] = {1.0, 1.0, 0.75, 0.92, 0.82};
        if (day <= xs[0])
            return 1.0;
        for (int i = 1; i < 5; i++)
            if (day <= xs[i])
                return ys[i - 1] + (ys[i] - ys[i - 1]) * (day - xs[i - 1]) / (double)(xs[i] - xs[i - 1]);
        return ys[4];
    }
    case SH_BOOST: {
        int from = w->as_of - 150;
        return day < from ? 1.0 : 1.0 + 0.20 * (day - from) / 150.0;
    }
    default:
        return 1.0;
    }
}

static double usage_normal(const world_t *w, const account_t *a, int day)
{
    double t = (day - w->win_start) / 365.25;
    double level = a->base * pow(1.0 + a->growth, t);
    if (a->roles & R_ONBOARD) {
        double ramp = (day - a->usage_start) / 60.0;
        if (ramp < 1.0)
            level *= 0.15 + 0.85 * ramp;
    }
    int wd = weekday(day);
    double f = wd >= 5 ? a->weekend : (wd == 4 ? 0.93 : 1.0);
    return level * f * shape_at(w, a, day);
}

static void gen_usage(const world_t *w, account_t *a, int attempt)
{
    rng_t r;
    rng_init(&r, w->seed, S_USAGE, (uint64_t)a->idx * 4096u + (uint64_t)attempt);
    for (int d = 0; d < w->ndays; d++) {
        int day = w->win_start + d;
        if (!a->has_usage || day < a->usage_start) {
            a->eh[d] = 0;
            continue;
        }
        double normal = usage_normal(w, a, day);
        double noise = 1.0 + 0.035 * rng_gauss(&r);
        double v = normal * noise;
        if ((a->roles & R_A5) && day == a->anom_day) {
            v = normal * a->anom_factor;
            a->anom_expected = round2(normal);
        }
        a->eh[d] = fmax(0.01, round2(v));
    }
}

static double sum_days(const world_t *w, const account_t *a, int lo, int hi)
{
    double s = 0;
    for (int day = imax(lo, w->win_start); day < hi && day < w->as_of; day++)
        s += a->eh[day - w->win_start];
    return s;
}

static void month_sums(const world_t *w, account_t *a)
{
    for (int k = 0; k < 6; k++)
        a->u[k] = sum_days(w, a, month_lo(w, k), month_hi(w, k));
}

static int decline_chain(const double *u) { return u[3] > u[2] && u[2] > u[1] && u[1] > u[0] && u[3] > 0; }
static double decline_of(const double *u) { return u[3] > 0 ? 100.0 * (u[3] - u[0]) / u[3] : 0; }

static double a1_score(const account_t *a)
{
    double s = 0;
    if (a->roles & R_DECL)
        s += 0.5 * fmin(1.0, a->decline_pct / 50.0);
    if (a->roles & R_RENEW)
        s += 0.3 * fmin(1.0, a->renew_days / 90.0);
    if (a->roles & R_STALL)
        s += 0.2 * fmin(1.0, a->stall_days / 180.0);
    return s;
}

static const char *priority_of(double s)
{
    return s >= 0.7 ? "critical" : s >= 0.45 ? "high" : s >= 0.2 ? "medium" : "low";
}

static int near_threshold(double s)
{
    return fabs(s - 0.7) < 0.015 || fabs(s - 0.45) < 0.015 || fabs(s - 0.2) < 0.015;
}

/* A1 groups: which planted combination an account belongs to, and its parameter ranges */
typedef struct {
    unsigned roles;
    int count;
    double p_lo, p_hi; /* decline pct target */
    int r_lo, r_hi;    /* days past due */
    int s_lo, s_hi;    /* days stalled */
} a1_group_t;

static const a1_group_t A1_GROUPS[] = {
    {R_DECL | R_RENEW | R_STALL, 2, 45, 56, 45, 80, 120, 200},
    {R_DECL | R_RENEW, 3, 28, 56, 10, 80, 0, 0},
    {R_DECL | R_STALL, 1, 30, 50, 0, 0, 90, 170},
    {R_DECL, 6, 27, 57, 0, 0, 0, 0},
    {R_RENEW, 1, 0, 0, 5, 80, 0, 0},
    {R_STALL, 3, 0, 0, 0, 0, 70, 165},
};

static const a1_group_t *a1_group_of(unsigned roles)
{
    for (int i = 0; i < COUNT(A1_GROUPS); i++)
        if ((roles & R_A1) == A1_GROUPS[i].roles)
            return &A1_GROUPS[i];
    return NULL;
}

/* generate one account's usage; planted A1 accounts until their values are in range and their
 * score is clear of the priority thresholds, every other account until it does NOT show a
 * monotonic 4-month decline (stronger than the rule, so any decline_pct finds nothing there) */
static void make_usage(world_t *w, account_t *a)
{
    const a1_group_t *g = a1_group_of(a->roles);
    for (int attempt = 0;; attempt++) {
        rng_t pr;
        rng_init(&pr, w->seed, S_A1PARAM, (uint64_t)a->idx * 4096u + (uint64_t)attempt);
        if (g && (a->roles & R_DECL)) {
            double p = rng_uniform(&pr, g->p_lo, g->p_hi) / 100.0;
            a->shape = SH_DECLINE;
            a->decline_d0 = month_lo(w, 3) - 10;
            a->decline_k = -log(1.0 - p) / (double)((month_lo(w, 0) + 15) - (month_lo(w, 3) + 15));
        }
        if (g && (a->roles & R_RENEW))
            a->renew_days = rng_int(&pr, g->r_lo, g->r_hi);
        if (g && (a->roles & R_STALL))
            a->stall_days = rng_int(&pr, g->s_lo, g->s_hi);
        gen_usage(w, a, attempt);
        month_sums(w, a);
        int chain = decline_chain(a->u);
        int ok;
        if (a->roles & R_DECL) {
            a->decline_pct = decline_of(a->u);
            ok = chain && a->decline_pct > 25.5 && a->decline_pct < 59.5;
        } else {
            ok = !chain;
        }
        if (ok && g)
            ok = !near_threshold(a1_score(a));
        if (ok)
            return;
        if (attempt >= 200) {
            if (g)
                die("%s: internal error: could not plant A1 values for account %s", g_out, a->id);
            /* last resort for a background account: lift M0 a little above M-1 */
            double f = a->u[1] * 1.03 / a->u[0];
            for (int day = month_lo(w, 0); day < month_hi(w, 0); day++)
                a->eh[day - w->win_start] = round2(a->eh[day - w->win_start] * f);
            month_sums(w, a);
            if (decline_chain(a->u))
                die("%s: internal error: account %s keeps a usage decline", g_out, a->id);
            return;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* accounts and roles                                                                           */

static void assign_roles(world_t *w)
{
    rng_t r;
    rng_init(&r, w->seed, S_ROLES, 0);
    int n = w->n_accounts;
    int *perm = xcalloc((size_t)n, sizeof *perm);
    for (int i = 0; i < n; i++)
        perm[i] = i;
    rng_shuffle(&r, perm, n);
    int pos = 0;
#define TAKE(k, bits)                                                                           \
    for (int _i = 0; _i < (k); _i++)                                                            \
    w->acc[perm[pos++]].roles |= (bits)
    TAKE(3, R_NEW);
    for (int gi = 0; gi < COUNT(A1_GROUPS); gi++) {
        /* the decline accounts that also have another signal are A4 at-risk examples */
        unsigned extra = (A1_GROUPS[gi].roles & R_DECL) && A1_GROUPS[gi].roles != R_DECL ? R_ATRISK : 0;
        TAKE(A1_GROUPS[gi].count, A1_GROUPS[gi].roles | extra);
    }
    TAKE(8, R_A3C);
    TAKE(4, R_A3D);
    TAKE(6, R_A5);
    TAKE(10, R_HEALTHY);
    TAKE(10, R_WATCH);
    TAKE(4, R_ATRISK);
#undef TAKE
    /* about one in ten of the remaining customers onboarded during the window */
    for (; pos < n; pos++)
        if (rng_u01(&r) < 0.10)
            w->acc[perm[pos]].roles |= R_ONBOARD;
    free(perm);
}

static int first_with(const world_t *w, unsigned all, unsigned none, int skip)
{
    for (int i = 0; i < w->n_accounts; i++) {
        unsigned ro = w->acc[i].roles;
        if ((ro & all) == all && !(ro & none) && skip-- == 0)
            return i;
    }
    return -1;
}

static void make_slug(const char *name, char *out, size_t cap)
{
    size_t o = 0;
    int dash = 1;
    for (const unsigned char *p = (const unsigned char *)name; *p && o + 2 < cap; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            out[o++] = (char)c;
            dash = 0;
        } else if (c >= 'A' && c <= 'Z') {
            out[o++] = (char)(c - 'A' + 'a');
            dash = 0;
        } else if (c == '\'' || c == '.') {
            continue;
        } else if (!dash) {
            out[o++] = '-';
            dash = 1;
        }
    }
    while (o > 0 && out[o - 1] == '-')
        o--;
    out[o] = 0;
}

static void make_accounts(world_t *w)
{
    int n = w->n_accounts;
    w->acc = xcalloc((size_t)n, sizeof *w->acc);
    for (int i = 0; i < n; i++) {
        w->acc[i].idx = i;
        w->acc[i].agreement = -1;
        w->acc[i].anom_day = -1;
        snprintf(w->acc[i].id, sizeof w->acc[i].id, "001A%012d", i + 1);
        w->acc[i].eh = xcalloc((size_t)w->ndays, sizeof(double));
    }
    assign_roles(w);

    /* unique names: a shuffled slice of all (first, second, suffix) combinations */
    rng_t nr;
    rng_init(&nr, w->seed, S_NAMES, 0);
    int n_combo = COUNT(NAME_FIRST) * COUNT(NAME_SECOND) * COUNT(NAME_SUFFIX);
    int *combo = xcalloc((size_t)n_combo, sizeof *combo);
    for (int i = 0; i < n_combo; i++)
        combo[i] = i;
    rng_shuffle(&nr, combo, n_combo);

    static const double type_w[N_TYPES] = {0.35, 0.35, 0.22, 0.08};
    static const double region_w[4] = {0.45, 0.30, 0.15, 0.10};
    static const double base_lo[N_TYPES] = {4, 20, 80, 300}, base_hi[N_TYPES] = {25, 90, 400, 1500};
    static const double pot_lo[N_TYPES] = {2e4, 1e5, 5e5, 2e6}, pot_hi[N_TYPES] = {1.5e5, 6e5, 3e6, 1e7};

    /* account types by quota (35/35/22/8 %), shuffled, so even a small warehouse has every type */
    int *types = xcalloc((size_t)n, sizeof *types);
    for (int i = 0, t = 0; i < n; i++) {
        double upto = 0;
        for (t = 0; t < N_TYPES - 1; t++) {
            upto += type_w[t];
            if (i < (int)lround(upto * n))
                break;
        }
        types[i] = t;
    }
    rng_shuffle(&nr, types, n);

    for (int i = 0; i < n; i++) {
        account_t *a = &w->acc[i];
        rng_t r;
        rng_init(&r, w->seed, S_ACCOUNT, (uint64_t)i);
        int c = combo[i];
        int suf = c % COUNT(NAME_SUFFIX);
        int sec = (c / COUNT(NAME_SUFFIX)) % COUNT(NAME_SECOND);
        int fst = c / (COUNT(NAME_SUFFIX) * COUNT(NAME_SECOND));
        snprintf(a->name, sizeof a->name, "%s %s%s", NAME_FIRST[fst], NAME_SECOND[sec].word, NAME_SUFFIX[suf]);
        make_slug(a->name, a->slug, sizeof a->slug);
        a->industry = NAME_SECOND[sec].industry;
        a->type = types[i];
        a->region = strcmp(NAME_SUFFIX[suf], " GmbH") == 0 ? RG_EMEA : rng_weighted(&r, region_w, 4);
        a->owner = rng_int(&r, 0, 8);
        a->potential = round(rng_uniform(&r, pot_lo[a->type], pot_hi[a->type]) / 1000.0) * 1000.0;
        a->created_sec = rng_int(&r, 8 * 3600, 19 * 3600);
        a->base = rng_uniform(&r, base_lo[a->type], base_hi[a->type]);
        a->weekend = rng_uniform(&r, 0.30, 0.45);
        a->qph = rng_uniform(&r, 20, 200);  /* queries per engine hour */
        a->bpq = rng_uniform(&r, 5e6, 2e8); /* bytes scanned per query */
        a->growth = rng_uniform(&r, 0.0, 0.30);
        a->has_usage = !(a->roles & R_NEW);
        if (a->roles & R_NEW) {
            a->created_day = w->as_of - rng_int(&r, 3, 25);
            a->usage_start = w->as_of;
        } else if (a->roles & R_ONBOARD) {
            a->usage_start = rng_int(&r, w->win_start + 30, w->as_of - 200);
            a->created_day = a->usage_start - rng_int(&r, 160, 260); /* before its first deal */
        } else {
            a->usage_start = w->win_start;
            /* before the oldest agreement (which starts at most 36 months before the window) */
            a->created_day = rng_int(&r, days_from_civil(2016, 1, 4), add_months(w->win_start, -37));
        }
        if (a->roles & R_HEALTHY) {
            a->growth = rng_uniform(&r, 0.30, 0.45);
            a->shape = SH_BOOST;
        } else if (a->roles & R_WATCH) {
            a->growth = rng_uniform(&r, 0.0, 0.03);
        } else if ((a->roles & R_ATRISK) && !(a->roles & R_DECL)) {
            a->growth = rng_uniform(&r, 0.0, 0.05);
            a->shape = SH_DIP;
        }
    }
    free(combo);
    free(types);

    /* special names on chosen roles: a critical A1 account, an A3 candidate, a healthy one... */
    int where[COUNT(SPECIAL_NAMES)];
    where[0] = first_with(w, R_DECL | R_RENEW | R_STALL, 0, 0);
    where[1] = first_with(w, R_A3C, 0, 0);
    where[2] = first_with(w, R_HEALTHY, 0, 0);
    where[3] = first_with(w, 0, ~(unsigned)R_ONBOARD, 0);
    where[4] = first_with(w, R_A5, 0, 0);
    where[5] = first_with(w, R_DECL, R_RENEW | R_STALL, 0);
    for (int s = 0; s < COUNT(SPECIAL_NAMES); s++) {
        if (where[s] < 0)
            continue;
        account_t *a = &w->acc[where[s]];
        snprintf(a->name, sizeof a->name, "%s", SPECIAL_NAMES[s].name);
        snprintf(a->slug, sizeof a->slug, "%s", SPECIAL_NAMES[s].slug);
        a->region = SPECIAL_NAMES[s].region;
        a->industry = SPECIAL_NAMES[s].industry;
    }

    /* A5 anomalies: distinct weekdays 7..85 days before as_of, half spikes, half drops */
    rng_t ar;
    rng_init(&ar, w->seed, S_A5, 0);
    w->n_a5 = 0;
    for (int i = 0; i < n; i++) {
        account_t *a = &w->acc[i];
        if (!(a->roles & R_A5))
            continue;
        for (;;) {
            int day = w->as_of - rng_int(&ar, 7, 85);
            int clash = weekday(day) >= 5;
            for (int k = 0; k < w->n_a5; k++)
                clash |= w->acc[w->a5_accounts[k]].anom_day == day;
            if (!clash) {
                a->anom_day = day;
                break;
            }
        }
        a->anom_factor = w->n_a5 % 2 == 0 ? 4.0 : 0.1;
        w->a5_accounts[w->n_a5++] = i;
    }

    for (int i = 0; i < n; i++)
        if (w->acc[i].has_usage)
            make_usage(w, &w->acc[i]);
}

/* ------------------------------------------------------------------------------------------ */
/* agreements and commitments (A3)                                                              */

static double round_commit(double x)
{
    double step = x >= 1000 ? 50 : x >= 100 ? 10 : 1;
    return fmax(step, round(x / step) * step);
}

static void set_commit(world_t *w, account_t *a)
{
    rng_t r;
    rng_init(&r, w->seed, S_COMMIT, (uint64_t)a->idx);
    double avg_m = (a->u[2] + a->u[1] + a->u[0]) / 3.0;
    double avg_90 = sum_days(w, a, w->d90, w->as_of) / 3.0;
    int high = (a->roles & (R_A3C | R_A3D)) != 0;
    double lo = high ? 0.95 : 0.35, hi = high ? 1.15 : 0.62;
    for (int attempt = 0; attempt < 100; attempt++) {
        double target = rng_uniform(&r, lo, hi);
        a->commit = round_commit(avg_m / target);
        double umin = fmin(avg_m, avg_90) / a->commit, umax = fmax(avg_m, avg_90) / a->commit;
        if (high ? umin > 0.87 : umax < 0.68)
            return;
    }
    die("%s: internal error: cannot set a commitment for account %s", g_out, a->id);
}

static int pick_term(rng_t *r)
{
    static const double w[] = {0.40, 0.35, 0.25};
    static const int terms[] = {12, 24, 36};
    return terms[rng_weighted(r, w, 3)];
}

static double agreement_amount(rng_t *r, double commit, int term)
{
    double rate = rng_uniform(r, 2.2, 3.6) * (term == 36 ? 0.88 : term == 24 ? 0.94 : 1.0);
    return round(commit * term * rate / 100.0) * 100.0;
}

static opp_t *new_opp(world_t *w, int acct, int type)
{
    GROW(w->opp, w->n_opp, w->cap_opp);
    opp_t *o = &w->opp[w->n_opp];
    memset(o, 0, sizeof *o);
    o->acct = acct;
    o->type = type;
    o->closed_day = -1;
    o->reason = -1;
    o->seq = w->n_opp++;
    return o;
}

static double opp_amount(rng_t *r, const account_t *a, int type)
{
    static const double lo[N_TYPES] = {8e3, 3e4, 1.2e5, 4e5}, hi[N_TYPES] = {4.5e4, 1.8e5, 9e5, 2.5e6};
    double x = rng_uniform(r, lo[a->type], hi[a->type]);
    if (type == OT_UPSELL || type == OT_EXP)
        x *= rng_uniform(r, 0.3, 0.6);
    return round(x / 100.0) * 100.0;
}

static void close_opp(opp_t *o, int day, int won, rng_t *r)
{
    o->closed_day = day;
    o->close_day = day;
    o->lscd = day;
    o->stage = won ? ST_WON : ST_LOST;
    if (won)
        o->won_reason = PICK(r, WON_REASONS);
}

static void open_opp(world_t *w, opp_t *o, rng_t *r, int stage_lo, int stage_hi)
{
    o->stage = rng_int(r, stage_lo, stage_hi);
    o->lscd = imax(o->created_day, w->as_of - rng_int(r, 1, 30));
    if (o->close_day < w->as_of)
        o->close_day = w->as_of + rng_int(r, 7, 150);
}

static void name_opp(world_t *w, opp_t *o, rng_t *r)
{
    const account_t *a = &w->acc[o->acct];
    if (o->type == OT_RENEWAL) {
        int y, m, d;
        civil_from_days(o->close_day, &y, &m, &d);
        snprintf(o->name, sizeof o->name, "%s - Renewal %d", a->name, y);
    } else {
        snprintf(o->name, sizeof o->name, "%s - %s - %s", a->name, OPP_TYPES[o->type], PICK(r, WORKLOADS));
    }
}

static void add_agreement(world_t *w, int acct, int term, int start, int end, double commit, int active, rng_t *r)
{
    GROW(w->agr, w->n_agr, w->cap_agr);
    agr_t *g = &w->agr[w->n_agr++];
    memset(g, 0, sizeof *g);
    g->acct = acct;
    g->term = term;
    g->start = start;
    g->end = end;
    g->commit = commit;
    g->active = active;
    g->amount = agreement_amount(r, commit, term);
    if (active)
        w->acc[acct].agreement = w->n_agr - 1;
}

/* a won renewal at the hand-over from one agreement to the next (start = the new one's start) */
static void add_won_renewal(world_t *w, int acct, int start, double amount, rng_t *r)
{
    opp_t *o = new_opp(w, acct, OT_RENEWAL);
    int closed = start - 1 - rng_int(r, 0, 25);
    o->created_day = closed - rng_int(r, 40, 110);
    o->created_sec = rng_int(r, 8 * 3600, 19 * 3600);
    o->amount = amount;
    close_opp(o, closed, 1, r);
    name_opp(w, o, r);
}

static void make_agreements_and_renewals(world_t *w)
{
    for (int i = 0; i < w->n_accounts; i++) {
        account_t *a = &w->acc[i];
        if (!a->has_usage)
            continue;
        set_commit(w, a);
        rng_t r;
        rng_init(&r, w->seed, S_AGREE, (uint64_t)i);
        int term = pick_term(&r);
        if (a->roles & R_ONBOARD) {
            /* first agreement at onboarding, renewed forward until one covers as_of */
            int start = a->usage_start;
            double commit = round_commit(a->commit * rng_uniform(&r, 0.75, 0.9));
            for (int k = 0;; k++) {
                int end = add_months(start, term) - 1;
                int active = end >= w->as_of;
                add_agreement(w, i, term, start, end, active ? a->commit : commit, active, &r);
                if (k > 0)
                    add_won_renewal(w, i, start, w->agr[w->n_agr - 1].amount, &r);
                if (active)
                    break;
                start = end + 1;
                term = pick_term(&r);
            }
            continue;
        }
        int end = (a->roles & R_RENEW) ? w->as_of - a->renew_days
                                       : w->as_of + rng_int(&r, 0, add_months(w->as_of, term) - w->as_of - 2);
        int start = add_months(end + 1, -term);
        while (start >= w->as_of) { /* month-end clamping can land the start on as_of */
            end--;
            start = add_months(end + 1, -term);
        }
        add_agreement(w, i, term, start, end, a->commit, 1, &r);
        /* earlier agreements back to before the window; each hand-over inside it was a renewal */
        double commit = a->commit;
        while (start > w->win_start) {
            if (start < w->as_of)
                add_won_renewal(w, i, start, w->agr[w->n_agr - 1].amount, &r);
            int pend = start - 1;
            int pterm = pick_term(&r);
            commit = round_commit(commit * rng_uniform(&r, 0.8, 0.95));
            start = add_months(pend + 1, -pterm);
            add_agreement(w, i, pterm, start, pend, commit, 0, &r);
        }
        /* the open renewal of the active agreement */
        const agr_t *act = &w->agr[a->agreement];
        if ((a->roles & R_RENEW) || act->end - w->as_of <= 120) {
            opp_t *o = new_opp(w, i, OT_RENEWAL);
            o->close_day = act->end; /* past for R_RENEW: that is the planted signal */
            o->created_day = imin(act->end - rng_int(&r, 90, 150), w->as_of - 31);
            o->created_sec = rng_int(&r, 8 * 3600, 19 * 3600);
            o->amount = round(act->amount * rng_uniform(&r, 1.0, 1.15) / 100.0) * 100.0;
            o->stage = rng_int(&r, ST_PROPOSAL, ST_NEGOTIATION);
            o->lscd = w->as_of - rng_int(&r, 1, 30);
            o->planted = (a->roles & R_RENEW) ? 1 : 0;
            name_opp(w, o, &r);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* other opportunities                                                                          */

static void make_opportunities(world_t *w)
{
    static const double type_w[] = {0.20, 0.40, 0.40};
    for (int i = 0; i < w->n_accounts; i++) {
        account_t *a = &w->acc[i];
        rng_t r;
        rng_init(&r, w->seed, S_OPPS, (uint64_t)i);
        if (a->roles & R_NEW) {
            opp_t *o = new_opp(w, i, OT_NB);
            o->created_day = imin(a->created_day + rng_int(&r, 1, 3), w->as_of - 1);
            o->created_sec = rng_int(&r, 8 * 3600, 19 * 3600);
            o->amount = opp_amount(&r, a, OT_NB);
            o->close_day = w->as_of + rng_int(&r, 30, 120);
            open_opp(w, o, &r, ST_PROSPECTING, ST_QUALIFICATION);
            name_opp(w, o, &r);
            continue;
        }
        if (a->roles & R_ONBOARD) {
            opp_t *o = new_opp(w, i, OT_NB);
            o->created_day = a->usage_start - rng_int(&r, 60, 150);
            o->created_sec = rng_int(&r, 8 * 3600, 19 * 3600);
            for (int g = 0; g < w->n_agr; g++) /* the first agreement */
                if (w->agr[g].acct == i && w->agr[g].start == a->usage_start)
                    o->amount = w->agr[g].amount;
            close_opp(o, a->usage_start - rng_int(&r, 3, 15), 1, &r);
            name_opp(w, o, &r);
        }
        int n = rng_int(&r, 4, 8);
        int lo = (a->roles & R_ONBOARD) ? a->usage_start : w->win_start;
        int has_open_upsell = 0;
        for (int k = 0; k < n; k++) {
            int type = rng_weighted(&r, type_w, 3);
            opp_t *o = new_opp(w, i, type);
            o->created_day = rng_int(&r, lo, w->as_of - 2);
            o->created_sec = rng_int(&r, 8 * 3600, 19 * 3600);
            o->amount = opp_amount(&r, a, type);
            int cycle = rng_int(&r, 20, 150);
            if (o->created_day + cycle <= w->as_of - 1) {
                close_opp(o, o->created_day + cycle, rng_u01(&r) < 0.42, &r);
            } else {
                if ((a->roles & R_A3C) && (type == OT_UPSELL || type == OT_EXP))
                    o->type = OT_NB; /* an A3 candidate has no open upsell */
                o->close_day = w->as_of + rng_int(&r, 7, 150);
                open_opp(w, o, &r, ST_PROSPECTING, ST_NEGOTIATION);
                has_open_upsell |= o->type == OT_UPSELL || o->type == OT_EXP;
            }
            name_opp(w, o, &r);
        }
        if ((a->roles & R_A3D) && !has_open_upsell) {
            opp_t *o = new_opp(w, i, OT_EXP);
            o->created_day = w->as_of - rng_int(&r, 20, 60);
            o->created_sec = rng_int(&r, 8 * 3600, 19 * 3600);
            o->amount = opp_amount(&r, a, OT_EXP);
            o->close_day = w->as_of + rng_int(&r, 20, 90);
            open_opp(w, o, &r, ST_DISCOVERY, ST_PROPOSAL);
            name_opp(w, o, &r);
        }
        if (a->roles & R_STALL) {
            static const int st_types[] = {OT_NB, OT_UPSELL, OT_EXP};
            opp_t *o = new_opp(w, i, PICK(&r, st_types));
            o->lscd = w->as_of - a->stall_days;
            o->created_day = o->lscd - rng_int(&r, 10, 60);
            o->created_sec = rng_int(&r, 8 * 3600, 19 * 3600);
            o->amount = opp_amount(&r, a, o->type);
            o->close_day = w->as_of + rng_int(&r, 10, 90);
            o->stage = rng_int(&r, ST_QUALIFICATION, ST_PROPOSAL);
            o->planted = 2;
            name_opp(w, o, &r);
        }
    }
}

static int opp_cmp(const void *pa, const void *pb)
{
    const opp_t *a = pa, *b = pb;
    if (a->created_day != b->created_day)
        return a->created_day < b->created_day ? -1 : 1;
    if (a->created_sec != b->created_sec)
        return a->created_sec < b->created_sec ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* closed-lost reasons: drawn per loss, redrawn until the A2/A6 patterns hold with a margin */
static int assign_reasons(world_t *w, int attempt)
{
    rng_t r;
    rng_init(&r, w->seed, S_REASONS, (uint64_t)attempt);
    memset(w->a2_counts, 0, sizeof w->a2_counts);
    memset(w->a2_total, 0, sizeof w->a2_total);
    memset(w->a6_recent, 0, sizeof w->a6_recent);
    memset(w->a6_before, 0, sizeof w->a6_before);
    for (int i = 0; i < w->n_opp; i++) {
        opp_t *o = &w->opp[i];
        if (o->stage != ST_LOST)
            continue;
        int type = w->acc[o->acct].type;
        int recent = o->closed_day >= w->w6;
        if (rng_u01(&r) < TYPE_P_COMPETITIVE[type]) {
            int comp = rng_weighted(&r, recent ? COMP_W_RECENT : COMP_W_BEFORE, N_COMP);
            int variants[4], nv = 0;
            for (int k = 0; k < N_COMP_REASONS; k++)
                if (COMP_REASONS[k].comp == comp)
                    variants[nv++] = k;
            o->reason = N_NC_REASONS + variants[rng_int(&r, 0, nv - 1)];
            (recent ? w->a6_recent : w->a6_before)[comp]++;
        } else {
            double wts[N_NC_REASONS];
            for (int k = 0; k < N_NC_REASONS; k++)
                wts[k] = k == TYPE_TOP_REASON[type] ? 0.55 : 0.45 / (N_NC_REASONS - 1);
            o->reason = rng_weighted(&r, wts, N_NC_REASONS);
        }
        if (o->closed_day >= w->w12) {
            w->a2_counts[type][o->reason]++;
            w->a2_total[type]++;
        }
    }
    /* A2: the intended reason leads in every type clearly (1.5x the runner-up, and by 3) */
    for (int t = 0; t < N_TYPES; t++) {
        int top = TYPE_TOP_REASON[t], second = 0;
        for (int k = 0; k < N_REASONS; k++)
            if (k != top && w->a2_counts[t][k] > second)
                second = w->a2_counts[t][k];
        if (w->a2_counts[t][top] < second + 3 || w->a2_counts[t][top] < 1.5 * second)
            return 0;
    }
    /* A6: Databricks > 55% of recent competitive losses; Snowflake leads before, by 1.5x */
    int rtot = 0, btot = 0, bsecond = 0;
    for (int c = 0; c < N_COMP; c++) {
        rtot += w->a6_recent[c];
        btot += w->a6_before[c];
        if (c != C_SNOWFLAKE && w->a6_before[c] > bsecond)
            bsecond = w->a6_before[c];
    }
    if (rtot < 10 || w->a6_recent[C_DATABRICKS] <= 0.55 * rtot)
        return 0;
    if (btot < 10 || w->a6_before[C_SNOWFLAKE] < 1.5 * bsecond)
        return 0;
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Gong calls and Slack messages                                                                */

static const char *competitor_at(rng_t *r, const world_t *w, int day)
{
    return COMPETITORS[rng_weighted(r, day >= w->w6 ? COMP_W_RECENT : COMP_W_BEFORE, N_COMP)];
}

/* Fill a sentence template's one "%s" with arg.  Templates come from the
 * tables below, so this is plain substitution rather than a non-literal
 * printf format (which -Wformat=2 rightly distrusts). */
static void fill_template(char *dst, size_t n, const char *tmpl, const char *arg)
{
    const char *hole = strstr(tmpl, "%s");
    if (!hole) {
        snprintf(dst, n, "%s", tmpl);
        return;
    }
    snprintf(dst, n, "%.*s%s%s", (int)(hole - tmpl), tmpl, arg, hole + 2);
}

static void add_call(world_t *w, int acct, int day, double sentiment, rng_t *r, const char *title_hint)
{
    static const char *const pos_titles[] = {"Quarterly Business Review", "Expansion planning",
                                             "Executive sponsor sync", "Roadmap preview"};
    static const char *const neu_titles[] = {"Technical deep dive: query performance", "Onboarding check-in",
                                             "Pricing and packaging discussion", "Quarterly Business Review"};
    static const char *const neg_titles[] = {"Escalation: dashboard latency", "Cost review",
                                             "Renewal risk discussion", "Support escalation follow-up"};
    static const char *const pos_sum[] = {
        "Customer is happy with dashboard performance and plans to move %s onto the platform. Next step: scope additional engines.",
        "Strong QBR: adoption up across teams, champion wants a case study. Discussed %s as the next workload.",
        "Executive sponsor confirmed the platform is strategic; asked for a proposal covering %s.",
    };
    static const char *const neu_sum[] = {
        "Reviewed usage and open tickets. Customer asked about cost controls for %s; no decision on expansion yet.",
        "Walked through engine sizing and caching for %s. Follow-up: share benchmark notes.",
        "Pricing questions for next year; customer wants options before committing to %s.",
    };
    static const char *const neg_sum[] = {
        "Customer frustrated with query timeouts on %s and rising spend. Leadership questioning value; action plan requested within two weeks.",
        "Tense call: usage of %s is down and budget is under review. Champion less engaged than last quarter.",
        "Escalation about failed loads for %s. Customer unsure they will renew at the current commitment.",
    };
    GROW(w->call, w->n_call, w->cap_call);
    call_t *c = &w->call[w->n_call];
    memset(c, 0, sizeof *c);
    c->acct = acct;
    c->day = day;
    c->seq = w->n_call++;
    c->sentiment = round2(fmax(-1.0, fmin(1.0, sentiment)));
    const char *const *titles = c->sentiment >= 0.35 ? pos_titles : c->sentiment <= -0.25 ? neg_titles : neu_titles;
    const char *const *sums = c->sentiment >= 0.35 ? pos_sum : c->sentiment <= -0.25 ? neg_sum : neu_sum;
    double p_comp = c->sentiment >= 0.35 ? 0.08 : c->sentiment <= -0.25 ? 0.40 : 0.25;
    const char *title = title_hint ? title_hint : titles[rng_int(r, 0, 3)];
    snprintf(c->title, sizeof c->title, "%s | %s", w->acc[acct].name, title);
    char base[400];
    fill_template(base, sizeof base, sums[rng_int(r, 0, 2)], PICK(r, WORKLOADS));
    if (rng_u01(r) < p_comp)
        snprintf(c->summary, sizeof c->summary, "%s They mentioned evaluating %s.", base, competitor_at(r, w, day));
    else
        snprintf(c->summary, sizeof c->summary, "%s", base);
    c->duration = rng_int(r, 15, c->sentiment >= 0.35 ? 60 : 45) * 60 + rng_int(r, 0, 59);
}

static int call_cmp(const void *pa, const void *pb)
{
    const call_t *a = pa, *b = pb;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void add_msg(world_t *w, int acct, int day, int tone, rng_t *r)
{
    static const char *const pos[] = {
        "Thanks team - the new %s dashboards are live and everyone loves the speed!",
        "Great session today, we will roll the %s pilot out to two more teams.",
        "Latency on %s dropped from seconds to milliseconds after the index change. Amazing.",
    };
    static const char *const neu[] = {
        "Quick question: what is the best way to size an engine for %s?",
        "Can we get the slides from the last sync? Sharing with the %s team.",
        "We are planning next quarter's roadmap (%s), can we set up a call?",
        "Is there a recommended pattern for incremental loads into %s?",
    };
    static const char *const neg[] = {
        "Queries for %s have been timing out since yesterday, this is blocking our reporting.",
        "Finance is asking why our bill went up again this month (mostly %s).",
        "Still waiting on a reply to the support ticket about %s from last week.",
        "We are reviewing all data platform spend for next year, %s included.",
    };
    GROW(w->msg, w->n_msg, w->cap_msg);
    msg_t *m = &w->msg[w->n_msg++];
    memset(m, 0, sizeof *m);
    m->acct = acct;
    m->day = day;
    long long secs = (long long)day * 86400 + rng_int(r, 13 * 3600, 23 * 3600 - 1);
    snprintf(m->ts, sizeof m->ts, "%lld.%06d", secs, rng_int(r, 0, 999999));
    snprintf(m->user, sizeof m->user, "%s.%s", PICK(r, FIRST_NAMES), PICK(r, LAST_NAMES));
    const char *wl = PICK(r, WORKLOADS);
    switch (tone) {
    case 0: fill_template(m->text, sizeof m->text, pos[rng_int(r, 0, 2)], wl); break;
    case 1: fill_template(m->text, sizeof m->text, neu[rng_int(r, 0, 3)], wl); break;
    case 2: fill_template(m->text, sizeof m->text, neg[rng_int(r, 0, 3)], wl); break;
    default:
        snprintf(m->text, sizeof m->text, rng_u01(r) < 0.5 ? "Leadership asked us to benchmark %s before the renewal."
                                                          : "FYI our ML team is piloting %s for feature engineering.",
                 competitor_at(r, w, day));
    }
}

static int msg_cmp(const void *pa, const void *pb)
{
    const msg_t *a = pa, *b = pb;
    if (a->acct != b->acct)
        return a->acct < b->acct ? -1 : 1;
    return strcmp(a->ts, b->ts);
}

/* ------------------------------------------------------------------------------------------ */
/* self-checks: recompute A1 and A3 from the generated rows with the rules                      */

static int open_stage(int stage) { return stage != ST_WON && stage != ST_LOST; }

static void check_a1(world_t *w)
{
    int *renew = xcalloc((size_t)w->n_accounts, sizeof(int));
    int *stall = xcalloc((size_t)w->n_accounts, sizeof(int));
    for (int i = 0; i < w->n_opp; i++) {
        const opp_t *o = &w->opp[i];
        if (!open_stage(o->stage))
            continue;
        if (o->type == OT_RENEWAL && o->close_day < w->as_of)
            renew[o->acct] = imax(renew[o->acct], w->as_of - o->close_day);
        if (w->as_of - o->lscd > A1_STALL_DAYS)
            stall[o->acct] = imax(stall[o->acct], w->as_of - o->lscd);
    }
    for (int i = 0; i < w->n_accounts; i++) {
        const account_t *a = &w->acc[i];
        int decl = decline_chain(a->u) && decline_of(a->u) > A1_DECLINE_PCT;
        if (decl != !!(a->roles & R_DECL) || !!renew[i] != !!(a->roles & R_RENEW) ||
            !!stall[i] != !!(a->roles & R_STALL) || ((a->roles & R_RENEW) && renew[i] != a->renew_days) ||
            ((a->roles & R_STALL) && stall[i] != a->stall_days))
            die("%s: internal error: A1 self-check failed for account %s", g_out, a->id);
    }
    free(renew);
    free(stall);
}

static double utilisation(const world_t *w, const account_t *a)
{
    return a->agreement < 0 ? 0 : (a->u[2] + a->u[1] + a->u[0]) / 3.0 / w->agr[a->agreement].commit;
}

static int is_open_upsell(const opp_t *o) { return open_stage(o->stage) && (o->type == OT_UPSELL || o->type == OT_EXP); }

/* per account: index of an open Upsell/Expansion opportunity, -1 if none (caller frees) */
static int *open_upsells(const world_t *w)
{
    int *up = xcalloc((size_t)w->n_accounts, sizeof *up);
    for (int i = 0; i < w->n_accounts; i++)
        up[i] = -1;
    for (int i = 0; i < w->n_opp; i++)
        if (is_open_upsell(&w->opp[i]) && up[w->opp[i].acct] < 0)
            up[w->opp[i].acct] = i;
    return up;
}

/* A3 steady growth (docs/analyses/A3.md): usage rose in each of the last A3_GROWTH_MONTHS
 * complete months over the month before, u(first) > 0, and grew by >= A3_GROWTH_PCT from the
 * first to the last of them.  `step` and `pct` shift the two thresholds for the margin check. */
#define A3_GROWTH_MONTHS 4
#define A3_GROWTH_PCT 10.0
#define A3_STEP_MARGIN 0.0002 /* relative month-over-month change */
#define A3_PCT_MARGIN 2.0     /* percentage points of growth */

static int a3_grows(const account_t *a, double step, double pct)
{
    const int k0 = A3_GROWTH_MONTHS - 1; /* u[k0] = first month of the window */
    if (!(a->u[k0] > 0))
        return 0;
    for (int k = k0; k > 0; k--)
        if (!(a->u[k - 1] > a->u[k] * (1.0 + step)))
            return 0;
    return 100.0 * (a->u[0] - a->u[k0]) / a->u[k0] >= pct;
}

static double a3_growth_pct(const account_t *a)
{
    const int k0 = A3_GROWTH_MONTHS - 1;
    return a->u[k0] > 0 ? 100.0 * (a->u[0] - a->u[k0]) / a->u[k0] : 0;
}

/* every account is clear of both growth thresholds: the rule with both thresholds loosened
 * and with both tightened by the margins gives the same answer */
static void check_a3_growth(const world_t *w)
{
    for (int i = 0; i < w->n_accounts; i++) {
        const account_t *a = &w->acc[i];
        if (a3_grows(a, -A3_STEP_MARGIN, A3_GROWTH_PCT - A3_PCT_MARGIN) !=
            a3_grows(a, A3_STEP_MARGIN, A3_GROWTH_PCT + A3_PCT_MARGIN))
            die("%s: A3 self-check: account %s is too close to the steady-growth thresholds "
                "(monthly engine hours %.2f, %.2f, %.2f, %.2f; growth %.2f%%: a month-over-month change "
                "within %.2f%% of zero or growth within %.1f points of %.0f%%), so the planted A3 truth "
                "would be fragile; use another --seed",
                g_out, a->id, a->u[3], a->u[2], a->u[1], a->u[0], a3_growth_pct(a), 100.0 * A3_STEP_MARGIN,
                A3_PCT_MARGIN, A3_GROWTH_PCT);
    }
}

static void check_a3(const world_t *w)
{
    check_a3_growth(w);
    int *ups = open_upsells(w);
    for (int i = 0; i < w->n_accounts; i++) {
        const account_t *a = &w->acc[i];
        double u = utilisation(w, a);
        int up = ups[i] >= 0;
        int cand = u > 0.85 && !up;
        if (cand != !!(a->roles & R_A3C) || (!up && !cand && u >= 0.70) || ((a->roles & R_A3D) && (!up || u <= 0.85)))
            die("%s: internal error: A3 self-check failed for account %s", g_out, a->id);
    }
    free(ups);
}

/* ------------------------------------------------------------------------------------------ */
/* A4 customer health: the rule of docs/analyses/A4.md with its default options, applied to     */
/* the generator's own model (monthly sums, opportunities, calls, messages), not to the database */

#define A4_W_USAGE 0.40
#define A4_W_SENTIMENT 0.25
#define A4_W_ENGAGEMENT 0.20
#define A4_W_PIPELINE 0.15
#define A4_SLACK_TARGET 6
#define A4_SILENT_DAYS 60
#define A4_STALL_DAYS 60
#define A4_HEALTHY 60.0
#define A4_WATCH 35.0
#define A4_PLANTED_MARGIN 4.0 /* a planted example lies this far inside its band */
#define A4_MARGIN 0.5         /* every account lies this far from a band threshold */

enum { B_HEALTHY, B_WATCH, B_ATRISK };
static const char *const A4_BANDS[] = {"healthy", "watch", "at_risk"};

/* one account's inputs to the rule and its components */
typedef struct {
    double last3, prev3;  /* engine hours of M0..M-2 and of M-3..M-5 */
    int ncall;            /* calls in [as_of - 90, as_of) */
    double ssum;          /* their summed sentiment */
    int nmsg, last_msg;   /* messages in [as_of - 90, as_of), the latest day (-1: none) */
    int n_open, n_active; /* open opportunities; those neither stalled nor past close_date */
    double U, S, E, P, score;
    int band;
} health_t;

static void a4_usage(const account_t *a, health_t *h)
{
    h->last3 = a->u[0] + a->u[1] + a->u[2];
    h->prev3 = a->u[3] + a->u[4] + a->u[5];
}

static void a4_add_call(const world_t *w, health_t *h, const call_t *c)
{
    if (c->day >= w->d90 && c->day < w->as_of) {
        h->ncall++;
        h->ssum += c->sentiment;
    }
}

static void a4_add_msg(const world_t *w, health_t *h, const msg_t *m)
{
    if (m->day >= w->d90 && m->day < w->as_of) {
        h->nmsg++;
        h->last_msg = imax(h->last_msg, m->day);
    }
}

static void a4_add_opp(const world_t *w, health_t *h, const opp_t *o)
{
    if (!open_stage(o->stage))
        return;
    h->n_open++;
    h->n_active += !(w->as_of - o->lscd > A4_STALL_DAYS) && !(o->close_day < w->as_of);
}

static void a4_score(const world_t *w, health_t *h)
{
    h->U = h->prev3 > 0 ? fmax(0.0, fmin(100.0, 50.0 + 250.0 * (h->last3 / h->prev3 - 1.0))) : 50.0;
    h->S = h->ncall ? 50.0 + 50.0 * h->ssum / h->ncall : 50.0;
    h->E = h->nmsg == 0 || w->as_of - h->last_msg > A4_SILENT_DAYS ? 0.0 : fmin(100.0, 100.0 * h->nmsg / A4_SLACK_TARGET);
    h->P = h->n_open == 0 ? 50.0 : h->n_active ? 100.0 : 0.0;
    h->score = A4_W_USAGE * h->U + A4_W_SENTIMENT * h->S + A4_W_ENGAGEMENT * h->E + A4_W_PIPELINE * h->P;
    h->band = h->score >= A4_HEALTHY ? B_HEALTHY : h->score >= A4_WATCH ? B_WATCH : B_ATRISK;
}

static double a4_margin(double score) { return fmin(fabs(score - A4_HEALTHY), fabs(score - A4_WATCH)); }

static int a4_planted_band(const account_t *a)
{
    return (a->roles & R_HEALTHY) ? B_HEALTHY : (a->roles & R_WATCH) ? B_WATCH : (a->roles & R_ATRISK) ? B_ATRISK : -1;
}

/* every account's health from the final model (calls and messages in any order) */
static health_t *a4_all(const world_t *w)
{
    health_t *h = xcalloc((size_t)w->n_accounts, sizeof *h);
    for (int i = 0; i < w->n_accounts; i++) {
        h[i].last_msg = -1;
        a4_usage(&w->acc[i], &h[i]);
    }
    for (int i = 0; i < w->n_opp; i++)
        a4_add_opp(w, &h[w->opp[i].acct], &w->opp[i]);
    for (int i = 0; i < w->n_call; i++)
        a4_add_call(w, &h[w->call[i].acct], &w->call[i]);
    for (int i = 0; i < w->n_msg; i++)
        a4_add_msg(w, &h[w->msg[i].acct], &w->msg[i]);
    for (int i = 0; i < w->n_accounts; i++)
        a4_score(w, &h[i]);
    return h;
}

/* One account's Gong calls: a few older ones, then the last 90 days by story: planted healthy
 * positive, watch neutral, at-risk negative; A1 decliners mixed; everyone else mildly positive. */
static void gen_calls(world_t *w, int i, rng_t *r)
{
    const account_t *a = &w->acc[i];
    if (a->roles & R_NEW) {
        add_call(w, i, rng_int(r, a->created_day, w->as_of - 1), rng_uniform(r, 0.3, 0.7), r, "Discovery call");
        return;
    }
    int lo = (a->roles & R_ONBOARD) ? a->usage_start - 30 : w->win_start;
    int n = rng_int(r, 2, 5);
    for (int k = 0; k < n; k++)
        add_call(w, i, rng_int(r, lo, w->d90 - 1), rng_uniform(r, -0.2, 0.7), r, NULL);
    double s_lo = 0.15, s_hi = 0.7;
    int k_lo = 1, k_hi = 3;
    if (a->roles & R_HEALTHY)
        s_lo = 0.5, s_hi = 0.9, k_lo = 2;
    else if (a->roles & R_WATCH)
        s_lo = -0.15, s_hi = 0.15, k_lo = 2;
    else if (a->roles & R_ATRISK)
        s_lo = -0.8, s_hi = -0.35, k_lo = 2;
    else if (a->roles & R_DECL)
        s_lo = -0.2, s_hi = 0.3;
    n = rng_int(r, k_lo, k_hi);
    for (int k = 0; k < n; k++)
        add_call(w, i, rng_int(r, w->d90 + 2, w->as_of - 2), rng_uniform(r, s_lo, s_hi), r, NULL);
    if (a->roles & R_RENEW)
        add_call(w, i, a->renew_days > 20 ? w->as_of - rng_int(r, 3, 20) : w->as_of - 2, rng_uniform(r, -0.5, 0.1), r,
                 "Renewal planning");
}

/* One account's Slack messages: a few older ones, then the last 90 days: planted healthy very
 * active, watch one or two, at-risk one complaint and silent for the last 60 days; new prospects
 * an onboarding thread; everyone else steady (5-10, the latest within 30 days). */
static void gen_msgs(world_t *w, int i, rng_t *r)
{
    static const double tone_w[] = {0.35, 0.45, 0.12, 0.08};
    const account_t *a = &w->acc[i];
    if (a->roles & R_NEW) {
        int n = rng_int(r, 4, 8);
        for (int k = 0; k < n; k++)
            add_msg(w, i, rng_int(r, a->created_day, w->as_of - 1), rng_u01(r) < 0.4 ? 0 : 1, r);
        return;
    }
    int lo = (a->roles & R_ONBOARD) ? a->usage_start : w->win_start;
    int n = rng_int(r, 2, 5);
    for (int k = 0; k < n; k++)
        add_msg(w, i, rng_int(r, lo, w->d90 - 1), rng_weighted(r, tone_w, 4), r);
    if (a->roles & R_HEALTHY) {
        n = rng_int(r, 6, 10);
        for (int k = 0; k < n; k++)
            add_msg(w, i, rng_int(r, w->d90, w->as_of - 1), rng_u01(r) < 0.6 ? 0 : 1, r);
    } else if (a->roles & R_WATCH) {
        n = rng_int(r, 1, 2);
        for (int k = 0; k < n; k++)
            add_msg(w, i, rng_int(r, w->as_of - 50, w->as_of - 1), 1, r);
    } else if (a->roles & R_ATRISK) {
        add_msg(w, i, rng_int(r, w->d90, w->as_of - 61), rng_u01(r) < 0.7 ? 2 : 3, r);
    } else {
        n = rng_int(r, 5, 10);
        add_msg(w, i, w->as_of - rng_int(r, 1, 30), rng_weighted(r, tone_w, 4), r);
        for (int k = 1; k < n; k++)
            add_msg(w, i, rng_int(r, w->d90, w->as_of - 1), rng_weighted(r, tone_w, 4), r);
    }
}

/* Calls and messages per account, redrawn until the account's health score is clear of the band
 * thresholds (planted examples: inside their planted band by A4_PLANTED_MARGIN).  Only the Gong
 * and Slack streams depend on this; usage and opportunities are final before it runs. */
static void make_engagement(world_t *w)
{
    health_t *base = xcalloc((size_t)w->n_accounts, sizeof *base);
    for (int i = 0; i < w->n_opp; i++)
        a4_add_opp(w, &base[w->opp[i].acct], &w->opp[i]);
    for (int i = 0; i < w->n_accounts; i++) {
        const account_t *a = &w->acc[i];
        int want = a4_planted_band(a);
        for (int attempt = 0;; attempt++) {
            int c0 = w->n_call, m0 = w->n_msg;
            rng_t r;
            rng_init(&r, w->seed, S_GONG, (uint64_t)i * 4096u + (uint64_t)attempt);
            gen_calls(w, i, &r);
            rng_init(&r, w->seed, S_SLACK, (uint64_t)i * 4096u + (uint64_t)attempt);
            gen_msgs(w, i, &r);
            health_t h = base[i];
            h.last_msg = -1;
            a4_usage(a, &h);
            for (int k = c0; k < w->n_call; k++)
                a4_add_call(w, &h, &w->call[k]);
            for (int k = m0; k < w->n_msg; k++)
                a4_add_msg(w, &h, &w->msg[k]);
            a4_score(w, &h);
            double m = a4_margin(h.score);
            if (want < 0 ? m >= A4_MARGIN : h.band == want && m >= A4_PLANTED_MARGIN)
                break;
            if (attempt >= 400)
                die("%s: internal error: could not draw calls and messages that put account %s %s "
                    "(health %.2f, band %s, usage %.1f, pipeline %.0f)",
                    g_out, a->id, want < 0 ? "clear of the A4 band thresholds" : "inside its planted A4 band",
                    h.score, A4_BANDS[h.band], h.U, h.P);
            w->n_call = c0;
            w->n_msg = m0;
        }
    }
    free(base);
}

/* A4 self-check on the final rows: planted examples in their bands with a margin, and no account
 * near a band threshold */
static void check_a4(const world_t *w)
{
    health_t *h = a4_all(w);
    for (int i = 0; i < w->n_accounts; i++) {
        int want = a4_planted_band(&w->acc[i]);
        double m = a4_margin(h[i].score);
        if (want >= 0 && (h[i].band != want || m < A4_PLANTED_MARGIN))
            die("%s: internal error: A4 self-check failed: planted %s account %s has health %.2f (%s)", g_out,
                A4_BANDS[want], w->acc[i].id, h[i].score, A4_BANDS[h[i].band]);
        if (m < A4_MARGIN)
            die("%s: internal error: A4 self-check failed: account %s has health %.2f, within %.1f of a band threshold",
                g_out, w->acc[i].id, h[i].score, A4_MARGIN);
    }
    free(h);
}

/* ------------------------------------------------------------------------------------------ */
/* SQLite                                                                                       */

static const char SCHEMA[] =
    "CREATE TABLE salesforce_account_d (\n"
    "  sf_account_id TEXT PRIMARY KEY,\n"
    "  sf_account_name TEXT NOT NULL,\n"
    "  sf_account_type_custom TEXT,\n"
    "  account_region TEXT,\n"
    "  sf_industry TEXT,\n"
    "  sf_owner_id TEXT,\n"
    "  potential_account_spend_usd REAL,\n"
    "  created_at_ts TEXT\n"
    ");\n"
    "CREATE TABLE opportunity_d (\n"
    "  opportunity_id TEXT PRIMARY KEY,\n"
    "  opportunity_name TEXT,\n"
    "  opportunity_type TEXT,\n"
    "  sf_account_id TEXT NOT NULL,\n"
    "  stage_name TEXT,\n"
    "  amount REAL,\n"
    "  probability REAL,\n"
    "  close_date TEXT,\n"
    "  created_at_ts TEXT,\n"
    "  closed_at_date TEXT,\n"
    "  closed_won_lost_reason TEXT,\n"
    "  owner_id TEXT,\n"
    "  last_stage_change_date TEXT\n"
    ");\n"
    "CREATE TABLE consumption_daily_d (\n"
    "  consumption_date TEXT NOT NULL,\n"
    "  sf_account_id TEXT NOT NULL,\n"
    "  engine_hours REAL,\n"
    "  query_count INTEGER,\n"
    "  data_scanned_bytes INTEGER\n"
    ");\n"
    "CREATE TABLE agreement_f (\n"
    "  agreement_id TEXT PRIMARY KEY,\n"
    "  sf_account_id TEXT NOT NULL,\n"
    "  amount REAL,\n"
    "  contract_term_months INTEGER,\n"
    "  is_active INTEGER,\n"
    "  agreement_status TEXT,\n"
    "  start_date TEXT,\n"
    "  end_date TEXT,\n"
    "  committed_engine_hours_monthly REAL\n"
    ");\n"
    "CREATE TABLE gong_call_f (\n"
    "  gong_call_id TEXT PRIMARY KEY,\n"
    "  sf_account_id TEXT NOT NULL,\n"
    "  call_date TEXT,\n"
    "  call_title TEXT,\n"
    "  duration_seconds INTEGER,\n"
    "  sentiment REAL,\n"
    "  call_summary TEXT\n"
    ");\n"
    "CREATE TABLE slack_message_f (\n"
    "  message_ts TEXT NOT NULL,\n"
    "  channel_name TEXT NOT NULL,\n"
    "  sf_account_id TEXT NOT NULL,\n"
    "  user_name TEXT,\n"
    "  message_date TEXT,\n"
    "  message_text TEXT\n"
    ");\n";

static const char INDEXES[] =
    "CREATE INDEX opportunity_d_account ON opportunity_d(sf_account_id);\n"
    "CREATE UNIQUE INDEX consumption_daily_d_account_date ON consumption_daily_d(sf_account_id, consumption_date);\n"
    "CREATE INDEX agreement_f_account ON agreement_f(sf_account_id);\n"
    "CREATE INDEX gong_call_f_account ON gong_call_f(sf_account_id);\n"
    "CREATE INDEX slack_message_f_account ON slack_message_f(sf_account_id);\n";

typedef struct {
    sqlite3 *db;
    sqlite3_stmt *st;
    int col;
} ins_t;

static void db_fail(sqlite3 *db, const char *what)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s", db ? sqlite3_errmsg(db) : "out of memory");
    if (db)
        sqlite3_close(db);
    die("%s: %s: %s", g_out, what, msg);
}

static void db_exec(sqlite3 *db, const char *sql, const char *what)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        db_fail(db, what);
}

static void ins_prepare(ins_t *ins, sqlite3 *db, const char *sql)
{
    ins->db = db;
    ins->col = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &ins->st, NULL) != SQLITE_OK)
        db_fail(db, "cannot prepare insert");
}

static void b_text(ins_t *i, const char *s)
{
    int rc = s ? sqlite3_bind_text(i->st, ++i->col, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(i->st, ++i->col);
    if (rc != SQLITE_OK)
        db_fail(i->db, "cannot bind value");
}
static void b_real(ins_t *i, double v)
{
    if (sqlite3_bind_double(i->st, ++i->col, v) != SQLITE_OK)
        db_fail(i->db, "cannot bind value");
}
static void b_int(ins_t *i, long long v)
{
    if (sqlite3_bind_int64(i->st, ++i->col, v) != SQLITE_OK)
        db_fail(i->db, "cannot bind value");
}
static void ins_row(ins_t *i, const char *table)
{
    if (sqlite3_step(i->st) != SQLITE_DONE) {
        char what[128];
        snprintf(what, sizeof what, "cannot insert into %s", table);
        db_fail(i->db, what);
    }
    sqlite3_reset(i->st);
    sqlite3_clear_bindings(i->st);
    i->col = 0;
}

static const char *owner_id(int owner)
{
    static char buf[4][24];
    static int next;
    char *b = buf[next];
    next = (next + 1) % 4;
    snprintf(b, sizeof buf[0], "005A%012d", owner + 1);
    return b;
}

static void write_db(world_t *w)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(g_out, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        db_fail(db, "cannot create database");
    db_exec(db, "PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF;", "cannot set pragmas");
    db_exec(db, "BEGIN", "cannot begin transaction");
    db_exec(db, SCHEMA, "cannot create tables");

    char ts[64], ch[128];
    ins_t in;

    ins_prepare(&in, db, "INSERT INTO salesforce_account_d VALUES (?,?,?,?,?,?,?,?)");
    for (int i = 0; i < w->n_accounts; i++) {
        const account_t *a = &w->acc[i];
        int s = a->created_sec;
        snprintf(ts, sizeof ts, "%s %02d:%02d:%02d", ds(a->created_day), s / 3600, s / 60 % 60, s % 60);
        b_text(&in, a->id);
        b_text(&in, a->name);
        b_text(&in, TYPE_NAMES[a->type]);
        b_text(&in, REGIONS[a->region]);
        b_text(&in, INDUSTRIES[a->industry]);
        b_text(&in, owner_id(a->owner));
        b_real(&in, a->potential);
        b_text(&in, ts);
        ins_row(&in, "salesforce_account_d");
    }
    sqlite3_finalize(in.st);

    ins_prepare(&in, db, "INSERT INTO opportunity_d VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
    for (int i = 0; i < w->n_opp; i++) {
        const opp_t *o = &w->opp[i];
        const account_t *a = &w->acc[o->acct];
        int s = o->created_sec;
        snprintf(ts, sizeof ts, "%s %02d:%02d:%02d", ds(o->created_day), s / 3600, s / 60 % 60, s % 60);
        b_text(&in, o->id);
        b_text(&in, o->name);
        b_text(&in, OPP_TYPES[o->type]);
        b_text(&in, a->id);
        b_text(&in, STAGES[o->stage]);
        b_real(&in, o->amount);
        b_real(&in, STAGE_PROB[o->stage]);
        b_text(&in, ds(o->close_day));
        b_text(&in, ts);
        b_text(&in, o->closed_day >= 0 ? ds(o->closed_day) : NULL);
        b_text(&in, o->stage == ST_LOST ? reason_text(o->reason) : o->stage == ST_WON ? o->won_reason : NULL);
        b_text(&in, owner_id((o->seq % 7 == 3) ? (a->owner + 1 + o->seq % 8) % 9 : a->owner));
        b_text(&in, ds(o->lscd));
        ins_row(&in, "opportunity_d");
    }
    sqlite3_finalize(in.st);

    ins_prepare(&in, db, "INSERT INTO consumption_daily_d VALUES (?,?,?,?,?)");
    w->n_usage_rows = 0;
    for (int i = 0; i < w->n_accounts; i++) {
        const account_t *a = &w->acc[i];
        if (!a->has_usage)
            continue;
        rng_t r;
        rng_init(&r, w->seed, S_QUERY, (uint64_t)i);
        for (int day = imax(a->usage_start, w->win_start); day < w->as_of; day++) {
            double eh = a->eh[day - w->win_start];
            long long q = llround(eh * a->qph * rng_uniform(&r, 0.9, 1.1));
            b_text(&in, ds(day));
            b_text(&in, a->id);
            b_real(&in, eh);
            b_int(&in, q);
            b_int(&in, llround((double)q * a->bpq * rng_uniform(&r, 0.6, 1.4)));
            ins_row(&in, "consumption_daily_d");
            w->n_usage_rows++;
        }
    }
    sqlite3_finalize(in.st);

    ins_prepare(&in, db, "INSERT INTO agreement_f VALUES (?,?,?,?,?,?,?,?,?)");
    for (int i = 0; i < w->n_agr; i++) {
        const agr_t *g = &w->agr[i];
        b_text(&in, g->id);
        b_text(&in, w->acc[g->acct].id);
        b_real(&in, g->amount);
        b_int(&in, g->term);
        b_int(&in, g->active);
        b_text(&in, g->active ? "Active" : "Expired");
        b_text(&in, ds(g->start));
        b_text(&in, ds(g->end));
        b_real(&in, g->commit);
        ins_row(&in, "agreement_f");
    }
    sqlite3_finalize(in.st);

    ins_prepare(&in, db, "INSERT INTO gong_call_f VALUES (?,?,?,?,?,?,?)");
    for (int i = 0; i < w->n_call; i++) {
        const call_t *c = &w->call[i];
        b_text(&in, c->id);
        b_text(&in, w->acc[c->acct].id);
        b_text(&in, ds(c->day));
        b_text(&in, c->title);
        b_int(&in, c->duration);
        b_real(&in, c->sentiment);
        b_text(&in, c->summary);
        ins_row(&in, "gong_call_f");
    }
    sqlite3_finalize(in.st);

    ins_prepare(&in, db, "INSERT INTO slack_message_f VALUES (?,?,?,?,?,?)");
    for (int i = 0; i < w->n_msg; i++) {
        const msg_t *m = &w->msg[i];
        snprintf(ch, sizeof ch, "#acct-%s", w->acc[m->acct].slug);
        b_text(&in, m->ts);
        b_text(&in, ch);
        b_text(&in, w->acc[m->acct].id);
        b_text(&in, m->user);
        b_text(&in, ds(m->day));
        b_text(&in, m->text);
        ins_row(&in, "slack_message_f");
    }
    sqlite3_finalize(in.st);

    db_exec(db, INDEXES, "cannot create indexes");
    db_exec(db, "COMMIT", "cannot commit");
    if (sqlite3_close(db) != SQLITE_OK)
        db_fail(db, "cannot close database");
}

/* ------------------------------------------------------------------------------------------ */
/* truth file                                                                                   */

static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void json_account(FILE *f, const account_t *a)
{
    fputs("\"account\": ", f);
    jstr(f, a->id);
    fputs(", \"name\": ", f);
    jstr(f, a->name);
}

static const opp_t *planted_opp(const world_t *w, int acct, int kind)
{
    for (int i = 0; i < w->n_opp; i++)
        if (w->opp[i].acct == acct && w->opp[i].planted == kind)
            return &w->opp[i];
    return NULL;
}

static void truth_a1(FILE *f, const world_t *w)
{
    fprintf(f, "  \"A1\": {\n    \"rule\": {\"decline_pct\": %.0f, \"stall_days\": %d, \"M-3\": \"%s\", \"M-2\": \"%s\", "
               "\"M-1\": \"%s\", \"M0\": \"%s\"},\n",
            A1_DECLINE_PCT, A1_STALL_DAYS, ym(month_lo(w, 3)), ym(month_lo(w, 2)), ym(month_lo(w, 1)), ym(month_lo(w, 0)));
    const char *sep;
    fputs("    \"usage_decline\": [", f);
    sep = "\n";
    for (int i = 0; i < w->n_accounts; i++) {
        const account_t *a = &w->acc[i];
        if (!(a->roles & R_DECL))
            continue;
        fprintf(f, "%s      {", sep);
        json_account(f, a);
        fprintf(f, ", \"decline_pct\": %.4f, \"monthly_engine_hours\": [%.2f, %.2f, %.2f, %.2f]}", a->decline_pct,
                a->u[3], a->u[2], a->u[1], a->u[0]);
        sep = ",\n";
    }
    fputs("\n    ],\n    \"renewal_past_due\": [", f);
    sep = "\n";
    for (int i = 0; i < w->n_accounts; i++) {
        const account_t *a = &w->acc[i];
        const opp_t *o = (a->roles & R_RENEW) ? planted_opp(w, i, 1) : NULL;
        if (!o)
            continue;
        fprintf(f, "%s      {", sep);
        json_account(f, a);
        fprintf(f, ", \"opportunity\": \"%s\", \"close_date\": \"%s\", \"days_past_due\": %d}", o->id, ds(o->close_day),
                w->as_of - o->close_day);
        sep = ",\n";
    }
    fputs("\n    ],\n    \"stalled_opportunity\": [", f);
    sep = "\n";
    for (int i = 0; i < w->n_accounts; i++) {
        const account_t *a = &w->acc[i];
        const opp_t *o = (a->roles & R_STALL) ? planted_opp(w, i, 2) : NULL;
        if (!o)
            continue;
        fprintf(f, "%s      {", sep);
        json_account(f, a);
        fprintf(f, ", \"opportunity\": \"%s\", \"stage\": \"%s\", \"last_stage_change_date\": \"%s\", \"days_stalled\": %d}",
                o->id, STAGES[o->stage], ds(o->lscd), w->as_of - o->lscd);
        sep = ",\n";
    }
    fputs("\n    ],\n    \"accounts\": [", f);
    sep = "";
    for (int i = 0; i < w->n_accounts; i++)
        if (w->acc[i].roles & R_A1) {
            fprintf(f, "%s\"%s\"", sep, w->acc[i].id);
            sep = ", ";
        }
    fputs("],\n    \"findings\": [", f);
    sep = "\n";
    for (int i = 0; i < w->n_accounts; i++) {
        const account_t *a = &w->acc[i];
        if (!(a->roles & R_A1))
            continue;
        double s = a1_score(a);
        fprintf(f, "%s      {", sep);
        json_account(f, a);
        fputs(", \"signals\": [", f);
        const char *s2 = "";
        if (a->roles & R_DECL) {
            fprintf(f, "%s\"usage_decline\"", s2);
            s2 = ", ";
        }
        if (a->roles & R_RENEW) {
            fprintf(f, "%s\"renewal_past_due\"", s2);
            s2 = ", ";
        }
        if (a->roles & R_STALL)
            fprintf(f, "%s\"stalled_opportunity\"", s2);
        fprintf(f, "], \"score\": %.4f, \"priority\": \"%s\"}", s, priority_of(s));
        sep = ",\n";
    }
    fputs("\n    ]\n  },\n", f);
}

static void truth_a2(FILE *f, const world_t *w)
{
    fprintf(f, "  \"A2\": {\n    \"window_start\": \"%s\", \"window_end\": \"%s\",\n", ds(w->w12), ds(w->as_of - 1));
    fputs("    \"note\": \"closed-lost opportunities with closed_at_date in the window, grouped by sf_account_type_custom and exact closed_won_lost_reason\",\n", f);
    fprintf(f, "    \"intended_pattern_holds\": %s,\n    \"by_type\": {", w->reasons_intended ? "true" : "false");
    for (int t = 0; t < N_TYPES; t++) {
        int order[N_REASONS], n = 0;
        for (int k = 0; k < N_REASONS; k++)
            if (w->a2_counts[t][k])
                order[n++] = k;
        /* by count desc, then reason index */
        for (int i = 1; i < n; i++)
            for (int j = i; j > 0 && w->a2_counts[t][order[j]] > w->a2_counts[t][order[j - 1]]; j--) {
                int x = order[j];
                order[j] = order[j - 1];
                order[j - 1] = x;
            }
        fprintf(f, "%s\n      \"%s\": {\"closed_lost\": %d, \"top_reason\": ", t ? "," : "", TYPE_NAMES[t], w->a2_total[t]);
        jstr(f, n ? reason_text(order[0]) : "");
        fprintf(f, ", \"top_count\": %d, \"top_share\": %.4f, \"runner_up_count\": %d,\n        \"reasons\": {",
                n ? w->a2_counts[t][order[0]] : 0,
                w->a2_total[t] ? (double)w->a2_counts[t][order[0]] / w->a2_total[t] : 0.0,
                n > 1 ? w->a2_counts[t][order[1]] : 0);
        for (int i = 0; i < n; i++) {
            fputs(i ? ", " : "", f);
            jstr(f, reason_text(order[i]));
            fprintf(f, ": %d", w->a2_counts[t][order[i]]);
        }
        fputs("}}", f);
    }
    fputs("\n    }\n  },\n", f);
}

static void truth_a3(FILE *f, const world_t *w)
{
    fprintf(f, "  \"A3\": {\n    \"window_months\": [\"%s\", \"%s\", \"%s\"], \"threshold_pct\": 85,\n",
            ym(month_lo(w, 2)), ym(month_lo(w, 1)), ym(month_lo(w, 0)));
    fputs("    \"note\": \"average monthly engine_hours over the three complete months before as_of (also > 85% over the last 90 days / 3) vs committed_engine_hours_monthly of the active agreement; every other account without an open Upsell/Expansion is below 70% on both measures\",\n", f);
    const char *keys[] = {"candidates", "decoys_with_open_upsell"};
    const unsigned bits[] = {R_A3C, R_A3D};
    int *ups = open_upsells(w);
    double other_max = 0;
    for (int i = 0; i < w->n_accounts; i++)
        if (!(w->acc[i].roles & (R_A3C | R_A3D)) && ups[i] < 0)
            other_max = fmax(other_max, utilisation(w, &w->acc[i]));
    for (int k = 0; k < 2; k++) {
        fprintf(f, "    \"%s\": [", keys[k]);
        const char *sep = "\n";
        for (int i = 0; i < w->n_accounts; i++) {
            const account_t *a = &w->acc[i];
            if (!(a->roles & bits[k]))
                continue;
            const agr_t *g = &w->agr[a->agreement];
            fprintf(f, "%s      {", sep);
            json_account(f, a);
            fprintf(f, ", \"agreement\": \"%s\", \"committed_engine_hours_monthly\": %.2f, \"avg_monthly_engine_hours\": %.2f, "
                       "\"utilization_pct\": %.2f",
                    g->id, g->commit, (a->u[2] + a->u[1] + a->u[0]) / 3.0, 100.0 * utilisation(w, a));
            if (bits[k] == R_A3D)
                fprintf(f, ", \"open_opportunity\": \"%s\"", w->opp[ups[i]].id);
            fputc('}', f);
            sep = ",\n";
        }
        fputs("\n    ],\n", f);
    }
    fprintf(f, "    \"others_max_utilization_pct\": %.2f,\n", 100.0 * other_max);
    /* steady growth, the same rule from the monthly sums: with and without an open upsell */
    fprintf(f, "    \"growth_months\": [\"%s\", \"%s\", \"%s\", \"%s\"], \"growth_threshold_pct\": %.0f,\n",
            ym(month_lo(w, 3)), ym(month_lo(w, 2)), ym(month_lo(w, 1)), ym(month_lo(w, 0)), A3_GROWTH_PCT);
    fputs("    \"growth_note\": \"monthly engine_hours higher in each of the last four complete months than in the month "
          "before, and up by at least 10% from the first to the last of them; growth_candidates have no open "
          "Upsell/Expansion (found), growth_with_open_upsell have one (never found); every account is clear of both "
          "growth thresholds by a margin (self-check)\",\n", f);
    const char *gkeys[] = {"growth_candidates", "growth_with_open_upsell"};
    for (int k = 0; k < 2; k++) {
        fprintf(f, "    \"%s\": [", gkeys[k]);
        const char *sep = "\n";
        for (int i = 0; i < w->n_accounts; i++) {
            const account_t *a = &w->acc[i];
            if (!a3_grows(a, 0.0, A3_GROWTH_PCT) || (ups[i] >= 0) != (k == 1))
                continue;
            fprintf(f, "%s      {", sep);
            json_account(f, a);
            fprintf(f, ", \"monthly_engine_hours\": [%.2f, %.2f, %.2f, %.2f], \"growth_pct\": %.2f",
                    a->u[3], a->u[2], a->u[1], a->u[0], a3_growth_pct(a));
            if (k == 1)
                fprintf(f, ", \"open_opportunity\": \"%s\"", w->opp[ups[i]].id);
            fputc('}', f);
            sep = ",\n";
        }
        fprintf(f, "\n    ]%s\n", k == 0 ? "," : "");
    }
    fputs("  },\n", f);
    free(ups);
}

static void truth_a4(FILE *f, const world_t *w)
{
    health_t *h = a4_all(w);
    int count[3] = {0, 0, 0}, bg[3] = {0, 0, 0};
    for (int i = 0; i < w->n_accounts; i++) {
        count[h[i].band]++;
        bg[h[i].band] += a4_planted_band(&w->acc[i]) < 0;
    }
    fputs("  \"A4\": {\n", f);
    fprintf(f, "    \"rule\": \"docs/analyses/A4.md with the default options: health = %.2f U + %.2f S + %.2f E + %.2f P; "
               "U = clamp(50 + 250 (last3 / prev3 - 1), 0, 100) over engine_hours of the last 3 complete months vs the 3 before (50 without prior usage); "
               "S = 50 + 50 mean(sentiment) of calls in the last 90 days (50 without calls); "
               "E = min(100, 100 n / %d) for n Slack messages in the last 90 days, 0 when the last is more than %d days before as_of; "
               "P = 100 with an open opportunity neither stalled (no stage change for more than %d days) nor past its close_date, 0 when all open ones are, 50 with none open; "
               "healthy >= %g, watch >= %g, else at_risk\",\n",
            A4_W_USAGE, A4_W_SENTIMENT, A4_W_ENGAGEMENT, A4_W_PIPELINE, A4_SLACK_TARGET, A4_SILENT_DAYS, A4_STALL_DAYS,
            A4_HEALTHY, A4_WATCH);
    fprintf(f, "    \"thresholds\": {\"healthy\": %g, \"watch\": %g},\n", A4_HEALTHY, A4_WATCH);
    fprintf(f, "    \"note\": \"bands and scores classify every account (each at least %.1f points from a band threshold); "
               "healthy / watch / at_risk list the planted examples (each at least %.0f points inside its band) with their drivers\",\n",
            A4_MARGIN, A4_PLANTED_MARGIN);
    fprintf(f, "    \"band_counts\": {\"healthy\": %d, \"watch\": %d, \"at_risk\": %d},\n", count[0], count[1], count[2]);
    fprintf(f, "    \"background_band_counts\": {\"healthy\": %d, \"watch\": %d, \"at_risk\": %d},\n", bg[0], bg[1], bg[2]);
    fputs("    \"bands\": {", f);
    for (int i = 0; i < w->n_accounts; i++)
        fprintf(f, "%s\n      \"%s\": \"%s\"", i ? "," : "", w->acc[i].id, A4_BANDS[h[i].band]);
    fputs("\n    },\n    \"scores\": {", f);
    for (int i = 0; i < w->n_accounts; i++)
        fprintf(f, "%s\n      \"%s\": %.4f", i ? "," : "", w->acc[i].id, h[i].score);
    fputs("\n    },\n    \"components\": {", f);
    for (int i = 0; i < w->n_accounts; i++)
        fprintf(f, "%s\n      \"%s\": {\"U\": %.4f, \"S\": %.4f, \"E\": %.4f, \"P\": %.0f}", i ? "," : "", w->acc[i].id,
                h[i].U, h[i].S, h[i].E, h[i].P);
    fputs("\n    },\n", f);
    const char *keys[] = {"healthy", "watch", "at_risk"};
    const unsigned bits[] = {R_HEALTHY, R_WATCH, R_ATRISK};
    for (int k = 0; k < 3; k++) {
        fprintf(f, "    \"%s\": [", keys[k]);
        const char *sep = "\n";
        for (int i = 0; i < w->n_accounts; i++) {
            const account_t *a = &w->acc[i];
            const health_t *x = &h[i];
            if (!(a->roles & bits[k]))
                continue;
            double trend = x->prev3 > 0 ? 100.0 * (x->last3 / x->prev3 - 1.0) : 0;
            fprintf(f, "%s      {", sep);
            json_account(f, a);
            fprintf(f, ", \"health\": %.4f, \"usage_trend_pct\": %.2f, \"avg_sentiment_90d\": %.4f, \"calls_90d\": %d, \"slack_messages_90d\": %d, "
                       "\"last_slack_message_date\": \"%s\", \"open_opportunities\": %d, \"active_opportunities\": %d, \"drivers\": [",
                    x->score, trend, x->ncall ? x->ssum / x->ncall : 0.0, x->ncall, x->nmsg, x->last_msg >= 0 ? ds(x->last_msg) : "",
                    x->n_open, x->n_active);
            if (k == 0)
                fputs("\"usage growing\", \"positive call sentiment\", \"active slack channel\"", f);
            else if (k == 1)
                fputs("\"usage flat\", \"neutral call sentiment\", \"low slack activity\"", f);
            else
                fprintf(f, "\"%s\", \"negative call sentiment\", \"slack silent for 60+ days\"",
                        (a->roles & R_DECL) ? "usage declining (A1 usage_decline)" : "usage down, not monotonic");
            fputs("]}", f);
            sep = ",\n";
        }
        fprintf(f, "\n    ]%s\n", k < 2 ? "," : "");
    }
    fputs("  },\n", f);
    free(h);
}

static void truth_a5(FILE *f, const world_t *w)
{
    fprintf(f, "  \"A5\": {\n    \"window_start\": \"%s\",\n    \"note\": \"single-day engine_hours anomaly vs that weekday's normal level (daily noise is about 3.5%%)\",\n    \"anomalies\": [",
            ds(w->d90));
    int idx[16];
    memcpy(idx, w->a5_accounts, sizeof idx);
    qsort(idx, (size_t)w->n_a5, sizeof idx[0], cmp_int);
    for (int k = 0; k < w->n_a5; k++) {
        const account_t *a = &w->acc[idx[k]];
        fprintf(f, "%s\n      {", k ? "," : "");
        json_account(f, a);
        fprintf(f, ", \"date\": \"%s\", \"kind\": \"%s\", \"factor\": %.1f, \"engine_hours\": %.2f, \"expected_engine_hours\": %.2f}",
                ds(a->anom_day), a->anom_factor > 1 ? "spike" : "drop", a->anom_factor,
                a->eh[a->anom_day - w->win_start], a->anom_expected);
    }
    fputs("\n    ]\n  },\n", f);
}

static void counts_obj(FILE *f, const int *c)
{
    fputc('{', f);
    for (int k = 0; k < N_COMP; k++)
        fprintf(f, "%s\"%s\": %d", k ? ", " : "", COMPETITORS[k], c[k]);
    fputc('}', f);
}

static int argmax(const int *c)
{
    int best = 0;
    for (int k = 1; k < N_COMP; k++)
        if (c[k] > c[best])
            best = k;
    return best;
}

static void truth_a6(FILE *f, const world_t *w)
{
    int rt = 0, bt = 0;
    for (int k = 0; k < N_COMP; k++) {
        rt += w->a6_recent[k];
        bt += w->a6_before[k];
    }
    int rd = argmax(w->a6_recent), bd = argmax(w->a6_before);
    fprintf(f, "  \"A6\": {\n    \"window_start\": \"%s\", \"window_end\": \"%s\",\n", ds(w->w6), ds(w->as_of - 1));
    fputs("    \"note\": \"a competitive loss is a Closed Lost opportunity whose closed_won_lost_reason names exactly one competitor; window by closed_at_date\",\n", f);
    fputs("    \"competitors\": [", f);
    for (int k = 0; k < N_COMP; k++)
        fprintf(f, "%s\"%s\"", k ? ", " : "", COMPETITORS[k]);
    fprintf(f, "],\n    \"intended_pattern_holds\": %s,\n", w->reasons_intended ? "true" : "false");
    fprintf(f, "    \"dominant_competitor\": \"%s\", \"window_competitive_losses\": %d, \"dominant_share\": %.4f,\n",
            COMPETITORS[rd], rt, rt ? (double)w->a6_recent[rd] / rt : 0.0);
    fputs("    \"window_counts\": ", f);
    counts_obj(f, w->a6_recent);
    fprintf(f, ",\n    \"previous_dominant_competitor\": \"%s\", \"previous_competitive_losses\": %d, \"previous_share\": %.4f,\n",
            COMPETITORS[bd], bt, bt ? (double)w->a6_before[bd] / bt : 0.0);
    fputs("    \"previous_counts\": ", f);
    counts_obj(f, w->a6_before);
    fputs("\n  }\n", f);
}

static void write_truth(const world_t *w)
{
    FILE *f = fopen(g_truth_path, "w");
    if (!f)
        die("%s: cannot create: %s", g_truth_path, strerror(errno));
    fprintf(f, "{\n  \"seed\": %" PRIu64 ",\n  \"as_of\": \"%s\",\n", w->seed, ds(w->as_of));
    fprintf(f, "  \"data_start\": \"%s\",\n  \"data_end\": \"%s\",\n  \"accounts\": %d,\n", ds(w->win_start),
            ds(w->as_of - 1), w->n_accounts);
    fputs("  \"no_usage_accounts\": [", f);
    const char *sep = "";
    for (int i = 0; i < w->n_accounts; i++)
        if (!w->acc[i].has_usage) {
            fprintf(f, "%s\"%s\"", sep, w->acc[i].id);
            sep = ", ";
        }
    fputs("],\n", f);
    truth_a1(f, w);
    truth_a2(f, w);
    truth_a3(f, w);
    truth_a4(f, w);
    truth_a5(f, w);
    truth_a6(f, w);
    fputs("}\n", f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        die("%s: write failed: %s", g_truth_path, strerror(errno ? errno : EIO));
}

/* ------------------------------------------------------------------------------------------ */
/* main                                                                                         */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: %s --out PATH [--seed N] [--as-of YYYY-MM-DD] [--accounts N]\n"
            "Write the deterministic revops demo warehouse (SQLite) to PATH and its planted\n"
            "truth to PATH.truth.json. Data covers the two years ending the day before as_of.\n"
            "\n"
            "  --out PATH          database to write (an existing file is replaced)\n"
            "  --seed N            PRNG seed, unsigned 64-bit (default 42)\n"
            "  --as-of YYYY-MM-DD  analysis date (default 2026-11-01)\n"
            "  --accounts N        number of accounts, %d..%d (default 200)\n"
            "  -h, --help          show this help\n"
            "\n"
            "Exit status: 0 written, 1 cannot write PATH, 2 bad arguments.\n",
            PROG, MIN_ACCOUNTS, MAX_ACCOUNTS);
}

static void bad_arg(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void bad_arg(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", PROG);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", PROG);
    exit(2);
}

static void remove_existing(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT)
            die("%s: %s", path, strerror(errno));
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: %s: is a directory\n", PROG, path);
        exit(1);
    }
    if (unlink(path) != 0) {
        fprintf(stderr, "%s: %s: cannot remove: %s\n", PROG, path, strerror(errno));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    world_t *w = xcalloc(1, sizeof *w);
    const char *out = NULL;
    w->seed = 42;
    w->n_accounts = 200;
    parse_date("2026-11-01", &w->as_of);

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        const char *opts[] = {"--out", "--seed", "--as-of", "--accounts"};
        int which = -1;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            usage(stdout);
            return 0;
        }
        for (int k = 0; k < 4; k++) {
            size_t n = strlen(opts[k]);
            if (!strncmp(arg, opts[k], n) && (arg[n] == 0 || arg[n] == '=')) {
                which = k;
                if (arg[n] == '=')
                    val = arg + n + 1;
                else if (i + 1 < argc)
                    val = argv[++i];
                else
                    bad_arg("option '%s' needs a value", opts[k]);
            }
        }
        if (which < 0)
            bad_arg("unknown argument '%s'", arg);
        char *end;
        switch (which) {
        case 0:
            if (!*val)
                bad_arg("--out needs a path");
            out = val;
            break;
        case 1:
            errno = 0;
            if (!*val || *val == '-' || (w->seed = strtoull(val, &end, 10), errno || *end))
                bad_arg("--seed: '%s' is not an unsigned 64-bit integer", val);
            break;
        case 2:
            if (parse_date(val, &w->as_of))
                bad_arg("--as-of: '%s' is not a valid date YYYY-MM-DD (years 2001..2199)", val);
            break;
        case 3: {
            errno = 0;
            long n = strtol(val, &end, 10);
            if (!*val || errno || *end || n < MIN_ACCOUNTS || n > MAX_ACCOUNTS)
                bad_arg("--accounts: '%s' must be an integer %d..%d", val, MIN_ACCOUNTS, MAX_ACCOUNTS);
            w->n_accounts = (int)n;
            break;
        }
        }
    }
    if (!out)
        bad_arg("--out PATH is required");
    if (snprintf(g_truth_path, sizeof g_truth_path, "%s.truth.json", out) >= (int)sizeof g_truth_path) {
        fprintf(stderr, "%s: %s: path too long\n", PROG, out);
        return 1;
    }

    /* remove the old database, any stale journal next to it (it would be replayed into the new
     * file) and the old truth, before anything else can fail */
    const char *suffixes[] = {"", "-journal", "-wal", "-shm", ".truth.json"};
    for (int k = 0; k < 5; k++) {
        char p[4200];
        snprintf(p, sizeof p, "%s%s", out, suffixes[k]);
        remove_existing(p);
    }
    g_out = out;

    /* windows */
    int y, m, d;
    civil_from_days(w->as_of, &y, &m, &d);
    w->win_start = days_from_civil(y - 2, m, imin(d, days_in_month(y - 2, m)));
    w->ndays = w->as_of - w->win_start;
    w->m_end = month_start(w->as_of);
    for (int k = 0; k < 7; k++)
        w->m_start[k] = add_months(w->m_end, -(k + 1));
    w->w6 = add_months(w->as_of, -6);
    w->w12 = add_months(w->as_of, -12);
    w->d90 = w->as_of - 90;

    make_accounts(w);
    make_agreements_and_renewals(w);
    make_opportunities(w);

    qsort(w->opp, (size_t)w->n_opp, sizeof *w->opp, opp_cmp);
    for (int i = 0; i < w->n_opp; i++)
        snprintf(w->opp[i].id, sizeof w->opp[i].id, "006A%012d", i + 1);
    /* agreements keep generation order: per account, the active one first, then older ones */
    for (int i = 0; i < w->n_agr; i++)
        snprintf(w->agr[i].id, sizeof w->agr[i].id, "800A%012d", i + 1);

    int attempt;
    for (attempt = 0; attempt < 500; attempt++)
        if (assign_reasons(w, attempt))
            break;
    w->reasons_intended = attempt < 500;
    if (!w->reasons_intended) {
        assign_reasons(w, 0);
        fprintf(stderr, "%s: warning: too few closed-lost opportunities for a clear A2/A6 pattern; truth records the actual counts\n", PROG);
    }

    make_engagement(w); /* Gong calls and Slack messages */
    qsort(w->call, (size_t)w->n_call, sizeof *w->call, call_cmp);
    {
        rng_t r;
        rng_init(&r, w->seed, S_GONG, 1u << 30);
        for (int i = 0; i < w->n_call; i++)
            snprintf(w->call[i].id, sizeof w->call[i].id, "%" PRIu64,
                     (uint64_t)3000000000000000000ULL + (uint64_t)i * 1000000u + rng_bounded(&r, 1000000));
    }
    qsort(w->msg, (size_t)w->n_msg, sizeof *w->msg, msg_cmp);

    check_a1(w);
    check_a3(w);
    check_a4(w);

    write_db(w);
    write_truth(w);

    printf("%s: wrote %s (seed %" PRIu64 ", as_of %s, data %s..%s): salesforce_account_d=%d opportunity_d=%d "
           "consumption_daily_d=%ld agreement_f=%d gong_call_f=%d slack_message_f=%d; truth %s\n",
           PROG, out, w->seed, ds(w->as_of), ds(w->win_start), ds(w->as_of - 1), w->n_accounts, w->n_opp,
           w->n_usage_rows, w->n_agr, w->n_call, w->n_msg, g_truth_path);

    for (int i = 0; i < w->n_accounts; i++)
        free(w->acc[i].eh);
    free(w->acc);
    free(w->opp);
    free(w->agr);
    free(w->call);
    free(w->msg);
    free(w);
    return 0;
}
