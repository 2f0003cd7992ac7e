#!/bin/sh
# The same pipeline queries on SQLite, PostgreSQL and Firebolt.  The demo
# warehouse (seed 42, as_of 2026-11-01) is generated as SQLite, loaded into a
# throwaway PostgreSQL (tests/demo_to_pg.sh) and served as Firebolt by
# tests/fake_firebolt.py in warehouse mode (its queries run on that
# PostgreSQL, with Firebolt's DATE_ADD / DATE_TRUNC emulated there); each
# pipeline runs three times with the warehouse source's plugin switched
# between sqlite, postgres and firebolt, the rest of the config unchanged, and
# the file action's findings must be byte-identical and non-empty.
#
# To cover another analysis, call dialect_run with its pipeline (see below).
# Skipped when PostgreSQL's server binaries, psycopg2, the sqlite3 tool or one
# of the plugins is missing.
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/pg_server.sh"
. "$top_srcdir/tests/demo_to_pg.sh"

skip() { echo "1..0 # SKIP $1"; exit 0; }
for m in sqlite.so postgres.so firebolt.so at_risk_accounts.so file.so; do
    [ -f "$PLUGINS/$m" ] || skip "plugin $m was not built"
done
[ -x "$top_builddir/demo/revops-demo-gen" ] || skip "the demo generator was not built (needs sqlite3)"
command -v sqlite3 > /dev/null 2>&1 || skip "no sqlite3 command-line tool (Debian package sqlite3)"
"$PYTHON" -c 'import psycopg2' 2> /dev/null || skip "no psycopg2 for $PYTHON (Debian package python3-psycopg2)"
pg_find_bin || skip "$PG_WHY"

tap_tmpdir
pg_start || { echo "Bail out! $PG_WHY"; exit 1; }
plugin_dir_with $(cd "$PLUGINS" && ls *.so)
mkdir -p "$TMP/out"

# ------------------------------------------------------------ the warehouse --
AS_OF=2026-11-01
db="$TMP/warehouse.db"
"$top_builddir/demo/revops-demo-gen" --out "$db" --seed 42 --as-of "$AS_OF" > "$TMP/out/gen.out" 2>&1
is "$?" 0 "the demo warehouse (seed 42, as_of $AS_OF) as SQLite"

PW="Wh-pg-$$-8c1d"
export REVOPS_WH_PG_PW="$PW"
pg_psql > "$TMP/out/setup.out" 2>&1 <<SQL
CREATE ROLE revops LOGIN PASSWORD '$PW';
CREATE DATABASE warehouse OWNER revops;
SQL
is "$?" 0 "role revops (password) owns database warehouse"

DEMO_PG_ROLE=revops PG_DB=warehouse demo_to_pg "$db" > "$TMP/out/load.out" 2> "$TMP/out/load.err"
is "$?" 0 "demo_to_pg: the six tables loaded into PostgreSQL$(sed 's/^/; /' "$TMP/out/load.err" | tr -d '\n')"
want=""
for t in salesforce_account_d opportunity_d consumption_daily_d agreement_f gong_call_f slack_message_f; do
    want="$want$t $(sqlite3 "$db" "SELECT count(*) FROM $t") "
done
is "$(tr '\n' ' ' < "$TMP/out/load.out")" "$want" "demo_to_pg prints each table's row count (the same as SQLite's)"
is "$(PG_DB=warehouse pg_psql -At -F ' ' -c "SELECT table_name, column_name, data_type FROM information_schema.columns
       WHERE table_schema = 'public' AND column_name IN ('consumption_date', 'created_at_ts', 'engine_hours', 'is_active', 'call_summary')
       ORDER BY 1, 2" | tr '\n' ',')" \
   "agreement_f is_active bigint,consumption_daily_d consumption_date date,consumption_daily_d engine_hours double precision,gong_call_f call_summary text,opportunity_d created_at_ts timestamp without time zone,salesforce_account_d created_at_ts timestamp without time zone," \
   "typed columns: date, timestamp, double precision, bigint, text"
is "$(PG_DB=warehouse pg_psql -At -c "SELECT (SELECT count(*) FROM opportunity_d WHERE closed_at_date IS NULL),
       (SELECT sf_account_name FROM salesforce_account_d WHERE sf_account_id = '001A000000000001'),
       (SELECT tableowner FROM pg_tables WHERE tablename = 'consumption_daily_d'),
       (SELECT count(*) FROM pg_indexes WHERE schemaname = 'public')")" \
   "$(sqlite3 "$db" "SELECT (SELECT count(*) FROM opportunity_d WHERE closed_at_date IS NULL),
       (SELECT sf_account_name FROM salesforce_account_d WHERE sf_account_id = '001A000000000001')")|revops|9" \
   "NULLs and UTF-8 kept; the tables belong to revops (DEMO_PG_ROLE); keys and indexes as in SQLite"
