#!/bin/sh
# The firebolt source through the real binary, against tests/fake_firebolt.py
# (ID endpoint, API and engines on one loopback port): service-account auth
# and token reuse, engine discovery, the chunk contract on a multi-chunk
# result, a pipeline run, every fault the fake can inject (each with what
# revops did about it), and that no secret or token reaches any output.
. "$top_srcdir/tests/tap.sh"
if [ ! -f "$PLUGINS/firebolt.so" ]; then echo "1..0 # SKIP the firebolt plugin was not built"; exit 0; fi
tap_tmpdir
plugin_dir_with firebolt.so tp_sum.so
mkdir -p "$TMP/out"

FB_TEST_ID="svc-id-$$-7f3a"
FB_TEST_SECRET="svc-secret-$$-Qx9v2"
FB_WRONG_SECRET="wrong-secret-$$-Zr8"
export FB_TEST_ID FB_TEST_SECRET FB_WRONG_SECRET
start_fake fake_firebolt.py FB_CLIENT_ID="$FB_TEST_ID" FB_CLIENT_SECRET="$FB_TEST_SECRET" FB_ACCOUNT=acme \
    FB_DATABASE=revops FB_ENGINE=analytics FB_SLEEP=3

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

# conf NAME SOURCE-EXTRA GLOBAL-EXTRA [QUERY [INPUT-EXTRA]]
conf() {
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/state";
retry = { interval = 0.05; backoff_rate = 2.0; max_attempts = 3; };
http = { timeout = 30.0; };
$3
sources = { fb = { plugin = "firebolt"; client_id = "env:FB_TEST_ID"; client_secret = "env:FB_TEST_SECRET";
                   account = "acme"; database = "revops"; engine = "analytics";
                   id_url = "http://127.0.0.1:$FAKE_PORT/oauth/token"; api_url = "http://127.0.0.1:$FAKE_PORT";
                   rows_per_chunk = 1000; $2 }; };
pipelines = { p = { analysis = "A5"; inputs = { rows = { source = "fb"; query = "${4:-SELECT * FROM rows(25000) ORDER BY id}"; ${5:-} }; }; }; };
C
}
# q NAME CONF [revops query args...]: stdout, stderr in $TMP/out/NAME.{json,err}; exit status in $rc
q() {
    name=$1; c=$2; shift 2
    "$REVOPS" query -c "$TMP/$c.conf" -s fb "$@" > "$TMP/out/$name.json" 2> "$TMP/out/$name.err"
    rc=$?
}
# r NAME CONF: revops run --format json; the run record's last line in $TMP/out/NAME.record
r() {
    "$REVOPS" run -c "$TMP/$2.conf" --format json > "$TMP/out/$1.json" 2> "$TMP/out/$1.err"
    rc=$?
    tail -n 1 "$TMP/state/runs.jsonl" > "$TMP/out/$1.record" 2>/dev/null
}

conf base "" ""

# --- plugin listing: options and the tool, no secret values
"$REVOPS" plugins -c "$TMP/base.conf" > "$TMP/out/plugins.out" 2> "$TMP/out/plugins.err"
like "$TMP/out/plugins.out" "firebolt" "revops plugins lists the firebolt source"
like "$TMP/out/plugins.out" "tool: firebolt_query" "and its tool firebolt_query"

# --- auth, discovery, token reuse, chunk contract
fb_ctl reset
export REVOPS_LOG_LEVEL=debug
q c0 base -q "SELECT * FROM rows(4328)" --chunk 0
unset REVOPS_LOG_LEVEL
is "$rc" 0 "chunk 0 of a 4328-row result: exit 0"
is "$(jget "$TMP/out/c0.json" "d['success'], d['error'], d['chunked'], d['chunk_index'], d['total_chunks'], d['total_rows'], d['rows_per_chunk']")" \
   "(True, None, True, 0, 5, 4328, 1000)" "chunk 0: the spec's header fields"
