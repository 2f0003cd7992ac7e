#!/bin/sh
# The postgres source against a real PostgreSQL server that this test starts
# (initdb and pg_ctl in a temporary directory, unix socket only; see
# tests/pg_server.sh), through the real revops binary: the chunk contract of
# a multi-chunk result streamed through a server-side cursor, typed columns,
# NULLs, dates; failing queries; a wrong password and an unreachable socket
# (clear errors, no password in any output); read-only transactions;
# row_limit; reconnection; and A1 on the demo warehouse loaded into
# PostgreSQL, with the same findings as the sqlite source on the same data.
# Skipped only when no PostgreSQL server binaries are installed.
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/pg_server.sh"
if ! pg_find_bin; then
    echo "# $PG_WHY"
    echo "ok 1 # SKIP $PG_WHY"
    echo "1..1"
    exit 0
fi
tap_tmpdir
pg_start || { echo "Bail out! $PG_WHY"; exit 1; }
plugin_dir_with $(cd "$PLUGINS" && ls *.so)
: "${TOOL_CALL:=$top_builddir/tests/tool_call}"

# The role's password: it must never appear in any output of this test.
PW='Pg-s3cret-9f3a71'
BADPW='Wr0ng-pa55-c4e2'
export REVOPS_PG_PW="$PW" REVOPS_PG_BADPW="$BADPW"
export REVOPS_PG_URI="postgresql://revops:$PW@/warehouse?host=$PG_DIR&port=$PG_PORT"
export REVOPS_PG_BADURI="postgresql://revops:$BADPW@/warehouse?host=$PG_DIR&port=$PG_PORT"
export REVOPS_PG_BADSYNTAX="host=$PG_DIR password=$PW dbname"
CONN="host=$PG_DIR port=$PG_PORT dbname=warehouse user=revops"

pg_psql > "$TMP/setup.out" 2>&1 <<SQL
CREATE ROLE revops LOGIN PASSWORD '$PW';
CREATE DATABASE warehouse OWNER revops;
ALTER SYSTEM SET log_connections = on;
SELECT pg_reload_conf();
SQL
is "$?" 0 "setup: role revops (password auth) owns database warehouse"
# The tables belong to revops: whatever refuses a write below is the READ
# ONLY transaction, not a missing privilege.
PG_DB=warehouse pg_psql > "$TMP/setup.out" 2>&1 <<'SQL'
SET ROLE revops;
CREATE TABLE t (id int4, big int8, small int2, name text, amount numeric(12,2), ratio float8,
                r4 float4, active bool, day date, ts timestamp, tstz timestamptz, doc jsonb);
INSERT INTO t
SELECT i, i * 10000000000, (i % 100)::int2, 'row-' || i,
       CASE WHEN i % 7 = 0 THEN NULL ELSE i * 1.25 END, i / 4.0, 0.5, i % 2 = 0,
       DATE '2026-01-01' + (i % 300), TIMESTAMP '2026-01-01 08:30:00' + i * INTERVAL '1 minute',
       TIMESTAMPTZ '2026-03-01 12:00:00.25+02', CASE WHEN i % 7 = 0 THEN NULL ELSE jsonb_build_object('k', i) END
FROM generate_series(1, 2500) AS i;
CREATE TABLE special (d date, ts timestamp, n numeric);
INSERT INTO special VALUES ('infinity', '-infinity', 'NaN'), ('0044-03-15 BC', '2026-05-05 05:05:05.123456', 1e-3);
CREATE TABLE audit (n int);
CREATE FUNCTION write_audit() RETURNS int LANGUAGE sql AS 'INSERT INTO audit VALUES (1) RETURNING n';
CREATE SEQUENCE kill_once;
SQL
is "$?" 0 "setup: table t with 2500 rows, every type the source maps"

