#!/bin/sh
# Malformed configurations: each must fail check-config with exit 78 and an
# error "file:line: message" pointing at the line marked "#!" in the case.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
export REVOPS_PLUGIN_PATH="$PLUGINS"
: > "$TMP/w.db"

# case NAME EXPECTED-MESSAGE-FRAGMENT (config on stdin; the faulty line ends in #!)
case_() {
    name=$1; want=$2; f="$TMP/$name.conf"
    cat > "$f"
    line=$(grep -n '#!' "$f" | head -1 | cut -d: -f1)
    "$REVOPS" check-config -c "$f" > "$TMP/out" 2> "$TMP/err"
    is "$?" 78 "$name: exit 78"
    like "$TMP/err" "$f:$line: $want" "$name: $f:$line: $want"
}

case_ syntax "syntax error" <<'C'
sources = {
  w = { plugin = "sqlite"; database = ; }; #!
};
C

case_ unknown_global "configuration: unknown setting 'plugin_dirr'; allowed: plugin_dir, state_dir" <<'C'
plugin_dirr = "/tmp"; #!
C

case_ option_typo "source 'w' (plugin sqlite): unknown option 'databse' (did you mean 'database'?)" <<'C'
sources = {
  w = {
    plugin = "sqlite";
    databse = "w.db"; #!
  };
};
C

plugin_dir_with tp_flaky_action.so sqlite.so
case_ template_placeholder "action 'a' (plugin tp_flaky): option 'message': unknown placeholder {{acount_name}} (known: account_id, account_name," <<C
plugin_dir = "$TMP/plugins";
actions = {
  a = { plugin = "tp_flaky"; path = "x";
        message = "{{acount_name}} needs a call"; }; #!
};
C

case_ missing_required "source 'w' (plugin sqlite): required option 'database' (path) is missing" <<'C'
sources = {
  w = { plugin = "sqlite"; }; #!
};
C

case_ wrong_type "source 'w': 'rows_per_chunk' must be an integer, not a string" <<'C'
sources = {
  w = { plugin = "sqlite"; database = "w.db";
        rows_per_chunk = "1000"; }; #!
};
C

case_ unknown_plugin "source 'w': no source plugin named 'sqlit' is loaded (loaded source plugins: " <<'C'
sources = {
  w = { plugin = "sqlit"; database = "w.db"; }; #!
};
C

cat > "$TMP/base.inc" <<'C'
sources = { w = { plugin = "sqlite"; database = "w.db"; }; };
actions = { r = { plugin = "report"; }; };
C
INPUTS='accounts = { source = "w"; query = "SELECT 1"; }; opportunities = { source = "w"; query = "SELECT 1"; }; usage = { source = "w"; query = "SELECT 1"; };'

case_ undefined_source "pipeline 'p' input 'usage': source 'wh' is not defined (sources: w)" <<C
@include "base.inc"
pipelines = { p = { analysis = "A1";
  inputs = { opportunities = { source = "w"; query = "SELECT 1"; };
             usage = { source = "wh"; query = "SELECT 1"; }; }; #!
}; };
C

case_ undefined_action "pipeline 'p' action #2: action 'slack' is not defined (actions: r)" <<C
@include "base.inc"
pipelines = { p = { analysis = "A1"; inputs = { $INPUTS };
  actions = ( "r",
              { action = "slack"; } ); #!
}; };
C

case_ bad_analysis "pipeline 'p': 'analysis' = \"A7\" is not one of: A1, A2, A3, A4, A5, A6" <<C
@include "base.inc"
pipelines = { p = {
  analysis = "A7"; #!
}; };
C

case_ bad_priority "pipeline 'p' action #1: 'min_priority' = \"urgent\" is not one of: low, medium, high, critical" <<C
@include "base.inc"
pipelines = { p = { analysis = "A1"; inputs = { $INPUTS };
  actions = ( { action = "r"; min_priority = "urgent"; } ); #!
}; };
C

case_ bad_cron_range "pipeline 'p': 'schedule': hour 25 is out of range 0-23 in '25'" <<C
@include "base.inc"
pipelines = { p = { analysis = "A1"; inputs = { $INPUTS };
  schedule = "0 25 * * *"; #!
}; };
C

case_ bad_cron_fields "pipeline 'p': 'schedule': cron expression 'daily at six' has 3 fields; expected 5" <<C
@include "base.inc"
pipelines = { p = { analysis = "A1"; inputs = { $INPUTS };
  schedule = "daily at six"; #!
}; };
C