is "$(jget "$TMP/out/c0.json" "d['columns'], d['column_types']")" \
   "(['id', 'name', 'day', 'amount', 'active', 'created_at', 'updated_at'], ['integer', 'text', 'date', 'double', 'boolean', 'timestamp', 'timestamp'])" \
   "meta becomes typed columns (bigint, text null, date, double, boolean, timestamp, timestamptz)"
is "$(jget "$TMP/out/c0.json" "len(d['results']), d['results'][1], d['results'][6][1]")" \
   "(1000, [1, 'account 1 \"q\"', '2024-01-02', 1.25, False, '2024-01-01 00:00:01.5', '2024-01-01 00:00:01'], None)" \
   "1000 typed rows; NULL as null; timestamptz in UTC without its +00"
is "$(jget "$TMP/out/c0.json" "d['query_info']")" "{'query': 'SELECT * FROM rows(4328)', 'source': 'fb'}" "query_info"
is "$(fb_ctl stats "d['token_requests'], d['engine_url_requests'], d['engine_lookups'], d['queries'], d['system_queries']")" \
   "(1, 1, 1, 1, 0)" "one token, one engineUrl lookup, one engine lookup on the system engine, one query on the user engine"
is "$(fb_ctl stats "d['violations']")" "[]" "the fake saw the documented protocol: token form, Bearer, JSON_Compact, plain-text SQL"

q c4 base -q "SELECT * FROM rows(4328)" --chunk 4
is "$(jget "$TMP/out/c4.json" "d['chunk_index'], len(d['results']), d['results'][0][0], d['results'][-1][0]")" "(4, 328, 4000, 4327)" \
   "the last chunk holds rows 4000..4327"
q c5 base -q "SELECT * FROM rows(4328)" --chunk 5
is "$rc" 1 "an out-of-range chunk: exit 1"
is "$(jget "$TMP/out/c5.json" "d['success'], d['results'], d['total_chunks']")" "(False, [], 5)" "out of range: success false, no results"
like "$TMP/out/c5.json" "chunk 5 is out of range: the result has 5 chunks" "out of range: the message says why"

q types base -q "SELECT * FROM types"
is "$(jget "$TMP/out/types.json" "d['column_types']")" \
   "['integer', 'integer', 'integer', 'double', 'double', 'date', 'timestamp', 'text', 'boolean', 'double', 'text']" \
   "type spellings: Nullable(Int64), int null, long, numeric(38, 9), real, pgdate, timestamptz, array(int), boolean not null, double precision, text"
is "$(jget "$TMP/out/types.json" "d['results'][0]")" \
   "[9007199254740993, 7, -3, 12.34, 1.5, '2026-10-31', '2026-10-31 08:30:00.25', '[1,2,3]', False, None, 'café ☃']" \
   "quoted bigint, numeric as text, array as JSON text, NaN as null, UTF-8 text"

conf lim "" "" "SELECT * FROM rows(25000) ORDER BY id" "row_limit = 1500;"
"$REVOPS" query -c "$TMP/lim.conf" -p p -i rows --chunk 1 > "$TMP/out/lim.json" 2> "$TMP/out/lim.err"
is "$?" 0 "an input with row_limit 1500: exit 0"
is "$(jget "$TMP/out/lim.json" "d['total_rows'], d['total_chunks'], len(d['results']), d['results'][-1][0]")" "(1500, 2, 500, 1499)" \
   "row_limit: the source stops reading after 1500 rows"

# --- a pipeline run; two pipelines on the same service account share one token
fb_ctl reset
conf two "" ""
sed -i '/^pipelines = /d' "$TMP/two.conf"
cat >> "$TMP/two.conf" <<C
pipelines = { p  = { analysis = "A5"; inputs = { rows = { source = "fb"; query = "SELECT * FROM rows(25000) ORDER BY id"; }; }; };
              p2 = { analysis = "A5"; inputs = { rows = { source = "fb"; query = "SELECT * FROM rows(100)"; }; }; }; };
