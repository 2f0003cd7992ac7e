/* revops: the command line.  Sub-commands are small functions; all real
 * work lives in config.c, loader.c and run.c. */
#include "config.h"
#include "core.h"

#include <signal.h>

#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef REVOPS_CONFIG_FILE
#define REVOPS_CONFIG_FILE "/etc/revops/revops.conf"
#endif

static const char usage_text[] =
    "usage: revops COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  run -c FILE [-p PIPELINE] [--dry-run] [--session-id ID] [--format text|json|markdown] [--no-progress]\n"
    "                      run every pipeline of FILE (or one): gather, process, analyse, act, log\n"
    "  check-config -c FILE  validate FILE and every plugin option in it; print all errors\n"
    "  plugins [-c FILE]   list the plugins found, their kind, version, ABI, file and options\n"
    "  query -c FILE (-s SOURCE -q QUERY | -p PIPELINE -i INPUT [-s SOURCE]) [--chunk K] [--rows-per-chunk N]\n"
    "                      run one query and print chunk K in the spec's chunk JSON\n"
    "  trigger -c FILE [PAYLOAD|-] [--dry-run] [--format F] [--no-progress]\n"
    "                      run the pipelines matching the spec's trigger payload (JSON, argument or stdin)\n"
    "  kb search -c FILE [-n N] [--full] [--format text|json] QUERY\n"
    "                      the schema knowledge base passages (BM25) a data agent would get for QUERY\n"
    "  ask -c FILE [--model NAME] [--max-steps N] [--session-id ID] [--format text|json] QUESTION\n"
    "                      the data agent: the model answers QUESTION with the sources' tools\n"
    "  runs -c FILE [-p PIPELINE] [-n N] [--format text|json]\n"
    "                      the runs' analytics from the state store, newest first\n"
    "  findings -c FILE [--account ID] [--analysis A] [--priority P] [--status open|closed|all]\n"
    "                      the findings the state store knows\n"
    "  outbox -c FILE [--action NAME] [--all] | --requeue | --deliver [--dry-run]\n"
    "                      pending and failed deliveries; requeue failed ones; deliver what is due\n"
    "  daemon -c FILE      run the pipelines on their schedules until SIGTERM; SIGHUP reloads FILE;\n"
    "                      /healthz and /metrics on daemon.listen\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   configuration (default $REVOPS_CONFIG, else " REVOPS_CONFIG_FILE ")\n"
    "  -h, --help          this text\n"
    "  -V, --version       version and plugin ABI\n"
    "\n"
    "Exit status: 0 ok; 1 a pipeline failed; 3 findings produced but some deliveries failed\n"
    "(outbox: failed deliveries are listed);\n"
    "4 findings rest on partial data (an input lost chunks or pages);\n"
    "64 usage; 65 bad trigger payload; 66 configuration file missing; 69 'plugins' found a\n"
    "file it refuses; 78 invalid configuration.  See revops(1).\n";

#define usage_error cli_usage_error
#define default_config cli_default_config
#define load cli_load
int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("revops: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'revops --help'.\n", stderr);
    return EXIT_USAGE;
}

const char *cli_default_config(void)
{
    const char *env = getenv("REVOPS_CONFIG");
    return env && *env ? env : REVOPS_CONFIG_FILE;
}

/* The file's log settings; REVOPS_LOG_LEVEL, when set, overrides its
 * log.level.  At load, and again when the daemon reloads. */
void cli_apply_logging(revops_config *c)
{
    const char *env = getenv("REVOPS_LOG_LEVEL");
    if (env) log_level_parse(env, &c->log_level);
    log_setup(c->log_level, c->log_format);
    log_set_output(c->log_output == LOG_TO_SYSLOG, c->log_facility);
}

revops_config *cli_load(const char *path, int *code)
{
    diag *d = diag_new();
    revops_config *c = config_load(path, d, code);
    if (!c) {
        diag_print(d, stderr);
        fprintf(stderr, "revops: %zu error%s in %s\n", diag_count(d), diag_count(d) == 1 ? "" : "s", path);
    } else {
        cli_apply_logging(c);
    }
    diag_free(d);
    return c;
}

static int valid_format(const char *f)
{
    return !strcmp(f, "text") || !strcmp(f, "json") || !strcmp(f, "markdown");
}

