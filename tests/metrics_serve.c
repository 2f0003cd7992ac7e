/* tests/metrics.sh's server: feeds run records (JSON files written by the
 * real `revops run --format json`) into the metrics registry, then serves
 * /metrics and /healthz the way the daemon does: httpd_fd() in a poll(2)
 * loop on this single thread, until SIGTERM.
 *
 *   metrics_serve [--listen ADDR] [--health-status N] [--pipeline NAME NEXT RUNNING]
 *                 [--inc NAME LABEL VALUE] [--render] FILE...
 *   metrics_serve --bench N        time metrics_render() with N pipelines
 *   --fork-child: fork a child that calls httpd_close_after_fork() and lives
 *   on (as a pipeline run would) until SIGTERM; its pid is printed as "CHILD n".
 *
 * FILE holds one record, an array of records, or {"runs": [...]}.  It
 * prints "PORT n" once listening. */
#include "config.h"
#include "../core/core.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static int health_status = 200;
static int nrecords;

static char *health(void *arg, int *status)
{
    (void)arg;
    *status = health_status;
    return xasprintf("{\"status\":\"%s\",\"records\":%d}", health_status == 200 ? "ok" : "degraded", nrecords);
}

static int feed(const char *path)
{
    json_object *j = json_object_from_file(path);
    if (!j) {
        fprintf(stderr, "metrics_serve: %s: %s\n", path, json_util_get_last_err());
        return -1;
    }
    json_object *runs = json_object_is_type(j, json_type_array) ? j : json_object_object_get(j, "runs");
    if (runs && json_object_is_type(runs, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(runs); i++, nrecords++)
            metrics_observe_run(json_object_array_get_idx(runs, i));
    } else {
        metrics_observe_run(j);
        nrecords++;
    }
    json_object_put(j);
    return 0;
}

/* N pipelines, each with a record like the demo's (3 inputs, 2 actions, a
 * model), observed 10 times; then the median of 21 renders. */
static int bench(int n)
{
    for (int i = 0; i < n; i++) {
        char *rec = xasprintf(
            "{\"pipeline\":\"pipeline_%03d\",\"status\":\"ok\",\"started_at\":\"2026-11-01T06:00:00Z\",\"seconds\":1.5,"
            "\"steps\":{\"gather\":0.5,\"process\":0.1,\"analyse\":0.2,\"act\":0.6,\"log\":0.1},"
            "\"inputs\":[{\"input\":\"accounts\",\"source\":\"warehouse\",\"rows\":200,\"chunks\":1,\"attempts\":1},"
            "{\"input\":\"opportunities\",\"source\":\"warehouse\",\"rows\":198,\"chunks\":1,\"attempts\":2},"
            "{\"input\":\"usage\",\"source\":\"warehouse\",\"rows\":24231,\"chunks\":25,\"attempts\":1}],"
            "\"findings_by_priority\":{\"critical\":2,\"high\":5,\"medium\":5,\"low\":4},"
            "\"actions\":[{\"action\":\"report\",\"delivered\":16},{\"action\":\"slack\",\"delivered\":7,\"failed\":1}],"
            "\"model\":{\"session\":{\"calls\":3,\"input_tokens\":1000,\"output_tokens\":300,\"call_log\":[]}}}",
            i);
        json_object *j = json_tokener_parse(rec);
        for (int k = 0; k < 10; k++) metrics_observe_run(j);
        metrics_set_pipeline(json_object_get_string(json_object_object_get(j, "pipeline")), 1.8e9, 0);
        json_object_put(j);
        free(rec);
    }
    double t[21];
    size_t bytes = 0, lines = 0;
    for (int r = 0; r < 21; r++) {
        double t0 = mono_now();
        char *m = metrics_render();
        t[r] = mono_now() - t0;
        bytes = strlen(m);
        lines = 0;
        for (char *p = m; *p; p++) lines += *p == '\n';
        free(m);
    }
    for (int a = 0; a < 21; a++)
        for (int b = a + 1; b < 21; b++)
            if (t[b] < t[a]) {
                double x = t[a];
                t[a] = t[b];
                t[b] = x;
            }
    printf("bench: metrics_render with %d pipelines: %zu lines, %zu bytes, median %.3f ms (min %.3f, max %.3f)\n", n, lines,
           bytes, t[10] * 1e3, t[0] * 1e3, t[20] * 1e3);
    return 0;
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:0";
    int render = 0, fork_child = 0;
    metrics_reset();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--listen") && i + 1 < argc) listen = argv[++i];
        else if (!strcmp(argv[i], "--health-status") && i + 1 < argc) health_status = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--pipeline") && i + 3 < argc) {
            metrics_set_pipeline(argv[i + 1], strtod(argv[i + 2], NULL), atoi(argv[i + 3]));
            i += 3;
        } else if (!strcmp(argv[i], "--inc") && i + 3 < argc) {
            metrics_inc(argv[i + 1], *argv[i + 2] ? argv[i + 2] : NULL, argv[i + 3]);
            i += 3;
        } else if (!strcmp(argv[i], "--render")) render = 1;
        else if (!strcmp(argv[i], "--fork-child")) fork_child = 1;
        else if (!strcmp(argv[i], "--bench") && i + 1 < argc) return bench(atoi(argv[i + 1]));
        else if (feed(argv[i]) < 0) return 2;
    }
    if (render) {
        char *m = metrics_render();
        fputs(m, stdout);
        free(m);
        metrics_reset();
        return 0;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    char err[512];
    httpd *h = httpd_start(listen, health, NULL, err, sizeof err);
    if (!h) {
        fprintf(stderr, "metrics_serve: %s\n", err);
        return 1;
    }
    if (fork_child) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            httpd_close_after_fork(h);
            while (!stop) pause();
            _exit(0);
        }
        printf("CHILD %d\n", (int)pid);
    }
    printf("PORT %d\n", httpd_port(h));
    fflush(stdout);
    while (!stop) {
        struct pollfd pfd = { httpd_fd(h), POLLIN, 0 };
        int n = poll(&pfd, 1, httpd_timeout_ms(h));
        if (n < 0 && errno != EINTR) {
            perror("metrics_serve: poll");
            break;
        }
        /* Also on a timeout: MHD closes idle connections then. */
        if (!stop) httpd_run(h);
    }
    httpd_stop(h);
    metrics_reset();
    return 0;
}