C
r run two
is "$rc" 0 "revops run with two pipelines on the firebolt source: exit 0"
is "$(jget "$TMP/out/run.json" "[(x['inputs'][0]['rows'], x['inputs'][0]['chunks'], x['finding_list'][0]['signals'][1]['value']) for x in d['runs']]")" \
   "[(25000, 25, 312487500), (100, 1, 4950)]" "25000 rows in 25 chunks and 100 rows, each row once"
is "$(fb_ctl stats "d['token_requests'], d['queries']")" "(1, 2)" "one token for the whole run, reused by both pipelines"
is "$(jget "$TMP/out/run.record" "d['status']")" "ok" "the run record says ok"

# --- faults
fb_ctl reset; fb_ctl fault "429 1"
q f429 base -q "SELECT * FROM rows(2000)"
is "$rc" 0 "429 with Retry-After: retried and succeeded"
like "$TMP/out/f429.err" "HTTP 429; retrying in 1.00s (Retry-After)" "the retry honoured Retry-After: 1"
is "$(jget "$TMP/out/f429.json" "d['total_rows']") $(fb_ctl stats "d['queries']")" "2000 2" "all rows, after two requests"

fb_ctl reset; fb_ctl fault "503 1"
q f503 base -q "SELECT * FROM rows(2000)"
is "$rc $(jget "$TMP/out/f503.json" "d['total_rows']") $(fb_ctl stats "d['queries']")" "0 2000 2" "503 once: retried and succeeded"

fb_ctl reset; fb_ctl fault "500 -1"
q f500 base -q "SELECT * FROM rows(2000)
WHERE 1 = 1"
is "$rc" 1 "500 on every attempt: exit 1"
is "$(jget "$TMP/out/f500.json" "d['error']")" \
   "Firebolt query 'SELECT * FROM rows(2000) ...' failed: HTTP 500: Internal error: the engine restarted while running the query (transient; retried, still failing)" \
   "one clear error: the query's first line, the status, Firebolt's text"
is "$(fb_ctl stats "d['queries']")" 9 "3 fetch attempts of 3 HTTP attempts each, then it gave up"

fb_ctl reset; fb_ctl fault "503 -1"
r f503run base
is "$rc" 1 "a pipeline whose source keeps answering 503: exit 1"
like "$TMP/out/f503run.record" "Firebolt query 'SELECT * FROM rows(25000) ORDER BY id' failed: HTTP 503: Engine is starting up, retry in a moment" \
     "the run record carries Firebolt's message"
is "$(jget "$TMP/out/f503run.record" "d['status']")" "failed" "the run record says failed"

# The fake sleeps 3 s; these configs give a request 1 s.
conf tmo "" ""
sed -i 's/timeout = 30.0;/timeout = 1.0;/' "$TMP/tmo.conf"
fb_ctl reset; fb_ctl fault "timeout 1"
q ftimeout tmo -q "SELECT * FROM rows(200)"
is "$rc $(jget "$TMP/out/ftimeout.json" "len(d['results'])")" "0 200" "a request that outlives http.timeout: retried and succeeded"
like "$TMP/out/ftimeout.err" "Timeout was reached; retrying" "the timeout is logged as the reason for the retry"

sed 's/max_attempts = 3;/max_attempts = 2;/' "$TMP/tmo.conf" > "$TMP/short.conf"
fb_ctl reset; fb_ctl fault "timeout -1"
q ftimeout2 short -q "SELECT * FROM rows(200)"
is "$rc" 1 "timeouts on every attempt: exit 1"
like "$TMP/out/ftimeout2.json" "Firebolt query 'SELECT * FROM rows(200)': no complete answer from 127.0.0.1:$FAKE_PORT: timeout or connection failure after 2 attempts" \
     "the error names the query and says timeout"
is "$(fb_ctl stats "d['queries']")" 4 "2 fetch attempts of 2 HTTP attempts each"

