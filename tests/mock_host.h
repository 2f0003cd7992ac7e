/*
 * A small stand-in for the revops core, for plugin unit tests: every
 * revops_host service is implemented simply, in one process, with no core.
 *
 * How a test gets its plugin: either compile the plugin's .c into the test
 * binary together with mock_host.c (its `revops_plugin_descriptor` is then an
 * ordinary symbol of the test; one plugin per binary, since every plugin
 * exports that same name), or dlopen() the plugin's .so and dlsym() the
 * descriptor.  The mock needs neither: plugins reach it only through the
 * revops_host table.  tests/test_a1_unit.c supports both.
 *
 * What the mock does:
 *   - options: the plugin's own option table gives the defaults, a
 *     {name, value} table from the test overrides them (is_set = 1); values
 *     are written as in the config ("20", "true", "a,b" for lists);
 *   - log/error: printed to stderr when mock_verbose is set, and kept so a
 *     test can count and inspect them;
 *   - clock: mock_set_now() fixes now(); time_left() is +inf unless
 *     mock_set_time_left() says otherwise (to test deadlines);
 *   - dates: same calendar as core/date.c;
 *   - json: json-c behind the opaque handles; finding_json builds a JSON
 *     object with every field of the finding;
 *   - http: always ERROR "not in mock";
 *   - secrets: env:NAME and file:/path, no permission check;
 *   - stream_*: rows are deep-copied into a struct revops_stream the test owns;
 *   - emit_finding: findings are deep-copied into a struct revops_emitter.
 */
#ifndef REVOPS_MOCK_HOST_H
#define REVOPS_MOCK_HOST_H

#include <revops/revops.h>

typedef struct mock_option {
    const char *name;
    const char *value;
} mock_option;

/* Where a source's rows land.  Zero-initialise it; stop_after > 0 makes the
 * stream_row after that many rows return ERROR (a consumer that wants the
 * fetch to stop). */
struct revops_stream {
    size_t ncolumns;
    revops_column *columns;        /* names and declared types, copied */
    int columns_declared;
    size_t nrows;
    revops_value *cells;           /* row-major, texts copied */
    size_t cap;
    size_t stop_after;
    int64_t total_rows_hint;
};

/* Where an analysis's findings land (zero-initialise). */
struct revops_emitter {
    size_t n, cap;
    revops_finding *findings;      /* deep copies, fingerprint filled */
};

extern int mock_verbose;

const revops_host *mock_host(void);
revops_instance *mock_self(void);

revops_options *mock_options_new(const revops_option_def *defs, const mock_option *set);
void mock_options_free(revops_options *o);

void mock_set_now(double seconds_since_epoch);
void mock_set_time_left(double seconds);

/* Logs and errors seen since the last mock_reset_logs(). */
size_t mock_log_count(revops_log_level level);
size_t mock_log_total(void);
const char *mock_log_line(size_t i);
revops_log_level mock_log_level_of(size_t i);
const char *mock_last_error(void);   /* "" when none */
void mock_reset_logs(void);

void mock_stream_free(revops_stream *s);
void mock_emitter_free(revops_emitter *e);

#endif