case_ cron_never "pipeline 'p': 'schedule': cron expression '0 0 30 2 *' never fires: day-of-month '30' does not occur in month '2'" <<C
@include "base.inc"
pipelines = { p = { analysis = "A1"; inputs = { $INPUTS };
  schedule = "0 0 30 2 *"; #!
}; };
C

case_ bad_timezone "pipeline 'p': 'timezone': unknown time zone 'Europe/Berln' (no zone file /usr/share/zoneinfo/Europe/Berln; is the tzdata package installed?)" <<C
@include "base.inc"
pipelines = { p = { analysis = "A1"; inputs = { $INPUTS }; schedule = "0 6 * * *";
  timezone = "Europe/Berln"; #!
}; };
C

case_ missed_without_schedule "pipeline 'p': 'missed' has no effect without a 'schedule'" <<C
@include "base.inc"
pipelines = { p = { analysis = "A1"; inputs = { $INPUTS };
  missed = "run_once"; #!
}; };
C

case_ bad_missed "daemon: 'missed' = \"later\" is not one of: skip, run_once" <<C
@include "base.inc"
daemon = { missed = "later"; }; #!
pipelines = { p = { analysis = "A1"; inputs = { $INPUTS }; }; };
C

case_ bad_listen "daemon: 'listen': '127.0.0.1:70000' must be PORT or HOST:PORT with a port from 1 to 65535 (0: any free port)" <<C
@include "base.inc"
daemon = { listen = "127.0.0.1:70000"; }; #!
pipelines = { p = { analysis = "A1"; inputs = { $INPUTS }; }; };
C

case_ bad_parallelism "pipeline 'p' parallelism: 'concurrency' = 0 is outside the allowed range 1..64" <<C
@include "base.inc"
pipelines = { p = { analysis = "A1"; inputs = { $INPUTS };
  parallelism = { concurrency = 0; }; #!
}; };
C

case_ bad_log_output "log: 'output' = \"journal\" is not one of: stderr, syslog" <<C
@include "base.inc"
log = { output = "journal"; }; #!
pipelines = { p = { analysis = "A1"; inputs = { $INPUTS }; }; };
C

case_ option_range "pipeline 'p' options (analysis at_risk_accounts): option 'decline_pct' = 150 is outside the allowed range 0..100" <<C
@include "base.inc"
pipelines = { p = { analysis = "A1"; inputs = { $INPUTS };
  options = { decline_pct = 150.0; }; #!
}; };
C

case_ bad_date "pipeline 'p' options (analysis at_risk_accounts): option 'as_of': '2026-13-01' is not a date (YYYY-MM-DD)" <<C
@include "base.inc"
pipelines = { p = { analysis = "A1"; inputs = { $INPUTS };
  options = { as_of = "2026-13-01"; }; #!
}; };
C

case_ missing_input "pipeline 'p': required input 'usage' of analysis A1 is not configured (it needs the columns sf_account_id,consumption_date,engine_hours)" <<C
@include "base.inc"
pipelines = { p = { analysis = "A1";
  inputs = { opportunities = { source = "w"; query = "SELECT 1"; }; }; #!
}; };
C

case_ unknown_input "pipeline 'p': analysis A1 (at_risk_accounts) has no input 'usge'; its inputs are: accounts, opportunities, usage" <<C
@include "base.inc"
pipelines = { p = { analysis = "A1";
  inputs = { usge = { source = "w"; query = "SELECT 1"; }; #!
             opportunities = { source = "w"; query = "SELECT 1"; }; usage = { source = "w"; query = "SELECT 1"; }; };
}; };
C

case_ bad_log_level "log: 'level' = \"loud\" is not one of: error, warn, info, debug" <<C
log = {
  level = "loud"; #!
};
C

case_ wrong_bool "source 'w' (plugin sqlite): option 'read_only' must be a boolean, not a string" <<'C'
sources = { w = { plugin = "sqlite"; database = "w.db";
  read_only = "yes"; }; }; #!
C

case_ pipeline_key "pipeline 'p': unknown setting 'max_oportunities'; allowed: analysis, analysis_plugin, options" <<C
@include "base.inc"
pipelines = { p = { analysis = "A1"; inputs = { $INPUTS };
  max_oportunities = 5; #!
}; };
C

case_ retry_range "retry: 'max_attempts' = 0 is outside the allowed range 1..20" <<'C'
retry = {
  max_attempts = 0; #!
};
C