fb_ctl reset; fb_ctl fault "truncate 1"
r trunc base
is "$rc" 0 "a body cut off after half the rows: the fetch is retried and the run succeeds"
is "$(jget "$TMP/out/trunc.json" "d['runs'][0]['inputs'][0]['rows'], d['runs'][0]['inputs'][0]['attempts'], d['runs'][0]['finding_list'][0]['signals'][1]['value']")" \
   "(25000, 2, 312487500)" "two attempts, and no row counted twice or lost"
like "$TMP/out/trunc.err" "broke off after 12500 rows (transient); retry 1 of 2" "the retry says where the body broke off"

fb_ctl reset; fb_ctl fault "truncate -1"
r trunc2 base
is "$rc" 4 "a body that always breaks off after some chunks: exit 4 (partial)"
is "$(jget "$TMP/out/trunc2.record" "d['status'], d['partial']")" "('partial', True)" "the run record says partial"
like "$TMP/out/trunc2.record" "broke off after 12500 rows" "and why"

fb_ctl reset; fb_ctl fault "malformed 1"
q bad base -q "SELECT * FROM rows(3000)"
is "$rc" 1 "malformed JSON: exit 1"
like "$TMP/out/bad.json" "Firebolt query 'SELECT * FROM rows(3000)': the response from 127.0.0.1:$FAKE_PORT (HTTP 200) is not valid JSON (after 1500 rows)" \
     "the error names the query and says the JSON is invalid"
is "$(fb_ctl stats "d['queries']")" 1 "invalid JSON is not retried"

# An empty 200 body is taken for a dropped connection: retried by the host.
fb_ctl reset; fb_ctl fault "empty 1"
q empty base -q "SELECT * FROM rows(3000)"
is "$rc" 0 "an empty 200 body once: retried, exit 0"
is "$(fb_ctl stats "d['queries']")" 2 "the empty answer was retried once"
is "$(jget "$TMP/out/empty.json" "d['chunked'], d['total_rows']")" "(True, 3000)" "and the retry got every row"

fb_ctl reset; fb_ctl fault "wrongtype 1"
q wt base -q "SELECT * FROM rows(3000)"
is "$rc" 1 "a string where meta says bigint: exit 1"
is "$(jget "$TMP/out/wt.json" "d['error']")" \
   "Firebolt query 'SELECT * FROM rows(3000)': row 6, column 'id': \"meta\" says integer, but Firebolt sent the string \"abc\"" \
   "the error names the row, the column, the declared type and the value"

fb_ctl reset; fb_ctl fault "expired 1"
export REVOPS_LOG_LEVEL=debug
q exp base -q "SELECT * FROM rows(2000)"
unset REVOPS_LOG_LEVEL
is "$rc $(jget "$TMP/out/exp.json" "d['total_rows']")" "0 2000" "an expired token (401): one fresh token, and the query succeeds"
is "$(fb_ctl stats "d['token_requests'], d['auth_failures'], d['queries']")" "(2, 1, 2)" "exactly one new token and one repeated query"
like "$TMP/out/exp.err" "Firebolt answered 401: asking for a fresh access token" "the refresh is logged"

fb_ctl reset; fb_ctl fault "expired 2"
q exp2 base -q "SELECT * FROM rows(2000)"
is "$rc" 1 "401 again with the fresh token: exit 1"
like "$TMP/out/exp2.json" "Firebolt query 'SELECT * FROM rows(2000)' failed: HTTP 401: Unauthenticated: the access token is invalid or expired (refused with a fresh access token too" \
     "the error says the fresh token was refused too"
is "$(fb_ctl stats "d['token_requests'], d['queries']")" "(2, 2)" "one refresh only, no loop"

fb_ctl reset
q sql base -q "SELECT a, b
FROM nosuch
WHERE a > 1"
is "$rc" 1 "bad SQL: exit 1"
is "$(jget "$TMP/out/sql.json" "d['error']")" \
   "Firebolt query 'SELECT a, b ...' failed: HTTP 400: relation \"nosuch\" does not exist (RELATION_NOT_FOUND 1101) at line 1; Check the table name and the database." \
   "Firebolt's structured error becomes one clear message"