cat > "$TMP/pg.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "state";
retry = { interval = 0.01; backoff_rate = 2.0; max_attempts = 2; };
sources = {
  pg = { plugin = "postgres"; conninfo = "$CONN"; password = "env:REVOPS_PG_PW";
         fetch_rows = 300; rows_per_chunk = 1000; };
  pguri = { plugin = "postgres"; conninfo = "env:REVOPS_PG_URI"; };
  pgenv = { plugin = "postgres"; conninfo = "warehouse"; };
  rw = { plugin = "postgres"; conninfo = "$CONN"; password = "env:REVOPS_PG_PW"; read_only = false; };
  slow = { plugin = "postgres"; conninfo = "$CONN"; password = "env:REVOPS_PG_PW"; statement_timeout_ms = 200; };
  badpw = { plugin = "postgres"; conninfo = "$CONN"; password = "env:REVOPS_PG_BADPW"; };
  baduri = { plugin = "postgres"; conninfo = "env:REVOPS_PG_BADURI"; };
  badsyntax = { plugin = "postgres"; conninfo = "env:REVOPS_PG_BADSYNTAX"; };
  nosock = { plugin = "postgres"; conninfo = "host=$TMP/nosuch port=$PG_PORT dbname=warehouse user=revops";
             password = "env:REVOPS_PG_PW"; };
};
pipelines = { p = { analysis = "A1";
                    inputs = { accounts = { source = "pg"; query = "SELECT id, name FROM t ORDER BY id"; row_limit = 7; };
                               opportunities = { source = "pg"; query = "SELECT id, name FROM t ORDER BY id"; row_limit = 650; };
                               usage = { source = "pg"; query = "SELECT id FROM t ORDER BY id"; }; }; }; };
C
Q="SELECT id, big, small, name, amount, ratio, r4, active, day, ts, tstz, doc FROM t ORDER BY id"

# ---------------------------------------------------------------- chunks --
"$REVOPS" query -c "$TMP/pg.conf" -s pg -q "$Q" --chunk 0 > "$TMP/c0.out" 2> "$TMP/c0.err"
is "$?" 0 "chunk 0 of a 2500-row result: exit 0"
is "$(jget "$TMP/c0.out" "d['success'], d['error'], d['chunked'], d['chunk_index'], d['total_chunks'], d['total_rows'], d['rows_per_chunk']")" \
   "(True, None, True, 0, 3, 2500, 1000)" "the spec's header fields (fetched 300 rows at a time)"
is "$(jget "$TMP/c0.out" "d['columns']")" "['id', 'big', 'small', 'name', 'amount', 'ratio', 'r4', 'active', 'day', 'ts', 'tstz', 'doc']" "column names"
is "$(jget "$TMP/c0.out" "d['column_types']")" \
   "['integer', 'integer', 'integer', 'text', 'double', 'double', 'double', 'boolean', 'date', 'timestamp', 'timestamp', 'text']" \
   "types from the OIDs: int2/4/8 integer, numeric/float double, bool, date, timestamp(tz), others text"
is "$(jget "$TMP/c0.out" "d['results'][0]")" \
   "[1, 10000000000, 1, 'row-1', 1.25, 0.25, 0.5, False, '2026-01-02', '2026-01-01 08:31:00', '2026-03-01 10:00:00.25', '{\"k\": 1}']" \
   "a typed row: int8, numeric as double, bool, date, timestamp, timestamptz in UTC, jsonb as text"
is "$(jget "$TMP/c0.out" "d['results'][6][4], d['results'][6][11], d['results'][6][0]")" "(None, None, 7)" "NULLs are null"
is "$(jget "$TMP/c0.out" "d['query_info']['source']")" "pg" "query_info names the source"
"$REVOPS" query -c "$TMP/pg.conf" -s pg -q "$Q" --chunk 2 > "$TMP/c2.out" 2> "$TMP/c2.err"
is "$(jget "$TMP/c2.out" "d['chunk_index'], len(d['results']), d['results'][0][0], d['results'][-1][0]")" "(2, 500, 2001, 2500)" \
   "the last chunk holds rows 2001..2500, in order across FETCH batches"
