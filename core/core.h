/* Internal declarations shared by the core's files.  Plugins never see this:
 * their whole world is include/revops/revops.h. */
#ifndef REVOPS_CORE_H
#define REVOPS_CORE_H

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <revops/revops.h>

/* Exit codes (documented in revops(1)); the numbers follow sysexits.h. */
enum {
    EXIT_RUN_OK = 0,
    EXIT_RUN_FAILED = 1,      /* a pipeline failed */
    EXIT_DELIVERY_FAILED = 3, /* findings produced but some deliveries failed */
    EXIT_PARTIAL = 4,         /* findings rest on partial data: an input lost chunks or pages */
    EXIT_USAGE = 64,          /* EX_USAGE: bad command line */
    EXIT_DATAERR = 65,        /* EX_DATAERR: bad trigger payload */
    EXIT_NOINPUT = 66,        /* EX_NOINPUT: config file missing */
    EXIT_UNAVAILABLE = 69,    /* EX_UNAVAILABLE: `plugins` refused a file */
    EXIT_INTERRUPTED = 5,     /* stopped by SIGTERM/SIGINT between steps; nothing of it was delivered */
    EXIT_BUSY = 75,           /* EX_TEMPFAIL: the pipeline (or daemon) already runs on this state_dir */
    EXIT_CONFIG = 78          /* EX_CONFIG: invalid configuration */
};

/* ------------------------------------------------------------ util.c -- */
void oom(void) __attribute__((noreturn));   /* "out of memory", abort */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) REVOPS_PRINTF(1, 2);
char *xvasprintf(const char *fmt, va_list ap);

typedef struct strbuf { char *buf; size_t len, cap; } strbuf;
void sb_add(strbuf *sb, const char *s, size_t n);
void sb_puts(strbuf *sb, const char *s);
void sb_printf(strbuf *sb, const char *fmt, ...) REVOPS_PRINTF(2, 3);
char *sb_steal(strbuf *sb);
void sb_free(strbuf *sb);

/* "a/b.conf" + "x.db" -> "a/x.db"; absolute paths are returned as they are. */
char *path_relative_to(const char *base_file, const char *path);
double mono_now(void);
/* The file a libconfig setting came from, absolute and stable until
 * intern_free_all() (see util.c). */
const char *intern_source_file(const char *file, const char *config_path);
void intern_free_all(void);
void sleep_seconds(double s);
int make_dirs(const char *path);
struct json_object;
/* A JSON number printed with at most `decimals` decimals (NULL if not finite). */
struct json_object *json_number(double v, int decimals);
/* SHA-256 of data as 64 hex chars + NUL (OpenSSL EVP). */
void sha256_hex(const void *data, size_t len, char out[65]);
void sha256_raw(const void *data, size_t len, unsigned char out[32]);
/* s as a JSON string literal, quotes included (malloc'd). */
char *json_quote_string(const char *s);
/* json_object_new_string with printf formatting (json-c 0.16 has none). */
struct json_object *json_string_fmt(const char *fmt, ...) REVOPS_PRINTF(1, 2);

/* ------------------------------------------------------------- log.c -- */
typedef enum { LOG_FORMAT_TEXT, LOG_FORMAT_JSON } log_format;
void log_setup(revops_log_level level, log_format fmt);
revops_log_level log_level(void);
/* Context fields shown on every line (JSON) or as a prefix (text). */
void log_set_context(const char *session, const char *pipeline, const char *step);
/* This thread's context, to hand to a worker thread (pool.c). */
typedef struct log_context { char session[128], pipeline[128], step[32]; } log_context;
void log_context_save(log_context *out);
void log_context_restore(const log_context *in);
void log_msg(revops_log_level level, const char *who, const char *fmt, ...) REVOPS_PRINTF(3, 4);
void log_vmsg(revops_log_level level, const char *who, const char *fmt, va_list ap);
int log_level_parse(const char *s, revops_log_level *out);
/* Where lines go: stderr (the default) or syslog(3) with this facility;
 * "daemon", "user", "local0".."local7". */
void log_set_output(int to_syslog, int facility);
int log_facility_parse(const char *s, int *facility);
void log_after_fork(void);
/* Called with before=1 just before a line is written to stderr and with 0
 * just after (progress.c erases its status line and redraws it). */
void log_set_stderr_hook(void (*hook)(int before));
#define log_error(...) log_msg(REVOPS_LOG_ERROR, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(REVOPS_LOG_WARN, NULL, __VA_ARGS__)
#define log_info(...) log_msg(REVOPS_LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) log_msg(REVOPS_LOG_DEBUG, NULL, __VA_ARGS__)

/* ----------------------------------------------------------- retry.c -- */
typedef struct retry_policy {
    double interval;      /* first backoff ceiling, seconds (spec: 5) */
    double backoff_rate;  /* ceiling multiplier per attempt (spec: 2) */
    double max_interval;  /* cap on one wait */
    int max_attempts;     /* total tries including the first (spec: 3) */
} retry_policy;
extern const retry_policy retry_policy_default;
/* Full-jitter wait before try number `attempt` (1-based, > 1):
 * uniform in [0, min(cap, interval * rate^(attempt-2))]. */
double retry_delay(const retry_policy *p, int attempt);
void retry_seed(unsigned long long seed);

/* ------------------------------------------------------------ diag.c -- */
/* Configuration errors are collected, not thrown: check-config reports every
 * error at once, each as "file:line: message". */
typedef struct diag diag;
diag *diag_new(void);
void diag_add(diag *d, const char *file, int line, const char *fmt, ...) REVOPS_PRINTF(4, 5);
size_t diag_count(const diag *d);
void diag_print(const diag *d, FILE *out);
void diag_free(diag *d);

