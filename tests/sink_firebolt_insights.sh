#!/bin/sh
# The firebolt_insights action against tests/fake_firebolt.py in SQLite mode
# (Firebolt's REST query API; CREATE TABLE / INSERT / SELECT executed with
# Firebolt's literal, nullability and type rules on a SQLite file this test
# reads directly): the two tables and their column types, one row per finding
# and one per signal with every column as designed; a second delivery of the
# same findings adds nothing (SELECT of the batch's ids first); pattern rows
# left by a call that failed half-way are not inserted twice; at most
# batch_rows rows per INSERT; 429 / 503 / a refused connection are RETRY,
# a refusal (permission, a table of another shape) is ERROR with Firebolt's
# words; hostile account names and template text round-trip byte for byte;
# no secret or token in any output.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
plugin_dir_with tp_rows.so tp_sum.so firebolt_insights.so file.so
mkdir -p "$TMP/out"
FB_TEST_ID="svc-id-$$-fbi1"
FB_TEST_SECRET="svc-secret-$$-Wq7s"
FB_WRONG_SECRET="wrong-secret-$$-Kd2"
export FB_TEST_ID FB_TEST_SECRET FB_WRONG_SECRET
export REVOPS_NOW=2026-11-01T06:30:00
NOW="2026-11-01 06:30:00"
DB="$TMP/firebolt.sqlite"
REC="$TMP/requests.jsonl"

# Our own starter: the fake in SQLite mode with a request record; it exits
# when the test does (its stdin is a fifo held open by fd 7).
fbi_fake() {
    fifo="$TMP/fbi_fake.$$.in"
    mkfifo "$fifo"
    : > "$REC"
    env FB_CLIENT_ID="$FB_TEST_ID" FB_CLIENT_SECRET="$FB_TEST_SECRET" FB_ACCOUNT=acme FB_DATABASE=revops \
        FB_ENGINE=analytics FB_SQLITE="$DB" FB_RECORD="$REC" \
        "$PYTHON" "$top_srcdir/tests/fake_firebolt.py" < "$fifo" > "$TMP/fake.port" 2> "$TMP/fake.err" &
    exec 7> "$fifo"
    for _ in $(seq 100); do
        grep -q PORT "$TMP/fake.port" 2>/dev/null && break
        sleep 0.05
    done
    FAKE_PORT=$(sed -n 's/^PORT //p' "$TMP/fake.port")
    [ -n "$FAKE_PORT" ] || { echo "Bail out! fake_firebolt.py did not start: $(cat "$TMP/fake.err")"; exit 1; }
}
fbi_fake

# fb_ctl reset | fb_ctl fault "KIND TIMES" | fb_ctl stats PYTHON-EXPRESSION (on d)
fb_ctl() {
    "$PYTHON" - "$FAKE_PORT" "$@" <<'PY'
import json, sys, urllib.request
port, cmd = sys.argv[1], sys.argv[2]
base = "http://127.0.0.1:%s/control/" % port
if cmd == "stats":
    d = json.load(urllib.request.urlopen(base + "stats"))
    print(eval(sys.argv[3]))
else:
    urllib.request.urlopen(urllib.request.Request(base + cmd, data=(sys.argv[3] if len(sys.argv) > 3 else "").encode())).read()
PY
}
# fb_sql SQL: one statement on the fake's user engine, as a client would send it
fb_sql() {
    "$PYTHON" - "$FAKE_PORT" "$1" <<'PY'
import json, os, sys, urllib.parse, urllib.request
port, sql = sys.argv[1], sys.argv[2]
form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": os.environ["FB_TEST_ID"],
                               "client_secret": os.environ["FB_TEST_SECRET"], "audience": "https://api.firebolt.io"})
tok = json.load(urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%s/oauth/token" % port, data=form.encode(),
      headers={"Content-Type": "application/x-www-form-urlencoded"})))["access_token"]
req = urllib.request.Request("http://127.0.0.1:%s/engine?engine=analytics&database=revops&output_format=JSON_Compact" % port,
                             data=sql.encode(), headers={"Authorization": "Bearer " + tok, "Content-Type": "text/plain"})
