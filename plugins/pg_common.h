/*
 * pg_common.h: code shared by the in-tree PostgreSQL plugins only (the
 * postgres source, plugins/source_postgres.c, and the postgres_insights
 * action, plugins/action_postgres_insights.c).  Not an installed header and
 * not part of the plugin ABI: every function is static, so each plugin gets
 * its own copy.  Includes only <revops/revops.h> and libpq/libc headers.
 *
 * Followed: Appendix A, "PostgreSQL Error Codes"
 * (https://www.postgresql.org/docs/15/errcodes-appendix.html) and libpq,
 * "Database Connection Control Functions"
 * (https://www.postgresql.org/docs/15/libpq-connect.html).
 */
#ifndef REVOPS_PLUGINS_PG_COMMON_H
#define REVOPS_PLUGINS_PG_COMMON_H

#include <revops/revops.h>

#include <libpq-fe.h>

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Connecting waits this long unless the conninfo (or PGCONNECT_TIMEOUT)
 * sets connect_timeout. */
#define PG_CONNECT_TIMEOUT_S 30.0

/* ------------------------------------------------------------ messages -- */

/* Replace every occurrence of `secret` in buf (NUL-terminated) by "***".
 * "***" is shorter than the secret: the text only shrinks. */
static void scrub_one(char *buf, const char *secret)
{
    size_t n = secret ? strlen(secret) : 0;
    if (n < 4) return;   /* shorter values would mangle ordinary words */
    char *p;
    while ((p = strstr(buf, secret)) != NULL) {
        memmove(p + 3, p + n, strlen(p + n) + 1);
        memcpy(p, "***", 3);
    }
}

/* libpq messages end in a newline and may span lines: one line, runs of
 * blanks collapsed, a line break before a capital (a new sentence) as "; ",
 * any other (libpq wraps long sentences) as a blank. */
static void one_line(const char *in, char *out, size_t n)
{
    size_t k = 0;
    int gap = 0;   /* 1: blank pending, 2: line break pending */
    for (const char *p = in ? in : ""; *p && k + 1 < n; p++) {
        if (*p == '\n') {
            const char *q = p + 1;
            while (*q == ' ' || *q == '\t') q++;
            gap = isupper((unsigned char)*q) ? 2 : 1;
            continue;
        }
        if (*p == ' ' || *p == '\t' || *p == '\r') { if (!gap) gap = 1; continue; }
        if (gap && k > 0) {
            if (gap == 2 && out[k - 1] != '.' && out[k - 1] != ':' && out[k - 1] != ';' && k + 3 < n) {
                out[k++] = ';';
                out[k++] = ' ';
            } else if (k + 2 < n) {
                out[k++] = ' ';
            }
        }
        gap = 0;
        out[k++] = *p;
    }
    out[k] = '\0';
}

/* The SQLSTATEs transient for both plugins: class 08 (connection
 * exception), 53 (insufficient resources), 40001 / 40P01 (serialization
 * failure / deadlock), 57P01..57P03 (admin shutdown, crash shutdown, cannot
 * connect now).  RETRY for those, ERROR for anything else.  (The
 * postgres_insights action adds its own on top: see its sqlstate_status.) */
static revops_status pg_sqlstate_status(const char *st)
{
    if (!st || strlen(st) != 5) return REVOPS_ERROR;
    if (!strncmp(st, "08", 2) || !strncmp(st, "53", 2)) return REVOPS_RETRY;
    if (!strcmp(st, "40001") || !strcmp(st, "40P01")) return REVOPS_RETRY;
    if (!strcmp(st, "57P01") || !strcmp(st, "57P02") || !strcmp(st, "57P03")) return REVOPS_RETRY;
    return REVOPS_ERROR;
}

/* ---------------------------------------------------------- connecting -- */

/* A connection error, made with PQERRORS_VERBOSE so that the server's
 * SQLSTATE follows the severity ("FATAL:  28P01: password authentication
 * failed ...").  Copies the message into out without the SQLSTATE and the
 * LOCATION line, and the SQLSTATE into state ("" when libpq's own). */