is "$(fb_ctl stats "d['queries']")" 1 "a 400 is not retried"

# --- configuration and discovery errors
conf wrong "" ""
sed -i 's/env:FB_TEST_SECRET/env:FB_WRONG_SECRET/' "$TMP/wrong.conf"
fb_ctl reset
q wrong wrong -q "SELECT * FROM rows(10)"
is "$rc" 1 "a wrong client secret: exit 1"
like "$TMP/out/wrong.json" "token request to http://127.0.0.1:$FAKE_PORT/oauth/token refused: HTTP 401: access_denied: Unauthorized" \
     "the ID endpoint's refusal is reported"
is "$(fb_ctl stats "d['token_requests'], d['queries']")" "(1, 0)" "a refused token is not retried and no query is sent"

conf acct "" ""
sed -i 's/account = "acme"/account = "nobody"/' "$TMP/acct.conf"
q acct acct -q "SELECT * FROM rows(10)"
like "$TMP/out/acct.json" "Firebolt engine URL lookup for account 'nobody' failed: HTTP 404: account 'nobody' does not exist" \
     "an unknown account: Firebolt's 404 message"

conf eng "" ""
sed -i 's/engine = "analytics"/engine = "it'"'"'s missing"/' "$TMP/eng.conf"
q eng eng -q "SELECT * FROM rows(10)"
like "$TMP/out/eng.json" "the account has no engine named 'it's missing'" "an unknown engine (its quote escaped in the lookup SQL)"

conf sys "" ""
sed -i 's/ engine = "analytics";//' "$TMP/sys.conf"
fb_ctl reset
q sys sys -q "SELECT * FROM rows(10)"
is "$rc $(fb_ctl stats "d['engine_lookups'], d['system_queries']")" "0 (0, 1)" "without engine the query runs on the system engine"

conf direct "engine_url = \"http://127.0.0.1:$FAKE_PORT/engine?engine=analytics\";" ""
sed -i 's/ account = "acme";//' "$TMP/direct.conf"
fb_ctl reset
q direct direct -q "SELECT * FROM rows(10)"
is "$rc $(fb_ctl stats "d['token_requests'], d['engine_url_requests'], d['engine_lookups'], d['queries']")" "0 (1, 0, 0, 1)" \
   "engine_url skips the discovery"

conf noacct "" ""
sed -i 's/ account = "acme";//' "$TMP/noacct.conf"
q noacct noacct -q "SELECT * FROM rows(10)"
like "$TMP/out/noacct.json" "set account (to find the account's engine) or engine_url" "neither account nor engine_url: said so"

conf nodb "" ""
sed -i 's/ database = "revops";//' "$TMP/nodb.conf"
"$REVOPS" check-config -c "$TMP/nodb.conf" > "$TMP/out/nodb.out" 2> "$TMP/out/nodb.err"
is "$?" 78 "a source without database: invalid configuration (78)"
like "$TMP/out/nodb.err" "database" "the missing option is named"

# --- no secret anywhere: client id, client secret, any token the fake issued
tokens=$(fb_ctl stats "' '.join(d['tokens'])")
ok "$([ -n "$tokens" ]; echo $?)" "the fake issued tokens ($(echo "$tokens" | wc -w))"
cp "$TMP/state/runs.jsonl" "$TMP/out/runs.jsonl"
leaks=0
for s in "$FB_TEST_SECRET" "$FB_WRONG_SECRET" "$FB_TEST_ID" $tokens; do
    if grep -rlF -- "$s" "$TMP/out" > "$TMP/leak" 2>/dev/null; then
        leaks=$((leaks + 1))
        echo "# '$s' leaked into: $(tr '\n' ' ' < "$TMP/leak")"
    fi
done
is "$leaks" 0 "no client id, secret or access token in any stdout, stderr or run record ($(ls "$TMP/out" | wc -l) files, debug logs included)"

done_testing
