/*
 * action "file": appends every finding as one line of JSON (the host's
 * finding_json form) to a file, for other tools to tail or load.
 *
 * The file is opened once, O_APPEND, mode 0640 (findings name accounts and
 * revenue: not for everyone on the machine).  Each line goes out in a single
 * write(); with fsync (the default) the batch is flushed to disk before its
 * findings are reported delivered.  A retried finding may therefore appear
 * twice in the file after a crash or an fsync failure: readers deduplicate by
 * the finding's fingerprint.
 */
#include <revops/revops.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct file_ctx {
    revops_instance *self;
    const revops_host *host;
    char *path;
    int fd;
    int fsync;
} file_ctx;

/* Full disk, I/O errors and would-block are worth another try later;
 * anything else (permissions, bad file) will not fix itself. */
static revops_status errno_status(int e)
{
    switch (e) {
    case ENOSPC:
    case EIO:
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
#ifdef EDQUOT
    case EDQUOT:
#endif
    case EINTR:
        return REVOPS_RETRY;
    default:
        return REVOPS_ERROR;
    }
}

REVOPS_PRINTF(3, 4)
static void set_result(revops_delivery *d, revops_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    d->status = s;
    vsnprintf(d->message, sizeof d->message, fmt, ap);
    va_end(ap);
}

/* Write all of buf; on failure undo a partial line (if nobody else appended
 * meanwhile) so the next line does not start in the middle of this one. */
static int write_line(file_ctx *c, const char *buf, size_t len)
{
    struct stat sb;
    off_t before = fstat(c->fd, &sb) == 0 ? sb.st_size : -1;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(c->fd, buf + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            if (done && before >= 0 && fstat(c->fd, &sb) == 0 &&
                sb.st_size == before + (off_t)done && ftruncate(c->fd, before) != 0) {
                /* nothing more we can do: the error below still reports it */
            }
            errno = e;
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

/* One finding -> one line.  Returns the errno of a write failure, 0 otherwise
 * (a finding that cannot be serialised fails alone, with errno 0). */
static int deliver_one(file_ctx *c, const revops_finding *f, revops_delivery *d)
{
    const char *acct = f->account_id ? f->account_id : "?";
    char *json = c->host->finding_json(f);
    if (!json) {
        set_result(d, REVOPS_ERROR, "cannot serialise the finding for account %s", acct);
        return 0;
    }
    size_t len = strlen(json);
    char *line = malloc(len + 2);
    if (!line) {
        c->host->free(json);
        set_result(d, REVOPS_RETRY, "out of memory writing the finding for account %s",
                   acct);
        return 0;
    }
    memcpy(line, json, len);
    line[len] = '\n';
    c->host->free(json);
    int rc = write_line(c, line, len + 1);
    int e = errno;
    free(line);
    if (rc < 0) {
        set_result(d, errno_status(e), "write to %s failed: %s", c->path, strerror(e));
        return e;
    }
    d->status = REVOPS_OK;
    d->message[0] = '\0';
    return 0;
}

static revops_status file_deliver(void *ctx, const revops_batch *batch, revops_delivery *results)
{
    file_ctx *c = ctx;
    size_t written = 0, i = 0;
    int e = 0;
    for (; i < batch->nfindings; i++) {
        e = deliver_one(c, batch->findings[i], &results[i]);
        if (e) break;
        written += results[i].status == REVOPS_OK;
    }
    /* After a write failure the rest would fail the same way: do not try,
     * and do not leave them looking delivered. */
    for (size_t k = i + (e != 0); k < batch->nfindings; k++)
        set_result(&results[k], errno_status(e), "not written after a failed write to %s: %s",
                   c->path, strerror(e));

    if (written && c->fsync && fsync(c->fd) != 0) {
        int fe = errno;
        for (size_t k = 0; k < batch->nfindings; k++)
            if (results[k].status == REVOPS_OK)
                set_result(&results[k], errno_status(fe), "fsync of %s failed: %s", c->path,
                           strerror(fe));
        written = 0;
        e = fe;
    }
    if (e) {
        c->host->error(c->self, "appending findings of session %s to %s failed: %s",
                       batch->session_id ? batch->session_id : "?", c->path, strerror(e));
        /* Nothing reached the file: the whole batch failed alike. */
        if (!written && i == 0) return errno_status(e);
    }
    return REVOPS_OK;
}

static void file_close(void *ctx)
{
    file_ctx *c = ctx;
    if (!c) return;
    if (c->fd >= 0) close(c->fd);
    free(c->path);
    free(c);
}

static revops_status file_open(revops_instance *self, const revops_host *host,
                               const revops_options *opts, void **ctx)
{
    const char *path = host->opt_string(opts, "path");
    file_ctx *c = calloc(1, sizeof *c);
    if (!c || !path || !*path || !(c->path = strdup(path))) {
        host->error(self, "cannot open findings file '%s': %s", path ? path : "",
                    c && (!path || !*path) ? "option path is empty" : "out of memory");
        free(c);
        return REVOPS_ERROR;
    }
    c->self = self;
    c->host = host;
    c->fsync = host->opt_bool(opts, "fsync");
    c->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (c->fd < 0) {
        int e = errno;
        host->error(self, "cannot open findings file '%s' for appending: %s", path, strerror(e));
        file_close(c);
        return errno_status(e);
    }
    *ctx = c;
    return REVOPS_OK;
}

static const revops_action_vtable vtable = {
    .open = file_open,
    .deliver = file_deliver,
    .close = file_close,
    .flags = REVOPS_ACTION_EVERY_RUN,  /* a findings file: every run writes its findings */
};

static const revops_option_def options[] = {
    { "path", REVOPS_OPT_PATH, 1, NULL, 0, 0, NULL, 0,
      "file the findings are appended to, one JSON object per line" },
    { "fsync", REVOPS_OPT_BOOL, 0, "true", 0, 0, NULL, 0,
      "flush each batch to disk before reporting it delivered" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }
};

REVOPS_PLUGIN = {
    REVOPS_PLUGIN_HEADER, REVOPS_KIND_ACTION, "file", "1.0.0",
    "append findings as JSON lines to a file",
    options, { .action = &vtable }
};
