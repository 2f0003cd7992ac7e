/* Logging to stderr or syslog as text or JSON lines.  Every line carries the
 * session, pipeline and step it belongs to, and the `[kind:plugin:instance]`
 * of the plugin that wrote it, so an operator can grep one run out of a busy
 * log.  The context is per thread: a worker of a parallel fan-out logs under
 * the run that started it (pool.c copies it in). */
#include "config.h"
#include "core.h"

#include <json-c/json.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/time.h>
#include <syslog.h>

static revops_log_level cur_level = REVOPS_LOG_INFO;
static log_format cur_format = LOG_FORMAT_TEXT;
static _Thread_local char ctx_session[128], ctx_pipeline[128], ctx_step[32];
static int use_syslog, syslog_facility = LOG_DAEMON;
static void (*stderr_hook)(int before);

static const char *level_names[] = { "error", "warn", "info", "debug" };
static const int syslog_priority[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void log_setup(revops_log_level level, log_format fmt)
{
    cur_level = level;
    cur_format = fmt;
}

revops_log_level log_level(void)
{
    return cur_level;
}

int log_level_parse(const char *s, revops_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (revops_log_level)i;
            return 0;
        }
    return -1;
}

void log_set_output(int to_syslog, int facility)
{
    syslog_facility = facility;
    if (to_syslog && !use_syslog) openlog("revops", LOG_PID, facility);
    if (!to_syslog && use_syslog) closelog();
    use_syslog = to_syslog;
}

/* In a forked child, before it closes inherited sockets: syslog's socket
 * must be closed through closelog(), or glibc would later send to (and on
 * error close) whatever file reuses that descriptor number. */
void log_after_fork(void)
{
    if (!use_syslog) return;
    closelog();
    openlog("revops", LOG_PID, syslog_facility);
}

int log_facility_parse(const char *s, int *facility)
{
    static const struct { const char *name; int v; } f[] = {
        { "daemon", LOG_DAEMON }, { "user", LOG_USER }, { "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
        { "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
        { "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (strcasecmp(s, f[i].name) == 0) {
            *facility = f[i].v;
            return 0;
        }
    return -1;
}

/* progress.c's status line shares stderr: it is erased before each line
 * and redrawn after, so a log line never lands in the middle of it. */
void log_set_stderr_hook(void (*hook)(int before))
{
    stderr_hook = hook;
}

static void copy_field(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

void log_set_context(const char *session, const char *pipeline, const char *step)
{
    copy_field(ctx_session, sizeof ctx_session, session);
    copy_field(ctx_pipeline, sizeof ctx_pipeline, pipeline);
    copy_field(ctx_step, sizeof ctx_step, step);
}

void log_context_save(log_context *out)
{
    copy_field(out->session, sizeof out->session, ctx_session);
    copy_field(out->pipeline, sizeof out->pipeline, ctx_pipeline);
    copy_field(out->step, sizeof out->step, ctx_step);
}

void log_context_restore(const log_context *in)
{
    log_set_context(in->session, in->pipeline, in->step);
}

void log_vmsg(revops_log_level level, const char *who, const char *fmt, va_list ap)
{
    if (level > cur_level) return;
    char *msg = xvasprintf(fmt, ap);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(tv.tv_usec / 1000));
    if (stderr_hook && !use_syslog) stderr_hook(1);
    if (cur_format == LOG_FORMAT_JSON) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "ts", json_object_new_string(ts));
        json_object_object_add(o, "level", json_object_new_string(level_names[level]));
        if (ctx_session[0]) json_object_object_add(o, "session", json_object_new_string(ctx_session));
        if (ctx_pipeline[0]) json_object_object_add(o, "pipeline", json_object_new_string(ctx_pipeline));
        if (ctx_step[0]) json_object_object_add(o, "step", json_object_new_string(ctx_step));
        if (who) json_object_object_add(o, "plugin", json_object_new_string(who));
        json_object_object_add(o, "msg", json_object_new_string(msg));
        const char *line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (use_syslog) syslog(syslog_priority[level], "%s", line);
        else fprintf(stderr, "%s\n", line);
        json_object_put(o);
    } else {
        /* One write per line, so lines of parallel workers never interleave. */
        char *line = xasprintf("%s%s%s%s%s%s%s", ctx_pipeline, ctx_pipeline[0] ? "/" : "",
                               ctx_pipeline[0] ? (ctx_step[0] ? ctx_step : "-") : "", ctx_pipeline[0] ? " " : "",
                               who ? "[" : "", who ? who : "", who ? "] " : "");
        /* syslog stamps its own time; the session id goes first so one
         * run can be grepped out of the journal. */
        if (use_syslog) syslog(syslog_priority[level], "%s%s%s%s", ctx_session, ctx_session[0] ? " " : "", line, msg);
        else fprintf(stderr, "%s %-5s %s%s\n", ts, level_names[level], line, msg);
        free(line);
    }
    if (stderr_hook && !use_syslog) stderr_hook(0);
    free(msg);
}

void log_msg(revops_log_level level, const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, who, fmt, ap);
    va_end(ap);
}
