/* What the state store knows, for operators (the revops binary only): the
 * runs' analytics (the spec's LogAnalytics step, written by run.c's
 * runs_store_record), findings and the outbox:
 *   revops runs     -c FILE [-p PIPELINE] [-n N] [--format text|json]
 *   revops findings -c FILE [--account ID] [--analysis A] [--priority P] [--status open|closed|all]
 *   revops outbox   -c FILE [--action NAME] [--all] [--requeue] [--deliver [--dry-run]]
 * All of them read state_dir/state.db through SQLite; none needs a network. */
#include "config.h"
#include "core.h"

#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    return v ? (const char *)v : "";
}

/* Every column of a result row as a JSON object (numbers stay numbers). */
static json_object *row_json(sqlite3_stmt *st, const char *parse_json_col)
{
    json_object *o = json_object_new_object();
    for (int i = 0; i < sqlite3_column_count(st); i++) {
        const char *name = sqlite3_column_name(st, i);
        json_object *v = NULL;
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER: v = json_object_new_int64(sqlite3_column_int64(st, i)); break;
        case SQLITE_FLOAT: v = json_number(sqlite3_column_double(st, i), 3); break;
        case SQLITE_NULL: v = NULL; break;
        default:
            if (parse_json_col && !strcmp(name, parse_json_col)) v = json_tokener_parse(col(st, i));
            if (!v) v = json_object_new_string(col(st, i));
        }
        json_object_object_add(o, name, v);
    }
    return o;
}

static void print_json(json_object *o)
{
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

typedef struct state_args {
    const char *config, *format, *pipeline, *account, *analysis, *priority, *status, *action;
    long limit;
    int all, requeue, deliver, dry_run;
} state_args;

static int parse(int argc, char **argv, const char *cmd, const char *usage, state_args *a)
{
    static const struct option opts[] = {
        { "config", required_argument, 0, 'c' },   { "format", required_argument, 0, 'f' },
        { "pipeline", required_argument, 0, 'p' }, { "limit", required_argument, 0, 'n' },
        { "account", required_argument, 0, 'A' },  { "analysis", required_argument, 0, 'a' },
        { "priority", required_argument, 0, 'P' }, { "status", required_argument, 0, 'S' },
        { "action", required_argument, 0, 'x' },   { "all", no_argument, 0, 'l' },
        { "requeue", no_argument, 0, 'R' },        { "deliver", no_argument, 0, 'D' },
        { "dry-run", no_argument, 0, 'd' },        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    memset(a, 0, sizeof *a);
    a->config = cli_default_config();
    a->format = "text";
    a->limit = 50;
    a->status = "open";
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:f:p:n:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': a->config = optarg; break;
        case 'f': a->format = optarg; break;
        case 'p': a->pipeline = optarg; break;
        case 'n': {
            char *end;
            a->limit = strtol(optarg, &end, 10);
            if (*end || a->limit < 1 || a->limit > 1000000) return cli_usage_error("-n must be a number from 1 to 1000000, not '%s'", optarg);
            break;
        }
        case 'A': a->account = optarg; break;
        case 'a': a->analysis = optarg; break;
        case 'P': a->priority = optarg; break;
        case 'S': a->status = optarg; break;
        case 'x': a->action = optarg; break;
        case 'l': a->all = 1; break;
        case 'R': a->requeue = 1; break;
        case 'D': a->deliver = 1; break;
        case 'd': a->dry_run = 1; break;
        case 'h': printf("%s\n", usage); return -2;
        default: return cli_usage_error("bad option for '%s'\n%s", cmd, usage);
        }
    }
    if (optind != argc) return cli_usage_error("'%s' takes no argument '%s'\n%s", cmd, argv[optind], usage);
    if (strcmp(a->format, "text") && strcmp(a->format, "json"))
        return cli_usage_error("--format must be text or json, not '%s'", a->format);
    return 0;
}

/* The config names the state_dir; an operator asking about a store that was
 * never written gets told so, not an empty database created for them. */