"$REVOPS" query -c "$TMP/pg.conf" -s pg -q "$Q" --chunk 3 > "$TMP/c3.out" 2> "$TMP/c3.err"
is "$?" 1 "an out-of-range chunk: exit 1"
is "$(jget "$TMP/c3.out" "d['success'], d['results'], d['total_chunks']")" "(False, [], 3)" "out of range: success false"
"$REVOPS" query -c "$TMP/pg.conf" -s pguri -q "SELECT d, ts, n FROM special ORDER BY ts" > "$TMP/sp.out" 2> "$TMP/sp.err"
is "$(jget "$TMP/sp.out" "d['chunked'], d['results']")" \
   "(False, [['infinity', '-infinity', None], ['0044-03-15 BC', '2026-05-05 05:05:05.123456', 0.001]])" \
   "a URI conninfo with its password (env:); infinity and BC stay text, numeric NaN is a double (JSON null)"
PGHOST=$PG_DIR PGPORT=$PG_PORT PGUSER=revops PGPASSWORD=$PW \
    "$REVOPS" query -c "$TMP/pg.conf" -s pgenv -q "SELECT current_database() AS db" > "$TMP/env.out" 2> "$TMP/env.err"
is "$(jget "$TMP/env.out" "d['success'], d['results']")" "(True, [['warehouse']])" "a plain database name as conninfo, the rest from libpq's PG* variables"
"$REVOPS" query -c "$TMP/pg.conf" -s pg -q "SELECT 1 AS one;" > "$TMP/semi.out" 2> "$TMP/semi.err"
is "$(jget "$TMP/semi.out" "d['success'], d['results']")" "(True, [[1]])" "a trailing semicolon is fine"

# ----------------------------------------------------------------- errors --
"$REVOPS" query -c "$TMP/pg.conf" -s pg -q "SELECT *
FROM nosuch" > "$TMP/e.out" 2> "$TMP/e.err"
is "$?" 1 "a failing query: exit 1"
is "$(jget "$TMP/e.out" "d['success']")" "False" "a failing query: success false"
like "$TMP/e.out" 'relation \"nosuch\" does not exist (SQLSTATE 42P01); query: SELECT *' "the server's message, SQLSTATE and the query's first line"
is "$(jget "$TMP/e.out" "'FROM nosuch' in d['error']")" False "only the first line of the query"
unlike "$TMP/e.err" "retry 1 of" "a missing table is not retried"
"$REVOPS" query -c "$TMP/pg.conf" -s pg -q "SELECT 10 / (id - 1700) AS x FROM t ORDER BY id" > "$TMP/z.out" 2> "$TMP/z.err"
is "$?" 1 "an error after 1699 streamed rows: exit 1"
like "$TMP/z.out" "division by zero (SQLSTATE 22012)" "the error mid-stream is reported"
"$REVOPS" query -c "$TMP/pg.conf" -s pg -q "SELECT 1; DROP TABLE t" > "$TMP/m.out" 2> "$TMP/m.err"
is "$?" 1 "two statements are refused"
like "$TMP/m.out" "cannot insert multiple commands into a prepared statement (SQLSTATE 42601)" "the server refuses the second statement"
is "$(PG_DB=warehouse pg_psql -At -c 'SELECT count(*) FROM t')" 2500 "and table t is still there"
"$REVOPS" query -c "$TMP/pg.conf" -s slow -q "SELECT pg_sleep(2)" > "$TMP/to.out" 2> "$TMP/to.err"
is "$?" 1 "statement_timeout_ms: a slow query fails"
like "$TMP/to.out" "canceling statement due to statement timeout (SQLSTATE 57014)" "with the server's reason"

