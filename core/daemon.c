/* `revops daemon -c FILE`: every pipeline on its schedule, as a service an
 * operator installs and forgets (the spec's EventBridge rules + Step
 * Functions, as one long-running process).
 *
 * The parent is single-threaded and never runs a pipeline itself: it waits
 * in poll(2) for the next fire, a signal (signalfd), a child's run record
 * (a pipe per child) or an HTTP request (libmicrohttpd's epoll fd), and
 * forks one child per run.  Why processes: a run's plugins, its SQLite
 * connection and its log context stay in the child; a plugin that crashes
 * costs one run; the parent holds no SQLite connection across fork() (which
 * SQLite forbids) and no thread (which would make fork() unsafe).
 *
 * Signals: SIGHUP reloads (validated first; a bad file is logged line by line
 * and the running configuration stays), SIGTERM/SIGINT stop: no new fires,
 * children finish their current step (run.c), then exit 0.  systemd is told
 * READY/RELOADING/STOPPING over $NOTIFY_SOCKET (Type=notify). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* pipe2, strsignal */
#endif
#include "config.h"
#include "core.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <getopt.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct child {
    pid_t pid;
    int fd;                    /* the run record arrives here; -1 once read to EOF */
    char *pipeline;
    strbuf record;
    double started;            /* daemon clock */
    int exited, status;
} child;

typedef struct daemon_state {
    const char *path;
    revops_config *cfg;
    sched sch;
    child *kids;
    size_t nkids;
    int sigfd, lockfd;
    httpd *http;
    int stopping;
    double stop_deadline;      /* monotonic: children are killed after it */
    double started_mono;
    double clock_base, clock_speed, mono_base;  /* REVOPS_TEST_CLOCK */
    /* what /healthz says about the last reload */
    int reload_failed;
    char reload_error[1024];
    time_t reloaded_at;
} daemon_state;

/* ---------------------------------------------------------------- clock -- */

/* REVOPS_TEST_CLOCK="2026-03-08T06:55:00Z@60": the daemon's clock starts at
 * that instant and runs 60 times faster, so a test sees a day of schedule
 * (or a DST change) in seconds through the real daemon.  Runs themselves
 * keep the real clock. */
static int clock_setup(daemon_state *d, char *err, size_t n)
{
    d->clock_speed = 0;
    const char *s = getenv("REVOPS_TEST_CLOCK");
    if (!s || !*s) return 0;
    const char *at = strchr(s, '@');
    char iso[64];
    size_t len = at ? (size_t)(at - s) : strlen(s);
    if (len >= sizeof iso) len = sizeof iso - 1;
    memcpy(iso, s, len);
    iso[len] = '\0';
    double t;
    if (utc_parse(iso, &t) < 0) {
        snprintf(err, n, "REVOPS_TEST_CLOCK '%s': expected ISO-8601 UTC time, optionally @SPEED", s);
        return -1;
    }
    double speed = at ? strtod(at + 1, NULL) : 1;
    if (speed <= 0 || speed > 100000) {
        snprintf(err, n, "REVOPS_TEST_CLOCK '%s': speed must be > 0 and <= 100000", s);
        return -1;
    }
    d->clock_base = t;
    d->clock_speed = speed;
    d->mono_base = mono_now();
    return 0;
}

static double dnow(const daemon_state *d)
{
    if (d->clock_speed > 0) return d->clock_base + (mono_now() - d->mono_base) * d->clock_speed;
    return clock_now();
}

/* Real milliseconds until daemon time t. */
static int ms_until(const daemon_state *d, double t)
{
    double secs = t - dnow(d);
    if (d->clock_speed > 0) secs /= d->clock_speed;
    if (secs <= 0) return 0;
    if (secs > 60) secs = 60;  /* re-check now and then: the wall clock may be set */
    return (int)(secs * 1000) + 1;
}

/* --------------------------------------------------------------- notify -- */