typedef struct run_args {
    const char *config, *pipeline, *session_id, *format;
    int dry_run;
    int no_progress;
} run_args;

/* Run the selected pipelines; the worst exit code wins. */
/* Worst wins: interrupted, failed, busy, partial data, failed deliveries. */
static int exit_severity(int code)
{
    switch (code) {
    case EXIT_RUN_OK: return 0;
    case EXIT_DELIVERY_FAILED: return 1;
    case EXIT_PARTIAL: return 2;
    case EXIT_BUSY: return 3;
    case EXIT_RUN_FAILED: return 4;
    default: return 5;  /* EXIT_INTERRUPTED */
    }
}

static void on_stop_signal(int sig)
{
    (void)sig;
    run_request_stop();
}

/* SIGTERM/SIGINT end a manual run the way they end the daemon's: after the
 * current step, recorded, outbox consistent.  A second signal kills (the
 * handler is one-shot), for an operator who really means it. */
void cli_stop_on_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

static int run_selected(revops_config *c, conf_pipeline **sel, size_t n, const run_options *base, const char *format)
{
    int code = EXIT_RUN_OK;
    json_object *all = json_object_new_array();
    /* Actions stay open across the pipelines (a report is one digest); the
     * run summaries are printed after them, once every report is out. */
    action_pool pool;
    action_pool_init(&pool, c);
    char *summaries = NULL;
    size_t summaries_len = 0;
    FILE *sum = open_memstream(&summaries, &summaries_len);
    if (!sum) sum = stdout;
    for (size_t i = 0; i < n; i++) {
        run_result r;
        run_options o = *base;
        o.pool = &pool;
        char sid[160];
        /* Several pipelines in one invocation share the session id with a
         * suffix, so each run record stays unique. */
        if (n > 1) {
            char def[128];
            if (!o.session_id) session_id_default(def, sizeof def);
            snprintf(sid, sizeof sid, "%s_%s", o.session_id ? o.session_id : def, sel[i]->name);
            o.session_id = sid;
        }
        int rc = run_pipeline(c, sel[i], &o, &r);
        if (exit_severity(rc) > exit_severity(code)) code = rc;
        if (!strcmp(format, "json")) json_object_array_add(all, run_result_json(&r, 1));
        else run_result_print(&r, format, sum);
        progress_finish(&r);
        run_result_free(&r);
        if (run_stop_requested()) break;  /* SIGTERM/SIGINT: no further pipeline */
    }
    action_pool_close(&pool, c);
    fflush(stdout);
    if (sum != stdout) {
        fclose(sum);
        fwrite(summaries, 1, summaries_len, stdout);
        free(summaries);
    }
    if (!strcmp(format, "json")) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "runs", all);
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
    } else {
        json_object_put(all);
    }
    fflush(stdout);
    return code;
}

static int cmd_run(int argc, char **argv)
{
    run_args a = { default_config(), NULL, NULL, "text", 0, 0 };
    static const struct option opts[] = {
        { "config", required_argument, 0, 'c' }, { "pipeline", required_argument, 0, 'p' },
        { "dry-run", no_argument, 0, 'n' },      { "session-id", required_argument, 0, 's' },
        { "format", required_argument, 0, 'f' }, { "help", no_argument, 0, 'h' },
        { "no-progress", no_argument, 0, 'P' },  { 0, 0, 0, 0 },
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:p:ns:f:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': a.config = optarg; break;
        case 'p': a.pipeline = optarg; break;
        case 'n': a.dry_run = 1; break;
        case 's': a.session_id = optarg; break;
        case 'f': a.format = optarg; break;
        case 'P': a.no_progress = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: return usage_error("%s", "bad option for 'run'");
        }
    }
    if (optind < argc) return usage_error("unexpected argument '%s' for 'run'", argv[optind]);
    if (!valid_format(a.format)) return usage_error("--format must be text, json or markdown, not '%s'", a.format);
    if (a.session_id && !session_id_valid(a.session_id))
        return usage_error("--session-id '%s' may contain only letters, digits, '_', '-' and '.'", a.session_id);
    int code;
    revops_config *c = load(a.config, &code);
    if (!c) return code;
    progress_setup(!a.no_progress && c->log_format == LOG_FORMAT_TEXT);
    if (c->npipelines == 0) {
        fprintf(stderr, "revops: %s defines no pipelines; add a 'pipelines' group (see revops.conf(5))\n", a.config);
        config_free(c);
        return EXIT_CONFIG;
    }
    conf_pipeline **sel = xcalloc(c->npipelines, sizeof *sel);
    size_t n = 0;
    for (size_t i = 0; i < c->npipelines; i++)
        if (!a.pipeline || !strcmp(a.pipeline, c->pipelines[i].name)) sel[n++] = &c->pipelines[i];
    if (a.pipeline && n == 0) {
        fprintf(stderr, "revops: %s has no pipeline named '%s'\n", a.config, a.pipeline);
        free(sel);
        config_free(c);
        return EXIT_USAGE;
    }
    run_options o = { a.session_id, "manual", a.dry_run, -1, NULL, NULL, NULL };
    cli_stop_on_signals();
    code = run_selected(c, sel, n, &o, a.format);
    free(sel);
    config_free(c);
    return code;
}