static void parse_connect_error(const char *msg, char *out, size_t n, char state[6])
{
    char tmp[2048];
    size_t k = 0;
    state[0] = '\0';
    for (const char *p = msg ? msg : ""; *p && k + 1 < sizeof tmp;) {
        if (!strncmp(p, "LOCATION:", 9) && (p == msg || p[-1] == '\n')) {
            while (*p && *p != '\n') p++;
            continue;
        }
        static const char *const sev[] = { "FATAL:  ", "ERROR:  ", "PANIC:  ", NULL };
        int hit = 0;
        for (int i = 0; sev[i]; i++) {
            size_t sl = strlen(sev[i]);
            if (strncmp(p, sev[i], sl) != 0) continue;
            const char *s = p + sl;
            int code = 1;
            for (int j = 0; j < 5; j++)
                if (!isdigit((unsigned char)s[j]) && !isupper((unsigned char)s[j])) code = 0;
            if (code && s[5] == ':' && s[6] == ' ') {
                if (!state[0]) {
                    memcpy(state, s, 5);
                    state[5] = '\0';
                }
                if (k + sl < sizeof tmp) {
                    memcpy(tmp + k, p, sl);
                    k += sl;
                }
                p = s + 7;
                hit = 1;
            }
            break;
        }
        if (!hit) tmp[k++] = *p++;
    }
    tmp[k] = '\0';
    one_line(tmp, out, n);
}

/* A monotonic clock, in seconds, for the connect timeout. */
static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* connect_timeout as libpq resolved it (conninfo or PGCONNECT_TIMEOUT). */
static double connect_timeout_of(PGconn *conn)
{
    double t = PG_CONNECT_TIMEOUT_S;
    PQconninfoOption *o = PQconninfo(conn);
    for (PQconninfoOption *p = o; p && p->keyword; p++)
        if (!strcmp(p->keyword, "connect_timeout") && p->val && *p->val) {
            double v = strtod(p->val, NULL);
            if (v > 0) t = v < 2 ? 2 : v;   /* libpq's own minimum */
        }
    PQconninfoFree(o);
    return t;
}

/* Starts a non-blocking connection (NULL: out of memory), with
 * PQERRORS_VERBOSE so that the server's SQLSTATE of a refused login is
 * known. */
static PGconn *pg_connect_start(const char *conninfo, const char *password)
{
    const char *kw[6], *val[6];
    int n = 0;
    /* dbname first and expanded: the conninfo's settings apply, and the
     * keywords after it override it (the password option, UTF-8). */
    kw[n] = "dbname"; val[n++] = conninfo;
    if (password) { kw[n] = "password"; val[n++] = password; }
    kw[n] = "client_encoding"; val[n++] = "UTF8";
    kw[n] = "fallback_application_name"; val[n++] = "revops";
    kw[n] = NULL; val[n] = NULL;

    PGconn *conn = PQconnectStartParams(kw, val, 1);
    if (conn) PQsetErrorVerbosity(conn, PQERRORS_VERBOSE);
    return conn;
}

/* Waits for a connection pg_connect_start began, at most connect_timeout
 * and at most `left` seconds (the run's time left).  REVOPS_OK when
 * connected (error verbosity back to default); else the message into msg,
 * the server's SQLSTATE into state ("" when none) and RETRY or ERROR: a
 * timeout and libpq's own errors are RETRY except its verdicts that another
 * attempt cannot change; a SQLSTATE is classified by `classify`.  The
 * caller finishes the connection on failure. */