# Every double as PostgreSQL prints it (shortest exact) against Python's repr of SQLite's.
is "$(PG_DB=warehouse pg_psql -At -c "SELECT md5(string_agg(coalesce(engine_hours::text, 'NULL'), ',' ORDER BY sf_account_id, consumption_date)),
       sum(data_scanned_bytes) FROM consumption_daily_d")" \
   "$("$PYTHON" - "$db" <<'PY'
import hashlib, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
def text(v):
    if v is None:
        return "NULL"
    r = repr(v)
    return r[:-2] if r.endswith(".0") else r
vals = [text(r[0]) for r in c.execute("SELECT engine_hours FROM consumption_daily_d ORDER BY sf_account_id, consumption_date")]
total = c.execute("SELECT sum(data_scanned_bytes) FROM consumption_daily_d").fetchone()[0]
print("%s|%d" % (hashlib.md5(",".join(vals).encode()).hexdigest(), total))
PY
)" "the very same doubles (all 139667 engine_hours) and 64-bit integers in both"

# ---------------------------------------------- Firebolt on that PostgreSQL --
FB_TEST_ID="svc-id-$$-wh"
FB_TEST_SECRET="svc-secret-$$-wh"
export FB_TEST_ID FB_TEST_SECRET
start_fake fake_firebolt.py FB_CLIENT_ID="$FB_TEST_ID" FB_CLIENT_SECRET="$FB_TEST_SECRET" FB_ACCOUNT=acme \
    FB_DATABASE=revops FB_ENGINE=analytics FB_PG_DSN="host=$PG_DIR port=$PG_PORT dbname=warehouse user=$PG_SUPERUSER"

PG_CONN="host=$PG_DIR port=$PG_PORT dbname=warehouse user=revops"
# source_block DIALECT: the warehouse source, in one of the three plugins
source_block() {
    case $1 in
    sqlite)   echo "warehouse = { plugin = \"sqlite\"; database = \"$db\"; rows_per_chunk = 1000; };" ;;
    postgres) echo "warehouse = { plugin = \"postgres\"; conninfo = \"$PG_CONN\"; password = \"env:REVOPS_WH_PG_PW\"; rows_per_chunk = 1000; };" ;;
    firebolt) echo "warehouse = { plugin = \"firebolt\"; client_id = \"env:FB_TEST_ID\"; client_secret = \"env:FB_TEST_SECRET\";
                 account = \"acme\"; database = \"revops\"; engine = \"analytics\";
                 id_url = \"http://127.0.0.1:$FAKE_PORT/oauth/token\"; api_url = \"http://127.0.0.1:$FAKE_PORT\";
                 rows_per_chunk = 1000; };" ;;
    esac
}
# dialect_conf NAME DIALECT PIPELINES: $TMP/NAME.DIALECT.conf running PIPELINES (the
# body of `pipelines = { ... }`) with the warehouse source in DIALECT's plugin,
# findings to $TMP/out/NAME.DIALECT.jsonl through action `findings`; the shipped
# queries (config/queries.conf) are there as named queries.
dialect_conf() {
    cp "$top_srcdir/config/queries.conf" "$TMP/queries.conf"
    mkdir -p "$TMP/state.$1.$2"
    cat > "$TMP/$1.$2.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/state.$1.$2";
retry = { interval = 0.05; backoff_rate = 2.0; max_attempts = 2; };
queries = {
  @include "queries.conf"
};
sources = {
  $(source_block "$2")
};
actions = { findings = { plugin = "file"; path = "$TMP/out/$1.$2.jsonl"; }; };
pipelines = {
$3
};
C
}
# dialect_run NAME PIPELINES: run PIPELINES (a `pipelines` body whose inputs read
# source `warehouse` and whose findings go to action `findings`) on the sqlite,
# postgres and firebolt warehouse; 6 assertions: each run exits 0, the findings
# are non-empty, and byte-identical across the three.
dialect_run() {
    for d in sqlite postgres firebolt; do
        rm -f "$TMP/out/$1.$d.jsonl"
        dialect_conf "$1" "$d" "$2"
        "$REVOPS" run -c "$TMP/$1.$d.conf" --session-id "$1-$d" > "$TMP/out/$1.$d.out" 2> "$TMP/out/$1.$d.err"
        rc=$?
        is "$rc" 0 "$1 on $d: exit 0$([ "$rc" = 0 ] || { echo; sed 's/^/# /' "$TMP/out/$1.$d.err" | tail -5; })"
    done
    n=$(cat "$TMP/out/$1.sqlite.jsonl" 2> /dev/null | wc -l)
    ok "$([ "$n" -gt 0 ]; echo $?)" "$1: findings on sqlite ($n)"
    for d in postgres firebolt; do
        if cmp -s "$TMP/out/$1.sqlite.jsonl" "$TMP/out/$1.$d.jsonl"; then
            ok 0 "$1: the findings on $d are byte-identical to sqlite's"
        else
            ok 1 "$1: the findings on $d are byte-identical to sqlite's"
            diff "$TMP/out/$1.sqlite.jsonl" "$TMP/out/$1.$d.jsonl" 2>&1 | head -6 | cut -c1-300 | sed 's/^/#   /'
        fi
    done
}

