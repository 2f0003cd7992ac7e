#!/bin/sh
# The postgres_insights sink through the real binary against a real PostgreSQL
# server this test starts (tests/pg_server.sh; statements logged): the tables
# made at the first delivery with the designed column types; every column of
# every row checked against the host's finding JSON and the delivery id; a
# second run adds no row; batch_rows cuts the INSERTs, all parameterised, in
# one transaction per delivery; a table of the wrong shape rolls the whole
# delivery back with the server's message; a read-only role and a role without
# CREATE get clear final errors; an unreachable server is retried; a wrong
# password is final; hostile account names (and invalid UTF-8) round-trip byte
# for byte through the title template; no password in any output.
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
plugin_dir_with tp_rows.so tp_sum.so postgres_insights.so file.so sqlite.so at_risk_accounts.so

PW='Pgi-s3cret-71c9e2'
BADPW='Wr0ng-pgi-55d1'
export PGI_PW="$PW" PGI_BADPW="$BADPW"
export PGI_URI="postgresql://writer:$PW@/dw?host=$PG_DIR&port=$PG_PORT&application_name=pgi_uri"
CONN="host=$PG_DIR port=$PG_PORT dbname=dw"

pg_psql > "$TMP/setup.out" 2>&1 <<SQL
CREATE ROLE writer LOGIN PASSWORD '$PW';
CREATE ROLE reader LOGIN PASSWORD '$PW';
CREATE ROLE inserter LOGIN PASSWORD '$PW';
CREATE DATABASE dw OWNER writer;
ALTER SYSTEM SET log_statement = 'all';
ALTER SYSTEM SET log_line_prefix = '[%a] ';
SELECT pg_reload_conf();
SQL
is "$?" 0 "setup: roles writer (owns database dw), reader and inserter; statements logged"
q() { PG_DB=dw pg_psql -At -c "$1" 2>&1; }

# conf NAME ACTION-OPTIONS [FINDINGS]: tp_rows -> tp_sum (FINDINGS findings, default 4),
# routed to the sink "ins" and to a file action (the host's finding JSON).
conf() {
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/state";
retry = { interval = 0.01; backoff_rate = 2.0; max_attempts = 3; };
sources = { gen = { plugin = "tp_rows"; rows = 5; }; };
actions = { ins = { plugin = "postgres_insights"; outbox = false; $2 };
            copy = { plugin = "file"; path = "$TMP/$1.jsonl"; }; };
pipelines = { p = { analysis = "A5"; options = { findings = ${3:-4}; };
                    inputs = { rows = { source = "gen"; query = "all"; }; };
                    actions = ( { action = "ins"; min_priority = "low"; }, { action = "copy"; min_priority = "low"; } ); }; };
C
}
run() {  # run NAME [SESSION]: $TMP/NAME.out / .err, status in $rc
    rm -f "$TMP/$1.jsonl"
    REVOPS_NOW=2026-11-01T06:00:00 "$REVOPS" run -c "$TMP/$1.conf" --session-id "${2:-pgi_$1}" > "$TMP/$1.out" 2> "$TMP/$1.err"
    rc=$?
}
no_secrets() {  # no_secrets NAME MESSAGE
    cat "$TMP/$1.out" "$TMP/$1.err" "$TMP/state/runs.jsonl" 2>/dev/null > "$TMP/$1.all"
    leaked=""
    for s in "$PW" "$BADPW"; do grep -qF -- "$s" "$TMP/$1.all" && leaked="$leaked $s"; done
    is "$leaked" "" "$2"
}
# dump TABLE FILE: the table's rows as a JSON array (jsonb columns as JSON, ordered by key)
dump() {
    q "SELECT coalesce(json_agg(t ORDER BY 1), '[]') FROM $1 t" > "$2"
}
# check NAME SCRIPT ARGS: python over the dumps; output in $TMP/NAME.py
check() {
    n=$1 s=$2; shift 2
    "$PYTHON" -c "$CHECK_LIB$s" "$@" > "$TMP/$n.py" 2>&1
    cat "$TMP/$n.py"
}
CHECK_LIB='
import hashlib, json, sys
def findings(path):
    return {json.loads(l)["fingerprint"]: json.loads(l) for l in open(path, encoding="utf-8", errors="surrogateescape")}