urllib.request.urlopen(req).read()
PY
}
# q PYTHON-EXPRESSION: evaluated with db (the fake's SQLite file) and rows(sql)
q() {
    "$PYTHON" - "$DB" "$1" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = lambda sql, *a: db.execute(sql, a).fetchall()
v = eval(sys.argv[2])
print(" ".join(map(str, v)) if isinstance(v, tuple) else v)
PY
}
# req PYTHON-EXPRESSION: evaluated on the request record (r: the list of requests, stmts: the SQL bodies
# sent to the engine, params: their query strings)
req() {
    "$PYTHON" - "$REC" "$1" <<'PY'
import json, re, sys
r = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
q = [x for x in r if x["path"] in ("/engine", "/system") and not x["body"].startswith("SELECT url FROM information_schema")]
stmts = [x["body"] for x in q]
params = [x["params"] for x in q]
kind = lambda s: " ".join(s.split()[:3])
print(eval(sys.argv[2]))
PY
}
PIPE='p = { analysis = "A5"; inputs = { rows = { source = "gen"; query = "all"; }; };
        actions = ( { action = "fbi"; min_priority = "low"; }, { action = "out"; min_priority = "low"; } ); };'
# conf NAME FBI-OPTIONS [PIPELINES] [ANALYSIS-OPTIONS]: tp_rows -> tp_sum -> the sink and a findings file;
# each configuration has its own state directory (a fresh outbox: its findings are delivered)
conf() {
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/state.$1";
retry = { interval = 0.05; backoff_rate = 2.0; max_attempts = 3; };
sources = { gen = { plugin = "tp_rows"; rows = 5; }; };
actions = {
  fbi = { plugin = "firebolt_insights"; client_id = "env:FB_TEST_ID"; client_secret = "env:FB_TEST_SECRET";
          account = "acme"; database = "revops"; engine = "analytics";
          id_url = "http://127.0.0.1:$FAKE_PORT/oauth/token"; api_url = "http://127.0.0.1:$FAKE_PORT"; $2 };
  out = { plugin = "file"; path = "$TMP/$1.jsonl"; };
};
pipelines = { ${3:-$PIPE} };
C
    [ -n "${4:-}" ] && sed -i "s|analysis = \"A5\";|analysis = \"A5\"; options = { $4 };|" "$TMP/$1.conf"
    return 0
}
# derive SRC DST SED-EXPRESSION: a copy of configuration SRC with its own state directory
derive() {
    sed -e "s|state_dir = \"$TMP/state.$1\";|state_dir = \"$TMP/state.$2\";|" -e "$3" "$TMP/$1.conf" > "$TMP/$2.conf"
}
run() {  # run NAME CONF [args]: revops run -> $TMP/out/NAME.{out,err}; $rc; the run record in $TMP/out/NAME.record
    n=$1 c=$2; shift 2
    "$REVOPS" run -c "$TMP/$c.conf" "$@" > "$TMP/out/$n.out" 2> "$TMP/out/$n.err"
    rc=$?
    tail -n 1 "$TMP/state.$c/runs.jsonl" > "$TMP/out/$n.record" 2>/dev/null
}