/* systemd's readiness protocol is one datagram on $NOTIFY_SOCKET; writing it
 * here saves a dependency on libsystemd for four words. */
static void sd_notify_msg(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path || (path[0] != '/' && path[0] != '@')) return;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t len = strlen(path);
    if (len >= sizeof sa.sun_path) return;
    memcpy(sa.sun_path, path, len);
    if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0';  /* abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
        log_debug("sd_notify: %s", strerror(errno));
    close(fd);
}

/* --------------------------------------------------------- state store -- */

/* The parent opens the store only for these short reads and writes and
 * closes it again before any fork(). */
static time_t last_fire_get(revops_config *c, const char *pipeline)
{
    char err[512];
    store *st = store_get(c, err, sizeof err);
    if (!st) {
        log_warn("state store: %s; missed runs cannot be told", err);
        return 0;
    }
    time_t t = 0;
    sqlite3_stmt *q = store_prepare(st, "SELECT last_fire FROM schedule WHERE pipeline = ?1", err, sizeof err);
    if (q) {
        sqlite3_bind_text(q, 1, pipeline, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW) t = (time_t)sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    return t;
}

static void last_fire_put(revops_config *c, const char *pipeline, time_t t)
{
    char err[512];
    store *st = store_get(c, err, sizeof err);
    sqlite3_stmt *q = st ? store_prepare(st, "INSERT INTO schedule(pipeline, last_fire, updated_at) VALUES(?1, ?2, ?3) "
                                             "ON CONFLICT(pipeline) DO UPDATE SET last_fire = ?2, updated_at = ?3",
                                         err, sizeof err)
                         : NULL;
    if (q) {
        sqlite3_bind_text(q, 1, pipeline, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, (sqlite3_int64)t);
        sqlite3_bind_double(q, 3, clock_now());
        if (sqlite3_step(q) != SQLITE_DONE) store_error(st, err, sizeof err), log_warn("state store: %s", err);
        sqlite3_finalize(q);
    } else {
        log_warn("state store: %s; after a restart this fire may count as missed", err);
    }
    store_shutdown();
}

/* ------------------------------------------------------------- schedule -- */

static int build_schedule(daemon_state *d, revops_config *c, sched *out, char *err, size_t n)
{
    memset(out, 0, sizeof *out);
    time_t now = (time_t)dnow(d);
    for (size_t i = 0; i < c->npipelines; i++) {
        conf_pipeline *p = &c->pipelines[i];
        if (!p->schedule) continue;
        const sched_entry *old = d->sch.n ? sched_find(&d->sch, p->name) : NULL;
        time_t last = old ? old->last_fire : last_fire_get(c, p->name);
        const char *tz = p->timezone ? p->timezone : c->daemon.timezone;
        char e[512];
        if (sched_add(out, p->name, p->schedule, tz, p->missed, last, now, e, sizeof e) < 0) {
            snprintf(err, n, "%s:%d: pipeline '%s': %s", p->file ? p->file : c->path, p->line, p->name, e);
            sched_free(out);
            return -1;
        }
    }
    store_shutdown();
    return 0;
}

static void log_schedule(daemon_state *d)
{
    for (size_t i = 0; i < d->sch.n; i++) {
        sched_entry *e = &d->sch.v[i];
        char next[32];
        utc_format((double)e->next, next);
        if (e->missed_count && !e->counted) {
            metrics_add("revops_missed_fires_total", "pipeline", e->pipeline, (double)e->missed_count);
            e->counted = 1;
        }
        if (e->missed_count && !e->catch_up && e->next)
            log_warn("pipeline '%s' missed %lu run%s while the daemon was down (last at %ld); missed = skip", e->pipeline,
                     e->missed_count, e->missed_count == 1 ? "" : "s", (long)e->missed_latest);
        log_info("pipeline '%s': schedule '%s'%s%s, next run %s%s", e->pipeline, e->cron, e->tz ? " in " : " (UTC)",
                 e->tz ? e->tz : "", e->catch_up ? "now (missed = run_once)" : next, "");
    }
    if (!d->sch.n) log_warn("no pipeline in %s has a schedule; the daemon only serves health and metrics", d->path);
}

/* --------------------------------------------------------------- health -- */

static char *health(void *arg, int *status)
{
    daemon_state *d = arg;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string(d->stopping ? "stopping" : "ok"));
    json_object_object_add(o, "pid", json_object_new_int64(getpid()));
    json_object_object_add(o, "uptime_seconds", json_number(mono_now() - d->started_mono, 1));
    json_object_object_add(o, "config", json_object_new_string(d->path));
    json_object *rl = json_object_new_object();
    json_object_object_add(rl, "ok", json_object_new_boolean(!d->reload_failed));
    if (d->reload_failed) json_object_object_add(rl, "error", json_object_new_string(d->reload_error));
    if (d->reloaded_at) json_object_object_add(rl, "at", json_object_new_int64((int64_t)d->reloaded_at));
    json_object_object_add(o, "last_reload", rl);
    json_object *ps = json_object_new_array();
    for (size_t i = 0; i < d->sch.n; i++) {
        sched_entry *e = &d->sch.v[i];
        json_object *p = json_object_new_object();
        char next[32];
        utc_format((double)e->next, next);
        json_object_object_add(p, "pipeline", json_object_new_string(e->pipeline));
        json_object_object_add(p, "schedule", json_object_new_string(e->cron));
        json_object_object_add(p, "timezone", json_object_new_string(e->tz ? e->tz : "UTC"));
        json_object_object_add(p, "next_run", e->next ? json_object_new_string(next) : NULL);
        json_object_object_add(p, "running", json_object_new_boolean(e->running));
        json_object_object_add(p, "runs", json_object_new_int64((int64_t)e->runs));
        json_object_object_add(p, "skipped_busy", json_object_new_int64((int64_t)e->skipped));
        json_object_array_add(ps, p);
    }
    json_object_object_add(o, "pipelines", ps);
    *status = d->stopping ? 503 : 200;
    char *s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

/* ------------------------------------------------------------- children -- */

static sigset_t handled_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    return set;
}