def did(fp, action):
    return hashlib.sha256((fp + "\n" + action).encode()).hexdigest()[:32]
URG = {"low": 0.25, "medium": 0.5, "high": 0.75, "critical": 1.0}
'

# ------------------------------------------------------------ first delivery --
conf basic "conninfo = \"$CONN user=writer application_name=pgi_basic\"; password = \"env:PGI_PW\";"
run basic s1
is "$rc" 0 "first run: the sink delivers (exit 0)"
like "$TMP/basic.err" "created table revops_insights" "the insights table is made at the first delivery"
like "$TMP/basic.err" "4 insights written to revops_insights (0 already there), 8 of 8 pattern rows to revops_consumption_patterns" \
    "4 insights and 8 pattern rows written"
is "$(q "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'revops_insights'")" \
   "insight_id:text,fingerprint:text,session_id:text,pipeline:text,analysis:text,category:text,insight_type:text,account_id:text,account_name:text,owner:text,title:text,description:text,payload:jsonb,evidence:jsonb,confidence_score:double precision,impact_score:double precision,urgency_score:double precision,status:text,priority:text,created_at:timestamp without time zone,recommended_actions:jsonb,occurrence:integer" \
   "revops_insights: the designed columns and types"
is "$(q "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'revops_consumption_patterns'")" \
   "pattern_id:text,execution_id:text,execution_timestamp:timestamp without time zone,account_id:text,analysis:text,pattern_type:text,signal_name:text,value:double precision,threshold:double precision,weight:double precision,evidence:text" \
   "revops_consumption_patterns: the designed columns and types"
is "$(q "SELECT string_agg(c.relname || '(' || a.attname || ')', ',' ORDER BY c.relname) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] WHERE i.indisprimary AND c.relname LIKE 'revops_%'")" \
   "revops_consumption_patterns(pattern_id),revops_insights(insight_id)" "primary keys: insight_id, pattern_id"
dump revops_insights "$TMP/ins1.json"
dump revops_consumption_patterns "$TMP/pat1.json"
check rows1 '
fs = findings(sys.argv[1]); rows = json.load(open(sys.argv[2]))
bad = []
for r in rows:
    f = fs.get(r["fingerprint"])
    if not f: bad.append("unknown fingerprint"); continue
    want = {"insight_id": did(f["fingerprint"], "ins"), "session_id": "s1", "pipeline": "p", "analysis": f["analysis"],
            "category": f["category"], "insight_type": f["category"], "account_id": f["account_id"],
            "account_name": f["account_name"], "owner": f.get("owner"), "title": f["title"], "description": f["description"],
            "payload": f, "evidence": f["signals"], "confidence_score": f["confidence"], "impact_score": f["score"],
            "urgency_score": URG[f["priority"]], "status": "open", "priority": f["priority"],
            "created_at": "2026-11-01T06:00:00", "recommended_actions": f["recommended_actions"], "occurrence": 1}
    for k, v in want.items():
        if r[k] != v: bad.append("%s: %r != %r" % (k, r[k], v))
print(len(rows), len(fs), sorted({r["priority"] for r in rows}), bad)' "$TMP/basic.jsonl" "$TMP/ins1.json"
is "$(cat "$TMP/rows1.py")" "4 4 ['critical', 'high', 'low', 'medium'] []" \
    "each insight row: id = delivery id, session, pipeline, category = insight_type, payload = the finding JSON, evidence = its signals, scores (urgency by priority), status open, created_at, actions, occurrence 1"
check pats1 '
fs = findings(sys.argv[1]); rows = json.load(open(sys.argv[2]))
want = {}
for f in fs.values():
    for i, s in enumerate(f["signals"]):
        want["%s:%d" % (did(f["fingerprint"], "ins"), i)] = {"execution_id": "s1", "execution_timestamp": "2026-11-01T06:00:00",
            "account_id": f["account_id"], "analysis": "A5", "pattern_type": f["category"], "signal_name": s["name"],
            "value": s["value"], "threshold": s["threshold"], "weight": s["weight"], "evidence": s["evidence"]}
