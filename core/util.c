/* Small allocation, string and time helpers used across the core. */
#include "config.h"
#include "core.h"

#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <json-c/json.h>
#include <math.h>

void oom(void)
{
    fputs("revops: out of memory\n", stderr);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom();
    return p;
}

void *xcalloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p) oom();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) oom();
    return p;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0) n = 0;
    char *p = xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = xvasprintf(fmt, ap);
    va_end(ap);
    return p;
}

void sb_add(strbuf *sb, const char *s, size_t n)
{
    if (sb->len + n + 1 > sb->cap) {
        size_t cap = sb->cap ? sb->cap : 64;
        while (cap < sb->len + n + 1) cap *= 2;
        sb->buf = xrealloc(sb->buf, cap);
        sb->cap = cap;
    }
    memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void sb_puts(strbuf *sb, const char *s)
{
    sb_add(sb, s, strlen(s));
}

void sb_printf(strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = xvasprintf(fmt, ap);
    va_end(ap);
    sb_puts(sb, p);
    free(p);
}

char *sb_steal(strbuf *sb)
{
    char *p = sb->buf ? sb->buf : xstrdup("");
    sb->buf = NULL;
    sb->len = sb->cap = 0;
    return p;
}

void sb_free(strbuf *sb)
{
    free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->cap = 0;
}

char *path_relative_to(const char *base_file, const char *path)
{
    if (path[0] == '/' || !base_file) return xstrdup(path);
    const char *slash = strrchr(base_file, '/');
    if (!slash) return xstrdup(path);
    return xasprintf("%.*s/%s", (int)(slash - base_file), base_file, path);
}

/* Stable copies of the file names libconfig reports, made absolute: it
 * reports an @include'd file by the name written in the directive, which
 * means nothing to an operator whose working directory is elsewhere. */
static char **interned;
static size_t ninterned;
/* Interning happens while a configuration loads; the daemon reloads one
 * (SIGHUP) while pipelines may be running on other threads, so the table is
 * locked.  The strings themselves never move or change once interned. */
static pthread_mutex_t intern_mu = PTHREAD_MUTEX_INITIALIZER;

const char *intern_source_file(const char *file, const char *config_path)
{
    if (!file) return config_path;
    char *abs = file[0] == '/' || !strcmp(file, config_path) ? xstrdup(file) : path_relative_to(config_path, file);
    pthread_mutex_lock(&intern_mu);
    for (size_t i = 0; i < ninterned; i++)
        if (!strcmp(interned[i], abs)) {
            free(abs);
            const char *r = interned[i];
            pthread_mutex_unlock(&intern_mu);
            return r;
        }
    interned = xrealloc(interned, (ninterned + 1) * sizeof *interned);
    const char *r = interned[ninterned++] = abs;
    pthread_mutex_unlock(&intern_mu);
    return r;
}

void intern_free_all(void)
{
    pthread_mutex_lock(&intern_mu);
    for (size_t i = 0; i < ninterned; i++) free(interned[i]);
    free(interned);
    interned = NULL;
    ninterned = 0;
    pthread_mutex_unlock(&intern_mu);
}

double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sleep_seconds(double s)
{
    if (s <= 0) return;
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

void sha256_raw(const void *data, size_t len, unsigned char out[32])
{
    unsigned int mdlen = 0;
    EVP_Digest(data, len, out, &mdlen, EVP_sha256(), NULL);
}

struct json_object *json_string_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    json_object *o = json_object_new_string(s);
    free(s);
    return o;
}

char *json_quote_string(const char *s)
{
    json_object *o = json_object_new_string(s ? s : "");
    char *r = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return r;
}

void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < mdlen && i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

/* A double with at most `decimals` decimals, printed that way: json-c's
 * json_object_new_double() prints 17 significant digits (0.81889999999999996),
 * so the text form is given explicitly (json_object_new_double_s). */
struct json_object *json_number(double v, int decimals)
{
    if (!isfinite(v)) return NULL;
    char buf[64];
    snprintf(buf, sizeof buf, "%.*f", decimals, v);
    if (strchr(buf, '.')) {
        size_t n = strlen(buf);
        while (n > 0 && buf[n - 1] == '0') buf[--n] = '\0';
        if (n > 0 && buf[n - 1] == '.') buf[--n] = '\0';
    }
    if (!strcmp(buf, "-0")) strcpy(buf, "0");
    return json_object_new_double_s(strtod(buf, NULL), buf);
}

/* mkdir -p, mode 0750 for what it creates; 0 or -1 with errno. */
int make_dirs(const char *path)
{
    char *copy = xstrdup(path);
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(copy, 0750) < 0 && errno != EEXIST) {
            free(copy);
            return -1;
        }
        *p = '/';
    }
    int rc = mkdir(copy, 0750) < 0 && errno != EEXIST ? -1 : 0;
    free(copy);
    return rc;
}
