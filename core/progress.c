/* The live status line of `revops run` and `revops trigger` on a terminal:
 * the pipeline, its step, each input's rows and chunks so far, the current
 * action's deliveries and the elapsed time, redrawn in place with \r and
 * ANSI erase-line, and one final line per pipeline that stays.
 *
 * Quiet unless progress_setup() said yes: stderr is a terminal, TERM is set
 * and not "dumb", log.format is text and --no-progress was not given, so
 * pipes, files, journals and JSON logs never see an escape code.
 *
 * Redraws: a ticker thread redraws at most 10 times a second (the elapsed
 * time moves even while a model or a slow query keeps the run busy); events
 * only change the state, except the few that must be seen (a step change,
 * a new input, an input's last chunk), which draw at once.  Log lines go
 * through the hook log.c calls: the line is erased before a log line and
 * redrawn after, under the same mutex, so the two never mix. */
#include "config.h"
#include "core.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define ERASE "\r\033[K"
#define TICK_NS 100000000L   /* 100 ms: at most ~10 redraws a second */

typedef struct p_input {
    char *name;
    int64_t rows;
    size_t chunks;
} p_input;

static struct {
    pthread_mutex_t mu;
    int active;              /* progress_setup said yes */
    int running;             /* a pipeline is between its first step and progress_finish */
    int shown;               /* the status line is on the screen now */
    char *last;              /* the status line as last drawn */
    char pipeline[128], step[32];
    double t0;
    p_input *in;
    size_t nin;
    char action[128];
    size_t delivered, failed, to_deliver;
    pthread_t ticker;
    pthread_cond_t cv;
    int stop;
} P = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void write_all(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;   /* a closed terminal: nothing to show it on */
        s += w;
        n -= (size_t)w;
    }
}

/* The terminal's width; a line longer than it would wrap, and \r only
 * returns to the start of the last row. */
static size_t term_columns(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return 80;
}

/* Cut s to at most cols characters (UTF-8 aware: never inside a character). */
static void fit(char *s, size_t cols)
{
    size_t chars = 0;
    for (char *p = s; *p; p++) {
        if (((unsigned char)*p & 0xC0) == 0x80) continue;
        if (chars++ == cols) {
            *p = '\0';
            return;
        }
    }
}

/* What matters now first: the line is cut at the terminal's width. */
static void render(strbuf *sb)
{
    sb_printf(sb, "%s: %s %.1fs", P.pipeline, P.step, mono_now() - P.t0);
    if (!strcmp(P.step, "act")) {
        if (P.action[0]) sb_printf(sb, " | %s %zu/%zu delivered", P.action, P.delivered, P.to_deliver);
        if (P.failed) sb_printf(sb, ", %zu failed", P.failed);
        return;
    }
    if (!strcmp(P.step, "gather") && P.nin) {
        /* The input being read, in full; those before it, their rows. */
        const p_input *cur = &P.in[P.nin - 1];
        sb_printf(sb, " | %s %lld rows (%zu chunk%s)", cur->name, (long long)cur->rows, cur->chunks,
                  cur->chunks == 1 ? "" : "s");
        for (size_t i = 0; i + 1 < P.nin; i++)
            sb_printf(sb, "%s %s %lld", i ? "," : " | read:", P.in[i].name, (long long)P.in[i].rows);
        return;
    }
    int64_t rows = 0;
    for (size_t i = 0; i < P.nin; i++) rows += P.in[i].rows;
    if (P.nin) sb_printf(sb, " | %lld rows from %zu input%s", (long long)rows, P.nin, P.nin == 1 ? "" : "s");
}

/* With P.mu held. */
static void draw(void)
{
    if (!P.running) return;
    strbuf sb = { 0 };
    sb_puts(&sb, ERASE);
    render(&sb);
    fit(sb.buf + strlen(ERASE), term_columns() - 1);   /* the last column would wrap on some terminals */
    /* The ticker draws every 100 ms; the same text again is only noise. */
    if (!P.shown || !P.last || strcmp(P.last, sb.buf)) {
        write_all(sb.buf, strlen(sb.buf));
        free(P.last);
        P.last = sb_steal(&sb);
    }
    sb_free(&sb);
    P.shown = 1;
}

static void erase(void)
{
    if (P.shown) write_all(ERASE, strlen(ERASE));
    P.shown = 0;
}

static void *tick(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&P.mu);
    while (!P.stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += TICK_NS;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        while (!P.stop && pthread_cond_timedwait(&P.cv, &P.mu, &ts) != ETIMEDOUT) {}
        if (!P.stop) draw();
    }
    pthread_mutex_unlock(&P.mu);
    return NULL;
}

/* log.c's hook around every line it writes to stderr. */
static void log_hook(int before)
{
    if (before) {
        pthread_mutex_lock(&P.mu);
        erase();
    } else {
        draw();
        pthread_mutex_unlock(&P.mu);
    }
}

int progress_setup(int wanted)
{
    const char *term = getenv("TERM");
    P.active = wanted && isatty(STDERR_FILENO) && term && *term && strcmp(term, "dumb") != 0;
    if (P.active) log_set_stderr_hook(log_hook);
    return P.active;
}