# -------------------------------------------- the fake's warehouse mode itself --
conf_q() { dialect_conf q "$1" ""; }
for d in postgres firebolt; do conf_q "$d"; done
# fbq NAME DIALECT SQL [revops query args]: the query on that source; the JSON in $TMP/out/NAME.json
fbq() {
    name=$1; d=$2; sql=$3; shift 3
    "$REVOPS" query -c "$TMP/q.$d.conf" -s warehouse -q "$sql" "$@" > "$TMP/out/$name.json" 2> "$TMP/out/$name.err"
    rc=$?
}
fbq shim firebolt "SELECT DATE_ADD('month', -1, DATE '2026-03-31') AS clamp, DATE_ADD('MONTH', -6, CAST('2021-11-04' AS DATE)) AS doc,
  DATE_ADD('week', 4, CAST('2024-04-15 12:13:14' AS TIMESTAMP)) AS wk, DATE_ADD('month', 2, DATE '2026-01-31') AS two,
  DATE_ADD('year', 1, DATE '2024-02-29') AS leap, DATE_ADD('day', -5, CAST('2026-11-01' AS DATE)) AS d5,
  DATE_TRUNC('month', CAST('2026-11-17' AS DATE)) AS tm, DATE_TRUNC('century', DATE '1996-09-03') AS tc,
  DATE_TRUNC('hour', CAST('1996-09-03 11:19:42.123' AS TIMESTAMP)) AS th"
is "$rc" 0 "firebolt: a query using Firebolt's DATE_ADD and DATE_TRUNC runs (on PostgreSQL, through the shims)"
is "$(jget "$TMP/out/shim.json" "d['column_types']")" \
   "['timestamp', 'timestamp', 'timestamp', 'timestamp', 'timestamp', 'timestamp', 'date', 'date', 'timestamp']" \
   "DATE_ADD returns a timestamp (for a date too), DATE_TRUNC of a date a date, as Firebolt's docs say"
is "$(jget "$TMP/out/shim.json" "d['results'][0]")" \
   "['2026-02-28 00:00:00', '2021-05-04 00:00:00', '2024-05-13 12:13:14', '2026-03-31 00:00:00', '2025-02-28 00:00:00', '2026-10-27 00:00:00', '2026-11-01', '1901-01-01', '1996-09-03 11:00:00']" \
   "month-end clamping, the docs' examples, one interval for 2 months, leap day, days back, truncation"
fbq shimbad firebolt "SELECT DATE_ADD('fortnight', 1, DATE '2026-01-01') AS x"
is "$rc" 1 "DATE_ADD with an unknown unit fails"
like "$TMP/out/shimbad.json" "DATE_ADD: invalid time unit 'fortnight'" "with Firebolt's 400 and the shim's message"
fbq shimhour firebolt "SELECT DATE_TRUNC('hour', DATE '2026-01-01') AS x"
like "$TMP/out/shimhour.json" "DATE_TRUNC: a DATE cannot be truncated to 'hour'" "DATE_TRUNC of a date to an hour is an error, as in Firebolt"
fbq pgnative postgres "SELECT CAST(pg_typeof(date_trunc('month', CAST('2026-11-17' AS DATE))) AS text) AS t"
is "$(jget "$TMP/out/pgnative.json" "d['results'][0]")" "['timestamp with time zone']" \
   "the postgres source on the same database still gets PostgreSQL's own date_trunc (the shims live in fb_compat)"
# A whole-second timestamptz ("...00:00:00+00", 22 characters) loses its "+00"
# and stays a TIMESTAMP cell (the postgres source once checked n > 22).
fbq tstz postgres "SELECT CAST('2026-11-01 00:00:00+00' AS timestamptz) AS t"
is "$(jget "$TMP/out/tstz.json" "d['results'][0]")" "['2026-11-01 00:00:00']" "postgres source: a whole-second timestamptz without its +00"

