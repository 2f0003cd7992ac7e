/* Locks on files in state_dir, with flock(2): the kernel releases them when
 * the process dies, so a crash never leaves a stale lock behind (a pid file
 * alone would).  The holder writes its pid into the file, so whoever is
 * refused can say who holds it. */
#include "config.h"
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int state_lock(const char *state_dir, const char *name, int wait, long *holder, char *err, size_t n)
{
    if (holder) *holder = 0;
    if (make_dirs(state_dir) != 0) {
        snprintf(err, n, "cannot create state_dir %s: %s", state_dir, strerror(errno));
        return -1;
    }
    char *path = xasprintf("%s/%s", state_dir, name);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, n, "cannot open lock file %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    int r;
    while ((r = flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB))) < 0 && errno == EINTR) {}
    if (r < 0) {
        int e = errno;
        char buf[32] = "";
        ssize_t got = pread(fd, buf, sizeof buf - 1, 0);
        long pid = got > 0 ? strtol(buf, NULL, 10) : 0;
        if (holder) *holder = pid;
        if (e == EWOULDBLOCK)
            snprintf(err, n, "%s is locked by process %ld", path, pid);
        else
            snprintf(err, n, "cannot lock %s: %s", path, strerror(e));
        close(fd);
        free(path);
        return -1;
    }
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
        /* The lock holds without the pid; only the message is poorer. */
    }
    free(path);
    return fd;
}

int pipeline_lock(const revops_config *c, const char *pipeline, char *err, size_t n)
{
    char *name = xasprintf("run-%s.lock", pipeline), lerr[600];
    long holder = 0;
    int fd = state_lock(c->state_dir, name, 0, &holder, lerr, sizeof lerr);
    free(name);
    if (fd >= 0) return fd;
    if (holder)
        snprintf(err, n, "pipeline '%s' is already running (process %ld) on state_dir %s", pipeline, holder, c->state_dir);
    else
        snprintf(err, n, "pipeline '%s': %s", pipeline, lerr);
    return -1;
}

void state_unlock(int fd)
{
    if (fd >= 0) close(fd);  /* closing the last descriptor releases the flock */
}