# ------------------------------------------------- connection and secrets --
"$REVOPS" query -c "$TMP/pg.conf" -s badpw -q "SELECT 1" > "$TMP/pw.out" 2> "$TMP/pw.err"
is "$?" 1 "a wrong password: exit 1"
like "$TMP/pw.out" 'password authentication failed for user \"revops\" (SQLSTATE 28P01)' "a wrong password: the server's reason and SQLSTATE"
unlike "$TMP/pw.err" "retry 1 of" "a wrong password is not retried"
"$REVOPS" query -c "$TMP/pg.conf" -s baduri -q "SELECT 1" > "$TMP/uri.out" 2> "$TMP/uri.err"
like "$TMP/uri.out" "password authentication failed" "a wrong password inside a URI conninfo: the same clear error"
"$REVOPS" query -c "$TMP/pg.conf" -s badsyntax -q "SELECT 1" > "$TMP/syn.out" 2> "$TMP/syn.err"
is "$?" 1 "a conninfo that does not parse: exit 1"
like "$TMP/syn.out" "option conninfo is not a valid libpq connection string or URI" "a conninfo that does not parse: said so"
"$REVOPS" query -c "$TMP/pg.conf" -s nosock -q "SELECT 1" > "$TMP/ns.out" 2> "$TMP/ns.err"
is "$?" 1 "an unreachable socket: exit 1"
like "$TMP/ns.out" "cannot connect to PostgreSQL: connection to server on socket \\\"$TMP/nosuch/.s.PGSQL.$PG_PORT\\\" failed: No such file or directory" \
   "an unreachable socket: the socket and the reason"
like "$TMP/ns.err" "retry 1 of 1" "an unreachable server is transient: retried"
"$REVOPS" plugins -c "$TMP/pg.conf" > "$TMP/plugins.out" 2> "$TMP/plugins.err"
like "$TMP/plugins.out" "tool: sql_query" "revops plugins lists the tool"
like "$TMP/plugins.out" "conninfo               string, required, secret" "conninfo is a secret option"

# --------------------------------------------------------------- read-only --
"$REVOPS" query -c "$TMP/pg.conf" -s pg -q "SELECT write_audit()" > "$TMP/ro.out" 2> "$TMP/ro.err"
is "$?" 1 "a query that writes, in the default READ ONLY transaction: exit 1"
like "$TMP/ro.out" "cannot execute INSERT in a read-only transaction (SQLSTATE 25006)" "refused by the server"
"$REVOPS" query -c "$TMP/pg.conf" -s rw -q "SELECT write_audit() AS n" > "$TMP/rw.out" 2> "$TMP/rw.err"
is "$(jget "$TMP/rw.out" "d['success'], d['results']")" "(True, [[1]])" "read_only = false: the same query writes"
is "$(PG_DB=warehouse pg_psql -At -c 'SELECT count(*) FROM audit')" 1 "exactly one row written, by the read_only = false source"

if [ -x "$TOOL_CALL" ]; then
    TC() { "$TOOL_CALL" "$TMP/plugins/postgres.so" sql_query "$1" conninfo="$CONN" password=env:REVOPS_PG_PW read_only=false; }
    TC '{"sql": "SELECT id, name, day FROM t ORDER BY id", "limit": 3}' > "$TMP/tool.out" 2> "$TMP/tool.err"
    is "$?" 0 "tool sql_query: a SELECT with a limit"
    is "$(cat "$TMP/tool.out" | tr '\t\n' ',|')" "# id:integer name:text day:date|1,row-1,2026-01-02|2,row-2,2026-01-03|3,row-3,2026-01-04|" \
       "tool sql_query: columns, typed rows, the limit"
    TC '{"sql": "INSERT INTO audit VALUES (2) RETURNING n"}' > "$TMP/tool.out" 2> "$TMP/tool.err"
    is "$?" 2 "tool sql_query: an INSERT is refused (ERROR)"
    like "$TMP/tool.err" "only a SELECT or WITH statement is allowed (got 'INSERT')" "tool sql_query: says why"
    TC '{"sql": "SELECT write_audit()"}' > "$TMP/tool.out" 2> "$TMP/tool.err"
    is "$?" 2 "tool sql_query: a SELECT that writes is refused, even with read_only = false"
    like "$TMP/tool.err" "cannot execute INSERT in a read-only transaction (SQLSTATE 25006)" "tool sql_query: the transaction is READ ONLY"
    TC '{"sql": "WITH x AS (DELETE FROM t RETURNING id) SELECT count(*) FROM x"}' > "$TMP/tool.out" 2> "$TMP/tool.err"
    is "$?" 2 "tool sql_query: a WITH that deletes is refused"
    TC '{"sql": "SELECT 1", "limit": 0}' > "$TMP/tool.out" 2> "$TMP/tool.err"
    like "$TMP/tool.err" '"limit" must be an integer >= 1' "tool sql_query: the input is checked"
    is "$(PG_DB=warehouse pg_psql -At -c 'SELECT (SELECT count(*) FROM audit), (SELECT count(*) FROM t)')" "1|2500" \
       "nothing was written through the tool"