# An error inside an @include'd file names that file and its line.
cat > "$TMP/bad.inc" <<'C'
sources = {
  w = { plugin = "sqlite"; database = "w.db"; busy_timeout_ms = -5; };
};
C
printf '@include "bad.inc"\n' > "$TMP/inc.conf"
"$REVOPS" check-config -c "$TMP/inc.conf" > /dev/null 2> "$TMP/err"
is "$?" 78 "include: exit 78"
like "$TMP/err" "$TMP/bad.inc:2: source 'w' (plugin sqlite): option 'busy_timeout_ms' = -5 is outside the allowed range 0..600000" \
    "include: the error names the included file and line"

# All errors are reported at once, with a count.
cat > "$TMP/many.conf" <<'C'
plugin_dirr = "/tmp";
sources = { w = { plugin = "sqlite"; databse = "w.db"; }; };
log = { level = "loud"; };
C
"$REVOPS" check-config -c "$TMP/many.conf" > /dev/null 2> "$TMP/err"
is "$?" 78 "several errors: exit 78"
like "$TMP/err" "many.conf:1: configuration: unknown setting 'plugin_dirr'" "several errors: first"
like "$TMP/err" "many.conf:2: source 'w' (plugin sqlite): unknown option 'databse'" "several errors: second"
like "$TMP/err" "many.conf:3: log: 'level'" "several errors: third"
like "$TMP/err" "revops: 4 errors in $TMP/many.conf" "several errors: counted (3 + the missing database)"

# A missing file is EX_NOINPUT, not a crash.
"$REVOPS" check-config -c "$TMP/nope.conf" > /dev/null 2> "$TMP/err"
is "$?" 66 "missing file: exit 66"
like "$TMP/err" "$TMP/nope.conf: cannot read the configuration: No such file or directory" "missing file: named"

# The shipped demo configuration is valid.
"$REVOPS" check-config -c "$top_srcdir/config/demo.conf" > "$TMP/out" 2> "$TMP/err"
is "$?" 0 "config/demo.conf is valid"
like "$TMP/out" "ok: 1 source, 2 actions, 6 pipelines" "check-config summarises a valid file"

# The production example names all five sources (when all were built).
if [ -f "$PLUGINS/postgres.so" ] && [ -f "$PLUGINS/firebolt.so" ] && [ -f "$PLUGINS/salesforce.so" ] && [ -f "$PLUGINS/bedrock.so" ] &&
   [ -f "$PLUGINS/postgres_insights.so" ]; then
    env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=example SF_CLIENT_ID=id SF_CLIENT_SECRET=s \
        GONG_ACCESS_KEY=k GONG_ACCESS_KEY_SECRET=s SLACK_BOT_TOKEN=xoxb-example REVOPS_PG_CONNINFO="dbname=revops" \
        "$REVOPS" check-config -c "$top_srcdir/config/production.conf.example" > "$TMP/out" 2> "$TMP/err"
    is "$?" 0 "config/production.conf.example is valid"
    like "$TMP/out" "ok: 5 sources, 9 actions, 6 pipelines, 1 model" "it defines the five sources, every sink, a pipeline per analysis and a model"
    "$REVOPS" check-config -c "$top_srcdir/config/production.conf.example" > "$TMP/out" 2> "$TMP/err"
    like "$TMP/err" "environment variable SLACK_BOT_TOKEN is not set or empty" "without its environment it says which variable is missing"
else
    echo "ok $((tap_n = tap_n + 1)) - production example # SKIP not every source plugin was built"
fi

# Queries: one per dialect, named queries, ${option} parameters.
cat > "$TMP/q.inc" <<'C'
sources = { w = { plugin = "sqlite"; database = "w.db"; }; };
actions = { r = { plugin = "report"; }; };
C
case_ query_no_dialect "pipeline 'p' input 'usage': 'query' has no query for dialect 'sqlite' of source 'w' (plugin sqlite); it has: postgres, firebolt" <<'C'
@include "q.inc"
pipelines = { p = { analysis = "A1";
  inputs = { opportunities = { source = "w"; query = "SELECT 1"; };
             usage = { source = "w"; query = { postgres = "SELECT 1"; firebolt = "SELECT 1"; }; }; }; }; }; #!
C
case_ query_bad_type "pipeline 'p' input 'usage': 'query' must be a string, or a group of strings per SQL dialect" <<'C'
@include "q.inc"
pipelines = { p = { analysis = "A1";
  inputs = { opportunities = { source = "w"; query = "SELECT 1"; };
             usage = { source = "w"; query = 42; }; }; }; }; #!