/* Sockets the parent had open at fork() (an HTTP scrape in progress, the
 * listening socket) would otherwise stay open until the run ends: a client
 * would wait on it, a restarted daemon could not bind its port. */
static void close_inherited_sockets(int keep)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir) return;
    int dfd = dirfd(dir);
    struct dirent *de;
    while ((de = readdir(dir))) {
        int fd = atoi(de->d_name);
        struct stat st;
        if (fd <= 2 || fd == keep || fd == dfd || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
        close(fd);
    }
    closedir(dir);
}

static void child_main(daemon_state *d, conf_pipeline *p, const sched_fire *f, int wfd)
{
    /* The child keeps none of the parent's event sources. */
    close(d->sigfd);
    for (size_t i = 0; i < d->nkids; i++)
        if (d->kids[i].fd >= 0) close(d->kids[i].fd);
    if (d->http) httpd_close_after_fork(d->http);
    log_after_fork();
    close_inherited_sockets(wfd);
    sigset_t set = handled_signals();
    signal(SIGHUP, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);
    cli_stop_on_signals();
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    char sid[160], def[128], when[32];
    session_id_default(def, sizeof def);
    snprintf(sid, sizeof sid, "%s_%s", def, p->name);
    run_options o = { sid, f->catch_up ? "catch-up" : "scheduled", 0, -1, NULL, NULL, NULL };
    utc_format((double)f->scheduled, when);
    run_result r;
    int code = run_pipeline(d->cfg, p, &o, &r);
    json_object *rec = run_result_json(&r, 0);
    json_object_object_add(rec, "exit_code", json_object_new_int(code));
    json_object_object_add(rec, "scheduled_for", json_object_new_string(when));
    const char *txt = json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    size_t len = strlen(txt), off = 0;
    while (off < len) {
        ssize_t w = write(wfd, txt + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    close(wfd);
    json_object_put(rec);
    run_result_free(&r);
    store_shutdown();
    fflush(NULL);
    _exit(code);
}

static void start_run(daemon_state *d, sched_entry *e, const sched_fire *f)
{
    conf_pipeline *p = config_pipeline(d->cfg, e->pipeline);
    if (!p) return;
    last_fire_put(d->cfg, p->name, f->scheduled);  /* closes the store before the fork */
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        log_error("pipeline '%s' not started: pipe: %s", p->name, strerror(errno));
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        log_error("pipeline '%s' not started: fork: %s", p->name, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(d, p, f, fds[1]);
    }
    close(fds[1]);
    d->kids = xrealloc(d->kids, (d->nkids + 1) * sizeof *d->kids);
    child *k = &d->kids[d->nkids++];
    memset(k, 0, sizeof *k);
    k->pid = pid;
    k->fd = fds[0];
    k->pipeline = xstrdup(p->name);
    k->started = dnow(d);
    e->running = 1;
    e->waiting = 0;
    e->runs++;
    metrics_set_pipeline(e->pipeline, (double)e->next, 1);
    char when[32];
    utc_format((double)f->scheduled, when);
    log_info("pipeline '%s': run started (process %ld) for %s%s", p->name, (long)pid, when,
             f->catch_up ? ", catching up after downtime (missed = run_once)" : "");
}

/* A finished child: its record into the metrics, its entry free again. */
static void finish_child(daemon_state *d, size_t i)
{
    child *k = &d->kids[i];
    const char *status = "unknown";
    json_object *rec = k->record.buf ? json_tokener_parse(k->record.buf) : NULL;
    json_object *st;
    if (rec && json_object_object_get_ex(rec, "status", &st)) status = json_object_get_string(st);
    if (rec) metrics_observe_run(rec);
    if (WIFEXITED(k->status)) {
        int code = WEXITSTATUS(k->status);
        if (!rec) log_error("pipeline '%s': run ended (exit %d) without a run record", k->pipeline, code);
        else if (code == 0) log_info("pipeline '%s': run finished: %s", k->pipeline, status);
        else log_warn("pipeline '%s': run finished: %s (exit %d)", k->pipeline, status, code);
    } else if (WIFSIGNALED(k->status)) {
        log_error("pipeline '%s': run killed by signal %d (%s); its outbox rows stay pending for the next run", k->pipeline,
                  WTERMSIG(k->status), strsignal(WTERMSIG(k->status)));
        /* No record came: count it as a run with status "killed", so a
         * crashing pipeline shows in revops_runs_total{status="killed"}. */
        if (!rec) {
            json_object *r = json_object_new_object();
            json_object_object_add(r, "pipeline", json_object_new_string(k->pipeline));
            json_object_object_add(r, "status", json_object_new_string("killed"));
            json_object_object_add(r, "seconds", json_number(dnow(d) - k->started, 3));
            metrics_observe_run(r);
            json_object_put(r);
        }
    }
    json_object_put(rec);
    sched_entry *e = sched_find(&d->sch, k->pipeline);
    if (e) {
        e->running = 0;
        metrics_set_pipeline(e->pipeline, (double)e->next, 0);
    }
    free(k->pipeline);
    sb_free(&k->record);
    d->kids[i] = d->kids[--d->nkids];
}

static void read_child(child *k)
{
    char buf[65536];
    for (;;) {
        ssize_t r = read(k->fd, buf, sizeof buf);
        if (r > 0) {
            sb_add(&k->record, buf, (size_t)r);
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) return;
        close(k->fd);  /* EOF or an error: the record is what arrived */
        k->fd = -1;
        return;
    }
}

static void reap(daemon_state *d)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (size_t i = 0; i < d->nkids; i++)
            if (d->kids[i].pid == pid) {
                d->kids[i].exited = 1;
                d->kids[i].status = status;
            }
    }
    for (size_t i = 0; i < d->nkids;) {
        child *k = &d->kids[i];
        if (k->exited) {
            if (k->fd >= 0) read_child(k);  /* the pipe holds the rest of the record */
            if (k->fd < 0) {
                finish_child(d, i);
                continue;
            }
        }
        i++;
    }
}

