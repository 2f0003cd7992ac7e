/* TAP for the C test programs (read by automake's tap-driver): ok() prints
 * "ok N - name" or "not ok N - name"; main() ends with
 *     printf("1..%d\n", n_tests); return n_failed ? 1 : 0;   */
#ifndef REVOPS_TESTS_TAP_H
#define REVOPS_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int n_tests, n_failed;

static void ok(int cond, const char *fmt, ...) REVOPS_PRINTF(2, 3);
static void ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s %d - ", cond ? "ok" : "not ok", ++n_tests);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (!cond) n_failed++;
}

#endif
