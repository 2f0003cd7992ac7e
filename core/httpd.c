/* The daemon's HTTP endpoint: GET /healthz and GET /metrics, over
 * libmicrohttpd in external polling mode with MHD_USE_EPOLL.  The daemon is
 * single-threaded (pipelines run in forked children), so there is no MHD
 * thread: the daemon polls httpd_fd() with its other descriptors and calls
 * httpd_run() when it is readable.
 *
 * We create, bind and listen on the socket ourselves and hand it to MHD
 * (MHD_OPTION_LISTEN_SOCKET): that way a bind failure comes back with its
 * errno and the address ("127.0.0.1:9464: Address already in use") instead of
 * MHD's bare NULL, and we bind exactly the address asked, never a wildcard. */
#include "config.h"
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct httpd {
    struct MHD_Daemon *mhd;
    int listen_fd, epoll_fd, port;
    char *(*health)(void *arg, int *status);
    void *arg;
};

static const char METRICS_TYPE[] = "text/plain; version=0.0.4; charset=utf-8";

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char *m = xvasprintf(fmt, ap);
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == '\r')) m[--n] = '\0';
    log_msg(REVOPS_LOG_WARN, "httpd", "%s", m);
    free(m);
}

/* Queue body (malloc'd, freed by MHD) with status and content type. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *body, const char *type, const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    /* Health and counters are "now": a cache in between would lie. */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
    (void)version, (void)upload_data, (void)upload_data_size, (void)req_cls;
    httpd *h = cls;
    int known = !strcmp(url, "/metrics") || !strcmp(url, "/healthz");
    if (!known) return reply(c, MHD_HTTP_NOT_FOUND, xstrdup("not found: try /metrics or /healthz\n"), "text/plain; charset=utf-8", NULL);
    /* Answered on the first call, before any request body is read: MHD
     * then closes the connection instead of reading an upload we refuse. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, xstrdup("method not allowed: GET or HEAD\n"), "text/plain; charset=utf-8",
                     "GET, HEAD");
    /* HEAD: MHD sends the same headers (Content-Length included) and no body. */
    if (!strcmp(url, "/metrics")) return reply(c, MHD_HTTP_OK, metrics_render(), METRICS_TYPE, NULL);
    int status = MHD_HTTP_OK;
    char *body = h->health ? h->health(h->arg, &status) : xstrdup("{\"status\":\"ok\"}\n");
    if (!body) {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        body = xstrdup("{\"status\":\"error\",\"error\":\"the health check returned nothing\"}\n");
    }
    if (status < 100 || status > 599) status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    return reply(c, (unsigned)status, body, "application/json", NULL);
}

/* "HOST:PORT", "[V6]:PORT" or "PORT" as listen_parse() reads them, plus
 * port 0 (any free port) which the configuration refuses but tests need. */
static int parse(const char *addr, char *host, size_t hostlen, int *port, char *err, size_t errlen)
{
    const char *colon = strrchr(addr, ':');
    const char *ps = colon ? colon + 1 : addr;
    if (strcmp(ps, "0")) return listen_parse(addr, host, hostlen, port, err, errlen);
    char *probe = xasprintf("%.*s1", (int)(ps - addr), addr);
    int rc = listen_parse(probe, host, hostlen, port, err, errlen);
    free(probe);
    if (rc == 0) *port = 0;
    return rc;
}

/* A listening socket on exactly host:port; -1 + err naming the address. */
static int listen_on(const char *addr, const char *host, int port, int *bound, char *err, size_t errlen)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
    int g = getaddrinfo(host, ps, &hints, &ai);
    if (g == EAI_NONAME) {
        /* Not an address: a name such as "localhost". */
        hints.ai_flags = AI_NUMERICSERV;
        g = getaddrinfo(host, ps, &hints, &ai);
    }
    if (g != 0) {
        snprintf(err, errlen, "listen '%s': cannot resolve host '%s': %s", addr, host, gai_strerror(g));
        return -1;
    }
    /* The first address only: "localhost" means one socket, not two. */
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "listen '%s': socket: %s", addr, strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    int one = 1;
    /* A restarted daemon must not wait out TIME_WAIT of the last scrape. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* [::1] is IPv6 loopback only, not also IPv4. */
    if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
        snprintf(err, errlen, "listen '%s': cannot listen on %s port %d: %s", addr, host, port, strerror(errno));
        close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    *bound = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

httpd *httpd_start(const char *addr, char *(*health)(void *arg, int *status), void *arg, char *err, size_t errlen)
{
    char host[256], perr[512];
    int port;
    if (!addr || parse(addr, host, sizeof host, &port, perr, sizeof perr) < 0) {
        snprintf(err, errlen, "listen: %s", addr ? perr : "no address given");
        return NULL;
    }
    httpd *h = xcalloc(1, sizeof *h);
    h->health = health;
    h->arg = arg;
    h->listen_fd = listen_on(addr, host, port, &h->port, err, errlen);
    if (h->listen_fd < 0) {
        free(h);
        return NULL;
    }
    h->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, h,
                              /* First, or MHD warns that earlier options may log to stderr. */
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                              MHD_OPTION_LISTEN_SOCKET, (MHD_socket)h->listen_fd,
                              /* A scraper and an operator's curl, not a crowd. */
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)32,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                              MHD_OPTION_END);
    const union MHD_DaemonInfo *di = h->mhd ? MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
    if (!di) {
        snprintf(err, errlen, "listen '%s': libmicrohttpd could not start on %s port %d (see the log)", addr, host, h->port);
        if (h->mhd) MHD_stop_daemon(h->mhd);
        else if (fcntl(h->listen_fd, F_GETFD) != -1) close(h->listen_fd);
        free(h);
        return NULL;
    }
    h->epoll_fd = di->epoll_fd;
    return h;
}

int httpd_port(const httpd *h)
{
    return h->port;
}

int httpd_fd(const httpd *h)
{
    return h->epoll_fd;
}

int httpd_timeout_ms(const httpd *h)
{
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(h->mhd, &ms) != MHD_YES) return -1;
    return ms > 60000 ? 60000 : (int)ms;
}

void httpd_run(httpd *h)
{
    MHD_run(h->mhd);
}

void httpd_close_after_fork(httpd *h)
{
    if (!h) return;
    /* No MHD call here: MHD_stop_daemon would shut down sockets the parent
     * still serves.  Closing our copies is enough for the listening socket
     * to go away with the parent. */
    close(h->epoll_fd);
    close(h->listen_fd);
}

void httpd_stop(httpd *h)
{
    if (!h) return;
    MHD_stop_daemon(h->mhd);   /* closes the listening socket too */
    free(h);
}