/* --------------------------------------------------------------- reload -- */

static void log_diag_lines(const diag *dg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return;
    diag_print(dg, f);
    fclose(f);
    for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        log_error("reload: %s", line);
    free(buf);
}

static void reload(daemon_state *d)
{
    sd_notify_msg("RELOADING=1");
    log_info("SIGHUP: reloading %s", d->path);
    diag *dg = diag_new();
    int code = 0;
    revops_config *nc = config_load(d->path, dg, &code);
    char err[1024] = "";
    if (!nc) {
        log_diag_lines(dg);
        snprintf(err, sizeof err, "%zu error%s in %s", diag_count(dg), diag_count(dg) == 1 ? "" : "s", d->path);
    } else if (strcmp(nc->state_dir, d->cfg->state_dir) != 0) {
        snprintf(err, sizeof err, "state_dir changed from %s to %s; that needs a restart", d->cfg->state_dir, nc->state_dir);
    }
    sched ns;
    if (!err[0] && build_schedule(d, nc, &ns, err, sizeof err) < 0) { /* err set */ }
    diag_free(dg);
    if (err[0]) {
        log_error("reload refused: %s; the configuration loaded before keeps running", err);
        if (nc) config_free(nc);
        d->reload_failed = 1;
        snprintf(d->reload_error, sizeof d->reload_error, "%s", err);
        metrics_inc("revops_config_reloads_total", "result", "failed");
        sd_notify_msg("READY=1");
        return;
    }
    if ((nc->daemon.listen || d->cfg->daemon.listen) &&
        (!nc->daemon.listen || !d->cfg->daemon.listen || strcmp(nc->daemon.listen, d->cfg->daemon.listen)))
        log_warn("daemon.listen changed; the HTTP endpoint keeps %s until a restart",
                 d->cfg->daemon.listen ? d->cfg->daemon.listen : "off");
    sched_carry(&ns, &d->sch);
    sched_free(&d->sch);
    d->sch = ns;
    config_free(d->cfg);
    d->cfg = nc;
    cli_apply_logging(nc);
    d->reload_failed = 0;
    d->reload_error[0] = '\0';
    d->reloaded_at = (time_t)clock_now();
    metrics_inc("revops_config_reloads_total", "result", "ok");
    log_info("reloaded %s: %zu pipeline%s, %zu scheduled", d->path, nc->npipelines, nc->npipelines == 1 ? "" : "s", d->sch.n);
    log_schedule(d);
    sd_notify_msg("READY=1");
}