static int cmd_check_config(int argc, char **argv)
{
    const char *path = default_config();
    static const struct option opts[] = { { "config", required_argument, 0, 'c' }, { 0, 0, 0, 0 } };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        if (ch == 'c') path = optarg;
        else return usage_error("%s", "bad option for 'check-config'");
    }
    if (optind < argc) path = argv[optind];
    int code;
    revops_config *c = load(path, &code);
    if (!c) return code;
    printf("%s: ok: %zu source%s, %zu action%s, %zu pipeline%s", path, c->nsources, c->nsources == 1 ? "" : "s",
           c->nactions, c->nactions == 1 ? "" : "s", c->npipelines, c->npipelines == 1 ? "" : "s");
    if (c->nmodels) printf(", %zu model%s", c->nmodels, c->nmodels == 1 ? "" : "s");
    putchar('\n');
    config_free(c);
    return 0;
}

static void print_option(const revops_option_def *o)
{
    printf("      %-22s %s%s", o->name, option_type_name(o->type), o->required ? ", required" : "");
    if (o->default_value && !o->sensitive) printf(", default %s", o->default_value);
    if (o->min < o->max) printf(", %g..%g", o->min, o->max);
    if (o->enum_values) {
        printf(", one of");
        for (int i = 0; o->enum_values[i]; i++) printf("%s%s", i ? "|" : " ", o->enum_values[i]);
    }
    if (o->sensitive) printf(", secret (env:NAME or file:/path)");
    printf("\n          %s\n", o->help ? o->help : "");
}

static int cmd_plugins(int argc, char **argv)
{
    const char *path = getenv("REVOPS_CONFIG") && *getenv("REVOPS_CONFIG") ? getenv("REVOPS_CONFIG") : NULL;
    static const struct option opts[] = { { "config", required_argument, 0, 'c' }, { 0, 0, 0, 0 } };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        if (ch == 'c') path = optarg;
        else return usage_error("%s", "bad option for 'plugins'");
    }
    char *dir = path ? config_read_plugin_dir(path) : NULL;
    const char *search = plugin_search_path(dir);
    plugin_set ps = { 0 };
    loader_load_path(&ps, search);
    printf("plugin path: %s\n", search);
    for (int kind = REVOPS_KIND_SOURCE; kind <= REVOPS_KIND_MODEL; kind++) {
        for (size_t i = 0; i < ps.n; i++) {
            const revops_plugin *d = ps.v[i].desc;
            if ((int)d->kind != kind) continue;
            printf("\n%s (%s", d->name, kind_name(d->kind));
            if (d->kind == REVOPS_KIND_ANALYSIS) printf(" %s", d->vt.analysis->analysis_type);
            printf(") version %s, ABI %u.%u\n  %s\n  file: %s\n", d->version ? d->version : "?", d->abi_major,
                   d->abi_minor, d->description ? d->description : "", ps.v[i].path);
            if (d->kind == REVOPS_KIND_SOURCE) {
                const char *dialect = source_dialect(&ps.v[i]);
                printf("  query dialect: %s\n", dialect ? dialect : "none (queries are one string)");
            }
            if (d->kind == REVOPS_KIND_SOURCE && d->vt.source->tools)
                for (const revops_tool *t = d->vt.source->tools; t->name; t++)
                    printf("  tool: %s — %s\n", t->name, t->description ? t->description : "");
            if (d->kind == REVOPS_KIND_ANALYSIS && d->vt.analysis->inputs)
                for (const revops_input_def *in = d->vt.analysis->inputs; in->name; in++)
                    printf("  input: %s%s (columns %s) — %s\n", in->name, in->required ? "" : " (optional)",
                           in->columns ? in->columns : "-", in->help ? in->help : "");
            if (d->options && d->options[0].name) {
                printf("  options:\n");
                for (const revops_option_def *o = d->options; o->name; o++) print_option(o);
            }
        }
    }
    for (size_t i = 0; i < ps.nrefusals; i++) fprintf(stderr, "revops: %s\n", ps.refusals[i]);
    int code = ps.nrefusals ? EXIT_UNAVAILABLE : 0;
    if (!ps.n && !ps.nrefusals) fprintf(stderr, "revops: no plugins found in %s\n", search);
    plugin_set_free(&ps);
    free(dir);
    return code;
}