got = {r.pop("pattern_id"): r for r in rows}
print(len(rows), got == want)' "$TMP/basic.jsonl" "$TMP/pat1.json"
is "$(cat "$TMP/pats1.py")" "8 True" "one pattern row per signal: <delivery id>:<index>, session, timestamp, account, category, the signal's values and evidence"
is "$(q "SELECT pg_typeof(created_at)::text || ' ' || (payload->>'account_id') || ' ' || jsonb_typeof(evidence) || ' ' || (evidence->0->>'name') || ' ' || (evidence->0->>'weight')::float8 FROM revops_insights ORDER BY account_id LIMIT 1")" \
    "timestamp without time zone acct-000 array rows 0.5" "jsonb columns answer JSON operators (payload->>'account_id', evidence->0)"
no_secrets basic "no password in the output"

# ------------------------------------------------- a second delivery of the same --
run basic s2
is "$rc" 0 "second run of the same findings: exit 0"
like "$TMP/basic.err" "0 insights written to revops_insights (4 already there), 0 of 8 pattern rows" "the second delivery writes nothing"
is "$(q "SELECT count(*), count(DISTINCT insight_id), min(session_id), max(session_id) FROM revops_insights")" "4|4|s1|s1" \
    "still 4 rows, the first delivery's (ON CONFLICT DO NOTHING)"
is "$(q "SELECT count(*) FROM revops_consumption_patterns")" 8 "still 8 pattern rows"
tail -n 1 "$TMP/state/runs.jsonl" > "$TMP/rec2.json"
is "$(jget "$TMP/rec2.json" "[(a['delivered'], a['failed']) for a in d['actions'] if a['action'] == 'ins']")" "[(4, 0)]" \
    "the repeated deliveries count as delivered"

# ------------------------------------------------ a table locked by someone else --
PGAPPNAME=pgi_locker PG_DB=dw pg_psql -c "BEGIN; LOCK TABLE revops_insights IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60)" \
    > /dev/null 2>&1 &
for _ in $(seq 100); do
    [ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'revops_insights' AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ] && break
    sleep 0.05
done
conf locked "conninfo = \"$CONN user=writer\"; password = \"env:PGI_PW\"; statement_timeout_ms = 200;" 5
run locked
is "$rc" 3 "the insights table locked through the run: exit 3"
like "$TMP/locked.err" "5 deliveries will be retried" "a statement timeout is RETRY"
like "$TMP/locked.err" "canceling statement due to statement timeout (SQLSTATE 57014)" "the reason is the server's"
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgi_locker'" > /dev/null
wait
run locked
is "$rc" 0 "the lock gone, the next run delivers"
is "$(q "SELECT count(*) FROM revops_insights WHERE session_id = 'pgi_locked'")" 1 \
    "the one new finding (5 findings, 4 already there: the same delivery ids)"

# ----------------------------------------- batching, parameters, one transaction --
conf b3 "conninfo = \"$CONN user=writer application_name=pgi_b3\"; password = \"env:PGI_PW\"; table_prefix = \"b3_\"; batch_rows = 3;" 7
run b3
is "$rc" 0 "batch_rows = 3, 7 findings: exit 0"
is "$(q "SELECT (SELECT count(*) FROM b3_insights) || ' ' || (SELECT count(*) FROM b3_consumption_patterns)")" "7 14" \
    "7 insights, 14 pattern rows in the b3_ tables"
# The statements this run sent, in order, by kind.
grep '^\[pgi_b3\] LOG:  \(statement\|execute\)' "$PG_DIR/log" > "$TMP/b3.log"
sed -e 's/^\[pgi_b3\] LOG:  [a-z]*[^:]*: //' -e 's/^\(INSERT INTO "[a-z0-9_]*"\).*/\1/' -e 's/^\(CREATE [A-Z]*\).*/\1/' \
    -e 's/^\(SELECT\).*/\1/' -e 's/^\(BEGIN\).*/\1/' "$TMP/b3.log" | tr '\n' '|' > "$TMP/b3.seq"