# ---------------------------------------------------------------- first run --
conf basic ''
fb_ctl reset; : > "$REC"
REVOPS_LOG_LEVEL=debug run basic basic --session-id s_first
is "$rc" 0 "first run: every finding delivered"
is "$(q "rows('SELECT tbl, col, type, nullable FROM _fb_columns ORDER BY tbl, pos')")" \
   "[('revops_consumption_patterns', 'pattern_id', 'TEXT', 0), ('revops_consumption_patterns', 'execution_id', 'TEXT', 1), ('revops_consumption_patterns', 'execution_timestamp', 'TIMESTAMP', 1), ('revops_consumption_patterns', 'account_id', 'TEXT', 1), ('revops_consumption_patterns', 'analysis', 'TEXT', 1), ('revops_consumption_patterns', 'pattern_type', 'TEXT', 1), ('revops_consumption_patterns', 'signal_name', 'TEXT', 1), ('revops_consumption_patterns', 'value', 'DOUBLE PRECISION', 1), ('revops_consumption_patterns', 'threshold', 'DOUBLE PRECISION', 1), ('revops_consumption_patterns', 'weight', 'DOUBLE PRECISION', 1), ('revops_consumption_patterns', 'evidence', 'TEXT', 1), ('revops_insights', 'insight_id', 'TEXT', 0), ('revops_insights', 'fingerprint', 'TEXT', 0), ('revops_insights', 'session_id', 'TEXT', 1), ('revops_insights', 'pipeline', 'TEXT', 1), ('revops_insights', 'analysis', 'TEXT', 1), ('revops_insights', 'category', 'TEXT', 1), ('revops_insights', 'insight_type', 'TEXT', 1), ('revops_insights', 'account_id', 'TEXT', 1), ('revops_insights', 'account_name', 'TEXT', 1), ('revops_insights', 'owner', 'TEXT', 1), ('revops_insights', 'title', 'TEXT', 1), ('revops_insights', 'description', 'TEXT', 1), ('revops_insights', 'payload', 'TEXT', 1), ('revops_insights', 'evidence', 'TEXT', 1), ('revops_insights', 'confidence_score', 'DOUBLE PRECISION', 1), ('revops_insights', 'impact_score', 'DOUBLE PRECISION', 1), ('revops_insights', 'urgency_score', 'DOUBLE PRECISION', 1), ('revops_insights', 'status', 'TEXT', 1), ('revops_insights', 'priority', 'TEXT', 1), ('revops_insights', 'created_at', 'TIMESTAMP', 1), ('revops_insights', 'recommended_actions', 'TEXT', 1), ('revops_insights', 'occurrence', 'INTEGER', 1)]" \
   "the tables revops_insights and revops_consumption_patterns, created at the first delivery: every column and Firebolt type as designed (ids NOT NULL)"
is "$(q "rows('SELECT count(*) FROM revops_insights')[0][0], rows('SELECT count(*) FROM revops_consumption_patterns')[0][0]")" "4 8" \
   "4 insight rows, 8 pattern rows (2 signals each)"
"$PYTHON" - "$DB" "$TMP/basic.jsonl" > "$TMP/check" <<'PY'
import hashlib, json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.row_factory = sqlite3.Row
finds = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
urg = {"low": 0.25, "medium": 0.5, "high": 0.75, "critical": 1.0}
bad = []
for f in finds:
    did = hashlib.sha256((f["fingerprint"] + "\nfbi").encode()).hexdigest()[:32]
    r = db.execute("SELECT * FROM revops_insights WHERE insight_id = ?", (did,)).fetchall()
    if len(r) != 1:
        bad.append("%s: %d rows" % (f["account_id"], len(r))); continue
    r = dict(r[0])
    want = {"fingerprint": f["fingerprint"], "session_id": "s_first", "pipeline": "p", "analysis": "A5",
            "category": "test", "insight_type": "test", "account_id": f["account_id"], "account_name": None,
            "owner": None, "title": f["title"], "description": "a test finding", "confidence_score": 1.0,
            "impact_score": f["score"], "urgency_score": urg[f["priority"]], "status": "open",
            "priority": f["priority"], "created_at": "2026-11-01 06:30:00", "recommended_actions": "[]",
            "occurrence": 1}
    for k, v in want.items():
        if r[k] != v:
            bad.append("%s %s: %r, not %r" % (f["account_id"], k, r[k], v))
    payload = json.loads(r["payload"])
    if payload.get("fingerprint") != f["fingerprint"] or payload.get("title") != f["title"] or payload.get("signals") != f["signals"]:
        bad.append("payload %r" % r["payload"][:80])
    ev = json.loads(r["evidence"])
    if ev != [{k: s.get(k) for k in ("name", "value", "threshold", "weight", "evidence")} for s in f["signals"]]:
        bad.append("evidence %r" % r["evidence"])
    pats = [dict(p) for p in db.execute("SELECT * FROM revops_consumption_patterns WHERE pattern_id LIKE ? ORDER BY pattern_id", (did + ":%",))]
    wantp = [{"pattern_id": "%s:%d" % (did, i), "execution_id": "s_first", "execution_timestamp": "2026-11-01 06:30:00",
              "account_id": f["account_id"], "analysis": "A5", "pattern_type": "test", "signal_name": s["name"],
              "value": s["value"], "threshold": s["threshold"], "weight": s["weight"], "evidence": s.get("evidence")}
             for i, s in enumerate(f["signals"])]
    if pats != wantp:
        bad.append("patterns %r" % pats[:1])