typedef struct query_capture {
    size_t want;
    json_object *chunk_json;   /* chunk `want`, once seen, without totals */
    revops_chunk meta;         /* copy of its scalar fields */
    size_t chunks;
    int64_t rows;
    size_t ncols;
    revops_column *cols;
} query_capture;

static revops_status capture_chunk(void *data, const revops_chunk *c)
{
    query_capture *q = data;
    q->chunks = c->chunk_index + 1;
    q->rows += (int64_t)c->nrows;
    if (!q->cols) {
        q->ncols = c->ncolumns;
        q->cols = xcalloc(c->ncolumns, sizeof *q->cols);
        for (size_t i = 0; i < c->ncolumns; i++) {
            q->cols[i].name = xstrdup(c->columns[i].name);
            q->cols[i].type = c->columns[i].type;
        }
    }
    if (c->chunk_index == q->want) q->chunk_json = chunk_to_json(c, NULL, NULL, NULL);
    return REVOPS_OK;
}

static int cmd_query(int argc, char **argv)
{
    const char *path = default_config(), *source = NULL, *query = NULL, *pipeline = NULL, *input = NULL;
    long chunk = 0, rpc = 0;
    static const struct option opts[] = {
        { "config", required_argument, 0, 'c' }, { "source", required_argument, 0, 's' },
        { "query", required_argument, 0, 'q' },  { "pipeline", required_argument, 0, 'p' },
        { "input", required_argument, 0, 'i' },  { "chunk", required_argument, 0, 'k' },
        { "rows-per-chunk", required_argument, 0, 'r' }, { 0, 0, 0, 0 },
    };
    int ch;
    char *end;
    while ((ch = getopt_long(argc, argv, "c:s:q:p:i:k:r:", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': path = optarg; break;
        case 's': source = optarg; break;
        case 'q': query = optarg; break;
        case 'p': pipeline = optarg; break;
        case 'i': input = optarg; break;
        case 'k':
            chunk = strtol(optarg, &end, 10);
            if (*end || chunk < 0) return usage_error("--chunk must be a number >= 0, not '%s'", optarg);
            break;
        case 'r':
            rpc = strtol(optarg, &end, 10);
            if (*end || rpc < 1) return usage_error("--rows-per-chunk must be a number >= 1, not '%s'", optarg);
            break;
        default: return usage_error("%s", "bad option for 'query'");
        }
    }
    if (!query && !(pipeline && input)) return usage_error("%s", "'query' needs -q QUERY, or -p PIPELINE -i INPUT");
    int code;
    revops_config *c = load(path, &code);
    if (!c) return code;
    conf_instance *src = NULL;
    int64_t row_limit = 0;
    if (!query) {
        conf_pipeline *p = config_pipeline(c, pipeline);
        for (size_t i = 0; p && i < p->ninputs; i++)
            if (!strcmp(p->inputs[i].name, input)) {
                query = p->inputs[i].query;
                src = p->inputs[i].source;
                row_limit = p->inputs[i].row_limit;
            }
        if (!query) {
            fprintf(stderr, "revops: %s has no pipeline '%s' with an input '%s'\n", path, pipeline, input);
            config_free(c);
            return EXIT_USAGE;
        }
    }
    if (source) src = config_source(c, source);
    if (!src) {
        fprintf(stderr, "revops: %s defines no source '%s'\n", path, source ? source : "(none given: use -s)");
        config_free(c);
        return EXIT_USAGE;
    }
    query_capture q = { .want = (size_t)chunk };
    char err[1024];
    size_t rows_per_chunk = rpc > 0 ? (size_t)rpc : src->rows_per_chunk;
    int rc = source_query(c, src, input ? input : "query", query, row_limit, rows_per_chunk, capture_chunk, &q, err,
                          sizeof err);
    revops_chunk meta = { .chunk_index = (size_t)chunk, .rows_per_chunk = rows_per_chunk, .total_rows = q.rows,
                          .total_chunks = (int64_t)q.chunks, .ncolumns = q.ncols, .columns = q.cols };
    json_object *out;
    if (rc < 0) {
        out = chunk_to_json(&meta, err, query, src->name);
    } else if ((size_t)chunk >= q.chunks) {
        snprintf(err, sizeof err, "chunk %ld is out of range: the result has %zu chunk%s (%lld rows, %zu rows per chunk); valid chunk_index values are 0..%zu",
                 chunk, q.chunks, q.chunks == 1 ? "" : "s", (long long)q.rows, rows_per_chunk, q.chunks - 1);
        out = chunk_to_json(&meta, err, query, src->name);
    } else {
        out = q.chunk_json;
        q.chunk_json = NULL;
        /* The totals are known only now: fill in the spec's fields. */
        int chunked = q.chunks > 1;
        json_object_object_add(out, "chunked", json_object_new_boolean(chunked));
        if (chunked) {
            json_object_object_add(out, "chunk_index", json_object_new_int64(chunk));
            json_object_object_add(out, "total_chunks", json_object_new_int64((int64_t)q.chunks));
            json_object_object_add(out, "total_rows", json_object_new_int64(q.rows));
            json_object_object_add(out, "rows_per_chunk", json_object_new_int64((int64_t)rows_per_chunk));
            json_object *qi = json_object_new_object();
            json_object_object_add(qi, "query", json_object_new_string(query));
            json_object_object_add(qi, "source", json_object_new_string(src->name));
            json_object_object_add(out, "query_info", qi);
        } else {
            json_object_object_del(out, "chunk_index");
            json_object_object_del(out, "total_chunks");
            json_object_object_del(out, "total_rows");
            json_object_object_del(out, "rows_per_chunk");
            json_object_object_del(out, "query_info");
        }
    }
    printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    int success = json_object_get_boolean(json_object_object_get(out, "success"));
    json_object_put(out);
    json_object_put(q.chunk_json);
    for (size_t i = 0; i < q.ncols; i++) free((char *)q.cols[i].name);
    free(q.cols);
    config_free(c);
    return success ? 0 : EXIT_RUN_FAILED;
}

static char *read_all(FILE *f, size_t *len)
{
    strbuf sb = { 0 };
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0 && sb.len < (1u << 20)) sb_add(&sb, buf, n);
    *len = sb.len;
    return sb_steal(&sb);
}