is "$(cat "$TMP/b3.seq")" \
   'BEGIN|SELECT|CREATE TABLE|CREATE TABLE|INSERT INTO "b3_insights"|INSERT INTO "b3_insights"|INSERT INTO "b3_insights"|INSERT INTO "b3_consumption_patterns"|INSERT INTO "b3_consumption_patterns"|INSERT INTO "b3_consumption_patterns"|INSERT INTO "b3_consumption_patterns"|INSERT INTO "b3_consumption_patterns"|COMMIT|' \
   "one transaction: BEGIN, the tables looked up and made, 3 + 5 INSERTs of at most 3 rows, COMMIT"
grep 'INSERT INTO' "$TMP/b3.log" | grep -c 'VALUES (\$1, \$2, \$3' > "$TMP/b3.params"
is "$(cat "$TMP/b3.params")" 8 "every INSERT is parameterised (\$1, \$2, ...)"
grep 'INSERT INTO' "$TMP/b3.log" | grep -c "acct-\|'open'\|A5" > "$TMP/b3.pasted"
is "$(cat "$TMP/b3.pasted")" 0 "no value is pasted into the SQL text"
is "$(grep 'INSERT INTO "b3_insights"' "$TMP/b3.log" | sed 's/) ON CONFLICT.*//' | awk -F'), [(]' '{ printf "%d ", NF }')" "3 3 1 " \
    "3, 3 and 1 rows per insights INSERT"

# ------------------------------------------ a table of another shape: rollback --
PG_DB=dw pg_psql > "$TMP/bad.setup" 2>&1 <<'SQL'
SET ROLE writer;
CREATE TABLE bad_consumption_patterns (pattern_id text PRIMARY KEY, execution_id text, execution_timestamp timestamp,
  account_id text, analysis text, pattern_type text, signal_name text, value float8, threshold float8, evidence text);
CREATE TABLE nokey_insights (insight_id text, fingerprint text, session_id text, pipeline text, analysis text, category text,
  insight_type text, account_id text, account_name text, owner text, title text, description text, payload jsonb,
  evidence jsonb, confidence_score float8, impact_score float8, urgency_score float8, status text, priority text,
  created_at timestamp, recommended_actions jsonb, occurrence int);
SQL
is "$?" 0 "setup: a pattern table without weight, an insights table without a unique key"
conf bad "conninfo = \"$CONN user=writer\"; password = \"env:PGI_PW\"; table_prefix = \"bad_\";"
run bad
is "$rc" 3 "a pattern table without the weight column: the deliveries fail (exit 3)"
like "$TMP/bad.err" 'not delivered: INSERT INTO bad_consumption_patterns failed: column "weight" of relation "bad_consumption_patterns" does not exist (SQLSTATE 42703)' \
    "ERROR with the server's message and SQLSTATE"
unlike "$TMP/bad.err" "will be retried" "a wrong table shape is final, not retried"
is "$(q "SELECT to_regclass('bad_insights') IS NULL")" t "the delivery's transaction rolled back: not even bad_insights stays"
conf nokey "conninfo = \"$CONN user=writer\"; password = \"env:PGI_PW\"; table_prefix = \"nokey_\";"
run nokey
is "$rc" 3 "an insights table without a unique key: exit 3"
like "$TMP/nokey.err" "INSERT INTO nokey_insights failed: there is no unique or exclusion constraint matching the ON CONFLICT specification (SQLSTATE 42P10)" \
    "ERROR: the server says the unique key is missing"
is "$(q "SELECT count(*) FROM nokey_insights")" 0 "nothing written"

# ------------------------------------------------------------------ privileges --
q "GRANT SELECT ON revops_insights, revops_consumption_patterns TO reader;
   GRANT SELECT, INSERT ON revops_insights, revops_consumption_patterns TO inserter" > "$TMP/grant.out"
conf ro "conninfo = \"$CONN user=reader\"; password = \"env:PGI_PW\";"
run ro
is "$rc" 3 "a read-only role: the deliveries fail (exit 3)"
like "$TMP/ro.err" "not delivered: INSERT INTO revops_insights failed: permission denied for table revops_insights (SQLSTATE 42501)" \
    "a clear ERROR: permission denied, with the SQLSTATE"