/* ------------------------------------------------------------ cron.c -- */
typedef struct cron_expr {
    unsigned long long minutes;  /* bit per minute 0..59 */
    unsigned int hours;          /* 0..23 */
    unsigned int mdays;          /* 1..31 */
    unsigned int months;         /* 1..12 */
    unsigned int wdays;          /* 0..6, Sunday = 0 */
    int mday_star, wday_star;    /* for the POSIX day-of-month OR day-of-week rule */
} cron_expr;
/* 0 on success; else -1 and a message in err. */
int cron_parse(const char *s, cron_expr *out, char *err, size_t errlen);
/* 0 when tz names a zone this machine has (NULL, "" and "UTC" are UTC);
 * else -1 and err names it. */
int cron_tz_check(const char *tz, char *err, size_t errlen);
/* The first fire instant strictly after `after`, in wall-clock time of zone
 * tz (NULL, "" or "UTC": UTC).  0, or -1 when the expression never fires
 * within 30 years or tz is not a zone (cron_tz_check says why).  Thread-safe;
 * see cron.c for the day rule and DST. */
int cron_next(const cron_expr *e, const char *tz, time_t after, time_t *next);
/* Once, before starting threads that may call getenv: an unset TZ becomes
 * the equivalent ":/etc/localtime", so cron_next never adds or removes it. */
void cron_tz_prepare(void);

/* --------------------------------------------------------- options.c -- */
#include <libconfig.h>

typedef struct opt_value {
    const revops_option_def *def;
    int is_set;           /* the user set it (else: default or unset) */
    int has_value;        /* is_set or has a default */
    int resolved;         /* a sensitive value's reference was resolved */
    char *str;            /* STRING, ENUM, DATE, PATH (resolved secret once opened) */
    int64_t i;
    double r;
    int b;
    char **list;
    size_t nlist;
    const char *file;     /* where it was set, for messages */
    int line;
} opt_value;

struct revops_options {
    size_t n;
    opt_value *v;
};

/* Validate `group` (may be NULL: only defaults) against `defs`.  Keys listed
 * in `reserved` belong to the caller.  `what` names the owner in messages
 * ("source 'warehouse' (plugin sqlite)").  Errors go to d. */
revops_options *options_from_config(const revops_option_def *defs, const config_setting_t *group,
                                    const char *const *reserved, const char *what,
                                    const char *config_path, diag *d);
void options_free(revops_options *o);
const opt_value *options_find(const revops_options *o, const char *name);
/* Resolve the sensitive options' references (env:, file:) in place. */
int options_resolve_secrets(revops_options *o, const char *what, char *err, size_t errlen);
const char *option_type_name(revops_option_type t);
/* Check a single option default against its definition (loader sanity check). */
int option_default_valid(const revops_option_def *def, char *err, size_t errlen);

/* ---------------------------------------------------------- secret.c -- */
/* "env:NAME", "file:/path" (refused when group/other may read it) or a
 * literal.  0 on success; -1 with a message that never contains the secret. */
int secret_resolve(const char *ref, char **out, char *err, size_t errlen);
int secret_is_reference(const char *value);
void secret_wipe_free(char *s);

/* ------------------------------------------------------------ date.c -- */
int64_t date_days(const char *iso);             /* INT64_MIN when invalid */
void date_format(int64_t days, char out[11]);
double clock_now(void);                         /* honours REVOPS_NOW */
/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS[Z]" (UTC) -> Unix seconds; -1 when
 * it is not a date. */
int utc_parse(const char *s, double *out);
void utc_format(double t, char out[21]);        /* "YYYY-MM-DDTHH:MM:SSZ" */

/* ---------------------------------------------------------- loader.c -- */
typedef struct plugin_entry {
    const revops_plugin *desc;
    char *path;
    void *handle;
} plugin_entry;

typedef struct plugin_set {
    plugin_entry *v;
    size_t n;
    char **refusals;   /* one sentence each, naming the file and the reason */
    size_t nrefusals;
} plugin_set;

/* Load every *.so of each directory in the colon-separated list. */
void loader_load_path(plugin_set *ps, const char *dirs);
const plugin_entry *plugin_find(const plugin_set *ps, revops_kind kind, const char *name);
void plugin_set_free(plugin_set *ps);
const char *kind_name(revops_kind k);
/* The directories to search: config's plugin_dir, else $REVOPS_PLUGIN_PATH,
 * else the installed default. */
const char *plugin_search_path(const char *config_plugin_dir);

/* -------------------------------------------------------- classify.c -- */
/* The spec's data classes, least to most sensitive. */
typedef enum data_class { CLASS_PUBLIC, CLASS_INTERNAL, CLASS_CONFIDENTIAL, CLASS_RESTRICTED, CLASS_COUNT } data_class;
extern const char *const data_class_names[CLASS_COUNT + 1];
typedef struct class_policy {
    int can_embed;             /* may be sent to a model */
    int64_t retention_days;    /* how long the state store keeps it */
    int needs_anonymization;   /* pseudonymised (keyed HMAC) before a model sees it */
} class_policy;
/* The parts of a finding that can go to a model, each with its class. */
enum { FF_ACCOUNT_ID, FF_ACCOUNT_NAME, FF_OPPORTUNITY_ID, FF_TEXT, FF_EVIDENCE, FF_COUNT };
extern const char *const finding_field_names[FF_COUNT + 1];
typedef struct classification {
    int configured;            /* the config has a classification group */
    data_class default_class;  /* what an unclassified field is */
    class_policy policy[CLASS_COUNT];
    char *key_ref;             /* HMAC key reference (env:, file:, ...); NULL: a random key per session */
    data_class finding_class[FF_COUNT];
} classification;
typedef struct field_class { char *name; data_class cls; } field_class;

typedef struct privacy privacy;
struct revops_config;
privacy *privacy_new(const classification *cl, char *err, size_t errlen);
void privacy_free(privacy *p);
int class_embeddable(const classification *cl, data_class c);
/* The pseudonym of raw ("ANON_" + 12 hex), remembered for restore and scrub. */
const char *privacy_pseudonym(privacy *p, const char *raw);
/* A value that was withheld: scrubbed as "[REDACTED]" from later text. */
void privacy_withhold(privacy *p, const char *raw);
size_t privacy_known(const privacy *p);
char *privacy_scrub(privacy *p, const char *text);
/* What the session knows is versioned: privacy_scrub_at scrubs as the
 * session stood at privacy_version() == version (narrative batches prepared
 * ahead, sent in parallel).  After privacy_freeze, and while nothing new is
 * learnt, privacy_scrub_at only reads and may run on several threads. */