static revops_status pg_connect_wait(PGconn *conn, double left, revops_status (*classify)(const char *),
                                     char *msg, size_t n, char state[6])
{
    double limit = connect_timeout_of(conn);
    if (left < limit) limit = left > 0 ? left : 0;
    double deadline = mono() + limit;
    PostgresPollingStatusType ps = PGRES_POLLING_WRITING;
    int timed_out = 0;
    while (PQstatus(conn) != CONNECTION_BAD && ps != PGRES_POLLING_OK && ps != PGRES_POLLING_FAILED) {
        struct pollfd pfd = { PQsocket(conn), ps == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0 };
        double wait = deadline - mono();
        if (wait <= 0) { timed_out = 1; break; }
        int r = pfd.fd < 0 ? 1 : poll(&pfd, 1, (int)(wait * 1000) + 1);
        if (r < 0 && errno != EINTR) break;
        if (r == 0) { timed_out = 1; break; }
        if (r > 0) ps = PQconnectPoll(conn);
    }
    if (!timed_out && PQstatus(conn) == CONNECTION_OK) {
        PQsetErrorVerbosity(conn, PQERRORS_DEFAULT);
        return REVOPS_OK;
    }
    revops_status st = REVOPS_RETRY;
    if (timed_out) {
        snprintf(msg, n, "no answer within %.0f s%s", limit, left <= limit ? " (the run's deadline)" : "");
        state[0] = '\0';
    } else {
        parse_connect_error(PQerrorMessage(conn), msg, n, state);
        if (state[0]) st = classify(state);
        /* libpq's own verdicts that another attempt cannot change */
        else if (strstr(msg, "no password supplied") || strstr(msg, "invalid sslmode") ||
                 strstr(msg, "invalid connection option"))
            st = REVOPS_ERROR;
    }
    return st;
}

/* 1 when conn is usable with no transaction open (an open or failed one
 * rolled back); 0 when it must be reconnected (NULL, bad, or the rollback
 * failed). */
static int pg_conn_idle(PGconn *conn)
{
    if (conn && PQstatus(conn) == CONNECTION_OK) {
        PGTransactionStatusType ts = PQtransactionStatus(conn);
        if (ts == PQTRANS_IDLE) return 1;
        if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
            PQclear(PQexec(conn, "ROLLBACK"));
            if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE)
                return 1;
        }
    }
    return 0;
}

/* Elide double-quoted fragments of a libpq conninfo parse error: they quote
 * the conninfo itself, which may hold a password. */
static void elide_quoted(const char *in, char *out, size_t n)
{
    size_t k = 0;
    int quoted = 0;
    for (const char *p = in ? in : ""; *p && k + 4 < n; p++) {
        if (*p == '"') {
            quoted = !quoted;
            if (quoted) { memcpy(out + k, "\"...", 4); k += 4; }
            else out[k++] = '"';
        } else if (!quoted) {
            out[k++] = *p;
        }
    }
    out[k] = '\0';
}

/* Check a conninfo's syntax now (libpq would only at connect time), and
 * learn the password it may hold so that no message shows it: *pw is a
 * malloc'd copy of it, or left NULL.  As in libpq, a value without '=' that
 * is not a URI is a database name.  0 when valid; -1 with why (one line,
 * quoted fragments elided) when not. */
static int pg_check_conninfo(const char *conninfo, char **pw, char *why, size_t n)
{
    const char *ci = conninfo;
    if (!strchr(ci, '=') && strncmp(ci, "postgresql://", 13) != 0 && strncmp(ci, "postgres://", 11) != 0)
        ci = "";
    char *perr = NULL;
    PQconninfoOption *parsed = PQconninfoParse(ci, &perr);
    if (!parsed) {
        char line[512];
        one_line(perr ? perr : "out of memory", line, sizeof line);
        elide_quoted(line, why, n);
        PQfreemem(perr);
        return -1;
    }
    for (PQconninfoOption *p = parsed; p->keyword; p++)
        if (!strcmp(p->keyword, "password") && p->val && *p->val) *pw = strdup(p->val);
    for (PQconninfoOption *p = parsed; p->keyword; p++)
        if (p->val) revops_wipe(p->val, strlen(p->val));
    PQconninfoFree(parsed);
    return 0;
}

#endif
