/* The daemon's configuration: top-level `daemon { timezone; missed; listen;
 * max_running; shutdown_grace; }` and `parallelism { batches; concurrency; }`,
 * and per pipeline `timezone`, `missed` and `parallelism` next to its
 * `schedule`.  Same rules as config.c: every error is `file:line: message`,
 * and all of them are reported in one pass. */
#include "config.h"
#include "core.h"

#include <math.h>
#include <string.h>

static const char *const missed_names[] = { "skip", "run_once", NULL };

static int whole(const revops_config *c, const config_setting_t *g, const char *key, double lo, double hi, int *out,
                 const char *what, diag *d)
{
    const config_setting_t *s = config_setting_get_member(g, key);
    if (!s) return 0;
    double v = *out;
    read_number(c, g, key, lo, hi, &v, what, d);
    if (v != floor(v)) {
        diag_add(d, S_FILE(s, c), S_LINE(s), "%s: '%s' must be a whole number, not %g", what, key, v);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static void read_parallelism(const revops_config *c, const config_setting_t *g, parallelism *out, const char *what, diag *d)
{
    static const char *const keys[] = { "batches", "concurrency", NULL };
    check_keys(c, g, keys, what, d);
    whole(c, g, "batches", 1, 64, &out->batches, what, d);
    whole(c, g, "concurrency", 1, 64, &out->concurrency, what, d);
}

/* An unknown zone would silently run on UTC (glibc's fallback): name it. */
static char *zone_setting(revops_config *c, const config_setting_t *g, const char *what, diag *d)
{
    const config_setting_t *s = member(c, g, "timezone", CONFIG_TYPE_STRING, 0, what, d);
    if (!s) return NULL;
    char err[512];
    if (cron_tz_check(config_setting_get_string(s), err, sizeof err) < 0) {
        diag_add(d, S_FILE(s, c), S_LINE(s), "%s: 'timezone': %s", what, err);
        return NULL;
    }
    return xstrdup(config_setting_get_string(s));
}

void config_read_daemon(revops_config *c, const config_setting_t *root, diag *d)
{
    c->parallel = (parallelism){ 3, 5 };
    c->daemon = (conf_daemon){ NULL, MISSED_SKIP, NULL, 4, 60 };
    const config_setting_t *par = member(c, root, "parallelism", CONFIG_TYPE_GROUP, 0, "configuration", d);
    if (par) read_parallelism(c, par, &c->parallel, "parallelism", d);
    const config_setting_t *dm = member(c, root, "daemon", CONFIG_TYPE_GROUP, 0, "configuration", d);
    if (!dm) return;
    static const char *const keys[] = { "timezone", "missed", "listen", "max_running", "shutdown_grace", NULL };
    check_keys(c, dm, keys, "daemon", d);
    c->daemon.timezone = zone_setting(c, dm, "daemon", d);
    const config_setting_t *m = member(c, dm, "missed", CONFIG_TYPE_STRING, 0, "daemon", d);
    int v;
    if (m && (v = enum_pick(c, m, missed_names, "daemon", "missed", d)) >= 0) c->daemon.missed = (missed_policy)v;
    const config_setting_t *l = member(c, dm, "listen", CONFIG_TYPE_STRING, 0, "daemon", d);
    if (l) {
        char err[256];
        if (listen_parse(config_setting_get_string(l), NULL, 0, NULL, err, sizeof err) < 0)
            diag_add(d, S_FILE(l, c), S_LINE(l), "daemon: 'listen': %s", err);
        else c->daemon.listen = xstrdup(config_setting_get_string(l));
    }
    whole(c, dm, "max_running", 1, 256, &c->daemon.max_running, "daemon", d);
    read_number(c, dm, "shutdown_grace", 0, 3600, &c->daemon.shutdown_grace, "daemon", d);
}

void config_read_pipeline_sched(revops_config *c, conf_pipeline *p, const config_setting_t *s, const char *what, diag *d)
{
    p->parallel = c->parallel;
    p->missed = c->daemon.missed;
    const config_setting_t *par = member(c, s, "parallelism", CONFIG_TYPE_GROUP, 0, what, d);
    if (par) {
        char *w = xasprintf("%s parallelism", what);
        read_parallelism(c, par, &p->parallel, w, d);
        free(w);
    }
    p->timezone = zone_setting(c, s, what, d);
    const config_setting_t *m = member(c, s, "missed", CONFIG_TYPE_STRING, 0, what, d);
    int v;
    if (m && (v = enum_pick(c, m, missed_names, what, "missed", d)) >= 0) p->missed = (missed_policy)v;
    const config_setting_t *tz = config_setting_get_member(s, "timezone");
    const config_setting_t *ms = config_setting_get_member(s, "missed");
    if ((tz || ms) && !p->schedule && !config_setting_get_member(s, "schedule"))
        diag_add(d, S_FILE(tz ? tz : ms, c), S_LINE(tz ? tz : ms), "%s: '%s' has no effect without a 'schedule'", what,
                 tz ? "timezone" : "missed");
}

void config_free_daemon(revops_config *c)
{
    free(c->daemon.timezone);
    free(c->daemon.listen);
    for (size_t i = 0; i < c->npipelines; i++) free(c->pipelines[i].timezone);
}

/* "HOST:PORT", "[V6]:PORT" or a bare "PORT" (loopback): the daemon's HTTP
 * endpoint.  Loopback is the default because /metrics names pipelines and
 * accounts' counts; listening wider is the operator's explicit choice. */
int listen_parse(const char *s, char *host, size_t hostlen, int *port, char *err, size_t errlen)
{
    const char *colon = strrchr(s, ':');
    const char *h = "127.0.0.1", *ps = s;
    size_t hl = strlen(h);
    if (colon) {
        h = s;
        hl = (size_t)(colon - s);
        ps = colon + 1;
        if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') h++, hl -= 2;
        if (hl == 0) {
            snprintf(err, errlen, "'%s' has no host before the ':' (write 127.0.0.1:%s for loopback)", s, ps);
            return -1;
        }
    }
    char *end;
    long p = strtol(ps, &end, 10);
    if (end == ps || *end || p < 0 || p > 65535) {
        snprintf(err, errlen, "'%s' must be PORT or HOST:PORT with a port from 1 to 65535 (0: any free port)", s);
        return -1;
    }
    if (host) {
        if (hl >= hostlen) {
            snprintf(err, errlen, "host in '%s' is too long", s);
            return -1;
        }
        memcpy(host, h, hl);
        host[hl] = '\0';
    }
    if (port) *port = (int)p;
    return 0;
}