/* ----------------------------------------------------------------- loop -- */

static void handle_fires(daemon_state *d)
{
    sched_fire *fires = NULL;
    size_t nf = sched_due(&d->sch, (time_t)dnow(d), &fires);
    for (size_t i = 0; i < nf; i++) {
        sched_entry *e = &d->sch.v[fires[i].entry];
        if (fires[i].missed && !fires[i].catch_up)
            log_warn("pipeline '%s': %lu fire time%s passed unnoticed (suspend or overload); running once", e->pipeline,
                     fires[i].missed, fires[i].missed == 1 ? "" : "s");
        if (fires[i].busy) {
            log_warn("pipeline '%s': still %s; this run is skipped (a pipeline never runs twice at once)", e->pipeline,
                     e->running ? "running" : "waiting for a free slot");
            metrics_inc("revops_scheduled_skips_total", "pipeline", e->pipeline);
            continue;
        }
        if (d->nkids >= (size_t)d->cfg->daemon.max_running) {
            e->waiting = 1;
            e->waiting_fire = fires[i];
            log_info("pipeline '%s': waiting for a free slot (daemon.max_running = %d runs at once)", e->pipeline,
                     d->cfg->daemon.max_running);
            continue;
        }
        start_run(d, e, &fires[i]);
    }
    free(fires);
    /* Waiting fires take the slots that freed up, in schedule order. */
    for (size_t i = 0; i < d->sch.n && d->nkids < (size_t)d->cfg->daemon.max_running; i++) {
        sched_entry *e = &d->sch.v[i];
        if (e->waiting && !e->running) start_run(d, e, &e->waiting_fire);
    }
}