static int cmd_trigger(int argc, char **argv)
{
    const char *path = default_config(), *format = "text";
    int dry = 0, no_progress = 0;
    static const struct option opts[] = { { "config", required_argument, 0, 'c' }, { "dry-run", no_argument, 0, 'n' },
                                           { "format", required_argument, 0, 'f' }, { "no-progress", no_argument, 0, 'P' },
                                           { 0, 0, 0, 0 } };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:nf:", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': path = optarg; break;
        case 'n': dry = 1; break;
        case 'f': format = optarg; break;
        case 'P': no_progress = 1; break;
        default: return usage_error("%s", "bad option for 'trigger'");
        }
    }
    if (!valid_format(format)) return usage_error("--format must be text, json or markdown, not '%s'", format);
    char *text;
    size_t len;
    if (optind < argc && strcmp(argv[optind], "-") != 0) {
        text = xstrdup(argv[optind]);
        len = strlen(text);
    } else {
        if (optind >= argc && isatty(STDIN_FILENO))
            return usage_error("%s", "'trigger' needs a payload: an argument, or JSON on standard input");
        text = read_all(stdin, &len);
    }
    trigger_payload t;
    char err[512];
    if (trigger_parse(text, len, &t, err, sizeof err) < 0) {
        fprintf(stderr, "revops: %s\n", err);
        free(text);
        return EXIT_DATAERR;
    }
    free(text);
    int code;
    revops_config *c = load(path, &code);
    if (!c) return code;
    progress_setup(!no_progress && c->log_format == LOG_FORMAT_TEXT);
    conf_pipeline **sel = xcalloc(c->npipelines, sizeof *sel);
    size_t n = 0;
    for (size_t i = 0; i < c->npipelines; i++)
        if (!strcmp(c->pipelines[i].analysis_type, t.analysis_type)) sel[n++] = &c->pipelines[i];
    if (!n) {
        fprintf(stderr, "revops: %s has no pipeline for analysis %s\n", path, t.analysis_type);
        code = EXIT_DATAERR;
    } else {
        run_options o = { t.session_id[0] ? t.session_id : NULL, t.trigger_type, dry, t.max_opportunities, NULL,
                          t.target[0] ? t.target : NULL, t.context[0] ? t.context : NULL };
        cli_stop_on_signals();
        code = run_selected(c, sel, n, &o, format);
    }
    free(sel);
    config_free(c);
    return code;
}