static void free_inputs(void)
{
    for (size_t i = 0; i < P.nin; i++) free(P.in[i].name);
    free(P.in);
    P.in = NULL;
    P.nin = 0;
}

static void reset_pipeline(const char *pipeline)
{
    free_inputs();
    P.action[0] = '\0';
    P.delivered = P.failed = P.to_deliver = 0;
    snprintf(P.pipeline, sizeof P.pipeline, "%s", pipeline);
    P.t0 = mono_now();
    P.stop = 0;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&P.cv, &ca);
    pthread_condattr_destroy(&ca);
    /* Without the ticker the line still follows the events; only the
     * elapsed time stops moving between them. */
    P.running = 1;
    if (pthread_create(&P.ticker, NULL, tick, NULL) != 0) P.stop = 1;
}

void progress_step(const char *pipeline, const char *step)
{
    if (!P.active) return;
    pthread_mutex_lock(&P.mu);
    if (!P.running) reset_pipeline(pipeline);
    snprintf(P.step, sizeof P.step, "%s", step);
    draw();
    pthread_mutex_unlock(&P.mu);
}

static p_input *find_input(const char *name)
{
    for (size_t i = 0; i < P.nin; i++)
        if (!strcmp(P.in[i].name, name)) return &P.in[i];
    P.in = xrealloc(P.in, (P.nin + 1) * sizeof *P.in);
    P.in[P.nin] = (p_input){ xstrdup(name), 0, 0 };
    return &P.in[P.nin++];
}

void progress_input(const char *pipeline, const char *input)
{
    if (!P.active) return;
    pthread_mutex_lock(&P.mu);
    if (!P.running) reset_pipeline(pipeline);
    snprintf(P.step, sizeof P.step, "gather");
    find_input(input);
    draw();
    pthread_mutex_unlock(&P.mu);
}

void progress_chunk(const revops_chunk *c)
{
    if (!P.active) return;
    pthread_mutex_lock(&P.mu);
    if (P.running) {
        p_input *in = find_input(c->dataset);
        in->rows += (int64_t)c->nrows;
        in->chunks = c->chunk_index + 1;
        /* The input's totals are seen before the run moves on. */
        if (c->last) draw();
    }
    pthread_mutex_unlock(&P.mu);
}

void progress_action(const char *action, size_t delivered, size_t failed, size_t to_deliver)
{
    if (!P.active) return;
    pthread_mutex_lock(&P.mu);
    if (P.running) {
        int changed = strcmp(P.action, action) != 0;
        snprintf(P.action, sizeof P.action, "%s", action);
        P.delivered = delivered;
        P.failed = failed;
        P.to_deliver = to_deliver;
        if (changed || delivered + failed >= to_deliver) draw();
    }
    pthread_mutex_unlock(&P.mu);
}

/* The line that stays, from the run's own figures (the same as --format json). */
static void final_line(strbuf *sb, const run_result *r)
{
    sb_printf(sb, "%s: %s%s in %.2fs", r->pipeline, r->status, r->dry_run ? " (dry run)" : "", r->seconds);
    for (size_t i = 0; i < r->ninputs; i++)
        if (r->inputs[i].name)
            sb_printf(sb, " | %s %lld rows (%zu chunk%s)%s", r->inputs[i].name, (long long)r->inputs[i].rows,
                      r->inputs[i].chunks, r->inputs[i].chunks == 1 ? "" : "s", r->inputs[i].partial ? " PARTIAL" : "");
    if (r->error[0]) {
        sb_printf(sb, " | %.200s", r->error);
        return;
    }
    sb_printf(sb, " | %zu finding%s", r->nfindings, r->nfindings == 1 ? "" : "s");
    for (size_t k = 0; k < r->nactions; k++) {
        const action_stats *a = &r->actions[k];
        if (r->dry_run) sb_printf(sb, "%s %s %zu routed", k ? "," : " |", a->name, a->routed);
        else sb_printf(sb, "%s %s %zu delivered", k ? "," : " |", a->name, a->delivered);
        if (a->failed) sb_printf(sb, " %zu failed", a->failed);
    }
}

void progress_finish(const run_result *r)
{
    if (!P.active) return;
    pthread_mutex_lock(&P.mu);
    if (!P.running) {
        pthread_mutex_unlock(&P.mu);
        return;
    }
    int joined = !P.stop;
    P.stop = 1;
    pthread_cond_signal(&P.cv);
    pthread_mutex_unlock(&P.mu);
    if (joined) pthread_join(P.ticker, NULL);   /* the ticker takes P.mu: join without it */
    pthread_mutex_lock(&P.mu);
    pthread_cond_destroy(&P.cv);
    P.running = 0;
    erase();
    strbuf sb = { 0 };
    final_line(&sb, r);
    sb_puts(&sb, "\n");
    write_all(sb.buf, sb.len);
    sb_free(&sb);
    free_inputs();
    free(P.last);
    P.last = NULL;
    pthread_mutex_unlock(&P.mu);
}