fbq missing firebolt "SELECT sf_account_id
FROM nosuch_table"
is "$rc" 1 "firebolt: a query on a missing table fails"
is "$(jget "$TMP/out/missing.json" "d['error']")" \
   "Firebolt query 'SELECT sf_account_id ...' failed: HTTP 400: relation \"nosuch_table\" does not exist (RELATION_NOT_FOUND 1101) at line 2; Check the table name and the database." \
   "PostgreSQL's error as Firebolt's structured 400: message, name, code, failing line"
fbq syntax firebolt "SELECT FROM WHERE 1"
like "$TMP/out/syntax.json" "(SYNTAX_ERROR 1100) at line 1" "a syntax error: SYNTAX_ERROR"
fbq ro firebolt "DELETE FROM agreement_f"
like "$TMP/out/ro.json" "cannot execute DELETE in a read-only transaction" "the fake's sessions are read only"
is "$(PG_DB=warehouse pg_psql -At -c 'SELECT count(*) FROM agreement_f')" 409 "and agreement_f still has its rows"

# Every table, every type, NULLs and UTF-8: the firebolt source (JSON_Compact from
# the fake) must hand over exactly what the postgres source reads from the server.
same=0
for t in salesforce_account_d:sf_account_id opportunity_d:opportunity_id agreement_f:agreement_id \
         gong_call_f:gong_call_id slack_message_f:message_ts; do
    tbl=${t%%:*}; key=${t#*:}
    for d in postgres firebolt; do
        fbq "all.$tbl.$d" "$d" "SELECT * FROM $tbl ORDER BY $key" --chunk 0
    done
    if ! "$PYTHON" - "$TMP/out/all.$tbl.postgres.json" "$TMP/out/all.$tbl.firebolt.json" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
keys = ("success", "columns", "column_types", "total_rows", "total_chunks", "results")
diff = [k for k in keys if a.get(k) != b.get(k)]
if diff or not a.get("success"):
    print("#   %s differ: %s" % (sys.argv[1].split("/")[-1], diff))
    sys.exit(1)
PY
    then same=1; fi
done
is "$same" 0 "five tables through the firebolt source equal the postgres source's: names, types, values, NULLs, UTF-8"
fbq usage.postgres postgres "SELECT * FROM consumption_daily_d ORDER BY sf_account_id, consumption_date" --chunk 139
fbq usage.firebolt firebolt "SELECT * FROM consumption_daily_d ORDER BY sf_account_id, consumption_date" --chunk 139
is "$(jget "$TMP/out/usage.firebolt.json" "d['total_rows'], d['total_chunks'], d['column_types']")" \
   "(139667, 140, ['date', 'text', 'double', 'integer', 'integer'])" "consumption_daily_d: 139667 typed rows through the fake, streamed"
cmp -s "$TMP/out/usage.postgres.json" "$TMP/out/usage.firebolt.json"
ok $? "its last chunk equals the postgres source's, byte for byte"

# ------------------------------------------------- the pipelines, three ways --
# A1 with its inputs as query groups, one member per dialect; usage is read from
# five months before as_of (enough for decline_months 3), each dialect with its
# own date arithmetic.
dialect_run a1_groups '
  at_risk = {
    analysis = "A1";
    options = { as_of = "'"$AS_OF"'"; decline_pct = 20.0; decline_months = 3; stall_days = 60; };
    inputs = {
      accounts = { source = "warehouse";
        query = "SELECT sf_account_id, sf_account_name FROM salesforce_account_d ORDER BY sf_account_id"; };
      opportunities = { source = "warehouse"; query = {
        sqlite = "SELECT opportunity_id, sf_account_id, opportunity_type, stage_name, close_date, last_stage_change_date, amount FROM opportunity_d WHERE stage_name NOT IN (${closed_stages}) AND created_at_ts < ${as_of} ORDER BY opportunity_id";
        postgres = "SELECT opportunity_id, sf_account_id, opportunity_type, stage_name, close_date, last_stage_change_date, amount FROM opportunity_d WHERE stage_name NOT IN (${closed_stages}) AND created_at_ts < CAST(${as_of} AS DATE) ORDER BY opportunity_id";
        firebolt = "SELECT opportunity_id, sf_account_id, opportunity_type, stage_name, close_date, last_stage_change_date, amount FROM opportunity_d WHERE stage_name NOT IN (${closed_stages}) AND created_at_ts < CAST(${as_of} AS DATE) ORDER BY opportunity_id"; }; };
      usage = { source = "warehouse"; query = {
        sqlite = "SELECT sf_account_id, consumption_date, engine_hours FROM consumption_daily_d WHERE consumption_date >= date(${as_of}, '"'-5 months'"') AND consumption_date < ${as_of} ORDER BY sf_account_id, consumption_date";
        postgres = "SELECT sf_account_id, consumption_date, engine_hours FROM consumption_daily_d WHERE consumption_date >= CAST(${as_of} AS DATE) - INTERVAL '"'5 months'"' AND consumption_date < CAST(${as_of} AS DATE) ORDER BY sf_account_id, consumption_date";
        firebolt = "SELECT sf_account_id, consumption_date, engine_hours FROM consumption_daily_d WHERE consumption_date >= DATE_ADD('"'month'"', -5, CAST(${as_of} AS DATE)) AND consumption_date < CAST(${as_of} AS DATE) ORDER BY sf_account_id, consumption_date"; }; };
    };
    actions = ( { action = "findings"; min_priority = "low"; } );
  };'
n=$("$PYTHON" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["A1"]["accounts"]))' "$db.truth.json")
is "$(wc -l < "$TMP/out/a1_groups.sqlite.jsonl")" "$n" "a1_groups: one finding per planted at-risk account ($n)"
like "$TMP/out/a1_groups.firebolt.out" "input usage <- warehouse: " "the firebolt run read its inputs from the warehouse source"