/* `revops ask`: the data agent (core/ask.c). */
static int cmd_ask(int argc, char **argv)
{
    const char *path = default_config(), *format = "text";
    ask_options ao = { 0 };
    static const struct option opts[] = { { "config", required_argument, 0, 'c' }, { "model", required_argument, 0, 'm' },
                                           { "max-steps", required_argument, 0, 's' },
                                           { "session-id", required_argument, 0, 'i' },
                                           { "format", required_argument, 0, 'f' }, { 0, 0, 0, 0 } };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:m:f:", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': path = optarg; break;
        case 'm': ao.model = optarg; break;
        case 'f': format = optarg; break;
        case 'i':
            if (!session_id_valid(optarg)) return usage_error("--session-id '%s' is not valid", optarg);
            ao.session_id = optarg;
            break;
        case 's': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 100) return usage_error("--max-steps must be 1..100, not '%s'", optarg);
            ao.max_steps = (int)v;
            break;
        }
        default: return usage_error("%s", "bad option for 'ask'");
        }
    }
    if (strcmp(format, "text") && strcmp(format, "json")) return usage_error("--format must be text or json, not '%s'", format);
    ao.json = !strcmp(format, "json");
    if (optind >= argc) return usage_error("%s", "'ask' needs a question");
    strbuf q = { 0 };
    for (int i = optind; i < argc; i++) sb_printf(&q, "%s%s", i > optind ? " " : "", argv[i]);
    ao.question = q.buf;
    int code;
    revops_config *c = load(path, &code);
    if (c) {
        code = ask_run(c, &ao);
        config_free(c);
    }
    sb_free(&q);
    return code;
}