C
case_ query_dialect_not_string "pipeline 'p' input 'usage': 'query': dialect 'sqlite' must be a string (the query), not an integer" <<'C'
@include "q.inc"
pipelines = { p = { analysis = "A1";
  inputs = { opportunities = { source = "w"; query = "SELECT 1"; };
             usage = { source = "w"; query = { sqlite = 1; }; }; }; }; }; #!
C
case_ named_query_missing "pipeline 'p' input 'usage': named_query 'usage_dayly' is not defined in 'queries' (defined: usage_daily)" <<'C'
@include "q.inc"
queries = { usage_daily = "SELECT 1"; };
pipelines = { p = { analysis = "A1";
  inputs = { opportunities = { source = "w"; query = "SELECT 1"; };
             usage = { source = "w"; named_query = "usage_dayly"; }; }; }; }; #!
C
case_ query_and_named "pipeline 'p' input 'usage': give 'query' or 'named_query', not both" <<'C'
@include "q.inc"
queries = { usage_daily = "SELECT 1"; };
pipelines = { p = { analysis = "A1";
  inputs = { opportunities = { source = "w"; query = "SELECT 1"; };
             usage = { source = "w"; query = "SELECT 1"; named_query = "usage_daily"; }; }; }; }; #!
C
case_ query_unknown_param "pipeline 'p' input 'opportunities': queries.opps: \${as_off}: the analysis has no option 'as_off' (options: as_of," <<'C'
@include "q.inc"
queries = {
  opps = "SELECT * FROM opportunity_d WHERE close_date < ${as_off}"; #!
};
pipelines = { p = { analysis = "A1";
  inputs = { opportunities = { source = "w"; named_query = "opps"; };
             usage = { source = "w"; query = "SELECT 1"; }; }; }; };
C
case_ query_named_bad "queries.usage: dialect 'sqlite' must be a string (the query), not a list" <<'C'
queries = { usage = { sqlite = ("SELECT 1"); }; }; #!
C
# query_library: a file of named queries, checked like the config itself.
printf 'ok_q = "SELECT 1";\nbad_q = { sqlite = 7; };\n' > "$TMP/lib.conf"
echo 'query_library = "lib.conf";' > "$TMP/qlib.conf"
"$REVOPS" check-config -c "$TMP/qlib.conf" > "$TMP/out" 2> "$TMP/err"
is "$?" 78 "a bad query_library: exit 78"
like "$TMP/err" "$TMP/lib.conf:2: query_library bad_q: dialect 'sqlite' must be a string (the query), not an integer" \
    "an error in the query library names the library file and line"
case_ query_library_missing "query_library '$TMP/nope.conf': No such file or directory" <<'C'
query_library = "nope.conf"; #!
C
printf 'a1_usage = "SELECT sf_account_id, consumption_date, engine_hours FROM consumption_daily_d";\n' > "$TMP/lib2.conf"
case_ named_query_missing_lib "pipeline 'p' input 'usage': named_query 'a1_usag' is not defined in 'queries' or the query_library (defined: own_q, a1_usage)" <<'C'
query_library = "lib2.conf";
queries = { own_q = "SELECT 1"; };
@include "q.inc"
pipelines = { p = { analysis = "A1";
  inputs = { opportunities = { source = "w"; named_query = "own_q"; };
             usage = { source = "w"; named_query = "a1_usag"; }; }; }; }; #!
C

plugin_dir_with tp_rows.so at_risk_accounts.so report.so sqlite.so
cat > "$TMP/nodialect.conf" <<C
plugin_dir = "$TMP/plugins";
sources = { t = { plugin = "tp_rows"; }; w = { plugin = "sqlite"; database = "w.db"; }; };
pipelines = { p = { analysis = "A1";
  inputs = { opportunities = { source = "w"; query = "SELECT 1"; };
             usage = { source = "t"; query = { sqlite = "SELECT 1"; }; }; }; }; };
C
"$REVOPS" check-config -c "$TMP/nodialect.conf" > "$TMP/out" 2> "$TMP/err"
is "$?" 78 "a dialect group for a source without a dialect: exit 78"
like "$TMP/err" "nodialect.conf:5: pipeline 'p' input 'usage': 'query' has one query per SQL dialect (sqlite), but source 't' (plugin tp_rows) declares no dialect: give it one query string" \
    "a dialect group for a source without a dialect is explained"

done_testing