static store *open_existing(revops_config *c, int *code)
{
    char *path = xasprintf("%s/state.db", c->state_dir);
    int exists = access(path, F_OK) == 0;
    if (!exists) {
        fprintf(stderr, "revops: no state store at %s yet (nothing has run with state_dir = \"%s\")\n", path, c->state_dir);
        free(path);
        *code = EXIT_NOINPUT;
        return NULL;
    }
    free(path);
    char err[512];
    store *s = store_get(c, err, sizeof err);
    if (!s) {
        fprintf(stderr, "revops: %s\n", err);
        *code = EXIT_RUN_FAILED;
    }
    return s;
}

/* The configuration and its existing state store, or NULL with *code. */
static store *load_store(const state_args *a, revops_config **c, int *code)
{
    *c = cli_load(a->config, code);
    if (!*c) return NULL;
    store *s = open_existing(*c, code);
    if (!s) {
        config_free(*c);
        *c = NULL;
    }
    return s;
}

/* A statement on the store, or NULL after saying why on stderr. */
static sqlite3_stmt *prepare_or_say(store *s, const char *sql)
{
    char err[512];
    sqlite3_stmt *st = store_prepare(s, sql, err, sizeof err);
    if (!st) fprintf(stderr, "revops: %s\n", err);
    return st;
}

int cmd_runs(int argc, char **argv)
{
    static const char usage[] = "usage: revops runs -c FILE [-p PIPELINE] [-n N] [--format text|json]";
    state_args a;
    int pc = parse(argc, argv, "runs", usage, &a);
    if (pc) return pc == -2 ? 0 : pc;
    int code = 0;
    revops_config *c = NULL;
    store *s = load_store(&a, &c, &code);
    if (!s) return code;
    sqlite3_stmt *st = prepare_or_say(s,
        "SELECT session_id, pipeline, analysis, trigger, started_at, seconds, status, dry_run, rows_read, findings,"
        " critical, high, medium, low, delivered, delivery_failed, suppressed, tokens_in, tokens_out, record"
        " FROM runs WHERE (?1 IS NULL OR pipeline=?1) ORDER BY run_id DESC LIMIT ?2");
    if (!st) {
        config_free(c);
        return EXIT_RUN_FAILED;
    }
    if (a.pipeline) sqlite3_bind_text(st, 1, a.pipeline, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, a.limit);
    json_object *arr = json_object_new_array();
    int text = !strcmp(a.format, "text"), rows = 0;
    if (text)
        printf("%-20s  %-36s  %-16s %-3s %-9s %-15s %7s %8s %8s  %-13s %9s %6s %8s %s\n", "started (UTC)", "session", "pipeline", "an.",
               "trigger", "status", "seconds", "rows", "findings", "crit/hi/med/lo", "delivered", "failed", "suppr.", "tokens in/out");
    while (sqlite3_step(st) == SQLITE_ROW) {
        rows++;
        if (!text) {
            json_object_array_add(arr, row_json(st, "record"));
            continue;
        }
        char when[32], prio[48], tok[48];
        utc_format(sqlite3_column_double(st, 4), when);
        snprintf(prio, sizeof prio, "%d/%d/%d/%d", sqlite3_column_int(st, 10), sqlite3_column_int(st, 11),
                 sqlite3_column_int(st, 12), sqlite3_column_int(st, 13));
        snprintf(tok, sizeof tok, "%lld/%lld", (long long)sqlite3_column_int64(st, 17), (long long)sqlite3_column_int64(st, 18));
        printf("%-20s  %-36s  %-16s %-3s %-9s %-15s %7.2f %8lld %8d  %-13s %9d %6d %8d %s\n", when, col(st, 0), col(st, 1),
               col(st, 2), col(st, 3), sqlite3_column_int(st, 7) ? "dry-run" : col(st, 6), sqlite3_column_double(st, 5),
               (long long)sqlite3_column_int64(st, 8), sqlite3_column_int(st, 9), prio, sqlite3_column_int(st, 14),
               sqlite3_column_int(st, 15), sqlite3_column_int(st, 16), tok);
    }
    sqlite3_finalize(st);
    if (text) printf("%d run%s\n", rows, rows == 1 ? "" : "s");
    else print_json(arr), arr = NULL;
    json_object_put(arr);
    config_free(c);
    return 0;
}