print("%d findings checked; problems: %r" % (len(finds), bad[:3]))
PY
is "$(cat "$TMP/check")" "4 findings checked; problems: []" \
   "each insight row: insight_id = the delivery id, fingerprint, session, pipeline, analysis, category = insight_type, account, title, description, payload (the finding's JSON), evidence (its signals), scores (urgency from the priority), status open, created_at, actions, occurrence; each signal a pattern row <delivery id>:<index>"
is "$(req "[kind(s) for s in stmts]")" \
   "['CREATE TABLE IF', 'CREATE TABLE IF', 'SELECT insight_id FROM', 'SELECT pattern_id FROM', 'INSERT INTO revops_consumption_patterns', 'INSERT INTO revops_insights']" \
   "the statements: two CREATE TABLE IF NOT EXISTS, the SELECT of the batch's ids, the SELECT of their pattern ids, one INSERT per table"
is "$(req "sorted(set(tuple(sorted(p.items())) for p in params))")" \
   "[(('database', 'revops'), ('engine', 'analytics'), ('output_format', 'JSON_Compact'), ('standard_conforming_strings', 'true'))]" \
   "every statement went to the user engine with database, JSON_Compact and standard_conforming_strings=true in the query string"
is "$(fb_ctl stats "d['token_requests'], d['engine_url_requests'], d['engine_lookups'], d['violations']")" "(1, 1, 1, [])" \
   "one token, one engineUrl and one engine lookup for the run; the fake saw the documented protocol"
like "$TMP/out/basic.err" "4 findings: 0 already in revops_insights, 4 insight rows and 8 pattern rows inserted in 2 statements" \
   "the log says what was written"

# ------------------------------------------------- second run: no duplicates --
# The same findings delivered again, as after a crash before the outbox marked
# them delivered: a configuration with a fresh state directory.
derive basic again ''
: > "$REC"
run again again --session-id s_second
is "$rc" 0 "second run of the same findings: delivered"
is "$(q "rows('SELECT count(*) FROM revops_insights')[0][0], rows('SELECT count(*) FROM revops_consumption_patterns')[0][0], rows('SELECT DISTINCT session_id FROM revops_insights')")" \
   "4 8 [('s_first',)]" "no second row for any finding or signal: the rows of the first run stay"
is "$(req "[kind(s) for s in stmts]")" "['CREATE TABLE IF', 'CREATE TABLE IF', 'SELECT insight_id FROM']" \
   "the second run found all 4 ids with one SELECT and inserted nothing"
like "$TMP/out/again.err" "4 findings: 4 already in revops_insights, 0 insight rows and 0 pattern rows inserted" "and says so"

# ------------------------------------------------ batch_rows: 7 findings, 3 --
conf batch 'table_prefix = "b_"; batch_rows = 3;' '' 'findings = 7;'
: > "$REC"
run batch batch
is "$rc" 0 "7 findings with batch_rows = 3: delivered"
is "$(q "rows('SELECT count(*) FROM b_insights')[0][0], rows('SELECT count(*) FROM b_consumption_patterns')[0][0], rows('SELECT count(DISTINCT insight_id) FROM b_insights')[0][0]")" \
   "7 14 7" "table_prefix b_: 7 insight rows, 14 pattern rows, no id twice"