/* `revops kb search`: what the schema knowledge base retrieves for a task. */
static int cmd_kb(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "search") != 0)
        return usage_error("%s", "usage: revops kb search -c FILE [-n N] [--full] [--format text|json] QUERY");
    argc--;
    argv++;
    const char *path = default_config(), *format = "text";
    long max = 5;
    int full = 0;
    static const struct option opts[] = {
        { "config", required_argument, 0, 'c' }, { "top", required_argument, 0, 'n' },
        { "full", no_argument, 0, 'F' },         { "format", required_argument, 0, 'f' },
        { "help", no_argument, 0, 'h' },         { 0, 0, 0, 0 },
    };
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:n:f:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': path = optarg; break;
        case 'n': {
            char *end;
            max = strtol(optarg, &end, 10);
            if (*end || max < 1 || max > 100) return usage_error("-n must be a number from 1 to 100, not '%s'", optarg);
            break;
        }
        case 'F': full = 1; break;
        case 'f': format = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: return usage_error("%s", "bad option for 'kb search'");
        }
    }
    if (strcmp(format, "text") && strcmp(format, "json")) return usage_error("--format must be text or json, not '%s'", format);
    if (optind != argc - 1) return usage_error("%s", "kb search takes one QUERY argument (quote it)");
    const char *query = argv[optind];
    int code;
    revops_config *c = load(path, &code);
    if (!c) return code;
    if (!c->kb_path) {
        fprintf(stderr, "revops: %s has no knowledge_base setting (a directory of markdown documents)\n", path);
        config_free(c);
        return EXIT_CONFIG;
    }
    char err[512];
    kb *k = kb_load(c->kb_path, err, sizeof err);
    if (!k) {
        fprintf(stderr, "revops: %s\n", err);
        config_free(c);
        return EXIT_CONFIG;
    }
    kb_hit *hits = xcalloc((size_t)max, sizeof *hits);
    size_t n = kb_search(k, query, (size_t)max, hits);
    if (!strcmp(format, "json")) {
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "rank", json_object_new_int((int)i + 1));
            json_object_object_add(o, "score", json_object_new_double(round(hits[i].score * 1000) / 1000));
            json_object_object_add(o, "file", json_object_new_string(hits[i].file));
            json_object_object_add(o, "line", json_object_new_int(hits[i].line));
            json_object_object_add(o, "heading", json_object_new_string(hits[i].heading));
            json_object_object_add(o, "text", json_object_new_string(hits[i].text));
            json_object_array_add(arr, o);
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "query", json_object_new_string(query));
        json_object_object_add(o, "passages", json_object_new_int((int)kb_size(k)));
        json_object_object_add(o, "results", arr);
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
    } else {
        printf("%zu of %zu passages match \"%s\"\n", n, kb_size(k), query);
        for (size_t i = 0; i < n; i++) {
            printf("\n%zu. %.3f  %s:%d  %s\n", i + 1, hits[i].score, hits[i].file, hits[i].line, hits[i].heading);
            /* the first lines, or all with --full */
            const char *t = hits[i].text;
            for (int l = 0; *t && (full || l < 3); l++) {
                size_t len = strcspn(t, "\n");
                printf("   %.*s\n", (int)len, t);
                t += len + (t[len] == '\n');
            }
            if (*t) printf("   ...\n");
        }
    }
    free(hits);
    kb_free(k);
    config_free(c);
    return n ? 0 : 1;
}

int main(int argc, char **argv)
{
    revops_log_level lvl = REVOPS_LOG_INFO;
    const char *env_level = getenv("REVOPS_LOG_LEVEL");
    if (env_level) log_level_parse(env_level, &lvl);
    log_setup(lvl, LOG_FORMAT_TEXT);
    retry_seed((unsigned long long)getpid() ^ (unsigned long long)(mono_now() * 1e6));
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("revops %s (plugin ABI %d.%d)\n", PACKAGE_VERSION, REVOPS_ABI_MAJOR, REVOPS_ABI_MINOR);
        return 0;
    }
    http_global_init();
    int code;
    argv[1] = argv[0];
    if (!strcmp(cmd, "run")) code = cmd_run(argc - 1, argv + 1);
    else if (!strcmp(cmd, "check-config")) code = cmd_check_config(argc - 1, argv + 1);
    else if (!strcmp(cmd, "plugins")) code = cmd_plugins(argc - 1, argv + 1);
    else if (!strcmp(cmd, "query")) code = cmd_query(argc - 1, argv + 1);
    else if (!strcmp(cmd, "kb")) code = cmd_kb(argc - 1, argv + 1);
    else if (!strcmp(cmd, "ask")) code = cmd_ask(argc - 1, argv + 1);
    else if (!strcmp(cmd, "trigger")) code = cmd_trigger(argc - 1, argv + 1);
    else if (!strcmp(cmd, "runs")) code = cmd_runs(argc - 1, argv + 1);
    else if (!strcmp(cmd, "findings")) code = cmd_findings(argc - 1, argv + 1);
    else if (!strcmp(cmd, "outbox")) code = cmd_outbox(argc - 1, argv + 1);
    else if (!strcmp(cmd, "daemon")) code = cmd_daemon(argc - 1, argv + 1);
    else code = usage_error("unknown command '%s'", cmd);
    store_shutdown();
    oauth_cleanup();
    aws_cleanup();
    http_global_cleanup();
    intern_free_all();
    return code;
}