int cmd_findings(int argc, char **argv)
{
    static const char usage[] =
        "usage: revops findings -c FILE [--account ID] [--analysis A1..A6] [--priority low|medium|high|critical]\n"
        "                       [--pipeline NAME] [--status open|closed|all] [-n N] [--format text|json]";
    state_args a;
    int pc = parse(argc, argv, "findings", usage, &a);
    if (pc) return pc == -2 ? 0 : pc;
    if (strcmp(a.status, "open") && strcmp(a.status, "closed") && strcmp(a.status, "all"))
        return cli_usage_error("--status must be open, closed or all, not '%s'", a.status);
    int prank = a.priority ? priority_from_name(a.priority) : -1;
    if (a.priority && prank < 0) return cli_usage_error("--priority must be low, medium, high or critical, not '%s'", a.priority);
    int code = 0;
    revops_config *c = NULL;
    store *s = load_store(&a, &c, &code);
    if (!s) return code;
    sqlite3_stmt *st = prepare_or_say(s,
        "SELECT fingerprint, pipeline, analysis, account_id, account_name, owner, category, priority, score, title,"
        " status, first_seen, last_seen, times_seen, closed_at, json FROM findings"
        " WHERE (?1 IS NULL OR account_id=?1 OR account_name=?1) AND (?2 IS NULL OR analysis=?2)"
        " AND (?3 < 0 OR priority_rank=?3) AND (?4='all' OR status=?4) AND (?5 IS NULL OR pipeline=?5)"
        " ORDER BY priority_rank DESC, score DESC, account_id, fingerprint LIMIT ?6");
    if (!st) {
        config_free(c);
        return EXIT_RUN_FAILED;
    }
    if (a.account) sqlite3_bind_text(st, 1, a.account, -1, SQLITE_STATIC);
    if (a.analysis) sqlite3_bind_text(st, 2, a.analysis, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, prank);
    sqlite3_bind_text(st, 4, a.status, -1, SQLITE_STATIC);
    if (a.pipeline) sqlite3_bind_text(st, 5, a.pipeline, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, a.limit);
    int text = !strcmp(a.format, "text"), rows = 0;
    json_object *arr = json_object_new_array();
    if (text)
        printf("%-8s %5s  %-3s %-20s %-24s %-7s %-20s %5s  %s\n", "priority", "score", "an.", "account", "account name", "status",
               "last seen (UTC)", "seen", "title");
    while (sqlite3_step(st) == SQLITE_ROW) {
        rows++;
        if (!text) {
            json_object_array_add(arr, row_json(st, "json"));
            continue;
        }
        char when[32];
        utc_format(sqlite3_column_double(st, 12), when);
        printf("%-8s %5.2f  %-3s %-20s %-24.24s %-7s %-20s %5d  %s\n", col(st, 7), sqlite3_column_double(st, 8), col(st, 2),
               col(st, 3), col(st, 4), col(st, 10), when, sqlite3_column_int(st, 13), col(st, 9));
    }
    sqlite3_finalize(st);
    if (text) printf("%d finding%s\n", rows, rows == 1 ? "" : "s");
    else print_json(arr), arr = NULL;
    json_object_put(arr);
    config_free(c);
    return 0;
}