size_t privacy_version(const privacy *p);
void privacy_freeze(privacy *p);
char *privacy_scrub_at(const privacy *p, const char *text, size_t version);
char *privacy_restore(const privacy *p, const char *text, int json_escape);
void privacy_note_sent(privacy *p, data_class c);
data_class privacy_highest_sent(const privacy *p);

/* The outbox's policy (top-level `delivery`). */
typedef struct delivery_policy {
    double suppress_days;      /* a delivered, still-open finding is not re-sent for this long */
    int retry_runs;            /* runs a RETRYing delivery is tried before it is marked failed; 0: forever */
    double retry_backoff;      /* seconds before it is due again, doubled per run ... */
    double retry_backoff_max;  /* ... up to this */
} delivery_policy;

/* Controlled parallelism (the spec's "3 batches, 5 concurrent per batch"):
 * the work items of one fan-out (a pipeline's inputs, its narrative batches)
 * are split into `batches` contiguous batches that run at the same time,
 * each with up to `concurrency` items in flight: at most batches x
 * concurrency at once.  1 x 1 is a sequential run. */
typedef struct parallelism {
    int batches;
    int concurrency;
} parallelism;

/* What the daemon does about fire times it missed while it was down. */
typedef enum { MISSED_SKIP, MISSED_RUN_ONCE } missed_policy;

/* Top-level `daemon { ... }` (config_daemon.c). */
typedef struct conf_daemon {
    char *timezone;            /* default zone of every schedule; NULL: UTC */
    missed_policy missed;
    char *listen;              /* "127.0.0.1:9464" for /healthz and /metrics; NULL: off */
    int max_running;           /* pipelines running at once */
    double shutdown_grace;     /* seconds SIGTERM waits for running pipelines' current step */
} conf_daemon;

typedef enum { LOG_TO_STDERR, LOG_TO_SYSLOG } log_output;

/* ------------------------------------------------------------ pool.c -- */
/* fn(arg, i) for every i in [0, n): the items in par->batches contiguous
 * batches running at the same time, each with up to par->concurrency in
 * flight; returns when all are done, with the peak number in flight.  A
 * bound of 1 or n <= 1 runs inline on the caller's thread.  Workers log
 * under the caller's log context. */
size_t pool_map(const parallelism *par, size_t n, void (*fn)(void *arg, size_t i), void *arg);
size_t pool_bound(const parallelism *par);   /* batches x concurrency */

/* ---------------------------------------------------------- config.c -- */
typedef struct conf_instance {
    char *name;                /* the setting's name: sources.<name> / actions.<name> */
    revops_kind kind;
    const plugin_entry *plugin;
    revops_options *opts;
    size_t rows_per_chunk;     /* sources */
    size_t max_chunk_bytes;    /* sources; 0: no budget */
    field_class *fields;       /* sources: the class of each named field (column) */
    int outbox;                /* actions: deliver through the outbox (exactly once) */
    size_t batch;              /* actions: findings per deliver call; 0: all routed */
    size_t nfields;
    const char *file;
    int line;
} conf_instance;

typedef struct conf_input {
    char *name;                /* the analysis input */
    conf_instance *source;
    char *query;               /* the source dialect's text, ${option}s not yet rendered */
    int64_t row_limit;
    const char *query_file;    /* where that text was written, for messages */
    int query_line;
} conf_input;

typedef struct conf_route {
    conf_instance *action;
    unsigned priorities;       /* bit per revops_priority */
    double min_score;
    unsigned analyses;         /* bit per A1..A6; 0: any */
    char **owners;             /* the finding's owner is one of these ("@domain": any at it); none: any */
    size_t nowners;
} conf_route;

typedef struct conf_pipeline {
    char *name;
    char *analysis_type;       /* "A1".."A6" */
    const plugin_entry *analysis;
    revops_options *analysis_opts;
    conf_input *inputs;        /* in the analysis' declared order */
    size_t ninputs;
    conf_route *routes;
    size_t nroutes;
    char *schedule;            /* cron, may be NULL */
    char *timezone;            /* the schedule's zone; NULL: daemon.timezone */
    missed_policy missed;      /* daemon.missed unless set here */
    parallelism parallel;      /* top-level parallelism unless set here */
    int64_t max_opportunities; /* 0: unlimited */
    retry_policy retry;
    double timeout;            /* seconds */
    conf_instance *narrate_model;  /* narrate = { model = ...; }: NULL for deterministic text only */
    size_t narrate_batch;      /* findings per model call */
    int agent;                 /* run the data agent (top-level `agent`) before narrating */
    int64_t model_budget;      /* tokens per run, agent and narrative together */
    const char *file;
    int line;
} conf_pipeline;

/* The data agent's bounds (top-level `agent`, used by `revops ask` and by
 * pipelines with agent = true). */
typedef struct conf_agent {
    conf_instance *model;      /* NULL: no agent configured */
    int max_steps;             /* model turns */
    int64_t max_tokens;        /* token budget of one `revops ask` */
    size_t row_cap;            /* rows of one tool result the model sees */
    double tool_timeout;       /* seconds one tool call may take */
    size_t kb_passages;        /* knowledge base passages in the prompt */
    conf_instance **sources;   /* whose tools are offered (all with tools when not set) */
    size_t nsources;
    int keep_transcripts;      /* write what was sent to state_dir/transcripts */
    const char *file;
    int line;
} conf_agent;