is "$(req "[(kind(s), s.count(chr(10) + '(') + s.count('VALUES (') if s.startswith('INSERT') else s.count(\"', '\") + 1) for s in stmts if not s.startswith('CREATE')]")" \
   "[('SELECT insight_id FROM', 3), ('SELECT insight_id FROM', 3), ('SELECT insight_id FROM', 1), ('SELECT pattern_id FROM', 3), ('SELECT pattern_id FROM', 3), ('SELECT pattern_id FROM', 3), ('SELECT pattern_id FROM', 3), ('SELECT pattern_id FROM', 2), ('INSERT INTO b_consumption_patterns', 3), ('INSERT INTO b_consumption_patterns', 3), ('INSERT INTO b_consumption_patterns', 3), ('INSERT INTO b_consumption_patterns', 3), ('INSERT INTO b_consumption_patterns', 2), ('INSERT INTO b_insights', 3), ('INSERT INTO b_insights', 3), ('INSERT INTO b_insights', 1)]" \
   "at most 3 ids per SELECT and 3 rows per multi-row INSERT (7 insights in 3 statements, 14 patterns in 5)"

# -------------------------------------- a call that failed half-way before --
# Left behind by an earlier call: both pattern rows of finding 0 (no insight
# row: it failed before), and the insight row of finding 1 (it was stored).
"$PYTHON" - "$TMP/basic.jsonl" > "$TMP/ids" <<'PY'
import hashlib, json, sys
f = sorted({json.loads(l)["account_id"]: json.loads(l) for l in open(sys.argv[1], encoding="utf-8")}.items())
f = [x for _, x in f]
for x in f[:2]:
    print(hashlib.sha256((x["fingerprint"] + "\nfbi").encode()).hexdigest()[:32])
PY
id0=$(sed -n 1p "$TMP/ids") id1=$(sed -n 2p "$TMP/ids")
conf half 'table_prefix = "h_";'
: > "$REC"
fb_sql "CREATE TABLE h_consumption_patterns (pattern_id TEXT NOT NULL, execution_id TEXT NULL, execution_timestamp TIMESTAMP NULL, account_id TEXT NULL, analysis TEXT NULL, pattern_type TEXT NULL, signal_name TEXT NULL, value DOUBLE PRECISION NULL, threshold DOUBLE PRECISION NULL, weight DOUBLE PRECISION NULL, evidence TEXT NULL) PRIMARY INDEX pattern_id"
fb_sql "INSERT INTO h_consumption_patterns (pattern_id, evidence) VALUES ('$id0:0', 'left over'), ('$id0:1', 'left over')"
fb_sql "CREATE TABLE h_insights (insight_id TEXT NOT NULL, fingerprint TEXT NOT NULL, session_id TEXT NULL, pipeline TEXT NULL, analysis TEXT NULL, category TEXT NULL, insight_type TEXT NULL, account_id TEXT NULL, account_name TEXT NULL, owner TEXT NULL, title TEXT NULL, description TEXT NULL, payload TEXT NULL, evidence TEXT NULL, confidence_score DOUBLE PRECISION NULL, impact_score DOUBLE PRECISION NULL, urgency_score DOUBLE PRECISION NULL, status TEXT NULL, priority TEXT NULL, created_at TIMESTAMP NULL, recommended_actions TEXT NULL, occurrence INTEGER NULL) PRIMARY INDEX insight_id"
fb_sql "INSERT INTO h_insights (insight_id, fingerprint, title) VALUES ('$id1', 'fp', 'stored before')"
: > "$REC"
run half half
is "$rc" 0 "after a half-finished earlier call: delivered"
is "$(q "rows('SELECT count(*) FROM h_insights')[0][0], rows('SELECT count(*) FROM h_consumption_patterns')[0][0], rows('SELECT count(*) FROM h_consumption_patterns WHERE evidence = ?', 'left over')[0][0], rows('SELECT title FROM h_insights WHERE insight_id = ?', '$id1')")" \
   "4 6 2 [('stored before',)]" \
   "4 insights (the stored one kept); 6 pattern rows: finding 0's left-over rows kept and not inserted again, none for finding 1"
is "$(req "[s.count('$id0:') for s in stmts if s.startswith('INSERT INTO h_consumption')], [s.count('$id1') for s in stmts if s.startswith('INSERT')]")" \
   "([0], [0, 0])" "the INSERTs carried no row of finding 0's patterns and nothing of finding 1"

# ------------------------------------------------------------------ errors --
conf err 'table_prefix = "e_";'
fb_ctl reset; fb_ctl fault "503 -1"
run e503 err
is "$rc" 3 "Firebolt answering 503: failed deliveries (exit 3)"
like "$TMP/out/e503.err" "Firebolt CREATE TABLE e_insights: HTTP 503: Engine is starting up, retry in a moment (transient; retried, still failing)" \
     "the reason: Firebolt's message, 503, transient, after the host's retries"
is "$(jget "$TMP/out/e503.record" "[(a['action'], a['delivered'], a['failed'], a['retried']) for a in d['actions']]")" \
   "[('fbi', 0, 4, 8), ('out', 4, 0, 0)]" "every finding RETRY: the core retried all 4 twice (max_attempts 3)"
fb_ctl fault "none"
derive err e503b ''
run e503b e503b
is "$rc $(q "rows('SELECT count(*) FROM e_insights')[0][0]")" "0 4" "Firebolt back: the next run stores all 4"

fb_ctl reset; fb_ctl fault "429 1"
derive err e429 's/table_prefix = "e_";/table_prefix = "t_";/'
run e429 e429
is "$rc $(q "rows('SELECT count(*) FROM t_insights')[0][0]")" "0 4" "429 once: retried by the host, all 4 stored"
like "$TMP/out/e429.err" "HTTP 429; retrying in 1.00s (Retry-After)" "the retry honoured Retry-After"

fb_ctl reset; fb_ctl fault "readonly -1"
derive err ro 's/table_prefix = "e_";/table_prefix = "ro_";/'
run ro ro
is "$rc" 3 "a service account without write privileges: failed deliveries (exit 3)"
like "$TMP/out/ro.err" "Firebolt CREATE TABLE ro_insights: HTTP 403: permission denied: the role of this service account's user lacks the CREATE privilege in database (PERMISSION_DENIED 1107)" \
     "ERROR with Firebolt's message"
is "$(jget "$TMP/out/ro.record" "[(a['action'], a['failed'], a['retried']) for a in d['actions']][0]")" "('fbi', 4, 0)" \
   "a refusal is final: not retried"
fb_ctl fault "none"

# a table of another shape (no occurrence column)
fb_sql "CREATE TABLE w_insights (insight_id TEXT NOT NULL, fingerprint TEXT NOT NULL, session_id TEXT NULL, pipeline TEXT NULL, analysis TEXT NULL, category TEXT NULL, insight_type TEXT NULL, account_id TEXT NULL, account_name TEXT NULL, owner TEXT NULL, title TEXT NULL, description TEXT NULL, payload TEXT NULL, evidence TEXT NULL, confidence_score DOUBLE PRECISION NULL, impact_score DOUBLE PRECISION NULL, urgency_score DOUBLE PRECISION NULL, status TEXT NULL, priority TEXT NULL, created_at TIMESTAMP NULL, recommended_actions TEXT NULL) PRIMARY INDEX insight_id"
derive err shape 's/table_prefix = "e_";/table_prefix = "w_";/'
fb_ctl reset
run shape shape
is "$rc" 3 "an existing insights table without the occurrence column: failed deliveries (exit 3)"
like "$TMP/out/shape.err" "Firebolt INSERT INTO w_insights: HTTP 400: column \"occurrence\" does not exist in table \"w_insights\" (COLUMN_NOT_FOUND 1102)" \
     "ERROR with Firebolt's message naming the column"
is "$(jget "$TMP/out/shape.record" "[(a['action'], a['failed'], a['retried']) for a in d['actions']][0]")" "('fbi', 4, 0)" "not retried"
: > "$REC"
derive shape shape2 ''
run shape2 shape2
is "$(q "rows('SELECT count(*) FROM w_consumption_patterns')[0][0]")" 8 \
   "the run after: the pattern rows the failed call wrote are found, not inserted again"

# a refused connection: the engine_url option at a closed port
conf refused 'table_prefix = "c_"; engine_url = "http://127.0.0.1:1/";'
run refused refused
is "$rc" 3 "connection refused: failed deliveries (exit 3)"
like "$TMP/out/refused.err" "Firebolt CREATE TABLE c_insights: no answer" "the reason: no answer from the engine"
is "$(jget "$TMP/out/refused.record" "[(a['action'], a['failed'], a['retried']) for a in d['actions']][0]")" "('fbi', 4, 8)" \
   "RETRY: the core retried every finding"

# a wrong client secret
conf wrong 'table_prefix = "x_";'
sed -i 's/env:FB_TEST_SECRET/env:FB_WRONG_SECRET/' "$TMP/wrong.conf"
run wrong wrong
is "$rc" 3 "a wrong client secret: failed deliveries (exit 3)"
like "$TMP/out/wrong.err" "Firebolt access token: token request to http://127.0.0.1:$FAKE_PORT/oauth/token refused: HTTP 401: access_denied: Unauthorized" \
     "the ID endpoint's refusal is the reason"

# configuration mistakes
conf badprefix 'table_prefix = "bad-prefix";'
run badprefix badprefix
is "$rc" 3 "a table_prefix that is not an identifier: failed deliveries"
like "$TMP/out/badprefix.err" "table_prefix must be lower-case letters, digits and '_'" "the reason is named"
conf badtmpl 'title = "{{titel}}";'
"$REVOPS" check-config -c "$TMP/badtmpl.conf" > "$TMP/out/badtmpl.out" 2>&1
is "$?" 78 "a title template with an unknown placeholder is a configuration error"
like "$TMP/out/badtmpl.out" "unknown placeholder {{titel}}" "naming the placeholder"

# --------------------------------------------------------- hostile names --
GEN="$top_builddir/demo/revops-demo-gen"
if [ -x "$GEN" ] && [ -f "$PLUGINS/sqlite.so" ] && [ -f "$PLUGINS/at_risk_accounts.so" ]; then
    plugin_dir_with sqlite.so at_risk_accounts.so
    wh="$TMP/warehouse.db"
    "$GEN" --out "$wh" --seed 42 --as-of 2026-11-01 > /dev/null
    cp "$top_srcdir/config/queries.conf" "$TMP/queries.conf"
    A1='at_risk = { analysis = "A1"; options = { as_of = "2026-11-01"; };
      inputs = { accounts = { source = "warehouse"; named_query = "a1_accounts"; };
                 opportunities = { source = "warehouse"; named_query = "a1_opportunities"; };
                 usage = { source = "warehouse"; named_query = "a1_usage"; }; };
      actions = ( { action = "fbi"; min_priority = "low"; }, { action = "out"; min_priority = "low"; } ); };'
    conf hostile "table_prefix = \"z_\"; title = \"{{account_name}}: {{title}}\"; description = \"it's \\\\\\\\ '' \\\"q\\\" ; -- {{description}}\";" "$A1"
    sed -i "s|^sources = .*|query_library = \"queries.conf\";\nsources = { warehouse = { plugin = \"sqlite\"; database = \"$wh\"; }; };|" "$TMP/hostile.conf"
    # seven at-risk accounts get hostile names
    cat > "$TMP/names.py" <<'PY'
NAMES = ["O'Brien \"Corp\" '' \\ back\\slash \\' \\\\'", "'); DROP TABLE z_insights; --", "<script>alert('x')</script> & <!channel>",
         "Line1\nLine2\r\nLine3\ttab\x01\x7f", "X" * 10000, "\U0001F600 caf\u00e9 \u2603" * 50, None]
PY
    run hostile0 hostile
    "$PYTHON" - "$TMP/hostile.jsonl" "$wh" "$TMP" <<'PY'
import json, sqlite3, sys
sys.path.insert(0, sys.argv[3])
from names import NAMES
ids = [json.loads(l)["account_id"] for l in open(sys.argv[1], encoding="utf-8", errors="replace")][:len(NAMES)]
db = sqlite3.connect(sys.argv[2])
for i, n in zip(ids, NAMES):
    if n is None:
        db.execute("UPDATE salesforce_account_d SET sf_account_name = CAST(X'41FF42C3' AS TEXT) WHERE sf_account_id = ?", (i,))
    else:
        db.execute("UPDATE salesforce_account_d SET sf_account_name = ? WHERE sf_account_id = ?", (n, i))
db.commit()
open(sys.argv[3] + "/hostile_ids", "w").write("\n".join(ids))
PY
    derive hostile hostile2 's/table_prefix = "z_";/table_prefix = "zz_";/'
    rm -f "$TMP/hostile.jsonl"
    run hostile hostile2
    is "$rc" 0 "A1 with hostile account names: every finding stored"
    N=$(wc -l < "$TMP/hostile.jsonl" | tr -d ' ')
    "$PYTHON" - "$DB" "$TMP/hostile.jsonl" "$TMP" > "$TMP/check" <<'PY'
import hashlib, json, sqlite3, sys
sys.path.insert(0, sys.argv[3])
from names import NAMES
db = sqlite3.connect(sys.argv[1])
finds = {json.loads(l)["account_id"]: json.loads(l) for l in open(sys.argv[2], encoding="utf-8", errors="replace")}
ids = open(sys.argv[3] + "/hostile_ids").read().split("\n")
desc_tmpl = "it's \\\\ '' \"q\" ; -- "
seen, bad = 0, []
for acct, name in zip(ids, NAMES):
    want = "A\ufffdB\ufffd" if name is None else name
    f = finds[acct]
    did = hashlib.sha256((f["fingerprint"] + "\nfbi").encode()).hexdigest()[:32]
    r = db.execute("SELECT account_name, title, description, payload FROM zz_insights WHERE insight_id = ?", (did,)).fetchall()
    if len(r) != 1:
        bad.append("%s: %d rows" % (acct, len(r))); continue
    an, title, desc, payload = r[0]
    if an != want:
        bad.append("%s account_name %r" % (acct, an[:40] if an else an))
    if title != want + ": " + f["title"]:
        bad.append("%s title %r" % (acct, title[:40]))
    if desc != desc_tmpl + f["description"]:
        bad.append("%s description %r" % (acct, desc[:60]))
    p = json.loads(payload)
    if p["account_name"] != want or p["fingerprint"] != f["fingerprint"]:
        bad.append("%s payload %r" % (acct, p["account_name"][:40]))
    seen += 1
tables = sorted(r[0] for r in db.execute("SELECT DISTINCT tbl FROM _fb_columns"))
print("%d hostile names round-tripped; problems: %r; z_insights still there: %s" % (seen, bad[:3], "z_insights" in tables))
PY
    is "$(cat "$TMP/check")" "7 hostile names round-tripped; problems: []; z_insights still there: True" \
       "quotes, backslashes, '); DROP TABLE ...; --, <script>, line breaks and control characters, 10,000 characters, emoji: byte for byte in account_name, the rendered title and payload; invalid UTF-8 as U+FFFD; the template's own quotes and backslashes too"
    is "$(q "rows('SELECT count(*) FROM zz_insights')[0][0]")" "$N" "all $N findings of the run stored"
    "$PYTHON" - "$DB" "$TMP/hostile.jsonl" > "$TMP/check" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
finds = {json.loads(l)["fingerprint"]: json.loads(l) for l in open(sys.argv[2], encoding="utf-8", errors="replace")}
urg = {"low": 0.25, "medium": 0.5, "high": 0.75, "critical": 1.0}
rows = db.execute("SELECT fingerprint, priority, urgency_score, impact_score, confidence_score FROM zz_insights").fetchall()
# (the findings file has the scores to 4 decimals)
bad = [r for r in rows if (r[1], r[2]) != (finds[r[0]]["priority"], urg[finds[r[0]]["priority"]])
       or abs(r[3] - finds[r[0]]["score"]) > 5e-5 or abs(r[4] - finds[r[0]]["confidence"]) > 5e-5]
print("priorities %s; urgency differs from impact in %d rows; problems: %r" % (
    ",".join(sorted(set(r[1] for r in rows))), sum(r[2] != r[3] for r in rows), bad[:2]))
PY
    like "$TMP/check" "urgency differs from impact in" "A1's findings: priorities and scores stored"
    like "$TMP/check" "problems: []" "urgency_score from the priority (low .25, medium .5, high .75, critical 1), impact_score the score, confidence_score the confidence"
else
    echo "ok $((tap_n += 1)) # SKIP the demo warehouse, sqlite or A1 plugin is not built"
    for _ in 1 2 3 4; do echo "ok $((tap_n += 1)) # SKIP"; done
fi

# ------------------------------------------------------------ no secrets --
"$REVOPS" plugins -c "$TMP/basic.conf" > "$TMP/out/plugins.out" 2>&1
like "$TMP/out/plugins.out" "firebolt_insights" "revops plugins lists the firebolt_insights action"
tokens=$(fb_ctl stats "' '.join(d['tokens'])")
cat "$TMP"/state.*/runs.jsonl > "$TMP/out/runs.jsonl"
cp "$REC" "$TMP/out/requests.jsonl"
leaks=0
for s in "$FB_TEST_SECRET" "$FB_WRONG_SECRET" $tokens; do
    if grep -rlF -- "$s" "$TMP/out" > "$TMP/leak" 2>/dev/null; then
        leaks=$((leaks + 1))
        echo "# '$s' leaked into: $(tr '\n' ' ' < "$TMP/leak")"
    fi
done
ok "$([ -n "$tokens" ]; echo $?)" "the fake issued tokens ($(echo "$tokens" | wc -w))"
is "$leaks" 0 "no client secret or access token in any stdout, stderr (debug included), run record or SQL sent"
done_testing