else
    ok 1 "$TOOL_CALL is built (tests/tool_call.c, a check program)"
fi

# --------------------------------------------------------------- row_limit --
"$REVOPS" query -c "$TMP/pg.conf" -p p -i accounts > "$TMP/rl.out" 2> "$TMP/rl.err"
is "$(jget "$TMP/rl.out" "d['chunked'], len(d['results']), d['results'][-1]")" "(False, 7, [7, 'row-7'])" "row_limit 7: seven rows"
"$REVOPS" query -c "$TMP/pg.conf" -p p -i opportunities --chunk 0 > "$TMP/rl2.out" 2> "$TMP/rl2.err"
is "$(jget "$TMP/rl2.out" "d['chunked'], len(d['results']), d['results'][-1][0]")" "(False, 650, 650)" "row_limit 650 across FETCHes of 300: 650 rows"

# ---------------------------------------------------------- reconnection --
# The first attempt kills its own backend (57P01, transient): the core
# retries the fetch, and the source reconnects instead of reusing the dead
# connection.
"$REVOPS" query -c "$TMP/pg.conf" -s rw \
    -q "SELECT id, CASE WHEN nextval('kill_once') = 1 THEN pg_terminate_backend(pg_backend_pid()) END AS k FROM t WHERE id <= 3 ORDER BY id" \
    > "$TMP/rc.out" 2> "$TMP/rc.err"
is "$?" 0 "a connection killed by the server: the retried fetch succeeds"
is "$(jget "$TMP/rc.out" "[r[0] for r in d['results']]")" "[1, 2, 3]" "with every row once"
like "$TMP/rc.err" "terminating connection due to administrator command" "the first attempt's reason is logged"
like "$TMP/rc.err" "retry 1 of 1" "and it was retried"

# ------------------------------------------------ A1 on the demo warehouse --
db="$TMP/warehouse.db"
"$top_builddir/demo/revops-demo-gen" --out "$db" --seed 42 --as-of 2026-11-01 > /dev/null
PG_DB=warehouse pg_psql > "$TMP/load.out" 2>&1 <<'SQL'
SET ROLE revops;
CREATE TABLE salesforce_account_d (sf_account_id text PRIMARY KEY, sf_account_name text NOT NULL,
  sf_account_type_custom text, account_region text, sf_industry text, sf_owner_id text,
  potential_account_spend_usd float8, created_at_ts timestamp);
CREATE TABLE opportunity_d (opportunity_id text PRIMARY KEY, opportunity_name text, opportunity_type text,
  sf_account_id text NOT NULL, stage_name text, amount float8, probability float8, close_date date,
  created_at_ts timestamp, closed_at_date date, closed_won_lost_reason text, owner_id text,
  last_stage_change_date date);