typedef struct revops_config {
    char *path;
    char *plugin_dir;          /* as configured (resolved), may be NULL */
    char *state_dir;
    revops_log_level log_level;
    log_format log_format;
    retry_policy retry;
    double timeout;
    char *ca_file, *ca_path, *proxy;
    double connect_timeout, http_timeout;
    conf_instance *sources;
    size_t nsources;
    conf_instance *actions;
    size_t nactions;
    conf_pipeline *pipelines;
    size_t npipelines;
    plugin_set plugins;
    config_t *cfg_keep;        /* owns the file names settings point to */
    const config_setting_t *queries;  /* top-level named queries, while loading */
    const config_setting_t *library;  /* query_library's named queries, while loading */
    config_t *library_cfg;     /* the query_library file, while loading */
    char *kb_path;             /* knowledge_base: a directory of *.md or one file */
    conf_instance *models;     /* model provider instances */
    size_t nmodels;
    classification classes;
    conf_agent agent;
    int64_t model_budget;      /* default tokens per pipeline run */
    delivery_policy delivery;  /* the outbox's suppression and retry across runs */
    parallelism parallel;      /* default for every pipeline */
    conf_daemon daemon;
    log_output log_output;
    int log_facility;          /* syslog facility (LOG_DAEMON ...) */
} revops_config;

/* config.c's typed lookups, shared with config_model.c. */
#define S_FILE(s, c) intern_source_file(config_setting_source_file(s), (c)->path)
#define S_LINE(s) ((int)config_setting_source_line(s))
void check_keys(const revops_config *c, const config_setting_t *g, const char *const *allowed, const char *what, diag *d);
const config_setting_t *member(const revops_config *c, const config_setting_t *g, const char *key, int type, int required,
                               const char *what, diag *d);
int enum_pick(const revops_config *c, const config_setting_t *s, const char *const *values, const char *what,
              const char *key, diag *d);
void read_number(const revops_config *c, const config_setting_t *g, const char *key, double lo, double hi, double *out,
                 const char *what, diag *d);
char *string_setting(revops_config *c, const config_setting_t *g, const char *key, const char *what, diag *d, int is_path);
int valid_instance_name(const char *s);
conf_instance *config_model(revops_config *c, const char *name);
/* config_model.c: classification, a source's fields, agent, a pipeline's narrate/agent. */
void config_read_classification(revops_config *c, const config_setting_t *root, diag *d);
void config_read_fields(revops_config *c, conf_instance *ci, const config_setting_t *g, const char *what, diag *d);
void config_read_agent(revops_config *c, const config_setting_t *root, diag *d);
void config_read_pipeline_model(revops_config *c, conf_pipeline *p, const config_setting_t *s, const char *what, diag *d);
/* config_daemon.c: `daemon`, `parallelism`, log output; a pipeline's
 * timezone, missed and parallelism (after its schedule was read). */
void config_read_daemon(revops_config *c, const config_setting_t *root, diag *d);
void config_read_pipeline_sched(revops_config *c, conf_pipeline *p, const config_setting_t *s, const char *what, diag *d);
void config_free_daemon(revops_config *c);
int listen_parse(const char *s, char *host, size_t hostlen, int *port, char *err, size_t errlen);
void config_model_free(revops_config *c);
/* classify.c, needing the config: */
data_class source_field_class(const revops_config *c, const conf_instance *src, const char *column);
int retention_prune(const revops_config *c, double now);

/* Read, load plugins, validate.  Returns NULL with every problem in d
 * (and exit code EXIT_CONFIG / EXIT_NOINPUT in *exit_code). */
revops_config *config_load(const char *path, diag *d, int *exit_code);
void config_free(revops_config *c);
conf_pipeline *config_pipeline(revops_config *c, const char *name);
conf_instance *config_source(revops_config *c, const char *name);
/* Only the plugin_dir setting, for `revops plugins -c FILE` (NULL if none). */
char *config_read_plugin_dir(const char *path);

/* -------------------------------------------------------------- kb.c -- */
/* The schema knowledge base: markdown passages ranked with BM25. */
typedef struct kb kb;
typedef struct kb_hit {
    const char *file;      /* owned by the kb */
    int line;
    const char *heading;   /* "Table x > Columns of x" */
    const char *text;
    double score;
} kb_hit;
/* A directory of *.md (sorted by name) or one file; NULL + err. */
kb *kb_load(const char *path, char *err, size_t errlen);
/* Cheap: path exists and holds at least one markdown document; 0 or -1 + err. */
int kb_check(const char *path, char *err, size_t errlen);
size_t kb_size(const kb *k);
/* The best `max` passages for query, best first (ties: file, line). */
size_t kb_search(const kb *k, const char *query, size_t max, kb_hit *out);
void kb_free(kb *k);

/* ----------------------------------------------------------- query.c -- */
/* The SQL dialect a source plugin declares (ABI >= 1.2), else NULL. */
const char *source_dialect(const plugin_entry *pe);
/* Replace ${NAME} with analysis option NAME as an SQL literal ("$${" is a
 * literal "${"); an unset DATE option is the date of `now`.  0, or -1 + err. */
int query_render(const char *text, const revops_options *opts, double now, char **out, char *err, size_t errlen);

/* ------------------------------------------------------------ host.c -- */
struct revops_instance {
    revops_kind kind;
    const char *plugin;          /* plugin name */
    int abi_minor;               /* the plugin's: 1.N fields of its structs are read only when >= N */
    const char *name;            /* instance name (pipeline name for analyses) */
    char label[192];             /* "kind:plugin:instance" */
    char error[1024];            /* last host->error() text */
    double deadline;             /* mono_now() seconds; 0: none */
    const retry_policy *retry;
    const revops_config *cfg;
    void *ctx;                   /* what open/init returned */
    size_t http_requests, http_retries;
    char resp_headers[8192];     /* the last HTTP response's headers, "Name: value\n" */
    char header_value[1024];     /* what http_header last returned */
};
void instance_init(revops_instance *in, revops_kind kind, const char *plugin, const char *name,
                   const revops_config *cfg, const retry_policy *retry);
extern const revops_host host_services;
/* Take ownership of a finding emitted through host->emit_finding. */
struct revops_emitter {
    revops_finding **v;
    size_t n, cap;
    const char *analysis;        /* the pipeline's analysis type, enforced */
    int abi_minor;               /* the analysis plugin's: fields it cannot know are not read */
    char error[512];
};