int cmd_outbox(int argc, char **argv)
{
    static const char usage[] =
        "usage: revops outbox -c FILE [--action NAME] [--all] [-n N] [--format text|json]\n"
        "       revops outbox -c FILE --requeue [--action NAME]     failed deliveries become pending again\n"
        "       revops outbox -c FILE --deliver [--dry-run]         deliver what is due now (no pipeline runs)";
    state_args a;
    int pc = parse(argc, argv, "outbox", usage, &a);
    if (pc) return pc == -2 ? 0 : pc;
    if (a.requeue && a.deliver) return cli_usage_error("%s", "--requeue and --deliver are separate steps: requeue first");
    int code = 0;
    revops_config *c = NULL;
    store *s = load_store(&a, &c, &code);
    if (!s) return code;
    char err[512];
    if (a.requeue) {
        size_t n = 0;
        if (outbox_requeue(s, a.action, &n, err, sizeof err) < 0) {
            fprintf(stderr, "revops: %s\n", err);
            config_free(c);
            return EXIT_RUN_FAILED;
        }
        printf("%zu failed deliver%s pending again; the next run (or revops outbox --deliver) sends %s\n", n,
               n == 1 ? "y is" : "ies are", n == 1 ? "it" : "them");
        config_free(c);
        return 0;
    }
    if (a.deliver) {
        /* Every pipeline's run lock, so a run in progress (the daemon's or an
         * operator's) and this command never send the same pending row. */
        int *locks = xcalloc(c->npipelines ? c->npipelines : 1, sizeof *locks);
        size_t held = 0;
        for (; !a.dry_run && held < c->npipelines; held++) {
            char lerr[1024];
            locks[held] = pipeline_lock(c, c->pipelines[held].name, lerr, sizeof lerr);
            if (locks[held] < 0) {
                fprintf(stderr, "revops: %s; deliver again when it has finished\n", lerr);
                while (held--) state_unlock(locks[held]);
                free(locks);
                config_free(c);
                return EXIT_BUSY;
            }
        }
        code = outbox_deliver_due(c, s, a.action, a.dry_run);
        while (held--) state_unlock(locks[held]);
        free(locks);
        config_free(c);
        return code;
    }
    sqlite3_stmt *st = prepare_or_say(s,
        "SELECT delivery_id, state, action, pipeline, fingerprint, occurrence, attempts, next_attempt, last_error,"
        " created_at, created_session, delivered_at, json_extract(finding_json, '$.account_id') AS account_id,"
        " json_extract(finding_json, '$.priority') AS priority, json_extract(finding_json, '$.title') AS title"
        " FROM deliveries WHERE (?1 OR state<>'delivered') AND (?2 IS NULL OR action=?2)"
        " ORDER BY CASE state WHEN 'failed' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END, created_at DESC, delivery_id LIMIT ?3");
    if (!st) {
        config_free(c);
        return EXIT_RUN_FAILED;
    }
    sqlite3_bind_int(st, 1, a.all);
    if (a.action) sqlite3_bind_text(st, 2, a.action, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, a.limit);
    int text = !strcmp(a.format, "text");
    size_t counts[3] = { 0 };
    json_object *arr = json_object_new_array();
    double now = clock_now();
    if (text) printf("%-9s %-16s %-32s %-14s %-8s %4s %8s  %s\n", "state", "action", "delivery id", "account", "priority", "runs", "due", "last error / title");
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *state = col(st, 1);
        counts[!strcmp(state, "failed") ? 0 : !strcmp(state, "pending") ? 1 : 2]++;
        if (!text) {
            json_object_array_add(arr, row_json(st, NULL));
            continue;
        }
        char due[32] = "-";
        if (!strcmp(state, "pending")) {
            double left = sqlite3_column_double(st, 7) - now;
            if (left <= 0) snprintf(due, sizeof due, "now");
            else snprintf(due, sizeof due, "in %.0fs", left);
        }
        printf("%-9s %-16s %-32s %-14s %-8s %4d %8s  %s\n", state, col(st, 2), col(st, 0), col(st, 12), col(st, 13),
               sqlite3_column_int(st, 6), due, col(st, 8)[0] ? col(st, 8) : col(st, 14));
    }
    sqlite3_finalize(st);
    if (text) {
        printf("%zu failed, %zu pending%s", counts[0], counts[1], a.all ? "" : "\n");
        if (a.all) printf(", %zu delivered\n", counts[2]);
        if (counts[0]) printf("failed deliveries are not retried: fix the cause, then revops outbox --requeue\n");
    } else {
        print_json(arr), arr = NULL;
    }
    json_object_put(arr);
    config_free(c);
    /* A script can tell "something is stuck" from the exit status. */
    return counts[0] ? EXIT_DELIVERY_FAILED : 0;
}