unlike "$TMP/ro.err" "will be retried" "not retried"
no_secrets ro "no password in the output"
sed 's/user=reader/user=inserter/; s/ins = {/ins2 = {/; s/action = "ins"/action = "ins2"/' "$TMP/ro.conf" > "$TMP/insert.conf"
run insert
is "$rc" 0 "a role that may only SELECT and INSERT, into tables that exist: exit 0"
is "$(q "SELECT count(*) FROM revops_insights WHERE session_id = 'pgi_insert'")" 4 "its 4 insights are there (another action instance: other delivery ids)"
conf nocreate "conninfo = \"$CONN user=inserter\"; password = \"env:PGI_PW\"; table_prefix = \"new_\";"
run nocreate
is "$rc" 3 "the same role, tables absent: exit 3"
like "$TMP/nocreate.err" "creating table new_insights failed: permission denied for schema public (SQLSTATE 42501)" \
    "ERROR: it may not create the table"

# --------------------------------------------------------- connection failures --
conf nosock "conninfo = \"host=$TMP/nosuch port=$PG_PORT dbname=dw user=writer\"; password = \"env:PGI_PW\";"
run nosock
is "$rc" 3 "no server listening: exit 3 once the retries ran out"
like "$TMP/nosock.err" "4 deliveries will be retried" "a refused connection is RETRY (the core retried)"
like "$TMP/nosock.err" "not delivered: cannot connect to PostgreSQL: " "the reason names the connection"
conf badpw "conninfo = \"$CONN user=writer\"; password = \"env:PGI_BADPW\";"
run badpw
is "$rc" 3 "a wrong password: exit 3"
like "$TMP/badpw.err" 'password authentication failed for user "writer" (SQLSTATE 28P01)' "the server's message and SQLSTATE"
unlike "$TMP/badpw.err" "will be retried" "a wrong password is final"
no_secrets badpw "neither password in the output"
export PGI_BADSYNTAX="host=$PG_DIR password=$PW dbname"
conf badsyntax "conninfo = \"env:PGI_BADSYNTAX\";"
run badsyntax
is "$rc" 3 "a conninfo that does not parse: exit 3"
like "$TMP/badsyntax.err" "option conninfo is not a valid libpq connection string or URI" "the option is named"
no_secrets badsyntax "the password inside it is not shown"
conf uri "conninfo = \"env:PGI_URI\"; table_prefix = \"uri_\";"
run uri
is "$rc" 0 "a URI conninfo with its password: exit 0"
no_secrets uri "the URI's password is not in the output"
conf prefix "conninfo = \"$CONN user=writer\"; password = \"env:PGI_PW\"; table_prefix = \"x\\\"; DROP TABLE revops_insights; --\";"
run prefix
is "$rc" 3 "a table_prefix that is not a plain name: exit 3"
like "$TMP/prefix.err" "option table_prefix must be lower-case letters, digits and '_'" "the option is named"
is "$(q "SELECT count(*) > 0 FROM revops_insights")" t "and nothing happened to the tables"
conf schema "conninfo = \"$CONN user=writer\"; password = \"env:PGI_PW\"; schema = \"dash\"; table_prefix = \"\";"
q "CREATE SCHEMA dash AUTHORIZATION writer" > /dev/null
run schema
is "$rc" 0 "schema dash, no prefix: exit 0"
is "$(q "SELECT (SELECT count(*) FROM dash.insights) || ' ' || (SELECT count(*) FROM dash.consumption_patterns)")" "4 8" \
    "tables dash.insights and dash.consumption_patterns"

# ----------------------------------------------- hostile names (demo A1) --
db="$TMP/warehouse.db"
"$top_builddir/demo/revops-demo-gen" --out "$db" --seed 42 --as-of 2026-11-01 > /dev/null
cp "$top_srcdir/config/queries.conf" "$TMP/queries.conf"
a1conf() {  # a1conf NAME ACTIONS ROUTES
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/state";
query_library = "queries.conf";
sources = { warehouse = { plugin = "sqlite"; database = "$db"; }; };
actions = { copy = { plugin = "file"; path = "$TMP/$1.jsonl"; }; $2 };
pipelines = { at_risk = { analysis = "A1"; options = { as_of = "2026-11-01"; };
  inputs = { accounts = { source = "warehouse"; named_query = "a1_accounts"; };
             opportunities = { source = "warehouse"; named_query = "a1_opportunities"; };
             usage = { source = "warehouse"; named_query = "a1_usage"; }; };
  actions = ( { action = "copy"; min_priority = "low"; } $3 ); }; };
C
}
a1conf a1plain "" ""
run a1plain
is "$rc" 0 "the demo's A1 pipeline runs"
"$PYTHON" - "$db" "$TMP/a1plain.jsonl" > "$TMP/hostile.out" <<'PY'
import json, sqlite3, sys
names = ['Quote "Co" \\ back\\slash \'single\' $1 %s', '<script>alert("x")</script> & <!channel> <@U123>',
         "Line one\nLine two\r\n\ttabbed \u0001 ctl'); DROP TABLE revops_insights; --", "\u00c9" * 5000 + "long" + "x" * 4996,
         'emoji \U0001F680 ok}{"]\\u0000']