/* ---------------------------------------------------------- finding.c -- */
revops_finding *finding_copy(const revops_finding *f);
/* The finding finding_to_json wrote (the outbox keeps it), or NULL with err. */
revops_finding *finding_from_json(const char *json, char *err, size_t n);
/* "low".."critical" -> its revops_priority, -1 for anything else. */
int priority_from_name(const char *name);
void finding_free(revops_finding *f);
/* The narrative fields (the core's own allocations) freed and emptied. */
void finding_clear_narrative(revops_finding *f);
void finding_fingerprint(revops_finding *f);
/* Check a plugin's finding before the core accepts it; 0 or -1 + err. */
int finding_validate(const revops_finding *f, const char *analysis, char *err, size_t errlen);
struct json_object;
struct json_object *finding_to_json(const revops_finding *f);
char *finding_json_string(const revops_finding *f);
/* Order: priority desc, score desc, account id, fingerprint. */
int finding_cmp(const void *a, const void *b);

/* ----------------------------------------------------------- stream.c -- */
typedef revops_status (*chunk_cb)(void *data, const revops_chunk *chunk);
typedef struct stream_stats { int64_t rows; size_t chunks; double process_seconds; } stream_stats;
revops_stream *stream_new(const char *dataset, const char *source, size_t rows_per_chunk,
                          const char *required_columns, chunk_cb cb, void *cb_data);
/* Before a retried fetch: rows already taken will be skipped. */
void stream_restart(revops_stream *s);
/* After fetch returned OK: deliver the last chunk. */
revops_status stream_finish(revops_stream *s);
const char *stream_error(const revops_stream *s);
int stream_failed(const revops_stream *s);
void stream_set_max_bytes(revops_stream *s, size_t max_bytes);
revops_status stream_finish_partial(revops_stream *s);
stream_stats stream_get_stats(const revops_stream *s);
void stream_free(revops_stream *s);
/* The host services sources call (host->stream_*). */
revops_status stream_columns_impl(revops_stream *s, size_t n, const revops_column *cols);
revops_status stream_row_impl(revops_stream *s, const revops_value *cells);
void stream_total_impl(revops_stream *s, int64_t total);
/* The spec's chunk JSON; for an error pass chunk == NULL and error text. */
struct json_object *chunk_to_json(const revops_chunk *c, const char *error, const char *query, const char *source);

/* ------------------------------------------------------------ http.c -- */
revops_status http_request(revops_instance *self, const revops_http_request *req, revops_http_response *resp);
revops_status http_json_stream(revops_instance *self, const revops_http_request *req, const char *array_member,
                               revops_json_member_fn fn, void *data, revops_http_response *resp);
void http_response_free(revops_http_response *resp);
const char *http_last_header(revops_instance *self, const char *name);
/* Headers built afresh before each attempt (AWS signatures carry the time);
 * NULL + err stops with ERROR. */
struct curl_slist;
typedef struct curl_slist *(*http_headers_fn)(void *data, char *err, size_t errlen);
revops_status http_request_signed(revops_instance *self, const revops_http_request *req, revops_http_response *resp,
                                  http_headers_fn hfn, void *hdata);
void http_global_init(void);
void http_global_cleanup(void);

/* ------------------------------------------------------------- run.c -- */
/* Action instances opened once for several pipeline runs (one `revops run`
 * invocation), so an action sees every pipeline's batch before close — a
 * report becomes one digest, a connection is reused. */
typedef struct pooled_action {
    int opened;
    revops_instance in;
} pooled_action;
typedef struct action_pool {
    pooled_action *v;              /* indexed like cfg->actions */
    size_t n;
} action_pool;
void action_pool_init(action_pool *pool, const revops_config *c);
void action_pool_close(action_pool *pool, const revops_config *c);

typedef struct run_options {
    const char *session_id;
    const char *trigger;           /* "manual", "scheduled", ... */
    int dry_run;
    int64_t max_opportunities;     /* -1: the pipeline's own */
    action_pool *pool;             /* NULL: open and close actions per run */
    const char *target;            /* the trigger's target and context, for the data agent */
    const char *context;
} run_options;

typedef struct input_stats {
    const char *name, *source;
    int64_t rows;
    size_t chunks;
    int attempts;
    int partial;                   /* the source failed after rows had arrived */
    char lost[512];                /* what was lost and why */
} input_stats;

typedef struct action_stats {
    const char *name;
    size_t routed, delivered, failed, retried;
    size_t to_deliver;         /* handed to the action this run (outbox: new, re-alerts, earlier runs' due) */
    size_t suppressed;         /* outbox: delivered before, still open, not sent again */
    size_t from_earlier;       /* outbox: earlier runs' undelivered, delivered again now */
    size_t deferred;           /* outbox: of failed, kept pending for a later run */
    size_t held;               /* outbox: failed for good earlier (not retried) */
    char last_error[256];
} action_stats;

enum { STEP_GATHER, STEP_PROCESS, STEP_ANALYSE, STEP_ACT, STEP_LOG, STEP_COUNT };
extern const char *const step_names[STEP_COUNT];

typedef struct run_result {
    const char *pipeline, *analysis;
    char session_id[128];
    const char *trigger;
    const char *status;            /* "ok", "partial", "delivery_failed", "failed" */
    int partial;
    int interrupted;               /* stopped by a signal between steps */
    char error[1024];
    int dry_run;
    double started_at, seconds;
    double step_seconds[STEP_COUNT];
    input_stats *inputs;
    size_t ninputs;
    revops_finding **findings;     /* sorted, capped at max_opportunities */
    size_t nfindings;
    size_t findings_total;         /* before the cap */
    size_t by_priority[4];
    action_stats *actions;
    size_t nactions;
    struct json_object *model;     /* the model step's record (agent, narrative, tokens); NULL without a model */
    size_t narrated;               /* findings with a model narrative */
    parallelism parallel;          /* the bound this run used */
    size_t peak_sources, peak_narrative;  /* most items in flight in each fan-out */
} run_result;

/* Open a source, action or model instance: secrets resolved, open retried
 * on RETRY within the deadline; 0, or -1 + err naming the instance. */