# The shipped queries (config/queries.conf, by name), as config/demo.conf runs them.
dialect_run a1_named '
  at_risk = {
    analysis = "A1";
    options = { as_of = "'"$AS_OF"'"; };
    inputs = {
      accounts = { source = "warehouse"; named_query = "a1_accounts"; };
      opportunities = { source = "warehouse"; named_query = "a1_opportunities"; };
      usage = { source = "warehouse"; named_query = "a1_usage"; };
    };
    actions = ( { action = "findings"; min_priority = "low"; } );
  };'
cmp -s "$TMP/out/a1_groups.sqlite.jsonl" "$TMP/out/a1_named.sqlite.jsonl"
ok $? "the shipped named queries find the same as the test's query groups"

dialect_run a6 '
  competitors = {
    analysis = "A6";
    options = { as_of = "'"$AS_OF"'"; };
    inputs = {
      opportunities = { source = "warehouse"; named_query = "a6_opportunities"; };
      calls = { source = "warehouse"; named_query = "a6_calls"; };
      messages = { source = "warehouse"; named_query = "a6_messages"; };
    };
    actions = ( { action = "findings"; min_priority = "low"; } );
  };'

dialect_run a2 '
  lost_reasons = {
    analysis = "A2";
    options = { as_of = "'"$AS_OF"'"; group_by = [ "account_type", "region", "deal_size" ]; };
    inputs = { opportunities = { source = "warehouse"; named_query = "a2_closed_lost"; }; };
    actions = ( { action = "findings"; min_priority = "low"; } );
  };'

dialect_run a3 '
  upsell = {
    analysis = "A3";
    options = { as_of = "'"$AS_OF"'"; };
    inputs = {
      accounts = { source = "warehouse"; named_query = "a3_accounts"; };
      agreements = { source = "warehouse"; named_query = "a3_agreements"; };
      opportunities = { source = "warehouse"; named_query = "a3_opportunities"; };
      usage = { source = "warehouse"; named_query = "a3_usage"; };
    };
    actions = ( { action = "findings"; min_priority = "low"; } );
  };'

dialect_run a4 '
  health = {
    analysis = "A4";
    options = { as_of = "'"$AS_OF"'"; };
    inputs = {
      accounts = { source = "warehouse"; named_query = "a4_accounts"; };
      usage = { source = "warehouse"; named_query = "a4_usage"; };
      opportunities = { source = "warehouse"; named_query = "a4_opportunities"; };
      calls = { source = "warehouse"; named_query = "a4_calls"; };
      messages = { source = "warehouse"; named_query = "a4_messages"; };
    };
    actions = ( { action = "findings"; min_priority = "low"; } );
  };'

dialect_run a5 '
  anomalies = {
    analysis = "A5";
    options = { as_of = "'"$AS_OF"'"; };
    inputs = {
      accounts = { source = "warehouse"; named_query = "a5_accounts"; };
      usage = { source = "warehouse"; named_query = "a5_usage"; };
    };
    actions = ( { action = "findings"; min_priority = "low"; } );
  };'

# --------------------------------------------------------- no secret anywhere --
leaks=$(grep -rlF -e "$PW" -e "$FB_TEST_SECRET" "$TMP/out" 2>/dev/null)
is "$leaks" "" "neither the PostgreSQL password nor the Firebolt client secret appears in any output"

done_testing