accts = sorted({json.loads(l)["account_id"] for l in open(sys.argv[2], encoding="utf-8")})
con = sqlite3.connect(sys.argv[1])
for i, a in enumerate(accts):
    con.execute("UPDATE salesforce_account_d SET sf_account_name = ? WHERE sf_account_id = ?", (names[i % len(names)], a))
# one name that is not UTF-8 at all (Latin-1 bytes)
con.execute("UPDATE salesforce_account_d SET sf_account_name = CAST(? AS TEXT) WHERE sf_account_id = ?", (b"Caf\xe9 \xff end", accts[-1]))
con.commit()
print(len(accts), len(names[3]))
PY
is "$(cut -d' ' -f2 "$TMP/hostile.out")" 10000 "one name is 10,000 characters"
a1conf hostile "ins = { plugin = \"postgres_insights\"; conninfo = \"$CONN user=writer\"; password = \"env:PGI_PW\";
                      table_prefix = \"a1_\"; title = \"{{account_name}}: {{title}}\"; };" \
    ', { action = "ins"; min_priority = "low"; }'
run hostile
is "$rc" 0 "hostile names: every delivery succeeds (exit 0)"
dump a1_insights "$TMP/ins_h.json"
check hostile '
fs = findings(sys.argv[1]); rows = json.load(open(sys.argv[2]))
fix = lambda s: s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")   # invalid bytes -> U+FFFD each
close = lambda a, b: all(x["name"] == y["name"] and x["evidence"] == y["evidence"] and
                         all(abs(x[k] - y[k]) < 6e-5 for k in ("value", "threshold", "weight")) for x, y in zip(a, b))
bad = []; names = set()
for r in rows:
    f = fs[r["fingerprint"]]
    name = fix(f["account_name"])
    names.add(r["account_name"][:10])
    if r["account_name"] != name: bad.append(("name", r["account_name"][:30], name[:30]))
    if r["title"] != name + ": " + fix(f["title"]): bad.append(("title", r["title"][:30]))
    if r["description"] != fix(f["description"]): bad.append("description")
    if r["payload"]["account_name"] != name: bad.append("payload")
    if len(r["evidence"]) != len(f["signals"]) or not close(r["evidence"], r["payload"]["signals"]): bad.append("evidence")
print(len(rows) == len(fs) > 5, max(len(r["account_name"]) for r in rows), bad)
print(ascii(sorted(names)))' "$TMP/hostile.jsonl" "$TMP/ins_h.json"
like "$TMP/hostile.py" "True 10000 []" \
    "every name, title (template {{account_name}}: {{title}}), description and payload round-trips byte for byte (the 10,000-character name whole); evidence = the signals"
like "$TMP/hostile.py" "'<script>al'" "the <script> name is among them"
like "$TMP/hostile.py" "'Line one\\nL" "the one with line breaks and an SQL injection too"
like "$TMP/hostile.py" "'Quote \"Co\"" "and the one with quotes, backslashes and \$1"
like "$TMP/hostile.py" "'Caf\\ufffd \\ufffd e" "invalid UTF-8 is written with U+FFFD"
like "$TMP/hostile.err" "bytes of invalid UTF-8 written as U+FFFD" "and a warning says so"
is "$(q "SELECT count(*) FROM revops_insights")" 9 "the SQL in a name did nothing to the other tables"
no_secrets hostile "no password in the output"

done_testing