int instance_open(const revops_config *cfg, const retry_policy *rp, double deadline, conf_instance *ci, revops_instance *in,
                  char *err, size_t errlen);
int run_pipeline(revops_config *c, conf_pipeline *p, const run_options *o, run_result *r);
/* From a signal handler: the run finishes the step it is in, records itself
 * as "interrupted" and returns; the outbox stays as the last commit left it. */
void run_request_stop(void);
int run_stop_requested(void);
void run_result_free(run_result *r);
void run_record_append(const revops_config *c, struct json_object *rec);
struct json_object *run_result_json(const run_result *r, int with_findings);
void run_result_print(const run_result *r, const char *format, FILE *out);
void session_id_default(char *out, size_t n);
int source_query(revops_config *c, conf_instance *src, const char *dataset, const char *query, int64_t row_limit,
                 size_t rows_per_chunk, chunk_cb cb, void *cb_data, char *err, size_t errlen);

/* --------------------------------------------------------- metrics.c -- */
/* The daemon's metrics registry (single-threaded: the daemon's own process). */
void metrics_reset(void);                                   /* empty registry; daemon start */
void metrics_observe_run(struct json_object *record);       /* one finished run: run_result_json(r, 0) */
/* Gauges from the scheduler: next fire (Unix seconds, 0: none), run in progress. */
void metrics_set_pipeline(const char *pipeline, double next_fire_unix, int running);
/* +1 on a daemon event counter declared in metrics.c's table:
 * ("revops_config_reloads_total", "result", "ok"|"failed"),
 * ("revops_scheduled_skips_total", "pipeline", p), ("revops_missed_fires_total", "pipeline", p). */
void metrics_inc(const char *name, const char *label_name, const char *label_value);
void metrics_add(const char *name, const char *label_name, const char *label_value, double n);  /* += n */
char *metrics_render(void);                                 /* Prometheus text format 0.0.4, malloc'd */

/* ----------------------------------------------------------- httpd.c -- */
/* GET|HEAD /healthz and /metrics over libmicrohttpd, external polling, no thread. */
typedef struct httpd httpd;
/* listen: "127.0.0.1:9464", "[::1]:9464", "9464" (loopback); port 0: any free
 * port.  health returns a malloc'd JSON body and sets *status (preset 200).
 * NULL + err naming the address on failure. */
httpd *httpd_start(const char *listen, char *(*health)(void *arg, int *status), void *arg, char *err, size_t errlen);
int httpd_port(const httpd *h);           /* the bound port */
int httpd_fd(const httpd *h);             /* poll(2) it for POLLIN, then httpd_run() */
int httpd_timeout_ms(const httpd *h);     /* call httpd_run() within this (idle connections' timeouts); -1: no need */
void httpd_run(httpd *h);
void httpd_close_after_fork(httpd *h);    /* in a forked child: drop the fds, touch nothing the parent serves */
void httpd_stop(httpd *h);

/* -------------------------------------------------------- progress.c -- */
/* The status line of `revops run`/`trigger` on a terminal.  Active only
 * when wanted (no --no-progress, log.format text), stderr is a terminal and
 * TERM is set and not "dumb"; returns whether it is.  Every other call does
 * nothing when inactive.  Call from the run's thread. */
int progress_setup(int wanted);
void progress_step(const char *pipeline, const char *step);    /* starts the pipeline's line if needed */
void progress_input(const char *pipeline, const char *input);  /* gather: this input is being read */
void progress_chunk(const revops_chunk *c);
void progress_action(const char *action, size_t delivered, size_t failed, size_t to_deliver);
void progress_finish(const run_result *r);                     /* the line that stays */

/* ----------------------------------------------------- json_schema.c -- */
/* Check value against a JSON Schema (our subset; see json_schema.c). */
int json_schema_check(const char *schema_text, struct json_object *value, char *err, size_t errlen);

/* ----------------------------------------------------------- model.c -- */
/* A conversation the core owns: deep copies of every block. */
typedef struct convo { revops_message *msgs; size_t n, cap; } convo;
void convo_add(convo *cv, revops_role role, const revops_block *blocks, size_t n);
void convo_add_text(convo *cv, revops_role role, const char *text);
void convo_free(convo *cv);
void convo_scrub(convo *cv, privacy *pv);
void convo_scrub_at(convo *cv, const privacy *pv, size_t version);
/* A token budget shared by sessions calling at once (model.c says how). */
typedef struct model_ledger model_ledger;
model_ledger *model_ledger_new(int64_t budget, int64_t used);
void model_ledger_free(model_ledger *l);
const char *stop_reason_name(revops_stop_reason s);
typedef struct model_session {
    revops_config *cfg;
    conf_instance *model;
    revops_instance in;
    int opened;
    int64_t budget;            /* tokens (input + output); 0: none */
    int64_t tokens_in, tokens_out;
    size_t calls;
    int budget_stop;           /* a call was refused: the budget was spent */
    struct json_object *calls_log;
    char model_name[128];      /* as the provider named it */
    model_ledger *ledger;      /* set: the budget is this shared one, not `budget` */
} model_session;
int model_open(model_session *ms, revops_config *c, conf_instance *m, int64_t budget, double deadline,
               const retry_policy *rp, char *err, size_t errlen);
/* One turn; refused (ERROR, budget_stop) once the budget is spent; the
 * reply's max_tokens is cut to what is left.  Errors in ms->in.error. */
revops_status model_call(model_session *ms, const char *purpose, const revops_model_request *req, revops_model_reply *reply);
int64_t model_tokens(const model_session *ms);
int model_budget_spent(const model_session *ms);
struct json_object *model_session_json(const model_session *ms);
void model_close(model_session *ms);

/* ----------------------------------------------------------- agent.c -- */
typedef struct agent_result {
    char *answer;              /* de-anonymised; NULL when the agent stopped without one */
    const char *stop;          /* answer, answer_cut_at_max_tokens, max_steps, budget, deadline, model_error */
    int steps;                 /* model turns taken */
    struct json_object *tool_calls;   /* one record per call: step, tool, source, status, rows, result_bytes, ... */
    struct json_object *record;       /* kb_passages used, and the above once agent_result_json is called */
    char error[1024];
} agent_result;
/* 0 with an answer, -1 without (r->stop and r->error say why). */
int agent_run(revops_config *c, model_session *ms, privacy *pv, const char *task, const char *session_id, double deadline,
              agent_result *r);