CREATE TABLE consumption_daily_d (consumption_date date NOT NULL, sf_account_id text NOT NULL,
  engine_hours float8, query_count int8, data_scanned_bytes int8);
SQL
is "$?" 0 "the demo warehouse's three A1 tables, typed, in PostgreSQL"
loaded=0
for tbl in salesforce_account_d opportunity_d consumption_daily_d; do
    cols=$(PG_DB=warehouse pg_psql -At -c "SELECT string_agg(column_name, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = '$tbl'")
    # REAL columns as %.17g text, so PostgreSQL gets the very same doubles.
    sel=$(sqlite3 "$db" "SELECT group_concat(CASE WHEN type = 'REAL' THEN 'printf(''%!.17g'', ' || name || ')' ELSE name END, ', ') FROM pragma_table_info('$tbl')")
    sqlite3 -csv "$db" "SELECT $sel FROM $tbl" > "$TMP/$tbl.csv"
    PG_DB=warehouse pg_psql -c "\\copy $tbl ($cols) FROM '$TMP/$tbl.csv' WITH (FORMAT csv)" >> "$TMP/load.out" 2>&1 || loaded=1
done
is "$loaded" 0 "sqlite3 -csv dumps loaded with COPY"
is "$(PG_DB=warehouse pg_psql -At -c 'SELECT (SELECT count(*) FROM salesforce_account_d), (SELECT count(*) FROM opportunity_d), (SELECT count(*) FROM consumption_daily_d)')" \
   "$(sqlite3 -separator '|' "$db" 'SELECT (SELECT count(*) FROM salesforce_account_d), (SELECT count(*) FROM opportunity_d), (SELECT count(*) FROM consumption_daily_d)')" \
   "the same row counts in both warehouses"

demo_conf "$db" 1000 "$TMP/sqlite.jsonl" "$TMP/a1_sqlite.conf"
sed -e "s|plugin = \"sqlite\";|plugin = \"postgres\"; conninfo = \"$CONN\"; password = \"env:REVOPS_PG_PW\";|" \
    -e "/database = /d" -e "s|$TMP/sqlite.jsonl|$TMP/pg.jsonl|" "$TMP/a1_sqlite.conf" > "$TMP/a1_pg.conf"
echo "plugin_dir = \"$TMP/plugins\";" >> "$TMP/a1_sqlite.conf"
echo "plugin_dir = \"$TMP/plugins\";" >> "$TMP/a1_pg.conf"
"$REVOPS" run -c "$TMP/a1_sqlite.conf" -p at_risk --session-id a1_sqlite > "$TMP/a1s.out" 2> "$TMP/a1s.err"
is "$?" 0 "A1 on the sqlite warehouse: exit 0"
conns_before=$(grep -c 'connection authorized: user=revops database=warehouse' "$PG_DIR/log")
"$REVOPS" run -c "$TMP/a1_pg.conf" -p at_risk --session-id a1_pg > "$TMP/a1p.out" 2> "$TMP/a1p.err"
is "$?" 0 "A1 on the postgres warehouse: exit 0"
conns_after=$(grep -c 'connection authorized: user=revops database=warehouse' "$PG_DIR/log")
is "$((conns_after - conns_before))" 1 "one connection served the three inputs"
n=$("$PYTHON" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["A1"]["accounts"]))' "$db.truth.json")
is "$(wc -l < "$TMP/pg.jsonl")" "$n" "postgres: one finding per planted at-risk account ($n)"
cmp -s "$TMP/sqlite.jsonl" "$TMP/pg.jsonl"; ok $? "the file action's JSONL is byte-identical for sqlite and postgres"
like "$TMP/a1p.out" "input usage <- warehouse: " "the summary names the postgres inputs"

# ----------------------------------------------------- no secret anywhere --
leaks=$(grep -lF -e "$PW" -e "$BADPW" "$TMP"/*.out "$TMP"/*.err 2>/dev/null)
is "$leaks" "" "neither password appears in any output of this test"

done_testing
