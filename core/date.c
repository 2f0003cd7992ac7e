/* Civil dates as day numbers (days since 1970-01-01), the proleptic
 * Gregorian calendar of ISO 8601; the algorithm is Howard Hinnant's
 * days_from_civil, exact for every year we will meet. */
#include "config.h"
#include "core.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

int64_t date_days(const char *s)
{
    if (!s) return INT64_MIN;
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (s[i] != '-') return INT64_MIN;
        } else if (!isdigit((unsigned char)s[i])) {
            return INT64_MIN;
        }
    }
    if (s[10] != '\0' && s[10] != ' ' && s[10] != 'T') return INT64_MIN;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) return INT64_MIN;
    return days_from_civil(y, (unsigned)m, (unsigned)d);
}

void date_format(int64_t z, char out[11])
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    char buf[32];
    snprintf(buf, sizeof buf, "%04d-%02u-%02u", (int)y, m, d);
    memcpy(out, buf, 10);
    out[10] = '\0';
}

int utc_parse(const char *s, double *out)
{
    int64_t days = date_days(s);
    if (days == INT64_MIN) return -1;
    int hh = 0, mm = 0, ss = 0;
    if (strlen(s) >= 19) sscanf(s + 11, "%d:%d:%d", &hh, &mm, &ss);
    *out = (double)days * 86400.0 + hh * 3600 + mm * 60 + ss;
    return 0;
}

void utc_format(double t, char out[21])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* REVOPS_NOW fixes the clock for tests and reproducible demos:
 * "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS" (UTC). */
double clock_now(void)
{
    const char *fixed = getenv("REVOPS_NOW");
    double t;
    if (fixed && *fixed && utc_parse(fixed, &t) == 0) return t;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