struct json_object *agent_result_json(const agent_result *r);
void agent_result_free(agent_result *r);
void transcript_write(const revops_config *c, const char *session_id, const char *purpose, const char *system,
                      const convo *cv, const privacy *pv);

/* ---------------------------------------------------------- narrate.c -- */
/* Narrate n findings in batches; 0 when every one got a narrative.  The
 * batches are sent par->batches x par->concurrency at once, each worker on
 * its own model instance; the outcome is merged in batch order.  The
 * record gets batches, narrated, repaired_batches, invalid_batches, notes,
 * peak_in_flight. */
int narrate_findings(revops_config *c, model_session *ms, privacy *pv, revops_finding **f, size_t n, size_t batch,
                     const char *agent_notes, const char *session_id, const parallelism *par, struct json_object *record);
const char *narrative_schema(void);

/* ------------------------------------------------------------- ask.c -- */
typedef struct ask_options {
    const char *question;
    const char *model;         /* NULL: agent.model */
    const char *session_id;    /* NULL: ask_YYYYMMDD_HHMMSS */
    int max_steps;             /* 0: agent.max_steps */
    int json;
} ask_options;
int ask_run(revops_config *c, const ask_options *o);

/* --------------------------------------------------------- trigger.c -- */
typedef struct trigger_payload {
    char trigger_type[64];
    char analysis_type[8];
    int64_t max_opportunities;     /* -1 when absent */
    char session_id[128];          /* "" when absent */
    char target[256];
    char context[512];
} trigger_payload;
/* Parse and validate the spec's EventBridge payload; 0, or -1 + err. */
int trigger_parse(const char *text, size_t len, trigger_payload *out, char *err, size_t errlen);
int session_id_valid(const char *s);

/* ------------------------------------------------------- json_scan.c -- */
typedef struct json_scan json_scan;
typedef revops_status (*json_member_fn)(void *data, const char *member, revops_json *value);
json_scan *json_scan_new(const char *array_member, json_member_fn fn, void *data);
/* 0 ok; -1 invalid JSON or the callback stopped (see json_scan_error/status). */
int json_scan_feed(json_scan *s, const char *p, size_t n);
int json_scan_finish(json_scan *s);   /* -1 when the document is incomplete */
const char *json_scan_error(const json_scan *s);
revops_status json_scan_status(const json_scan *s);  /* what the callback returned, OK if it never stopped */
size_t json_scan_elements(const json_scan *s);
void json_scan_free(json_scan *s);

/* ----------------------------------------------------------- oauth.c -- */
revops_status oauth_token(revops_instance *self, const revops_oauth_request *req, const char **token);
void oauth_invalidate(revops_instance *self, const revops_oauth_request *req);
const char *oauth_token_field(revops_instance *self, const revops_oauth_request *req, const char *field);
void oauth_cleanup(void);
char *url_encode(const char *s);

/* ----------------------------------------------------------- sigv4.c -- */
typedef struct aws_credentials { const char *access_key_id, *secret_access_key, *session_token; } aws_credentials;
typedef struct sigv4_request {
    const char *method;
    const char *path;           /* as it goes on the wire (may hold %XX) */
    const char *query;          /* after '?', as sent; NULL or "" for none */
    const char *const *headers; /* NULL-terminated "Name:value", request order, duplicates allowed */
    const void *body;
    size_t body_len;
    const char *region, *service;
    const char *amz_date;       /* "20150830T123600Z" */
    int s3;                     /* S3 rules: no normalisation, no second encoding */
} sigv4_request;
typedef struct sigv4_result {
    char *canonical_request, *string_to_sign, *signed_headers, *signature, *authorization;
} sigv4_result;
int sigv4_sign(const sigv4_request *r, const aws_credentials *c, sigv4_result *out, char *err, size_t errlen);
void sigv4_result_free(sigv4_result *out);

/* ------------------------------------------------------------- aws.c -- */
void aws_configure(const char *region, const char *secretsmanager_endpoint);
const char *aws_region(void);
int aws_credentials_env(aws_credentials *c);
void aws_amz_date(char out[17]);
revops_status aws_json_call(revops_instance *self, const char *endpoint, const char *service, const char *region,
                            const char *target, const char *content_type, const char *body, revops_http_response *resp,
                            char *err, size_t errlen);
/* Any request signed with SigV4 (every attempt afresh); credentials from the
 * environment, else the shared credentials file's profile (NULL: AWS_PROFILE
 * or "default"); region NULL: aws.region / AWS_REGION. */
revops_status aws_http(revops_instance *self, const revops_http_request *req, const char *service, const char *region,
                       const char *profile, revops_http_response *resp, char *err, size_t errlen);
int aws_secret_resolve(const char *spec, char **out, char *err, size_t errlen);
void aws_cleanup(void);

/* ---------------------------------------------------------- crypto.c -- */
char *base64_encode(const void *data, size_t len, int url);
void hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len, char out[65]);

/* ------------------------------------------------------------ mail.c -- */
revops_status mail_send(revops_instance *self, const revops_mail *m);

/* -------------------------------------------------------- template.c -- */
extern const char *const template_placeholders[];
/* Every {{placeholder}} known and closed; 0 or -1 + err. */
int template_check(const char *t, char *err, size_t errlen);
char *template_render(const char *t, const revops_finding *f, const revops_batch *b, revops_escape esc, size_t max_value);
revops_status sign_rs256(revops_instance *self, const char *pem, const void *data, size_t len, char **b64url_signature);