static void begin_stop(daemon_state *d, int sig)
{
    if (d->stopping) return;
    d->stopping = 1;
    sd_notify_msg("STOPPING=1");
    d->stop_deadline = mono_now() + d->cfg->daemon.shutdown_grace;
    log_info("%s: stopping; %zu run%s in progress finish their current step (up to %gs)", strsignal(sig), d->nkids,
             d->nkids == 1 ? "" : "s", d->cfg->daemon.shutdown_grace);
    for (size_t i = 0; i < d->nkids; i++) kill(d->kids[i].pid, SIGTERM);
}

static int loop(daemon_state *d)
{
    int killed = 0;
    for (;;) {
        if (!d->stopping) handle_fires(d);
        if (d->stopping && d->nkids == 0) break;
        if (d->stopping && !killed && mono_now() > d->stop_deadline) {
            for (size_t i = 0; i < d->nkids; i++) {
                log_error("pipeline '%s': still running after daemon.shutdown_grace; killing process %ld (its outbox rows "
                          "stay pending)", d->kids[i].pipeline, (long)d->kids[i].pid);
                kill(d->kids[i].pid, SIGKILL);
            }
            killed = 1;
        }
        size_t nfds = 2 + d->nkids;
        struct pollfd *pf = xcalloc(nfds, sizeof *pf);
        pf[0] = (struct pollfd){ d->sigfd, POLLIN, 0 };
        pf[1] = (struct pollfd){ d->http ? httpd_fd(d->http) : -1, POLLIN, 0 };
        for (size_t i = 0; i < d->nkids; i++) pf[2 + i] = (struct pollfd){ d->kids[i].fd, POLLIN, 0 };
        int timeout = 60000;
        time_t wake = sched_next_wake(&d->sch);
        if (!d->stopping && wake) timeout = ms_until(d, (double)wake);
        for (size_t i = 0; i < d->sch.n; i++)
            if (d->sch.v[i].waiting) timeout = timeout > 1000 ? 1000 : timeout;
        if (d->stopping) timeout = 200;
        int ht = d->http ? httpd_timeout_ms(d->http) : -1;
        if (ht >= 0 && ht < timeout) timeout = ht;
        int r = poll(pf, (nfds_t)nfds, timeout);
        if (r < 0 && errno != EINTR) {
            log_error("poll: %s", strerror(errno));
            free(pf);
            return 1;
        }
        if (r > 0 && (pf[0].revents & POLLIN)) {
            struct signalfd_siginfo si;
            while (read(d->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGHUP && !d->stopping) reload(d);
                else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) begin_stop(d, (int)si.ssi_signo);
            }
        }
        for (size_t i = 0; r > 0 && i < d->nkids; i++)
            if (pf[2 + i].revents && d->kids[i].fd >= 0) read_child(&d->kids[i]);
        if (d->http && ((r > 0 && (pf[1].revents & POLLIN)) || ht >= 0)) httpd_run(d->http);
        free(pf);
        reap(d);
    }
    return 0;
}

/* ------------------------------------------------------------------ cli -- */

static const char daemon_usage[] =
    "usage: revops daemon -c FILE\n"
    "Runs every pipeline that has a `schedule` on it, until SIGTERM or SIGINT (exit 0).\n"
    "SIGHUP reloads FILE (an invalid file is reported and the running configuration stays).\n"
    "One daemon per state_dir; /healthz and /metrics on daemon.listen when set.\n";

