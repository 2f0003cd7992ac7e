/* Secret references.  A secret is never copied into a message: errors name
 * the reference (the variable or the file), not what it holds. */
#include "config.h"
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AWS_SM "aws-secretsmanager:"

int secret_is_reference(const char *v)
{
    return strncmp(v, "env:", 4) == 0 || strncmp(v, "file:", 5) == 0 || strncmp(v, AWS_SM, strlen(AWS_SM)) == 0;
}

void secret_wipe_free(char *s)
{
    if (!s) return;
    volatile char *p = s;
    while (*p) *p++ = 0;
    free(s);
}

static int read_secret_file(const char *path, char **out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open secret file %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "secret file %s is not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(err, errlen, "secret file %s is readable by group or others (mode %03o); chmod 600 it",
                 path, (unsigned)(st.st_mode & 0777));
        close(fd);
        return -1;
    }
    if (st.st_size > 65536) {
        snprintf(err, errlen, "secret file %s is larger than 64 KiB", path);
        close(fd);
        return -1;
    }
    char *buf = xmalloc((size_t)st.st_size + 1);
    ssize_t n = read(fd, buf, (size_t)st.st_size);
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "cannot read secret file %s: %s", path, strerror(errno));
        free(buf);
        return -1;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
    buf[n] = '\0';
    *out = buf;
    return 0;
}

int secret_resolve(const char *ref, char **out, char *err, size_t errlen)
{
    *out = NULL;
    if (strncmp(ref, "env:", 4) == 0) {
        const char *v = getenv(ref + 4);
        if (!v || !*v) {
            snprintf(err, errlen, "environment variable %s is not set or empty", ref + 4);
            return -1;
        }
        *out = xstrdup(v);
        return 0;
    }
    if (strncmp(ref, "file:", 5) == 0) return read_secret_file(ref + 5, out, err, errlen);
    if (strncmp(ref, AWS_SM, strlen(AWS_SM)) == 0) {
        if (!ref[strlen(AWS_SM)]) {
            snprintf(err, errlen, "aws-secretsmanager: needs a secret name (aws-secretsmanager:NAME or NAME#key)");
            return -1;
        }
        return aws_secret_resolve(ref + strlen(AWS_SM), out, err, errlen);
    }
    *out = xstrdup(ref);
    return 0;
}