/* ----------------------------------------------------------- sched.c -- */
typedef struct sched_fire {
    size_t entry;                /* index in sched.v */
    time_t scheduled;            /* the fire time this stands for */
    int catch_up;                /* the missed = run_once fire at start */
    unsigned long missed;        /* fire times folded into this one */
    int busy;                    /* skipped: the pipeline is running or waiting */
} sched_fire;
typedef struct sched_entry {
    char *pipeline, *cron, *tz;
    cron_expr expr;
    missed_policy missed;
    time_t next;                 /* next fire; 0: never */
    time_t last_fire;            /* scheduled time of the last fire; 0: none */
    int catch_up;                /* missed = run_once found missed fires: fire at once */
    unsigned long missed_count;  /* fires missed while the daemon was down */
    time_t missed_latest;
    int running, waiting;        /* set by the daemon: a run in progress / waiting for a slot */
    unsigned long skipped;       /* fires skipped because the pipeline was busy */
    unsigned long runs;          /* runs started (the daemon counts) */
    sched_fire waiting_fire;     /* the fire a waiting entry will start with */
    int counted;                 /* missed_count went into the metrics */
} sched_entry;
typedef struct sched {
    sched_entry *v;
    size_t n;
} sched;
/* last_fire from the state store (0: none); missed runs are counted and
 * handled by policy.  -1 + err for a bad expression or zone. */
int sched_add(sched *s, const char *pipeline, const char *cron, const char *tz, missed_policy missed, time_t last_fire,
              time_t now, char *err, size_t n);
/* The fires due at `now` (malloc'd array in *out), entries advanced. */
size_t sched_due(sched *s, time_t now, sched_fire **out);
time_t sched_next_wake(const sched *s);   /* earliest next fire; 0: none */
sched_entry *sched_find(sched *s, const char *pipeline);
/* After a reload: keep running/skipped/last fire of every pipeline, and
 * the next fire of those whose schedule and zone did not change. */
void sched_carry(sched *to, const sched *from);
void sched_free(sched *s);

/* ------------------------------------------------------------ lock.c -- */
/* An exclusive flock on state_dir/name: the fd (keep it open to hold the
 * lock), or -1 with err naming the file and *holder the pid holding it
 * (0 when unknown).  wait: block until it is free. */
int state_lock(const char *state_dir, const char *name, int wait, long *holder, char *err, size_t n);
/* The run lock of one pipeline (state_dir/run-PIPELINE.lock), taken by every
 * run and by `outbox --deliver`; -1 + err naming the holder when held. */
int pipeline_lock(const revops_config *c, const char *pipeline, char *err, size_t n);
void state_unlock(int fd);

/* ----------------------------------------------------------- store.c -- */
/* state_dir/state.db (SQLite, WAL): findings, the outbox, runs, sink state.
 * One connection per process, opened on first use. */
#include <sqlite3.h>
typedef struct store store;
store *store_get(const revops_config *c, char *err, size_t n);
void store_shutdown(void);
const char *store_path(const store *s);
sqlite3 *store_db(store *s);
int store_begin(store *s, char *err, size_t n);     /* BEGIN IMMEDIATE */
int store_commit(store *s, char *err, size_t n);    /* rolls back when it fails */
void store_rollback(store *s);
sqlite3_stmt *store_prepare(store *s, const char *sql, char *err, size_t n);
void store_error(store *s, char *err, size_t n);
char *store_kv_get(const revops_config *c, const char *action, const char *key, char *err, size_t n);
int store_kv_put(const revops_config *c, const char *action, const char *key, const char *value, char *err, size_t n);

/* ---------------------------------------------------------- outbox.c -- */
typedef struct outbox_item {
    const revops_finding *f;   /* this run's finding, or owned */
    revops_finding *owned;     /* rebuilt from the store (an earlier run's pending delivery) */
    char delivery_id[33];
    int occurrence;
    int attempts;              /* runs that tried it before this one */
} outbox_item;
typedef struct outbox_items {
    outbox_item *v;
    size_t n, cap;
} outbox_items;
typedef struct outbox_counts {
    size_t fresh;              /* first alerts and re-alerts queued now */
    size_t realerted;          /* of which re-alerts (window passed, priority rose, reopened) */
    size_t pending_again;      /* undelivered from an earlier run, found again now */
    size_t from_earlier;       /* undelivered from an earlier run, due, not found now */
    size_t suppressed;         /* delivered before and still open */
    size_t held;               /* failed for good earlier: `revops outbox --requeue` */
    size_t unreadable;         /* stored finding could not be rebuilt (reported) */
} outbox_counts;
void outbox_delivery_id(const char *fingerprint, const char *action, int occurrence, char out[33]);
int outbox_record_findings(store *s, const char *run_uid, const char *session, const char *pipeline,
                           revops_finding *const *f, size_t nf, char *err, size_t n);
int outbox_close_missing(store *s, const char *pipeline, const char *run_uid, size_t *closed, char *err, size_t n);
int outbox_enqueue(store *s, const delivery_policy *pol, const char *session, const char *pipeline, const char *action,
                   const revops_finding *const *routed, size_t nrouted, outbox_items *out, outbox_counts *cnt,
                   char *err, size_t n);
int outbox_mark(store *s, const delivery_policy *pol, const outbox_item *it, const char *session, revops_status status,
                const char *why, int *gave_up, char *err, size_t n);
int outbox_requeue(store *s, const char *action, size_t *count, char *err, size_t n);
void outbox_items_free(outbox_items *o);

/* ------------------------------------------------------- state_cmd.c -- */
int runs_store_record(const revops_config *c, const run_result *r, struct json_object *record, char *err, size_t n); /* run.c */
int outbox_deliver_due(revops_config *c, store *st, const char *only_action, int dry_run);  /* run.c */
int cmd_runs(int argc, char **argv);
int cmd_findings(int argc, char **argv);
int cmd_outbox(int argc, char **argv);
/* main.c's helpers for sub-commands in other files. */
int cli_usage_error(const char *fmt, ...) REVOPS_PRINTF(1, 2);
const char *cli_default_config(void);
revops_config *cli_load(const char *path, int *code);
void cli_apply_logging(revops_config *c);
void cli_stop_on_signals(void);
int cmd_daemon(int argc, char **argv);   /* daemon.c */

#endif