int cmd_daemon(int argc, char **argv)
{
    const char *path = NULL;
    static const struct option opts[] = { { "config", required_argument, 0, 'c' }, { "help", no_argument, 0, 'h' },
                                          { 0, 0, 0, 0 } };
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': path = optarg; break;
        case 'h': fputs(daemon_usage, stdout); return 0;
        default: return cli_usage_error("%s", "bad option for 'daemon'");
        }
    }
    if (optind < argc) return cli_usage_error("unexpected argument '%s' for 'daemon'", argv[optind]);
    if (!path) path = getenv("REVOPS_CONFIG");
    if (!path) return cli_usage_error("%s", "'daemon' needs -c FILE");

    /* Before any thread: schedules in named zones switch TZ, which must
     * then never add or remove an environment entry (cron.c). */
    cron_tz_prepare();
    daemon_state d;
    memset(&d, 0, sizeof d);
    d.path = path;
    d.started_mono = mono_now();
    char err[1024];
    if (clock_setup(&d, err, sizeof err) < 0) return cli_usage_error("%s", err);
    int code;
    d.cfg = cli_load(path, &code);
    if (!d.cfg) return code;

    /* Block the signals before anything can fork, then read them in the loop. */
    sigset_t set = handled_signals();
    sigprocmask(SIG_BLOCK, &set, NULL);
    d.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (d.sigfd < 0) {
        fprintf(stderr, "revops: signalfd: %s\n", strerror(errno));
        config_free(d.cfg);
        return 1;
    }
    long holder = 0;
    d.lockfd = state_lock(d.cfg->state_dir, "daemon.lock", 0, &holder, err, sizeof err);
    if (d.lockfd < 0) {
        if (holder)
            fprintf(stderr, "revops: state_dir %s is in use by another revops daemon (process %ld); one daemon per state_dir\n",
                    d.cfg->state_dir, holder);
        else
            fprintf(stderr, "revops: %s\n", err);
        close(d.sigfd);
        config_free(d.cfg);
        return EXIT_BUSY;
    }
    metrics_reset();
    if (build_schedule(&d, d.cfg, &d.sch, err, sizeof err) < 0) {
        fprintf(stderr, "revops: %s\n", err);
        state_unlock(d.lockfd);
        close(d.sigfd);
        config_free(d.cfg);
        return EXIT_CONFIG;
    }
    if (d.cfg->daemon.listen) {
        d.http = httpd_start(d.cfg->daemon.listen, health, &d, err, sizeof err);
        if (!d.http) {
            fprintf(stderr, "revops: daemon.listen: %s\n", err);
            sched_free(&d.sch);
            state_unlock(d.lockfd);
            close(d.sigfd);
            config_free(d.cfg);
            return EXIT_UNAVAILABLE;
        }
    }
    char now[32];
    utc_format(dnow(&d), now);
    log_info("daemon started (process %ld): %s, state_dir %s, %zu scheduled pipeline%s%s%s%s", (long)getpid(), path,
             d.cfg->state_dir, d.sch.n, d.sch.n == 1 ? "" : "s", d.http ? ", HTTP on " : "", d.http ? d.cfg->daemon.listen : "",
             d.clock_speed > 0 ? ", test clock" : "");
    if (d.http) log_info("health and metrics: http://%s/healthz and /metrics (port %d)", d.cfg->daemon.listen, httpd_port(d.http));
    if (d.clock_speed > 0) log_info("test clock: %s at %gx", now, d.clock_speed);
    log_schedule(&d);
    for (size_t i = 0; i < d.sch.n; i++) metrics_set_pipeline(d.sch.v[i].pipeline, (double)d.sch.v[i].next, 0);
    sd_notify_msg("READY=1");
    int rc = loop(&d);
    log_info("daemon stopped");
    if (d.http) httpd_stop(d.http);
    sched_free(&d.sch);
    free(d.kids);
    state_unlock(d.lockfd);
    close(d.sigfd);
    config_free(d.cfg);
    return rc;
}
